//! Snapshot estimates: how much an irreversible migration's targeted snapshot will hold on one
//! target, and how long capturing it will take, from the target's catalog statistics only
//! (`pg_class.reltuples`, `pg_relation_size`, `pg_stats.avg_width`). Read-only: it runs inside
//! plan's `READ ONLY` probe transaction and never scans a table.
//!
//! What is captured comes from [`crate::snapshot::capture::requests_for`], the same function
//! `migsafe apply` captures with, so the estimate covers exactly the objects apply will write.

use std::collections::HashMap;

use postgres::Transaction;
use serde::Serialize;

use crate::pg::quote_ident;
use crate::snapshot::capture::{self, Request};
use crate::snapshot::manifest::KeySource;

/// Capture throughput used to turn bytes into seconds: 120 MB/s. Derived from
/// benches/README.md (snapshot): the targeted capture of `orders.note`, 1M rows and 72 MB of
/// COPY output, took 0.60 s on the 2-core benchmark machine (72 MB / 0.60 s = 120 MB/s).
pub const CAPTURE_BYTES_PER_SECOND: u64 = 120_000_000;

/// Rows read to measure the length of values (see [`Estimator::sample`]).
const SAMPLE_ROWS: f64 = 500.0;

/// The foreign keys whose actions change rows of other tables when rows of `$1` are deleted
/// (`$2`) or the columns `$3` are updated, transitively through ON DELETE CASCADE: each
/// table reached, the constraint, and its action (`c`ascade, set `n`ull, set `d`efault).
const CASCADES: &str = "WITH RECURSIVE fk(child, con, action, depth) AS ( \
       SELECT c.conrelid, c.conname::text, \
              (CASE WHEN $2 THEN c.confdeltype ELSE c.confupdtype END)::text, 1 \
       FROM pg_catalog.pg_constraint c \
       WHERE c.contype = 'f' AND c.confrelid = $1 \
         AND (CASE WHEN $2 THEN c.confdeltype ELSE c.confupdtype END) IN ('c', 'n', 'd') \
         AND ($2 OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a \
                            WHERE a.attrelid = $1 AND a.attnum = ANY (c.confkey) AND a.attname = ANY ($3::text[]))) \
       UNION \
       SELECT c.conrelid, c.conname::text, c.confdeltype::text, fk.depth + 1 \
       FROM fk JOIN pg_catalog.pg_constraint c ON c.confrelid = fk.child \
       WHERE $2 AND fk.action = 'c' AND fk.depth < 16 AND c.contype = 'f' AND c.confdeltype IN ('c', 'n', 'd')) \
     SELECT DISTINCT pg_catalog.format('%I.%I', n.nspname, r.relname), fk.con, fk.action \
     FROM fk JOIN pg_catalog.pg_class r ON r.oid = fk.child \
     JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace ORDER BY 1, 2";

/// Bytes a captured sequence takes (its state: one short line).
const SEQUENCE_BYTES: u64 = 100;

/// The targeted snapshot one irreversible migration needs on one target.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct SnapshotEstimate {
    /// Estimated size of the snapshot's files (COPY text), in bytes.
    pub bytes: u64,
    /// Estimated capture time in seconds: `bytes` / 120 MB/s (measured; see docs/plan.md).
    pub seconds: f64,
    /// What will be captured, one entry per object.
    pub objects: Vec<EstimatedObject>,
}

/// One captured object's share of the estimate.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct EstimatedObject {
    /// What is captured, e.g. `column public.accounts.legacy_plan`.
    pub object: String,
    pub bytes: u64,
    /// Estimated rows (`pg_class.reltuples`); null when the table was never analysed.
    pub rows: Option<u64>,
    /// Why the figure is rough (an upper bound, no statistics, not on the target yet).
    pub note: Option<String>,
}

/// Seconds to capture `bytes`, rounded to milliseconds.
pub fn seconds_for(bytes: u64) -> f64 {
    (bytes as f64 / CAPTURE_BYTES_PER_SECOND as f64 * 1000.0).round() / 1000.0
}

