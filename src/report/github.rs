//! GitHub Actions output: one `::error`/`::warning` workflow command per finding, which the
//! runner turns into an annotation on the file and line, then the findings as plain lines and
//! the summary line. GitHub shows at most 10 annotations of each type per step, so the most
//! severe come first and the plain list keeps every finding in the log.
//!
//! Names and messages are shown with [`visible`] escapes first (the log viewer obeys ANSI
//! escape sequences, and a name's newline would split a line), then encoded as workflow
//! commands want: the only line breaks left in a command are the message's own.

use std::fmt::Write as _;

use super::Report;
use super::escape::visible;
use super::human::summary_line;
use super::location::{self, Located};

/// Renders `report`, whose paths [`Report::rebase`] made repository-relative.
pub fn render(report: &Report) -> String {
    let items = location::findings(report);
    let mut out = String::new();
    for l in location::by_severity(&items) {
        annotation(&mut out, l);
    }
    if !items.is_empty() {
        out.push('\n');
    }
    for l in &items {
        plain(&mut out, l);
    }
    out.push_str(&summary_line(&report.summary(), None));
    out.push('\n');
    out
}

fn annotation(out: &mut String, l: &Located) {
    let f = l.finding;
    let mut props = vec![
        ("file", visible(&l.path).into_owned()),
        ("line", f.start.line.to_string()),
    ];
    let last = l.last_line();
    if l.is_point() {
        // A whole-file finding (an empty down script): the line alone.
    } else if last != f.start.line {
        // GitHub rejects column properties on an annotation spanning several lines.
        props.push(("endLine", last.to_string()));
    } else {
        props.extend([
            ("endLine", last.to_string()),
            ("col", f.start.column.to_string()),
            ("endColumn", f.end.column.to_string()),
        ]);
    }
    props.push(("title", format!("{} {}", f.rule, f.name)));
    let props: Vec<String> = props
        .iter()
        .map(|(k, v)| format!("{k}={}", escape_property(v)))
        .collect();
    let _ = writeln!(
        out,
        "::{} {}::{}",
        f.severity.as_str(),
        props.join(","),
        escape_data(&format!(
            "{}\nhelp: {}",
            visible(&f.message),
            visible(f.help)
        ))
    );
}

/// One line per finding for the log. It starts with the severity and holds no line break or
/// escape sequence, so a hostile file or column name can neither start a workflow command of
/// its own nor restyle the log.
fn plain(out: &mut String, l: &Located) {
    let f = l.finding;
    let _ = writeln!(
        out,
        "{}[{}] {}:{}:{}: {} [{}]",
        f.severity.as_str(),
        f.rule,
        visible(&l.path),
        f.start.line,
        f.start.column,
        visible(&f.message),
        f.name
    );
}

/// A command's message: `%`, CR and LF are percent-encoded (actions/toolkit `escapeData`).
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A command property: as a message, plus the `:` and `,` that delimit properties
/// (actions/toolkit `escapeProperty`).
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing;

    fn render(f: &testing::Fixture) -> String {
        super::render(&f.report)
    }

    #[test]
    fn escaping_survives_hostile_input() {
        let hostile = "50%25, off:\r\n::error::x";
        assert_eq!(escape_data(hostile), "50%2525, off:%0D%0A::error::x");
        assert_eq!(
            escape_property(hostile),
            "50%2525%2C off%3A%0D%0A%3A%3Aerror%3A%3Ax"
        );
        // Encoding `%` first keeps the result decodable: every `%` in the output starts an escape.
        let decoded = escape_property(hostile)
            .replace("%3A", ":")
            .replace("%2C", ",")
            .replace("%0A", "\n")
            .replace("%0D", "\r")
            .replace("%25", "%");
        assert_eq!(decoded, hostile);
    }

    #[test]
    fn release_20h() {
        insta::assert_snapshot!(render(&testing::release_20h()));
    }

    #[test]
    fn hostile_names_suppression_and_multi_line_findings() {
        let out = render(&testing::hostile());
        // Every line is a command, blank, or starts with a severity or the summary's count.
        for line in out.lines() {
            assert!(
                line.is_empty()
                    || line.starts_with("::error ")
                    || line.starts_with("::warning ")
                    || line.starts_with("error[")
                    || line.starts_with("warning[")
                    || line.starts_with(|c: char| c.is_ascii_digit()),
                "{line}"
            );
        }
        assert!(
            !out.contains("accounts.legacy"),
            "suppressed finding emitted"
        );
        insta::assert_snapshot!(out);
    }

    #[test]
    fn errors_come_before_warnings() {
        let out = render(&testing::release_20h());
        let last_error = out.rfind("::error ").unwrap();
        let first_warning = out.find("::warning ").unwrap();
        assert!(last_error < first_warning);
    }

    #[test]
    fn no_findings_is_the_summary_alone() {
        insta::assert_snapshot!(render(&testing::clean()));
    }
}
