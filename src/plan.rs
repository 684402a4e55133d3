//! `migsafe plan`: what each target would apply next, and whether it may (the gates).
//!
//! Every target is probed read-only (one `READ ONLY` transaction: the runner's history and
//! migsafe's ledger), concurrently, at most [`MAX_PROBES`] at a time. Each pending migration
//! gets a verdict: reversible passes; irreversible passes only with a valid receipt, a writable
//! snapshot store and, when `[drill] max_age` is set, a recent passing drill; unknown is
//! blocked. A target whose history cannot be trusted (unreachable, dirty, edited, missing on
//! disk) is blocked as a whole: plan fails closed.

mod estimate;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde::Serialize;

use crate::applied::{self, Status};
use crate::classify::{Analysis, Destroyed, MigrationAnalysis, Reversibility};
use crate::config::{DriftIgnore, TargetConfig};
use crate::ledger;
use crate::snapshot::Store;
use crate::source::Project;
use crate::verify::receipts::{self, Receipts};

pub use estimate::{CAPTURE_BYTES_PER_SECOND, EstimatedObject, SnapshotEstimate, seconds_for};
use estimate::{Captures, Estimator};

/// Test hook: when set, the free space of the snapshot store (bytes) instead of `statvfs`.
/// Free space cannot be faked on a real filesystem, so tests of the "no room" gate use this.
/// Debug builds only (the tests' binary): a release build ignores it, so nobody can fake the
/// store-room gate of plan and apply in production.
pub const TEST_FREE_BYTES_ENV: &str = "MIGSAFE_TEST_STORE_FREE_BYTES";

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
    /// Where the time went (not part of the JSON; printed with `MIGSAFE_PLAN_TIMINGS=1`).
    #[serde(skip)]
    #[schemars(skip)]
    pub timings: Timings,
}

/// Wall times of plan's phases, for benchmarks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// The slowest target's connection (TCP, TLS, authentication).
    pub connect_max: Duration,
    /// The slowest target's read (history, ledger, estimates) after connecting.
    pub read_max: Duration,
    /// Probing every target, connections included.
    pub probes: Duration,
    /// The whole of [`plan()`].
    pub total: Duration,
}

/// Whether irreversible migrations could be snapshotted before they run.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StoreCheck {
    /// The store directory, if configured.
    pub path: Option<String>,
    pub ok: bool,
    /// Why not, when not ok.
    pub problem: Option<String>,
    /// Free space for this user on the store's filesystem (or its nearest existing ancestor's),
    /// in bytes; each target's snapshot estimates must fit in it.
    pub free_bytes: Option<u64>,
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
    /// Whether its schema is the one its applied migrations build.
    pub drift: DriftStatus,
    /// Migrations the runner would apply, in its order.
    pub pending: Vec<PendingMigration>,
    /// The sum of the pending migrations' snapshot estimates, in bytes: what the store must
    /// have room for.
    pub snapshot_bytes: u64,
    /// The target's latest restore drill in the snapshot store, if any.
    pub drill: Option<DrillInfo>,
}

/// The latest restore drill of a target.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DrillInfo {
    pub id: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub passed: bool,
    /// Seconds since it started (null when `started_at` cannot be read).
    pub age_seconds: Option<u64>,
    /// Time of its restore phase: what a real restore of that snapshot took.
    pub restore_seconds: f64,
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

/// How a target's schema compares with the one its applied migrations build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DriftState {
    /// The same schema (`[drift] ignore`d objects and kept columns left out).
    InStep,
    /// A different one: `migsafe drift --target` lists the differences.
    Drift,
    /// Not known: the schema could not be read, or no schema is recorded for the applied set.
    Unknown,
}

impl DriftState {
    pub fn label(self) -> &'static str {
        match self {
            DriftState::InStep => "in step",
            DriftState::Drift => "drifted",
            DriftState::Unknown => "unknown",
        }
    }
}

/// A target's drift status, from schema ids (`drift::schema_id`): the target's own, read now,
/// and the one `migsafe verify` recorded for its applied set.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DriftStatus {
    pub status: DriftState,
    /// The target's schema id, when it could be read.
    pub schema: Option<String>,
    /// The schema id its applied migrations build, when recorded in the receipts file.
    pub expected: Option<String>,
    pub detail: String,
}

