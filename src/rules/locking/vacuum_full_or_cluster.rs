use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `VACUUM FULL` and `CLUSTER`, except on a table created in the same migration.
    ///
    /// ## Why it matters
    /// Both write a complete new copy of the table and its indexes while holding `ACCESS EXCLUSIVE`:
    /// nothing can read or write the table until the copy is done, and the copy needs as much free disk
    /// space again. Without a table name they process every table in the database.
    ///
    /// ## Instead
    /// Use `pg_repack` or `pg_squeeze`, which rebuild a table online and take the exclusive lock only
    /// for the final swap. Plain `VACUUM` (no `FULL`) reclaims space for reuse without blocking.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE events (id bigint PRIMARY KEY, payload text);
    /// -- example: next migration
    /// -- example: mode per_statement
    /// VACUUM FULL events;
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE events (id bigint PRIMARY KEY, payload text);
    /// -- example: next migration
    /// CLUSTER events USING events_pkey;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE events (id bigint PRIMARY KEY, payload text);
    /// -- example: next migration
    /// -- example: mode per_statement
    /// VACUUM (ANALYZE) events;
    /// ```
    VacuumFullOrCluster {
        id: "MS118",
        name: "vacuum-full-or-cluster",
        severity: Error,
        help: "compact or reorder a live table online with pg_repack or pg_squeeze, or use plain VACUUM",
    }
}

impl Rule for VacuumFullOrCluster {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops_on_existing() {
            let (what, how) = match &e.op {
                Op::Vacuum { full: true, .. } => ("VACUUM FULL", ""),
                Op::Cluster { .. } => ("CLUSTER", " in index order"),
                _ => continue,
            };
            if super::fresh(cx, step, e) {
                continue;
            }
            out.push(Hit::at(
                step,
                format!(
                    "{what} rewrites {}{how} under ACCESS EXCLUSIVE, blocking all reads and writes until the copy finishes",
                    super::target(&e.op)
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::VacuumFullOrCluster::META);
    }
}
