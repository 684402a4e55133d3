//! Per-table data digests: the evidence that a round trip (up, down) kept the data of everything
//! the migration does not destroy.
//!
//! Each table gets its row count and, per column, the md5 of its values (as `quote_nullable`
//! text, so NULL and the string `'NULL'` differ and commas inside values cannot shift the
//! boundary) concatenated in key order. Key order is the primary key, else a unique index over
//! NOT NULL columns. A table without either has no row identity: each column's digest is then of
//! its values sorted by themselves (a multiset), so that losing one column (announced) does not
//! reorder, and so change, the digests of the others (which would not be announced).

use std::collections::{BTreeMap, BTreeSet};

use postgres::types::Oid;

use crate::classify::Destroyed;

/// Tables whose data is not the user's: migsafe's own schema and the migration runners' history
/// tables. `schema.*` excludes a whole schema; a bare name excludes that table in any schema
/// (runners follow the search_path).
pub const EXCLUDED_TABLES: &[&str] = &[
    "migsafe.*",
    "sqitch.*",
    "_sqlx_migrations",
    "__diesel_schema_migrations",
    "schema_migrations",
    "goose_db_version",
    "flyway_schema_history",
    "refinery_schema_history",
];

/// Whether `schema.table` is one of [`EXCLUDED_TABLES`].
pub fn is_excluded(schema: &str, table: &str) -> bool {
    EXCLUDED_TABLES.iter().any(|e| match e.strip_suffix(".*") {
        Some(s) => s == schema,
        None => *e == table,
    })
}

