//! Targeted capture: exactly what one statement destroys, streamed with `COPY … TO STDOUT`
//! inside the transaction that is about to run it.

use super::manifest::Object;
use super::store::Writer;
use crate::pg::connect::Target;

/// What to capture for one destroying statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// DROP TABLE: every row plus the table's definition.
    Table { table: String },
    /// DROP COLUMN: the key plus the columns' values.
    Columns { table: String, columns: Vec<String> },
    /// DELETE: the rows the statement's own predicate matches.
    Rows {
        table: String,
        alias: Option<String>,
        using: Option<String>,
        predicate: Option<String>,
    },
    /// UPDATE: the key, the old values of the assigned columns, and the values it will write.
    Values {
        table: String,
        alias: Option<String>,
        assignments: Vec<(String, String)>,
        from: Option<String>,
        predicate: Option<String>,
    },
    /// Lossy ALTER COLUMN TYPE: the key and the old values.
    TypeChange {
        table: String,
        column: String,
        new_type: String,
        using: Option<String>,
    },
    /// TRUNCATE: every row of every table it empties, CASCADE included.
    Truncate { tables: Vec<String>, cascade: bool },
    /// DROP SEQUENCE / ALTER SEQUENCE … RESTART: the sequence's state.
    Sequence { sequence: String },
    /// DROP SCHEMA … CASCADE: a full dump of the schema.
    Schema { schema: String },
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot capture `{statement}`: {reason}")]
    Unsupported { statement: String, reason: String },
    #[error("{0}")]
    Db(#[from] postgres::Error),
    #[error(transparent)]
    Store(#[from] super::StoreError),
    #[error(transparent)]
    Full(#[from] super::full::FullError),
    #[error("{0}")]
    Other(String),
}

/// What a capture wrote.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    pub objects: Vec<Object>,
    pub notes: Vec<String>,
}

/// The capture requests for one statement's text; statements that destroy nothing give none.
pub fn requests_for(_sql: &str) -> Result<Vec<Request>, CaptureError> {
    todo!()
}

/// Captures `requests` through `tx` (so it sees exactly what the statement will see) into
/// `writer`. `target` is used only for `Schema` requests (pg_dump on an exported snapshot).
pub fn capture(
    _tx: &mut postgres::Transaction<'_>,
    _target: &Target,
    _writer: &mut Writer,
    _requests: &[Request],
    _progress: &indicatif::ProgressBar,
) -> Result<Captured, CaptureError> {
    todo!()
}
