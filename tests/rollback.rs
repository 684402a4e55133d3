//! Rollback fidelity: rollback is the exact inverse of a release's data effects.
//!
//! Each shape seeds two databases the same way (the target and its copy), applies the shape's
//! migration to the target with `migsafe apply`, makes the same post-upgrade writes on both
//! (new rows with explicit keys, edits of columns the release did not touch, deletes of rows
//! it did not touch), rolls the target back with `migsafe rollback`, and then compares every
//! table of the two databases, sorted, value by value (record text), and the conflicts
//! reported.
//!
//! The tripwire cases are statements whose destruction lint cannot see: each is either refused
//! by apply (exit 1, nothing changed) or applied and rolled back with every row restored.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use insta_cmd::get_cargo_bin;
use migsafe::pg::testing;

struct Shape {
    name: &'static str,
    /// Schema and rows that exist before the release (run on both databases).
    seed: &'static str,
    up: &'static str,
    down: &'static str,
    /// Post-upgrade writes, run on both databases.
    writes: &'static str,
    /// Rows rollback must report as changed since (kept).
    conflicts: u64,
}

struct Run {
    dir: tempfile::TempDir,
    target: String,
    copy: String,
}

fn migsafe(dir: &Path, args: &[&str]) -> Output {
    Command::new(get_cargo_bin("migsafe"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("MIGSAFE_CONFIG")
        .env_remove("MIGSAFE_SNAPSHOT_STORE")
        .env_remove("MIGSAFE_DATABASE_URL")
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn exec(db: &str, sql: &str) {
    if sql.trim().is_empty() {
        return;
    }
    testing::cluster()
        .connect(db)
        .unwrap()
        .batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
}

impl Run {
    fn new(shape: &Shape) -> Run {
        let (target, _) = testing::fresh_database("fidelity");
        let (copy, _) = testing::fresh_database("fidelity_copy");
        exec(&target, shape.seed);
        exec(&copy, shape.seed);
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("migrations");
        std::fs::create_dir(&m).unwrap();
        std::fs::write(m.join("20260101000000_shape.up.sql"), shape.up).unwrap();
        std::fs::write(m.join("20260101000000_shape.down.sql"), shape.down).unwrap();
        std::fs::write(
            dir.path().join("migsafe.toml"),
            format!(
                "runner = \"sqlx\"\nmigrations_dir = \"migrations\"\n[snapshots]\nstore = \"store\"\n[[targets]]\nname = \"t\"\nurl = \"{}\"\n",
                testing::cluster().url(&target)
            ),
        )
        .unwrap();
        Run { dir, target, copy }
    }

    fn apply(&self) -> Output {
        migsafe(
            self.dir.path(),
            &[
                "apply",
                "--target",
                "t",
                "--accept-risk",
                "fidelity test: gates are not what this tests",
            ],
        )
    }

    fn rollback(&self) -> Output {
        migsafe(
            self.dir.path(),
            &["rollback", "--target", "t", "--to", "0", "--format", "json"],
        )
    }

    /// Drills each snapshot the apply took in a throwaway database: every object must pass,
    /// and every row-change object must come back exactly through the rollback's own restore.
    /// Returns how many row-change objects were drilled.
    fn drill_every_snapshot(&self, name: &str) -> usize {
        let out = migsafe(self.dir.path(), &["snapshot", "list", "--format", "json"]);
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let admin = testing::cluster().url("postgres");
        let mut changes = 0;
        for s in list["snapshots"].as_array().unwrap() {
            let id = s["id"].as_str().unwrap();
            let out = migsafe(
                self.dir.path(),
                &[
                    "drill",
                    "--snapshot",
                    id,
                    "--database-url",
                    &admin,
                    "--format",
                    "json",
                    "-q",
                ],
            );
            let stdout = text(&out.stdout);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{name}: drill of {id}\n{stdout}\n{}",
                text(&out.stderr)
            );
            let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
            for o in report["drills"][0]["objects"].as_array().unwrap() {
                if o["kind"] == "changes" {
                    assert_eq!(o["restore_matches"], true, "{name}: {o}");
                    changes += 1;
                }
            }
        }
        changes
    }

    /// Every table outside migsafe's schema and the runner's history, as sorted record text.
    fn contents(db: &str) -> Vec<(String, Vec<String>)> {
        let mut c = testing::cluster().connect(db).unwrap();
        let tables: Vec<String> = c
            .query(
                "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'migsafe') \
                   AND n.nspname !~ '^pg_toast' AND c.relname <> '_sqlx_migrations' AND NOT c.relispartition \
                 ORDER BY 1",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        tables
            .into_iter()
            .map(|t| {
                let rows: Vec<String> = c
                    .query(&format!("SELECT x::text FROM {t} x ORDER BY 1"), &[])
                    .unwrap()
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                (t, rows)
            })
            .collect()
    }
}

fn conflicts(json: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let mut n = 0;
    for t in v.as_array().into_iter().flatten().chain(
        v.get("targets")
            .and_then(|t| t.as_array())
            .into_iter()
            .flatten(),
    ) {
        for s in t["steps"].as_array().into_iter().flatten() {
            for o in s["restored"].as_array().into_iter().flatten() {
                n += o["conflicts"].as_u64().unwrap_or(0);
            }
        }
    }
    n
}

/// Apply, write, roll back, compare.
fn fidelity(shape: &Shape) {
    let run = Run::new(shape);
    let out = run.apply();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}: apply\n{}\n{}",
        shape.name,
        text(&out.stdout),
        text(&out.stderr)
    );
    run.drill_every_snapshot(shape.name);
    exec(&run.target, shape.writes);
    exec(&run.copy, shape.writes);
    let out = run.rollback();
    let stdout = text(&out.stdout);
    let expected_code = if shape.conflicts > 0 { 1 } else { 0 };
    assert_eq!(
        out.status.code(),
        Some(expected_code),
        "{}: rollback\n{stdout}\n{}",
        shape.name,
        text(&out.stderr)
    );
    assert_eq!(
        conflicts(&stdout),
        shape.conflicts,
        "{}: conflicts\n{stdout}",
        shape.name
    );
    let (got, want) = (Run::contents(&run.target), Run::contents(&run.copy));
    if got != want {
        let mut diff = String::new();
        for ((t, g), (_, w)) in got.iter().zip(&want) {
            if g != w {
                diff.push_str(&format!(
                    "{t}:\n  rolled back: {g:?}\n  copy:        {w:?}\n"
                ));
            }
        }
        if got.len() != want.len() {
            diff.push_str(&format!(
                "tables differ: {:?} vs {:?}",
                got.iter().map(|x| &x.0).collect::<Vec<_>>(),
                want.iter().map(|x| &x.0).collect::<Vec<_>>()
            ));
        }
        panic!(
            "{}: after rollback the target differs from its copy\n{diff}\nrollback said:\n{stdout}\n{}",
            shape.name,
            text(&out.stderr)
        );
    }
}

const PARENTS: &str = "
CREATE TABLE parent (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent ON DELETE CASCADE, note text);
CREATE TABLE grandchild (id int PRIMARY KEY, child_id int NOT NULL REFERENCES child ON DELETE CASCADE, v text);
INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 10) g;
INSERT INTO child SELECT g, (g - 1) % 10 + 1, 'c' || g FROM generate_series(1, 30) g;
INSERT INTO grandchild SELECT g, (g - 1) % 30 + 1, 'g' || g FROM generate_series(1, 60) g;
";

