//! Per-table data digests (being written).

use std::collections::BTreeMap;

use crate::classify::Destroyed;

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

pub fn digest(_client: &mut postgres::Client) -> Result<DataDigest, postgres::Error> {
    todo!("digest")
}

impl DataDigest {
    /// Every table and column whose data differs in `after`, marked by whether `destroyed`
    /// (from the static classification of the migration's up) announced it.
    pub fn changes(&self, _after: &DataDigest, _destroyed: &[Destroyed]) -> Vec<DataChange> {
        todo!("changes")
    }
}
