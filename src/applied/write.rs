//! TEMPORARY STUB (sqlx only): replaced by the hist-writers branch.
use postgres::Transaction;

use super::AppliedError;
use crate::source::{Migration, Runner};

pub fn writable(runner: Runner) -> Result<(), String> {
    match runner {
        Runner::Sqlx => Ok(()),
        _ => Err("not yet".into()),
    }
}

fn db(e: postgres::Error) -> AppliedError {
    AppliedError::Unexpected {
        table: "_sqlx_migrations".into(),
        message: crate::pg::error_text(&e),
    }
}

pub fn ensure_table(
    tx: &mut Transaction<'_>,
    _runner: Runner,
    _table: Option<&str>,
) -> Result<(), AppliedError> {
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL,
         installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL,
         checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL)",
    )
    .map_err(db)
}

fn row(
    tx: &mut Transaction<'_>,
    m: &Migration,
    success: bool,
    ms: i64,
) -> Result<(), AppliedError> {
    let v: i64 = m.version.parse().unwrap();
    let sum = super::sqlx_checksum(&m.up.path).unwrap();
    tx.execute(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES ($1, $2, $3, decode($4, 'hex'), $5)
         ON CONFLICT (version) DO UPDATE SET success = EXCLUDED.success, execution_time = EXCLUDED.execution_time",
        &[&v, &m.name.replace('_', " "), &success, &sum, &(ms * 1_000_000)],
    )
    .map_err(db)?;
    Ok(())
}

pub fn mark_started(
    tx: &mut Transaction<'_>,
    _runner: Runner,
    _table: Option<&str>,
    m: &Migration,
) -> Result<bool, AppliedError> {
    row(tx, m, false, 0)?;
    Ok(true)
}
pub fn record_up(
    tx: &mut Transaction<'_>,
    _runner: Runner,
    _table: Option<&str>,
    m: &Migration,
    execution_ms: i64,
) -> Result<(), AppliedError> {
    row(tx, m, true, execution_ms)
}
pub fn record_down(
    tx: &mut Transaction<'_>,
    _runner: Runner,
    _table: Option<&str>,
    m: &Migration,
    _previous: Option<&Migration>,
) -> Result<(), AppliedError> {
    let v: i64 = m.version.parse().unwrap();
    tx.execute("DELETE FROM _sqlx_migrations WHERE version = $1", &[&v])
        .map_err(db)?;
    Ok(())
}