/// On which schema a migration's down-path was proven, relative to this target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Proof {
    /// On the schema this target will have when the migration runs (its own schema now, plus
    /// the pending ups before it).
    ThisSchema,
    /// Only on other schemas: a replay of a schema this target drifted from, or another
    /// target's.
    Elsewhere,
    /// No receipt for these contents.
    None,
}

impl Proof {
    pub fn label(self) -> &'static str {
        match self {
            Proof::ThisSchema => "proven on this schema",
            Proof::Elsewhere => "proven elsewhere",
            Proof::None => "not proven",
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
    /// Every destroying statement can be captured by a targeted snapshot.
    Capture,
    /// A configured, writable snapshot store with room for the estimated snapshots.
    SnapshotStore,
    /// A passing restore drill within `[drill] max_age`.
    Drill,
    /// `[drift] blocks`: the down-path was proven on this target's own schema.
    Drift,
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
    /// Whether the receipt was proven on this target's schema.
    pub proof: Proof,
    /// Where the receipt used was proven: `replay` or `target NAME` (null for receipts that
    /// do not say, and when there is none).
    pub proven_on: Option<String>,
    /// True for irreversible migrations: a snapshot is taken before their destructive steps.
    pub snapshot_required: bool,
    /// For irreversible migrations reached on the target: the snapshot's estimated size and
    /// capture time, from the target's table statistics.
    pub snapshot_estimate: Option<SnapshotEstimate>,
    /// Tables that `migsafe apply` installs its capture triggers on before the migration's
    /// steps: each in a short transaction of its own, taking SHARE ROW EXCLUSIVE on it within
    /// the apply `lock_timeout`. Empty when they are in place (or the migration writes no rows).
    pub capture_triggers: Vec<String>,
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
    /// `[drift] ignore`: objects left out of schema ids.
    pub drift_ignore: &'a [DriftIgnore],
    /// `[drift] blocks`: irreversible migrations need a down proven on the target's schema.
    pub drift_blocks: bool,
}

/// Probes every target and applies the gates.
pub fn plan(input: &PlanInput<'_>) -> PlanReport {
    let started = std::time::Instant::now();
    let analysis = input.analysis;
    let project = Project {
        runner: analysis.runner,
        runner_hint: analysis.runner_hint.clone(),
        root: analysis.root.clone(),
        dirs: Vec::new(),
        migrations: analysis
            .migrations
            .iter()
            .map(|m| m.migration.clone())
            .collect(),
    };
    let store = check_store(input.snapshot_store);
    let by_id: HashMap<String, &MigrationAnalysis> = analysis
        .migrations
        .iter()
        .map(|m| (m.migration.id(), m))
        .collect();
    // What each migration captures: derived once, on first use by any target.
    let captures: HashMap<String, (&MigrationAnalysis, OnceLock<Captures>)> = analysis
        .migrations
        .iter()
        .map(|m| (m.migration.id(), (m, OnceLock::new())))
        .collect();
    let probes_started = std::time::Instant::now();
    let probes = probe_all(&input.targets, &project, &captures, input.drift_ignore);
    let mut timings = Timings {
        probes: probes_started.elapsed(),
        ..Timings::default()
    };
    for p in &probes {
        timings.connect_max = timings.connect_max.max(p.connect);
        timings.read_max = timings.read_max.max(p.read);
    }
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
        analysis,
        prefixes: crate::drift::prefix_ids(analysis),
        ignore: crate::drift::ignore_patterns(input.drift_ignore),
        drift_blocks: input.drift_blocks,
    };
    let targets: Vec<TargetPlan> = input
        .targets
        .iter()
        .zip(probes)
        .map(|(t, probe)| target_plan(t, probe, &by_id, &captures, &ctx))
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
        timings: Timings {
            total: started.elapsed(),
            ..timings
        },
    }
}

struct Ctx<'a> {
    receipts: &'a Receipts,
    store: &'a StoreCheck,
    store_path: Option<&'a Path>,
    drill_max_age: Option<Duration>,
    verify_fix: &'a str,
    root: &'a str,
    analysis: &'a Analysis,
    /// `drift::applied_id` of every prefix of the project.
    prefixes: Vec<String>,
    /// `[drift] ignore` patterns, as receipts record them.
    ignore: Vec<String>,
    drift_blocks: bool,
}

type CaptureMap<'a> = HashMap<String, (&'a MigrationAnalysis, OnceLock<Captures>)>;

