//! A statement's text with comments and layout taken out, so that two versions of a statement
//! compare equal when PostgreSQL would read them alike (`lint --since` tells a reworded comment
//! from an edit this way).
//!
//! Tokens are kept as written, separated by one space: string constants and quoted identifiers
//! verbatim, unquoted words lower-cased (PostgreSQL folds them), operators as runs of operator
//! characters. A dollar-quoted body right after `AS` or `DO` (a function or `DO` block) is SQL
//! itself and is normalised the same way; any other dollar-quoted string is data and is kept
//! verbatim. A final `;` is dropped.

/// The normalised text of one statement.
pub fn normalized(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_tokens(text, &mut out);
    if out.ends_with(" ;") {
        out.truncate(out.len() - 2);
    } else if out == ";" {
        out.clear();
    }
    out
}

fn push_tokens(text: &str, out: &mut String) {
    let b = text.as_bytes();
    let mut i = 0;
    // The last word, lower-cased, for the dollar-quote rule.
    let mut last_word = String::new();
    let push = |out: &mut String, tok: &str| {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(tok);
    };
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'-' && b.get(i + 1) == Some(&b'-') {
            i = b[i..]
                .iter()
                .position(|&c| c == b'\n' || c == b'\r')
                .map_or(b.len(), |p| i + p);
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            // Unterminated: the rest is comment.
            i = super::split::skip_block_comment(b, i, b.len()).unwrap_or(b.len());
            continue;
        }
        let mut word = String::new();
        if c == b'\'' {
            // An E'…' string (the E was the word before, written against the quote) takes
            // backslash escapes.
            let escapes = last_word == "e" && start > 0 && matches!(b[start - 1], b'e' | b'E');
            i = quoted_end(b, i, b'\'', escapes);
        } else if c == b'"' {
            i = quoted_end(b, i, b'"', false);
        } else if c == b'$'
            && let Some(n) = dollar_tag_len(&b[i..])
        {
            let tag = &text[i..i + n];
            let body = i + n;
            let close = text[body..].find(tag).map(|p| body + p);
            i = close.map_or(b.len(), |p| p + n);
            if matches!(last_word.as_str(), "as" | "do") {
                let inner = &text[body..close.unwrap_or(b.len())];
                let mut nested = String::new();
                push_tokens(inner, &mut nested);
                push(out, "$$(");
                push(out, &nested);
                push(out, ")$$");
                last_word.clear();
                continue;
            }
        } else if is_word_byte(c) {
            while i < b.len() && (is_word_byte(b[i]) || b[i] == b'$') {
                i += 1;
            }
            word = text[start..i].to_ascii_lowercase();
        } else if is_operator_byte(c) {
            i += 1;
            while i < b.len()
                && is_operator_byte(b[i])
                && !matches!(
                    (b[i], b.get(i + 1)),
                    (b'-', Some(b'-')) | (b'/', Some(b'*'))
                )
            {
                i += 1;
            }
        } else {
            i += text[i..].chars().next().map_or(1, char::len_utf8);
        }
        if word.is_empty() {
            push(out, &text[start..i]);
        } else {
            push(out, &word);
        }
        last_word = word;
    }
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// PostgreSQL's operator characters.
fn is_operator_byte(c: u8) -> bool {
    matches!(
        c,
        b'+' | b'-'
            | b'*'
            | b'/'
            | b'<'
            | b'>'
            | b'='
            | b'~'
            | b'!'
            | b'@'
            | b'#'
            | b'%'
            | b'^'
            | b'&'
            | b'|'
            | b'`'
            | b'?'
    )
}

/// The end of a quoted string or identifier opened at `at` (past the closing quote; the end
/// of the text when it never closes).
fn quoted_end(b: &[u8], at: usize, quote: u8, escapes: bool) -> usize {
    let mut i = at + 1;
    while i < b.len() {
        // A backslash escape (in an E'…' string), or a doubled quote.
        if (escapes && b[i] == b'\\') || (b[i] == quote && b.get(i + 1) == Some(&quote)) {
            i += 2;
        } else if b[i] == quote {
            return i + 1;
        } else {
            i += 1;
        }
    }
    b.len()
}

/// The length of a dollar-quote tag (`$$`, `$body$`) starting `b`, if it starts one.
fn dollar_tag_len(b: &[u8]) -> Option<usize> {
    if b.get(1).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let mut i = 1;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80) {
        i += 1;
    }
    (b.get(i) == Some(&b'$')).then_some(i + 1)
}

#[cfg(test)]
mod tests {
    use super::normalized;

    #[test]
    fn comments_layout_and_case_are_not_the_statement() {
        let a = normalized(
            "CREATE TABLE users (\n  id bigint, -- the key\n  email text /* later */\n);",
        );
        let b = normalized("create table users(id BIGINT,email text)");
        assert_eq!(a, b);
        assert_eq!(a, "create table users ( id bigint , email text )");
        assert_ne!(normalized("SELECT a.b"), normalized("SELECT ab"));
        assert_eq!(normalized("SELECT a . b"), normalized("SELECT a.b"));
    }

    #[test]
    fn quoted_text_is_kept_as_written() {
        assert_ne!(normalized("SELECT 'a  b'"), normalized("SELECT 'a b'"));
        assert_ne!(
            normalized("SELECT \"Users\""),
            normalized("SELECT \"users\"")
        );
        assert_eq!(normalized("SELECT \"Users\""), "select \"Users\"");
        // A comment marker inside a string is text.
        assert_ne!(normalized("SELECT '--x'"), normalized("SELECT ''"));
        assert_eq!(
            normalized("SELECT E'it\\'s -- x'"),
            "select e 'it\\'s -- x'"
        );
        assert_ne!(normalized("SELECT $$a  b$$"), normalized("SELECT $$a b$$"));
        // Operators: `<=` is not `< =`.
        assert_ne!(normalized("SELECT 1 <= 2"), normalized("SELECT 1 < = 2"));
        assert_eq!(normalized("SELECT 1-- one\n"), "select 1");
    }

    #[test]
    fn function_bodies_are_sql_too() {
        let a = normalized(
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$\n  -- one\n  SELECT 1\n$$;",
        );
        let b = normalized("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$");
        assert_eq!(a, b);
        assert_ne!(
            a,
            normalized("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 2 $$")
        );
        assert_eq!(
            normalized("DO $body$ BEGIN PERFORM 1; END $body$"),
            normalized("DO $$\nBEGIN\n  PERFORM 1; -- why\nEND\n$$;")
        );
    }

    #[test]
    fn unterminated_text_does_not_panic() {
        for text in [
            "SELECT 'a",
            "SELECT \"a",
            "SELECT $$a",
            "/* a",
            "$",
            "E'\\",
            "é'",
        ] {
            let _ = normalized(text);
        }
    }
}
