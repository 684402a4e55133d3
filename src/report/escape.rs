//! Untrusted text made safe to show. File names, identifiers and the messages built from them
//! come from whoever wrote the migrations; printed as they are, an ESC starts a terminal
//! escape sequence (colours, cursor moves, window titles, hyperlinks), a newline forges an
//! output line of its own, and a bidirectional override makes text read differently from the
//! bytes that are there. Renderers pass such text through [`visible`] (terminal and log output)
//! or serialise JSON with [`json_pretty`]/[`json_write`], so a name is shown, never obeyed.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io;

use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter, PrettyFormatter};

/// Unicode's bidirectional formatting characters: the embeddings and overrides
/// (U+202A–U+202E), the isolates (U+2066–U+2069) and the implicit marks (U+200E LRM,
/// U+200F RLM, U+061C ALM). They are invisible and reorder the text around them.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// Whether `c` must not reach a terminal or log as itself: a control character (C0 including
/// ESC, DEL, C1) or a bidirectional formatting character.
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// `s` with every [`is_unsafe`] character replaced by a visible escape, for a terminal line or
/// a CI log:
///
/// - `\e` for ESC, `\n`, `\r`, `\t` and `\0` for NUL;
/// - `\xNN` (two lower-case hex digits) for the other C0 controls and DEL (`\x07`, `\x7f`);
/// - `\u{NN}` (Rust's notation, lower-case hex) for C1 controls and bidirectional
///   formatting characters (`\u{9b}`, `\u{202e}`).
///
/// Everything else, non-ASCII letters included, is kept. A backslash already in the text is
/// *not* doubled: the escape is for reading, not for decoding back, and doubling would make
/// every Windows path and every SQL string with a backslash harder to read. The ambiguity that
/// leaves (a file really named `a\e.sql` looks like one holding an ESC) cannot hide anything:
/// text holding unsafe characters always shows a backslash where they were, so it never looks
/// like text without one.
pub fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    push_visible(&mut out, s);
    Cow::Owned(out)
}

/// Appends `s` to `out` as [`visible`] shows it.
pub fn push_visible(out: &mut String, s: &str) {
    for c in s.chars() {
        if is_unsafe(c) {
            push_escape(out, c);
        } else {
            out.push(c);
        }
    }
}

