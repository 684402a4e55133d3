//! Sources: one module per migration runner's on-disk layout.
//!
//! A source turns a directory (or a set of files) into an ordered list of [`Migration`]s. Each
//! migration knows its version, name, up script, optional down script, checksum and the way the
//! runner executes it ([`ExecMode`]). Nothing here parses SQL beyond the runner's own in-file
//! markers (goose and dbmate sections, sqlx's `-- no-transaction`).
//!
//! Entry points: [`discover`] loads a directory (finding the migrations below a project root and
//! detecting the runner unless told), [`detect`] only names the runner, and [`load_files`] loads
//! files given one by one. Each runner module (`diesel`, `sqlx`, …) has a `load(dir)` for its own
//! layout; all of them return migrations in run order.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

pub mod dbmate;
pub mod diesel;
mod discover;
pub mod files;
pub mod flyway;
pub mod golang_migrate;
pub mod goose;
mod hints;
mod layout;
pub mod placeholders;
pub mod plain;
pub mod refinery;
pub mod sqitch;
pub mod sqlx;

pub use discover::{
    LoadOptions, detect, discover, discover_in, discover_with, load_dir, load_dir_in,
    load_dir_with, load_dirs_in, load_files, load_project, load_sources,
};
pub use files::{Disk, Files};

/// The migration runners migsafe understands.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    serde::Deserialize,
    clap::ValueEnum,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Runner {
    Diesel,
    Sqlx,
    GolangMigrate,
    Goose,
    Dbmate,
    Flyway,
    Refinery,
    Sqitch,
    /// Plain numbered `.sql` files run in order (e.g. with `psql -f`).
    Plain,
}

impl Runner {
    pub const ALL: [Runner; 9] = [
        Runner::Diesel,
        Runner::Sqlx,
        Runner::GolangMigrate,
        Runner::Goose,
        Runner::Dbmate,
        Runner::Flyway,
        Runner::Refinery,
        Runner::Sqitch,
        Runner::Plain,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Runner::Diesel => "diesel",
            Runner::Sqlx => "sqlx",
            Runner::GolangMigrate => "golang-migrate",
            Runner::Goose => "goose",
            Runner::Dbmate => "dbmate",
            Runner::Flyway => "flyway",
            Runner::Refinery => "refinery",
            Runner::Sqitch => "sqitch",
            Runner::Plain => "plain",
        }
    }

    /// Whether the runner has a notion of down (revert/undo) scripts at all.
    pub fn supports_down(self) -> bool {
        !matches!(self, Runner::Refinery | Runner::Plain)
    }
}

impl fmt::Display for Runner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the runner sends a script to PostgreSQL. This decides whether statements such as
/// `CREATE INDEX CONCURRENTLY` can run at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExecMode {
    /// `BEGIN; <script>; <bookkeeping>; COMMIT;` — every statement is inside a transaction.
    WrappedTx,
    /// The whole script is one simple-query string: PostgreSQL runs a multi-statement string as
    /// one implicit transaction, so a lone statement is outside a transaction but two are not.
    SingleSimpleQuery,
    /// Statement by statement in autocommit (psql, goose `NO TRANSACTION`); only explicit
    /// `BEGIN … COMMIT` in the script opens a transaction.
    PerStatement,
    /// Flyway: wrapped in a transaction unless the script contains a statement that cannot run
    /// in one, in which case the whole script runs statement by statement.
    FlywayAuto,
}

/// How statements are delimited in a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Delimiting {
    /// Semicolons outside quotes, comments and dollar quotes.
    Standard,
    /// goose: additionally `-- +goose StatementBegin` … `-- +goose StatementEnd` groups a block.
    Goose,
}

/// One SQL script: a whole file or a section of one (goose and dbmate keep up and down in one file).
#[derive(Debug, Clone)]
pub struct Script {
    /// Path as given or discovered (relative paths stay relative, for stable reports).
    pub path: PathBuf,
    /// The whole file's text, shared between the up and down sections of one file.
    pub source: Arc<str>,
    /// Byte range of this script inside `source`.
    pub range: Range<usize>,
    pub mode: ExecMode,
    pub delimiting: Delimiting,
    /// Byte ranges of `source` that are not the file's own text but values put in for
    /// placeholders (Flyway `${name}`). Line breaks inside them start no line of the file, so
    /// positions still name the file's own lines. Empty for nearly every script.
    pub folded: Vec<Range<usize>>,
}

impl Script {
    /// A script that is a whole file.
    pub fn whole(path: PathBuf, source: Arc<str>, mode: ExecMode) -> Script {
        let range = 0..source.len();
        Script {
            path,
            source,
            range,
            mode,
            delimiting: Delimiting::Standard,
            folded: Vec::new(),
        }
    }

    pub fn text(&self) -> &str {
        &self.source[self.range.clone()]
    }
}

/// One versioned change.
#[derive(Debug, Clone)]
pub struct Migration {
    /// The runner's version (kept as text: `20240102030405`, `1.2.1`, a sqitch change name).
    pub version: String,
    pub name: String,
    pub up: Script,
    pub down: Option<Script>,
    /// sha256 (hex) over the up script, a NUL, and the down script.
    pub checksum: String,
    /// Repeatable migrations (Flyway `R__`) have no version and re-run on change.
    pub repeatable: bool,
}

