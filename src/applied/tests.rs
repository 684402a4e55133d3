//! Each test builds a runner's history table with the runner's own DDL in a fresh database,
//! fills it as the runner would, and reads it back inside a READ ONLY transaction (so any write
//! by the probe would fail the test).

use std::path::{Path, PathBuf};

use super::*;
use crate::pg::testing;
use crate::source::{self, Project, Runner};

pub(super) fn example(runner: Runner) -> PathBuf {
    let dir = match runner {
        Runner::Diesel => "diesel",
        Runner::Sqlx => "sqlx",
        Runner::GolangMigrate => "golang-migrate",
        Runner::Goose => "goose",
        Runner::Dbmate => "dbmate",
        Runner::Flyway => "flyway",
        Runner::Refinery => "refinery",
        Runner::Sqitch => "sqitch",
        Runner::Plain => "plain",
    };
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations-examples")
        .join(dir)
}

/// The bundled example, loaded as `lint` loads a directory.
pub(super) fn project(runner: Runner) -> Project {
    source::discover(&example(runner), Some(runner)).expect("load the example project")
}

/// A copy of the example that a test may edit.
pub(super) fn copied(runner: Runner) -> (tempfile::TempDir, Project) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let target = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), target).unwrap();
            }
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    copy(&example(runner), tmp.path());
    let p = source::discover(tmp.path(), Some(runner)).expect("load the copied example");
    (tmp, p)
}

fn ids(p: &Project) -> Vec<String> {
    p.migrations.iter().map(|m| m.id()).collect()
}

/// Reads inside a READ ONLY transaction: a probe that wrote anything would error here.
fn read_ro(
    client: &mut postgres::Client,
    runner: Runner,
    table: Option<&str>,
) -> Result<History, AppliedError> {
    let mut tx = client.build_transaction().read_only(true).start().unwrap();
    let h = read(&mut tx, runner, table);
    tx.commit().unwrap();
    h
}

fn status_of(client: &mut postgres::Client, p: &Project) -> Status {
    let h = read_ro(client, p.runner, None).expect("read history");
    assert!(h.exists, "{}: history table should exist", p.runner);
    compare(p, &h)
}

fn file(p: &Project, i: usize) -> Vec<u8> {
    std::fs::read(&p.migrations[i].up.path).unwrap()
}

fn unverified_ids(s: &Status) -> Vec<String> {
    s.unverified.iter().map(|(id, _)| id.clone()).collect()
}

fn edited_ids(s: &Status) -> Vec<String> {
    s.edited.iter().map(|(id, _)| id.clone()).collect()
}

/// The runner's own DDL, as the writer creates it.
fn create(c: &mut postgres::Client, runner: Runner) {
    let table = default_table(runner).unwrap();
    c.batch_execute(&write::ddl(runner, None, table).unwrap())
        .unwrap();
}

const SQITCH_DDL: &str = r#"
CREATE SCHEMA sqitch;
CREATE TABLE sqitch.projects (
    project         TEXT        PRIMARY KEY,
    uri             TEXT            NULL UNIQUE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    creator_name    TEXT        NOT NULL,
    creator_email   TEXT        NOT NULL
);
CREATE TABLE sqitch.changes (
    change_id       TEXT        PRIMARY KEY,
    script_hash     TEXT            NULL,
    change          TEXT        NOT NULL,
    project         TEXT        NOT NULL REFERENCES sqitch.projects(project) ON UPDATE CASCADE,
    note            TEXT        NOT NULL DEFAULT '',
    committed_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    committer_name  TEXT        NOT NULL,
    committer_email TEXT        NOT NULL,
    planned_at      TIMESTAMPTZ NOT NULL,
    planner_name    TEXT        NOT NULL,
    planner_email   TEXT        NOT NULL,
    UNIQUE(project, script_hash)
);
CREATE TABLE sqitch.events (
    event           TEXT        NOT NULL CHECK (event IN ('deploy', 'revert', 'fail', 'merge')),
    change_id       TEXT        NOT NULL,
    change          TEXT        NOT NULL,
    project         TEXT        NOT NULL REFERENCES sqitch.projects(project) ON UPDATE CASCADE,
    note            TEXT        NOT NULL DEFAULT '',
    requires        TEXT[]      NOT NULL DEFAULT '{}',
    conflicts       TEXT[]      NOT NULL DEFAULT '{}',
    tags            TEXT[]      NOT NULL DEFAULT '{}',
    committed_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    committer_name  TEXT        NOT NULL,
    committer_email TEXT        NOT NULL,
    planned_at      TIMESTAMPTZ NOT NULL,
    planner_name    TEXT        NOT NULL,
    planner_email   TEXT        NOT NULL,
    PRIMARY KEY (change_id, committed_at)
);
"#;

