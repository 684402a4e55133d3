//! Procedural code: `DO` blocks, `CREATE FUNCTION`/`PROCEDURE` (language, volatility and body)
//! and `CREATE TRIGGER` (events and function).
//!
//! sqlparser does not parse PL/pgSQL, so a body is split into statements with migsafe's own
//! splitter, its control flow (`IF … THEN`, loops, blocks, exception handlers) is stripped, and
//! the SQL statements inside are parsed like top-level ones. A branch counts as taken: what any
//! path may do, the body does. `EXECUTE` of a literal, of `format()` with a literal format, or of
//! a concatenation that starts with a literal is read from that text, with [`RUN_TIME`] standing
//! for the parts computed at run time; any other `EXECUTE` is unknown.

use std::ops::Range;

use super::op::{Body, Name, Op};
use super::split;
use super::tokens::{Tok, tokenize_spans};
use crate::source::Delimiting;

/// Stands for an object named by a value computed at run time in dynamic SQL (a quoted
/// identifier, so that the statement around it still parses).
pub const RUN_TIME: &str = "<named at run time>";

/// Procedural code inside procedural code (a `DO` block in an `EXECUTE` …) is read this deep.
const MAX_DEPTH: usize = 4;

type Spanned = (Tok, Range<usize>);

fn unmodeled(what: impl Into<String>) -> Op {
    Op::Unmodeled { what: what.into() }
}

/// The text of a string constant token: a dollar quote's body as is, a quoted string with its
/// doubled quotes (and, for `E''`, backslash escapes) undone.
fn literal(text: &str, (tok, span): &Spanned) -> String {
    let Tok::Str(s) = tok else {
        return String::new();
    };
    let raw = &text[span.clone()];
    if raw.starts_with('$') {
        s.clone()
    } else if raw.starts_with(['e', 'E']) {
        unescape(s)
    } else {
        s.replace("''", "'")
    }
}

fn word(t: Option<&Spanned>) -> Option<&str> {
    match t {
        Some((
            Tok::Word {
                text,
                quoted: false,
            },
            _,
        )) => Some(text),
        _ => None,
    }
}

/// An `E''` string's backslash escapes, decoded as PostgreSQL does (`\n`, `\t`, octal, hex,
/// Unicode), so that a `\n` ends a `--` comment in the text it builds.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' if chars.peek() == Some(&'\'') => {
                chars.next();
                out.push('\'');
            }
            '\\' => {
                let Some(e) = chars.next() else { break };
                let mut number = |radix: u32, max: usize, first: Option<char>| {
                    let mut digits: String = first.into_iter().collect();
                    while digits.len() < max && chars.peek().is_some_and(|d| d.is_digit(radix)) {
                        digits.extend(chars.next());
                    }
                    u32::from_str_radix(&digits, radix)
                        .ok()
                        .and_then(char::from_u32)
                        .unwrap_or('?')
                };
                out.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    '0'..='7' => number(8, 3, Some(e)),
                    'x' => number(16, 2, None),
                    'u' => number(16, 4, None),
                    'U' => number(16, 8, None),
                    other => other,
                });
            }
            other => out.push(other),
        }
    }
    out
}

/// A possibly qualified name starting at `toks[*i]`, folded as PostgreSQL does.
fn name_at(toks: &[Spanned], i: &mut usize) -> Option<Name> {
    let mut parts = vec![];
    while let Some((Tok::Word { text, .. }, _)) = toks.get(*i) {
        parts.push(text.clone());
        *i += 1;
        if toks.get(*i).map(|t| &t.0) != Some(&Tok::Sym('.')) {
            break;
        }
        *i += 1;
    }
    (!parts.is_empty()).then(|| parts.join("."))
}

/// `DO [LANGUAGE l] 'body' [LANGUAGE l]` → the operations of its body.
pub fn do_block(text: &str, depth: usize) -> Option<Vec<Op>> {
    let toks = tokenize_spans(text);
    if word(toks.first()) != Some("do") {
        return None;
    }
    let (mut body, mut language) = (None, "plpgsql".to_string());
    let mut i = 1;
    while i < toks.len() {
        match &toks[i].0 {
            Tok::Str(_) => body = Some(literal(text, &toks[i])),
            Tok::Word { text: w, .. } if w == "language" => {
                i += 1;
                language = match toks.get(i) {
                    Some((Tok::Word { text, .. }, _)) => text.to_lowercase(),
                    Some(t @ (Tok::Str(_), _)) => literal(text, t).to_lowercase(),
                    _ => return Some(vec![unmodeled("DO block")]),
                };
            }
            Tok::Sym(';') => {}
            _ => return Some(vec![unmodeled("DO block")]),
        }
        i += 1;
    }
    let Some(body) = body else {
        return Some(vec![unmodeled("DO block")]);
    };
    if language != "plpgsql" {
        return Some(vec![unmodeled(format!("DO block in {language}"))]);
    }
    Some(plpgsql(&body, depth + 1))
}

