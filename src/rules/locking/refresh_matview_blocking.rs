use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `REFRESH MATERIALIZED VIEW` without `CONCURRENTLY`, except of a view created in the same
    /// migration.
    ///
    /// ## Why it matters
    /// A plain refresh re-runs the view's query and replaces its contents under `ACCESS EXCLUSIVE`:
    /// every query reading the view waits until the refresh is done, for as long as the (often
    /// expensive) query takes.
    ///
    /// ## Instead
    /// `REFRESH MATERIALIZED VIEW CONCURRENTLY` computes the new contents and merges them in while
    /// reads continue (it takes `EXCLUSIVE`, which blocks only other refreshes and writes). It needs a
    /// unique index on the view, and the view must already be populated.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, total_cents bigint, created_on date);
    /// CREATE MATERIALIZED VIEW daily_totals AS SELECT created_on, sum(total_cents) AS total_cents FROM orders GROUP BY created_on;
    /// -- example: next migration
    /// REFRESH MATERIALIZED VIEW daily_totals;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, total_cents bigint, created_on date);
    /// CREATE MATERIALIZED VIEW daily_totals AS SELECT created_on, sum(total_cents) AS total_cents FROM orders GROUP BY created_on;
    /// CREATE UNIQUE INDEX daily_totals_created_on_key ON daily_totals (created_on);
    /// -- example: next migration
    /// REFRESH MATERIALIZED VIEW CONCURRENTLY daily_totals;
    /// ```
    RefreshMatviewBlocking {
        id: "MS124",
        name: "refresh-matview-blocking",
        severity: Warning,
        help: "REFRESH MATERIALIZED VIEW CONCURRENTLY (the view needs a unique index)",
    }
}

impl Rule for RefreshMatviewBlocking {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops() {
            if let Op::RefreshMatView {
                name,
                concurrently: false,
            } = &e.op
            {
                if super::fresh(cx, step, e) {
                    continue;
                }
                out.push(Hit::at(
                    step,
                    format!(
                        "refreshes materialized view {name} without CONCURRENTLY: ACCESS EXCLUSIVE on {name} blocks every read of it until its query has run again"
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
        crate::rules::testing::check_rule(&super::RefreshMatviewBlocking::META);
    }
}
