//! `migsafe snapshot …` and `migsafe drill` as a user runs them, against this test process's
//! scratch cluster (`migsafe::pg::testing`). Each test has its own project directory (with a
//! migsafe.toml naming a store and two targets, each a fresh database) and runs the binary in it,
//! so paths in snapshots are relative and stable. Ids, times, sizes and ports are masked.
//!
//! Tests that list, show, verify, prune, refuse or drill a corrupt snapshot build their
//! snapshots with the store library directly; those that capture and restore run the real
//! thing end to end.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use insta_cmd::{assert_cmd_snapshot, get_cargo_bin};
use migsafe::snapshot::manifest::{
    DatabaseIdentity, Guard, KeySource, Kind, Manifest, Object, ObjectKind,
};
use migsafe::snapshot::{Entry, Store};

macro_rules! snap {
    ($($cmd:tt)*) => {
        insta::with_settings!({filters => vec![
            (r"\d{8}T\d{6}Z-[0-9a-f]{6}", "[ID]"),
            (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]"),
            (r"\b\d+ ms\b", "[N] ms"),
            (r"\b\d+(\.\d)? (B|KiB|MiB|GiB)\b", "[SIZE]"),
            (r"\b\d+[smhdw] ago", "[AGE] ago"),
            (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
            (r"snap_\d+_\d+", "[DB]"),
        ]}, {
            assert_cmd_snapshot!($($cmd)*)
        })
    };
}

/// A project directory: migsafe.toml with `[snapshots] store = "store"` and targets `acct-1` and
/// `acct-2`, each its own fresh database.
struct Project {
    dir: tempfile::TempDir,
    db1: String,
    db2: String,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        let (db1, _) = migsafe::pg::testing::fresh_database("snap");
        let (db2, _) = migsafe::pg::testing::fresh_database("snap");
        let c = migsafe::pg::testing::cluster();
        std::fs::write(
            dir.path().join("migsafe.toml"),
            format!(
                "[snapshots]\nstore = \"store\"\n\n[[targets]]\nname = \"acct-1\"\nurl = \"{}\"\n\n[[targets]]\nname = \"acct-2\"\nurl = \"{}\"\n",
                c.url(&db1),
                c.url(&db2)
            ),
        )
        .unwrap();
        Project { dir, db1, db2 }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn store(&self) -> Store {
        Store::new(self.path().join("store"))
    }

    fn cmd(&self) -> Command {
        migsafe(self.path())
    }

    fn client(&self, db: &str) -> postgres::Client {
        migsafe::pg::testing::cluster().connect(db).unwrap()
    }
}

fn migsafe(dir: &Path) -> Command {
    let mut c = Command::new(get_cargo_bin("migsafe"));
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("MIGSAFE_CONFIG")
        .env_remove("MIGSAFE_DATABASE_URL")
        .env_remove("MIGSAFE_SNAPSHOT_STORE")
        .env_remove("MIGSAFE_FORMAT")
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null());
    c
}

