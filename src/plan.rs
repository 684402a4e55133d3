//! `migsafe plan`: what each target would apply next, and whether it may (the gates).
//!
//! Every target is probed read-only (one `READ ONLY` transaction: the runner's history and
//! migsafe's ledger), concurrently, at most [`MAX_PROBES`] at a time. Each pending migration
//! gets a verdict: reversible passes; irreversible passes only with a valid receipt, a writable
//! snapshot store and, when `[drill] max_age` is set, a recent passing drill; unknown is
//! blocked. A target whose history cannot be trusted (unreachable, dirty, edited, missing on
//! disk) is blocked as a whole: plan fails closed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::applied::{self, Status};
use crate::classify::{Analysis, Destroyed, MigrationAnalysis, Reversibility};
use crate::config::TargetConfig;
use crate::ledger;
use crate::snapshot::Store;
use crate::source::Project;
use crate::verify::receipts::{self, Receipts};

/// The version of the JSON document; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// How many targets are probed at the same time.
pub const MAX_PROBES: usize = 8;

/// The JSON Schema of [`PlanReport`] (docs/schemas/plan-output.schema.json).
pub fn schema() -> schemars::Schema {
    schemars::schema_for!(PlanReport)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    Blocked,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Blocked => "blocked",
        }
    }
}

/// The whole plan.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PlanReport {
    /// Always 1 for this layout.
    pub schema_version: u32,
    /// The migrations directory planned from.
    pub project: String,
    pub runner: String,
    /// The receipts file read.
    pub receipts: String,
    /// `[snapshots] store`, checked once for every target.
    pub snapshot_store: StoreCheck,
    pub targets: Vec<TargetPlan>,
    /// Present with --wave and --all: may the release leak to each wave?
    pub waves: Vec<WavePlan>,
    pub summary: Summary,
}

/// Whether irreversible migrations could be snapshotted before they run.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StoreCheck {
    /// The store directory, if configured.
    pub path: Option<String>,
    pub ok: bool,
    /// Why not, when not ok.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TargetPlan {
    pub name: String,
    pub wave: Option<String>,
    /// The database (password never shown), when the URL could be read.
    pub database: Option<String>,
    /// PostgreSQL major version of the target, when it could be reached.
    pub postgres_major: Option<u32>,
    pub verdict: Verdict,
    /// Why the whole target is blocked (unreachable, dirty history, …), each with its fix.
    pub problems: Vec<Problem>,
    /// Things to know that do not block (applied migrations whose content was not checked).
    pub warnings: Vec<String>,
    /// How many migrations the runner's history records as applied.
    pub applied: usize,
    /// Migrations the runner would apply, in its order.
    pub pending: Vec<PendingMigration>,
}

/// A reason that blocks, and what clears it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Problem {
    pub message: String,
    /// The command or change that clears it, when there is one.
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    /// A receipt for exactly these contents on the target's PostgreSQL major version.
    Valid,
    /// No receipt for this migration.
    Missing,
    /// A receipt for other contents or another PostgreSQL major version.
    Stale,
}