#[test]
fn diesel_pending_and_missing() {
    let p = project(Runner::Diesel);
    let id = ids(&p);
    let (_, mut c) = testing::fresh_database("applied_diesel");
    create(&mut c, Runner::Diesel);
    c.batch_execute(
        "INSERT INTO __diesel_schema_migrations (version)
            VALUES ('00000000000000'), ('20240318093000'), ('20990101000000');",
    )
    .unwrap();
    let s = status_of(&mut c, &p);
    // diesel runs whatever is missing, in order, even below the newest applied version.
    assert_eq!(s.pending, [id[1].clone(), id[3].clone(), id[4].clone()]);
    assert!(s.out_of_order.is_empty());
    assert_eq!(s.missing_on_disk, ["20990101000000"]);
    assert!(s.edited.is_empty());
    assert_eq!(s.checksums, Checksums::NotStored);
    assert_eq!(unverified_ids(&s), [id[0].clone(), id[2].clone()]);
    assert_eq!(s.dirty, None);
}

#[test]
fn sqlx_edited_pending_and_dirty() {
    let (_tmp, p) = copied(Runner::Sqlx);
    let id = ids(&p);
    let (_, mut c) = testing::fresh_database("applied_sqlx");
    create(&mut c, Runner::Sqlx);
    // The checksum is computed by PostgreSQL's sha384(), not by the code under test.
    for (i, success) in [(0, true), (1, true), (2, true), (3, false)] {
        let m = &p.migrations[i];
        let version: i64 = m.version.parse().unwrap();
        c.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES ($1, $2, $3, sha384($4::bytea), 1)",
            &[&version, &m.name.replace('_', " "), &success, &file(&p, i)],
        )
        .unwrap();
    }
    let s = status_of(&mut c, &p);
    assert!(s.edited.is_empty(), "{:?}", s.edited);
    assert_eq!(s.pending, [id[4].clone()]);
    assert!(s.dirty.as_deref().unwrap().contains("success = false"));

    // Someone edits an applied migration.
    let path = &p.migrations[1].up.path;
    let mut text = std::fs::read_to_string(path).unwrap();
    text.push_str("\n-- an afterthought\n");
    std::fs::write(path, text).unwrap();
    let s = status_of(&mut c, &p);
    assert_eq!(edited_ids(&s), [id[1].clone()]);
    assert!(s.edited[0].1.contains("changed since it was applied"));
    // The failed row has nothing valid to compare.
    assert_eq!(unverified_ids(&s), [id[3].clone()]);
    assert!(s.missing_on_disk.is_empty());
}

#[test]
fn sqlx_ignored_chars_is_not_guessed() {
    let (tmp, p) = copied(Runner::Sqlx);
    std::fs::write(
        tmp.path().join("sqlx.toml"),
        "[migrate]\nignored-chars = [\"\\r\"]\n",
    )
    .unwrap();
    let (_, mut c) = testing::fresh_database("applied_sqlx_ignored");
    create(&mut c, Runner::Sqlx);
    let v: i64 = p.migrations[0].version.parse().unwrap();
    c.execute(
        "INSERT INTO _sqlx_migrations VALUES ($1, 'x', now(), true, '\\x00', 1)",
        &[&v],
    )
    .unwrap();
    let s = status_of(&mut c, &p);
    assert!(s.edited.is_empty());
    assert!(
        s.unverified[0].1.contains("ignored-chars"),
        "{:?}",
        s.unverified
    );
}