/// Whole command output (human text or JSON) made safe for a terminal, keeping its own line
/// breaks and tabs: C0 controls become [`visible`] escapes (they occur only in human text:
/// JSON escapes them itself), DEL, C1 controls and bidirectional formatting characters become
/// `\uXXXX`, which JSON reads back as the same character and a person reads as an escape. For
/// the commands whose renderers build text from names without escaping each one (plan,
/// verify, apply, drift, snapshot, drill): a name can no longer move the cursor, recolour the
/// terminal or reorder what is shown; a newline in a name still breaks its line.
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| is_unsafe(c) && c != '\n' && c != '\t') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            '\u{0}'..='\u{1f}' => push_escape(&mut out, c),
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The visible escape of one [`is_unsafe`] character.
fn push_escape(out: &mut String, c: char) {
    match c {
        '\u{1b}' => out.push_str("\\e"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        '\u{01}'..='\u{1f}' | '\u{7f}' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        _ => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// Source text for an excerpt: like [`visible`], but line breaks and tabs stay, since they
/// are the layout of the lines shown. Returns the text and `span` moved onto it; `span` must
/// lie on character boundaries of `s`.
pub fn visible_source(
    s: &str,
    span: std::ops::Range<usize>,
) -> (Cow<'_, str>, std::ops::Range<usize>) {
    let keep = |c: char| matches!(c, '\n' | '\r' | '\t');
    if !s.chars().any(|c| is_unsafe(c) && !keep(c)) {
        return (Cow::Borrowed(s), span);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let (mut start, mut end) = (None, None);
    for (i, c) in s.char_indices() {
        if i == span.start {
            start = Some(out.len());
        }
        if i == span.end {
            end = Some(out.len());
        }
        if is_unsafe(c) && !keep(c) {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    let start = start.unwrap_or(out.len());
    let end = end.unwrap_or(out.len()).max(start);
    (Cow::Owned(out), start..end)
}

/// A [`Formatter`] that writes DEL, C1 controls and bidirectional formatting characters as
/// `\uXXXX` escapes, on top of the C0 controls serde_json escapes already. The document means
/// the same (a JSON reader decodes the escapes back), so paths still match the repository's
/// files, but none of those characters reaches a terminal or log that shows the raw JSON.
pub struct Escaping<F>(pub F);

impl<F: Formatter> Formatter for Escaping<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // Every character to escape is DEL or starts with one of these UTF-8 lead bytes (C1:
        // 0xC2, ALM: 0xD8, the others: 0xE2): most fragments are written unscanned.
        if !fragment
            .bytes()
            .any(|b| matches!(b, 0x7f | 0xc2 | 0xd8 | 0xe2))
        {
            return self.0.write_string_fragment(writer, fragment);
        }
        let mut rest = 0;
        for (i, c) in fragment.char_indices() {
            if is_unsafe(c) {
                self.0.write_string_fragment(writer, &fragment[rest..i])?;
                // All of them lie in the Basic Multilingual Plane: one `\u` escape each.
                write!(writer, "\\u{:04x}", c as u32)?;
                rest = i + c.len_utf8();
            }
        }
        self.0.write_string_fragment(writer, &fragment[rest..])
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        char_escape: CharEscape,
    ) -> io::Result<()> {
        self.0.write_char_escape(writer, char_escape)
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_array(writer)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object(writer)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(writer, first)
    }

    fn end_object_key<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object_key(writer)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object_value(writer)
    }
}

/// Writes `value` as JSON through [`Escaping`]: indented when `pretty`, else on one line.
pub fn json_write<W: io::Write, T: ?Sized + Serialize>(
    writer: W,
    value: &T,
    pretty: bool,
) -> serde_json::Result<()> {
    if pretty {
        let mut ser =
            serde_json::Serializer::with_formatter(writer, Escaping(PrettyFormatter::new()));
        value.serialize(&mut ser)
    } else {
        let mut ser = serde_json::Serializer::with_formatter(writer, Escaping(CompactFormatter));
        value.serialize(&mut ser)
    }
}

/// `value` as indented JSON through [`Escaping`].
pub fn json_pretty<T: ?Sized + Serialize>(value: &T) -> serde_json::Result<String> {
    let mut buf = Vec::new();
    json_write(&mut buf, value, true)?;
    // serde_json writes UTF-8 only, and the escapes are ASCII.
    Ok(String::from_utf8(buf).expect("JSON is UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible_escapes() {
        assert_eq!(visible("003_esc\u{1b}[31mRED.sql"), "003_esc\\e[31mRED.sql");
        assert_eq!(visible("a\nb\rc\td\0e"), "a\\nb\\rc\\td\\0e");
        assert_eq!(visible("bell\u{7}del\u{7f}"), "bell\\x07del\\x7f");
        assert_eq!(visible("\u{1f}"), "\\x1f");
        // C1: NEL and the 8-bit CSI.
        assert_eq!(visible("x\u{85}y\u{9b}31m"), "x\\u{85}y\\u{9b}31m");
    }

    #[test]
    fn bidi_controls_become_visible_escapes() {
        for (c, shown) in [
            ('\u{202a}', "\\u{202a}"),
            ('\u{202e}', "\\u{202e}"),
            ('\u{2066}', "\\u{2066}"),
            ('\u{2069}', "\\u{2069}"),
            ('\u{200e}', "\\u{200e}"),
            ('\u{200f}', "\\u{200f}"),
            ('\u{061c}', "\\u{61c}"),
        ] {
            assert_eq!(visible(&format!("a{c}b")), format!("a{shown}b"));
        }
    }

    #[test]
    fn other_text_is_kept_and_borrowed() {
        for s in [
            "",
            "migrations/1_init.up.sql",
            "café € 日本 \\e not an escape",
            "\u{200d}\u{2028}\u{a0}",
        ] {
            assert!(matches!(visible(s), Cow::Borrowed(_)), "{s:?}");
        }
        // The neighbours of the ranges stay.
        for c in [
            '\u{a0}', '\u{2029}', '\u{202f}', '\u{2065}', '\u{206a}', '\u{061b}',
        ] {
            assert!(!is_unsafe(c), "{c:?}");
        }
    }

    #[test]
    fn escaped_text_holds_no_unsafe_character() {
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let shown = visible(&all);
        assert!(!shown.chars().any(is_unsafe));
        assert!(!shown.contains('\n'));
    }

    #[test]
    fn source_keeps_its_layout_and_the_span_follows() {
        let src = "DROP TABLE \"a\u{1b}b\";\n\tDROP TABLE \"\u{202e}x\";\r\n";
        let span = src.find("DROP").unwrap()..src.rfind(';').unwrap() + 1;
        let (shown, moved) = visible_source(src, span);
        assert_eq!(
            shown,
            "DROP TABLE \"a\\eb\";\n\tDROP TABLE \"\\u{202e}x\";\r\n"
        );
        assert_eq!(
            &shown[moved],
            "DROP TABLE \"a\\eb\";\n\tDROP TABLE \"\\u{202e}x\";"
        );
        // A span after the escapes, and one at the very end.
        let at = src.find("\tDROP").unwrap();
        let (shown, moved) = visible_source(src, at..at + 5);
        assert_eq!(&shown[moved], "\tDROP");
        let (shown, moved) = visible_source(src, src.len()..src.len());
        assert_eq!(moved, shown.len()..shown.len());
        // Nothing to escape: borrowed, span unchanged.
        let (shown, moved) = visible_source("a\nb\tc", 1..3);
        assert!(matches!(shown, Cow::Borrowed(_)));
        assert_eq!(moved, 1..3);
    }

    #[test]
    fn json_escapes_del_c1_and_bidi_and_reads_back_the_same() {
        let value = serde_json::json!({
            "path\u{202e}": "a\u{1b}[31m\nb\u{7f}c\u{9b}d\u{202e}e\u{2066}f\u{61c}g café €",
            "list": ["\u{200f}", 1, null],
        });
        for pretty in [false, true] {
            let mut buf = Vec::new();
            json_write(&mut buf, &value, pretty).unwrap();
            let text = String::from_utf8(buf).unwrap();
            // The pretty form's own line breaks are the only control characters left.
            assert!(!text.chars().any(|c| is_unsafe(c) && c != '\n'), "{text}");
            assert!(
                text.contains(r"a\u001b[31m\nb\u007fc\u009bd\u202ee\u2066f\u061cg café €"),
                "{text}"
            );
            assert!(text.contains(r#""path\u202e""#), "{text}");
            let back: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(back, value);
        }
        // The same layout as serde_json's own.
        assert_eq!(
            json_pretty(&serde_json::json!({"a": [1, {"b": "c"}], "d": {}})).unwrap(),
            serde_json::to_string_pretty(&serde_json::json!({"a": [1, {"b": "c"}], "d": {}}))
                .unwrap()
        );
    }

    #[test]
    fn whole_outputs_keep_their_lines_and_stay_valid_json() {
        assert_eq!(
            terminal_safe("a\u{1b}[31mb\n\tc\u{202e}d\u{7f}"),
            "a\\e[31mb\n\tc\\u202ed\\u007f"
        );
        let json = serde_json::to_string(&serde_json::json!({"t": "x\u{202e}\u{85}\u{7f}\u{1b}"}))
            .unwrap();
        let safe = terminal_safe(&json);
        assert!(!safe.chars().any(is_unsafe), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["t"], "x\u{202e}\u{85}\u{7f}\u{1b}");
    }
}