/// What one migration captures: the pre-captures of its destroying DDL, the tables its DML
/// writes (observed while it runs), and the statements migsafe cannot capture (each blocks the
/// migration). Built with [`capture::pre_capture`], the function `migsafe apply` uses.
#[derive(Debug, Clone, Default)]
pub struct Captures {
    pub requests: Vec<Request>,
    pub writes: Vec<Write>,
    pub failures: Vec<String>,
}

/// A table a migration's DML writes: apply records the rows it changes as they change.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    /// Quoted, as the statement names it: resolved on the target like the statement will be.
    pub table: String,
    /// As the statement writes it (folded), for messages.
    pub shown: String,
    pub kind: WriteKind,
    /// The statement has a WHERE: which rows it changes is not known in advance.
    pub filtered: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WriteKind {
    Delete,
    /// The columns its SET assigns.
    Update(Vec<String>),
    Insert,
}

impl Captures {
    /// The tables whose capture triggers `migsafe apply` installs before the migration's steps
    /// (each table its DML writes; FK actions reach further, resolved on the target).
    pub fn written_tables(&self) -> Vec<String> {
        let mut out: Vec<String> = self.writes.iter().map(|w| w.table.clone()).collect();
        out.sort();
        out.dedup();
        out
    }
}

/// The capture model of `m`'s up script.
pub fn captures_of(m: &crate::classify::MigrationAnalysis) -> Captures {
    use crate::sql::Op;
    let mut out = Captures::default();
    for step in &m.up.steps {
        let mut writes_rows = false;
        for e in &step.effects {
            let (table, kind, filtered) = match &e.op {
                Op::Delete { table, has_where } => (table, WriteKind::Delete, *has_where),
                Op::Update {
                    table,
                    has_where,
                    columns,
                } => (table, WriteKind::Update(columns.clone()), *has_where),
                Op::Insert { table } => (table, WriteKind::Insert, false),
                _ => continue,
            };
            writes_rows |= kind != WriteKind::Insert;
            let w = Write {
                table: capture::quote_dotted(table),
                shown: table.clone(),
                kind,
                filtered,
            };
            if !out.writes.contains(&w) {
                out.writes.push(w);
            }
        }
        if !step.effects.iter().any(|e| e.effect.data.is_destructive()) {
            continue;
        }
        let text = m.up.text(step);
        match capture::pre_capture(step, text) {
            Ok(reqs) if reqs.is_empty() && !writes_rows => out.failures.push(format!(
                "line {}: `{}` destroys data but migsafe cannot tell what to capture",
                step.start.line,
                crate::classify::excerpt(text)
            )),
            Ok(reqs) => out.requests.extend(reqs),
            Err(e) => out.failures.push(format!("line {}: {e}", step.start.line)),
        }
    }
    out
}

/// A table as the catalog describes it, for estimates.
#[derive(Debug, Clone)]
struct TableStats {
    oid: u32,
    qualified: String,
    /// `reltuples` summed over the table's leaf partitions; None when never analysed.
    rows: Option<f64>,
    /// Heap size of the table (all leaf partitions), bytes.
    heap: u64,
    /// Non-generated columns in order.
    columns: Vec<String>,
    key: Vec<String>,
    key_source: KeySource,
    /// `pg_stats.avg_width` per column, where analysed.
    widths: HashMap<String, u64>,
    /// Average length of each column's text form in a small sample of rows (a TOASTed value's
    /// `avg_width` is its compressed size; COPY writes it whole).
    sampled: HashMap<String, u64>,
}

/// Estimates on one target, with a cache of the tables already looked up.
pub struct Estimator<'a, 't> {
    tx: &'a mut Transaction<'t>,
    tables: HashMap<String, Option<TableStats>>,
}

