//! Everything that reads SQL text: statement splitting with exact spans, parsing with
//! `sqlparser` (PostgreSQL dialect), the fallback recognizer for what sqlparser cannot read, and
//! the `-- migsafe:ignore` directives. The rest of migsafe sees only [`Statement`] and [`Op`].

mod ast;
pub mod builtins;
pub mod convert;
pub mod lines;
pub mod normalize;
pub mod op;
mod procedural;
mod psql;
mod recognize;
pub mod split;
pub mod tokens;
pub mod types;

use std::ops::Range;

use serde::Serialize;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

pub use lines::LineIndex;
pub use op::{
    Body, ColumnSpec, ConstraintKind, DefaultKind, FkAction, FkActions, ForeignKey, Name, Op,
};
pub use procedural::RUN_TIME;
pub use split::Unterminated;
pub use types::SqlType;

use crate::source::Script;

/// How migsafe understood a statement.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Understanding {
    /// sqlparser produced an AST.
    Parsed,
    /// sqlparser failed, but migsafe's recognizer knows the statement's form.
    Recognised,
    /// Neither: the statement's effect is unknown, and so is the migration's.
    Opaque { message: String },
}

/// A `migsafe:ignore` directive, or a comment that tries to be one (`-- migsafe:ignroe …`), in a
/// comment that belongs to a statement (see [`split`]). Which rules it names is for the rules
/// engine to read: `text` is what follows `migsafe:ignore`.
#[derive(Debug, Clone, PartialEq)]
pub struct Directive {
    /// The whole comment, `--` or `/*` … `*/` included.
    pub range: Range<usize>,
    /// What follows `migsafe:ignore` (rule IDs or names, then the reason), its blanks collapsed
    /// to single spaces (and the `*` that starts a line of a block comment dropped).
    pub text: String,
    /// Why the comment is not a well-formed directive, when it is not.
    pub malformed: Option<String>,
}

/// One statement of a script.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Statement {
    /// Byte range in the file.
    #[serde(skip)]
    pub range: Range<usize>,
    pub understanding: Understanding,
    /// Moved into the classifier's effects (which report them) once classified.
    #[serde(skip)]
    pub ops: Vec<Op>,
    #[serde(skip)]
    pub directives: Vec<Directive>,
}

impl Statement {
    pub fn is_opaque(&self) -> bool {
        matches!(self.understanding, Understanding::Opaque { .. })
    }
}

