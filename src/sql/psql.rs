//! psql scripts: meta-commands (`\set`, `\i`, `\gexec` …), each a statement of its own that
//! ends at its line end, and variable interpolation (`:name`, `:'name'`, `:"name"`) with the
//! values `\set` gives earlier in the same file.

use std::collections::HashMap;

use super::op::Op;
use super::tokens::{Tok, tokenize_spans};

/// A statement's text after interpolation.
#[derive(Debug, PartialEq)]
pub enum Prepared {
    /// Nothing to substitute.
    Same,
    Text(String),
    /// A variable this file does not set (or sets from outside): the statement is unreadable.
    Unset(String),
}

/// psql variables, in file order. `None`: set from outside the file (`\prompt`, `\getenv`).
#[derive(Debug, Default)]
pub struct Vars(HashMap<String, Option<String>>);

/// A meta-command's arguments as psql reads them: separated by blanks, a single-quoted part
/// keeping its blanks (`''` and `\'` for a quote).
fn arguments(text: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    let mut started = false;
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                started = true;
                while let Some(q) = chars.next() {
                    match q {
                        '\'' if chars.peek() == Some(&'\'') => {
                            chars.next();
                            cur.push('\'');
                        }
                        '\'' => break,
                        '\\' => cur.extend(chars.next()),
                        other => cur.push(other),
                    }
                }
            }
            c if c.is_whitespace() => {
                if started {
                    out.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            other => {
                started = true;
                cur.push(other);
            }
        }
    }
    if started {
        out.push(cur);
    }
    out
}

impl Vars {
    /// Follows a meta-command, or interpolates a statement.
    pub fn prepare(&mut self, text: &str) -> Prepared {
        if let Some(meta) = text.strip_prefix('\\') {
            let args = arguments(meta);
            let mut words = args.iter().map(String::as_str);
            match words.next() {
                // psql joins the values: `\set x 'a b' c` is `a bc`.
                Some("set") => {
                    if let Some(name) = words.next() {
                        let value: String = words.collect();
                        self.0.insert(name.to_string(), Some(value));
                    }
                }
                Some("unset") => {
                    if let Some(name) = words.next() {
                        self.0.remove(name);
                    }
                }
                Some("prompt" | "getenv") => {
                    if let Some(name) = words.next_back() {
                        self.0.insert(name.to_string(), None);
                    }
                }
                _ => {}
            }
            return Prepared::Same;
        }
        if !text.contains(':') {
            return Prepared::Same;
        }
        let toks = tokenize_spans(text);
        let mut out = String::new();
        let mut copied = 0;
        for (i, (t, span)) in toks.iter().enumerate() {
            if *t != Tok::Sym(':') {
                continue;
            }
            let Some((next, nspan)) = toks.get(i + 1) else {
                continue;
            };
            // `::type`, `:=`, `a[1:n]`: not variables.
            let after_colon = i > 0 && toks[i - 1].1.end == span.start;
            let before = i.checked_sub(1).map(|p| &toks[p].0);
            if nspan.start != span.end
                || (after_colon
                    && matches!(
                        before,
                        Some(Tok::Sym(':' | ']' | ')'))
                            | Some(Tok::Num(_))
                            | Some(Tok::Word { .. })
                    ))
            {
                continue;
            }
            let raw = &text[nspan.clone()];
            let (name, quote) = match next {
                Tok::Word {
                    text,
                    quoted: false,
                } => (text.clone(), None),
                Tok::Str(s) if raw.starts_with('\'') => (s.clone(), Some('\'')),
                Tok::Word { text, quoted: true } => (text.clone(), Some('"')),
                _ => continue,
            };
            // The name as written (unquoted words are folded by the tokenizer).
            let written = match quote {
                None => raw.to_string(),
                Some(_) => name,
            };
            let value = match self.0.get(&written) {
                Some(Some(v)) => v,
                Some(None) => {
                    return Prepared::Unset(format!(
                        "uses psql variable :{written}, whose value is given at run time"
                    ));
                }
                // psql leaves an unset variable as written: `:name` is then SQL syntax error.
                None => {
                    return Prepared::Unset(format!(
                        "uses psql variable :{written}, which this file does not set with \\set"
                    ));
                }
            };
            out.push_str(&text[copied..span.start]);
            match quote {
                None => out.push_str(value),
                Some('\'') => out.push_str(&format!("'{}'", value.replace('\'', "''"))),
                Some(_) => out.push_str(&format!("\"{}\"", value.replace('"', "\"\""))),
            }
            copied = nspan.end;
        }
        if copied == 0 {
            return Prepared::Same;
        }
        out.push_str(&text[copied..]);
        Prepared::Text(out)
    }
}

