//! `migsafe lint --since REV` against real git repositories built in temp directories: which
//! migrations are checked, the history rules (MS301, MS302), and every way git can fail. Commands
//! run inside the repository with relative paths, and git ignores the user's configuration, so
//! snapshots are stable.

use std::path::{Path, PathBuf};
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

/// Makes git independent of the machine: no user or system configuration, no repository
/// discovery above the temp directory, and nothing inherited from a git hook. The values are
/// the same in every run, since snapshots record them.
fn isolate(cmd: &mut Command) {
    let ceiling = std::fs::canonicalize(std::env::temp_dir()).unwrap();
    cmd.env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CEILING_DIRECTORIES", ceiling)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_OBJECT_DIRECTORY")
        .env_remove("GIT_COMMON_DIR");
}

/// A temp directory holding a git repository in `repo/` (and room for clones next to it).
struct Repo {
    tmp: tempfile::TempDir,
}

impl Repo {
    /// A repository on branch `main` with `migsafe.toml` naming the runner.
    fn new(runner: &str) -> Repo {
        let r = Repo::empty();
        r.git(&["init", "-q", "-b", "main"]);
        r.write("migsafe.toml", &format!("runner = \"{runner}\"\n"));
        r
    }

    fn empty() -> Repo {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("repo")).unwrap();
        Repo { tmp }
    }

    fn dir(&self) -> PathBuf {
        self.tmp.path().join("repo")
    }

    fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let mut cmd = Command::new("git");
        cmd.current_dir(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t");
        isolate(&mut cmd);
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.dir(), args)
    }

    fn write(&self, rel: &str, content: &str) {
        let p = self.dir().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    fn remove(&self, rel: &str) {
        std::fs::remove_file(self.dir().join(rel)).unwrap();
    }

    /// Stages everything and commits.
    fn commit(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
    }

    fn migsafe_in(&self, dir: &Path) -> Command {
        let mut c = Command::new(get_cargo_bin("migsafe"));
        c.current_dir(dir)
            .env("NO_COLOR", "1")
            .env_remove("MIGSAFE_CONFIG")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITLAB_CI")
            .env_remove("GITHUB_WORKSPACE")
            .env_remove("CI_PROJECT_DIR");
        isolate(&mut c);
        c
    }

    fn migsafe(&self) -> Command {
        self.migsafe_in(&self.dir())
    }
}

const USERS_UP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n";
const USERS_DOWN: &str = "DROP TABLE users;\n";
const ORDERS_UP: &str = "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint);\n";
const ORDERS_DOWN: &str = "DROP TABLE orders;\n";
/// Flagged by the SQL rules (a blocking index build), so a checked migration shows.
const INDEX_UP: &str = "CREATE INDEX users_email ON users (email);\n";
const INDEX_DOWN: &str = "DROP INDEX users_email;\n";

/// golang-migrate (or sqlx, same file names) on `main`: users (1) and orders (3), then a
/// branch `feature` checked out.
fn numbered(runner: &str) -> Repo {
    let r = Repo::new(runner);
    r.write("migrations/1_users.up.sql", USERS_UP);
    r.write("migrations/1_users.down.sql", USERS_DOWN);
    r.commit("users");
    r.write("migrations/3_orders.up.sql", ORDERS_UP);
    r.write("migrations/3_orders.down.sql", ORDERS_DOWN);
    r.commit("orders");
    r.git(&["checkout", "-q", "-b", "feature"]);
    r
}

