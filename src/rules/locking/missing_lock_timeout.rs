use crate::classify::LockLevel;
use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// The first statement of a migration that takes a `SHARE` lock or stronger (`CREATE INDEX`, most
    /// `ALTER TABLE` forms, `DROP`, `TRUNCATE`, `LOCK TABLE` …) on an object that existed before the
    /// migration, when no `SET lock_timeout` precedes it in the script. That includes the table a
    /// new table's foreign key references: `CREATE TABLE … REFERENCES person` takes `SHARE ROW
    /// EXCLUSIVE` on `person`.
    ///
    /// One finding per migration.
    ///
    /// ## Why it matters
    /// A lock request waits for every conflicting lock already held, and PostgreSQL grants locks in
    /// order: while the migration waits behind one long-running query or idle transaction, every new
    /// query on the table queues behind the migration. A one-millisecond `ALTER TABLE` becomes an
    /// outage that lasts as long as the slowest query.
    ///
    /// ## Instead
    /// Start the migration with `SET lock_timeout = '5s'` (`SET LOCAL` in a migration the runner
    /// wraps in a transaction), so that the statement gives up instead of blocking everyone, and retry
    /// the deploy. If the timeout is set outside the script (role or database settings), disable this
    /// rule in `migsafe.toml`. When `migsafe.toml` sets `[apply] lock_timeout` (not 0), `migsafe
    /// apply` and `migsafe rollback` set it on every step's session and the rule stays quiet.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// ALTER TABLE orders ADD COLUMN note text;
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE person (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// CREATE TABLE person_note (id bigint PRIMARY KEY, person_id bigint REFERENCES person (id));
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// SET LOCAL lock_timeout = '5s';
    /// ALTER TABLE orders ADD COLUMN note text;
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY);
    /// ALTER TABLE orders ADD COLUMN note text;
    /// CREATE TABLE order_notes (id bigint PRIMARY KEY, order_id bigint REFERENCES orders (id));
    /// ```
    MissingLockTimeout {
        id: "MS125",
        name: "missing-lock-timeout",
        severity: Warning,
        help: "SET lock_timeout (e.g. '5s') before statements that take strong locks, and retry the migration if it times out",
    }
}

impl Rule for MissingLockTimeout {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        // `migsafe apply` sets the configured lock_timeout on every step's session.
        if cx.settings.apply_lock_timeout {
            return;
        }
        for (step, e) in cx.ops() {
            // A foreign key takes SHARE ROW EXCLUSIVE on the table it references as well: when
            // that table existed before, writes to it queue behind the waiting statement even
            // though the table being created or altered is new.
            let foreign_keys: Vec<&crate::sql::ForeignKey> = match &e.op {
                Op::CreateTable { foreign_keys, .. } => foreign_keys.iter().collect(),
                Op::AddConstraint {
                    foreign_key: Some(fk),
                    ..
                } if super::fresh(cx, step, e) => vec![fk],
                _ => vec![],
            };
            if !foreign_keys.is_empty() && !step.lock_timeout {
                let created = super::created_before(cx, step.index);
                let referenced: Vec<&str> = foreign_keys
                    .iter()
                    .map(|fk| fk.references.as_str())
                    .filter(|t| !created.contains(super::key(t)))
                    // The fallback recognizer does not read the referenced table's name.
                    .map(|t| {
                        if t.is_empty() {
                            "the referenced table"
                        } else {
                            t
                        }
                    })
                    .collect();
                if !referenced.is_empty() {
                    out.push(Hit::at(
                        step,
                        format!(
                            "takes SHARE ROW EXCLUSIVE on {} (referenced by a foreign key of the new table) with no lock_timeout set: if another session holds a conflicting lock, this statement waits for it, and every write to {} queues behind it meanwhile",
                            referenced.join(", "),
                            referenced.join(", ")
                        ),
                    ));
                    return;
                }
            }
            if step.lock_timeout || e.effect.lock < LockLevel::Share {
                continue;
            }
            if !locks_relation(&e.op) || super::fresh(cx, step, e) {
                continue;
            }
            let target = super::target(&e.op);
            let queued = if e.effect.lock == LockLevel::AccessExclusive {
                format!("every query on {target}")
            } else {
                format!("every write to {target}")
            };
            out.push(Hit::at(
                step,
                format!(
                    "takes {} on {target} with no lock_timeout set: if another session holds a conflicting lock, this statement waits for it, and {queued} queues behind it meanwhile",
                    super::lock_name(e.effect.lock)
                ),
            ));
            return;
        }
    }
}

/// Whether the operation locks a table, index or view that other sessions query (as opposed to
/// a new table, a function, a type or a sequence, whose locks queries do not wait for).
fn locks_relation(op: &Op) -> bool {
    match op {
        Op::DropObject { kind, .. } => matches!(
            kind.as_str(),
            "view" | "materialized view" | "trigger" | "policy" | "rule" | "index"
        ),
        Op::Rename { kind, .. } | Op::SetSchema { kind, .. } => matches!(
            kind.as_str(),
            "index" | "view" | "materialized view" | "constraint" | "table"
        ),
        Op::CreateTable { .. }
        | Op::CreateTableAs { .. }
        | Op::Unmodeled { .. }
        | Op::AddEnumValue { .. }
        | Op::AlterSequence { .. }
        | Op::DropSequence { .. }
        | Op::DropDatabase { .. } => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::MissingLockTimeout::META);
    }

    /// A foreign key added to a new table locks the older table it references.
    #[test]
    fn a_foreign_key_added_to_a_new_table_locks_the_referenced_one() {
        let meta = &super::MissingLockTimeout::META;
        let lint = |sql: &str| crate::rules::testing::lint_example(sql, meta).0;
        let found = lint(
            "CREATE TABLE person (id int PRIMARY KEY);\n-- example: next migration\nCREATE TABLE note (id int, person_id int);\nALTER TABLE note ADD FOREIGN KEY (person_id) REFERENCES person (id);",
        );
        assert!(
            found
                .iter()
                .any(|f| f.rule == meta.id && f.message.contains("SHARE ROW EXCLUSIVE on person")),
            "{found:?}"
        );
        // Both tables new: nobody waits.
        let quiet = lint(
            "CREATE TABLE person (id int PRIMARY KEY);\nCREATE TABLE note (id int, person_id int);\nALTER TABLE note ADD FOREIGN KEY (person_id) REFERENCES person (id);",
        );
        assert!(quiet.iter().all(|f| f.rule != meta.id), "{quiet:?}");
    }
}