const NUMBERS: &str = "
CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL, other text);
INSERT INTO t SELECT g, g, 'o' || g FROM generate_series(1, 20) g;
CREATE TABLE src (id int PRIMARY KEY, x int NOT NULL);
INSERT INTO src SELECT g, g * 100 FROM generate_series(1, 25) g;
";

/// A snapshot whose files are intact (their sha256 matches a rewritten manifest) but whose
/// changes cannot be restored never passes a drill: here a forged row inserts a key the
/// statement's own rows already hold.
#[test]
fn a_snapshot_the_rollback_cannot_restore_fails_its_drill() {
    use sha2::Digest;
    let run = Run::new(&Shape {
        name: "forged",
        seed: NUMBERS,
        up: "UPDATE t SET v = v + 1 WHERE id <= 3;",
        down: "SELECT 1;",
        writes: "",
        conflicts: 0,
    });
    assert_eq!(run.apply().status.code(), Some(0));
    assert_eq!(run.drill_every_snapshot("forged"), 1);
    let manifest_path = walk(&run.dir.path().join("store"))
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n == "manifest.json"))
        .expect("a snapshot");
    let dir = manifest_path.parent().unwrap();
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    let obj = m["objects"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|o| o["kind"] == "changes")
        .unwrap();
    let file = obj["file"].as_str().unwrap().to_string();
    let columns = obj["columns"].as_array().unwrap().len();
    obj["rows"] = serde_json::json!(obj["rows"].as_u64().unwrap() + 1);
    let mut data = std::fs::read_to_string(dir.join(&file)).unwrap();
    // `seq op o_<columns> n_<columns>`: an insert of the first row's after-image.
    let first: Vec<&str> = data.lines().next().unwrap().split('\t').collect();
    data.push_str(&format!(
        "999\tI\t{}{}\n",
        "\\N\t".repeat(columns),
        first[2 + columns..].join("\t")
    ));
    std::fs::write(dir.join(&file), &data).unwrap();
    for f in m["files"].as_array_mut().unwrap() {
        if f["path"] == file.as_str() {
            f["bytes"] = serde_json::json!(data.len());
            f["sha256"] = serde_json::json!(
                sha2::Sha256::digest(data.as_bytes())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            );
        }
    }
    std::fs::write(&manifest_path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    let id = m["id"].as_str().unwrap();
    let admin = testing::cluster().url("postgres");
    let out = migsafe(
        run.dir.path(),
        &["drill", "--snapshot", id, "--database-url", &admin, "-q"],
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("FAIL public.t"), "{stdout}");
    assert!(stdout.contains("rollback does not restore it"), "{stdout}");
    assert!(
        stdout.contains("the rollback's restore failed: duplicate key value"),
        "{stdout}"
    );
}

