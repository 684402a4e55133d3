use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER TABLE … ALTER COLUMN … TYPE` that keeps every value but rewrites the table (`int` to
    /// `bigint`, `int` to `text`, `real` to `double precision` …), on a table that existed before
    /// this migration.
    ///
    /// Changes that can lose values or fail on them are reported by `lossy-type-change` instead
    /// (its documentation has the table of conversions). Binary-coercible
    /// widenings (`varchar(n)` to `varchar(m >= n)` or `text`, more numeric precision at the same
    /// scale, `cidr` to `inet`) change only the catalog and are not flagged.
    ///
    /// ## Why it matters
    /// The table and every index on it are rewritten under `ACCESS EXCLUSIVE`: no query can read or
    /// write the table until the copy is done. Widening a primary key (`int` to `bigint`) also rewrites
    /// every referencing foreign-key column, each table in turn.
    ///
    /// ## Instead
    /// Add a column of the new type, keep it in sync with a trigger, backfill it in batches, build its
    /// indexes concurrently, and switch the application over (for a primary key, swap the columns in one
    /// short transaction). Or avoid the change if a binary-coercible type would do.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE orders (id int PRIMARY KEY, customer_id int);
    /// -- example: next migration
    /// ALTER TABLE orders ALTER COLUMN customer_id TYPE bigint;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE products (id bigint PRIMARY KEY, sku varchar(20), name varchar(100), price numeric(10,2));
    /// -- example: next migration
    /// ALTER TABLE products ALTER COLUMN sku TYPE varchar(40);
    /// ALTER TABLE products ALTER COLUMN name TYPE text;
    /// ALTER TABLE products ALTER COLUMN price TYPE numeric(12,2);
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE orders (id int PRIMARY KEY, customer_id int);
    /// ALTER TABLE orders ALTER COLUMN customer_id TYPE bigint;
    /// ```
    ColumnTypeRewrite {
        id: "MS117",
        name: "column-type-rewrite",
        severity: Error,
        help: "add a column of the new type, backfill it in batches, and switch to it; or keep the type",
    }
}

impl Rule for ColumnTypeRewrite {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops_on_existing() {
            if let Op::AlterColumnType { table, column, .. } = &e.op
                && e.effect.rewrite
                && !e.effect.data.is_destructive()
                && e.effect.data != crate::classify::DataEffect::FailRisk
            {
                out.push(Hit::at(
                    step,
                    format!(
                        "{table}.{column}: {} under an ACCESS EXCLUSIVE lock, blocking all reads and writes until it finishes",
                        e.effect.reason
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
        crate::rules::testing::check_rule(&super::ColumnTypeRewrite::META);
    }
}
