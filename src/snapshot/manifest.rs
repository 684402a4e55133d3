//! `manifest.json`: what a snapshot holds and how to check it. Written last and atomically, so a
//! directory with a valid manifest is a complete snapshot and anything else is not one.

use serde::{Deserialize, Serialize};

/// The manifest format this migsafe reads and writes.
pub const SCHEMA_VERSION: u32 = 1;
pub const FILE_NAME: &str = "manifest.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Only what one statement destroys, captured inside its transaction.
    Targeted,
    /// `pg_dump -Fd` of a whole database (or, for `DROP SCHEMA … CASCADE`, of one schema).
    Full,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Targeted => "targeted",
            Kind::Full => "full",
        }
    }
}

/// Which server and database the data came from, so a restore into another database is a
/// conscious choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabaseIdentity {
    /// `pg_control_system().system_identifier`: unique per cluster (initdb).
    pub system_identifier: String,
    pub database: String,
    /// `server_version`, e.g. `15.18`.
    pub server_version: String,
    /// `server_version_num`, e.g. `150018`.
    pub server_version_num: u32,
}

impl DatabaseIdentity {
    pub fn major(&self) -> u32 {
        self.server_version_num / 10000
    }

    /// Reads the identity of the database `client` is connected to.
    pub fn read(client: &mut impl postgres::GenericClient) -> Result<Self, postgres::Error> {
        let row = client.query_one(
            "SELECT (SELECT system_identifier::text FROM pg_control_system()), \
                    current_database()::text, current_setting('server_version'), \
                    current_setting('server_version_num')::int4",
            &[],
        )?;
        Ok(DatabaseIdentity {
            system_identifier: row.get(0),
            database: row.get(1),
            server_version: row.get(2),
            server_version_num: row.get::<_, i32>(3) as u32,
        })
    }
}

/// The migration step a snapshot guards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Guard {
    /// Migration id (`<version>_<name>`).
    pub migration: String,
    /// The destroying statement, whitespace collapsed.
    pub statement: String,
    /// Where it is: `path:line`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// What one data file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// Whole rows of a table (DROP TABLE, TRUNCATE, DELETE): restored by inserting the rows
    /// whose key is missing.
    Rows,
    /// Key + values of columns that are dropped (DROP COLUMN): restored into rows that still
    /// exist.
    Columns,
    /// Key + old values that a statement overwrites (UPDATE, lossy ALTER COLUMN TYPE), then the
    /// values it writes: restored where the row still holds what the statement wrote.
    Values,
    /// Rows a statement really changed, observed by migsafe's capture triggers: per row its
    /// sequence number, `I`, `U` or `D` (inserted, updated, deleted), the before-image of
    /// `columns`, then the after-image (`\N` where there is none). Rollback puts the
    /// before-image back where the row still holds the after-image.
    Changes,
    /// `CREATE TABLE …` of a dropped table, built from the catalog.
    Definition,
    /// A sequence's state: `last_value`, `is_called`, and its definition.
    Sequence,
    /// A `pg_dump -Fd` directory (full snapshots).
    Dump,
}

/// How rows are matched on restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    PrimaryKey,
    /// A unique index over NOT NULL columns (the table has no primary key).
    UniqueNotNull,
    /// No usable key: whole rows are the identity; duplicates are restored by count.
    WholeRow,
    /// Not keyed (definitions, sequences, dumps).
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Object {
    pub kind: ObjectKind,
    pub schema: String,
    /// Table, sequence, or (for dumps) the database or schema name.
    pub name: String,
    pub key_source: KeySource,
    /// Key columns; they are the file's first columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key: Vec<String>,
    /// Their types (`format_type`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_types: Vec<String>,
    /// The captured columns after the key, in file order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// Their types (`format_type`), same order as `columns`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub column_types: Vec<String>,
    /// Values objects: the file holds these columns' new values after the old ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    /// Rows in the file (0 for definitions and sequences).
    pub rows: u64,
    /// The data file (a file name, or a directory for dumps).
    pub file: String,
}

