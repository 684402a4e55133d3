use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// Several `ALTER TABLE` statements that take `ACCESS EXCLUSIVE` on the same pre-existing table in
    /// one migration, where one statement with several actions would do (renames and partition
    /// attach/detach, which PostgreSQL does not let you combine, are not counted).
    ///
    /// Reported once per table, at its second statement. Off by default: enable it in
    /// `migsafe.toml`.
    ///
    /// ## Why it matters
    /// Each statement queues for the lock again behind running queries, and makes everything else
    /// queue behind it; each may also scan or rewrite the table on its own where one combined statement
    /// would do the work in a single pass.
    ///
    /// ## Instead
    /// Write one `ALTER TABLE t action, action, …` statement: PostgreSQL takes the lock once and does
    /// all rewrites and scans in one pass.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE users (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// ALTER TABLE users ADD COLUMN first_name text;
    /// ALTER TABLE users ADD COLUMN last_name text;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE users (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// ALTER TABLE users ADD COLUMN first_name text, ADD COLUMN last_name text;
    /// ```
    RepeatedAlterTable {
        id: "MS128",
        name: "repeated-alter-table",
        severity: Warning,
        default_enabled: false,
        help: "combine the actions into one statement: ALTER TABLE t action, action, …",
    }
}

impl Rule for RepeatedAlterTable {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        // Per table: the steps that alter it under ACCESS EXCLUSIVE, in order.
        let mut seen: Vec<(String, Vec<&crate::classify::Step>)> = Vec::new();
        for step in &cx.up().steps {
            let mut tables: Vec<String> = Vec::new();
            for e in &step.effects {
                if e.new_table
                    || !super::is_alter_table(&e.op)
                    || e.effect.lock != crate::classify::LockLevel::AccessExclusive
                    // These cannot be combined with other actions.
                    || matches!(
                        e.op,
                        Op::RenameColumn { .. }
                            | Op::RenameTable { .. }
                            | Op::AttachPartition { .. }
                            | Op::DetachPartition { .. }
                    )
                {
                    continue;
                }
                if let Some(table) = e.op.table() {
                    let table = super::key(table).to_string();
                    if !tables.contains(&table) {
                        tables.push(table);
                    }
                }
            }
            for table in tables {
                match seen.iter_mut().find(|(t, _)| *t == table) {
                    Some((_, steps)) => steps.push(step),
                    None => seen.push((table, vec![step])),
                }
            }
        }
        for (table, steps) in seen {
            if steps.len() < 2 {
                continue;
            }
            let lines: Vec<String> = steps.iter().map(|s| s.start.line.to_string()).collect();
            out.push(Hit::at(
                steps[1],
                format!(
                    "{table} is altered by {} separate ALTER TABLE statements (lines {}): each one queues for ACCESS EXCLUSIVE on {table} again; combine them into one statement",
                    steps.len(),
                    lines.join(", ")
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::RepeatedAlterTable::META);
    }
}
