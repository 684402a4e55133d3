//! The one table of rules. IDs are stable: a rule may be retired, never renumbered.
//!
//! | range | family |
//! |---|---|
//! | MS0xx | data: steps that destroy data, reversibility |
//! | MS1xx | locking and rewrites |
//! | MS2xx | compatibility with the running application, transactions, design |
//! | MS3xx | history: how new migrations relate to those already merged (`--since`) |
//! | MS9xx | what migsafe cannot read, and its own directives |

use std::sync::LazyLock;

use super::{Rule, RuleMeta};

/// Every rule, sorted by ID.
pub static ALL: LazyLock<Vec<&'static dyn Rule>> = LazyLock::new(|| {
    let mut all: Vec<&'static dyn Rule> = Vec::new();
    all.extend_from_slice(super::data::RULES);
    all.extend_from_slice(super::locking::RULES);
    all.extend_from_slice(super::compat::RULES);
    all.extend_from_slice(super::history::RULES);
    all.extend_from_slice(super::meta::RULES);
    all.sort_by_key(|r| r.meta().id);
    all
});

pub const INVALID_IGNORE: RuleMeta = super::meta::invalid_ignore::InvalidIgnore::META;
pub const UNUSED_IGNORE: RuleMeta = super::meta::unused_ignore::UnusedIgnore::META;

/// Finds a rule by ID (`MS001`, case-insensitive) or name (`drop-table`).
pub fn lookup(id_or_name: &str) -> Option<&'static RuleMeta> {
    ALL.iter()
        .map(|r| r.meta())
        .find(|m| m.id.eq_ignore_ascii_case(id_or_name) || m.name == id_or_name)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ids_and_names_are_unique_and_well_formed() {
        let mut ids = HashSet::new();
        let mut names = HashSet::new();
        for r in ALL.iter() {
            let m = r.meta();
            assert!(ids.insert(m.id), "duplicate id {}", m.id);
            assert!(names.insert(m.name), "duplicate name {}", m.name);
            assert!(
                m.id.len() == 5
                    && m.id.starts_with("MS")
                    && m.id[2..].chars().all(|c| c.is_ascii_digit()),
                "{}",
                m.id
            );
            assert!(
                m.name.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{}",
                m.name
            );
            let doc = m.documentation();
            for section in ["## What it flags", "## Why it matters", "## Instead"] {
                assert!(doc.contains(section), "{} lacks {section}", m.id);
            }
            assert!(!m.help.is_empty());
        }
    }

    #[test]
    fn every_rule_has_bad_and_good_examples() {
        for r in ALL.iter() {
            let m = r.meta();
            if m.id == INVALID_IGNORE.id {
                continue;
            }
            // History rules compare branches, so their examples are file listings, not SQL.
            let history = crate::rules::history::RULES
                .iter()
                .any(|h| h.meta().id == m.id);
            for heading in ["Bad", "Good"] {
                let (examples, kind) = if history {
                    (m.listings(heading), "text")
                } else {
                    (m.examples(heading), "sql")
                };
                assert!(
                    !examples.is_empty(),
                    "{} has no ## {heading} example (a ```{kind} block)",
                    m.id
                );
            }
            if history {
                assert!(m.id.starts_with("MS3"), "{} is not in MS3xx", m.id);
                assert!(m.examples("Bad").is_empty() && m.examples("Good").is_empty());
            }
        }
    }
}
