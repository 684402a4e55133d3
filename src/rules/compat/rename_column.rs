use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER TABLE … RENAME COLUMN` of a column that existed before this migration.
    ///
    /// ## Why it matters
    /// A rename is instant, but during a rollout the previous application version keeps running
    /// against the new schema: every query it sends that names the old column fails from the
    /// moment the migration commits until the last old instance is gone. Rolling the application
    /// back without rolling the schema back fails the same way.
    ///
    /// ## Instead
    /// Expand and contract: add the new column, write to both (or keep them in sync with a
    /// trigger), backfill, switch reads to the new column, and drop the old one in a later
    /// release. For a table used only through a view, rename the column and recreate the view with
    /// the old name as an alias.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE customers (id bigint PRIMARY KEY, mail text);
    /// -- example: next migration
    /// ALTER TABLE customers RENAME COLUMN mail TO email;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE customers (id bigint PRIMARY KEY, mail text);
    /// -- example: next migration
    /// ALTER TABLE customers ADD COLUMN email text;
    /// ```
    ///
    /// A table or column created by the same migration is not in use yet:
    ///
    /// ```sql
    /// CREATE TABLE customers (id bigint PRIMARY KEY, mail text);
    /// ALTER TABLE customers RENAME COLUMN mail TO email;
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE customers (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// ALTER TABLE customers ADD COLUMN mail text;
    /// ALTER TABLE customers RENAME COLUMN mail TO email;
    /// ```
    RenameColumn {
        id: "MS201",
        name: "rename-column",
        severity: Warning,
        help: "add the new column, write both, backfill, move reads over, and drop the old column in a later release",
    }
}

impl Rule for RenameColumn {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        super::walk_existing(cx, |step, e, fresh| {
            if let Op::RenameColumn { table, from, to } = &e.op
                && !fresh.column(table, from)
            {
                out.push(Hit::at(
                    step,
                    format!(
                        "renames column {table}.{from} to {to}: the application version still running during the rollout fails on every query that names {from}"
                    ),
                ));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::RenameColumn::META);
    }
}
