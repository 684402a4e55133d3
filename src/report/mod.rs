//! Renderers, one module per output format, all over the same [`Report`].

pub mod escape;
pub mod github;
pub mod gitlab;
pub mod human;
pub mod json;
pub mod location;
pub mod rdjson;
pub mod sarif;
#[cfg(test)]
mod testing;

use std::collections::HashMap;

use crate::classify::{Analysis, MigrationAnalysis};
use crate::rules::{Finding, Severity};

/// Everything one `migsafe lint` run found.
pub struct Report {
    pub projects: Vec<ProjectReport>,
    /// The repository root the paths are relative to, once [`Report::rebase`] ran.
    pub root: Option<std::path::PathBuf>,
}

pub struct ProjectReport {
    pub analysis: Analysis,
    pub findings: Vec<Finding>,
}

impl ProjectReport {
    /// The text of the script a finding points into, when it is one of the analysed scripts.
    /// Scans the migrations: for many findings, [`ProjectReport::sources`] looks them up once.
    pub fn source_of(&self, f: &Finding) -> Option<&str> {
        let m = self
            .analysis
            .migrations
            .iter()
            .find(|m| m.migration.id() == f.migration)?;
        script_source(m, f)
    }

    /// [`ProjectReport::source_of`] for every finding of a project, with the migrations
    /// indexed by id once (a scan per finding is migrations × findings).
    pub fn sources(&self) -> Sources<'_> {
        let mut by_id = HashMap::with_capacity(self.analysis.migrations.len());
        for m in &self.analysis.migrations {
            // The first migration with an id wins, as in the scan.
            by_id.entry(m.migration.id()).or_insert(m);
        }
        Sources { by_id }
    }
}

/// The analysed migrations of one project by id: see [`ProjectReport::sources`].
pub struct Sources<'a> {
    by_id: HashMap<String, &'a MigrationAnalysis>,
}

impl<'a> Sources<'a> {
    /// The text of the script `f` points into, as [`ProjectReport::source_of`].
    pub fn of(&self, f: &Finding) -> Option<&'a str> {
        script_source(self.by_id.get(&f.migration)?, f)
    }
}

fn script_source<'a>(m: &'a MigrationAnalysis, f: &Finding) -> Option<&'a str> {
    [Some(&m.up), m.down.as_ref()]
        .into_iter()
        .flatten()
        .find(|s| s.path == f.path)
        .map(|s| &*s.source)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Summary {
    pub migrations: usize,
    pub reversible: usize,
    pub irreversible: usize,
    pub unknown: usize,
    pub errors: usize,
    pub warnings: usize,
    pub suppressed: usize,
}

impl Report {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for p in &self.projects {
            for m in p.analysis.migrations.iter().filter(|m| m.checked) {
                s.migrations += 1;
                match m.reversibility.label() {
                    "reversible" => s.reversible += 1,
                    "irreversible" => s.irreversible += 1,
                    _ => s.unknown += 1,
                }
            }
            for f in &p.findings {
                match (&f.suppressed, f.severity) {
                    (Some(_), _) => s.suppressed += 1,
                    (None, Severity::Error) => s.errors += 1,
                    (None, Severity::Warning) => s.warnings += 1,
                }
            }
        }
        s
    }

    /// Makes every path the report shows relative to the repository root (paths outside it
    /// keep their form), so that each format names a file the same way whatever directory
    /// migsafe ran in: GitHub, GitLab and reviewdog match paths against the repository.
    pub fn rebase(&mut self, base: &location::Base) {
        for p in &mut self.projects {
            // A project reached through a symbolic link is named by where it is: the path git
            // tracks, which is the one GitHub and GitLab can place.
            let root = p.analysis.root.clone();
            let resolved = base.resolved(&root);
            let rebased = |path: &mut std::path::PathBuf| {
                let real = match (&resolved, path.strip_prefix(&root)) {
                    (Some(r), Ok(rest)) => r.join(rest),
                    _ => path.clone(),
                };
                let rel = base.path(&real);
                // The repository root itself.
                *path = if rel.is_empty() {
                    ".".into()
                } else {
                    rel.into()
                };
            };
            rebased(&mut p.analysis.root);
            for m in &mut p.analysis.migrations {
                rebased(&mut m.up.path);
                if let Some(d) = &mut m.down {
                    rebased(&mut d.path);
                }
            }
            for f in &mut p.findings {
                rebased(&mut f.path);
            }
        }
        self.root = base.root().map(Into::into);
    }

    /// Exit status 1 is due when an unsuppressed error-severity finding remains.
    pub fn has_errors(&self) -> bool {
        self.summary().errors > 0
    }
}