/// The ledger keeps the sha256 of each snapshot's manifest as apply wrote it: a manifest
/// edited since (here only a note added, which still parses) is refused by rollback and its dry
/// run, naming the snapshot, and nothing changes.
#[test]
fn a_manifest_edited_after_apply_is_refused_by_rollback() {
    let run = Run::new(&Shape {
        name: "edited",
        seed: NUMBERS,
        up: "UPDATE t SET v = v + 1 WHERE id <= 3;",
        down: "SELECT 1;",
        writes: "",
        conflicts: 0,
    });
    assert_eq!(run.apply().status.code(), Some(0));
    let manifest_path = walk(&run.dir.path().join("store"))
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n == "manifest.json"))
        .expect("a snapshot");
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    m["notes"] = serde_json::json!(["nothing to see here"]);
    std::fs::write(&manifest_path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    let id = m["id"].as_str().unwrap();
    let before = Run::contents(&run.target);
    for args in [
        vec!["rollback", "--target", "t", "--to", "0", "--dry-run"],
        vec!["rollback", "--target", "t", "--to", "0"],
    ] {
        let out = migsafe(run.dir.path(), &args);
        let all = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{args:?}\n{all}");
        assert!(
            all.contains(&format!(
                "needs snapshot {id}: its manifest.json changed after apply recorded it"
            )),
            "{args:?}\n{all}"
        );
    }
    // `snapshot restore` of the same snapshot consults the target's ledger too.
    let out = migsafe(
        run.dir.path(),
        &["snapshot", "restore", id, "--target", "t"],
    );
    let all = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        all.contains("its manifest.json changed after apply recorded it"),
        "{all}"
    );
    assert_eq!(Run::contents(&run.target), before, "nothing may change");
}

/// `rollback --dry-run` checks the snapshots it would restore as `snapshot verify` does: a
/// data file altered in place (same size, other bytes) is named before anything would run.
#[test]
fn a_dry_run_hashes_the_snapshots_it_would_restore() {
    let run = Run::new(&Shape {
        name: "corrupt",
        seed: NUMBERS,
        up: "UPDATE t SET v = v + 1 WHERE id <= 3;",
        down: "SELECT 1;",
        writes: "",
        conflicts: 0,
    });
    assert_eq!(run.apply().status.code(), Some(0));
    let data = walk(&run.dir.path().join("store"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "copy"))
        .expect("a data file");
    let mut bytes = std::fs::read(&data).unwrap();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'9' { b'8' } else { b'9' };
    std::fs::write(&data, &bytes).unwrap();
    let out = migsafe(
        run.dir.path(),
        &["rollback", "--target", "t", "--to", "0", "--dry-run"],
    );
    let all = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("does not match the manifest"), "{all}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A backfill of a column the migration adds is reversible (lint, issue 18): nothing that
/// existed before is overwritten, apply records nothing, and the down's DROP COLUMN gives every
/// table back as it was, users' writes since included.
#[test]
fn a_backfill_of_a_new_column_is_undone_by_its_down() {
    fidelity(&Shape {
        name: "backfill",
        seed: NUMBERS,
        up: "ALTER TABLE t ADD COLUMN w int;\nUPDATE t SET w = v * 2 WHERE id < 10;\nUPDATE t SET w = 0 WHERE w IS NULL;",
        down: "ALTER TABLE t DROP COLUMN w;",
        writes: "INSERT INTO t (id, v, other) VALUES (100, 1, 'new'); UPDATE t SET other = 'edited' WHERE id = 3;",
        conflicts: 0,
    });
}

/// `CREATE TABLE … AS` whose query deletes rows: lint calls it irreversible (issue 18), apply
/// records the deleted rows, and rollback brings them back after the down drops the archive.
#[test]
fn create_table_as_with_a_deleting_query() {
    fidelity(&Shape {
        name: "ctas delete",
        seed: NUMBERS,
        up: "CREATE TABLE archive AS WITH d AS (DELETE FROM t WHERE id <= 5 RETURNING *) SELECT * FROM d;",
        down: "DROP TABLE archive;",
        writes: "INSERT INTO t (id, v, other) VALUES (100, 1, 'new');",
        conflicts: 0,
    });
}

#[test]
fn cascade_delete_two_levels_deep() {
    fidelity(&Shape {
        name: "cascade",
        seed: PARENTS,
        up: "DELETE FROM parent WHERE id <= 3;",
        down: "SELECT 1;",
        writes: "INSERT INTO parent VALUES (100, 'new'); UPDATE child SET note = 'edited' WHERE id = 20; \
                 DELETE FROM grandchild WHERE id = 60; INSERT INTO child VALUES (100, 100, 'new');",
        conflicts: 0,
    });
}

#[test]
fn on_delete_set_null() {
    fidelity(&Shape {
        name: "set null",
        seed: "
CREATE TABLE parent (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent ON DELETE SET NULL, note text);
INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 10) g;
INSERT INTO child SELECT g, (g - 1) % 10 + 1, 'c' || g FROM generate_series(1, 30) g;",
        up: "DELETE FROM parent WHERE id IN (1, 2);",
        down: "SELECT 1;",
        // Child 1 lost its parent to SET NULL; its note is edited since: both survive.
        writes: "UPDATE child SET note = 'edited' WHERE id = 1;",
        conflicts: 0,
    });
}

