use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER TABLE … SET LOGGED`, `SET UNLOGGED`, `SET TABLESPACE` and `SET ACCESS METHOD`, and
    /// `ALTER INDEX … SET TABLESPACE`, on a table that existed before this migration.
    ///
    /// ## Why it matters
    /// Each of these writes a complete new copy of the table (or index) while holding
    /// `ACCESS EXCLUSIVE`: no query can read or write it until the copy is done, which on a large table
    /// is a long outage. `SET UNLOGGED` also makes the table lose its rows after a crash and drop out of
    /// replication.
    ///
    /// ## Instead
    /// Decide these properties when creating the table. To change them on a live table, create a new
    /// table with the wanted property, copy the rows in batches while a trigger keeps it in sync, and
    /// swap the names in one short transaction; `pg_repack` can move a table to another tablespace
    /// online.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE UNLOGGED TABLE import_rows (id bigint PRIMARY KEY, payload text);
    /// -- example: next migration
    /// ALTER TABLE import_rows SET LOGGED;
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE events (id bigint PRIMARY KEY, payload text);
    /// -- example: next migration
    /// ALTER TABLE events SET TABLESPACE archive;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE import_rows (id bigint PRIMARY KEY, payload text);
    /// ALTER TABLE import_rows SET UNLOGGED;
    /// ```
    TableRewrite {
        id: "MS122",
        name: "table-rewrite",
        severity: Error,
        help: "do not rewrite a live table in a migration: copy it into a new table in batches and swap, or use pg_repack",
    }
}

impl Rule for TableRewrite {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops_on_existing() {
            let Op::TableRewrite { table, action } = &e.op else {
                continue;
            };
            let message = if action.contains("(index)") {
                format!(
                    "ALTER INDEX {table} SET TABLESPACE copies the whole index under ACCESS EXCLUSIVE, blocking every query that would use it meanwhile"
                )
            } else {
                let action = if !action.contains('/') {
                    action.as_str()
                } else if cx
                    .up()
                    .text(step)
                    .to_ascii_uppercase()
                    .contains("ACCESS METHOD")
                {
                    "SET ACCESS METHOD"
                } else {
                    "SET TABLESPACE"
                };
                let extra = if action == "SET UNLOGGED" {
                    "; an unlogged table is also emptied after a crash and not replicated"
                } else {
                    ""
                };
                format!(
                    "{action} rewrites all of {table} under ACCESS EXCLUSIVE, blocking all reads and writes until the copy finishes{extra}"
                )
            };
            out.push(Hit::at(step, message));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::TableRewrite::META);
    }
}
