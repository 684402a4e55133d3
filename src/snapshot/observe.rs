//! Observed capture: what each statement of a step *really* changed, recorded inside the step's
//! transaction, and the tripwire that refuses what was not recorded.
//!
//! A prediction from the SQL text misses FK cascades, trigger side effects, values written by
//! volatile expressions, MERGE branches and functions that write. So the step runs with a
//! session guard (`migsafe.capture = on`) that wakes migsafe's capture triggers on each
//! pre-existing table it writes; they copy the before- and after-image of every row the
//! statement changed into a temporary table, and after each statement the images are streamed
//! out with COPY into the statement's snapshot ([`Observer::flush`]).
//!
//! Two kinds of trigger, measured (benches/README.md): on an ordinary table, three
//! statement-level `AFTER` triggers with transition tables (`migsafe_capture_ins`, `_upd`,
//! `_del`) copy the images set-wise, at almost no cost to the statement; on partitions and
//! inheritance members, where transition tables are not allowed or would miss rows, one
//! row-level trigger ([`TRIGGER`]) copies them row by row (several times slower).
//!
//! The triggers stay installed once created: `CREATE TRIGGER` takes SHARE ROW EXCLUSIVE (writers
//! wait until the step commits, readers do not), whereas `DROP TRIGGER` would take ACCESS
//! EXCLUSIVE and block readers. Without the guard their `WHEN` is false; what remains is
//! PostgreSQL keeping the transition rows of each write statement until it ends.
//!
//! After every statement, before commit, the tripwire ([`judge`]) compares the database with
//! what was recorded: rows written according to `pg_stat_xact_user_tables` (deltas around the
//! statement) against rows captured, pre-existing tables that vanished, were truncated or
//! rewritten (`relfilenode`), and columns that vanished or changed type. A table written without
//! a capture trigger is a *miss*: the statement is rolled back to its savepoint, the trigger
//! installed and the statement run again. Anything else unrecorded is refused.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;

use postgres::Transaction;

use super::capture::{self, Table};
use super::manifest::{KeySource, Object, ObjectKind};
use super::store::Writer;
use crate::pg::quote_ident;
use crate::sql::convert::lossless;

/// The name of migsafe's row-level capture trigger; the statement-level ones add `_ins`, `_upd`
/// and `_del`.
pub const TRIGGER: &str = "migsafe_capture";

/// The session setting that wakes the capture triggers: it must hold the backend's pid, so that
/// an `ALTER DATABASE … SET migsafe.capture` cannot wake them in other sessions.
pub const GUARD: &str = "migsafe.capture";

/// The trigger functions, in migsafe's schema. SECURITY INVOKER: they write into the temporary
/// table of the session that fires them, so they can do nothing that session could not. Each
/// image is one row: `half` 0 for a before-image, 1 for an after-image; an UPDATE's
/// before-images are written before its after-images.
pub const FUNCTION_SQL: &str = r#"
CREATE OR REPLACE FUNCTION "migsafe"."capture_statement"() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET IntervalStyle = 'postgres'
SET extra_float_digits = 3
SET bytea_output = 'hex'
SET lc_monetary = 'C'
AS $migsafe$
#variable_conflict use_variable
DECLARE
    v_rel oid := TG_RELID;
    v_op text := TG_OP;
BEGIN
    -- An inheritance member or partition is captured row by row (its statement-level triggers
    -- would miss rows); these stay from before it became one and must not record twice.
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = v_rel
               AND (c.relispartition OR c.relhassubclass
                    OR EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid))) THEN
        RETURN NULL;
    END IF;
    IF v_op IN ('UPDATE', 'DELETE') THEN
        INSERT INTO pg_temp.migsafe_captured (rel, op, half, img)
        SELECT v_rel, v_op, 0, ROW(migsafe_old.*)::text FROM migsafe_old;
    END IF;
    IF v_op IN ('UPDATE', 'INSERT') THEN
        INSERT INTO pg_temp.migsafe_captured (rel, op, half, img)
        SELECT v_rel, v_op, 1, ROW(migsafe_new.*)::text FROM migsafe_new;
    END IF;
    RETURN NULL;
END
$migsafe$;
CREATE OR REPLACE FUNCTION "migsafe"."capture_row"() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET IntervalStyle = 'postgres'
SET extra_float_digits = 3
SET bytea_output = 'hex'
SET lc_monetary = 'C'
AS $migsafe$
BEGIN
    -- The mirror image: a table that is no inheritance member or partition any more is
    -- captured by its statement-level triggers.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = TG_RELID
                   AND (c.relispartition OR c.relhassubclass
                        OR EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid))) THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO pg_temp.migsafe_captured (rel, op, half, img)
        VALUES (TG_RELID, TG_OP, 0, OLD::text);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO pg_temp.migsafe_captured (rel, op, half, img)
        VALUES (TG_RELID, TG_OP, 1, NEW::text);
    END IF;
    RETURN NULL;
END
$migsafe$;
"#;

/// The trigger functions' state, to notice a migration replacing them mid-step.
const FUNCTION_STATE: &str = "SELECT coalesce(pg_catalog.string_agg(pg_catalog.md5(p.prosrc || coalesce(p.proconfig::text, '') || p.prosecdef::text), ',' ORDER BY p.proname), '') \
     FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
     WHERE n.nspname = 'migsafe' AND p.proname IN ('capture_statement', 'capture_row')";

/// The image table's state: its oid, relfilenode (TRUNCATE changes it), and whether anything
/// but migsafe's own inserts could reach it (triggers, rules, row security).
const TABLE_STATE: &str = "SELECT c.oid, c.relfilenode, \
       EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid) \
       OR EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid) OR c.relrowsecurity \
     FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass('pg_temp.migsafe_captured')";

/// Runs `f` with `search_path = pg_catalog, pg_temp` (transaction-local), then puts back the
/// migration's: migsafe's own catalog queries must not resolve to objects a migration created
/// (a table named `pg_attribute` in a schema it put before `pg_catalog`).
pub fn catalog_path<T, E: From<postgres::Error>>(
    tx: &mut Transaction<'_>,
    f: impl FnOnce(&mut Transaction<'_>) -> Result<T, E>,
) -> Result<T, E> {
    let saved: String = tx
        .query_one(
            "SELECT pg_catalog.current_setting('search_path'), \
                    pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true)",
            &[],
        )?
        .get(0);
    let out = f(tx);
    // After a database error the transaction is aborted: that error is the one to report.
    if out.is_ok() {
        tx.execute(
            "SELECT pg_catalog.set_config('search_path', $1, true)",
            &[&saved],
        )?;
    }
    out
}

/// SQL: whether the `pg_trigger` row aliased `alias` is one of migsafe's capture triggers.
pub fn is_capture_trigger(alias: &str) -> String {
    format!(
        "({alias}.tgname IN ('migsafe_capture', 'migsafe_capture_ins', 'migsafe_capture_upd', 'migsafe_capture_del') \
          AND {alias}.tgfoid IN (SELECT p.oid FROM pg_catalog.pg_proc p \
                JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace \
                WHERE pn.nspname = 'migsafe' AND p.proname IN ('capture_statement', 'capture_row')))"
    )
}

#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error("{}", crate::pg::error_text(.0))]
    Db(#[from] postgres::Error),
    #[error(transparent)]
    Store(#[from] super::StoreError),
    /// Something changed that was not recorded: the step must not commit.
    #[error("{0}")]
    Unrecorded(String),
    #[error("{0}")]
    Other(String),
}

/// One column of a pre-existing table, as the catalog had it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnState {
    pub attnum: i16,
    pub name: String,
    /// As `format_type()` spells it.
    pub ty: String,
    /// The type is an enum (its labels survive a change to text).
    pub is_enum: bool,
}

/// One ordinary or partitioned table outside the system schemas and migsafe's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableState {
    pub oid: u32,
    pub relfilenode: u32,
    pub schema: String,
    pub name: String,
    pub partitioned: bool,
    /// The capture trigger exists and fires always (`ENABLE ALWAYS`).
    pub captured: bool,
    pub columns: Vec<ColumnState>,
}

