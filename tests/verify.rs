//! `migsafe verify` against real PostgreSQL. The commands run with `MIGSAFE_DATABASE_URL`
//! pointing at this test process's scratch cluster (`migsafe::pg::testing`), so the whole test
//! run shares one cluster; one test covers the embedded default, which starts its own.

use std::path::Path;
use std::process::{Command, Output};

use insta_cmd::{assert_cmd_snapshot, get_cargo_bin};

/// A snapshot with run times and the cluster's port masked.
macro_rules! snap {
    ($($cmd:tt)*) => {
        insta::with_settings!({filters => vec![
            (r"\d+ ms", "[N] ms"),
            (r"\(\d+\.\d s\)", "([TIME])"),
            (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        ]}, {
            assert_cmd_snapshot!($($cmd)*)
        })
    };
}

fn migsafe(dir: &Path) -> Command {
    let mut c = Command::new(get_cargo_bin("migsafe"));
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env(
            "MIGSAFE_DATABASE_URL",
            migsafe::pg::testing::cluster().url("postgres"),
        )
        .env_remove("MIGSAFE_CONFIG")
        .env_remove("DATABASE_URL");
    c
}

fn write(dir: &Path, rel: &str, content: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

/// A sqlx project whose first migration creates `accounts` (with an enum-typed column), then
/// the given migrations as (name, up, down).
fn project(migrations: &[(&str, &str, &str)]) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "sqlx.toml", "");
    write(
        t.path(),
        "migrations/1_init.up.sql",
        "CREATE TYPE plan_kind AS ENUM ('free', 'pro');\nCREATE TABLE accounts (\n  id bigint PRIMARY KEY,\n  email varchar(64) NOT NULL UNIQUE,\n  plan text,\n  kind plan_kind NOT NULL DEFAULT 'free'\n);\n",
    );
    write(
        t.path(),
        "migrations/1_init.down.sql",
        "DROP TABLE accounts;\nDROP TYPE plan_kind;\n",
    );
    for (i, (name, up, down)) in migrations.iter().enumerate() {
        let v = i + 2;
        write(t.path(), &format!("migrations/{v}_{name}.up.sql"), up);
        write(t.path(), &format!("migrations/{v}_{name}.down.sql"), down);
    }
    t
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_correct_down_passes_and_gets_a_receipt() {
    let t = project(&[(
        "plan_index",
        "CREATE INDEX accounts_plan_idx ON accounts (plan);\nALTER TABLE accounts ADD COLUMN note text DEFAULT 'n/a';\n",
        "ALTER TABLE accounts DROP COLUMN note;\nDROP INDEX accounts_plan_idx;\n",
    )]);
    snap!(migsafe(t.path()).args(["verify", "migrations"]));
    let receipts: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(t.path().join(".migsafe/receipts.json")).unwrap(),
    )
    .unwrap();
    let ids: Vec<&str> = receipts["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1_init", "2_plan_index"]);

    // The receipts now cover every migration …
    let check = migsafe(t.path())
        .args(["verify", "--check-receipts", "migrations"])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", stdout(&check));
    // … until a down changes: a receipt for other contents does not count.
    write(
        t.path(),
        "migrations/2_plan_index.down.sql",
        "DROP INDEX accounts_plan_idx;\nALTER TABLE accounts DROP COLUMN note;\n",
    );
    snap!(migsafe(t.path()).args(["verify", "--check-receipts", "migrations"]));
}

