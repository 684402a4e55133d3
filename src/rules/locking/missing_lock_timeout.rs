use crate::classify::LockLevel;
use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// The first statement of a migration that takes a `SHARE` lock or stronger (`CREATE INDEX`, most
    /// `ALTER TABLE` forms, `DROP`, `TRUNCATE`, `LOCK TABLE` …) on an object that existed before the
    /// migration, when no `SET lock_timeout` precedes it in the script, including the tables a
    /// statement locks besides the one it names (a referenced table, a partition's parent).
    ///
    /// Those locks, as PostgreSQL takes them:
    ///
    /// - a foreign key added (`CREATE TABLE … REFERENCES person`, `ADD FOREIGN KEY`) takes `SHARE
    ///   ROW EXCLUSIVE` on the table it references;
    /// - dropping a foreign key, or a table that has one, takes `ACCESS EXCLUSIVE` on the table it
    ///   references;
    /// - dropping a column that has a foreign key, or changing its type, takes `ACCESS EXCLUSIVE`
    ///   on the table it references; changing the type of a referenced column takes it on the
    ///   tables whose foreign keys reference it;
    /// - `DROP CONSTRAINT <table>_pkey CASCADE` and `DROP COLUMN … CASCADE` take `ACCESS
    ///   EXCLUSIVE` on the tables whose foreign keys reference the primary key or column (when
    ///   migsafe knows the key's columns);
    /// - `CREATE TABLE … PARTITION OF`, and dropping a partition, take `ACCESS EXCLUSIVE` on the
    ///   partitioned table;
    /// - `ATTACH PARTITION` and `DETACH PARTITION` take `ACCESS EXCLUSIVE` on the partition
    ///   (`ATTACH PARTITION` takes only `SHARE UPDATE EXCLUSIVE` on the partitioned table from
    ///   PostgreSQL 12 on);
    /// - a partition added (`PARTITION OF`, `ATTACH PARTITION`), detached or dropped takes
    ///   `ACCESS EXCLUSIVE` on the table's `DEFAULT` partition, when migsafe knows it;
    /// - `ADD COLUMN` takes `ACCESS EXCLUSIVE` on every known partition and inheritance child, and
    ///   `CREATE INDEX` (not `ON ONLY`) on a partitioned table takes `SHARE` on its partitions;
    /// - `TRUNCATE … CASCADE` and `DROP TABLE … CASCADE` take `ACCESS EXCLUSIVE` on the tables
    ///   whose foreign keys reference the table;
    /// - `CREATE POLICY`, `ALTER POLICY` and `CREATE RULE` take `ACCESS EXCLUSIVE` on the table
    ///   they are on.
    ///
    /// The JSON output lists these under `locks_elsewhere`. Inheritance (`INHERITS`, `INHERIT`)
    /// takes `SHARE UPDATE EXCLUSIVE` on the parent, which queries do not wait for; `GRANT` and
    /// `REVOKE` take no table lock. `CREATE OR REPLACE VIEW` of a view an earlier migration
    /// created takes `ACCESS EXCLUSIVE` on the view; `ALTER DOMAIN … ADD CONSTRAINT` takes
    /// `SHARE` on the tables that use the domain.
    ///
    /// One finding per migration: the first such statement, or the first after those a
    /// `migsafe:ignore MS125` directive suppresses.
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
    /// ```sql
    /// CREATE TABLE events (id bigint, at date) PARTITION BY RANGE (at);
    /// -- example: next migration
    /// CREATE TABLE events_2027 PARTITION OF events FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
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
            if step.lock_timeout {
                continue;
            }
            // What the statement locks that other sessions use: its own target, and the tables
            // it locks besides (a referenced table, a partition's parent), unless this
            // migration created them.
            let mut locked: Vec<(String, LockLevel, Option<&str>)> = Vec::new();
            if e.effect.lock >= LockLevel::Share
                && locks_relation(&e.op)
                && !super::fresh(cx, step, e)
            {
                locked.push((super::target(&e.op).to_string(), e.effect.lock, None));
            }
            let elsewhere: Vec<_> = e
                .locks_elsewhere
                .iter()
                .filter(|l| l.lock >= LockLevel::Share)
                .collect();
            if !elsewhere.is_empty() {
                let created = super::created_before(cx, step.index);
                for l in elsewhere {
                    if !created.contains(super::key(&l.table)) {
                        // The fallback recognizer does not read a referenced table's name.
                        let table = if l.table.is_empty() {
                            "the referenced table".to_string()
                        } else {
                            l.table.clone()
                        };
                        locked.push((table, l.lock, Some(l.why)));
                    }
                }
            }
            if locked.is_empty() {
                continue;
            }
            let takes: Vec<String> = locked
                .iter()
                .map(|(table, lock, why)| match why {
                    Some(why) => format!("{} on {table} ({why})", super::lock_name(*lock)),
                    None => format!("{} on {table}", super::lock_name(*lock)),
                })
                .collect();
            let queued: Vec<String> = locked
                .iter()
                .map(|(table, lock, _)| {
                    if *lock == LockLevel::AccessExclusive {
                        format!("every query on {table}")
                    } else {
                        format!("every write to {table}")
                    }
                })
                .collect();
            out.push(Hit::at(
                step,
                format!(
                    "takes {} with no lock_timeout set: if another session holds a conflicting lock, this statement waits for it, and {} queues behind it meanwhile",
                    takes.join(" and "),
                    queued.join(" and ")
                ),
            ));
            // A directive on this statement suppresses the finding (and counts as used): the
            // next statement that takes a strong lock is reported in its stead.
            if crate::rules::engine::suppressed_by(&step.statement, "MS125").is_none() {
                return;
            }
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

    /// Every statement that locks a table besides its target, as measured on PostgreSQL 15
    /// (`pg_locks` inside the statement's transaction): the finding names that table.
    #[test]
    fn locks_on_other_tables_are_named() {
        let meta = &super::MissingLockTimeout::META;
        let base = "CREATE TABLE person (id int PRIMARY KEY);\nCREATE TABLE note (id int PRIMARY KEY, person_id int REFERENCES person (id));\nCREATE TABLE other (id int PRIMARY KEY, person_id int);\nCREATE TABLE meas (id int, at date) PARTITION BY RANGE (at);\nCREATE TABLE meas_2024 PARTITION OF meas FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');\nCREATE TABLE meas_default PARTITION OF meas DEFAULT;\nCREATE TABLE loose (id int, at date);\nALTER TABLE other ADD CONSTRAINT other_person FOREIGN KEY (person_id) REFERENCES person (id);\nCREATE TABLE base (id int);\nCREATE TABLE base_kid (x int) INHERITS (base);\nCREATE VIEW base_ids AS SELECT id FROM base;\nCREATE DOMAIN positive AS int;\nCREATE TABLE amounts (x positive);\n-- example: next migration\n";
        let message = |sql: &str| -> String {
            let (found, _) = crate::rules::testing::lint_example(&format!("{base}{sql}"), meta);
            found
                .iter()
                .filter(|f| f.rule == meta.id)
                .map(|f| f.message.clone())
                .collect::<Vec<_>>()
                .join("\n")
        };
        for (sql, expected) in [
            (
                "ALTER TABLE other ADD FOREIGN KEY (id) REFERENCES person (id);",
                "SHARE ROW EXCLUSIVE on other and SHARE ROW EXCLUSIVE on person (referenced by the new foreign key)",
            ),
            (
                "ALTER TABLE note DROP CONSTRAINT note_person_id_fkey;",
                "ACCESS EXCLUSIVE on person (referenced by the dropped foreign key)",
            ),
            (
                "ALTER TABLE other DROP CONSTRAINT other_person;",
                "ACCESS EXCLUSIVE on person (referenced by the dropped foreign key)",
            ),
            (
                "DROP TABLE note;",
                "ACCESS EXCLUSIVE on person (referenced by a foreign key of the dropped table)",
            ),
            (
                "CREATE TABLE meas_2025 PARTITION OF meas FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');",
                "ACCESS EXCLUSIVE on meas (the partitioned table the new one becomes a partition of)",
            ),
            (
                "DROP TABLE meas_2024;",
                "ACCESS EXCLUSIVE on meas (the partitioned table of the dropped partition) and ACCESS EXCLUSIVE on meas_default (the default partition, whose bound changes)",
            ),
            (
                "ALTER TABLE meas ATTACH PARTITION loose FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');",
                "ACCESS EXCLUSIVE on loose (the table attached as a partition)",
            ),
            (
                "ALTER TABLE meas DETACH PARTITION meas_2024;",
                "ACCESS EXCLUSIVE on meas_2024 (the detached partition) and ACCESS EXCLUSIVE on meas_default (the default partition, whose bound changes)",
            ),
            (
                "TRUNCATE person CASCADE;",
                "ACCESS EXCLUSIVE on note (it references a truncated table (CASCADE))",
            ),
            (
                "DROP TABLE person CASCADE;",
                "ACCESS EXCLUSIVE on note (its foreign key to the dropped table is dropped (CASCADE))",
            ),
            (
                "ALTER TABLE note DROP COLUMN person_id;",
                "ACCESS EXCLUSIVE on person (referenced by the dropped column's foreign key)",
            ),
            (
                "ALTER TABLE person DROP CONSTRAINT person_pkey CASCADE;",
                "ACCESS EXCLUSIVE on note (its foreign key to the dropped primary key is dropped (CASCADE))",
            ),
            (
                "ALTER TABLE person DROP COLUMN id CASCADE;",
                "ACCESS EXCLUSIVE on other (its foreign key to the dropped column is dropped (CASCADE))",
            ),
            (
                "ALTER TABLE note ALTER COLUMN person_id TYPE bigint;",
                "ACCESS EXCLUSIVE on person (referenced by the foreign key of the retyped column)",
            ),
            (
                "ALTER TABLE person ALTER COLUMN id TYPE bigint;",
                "ACCESS EXCLUSIVE on note (its foreign key references the retyped column)",
            ),
            (
                "ALTER TABLE meas ADD COLUMN z int;",
                "ACCESS EXCLUSIVE on meas_2024 (a partition or child table of the table, which gets the column too)",
            ),
            (
                "CREATE TABLE meas_2030 PARTITION OF meas FOR VALUES FROM ('2030-01-01') TO ('2031-01-01');",
                "ACCESS EXCLUSIVE on meas (the partitioned table the new one becomes a partition of) and ACCESS EXCLUSIVE on meas_default (the default partition, whose bound changes)",
            ),
            (
                "ALTER TABLE base ADD COLUMN z int;",
                "ACCESS EXCLUSIVE on base_kid (a partition or child table",
            ),
            (
                "CREATE INDEX ON meas (id);",
                "SHARE on meas_2024 (a partition of the table, indexed too)",
            ),
            (
                "CREATE POLICY own ON person USING (true);",
                "takes ACCESS EXCLUSIVE on person (the table the policy is on)",
            ),
            (
                "ALTER POLICY own ON public.person USING (true);",
                "takes ACCESS EXCLUSIVE on person (the table the policy is on)",
            ),
            (
                "CREATE RULE keep AS ON DELETE TO person DO INSTEAD NOTHING;",
                "takes ACCESS EXCLUSIVE on person (the table the rule is on)",
            ),
            (
                "CREATE OR REPLACE VIEW base_ids AS SELECT id FROM base;",
                "takes ACCESS EXCLUSIVE on base_ids with",
            ),
            (
                "ALTER DOMAIN positive ADD CONSTRAINT positive_check CHECK (VALUE > 0);",
                "takes SHARE on the tables using domain positive with no lock_timeout set: if another session holds a conflicting lock, this statement waits for it, and every write to the tables using domain positive queues",
            ),
        ] {
            let found = message(sql);
            assert!(found.contains(expected), "{sql}\n{found}");
        }
        // What takes no lock that queries wait for: nothing to say.
        for sql in [
            "GRANT SELECT ON person TO PUBLIC;",
            "REVOKE SELECT ON person FROM PUBLIC;",
            // An index on the partitioned table alone.
            "CREATE INDEX ON ONLY meas (id);\nSELECT 1;",
            // A view created earlier in the migration, or one migsafe does not know exists.
            "CREATE VIEW v2 AS SELECT 1 AS one;\nCREATE OR REPLACE VIEW v2 AS SELECT 1 AS one;",
            "CREATE OR REPLACE VIEW v3 AS SELECT 1 AS one;",
        ] {
            let found = message(sql);
            let only_meas = sql.contains("ON ONLY") && !found.contains("meas_2024");
            assert!(found.is_empty() || only_meas, "{sql}\n{found}");
        }
        // ATTACH PARTITION takes SHARE UPDATE EXCLUSIVE on the parent since PostgreSQL 12 (a new
        // table attached is free): only the default partition is locked.
        let found = message(
            "CREATE TABLE meas_2026 (id int, at date);\nALTER TABLE meas ATTACH PARTITION meas_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');",
        );
        assert!(
            found.starts_with("takes ACCESS EXCLUSIVE on meas_default (the default partition")
                && !found.contains("on meas ")
                && !found.contains("meas_2026"),
            "{found}"
        );
        // The index on the partitioned table alone still locks it.
        assert!(message("CREATE INDEX ON ONLY meas (id);").contains("SHARE on meas with"));
        // A constraint that is not a known foreign key locks only its own table.
        let found = message("ALTER TABLE note DROP CONSTRAINT note_pkey;");
        assert!(!found.contains("person"), "{found}");
        // The lock timeout set first: nothing to say.
        assert_eq!(message("SET lock_timeout = '5s';\nDROP TABLE note;"), "");
        // Inheritance takes SHARE UPDATE EXCLUSIVE on the parent: queries do not queue.
        let found = message("CREATE TABLE kid (x int) INHERITS (person);");
        assert_eq!(found, "");
    }

    /// A directive that suppresses the first finding does not hide the next statement that
    /// takes a strong lock.
    #[test]
    fn a_suppressed_statement_does_not_cover_the_next() {
        let meta = &super::MissingLockTimeout::META;
        let (found, _) = crate::rules::testing::lint_example(
            "CREATE TABLE accounts (id int);\nCREATE TABLE other (id int);\n-- example: next migration\n-- migsafe:ignore MS125 set by role\nALTER TABLE accounts ADD COLUMN z int;\nALTER TABLE other ADD COLUMN q int;\nALTER TABLE accounts ADD COLUMN y int;\n",
            meta,
        );
        let mine: Vec<_> = found.iter().filter(|f| f.rule == meta.id).collect();
        // The suppressed finding (the directive is used), then the next one, and no more.
        assert_eq!(mine.len(), 2, "{found:#?}");
        assert!(mine[0].suppressed.is_some() && mine[0].message.contains("on accounts"));
        assert!(mine[1].suppressed.is_none(), "{found:#?}");
        assert!(
            mine[1].message.contains("ACCESS EXCLUSIVE on other"),
            "{found:#?}"
        );
        assert!(found.iter().all(|f| f.rule != "MS904"), "{found:#?}");
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