fn stdout(cmd: &mut Command) -> (Option<i32>, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn added_migration_is_checked_alone() {
    let r = numbered("golang-migrate");
    r.write("migrations/4_email_index.up.sql", INDEX_UP);
    r.write("migrations/4_email_index.down.sql", INDEX_DOWN);
    r.commit("email index");
    snap!(r.migsafe().args(["lint", "--since", "main", "migrations"]));
}

#[test]
fn nothing_changed_checks_nothing() {
    let r = numbered("golang-migrate");
    snap!(r.migsafe().args(["lint", "--since", "main", "migrations"]));
}

#[test]
fn without_since_every_migration_is_checked() {
    let r = numbered("golang-migrate");
    let (code, out, _) = stdout(r.migsafe().args(["lint", "migrations"]));
    assert_eq!(code, Some(0));
    assert!(out.contains("(golang-migrate, 2 migrations)"), "{out}");
}

#[test]
fn edited_base_migration_is_ms302() {
    let r = numbered("golang-migrate");
    r.write(
        "migrations/1_users.up.sql",
        "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);\n",
    );
    r.commit("tighten users");
    snap!(r.migsafe().args(["lint", "--since", "main", "migrations"]));
}

#[test]
fn deleted_base_migration_is_ms302_at_the_deleted_path() {
    let r = numbered("golang-migrate");
    r.remove("migrations/3_orders.up.sql");
    r.remove("migrations/3_orders.down.sql");
    r.commit("drop orders migration");
    snap!(r.migsafe().args(["lint", "--since", "main", "migrations"]));
}

#[test]
fn renamed_base_migration_is_ms302_on_the_new_name() {
    let r = numbered("golang-migrate");
    r.git(&[
        "mv",
        "migrations/3_orders.up.sql",
        "migrations/4_orders.up.sql",
    ]);
    r.git(&[
        "mv",
        "migrations/3_orders.down.sql",
        "migrations/4_orders.down.sql",
    ]);
    r.commit("renumber orders");
    snap!(r.migsafe().args(["lint", "--since", "main", "migrations"]));
}

#[test]
fn rename_keeping_the_version_is_the_same_migration() {
    let r = numbered("sqlx");
    r.git(&[
        "mv",
        "migrations/3_orders.up.sql",
        "migrations/3_create_orders.up.sql",
    ]);
    r.git(&[
        "mv",
        "migrations/3_orders.down.sql",
        "migrations/3_create_orders.down.sql",
    ]);
    r.commit("describe orders better");
    let (code, out, err) = stdout(r.migsafe().args(["lint", "--since", "main", "migrations"]));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("(sqlx, 0 migrations, 2 others read but not checked)"),
        "{out}"
    );
}

#[test]
fn flyway_rename_keeping_the_version_is_ms302() {
    let r = Repo::new("flyway");
    r.write("sql/V1__users.sql", USERS_UP);
    r.write("sql/V2__orders.sql", ORDERS_UP);
    r.commit("users and orders");
    r.git(&["checkout", "-q", "-b", "feature"]);
    r.git(&["mv", "sql/V2__orders.sql", "sql/V2__create_orders.sql"]);
    r.commit("describe orders better");
    let (code, out, _) = stdout(r.migsafe().args(["lint", "--since", "main", "sql"]));
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("error[MS302]: `2_orders` is already on `main`, and was renamed to `2_create_orders`: Flyway's validation fails on the changed description"),
        "{out}"
    );
    assert!(!out.contains("MS301"), "{out}");
}

#[test]
fn down_only_edit_is_checked_but_not_ms302() {
    let r = numbered("golang-migrate");
    r.write(
        "migrations/3_orders.down.sql",
        "DROP TABLE IF EXISTS orders;\n",
    );
    r.commit("safer down");
    let (code, out, err) = stdout(r.migsafe().args(["lint", "--since", "main", "migrations"]));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("(golang-migrate, 1 migration, 1 other read but not checked)"),
        "{out}"
    );
    assert!(out.contains("3_orders"), "{out}");
    assert!(!out.contains("MS302"), "{out}");
}

#[test]
fn out_of_order_golang_migrate_is_ms301() {
    let r = numbered("golang-migrate");
    r.write("migrations/2_email_index.up.sql", INDEX_UP);
    r.write("migrations/2_email_index.down.sql", INDEX_DOWN);
    r.commit("email index, numbered before orders");
    snap!(r.migsafe().args(["lint", "--since", "main", "migrations"]));
}

#[test]
fn out_of_order_sqlx_is_ms301() {
    let r = numbered("sqlx");
    r.write("migrations/2_email_index.up.sql", INDEX_UP);
    r.write("migrations/2_email_index.down.sql", INDEX_DOWN);
    r.commit("email index, numbered before orders");
    let (code, out, _) = stdout(r.migsafe().args(["lint", "--since", "main", "migrations"]));
    assert_eq!(code, Some(1));
    assert!(
        out.contains(
            "error[MS301]: `2_email_index` is new but sorts before `3_orders`, which is already on `main`: sqlx runs it after that one"
        ),
        "{out}"
    );
    assert!(!out.contains("MS302"), "{out}");
}