/// Row count and a content digest per column of every user table.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DataDigest {
    /// `schema.table` → table digest.
    pub tables: BTreeMap<String, TableDigest>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TableDigest {
    pub rows: i64,
    /// column → digest of its values in primary-key (else whole-row) order.
    pub columns: BTreeMap<String, String>,
    /// The columns that order the rows (primary key, else a unique key over NOT NULL columns);
    /// empty when the table has neither and each column is digested as a multiset.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub key: Vec<String>,
    /// For a partition: the partitioned table at the root of its tree (`schema.table`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition_of: Option<String>,
    /// column → its type (`format_type`, without modifiers; `public.` left out).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub types: BTreeMap<String, String>,
    /// The table's foreign keys: how deletes and updates elsewhere reach its rows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub foreign_keys: Vec<ForeignKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ForeignKey {
    pub columns: Vec<String>,
    /// `schema.table`
    pub references: String,
    pub referenced_columns: Vec<String>,
    pub on_delete: FkAction,
    pub on_update: FkAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FkAction {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl FkAction {
    fn from_catalog(c: &str) -> FkAction {
        match c {
            "c" => FkAction::Cascade,
            "n" => FkAction::SetNull,
            "d" => FkAction::SetDefault,
            "r" => FkAction::Restrict,
            _ => FkAction::NoAction,
        }
    }
    /// Whether a change on the referenced side writes to the referencing rows.
    fn writes(self) -> bool {
        matches!(
            self,
            FkAction::Cascade | FkAction::SetNull | FkAction::SetDefault
        )
    }
}

/// A difference between two digests that the migration's static classification did not
/// announce as destroyed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DataChange {
    pub table: String,
    /// `None`: the table as a whole (missing, or its row count changed).
    pub column: Option<String>,
    pub what: String,
    /// Whether the static classification said this step destroys it.
    pub announced: bool,
}

/// Session settings that change how values print as text. Pinned while digesting so that a
/// migration's own `SET` (time zone, search_path…) on the same connection cannot make equal
/// data digest differently.
const SETTINGS: &[(&str, &str)] = &[
    ("search_path", "pg_catalog"),
    ("DateStyle", "ISO, YMD"),
    ("IntervalStyle", "postgres"),
    ("TimeZone", "UTC"),
    ("extra_float_digits", "1"),
    ("bytea_output", "hex"),
    ("lc_monetary", "C"),
];

/// Runs `f` with [`SETTINGS`] in force, then puts the session's own values back.
fn with_pinned_settings<T>(
    client: &mut postgres::Client,
    f: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error>,
) -> Result<T, postgres::Error> {
    let mut old = Vec::with_capacity(SETTINGS.len());
    for (name, value) in SETTINGS {
        let row = client.query_one(
            "SELECT current_setting($1), set_config($1, $2, false)",
            &[name, value],
        )?;
        old.push((*name, row.get::<_, String>(0)));
    }
    let out = f(client);
    let mut restored = Ok(());
    for (name, value) in &old {
        if let Err(e) = client.execute("SELECT set_config($1, $2, false)", &[name, value]) {
            restored = Err(e);
        }
    }
    let out = out?;
    restored.map(|()| out)
}

pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Type names the way classify writes object names: `public.` left out, quotes removed.
fn type_name(formatted: &str) -> String {
    let plain = formatted.replace('"', "");
    crate::sql::op::unqualified(&plain).to_string()
}

/// (not the primary key, key width, index name, columns): sorts the preferred key first.
type KeyCandidate = (bool, usize, String, Vec<String>);

struct TableInfo {
    oid: Oid,
    schema: String,
    name: String,
    digest: TableDigest,
}

pub fn digest(client: &mut postgres::Client) -> Result<DataDigest, postgres::Error> {
    with_pinned_settings(client, digest_pinned)
}

fn digest_pinned(client: &mut postgres::Client) -> Result<DataDigest, postgres::Error> {
    // Ordinary tables and partitions (a partitioned table holds no rows of its own); not
    // extension members, not system schemas. `ONLY` below keeps inheritance children's rows
    // out of their parent's digest: each is digested as itself.
    let rows = client.query(
        "SELECT c.oid, n.nspname::text, c.relname::text,
                CASE WHEN c.relispartition THEN
                  (SELECT rn.nspname || '.' || r.relname FROM pg_class r
                     JOIN pg_namespace rn ON rn.oid = r.relnamespace
                    WHERE r.oid = pg_partition_root(c.oid)) END
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = 'r' AND n.nspname <> 'information_schema'
            AND n.nspname NOT LIKE 'pg\\_%'
            AND NOT EXISTS (SELECT 1 FROM pg_depend d
                             WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                               AND d.deptype = 'e')
          ORDER BY 2, 3",
        &[],
    )?;
    let mut tables: Vec<TableInfo> = rows
        .iter()
        .map(|r| TableInfo {
            oid: r.get(0),
            schema: r.get(1),
            name: r.get(2),
            digest: TableDigest {
                partition_of: r.get(3),
                ..TableDigest::default()
            },
        })
        .filter(|t| !is_excluded(&t.schema, &t.name))
        .collect();
    let oids: Vec<Oid> = tables.iter().map(|t| t.oid).collect();
    let index: BTreeMap<Oid, usize> = oids.iter().enumerate().map(|(i, o)| (*o, i)).collect();

    // Columns in attnum order.
    let mut columns: Vec<Vec<String>> = vec![vec![]; tables.len()];
    for r in client.query(
        "SELECT a.attrelid, a.attname::text, format_type(a.atttypid, NULL)
           FROM pg_attribute a
          WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped
          ORDER BY a.attrelid, a.attnum",
        &[&oids],
    )? {
        let i = index[&r.get::<_, Oid>(0)];
        let name: String = r.get(1);
        let ty: String = r.get(2);
        tables[i].digest.types.insert(name.clone(), type_name(&ty));
        columns[i].push(name);
    }

    // Row identity: the primary key, else the narrowest unique index whose key columns are
    // all NOT NULL (no expressions, no predicate), ties broken by index name.
    let mut candidates: Vec<Vec<KeyCandidate>> = vec![vec![]; tables.len()];
    for r in client.query(
        "SELECT i.indrelid, i.indisprimary, ic.relname::text,
                ARRAY(SELECT a.attname::text
                        FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(num, ord)
                        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num
                       WHERE k.ord <= i.indnkeyatts ORDER BY k.ord),
                i.indexprs IS NULL AND i.indpred IS NULL
                AND NOT EXISTS (SELECT 1
                        FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(num, ord)
                        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num
                       WHERE k.ord <= i.indnkeyatts AND NOT a.attnotnull)
           FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
          WHERE i.indrelid = ANY($1) AND i.indisunique AND i.indisvalid",
        &[&oids],
    )? {
        let i = index[&r.get::<_, Oid>(0)];
        let primary: bool = r.get(1);
        let usable: bool = r.get(4);
        let cols: Vec<String> = r.get(3);
        if primary || usable {
            candidates[i].push((!primary, cols.len(), r.get(2), cols));
        }
    }
    for (t, mut c) in tables.iter_mut().zip(candidates) {
        c.sort();
        if let Some((_, _, _, cols)) = c.into_iter().next() {
            t.digest.key = cols;
        }
    }

    for r in client.query(
        "SELECT c.conrelid, rn.nspname || '.' || r.relname,
                ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(num, ord)
                        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num
                       ORDER BY k.ord),
                ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(num, ord)
                        JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.num
                       ORDER BY k.ord),
                c.confdeltype::text, c.confupdtype::text
           FROM pg_constraint c JOIN pg_class r ON r.oid = c.confrelid
           JOIN pg_namespace rn ON rn.oid = r.relnamespace
          WHERE c.contype = 'f' AND c.conrelid = ANY($1)
          ORDER BY c.conrelid, c.conname, 2",
        &[&oids],
    )? {
        let i = index[&r.get::<_, Oid>(0)];
        let fk = ForeignKey {
            references: r.get(1),
            columns: r.get(2),
            referenced_columns: r.get(3),
            on_delete: FkAction::from_catalog(r.get(4)),
            on_update: FkAction::from_catalog(r.get(5)),
        };
        // A key to a partitioned table is also recorded once per partition: keep one.
        if !tables[i].digest.foreign_keys.contains(&fk) {
            tables[i].digest.foreign_keys.push(fk);
        }
    }

    let mut out = DataDigest::default();
    for (mut t, cols) in tables.into_iter().zip(columns) {
        let row = client.query_one(&table_query(&t.schema, &t.name, &cols, &t.digest.key), &[])?;
        t.digest.rows = row.get(0);
        for (i, c) in cols.into_iter().enumerate() {
            let d: Option<String> = row.get(i + 1);
            t.digest.columns.insert(c, d.unwrap_or_default());
        }
        out.tables
            .insert(format!("{}.{}", t.schema, t.name), t.digest);
    }
    Ok(out)
}

