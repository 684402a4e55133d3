//! Synthetic rows for the round trip: a migration's down-path is only proven to keep data if
//! there is data. Every empty user table gets `rows_per_table` rows, in one
//! `INSERT … SELECT … FROM generate_series` per table (per partition for a partitioned table),
//! with values chosen from the catalog:
//!
//! - per type (integers, numeric(p,s), text/varchar(n), dates and times, uuid from md5, json,
//!   bytea, inet, enums through `enum_range`, domains through their base type, arrays,
//!   composites, ranges…); each column's values differ from its neighbours' so that swapped
//!   columns show in a digest;
//! - columns with a default, identity or generation are left to PostgreSQL;
//! - foreign key columns take the referenced table's existing rows (tables are seeded parents
//!   first);
//! - candidate rows come in three families (plain values with some NULLs; values built from
//!   the constants of the CHECK constraints and partition bounds; NULL wherever allowed) and
//!   are filtered in SQL by the table's CHECK constraints, its domains' checks and the
//!   partition's bound, and de-duplicated per unique index, before the first
//!   `rows_per_table` are inserted. The filters are the server's own deparsed expressions
//!   (`pg_get_expr`), evaluated over columns named like the table's.
//!
//! A table whose insert still fails is retried filling its defaulted columns too, then with a
//! single row; then it is reported in `skipped` with the server's reason. Nothing is random:
//! the same schema gets the same rows.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use postgres::types::Oid;

use super::digest::{is_excluded, quote_ident};

#[derive(Debug, Clone, Default)]
pub struct SeedOptions {
    /// Rows to insert into each table that has none yet (into each partition of a
    /// partitioned table).
    pub rows_per_table: usize,
    /// The user's own seed SQL (`--seed FILE`), run after the synthetic rows.
    pub seed_file: Option<PathBuf>,
    /// Texts of the statements that select rows of a table to change (see [`hints_of`]), by
    /// the table's name as the statements write it (folded, maybe schema-qualified).
    pub hints: HashMap<String, Vec<String>>,
}

/// The DELETE and UPDATE statements with a `WHERE` in the project's scripts, by the table they
/// change. Their constants are mixed into that table's synthetic rows, so that the round trip
/// meets rows they select (`UPDATE invoices … WHERE currency = 'DEM'` needs a `'DEM'`), and
/// the rows that reference them through foreign keys, which their FK actions then reach.
pub fn hints_of(analysis: &crate::classify::Analysis) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for m in &analysis.migrations {
        for script in std::iter::once(&m.up).chain(m.down.as_ref()) {
            for step in &script.steps {
                for e in &step.effects {
                    let table = match &e.op {
                        crate::sql::Op::Delete {
                            table,
                            has_where: true,
                        }
                        | crate::sql::Op::Update {
                            table,
                            has_where: true,
                            ..
                        } => table,
                        _ => continue,
                    };
                    let text = script.text(step).to_string();
                    let texts = out.entry(table.clone()).or_default();
                    if !texts.contains(&text) {
                        texts.push(text);
                    }
                }
            }
        }
    }
    out
}

/// What was seeded, and what could not be (a table whose constraints no synthetic row meets).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SeedSummary {
    /// `schema.table` → rows inserted.
    pub seeded: Vec<(String, u64)>,
    /// `schema.table` → why no rows could be inserted. For a partitioned table, a partition
    /// that got no rows is listed by its own name.
    pub skipped: Vec<(String, String)>,
    /// Tables left alone because they already had rows.
    pub had_rows: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Postgres(#[from] postgres::Error),
    #[error("{path}: {message}")]
    SeedFile { path: PathBuf, message: String },
}

type Result<T, E = postgres::Error> = std::result::Result<T, E>;

/// Inserts rows into every user table of the connected database, then runs the seed file.
pub fn seed(client: &mut postgres::Client, opts: &SeedOptions) -> Result<SeedSummary, SeedError> {
    let mut summary = SeedSummary::default();
    if opts.rows_per_table > 0 {
        let mut seeder = Seeder {
            client,
            rows: opts.rows_per_table,
            hints: &opts.hints,
            types: HashMap::new(),
            formats: HashMap::new(),
        };
        for t in seeder.tables_in_order()? {
            seeder.seed_table(&t, &mut summary)?;
        }
    }
    if let Some(path) = &opts.seed_file {
        run_seed_file(client, path)?;
    }
    Ok(summary)
}

fn run_seed_file(client: &mut postgres::Client, path: &Path) -> Result<(), SeedError> {
    let fail = |message: String| SeedError::SeedFile {
        path: path.to_path_buf(),
        message,
    };
    let sql = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    client
        .batch_execute(&sql)
        .map_err(|e| match e.as_db_error() {
            Some(db) => {
                let line = match db.position() {
                    Some(postgres::error::ErrorPosition::Original(pos)) => {
                        let before = sql.chars().take((*pos as usize).saturating_sub(1));
                        Some(1 + before.filter(|c| *c == '\n').count())
                    }
                    _ => None,
                };
                match line {
                    Some(l) => fail(format!("line {l}: {}", db.message())),
                    None => fail(db.message().to_string()),
                }
            }
            None => fail(e.to_string()),
        })
}

/// A table to seed: an ordinary table, or the root of a partition tree.
#[derive(Debug, Clone)]
struct Target {
    oid: Oid,
    schema: String,
    name: String,
    partitioned: bool,
}

