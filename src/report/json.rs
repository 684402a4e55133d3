//! JSON output (documented in docs/output/json.md, shape in docs/schemas/lint-output.schema.json):
//! per project its migrations with reversibility, per-file statement counts, every statement
//! with its effects, and the findings.

use std::collections::HashMap;

use serde::Serialize;

use super::{Report, Summary};
use crate::classify::{Counts, MigrationAnalysis, Reversibility, ScriptAnalysis, Step};
use crate::rules::Finding;
use crate::source::ExecMode;

/// Bumped on any incompatible change to the shape below.
pub const SCHEMA_VERSION: u32 = 1;

/// The output of `migsafe lint --format json`.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(title = "migsafe lint JSON output")]
struct Doc<'a> {
    /// Shape version: bumped on any incompatible change.
    schema_version: u32,
    /// The migsafe that wrote the document.
    migsafe_version: &'static str,
    /// One entry per project (migrations directory) linted.
    projects: Vec<Project<'a>>,
    /// Totals over all projects.
    summary: Summary,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Project<'a> {
    /// The migrations directory, as given or discovered.
    root: String,
    /// The runner whose layout and execution mode were applied (`sqlx`, `golang-migrate` …).
    runner: String,
    /// The file that decided the runner when the directory's layout fits several (`go.mod`,
    /// `Cargo.toml`, `Dockerfile`, `flyway.conf` …); null when the layout, in-file markers,
    /// migsafe.toml or the command line decided.
    runner_hint: Option<&'a str>,
    /// The checked migrations, in run order.
    migrations: Vec<Migration<'a>>,
    /// Findings about migrations not listed above: with `--since`, a migration deleted since
    /// the base, or an edited one that `start_after` leaves unchecked.
    findings: Vec<&'a Finding>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Migration<'a> {
    /// `<version>_<name>`, unique within the project.
    id: String,
    version: &'a str,
    name: &'a str,
    /// sha256 over the up script, a NUL byte and the down script, as hex.
    checksum: &'a str,
    /// Whether a down script can undo the migration, and why not.
    reversibility: &'a Reversibility,
    up: Script<'a>,
    down: Option<Script<'a>>,
    /// Findings in this migration's scripts, suppressed ones included (with their reason).
    findings: Vec<&'a Finding>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Script<'a> {
    path: String,
    /// How the runner sends the script to PostgreSQL.
    mode: ExecMode,
    counts: Counts,
    /// Every statement with its context and effects.
    statements: &'a [Step],
}

/// The JSON Schema of the document [`write`] produces (docs/schemas/lint-output.schema.json).
pub fn schema() -> schemars::Schema {
    schemars::schema_for!(Doc<'static>)
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
            .map(|p| {
                // The findings grouped by migration id in one pass, in report order: filtering
                // all of them for each migration was migrations × findings.
                let mut by_migration: HashMap<&str, Vec<&Finding>> = HashMap::new();
                for f in &p.findings {
                    by_migration
                        .entry(f.migration.as_str())
                        .or_default()
                        .push(f);
                }
                let mut listed = std::collections::HashSet::new();
                let migrations = p
                    .analysis
                    .migrations
                    .iter()
                    .filter(|m| m.checked)
                    .map(|m: &MigrationAnalysis| {
                        let id = m.migration.id();
                        let findings = by_migration.get(id.as_str()).cloned().unwrap_or_default();
                        listed.insert(id.clone());
                        Migration {
                            id,
                            version: &m.migration.version,
                            name: &m.migration.name,
                            checksum: &m.migration.checksum,
                            reversibility: &m.reversibility,
                            up: script(&m.up),
                            down: m.down.as_ref().map(script),
                            findings,
                        }
                    })
                    .collect();
                // What is left belongs to no listed migration.
                let findings = p
                    .findings
                    .iter()
                    .filter(|f| !listed.contains(&f.migration))
                    .collect();
                Project {
                    root: p.analysis.root.display().to_string(),
                    runner: p.analysis.runner.to_string(),
                    runner_hint: p.analysis.runner_hint.as_deref(),
                    migrations,
                    findings,
                }
            })
            .collect(),
        summary: report.summary(),
    };
    let mut out = out;
    // DEL, C1 and bidirectional controls in names are written as `\u` escapes.
    super::escape::json_write(&mut out, &doc, pretty)?;
    out.write_all(b"\n").map_err(serde_json::Error::io)
}

/// The document as a string (tests, snapshots).
pub fn render(report: &Report) -> String {
    let mut buf = Vec::new();
    // Writing to a Vec cannot fail, and every value serialises.
    let _ = write(report, &mut buf, true);
    String::from_utf8_lossy(&buf).into_owned()
}
