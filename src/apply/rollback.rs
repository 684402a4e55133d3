//! `migsafe rollback`: the applied migrations after a version, newest first. Per migration, in
//! one transaction when its down runs in one:
//!
//! 1. capture what the down destroys (values users wrote into the new structures), as apply
//!    captures an up;
//! 2. run the down in the runner's mode;
//! 3. put soft-dropped columns back ([`super::defer::swap_back`]), then restore the up's
//!    snapshots newest first, keyed by primary key: destroyed values come back for rows that
//!    still exist, deleted rows come back, rows written since stay, rows changed since are
//!    counted as conflicts and kept;
//! 4. record the down in the runner's history and the ledger (the up marked rolled back).

use std::collections::HashMap;
use std::time::Instant;

use indicatif::ProgressBar;
use jiff::Timestamp;
use postgres::{Client, Transaction};

use super::report::{PlannedRestore, StepReport, TargetReport};
use super::{ApplyError, Ctx, Options, defer, exec, report};
use crate::applied::{self, write};
use crate::classify::MigrationAnalysis;
use crate::config::TargetConfig;
use crate::ledger::{self, Direction, EventKind, StepRecord};
use crate::pg::connect::Target;
use crate::snapshot::manifest::ObjectKind;
use crate::snapshot::restore::{self, RestoreOptions};
use crate::verify::receipts;

/// Restore throughput used for dry-run estimates: the keyed restore of a 1M-row column (about
/// 40 MB of COPY text) took 4.3 s on a 2-core machine (benches/README.md).
const RESTORE_BYTES_PER_SEC: f64 = 9.0e6;

/// Rolls `t` back to `to` (a version or id; `0` for before the first migration).
pub fn rollback_target(opts: &Options<'_>, t: &TargetConfig, to: &str) -> TargetReport {
    let mut report = TargetReport::new(&t.name, opts.dry_run);
    if let Err(e) = super::with_target(t, opts, |client, target| {
        rollback_locked(opts, t, to, &mut report, client, target)
    }) {
        report.fail(e);
    }
    report
}