/// What a meta-command does.
pub fn meta_ops(text: &str) -> Vec<Op> {
    let meta = text.trim_start_matches('\\');
    let mut words = meta.split_whitespace();
    let command = words.next().unwrap_or("");
    let unmodeled = |what: &str| vec![Op::Unmodeled { what: what.into() }];
    match command {
        "o" | "out" if words.clone().next().is_some_and(|w| w.starts_with('|')) => {
            unmodeled("psql \\o | sends output to a shell command")
        }
        "copy" if meta.to_ascii_lowercase().contains(" program ") => {
            unmodeled("psql \\copy … PROGRAM runs a shell command")
        }
        "set" | "unset" | "echo" | "qecho" | "warn" | "timing" | "pset" | "x" | "encoding"
        | "o" | "out" | "conninfo" | "if" | "elif" | "else" | "endif" | "prompt" | "getenv"
        | "setenv" | "g" | "gx" | "gset" | "q" | "quit" | "errverbose" | "a" | "t" | "f" | "H"
        | "C" | "T" | "dt" | "d" | "l" | "dn" | "df" | "dv" | "di" => vec![Op::SetVar {
            name: format!("\\{command}"),
            value: words.collect::<Vec<_>>().join(" "),
            local: false,
        }],
        "copy" => {
            let rest: Vec<String> = words.map(str::to_lowercase).collect();
            let from = rest.iter().any(|w| w == "from");
            match rest.first() {
                Some(t) if from && !t.starts_with('(') => vec![Op::Insert {
                    table: t.split('(').next().unwrap_or(t).to_string(),
                }],
                _ if !from => vec![Op::Select],
                _ => unmodeled("psql \\copy of an unreadable form"),
            }
        }
        "i" | "ir" | "include" | "include_relative" => {
            unmodeled("psql \\i runs another file, which migsafe does not read")
        }
        "c" | "connect" => unmodeled("psql \\connect switches to another database"),
        "gexec" => unmodeled("psql \\gexec runs the rows of the query before it as SQL"),
        other => unmodeled(&format!("psql meta-command \\{other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_set_in_the_file_are_substituted() {
        let mut v = Vars::default();
        assert_eq!(v.prepare("\\set schema app"), Prepared::Same);
        assert_eq!(v.prepare("\\set owner 'o''brien'"), Prepared::Same);
        assert_eq!(
            v.prepare("SET search_path = :schema, public;"),
            Prepared::Text("SET search_path = app, public;".into())
        );
        assert_eq!(
            v.prepare("ALTER TABLE :\"schema\".t OWNER TO :'owner';"),
            Prepared::Text("ALTER TABLE \"app\".t OWNER TO 'o''brien';".into())
        );
        // Casts, assignments, slices and quoted text are left alone.
        for same in [
            "SELECT x::int, a[1:2] FROM t;",
            "DO $$ BEGIN n := 1; END $$;",
            "SELECT ':schema';",
        ] {
            assert_eq!(v.prepare(same), Prepared::Same, "{same}");
        }
        assert!(
            matches!(v.prepare("DROP TABLE :missing;"), Prepared::Unset(m) if m.contains(":missing"))
        );
        v.prepare("\\prompt 'Table? ' tbl");
        assert!(
            matches!(v.prepare("DROP TABLE :tbl;"), Prepared::Unset(m) if m.contains("run time"))
        );
    }

    #[test]
    fn meta_commands_are_read() {
        assert!(matches!(&meta_ops("\\set x 1")[..], [Op::SetVar { .. }]));
        assert!(matches!(
            &meta_ops("\\i other.sql")[..],
            [Op::Unmodeled { .. }]
        ));
        assert!(matches!(&meta_ops("\\gexec")[..], [Op::Unmodeled { .. }]));
        assert_eq!(
            meta_ops("\\copy accounts FROM 'a.csv' csv"),
            vec![Op::Insert {
                table: "accounts".into()
            }]
        );
    }
}