#[test]
fn refinery_out_of_order_and_checksum_not_compared() {
    let p = project(Runner::Refinery);
    let id = ids(&p);
    let (_, mut c) = testing::fresh_database("applied_refinery");
    c.batch_execute(
        "CREATE TABLE IF NOT EXISTS refinery_schema_history(
            version INT4 PRIMARY KEY,
            name VARCHAR(255),
            applied_on VARCHAR(255),
            checksum VARCHAR(255));
        INSERT INTO refinery_schema_history VALUES
            (1, 'create_links', '2024-01-01T00:00:00Z', '1234567890123'),
            (2, 'create_clicks', '2024-01-01T00:00:01Z', '42'),
            (4, 'index_clicks_link_id', '2024-01-01T00:00:02Z', '7');",
    )
    .unwrap();
    let s = status_of(&mut c, &p);
    // V3 is below the newest applied version: refinery aborts on it.
    assert_eq!(s.out_of_order, [id[2].clone()]);
    assert_eq!(s.pending, [id[4].clone()]);
    assert!(s.missing_on_disk.is_empty());
    assert!(s.edited.is_empty());
    assert!(matches!(s.checksums, Checksums::NotCompared(_)));
    assert_eq!(
        unverified_ids(&s),
        [id[0].clone(), id[1].clone(), id[3].clone()]
    );
}

#[test]
fn refinery_unversioned_file_may_go_back() {
    let (tmp, p) = copied(Runner::Refinery);
    let v3 = &p.migrations[2].up.path;
    let name = v3
        .file_name()
        .unwrap()
        .to_string_lossy()
        .replacen('V', "U", 1);
    std::fs::rename(v3, v3.with_file_name(name)).unwrap();
    let p = source::discover(tmp.path(), Some(Runner::Refinery)).unwrap();
    let id = ids(&p);
    let (_, mut c) = testing::fresh_database("applied_refinery_u");
    c.batch_execute(
        "CREATE TABLE refinery_schema_history(version INT4 PRIMARY KEY, name VARCHAR(255),
            applied_on VARCHAR(255), checksum VARCHAR(255));
        INSERT INTO refinery_schema_history VALUES (4, 'index_clicks_link_id', 'x', '7');",
    )
    .unwrap();
    let s = status_of(&mut c, &p);
    // V1 and V2 are below the newest too; only the U file may still run.
    assert_eq!(s.out_of_order, [id[0].clone(), id[1].clone()]);
    assert_eq!(s.pending, [id[2].clone(), id[4].clone()]);
}

#[test]
fn flyway_versions_compare_as_numbers() {
    let k = |v: &str| key(Runner::Flyway, v);
    assert_eq!(k("1.0"), k("1"));
    assert_eq!(k("01.2"), k("1_2"));
    assert!(k("1.10") > k("1.9"));
    assert!(k("2") > k("1.99.99"));
    assert!(key(Runner::GolangMigrate, "000010") > key(Runner::GolangMigrate, "9"));
}

#[test]
fn golang_migrate_one_row_model() {
    let p = project(Runner::GolangMigrate);
    let id = ids(&p);
    let (_, mut c) = testing::fresh_database("applied_golang");
    create(&mut c, Runner::GolangMigrate);
    c.batch_execute("INSERT INTO schema_migrations (version, dirty) VALUES (3, false);")
        .unwrap();
    let s = status_of(&mut c, &p);
    assert_eq!(s.pending, [id[3].clone(), id[4].clone()]);
    assert!(s.missing_on_disk.is_empty() && s.out_of_order.is_empty());
    assert_eq!(unverified_ids(&s), id[..3]);
    assert_eq!(s.dirty, None);

    // SetVersion deletes and re-inserts; a failed migration leaves dirty = true.
    c.batch_execute("TRUNCATE schema_migrations; INSERT INTO schema_migrations VALUES (4, true);")
        .unwrap();
    let s = status_of(&mut c, &p);
    assert_eq!(s.pending, [id[4].clone()]);
    assert!(s.dirty.as_deref().unwrap().contains("version 4 is dirty"));

    // A version with no file (e.g. applied from another branch) covers everything below it.
    c.batch_execute("TRUNCATE schema_migrations; INSERT INTO schema_migrations VALUES (9, false);")
        .unwrap();
    let s = status_of(&mut c, &p);
    assert!(s.pending.is_empty());
    assert_eq!(s.missing_on_disk, ["9"]);

    c.batch_execute("INSERT INTO schema_migrations VALUES (10, false);")
        .unwrap();
    let e = read_ro(&mut c, Runner::GolangMigrate, None).unwrap_err();
    assert!(e.to_string().contains("exactly one"), "{e}");
}

