//! Rules: one per file, each a unit struct declared with [`rule!`], whose doc comment is its
//! documentation (`migsafe rule ID`, `docs/rules/`) and whose `## Bad` / `## Good` examples drive
//! its tests: SQL for the rules that read migrations, file listings for the history rules
//! (MS3xx), which compare with a base branch. [`registry::ALL`] is the one stable table of IDs
//! and names.

pub mod compat;
pub mod data;
pub mod engine;
pub mod history;
pub mod ignore;
pub mod locking;
pub mod meta;
pub mod registry;
#[cfg(test)]
pub(crate) mod testing;

use std::ops::Range;

use serde::Serialize;

use crate::classify::{MigrationAnalysis, OpEffect, ScriptAnalysis, Settings, Step};
use crate::source::Runner;

pub use engine::{Finding, RuleConfig, check};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Where the rule pages (docs/rules/) are published; CI formats link each finding there.
pub const DOCS_URL: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/blob/main/docs/rules");

/// What every rule declares about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleMeta {
    /// Stable ID (`MS001`): never reused, never renumbered.
    pub id: &'static str,
    /// kebab-case name describing the flagged pattern.
    pub name: &'static str,
    pub severity: Severity,
    /// Opt-in rules are off unless enabled in migsafe.toml.
    pub default_enabled: bool,
    /// The safe alternative, in one line (shown as `help:`).
    pub help: &'static str,
    /// The rule's doc comment, Markdown.
    pub doc: &'static str,
}

impl RuleMeta {
    /// The documentation without rustdoc's leading space on each line.
    pub fn documentation(&self) -> String {
        self.doc
            .lines()
            .map(|l| l.strip_prefix(' ').unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n")
            .trim()
            .to_string()
    }

    /// First sentence of "What it flags", for lists.
    pub fn summary(&self) -> String {
        let doc = self.documentation();
        let body = doc.split("## What it flags").nth(1).unwrap_or(&doc);
        let para = body
            .trim()
            .split("\n\n")
            .next()
            .unwrap_or("")
            .replace('\n', " ");
        para.trim().to_string()
    }

    /// The level a rule has when migsafe.toml says nothing: its severity, or `off`.
    pub fn default_level(&self) -> &'static str {
        if self.default_enabled {
            self.severity.as_str()
        } else {
            "off"
        }
    }

    /// The rule's documentation page: what `migsafe rule ID` prints and docs/rules/ holds.
    pub fn page(&self) -> String {
        format!(
            "# {} {}\n\nSeverity: {}{}\n\n{}\n",
            self.id,
            self.name,
            self.severity.as_str(),
            if self.default_enabled {
                ""
            } else {
                " (off unless enabled in migsafe.toml)"
            },
            self.documentation()
        )
    }

    /// The published page of the rule (docs/rules/<ID>-<name>.md).
    pub fn url(&self) -> String {
        format!("{DOCS_URL}/{}-{}.md", self.id, self.name)
    }

    /// SQL examples under a `## Bad` or `## Good` heading.
    pub fn examples(&self, heading: &str) -> Vec<String> {
        self.blocks(heading, "sql")
    }

    /// File listings (`text` blocks) under a `## Bad` or `## Good` heading: the examples of the
    /// history rules.
    pub fn listings(&self, heading: &str) -> Vec<String> {
        self.blocks(heading, "text")
    }

    /// The fenced blocks of one language under a heading.
    fn blocks(&self, heading: &str, lang: &str) -> Vec<String> {
        let doc = self.documentation();
        let marker = format!("## {heading}");
        let Some(section) = doc.split(&marker).nth(1) else {
            return vec![];
        };
        let section = section.split("\n## ").next().unwrap_or("");
        section
            .split(&format!("```{lang}\n"))
            .skip(1)
            .filter_map(|b| b.split("```").next())
            .map(|s| s.trim().to_string() + "\n")
            .collect()
    }
}

/// Where a rule points: a step of the up or down script, or a byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    Up,
    Down,
}

/// One hit reported by a rule, before configuration and suppressions are applied.
#[derive(Debug, Clone)]
pub struct Hit {
    pub script: Script,
    /// The step the hit is about (its directives can suppress it).
    pub step: Option<usize>,
    /// Byte range to underline; defaults to the step's statement.
    pub range: Option<Range<usize>>,
    pub message: String,
    /// At most this severity: a rule softens a finding that the project's setup makes less
    /// pressing (the configured level still applies when it is lower).
    pub at_most: Option<Severity>,
}

impl Hit {
    pub fn at(step: &Step, message: impl Into<String>) -> Hit {
        Hit {
            at_most: None,
            script: Script::Up,
            step: Some(step.index),
            range: None,
            message: message.into(),
        }
    }
}

/// What a rule sees: one migration, analysed, and the project around it.
pub struct Context<'a> {
    pub migration: &'a MigrationAnalysis,
    pub runner: Runner,
    /// Some migration of the project has a down script (Flyway: an undo script).
    pub project_has_downs: bool,
    pub settings: Settings,
    /// Facts several rules need, computed once per migration.
    pub(crate) memo: Memo,
}

/// Lazily computed, per-migration facts shared between rules.
#[derive(Default)]
pub(crate) struct Memo {
    pub(crate) created: std::cell::OnceCell<compat::Created>,
}

impl<'a> Context<'a> {
    pub fn up(&self) -> &'a ScriptAnalysis {
        &self.migration.up
    }

    /// Every (step, operation) of the up script.
    pub fn ops(&self) -> impl Iterator<Item = (&'a Step, &'a OpEffect)> + 'a {
        self.migration
            .up
            .steps
            .iter()
            .flat_map(|s| s.effects.iter().map(move |e| (s, e)))
    }

    /// Operations on tables that existed before this migration.
    pub fn ops_on_existing(&self) -> impl Iterator<Item = (&'a Step, &'a OpEffect)> + 'a {
        self.ops().filter(|(_, e)| !e.new_table)
    }
}

pub trait Rule: Sync {
    fn meta(&self) -> &'static RuleMeta;
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>);
}

/// Declares a rule struct with its metadata; the doc comment becomes its documentation.
macro_rules! rule {
    (
        $(#[doc = $doc:literal])*
        $ty:ident {
            id: $id:literal,
            name: $name:literal,
            severity: $sev:ident,
            $(default_enabled: $en:literal,)?
            help: $help:literal $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        pub struct $ty;

        impl $ty {
            pub const META: $crate::rules::RuleMeta = $crate::rules::RuleMeta {
                id: $id,
                name: $name,
                severity: $crate::rules::Severity::$sev,
                default_enabled: $crate::rules::rule!(@enabled $($en)?),
                help: $help,
                doc: concat!($($doc, "\n"),*),
            };
        }
    };
    (@enabled) => { true };
    (@enabled $en:literal) => { $en };
}
pub(crate) use rule;
