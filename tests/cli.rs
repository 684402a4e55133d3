//! The binary as a user runs it: exit codes, stdout and stderr, for every command path and
//! every error path. Fixtures are written to a temp directory and commands run inside it, so
//! paths in snapshots are stable.

use std::path::Path;
use std::process::Command;

use insta_cmd::{assert_cmd_snapshot, get_cargo_bin};

/// A CLI snapshot with the run time in the summary line masked.
macro_rules! snap {
    ($($cmd:tt)*) => {
        insta::with_settings!({filters => vec![(r"\(\d+ ms\)", "([TIME])")]}, {
            assert_cmd_snapshot!($($cmd)*)
        })
    };
}

fn migsafe(dir: &Path) -> Command {
    let mut c = Command::new(get_cargo_bin("migsafe"));
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("MIGSAFE_CONFIG")
        .env_remove("MIGSAFE_FORMAT")
        .env_remove("GITHUB_WORKSPACE")
        .env_remove("CI_PROJECT_DIR");
    c
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn write(dir: &Path, rel: &str, content: impl AsRef<[u8]>) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

fn sqlx_project(up: &str, down: Option<&str>) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "sqlx.toml", "");
    write(
        t.path(),
        "migrations/1_init.up.sql",
        "CREATE TABLE accounts (id bigint PRIMARY KEY, plan text, email varchar(64));\n",
    );
    write(
        t.path(),
        "migrations/1_init.down.sql",
        "DROP TABLE accounts;\n",
    );
    write(t.path(), "migrations/2_change.up.sql", up);
    if let Some(d) = down {
        write(t.path(), "migrations/2_change.down.sql", d);
    }
    t
}

#[test]
fn release_20h_reports_both_irreversible_migrations_and_exits_1() {
    snap!(migsafe(repo()).args(["lint", "migrations-examples/release-20h"]));
}