fn scratch_url() -> String {
    migsafe::pg::testing::cluster().url("postgres")
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// A targeted snapshot of `public.accounts` written through the store, as a capture would.
fn fake(store: &Store, target: &str, kind: Kind, days_old: i64) -> Entry {
    let mut w = store.begin(target).unwrap();
    let object = match kind {
        Kind::Targeted => {
            let mut f = w.create_file("public.accounts.copy").unwrap();
            f.write_all(b"1\tfree\n2\tpro\n").unwrap();
            w.finish_file(f).unwrap();
            Object {
                kind: ObjectKind::Columns,
                schema: "public".into(),
                name: "accounts".into(),
                key_source: KeySource::PrimaryKey,
                key: vec!["id".into()],
                key_types: vec!["bigint".into()],
                columns: vec!["plan".into()],
                column_types: vec!["text".into()],
                after: vec![],
                rows: 2,
                file: "public.accounts.copy".into(),
            }
        }
        Kind::Full => {
            let mut f = w.create_file("toc.dat").unwrap();
            f.write_all(b"PGDMP fake table of contents").unwrap();
            w.finish_file(f).unwrap();
            Object {
                kind: ObjectKind::Dump,
                schema: String::new(),
                name: "acct".into(),
                key_source: KeySource::None,
                key: vec![],
                key_types: vec![],
                columns: vec![],
                column_types: vec![],
                after: vec![],
                rows: 0,
                file: "toc.dat".into(),
            }
        }
    };
    let created = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * days_old);
    let m = w
        .commit(Manifest {
            schema_version: 0,
            id: String::new(),
            kind,
            target: String::new(),
            database: DatabaseIdentity {
                system_identifier: "7300000000000000001".into(),
                database: "acct".into(),
                server_version: "15.8".into(),
                server_version_num: 150008,
            },
            guards: (kind == Kind::Targeted).then(|| Guard {
                migration: "2_drop_plan".into(),
                statement: "ALTER TABLE accounts DROP COLUMN plan".into(),
                location: Some("migrations/2_drop_plan.up.sql:1".into()),
            }),
            objects: vec![object],
            files: vec![],
            created_at: created.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            capture_ms: 3,
            migsafe_version: "0.1.0".into(),
            notes: vec![],
        })
        .unwrap();
    store.find(&m.id).unwrap()
}

/// A directory left by a capture that died: no manifest.
fn incomplete(store: &Store, target: &str) -> PathBuf {
    let dir = store.root().join(target).join("20200101T000000Z-dead00");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(".public.accounts.copy.partial"), b"1\tfr").unwrap();
    dir
}

// ---------------------------------------------------------------------------------------------
// help and usage errors

#[test]
fn help_teaches_commands_examples_and_exit_codes() {
    let t = tempfile::tempdir().unwrap();
    snap!(migsafe(t.path()).args(["snapshot", "--help"]));
    snap!(migsafe(t.path()).args(["snapshot", "restore", "--help"]));
    snap!(migsafe(t.path()).args(["drill", "--help"]));
}

#[test]
fn no_store_configured_is_an_error() {
    let t = tempfile::tempdir().unwrap();
    snap!(migsafe(t.path()).args(["snapshot", "list"]));
}

#[test]
fn store_from_the_command_line_or_environment() {
    let t = tempfile::tempdir().unwrap();
    let store = Store::new(t.path().join("elsewhere"));
    fake(&store, "acct-1", Kind::Targeted, 1);
    let o = run(migsafe(t.path()).args(["snapshot", "list", "--store", "elsewhere"]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("acct-1"), "{}", text(&o));
    let o = run(migsafe(t.path())
        .args(["snapshot", "list"])
        .env("MIGSAFE_SNAPSHOT_STORE", "elsewhere"));
    assert!(text(&o).contains("acct-1"), "{}", text(&o));
}

#[test]
fn unknown_target_names_the_known_ones() {
    let p = Project::new();
    snap!(p.cmd().args([
        "snapshot", "create", "--target", "acct-9", "--table", "accounts"
    ]));
}

#[test]
fn create_needs_a_database_and_something_to_capture() {
    let p = Project::new();
    snap!(p.cmd().args(["snapshot", "create", "--table", "accounts"]));
    snap!(p.cmd().args(["snapshot", "create", "--target", "acct-1"]));
}

#[test]
fn create_of_a_missing_table_or_column_names_it_and_writes_nothing() {
    let p = Project::new();
    p.client(&p.db1)
        .batch_execute("CREATE TABLE accounts (id bigint PRIMARY KEY, plan text)")
        .unwrap();
    snap!(p.cmd().args([
        "snapshot", "create", "--target", "acct-1", "--table", "acounts"
    ]));
    snap!(p.cmd().args([
        "snapshot",
        "create",
        "--target",
        "acct-1",
        "--table",
        "accounts.plna"
    ]));
    assert!(p.store().list(None).unwrap().is_empty());
}

#[test]
fn unknown_snapshot_id_is_an_error() {
    let p = Project::new();
    snap!(
        p.cmd()
            .args(["snapshot", "show", "20260101T000000Z-abcdef"])
    );
    snap!(
        p.cmd()
            .args(["snapshot", "verify", "20260101T000000Z-abcdef"])
    );
}

#[test]
fn unreachable_database_is_an_error_without_the_password() {
    let p = Project::new();
    let o = run(p.cmd().args([
        "snapshot",
        "create",
        "--database-url",
        "postgres://app:s3cret@127.0.0.1:1/acct?connect_timeout=2",
        "--table",
        "accounts",
    ]));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!text(&o).contains("s3cret"), "{}", text(&o));
    assert!(
        text(&o).contains("postgres://app:***@127.0.0.1:1/acct"),
        "{}",
        text(&o)
    );
}

