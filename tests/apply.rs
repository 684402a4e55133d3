//! `migsafe apply`, `rollback` and `finalise` as a release tool and a DBA run them, against this
//! test process's scratch cluster. Each test copies migrations-examples/release-20h (sqlx) into
//! its own project with a migsafe.toml naming its targets (fresh databases) and a snapshot
//! store, and runs the binary there.
//!
//! The first test is the story the tool exists for (DESIGN.md): two irreversible migrations
//! reach the alpha wave; a bug is found a day later; one account rolls back and keeps its day
//! of data.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use insta_cmd::{assert_cmd_snapshot, get_cargo_bin};
use migsafe::pg::fingerprint::{Exclude, fingerprint};
use migsafe::pg::testing;

/// The version before the release's two irreversible migrations.
const PREVIOUS: &str = "20240930110000";
const DROP_PLAN: &str = "20241014090000";

/// Snapshot of a command's output with run-specific parts masked.
macro_rules! snap {
    ($name:expr, $cmd:expr) => {
        insta::with_settings!({filters => vec![
            (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
            (r"apply_\d+_\d+", "[DB]"),
            (r"\d{8}T\d{6}Z-[0-9a-f]+", "[SNAPSHOT]"),
            (r"in \d+ ms", "in [N] ms"),
            (r#""execution_ms": \d+"#, r#""execution_ms": [N]"#),
            (r#""ledger_step": \d+"#, r#""ledger_step": [N]"#),
            (r"about \d+\.\d s", "about [N] s"),
        ]}, {
            assert_cmd_snapshot!($name, $cmd)
        })
    };
}

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// A project with `targets` as (name, wave) — each a fresh database — plus `extra` TOML.
    fn new(targets: &[(&str, &str)], extra: &str) -> (Project, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations-examples/release-20h/migrations");
        let dst = dir.path().join("migrations");
        std::fs::create_dir(&dst).unwrap();
        for e in std::fs::read_dir(src).unwrap().flatten() {
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
        let mut waves: Vec<&str> = vec![];
        for (_, w) in targets {
            if !waves.contains(w) {
                waves.push(w);
            }
        }
        let mut toml = format!(
            "runner = \"sqlx\"\nmigrations_dir = \"migrations\"\nwaves = [{}]\n{extra}\n[snapshots]\nstore = \"store\"\n",
            waves
                .iter()
                .map(|w| format!("\"{w}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut dbs = vec![];
        for (name, wave) in targets {
            let (db, _) = testing::fresh_database("apply");
            toml.push_str(&format!(
                "\n[[targets]]\nname = \"{name}\"\nurl = \"{}\"\nwave = \"{wave}\"\n",
                testing::cluster().url(&db)
            ));
            dbs.push(db);
        }
        std::fs::write(dir.path().join("migsafe.toml"), toml).unwrap();
        (Project { dir }, dbs)
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(get_cargo_bin("migsafe"));
        c.current_dir(self.path())
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("MIGSAFE_CONFIG")
            .env_remove("MIGSAFE_DATABASE_URL")
            .env_remove("MIGSAFE_SNAPSHOT_STORE")
            .env_remove("MIGSAFE_FORMAT")
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn add_migration(&self, version_name: &str, up: &str, down: &str) {
        let m = self.path().join("migrations");
        std::fs::write(m.join(format!("{version_name}.up.sql")), up).unwrap();
        std::fs::write(m.join(format!("{version_name}.down.sql")), down).unwrap();
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts the exit code, showing both streams when it differs.
#[track_caller]
fn expect(out: &Output, code: i32) -> (String, String) {
    let (o, e) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit code\n--- stdout\n{o}\n--- stderr\n{e}"
    );
    (o, e)
}

fn connect(db: &str) -> postgres::Client {
    testing::cluster().connect(db).unwrap()
}

fn applied(db: &str) -> Vec<i64> {
    let mut c = connect(db);
    let exists: bool = c
        .query_one("SELECT to_regclass('_sqlx_migrations') IS NOT NULL", &[])
        .unwrap()
        .get(0);
    if !exists {
        return vec![];
    }
    c.query(
        "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// The schema as verify compares it, without migsafe's ledger and sqlx's history.
fn schema(db: &str) -> String {
    fingerprint(&mut connect(db), &exclude()).unwrap().text
}

/// The same, but blind to the order of columns.
fn schema_unordered(db: &str) -> String {
    fingerprint(&mut connect(db), &exclude())
        .unwrap()
        .without_column_order()
        .text
}

fn exclude() -> Exclude {
    Exclude {
        objects: vec!["migsafe.*".into(), "_sqlx_migrations".into()],
    }
}

fn seed(db: &str) {
    connect(db)
        .batch_execute(
            "INSERT INTO accounts (name, plan, legacy_plan)
             SELECT 'acct ' || i, 'pro', CASE WHEN i % 3 = 0 THEN NULL ELSE 'P' || (i % 7) END
             FROM generate_series(1, 300) i;
             INSERT INTO invoices (account_id, amount_cents, currency)
             SELECT 1 + i % 300, i * 10,
                    CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN 'DEM' WHEN 2 THEN 'USD' ELSE 'EUR' END
             FROM generate_series(1, 1000) i;",
        )
        .unwrap();
}

fn rows(db: &str, sql: &str) -> Vec<String> {
    connect(db)
        .query(sql, &[])
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect()
}

const ACCOUNTS: &str = "SELECT id || ':' || name || ':' || plan || ':' || coalesce(legacy_plan, '-') FROM accounts ORDER BY id";
const INVOICES: &str = "SELECT id || ':' || account_id || ':' || amount_cents || ':' || coalesce(currency, '-') FROM invoices ORDER BY id";

#[test]
fn the_release_20h_story() {
    let (p, dbs) = Project::new(
        &[
            ("internal-1", "internal"),
            ("alpha-1", "alpha"),
            ("alpha-2", "alpha"),
            ("beta-1", "beta"),
        ],
        "",
    );
    // The previous release everywhere: reversible migrations need no receipt.
    for t in ["internal-1", "alpha-1", "alpha-2", "beta-1"] {
        expect(&p.run(&["apply", "--target", t, "--to", PREVIOUS]), 0);
    }
    for db in &dbs {
        assert_eq!(applied(db).len(), 4);
        seed(db);
    }
    let (alpha1, alpha2, beta1) = (&dbs[1], &dbs[2], &dbs[3]);
    let before_schema = schema(alpha1);
    let before_accounts = rows(alpha1, ACCOUNTS);
    let before_invoices = rows(alpha1, INVOICES);
    assert!(before_accounts.iter().any(|r| r.ends_with(":P1")));

    // Without receipts the irreversible migrations are blocked, and apply refuses them.
    let (out, _) = expect(&p.run(&["plan", "--wave", "alpha"]), 1);
    assert!(out.contains("blocked"), "{out}");
    let (out, _) = expect(&p.run(&["apply", "--wave", "alpha"]), 1);
    assert!(out.contains("BLOCKED"), "{out}");
    assert!(out.contains("skipped"), "alpha-2 is not started: {out}");
    assert!(out.contains("migsafe verify"), "the fix is named: {out}");
    assert_eq!(applied(alpha1).len(), 4, "nothing applied");

    // verify proves the down-paths; then the wave may leak.
    let admin = testing::cluster().url("postgres");
    expect(
        &p.run(&["verify", "migrations", "--database-url", &admin]),
        0,
    );
    expect(&p.run(&["plan", "--wave", "alpha"]), 0);
    let (out, _) = expect(&p.run(&["apply", "--wave", "alpha", "--parallel", "2"]), 0);
    assert!(out.contains("alpha-1: applied 2 migrations"), "{out}");
    assert!(out.contains("alpha-2: applied 2 migrations"), "{out}");
    assert_eq!(applied(alpha1).len(), 6);
    assert_eq!(applied(alpha2).len(), 6);
    assert_eq!(applied(beta1).len(), 4, "beta is a later wave");
    let (list, _) = expect(&p.run(&["snapshot", "list", "--target", "alpha-1"]), 0);
    assert!(list.contains(DROP_PLAN), "snapshots are listed: {list}");
    let alpha2_after = (schema(alpha2), rows(alpha2, INVOICES));

    // A day of use on alpha-1: new rows, edits of columns the release left alone, deletes.
    connect(alpha1)
        .batch_execute(
            "INSERT INTO accounts (name, plan) VALUES ('new 1', 'pro'), ('new 2', 'starter');
             INSERT INTO invoices (account_id, amount_cents, currency)
                 SELECT id, 4201, 'EUR' FROM accounts WHERE name LIKE 'new %';
             UPDATE accounts SET name = name || ' (renamed)' WHERE id IN (1, 2, 4);
             UPDATE invoices SET amount_cents = amount_cents + 1 WHERE id IN (1, 2, 3, 5);
             DELETE FROM invoices WHERE id IN (8, 9);",
        )
        .unwrap();
    let day_accounts = rows(alpha1, "SELECT id || ':' || name FROM accounts ORDER BY id");

    // The bug: roll alpha-1 back to the previous release.
    let (plan, _) = expect(
        &p.run(&[
            "rollback",
            "--target",
            "alpha-1",
            "--to",
            PREVIOUS,
            "--dry-run",
        ]),
        0,
    );
    assert!(plan.contains("would roll back 2 migrations"), "{plan}");
    assert!(plan.contains("restore snapshot"), "{plan}");
    assert_eq!(applied(alpha1).len(), 6, "a dry run changes nothing");
    let (out, _) = expect(
        &p.run(&["rollback", "--target", "alpha-1", "--to", PREVIOUS]),
        0,
    );
    assert!(out.contains("rolled back 2 migrations"), "{out}");
    assert_eq!(applied(alpha1).len(), 4);
    assert_eq!(
        schema(alpha1),
        before_schema,
        "the schema is the previous release's"
    );

    // Every destroyed value of surviving rows is back; the day's writes are all there.
    let accounts = rows(alpha1, ACCOUNTS);
    for before in &before_accounts {
        let id = before.split(':').next().unwrap();
        let now = accounts
            .iter()
            .find(|r| r.split(':').next() == Some(id))
            .unwrap();
        let plan_before = before.rsplit(':').next().unwrap();
        assert!(
            now.ends_with(&format!(":{plan_before}")),
            "{before} -> {now}"
        );
    }
    assert_eq!(
        rows(alpha1, "SELECT id || ':' || name FROM accounts ORDER BY id"),
        day_accounts,
        "renames and new accounts kept"
    );
    let invoices = rows(alpha1, INVOICES);
    for before in &before_invoices {
        let id: i64 = before.split(':').next().unwrap().parse().unwrap();
        let now = invoices
            .iter()
            .find(|r| r.split(':').next() == Some(&id.to_string()));
        if id == 8 || id == 9 {
            assert!(now.is_none(), "deleted by users, stays deleted: {now:?}");
            continue;
        }
        let now = now.unwrap();
        let cur_before = before.rsplit(':').next().unwrap();
        assert!(
            now.ends_with(&format!(":{cur_before}")),
            "{before} -> {now}"
        );
        if [1, 2, 3, 5].contains(&id) {
            let amount: i64 = before.split(':').nth(2).unwrap().parse().unwrap();
            assert!(
                now.contains(&format!(":{}:", amount + 1)),
                "edit kept: {now}"
            );
        }
    }
    assert_eq!(
        rows(
            alpha1,
            "SELECT count(*)::text FROM invoices WHERE amount_cents = 4201"
        ),
        ["2"],
        "invoices written after the upgrade are kept"
    );
    // Nobody else moved.
    assert_eq!((schema(alpha2), rows(alpha2, INVOICES)), alpha2_after);
    assert_eq!(applied(beta1).len(), 4);

    // The fix ships: applying again works.
    expect(&p.run(&["apply", "--target", "alpha-1"]), 0);
    assert_eq!(applied(alpha1).len(), 6);
}

#[test]
fn a_second_apply_on_the_same_target_fails_clearly_or_waits() {
    let (p, dbs) = Project::new(&[("acct", "all")], "");
    let db = &dbs[0];
    // Another migsafe run holds the lock.
    let mut holder = connect(db);
    holder
        .execute(
            "SELECT pg_advisory_lock($1)",
            &[&migsafe::ledger::lock_key(db)],
        )
        .unwrap();
    let (_, err) = expect(&p.run(&["apply", "--target", "acct", "--to", PREVIOUS]), 2);
    assert!(err.contains("busy"), "{err}");
    assert!(err.contains("held by pid"), "{err}");
    assert!(applied(db).is_empty());
    // With --wait it waits for the holder to finish.
    let child = p
        .cmd(&[
            "apply", "--target", "acct", "--to", PREVIOUS, "--wait", "60s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    drop(holder);
    let out = child.wait_with_output().unwrap();
    expect(&out, 0);
    assert_eq!(applied(db).len(), 4);
}

#[test]
fn a_killed_apply_leaves_whole_steps_and_the_rerun_finishes() {
    let (p, dbs) = Project::new(&[("acct", "all")], "");
    let db = &dbs[0];
    expect(&p.run(&["apply", "--target", "acct", "--to", PREVIOUS]), 0);
    seed(db);
    // A migration that destroys data and then takes a while.
    p.add_migration(
        "20241014092000_slow_cleanup",
        "DELETE FROM invoices WHERE amount_cents < 100;\nSELECT pg_sleep(2);\n",
        "SELECT 1;\n",
    );
    let mut child = p
        .cmd(&["apply", "--target", "acct", "--accept-risk", "test"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it while the slow migration runs, inside its transaction.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let sleeping: bool = connect(db)
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(2)%' AND pid <> pg_backend_pid())",
                &[],
            )
            .unwrap()
            .get(0);
        if sleeping {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the slow migration never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Whole steps only: the two release migrations committed, the slow one did not.
    let versions = applied(db);
    assert!(!versions.contains(&20241014092000), "{versions:?}");
    assert_eq!(
        rows(
            db,
            "SELECT count(*)::text FROM invoices WHERE amount_cents < 100"
        ),
        ["9"],
        "the DELETE rolled back with its step"
    );
    // The rerun waits for the dead run's session to go, then applies the rest.
    let (out, _) = expect(
        &p.run(&[
            "apply",
            "--target",
            "acct",
            "--accept-risk",
            "test",
            "--wait",
            "60s",
        ]),
        0,
    );
    assert!(out.contains("20241014092000_slow_cleanup"), "{out}");
    assert_eq!(applied(db).len(), 7);
}

#[test]
fn dry_runs_say_what_would_happen_and_change_nothing() {
    let (p, dbs) = Project::new(&[("acct", "all")], "");
    let db = &dbs[0];
    let (out, _) = expect(
        &p.run(&["apply", "--target", "acct", "--dry-run", "--to", PREVIOUS]),
        0,
    );
    assert!(out.contains("acct: would apply 4 migrations"), "{out}");
    assert!(
        out.contains("statement by statement, outside a transaction"),
        "the CONCURRENTLY index: {out}"
    );
    assert!(applied(db).is_empty());
    expect(&p.run(&["apply", "--target", "acct", "--to", PREVIOUS]), 0);
    seed(db);
    let (out, _) = expect(
        &p.run(&[
            "apply",
            "--target",
            "acct",
            "--dry-run",
            "--accept-risk",
            "dry",
        ]),
        0,
    );
    assert!(
        out.contains("rename public.accounts.legacy_plan aside"),
        "soft drop announced: {out}"
    );
    assert!(out.contains("capture what it destroys, then run"), "{out}");
    assert_eq!(applied(db).len(), 4);
}

#[test]
fn accepted_risk_is_recorded_in_the_ledger() {
    let (p, dbs) = Project::new(&[("acct", "all")], "");
    let db = &dbs[0];
    expect(
        &p.run(&[
            "apply",
            "--target",
            "acct",
            "--accept-risk",
            "INC-7: approved by DBA",
        ]),
        0,
    );
    let reasons = rows(
        db,
        "SELECT detail->>'reason' FROM migsafe.events WHERE kind = 'accept_risk' ORDER BY id",
    );
    assert_eq!(
        reasons,
        ["INC-7: approved by DBA", "INC-7: approved by DBA"]
    );
    let steps = rows(
        db,
        "SELECT migration_id || ':' || coalesce(accepted_risk, '-') FROM migsafe.steps ORDER BY id",
    );
    assert_eq!(steps.len(), 6);
    assert!(
        steps[0].ends_with(":-"),
        "reversible ones pass their gates: {steps:?}"
    );
    assert!(steps[5].ends_with(":INC-7: approved by DBA"), "{steps:?}");
}

#[test]
fn finalise_drops_the_kept_column_and_releases_snapshots() {
    let (p, dbs) = Project::new(&[("acct", "all")], "");
    let db = &dbs[0];
    expect(&p.run(&["apply", "--target", "acct", "--to", PREVIOUS]), 0);
    seed(db);
    expect(
        &p.run(&["apply", "--target", "acct", "--accept-risk", "t"]),
        0,
    );
    let kept = format!("_migsafe_{DROP_PLAN}_legacy_plan");
    let cols = rows(
        db,
        "SELECT attname::text FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
    );
    assert!(cols.contains(&kept), "{cols:?}");
    let (out, _) = expect(&p.run(&["finalise", "--target", "acct"]), 0);
    assert!(out.contains("finalised 6 migrations"), "{out}");
    let cols = rows(
        db,
        "SELECT attname::text FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attnum > 0 AND NOT attisdropped",
    );
    assert!(!cols.contains(&kept), "{cols:?}");
    // Nothing pins the snapshots any more: prune may take them.
    let (out, _) = expect(
        &p.run(&["snapshot", "prune", "--keep-last", "0", "--target", "acct"]),
        0,
    );
    assert!(!out.contains("pinned"), "{out}");
    // Finalised steps roll back without their data only.
    let (out, _) = expect(
        &p.run(&["rollback", "--target", "acct", "--to", PREVIOUS]),
        1,
    );
    assert!(out.contains("BLOCKED"), "{out}");
}

#[test]
fn without_soft_drop_the_column_comes_back_from_the_snapshot() {
    let (p, dbs) = Project::new(&[("acct", "all")], "[apply]\nsoft_drop = false\n");
    let db = &dbs[0];
    expect(&p.run(&["apply", "--target", "acct", "--to", PREVIOUS]), 0);
    seed(db);
    let before = rows(db, ACCOUNTS);
    let schema_before = schema_unordered(db);
    expect(
        &p.run(&["apply", "--target", "acct", "--accept-risk", "t"]),
        0,
    );
    let cols = rows(
        db,
        "SELECT attname::text FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attnum > 0 AND NOT attisdropped",
    );
    assert!(!cols.iter().any(|c| c.contains("legacy")), "{cols:?}");
    let (out, _) = expect(
        &p.run(&["rollback", "--target", "acct", "--to", PREVIOUS]),
        0,
    );
    assert!(out.contains("restored columns public.accounts"), "{out}");
    assert_eq!(rows(db, ACCOUNTS), before);
    // The re-added column sits at the end: the same schema but for column order.
    assert_eq!(schema_unordered(db), schema_before);
}

#[test]
fn errors_name_the_problem_and_exit_2() {
    let (p, _) = Project::new(&[("acct", "all")], "");
    let (_, err) = expect(&p.run(&["apply", "--target", "nope"]), 2);
    assert!(err.contains("nope"), "{err}");
    let (out, _) = expect(
        &p.run(&["apply", "--target", "acct", "--to", "19990101"]),
        2,
    );
    assert!(out.contains("--to 19990101: no such migration"), "{out}");
    let (out, _) = expect(
        &p.run(&["rollback", "--target", "acct", "--to", PREVIOUS]),
        2,
    );
    assert!(out.contains("is not applied"), "{out}");
    let (_, err) = expect(&p.run(&["apply", "--wave", "nowhere"]), 2);
    assert!(err.contains("unknown wave `nowhere`"), "{err}");
    let (_, err) = expect(&p.run(&["rollback", "--target", "acct"]), 2);
    assert!(err.contains("--to"), "{err}");
    let (_, err) = expect(
        &p.run(&["apply", "--target", "acct", "--accept-risk", " "]),
        2,
    );
    assert!(err.contains("give the reason"), "{err}");
}

#[test]
fn an_interrupted_step_outside_a_transaction_blocks_until_resolved() {
    let (p, dbs) = Project::new(&[("acct", "all")], "");
    let db = &dbs[0];
    expect(&p.run(&["apply", "--target", "acct", "--to", PREVIOUS]), 0);
    connect(db)
        .batch_execute(
            "INSERT INTO migsafe.in_progress (migration_id, direction) VALUES ('20240930110000_index_invoices_account_id', 'up')",
        )
        .unwrap();
    let (out, _) = expect(
        &p.run(&["apply", "--target", "acct", "--accept-risk", "t"]),
        1,
    );
    assert!(out.contains("was interrupted"), "{out}");
    assert!(out.contains("DELETE FROM"), "the way out is named: {out}");
    assert_eq!(applied(db).len(), 4);
}

#[test]
fn rendered_output() {
    let (p, dbs) = Project::new(&[("acct", "all")], "");
    let db = &dbs[0];
    expect(&p.run(&["apply", "--target", "acct", "--to", PREVIOUS]), 0);
    seed(db);
    snap!(
        "apply_dry_run",
        p.cmd(&[
            "apply",
            "--target",
            "acct",
            "--dry-run",
            "--accept-risk",
            "t"
        ])
    );
    snap!("apply_blocked", p.cmd(&["apply", "--target", "acct"]));
    snap!(
        "apply_json",
        p.cmd(&[
            "apply",
            "--target",
            "acct",
            "--accept-risk",
            "t",
            "--format",
            "json",
            "-q"
        ])
    );
    snap!(
        "rollback_dry_run",
        p.cmd(&[
            "rollback",
            "--target",
            "acct",
            "--to",
            PREVIOUS,
            "--dry-run"
        ])
    );
    snap!(
        "rollback",
        p.cmd(&["rollback", "--target", "acct", "--to", PREVIOUS])
    );
}

#[test]
fn a_failing_statement_rolls_its_step_back_and_names_the_line() {
    let (p, dbs) = Project::new(&[("acct", "all")], "");
    let db = &dbs[0];
    expect(&p.run(&["apply", "--target", "acct", "--to", PREVIOUS]), 0);
    seed(db);
    p.add_migration(
        "20241014092000_broken",
        "DELETE FROM invoices WHERE amount_cents < 100;\nUPDATE invoices SET nope = 1;\n",
        "SELECT 1;\n",
    );
    let before = rows(db, INVOICES);
    let (out, err) = expect(
        &p.run(&["apply", "--target", "acct", "--accept-risk", "t"]),
        2,
    );
    assert!(
        err.contains("20241014092000_broken.up.sql:2:"),
        "file and line: {err}"
    );
    assert!(
        err.contains("nope") && err.contains("does not exist"),
        "{err}"
    );
    assert!(
        out.contains("FAILED after 2 steps"),
        "the two before it stay: {out}"
    );
    assert_eq!(applied(db).len(), 6);
    // The failed step's DELETE rolled back, and its snapshot was not kept.
    assert_eq!(rows(db, INVOICES).len(), before.len());
    let (list, _) = expect(
        &p.run(&["snapshot", "list", "--target", "acct", "--format", "json"]),
        0,
    );
    let n = serde_json::from_str::<serde_json::Value>(&list).unwrap()["snapshots"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(
        n, 2,
        "one per destroying statement of the applied steps: {list}"
    );
}

#[test]
fn lock_timeout_from_the_config_bounds_each_statement() {
    let (p, dbs) = Project::new(&[("acct", "all")], "[apply]\nlock_timeout = \"200ms\"\n");
    let db = &dbs[0];
    expect(&p.run(&["apply", "--target", "acct", "--to", PREVIOUS]), 0);
    // A long transaction reading accounts blocks the DROP COLUMN's ACCESS EXCLUSIVE lock.
    let mut reader = connect(db);
    let mut tx = reader.transaction().unwrap();
    tx.query("SELECT * FROM accounts", &[]).unwrap();
    let started = Instant::now();
    let (_, err) = expect(
        &p.run(&["apply", "--target", "acct", "--accept-risk", "t"]),
        2,
    );
    assert!(err.contains("lock timeout"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20));
    tx.rollback().unwrap();
    assert_eq!(applied(db).len(), 4);
    expect(
        &p.run(&["apply", "--target", "acct", "--accept-risk", "t"]),
        0,
    );
}

#[test]
fn a_failed_step_outside_a_transaction_is_remembered() {
    let (p, dbs) = Project::new(&[("acct", "all")], "");
    let db = &dbs[0];
    expect(&p.run(&["apply", "--target", "acct", "--to", PREVIOUS]), 0);
    p.add_migration(
        "20241014092000_index_missing",
        "-- no-transaction\nCREATE INDEX CONCURRENTLY nope_idx ON nope (x);\n",
        "-- no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS nope_idx;\n",
    );
    let (_, err) = expect(
        &p.run(&["apply", "--target", "acct", "--accept-risk", "t"]),
        2,
    );
    assert!(
        err.contains("20241014092000_index_missing.up.sql:2:"),
        "{err}"
    );
    // sqlx's own marker and migsafe's note both say it stopped part way.
    assert_eq!(
        rows(
            db,
            "SELECT version || ':' || success FROM _sqlx_migrations WHERE version = 20241014092000"
        ),
        ["20241014092000:false"]
    );
    let (out, _) = expect(
        &p.run(&["apply", "--target", "acct", "--accept-risk", "t"]),
        1,
    );
    assert!(
        out.contains("20241014092000_index_missing (up) was interrupted"),
        "{out}"
    );
}

/// A copy of a bundled example with a migsafe.toml naming one fresh target.
fn example(dir: &str, runner: &str) -> (tempfile::TempDir, String) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap().flatten() {
            let target = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), target).unwrap();
            }
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    copy(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations-examples")
            .join(dir),
        tmp.path(),
    );
    let (db, _) = testing::fresh_database("apply");
    std::fs::write(
        tmp.path().join("migsafe.toml"),
        format!(
            "runner = \"{runner}\"\n[snapshots]\nstore = \"store\"\n[[targets]]\nname = \"t\"\nurl = \"{}\"\n",
            testing::cluster().url(&db)
        ),
    )
    .unwrap();
    (tmp, db)
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(get_cargo_bin("migsafe"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("MIGSAFE_CONFIG")
        .env_remove("MIGSAFE_SNAPSHOT_STORE")
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// What the runner's own history says is pending, read as plan reads it.
fn pending(dir: &Path, runner: migsafe::source::Runner, db: &str) -> usize {
    let project = migsafe::source::discover(dir, Some(runner)).unwrap();
    let history = migsafe::applied::read(&mut connect(db), runner, None).unwrap();
    let status = migsafe::applied::compare(&project, &history);
    assert!(status.dirty.is_none(), "{status:?}");
    assert!(status.edited.is_empty(), "{status:?}");
    status.pending.len()
}

#[test]
fn every_runner_with_a_history_table_applies_and_rolls_back() {
    use migsafe::source::Runner;
    // Flyway keeps V1: its undo would drop the tables the repeatable R__ view reads, and
    // repeatables are not rolled back (Flyway has no undo for them either).
    for (dir, runner, r, to, kept) in [
        ("diesel", "diesel", Runner::Diesel, "0", 0),
        ("sqlx", "sqlx", Runner::Sqlx, "0", 0),
        (
            "golang-migrate",
            "golang-migrate",
            Runner::GolangMigrate,
            "0",
            0,
        ),
        ("goose", "goose", Runner::Goose, "0", 0),
        ("dbmate", "dbmate", Runner::Dbmate, "0", 0),
        ("flyway", "flyway", Runner::Flyway, "1", 2),
    ] {
        let (tmp, db) = example(dir, runner);
        let empty = schema(&db);
        let total = pending(tmp.path(), r, &db);
        assert!(total >= 2, "{dir}");
        let (out, _) = expect(
            &run_in(
                tmp.path(),
                &["apply", "--target", "t", "--accept-risk", "test"],
            ),
            0,
        );
        assert!(
            out.contains(&format!("applied {total} migrations")),
            "{dir}: {out}"
        );
        assert_eq!(
            pending(tmp.path(), r, &db),
            0,
            "{dir}: the runner sees them applied"
        );
        let (out, _) = expect(
            &run_in(
                tmp.path(),
                &[
                    "rollback",
                    "--target",
                    "t",
                    "--to",
                    to,
                    "--accept-risk",
                    "test",
                ],
            ),
            0,
        );
        let rolled = total - kept;
        assert!(
            out.contains(&format!("rolled back {rolled} migrations")),
            "{dir}: {out}"
        );
        assert_eq!(pending(tmp.path(), r, &db), rolled, "{dir}: pending again");
        if kept > 0 {
            continue;
        }
        let after = schema(&db);
        let strip = |s: &str| {
            s.lines()
                .filter(|l| !l.contains("migsafe") && !history_object(l))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(
            strip(&after),
            strip(&empty),
            "{dir}: back to an empty schema"
        );
    }
}

/// Lines of a fingerprint that belong to a runner's history table.
fn history_object(line: &str) -> bool {
    [
        "__diesel_schema_migrations",
        "_sqlx_migrations",
        "schema_migrations",
        "goose_db_version",
        "flyway_schema_history",
    ]
    .iter()
    .any(|t| line.contains(t))
}

#[test]
fn runners_without_a_writable_history_are_refused() {
    for (dir, runner, why) in [
        ("refinery", "refinery", "checksum"),
        ("sqitch", "sqitch", "sqitch"),
        ("plain", "plain", "plain"),
    ] {
        let (tmp, db) = example(dir, runner);
        let (out, _) = expect(&run_in(tmp.path(), &["apply", "--target", "t"]), 2);
        assert!(
            out.contains(&format!("migsafe cannot apply {runner} migrations")),
            "{out}"
        );
        assert!(out.to_lowercase().contains(why), "{dir}: {out}");
        assert_eq!(
            rows(
                &db,
                "SELECT count(*)::text FROM pg_class WHERE relnamespace = 'public'::regnamespace"
            ),
            ["0"],
            "{dir}: nothing created"
        );
    }
}

#[test]
fn applied_steps_pin_their_snapshots_until_unpinned() {
    let (p, dbs) = Project::new(&[("acct", "all")], "");
    let db = &dbs[0];
    expect(&p.run(&["apply", "--target", "acct", "--to", PREVIOUS]), 0);
    seed(db);
    expect(
        &p.run(&["apply", "--target", "acct", "--accept-risk", "t"]),
        0,
    );
    let ids = rows(
        db,
        "SELECT unnest(snapshot_ids) FROM migsafe.steps ORDER BY id",
    );
    assert_eq!(ids.len(), 2);
    let (out, _) = expect(
        &p.run(&[
            "snapshot",
            "prune",
            "--keep-last",
            "0",
            "--target",
            "acct",
            "--dry-run",
        ]),
        0,
    );
    assert!(out.contains("pinned"), "prune keeps them: {out}");
    let (out, _) = expect(&p.run(&["snapshot", "unpin", &ids[0]]), 0);
    assert!(out.contains("unpinned (was: step"), "{out}");
    let (out, _) = expect(&p.run(&["snapshot", "unpin", &ids[0]]), 0);
    assert!(out.contains("was not pinned"), "{out}");
}

#[test]
fn each_step_starts_from_a_fresh_session() {
    let (p, dbs) = Project::new(&[("acct", "all")], "");
    let db = &dbs[0];
    expect(&p.run(&["apply", "--target", "acct", "--to", PREVIOUS]), 0);
    // A migration that leaves its session pointing nowhere must not break the next one.
    p.add_migration(
        "20241014092000_session_state",
        "SET search_path = nowhere;\nCREATE TEMP TABLE scratch (x int);\n",
        "SELECT 1;\n",
    );
    p.add_migration(
        "20241014093000_after",
        "CREATE TABLE audit_log (id bigint PRIMARY KEY);\n",
        "DROP TABLE audit_log;\n",
    );
    expect(
        &p.run(&["apply", "--target", "acct", "--accept-risk", "t"]),
        0,
    );
    assert_eq!(
        rows(db, "SELECT to_regclass('public.audit_log')::text"),
        ["audit_log"]
    );
}

/// A target's `session` settings (here the runner's search_path and role) are set on the
/// session of every step, apply's and rollback's alike, as the runner would have them.
#[test]
fn target_session_settings_reach_every_step() {
    let (p, dbs) = Project::new(&[("acct", "all")], "");
    let db = &dbs[0];
    expect(&p.run(&["apply", "--target", "acct", "--to", PREVIOUS]), 0);
    let role = format!("migrator_{db}");
    connect(db)
        .batch_execute(&format!(
            "CREATE ROLE {role} NOLOGIN;
             CREATE SCHEMA app AUTHORIZATION {role};
             GRANT ALL ON _sqlx_migrations TO {role};
             GRANT USAGE ON SCHEMA migsafe TO {role};
             GRANT ALL ON ALL TABLES IN SCHEMA migsafe TO {role};
             GRANT ALL ON ALL SEQUENCES IN SCHEMA migsafe TO {role};"
        ))
        .unwrap();
    let toml = p.path().join("migsafe.toml");
    let text = std::fs::read_to_string(&toml).unwrap().replace(
        "wave = \"all\"\n",
        &format!(
            "wave = \"all\"\nsession = {{ search_path = \"app, public\", role = \"{role}\" }}\n"
        ),
    );
    std::fs::write(&toml, text).unwrap();
    for f in std::fs::read_dir(p.path().join("migrations")).unwrap() {
        let f = f.unwrap().path();
        if f.file_name().unwrap().to_string_lossy()[..PREVIOUS.len()] > *PREVIOUS {
            std::fs::remove_file(f).unwrap();
        }
    }
    p.add_migration(
        "20241014093000_audit",
        "CREATE TABLE audit_log (id bigint PRIMARY KEY);\n",
        "DROP TABLE audit_log;\n",
    );
    p.add_migration(
        "20241014094000_audit_note",
        "ALTER TABLE audit_log ADD COLUMN note text;\n",
        "ALTER TABLE audit_log DROP COLUMN note;\n",
    );
    expect(&p.run(&["apply", "--target", "acct"]), 0);
    let owner = "SELECT c.relnamespace::regnamespace::text || ' ' || pg_get_userbyid(c.relowner) || ' ' || \
                 (SELECT count(*) FROM pg_attribute WHERE attrelid = c.oid AND attname = 'note')::text \
                 FROM pg_class c WHERE relname = 'audit_log'";
    assert_eq!(rows(db, owner), [format!("app {role} 1")]);
    // The history stays where the runner's search_path finds it (public, after app).
    assert_eq!(applied(db).len(), 6);
    let (out, _) = expect(&p.run(&["plan", "--target", "acct", "--format", "json"]), 0);
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["targets"][0]["applied"], 6, "{out}");
    assert_eq!(
        plan["targets"][0]["pending"],
        serde_json::json!([]),
        "{out}"
    );

    expect(
        &p.run(&["rollback", "--target", "acct", "--to", PREVIOUS]),
        0,
    );
    assert!(rows(db, owner).is_empty(), "rolled back in schema app");

    // A setting PostgreSQL refuses stops the run before any step, naming the setting.
    let text = std::fs::read_to_string(&toml).unwrap().replace(
        &format!("role = \"{role}\""),
        "role = \"no_such_role_anywhere\"",
    );
    std::fs::write(&toml, text).unwrap();
    let (out, err) = expect(&p.run(&["apply", "--target", "acct"]), 2);
    assert!(
        format!("{out}{err}")
            .contains("target `acct`: cannot set session setting role = 'no_such_role_anywhere'"),
        "{out}{err}"
    );
    assert_eq!(applied(db).len(), 4);
}
