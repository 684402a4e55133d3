//! Runs one script of a migration on a target the way its runner does, capturing what each
//! destroying statement destroys immediately before it, in the same transaction (so the
//! snapshot holds exactly what the statement removes, and no other session can change those
//! rows in between: the capture takes SHARE locks).

use std::time::Instant;

use indicatif::ProgressBar;
use postgres::{Client, Transaction};

use super::defer;
use super::{ApplyError, Ctx};
use crate::classify::{ScriptAnalysis, Step};
use crate::ledger::Deferred;
use crate::snapshot::Manifest;
use crate::snapshot::capture::{self, CaptureOptions};
use crate::snapshot::manifest::{DatabaseIdentity, Guard, Kind};
use crate::source::ExecMode;
use crate::verify::exec::{ExecError, execute};

/// What running a script left behind, besides its effect on the schema.
#[derive(Debug, Default)]
pub struct ScriptRun {
    /// Snapshots taken, in statement order.
    pub snapshots: Vec<String>,
    /// Columns renamed aside instead of dropped.
    pub deferred: Vec<Deferred>,
    /// Destroying statements that ran without a snapshot, with why (accepted risk).
    pub unprotected: Vec<String>,
}

/// Whether the runner runs `script` inside one transaction.
pub fn transactional(script: &ScriptAnalysis) -> bool {
    match script.mode {
        ExecMode::WrappedTx | ExecMode::FlywayAuto => true,
        // One implicit transaction, unless the script is one statement that cannot run in
        // one (then the runner sends it alone, outside any transaction).
        ExecMode::SingleSimpleQuery => script.steps.iter().all(|s| s.in_transaction),
        ExecMode::PerStatement => false,
    }
}

/// Whether a statement destroys data (as lint classifies it).
pub fn destroys(step: &Step) -> bool {
    step.effects.iter().any(|e| e.effect.data.is_destructive())
}

/// Runs every statement of `script` inside `tx`.
pub fn run_in_tx(
    tx: &mut Transaction<'_>,
    ctx: &Ctx<'_>,
    migration_id: &str,
    version: &str,
    script: &ScriptAnalysis,
    soft_drop: bool,
    out: &mut ScriptRun,
) -> Result<(), ApplyError> {
    for step in &script.steps {
        run_statement(tx, ctx, migration_id, version, script, step, soft_drop, out)?;
    }
    Ok(())
}