/// `CREATE [OR REPLACE] FUNCTION|PROCEDURE name (…) … AS 'body' | RETURN … | BEGIN ATOMIC … END`
/// → a `CreateFunction` whose body says what a call does.
pub fn create_routine(text: &str, depth: usize) -> Option<Op> {
    let toks = tokenize_spans(text);
    let mut i = 0;
    if word(toks.get(i)) != Some("create") {
        return None;
    }
    i += 1;
    if word(toks.get(i)) == Some("or") && word(toks.get(i + 1)) == Some("replace") {
        i += 2;
    }
    let kind = word(toks.get(i)).filter(|k| matches!(*k, "function" | "procedure"))?;
    let kind = kind.to_string();
    i += 1;
    let name = name_at(&toks, &mut i)?;
    // The argument list.
    let mut depth_parens = 0;
    while let Some((t, _)) = toks.get(i) {
        match t {
            Tok::Sym('(') => depth_parens += 1,
            Tok::Sym(')') => depth_parens -= 1,
            _ => {}
        }
        i += 1;
        if depth_parens == 0 {
            break;
        }
    }
    let (mut language, mut body, mut standard) = (None, None, None);
    let mut parens = 0;
    while i < toks.len() {
        let (t, span) = &toks[i];
        match t {
            Tok::Sym('(') => parens += 1,
            Tok::Sym(')') => parens -= 1,
            Tok::Word {
                text: w,
                quoted: false,
            } if parens == 0 => match w.as_str() {
                "language" => {
                    language = match toks.get(i + 1) {
                        Some((Tok::Word { text, .. }, _)) => Some(text.to_lowercase()),
                        Some(t @ (Tok::Str(_), _)) => Some(literal(text, t).to_lowercase()),
                        _ => None,
                    };
                    i += 1;
                }
                "as" => {
                    if let Some(t @ (Tok::Str(_), _)) = toks.get(i + 1) {
                        body = Some(literal(text, t));
                        i += 1;
                        // `AS 'obj_file', 'link_symbol'`: C.
                        if toks.get(i + 1).map(|t| &t.0) == Some(&Tok::Sym(',')) {
                            language.get_or_insert_with(|| "c".into());
                        }
                    }
                }
                // SQL-standard bodies run as SQL; their text is the rest of the statement.
                "return" => {
                    standard = Some(format!("SELECT {}", &text[span.end..]));
                    break;
                }
                "begin" if word(toks.get(i + 1)) == Some("atomic") => {
                    let inner = &text[toks[i + 1].1.end..];
                    let inner = inner.trim_end().trim_end_matches(';').trim_end();
                    let inner = inner
                        .strip_suffix("END")
                        .or_else(|| inner.strip_suffix("end"))
                        .unwrap_or(inner);
                    standard = Some(inner.to_string());
                    break;
                }
                _ => {}
            },
            _ => {}
        }
        i += 1;
    }
    let language = language.unwrap_or_else(|| "sql".into());
    // IMMUTABLE and STABLE are not trusted: such a function may call a volatile one that
    // writes. The body says what a call does.
    let body = match (standard, body, language.as_str()) {
        (Some(sql), _, _) => Body::Ops(sql_ops(&sql, depth + 1)),
        (None, Some(sql), "sql") => Body::Ops(sql_ops(&sql, depth + 1)),
        (None, Some(code), "plpgsql") => Body::Ops(plpgsql(&code, depth + 1)),
        (None, None, _) => Body::Unreadable("its body was not found".into()),
        (None, Some(_), other) => Body::Unreadable(format!("it is written in {other}")),
    };
    Some(Op::CreateFunction { name, kind, body })
}

