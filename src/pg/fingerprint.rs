//! Schema fingerprints: a deterministic, normalised text describing everything a migration can
//! change, read from the catalogs. verify compares the fingerprint before `up` with the one after
//! `down`; equal schemas give equal text regardless of OIDs and creation order.
//!
//! # Format
//!
//! One entry per object or per property, `<kind> <qualified name>[ <property>][: <definition>]`,
//! entries sorted (byte order, so the same on every server). Names are quoted only where SQL
//! needs it (`format('%I')`). Definitions that span lines (function bodies, view queries) go on
//! continuation lines indented by four spaces, so a diff shows the changed line of a body:
//!
//! ```text
//! column public.accounts.email: character varying(64) not null default ''::character varying
//! constraint public.accounts.accounts_pkey: PRIMARY KEY (id)
//! function public.touch():
//!     CREATE OR REPLACE FUNCTION public.touch()
//!      RETURNS trigger
//! …
//! table public.accounts
//! table public.accounts column order: id, email
//! ```
//!
//! Included: schemas; tables (unlogged, partition key, partition parent and bounds, inheritance,
//! storage options, replica identity, access method, row level security enabled/forced); columns
//! (type, collation when not the type's, default, generated expression, identity, not null,
//! storage, statistics target, compression, options); constraints (`pg_get_constraintdef`, which
//! shows NOT VALID); indexes (`pg_get_indexdef`, invalid, clustered, replica identity, attached
//! partition parent); sequences (type, start, increment, bounds, cache, cycle, owned-by — never
//! the current value); views and materialized views (`pg_get_viewdef`, options); functions and
//! procedures (`pg_get_functiondef`) and aggregates; triggers (`pg_get_triggerdef`, enabled
//! state); rules; extended statistics; event triggers; enum types with their value order;
//! domains (base type, collation, default, not null, constraints); composite and range types;
//! extensions (name, version, schema); policies; comments on all of these; privileges, as the
//! difference from PostgreSQL's defaults (`grant …`/`revoke …`), leaving out the owner's own.
//!
//! Column order counts, on a line of its own (`table … column order: …`): a `down` that drops
//! and re-adds a column puts it last, and since PostgreSQL cannot reorder columns, `SELECT *` and
//! positional `INSERT`s now behave differently. The column's own line stays equal, so the diff
//! shows exactly that; [`Fingerprint::without_column_order`] drops these lines for callers that
//! accept the difference.
//!
//! Left out: owners (roles differ between servers); tablespaces; system schemas (`pg_catalog`,
//! `information_schema`, `pg_toast`, temporary schemas); objects that belong to extensions
//! (`pg_depend` deptype `e`) and anything on their tables; [`Exclude::objects`]. Not covered yet:
//! operators, operator classes and families, casts, collations, text search objects, foreign
//! data wrappers and servers, publications, default privileges, security labels.
//!
//! One query per kind of object, in one read-only repeatable-read transaction (a consistent
//! view) with `search_path` empty, so every name in deparsed SQL is schema-qualified whatever
//! the caller's setting, and with date, time zone and float output fixed, so constants in
//! defaults deparse the same in every session.

use std::fmt::Write as _;

use postgres::types::ToSql;

/// A deterministic, normalised description of a database's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// One line per object property, sorted; equal schemas give equal text.
    pub text: String,
}

impl Fingerprint {
    /// The same fingerprint without the `table … column order: …` lines.
    pub fn without_column_order(&self) -> Fingerprint {
        let mut text = String::with_capacity(self.text.len());
        for line in self.text.lines() {
            if !(line.starts_with("table ") && line.contains(" column order: ")) {
                text.push_str(line);
                text.push('\n');
            }
        }
        Fingerprint { text }
    }
}

/// What the fingerprint leaves out: the runner's and migsafe's own tables, by name as
/// `schema.table` (e.g. `public._sqlx_migrations`, `migsafe.*` for a whole schema).
///
/// Names follow SQL: unquoted parts are folded to lower case, `"Quoted"` parts are taken as
/// written. A name without a schema (`_sqlx_migrations`) matches that table in every schema.
/// Excluding a table also leaves out its columns, constraints, indexes, triggers, policies,
/// rules, statistics, owned sequences, comments and privileges.
#[derive(Debug, Clone, Default)]
pub struct Exclude {
    pub objects: Vec<String>,
}

impl Exclude {
    /// (schema, table) pairs for the queries: `None` is a wildcard.
    pub(crate) fn pairs(&self) -> (Vec<Option<String>>, Vec<Option<String>>) {
        let mut schemas = Vec::new();
        let mut tables = Vec::new();
        for entry in &self.objects {
            let parts = split_name(entry.trim());
            let (schema, table) = match parts.as_slice() {
                [table] => (None, table.clone()),
                [schema, table] => (schema.clone(), table.clone()),
                // Unparseable: match nothing rather than something unexpected.
                _ => continue,
            };
            if schema.is_none() && table.is_none() {
                continue;
            }
            schemas.push(schema);
            tables.push(table);
        }
        (schemas, tables)
    }
}

