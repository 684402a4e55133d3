//! Soft drop and its swap back, on real PostgreSQL: which columns qualify, what the aside
//! column looks like, and when rollback must fall back to the snapshot.

use super::defer::{self, SwapBack};
use crate::pg::testing;

fn db(setup: &str) -> postgres::Client {
    let (_, mut c) = testing::fresh_database("apply_defer");
    c.batch_execute(setup).unwrap();
    c
}

fn columns(c: &mut impl postgres::GenericClient, table: &str) -> Vec<String> {
    c.query(
        "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::text::regclass
         AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        &[&table],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

const TABLE: &str = "CREATE TABLE t (id int PRIMARY KEY, a text NOT NULL DEFAULT 'x', b int);
                     INSERT INTO t SELECT i, 'v' || i, i FROM generate_series(1, 50) i;";

#[test]
fn a_plain_drop_column_is_renamed_aside_and_made_nullable() {
    let mut c = db(TABLE);
    let mut tx = c.transaction().unwrap();
    let d = defer::soft_drop(&mut tx, "ALTER TABLE t DROP COLUMN a", "42")
        .unwrap()
        .expect("deferred");
    tx.commit().unwrap();
    assert_eq!(d.aside, "_migsafe_42_a");
    assert!(d.not_null);
    assert_eq!(columns(&mut c, "t"), ["id", "_migsafe_42_a", "b"]);
    // New code's inserts, which no longer name the column, work.
    c.batch_execute("INSERT INTO t (id, b) VALUES (51, 51)")
        .unwrap();
    let kept: i64 = c
        .query_one("SELECT count(*) FROM t WHERE _migsafe_42_a LIKE 'v%'", &[])
        .unwrap()
        .get(0);
    assert_eq!(kept, 50);
}

#[test]
fn columns_something_depends_on_are_not_deferred() {
    for (setup, why) in [
        ("CREATE INDEX ON t (a)", "index"),
        ("ALTER TABLE t ADD CHECK (a <> '')", "check constraint"),
        ("CREATE VIEW v AS SELECT a FROM t", "view"),
        ("ALTER TABLE t ADD UNIQUE (id, a)", "unique constraint"),
        (
            "ALTER TABLE t ADD COLUMN g text GENERATED ALWAYS AS (a || '!') STORED",
            "generated column",
        ),
        ("CREATE TABLE t_child () INHERITS (t)", "inheritance"),
        (
            "CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
             CREATE TRIGGER t_audit BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION audit()",
            "trigger",
        ),
        ("CREATE PUBLICATION p FOR TABLE t", "publication"),
        ("GRANT SELECT (a) ON t TO PUBLIC", "column privilege"),
        (
            "CREATE DOMAIN short AS text CHECK (length(VALUE) < 100);
             ALTER TABLE t ALTER COLUMN a TYPE short",
            "domain",
        ),
    ] {
        let mut c = db(&format!("{TABLE} {setup};"));
        let mut tx = c.transaction().unwrap();
        let d = defer::soft_drop(&mut tx, "ALTER TABLE t DROP COLUMN a", "1").unwrap();
        assert!(d.is_none(), "{why}: {d:?}");
        assert!(columns(&mut tx, "t").contains(&"a".to_string()), "{why}");
    }
    // Statements other than one plain DROP COLUMN run as written.
    let mut c = db(TABLE);
    let mut tx = c.transaction().unwrap();
    for sql in [
        "ALTER TABLE t DROP COLUMN a CASCADE",
        "ALTER TABLE t DROP COLUMN a, DROP COLUMN b",
        "ALTER TABLE IF EXISTS missing DROP COLUMN a",
        "ALTER TABLE t DROP COLUMN IF EXISTS nope",
    ] {
        assert!(
            defer::soft_drop(&mut tx, sql, "1").unwrap().is_none(),
            "{sql}"
        );
    }
}

fn swap(setup_after_drop: &str) -> (postgres::Client, SwapBack) {
    let mut c = db(TABLE);
    let mut tx = c.transaction().unwrap();
    let d = defer::soft_drop(&mut tx, "ALTER TABLE t DROP COLUMN a", "7")
        .unwrap()
        .unwrap();
    tx.commit().unwrap();
    c.batch_execute("INSERT INTO t (id, b) VALUES (100, 100)")
        .unwrap();
    let mut tx = c.transaction().unwrap();
    tx.batch_execute(setup_after_drop).unwrap();
    let outcome = defer::swap_back(&mut tx, &d).unwrap();
    tx.commit().unwrap();
    (c, outcome)
}

#[test]
fn rollback_puts_the_kept_column_back_in_place() {
    let (mut c, outcome) = swap("ALTER TABLE t ADD COLUMN a text NOT NULL DEFAULT 'x'");
    assert_eq!(outcome, SwapBack::Swapped);
    assert_eq!(columns(&mut c, "t"), ["id", "a", "b"], "original position");
    let values: Vec<String> = c
        .query("SELECT a FROM t ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(values[0], "v1");
    assert_eq!(values.last().unwrap(), "x", "the new row has the default");
    let not_null: bool = c
        .query_one(
            "SELECT attnotnull FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'a'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(not_null);
}

#[test]
fn a_down_that_differs_falls_back_to_the_snapshot() {
    let (mut c, outcome) = swap("ALTER TABLE t ADD COLUMN a varchar(10) NOT NULL DEFAULT 'x'");
    assert!(
        matches!(&outcome, SwapBack::FromSnapshot(w) if w.contains("character varying")),
        "{outcome:?}"
    );
    assert!(outcome.needs_snapshot());
    assert_eq!(
        columns(&mut c, "t"),
        ["id", "b", "a"],
        "kept column dropped"
    );

    let (_, outcome) = swap(
        "ALTER TABLE t ADD COLUMN a text NOT NULL DEFAULT 'x'; UPDATE t SET a = 'filled' WHERE id = 3",
    );
    assert!(
        matches!(&outcome, SwapBack::FromSnapshot(w) if w.contains("writes values")),
        "{outcome:?}"
    );
    let (_, outcome) =
        swap("ALTER TABLE t ADD COLUMN a text NOT NULL DEFAULT 'x'; CREATE INDEX t_a ON t (a)");
    assert!(
        matches!(&outcome, SwapBack::FromSnapshot(w) if w.contains("indexes")),
        "the down's index must survive: {outcome:?}"
    );
    let (_, outcome) = swap("ALTER TABLE t ADD COLUMN a text DEFAULT 'x'");
    assert!(outcome.needs_snapshot(), "NOT NULL differs: {outcome:?}");
    let (mut c, outcome) = swap("SELECT 1");
    assert_eq!(outcome, SwapBack::Dropped, "the down does not re-create it");
    assert_eq!(columns(&mut c, "t"), ["id", "b"]);
}
