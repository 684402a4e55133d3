use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;

use super::{ConfigOpts, Format, Outcome, OutputOpts, print};
use crate::lint::{LintOptions, lint};
use crate::report;

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Migrations directories, project roots or .sql files [default: migrations_dir from
    /// migsafe.toml, else the current directory].
    #[arg(value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub config: ConfigOpts,
    #[command(flatten)]
    pub output: OutputOpts,
}

pub fn run(args: LintArgs) -> anyhow::Result<Outcome> {
    let report = lint(&LintOptions { paths: args.paths, config: args.config.config })?;
    let text = match args.output.format {
        Format::Human => report::human::render(&report, std::io::stdout().is_terminal()),
        Format::Json => report::json::render(&report),
    };
    print(&text)?;
    Ok(if report.has_errors() { Outcome::Findings } else { Outcome::Clean })
}