/// Runs `script` statement by statement in autocommit, as psql or goose's `NO TRANSACTION`
/// do; a destroying statement runs in its own transaction together with its capture.
pub fn run_autocommit(
    client: &mut Client,
    ctx: &Ctx<'_>,
    migration_id: &str,
    version: &str,
    script: &ScriptAnalysis,
    out: &mut ScriptRun,
) -> Result<(), ApplyError> {
    for step in &script.steps {
        if !destroys(step) {
            execute(client, script, step).map_err(ApplyError::from_exec)?;
            continue;
        }
        if step.in_transaction {
            // Inside the script's own BEGIN … COMMIT: a transaction of ours would end it.
            return Err(ApplyError::Unsupported(format!(
                "{}:{}: a destroying statement inside the script's own BEGIN … COMMIT, in a script that runs outside a transaction: migsafe cannot capture it in the same transaction; move it to a migration that runs in a transaction",
                script.path.display(),
                step.start.line
            )));
        }
        let before = out.snapshots.len();
        let mut tx = client.transaction().map_err(ApplyError::db("begin"))?;
        let result = run_statement(
            &mut tx,
            ctx,
            migration_id,
            version,
            script,
            step,
            false,
            out,
        )
        .and_then(|()| tx.commit().map_err(ApplyError::db("commit")));
        if let Err(e) = result {
            // The statement rolled back with its capture: that snapshot protects nothing.
            super::discard(ctx, &out.snapshots[before..]);
            out.snapshots.truncate(before);
            return Err(e);
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn run_statement(
    tx: &mut Transaction<'_>,
    ctx: &Ctx<'_>,
    migration_id: &str,
    version: &str,
    script: &ScriptAnalysis,
    step: &Step,
    soft_drop: bool,
    out: &mut ScriptRun,
) -> Result<(), ApplyError> {
    let text = script.text(step);
    if destroys(step) {
        let location = format!("{}:{}", script.path.display(), step.start.line);
        match capture::requests_for(text) {
            Ok(requests) if !requests.is_empty() => match ctx.store {
                Some(store) => {
                    let guard = Guard {
                        migration: migration_id.to_string(),
                        statement: collapse(text),
                        location: Some(location),
                    };
                    let id = snapshot(tx, ctx, store, &requests, guard)?;
                    out.snapshots.push(id);
                }
                None => match ctx.accept_risk {
                    Some(_) => out
                        .unprotected
                        .push(format!("{location}: no snapshot store configured")),
                    None => {
                        return Err(ApplyError::Unsupported(format!(
                            "{location}: this statement destroys data and no snapshot store is configured: set [snapshots] store or pass --store"
                        )));
                    }
                },
            },
            // lint says it destroys data, yet there is nothing to capture: fail closed.
            Ok(_) => match ctx.accept_risk {
                Some(_) => out
                    .unprotected
                    .push(format!("{location}: migsafe does not know what to capture")),
                None => {
                    return Err(ApplyError::Unsupported(format!(
                        "{location}: this statement destroys data and migsafe does not know what to capture for it; take a full snapshot (`migsafe snapshot create --full`) and apply with --accept-risk"
                    )));
                }
            },
            Err(e) => match ctx.accept_risk {
                Some(_) => out.unprotected.push(format!("{location}: {e}")),
                None => return Err(ApplyError::Capture(location, e)),
            },
        }
        if soft_drop
            && let Some(d) =
                defer::soft_drop(tx, text, version).map_err(ApplyError::db("soft drop"))?
        {
            ctx.note(&format!(
                "{}.{}.{} renamed aside to {} (dropped when finalised)",
                d.schema, d.table, d.column, d.aside
            ));
            out.deferred.push(d);
            return Ok(());
        }
    }
    execute(tx, script, step).map_err(ApplyError::from_exec)
}

/// Takes one targeted snapshot through `tx` and commits it to the store (manifest last), so it
/// is complete before the step's transaction can commit.
fn snapshot(
    tx: &mut Transaction<'_>,
    ctx: &Ctx<'_>,
    store: &crate::snapshot::Store,
    requests: &[capture::Request],
    guard: Guard,
) -> Result<String, ApplyError> {
    let started = Instant::now();
    let identity = DatabaseIdentity::read(tx).map_err(ApplyError::db("read the identity"))?;
    let mut writer = store.begin(ctx.target_name).map_err(ApplyError::Store)?;
    let location = guard.location.clone().unwrap_or_default();
    let pb = ProgressBar::hidden();
    let captured = capture::capture_with(
        tx,
        ctx.target,
        &mut writer,
        requests,
        CaptureOptions { lock_tables: true },
        ctx.progress.unwrap_or(&pb),
    )
    .map_err(|e| ApplyError::Capture(location, e))?;
    let manifest = Manifest::new(
        Kind::Targeted,
        identity,
        Some(guard),
        captured.objects,
        captured.notes,
        started.elapsed().as_millis() as u64,
    );
    let m = writer.commit(manifest).map_err(ApplyError::Store)?;
    ctx.note(&format!(
        "snapshot {} taken ({} rows, {} bytes)",
        m.id,
        m.total_rows(),
        m.total_bytes()
    ));
    Ok(m.id)
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl ApplyError {
    fn from_exec(e: ExecError) -> ApplyError {
        match e {
            ExecError::Statement(f) => ApplyError::Statement(f),
            ExecError::Connection(source) => ApplyError::Db {
                what: "run the migration",
                source,
            },
        }
    }
}
