//! `migsafe drift` against this test process's scratch cluster: targets are set up with
//! `migsafe apply` from a copy of migrations-examples/release-20h (sqlx), then changed by hand
//! the way production drifts (an index made in an incident, a default dropped, a migration
//! file edited after it ran).

use std::path::Path;
use std::process::{Command, Output, Stdio};

use insta_cmd::get_cargo_bin;
use migsafe::pg::fingerprint::{Exclude, fingerprint};
use migsafe::pg::testing;

const PREVIOUS: &str = "20240930110000";

struct Project {
    dir: tempfile::TempDir,
    dbs: Vec<String>,
}

impl Project {
    /// A project whose targets are `names` (fresh databases), with `extra` TOML.
    fn new(names: &[&str], extra: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations-examples/release-20h/migrations");
        let dst = dir.path().join("migrations");
        std::fs::create_dir(&dst).unwrap();
        for e in std::fs::read_dir(src).unwrap().flatten() {
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
        let mut toml = format!(
            "runner = \"sqlx\"\nmigrations_dir = \"migrations\"\n{extra}\n[snapshots]\nstore = \"store\"\n"
        );
        let mut dbs = vec![];
        for name in names {
            let (db, _) = testing::fresh_database("drift");
            toml.push_str(&format!(
                "\n[[targets]]\nname = \"{name}\"\nurl = \"{}\"\nwave = \"all\"\n",
                testing::cluster().url(&db)
            ));
            dbs.push(db);
        }
        toml.push_str(&format!(
            "\n[[targets]]\nname = \"gone\"\nurl = \"{}\"\nwave = \"dead\"\n",
            testing::cluster().url("drift_no_such_database")
        ));
        std::fs::write(dir.path().join("migsafe.toml"), toml).unwrap();
        Project { dir, dbs }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(get_cargo_bin("migsafe"))
            .current_dir(self.path())
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("MIGSAFE_CONFIG")
            .env_remove("MIGSAFE_DATABASE_URL")
            .env_remove("MIGSAFE_SNAPSHOT_STORE")
            .env_remove("MIGSAFE_FORMAT")
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// `migsafe drift` building on the test cluster (no scratch cluster of its own).
    fn drift(&self, args: &[&str]) -> Output {
        let url = testing::cluster().url("postgres");
        let mut all = vec!["drift", "--database-url", url.as_str()];
        all.extend_from_slice(args);
        self.run(&all)
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

/// Everything drift could touch: the whole schema (nothing excluded) and sqlx's history rows.
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

fn set_up(p: &Project, target: &str) {
    expect(
        &p.run(&["apply", "--target", target, "--to", PREVIOUS, "-q"]),
        0,
    );
}

#[test]
fn a_clean_target_is_in_step_and_left_unchanged() {
    let p = Project::new(&["t", "u"], "");
    set_up(&p, "t");
    let before = state(&p.dbs[0]);
    // The scratch cluster of its own (no --database-url).
    let (out, _) = expect(&p.run(&["drift", "--target", "t"]), 0);
    assert!(out.contains("t (postgres://"), "{out}");
    assert!(
        out.contains(": in step (4 applied, up to 20240930110000_"),
        "{out}"
    );
    assert!(
        out.contains("no drift: 1 in step, 0 drifted, 0 unknown"),
        "{out}"
    );
    assert_eq!(
        state(&p.dbs[0]),
        before,
        "drift must not write to the target"
    );

    // Nothing applied on `u`: in step with an empty schema.
    let (out, _) = expect(&p.drift(&["--target", "u"]), 0);
    assert!(
        out.contains("u (") && out.contains(": in step (nothing applied)"),
        "{out}"
    );

    // A wave of two targets on different releases.
    let (out, _) = expect(&p.drift(&["--wave", "all"]), 0);
    assert!(out.contains("2 in step, 0 drifted"), "{out}");
}

#[test]
fn unknown_and_unreachable_targets() {
    let p = Project::new(&["t"], "");
    set_up(&p, "t");
    let (_, err) = expect(&p.drift(&["--target", "nope"]), 2);
    assert!(err.contains("unknown target `nope`"), "{err}");
    // Nothing could be compared: exit 2, the report still says why.
    let (out, err) = expect(&p.drift(&["--target", "gone"]), 2);
    assert!(
        out.contains("gone (") && out.contains(": unknown: unreachable"),
        "{out}"
    );
    assert!(err.contains("could not compare any target"), "{err}");
    // One target compared, one not: exit 1, the error is per target.
    let (out, _) = expect(&p.drift(&["--all"]), 1);
    assert!(out.contains("t (") && out.contains(": in step"), "{out}");
    assert!(out.contains(": unknown: unreachable"), "{out}");
    assert!(
        out.contains("could not compare every target: 1 in step, 0 drifted, 1 unknown"),
        "{out}"
    );
}

#[test]
fn drift_reports_each_hand_made_change_and_honours_ignore() {
    let p = Project::new(
        &["t"],
        "[drift]\nignore = [\n  { object = \"index public.*_tmp_idx\", reason = \"ops build these for reports\" },\n]\n",
    );
    set_up(&p, "t");
    connect(&p.dbs[0])
        .batch_execute(
            "CREATE INDEX accounts_name_idx ON accounts (name);
             CREATE INDEX accounts_report_tmp_idx ON accounts (created_at);
             ALTER TABLE users ALTER COLUMN role DROP DEFAULT;",
        )
        .unwrap();
    let file = p
        .path()
        .join("migrations/20240902090000_create_accounts.up.sql");
    let mut sql = std::fs::read_to_string(&file).unwrap();
    sql.push_str("-- edited after it ran\n");
    std::fs::write(&file, sql).unwrap();
    let before = state(&p.dbs[0]);

    let (out, _) = expect(&p.drift(&["--target", "t"]), 1);
    assert!(out.contains(": DRIFT, 3 difference(s) from what its migrations build (4 applied, up to 20240930110000_index_invoices_account_id)\n"), "{out}");
    assert!(
        out.contains("  extra index public.accounts_name_idx\n"),
        "{out}"
    );
    assert!(
        out.contains("      +index public.accounts_name_idx: CREATE INDEX accounts_name_idx ON public.accounts USING btree (name)\n"),
        "{out}"
    );
    assert!(
        out.contains("  changed column public.users.role\n"),
        "{out}"
    );
    assert!(
        out.contains("      -column public.users.role: text default 'member'::text not null\n      +column public.users.role: text not null\n"),
        "{out}"
    );
    assert!(
        out.contains("  edited migration 20240902090000_create_accounts\n"),
        "{out}"
    );
    assert!(
        out.contains("  ignored extra index public.accounts_report_tmp_idx (`index public.*_tmp_idx`): ops build these for reports\n"),
        "{out}"
    );
    assert!(
        !out.contains("  extra index public.accounts_report_tmp_idx"),
        "{out}"
    );
    assert!(
        out.contains("drift: 0 in step, 1 drifted, 0 unknown"),
        "{out}"
    );

    let (json, _) = expect(&p.drift(&["--target", "t", "--format", "json"]), 1);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["schema_version"], 1);
    insta::with_settings!({filters => vec![
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"drift_\d+_\d+", "[DB]"),
    ]}, {
        insta::assert_snapshot!("drift_json", json);
    });

    assert_eq!(
        state(&p.dbs[0]),
        before,
        "drift must not write to the target"
    );
}

#[test]
fn help_names_the_exit_codes() {
    let out = Command::new(get_cargo_bin("migsafe"))
        .args(["drift", "--help"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let (o, _) = expect(&out, 0);
    assert!(o.contains("Exit codes: 0 no drift, 1 drift"), "{o}");
    assert!(o.contains("migsafe drift --wave beta --format json"), "{o}");
}

/// A role that may only connect and read (SELECT on the tables, USAGE on the schema) is enough.
#[test]
fn a_read_only_role_is_enough() {
    // Its grants are drift too (the migrations do not make them): accepted here.
    let p = Project::new(
        &["t"],
        "[drift]\nignore = [{ object = \"grant * to drift_reader_*\", reason = \"the drift job's role\" }]\n",
    );
    set_up(&p, "t");
    let db = &p.dbs[0];
    let role = format!("drift_reader_{}", std::process::id());
    connect(db)
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN;
             REVOKE ALL ON DATABASE {db} FROM PUBLIC;
             GRANT CONNECT ON DATABASE {db} TO {role};
             REVOKE CREATE ON SCHEMA public FROM PUBLIC;
             GRANT USAGE ON SCHEMA public TO {role};
             GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role};"
        ))
        .unwrap();
    let url = testing::cluster()
        .url(db)
        .replacen("postgres@", &format!("{role}@"), 1);
    let toml = p.path().join("migsafe.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, text.replace(&testing::cluster().url(db), &url)).unwrap();
    let before = state(db);
    let (out, _) = expect(&p.drift(&["--target", "t"]), 0);
    assert!(out.contains(&format!("{role}@")), "{out}");
    assert!(out.contains(": in step (4 applied"), "{out}");
    assert!(
        out.contains(&format!("  ignored extra grant USAGE on schema public to {role} (`grant * to drift_reader_*`): the drift job's role\n")),
        "{out}"
    );
    assert_eq!(state(db), before, "drift must not write to the target");
}

#[test]
fn columns_kept_aside_by_apply_are_not_drift() {
    let p = Project::new(&["t"], "");
    set_up(&p, "t");
    // The release, applied with the soft drop of accounts.legacy_plan.
    expect(
        &p.run(&["apply", "--target", "t", "--accept-risk", "test", "-q"]),
        0,
    );
    let (out, _) = expect(&p.drift(&["--target", "t"]), 0);
    assert!(out.contains("in step (6 applied"), "{out}");
    assert!(out.contains("1 column(s) kept aside"), "{out}");
    // After finalise the column is gone for good, and still nothing drifts.
    expect(&p.run(&["finalise", "--target", "t", "-q"]), 0);
    let (out, _) = expect(&p.drift(&["--target", "t"]), 0);
    assert!(!out.contains("kept aside"), "{out}");
}

/// Drift's replay on its own scratch cluster runs the applied migrations as a role without
/// privileges: a migration that would run a program when replayed cannot, and the target is
/// reported as not comparable rather than the program running.
#[test]
fn the_replay_runs_without_privileges() {
    let p = Project::new(&["t"], "");
    let marker = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        marker.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let flag = marker.path().join("pwned");
    let m = p.path().join("migrations");
    std::fs::write(
        m.join("20240801000000_sneaky.up.sql"),
        format!(
            "DO $$ BEGIN\n  IF current_database() LIKE 'migsafe%drift%' THEN\n    EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch {}''';\n  END IF;\nEND $$;\n",
            flag.display()
        ),
    )
    .unwrap();
    std::fs::write(m.join("20240801000000_sneaky.down.sql"), "SELECT 1;\n").unwrap();
    expect(
        &p.run(&[
            "apply",
            "--target",
            "t",
            "--to",
            PREVIOUS,
            "-q",
            "--accept-risk",
            "a DO block lint cannot read",
        ]),
        0,
    );
    let out = p.run(&["drift", "--target", "t"]);
    let all = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
    assert!(!flag.exists(), "the replay ran a program\n{all}");
    assert!(
        all.contains("pg_execute_server_program"),
        "the replay says why it could not rebuild the schema\n{all}"
    );
}