impl<'a, 't> Estimator<'a, 't> {
    pub fn new(tx: &'a mut Transaction<'t>) -> Self {
        Estimator {
            tx,
            tables: HashMap::new(),
        }
    }

    /// The estimate for `captures`: pre-captures in the order they will be taken, then what
    /// the observed capture records of each table the DML writes and the FK actions reach.
    pub fn estimate(&mut self, captures: &Captures) -> Result<SnapshotEstimate, postgres::Error> {
        let mut objects = vec![];
        for r in &captures.requests {
            self.one(r, &mut objects)?;
        }
        for w in &captures.writes {
            self.observed(w, &mut objects)?;
        }
        let bytes = objects.iter().map(|o| o.bytes).sum();
        Ok(SnapshotEstimate {
            bytes,
            seconds: seconds_for(bytes),
            objects,
        })
    }

    fn table(&mut self, name: &str) -> Result<Option<TableStats>, postgres::Error> {
        if let Some(t) = self.tables.get(name) {
            return Ok(t.clone());
        }
        // Resolved as the statement would be (search_path, quoting); absent → None.
        let oid: Option<u32> = self
            .tx
            .query_opt(
                "SELECT c.oid FROM pg_class c WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p')",
                &[&name],
            )?
            .map(|r| r.get(0));
        let t = match oid {
            None => None,
            Some(oid) => {
                let t = capture::table_by_oid(self.tx, oid)?;
                Some(self.stats(t)?)
            }
        };
        self.tables.insert(name.to_string(), t.clone());
        Ok(t)
    }

    fn stats(&mut self, t: capture::Table) -> Result<TableStats, postgres::Error> {
        // A partitioned table's rows live in its leaf partitions.
        let row = self.tx.query_one(
            "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::float8, \
                    coalesce(bool_or(c.reltuples < 0), false), \
                    coalesce(sum(pg_relation_size(c.oid)), 0)::int8 \
             FROM pg_class c \
             WHERE CASE WHEN $2 THEN c.oid IN (SELECT relid FROM pg_partition_tree($1::oid::regclass) WHERE isleaf) \
                        ELSE c.oid = $1 END",
            &[&t.oid, &t.partitioned],
        )?;
        let tuples: f64 = row.get(0);
        let never_analysed: bool = row.get(1);
        let heap: i64 = row.get(2);
        let mut widths = HashMap::new();
        for r in self.tx.query(
            "SELECT attname::text, avg_width::int8 FROM pg_stats \
             WHERE schemaname = $1 AND tablename = $2 ORDER BY inherited",
            &[&t.schema, &t.name],
        )? {
            let w: Option<i64> = r.get(1);
            if let Some(w) = w {
                // Inherited statistics (partitioned parents) come last and win.
                widths.insert(r.get::<_, String>(0), u64::try_from(w).unwrap_or(0));
            }
        }
        let sampled = self.sample(&t, tuples, heap)?;
        Ok(TableStats {
            oid: t.oid,
            qualified: format!("{}.{}", t.schema, t.name),
            // An empty file holds no rows, analysed or not.
            rows: (!never_analysed || tuples > 0.0 || heap == 0).then_some(tuples),
            heap: u64::try_from(heap).unwrap_or(0),
            columns: t
                .columns
                .iter()
                .filter(|c| !c.generated)
                .map(|c| c.name.clone())
                .collect(),
            key: t.key.clone(),
            key_source: t.key_source,
            widths,
            sampled,
        })
    }