/// `a.b` → [a, b], with `"…"` quoting and `""` escapes; an unquoted `*` becomes `None`.
fn split_name(s: &str) -> Vec<Option<String>> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted_part = false;
    let mut chars = s.chars().peekable();
    let mut in_quotes = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if in_quotes && chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            '"' => {
                in_quotes = !in_quotes;
                quoted_part = true;
            }
            '.' if !in_quotes => {
                parts.push(finish_part(&cur, quoted_part));
                cur.clear();
                quoted_part = false;
            }
            c if in_quotes => cur.push(c),
            c => cur.extend(c.to_lowercase()),
        }
    }
    parts.push(finish_part(&cur, quoted_part));
    parts
}

fn finish_part(s: &str, quoted: bool) -> Option<String> {
    (quoted || s != "*").then(|| s.to_string())
}

/// Schemas PostgreSQL owns.
const USER_SCHEMA: &str = "({n}.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') \
     AND {n}.nspname !~ '^pg_(toast_)?temp_')";

fn user_schema(nsp_alias: &str) -> String {
    USER_SCHEMA.replace("{n}", nsp_alias)
}

/// True when the relation named `nsp`.`rel` is excluded ($1 schemas, $2 tables, NULL = any).
fn excluded_rel(nsp: &str, rel: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM unnest($1::text[], $2::text[]) AS x(s, t) \
         WHERE (x.s IS NULL OR x.s = {nsp}) AND (x.t IS NULL OR x.t = {rel}))"
    )
}

/// True when the whole schema `nsp` is excluded (`schema.*`).
fn excluded_schema(nsp: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM unnest($1::text[], $2::text[]) AS x(s, t) \
         WHERE x.s = {nsp} AND x.t IS NULL)"
    )
}

/// True when the object `oid` of catalog `catalog` belongs to an extension.
fn ext_member(catalog: &str, oid: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM pg_catalog.pg_depend xd WHERE xd.classid = 'pg_catalog.{catalog}'::pg_catalog.regclass \
         AND xd.objid = {oid} AND xd.deptype = 'e')"
    )
}

/// The usual filter for an object on the relation `c` in schema `n`.
fn relation_filter(c: &str, n: &str) -> String {
    format!(
        "{} AND NOT {} AND NOT {}",
        user_schema(n),
        ext_member("pg_class", &format!("{c}.oid")),
        excluded_rel(&format!("{n}.nspname"), &format!("{c}.relname"))
    )
}

/// The usual filter for a schema-level object `oid` of `catalog` in schema `n`.
fn schema_object_filter(catalog: &str, oid: &str, n: &str) -> String {
    format!(
        "{} AND NOT {} AND NOT {}",
        user_schema(n),
        ext_member(catalog, oid),
        excluded_schema(&format!("{n}.nspname"))
    )
}

/// Collects entries; multi-line definitions become indented continuation lines.
#[derive(Default)]
struct Entries(Vec<String>);

impl Entries {
    fn line(&mut self, s: String) {
        self.0.push(s);
    }

    /// `head:` followed by `body` on continuation lines.
    fn block(&mut self, head: String, body: &str) {
        let mut s = format!("{head}:");
        for line in body.trim_end().lines() {
            let line = line.trim_end();
            s.push('\n');
            if !line.is_empty() {
                s.push_str("    ");
                s.push_str(line);
            }
        }
        self.0.push(s);
    }

    fn finish(mut self) -> Fingerprint {
        self.0.sort();
        self.0.dedup();
        let mut text = String::new();
        for e in self.0 {
            text.push_str(&e);
            text.push('\n');
        }
        Fingerprint { text }
    }
}