#[test]
fn on_update_cascade_of_a_key() {
    fidelity(&Shape {
        name: "update cascade",
        seed: "
CREATE TABLE parent (code text PRIMARY KEY, name text);
CREATE TABLE child (id int PRIMARY KEY, parent_code text REFERENCES parent ON UPDATE CASCADE, note text);
INSERT INTO parent SELECT 'k' || g, 'p' || g FROM generate_series(1, 5) g;
INSERT INTO child SELECT g, 'k' || ((g - 1) % 5 + 1), 'c' || g FROM generate_series(1, 10) g;",
        up: "UPDATE parent SET code = code || '_v2' WHERE code IN ('k1', 'k2');",
        down: "SELECT 1;",
        writes: "UPDATE child SET note = 'edited' WHERE id = 1; INSERT INTO parent VALUES ('k9', 'new');",
        conflicts: 0,
    });
}

#[test]
fn two_and_three_statements_on_one_column() {
    fidelity(&Shape {
        name: "two updates",
        seed: NUMBERS,
        up: "UPDATE t SET v = v * 2; UPDATE t SET v = v + 1 WHERE id % 2 = 0;",
        down: "SELECT 1;",
        writes: "UPDATE t SET other = 'edited' WHERE id = 4; DELETE FROM t WHERE id = 20; INSERT INTO t VALUES (100, 1, 'new');",
        conflicts: 0,
    });
    fidelity(&Shape {
        name: "update, delete, update",
        seed: NUMBERS,
        up: "UPDATE t SET v = -v WHERE id <= 10; DELETE FROM t WHERE id IN (1, 2, 15); UPDATE t SET v = 0, other = 'zero' WHERE id BETWEEN 3 AND 12;",
        down: "SELECT 1;",
        writes: "UPDATE t SET other = 'edited' WHERE id = 16;",
        conflicts: 0,
    });
}

#[test]
fn writes_before_and_after_the_step_changes_the_table() {
    // The capture's cached plans must follow the table's new shape.
    fidelity(&Shape {
        name: "update, add column, backfill, update",
        seed: NUMBERS,
        up: "UPDATE t SET v = v + 1 WHERE id <= 3;
             ALTER TABLE t ADD COLUMN doubled int;
             UPDATE t SET doubled = v * 2;
             UPDATE t SET other = 'changed', doubled = 0 WHERE id = 4;
             ALTER TABLE t DROP COLUMN doubled;
             DELETE FROM t WHERE id = 5;",
        down: "SELECT 1;",
        writes: "UPDATE t SET other = 'edited' WHERE id = 6;",
        conflicts: 0,
    });
}

#[test]
fn an_insert_rolled_back_in_an_exception_block_is_no_loss() {
    // PostgreSQL counts the failed insert; nothing was destroyed, so the step goes on.
    fidelity(&Shape {
        name: "idempotent seed",
        seed: NUMBERS,
        up: "DO $$ BEGIN INSERT INTO t VALUES (1, 1, 'dup'); EXCEPTION WHEN unique_violation THEN NULL; END $$;
             UPDATE t SET v = 0 WHERE id = 2;",
        down: "SELECT 1;",
        writes: "",
        conflicts: 0,
    });
    // An update rolled back the same way is refused, and the message says why it may be.
    let run = Run::new(&Shape {
        name: "rolled back update",
        seed: NUMBERS,
        up: "DO $$ BEGIN UPDATE t SET v = -1 WHERE id = 3; RAISE EXCEPTION 'no'; EXCEPTION WHEN raise_exception THEN NULL; END $$;",
        down: "SELECT 1;",
        writes: "",
        conflicts: 0,
    });
    let out = run.apply();
    let err = text(&out.stderr) + &text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("EXCEPTION branch"), "{err}");
    assert_eq!(Run::contents(&run.target), Run::contents(&run.copy));
}

#[test]
fn a_value_changed_since_is_a_conflict_and_stays() {
    fidelity(&Shape {
        name: "conflict",
        seed: NUMBERS,
        up: "UPDATE t SET v = v * 10 WHERE id <= 5;",
        down: "SELECT 1;",
        // Row 1's value is changed again after the release: kept, reported once.
        writes: "UPDATE t SET v = 12345 WHERE id = 1; UPDATE t SET other = 'edited' WHERE id = 2;",
        conflicts: 1,
    });
}

#[test]
fn update_from_delete_using_and_ctes() {
    fidelity(&Shape {
        name: "update from",
        seed: NUMBERS,
        up: "UPDATE t SET v = s.x FROM src s WHERE s.id = t.id AND s.x > 500;",
        down: "SELECT 1;",
        writes: "",
        conflicts: 0,
    });
    fidelity(&Shape {
        name: "delete using",
        seed: NUMBERS,
        up: "DELETE FROM t USING src s WHERE s.id = t.id AND s.x BETWEEN 300 AND 900;",
        down: "SELECT 1;",
        writes: "INSERT INTO t VALUES (200, 2, 'new');",
        conflicts: 0,
    });
    fidelity(&Shape {
        name: "delete and insert one key in one statement",
        seed: NUMBERS,
        up: "WITH d AS (DELETE FROM t WHERE id <= 3 RETURNING id, v, other) \
             INSERT INTO t SELECT id, v + 1000, other || '!' FROM d;",
        down: "SELECT 1;",
        writes: "",
        conflicts: 0,
    });
    fidelity(&Shape {
        name: "cte",
        seed: NUMBERS,
        up: "WITH d AS (DELETE FROM src WHERE id <= 4 RETURNING id, x) UPDATE t SET v = d.x FROM d WHERE d.id = t.id;",
        down: "SELECT 1;",
        writes: "",
        conflicts: 0,
    });
}

