//! `migsafe plan` as a release tool runs it, against this test process's scratch cluster
//! (`migsafe::pg::testing`). Each test copies migrations-examples/release-20h (sqlx) into its
//! own project directory with a migsafe.toml naming its targets, each a fresh database, and runs
//! the binary there. Database names, ports and ages are masked in snapshots.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use insta_cmd::{assert_cmd_snapshot, get_cargo_bin};

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
            .env_remove("MIGSAFE_SNAPSHOT_STORE")
            .env_remove(migsafe::plan::TEST_FREE_BYTES_ENV)
            .stdin(Stdio::null());
        c
    }

    fn migrations(&self) -> PathBuf {
        self.path().join("migrations")
    }

    /// The up scripts, in order.
    fn ups(&self) -> Vec<PathBuf> {
        let mut ups: Vec<PathBuf> = std::fs::read_dir(self.migrations())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".up.sql"))
            .collect();
        ups.sort();
        ups
    }

    /// Runs the first `n` up scripts on `db` and records them as applied: a real history.
    fn apply(&self, db: &str, n: usize) {
        let mut c = migsafe::pg::testing::cluster().connect(db).unwrap();
        for up in self.ups().iter().take(n) {
            c.batch_execute(&std::fs::read_to_string(up).unwrap())
                .unwrap();
        }
        self.record_applied(db, n, false);
    }

    /// Receipts for every migration from a real `migsafe verify` on the test cluster: each
    /// names the schema it was proven on, and the replay's schemas are recorded.
    fn write_receipts(&self) {
        let admin = migsafe::pg::testing::cluster().url("postgres");
        let out = run(self
            .cmd()
            .args(["verify", "migrations", "--database-url", &admin]));
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
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
        for (i, up) in self.ups().iter().take(n).enumerate() {
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

/// Validates a plan document against the generated schema.
fn validate(doc: &serde_json::Value) {
    let schema = serde_json::to_value(migsafe::plan::schema()).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.add_resource("urn:plan", schema).unwrap();
    let index = compiler.compile("urn:plan", &mut schemas).unwrap();
    if let Err(e) = schemas.validate(doc, index) {
        panic!("{e:#}");
    }
}

/// The pending migration `id` of target `t` in a plan document.
fn pending_of(j: &serde_json::Value, t: usize, id: &str) -> serde_json::Value {
    j["targets"][t]["pending"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("{id} not pending in {j}"))
        .clone()
}

fn gate(m: &serde_json::Value, name: &str) -> serde_json::Value {
    m["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == name)
        .unwrap_or_else(|| panic!("no gate {name} in {m}"))
        .clone()
}

const DROP_LEGACY: &str = "20241014090000_drop_accounts_legacy_plan";
const NORMALIZE: &str = "20241014091000_normalize_invoice_currency";

/// A target with the first four migrations really applied, 10,000 accounts with a 16-character
/// legacy_plan, 500 invoices, and fresh statistics.
fn target_with_rows() -> (String, String) {
    let (db, url) = fresh();
    let mut c = migsafe::pg::testing::cluster().connect(&db).unwrap();
    let p = Project::new("", &[]);
    p.apply(&db, 4);
    c.batch_execute(
        "INSERT INTO accounts (name, legacy_plan)
           SELECT 'account ' || i, 'legacy-plan-' || lpad(i::text, 4, '0')
           FROM generate_series(0, 9999) i;
         INSERT INTO invoices (account_id, amount_cents, currency)
           SELECT (SELECT min(id) FROM accounts), i, CASE WHEN i % 2 = 0 THEN 'DEM' END
           FROM generate_series(1, 500) i;
         ANALYZE accounts; ANALYZE invoices;",
    )
    .unwrap();
    (db, url)
}

#[test]
fn snapshot_estimates_come_from_table_statistics() {
    let (_db, url) = target_with_rows();
    let p = Project::new(
        "[snapshots]\nstore = \"store\"\n",
        &[T("acct-1", url, None)],
    );
    p.write_receipts();
    let o = run(p
        .cmd()
        .args(["plan", "--target", "acct-1", "--format", "json"]));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let j = json_of(&o);
    validate(&j);
    let drop = pending_of(&j, 0, DROP_LEGACY);
    let e = &drop["snapshot_estimate"];
    let objects = e["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 1, "{e}");
    assert_eq!(objects[0]["object"], "column public.accounts.legacy_plan");
    assert_eq!(objects[0]["rows"], 10_000);
    assert!(objects[0]["note"].is_null(), "{e}");
    // id (bigint, 8) and legacy_plan (16 characters + a varlena byte), one separator each:
    // 27 bytes a row; the real COPY text is 4–5 digits + tab + 16 + newline ≈ 22.
    let bytes = e["bytes"].as_u64().unwrap();
    assert!((200_000..=400_000).contains(&bytes), "{e}");
    assert_eq!(objects[0]["bytes"].as_u64().unwrap(), bytes);
    let secs = e["seconds"].as_f64().unwrap();
    assert!((secs - bytes as f64 / 120e6).abs() < 0.001, "{e}");
    assert_eq!(gate(&drop, "capture")["passed"], true);
    // An UPDATE with a WHERE: the whole table is the upper bound, and the note says so.
    let norm = pending_of(&j, 0, NORMALIZE);
    let o = &norm["snapshot_estimate"]["objects"][0];
    assert_eq!(o["object"], "values of public.invoices.currency");
    assert_eq!(o["rows"], 500);
    assert!(o["note"].as_str().unwrap().contains("upper bound"), "{o}");
    assert!(o["bytes"].as_u64().unwrap() > 0);
    // The target needs both; the store gate says how much.
    let total = bytes + o["bytes"].as_u64().unwrap();
    assert_eq!(j["targets"][0]["snapshot_bytes"], total);
    assert!(
        gate(&drop, "snapshot_store")["detail"]
            .as_str()
            .unwrap()
            .contains("free for an estimated"),
    );
    snap!(p.cmd().args(["plan", "--target", "acct-1"]));
}

#[test]
fn a_store_without_room_for_the_estimates_blocks() {
    let (_db, url) = target_with_rows();
    let p = Project::new(
        "[snapshots]\nstore = \"store\"\n",
        &[T("acct-1", url, None)],
    );
    p.write_receipts();
    let o = run(p
        .cmd()
        .env(migsafe::plan::TEST_FREE_BYTES_ENV, "1000")
        .args(["plan", "--target", "acct-1", "--format", "json"]));
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let j = json_of(&o);
    validate(&j);
    assert_eq!(j["snapshot_store"]["free_bytes"], 1000);
    let need = j["targets"][0]["snapshot_bytes"].as_u64().unwrap();
    for id in [DROP_LEGACY, NORMALIZE] {
        let g = gate(&pending_of(&j, 0, id), "snapshot_store");
        assert_eq!(g["passed"], false, "{g}");
        let detail = g["detail"].as_str().unwrap();
        assert!(
            detail.contains(&format!("{need} bytes needed, 1000 free")),
            "{g}"
        );
        assert!(
            g["fix"]
                .as_str()
                .unwrap()
                .contains("migsafe snapshot prune"),
            "{g}"
        );
    }
    snap!(
        p.cmd()
            .env(migsafe::plan::TEST_FREE_BYTES_ENV, "1000")
            .args(["plan", "--target", "acct-1"])
    );
    // Exactly enough room passes.
    let o = run(p
        .cmd()
        .env(migsafe::plan::TEST_FREE_BYTES_ENV, need.to_string())
        .args(["plan", "--target", "acct-1", "--format", "json"]));
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn store_flag_and_env_override_the_config() {
    let (_db, url) = fresh();
    // The configured store is a file: unusable.
    let p = Project::new(
        "[snapshots]\nstore = \"not-a-dir\"\n",
        &[T("acct-1", url, None)],
    );
    std::fs::write(p.path().join("not-a-dir"), "x").unwrap();
    p.write_receipts();
    let o = run(p
        .cmd()
        .args(["plan", "--target", "acct-1", "--format", "json"]));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json_of(&o)["snapshot_store"]["path"], "not-a-dir");
    let o = run(p.cmd().args([
        "plan",
        "--target",
        "acct-1",
        "--format",
        "json",
        "--store",
        "elsewhere",
    ]));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(json_of(&o)["snapshot_store"]["path"], "elsewhere");
    let o = run(p
        .cmd()
        .env("MIGSAFE_SNAPSHOT_STORE", "from-env")
        .args(["plan", "--target", "acct-1", "--format", "json"]));
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json_of(&o)["snapshot_store"]["path"], "from-env");
    // Nothing was created by the checks.
    assert!(!p.path().join("elsewhere").exists());
    assert!(!p.path().join("from-env").exists());
}

#[test]
fn a_statement_migsafe_cannot_capture_blocks_its_migration() {
    let (_db, url) = fresh();
    let p = Project::new(
        "[snapshots]\nstore = \"store\"\n",
        &[T("acct-1", url, None)],
    );
    let m = p.migrations();
    // DML whose form the old predictor could not read is observed while it runs: apply records
    // it, so plan does not block it.
    std::fs::write(
        m.join("20241101000000_zero_bad_invoices.up.sql"),
        "UPDATE invoices SET (amount_cents, currency) = (0, 'EUR') WHERE id < 0;\n",
    )
    .unwrap();
    std::fs::write(
        m.join("20241101000000_zero_bad_invoices.down.sql"),
        "SELECT 1;\n",
    )
    .unwrap();
    // Destroying DDL must be captured before it runs: a form migsafe cannot read blocks.
    std::fs::write(
        m.join("20241102000000_drop_currency.up.sql"),
        "ALTER TABLE invoices DROP COLUMN issued_at, ALTER COLUMN amount_cents SET STATISTICS 100;\n",
    )
    .unwrap();
    std::fs::write(
        m.join("20241102000000_drop_currency.down.sql"),
        "ALTER TABLE invoices ADD COLUMN issued_at timestamptz NOT NULL DEFAULT now(), ALTER COLUMN amount_cents SET STATISTICS -1;\n",
    )
    .unwrap();
    p.write_receipts();
    let o = run(p
        .cmd()
        .args(["plan", "--target", "acct-1", "--format", "json"]));
    assert_eq!(o.status.code(), Some(1));
    let j = json_of(&o);
    validate(&j);
    let z = pending_of(&j, 0, "20241101000000_zero_bad_invoices");
    assert_eq!(gate(&z, "capture")["passed"], true, "{z}");
    let d = pending_of(&j, 0, "20241102000000_drop_currency");
    assert_eq!(d["verdict"], "blocked");
    let g = gate(&d, "capture");
    assert_eq!(g["passed"], false);
    assert!(
        g["detail"]
            .as_str()
            .unwrap()
            .contains("cannot read this statement's form"),
        "{g}"
    );
    assert!(g["fix"].as_str().unwrap().contains("--full"), "{g}");
    // The others still pass: tables that do not exist yet estimate 0, with a note.
    let drop = pending_of(&j, 0, DROP_LEGACY);
    assert_eq!(drop["verdict"], "ok");
    assert_eq!(drop["snapshot_estimate"]["bytes"], 0);
    assert!(
        drop["snapshot_estimate"]["objects"][0]["note"]
            .as_str()
            .unwrap()
            .contains("not on the target yet")
    );
}

/// The estimate follows the FK actions a DELETE sets off and measures the values themselves: a
/// TOASTed value's statistics hold its compressed size, COPY writes it whole. Apply's capture
/// triggers are listed until they are installed.
#[test]
fn estimates_follow_cascades_and_measure_toasted_values() {
    let (db, url) = target_with_rows();
    let mut c = migsafe::pg::testing::cluster().connect(&db).unwrap();
    c.batch_execute(
        "CREATE TABLE invoice_notes (id bigint PRIMARY KEY, invoice_id bigint REFERENCES invoices (id) ON DELETE CASCADE, body text);
         CREATE TABLE invoice_tags (id bigint PRIMARY KEY, invoice_id bigint REFERENCES invoices (id) ON DELETE SET NULL, tag text);
         INSERT INTO invoice_notes SELECT i, i, repeat('n', 20) FROM generate_series(1, 500) i;
         INSERT INTO invoice_tags SELECT i, i, 'tag' FROM generate_series(1, 500) i;
         CREATE TABLE documents (id bigint PRIMARY KEY, body text);
         INSERT INTO documents SELECT i, repeat('abcdefgh', 12000) FROM generate_series(1, 40) i;
         ANALYZE invoice_notes; ANALYZE invoice_tags; ANALYZE documents;",
    )
    .unwrap();
    let p = Project::new(
        "[snapshots]\nstore = \"store\"\n",
        &[T("acct-1", url, None)],
    );
    let m = p.migrations();
    std::fs::write(
        m.join("20241101000000_purge.up.sql"),
        "DELETE FROM invoices WHERE amount_cents > 0;\nUPDATE documents SET body = 'redacted';\n",
    )
    .unwrap();
    std::fs::write(m.join("20241101000000_purge.down.sql"), "SELECT 1;\n").unwrap();
    let o = run(p
        .cmd()
        .args(["plan", "--target", "acct-1", "--format", "json"]));
    let j = json_of(&o);
    validate(&j);
    let purge = pending_of(&j, 0, "20241101000000_purge");
    let objects = purge["snapshot_estimate"]["objects"].as_array().unwrap();
    let find = |what: &str| {
        objects
            .iter()
            .find(|o| o["object"].as_str().unwrap().starts_with(what))
            .unwrap_or_else(|| panic!("no {what} in {objects:?}"))
            .clone()
    };
    let notes = find("rows of public.invoice_notes");
    assert!(
        notes["note"]
            .as_str()
            .unwrap()
            .contains("invoice_notes_invoice_id_fkey (ON DELETE CASCADE)"),
        "{notes}"
    );
    let tags = find("rows of public.invoice_tags");
    assert!(
        tags["note"].as_str().unwrap().contains("SET NULL"),
        "{tags}"
    );
    // 40 values of 96,000 characters, before and after: at least 40 × 96,000 bytes.
    let docs = find("values of public.documents.body");
    assert!(docs["bytes"].as_u64().unwrap() >= 40 * 96_000, "{docs}");
    let mut triggers: Vec<&str> = purge["capture_triggers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    triggers.sort();
    assert_eq!(
        triggers,
        [
            "public.documents",
            "public.invoice_notes",
            "public.invoice_tags",
            "public.invoices"
        ]
    );
    // Once installed (as apply does), nothing is left to install.
    let mut tx = c.transaction().unwrap();
    migsafe::ledger::ensure(&mut tx).unwrap();
    for t in ["invoices", "invoice_notes", "invoice_tags", "documents"] {
        let oid: u32 = tx
            .query_one("SELECT pg_catalog.to_regclass($1::text)::oid", &[&t])
            .unwrap()
            .get(0);
        migsafe::snapshot::observe::install(&mut tx, oid).unwrap();
    }
    tx.commit().unwrap();
    let o = run(p
        .cmd()
        .args(["plan", "--target", "acct-1", "--format", "json"]));
    let j = json_of(&o);
    let purge = pending_of(&j, 0, "20241101000000_purge");
    assert_eq!(purge["capture_triggers"], serde_json::json!([]), "{purge}");
}

#[test]
fn a_ledger_step_missing_from_the_runner_history_blocks_the_target() {
    let (db, url) = fresh();
    let p = Project::new(
        "[snapshots]\nstore = \"store\"\n",
        &[T("acct-1", url, None)],
    );
    p.write_receipts();
    p.record_applied(&db, 4, false);
    let mut c = migsafe::pg::testing::cluster().connect(&db).unwrap();
    let mut tx = c.transaction().unwrap();
    migsafe::ledger::ensure(&mut tx).unwrap();
    let at: jiff::Timestamp = "2026-11-01T10:00:00Z".parse().unwrap();
    migsafe::ledger::record_step(
        &mut tx,
        &migsafe::ledger::StepRecord {
            id: None,
            migration_id: DROP_LEGACY.into(),
            version: "20241014090000".into(),
            direction: migsafe::ledger::Direction::Up,
            started_at: at,
            finished_at: at,
            up_sha256: "ab".repeat(32),
            down_sha256: Some("cd".repeat(32)),
            snapshot_ids: vec![],
            snapshot_sha256: vec![],
            accepted_risk: None,
            runner: "sqlx".into(),
            execution_ms: 1,
            deferred: vec![],
            finalised_at: None,
        },
    )
    .unwrap();
    tx.commit().unwrap();
    let o = run(p
        .cmd()
        .args(["plan", "--target", "acct-1", "--format", "json"]));
    assert_eq!(o.status.code(), Some(1));
    let j = json_of(&o);
    assert_eq!(j["targets"][0]["verdict"], "blocked");
    let problems = j["targets"][0]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(
        problems[0]["message"],
        format!("the migsafe ledger records {DROP_LEGACY} as applied but sqlx's history does not")
    );
    snap!(p.cmd().args(["plan", "--target", "acct-1"]));
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
    validate(&doc);
    let schema = serde_json::to_value(migsafe::plan::schema()).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.add_resource("urn:plan", schema).unwrap();
    let index = compiler.compile("urn:plan", &mut schemas).unwrap();
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
    // Each target carries its latest drill: age and restore time.
    let d = &j["targets"][1]["drill"];
    assert_eq!(d["id"], "20260101T000000Z-000002");
    assert_eq!(d["passed"], true);
    assert_eq!(d["restore_seconds"], 0.005);
    let age = d["age_seconds"].as_u64().unwrap();
    assert!((30 * 86_400 - 60..30 * 86_400 + 600).contains(&age), "{d}");
    assert_eq!(j["targets"][2]["drill"]["passed"], false);
    validate(&j);
    snap!(p.cmd().args(["plan", "--target", "acct-2"]));
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

#[test]
fn estimates_cover_every_kind_of_capture() {
    let (db, url) = fresh();
    let p = Project::new(
        "[snapshots]\nstore = \"store\"\n",
        &[T("acct-1", url, None)],
    );
    p.apply(&db, 6);
    let mut c = migsafe::pg::testing::cluster().connect(&db).unwrap();
    c.batch_execute(
        "CREATE TABLE parent (id int PRIMARY KEY, v text);
         CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent (id), w text);
         INSERT INTO parent SELECT i, 'p' || i FROM generate_series(1, 200) i;
         INSERT INTO child SELECT i, 1 + i % 200, 'c' || i FROM generate_series(1, 300) i;
         CREATE TABLE events (at date NOT NULL, what text) PARTITION BY RANGE (at);
         CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
         CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
         INSERT INTO events SELECT '2024-06-01'::date + i, 'e' || i FROM generate_series(0, 399) i;
         CREATE TABLE raw (v text) WITH (autovacuum_enabled = false);
         INSERT INTO raw SELECT i::text FROM generate_series(1, 1000) i;
         CREATE SEQUENCE ticket_seq;
         CREATE SCHEMA scratch; CREATE TABLE scratch.tmp AS SELECT i FROM generate_series(1, 100) i;
         ANALYZE parent; ANALYZE child; ANALYZE events; ANALYZE scratch.tmp;",
    )
    .unwrap();
    let m = p.migrations();
    let pending = [
        (
            "20250101000001_truncate_parent",
            "TRUNCATE parent CASCADE;\n",
        ),
        ("20250101000002_drop_events", "DROP TABLE events;\n"),
        ("20250101000003_drop_seq", "DROP SEQUENCE ticket_seq;\n"),
        (
            "20250101000004_drop_scratch",
            "DROP SCHEMA scratch CASCADE;\n",
        ),
        (
            "20250101000005_delete_raw",
            "DELETE FROM raw WHERE v LIKE '1%';\n",
        ),
        (
            "20250101000006_retype_child",
            "ALTER TABLE child ALTER COLUMN w TYPE varchar(2);\n",
        ),
    ];
    for (id, up) in pending {
        std::fs::write(m.join(format!("{id}.up.sql")), up).unwrap();
        std::fs::write(m.join(format!("{id}.down.sql")), "SELECT 1;\n").unwrap();
    }
    let o = run(p
        .cmd()
        .args(["plan", "--target", "acct-1", "--format", "json"]));
    let j = json_of(&o);
    validate(&j);
    assert!(
        j["targets"][0]["problems"].as_array().unwrap().is_empty(),
        "{j}"
    );
    let objects = |id: &str| -> Vec<(String, u64, Option<u64>, String)> {
        let m = pending_of(&j, 0, id);
        assert_eq!(m["reversibility"], "irreversible", "{m}");
        m["snapshot_estimate"]["objects"]
            .as_array()
            .unwrap_or_else(|| panic!("{m}"))
            .iter()
            .map(|o| {
                (
                    o["object"].as_str().unwrap().to_string(),
                    o["bytes"].as_u64().unwrap(),
                    o["rows"].as_u64(),
                    o["note"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    let t = objects("20250101000001_truncate_parent");
    assert_eq!(t.len(), 2, "{t:?}");
    assert_eq!(t[0].0, "rows of public.parent");
    assert_eq!(t[0].2, Some(200));
    assert_eq!(t[1].0, "rows of public.child");
    assert_eq!(t[1].2, Some(300));
    assert!(t.iter().all(|o| o.1 > 0), "{t:?}");
    let e = objects("20250101000002_drop_events");
    assert_eq!(e[0].0, "table public.events");
    assert_eq!(e[0].2, Some(400), "{e:?}");
    assert!(e[0].1 > 0);
    let s = objects("20250101000003_drop_seq");
    assert_eq!((s[0].1, s[0].2), (100, Some(1)), "{s:?}");
    let sc = objects("20250101000004_drop_scratch");
    assert_eq!(sc[0].2, Some(100), "{sc:?}");
    assert!(sc[0].1 > 0 && sc[0].3.contains("pg_dump"), "{sc:?}");
    // Never analysed: its size on disk, rows unknown, and the note says why.
    let r = objects("20250101000005_delete_raw");
    assert_eq!(r[0].2, None, "{r:?}");
    assert!(r[0].1 > 0 && r[0].3.contains("never analysed"), "{r:?}");
    let c = objects("20250101000006_retype_child");
    assert_eq!(c[0].0, "values of public.child.w", "{c:?}");
    assert_eq!(c[0].2, Some(300));
}

#[test]
fn drift_blocks_irreversible_migrations_on_the_drifted_target_only() {
    let (clean_db, clean_url) = fresh();
    let (drift_db, drift_url) = fresh();
    let p = Project::new(
        "[snapshots]\nstore = \"store\"\n",
        &[
            T("clean", clean_url, Some("beta")),
            T("drifted", drift_url, Some("beta")),
        ],
    );
    p.apply(&clean_db, 4);
    p.apply(&drift_db, 4);
    // A hot fix made by hand in production and never pushed back.
    migsafe::pg::testing::cluster()
        .connect(&drift_db)
        .unwrap()
        .batch_execute("CREATE INDEX invoices_hotfix_idx ON invoices (currency)")
        .unwrap();
    p.write_receipts();
    let plan = |p: &Project| {
        let o = run(p.cmd().args(["plan", "--wave", "beta", "--format", "json"]));
        let j = json_of(&o);
        validate(&j);
        (o.status.code(), j)
    };
    let (code, j) = plan(&p);
    assert_eq!(code, Some(1), "{j}");
    let clean = &j["targets"][0];
    assert_eq!(clean["drift"]["status"], "in_step", "{clean}");
    assert_eq!(clean["drift"]["schema"], clean["drift"]["expected"]);
    assert_eq!(clean["verdict"], "ok", "{clean}");
    for m in clean["pending"].as_array().unwrap() {
        assert_eq!(m["proof"], "this_schema", "{m}");
        assert_eq!(m["proven_on"], "replay", "{m}");
        assert!(gate(m, "drift")["passed"].as_bool().unwrap(), "{m}");
    }
    let drifted = &j["targets"][1];
    assert_eq!(drifted["drift"]["status"], "drift", "{drifted}");
    assert_eq!(drifted["drift"]["expected"], clean["drift"]["schema"]);
    assert_eq!(drifted["verdict"], "blocked");
    assert_eq!(drifted["pending"].as_array().unwrap().len(), 2);
    for m in drifted["pending"].as_array().unwrap() {
        assert_eq!(m["reversibility"], "irreversible");
        assert_eq!(m["receipt"], "valid");
        assert_eq!(m["proof"], "elsewhere", "{m}");
        assert_eq!(m["verdict"], "blocked");
        let g = gate(m, "drift");
        assert_eq!(g["passed"], false);
        let fix = g["fix"].as_str().unwrap();
        assert!(fix.contains("migsafe drift --target drifted"), "{fix}");
        assert!(fix.contains("--target drifted"), "{fix}");
        // Every other gate passes: drift alone blocks.
        assert!(
            m["gates"]
                .as_array()
                .unwrap()
                .iter()
                .all(|g| g["gate"] == "drift" || g["passed"] == true),
            "{m}"
        );
    }
    assert_eq!(j["waves"][0]["may_leak"], false);
    assert_eq!(
        j["waves"][0]["blocked_targets"],
        serde_json::json!(["drifted"])
    );
    // apply judges the same gates after taking its lock: nothing is applied.
    let o = run(p.cmd().args(["apply", "--target", "drifted"]));
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("drift: drifted's schema drifted"), "{text}");
    let history: i64 = migsafe::pg::testing::cluster()
        .connect(&drift_db)
        .unwrap()
        .query_one("SELECT count(*) FROM _sqlx_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(history, 4);
    // `migsafe drift` names the difference plan only counts.
    let o = run(p.cmd().args(["drift", "--target", "drifted"]));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("index public.invoices_hotfix_idx"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    // Accepting the hot fix in [drift] ignore (and proving again under that rule) unblocks it.
    let toml = p.path().join("migsafe.toml");
    let base = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        format!(
            "{base}\n[drift]\nignore = [{{ object = \"index public.invoices_hotfix_idx\", reason = \"hot fix of incident 42\" }}]\n"
        ),
    )
    .unwrap();
    let (code, j) = plan(&p);
    assert_eq!(
        code,
        Some(1),
        "receipts proven under other ignore rules do not count: {j}"
    );
    assert_eq!(j["targets"][1]["pending"][0]["proof"], "elsewhere");
    p.write_receipts();
    let (code, j) = plan(&p);
    assert_eq!(code, Some(0), "{j}");
    assert_eq!(j["targets"][1]["drift"]["status"], "in_step");
    assert_eq!(j["targets"][1]["pending"][0]["proof"], "this_schema");

    // `[drift] blocks = false` shows where the down was proven and lets it pass.
    std::fs::write(&toml, format!("{base}\n[drift]\nblocks = false\n")).unwrap();
    let o = run(p.cmd().args(["plan", "--target", "drifted"]));
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(text.contains("drift: drifted"), "{text}");
    assert!(
        text.contains("receipt valid (proven elsewhere: replay)"),
        "{text}"
    );

    // Without the ignore rule, proving the downs on the drifted target's own schema unblocks
    // it: the receipts now name that schema, and plan follows them.
    std::fs::write(&toml, &base).unwrap();
    assert_eq!(plan(&p).0, Some(1));
    let admin = migsafe::pg::testing::cluster().url("postgres");
    let o = run(p.cmd().args([
        "verify",
        "migrations",
        "--target",
        "drifted",
        "--database-url",
        &admin,
    ]));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let (code, j) = plan(&p);
    assert_eq!(code, Some(0), "{j}");
    let drifted = &j["targets"][1];
    assert_eq!(
        drifted["drift"]["status"], "drift",
        "still drifted: {drifted}"
    );
    for m in drifted["pending"].as_array().unwrap() {
        assert_eq!(m["proof"], "this_schema", "{m}");
        assert_eq!(m["proven_on"], "target drifted", "{m}");
        assert!(gate(m, "drift")["passed"].as_bool().unwrap(), "{m}");
    }
    // The replay's proof still serves the clean target.
    for m in j["targets"][0]["pending"].as_array().unwrap() {
        assert_eq!(m["proven_on"], "replay", "{m}");
    }
}
