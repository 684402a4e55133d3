//! Down-path receipts (being written).

use std::path::{Path, PathBuf};

/// Evidence that a migration's down-path was proven, keyed by its exact contents.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Receipt {
    /// Migration id (`<version>_<name>`).
    pub id: String,
    pub up_sha256: String,
    /// `None` when the migration has no down script (it cannot pass, so never in a receipt).
    pub down_sha256: Option<String>,
    pub postgres_major: u32,
    pub migsafe_version: String,
    /// RFC 3339, UTC.
    pub verified_at: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Receipts {
    pub receipts: Vec<Receipt>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("{path}: cannot read receipts: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a receipts file: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{path}: cannot write receipts: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The default location, relative to the project root.
pub const DEFAULT_PATH: &str = ".migsafe/receipts.json";

impl Receipts {
    /// Reads `path`; a missing file is an empty set.
    pub fn load(_path: &Path) -> Result<Receipts, ReceiptError> {
        todo!("load")
    }
    /// Writes atomically (temp file, fsync, rename).
    pub fn save(&self, _path: &Path) -> Result<(), ReceiptError> {
        todo!("save")
    }
    /// The receipt for exactly these contents on this PostgreSQL major version, if any.
    pub fn valid_for(
        &self,
        _id: &str,
        _up_sha256: &str,
        _down_sha256: Option<&str>,
        _postgres_major: u32,
    ) -> Option<&Receipt> {
        todo!("valid_for")
    }
    /// Adds or replaces the receipt for `receipt.id` and the same PostgreSQL major version.
    pub fn record(&mut self, _receipt: Receipt) {
        todo!("record")
    }
}

/// sha256 of a script's text as lowercase hex.
pub fn sha256(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut out = String::with_capacity(64);
    for b in Sha256::digest(text.as_bytes()) {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The current time, RFC 3339 UTC.
pub fn now_rfc3339() -> String {
    todo!("now_rfc3339")
}
