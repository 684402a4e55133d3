//! Targeted restore: put destroyed data back into the current schema, keyed, keeping every row
//! that exists now. Conflicts are reported, never overwritten.

use serde::Serialize;

use super::manifest::Manifest;
use super::store::Entry;

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
    #[error("{0}")]
    Db(#[from] postgres::Error),
    #[error(transparent)]
    Store(#[from] super::StoreError),
    #[error("{0}")]
    Other(String),
}

/// Restores a targeted snapshot through `tx`. Files are checked against their sha256 while they
/// stream; a mismatch fails before `tx` commits, so nothing changes.
pub fn restore(
    _tx: &mut postgres::Transaction<'_>,
    _entry: &Entry,
    _manifest: &Manifest,
    _opts: RestoreOptions,
    _progress: &indicatif::ProgressBar,
) -> Result<RestoreReport, RestoreError> {
    todo!()
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
    pub elapsed_ms: u64,
}

/// Loads every data file of a targeted snapshot into plain tables of a scratch database that
/// `client` is connected to (created under schema `migsafe_drill`), then exports them again and
/// compares row counts and sha256 with the manifest. Never touches a target.
pub fn rehearse(
    _client: &mut postgres::Client,
    _entry: &Entry,
    _manifest: &Manifest,
    _progress: &indicatif::ProgressBar,
) -> Result<Vec<Rehearsal>, RestoreError> {
    todo!()
}
