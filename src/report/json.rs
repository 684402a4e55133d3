//! JSON output (documented in docs/json-output.md): per project its migrations with
//! reversibility, per-file statement counts, every statement with its effects, and the findings.

use serde::Serialize;

use super::{Report, Summary};
use crate::classify::{Counts, MigrationAnalysis, Reversibility, ScriptAnalysis, Step};
use crate::rules::Finding;
use crate::source::ExecMode;

/// Bumped on any incompatible change to the shape below.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Doc<'a> {
    schema_version: u32,
    migsafe_version: &'static str,
    projects: Vec<Project<'a>>,
    summary: Summary,
}

#[derive(Serialize)]
struct Project<'a> {
    root: String,
    runner: String,
    migrations: Vec<Migration<'a>>,
}

#[derive(Serialize)]
struct Migration<'a> {
    id: String,
    version: &'a str,
    name: &'a str,
    checksum: &'a str,
    reversibility: &'a Reversibility,
    up: Script<'a>,
    down: Option<Script<'a>>,
    findings: Vec<&'a Finding>,
}

#[derive(Serialize)]
struct Script<'a> {
    path: String,
    mode: ExecMode,
    counts: Counts,
    statements: &'a [Step],
}

fn script(s: &ScriptAnalysis) -> Script<'_> {
    Script {
        path: s.path.display().to_string(),
        mode: s.mode,
        counts: s.counts(),
        statements: &s.steps,
    }
}

/// Writes the document; streaming keeps memory flat on large migrations.
/// Compact unless `pretty` (a person at a terminal).
pub fn write(report: &Report, out: impl std::io::Write, pretty: bool) -> serde_json::Result<()> {
    let doc = Doc {
        schema_version: SCHEMA_VERSION,
        migsafe_version: env!("CARGO_PKG_VERSION"),
        projects: report
            .projects
            .iter()
            .map(|p| Project {
                root: p.analysis.root.display().to_string(),
                runner: p.analysis.runner.to_string(),
                migrations: p
                    .analysis
                    .migrations
                    .iter()
                    .filter(|m| m.checked)
                    .map(|m: &MigrationAnalysis| Migration {
                        id: m.migration.id(),
                        version: &m.migration.version,
                        name: &m.migration.name,
                        checksum: &m.migration.checksum,
                        reversibility: &m.reversibility,
                        up: script(&m.up),
                        down: m.down.as_ref().map(script),
                        findings: p
                            .findings
                            .iter()
                            .filter(|f| f.migration == m.migration.id())
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
        summary: report.summary(),
    };
    let mut out = out;
    if pretty {
        serde_json::to_writer_pretty(&mut out, &doc)?;
    } else {
        serde_json::to_writer(&mut out, &doc)?;
    }
    out.write_all(b"\n").map_err(serde_json::Error::io)
}

/// The document as a string (tests, snapshots).
pub fn render(report: &Report) -> String {
    let mut buf = Vec::new();
    // Writing to a Vec cannot fail, and every value serialises.
    let _ = write(report, &mut buf, true);
    String::from_utf8_lossy(&buf).into_owned()
}