// ---------------------------------------------------------------------------------------------
// list, show, verify

#[test]
fn list_shows_snapshots_and_incomplete_directories_apart() {
    let p = Project::new();
    let store = p.store();
    fake(&store, "acct-1", Kind::Targeted, 2);
    let pinned = fake(&store, "acct-1", Kind::Full, 1);
    store.pin(&pinned, "release 7, step 2").unwrap();
    fake(&store, "acct-2", Kind::Targeted, 3);
    incomplete(&store, "acct-1");
    snap!(p.cmd().args(["snapshot", "list"]));
    snap!(p.cmd().args(["snapshot", "list", "--target", "acct-2"]));
    let o = run(p.cmd().args(["snapshot", "list", "--format", "json"]));
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["snapshots"].as_array().unwrap().len(), 3);
    assert_eq!(v["incomplete"][0]["in_progress"], false);
    assert_eq!(v["snapshots"][1]["pinned"], "release 7, step 2");
}

#[test]
fn list_of_an_empty_store() {
    let p = Project::new();
    snap!(p.cmd().args(["snapshot", "list"]));
}

#[test]
fn show_prints_the_manifest() {
    let p = Project::new();
    let e = fake(&p.store(), "acct-1", Kind::Targeted, 1);
    snap!(p.cmd().args(["snapshot", "show", &e.id]));
    let o = run(p
        .cmd()
        .args(["snapshot", "show", &e.id, "--format", "json"]));
    let m: Manifest = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(&m, e.manifest().unwrap());
}

#[test]
fn verify_passes_intact_and_names_a_corrupt_file() {
    let p = Project::new();
    let e = fake(&p.store(), "acct-1", Kind::Targeted, 1);
    snap!(p.cmd().args(["snapshot", "verify", &e.id]));
    let file = e.dir.join("public.accounts.copy");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[2] ^= 1;
    std::fs::write(&file, &bytes).unwrap();
    snap!(p.cmd().args(["snapshot", "verify", &e.id]));
}

// ---------------------------------------------------------------------------------------------
// prune

#[test]
fn prune_keep_last_keeps_pinned_and_removes_incomplete() {
    let p = Project::new();
    let store = p.store();
    let oldest = fake(&store, "acct-1", Kind::Targeted, 4);
    store.pin(&oldest, "release 7, step 2").unwrap();
    let old = fake(&store, "acct-1", Kind::Targeted, 3);
    let newer = fake(&store, "acct-1", Kind::Targeted, 2);
    let newest = fake(&store, "acct-1", Kind::Targeted, 1);
    let other = fake(&store, "acct-2", Kind::Targeted, 9);
    let dead = incomplete(&store, "acct-1");

    snap!(
        p.cmd()
            .args(["snapshot", "prune", "--keep-last", "2", "--dry-run"])
    );
    assert_eq!(
        store.list(None).unwrap().len(),
        6,
        "dry run removed something"
    );

    snap!(p.cmd().args(["snapshot", "prune", "--keep-last", "2"]));
    let left: Vec<String> = store
        .list(None)
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    for kept in [&oldest, &newer, &newest, &other] {
        assert!(left.contains(&kept.id), "{} removed", kept.id);
    }
    assert!(!left.contains(&old.id));
    assert!(!dead.exists());
}

