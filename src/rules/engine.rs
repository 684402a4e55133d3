//! Runs the rules over an analysis, applies configuration (enabled, severity) and
//! `migsafe:ignore` directives, and produces [`Finding`]s with exact locations. Directives are
//! findings themselves when malformed (MS903) or when a rule they name suppresses nothing
//! (MS904).

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;

use serde::Serialize;

use super::ignore::{self, Ignore};
use super::registry::{self, ALL};
use super::{Context, Hit, RuleMeta, Script, Severity};
use crate::classify::{Analysis, MigrationAnalysis, Pos, ScriptAnalysis, Settings};
use crate::sql::{Directive, Statement};

/// Per-rule settings after reading migsafe.toml: `None` = off.
#[derive(Debug, Clone, Default)]
pub struct RuleConfig {
    /// Rule ID → level (`None` disables). Rules not listed use their defaults.
    pub levels: HashMap<&'static str, Option<Severity>>,
}

impl RuleConfig {
    pub fn level(&self, meta: &RuleMeta) -> Option<Severity> {
        match self.levels.get(meta.id) {
            Some(level) => *level,
            None => meta.default_enabled.then_some(meta.severity),
        }
    }
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Finding {
    pub rule: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub migration: String,
    pub path: PathBuf,
    #[serde(skip)]
    pub range: Range<usize>,
    pub start: Pos,
    pub end: Pos,
    pub message: String,
    pub help: &'static str,
    /// The reason given in a `-- migsafe:ignore` directive, when one suppressed this finding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<String>,
}

/// Runs every enabled rule on every checked migration.
pub fn check(analysis: &Analysis, config: &RuleConfig, settings: Settings) -> Vec<Finding> {
    let mut findings = Vec::new();
    let project_has_downs = analysis.migrations.iter().any(|m| m.down.is_some());
    for m in analysis.migrations.iter().filter(|m| m.checked) {
        let cx = Context {
            migration: m,
            runner: analysis.runner,
            project_has_downs,
            settings,
            memo: Default::default(),
        };
        let mut directives = Directives::of(m);
        for rule in ALL.iter() {
            let meta = rule.meta();
            let Some(severity) = config.level(meta) else {
                continue;
            };
            let mut hits = Vec::new();
            rule.check(&cx, &mut hits);
            for hit in hits {
                let suppressed = directives.suppress(&hit, meta);
                let mut f = finding(m, meta, severity, hit);
                f.suppressed = suppressed;
                findings.push(f);
            }
        }
        directives.findings(m, config, &mut findings);
    }
    findings
}

fn script(m: &MigrationAnalysis, which: Script) -> &ScriptAnalysis {
    match (which, &m.down) {
        (Script::Down, Some(d)) => d,
        _ => &m.up,
    }
}

fn finding(
    m: &MigrationAnalysis,
    meta: &'static RuleMeta,
    severity: Severity,
    hit: Hit,
) -> Finding {
    let s = script(m, hit.script);
    let step = hit.step.and_then(|i| s.steps.get(i));
    let range = hit
        .range
        .or_else(|| step.map(|st| st.statement.range.clone()))
        .unwrap_or(0..0);
    let pos = |o: usize| {
        let (line, column) = s.lines.position(&s.source, o);
        Pos { line, column }
    };
    Finding {
        rule: meta.id,
        name: meta.name,
        severity: hit.at_most.map_or(severity, |cap| severity.min(cap)),
        migration: m.migration.id(),
        path: s.path.clone(),
        start: pos(range.start),
        end: pos(range.end),
        range,
        message: hit.message,
        help: meta.help,
        suppressed: None,
    }
}

/// MS301, MS302: decided by comparing with a base revision (`crate::history`).
fn is_history(meta: &RuleMeta) -> bool {
    meta.id.starts_with("MS3")
}

/// The reason of a well-formed `migsafe:ignore` directive of `statement` that names rule `id`:
/// for the history findings (MS3xx), which `lint --since` makes outside the rule engine.
pub fn suppressed_by(statement: &Statement, id: &str) -> Option<String> {
    statement
        .directives
        .iter()
        .filter(|d| d.malformed.is_none())
        .find_map(|d| {
            let parsed = ignore::parse(&d.text).ok()?;
            parsed
                .rules
                .iter()
                .any(|r| r.id == id)
                .then(|| parsed.reason.clone())
        })
}

/// One directive of a migration: where it is, what it says, and which of the rules it names
/// have suppressed a finding so far.
struct Entry<'a> {
    script: Script,
    /// The step it belongs to; `None` after the last statement.
    step: Option<usize>,
    directive: &'a Directive,
    parsed: Result<Ignore, String>,
    used: Vec<bool>,
}