#[test]
fn every_runner_example_lints() {
    for runner in [
        "diesel",
        "sqlx",
        "golang-migrate",
        "goose",
        "dbmate",
        "flyway",
        "refinery",
        "sqitch",
        "plain",
    ] {
        let out = migsafe(repo())
            .args([
                "lint",
                "--format",
                "json",
                &format!("migrations-examples/{runner}"),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.code() == Some(0) || out.status.code() == Some(1),
            "{runner}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["projects"][0]["runner"], runner, "{runner}");
        assert!(
            json["summary"]["migrations"].as_u64().unwrap() >= 3,
            "{runner}"
        );
        assert_eq!(
            json["summary"]["unknown"], 0,
            "{runner} has statements migsafe cannot read"
        );
    }
}

#[test]
fn clean_migrations_exit_0() {
    let t = sqlx_project(
        "ALTER TABLE accounts ADD COLUMN note text;\n",
        Some("ALTER TABLE accounts DROP COLUMN note;\n"),
    );
    snap!(migsafe(t.path()).args(["lint", "migrations"]));
}

#[test]
fn json_output_has_counts_effects_and_findings() {
    let t = sqlx_project(
        "SET lock_timeout = '2s';\nALTER TABLE accounts DROP COLUMN plan;\n",
        Some("ALTER TABLE accounts ADD COLUMN plan text;\n"),
    );
    let out = migsafe(t.path())
        .args(["lint", "--format", "json", "migrations"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.is_empty());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    insta::assert_json_snapshot!(json, {".migsafe_version" => "[version]"});
}

#[test]
fn ignore_directive_suppresses_one_rule_and_keeps_its_reason() {
    let t = sqlx_project(
        "SET lock_timeout = '2s';\n-- migsafe:ignore drop-column plan was never written in production\nALTER TABLE accounts DROP COLUMN plan;\n",
        Some("ALTER TABLE accounts ADD COLUMN plan text;\n"),
    );
    let out = migsafe(t.path())
        .args(["lint", "--format", "json", "migrations"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &json["projects"][0]["migrations"][1]["findings"][0];
    assert_eq!(f["rule"], "MS002");
    assert_eq!(f["suppressed"], "plan was never written in production");
    // Suppressing a finding does not make the migration reversible.
    assert_eq!(
        json["projects"][0]["migrations"][1]["reversibility"]["status"],
        "irreversible"
    );
}

#[test]
fn ignore_directive_without_reason_or_with_unknown_rule_is_a_finding() {
    let t = sqlx_project(
        "-- migsafe:ignore drop-column\nALTER TABLE accounts DROP COLUMN plan;\n-- migsafe:ignore drop-colunm typo\nALTER TABLE accounts ADD COLUMN note text;\n",
        Some("SELECT 1;\n"),
    );
    snap!(migsafe(t.path()).args(["lint", "migrations"]));
}

/// The forms of `migsafe:ignore` people write, one that suppresses nothing (MS904) and malformed
/// ones (MS903), as the human report shows them.
const DIRECTIVES: &str = "\
SET lock_timeout = '2s';
ALTER TABLE accounts DROP COLUMN plan; -- MIGSAFE:IGNORE drop-column plan was never written
/* migsafe: ignore MS009,MS201
   emails are checked to fit; clients read both names for a release */
ALTER TABLE accounts ALTER COLUMN email TYPE varchar(32);
-- migsafe:ignore MS106 the index is small
ALTER TABLE accounts RENAME COLUMN email TO mail;
-- migsafe:ignore MS001,MS999 typo
ALTER TABLE accounts ADD COLUMN note text;
SELECT '-- migsafe:ignore MS999 in a string';
-- migsafe ignore MS001 no colon
";

const DIRECTIVES_DOWN: &str = "ALTER TABLE accounts DROP COLUMN note;\n";

#[test]
fn ignore_directive_forms_unused_and_malformed() {
    let t = sqlx_project(DIRECTIVES, Some(DIRECTIVES_DOWN));
    snap!(migsafe(t.path()).args(["lint", "migrations"]));
}

/// Every renderer carries MS904 at the directive, as a warning; the JSON finding keeps the
/// schema's fields and has no `suppressed`.
#[test]
fn unused_ignore_in_every_format() {
    let t = sqlx_project(
        "SET lock_timeout = '2s';\n-- migsafe:ignore MS106 the index is small\nALTER TABLE accounts ADD COLUMN note text;\n",
        Some("ALTER TABLE accounts DROP COLUMN note;\n"),
    );
    let out = migsafe(t.path())
        .args(["lint", "--format", "json", "migrations"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "a warning does not fail the run"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = json["projects"][0]["migrations"][1]["findings"]
        .as_array()
        .unwrap();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    insta::assert_json_snapshot!(findings[0], {".path" => "[path]"});
    assert_eq!(json["summary"]["warnings"], 1);
    for format in ["human", "github", "gitlab", "rdjson", "sarif"] {
        let out = migsafe(t.path())
            .args(["lint", "--format", format, "migrations"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{format}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("MS904") && text.contains("suppresses nothing"),
            "{format}:\n{text}"
        );
    }
    let github = migsafe(t.path())
        .args(["lint", "--format", "github", "migrations"])
        .output()
        .unwrap();
    let github = String::from_utf8(github.stdout).unwrap();
    assert!(
        github.contains("::warning file=migrations/2_change.up.sql,line=2,endLine=2,col=1,"),
        "{github}"
    );
}

/// `unused-ignore` is set like any rule; naming it in a directive is an error instead.
#[test]
fn unused_ignore_is_configured_in_migsafe_toml() {
    let up = "SET lock_timeout = '2s';\n-- migsafe:ignore MS106 the index is small\nALTER TABLE accounts ADD COLUMN note text;\n";
    let t = sqlx_project(up, Some("ALTER TABLE accounts DROP COLUMN note;\n"));
    let rules = |dir: &Path| -> Vec<String> {
        let out = migsafe(dir)
            .args(["lint", "--format", "json", "migrations"])
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        json["projects"][0]["migrations"][1]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{} {}", f["rule"], f["severity"]))
            .collect()
    };
    write(
        t.path(),
        "migsafe.toml",
        "[rules]\nunused-ignore = \"off\"\n",
    );
    assert!(rules(t.path()).is_empty());
    write(t.path(), "migsafe.toml", "[rules]\nMS904 = \"error\"\n");
    assert_eq!(rules(t.path()), ["\"MS904\" \"error\""]);
    write(
        t.path(),
        "migrations/2_change.up.sql",
        format!("-- migsafe:ignore unused-ignore noisy\n{up}"),
    );
    assert_eq!(
        rules(t.path()),
        ["\"MS903\" \"error\"", "\"MS904\" \"error\""]
    );
}

#[test]
fn start_after_grandfathers_old_migrations() {
    let t = sqlx_project("ALTER TABLE accounts DROP COLUMN plan;\n", None);
    write(t.path(), "migsafe.toml", "start_after = \"2\"\n");
    write(
        t.path(),
        "migrations/3_ok.up.sql",
        "ALTER TABLE accounts ADD COLUMN note text;\n",
    );
    write(
        t.path(),
        "migrations/3_ok.down.sql",
        "ALTER TABLE accounts DROP COLUMN note;\n",
    );
    snap!(migsafe(t.path()).args(["lint", "."]));
}

/// `start_after` takes the name a diesel user sees (the folder, or its version part), and
/// compares versions as diesel does, as strings (issue 19, item 9).
#[test]
fn start_after_takes_diesel_folder_names() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "diesel.toml", "");
    let dirs = [
        (
            "2026-07-27-143313-0000_create_accounts",
            "CREATE TABLE accounts (id bigint PRIMARY KEY, plan text);\n",
            "DROP TABLE accounts;\n",
        ),
        (
            "2026-07-28-100000-0000_drop_plan",
            "ALTER TABLE accounts DROP COLUMN plan;\n",
            "SELECT 1;\n",
        ),
        // The 14-digit style sorts after both as a string, though it is a smaller number.
        (
            "2026-08-25-100000_add_note",
            "ALTER TABLE accounts ADD COLUMN note text;\n",
            "ALTER TABLE accounts DROP COLUMN note;\n",
        ),
    ];
    for (dir, up, down) in dirs {
        write(t.path(), &format!("migrations/{dir}/up.sql"), up);
        write(t.path(), &format!("migrations/{dir}/down.sql"), down);
    }
    let checked = |start: &str| {
        write(
            t.path(),
            "migsafe.toml",
            format!("start_after = \"{start}\"\n"),
        );
        let out = migsafe(t.path())
            .args(["lint", "--format", "json", "migrations"])
            .output()
            .unwrap();
        assert!(out.status.code().is_some_and(|c| c < 2), "{start}: {out:?}");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        json["projects"][0]["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    for start in [
        "2026-07-28-100000-0000",
        "2026-07-28-100000-0000_drop_plan",
        "202607281000000000",
    ] {
        assert_eq!(checked(start), ["add_note"], "{start}");
    }
    // Not a migration here: versions after it, in diesel's (string) order.
    assert_eq!(checked("2026-07-27-150000-0000"), ["drop_plan", "add_note"]);
}

#[test]
fn rule_levels_in_config_change_severity_and_turn_rules_off() {
    let t = sqlx_project(
        "ALTER TABLE accounts DROP COLUMN plan;\n",
        Some("ALTER TABLE accounts ADD COLUMN plan text;\n"),
    );
    write(
        t.path(),
        "migsafe.toml",
        "[rules]\ndrop-column = \"warning\"\nMS013 = \"off\"\nmissing-lock-timeout = \"off\"\n",
    );
    let out = migsafe(t.path())
        .args(["lint", "--format", "json", "."])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json["summary"]["warnings"], 1);
    assert_eq!(
        json["projects"][0]["migrations"][1]["findings"][0]["severity"],
        "warning"
    );
}

#[test]
fn unknown_config_key_is_an_error_with_its_line() {
    let t = sqlx_project("SELECT 1;\n", None);
    write(
        t.path(),
        "migsafe.toml",
        "runner = \"sqlx\"\n\nrunnr = \"goose\"\n",
    );
    snap!(migsafe(t.path()).args(["lint", "."]));
}

/// A `migrations_dir` that climbs out of the project is followed where the file system leads,
/// and the error names the path as written, not a `migsafe.toml` that does not exist.
#[test]
fn migrations_dir_outside_the_project_is_named_as_written() {
    let t = tempfile::tempdir().unwrap();
    let project = t.path().join("a/b/proj");
    std::fs::create_dir_all(t.path().join("a/b/proj")).unwrap();
    std::fs::create_dir_all(t.path().join("elsewhere")).unwrap();
    write(
        &project,
        "migsafe.toml",
        "migrations_dir = \"../../../elsewhere\"\n",
    );
    let out = migsafe(&project).arg("lint").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("../../../elsewhere: no migrations found"),
        "{err}"
    );
    assert!(!err.contains("migsafe.toml: cannot read"), "{err}");
}

#[test]
fn missing_path_is_an_error() {
    let t = tempfile::tempdir().unwrap();
    snap!(migsafe(t.path()).args(["lint", "no/such/dir"]));
}

#[test]
fn empty_directory_is_an_error() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("migrations")).unwrap();
    snap!(migsafe(t.path()).args(["lint", "migrations"]));
}

#[test]
fn ambiguous_layout_asks_for_runner() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "migrations/V1__init.sql",
        "CREATE TABLE t (id int);\n",
    );
    snap!(migsafe(t.path()).args(["lint", "migrations"]));
    // The command line chooses as migsafe.toml does, and wins over it.
    let out = migsafe(t.path())
        .args(["lint", "--runner", "flyway", "migrations"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("flyway"),
        "{out:?}"
    );
    write(t.path(), "migsafe.toml", "runner = \"plain\"\n");
    let out = migsafe(t.path())
        .args([
            "lint",
            "--runner",
            "flyway",
            "--format",
            "json",
            "migrations",
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["projects"][0]["runner"], "flyway");
    write(t.path(), "migsafe.toml", "runner = \"flyway\"\n");
    let out = migsafe(t.path())
        .args(["lint", "migrations"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn non_utf8_file_is_an_error_with_the_offset() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "001_bad.sql", b"SELECT 1;\n\xff\xfe".as_slice());
    snap!(migsafe(t.path()).args(["lint", "001_bad.sql"]));
}

#[test]
fn binary_file_is_an_error() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "001_bin.sql", b"\x7fELF\x00\x01".as_slice());
    snap!(migsafe(t.path()).args(["lint", "001_bin.sql"]));
}

#[test]
fn unterminated_quote_and_dollar_quote_name_file_line_and_column() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "001_quote.sql",
        "SELECT 1;\nINSERT INTO t VALUES ('oops);\n",
    );
    write(
        t.path(),
        "002_dollar.sql",
        "CREATE FUNCTION f() RETURNS int AS $body$\nSELECT 1;\n",
    );
    snap!(
        "unterminated_quote",
        migsafe(t.path()).args(["lint", "001_quote.sql"])
    );
    snap!(
        "unterminated_dollar",
        migsafe(t.path()).args(["lint", "002_dollar.sql"])
    );
}

