//! `migsafe plan` as a release tool runs it, against this test process's scratch cluster
//! (`migsafe::pg::testing`). Each test copies migrations-examples/release-20h (sqlx) into its
//! own project directory with a migsafe.toml naming its targets, each a fresh database, and runs
//! the binary there. Database names, ports and ages are masked in snapshots.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use insta_cmd::{assert_cmd_snapshot, get_cargo_bin};
use migsafe::verify::receipts::{self, Receipt, Receipts};

macro_rules! snap {
    ($($cmd:tt)*) => {
        insta::with_settings!({filters => vec![
            (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
            (r"plan_\d+_\d+", "[DB]"),
            (r"\b\d+[smhd] (ago|old)", "[AGE] $1"),
        ]}, {
            assert_cmd_snapshot!($($cmd)*)
        })
    };
}

struct Project {
    dir: tempfile::TempDir,
}

/// One `[[targets]]` entry: name, URL, wave.
struct T<'a>(&'a str, String, Option<&'a str>);

fn fresh() -> (String, String) {
    let (db, _) = migsafe::pg::testing::fresh_database("plan");
    let url = migsafe::pg::testing::cluster().url(&db);
    (db, url)
}

impl Project {
    /// `head` is written before the targets (top-level keys and tables such as `[snapshots]`).
    fn new(head: &str, targets: &[T<'_>]) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations-examples/release-20h/migrations");
        let dst = dir.path().join("migrations");
        std::fs::create_dir(&dst).unwrap();
        for e in std::fs::read_dir(src).unwrap().flatten() {
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
        let mut toml = format!("runner = \"sqlx\"\nmigrations_dir = \"migrations\"\n{head}\n");
        for T(name, url, wave) in targets {
            toml.push_str(&format!(
                "\n[[targets]]\nname = \"{name}\"\nurl = \"{url}\"\n"
            ));
            if let Some(w) = wave {
                toml.push_str(&format!("wave = \"{w}\"\n"));
            }
        }
        std::fs::write(dir.path().join("migsafe.toml"), toml).unwrap();
        Project { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(get_cargo_bin("migsafe"));
        c.current_dir(self.path())
            .env("NO_COLOR", "1")
            .env_remove("MIGSAFE_CONFIG")
            .env_remove("MIGSAFE_DATABASE_URL")
            .env_remove("MIGSAFE_FORMAT")
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null());
        c
    }

    fn migrations(&self) -> PathBuf {
        self.path().join("migrations")
    }

    /// Valid receipts for every migration, for the test cluster's PostgreSQL major version.
    fn write_receipts(&self) {
        let report = migsafe::lint::lint(&migsafe::lint::LintOptions {
            paths: vec![self.migrations()],
            ..Default::default()
        })
        .unwrap();
        let major = migsafe::pg::testing::cluster().major_version();
        let mut r = Receipts::default();
        for m in &report.projects[0].analysis.migrations {
            r.record(Receipt {
                id: m.migration.id(),
                up_sha256: receipts::sha256(&m.up.source[m.up.range.clone()]),
                down_sha256: m
                    .down
                    .as_ref()
                    .map(|d| receipts::sha256(&d.source[d.range.clone()])),
                postgres_major: major,
                migsafe_version: "test".into(),
                verified_at: receipts::now_rfc3339(),
            });
        }
        r.save(&self.path().join(receipts::DEFAULT_PATH)).unwrap();
    }

    /// Records the first `n` migrations in `db`'s `_sqlx_migrations`, the last one failed when
    /// `fail_last`.
    fn record_applied(&self, db: &str, n: usize, fail_last: bool) {
        let mut c = migsafe::pg::testing::cluster().connect(db).unwrap();
        c.batch_execute(
            "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL,
             installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL,
             checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL)",
        )
        .unwrap();
        let mut ups: Vec<PathBuf> = std::fs::read_dir(self.migrations())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".up.sql"))
            .collect();
        ups.sort();
        for (i, up) in ups.iter().take(n).enumerate() {
            let file = up.file_name().unwrap().to_string_lossy().into_owned();
            let (version, rest) = file.split_once('_').unwrap();
            let version: i64 = version.parse().unwrap();
            let success = !(fail_last && i + 1 == n);
            c.execute(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
                 VALUES ($1, $2, $3, sha384($4::bytea), 1)",
                &[
                    &version,
                    &rest.trim_end_matches(".up.sql").replace('_', " "),
                    &success,
                    &std::fs::read(up).unwrap(),
                ],
            )
            .unwrap();
        }
    }
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

/// Non-system relations and schemas of `db`: what plan must leave as it found them.
fn objects(db: &str) -> Vec<String> {
    let mut c = migsafe::pg::testing::cluster().connect(db).unwrap();
    c.query(
        "SELECT n.nspname || '.' || coalesce(c.relname, '') FROM pg_namespace n
         LEFT JOIN pg_class c ON c.relnamespace = n.oid
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
         ORDER BY 1",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

fn json_of(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn nothing_applied_blocks_irreversible_migrations_without_receipts_and_writes_nothing() {
    let (db, url) = fresh();
    let p = Project::new("", &[T("acct-1", url, None)]);
    let before = objects(&db);
    snap!(p.cmd().args(["plan", "--target", "acct-1"]));
    assert_eq!(objects(&db), before);
    assert!(!before.iter().any(|o| o.starts_with("migsafe.")));
    assert!(!before.iter().any(|o| o.contains("_sqlx_migrations")));
    // No file appeared next to the project either (the store check leaves nothing behind).
    assert!(!p.path().join("store").exists());
}

#[test]
fn valid_receipts_and_a_writable_store_make_the_target_ok() {
    let (db, url) = fresh();
    let p = Project::new(
        "[snapshots]\nstore = \"store\"\n",
        &[T("acct-1", url, None)],
    );
    p.write_receipts();
    snap!(p.cmd().args(["plan", "--target", "acct-1"]));
    let o = run(p
        .cmd()
        .args(["plan", "--target", "acct-1", "--format", "json"]));
    assert_eq!(o.status.code(), Some(0));
    let j = json_of(&o);
    let pending = j["targets"][0]["pending"].as_array().unwrap();
    assert_eq!(pending.len(), 6);
    assert!(
        pending
            .iter()
            .all(|m| m["receipt"] == "valid" && m["verdict"] == "ok")
    );
    assert_eq!(objects(&db), ["public."]);
    assert!(!p.path().join("store").exists());
}

#[test]
fn a_receipt_for_other_contents_is_stale() {
    let (_db, url) = fresh();
    let p = Project::new(
        "[snapshots]\nstore = \"store\"\n",
        &[T("acct-1", url, None)],
    );
    p.write_receipts();
    let up = p
        .migrations()
        .join("20241014090000_drop_accounts_legacy_plan.up.sql");
    let text = std::fs::read_to_string(&up).unwrap();
    std::fs::write(&up, format!("{text}\n-- edited\n")).unwrap();
    let o = run(p
        .cmd()
        .args(["plan", "--target", "acct-1", "--format", "json"]));
    assert_eq!(o.status.code(), Some(1));
    let j = json_of(&o);
    let m = j["targets"][0]["pending"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "20241014090000_drop_accounts_legacy_plan")
        .unwrap()
        .clone();
    assert_eq!(m["receipt"], "stale");
    assert_eq!(m["verdict"], "blocked");
}

#[test]
fn drill_max_age_requires_a_drill() {
    let (_db, url) = fresh();
    let p = Project::new(
        "[snapshots]\nstore = \"store\"\n\n[drill]\nmax_age = \"7d\"\n",
        &[T("acct-1", url, None)],
    );
    p.write_receipts();
    snap!(p.cmd().args(["plan", "--target", "acct-1"]));
}

#[test]
fn everything_applied_means_nothing_pending() {
    let (db, url) = fresh();
    let p = Project::new("", &[T("acct-1", url, None)]);
    p.record_applied(&db, 6, false);
    let before = objects(&db);
    snap!(p.cmd().args(["plan", "--target", "acct-1"]));
    assert_eq!(objects(&db), before);
}

#[test]
fn dirty_history_blocks_the_target() {
    let (db, url) = fresh();
    let p = Project::new("", &[T("acct-1", url, None)]);
    p.record_applied(&db, 3, true);
    snap!(p.cmd().args(["plan", "--target", "acct-1"]));
}

#[test]
fn unreachable_target_is_blocked_with_the_reason() {
    let p = Project::new(
        "",
        &[T(
            "gone",
            "postgres://postgres@127.0.0.1:1/nowhere?connect_timeout=5".into(),
            None,
        )],
    );
    snap!(p.cmd().args(["plan", "--target", "gone"]));
}

#[test]
fn a_wave_with_one_blocked_target_may_not_leak() {
    let (db1, url1) = fresh();
    let (_db2, url2) = fresh();
    let (db3, url3) = fresh();
    let p = Project::new(
        "waves = [\"internal\", \"beta\"]\n\n[snapshots]\nstore = \"store\"\n",
        &[
            T("acct-1", url1, Some("internal")),
            T("acct-2", url2, Some("beta")),
            T("acct-3", url3, Some("beta")),
        ],
    );
    p.write_receipts();
    p.record_applied(&db1, 6, false);
    p.record_applied(&db3, 2, true);
    snap!(p.cmd().args(["plan", "--wave", "beta"]));
    snap!(p.cmd().args(["plan", "--all"]));
    let o = run(p.cmd().args(["plan", "--all", "--format", "json"]));
    assert_eq!(o.status.code(), Some(1));
    let j = json_of(&o);
    assert_eq!(j["waves"][0]["name"], "internal");
    assert_eq!(j["waves"][0]["may_leak"], true);
    assert_eq!(j["waves"][1]["may_leak"], false);
    assert_eq!(
        j["waves"][1]["blocked_targets"],
        serde_json::json!(["acct-3"])
    );
}

#[test]
fn json_validates_against_the_generated_schema() {
    let (db1, url1) = fresh();
    let (_db2, url2) = fresh();
    let p = Project::new(
        "waves = [\"internal\", \"beta\"]\n\n[drill]\nmax_age = \"7d\"\n",
        &[
            T("acct-1", url1, Some("internal")),
            T("acct-2", url2, Some("beta")),
            T(
                "gone",
                "postgres://postgres@127.0.0.1:1/x?connect_timeout=5".into(),
                Some("beta"),
            ),
        ],
    );
    p.record_applied(&db1, 3, true);
    let o = run(p.cmd().args(["plan", "--all", "--format", "json"]));
    assert_eq!(o.status.code(), Some(1));
    let doc = json_of(&o);
    assert_eq!(doc["schema_version"], 1);
    let schema = serde_json::to_value(migsafe::plan::schema()).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.add_resource("urn:plan", schema).unwrap();
    let index = compiler.compile("urn:plan", &mut schemas).unwrap();
    if let Err(e) = schemas.validate(&doc, index) {
        panic!("{e:#}");
    }
    let mut broken = doc.clone();
    broken.as_object_mut().unwrap().remove("summary");
    assert!(schemas.validate(&broken, index).is_err());
}

#[test]
fn usage_errors_exit_2() {
    let (_db, url) = fresh();
    let p = Project::new(
        "waves = [\"internal\"]\n",
        &[T("acct-1", url, Some("internal"))],
    );
    snap!(p.cmd().args(["plan", "--target", "nope"]));
    snap!(p.cmd().args(["plan", "--wave", "nope"]));
    snap!(p.cmd().args(["plan"]));
    let empty = Project::new("", &[]);
    snap!(empty.cmd().args(["plan", "--all"]));
}

fn drill(store: &Path, target: &str, id: &str, hours_ago: i64, passed: bool) {
    use migsafe::drill::{DrillReport, DrillResult};
    let started = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(hours_ago))
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let report = DrillReport {
        schema_version: migsafe::drill::SCHEMA_VERSION,
        id: id.into(),
        snapshot: "s".into(),
        target: target.into(),
        kind: migsafe::snapshot::Kind::Targeted,
        bytes: 1,
        rows: 1,
        started_at: started,
        phases: vec![],
        restore_ms: 5,
        total_ms: 9,
        result: if passed {
            DrillResult::Passed
        } else {
            DrillResult::Failed
        },
        reasons: vec![],
        objects: vec![],
        scratch: "scratch cluster".into(),
        scratch_postgres: None,
        source_postgres: "15".into(),
        migsafe_version: "test".into(),
    };
    migsafe::drill::save(&migsafe::snapshot::Store::new(store), &report).unwrap();
}

#[test]
fn drill_gate_wants_a_recent_passing_drill_per_target() {
    let (_db1, url1) = fresh();
    let (_db2, url2) = fresh();
    let (_db3, url3) = fresh();
    let p = Project::new(
        "[snapshots]\nstore = \"store\"\n\n[drill]\nmax_age = \"7d\"\n",
        &[
            T("acct-1", url1, None),
            T("acct-2", url2, None),
            T("acct-3", url3, None),
        ],
    );
    p.write_receipts();
    let store = p.path().join("store");
    drill(&store, "acct-1", "20260101T000000Z-000001", 1, true);
    drill(&store, "acct-2", "20260101T000000Z-000002", 24 * 30, true);
    drill(&store, "acct-3", "20260101T000000Z-000003", 1, false);
    let o = run(p.cmd().args(["plan", "--target", "acct-1"]));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = run(p.cmd().args(["plan", "--all", "--format", "json"]));
    assert_eq!(o.status.code(), Some(1));
    let j = json_of(&o);
    let drill_gate = |t: usize| -> serde_json::Value {
        j["targets"][t]["pending"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["reversibility"] == "irreversible")
            .unwrap()["gates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["gate"] == "drill")
            .unwrap()
            .clone()
    };
    assert_eq!(drill_gate(0)["passed"], true);
    assert_eq!(drill_gate(1)["passed"], false);
    assert!(
        drill_gate(1)["detail"]
            .as_str()
            .unwrap()
            .contains("30d old")
    );
    assert_eq!(drill_gate(1)["fix"], "migsafe drill --target acct-2");
    assert_eq!(drill_gate(2)["passed"], false);
    assert!(drill_gate(2)["detail"].as_str().unwrap().contains("failed"));
    assert_eq!(j["targets"][0]["verdict"], "ok");
}

#[test]
fn edited_or_deleted_applied_migrations_block_the_target() {
    let (db, url) = fresh();
    let p = Project::new("", &[T("acct-1", url, None)]);
    p.record_applied(&db, 6, false);
    let m = p.migrations();
    std::fs::write(
        m.join("20240902091000_create_users.up.sql"),
        "CREATE TABLE users (id bigint PRIMARY KEY);\n",
    )
    .unwrap();
    std::fs::remove_file(m.join("20241014091000_normalize_invoice_currency.up.sql")).unwrap();
    std::fs::remove_file(m.join("20241014091000_normalize_invoice_currency.down.sql")).unwrap();
    snap!(p.cmd().args(["plan", "--target", "acct-1"]));
}

#[test]
fn many_targets_are_probed_and_reported_in_config_order() {
    let mut targets = vec![];
    let names: Vec<String> = (0..12).map(|i| format!("t{i:02}")).collect();
    for (i, n) in names.iter().enumerate() {
        let url = if i % 5 == 4 {
            "postgres://postgres@127.0.0.1:1/x?connect_timeout=5".to_string()
        } else {
            fresh().1
        };
        targets.push(T(n, url, None));
    }
    let p = Project::new("", &targets);
    let o = run(p.cmd().args(["plan", "--all", "--format", "json"]));
    assert_eq!(o.status.code(), Some(1));
    let j = json_of(&o);
    let got: Vec<&str> = j["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(got, names.iter().map(String::as_str).collect::<Vec<_>>());
    for (i, t) in j["targets"].as_array().unwrap().iter().enumerate() {
        let unreachable = t["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["message"].as_str().unwrap().starts_with("unreachable"));
        assert_eq!(unreachable, i % 5 == 4, "{t}");
    }
}

#[test]
fn help() {
    let p = Project::new("", &[]);
    snap!(p.cmd().args(["plan", "--help"]));
}