#[test]
fn prune_older_than_per_target() {
    let p = Project::new();
    let store = p.store();
    let old1 = fake(&store, "acct-1", Kind::Targeted, 10);
    let new1 = fake(&store, "acct-1", Kind::Targeted, 1);
    let old2 = fake(&store, "acct-2", Kind::Full, 10);
    snap!(p.cmd().args([
        "snapshot",
        "prune",
        "--older-than",
        "1w",
        "--target",
        "acct-1"
    ]));
    assert!(!old1.dir.exists());
    assert!(new1.dir.exists());
    assert!(old2.dir.exists(), "another target's snapshot was pruned");
    snap!(p.cmd().args(["snapshot", "prune", "--older-than", "soon"]));
}

// ---------------------------------------------------------------------------------------------
// restore refusals

#[test]
fn full_restore_over_the_target_needs_yes() {
    let p = Project::new();
    let e = fake(&p.store(), "acct-1", Kind::Full, 1);
    snap!(
        p.cmd()
            .args(["snapshot", "restore", &e.id, "--target", "acct-1"])
    );
}

#[test]
fn restore_into_another_target_is_refused() {
    let p = Project::new();
    let e = fake(&p.store(), "acct-1", Kind::Targeted, 1);
    snap!(
        p.cmd()
            .args(["snapshot", "restore", &e.id, "--target", "acct-2"])
    );
}

#[test]
fn full_restore_into_an_existing_database_is_refused() {
    let p = Project::new();
    let e = fake(&p.store(), "acct-1", Kind::Full, 1);
    let o = run(p.cmd().args([
        "snapshot", "restore", &e.id, "--target", "acct-1", "--into", &p.db2,
    ]));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("already exists"), "{}", text(&o));
}

// ---------------------------------------------------------------------------------------------
// drills

