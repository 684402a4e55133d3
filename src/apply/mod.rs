//! `migsafe apply`, `rollback` and `finalise` on one target: the write side of the release path.
//!
//! Per target: one connection holding the database's migsafe lock for the whole run
//! ([`crate::ledger::lock`]); `lock_timeout` / `statement_timeout` from `[apply]`; the gates
//! from [`crate::plan`] decide what may run. Each migration runs in its runner's execution mode
//! ([`exec`]); for a transactional one, its snapshots, its statements, the runner's history row
//! and migsafe's ledger row commit together, so a crash leaves the target before or after the
//! whole step. A migration that runs outside a transaction is noted in the ledger first
//! (`in_progress`, plus the runner's own dirty marker where it has one), so the next run knows
//! it stopped part way.
//!
//! - [`exec`]: running a script with a capture before each destroying statement.
//! - [`defer`]: soft drop of plain `DROP COLUMN`s, swapped back on rollback.
//! - [`rollback`]: downs, newest first, with the snapshots restored.
//! - [`report`]: what a run did, for people and for release tools.

pub mod defer;
pub mod exec;
pub mod report;
pub mod rollback;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use jiff::Timestamp;
use postgres::Client;

use crate::applied::{AppliedError, write};
use crate::classify::{Analysis, MigrationAnalysis};
use crate::config::{ApplySettings, TargetConfig};
use crate::ledger::{self, Direction, EventKind, LedgerError, StepRecord};
use crate::pg::connect::{self, Target};
use crate::pg::error_text;
use crate::plan::{self, PlanInput, Verdict};
use crate::snapshot::capture::CaptureError;
use crate::snapshot::restore::RestoreError;
use crate::snapshot::{Store, StoreError};
use crate::source::Project;
use crate::verify::exec::ScriptFailure;
use crate::verify::receipts::{self, Receipts};

pub use report::{Outcome, PlannedStatement, StepReport, TargetReport};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Refused by a gate or a check before anything changed.
    #[error("{0}")]
    Blocked(String),
    /// Something migsafe cannot do safely on this target.
    #[error("{0}")]
    Unsupported(String),
    /// The tripwire: a statement changed data that was not recorded; the step rolled back.
    #[error("{0}")]
    Unrecorded(String),
    /// PostgreSQL rejected a statement of the migration.
    #[error("{0}")]
    Statement(ScriptFailure),
    #[error("{0}: cannot capture what this statement destroys: {1}")]
    Capture(String, CaptureError),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    History(#[from] AppliedError),
    #[error("restoring snapshot {0}: {1}")]
    Restore(String, RestoreError),
    #[error("cannot {what}: {}", error_text(.source))]
    Db {
        what: &'static str,
        source: postgres::Error,
    },
}

impl ApplyError {
    pub(crate) fn db(what: &'static str) -> impl FnOnce(postgres::Error) -> ApplyError {
        move |source| ApplyError::Db { what, source }
    }

    /// Refusals (exit 1) as opposed to failures (exit 2).
    pub fn is_blocked(&self) -> bool {
        matches!(self, ApplyError::Blocked(_) | ApplyError::Unrecorded(_))
    }
}

/// What every step of a run shares.
pub struct Ctx<'a> {
    pub target_name: &'a str,
    pub target: &'a Target,
    pub store: Option<&'a Store>,
    /// `--accept-risk`: the reason, recorded in the ledger.
    pub accept_risk: Option<&'a str>,
    /// `--accept-loss TABLE REASON`: unrecorded losses the tripwire lets through.
    pub accept_loss: &'a [(String, String)],
    pub progress: Option<&'a ProgressBar>,
    /// Progress notes for people (stderr); data goes to the report.
    pub log: &'a (dyn Fn(&str) + Sync),
}

impl Ctx<'_> {
    pub fn note(&self, message: &str) {
        (self.log)(&format!("{}: {message}", self.target_name));
    }
}

