//! `migsafe verify --target NAME` against this test process's scratch cluster: each target is a
//! fresh database brought to the applied state with `migsafe apply`, then changed by hand the
//! way production drifts. The round trips run on the same cluster (`--database-url`), except
//! in one test that lets verify start a scratch cluster of its own, so the target's roles have
//! to be created there for its grants to restore.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use insta_cmd::get_cargo_bin;
use migsafe::pg::fingerprint::{Exclude, fingerprint};
use migsafe::pg::testing;

/// Applied on every target: creates the tables, then adds a column.
const INIT: (&str, &str, &str) = (
    "1_init",
    "CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);\n\
     CREATE TABLE orders (id bigint PRIMARY KEY, account_id bigint REFERENCES accounts (id), total int);\n",
    "DROP TABLE orders;\nDROP TABLE accounts;\n",
);
const ADD_NOTE: (&str, &str, &str) = (
    "2_add_note",
    "ALTER TABLE accounts ADD COLUMN note text;\n",
    "ALTER TABLE accounts DROP COLUMN note;\n",
);

struct Project {
    dir: tempfile::TempDir,
    /// The targets' databases, in the order of `new`'s names.
    dbs: Vec<String>,
}

impl Project {
    /// A sqlx project with `migrations` (name, up, down) whose targets `names` are fresh
    /// databases, plus a target `gone` whose database does not exist.
    fn new(migrations: &[(&str, &str, &str)], names: &[&str]) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("migrations");
        std::fs::create_dir(&m).unwrap();
        for (name, up, down) in migrations {
            std::fs::write(m.join(format!("{name}.up.sql")), up).unwrap();
            std::fs::write(m.join(format!("{name}.down.sql")), down).unwrap();
        }
        let mut toml = String::from(
            "runner = \"sqlx\"\nmigrations_dir = \"migrations\"\n[snapshots]\nstore = \"store\"\n",
        );
        let mut dbs = vec![];
        for name in names {
            let (db, _) = testing::fresh_database("vt");
            toml.push_str(&format!(
                "\n[[targets]]\nname = \"{name}\"\nurl = \"{}\"\n",
                testing::cluster().url(&db)
            ));
            dbs.push(db);
        }
        toml.push_str(&format!(
            "\n[[targets]]\nname = \"gone\"\nurl = \"{}\"\n",
            testing::cluster().url("verify_target_no_such_database")
        ));
        std::fs::write(dir.path().join("migsafe.toml"), toml).unwrap();
        Project { dir, dbs }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, args: &[&str]) -> Command {
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
        self.command(args).output().unwrap()
    }

    /// `migsafe verify` with the round trips on the test cluster.
    fn verify(&self, args: &[&str]) -> Output {
        self.command(args)
            .env("MIGSAFE_DATABASE_URL", testing::cluster().url("postgres"))
            .output()
            .unwrap()
    }

    /// Brings target `name` to `to` with `migsafe apply`.
    fn apply(&self, name: &str, to: &str) {
        expect(&self.run(&["apply", "--target", name, "--to", to, "-q"]), 0);
    }

    fn receipts(&self) -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(self.path().join(".migsafe/receipts.json")).unwrap(),
        )
        .unwrap()
    }

    /// Points target `name` at another URL.
    fn set_url(&self, db: &str, url: &str) {
        let toml = self.path().join("migsafe.toml");
        let text = std::fs::read_to_string(&toml).unwrap();
        std::fs::write(&toml, text.replace(&testing::cluster().url(db), url)).unwrap();
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

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

/// Everything verify --target could touch on the target: the whole schema (nothing excluded)
/// and sqlx's history rows.
fn state(db: &str) -> (String, Vec<String>) {
    let mut c = connect(db);
    let schema = fingerprint(&mut c, &Exclude::default()).unwrap().text;
    let rows = c
        .query(
            "SELECT row(t.*)::text FROM _sqlx_migrations t ORDER BY version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    (schema, rows)
}

/// The target's schema id as plan computes it (migsafe's schema and the history left out).
fn live_schema(db: &str) -> String {
    let exclude = Exclude {
        objects: vec!["migsafe.*".into(), "_sqlx_migrations".into()],
    };
    migsafe::drift::schema_id(&fingerprint(&mut connect(db), &exclude).unwrap(), &[])
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The receipt of migration `id`.
fn receipt<'a>(receipts: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    receipts["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no receipt for {id}: {receipts}"))
}

/// The case: production was hot-fixed by hand (a column added in an incident, and a
/// report view on it) and the migration that brings the column into the repository adds it
/// only if missing. Its down drops the column: fine on a replay, impossible on production.
#[test]
fn a_down_that_fails_only_on_the_targets_schema_is_caught() {
    let tier = (
        "3_add_tier",
        "ALTER TABLE accounts ADD COLUMN IF NOT EXISTS tier text;\n",
        "ALTER TABLE accounts DROP COLUMN tier;\n",
    );
    let p = Project::new(&[INIT, ADD_NOTE, tier], &["prod", "clean"]);
    p.apply("prod", "2");
    p.apply("clean", "2");
    connect(&p.dbs[0])
        .batch_execute(
            "ALTER TABLE accounts ADD COLUMN tier text;
             CREATE VIEW tier_report AS SELECT tier, note, count(*) FROM accounts GROUP BY tier, note;",
        )
        .unwrap();

    // A replay of the repository proves the down …
    let (out, _) = expect(&p.verify(&["verify"]), 0);
    assert!(
        out.contains("3 migrations verified: 3 passed, 0 failed"),
        "{out}"
    );
    assert_eq!(receipt(&p.receipts(), "3_add_tier")["proven_on"], "replay");

    // … which production's schema refutes.
    let before = state(&p.dbs[0]);
    let (out, _) = expect(&p.verify(&["verify", "--target", "prod"]), 1);
    assert!(
        out.contains(", on the schema of target prod (2 applied, schema "),
        "{out}"
    );
    assert!(out.contains("  FAILED   3_add_tier\n"), "{out}");
    assert!(out.contains("      down failed at "), "{out}");
    assert!(
        out.contains("view tier_report depends on column tier of table accounts"),
        "{out}"
    );
    assert!(
        out.contains("1 migration verified: 0 passed, 1 failed"),
        "{out}"
    );
    assert_eq!(
        state(&p.dbs[0]),
        before,
        "verify --target wrote to the target"
    );
    // The replay's receipt stays: --target adds evidence, it does not take any away.
    assert_eq!(receipt(&p.receipts(), "3_add_tier")["proven_on"], "replay");

    let (out, _) = expect(
        &p.verify(&["verify", "--target", "prod", "--format", "json"]),
        1,
    );
    let v = json(&out);
    assert_eq!(v["base"]["target"], "prod");
    assert_eq!(v["base"]["applied"], 2);
    assert_eq!(v["base"]["schema"], live_schema(&p.dbs[0]).as_str());
    let m = &v["projects"][0]["migrations"];
    assert_eq!(m.as_array().unwrap().len(), 1, "{out}");
    assert_eq!(m[0]["failures"][0]["kind"], "down_failed", "{out}");

    // On a target without the hand-made changes the same migration passes, and its receipt
    // says where: on the target's schema, as it is now.
    let clean = live_schema(&p.dbs[1]);
    let (out, _) = expect(&p.verify(&["verify", "--target", "clean"]), 0);
    assert!(
        out.contains(&format!(
            ", on the schema of target clean (2 applied, schema {})",
            &clean[..12]
        )),
        "{out}"
    );
    assert!(
        out.contains("1 migration verified: 1 passed, 0 failed; 1 receipt written"),
        "{out}"
    );
    let receipts = p.receipts();
    let r = receipt(&receipts, "3_add_tier");
    assert_eq!(r["proven_on"], "target clean");
    assert_eq!(r["schema_before"], clean.as_str());
    // The other receipts are the replay's.
    assert_eq!(receipt(&receipts, "1_init")["proven_on"], "replay");
}

/// A role that may only connect and read is enough, and nothing on the target changes.
#[test]
fn a_read_only_role_is_enough_and_the_target_is_unchanged() {
    let index = (
        "3_orders_total",
        "CREATE INDEX orders_total_idx ON orders (total);\n",
        "DROP INDEX orders_total_idx;\n",
    );
    let p = Project::new(&[INIT, ADD_NOTE, index], &["prod"]);
    p.apply("prod", "2");
    let db = &p.dbs[0];
    let role = format!("vt_reader_{db}");
    connect(db)
        .batch_execute(&format!(
            "INSERT INTO accounts (id, email) SELECT g, 'a' || g FROM generate_series(1, 10) g;
             CREATE ROLE {role} LOGIN;
             REVOKE ALL ON DATABASE {db} FROM PUBLIC;
             GRANT CONNECT ON DATABASE {db} TO {role};
             REVOKE CREATE ON SCHEMA public FROM PUBLIC;
             GRANT USAGE ON SCHEMA public, migsafe TO {role};
             GRANT SELECT ON ALL TABLES IN SCHEMA public, migsafe TO {role};
             GRANT SELECT ON ALL SEQUENCES IN SCHEMA public, migsafe TO {role};"
        ))
        .unwrap();
    p.set_url(
        db,
        &testing::cluster()
            .url(db)
            .replacen("postgres@", &format!("{role}@"), 1),
    );
    let before = state(db);
    let (out, err) = expect(
        &p.verify(&["verify", "--target", "prod", "--sample-rows", "3"]),
        0,
    );
    assert!(out.contains("  passed   3_orders_total"), "{out}\n{err}");
    assert!(
        out.contains("  sample: 3 rows copied from "),
        "{out}\n{err}"
    );
    assert_eq!(state(db), before, "verify --target wrote to the target");
    let receipts = p.receipts();
    let r = receipt(&receipts, "3_orders_total");
    assert_eq!(r["proven_on"], "target prod");
    assert_eq!(r["schema_before"], live_schema(db).as_str());
}

/// `--sample-rows N`: at most N rows per table, rows whose parent was not copied removed,
/// generated and identity columns handled, the target unchanged.
#[test]
fn sample_rows_are_capped_and_consistent() {
    let events = (
        "3_events",
        "CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n int NOT NULL, twice int GENERATED ALWAYS AS (n * 2) STORED);\n",
        "DROP TABLE events;\n",
    );
    let index = (
        "4_orders_total",
        "CREATE INDEX orders_total_idx ON orders (total);\nINSERT INTO events (n) VALUES (100);\n",
        "DROP INDEX orders_total_idx;\nDELETE FROM events WHERE n = 100;\n",
    );
    let p = Project::new(&[INIT, ADD_NOTE, events, index], &["prod"]);
    p.apply("prod", "3");
    let db = &p.dbs[0];
    // Orders refer to accounts 11..20, which a sample of 5 accounts (1..5) does not hold.
    connect(db)
        .batch_execute(
            "INSERT INTO accounts (id, email) SELECT g, 'a' || g FROM generate_series(1, 20) g;
             INSERT INTO orders (id, account_id, total) SELECT g, g + 10, g FROM generate_series(1, 10) g;
             INSERT INTO events (n) SELECT g FROM generate_series(1, 3) g;",
        )
        .unwrap();
    let before = state(db);
    let (out, err) = expect(
        &p.verify(&[
            "verify",
            "--target",
            "prod",
            "--sample-rows",
            "5",
            "--format",
            "json",
        ]),
        0,
    );
    let v = json(&out);
    let sampled: Vec<(String, u64, u64)> = v["base"]["sampled"]
        .as_array()
        .unwrap_or_else(|| panic!("{out}\n{err}"))
        .iter()
        .map(|s| {
            (
                s["table"].as_str().unwrap().to_string(),
                s["copied"].as_u64().unwrap(),
                s["removed"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sampled,
        [
            ("public.accounts".to_string(), 5, 0),
            ("public.events".to_string(), 3, 0),
            ("public.orders".to_string(), 5, 5),
        ],
        "{out}"
    );
    let m = &v["projects"][0]["migrations"];
    assert_eq!(m[0]["id"], "4_orders_total", "{out}");
    assert_eq!(m[0]["outcome"], "passed", "{out}");
    // Tables holding sample rows get no synthetic ones; the emptied one does.
    let seeded: Vec<&str> = m[0]["seeded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[0].as_str().unwrap())
        .collect();
    assert!(!seeded.iter().any(|t| t.contains("accounts")), "{out}");
    assert!(!seeded.iter().any(|t| t.contains("events")), "{out}");
    assert_eq!(state(db), before, "verify --target wrote to the target");
}

/// Without --database-url the round trips run on a scratch cluster of their own, which does
/// not know the target's roles: they are created there, so the target's grants restore and
/// the restored schema is the target's.
#[test]
fn roles_are_created_on_the_scratch_cluster_so_grants_restore() {
    let index = (
        "3_orders_total",
        "CREATE INDEX orders_total_idx ON orders (total);\n",
        "DROP INDEX orders_total_idx;\n",
    );
    let p = Project::new(&[INIT, ADD_NOTE, index], &["prod"]);
    p.apply("prod", "2");
    let db = &p.dbs[0];
    let role = format!("vt_report_{db}");
    connect(db)
        .batch_execute(&format!(
            "CREATE ROLE {role} NOLOGIN; GRANT SELECT ON accounts TO {role}; ALTER TABLE orders OWNER TO {role};"
        ))
        .unwrap();
    let live = live_schema(db);
    let (out, err) = expect(&p.run(&["verify", "--target", "prod"]), 0);
    assert!(
        out.contains("on a scratch cluster, on the schema of target prod"),
        "{out}"
    );
    assert!(!err.contains("warning"), "{err}");
    assert_eq!(
        receipt(&p.receipts(), "3_orders_total")["schema_before"],
        live.as_str()
    );

    // On a server of the user's (--database-url), the roles and databases migsafe created
    // there are removed afterwards.
    let other = migsafe::pg::Cluster::start().unwrap();
    std::fs::remove_file(p.path().join(".migsafe/receipts.json")).unwrap();
    let (out, err) = expect(
        &p.run(&[
            "verify",
            "--target",
            "prod",
            "--database-url",
            &other.url("postgres"),
        ]),
        0,
    );
    assert!(out.contains(", on the schema of target prod"), "{out}");
    assert!(!err.contains("warning"), "{err}");
    assert_eq!(
        receipt(&p.receipts(), "3_orders_total")["schema_before"],
        live.as_str()
    );
    let mut c = other.connect("postgres").unwrap();
    let roles: i64 = c
        .query_one("SELECT count(*) FROM pg_roles WHERE rolname = $1", &[&role])
        .unwrap()
        .get(0);
    assert_eq!(roles, 0, "the role migsafe created was not dropped");
    let dbs: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'migsafe%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(dbs, 0, "scratch databases were left behind");
}

#[test]
fn unknown_and_unreachable_targets_and_conflicts_exit_2() {
    let p = Project::new(&[INIT], &["prod"]);
    let (_, err) = expect(&p.verify(&["verify", "--target", "nope"]), 2);
    assert!(err.contains("unknown target `nope`"), "{err}");
    assert!(err.contains("defines prod, gone"), "{err}");

    let (_, err) = expect(&p.verify(&["verify", "--target", "gone"]), 2);
    assert!(err.contains("target `gone`"), "{err}");
    assert!(err.contains("unreachable"), "{err}");
    assert!(err.contains("verify_target_no_such_database"), "{err}");

    let (_, err) = expect(
        &p.verify(&["verify", "--target", "prod", "--check-receipts"]),
        2,
    );
    assert!(
        err.contains("the argument '--target <NAME>' cannot be used with '--check-receipts'"),
        "{err}"
    );
    let (_, err) = expect(
        &p.verify(&["verify", "--target", "prod", "--since", "HEAD"]),
        2,
    );
    assert!(
        err.contains("the argument '--target <NAME>' cannot be used with '--since <REV>'"),
        "{err}"
    );
    let (_, err) = expect(&p.verify(&["verify", "--sample-rows", "5"]), 2);
    assert!(err.contains("--target <NAME>"), "{err}");
}

/// A column `migsafe apply` kept aside on the target is restored with the rest, and left out
/// of the copy's schema ids as plan leaves it out of the target's: the receipts verify
/// --target writes prove the next migration on the very schema plan sees.
#[test]
fn columns_kept_aside_by_apply_keep_the_targets_schema_id() {
    const DROP_NOTE: (&str, &str, &str) = (
        "3_drop_note",
        "ALTER TABLE accounts DROP COLUMN note;\n",
        "ALTER TABLE accounts ADD COLUMN note text;\n",
    );
    const DROP_TOTAL: (&str, &str, &str) = (
        "4_drop_total",
        "ALTER TABLE orders DROP COLUMN total;\n",
        "ALTER TABLE orders ADD COLUMN total int;\n",
    );
    let p = Project::new(&[INIT, ADD_NOTE, DROP_NOTE, DROP_TOTAL], &["prod"]);
    expect(
        &p.run(&[
            "apply",
            "--target",
            "prod",
            "--to",
            "3",
            "--accept-risk",
            "test",
            "-q",
        ]),
        0,
    );
    let (out, _) = expect(&p.run(&["drift", "--target", "prod"]), 0);
    assert!(out.contains("1 column(s) kept aside"), "{out}");
    let before = state(&p.dbs[0]);

    let (out, err) = expect(
        &p.verify(&["verify", "--target", "prod", "--format", "json"]),
        0,
    );
    assert!(!err.contains("differs"), "{err}");
    let v = json(&out);
    assert!(v["base"]["restored_schema"].is_null(), "{v}");
    let r = receipt(&p.receipts(), "4_drop_total").clone();
    assert_eq!(r["proven_on"], "target prod", "{r}");

    let o = p.run(&["plan", "--target", "prod", "--format", "json"]);
    let plan = json(&text(&o.stdout));
    let t = &plan["targets"][0];
    assert_eq!(r["schema_before"], t["drift"]["schema"], "{t}");
    let m = &t["pending"][0];
    assert_eq!(m["id"], "4_drop_total");
    assert_eq!(m["proof"], "this_schema", "{m}");
    assert_eq!(m["proven_on"], "target prod", "{m}");
    assert_eq!(
        state(&p.dbs[0]),
        before,
        "verify --target changed the target"
    );
}

/// The target's `session` settings (the runner's search_path and role) are set on every
/// phase's session: a migration that names its table without a schema is verified as the
/// runner will run it.
#[test]
fn target_session_settings_reach_every_phase() {
    const APP: (&str, &str, &str) = (
        "1_app",
        "CREATE SCHEMA app;\nCREATE TABLE app.things (id bigint PRIMARY KEY);\n",
        "DROP SCHEMA app CASCADE;\n",
    );
    const NOTE: (&str, &str, &str) = (
        "2_note",
        "ALTER TABLE things ADD COLUMN note text;\n",
        "ALTER TABLE things DROP COLUMN note;\n",
    );
    let p = Project::new(&[APP, NOTE], &["prod"]);
    p.apply("prod", "1");
    let role = format!("owner_{}", p.dbs[0]);
    connect(&p.dbs[0])
        .batch_execute(&format!(
            "CREATE ROLE {role} NOLOGIN;
             ALTER SCHEMA app OWNER TO {role};
             ALTER TABLE app.things OWNER TO {role};"
        ))
        .unwrap();
    // Without them, `things` is nowhere on the search_path.
    let (out, _) = expect(&p.verify(&["verify", "--target", "prod"]), 1);
    assert!(out.contains("relation \"things\" does not exist"), "{out}");

    let toml = p.path().join("migsafe.toml");
    let url = format!("url = \"{}\"\n", testing::cluster().url(&p.dbs[0]));
    let text = std::fs::read_to_string(&toml).unwrap().replace(
        &url,
        &format!("{url}session = {{ search_path = \"app, public\", role = \"{role}\" }}\n"),
    );
    std::fs::write(&toml, text).unwrap();
    let before = state(&p.dbs[0]);
    let (out, err) = expect(&p.verify(&["verify", "--target", "prod"]), 0);
    assert!(out.contains("  passed   2_note"), "{out}\n{err}");
    assert_eq!(receipt(&p.receipts(), "2_note")["proven_on"], "target prod");
    assert_eq!(
        state(&p.dbs[0]),
        before,
        "verify --target changed the target"
    );

    // As a role that does not own the table, the up fails as it would for the runner: the
    // phases do not run as the verification server's superuser.
    let text = std::fs::read_to_string(&toml)
        .unwrap()
        .replace(&format!("role = \"{role}\""), "role = \"pg_read_all_data\"");
    std::fs::write(&toml, text).unwrap();
    let (out, err) = expect(&p.verify(&["verify", "--target", "prod"]), 1);
    assert!(
        format!("{out}{err}").contains("must be owner of table things"),
        "{out}\n{err}"
    );
}

/// On a verification server whose role is not a superuser (`--database-url` of a CREATEDB
/// role), the schema is restored without owners and grants, the report says so, and
/// `--sample-rows` (which switches foreign-key triggers off) is refused. Nothing is left there.
#[test]
fn a_verification_server_without_a_superuser_restores_without_owners() {
    let p = Project::new(&[INIT, ADD_NOTE], &["prod"]);
    p.apply("prod", "1");
    let role = format!("nosuper_{}", p.dbs[0]);
    connect("postgres")
        .batch_execute(&format!("CREATE ROLE {role} LOGIN CREATEDB"))
        .unwrap();
    // A grant the restore cannot carry without a superuser.
    connect(&p.dbs[0])
        .batch_execute(&format!(
            "CREATE ROLE reader_{role} NOLOGIN; GRANT SELECT ON accounts TO reader_{role}"
        ))
        .unwrap();
    let server = testing::cluster()
        .url("postgres")
        .replacen("postgres@", &format!("{role}@"), 1);
    let verify = |args: &[&str]| {
        p.command(args)
            .env("MIGSAFE_DATABASE_URL", &server)
            .output()
            .unwrap()
    };
    let (out, err) = expect(
        &verify(&["verify", "--target", "prod", "--format", "json"]),
        0,
    );
    let v = json(&out);
    let notes = v["base"]["notes"].to_string();
    assert!(
        notes.contains("not a superuser: the schema was restored without owners and grants"),
        "{notes}\n{err}"
    );
    // The copy lacks the grant: verify says so, and the receipt names the copy's schema, which
    // plan will show as proven elsewhere.
    assert!(
        err.contains("warning: the schema restored from target prod differs from the target's own"),
        "{err}"
    );
    assert!(
        err.contains("    --- target\n    +++ restored copy\n"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "-grant SELECT on table public.accounts to reader_{role}"
        )),
        "{err}"
    );
    let restored = v["base"]["restored_schema"].as_str().unwrap();
    assert_ne!(restored, v["base"]["schema"].as_str().unwrap());
    assert_eq!(v["base"]["schema"], live_schema(&p.dbs[0]).as_str());
    let r = receipt(&p.receipts(), "2_add_note").clone();
    assert_eq!(r["proven_on"], "target prod");
    assert_eq!(r["schema_before"], restored, "{r}");

    let (_, err) = expect(
        &verify(&["verify", "--target", "prod", "--sample-rows", "3"]),
        2,
    );
    assert!(err.contains("--sample-rows needs a superuser"), "{err}");
    let left: i64 = connect("postgres")
        .query_one(
            "SELECT count(*) FROM pg_database WHERE pg_get_userbyid(datdba) = $1",
            &[&role],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "scratch databases left behind");
}

/// On its own scratch cluster, `verify --target` runs the round trips as the role without
/// privileges, made a member of the roles that own the target's schema: a pending migration may
/// alter their tables, and one that would run a program cannot.
#[test]
fn round_trips_on_a_target_schema_run_without_privileges() {
    let tier = (
        "3_tier",
        "ALTER TABLE accounts ADD COLUMN tier text;\n",
        "ALTER TABLE accounts DROP COLUMN tier;\n",
    );
    let marker = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        marker.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let flag = marker.path().join("pwned");
    let sneaky_up = format!(
        "DO $$ BEGIN EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch {}'''; END $$;\n",
        flag.display()
    );
    let sneaky = ("4_sneaky", sneaky_up.as_str(), "SELECT 1;\n");
    let p = Project::new(&[INIT, ADD_NOTE, tier, sneaky], &["prod"]);
    p.apply("prod", "2");
    let db = &p.dbs[0];
    let role = format!("vt_app_{db}");
    connect(db)
        .batch_execute(&format!(
            "CREATE ROLE {role} NOLOGIN;
             ALTER TABLE accounts OWNER TO {role};
             ALTER TABLE orders OWNER TO {role};
             ALTER TABLE _sqlx_migrations OWNER TO {role};"
        ))
        .unwrap();
    let out = p.run(&["verify", "--target", "prod"]);
    let (o, e) = (text(&out.stdout), text(&out.stderr));
    assert!(!flag.exists(), "a program ran\n{o}\n{e}");
    assert_eq!(out.status.code(), Some(1), "{o}\n{e}");
    assert!(o.contains("passed   3_tier"), "{o}\n{e}");
    assert!(o.contains("FAILED   4_sneaky"), "{o}\n{e}");
    assert!(o.contains("pg_execute_server_program"), "{o}\n{e}");
}