/// One scan per table: the row count and every column's digest.
fn table_query(schema: &str, table: &str, columns: &[String], key: &[String]) -> String {
    let mut sql = String::from("SELECT count(*)");
    let order_by_key = key
        .iter()
        .map(|k| quote_ident(k))
        .collect::<Vec<_>>()
        .join(", ");
    for c in columns {
        let value = format!("quote_nullable({})", quote_ident(c));
        let order = if key.is_empty() {
            format!("{value} COLLATE \"C\"")
        } else {
            order_by_key.clone()
        };
        sql.push_str(&format!(", md5(string_agg({value}, ',' ORDER BY {order}))"));
    }
    sql.push_str(&format!(
        " FROM ONLY {}.{}",
        quote_ident(schema),
        quote_ident(table)
    ));
    sql
}

/// `t` → `public.t`, the way digests name tables.
fn qualified(name: &str) -> String {
    if name.contains('.') {
        name.to_string()
    } else {
        format!("public.{name}")
    }
}

/// What the static classification announced, spread over the digest's tables.
#[derive(Default)]
struct Announced {
    /// Table or schema dropped: missing is expected.
    dropped: BTreeSet<String>,
    /// Every change to the table (count and all columns).
    everything: BTreeSet<String>,
    /// Rows removed: reaches referencing tables through ON DELETE actions. Holds partitioned
    /// roots too, since foreign keys may name them.
    removed_rows: BTreeSet<String>,
    /// Columns whose values may change.
    columns: BTreeMap<String, BTreeSet<String>>,
}