#[test]
fn opaque_statement_makes_the_migration_unknown() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "001_stats.sql",
        "CREATE STATISTICS s (dependencies) ON a, b FROM t;\n",
    );
    snap!(migsafe(t.path()).args(["lint", "001_stats.sql"]));
}

#[test]
fn empty_file_is_clean() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "001_empty.sql", "");
    snap!(migsafe(t.path()).args(["lint", "001_empty.sql"]));
}

#[test]
fn fifty_megabyte_file_is_linted_without_panicking() {
    let t = tempfile::tempdir().unwrap();
    let stmt =
        "INSERT INTO events (id, payload) VALUES (1, 'a fairly ordinary row of seed data');\n";
    let big = stmt.repeat(50 * 1024 * 1024 / stmt.len() + 1);
    write(t.path(), "001_seed.sql", big);
    let out = migsafe(t.path())
        .args(["lint", "--format", "json", "001_seed.sql"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        json["projects"][0]["migrations"][0]["up"]["counts"]["statements"]
            .as_u64()
            .unwrap()
            > 600_000
    );
}

#[test]
fn rule_command_explains_one_rule_or_lists_all() {
    snap!("rule_ms002", migsafe(repo()).args(["rule", "MS002"]));
    snap!(
        "rule_by_name",
        migsafe(repo()).args(["rule", "truncate-table"])
    );
    snap!("rule_list", migsafe(repo()).args(["rule"]));
    snap!("rule_unknown", migsafe(repo()).args(["rule", "MS999"]));
}

#[test]
fn usage_errors_exit_2() {
    snap!(migsafe(repo()).args(["lint", "--format", "yaml"]));
}

#[test]
fn a_file_that_is_not_sql_is_an_error() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "README.md", "# notes\n");
    snap!(migsafe(t.path()).args(["lint", "README.md"]));
}

