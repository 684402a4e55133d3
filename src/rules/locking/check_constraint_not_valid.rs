use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER TABLE … ADD [CONSTRAINT …] CHECK (…)` without `NOT VALID` on a table that existed before
    /// this migration.
    ///
    /// ## Why it matters
    /// Adding a validated check constraint scans every row while holding `ACCESS EXCLUSIVE`: nothing
    /// can read or write the table until the scan finishes. If a single row violates the constraint,
    /// the migration fails after having blocked the table all that time.
    ///
    /// ## Instead
    /// Add the constraint `NOT VALID` (new and changed rows are checked from then on; the lock is
    /// brief), then `VALIDATE CONSTRAINT` in a later migration, which scans under
    /// `SHARE UPDATE EXCLUSIVE` while reads and writes continue.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, total_cents bigint);
    /// -- example: next migration
    /// ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total_cents >= 0);
    /// ```
    ///
    /// An inline `CHECK` on `ADD COLUMN` is validated the same way:
    ///
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// SET lock_timeout = '2s';
    /// ALTER TABLE orders ADD COLUMN quantity int CHECK (quantity > 0);
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, total_cents bigint);
    /// -- example: next migration
    /// ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total_cents >= 0) NOT VALID;
    /// -- example: next migration
    /// ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, total_cents bigint);
    /// ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total_cents >= 0);
    /// ```
    CheckConstraintNotValid {
        id: "MS112",
        name: "check-constraint-not-valid",
        severity: Error,
        help: "add the CHECK constraint NOT VALID, then VALIDATE CONSTRAINT in a later migration",
    }
}

impl Rule for CheckConstraintNotValid {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops_on_existing() {
            if let Op::AddConstraint {
                table,
                name,
                kind: crate::sql::ConstraintKind::Check,
                not_valid: false,
                ..
            } = &e.op
            {
                let what = super::constraint_phrase("check constraint", name.as_deref());
                out.push(Hit::at(
                    step,
                    format!(
                        "adds {what} on {table} and validates it at once: ACCESS EXCLUSIVE on {table} blocks all reads and writes while every row is checked"
                    ),
                ));
            }
            // An inline CHECK on a new column is validated against every existing row too.
            if let Op::AddColumn { table, column } = &e.op
                && column.check
            {
                out.push(Hit::at(
                    step,
                    format!(
                        "adds column {table}.{} with an inline CHECK: ACCESS EXCLUSIVE on {table} blocks all reads and writes while every row is checked",
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
        crate::rules::testing::check_rule(&super::CheckConstraintNotValid::META);
    }
}