/// Reads the catalogs of the database `client` is connected to. Runs in a transaction of its
/// own, rolled back at the end: call it outside any open transaction.
pub fn fingerprint(
    client: &mut postgres::Client,
    exclude: &Exclude,
) -> Result<Fingerprint, postgres::Error> {
    let (schemas, tables) = exclude.pairs();
    let mut tx = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    tx.batch_execute(
        "SET LOCAL search_path = ''; SET LOCAL quote_all_identifiers = off; \
         SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'postgres'; \
         SET LOCAL TimeZone = 'UTC'; SET LOCAL extra_float_digits = 1; \
         SET LOCAL bytea_output = 'hex'",
    )?;
    let version: i32 = tx
        .query_one(
            "SELECT pg_catalog.current_setting('server_version_num')::int",
            &[],
        )?
        .get(0);
    let params: [&(dyn ToSql + Sync); 2] = [&schemas, &tables];
    let mut out = Entries::default();
    // The exclusion lists are $1 and $2, in the queries that filter on them.
    let mut q = |sql: &str| {
        let params = if sql.contains("$1") { &params[..] } else { &[] };
        tx.query(sql, params)
    };

    for r in q(&sql_schemas())? {
        out.line(format!("schema {}", r.get::<_, String>(0)));
    }
    for r in q(&sql_extensions())? {
        let (name, version, schema): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        out.line(format!(
            "extension {name} version {version} schema {schema}"
        ));
    }
    relations(&mut out, q(&sql_relations())?);
    columns(&mut out, q(&sql_columns(version))?);
    for r in q(&sql_constraints())? {
        let (kind, name, def): (&str, String, String) = (r.get(0), r.get(1), r.get(2));
        out.line(format!("{kind} {name}: {def}"));
    }
    indexes(&mut out, q(&sql_indexes())?);
    sequences(&mut out, q(&sql_sequences())?);
    for r in q(&sql_functions())? {
        let (kind, signature, def): (&str, String, String) = (r.get(0), r.get(1), r.get(2));
        if kind == "aggregate" {
            out.line(format!("{kind} {signature}: {def}"));
        } else {
            out.block(format!("{kind} {signature}"), &def);
        }
    }
    for r in q(&sql_triggers())? {
        let (name, def, enabled): (String, String, i8) = (r.get(0), r.get(1), r.get(2));
        let state = enabled_state(enabled as u8);
        out.line(format!("trigger {name}{state}: {def}"));
    }
    for r in q(&sql_rules())? {
        let (name, def, enabled): (String, String, i8) = (r.get(0), r.get(1), r.get(2));
        let state = enabled_state(enabled as u8);
        out.line(format!("rule {name}{state}: {}", one_line(&def)));
    }
    for r in q(&sql_statistics())? {
        let (name, def): (String, String) = (r.get(0), r.get(1));
        out.line(format!("statistics {name}: {def}"));
    }
    for r in q(&sql_event_triggers())? {
        let (name, def, enabled): (String, String, i8) = (r.get(0), r.get(1), r.get(2));
        let state = enabled_state(enabled as u8);
        out.line(format!("event trigger {name}{state}: {def}"));
    }
    for r in q(&sql_types())? {
        let (kind, name, def): (&str, String, String) = (r.get(0), r.get(1), r.get(2));
        out.line(format!("{kind} {name}: {def}"));
    }
    for r in q(&sql_policies())? {
        let (name, def): (String, String) = (r.get(0), r.get(1));
        out.line(format!("policy {name}: {def}"));
    }
    for r in q(&sql_comments())? {
        let (kind, identity, text): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        out.line(format!("comment on {kind} {identity}: {}", literal(&text)));
    }
    for r in q(&sql_privileges())? {
        let (action, privileges, object, grantee): (&str, String, String, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        let to = if action == "grant" { "to" } else { "from" };
        out.line(format!("{action} {privileges} on {object} {to} {grantee}"));
    }
    tx.rollback()?;
    Ok(out.finish())
}

/// `tgenabled`/`ev_enabled`/`evtenabled`: O is the default and shows nothing.
fn enabled_state(c: u8) -> &'static str {
    match c {
        b'D' => " disabled",
        b'R' => " enabled replica",
        b'A' => " enabled always",
        _ => "",
    }
}