#[test]
fn a_down_that_forgets_something_fails_naming_it() {
    let t = project(&[
        (
            "forget_index",
            "CREATE INDEX accounts_plan_idx ON accounts (plan);\n",
            "SELECT 1;\n",
        ),
        (
            "forget_default",
            "ALTER TABLE accounts ALTER COLUMN plan SET DEFAULT 'basic';\n",
            "SELECT 1;\n",
        ),
        (
            "forget_constraint",
            "ALTER TABLE accounts ADD CONSTRAINT accounts_email_lower CHECK (email = lower(email));\n",
            "SELECT 1;\n",
        ),
        (
            "forget_enum_value",
            "ALTER TYPE plan_kind ADD VALUE 'enterprise';\n",
            "SELECT 1;\n",
        ),
    ]);
    let out = migsafe(t.path())
        .args(["verify", "migrations"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    for needle in [
        "FAILED   2_forget_index",
        "accounts_plan_idx",
        "FAILED   3_forget_default",
        "'basic'",
        "FAILED   4_forget_constraint",
        "accounts_email_lower",
        "FAILED   5_forget_enum_value",
        "enterprise",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    assert!(text.contains("passed   1_init"), "{text}");
    snap!(migsafe(t.path()).args(["verify", "migrations"]));
}

#[test]
fn a_down_that_errors_fails_with_its_location() {
    let t = project(&[(
        "index",
        "CREATE INDEX accounts_plan_idx ON accounts (plan);\n",
        "-- undo\nDROP INDEX accounts_plan_index;\n",
    )]);
    snap!(migsafe(t.path()).args(["verify", "migrations"]));
}

#[test]
fn an_up_that_errors_fails_with_its_location_and_stops_the_chain() {
    let t = project(&[
        (
            "bad",
            "ALTER TABLE accounts\n  ADD COLUMN x int REFERENCES nowhere (id);\n",
            "ALTER TABLE accounts DROP COLUMN x;\n",
        ),
        ("later", "SELECT 1;\n", "SELECT 1;\n"),
    ]);
    snap!(migsafe(t.path()).args(["verify", "migrations"]));
}

#[test]
fn a_dropped_column_is_reported_as_data_lost() {
    let t = project(&[(
        "drop_plan",
        "ALTER TABLE accounts DROP COLUMN plan;\n",
        "ALTER TABLE accounts ADD COLUMN plan text;\n",
    )]);
    let out = migsafe(t.path())
        .args(["verify", "--format", "json", "migrations"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = &doc["projects"][0]["migrations"][1];
    assert_eq!(m["id"], "2_drop_plan");
    assert_eq!(m["classified"], "irreversible");
    let lost = m["data_lost"].as_array().unwrap();
    assert!(
        lost.iter()
            .any(|c| c["column"] == "plan" && c["announced"] == true),
        "{m:#}"
    );
    snap!(migsafe(t.path()).args(["verify", "migrations"]));
}

/// The synthetic rows include what a filtering statement selects, so the round trip exercises
/// it: without `'legacy-gold'` among the seeded plans this DELETE would delete nothing and
/// verify would have proven nothing about it.
#[test]
fn seeded_rows_meet_the_predicates_of_the_projects_statements() {
    let t = project(&[(
        "purge_legacy_gold",
        "DELETE FROM accounts WHERE plan = 'legacy-gold' AND id > 0;\n",
        "SELECT 1;\n",
    )]);
    let out = migsafe(t.path())
        .args(["verify", "--format", "json", "migrations"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = &doc["projects"][0]["migrations"][1];
    assert_eq!(m["id"], "2_purge_legacy_gold");
    assert_eq!(m["classified"], "irreversible");
    let lost = m["data_lost"].as_array().unwrap();
    assert!(
        lost.iter()
            .any(|c| c["table"].as_str().unwrap().ends_with("accounts") && c["announced"] == true),
        "{m:#}"
    );
}

#[test]
fn data_lost_by_a_migration_classified_reversible_is_a_disagreement() {
    // Renaming is reversible; this down "undoes" it by dropping and re-adding, which loses the
    // values lint could not know about.
    let t = project(&[(
        "rename_plan",
        "ALTER TABLE accounts RENAME COLUMN plan TO tier;\n",
        "ALTER TABLE accounts DROP COLUMN tier;\nALTER TABLE accounts ADD COLUMN plan text;\n",
    )]);
    let out = migsafe(t.path())
        .args(["verify", "migrations"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("FAILED   2_rename_plan"), "{text}");
    assert!(text.contains("disagrees with lint"), "{text}");
    assert!(
        text.contains("accounts.plan") || text.contains("public.accounts.plan"),
        "{text}"
    );
}

#[test]
fn concurrently_runs_where_the_runner_runs_statements_outside_a_transaction() {
    // golang-migrate sends a one-statement file as a lone simple query: no transaction block.
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "migrations/000001_init.up.sql",
        "CREATE TABLE t (id int PRIMARY KEY, v text);\n",
    );
    write(
        t.path(),
        "migrations/000001_init.down.sql",
        "DROP TABLE t;\n",
    );
    write(
        t.path(),
        "migrations/000002_idx.up.sql",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_v_idx ON t (v);\n",
    );
    write(
        t.path(),
        "migrations/000002_idx.down.sql",
        "DROP INDEX CONCURRENTLY IF EXISTS t_v_idx;\n",
    );
    write(t.path(), "migsafe.toml", "runner = \"golang-migrate\"\n");
    let out = migsafe(t.path())
        .args(["verify", "migrations"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // In a runner that wraps each migration in a transaction, the same index fails, located.
    let t = project(&[(
        "idx",
        "CREATE INDEX CONCURRENTLY accounts_plan_idx ON accounts (plan);\n",
        "DROP INDEX accounts_plan_idx;\n",
    )]);
    let out = migsafe(t.path())
        .args(["verify", "migrations"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("migrations/2_idx.up.sql:1:1: CREATE INDEX CONCURRENTLY cannot run inside a transaction block"),
        "{text}"
    );
}

#[test]
fn every_runner_example_verifies() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (example, code) in [
        ("diesel", 0),
        ("sqlx", 0),
        ("golang-migrate", 0),
        ("goose", 0),
        ("dbmate", 0),
        ("flyway", 0),
        ("sqitch", 0),
        ("release-20h", 0),
        // Runners without down scripts: nothing can be proven, and verify says so.
        ("refinery", 1),
        ("plain", 1),
    ] {
        let receipts = tempfile::tempdir().unwrap();
        let out = migsafe(repo)
            .args([
                "verify",
                &format!("migrations-examples/{example}"),
                "--receipts",
            ])
            .arg(receipts.path().join("r.json"))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{example}:\n{}\n{}",
            stdout(&out),
            String::from_utf8_lossy(&out.stderr)
        );
        if code == 1 {
            assert!(stdout(&out).contains("not proven"), "{}", stdout(&out));
        }
    }
}

#[test]
fn without_createdb_the_error_says_so() {
    let cluster = migsafe::pg::testing::cluster();
    let role = format!("no_createdb_{}", std::process::id());
    let mut admin = cluster.connect("postgres").unwrap();
    admin
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN NOCREATEDB"
        ))
        .unwrap();
    let t = project(&[]);
    let url = format!("postgres://{role}@127.0.0.1:{}/postgres", cluster.port());
    let out = migsafe(t.path())
        .env("MIGSAFE_DATABASE_URL", url)
        .args(["verify", "migrations"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CREATEDB"), "{err}");
}

#[test]
fn passwords_never_appear_in_output() {
    let cluster = migsafe::pg::testing::cluster();
    let t = project(&[]);
    // Trust authentication accepts any password, so this connects, and the password must not
    // show up anywhere.
    let url = format!(
        "postgres://postgres:s3cret-pw@127.0.0.1:{}/postgres",
        cluster.port()
    );
    let out = migsafe(t.path())
        .env("MIGSAFE_DATABASE_URL", &url)
        .args(["verify", "--format", "json", "migrations"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let all = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(!all.contains("s3cret-pw"), "{all}");
    let bad = "postgres://postgres:s3cret-pw@127.0.0.1:1/postgres".to_string();
    let out = migsafe(t.path())
        .env("MIGSAFE_DATABASE_URL", &bad)
        .args(["verify", "migrations"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let all = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(!all.contains("s3cret-pw"), "{all}");
    assert!(all.contains("***"), "{all}");
}

#[test]
fn check_receipts_without_a_receipts_file_lists_every_migration() {
    let t = project(&[("noop", "SELECT 1;\n", "SELECT 1;\n")]);
    snap!(migsafe(t.path()).args(["verify", "--check-receipts", "migrations"]));
}

#[test]
fn the_embedded_scratch_cluster_is_the_default() {
    let t = project(&[]);
    let out = migsafe(t.path())
        .env_remove("MIGSAFE_DATABASE_URL")
        .args(["verify", "migrations"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).contains("a scratch cluster"),
        "{}",
        stdout(&out)
    );
}

/// Verify on its own scratch cluster runs migrations as a role without privileges: what a
/// pull request could do with a superuser (run a program on the CI machine, create untrusted
/// extensions such as dblink, change the server's configuration) fails at the statement, with
/// its file and line, and nothing happens on the machine.
#[test]
fn untrusted_migrations_run_without_privileges() {
    let marker = tempfile::tempdir().unwrap();
    // Writable by the server's OS user, so that a program it ran could leave the flag.
    std::fs::set_permissions(
        marker.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let flag = marker.path().join("pwned");
    for (name, up, expected) in [
        (
            "copy_to_program",
            format!(
                "SELECT 1;\nCOPY (SELECT 1) TO PROGRAM 'touch {}';\n",
                flag.display()
            ),
            "2_copy_to_program.up.sql:2:1: must be superuser or have privileges of the pg_execute_server_program role",
        ),
        (
            "dblink",
            "CREATE EXTENSION dblink;\n".to_string(),
            "2_dblink.up.sql:1:1: permission denied to create extension \"dblink\"",
        ),
        (
            "alter_system",
            "-- no-transaction\nALTER SYSTEM SET work_mem = '1MB';\n".to_string(),
            "2_alter_system.up.sql:1:1: permission denied to set parameter \"work_mem\"",
        ),
        (
            // A CHECK that would run a program if the rows migsafe seeds were inserted by a
            // superuser: seeding runs with the migrations' privileges.
            "check_as_superuser",
            format!(
                "CREATE FUNCTION ok(int) RETURNS bool LANGUAGE plpgsql AS $f$ BEGIN\n\
                 IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN\n\
                 EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch {}''';\n\
                 END IF; RETURN true; END $f$;\n\
                 CREATE TABLE guarded (id int PRIMARY KEY CHECK (ok(id)));\n",
                flag.display()
            ),
            "",
        ),
        (
            "read_file",
            "SELECT pg_read_file('/etc/hostname');\n".to_string(),
            "2_read_file.up.sql:1:1: permission denied for function pg_read_file",
        ),
    ] {
        let t = project(&[
            (name, &up, "SELECT 1;\n"),
            ("later", "SELECT 1;\n", "SELECT 1;\n"),
        ]);
        let out = migsafe(t.path())
            .env_remove("MIGSAFE_DATABASE_URL")
            .args(["verify", "migrations"])
            .output()
            .unwrap();
        let all = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
        assert!(
            !flag.exists(),
            "{name}: a program ran on the machine\n{all}"
        );
        if expected.is_empty() {
            continue;
        }
        assert_eq!(out.status.code(), Some(1), "{name}\n{all}");
        assert!(all.contains(&format!("FAILED   2_{name}")), "{name}\n{all}");
        assert!(
            all.contains(expected),
            "{name}: expected {expected:?}\n{all}"
        );
    }
}

/// Trusted extensions are the database owner's to create; `[verify] extensions` creates the
/// others (as the scratch cluster's superuser, before the run); `[verify] superuser = true`
/// opts back into running migrations as superuser.
#[test]
fn trusted_extensions_and_the_verify_settings() {
    let t = project(&[
        (
            "pgcrypto",
            "CREATE EXTENSION pgcrypto;\nCREATE TABLE secrets (id int PRIMARY KEY, h bytea DEFAULT digest('x', 'sha256'));\n",
            "DROP TABLE secrets;\nDROP EXTENSION pgcrypto;\n",
        ),
        (
            "uses_dblink",
            "CREATE VIEW links AS SELECT dblink_get_connections() AS c;\n",
            "DROP VIEW links;\n",
        ),
    ]);
    let verify = |t: &tempfile::TempDir| {
        let out = migsafe(t.path())
            .env_remove("MIGSAFE_DATABASE_URL")
            .args(["verify", "migrations"])
            .output()
            .unwrap();
        (
            out.status.code(),
            format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr)),
        )
    };
    // Without the setting, dblink's functions do not exist.
    let (code, all) = verify(&t);
    assert_eq!(code, Some(1), "{all}");
    assert!(all.contains("passed   2_pgcrypto"), "{all}");
    assert!(all.contains("FAILED   3_uses_dblink"), "{all}");
    write(
        t.path(),
        "migsafe.toml",
        "[verify]\nextensions = [\"dblink\"]\n",
    );
    let (code, all) = verify(&t);
    assert_eq!(code, Some(0), "{all}");
    // The superuser opt-in: a superuser-only statement passes.
    let t = project(&[(
        "alter_system",
        "-- no-transaction\nALTER SYSTEM SET work_mem = '1MB';\n",
        "-- no-transaction\nALTER SYSTEM RESET work_mem;\n",
    )]);
    write(t.path(), "migsafe.toml", "[verify]\nsuperuser = true\n");
    let (code, all) = verify(&t);
    assert_eq!(code, Some(0), "{all}");
}

/// A migration's file name is shown, never obeyed: no terminal escape or bidirectional
/// override reaches the output, human or JSON, and JSON still reads back the real name.
#[test]
fn hostile_file_names_are_escaped_in_verify_output() {
    let t = project(&[("esc\u{1b}[2Jred\u{202e}lqs", "SELECT 1;\n", "SELECT 1;\n")]);
    let out = migsafe(t.path())
        .args(["verify", "migrations"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{202e}'),
        "{text:?}"
    );
    assert!(text.contains("2_esc\\e[2Jred\\u202elqs"), "{text}");
    let out = migsafe(t.path())
        .args(["verify", "--format", "json", "migrations"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{202e}'),
        "{text:?}"
    );
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        doc["projects"][0]["migrations"][1]["id"],
        "2_esc\u{1b}[2Jred\u{202e}lqs"
    );
}

#[test]
fn each_phase_runs_on_a_session_of_its_own() {
    // The up leaves its session on search_path `app`; in production the down runs in another
    // session, where the unqualified name does not resolve. Verify must see that, not pass.
    let t = project(&[(
        "app_schema",
        "CREATE SCHEMA app;\nSET search_path = app;\nCREATE TABLE widgets (id int);\n",
        "DROP TABLE widgets;\nDROP SCHEMA app;\n",
    )]);
    let o = migsafe(t.path())
        .args(["verify", "migrations", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let m = &j["projects"][0]["migrations"][1];
    assert_eq!(m["id"], "2_app_schema");
    assert_eq!(m["failures"][0]["kind"], "down_failed", "{m}");
    assert!(
        m["failures"][0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"widgets\" does not exist"),
        "{m}"
    );
}

#[test]
fn receipts_name_the_schemas_of_the_replay() {
    let t = project(&[(
        "note",
        "ALTER TABLE accounts ADD COLUMN note text;\n",
        "ALTER TABLE accounts DROP COLUMN note;\n",
    )]);
    let o = migsafe(t.path())
        .args(["verify", "migrations"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let r: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(t.path().join(".migsafe/receipts.json")).unwrap(),
    )
    .unwrap();
    let receipts = r["receipts"].as_array().unwrap();
    assert_eq!(receipts.len(), 2);
    // A chain: each round trip starts from the schema the previous up left.
    assert_eq!(receipts[1]["schema_before"], receipts[0]["schema_after"]);
    assert_ne!(receipts[0]["schema_before"], receipts[0]["schema_after"]);
    assert!(receipts.iter().all(|r| r["proven_on"] == "replay"));
    // And the schema each prefix builds: nothing, 1_init, both.
    let schemas = r["schemas"].as_array().unwrap();
    let applied: Vec<u64> = schemas
        .iter()
        .map(|s| s["applied"].as_u64().unwrap())
        .collect();
    assert_eq!(applied, [0, 1, 2]);
    assert_eq!(schemas[0]["schema"], receipts[0]["schema_before"]);
    assert_eq!(schemas[1]["schema"], receipts[0]["schema_after"]);
    assert_eq!(schemas[2]["schema"], receipts[1]["schema_after"]);
    assert_eq!(schemas[2]["last_applied"], "2_note");
    // Editing a migration forgets the schemas of the prefixes through it.
    write(
        t.path(),
        "migrations/2_note.up.sql",
        "ALTER TABLE accounts ADD COLUMN note varchar(10);\n",
    );
    let o = migsafe(t.path())
        .args(["verify", "migrations"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let r2: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(t.path().join(".migsafe/receipts.json")).unwrap(),
    )
    .unwrap();
    let s2 = r2["schemas"].as_array().unwrap();
    assert_eq!(s2.len(), 3, "{s2:?}");
    assert_eq!(s2[1], schemas[1]);
    assert_ne!(s2[2]["applied_sha256"], schemas[2]["applied_sha256"]);
    assert_ne!(s2[2]["schema"], schemas[2]["schema"]);
}
