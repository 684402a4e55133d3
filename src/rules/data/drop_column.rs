use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
#[allow(unused_imports)]
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER TABLE … DROP COLUMN` on a table that existed before this migration.
    ///
    /// ## Why it matters
    /// The column's values are destroyed. A down script can add the column back, but empty; the old
    /// application version, still running during the rollout, also breaks as soon as it selects or
    /// inserts the column.
    ///
    /// ## Instead
    /// Expand and contract: stop using the column in one release, drop it in a later one. Keep a
    /// snapshot of the primary key with the column's values, so that a rollback can put them back.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE accounts (id bigint PRIMARY KEY, legacy_plan text);
    /// -- example: next migration
    /// ALTER TABLE accounts DROP COLUMN legacy_plan;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE accounts (id bigint PRIMARY KEY, legacy_plan text);
    /// -- example: next migration
    /// COMMENT ON COLUMN accounts.legacy_plan IS 'deprecated: no longer written, dropped in 2.0';
    /// ```
    ///
    /// A column added earlier in the same migration holds nothing that existed before:
    ///
    /// ```sql
    /// CREATE TABLE accounts (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// ALTER TABLE accounts ADD COLUMN scratch text;
    /// ALTER TABLE accounts DROP COLUMN scratch;
    /// ```
    DropColumn {
        id: "MS002",
        name: "drop-column",
        severity: Error,
        help: "stop writing the column, release, then drop it in a later migration with a snapshot of its values",
    }
}

impl Rule for DropColumn {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops_on_existing() {
            if let Op::DropColumn { table, column, .. } = &e.op
                && e.effect.data.is_destructive()
            {
                out.push(Hit::at(step, format!("drops column {table}.{column}: its values cannot be restored by a down script")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::DropColumn::META);
    }
}