#[test]
fn merge_and_upsert() {
    fidelity(&Shape {
        name: "merge",
        seed: NUMBERS,
        up: "MERGE INTO t USING src s ON s.id = t.id \
             WHEN MATCHED AND s.id <= 3 THEN DELETE \
             WHEN MATCHED AND s.id <= 8 THEN UPDATE SET v = s.x \
             WHEN NOT MATCHED THEN INSERT (id, v, other) VALUES (s.id, s.x, 'merged');",
        down: "SELECT 1;",
        writes: "UPDATE t SET other = 'edited' WHERE id = 5;",
        conflicts: 0,
    });
    fidelity(&Shape {
        name: "upsert",
        seed: NUMBERS,
        up: "INSERT INTO t (id, v, other) SELECT id, x, 'upserted' FROM src WHERE id BETWEEN 15 AND 24 \
             ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v;",
        down: "SELECT 1;",
        writes: "",
        conflicts: 0,
    });
}

#[test]
fn volatile_expressions_are_restored() {
    fidelity(&Shape {
        name: "volatile",
        seed: "CREATE TABLE token (id int PRIMARY KEY, secret text NOT NULL, at timestamptz);
               INSERT INTO token SELECT g, 's' || g, '2024-01-01' FROM generate_series(1, 100) g;",
        up: "UPDATE token SET secret = md5(random()::text), at = clock_timestamp();",
        down: "SELECT 1;",
        writes: "",
        conflicts: 0,
    });
}

#[test]
fn trigger_side_effects_are_undone() {
    fidelity(&Shape {
        name: "audit trigger",
        seed: "
CREATE TABLE accounts (id int PRIMARY KEY, status text NOT NULL);
CREATE TABLE audit (id bigserial PRIMARY KEY, account int, was text);
CREATE TABLE counters (name text PRIMARY KEY, n int NOT NULL);
INSERT INTO counters VALUES ('status_changes', 7);
INSERT INTO accounts SELECT g, 'active' FROM generate_series(1, 10) g;
CREATE FUNCTION note_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO audit (account, was) VALUES (OLD.id, OLD.status);
  UPDATE counters SET n = n + 1 WHERE name = 'status_changes';
  RETURN NEW;
END $$;
CREATE TRIGGER note_change AFTER UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION note_change();",
        up: "UPDATE accounts SET status = 'closed' WHERE id <= 4;",
        down: "SELECT 1;",
        writes: "",
        conflicts: 0,
    });
}

#[test]
fn partitioned_tables_and_moved_rows() {
    fidelity(&Shape {
        name: "partitions",
        seed: "
CREATE TABLE p (id int, at int, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (100);
CREATE TABLE p2 PARTITION OF p FOR VALUES FROM (100) TO (1000);
INSERT INTO p SELECT g, g, 'v' || g FROM generate_series(1, 20) g;",
        up: "UPDATE p SET at = at + 200 WHERE id <= 3; UPDATE p SET v = 'x' WHERE id = 5; DELETE FROM p WHERE id = 6;",
        down: "SELECT 1;",
        writes: "UPDATE p SET v = 'edited' WHERE id = 10; INSERT INTO p VALUES (50, 50, 'new');",
        conflicts: 0,
    });
}

#[test]
fn composite_and_unique_keys() {
    fidelity(&Shape {
        name: "composite key",
        seed: "CREATE TABLE m (a int, b text, v int, PRIMARY KEY (a, b));
               INSERT INTO m SELECT g % 4, 'b' || g, g FROM generate_series(1, 20) g;",
        up: "UPDATE m SET v = 0 WHERE a = 1; DELETE FROM m WHERE a = 2;",
        down: "SELECT 1;",
        writes: "UPDATE m SET v = 5 WHERE a = 3 AND b = 'b3';",
        conflicts: 0,
    });
    fidelity(&Shape {
        name: "unique key, no primary key",
        seed: "CREATE TABLE u (code text NOT NULL UNIQUE, v int, note text);
               INSERT INTO u SELECT 'c' || g, g, 'n' FROM generate_series(1, 10) g;",
        up: "UPDATE u SET v = v + 100; DELETE FROM u WHERE code = 'c3';",
        down: "SELECT 1;",
        writes: "UPDATE u SET note = 'edited' WHERE code = 'c1';",
        conflicts: 0,
    });
}

#[test]
fn every_column_type_comes_back() {
    fidelity(&Shape {
        name: "types",
        seed: r#"
CREATE TYPE pair AS (a int, b text);
CREATE DOMAIN positive AS int CHECK (VALUE > 0);
CREATE TABLE v (
  id int PRIMARY KEY,
  j json, jb jsonb, x xml, pt point, arr int[], r int4range, c pair, d positive,
  b bytea, f float8, n numeric, ts timestamptz, t text,
  ident int GENERATED ALWAYS AS IDENTITY,
  gen int GENERATED ALWAYS AS (id * 2) STORED
);
INSERT INTO v (id, j, jb, x, pt, arr, r, c, d, b, f, n, ts, t)
SELECT g, '{"a": 1, "a": 2}', '{"k": [1, 2]}', '<e a="1">x</e>', point(g, -g), ARRAY[g, NULL],
       int4range(g, g + 5), ROW(g, 'p')::pair, g, '\x00ff'::bytea,
       CASE g % 4 WHEN 0 THEN 'NaN'::float8 WHEN 1 THEN 'Infinity' WHEN 2 THEN '-Infinity' ELSE -0.0 END,
       CASE WHEN g % 2 = 0 THEN 'NaN'::numeric ELSE 1.50 END,
       '2024-02-29 12:00:00.123456+00', E'tab\there\nnewline \\ back'
FROM generate_series(1, 8) g;"#,
        up: "UPDATE v SET j = '{}', jb = '{}', x = '<y/>', pt = point(0, 0), arr = '{}', r = 'empty', \
             c = ROW(0, 'z'), d = 99, b = '\\x', f = 1, n = 2, ts = now(), t = 'gone' WHERE id <= 4; \
             DELETE FROM v WHERE id > 6;",
        down: "SELECT 1;",
        writes: "",
        conflicts: 0,
    });
}

#[test]
fn truncate_and_drop_cascade() {
    fidelity(&Shape {
        name: "truncate cascade",
        seed: PARENTS,
        up: "TRUNCATE parent CASCADE;",
        down: "SELECT 1;",
        writes: "INSERT INTO parent VALUES (100, 'new');",
        conflicts: 0,
    });
    fidelity(&Shape {
        name: "drop table cascade",
        seed: PARENTS,
        up: "DROP TABLE parent CASCADE;",
        down: "CREATE TABLE parent (id int PRIMARY KEY, name text NOT NULL);",
        writes: "UPDATE child SET note = 'edited' WHERE id = 5;",
        conflicts: 0,
    });
}

#[test]
fn quoted_identifiers() {
    fidelity(&Shape {
        name: "identifiers",
        seed: r#"
CREATE SCHEMA "Ünï Côdé";
CREATE TABLE "Ünï Côdé"."Order ""Items""" ("Id" int PRIMARY KEY, "qty; DROP" int, "MiXeD" text);
INSERT INTO "Ünï Côdé"."Order ""Items""" SELECT g, g, 'm' || g FROM generate_series(1, 10) g;"#,
        up: r#"UPDATE "Ünï Côdé"."Order ""Items""" SET "qty; DROP" = 0 WHERE "Id" <= 3; DELETE FROM "Ünï Côdé"."Order ""Items""" WHERE "Id" = 9;"#,
        down: "SELECT 1;",
        writes: r#"UPDATE "Ünï Côdé"."Order ""Items""" SET "MiXeD" = 'edited' WHERE "Id" = 1;"#,
        conflicts: 0,
    });
}

/// How an evasion must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ends {
    /// apply refuses it: exit 1, the target unchanged.
    Refused,
    /// apply records it, and rollback gives every row back.
    Restored,
}

