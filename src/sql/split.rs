//! Splits a script into statements with exact byte spans.
//!
//! Understands everything that can hide a `;`: single-quoted strings (with `''`), `E''` strings
//! (with backslash escapes), quoted identifiers, dollar quotes with tags, line comments, nested
//! block comments, and goose's `StatementBegin`/`StatementEnd` blocks. Comments are kept so
//! that `migsafe:ignore` directives can be attached to their statement: a comment inside a
//! statement, or starting on the line where a statement ends (`DROP TABLE t; -- …`), belongs to
//! that statement; a comment on lines of its own belongs to the statement after it.

use std::ops::Range;

use crate::source::Delimiting;

/// A statement's location before parsing: byte range in the file (from its first token up to
/// and including the terminating `;`, when there is one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawStatement {
    pub range: Range<usize>,
    /// The comments that belong to this statement, for directives: those on lines of their own
    /// before it, those inside it, and those starting on the line where it ends. Byte ranges of
    /// whole comments, `--` or `/*` … `*/` included.
    pub comments: Vec<Range<usize>>,
}

/// A construct that never ended: the file is cut off or a quote is unbalanced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unterminated {what} starting here")]
pub struct Unterminated {
    pub what: &'static str,
    /// Byte offset (in the file) where the construct opened.
    pub at: usize,
}

/// Splits `source[range]` into statements. Offsets in the result are offsets into `source`.
pub fn split(
    source: &str,
    range: Range<usize>,
    delimiting: Delimiting,
) -> Result<Vec<RawStatement>, Unterminated> {
    split_keeping_trailing(source, range, delimiting).map(|(statements, _)| statements)
}

/// [`split`], also returning the comments after the last statement that belong to no statement
/// (on lines of their own at the end of the range).
pub fn split_keeping_trailing(
    source: &str,
    range: Range<usize>,
    delimiting: Delimiting,
) -> Result<(Vec<RawStatement>, Vec<Range<usize>>), Unterminated> {
    let b = source.as_bytes();
    let end = range.end;
    let mut i = range.start;
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut comments = Vec::new();
    // Start of a goose StatementBegin block, when inside one.
    let mut goose_block: Option<usize> = None;

    while i < end {
        let c = b[i];
        match c {
            b'-' if i + 1 < end && b[i + 1] == b'-' => {
                let line_end = comment_end(b, i, end);
                let text = &source[i + 2..line_end];
                if delimiting == Delimiting::Goose && is_goose(text, "StatementBegin") {
                    goose_block.get_or_insert(i);
                } else if delimiting == Delimiting::Goose && is_goose(text, "StatementEnd") {
                    if let Some(s) = goose_block.take() {
                        let s = start.take().unwrap_or(s);
                        let stmt_end = trim_end(b, s, i);
                        if stmt_end > s {
                            out.push(RawStatement {
                                range: s..stmt_end,
                                comments: std::mem::take(&mut comments),
                            });
                        }
                    }
                } else {
                    keep_comment(source, i..line_end, start, &mut out, &mut comments);
                }
                i = line_end;
            }
            b'/' if i + 1 < end && b[i + 1] == b'*' => {
                let comment_end = skip_block_comment(b, i, end)?;
                keep_comment(source, i..comment_end, start, &mut out, &mut comments);
                i = comment_end;
            }
            b'\'' => {
                start.get_or_insert(i);
                let escapes =
                    i > 0 && matches!(b[i - 1], b'E' | b'e') && !is_ident_byte_before(b, i - 1);
                i = skip_quoted(b, i, end, b'\'', escapes, "string literal")?;
            }
            b'"' => {
                start.get_or_insert(i);
                i = skip_quoted(b, i, end, b'"', false, "quoted identifier")?;
            }
            b'$' => {
                start.get_or_insert(i);
                match dollar_tag(b, i, end) {
                    Some(tag_end) => {
                        let tag = &b[i..tag_end];
                        i = find_tag(b, tag_end, end, tag).ok_or(Unterminated {
                            what: "dollar-quoted string",
                            at: i,
                        })?;
                    }
                    None => i += 1,
                }
            }
            // A psql meta-command (`\set`, `\i`, `\gexec` …) runs to the end of its line; it
            // ends the statement before it, as `\g` does.
            b'\\' if goose_block.is_none() => {
                // `\\` ends a meta-command early: SQL follows on the same line.
                let line_end = memchr_nl(b, i, end);
                let (line_end, next) = match source[i + 1..line_end].find("\\\\") {
                    Some(p) => (i + 1 + p, i + 1 + p + 2),
                    None => (line_end, line_end),
                };
                if let Some(s) = start.take() {
                    let stmt_end = trim_end(b, s, i);
                    out.push(RawStatement {
                        range: s..stmt_end,
                        comments: std::mem::take(&mut comments),
                    });
                }
                out.push(RawStatement {
                    range: i..trim_end(b, i, line_end),
                    comments: std::mem::take(&mut comments),
                });
                i = next;
            }
            b';' if goose_block.is_none() => {
                if let Some(s) = start.take() {
                    out.push(RawStatement {
                        range: s..i + 1,
                        comments: std::mem::take(&mut comments),
                    });
                }
                i += 1;
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                start.get_or_insert(i);
                // Skip a whole identifier at once so that `E'…'` detection sees the E.
                i += 1;
            }
        }
    }
    if let Some(s) = goose_block {
        return Err(Unterminated {
            what: "goose StatementBegin block",
            at: s,
        });
    }
    if let Some(s) = start {
        let stmt_end = trim_end(b, s, end);
        out.push(RawStatement {
            range: s..stmt_end,
            comments: std::mem::take(&mut comments),
        });
    }
    Ok((out, comments))
}

