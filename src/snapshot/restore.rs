//! Targeted restore: put destroyed data back into the current schema, keyed, keeping every row
//! that exists now. Conflicts are reported, never overwritten.

use std::io::{Read, Write};
use std::time::Instant;

use serde::Serialize;

use super::capture::{self, Table};
use super::manifest::{FileEntry, KeySource, Kind, Manifest, Object, ObjectKind};
use super::store::{self, Entry};

mod changes;
use crate::pg::quote_ident;

#[derive(Debug, Clone, Copy, Default)]
pub struct RestoreOptions {
    /// Rollback: the down has just re-added the destroyed columns, so whatever they hold now
    /// is a default and may be overwritten for the captured rows.
    pub overwrite_columns: bool,
}

/// What happened to one object.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ObjectReport {
    /// `schema.table` (or sequence).
    pub object: String,
    pub kind: String,
    /// Rows inserted or values written back.
    pub restored: u64,
    /// Rows or values already equal to the snapshot.
    pub unchanged: u64,
    /// Captured rows whose key no longer exists (values cannot go back to a deleted row).
    pub gone: u64,
    /// Rows that differ now from both the snapshot and what the step wrote: kept as they are.
    pub conflicts: u64,
    /// Up to 10 keys of conflicting rows, as text.
    pub conflict_keys: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RestoreReport {
    pub snapshot: String,
    pub objects: Vec<ObjectReport>,
    pub elapsed_ms: u64,
}