fn evasion(shape: &Shape, ends: Ends) {
    let run = Run::new(shape);
    let before = Run::contents(&run.target);
    let out = run.apply();
    let code = match ends {
        Ends::Refused => 1,
        Ends::Restored => 0,
    };
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}: apply\n{}\n{}",
        shape.name,
        text(&out.stdout),
        text(&out.stderr)
    );
    match out.status.code() {
        Some(1) => {
            let err = text(&out.stderr) + &text(&out.stdout);
            assert!(
                err.contains("lint did not predict this"),
                "{}: refused without naming it\n{err}",
                shape.name
            );
            assert_eq!(
                Run::contents(&run.target),
                before,
                "{}: refused, yet the target changed",
                shape.name
            );
        }
        Some(0) => {
            let out = run.rollback();
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}: rollback\n{}\n{}",
                shape.name,
                text(&out.stdout),
                text(&out.stderr)
            );
            assert_eq!(
                Run::contents(&run.target),
                Run::contents(&run.copy),
                "{}: rolled back, yet rows are missing",
                shape.name
            );
        }
        _ => panic!(
            "{}: apply\n{}\n{}",
            shape.name,
            text(&out.stdout),
            text(&out.stderr)
        ),
    }
}

const ACCOUNTS: &str = "CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO accounts SELECT g, 'a' || g FROM generate_series(1, 10) g;";

#[test]
fn a_cascade_from_a_new_table_is_recorded() {
    evasion(
        &Shape {
            name: "cascade from a new table",
            seed: ACCOUNTS,
            up: "CREATE TABLE holder (id int PRIMARY KEY); INSERT INTO holder VALUES (1), (2);
             ALTER TABLE accounts ADD COLUMN holder_id int REFERENCES holder ON DELETE CASCADE;
             UPDATE accounts SET holder_id = 1 WHERE id <= 4;
             DELETE FROM holder WHERE id = 1;",
            down: "ALTER TABLE accounts DROP COLUMN holder_id; DROP TABLE holder;",
            writes: "",
            conflicts: 0,
        },
        Ends::Restored,
    );
}