#[test]
fn out_of_order_diesel_is_ms301() {
    let r = Repo::new("diesel");
    r.write("migrations/2024-01-01-000000_users/up.sql", USERS_UP);
    r.write("migrations/2024-01-01-000000_users/down.sql", USERS_DOWN);
    r.write("migrations/2024-03-01-000000_orders/up.sql", ORDERS_UP);
    r.write("migrations/2024-03-01-000000_orders/down.sql", ORDERS_DOWN);
    r.commit("users and orders");
    r.git(&["checkout", "-q", "-b", "feature"]);
    r.write("migrations/2024-02-01-000000_email_index/up.sql", INDEX_UP);
    r.write(
        "migrations/2024-02-01-000000_email_index/down.sql",
        INDEX_DOWN,
    );
    r.commit("email index, dated before orders");
    snap!(r.migsafe().args(["lint", "--since", "main", "migrations"]));
}

#[test]
fn added_after_the_newest_is_not_ms301() {
    let r = numbered("golang-migrate");
    r.write("migrations/4_email_index.up.sql", INDEX_UP);
    r.commit("email index");
    let (_, out, _) = stdout(r.migsafe().args(["lint", "--since", "main", "migrations"]));
    assert!(!out.contains("MS301"), "{out}");
}

#[test]
fn untracked_migration_counts_as_added() {
    let r = numbered("golang-migrate");
    r.write("migrations/2_email_index.up.sql", INDEX_UP);
    r.write(".gitignore", "migrations/9_local.up.sql\n");
    r.write("migrations/9_local.up.sql", "DROP TABLE users;\n");
    let (code, out, _) = stdout(r.migsafe().args(["lint", "--since", "main", "migrations"]));
    assert_eq!(code, Some(1));
    assert!(
        out.contains("(golang-migrate, 1 migration, 3 others read but not checked)"),
        "{out}"
    );
    assert!(out.contains("error[MS301]: `2_email_index`"), "{out}");
    // An ignored file is nobody's change.
    assert!(!out.contains("9_local"), "{out}");
}

#[test]
fn uncommitted_edit_counts() {
    let r = numbered("golang-migrate");
    r.write(
        "migrations/3_orders.up.sql",
        "CREATE TABLE orders (id bigint PRIMARY KEY);\n",
    );
    let (code, out, _) = stdout(r.migsafe().args(["lint", "--since", "main", "migrations"]));
    assert_eq!(code, Some(1));
    assert!(
        out.contains("error[MS302]: `3_orders` is already on `main`, and its up script was edited"),
        "{out}"
    );
    assert!(out.contains("--> migrations/3_orders.up.sql:1:1"), "{out}");
}

#[test]
fn rule_set_to_off_or_warning_in_migsafe_toml() {
    let r = numbered("golang-migrate");
    r.write(
        "migrations/3_orders.up.sql",
        ORDERS_UP.replace("bigint)", "int)").as_str(),
    );
    r.write(
        "migsafe.toml",
        "runner = \"golang-migrate\"\n[rules]\nedited-applied-migration = \"off\"\n",
    );
    let (code, out, _) = stdout(r.migsafe().args(["lint", "--since", "main", "migrations"]));
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("MS302"), "{out}");
    assert!(out.contains("1 migration checked"), "{out}");

    r.write(
        "migsafe.toml",
        "runner = \"golang-migrate\"\n[rules]\nMS302 = \"warning\"\n",
    );
    let (code, out, _) = stdout(r.migsafe().args(["lint", "--since", "main", "migrations"]));
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("warning[MS302]"), "{out}");
}

#[test]
fn named_file_with_since_keeps_its_own_history() {
    let r = numbered("golang-migrate");
    r.write("migrations/2_email_index.up.sql", INDEX_UP);
    r.write(
        "migrations/1_users.up.sql",
        "CREATE TABLE users (id bigint);\n",
    );
    let (code, out, _) =
        stdout(
            r.migsafe()
                .args(["lint", "--since", "main", "migrations/2_email_index.up.sql"]),
        );
    assert_eq!(code, Some(1));
    assert!(out.contains("MS301"), "{out}");
    assert!(!out.contains("MS302"), "{out}");
}