#[test]
fn a_file_inside_a_project_is_checked_with_its_runner_and_history() {
    // The earlier migration makes varchar(20) → varchar(40) provably safe, and sqlx's
    // transaction makes CREATE INDEX CONCURRENTLY fail.
    let t = sqlx_project(
        "ALTER TABLE accounts ALTER COLUMN email TYPE varchar(128);\nCREATE INDEX CONCURRENTLY accounts_email_idx ON accounts (email);\n",
        Some("DROP INDEX accounts_email_idx;\n"),
    );
    snap!(migsafe(t.path()).args(["lint", "migrations/2_change.up.sql"]));
}

#[test]
fn data_changes_hidden_in_queries_are_seen() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "001_hidden.sql",
        "WITH doomed AS (DELETE FROM sessions RETURNING id) SELECT count(*) FROM doomed;\nINSERT INTO plans (id, price) VALUES (1, 10) ON CONFLICT (id) DO UPDATE SET price = excluded.price;\nSELECT setval('invoice_seq', 1);\nSELECT create_hypertable('metrics', 'time');\n",
    );
    snap!(migsafe(t.path()).args(["lint", "001_hidden.sql"]));
}

#[test]
fn stdin_is_linted_under_the_given_file_name() {
    // `alembic upgrade head --sql | migsafe lint -`
    let t = tempfile::tempdir().unwrap();
    snap!(
        migsafe(t.path())
            .args([
                "lint",
                "-",
                "--stdin-filename",
                "alembic/0042_drop_plan.sql"
            ])
            .pass_stdin("BEGIN;\nALTER TABLE accounts DROP COLUMN plan;\nCOMMIT;\n")
    );
}

#[test]
fn stdin_without_a_file_name_is_called_stdin_sql() {
    let t = tempfile::tempdir().unwrap();
    snap!(
        migsafe(t.path())
            .args(["lint", "-", "--quiet"])
            .pass_stdin("CREATE INDEX accounts_email_idx ON accounts (email);\n")
    );
}

#[test]
fn stdin_that_is_not_text_is_an_error_naming_it() {
    let t = tempfile::tempdir().unwrap();
    snap!(
        migsafe(t.path())
            .args(["lint", "-", "--stdin-filename", "dump.sql"])
            .pass_stdin(b"SELECT 1;\0\x01\x02".to_vec())
    );
}

#[test]
fn stdin_uses_the_config_next_to_the_file_name() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "db/migsafe.toml",
        "[rules]\ndrop-column = \"off\"\n",
    );
    let out = migsafe(t.path())
        .args(["lint", "-", "--stdin-filename", "db/0042.sql"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(b"ALTER TABLE accounts DROP COLUMN plan;\n")?;
            c.wait_with_output()
        })
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("MS002"), "{text}");
    // The step still destroys data: the migration stays irreversible with the rule off.
    assert!(text.contains("irreversible  0042"), "{text}");
}

#[test]
fn output_file_receives_the_report_and_stdout_stays_empty() {
    let t = sqlx_project("ALTER TABLE accounts DROP COLUMN plan;\n", None);
    let out = migsafe(t.path())
        .args([
            "lint",
            "migrations",
            "--format",
            "json",
            "--output",
            "out/lint.json",
        ])
        .output()
        .unwrap();
    // The directory must exist: nothing is created behind the user's back.
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("cannot write out/lint.json"), "{err}");

    let out = migsafe(t.path())
        .args(["lint", "migrations", "--format", "json", "-o", "lint.json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "findings still decide the exit code"
    );
    assert!(out.stdout.is_empty());
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("lint.json")).unwrap())
            .unwrap();
    assert_eq!(doc["summary"]["irreversible"], 1);
    let leftovers: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".migsafe-report-")
        })
        .collect();
    assert!(leftovers.is_empty(), "temporary file left behind");
}

