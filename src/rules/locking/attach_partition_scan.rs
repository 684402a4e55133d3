use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER TABLE … ATTACH PARTITION …` of a table that existed before this migration.
    ///
    /// Not flagged when the same migration has, before it, validated a check constraint on the
    /// partition, which migsafe takes to match the bound.
    ///
    /// ## Why it matters
    /// Attaching checks that every row of the new partition fits the partition bound. Unless a valid
    /// `CHECK` constraint already proves it, PostgreSQL scans the whole partition while holding
    /// `ACCESS EXCLUSIVE` on it (and `SHARE UPDATE EXCLUSIVE` on the parent); a default partition is
    /// scanned too.
    ///
    /// ## Instead
    /// Add a `CHECK` constraint equivalent to the bound with `NOT VALID`, `VALIDATE` it (under
    /// `SHARE UPDATE EXCLUSIVE`), then `ATTACH PARTITION`, which skips the scan, and drop the check.
    /// migsafe sees constraints within one migration only: keep the `VALIDATE` and the `ATTACH`
    /// together, or suppress the finding with a reason.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE measurements (id bigint, taken_on date) PARTITION BY RANGE (taken_on);
    /// CREATE TABLE measurements_2024 (id bigint, taken_on date);
    /// -- example: next migration
    /// ALTER TABLE measurements ATTACH PARTITION measurements_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE measurements (id bigint, taken_on date) PARTITION BY RANGE (taken_on);
    /// CREATE TABLE measurements_2024 (id bigint, taken_on date);
    /// -- example: next migration
    /// ALTER TABLE measurements_2024 ADD CONSTRAINT measurements_2024_bound CHECK (taken_on IS NOT NULL AND taken_on >= '2024-01-01' AND taken_on < '2025-01-01') NOT VALID;
    /// -- example: next migration
    /// ALTER TABLE measurements_2024 VALIDATE CONSTRAINT measurements_2024_bound;
    /// ALTER TABLE measurements ATTACH PARTITION measurements_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    /// ALTER TABLE measurements_2024 DROP CONSTRAINT measurements_2024_bound;
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE measurements (id bigint, taken_on date) PARTITION BY RANGE (taken_on);
    /// -- example: next migration
    /// CREATE TABLE measurements_2024 (id bigint, taken_on date);
    /// ALTER TABLE measurements ATTACH PARTITION measurements_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    /// ```
    AttachPartitionScan {
        id: "MS121",
        name: "attach-partition-scan",
        severity: Warning,
        help: "add a CHECK constraint matching the partition bound NOT VALID, VALIDATE it, then ATTACH (no scan) and drop the CHECK",
    }
}

impl Rule for AttachPartitionScan {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops_on_existing() {
            if let Op::AttachPartition { table, partition } = &e.op {
                if bound_proven(cx, step.index, partition) {
                    continue;
                }
                out.push(Hit::at(
                    step,
                    format!(
                        "attaches {partition} to {table}: every row of {partition} is scanned under ACCESS EXCLUSIVE to check the partition bound, since no validated CHECK constraint proves it"
                    ),
                ));
            }
        }
    }
}

/// Whether nothing needs scanning: the partition was created in this migration, or a check
/// constraint on it was validated (by `VALIDATE CONSTRAINT`, or when added) before step `before`.
fn bound_proven(cx: &Context<'_>, before: usize, partition: &str) -> bool {
    if super::created_before(cx, before).contains(super::key(partition)) {
        return true;
    }
    cx.ops()
        .take_while(|(s, _)| s.index < before)
        .any(|(_, e)| match &e.op {
            Op::ValidateConstraint { table, .. } => super::key(table) == super::key(partition),
            Op::AddConstraint {
                table,
                kind: crate::sql::ConstraintKind::Check,
                not_valid: false,
                ..
            } => super::key(table) == super::key(partition),
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::AttachPartitionScan::META);
    }
}
