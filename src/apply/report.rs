//! What an apply, rollback or finalise run did (or, with `--dry-run`, would do), per target:
//! the JSON release tools read and the text people read.

use std::fmt::Write as _;

use postgres::Client;
use serde::Serialize;

use super::{ApplyError, defer, exec};
use crate::classify::{MigrationAnalysis, ScriptAnalysis, excerpt};
use crate::ledger::Deferred;
use crate::plan::{Gate, PendingMigration};
use crate::snapshot::capture;
use crate::snapshot::restore::ObjectReport;

/// The version of the JSON below; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every selected step ran (or, for a dry run, would run) — possibly none.
    #[default]
    Done,
    /// A gate or check refused the target; nothing changed.
    Blocked,
    /// A step failed; the steps before it stay applied, the failed one rolled back (or, outside
    /// a transaction, is marked in progress).
    Failed,
    /// Not started, because an earlier target of the wave was blocked or failed.
    Skipped,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct TargetReport {
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    pub dry_run: bool,
    pub outcome: Outcome,
    /// Why the target was blocked or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A remark such as "nothing pending".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Migrations a gate blocked, with the gates that failed and their fixes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<Blocked>,
    /// Steps done (or planned), in order.
    pub steps: Vec<StepReport>,
}

impl TargetReport {
    pub fn new(target: &str, dry_run: bool) -> TargetReport {
        TargetReport {
            target: target.to_string(),
            dry_run,
            ..Default::default()
        }
    }

    pub fn fail(&mut self, e: ApplyError) {
        self.outcome = if e.is_blocked() {
            Outcome::Blocked
        } else {
            Outcome::Failed
        };
        self.error = Some(e.to_string());
    }