impl ReceiptStatus {
    pub fn label(self) -> &'static str {
        match self {
            ReceiptStatus::Valid => "valid",
            ReceiptStatus::Missing => "missing",
            ReceiptStatus::Stale => "stale",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GateName {
    /// The migration's effect must be understood.
    Reversibility,
    /// A valid down-path receipt.
    Receipt,
    /// A configured, writable snapshot store.
    SnapshotStore,
    /// A passing restore drill within `[drill] max_age`.
    Drill,
}

/// One condition of the gate, checked for one migration on one target.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Gate {
    pub gate: GateName,
    pub passed: bool,
    pub detail: String,
    /// The command or change that clears a failed gate.
    pub fix: Option<String>,
}

/// A step that destroys data.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DestructiveStep {
    pub line: usize,
    pub column: usize,
    pub statement: String,
    pub reason: String,
    pub destroys: Vec<Destroyed>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PendingMigration {
    pub id: String,
    /// `reversible`, `irreversible` or `unknown`.
    pub reversibility: String,
    /// The irreversible steps, with what each destroys.
    pub irreversible_steps: Vec<DestructiveStep>,
    pub receipt: ReceiptStatus,
    /// True for irreversible migrations: a snapshot is taken before their destructive steps.
    pub snapshot_required: bool,
    pub verdict: Verdict,
    /// The conditions checked (none for a reversible migration).
    pub gates: Vec<Gate>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct WavePlan {
    pub name: String,
    pub targets: Vec<String>,
    /// Every target of the wave is ok.
    pub may_leak: bool,
    pub blocked_targets: Vec<String>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Summary {
    pub targets: usize,
    pub blocked_targets: usize,
    /// Pending migrations over all targets.
    pub pending: usize,
    pub blocked_migrations: usize,
    pub verdict: Verdict,
}

impl PlanReport {
    pub fn blocked(&self) -> bool {
        self.summary.verdict == Verdict::Blocked
    }
}

/// What to plan, beyond the project and targets.
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    pub analysis: &'a Analysis,
    pub targets: Vec<TargetConfig>,
    /// Waves to judge, each with its target names.
    pub waves: Vec<(String, Vec<String>)>,
    pub receipts: &'a Receipts,
    pub receipts_path: &'a Path,
    pub snapshot_store: Option<&'a Path>,
    pub drill_max_age: Option<Duration>,
}

/// Probes every target and applies the gates.
pub fn plan(input: &PlanInput<'_>) -> PlanReport {
    let analysis = input.analysis;
    let project = Project {
        runner: analysis.runner,
        root: analysis.root.clone(),
        migrations: analysis
            .migrations
            .iter()
            .map(|m| m.migration.clone())
            .collect(),
    };
    let store = check_store(input.snapshot_store);
    let probes = probe_all(&input.targets, &project);
    let by_id: HashMap<String, &MigrationAnalysis> = analysis
        .migrations
        .iter()
        .map(|m| (m.migration.id(), m))
        .collect();
    let root = analysis.root.display().to_string();
    let verify_fix = if input.receipts_path == Path::new(receipts::DEFAULT_PATH) {
        format!("migsafe verify {root}")
    } else {
        format!(
            "migsafe verify {root} --receipts {}",
            input.receipts_path.display()
        )
    };
    let ctx = Ctx {
        receipts: input.receipts,
        store: &store,
        store_path: input.snapshot_store,
        drill_max_age: input.drill_max_age,
        verify_fix: &verify_fix,
        root: &root,
    };
    let targets: Vec<TargetPlan> = input
        .targets
        .iter()
        .zip(probes)
        .map(|(t, probe)| target_plan(t, probe, &by_id, &ctx))
        .collect();
    let waves = input
        .waves
        .iter()
        .map(|(name, members)| {
            let blocked_targets: Vec<String> = targets
                .iter()
                .filter(|t| members.contains(&t.name) && t.verdict == Verdict::Blocked)
                .map(|t| t.name.clone())
                .collect();
            WavePlan {
                name: name.clone(),
                targets: members.clone(),
                may_leak: blocked_targets.is_empty(),
                blocked_targets,
            }
        })
        .collect();
    let blocked_targets = targets
        .iter()
        .filter(|t| t.verdict == Verdict::Blocked)
        .count();
    let summary = Summary {
        targets: targets.len(),
        blocked_targets,
        pending: targets.iter().map(|t| t.pending.len()).sum(),
        blocked_migrations: targets
            .iter()
            .flat_map(|t| &t.pending)
            .filter(|m| m.verdict == Verdict::Blocked)
            .count(),
        verdict: if blocked_targets == 0 {
            Verdict::Ok
        } else {
            Verdict::Blocked
        },
    };
    PlanReport {
        schema_version: SCHEMA_VERSION,
        project: root,
        runner: analysis.runner.to_string(),
        receipts: input.receipts_path.display().to_string(),
        snapshot_store: store,
        targets,
        waves,
        summary,
    }
}

struct Ctx<'a> {
    receipts: &'a Receipts,
    store: &'a StoreCheck,
    store_path: Option<&'a Path>,
    drill_max_age: Option<Duration>,
    verify_fix: &'a str,
    root: &'a str,
}

/// What one read-only probe of a target found.
#[derive(Debug)]
struct Probe {
    database: Option<String>,
    postgres_major: Option<u32>,
    result: Result<(Status, Vec<ledger::StepRecord>), String>,
}

/// Probes the targets concurrently, at most [`MAX_PROBES`] at a time; results in input order.
fn probe_all(targets: &[TargetConfig], project: &Project) -> Vec<Probe> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Probe>>> = Mutex::new((0..targets.len()).map(|_| None).collect());
    let workers = targets.len().clamp(1, MAX_PROBES);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(t) = targets.get(i) else { break };
                    let probe = probe(t, project);
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(probe);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|p| p.expect("every target probed"))
        .collect()
}

