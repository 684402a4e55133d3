//! Full snapshots: `pg_dump -Fd -j N` into the store, `pg_restore -j N` back.

use std::path::PathBuf;

use super::manifest::{Manifest, Object};
use super::store::{Entry, Writer};
use crate::pg::connect::Target;

#[derive(Debug, thiserror::Error)]
pub enum FullError {
    #[error("{0}")]
    Tool(String),
    #[error(transparent)]
    Store(#[from] super::StoreError),
}

#[derive(Debug, Clone, Default)]
pub struct DumpOptions {
    /// Parallel jobs (`-j`); 0 means the number of CPUs (at least 1).
    pub jobs: usize,
    /// Only this schema (`DROP SCHEMA … CASCADE`).
    pub schema: Option<String>,
    /// An exported snapshot (`pg_export_snapshot()`) the dump must see.
    pub snapshot: Option<String>,
    /// Directory of pg_dump / pg_restore [default: found like initdb].
    pub bindir: Option<PathBuf>,
}

/// Dumps `target` into `writer`'s directory (`dump/`), hashes the files, and returns the dump
/// object plus one `Rows` count object per table (exact counts in the dump's snapshot).
pub fn dump(
    _target: &Target,
    _writer: &mut Writer,
    _opts: &DumpOptions,
    _progress: &indicatif::ProgressBar,
) -> Result<Vec<Object>, FullError> {
    todo!("helper: full snapshot")
}

#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    pub jobs: usize,
    /// Drop and recreate objects in the database first (`--clean --if-exists`): restoring over
    /// the target.
    pub clean: bool,
    pub bindir: Option<PathBuf>,
}

/// Checks every file's sha256, then `pg_restore -j N` into the database `into` names.
pub fn restore(
    _entry: &Entry,
    _manifest: &Manifest,
    _into: &Target,
    _opts: &RestoreOptions,
    _progress: &indicatif::ProgressBar,
) -> Result<(), FullError> {
    todo!("helper: full restore")
}
