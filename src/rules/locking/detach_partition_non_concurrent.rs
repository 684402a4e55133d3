use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER TABLE … DETACH PARTITION …` without `CONCURRENTLY` on a partitioned table that existed
    /// before this migration.
    ///
    /// ## Why it matters
    /// A plain detach takes `ACCESS EXCLUSIVE` on the partitioned table (and the partition): every
    /// query on any partition waits, and the lock itself first queues behind running queries.
    ///
    /// ## Instead
    /// `DETACH PARTITION … CONCURRENTLY` (PostgreSQL ≥ 14) only takes `SHARE UPDATE EXCLUSIVE` on the
    /// parent. It cannot run inside a transaction block or when the table has a default partition.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE measurements (id bigint, taken_on date) PARTITION BY RANGE (taken_on);
    /// CREATE TABLE measurements_2023 PARTITION OF measurements FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
    /// -- example: next migration
    /// ALTER TABLE measurements DETACH PARTITION measurements_2023;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE measurements (id bigint, taken_on date) PARTITION BY RANGE (taken_on);
    /// CREATE TABLE measurements_2023 PARTITION OF measurements FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
    /// -- example: next migration
    /// -- example: mode per_statement
    /// ALTER TABLE measurements DETACH PARTITION measurements_2023 CONCURRENTLY;
    /// ```
    DetachPartitionNonConcurrent {
        id: "MS120",
        name: "detach-partition-non-concurrent",
        severity: Warning,
        help: "ALTER TABLE … DETACH PARTITION … CONCURRENTLY (PostgreSQL 14 or later), outside a transaction",
    }
}

impl Rule for DetachPartitionNonConcurrent {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops_on_existing() {
            if let Op::DetachPartition {
                table,
                partition,
                concurrently: false,
            } = &e.op
            {
                let mut message = format!(
                    "detaches {partition} from {table} without CONCURRENTLY: ACCESS EXCLUSIVE on {table} blocks every query on the partitioned table, and first waits behind the running ones"
                );
                if cx.settings.postgres < 14 {
                    message.push_str(" (DETACH … CONCURRENTLY needs PostgreSQL 14)");
                }
                out.push(Hit::at(step, message));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::DetachPartitionNonConcurrent::META);
    }
}