#[test]
fn writes_hidden_in_functions_and_triggers_are_recorded() {
    let purge = "CREATE FUNCTION purge() RETURNS int LANGUAGE plpgsql AS $$
BEGIN DELETE FROM accounts WHERE id > 7; RETURN 1; END $$;";
    let purge_trigger = "CREATE FUNCTION purge_t() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN DELETE FROM accounts WHERE id > 7; RETURN NEW; END $$;";
    for (name, up, down) in [
        (
            "trigger",
            format!(
                "{purge_trigger} CREATE TABLE log (id int PRIMARY KEY);
                 CREATE TRIGGER purge AFTER INSERT ON log FOR EACH ROW EXECUTE FUNCTION purge_t();
                 INSERT INTO log VALUES (1);"
            ),
            "DROP TABLE log; DROP FUNCTION purge_t();",
        ),
        (
            "insert select",
            format!(
                "{purge} CREATE TABLE log (id int PRIMARY KEY); INSERT INTO log SELECT purge();"
            ),
            "DROP TABLE log; DROP FUNCTION purge();",
        ),
        (
            "default",
            format!(
                "{purge} CREATE TABLE log (id int PRIMARY KEY, d int DEFAULT purge()); INSERT INTO log (id) VALUES (1);"
            ),
            "DROP TABLE log; DROP FUNCTION purge();",
        ),
        (
            "check",
            format!(
                "{purge} CREATE TABLE log (id int PRIMARY KEY CHECK (purge() = 1)); INSERT INTO log VALUES (1);"
            ),
            "DROP TABLE log; DROP FUNCTION purge();",
        ),
        (
            "materialized view",
            format!("{purge} CREATE MATERIALIZED VIEW mv AS SELECT purge() AS p;"),
            "DROP MATERIALIZED VIEW mv; DROP FUNCTION purge();",
        ),
    ] {
        let up: &'static str = Box::leak(up.into_boxed_str());
        evasion(
            &Shape {
                name: Box::leak(name.to_string().into_boxed_str()),
                seed: ACCOUNTS,
                up,
                down,
                writes: "",
                conflicts: 0,
            },
            Ends::Restored,
        );
    }
}

#[test]
fn tables_dropped_or_emptied_unseen_are_refused() {
    let seed = "CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO accounts SELECT g, 'a' || g FROM generate_series(1, 10) g;
CREATE TABLE docs_old (id int PRIMARY KEY, body json);
INSERT INTO docs_old VALUES (1, '{\"a\": 1, \"a\": 2}'), (2, '{\"n\": 1.50}');";
    for (name, up, down, ends) in [
        (
            "inherit then drop the parent",
            "CREATE TABLE newp (id int); ALTER TABLE accounts INHERIT newp; DROP TABLE newp CASCADE;",
            "SELECT 1;",
            Ends::Refused,
        ),
        (
            "attach as a partition then drop the parent",
            "CREATE TABLE np (id int NOT NULL, name text NOT NULL) PARTITION BY RANGE (id);
             ALTER TABLE np ATTACH PARTITION accounts FOR VALUES FROM (0) TO (1000); DROP TABLE np;",
            "SELECT 1;",
            Ends::Refused,
        ),
        (
            "truncate inside a DO block",
            "DO $$ BEGIN TRUNCATE accounts; END $$;",
            "SELECT 1;",
            Ends::Refused,
        ),
        // json → jsonb loses duplicate keys and number formatting: captured, and restored.
        (
            "json to jsonb",
            "ALTER TABLE docs_old ALTER COLUMN body TYPE jsonb USING body::jsonb;",
            "ALTER TABLE docs_old ALTER COLUMN body TYPE json USING body::json;",
            Ends::Restored,
        ),
        (
            "json to jsonb without USING",
            "ALTER TABLE docs_old ALTER COLUMN body TYPE jsonb;",
            "ALTER TABLE docs_old ALTER COLUMN body TYPE json;",
            Ends::Restored,
        ),
    ] {
        evasion(
            &Shape {
                name,
                seed,
                up,
                down,
                writes: "",
                conflicts: 0,
            },
            ends,
        );
    }
}

#[test]
fn a_row_changed_twice_out_of_order_is_refused() {
    // The trigger's own UPDATE of the row records its change before the outer one's.
    evasion(
        &Shape {
            name: "after trigger updating its own row",
            seed: "CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL, touched int NOT NULL DEFAULT 0);
INSERT INTO t SELECT g, g, 0 FROM generate_series(1, 5) g;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.touched = 0 THEN UPDATE t SET touched = 1 WHERE id = NEW.id; END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER touch AFTER UPDATE ON t FOR EACH ROW EXECUTE FUNCTION touch();",
            up: "UPDATE t SET v = v * 10 WHERE id <= 2;",
            down: "SELECT 1;",
            writes: "",
            conflicts: 0,
        },
        Ends::Refused,
    );
}

#[test]
fn a_disabled_capture_trigger_does_not_hide_a_delete() {
    evasion(
        &Shape {
            name: "disabled trigger",
            seed: ACCOUNTS,
            up: "UPDATE accounts SET name = 'x' WHERE id = 1;
             ALTER TABLE accounts DISABLE TRIGGER USER;
             DELETE FROM accounts WHERE id > 5;",
            down: "SELECT 1;",
            writes: "",
            conflicts: 0,
        },
        Ends::Restored,
    );
}

