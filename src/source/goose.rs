//! goose: `<version>_<name>.sql`, up and down in one file behind `-- +goose Up` and
//! `-- +goose Down`. `-- +goose StatementBegin`/`StatementEnd` group a body with inner `;`
//! (the splitter handles them: [`Delimiting::Goose`]); `-- +goose NO TRANSACTION` runs the file
//! statement by statement instead of in one transaction. Annotations follow pressly/goose
//! `internal/sqlparser/parser.go`: case-insensitive, and an error when indented.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::files::Files;
use super::layout::{
    Direction, Found, Listing, leading_digits, lines, migration, name_error, pair,
};
use super::{Delimiting, ExecMode, Migration, Result, Script, SourceError, read_sql_in};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Annotation {
    Up,
    Down,
    StatementBegin,
    StatementEnd,
    NoTransaction,
    Envsub,
}

/// Reads a goose annotation from a line: `None` for ordinary lines, an error message for lines
/// that goose treats as a broken annotation.
fn annotation(line: &str) -> Option<std::result::Result<Annotation, String>> {
    if !line.trim_start().starts_with("--") || !line.contains("+goose") {
        return None;
    }
    if line.starts_with([' ', '\t']) {
        return Some(Err(format!(
            "goose annotation `{}` has leading whitespace; goose rejects it",
            line.trim()
        )));
    }
    let cmd = line.replace("--", "").replacen("+goose", "", 1);
    if cmd.contains("+goose") {
        return Some(Err("several `+goose` annotations on one line".to_string()));
    }
    Some(match cmd.trim().to_ascii_lowercase().as_str() {
        "up" => Ok(Annotation::Up),
        "down" => Ok(Annotation::Down),
        "statementbegin" => Ok(Annotation::StatementBegin),
        "statementend" => Ok(Annotation::StatementEnd),
        "no transaction" => Ok(Annotation::NoTransaction),
        "envsub on" | "envsub off" => Ok(Annotation::Envsub),
        _ => Err(format!("unsupported goose annotation `{}`", line.trim())),
    })
}

/// Whether the text has a `-- +goose Up` annotation (indented ones too, so that a file with a
/// mistake is still recognised as goose and the mistake reported).
pub(crate) fn has_marker(text: &str) -> bool {
    lines(text).any(|l| annotation(l.text.trim_start()) == Some(Ok(Annotation::Up)))
}

/// Splits a goose file into its up script and optional down script; both keep the file's
/// shared text so that line numbers stay file-relative.
pub(crate) fn parse(
    path: &Path,
    source: Arc<str>,
    version: String,
    name: String,
) -> Result<Migration> {
    let err = |line: usize, message: String| SourceError::Layout {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut up: Option<usize> = None;
    let mut down: Option<(usize, usize)> = None; // (start of the Down line, start of its body)
    let mut block: Option<usize> = None; // line of an open StatementBegin
    let mut no_tx = false;
    for line in lines(&source) {
        let Some(found) = annotation(line.text) else {
            let t = line.text.trim();
            if up.is_none() && !t.is_empty() && !t.starts_with("--") {
                return Err(err(
                    line.number,
                    "statement before `-- +goose Up`; goose rejects it".into(),
                ));
            }
            continue;
        };
        let found = found.map_err(|m| err(line.number, m))?;
        match found {
            Annotation::Up if up.is_some() => {
                return Err(err(line.number, "duplicate `-- +goose Up`".into()));
            }
            Annotation::Up => up = Some(line.next),
            Annotation::Down if up.is_none() => {
                return Err(err(
                    line.number,
                    "`-- +goose Down` before `-- +goose Up`".into(),
                ));
            }
            Annotation::Down if down.is_some() => {
                return Err(err(line.number, "duplicate `-- +goose Down`".into()));
            }
            Annotation::Down if block.is_some() => {
                return Err(err(
                    line.number,
                    "`-- +goose Down` inside a StatementBegin block".into(),
                ));
            }
            Annotation::Down => down = Some((line.start, line.next)),
            Annotation::StatementBegin if up.is_none() => {
                return Err(err(
                    line.number,
                    "`-- +goose StatementBegin` before `-- +goose Up`".into(),
                ));
            }
            Annotation::StatementBegin if block.is_some() => {
                return Err(err(
                    line.number,
                    "`-- +goose StatementBegin` inside another StatementBegin block".into(),
                ));
            }
            Annotation::StatementBegin => block = Some(line.number),
            Annotation::StatementEnd if block.is_none() => {
                return Err(err(
                    line.number,
                    "`-- +goose StatementEnd` without `-- +goose StatementBegin`".into(),
                ));
            }
            Annotation::StatementEnd => block = None,
            Annotation::NoTransaction => no_tx = true,
            Annotation::Envsub => {}
        }
    }
    if let Some(line) = block {
        return Err(err(
            line,
            "`-- +goose StatementBegin` without `-- +goose StatementEnd`".into(),
        ));
    }
    let Some(up_start) = up else {
        return Err(err(
            1,
            "no `-- +goose Up` annotation; goose needs one".into(),
        ));
    };
    let mode = if no_tx {
        ExecMode::PerStatement
    } else {
        ExecMode::WrappedTx
    };
    let script = |range: std::ops::Range<usize>| Script {
        path: path.to_path_buf(),
        source: source.clone(),
        range,
        mode,
        delimiting: Delimiting::Goose,
        folded: Vec::new(),
    };
    let up_end = down.map_or(source.len(), |(start, _)| start);
    let up = script(up_start..up_end);
    let down = down.map(|(_, body)| script(body..source.len()));
    Ok(migration(version, name, up, down))
}

/// `(version, name)` of a goose file name: an `i64` version ≥ 1 before the first `_`
/// (pressly/goose `NumericComponent`).
fn parse_name(file: &str) -> std::result::Result<(&str, &str), &'static str> {
    let stem = file.strip_suffix(".sql").unwrap_or(file);
    let (version, name) = stem
        .split_once('_')
        .ok_or("goose needs `<version>_<name>.sql` (no `_` in the name)")?;
    let (digits, rest) = leading_digits(version);
    match digits.parse::<i64>() {
        Ok(n) if n >= 1 && rest.is_empty() => Ok((version, name)),
        _ => Err("goose needs a positive 64-bit integer version before the first `_`"),
    }
}