impl Object {
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// One file of the snapshot, relative to its directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path relative to the snapshot directory, `/`-separated.
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub schema_version: u32,
    pub id: String,
    pub kind: Kind,
    /// The target name from migsafe.toml, or the database name for `--database-url`.
    pub target: String,
    pub database: DatabaseIdentity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guards: Option<Guard>,
    pub objects: Vec<Object>,
    pub files: Vec<FileEntry>,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// Capture time in milliseconds.
    pub capture_ms: u64,
    pub migsafe_version: String,
    /// Things a reader must know, e.g. "public.logs has no key: whole rows captured".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Manifest {
    /// A manifest for a new snapshot; the store's writer sets id, target and files at commit.
    pub fn new(
        kind: Kind,
        database: DatabaseIdentity,
        guards: Option<Guard>,
        objects: Vec<Object>,
        notes: Vec<String>,
        capture_ms: u64,
    ) -> Manifest {
        Manifest {
            schema_version: SCHEMA_VERSION,
            id: String::new(),
            kind,
            target: String::new(),
            database,
            guards,
            objects,
            files: vec![],
            created_at: crate::drill::now_rfc3339(),
            capture_ms,
            migsafe_version: super::MIGSAFE_VERSION.to_string(),
            notes,
        }
    }

    pub fn total_bytes(&self) -> u64 {
        self.files
            .iter()
            .fold(0u64, |n, f| n.saturating_add(f.bytes))
    }
    pub fn total_rows(&self) -> u64 {
        self.objects
            .iter()
            .fold(0u64, |n, o| n.saturating_add(o.rows))
    }
}

/// The JSON Schema of `manifest.json` (docs/schemas/snapshot-manifest.schema.json).
pub fn schema() -> schemars::Schema {
    schemars::schema_for!(Manifest)
}

/// Why a manifest is refused: it is read from a store other people and machines may write, so
/// everything in it that reaches a path or a SQL statement is checked before anything is opened
/// or run. Names the offending field.
impl Manifest {
    pub fn validate(&self) -> Result<(), String> {
        let mut paths = std::collections::HashSet::new();
        for (i, f) in self.files.iter().enumerate() {
            plain_relative(&f.path).map_err(|e| format!("files[{i}].path {:?}: {e}", f.path))?;
            if !paths.insert(f.path.as_str()) {
                return Err(format!("files[{i}].path {:?}: listed twice", f.path));
            }
            if f.sha256.len() != 64 || !f.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("files[{i}].sha256: not a sha256 in hex"));
            }
            if f.bytes > LARGEST {
                return Err(format!("files[{i}].bytes: {} is not a file size", f.bytes));
            }
        }
        for (i, o) in self.objects.iter().enumerate() {
            let at = |field: &str| format!("objects[{i}].{field}");
            if o.rows > LARGEST {
                return Err(format!("{}: {} is not a row count", at("rows"), o.rows));
            }
            // A dump of a whole database names no schema.
            if !(o.kind == ObjectKind::Dump && o.schema.is_empty()) {
                identifier(&o.schema).map_err(|e| format!("{}: {e}", at("schema")))?;
            }
            identifier(&o.name).map_err(|e| format!("{}: {e}", at("name")))?;
            for (field, names) in [
                ("key", &o.key),
                ("columns", &o.columns),
                ("after", &o.after),
            ] {
                for (j, n) in names.iter().enumerate() {
                    identifier(n).map_err(|e| format!("{}[{j}]: {e}", at(field)))?;
                }
            }
            for (field, names, types) in [
                ("key_types", &o.key, &o.key_types),
                ("column_types", &o.columns, &o.column_types),
            ] {
                if !types.is_empty() && types.len() != names.len() {
                    return Err(format!(
                        "{}: {} types for {} names",
                        at(field),
                        types.len(),
                        names.len()
                    ));
                }
                for (j, t) in types.iter().enumerate() {
                    type_name(t).map_err(|e| format!("{}[{j}] {t:?}: {e}", at(field)))?;
                }
            }
            plain_relative(&o.file).map_err(|e| format!("{} {:?}: {e}", at("file"), o.file))?;
            // A file, or the directory of a dump (its files are listed one by one).
            let prefix = format!("{}/", o.file);
            let listed = paths.contains(o.file.as_str())
                || self.files.iter().any(|f| f.path.starts_with(&prefix));
            if !listed {
                return Err(format!(
                    "{} {:?}: not among the manifest's files",
                    at("file"),
                    o.file
                ));
            }
            if o.kind == ObjectKind::Changes
                && (o.key.is_empty() || o.key.iter().any(|k| !o.columns.contains(k)))
            {
                return Err(format!(
                    "{}: a key among the columns is required",
                    at("key")
                ));
            }
        }
        Ok(())
    }
}