impl Migration {
    /// Identifier used in reports: `<version>_<name>`.
    pub fn id(&self) -> String {
        if self.name.is_empty() {
            self.version.clone()
        } else {
            format!("{}_{}", self.version, self.name)
        }
    }
}

/// A discovered project: the migrations of one directory under one runner, in run order.
#[derive(Debug, Clone)]
pub struct Project {
    pub runner: Runner,
    /// The file that decided the runner when the layout fits several (`go.mod`, `Dockerfile`,
    /// `Cargo.toml`, `flyway.conf` …); `None` when the layout, in-file markers, migsafe.toml or
    /// the caller chose it.
    pub runner_hint: Option<String>,
    /// The migrations directory, or the directory that stands for several.
    pub root: PathBuf,
    /// The directories the migrations were read from, in order: `[root]` for one, Flyway's
    /// `locations` or a `migrations_dir` list for several. Empty for files loaded one by one
    /// (and then read as `[root]`, see [`Project::dirs`]).
    pub dirs: Vec<PathBuf>,
    pub migrations: Vec<Migration>,
}

impl Project {
    /// The directories the migrations were read from: [`Project::dirs`], or `root` alone.
    pub fn dirs(&self) -> &[PathBuf] {
        if self.dirs.is_empty() {
            std::slice::from_ref(&self.root)
        } else {
            &self.dirs
        }
    }
}

/// Errors reading a migrations directory. Every variant names the path at fault.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not valid UTF-8 (byte {offset}); migration files must be UTF-8 text")]
    NotUtf8 { path: PathBuf, offset: usize },
    #[error("{path}: looks like a binary file (NUL byte at offset {offset}), not SQL")]
    Binary { path: PathBuf, offset: usize },
    #[error(
        "{path}: not a .sql file; migsafe lints SQL migration files (name a directory to let it find them)"
    )]
    NotSql { path: PathBuf },
    #[error("{path}: no such file or directory")]
    Missing { path: PathBuf },
    #[error("{path}: duplicate version {version} (also {other})")]
    DuplicateVersion {
        path: PathBuf,
        other: PathBuf,
        version: String,
    },
    #[error("{path}: down script without an up script for version {version}")]
    DownWithoutUp { path: PathBuf, version: String },
    #[error("{path}:{line}: {message}")]
    Layout {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error(
        "{path}: the layout fits several runners ({candidates}){hints}; choose with --runner, or set `runner = \"…\"` in migsafe.toml"
    )]
    Ambiguous {
        path: PathBuf,
        candidates: String,
        /// Empty, or `, and the repository points to several (sqlx from Cargo.toml, …)`.
        hints: String,
    },
    #[error("{path}: no migrations found (looked for the layouts of {looked_for})")]
    NothingFound { path: PathBuf, looked_for: String },
}

pub type Result<T, E = SourceError> = std::result::Result<T, E>;

/// Reads a file as UTF-8 SQL text, refusing binary and non-UTF-8 content with the offset.
pub fn read_sql(path: &Path) -> Result<Arc<str>> {
    read_sql_in(&Disk, path)
}

/// [`read_sql`] through `files`.
pub fn read_sql_in(files: &dyn Files, path: &Path) -> Result<Arc<str>> {
    let bytes = files.read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            SourceError::Missing {
                path: path.to_path_buf(),
            }
        } else {
            SourceError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    decode_sql(path, bytes)
}

/// Checks that `bytes` (read from `path`, or from stdin reported as `path`) are SQL text.
pub fn decode_sql(path: &Path, bytes: Vec<u8>) -> Result<Arc<str>> {
    if let Some(offset) = bytes.iter().position(|&b| b == 0) {
        return Err(SourceError::Binary {
            path: path.to_path_buf(),
            offset,
        });
    }
    match String::from_utf8(bytes) {
        // A UTF-8 byte order mark is not SQL; editors on Windows write one.
        Ok(s) => Ok(Arc::from(s.strip_prefix('\u{feff}').unwrap_or(&s))),
        Err(e) => Err(SourceError::NotUtf8 {
            path: path.to_path_buf(),
            offset: e.utf8_error().valid_up_to(),
        }),
    }
}

/// sha256 over up, a NUL separator and down, as lowercase hex.
pub fn checksum(up: &str, down: Option<&str>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(up.as_bytes());
    h.update([0u8]);
    if let Some(d) = down {
        h.update(d.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `runner` runs migration `a` before `b`, by its own order (see `layout::Order`):
/// diesel compares versions as strings, dbmate file names, sqitch keeps its plan's order (not
/// comparable across branches: never), the others numbers.
pub fn runs_before(runner: Runner, a: &Migration, b: &Migration) -> bool {
    match runner {
        Runner::Diesel => a.version < b.version,
        Runner::Dbmate => a.up.path.file_name() < b.up.path.file_name(),
        Runner::Sqitch => false,
        _ => layout::cmp_versions(&a.version, &b.version) == std::cmp::Ordering::Less,
    }
}
