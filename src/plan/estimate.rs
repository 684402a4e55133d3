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

use crate::snapshot::capture::{self, Request};
use crate::snapshot::manifest::KeySource;

/// Capture throughput used to turn bytes into seconds: 120 MB/s. Derived from
/// benches/README.md (snapshot): the targeted capture of `orders.note`, 1M rows and 72 MB of
/// COPY output, took 0.60 s on the 2-core benchmark machine (72 MB / 0.60 s = 120 MB/s).
pub const CAPTURE_BYTES_PER_SECOND: u64 = 120_000_000;

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

/// What one irreversible migration captures: its requests, and the statements migsafe
/// cannot capture (each blocks the migration).
#[derive(Debug, Clone, Default)]
pub struct Captures {
    pub requests: Vec<Request>,
    pub failures: Vec<String>,
}

/// The capture requests of every destroying statement of `m`'s up script.
pub fn captures_of(m: &crate::classify::MigrationAnalysis) -> Captures {
    let mut out = Captures::default();
    for step in &m.up.steps {
        if !step.effects.iter().any(|e| e.effect.data.is_destructive()) {
            continue;
        }
        let text = m.up.text(step);
        match capture::requests_for(text) {
            Ok(reqs) if reqs.is_empty() => out.failures.push(format!(
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

    /// The estimate for `requests`, in the order they will be captured.
    pub fn estimate(&mut self, requests: &[Request]) -> Result<SnapshotEstimate, postgres::Error> {
        let mut objects = vec![];
        for r in requests {
            self.one(r, &mut objects)?;
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
        })
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
            match t.widths.get(c) {
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
        let cols: Vec<(String, u64)> = t.columns.iter().map(|c| (c.clone(), 1)).collect();
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
            Request::Table { table } => self.whole("table", table, None, out),
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
                    self.whole("rows of", n, None, out)?;
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
                self.whole("rows of", table, bound, out)
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

/// Bytes in a few characters: `512 B`, `1.2 kB`, `75.0 MB`, `3.10 GB`.
pub fn human_bytes(b: u64) -> String {
    match b {
        b if b >= 1_000_000_000 => format!("{:.2} GB", b as f64 / 1e9),
        b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        b if b >= 1_000 => format!("{:.1} kB", b as f64 / 1e3),
        b => format!("{b} B"),
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

    #[test]
    fn bytes_read_short() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1_234), "1.2 kB");
        assert_eq!(human_bytes(75_000_000), "75.0 MB");
        assert_eq!(human_bytes(3_100_000_000), "3.10 GB");
    }
}