impl Target {
    fn display(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
    fn sql(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

#[derive(Debug, Clone)]
struct Column {
    attnum: i16,
    name: String,
    typid: Oid,
    typmod: i32,
    /// `format_type` with the modifier: the column's declared type.
    format: String,
    not_null: bool,
    has_default: bool,
    /// A default that draws from a sequence: left to PostgreSQL even when filling defaults.
    serial: bool,
    /// Identity or generated: PostgreSQL's alone.
    computed: bool,
}

#[derive(Debug, Clone)]
struct ForeignKey {
    columns: Vec<String>,
    parent: String,
    parent_columns: Vec<String>,
    /// Rows in the parent with the whole key non-null, at the time the child is seeded.
    parent_rows: i64,
}

/// A partition to fill (or, for an ordinary table, the table itself).
#[derive(Debug, Clone)]
struct Leaf {
    display: String,
    /// The partition constraint, in terms of the columns.
    bound: Option<String>,
    /// The partition key columns of the leaf and its ancestors (what the bound reads).
    bound_columns: Vec<String>,
    /// The leaf's own CHECK constraints and the columns they read, when it is a partition.
    checks: Vec<(String, Vec<String>)>,
}

/// Type facts, cached per type oid.
#[derive(Debug, Clone)]
struct TypeInfo {
    typtype: String,
    category: String,
    elem: Oid,
    base: Oid,
    base_typmod: i32,
    not_null: bool,
    relid: Oid,
    name: String,
    in_catalog: bool,
    range_subtype: Option<Oid>,
    /// A domain's own CHECK expressions (`VALUE` for the value).
    checks: Vec<String>,
}

/// A column's type after following domains down to the base type.
#[derive(Debug, Clone)]
struct Resolved {
    base: Oid,
    typmod: i32,
    not_null: bool,
    checks: Vec<String>,
    /// `format_type(base, typmod)`
    format: String,
    /// `format_type(base, NULL)`: compared with the types of constants in expressions.
    format_plain: String,
    category: String,
    name: String,
    in_catalog: bool,
}

struct Seeder<'a> {
    client: &'a mut postgres::Client,
    rows: usize,
    hints: &'a HashMap<String, Vec<String>>,
    types: HashMap<Oid, TypeInfo>,
    formats: HashMap<(Oid, i32), String>,
}

/// Alias of the row number in the candidate rows.
const G: &str = "\"_migsafe_g\"";
/// Candidate families: plain values with some NULLs; constants from the constraints; those
/// constants again with NULL wherever allowed.
const FAMILIES: usize = 3;

impl Seeder<'_> {
    /// User tables (not partitions: their root stands for them), parents before the tables
    /// whose foreign keys reference them; cycles broken by name.
    fn tables_in_order(&mut self) -> Result<Vec<Target>> {
        let rows = self.client.query(
            "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind = 'p'
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
                AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
                AND NOT EXISTS (SELECT 1 FROM pg_depend d
                                 WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                   AND d.deptype = 'e')
              ORDER BY 2, 3",
            &[],
        )?;
        let targets: BTreeMap<Oid, Target> = rows
            .iter()
            .map(|r| Target {
                oid: r.get(0),
                schema: r.get(1),
                name: r.get(2),
                partitioned: r.get(3),
            })
            .filter(|t| !is_excluded(&t.schema, &t.name))
            .map(|t| (t.oid, t))
            .collect();
        // child → parents, both mapped to their partition roots.
        let mut parents: BTreeMap<Oid, BTreeSet<Oid>> = BTreeMap::new();
        for r in self.client.query(
            "SELECT coalesce(pg_partition_root(conrelid)::oid, conrelid),
                    coalesce(pg_partition_root(confrelid)::oid, confrelid)
               FROM pg_constraint WHERE contype = 'f' AND conparentid = 0",
            &[],
        )? {
            let (child, parent): (Oid, Oid) = (r.get(0), r.get(1));
            if child != parent && targets.contains_key(&child) && targets.contains_key(&parent) {
                parents.entry(child).or_default().insert(parent);
            }
        }
        let mut left: Vec<&Target> = targets.values().collect();
        left.sort_by_key(|t| (t.schema.clone(), t.name.clone()));
        let mut done: BTreeSet<Oid> = BTreeSet::new();
        let mut order = vec![];
        while !left.is_empty() {
            let ready = left
                .iter()
                .position(|t| {
                    parents
                        .get(&t.oid)
                        .is_none_or(|ps| ps.iter().all(|p| done.contains(p)))
                })
                .unwrap_or(0);
            let t = left.remove(ready);
            done.insert(t.oid);
            order.push(t.clone());
        }
        Ok(order)
    }

    fn seed_table(&mut self, t: &Target, summary: &mut SeedSummary) -> Result<()> {
        let only = if t.partitioned { "" } else { "ONLY " };
        let has_rows: bool = self
            .client
            .query_one(
                &format!("SELECT EXISTS (SELECT 1 FROM {only}{})", t.sql()),
                &[],
            )?
            .get(0);
        if has_rows {
            summary.had_rows.push(t.display());
            return Ok(());
        }
        let columns = self.columns(t.oid)?;
        let fks = self.foreign_keys(t.oid)?;
        for fk in &fks {
            let required = fk
                .columns
                .iter()
                .any(|c| columns.iter().any(|col| &col.name == c && col.not_null));
            if fk.parent_rows == 0 && required {
                summary.skipped.push((
                    t.display(),
                    format!(
                        "its NOT NULL foreign key ({}) references {}, which has no rows",
                        fk.columns.join(", "),
                        fk.parent
                    ),
                ));
                return Ok(());
            }
        }
        let checks = self.checks(t.oid)?;
        let uniques = self.uniques(t.oid)?;
        let leaves = if t.partitioned {
            self.leaves(t.oid)?
        } else {
            vec![Leaf {
                display: t.display(),
                bound: None,
                bound_columns: vec![],
                checks: vec![],
            }]
        };
        if leaves.is_empty() {
            summary
                .skipped
                .push((t.display(), "a partitioned table without partitions".into()));
            return Ok(());
        }
        let hinted: Vec<Constant> = self
            .hints
            .iter()
            .filter(|(name, _)| **name == t.name || **name == t.display())
            .flat_map(|(_, texts)| texts.iter().flat_map(|x| constants_in(x)))
            .collect();
        let mut total = 0;
        let mut leaf_skips = vec![];
        for (i, leaf) in leaves.iter().enumerate() {
            let plan = TablePlan {
                hinted: &hinted,
                target: t,
                columns: &columns,
                fks: &fks,
                checks: &checks,
                uniques: &uniques,
                leaf,
                first_g: (i * FAMILIES * self.family_size() + 1) as i64,
            };
            match self.fill(&plan)? {
                Ok(n) => total += n,
                Err(why) => leaf_skips.push((leaf.display.clone(), why)),
            }
        }
        if total > 0 {
            summary.seeded.push((t.display(), total));
            if t.partitioned {
                summary.skipped.extend(leaf_skips);
            }
        } else if t.partitioned {
            let why = leaf_skips
                .iter()
                .map(|(l, w)| format!("{l}: {w}"))
                .collect::<Vec<_>>()
                .join("; ");
            summary
                .skipped
                .push((t.display(), format!("no partition took rows ({why})")));
        } else if let Some((_, why)) = leaf_skips.pop() {
            summary.skipped.push((t.display(), why));
        }
        Ok(())
    }

    /// The attempts, each in its own transaction: first leaving defaulted columns to
    /// PostgreSQL, then filling them too (a constant default may break a unique index or a
    /// foreign key), then both again with a single row. `Ok(Err(reason))` when none inserted.
    fn fill(&mut self, plan: &TablePlan) -> Result<Result<u64, String>> {
        let mut first_error: Option<String> = None;
        for (fill_defaults, limit) in [(false, self.rows), (true, self.rows), (false, 1), (true, 1)]
        {
            let sql = self.insert_sql(plan, fill_defaults, limit)?;
            let mut tx = self.client.transaction()?;
            match tx.execute(&sql, &[]) {
                Ok(n) if n > 0 => {
                    tx.commit()?;
                    return Ok(Ok(n));
                }
                Ok(_) => tx.rollback()?,
                Err(e) => {
                    tx.rollback()?;
                    if first_error.is_none() {
                        first_error = Some(match e.as_db_error() {
                            Some(db) => db.message().to_string(),
                            None => e.to_string(),
                        });
                    }
                }
            }
        }
        Ok(Err(first_error.unwrap_or_else(|| {
            "no generated row satisfies its CHECK constraints, domain checks or partition bound"
                .into()
        })))
    }

    fn insert_sql(
        &mut self,
        plan: &TablePlan,
        fill_defaults: bool,
        limit: usize,
    ) -> Result<String> {
        let n = self.family_size() as i64;
        let lo = plan.first_g;
        let hi = lo + n * FAMILIES as i64 - 1;
        let g = format!("s.{G}");
        let family = format!("(({g} - {lo}) / {n})");

        let filled: Vec<&Column> = plan
            .columns
            .iter()
            .filter(|c| !c.computed && (!c.has_default || (fill_defaults && !c.serial)))
            .collect();
        let names: BTreeSet<&str> = filled.iter().map(|c| c.name.as_str()).collect();
        let reads_filled = |cols: &[String]| cols.iter().all(|c| names.contains(c.as_str()));

        // Constants of the constraints that read each column.
        let mut constants: BTreeMap<&str, Vec<Constant>> = BTreeMap::new();
        let table_checks = plan.checks.iter().chain(&plan.leaf.checks);
        for (expr, cols) in table_checks.clone() {
            for c in cols {
                constants.entry(c).or_default().extend(constants_in(expr));
            }
        }
        if let Some(bound) = &plan.leaf.bound {
            for c in &plan.leaf.bound_columns {
                constants.entry(c).or_default().extend(constants_in(bound));
            }
        }

        let mut ctes = vec![];
        let mut joins = String::new();
        let mut fk_value: HashMap<&str, String> = HashMap::new();
        for (i, fk) in plan.fks.iter().enumerate() {
            if !fk.columns.iter().all(|c| names.contains(c.as_str())) {
                continue;
            }
            let cte = format!("\"_migsafe_fk{i}\"");
            if fk.parent_rows > 0 {
                let cols: Vec<String> = fk
                    .parent_columns
                    .iter()
                    .map(|c| format!("p.{}", quote_ident(c)))
                    .collect();
                let values: Vec<String> = cols
                    .iter()
                    .enumerate()
                    .map(|(j, c)| format!("{c} AS \"_migsafe_v{j}\""))
                    .collect();
                ctes.push(format!(
                    "{cte} AS (SELECT {}, row_number() OVER (ORDER BY {}) AS \"_migsafe_rn\" \
                     FROM {} AS p WHERE {})",
                    values.join(", "),
                    cols.join(", "),
                    fk.parent,
                    cols.iter()
                        .map(|c| format!("{c} IS NOT NULL"))
                        .collect::<Vec<_>>()
                        .join(" AND ")
                ));
                // Offset by the key's index: two keys to one table take different rows.
                let _ = write!(
                    joins,
                    " LEFT JOIN {cte} ON {cte}.\"_migsafe_rn\" = (({g} + {i}) % {}) + 1",
                    fk.parent_rows
                );
                for (j, c) in fk.columns.iter().enumerate() {
                    fk_value
                        .entry(c.as_str())
                        .or_insert_with(|| format!("{cte}.\"_migsafe_v{j}\""));
                }
            } else {
                for c in &fk.columns {
                    fk_value.entry(c.as_str()).or_insert_with(|| "NULL".into());
                }
            }
        }

        let mut exprs = vec![];
        let mut filters = vec![];
        for c in &filled {
            let r = self.resolve(c.typid, c.typmod)?;
            let nullable = !c.not_null && !r.not_null;
            let k = c.attnum as i64;
            let cast = |e: &str| format!("CAST({e} AS {})", r.format);
            let plain = match fk_value.get(c.name.as_str()) {
                Some(v) => cast(v),
                None => match self.natural(r.base, r.typmod, &g, k, hi, 0)? {
                    Some(e) => e,
                    None if nullable => cast("NULL"),
                    // An unknown type: its text input is the last resort.
                    None => cast(&format!("('c{k}_' || {g})")),
                },
            };
            let pool = match fk_value.get(c.name.as_str()) {
                Some(_) => vec![],
                None => {
                    let mut found = constants.get(c.name.as_str()).cloned().unwrap_or_default();
                    for check in &r.checks {
                        found.extend(constants_in(check));
                    }
                    let mut own: Vec<&String> = table_checks
                        .clone()
                        .filter(|(_, cols)| cols.len() == 1 && cols[0] == c.name)
                        .map(|(e, _)| e)
                        .collect();
                    if let Some(bound) = &plan.leaf.bound
                        && plan.leaf.bound_columns == [c.name.clone()]
                    {
                        own.push(bound);
                    }
                    let candidates = pool(&r, &found);
                    self.passing(&c.name, &r, candidates, &own)?
                }
            };
            // One plain row in three takes a constant of a statement that selects rows of
            // this table: the first family is the one inserted when the checks pass.
            let hinted = match fk_value.get(c.name.as_str()) {
                Some(_) => vec![],
                None => {
                    let candidates = crate::verify::seed::pool(&r, plan.hinted);
                    let own: Vec<&String> = table_checks
                        .clone()
                        .filter(|(_, cols)| cols.len() == 1 && cols[0] == c.name)
                        .map(|(e, _)| e)
                        .collect();
                    self.passing(&c.name, &r, candidates, &own)?
                }
            };
            let plain = if hinted.is_empty() {
                plain
            } else {
                let mut e = format!(
                    "CASE WHEN ({g} + {k}) % 3 = 0 THEN CASE ({g} / 3 + {k}) % {}",
                    hinted.len()
                );
                for (i, v) in hinted.iter().enumerate() {
                    let _ = write!(e, " WHEN {i} THEN {}", cast(v));
                }
                let _ = write!(e, " END ELSE {plain} END");
                e
            };
            let with_nulls = if nullable {
                format!("CASE WHEN ({g} + {k}) % 4 = 0 THEN NULL ELSE {plain} END")
            } else {
                plain.clone()
            };
            let from_constants = if pool.is_empty() {
                plain.clone()
            } else {
                let mut e = format!("CASE ({g} + {k}) % {}", pool.len());
                for (i, v) in pool.iter().enumerate() {
                    let _ = write!(e, " WHEN {i} THEN {}", cast(v));
                }
                e.push_str(" END");
                e
            };
            // NULL passes CHECK constraints: the last family uses it wherever it may.
            let least = if nullable {
                cast("NULL")
            } else {
                from_constants.clone()
            };
            exprs.push(format!(
                "CASE {family} WHEN 0 THEN {with_nulls} WHEN 1 THEN {from_constants} \
                 ELSE {least} END AS {}",
                quote_ident(&c.name)
            ));
            for check in &r.checks {
                filters.push(format!(
                    "(SELECT ({check}) IS NOT FALSE FROM (SELECT c.{}) AS d(value))",
                    quote_ident(&c.name)
                ));
            }
        }
        for (expr, cols) in table_checks {
            if reads_filled(cols) {
                filters.push(format!("({expr}) IS NOT FALSE"));
            }
        }
        if let Some(bound) = &plan.leaf.bound
            && reads_filled(&plan.leaf.bound_columns)
        {
            filters.push(format!("({bound}) IS NOT FALSE"));
        }
        let mut dedup = vec![];
        for (i, (key, cols)) in plan.uniques.iter().enumerate() {
            if reads_filled(cols) {
                dedup.push((
                    format!("\"_migsafe_u{i}\""),
                    format!(
                        "row_number() OVER (PARTITION BY {} ORDER BY {G}) AS \"_migsafe_u{i}\"",
                        key.join(", ")
                    ),
                ));
            }
        }

        let mut sql = String::new();
        if !ctes.is_empty() {
            let _ = write!(sql, "WITH {} ", ctes.join(", "));
        }
        let target = plan.target.sql();
        if filled.is_empty() {
            // Every column is PostgreSQL's: a zero-column SELECT inserts defaults only.
            let _ = write!(
                sql,
                "INSERT INTO {target} SELECT FROM generate_series(1, {limit})"
            );
            return Ok(sql);
        }
        let list: Vec<String> = filled.iter().map(|c| quote_ident(&c.name)).collect();
        let outer: Vec<String> = filled
            .iter()
            .map(|c| format!("CAST({} AS {})", quote_ident(&c.name), c.format))
            .collect();
        let _ = write!(
            sql,
            "INSERT INTO {target} ({}) SELECT {} FROM (SELECT c.*{} FROM (SELECT {g} AS {G}, {} \
             FROM generate_series({lo}, {hi}) AS s({G}){joins}) AS c",
            list.join(", "),
            outer.join(", "),
            dedup
                .iter()
                .map(|(_, w)| format!(", {w}"))
                .collect::<String>(),
            exprs.join(", ")
        );
        if !filters.is_empty() {
            let _ = write!(sql, " WHERE {}", filters.join(" AND "));
        }
        sql.push_str(") AS c");
        if !dedup.is_empty() {
            let _ = write!(
                sql,
                " WHERE {}",
                dedup
                    .iter()
                    .map(|(a, _)| format!("{a} = 1"))
                    .collect::<Vec<_>>()
                    .join(" AND ")
            );
        }
        let _ = write!(sql, " ORDER BY {G} LIMIT {limit}");
        Ok(sql)
    }

    /// Candidates per family: several per row wanted, since filters drop some.
    fn family_size(&self) -> usize {
        4 * self.rows
    }

    /// Keeps the pool values that pass the checks reading only this column (table checks
    /// and domain checks), evaluated once here rather than left to chance per row. If the
    /// checks cannot be evaluated apart from the table, the pool stays as it is.
    fn passing(
        &mut self,
        column: &str,
        r: &Resolved,
        pool: Vec<String>,
        checks: &[&String],
    ) -> Result<Vec<String>> {
        if pool.is_empty() || (checks.is_empty() && r.checks.is_empty()) {
            return Ok(pool);
        }
        let col = quote_ident(column);
        let values: Vec<String> = pool
            .iter()
            .enumerate()
            .map(|(i, v)| format!("({i}, CAST({v} AS {}))", r.format))
            .collect();
        let mut conds: Vec<String> = checks
            .iter()
            .map(|c| format!("({c}) IS NOT FALSE"))
            .collect();
        for c in &r.checks {
            conds.push(format!(
                "(SELECT ({c}) IS NOT FALSE FROM (SELECT d.{col}) AS x(value))"
            ));
        }
        let sql = format!(
            "SELECT \"_migsafe_i\" FROM (VALUES {}) AS d(\"_migsafe_i\", {col}) WHERE {}",
            values.join(", "),
            conds.join(" AND ")
        );
        Ok(match self.client.query(&sql, &[]) {
            Ok(rows) => rows
                .iter()
                .map(|row| pool[row.get::<_, i32>(0) as usize].clone())
                .collect(),
            Err(_) => pool,
        })
    }

    fn columns(&mut self, table: Oid) -> Result<Vec<Column>> {
        Ok(self
            .client
            .query(
                "SELECT a.attnum, a.attname::text, a.atttypid, a.atttypmod,
                        format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef,
                        coalesce(pg_get_expr(d.adbin, d.adrelid), '') LIKE '%nextval(%',
                        a.attidentity <> '' OR a.attgenerated <> ''
                   FROM pg_attribute a
                   LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                  WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
                  ORDER BY a.attnum",
                &[&table],
            )?
            .iter()
            .map(|r| Column {
                attnum: r.get(0),
                name: r.get(1),
                typid: r.get(2),
                typmod: r.get(3),
                format: r.get(4),
                not_null: r.get(5),
                has_default: r.get(6),
                serial: r.get(7),
                computed: r.get(8),
            })
            .collect())
    }

    fn foreign_keys(&mut self, table: Oid) -> Result<Vec<ForeignKey>> {
        let rows = self.client.query(
            "SELECT quote_ident(rn.nspname) || '.' || quote_ident(r.relname),
                    ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(n, o)
                            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
                           ORDER BY k.o),
                    ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(n, o)
                            JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n
                           ORDER BY k.o)
               FROM pg_constraint c JOIN pg_class r ON r.oid = c.confrelid
               JOIN pg_namespace rn ON rn.oid = r.relnamespace
              WHERE c.conrelid = $1 AND c.contype = 'f' AND c.conparentid = 0
              ORDER BY c.conname",
            &[&table],
        )?;
        let mut out = vec![];
        for r in rows {
            let parent: String = r.get(0);
            let parent_columns: Vec<String> = r.get(2);
            let not_null = parent_columns
                .iter()
                .map(|c| format!("{} IS NOT NULL", quote_ident(c)))
                .collect::<Vec<_>>()
                .join(" AND ");
            let parent_rows: i64 = self
                .client
                .query_one(
                    &format!("SELECT count(*) FROM {parent} WHERE {not_null}"),
                    &[],
                )?
                .get(0);
            out.push(ForeignKey {
                columns: r.get(1),
                parent,
                parent_columns,
                parent_rows,
            });
        }
        Ok(out)
    }

    /// CHECK constraints: the expression and the columns it reads.
    fn checks(&mut self, table: Oid) -> Result<Vec<(String, Vec<String>)>> {
        Ok(self
            .client
            .query(
                "SELECT pg_get_expr(c.conbin, c.conrelid),
                        ARRAY(SELECT a.attname::text FROM pg_attribute a
                               WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey))
                   FROM pg_constraint c WHERE c.conrelid = $1 AND c.contype = 'c'
                  ORDER BY c.conname",
                &[&table],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    /// Unique indexes: each key column's text (a column name or an expression) and every
    /// column the index reads (key, expressions and predicate).
    fn uniques(&mut self, table: Oid) -> Result<Vec<(Vec<String>, Vec<String>)>> {
        Ok(self
            .client
            .query(
                "SELECT ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
                                FROM generate_series(1, i.indnkeyatts::int) AS k ORDER BY k),
                        ARRAY(SELECT DISTINCT a.attname::text FROM pg_attribute a
                               WHERE a.attrelid = i.indrelid
                                 AND (a.attnum = ANY (i.indkey::int2[])
                                      OR a.attnum IN (SELECT d.refobjsubid FROM pg_depend d
                                                       WHERE d.classid = 'pg_class'::regclass
                                                         AND d.objid = i.indexrelid
                                                         AND d.refobjid = i.indrelid)))
                   FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                  WHERE i.indrelid = $1 AND i.indisunique
                  ORDER BY ic.relname",
                &[&table],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    /// The leaf partitions of a partitioned table, with their bounds and own checks.
    fn leaves(&mut self, root: Oid) -> Result<Vec<Leaf>> {
        let rows = self.client.query(
            "SELECT c.oid, n.nspname || '.' || c.relname, pg_get_partition_constraintdef(c.oid),
                    ARRAY(SELECT DISTINCT a.attname::text
                            FROM pg_partition_ancestors(c.oid) AS anc
                            JOIN pg_partitioned_table pt ON pt.partrelid = anc.relid
                            JOIN pg_attribute a ON a.attrelid = pt.partrelid
                                               AND a.attnum = ANY (pt.partattrs::int2[]))
               FROM pg_partition_tree($1::oid) t JOIN pg_class c ON c.oid = t.relid
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE t.isleaf AND c.relkind = 'r'
              ORDER BY n.nspname, c.relname",
            &[&root],
        )?;
        let mut out = vec![];
        for r in rows {
            let oid: Oid = r.get(0);
            out.push(Leaf {
                display: r.get(1),
                bound: r.get(2),
                bound_columns: r.get(3),
                checks: self.checks(oid)?,
            });
        }
        Ok(out)
    }

    fn info(&mut self, oid: Oid) -> Result<TypeInfo> {
        if let Some(t) = self.types.get(&oid) {
            return Ok(t.clone());
        }
        let r = self.client.query_one(
            "SELECT t.typtype::text, t.typcategory::text, t.typelem, t.typbasetype, t.typtypmod,
                    t.typnotnull, t.typrelid, t.typname::text,
                    t.typnamespace = 'pg_catalog'::regnamespace, r.rngsubtype,
                    ARRAY(SELECT pg_get_expr(c.conbin, 0) FROM pg_constraint c
                           WHERE c.contypid = t.oid AND c.contype = 'c' ORDER BY c.conname)
               FROM pg_type t LEFT JOIN pg_range r ON r.rngtypid = t.oid WHERE t.oid = $1",
            &[&oid],
        )?;
        let t = TypeInfo {
            typtype: r.get(0),
            category: r.get(1),
            elem: r.get(2),
            base: r.get(3),
            base_typmod: r.get(4),
            not_null: r.get(5),
            relid: r.get(6),
            name: r.get(7),
            in_catalog: r.get(8),
            range_subtype: r.get(9),
            checks: r.get(10),
        };
        self.types.insert(oid, t.clone());
        Ok(t)
    }

    fn format(&mut self, oid: Oid, typmod: i32) -> Result<String> {
        if let Some(f) = self.formats.get(&(oid, typmod)) {
            return Ok(f.clone());
        }
        let typmod_arg = (typmod >= 0).then_some(typmod);
        let f: String = self
            .client
            .query_one("SELECT format_type($1, $2)", &[&oid, &typmod_arg])?
            .get(0);
        self.formats.insert((oid, typmod), f.clone());
        Ok(f)
    }

    /// Follows domains down to their base type, collecting their NOT NULLs and checks.
    fn resolve(&mut self, mut oid: Oid, mut typmod: i32) -> Result<Resolved> {
        let mut not_null = false;
        let mut checks = vec![];
        loop {
            let t = self.info(oid)?;
            if t.typtype != "d" {
                return Ok(Resolved {
                    base: oid,
                    typmod,
                    not_null,
                    checks,
                    format: self.format(oid, typmod)?,
                    format_plain: self.format(oid, -1)?,
                    category: t.category,
                    name: t.name,
                    in_catalog: t.in_catalog,
                });
            }
            not_null |= t.not_null;
            checks.extend(t.checks);
            oid = t.base;
            typmod = t.base_typmod;
        }
    }

    /// A value of type `oid` for row `g`, distinct per row where the type allows (up to row
    /// `max_g`) and shifted per column `k`; `None` for a type migsafe cannot build.
    fn natural(
        &mut self,
        oid: Oid,
        typmod: i32,
        g: &str,
        k: i64,
        max_g: i64,
        depth: u8,
    ) -> Result<Option<String>> {
        if depth > 3 {
            return Ok(None);
        }
        let t = self.info(oid)?;
        let fmt = self.format(oid, typmod)?;
        let typed = |e: String| Some(format!("CAST({e} AS {fmt})"));
        if t.typtype == "d" {
            let inner = self.natural(t.base, t.base_typmod, g, k, max_g, depth + 1)?;
            return Ok(inner.and_then(typed));
        }
        let off = 1000 * k;
        let n = format!("({g} + {off})");
        let name = if t.in_catalog { t.name.as_str() } else { "" };
        let e = match (name, t.typtype.as_str()) {
            ("int2", _) => format!("({n} % 32767)"),
            ("int4" | "int8" | "oid", _) => n,
            ("numeric", _) => numeric(g, &n, typmod, max_g, off),
            ("float4" | "float8", _) => format!("({n} + 0.5)"),
            ("money", _) => format!("CAST({n} + 0.25 AS numeric)"),
            ("bool", _) => format!("(({g} + {k}) % 2 = 0)"),
            ("text" | "varchar" | "bpchar" | "name" | "char", _) => {
                text(g, k, string_limit(name, typmod), max_g)
            }
            ("date", _) => format!("(DATE '2000-01-01' + {n})"),
            ("timestamp", _) => {
                format!(
                    "(TIMESTAMP '2000-01-01 00:00:00' + {n} * INTERVAL '1 hour 1 minute 1 second')"
                )
            }
            ("timestamptz", _) => format!(
                "(TIMESTAMPTZ '2000-01-01 00:00:00+00' + {n} * INTERVAL '1 hour 1 minute 1 second')"
            ),
            ("time", _) => format!("(TIME '00:00:00' + {n} * INTERVAL '61 seconds')"),
            ("timetz", _) => format!("(TIMETZ '00:00:00+00' + {n} * INTERVAL '61 seconds')"),
            ("interval", _) => format!("({n} * INTERVAL '1 minute 1 second')"),
            ("uuid", _) => format!("CAST(md5('c{k}:' || {g}) AS uuid)"),
            ("json" | "jsonb", _) => format!("json_build_object('c', {k}, 'n', {g})"),
            ("bytea", _) => format!("decode(md5('c{k}:' || {g}), 'hex')"),
            ("inet" | "cidr", _) => format!(
                "('10.' || ({k} % 256) || '.' || (({g} / 256) % 256) || '.' || ({g} % 256) || '/32')"
            ),
            ("macaddr", _) => format!("lpad(to_hex({g} + 65536 * {k}), 12, '0')"),
            ("macaddr8", _) => format!("lpad(to_hex({g} + 65536 * {k}), 16, '0')"),
            ("bit", _) => format!("CAST({n} AS bit({}))", typmod.max(1)),
            ("varbit", _) => format!("CAST(CAST({n} AS bit({})) AS varbit)", typmod.clamp(1, 32)),
            ("xml", _) => format!("('<v c=\"{k}\">' || {g} || '</v>')"),
            ("tsvector" | "tsquery", _) => format!("('w{k}x' || {g})"),
            ("point", _) => format!("point({g}, {k})"),
            ("box", _) => format!("box(point({g}, {k}), point({g} + 1, {k} + 1))"),
            ("lseg", _) => format!("lseg(point({g}, {k}), point({g} + 1, {k} + 1))"),
            ("line", _) => format!("line(point({g}, {k}), point({g} + 1, {k} + 2))"),
            ("path", _) => format!("path(polygon(box(point({g}, {k}), point({g} + 1, {k} + 1))))"),
            ("polygon", _) => format!("polygon(box(point({g}, {k}), point({g} + 1, {k} + 1)))"),
            ("circle", _) => format!("circle(point({g}, {k}), 1)"),
            ("pg_lsn", _) => format!("('0/' || to_hex({n}))"),
            (_, "e") => {
                let all = format!("enum_range(CAST(NULL AS {fmt}))");
                format!("({all})[1 + (({g} + {k}) % array_length({all}, 1))]")
            }
            (_, "r") => {
                let Some(sub) = t.range_subtype else {
                    return Ok(None);
                };
                let a = self.natural(sub, -1, g, k, max_g, depth + 1)?;
                let b = self.natural(sub, -1, &format!("({g} + 1)"), k, max_g + 1, depth + 1)?;
                match (a, b) {
                    // The range type's constructor has its name; its bounds must be ordered.
                    (Some(a), Some(b)) => format!("{fmt}(LEAST({a}, {b}), GREATEST({a}, {b}))"),
                    _ => return Ok(None),
                }
            }
            (_, "m") => "'{}'".to_string(),
            (_, "c") => {
                let fields = self.client.query(
                    "SELECT atttypid, atttypmod FROM pg_attribute
                      WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                    &[&t.relid],
                )?;
                let mut parts = vec![];
                for (j, f) in fields.iter().enumerate() {
                    let (fo, fm): (Oid, i32) = (f.get(0), f.get(1));
                    let v = self.natural(fo, fm, g, k + j as i64, max_g, depth + 1)?;
                    parts.push(match v {
                        Some(v) => v,
                        None => format!("CAST(NULL AS {})", self.format(fo, fm)?),
                    });
                }
                format!("ROW({})", parts.join(", "))
            }
            _ if t.category == "A" && t.elem != 0 => {
                // The column's modifier applies to the elements (varchar(10)[]).
                let a = self.natural(t.elem, typmod, g, k, max_g, depth + 1)?;
                let b = self.natural(
                    t.elem,
                    typmod,
                    &format!("({g} + 1)"),
                    k,
                    max_g + 1,
                    depth + 1,
                )?;
                match (a, b) {
                    (Some(a), Some(b)) => format!("ARRAY[{a}, {b}]"),
                    _ => return Ok(None),
                }
            }
            // Extension types of a known category (citext is a string, for example).
            _ if t.category == "S" => text(g, k, None, max_g),
            _ if t.category == "N" => n,
            _ if t.category == "B" => format!("(({g} + {k}) % 2 = 0)"),
            _ => return Ok(None),
        };
        Ok(typed(e))
    }
}

struct TablePlan<'a> {
    /// Constants of the statements that select rows of this table ([`hints_of`]).
    hinted: &'a [Constant],
    target: &'a Target,
    columns: &'a [Column],
    fks: &'a [ForeignKey],
    checks: &'a [(String, Vec<String>)],
    uniques: &'a [(Vec<String>, Vec<String>)],
    leaf: &'a Leaf,
    /// The first row number of this leaf's candidates: leaves do not share values.
    first_g: i64,
}

fn digits(n: i64) -> i64 {
    n.max(1).to_string().len() as i64
}

/// The declared length of a string type, if any.
fn string_limit(name: &str, typmod: i32) -> Option<i64> {
    match name {
        "varchar" | "bpchar" if typmod >= 4 => Some(i64::from(typmod - 4)),
        "bpchar" => Some(1),
        "char" => Some(1),
        "name" => Some(63),
        _ => None,
    }
}

/// `c<k>_<g>` when it fits, else the row number alone (still distinct), else its last digits.
fn text(g: &str, k: i64, limit: Option<i64>, max_g: i64) -> String {
    let full = format!("('c{k}_' || {g})");
    match limit {
        None => full,
        Some(n) if n >= 2 + digits(k) + digits(max_g) => full,
        Some(n) if n >= digits(max_g) => format!("lpad(CAST({g} AS text), {n}, '0')"),
        Some(n) => format!("right(CAST({g} AS text), {})", n.max(1)),
    }
}

/// A number that fits numeric(p,s): distinct when the integer digits allow, else a fraction
/// (distinct when the scale allows), else a remainder.
fn numeric(g: &str, n: &str, typmod: i32, max_g: i64, off: i64) -> String {
    if typmod < 4 {
        return format!("({n} + 0.25)");
    }
    let p = i64::from(((typmod - 4) >> 16) & 0xffff);
    let mut s = i64::from((typmod - 4) & 0x7ff);
    if s > 1000 {
        s -= 2048; // negative scales (PostgreSQL 15+) are stored in 11 bits
    }
    let int_digits = p - s;
    if int_digits > digits(max_g + off) {
        format!("({n} + 0.25)")
    } else if int_digits >= digits(max_g) {
        format!("({g})")
    } else if s >= digits(max_g) && int_digits >= 0 {
        format!("(CAST({g} AS numeric) / 1e{s})")
    } else if int_digits > 0 {
        format!("({g} % 1e{int_digits})")
    } else {
        "0".into()
    }
}

/// A constant found in a constraint's expression.
#[derive(Debug, Clone, PartialEq)]
enum Constant {
    Number(String),
    /// A string literal and the type it was cast to (`'a'::text`), if any.
    Text(String, Option<String>),
}

const NUMBER_TYPES: &[&str] = &[
    "integer",
    "bigint",
    "smallint",
    "numeric",
    "real",
    "double precision",
];
const STRING_TYPES: &[&str] = &["text", "character varying", "character", "name", "bpchar"];

/// The literals of a deparsed expression: `'…'` (with its `::type`, if any) and bare numbers.
/// Quoted identifiers are skipped.
fn constants_in(expr: &str) -> Vec<Constant> {
    let b = expr.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() {
                    if b[i] == b'"' {
                        if b.get(i + 1) == Some(&b'"') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'\'' => {
                let escaped = i > 0 && (b[i - 1] == b'E' || b[i - 1] == b'e');
                let mut s = Vec::new();
                i += 1;
                while i < b.len() {
                    match b[i] {
                        b'\'' if b.get(i + 1) == Some(&b'\'') => {
                            s.push(b'\'');
                            i += 2;
                        }
                        b'\'' => break,
                        b'\\' if escaped && i + 1 < b.len() => {
                            s.push(b[i + 1]);
                            i += 2;
                        }
                        c => {
                            s.push(c);
                            i += 1;
                        }
                    }
                }
                i += 1;
                let text = String::from_utf8_lossy(&s).into_owned();
                let ty = type_after(expr, &mut i);
                match ty {
                    Some(t) if NUMBER_TYPES.contains(&t.as_str()) => {
                        if text.trim().parse::<f64>().is_ok() {
                            out.push(Constant::Number(text.trim().to_string()));
                        }
                    }
                    Some(t) if t.ends_with("[]") => {}
                    ty => out.push(Constant::Text(text, ty)),
                }
            }
            c if c.is_ascii_digit()
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let start = i;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                    i += 1;
                }
                if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                    let save = i;
                    i += 1;
                    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
                        i += 1;
                    }
                    if i < b.len() && b[i].is_ascii_digit() {
                        while i < b.len() && b[i].is_ascii_digit() {
                            i += 1;
                        }
                    } else {
                        i = save;
                    }
                }
                let num = &expr[start..i];
                if num.parse::<f64>().is_ok() {
                    out.push(Constant::Number(num.to_string()));
                }
            }
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// The type name of a `::type` cast at `*i`, moving past it.
fn type_after(expr: &str, i: &mut usize) -> Option<String> {
    let rest = &expr[*i..];
    let rest = rest.strip_prefix("::")?;
    let mut len = 0;
    let bytes = rest.as_bytes();
    let mut quoted = false;
    while len < bytes.len() {
        let c = bytes[len];
        if c == b'"' {
            quoted = !quoted;
        } else if !(quoted || c.is_ascii_alphanumeric() || c == b'_' || c == b'.') {
            break;
        }
        len += 1;
    }
    let mut name = rest[..len].to_string();
    for (word, suffixes) in [
        ("timestamp", &[" without time zone", " with time zone"][..]),
        ("time", &[" without time zone", " with time zone"][..]),
        ("character", &[" varying"][..]),
        ("bit", &[" varying"][..]),
        ("double", &[" precision"][..]),
    ] {
        if name == word
            && let Some(s) = suffixes.iter().find(|s| rest[len..].starts_with(**s))
        {
            name.push_str(s);
            len += s.len();
        }
    }
    if rest[len..].starts_with("[]") {
        name.push_str("[]");
        len += 2;
    }
    *i += 2 + len;
    Some(name)
}

/// Candidate values for a column from the constants of the constraints that read it: each
/// constant and its neighbours, when the constant's type fits the column's.
fn pool(r: &Resolved, constants: &[Constant]) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    let mut add = |v: String| {
        if !out.contains(&v) {
            out.push(v);
        }
    };
    let int_range = match (r.in_catalog, r.name.as_str()) {
        (true, "int2") => Some((i16::MIN as i128, i16::MAX as i128)),
        (true, "int4") => Some((i32::MIN as i128, i32::MAX as i128)),
        (true, "int8") => Some((i64::MIN as i128, i64::MAX as i128)),
        _ => None,
    };
    // numeric(p,s) holds values below 10^(p-s).
    let numeric_limit = (r.in_catalog && r.name == "numeric" && r.typmod >= 4).then(|| {
        let p = ((r.typmod - 4) >> 16) & 0xffff;
        let s = (r.typmod - 4) & 0x7ff;
        10f64.powi(p - s.min(p))
    });
    for c in constants {
        match c {
            Constant::Number(num) if r.category == "N" => {
                let Ok(v) = num.parse::<f64>() else { continue };
                let candidates = [v, v + 1.0, v - 1.0];
                for x in candidates {
                    if let Some((lo, hi)) = int_range {
                        let x = x.round() as i128;
                        if x >= lo && x <= hi {
                            add(format!("{x}"));
                        }
                    } else if numeric_limit.is_none_or(|l| x.abs() < l) {
                        add(if x.fract() == 0.0 {
                            format!("{}", x as i128)
                        } else {
                            format!("{x}")
                        });
                    }
                }
            }
            Constant::Text(s, ty) => {
                let fits = match ty {
                    Some(t) => {
                        *t == r.format_plain
                            || (STRING_TYPES.contains(&t.as_str()) && r.category == "S")
                    }
                    None => r.category == "S",
                };
                if !fits {
                    continue;
                }
                let lit = literal(s);
                add(lit.clone());
                if r.category == "D" {
                    let step = if r.name.starts_with("time") && !r.name.starts_with("timestamp") {
                        "1 minute"
                    } else {
                        "1 day"
                    };
                    let typed = format!("CAST({lit} AS {})", r.format);
                    add(format!("({typed} + INTERVAL '{step}')"));
                    add(format!("({typed} - INTERVAL '{step}')"));
                }
            }
            Constant::Number(_) => {}
        }
    }
    out
}