/// `CREATE [OR REPLACE] [CONSTRAINT] TRIGGER … {BEFORE|AFTER|INSTEAD OF} events ON table …
/// EXECUTE {FUNCTION|PROCEDURE} f(…)`.
pub fn create_trigger(text: &str) -> Option<Op> {
    let toks = tokenize_spans(text);
    let words: Vec<Option<&str>> = toks.iter().map(|t| word(Some(t))).collect();
    let at = |w: &str| words.iter().position(|x| *x == Some(w));
    let trigger = at("trigger")?;
    if words.first() != Some(&Some("create")) || trigger > 5 {
        return None;
    }
    let on = trigger + words[trigger..].iter().position(|x| *x == Some("on"))?;
    let events: Vec<String> = words[trigger..on]
        .iter()
        .flatten()
        .filter(|w| matches!(**w, "insert" | "update" | "delete" | "truncate"))
        .map(|w| w.to_string())
        .collect();
    let mut i = on + 1;
    let table = name_at(&toks, &mut i)?;
    let exec = words.iter().rposition(|x| *x == Some("execute"));
    let function = exec.and_then(|e| {
        let mut j = e + 2;
        name_at(&toks, &mut j)
    });
    Some(Op::CreateTrigger {
        table,
        function,
        events,
    })
}

/// The operations of SQL text (a SQL function's body, an `EXECUTE`d string): its statements,
/// each read as a top-level statement.
pub fn sql_ops(sql: &str, depth: usize) -> Vec<Op> {
    if depth > MAX_DEPTH {
        return vec![unmodeled("procedural code nested too deeply")];
    }
    let Ok(raws) = split::split(sql, 0..sql.len(), Delimiting::Standard) else {
        return vec![unmodeled("SQL text with an unterminated quote")];
    };
    // Reads change nothing: only what writes or is unknown is kept.
    raws.into_iter()
        .flat_map(|raw| super::statement_ops(&sql[raw.range], depth))
        .filter(|o| !matches!(o, Op::Select))
        .collect()
}

/// The operations of a PL/pgSQL body.
pub fn plpgsql(body: &str, depth: usize) -> Vec<Op> {
    if depth > MAX_DEPTH {
        return vec![unmodeled("procedural code nested too deeply")];
    }
    let Ok(raws) = split::split(body, 0..body.len(), Delimiting::Standard) else {
        return vec![unmodeled("PL/pgSQL body with an unterminated quote")];
    };
    let mut ops = vec![];
    let mut declaring = false;
    for raw in raws {
        let text = body[raw.range].trim_end_matches(';');
        piece(text, depth, &mut declaring, &mut ops);
    }
    ops.retain(|o| !matches!(o, Op::Select));
    ops
}

