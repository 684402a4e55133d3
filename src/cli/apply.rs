//! `migsafe apply`, `migsafe rollback` and `migsafe finalise`.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::bail;
use clap::{ArgGroup, Args, ValueEnum};

use super::snapshot::{StoreOpts, load_config, parse_duration, unknown_target};
use super::{ConfigOpts, Outcome, ProjectOpts, print};
use crate::apply::{self, Options, TargetReport, report};
use crate::classify::Analysis;
use crate::config::{Config, TargetConfig};
use crate::verify::receipts::{self, Receipts};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum RunFormat {
    #[default]
    Human,
    Json,
}

/// Options every writing command shares.
#[derive(Debug, Args)]
pub struct RunOpts {
    /// The migrations directory or project root, as for `migsafe lint` [default: migrations_dir
    /// from migsafe.toml, else the current directory].
    #[arg(value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
    /// Say exactly what would run, be captured and restored; change nothing (takes no lock).
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// If another migsafe run holds the target's lock, wait up to this long (`30s`, `5m`)
    /// instead of failing at once.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub wait: Option<u64>,
    #[command(flatten)]
    pub store: StoreOpts,
    #[command(flatten)]
    pub project: ProjectOpts,
    #[command(flatten)]
    pub config: ConfigOpts,
    /// Output format (progress notes go to stderr either way).
    #[arg(long, value_enum, default_value_t)]
    pub format: RunFormat,
    /// No progress notes on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["target", "wave"])))]
pub struct ApplyArgs {
    /// Apply to one target of migsafe.toml.
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// Apply to every target of one wave, in config order; stops at the first target that is
    /// blocked or fails.
    #[arg(long, value_name = "NAME")]
    pub wave: Option<String>,
    /// With --wave: apply to up to N targets at a time.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "wave",
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
    /// Apply up to and including this migration (version or id) [default: all pending].
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
    /// Apply migrations a gate blocks anyway; the reason is recorded in the target's ledger.
    #[arg(long, value_name = "REASON", value_parser = non_empty)]
    pub accept_risk: Option<String>,
    /// Let the tripwire pass data that TABLE loses without a snapshot (a drop, truncate,
    /// rewrite or write migsafe could not record), e.g. `--accept-loss public.audit_tmp
    /// "INC-1234: scratch data"`. Repeatable; each table and reason is recorded in the target's
    /// ledger. --accept-risk never does this.
    #[arg(long, num_args = 2, value_names = ["TABLE", "REASON"], action = clap::ArgAction::Append)]
    pub accept_loss: Vec<String>,
    /// Receipts file written by `migsafe verify`.
    #[arg(long, value_name = "FILE", default_value = receipts::DEFAULT_PATH)]
    pub receipts: PathBuf,
    #[command(flatten)]
    pub run: RunOpts,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The target of migsafe.toml to roll back.
    #[arg(long, value_name = "NAME", required = true)]
    pub target: String,
    /// Roll back every migration applied after this one (version or id); `0` rolls back all.
    #[arg(long, value_name = "VERSION", required = true)]
    pub to: String,
    /// Roll back even where a snapshot is missing or a down destroys data without one; the
    /// reason is recorded in the target's ledger.
    #[arg(long, value_name = "REASON", value_parser = non_empty)]
    pub accept_risk: Option<String>,
    #[command(flatten)]
    pub run: RunOpts,
}

#[derive(Debug, Args)]
pub struct FinaliseArgs {
    /// The target of migsafe.toml.
    #[arg(long, value_name = "NAME", required = true)]
    pub target: String,
    /// Finalise the applied migrations up to and including this one [default: all].
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
    #[command(flatten)]
    pub run: RunOpts,
}

fn non_empty(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        Err(
            "give the reason, e.g. --accept-risk \"INC-1234: legacy_plan unused since 2023\""
                .into(),
        )
    } else {
        Ok(s.trim().to_string())
    }
}

/// The one migrations project the command works on.
fn analysis(command: &str, run: &RunOpts) -> anyhow::Result<Analysis> {
    super::one_project(command, &run.paths, &run.config, &run.project)
}

fn target<'c>(config: &'c Config, name: &str) -> anyhow::Result<&'c TargetConfig> {
    config
        .target(name)
        .ok_or_else(|| unknown_target(config, name))
}

fn log_fn(quiet: bool) -> impl Fn(&str) + Sync {
    move |m: &str| {
        if !quiet {
            eprintln!("{m}");
        }
    }
}