/// The `migsafe:ignore` directives of one migration's scripts.
struct Directives<'a> {
    entries: Vec<Entry<'a>>,
}

impl<'a> Directives<'a> {
    fn of(m: &'a MigrationAnalysis) -> Self {
        let mut entries = Vec::new();
        for (which, s) in [(Script::Up, Some(&m.up)), (Script::Down, m.down.as_ref())] {
            let Some(s) = s else { continue };
            let on_steps = s.steps.iter().flat_map(|st| {
                st.statement
                    .directives
                    .iter()
                    .map(move |d| (Some(st.index), d))
            });
            let trailing = s.trailing_directives.iter().map(|d| (None, d));
            for (step, directive) in on_steps.chain(trailing) {
                let parsed = match &directive.malformed {
                    Some(problem) => Err(problem.clone()),
                    None => ignore::parse(&directive.text),
                };
                let used = vec![false; parsed.as_ref().map_or(0, |p| p.rules.len())];
                entries.push(Entry {
                    script: which,
                    step,
                    directive,
                    parsed,
                    used,
                });
            }
        }
        Directives { entries }
    }

    /// The reason of the first well-formed directive on the hit's step that names its rule
    /// (marking that rule used there), if any. A malformed directive suppresses nothing.
    fn suppress(&mut self, hit: &Hit, meta: &RuleMeta) -> Option<String> {
        let step = hit.step?;
        // Entries are in (script, step) order: a large file with many directives and many hits
        // looks at its step's directives only.
        let key = (hit.script == Script::Down, step);
        let from = self
            .entries
            .partition_point(|e| (e.script == Script::Down, e.step.unwrap_or(usize::MAX)) < key);
        self.entries[from..]
            .iter_mut()
            .take_while(|e| e.script == hit.script && e.step == Some(step))
            .find_map(|e| {
                let parsed = e.parsed.as_ref().ok()?;
                let i = parsed.rules.iter().position(|r| r.id == meta.id)?;
                e.used[i] = true;
                Some(parsed.reason.clone())
            })
    }

