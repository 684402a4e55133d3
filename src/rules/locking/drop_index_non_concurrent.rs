use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `DROP INDEX` without `CONCURRENTLY`, except of an index built in the same migration on a table
    /// created there.
    ///
    /// ## Why it matters
    /// A plain `DROP INDEX` takes `ACCESS EXCLUSIVE` on the index's table. The drop itself is quick,
    /// but the lock has to wait for every query already running on the table, and while it waits every
    /// new query on the table queues behind it: one slow report turns into an outage.
    ///
    /// ## Instead
    /// `DROP INDEX CONCURRENTLY IF EXISTS …` waits for running queries without blocking new ones. It
    /// cannot run inside a transaction block, so put it in a migration the runner does not wrap in one.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);
    /// CREATE INDEX orders_customer_id_idx ON orders (customer_id);
    /// -- example: next migration
    /// DROP INDEX orders_customer_id_idx;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);
    /// CREATE INDEX orders_customer_id_idx ON orders (customer_id);
    /// -- example: next migration
    /// -- example: mode per_statement
    /// DROP INDEX CONCURRENTLY IF EXISTS orders_customer_id_idx;
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);
    /// CREATE INDEX orders_customer_id_idx ON orders (customer_id);
    /// DROP INDEX orders_customer_id_idx;
    /// ```
    DropIndexNonConcurrent {
        id: "MS109",
        name: "drop-index-non-concurrent",
        severity: Warning,
        help: "DROP INDEX CONCURRENTLY, in a migration that does not run in a transaction",
    }
}

impl Rule for DropIndexNonConcurrent {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops() {
            if let Op::DropIndex {
                names,
                concurrently: false,
                ..
            } = &e.op
            {
                if super::fresh(cx, step, e) {
                    continue;
                }
                let what = if names.len() == 1 {
                    format!("index {}", names[0])
                } else {
                    format!("indexes {}", names.join(", "))
                };
                out.push(Hit::at(
                    step,
                    format!(
                        "drops {what} without CONCURRENTLY: its ACCESS EXCLUSIVE lock on the table waits behind every running query, and blocks all reads and writes of the table while it waits"
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
        crate::rules::testing::check_rule(&super::DropIndexNonConcurrent::META);
    }
}
