use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
#[allow(unused_imports)]
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `UPDATE t SET …` without a `WHERE` clause, on a table that existed before this migration.
    ///
    /// ## Why it matters
    /// The old value of every assigned column in every row is overwritten: a down script cannot know
    /// what they were. The statement also locks every row until the migration commits.
    ///
    /// ## Instead
    /// Write the new values into a new column and backfill it in batches; keep the old column until
    /// the release is final, so that a rollback still finds the old values.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE invoices (id bigint PRIMARY KEY, currency text);
    /// -- example: next migration
    /// UPDATE invoices SET currency = 'EUR';
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE invoices (id bigint PRIMARY KEY, currency text);
    /// -- example: next migration
    /// ALTER TABLE invoices ADD COLUMN currency_v2 text;
    /// -- Filling a column this migration added overwrites nothing that existed before.
    /// UPDATE invoices SET currency_v2 = upper(currency);
    /// ```
    UpdateWithoutWhere {
        id: "MS007",
        name: "update-without-where",
        severity: Error,
        help: "write new values to a new column and backfill it in batches; keep the old column until the release is final",
    }
}

impl Rule for UpdateWithoutWhere {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx
            .ops_on_existing()
            .filter(|(_, e)| e.effect.data.is_destructive())
        {
            if let Op::Update {
                table,
                has_where: false,
                columns,
            } = &e.op
            {
                out.push(Hit::at(
                    step,
                    format!(
                        "overwrites {} in every row of {table}: the old values are lost",
                        columns.join(", ")
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::UpdateWithoutWhere::META);
    }
}