/// What apply, rollback and finalise need besides the target.
pub struct Options<'a> {
    pub analysis: &'a Analysis,
    pub settings: &'a ApplySettings,
    pub store: Option<&'a Store>,
    pub receipts: &'a Receipts,
    pub receipts_path: &'a Path,
    pub drill_max_age: Option<Duration>,
    /// `[drift] ignore` and `[drift] blocks`, for the gates.
    pub drift_ignore: &'a [crate::config::DriftIgnore],
    pub drift_blocks: bool,
    pub accept_risk: Option<&'a str>,
    /// `--accept-loss TABLE REASON` pairs (apply only).
    pub accept_loss: &'a [(String, String)],
    /// How long to wait for another run's lock; `None` fails at once.
    pub wait: Option<Duration>,
    pub dry_run: bool,
    pub log: &'a (dyn Fn(&str) + Sync),
}

impl Options<'_> {
    pub(crate) fn project(&self) -> Project {
        Project {
            runner: self.analysis.runner,
            runner_hint: self.analysis.runner_hint.clone(),
            root: self.analysis.root.clone(),
            dirs: Vec::new(),
            migrations: self
                .analysis
                .migrations
                .iter()
                .map(|m| m.migration.clone())
                .collect(),
        }
    }

    pub(crate) fn find(&self, version: &str) -> Option<&MigrationAnalysis> {
        self.analysis
            .migrations
            .iter()
            .find(|m| m.migration.version == version || m.migration.id() == version)
    }
}

/// Connects to a target and, unless `dry_run`, takes its lock and sets the session's timeouts.
pub(crate) fn open(t: &TargetConfig, opts: &Options<'_>) -> Result<(Target, Client), ApplyError> {
    let url = t.url().map_err(ApplyError::Unsupported)?;
    let target = connect::from_url(&url)
        .map_err(|e| ApplyError::Unsupported(format!("target `{}`: invalid url: {e}", t.name)))?;
    let client = session(t, &target, opts.settings)?;
    Ok((target, client))
}

/// A new connection with the `[apply]` timeouts and the target's `session` settings. Each step
/// runs on its own, so that session state one migration leaves behind (`SET search_path`,
/// temporary tables, prepared statements) cannot make the next one pass or fail; the run's lock
/// stays on the first.
pub(crate) fn session(
    t: &TargetConfig,
    target: &Target,
    settings: &ApplySettings,
) -> Result<Client, ApplyError> {
    let name = &t.name;
    let mut client = connect::connect(target)
        .map_err(|e| ApplyError::Unsupported(format!("target `{name}`: {e}")))?;
    client
        .execute(
            "SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)",
            &[&settings.lock_timeout, &settings.statement_timeout],
        )
        .map_err(ApplyError::db("set lock_timeout and statement_timeout"))?;
    connect::set_session(&mut client, &t.session)
        .map_err(|e| ApplyError::Unsupported(t.session_error(e)))?;
    Ok(client)
}

/// Runs `f` on a connection to `t` holding the target's migsafe lock (no lock for dry runs,
/// which write nothing).
pub(crate) fn with_target<T>(
    t: &TargetConfig,
    opts: &Options<'_>,
    f: impl FnOnce(&mut Client, &Target) -> Result<T, ApplyError>,
) -> Result<T, ApplyError> {
    let (target, mut client) = open(t, opts)?;
    if opts.dry_run {
        return f(&mut client, &target);
    }
    let mut lock = ledger::lock(&mut client, &t.name, opts.wait)?;
    let out = f(&mut lock, &target)?;
    lock.unlock()?;
    Ok(out)
}

/// Refuses a target where a step was interrupted part way outside a transaction.
pub(crate) fn check_in_progress(client: &mut Client, target: &str) -> Result<(), ApplyError> {
    let open = ledger::in_progress(client)?;
    let Some(p) = open.first() else {
        return Ok(());
    };
    Err(ApplyError::Blocked(format!(
        "migration {} ({}) was interrupted at {} while running outside a transaction (pid {}): part of it may have run. Check {target}, finish or undo it by hand, record the outcome in the runner's history, then clear the note: DELETE FROM \"migsafe\".\"in_progress\" WHERE \"migration_id\" = '{}'",
        p.migration_id,
        p.direction,
        p.started_at,
        p.pid,
        p.migration_id.replace('\'', "''")
    )))
}