/// Collapses whitespace runs (rule definitions carry the view-deparser's line breaks).
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A single-quoted, single-line literal: `'` doubled, `\` and control characters escaped.
fn literal(s: &str) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn sql_schemas() -> String {
    format!(
        "SELECT pg_catalog.format('%I', n.nspname) FROM pg_catalog.pg_namespace n WHERE {}",
        schema_object_filter("pg_namespace", "n.oid", "n")
    )
}

fn sql_extensions() -> String {
    format!(
        "SELECT pg_catalog.format('%I', x.extname), x.extversion, pg_catalog.format('%I', n.nspname) \
         FROM pg_catalog.pg_extension x JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace \
         WHERE NOT {}",
        excluded_schema("n.nspname")
    )
}

fn sql_relations() -> String {
    format!(
        "SELECT c.relkind::text, pg_catalog.format('%I.%I', n.nspname, c.relname), \
           c.relpersistence::text, \
           CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END, \
           CASE WHEN c.relispartition THEN ( \
             SELECT pg_catalog.format('%I.%I', pn.nspname, p.relname) FROM pg_catalog.pg_inherits i \
             JOIN pg_catalog.pg_class p ON p.oid = i.inhparent \
             JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace WHERE i.inhrelid = c.oid) END, \
           CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END, \
           CASE WHEN NOT c.relispartition THEN ( \
             SELECT pg_catalog.string_agg(pg_catalog.format('%I.%I', pn.nspname, p.relname), ', ' ORDER BY i.inhseqno) \
             FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class p ON p.oid = i.inhparent \
             JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace WHERE i.inhrelid = c.oid) END, \
           (SELECT pg_catalog.string_agg(pg_catalog.format('%I', a.attname), ', ' ORDER BY a.attnum) \
             FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), \
           (SELECT pg_catalog.string_agg(o, ', ' ORDER BY o COLLATE \"C\") FROM pg_catalog.unnest(c.reloptions) o), \
           c.relreplident::text, c.relrowsecurity, c.relforcerowsecurity, \
           CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END, \
           am.amname::text \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam \
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {}",
        relation_filter("c", "n")
    )
}

fn relations(out: &mut Entries, rows: Vec<postgres::Row>) {
    for r in rows {
        let kind: &str = r.get(0);
        let name: String = r.get(1);
        let persistence: &str = r.get(2);
        let partkey: Option<String> = r.get(3);
        let parent: Option<String> = r.get(4);
        let bound: Option<String> = r.get(5);
        let inherits: Option<String> = r.get(6);
        let columns: Option<String> = r.get(7);
        let options: Option<String> = r.get(8);
        let replident: &str = r.get(9);
        let (rls, force_rls): (bool, bool) = (r.get(10), r.get(11));
        let viewdef: Option<String> = r.get(12);
        let am: Option<String> = r.get(13);
        let kind = match kind {
            "v" => "view",
            "m" => "materialized view",
            "f" => "foreign table",
            _ => "table",
        };
        let head = format!("{kind} {name}");
        match viewdef {
            Some(def) => out.block(head.clone(), &def),
            None => out.line(head.clone()),
        }
        if kind != "view" && kind != "materialized view" {
            out.line(format!(
                "{head} column order: {}",
                columns.unwrap_or_default()
            ));
        }
        if persistence == "u" {
            out.line(format!("{head} unlogged"));
        }
        if let Some(key) = partkey {
            out.line(format!("{head} partition by {key}"));
        }
        if let (Some(parent), Some(bound)) = (parent, bound) {
            out.line(format!("{head} partition of {parent} {bound}"));
        }
        if let Some(parents) = inherits {
            out.line(format!("{head} inherits {parents}"));
        }
        if let Some(options) = options {
            out.line(format!("{head} options: {options}"));
        }
        match if kind == "table" { replident } else { "" } {
            "n" => out.line(format!("{head} replica identity nothing")),
            "f" => out.line(format!("{head} replica identity full")),
            // 'i' shows on the index; 'd' is the default (the primary key).
            _ => {}
        }
        if rls {
            out.line(format!("{head} row level security enabled"));
        }
        if force_rls {
            out.line(format!("{head} row level security forced"));
        }
        if let Some(am) = am.filter(|am| am != "heap") {
            out.line(format!("{head} access method {am}"));
        }
    }
}

fn sql_columns(version: i32) -> String {
    let compression = if version >= 140000 {
        "NULLIF(a.attcompression::text, '')"
    } else {
        "NULL::text"
    };
    format!(
        "SELECT pg_catalog.format('%I.%I.%I', n.nspname, c.relname, a.attname), \
           pg_catalog.format_type(a.atttypid, a.atttypmod), \
           CASE WHEN a.attcollation <> t.typcollation THEN ( \
             SELECT CASE WHEN cn.nspname = 'pg_catalog' THEN pg_catalog.format('%I', co.collname) \
                    ELSE pg_catalog.format('%I.%I', cn.nspname, co.collname) END \
             FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
             WHERE co.oid = a.attcollation) END, \
           a.attnotnull, a.attidentity::text, a.attgenerated::text, \
           pg_catalog.pg_get_expr(d.adbin, d.adrelid), \
           CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END, \
           COALESCE(a.attstattarget, -1)::int, {compression}, \
           (SELECT pg_catalog.string_agg(o, ', ' ORDER BY o COLLATE \"C\") FROM pg_catalog.unnest(a.attoptions) o) \
         FROM pg_catalog.pg_attribute a \
         JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
         LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f') AND {}",
        relation_filter("c", "n")
    )
}

fn columns(out: &mut Entries, rows: Vec<postgres::Row>) {
    for r in rows {
        let name: String = r.get(0);
        let mut s = format!("column {name}: {}", r.get::<_, String>(1));
        if let Some(coll) = r.get::<_, Option<String>>(2) {
            let _ = write!(s, " collate {coll}");
        }
        let identity: &str = r.get(4);
        let generated: &str = r.get(5);
        let expr: Option<String> = r.get(6);
        match (generated, expr) {
            ("s", Some(e)) => {
                let _ = write!(s, " generated always as ({e}) stored");
            }
            (_, Some(e)) => {
                let _ = write!(s, " default {e}");
            }
            _ => {}
        }
        match identity {
            "a" => s.push_str(" generated always as identity"),
            "d" => s.push_str(" generated by default as identity"),
            _ => {}
        }
        if r.get::<_, bool>(3) {
            s.push_str(" not null");
        }
        if let Some(storage) = r.get::<_, Option<&str>>(7) {
            let storage = match storage {
                "p" => "plain",
                "e" => "external",
                "m" => "main",
                "x" => "extended",
                other => other,
            };
            let _ = write!(s, " storage {storage}");
        }
        let stats: i32 = r.get(8);
        if stats >= 0 {
            let _ = write!(s, " statistics {stats}");
        }
        if let Some(c) = r.get::<_, Option<&str>>(9) {
            let c = match c {
                "p" => "pglz",
                "l" => "lz4",
                other => other,
            };
            let _ = write!(s, " compression {c}");
        }
        if let Some(o) = r.get::<_, Option<String>>(10) {
            let _ = write!(s, " options ({o})");
        }
        out.line(s);
    }
}

fn sql_constraints() -> String {
    format!(
        "SELECT 'constraint', pg_catalog.format('%I.%I.%I', n.nspname, c.relname, co.conname), \
           pg_catalog.pg_get_constraintdef(co.oid) \
         FROM pg_catalog.pg_constraint co JOIN pg_catalog.pg_class c ON c.oid = co.conrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE {} \
         UNION ALL \
         SELECT 'domain constraint', pg_catalog.format('%I.%I.%I', n.nspname, t.typname, co.conname), \
           pg_catalog.pg_get_constraintdef(co.oid) \
         FROM pg_catalog.pg_constraint co JOIN pg_catalog.pg_type t ON t.oid = co.contypid \
         JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
         WHERE {}",
        relation_filter("c", "n"),
        schema_object_filter("pg_type", "t.oid", "n")
    )
}

fn sql_indexes() -> String {
    format!(
        "SELECT pg_catalog.format('%I.%I', n.nspname, ic.relname), pg_catalog.pg_get_indexdef(i.indexrelid), \
           i.indisvalid, i.indisclustered, i.indisreplident, \
           (SELECT pg_catalog.format('%I.%I', pn.nspname, p.relname) FROM pg_catalog.pg_inherits h \
             JOIN pg_catalog.pg_class p ON p.oid = h.inhparent \
             JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace WHERE h.inhrelid = ic.oid) \
         FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid \
         JOIN pg_catalog.pg_class c ON c.oid = i.indrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE {}",
        relation_filter("c", "n")
    )
}

fn indexes(out: &mut Entries, rows: Vec<postgres::Row>) {
    for r in rows {
        let name: String = r.get(0);
        let def: String = r.get(1);
        let mut flags = String::new();
        if !r.get::<_, bool>(2) {
            flags.push_str(" invalid");
        }
        if r.get::<_, bool>(3) {
            flags.push_str(" clustered");
        }
        if r.get::<_, bool>(4) {
            flags.push_str(" replica identity");
        }
        if let Some(parent) = r.get::<_, Option<String>>(5) {
            let _ = write!(flags, " partition of {parent}");
        }
        out.line(format!("index {name}{flags}: {def}"));
    }
}

fn sql_sequences() -> String {
    format!(
        "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), pg_catalog.format_type(s.seqtypid, NULL), \
           s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle, c.relpersistence::text, \
           CASE WHEN a.attname IS NOT NULL THEN pg_catalog.format('%I.%I.%I', tn.nspname, t.relname, a.attname) END, \
           dep.deptype::text \
         FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_catalog.pg_depend dep ON dep.classid = 'pg_catalog.pg_class'::pg_catalog.regclass \
           AND dep.objid = c.oid AND dep.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass \
           AND dep.deptype IN ('a', 'i') \
         LEFT JOIN pg_catalog.pg_class t ON t.oid = dep.refobjid \
         LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace \
         LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = dep.refobjid AND a.attnum = dep.refobjsubid \
         WHERE {} AND NOT (t.oid IS NOT NULL AND {})",
        relation_filter("c", "n"),
        excluded_rel("tn.nspname", "t.relname")
    )
}

fn sequences(out: &mut Entries, rows: Vec<postgres::Row>) {
    for r in rows {
        let name: String = r.get(0);
        let ty: String = r.get(1);
        let (start, inc, min, max, cache): (i64, i64, i64, i64, i64) =
            (r.get(2), r.get(3), r.get(4), r.get(5), r.get(6));
        let cycle = if r.get::<_, bool>(7) {
            "cycle"
        } else {
            "no cycle"
        };
        let mut s = format!(
            "sequence {name}: as {ty} start {start} increment {inc} minvalue {min} maxvalue {max} cache {cache} {cycle}"
        );
        if r.get::<_, &str>(8) == "u" {
            s.push_str(" unlogged");
        }
        if let Some(owner) = r.get::<_, Option<String>>(9) {
            let _ = write!(s, " owned by {owner}");
            if r.get::<_, Option<&str>>(10) == Some("i") {
                s.push_str(" (identity)");
            }
        }
        out.line(s);
    }
}

fn sql_functions() -> String {
    format!(
        "SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END, \
           pg_catalog.format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)), \
           CASE WHEN p.prokind = 'a' THEN ( \
             SELECT pg_catalog.concat_ws(' ', \
               'returns ' || pg_catalog.format_type(p.prorettype, NULL), \
               'kind ' || ag.aggkind::text, \
               'sfunc ' || ag.aggtransfn::pg_catalog.regproc::text, \
               'stype ' || pg_catalog.format_type(ag.aggtranstype, NULL), \
               CASE WHEN ag.aggfinalfn <> 0 THEN 'finalfunc ' || ag.aggfinalfn::pg_catalog.regproc::text END, \
               CASE WHEN ag.aggcombinefn <> 0 THEN 'combinefunc ' || ag.aggcombinefn::pg_catalog.regproc::text END, \
               CASE WHEN ag.agginitval IS NOT NULL THEN 'initcond ' || pg_catalog.quote_literal(ag.agginitval) END, \
               CASE WHEN ag.aggsortop <> 0 THEN 'sortop ' || ag.aggsortop::pg_catalog.regoperator::text END) \
             FROM pg_catalog.pg_aggregate ag WHERE ag.aggfnoid = p.oid) \
           ELSE pg_catalog.pg_get_functiondef(p.oid) END \
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
         WHERE {} AND NOT {}",
        schema_object_filter("pg_proc", "p.oid", "n"),
        AUTO_FUNCTION
    )
}

/// Functions PostgreSQL made along with another object (a range type's constructors): they
/// depend on it internally and come and go with it.
const AUTO_FUNCTION: &str = "EXISTS (SELECT 1 FROM pg_catalog.pg_depend ad \
     WHERE ad.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND ad.objid = p.oid AND ad.deptype = 'i')";

fn sql_triggers() -> String {
    format!(
        "SELECT pg_catalog.format('%I.%I.%I', n.nspname, c.relname, t.tgname), \
           pg_catalog.pg_get_triggerdef(t.oid), t.tgenabled \
         FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE NOT t.tgisinternal AND {} \
           AND NOT {}",
        relation_filter("c", "n"),
        crate::snapshot::observe::is_capture_trigger("t")
    )
}

fn sql_rules() -> String {
    format!(
        "SELECT pg_catalog.format('%I.%I.%I', n.nspname, c.relname, r.rulename), \
           pg_catalog.pg_get_ruledef(r.oid), r.ev_enabled \
         FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE r.rulename <> '_RETURN' AND {}",
        relation_filter("c", "n")
    )
}

fn sql_statistics() -> String {
    format!(
        "SELECT pg_catalog.format('%I.%I', sn.nspname, s.stxname), pg_catalog.pg_get_statisticsobjdef(s.oid) \
         FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace sn ON sn.oid = s.stxnamespace \
         JOIN pg_catalog.pg_class c ON c.oid = s.stxrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE {} AND {}",
        relation_filter("c", "n"),
        schema_object_filter("pg_statistic_ext", "s.oid", "sn")
    )
}

fn sql_event_triggers() -> String {
    format!(
        "SELECT pg_catalog.format('%I', e.evtname), \
           pg_catalog.concat_ws(' ', 'on ' || e.evtevent, \
             'when tag in (' || (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(t), ', ' ORDER BY t COLLATE \"C\") \
               FROM pg_catalog.unnest(e.evttags) t) || ')', \
             'execute function ' || e.evtfoid::pg_catalog.regproc::text), \
           e.evtenabled \
         FROM pg_catalog.pg_event_trigger e \
         WHERE NOT {}",
        ext_member("pg_event_trigger", "e.oid")
    )
}

/// Enums, domains, composite, range and base types (not arrays, not table row types).
fn sql_types() -> String {
    format!(
        "SELECT CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END, \
           pg_catalog.format('%I.%I', n.nspname, t.typname), \
           CASE t.typtype \
           WHEN 'e' THEN 'enum (' || COALESCE((SELECT pg_catalog.string_agg(pg_catalog.quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) \
             FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid), '') || ')' \
           WHEN 'd' THEN pg_catalog.concat_ws(' ', pg_catalog.format_type(t.typbasetype, t.typtypmod), \
             CASE WHEN t.typcollation <> bt.typcollation THEN (SELECT 'collate ' || \
               CASE WHEN cn.nspname = 'pg_catalog' THEN pg_catalog.format('%I', co.collname) \
               ELSE pg_catalog.format('%I.%I', cn.nspname, co.collname) END \
               FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
               WHERE co.oid = t.typcollation) END, \
             'default ' || pg_catalog.pg_get_expr(t.typdefaultbin, 0), \
             CASE WHEN t.typnotnull THEN 'not null' END) \
           WHEN 'c' THEN 'composite (' || COALESCE((SELECT pg_catalog.string_agg( \
               pg_catalog.format('%I %s', a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)) \
               || CASE WHEN a.attcollation <> at.typcollation THEN ' collate ' || ( \
                 SELECT CASE WHEN cn.nspname = 'pg_catalog' THEN pg_catalog.format('%I', co.collname) \
                 ELSE pg_catalog.format('%I.%I', cn.nspname, co.collname) END \
                 FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
                 WHERE co.oid = a.attcollation) ELSE '' END, ', ' ORDER BY a.attnum) \
             FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type at ON at.oid = a.atttypid \
             WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '') || ')' \
           WHEN 'r' THEN (SELECT pg_catalog.concat_ws(' ', 'range subtype ' || pg_catalog.format_type(r.rngsubtype, NULL), \
               CASE WHEN r.rngcollation <> 0 THEN 'collation ' || r.rngcollation::pg_catalog.regcollation::text END, \
               'opclass ' || (SELECT pg_catalog.format('%I.%I', ocn.nspname, oc.opcname) FROM pg_catalog.pg_opclass oc \
                 JOIN pg_catalog.pg_namespace ocn ON ocn.oid = oc.opcnamespace WHERE oc.oid = r.rngsubopc), \
               CASE WHEN r.rngcanonical <> 0 THEN 'canonical ' || r.rngcanonical::pg_catalog.regproc::text END, \
               CASE WHEN r.rngsubdiff <> 0 THEN 'subtype_diff ' || r.rngsubdiff::pg_catalog.regproc::text END) \
             FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid) \
           ELSE pg_catalog.concat_ws(' ', 'base input', t.typinput::pg_catalog.regproc::text, \
             'output', t.typoutput::pg_catalog.regproc::text, 'length', t.typlen::text) \
           END \
         FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
         LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype \
         WHERE t.typtype IN ('e', 'd', 'c', 'r', 'b') \
           AND (t.typtype <> 'c' OR (SELECT rc.relkind FROM pg_catalog.pg_class rc WHERE rc.oid = t.typrelid) = 'c') \
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type el WHERE el.typarray = t.oid) \
           AND {}",
        schema_object_filter("pg_type", "t.oid", "n")
    )
}

fn sql_policies() -> String {
    format!(
        "SELECT pg_catalog.format('%I.%I.%I', n.nspname, c.relname, p.polname), \
           pg_catalog.concat_ws(' ', \
             CASE WHEN p.polpermissive THEN 'permissive' ELSE 'restrictive' END, \
             'for ' || CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' \
               WHEN 'd' THEN 'DELETE' ELSE 'ALL' END, \
             'to ' || (SELECT pg_catalog.string_agg(g, ', ' ORDER BY g COLLATE \"C\") FROM ( \
               SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_catalog.format('%I', pg_catalog.pg_get_userbyid(r)) END AS g \
               FROM pg_catalog.unnest(p.polroles) r) roles), \
             'using (' || pg_catalog.pg_get_expr(p.polqual, p.polrelid) || ')', \
             'with check (' || pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) || ')') \
         FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE {}",
        relation_filter("c", "n")
    )
}

/// Comments on every object the database holds (not on databases, roles or tablespaces, which
/// are shared). Objects made by initdb have OIDs below 16384 and are skipped up front (thousands
/// of built-in comments), except schemas: `public` may be commented by a migration.
fn sql_comments() -> String {
    format!(
        "WITH d AS ( \
           SELECT d.classoid, d.objoid, d.objsubid, d.description, \
             CASE d.classoid \
               WHEN 'pg_catalog.pg_class'::pg_catalog.regclass THEN d.objoid \
               WHEN 'pg_catalog.pg_constraint'::pg_catalog.regclass THEN (SELECT x.conrelid FROM pg_catalog.pg_constraint x WHERE x.oid = d.objoid) \
               WHEN 'pg_catalog.pg_trigger'::pg_catalog.regclass THEN (SELECT x.tgrelid FROM pg_catalog.pg_trigger x WHERE x.oid = d.objoid) \
               WHEN 'pg_catalog.pg_policy'::pg_catalog.regclass THEN (SELECT x.polrelid FROM pg_catalog.pg_policy x WHERE x.oid = d.objoid) \
               WHEN 'pg_catalog.pg_rewrite'::pg_catalog.regclass THEN (SELECT x.ev_class FROM pg_catalog.pg_rewrite x WHERE x.oid = d.objoid) \
               WHEN 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass THEN (SELECT x.stxrelid FROM pg_catalog.pg_statistic_ext x WHERE x.oid = d.objoid) \
             END AS relid \
           FROM pg_catalog.pg_description d \
           WHERE d.objoid >= 16384 OR d.classoid = 'pg_catalog.pg_namespace'::pg_catalog.regclass) \
         SELECT o.type, o.identity, d.description \
         FROM d CROSS JOIN LATERAL pg_catalog.pg_identify_object(d.classoid, d.objoid, d.objsubid) o \
         LEFT JOIN pg_catalog.pg_class c ON c.oid = d.relid \
         LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_catalog.pg_namespace sn ON d.classoid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND sn.oid = d.objoid \
         LEFT JOIN pg_catalog.pg_namespace os ON os.nspname = o.schema \
         WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = d.classoid AND e.objid = d.objoid AND e.deptype = 'e') \
           AND (sn.oid IS NULL OR ({} AND NOT {})) \
           AND (os.oid IS NULL OR ({} AND NOT {})) \
           AND (c.oid IS NULL OR ({})) \
           AND o.identity IS NOT NULL",
        user_schema("sn"),
        excluded_schema("sn.nspname"),
        user_schema("os"),
        excluded_schema("os.nspname"),
        relation_filter("c", "n"),
    )
}

/// Privileges that differ from PostgreSQL's defaults for the kind of object, leaving out the
/// owner's own (owners are not part of the fingerprint). A grant that was later revoked leaves
/// nothing behind.
fn sql_privileges() -> String {
    format!(
        "WITH objs(what, acl, owner, objtype) AS ( \
           SELECT CASE c.relkind WHEN 'S' THEN 'sequence ' WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view ' \
               WHEN 'f' THEN 'foreign table ' ELSE 'table ' END || pg_catalog.format('%I.%I', n.nspname, c.relname), \
             c.relacl, c.relowner, CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::\"char\" \
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
           WHERE c.relacl IS NOT NULL AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND {rel} \
           UNION ALL \
           SELECT 'column ' || pg_catalog.format('%I.%I.%I', n.nspname, c.relname, a.attname), a.attacl, c.relowner, 'c' \
           FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
           WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped AND {rel} \
           UNION ALL \
           SELECT CASE p.prokind WHEN 'p' THEN 'procedure ' ELSE 'function ' END \
               || pg_catalog.format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)), \
             p.proacl, p.proowner, 'f' \
           FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
           WHERE p.proacl IS NOT NULL AND {proc} AND NOT {auto} \
           UNION ALL \
           SELECT 'schema ' || pg_catalog.format('%I', n.nspname), n.nspacl, n.nspowner, 'n' \
           FROM pg_catalog.pg_namespace n WHERE n.nspacl IS NOT NULL AND {nsp} \
           UNION ALL \
           SELECT CASE t.typtype WHEN 'd' THEN 'domain ' ELSE 'type ' END || pg_catalog.format('%I.%I', n.nspname, t.typname), \
             t.typacl, t.typowner, 'T' \
           FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
           WHERE t.typacl IS NOT NULL AND {typ}), \
         granted AS ( \
           SELECT o.what, o.owner, a.grantee, a.privilege_type, a.is_grantable, \
             a.privilege_type || CASE WHEN a.is_grantable THEN ' (with grant option)' ELSE '' END AS privilege, \
             EXISTS (SELECT 1 FROM pg_catalog.aclexplode(pg_catalog.acldefault(o.objtype, o.owner)) d \
               WHERE d.grantee = a.grantee AND d.privilege_type = a.privilege_type AND d.is_grantable = a.is_grantable) AS is_default, \
             'grant' AS action \
           FROM objs o CROSS JOIN LATERAL pg_catalog.aclexplode(o.acl) a \
           UNION ALL \
           SELECT o.what, o.owner, d.grantee, d.privilege_type, d.is_grantable, d.privilege_type, \
             EXISTS (SELECT 1 FROM pg_catalog.aclexplode(o.acl) a \
               WHERE a.grantee = d.grantee AND a.privilege_type = d.privilege_type AND a.is_grantable = d.is_grantable), \
             'revoke' \
           FROM objs o CROSS JOIN LATERAL pg_catalog.aclexplode(pg_catalog.acldefault(o.objtype, o.owner)) d) \
         SELECT action, pg_catalog.string_agg(privilege, ', ' ORDER BY privilege COLLATE \"C\"), what, \
           CASE WHEN grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.format('%I', pg_catalog.pg_get_userbyid(grantee)) END \
         FROM granted WHERE NOT is_default AND grantee <> owner \
         GROUP BY action, what, grantee",
        rel = relation_filter("c", "n"),
        proc = schema_object_filter("pg_proc", "p.oid", "n"),
        nsp = schema_object_filter("pg_namespace", "n.oid", "n"),
        typ = schema_object_filter("pg_type", "t.oid", "n"),
        auto = AUTO_FUNCTION,
    )
}

/// A readable unified diff from `before` to `after` (empty when equal). As git does for
/// functions, a hunk that starts inside a multi-line entry names that entry after its `@@`
/// header, so a changed line of a function body says which function it belongs to.
pub fn diff(before: &Fingerprint, after: &Fingerprint) -> String {
    diff_named(before, after, ("before", "after"))
}

/// [`diff`] with its `---`/`+++` lines naming the two sides, e.g. `("target", "restored copy")`.
pub fn diff_named(before: &Fingerprint, after: &Fingerprint, names: (&str, &str)) -> String {
    if before == after {
        return String::new();
    }
    let old: Vec<&str> = before.text.lines().collect();
    let text_diff = similar::TextDiff::from_lines(&before.text, &after.text);
    let mut out = format!("--- {}\n+++ {}\n", names.0, names.1);
    for hunk in text_diff.unified_diff().context_radius(3).iter_hunks() {
        let start = hunk.ops().first().map_or(0, |op| op.old_range().start);
        let hunk = hunk.to_string();
        let (header, body) = hunk.split_once('\n').unwrap_or((&hunk, ""));
        out.push_str(header);
        if old.get(start).is_some_and(|l| l.starts_with("    "))
            && let Some(entry) = old[..start]
                .iter()
                .rev()
                .find(|l| !l.is_empty() && !l.starts_with(' '))
        {
            out.push(' ');
            out.push_str(entry);
        }
        out.push('\n');
        out.push_str(body);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclude_entries_follow_sql_name_rules() {
        let e = Exclude {
            objects: vec![
                "public._sqlx_migrations".into(),
                "migsafe.*".into(),
                r#""My Schema"."T.x""#.into(),
                "Flyway_History".into(),
                r#"s."*""#.into(),
            ],
        };
        let (schemas, tables) = e.pairs();
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            schemas,
            vec![s("public"), s("migsafe"), s("My Schema"), None, s("s")]
        );
        assert_eq!(
            tables,
            vec![
                s("_sqlx_migrations"),
                None,
                s("T.x"),
                s("flyway_history"),
                s("*")
            ]
        );
    }

    #[test]
    fn literals_stay_on_one_line() {
        assert_eq!(literal("it's\na \\ test"), r"'it''s\na \\ test'");
    }

    #[test]
    fn diff_is_empty_for_equal_fingerprints() {
        let a = Fingerprint {
            text: "table public.a\n".into(),
        };
        assert_eq!(diff(&a, &a.clone()), "");
        let b = Fingerprint {
            text: "table public.a\ntable public.b\n".into(),
        };
        let d = diff(&a, &b);
        assert!(d.starts_with("--- before\n+++ after\n"), "{d}");
        assert!(d.contains("+table public.b"), "{d}");
    }

    #[test]
    fn without_column_order_drops_only_those_lines() {
        let f = Fingerprint {
            text: "column public.a.x: integer\ntable public.a\ntable public.a column order: x, y\n"
                .into(),
        };
        assert_eq!(
            f.without_column_order().text,
            "column public.a.x: integer\ntable public.a\n"
        );
    }
}