/// Reads the runner's history and the ledger in one READ ONLY transaction.
fn probe(target: &TargetConfig, project: &Project) -> Probe {
    let mut probe = Probe {
        database: None,
        postgres_major: None,
        result: Err(String::new()),
    };
    let url = match target.url() {
        Ok(u) => u,
        Err(e) => {
            probe.result = Err(e);
            return probe;
        }
    };
    let conn = match crate::pg::connect::from_url(&url) {
        Ok(c) => c,
        Err(e) => {
            probe.result = Err(format!("invalid url: {e}"));
            return probe;
        }
    };
    probe.database = Some(conn.redacted());
    let mut client = match crate::pg::connect::connect(&conn) {
        Ok(c) => c,
        Err(e) => {
            probe.result = Err(format!("unreachable: {e}"));
            return probe;
        }
    };
    let read = (|| -> Result<(u32, Status, Vec<ledger::StepRecord>), String> {
        let mut tx = client
            .build_transaction()
            .read_only(true)
            .start()
            .map_err(|e| crate::pg::error_text(&e))?;
        let num: String = tx
            .query_one("SHOW server_version_num", &[])
            .map_err(|e| crate::pg::error_text(&e))?
            .get(0);
        let major = num.parse::<u32>().map(|n| n / 10_000).unwrap_or(0);
        let history = applied::read(&mut tx, project.runner, None).map_err(|e| e.to_string())?;
        let status = applied::compare(project, &history);
        let steps = ledger::applied_steps(&mut tx).map_err(|e| e.to_string())?;
        tx.rollback().map_err(|e| crate::pg::error_text(&e))?;
        Ok((major, status, steps))
    })();
    probe.result = match read {
        Ok((major, status, steps)) => {
            probe.postgres_major = Some(major);
            Ok((status, steps))
        }
        Err(e) => Err(format!("cannot read what was applied: {e}")),
    };
    probe
}

fn target_plan(
    t: &TargetConfig,
    probe: Probe,
    by_id: &HashMap<String, &MigrationAnalysis>,
    ctx: &Ctx<'_>,
) -> TargetPlan {
    let mut plan = TargetPlan {
        name: t.name.clone(),
        wave: t.wave.clone(),
        database: probe.database,
        postgres_major: probe.postgres_major,
        verdict: Verdict::Blocked,
        problems: vec![],
        warnings: vec![],
        applied: 0,
        pending: vec![],
    };
    let (status, steps) = match probe.result {
        Ok(r) => r,
        Err(message) => {
            plan.problems.push(Problem { message, fix: None });
            return plan;
        }
    };
    let problem = |message: String, fix: Option<String>| Problem { message, fix };
    if let Some(d) = &status.dirty {
        plan.problems.push(problem(
            format!("history is dirty: {d}"),
            Some(format!(
                "repair the failed migration in {} and its {} history, then plan again",
                t.name, status.runner
            )),
        ));
    }
    for v in &status.missing_on_disk {
        plan.problems.push(problem(
            format!("applied migration {v} has no file in {}", ctx.root),
            Some(format!("restore migration {v} in {}", ctx.root)),
        ));
    }
    for (id, detail) in &status.edited {
        plan.problems.push(problem(
            format!("applied migration {id} was edited since: {detail}"),
            Some(format!(
                "revert the edit to {id} and add a new migration instead"
            )),
        ));
    }
    for id in &status.out_of_order {
        plan.problems.push(problem(
            format!(
                "migration {id} is older than the newest applied one: {} would refuse or skip it",
                status.runner
            ),
            Some(format!("give {id} a version after the newest applied one")),
        ));
    }
    for s in steps
        .iter()
        .filter(|s| status.pending.contains(&s.migration_id))
    {
        plan.problems.push(problem(
            format!(
                "the migsafe ledger records {} as applied but {}'s history does not",
                s.migration_id, status.runner
            ),
            None,
        ));
    }
    for (id, why) in &status.unverified {
        plan.warnings.push(format!(
            "applied migration {id} not checked for edits: {why}"
        ));
    }
    plan.applied = by_id
        .len()
        .saturating_sub(status.pending.len() + status.out_of_order.len());
    let major = plan.postgres_major.unwrap_or(0);
    for id in &status.pending {
        let Some(m) = by_id.get(id) else {
            plan.problems.push(problem(
                format!("pending migration {id} is not in the analysed project"),
                None,
            ));
            continue;
        };
        plan.pending.push(pending(m, &t.name, major, ctx));
    }
    plan.verdict =
        if plan.problems.is_empty() && plan.pending.iter().all(|m| m.verdict == Verdict::Ok) {
            Verdict::Ok
        } else {
            Verdict::Blocked
        };
    plan
}

