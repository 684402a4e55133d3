//! Restoring observed row changes ([`ObjectKind::Changes`]): the exact inverse of what one
//! statement wrote, keeping what users wrote since.
//!
//! Each file row is one changed row: `I` (inserted: its after-image), `U` (updated: before and
//! after) or `D` (deleted: its before-image). When one key changed more than once in the
//! statement (a trigger touching a row twice, a delete and a re-insert), the rows are first
//! folded into the net change per key: its first image and its last. Then, across the
//! statement's tables:
//!
//! 1. rows the statement deleted come back where their key is free (parents first, so
//!    cascaded children find them);
//! 2. values it overwrote come back, column by column, where the column still holds what the
//!    statement wrote; a value changed since is a conflict and stays;
//! 3. rows it inserted go where they still hold what it wrote and nothing references them
//!    (children first).
//!
//! Values are compared by binary image (`record_image_eq`), which exists for every type. The
//! tables' own triggers are paused meanwhile: what they did during the release is in the
//! snapshot and undone with it, and firing them again would do it twice.

use indicatif::ProgressBar;

use super::{
    ObjectReport, RestoreError, copy_file_in, file_entry, live_table, report_for, same_image,
    sample_conflicts, stage_name,
};
use crate::pg::quote_ident;
use crate::snapshot::capture::{self, Table};
use crate::snapshot::manifest::{Manifest, Object};
use crate::snapshot::store::Entry;

/// One staged object: its live table and the staging table (`seq`, `op`, `o_<col>`…,
/// `n_<col>`…), at most one row per key.
struct Staged<'a> {
    obj: &'a Object,
    table: Table,
    stage: String,
    /// Rows per op: inserted, updated, deleted.
    counts: [i64; 3],
    report: ObjectReport,
}

/// The staging column for column `c`'s before- (`o`) or after-image (`n`): a hash of the name,
/// so that two long names (63 bytes) cannot collide once PostgreSQL truncates them.
pub(crate) fn staged(side: char, c: &str) -> String {
    // FNV-1a: stable across runs and platforms (the file names the columns, not the hash).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in c.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{side}_{h:016x}")
}

fn o(c: &str) -> String {
    quote_ident(&staged('o', c))
}

fn n(c: &str) -> String {
    quote_ident(&staged('n', c))
}

impl Staged<'_> {
    fn cols(&self) -> &[String] {
        &self.obj.columns
    }
    fn others(&self) -> Vec<&String> {
        self.cols()
            .iter()
            .filter(|c| !self.obj.key.contains(c))
            .collect()
    }
    /// `t.k1 = s.<side>_k1 AND …`
    fn live_key_eq(&self, side: fn(&str) -> String) -> String {
        self.obj
            .key
            .iter()
            .map(|k| format!("t.{} = s.{}", quote_ident(k), side(k)))
            .collect::<Vec<_>>()
            .join(" AND ")
    }
    fn live_cols(&self) -> Vec<String> {
        self.cols()
            .iter()
            .map(|c| format!("t.{}", quote_ident(c)))
            .collect()
    }
    fn staged_cols(&self, side: fn(&str) -> String) -> Vec<String> {
        self.cols()
            .iter()
            .map(|c| format!("s.{}", side(c)))
            .collect()
    }
    fn key_text(&self, side: fn(&str) -> String) -> String {
        let parts = self
            .obj
            .key
            .iter()
            .map(|k| format!("s.{}::text", side(k)))
            .collect::<Vec<_>>()
            .join(", ");
        format!("concat_ws(', ', {parts})")
    }
}