fn rollback_locked(
    opts: &Options<'_>,
    t: &TargetConfig,
    to: &str,
    report: &mut TargetReport,
    client: &mut Client,
    target: &Target,
) -> Result<(), ApplyError> {
    let runner = opts.analysis.runner;
    write::writable(runner).map_err(|why| {
        ApplyError::Unsupported(format!(
            "migsafe cannot roll back {runner} migrations: {why}"
        ))
    })?;
    super::check_in_progress(client, &t.name)?;
    let project = opts.project();
    let history = applied::read(client, runner, None)?;
    let status = applied::compare(&project, &history);
    if let Some(d) = &status.dirty {
        return Err(ApplyError::Blocked(format!(
            "{}'s history is dirty ({d}): repair it before rolling back",
            runner
        )));
    }
    let not_applied: Vec<&String> = status.pending.iter().chain(&status.out_of_order).collect();
    // Flyway repeatables have no version and no undo: they stay (a down that conflicts with
    // one fails and says so).
    let applied: Vec<&MigrationAnalysis> = opts
        .analysis
        .migrations
        .iter()
        .filter(|m| !m.migration.repeatable && !not_applied.contains(&&m.migration.id()))
        .collect();
    let keep = if to == "0" {
        0
    } else {
        match applied
            .iter()
            .position(|m| m.migration.version == to || m.migration.id() == to)
        {
            Some(i) => i + 1,
            None => {
                return Err(ApplyError::Unsupported(match opts.find(to) {
                    Some(m) => format!(
                        "--to {to}: {} is not applied on {}, so there is nothing to roll back to",
                        m.migration.id(),
                        t.name
                    ),
                    None => format!(
                        "--to {to}: no such migration in {} (use 0 to roll back everything)",
                        opts.analysis.root.display()
                    ),
                }));
            }
        }
    };
    let to_roll: Vec<&MigrationAnalysis> = applied[keep..].iter().rev().copied().collect();
    if to_roll.is_empty() {
        report.note = Some(format!("nothing applied after {to}"));
        return Ok(());
    }
    let steps: HashMap<String, StepRecord> = ledger::applied_steps(client)?
        .into_iter()
        .map(|s| (s.migration_id.clone(), s))
        .collect();
    // Everything is checked before anything changes.
    let mut problems = vec![];
    for v in &status.missing_on_disk {
        if opts.accept_risk.is_none() {
            problems.push(format!(
                "applied migration {v} has no file in {}: its down cannot run (restore the file)",
                opts.analysis.root.display()
            ));
        }
    }
    for m in &to_roll {
        let id = m.migration.id();
        if m.down.is_none() {
            problems.push(format!("{id} has no down script"));
        }
        if let Some((_, detail)) = status.edited.iter().find(|(e, _)| *e == id) {
            problems.push(format!("{id} was edited since it was applied: {detail}"));
        }
        let step = steps.get(&id);
        if let Some(s) = step
            && opts.accept_risk.is_none()
        {
            let up = receipts::sha256(m.migration.up.text());
            let down = m
                .migration
                .down
                .as_ref()
                .map(|d| receipts::sha256(d.text()));
            if s.up_sha256 != up || (s.down_sha256.is_some() && s.down_sha256 != down) {
                problems.push(format!(
                    "{id} changed on disk since migsafe applied it (sha256 differs from the ledger): the down may not fit what ran"
                ));
            }
        }
        let destroyed = !matches!(m.reversibility, crate::classify::Reversibility::Reversible);
        match step {
            None if destroyed && opts.accept_risk.is_none() => problems.push(format!(
                "{id} was applied without migsafe: no snapshot holds what it destroyed (roll back with --accept-risk \"<reason>\" to lose it)"
            )),
            Some(s) if s.finalised_at.is_some() && destroyed && opts.accept_risk.is_none() => {
                problems.push(format!(
                    "{id} was finalised: its kept columns were dropped and its snapshots released (roll back with --accept-risk \"<reason>\" to do without them)"
                ))
            }
            Some(s) => {
                for sid in &s.snapshot_ids {
                    let found = opts.store.map(|st| st.find(sid));
                    match found {
                        Some(Ok(e)) => {
                            if let Err(why) = authentic(&e, s) {
                                problems.push(format!("{id} needs snapshot {sid}: {why}"));
                            }
                            // The checks every reader of a snapshot makes; a dry run also
                            // hashes every file, as `snapshot verify` does (the rollback
                            // itself hashes them while it streams them, and stops on a
                            // mismatch before anything commits).
                            let store = opts.store.expect("found in it");
                            let found = if opts.dry_run {
                                store.check(&e)
                            } else {
                                store.inspect(&e)
                            };
                            for p in found {
                                problems.push(format!(
                                    "{id} needs snapshot {sid}: {}: {}",
                                    p.path.display(),
                                    p.message
                                ));
                            }
                        }
                        _ if opts.accept_risk.is_some() => {}
                        None => problems.push(format!(
                            "{id} needs snapshot {sid}, and no snapshot store is configured (set [snapshots] store or pass --store)"
                        )),
                        Some(Err(e)) => problems.push(format!("{id} needs snapshot {sid}: {e}")),
                    }
                }
            }
            None => {}
        }
        if let Some(down) = &m.down
            && opts.store.is_none()
            && opts.accept_risk.is_none()
            && down.steps.iter().any(exec::destroys)
        {
            problems.push(format!(
                "the down of {id} destroys data users may have written since, and no snapshot store is configured to keep it"
            ));
        }
    }
    if !problems.is_empty() {
        return Err(ApplyError::Blocked(format!(
            "cannot roll {} back (nothing was changed): {}",
            t.name,
            problems.join("; ")
        )));
    }
    let ctx = Ctx {
        target_name: &t.name,
        target,
        store: opts.store,
        accept_risk: opts.accept_risk,
        accept_loss: &[],
        progress: None,
        log: opts.log,
    };
    let position = |m: &MigrationAnalysis| {
        opts.analysis
            .migrations
            .iter()
            .position(|x| x.migration.id() == m.migration.id())
            .expect("from the analysis")
    };
    for m in to_roll {
        let id = m.migration.id();
        let previous = position(m)
            .checked_sub(1)
            .map(|i| &opts.analysis.migrations[i].migration);
        let up_step = steps.get(&id);
        if opts.dry_run {
            report.steps.push(dry_run(client, opts, m, up_step)?);
            continue;
        }
        ctx.note(&format!("rolling back {id}"));
        let mut step_client = super::session(t, target, opts.settings)?;
        let step = rollback_one(&mut step_client, &ctx, opts, m, previous, up_step)?;
        report.steps.push(step);
    }
    Ok(())
}

