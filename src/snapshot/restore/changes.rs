//! Restoring observed row changes ([`ObjectKind::Changes`]): the exact inverse of what one
//! statement wrote, keeping what users wrote since.
//!
//! Per table and key, the net effect of the statement is its first image (a before-image: the
//! row existed; an after-image first: it did not) and its last (an after-image: the row exists
//! now; a before-image last: it was deleted). An UPDATE that changed the key is a deletion of
//! the old key and an insertion of the new one. Then, across the statement's tables:
//!
//! 1. rows the statement deleted come back where their key is free (parents first, so
//!    cascaded children find them);
//! 2. values it overwrote come back, column by column, where the column still holds what the
//!    statement wrote; a value changed since is a conflict and stays;
//! 3. rows it inserted go where they still hold what it wrote and nothing references them
//!    (children first).
//!
//! Values are compared by binary image (`record_image_eq`), which exists for every type.

use indicatif::ProgressBar;

use super::{
    ObjectReport, RestoreError, copy_file_in, file_entry, live_table, report_for, same_image,
    stage_name,
};
use crate::pg::quote_ident;
use crate::snapshot::capture::{self, Table};
use crate::snapshot::manifest::{Manifest, Object};
use crate::snapshot::store::Entry;

/// One staged object: its live table, and the net before and after images.
struct Staged<'a> {
    obj: &'a Object,
    table: Table,
    /// Temporary tables: `before` holds rows that existed before the statement, `after` rows
    /// that existed after it, each `c_<column>` for the object's columns.
    before: String,
    after: String,
    report: ObjectReport,
}

impl Staged<'_> {
    fn cols(&self) -> &[String] {
        &self.obj.columns
    }
    fn others(&self) -> Vec<&String> {
        self.obj
            .columns
            .iter()
            .filter(|c| !self.obj.key.contains(c))
            .collect()
    }
    fn s(c: &str) -> String {
        quote_ident(&format!("c_{c}"))
    }
    /// `x.c_k1 = y.c_k1 AND …`
    fn key_eq(&self, x: &str, y: &str) -> String {
        self.obj
            .key
            .iter()
            .map(|k| format!("{x}.{} = {y}.{}", Self::s(k), Self::s(k)))
            .collect::<Vec<_>>()
            .join(" AND ")
    }
    /// `t.k1 = x.c_k1 AND …`
    fn live_key_eq(&self, x: &str) -> String {
        self.obj
            .key
            .iter()
            .map(|k| format!("t.{} = {x}.{}", quote_ident(k), Self::s(k)))
            .collect::<Vec<_>>()
            .join(" AND ")
    }
    fn live_cols(&self) -> Vec<String> {
        self.cols()
            .iter()
            .map(|c| format!("t.{}", quote_ident(c)))
            .collect()
    }
    fn staged_cols(&self, x: &str) -> Vec<String> {
        self.cols()
            .iter()
            .map(|c| format!("{x}.{}", Self::s(c)))
            .collect()
    }
    fn key_text(&self, x: &str) -> String {
        let parts = self
            .obj
            .key
            .iter()
            .map(|k| format!("{x}.{}::text", Self::s(k)))
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
    // The statement's trigger side effects are in the snapshot and undone by it: the tables'
    // own triggers must not fire again for the inverse (an audit trigger would log the restore,
    // a counter count it twice). FK triggers are internal and keep checking.
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
        tx.batch_execute(&format!(
            "DROP TABLE {}, {}",
            quote_ident(&s.before),
            quote_ident(&s.after)
        ))?;
        out.push(s.report);
    }
    Ok(out)
}