/// Applies the pending migrations of one target, up to `to` (a version or id) when given.
pub fn apply_target(opts: &Options<'_>, t: &TargetConfig, to: Option<&str>) -> TargetReport {
    let mut report = TargetReport::new(&t.name, opts.dry_run);
    if let Err(e) = apply_inner(opts, t, to, &mut report) {
        report.fail(e);
    }
    report
}

fn apply_inner(
    opts: &Options<'_>,
    t: &TargetConfig,
    to: Option<&str>,
    report: &mut TargetReport,
) -> Result<(), ApplyError> {
    let runner = opts.analysis.runner;
    write::writable(runner).map_err(|why| {
        ApplyError::Unsupported(format!("migsafe cannot apply {runner} migrations: {why}"))
    })?;
    with_target(t, opts, |client, target| {
        apply_locked(opts, t, to, report, client, target)
    })
}

fn apply_locked(
    opts: &Options<'_>,
    t: &TargetConfig,
    to: Option<&str>,
    report: &mut TargetReport,
    client: &mut Client,
    target: &Target,
) -> Result<(), ApplyError> {
    // Gates are judged after the lock: no other migsafe run can change the answer now.
    let plan = plan::plan(&PlanInput {
        analysis: opts.analysis,
        targets: vec![t.clone()],
        waves: vec![],
        receipts: opts.receipts,
        receipts_path: opts.receipts_path,
        snapshot_store: opts.store.map(Store::root),
        drill_max_age: opts.drill_max_age,
        drift_ignore: opts.drift_ignore,
        drift_blocks: opts.drift_blocks,
    });
    let tp = plan.targets.into_iter().next().expect("one target planned");
    report.database = tp.database.clone();
    check_in_progress(client, &t.name)?;
    if !tp.problems.is_empty() {
        let lines: Vec<String> = tp
            .problems
            .iter()
            .map(|p| match &p.fix {
                Some(fix) => format!("{} (fix: {fix})", p.message),
                None => p.message.clone(),
            })
            .collect();
        return Err(ApplyError::Blocked(format!(
            "{} cannot be applied to: {}",
            t.name,
            lines.join("; ")
        )));
    }
    let mut selected = tp.pending;
    if let Some(to) = to {
        match selected
            .iter()
            .position(|p| p.id == to || opts.find(to).is_some_and(|m| m.migration.id() == p.id))
        {
            Some(i) => selected.truncate(i + 1),
            None => {
                return match opts.find(to) {
                    Some(m) => {
                        report.note = Some(format!(
                            "{} is already applied: nothing to do",
                            m.migration.id()
                        ));
                        Ok(())
                    }
                    None => Err(ApplyError::Unsupported(format!(
                        "--to {to}: no such migration in {}",
                        opts.analysis.root.display()
                    ))),
                };
            }
        }
    }
    if selected.is_empty() {
        report.note = Some("nothing pending".into());
        return Ok(());
    }
    let blocked: Vec<&plan::PendingMigration> = selected
        .iter()
        .filter(|p| p.verdict == Verdict::Blocked)
        .collect();
    if !blocked.is_empty() && opts.accept_risk.is_none() {
        report.blocked = blocked.iter().map(|p| report::Blocked::of(p)).collect();
        return Err(ApplyError::Blocked(format!(
            "{} blocked migration{} (nothing was applied): clear the gates below, or apply with --accept-risk \"<reason>\" to record that you accept no way back",
            blocked.len(),
            if blocked.len() == 1 { "" } else { "s" }
        )));
    }
    let blocked_ids: Vec<String> = blocked.iter().map(|p| p.id.clone()).collect();
    let by_id: HashMap<String, &MigrationAnalysis> = opts
        .analysis
        .migrations
        .iter()
        .map(|m| (m.migration.id(), m))
        .collect();
    let ctx = Ctx {
        target_name: &t.name,
        target,
        store: opts.store,
        accept_risk: opts.accept_risk,
        accept_loss: opts.accept_loss,
        progress: None,
        log: opts.log,
    };
    for p in &selected {
        let m = by_id[&p.id];
        if opts.dry_run {
            report
                .steps
                .push(report::dry_run_step(client, m, opts.settings.soft_drop)?);
            continue;
        }
        let accepted = blocked_ids.contains(&p.id).then(|| {
            opts.accept_risk
                .expect("blocked migrations need --accept-risk")
                .to_string()
        });
        ctx.note(&format!("applying {}", p.id));
        let mut step_client = session(t, target, opts.settings)?;
        let step = apply_one(&mut step_client, &ctx, opts, m, accepted, &p.gates)?;
        report.steps.push(step);
    }
    Ok(())
}