fn receipt_status(receipts: &Receipts, m: &MigrationAnalysis, major: u32) -> ReceiptStatus {
    let id = m.migration.id();
    let up = receipts::sha256(&m.up.source[m.up.range.clone()]);
    let down = m
        .down
        .as_ref()
        .map(|d| receipts::sha256(&d.source[d.range.clone()]));
    if receipts
        .valid_for(&id, &up, down.as_deref(), major)
        .is_some()
    {
        ReceiptStatus::Valid
    } else if receipts.receipts.iter().any(|r| r.id == id) {
        ReceiptStatus::Stale
    } else {
        ReceiptStatus::Missing
    }
}

fn pending(m: &MigrationAnalysis, target: &str, major: u32, ctx: &Ctx<'_>) -> PendingMigration {
    let receipt = receipt_status(ctx.receipts, m, major);
    let mut out = PendingMigration {
        id: m.migration.id(),
        reversibility: m.reversibility.label().to_string(),
        irreversible_steps: vec![],
        receipt,
        snapshot_required: false,
        verdict: Verdict::Ok,
        gates: vec![],
    };
    match &m.reversibility {
        Reversibility::Reversible => {}
        Reversibility::Unknown { steps } => {
            let first = steps.first();
            out.gates.push(Gate {
                gate: GateName::Reversibility,
                passed: false,
                detail: match first {
                    Some(s) => format!(
                        "migsafe cannot tell what {} statement{} do{} (line {}: {})",
                        steps.len(),
                        if steps.len() == 1 { "" } else { "s" },
                        if steps.len() == 1 { "es" } else { "" },
                        s.line,
                        s.reason
                    ),
                    None => "migsafe cannot tell what this migration does".into(),
                },
                fix: Some(format!("migsafe lint {}", ctx.root)),
            });
        }
        Reversibility::Irreversible { steps, .. } => {
            out.snapshot_required = true;
            out.irreversible_steps = steps
                .iter()
                .map(|s| DestructiveStep {
                    line: s.line,
                    column: s.column,
                    statement: s.statement.clone(),
                    reason: s.reason.clone(),
                    destroys: s.destroys.clone(),
                })
                .collect();
            out.gates.push(Gate {
                gate: GateName::Receipt,
                passed: receipt == ReceiptStatus::Valid,
                detail: match receipt {
                    ReceiptStatus::Valid => format!("down-path proven on PostgreSQL {major}"),
                    ReceiptStatus::Missing => "no down-path receipt".into(),
                    ReceiptStatus::Stale => {
                        format!("the receipt is for other contents or not for PostgreSQL {major}")
                    }
                },
                fix: (receipt != ReceiptStatus::Valid).then(|| ctx.verify_fix.to_string()),
            });
            out.gates.push(Gate {
                gate: GateName::SnapshotStore,
                passed: ctx.store.ok,
                detail: match &ctx.store.problem {
                    None => format!(
                        "store {} is writable",
                        ctx.store.path.as_deref().unwrap_or("")
                    ),
                    Some(p) => p.clone(),
                },
                fix: (!ctx.store.ok).then(|| match &ctx.store.path {
                    None => "set [snapshots] store in migsafe.toml".to_string(),
                    Some(p) => format!("make {p} a directory this user can write to"),
                }),
            });
            if let Some(max_age) = ctx.drill_max_age {
                out.gates.push(drill_gate(ctx.store_path, target, max_age));
            }
        }
    }
    if out.gates.iter().any(|g| !g.passed) {
        out.verdict = Verdict::Blocked;
    }
    out
}

