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
    let report = lint(&LintOptions {
        paths: args.paths,
        config: args.config.config,
    })?;
    match args.output.format {
        Format::Human => print(&report::human::render(
            &report,
            std::io::stdout().is_terminal(),
        ))?,
        Format::Json => {
            let out = std::io::BufWriter::new(std::io::stdout().lock());
            match report::json::write(&report, out, std::io::stdout().is_terminal()) {
                Err(e) if e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe) => {}
                other => other?,
            }
        }
    }
    Ok(if report.has_errors() {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}
