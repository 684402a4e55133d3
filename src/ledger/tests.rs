//! The ledger on a real PostgreSQL: a fresh database per test.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use postgres::{Client, IsolationLevel};

use super::*;
use crate::pg::testing;

/// A connection named as `migsafe apply` names its own, so Busy messages show it.
fn connect(db: &str) -> Client {
    testing::cluster()
        .config(db)
        .application_name("migsafe apply")
        .connect(postgres::NoTls)
        .unwrap()
}

fn ledger_db(prefix: &str) -> (String, Client) {
    let (name, mut client) = testing::fresh_database(prefix);
    let mut tx = client.transaction().unwrap();
    ensure(&mut tx).unwrap();
    tx.commit().unwrap();
    (name, client)
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn step(migration_id: &str, direction: Direction, snapshots: &[&str]) -> StepRecord {
    StepRecord {
        id: None,
        migration_id: migration_id.into(),
        version: migration_id.split('_').next().unwrap().into(),
        direction,
        started_at: at("2025-03-01T10:00:00.123456Z"),
        finished_at: at("2025-03-01T10:00:02.5Z"),
        up_sha256: "ab".repeat(32),
        down_sha256: Some("cd".repeat(32)),
        snapshot_ids: snapshots.iter().map(|s| s.to_string()).collect(),
        snapshot_sha256: snapshots.iter().map(|_| "ef".repeat(32)).collect(),
        accepted_risk: None,
        runner: "sqlx".into(),
        execution_ms: 2377,
        deferred: vec![],
        finalised_at: None,
    }
}

fn record(client: &mut Client, s: &StepRecord) -> i64 {
    let mut tx = client.transaction().unwrap();
    let id = record_step(&mut tx, s).unwrap();
    tx.commit().unwrap();
    id
}

fn migration_ids(steps: &[StepRecord]) -> Vec<&str> {
    steps.iter().map(|s| s.migration_id.as_str()).collect()
}

#[test]
fn ensure_twice_is_idempotent_and_keeps_the_rows() {
    let (_, mut client) = ledger_db("ledger_ensure");
    assert_eq!(
        installed_version(&mut client).unwrap(),
        Some(SCHEMA_VERSION)
    );
    record(&mut client, &step("1_a", Direction::Up, &[]));
    let mut tx = client.transaction().unwrap();
    ensure(&mut tx).unwrap();
    tx.commit().unwrap();
    assert_eq!(
        installed_version(&mut client).unwrap(),
        Some(SCHEMA_VERSION)
    );
    let versions: i64 = client
        .query_one(r#"SELECT count(*) FROM "migsafe"."schema_version""#, &[])
        .unwrap()
        .get(0);
    assert_eq!(versions, 1);
    assert_eq!(applied_steps(&mut client).unwrap().len(), 1);
}

#[test]
fn a_newer_ledger_is_refused_not_misread() {
    let (_, mut client) = ledger_db("ledger_too_new");
    client
        .batch_execute(r#"UPDATE "migsafe"."schema_version" SET "version" = 99"#)
        .unwrap();
    let e = applied_steps(&mut client).unwrap_err();
    assert!(matches!(e, LedgerError::TooNew { found: 99 }), "{e}");
    let mut tx = client.transaction().unwrap();
    assert!(matches!(
        ensure(&mut tx).unwrap_err(),
        LedgerError::TooNew { found: 99 }
    ));
}

#[test]
fn a_recorded_step_reads_back_whole() {
    let (_, mut client) = ledger_db("ledger_record");
    let mut first = step("20250301_drop_legacy", Direction::Up, &["snap-1", "snap-2"]);
    // Text that would break SQL pasted together travels as parameters.
    first.accepted_risk = Some("ops said 'ok'; DROP TABLE x; --".into());
    let mut second = step("20250302_add_index", Direction::Up, &[]);
    second.down_sha256 = None;
    second.runner = "golang-migrate".into();
    let ids = [record(&mut client, &first), record(&mut client, &second)];
    assert!(ids[0] < ids[1]);
    first.id = Some(ids[0]);
    second.id = Some(ids[1]);
    assert_eq!(applied_steps(&mut client).unwrap(), vec![first, second]);
}

#[test]
fn a_step_commits_with_its_transaction_or_not_at_all() {
    let (_, mut client) = ledger_db("ledger_atomic");
    let mut tx = client.transaction().unwrap();
    record_step(&mut tx, &step("1_a", Direction::Up, &["snap-1"])).unwrap();
    tx.rollback().unwrap();
    assert!(applied_steps(&mut client).unwrap().is_empty());
    assert!(unfinalised_snapshot_ids(&mut client).unwrap().is_empty());
}

#[test]
fn rolled_back_steps_are_not_applied() {
    let (_, mut client) = ledger_db("ledger_rollback");
    let a = record(&mut client, &step("1_a", Direction::Up, &[]));
    let b = record(&mut client, &step("2_b", Direction::Up, &[]));
    let c = record(&mut client, &step("3_c", Direction::Up, &[]));
    let down_b = record(&mut client, &step("2_b", Direction::Down, &[]));
    let mut tx = client.transaction().unwrap();
    mark_rolled_back(&mut tx, b, down_b).unwrap();
    tx.commit().unwrap();
    let applied = applied_steps(&mut client).unwrap();
    assert_eq!(migration_ids(&applied), ["1_a", "3_c"]);
    assert_eq!(applied[0].id, Some(a));
    assert_eq!(applied[1].id, Some(c));

    let mut tx = client.transaction().unwrap();
    let twice = mark_rolled_back(&mut tx, b, down_b)
        .unwrap_err()
        .to_string();
    assert!(
        twice.starts_with(&format!(
            "migsafe ledger: step {b}: cannot be marked rolled back"
        )),
        "{twice}"
    );
    // An up step is not a rollback.
    assert!(mark_rolled_back(&mut tx, a, c).is_err());
}

#[test]
fn unfinalised_snapshot_ids_are_what_prune_must_keep() {
    let (_, mut client) = ledger_db("ledger_snapshots");
    record(&mut client, &step("1_a", Direction::Up, &["s1", "s2"]));
    let b = record(&mut client, &step("2_b", Direction::Up, &["s3"]));
    record(&mut client, &step("3_c", Direction::Up, &["s4", "s1"]));
    record(&mut client, &step("4_d", Direction::Up, &["s5"]));
    let down_b = record(&mut client, &step("2_b", Direction::Down, &[]));
    let mut tx = client.transaction().unwrap();
    mark_rolled_back(&mut tx, b, down_b).unwrap();
    assert_eq!(finalise(&mut tx, "4_d").unwrap(), 1);
    // Rolled back steps are not finalised; finalising twice marks nothing more.
    assert_eq!(finalise(&mut tx, "2_b").unwrap(), 0);
    assert_eq!(finalise(&mut tx, "4_d").unwrap(), 0);
    tx.commit().unwrap();
    assert_eq!(
        unfinalised_snapshot_ids(&mut client).unwrap(),
        ["s1", "s2", "s4"]
    );
    let applied = applied_steps(&mut client).unwrap();
    assert_eq!(migration_ids(&applied), ["1_a", "3_c", "4_d"]);
    assert!(applied[2].finalised_at.is_some());
    assert!(applied[0].finalised_at.is_none());
}

#[test]
fn events_keep_their_detail_as_json() {
    let (_, mut client) = ledger_db("ledger_events");
    let detail = serde_json::json!({"snapshot": "s1", "note": "it's \"fine\"; --"});
    let mut tx = client.transaction().unwrap();
    let id = record_event(&mut tx, EventKind::AcceptRisk, "acme", &detail).unwrap();
    tx.commit().unwrap();
    let row = client
        .query_one(
            r#"SELECT "kind", "target", "detail"::text FROM "migsafe"."events" WHERE "id" = $1"#,
            &[&id],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "accept_risk");
    assert_eq!(row.get::<_, String>(1), "acme");
    let back: serde_json::Value = serde_json::from_str(row.get(2)).unwrap();
    assert_eq!(back, detail);
}

#[test]
fn reading_a_database_without_a_ledger_is_empty_inside_a_read_only_transaction() {
    let (_, mut client) = testing::fresh_database("ledger_read_only");
    let mut tx = client
        .build_transaction()
        .read_only(true)
        .isolation_level(IsolationLevel::RepeatableRead)
        .start()
        .unwrap();
    assert_eq!(installed_version(&mut tx).unwrap(), None);
    assert!(applied_steps(&mut tx).unwrap().is_empty());
    assert!(unfinalised_snapshot_ids(&mut tx).unwrap().is_empty());
    // The transaction is still usable: nothing above failed inside it.
    tx.query_one("SELECT 1", &[]).unwrap();
    tx.commit().unwrap();
    let schemas: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'migsafe'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(schemas, 0, "reading must not create the ledger");
}

#[test]
fn reading_an_existing_ledger_works_read_only() {
    let (_, mut client) = ledger_db("ledger_read_only_existing");
    record(&mut client, &step("1_a", Direction::Up, &["s1"]));
    let mut tx = client.build_transaction().read_only(true).start().unwrap();
    assert_eq!(migration_ids(&applied_steps(&mut tx).unwrap()), ["1_a"]);
    assert_eq!(unfinalised_snapshot_ids(&mut tx).unwrap(), ["s1"]);
    tx.commit().unwrap();
}

#[test]
fn the_lock_key_depends_on_the_database_only() {
    assert_eq!(lock_key("shop"), lock_key("shop"));
    assert_ne!(lock_key("shop"), lock_key("shop2"));
    // Pinned: every migsafe version must compute the same key, or two versions would not
    // exclude each other.
    assert_eq!(lock_key("shop"), key_of("migsafe:shop"));
    assert_eq!(
        key_of("migsafe:shop"),
        i64::from_be_bytes(Sha256::digest(b"migsafe:shop")[..8].try_into().unwrap())
    );
}

#[test]
fn a_second_run_is_busy_until_the_first_lets_go() {
    let (name, _) = testing::fresh_database("ledger_lock");
    let mut first = connect(&name);
    let first_pid: i32 = first
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let mut second = connect(&name);
    let guard = lock(&mut first, "acme", None).unwrap();

    // Another target name for the same database still conflicts: the key is the database's.
    let e = lock(&mut second, "acme-eu", None).unwrap_err();
    let LedgerError::Busy {
        holder: Some(h),
        waited: None,
        ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(h.pid, first_pid);
    let text = e.to_string();
    assert!(
        text.starts_with(&format!(
            "target `acme-eu` is busy: another migsafe run holds the lock on database `{name}`, held by pid {first_pid} since "
        )),
        "{text}"
    );
    assert!(
        text.ends_with(" (application_name `migsafe apply`)"),
        "{text}"
    );

    let t0 = Instant::now();
    let e = lock(&mut second, "acme", Some(Duration::from_millis(300))).unwrap_err();
    assert!(t0.elapsed() >= Duration::from_millis(300));
    let LedgerError::Busy {
        waited: Some(w), ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert!(*w >= Duration::from_millis(300));
    assert!(e.to_string().contains("; gave up after waiting "), "{e}");

    drop(guard);
    let second_guard = lock(&mut second, "acme", None).unwrap();
    // While the second holds it, the first is the one kept out.
    assert!(matches!(
        lock(&mut first, "acme", None),
        Err(LedgerError::Busy { .. })
    ));
    second_guard.unlock().unwrap();
    lock(&mut first, "acme", None).unwrap().unlock().unwrap();
}

#[test]
fn a_waiting_run_gets_the_lock_when_it_is_released_in_time() {
    let (name, _) = testing::fresh_database("ledger_lock_wait");
    let mut first = connect(&name);
    let mut second = connect(&name);
    let guard = lock(&mut first, "acme", None).unwrap();
    let waiter = std::thread::spawn(move || {
        lock(&mut second, "acme", Some(Duration::from_secs(10)))
            .map(|g| g.unlock())
            .is_ok()
    });
    std::thread::sleep(Duration::from_millis(200));
    drop(guard);
    assert!(waiter.join().unwrap());
}

#[test]
fn a_crashed_run_releases_the_lock() {
    let (name, _) = testing::fresh_database("ledger_lock_crash");
    let mut first = connect(&name);
    let mut second = connect(&name);
    let guard = lock(&mut first, "acme", None).unwrap();
    // A crash: no unlock runs, the connection just goes away.
    std::mem::forget(guard);
    drop(first);
    // The server ends the session a moment after the socket closes.
    lock(&mut second, "acme", Some(Duration::from_secs(10)))
        .unwrap()
        .unlock()
        .unwrap();
}
