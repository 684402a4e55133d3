//! `migsafe drift`: compare targets' schemas with what their applied migrations build.

use std::path::PathBuf;

use anyhow::bail;
use clap::{ArgGroup, Args};

use super::apply::RunFormat;
use super::snapshot::{load_config, unknown_target};
use super::{ConfigOpts, Outcome, ProjectOpts, print};
use crate::config::TargetConfig;
use crate::drift::{self, DriftInput, Scratch};
use crate::pg::cluster::Cluster;
use crate::pg::connect::{self, Target};

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["target", "wave", "all"])))]
pub struct DriftArgs {
    /// The migrations directory or project root, as for `migsafe lint` [default: migrations_dir
    /// from migsafe.toml, else the current directory].
    #[arg(value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
    /// Check one target of migsafe.toml.
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// Check every target of one wave.
    #[arg(long, value_name = "NAME")]
    pub wave: Option<String>,
    /// Check every target.
    #[arg(long)]
    pub all: bool,
    /// Build the expected schemas on this server instead of a scratch cluster: migsafe creates
    /// throwaway databases there (the role needs CREATEDB) and drops them afterwards.
    #[arg(
        long,
        value_name = "URL",
        env = "MIGSAFE_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    #[command(flatten)]
    pub project: ProjectOpts,
    #[command(flatten)]
    pub config: ConfigOpts,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: RunFormat,
    /// No progress notes on stderr (accepted by every command, for scripts).
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// The scratch server: --database-url, or a cluster started on first need.
struct Server {
    url: Option<String>,
    cluster: Option<Cluster>,
    target: Option<Target>,
}

impl Server {
    fn runner_of(&self) -> Option<Target> {
        let c = self.cluster.as_ref()?;
        connect::from_url(&c.url_as(crate::pg::cluster::RUNNER, "postgres")).ok()
    }
}

impl Scratch for Server {
    fn server(&mut self) -> Result<Target, String> {
        if let Some(t) = &self.target {
            return Ok(t.clone());
        }
        let url = match &self.url {
            Some(u) => u.clone(),
            None => {
                let c = Cluster::start_private()
                    .map_err(|e| format!("cannot start a scratch PostgreSQL cluster: {e:#}"))?;
                let url = c.url("postgres");
                self.cluster = Some(c);
                url
            }
        };
        let t = connect::from_url(&url).map_err(|e| format!("scratch server: {e}"))?;
        self.target = Some(t.clone());
        Ok(t)
    }

    fn runner(&self) -> Option<Target> {
        self.runner_of()
    }
}

pub fn run(args: DriftArgs) -> anyhow::Result<Outcome> {
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
    let targets: Vec<TargetConfig> = if let Some(name) = &args.target {
        vec![
            config
                .target(name)
                .ok_or_else(|| unknown_target(&config, name))?
                .clone(),
        ]
    } else if let Some(wave) = &args.wave {
        let ts = config.targets_in_wave(wave)?;
        if ts.is_empty() {
            bail!("wave `{wave}` has no targets: set `wave = \"{wave}\"` on its [[targets]]");
        }
        ts.into_iter().cloned().collect()
    } else {
        config.targets.clone()
    };
    let analysis = super::one_project("drift", &args.paths, &args.config, &args.project)?;
    let mut server = Server {
        url: args.database_url.clone(),
        cluster: None,
        target: None,
    };
    let out = drift::drift(
        &DriftInput {
            analysis: &analysis,
            targets: &targets,
            ignore: &config.drift_ignore,
        },
        &mut server,
    );
    drop(server);
    match args.format {
        RunFormat::Human => print(&drift::human(&out))?,
        RunFormat::Json => print(&drift::json(&out))?,
    }
    if out.nothing_compared() {
        let errors: Vec<String> = out
            .targets
            .iter()
            .map(|t| format!("{}: {}", t.target, t.error.as_deref().unwrap_or("")))
            .collect();
        bail!("could not compare any target: {}", errors.join("; "));
    }
    Ok(if out.drifted() || out.summary.unknown > 0 {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}
