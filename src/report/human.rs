//! Human output: per migration its reversibility, then each finding as an annotated excerpt
//! (annotate-snippets) with the rule ID and a help line. Colour follows the terminal and
//! `NO_COLOR`/`CLICOLOR_FORCE` (anstream).
//!
//! File names, identifiers, messages and excerpts are shown with [`visible`] escapes (`\e`,
//! `\n`, `\u{202e}` …): a hostile name can neither send the terminal an escape sequence nor
//! start a line of its own. annotate-snippets gets the escaped text, so it has nothing left to
//! replace and anstream nothing of the names' to strip.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::ops::Range;

use annotate_snippets::renderer::DecorStyle;
use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use super::escape::{self, visible};
use super::{ProjectReport, Report, Summary};
use crate::classify::{Destroyed, MigrationAnalysis, Reversibility};
use crate::rules::{Finding, Severity};

/// How the human report is drawn.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// ANSI colour (stripped later by anstream when the output is not a terminal or NO_COLOR
    /// is set).
    pub styled: bool,
    /// Only the findings: no per-migration list, no summary.
    pub quiet: bool,
    /// Shown in the summary line.
    pub elapsed: Option<std::time::Duration>,
}

/// Renders a whole report.
pub fn render(report: &Report, opts: &Options) -> String {
    let renderer = if opts.styled {
        Renderer::styled()
    } else {
        Renderer::plain()
    }
    .decor_style(DecorStyle::Ascii);
    let mut out = String::new();
    for p in &report.projects {
        if !opts.quiet {
            write_project(&mut out, p);
        }
        let sources = p.sources();
        for f in p.findings.iter().filter(|f| f.suppressed.is_none()) {
            match sources.of(f) {
                Some(source) => out.push_str(&render_one(&renderer, f, source)),
                None => out.push_str(&render_bare(&renderer, f)),
            }
            out.push_str("\n\n");
        }
    }
    if opts.quiet {
        // No summary follows: end on the last finding's line.
        out.truncate(out.trim_end().len());
        if !out.is_empty() {
            out.push('\n');
        }
    } else {
        out.push_str(&summary_line(&report.summary(), opts.elapsed));
        out.push('\n');
    }
    out
}

/// The project's header and each checked migration's reversibility.
fn write_project(out: &mut String, p: &ProjectReport) {
    let checked: Vec<&MigrationAnalysis> =
        p.analysis.migrations.iter().filter(|m| m.checked).collect();
    let _ = writeln!(
        out,
        "{} ({}{}, {} migration{}{})",
        visible(&p.analysis.root.display().to_string()),
        p.analysis.runner,
        match &p.analysis.runner_hint {
            Some(from) => format!(" from {}", visible(from)),
            None => String::new(),
        },
        checked.len(),
        if checked.len() == 1 { "" } else { "s" },
        match p.analysis.migrations.len() - checked.len() {
            0 => String::new(),
            n => format!(
                ", {n} other{} read but not checked",
                if n == 1 { "" } else { "s" }
            ),
        }
    );
    for m in checked {
        let _ = writeln!(
            out,
            "  {:<13} {}",
            m.reversibility.label(),
            visible(&m.migration.id())
        );
        write_reversibility(out, &m.reversibility);
    }
    out.push('\n');
}

fn write_reversibility(out: &mut String, r: &Reversibility) {
    match r {
        Reversibility::Reversible => {}
        Reversibility::Irreversible { steps, unknown } => {
            for s in steps {
                let _ = writeln!(out, "      line {}: {}", s.line, visible(&s.reason));
                if !s.destroys.is_empty() {
                    let d: Vec<String> = s.destroys.iter().map(describe).collect();
                    let _ = writeln!(out, "        destroys: {}", visible(&d.join("; ")));
                }
            }
            for s in unknown {
                let _ = writeln!(
                    out,
                    "      line {}: unknown: {}",
                    s.line,
                    visible(&s.reason)
                );
            }
        }
        Reversibility::Unknown { steps } => {
            for s in steps {
                let _ = writeln!(out, "      line {}: {}", s.line, visible(&s.reason));
            }
        }
    }
}