/// Loads the object's file into a staging table typed like the live table's columns (types are
/// the server's, never the manifest's text), then splits it into net before and after images.
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
    if obj.key.is_empty() || obj.key.iter().any(|k| !obj.columns.contains(k)) {
        return Err(RestoreError::Other(format!(
            "{}: the snapshot names no key among its columns, so its rows cannot be matched",
            obj.qualified()
        )));
    }
    let f = file_entry(manifest, &obj.file)?;
    let stage = stage_name();
    let st = quote_ident(&stage);
    let defs = obj
        .columns
        .iter()
        .map(|c| format!("t.{} AS {}", quote_ident(c), Staged::s(c)))
        .collect::<Vec<_>>()
        .join(", ");
    tx.batch_execute(&format!(
        "CREATE TEMP TABLE {st} ON COMMIT DROP AS \
         SELECT NULL::bigint AS seq, NULL::smallint AS half, {defs} FROM {} t WITH NO DATA",
        table.qualified()
    ))?;
    copy_file_in(tx, entry, f, &st, obj, progress)?;
    let (before, after) = (stage_name(), stage_name());
    let keys = obj
        .key
        .iter()
        .map(|k| Staged::s(k))
        .collect::<Vec<_>>()
        .join(", ");
    tx.batch_execute(&format!(
        "CREATE TEMP TABLE {b} ON COMMIT DROP AS SELECT * FROM \
           (SELECT DISTINCT ON ({keys}) * FROM {st} ORDER BY {keys}, seq, half) x WHERE half = 0; \
         CREATE TEMP TABLE {a} ON COMMIT DROP AS SELECT * FROM \
           (SELECT DISTINCT ON ({keys}) * FROM {st} ORDER BY {keys}, seq DESC, half DESC) x WHERE half = 1; \
         DROP TABLE {st}; ANALYZE {b}; ANALYZE {a};",
        b = quote_ident(&before),
        a = quote_ident(&after),
    ))?;
    Ok(Staged {
        obj,
        table,
        before,
        after,
        report: ObjectReport {
            kind: "changes".into(),
            ..report_for(obj)
        },
    })
}

/// Disables the user triggers of `t` (migsafe's capture trigger and internal FK triggers
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

fn conflict_keys(
    tx: &mut postgres::Transaction<'_>,
    r: &mut ObjectReport,
    sql: &str,
) -> Result<(), postgres::Error> {
    if r.conflict_keys.len() < 10 {
        for row in tx.query(&format!("{sql} LIMIT 10"), &[])? {
            if r.conflict_keys.len() < 10 {
                r.conflict_keys
                    .push(row.get::<_, Option<String>>(0).unwrap_or_default());
            }
        }
    }
    Ok(())
}

/// Rows the statement deleted (before, not after): inserted again where their key is free.
fn reinsert_deleted(
    tx: &mut postgres::Transaction<'_>,
    s: &mut Staged<'_>,
) -> Result<(), RestoreError> {
    let (b, a, target) = (
        quote_ident(&s.before),
        quote_ident(&s.after),
        s.table.qualified(),
    );
    let deleted = format!(
        "(SELECT * FROM {b} b WHERE NOT EXISTS (SELECT 1 FROM {a} a WHERE {})) d",
        s.key_eq("a", "b")
    );
    let same = same_image(&s.live_cols(), &s.staged_cols("d"));
    let on = s.live_key_eq("d");
    s.report.unchanged += count(
        tx,
        &format!("SELECT count(*) FROM {deleted} JOIN {target} t ON {on} WHERE {same}"),
    )?;
    let conflict = format!("FROM {deleted} JOIN {target} t ON {on} WHERE NOT {same}");
    s.report.conflicts += count(tx, &format!("SELECT count(*) {conflict}"))?;
    let sample = format!("SELECT {} {conflict}", s.key_text("d"));
    conflict_keys(tx, &mut s.report, &sample)?;
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
            "INSERT INTO {target} ({cols}){overriding} SELECT {} FROM {deleted} \
             WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {on})",
            s.staged_cols("d").join(", ")
        ),
        &[],
    )?;
    Ok(())
}

