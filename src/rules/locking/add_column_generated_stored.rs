use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER TABLE … ADD COLUMN … GENERATED ALWAYS AS (…) STORED` on a table that existed before this
    /// migration.
    ///
    /// ## Why it matters
    /// A stored generated column holds a value in every row, so adding one computes and writes it for
    /// all existing rows: PostgreSQL rewrites the table and its indexes under an `ACCESS EXCLUSIVE`
    /// lock, and reads and writes stop until it is done.
    ///
    /// ## Instead
    /// Add a plain column, keep it up to date for new and changed rows with a trigger, and backfill
    /// the existing rows in batches outside the migration. Or compute the value in queries or a view
    /// (PostgreSQL 18's virtual generated columns store nothing and do not rewrite).
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE line_items (id bigint PRIMARY KEY, price_cents bigint, quantity int);
    /// -- example: next migration
    /// ALTER TABLE line_items ADD COLUMN total_cents bigint GENERATED ALWAYS AS (price_cents * quantity) STORED;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE line_items (id bigint PRIMARY KEY, price_cents bigint, quantity int);
    /// ALTER TABLE line_items ADD COLUMN total_cents bigint GENERATED ALWAYS AS (price_cents * quantity) STORED;
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE line_items (id bigint PRIMARY KEY, price_cents bigint, quantity int);
    /// -- example: next migration
    /// ALTER TABLE line_items ADD COLUMN total_cents bigint;
    /// ```
    AddColumnGeneratedStored {
        id: "MS104",
        name: "add-column-generated-stored",
        severity: Error,
        help: "add a plain column kept up to date by a trigger and backfill it in batches, or compute the value at query time",
    }
}

impl Rule for AddColumnGeneratedStored {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops_on_existing() {
            if let Op::AddColumn { table, column } = &e.op
                && column.generated_stored
            {
                out.push(Hit::at(
                    step,
                    format!(
                        "adds {table}.{} as a stored generated column: its value is computed and written for every existing row, rewriting {table} under an ACCESS EXCLUSIVE lock",
                        column.name
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
        crate::rules::testing::check_rule(&super::AddColumnGeneratedStored::META);
    }
}
