//! Which statements of a script changed since the base: the scripts are split into statements,
//! each compared in its normalised form ([`crate::sql::normalize`]), so that a reworded comment,
//! an added `-- migsafe:ignore` or re-indented SQL is no edit, and an edit is found at its
//! statement rather than at the first byte that differs.

use std::ops::Range;

use similar::{Algorithm, DiffTag, capture_diff_slices};

use crate::source::Script;
use crate::sql::normalize::normalized;
use crate::sql::split::split;

/// One run of changed statements in the script of today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hunk {
    /// Byte range of the file from the end of the statement before the run (so the comments
    /// and directives in front of it belong to it) to the end of its last statement; for
    /// statements that were removed, the gap where they were.
    pub region: Range<usize>,
    /// Byte range of the statement to report the run at: its first, or, for a removal, the
    /// statement after the gap (the last one when the gap is at the end).
    pub at: Range<usize>,
}

/// How one script (up or down) changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Edits {
    Same,
    /// These runs changed, the rest of the script did not.
    Hunks(Vec<Hunk>),
    /// Changed as a whole: added, or the statements could not be told apart (a quote left
    /// open). `at` is a byte range to report it at.
    Whole {
        at: Range<usize>,
    },
}

impl Edits {
    pub fn changed(&self) -> bool {
        !matches!(self, Edits::Same)
    }
}

/// The statements of a script: byte ranges in its file and normalised texts.
fn statements(script: &Script) -> Option<Vec<(Range<usize>, String)>> {
    let raws = split(&script.source, script.range.clone(), script.delimiting).ok()?;
    Some(
        raws.into_iter()
            .map(|raw| {
                let key = normalized(&script.source[raw.range.clone()]);
                (raw.range, key)
            })
            // A lone `;` is no statement.
            .filter(|(_, key)| !key.is_empty())
            .collect(),
    )
}

/// How `now` differs from `was`. `whole_at` is where to report a change that cannot be
/// narrowed to statements.
pub(crate) fn edits(
    now: Option<&Script>,
    was: Option<&Script>,
    whole_at: impl Fn(&Script) -> Range<usize>,
) -> Edits {
    let (now, was) = match (now, was) {
        (None, None) => return Edits::Same,
        // A script removed leaves nothing to point at in this one.
        (None, Some(_)) => return Edits::Hunks(Vec::new()),
        (Some(now), None) => {
            return Edits::Whole { at: whole_at(now) };
        }
        (Some(now), Some(was)) => (now, was),
    };
    if now.text() == was.text() {
        return Edits::Same;
    }
    let (Some(new), Some(old)) = (statements(now), statements(was)) else {
        return Edits::Whole { at: whole_at(now) };
    };
    let keys = |s: &[(Range<usize>, String)]| s.iter().map(|(_, k)| k.clone()).collect::<Vec<_>>();
    let ops = capture_diff_slices(Algorithm::Myers, &keys(&old), &keys(&new));
    let hunks: Vec<Hunk> = ops
        .iter()
        .filter(|op| op.tag() != DiffTag::Equal)
        .map(|op| {
            let changed = op.new_range();
            let (first, end) = (changed.start, changed.end);
            let start = match first {
                0 => now.range.start,
                i => new[i - 1].0.end,
            };
            let (end, at) = if end > first {
                (new[end - 1].0.end, new[first].0.clone())
            } else if let Some((next, _)) = new.get(first) {
                (next.start, next.clone())
            } else {
                let at = new
                    .last()
                    .map_or(now.range.start..now.range.start, |(r, _)| r.clone());
                (now.range.end, at)
            };
            Hunk {
                region: start..end,
                at,
            }
        })
        .collect();
    if hunks.is_empty() {
        Edits::Same
    } else {
        Edits::Hunks(hunks)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::source::ExecMode;

    fn script(text: &str) -> Script {
        Script::whole("m.sql".into(), Arc::from(text), ExecMode::WrappedTx)
    }

    fn at_texts(now: &Script, e: &Edits) -> Vec<String> {
        match e {
            Edits::Hunks(h) => h
                .iter()
                .map(|h| now.source[h.at.clone()].to_string())
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    const WAS: &str =
        "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\nCREATE TABLE c (id int);\n";

    #[test]
    fn comments_and_layout_are_no_edit() {
        let now = script(
            "-- tables\nCREATE TABLE a (id int); -- first\n-- migsafe:ignore MS001 old\nCREATE TABLE b (\n  id int\n);\ncreate table c (id int)\n",
        );
        let e = edits(Some(&now), Some(&script(WAS)), |_| 0..0);
        assert_eq!(e, Edits::Same);
    }

    #[test]
    fn an_edit_is_found_at_its_statement() {
        let now = script(
            "-- a comment changed too\nCREATE TABLE a (id int);\nCREATE TABLE b (id bigint);\nCREATE TABLE c (id int);\n",
        );
        let e = edits(Some(&now), Some(&script(WAS)), |_| 0..0);
        assert_eq!(at_texts(&now, &e), ["CREATE TABLE b (id bigint);"]);
        let Edits::Hunks(h) = &e else { unreachable!() };
        // The region starts after the statement before, so a directive in front is in it.
        assert_eq!(
            &now.source[h[0].region.clone()],
            "\nCREATE TABLE b (id bigint);"
        );
    }

    #[test]
    fn removed_and_added_statements() {
        let was = script(WAS);
        let now = script("CREATE TABLE a (id int);\nCREATE TABLE c (id int);\n");
        let e = edits(Some(&now), Some(&was), |_| 0..0);
        assert_eq!(at_texts(&now, &e), ["CREATE TABLE c (id int);"]);
        let now = script("CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n");
        let e = edits(Some(&now), Some(&was), |_| 0..0);
        assert_eq!(at_texts(&now, &e), ["CREATE TABLE b (id int);"]);
        let now = script(&format!("{WAS}CREATE TABLE d (id int);\n"));
        let e = edits(Some(&now), Some(&was), |_| 0..0);
        assert_eq!(at_texts(&now, &e), ["CREATE TABLE d (id int);"]);
        let empty = script("");
        let e = edits(Some(&empty), Some(&was), |_| 0..0);
        assert_eq!(at_texts(&empty, &e), [""]);
    }

    #[test]
    fn unsplittable_scripts_change_as_a_whole() {
        let now = script("CREATE TABLE a (id int DEFAULT 'x);\n");
        let e = edits(Some(&now), Some(&script(WAS)), |_| 3..4);
        assert_eq!(e, Edits::Whole { at: 3..4 });
        assert_eq!(edits(None, None, |_| 0..0), Edits::Same);
        assert_eq!(edits(Some(&now), None, |_| 1..2), Edits::Whole { at: 1..2 });
    }
}
