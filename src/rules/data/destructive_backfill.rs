use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
#[allow(unused_imports)]
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `UPDATE … WHERE` and `DELETE … WHERE` on tables that existed before this migration: data
    /// backfills and clean-ups inside a schema migration.
    ///
    /// An UPDATE that only fills columns the same migration added is not flagged: it overwrites
    /// no value that existed before.
    ///
    /// ## Why it matters
    /// The rows deleted and the values overwritten are gone; the migration's down script cannot tell
    /// what they were, so rolling the release back means living with the changed data or restoring a
    /// backup and losing everything written since. In a transactional migration the row locks are
    /// also held until the migration commits.
    ///
    /// ## Instead
    /// Make the change additive (write to a new column, keep the old one), or take a snapshot of the
    /// affected rows before the step (`migsafe plan` requires one and `migsafe rollback` restores it).
    /// Suppress with `-- migsafe:ignore destructive-backfill <reason>` when the rows are provably
    /// recoverable.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE invoices (id bigint PRIMARY KEY, currency text);
    /// -- example: next migration
    /// UPDATE invoices SET currency = 'EUR' WHERE currency = 'DEM';
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE invoices (id bigint PRIMARY KEY, currency text);
    /// UPDATE invoices SET currency = 'EUR' WHERE currency IS NULL;
    /// -- example: next migration
    /// -- A backfill of a column this migration added overwrites nothing that existed before.
    /// ALTER TABLE invoices ADD COLUMN currency_code text;
    /// UPDATE invoices SET currency_code = upper(currency) WHERE currency IS NOT NULL;
    /// ```
    DestructiveBackfill {
        id: "MS008",
        name: "destructive-backfill",
        severity: Error,
        help: "keep the old values (in a new column, or a snapshot) so that a rollback can restore them",
    }
}

impl Rule for DestructiveBackfill {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        // A backfill of columns the migration itself added destroys nothing (see classify).
        for (step, e) in cx
            .ops_on_existing()
            .filter(|(_, e)| e.effect.data.is_destructive())
        {
            match &e.op {
                Op::Delete {
                    table,
                    has_where: true,
                } => {
                    out.push(Hit::at(step, format!("deletes the matching rows of {table}: a down script cannot bring them back")));
                }
                Op::Update {
                    table,
                    has_where: true,
                    columns,
                } => out.push(Hit::at(
                    step,
                    format!(
                        "overwrites {} of the matching rows of {table}: the old values are lost",
                        columns.join(", ")
                    ),
                )),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::DestructiveBackfill::META);
    }
}
