use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use clap::Args;

use super::{ConfigOpts, Format, Outcome, OutputOpts, ProjectOpts};
use crate::lint::{LintOptions, StdinSql, lint};
use crate::report::{self, Report, human};

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Migrations directories, project roots or .sql files; `-` reads SQL from stdin
    /// [default: migrations_dir from migsafe.toml, else the current directory].
    #[arg(value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
    /// The file name to report for SQL read from stdin (`-`, implied when no PATHS are given);
    /// its directory's migsafe.toml applies. A name inside a migrations project (an editor's
    /// buffer of `migrations/…/up.sql`) is linted as that migration, with its runner's mode and
    /// the earlier migrations' schema [default: stdin.sql].
    #[arg(long, value_name = "PATH")]
    pub stdin_filename: Option<PathBuf>,
    /// Check only migrations added or changed since the merge-base of HEAD and REV (a branch,
    /// tag or commit, e.g. origin/main); uncommitted and untracked files count. Also flags new
    /// migrations that sort before merged ones and edits to merged ones (MS3xx). Needs the
    /// base's history: in CI, fetch it (actions/checkout `fetch-depth: 0`; GitLab `GIT_DEPTH: 0`).
    #[arg(long, value_name = "REV")]
    pub since: Option<String>,
    /// Exit 0 even when findings of severity error remain (advisory runs).
    #[arg(long)]
    pub exit_zero: bool,
    #[command(flatten)]
    pub project: ProjectOpts,
    #[command(flatten)]
    pub config: ConfigOpts,
    #[command(flatten)]
    pub output: OutputOpts,
}

pub fn run(args: LintArgs) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let (stdin, paths): (Vec<PathBuf>, Vec<PathBuf>) =
        args.paths.into_iter().partition(|p| p == Path::new("-"));
    let read_stdin = match (stdin.len(), &args.stdin_filename, paths.is_empty()) {
        (0, None, _) => false,
        (0, Some(_), true) | (1, _, _) => true,
        (0, Some(_), false) => {
            anyhow::bail!("--stdin-filename names SQL read from stdin: add `-` to the paths")
        }
        _ => anyhow::bail!("`-` (stdin) can be given only once"),
    };
    let stdin = if read_stdin {
        if std::io::stdin().is_terminal() {
            eprintln!("migsafe: reading SQL from stdin (end with Ctrl-D)");
        }
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .context("cannot read SQL from stdin")?;
        Some(StdinSql {
            path: args
                .stdin_filename
                .unwrap_or_else(|| PathBuf::from("stdin.sql")),
            bytes,
        })
    } else {
        None
    };
    let mut report = lint(&LintOptions {
        executing: false,
        paths,
        config: args.config.config,
        runner: args.project.runner,
        stdin,
        since: args.since,
    })?;
    report.rebase(&report::location::Base::repository());
    let elapsed = started.elapsed();
    write_report(&report, &args.output, elapsed)?;
    Ok(if report.has_errors() && !args.exit_zero {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

/// Renders to stdout, or to `--output FILE` through a temporary file renamed into place, so a
/// reader never sees half a report.
fn write_report(
    report: &Report,
    opts: &OutputOpts,
    elapsed: std::time::Duration,
) -> anyhow::Result<()> {
    let terminal = opts.output.is_none() && std::io::stdout().is_terminal();
    let render = |out: &mut dyn Write| -> std::io::Result<()> {
        match opts.format {
            Format::Human => {
                let text = human::render(
                    report,
                    &human::Options {
                        styled: terminal,
                        quiet: opts.quiet,
                        elapsed: Some(elapsed),
                    },
                );
                out.write_all(text.as_bytes())
            }
            // serde_json writes in tiny pieces: buffer them before the dynamic writer.
            Format::Json => {
                report::json::write(report, std::io::BufWriter::new(&mut *out), terminal)
                    .map_err(Into::into)
            }
            Format::Github => out.write_all(report::github::render(report).as_bytes()),
            Format::Sarif => out.write_all(report::sarif::render(report).as_bytes()),
            Format::Gitlab => out.write_all(report::gitlab::render(report).as_bytes()),
            Format::Rdjson => out.write_all(report::rdjson::render(report).as_bytes()),
        }?;
        out.flush()
    };
    match &opts.output {
        None => {
            // Only the human format carries colour for anstream to strip (or keep); passing
            // megabytes of JSON through its escape-sequence parser costs a fifth of the run.
            let mut out: Box<dyn Write> = match opts.format {
                Format::Human => Box::new(std::io::BufWriter::new(anstream::stdout().lock())),
                _ => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            match render(&mut out) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => Ok(other?),
            }
        }
        Some(path) => {
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            let mut tmp =
                report_file(dir).with_context(|| format!("cannot write {}", path.display()))?;
            let mut out = std::io::BufWriter::new(tmp.as_file_mut());
            render(&mut out).with_context(|| format!("cannot write {}", path.display()))?;
            drop(out);
            tmp.as_file()
                .sync_all()
                .with_context(|| format!("cannot write {}", path.display()))?;
            tmp.persist(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(())
        }
    }
}

/// A temporary file next to the report, readable like any file the user writes (tempfile's
/// default is private).
fn report_file(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let mut b = tempfile::Builder::new();
    b.prefix(".migsafe-report-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o644));
    }
    b.tempfile_in(dir)
}