#[test]
fn quiet_prints_only_the_findings() {
    let t = sqlx_project("ALTER TABLE accounts DROP COLUMN plan;\n", None);
    snap!(migsafe(t.path()).args(["lint", "-q", "migrations"]));
}

#[test]
fn exit_zero_reports_but_does_not_fail() {
    let t = sqlx_project("ALTER TABLE accounts DROP COLUMN plan;\n", None);
    snap!(migsafe(t.path()).args(["lint", "--exit-zero", "migrations"]));
}

#[test]
fn stdin_given_twice_is_a_usage_error() {
    let t = tempfile::tempdir().unwrap();
    snap!(
        migsafe(t.path())
            .args(["lint", "-", "-"])
            .pass_stdin("SELECT 1;\n")
    );
}

#[test]
fn stdin_filename_alone_reads_stdin() {
    let t = tempfile::tempdir().unwrap();
    let out = migsafe(t.path())
        .args(["lint", "--stdin-filename", "gen/upgrade.sql"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"TRUNCATE accounts;\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("--> gen/upgrade.sql:1:1"), "{text}");
}

#[test]
fn stdin_filename_with_paths_but_no_dash_is_a_usage_error() {
    let t = sqlx_project("SELECT 1;\n", None);
    snap!(migsafe(t.path()).args(["lint", "migrations", "--stdin-filename", "x.sql"]));
}

/// `[apply] lock_timeout` in migsafe.toml is set by `migsafe apply` on every step's session:
/// MS125 does not ask the scripts for one then (unless it is 0, no timeout).
#[test]
fn an_apply_lock_timeout_in_the_config_quiets_missing_lock_timeout() {
    let t = sqlx_project(
        "ALTER TABLE accounts ADD COLUMN note text;\n",
        Some("ALTER TABLE accounts DROP COLUMN note;\n"),
    );
    let lint = |t: &tempfile::TempDir| {
        let out = migsafe(t.path()).args(["lint", "."]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(lint(&t).contains("MS125"), "{}", lint(&t));
    write(t.path(), "migsafe.toml", "[apply]\nlock_timeout = \"2s\"\n");
    assert!(!lint(&t).contains("MS125"), "{}", lint(&t));
    write(t.path(), "migsafe.toml", "[apply]\nlock_timeout = \"0\"\n");
    assert!(lint(&t).contains("MS125"), "{}", lint(&t));
}

#[test]
fn lint_names_the_hint_that_chose_the_runner() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "Dockerfile", "FROM migrate/migrate:v4\n");
    write(
        t.path(),
        "migrations/1_init.up.sql",
        "CREATE TABLE t (id int);\n",
    );
    write(t.path(), "migrations/1_init.down.sql", "DROP TABLE t;\n");
    let out = migsafe(t.path())
        .args(["lint", "migrations"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.starts_with("migrations (golang-migrate from Dockerfile, 1 migration)\n"),
        "{stdout}"
    );
    let out = migsafe(t.path())
        .args(["lint", "--format", "json", "migrations"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["projects"][0]["runner"], "golang-migrate");
    assert_eq!(doc["projects"][0]["runner_hint"], "Dockerfile");

    // Decided by the layout alone: no hint to name.
    write(t.path(), "migsafe.toml", "runner = \"sqlx\"\n");
    let out = migsafe(t.path())
        .args(["lint", "--format", "json", "migrations"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["projects"][0]["runner"], "sqlx");
    assert!(doc["projects"][0]["runner_hint"].is_null());
}

#[test]
fn flyway_placeholders_are_replaced_before_linting_and_findings_keep_file_lines() {
    let t = tempfile::tempdir().unwrap();
    // migsafe.toml wins over flyway.conf.
    write(
        t.path(),
        "migsafe.toml",
        "[flyway]\nplaceholders = { schema = \"app\", victim = \"accounts\" }\n",
    );
    write(
        t.path(),
        "flyway.conf",
        "flyway.placeholders.victim=wrong\nflyway.placeholders.cols=id int\n",
    );
    write(
        t.path(),
        "db/migration/V1__init.sql",
        "CREATE TABLE ${schema}.accounts (${cols});\n",
    );
    write(
        t.path(),
        "db/migration/V2__drop.sql",
        "-- goodbye\n\nDROP TABLE ${schema}.${victim};\n",
    );
    let out = migsafe(t.path())
        .args(["lint", "db/migration"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("--> db/migration/V2__drop.sql:3:1"),
        "{stdout}"
    );
    assert!(stdout.contains("3 | DROP TABLE app.accounts;"), "{stdout}");
    assert!(!stdout.contains("${"), "{stdout}");

    // A value spanning lines keeps later statements on their own lines of the file.
    let m = tempfile::tempdir().unwrap();
    write(
        m.path(),
        "flyway.toml",
        "[flyway.placeholders]\ncols = \"\"\"id int,\n  legacy text,\n  name text\"\"\"\n",
    );
    write(
        m.path(),
        "migrations/V1__init.sql",
        "CREATE TABLE t (${cols});\nINSERT INTO t (id) VALUES (1);\n",
    );
    write(
        m.path(),
        "migrations/V2__drop.sql",
        "CREATE TABLE u (${cols});\nALTER TABLE t DROP COLUMN legacy;\n",
    );
    let out = migsafe(m.path())
        .args(["lint", "--format", "json", "migrations"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let drop = &doc["projects"][0]["migrations"][1];
    let finding = drop["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "MS002")
        .unwrap_or_else(|| panic!("{drop:#}"));
    assert_eq!(finding["start"]["line"], 2, "{finding:#}");
    let out = migsafe(m.path())
        .args(["lint", "migrations"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("--> migrations/V2__drop.sql:2:1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 | ALTER TABLE t DROP COLUMN legacy;"),
        "{stdout}"
    );

    // No value anywhere: an error naming the placeholder, exit 2.
    write(
        t.path(),
        "db/migration/V3__more.sql",
        "SELECT ${missing};\n",
    );
    let out = migsafe(t.path())
        .args(["lint", "db/migration"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("db/migration/V3__more.sql:1: placeholder `${missing}` has no value"),
        "{stderr}"
    );
}

/// Run from inside the project, paths in every format still start at the repository root:
/// the git work tree when there is one, else `GITHUB_WORKSPACE` (issue 19, item 6).
#[test]
fn paths_are_relative_to_the_repository_root_from_a_subdirectory() {
    let t = sqlx_project("ALTER TABLE accounts DROP COLUMN plan;\n", None);
    let sub = t.path().join("migrations");
    let file = "migrations/2_change.up.sql";
    let lint = |format: &str, env: Option<&Path>| {
        let mut c = migsafe(&sub);
        c.args(["lint", "--format", format, "."])
            .env_remove("GITHUB_WORKSPACE")
            .env_remove("CI_PROJECT_DIR");
        if let Some(root) = env {
            c.env("GITHUB_WORKSPACE", root);
        }
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    // No repository and no CI variable: the current directory is all there is.
    assert!(
        lint("github", None).contains("::error file=2_change.up.sql,"),
        "{}",
        lint("github", None)
    );
    // GitHub's workspace, outside any git work tree.
    let github = lint("github", Some(t.path()));
    assert!(
        github.contains(&format!("::error file={file},")),
        "{github}"
    );
    // A git work tree wins over the environment (a checkout into a workspace subdirectory).
    std::fs::create_dir(t.path().join(".git")).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    for format in ["github", "json", "human", "gitlab", "rdjson", "sarif"] {
        let out = lint(format, Some(elsewhere.path()));
        assert!(out.contains(file), "{format}:\n{out}");
        assert!(!out.contains("\"2_change.up.sql"), "{format}:\n{out}");
    }
    let sarif: serde_json::Value = serde_json::from_str(&lint("sarif", None)).unwrap();
    let location = &sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], file);
    assert_eq!(location["artifactLocation"]["uriBaseId"], "%SRCROOT%");
}

/// A Flyway project with several `locations` is one project: its migrations interleave in
/// version order across the directories, each checked against the schema the others built
/// (issue 19, item 9).
#[test]
fn flyway_locations_and_migrations_dir_lists_are_one_project() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "flyway.conf",
        "flyway.locations=filesystem:sql/core,classpath:db/migration, filesystem:sql/missing\n",
    );
    write(
        t.path(),
        "sql/core/V1__accounts.sql",
        "CREATE TABLE accounts (id bigint PRIMARY KEY, plan text);\n",
    );
    write(
        t.path(),
        "src/main/resources/db/migration/V2__invoices.sql",
        "CREATE TABLE invoices (id bigint PRIMARY KEY, account bigint);\n",
    );
    write(
        t.path(),
        "sql/core/V3__drop_plan.sql",
        "ALTER TABLE accounts DROP COLUMN plan;\n",
    );
    let names = |out: &std::process::Output| {
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["projects"].as_array().unwrap().len(), 1, "{json}");
        let project = &json["projects"][0];
        assert_eq!(project["runner"], "flyway");
        project["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let lint = |args: &[&str]| {
        migsafe(t.path())
            .args(["lint", "--format", "json"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = lint(&["."]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(names(&out), ["accounts", "invoices", "drop_plan"]);
    // The drop is of a column V1 created in another directory: destroyed data, MS002.
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"MS002\""));

    // migsafe.toml's list wins over Flyway's, and is what `migsafe lint` alone reads.
    write(
        t.path(),
        "migsafe.toml",
        "migrations_dir = [\"sql/core\", \"sql/extra\"]\n",
    );
    write(
        t.path(),
        "sql/extra/V2_5__notes.sql",
        "CREATE TABLE notes (id bigint PRIMARY KEY);\n",
    );
    assert_eq!(names(&lint(&[])), ["accounts", "notes", "drop_plan"]);
    assert_eq!(names(&lint(&["."])), ["accounts", "notes", "drop_plan"]);

    // One version in two directories is refused, as Flyway refuses it.
    write(t.path(), "sql/extra/V3__again.sql", "SELECT 1;\n");
    let out = lint(&[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    // Flyway reads its locations in one scan, so the version is refused as within one.
    assert!(
        err.contains("duplicate version 3 (also sql/core/V3__drop_plan.sql)"),
        "{err}"
    );

    // An empty list is an error at its line.
    write(t.path(), "migsafe.toml", "\nmigrations_dir = []\n");
    let out = lint(&[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("migsafe.toml:2:") && err.contains("empty list"),
        "{err}"
    );

    // A location migsafe cannot read is not skipped.
    std::fs::remove_file(t.path().join("migsafe.toml")).unwrap();
    write(
        t.path(),
        "flyway.conf",
        "flyway.locations=filesystem:sql/core,s3:bucket/migrations\n",
    );
    let out = lint(&["."]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`s3:`"), "{err}");
}

/// A project reached through a symbolic link is reported where git tracks it, and a project
/// outside the repository by its absolute path (a relative `../x` would read as relative to
/// the repository root, and SARIF would resolve it against `%SRCROOT%`).
#[test]
fn linked_and_outside_projects_are_named_so_ci_can_find_them() {
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    write(&repo, "sqlx.toml", "");
    write(
        &repo,
        "db/migrations/1_drop.up.sql",
        "DROP TABLE accounts;\n",
    );
    std::os::unix::fs::symlink("db/migrations", repo.join("mig")).unwrap();
    let out = migsafe(&repo)
        .args(["lint", "--format", "github", "mig"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("file=db/migrations/1_drop.up.sql,"), "{text}");

    write(t.path(), "outside/sqlx.toml", "");
    write(
        t.path(),
        "outside/migrations/1_drop.up.sql",
        "DROP TABLE accounts;\n",
    );
    std::fs::create_dir_all(repo.join("sub")).unwrap();
    let out = migsafe(&repo.join("sub"))
        .args(["lint", "--format", "sarif", "../../outside/migrations"])
        .output()
        .unwrap();
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let at =
        &sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
    let uri = at["uri"].as_str().unwrap();
    assert!(
        uri.starts_with("file:///") && uri.ends_with("/outside/migrations/1_drop.up.sql"),
        "{at}"
    );
    assert!(at.get("uriBaseId").is_none(), "{at}");
}

/// `--runner` with a file its runner's layout does not hold is an error, not a plain lint.
#[test]
fn runner_for_a_loose_file_that_does_not_fit_is_an_error() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "db/20240102000000_drop.up.sql",
        "DROP TABLE accounts;\n",
    );
    let out = migsafe(t.path())
        .args(["lint", "--runner", "goose", "db/20240102000000_drop.up.sql"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--runner goose was given") && err.contains("read as plain"),
        "{err}"
    );
    // The runner the file is read as is fine.
    let out = migsafe(t.path())
        .args(["lint", "--runner", "plain", "db/20240102000000_drop.up.sql"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

/// Piped SQL named inside a project is linted as that migration: its runner's transaction
/// mode, the schema the earlier migrations built, and only that migration reported; the disk's
/// text of the file is not what is checked (issue 19, item 3).
#[test]
fn stdin_inside_a_project_is_that_migration() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "diesel.toml", "");
    let init = "migrations/2024-01-01-000000_init";
    write(
        t.path(),
        &format!("{init}/up.sql"),
        "CREATE TABLE accounts (id bigint PRIMARY KEY, plan text);\n",
    );
    write(
        t.path(),
        &format!("{init}/down.sql"),
        "DROP TABLE accounts;\n",
    );
    let index = "migrations/2024-02-01-000000_index";
    write(t.path(), &format!("{index}/up.sql"), "SELECT 1;\n");
    write(t.path(), &format!("{index}/down.sql"), "SELECT 1;\n");
    let piped = "CREATE INDEX CONCURRENTLY accounts_plan_idx ON accounts (plan);\n";
    let lint = |name: &str| {
        use std::io::Write;
        let mut child = migsafe(t.path())
            .args(["lint", "--format", "json", "-", "--stdin-filename", name])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(piped.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = lint(&format!("{index}/up.sql"));
    // diesel wraps each migration in a transaction: CONCURRENTLY fails there (MS107, error).
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let project = &json["projects"][0];
    assert_eq!(project["runner"], "diesel");
    let migrations = project["migrations"].as_array().unwrap();
    assert_eq!(migrations.len(), 1, "only the piped migration: {project}");
    assert_eq!(migrations[0]["name"], "index");
    assert_eq!(migrations[0]["up"]["mode"], "wrapped_tx");
    let rules: Vec<&str> = migrations[0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"MS107"), "{rules:?}");

    // The same text under a name outside any project: a plain file, per statement.
    let out = lint("scratch/up.sql");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["projects"][0]["runner"], "plain");

    // A file of an sqlx project that is not on disk yet (an unsaved buffer) is that project's.
    write(t.path(), "svc/sqlx.toml", "");
    write(
        t.path(),
        "svc/migrations/1_init.up.sql",
        "CREATE TABLE accounts (id bigint PRIMARY KEY, plan text);\n",
    );
    let out = lint("svc/migrations/2_index.up.sql");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["projects"][0]["runner"], "sqlx", "{json}");
    assert_eq!(json["projects"][0]["migrations"][0]["name"], "index");
}

/// The migration names of a one-project JSON report, in run order.
fn flyway_names(out: &std::process::Output) -> Vec<String> {
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(json["projects"].as_array().unwrap().len(), 1, "{json}");
    json["projects"][0]["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

fn lint_json(dir: &Path, args: &[&str]) -> std::process::Output {
    migsafe(dir)
        .args(["lint", "--format", "json"])
        .args(args)
        .output()
        .unwrap()
}

/// Flyway scans a location's subdirectories too: a migration in `db/migration/2024/` runs, so
/// it is read, in one directory as in several locations.
#[test]
fn flyway_reads_subdirectories_of_a_location() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "migsafe.toml", "runner = \"flyway\"\n");
    write(
        t.path(),
        "db/migration/V1__a.sql",
        "CREATE TABLE a (id bigint PRIMARY KEY);\n",
    );
    write(
        t.path(),
        "db/migration/2024/V3__c.sql",
        "CREATE TABLE c (id bigint PRIMARY KEY);\n",
    );
    write(
        t.path(),
        "db/migration/2024/q1/V2__b.sql",
        "CREATE TABLE b (id bigint PRIMARY KEY);\n",
    );
    // Dot-directories are no one's migrations.
    write(t.path(), "db/migration/.old/V9__x.sql", "SELECT 1;\n");
    // A symbolic link back up is read once.
    #[cfg(unix)]
    std::os::unix::fs::symlink("..", t.path().join("db/migration/2024/up")).unwrap();
    let out = lint_json(t.path(), &["db/migration"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(flyway_names(&out), ["1_a", "2_b", "3_c"]);

    // As a location among several.
    std::fs::remove_file(t.path().join("migsafe.toml")).unwrap();
    write(
        t.path(),
        "flyway.conf",
        "flyway.locations=filesystem:db/migration,filesystem:sql\n",
    );
    write(
        t.path(),
        "sql/V4__d.sql",
        "CREATE TABLE d (id bigint PRIMARY KEY);\n",
    );
    let out = lint_json(t.path(), &["."]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(flyway_names(&out), ["1_a", "2_b", "3_c", "4_d"]);
}

/// A location without versioned migrations (callbacks only, or empty) adds nothing, as in
/// Flyway; with no migrations in any location, the usual error.
#[test]
fn flyway_location_without_migrations_is_skipped() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "flyway.conf",
        "flyway.locations=filesystem:sql/core,filesystem:sql/callbacks,filesystem:sql/empty\n",
    );
    write(
        t.path(),
        "sql/core/V1__a.sql",
        "CREATE TABLE a (id bigint PRIMARY KEY);\n",
    );
    write(t.path(), "sql/callbacks/afterMigrate.sql", "SELECT 1;\n");
    std::fs::create_dir_all(t.path().join("sql/empty")).unwrap();
    let out = lint_json(t.path(), &["."]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(flyway_names(&out), ["1_a"]);

    std::fs::remove_file(t.path().join("sql/core/V1__a.sql")).unwrap();
    let out = lint_json(t.path(), &["."]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no migrations found"), "{err}");
}

/// Flyway pairs an undo script with its versioned script across locations.
#[test]
fn flyway_undo_in_another_location_is_paired() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "flyway.conf",
        "flyway.locations=filesystem:sql/up,filesystem:sql/undo\n",
    );
    write(
        t.path(),
        "sql/up/V1__a.sql",
        "CREATE TABLE a (id bigint PRIMARY KEY);\n",
    );
    write(t.path(), "sql/undo/U1__a.sql", "DROP TABLE a;\n");
    let out = lint_json(t.path(), &["."]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = &json["projects"][0]["migrations"][0];
    assert_eq!(m["id"], "1_a", "{json}");
    assert_eq!(m["down"]["path"], "sql/undo/U1__a.sql", "{json}");
}

/// One directory named twice (another spelling, an absolute path) is read once, not refused
/// as holding every version twice.
#[test]
fn flyway_directory_listed_twice_is_read_once() {
    let t = tempfile::tempdir().unwrap();
    let absolute = t.path().join("sql/core");
    write(
        t.path(),
        "migsafe.toml",
        format!(
            "runner = \"flyway\"\nmigrations_dir = [\"sql/core\", \"./sql/core\", {:?}]\n",
            absolute.display().to_string()
        ),
    );
    write(
        t.path(),
        "sql/core/V1__a.sql",
        "CREATE TABLE a (id bigint PRIMARY KEY);\n",
    );
    write(
        t.path(),
        "sql/core/V2__b.sql",
        "CREATE TABLE b (id bigint PRIMARY KEY);\n",
    );
    let out = lint_json(t.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(flyway_names(&out), ["1_a", "2_b"]);
}

/// A location migsafe cannot read is reported at the configuration file and line that set it.
#[test]
fn flyway_unreadable_location_points_at_its_setting() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "sql/core/V1__a.sql",
        "CREATE TABLE a (id bigint PRIMARY KEY);\n",
    );
    write(
        t.path(),
        "flyway.conf",
        "# migrations\nflyway.locations=filesystem:sql/core,s3:bucket/migrations\n",
    );
    let out = lint_json(t.path(), &["."]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("flyway.conf:2:") && err.contains("`s3:`"),
        "{err}"
    );

    std::fs::remove_file(t.path().join("flyway.conf")).unwrap();
    write(
        t.path(),
        "flyway.toml",
        "[flyway]\nlocations = [\"filesystem:sql/core\", \"s3:bucket/migrations\"]\n",
    );
    let out = lint_json(t.path(), &["."]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("flyway.toml:2:") && err.contains("`s3:`"),
        "{err}"
    );
}