fn captures_for<'c>(captures: &'c CaptureMap<'_>, id: &str) -> Option<&'c Captures> {
    captures
        .get(id)
        .map(|(m, once)| once.get_or_init(|| estimate::captures_of(m)))
}

/// What one read-only probe of a target found.
#[derive(Debug)]
struct Probe {
    database: Option<String>,
    postgres_major: Option<u32>,
    result: Result<Read, String>,
    connect: Duration,
    read: Duration,
}

#[derive(Debug)]
struct Read {
    status: Status,
    steps: Vec<ledger::StepRecord>,
    /// Snapshot estimates of the pending irreversible migrations, by migration id.
    estimates: HashMap<String, SnapshotEstimate>,
    /// Why the estimates could not be read (blocks the target: the store gate cannot be judged).
    estimate_error: Option<String>,
    /// Tables whose capture triggers apply will install first, by migration id.
    triggers: HashMap<String, Vec<String>>,
    /// The target's schema id (`drift::schema_id`), or why it could not be read.
    schema: Result<String, String>,
}

/// What the probes of one plan share.
struct Shared<'a> {
    captures: &'a CaptureMap<'a>,
    ignore: &'a [DriftIgnore],
    /// `applied::compare` by history (its sha256, `applied_at` left out).
    statuses: Mutex<HashMap<[u8; 32], std::sync::Arc<OnceLock<Status>>>>,
}

impl Shared<'_> {
    /// `applied::compare` reads and hashes the file of every applied migration (sqlx and
    /// Flyway checksums): 990 files per target in the 1,000-migration benchmark. Targets with
    /// the same history (a fleet on one release) share one comparison. `applied_at` is the only
    /// field compare does not read, so it is left out of the key.
    fn compare(&self, project: &Project, history: &applied::History) -> Status {
        use sha2::Digest;
        let mut keyed = history.clone();
        for r in &mut keyed.applied {
            r.applied_at = None;
        }
        let key: [u8; 32] = match serde_json::to_vec(&keyed) {
            Ok(json) => sha2::Sha256::digest(&json).into(),
            Err(_) => return applied::compare(project, history),
        };
        let cell = self
            .statuses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default()
            .clone();
        cell.get_or_init(|| applied::compare(project, history))
            .clone()
    }
}

