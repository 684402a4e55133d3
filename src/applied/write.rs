//! TEMPORARY STUB (not committed): replaced by the hist-writers branch.
use postgres::Transaction;

use super::AppliedError;
use crate::source::{Migration, Runner};

pub fn writable(runner: Runner) -> Result<(), String> {
    let _ = runner;
    Ok(())
}
pub fn ensure_table(
    _tx: &mut Transaction<'_>,
    _runner: Runner,
    _table: Option<&str>,
) -> Result<(), AppliedError> {
    todo!()
}
pub fn mark_started(
    _tx: &mut Transaction<'_>,
    _runner: Runner,
    _table: Option<&str>,
    _m: &Migration,
) -> Result<bool, AppliedError> {
    todo!()
}
pub fn record_up(
    _tx: &mut Transaction<'_>,
    _runner: Runner,
    _table: Option<&str>,
    _m: &Migration,
    _execution_ms: i64,
) -> Result<(), AppliedError> {
    todo!()
}
pub fn record_down(
    _tx: &mut Transaction<'_>,
    _runner: Runner,
    _table: Option<&str>,
    _m: &Migration,
    _previous: Option<&Migration>,
) -> Result<(), AppliedError> {
    todo!()
}