/// Reads one `;`-terminated piece of a PL/pgSQL body: control-flow words at its start are
/// stripped (their conditions are expressions, read as `SELECT cond`), the rest is a statement.
fn piece(text: &str, depth: usize, declaring: &mut bool, ops: &mut Vec<Op>) {
    let toks = tokenize_spans(text);
    let mut i = 0;
    let expr = |from: usize, to: usize, ops: &mut Vec<Op>| {
        if let (Some(a), Some(b)) = (toks.get(from), toks.get(to.saturating_sub(1)))
            && from < to
        {
            select(&text[a.1.start..b.1.end], depth, ops);
        }
    };
    loop {
        // `<<label>>`
        if toks.get(i).map(|t| &t.0) == Some(&Tok::Sym('<'))
            && toks.get(i + 1).map(|t| &t.0) == Some(&Tok::Sym('<'))
        {
            i = toks[i..]
                .windows(2)
                .position(|w| w[0].0 == Tok::Sym('>') && w[1].0 == Tok::Sym('>'))
                .map_or(toks.len(), |p| i + p + 2);
            continue;
        }
        match word(toks.get(i)) {
            Some("declare") => {
                *declaring = true;
                i += 1;
            }
            Some("begin") => {
                *declaring = false;
                i += 1;
            }
            Some("end") => return,
            Some("else" | "loop") => i += 1,
            Some("exception") => i += 1,
            Some(kw @ ("if" | "elsif" | "elseif" | "while" | "when")) => {
                let until = if kw == "while" { "loop" } else { "then" };
                let Some(end) = find_word(&toks, i + 1, until) else {
                    ops.push(unmodeled(format!(
                        "PL/pgSQL {} without {until}",
                        kw.to_uppercase()
                    )));
                    return;
                };
                // Exception names (`WHEN unique_violation`, `SQLSTATE '23505'`) are no
                // expressions: a condition is read when it may call something.
                let calls = toks[i + 1..end].iter().any(|t| t.0 == Tok::Sym('('));
                if kw != "when" || calls {
                    expr(i + 1, end, ops);
                }
                i = end + 1;
            }
            Some("case") => {
                let Some(when) = find_word(&toks, i + 1, "when") else {
                    return;
                };
                expr(i + 1, when, ops);
                i = when;
            }
            Some("for" | "foreach") => {
                let Some(lp) = find_word(&toks, i + 1, "loop") else {
                    ops.push(unmodeled("PL/pgSQL FOR without LOOP"));
                    return;
                };
                if let Some(inn) = find_word(&toks, i + 1, "in").filter(|n| *n < lp) {
                    let (mut start, stop) = (inn + 1, lp);
                    if matches!(word(toks.get(start)), Some("array" | "reverse")) {
                        start += 1;
                    }
                    if let (Some(a), Some(b)) = (toks.get(start), toks.get(stop - 1))
                        && start < stop
                    {
                        let source = &text[a.1.start..b.1.end];
                        match (word(toks.get(start)), &toks[start].0) {
                            (Some("execute"), _) => {
                                ops.extend(execute(&text[a.1.end..b.1.end], depth))
                            }
                            (
                                Some(
                                    "select" | "with" | "values" | "insert" | "update" | "delete"
                                    | "merge" | "table",
                                ),
                                _,
                            )
                            | (_, Tok::Sym('(')) => ops.extend(sql_ops(source, depth)),
                            // `lower .. upper [BY step]`, an array, or a cursor's arguments:
                            // expressions that may call something.
                            _ => {
                                for part in source.split("..") {
                                    let part = part.split(" by ").next().unwrap_or(part);
                                    select(part, depth, ops);
                                }
                            }
                        }
                    }
                }
                i = lp + 1;
            }
            _ => break,
        }
    }
    let Some(first) = toks.get(i) else { return };
    let rest = &text[first.1.start..];
    if *declaring {
        // `name [CONSTANT] type [NOT NULL] [{DEFAULT | := | =} expr]`, `name CURSOR FOR query`.
        if let Some(f) =
            find_word(&toks, i, "for").filter(|_| find_word(&toks, i, "cursor").is_some())
        {
            ops.extend(sql_ops(&text[toks[f].1.end..], depth));
        } else if let Some(d) = assignment(&toks, i).or_else(|| find_word(&toks, i, "default")) {
            expr(d + 1, toks.len(), ops);
        }
        return;
    }
    match word(Some(first)) {
        Some("null" | "get" | "fetch" | "move" | "close" | "commit" | "rollback") => {}
        Some("exit" | "continue") => {
            if let Some(w) = find_word(&toks, i, "when") {
                expr(w + 1, toks.len(), ops);
            }
        }
        // `RAISE level 'format', args … [USING option = expr, …]`: the args and options.
        Some("raise") => {
            if let Some(f) = toks.iter().position(|t| matches!(t.0, Tok::Str(_))) {
                let using = find_word(&toks, f, "using").unwrap_or(toks.len());
                expr(f + 2, using, ops);
                for (k, t) in toks.iter().enumerate().skip(using) {
                    if t.0 == Tok::Sym('=') {
                        let end = toks[k..]
                            .iter()
                            .position(|t| t.0 == Tok::Sym(','))
                            .map_or(toks.len(), |p| k + p);
                        expr(k + 1, end, ops);
                    }
                }
            }
        }
        Some("return") => match word(toks.get(i + 1)) {
            Some("query") => match word(toks.get(i + 2)) {
                Some("execute") => ops.extend(execute(&text[toks[i + 2].1.end..], depth)),
                _ => ops.extend(sql_ops(&text[toks[i + 1].1.end..], depth)),
            },
            Some("next") => expr(i + 2, toks.len(), ops),
            _ => expr(i + 1, toks.len(), ops),
        },
        Some("assert") => expr(i + 1, toks.len(), ops),
        Some("perform") => select(&text[first.1.end..], depth, ops),
        Some("execute") => ops.extend(execute(&text[first.1.end..], depth)),
        Some("open") => {
            if let Some(f) = find_word(&toks, i, "for") {
                match word(toks.get(f + 1)) {
                    Some("execute") => ops.extend(execute(&text[toks[f + 1].1.end..], depth)),
                    _ => ops.extend(sql_ops(&text[toks[f].1.end..], depth)),
                }
            }
        }
        Some("select" | "with") => ops.extend(without_into(rest, &toks[i..], depth, true)),
        Some("insert" | "update" | "delete" | "merge") => {
            ops.extend(without_into(rest, &toks[i..], depth, false))
        }
        _ => match assignment(&toks, i) {
            Some(a) => expr(a + 1, toks.len(), ops),
            None => ops.extend(super::statement_ops(rest, depth)),
        },
    }
}