#[test]
fn project_found_from_its_root_not_the_cwd() {
    let r = numbered("golang-migrate");
    r.write("migrations/4_email_index.up.sql", INDEX_UP);
    // Run from outside the repository, naming the project by a path into it.
    let (code, out, err) =
        stdout(
            r.migsafe_in(r.tmp.path())
                .args(["lint", "--since", "main", "repo/migrations"]),
        );
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("(golang-migrate, 1 migration, 2 others read but not checked)"),
        "{out}"
    );
}

#[test]
fn sqitch_rework_is_not_an_edit() {
    let r = Repo::new("sqitch");
    let plan = "%syntax-version=1.0.0\n%project=app\n\nusers 2024-01-01T00:00:00Z t <t@t> # users\n@v1 2024-01-02T00:00:00Z t <t@t> # release\n";
    r.write("sqitch.plan", plan);
    r.write("deploy/users.sql", USERS_UP);
    r.write("revert/users.sql", USERS_DOWN);
    r.write("migsafe.toml", "runner = \"sqitch\"\n");
    r.commit("users");
    r.git(&["checkout", "-q", "-b", "feature"]);
    // What `sqitch rework users` does: keep the deployed script under the tag, plan it again.
    r.write("deploy/users@v1.sql", USERS_UP);
    r.write("revert/users@v1.sql", USERS_DOWN);
    r.write(
        "deploy/users.sql",
        "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);\n",
    );
    r.write(
        "sqitch.plan",
        &format!("{plan}users [users@v1] 2024-01-03T00:00:00Z t <t@t> # email required\n"),
    );
    r.commit("rework users");
    let (code, out, err) = stdout(r.migsafe().args(["lint", "--since", "main", "."]));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("(sqitch, 1 migration, 1 other read but not checked)"),
        "{out}"
    );
    assert!(!out.contains("MS30"), "{out}");

    // Editing the deployed script instead is an edit.
    r.write("deploy/users@v1.sql", "CREATE TABLE users (id int);\n");
    let (code, out, _) = stdout(r.migsafe().args(["lint", "--since", "main", "."]));
    assert_eq!(code, Some(1));
    assert!(
        out.contains("error[MS302]: `users@v1` is already on `main`"),
        "{out}"
    );
}

#[test]
fn unknown_rev_exits_2_with_a_hint() {
    let r = numbered("golang-migrate");
    snap!(
        r.migsafe()
            .args(["lint", "--since", "origin/main", "migrations"])
    );
    let (code, _, err) =
        stdout(
            r.migsafe()
                .args(["lint", "--since", "no-such-branch", "migrations"]),
        );
    assert_eq!(code, Some(2));
    assert!(err.contains("unknown revision `no-such-branch`"), "{err}");
}

#[test]
fn unknown_remote_branch_hint_says_what_to_fetch() {
    let r = numbered("golang-migrate");
    r.git(&["remote", "add", "origin", "https://example.invalid/app.git"]);
    let (code, _, err) = stdout(
        r.migsafe()
            .args(["lint", "--since", "origin/main", "migrations"]),
    );
    assert_eq!(code, Some(2));
    assert!(err.contains("`git fetch origin main`"), "{err}");
}

#[test]
fn not_a_git_repository_exits_2() {
    let r = Repo::empty();
    r.write("migrations/1_users.up.sql", USERS_UP);
    r.write("migsafe.toml", "runner = \"golang-migrate\"\n");
    snap!(r.migsafe().args(["lint", "--since", "main", "migrations"]));
}

#[test]
fn git_not_installed_exits_2() {
    let r = numbered("golang-migrate");
    let empty = tempfile::tempdir().unwrap();
    let (code, out, err) = stdout(r.migsafe().env("PATH", empty.path()).args([
        "lint",
        "--since",
        "main",
        "migrations",
    ]));
    assert_eq!(code, Some(2), "{out}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.starts_with("error: cannot run `git` (--since needs it to find what changed)"),
        "{err}"
    );
}

