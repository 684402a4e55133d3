//! A small PostgreSQL tokenizer for the fallback recognizer and for looking inside
//! expressions rendered back to text (default values).

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A keyword or identifier: unquoted words are lower-cased, quoted ones kept as written.
    Word {
        text: String,
        quoted: bool,
    },
    /// A string constant's text between its quotes (escapes left as written).
    Str(String),
    Num(String),
    /// Any other character: `(`, `)`, `,`, `.`, `;`, `=` …
    Sym(char),
}

impl Tok {
    pub fn is_kw(&self, kw: &str) -> bool {
        matches!(self, Tok::Word { text, quoted: false } if text == kw)
    }
}

pub fn tokenize(text: &str) -> Vec<Tok> {
    tokenize_spans(text).into_iter().map(|(t, _)| t).collect()
}

/// The tokens with their byte ranges in `text` (strings and quoted names include their quotes).
pub fn tokenize_spans(text: &str) -> Vec<(Tok, std::ops::Range<usize>)> {
    let b = text.as_bytes();
    let mut out: Vec<(Tok, std::ops::Range<usize>)> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let mut at = i;
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') {
            i = b[i..]
                .iter()
                .position(|&c| c == b'\n' || c == b'\r')
                .map_or(b.len(), |p| i + p);
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == b'\'' {
            let escapes = out.last().is_some_and(|(t, _)| t.is_kw("e"))
                && i > 0
                && matches!(b[i - 1], b'e' | b'E');
            if escapes {
                out.pop();
                at = i - 1;
            }
            i += 1;
            let start = i;
            while i < b.len() {
                if (escapes && b[i] == b'\\') || (b[i] == b'\'' && b.get(i + 1) == Some(&b'\'')) {
                    i += 2;
                } else if b[i] == b'\'' {
                    i += 1;
                    break;
                } else {
                    i += 1;
                }
            }
            let end = i.min(b.len()).saturating_sub(1).max(start);
            let tok = Tok::Str(text.get(start..end).unwrap_or_default().to_string());
            out.push((tok, at..i.min(b.len())));
        } else if c == b'"' {
            i += 1;
            let mut s = String::new();
            while i < b.len() {
                if b[i] == b'"' && b.get(i + 1) == Some(&b'"') {
                    s.push('"');
                    i += 2;
                } else if b[i] == b'"' {
                    break;
                } else {
                    let ch = text[i..].chars().next().unwrap_or('?');
                    s.push(ch);
                    i += ch.len_utf8();
                }
            }
            i += 1;
            let tok = Tok::Word {
                text: s,
                quoted: true,
            };
            out.push((tok, at..i.min(b.len())));
        } else if c == b'$' && dollar_tag_len(&b[i..]).is_some() {
            let n = dollar_tag_len(&b[i..]).unwrap_or(1);
            let tag = &text[i..i + n];
            let body = i + n;
            i = text[body..].find(tag).map_or(b.len(), |p| body + p + n);
            let tok = Tok::Str(text[body..i.saturating_sub(n).max(body)].to_string());
            out.push((tok, at..i));
        } else if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            let start = i;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$' || b[i] >= 0x80)
            {
                i += 1;
            }
            let tok = Tok::Word {
                text: text[start..i].to_lowercase(),
                quoted: false,
            };
            out.push((tok, at..i));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
            out.push((Tok::Num(text[start..i].to_string()), at..i));
        } else {
            let ch = text[i..].chars().next().unwrap_or('?');
            i += ch.len_utf8();
            out.push((Tok::Sym(ch), at..i));
        }
    }
    out
}

fn dollar_tag_len(b: &[u8]) -> Option<usize> {
    let mut i = 1;
    if b.get(1).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
        i += 1;
    }
    (b.get(i) == Some(&b'$')).then_some(i + 1)
}

/// Functions whose value differs per row, or that migsafe cannot prove otherwise, found in an
/// expression's text: `DEFAULT` with one of these rewrites the table.
pub fn volatile_function(expr: &str) -> Option<String> {
    // Stable or immutable built-ins that PostgreSQL ≥ 11 evaluates once for ADD COLUMN.
    const SAFE: &[&str] = &[
        "now",
        "transaction_timestamp",
        "statement_timestamp",
        "current_timestamp",
        "current_date",
        "localtimestamp",
        "current_user",
        "lower",
        "upper",
        "coalesce",
        "jsonb_build_object",
        "json_build_object",
        "jsonb_build_array",
        "to_jsonb",
        "array",
        "make_interval",
        "interval",
        "numeric",
        "int",
        "bigint",
        "text",
        "varchar",
        "timestamp",
        "timestamptz",
        "date",
    ];
    // Known volatile functions first, so `md5(random()::text)` names `random`.
    const VOLATILE: &[&str] = &[
        "random",
        "gen_random_uuid",
        "uuid_generate_v1",
        "uuid_generate_v1mc",
        "uuid_generate_v4",
        "clock_timestamp",
        "timeofday",
        "nextval",
        "setseed",
        "txid_current",
    ];
    let toks = tokenize(expr);
    let calls: Vec<&String> = toks
        .windows(2)
        .filter_map(|w| match (&w[0], &w[1]) {
            (Tok::Word { text, .. }, Tok::Sym('(')) => Some(text),
            _ => None,
        })
        .collect();
    calls
        .iter()
        .find(|f| VOLATILE.contains(&f.as_str()))
        .or_else(|| calls.iter().find(|f| !SAFE.contains(&f.as_str())))
        .map(|f| f.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volatile_defaults_are_found() {
        assert_eq!(
            volatile_function("gen_random_uuid()").as_deref(),
            Some("gen_random_uuid")
        );
        assert_eq!(
            volatile_function("nextval('s'::regclass)").as_deref(),
            Some("nextval")
        );
        assert_eq!(volatile_function("now()"), None);
        assert_eq!(volatile_function("'a(b)'"), None);
        assert_eq!(volatile_function("0"), None);
        assert_eq!(
            volatile_function("md5(random()::text)").as_deref(),
            Some("random")
        );
    }
}