/// Splits and parses a script. Fails only when the text cannot be split (an unterminated
/// quote, dollar quote, comment or goose block); unparseable statements become opaque.
/// Also returns the directives after the last statement, which belong to no statement.
pub fn analyze(script: &Script) -> Result<(Vec<Statement>, Vec<Directive>), Unterminated> {
    let source = &*script.source;
    let (raws, trailing) =
        split::split_keeping_trailing(source, script.range.clone(), script.delimiting)?;
    let trailing = trailing
        .into_iter()
        .filter_map(|c| directive(source, c))
        .collect();
    // psql variables are set in file order: one pass before the statements are parsed apart.
    let mut vars = psql::Vars::default();
    let interpolate = source[script.range.clone()].contains(['\\', ':']);
    let raws: Vec<(split::RawStatement, psql::Prepared)> = raws
        .into_iter()
        .map(|raw| {
            let prepared = if interpolate {
                vars.prepare(&source[raw.range.clone()])
            } else {
                psql::Prepared::Same
            };
            (raw, prepared)
        })
        .collect();
    let one = |(raw, prepared): (split::RawStatement, psql::Prepared)| {
        let text = &source[raw.range.clone()];
        let directives = raw
            .comments
            .iter()
            .filter_map(|c| directive(source, c.clone()))
            .collect();
        let (understanding, ops) = match prepared {
            _ if text.starts_with('\\') => (Understanding::Recognised, psql::meta_ops(text)),
            psql::Prepared::Same => understand(text),
            psql::Prepared::Text(t) => understand(&t),
            psql::Prepared::Unset(message) => (Understanding::Opaque { message }, vec![]),
        };
        Statement {
            range: raw.range,
            understanding,
            ops,
            directives,
        }
    };
    // Parsing dominates on large files; statements are independent, so parse them on every
    // core. Small scripts (nearly all migrations) are not worth a thread.
    // `available_parallelism` reads cgroup files on Linux: asked only when it can matter (it
    // was a tenth of the time on a project of 700 small migrations).
    let threads = match raws.len() / PARALLEL_MIN {
        0 | 1 => 1,
        most => std::thread::available_parallelism().map_or(1, |n| n.get().min(most)),
    };
    if threads <= 1 {
        return Ok((raws.into_iter().map(one).collect(), trailing));
    }
    let chunk = raws.len().div_ceil(threads);
    let mut raws = raws.into_iter();
    let chunks: Vec<Vec<(split::RawStatement, psql::Prepared)>> = (0..threads)
        .map(|_| raws.by_ref().take(chunk).collect())
        .collect();
    let statements = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|c| scope.spawn(move || c.into_iter().map(one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    Ok((statements, trailing))
}

/// The ops migsafe's own recognizer finds in a statement sqlparser cannot read.
pub fn recognized_ops(text: &str) -> Option<Vec<Op>> {
    recognize::recognize(text)
}

/// The ops of one statement, as [`analyze`] reads them (for tests).
#[cfg(test)]
pub(crate) fn parse_ops(text: &str) -> Vec<Op> {
    understand(text).1
}

/// Below this many statements per thread, a script is parsed on one thread.
const PARALLEL_MIN: usize = 512;

fn understand(text: &str) -> (Understanding, Vec<Op>) {
    understand_at(text, 0)
}

/// The operations of one statement inside procedural code or dynamic SQL, `depth` levels down:
/// what cannot be parsed is unmodeled (unknown).
pub(crate) fn statement_ops(text: &str, depth: usize) -> Vec<Op> {
    match understand_at(text, depth) {
        (Understanding::Opaque { message }, _) => vec![Op::Unmodeled {
            what: format!("a statement migsafe cannot parse ({message})"),
        }],
        (_, ops) => ops,
    }
}

fn understand_at(text: &str, depth: usize) -> (Understanding, Vec<Op>) {
    let (understanding, mut ops) = parse(text);
    // Procedural code is read by migsafe's own reader: DO blocks, routine bodies, triggers.
    for op in &mut ops {
        match op {
            Op::CreateFunction { .. } => {
                if let Some(read) = procedural::create_routine(text, depth) {
                    *op = read;
                }
            }
            Op::CreateTrigger { function: None, .. } => {
                if let Some(read) = procedural::create_trigger(text) {
                    *op = read;
                }
            }
            _ => {}
        }
    }
    if ops == [Op::DoBlock]
        && let Some(body) = procedural::do_block(text, depth)
    {
        // A body that does nothing worth an operation still ran: say so.
        ops = if body.is_empty() {
            vec![Op::Select]
        } else {
            body
        };
    }
    (understanding, ops)
}

fn parse(text: &str) -> (Understanding, Vec<Op>) {
    // Transaction control, session settings, comments and ANALYZE carry nothing an AST adds,
    // and they are a large share of real migration files (sqitch and psql scripts wrap every
    // change in BEGIN/COMMIT): read them directly instead of building an AST.
    if keyword_only(text)
        && let Some(ops) = recognize::recognize(text)
    {
        return (Understanding::Recognised, ops);
    }
    match Parser::parse_sql(&PostgreSqlDialect {}, text) {
        Ok(stmts) if stmts.len() == 1 => {
            let ops = ast::ops(&stmts[0]);
            // sqlparser parses some statements into forms too coarse for us; let the recognizer
            // have a go at those before declaring them unmodeled.
            if ops.iter().any(|o| matches!(o, Op::Unmodeled { .. }))
                && let Some(better) = recognize::recognize(text)
            {
                return (Understanding::Recognised, better);
            }
            (Understanding::Parsed, with_calls(ops, &stmts[0]))
        }
        // A goose StatementBegin/End block may hold several statements.
        Ok(stmts) if !stmts.is_empty() => (
            Understanding::Parsed,
            stmts
                .iter()
                .flat_map(|s| with_calls(ast::ops(s), s))
                .collect(),
        ),
        Ok(_) => (
            Understanding::Opaque {
                message: "no statement found".into(),
            },
            vec![],
        ),
        // sqlparser does not read `CREATE MATERIALIZED VIEW … WITH [NO] DATA`: the query is
        // what matters (its calls), so read it without that clause.
        Err(_) if let Some(query) = without_data_clause(text) => parse(&query),
        Err(e) => match recognize::recognize(text) {
            Some(ops) => (Understanding::Recognised, ops),
            None => (
                Understanding::Opaque {
                    message: parser_message(&e.to_string()),
                },
                vec![],
            ),
        },
    }
}

/// `CREATE MATERIALIZED VIEW … WITH [NO] DATA` without its last clause.
fn without_data_clause(text: &str) -> Option<String> {
    let t = text.trim_end().trim_end_matches(';').trim_end();
    let lower = t.to_ascii_lowercase();
    if !lower.starts_with("create materialized view") {
        return None;
    }
    ["with no data", "with data"]
        .iter()
        .find(|s| lower.ends_with(*s))
        .map(|s| t[..t.len() - s.len()].to_string())
}

/// A statement's operations followed by the functions it runs; a plain read that runs a
/// function is that function's effect alone.
fn with_calls(mut ops: Vec<Op>, stmt: &sqlparser::ast::Statement) -> Vec<Op> {
    let calls = ast::calls(stmt);
    if !calls.is_empty() && ops == [Op::Select] {
        ops.clear();
    }
    for c in calls {
        if !ops.contains(&c) {
            ops.push(c);
        }
    }
    ops
}

fn keyword_only(text: &str) -> bool {
    let word: String = text
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    [
        "begin",
        "commit",
        "end",
        "rollback",
        "abort",
        "savepoint",
        "release",
        "set",
        "reset",
        "start",
        "comment",
        "analyze",
        "analyse",
    ]
    .iter()
    .any(|w| word.eq_ignore_ascii_case(w))
}

/// sqlparser's messages carry its own line/column relative to the statement; the report gives
/// the statement's location, so keep only the message.
fn parser_message(msg: &str) -> String {
    let msg = msg.strip_prefix("sql parser error: ").unwrap_or(msg);
    match msg.find(" at Line: ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Reads a comment (`-- …` or `/* … */`, markers included) that starts with `migsafe:`: a
/// `migsafe:ignore` directive, any case, blanks allowed around the colon. `migsafe:` followed
/// by another word, and `migsafe ignore` / `migsafe-ignore` without the colon, are malformed
/// directives, so that a misspelt one is reported instead of doing nothing.
fn directive(source: &str, comment: Range<usize>) -> Option<Directive> {
    let raw = &source[comment.clone()];
    let (body, block) = match raw.strip_prefix("/*") {
        Some(b) => (b.strip_suffix("*/").unwrap_or(b), true),
        None => (raw.strip_prefix("--").unwrap_or(raw), false),
    };
    let body = body.trim_start();
    // `/*` then a line that starts with ` * `, or `/**`.
    let body = match block {
        true => body.trim_start_matches('*').trim_start(),
        false => body,
    };
    let after = body
        .get(..7)
        .filter(|w| w.eq_ignore_ascii_case("migsafe"))
        .map(|_| &body[7..])?;
    let blank = |s: &str| s.trim_start_matches([' ', '\t']).to_owned();
    let unblanked = blank(after);
    let (colon, rest) = if let Some(r) = unblanked.strip_prefix(':') {
        (true, blank(r))
    } else if unblanked.len() < after.len() {
        (false, unblanked.clone())
    } else if let Some(r) = after.strip_prefix(['-', '_']) {
        (false, r.to_owned())
    } else {
        return None;
    };
    let (word, tail) = rest.split_at(
        rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(rest.len()),
    );
    let ignore = word.eq_ignore_ascii_case("ignore");
    let malformed = if !colon {
        if !ignore {
            return None;
        }
        Some(format!(
            "`migsafe{}` is not the directive: write `migsafe:ignore` (with a colon)",
            &after[..after.len() - tail.len()]
        ))
    } else if word.is_empty() {
        Some(
            "`migsafe:` names no directive: write `migsafe:ignore <rule IDs> <reason>`".to_string(),
        )
    } else if !ignore {
        Some(format!(
            "`migsafe:{word}` is not a directive: the one directive is `migsafe:ignore`"
        ))
    } else if !(tail.is_empty() || tail.starts_with(char::is_whitespace) || tail.starts_with(',')) {
        Some("`migsafe:ignore` must be followed by a blank and the rule IDs".to_string())
    } else {
        None
    };
    let text = tail
        .lines()
        .map(|l| {
            let l = l.trim_start();
            if block {
                l.strip_prefix('*').unwrap_or(l)
            } else {
                l
            }
        })
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ");
    Some(Directive {
        range: comment,
        text,
        malformed,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::source::{Delimiting, ExecMode};

    /// `USING col::ty` and `USING CAST(col AS ty)` are the conversion without `USING`; any
    /// other expression is not. Both readers (sqlparser's AST and the recognizer) agree.
    #[test]
    fn a_using_that_casts_the_column_to_the_new_type_is_told_apart() {
        let cases = [
            (
                "ALTER TABLE t ALTER COLUMN status TYPE text USING status::text",
                true,
            ),
            (
                "ALTER TABLE t ALTER COLUMN status TYPE text USING (status::text)",
                true,
            ),
            (
                "ALTER TABLE t ALTER COLUMN \"Status\" TYPE text USING \"Status\"::text",
                true,
            ),
            (
                "ALTER TABLE t ALTER COLUMN status TYPE text USING \"status\"::text",
                true,
            ),
            (
                "ALTER TABLE t ALTER COLUMN Status TYPE TEXT USING status::TEXT",
                true,
            ),
            (
                "ALTER TABLE t ALTER COLUMN n TYPE numeric(10,2) USING CAST(n AS numeric(10, 2))",
                true,
            ),
            (
                "ALTER TABLE t ALTER COLUMN n TYPE varchar(20) USING n::character varying(20)",
                true,
            ),
            (
                "ALTER TABLE t ALTER COLUMN n TYPE bigint USING n::int",
                false,
            ),
            (
                "ALTER TABLE t ALTER COLUMN n TYPE bigint USING m::bigint",
                false,
            ),
            (
                "ALTER TABLE t ALTER COLUMN n TYPE bigint USING n::bigint + 1",
                false,
            ),
            (
                "ALTER TABLE t ALTER COLUMN n TYPE text USING lower(n::text)",
                false,
            ),
            (
                "ALTER TABLE t ALTER COLUMN \"N\" TYPE text USING n::text",
                false,
            ),
            ("ALTER TABLE t ALTER COLUMN n TYPE bigint", false),
        ];
        for (sql, cast) in cases {
            let from_ast = parse_ops(sql);
            let from_recognizer = recognize::recognize(sql).unwrap_or_default();
            for (how, ops) in [("ast", from_ast), ("recognizer", from_recognizer)] {
                let [
                    Op::AlterColumnType {
                        using, using_cast, ..
                    },
                ] = &ops[..]
                else {
                    panic!("{how}: {sql}: {ops:?}");
                };
                assert_eq!(*using_cast, cast, "{how}: {sql}");
                assert_eq!(*using, sql.contains("USING"), "{how}: {sql}");
            }
        }
    }

    /// Random concatenations of the fragments that make splitting and recognising hard must
    /// never panic: they either split (and every statement is parsed, recognised or opaque) or
    /// report where an unterminated construct opened.
    #[test]
    fn arbitrary_fragment_soup_never_panics() {
        const FRAGMENTS: &[&str] = &[
            "'",
            "\"",
            "$$",
            "$a$",
            "E'\\'",
            "--",
            "/*",
            "*/",
            ";",
            "\n",
            "é",
            "€",
            "ALTER TABLE ",
            "t ",
            "DROP ",
            "COLUMN ",
            "(",
            ")",
            ",",
            "CREATE INDEX CONCURRENTLY ",
            "DO ",
            "-- +goose StatementBegin\n",
            "-- +goose StatementEnd\n",
            "-- migsafe:ignore MS001\n",
            "\\",
            "$1",
            "x$y",
            "0.5",
            "TYPE varchar(",
            ".",
        ];
        let mut seed: u64 = 0x9e3779b97f4a7c15;
        for _ in 0..3000 {
            let mut sql = String::new();
            for _ in 0..(seed % 24) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                sql.push_str(FRAGMENTS[(seed % FRAGMENTS.len() as u64) as usize]);
            }
            for delimiting in [Delimiting::Standard, Delimiting::Goose] {
                let script = Script {
                    path: "fuzz.sql".into(),
                    source: Arc::from(sql.as_str()),
                    range: 0..sql.len(),
                    mode: ExecMode::WrappedTx,
                    delimiting,
                    folded: Vec::new(),
                };
                if let Ok((stmts, _)) = analyze(&script) {
                    for s in stmts {
                        assert!(
                            sql.is_char_boundary(s.range.start)
                                && sql.is_char_boundary(s.range.end)
                        );
                    }
                }
            }
        }
    }

    /// A psql meta-command ends at its line end: it does not swallow the statement after it,
    /// and the variables it sets are substituted.
    #[test]
    fn psql_meta_commands_are_statements_of_their_own() {
        let sql = "\\set schema app\nSET search_path = :schema, public;\n\\i more.sql\nDROP TABLE :other;";
        let script = Script {
            path: "m.sql".into(),
            source: Arc::from(sql),
            range: 0..sql.len(),
            mode: ExecMode::WrappedTx,
            delimiting: Delimiting::Standard,
            folded: Vec::new(),
        };
        let (st, _) = analyze(&script).unwrap();
        let texts: Vec<&str> = st.iter().map(|s| &sql[s.range.clone()]).collect();
        assert_eq!(
            texts,
            [
                "\\set schema app",
                "SET search_path = :schema, public;",
                "\\i more.sql",
                "DROP TABLE :other;"
            ]
        );
        assert!(
            matches!(&st[1].ops[..], [Op::SetVar { name, value, .. }] if name == "search_path" && value.contains("app"))
        );
        assert!(matches!(&st[2].ops[..], [Op::Unmodeled { .. }]));
        assert!(
            matches!(&st[3].understanding, Understanding::Opaque { message } if message.contains(":other"))
        );
    }

    fn analyze_text(sql: &str) -> (Vec<Statement>, Vec<Directive>) {
        let script = Script {
            path: "m.sql".into(),
            source: Arc::from(sql),
            range: 0..sql.len(),
            mode: ExecMode::WrappedTx,
            delimiting: Delimiting::Standard,
            folded: Vec::new(),
        };
        analyze(&script).unwrap()
    }

    /// Every spelling people write is read as a directive (its text is what follows
    /// `migsafe:ignore`); near-misses are malformed, not silently ignored.
    #[test]
    fn directive_forms() {
        for (comment, text, malformed) in [
            ("-- migsafe:ignore MS001 reason", "MS001 reason", None),
            ("--migsafe:ignore MS001 reason", "MS001 reason", None),
            ("-- MIGSAFE:IGNORE MS001 reason", "MS001 reason", None),
            ("-- MigSafe:Ignore ms001 reason", "ms001 reason", None),
            ("-- migsafe: ignore MS001 reason", "MS001 reason", None),
            ("-- migsafe :ignore MS001 reason", "MS001 reason", None),
            (
                "-- migsafe:ignore\tMS001,MS125   the  reason",
                "MS001,MS125 the reason",
                None,
            ),
            ("/* migsafe:ignore MS001 reason */", "MS001 reason", None),
            ("/*migsafe:ignore MS001 reason*/", "MS001 reason", None),
            (
                "/*\n * migsafe:ignore MS001\n * a reason\n * on two lines\n */",
                "MS001 a reason on two lines",
                None,
            ),
            (
                "/* migsafe:ignore MS001 reason /* nested */ */",
                "MS001 reason /* nested */",
                None,
            ),
            ("-- migsafe:ignore", "", None),
            ("-- migsafe:ignore,MS001 reason", ",MS001 reason", None),
            (
                "-- migsafe:ignorefoo MS001 reason",
                "MS001 reason",
                Some("`migsafe:ignorefoo` is not a directive"),
            ),
            (
                "-- migsafe:ignroe MS001 reason",
                "MS001 reason",
                Some("`migsafe:ignroe` is not a directive"),
            ),
            (
                "-- migsafe:ignore-next-line MS001",
                "MS001",
                Some("`migsafe:ignore-next-line` is not"),
            ),
            (
                "-- migsafe:ignore:MS001 reason",
                ":MS001 reason",
                Some("must be followed by a blank"),
            ),
            ("-- migsafe:", "", Some("`migsafe:` names no directive")),
            (
                "-- migsafe ignore MS001 reason",
                "MS001 reason",
                Some("`migsafe ignore` is not the directive"),
            ),
            (
                "-- migsafe-ignore MS001 reason",
                "MS001 reason",
                Some("`migsafe-ignore` is not the directive"),
            ),
            (
                "/* MIGSAFE_IGNORE MS001 reason */",
                "MS001 reason",
                Some("`migsafe_ignore` is not the directive"),
            ),
        ] {
            let sql = format!("{comment}\nDROP TABLE t;");
            let (st, trailing) = analyze_text(&sql);
            assert!(trailing.is_empty());
            let [d] = &st[0].directives[..] else {
                panic!("{comment}: {:?}", st[0].directives)
            };
            assert_eq!(d.text, text, "{comment}");
            assert_eq!(&sql[d.range.clone()], comment, "{comment}");
            match (malformed, &d.malformed) {
                (None, None) => {}
                (Some(want), Some(got)) => {
                    assert!(
                        got.to_lowercase().contains(&want.to_lowercase()),
                        "{comment}: {got}"
                    )
                }
                (want, got) => panic!("{comment}: wanted {want:?}, got {got:?}"),
            }
        }
    }

    /// Comments that only mention migsafe, and directive text inside strings, dollar quotes and
    /// other comments, are not directives.
    #[test]
    fn not_directives() {
        let sql = "-- migsafe's checks ran\n-- see migsafe:ignore in the docs\n-- migsafeignore MS001 x\n\
                   -- migsafe ignored this\n/* outer /* migsafe:ignore MS001 nested */ */\n\
                   SELECT '-- migsafe:ignore MS001 in a string', $$ -- migsafe:ignore MS001 in a body\n$$, \
                   $f$ /* migsafe:ignore MS001 */ $f$, E'\\' -- migsafe:ignore MS001 escaped', \
                   \"-- migsafe:ignore MS001 ident\";\n";
        let (st, trailing) = analyze_text(sql);
        assert_eq!(st.len(), 1);
        assert!(st[0].directives.is_empty(), "{:?}", st[0].directives);
        assert!(trailing.is_empty());
    }

    /// A directive belongs to the statement it trails or is inside, else to the next one;
    /// after the last statement, to none.
    #[test]
    fn directives_attach_to_their_statement() {
        let sql = "-- migsafe:ignore MS001 before a\nDROP TABLE a; -- migsafe:ignore MS001 after a\n\
                   DROP TABLE b; /* migsafe:ignore MS001 after b */\n\
                   ALTER TABLE c -- migsafe:ignore MS002 inside c\n  DROP COLUMN x;\n\
                   -- migsafe:ignore MS001 at the end\n";
        let (st, trailing) = analyze_text(sql);
        let texts: Vec<Vec<&str>> = st
            .iter()
            .map(|s| s.directives.iter().map(|d| d.text.as_str()).collect())
            .collect();
        assert_eq!(
            texts,
            [
                vec!["MS001 before a", "MS001 after a"],
                vec!["MS001 after b"],
                vec!["MS002 inside c"],
            ]
        );
        assert_eq!(trailing.len(), 1);
        assert_eq!(trailing[0].text, "MS001 at the end");
    }
}
#[cfg(test)]
mod sequence_reset_tests {
    use super::Op;

    /// Every form that hands out ids again is a sequence reset, whatever its spelling.
    #[test]
    fn identity_restart_and_quoted_setval_reset_a_sequence() {
        for (sql, name) in [
            (
                "ALTER TABLE accounts ALTER COLUMN id RESTART WITH 1",
                "accounts.id",
            ),
            (
                "ALTER TABLE accounts ALTER COLUMN id RESTART",
                "accounts.id",
            ),
            ("SELECT \"setval\"('accounts_id_seq', 1)", "accounts_id_seq"),
            (
                "SELECT pg_catalog.setval('accounts_id_seq', 1)",
                "accounts_id_seq",
            ),
            ("SELECT setval('accounts_id_seq', 1)", "accounts_id_seq"),
        ] {
            assert_eq!(
                super::understand(sql).1,
                vec![Op::AlterSequence {
                    name: name.into(),
                    restart: true
                }],
                "{sql}"
            );
        }
    }

    /// A CREATE TABLE … AS whose query deletes rows deletes them.
    #[test]
    fn create_table_as_keeps_the_writes_of_its_query() {
        let ops = super::understand(
            "CREATE TABLE archive AS WITH d AS (DELETE FROM accounts WHERE id < 10 RETURNING *) SELECT * FROM d",
        )
        .1;
        assert_eq!(
            ops,
            vec![
                Op::Delete {
                    table: "accounts".into(),
                    has_where: true
                },
                Op::CreateTableAs {
                    table: "archive".into()
                }
            ]
        );
    }

    /// MERGE branches are read: DELETE and UPDATE destroy, INSERT alone adds.
    #[test]
    fn merge_branches_are_classified() {
        let ops = |sql: &str| super::understand(sql).1;
        assert_eq!(
            ops(
                "MERGE INTO accounts a USING staging s ON a.id = s.id WHEN MATCHED AND s.gone THEN DELETE WHEN MATCHED THEN UPDATE SET plan = s.plan WHEN NOT MATCHED THEN INSERT (id, plan) VALUES (s.id, s.plan)"
            ),
            vec![
                Op::Delete {
                    table: "accounts".into(),
                    has_where: true
                },
                Op::Update {
                    table: "accounts".into(),
                    has_where: true,
                    columns: vec!["plan".into()]
                },
                Op::Insert {
                    table: "accounts".into()
                },
            ]
        );
        assert_eq!(
            ops(
                "MERGE INTO accounts a USING staging s ON a.id = s.id WHEN NOT MATCHED THEN INSERT (id, plan) VALUES (s.id, s.plan)"
            ),
            vec![Op::Insert {
                table: "accounts".into()
            }]
        );
    }
}
