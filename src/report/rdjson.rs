//! reviewdog's rdjson output: one `DiagnosticResult` that `reviewdog -f=rdjson` reads and posts
//! as pull or merge request review comments, filtered to the diff by reviewdog itself.

use serde::Serialize;

use super::Report;
use super::location::{self, Located};
use crate::classify::Pos;
use crate::rules::Severity;

/// Renders `report`, whose paths [`Report::rebase`] made repository-relative.
pub fn render(report: &Report) -> String {
    let items = location::findings(report);
    let doc = Doc {
        source: Source {
            name: "migsafe",
            url: env!("CARGO_PKG_REPOSITORY"),
        },
        diagnostics: items.iter().map(diagnostic).collect(),
    };
    // Every value serialises; a failure here would be a bug in the structs below. Control and
    // bidirectional characters in names are written as `\u` escapes (report::escape).
    let mut out = super::escape::json_pretty(&doc).expect("rdjson serialises");
    out.push('\n');
    out
}

#[derive(Serialize)]
struct Doc<'a> {
    source: Source,
    diagnostics: Vec<Diagnostic<'a>>,
}

#[derive(Serialize)]
struct Source {
    name: &'static str,
    url: &'static str,
}

#[derive(Serialize)]
struct Diagnostic<'a> {
    message: String,
    location: DiagnosticLocation<'a>,
    severity: &'static str,
    source: SourceName,
    code: Code,
}

#[derive(Serialize)]
struct SourceName {
    name: &'static str,
}

#[derive(Serialize)]
struct DiagnosticLocation<'a> {
    path: &'a str,
    range: Range,
}

#[derive(Serialize)]
struct Range {
    start: Position,
    end: Position,
}

/// 1-based line and column; reviewdog counts columns in UTF-8 bytes.
#[derive(Serialize)]
struct Position {
    line: usize,
    column: usize,
}

impl From<Pos> for Position {
    fn from(p: Pos) -> Position {
        Position {
            line: p.line,
            column: p.column,
        }
    }
}

#[derive(Serialize)]
struct Code {
    value: &'static str,
    url: String,
}

fn diagnostic<'a>(l: &'a Located<'a>) -> Diagnostic<'a> {
    let f = l.finding;
    let (start, end) = l.byte_positions();
    Diagnostic {
        message: l.message_with_help(),
        location: DiagnosticLocation {
            path: &l.path,
            // End exclusive, as reviewdog's Range is.
            range: Range {
                start: start.into(),
                end: end.into(),
            },
        },
        severity: match f.severity {
            Severity::Error => "ERROR",
            Severity::Warning => "WARNING",
        },
        source: SourceName { name: "migsafe" },
        code: Code {
            value: f.rule,
            url: crate::rules::registry::lookup(f.rule)
                .map(|m| m.url())
                .unwrap_or_else(|| crate::rules::DOCS_URL.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

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
        insta::assert_snapshot!(render(&testing::hostile()));
    }

    #[test]
    fn columns_count_bytes_after_a_multi_byte_character() {
        let v: Value = serde_json::from_str(&render(&testing::hostile())).unwrap();
        let cafe = v["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["message"].as_str().unwrap().contains("café"))
            .unwrap();
        // Line 5 is `/* prix en € */ ALTER TABLE accounts DROP COLUMN café;`: `€` is 3 bytes and
        // `é` 2, so the statement starts at byte column 19 (character 17) and ends at 58 (55).
        let range = &cafe["location"]["range"];
        assert_eq!(range["start"]["line"], 5);
        assert_eq!(range["start"]["column"], 19);
        assert_eq!(range["end"]["column"], 58);
    }

    #[test]
    fn no_findings() {
        insta::assert_snapshot!(render(&testing::clean()));
    }
}