/// Files a comment: inside a statement, or before one on lines of its own, it waits in
/// `pending` for the statement to end; starting on the line where the previous statement ended,
/// it belongs to that statement.
fn keep_comment(
    source: &str,
    comment: Range<usize>,
    start: Option<usize>,
    out: &mut [RawStatement],
    pending: &mut Vec<Range<usize>>,
) {
    // After the statement's end, or after a comment already filed with it on its line.
    let on_its_last_line = |prev: &RawStatement| {
        let from = prev
            .comments
            .last()
            .map_or(prev.range.end, |c| c.end.max(prev.range.end));
        from <= comment.start && !source[from..comment.start].contains(['\n', '\r'])
    };
    if start.is_none()
        && pending.is_empty()
        && let Some(prev) = out.last_mut()
        && on_its_last_line(prev)
    {
        prev.comments.push(comment);
    } else {
        pending.push(comment);
    }
}

fn is_goose(comment: &str, word: &str) -> bool {
    comment
        .trim_start()
        .strip_prefix("+goose")
        .is_some_and(|rest| rest.trim().eq_ignore_ascii_case(word))
}

/// Where a `--` comment ends: PostgreSQL's lexer (and psql's) ends it at a carriage return as
/// well as at a line feed, so `-- note\rDROP TABLE t` runs the DROP.
fn comment_end(b: &[u8], from: usize, end: usize) -> usize {
    b[from..end]
        .iter()
        .position(|&c| c == b'\n' || c == b'\r')
        .map_or(end, |p| from + p)
}

fn memchr_nl(b: &[u8], from: usize, end: usize) -> usize {
    b[from..end]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(end, |p| from + p)
}