/// One line naming what a step destroys, names as they are (escape it to show it).
pub fn describe(d: &Destroyed) -> String {
    match d {
        Destroyed::Table { table } => format!("table {table} (all rows)"),
        Destroyed::Columns { table, columns } => format!("column {table}.{}", columns.join(", ")),
        Destroyed::Rows { table, all: true } => format!("all rows of {table}"),
        Destroyed::Rows { table, all: false } => format!("matching rows of {table}"),
        Destroyed::Values {
            table,
            columns,
            all_rows,
        } => {
            format!(
                "old values of {table}.{} ({} rows)",
                columns.join(", "),
                if *all_rows { "all" } else { "matching" }
            )
        }
        Destroyed::Schema { schema } => format!("schema {schema} and everything in it"),
        Destroyed::Database { database } => format!("database {database}"),
        Destroyed::Sequence { sequence } => format!("state of sequence {sequence}"),
        Destroyed::Dependents { of } => format!("objects depending on {of} (CASCADE)"),
    }
}

/// A finding without an excerpt: its file is not among the analysed scripts (a deleted
/// migration named by a history check).
fn render_bare(renderer: &Renderer, f: &Finding) -> String {
    let level = match f.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let title = format!("{} [{}]", visible(&f.message), f.name);
    let path = visible(&f.path.display().to_string()).into_owned();
    let report = &[
        level
            .primary_title(&title)
            .id(f.rule)
            .element(annotate_snippets::Origin::path(&path)),
        Group::with_title(Level::HELP.secondary_title(f.help)),
    ];
    renderer.render(report).to_string()
}

fn render_one(renderer: &Renderer, f: &Finding, source: &str) -> String {
    let level = match f.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let path = visible(&f.path.display().to_string()).into_owned();
    let (text, span) = excerpt(source, clamp(source, f.range.clone()));
    let title = format!("{} [{}]", visible(&f.message), f.name);
    let report = &[
        level.primary_title(&title).id(f.rule).element(
            Snippet::source(&*text)
                // The finding's own line: it is the file's line even where placeholder values
                // brought line breaks into the text (`Script::folded`).
                .line_start(f.start.line.max(1))
                .path(&path)
                .fold(true)
                .annotation(AnnotationKind::Primary.span(span)),
        ),
        Group::with_title(Level::HELP.secondary_title(f.help)),
    ];
    renderer.render(report).to_string()
}

/// The lines `span` touches, shown with [`escape::visible_source`], and the span moved into
/// them. Only these lines are drawn (`fold`); cutting them out keeps the escaping off the rest
/// of a large script.
fn excerpt(source: &str, span: Range<usize>) -> (Cow<'_, str>, Range<usize>) {
    let bytes = source.as_bytes();
    let first = memchr::memrchr(b'\n', &bytes[..span.start]).map_or(0, |i| i + 1);
    let last = memchr::memchr(b'\n', &bytes[span.end..]).map_or(source.len(), |i| span.end + i + 1);
    escape::visible_source(&source[first..last], span.start - first..span.end - first)
}

/// Keeps a span inside the text and on character boundaries, so rendering never panics.
fn clamp(source: &str, r: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let mut start = r.start.min(source.len());
    let mut end = r.end.clamp(start, source.len());
    while !source.is_char_boundary(start) {
        start -= 1;
    }
    while !source.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

/// One finding without colour, for tests and snapshots.
pub fn render_finding_plain(f: &Finding, source: &str) -> String {
    render_one(&Renderer::plain().decor_style(DecorStyle::Ascii), f, source)
}

/// `6 migrations checked: 4 reversible, 2 irreversible, 0 unknown; 2 errors, 1 warning (9 ms)`
pub fn summary_line(s: &Summary, elapsed: Option<std::time::Duration>) -> String {
    format!(
        "{} migration{} checked: {} reversible, {} irreversible, {} unknown; {} error{}, {} warning{}{}{}",
        s.migrations,
        if s.migrations == 1 { "" } else { "s" },
        s.reversible,
        s.irreversible,
        s.unknown,
        s.errors,
        if s.errors == 1 { "" } else { "s" },
        s.warnings,
        if s.warnings == 1 { "" } else { "s" },
        if s.suppressed > 0 {
            format!(", {} suppressed", s.suppressed)
        } else {
            String::new()
        },
        match elapsed {
            Some(t) => format!(" ({} ms)", t.as_millis()),
            None => String::new(),
        }
    )
}