/// Restores the Changes objects of one snapshot (one statement) through `tx`.
pub(super) fn restore(
    tx: &mut postgres::Transaction<'_>,
    entry: &Entry,
    manifest: &Manifest,
    objects: &[&Object],
    progress: &ProgressBar,
) -> Result<Vec<ObjectReport>, RestoreError> {
    let mut staged = vec![];
    for obj in objects {
        progress.set_message(obj.qualified());
        staged.push(stage(tx, entry, manifest, obj, progress)?);
    }
    // Parents before children for inserts; the reverse for deletes.
    let tables: Vec<Table> = staged.iter().map(|s| s.table.clone()).collect();
    let order: Vec<usize> = capture::parents_first(tx, tables)?
        .iter()
        .map(|t| {
            staged
                .iter()
                .position(|s| s.table.oid == t.oid)
                .expect("same tables")
        })
        .collect();
    let mut paused = vec![];
    for s in &staged {
        paused.extend(pause_triggers(tx, &s.table)?);
    }
    for &i in &order {
        reinsert_deleted(tx, &mut staged[i])?;
    }
    for s in staged.iter_mut() {
        revert_updated(tx, s)?;
    }
    for &i in order.iter().rev() {
        remove_inserted(tx, &mut staged[i])?;
    }
    for sql in paused {
        tx.batch_execute(&sql)?;
    }
    let mut out = vec![];
    for s in staged {
        tx.batch_execute(&format!("DROP TABLE {}", quote_ident(&s.stage)))?;
        out.push(s.report);
    }
    Ok(out)
}

