use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `CREATE [UNIQUE] INDEX` without `CONCURRENTLY` on a table that existed before this migration.
    ///
    /// ## Why it matters
    /// A plain index build holds a `SHARE` lock on the table from start to end: every `INSERT`,
    /// `UPDATE` and `DELETE` waits, for minutes on a large table. Reads continue, but the application
    /// stalls on its first write.
    ///
    /// ## Instead
    /// `CREATE INDEX CONCURRENTLY` builds the index while writes continue (it takes
    /// `SHARE UPDATE EXCLUSIVE`). It cannot run inside a transaction block, so put it in a migration
    /// the runner does not wrap in one (see `non-transactional-in-transaction`). Indexes on a table
    /// created earlier in the same migration are not flagged: nobody else can be using that table.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);
    /// -- example: next migration
    /// CREATE INDEX orders_customer_id_idx ON orders (customer_id);
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);
    /// -- example: next migration
    /// -- example: mode per_statement
    /// CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id_idx ON orders (customer_id);
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);
    /// CREATE INDEX orders_customer_id_idx ON orders (customer_id);
    /// ```
    CreateIndexNonConcurrent {
        id: "MS106",
        name: "create-index-non-concurrent",
        severity: Error,
        help: "CREATE INDEX CONCURRENTLY, in a migration that does not run in a transaction",
    }
}

impl Rule for CreateIndexNonConcurrent {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops_on_existing() {
            if let Op::CreateIndex {
                table,
                name,
                unique,
                concurrently: false,
                ..
            } = &e.op
            {
                let unique = if *unique { "unique " } else { "" };
                let what = match name {
                    Some(n) => format!("{unique}index {n}"),
                    None => format!("a {unique}index"),
                };
                out.push(Hit::at(
                    step,
                    format!(
                        "builds {what} on {table} without CONCURRENTLY: writes to {table} are blocked (SHARE lock) until the whole index is built"
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
        crate::rules::testing::check_rule(&super::CreateIndexNonConcurrent::META);
    }
}