#[test]
fn goose_latest_row_decides() {
    let p = project(Runner::Goose);
    let id = ids(&p);
    let v: Vec<i64> = p
        .migrations
        .iter()
        .map(|m| m.version.parse().unwrap())
        .collect();
    let (_, mut c) = testing::fresh_database("applied_goose");
    // goose's DDL includes the version-0 row it writes on creation.
    create(&mut c, Runner::Goose);
    // v2 applied then rolled back (down writes is_applied = false); v4 applied; 2099… unknown.
    for (version, applied) in [
        (v[0], true),
        (v[1], true),
        (v[2], true),
        (v[2], false),
        (v[3], true),
        (20990101000000, true),
    ] {
        c.execute(
            "INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, $2)",
            &[&version, &applied],
        )
        .unwrap();
    }
    let s = status_of(&mut c, &p);
    assert_eq!(s.out_of_order, [id[2].clone(), id[4].clone()]);
    assert!(s.pending.is_empty());
    assert_eq!(s.missing_on_disk, ["20990101000000"]);
    assert_eq!(
        unverified_ids(&s),
        [id[0].clone(), id[1].clone(), id[3].clone()]
    );

    c.batch_execute("DELETE FROM goose_db_version WHERE version_id = 20990101000000")
        .unwrap();
    let s = status_of(&mut c, &p);
    assert_eq!(s.out_of_order, [id[2].clone()]);
    assert_eq!(s.pending, [id[4].clone()]);
    assert!(s.missing_on_disk.is_empty());
}

#[test]
fn dbmate_any_order_and_not_golang_migrate() {
    let p = project(Runner::Dbmate);
    let id = ids(&p);
    let (_, mut c) = testing::fresh_database("applied_dbmate");
    create(&mut c, Runner::Dbmate);
    for i in [0, 3] {
        c.execute(
            "insert into schema_migrations (version) values ($1)",
            &[&p.migrations[i].version],
        )
        .unwrap();
    }
    let s = status_of(&mut c, &p);
    assert_eq!(s.pending, [id[1].clone(), id[2].clone(), id[4].clone()]);
    assert!(s.out_of_order.is_empty() && s.missing_on_disk.is_empty());

    let (_, mut c) = testing::fresh_database("applied_dbmate_golang");
    create(&mut c, Runner::GolangMigrate);
    let e = read_ro(&mut c, Runner::Dbmate, None).unwrap_err();
    assert!(e.to_string().contains("golang-migrate"), "{e}");
}

fn flyway_insert(
    c: &mut postgres::Client,
    rank: i32,
    version: Option<&str>,
    kind: &str,
    script: &str,
    checksum: Option<i32>,
    success: bool,
) {
    c.execute(
        "INSERT INTO flyway_schema_history
            (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success)
         VALUES ($1, $2, 'd', $3, $4, $5, 'ci', 1, $6)",
        &[&rank, &version, &kind, &script, &checksum, &success],
    )
    .unwrap();
}