/// Loads the object's file into a staging table typed like the live table's columns (types are
/// the server's, never the manifest's text), folded to one row per key.
fn stage<'a>(
    tx: &mut postgres::Transaction<'_>,
    entry: &Entry,
    manifest: &Manifest,
    obj: &'a Object,
    progress: &ProgressBar,
) -> Result<Staged<'a>, RestoreError> {
    let table = live_table(tx, obj)?;
    for c in &obj.columns {
        match table.column(c) {
            Some(col) if !col.generated => {}
            _ => {
                return Err(RestoreError::Other(format!(
                    "{}: column {c} does not exist (or is generated) now: run the down migration that restores the table's columns first",
                    obj.qualified()
                )));
            }
        }
    }
    if obj.key != table.key {
        return Err(RestoreError::Other(format!(
            "{}: the snapshot matches rows on ({}), but the table's key is ({}) now: restore the key first",
            obj.qualified(),
            obj.key.join(", "),
            table.key.join(", ")
        )));
    }
    if obj.key.is_empty() || obj.key.iter().any(|k| !obj.columns.contains(k)) {
        return Err(RestoreError::Other(format!(
            "{}: the snapshot names no key among its columns, so its rows cannot be matched",
            obj.qualified()
        )));
    }
    let f = file_entry(manifest, &obj.file)?;
    let stage = stage_name();
    let st = quote_ident(&stage);
    let defs = |side: fn(&str) -> String| {
        obj.columns
            .iter()
            .map(|c| format!("t.{} AS {}", quote_ident(c), side(c)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    tx.batch_execute(&format!(
        "CREATE TEMP TABLE {st} ON COMMIT DROP AS \
         SELECT NULL::bigint AS seq, NULL::text AS op, {}, {} FROM {} t WITH NO DATA",
        defs(o),
        defs(n),
        table.qualified()
    ))?;
    copy_file_in(tx, entry, f, &st, obj, progress)?;
    let mut counts = [0i64; 3];
    for r in tx.query(&format!("SELECT op, count(*) FROM {st} GROUP BY op"), &[])? {
        let i = match r.get::<_, Option<&str>>(0) {
            Some("I") => 0,
            Some("U") => 1,
            Some("D") => 2,
            other => {
                return Err(RestoreError::Other(format!(
                    "{}: unknown change kind {other:?} in {}",
                    obj.qualified(),
                    obj.file
                )));
            }
        };
        counts[i] = r.get(1);
    }
    let key_of = |k: &String| format!("CASE WHEN op = 'I' THEN {} ELSE {} END", n(k), o(k));
    let keys = obj.key.iter().map(key_of).collect::<Vec<_>>().join(", ");
    let repeated: bool = tx
        .query_one(
            &format!("SELECT EXISTS (SELECT 1 FROM {st} GROUP BY {keys} HAVING count(*) > 1)"),
            &[],
        )?
        .get(0);
    let mut s = Staged {
        obj,
        table,
        stage,
        counts,
        report: ObjectReport {
            kind: "changes".into(),
            ..report_for(obj)
        },
    };
    if repeated {
        fold(tx, &mut s)?;
    }
    tx.batch_execute(&format!("ANALYZE {}", quote_ident(&s.stage)))?;
    Ok(s)
}

/// Folds several changes of one key into one: the first image the statement met (none when
/// the key did not exist) and the last it left (none when it deleted the key).
fn fold(tx: &mut postgres::Transaction<'_>, s: &mut Staged<'_>) -> Result<(), RestoreError> {
    let st = quote_ident(&s.stage);
    let c = |x: &str| quote_ident(&staged('c', x));
    let cols = |side: fn(&str) -> String| {
        s.cols()
            .iter()
            .map(|x| format!("{} AS {}", side(x), c(x)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let keys = s
        .obj
        .key
        .iter()
        .map(|k| c(k))
        .collect::<Vec<_>>()
        .join(", ");
    let key_eq = s
        .obj
        .key
        .iter()
        .map(|k| format!("f.{} = l.{}", c(k), c(k)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let pick = |alias: &str, half: i32, side: fn(&str) -> String| {
        s.cols()
            .iter()
            .map(|x| {
                format!(
                    "CASE WHEN {alias}.half = {half} THEN {alias}.{} END AS {}",
                    c(x),
                    side(x)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let folded = stage_name();
    tx.batch_execute(&format!(
        "CREATE TEMP TABLE {h} ON COMMIT DROP AS \
           SELECT seq, 0 AS half, {before} FROM {st} WHERE op <> 'I' \
           UNION ALL SELECT seq, 1, {after} FROM {st} WHERE op <> 'D'; \
         CREATE TEMP TABLE {fo} ON COMMIT DROP AS \
           SELECT least(f.seq, l.seq) AS seq, \
                  CASE WHEN f.half = 0 AND l.half = 1 THEN 'U' WHEN f.half = 0 THEN 'D' ELSE 'I' END AS op, \
                  {po}, {pn} \
           FROM (SELECT DISTINCT ON ({keys}) * FROM {h} ORDER BY {keys}, seq, half) f \
           JOIN (SELECT DISTINCT ON ({keys}) * FROM {h} ORDER BY {keys}, seq DESC, half DESC) l ON {key_eq} \
           WHERE f.half = 0 OR l.half = 1; \
         DROP TABLE {h}; DROP TABLE {st};",
        h = quote_ident(&format!("{}_h", s.stage)),
        fo = quote_ident(&folded),
        before = cols(o),
        after = cols(n),
        po = pick("f", 0, o),
        pn = pick("l", 1, n),
    ))?;
    s.stage = folded;
    s.counts = [0; 3];
    for r in tx.query(
        &format!(
            "SELECT op, count(*) FROM {} GROUP BY op",
            quote_ident(&s.stage)
        ),
        &[],
    )? {
        let i = match r.get::<_, &str>(0) {
            "I" => 0,
            "U" => 1,
            _ => 2,
        };
        s.counts[i] = r.get(1);
    }
    Ok(())
}

/// Disables the user triggers of `t` (migsafe's capture triggers and internal FK triggers
/// excepted) and returns the statements that enable each again as it was.
fn pause_triggers(
    tx: &mut postgres::Transaction<'_>,
    t: &Table,
) -> Result<Vec<String>, postgres::Error> {
    let mut again = vec![];
    for r in tx.query(
        &format!(
            "SELECT g.tgname::text, g.tgenabled::text FROM pg_catalog.pg_trigger g \
             WHERE g.tgrelid = $1 AND NOT g.tgisinternal AND g.tgenabled <> 'D' AND NOT {}",
            crate::snapshot::observe::is_capture_trigger("g")
        ),
        &[&t.oid],
    )? {
        let (name, mode): (String, String) = (r.get(0), r.get(1));
        let name = quote_ident(&name);
        tx.batch_execute(&format!(
            "ALTER TABLE {} DISABLE TRIGGER {name}",
            t.qualified()
        ))?;
        let how = match mode.as_str() {
            "A" => "ENABLE ALWAYS",
            "R" => "ENABLE REPLICA",
            _ => "ENABLE",
        };
        again.push(format!(
            "ALTER TABLE {} {how} TRIGGER {name}",
            t.qualified()
        ));
    }
    Ok(again)
}

fn count(tx: &mut postgres::Transaction<'_>, sql: &str) -> Result<u64, postgres::Error> {
    Ok(tx.query_one(sql, &[])?.get::<_, i64>(0) as u64)
}

/// Rows the statement deleted: inserted again where their key is free.
fn reinsert_deleted(
    tx: &mut postgres::Transaction<'_>,
    s: &mut Staged<'_>,
) -> Result<(), RestoreError> {
    if s.counts[2] == 0 {
        return Ok(());
    }
    let (st, target) = (quote_ident(&s.stage), s.table.qualified());
    let on = s.live_key_eq(o);
    let same = same_image(&s.live_cols(), &s.staged_cols(o));
    let kept = format!("FROM {st} s JOIN {target} t ON {on} WHERE s.op = 'D'");
    let row = tx.query_one(
        &format!(
            "SELECT count(*) FILTER (WHERE {same}), count(*) FILTER (WHERE NOT {same}) {kept}"
        ),
        &[],
    )?;
    s.report.unchanged += row.get::<_, i64>(0) as u64;
    s.report.conflicts += row.get::<_, i64>(1) as u64;
    let sample = format!("SELECT {} {kept} AND NOT {same}", s.key_text(o));
    sample_conflicts(tx, &sample, &mut s.report)?;
    let cols = s
        .cols()
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ");
    let overriding = if s
        .cols()
        .iter()
        .any(|c| s.table.column(c).is_some_and(|c| c.identity == Some('a')))
    {
        " OVERRIDING SYSTEM VALUE"
    } else {
        ""
    };
    s.report.restored += tx.execute(
        &format!(
            "INSERT INTO {target} ({cols}){overriding} SELECT {} FROM {st} s \
             WHERE s.op = 'D' AND NOT EXISTS (SELECT 1 FROM {target} t WHERE {on})",
            s.staged_cols(o).join(", ")
        ),
        &[],
    )?;
    Ok(())
}

/// Rows the statement updated: each column it changed goes back where it still holds what the
/// statement wrote. One pass in the common case (every row restorable); the rest is counted
/// only when some rows were not.
fn revert_updated(
    tx: &mut postgres::Transaction<'_>,
    s: &mut Staged<'_>,
) -> Result<(), RestoreError> {
    let total = s.counts[1] as u64;
    if total == 0 {
        return Ok(());
    }
    let (st, target) = (quote_ident(&s.stage), s.table.qualified());
    let on = s.live_key_eq(o);
    let others: Vec<String> = s.others().into_iter().cloned().collect();
    if others.is_empty() {
        s.report.unchanged += total;
        return Ok(());
    }
    let live = |c: &str| format!("t.{}", quote_ident(c));
    let changed = |c: &str| {
        format!(
            "NOT {}",
            same_image(&[format!("s.{}", o(c))], &[format!("s.{}", n(c))])
        )
    };
    let at =
        |side: fn(&str) -> String, c: &str| same_image(&[live(c)], &[format!("s.{}", side(c))]);
    let restorable = |c: &str| format!("({} AND {} AND NOT {})", changed(c), at(n, c), at(o, c));
    let any =
        |f: &dyn Fn(&str) -> String| others.iter().map(|c| f(c)).collect::<Vec<_>>().join(" OR ");
    let any_restorable = any(&restorable);
    // After the UPDATE, a changed column that does not hold its old value was changed since.
    let kept_since = any(&|c: &str| format!("({} AND NOT {})", changed(c), at(o, c)));
    let sets = others
        .iter()
        .map(|c| {
            format!(
                "{} = CASE WHEN {} THEN s.{} ELSE {} END",
                quote_ident(c),
                restorable(c),
                o(c),
                live(c)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let row = tx.query_one(
        &format!(
            "WITH u AS (UPDATE {target} t SET {sets} FROM {st} s \
                        WHERE s.op = 'U' AND {on} AND ({any_restorable}) \
                        RETURNING {kept_since} AS conflict, {} AS k) \
             SELECT count(*), count(*) FILTER (WHERE conflict), \
                    (array_agg(k) FILTER (WHERE conflict))[1:10] FROM u",
            s.key_text(o)
        ),
        &[],
    )?;
    let restored = row.get::<_, i64>(0) as u64;
    let restored_conflicts = row.get::<_, i64>(1) as u64;
    s.report.restored += restored;
    s.report.conflicts += restored_conflicts;
    let keys: Option<Vec<String>> = row.get(2);
    s.report.conflict_keys.extend(keys.unwrap_or_default());
    if restored == total {
        return Ok(());
    }
    // The rows left alone: gone since, unchanged, or changed since in every changed column.
    // Restored rows hold their old values now: they are among the clean ones here.
    let row = tx.query_one(
        &format!(
            "SELECT count(*) FILTER (WHERE t.ctid IS NULL), \
                    count(*) FILTER (WHERE t.ctid IS NOT NULL AND NOT ({kept_since})), \
                    count(*) FILTER (WHERE t.ctid IS NOT NULL AND ({kept_since})) \
             FROM {st} s LEFT JOIN {target} t ON {on} WHERE s.op = 'U'"
        ),
        &[],
    )?;
    let (gone, clean, dirty) = (
        row.get::<_, i64>(0) as u64,
        row.get::<_, i64>(1) as u64,
        row.get::<_, i64>(2) as u64,
    );
    s.report.gone += gone;
    s.report.unchanged += clean.saturating_sub(restored - restored_conflicts);
    let untouched = dirty.saturating_sub(restored_conflicts);
    s.report.conflicts += untouched;
    if untouched > 0 {
        let sample = format!(
            "SELECT {} FROM {st} s JOIN {target} t ON {on} WHERE s.op = 'U' AND ({kept_since}) AND NOT ({any_restorable})",
            s.key_text(o)
        );
        sample_conflicts(tx, &sample, &mut s.report)?;
    }
    Ok(())
}

/// Rows the statement inserted: deleted where they still hold what it wrote and no row
/// references them (a row written since that references one keeps it).
fn remove_inserted(
    tx: &mut postgres::Transaction<'_>,
    s: &mut Staged<'_>,
) -> Result<(), RestoreError> {
    if s.counts[0] == 0 {
        return Ok(());
    }
    let (st, target) = (quote_ident(&s.stage), s.table.qualified());
    let on = s.live_key_eq(n);
    let same = same_image(&s.live_cols(), &s.staged_cols(n));
    // Every foreign key that references this table, as `NOT EXISTS (…)` over the live row.
    let mut unreferenced = vec![];
    for r in tx.query(
        "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), \
                array(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY x(n, o) \
                      JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = x.n ORDER BY x.o), \
                array(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY x(n, o) \
                      JOIN pg_catalog.pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = x.n ORDER BY x.o) \
         FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE k.contype = 'f' AND k.confrelid = $1",
        &[&s.table.oid],
    )? {
        let (child, from, to): (String, Vec<String>, Vec<String>) = (r.get(0), r.get(1), r.get(2));
        let m = from
            .iter()
            .zip(&to)
            .map(|(f, t)| format!("r.{} = t.{}", quote_ident(f), quote_ident(t)))
            .collect::<Vec<_>>()
            .join(" AND ");
        unreferenced.push(format!("NOT EXISTS (SELECT 1 FROM {child} r WHERE {m})"));
    }
    let free = if unreferenced.is_empty() {
        "true".to_string()
    } else {
        unreferenced.join(" AND ")
    };
    s.report.gone += count(
        tx,
        &format!(
            "SELECT count(*) FROM {st} s WHERE s.op = 'I' \
             AND NOT EXISTS (SELECT 1 FROM {target} t WHERE {on})"
        ),
    )?;
    let kept =
        format!("FROM {st} s JOIN {target} t ON {on} WHERE s.op = 'I' AND NOT ({same} AND {free})");
    s.report.conflicts += count(tx, &format!("SELECT count(*) {kept}"))?;
    let sample = format!("SELECT {} {kept}", s.key_text(n));
    sample_conflicts(tx, &sample, &mut s.report)?;
    s.report.restored += tx.execute(
        &format!(
            "DELETE FROM {target} t USING {st} s WHERE s.op = 'I' AND {on} AND {same} AND {free}"
        ),
        &[],
    )?;
    Ok(())
}

/// Rehearses the rollback of a snapshot's Changes objects in a scratch database, through the
/// same code a rollback runs: each table is created under its own name, typed like the loaded
/// file (`loaded`: object index → the table [`super::rehearse`] loaded it into) and keyed like
/// the snapshot; it is filled with the rows as the statement left them; [`restore`] runs; and
/// the result must equal, by binary image, the rows as the statement found them, with no
/// conflict. Returns, per object index, what did not come back (None: all of it did).
pub(super) fn rehearse(
    tx: &mut postgres::Transaction<'_>,
    entry: &Entry,
    manifest: &Manifest,
    loaded: &[(usize, String)],
    progress: &ProgressBar,
) -> Result<Vec<(usize, Option<String>)>, RestoreError> {
    let mut expected = vec![];
    for (i, from) in loaded {
        let obj = &manifest.objects[*i];
        let live = format!("{}.{}", quote_ident(&obj.schema), quote_ident(&obj.name));
        let mut defs = vec![];
        for c in &obj.columns {
            let ty: String = tx
                .query_one(
                    "SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a \
                     WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attname = $2",
                    &[from, &staged('o', c)],
                )?
                .get(0);
            defs.push(format!("{} {ty}", quote_ident(c)));
        }
        let keys = obj
            .key
            .iter()
            .map(|k| quote_ident(k))
            .collect::<Vec<_>>()
            .join(", ");
        let key_eq = |a: fn(&str) -> String, b: fn(&str) -> String| {
            obj.key
                .iter()
                .map(|k| format!("x.{} = y.{}", a(k), b(k)))
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        let side = |f: fn(&str) -> String| {
            obj.columns
                .iter()
                .map(|c| format!("x.{} AS {}", f(c), quote_ident(c)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let want = format!("migsafe_drill.{}", quote_ident(&format!("e{i}")));
        // After the statement: each row's last image, unless a later change moved or deleted
        // its key. Before it: each row's first image, unless an earlier change made its key.
        tx.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema}; \
             CREATE TABLE {live} ({defs}, PRIMARY KEY ({keys})); \
             INSERT INTO {live} SELECT {after} FROM {from} x WHERE x.op IN ('I', 'U') \
               AND NOT EXISTS (SELECT 1 FROM {from} y WHERE y.seq > x.seq AND y.op IN ('U', 'D') AND {later}); \
             CREATE TABLE {want} AS SELECT {before} FROM {from} x WHERE x.op IN ('U', 'D') \
               AND NOT EXISTS (SELECT 1 FROM {from} y WHERE y.seq < x.seq AND y.op IN ('I', 'U') AND {earlier});",
            schema = quote_ident(&obj.schema),
            defs = defs.join(", "),
            after = side(n),
            before = side(o),
            later = key_eq(n, o),
            earlier = key_eq(o, n),
        ))?;
        expected.push((*i, live, want));
    }
    let objects: Vec<&Object> = loaded.iter().map(|(i, _)| &manifest.objects[*i]).collect();
    let reports = restore(tx, entry, manifest, &objects, progress)?;
    let mut out = vec![];
    for ((i, live, want), report) in expected.into_iter().zip(reports) {
        let obj = &manifest.objects[i];
        let cols = |alias: &str| {
            obj.columns
                .iter()
                .map(|c| format!("{alias}.{}", quote_ident(c)))
                .collect::<Vec<_>>()
        };
        let on = obj
            .key
            .iter()
            .map(|k| format!("t.{k} = w.{k}", k = quote_ident(k)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let k = quote_ident(&obj.key[0]);
        let differ: i64 = tx
            .query_one(
                &format!(
                    "SELECT count(*) FROM {live} t FULL JOIN {want} w ON {on} \
                     WHERE t.{k} IS NULL OR w.{k} IS NULL OR NOT {}",
                    same_image(&cols("t"), &cols("w"))
                ),
                &[],
            )?
            .get(0);
        let mut problems = vec![];
        if differ > 0 {
            problems.push(format!(
                "restoring it leaves {differ} row{} different from the rows the statement found",
                if differ == 1 { "" } else { "s" }
            ));
        }
        if report.conflicts > 0 || report.gone > 0 {
            problems.push(format!(
                "restoring it onto the rows the statement left reports {} conflict{} and {} row{} gone",
                report.conflicts,
                if report.conflicts == 1 { "" } else { "s" },
                report.gone,
                if report.gone == 1 { "" } else { "s" },
            ));
        }
        out.push((i, (!problems.is_empty()).then(|| problems.join("; "))));
    }
    Ok(out)
}
