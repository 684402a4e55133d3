use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER TABLE … RENAME TO` of a table that existed before this migration, unless the same
    /// transaction creates a view with the old name.
    ///
    /// ## Why it matters
    /// The application version still running during the rollout refers to the table by its old
    /// name: all its queries on the table fail from the moment the migration commits. Views,
    /// functions and triggers follow the rename (they hold the table's OID), but SQL text in the
    /// application, in cron jobs and in other services does not.
    ///
    /// ## Instead
    /// Rename the table and, in the same transaction, create a view with the old name
    /// (`CREATE VIEW old_name AS SELECT * FROM new_name`; a simple view is updatable), so both
    /// versions work; drop the view in a later release, once nothing uses the old name.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE customer (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// ALTER TABLE customer RENAME TO customers;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE customer (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// ALTER TABLE customer RENAME TO customers;
    /// CREATE VIEW customer AS SELECT * FROM customers;
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE customer_import (id bigint PRIMARY KEY);
    /// ALTER TABLE customer_import RENAME TO customer_staging;
    /// ```
    RenameTable {
        id: "MS202",
        name: "rename-table",
        severity: Warning,
        help: "rename it and create a view with the old name in the same transaction; drop the view in a later release",
    }
}

impl Rule for RenameTable {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        let units = super::commit_units(&cx.up().steps);
        super::walk_existing(cx, |step, e, _| {
            if let Op::RenameTable { table, to } = &e.op {
                // A view with the old name, created in the same transaction, keeps old queries
                // working.
                let aliased = cx.ops().any(|(s, v)| {
                    s.index > step.index
                        && units[s.index] == units[step.index]
                        && matches!(&v.op, Op::CreateView { name, materialized: false } if super::key(name) == super::key(table))
                });
                if !aliased {
                    out.push(Hit::at(
                        step,
                        format!(
                            "renames table {table} to {to}: the application version still running during the rollout fails on every query that names {table}"
                        ),
                    ));
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::RenameTable::META);
    }
}
