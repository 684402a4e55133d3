//! Reads what follows `migsafe:ignore` in a directive: the rules it names, then the reason.
//!
//! Rules are named by ID (`MS002`, any case) or name (`drop-column`), separated by commas,
//! blanks or both: every leading word that names a rule is one, and the rest is the reason
//! (`MS002 MS125 the table is small` names two rules). A word that looks like a rule ID
//! (`MS999`) but names none, or a kebab-case word after a comma (`MS002,drop-colunm`), is an
//! error rather than the start of the reason, so that a typo does not quietly suppress less.

use super::RuleMeta;
use super::registry::{self, INVALID_IGNORE, UNUSED_IGNORE};

/// A well-formed directive's rules (in the order written, without repeats) and reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Ignore {
    pub rules: Vec<&'static RuleMeta>,
    pub reason: String,
}

/// Reads a directive's text (what follows `migsafe:ignore`). The error says what is wrong, for
/// MS903.
pub fn parse(text: &str) -> Result<Ignore, String> {
    let mut rules: Vec<&'static RuleMeta> = Vec::new();
    let mut rest = text.trim_start();
    let mut after_comma = false;
    loop {
        if let Some(r) = rest.strip_prefix(',') {
            rest = r.trim_start();
            after_comma = true;
            continue;
        }
        let end = rest.find([' ', ',']).unwrap_or(rest.len());
        let word = &rest[..end];
        if word.is_empty() {
            break;
        }
        match registry::lookup(&word.to_ascii_lowercase()) {
            Some(meta) => {
                if [INVALID_IGNORE.id, UNUSED_IGNORE.id].contains(&meta.id) {
                    return Err(format!(
                        "`migsafe:ignore {word}`: {} ({}) is about directives and cannot be suppressed by one; set it to \"off\" in migsafe.toml's [rules] instead",
                        meta.id, meta.name
                    ));
                }
                if !rules.iter().any(|r| r.id == meta.id) {
                    rules.push(meta);
                }
            }
            None if looks_like_id(word) || (after_comma && looks_like_name(word)) => {
                return Err(format!(
                    "`migsafe:ignore` names `{word}`, which is not a rule ID or name (see `migsafe rule`)"
                ));
            }
            None => break,
        }
        rest = rest[end..].trim_start();
        after_comma = false;
    }
    if rules.is_empty() {
        return Err(match rest.split(' ').next().filter(|w| !w.is_empty()) {
            Some(word) => format!(
                "`migsafe:ignore` names no rule: `{word}` is not a rule ID or name (see `migsafe rule`)"
            ),
            None => "`migsafe:ignore` names no rule and gives no reason".to_string(),
        });
    }
    let reason = rest.trim();
    if reason.is_empty() {
        return Err(format!(
            "`migsafe:ignore {}` needs a reason after the rule IDs",
            text.trim()
        ));
    }
    Ok(Ignore {
        rules,
        reason: reason.to_string(),
    })
}

/// `MS` and digits, any case.
fn looks_like_id(word: &str) -> bool {
    word.len() > 2
        && word[..2].eq_ignore_ascii_case("ms")
        && word[2..].bytes().all(|b| b.is_ascii_digit())
}

/// kebab-case with at least one hyphen, like every rule name.
fn looks_like_name(word: &str) -> bool {
    word.contains('-')
        && !word.starts_with('-')
        && !word.ends_with('-')
        && word.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(text: &str) -> Result<(Vec<&'static str>, String), String> {
        parse(text).map(|i| (i.rules.iter().map(|r| r.id).collect(), i.reason))
    }

    #[test]
    fn rules_then_reason() {
        for (text, rules, reason) in [
            ("MS002 the reason", &["MS002"][..], "the reason"),
            ("ms002 the reason", &["MS002"], "the reason"),
            ("drop-column the reason", &["MS002"], "the reason"),
            ("Drop-Column the reason", &["MS002"], "the reason"),
            ("MS002,MS125 the reason", &["MS002", "MS125"], "the reason"),
            ("MS002, MS125 the reason", &["MS002", "MS125"], "the reason"),
            ("MS002 ,MS125 the reason", &["MS002", "MS125"], "the reason"),
            ("MS002 MS125 the reason", &["MS002", "MS125"], "the reason"),
            (
                "drop-column missing-lock-timeout the reason",
                &["MS002", "MS125"],
                "the reason",
            ),
            ("MS002,drop-column the reason", &["MS002"], "the reason"),
            (
                "MS002, because it is unused",
                &["MS002"],
                "because it is unused",
            ),
            (
                "MS002 short-lived column, never read",
                &["MS002"],
                "short-lived column, never read",
            ),
            ("MS002 see MS125", &["MS002"], "see MS125"),
        ] {
            assert_eq!(
                ids(text),
                Ok((rules.to_vec(), reason.to_string())),
                "{text}"
            );
        }
    }

    #[test]
    fn malformed() {
        for (text, error) in [
            ("", "names no rule and gives no reason"),
            (
                "drop-tabel the table is empty",
                "`drop-tabel` is not a rule ID or name",
            ),
            ("the table is empty", "`the` is not a rule ID or name"),
            ("MS999 reason", "names `MS999`, which is not a rule"),
            ("MS002 MS999 reason", "names `MS999`, which is not a rule"),
            ("MS002,ms999 reason", "names `ms999`, which is not a rule"),
            (
                "MS002,drop-colunm reason",
                "names `drop-colunm`, which is not a rule",
            ),
            ("MS002", "`migsafe:ignore MS002` needs a reason"),
            ("MS002,MS125", "`migsafe:ignore MS002,MS125` needs a reason"),
            ("MS002,", "needs a reason"),
            ("drop-column", "`migsafe:ignore drop-column` needs a reason"),
            (
                "unused-ignore reason",
                "MS904 (unused-ignore) is about directives",
            ),
            (
                "MS002 MS903 reason",
                "MS903 (invalid-ignore) is about directives",
            ),
        ] {
            match parse(text) {
                Err(e) => assert!(e.contains(error), "{text}: {e}"),
                Ok(i) => panic!("{text}: read as {i:?}"),
            }
        }
    }
}