fn trim_end(b: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && b[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    end
}

/// Whether the byte before `at` continues an identifier (so `xE'…'` is not an E-string).
fn is_ident_byte_before(b: &[u8], at: usize) -> bool {
    at > 0 && (b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_' || b[at - 1] >= 0x80)
}

/// The end of the (nested) block comment opened at `at`.
pub(crate) fn skip_block_comment(b: &[u8], at: usize, end: usize) -> Result<usize, Unterminated> {
    let mut depth = 0usize;
    let mut i = at;
    while i + 1 < end {
        if b[i] == b'/' && b[i + 1] == b'*' {
            depth += 1;
            i += 2;
        } else if b[i] == b'*' && b[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return Ok(i);
            }
        } else {
            i += 1;
        }
    }
    Err(Unterminated {
        what: "block comment",
        at,
    })
}

fn skip_quoted(
    b: &[u8],
    at: usize,
    end: usize,
    q: u8,
    escapes: bool,
    what: &'static str,
) -> Result<usize, Unterminated> {
    let mut i = at + 1;
    while i < end {
        if escapes && b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == q {
            if i + 1 < end && b[i + 1] == q {
                i += 2;
                continue;
            }
            return Ok(i + 1);
        }
        i += 1;
    }
    Err(Unterminated { what, at })
}

/// If a dollar-quote tag (`$$` or `$tag$`) starts at `at`, returns the offset just past it.
/// `$1` (a parameter) and `a$b` (an identifier) are not tags.
fn dollar_tag(b: &[u8], at: usize, end: usize) -> Option<usize> {
    if is_ident_byte_before(b, at) {
        return None;
    }
    let mut i = at + 1;
    if i < end && b[i].is_ascii_digit() {
        return None;
    }
    while i < end && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80) {
        i += 1;
    }
    (i < end && b[i] == b'$').then_some(i + 1)
}