    /// The average text length of each column over about [`SAMPLE_ROWS`] rows picked by
    /// `TABLESAMPLE SYSTEM` (whole pages: it reads about that many rows, never the table).
    fn sample(
        &mut self,
        t: &capture::Table,
        tuples: f64,
        heap: i64,
    ) -> Result<HashMap<String, u64>, postgres::Error> {
        let columns: Vec<&capture::Column> = t.columns.iter().filter(|c| !c.generated).collect();
        if columns.is_empty() || heap == 0 {
            return Ok(HashMap::new());
        }
        let percent = if tuples > 0.0 {
            (SAMPLE_ROWS / tuples * 100.0).min(100.0)
        } else {
            // Never analysed: a share of the pages that holds about as many rows as 8 MiB.
            (8.0 * 1024.0 * 1024.0 / heap as f64 * 100.0).min(100.0)
        };
        // NULL is written as `\N`.
        let lengths: Vec<String> = columns
            .iter()
            .map(|c| {
                format!(
                    "pg_catalog.avg(coalesce(pg_catalog.octet_length({}::text), 2))::float8",
                    quote_ident(&c.name)
                )
            })
            .collect();
        let row = self.tx.query_one(
            &format!(
                "SELECT {} FROM {} TABLESAMPLE SYSTEM ({percent}) REPEATABLE (0)",
                lengths.join(", "),
                t.qualified()
            ),
            &[],
        )?;
        let mut out = HashMap::new();
        for (i, c) in columns.iter().enumerate() {
            if let Some(avg) = row.get::<_, Option<f64>>(i) {
                out.insert(c.name.clone(), avg.round() as u64);
            }
        }
        Ok(out)
    }

    /// What the observed capture records of one table a DML statement writes, and of the tables
    /// its FK actions reach.
    fn observed(
        &mut self,
        w: &Write,
        out: &mut Vec<EstimatedObject>,
    ) -> Result<(), postgres::Error> {
        const FILTERED: &str = "the statement's WHERE decides which rows: selectivity unknown, the whole table is an upper bound";
        let bound = w.filtered.then_some(FILTERED);
        if self.table(&w.table)?.is_none() {
            match &w.kind {
                WriteKind::Insert => {}
                WriteKind::Delete => out.push(absent(format!("rows of {}", w.shown))),
                WriteKind::Update(cols) => {
                    out.push(absent(format!("values of {}.{}", w.shown, cols.join(", "))))
                }
            }
            return Ok(());
        }
        match &w.kind {
            WriteKind::Insert => {
                if self.table(&w.table)?.is_some() {
                    out.push(EstimatedObject {
                        object: format!("rows inserted into {}", w.table),
                        bytes: 0,
                        rows: None,
                        note: Some(
                            "rows the release inserts into an existing table are recorded as they are written (so that rollback can remove them): not estimated"
                                .into(),
                        ),
                    });
                }
                Ok(())
            }
            WriteKind::Delete => {
                self.whole("rows of", &w.table, 1, bound, out)?;
                self.cascades(&w.table, None, out)
            }
            WriteKind::Update(columns) => {
                self.keyed("values of", &w.table, columns, 2, bound, out)?;
                self.cascades(&w.table, Some(columns), out)
            }
        }
    }

