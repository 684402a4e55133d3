use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
#[allow(unused_imports)]
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `DROP TABLE` of a table that existed before this migration.
    ///
    /// ## Why it matters
    /// Every row of the table is gone the moment the migration commits. A down script can
    /// re-create the table, but empty: rolling back after the release has run for a while means
    /// choosing between the old code and the data. The application version still running during
    /// the rollout also fails on its first query against the table.
    ///
    /// ## Instead
    /// Stop reading and writing the table in one release; drop it in a later release, after a
    /// snapshot of its rows exists (`migsafe plan` insists on one).
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE legacy_orders (id bigint PRIMARY KEY, total numeric(12,2));
    /// -- example: next migration
    /// DROP TABLE legacy_orders;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE import_batch (id bigint PRIMARY KEY);
    /// DROP TABLE import_batch;
    /// ```
    DropTable {
        id: "MS001",
        name: "drop-table",
        severity: Error,
        help: "keep the table and stop using it; drop it in a later release once a snapshot of its rows exists",
    }
}

impl Rule for DropTable {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops_on_existing() {
            if let Op::DropTable { tables, .. } = &e.op {
                out.push(Hit::at(
                    step,
                    format!(
                        "drops {} and every row in it: a down script cannot bring the rows back",
                        tables.join(", ")
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
        crate::rules::testing::check_rule(&super::DropTable::META);
    }
}