/// Loads a goose directory in version order. Every `.sql` file is a migration to goose, so a
/// badly named one is an error here as it is there.
pub fn load(files: &dyn Files, dir: &Path) -> Result<Vec<Migration>> {
    let listing = Listing::read_in(files, dir)?;
    let mut found = Vec::new();
    for entry in listing.sql_files() {
        let (version, name) = parse_name(&entry.name).map_err(|m| name_error(&entry.path, m))?;
        found.push(Found {
            version: version.to_string(),
            name: name.to_string(),
            direction: Direction::Up,
            path: entry.path.clone(),
        });
    }
    pair(found)?
        .into_iter()
        .map(|p| load_file(files, p.up, p.version, p.name))
        .collect()
}

fn load_file(files: &dyn Files, path: PathBuf, version: String, name: String) -> Result<Migration> {
    let source = read_sql_in(files, &path)?;
    parse(&path, source, version, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections(text: &str) -> Result<(String, Option<String>, ExecMode)> {
        let m = parse(Path::new("x.sql"), Arc::from(text), "1".into(), "x".into())?;
        Ok((
            m.up.text().to_string(),
            m.down.as_ref().map(|d| d.text().to_string()),
            m.up.mode,
        ))
    }

    #[test]
    fn up_and_down_sections() {
        let (up, down, mode) =
            sections("-- +goose Up\nCREATE TABLE t (id int);\n\n-- +goose Down\nDROP TABLE t;\n")
                .unwrap();
        assert_eq!(up, "CREATE TABLE t (id int);\n\n");
        assert_eq!(down.as_deref(), Some("DROP TABLE t;\n"));
        assert_eq!(mode, ExecMode::WrappedTx);
    }

    #[test]
    fn no_transaction_and_case() {
        let (up, down, mode) = sections(
            "-- +goose NO TRANSACTION\r\n-- +goose up\r\nCREATE INDEX CONCURRENTLY i ON t (a);\r\n",
        )
        .unwrap();
        assert_eq!(up, "CREATE INDEX CONCURRENTLY i ON t (a);\r\n");
        assert_eq!(down, None);
        assert_eq!(mode, ExecMode::PerStatement);
    }

    #[test]
    fn errors() {
        let e = |t: &str| sections(t).unwrap_err().to_string();
        assert_eq!(
            e("SELECT 1;\n-- +goose Up\n"),
            "x.sql:1: statement before `-- +goose Up`; goose rejects it"
        );
        assert_eq!(
            e("-- just a comment\n"),
            "x.sql:1: no `-- +goose Up` annotation; goose needs one"
        );
        assert_eq!(
            e("-- +goose Down\n"),
            "x.sql:1: `-- +goose Down` before `-- +goose Up`"
        );
        assert_eq!(
            e("-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n"),
            "x.sql:2: `-- +goose StatementBegin` without `-- +goose StatementEnd`"
        );
        assert_eq!(
            e("-- +goose Up\n-- +goose Sideways\n"),
            "x.sql:2: unsupported goose annotation `-- +goose Sideways`"
        );
    }

    #[test]
    fn names() {
        assert_eq!(
            parse_name("20240102030405_add_users.sql"),
            Ok(("20240102030405", "add_users"))
        );
        assert!(parse_name("0_zero.sql").is_err());
        assert!(parse_name("init.sql").is_err());
        assert!(parse_name("abc_init.sql").is_err());
    }
}