    /// Rows that changed since the snapshot and were therefore left as they are.
    pub fn conflicts(&self) -> u64 {
        self.steps
            .iter()
            .flat_map(|s| &s.restored)
            .map(|o| o.conflicts)
            .sum()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Blocked {
    pub migration: String,
    pub gates: Vec<Gate>,
}

impl Blocked {
    pub fn of(p: &PendingMigration) -> Blocked {
        Blocked {
            migration: p.id.clone(),
            gates: p.gates.iter().filter(|g| !g.passed).cloned().collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct StepReport {
    pub migration: String,
    /// `up`, `down` or `finalise`.
    pub direction: &'static str,
    /// Whether the step ran as one transaction.
    pub transactional: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger_step: Option<i64>,
    /// Dry runs: each statement and what migsafe does around it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub statements: Vec<PlannedStatement>,
    /// Snapshots taken by this step.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<String>,
    /// Columns renamed aside instead of dropped (up), swapped back or dropped (down, finalise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<Deferred>,
    /// Rollback: what happened to each kept column.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub swapped: Vec<(String, defer::SwapBack)>,
    /// Rollback: snapshots restored, per object.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restored: Vec<ObjectReport>,
    /// Rollback dry runs: snapshots that would be restored, with an estimate.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restores: Vec<PlannedRestore>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_risk: Option<String>,
    /// Destroying statements that ran without a snapshot (accepted risk), with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unprotected: Vec<String>,
    pub execution_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedStatement {
    pub line: usize,
    pub statement: String,
    /// `run`, `capture, then run`, `rename aside (soft drop)` …
    pub action: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedRestore {
    pub snapshot: String,
    pub objects: Vec<String>,
    pub bytes: u64,
    pub estimated_seconds: f64,
    /// Only needed if a kept column cannot be put back (soft drop).
    pub fallback: bool,
}

/// What `script` would do, statement by statement, without changing anything.
pub(crate) fn planned_statements(
    client: &mut Client,
    script: &ScriptAnalysis,
    soft_drop: bool,
) -> Result<Vec<PlannedStatement>, ApplyError> {
    let mut out = vec![];
    for step in &script.steps {
        let text = script.text(step);
        let action = if !exec::destroys(step) {
            "run".to_string()
        } else {
            let deferred = if soft_drop {
                defer::would_defer(client, text).map_err(ApplyError::db("check a soft drop"))?
            } else {
                None
            };
            match (capture::requests_for(text), deferred) {
                (Ok(_), Some((table, column))) => format!(
                    "capture, then rename {table}.{column} aside instead of dropping it (soft drop)"
                ),
                (Ok(r), None) if !r.is_empty() => "capture what it destroys, then run".into(),
                (Ok(_), None) => "run".into(),
                (Err(e), _) => format!("cannot capture ({e}): refused without --accept-risk"),
            }
        };
        out.push(PlannedStatement {
            line: step.start.line,
            statement: excerpt(text),
            action,
        });
    }
    Ok(out)
}

pub(crate) fn dry_run_step(
    client: &mut Client,
    m: &MigrationAnalysis,
    soft_drop: bool,
) -> Result<StepReport, ApplyError> {
    Ok(StepReport {
        migration: m.migration.id(),
        direction: "up",
        transactional: exec::transactional(&m.up),
        statements: planned_statements(client, &m.up, soft_drop)?,
        ..Default::default()
    })
}

/// The whole run as versioned JSON.
pub fn json(command: &str, reports: &[TargetReport]) -> String {
    #[derive(Serialize)]
    struct Out<'a> {
        schema_version: u32,
        command: &'a str,
        targets: &'a [TargetReport],
    }
    let mut s = serde_json::to_string_pretty(&Out {
        schema_version: SCHEMA_VERSION,
        command,
        targets: reports,
    })
    .expect("plain data serialises");
    s.push('\n');
    s
}

/// The run for people.
pub fn human(command: &str, reports: &[TargetReport]) -> String {
    let mut s = String::new();
    for r in reports {
        let verb = match (command, r.dry_run) {
            ("apply", false) => "applied",
            ("apply", true) => "would apply",
            ("rollback", false) => "rolled back",
            ("rollback", true) => "would roll back",
            (_, false) => "finalised",
            (_, true) => "would finalise",
        };
        let n = r.steps.len();
        match r.outcome {
            Outcome::Done => {
                let _ = write!(
                    s,
                    "{}: {verb} {n} migration{}",
                    r.target,
                    if n == 1 { "" } else { "s" }
                );
                if let Some(note) = &r.note {
                    let _ = write!(s, " ({note})");
                }
                s.push('\n');
            }
            Outcome::Blocked => {
                let _ = writeln!(
                    s,
                    "{}: BLOCKED: {}",
                    r.target,
                    r.error.as_deref().unwrap_or("")
                );
            }
            Outcome::Skipped => {
                let _ = writeln!(
                    s,
                    "{}: skipped ({})",
                    r.target,
                    r.note.as_deref().unwrap_or("")
                );
            }
            Outcome::Failed => {
                let _ = writeln!(
                    s,
                    "{}: FAILED after {n} step{}: {}",
                    r.target,
                    if n == 1 { "" } else { "s" },
                    r.error.as_deref().unwrap_or("")
                );
            }
        }
        for b in &r.blocked {
            let _ = writeln!(s, "  {} is blocked:", b.migration);
            for g in &b.gates {
                let _ = write!(s, "    {}: {}", serde_label(&g.gate), g.detail);
                if let Some(fix) = &g.fix {
                    let _ = write!(s, " -> {fix}");
                }
                s.push('\n');
            }
        }
        for step in &r.steps {
            step_text(&mut s, step);
        }
        let conflicts = r.conflicts();
        if conflicts > 0 {
            let _ = writeln!(
                s,
                "  {conflicts} row{} changed since the snapshot kept their current values (see conflicts above)",
                if conflicts == 1 { "" } else { "s" }
            );
        }
    }
    s
}

/// A unit enum's name as its JSON spells it.
pub(crate) fn serde_label(v: &impl Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn step_text(s: &mut String, step: &StepReport) {
    let _ = write!(s, "  {} {}", step.direction, step.migration);
    if !step.statements.is_empty() || !step.restores.is_empty() {
        let _ = write!(
            s,
            " ({})",
            if step.transactional {
                "one transaction"
            } else {
                "statement by statement, outside a transaction"
            }
        );
    } else if step.direction != "finalise" {
        let _ = write!(s, " in {} ms", step.execution_ms);
    }
    s.push('\n');
    for p in &step.statements {
        let _ = writeln!(s, "    line {}: {} -> {}", p.line, p.statement, p.action);
    }
    for id in &step.snapshots {
        let verb = if step.direction == "finalise" {
            "released"
        } else {
            "taken"
        };
        let _ = writeln!(s, "    snapshot {id} {verb}");
    }
    for d in &step.deferred {
        let _ = match step.direction {
            "finalise" => writeln!(s, "    dropped {}.{}.{}", d.schema, d.table, d.aside),
            "down" => writeln!(
                s,
                "    {}.{}.{} comes back from the kept column {} (constant time)",
                d.schema, d.table, d.column, d.aside
            ),
            _ => writeln!(
                s,
                "    {}.{}.{} kept as {} until `migsafe finalise`",
                d.schema, d.table, d.column, d.aside
            ),
        };
    }
    for (column, outcome) in &step.swapped {
        let _ = match outcome {
            defer::SwapBack::Swapped => writeln!(s, "    {column}: kept column put back"),
            defer::SwapBack::Dropped => {
                writeln!(
                    s,
                    "    {column}: not re-created by the down; kept copy dropped"
                )
            }
            defer::SwapBack::FromSnapshot(why) => {
                writeln!(s, "    {column}: restored from the snapshot ({why})")
            }
        };
    }
    for o in &step.restored {
        let _ = write!(
            s,
            "    restored {} {}: {} back, {} unchanged, {} gone",
            o.kind, o.object, o.restored, o.unchanged, o.gone
        );
        if o.conflicts > 0 {
            let _ = write!(
                s,
                ", {} changed since (kept): {}",
                o.conflicts,
                o.conflict_keys.join(", ")
            );
        }
        s.push('\n');
    }
    for r in &step.restores {
        let _ = writeln!(
            s,
            "    {} snapshot {} ({}; {} bytes, about {:.1} s)",
            if r.fallback {
                "if the kept column cannot be put back, restore"
            } else {
                "restore"
            },
            r.snapshot,
            r.objects.join(", "),
            r.bytes,
            r.estimated_seconds
        );
    }
    if let Some(reason) = &step.accepted_risk {
        let _ = writeln!(s, "    accepted risk: {reason}");
    }
    for u in &step.unprotected {
        let _ = writeln!(s, "    NO SNAPSHOT: {u}");
    }
}