#[test]
fn flyway_versions_repeatables_and_undo() {
    let (_tmp, p) = copied(Runner::Flyway);
    let id = ids(&p);
    let v = |i: usize| -> (String, String, i32) {
        let m = &p.migrations[i];
        let script =
            m.up.path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
        (
            m.version.clone(),
            script,
            flyway_checksum(&m.up.path).unwrap(),
        )
    };
    let (v1, s1, c1) = v(0);
    let (v2, s2, _) = v(1);
    let (v4, s4, c4) = v(3);
    let (_, r, rc) = v(4);
    assert!(p.migrations[4].repeatable);
    let (_, mut c) = testing::fresh_database("applied_flyway");
    create(&mut c, Runner::Flyway);
    flyway_insert(&mut c, 1, Some(&v1), "SQL", &s1, Some(c1), true);
    flyway_insert(&mut c, 2, Some(&v2), "SQL", &s2, Some(12345), true);
    flyway_insert(&mut c, 3, Some(&v4), "SQL", &s4, Some(c4), true);
    flyway_insert(&mut c, 4, None, "SQL", &r, Some(rc), true);
    flyway_insert(&mut c, 5, Some("7"), "SQL", "V7__gone.sql", Some(1), true);
    // Undone again (Teams `flyway undo`): 4 is not applied any more.
    flyway_insert(&mut c, 6, Some(&v4), "UNDO_SQL", "U4__x.sql", Some(1), true);
    let s = status_of(&mut c, &p);
    assert_eq!(edited_ids(&s), [id[1].clone()]);
    assert!(s.edited[0].1.contains("stored 12345"));
    // Below the newest applied (7): Flyway ignores them unless outOfOrder.
    assert_eq!(s.out_of_order, [id[2].clone(), id[3].clone()]);
    assert!(s.pending.is_empty(), "{:?}", s.pending);
    assert_eq!(s.missing_on_disk, ["7"]);
    assert_eq!(s.dirty, None);

    // Editing a repeatable makes it pending again (it re-runs), not "edited".
    let mut text = std::fs::read_to_string(&p.migrations[4].up.path).unwrap();
    text.push_str("\n-- touched\n");
    std::fs::write(&p.migrations[4].up.path, text).unwrap();
    let s = status_of(&mut c, &p);
    assert_eq!(s.pending, [id[4].clone()]);
}

#[test]
fn flyway_baseline_and_failure() {
    let p = project(Runner::Flyway);
    let id = ids(&p);
    let (_, mut c) = testing::fresh_database("applied_flyway_baseline");
    create(&mut c, Runner::Flyway);
    flyway_insert(
        &mut c,
        1,
        Some("2"),
        "BASELINE",
        "<< Flyway Baseline >>",
        None,
        true,
    );
    let (v3, s3) = (
        &p.migrations[2].version,
        "V3__index_appointments_starts_at.sql",
    );
    flyway_insert(&mut c, 2, Some(v3), "SQL", s3, Some(1), false);
    let s = status_of(&mut c, &p);
    // 1 and 2 are covered by the baseline: neither pending nor missing, and never compared.
    assert_eq!(s.pending, [id[2].clone(), id[3].clone(), id[4].clone()]);
    assert!(s.missing_on_disk.is_empty() && s.out_of_order.is_empty());
    assert_eq!(unverified_ids(&s), [id[0].clone(), id[1].clone()]);
    assert!(s.dirty.as_deref().unwrap().contains("flyway repair"));
}