#[test]
fn accept_loss_names_the_table_and_is_recorded() {
    let run = Run::new(&Shape {
        name: "accept loss",
        seed: ACCOUNTS,
        up: "DO $$ BEGIN TRUNCATE accounts; END $$;",
        down: "SELECT 1;",
        writes: "",
        conflicts: 0,
    });
    // --accept-risk alone does not let unrecorded destruction through.
    let out = run.apply();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    // Accepting a loss in another table does not either.
    let out = migsafe(
        run.dir.path(),
        &[
            "apply",
            "--target",
            "t",
            "--accept-loss",
            "public.other",
            "not this one",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(Run::contents(&run.target), Run::contents(&run.copy));
    // An empty reason is a usage error.
    let out = migsafe(
        run.dir.path(),
        &["apply", "--target", "t", "--accept-loss", "accounts", " "],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("needs a table and a reason"));
    let out = migsafe(
        run.dir.path(),
        &[
            "apply",
            "--target",
            "t",
            "--accept-risk",
            "gates",
            "--accept-loss",
            "accounts",
            "INC-1: test data, truncated on purpose",
        ],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("truncated or rewrote table public.accounts")
            && err.contains("accepted: accounts: INC-1: test data, truncated on purpose"),
        "{err}"
    );
    let detail: String = testing::cluster()
        .connect(&run.target)
        .unwrap()
        .query_one(
            "SELECT detail::text FROM migsafe.events WHERE kind = 'apply' ORDER BY id DESC LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(detail.contains("INC-1: test data"), "{detail}");
}

#[test]
fn deferred_triggers_are_observed_before_commit() {
    evasion(
        &Shape {
            name: "deferred constraint trigger",
            seed: ACCOUNTS,
            up: "CREATE TABLE marker (id int PRIMARY KEY);
CREATE FUNCTION wipe() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM accounts WHERE id > 6; RETURN NULL; END $$;
CREATE CONSTRAINT TRIGGER wipe AFTER INSERT ON marker DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION wipe();
INSERT INTO marker VALUES (1);",
            down: "DROP TABLE marker; DROP FUNCTION wipe();",
            writes: "",
            conflicts: 0,
        },
        Ends::Restored,
    );
}

#[test]
fn tampering_with_the_capture_is_refused() {
    for (name, up) in [
        (
            "rewritten images",
            "DO $$ BEGIN DELETE FROM accounts WHERE id > 5; \
             UPDATE pg_temp.migsafe_captured SET img = replace(img, 'a', 'x'); END $$;",
        ),
        (
            "emptied image table",
            "DO $$ BEGIN DELETE FROM accounts WHERE id > 5; TRUNCATE pg_temp.migsafe_captured; END $$;",
        ),
        (
            "replaced capture function",
            "CREATE OR REPLACE FUNCTION migsafe.capture_statement() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
             DELETE FROM accounts WHERE id > 5;",
        ),
    ] {
        evasion(
            &Shape {
                name,
                seed: ACCOUNTS,
                up,
                down: "SELECT 1;",
                writes: "",
                conflicts: 0,
            },
            Ends::Refused,
        );
    }
}

#[test]
fn awkward_column_names_and_partitioned_ddl() {
    fidelity(&Shape {
        name: "column names that collide with the capture's",
        seed: r#"
CREATE TABLE audit (id int PRIMARY KEY, tg_op text, tg_relid oid, rel int, op text, half int, img text, migsafe_old text,
  "a_long_column_name_that_runs_on_and_on_and_on_until_it_ends__1" int,
  "a_long_column_name_that_runs_on_and_on_and_on_until_it_ends__2" int);
INSERT INTO audit SELECT g, 'x', 1, g, 'o', g, 'i', 'm', g, -g FROM generate_series(1, 6) g;"#,
        up: r#"UPDATE audit SET tg_op = 'y', "a_long_column_name_that_runs_on_and_on_and_on_until_it_ends__2" = 0 WHERE id <= 3;
               INSERT INTO audit (id, tg_op) VALUES (7, 'new'); DELETE FROM audit WHERE id = 6;"#,
        down: "SELECT 1;",
        writes: "",
        conflicts: 0,
    });
    fidelity(&Shape {
        name: "truncate and drop of a partitioned table",
        seed: "
CREATE TABLE p (id int, at int, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (100);
CREATE TABLE p2 PARTITION OF p FOR VALUES FROM (100) TO (1000);
INSERT INTO p SELECT g, g * 10, 'v' || g FROM generate_series(1, 20) g;",
        up: "DELETE FROM p WHERE id = 1; TRUNCATE p;",
        down: "SELECT 1;",
        writes: "",
        conflicts: 0,
    });
}

#[test]
fn a_table_that_becomes_an_inheritance_parent_is_captured_once() {
    // Release 1 writes `accounts` (statement-level capture); release 2 gives it a child and
    // writes it again (row-level capture from then on): each row recorded once.
    let run = Run::new(&Shape {
        name: "becomes a parent",
        seed: ACCOUNTS,
        up: "UPDATE accounts SET name = name || '!' WHERE id = 1;",
        down: "SELECT 1;",
        writes: "",
        conflicts: 0,
    });
    let out = run.apply();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let m = run.dir.path().join("migrations");
    std::fs::write(
        m.join("20260102000000_child.up.sql"),
        "CREATE TABLE vip () INHERITS (accounts); UPDATE accounts SET name = 'renamed' WHERE id <= 3; DELETE FROM accounts WHERE id = 9;",
    )
    .unwrap();
    std::fs::write(m.join("20260102000000_child.down.sql"), "DROP TABLE vip;").unwrap();
    let out = run.apply();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = run.rollback();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(Run::contents(&run.target), Run::contents(&run.copy));
}
