use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER TABLE … ADD COLUMN … NOT NULL` without a `DEFAULT` on a table that existed before this
    /// migration.
    ///
    /// ## Why it matters
    /// Existing rows would get NULL in the new column, so PostgreSQL rejects the statement as soon as the
    /// table has a single row: the migration passes on an empty development database and fails in
    /// production. Even on an empty table, the application version still running during the rollout
    /// does not know the column, and every insert it makes fails.
    ///
    /// ## Instead
    /// Add the column with a constant default (PostgreSQL ≥ 11 stores it without a rewrite), or add it
    /// nullable, backfill it, and enforce `NOT NULL` later with
    /// `CHECK (col IS NOT NULL) NOT VALID`, `VALIDATE CONSTRAINT`, then `SET NOT NULL`.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE users (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE users (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// ALTER TABLE users ADD COLUMN status text NOT NULL DEFAULT 'active';
    /// ALTER TABLE users ADD COLUMN tenant_id bigint;
    /// ```
    AddColumnNotNullWithoutDefault {
        id: "MS102",
        name: "add-column-not-null-without-default",
        severity: Error,
        help: "add the column nullable (or with a constant default), backfill it, then enforce NOT NULL through a validated CHECK",
    }
}

impl Rule for AddColumnNotNullWithoutDefault {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops_on_existing() {
            if let Op::AddColumn { table, column } = &e.op
                && column.not_null
                && column.default.is_none()
                && !column.generated_stored
                && !column.identity
            {
                let what = if column.primary_key {
                    "as a primary key (NOT NULL)"
                } else {
                    "NOT NULL"
                };
                out.push(Hit::at(
                    step,
                    format!(
                        "adds {table}.{} {what} without a default: the statement fails as soon as {table} has a row, and inserts from the running application, which does not set the column, fail after it",
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
        crate::rules::testing::check_rule(&super::AddColumnNotNullWithoutDefault::META);
    }
}