impl TableState {
    pub fn label(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
    fn column(&self, attnum: i16) -> Option<&ColumnState> {
        self.columns.iter().find(|c| c.attnum == attnum)
    }
}

/// Whether table `c` carries its capture triggers, enabled always (`$1` is [`TRIGGER`]): the
/// row-level one on partitions and inheritance members, the three statement-level ones
/// elsewhere. One definition for the step's catalog and for what plan says apply will install.
macro_rules! captured {
    () => {
        "CASE WHEN c.relispartition OR c.relhassubclass \
              OR EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid) \
         THEN EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid \
                      AND g.tgname = $1 AND g.tgenabled = 'A') \
         ELSE (SELECT count(*) FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid \
               AND g.tgname IN ($1 || '_ins', $1 || '_upd', $1 || '_del') \
               AND g.tgenabled = 'A') = 3 END"
    };
}

/// The tables of the database at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog(pub BTreeMap<u32, TableState>);

impl Catalog {
    pub fn read(tx: &mut impl postgres::GenericClient) -> Result<Catalog, postgres::Error> {
        let rows = tx.query(
            concat!(
                "SELECT c.oid, c.relfilenode, n.nspname::text, c.relname::text, c.relkind = 'p', ",
                captured!(),
                ", coalesce((SELECT array_agg(a.attnum ORDER BY a.attnum) FROM pg_catalog.pg_attribute a \
                              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '{}'), \
                    coalesce((SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_catalog.pg_attribute a \
                              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '{}'), \
                    coalesce((SELECT array_agg(pg_catalog.format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum) \
                              FROM pg_catalog.pg_attribute a \
                              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '{}'), \
                    coalesce((SELECT array_agg(t.typtype = 'e' ORDER BY a.attnum) \
                              FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
                              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '{}') \
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' \
               AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'migsafe') \
               AND n.nspname !~ '^pg_toast'"
            ),
            &[&TRIGGER],
        )?;
        let mut out = BTreeMap::new();
        for r in rows {
            let attnums: Vec<i16> = r.get(6);
            let names: Vec<String> = r.get(7);
            let types: Vec<String> = r.get(8);
            let enums: Vec<bool> = r.get(9);
            let t = TableState {
                oid: r.get(0),
                relfilenode: r.get(1),
                schema: r.get(2),
                name: r.get(3),
                partitioned: r.get(4),
                captured: r.get(5),
                columns: attnums
                    .into_iter()
                    .zip(names)
                    .zip(types)
                    .zip(enums)
                    .map(|(((attnum, name), ty), is_enum)| ColumnState {
                        attnum,
                        name,
                        ty,
                        is_enum,
                    })
                    .collect(),
            };
            out.insert(t.oid, t);
        }
        Ok(Catalog(out))
    }

    fn by_name(&self, schema: &str, name: &str) -> Option<&TableState> {
        self.0
            .values()
            .find(|t| t.schema == schema && t.name == name)
    }
}

/// Rows inserted, updated and deleted per table, as `pg_stat_xact_user_tables` counts them.
pub type Stats = HashMap<u32, [i64; 3]>;

fn read_stats(tx: &mut impl postgres::GenericClient) -> Result<Stats, postgres::Error> {
    Ok(tx
        .query(
            "SELECT relid, n_tup_ins, n_tup_upd, n_tup_del FROM pg_catalog.pg_stat_xact_user_tables",
            &[],
        )?
        .iter()
        .map(|r| (r.get(0), [r.get(1), r.get(2), r.get(3)]))
        .collect())
}

/// Rows the capture triggers recorded per table: inserted, updated, deleted.
fn captured_counts(tx: &mut impl postgres::GenericClient) -> Result<Stats, postgres::Error> {
    let mut out: Stats = HashMap::new();
    for r in tx.query(
        "SELECT rel, op, count(*) FROM pg_temp.migsafe_captured \
         WHERE half = CASE op WHEN 'INSERT' THEN 1 ELSE 0 END GROUP BY rel, op",
        &[],
    )? {
        let i = match r.get::<_, &str>(1) {
            "INSERT" => 0,
            "UPDATE" => 1,
            _ => 2,
        };
        out.entry(r.get(0)).or_insert([0; 3])[i] += r.get::<_, i64>(2);
    }
    Ok(out)
}

/// What the statement's pre-capture (or soft drop) already holds, so the tripwire lets it pass.
#[derive(Debug, Clone, Default)]
pub struct Covered {
    /// Tables captured whole (DROP TABLE, TRUNCATE, DROP SCHEMA … CASCADE).
    pub tables: BTreeSet<u32>,
    /// Columns captured with their values (DROP COLUMN, type change), by table and name.
    pub columns: BTreeSet<(u32, String)>,
    /// Tables the statement itself names in a DDL operation: a rewrite of them is expected.
    pub named: BTreeSet<u32>,
    /// Columns whose type change `USING` an expression: values may change, not only the type.
    pub using: BTreeSet<(u32, String)>,
    /// Tables whose unrecorded losses the user accepted (`--accept-loss`), with the reason.
    pub accepted: BTreeMap<u32, String>,
    /// Partitions in `tables` only because their parent was captured whole.
    pub through_parent: BTreeSet<u32>,
}

impl Covered {
    /// Extends what the statement names or captured to the partitions and inheritance
    /// children of those tables: `DROP TABLE p`, `TRUNCATE p` and `ALTER TABLE p …` act on
    /// them too.
    pub fn expand(&mut self, tx: &mut Transaction<'_>) -> Result<(), postgres::Error> {
        let roots: Vec<u32> = self
            .tables
            .iter()
            .chain(&self.named)
            .chain(self.columns.iter().map(|(o, _)| o))
            .chain(self.using.iter().map(|(o, _)| o))
            .copied()
            .collect::<BTreeSet<u32>>()
            .into_iter()
            .collect();
        if roots.is_empty() {
            return Ok(());
        }
        let rows = tx.query(
            "WITH RECURSIVE d(root, oid) AS ( \
               SELECT r, r FROM pg_catalog.unnest($1::pg_catalog.oid[]) r \
               UNION SELECT d.root, i.inhrelid FROM pg_catalog.pg_inherits i JOIN d ON i.inhparent = d.oid) \
             SELECT root, d.oid, c.relispartition FROM d JOIN pg_catalog.pg_class c ON c.oid = d.oid \
             WHERE root <> d.oid",
            &[&roots],
        )?;
        for r in rows {
            let (root, child, partition): (u32, u32, bool) = (r.get(0), r.get(1), r.get(2));
            // A parent's capture holds a partition's rows whole (same columns), but only the
            // parent's columns of an inheritance child, which may have more of its own. Even a
            // partition's rows can only go back through the parent while the partition exists:
            // a dropped partition must be captured itself (see `judge`).
            if self.tables.contains(&root) && partition {
                self.tables.insert(child);
                self.through_parent.insert(child);
            }
            if self.named.contains(&root) {
                self.named.insert(child);
            }
            let cols: Vec<String> = self
                .columns
                .iter()
                .filter(|(o, _)| *o == root)
                .map(|(_, c)| c.clone())
                .collect();
            for c in cols {
                self.columns.insert((child, c));
            }
            let using: Vec<String> = self
                .using
                .iter()
                .filter(|(o, _)| *o == root)
                .map(|(_, c)| c.clone())
                .collect();
            for c in using {
                self.using.insert((child, c));
            }
        }
        Ok(())
    }

