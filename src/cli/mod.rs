//! Command-line interface: clap definitions, reusable option groups, one file per command.

mod apply;
mod drift;
mod drill;
mod lint;
mod plan;
mod rule;
mod snapshot;
mod verify;

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// What a command concluded; `main` maps it to the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0: nothing to report, or nothing that blocks.
    Clean,
    /// Exit 1: findings of severity error (or, later, blocked verdicts).
    Findings,
}

/// Keeps irreversible PostgreSQL migrations from reaching customers without a way back.
///
/// migsafe reads your pending migrations (diesel, sqlx, golang-migrate, goose, dbmate,
/// Flyway/refinery, sqitch or plain numbered files), classifies every step as reversible or
/// irreversible, and flags locking hazards.
///
/// Exit codes: 0 clean, 1 findings of severity error, 2 bad input or internal error.
#[derive(Debug, Parser)]
#[command(
    name = "migsafe",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check migrations statically: reversibility, destroyed data, locking hazards.
    ///
    /// Each PATH is a migrations directory (or a project root holding `migrations/`,
    /// `db/migrations/`, `sqitch.plan` …) or a single .sql file. The runner is detected from the
    /// layout; set `runner = "…"` in migsafe.toml when the layout fits several.
    ///
    /// Exit codes: 0 no finding of severity error, 1 findings, 2 migsafe could not do its job.
    ///
    /// Examples:
    ///   migsafe lint migrations/
    ///   migsafe lint --since origin/main --format github migrations/
    ///   migsafe lint --format sarif --output migsafe.sarif --exit-zero migrations/
    ///   migsafe lint 20240301_drop_plan.up.sql
    ///   alembic upgrade head --sql | migsafe lint - --stdin-filename alembic/upgrade.sql
    #[command(verbatim_doc_comment)]
    Lint(lint::LintArgs),
    /// Explain a rule (by ID or name), or list all rules.
    ///
    /// Examples:
    ///   migsafe rule
    ///   migsafe rule MS002
    ///   migsafe rule drop-column
    #[command(verbatim_doc_comment)]
    Rule(rule::RuleArgs),
    /// Prove each migration's down-path on a real PostgreSQL, and record receipts.
    ///
    /// On a scratch cluster started for the run (or --database-url), each migration runs on
    /// the state its predecessors leave, with synthetic rows in every table: up, down, up
    /// again. It passes when down restores the schema exactly and keeps every value the
    /// migration does not destroy, and up runs again to the same schema. Passing migrations
    /// get a receipt (sha256 of up and down, PostgreSQL major version) that `migsafe plan`
    /// requires before an irreversible migration may leak to the next wave.
    ///
    /// Exit codes: 0 all proven, 1 any failed or unproven, 2 migsafe could not do its job.
    ///
    /// Examples:
    ///   migsafe verify migrations/
    ///   migsafe verify --since origin/main --seed db/seed.sql
    ///   MIGSAFE_DATABASE_URL=postgres://ci@db/postgres migsafe verify
    ///   migsafe verify --check-receipts
    ///   migsafe verify --target prod --sample-rows 100
    ///
    /// With --target NAME, the round trips start from that target's own schema instead of a
    /// replay: migsafe reads the target read-only (its history and a pg_dump --schema-only),
    /// restores the schema on the scratch cluster and round-trips only the migrations the
    /// target has not applied. A down that fails only on production's schema (a view made by
    /// hand on a column the down drops) fails here, before it meets production.
    #[command(verbatim_doc_comment)]
    Verify(verify::VerifyArgs),
    /// Take, list, inspect, check, restore and prune snapshots of data.
    ///
    /// A snapshot is a directory in the store (`[snapshots] store` in migsafe.toml, or --store)
    /// holding what a step destroys (targeted) or a pg_dump of the database (full), with a
    /// manifest written last: no manifest, no snapshot. Files are 0600, directories 0700.
    ///
    /// Exit codes: 0 done, 1 restored with conflicts (or a failed --deep verify), 2 migsafe
    /// could not do its job (bad input, unreachable database, corrupt snapshot).
    ///
    /// Examples:
    ///   migsafe snapshot create --target acct-1 --table accounts.plan
    ///   migsafe snapshot create --target acct-1 --for 20240301120000
    ///   migsafe snapshot list
    ///   migsafe snapshot verify 20260301T101500Z-3fa9c1
    ///   migsafe snapshot restore 20260301T101500Z-3fa9c1 --target acct-1
    ///   migsafe snapshot prune --older-than 30d
    #[command(verbatim_doc_comment)]
    Snapshot(snapshot::SnapshotArgs),
    /// Restore snapshots into a scratch database, verify them, time it, and record a report.
    ///
    /// Drills the snapshot given by --snapshot, the newest snapshot of --target, or the newest
    /// snapshot of every target. Each drill checks the files' sha256, restores into a scratch
    /// cluster (or a throwaway database on --database-url), compares row counts and content
    /// with the manifest, and writes its report to <store>/_drills/<target>/<drill-id>.json,
    /// where `migsafe plan` finds it.
    ///
    /// Exit codes: 0 every drill passed, 1 a drill failed, 2 migsafe could not run it.
    ///
    /// Examples:
    ///   migsafe drill
    ///   migsafe drill --target acct-1
    ///   migsafe drill --snapshot 20260301T101500Z-3fa9c1 --format json
    ///   migsafe drill --history --target acct-1
    #[command(verbatim_doc_comment)]
    Drill(drill::DrillArgs),
    /// Say, per target and per wave, whether the pending migrations may be applied.
    ///
    /// Each target of migsafe.toml is probed read-only (one READ ONLY transaction: the
    /// runner's history and migsafe's ledger), up to 8 at a time. Reversible migrations pass;
    /// an irreversible one passes only with a valid receipt from `migsafe verify`, a writable
    /// snapshot store and, when `[drill] max_age` is set, a recent passing drill; unknown ones
    /// are blocked. A target that cannot be read, or whose history is dirty, edited or missing
    /// files, is blocked. Every blocked verdict names the command that clears it.
    ///
    /// Exit codes: 0 nothing blocked, 1 something blocked, 2 bad input (unknown target or
    /// wave, no targets configured).
    ///
    /// Examples:
    ///   migsafe plan --target acct-1
    ///   migsafe plan --wave beta --format json
    ///   migsafe plan --all --receipts .migsafe/receipts.json
    #[command(verbatim_doc_comment)]
    Plan(plan::PlanArgs),
    /// Compare each target's schema with what its applied migrations build: find drift.
    ///
    /// Per target, read-only: reads the runner's history and a fingerprint of the schema
    /// (tables, columns, indexes, constraints, functions …). On a scratch database (a cluster
    /// started for the run, or --database-url) it applies exactly the migrations the history
    /// says are applied and fingerprints that; targets on the same release share one. Each
    /// difference is reported per object as extra, missing or changed, with a diff; applied
    /// migrations whose file was edited since are reported too. `[drift] ignore` in
    /// migsafe.toml leaves out objects (exact name or `*` pattern) with a reason. Nothing is
    /// ever written to a target.
    ///
    /// Exit codes: 0 no drift, 1 drift (or a target could not be compared while others
    /// could), 2 migsafe could not run (bad input, no target could be compared).
    ///
    /// Examples:
    ///   migsafe drift --target acct-1
    ///   migsafe drift --wave beta --format json
    ///   migsafe drift --all --database-url postgres://ci@db/postgres
    #[command(verbatim_doc_comment)]
    Drift(drift::DriftArgs),
    /// Apply pending migrations to a target or a wave, with a way back for every step.
    ///
    /// Per target: takes the database's migsafe lock, judges the gates of `migsafe plan`
    /// (a blocked migration is refused unless --accept-risk records why), then runs each
    /// migration in its runner's mode. Immediately before each statement that destroys data,
    /// inside the same transaction, migsafe captures what it destroys into the snapshot store;
    /// a plain `DROP COLUMN` is applied by renaming the column aside (`[apply] soft_drop`). The
    /// runner's history row and migsafe's ledger row commit with the step, so a crash leaves
    /// the target before or after each whole step. `[apply] lock_timeout` (default 5s) and
    /// `statement_timeout` bound every statement. Each migration runs on a new session with
    /// the target's `session` settings of migsafe.toml (e.g. search_path, role).
    ///
    /// Exit codes: 0 applied (or nothing pending), 1 blocked (nothing applied to that target),
    /// 2 a step failed or migsafe could not run.
    ///
    /// Examples:
    ///   migsafe apply --target acct-1 --dry-run
    ///   migsafe apply --target acct-1 --to 20241014090000
    ///   migsafe apply --wave alpha --parallel 4 --format json
    ///   migsafe apply --target acct-1 --accept-risk "INC-812: column unused since 2023"
    #[command(verbatim_doc_comment)]
    Apply(apply::ApplyArgs),
    /// Roll a target back to a version, keeping what users wrote since the upgrade.
    ///
    /// For each migration applied after --to, newest first, in one transaction per migration:
    /// captures what its down destroys, runs the down, puts soft-dropped columns back, restores
    /// the snapshots apply took (destroyed values come back for rows that still exist, deleted
    /// rows come back, rows written since stay; rows changed since are kept and reported as
    /// conflicts), and records the down in the runner's history and migsafe's ledger.
    ///
    /// Exit codes: 0 rolled back, 1 refused (nothing changed) or rows in conflict, 2 failed.
    ///
    /// Examples:
    ///   migsafe rollback --target acct-1 --to 20240930110000 --dry-run
    ///   migsafe rollback --target acct-1 --to 20240930110000
    #[command(verbatim_doc_comment)]
    Rollback(apply::RollbackArgs),
    /// Close the rollback window: drop soft-dropped columns and release snapshots.
    ///
    /// For the applied migrations up to --to (default: all), drops the columns apply kept
    /// aside, marks the steps final in the ledger and unpins their snapshots, so that
    /// `snapshot prune` may remove them. After this the steps can only be rolled back without
    /// their data.
    ///
    /// Examples:
    ///   migsafe finalise --target acct-1 --dry-run
    ///   migsafe finalise --target acct-1 --to 20241014090000
    #[command(verbatim_doc_comment)]
    Finalise(apply::FinaliseArgs),
}