#[test]
fn shallow_clone_without_the_merge_base_exits_2_with_fetch_depth_hint() {
    let r = Repo::new("golang-migrate");
    r.write("migrations/1_users.up.sql", USERS_UP);
    r.commit("users");
    r.git(&["checkout", "-q", "-b", "feature"]);
    r.write("migrations/2_email_index.up.sql", INDEX_UP);
    r.commit("email index");
    r.git(&["checkout", "-q", "main"]);
    r.write("migrations/3_orders.up.sql", ORDERS_UP);
    r.commit("orders");
    r.git(&["checkout", "-q", "feature"]);
    // What actions/checkout does by default: the tips only, no history behind them.
    let url = format!("file://{}", r.dir().display());
    r.git_in(
        r.tmp.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            "--no-single-branch",
            &url,
            "shallow",
        ],
    );
    let clone = r.tmp.path().join("shallow");
    snap!(
        r.migsafe_in(&clone)
            .args(["lint", "--since", "origin/main", "migrations"])
    );
    // Each CI system is told its own way to fetch the history.
    for (var, says, not) in [
        ("GITHUB_ACTIONS", "fetch-depth: 0", "GIT_DEPTH"),
        ("GITLAB_CI", "GIT_DEPTH: 0", "actions/checkout"),
    ] {
        let out = r
            .migsafe_in(&clone)
            .env(var, "true")
            .args(["lint", "--since", "origin/main", "migrations"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says) && !err.contains(not), "{var}: {err}");
    }
}

#[test]
fn since_output_is_the_same_twice() {
    let r = numbered("golang-migrate");
    r.write("migrations/2_email_index.up.sql", INDEX_UP);
    let first = stdout(
        r.migsafe()
            .args(["lint", "--since", "main", "migrations", "--quiet"]),
    );
    let second = stdout(
        r.migsafe()
            .args(["lint", "--since", "main", "migrations", "--quiet"]),
    );
    assert_eq!(first, second);
    // Linting left the repository as it was.
    assert_eq!(
        r.git(&["status", "--porcelain"]),
        "?? migrations/2_email_index.up.sql\n"
    );
}