fn drill_gate(store: Option<&Path>, target: &str, max_age: Duration) -> Gate {
    let fix = Some(format!("migsafe drill --target {target}"));
    let failed = |detail: String| Gate {
        gate: GateName::Drill,
        passed: false,
        detail,
        fix: fix.clone(),
    };
    let Some(store) = store else {
        return failed("no snapshot store, so no drill".into());
    };
    let Some(report) = crate::drill::latest(&Store::new(store), target) else {
        return failed(format!("no restore drill recorded for {target}"));
    };
    if !report.passed() {
        return failed(format!("the latest drill ({}) failed", report.id));
    }
    let age = report
        .started_at
        .parse::<jiff::Timestamp>()
        .ok()
        .and_then(|t| {
            let secs = jiff::Timestamp::now().as_second() - t.as_second();
            u64::try_from(secs.max(0)).ok()
        });
    match age {
        None => failed(format!(
            "the latest drill ({}) has no readable start time",
            report.id
        )),
        Some(age) if age > max_age.as_secs() => failed(format!(
            "the latest drill ({}) is {} old, more than max_age {}",
            report.id,
            human_age(age),
            human_age(max_age.as_secs())
        )),
        Some(age) => Gate {
            gate: GateName::Drill,
            passed: true,
            detail: format!("drill {} passed {} ago", report.id, human_age(age)),
            fix: None,
        },
    }
}