/// Where settings come from.
#[derive(Debug, Clone, Args)]
pub struct ConfigOpts {
    /// Use this config file instead of the nearest migsafe.toml above each path.
    #[arg(long, value_name = "FILE", env = "MIGSAFE_CONFIG")]
    pub config: Option<PathBuf>,
}

/// How the migrations project is read, for the commands that read one.
#[derive(Debug, Clone, Default, Args)]
pub struct ProjectOpts {
    /// The runner whose layout, order and execution mode apply; wins over `runner` in
    /// migsafe.toml and over detection (needed when a layout fits several runners).
    #[arg(long, value_enum, value_name = "RUNNER")]
    pub runner: Option<crate::source::Runner>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Annotated excerpts for people (colour on a terminal; NO_COLOR disables it).
    Human,
    /// The full analysis, documented in docs/output/json.md.
    Json,
    /// GitHub Actions workflow commands: annotations on the pull request's files.
    Github,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.
    Sarif,
    /// GitLab Code Quality report (`artifacts:reports:codequality`).
    Gitlab,
    /// reviewdog diagnostic format (`reviewdog -f=rdjson`).
    Rdjson,
}

/// How results are written.
#[derive(Debug, Clone, Args)]
pub struct OutputOpts {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human, env = "MIGSAFE_FORMAT")]
    pub format: Format,
    /// Write the report to FILE (replaced atomically) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Human format: print only the findings, without the per-migration list and summary.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Lint(args) => lint::run(args),
        Command::Rule(args) => rule::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Snapshot(args) => snapshot::run(args),
        Command::Drill(args) => drill::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Drift(args) => drift::run(args),
        Command::Apply(args) => apply::run_apply(args),
        Command::Rollback(args) => apply::run_rollback(args),
        Command::Finalise(args) => apply::run_finalise(args),
    }
}

/// The one migrations project a target command (plan, apply, rollback, drift …) works on,
/// read and classified as `migsafe lint` does.
pub(crate) fn one_project(
    command: &str,
    paths: &[PathBuf],
    config: &ConfigOpts,
    project: &ProjectOpts,
) -> anyhow::Result<crate::classify::Analysis> {
    let report = crate::lint::lint(&crate::lint::LintOptions {
        paths: paths.to_vec(),
        config: config.config.clone(),
        runner: project.runner,
        since: None,
        stdin: None,
        executing: true,
    })?;
    let mut projects = report.projects;
    match projects.len() {
        0 => anyhow::bail!("no migrations project found"),
        1 => Ok(projects.remove(0).analysis),
        n => anyhow::bail!("{command} takes one migrations project; {n} given"),
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error. Control and bidirectional
/// characters that names brought in are escaped ([`crate::report::escape::terminal_safe`]).
pub(crate) fn print(text: &str) -> anyhow::Result<()> {
    let text = crate::report::escape::terminal_safe(text);
    let mut out = anstream::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