/// A string literal that reads the same whatever `standard_conforming_strings` says.
fn literal(s: &str) -> String {
    format!("E'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::testing;
    use crate::verify::digest::digest;

    fn opts(rows: usize) -> SeedOptions {
        SeedOptions {
            hints: Default::default(),
            rows_per_table: rows,
            seed_file: None,
        }
    }

    fn db(prefix: &str, sql: &str) -> postgres::Client {
        let (_, mut c) = testing::fresh_database(prefix);
        c.batch_execute(sql).unwrap();
        c
    }

    fn count(c: &mut postgres::Client, sql: &str) -> i64 {
        c.query_one(sql, &[]).unwrap().get(0)
    }

    #[test]
    fn constants_are_read_from_deparsed_expressions() {
        let got = constants_in(
            "((status = ANY (ARRAY['a''b'::text, 'new'::text])) AND (\"x 1\" > (0)::numeric) \
             AND (n <= 10) AND (d >= '2024-01-01'::date) AND (t < '2024-01-01 00:00:00'::timestamp without time zone) \
             AND (v > '-5'::integer) AND (col2 = 3.5e2))",
        );
        assert_eq!(
            got,
            [
                Constant::Text("a'b".into(), Some("text".into())),
                Constant::Text("new".into(), Some("text".into())),
                Constant::Number("0".into()),
                Constant::Number("10".into()),
                Constant::Text("2024-01-01".into(), Some("date".into())),
                Constant::Text(
                    "2024-01-01 00:00:00".into(),
                    Some("timestamp without time zone".into())
                ),
                Constant::Number("-5".into()),
                Constant::Number("3.5e2".into()),
            ]
        );
    }

    #[test]
    fn foreign_keys_reference_existing_parents_and_unique_columns_are_distinct() {
        let mut c = db(
            "seed_fk",
            "CREATE SCHEMA app;
             CREATE TABLE app.orgs (id serial PRIMARY KEY, slug varchar(6) UNIQUE NOT NULL,
                                    name text NOT NULL);
             CREATE TABLE users (id bigint PRIMARY KEY, org_id int NOT NULL REFERENCES app.orgs,
                                 email text NOT NULL, nick text, UNIQUE (org_id, email));
             CREATE UNIQUE INDEX users_lower_email ON users (lower(email));
             -- created before its parent, and referencing two tables
             CREATE TABLE \"Order Lines\" (id int PRIMARY KEY, \"user\" bigint REFERENCES users,
                                          org int NOT NULL REFERENCES app.orgs (id),
                                          note text);
             CREATE TABLE profile (user_id bigint PRIMARY KEY REFERENCES users, bio text);
             CREATE TABLE tree (id int PRIMARY KEY, parent int REFERENCES tree);",
        );
        let s = seed(&mut c, &opts(20)).unwrap();
        assert!(s.skipped.is_empty(), "{:?}", s.skipped);
        let seeded: BTreeMap<_, _> = s.seeded.iter().cloned().collect();
        assert_eq!(seeded["app.orgs"], 20);
        assert_eq!(seeded["public.users"], 20);
        assert_eq!(seeded["public.Order Lines"], 20);
        // One profile per user at most: the primary key is the foreign key.
        assert_eq!(seeded["public.profile"], 20);
        assert_eq!(seeded["public.tree"], 20);
        assert_eq!(
            count(&mut c, "SELECT count(DISTINCT slug) FROM app.orgs"),
            20
        );
        assert_eq!(
            count(
                &mut c,
                "SELECT count(*) FROM \"Order Lines\" WHERE \"user\" IS NOT NULL"
            ),
            15,
            "a mix of NULL and values in a nullable foreign key"
        );
        assert_eq!(
            count(&mut c, "SELECT count(DISTINCT org_id) FROM users"),
            20,
            "rows spread over the parents"
        );
        assert_eq!(
            count(&mut c, "SELECT count(*) FROM users WHERE nick IS NULL"),
            5
        );
    }

    #[test]
    fn types_of_all_kinds() {
        let mut c = db(
            "seed_types",
            "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
             CREATE DOMAIN positive AS int CHECK (VALUE > 0) NOT NULL;
             CREATE DOMAIN email AS varchar(40) CHECK (VALUE LIKE '%@%');
             CREATE TYPE pair AS (a int, b text);
             CREATE TABLE every (
               i2 smallint NOT NULL, i4 int NOT NULL, i8 bigint NOT NULL,
               n numeric(5,2) NOT NULL, n0 numeric NOT NULL, tiny numeric(2,2) NOT NULL,
               f4 real NOT NULL, f8 double precision NOT NULL, m money NOT NULL,
               b bool NOT NULL, t text NOT NULL, v3 varchar(3) NOT NULL UNIQUE,
               c1 char NOT NULL, c5 char(5) NOT NULL, nm name NOT NULL,
               d date NOT NULL, ts timestamp NOT NULL, tstz timestamptz NOT NULL,
               tm time NOT NULL, tmtz timetz NOT NULL, iv interval NOT NULL,
               u uuid NOT NULL UNIQUE, j json NOT NULL, jb jsonb NOT NULL, by bytea NOT NULL,
               ip inet NOT NULL, net cidr NOT NULL, mac macaddr NOT NULL, mac8 macaddr8 NOT NULL,
               bt bit(3) NOT NULL, vb varbit(5) NOT NULL, x xml NOT NULL,
               tv tsvector NOT NULL, tq tsquery NOT NULL,
               pt point NOT NULL, bx box NOT NULL, ls lseg NOT NULL, ln line NOT NULL,
               pa path NOT NULL, pg polygon NOT NULL, ci circle NOT NULL, lsn pg_lsn NOT NULL,
               e mood NOT NULL, dp positive, de email NOT NULL,
               ai int[] NOT NULL, at varchar(4)[] NOT NULL, ae mood[] NOT NULL,
               r int4range NOT NULL, dr daterange NOT NULL, tr tstzrange NOT NULL,
               nr numrange NOT NULL, mr int4multirange NOT NULL,
               cp pair NOT NULL, o oid NOT NULL
             );",
        );
        let s = seed(&mut c, &opts(10)).unwrap();
        assert_eq!(
            s.seeded,
            [("public.every".to_string(), 10)],
            "{:?}",
            s.skipped
        );
        let row = c
            .query_one(
                "SELECT count(DISTINCT u), count(DISTINCT v3), count(DISTINCT e),
                        min(dp), bool_and(de LIKE '%@%'), count(DISTINCT jb)
                   FROM every",
                &[],
            )
            .unwrap();
        assert_eq!(row.get::<_, i64>(0), 10);
        assert_eq!(row.get::<_, i64>(1), 10);
        assert_eq!(row.get::<_, i64>(2), 3);
        assert!(row.get::<_, i32>(3) > 0);
        assert!(row.get::<_, bool>(4));
        assert_eq!(row.get::<_, i64>(5), 10);
        let sample: String = c
            .query_one(
                "SELECT concat_ws(' | ', u, e, jb, ai, cp, r, de) FROM every ORDER BY i4 LIMIT 1",
                &[],
            )
            .unwrap()
            .get(0);
        insta::assert_snapshot!(sample, @r#"81f7ecb1-a710-fe48-2716-fc0767e16049 | sad | {"c": 24, "n": 41} | {46041,46042} | (54041,c55_41) | [49041,49042) | %@%"#);
    }

    #[test]
    fn defaults_identity_and_generated_are_left_to_postgres() {
        let mut c = db(
            "seed_defaults",
            "CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                             n int NOT NULL, twice int GENERATED ALWAYS AS (n * 2) STORED,
                             status text NOT NULL DEFAULT 'new',
                             created timestamptz NOT NULL DEFAULT now());
             CREATE TABLE only_defaults (id serial PRIMARY KEY, at date DEFAULT '2020-01-01');",
        );
        let s = seed(&mut c, &opts(5)).unwrap();
        assert!(s.skipped.is_empty(), "{:?}", s.skipped);
        assert_eq!(
            count(
                &mut c,
                "SELECT count(*) FROM t WHERE status = 'new' AND twice = n * 2"
            ),
            5
        );
        assert_eq!(count(&mut c, "SELECT max(id)::int8 FROM only_defaults"), 5);
    }

    #[test]
    fn check_constraints_are_met_or_the_table_is_skipped_with_the_reason() {
        let mut c = db(
            "seed_checks",
            "CREATE TABLE ranged (id int PRIMARY KEY, rating int NOT NULL CHECK (rating BETWEEN 1 AND 5),
                                  price numeric(8,2) NOT NULL CHECK (price > 1000),
                                  status text NOT NULL CHECK (status IN ('open', 'closed')),
                                  starts date NOT NULL, ends date,
                                  CHECK (ends > starts), CHECK (ends < '2001-01-01'));
             -- A unique column the default values break: filled on retry.
             CREATE TABLE slugs (id int PRIMARY KEY, slug text NOT NULL UNIQUE DEFAULT 'x');
             -- Nothing can satisfy this.
             CREATE TABLE impossible (id int PRIMARY KEY, v int NOT NULL CHECK (v <> v));
             -- Nor this: the trigger refuses every row.
             CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN RAISE EXCEPTION 'rows refused by trigger'; END $$;
             CREATE TABLE guarded (id int PRIMARY KEY);
             CREATE TRIGGER refuse BEFORE INSERT ON guarded FOR EACH ROW EXECUTE FUNCTION refuse();",
        );
        let s = seed(&mut c, &opts(8)).unwrap();
        let seeded: BTreeMap<_, _> = s.seeded.iter().cloned().collect();
        assert_eq!(seeded["public.ranged"], 8);
        assert_eq!(seeded["public.slugs"], 8);
        assert_eq!(
            count(
                &mut c,
                "SELECT count(*) FROM ranged WHERE rating BETWEEN 1 AND 5 AND price > 1000 AND status IN ('open', 'closed')"
            ),
            8
        );
        insta::assert_snapshot!(
            s.skipped.iter().map(|(t, w)| format!("{t}: {w}")).collect::<Vec<_>>().join("\n"),
            @r"
        public.guarded: rows refused by trigger
        public.impossible: no generated row satisfies its CHECK constraints, domain checks or partition bound
        "
        );
    }

    #[test]
    fn partitioned_tables_get_rows_in_every_partition() {
        let mut c = db(
            "seed_parts",
            "CREATE TABLE ev (id bigint, at date NOT NULL, kind text NOT NULL,
                             PRIMARY KEY (id, at, kind))
               PARTITION BY RANGE (at);
             CREATE TABLE ev_2024 PARTITION OF ev FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
             CREATE TABLE ev_2025 PARTITION OF ev FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')
               PARTITION BY LIST (kind);
             CREATE TABLE ev_2025_a PARTITION OF ev_2025 FOR VALUES IN ('a', 'b');
             CREATE TABLE ev_2025_z PARTITION OF ev_2025 FOR VALUES IN ('z');
             CREATE TABLE ev_rest PARTITION OF ev DEFAULT;
             CREATE TABLE h (id int PRIMARY KEY, v text) PARTITION BY HASH (id);
             CREATE TABLE h0 PARTITION OF h FOR VALUES WITH (MODULUS 2, REMAINDER 0);
             CREATE TABLE h1 PARTITION OF h FOR VALUES WITH (MODULUS 2, REMAINDER 1);
             CREATE TABLE refs (id int PRIMARY KEY, ev_id bigint NOT NULL, ev_at date NOT NULL,
                                ev_kind text NOT NULL, FOREIGN KEY (ev_id, ev_at, ev_kind) REFERENCES ev);",
        );
        let s = seed(&mut c, &opts(6)).unwrap();
        assert!(s.skipped.is_empty(), "{:?}", s.skipped);
        for leaf in ["ev_2024", "ev_2025_a", "ev_2025_z", "ev_rest", "h0", "h1"] {
            assert!(
                count(&mut c, &format!("SELECT count(*) FROM {leaf}")) > 0,
                "{leaf} is empty: {s:?}"
            );
        }
        assert_eq!(count(&mut c, "SELECT count(*) FROM refs"), 6);
    }

    #[test]
    fn tables_with_rows_and_excluded_tables_are_left_alone() {
        let mut c = db(
            "seed_left_alone",
            "CREATE TABLE filled (id int PRIMARY KEY); INSERT INTO filled VALUES (42);
             CREATE TABLE schema_migrations (version text PRIMARY KEY);
             CREATE SCHEMA migsafe; CREATE TABLE migsafe.ledger (id int);
             CREATE TABLE empty (id int PRIMARY KEY, f int REFERENCES filled);",
        );
        let s = seed(&mut c, &opts(3)).unwrap();
        assert_eq!(s.had_rows, ["public.filled"]);
        assert_eq!(s.seeded, [("public.empty".to_string(), 3)]);
        assert_eq!(count(&mut c, "SELECT count(*) FROM schema_migrations"), 0);
        assert_eq!(count(&mut c, "SELECT count(*) FROM migsafe.ledger"), 0);
        assert_eq!(
            count(
                &mut c,
                "SELECT count(*) FROM empty WHERE f IS NOT NULL AND f <> 42"
            ),
            0
        );
    }

    #[test]
    fn a_required_foreign_key_to_an_empty_table_is_reported() {
        let mut c = db(
            "seed_empty_parent",
            "CREATE TABLE p (id int PRIMARY KEY);
             CREATE TABLE c (id int PRIMARY KEY, p int NOT NULL REFERENCES p);
             CREATE TRIGGER no BEFORE INSERT ON p FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();",
        );
        // suppress_redundant_updates_trigger refuses INSERT: p stays empty.
        let s = seed(&mut c, &opts(3)).unwrap();
        assert_eq!(s.skipped.len(), 2, "{:?}", s.skipped);
        assert_eq!(
            s.skipped[1],
            (
                "public.c".to_string(),
                "its NOT NULL foreign key (p) references public.p, which has no rows".to_string()
            )
        );
    }

    #[test]
    fn deterministic_across_databases() {
        let schema = "
            CREATE TYPE mood AS ENUM ('sad', 'ok');
            CREATE TABLE a (id uuid PRIMARY KEY, m mood, at timestamptz NOT NULL, doc jsonb);
            CREATE TABLE b (id serial PRIMARY KEY, a_id uuid REFERENCES a, n numeric(6,1) CHECK (n > 5));
            CREATE TABLE c (x int, y text);";
        let mut one = db("seed_det_1", schema);
        let mut two = db("seed_det_2", schema);
        seed(&mut one, &opts(12)).unwrap();
        seed(&mut two, &opts(12)).unwrap();
        let (d1, d2) = (digest(&mut one).unwrap(), digest(&mut two).unwrap());
        assert_eq!(d1, d2);
        assert_eq!(d1.tables["public.b"].rows, 12);
    }

    #[test]
    fn the_seed_file_runs_after_and_its_error_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("seed.sql");
        std::fs::write(&good, "INSERT INTO t VALUES (1000, 'from the seed file');").unwrap();
        let bad = dir.path().join("bad.sql");
        std::fs::write(
            &bad,
            "INSERT INTO t VALUES (2000, 'ok');\n\nINSERT INTO nope VALUES (1);",
        )
        .unwrap();
        let mut c = db("seed_file", "CREATE TABLE t (id int PRIMARY KEY, v text);");
        let s = seed(
            &mut c,
            &SeedOptions {
                hints: Default::default(),
                rows_per_table: 2,
                seed_file: Some(good.clone()),
            },
        )
        .unwrap();
        assert_eq!(s.seeded, [("public.t".to_string(), 2)]);
        assert_eq!(count(&mut c, "SELECT count(*) FROM t"), 3);

        let err = seed(
            &mut c,
            &SeedOptions {
                hints: Default::default(),
                rows_per_table: 2,
                seed_file: Some(bad.clone()),
            },
        )
        .unwrap_err();
        let msg = err
            .to_string()
            .replace(&*dir.path().to_string_lossy(), "DIR");
        insta::assert_snapshot!(msg, @r#"DIR/bad.sql: line 3: relation "nope" does not exist"#);
        assert_eq!(
            count(&mut c, "SELECT count(*) FROM t WHERE id = 2000"),
            0,
            "the file runs as one implicit transaction"
        );

        let missing = dir.path().join("missing.sql");
        let err = seed(
            &mut c,
            &SeedOptions {
                hints: Default::default(),
                rows_per_table: 0,
                seed_file: Some(missing),
            },
        )
        .unwrap_err();
        assert!(matches!(err, SeedError::SeedFile { .. }), "{err}");
    }
}