fn human_age(secs: u64) -> String {
    match secs {
        s if s >= 86_400 => format!("{}d", s / 86_400),
        s if s >= 3_600 => format!("{}h", s / 3_600),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Checks the store without changing it: an existing directory must take a temporary file
/// (removed at once); a missing one must have a nearest existing ancestor that does.
pub fn check_store(path: Option<&Path>) -> StoreCheck {
    let Some(path) = path else {
        return StoreCheck {
            path: None,
            ok: false,
            problem: Some("no snapshot store configured".into()),
        };
    };
    let shown = path.display().to_string();
    let problem = writable_problem(path);
    StoreCheck {
        path: Some(shown),
        ok: problem.is_none(),
        problem,
    }
}

fn writable_problem(path: &Path) -> Option<String> {
    let shown = path.display();
    let mut probe_dir: PathBuf = path.to_path_buf();
    if path.exists() {
        if !path.is_dir() {
            return Some(format!("snapshot store {shown} is not a directory"));
        }
    } else {
        // The store would be created: its nearest existing ancestor must be writable.
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        match abs.ancestors().skip(1).find(|a| a.exists()) {
            Some(a) if a.is_dir() => probe_dir = a.to_path_buf(),
            _ => return Some(format!("snapshot store {shown} cannot be created")),
        }
    }
    match tempfile::Builder::new()
        .prefix(".migsafe-plan-")
        .tempfile_in(&probe_dir)
    {
        Ok(f) => {
            drop(f);
            None
        }
        Err(e) => Some(format!(
            "snapshot store {shown} is not writable ({}: {e})",
            probe_dir.display()
        )),
    }
}

/// What a step destroys, in a few words.
pub fn describe(d: &Destroyed) -> String {
    match d {
        Destroyed::Table { table } => format!("table {table}"),
        Destroyed::Columns { table, columns } => {
            let cols: Vec<String> = columns.iter().map(|c| format!("{table}.{c}")).collect();
            format!("column {}", cols.join(", "))
        }
        Destroyed::Rows { table, all: true } => format!("all rows of {table}"),
        Destroyed::Rows { table, all: false } => format!("rows of {table}"),
        Destroyed::Values {
            table,
            columns,
            all_rows,
        } => format!(
            "{}values of {table}.{}",
            if *all_rows { "all " } else { "" },
            columns.join(", ")
        ),
        Destroyed::Schema { schema } => format!("schema {schema}"),
        Destroyed::Database { database } => format!("database {database}"),
        Destroyed::Sequence { sequence } => format!("sequence {sequence}"),
        Destroyed::Dependents { of } => format!("objects depending on {of}"),
    }
}

/// The report as pretty JSON, newline-terminated.
pub fn json(report: &PlanReport) -> String {
    serde_json::to_string_pretty(report).expect("plan report serialises") + "\n"
}

/// The report for people.
pub fn human(report: &PlanReport) -> String {
    let mut out = String::new();
    for t in &report.targets {
        let wave = t
            .wave
            .as_ref()
            .map(|w| format!(" (wave {w})"))
            .unwrap_or_default();
        out.push_str(&format!("target {}{wave}: {}\n", t.name, t.verdict.label()));
        for p in &t.problems {
            out.push_str(&format!("  blocked: {}\n", p.message));
            if let Some(fix) = &p.fix {
                out.push_str(&format!("    fix: {fix}\n"));
            }
        }
        for w in &t.warnings {
            out.push_str(&format!("  warning: {w}\n"));
        }
        if !t.pending.is_empty() {
            out.push_str(&format!("  {} pending:\n", t.pending.len()));
        } else if t.problems.is_empty() {
            out.push_str(&format!("  nothing pending ({} applied)\n", t.applied));
        }
        for m in &t.pending {
            out.push_str(&format!(
                "  {:<7}  {}  {}, receipt {}\n",
                m.verdict.label(),
                m.id,
                m.reversibility,
                m.receipt.label()
            ));
            for s in &m.irreversible_steps {
                let what: Vec<String> = s.destroys.iter().map(describe).collect();
                out.push_str(&format!(
                    "           line {}: destroys {}\n",
                    s.line,
                    if what.is_empty() {
                        s.reason.clone()
                    } else {
                        what.join(", ")
                    }
                ));
            }
            for g in m.gates.iter().filter(|g| !g.passed) {
                out.push_str(&format!(
                    "           gate {}: {}\n",
                    gate_label(g.gate),
                    g.detail
                ));
                if let Some(fix) = &g.fix {
                    out.push_str(&format!("             fix: {fix}\n"));
                }
            }
        }
    }
    for w in &report.waves {
        if w.may_leak {
            out.push_str(&format!(
                "wave {}: may leak ({} target{} ok)\n",
                w.name,
                w.targets.len(),
                if w.targets.len() == 1 { "" } else { "s" }
            ));
        } else {
            out.push_str(&format!(
                "wave {}: may not leak (blocked: {})\n",
                w.name,
                w.blocked_targets.join(", ")
            ));
        }
    }
    let s = &report.summary;
    out.push_str(&format!(
        "plan: {} target{}, {} blocked; {} pending migration{}, {} blocked: {}\n",
        s.targets,
        if s.targets == 1 { "" } else { "s" },
        s.blocked_targets,
        s.pending,
        if s.pending == 1 { "" } else { "s" },
        s.blocked_migrations,
        s.verdict.label()
    ));
    out
}

fn gate_label(g: GateName) -> &'static str {
    match g {
        GateName::Reversibility => "reversibility",
        GateName::Receipt => "receipt",
        GateName::SnapshotStore => "snapshot store",
        GateName::Drill => "drill",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_check_without_store_fails_with_fix_text() {
        let c = check_store(None);
        assert!(!c.ok);
        assert_eq!(c.problem.as_deref(), Some("no snapshot store configured"));
    }

    #[test]
    fn store_check_does_not_create_the_store() {
        let t = tempfile::tempdir().unwrap();
        let store = t.path().join("a/b");
        let c = check_store(Some(&store));
        assert!(c.ok, "{c:?}");
        assert!(!t.path().join("a").exists());
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 0);
    }

    #[test]
    fn store_that_is_a_file_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("store");
        std::fs::write(&f, "x").unwrap();
        assert!(!check_store(Some(&f)).ok);
    }

    #[test]
    fn ages_read_short() {
        assert_eq!(human_age(59), "59s");
        assert_eq!(human_age(3_600 * 5), "5h");
        assert_eq!(human_age(86_400 * 7), "7d");
    }
}