    /// The rows FK actions change when rows of `table` are deleted (`updated` None) or the
    /// `updated` columns change: every row of each table reached is the upper bound.
    fn cascades(
        &mut self,
        table: &str,
        updated: Option<&Vec<String>>,
        out: &mut Vec<EstimatedObject>,
    ) -> Result<(), postgres::Error> {
        let Some(t) = self.table(table)? else {
            return Ok(());
        };
        let empty = vec![];
        let reached: Vec<(String, String, String)> = self
            .tx
            .query(
                CASCADES,
                &[&t.oid, &updated.is_none(), updated.unwrap_or(&empty)],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        for (child, constraint, action) in reached {
            let (what, times, done) = match action.as_str() {
                "c" if updated.is_none() => ("rows of", 1, "ON DELETE CASCADE"),
                "c" => ("rows of", 2, "ON UPDATE CASCADE"),
                "n" => ("rows of", 2, "SET NULL"),
                _ => ("rows of", 2, "SET DEFAULT"),
            };
            let note = format!(
                "reached through the foreign key {constraint} ({done}): every row is an upper bound"
            );
            self.whole(what, &child, times, Some(&note), out)?;
        }
        Ok(())
    }

    /// COPY bytes for `cols` of every row of `t` (each value counted `times[i]` times), from
    /// `avg_width`; the heap size when statistics are missing.
    fn bytes_of(t: &TableStats, cols: &[(String, u64)], notes: &mut Vec<String>) -> u64 {
        let Some(rows) = t.rows else {
            notes.push(format!(
                "{} was never analysed: its size on disk is the estimate (ANALYZE it for a closer one)",
                t.qualified
            ));
            return t.heap;
        };
        let mut per_row = 0u64;
        let mut missing = vec![];
        for (c, times) in cols {
            if !t.columns.contains(c) {
                notes.push(format!(
                    "column {c} is not on the target yet (an earlier pending migration adds it): estimated 0"
                ));
                continue;
            }
            match t.sampled.get(c).or_else(|| t.widths.get(c)) {
                // One separator (tab or newline) per value.
                Some(w) => per_row += (w + 1) * times,
                None => missing.push(c.as_str()),
            }
        }
        if !missing.is_empty() {
            notes.push(format!(
                "no statistics for {} of {}: its size on disk is the estimate (ANALYZE it for a closer one)",
                missing.join(", "),
                t.qualified
            ));
            return t.heap;
        }
        (rows * per_row as f64).round() as u64
    }

    fn whole(
        &mut self,
        what: &str,
        name: &str,
        times: u64,
        upper_bound: Option<&str>,
        out: &mut Vec<EstimatedObject>,
    ) -> Result<(), postgres::Error> {
        let Some(t) = self.table(name)? else {
            out.push(absent(format!("{what} {name}")));
            return Ok(());
        };
        let mut notes = vec![];
        if let Some(why) = upper_bound {
            notes.push(why.to_string());
        }
        let cols: Vec<(String, u64)> = t.columns.iter().map(|c| (c.clone(), times)).collect();
        let bytes = Self::bytes_of(&t, &cols, &mut notes);
        out.push(object(format!("{what} {}", t.qualified), bytes, &t, notes));
        Ok(())
    }

    /// The key (or, without one, every other column) plus `changed`, each changed value
    /// counted `times` (old values, plus new values for UPDATE and type changes).
    fn keyed(
        &mut self,
        what: &str,
        name: &str,
        changed: &[String],
        times: u64,
        upper_bound: Option<&str>,
        out: &mut Vec<EstimatedObject>,
    ) -> Result<(), postgres::Error> {
        let Some(t) = self.table(name)? else {
            out.push(absent(format!("{what} {name}.{}", changed.join(", "))));
            return Ok(());
        };
        let key: Vec<String> = if t.key_source == KeySource::WholeRow {
            t.columns
                .iter()
                .filter(|c| !changed.contains(c))
                .cloned()
                .collect()
        } else {
            t.key.clone()
        };
        let mut cols: Vec<(String, u64)> = key.into_iter().map(|k| (k, 1)).collect();
        cols.extend(changed.iter().map(|c| (c.clone(), times)));
        let mut notes = vec![];
        if let Some(why) = upper_bound {
            notes.push(why.to_string());
        }
        let bytes = Self::bytes_of(&t, &cols, &mut notes);
        let shown: Vec<String> = changed
            .iter()
            .map(|c| format!("{}.{c}", t.qualified))
            .collect();
        out.push(object(
            format!("{what} {}", shown.join(", ")),
            bytes,
            &t,
            notes,
        ));
        Ok(())
    }

    fn one(&mut self, r: &Request, out: &mut Vec<EstimatedObject>) -> Result<(), postgres::Error> {
        const PREDICATE: &str = "the statement's WHERE decides which rows: selectivity unknown, the whole table is an upper bound";
        match r {
            Request::Table { table } => self.whole("table", table, 1, None, out),
            Request::Truncate { tables, cascade } => {
                let mut names: Vec<String> = tables.clone();
                if *cascade {
                    let mut oids = vec![];
                    for n in tables {
                        if let Some(t) = self.table(n)? {
                            oids.push(t.oid);
                        }
                    }
                    let more: Vec<String> = self
                        .tx
                        .query(
                            "WITH RECURSIVE t(oid) AS (SELECT unnest($1::oid[]) \
                               UNION SELECT c.conrelid FROM pg_constraint c JOIN t ON c.confrelid = t.oid \
                               WHERE c.contype = 'f') \
                             SELECT t.oid::regclass::text FROM t WHERE NOT t.oid = ANY($1) ORDER BY t.oid",
                            &[&oids],
                        )?
                        .iter()
                        .map(|r| r.get(0))
                        .collect();
                    names.extend(more);
                }
                for n in &names {
                    self.whole("rows of", n, 1, None, out)?;
                }
                Ok(())
            }
            Request::Rows {
                table,
                using,
                predicate,
                ..
            } => {
                let bound = (predicate.is_some() || using.is_some()).then_some(PREDICATE);
                self.whole("rows of", table, 1, bound, out)
            }
            Request::Values {
                table,
                assignments,
                predicate,
                from,
                ..
            } => {
                let cols: Vec<String> = assignments.iter().map(|(c, _)| c.clone()).collect();
                let bound = (predicate.is_some() || from.is_some()).then_some(PREDICATE);
                self.keyed("values of", table, &cols, 2, bound, out)
            }
            Request::TypeChange { table, column, .. } => self.keyed(
                "values of",
                table,
                std::slice::from_ref(column),
                2,
                None,
                out,
            ),
            Request::Columns { table, columns } => {
                self.keyed("column", table, columns, 1, None, out)
            }
            Request::Sequence { sequence } => {
                let exists: bool = self
                    .tx
                    .query_one("SELECT to_regclass($1) IS NOT NULL", &[sequence])?
                    .get(0);
                out.push(if exists {
                    EstimatedObject {
                        object: format!("sequence {sequence}"),
                        bytes: SEQUENCE_BYTES,
                        rows: Some(1),
                        note: None,
                    }
                } else {
                    absent(format!("sequence {sequence}"))
                });
                Ok(())
            }
            Request::Schema { schema } => {
                let row = self.tx.query_one(
                    "SELECT to_regnamespace($1) IS NOT NULL, \
                            coalesce(sum(pg_relation_size(c.oid)), 0)::int8, \
                            coalesce(sum(greatest(c.reltuples, 0)), 0)::float8 \
                     FROM pg_class c WHERE c.relnamespace = to_regnamespace($1) \
                       AND c.relkind IN ('r', 'm')",
                    &[schema],
                )?;
                if !row.get::<_, bool>(0) {
                    out.push(absent(format!("schema {schema}")));
                    return Ok(());
                }
                let heap: i64 = row.get(1);
                let rows: f64 = row.get(2);
                out.push(EstimatedObject {
                    object: format!("schema {schema} (pg_dump)"),
                    bytes: u64::try_from(heap).unwrap_or(0),
                    rows: Some(rows.round() as u64),
                    note: Some(
                        "a pg_dump of the schema: estimated as the size of its tables on disk"
                            .into(),
                    ),
                });
                Ok(())
            }
        }
    }
}

fn object(what: String, bytes: u64, t: &TableStats, notes: Vec<String>) -> EstimatedObject {
    EstimatedObject {
        object: what,
        bytes,
        rows: t.rows.map(|r| r.round() as u64),
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    }
}

/// An object that is not on the target (yet): an earlier pending migration creates it.
fn absent(what: String) -> EstimatedObject {
    EstimatedObject {
        object: what,
        bytes: 0,
        rows: Some(0),
        note: Some(
            "not on the target yet (an earlier pending migration creates it): estimated 0".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throughput_matches_the_measured_capture() {
        // 72 MB in 0.60 s (benches/README.md, snapshot).
        assert_eq!(seconds_for(72_000_000), 0.6);
        assert_eq!(seconds_for(0), 0.0);
    }
}
