//! Synthetic rows for the round trip (being written).

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// Rows to insert into each table that has none yet.
    pub rows_per_table: usize,
    /// The user's own seed SQL (`--seed FILE`), run after the synthetic rows.
    pub seed_file: Option<PathBuf>,
}

/// What was seeded, and what could not be (a table whose constraints no synthetic row meets).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SeedSummary {
    /// `schema.table` → rows inserted.
    pub seeded: Vec<(String, u64)>,
    /// `schema.table` → why no rows could be inserted.
    pub skipped: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Postgres(#[from] postgres::Error),
    #[error("{path}: {message}")]
    SeedFile { path: PathBuf, message: String },
}

/// Inserts rows into every user table of the connected database.
pub fn seed(_client: &mut postgres::Client, _opts: &SeedOptions) -> Result<SeedSummary, SeedError> {
    todo!("seed")
}
