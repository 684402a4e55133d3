use std::path::PathBuf;

use anyhow::bail;
use clap::{ArgGroup, Args, ValueEnum};

use super::snapshot::{StoreOpts, load_config, unknown_target};
use super::{ConfigOpts, Outcome, ProjectOpts, print};
use crate::config::TargetConfig;
use crate::plan::{self, PlanInput};
use crate::verify::receipts::{self, Receipts};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Human,
    Json,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["target", "wave", "all"])))]
pub struct PlanArgs {
    /// The migrations directory or project root, as for `migsafe lint` [default: migrations_dir
    /// from migsafe.toml, else the current directory].
    #[arg(value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
    /// Plan one target of migsafe.toml.
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// Plan every target of one wave, and say whether the release may leak to it.
    #[arg(long, value_name = "NAME")]
    pub wave: Option<String>,
    /// Plan every target, and judge every wave.
    #[arg(long)]
    pub all: bool,
    /// Receipts file written by `migsafe verify`.
    #[arg(long, value_name = "FILE", default_value = receipts::DEFAULT_PATH)]
    pub receipts: PathBuf,
    #[command(flatten)]
    pub store: StoreOpts,
    #[command(flatten)]
    pub project: ProjectOpts,
    #[command(flatten)]
    pub config: ConfigOpts,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,
    /// No progress notes on stderr (accepted by every command, for scripts).
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

pub fn run(args: PlanArgs) -> anyhow::Result<Outcome> {
    let started = std::time::Instant::now();
    let config = load_config(&args.config)?;
    if config.targets.is_empty() {
        bail!(
            "no targets configured: add [[targets]] (name, url or url_env, wave) to {}",
            config
                .path
                .as_ref()
                .map_or("migsafe.toml".to_string(), |p| p.display().to_string())
        );
    }
    let (targets, waves): (Vec<TargetConfig>, Vec<(String, Vec<String>)>) =
        if let Some(name) = &args.target {
            let t = config
                .target(name)
                .ok_or_else(|| unknown_target(&config, name))?;
            (vec![t.clone()], vec![])
        } else if let Some(wave) = &args.wave {
            let ts = config.targets_in_wave(wave)?;
            if ts.is_empty() {
                bail!("wave `{wave}` has no targets: set `wave = \"{wave}\"` on its [[targets]]");
            }
            let names = ts.iter().map(|t| t.name.clone()).collect();
            (
                ts.into_iter().cloned().collect(),
                vec![(wave.clone(), names)],
            )
        } else {
            let mut names: Vec<String> = config.waves().to_vec();
            for w in config.targets.iter().filter_map(|t| t.wave.as_ref()) {
                if !names.contains(w) {
                    names.push(w.clone());
                }
            }
            let waves = names
                .into_iter()
                .map(|w| {
                    let members = config
                        .targets
                        .iter()
                        .filter(|t| t.wave.as_deref() == Some(w.as_str()))
                        .map(|t| t.name.clone())
                        .collect();
                    (w, members)
                })
                .collect();
            (config.targets.clone(), waves)
        };
    let analysis = super::one_project("plan", &args.paths, &args.config, &args.project)?;
    let analysed = started.elapsed();
    let receipts = Receipts::load(&args.receipts)?;
    let out = plan::plan(&PlanInput {
        analysis: &analysis,
        targets,
        waves,
        receipts: &receipts,
        receipts_path: &args.receipts,
        snapshot_store: args
            .store
            .store
            .as_deref()
            .or(config.snapshot_store.as_deref()),
        drill_max_age: config.drill_max_age,
        drift_ignore: &config.drift_ignore,
        drift_blocks: config.drift_blocks,
    });
    match args.format {
        PlanFormat::Human => print(&plan::human(&out))?,
        PlanFormat::Json => print(&plan::json(&out))?,
    }
    // For benches/plan.sh: where the time went, on stderr.
    if std::env::var_os("MIGSAFE_PLAN_TIMINGS").is_some() {
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        let t = out.timings;
        eprintln!(
            "plan timings: total {:.1} ms, config+lint {:.1} ms, probes {:.1} ms (slowest connect {:.1} ms, slowest read {:.1} ms), gates+output {:.1} ms",
            ms(started.elapsed()),
            ms(analysed),
            ms(t.probes),
            ms(t.connect_max),
            ms(t.read_max),
            ms(started.elapsed().saturating_sub(analysed + t.probes)),
        );
    }
    Ok(if out.blocked() {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}