impl RestoreReport {
    pub fn conflicts(&self) -> u64 {
        self.objects.iter().map(|o| o.conflicts).sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{path}: {message}; nothing was restored")]
    Corrupt {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("{}", crate::pg::error_text(.0))]
    Db(#[from] postgres::Error),
    #[error(transparent)]
    Store(#[from] super::StoreError),
    #[error("{0}")]
    Other(String),
}

/// Restores a targeted snapshot through `tx`. Files are checked against their sha256 while they
/// stream; a mismatch fails before `tx` commits, so nothing changes.
pub fn restore(
    tx: &mut postgres::Transaction<'_>,
    entry: &Entry,
    manifest: &Manifest,
    opts: RestoreOptions,
    progress: &indicatif::ProgressBar,
) -> Result<RestoreReport, RestoreError> {
    let started = Instant::now();
    if manifest.kind != Kind::Targeted {
        return Err(RestoreError::Other(format!(
            "snapshot {} is a full snapshot: it is restored with pg_restore (`migsafe snapshot restore {} --into DB`)",
            manifest.id, manifest.id
        )));
    }
    capture::pin_settings(tx)?;
    // Staging tables are temporary: more local buffers keep a large one in memory. The setting
    // can only change before the session's first temporary table, so failure is fine.
    let mut sp = tx.savepoint("migsafe_temp_buffers")?;
    if sp.batch_execute("SET LOCAL temp_buffers = '256MB'").is_ok() {
        sp.commit()?;
    } else {
        drop(sp);
    }
    let total = manifest.total_bytes();
    progress.set_length(total);
    let mut report = RestoreReport {
        snapshot: manifest.id.clone(),
        ..Default::default()
    };
    // Row changes the statement made came after what its pre-capture holds: undo them first.
    let changes: Vec<&Object> = manifest
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::Changes)
        .collect();
    if !changes.is_empty() {
        report
            .objects
            .extend(changes::restore(tx, entry, manifest, &changes, progress)?);
    }
    for obj in manifest.objects.iter() {
        progress.set_message(obj.qualified());
        let r = match obj.kind {
            ObjectKind::Changes => continue,
            ObjectKind::Definition => {
                let sql = read_checked(entry, manifest, &obj.file)?;
                check_definition(obj, &sql)?;
                let exists: bool = tx
                    .query_one(
                        "SELECT to_regclass($1) IS NOT NULL",
                        &[&format!(
                            "{}.{}",
                            quote_ident(&obj.schema),
                            quote_ident(&obj.name)
                        )],
                    )?
                    .get(0);
                let mut r = report_for(obj);
                if !exists {
                    tx.batch_execute(&sql)?;
                    r.restored = 1;
                } else {
                    r.unchanged = 1;
                }
                progress.inc(sql.len() as u64);
                r
            }
            ObjectKind::Sequence => {
                let text = read_checked(entry, manifest, &obj.file)?;
                tx.batch_execute(&sequence_sql(obj, &text)?)?;
                progress.inc(text.len() as u64);
                let mut r = report_for(obj);
                r.restored = 1;
                r
            }
            ObjectKind::Rows | ObjectKind::Columns | ObjectKind::Values => {
                let table = live_table(tx, obj)?;
                let stage = stage_name();
                stage_file(tx, entry, manifest, obj, &stage, progress)?;
                let r = match obj.kind {
                    ObjectKind::Rows => restore_rows(tx, obj, &table, &stage)?,
                    _ => restore_values(tx, obj, &table, &stage, opts)?,
                };
                tx.batch_execute(&format!("DROP TABLE {}", quote_ident(&stage)))?;
                r
            }
            ObjectKind::Dump => {
                return Err(RestoreError::Other(format!(
                    "{}: a pg_dump object inside a targeted snapshot (DROP SCHEMA … CASCADE) is restored with `migsafe snapshot restore {} --into DB`",
                    obj.qualified(),
                    manifest.id
                )));
            }
        };
        report.objects.push(r);
    }
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// A staging table name no other restore in this session uses (one rollback may restore several
/// snapshots, each with several objects, in one transaction).
fn stage_name() -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    format!(
        "migsafe_stage_{}",
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// `record_image_eq(ROW(a…), ROW(b…))`: equal binary images, NULLs equal. Unlike `=`, it exists
/// for every type (json, xml, point) and tells `1.0` from `1.00`, which is what "did this value
/// change" means.
pub(crate) fn same_image(a: &[String], b: &[String]) -> String {
    format!(
        "pg_catalog.record_image_eq(ROW({}), ROW({}))",
        a.join(", "),
        b.join(", ")
    )
}

fn report_for(obj: &Object) -> ObjectReport {
    ObjectReport {
        object: obj.qualified(),
        kind: format!("{:?}", obj.kind).to_lowercase(),
        ..Default::default()
    }
}

fn file_entry<'m>(manifest: &'m Manifest, name: &str) -> Result<&'m FileEntry, RestoreError> {
    manifest
        .files
        .iter()
        .find(|f| f.path == name)
        .ok_or_else(|| RestoreError::Corrupt {
            path: name.into(),
            message: "listed as an object's data file but missing from the manifest's files".into(),
        })
}

fn mismatch(entry: &Entry, f: &FileEntry, sha: &str, bytes: u64) -> RestoreError {
    let message = if bytes != f.bytes {
        format!(
            "{bytes} bytes, the manifest says {} (truncated or altered)",
            f.bytes
        )
    } else {
        format!(
            "sha256 {sha} does not match the manifest ({}): the file is corrupt",
            f.sha256
        )
    };
    RestoreError::Corrupt {
        path: entry.dir.join(&f.path),
        message,
    }
}

/// Reads a small file whole and checks it.
fn read_checked(entry: &Entry, manifest: &Manifest, name: &str) -> Result<String, RestoreError> {
    let f = file_entry(manifest, name)?;
    let mut r = store::open_file(entry, f)?;
    let mut text = String::new();
    r.read_to_string(&mut text)
        .map_err(|e| RestoreError::Corrupt {
            path: entry.dir.join(&f.path),
            message: format!("cannot read: {e}"),
        })?;
    let (sha, bytes) = r.finish();
    if sha != f.sha256 || bytes != f.bytes {
        return Err(mismatch(entry, f, &sha, bytes));
    }
    Ok(text)
}

/// The table as it is now, with the snapshot's columns checked against it.
fn live_table(tx: &mut postgres::Transaction<'_>, obj: &Object) -> Result<Table, RestoreError> {
    let name = format!("{}.{}", quote_ident(&obj.schema), quote_ident(&obj.name));
    let t = capture::resolve_table(tx, &name)?.ok_or_else(|| {
        RestoreError::Other(format!(
            "table {} does not exist: run the down migration that recreates it first (or restore into a database where it exists)",
            obj.qualified()
        ))
    })?;
    for k in &obj.key {
        if t.column(k).is_none() {
            return Err(RestoreError::Other(format!(
                "{}: key column {k} no longer exists, so captured rows cannot be matched",
                obj.qualified()
            )));
        }
    }
    Ok(t)
}

/// Columns of the staging table: key, captured columns, then the statement's new values as
/// text (they are compared after a cast to the live column's type).
fn stage_columns(obj: &Object) -> Vec<(String, String)> {
    let mut cols = vec![];
    if obj.kind == ObjectKind::Changes {
        cols.push(("seq".to_string(), "bigint".to_string()));
        cols.push(("op".to_string(), "text".to_string()));
        for side in ['o', 'n'] {
            for (c, ty) in obj.columns.iter().zip(&obj.column_types) {
                cols.push((changes::staged(side, c), ty.clone()));
            }
        }
        return cols;
    }
    for (k, ty) in obj.key.iter().zip(&obj.key_types) {
        cols.push((changes::staged('k', k), ty.clone()));
    }
    for (c, ty) in obj.columns.iter().zip(&obj.column_types) {
        if obj.kind == ObjectKind::Rows && obj.key.contains(c) {
            continue;
        }
        cols.push((changes::staged('c', c), ty.clone()));
    }
    for a in &obj.after {
        cols.push((changes::staged('a', a), "text".into()));
    }
    cols
}

/// The file's column order mapped to staging names: Rows files hold `columns` (key included);
/// others hold key, columns, after.
fn file_order(obj: &Object) -> Vec<String> {
    if obj.kind == ObjectKind::Changes {
        return ["seq".to_string(), "op".to_string()]
            .into_iter()
            .chain(obj.columns.iter().map(|c| changes::staged('o', c)))
            .chain(obj.columns.iter().map(|c| changes::staged('n', c)))
            .collect();
    }
    if obj.kind == ObjectKind::Rows {
        obj.columns
            .iter()
            .map(|c| {
                if obj.key.contains(c) {
                    changes::staged('k', c)
                } else {
                    changes::staged('c', c)
                }
            })
            .collect()
    } else {
        obj.key
            .iter()
            .map(|k| changes::staged('k', k))
            .chain(obj.columns.iter().map(|c| changes::staged('c', c)))
            .chain(obj.after.iter().map(|a| changes::staged('a', a)))
            .collect()
    }
}

/// COPYs a data file into a temporary table, hashing it on the way; a mismatch fails the
/// transaction.
fn stage_file(
    tx: &mut postgres::Transaction<'_>,
    entry: &Entry,
    manifest: &Manifest,
    obj: &Object,
    stage: &str,
    progress: &indicatif::ProgressBar,
) -> Result<u64, RestoreError> {
    let f = file_entry(manifest, &obj.file)?;
    let mut defs = vec![];
    for (c, ty) in stage_columns(obj) {
        if !known_type(tx, obj, &ty)? {
            return Err(RestoreError::Other(format!(
                "{}: type {ty:?} does not exist in this database",
                obj.qualified()
            )));
        }
        defs.push(format!("{} {ty}", quote_ident(&c)));
    }
    let defs = defs.join(", ");
    tx.batch_execute(&format!(
        "CREATE TEMP TABLE {} ({defs}) ON COMMIT DROP",
        quote_ident(stage)
    ))?;
    let rows = copy_file_in(tx, entry, f, &quote_ident(stage), obj, progress)?;
    tx.batch_execute(&format!("ANALYZE {}", quote_ident(stage)))?;
    Ok(rows)
}

/// Whether a manifest's type, already checked token by token
/// ([`crate::snapshot::manifest::type_name`]), exists here. It must also be one type name to the
/// server (`to_regtype` parses the whole text as one, with a bound parameter) before it is
/// written into a statement: anything else is an error.
fn known_type(
    tx: &mut postgres::Transaction<'_>,
    obj: &Object,
    ty: &str,
) -> Result<bool, RestoreError> {
    let mut sp = tx.savepoint("migsafe_type")?;
    match sp.query_one("SELECT pg_catalog.to_regtype($1) IS NOT NULL", &[&ty]) {
        Ok(row) => Ok(row.get(0)),
        Err(e) => Err(RestoreError::Other(format!(
            "{}: the manifest's type {ty:?} is not a type name ({}); nothing was restored",
            obj.qualified(),
            crate::pg::error_text(&e)
        ))),
    }
}

/// The file's columns, quoted, in file order.
fn file_columns(obj: &Object) -> String {
    file_order(obj)
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Streams a data file into `table` with one COPY, hashing it on the way. A size or sha256
/// mismatch fails before the COPY completes (dropping the writer aborts it), so the caller's
/// transaction rolls back with nothing loaded.
fn copy_file_in(
    tx: &mut postgres::Transaction<'_>,
    entry: &Entry,
    f: &FileEntry,
    table: &str,
    obj: &Object,
    progress: &indicatif::ProgressBar,
) -> Result<u64, RestoreError> {
    let mut reader = store::open_file(entry, f)?;
    let mut w = tx.copy_in(&format!("COPY {table} ({}) FROM STDIN", file_columns(obj)))?;
    let mut buf = vec![0u8; 1 << 18];
    loop {
        let n = reader.read(&mut buf).map_err(|e| RestoreError::Corrupt {
            path: entry.dir.join(&f.path),
            message: format!("cannot read: {e}"),
        })?;
        if n == 0 {
            break;
        }
        w.write_all(&buf[..n])
            .map_err(|e| RestoreError::Other(format!("COPY of {} failed: {e}", f.path)))?;
        progress.inc(n as u64);
    }
    let (sha, bytes) = reader.finish();
    if sha != f.sha256 || bytes != f.bytes {
        return Err(mismatch(entry, f, &sha, bytes));
    }
    Ok(w.finish()?)
}

/// `t.k1 = s.k_k1 AND …`; nullable whole-row key columns use IS NOT DISTINCT FROM.
fn key_match(obj: &Object, t: &Table) -> String {
    obj.key
        .iter()
        .map(|k| {
            let nullable = t.column(k).is_some_and(|c| !c.not_null);
            let (t, s) = (
                format!("t.{}", quote_ident(k)),
                format!("s.{}", quote_ident(&changes::staged('k', k))),
            );
            if nullable && obj.key_source == KeySource::WholeRow {
                same_image(&[t], &[s])
            } else {
                format!("{t} = {s}")
            }
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn key_text(obj: &Object) -> String {
    let parts = obj
        .key
        .iter()
        .map(|k| format!("s.{}::text", quote_ident(&changes::staged('k', k))))
        .collect::<Vec<_>>()
        .join(", ");
    format!("concat_ws(', ', {parts})")
}

/// Adds keys of conflicting rows from `query` (one text column) to `r`, up to 10 in all.
fn sample_conflicts(
    tx: &mut postgres::Transaction<'_>,
    query: &str,
    r: &mut ObjectReport,
) -> Result<(), postgres::Error> {
    let room = 10usize.saturating_sub(r.conflict_keys.len());
    if r.conflicts > 0 && room > 0 {
        r.conflict_keys.extend(
            tx.query(&format!("{query} LIMIT {room}"), &[])?
                .iter()
                .map(|row| row.get::<_, Option<String>>(0).unwrap_or_default()),
        );
    }
    Ok(())
}

/// Rows: insert captured rows whose key is absent; rows whose key exists with other content are
/// conflicts (kept as they are); rows equal to the capture are unchanged.
fn restore_rows(
    tx: &mut postgres::Transaction<'_>,
    obj: &Object,
    t: &Table,
    stage: &str,
) -> Result<ObjectReport, RestoreError> {
    let mut r = report_for(obj);
    let st = quote_ident(stage);
    let live: Vec<&String> = obj
        .columns
        .iter()
        .filter(|c| t.column(c).is_some_and(|c| !c.generated))
        .collect();
    let src = |c: &String| {
        if obj.key.contains(c) {
            format!("s.{}", quote_ident(&changes::staged('k', c)))
        } else {
            format!("s.{}", quote_ident(&changes::staged('c', c)))
        }
    };
    let insert_cols = live
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ");
    let select_cols = live.iter().map(|c| src(c)).collect::<Vec<_>>().join(", ");
    let overriding = if live
        .iter()
        .any(|c| t.column(c).is_some_and(|c| c.identity == Some('a')))
    {
        " OVERRIDING SYSTEM VALUE"
    } else {
        ""
    };
    let target = t.qualified();
    if obj.key.is_empty() || obj.key_source == KeySource::WholeRow {
        // No key: restore the multiset difference, so deleted duplicates come back by count.
        let n = tx.execute(
            &format!(
                "INSERT INTO {target} ({insert_cols}){overriding} \
                 SELECT * FROM (SELECT {select_cols} FROM {st} s EXCEPT ALL SELECT {insert_cols} FROM {target}) x"
            ),
            &[],
        )?;
        r.restored = n;
        r.unchanged = obj.rows.saturating_sub(n);
    } else {
        let m = key_match(obj, t);
        let others: Vec<&&String> = live.iter().filter(|c| !obj.key.contains(c)).collect();
        let differs = if others.is_empty() {
            "false".to_string()
        } else {
            format!(
                "NOT {}",
                same_image(
                    &others
                        .iter()
                        .map(|c| format!("t.{}", quote_ident(c)))
                        .collect::<Vec<_>>(),
                    &others.iter().map(|c| src(c)).collect::<Vec<_>>()
                )
            )
        };
        let row = tx.query_one(
            &format!(
                "SELECT count(*) FILTER (WHERE {differs}), count(*) FILTER (WHERE NOT ({differs})) \
                 FROM {st} s JOIN {target} t ON {m}"
            ),
            &[],
        )?;
        r.conflicts = row.get::<_, i64>(0) as u64;
        r.unchanged = row.get::<_, i64>(1) as u64;
        sample_conflicts(
            tx,
            &format!(
                "SELECT {} FROM {st} s JOIN {target} t ON {m} WHERE {differs}",
                key_text(obj)
            ),
            &mut r,
        )?;
        r.restored = tx.execute(
            &format!(
                "INSERT INTO {target} ({insert_cols}){overriding} \
                 SELECT {select_cols} FROM {st} s WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {m})"
            ),
            &[],
        )?;
    }
    advance_sequences(tx, t, &live)?;
    Ok(r)
}

/// A recreated table's sequences start again at 1; move each past the restored keys so the
/// next insert does not collide with a restored row.
fn advance_sequences(
    tx: &mut postgres::Transaction<'_>,
    t: &Table,
    cols: &[&String],
) -> Result<(), postgres::Error> {
    for c in cols {
        let seq: Option<String> = tx
            .query_one(
                "SELECT pg_get_serial_sequence($1, $2)",
                &[&t.qualified(), c],
            )?
            .get(0);
        let Some(seq) = seq else { continue };
        let col = quote_ident(c);
        tx.execute(
            &format!(
                "SELECT setval($1::text::regclass, m) FROM (SELECT max({col})::bigint AS m FROM {}) x \
                 WHERE m IS NOT NULL AND m >= (SELECT last_value FROM {})",
                t.qualified(),
                seq
            ),
            &[&seq],
        )?;
    }
    Ok(())
}

/// Columns and Values: write captured values back into rows that still exist.
/// - Columns (DROP COLUMN): a value goes back where the column holds NULL or its constant
///   default (what the down's ADD COLUMN left), or always with `overwrite_columns`.
/// - Values (UPDATE, type change): a value goes back where the column still holds what the
///   statement wrote; anything else was written since and is a conflict.
fn restore_values(
    tx: &mut postgres::Transaction<'_>,
    obj: &Object,
    t: &Table,
    stage: &str,
    opts: RestoreOptions,
) -> Result<ObjectReport, RestoreError> {
    let mut r = report_for(obj);
    let st = quote_ident(stage);
    let target = t.qualified();
    let mut cols = vec![];
    for c in &obj.columns {
        match t.column(c) {
            Some(col) if !col.generated => cols.push(col.clone()),
            _ => {
                return Err(RestoreError::Other(format!(
                    "{}: column {c} does not exist (or is generated) now: run the down migration that re-adds it first",
                    obj.qualified()
                )));
            }
        }
    }
    let m = key_match(obj, t);
    // Per column: may the captured value replace what is there now?
    let fresh_with = |prefix: &str| -> Vec<String> {
        cols.iter()
            .map(|c| {
                let tc = format!("{prefix}{}", quote_ident(&c.name));
                if obj.kind == ObjectKind::Values && !obj.after.is_empty() {
                    let a = format!("s.{}", quote_ident(&changes::staged('a', &c.name)));
                    return same_image(&[tc], &[format!("{a}::{}", c.ty)]);
                }
                if opts.overwrite_columns {
                    return "true".into();
                }
                // A constant default (no function call) is what the down's ADD COLUMN wrote.
                match &c.default {
                    Some(d) if !d.contains('(') => format!(
                        "({tc} IS NULL OR {})",
                        same_image(std::slice::from_ref(&tc), &[format!("({d})::{}", c.ty)])
                    ),
                    _ => format!("{tc} IS NULL"),
                }
            })
            .collect()
    };
    let fresh = fresh_with("t.");
    let same: Vec<String> = cols
        .iter()
        .map(|c| {
            same_image(
                &[format!("t.{}", quote_ident(&c.name))],
                &[format!("s.{}", quote_ident(&changes::staged('c', &c.name)))],
            )
        })
        .collect();
    let all_same = same.join(" AND ");
    let all_fresh = fresh.join(" AND ");
    let row = tx.query_one(
        &format!(
            "SELECT count(*) FILTER (WHERE t.ctid IS NULL), \
                    count(*) FILTER (WHERE t.ctid IS NOT NULL AND {all_same}), \
                    count(*) FILTER (WHERE t.ctid IS NOT NULL AND NOT ({all_same}) AND NOT ({all_fresh})), \
                    count(*) FILTER (WHERE t.ctid IS NOT NULL AND NOT ({all_same}) AND {all_fresh}) \
             FROM {st} s LEFT JOIN {target} t ON {m}"
        ),
        &[],
    )?;
    r.gone = row.get::<_, i64>(0) as u64;
    r.unchanged = row.get::<_, i64>(1) as u64;
    r.conflicts = row.get::<_, i64>(2) as u64;
    let to_restore = row.get::<_, i64>(3) as u64;
    sample_conflicts(
        tx,
        &format!(
            "SELECT {} FROM {st} s JOIN {target} t ON {m} WHERE NOT ({all_same}) AND NOT ({all_fresh})",
            key_text(obj)
        ),
        &mut r,
    )?;
    if to_restore == 0 {
        return Ok(r);
    }
    if obj.kind == ObjectKind::Columns
        && rewrite_pays(tx, obj, t, to_restore)?
        && rewrite(tx, obj, t, stage, &cols, &fresh_with("").join(" AND "))?
    {
        r.restored = to_restore;
        return Ok(r);
    }
    // One set-based UPDATE over the rows that change; rows already equal are not rewritten.
    let sets = cols
        .iter()
        .map(|c| {
            format!(
                "{} = s.{}",
                quote_ident(&c.name),
                quote_ident(&changes::staged('c', &c.name))
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    r.restored = tx.execute(
        &format!(
            "UPDATE {target} t SET {sets} FROM {st} s WHERE {m} AND NOT ({all_same}) AND {all_fresh}"
        ),
        &[],
    )?;
    Ok(r)
}

/// Below this many rows to restore, an UPDATE is as fast as rewriting the table.
const REWRITE_MIN_ROWS: u64 = 50_000;

/// Whether re-hydrating dropped columns by rewriting the table beats an UPDATE: many rows, a
/// large share of the table, one key column (the lookup), and nothing an UPDATE would tell that
/// a rewrite does not: no user triggers (they would not fire) and no publication (subscribers
/// would not see the values).
fn rewrite_pays(
    tx: &mut postgres::Transaction<'_>,
    obj: &Object,
    t: &Table,
    rows: u64,
) -> Result<bool, postgres::Error> {
    if rows < REWRITE_MIN_ROWS || obj.key.len() != 1 || obj.key_source == KeySource::WholeRow {
        return Ok(false);
    }
    let row = tx.query_one(
        "SELECT c.reltuples::float8, \
                EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal), \
                EXISTS (SELECT 1 FROM pg_publication_tables p WHERE p.schemaname = $2 AND p.tablename = $3) \
         FROM pg_class c WHERE c.oid = $1",
        &[&t.oid, &t.schema, &t.name],
    )?;
    let (tuples, triggers, published): (f64, bool, bool) = (row.get(0), row.get(1), row.get(2));
    Ok(!triggers && !published && rows as f64 >= tuples * 0.2)
}

/// Re-hydrates dropped columns in one pass: `ALTER COLUMN … TYPE <same type> USING <lookup>`
/// rewrites the heap once and rebuilds its indexes by sorting, where an UPDATE writes a second
/// version of every row and inserts it into every index one by one (measured on 1M rows: 5 s
/// against 13 s). Rows written since the capture keep their values (the lookup falls back to
/// the current value). Returns false, with nothing changed, when PostgreSQL refuses (a view
/// uses the column): the caller then runs the UPDATE.
fn rewrite(
    tx: &mut postgres::Transaction<'_>,
    obj: &Object,
    t: &Table,
    stage: &str,
    cols: &[capture::Column],
    all_fresh: &str,
) -> Result<bool, postgres::Error> {
    let mut sp = tx.savepoint("migsafe_rewrite")?;
    match rewrite_in(&mut sp, obj, t, stage, cols, all_fresh) {
        Ok(()) => {
            sp.commit()?;
            Ok(true)
        }
        Err(e) if e.as_db_error().is_some() => Ok(false),
        Err(e) => Err(e),
    }
}

fn rewrite_in(
    sp: &mut postgres::Transaction<'_>,
    obj: &Object,
    t: &Table,
    stage: &str,
    cols: &[capture::Column],
    all_fresh: &str,
) -> Result<(), postgres::Error> {
    let key = &obj.key[0];
    let st = quote_ident(stage);
    let sk = quote_ident(&changes::staged('k', key));
    sp.batch_execute(&format!("CREATE UNIQUE INDEX ON {st} ({sk})"))?;
    let mut clauses = vec![];
    for (i, c) in cols.iter().enumerate() {
        let f = format!("pg_temp.{}", quote_ident(&format!("{stage}_lookup_{i}")));
        // The stage's value when the key was captured (even NULL), else the current one.
        sp.batch_execute(&format!(
            "CREATE FUNCTION {f}({}, {ty}) RETURNS {ty} LANGUAGE sql STABLE AS $migsafe$ \
             SELECT s.{}::{ty} FROM {st} s WHERE s.{sk} = $1 UNION ALL SELECT $2 LIMIT 1 $migsafe$",
            obj.key_types[0],
            quote_ident(&changes::staged('c', &c.name)),
            ty = c.ty,
        ))?;
        let collate: Option<String> = sp
            .query_one(
                "SELECT CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation \
                        THEN format('%I.%I', n.nspname, l.collname) END \
                 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
                 LEFT JOIN pg_collation l ON l.oid = a.attcollation \
                 LEFT JOIN pg_namespace n ON n.oid = l.collnamespace \
                 WHERE a.attrelid = $1 AND a.attname = $2",
                &[&t.oid, &c.name],
            )?
            .get(0);
        let col = quote_ident(&c.name);
        clauses.push(format!(
            "ALTER COLUMN {col} TYPE {}{} USING CASE WHEN {all_fresh} THEN {f}({}, {col}) ELSE {col} END",
            c.ty,
            collate.map(|c| format!(" COLLATE {c}")).unwrap_or_default(),
            quote_ident(key),
        ));
    }
    sp.batch_execute(&format!(
        "ALTER TABLE {} {}",
        t.qualified(),
        clauses.join(", ")
    ))
}

/// The result of loading one data file into a scratch database (drills, `verify --deep`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Rehearsal {
    /// `schema.name` of the captured object.
    pub object: String,
    pub kind: String,
    /// Rows the manifest records, and rows that loaded.
    pub expected_rows: u64,
    pub loaded_rows: u64,
    /// The loaded rows, exported again with `COPY … TO STDOUT`, hash to the file's sha256.
    pub content_matches: bool,
    /// Row changes: the rollback's own restore, run on the rows as the statement left them,
    /// gave back exactly the rows it found (binary image equality), with no conflict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_matches: Option<bool>,
    pub elapsed_ms: u64,
    /// What went wrong, when something did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Loads every data file of a targeted snapshot into plain tables of a scratch database that
/// `client` is connected to (created under schema `migsafe_drill`), then exports them again and
/// compares row counts and sha256 with the manifest. Never touches a target.
pub fn rehearse(
    client: &mut postgres::Client,
    entry: &Entry,
    manifest: &Manifest,
    progress: &indicatif::ProgressBar,
) -> Result<Vec<Rehearsal>, RestoreError> {
    let mut tx = client.transaction()?;
    capture::pin_settings(&mut tx)?;
    tx.batch_execute("CREATE SCHEMA IF NOT EXISTS migsafe_drill")?;
    progress.set_length(manifest.total_bytes());
    let mut out = vec![];
    for (i, obj) in manifest.objects.iter().enumerate() {
        let started = Instant::now();
        progress.set_message(obj.qualified());
        let mut r = Rehearsal {
            object: obj.qualified(),
            kind: format!("{:?}", obj.kind).to_lowercase(),
            expected_rows: obj.rows,
            loaded_rows: 0,
            content_matches: false,
            restore_matches: None,
            elapsed_ms: 0,
            problem: None,
        };
        let result = match obj.kind {
            ObjectKind::Definition | ObjectKind::Sequence => {
                read_checked(entry, manifest, &obj.file).map(|text| {
                    progress.inc(text.len() as u64);
                    r.content_matches = true;
                })
            }
            ObjectKind::Dump => {
                // A schema dump inside a targeted snapshot: its files are checked by sha256.
                let prefix = format!("{}/", obj.file);
                let bad: Vec<String> = manifest
                    .files
                    .iter()
                    .filter(|f| f.path.starts_with(&prefix))
                    .filter_map(|f| read_and_hash(entry, f).err())
                    .collect();
                r.content_matches = bad.is_empty();
                if !bad.is_empty() {
                    r.problem = Some(bad.join("; "));
                }
                Ok(())
            }
            ObjectKind::Rows | ObjectKind::Columns | ObjectKind::Values | ObjectKind::Changes => {
                let mut sp = tx.savepoint("migsafe_rehearse")?;
                match rehearse_data(&mut sp, entry, manifest, obj, i, progress) {
                    Ok((rows, matches)) => {
                        sp.commit()?;
                        r.loaded_rows = rows;
                        r.content_matches = matches;
                        if !matches {
                            r.problem = Some(
                                "the loaded rows export to different bytes than the file".into(),
                            );
                        }
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
        };
        if let Err(e) = result {
            r.problem = Some(e.to_string());
            r.content_matches = false;
        }
        if r.problem.is_none() && r.loaded_rows != r.expected_rows {
            r.problem = Some(format!(
                "{} rows loaded, the manifest records {}",
                r.loaded_rows, r.expected_rows
            ));
        }
        r.elapsed_ms = started.elapsed().as_millis() as u64;
        out.push(r);
    }
    // Row changes that loaded intact are restored as a rollback would restore them.
    let loaded: Vec<(usize, String)> = manifest
        .objects
        .iter()
        .enumerate()
        .filter(|(i, o)| {
            o.kind == ObjectKind::Changes && out[*i].problem.is_none() && out[*i].content_matches
        })
        .map(|(i, _)| {
            (
                i,
                format!("migsafe_drill.{}", quote_ident(&format!("o{i}"))),
            )
        })
        .collect();
    if !loaded.is_empty() {
        progress.set_message("restoring the row changes");
        let mut sp = tx.savepoint("migsafe_rehearse_restore")?;
        match changes::rehearse(&mut sp, entry, manifest, &loaded, progress) {
            Ok(results) => {
                for (i, problem) in results {
                    out[i].restore_matches = Some(problem.is_none());
                    out[i].problem = problem;
                }
            }
            Err(e) => {
                for (i, _) in &loaded {
                    out[*i].restore_matches = Some(false);
                    out[*i].problem = Some(format!("the rollback's restore failed: {e}"));
                }
            }
        }
        drop(sp);
    }
    // Nothing of a rehearsal is kept.
    tx.rollback()?;
    Ok(out)
}

fn read_and_hash(entry: &Entry, f: &FileEntry) -> Result<(), String> {
    let mut r = store::open_file(entry, f).map_err(|e| e.to_string())?;
    std::io::copy(&mut r, &mut std::io::sink())
        .map_err(|e| format!("{}: {e}", entry.dir.join(&f.path).display()))?;
    let (sha, bytes) = r.finish();
    if sha != f.sha256 || bytes != f.bytes {
        return Err(mismatch(entry, f, &sha, bytes).to_string());
    }
    Ok(())
}

/// Loads one data file into `migsafe_drill.o<i>` with the captured types (text where a type
/// does not exist on this server), then exports it again and compares the bytes' sha256.
fn rehearse_data(
    tx: &mut postgres::Transaction<'_>,
    entry: &Entry,
    manifest: &Manifest,
    obj: &Object,
    i: usize,
    progress: &indicatif::ProgressBar,
) -> Result<(u64, bool), RestoreError> {
    let f = file_entry(manifest, &obj.file)?;
    let table = format!("migsafe_drill.{}", quote_ident(&format!("o{i}")));
    let mut defs = vec![];
    for (c, ty) in stage_columns(obj) {
        // A type this server does not have (an extension's, an enum) loads as text.
        let ty = if known_type(tx, obj, &ty)? {
            ty
        } else {
            "text".into()
        };
        defs.push(format!("{} {ty}", quote_ident(&c)));
    }
    tx.batch_execute(&format!("CREATE TABLE {table} ({})", defs.join(", ")))?;
    let rows = copy_file_in(tx, entry, f, &table, obj, progress)?;
    let order = file_columns(obj);
    let mut out = store::HashingWriter::new(std::io::sink());
    let mut r = tx.copy_out(&format!("COPY (SELECT {order} FROM {table}) TO STDOUT"))?;
    std::io::copy(&mut r, &mut out)
        .map_err(|e| RestoreError::Other(format!("COPY out failed: {e}")))?;
    drop(r);
    let (_, sha_back, _) = out.finish();
    Ok((rows, sha_back == f.sha256))
}

/// A dropped table's definition is SQL that capture wrote; a store writer could have written
/// other SQL. Each statement must be one of the forms capture writes, for this object's table:
/// `CREATE SEQUENCE IF NOT EXISTS`, `CREATE TABLE <the table> (`, `ALTER TABLE <the table> ADD
/// CONSTRAINT`, `ALTER SEQUENCE … OWNED BY <the table>.`, `CREATE [UNIQUE] INDEX`. (Their
/// DEFAULT, CHECK and index expressions may still call functions that exist on the target.)
fn check_definition(obj: &Object, sql: &str) -> Result<(), RestoreError> {
    let table = format!("{}.{}", quote_ident(&obj.schema), quote_ident(&obj.name));
    let refuse = |why: String| {
        RestoreError::Other(format!(
            "{}: the definition in {} is not one migsafe writes ({why}); nothing was restored",
            obj.qualified(),
            obj.file
        ))
    };
    let statements =
        crate::sql::split::split(sql, 0..sql.len(), crate::source::Delimiting::Standard)
            .map_err(|e| refuse(e.to_string()))?;
    let mut created = false;
    for raw in statements {
        let text = sql[raw.range].trim();
        let allowed = text.starts_with("CREATE SEQUENCE IF NOT EXISTS ")
            || text.starts_with(&format!("CREATE TABLE {table} ("))
            || text.starts_with(&format!("ALTER TABLE {table} ADD CONSTRAINT "))
            || (text.starts_with("ALTER SEQUENCE ")
                && text.contains(&format!(" OWNED BY {table}.")))
            || text.starts_with("CREATE INDEX ")
            || text.starts_with("CREATE UNIQUE INDEX ");
        if !allowed {
            let shown: String = text.chars().take(60).collect();
            return Err(refuse(format!("statement `{shown}`")));
        }
        created |= text.starts_with("CREATE TABLE ");
    }
    if !created {
        return Err(refuse("no CREATE TABLE".into()));
    }
    Ok(())
}

/// A sequence's state as capture wrote it (`CREATE SEQUENCE IF NOT EXISTS … AS <type>
/// INCREMENT BY n MINVALUE n MAXVALUE n START WITH n CACHE n [NO] CYCLE;` then `SELECT
/// pg_catalog.setval(…, last, called);`), read back into numbers: the statements run are built
/// here from those numbers and the manifest's (quoted) names, never taken from the file.
fn sequence_sql(obj: &Object, text: &str) -> Result<String, RestoreError> {
    let bad = |why: &str| {
        RestoreError::Other(format!(
            "{}: the sequence state in {} is not one migsafe writes ({why}); nothing was restored",
            obj.qualified(),
            obj.file
        ))
    };
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let (create, set) = match (lines.next(), lines.next(), lines.next()) {
        (Some(c), Some(s), None) => (c.trim(), s.trim()),
        _ => return Err(bad("two statements expected")),
    };
    let tail = create
        .strip_prefix("CREATE SEQUENCE IF NOT EXISTS ")
        .and_then(|r| r.rfind(" AS ").map(|at| &r[at + 4..]))
        .and_then(|r| r.strip_suffix(';'))
        .ok_or_else(|| bad("CREATE SEQUENCE"))?;
    let words: Vec<&str> = tail.split(' ').collect();
    let (ty, rest) = words.split_first().ok_or_else(|| bad("type"))?;
    if !["smallint", "integer", "bigint"].contains(ty) {
        return Err(bad("type"));
    }
    let num = |s: &str| s.parse::<i64>().map_err(|_| bad("number"));
    let (inc, min, max, start, cache, cycle) = match rest {
        [
            "INCREMENT",
            "BY",
            i,
            "MINVALUE",
            lo,
            "MAXVALUE",
            hi,
            "START",
            "WITH",
            s,
            "CACHE",
            c,
            cy @ ..,
        ] => {
            let cycle = match cy {
                ["CYCLE"] => "CYCLE",
                ["NO", "CYCLE"] => "NO CYCLE",
                _ => return Err(bad("CYCLE")),
            };
            (num(i)?, num(lo)?, num(hi)?, num(s)?, num(c)?, cycle)
        }
        _ => return Err(bad("options")),
    };
    let args = set
        .strip_prefix("SELECT pg_catalog.setval(")
        .and_then(|r| r.strip_suffix(");"))
        .ok_or_else(|| bad("setval"))?;
    let mut parts = args.rsplitn(3, ", ");
    let called = match parts.next() {
        Some("true") => true,
        Some("false") => false,
        _ => return Err(bad("is_called")),
    };
    let last = num(parts.next().ok_or_else(|| bad("last_value"))?)?;
    let q = format!("{}.{}", quote_ident(&obj.schema), quote_ident(&obj.name));
    Ok(format!(
        "CREATE SEQUENCE IF NOT EXISTS {q} AS {ty} INCREMENT BY {inc} MINVALUE {min} MAXVALUE {max} START WITH {start} CACHE {cache} {cycle};\n\
         SELECT pg_catalog.setval({}, {last}, {called});\n",
        capture::quote_literal(&q)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::manifest::KeySource;

    fn object(kind: ObjectKind, name: &str) -> Object {
        Object {
            kind,
            schema: "public".into(),
            name: name.into(),
            key_source: KeySource::None,
            key: vec![],
            key_types: vec![],
            columns: vec![],
            column_types: vec![],
            after: vec![],
            rows: 0,
            file: "f.sql".into(),
        }
    }

    #[test]
    fn a_sequence_state_is_rebuilt_from_its_numbers() {
        let o = object(ObjectKind::Sequence, "orders_id_seq");
        let text = "CREATE SEQUENCE IF NOT EXISTS \"public\".\"orders_id_seq\" AS bigint INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1 NO CYCLE;\nSELECT pg_catalog.setval('\"public\".\"orders_id_seq\"', 42, true);\n";
        assert_eq!(sequence_sql(&o, text).unwrap(), text);
        for evil in [
            "CREATE SEQUENCE IF NOT EXISTS x AS bigint INCREMENT BY 1 MINVALUE 1 MAXVALUE 9 START WITH 1 CACHE 1 NO CYCLE;\nSELECT pg_catalog.setval('x', 42, true); DROP TABLE accounts;\n",
            "CREATE SEQUENCE IF NOT EXISTS x AS bigint INCREMENT BY 1 MINVALUE 1 MAXVALUE 9 START WITH 1 CACHE 1 NO CYCLE;\nSELECT pg_catalog.setval('x', (SELECT 1), true);\n",
            "CREATE SEQUENCE IF NOT EXISTS x AS text INCREMENT BY 1 MINVALUE 1 MAXVALUE 9 START WITH 1 CACHE 1 NO CYCLE;\nSELECT pg_catalog.setval('x', 4, true);\n",
            "DROP TABLE accounts;\nSELECT pg_catalog.setval('x', 4, true);\n",
            "CREATE SEQUENCE IF NOT EXISTS x AS bigint INCREMENT BY 1 MINVALUE 1 MAXVALUE 9 START WITH 1 CACHE 1 NO CYCLE;\nSELECT pg_catalog.setval('x', 4, true);\nDROP TABLE accounts;\n",
        ] {
            assert!(sequence_sql(&o, evil).is_err(), "{evil}");
        }
        // The name comes from the manifest, whatever the file says.
        let renamed = text.replace("orders_id_seq", "other");
        assert!(
            sequence_sql(&o, &renamed)
                .unwrap()
                .contains("\"orders_id_seq\"")
        );
    }

    #[test]
    fn a_definition_holds_only_what_capture_writes_for_its_table() {
        let o = object(ObjectKind::Definition, "orders");
        let good = "-- Definition of public.orders captured by migsafe before it was dropped.\nCREATE SEQUENCE IF NOT EXISTS public.orders_id_seq;\nCREATE TABLE \"public\".\"orders\" (\n    \"id\" integer DEFAULT nextval('orders_id_seq'::regclass) NOT NULL\n);\nALTER TABLE \"public\".\"orders\" ADD CONSTRAINT \"orders_pkey\" PRIMARY KEY (id);\nALTER SEQUENCE public.orders_id_seq OWNED BY \"public\".\"orders\".\"id\";\nCREATE INDEX orders_x ON public.orders USING btree (id);\n";
        assert!(check_definition(&o, good).is_ok());
        for evil in [
            format!("{good}DROP TABLE accounts;\n"),
            "CREATE TABLE \"public\".\"orders\" AS SELECT pg_sleep(1);\n".into(),
            "CREATE TABLE \"public\".\"other\" (id int);\n".into(),
            "CREATE TABLE \"public\".\"orders\" (id int); CREATE ROLE evil SUPERUSER;\n".into(),
            "SELECT 1;\n".into(),
            "CREATE TABLE \"public\".\"orders\" (id int);\nDO $$ BEGIN PERFORM 1; END $$;\n".into(),
            "ALTER TABLE \"public\".\"orders\" ADD CONSTRAINT c CHECK (true);\n".into(),
        ] {
            assert!(check_definition(&o, &evil).is_err(), "{evil}");
        }
    }
}