/// Prints the reports; blocked targets and restore conflicts exit 1, failures exit 2.
fn finish(command: &str, format: RunFormat, reports: &[TargetReport]) -> anyhow::Result<Outcome> {
    match format {
        RunFormat::Human => print(&report::human(command, reports))?,
        RunFormat::Json => print(&report::json(command, reports))?,
    }
    let failed: Vec<String> = reports
        .iter()
        .filter(|r| r.outcome == report::Outcome::Failed)
        .map(|r| format!("{}: {}", r.target, r.error.as_deref().unwrap_or("")))
        .collect();
    if !failed.is_empty() {
        bail!("{command} failed on {}", failed.join("\n  and on "));
    }
    let attention = reports
        .iter()
        .any(|r| r.outcome != report::Outcome::Done || r.conflicts() > 0);
    Ok(if attention {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

pub fn run_apply(args: ApplyArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.run.config)?;
    let targets: Vec<TargetConfig> = match (&args.target, &args.wave) {
        (Some(name), _) => vec![target(&config, name)?.clone()],
        (None, Some(wave)) => {
            let ts = config.targets_in_wave(wave)?;
            if ts.is_empty() {
                bail!("wave `{wave}` has no targets: set `wave = \"{wave}\"` on its [[targets]]");
            }
            ts.into_iter().cloned().collect()
        }
        (None, None) => unreachable!("clap requires one"),
    };
    let accept_loss: Vec<(String, String)> = args
        .accept_loss
        .chunks(2)
        .map(|p| (p[0].trim().to_string(), p[1].trim().to_string()))
        .collect();
    if let Some((t, _)) = accept_loss
        .iter()
        .find(|(t, r)| t.is_empty() || r.is_empty())
    {
        anyhow::bail!(
            "--accept-loss needs a table and a reason, e.g. --accept-loss public.audit_tmp \"INC-1234: scratch data\" (got `{t}`)"
        );
    }
    let analysis = analysis("apply", &args.run)?;
    let receipts = Receipts::load(&args.receipts)?;
    let store = args.run.store.open(&config).ok();
    let log = log_fn(args.run.quiet);
    let opts = Options {
        analysis: &analysis,
        settings: &config.apply,
        store: store.as_ref(),
        receipts: &receipts,
        receipts_path: &args.receipts,
        drill_max_age: config.drill_max_age,
        drift_ignore: &config.drift_ignore,
        drift_blocks: config.drift_blocks,
        accept_risk: args.accept_risk.as_deref(),
        accept_loss: &accept_loss,
        wait: args.run.wait.map(Duration::from_secs),
        dry_run: args.run.dry_run,
        log: &log,
    };
    let reports = for_each_target(&targets, args.parallel as usize, |t| {
        apply::apply_target(&opts, t, args.to.as_deref())
    });
    finish("apply", args.run.format, &reports)
}

/// Runs `f` on each target, up to `parallel` at a time, in config order; after a target that
/// is blocked or fails, starts no more (those are reported as skipped).
fn for_each_target(
    targets: &[TargetConfig],
    parallel: usize,
    f: impl Fn(&TargetConfig) -> TargetReport + Sync,
) -> Vec<TargetReport> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let results: Mutex<Vec<Option<TargetReport>>> =
        Mutex::new(targets.iter().map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..parallel.clamp(1, targets.len().max(1)) {
            s.spawn(|| {
                loop {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(t) = targets.get(i) else { break };
                    let r = f(t);
                    if r.outcome != report::Outcome::Done {
                        stop.store(true, Ordering::SeqCst);
                    }
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .zip(targets)
        .map(|(r, t)| {
            r.unwrap_or_else(|| {
                let mut r = TargetReport::new(&t.name, false);
                r.outcome = report::Outcome::Skipped;
                r.note = Some("not started: an earlier target was blocked or failed".into());
                r
            })
        })
        .collect()
}

pub fn run_rollback(args: RollbackArgs) -> anyhow::Result<Outcome> {
    one_target(
        "rollback",
        &args.target,
        &args.run,
        args.accept_risk.as_deref(),
        |o, t| apply::rollback::rollback_target(o, t, &args.to),
    )
}

pub fn run_finalise(args: FinaliseArgs) -> anyhow::Result<Outcome> {
    one_target("finalise", &args.target, &args.run, None, |o, t| {
        apply::finalise_target(o, t, args.to.as_deref())
    })
}

/// Rollback and finalise: one target, no gates (so no receipts or drill policy).
fn one_target(
    command: &str,
    name: &str,
    run: &RunOpts,
    accept_risk: Option<&str>,
    f: impl FnOnce(&Options<'_>, &TargetConfig) -> TargetReport,
) -> anyhow::Result<Outcome> {
    let config = load_config(&run.config)?;
    let t = target(&config, name)?.clone();
    let analysis = analysis(command, run)?;
    let receipts = Receipts::default();
    let store = run.store.open(&config).ok();
    let log = log_fn(run.quiet);
    let opts = Options {
        analysis: &analysis,
        settings: &config.apply,
        store: store.as_ref(),
        receipts: &receipts,
        receipts_path: std::path::Path::new(receipts::DEFAULT_PATH),
        drill_max_age: None,
        drift_ignore: &config.drift_ignore,
        drift_blocks: config.drift_blocks,
        accept_risk,
        accept_loss: &[],
        wait: run.wait.map(Duration::from_secs),
        dry_run: run.dry_run,
        log: &log,
    };
    let r = f(&opts, &t);
    finish(command, run.format, &[r])
}
