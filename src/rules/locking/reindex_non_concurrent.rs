use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `REINDEX INDEX|TABLE|SCHEMA|DATABASE …` without `CONCURRENTLY`, except of a table or index
    /// created in the same migration.
    ///
    /// ## Why it matters
    /// A plain `REINDEX` locks the table against writes and takes `ACCESS EXCLUSIVE` on each index
    /// while rebuilding it, so every query whose plan would use the index waits too. On a large table
    /// this is a long outage.
    ///
    /// ## Instead
    /// `REINDEX … CONCURRENTLY` (PostgreSQL ≥ 12) builds a new copy of each index while reads and
    /// writes continue, and swaps it in. It cannot run inside a transaction block. Before PostgreSQL 12,
    /// build a replacement with `CREATE INDEX CONCURRENTLY` and drop the old index with
    /// `DROP INDEX CONCURRENTLY`.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);
    /// CREATE INDEX orders_customer_id_idx ON orders (customer_id);
    /// -- example: next migration
    /// REINDEX INDEX orders_customer_id_idx;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);
    /// CREATE INDEX orders_customer_id_idx ON orders (customer_id);
    /// -- example: next migration
    /// -- example: mode per_statement
    /// REINDEX INDEX CONCURRENTLY orders_customer_id_idx;
    /// ```
    ReindexNonConcurrent {
        id: "MS110",
        name: "reindex-non-concurrent",
        severity: Error,
        help: "REINDEX … CONCURRENTLY (PostgreSQL 12 or later), in a migration that does not run in a transaction",
    }
}

impl Rule for ReindexNonConcurrent {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops() {
            if let Op::Reindex {
                target,
                concurrently: false,
            } = &e.op
            {
                if super::fresh(cx, step, e) {
                    continue;
                }
                let what = match reindex_kind(cx.up().text(step)).as_deref() {
                    Some("INDEX") => format!("index {target}"),
                    Some("TABLE") => format!("the indexes of {target}"),
                    Some("SCHEMA") => format!("every index in schema {target}"),
                    Some("DATABASE" | "SYSTEM") => format!("every index of database {target}"),
                    _ => target.clone(),
                };
                let mut message = format!(
                    "rebuilds {what} without CONCURRENTLY: writes, and reads that would use the indexes, are blocked until the rebuild finishes"
                );
                if cx.settings.postgres < 12 {
                    message.push_str(
                        " (before PostgreSQL 12, build a replacement with CREATE INDEX CONCURRENTLY and drop the old index concurrently)",
                    );
                }
                out.push(Hit::at(step, message));
            }
        }
    }
}

/// `INDEX`, `TABLE`, `SCHEMA`, `DATABASE` or `SYSTEM`: the word after `REINDEX [(options)]`.
fn reindex_kind(text: &str) -> Option<String> {
    let rest = text.trim_start().get(7..)?.trim_start();
    let rest = match rest.strip_prefix('(') {
        Some(options) => &options[options.find(')')? + 1..],
        None => rest,
    };
    rest.split_whitespace()
        .next()
        .map(|w| w.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::ReindexNonConcurrent::META);
    }
}
