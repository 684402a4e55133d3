//! GitLab Code Quality output: a JSON array of issues, published with
//! `artifacts:reports:codequality` and shown in the merge request widget and diff.

use serde::Serialize;

use super::Report;
use super::location::{self, Located};
use crate::rules::Severity;

/// Renders `report`, whose paths [`Report::rebase`] made repository-relative.
pub fn render(report: &Report) -> String {
    let items = location::findings(report);
    let issues: Vec<Issue> = items.iter().map(issue).collect();
    // Every value serialises; a failure here would be a bug in the structs below. Control and
    // bidirectional characters in names are written as `\u` escapes (report::escape).
    let mut out = super::escape::json_pretty(&issues).expect("Code Quality JSON serialises");
    out.push('\n');
    out
}

#[derive(Serialize)]
struct Issue<'a> {
    description: String,
    check_name: &'static str,
    /// GitLab shows only the first of several issues sharing a fingerprint, and matches issues
    /// between the source and target branch by it.
    fingerprint: &'a str,
    severity: &'static str,
    location: IssueLocation<'a>,
}

#[derive(Serialize)]
struct IssueLocation<'a> {
    path: &'a str,
    lines: Lines,
}

#[derive(Serialize)]
struct Lines {
    begin: usize,
    end: usize,
}

fn issue<'a>(l: &'a Located<'a>) -> Issue<'a> {
    let f = l.finding;
    Issue {
        // The widget shows one line per issue with no rule column: the ID leads.
        description: format!("{}: {} (help: {})", f.rule, f.message, f.help),
        check_name: f.rule,
        fingerprint: &l.fingerprint,
        // GitLab ranks info < minor < major < critical < blocker. An error fails the pipeline
        // and a warning does not, which is the line between major and minor; critical and
        // blocker would outrank the security scanners' findings in the same widget. squawk maps
        // the same way.
        severity: match f.severity {
            Severity::Error => "major",
            Severity::Warning => "minor",
        },
        location: IssueLocation {
            path: &l.path,
            lines: Lines {
                begin: f.start.line,
                end: l.last_line(),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use crate::report::testing::{self, Fixture};

    fn render(f: &Fixture) -> String {
        super::render(&f.report)
    }

    #[test]
    fn release_20h() {
        insta::assert_snapshot!(render(&testing::release_20h()));
    }

    #[test]
    fn hostile_names_and_suppression() {
        let out = render(&testing::hostile());
        let issues: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
        assert_eq!(issues.len(), 3, "the suppressed finding is left out");
        insta::assert_snapshot!(out);
    }

    #[test]
    fn no_findings_is_an_empty_array() {
        assert_eq!(render(&testing::clean()), "[]\n");
    }

    #[test]
    fn fingerprints_are_unique() {
        let out = render(&testing::release_20h());
        let issues: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
        let prints: HashSet<&str> = issues
            .iter()
            .map(|i| i["fingerprint"].as_str().unwrap())
            .collect();
        assert_eq!(prints.len(), issues.len());
    }
}