/// Rows the statement updated (before and after): each column it changed goes back where it
/// still holds what the statement wrote.
fn revert_updated(
    tx: &mut postgres::Transaction<'_>,
    s: &mut Staged<'_>,
) -> Result<(), RestoreError> {
    let (b, a, target) = (
        quote_ident(&s.before),
        quote_ident(&s.after),
        s.table.qualified(),
    );
    let pair = format!("{b} b JOIN {a} a ON {}", s.key_eq("a", "b"));
    let others: Vec<String> = s.others().into_iter().cloned().collect();
    if others.is_empty() {
        return Ok(());
    }
    let changed = |c: &str| {
        format!(
            "NOT {}",
            same_image(
                &[format!("b.{}", Staged::s(c))],
                &[format!("a.{}", Staged::s(c))]
            )
        )
    };
    // Only the columns some row had changed take part.
    let flags = tx.query_one(
        &format!(
            "SELECT {} FROM {pair}",
            others
                .iter()
                .map(|c| format!("coalesce(bool_or({}), false)", changed(c)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        &[],
    )?;
    let touched: Vec<&String> = others
        .iter()
        .enumerate()
        .filter(|(i, _)| flags.get::<_, bool>(*i))
        .map(|(_, c)| c)
        .collect();
    let on = s.live_key_eq("b");
    s.report.gone += count(
        tx,
        &format!(
            "SELECT count(*) FROM {pair} WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {on})"
        ),
    )?;
    if touched.is_empty() {
        s.report.unchanged += count(
            tx,
            &format!("SELECT count(*) FROM {pair} JOIN {target} t ON {on}"),
        )?;
        return Ok(());
    }
    let live = |c: &str| format!("t.{}", quote_ident(c));
    let at = |x: &str, c: &str| same_image(&[live(c)], &[format!("{x}.{}", Staged::s(c))]);
    let restorable =
        |c: &str| format!("({} AND {} AND NOT {})", changed(c), at("a", c), at("b", c));
    let conflicting = |c: &str| {
        format!(
            "({} AND NOT {} AND NOT {})",
            changed(c),
            at("a", c),
            at("b", c)
        )
    };
    let any = |f: &dyn Fn(&str) -> String| {
        touched
            .iter()
            .map(|c| f(c))
            .collect::<Vec<_>>()
            .join(" OR ")
    };
    let (any_restorable, any_conflict) = (any(&restorable), any(&conflicting));
    let row = tx.query_one(
        &format!(
            "SELECT count(*) FILTER (WHERE {any_conflict}), \
                    count(*) FILTER (WHERE NOT ({any_conflict}) AND NOT ({any_restorable})) \
             FROM {pair} JOIN {target} t ON {on}"
        ),
        &[],
    )?;
    s.report.conflicts += row.get::<_, i64>(0) as u64;
    s.report.unchanged += row.get::<_, i64>(1) as u64;
    let sample = format!(
        "SELECT {} FROM {pair} JOIN {target} t ON {on} WHERE {any_conflict}",
        s.key_text("b")
    );
    conflict_keys(tx, &mut s.report, &sample)?;
    let sets = touched
        .iter()
        .map(|c| {
            format!(
                "{} = CASE WHEN {} THEN b.{} ELSE {} END",
                quote_ident(c),
                restorable(c),
                Staged::s(c),
                live(c)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    s.report.restored += tx.execute(
        &format!("UPDATE {target} t SET {sets} FROM {pair} WHERE {on} AND ({any_restorable})"),
        &[],
    )?;
    Ok(())
}

/// Rows the statement inserted (after, not before): deleted where they still hold what it
/// wrote and no row references them (a row written since that references one keeps it).
fn remove_inserted(
    tx: &mut postgres::Transaction<'_>,
    s: &mut Staged<'_>,
) -> Result<(), RestoreError> {
    let (b, a, target) = (
        quote_ident(&s.before),
        quote_ident(&s.after),
        s.table.qualified(),
    );
    let inserted = format!(
        "(SELECT * FROM {a} a WHERE NOT EXISTS (SELECT 1 FROM {b} b WHERE {})) i",
        s.key_eq("a", "b")
    );
    let on = s.live_key_eq("i");
    let same = same_image(&s.live_cols(), &s.staged_cols("i"));
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
            "SELECT count(*) FROM {inserted} WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {on})"
        ),
    )?;
    let kept = format!("FROM {inserted} JOIN {target} t ON {on} WHERE NOT ({same} AND {free})");
    s.report.conflicts += count(tx, &format!("SELECT count(*) {kept}"))?;
    let sample = format!("SELECT {} {kept}", s.key_text("i"));
    conflict_keys(tx, &mut s.report, &sample)?;
    s.report.restored += tx.execute(
        &format!("DELETE FROM {target} t USING {inserted} WHERE {on} AND {same} AND {free}"),
        &[],
    )?;
    Ok(())
}
