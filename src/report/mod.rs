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

use crate::classify::Analysis;
use crate::rules::{Finding, Severity};

/// Everything one `migsafe lint` run found.
pub struct Report {
    pub projects: Vec<ProjectReport>,
}

pub struct ProjectReport {
    pub analysis: Analysis,
    pub findings: Vec<Finding>,
}

impl ProjectReport {
    /// The text of the script a finding points into, when it is one of the analysed scripts.
    pub fn source_of(&self, f: &Finding) -> Option<&str> {
        let m = self
            .analysis
            .migrations
            .iter()
            .find(|m| m.migration.id() == f.migration)?;
        [Some(&m.up), m.down.as_ref()]
            .into_iter()
            .flatten()
            .find(|s| s.path == f.path)
            .map(|s| &*s.source)
    }
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

    /// Exit status 1 is due when an unsuppressed error-severity finding remains.
    pub fn has_errors(&self) -> bool {
        self.summary().errors > 0
    }
}
