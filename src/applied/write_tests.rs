//! Each test writes a runner's history in a fresh database with the writer, then reads it back
//! with `read` + `compare` inside a READ ONLY transaction, against the bundled example project.

use super::super::tests::{copied, project};
use super::*;
use crate::applied::{Checksums, Status, compare, read, sqlx_checksum};
use crate::pg::testing;
use crate::source::Project;

const WRITABLE: [Runner; 6] = [
    Runner::Diesel,
    Runner::Sqlx,
    Runner::GolangMigrate,
    Runner::Goose,
    Runner::Dbmate,
    Runner::Flyway,
];

fn ids(p: &Project) -> Vec<String> {
    p.migrations.iter().map(|m| m.id()).collect()
}

/// `read` + `compare` in a READ ONLY transaction.
fn status(c: &mut postgres::Client, p: &Project, table: Option<&str>) -> Status {
    let mut tx = c.build_transaction().read_only(true).start().unwrap();
    let h = read(&mut tx, p.runner, table).expect("read history");
    tx.commit().unwrap();
    assert!(h.exists, "{}: history table should exist", p.runner);
    compare(p, &h)
}

/// Runs `f` in a transaction and commits it.
fn committed<T>(
    c: &mut postgres::Client,
    f: impl FnOnce(&mut Transaction<'_>) -> Result<T, AppliedError>,
) -> Result<T, AppliedError> {
    let mut tx = c.transaction().unwrap();
    let out = f(&mut tx)?;
    tx.commit().unwrap();
    Ok(out)
}

/// Exactly `applied` recorded and `pending` left; nothing edited, dirty, missing or out of order;
/// checksums compared where the runner stores them.
fn assert_clean(s: &Status, pending: &[String], applied: &[String]) {
    let r = s.runner;
    assert_eq!(s.pending, pending, "{r}: pending");
    assert!(s.edited.is_empty(), "{r}: edited {:?}", s.edited);
    assert_eq!(s.dirty, None, "{r}");
    assert!(s.missing_on_disk.is_empty(), "{r}: {:?}", s.missing_on_disk);
    assert!(s.out_of_order.is_empty(), "{r}: {:?}", s.out_of_order);
    let unverified: Vec<String> = s.unverified.iter().map(|(id, _)| id.clone()).collect();
    match s.checksums {
        Checksums::Compared(_) => assert!(unverified.is_empty(), "{r}: {:?}", s.unverified),
        _ => assert_eq!(unverified, applied, "{r}: unverified"),
    }
}

fn roundtrip(runner: Runner) {
    let p = project(runner);
    let id = ids(&p);
    let m = &p.migrations;
    let (_, mut c) = testing::fresh_database(&format!("write_{}", runner.as_str()));
    // Creating twice is harmless.
    for _ in 0..2 {
        committed(&mut c, |tx| ensure_table(tx, runner, None)).unwrap();
    }
    assert_clean(&status(&mut c, &p, None), &id, &[]);

    // The row belongs to the caller's transaction: rolled back, nothing was recorded.
    let mut tx = c.transaction().unwrap();
    record_up(&mut tx, runner, None, &m[0], 5).unwrap();
    tx.rollback().unwrap();
    assert_clean(&status(&mut c, &p, None), &id, &[]);

    committed(&mut c, |tx| {
        m[..3]
            .iter()
            .try_for_each(|m| record_up(tx, runner, None, m, 12))
    })
    .unwrap();
    assert_clean(&status(&mut c, &p, None), &id[3..], &id[..3]);

    // Recording an applied migration again is refused.
    let mut tx = c.transaction().unwrap();
    assert!(
        record_up(&mut tx, runner, None, &m[2], 1).is_err(),
        "{runner}"
    );
    drop(tx);

    committed(&mut c, |tx| {
        record_down(tx, runner, None, &m[2], Some(&m[1]))
    })
    .unwrap();
    assert_clean(&status(&mut c, &p, None), &id[2..], &id[..2]);

    // Rolling back what is not applied is refused.
    let mut tx = c.transaction().unwrap();
    let e = record_down(&mut tx, runner, None, &m[2], Some(&m[1])).unwrap_err();
    assert!(e.to_string().contains("not"), "{runner}: {e}");
    drop(tx);

    // A marker committed on its own: the runner sees a dirty/failed migration until it completes.
    let marked = committed(&mut c, |tx| mark_started(tx, runner, None, &m[2])).unwrap();
    let expect_marker = matches!(
        runner,
        Runner::Sqlx | Runner::GolangMigrate | Runner::Flyway
    );
    assert_eq!(marked, expect_marker, "{runner}");
    let s = status(&mut c, &p, None);
    if marked {
        assert!(s.dirty.is_some(), "{runner}: the marker must read as dirty");
    } else {
        assert_clean(&s, &id[2..], &id[..2]);
    }
    committed(&mut c, |tx| record_up(tx, runner, None, &m[2], 7)).unwrap();
    assert_clean(&status(&mut c, &p, None), &id[3..], &id[..3]);
}

#[test]
fn roundtrip_diesel() {
    roundtrip(Runner::Diesel);
}

#[test]
fn roundtrip_sqlx() {
    roundtrip(Runner::Sqlx);
}

#[test]
fn roundtrip_golang_migrate() {
    roundtrip(Runner::GolangMigrate);
}

#[test]
fn roundtrip_goose() {
    roundtrip(Runner::Goose);
}

#[test]
fn roundtrip_dbmate() {
    roundtrip(Runner::Dbmate);
}

#[test]
fn roundtrip_flyway() {
    roundtrip(Runner::Flyway);
}

#[test]
fn refused_runners_say_why() {
    for runner in WRITABLE {
        assert_eq!(writable(runner), Ok(()), "{runner}");
    }
    let why = writable(Runner::Refinery).unwrap_err();
    assert!(
        why.contains("checksum") && why.contains("divergent"),
        "{why}"
    );
    let why = writable(Runner::Plain).unwrap_err();
    assert!(why.contains("no history table"), "{why}");
    let why = writable(Runner::Sqitch).unwrap_err();
    assert!(why.contains("change_id"), "{why}");

    let (_, mut c) = testing::fresh_database("write_refused");
    let p = project(Runner::Refinery);
    let mut tx = c.transaction().unwrap();
    let e = ensure_table(&mut tx, Runner::Refinery, None).unwrap_err();
    assert!(e.to_string().contains("does not write refinery"), "{e}");
    let e = record_up(&mut tx, Runner::Refinery, None, &p.migrations[0], 1).unwrap_err();
    assert!(e.to_string().contains("does not write refinery"), "{e}");
    let e = ensure_table(&mut tx, Runner::Plain, None).unwrap_err();
    assert!(matches!(e, AppliedError::NoHistory { .. }), "{e}");
    let e = ensure_table(&mut tx, Runner::Sqitch, None).unwrap_err();
    assert!(e.to_string().contains("change_id"), "{e}");
    tx.commit().unwrap();
    // Nothing was created.
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

#[test]
fn wrong_shape_or_missing_table_is_an_error() {
    let p = project(Runner::Sqlx);
    let (_, mut c) = testing::fresh_database("write_shape");
    let mut tx = c.transaction().unwrap();
    let e = record_up(&mut tx, Runner::Sqlx, None, &p.migrations[0], 1).unwrap_err();
    assert!(e.to_string().contains("does not exist"), "{e}");
    drop(tx);

    c.batch_execute("CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, note TEXT);")
        .unwrap();
    let mut tx = c.transaction().unwrap();
    let e = ensure_table(&mut tx, Runner::Sqlx, None).unwrap_err();
    assert!(matches!(e, AppliedError::Shape { .. }), "{e}");
    assert!(e.to_string().contains("not sqlx's history table"), "{e}");
    let e = record_up(&mut tx, Runner::Sqlx, None, &p.migrations[0], 1).unwrap_err();
    assert!(matches!(e, AppliedError::Shape { .. }), "{e}");
    drop(tx);

    // dbmate and golang-migrate share a table name; neither writes into the other's.
    committed(&mut c, |tx| ensure_table(tx, Runner::GolangMigrate, None)).unwrap();
    let d = project(Runner::Dbmate);
    let mut tx = c.transaction().unwrap();
    let e = ensure_table(&mut tx, Runner::Dbmate, None).unwrap_err();
    assert!(e.to_string().contains("golang-migrate"), "{e}");
    let e = record_up(&mut tx, Runner::Dbmate, None, &d.migrations[0], 1).unwrap_err();
    assert!(e.to_string().contains("golang-migrate"), "{e}");
    drop(tx);
    c.batch_execute("DROP TABLE schema_migrations; CREATE TABLE schema_migrations (version varchar(128) primary key);")
        .unwrap();
    let mut tx = c.transaction().unwrap();
    let e = ensure_table(&mut tx, Runner::GolangMigrate, None).unwrap_err();
    assert!(e.to_string().contains("missing dirty"), "{e}");
}

/// sqlx's columns: description with spaces, SHA-384 of the file (computed here by PostgreSQL),
/// execution time in nanoseconds; the marker row becomes the applied row.
#[test]
fn sqlx_rows_as_sqlx_writes_them() {
    let p = project(Runner::Sqlx);
    let (_, mut c) = testing::fresh_database("write_sqlx_rows");
    committed(&mut c, |tx| {
        ensure_table(tx, Runner::Sqlx, None)?;
        record_up(tx, Runner::Sqlx, None, &p.migrations[0], 12)
    })
    .unwrap();
    assert!(
        committed(&mut c, |tx| mark_started(
            tx,
            Runner::Sqlx,
            None,
            &p.migrations[1]
        ))
        .unwrap()
    );
    let row = |c: &mut postgres::Client, i: usize| {
        let m = &p.migrations[i];
        let bytes = std::fs::read(&m.up.path).unwrap();
        let v: i64 = m.version.parse().unwrap();
        let r = c
            .query_one(
                "SELECT description, success, checksum = sha384($2::bytea), execution_time,
                        encode(checksum, 'hex')
                 FROM _sqlx_migrations WHERE version = $1",
                &[&v, &bytes],
            )
            .unwrap();
        let hex: String = r.get(4);
        assert_eq!(hex, sqlx_checksum(&m.up.path).unwrap());
        (
            r.get::<_, String>(0),
            r.get::<_, bool>(1),
            r.get::<_, bool>(2),
            r.get::<_, i64>(3),
        )
    };
    assert_eq!(
        row(&mut c, 0),
        ("create customers".to_string(), true, true, 12_000_000)
    );
    assert_eq!(
        row(&mut c, 1),
        ("create orders".to_string(), false, true, -1)
    );
    committed(&mut c, |tx| {
        record_up(tx, Runner::Sqlx, None, &p.migrations[1], 3)
    })
    .unwrap();
    assert_eq!(
        row(&mut c, 1),
        ("create orders".to_string(), true, true, 3_000_000)
    );
    let n: i64 = c
        .query_one("SELECT count(*) FROM _sqlx_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
}

/// sqlx strips `ignored-chars` before hashing; migsafe refuses rather than store a wrong hash.
#[test]
fn sqlx_ignored_chars_refused() {
    let (tmp, p) = copied(Runner::Sqlx);
    std::fs::write(
        tmp.path().join("sqlx.toml"),
        "[migrate]\nignored-chars = [\"\\r\"]\n",
    )
    .unwrap();
    let (_, mut c) = testing::fresh_database("write_sqlx_ignored");
    let e = committed(&mut c, |tx| {
        ensure_table(tx, Runner::Sqlx, None)?;
        record_up(tx, Runner::Sqlx, None, &p.migrations[0], 1)
    })
    .unwrap_err();
    assert!(e.to_string().contains("ignored-chars"), "{e}");
}

/// (installed_rank, version, description, type, script, checksum, installed_by is the session
/// user, execution_time, success)
type FlywayRowRead = (
    i32,
    Option<String>,
    String,
    String,
    String,
    Option<i32>,
    bool,
    i32,
    bool,
);

/// Flyway's columns: ranks in order, type SQL, the script's file name and CRC32, the session
/// user; a repeatable has no version; undo is an UNDO_SQL row for the U script.
#[test]
fn flyway_rows_as_flyway_writes_them() {
    let p = project(Runner::Flyway);
    let id = ids(&p);
    let m = &p.migrations;
    assert!(m[4].repeatable);
    let (_, mut c) = testing::fresh_database("write_flyway_rows");
    committed(&mut c, |tx| {
        ensure_table(tx, Runner::Flyway, None)?;
        for i in [0, 1, 2, 4] {
            record_up(tx, Runner::Flyway, None, &m[i], 40)?;
        }
        record_down(tx, Runner::Flyway, None, &m[2], Some(&m[1]))
    })
    .unwrap();
    let s = status(&mut c, &p, None);
    assert_eq!(s.pending, [id[2].clone(), id[3].clone()]);
    assert!(s.edited.is_empty() && s.unverified.is_empty() && s.dirty.is_none());

    let rows = c
        .query(
            "SELECT installed_rank, version, description, type, script, checksum,
                    installed_by = current_user, execution_time, success
             FROM flyway_schema_history ORDER BY installed_rank",
            &[],
        )
        .unwrap();
    let got: Vec<FlywayRowRead> = rows
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
                r.get(7),
                r.get(8),
            )
        })
        .collect();
    let sum = |path: &Path| Some(flyway_checksum(path).unwrap());
    let up = |i: usize, v: Option<&str>, desc: &str, script: &str| {
        (
            i as i32 + 1,
            v.map(str::to_string),
            desc.to_string(),
            "SQL".to_string(),
            script.to_string(),
            sum(&m[if v.is_some() { i } else { 4 }].up.path),
            true,
            40,
            true,
        )
    };
    assert_eq!(
        got,
        [
            up(
                0,
                Some("1"),
                "create patients and appointments",
                "V1__create_patients_and_appointments.sql"
            ),
            up(
                1,
                Some("2"),
                "add appointments notes",
                "V2__add_appointments_notes.sql"
            ),
            up(
                2,
                Some("3"),
                "index appointments starts at",
                "V3__index_appointments_starts_at.sql"
            ),
            up(
                3,
                None,
                "upcoming appointments view",
                "R__upcoming_appointments_view.sql"
            ),
            (
                5,
                Some("3".to_string()),
                "index appointments starts at".to_string(),
                "UNDO_SQL".to_string(),
                "U3__index_appointments_starts_at.sql".to_string(),
                sum(&m[2].down.as_ref().unwrap().path),
                true,
                0,
                true,
            ),
        ]
    );

    // A marker completed in place: one more row, not two.
    committed(&mut c, |tx| {
        assert!(mark_started(tx, Runner::Flyway, None, &m[2])?);
        record_up(tx, Runner::Flyway, None, &m[2], 9)
    })
    .unwrap();
    let (n, ok): (i64, i64) = {
        let r = c
            .query_one(
                "SELECT count(*), count(*) FILTER (WHERE success) FROM flyway_schema_history",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((n, ok), (6, 6));
    // The repeatable cannot be undone; nor can a version without a U script be recorded as undone
    // (all examples have one, so only the repeatable is checked here).
    let mut tx = c.transaction().unwrap();
    let e = record_down(&mut tx, Runner::Flyway, None, &m[4], Some(&m[3])).unwrap_err();
    assert!(e.to_string().contains("repeatable"), "{e}");
}

/// goose: the version-0 row on creation (once), and down deletes the version's rows.
#[test]
fn goose_rows_as_goose_writes_them() {
    let p = project(Runner::Goose);
    let (_, mut c) = testing::fresh_database("write_goose_rows");
    for _ in 0..2 {
        committed(&mut c, |tx| ensure_table(tx, Runner::Goose, None)).unwrap();
    }
    committed(&mut c, |tx| {
        record_up(tx, Runner::Goose, None, &p.migrations[0], 1)?;
        record_up(tx, Runner::Goose, None, &p.migrations[1], 1)?;
        record_down(
            tx,
            Runner::Goose,
            None,
            &p.migrations[1],
            Some(&p.migrations[0]),
        )
    })
    .unwrap();
    let rows: Vec<(i64, bool)> = c
        .query(
            "SELECT version_id, is_applied FROM goose_db_version ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let v0: i64 = p.migrations[0].version.parse().unwrap();
    assert_eq!(rows, [(0, true), (v0, true)]);

    // Older goose recorded a down as an is_applied = false row: that version is not applied,
    // so it can be applied again but not rolled back.
    let v1: i64 = p.migrations[1].version.parse().unwrap();
    c.execute(
        "INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, true), ($1, false)",
        &[&v1],
    )
    .unwrap();
    let mut tx = c.transaction().unwrap();
    let e = record_down(
        &mut tx,
        Runner::Goose,
        None,
        &p.migrations[1],
        Some(&p.migrations[0]),
    )
    .unwrap_err();
    assert!(e.to_string().contains("not recorded as applied"), "{e}");
    drop(tx);
    committed(&mut c, |tx| {
        record_up(tx, Runner::Goose, None, &p.migrations[1], 1)
    })
    .unwrap();
    let s = status(&mut c, &p, None);
    assert_eq!(s.pending, ids(&p)[2..]);
}

/// golang-migrate: one row throughout; rolling back the first migration leaves none.
#[test]
fn golang_migrate_one_row_throughout() {
    let p = project(Runner::GolangMigrate);
    let m = &p.migrations;
    let (_, mut c) = testing::fresh_database("write_golang_rows");
    let one = |c: &mut postgres::Client| -> Vec<(i64, bool)> {
        c.query("SELECT version, dirty FROM schema_migrations", &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    };
    committed(&mut c, |tx| {
        ensure_table(tx, Runner::GolangMigrate, None)?;
        record_up(tx, Runner::GolangMigrate, None, &m[0], 1)?;
        record_up(tx, Runner::GolangMigrate, None, &m[1], 1)
    })
    .unwrap();
    assert_eq!(one(&mut c), [(2, false)]);
    committed(&mut c, |tx| {
        mark_started(tx, Runner::GolangMigrate, None, &m[2])
    })
    .unwrap();
    assert_eq!(one(&mut c), [(3, true)]);
    // Dirty: nothing else may be recorded until it completes.
    let mut tx = c.transaction().unwrap();
    let e = record_up(&mut tx, Runner::GolangMigrate, None, &m[3], 1).unwrap_err();
    assert!(e.to_string().contains("dirty"), "{e}");
    drop(tx);
    committed(&mut c, |tx| {
        record_up(tx, Runner::GolangMigrate, None, &m[2], 1)?;
        record_down(tx, Runner::GolangMigrate, None, &m[2], Some(&m[1]))?;
        record_down(tx, Runner::GolangMigrate, None, &m[1], Some(&m[0]))?;
        record_down(tx, Runner::GolangMigrate, None, &m[0], None)
    })
    .unwrap();
    assert_eq!(one(&mut c), []);
    assert_clean(&status(&mut c, &p, None), &ids(&p), &[]);
}

/// A schema-qualified override, as `read` accepts it: the schema is created with the table.
#[test]
fn custom_schema_qualified_tables() {
    let (_, mut c) = testing::fresh_database("write_custom");
    for (runner, table) in [
        (Runner::Sqlx, "ops.sqlx_history"),
        (Runner::Flyway, "ops.\"Flyway History\""),
        (Runner::Goose, "goose_versions"),
    ] {
        let p = project(runner);
        let id = ids(&p);
        committed(&mut c, |tx| {
            ensure_table(tx, runner, Some(table))?;
            record_up(tx, runner, Some(table), &p.migrations[0], 1)
        })
        .unwrap();
        let s = status(&mut c, &p, Some(table));
        assert_eq!(s.pending, id[1..], "{runner}");
        assert!(s.edited.is_empty() && s.dirty.is_none(), "{runner}");
        let mut tx = c.build_transaction().read_only(true).start().unwrap();
        assert!(!read(&mut tx, runner, None).unwrap().exists, "{runner}");
    }
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname = 'Flyway History_pk'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}