/// Applies one migration; see the module comment for what commits together.
fn apply_one(
    client: &mut Client,
    ctx: &Ctx<'_>,
    opts: &Options<'_>,
    m: &MigrationAnalysis,
    accepted_risk: Option<String>,
    gates: &[plan::Gate],
) -> Result<StepReport, ApplyError> {
    let runner = opts.analysis.runner;
    let id = m.migration.id();
    let version = m.migration.version.clone();
    let started_at = Timestamp::now();
    let t0 = Instant::now();
    let transactional = exec::transactional(&m.up);
    let mut run = exec::ScriptRun::default();
    let mut history = None;
    exec::prepare_capture(client, ctx, &m.up);
    if !transactional {
        let mut tx = client.transaction().map_err(ApplyError::db("begin"))?;
        ledger::ensure(&mut tx)?;
        write::ensure_table(&mut tx, runner, None)?;
        history = history_table(&mut tx, runner)?;
        ledger::mark_in_progress(&mut tx, &id, Direction::Up)?;
        write::mark_started(&mut tx, runner, history.as_deref(), &m.migration)?;
        tx.commit()
            .map_err(ApplyError::db("note the step in progress"))?;
        let result = exec::run_autocommit(client, ctx, &id, &version, &m.up, &mut run);
        // Whatever ran is committed: its snapshots protect committed changes.
        pin_or_warn(ctx, &run.snapshots, &format!("interrupted step {id}"));
        result?;
    }
    // Until COMMIT is sent a failure leaves nothing behind; after, its outcome is unknown.
    let mut committing = false;
    let mut superseded: Vec<String> = vec![];
    let result = (|| -> Result<i64, ApplyError> {
        let mut tx = client.transaction().map_err(ApplyError::db("begin"))?;
        if transactional {
            ledger::ensure(&mut tx)?;
            write::ensure_table(&mut tx, runner, None)?;
            history = history_table(&mut tx, runner)?;
            exec::run_in_tx(
                &mut tx,
                ctx,
                &id,
                &version,
                &m.up,
                opts.settings.soft_drop,
                &mut run,
            )?;
        } else {
            ledger::clear_in_progress(&mut tx, &id)?;
        }
        let execution_ms = t0.elapsed().as_millis() as i64;
        write::record_up(
            &mut tx,
            runner,
            history.as_deref(),
            &m.migration,
            execution_ms,
        )?;
        let step = StepRecord {
            id: None,
            migration_id: id.clone(),
            version: version.clone(),
            direction: Direction::Up,
            started_at,
            finished_at: Timestamp::now(),
            up_sha256: receipts::sha256(m.migration.up.text()),
            down_sha256: m
                .migration
                .down
                .as_ref()
                .map(|d| receipts::sha256(d.text())),
            snapshot_ids: run.snapshots.clone(),
            snapshot_sha256: run.manifest_sha256.clone(),
            accepted_risk: accepted_risk.clone(),
            runner: runner.to_string(),
            execution_ms,
            deferred: run.deferred.clone(),
            finalised_at: None,
        };
        // An earlier up step of this migration that was never rolled back through migsafe
        // (the runner rolled it back itself) no longer describes the database.
        superseded = ledger::applied_steps(&mut tx)?
            .into_iter()
            .filter(|s| s.migration_id == id && s.finalised_at.is_none())
            .flat_map(|s| s.snapshot_ids)
            .collect();
        if ledger::finalise(&mut tx, &id)? > 0 {
            ledger::record_event(
                &mut tx,
                EventKind::Finalise,
                ctx.target_name,
                &serde_json::json!({
                    "migration": id,
                    "reason": "superseded: applied again after a rollback outside migsafe",
                }),
            )?;
        }
        let step_id = ledger::record_step(&mut tx, &step)?;
        if let Some(reason) = &accepted_risk {
            let failed: Vec<serde_json::Value> = gates
                .iter()
                .filter(|g| !g.passed)
                .map(|g| serde_json::json!({"gate": g.gate, "detail": g.detail}))
                .collect();
            ledger::record_event(
                &mut tx,
                EventKind::AcceptRisk,
                ctx.target_name,
                &serde_json::json!({
                    "migration": id, "step": step_id, "reason": reason,
                    "failed_gates": failed, "unprotected": run.unprotected,
                }),
            )?;
        }
        ledger::record_event(
            &mut tx,
            EventKind::Apply,
            ctx.target_name,
            &serde_json::json!({
                "migration": id, "step": step_id, "snapshots": run.snapshots,
                "deferred": run.deferred, "execution_ms": execution_ms,
                "accepted_loss": run.accepted_loss,
            }),
        )?;
        // Pinned before the commit: a crash in between leaves a pinned orphan, never a
        // committed step whose snapshot prune may delete.
        pin(ctx, &run.snapshots, &format!("step {step_id}: {id}"))?;
        committing = true;
        tx.commit().map_err(ApplyError::db("commit the step"))?;
        Ok(step_id)
    })();
    if result.is_ok() {
        unpin(ctx, &superseded);
    }
    match result {
        Ok(step_id) => Ok(StepReport {
            migration: id,
            direction: "up",
            transactional,
            ledger_step: Some(step_id),
            snapshots: run.snapshots,
            deferred: run.deferred,
            accepted_risk,
            unprotected: run.unprotected,
            execution_ms: t0.elapsed().as_millis() as u64,
            ..Default::default()
        }),
        Err(e) => {
            if transactional && !committing {
                // The transaction rolled back: nothing refers to these snapshots.
                discard(ctx, &run.snapshots);
            } else if committing {
                ctx.note(&format!(
                    "the commit of {id} did not answer: it may or may not have committed; its snapshots stay pinned. Run `migsafe plan --target {}` to see which",
                    ctx.target_name
                ));
            }
            Err(e)
        }
    }
}

