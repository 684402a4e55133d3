//! Targeted capture: exactly what one statement destroys, streamed with `COPY … TO STDOUT`
//! inside the transaction that is about to run it, so the capture sees what the statement will
//! see. No per-row round trips: one COPY per object.
//!
//! Predicates and expressions come from the statement itself (a DELETE's WHERE, an UPDATE's SET
//! and FROM), so the capture selects the same rows the statement will touch. Identifiers migsafe
//! adds are always quoted.

use std::io::{BufRead, Write};

use sqlparser::ast::{
    AlterColumnOperation, AlterTableOperation, AssignmentTarget, FromTable, ObjectName, ObjectType,
    Statement, TableFactor, TableWithJoins, UpdateTableFromKind,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::manifest::{KeySource, Object, ObjectKind};
use super::store::Writer;
use crate::pg::connect::Target;
use crate::pg::quote_ident;

/// What to capture for one destroying statement. Table and sequence names are SQL text as
/// written (`public.orders`, `"Orders"`), resolved by the server like the statement will be;
/// column names are plain (unquoted) names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// DROP TABLE: every row plus the table's definition.
    Table { table: String },
    /// DROP COLUMN: the key plus the columns' values.
    Columns { table: String, columns: Vec<String> },
    /// DELETE: the rows the statement's own predicate matches.
    Rows {
        table: String,
        alias: Option<String>,
        using: Option<String>,
        predicate: Option<String>,
    },
    /// UPDATE: the key, the old values of the assigned columns, and the values it will write.
    Values {
        table: String,
        alias: Option<String>,
        assignments: Vec<(String, String)>,
        from: Option<String>,
        predicate: Option<String>,
    },
    /// Lossy ALTER COLUMN TYPE: the key and the old values.
    TypeChange {
        table: String,
        column: String,
        new_type: String,
        using: Option<String>,
    },
    /// TRUNCATE: every row of every table it empties, CASCADE included.
    Truncate { tables: Vec<String>, cascade: bool },
    /// DROP SEQUENCE / ALTER SEQUENCE … RESTART: the sequence's state.
    Sequence { sequence: String },
    /// DROP SCHEMA … CASCADE: a full dump of the schema.
    Schema { schema: String },
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot capture `{statement}`: {reason}")]
    Unsupported { statement: String, reason: String },
    #[error("{}", crate::pg::error_text(.0))]
    Db(#[from] postgres::Error),
    #[error(transparent)]
    Store(#[from] super::StoreError),
    #[error(transparent)]
    Full(#[from] super::full::FullError),
    #[error("{0}")]
    Other(String),
}

/// What a capture wrote.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    pub objects: Vec<Object>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct CaptureOptions {
    /// Take `SHARE` locks on the captured tables first, so no other session can change them
    /// between the capture and the statement (apply uses this; a read-only capture cannot).
    pub lock_tables: bool,
}

fn unsupported(sql: &str, reason: impl Into<String>) -> CaptureError {
    CaptureError::Unsupported {
        statement: crate::classify::excerpt(sql),
        reason: reason.into(),
    }
}

/// The capture requests for one statement's text; statements that destroy nothing give none.
/// What migsafe cannot capture precisely is an error (fail closed), never an empty capture.
pub fn requests_for(sql: &str) -> Result<Vec<Request>, CaptureError> {
    let stmts = match Parser::parse_sql(&PostgreSqlDialect {}, sql) {
        Ok(s) => s,
        Err(e) => return fallback_requests(sql, &e.to_string()),
    };
    let mut out = vec![];
    for stmt in &stmts {
        requests_of(sql, stmt, &mut out)?;
    }
    Ok(out)
}

/// The capture requests for what a destroying statement takes with it before it runs: dropped
/// tables and columns, lossy type changes, TRUNCATE, sequences, schemas. Rows that DML changes
/// are observed while it runs, not predicted, so DELETE and UPDATE need none here. `migsafe
/// apply` captures with this and `migsafe plan` estimates with it: one model.
pub fn pre_capture(step: &crate::classify::Step, text: &str) -> Result<Vec<Request>, CaptureError> {
    use crate::sql::Op;
    // What procedural code destroys (a DO block's DROP, a called function's TRUNCATE, a
    // partition dropped with its parent) is not in the statement's text, so nothing here can
    // capture it ahead: refuse rather than run it uncaptured. Row changes are observed anyway.
    let procedural = crate::classify::excerpt(text)
        .get(..3)
        .is_some_and(|w| w.eq_ignore_ascii_case("do "));
    if let Some(e) = step.effects.iter().find(|e| {
        e.effect.data.is_destructive()
            // `f()` in `via`: the body of a called function (or trigger function).
            && (procedural || e.via.as_deref().is_some_and(|v| v.contains("()")))
            && !matches!(e.op, Op::Delete { .. } | Op::Update { .. } | Op::Insert { .. })
    }) {
        return Err(unsupported(
            text,
            format!(
                "{}; migsafe cannot snapshot what procedural code destroys ahead of it: write it as plain SQL, or take a full snapshot (--full)",
                e.effect.reason
            ),
        ));
    }
    let dml = step.effects.iter().all(|e| {
        matches!(
            e.op,
            crate::sql::Op::Delete { .. }
                | crate::sql::Op::Update { .. }
                | crate::sql::Op::Insert { .. }
                | crate::sql::Op::Select
        )
    });
    match requests_for(text) {
        Ok(requests) => Ok(requests
            .into_iter()
            .filter(|r| !matches!(r, Request::Rows { .. } | Request::Values { .. }))
            .collect()),
        // DML migsafe's predictor cannot read (ON CONFLICT DO UPDATE, SET (a, b) = …, MERGE)
        // is observed like any other.
        Err(_) if dml && !step.effects.is_empty() => Ok(vec![]),
        Err(e) => Err(e),
    }
}

/// Statements sqlparser cannot read but migsafe's recognizer can (ALTER SEQUENCE …).
fn fallback_requests(sql: &str, parse_error: &str) -> Result<Vec<Request>, CaptureError> {
    use crate::sql::Op;
    match crate::sql::recognized_ops(sql) {
        Some(ops) => {
            let mut out = vec![];
            for op in ops {
                match op {
                    Op::AlterSequence { name, restart } if restart => out.push(Request::Sequence {
                        sequence: quote_dotted(&name),
                    }),
                    Op::AlterSequence { .. } => {}
                    Op::DropTable { .. }
                    | Op::DropColumn { .. }
                    | Op::DropSchema { .. }
                    | Op::DropSequence { .. }
                    | Op::DropObject { .. }
                    | Op::AlterColumnType { .. }
                    | Op::Truncate { .. }
                    | Op::Delete { .. }
                    | Op::Update { .. }
                    | Op::Unmodeled { .. } => {
                        return Err(unsupported(
                            sql,
                            "migsafe cannot read this statement's form",
                        ));
                    }
                    _ => {}
                }
            }
            Ok(out)
        }
        None => Err(unsupported(
            sql,
            format!("cannot parse it ({parse_error}); take a full snapshot (--full)"),
        )),
    }
}

/// `a.b` (already folded) → `"a"."b"`.
pub fn quote_dotted(name: &str) -> String {
    name.split('.')
        .map(quote_ident)
        .collect::<Vec<_>>()
        .join(".")
}

pub(crate) fn fold(i: &sqlparser::ast::Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_lowercase()
    }
}

fn table_and_alias(t: &TableWithJoins) -> Option<(String, Option<String>)> {
    if !t.joins.is_empty() {
        return None;
    }
    match &t.relation {
        TableFactor::Table { name, alias, .. } => {
            Some((name.to_string(), alias.as_ref().map(|a| a.name.to_string())))
        }
        _ => None,
    }
}

fn list(items: &[TableWithJoins]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn names(ns: &[ObjectName]) -> Vec<String> {
    ns.iter().map(ToString::to_string).collect()
}

fn requests_of(sql: &str, stmt: &Statement, out: &mut Vec<Request>) -> Result<(), CaptureError> {
    match stmt {
        Statement::Drop {
            object_type,
            names: ns,
            cascade,
            ..
        } => match object_type {
            ObjectType::Table => {
                out.extend(names(ns).into_iter().map(|table| Request::Table { table }))
            }
            ObjectType::Sequence => out.extend(
                names(ns)
                    .into_iter()
                    .map(|sequence| Request::Sequence { sequence }),
            ),
            ObjectType::Schema if *cascade => out.extend(
                ns.iter()
                    .map(|n| Request::Schema {
                        schema: n.to_string(),
                    })
                    .collect::<Vec<_>>(),
            ),
            // Without CASCADE a schema must be empty to drop: nothing to capture.
            ObjectType::Schema => {}
            ObjectType::Database => {
                return Err(unsupported(
                    sql,
                    "a dropped database cannot be captured from inside it; back it up with pg_dump",
                ));
            }
            // Views, indexes, functions and types hold no rows, except that CASCADE can take
            // columns of other tables with them.
            _ if *cascade => {
                return Err(unsupported(
                    sql,
                    "CASCADE may drop columns of other tables that migsafe cannot name in advance; take a full snapshot (--full)",
                ));
            }
            _ => {}
        },
        Statement::Truncate(t) => out.push(Request::Truncate {
            tables: t.table_names.iter().map(|t| t.name.to_string()).collect(),
            cascade: t
                .cascade
                .as_ref()
                .is_some_and(|c| c.to_string().eq_ignore_ascii_case("cascade")),
        }),
        Statement::Delete(d) => {
            let from = match &d.from {
                FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
            };
            let (table, alias) = match from.as_slice() {
                [one] => table_and_alias(one),
                _ => None,
            }
            .ok_or_else(|| unsupported(sql, "DELETE from several tables"))?;
            out.push(Request::Rows {
                table,
                alias,
                using: d.using.as_deref().map(list),
                predicate: d.selection.as_ref().map(ToString::to_string),
            });
        }
        Statement::Update(u) => {
            let (table, alias) =
                table_and_alias(&u.table).ok_or_else(|| unsupported(sql, "UPDATE of a join"))?;
            let mut assignments = vec![];
            for a in &u.assignments {
                match &a.target {
                    AssignmentTarget::ColumnName(n) => {
                        let col =
                            n.0.last()
                                .and_then(|p| p.as_ident())
                                .map(fold)
                                .ok_or_else(|| unsupported(sql, "unreadable SET target"))?;
                        let value = a.value.to_string();
                        if value.eq_ignore_ascii_case("default") {
                            return Err(unsupported(
                                sql,
                                "SET … = DEFAULT: migsafe cannot tell the value it writes",
                            ));
                        }
                        assignments.push((col, value));
                    }
                    AssignmentTarget::Tuple(_) => {
                        return Err(unsupported(
                            sql,
                            "SET (a, b) = …: write one assignment per column",
                        ));
                    }
                }
            }
            let from = match &u.from {
                Some(UpdateTableFromKind::AfterSet(f) | UpdateTableFromKind::BeforeSet(f)) => {
                    Some(list(f))
                }
                None => None,
            };
            out.push(Request::Values {
                table,
                alias,
                assignments,
                from,
                predicate: u.selection.as_ref().map(ToString::to_string),
            });
        }
        Statement::AlterTable(at) => {
            let table = at.name.to_string();
            let mut dropped = vec![];
            for op in &at.operations {
                match op {
                    AlterTableOperation::DropColumn { column_names, .. } => {
                        dropped.extend(column_names.iter().map(fold))
                    }
                    AlterTableOperation::AlterColumn {
                        column_name,
                        op:
                            AlterColumnOperation::SetDataType {
                                data_type, using, ..
                            },
                    } => out.push(Request::TypeChange {
                        table: table.clone(),
                        column: fold(column_name),
                        new_type: data_type.to_string(),
                        using: using.as_ref().map(ToString::to_string),
                    }),
                    _ => {}
                }
            }
            if !dropped.is_empty() {
                out.push(Request::Columns {
                    table,
                    columns: dropped,
                });
            }
        }
        Statement::Insert(i)
            if i.on.is_some()
                && i.on
                    .as_ref()
                    .is_some_and(|o| o.to_string().to_ascii_uppercase().contains("DO UPDATE")) =>
        {
            return Err(unsupported(
                sql,
                "INSERT … ON CONFLICT DO UPDATE overwrites rows migsafe cannot select in advance; take a full snapshot (--full)",
            ));
        }
        _ => {}
    }
    Ok(())
}

/// Captures `requests` through `tx` into `writer`, without locking (read-only transactions).
pub fn capture(
    tx: &mut postgres::Transaction<'_>,
    target: &Target,
    writer: &mut Writer,
    requests: &[Request],
    progress: &indicatif::ProgressBar,
) -> Result<Captured, CaptureError> {
    capture_with(
        tx,
        target,
        writer,
        requests,
        CaptureOptions::default(),
        progress,
    )
}

/// Captures `requests` through `tx` (so it sees exactly what the statement will see) into
/// `writer`. `target` is used only for `Schema` requests (pg_dump on an exported snapshot).
pub fn capture_with(
    tx: &mut postgres::Transaction<'_>,
    target: &Target,
    writer: &mut Writer,
    requests: &[Request],
    opts: CaptureOptions,
    progress: &indicatif::ProgressBar,
) -> Result<Captured, CaptureError> {
    let settings = Settings::pin(tx)?;
    let mut c = Capturer {
        tx,
        writer,
        opts,
        progress,
        out: Captured::default(),
    };
    let result = requests.iter().try_for_each(|r| c.one(r, target));
    let out = c.out;
    // Leave the session as the migration had it, even after a failed capture. After a database
    // error the transaction is aborted and this fails too: the capture's error is the one to
    // report.
    let restored = settings.restore(tx);
    result?;
    restored?;
    Ok(out)
}

/// Output settings that make COPY text portable (ISO dates, exact floats, hex bytea). They are
/// set with `set_config(…, true)` and put back afterwards, so the migration that runs next in
/// the same transaction sees its own settings.
pub(crate) struct Settings(Vec<(&'static str, String)>);

const PINNED: &[(&str, &str)] = &[
    ("DateStyle", "ISO, YMD"),
    ("IntervalStyle", "postgres"),
    ("extra_float_digits", "3"),
    ("bytea_output", "hex"),
];

impl Settings {
    pub(crate) fn pin(tx: &mut postgres::Transaction<'_>) -> Result<Settings, postgres::Error> {
        let mut saved = vec![];
        for (name, value) in PINNED {
            let old: String = tx.query_one("SELECT current_setting($1)", &[name])?.get(0);
            tx.execute("SELECT set_config($1, $2, true)", &[name, value])?;
            saved.push((*name, old));
        }
        Ok(Settings(saved))
    }
    pub(crate) fn restore(self, tx: &mut postgres::Transaction<'_>) -> Result<(), postgres::Error> {
        for (name, old) in self.0 {
            tx.execute("SELECT set_config($1, $2, true)", &[&name, &old])?;
        }
        Ok(())
    }
}

/// Pins COPY output settings for a restore or rehearsal transaction (no need to put them back).
pub(crate) fn pin_settings(tx: &mut impl postgres::GenericClient) -> Result<(), postgres::Error> {
    for (name, value) in PINNED {
        tx.execute("SELECT set_config($1, $2, true)", &[name, value])?;
    }
    Ok(())
}

/// One column of a table, from the catalog.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub name: String,
    pub ty: String,
    pub generated: bool,
    pub identity: Option<char>,
    pub not_null: bool,
    pub default: Option<String>,
}

/// A resolved table: its columns and the key rows are matched on.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    pub partitioned: bool,
    pub columns: Vec<Column>,
    pub key: Vec<String>,
    pub key_source: KeySource,
}

impl Table {
    pub fn qualified(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
    fn types_of(&self, names: &[String]) -> Vec<String> {
        names
            .iter()
            .map(|k| self.column(k).map_or_else(String::new, |c| c.ty.clone()))
            .collect()
    }
    fn key_types(&self) -> Vec<String> {
        self.types_of(&self.key)
    }
    /// The columns rows are matched on when `changed` columns are captured, with their types:
    /// the key, or without one every other column (the statement leaves them alone).
    fn match_key(&self, changed: &[String]) -> (Vec<String>, Vec<String>) {
        let key: Vec<String> = if self.key_source == KeySource::WholeRow {
            self.storable()
                .iter()
                .map(|c| c.name.clone())
                .filter(|c| !changed.contains(c))
                .collect()
        } else {
            self.key.clone()
        };
        let types = self.types_of(&key);
        (key, types)
    }
    /// Every column that can be inserted (not generated).
    fn storable(&self) -> Vec<&Column> {
        self.columns.iter().filter(|c| !c.generated).collect()
    }
}

/// Resolves a table by OID.
pub(crate) fn table_by_oid(
    client: &mut impl postgres::GenericClient,
    oid: u32,
) -> Result<Table, postgres::Error> {
    let row = client.query_one(
        "SELECT n.nspname::text, c.relname::text, c.relkind = 'p' \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1",
        &[&oid],
    )?;
    let columns = client
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attgenerated <> '', \
                    a.attidentity::text, a.attnotnull, pg_get_expr(d.adbin, d.adrelid) \
             FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            &[&oid],
        )?
        .into_iter()
        .map(|r| Column {
            name: r.get(0),
            ty: r.get(1),
            generated: r.get(2),
            identity: r.get::<_, String>(3).chars().next(),
            not_null: r.get(4),
            default: r.get(5),
        })
        .collect::<Vec<_>>();
    // The primary key, else the narrowest unique index over NOT NULL plain columns.
    let keys = client.query(
        "SELECT i.indisprimary, \
                array(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(n, o) \
                      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o), \
                bool_and(a2.attnotnull) \
         FROM pg_index i JOIN pg_attribute a2 ON a2.attrelid = i.indrelid AND a2.attnum = ANY(i.indkey) \
         WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid AND i.indpred IS NULL \
           AND i.indexprs IS NULL AND 0 <> ALL (i.indkey) \
         GROUP BY i.indexrelid, i.indisprimary, i.indkey, i.indrelid \
         ORDER BY i.indisprimary DESC, i.indnatts, i.indexrelid",
        &[&oid],
    )?;
    let mut key = vec![];
    let mut key_source = KeySource::WholeRow;
    for k in keys {
        let primary: bool = k.get(0);
        let not_null: bool = k.get(2);
        if primary || not_null {
            key = k.get(1);
            key_source = if primary {
                KeySource::PrimaryKey
            } else {
                KeySource::UniqueNotNull
            };
            break;
        }
    }
    Ok(Table {
        oid,
        schema: row.get(0),
        name: row.get(1),
        partitioned: row.get(2),
        columns,
        key,
        key_source,
    })
}

/// Resolves a table name as the statement would (search_path, quoting).
pub(crate) fn resolve_table(
    client: &mut impl postgres::GenericClient,
    name: &str,
) -> Result<Option<Table>, postgres::Error> {
    let oid: Option<u32> = client
        .query_one(
            "SELECT c.oid FROM pg_class c WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p')",
            &[&name],
        )?
        .get(0);
    oid.map(|oid| table_by_oid(client, oid)).transpose()
}

struct Capturer<'a, 'b, 't> {
    tx: &'a mut postgres::Transaction<'t>,
    writer: &'b mut Writer,
    opts: CaptureOptions,
    progress: &'b indicatif::ProgressBar,
    out: Captured,
}

pub(crate) fn file_name(n: usize, kind: &str, schema: &str, name: &str, ext: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!("{n:02}-{kind}-{}.{}.{ext}", clean(schema), clean(name))
}

fn col_list(prefix: &str, cols: &[&str]) -> String {
    cols.iter()
        .map(|c| format!("{prefix}{}", quote_ident(c)))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Capturer<'_, '_, '_> {
    fn next_file(&self, kind: &str, schema: &str, name: &str, ext: &str) -> String {
        file_name(self.out.objects.len() + 1, kind, schema, name, ext)
    }

    fn table(&mut self, name: &str) -> Result<Table, CaptureError> {
        let t = resolve_table(self.tx, name)?
            .ok_or_else(|| CaptureError::Other(format!("table {name} does not exist")))?;
        if self.opts.lock_tables {
            self.tx
                .batch_execute(&format!("LOCK TABLE {} IN SHARE MODE", t.qualified()))?;
        }
        Ok(t)
    }

    fn note_key(&mut self, t: &Table) {
        match t.key_source {
            KeySource::UniqueNotNull => self.out.notes.push(format!(
                "{}.{} has no primary key: rows are matched on unique NOT NULL ({})",
                t.schema,
                t.name,
                t.key.join(", ")
            )),
            KeySource::WholeRow => self.out.notes.push(format!(
                "{}.{} has no primary key or unique NOT NULL key: whole rows captured and matched",
                t.schema, t.name
            )),
            _ => {}
        }
    }

    /// Streams `COPY (query) TO STDOUT` into a new file; returns its name and the row count.
    fn copy_out(&mut self, file: &str, query: &str) -> Result<(String, u64), CaptureError> {
        let mut sink = self.writer.create_file(file)?;
        let mut reader = self.tx.copy_out(&format!("COPY ({query}) TO STDOUT"))?;
        let write_err = |e: std::io::Error| {
            CaptureError::Other(format!("{file}: cannot write snapshot file: {e}"))
        };
        let mut rows = 0u64;
        let mut pending = 0u64;
        loop {
            // The server sends one message per row; take each as it comes (no extra copy).
            let chunk = reader.fill_buf().map_err(|e| match into_db(e) {
                Ok(db) => CaptureError::Db(db),
                Err(e) => CaptureError::Other(format!("COPY failed: {e}")),
            })?;
            let n = chunk.len();
            if n == 0 {
                break;
            }
            // COPY text escapes newlines inside values, so each newline ends one row.
            rows += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
            sink.write_all(chunk).map_err(write_err)?;
            reader.consume(n);
            pending += n as u64;
            if pending >= 1 << 20 {
                self.progress.inc(pending);
                pending = 0;
            }
        }
        self.progress.inc(pending);
        drop(reader);
        self.writer.finish_file(sink)?;
        Ok((file.to_string(), rows))
    }

    fn one(&mut self, r: &Request, target: &Target) -> Result<(), CaptureError> {
        match r {
            Request::Table { table } => {
                let t = self.table(table)?;
                self.progress
                    .set_message(format!("{}.{}", t.schema, t.name));
                let def = definition(self.tx, &t)?;
                let file = self.next_file("definition", &t.schema, &t.name, "sql");
                let mut sink = self.writer.create_file(&file)?;
                sink.write_all(def.as_bytes())
                    .map_err(|e| CaptureError::Other(format!("{file}: {e}")))?;
                self.writer.finish_file(sink)?;
                self.out.objects.push(Object {
                    kind: ObjectKind::Definition,
                    schema: t.schema.clone(),
                    name: t.name.clone(),
                    key_source: KeySource::None,
                    key: vec![],
                    key_types: vec![],
                    columns: vec![],
                    column_types: vec![],
                    after: vec![],
                    rows: 0,
                    file,
                });
                if t.partitioned {
                    self.out.notes.push(format!(
                        "{}.{} is partitioned: the definition holds the parent only; its rows (from every partition) restore into whatever partitions exist then",
                        t.schema, t.name
                    ));
                }
                self.whole_rows(&t, None)
            }
            Request::Truncate { tables, cascade } => {
                let mut ts = vec![];
                for name in tables {
                    ts.push(self.table(name)?);
                }
                if *cascade {
                    let oids: Vec<u32> = ts.iter().map(|t| t.oid).collect();
                    for oid in referencing_closure(self.tx, &oids)? {
                        if !ts.iter().any(|t| t.oid == oid) {
                            let t = table_by_oid(self.tx, oid)?;
                            if self.opts.lock_tables {
                                self.tx.batch_execute(&format!(
                                    "LOCK TABLE {} IN SHARE MODE",
                                    t.qualified()
                                ))?;
                            }
                            ts.push(t);
                        }
                    }
                }
                // Parents first, so a restore can insert in manifest order.
                for t in parents_first(self.tx, ts)? {
                    self.whole_rows(&t, None)?;
                }
                Ok(())
            }
            Request::Rows {
                table,
                alias,
                using,
                predicate,
            } => {
                let t = self.table(table)?;
                let p = alias.clone().unwrap_or_else(|| quote_ident(&t.name));
                let from = match alias {
                    Some(a) => format!("{table} AS {a}"),
                    None => table.clone(),
                };
                let filter = match (using, predicate) {
                    (Some(u), Some(pred)) => {
                        format!(" WHERE EXISTS (SELECT 1 FROM {u} WHERE {pred})")
                    }
                    (Some(u), None) => format!(" WHERE EXISTS (SELECT 1 FROM {u})"),
                    (None, Some(pred)) => format!(" WHERE {pred}"),
                    (None, None) => String::new(),
                };
                self.whole_rows(&t, Some((p, from, filter)))
            }
            Request::Columns { table, columns } => {
                let t = self.table(table)?;
                for c in columns {
                    if t.column(c).is_none() {
                        return Err(CaptureError::Other(format!(
                            "column {c} of {}.{} does not exist",
                            t.schema, t.name
                        )));
                    }
                }
                self.note_key(&t);
                let (key, key_types) = t.match_key(columns);
                let cols: Vec<&str> = key
                    .iter()
                    .chain(columns.iter())
                    .map(String::as_str)
                    .collect();
                let query = format!("SELECT {} FROM {}", col_list("", &cols), t.qualified());
                self.progress.set_message(format!(
                    "{}.{} ({})",
                    t.schema,
                    t.name,
                    columns.join(", ")
                ));
                let file = self.next_file("columns", &t.schema, &t.name, "copy");
                let (file, rows) = self.copy_out(&file, &query)?;
                self.out.objects.push(Object {
                    kind: ObjectKind::Columns,
                    schema: t.schema.clone(),
                    name: t.name.clone(),
                    key_source: t.key_source,
                    key,
                    key_types,
                    columns: columns.clone(),
                    column_types: t.types_of(columns),
                    after: vec![],
                    rows,
                    file,
                });
                Ok(())
            }
            Request::Values {
                table,
                alias,
                assignments,
                from,
                predicate,
            } => {
                let t = self.table(table)?;
                let p = alias.clone().unwrap_or_else(|| quote_ident(&t.name));
                let cols: Vec<String> = assignments.iter().map(|(c, _)| c.clone()).collect();
                let after: Vec<String> =
                    assignments.iter().map(|(_, e)| format!("({e})")).collect();
                let mut sql_from = match alias {
                    Some(a) => format!("{table} AS {a}"),
                    None => table.clone(),
                };
                if let Some(f) = from {
                    sql_from = format!("{sql_from}, {f}");
                }
                let filter = predicate
                    .as_ref()
                    .map(|w| format!(" WHERE {w}"))
                    .unwrap_or_default();
                // UPDATE … FROM takes one joined row per target row; so does DISTINCT ON.
                let distinct = match (from, t.key_source) {
                    (Some(_), KeySource::PrimaryKey | KeySource::UniqueNotNull) => format!(
                        "DISTINCT ON ({}) ",
                        col_list(
                            &format!("{p}."),
                            &t.key.iter().map(String::as_str).collect::<Vec<_>>()
                        )
                    ),
                    _ => String::new(),
                };
                self.values(&t, &p, &cols, &after, &sql_from, &filter, &distinct)
            }
            Request::TypeChange {
                table,
                column,
                new_type,
                using,
            } => {
                let t = self.table(table)?;
                if t.column(column).is_none() {
                    return Err(CaptureError::Other(format!(
                        "column {column} of {}.{} does not exist",
                        t.schema, t.name
                    )));
                }
                let p = quote_ident(&t.name);
                let expr = using
                    .clone()
                    .unwrap_or_else(|| format!("{p}.{}", quote_ident(column)));
                let after = vec![format!("(({expr})::{new_type})")];
                self.values(
                    &t,
                    &p,
                    std::slice::from_ref(column),
                    &after,
                    &t.qualified(),
                    "",
                    "",
                )
            }
            Request::Sequence { sequence } => self.sequence(sequence),
            Request::Schema { schema } => {
                let name: String = self
                    .tx
                    .query_one(
                        "SELECT nspname::text FROM pg_namespace WHERE oid = to_regnamespace($1)",
                        &[schema],
                    )
                    .map_err(|_| CaptureError::Other(format!("schema {schema} does not exist")))?
                    .get(0);
                let snap: String = self
                    .tx
                    .query_one("SELECT pg_export_snapshot()", &[])?
                    .get(0);
                self.out.notes.push(format!(
                    "schema {name}: DROP SCHEMA … CASCADE is captured as a pg_dump of the schema, taken on this transaction's snapshot (writes made earlier in the same transaction are not in it)"
                ));
                let objects = super::full::dump(
                    target,
                    self.writer,
                    &super::full::DumpOptions {
                        schema: Some(name),
                        snapshot: Some(snap),
                        ..Default::default()
                    },
                    self.progress,
                )?;
                self.out.objects.extend(objects);
                Ok(())
            }
        }
    }

    /// Whole rows of `t` (every column that is not generated), optionally filtered:
    /// `(prefix, FROM text, WHERE text)`.
    fn whole_rows(
        &mut self,
        t: &Table,
        filtered: Option<(String, String, String)>,
    ) -> Result<(), CaptureError> {
        self.note_key(t);
        let cols: Vec<&str> = t.storable().iter().map(|c| c.name.as_str()).collect();
        let query = match &filtered {
            Some((p, from, filter)) => format!(
                "SELECT {} FROM {from}{filter}",
                col_list(&format!("{p}."), &cols)
            ),
            None => format!("SELECT {} FROM {}", col_list("", &cols), t.qualified()),
        };
        self.progress
            .set_message(format!("{}.{}", t.schema, t.name));
        let file = self.next_file("rows", &t.schema, &t.name, "copy");
        let (file, rows) = self.copy_out(&file, &query)?;
        // The key columns come first in `key`; the file holds every column in `columns`.
        self.out.objects.push(Object {
            kind: ObjectKind::Rows,
            schema: t.schema.clone(),
            name: t.name.clone(),
            key_source: t.key_source,
            key: t.key.clone(),
            key_types: t.key_types(),
            columns: cols.iter().map(|c| c.to_string()).collect(),
            column_types: t.storable().iter().map(|c| c.ty.clone()).collect(),
            after: vec![],
            rows,
            file,
        });
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn values(
        &mut self,
        t: &Table,
        p: &str,
        cols: &[String],
        after: &[String],
        from: &str,
        filter: &str,
        distinct: &str,
    ) -> Result<(), CaptureError> {
        self.note_key(t);
        let (key, key_types) = t.match_key(cols);
        let select: Vec<String> = key
            .iter()
            .chain(cols.iter())
            .map(|c| format!("{p}.{}", quote_ident(c)))
            .chain(after.iter().cloned())
            .collect();
        let query = format!("SELECT {distinct}{} FROM {from}{filter}", select.join(", "));
        self.progress
            .set_message(format!("{}.{} ({})", t.schema, t.name, cols.join(", ")));
        let file = self.next_file("values", &t.schema, &t.name, "copy");
        let (file, rows) = self.copy_out(&file, &query)?;
        self.out.objects.push(Object {
            kind: ObjectKind::Values,
            schema: t.schema.clone(),
            name: t.name.clone(),
            key_source: t.key_source,
            key,
            key_types,
            columns: cols.to_vec(),
            column_types: t.types_of(cols),
            after: cols.to_vec(),
            rows,
            file,
        });
        Ok(())
    }

    fn sequence(&mut self, name: &str) -> Result<(), CaptureError> {
        // `table.column` names an identity or serial column's sequence (ALTER TABLE … ALTER
        // COLUMN … RESTART): resolved through the column when no sequence has that name.
        let (table, column) = match name.rsplit_once('.') {
            Some((t, c)) => (t.to_string(), c.trim_matches('"').replace("\"\"", "\"")),
            None => (String::new(), String::new()),
        };
        let row = self
            .tx
            .query_opt(
                "SELECT c.oid, n.nspname::text, c.relname::text, format_type(s.seqtypid, NULL), \
                        s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_sequence s ON s.seqrelid = c.oid \
                 WHERE c.oid = CASE WHEN to_regclass($1) IS NOT NULL THEN to_regclass($1) \
                                    ELSE (SELECT to_regclass(pg_get_serial_sequence(NULLIF($2, ''), $3)) \
                                          WHERE EXISTS (SELECT 1 FROM pg_attribute a \
                                                        WHERE a.attrelid = to_regclass(NULLIF($2, '')) AND a.attname = $3 \
                                                          AND NOT a.attisdropped)) END \
                   AND c.relkind = 'S'",
                &[&name, &table, &column],
            )?
            .ok_or_else(|| CaptureError::Other(format!("sequence {name} does not exist")))?;
        let (schema, seq): (String, String) = (row.get(1), row.get(2));
        let q = format!("{}.{}", quote_ident(&schema), quote_ident(&seq));
        let state = self
            .tx
            .query_one(&format!("SELECT last_value, is_called FROM {q}"), &[])?;
        let (last, called): (i64, bool) = (state.get(0), state.get(1));
        let def = format!(
            "CREATE SEQUENCE IF NOT EXISTS {q} AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {}{};\n\
             SELECT pg_catalog.setval({}, {last}, {called});\n",
            row.get::<_, String>(3),
            row.get::<_, i64>(5),
            row.get::<_, i64>(6),
            row.get::<_, i64>(7),
            row.get::<_, i64>(4),
            row.get::<_, i64>(8),
            if row.get::<_, bool>(9) {
                " CYCLE"
            } else {
                " NO CYCLE"
            },
            quote_literal(&q),
        );
        let file = self.next_file("sequence", &schema, &seq, "sql");
        let mut sink = self.writer.create_file(&file)?;
        sink.write_all(def.as_bytes())
            .map_err(|e| CaptureError::Other(format!("{file}: {e}")))?;
        self.writer.finish_file(sink)?;
        self.out.objects.push(Object {
            kind: ObjectKind::Sequence,
            schema,
            name: seq,
            key_source: KeySource::None,
            key: vec![],
            key_types: vec![],
            columns: vec![],
            column_types: vec![],
            after: vec![],
            rows: 0,
            file,
        });
        Ok(())
    }
}

/// COPY errors arrive as io::Error wrapping the server's error; unwrap it for a clear message.
pub(crate) fn into_db(e: std::io::Error) -> Result<postgres::Error, std::io::Error> {
    match e
        .get_ref()
        .and_then(|i| i.downcast_ref::<postgres::Error>())
    {
        Some(_) => Ok(*e
            .into_inner()
            .expect("checked above")
            .downcast::<postgres::Error>()
            .expect("checked above")),
        None => Err(e),
    }
}

/// A SQL string literal.
pub(crate) fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Tables that reference `oids` through foreign keys, transitively (what TRUNCATE … CASCADE
/// empties), including `oids` themselves.
fn referencing_closure(
    tx: &mut postgres::Transaction<'_>,
    oids: &[u32],
) -> Result<Vec<u32>, postgres::Error> {
    Ok(tx
        .query(
            "WITH RECURSIVE t(oid) AS (SELECT unnest($1::oid[]) \
               UNION SELECT c.conrelid FROM pg_constraint c JOIN t ON c.confrelid = t.oid \
               WHERE c.contype = 'f') \
             SELECT oid FROM t ORDER BY oid",
            &[&oids],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Orders tables so that referenced tables come before the tables referencing them.
pub(crate) fn parents_first(
    tx: &mut postgres::Transaction<'_>,
    mut tables: Vec<Table>,
) -> Result<Vec<Table>, postgres::Error> {
    let oids: Vec<u32> = tables.iter().map(|t| t.oid).collect();
    let edges: Vec<(u32, u32)> = tx
        .query(
            "SELECT conrelid, confrelid FROM pg_constraint \
             WHERE contype = 'f' AND conrelid = ANY($1) AND confrelid = ANY($1) AND conrelid <> confrelid",
            &[&oids],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut out = vec![];
    while !tables.is_empty() {
        let placed: Vec<u32> = out.iter().map(|t: &Table| t.oid).collect();
        let ready = tables.iter().position(|t| {
            edges
                .iter()
                .filter(|(child, _)| *child == t.oid)
                .all(|(_, parent)| placed.contains(parent) || !oids.contains(parent))
        });
        // A cycle: take the rest as they are.
        let i = ready.unwrap_or(0);
        out.push(tables.remove(i));
    }
    Ok(out)
}

/// `CREATE TABLE` for a table about to be dropped, from the catalog: columns with types,
/// defaults, identity and NOT NULL; then constraints and indexes. Enough to recreate the table
/// when a restore finds it gone; the down script is still what rollback runs.
fn definition(tx: &mut postgres::Transaction<'_>, t: &Table) -> Result<String, postgres::Error> {
    let mut cols = vec![];
    for c in &t.columns {
        let mut s = format!("    {} {}", quote_ident(&c.name), c.ty);
        match (c.generated, c.identity, &c.default) {
            (true, _, Some(d)) => s.push_str(&format!(" GENERATED ALWAYS AS ({d}) STORED")),
            (_, Some('a'), _) => s.push_str(" GENERATED ALWAYS AS IDENTITY"),
            (_, Some('d'), _) => s.push_str(" GENERATED BY DEFAULT AS IDENTITY"),
            (_, _, Some(d)) => s.push_str(&format!(" DEFAULT {d}")),
            _ => {}
        }
        if c.not_null {
            s.push_str(" NOT NULL");
        }
        cols.push(s);
    }
    // Serial columns' sequences are dropped with the table: recreate them first.
    let mut owned = vec![];
    for c in t
        .columns
        .iter()
        .filter(|c| c.identity.is_none() && !c.generated)
    {
        let seq: Option<String> = tx
            .query_one(
                "SELECT pg_get_serial_sequence($1, $2)",
                &[&t.qualified(), &c.name],
            )?
            .get(0);
        if let Some(seq) = seq {
            owned.push((seq, c.name.clone()));
        }
    }
    let mut out = format!(
        "-- Definition of {}.{} captured by migsafe before it was dropped.\n",
        t.schema, t.name
    );
    for (seq, _) in &owned {
        out.push_str(&format!("CREATE SEQUENCE IF NOT EXISTS {seq};\n"));
    }
    out.push_str(&format!(
        "CREATE TABLE {} (\n{}\n)",
        t.qualified(),
        cols.join(",\n")
    ));
    if t.partitioned {
        let key: String = tx
            .query_one("SELECT pg_get_partkeydef($1)", &[&t.oid])?
            .get(0);
        out.push_str(&format!(" PARTITION BY {key}"));
    }
    out.push_str(";\n");
    for r in tx.query(
        "SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint \
         WHERE conrelid = $1 AND contype <> 'n' ORDER BY contype = 'f', conname",
        &[&t.oid],
    )? {
        out.push_str(&format!(
            "ALTER TABLE {} ADD CONSTRAINT {} {};\n",
            t.qualified(),
            quote_ident(&r.get::<_, String>(0)),
            r.get::<_, String>(1)
        ));
    }
    for (seq, col) in &owned {
        out.push_str(&format!(
            "ALTER SEQUENCE {seq} OWNED BY {}.{};\n",
            t.qualified(),
            quote_ident(col)
        ));
    }
    for r in tx.query(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i \
         WHERE i.indrelid = $1 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) \
         ORDER BY i.indexrelid",
        &[&t.oid],
    )? {
        out.push_str(&format!("{};\n", r.get::<_, String>(0)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_follow_the_statement() {
        assert_eq!(
            requests_for("DROP TABLE IF EXISTS public.orders, \"Logs\"").unwrap(),
            vec![
                Request::Table {
                    table: "public.orders".into()
                },
                Request::Table {
                    table: "\"Logs\"".into()
                }
            ]
        );
        assert_eq!(
            requests_for("ALTER TABLE users DROP COLUMN Legacy, DROP COLUMN \"Old\"").unwrap(),
            vec![Request::Columns {
                table: "users".into(),
                columns: vec!["legacy".into(), "Old".into()]
            }]
        );
        assert_eq!(
            requests_for("DELETE FROM events e USING users u WHERE e.user_id = u.id AND u.banned")
                .unwrap(),
            vec![Request::Rows {
                table: "events".into(),
                alias: Some("e".into()),
                using: Some("users u".into()),
                predicate: Some("e.user_id = u.id AND u.banned".into()),
            }]
        );
        assert_eq!(
            requests_for("UPDATE users SET email = lower(email) WHERE email <> lower(email)")
                .unwrap(),
            vec![Request::Values {
                table: "users".into(),
                alias: None,
                assignments: vec![("email".into(), "lower(email)".into())],
                from: None,
                predicate: Some("email <> lower(email)".into()),
            }]
        );
        assert_eq!(
            requests_for("ALTER TABLE t ALTER COLUMN price TYPE integer USING round(price)")
                .unwrap(),
            vec![Request::TypeChange {
                table: "t".into(),
                column: "price".into(),
                new_type: "INTEGER".into(),
                using: Some("round(price)".into()),
            }]
        );
        assert_eq!(
            requests_for("TRUNCATE a, b CASCADE").unwrap(),
            vec![Request::Truncate {
                tables: vec!["a".into(), "b".into()],
                cascade: true
            }]
        );
        assert_eq!(
            requests_for("DROP SCHEMA legacy CASCADE").unwrap(),
            vec![Request::Schema {
                schema: "legacy".into()
            }]
        );
        assert_eq!(
            requests_for("DROP SEQUENCE s").unwrap(),
            vec![Request::Sequence {
                sequence: "s".into()
            }]
        );
        assert!(requests_for("CREATE INDEX i ON t (a)").unwrap().is_empty());
        assert!(requests_for("DROP SCHEMA empty").unwrap().is_empty());
    }

    #[test]
    fn what_cannot_be_captured_precisely_is_refused() {
        for sql in [
            "DROP DATABASE app",
            "DROP TYPE mood CASCADE",
            "UPDATE t SET a = DEFAULT",
            "UPDATE t SET (a, b) = (1, 2)",
            "INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = 1",
            "THIS IS NOT SQL",
        ] {
            assert!(
                matches!(requests_for(sql), Err(CaptureError::Unsupported { .. })),
                "{sql}"
            );
        }
    }
}