fn dry_run(
    client: &mut Client,
    opts: &Options<'_>,
    m: &MigrationAnalysis,
    up_step: Option<&StepRecord>,
) -> Result<StepReport, ApplyError> {
    let down = m.down.as_ref().expect("checked");
    let mut step = StepReport {
        migration: m.migration.id(),
        direction: "down",
        transactional: exec::transactional(down),
        statements: report::planned_statements(client, down, false)?,
        ..Default::default()
    };
    if let Some(s) = up_step {
        step.deferred = s.deferred.clone();
        for sid in s.snapshot_ids.iter().rev() {
            let Some(Ok(entry)) = opts.store.map(|st| st.find(sid)) else {
                continue;
            };
            let Some(manifest) = entry.manifest() else {
                continue;
            };
            let bytes = manifest.total_bytes();
            // A column kept aside comes back in constant time; its snapshot is the fallback.
            let swapped = manifest.objects.iter().all(|o| covered_by(o, &s.deferred));
            step.restores.push(PlannedRestore {
                snapshot: sid.clone(),
                objects: manifest
                    .objects
                    .iter()
                    .map(|o| format!("{} {}", report::serde_label(&o.kind), o.qualified()))
                    .collect(),
                bytes,
                estimated_seconds: bytes as f64 / RESTORE_BYTES_PER_SEC,
                fallback: swapped,
            });
        }
    }
    Ok(step)
}

/// Whether a snapshot object is the column a deferred drop kept in the database.
fn covered_by(o: &crate::snapshot::manifest::Object, deferred: &[ledger::Deferred]) -> bool {
    o.kind == ObjectKind::Columns
        && deferred
            .iter()
            .any(|d| o.schema == d.schema && o.name == d.table && o.columns == [d.column.clone()])
}

fn rollback_one(
    client: &mut Client,
    ctx: &Ctx<'_>,
    opts: &Options<'_>,
    m: &MigrationAnalysis,
    previous: Option<&crate::source::Migration>,
    up_step: Option<&StepRecord>,
) -> Result<StepReport, ApplyError> {
    let runner = opts.analysis.runner;
    let id = m.migration.id();
    let down = m.down.as_ref().expect("checked before");
    let started_at = Timestamp::now();
    let t0 = Instant::now();
    let transactional = exec::transactional(down);
    let mut run = exec::ScriptRun::default();
    let mut history = None;
    let mut out = StepReport {
        migration: id.clone(),
        direction: "down",
        transactional,
        ..Default::default()
    };
    if !transactional {
        let mut tx = client.transaction().map_err(ApplyError::db("begin"))?;
        ledger::ensure(&mut tx)?;
        history = super::history_table(&mut tx, runner)?;
        ledger::mark_in_progress(&mut tx, &id, Direction::Down)?;
        tx.commit()
            .map_err(ApplyError::db("note the step in progress"))?;
        let result = exec::run_autocommit(client, ctx, &id, &m.migration.version, down, &mut run);
        super::pin_or_warn(
            ctx,
            &run.snapshots,
            &format!("interrupted rollback of {id}"),
        );
        result?;
    }
    let mut committing = false;
    let result = (|| -> Result<(), ApplyError> {
        let mut tx = client.transaction().map_err(ApplyError::db("begin"))?;
        ledger::ensure(&mut tx)?;
        if transactional {
            history = super::history_table(&mut tx, runner)?;
            exec::run_in_tx(
                &mut tx,
                ctx,
                &id,
                &m.migration.version,
                down,
                false,
                &mut run,
            )?;
        } else {
            ledger::clear_in_progress(&mut tx, &id)?;
        }
        if let Some(up) = up_step {
            restore_step(&mut tx, ctx, up, transactional, &mut out)?;
        }
        let execution_ms = t0.elapsed().as_millis() as i64;
        write::record_down(&mut tx, runner, history.as_deref(), &m.migration, previous)?;
        let record = StepRecord {
            id: None,
            migration_id: id.clone(),
            version: m.migration.version.clone(),
            direction: Direction::Down,
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
            accepted_risk: ctx.accept_risk.map(str::to_string),
            runner: runner.to_string(),
            execution_ms,
            deferred: vec![],
            finalised_at: None,
        };
        let down_id = ledger::record_step(&mut tx, &record)?;
        if let Some(up_id) = up_step.and_then(|s| s.id) {
            ledger::mark_rolled_back(&mut tx, up_id, down_id)?;
        }
        ledger::record_event(
            &mut tx,
            EventKind::Rollback,
            ctx.target_name,
            &serde_json::json!({
                "migration": id, "step": down_id, "rolled_back": up_step.and_then(|s| s.id),
                "snapshots_taken": run.snapshots, "restored": out.restored,
                "swapped": out.swapped, "accepted_risk": ctx.accept_risk,
            }),
        )?;
        super::pin(
            ctx,
            &run.snapshots,
            &format!("values written before rollback step {down_id}: {id}"),
        )?;
        committing = true;
        tx.commit()
            .map_err(ApplyError::db("commit the rollback step"))?;
        out.ledger_step = Some(down_id);
        Ok(())
    })();
    if let Err(e) = result {
        if transactional && !committing {
            super::discard(ctx, &run.snapshots);
        }
        return Err(e);
    }
    // The up's snapshots did their job; prune may take them now.
    if let Some(up) = up_step {
        super::unpin(ctx, &up.snapshot_ids);
    }
    out.snapshots = run.snapshots;
    out.unprotected = run.unprotected;
    out.accepted_risk = ctx.accept_risk.map(str::to_string);
    out.execution_ms = t0.elapsed().as_millis() as u64;
    Ok(out)
}