/// The runner's history table, schema-qualified, resolved before a migration runs: a migration
/// may change `search_path` in its session, and the history row must still go where the
/// runner keeps it.
pub(crate) fn history_table(
    tx: &mut postgres::Transaction<'_>,
    runner: crate::source::Runner,
) -> Result<Option<String>, ApplyError> {
    let Some(name) = crate::applied::default_table(runner) else {
        return Ok(None);
    };
    tx.query_one(
        "SELECT (SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)
                 FROM pg_catalog.pg_class c
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.oid = pg_catalog.to_regclass($1))",
        &[&name],
    )
    .map(|r| r.get(0))
    .map_err(ApplyError::db("find the runner's history table"))
}

/// Pins snapshots an applied step depends on, so `snapshot prune` keeps them. Called before
/// the step commits: a snapshot that cannot be pinned fails the step rather than leave a
/// committed step whose snapshot prune may delete.
pub(crate) fn pin(ctx: &Ctx<'_>, ids: &[String], reason: &str) -> Result<(), ApplyError> {
    let Some(store) = ctx.store else {
        return Ok(());
    };
    for id in ids {
        store
            .find(id)
            .and_then(|e| store.pin(&e, reason))
            .map_err(ApplyError::Store)?;
    }
    Ok(())
}

/// [`pin`] where the changes are already committed: failing would protect nothing, so it warns.
pub(crate) fn pin_or_warn(ctx: &Ctx<'_>, ids: &[String], reason: &str) {
    if let Err(e) = pin(ctx, ids, reason) {
        ctx.note(&format!(
            "WARNING: cannot pin snapshots {}: {e}; `snapshot prune` could remove them",
            ids.join(", ")
        ));
    }
}