    /// Malformed directives (MS903) and the rules of well-formed ones that suppressed nothing
    /// (MS904; only rules that ran, since a rule turned off finds nothing). Neither finding
    /// belongs to a step, so no directive can suppress it.
    fn findings(&self, m: &MigrationAnalysis, config: &RuleConfig, out: &mut Vec<Finding>) {
        let invalid = config.level(&registry::INVALID_IGNORE);
        let unused = config.level(&registry::UNUSED_IGNORE);
        for e in &self.entries {
            let at = |message: String| Hit {
                at_most: None,
                script: e.script,
                step: None,
                range: Some(e.directive.range.clone()),
                message,
            };
            match &e.parsed {
                Err(problem) => {
                    if let Some(severity) = invalid {
                        out.push(finding(
                            m,
                            &registry::INVALID_IGNORE,
                            severity,
                            at(problem.clone()),
                        ));
                    }
                }
                Ok(parsed) => {
                    let Some(severity) = unused else { continue };
                    let s = script(m, e.script);
                    for (rule, _) in parsed
                        .rules
                        .iter()
                        .zip(&e.used)
                        // History rules (MS3xx) report only under `lint --since`, outside
                        // this engine: a directive naming one is not known to be unused.
                        .filter(|(r, used)| !**used && config.level(r).is_some() && !is_history(r))
                    {
                        let message = match e.step.and_then(|i| s.steps.get(i)) {
                            Some(step) => format!(
                                "`migsafe:ignore` names {} ({}), which reports nothing on the statement at line {}: the directive suppresses nothing for it",
                                rule.id, rule.name, step.start.line
                            ),
                            None => format!(
                                "`migsafe:ignore` names {} ({}), but no statement follows the directive: it suppresses nothing",
                                rule.id, rule.name
                            ),
                        };
                        out.push(finding(m, &registry::UNUSED_IGNORE, severity, at(message)));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::lint_example;

    const SCENE: &str =
        "CREATE TABLE accounts (id bigint PRIMARY KEY, plan text);\n-- example: next migration\n";
    const DROP: &str = "ALTER TABLE accounts DROP COLUMN plan;";

    /// (rule, line, column, suppressed reason, message) of every finding of `sql`, linted as
    /// the migration after one that creates `accounts (id, plan)`.
    fn lint(sql: &str) -> Vec<(&'static str, usize, usize, Option<String>, String)> {
        let (findings, _) = lint_example(&format!("{SCENE}{sql}\n"), &registry::UNUSED_IGNORE);
        findings
            .into_iter()
            .map(|f| {
                (
                    f.rule,
                    f.start.line,
                    f.start.column,
                    f.suppressed,
                    f.message,
                )
            })
            .collect()
    }

    fn suppressed(sql: &str, rule: &str) -> Option<String> {
        let found = lint(sql);
        let mine: Vec<_> = found.iter().filter(|f| f.0 == rule).collect();
        assert_eq!(mine.len(), 1, "{sql}: {found:#?}");
        mine[0].3.clone()
    }

    fn of_rule<'a>(
        found: &'a [(&'static str, usize, usize, Option<String>, String)],
        rule: &str,
    ) -> Vec<&'a (&'static str, usize, usize, Option<String>, String)> {
        found.iter().filter(|f| f.0 == rule).collect()
    }

    /// MS302 reports only under `lint --since`: naming it is never "unused" in a plain run.
    #[test]
    fn history_rules_are_never_unused() {
        let found = lint(&format!(
            "-- migsafe:ignore MS302 reworded before any database ran it\n{DROP}"
        ));
        assert!(of_rule(&found, "MS904").is_empty(), "{found:#?}");
    }

    #[test]
    fn every_accepted_form_suppresses() {
        let forms = [
            format!("-- migsafe:ignore MS002 never written\n{DROP}"),
            format!("--migsafe:ignore MS002 never written\n{DROP}"),
            format!("-- MIGSAFE:IGNORE MS002 never written\n{DROP}"),
            format!("-- migsafe: ignore ms002 never written\n{DROP}"),
            format!("-- migsafe:ignore drop-column never written\n{DROP}"),
            format!("-- migsafe:ignore DROP-COLUMN never written\n{DROP}"),
            format!("/* migsafe:ignore MS002 never written */\n{DROP}"),
            format!("/* migsafe:ignore MS002\n   never written */\n{DROP}"),
            format!("/*\n * MigSafe:Ignore MS002\n * never written\n */\n{DROP}"),
            format!("{DROP} -- migsafe:ignore MS002 never written"),
            format!("{DROP} /* migsafe:ignore MS002 never written */"),
            format!("{DROP} /* a note */ -- migsafe:ignore MS002 never written"),
            "ALTER TABLE accounts -- migsafe:ignore MS002 never written\n  DROP COLUMN plan;"
                .to_string(),
            format!("-- migsafe:ignore MS002 never written\n-- an ordinary comment\n{DROP}"),
        ];
        for sql in forms {
            assert_eq!(
                suppressed(&sql, "MS002").as_deref(),
                Some("never written"),
                "{sql}"
            );
            let found = lint(&sql);
            assert!(
                of_rule(&found, "MS903").is_empty() && of_rule(&found, "MS904").is_empty(),
                "{sql}: {found:#?}"
            );
        }
    }

    /// `MS125` (missing-lock-timeout) also reports the DROP COLUMN: each form names both.
    #[test]
    fn several_rules_in_one_directive() {
        for ids in [
            "MS002,MS125",
            "MS002, MS125",
            "MS002 , MS125",
            "MS002 MS125",
            "ms002,ms125",
            "drop-column,missing-lock-timeout",
            "drop-column missing-lock-timeout",
            "MS002 missing-lock-timeout",
        ] {
            for sql in [
                format!("-- migsafe:ignore {ids} never written, accounts is small\n{DROP}"),
                format!("{DROP} /* migsafe:ignore {ids} never written, accounts is small */"),
            ] {
                for rule in ["MS002", "MS125"] {
                    assert_eq!(
                        suppressed(&sql, rule).as_deref(),
                        Some("never written, accounts is small"),
                        "{sql}"
                    );
                }
                let found = lint(&sql);
                assert!(
                    of_rule(&found, "MS903").is_empty() && of_rule(&found, "MS904").is_empty(),
                    "{sql}: {found:#?}"
                );
            }
        }
        // Words after the rules are the reason, even when one mentions a rule.
        let sql = format!("-- migsafe:ignore MS002 see MS125 later\n{DROP}");
        assert_eq!(
            suppressed(&sql, "MS002").as_deref(),
            Some("see MS125 later")
        );
        assert_eq!(suppressed(&sql, "MS125"), None);
    }

    #[test]
    fn malformed_directives_are_ms903_at_the_directive_and_suppress_nothing() {
        for (sql, line, column, message) in [
            (
                format!("-- migsafe:ignore MS002\n{DROP}"),
                1,
                1,
                "needs a reason",
            ),
            (
                format!("{DROP} -- migsafe:ignore drop-column"),
                1,
                40,
                "needs a reason",
            ),
            (
                format!("-- migsafe:ignore\n{DROP}"),
                1,
                1,
                "names no rule and gives no reason",
            ),
            (
                format!("/* migsafe:ignore */\n{DROP}"),
                1,
                1,
                "names no rule",
            ),
            (
                format!("-- migsafe:ignore MS999 never written\n{DROP}"),
                1,
                1,
                "`MS999`",
            ),
            (
                format!("-- migsafe:ignore MS002,MS999 never written\n{DROP}"),
                1,
                1,
                "`MS999`",
            ),
            (
                format!("-- migsafe:ignore MS002 MS999 never written\n{DROP}"),
                1,
                1,
                "`MS999`",
            ),
            (
                format!("-- migsafe:ignore MS002,drop-colunm never written\n{DROP}"),
                1,
                1,
                "`drop-colunm`",
            ),
            (
                format!("-- migsafe:ignore drop-colunm never written\n{DROP}"),
                1,
                1,
                "`drop-colunm` is not a rule",
            ),
            (
                format!("-- migsafe:ignroe MS002 never written\n{DROP}"),
                1,
                1,
                "`migsafe:ignroe` is not a directive",
            ),
            (
                format!("-- migsafe:ignore:MS002 never written\n{DROP}"),
                1,
                1,
                "followed by a blank",
            ),
            (
                format!("-- migsafe ignore MS002 never written\n{DROP}"),
                1,
                1,
                "with a colon",
            ),
            (
                format!("-- migsafe-ignore MS002 never written\n{DROP}"),
                1,
                1,
                "with a colon",
            ),
            (
                format!("-- migsafe:ignore MS002,unused-ignore never written\n{DROP}"),
                1,
                1,
                "cannot be suppressed",
            ),
            (
                format!("-- migsafe:ignore invalid-ignore never written\n{DROP}"),
                1,
                1,
                "cannot be suppressed",
            ),
        ] {
            let found = lint(&sql);
            let invalid = of_rule(&found, "MS903");
            assert_eq!(invalid.len(), 1, "{sql}: {found:#?}");
            assert_eq!((invalid[0].1, invalid[0].2), (line, column), "{sql}");
            assert!(invalid[0].4.contains(message), "{sql}: {}", invalid[0].4);
            assert_eq!(suppressed(&sql, "MS002"), None, "{sql}");
            assert!(of_rule(&found, "MS904").is_empty(), "{sql}: {found:#?}");
        }
    }

    #[test]
    fn a_rule_that_suppresses_nothing_is_ms904_at_the_directive() {
        // The example: an index rule above a DROP COLUMN.
        let found = lint(&format!("-- migsafe:ignore MS106 never written\n{DROP}"));
        let unused = of_rule(&found, "MS904");
        assert_eq!(unused.len(), 1, "{found:#?}");
        assert_eq!((unused[0].1, unused[0].2), (1, 1));
        assert!(
            unused[0]
                .4
                .contains("names MS106 (create-index-non-concurrent), which reports nothing on the statement at line 2"),
            "{}",
            unused[0].4
        );
        assert_eq!(of_rule(&found, "MS002")[0].3, None);

        // One of two rules used: a warning for the other only, at the directive.
        let sql = format!("SELECT 1;\n{DROP} -- migsafe:ignore MS002,MS106 never written");
        let found = lint(&sql);
        let unused = of_rule(&found, "MS904");
        assert_eq!(unused.len(), 1, "{found:#?}");
        assert_eq!((unused[0].1, unused[0].2), (2, 40));
        assert!(unused[0].4.contains("MS106") && !unused[0].4.contains("MS002"));
        assert!(unused[0].4.contains("statement at line 2"));
        assert_eq!(suppressed(&sql, "MS002").as_deref(), Some("never written"));

        // On a line of its own after a statement, a directive is about the next one.
        let found = lint(&format!(
            "{DROP}\n-- migsafe:ignore MS002 never written\nSELECT 1;"
        ));
        let unused = of_rule(&found, "MS904");
        assert_eq!(unused.len(), 1, "{found:#?}");
        assert_eq!((unused[0].1, unused[0].2), (2, 1));
        assert!(
            unused[0].4.contains("statement at line 3"),
            "{}",
            unused[0].4
        );
        assert_eq!(of_rule(&found, "MS002")[0].3, None);

        // At the end of a statement's line, it is about that statement, not the next one.
        let found = lint(&format!(
            "SELECT 1; -- migsafe:ignore MS002 never written\n{DROP}"
        ));
        let unused = of_rule(&found, "MS904");
        assert_eq!(unused.len(), 1, "{found:#?}");
        assert_eq!((unused[0].1, unused[0].2), (1, 11));
        assert!(
            unused[0].4.contains("statement at line 1"),
            "{}",
            unused[0].4
        );
        assert_eq!(of_rule(&found, "MS002")[0].3, None);

        // After the last statement, a directive belongs to none.
        let found = lint(&format!(
            "{DROP}\n/* migsafe:ignore MS002\n   never written */"
        ));
        let unused = of_rule(&found, "MS904");
        assert_eq!(unused.len(), 1, "{found:#?}");
        assert_eq!((unused[0].1, unused[0].2), (2, 1));
        assert!(
            unused[0].4.contains("no statement follows"),
            "{}",
            unused[0].4
        );

        // Two directives naming the same rule: the second suppresses nothing.
        let found = lint(&format!(
            "-- migsafe:ignore MS002 never written\n-- migsafe:ignore drop-column again\n{DROP}"
        ));
        let unused = of_rule(&found, "MS904");
        assert_eq!(unused.len(), 1, "{found:#?}");
        assert_eq!(unused[0].1, 2);
    }

    /// A rule that is off finds nothing, so naming it is not reported.
    #[test]
    fn a_rule_turned_off_is_not_reported_unused() {
        let found = lint(&format!(
            "-- migsafe:ignore MS002,missing-statement-timeout never written\n{DROP}"
        ));
        assert!(of_rule(&found, "MS904").is_empty(), "{found:#?}");
        assert_eq!(
            suppressed(
                &format!("-- migsafe:ignore MS002,MS126 never written\n{DROP}"),
                "MS002"
            )
            .as_deref(),
            Some("never written")
        );
    }

    #[test]
    fn directives_in_down_scripts_are_checked() {
        let found = lint(&format!(
            "{DROP} -- migsafe:ignore MS002 never written\n-- example: down\n-- migsafe:ignore MS001 nothing to drop\nALTER TABLE accounts ADD COLUMN plan text;\n-- migsafe:ignroe\n"
        ));
        let unused = of_rule(&found, "MS904");
        assert_eq!(unused.len(), 1, "{found:#?}");
        assert_eq!((unused[0].1, unused[0].2), (1, 1));
        let invalid = of_rule(&found, "MS903");
        assert_eq!(invalid.len(), 1, "{found:#?}");
        assert_eq!((invalid[0].1, invalid[0].2), (3, 1));
    }

    #[test]
    fn text_in_strings_bodies_and_identifiers_is_not_a_directive() {
        let found = lint(
            "SELECT '-- migsafe:ignore MS999', E'\\' /* migsafe:ignore MS999 */', \"-- migsafe:ignore MS999\";\n\
             DO $$ BEGIN\n  -- migsafe:ignore MS999 in a body\n  PERFORM 1;\nEND $$;\n\
             CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $body$\n/* migsafe:ignore MS999 */ SELECT 1\n$body$;",
        );
        assert!(
            of_rule(&found, "MS903").is_empty() && of_rule(&found, "MS904").is_empty(),
            "{found:#?}"
        );
    }
}