#[test]
fn drill_of_a_corrupt_snapshot_fails_and_is_recorded() {
    let p = Project::new();
    let e = fake(&p.store(), "acct-1", Kind::Targeted, 1);
    let file = e.dir.join("public.accounts.copy");
    std::fs::write(&file, b"1\tfree\n2\tpr0\n").unwrap();
    snap!(p.cmd().args([
        "drill",
        "--snapshot",
        &e.id,
        "--database-url",
        &scratch_url()
    ]));
    let reports: Vec<PathBuf> = std::fs::read_dir(p.path().join("store/_drills/acct-1"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(reports.len(), 1);
    assert_eq!(mode(&reports[0]), 0o600);
    assert_eq!(mode(&p.path().join("store/_drills")), 0o700);
    let latest = migsafe::drill::latest(&p.store(), "acct-1").unwrap();
    assert!(!latest.passed());
    assert_eq!(latest.snapshot, e.id);
    snap!(p.cmd().args(["drill", "--history"]));
}

#[test]
fn drill_with_nothing_to_drill_is_an_error() {
    let p = Project::new();
    snap!(p.cmd().args(["drill"]));
    snap!(p.cmd().args(["drill", "--target", "acct-1"]));
    snap!(p.cmd().args(["drill", "--target", "acct-7"]));
    snap!(p.cmd().args(["drill", "--history"]));
}

// ---------------------------------------------------------------------------------------------
// end to end: capture, destroy, restore, drill (need the capture and restore implementations)

fn seed_accounts(p: &Project) {
    p.client(&p.db1)
        .batch_execute(
            "CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL, plan text);
             INSERT INTO accounts SELECT g, 'user' || g || '@example.com',
                    CASE WHEN g % 3 = 0 THEN 'pro' ELSE 'free' END
             FROM generate_series(1, 500) g;",
        )
        .unwrap();
}

fn accounts(client: &mut postgres::Client) -> Vec<(i64, String, Option<String>)> {
    client
        .query("SELECT id, email, plan FROM accounts ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

fn created_id(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(0), "{}", text(o));
    let m: Manifest = serde_json::from_slice(&o.stdout).unwrap();
    m.id
}

#[test]
fn table_capture_restores_deleted_rows_and_keeps_later_ones() {
    let p = Project::new();
    seed_accounts(&p);
    let mut db = p.client(&p.db1);
    let before = accounts(&mut db);
    let id = created_id(&run(p.cmd().args([
        "snapshot", "create", "--target", "acct-1", "--table", "accounts", "--format", "json",
    ])));
    // Private files and directories.
    let entry = p.store().find(&id).unwrap();
    assert_eq!(mode(&p.path().join("store")), 0o700);
    assert_eq!(mode(&p.path().join("store/acct-1")), 0o700);
    assert_eq!(mode(&entry.dir), 0o700);
    for f in std::fs::read_dir(&entry.dir).unwrap() {
        let f = f.unwrap().path();
        if f.is_file() {
            assert_eq!(mode(&f), 0o600, "{}", f.display());
        }
    }
    let m = entry.manifest().unwrap();
    assert_eq!(m.kind, Kind::Targeted);
    assert_eq!(m.target, "acct-1");
    assert_eq!(m.database.database, p.db1);
    assert!(
        m.objects
            .iter()
            .any(|o| o.kind == ObjectKind::Rows && o.name == "accounts" && o.rows == 500)
    );

    db.batch_execute(
        "DELETE FROM accounts WHERE plan = 'free';
         INSERT INTO accounts VALUES (1000, 'late@example.com', 'pro');",
    )
    .unwrap();
    let o = run(p
        .cmd()
        .args(["snapshot", "restore", &id, "--target", "acct-1"]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut expected = before.clone();
    expected.push((1000, "late@example.com".into(), Some("pro".into())));
    assert_eq!(accounts(&mut db), expected);
    // Restoring again changes nothing.
    let o = run(p
        .cmd()
        .args(["snapshot", "restore", &id, "--target", "acct-1"]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(accounts(&mut db), expected);
}

#[test]
fn column_capture_refills_a_dropped_and_readded_column() {
    let p = Project::new();
    seed_accounts(&p);
    let mut db = p.client(&p.db1);
    let before = accounts(&mut db);
    let o = run(p.cmd().args([
        "snapshot",
        "create",
        "--target",
        "acct-1",
        "--table",
        "accounts.plan",
        "--format",
        "json",
    ]));
    let id = created_id(&o);
    let m = p.store().find(&id).unwrap().manifest().unwrap().clone();
    assert_eq!(m.objects.len(), 1, "{m:?}");
    assert_eq!(m.objects[0].kind, ObjectKind::Columns);
    assert_eq!(m.objects[0].key, ["id"]);
    assert_eq!(m.objects[0].columns, ["plan"]);
    // The migration drops the column; its down adds it back, empty; a user signs up meanwhile.
    db.batch_execute(
        "ALTER TABLE accounts DROP COLUMN plan;
         ALTER TABLE accounts ADD COLUMN plan text;
         INSERT INTO accounts VALUES (1000, 'late@example.com', 'pro');",
    )
    .unwrap();
    let o = run(p
        .cmd()
        .args(["snapshot", "restore", &id, "--target", "acct-1"]));
    assert!(matches!(o.status.code(), Some(0)), "{}", text(&o));
    let mut expected = before;
    expected.push((1000, "late@example.com".into(), Some("pro".into())));
    assert_eq!(accounts(&mut db), expected);
}

#[test]
fn create_for_a_migration_captures_what_it_destroys() {
    let p = Project::new();
    seed_accounts(&p);
    let w = |rel: &str, s: &str| {
        let f = p.path().join(rel);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, s).unwrap();
    };
    w("sqlx.toml", "");
    w(
        "migrations/1_init.up.sql",
        "CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL, plan text);\n",
    );
    w("migrations/1_init.down.sql", "DROP TABLE accounts;\n");
    w(
        "migrations/2_drop_plan.up.sql",
        "ALTER TABLE accounts DROP COLUMN plan;\n",
    );
    w(
        "migrations/2_drop_plan.down.sql",
        "ALTER TABLE accounts ADD COLUMN plan text;\n",
    );
    // Nothing to capture, and an unknown version: errors, nothing written.
    snap!(p.cmd().args([
        "snapshot",
        "create",
        "--target",
        "acct-1",
        "--for",
        "1",
        "--migrations",
        "migrations"
    ]));
    snap!(p.cmd().args([
        "snapshot",
        "create",
        "--target",
        "acct-1",
        "--for",
        "9",
        "--migrations",
        "migrations"
    ]));
    assert!(p.store().list(None).unwrap().is_empty());
    let id = created_id(&run(p.cmd().args([
        "snapshot",
        "create",
        "--target",
        "acct-1",
        "--for",
        "2",
        "--migrations",
        "migrations",
        "--format",
        "json",
    ])));
    let e = p.store().find(&id).unwrap();
    let m = e.manifest().unwrap();
    let g = m.guards.as_ref().unwrap();
    assert_eq!(g.migration, "2_drop_plan");
    assert_eq!(g.statement, "ALTER TABLE accounts DROP COLUMN plan;");
    assert!(
        m.objects
            .iter()
            .any(|o| o.kind == ObjectKind::Columns && o.columns == ["plan"] && o.rows == 500),
        "{m:?}"
    );
}

#[test]
fn drill_passes_and_history_lists_it() {
    let p = Project::new();
    seed_accounts(&p);
    let id = created_id(&run(p.cmd().args([
        "snapshot", "create", "--target", "acct-1", "--table", "accounts", "--format", "json",
    ])));
    let o = run(p.cmd().args([
        "drill",
        "--target",
        "acct-1",
        "--database-url",
        &scratch_url(),
    ]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("of snapshot {id}")),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("passed"), "{}", text(&o));
    let r = migsafe::drill::latest(&p.store(), "acct-1").unwrap();
    assert!(r.passed(), "{r:?}");
    assert_eq!(r.rows, 500);
    let phases: Vec<&str> = r.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(phases, ["checksums", "scratch", "restore", "verify"]);
    let o = run(p.cmd().args(["drill", "--history", "--target", "acct-1"]));
    assert!(
        text(&o).contains(&id) && text(&o).contains("passed"),
        "{}",
        text(&o)
    );
    // verify --deep runs the same drill without recording it.
    let o = run(p.cmd().args([
        "snapshot",
        "verify",
        "--deep",
        &id,
        "--database-url",
        &scratch_url(),
    ]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        migsafe::drill::history(&p.store(), Some("acct-1"))
            .unwrap()
            .0
            .len(),
        1
    );
}

#[test]
fn killed_full_snapshot_is_never_complete_and_prune_removes_it() {
    let p = Project::new();
    // Enough data that pg_dump runs for a while.
    p.client(&p.db1)
        .batch_execute(
            "CREATE TABLE big (id bigint PRIMARY KEY, payload text);
             INSERT INTO big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 1000000) g;",
        )
        .unwrap();
    let mut child = p
        .cmd()
        .args([
            "snapshot", "create", "--target", "acct-1", "--full", "--jobs", "1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let target_dir = p.path().join("store/acct-1");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let started = std::fs::read_dir(&target_dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(false);
        if started {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "create ended before the test could kill it"
        );
        assert!(Instant::now() < deadline, "create never started writing");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "create ended by itself ({status:?}) before SIGKILL: give it more data"
    );

    let o = run(p.cmd().args(["snapshot", "list", "--format", "json"]));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["snapshots"].as_array().unwrap().len(), 0, "{v}");
    assert_eq!(v["incomplete"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(
        v["incomplete"][0]["in_progress"], false,
        "the lock died with the process"
    );
    let o = run(p.cmd().args(["snapshot", "prune", "--keep-last", "5"]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("removed"), "{}", text(&o));
    assert!(p.store().list(None).unwrap().is_empty());
}