pub(crate) fn unpin(ctx: &Ctx<'_>, ids: &[String]) {
    let Some(store) = ctx.store else { return };
    for id in ids {
        if let Err(e) = store.find(id).and_then(|e| store.unpin(&e)) {
            ctx.note(&format!("warning: cannot unpin snapshot {id}: {e}"));
        }
    }
}

/// Removes snapshots of a step that did not commit.
pub(crate) fn discard(ctx: &Ctx<'_>, ids: &[String]) {
    let Some(store) = ctx.store else { return };
    for id in ids {
        if let Err(e) = store.find(id).and_then(|e| store.remove(&e)) {
            ctx.note(&format!(
                "warning: cannot remove snapshot {id} of the failed step: {e}"
            ));
        }
    }
}

/// Drops the columns kept aside by applied steps up to `to` (all when `None`), marks those
/// steps final, and unpins their snapshots: after this, they cannot be rolled back with data.
pub fn finalise_target(opts: &Options<'_>, t: &TargetConfig, to: Option<&str>) -> TargetReport {
    let mut report = TargetReport::new(&t.name, opts.dry_run);
    if let Err(e) = finalise_inner(opts, t, to, &mut report) {
        report.fail(e);
    }
    report
}

fn finalise_inner(
    opts: &Options<'_>,
    t: &TargetConfig,
    to: Option<&str>,
    report: &mut TargetReport,
) -> Result<(), ApplyError> {
    with_target(t, opts, |client, target| {
        finalise_locked(opts, t, to, report, client, target)
    })
}

fn finalise_locked(
    opts: &Options<'_>,
    t: &TargetConfig,
    to: Option<&str>,
    report: &mut TargetReport,
    client: &mut Client,
    target: &Target,
) -> Result<(), ApplyError> {
    check_in_progress(client, &t.name)?;
    let steps: Vec<StepRecord> = ledger::applied_steps(client)?
        .into_iter()
        .filter(|s| s.finalised_at.is_none())
        .collect();
    if opts.store.is_none() && steps.iter().any(|s| !s.snapshot_ids.is_empty()) {
        return Err(ApplyError::Unsupported(
            "finalising releases snapshots, and no snapshot store is configured: set [snapshots] store or pass --store".into(),
        ));
    }
    let upto = match to {
        None => steps.len(),
        Some(v) => {
            let id = opts.find(v).map(|m| m.migration.id());
            match steps
                .iter()
                .rposition(|s| s.version == v || Some(&s.migration_id) == id.as_ref())
            {
                Some(i) => i + 1,
                None => {
                    return Err(ApplyError::Unsupported(format!(
                        "--to {v}: not an applied, unfinalised migration of {}",
                        t.name
                    )));
                }
            }
        }
    };
    let ctx = Ctx {
        target_name: &t.name,
        target,
        store: opts.store,
        accept_risk: None,
        accept_loss: &[],
        progress: None,
        log: opts.log,
    };
    if upto == 0 {
        report.note = Some("nothing to finalise".into());
    }
    for s in &steps[..upto] {
        let step = StepReport {
            migration: s.migration_id.clone(),
            direction: "finalise",
            transactional: true,
            ledger_step: s.id,
            snapshots: s.snapshot_ids.clone(),
            deferred: s.deferred.clone(),
            ..Default::default()
        };
        if opts.dry_run {
            report.steps.push(step);
            continue;
        }
        let mut tx = client.transaction().map_err(ApplyError::db("begin"))?;
        for d in &s.deferred {
            defer::drop_kept(&mut tx, d).map_err(ApplyError::db("drop a kept column"))?;
        }
        ledger::finalise(&mut tx, &s.migration_id)?;
        ledger::record_event(
            &mut tx,
            EventKind::Finalise,
            &t.name,
            &serde_json::json!({
                "migration": s.migration_id, "step": s.id,
                "dropped": s.deferred, "snapshots": s.snapshot_ids,
            }),
        )?;
        tx.commit()
            .map_err(ApplyError::db("commit the finalisation"))?;
        unpin(&ctx, &s.snapshot_ids);
        report.steps.push(step);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