impl Announced {
    fn covers(&self, table: &str, column: Option<&str>) -> bool {
        self.everything.contains(table)
            || column.is_some_and(|c| self.columns.get(table).is_some_and(|s| s.contains(c)))
    }
}

impl DataDigest {
    /// Digest tables called `name`: the table itself, or the partitions of a partitioned table.
    fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.tables
            .iter()
            .filter(move |(t, d)| *t == name || d.partition_of.as_deref() == Some(name))
            .map(|(t, _)| t.as_str())
    }

    fn announced(&self, destroyed: &[Destroyed]) -> Announced {
        let mut a = Announced::default();
        let add_columns = |a: &mut Announced, table: &str, cols: &[String]| {
            let key = &self.tables[table].key;
            // Losing a key column loses row identity: the others' order, so digests, change.
            if cols.iter().any(|c| key.contains(c)) {
                a.everything.insert(table.to_string());
            }
            a.columns
                .entry(table.to_string())
                .or_default()
                .extend(cols.iter().cloned());
        };
        // Values overwritten per table, for ON UPDATE actions.
        let mut updated: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for d in destroyed {
            match d {
                Destroyed::Table { table } => {
                    for t in self.named(&qualified(table)) {
                        a.dropped.insert(t.to_string());
                        a.everything.insert(t.to_string());
                    }
                }
                Destroyed::Columns { table, columns } => {
                    for t in self.named(&qualified(table)) {
                        add_columns(&mut a, t, columns);
                    }
                }
                Destroyed::Rows { table, .. } => {
                    let q = qualified(table);
                    a.removed_rows.insert(q.clone());
                    for t in self.named(&q) {
                        a.removed_rows.insert(t.to_string());
                        a.everything.insert(t.to_string());
                    }
                }
                Destroyed::Values { table, columns, .. } => {
                    let q = qualified(table);
                    updated
                        .entry(q.clone())
                        .or_default()
                        .extend(columns.iter().cloned());
                    for t in self.named(&q) {
                        add_columns(&mut a, t, columns);
                        updated
                            .entry(t.to_string())
                            .or_default()
                            .extend(columns.iter().cloned());
                    }
                }
                Destroyed::Schema { schema } => {
                    let prefix = format!("{schema}.");
                    for t in self.tables.keys().filter(|t| t.starts_with(&prefix)) {
                        a.dropped.insert(t.clone());
                        a.everything.insert(t.clone());
                    }
                }
                // Another database, or a sequence's position: no table data here.
                Destroyed::Database { .. } | Destroyed::Sequence { .. } => {}
                Destroyed::Dependents { of } => {
                    let q = qualified(of);
                    // TRUNCATE … CASCADE empties every table that references it, directly or
                    // not, whatever the keys' ON DELETE actions. (DROP TABLE … CASCADE only
                    // drops their constraints; the two are not told apart here.)
                    let mut reached = BTreeSet::from([q.clone()]);
                    loop {
                        let more: Vec<&String> = self
                            .tables
                            .iter()
                            .filter(|(t, td)| {
                                !reached.contains(*t)
                                    && td
                                        .foreign_keys
                                        .iter()
                                        .any(|fk| reached.contains(&fk.references))
                            })
                            .map(|(t, _)| t)
                            .collect();
                        if more.is_empty() {
                            break;
                        }
                        for t in more {
                            reached.insert(t.clone());
                            if let Some(root) = &self.tables[t].partition_of {
                                reached.insert(root.clone());
                            }
                            a.removed_rows.insert(t.clone());
                            a.everything.insert(t.clone());
                        }
                    }
                    // DROP TYPE/DOMAIN … CASCADE drops the columns of that type.
                    let of_type = type_name(of);
                    for (t, td) in &self.tables {
                        let cols: Vec<String> = td
                            .types
                            .iter()
                            .filter(|(_, ty)| ty.trim_end_matches("[]") == of_type)
                            .map(|(c, _)| c.clone())
                            .collect();
                        if !cols.is_empty() {
                            add_columns(&mut a, t, &cols);
                        }
                    }
                }
            }
        }
        for t in a.removed_rows.clone() {
            if let Some(root) = self.tables.get(&t).and_then(|d| d.partition_of.clone()) {
                a.removed_rows.insert(root);
            }
        }
        // Foreign key actions carry deletes and key updates on to referencing tables, and on
        // from those: repeat until nothing new is reached.
        loop {
            let mut grew = false;
            for (t, td) in &self.tables {
                for fk in &td.foreign_keys {
                    let mut reached = false;
                    if a.removed_rows.contains(&fk.references) && fk.on_delete.writes() {
                        if fk.on_delete == FkAction::Cascade {
                            grew |= a.removed_rows.insert(t.clone());
                            if let Some(root) = &td.partition_of {
                                grew |= a.removed_rows.insert(root.clone());
                            }
                            grew |= a.everything.insert(t.clone());
                        } else {
                            reached = true;
                        }
                    }
                    if fk.on_update.writes()
                        && updated.get(&fk.references).is_some_and(|cols| {
                            fk.referenced_columns.iter().any(|c| cols.contains(c))
                        })
                    {
                        reached = true;
                    }
                    if reached {
                        let before = a.columns.get(t).map_or(0, BTreeSet::len);
                        add_columns(&mut a, t, &fk.columns);
                        let set = updated.entry(t.clone()).or_default();
                        set.extend(fk.columns.iter().cloned());
                        if let Some(root) = &td.partition_of {
                            updated
                                .entry(root.clone())
                                .or_default()
                                .extend(fk.columns.iter().cloned());
                        }
                        grew |= a.columns[t].len() != before;
                    }
                }
            }
            if !grew {
                break;
            }
        }
        a
    }

    /// Every table and column whose data differs in `after`, marked by whether `destroyed`
    /// (from the static classification of the migration's up) announced it. Tables and columns
    /// that exist only in `after` are not changes. When a table's row count changed, its
    /// columns' digests necessarily differ too: only missing columns are listed then.
    pub fn changes(&self, after: &DataDigest, destroyed: &[Destroyed]) -> Vec<DataChange> {
        let a = self.announced(destroyed);
        let mut out = vec![];
        for (name, before) in &self.tables {
            let change = |column: Option<&str>, what: String, announced: bool| DataChange {
                table: name.clone(),
                column: column.map(str::to_string),
                what,
                announced,
            };
            let Some(now) = after.tables.get(name) else {
                out.push(change(
                    None,
                    "table is missing".into(),
                    a.dropped.contains(name),
                ));
                continue;
            };
            let count_changed = before.rows != now.rows;
            if count_changed {
                out.push(change(
                    None,
                    format!("row count changed from {} to {}", before.rows, now.rows),
                    a.covers(name, None),
                ));
            }
            for (column, digest) in &before.columns {
                match now.columns.get(column) {
                    None => out.push(change(
                        Some(column),
                        "column is missing".into(),
                        a.covers(name, Some(column)),
                    )),
                    Some(d) if d != digest && !count_changed => out.push(change(
                        Some(column),
                        "values changed".into(),
                        a.covers(name, Some(column)),
                    )),
                    Some(_) => {}
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::testing;

    fn db(prefix: &str, sql: &str) -> postgres::Client {
        let (_, mut c) = testing::fresh_database(prefix);
        c.batch_execute(sql).unwrap();
        c
    }

    const SHOP: &str = "
        CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL, born date, score float8);
        CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users ON DELETE CASCADE,
                             total numeric(10,2), note text);
        CREATE TABLE log (at timestamptz, msg text);
        INSERT INTO users SELECT g, 'u' || g || '@x', DATE '2000-01-01' + g, g / 3.0
          FROM generate_series(1, 50) g;
        INSERT INTO orders SELECT g, 1 + g % 50, g * 1.5, CASE WHEN g % 3 = 0 THEN NULL
          ELSE 'n' || g END FROM generate_series(1, 100) g;
        INSERT INTO log SELECT TIMESTAMPTZ '2020-01-01 00:00:00+00' + g * INTERVAL '1 hour',
          'm' || g FROM generate_series(1, 20) g;
    ";

    #[test]
    fn equal_data_equal_digests_across_databases_and_session_settings() {
        let mut a = db("digest_eq_a", SHOP);
        let mut b = db("digest_eq_b", SHOP);
        // A migration's SET on the same connection must not change the digest; and the
        // session's own setting comes back afterwards.
        b.batch_execute("SET TimeZone = 'Asia/Tokyo'; SET DateStyle = 'German'")
            .unwrap();
        let (da, db_) = (digest(&mut a).unwrap(), digest(&mut b).unwrap());
        assert_eq!(da, db_);
        assert!(da.changes(&db_, &[]).is_empty());
        let tz: String = b.query_one("SHOW TimeZone", &[]).unwrap().get(0);
        assert_eq!(tz, "Asia/Tokyo");
        assert_eq!(da.tables["public.users"].rows, 50);
        assert_eq!(da.tables["public.users"].key, ["id"]);
        assert!(da.tables["public.log"].key.is_empty());
    }

    #[test]
    fn excluded_tables_are_left_out() {
        let mut c = db(
            "digest_excluded",
            "CREATE SCHEMA migsafe; CREATE TABLE migsafe.ledger (id int);
             CREATE TABLE _sqlx_migrations (version bigint PRIMARY KEY);
             CREATE SCHEMA app; CREATE TABLE app.schema_migrations (v text);
             CREATE TABLE kept (id int);",
        );
        let d = digest(&mut c).unwrap();
        assert_eq!(d.tables.keys().collect::<Vec<_>>(), ["public.kept"]);
    }

    #[test]
    fn detects_a_changed_value_a_deleted_row_and_a_dropped_column() {
        let mut c = db("digest_detects", SHOP);
        let before = digest(&mut c).unwrap();

        c.batch_execute("UPDATE users SET score = 0 WHERE id = 7")
            .unwrap();
        let after = digest(&mut c).unwrap();
        let ch = before.changes(&after, &[]);
        assert_eq!(
            ch,
            [DataChange {
                table: "public.users".into(),
                column: Some("score".into()),
                what: "values changed".into(),
                announced: false,
            }]
        );

        c.batch_execute("DELETE FROM log WHERE msg = 'm3'").unwrap();
        c.batch_execute("ALTER TABLE orders DROP COLUMN note")
            .unwrap();
        let after = digest(&mut c).unwrap();
        let rendered: Vec<String> = before
            .changes(&after, &[])
            .iter()
            .map(|c| format!("{} {:?}: {}", c.table, c.column, c.what))
            .collect();
        insta::assert_snapshot!(rendered.join("\n"), @r#"
        public.log None: row count changed from 20 to 19
        public.orders Some("note"): column is missing
        public.users Some("score"): values changed
        "#);
    }

    #[test]
    fn null_and_position_matter() {
        let mut c = db(
            "digest_null",
            "CREATE TABLE t (id int PRIMARY KEY, v text);
             INSERT INTO t VALUES (1, NULL), (2, 'NULL'), (3, 'a,b');",
        );
        let before = digest(&mut c).unwrap();
        c.batch_execute("UPDATE t SET v = CASE id WHEN 1 THEN 'NULL' WHEN 2 THEN NULL ELSE v END")
            .unwrap();
        assert_ne!(before, digest(&mut c).unwrap());
        // Same multiset, other rows: a keyed table sees the swap.
        c.batch_execute(
            "UPDATE t SET v = CASE id WHEN 1 THEN NULL WHEN 2 THEN 'a,b' ELSE 'NULL' END",
        )
        .unwrap();
        assert_ne!(before, digest(&mut c).unwrap());
    }

    #[test]
    fn unkeyed_columns_do_not_depend_on_each_other() {
        // Without row identity, losing one column's values must not change the others' digests.
        let mut c = db(
            "digest_unkeyed",
            "CREATE TABLE t (a int, b text);
             INSERT INTO t SELECT g, 'v' || (100 - g) FROM generate_series(1, 30) g;",
        );
        let before = digest(&mut c).unwrap();
        c.batch_execute("UPDATE t SET a = NULL").unwrap();
        let after = digest(&mut c).unwrap();
        let ch = before.changes(&after, &[]);
        assert_eq!(ch.len(), 1);
        assert_eq!(ch[0].column.as_deref(), Some("a"));
    }

    #[test]
    fn partitions_are_digested_each_under_their_root() {
        let mut c = db(
            "digest_parts",
            "CREATE TABLE ev (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
             CREATE TABLE ev_2024 PARTITION OF ev FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
             CREATE TABLE ev_2025 PARTITION OF ev FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
             INSERT INTO ev VALUES (1, '2024-05-01'), (2, '2025-05-01');",
        );
        let d = digest(&mut c).unwrap();
        assert_eq!(
            d.tables.keys().collect::<Vec<_>>(),
            ["public.ev_2024", "public.ev_2025"]
        );
        assert_eq!(
            d.tables["public.ev_2024"].partition_of.as_deref(),
            Some("public.ev")
        );
        assert_eq!(d.tables["public.ev_2024"].rows, 1);
    }

    /// A digest of an invented shape, for `changes()` without a database.
    fn table(rows: i64, cols: &[(&str, &str)], key: &[&str]) -> TableDigest {
        TableDigest {
            rows,
            columns: cols
                .iter()
                .map(|(c, d)| (c.to_string(), d.to_string()))
                .collect(),
            key: key.iter().map(|k| k.to_string()).collect(),
            types: cols
                .iter()
                .map(|(c, _)| (c.to_string(), "text".to_string()))
                .collect(),
            ..TableDigest::default()
        }
    }

    fn fk(columns: &[&str], references: &str, on_delete: FkAction) -> ForeignKey {
        ForeignKey {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            references: references.into(),
            referenced_columns: vec!["id".into()],
            on_delete,
            on_update: FkAction::Cascade,
        }
    }

    /// users ← orders (ON DELETE CASCADE) ← items (ON DELETE SET NULL); audit.log apart;
    /// ev partitioned into ev_1; tags has a column of enum type mood.
    fn world() -> DataDigest {
        let mut t = BTreeMap::new();
        t.insert(
            "public.users".into(),
            table(3, &[("id", "u1"), ("name", "n1")], &["id"]),
        );
        let mut orders = table(4, &[("id", "o1"), ("user_id", "o2")], &["id"]);
        orders.foreign_keys = vec![fk(&["user_id"], "public.users", FkAction::Cascade)];
        t.insert("public.orders".into(), orders);
        let mut items = table(5, &[("id", "i1"), ("order_id", "i2"), ("q", "i3")], &["id"]);
        items.foreign_keys = vec![fk(&["order_id"], "public.orders", FkAction::SetNull)];
        t.insert("public.items".into(), items);
        t.insert("audit.log".into(), table(2, &[("msg", "l1")], &[]));
        let mut ev = table(2, &[("id", "e1"), ("v", "e2")], &["id"]);
        ev.partition_of = Some("public.ev".into());
        t.insert("public.ev_1".into(), ev);
        let mut tags = table(1, &[("id", "t1"), ("feel", "t2")], &["id"]);
        tags.types.insert("feel".into(), "mood".into());
        t.insert("public.tags".into(), tags);
        DataDigest { tables: t }
    }

    /// Everything changed: each table lost a row and each column differs; one table is gone.
    fn all_changed(before: &DataDigest) -> (DataDigest, DataDigest) {
        let mut values = before.clone();
        let mut rows = before.clone();
        for d in values.tables.values_mut() {
            for v in d.columns.values_mut() {
                v.push('!');
            }
        }
        for d in rows.tables.values_mut() {
            d.rows -= 1;
        }
        (values, rows)
    }

    fn render(changes: &[DataChange]) -> String {
        changes
            .iter()
            .map(|c| {
                format!(
                    "{} {}{}: {}",
                    if c.announced {
                        "announced  "
                    } else {
                        "UNANNOUNCED"
                    },
                    c.table,
                    c.column
                        .as_ref()
                        .map(|c| format!(".{c}"))
                        .unwrap_or_default(),
                    c.what
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn changes_are_announced_by_each_kind_of_destroyed() {
        let before = world();
        let (values, rows) = all_changed(&before);
        let mut missing = before.clone();
        missing.tables.remove("public.users");
        missing.tables.remove("audit.log");
        missing
            .tables
            .get_mut("public.items")
            .unwrap()
            .columns
            .remove("q");
        let cases: Vec<(&str, Vec<Destroyed>)> = vec![
            ("nothing", vec![]),
            (
                "Table users (unqualified) and Schema audit",
                vec![
                    Destroyed::Table {
                        table: "users".into(),
                    },
                    Destroyed::Schema {
                        schema: "audit".into(),
                    },
                ],
            ),
            (
                "Columns items.q",
                vec![Destroyed::Columns {
                    table: "public.items".into(),
                    columns: vec!["q".into()],
                }],
            ),
            (
                "Rows of users: cascades to orders, sets items.order_id NULL",
                vec![Destroyed::Rows {
                    table: "users".into(),
                    all: false,
                }],
            ),
            (
                "Values users.name",
                vec![Destroyed::Values {
                    table: "users".into(),
                    columns: vec!["name".into()],
                    all_rows: true,
                }],
            ),
            (
                "Values users.id (the key, ON UPDATE CASCADE into orders)",
                vec![Destroyed::Values {
                    table: "users".into(),
                    columns: vec!["id".into()],
                    all_rows: false,
                }],
            ),
            (
                "Rows of the partitioned ev",
                vec![Destroyed::Rows {
                    table: "ev".into(),
                    all: true,
                }],
            ),
            (
                "Dependents of users (TRUNCATE CASCADE) and of type mood",
                vec![
                    Destroyed::Dependents { of: "users".into() },
                    Destroyed::Dependents { of: "mood".into() },
                ],
            ),
            (
                "Database and Sequence",
                vec![
                    Destroyed::Database {
                        database: "other".into(),
                    },
                    Destroyed::Sequence {
                        sequence: "users_id_seq".into(),
                    },
                ],
            ),
        ];
        let mut out = String::new();
        for (title, destroyed) in &cases {
            for (what, after) in [("values", &values), ("rows", &rows), ("missing", &missing)] {
                out.push_str(&format!("## {title} / {what} changed\n"));
                let ch = before.changes(after, destroyed);
                out.push_str(&render(&ch));
                out.push_str("\n\n");
            }
        }
        insta::assert_snapshot!(out);
    }

    #[test]
    fn new_tables_and_columns_are_not_changes() {
        let before = world();
        let mut after = before.clone();
        after
            .tables
            .insert("public.new".into(), table(9, &[("x", "1")], &[]));
        after
            .tables
            .get_mut("public.users")
            .unwrap()
            .columns
            .insert("added".into(), "z".into());
        assert!(before.changes(&after, &[]).is_empty());
    }

    /// The digest of a 100k-row table with six columns of common types. Prints the time; the
    /// bound is loose because the test machine is shared.
    #[test]
    fn digest_of_100k_rows() {
        let mut c = db(
            "digest_100k",
            "CREATE TABLE big (id bigint PRIMARY KEY, name text, amount numeric(12,2),
                               at timestamptz, flags jsonb, ok bool);
             INSERT INTO big SELECT g, 'name ' || g, g * 1.25,
               TIMESTAMPTZ '2020-01-01 00:00:00+00' + g * INTERVAL '1 minute',
               jsonb_build_object('g', g), g % 2 = 0
             FROM generate_series(1, 100000) g;
             CREATE TABLE big_unkeyed AS SELECT * FROM big;
             ANALYZE;",
        );
        let t = std::time::Instant::now();
        let d = digest(&mut c).unwrap();
        let took = t.elapsed();
        eprintln!("digest of 2 × 100k rows × 6 columns: {took:?}");
        assert_eq!(d.tables["public.big"].rows, 100_000);
        assert!(took < std::time::Duration::from_secs(20), "{took:?}");
    }
}
