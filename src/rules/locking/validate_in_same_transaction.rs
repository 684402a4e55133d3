use crate::classify::LockLevel;
use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER TABLE … ADD CONSTRAINT c … NOT VALID` followed by `ALTER TABLE … VALIDATE CONSTRAINT c`
    /// in the same transaction, on a table that existed before this migration.
    ///
    /// ## Why it matters
    /// `NOT VALID` plus a separate `VALIDATE` is the way to add a foreign key or check constraint
    /// without blocking: the validation scan only needs `SHARE UPDATE EXCLUSIVE`. But locks are held
    /// until the transaction ends, so in one transaction the `SHARE ROW EXCLUSIVE` (foreign key) or
    /// `ACCESS EXCLUSIVE` (check) lock taken by `ADD CONSTRAINT` is still held during the scan: the
    /// split buys nothing. Runners that wrap each migration in a transaction make this the default.
    ///
    /// ## Instead
    /// Put `VALIDATE CONSTRAINT` in a later migration, or, in a script run statement by statement,
    /// after the `COMMIT` of the transaction that added the constraint.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE customers (id bigint PRIMARY KEY);
    /// CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);
    /// -- example: next migration
    /// ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;
    /// ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_fk;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE customers (id bigint PRIMARY KEY);
    /// CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);
    /// -- example: next migration
    /// ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;
    /// -- example: next migration
    /// ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_fk;
    /// ```
    ///
    /// Run statement by statement, each statement commits on its own:
    ///
    /// ```sql
    /// CREATE TABLE customers (id bigint PRIMARY KEY);
    /// CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);
    /// -- example: next migration
    /// -- example: mode per_statement
    /// ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;
    /// ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_fk;
    /// ```
    ValidateInSameTransaction {
        id: "MS111",
        name: "validate-in-same-transaction",
        severity: Warning,
        help: "VALIDATE CONSTRAINT in a later migration (or after COMMIT), so that only SHARE UPDATE EXCLUSIVE is held during the scan",
    }
}

impl Rule for ValidateInSameTransaction {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        let tx = super::transactions(cx);
        let mut added: Vec<(usize, &str, &str, &crate::classify::Step, LockLevel)> = Vec::new();
        for (step, e) in cx.ops_on_existing() {
            let Some(t) = tx[step.index] else {
                continue;
            };
            match &e.op {
                Op::AddConstraint {
                    table,
                    name: Some(name),
                    not_valid: true,
                    ..
                } => added.push((t, super::key(table), name, step, e.effect.lock)),
                Op::ValidateConstraint { table, name } => {
                    let earlier = added.iter().find(|(at, tb, n, _, _)| {
                        *at == t && *tb == super::key(table) && n == name
                    });
                    if let Some((_, _, _, at, lock)) = earlier {
                        let blocked = if *lock == LockLevel::AccessExclusive {
                            "reads and writes"
                        } else {
                            "writes"
                        };
                        out.push(Hit::at(
                            step,
                            format!(
                                "validates {name} in the same transaction that added it NOT VALID ({}): the {} lock ADD CONSTRAINT took on {table} is held until commit, so {blocked} stay blocked for the whole validation scan",
                                super::line(at),
                                super::lock_name(*lock)
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
        crate::rules::testing::check_rule(&super::ValidateInSameTransaction::META);
    }
}