#[test]
fn json_keeps_findings_about_deleted_migrations() {
    let r = numbered("golang-migrate");
    r.remove("migrations/3_orders.up.sql");
    r.remove("migrations/3_orders.down.sql");
    r.commit("drop orders migration");
    let out = r
        .migsafe()
        .args(["lint", "--since", "main", "--format", "json", "migrations"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let project = &doc["projects"][0];
    assert_eq!(project["migrations"], serde_json::json!([]));
    let findings = project["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["rule"], "MS302");
    assert_eq!(findings[0]["path"], "migrations/3_orders.up.sql");
    assert_eq!(doc["summary"]["errors"], 1);
}

/// The race MS301 exists for: `main` gained a later migration after this branch was cut, and
/// this branch's new migration sorts before it. Seen by comparing with `main` itself, not only
/// with the merge-base, so the GitLab recipe and a pre-push hook catch it too.
#[test]
fn a_migration_main_gained_after_the_branch_was_cut_is_ms301() {
    let r = numbered("golang-migrate");
    r.write("migrations/4_email_index.up.sql", INDEX_UP);
    r.write("migrations/4_email_index.down.sql", INDEX_DOWN);
    r.commit("email index");
    r.git(&["checkout", "-q", "main"]);
    r.write(
        "migrations/5_payments.up.sql",
        "CREATE TABLE payments (id bigint);\n",
    );
    r.write("migrations/5_payments.down.sql", "DROP TABLE payments;\n");
    r.commit("payments");
    r.git(&["checkout", "-q", "feature"]);
    let (code, out, _) = stdout(r.migsafe().args(["lint", "--since", "main", "migrations"]));
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(
            "error[MS301]: `4_email_index` is new but sorts before `5_payments`, which `main` gained after this branch left it"
        ),
        "{out}"
    );
    // A new migration after everything main has is fine.
    r.remove("migrations/4_email_index.up.sql");
    r.remove("migrations/4_email_index.down.sql");
    r.write("migrations/6_email_index.up.sql", INDEX_UP);
    r.write("migrations/6_email_index.down.sql", INDEX_DOWN);
    r.commit("renumbered after main");
    let (_, out, _) = stdout(r.migsafe().args(["lint", "--since", "main", "migrations"]));
    assert!(!out.contains("MS301"), "{out}");
}

/// A diesel project on `main`: users, then a migration of three statements whose middle one is
/// flagged by the SQL rules (MS106, MS125: users exists by then); then a branch `feature`.
fn diesel_three_statements() -> Repo {
    let r = Repo::new("diesel");
    r.write("migrations/2024-01-01-000000_users/up.sql", USERS_UP);
    r.write("migrations/2024-01-01-000000_users/down.sql", USERS_DOWN);
    r.write(DIESEL_UP, &format!("{NICK_UP}{INDEX_UP}{ORDERS_UP}"));
    r.write(
        "migrations/2024-02-01-000000_orders/down.sql",
        &format!("{ORDERS_DOWN}{INDEX_DOWN}ALTER TABLE users DROP COLUMN nick;\n"),
    );
    r.commit("users, then nick, index and orders");
    r.git(&["checkout", "-q", "-b", "feature"]);
    r
}

const DIESEL_UP: &str = "migrations/2024-02-01-000000_orders/up.sql";
const NICK_UP: &str = "ALTER TABLE users ADD COLUMN nick text;\n";

/// Issue 19 item 8: diesel keeps no checksum, and a comment or a line break changes nothing a
/// database runs. No MS302, and the migration's old findings are not reported again.
#[test]
fn comment_and_whitespace_edit_of_an_applied_migration_is_no_ms302() {
    let r = diesel_three_statements();
    r.write(
        DIESEL_UP,
        "-- Nicknames, and orders.\nALTER TABLE users\n    ADD COLUMN nick text; -- shown on orders\n\n/* looked up by email */\nCREATE INDEX users_email ON users (email);\ncreate table orders (id bigint primary key, user_id bigint);\n",
    );
    r.commit("document the users migration");
    let (code, out, err) = stdout(r.migsafe().args(["lint", "--since", "main", "migrations"]));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(!out.contains("MS302"), "{out}");
    assert!(!out.contains("MS106"), "{out}");
    assert!(
        out.contains("(diesel, 0 migrations, 2 others read but not checked)"),
        "{out}"
    );
}

/// Issue 19 item 8: an edited statement is reported where it is, and the statements around it
/// bring back none of their old findings.
#[test]
fn statement_edit_is_ms302_at_that_statement_only() {
    let r = diesel_three_statements();
    r.write(
        DIESEL_UP,
        &format!("-- now with a comment\n{NICK_UP}{INDEX_UP}CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint NOT NULL);\n"),
    );
    r.commit("orders need a user");
    let (code, out, err) = stdout(r.migsafe().args(["lint", "--since", "main", "migrations"]));
    assert_eq!(code, Some(1), "{out}{err}");
    assert_eq!(out.matches("error[").count(), 1, "{out}");
    assert!(
        out.contains("error[MS302]: `20240201000000_orders` is already on `main`, and its up script was edited"),
        "{out}"
    );
    assert!(out.contains(&format!("--> {DIESEL_UP}:4:1")), "{out}");
    assert!(!out.contains("MS106") && !out.contains("MS125"), "{out}");
}

/// Issue 19 item 8: a suppression added in the same change is a comment, not an MS302 of its
/// own; and one for MS302 on the edited statement suppresses that MS302.
#[test]
fn suppression_added_with_an_edit_is_not_its_own_ms302() {
    let r = diesel_three_statements();
    let orders = "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint NOT NULL);\n";
    r.write(
        DIESEL_UP,
        &format!(
            "{NICK_UP}-- migsafe:ignore MS106 the table is empty when this runs\n{INDEX_UP}{orders}"
        ),
    );
    r.commit("orders need a user; the index build is fine");
    let (code, out, err) = stdout(r.migsafe().args(["lint", "--since", "main", "migrations"]));
    assert_eq!(code, Some(1), "{out}{err}");
    assert_eq!(out.matches("[MS302]").count(), 1, "{out}");
    assert!(out.contains(&format!("--> {DIESEL_UP}:4:1")), "{out}");
    assert!(!out.contains("MS106"), "{out}");

    r.write(
        DIESEL_UP,
        &format!(
            "{NICK_UP}{INDEX_UP}-- migsafe:ignore MS302 no database has run this yet\n{orders}"
        ),
    );
    let out = r
        .migsafe()
        .args(["lint", "--since", "main", "--format", "json", "migrations"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let migrations = doc["projects"][0]["migrations"].as_array().unwrap();
    assert_eq!(migrations.len(), 1, "{migrations:?}");
    let findings = migrations[0]["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["rule"], "MS302");
    assert_eq!(findings[0]["suppressed"], "no database has run this yet");
    assert_eq!(findings[0]["start"]["line"], 4);
}

/// Issue 19 item 10: the base is read from git, not from a copy. File names with spaces, line
/// breaks and non-ASCII letters, a symbolic link, a submodule entry and an edited file all
/// come out as they do in the working tree.
#[test]
fn base_is_read_from_git_whatever_the_names() {
    let r = numbered("golang-migrate");
    r.git(&["checkout", "-q", "main"]);
    r.write("migrations/4_a b.up.sql", "CREATE TABLE ab (id int);\n");
    r.write(
        "migrations/5_line\nbreak.up.sql",
        "CREATE TABLE lb (id int);\n",
    );
    r.write("migrations/6_café.up.sql", "CREATE TABLE cafe (id int);\n");
    r.write("shared/7_view.sql", "CREATE VIEW v AS SELECT 1;\n");
    std::os::unix::fs::symlink(
        "../shared/7_view.sql",
        r.dir().join("migrations/7_view.up.sql"),
    )
    .unwrap();
    std::os::unix::fs::symlink("6_café.up.sql", r.dir().join("migrations/8_same.up.sql")).unwrap();
    r.commit("odd names");
    // A submodule's entry: a commit of another repository, no files here.
    let head = r.git(&["rev-parse", "HEAD"]);
    r.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("160000,{},migrations/9_sub", head.trim()),
    ]);
    r.git(&["commit", "-q", "-m", "submodule"]);
    r.git(&["checkout", "-q", "feature"]);
    r.git(&["merge", "-q", "main"]);
    r.write(
        "migrations/5_line\nbreak.up.sql",
        "CREATE TABLE lb (id bigint);\n",
    );
    r.write(
        "migrations/6_café.up.sql",
        "-- a comment only\nCREATE TABLE cafe (id int);\n",
    );
    r.write("migrations/10_new.up.sql", "CREATE TABLE n (id int);\n");
    let (code, out, err) = stdout(r.migsafe().args(["lint", "--since", "main", "migrations"]));
    assert_eq!(code, Some(1), "{out}{err}");
    assert_eq!(out.matches("[MS302]").count(), 1, "{out}");
    assert!(out.contains("error[MS302]: `5_line\\nbreak`"), "{out}");
    // 8_same links to 6_café, whose edit is a comment: neither changed.
    assert!(!out.contains("6_café") && !out.contains("8_same"), "{out}");
    assert!(!out.contains("MS301"), "{out}");
    assert!(out.contains("10_new"), "{out}");
}

/// Issue 19 item 10: a file the branch fixed that was not UTF-8 on the base is reported, with
/// exit 2, not a panic.
#[test]
fn non_utf8_base_file_is_reported() {
    let r = numbered("golang-migrate");
    r.git(&["checkout", "-q", "main"]);
    std::fs::write(
        r.dir().join("migrations/4_latin1.up.sql"),
        b"INSERT INTO users (email) VALUES ('caf\xe9');\n",
    )
    .unwrap();
    r.commit("latin-1");
    r.git(&["checkout", "-q", "feature"]);
    r.git(&["merge", "-q", "main"]);
    let since = r.git(&["rev-parse", "HEAD"]);
    r.write(
        "migrations/4_latin1.up.sql",
        "INSERT INTO users (email) VALUES ('café');\n",
    );
    let (code, out, err) =
        stdout(
            r.migsafe()
                .args(["lint", "--since", since.trim(), "migrations"]),
        );
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("cannot read the migrations as they were at the merge-base")
            && err.contains("migrations/4_latin1.up.sql: not valid UTF-8 (byte 38)"),
        "{err}"
    );
}

#[test]
fn rev_that_is_not_a_commit_exits_2() {
    let r = numbered("golang-migrate");
    let (code, out, err) =
        stdout(
            r.migsafe()
                .args(["lint", "--since", "main:migrations", "migrations"]),
        );
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains(
            "unknown revision `main:migrations` for --since: it names a tree, not a commit"
        ),
        "{err}"
    );
}

/// The rule ids and migrations of a JSON report's findings, as `RULE migration` lines.
fn findings_of(json: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let mut out = Vec::new();
    for p in v["projects"].as_array().unwrap() {
        let per_migration = p["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|m| m["findings"].as_array().unwrap());
        for f in p["findings"]
            .as_array()
            .unwrap()
            .iter()
            .chain(per_migration)
        {
            out.push(format!(
                "{} {}",
                f["rule"].as_str().unwrap_or_default(),
                f["migration"].as_str().unwrap_or_default()
            ));
        }
    }
    out
}

/// A Flyway project in two directories (`sql/core`, `sql/billing`), named by `config`
/// (migsafe.toml's list, or Flyway's `locations`), then a branch that adds a migration sorting
/// before applied ones and edits an applied one in the other directory.
fn flyway_in_two_dirs(config: (&str, &str)) -> Repo {
    let r = Repo::empty();
    r.git(&["init", "-q", "-b", "main"]);
    r.write(config.0, config.1);
    r.write(
        "sql/core/V1__a.sql",
        "CREATE TABLE a (id bigint PRIMARY KEY, x text);\n",
    );
    r.write(
        "sql/core/V4__c.sql",
        "CREATE TABLE c (id bigint PRIMARY KEY);\n",
    );
    r.write(
        "sql/billing/V2__b.sql",
        "CREATE TABLE b (id bigint PRIMARY KEY);\n",
    );
    r.write(
        "sql/billing/V3__dropx.sql",
        "ALTER TABLE a DROP COLUMN x;\n",
    );
    r.commit("base");
    r.git(&["branch", "base"]);
    r.write(
        "sql/billing/V0_5__early.sql",
        "CREATE TABLE early (id bigint PRIMARY KEY);\n",
    );
    r.write(
        "sql/billing/V3__dropx.sql",
        "ALTER TABLE a DROP COLUMN x;\nCREATE TABLE d (id bigint PRIMARY KEY);\n",
    );
    r
}

/// `--since` on a project read from several directories compares it with the same
/// directories at the base: MS301 and MS302 as for one directory.
#[test]
fn several_directories_get_the_history_rules() {
    for config in [
        (
            "migsafe.toml",
            "runner = \"flyway\"\nmigrations_dir = [\"sql/core\", \"sql/billing\"]\n",
        ),
        (
            "flyway.conf",
            "flyway.locations=filesystem:sql/core,filesystem:sql/billing\n",
        ),
    ] {
        let r = flyway_in_two_dirs(config);
        let (code, out, err) = stdout(
            r.migsafe()
                .args(["lint", "--since", "base", "--format", "json", "."]),
        );
        assert_eq!(code, Some(1), "{config:?}: {out}{err}");
        let found = findings_of(&out);
        assert!(
            found.contains(&"MS301 0.5_early".to_string()),
            "{config:?}: {found:?}"
        );
        assert!(
            found.contains(&"MS302 3_dropx".to_string()),
            "{config:?}: {found:?}"
        );
        // Nothing about the untouched migrations of either directory.
        assert!(
            !found
                .iter()
                .any(|f| f.ends_with(" 1_a") || f.ends_with(" 4_c") || f.ends_with(" 2_b")),
            "{config:?}: {found:?}"
        );
    }
}

/// A migration REV gained in another directory after this branch left it counts as applied:
/// a new one sorting before it is MS301.
#[test]
fn several_directories_see_what_rev_gained() {
    let r = Repo::empty();
    r.git(&["init", "-q", "-b", "main"]);
    r.write(
        "migsafe.toml",
        "runner = \"flyway\"\nmigrations_dir = [\"sql/core\", \"sql/billing\"]\n",
    );
    r.write(
        "sql/core/V1__a.sql",
        "CREATE TABLE a (id bigint PRIMARY KEY);\n",
    );
    r.write(
        "sql/billing/V2__b.sql",
        "CREATE TABLE b (id bigint PRIMARY KEY);\n",
    );
    r.commit("base");
    r.git(&["checkout", "-q", "-b", "feature"]);
    r.git(&["checkout", "-q", "main"]);
    r.write(
        "sql/core/V5__e.sql",
        "CREATE TABLE e (id bigint PRIMARY KEY);\n",
    );
    r.commit("main moves on");
    r.git(&["checkout", "-q", "feature"]);
    r.write(
        "sql/billing/V3__c.sql",
        "CREATE TABLE c (id bigint PRIMARY KEY);\n",
    );
    let (code, out, err) = stdout(
        r.migsafe()
            .args(["lint", "--since", "main", "--format", "json", "."]),
    );
    assert_eq!(code, Some(1), "{out}{err}");
    assert_eq!(findings_of(&out), ["MS301 3_c"], "{out}");
}
