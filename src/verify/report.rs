//! Verify output: human and JSON.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use super::{Failure, MigrationResult, VerifyOutcome};

/// One project's results.
#[derive(Debug, Serialize)]
pub struct ProjectResults {
    pub root: PathBuf,
    pub runner: String,
    pub migrations: Vec<MigrationResult>,
}

/// Everything one `migsafe verify` run proved or failed to.
#[derive(Debug, Serialize)]
pub struct VerifyReport {
    pub schema_version: u32,
    pub migsafe_version: &'static str,
    /// Where the round trips ran: `scratch` or the redacted URL of the user's server.
    pub server: String,
    pub postgres_major: u32,
    pub projects: Vec<ProjectResults>,
    pub summary: Summary,
}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub migrations: usize,
    pub passed: usize,
    pub failed: usize,
    /// Migrations whose receipt was written or refreshed.
    pub receipts_written: usize,
}

impl VerifyReport {
    pub fn new(server: String, postgres_major: u32, projects: Vec<ProjectResults>) -> Self {
        let mut summary = Summary::default();
        for m in projects.iter().flat_map(|p| &p.migrations) {
            summary.migrations += 1;
            match m.outcome {
                VerifyOutcome::Passed => summary.passed += 1,
                VerifyOutcome::Failed => summary.failed += 1,
            }
        }
        VerifyReport {
            schema_version: 1,
            migsafe_version: env!("CARGO_PKG_VERSION"),
            server,
            postgres_major,
            projects,
            summary,
        }
    }

    pub fn all_passed(&self) -> bool {
        self.summary.failed == 0
    }
}

pub fn json(report: &VerifyReport) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("the report serialises");
    s.push('\n');
    s
}

pub fn human(report: &VerifyReport, elapsed: Option<std::time::Duration>) -> String {
    let mut out = String::new();
    for p in &report.projects {
        let _ = writeln!(
            out,
            "{} ({}, PostgreSQL {} on {})",
            p.root.display(),
            p.runner,
            report.postgres_major,
            report.server
        );
        for m in &p.migrations {
            let label = match m.outcome {
                VerifyOutcome::Passed => "passed",
                VerifyOutcome::Failed => "FAILED",
            };
            let t = &m.timings_ms;
            let _ = write!(out, "  {label:<8} {}", m.id);
            if m.outcome == VerifyOutcome::Passed {
                let _ = write!(
                    out,
                    "  (up {} ms, down {} ms, up again {} ms)",
                    t.up, t.down, t.reapply
                );
            }
            out.push('\n');
            let announced: Vec<String> = m
                .data_lost
                .iter()
                .filter(|c| c.announced)
                .map(|c| match &c.column {
                    Some(col) => format!("{}.{col} ({})", c.table, c.what),
                    None => format!("{} ({})", c.table, c.what),
                })
                .collect();
            if !announced.is_empty() {
                let _ = writeln!(
                    out,
                    "      data lost, as classified ({}): {}",
                    m.classified,
                    announced.join("; ")
                );
            }
            if let Some(d) = &m.disagreement {
                let _ = writeln!(out, "      disagrees with lint: {d}");
            }
            for f in &m.failures {
                write_failure(&mut out, f);
            }
        }
        out.push('\n');
    }
    let s = &report.summary;
    let _ = write!(
        out,
        "{} migration{} verified: {} passed, {} failed",
        s.migrations,
        if s.migrations == 1 { "" } else { "s" },
        s.passed,
        s.failed
    );
    if s.receipts_written > 0 {
        let _ = write!(
            out,
            "; {} receipt{} written",
            s.receipts_written,
            plural(s.receipts_written)
        );
    }
    if let Some(t) = elapsed {
        let _ = write!(out, " ({:.1} s)", t.as_secs_f64());
    }
    out.push('\n');
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn write_failure(out: &mut String, f: &Failure) {
    let indent = |text: &str| -> String {
        text.lines()
            .map(|l| format!("        {l}\n"))
            .collect::<String>()
    };
    match f {
        Failure::NoDown { reason } => {
            let _ = writeln!(out, "      not proven: {reason}");
        }
        Failure::UpFailed { error } => {
            let _ = writeln!(out, "      up failed at {error}");
        }
        Failure::DownFailed { error } => {
            let _ = writeln!(out, "      down failed at {error}");
        }
        Failure::ReapplyFailed { error } => {
            let _ = writeln!(out, "      up failed when run again after down, at {error}");
        }
        Failure::SchemaNotRestored { diff } => {
            let _ = writeln!(
                out,
                "      down did not restore the schema (- before up, + after down):"
            );
            out.push_str(&indent(diff));
        }
        Failure::ReapplyDiffers { diff } => {
            let _ = writeln!(
                out,
                "      up after down gave another schema than the first up (- first, + second):"
            );
            out.push_str(&indent(diff));
        }
        Failure::DataChanged { changes } => {
            let _ = writeln!(
                out,
                "      data that the migration does not destroy did not survive up and down:"
            );
            for c in changes {
                let _ = writeln!(
                    out,
                    "        {}{}: {}",
                    c.table,
                    c.column
                        .as_ref()
                        .map(|c| format!(".{c}"))
                        .unwrap_or_default(),
                    c.what
                );
            }
        }
        Failure::NotReached { because } => {
            let _ = writeln!(out, "      not verified: {because}");
        }
    }
}