/// `target := expr` / `target = expr` (target a variable, a field or an array element): the
/// index of the assignment operator.
fn assignment(toks: &[Spanned], from: usize) -> Option<usize> {
    let mut i = from;
    let mut brackets = 0;
    while let Some((t, _)) = toks.get(i) {
        match t {
            Tok::Word { .. } | Tok::Num(_) => {}
            Tok::Sym('.') => {}
            Tok::Sym('[') => brackets += 1,
            Tok::Sym(']') => brackets -= 1,
            Tok::Sym(':') if toks.get(i + 1).map(|t| &t.0) == Some(&Tok::Sym('=')) => {
                return Some(i + 1);
            }
            Tok::Sym('=') if brackets == 0 && i > from => return Some(i),
            _ if brackets > 0 => {}
            _ => return None,
        }
        // A second plain word after the target is a type (a declaration), not an assignment.
        if i > from && matches!(t, Tok::Word { .. }) && matches!(toks[i - 1].0, Tok::Word { .. }) {
            return None;
        }
        i += 1;
    }
    None
}

/// The index of keyword `kw` at parenthesis depth 0, from `from` on.
fn find_word(toks: &[Spanned], from: usize, kw: &str) -> Option<usize> {
    let mut parens = 0i32;
    for (i, (t, _)) in toks.iter().enumerate().skip(from) {
        match t {
            Tok::Sym('(' | '[') => parens += 1,
            Tok::Sym(')' | ']') => parens -= 1,
            _ if parens == 0 && t.is_kw(kw) => return Some(i),
            _ => {}
        }
    }
    None
}

/// An expression, read as `SELECT expr` for the functions it calls.
fn select(expr: &str, depth: usize, ops: &mut Vec<Op>) {
    let expr = expr.trim();
    if expr.is_empty() {
        return;
    }
    ops.extend(
        sql_ops(&format!("SELECT {expr}"), depth)
            .into_iter()
            .filter(|o| !matches!(o, Op::Select)),
    );
}

/// A statement whose `INTO` assigns variables (`SELECT … INTO v FROM …`, `… RETURNING id INTO
/// v`): read without the `INTO` clause, which PL/pgSQL consumes.
fn without_into(text: &str, toks: &[Spanned], depth: usize, is_select: bool) -> Vec<Op> {
    let base = toks.first().map_or(0, |t| t.1.start);
    let from = if is_select {
        0
    } else {
        match find_word(toks, 0, "returning") {
            Some(r) => r,
            None => return sql_ops(text, depth),
        }
    };
    let Some(into) = find_word(toks, from + 1, "into").filter(|i| !is_select || *i > 0) else {
        return sql_ops(text, depth);
    };
    // The targets: `[STRICT] a [, b …]`.
    let mut end = into + 1;
    if word(toks.get(end)) == Some("strict") {
        end += 1;
    }
    loop {
        let mut j = end;
        if name_at(toks, &mut j).is_none() {
            break;
        }
        end = j;
        if toks.get(end).map(|t| &t.0) != Some(&Tok::Sym(',')) {
            break;
        }
        end += 1;
    }
    let cut_from = toks[into].1.start - base;
    let cut_to = toks.get(end).map_or(text.len(), |t| t.1.start - base);
    let sql = format!("{} {}", &text[..cut_from], &text[cut_to..]);
    sql_ops(&sql, depth)
}