/// The largest file size or row count a manifest may state (2^50, a pebibyte): sums of them
/// cannot overflow.
const LARGEST: u64 = 1 << 50;

/// A file name inside the snapshot directory: `/`-separated plain components, no absolute
/// path, no `.` or `..`, no backslash and no control character.
pub fn plain_relative(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("empty");
    }
    if path.chars().any(|c| c.is_control() || c == '\\') {
        return Err("holds a control character or a backslash");
    }
    if path.starts_with('/') {
        return Err("an absolute path: files must be inside the snapshot directory");
    }
    if path
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err("not a plain relative name inside the snapshot directory");
    }
    Ok(())
}

/// A PostgreSQL identifier as the catalog holds it: 1 to 63 bytes, no NUL.
fn identifier(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > 63 || name.contains('\0') {
        return Err("not an identifier (1 to 63 bytes, no NUL)");
    }
    Ok(())
}

/// A type as `format_type` writes it, checked token by token: names (plain or double-quoted),
/// dots, integers, parentheses, commas and brackets only, balanced. What passes cannot end a
/// statement, open a comment or a string, or leave a column definition; the server then checks
/// that it names a type (`to_regtype`) before it is used.
pub fn type_name(ty: &str) -> Result<(), &'static str> {
    if ty.is_empty() || ty.len() > 200 {
        return Err("not a type name (1 to 200 bytes)");
    }
    let b = ty.as_bytes();
    let (mut parens, mut brackets) = (0i32, 0i32);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' => {}
            b'"' => {
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err("an unterminated quoted name"),
                        Some(b'"') if b.get(i + 1) == Some(&b'"') => i += 1,
                        Some(b'"') => break,
                        Some(&c) if c < 0x20 || c == 0x7f => {
                            return Err("a control character in a quoted name");
                        }
                        Some(_) => {}
                    }
                    i += 1;
                }
            }
            b'(' => parens += 1,
            b')' => parens -= 1,
            b'[' => brackets += 1,
            b']' => brackets -= 1,
            b'.' | b',' => {}
            // `$` only inside a name (`a$b`): at a token's start it opens a dollar quote.
            b'$' if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') => {}
            c if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 => {}
            _ => return Err("holds characters a type name cannot"),
        }
        if parens < 0 || brackets < 0 || parens > 1 || brackets > 1 {
            return Err("unbalanced parentheses or brackets");
        }
        i += 1;
    }
    if parens != 0 || brackets != 0 {
        return Err("unbalanced parentheses or brackets");
    }
    if std::str::from_utf8(b).is_err() {
        return Err("not UTF-8");
    }
    Ok(())
}

#[cfg(test)]
mod validation_tests {
    use super::*;

    #[test]
    fn types_as_format_type_writes_them_pass() {
        for t in [
            "integer",
            "character varying(12)",
            "numeric(10,2)",
            "timestamp(3) with time zone",
            "interval day to second(3)",
            "text[]",
            "integer[][]",
            "public.\"Mood; drop\"",
            "\"char\"",
            "bit varying(5)",
            "app.\"Stätus\"",
            "my$type",
        ] {
            assert_eq!(type_name(t), Ok(()), "{t}");
        }
    }

    #[test]
    fn anything_that_could_leave_a_column_definition_is_refused() {
        for t in [
            "text); CREATE TABLE public.pwned AS SELECT current_user; CREATE TEMP TABLE zz (q text",
            "text -- comment",
            "text /* x */",
            "varchar('1')",
            "text)",
            "numeric((1),(2))",
            "\"unterminated",
            "",
            "text\n",
            "text DEFAULT $$\"$$) ON COMMIT DROP; CREATE TABLE public.pwned AS SELECT 1; --\"",
            "$tag$x$tag$",
            "text $1",
        ] {
            assert!(type_name(t).is_err(), "{t}");
        }
    }

    #[test]
    fn file_names_stay_inside_the_snapshot() {
        for ok in ["rows-1.copy", "dump/toc.dat", "a b.copy"] {
            assert_eq!(plain_relative(ok), Ok(()), "{ok}");
        }
        for bad in [
            "/etc/hostname",
            "../x",
            "a/../../b",
            "./x",
            "a//b",
            "",
            "a\\b",
            "x\u{1b}",
        ] {
            assert!(plain_relative(bad).is_err(), "{bad}");
        }
    }
}