/// Puts kept columns back, then restores the up's snapshots, newest first.
fn restore_step(
    tx: &mut Transaction<'_>,
    ctx: &Ctx<'_>,
    up: &StepRecord,
    transactional: bool,
    out: &mut StepReport,
) -> Result<(), ApplyError> {
    let mut swapped = vec![];
    for d in &up.deferred {
        let outcome = defer::swap_back(tx, d).map_err(ApplyError::db("put a kept column back"))?;
        if !outcome.needs_snapshot() {
            swapped.push(d.clone());
        }
        out.swapped
            .push((format!("{}.{}.{}", d.schema, d.table, d.column), outcome));
    }
    for sid in up.snapshot_ids.iter().rev() {
        let Some(store) = ctx.store else {
            // Only with --accept-risk (checked before): the values are lost.
            out.unprotected
                .push(format!("snapshot {sid} not restored: no snapshot store"));
            continue;
        };
        let entry = match store.find(sid) {
            Ok(e) => e,
            Err(e) if ctx.accept_risk.is_some() => {
                out.unprotected
                    .push(format!("snapshot {sid} not restored: {e}"));
                continue;
            }
            Err(e) => return Err(ApplyError::Store(e)),
        };
        // Checked again here: the store may have changed since the checks before the step.
        if let Err(why) = authentic(&entry, up) {
            return Err(ApplyError::Blocked(format!("snapshot {sid}: {why}")));
        }
        let mut manifest = entry.manifest().expect("find returns complete").clone();
        manifest.objects.retain(|o| !covered_by(o, &swapped));
        if manifest.objects.is_empty() {
            continue;
        }
        ctx.note(&format!("restoring snapshot {sid}"));
        let r = restore::restore(
            tx,
            &entry,
            &manifest,
            RestoreOptions {
                // A dropped column did not exist for users between the up and the down, so
                // when the down ran in this transaction nobody else wrote into the re-created
                // column: what it holds is the down's. A down outside a transaction may have
                // let writers in: then only NULLs and constant defaults are filled.
                overwrite_columns: transactional,
            },
            ctx.progress.unwrap_or(&ProgressBar::hidden()),
        )
        .map_err(|e| ApplyError::Restore(sid.clone(), e))?;
        out.restored.extend(r.objects);
    }
    Ok(())
}

/// The snapshot's manifest is the one apply recorded: its sha256 matches the ledger's (steps
/// recorded before migsafe kept the checksum have none to compare).
fn authentic(entry: &crate::snapshot::store::Entry, step: &StepRecord) -> Result<(), String> {
    let Some(i) = step.snapshot_ids.iter().position(|s| *s == entry.id) else {
        return Ok(());
    };
    let Some(recorded) = step.snapshot_sha256.get(i) else {
        return Ok(());
    };
    match &entry.manifest_sha256 {
        Some(now) if now == recorded => Ok(()),
        now => Err(format!(
            "its manifest.json changed after apply recorded it (sha256 {}, the ledger holds {recorded}): restore the snapshot directory from a copy you trust",
            now.as_deref().unwrap_or("unreadable")
        )),
    }
}