#[test]
fn sqitch_plan_order_hashes_and_failures() {
    let (_tmp, p) = copied(Runner::Sqitch);
    let id = ids(&p);
    assert_eq!(
        id,
        [
            "appschema",
            "users",
            "insert_user@v1.0.0",
            "users_email",
            "insert_user"
        ]
    );
    let (_, mut c) = testing::fresh_database("applied_sqitch");
    c.batch_execute(SQITCH_DDL).unwrap();
    c.batch_execute(
        "INSERT INTO sqitch.projects (project, creator_name, creator_email) VALUES
            ('flipr', 'Ana', 'ana@example.com'), ('other', 'Ana', 'ana@example.com');",
    )
    .unwrap();
    let change = |c: &mut postgres::Client, cid: &str, name: &str, project: &str, hash: &str| {
        c.execute(
            "INSERT INTO sqitch.changes (change_id, script_hash, change, project, committer_name,
                committer_email, planned_at, planner_name, planner_email)
             VALUES ($1, $2, $3, $4, 'Ana', 'a@x', now(), 'Ana', 'a@x')",
            &[&cid, &hash, &name, &project],
        )
        .unwrap();
        c.execute(
            "INSERT INTO sqitch.events (event, change_id, change, project, committer_name,
                committer_email, planned_at, planner_name, planner_email)
             VALUES ('deploy', $1, $2, $3, 'Ana', 'a@x', now(), 'Ana', 'a@x')",
            &[&cid, &name, &project],
        )
        .unwrap();
    };
    let hash = |i: usize| sqitch_checksum(&p.migrations[i].up.path).unwrap();
    change(&mut c, "c1", "appschema", "flipr", &hash(0));
    change(
        &mut c,
        "c2",
        "users",
        "flipr",
        "0000000000000000000000000000000000000000",
    );
    change(&mut c, "c3", "insert_user", "flipr", &hash(2));
    change(&mut c, "c9", "other_change", "other", "x");
    // users_email failed: sqitch logs a fail event and reverts.
    c.execute(
        "INSERT INTO sqitch.events (event, change_id, change, project, committer_name,
            committer_email, planned_at, planner_name, planner_email)
         VALUES ('fail', 'c4', 'users_email', 'flipr', 'Ana', 'a@x', now(), 'Ana', 'a@x')",
        &[],
    )
    .unwrap();
    let s = status_of(&mut c, &p);
    assert_eq!(s.pending, [id[3].clone(), id[4].clone()]);
    assert_eq!(edited_ids(&s), ["users"]);
    assert!(s.missing_on_disk.is_empty(), "other projects are not ours");
    assert!(s.out_of_order.is_empty());
    assert!(s.dirty.as_deref().unwrap().contains("users_email"));
    assert!(s.unverified.is_empty());

    // A later successful deploy resolves the failure; a deployed change gone from the plan is
    // missing on disk.
    change(&mut c, "c4", "users_email", "flipr", &hash(3));
    change(&mut c, "c5", "dropped", "flipr", "y");
    let s = status_of(&mut c, &p);
    assert_eq!(s.pending, [id[4].clone()]);
    assert_eq!(s.dirty, None);
    assert_eq!(s.missing_on_disk, ["dropped"]);
}

#[test]
fn missing_table_means_everything_pending() {
    let (_, mut c) = testing::fresh_database("applied_missing");
    for runner in Runner::ALL.into_iter().filter(|r| *r != Runner::Plain) {
        let p = project(runner);
        let h = read_ro(&mut c, runner, None).unwrap();
        assert!(!h.exists && h.applied.is_empty(), "{runner}");
        let s = compare(&p, &h);
        assert_eq!(s.pending, ids(&p), "{runner}");
        assert!(
            s.out_of_order.is_empty() && s.missing_on_disk.is_empty(),
            "{runner}"
        );
        assert!(s.edited.is_empty() && s.unverified.is_empty() && s.dirty.is_none());
    }
    // The probe created nothing.
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    let e = read_ro(&mut c, Runner::Plain, None).unwrap_err();
    assert!(e.to_string().contains("no history table"), "{e}");
}

#[test]
fn custom_table_name_and_schema() {
    let p = project(Runner::Sqlx);
    let (_, mut c) = testing::fresh_database("applied_custom");
    c.batch_execute("CREATE SCHEMA ops;").unwrap();
    c.batch_execute(&write::ddl(Runner::Sqlx, Some("ops"), "migrations").unwrap())
        .unwrap();
    let h = read_ro(&mut c, Runner::Sqlx, None).unwrap();
    assert!(!h.exists);
    let h = read_ro(&mut c, Runner::Sqlx, Some("ops.migrations")).unwrap();
    assert!(h.exists);
    assert_eq!(compare(&p, &h).pending.len(), p.migrations.len());
    // A schema that does not exist is a missing table, not an error.
    let h = read_ro(&mut c, Runner::Sqlx, Some("nope.migrations")).unwrap();
    assert!(!h.exists);
}

