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
