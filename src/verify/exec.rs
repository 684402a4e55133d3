//! Runs a script the way its runner does (see [`ExecMode`]), and maps a PostgreSQL error back to
//! the file, line and column of the statement that failed.

use std::path::PathBuf;

use postgres::error::ErrorPosition;
use postgres::{Client, GenericClient};

use crate::classify::{ScriptAnalysis, Step};
use crate::source::ExecMode;

/// A statement PostgreSQL rejected, located in its file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScriptFailure {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    /// SQLSTATE, e.g. `42P01`.
    pub code: Option<String>,
    /// PostgreSQL's message, with its DETAIL and HINT lines when present.
    pub message: String,
}

impl std::fmt::Display for ScriptFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The script is wrong (or does not fit the database): a finding, not a tool error.
    #[error("{0}")]
    Statement(ScriptFailure),
    /// The connection broke: migsafe cannot tell anything about the script.
    #[error("lost the connection to PostgreSQL: {0}")]
    Connection(postgres::Error),
}

/// Runs `script` on `client` in the script's execution mode.
pub fn run_script(client: &mut Client, script: &ScriptAnalysis) -> Result<(), ExecError> {
    match script.mode {
        ExecMode::SingleSimpleQuery => single_query(client, script),
        ExecMode::PerStatement => {
            for step in &script.steps {
                execute(client, script, step)?;
            }
            Ok(())
        }
        // FlywayAuto is resolved by the classifier; anything left of it runs wrapped.
        ExecMode::WrappedTx | ExecMode::FlywayAuto => {
            client
                .batch_execute("BEGIN")
                .map_err(ExecError::Connection)?;
            for step in &script.steps {
                if let Err(e) = execute(client, script, step) {
                    let _ = client.batch_execute("ROLLBACK");
                    return Err(e);
                }
            }
            // A deferred constraint fails here, at the end of the script.
            client
                .batch_execute("COMMIT")
                .map_err(|e| failure(script, script.range.start, e))
        }
    }
}

/// The whole script as one simple-query message, as sqlx and golang-migrate send it: PostgreSQL
/// runs it as one implicit transaction. An error without a position names no statement; then
/// the statements are replayed one by one inside a transaction that is rolled back, to find
/// the one that fails.
fn single_query(client: &mut Client, script: &ScriptAnalysis) -> Result<(), ExecError> {
    let text = &script.source[script.range.clone()];
    let Err(e) = client.batch_execute(text) else {
        return Ok(());
    };
    if e.as_db_error().is_none() {
        return Err(ExecError::Connection(e));
    }
    if let Some(ErrorPosition::Original(p)) = e.as_db_error().and_then(|d| d.position()) {
        let offset = script.range.start + char_offset(text, *p as usize);
        return Err(failure_at(script, offset, &e));
    }
    // The implicit transaction left nothing behind unless the script commits part way.
    let commits = script.steps.iter().any(|s| {
        let t = script.text(s).trim_start().to_ascii_lowercase();
        t.starts_with("commit") || t.starts_with("end") || t.starts_with("rollback")
    });
    if !commits && script.steps.len() > 1 && client.batch_execute("BEGIN").is_ok() {
        let mut found = None;
        for step in &script.steps {
            if let Err(ExecError::Statement(f)) = execute(client, script, step) {
                found = Some(f);
                break;
            }
        }
        let _ = client.batch_execute("ROLLBACK");
        if let Some(mut f) = found {
            // Report what the real run said; the replay only located it.
            f.message = message(&e);
            f.code = e.code().map(|c| c.code().to_string());
            return Err(ExecError::Statement(f));
        }
    }
    Err(failure(script, script.range.start, e))
}

/// Runs one statement of `script` on `client` (a session or a transaction), locating an error
/// in the file.
pub fn execute(
    client: &mut impl GenericClient,
    script: &ScriptAnalysis,
    step: &Step,
) -> Result<(), ExecError> {
    let text = script.text(step);
    client.batch_execute(text).map_err(|e| {
        let offset = match e.as_db_error().and_then(|d| d.position()) {
            Some(ErrorPosition::Original(p)) => {
                step.statement.range.start + char_offset(text, *p as usize)
            }
            _ => step.statement.range.start,
        };
        failure(script, offset, e)
    })
}

/// PostgreSQL's 1-based character position → byte offset in `text`.
fn char_offset(text: &str, position: usize) -> usize {
    text.char_indices()
        .nth(position.saturating_sub(1))
        .map_or(text.len(), |(i, _)| i)
}

/// PostgreSQL's verdict on the script becomes a located failure; anything else is a broken
/// connection.
fn failure(script: &ScriptAnalysis, offset: usize, e: postgres::Error) -> ExecError {
    if e.as_db_error().is_none() {
        return ExecError::Connection(e);
    }
    failure_at(script, offset, &e)
}

fn failure_at(script: &ScriptAnalysis, offset: usize, e: &postgres::Error) -> ExecError {
    let (line, column) = script.lines.position(&script.source, offset);
    ExecError::Statement(ScriptFailure {
        path: script.path.clone(),
        line,
        column,
        code: e.code().map(|c| c.code().to_string()),
        message: message(e),
    })
}

/// `ERROR: relation "x" does not exist` with its DETAIL and HINT.
fn message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => {
            let mut m = d.message().to_string();
            if let Some(detail) = d.detail() {
                m.push_str("\nDETAIL: ");
                m.push_str(detail);
            }
            if let Some(hint) = d.hint() {
                m.push_str("\nHINT: ");
                m.push_str(hint);
            }
            m
        }
        None => e.to_string(),
    }
}