fn find_tag(b: &[u8], from: usize, end: usize, tag: &[u8]) -> Option<usize> {
    let hay = &b[from..end];
    hay.windows(tag.len())
        .position(|w| w == tag)
        .map(|p| from + p + tag.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str, d: Delimiting) -> Vec<&str> {
        split(sql, 0..sql.len(), d)
            .unwrap()
            .into_iter()
            .map(|s| &sql[s.range])
            .collect()
    }

    #[test]
    fn splits_on_semicolons_and_keeps_the_terminator() {
        assert_eq!(
            texts("SELECT 1;\n  SELECT 2 ;SELECT 3", Delimiting::Standard),
            ["SELECT 1;", "SELECT 2 ;", "SELECT 3"]
        );
    }

    #[test]
    fn ignores_semicolons_in_quotes_comments_and_dollar_quotes() {
        let sql = "SELECT ';', \"a;b\", E'\\';' ; -- x;y\n/* a /* nested; */ ; */ SELECT $f$ ; $$ ; $f$;\nDO $$ BEGIN NULL; END $$;";
        assert_eq!(
            texts(sql, Delimiting::Standard),
            [
                "SELECT ';', \"a;b\", E'\\';' ;",
                "/* a /* nested; */ ; */ SELECT $f$ ; $$ ; $f$;",
                "DO $$ BEGIN NULL; END $$;"
            ]
            .map(|s| s.trim_start_matches("/* a /* nested; */ ; */ "))
        );
    }

    /// PostgreSQL ends a `--` comment at a carriage return too: what follows it runs.
    #[test]
    fn a_carriage_return_ends_a_line_comment() {
        assert_eq!(
            texts("-- tidy up\rDROP TABLE accounts;\n", Delimiting::Standard),
            ["DROP TABLE accounts;"]
        );
        assert_eq!(
            texts(
                "ALTER TABLE a -- why\rDROP COLUMN b;\rSELECT 1;",
                Delimiting::Standard
            ),
            ["ALTER TABLE a -- why\rDROP COLUMN b;", "SELECT 1;"]
        );
    }

    #[test]
    fn doubled_quotes_and_parameters_are_not_terminators() {
        assert_eq!(
            texts("SELECT 'it''s;'; SELECT $1;", Delimiting::Standard),
            ["SELECT 'it''s;';", "SELECT $1;"]
        );
        assert_eq!(
            texts("SELECT a$b; SELECT 1", Delimiting::Standard),
            ["SELECT a$b;", "SELECT 1"]
        );
    }

    #[test]
    fn plain_string_backslash_is_not_an_escape() {
        assert_eq!(
            texts(r"SELECT 'a\'; SELECT 2;", Delimiting::Standard),
            [r"SELECT 'a\';", "SELECT 2;"]
        );
    }

    #[test]
    fn empty_statements_are_skipped_and_comments_collected() {
        let sql = ";;\n-- migsafe:ignore MS001 reason\nDROP TABLE t;";
        let st = split(sql, 0..sql.len(), Delimiting::Standard).unwrap();
        assert_eq!(st.len(), 1);
        assert_eq!(
            &sql[st[0].comments[0].clone()],
            "-- migsafe:ignore MS001 reason"
        );
    }

    /// A comment belongs to the statement it is in or whose last line it starts on; on lines
    /// of its own it belongs to the next statement; after the last statement, to none.
    #[test]
    fn comments_belong_to_their_statement() {
        let sql = "-- before a\nDROP TABLE a; -- after a\n\
                   /* own line\n spanning two */\n\
                   DROP /* inside b */ TABLE b; /* after b, /* nested */\n ends here */ -- also b\n\
                   DROP TABLE c /* inside c */;\n\
                   SELECT ';-- not a comment', $$ /* nor this */ $$; /* d */ SELECT 2;\n\
                   -- trailing\n/* trailing too */\n";
        let (st, trailing) =
            split_keeping_trailing(sql, 0..sql.len(), Delimiting::Standard).unwrap();
        let comments: Vec<Vec<&str>> = st
            .iter()
            .map(|s| s.comments.iter().map(|c| &sql[c.clone()]).collect())
            .collect();
        assert_eq!(
            comments,
            [
                vec!["-- before a", "-- after a"],
                vec![
                    "/* own line\n spanning two */",
                    "/* inside b */",
                    "/* after b, /* nested */\n ends here */",
                    "-- also b"
                ],
                vec!["/* inside c */"],
                vec!["/* d */"],
                vec![],
            ]
        );
        assert_eq!(
            trailing.iter().map(|c| &sql[c.clone()]).collect::<Vec<_>>(),
            ["-- trailing", "/* trailing too */"]
        );
    }

    #[test]
    fn goose_blocks_group_inner_semicolons() {
        let sql = "-- +goose StatementBegin\nCREATE FUNCTION f() RETURNS int AS 'SELECT 1; SELECT 2' LANGUAGE sql;\nSELECT 1;\n-- +goose StatementEnd\nSELECT 3;";
        assert_eq!(
            texts(sql, Delimiting::Goose),
            [
                "CREATE FUNCTION f() RETURNS int AS 'SELECT 1; SELECT 2' LANGUAGE sql;\nSELECT 1;",
                "SELECT 3;"
            ]
        );
    }

    #[test]
    fn unterminated_constructs_report_where_they_opened() {
        for (sql, what, at) in [
            ("SELECT 'abc", "string literal", 7),
            ("SELECT \"abc", "quoted identifier", 7),
            ("DO $body$ BEGIN", "dollar-quoted string", 3),
            ("/* /* */", "block comment", 0),
            ("SELECT E'\\'", "string literal", 8),
        ] {
            assert_eq!(
                split(sql, 0..sql.len(), Delimiting::Standard),
                Err(Unterminated { what, at }),
                "{sql}"
            );
        }
        let goose = "-- +goose StatementBegin\nSELECT 1;";
        assert_eq!(
            split(goose, 0..goose.len(), Delimiting::Goose)
                .unwrap_err()
                .what,
            "goose StatementBegin block"
        );
    }

    #[test]
    fn respects_the_section_range() {
        let sql = "SELECT 0;\nSELECT 1;\nSELECT 2;";
        let st = split(sql, 10..19, Delimiting::Standard).unwrap();
        assert_eq!(
            st.iter().map(|s| &sql[s.range.clone()]).collect::<Vec<_>>(),
            ["SELECT 1;"]
        );
    }
}
