use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER TABLE … ADD COLUMN … DEFAULT <volatile expression>` on a table that existed before this
    /// migration.
    ///
    /// Volatile means `gen_random_uuid()`, `random()`, `clock_timestamp()`, `nextval(…)`, or a
    /// function migsafe cannot prove stable. `serial` columns are reported by `add-column-serial`.
    ///
    /// ## Why it matters
    /// Since PostgreSQL 11 a constant (or stable) default is stored once in the catalog and the column
    /// appears instantly. A volatile default must be computed for each row, so PostgreSQL rewrites the
    /// whole table and all its indexes while holding an `ACCESS EXCLUSIVE` lock: no query can read or
    /// write the table until the rewrite is done, which takes minutes on a large table.
    ///
    /// ## Instead
    /// Add the column without a default, then give it the default with
    /// `ALTER COLUMN … SET DEFAULT …`: that only applies to rows inserted afterwards and rewrites
    /// nothing. Fill the existing rows in batches outside the migration.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// ALTER TABLE orders ADD COLUMN public_id uuid DEFAULT gen_random_uuid();
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// ALTER TABLE orders ADD COLUMN public_id uuid;
    /// ALTER TABLE orders ALTER COLUMN public_id SET DEFAULT gen_random_uuid();
    /// ```
    ///
    /// A stable default such as `now()` is evaluated once:
    ///
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// ALTER TABLE orders ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
    /// ```
    AddColumnVolatileDefault {
        id: "MS101",
        name: "add-column-volatile-default",
        severity: Error,
        help: "add the column without a default, then ALTER COLUMN … SET DEFAULT (no rewrite) and backfill existing rows in batches",
    }
}

impl Rule for AddColumnVolatileDefault {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops_on_existing() {
            if let Op::AddColumn { table, column } = &e.op
                && let Some(crate::sql::DefaultKind::Volatile { function }) = &column.default
                && !column.ty.is_serial()
            {
                out.push(Hit::at(
                    step,
                    format!(
                        "adds {table}.{} with the volatile default {function}(): it is computed for every existing row, rewriting {table} under an ACCESS EXCLUSIVE lock",
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
        crate::rules::testing::check_rule(&super::AddColumnVolatileDefault::META);
    }
}