/// Probes the targets concurrently, at most [`MAX_PROBES`] at a time; results in input order.
fn probe_all(
    targets: &[TargetConfig],
    project: &Project,
    captures: &CaptureMap<'_>,
    ignore: &[DriftIgnore],
) -> Vec<Probe> {
    let shared = Shared {
        captures,
        ignore,
        statuses: Mutex::new(HashMap::new()),
    };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Probe>>> = Mutex::new((0..targets.len()).map(|_| None).collect());
    let workers = targets.len().clamp(1, MAX_PROBES);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(t) = targets.get(i) else { break };
                    let probe = probe(t, project, &shared);
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

/// Reads the runner's history, the ledger and the statistics of the tables the pending
/// irreversible migrations destroy, in one READ ONLY transaction.
fn probe(target: &TargetConfig, project: &Project, shared: &Shared<'_>) -> Probe {
    let mut probe = Probe {
        database: None,
        postgres_major: None,
        result: Err(String::new()),
        connect: Duration::ZERO,
        read: Duration::ZERO,
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
    let connect_started = std::time::Instant::now();
    let connected = crate::pg::connect::connect(&conn);
    probe.connect = connect_started.elapsed();
    let mut client = match connected {
        Ok(c) => c,
        Err(e) => {
            probe.result = Err(format!("unreachable: {e}"));
            return probe;
        }
    };
    let read_started = std::time::Instant::now();
    let read = (|| -> Result<(u32, Read), String> {
        crate::pg::connect::set_session(&mut client, target.read_settings())
            .map_err(|e| target.session_error(e))?;
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
        let status = shared.compare(project, &history);
        let steps = ledger::applied_steps(&mut tx).map_err(|e| e.to_string())?;
        let kept = crate::drift::kept_of(&mut tx, &steps);
        // Last, so that a failing catalog query (it aborts the transaction) loses nothing else.
        let mut estimates = HashMap::new();
        let mut estimate_error = None;
        let mut triggers = HashMap::new();
        for id in &status.pending {
            let Some(c) = captures_for(shared.captures, id) else {
                continue;
            };
            if estimate_error.is_some() {
                break;
            }
            match crate::snapshot::observe::missing_triggers(&mut tx, &c.written_tables()) {
                Ok(t) => {
                    triggers.insert(id.clone(), t);
                }
                Err(e) => {
                    estimate_error = Some(format!(
                        "cannot read the capture triggers {id} needs: {}",
                        crate::pg::error_text(&e)
                    ));
                }
            }
        }
        let mut est = Estimator::new(&mut tx);
        for id in &status.pending {
            if estimate_error.is_some() {
                break;
            }
            let Some(c) = captures_for(shared.captures, id) else {
                continue;
            };
            if !shared
                .captures
                .get(id)
                .is_some_and(|(m, _)| matches!(m.reversibility, Reversibility::Irreversible { .. }))
            {
                continue;
            }
            match est.estimate(c) {
                Ok(e) => {
                    estimates.insert(id.clone(), e);
                }
                Err(e) => {
                    estimate_error = Some(format!(
                        "cannot estimate the snapshot of {id}: {}",
                        crate::pg::error_text(&e)
                    ));
                    break;
                }
            }
        }
        // A failed query leaves the transaction aborted; ending it either way changes nothing.
        let _ = tx.rollback();
        let schema = kept.and_then(|kept| {
            let exclude = crate::drift::exclude_for(project.runner, &history.table);
            let f = crate::pg::fingerprint::fingerprint(&mut client, &exclude)
                .map_err(|e| crate::pg::error_text(&e))?;
            Ok(crate::drift::schema_id(
                &crate::drift::hide_kept(f, &kept),
                shared.ignore,
            ))
        });
        Ok((
            major,
            Read {
                status,
                steps,
                estimates,
                estimate_error,
                triggers,
                schema: schema.map_err(|e| format!("cannot read the schema: {e}")),
            },
        ))
    })();
    probe.read = read_started.elapsed();
    probe.result = match read {
        Ok((major, read)) => {
            probe.postgres_major = Some(major);
            Ok(read)
        }
        Err(e) => Err(format!("cannot read what was applied: {e}")),
    };
    probe
}

fn target_plan(
    t: &TargetConfig,
    probe: Probe,
    by_id: &HashMap<String, &MigrationAnalysis>,
    captures: &CaptureMap<'_>,
    ctx: &Ctx<'_>,
) -> TargetPlan {
    let latest_drill = ctx
        .store_path
        .and_then(|store| crate::drill::latest(&Store::new(store), &t.name));
    let mut plan = TargetPlan {
        name: t.name.clone(),
        wave: t.wave.clone(),
        database: probe.database,
        postgres_major: probe.postgres_major,
        verdict: Verdict::Blocked,
        problems: vec![],
        warnings: vec![],
        applied: 0,
        drift: DriftStatus {
            status: DriftState::Unknown,
            schema: None,
            expected: None,
            detail: "the target could not be read".into(),
        },
        pending: vec![],
        snapshot_bytes: 0,
        drill: latest_drill.as_ref().map(|r| DrillInfo {
            id: r.id.clone(),
            started_at: r.started_at.clone(),
            passed: r.passed(),
            age_seconds: age_of(&r.started_at),
            restore_seconds: r.restore_ms as f64 / 1000.0,
        }),
    };
    let Read {
        status,
        steps,
        mut estimates,
        mut triggers,
        estimate_error,
        schema,
    } = match probe.result {
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
    if let Some(e) = estimate_error {
        plan.problems.push(problem(e, None));
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
    plan.snapshot_bytes = status
        .pending
        .iter()
        .filter_map(|id| estimates.get(id))
        .map(|e| e.bytes)
        .sum();
    let prefix = applied_prefix(ctx.analysis, &status);
    plan.drift = drift_status(&t.name, schema, &status, prefix, major, ctx);
    let target = TargetCtx {
        name: &t.name,
        major,
        snapshot_bytes: plan.snapshot_bytes,
        drill: latest_drill.as_ref(),
        drift: &plan.drift,
    };
    // The schema each pending migration will meet, followed from the target's own: through
    // the receipt proven on it (its `schema_after`), or the replay's recorded schemas.
    let mut meets = plan.drift.schema.clone();
    for (n, id) in status.pending.iter().enumerate() {
        let Some(m) = by_id.get(id) else {
            plan.problems.push(problem(
                format!("pending migration {id} is not in the analysed project"),
                None,
            ));
            meets = None;
            continue;
        };
        let estimate = estimates.remove(id);
        let capture = captures_for(captures, id);
        let mut p = pending(m, &target, meets.as_deref(), estimate, capture, ctx);
        p.0.capture_triggers = triggers.remove(id).unwrap_or_default();
        meets = p.1.or_else(|| {
            // Along the replay: only while the target is a prefix of the project.
            let at = prefix? + n;
            let before = ctx
                .receipts
                .expected_schema(ctx.prefixes.get(at)?, major, &ctx.ignore)?;
            if Some(&before.schema) != meets.as_ref() {
                return None;
            }
            let after =
                ctx.receipts
                    .expected_schema(ctx.prefixes.get(at + 1)?, major, &ctx.ignore)?;
            Some(after.schema.clone())
        });
        plan.pending.push(p.0);
    }
    plan.verdict =
        if plan.problems.is_empty() && plan.pending.iter().all(|m| m.verdict == Verdict::Ok) {
            Verdict::Ok
        } else {
            Verdict::Blocked
        };
    plan
}

/// How many migrations are applied when they are exactly the project's first ones, in order
/// (the usual case; only then do the replay's recorded schemas describe the target).
fn applied_prefix(analysis: &Analysis, status: &Status) -> Option<usize> {
    if !status.out_of_order.is_empty() {
        return None;
    }
    let not_applied = |m: &MigrationAnalysis| {
        let id = m.migration.id();
        status.pending.contains(&id) || status.out_of_order.contains(&id)
    };
    let k = analysis
        .migrations
        .iter()
        .position(not_applied)
        .unwrap_or(analysis.migrations.len());
    analysis.migrations[k..]
        .iter()
        .all(not_applied)
        .then_some(k)
}

/// Compares the target's schema id with the one its applied set builds, as recorded.
fn drift_status(
    target: &str,
    schema: Result<String, String>,
    status: &Status,
    prefix: Option<usize>,
    major: u32,
    ctx: &Ctx<'_>,
) -> DriftStatus {
    let applied_id = match prefix {
        Some(k) => ctx.prefixes[k].clone(),
        None => crate::drift::applied_id(
            ctx.analysis.runner,
            &crate::drift::applied_migrations(ctx.analysis, status),
        ),
    };
    let expected = ctx
        .receipts
        .expected_schema(&applied_id, major, &ctx.ignore)
        .map(|e| e.schema.clone());
    let applied = ctx
        .analysis
        .migrations
        .len()
        .saturating_sub(status.pending.len() + status.out_of_order.len());
    let schema = match schema {
        Ok(s) => s,
        Err(e) => {
            return DriftStatus {
                status: DriftState::Unknown,
                schema: None,
                expected,
                detail: e,
            };
        }
    };
    let (state, detail) = match &expected {
        None => (
            DriftState::Unknown,
            format!(
                "no schema recorded for its {applied} applied migration{} on PostgreSQL {major}{}: `migsafe verify {}` records it",
                if applied == 1 { "" } else { "s" },
                if ctx.ignore.is_empty() {
                    String::new()
                } else {
                    " with the current [drift] ignore".to_string()
                },
                ctx.root
            ),
        ),
        Some(e) if *e == schema => (
            DriftState::InStep,
            match applied {
                0 => "nothing applied, and nothing else there".to_string(),
                1 => "the schema its 1 applied migration builds".to_string(),
                n => format!("the schema its {n} applied migrations build"),
            },
        ),
        Some(_) => (
            DriftState::Drift,
            format!(
                "not the schema its {applied} applied migration{} build: `migsafe drift --target {target}` lists the differences",
                if applied == 1 { "" } else { "s" }
            ),
        ),
    };
    DriftStatus {
        status: state,
        schema: Some(schema),
        expected,
        detail,
    }
}

/// What the gates of one target's migrations need to know about the target.
struct TargetCtx<'a> {
    name: &'a str,
    major: u32,
    /// The sum of the target's snapshot estimates.
    snapshot_bytes: u64,
    drill: Option<&'a crate::drill::DrillReport>,
    drift: &'a DriftStatus,
}

/// The gates of one pending migration, which will meet the schema `meets` (a schema id, when
/// known). Also returns the schema its up leaves, when its receipt proven on `meets` says.
fn pending(
    m: &MigrationAnalysis,
    target: &TargetCtx<'_>,
    meets: Option<&str>,
    estimate: Option<SnapshotEstimate>,
    capture: Option<&Captures>,
    ctx: &Ctx<'_>,
) -> (PendingMigration, Option<String>) {
    let major = target.major;
    let id = m.migration.id();
    let (up, down) = receipts::script_hashes(m);
    let valid: Vec<&receipts::Receipt> = ctx
        .receipts
        .all_valid_for(&id, &up, down.as_deref(), major)
        .collect();
    let receipt = if !valid.is_empty() {
        ReceiptStatus::Valid
    } else if ctx.receipts.receipts.iter().any(|r| r.id == id) {
        ReceiptStatus::Stale
    } else {
        ReceiptStatus::Missing
    };
    let here = meets.and_then(|s| {
        valid
            .iter()
            .find(|r| r.schema_before.as_deref() == Some(s) && r.drift_ignore == ctx.ignore)
    });
    let proof = match (here, valid.is_empty()) {
        (Some(_), _) => Proof::ThisSchema,
        (None, false) => Proof::Elsewhere,
        (None, true) => Proof::None,
    };
    let proven_on = here.or(valid.first()).and_then(|r| r.proven_on.clone());
    let after = here.and_then(|r| r.schema_after.clone());
    let mut out = PendingMigration {
        id,
        reversibility: m.reversibility.label().to_string(),
        irreversible_steps: vec![],
        receipt,
        proof,
        proven_on,
        snapshot_required: false,
        snapshot_estimate: None,
        capture_triggers: vec![],
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
            // Without a receipt the receipt gate already says what to run; a drifted target
            // also needs to know that a replay's receipt will not be enough.
            if ctx.drift_blocks
                && (receipt == ReceiptStatus::Valid || target.drift.status == DriftState::Drift)
            {
                out.gates.push(drift_gate(&out, target, ctx));
            }
            out.gates.push(capture_gate(capture, target.name));
            out.snapshot_estimate = estimate;
            out.gates.push(store_gate(ctx.store, target.snapshot_bytes));
            if let Some(max_age) = ctx.drill_max_age {
                out.gates.push(drill_gate(
                    ctx.store_path,
                    target.drill,
                    target.name,
                    max_age,
                ));
            }
        }
    }
    if out.gates.iter().any(|g| !g.passed) {
        out.verdict = Verdict::Blocked;
    }
    (out, after)
}

/// `[drift] blocks`: a down proven on another schema is no proof for this one.
fn drift_gate(m: &PendingMigration, target: &TargetCtx<'_>, ctx: &Ctx<'_>) -> Gate {
    let name = target.name;
    let on = m
        .proven_on
        .as_deref()
        .map(|p| format!(" ({p})"))
        .unwrap_or_default();
    if m.proof == Proof::ThisSchema {
        return Gate {
            gate: GateName::Drift,
            passed: true,
            detail: format!("down-path proven on the schema it will meet on {name}{on}"),
            fix: None,
        };
    }
    let prove_here = format!("migsafe verify {} --target {name}", ctx.root);
    let (detail, fix) = match target.drift.status {
        DriftState::Drift => (
            format!(
                "{name}'s schema drifted from what its applied migrations build; the down-path was not proven on it"
            ),
            format!(
                "`migsafe drift --target {name}` lists the differences: remove them, or accept them in [drift] ignore with a reason, or prove the down on {name}'s schema: {prove_here}"
            ),
        ),
        DriftState::Unknown => (
            format!(
                "{name}'s schema is not known to be one the down-path was proven on: {}",
                target.drift.detail
            ),
            format!(
                "{}, or prove the down on {name}'s schema: {prove_here}",
                ctx.verify_fix
            ),
        ),
        DriftState::InStep => (
            format!(
                "the down-path was proven on another schema{on}, not on the one it will meet on {name}"
            ),
            ctx.verify_fix.to_string(),
        ),
    };
    Gate {
        gate: GateName::Drift,
        passed: false,
        detail,
        fix: Some(fix),
    }
}

/// Every destroying statement must be capturable (fail closed).
fn capture_gate(capture: Option<&Captures>, target: &str) -> Gate {
    match capture {
        Some(c) if c.failures.is_empty() => {
            let plural = |n: usize| if n == 1 { "" } else { "s" };
            let pre = c.requests.len();
            let observed = c
                .writes
                .iter()
                .filter(|w| w.kind != estimate::WriteKind::Insert)
                .map(|w| &w.table)
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            let mut parts = vec![];
            if pre > 0 || observed == 0 {
                parts.push(format!(
                    "captures {pre} object{} before it is destroyed",
                    plural(pre)
                ));
            }
            if observed > 0 {
                parts.push(format!(
                    "records the rows changed in {observed} table{} (and those its FK actions reach) as they change",
                    plural(observed)
                ));
            }
            Gate {
                gate: GateName::Capture,
                passed: true,
                detail: format!("a targeted snapshot {}", parts.join(" and ")),
                fix: None,
            }
        }
        Some(c) => Gate {
            gate: GateName::Capture,
            passed: false,
            detail: c.failures.join("; "),
            fix: Some(format!(
                "rewrite the statement so that migsafe can capture what it destroys, or take a full snapshot first: migsafe snapshot create --target {target} --full"
            )),
        },
        None => Gate {
            gate: GateName::Capture,
            passed: false,
            detail: "migsafe does not know what this migration's snapshot captures".into(),
            fix: None,
        },
    }
}

/// A configured, writable store with room for every snapshot the target will take.
fn store_gate(store: &StoreCheck, need: u64) -> Gate {
    let path = store.path.as_deref().unwrap_or("");
    if let Some(p) = &store.problem {
        return Gate {
            gate: GateName::SnapshotStore,
            passed: false,
            detail: p.clone(),
            fix: Some(match &store.path {
                None => "set [snapshots] store in migsafe.toml or pass --store DIR".to_string(),
                Some(p) => format!("make {p} a directory this user can write to"),
            }),
        };
    }
    match store.free_bytes {
        None => Gate {
            gate: GateName::SnapshotStore,
            passed: false,
            detail: format!("cannot tell how much space is free in store {path}"),
            fix: Some(format!("check that {path} is on a mounted filesystem")),
        },
        Some(free) if free < need => Gate {
            gate: GateName::SnapshotStore,
            passed: false,
            detail: format!(
                "store {path} has {} free, but this target's snapshots are estimated at {} ({} bytes needed, {} free)",
                crate::units::bytes(free),
                crate::units::bytes(need),
                need,
                free
            ),
            fix: Some(format!(
                "free at least {} in {path} (migsafe snapshot prune), or point --store / [snapshots] store at a larger disk",
                crate::units::bytes(need - free)
            )),
        },
        Some(free) => Gate {
            gate: GateName::SnapshotStore,
            passed: true,
            detail: format!(
                "store {path} is writable and has {} free for an estimated {}",
                crate::units::bytes(free),
                crate::units::bytes(need)
            ),
            fix: None,
        },
    }
}

/// Seconds since an RFC 3339 time, when it can be read.
fn age_of(started_at: &str) -> Option<u64> {
    started_at.parse::<jiff::Timestamp>().ok().and_then(|t| {
        let secs = jiff::Timestamp::now().as_second() - t.as_second();
        u64::try_from(secs.max(0)).ok()
    })
}

fn drill_gate(
    store: Option<&Path>,
    latest: Option<&crate::drill::DrillReport>,
    target: &str,
    max_age: Duration,
) -> Gate {
    let fix = Some(format!("migsafe drill --target {target}"));
    let failed = |detail: String| Gate {
        gate: GateName::Drill,
        passed: false,
        detail,
        fix: fix.clone(),
    };
    if store.is_none() {
        return failed("no snapshot store, so no drill".into());
    }
    let Some(report) = latest else {
        return failed(format!("no restore drill recorded for {target}"));
    };
    if !report.passed() {
        return failed(format!("the latest drill ({}) failed", report.id));
    }
    match age_of(&report.started_at) {
        None => failed(format!(
            "the latest drill ({}) has no readable start time",
            report.id
        )),
        Some(age) if age > max_age.as_secs() => failed(format!(
            "the latest drill ({}) is {} old, more than max_age {}",
            report.id,
            crate::units::age(age),
            crate::units::age(max_age.as_secs())
        )),
        Some(age) => Gate {
            gate: GateName::Drill,
            passed: true,
            detail: format!("drill {} passed {} ago", report.id, crate::units::age(age)),
            fix: None,
        },
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
            free_bytes: None,
        };
    };
    let shown = path.display().to_string();
    let problem = writable_problem(path);
    StoreCheck {
        path: Some(shown),
        ok: problem.is_none(),
        free_bytes: if problem.is_none() {
            free_bytes(path)
        } else {
            None
        },
        problem,
    }
}

/// Space available to this user on the filesystem that holds `path` (or would: its nearest
/// existing ancestor), from `statvfs`. [`TEST_FREE_BYTES_ENV`] overrides it for tests.
pub fn free_bytes(path: &Path) -> Option<u64> {
    if cfg!(debug_assertions)
        && let Ok(v) = std::env::var(TEST_FREE_BYTES_ENV)
    {
        return v.trim().parse().ok();
    }
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = abs.ancestors().find(|a| a.exists())?;
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: `c` is a valid NUL-terminated path and `st` a properly sized, writable buffer.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    #[allow(clippy::unnecessary_cast)]
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
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
        if let Some(d) = &t.drill {
            out.push_str(&format!(
                "  latest drill: {} {}{}, restore took {:.2} s\n",
                d.id,
                if d.passed { "passed" } else { "failed" },
                d.age_seconds
                    .map(|a| format!(" {} ago", crate::units::age(a)))
                    .unwrap_or_default(),
                d.restore_seconds
            ));
        }
        if t.database.is_some() && t.postgres_major.is_some() {
            out.push_str(&format!(
                "  drift: {}{} ({})\n",
                t.drift.status.label(),
                t.drift
                    .schema
                    .as_deref()
                    .map(|s| format!(", schema {}", &s[..s.len().min(12)]))
                    .unwrap_or_default(),
                t.drift.detail
            ));
        }
        if !t.pending.is_empty() {
            out.push_str(&format!("  {} pending:\n", t.pending.len()));
        } else if t.problems.is_empty() {
            out.push_str(&format!("  nothing pending ({} applied)\n", t.applied));
        }
        for m in &t.pending {
            out.push_str(&format!(
                "  {:<7}  {}  {}, receipt {}{}\n",
                m.verdict.label(),
                m.id,
                m.reversibility,
                m.receipt.label(),
                match m.proof {
                    Proof::None => String::new(),
                    p => format!(
                        " ({}{})",
                        p.label(),
                        m.proven_on
                            .as_deref()
                            .map(|o| format!(": {o}"))
                            .unwrap_or_default()
                    ),
                }
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
            if let Some(e) = &m.snapshot_estimate {
                out.push_str(&format!(
                    "           snapshot ≈ {}, ≈ {:.2} s to capture\n",
                    crate::units::bytes(e.bytes),
                    e.seconds
                ));
                for o in &e.objects {
                    out.push_str(&format!(
                        "             {}: {}{}\n",
                        o.object,
                        crate::units::bytes(o.bytes),
                        o.rows
                            .map(|r| format!(", {r} row{}", if r == 1 { "" } else { "s" }))
                            .unwrap_or_default()
                    ));
                    if let Some(n) = &o.note {
                        out.push_str(&format!("               note: {n}\n"));
                    }
                }
            }
            if !m.capture_triggers.is_empty() {
                out.push_str(&format!(
                    "           apply first installs capture triggers on {} (SHARE ROW EXCLUSIVE, each in a short transaction)\n",
                    m.capture_triggers.join(", ")
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
        GateName::Capture => "capture",
        GateName::SnapshotStore => "snapshot store",
        GateName::Drill => "drill",
        GateName::Drift => "drift",
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
    fn store_gate_compares_free_space_with_the_estimates() {
        let store = StoreCheck {
            path: Some("s".into()),
            ok: true,
            problem: None,
            free_bytes: Some(1_000),
        };
        let g = store_gate(&store, 1_000);
        assert!(g.passed, "{g:?}");
        let g = store_gate(&store, 5_000);
        assert!(!g.passed);
        assert!(g.detail.contains("5000 bytes needed, 1000 free"), "{g:?}");
        assert!(g.fix.unwrap().contains("free at least 3.9 KiB in s"));
        let unknown = StoreCheck {
            free_bytes: None,
            ..store
        };
        assert!(!store_gate(&unknown, 0).passed);
    }

    #[test]
    fn free_space_of_a_store_that_does_not_exist_yet_is_its_ancestors() {
        if std::env::var_os(TEST_FREE_BYTES_ENV).is_some() {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        assert!(free_bytes(&t.path().join("a/b")).is_some_and(|f| f > 0));
    }
}
