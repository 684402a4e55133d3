use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `CREATE INDEX CONCURRENTLY` without `IF NOT EXISTS` (or without a name) on a table that existed
    /// before this migration.
    ///
    /// Not flagged when the same migration first drops a leftover with
    /// `DROP INDEX CONCURRENTLY IF EXISTS` of the same name.
    ///
    /// ## Why it matters
    /// A concurrent build that fails (a duplicate key for a unique index, a deadlock, a cancelled
    /// statement, a `statement_timeout`) does not roll back: it leaves an `INVALID` index that costs
    /// every write and serves no read. Since the build ran outside a transaction, the migration is
    /// recorded as failed and re-run, and the retry fails at once because the index name is taken (or,
    /// unnamed, builds a second index).
    ///
    /// ## Instead
    /// Name the index and write `IF NOT EXISTS` so that a retry passes. `IF NOT EXISTS` also skips an
    /// `INVALID` leftover silently, so after a failure check `pg_index.indisvalid`, or start the
    /// migration with `DROP INDEX CONCURRENTLY IF EXISTS <name>` to rebuild it from scratch.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);
    /// -- example: next migration
    /// -- example: mode per_statement
    /// CREATE INDEX CONCURRENTLY orders_customer_id_idx ON orders (customer_id);
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);
    /// -- example: next migration
    /// -- example: mode per_statement
    /// CREATE INDEX CONCURRENTLY ON orders (customer_id);
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
    /// -- example: next migration
    /// -- example: mode per_statement
    /// DROP INDEX CONCURRENTLY IF EXISTS orders_customer_id_idx;
    /// CREATE INDEX CONCURRENTLY orders_customer_id_idx ON orders (customer_id);
    /// ```
    ConcurrentIndexNotIdempotent {
        id: "MS108",
        name: "concurrent-index-not-idempotent",
        severity: Warning,
        help: "name the index and use IF NOT EXISTS, or first drop a leftover with DROP INDEX CONCURRENTLY IF EXISTS",
    }
}

impl Rule for ConcurrentIndexNotIdempotent {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops_on_existing() {
            let Op::CreateIndex {
                table,
                name,
                concurrently: true,
                if_not_exists: false,
                ..
            } = &e.op
            else {
                continue;
            };
            match name {
                Some(name) => {
                    let dropped_first = cx
                        .ops()
                        .take_while(|(s, _)| s.index < step.index)
                        .any(|(_, d)| {
                            matches!(&d.op, Op::DropIndex { names, if_exists: true, .. }
                                if names.iter().any(|n| super::key(n) == super::key(name)))
                        });
                    if !dropped_first {
                        out.push(Hit::at(
                            step,
                            format!(
                                "builds index {name} on {table} concurrently without IF NOT EXISTS: a failed build leaves an INVALID index {name} behind, and re-running the migration then fails because the name is taken"
                            ),
                        ));
                    }
                }
                None => out.push(Hit::at(
                    step,
                    format!(
                        "builds an unnamed index on {table} concurrently: a failed build leaves an INVALID index behind, and every retry adds another one under a new name"
                    ),
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::ConcurrentIndexNotIdempotent::META);
    }
}