    /// Adds what a pre-capture wrote, matched to tables by name in `catalog`.
    pub fn add_objects(&mut self, catalog: &Catalog, objects: &[Object]) {
        for o in objects {
            let in_schema = |t: &&TableState| t.schema == o.schema;
            match o.kind {
                ObjectKind::Dump => {
                    // A schema dump: every table of the schema (or the database) is held.
                    for t in catalog.0.values().filter(in_schema) {
                        self.tables.insert(t.oid);
                    }
                }
                _ => {
                    let Some(t) = catalog.by_name(&o.schema, &o.name) else {
                        continue;
                    };
                    match o.kind {
                        ObjectKind::Rows | ObjectKind::Definition => {
                            self.tables.insert(t.oid);
                        }
                        ObjectKind::Columns | ObjectKind::Values => {
                            for c in &o.columns {
                                self.columns.insert((t.oid, c.clone()));
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

/// The tripwire's verdict on one statement.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Judgement {
    /// Pre-existing tables written without a capture trigger: install it and run again.
    pub missed: Vec<u32>,
    /// What changed unrecorded, for people: the step must not commit.
    pub unrecorded: Vec<String>,
    /// What changed unrecorded in tables the user accepted losing, with the reason.
    pub accepted: Vec<String>,
    /// What passed but deserves a word (rows counted as inserted and not recorded).
    pub notes: Vec<String>,
}

impl Judgement {
    /// Files `what` happened to table `oid` as refused, or as accepted when the user said so.
    fn flag(&mut self, covered: &Covered, oid: u32, what: String) {
        match covered.accepted.get(&oid) {
            Some(reason) => self.accepted.push(format!("{what} (accepted: {reason})")),
            None => self.unrecorded.push(what),
        }
    }
}

/// Compares the database after a statement with before it. `start` is the catalog when the step
/// began (only tables that existed then are protected: tables the step created hold nothing to
/// give back).
pub fn judge(
    start: &Catalog,
    before: &Catalog,
    after: &Catalog,
    stats_before: &Stats,
    stats_after: &Stats,
    captured: &Stats,
    covered: &Covered,
) -> Judgement {
    let mut j = Judgement::default();
    for (oid, b) in &before.0 {
        let Some(s) = start.0.get(oid) else { continue };
        let dropped = !after.0.contains_key(oid);
        if covered.tables.contains(oid) && !(dropped && covered.through_parent.contains(oid)) {
            continue;
        }
        let Some(a) = after.0.get(oid) else {
            j.flag(
                covered,
                *oid,
                format!("dropped table {} without a snapshot of its rows", b.label()),
            );
            continue;
        };
        if a.relfilenode != b.relfilenode && !b.partitioned && !covered.named.contains(oid) {
            j.flag(
                covered,
                *oid,
                format!(
                    "truncated or rewrote table {} without naming it (a TRUNCATE or rewrite inside a function, trigger or DO block?)",
                    b.label()
                ),
            );
        }
        for c in &b.columns {
            if s.column(c.attnum).is_none() {
                continue; // added by this step
            }
            let kept = covered.columns.contains(&(*oid, c.name.clone()));
            match a.column(c.attnum) {
                None if !kept => j.flag(
                    covered,
                    *oid,
                    format!(
                        "dropped column {}.{} without a snapshot of its values",
                        b.label(),
                        c.name
                    ),
                ),
                Some(now)
                    if now.ty != c.ty
                        && !kept
                        && !lossless(&c.ty, c.is_enum, &now.ty, now.is_enum) =>
                {
                    j.flag(
                    covered,
                    *oid,
                    format!(
                        "changed column {}.{} from {} to {}, which may not keep every value, without a snapshot of them",
                        b.label(),
                        c.name,
                        c.ty,
                        now.ty
                    ),
                    )
                }
                Some(now)
                    if covered.using.contains(&(*oid, c.name.clone()))
                        && !kept
                        && now.ty == c.ty =>
                {
                    j.flag(
                        covered,
                        *oid,
                        format!(
                            "rewrote the values of {}.{} with ALTER COLUMN … USING, without a snapshot of them",
                            b.label(),
                            c.name
                        ),
                    )
                }
                _ => {}
            }
        }
    }
    let zero = [0i64; 3];
    for (oid, s) in &start.0 {
        let Some(b) = before.0.get(oid) else { continue };
        if covered.tables.contains(oid) {
            continue;
        }
        let sb = stats_before.get(oid).unwrap_or(&zero);
        let sa = stats_after.get(oid).unwrap_or(&zero);
        let cap = captured.get(oid).unwrap_or(&zero);
        let words = ["inserted", "updated", "deleted"];
        let mut missed = false;
        for i in 0..3 {
            // TRUNCATE resets a table's pending counters: a negative delta is judged above.
            let delta = (sa[i] - sb[i]).max(0);
            if delta > cap[i] {
                if i == 0 && b.captured {
                    // Rows inserted and not recorded destroy nothing that existed: the usual
                    // cause is an insert rolled back inside the statement (an EXCEPTION block),
                    // which PostgreSQL still counts. Said, not refused.
                    j.notes.push(format!(
                        "{} row(s) inserted into {} were counted but not recorded (an insert rolled back inside the statement, such as a DO block's EXCEPTION branch?); rollback does not remove such rows if they exist",
                        delta - cap[i],
                        s.label()
                    ));
                } else if b.captured {
                    j.flag(
                        covered,
                        *oid,
                        format!(
                            "{} {} row(s) of {} that migsafe's capture triggers did not record (rows written in a subtransaction that was rolled back, such as a DO block's EXCEPTION branch, count too)",
                            words[i],
                            delta - cap[i],
                            s.label()
                        ),
                    );
                } else if covered.accepted.contains_key(oid) {
                    j.flag(
                        covered,
                        *oid,
                        format!("{} {} row(s) of {}", words[i], delta - cap[i], s.label()),
                    );
                } else {
                    missed = true;
                }
            } else if cap[i] > delta {
                j.unrecorded.push(format!(
                    "the capture of {} holds {} {} row(s) that PostgreSQL did not count: the capture table was tampered with",
                    s.label(),
                    cap[i] - delta,
                    words[i]
                ));
            }
        }
        if missed {
            j.missed.push(*oid);
        }
    }
    j
}

/// Installs the capture triggers on `oid`: statement-level ones on an ordinary table, the
/// row-level one on each leaf of a partitioned table and on inheritance members. They stay:
/// see the module comment for why.
pub fn install(tx: &mut impl postgres::GenericClient, oid: u32) -> Result<(), ObserveError> {
    // (table, captured row by row, its capture triggers with their enabled state)
    type Leaf = (String, bool, Vec<(String, String)>);
    let tables: Vec<Leaf> = tx
        .query(
            "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), \
                    c.relispartition OR c.relhassubclass \
                      OR EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid), \
                    coalesce((SELECT array_agg(g.tgname::text) FROM pg_catalog.pg_trigger g \
                              WHERE g.tgrelid = c.oid AND g.tgname LIKE $2 || '%'), '{}'), \
                    coalesce((SELECT array_agg(g.tgenabled::text) FROM pg_catalog.pg_trigger g \
                              WHERE g.tgrelid = c.oid AND g.tgname LIKE $2 || '%'), '{}') \
             FROM (SELECT relid FROM pg_catalog.pg_partition_tree($1::oid::regclass) UNION SELECT $1) p \
             JOIN pg_catalog.pg_class c ON c.oid = p.relid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'r'",
            &[&oid, &TRIGGER],
        )?
        .iter()
        .map(|r| {
            let names: Vec<String> = r.get(2);
            let modes: Vec<String> = r.get(3);
            (r.get(0), r.get(1), names.into_iter().zip(modes).collect())
        })
        .collect();
    for (table, by_row, present) in tables {
        let wanted: Vec<(String, String)> = if by_row {
            vec![(
                TRIGGER.to_string(),
                format!(
                    "AFTER INSERT OR UPDATE OR DELETE ON {table} FOR EACH ROW \
                     WHEN (pg_catalog.current_setting('{GUARD}', true) = pg_catalog.pg_backend_pid()::text) \
                     EXECUTE FUNCTION \"migsafe\".\"capture_row\"()"
                ),
            )]
        } else {
            [
                ("ins", "INSERT", "NEW TABLE AS migsafe_new"),
                (
                    "upd",
                    "UPDATE",
                    "OLD TABLE AS migsafe_old NEW TABLE AS migsafe_new",
                ),
                ("del", "DELETE", "OLD TABLE AS migsafe_old"),
            ]
            .iter()
            .map(|(suffix, event, referencing)| {
                (
                    format!("{TRIGGER}_{suffix}"),
                    format!(
                        "AFTER {event} ON {table} REFERENCING {referencing} FOR EACH STATEMENT \
                         WHEN (pg_catalog.current_setting('{GUARD}', true) = pg_catalog.pg_backend_pid()::text) \
                         EXECUTE FUNCTION \"migsafe\".\"capture_statement\"()"
                    ),
                )
            })
            .collect()
        };
        let mut sql = String::new();
        for (name, definition) in wanted {
            let quoted = quote_ident(&name);
            match present.iter().find(|(n, _)| *n == name) {
                Some((_, mode)) if mode == "A" => continue,
                Some(_) => {}
                None => sql.push_str(&format!("CREATE TRIGGER {quoted} {definition};\n")),
            }
            // ENABLE ALWAYS: it fires under session_replication_role = replica too; one that
            // was disabled (ALTER TABLE … DISABLE TRIGGER) is enabled again.
            sql.push_str(&format!(
                "ALTER TABLE {table} ENABLE ALWAYS TRIGGER {quoted};\n"
            ));
        }
        if sql.is_empty() {
            continue;
        }
        tx.batch_execute(&sql).map_err(|e| {
            ObserveError::Other(format!(
                "cannot install migsafe's capture trigger on {table}: {} (the role migsafe applies with must own the tables a release writes)",
                crate::pg::error_text(&e)
            ))
        })?;
    }
    Ok(())
}

/// The tables (leaf partitions and inheritance members included) among those `tables` name,
/// and those their FK actions reach, that lack migsafe's capture triggers: what `migsafe
/// apply` will install them on first. Read-only; names that do not resolve are skipped (an
/// earlier migration creates them).
pub fn missing_triggers(
    tx: &mut impl postgres::GenericClient,
    tables: &[String],
) -> Result<Vec<String>, postgres::Error> {
    if tables.is_empty() {
        return Ok(vec![]);
    }
    let oids: Vec<u32> = tx
        .query(
            "SELECT DISTINCT pg_catalog.to_regclass(n)::oid FROM pg_catalog.unnest($1::text[]) n \
             WHERE pg_catalog.to_regclass(n) IS NOT NULL",
            &[&tables],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let all = reachable(tx, &oids)?;
    Ok(tx
        .query(
            concat!(
                "SELECT DISTINCT pg_catalog.format('%I.%I', n.nspname, c.relname) \
                 FROM pg_catalog.unnest($2::oid[]) o(oid) \
                 CROSS JOIN LATERAL (SELECT relid FROM pg_catalog.pg_partition_tree(o.oid::regclass) UNION SELECT o.oid) p \
                 JOIN pg_catalog.pg_class c ON c.oid = p.relid \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind = 'r' AND NOT ",
                captured!(),
                " ORDER BY 1"
            ),
            &[&TRIGGER, &all],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// The tables that a write to `oids` can reach through FK actions (CASCADE, SET NULL, SET
/// DEFAULT), transitively, `oids` included.
pub fn reachable(
    tx: &mut impl postgres::GenericClient,
    oids: &[u32],
) -> Result<Vec<u32>, postgres::Error> {
    Ok(tx
        .query(
            "WITH RECURSIVE t(oid) AS (SELECT unnest($1::oid[]) \
               UNION SELECT c.conrelid FROM pg_catalog.pg_constraint c JOIN t ON c.confrelid = t.oid \
               WHERE c.contype = 'f' AND (c.confdeltype IN ('c', 'n', 'd') OR c.confupdtype IN ('c', 'n', 'd'))) \
             SELECT oid FROM t",
            &[&oids],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// How a statement passed the tripwire.
#[derive(Debug, Default)]
pub struct Passed {
    /// Times it ran again after a capture trigger was installed on a table it wrote.
    pub reruns: u32,
    /// Unrecorded losses the user accepted (`--accept-loss`), with the reason.
    pub accepted: Vec<String>,
    /// What deserves a word without stopping the step.
    pub notes: Vec<String>,
}

/// Observes one step: created when the step's transaction begins.
pub struct Observer {
    start: Catalog,
    current: Catalog,
    /// What the capture triggers recorded for the last statement, per table.
    recorded: Stats,
    /// Per table, the columns the next statement's plain UPDATE sets (see [`Observer::hint`]).
    hints: HashMap<u32, Vec<String>>,
    /// The image table's oid and relfilenode, and the trigger functions' state.
    table: u32,
    node: u32,
    functions: String,
}

/// The image table's oid, relfilenode and whether it is tainted (see [`TABLE_STATE`]).
fn table_state(tx: &mut Transaction<'_>) -> Result<Option<(u32, u32, bool)>, postgres::Error> {
    Ok(tx
        .query_opt(TABLE_STATE, &[])?
        .map(|r| (r.get(0), r.get(1), r.get(2))))
}

impl Observer {
    /// Prepares `tx` for observed capture: the temporary image table and the catalog as the
    /// step found it. The trigger function must exist ([`crate::ledger::ensure`] creates it).
    pub fn begin(tx: &mut Transaction<'_>) -> Result<Observer, ObserveError> {
        catalog_path(tx, |tx| {
            // More local buffers keep a large image table in memory. The setting can only
            // change before the session's first temporary table, so a refusal is fine.
            let mut sp = tx.savepoint("migsafe_temp_buffers")?;
            if sp
                .batch_execute("SELECT pg_catalog.set_config('temp_buffers', '256MB', true)")
                .is_ok()
            {
                sp.commit()?;
            } else {
                drop(sp);
            }
            // The trigger functions as this migsafe writes them (repairs a replaced one); a role
            // that does not own them leaves them as the ledger created them.
            let mut sp = tx.savepoint("migsafe_functions")?;
            if sp.batch_execute(FUNCTION_SQL).is_ok() {
                sp.commit()?;
            } else {
                drop(sp);
            }
            // A fresh image table: never one an earlier statement of the session left. Any role
            // the migration switches to may insert (only this session sees it).
            tx.batch_execute(
                "DROP TABLE IF EXISTS pg_temp.migsafe_captured; \
                 CREATE TEMP TABLE migsafe_captured \
                   (seq bigint GENERATED ALWAYS AS IDENTITY, rel oid NOT NULL, op text NOT NULL, \
                    half smallint NOT NULL, img text NOT NULL) \
                   ON COMMIT DROP; \
                 GRANT INSERT ON pg_temp.migsafe_captured TO PUBLIC;",
            )?;
            let (table, node, _) = table_state(tx)?
                .ok_or_else(|| ObserveError::Other("the capture's image table vanished".into()))?;
            let functions: String = tx.query_one(FUNCTION_STATE, &[])?.get(0);
            let start = Catalog::read(tx)?;
            Ok(Observer {
                current: start.clone(),
                start,
                recorded: Stats::new(),
                hints: HashMap::new(),
                table,
                node,
                functions,
            })
        })
    }

    /// Refuses when the statement tampered with what records it: the image table replaced,
    /// truncated, updated, deleted from or given triggers or rules; the trigger functions
    /// replaced; statistics switched off (the tripwire counts with them).
    fn check_integrity(
        &self,
        tx: &mut Transaction<'_>,
        stats_before: &Stats,
        stats_after: &Stats,
    ) -> Result<(), ObserveError> {
        let counting: bool = tx
            .query_one(
                "SELECT pg_catalog.current_setting('track_counts')::bool",
                &[],
            )?
            .get(0);
        if !counting {
            return Err(ObserveError::Unrecorded(
                "switched track_counts off, which the tripwire counts written rows with".into(),
            ));
        }
        let tampered = |what: &str| {
            ObserveError::Unrecorded(format!("{what}, which records what the step changes"))
        };
        let tainted = match table_state(tx)? {
            Some((oid, node, tainted)) if oid == self.table && node == self.node => tainted,
            _ => return Err(tampered("replaced or emptied migsafe's image table")),
        };
        if tainted {
            return Err(tampered(
                "put a trigger, rule or policy on migsafe's image table",
            ));
        }
        let zero = [0i64; 3];
        let (b, a) = (
            stats_before.get(&self.table).unwrap_or(&zero),
            stats_after.get(&self.table).unwrap_or(&zero),
        );
        if a[1] > b[1] || a[2] > b[2] {
            return Err(tampered("updated or deleted rows of migsafe's image table"));
        }
        let functions: String = tx.query_one(FUNCTION_STATE, &[])?.get(0);
        if functions != self.functions {
            return Err(tampered("replaced migsafe's capture functions"));
        }
        Ok(())
    }

    pub fn catalog(&self) -> &Catalog {
        &self.current
    }

    /// Tells the next flush that the statement is a plain UPDATE of `oid` setting `columns`:
    /// unless the table has triggers or rules of its own (which may change any column), only
    /// those columns can change in it, so the images need not be read twice to find out.
    pub fn hint(
        &mut self,
        tx: &mut Transaction<'_>,
        oid: u32,
        columns: &[String],
    ) -> Result<(), ObserveError> {
        self.hints.clear();
        let others: bool = tx
            .query_one(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = $1 \
                       AND NOT g.tgisinternal AND NOT {}) \
                     OR EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r WHERE r.ev_class = $1)",
                    is_capture_trigger("g")
                ),
                &[&oid],
            )?
            .get(0);
        if !others {
            self.hints.insert(oid, columns.to_vec());
        }
        Ok(())
    }

    /// Installs capture triggers on the pre-existing tables among `oids` and those their FK
    /// actions reach, so that the first run of a statement records them.
    pub fn prepare(&mut self, tx: &mut Transaction<'_>, oids: &[u32]) -> Result<(), ObserveError> {
        catalog_path(tx, |tx| self.prepare_tables(tx, oids))
    }

    fn prepare_tables(
        &mut self,
        tx: &mut Transaction<'_>,
        oids: &[u32],
    ) -> Result<(), ObserveError> {
        let named: Vec<u32> = oids
            .iter()
            .copied()
            .filter(|o| self.start.0.contains_key(o))
            .collect();
        if named.is_empty() {
            return Ok(());
        }
        let mut changed = false;
        for oid in reachable(tx, &named)? {
            let Some(t) = self.current.0.get(&oid) else {
                continue;
            };
            if !t.captured && self.start.0.contains_key(&oid) {
                install(tx, oid)?;
                changed = true;
            }
        }
        if changed {
            self.current = Catalog::read(tx)?;
        }
        Ok(())
    }

    /// Runs `run` under capture and the tripwire, in a savepoint; a table written without a
    /// capture trigger gets one and the statement runs again (once). Returns how often it ran
    /// again and the unrecorded losses the user accepted; the images stay in the temporary
    /// table until [`Observer::flush`].
    pub fn statement<E>(
        &mut self,
        tx: &mut Transaction<'_>,
        covered: &Covered,
        mut run: impl FnMut(&mut Transaction<'_>) -> Result<(), E>,
        on_error: impl Fn(ObserveError) -> E,
    ) -> Result<Passed, E> {
        let mut reruns = 0;
        loop {
            let mut sp = tx
                .savepoint("migsafe_statement")
                .map_err(|e| on_error(e.into()))?;
            let stats_before = read_stats(&mut sp).map_err(|e| on_error(e.into()))?;
            sp.execute(
                "SELECT pg_catalog.set_config($1, pg_catalog.pg_backend_pid()::text, true)",
                &[&GUARD],
            )
            .map_err(|e| on_error(e.into()))?;
            run(&mut sp)?;
            let checked = catalog_path(
                &mut sp,
                |sp| -> Result<(Judgement, Catalog, Stats), ObserveError> {
                    sp.execute("SELECT pg_catalog.set_config($1, 'off', true)", &[&GUARD])?;
                    let stats_after = read_stats(sp)?;
                    self.check_integrity(sp, &stats_before, &stats_after)?;
                    let captured = captured_counts(sp)?;
                    let after = Catalog::read(sp)?;
                    let j = judge(
                        &self.start,
                        &self.current,
                        &after,
                        &stats_before,
                        &stats_after,
                        &captured,
                        covered,
                    );
                    Ok((j, after, captured))
                },
            );
            let (j, after, captured) = checked.map_err(&on_error)?;
            if !j.unrecorded.is_empty() {
                return Err(on_error(ObserveError::Unrecorded(j.unrecorded.join("; "))));
            }
            if !j.missed.is_empty() {
                if reruns > 0 {
                    let names: Vec<String> = j
                        .missed
                        .iter()
                        .filter_map(|o| self.start.0.get(o).map(TableState::label))
                        .collect();
                    return Err(on_error(ObserveError::Unrecorded(format!(
                        "wrote {} although migsafe installed its capture trigger there and ran the statement again",
                        names.join(", ")
                    ))));
                }
                sp.rollback().map_err(|e| on_error(e.into()))?;
                let missed = j.missed.clone();
                self.current = catalog_path(tx, |tx| -> Result<Catalog, ObserveError> {
                    for oid in &missed {
                        install(tx, *oid)?;
                    }
                    Ok(Catalog::read(tx)?)
                })
                .map_err(&on_error)?;
                reruns += 1;
                continue;
            }
            sp.commit().map_err(|e| on_error(e.into()))?;
            self.current = after;
            self.recorded = captured;
            return Ok(Passed {
                reruns,
                accepted: j.accepted,
                notes: j.notes,
            });
        }
    }

    /// Reads the catalog again after migsafe's own DDL (a soft drop).
    pub fn refresh(&mut self, tx: &mut Transaction<'_>) -> Result<(), ObserveError> {
        self.current = catalog_path(tx, |tx| Catalog::read(tx))?;
        Ok(())
    }

    /// Streams the images the last statement recorded into the statement's snapshot, one
    /// object per table (only columns that existed when the step began: values of columns the
    /// step added are the step's own), and empties the image table. Updates that changed no
    /// such column are left out (a backfill of a new column destroys nothing).
    ///
    /// `open` starts the snapshot when the first object is written; without one (no snapshot
    /// store), nothing is written and [`Flushed::unstored`] names what needed recording.
    pub fn flush(
        &mut self,
        tx: &mut Transaction<'_>,
        writer: &mut Option<Writer>,
        open: Option<&mut dyn FnMut() -> Result<Writer, ObserveError>>,
        first_file: usize,
    ) -> Result<Flushed, ObserveError> {
        catalog_path(tx, |tx| {
            // Reading the images back sorts them by seq: in memory, not on disk.
            let work_mem: String = tx
                .query_one(
                    "SELECT pg_catalog.current_setting('work_mem'), \
                            pg_catalog.set_config('work_mem', '256MB', true)",
                    &[],
                )?
                .get(0);
            let out = self.flush_images(tx, writer, open, first_file);
            self.hints.clear();
            let out = out?;
            tx.execute(
                "SELECT pg_catalog.set_config('work_mem', $1, true)",
                &[&work_mem],
            )?;
            tx.batch_execute("TRUNCATE pg_temp.migsafe_captured")?;
            self.node = table_state(tx)?.map_or(0, |(_, node, _)| node);
            Ok(out)
        })
    }

    fn flush_images(
        &mut self,
        tx: &mut Transaction<'_>,
        writer: &mut Option<Writer>,
        mut open: Option<&mut dyn FnMut() -> Result<Writer, ObserveError>>,
        first_file: usize,
    ) -> Result<Flushed, ObserveError> {
        let recorded = std::mem::take(&mut self.recorded);
        let mut rels: Vec<u32> = recorded
            .iter()
            .filter(|(_, c)| c.iter().sum::<i64>() > 0)
            .map(|(rel, _)| *rel)
            .collect();
        rels.sort_unstable();
        let mut out = Flushed::default();
        if !rels.is_empty() {
            // The images were written as text under the session's settings and are read back
            // under the same: only forms that read back exactly are accepted.
            let exact: bool = tx
                .query_one(
                    "SELECT pg_catalog.current_setting('DateStyle') LIKE 'ISO%' \
                        AND pg_catalog.current_setting('IntervalStyle') <> 'sql_standard' \
                        AND pg_catalog.current_setting('extra_float_digits')::int >= 1",
                    &[],
                )?
                .get(0);
            if !exact {
                return Err(ObserveError::Unrecorded(
                    "ran with DateStyle, IntervalStyle or extra_float_digits set to a form whose text does not read back exactly (DateStyle must start with ISO, extra_float_digits be at least 1), so migsafe cannot record the rows it changed".into(),
                ));
            }
        }
        for rel in rels {
            let Some(start) = self.start.0.get(&rel) else {
                continue;
            };
            let t = capture::table_by_oid(tx, rel)?;
            let label = format!("{}.{}", t.schema, t.name);
            // Columns that existed when the step began (by attnum: a rename is the same column)
            // and hold stored values; their positions among the row image's fields.
            let kept: Vec<(usize, &capture::Column)> = t
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.generated)
                .filter(|(_, c)| {
                    self.current.0.get(&rel).is_some_and(|now| {
                        now.columns
                            .iter()
                            .any(|n| n.name == c.name && start.column(n.attnum).is_some())
                    })
                })
                .collect();
            let c = recorded.get(&rel).copied().unwrap_or_default();
            let (inserted, updated, deleted) = (c[0], c[1], c[2]);
            if kept.is_empty() || inserted + updated + deleted == 0 {
                continue;
            }
            let key: Vec<usize> = t
                .key
                .iter()
                .filter_map(|k| kept.iter().position(|(_, c)| c.name == *k))
                .collect();
            if t.key_source != KeySource::WholeRow && key.len() != t.key.len() {
                return Err(ObserveError::Unrecorded(format!(
                    "changed rows of {label} whose key ({}) the step itself created, so rollback could not match them",
                    t.key.join(", ")
                )));
            }
            let fields = t.columns.len();
            let picks: Vec<usize> = kept.iter().map(|(i, _)| *i).collect();
            // Which kept columns the updates changed, and whether any changed the key.
            let mut changed = vec![false; kept.len()];
            let mut key_moved = false;
            // A plain UPDATE of a table without triggers or rules changes only its SET columns:
            // then the images need not be read twice. Checked while they are written.
            let hinted = self
                .hints
                .get(&rel)
                .filter(|_| inserted == 0 && deleted == 0);
            if let Some(set) = hinted {
                for (j, (_, c)) in kept.iter().enumerate() {
                    if set.contains(&c.name) {
                        changed[j] = true;
                        key_moved |= key.contains(&j);
                    }
                }
            } else if updated > 0 {
                pairs(tx, rel, &mut |_, _, o, n| {
                    let (o, n) = (fields_of(o, fields)?, fields_of(n, fields)?);
                    for (j, &i) in picks.iter().enumerate() {
                        if o[i] != n[i] {
                            changed[j] = true;
                            key_moved |= key.contains(&j);
                        }
                    }
                    Ok(())
                })?;
            }
            // Updates alone that keep their keys need only the key and the changed columns.
            let narrow = inserted == 0 && deleted == 0 && !key_moved;
            let out_cols: Vec<usize> = (0..kept.len())
                .filter(|j| !narrow || key.contains(j) || changed[*j])
                .collect();
            let destroyed = deleted
                + if changed.iter().any(|c| *c) {
                    updated
                } else {
                    0
                };
            if narrow && !changed.iter().any(|c| *c) {
                // Only columns the step added changed (a backfill): nothing to give back.
                continue;
            }
            let Some(open) = open.as_mut() else {
                if destroyed > 0 {
                    out.unstored
                        .push(format!("{destroyed} updated or deleted row(s) of {label}"));
                }
                continue;
            };
            if t.key_source == KeySource::WholeRow {
                return Err(ObserveError::Unrecorded(format!(
                    "changed rows of {label}, which has no primary key or NOT NULL unique key, so rollback could not match them (add a key first)"
                )));
            }
            if writer.is_none() {
                *writer = Some(open()?);
            }
            let w = writer.as_mut().expect("opened above");
            let file = capture::file_name(
                first_file + out.objects.len(),
                "changes",
                &t.schema,
                &t.name,
                "copy",
            );
            let cols: Vec<usize> = out_cols.iter().map(|&j| picks[j]).collect();
            let key_fields: Vec<usize> = key.iter().map(|&j| picks[j]).collect();
            // With a hint, every other stored column must be unchanged: checked per row.
            let watch: Vec<usize> = match hinted {
                Some(_) => picks
                    .iter()
                    .copied()
                    .filter(|i| !cols.contains(i))
                    .collect(),
                None => vec![],
            };
            let rows = write_changes(
                tx,
                w,
                &file,
                rel,
                fields,
                &Layout {
                    cols: &cols,
                    key: &key_fields,
                    watch: &watch,
                    singles: inserted + deleted > 0,
                },
            )?;
            let columns: Vec<&capture::Column> = out_cols.iter().map(|&j| kept[j].1).collect();
            out.objects.push(changes_object(&t, &columns, rows, file));
        }
        Ok(out)
    }
}

/// What [`Observer::flush`] wrote.
#[derive(Debug, Default)]
pub struct Flushed {
    pub objects: Vec<Object>,
    /// Overwritten or deleted rows that needed a snapshot and had none (no store).
    pub unstored: Vec<String>,
}

fn changes_object(t: &Table, cols: &[&capture::Column], rows: u64, file: String) -> Object {
    Object {
        kind: ObjectKind::Changes,
        schema: t.schema.clone(),
        name: t.name.clone(),
        key_source: t.key_source,
        key: t.key.clone(),
        key_types: t
            .key
            .iter()
            .map(|k| t.column(k).map(|c| c.ty.clone()).unwrap_or_default())
            .collect(),
        columns: cols.iter().map(|c| c.name.clone()).collect(),
        column_types: cols.iter().map(|c| c.ty.clone()).collect(),
        after: vec![],
        rows,
        file,
    }
}

/// `(before seq, after seq, before-image, after-image)` of one updated row.
type PairFn<'a> = dyn FnMut(i64, i64, &str, &str) -> Result<(), ObserveError> + 'a;

/// Rows fetched per round trip when the images are read back.
const BATCH: i32 = 20_000;

/// The fields of one row image, checked against the table's column count: a statement that
/// changed a table's columns while writing its rows leaves images that no longer line up.
fn fields_of(img: &str, fields: usize) -> Result<Vec<Option<Cow<'_, str>>>, ObserveError> {
    let values = record_fields(img).map_err(ObserveError::Other)?;
    if values.len() != fields {
        return Err(ObserveError::Unrecorded(format!(
            "changed the columns of a table in the same statement that wrote its rows ({} fields recorded, {fields} columns now), so migsafe cannot tell which value belongs to which column",
            values.len()
        )));
    }
    Ok(values)
}

/// The images must come back in `seq` order (the pairing depends on it): checked as they come.
fn in_order(last: &mut i64, seq: i64) -> Result<(), ObserveError> {
    if seq <= *last {
        return Err(ObserveError::Other(format!(
            "the capture's images came back out of order (seq {seq} after {last})"
        )));
    }
    *last = seq;
    Ok(())
}

/// Calls `f(old seq, new seq, old image, new image)` for every row an UPDATE of `rel` changed.
/// Each firing of the statement trigger writes its before-images, then its after-images, in
/// the same order (PostgreSQL fills both transition tables row by row), so the n-th before-image
/// and the n-th after-image, in `seq` order, are the same row; two cursors read them side by
/// side with bounded memory.
fn pairs(tx: &mut Transaction<'_>, rel: u32, f: &mut PairFn<'_>) -> Result<(), ObserveError> {
    let q = |half: i16| {
        format!(
            "SELECT seq, img FROM pg_temp.migsafe_captured \
             WHERE rel = {rel} AND op = 'UPDATE' AND half = {half} ORDER BY seq"
        )
    };
    let mut sp = tx.transaction()?;
    let old = sp.bind(q(0).as_str(), &[])?;
    let new = sp.bind(q(1).as_str(), &[])?;
    let (mut last_a, mut last_b) = (0, 0);
    loop {
        let a = sp.query_portal(&old, BATCH)?;
        let b = sp.query_portal(&new, BATCH)?;
        if a.len() != b.len() {
            return Err(ObserveError::Other(format!(
                "the capture holds {} before- and {} after-images of updated rows: they do not pair",
                a.len(),
                b.len()
            )));
        }
        if a.is_empty() {
            break;
        }
        for (ra, rb) in a.iter().zip(&b) {
            let (sa, sb): (i64, i64) = (ra.get(0), rb.get(0));
            in_order(&mut last_a, sa)?;
            in_order(&mut last_b, sb)?;
            f(sa, sb, ra.get(1), rb.get(1))?;
        }
    }
    sp.commit()?;
    Ok(())
}

/// Calls `f(seq, op, image)` for every row an INSERT added ('I') or a DELETE removed ('D').
fn singles(
    tx: &mut Transaction<'_>,
    rel: u32,
    f: &mut dyn FnMut(i64, char, &str) -> Result<(), ObserveError>,
) -> Result<(), ObserveError> {
    let mut sp = tx.transaction()?;
    let portal = sp.bind(
        format!(
            "SELECT seq, op, img FROM pg_temp.migsafe_captured \
             WHERE rel = {rel} AND op IN ('INSERT', 'DELETE') ORDER BY seq"
        )
        .as_str(),
        &[],
    )?;
    let mut last = 0;
    loop {
        let rows = sp.query_portal(&portal, BATCH)?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let op = if r.get::<_, &str>(1) == "INSERT" {
                'I'
            } else {
                'D'
            };
            let seq: i64 = r.get(0);
            in_order(&mut last, seq)?;
            f(seq, op, r.get(2))?;
        }
    }
    sp.commit()?;
    Ok(())
}

/// Writes the changes of `rel` to a new file of `w` as COPY text, one row per changed row:
/// `seq`, `op` (`I` inserted, `U` updated, `D` deleted), the before-image's `cols`, then the
/// after-image's (`\N` where there is none). An update that moved a row to another key is
/// written as a deletion and an insertion; one that changed none of `cols` is left out. Returns
/// the row count.
/// Which fields of the images [`write_changes`] writes and checks.
struct Layout<'a> {
    /// Fields written, before- then after-image.
    cols: &'a [usize],
    /// The key's fields.
    key: &'a [usize],
    /// Fields an update must not have changed (they are not written).
    watch: &'a [usize],
    /// Whether there are inserted or deleted rows to read.
    singles: bool,
}

fn write_changes(
    tx: &mut Transaction<'_>,
    w: &mut Writer,
    file: &str,
    rel: u32,
    fields: usize,
    layout: &Layout<'_>,
) -> Result<u64, ObserveError> {
    let (cols, key) = (layout.cols, layout.key);
    let mut sink = w.create_file(file)?;
    let mut rows = 0u64;
    let mut line = Vec::new();
    let mut emit = |seq: i64,
                    op: char,
                    o: Option<&[Option<Cow<'_, str>>]>,
                    n: Option<&[Option<Cow<'_, str>>]>|
     -> Result<(), ObserveError> {
        line.clear();
        line.extend_from_slice(seq.to_string().as_bytes());
        line.push(b'\t');
        line.push(op as u8);
        for img in [o, n] {
            for &i in cols {
                line.push(b'\t');
                match img.and_then(|v| v[i].as_deref()) {
                    None => line.extend_from_slice(b"\\N"),
                    Some(v) => copy_escape(v, &mut line),
                }
            }
        }
        line.push(b'\n');
        sink.write_all(&line)
            .map_err(|e| ObserveError::Other(format!("{file}: cannot write snapshot file: {e}")))?;
        rows += 1;
        Ok(())
    };
    // Keys met so far (hashed): a key changed twice in one statement is checked below.
    let mut seen = std::collections::HashSet::new();
    let mut repeated = std::collections::HashSet::new();
    let mut note = |v: &[Option<Cow<'_, str>>]| {
        let h = key_hash(v, key);
        if !seen.insert(h) {
            repeated.insert(h);
        }
    };
    if layout.singles {
        singles(tx, rel, &mut |seq, op, img| {
            let v = fields_of(img, fields)?;
            note(&v);
            match op {
                'I' => emit(seq, 'I', None, Some(&v)),
                _ => emit(seq, 'D', Some(&v), None),
            }
        })?;
    }
    pairs(tx, rel, &mut |so, sn, o, n| {
        let (o, n) = (fields_of(o, fields)?, fields_of(n, fields)?);
        if layout.watch.iter().any(|&i| o[i] != n[i]) {
            return Err(ObserveError::Unrecorded(
                "changed a column outside its SET list although the table has no trigger or rule that could, so migsafe refuses rather than record part of it".into(),
            ));
        }
        note(&o);
        if key.iter().any(|&i| o[i] != n[i]) {
            note(&n);
            emit(so, 'D', Some(&o), None)?;
            emit(sn, 'I', None, Some(&n))
        } else if cols.iter().any(|&i| o[i] != n[i]) {
            emit(so, 'U', Some(&o), Some(&n))
        } else {
            Ok(())
        }
    })?;
    w.finish_file(sink)?;
    if !repeated.is_empty() {
        check_chains(tx, rel, fields, cols, key, &repeated)?;
    }
    Ok(rows)
}

fn key_hash(v: &[Option<Cow<'_, str>>], key: &[usize]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for &i in key {
        v[i].as_deref().hash(&mut h);
    }
    h.finish()
}

/// A key the statement changed more than once must change in a chain, in `seq` order: each
/// change starts from the image the one before left. Nested statements break that order (an
/// `AFTER` trigger that updates the row it fired for records its change before the outer one),
/// and then rollback could not tell the first image from the last: refused.
fn check_chains(
    tx: &mut Transaction<'_>,
    rel: u32,
    fields: usize,
    cols: &[usize],
    key: &[usize],
    repeated: &std::collections::HashSet<u64>,
) -> Result<(), ObserveError> {
    // (seq, before, after) of every change to a repeated key, as text of `cols`.
    type Change = (
        i64,
        Option<Vec<Option<String>>>,
        Option<Vec<Option<String>>>,
    );
    let mut by_key: HashMap<Vec<Option<String>>, Vec<Change>> = HashMap::new();
    let own = |v: &[Option<Cow<'_, str>>], at: &[usize]| -> Vec<Option<String>> {
        at.iter()
            .map(|&i| v[i].as_deref().map(str::to_string))
            .collect()
    };
    singles(tx, rel, &mut |seq, op, img| {
        let v = fields_of(img, fields)?;
        if repeated.contains(&key_hash(&v, key)) {
            let change = match op {
                'I' => (seq, None, Some(own(&v, cols))),
                _ => (seq, Some(own(&v, cols)), None),
            };
            by_key.entry(own(&v, key)).or_default().push(change);
        }
        Ok(())
    })?;
    pairs(tx, rel, &mut |so, sn, o, n| {
        let (o, n) = (fields_of(o, fields)?, fields_of(n, fields)?);
        for (seq, img, before) in [(so, &o, true), (sn, &n, false)] {
            if repeated.contains(&key_hash(img, key)) {
                let moved = key.iter().any(|&i| o[i] != n[i]);
                let change = match (moved, before) {
                    (false, true) => (so, Some(own(&o, cols)), Some(own(&n, cols))),
                    (false, false) => continue,
                    (true, true) => (seq, Some(own(img, cols)), None),
                    (true, false) => (seq, None, Some(own(img, cols))),
                };
                by_key.entry(own(img, key)).or_default().push(change);
            }
        }
        Ok(())
    })?;
    for (k, mut changes) in by_key {
        changes.sort_by_key(|c| c.0);
        for w in changes.windows(2) {
            if w[0].2 != w[1].1 {
                let key_text: Vec<String> =
                    k.iter().map(|v| v.clone().unwrap_or_default()).collect();
                return Err(ObserveError::Unrecorded(format!(
                    "changed the row with key ({}) more than once, out of order (an AFTER trigger that writes the row it fired for?), so rollback could not tell which image came first",
                    key_text.join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// Appends `s` COPY-text-escaped to `out`.
fn copy_escape(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    if !bytes
        .iter()
        .any(|b| matches!(b, b'\\' | b'\n' | b'\r' | b'\t'))
    {
        out.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => out.push(b),
        }
    }
}

/// Splits a composite value's text form, as `record_out` writes it (`(1,"a b",,"x""y")`), into
/// its fields; an empty unquoted field is NULL, `""` an empty string. Fields without escapes are
/// borrowed from `s`.
pub fn record_fields(s: &str) -> Result<Vec<Option<Cow<'_, str>>>, String> {
    let bad = || format!("malformed row image: {}", crate::classify::excerpt(s));
    let inner = s
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(bad)?;
    let b = inner.as_bytes();
    let mut fields = vec![];
    let mut i = 0;
    loop {
        let start = i;
        // Fast paths: a plain unquoted field, or one quoted field without escapes.
        let plain_end = memchr::memchr3(b',', b'"', b'\\', &b[i..]).map_or(b.len(), |p| i + p);
        let fast = if plain_end == b.len() || b[plain_end] == b',' {
            let v = &inner[start..plain_end];
            i = plain_end;
            Some((!v.is_empty()).then_some(Cow::Borrowed(v)))
        } else if plain_end == start && b[start] == b'"' {
            let close = memchr::memchr2(b'"', b'\\', &b[start + 1..]).map(|p| start + 1 + p);
            match close {
                Some(q) if b[q] == b'"' && (q + 1 == b.len() || b[q + 1] == b',') => {
                    i = q + 1;
                    Some(Some(Cow::Borrowed(&inner[start + 1..q])))
                }
                _ => None,
            }
        } else {
            None
        };
        match fast {
            Some(v) => fields.push(v),
            None => {
                // The general form: quoted and unquoted segments, `""` and backslash escapes.
                let mut value = String::new();
                let mut quoted = false;
                let mut chars = inner[start..].char_indices().peekable();
                let mut consumed = inner.len() - start;
                while let Some(&(at, c)) = chars.peek() {
                    match c {
                        ',' => {
                            consumed = at;
                            break;
                        }
                        '"' => {
                            chars.next();
                            quoted = true;
                            loop {
                                match chars.next() {
                                    None => return Err(bad()),
                                    Some((_, '"')) if chars.peek().map(|x| x.1) == Some('"') => {
                                        chars.next();
                                        value.push('"');
                                    }
                                    Some((_, '"')) => break,
                                    Some((_, '\\')) => value.push(chars.next().ok_or_else(bad)?.1),
                                    Some((_, c)) => value.push(c),
                                }
                            }
                        }
                        '\\' => {
                            chars.next();
                            value.push(chars.next().ok_or_else(bad)?.1);
                        }
                        c => {
                            chars.next();
                            value.push(c);
                        }
                    }
                }
                i = start + consumed;
                fields.push((quoted || !value.is_empty()).then_some(Cow::Owned(value)));
            }
        }
        if i >= b.len() {
            break;
        }
        i += 1; // the comma
        if i == b.len() {
            fields.push(None);
            break;
        }
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_images_split_into_their_fields() {
        fn f(s: &str) -> Vec<Option<String>> {
            record_fields(s)
                .unwrap()
                .into_iter()
                .map(|v| v.map(|v| v.into_owned()))
                .collect()
        }
        assert_eq!(f("(1,abc)"), vec![Some("1".into()), Some("abc".into())]);
        assert_eq!(
            f(r#"(,"",a b,"x""y","c\\d",NaN)"#),
            vec![
                None,
                Some("".into()),
                Some("a b".into()),
                Some("x\"y".into()),
                Some("c\\d".into()),
                Some("NaN".into())
            ]
        );
        assert_eq!(
            f(r#"(1,"{""a"": 1, ""a"": 2}","(1,2)","tab	here")"#),
            vec![
                Some("1".into()),
                Some(r#"{"a": 1, "a": 2}"#.into()),
                Some("(1,2)".into()),
                Some("tab\there".into())
            ]
        );
        // record_in also takes backslash escapes outside quotes.
        assert_eq!(f(r"(x\,y)"), vec![Some("x,y".into())]);
        assert_eq!(f("()"), vec![None]);
        assert!(record_fields("1,2").is_err());
        assert!(record_fields(r#"("open)"#).is_err());
        let mut out = vec![];
        copy_escape("a\\b\tc\nd", &mut out);
        assert_eq!(out, b"a\\\\b\\tc\\nd");
    }

    fn table(oid: u32, node: u32, cols: &[(i16, &str, &str)]) -> TableState {
        TableState {
            oid,
            relfilenode: node,
            schema: "public".into(),
            name: format!("t{oid}"),
            partitioned: false,
            captured: true,
            columns: cols
                .iter()
                .map(|(attnum, name, ty)| ColumnState {
                    attnum: *attnum,
                    name: name.to_string(),
                    ty: ty.to_string(),
                    is_enum: false,
                })
                .collect(),
        }
    }

    fn cat(ts: Vec<TableState>) -> Catalog {
        Catalog(ts.into_iter().map(|t| (t.oid, t)).collect())
    }

    #[test]
    fn the_tripwire_names_what_changed_unrecorded() {
        let start = cat(vec![
            table(1, 10, &[(1, "id", "integer"), (2, "doc", "json")]),
            table(2, 20, &[(1, "id", "integer")]),
            table(3, 30, &[(1, "id", "integer")]),
        ]);
        let mut after = start.clone();
        after.0.remove(&3);
        after.0.get_mut(&2).unwrap().relfilenode = 21;
        after.0.get_mut(&1).unwrap().columns[1].ty = "jsonb".into();
        let none = Stats::new();
        let j = judge(
            &start,
            &start,
            &after,
            &none,
            &none,
            &none,
            &Covered::default(),
        );
        assert_eq!(j.missed, Vec::<u32>::new());
        assert_eq!(j.unrecorded.len(), 3, "{j:?}");
        assert!(j.unrecorded[0].contains("from json to jsonb"), "{j:?}");
        assert!(j.unrecorded[1].contains("truncated or rewrote table public.t2"));
        assert!(j.unrecorded[2].contains("dropped table public.t3"));

        // The same, covered by the statement's pre-capture and naming: passes.
        let mut covered = Covered::default();
        covered.tables.insert(3);
        covered.named.insert(2);
        covered.columns.insert((1, "doc".into()));
        let j = judge(&start, &start, &after, &none, &none, &none, &covered);
        assert_eq!(j, Judgement::default());
    }

    #[test]
    fn rows_written_unrecorded_are_misses_or_refusals() {
        let mut start = cat(vec![
            table(1, 10, &[(1, "id", "integer")]),
            table(2, 20, &[(1, "id", "integer")]),
        ]);
        start.0.get_mut(&2).unwrap().captured = false;
        let before: Stats = [(1, [5, 0, 0]), (2, [0, 0, 0])].into();
        let after: Stats = [(1, [5, 3, 1]), (2, [0, 0, 4])].into();
        let captured: Stats = [(1, [0, 3, 0])].into();
        let j = judge(
            &start,
            &start,
            &start,
            &before,
            &after,
            &captured,
            &Covered::default(),
        );
        assert_eq!(j.missed, vec![2]);
        assert_eq!(j.unrecorded.len(), 1);
        assert!(
            j.unrecorded[0].contains("deleted 1 row(s) of public.t1"),
            "{j:?}"
        );
        // Earlier, unflushed work (before the statement) is not the statement's.
        let captured: Stats = [(1, [0, 3, 1])].into();
        let after2: Stats = [(1, [5, 3, 1]), (2, [0, 0, 0])].into();
        let j = judge(
            &start,
            &start,
            &start,
            &before,
            &after2,
            &captured,
            &Covered::default(),
        );
        assert_eq!(j, Judgement::default());
        // More captured than PostgreSQL counted: the capture was tampered with.
        let captured: Stats = [(1, [2, 3, 1])].into();
        let j = judge(
            &start,
            &start,
            &start,
            &before,
            &after2,
            &captured,
            &Covered::default(),
        );
        assert!(j.unrecorded[0].contains("tampered"), "{j:?}");
    }
}
