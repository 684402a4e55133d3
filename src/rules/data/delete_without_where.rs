use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
#[allow(unused_imports)]
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `DELETE FROM t` without a `WHERE` clause, on a table that existed before this migration.
    ///
    /// ## Why it matters
    /// Every row is deleted inside the migration's transaction: the data is gone, and every row stays
    /// locked against concurrent updates until the migration commits. No other migration linter flags
    /// it.
    ///
    /// ## Instead
    /// Name the rows with a `WHERE` clause, delete in batches outside the schema migration, and keep a
    /// snapshot of what is removed.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE audit_log (id bigint PRIMARY KEY, at timestamptz);
    /// -- example: next migration
    /// DELETE FROM audit_log;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE audit_log (id bigint PRIMARY KEY, at timestamptz);
    /// DELETE FROM audit_log;
    /// ```
    DeleteWithoutWhere {
        id: "MS006",
        name: "delete-without-where",
        severity: Error,
        help: "name the rows with a WHERE clause, delete in batches, and snapshot them first",
    }
}

impl Rule for DeleteWithoutWhere {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops_on_existing() {
            if let Op::Delete {
                table,
                has_where: false,
            } = &e.op
            {
                out.push(Hit::at(step, format!("deletes every row of {table}")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::DeleteWithoutWhere::META);
    }
}
