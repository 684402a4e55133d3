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
    /// What the round trips started from, with `migsafe verify --target`: the target's own
    /// schema. Absent when they replayed the repository's migrations from an empty database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<Base>,
    pub projects: Vec<ProjectResults>,
    pub summary: Summary,
}

/// The target whose schema the round trips started from.
#[derive(Debug, Serialize)]
pub struct Base {
    /// The target's name in migsafe.toml.
    pub target: String,
    /// Its URL, the password hidden.
    pub database: String,
    /// Migrations its history counts as applied (not verified: they are in its schema).
    pub applied: usize,
    /// Its live schema id (`drift::schema_id`).
    pub schema: String,
    /// The id of the restored copy, when it differs (receipts then name this one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restored_schema: Option<String>,
    /// Rows copied from the target per table (`--sample-rows`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sampled: Vec<super::target::Sampled>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Base {
    /// `on the schema of target prod (3 applied, schema 0123456789ab)`.
    pub fn describe(&self) -> String {
        format!(
            "on the schema of target {} ({} applied, schema {})",
            self.target,
            self.applied,
            super::target::short(&self.schema)
        )
    }
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
            base: None,
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
        let _ = write!(
            out,
            "{} ({}, PostgreSQL {} on {}",
            p.root.display(),
            p.runner,
            report.postgres_major,
            report.server
        );
        match &report.base {
            Some(b) => {
                let _ = writeln!(out, ", {})", b.describe());
                if !b.sampled.is_empty() {
                    let copied: u64 = b.sampled.iter().map(|s| s.copied).sum();
                    let removed: u64 = b.sampled.iter().map(|s| s.removed).sum();
                    let _ = writeln!(
                        out,
                        "  sample: {copied} row{} copied from {} table{}, {removed} removed for foreign keys",
                        plural(copied as usize),
                        b.sampled.len(),
                        plural(b.sampled.len())
                    );
                }
                for n in &b.notes {
                    let _ = writeln!(out, "  note: {n}");
                }
            }
            None => out.push_str(")\n"),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_names_the_target_the_round_trips_started_from() {
        let mut r = VerifyReport::new(
            "a scratch cluster".into(),
            16,
            vec![ProjectResults {
                root: "migrations".into(),
                runner: "sqlx".into(),
                migrations: vec![],
            }],
        );
        r.base = Some(Base {
            target: "prod".into(),
            database: "postgres://app@db/app".into(),
            applied: 12,
            schema: "0123456789abcdef0123".into(),
            restored_schema: None,
            sampled: vec![
                crate::verify::target::Sampled {
                    table: "public.accounts".into(),
                    copied: 5,
                    removed: 0,
                },
                crate::verify::target::Sampled {
                    table: "public.orders".into(),
                    copied: 5,
                    removed: 2,
                },
            ],
            notes: vec!["something limits the result".into()],
        });
        insta::assert_snapshot!(human(&r, None), @r"
        migrations (sqlx, PostgreSQL 16 on a scratch cluster, on the schema of target prod (12 applied, schema 0123456789ab))
          sample: 10 rows copied from 2 tables, 2 removed for foreign keys
          note: something limits the result

        0 migrations verified: 0 passed, 0 failed
        ");
        let text = json(&r);
        assert!(
            text.contains("\"base\": {\n    \"target\": \"prod\""),
            "{text}"
        );
        r.base = None;
        assert!(!json(&r).contains("\"base\""));
    }
}
