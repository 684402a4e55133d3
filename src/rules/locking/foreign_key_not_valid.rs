use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER TABLE … ADD [CONSTRAINT …] FOREIGN KEY … REFERENCES …` without `NOT VALID`, and
    /// `ALTER TABLE … ADD COLUMN … REFERENCES …`, on a table that existed before this migration.
    ///
    /// ## Why it matters
    /// A validated foreign key is checked against every existing row while `SHARE ROW EXCLUSIVE` is
    /// held on **both** tables: writes to the referencing and the referenced table stop for the whole
    /// scan. An inline `REFERENCES` on a new column also holds `ACCESS EXCLUSIVE` on the altered table.
    ///
    /// ## Instead
    /// Add the constraint with `NOT VALID` (new and changed rows are checked from then on; the lock is
    /// brief), then run `ALTER TABLE … VALIDATE CONSTRAINT …` in a later migration: validation only
    /// takes `SHARE UPDATE EXCLUSIVE`, which lets reads and writes continue. For a new column, add the
    /// column first and the constraint `NOT VALID` next.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE customers (id bigint PRIMARY KEY);
    /// CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);
    /// -- example: next migration
    /// ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id);
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE customers (id bigint PRIMARY KEY);
    /// CREATE TABLE orders (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// ALTER TABLE orders ADD COLUMN customer_id bigint REFERENCES customers (id);
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE customers (id bigint PRIMARY KEY);
    /// CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);
    /// -- example: next migration
    /// ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;
    /// ```
    ///
    /// Validated in the next migration:
    ///
    /// ```sql
    /// CREATE TABLE customers (id bigint PRIMARY KEY);
    /// CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);
    /// -- example: next migration
    /// ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;
    /// -- example: next migration
    /// ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_fk;
    /// ```
    ForeignKeyNotValid {
        id: "MS105",
        name: "foreign-key-not-valid",
        severity: Error,
        help: "add the foreign key NOT VALID, then VALIDATE CONSTRAINT in a later migration (it only takes SHARE UPDATE EXCLUSIVE)",
    }
}

impl Rule for ForeignKeyNotValid {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops_on_existing() {
            match &e.op {
                Op::AddConstraint {
                    table,
                    name,
                    kind: crate::sql::ConstraintKind::ForeignKey,
                    not_valid: false,
                    ..
                } => {
                    let what = super::constraint_phrase("foreign key", name.as_deref());
                    out.push(Hit::at(
                        step,
                        format!(
                            "adds {what} on {table} and validates it at once: writes to {table} and to the referenced table are blocked (SHARE ROW EXCLUSIVE) while every row of {table} is checked"
                        ),
                    ));
                }
                Op::AddColumn { table, column } => {
                    if let Some(referenced) = &column.references {
                        let referenced = if referenced.is_empty() {
                            "the referenced table"
                        } else {
                            referenced.as_str()
                        };
                        out.push(Hit::at(
                            step,
                            format!(
                                "adds {table}.{} with an inline REFERENCES: the foreign key is created already validated, locking {table} (ACCESS EXCLUSIVE) and blocking writes to {referenced} while {table} is checked",
                                column.name
                            ),
                        ));
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::ForeignKeyNotValid::META);
    }
}