/// `EXECUTE expr [INTO …] [USING …]`: reads the SQL text when `expr` makes it readable.
fn execute(rest: &str, depth: usize) -> Vec<Op> {
    let all = tokenize_spans(rest);
    let end = find_word(&all, 0, "into")
        .into_iter()
        .chain(find_word(&all, 0, "using"))
        .min()
        .unwrap_or(all.len());
    let mut ops = match dynamic_text(rest, &all[..end]) {
        Some((sql, raw)) => {
            let mut ops = sql_ops(&sql, depth);
            // A part spliced in as text (`%s`, a variable) may be any SQL, not only a name.
            if raw {
                ops.push(unmodeled(
                    "EXECUTE of SQL text with a part computed at run time (a variable or %s)",
                ));
            }
            ops
        }
        None => vec![unmodeled("EXECUTE of SQL text computed at run time")],
    };
    // `USING` arguments are expressions.
    if let Some(u) = find_word(&all, 0, "using")
        && let (Some(a), Some(b)) = (all.get(u + 1), all.last())
    {
        select(&rest[a.1.start..b.1.end], depth, &mut ops);
    }
    ops
}

/// The SQL an `EXECUTE` runs, with the run-time parts standing as [`RUN_TIME`]: a literal,
/// `format('literal', …)`, or `'literal' || expr || …` that starts with a literal. `true` with
/// it when a part is spliced in as raw text (`%s`, a variable), which may be any SQL.
fn dynamic_text(text: &str, toks: &[Spanned]) -> Option<(String, bool)> {
    let stand_in = format!("\"{RUN_TIME}\"");
    match toks {
        [t @ (Tok::Str(_), _)] => return Some((literal(text, t), false)),
        [
            (
                Tok::Word {
                    text: f,
                    quoted: false,
                },
                _,
            ),
            (Tok::Sym('('), _),
            t @ (Tok::Str(_), _),
            ..,
        ] if f == "format" => {
            let template = literal(text, t);
            let raw = format_template(&template, "\u{0}").contains('\u{0}');
            return Some((format_template(&template, &stand_in), raw));
        }
        _ => {}
    }
    // A concatenation: split at `||` outside parentheses.
    let mut parts: Vec<&[Spanned]> = vec![];
    let (mut start, mut parens) = (0, 0i32);
    let mut i = 0;
    while i < toks.len() {
        match toks[i].0 {
            Tok::Sym('(') => parens += 1,
            Tok::Sym(')') => parens -= 1,
            Tok::Sym('|')
                if parens == 0 && toks.get(i + 1).map(|t| &t.0) == Some(&Tok::Sym('|')) =>
            {
                parts.push(&toks[start..i]);
                start = i + 2;
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&toks[start..]);
    if parts.len() < 2 || !matches!(parts[0], [(Tok::Str(_), _)]) {
        return None;
    }
    let mut sql = String::new();
    let mut raw = false;
    for p in parts {
        match p {
            [t @ (Tok::Str(_), _)] => sql.push_str(&literal(text, t)),
            // `quote_ident(x)`, `quote_literal(x)`: one name or value known only at run time.
            [
                (
                    Tok::Word {
                        text: f,
                        quoted: false,
                    },
                    _,
                ),
                (Tok::Sym('('), _),
                ..,
            ] if matches!(
                f.as_str(),
                "quote_ident" | "quote_literal" | "quote_nullable"
            ) =>
            {
                sql.push_str(&stand_in)
            }
            // A variable or another expression: any text at all.
            _ => {
                raw = true;
                sql.push_str(&stand_in)
            }
        }
    }
    Some((sql, raw))
}

/// `format()`'s template with its conversions (`%I`, `%s`, `%L`, `%1$I` …) replaced: a name
/// or value known only at run time; `%%` is a percent sign.
fn format_template(template: &str, stand_in: &str) -> String {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        // Position, flags and width: `1$`, `-`, `10`, `*`.
        while chars
            .peek()
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, '$' | '-' | '*'))
        {
            chars.next();
        }
        match chars.next() {
            Some('L') => out.push_str("'?'"),
            Some('I') => out.push_str(&format!("\"{RUN_TIME}\"")),
            // `%s`: raw text, marked with `stand_in` for the caller to see.
            Some(_) => out.push_str(stand_in),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::{FkActions, Op};

    fn body(code: &str) -> Vec<Op> {
        plpgsql(code, 1)
    }

    #[test]
    fn control_flow_is_stripped_and_the_statements_inside_are_read() {
        let ops = body(
            "DECLARE n int := 0; BEGIN IF (SELECT count(*) FROM legacy_orders) > 0 THEN DROP TABLE legacy_orders; ELSIF n = 1 THEN NULL; ELSE RAISE NOTICE 'none'; END IF; FOR r IN SELECT id FROM t LOOP UPDATE t SET a = 1 WHERE id = r.id; END LOOP; END",
        );
        assert_eq!(
            ops,
            vec![
                Op::DropTable {
                    tables: vec!["legacy_orders".into()],
                    cascade: false
                },
                Op::Update {
                    table: "t".into(),
                    has_where: true,
                    columns: vec!["a".into()]
                }
            ]
        );
    }

    #[test]
    fn execute_reads_literals_formats_and_concatenations() {
        assert_eq!(
            body("BEGIN EXECUTE 'ALTER TABLE accounts DROP COLUMN legacy'; END"),
            vec![Op::DropColumn {
                table: "accounts".into(),
                column: "legacy".into(),
                cascade: false
            }]
        );
        assert_eq!(
            body("BEGIN EXECUTE format('DROP TABLE %I', t); END"),
            vec![Op::DropTable {
                tables: vec![RUN_TIME.into()],
                cascade: false
            }]
        );
        assert_eq!(
            body("BEGIN EXECUTE 'TRUNCATE ' || quote_ident(t) || ' CASCADE'; END"),
            vec![Op::Truncate {
                tables: vec![RUN_TIME.into()],
                cascade: true
            }]
        );
        assert!(matches!(
            &body("BEGIN EXECUTE stmt; END")[..],
            [Op::Unmodeled { .. }]
        ));
    }

    #[test]
    fn into_assigns_variables_and_creates_no_table() {
        assert_eq!(
            body(
                "DECLARE v int; BEGIN SELECT id INTO STRICT v FROM t WHERE a = 1; DELETE FROM t WHERE id = v RETURNING id INTO v; END"
            ),
            vec![Op::Delete {
                table: "t".into(),
                has_where: true
            }]
        );
    }

    #[test]
    fn routines_carry_their_body() {
        let f = create_routine(
            "CREATE OR REPLACE FUNCTION purge() RETURNS trigger AS $$ BEGIN DELETE FROM accounts WHERE closed; RETURN NEW; END $$ LANGUAGE plpgsql",
            0,
        );
        assert_eq!(
            f,
            Some(Op::CreateFunction {
                name: "purge".into(),
                kind: "function".into(),
                body: Body::Ops(vec![Op::Delete {
                    table: "accounts".into(),
                    has_where: true
                }])
            })
        );
        let stable = create_routine(
            "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql STABLE AS 'SELECT a + 1'",
            0,
        );
        assert!(matches!(
            stable,
            Some(Op::CreateFunction {
                body: Body::Ops(ops),
                ..
            }) if ops.is_empty()
        ));
        let c = create_routine(
            "CREATE FUNCTION f() RETURNS int AS 'lib', 'f' LANGUAGE c",
            0,
        );
        assert!(matches!(
            c,
            Some(Op::CreateFunction {
                body: Body::Unreadable(_),
                ..
            })
        ));
        let standard = create_routine(
            "CREATE FUNCTION g() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM t; END",
            0,
        );
        assert!(matches!(
            standard,
            Some(Op::CreateFunction { body: Body::Ops(ops), .. }) if ops == vec![Op::Delete { table: "t".into(), has_where: false }]
        ));
        let _ = FkActions::default();
    }

    #[test]
    fn triggers_name_their_events_and_function() {
        assert_eq!(
            create_trigger(
                "CREATE TRIGGER t AFTER INSERT OR UPDATE OF a ON public.orders FOR EACH ROW EXECUTE FUNCTION audit.log_it()"
            ),
            Some(Op::CreateTrigger {
                table: "public.orders".into(),
                function: Some("audit.log_it".into()),
                events: vec!["insert".into(), "update".into()]
            })
        );
    }

    #[test]
    fn do_blocks_are_read_and_other_languages_are_not() {
        assert_eq!(
            do_block(
                "DO $$ BEGIN IF true THEN DROP TABLE legacy_orders; END IF; END $$",
                0
            ),
            Some(vec![Op::DropTable {
                tables: vec!["legacy_orders".into()],
                cascade: false
            }])
        );
        assert!(matches!(
            &do_block("DO LANGUAGE plpython3u $$ plpy.execute('x') $$", 0).unwrap()[..],
            [Op::Unmodeled { .. }]
        ));
    }
}
