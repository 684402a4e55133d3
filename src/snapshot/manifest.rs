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
pub struct FileEntry {
    /// Path relative to the snapshot directory, `/`-separated.
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
        self.files.iter().map(|f| f.bytes).sum()
    }
    pub fn total_rows(&self) -> u64 {
        self.objects.iter().map(|o| o.rows).sum()
    }
}

/// The JSON Schema of `manifest.json` (docs/schemas/snapshot-manifest.schema.json).
pub fn schema() -> schemars::Schema {
    schemars::schema_for!(Manifest)
}
