//! Runs the rules over an analysis, applies configuration (enabled, severity) and
//! `-- migsafe:ignore` directives, and produces [`Finding`]s with exact locations.

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;

use serde::Serialize;

use super::registry::{self, ALL};
use super::{Context, Hit, RuleMeta, Script, Severity};
use crate::classify::{Analysis, MigrationAnalysis, Pos, ScriptAnalysis, Settings};
use crate::sql::Statement;

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
    for m in analysis.migrations.iter().filter(|m| m.checked) {
        let cx = Context {
            migration: m,
            runner: analysis.runner,
            settings,
            memo: Default::default(),
        };
        for rule in ALL.iter() {
            let meta = rule.meta();
            let Some(severity) = config.level(meta) else {
                continue;
            };
            let mut hits = Vec::new();
            rule.check(&cx, &mut hits);
            for hit in hits {
                findings.push(finding(m, meta, severity, hit));
            }
        }
        directive_findings(m, config, &mut findings);
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
    let suppressed = step.and_then(|st| suppressed_by(&st.statement, meta.id));
    let pos = |o: usize| {
        let (line, column) = s.lines.position(&s.source, o);
        Pos { line, column }
    };
    Finding {
        rule: meta.id,
        name: meta.name,
        severity,
        migration: m.migration.id(),
        path: s.path.clone(),
        start: pos(range.start),
        end: pos(range.end),
        range,
        message: hit.message,
        help: meta.help,
        suppressed,
    }
}

/// The reason of the statement's `-- migsafe:ignore` directive for rule `id`, if it has one.
pub fn suppressed_by(statement: &Statement, id: &str) -> Option<String> {
    statement
        .directives
        .iter()
        .find(|d| registry::lookup(&d.rule).is_some_and(|r| r.id == id))
        .and_then(|d| d.reason.clone())
}

/// Directives that name no known rule or give no reason are findings themselves: a silent
/// typo must not hide a hazard.
fn directive_findings(m: &MigrationAnalysis, config: &RuleConfig, out: &mut Vec<Finding>) {
    let meta = &super::registry::INVALID_IGNORE;
    let Some(severity) = config.level(meta) else {
        return;
    };
    for (which, s) in [(Script::Up, Some(&m.up)), (Script::Down, m.down.as_ref())] {
        let Some(s) = s else { continue };
        for step in &s.steps {
            for d in &step.statement.directives {
                let problem = if registry::lookup(&d.rule).is_none() {
                    Some(format!(
                        "`migsafe:ignore {}` names no known rule (see `migsafe rule`)",
                        d.rule
                    ))
                } else if d.reason.is_none() {
                    Some(format!(
                        "`migsafe:ignore {}` needs a reason after the rule ID",
                        d.rule
                    ))
                } else {
                    None
                };
                if let Some(message) = problem {
                    let hit = Hit {
                        script: which,
                        step: None,
                        range: Some(d.range.start.saturating_sub(2)..d.range.end),
                        message,
                    };
                    out.push(finding(m, meta, severity, hit));
                }
            }
        }
    }
}