#[test]
fn unexpected_columns_fail_closed() {
    let (_, mut c) = testing::fresh_database("applied_shape");
    c.batch_execute(
        "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, note TEXT);
         CREATE TABLE flyway_schema_history (installed_rank INT, version TEXT);",
    )
    .unwrap();
    let e = read_ro(&mut c, Runner::Sqlx, None).unwrap_err().to_string();
    assert_eq!(
        e,
        "_sqlx_migrations: not sqlx's history table: expected columns (version, description, \
         installed_on, success, checksum), missing description, installed_on, success, checksum; \
         it has (note, version)"
    );
    let e = read_ro(&mut c, Runner::Flyway, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("flyway_schema_history: not flyway's history table"),
        "{e}"
    );

    let (_, mut c) = testing::fresh_database("applied_flyway_kind");
    create(&mut c, Runner::Flyway);
    flyway_insert(&mut c, 1, Some("1"), "MYSTERY", "V1__x.sql", None, true);
    let e = read_ro(&mut c, Runner::Flyway, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown type `MYSTERY`"), "{e}");
}

/// sqlx: SHA-384 of the file bytes, checked against PostgreSQL's own sha384().
#[test]
fn sqlx_checksum_matches_postgres_sha384() {
    let p = project(Runner::Sqlx);
    let (_, mut c) = testing::fresh_database("applied_sha384");
    for m in &p.migrations {
        let bytes = std::fs::read(&m.up.path).unwrap();
        let want: String = c
            .query_one("SELECT encode(sha384($1::bytea), 'hex')", &[&bytes])
            .unwrap()
            .get(0);
        assert_eq!(sqlx_checksum(&m.up.path).unwrap(), want);
    }
}

/// Flyway: the CRC-32 check value, and a value computed with Python's
/// `zlib.crc32(text.replace(b'\r', b'').replace(b'\n', b''))` for a CRLF/LF file with a BOM.
#[test]
fn flyway_checksum_known_values() {
    let dir = tempfile::tempdir().unwrap();
    let check = dir.path().join("check.sql");
    std::fs::write(&check, "123456789").unwrap();
    // 0xCBF43926 as Java's signed int.
    assert_eq!(flyway_checksum(&check).unwrap(), -873187034);
    let lines = dir.path().join("lines.sql");
    let text = b"SELECT 1;\r\nSELECT 2;\n\n-- caf\xc3\xa9\n";
    std::fs::write(&lines, text).unwrap();
    assert_eq!(flyway_checksum(&lines).unwrap(), 377142526);
    let bom = dir.path().join("bom.sql");
    std::fs::write(&bom, [b"\xef\xbb\xbf".as_slice(), text].concat()).unwrap();
    assert_eq!(flyway_checksum(&bom).unwrap(), 377142526);
}

/// sqitch: SHA-1 of the deploy file: the FIPS 180 "abc" vector and Python's
/// `hashlib.sha1(text).hexdigest()`.
#[test]
fn sqitch_checksum_known_values() {
    let dir = tempfile::tempdir().unwrap();
    let abc = dir.path().join("abc.sql");
    std::fs::write(&abc, "abc").unwrap();
    assert_eq!(
        sqitch_checksum(&abc).unwrap(),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    let lines = dir.path().join("lines.sql");
    std::fs::write(&lines, b"SELECT 1;\r\nSELECT 2;\n\n-- caf\xc3\xa9\n").unwrap();
    assert_eq!(
        sqitch_checksum(&lines).unwrap(),
        "ea89b47844b502df610ade5f82c7db1b6b4a0fc6"
    );
}

#[test]
fn runner_mismatch_is_refused() {
    let (_, mut c) = testing::fresh_database("applied_mismatch");
    let h = read_ro(&mut c, Runner::Goose, None).unwrap();
    let s = compare(&project(Runner::Dbmate), &h);
    assert!(s.pending.is_empty());
    assert!(
        s.dirty.as_deref().unwrap().contains("goose's"),
        "{:?}",
        s.dirty
    );
}
