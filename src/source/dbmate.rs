//! dbmate: `db/migrations/<digits>….sql`, each file with a `-- migrate:up` section followed by a
//! required `-- migrate:down` section (amacneil/dbmate `pkg/dbmate/migration.go`). Only blank and
//! comment lines may precede `-- migrate:up`. Options follow the directive:
//! `-- migrate:up transaction:false` sends the section as one simple query instead of wrapping it
//! in a transaction.

use std::path::Path;
use std::sync::Arc;

use super::files::Files;
use super::layout::{
    Direction, Found, Line, Listing, Order, leading_digits, lines, migration, pair_in,
};
use super::{Delimiting, ExecMode, Migration, Result, Script, SourceError, read_sql_in};

/// The options after `-- migrate:<which>` if the line is that directive (dbmate:
/// `^--\s*migrate:up(\s*$|\s+\S+)`).
fn directive<'a>(line: &'a str, which: &str) -> Option<&'a str> {
    let rest = line
        .strip_prefix("--")?
        .trim_start()
        .strip_prefix("migrate:")?
        .strip_prefix(which)?;
    (rest.is_empty() || rest.starts_with(char::is_whitespace)).then(|| rest.trim())
}

/// Whether the text has a `-- migrate:up` directive.
pub(crate) fn has_marker(text: &str) -> bool {
    lines(text).any(|l| directive(l.text, "up").is_some())
}

/// dbmate's mode for a section, from its directive's options.
fn mode_of(options: &str) -> ExecMode {
    let no_tx = options
        .split_whitespace()
        .any(|o| o.split_once(':') == Some(("transaction", "false")));
    if no_tx {
        ExecMode::SingleSimpleQuery
    } else {
        ExecMode::WrappedTx
    }
}

/// Splits a dbmate file into its up and down sections (the text after each directive line),
/// sharing the file's text so that line numbers stay file-relative.
pub(crate) fn parse(
    path: &Path,
    source: Arc<str>,
    version: String,
    name: String,
) -> Result<Migration> {
    let err = |line: usize, message: &str| SourceError::Layout {
        path: path.to_path_buf(),
        line,
        message: message.to_string(),
    };
    let find = |which: &str| -> Option<(Line<'_>, &str)> {
        lines(&source).find_map(|l| directive(l.text, which).map(|options| (l, options)))
    };
    let Some((up, up_options)) = find("up") else {
        return Err(err(1, "dbmate requires a `-- migrate:up` section"));
    };
    let Some((down, down_options)) = find("down") else {
        return Err(err(
            up.number,
            "dbmate requires a `-- migrate:down` section after `-- migrate:up` (it may be empty)",
        ));
    };
    if down.start < up.start {
        return Err(err(
            down.number,
            "`-- migrate:down` before `-- migrate:up`; dbmate requires up first",
        ));
    }
    if let Some(stray) = lines(&source[..up.start]).find(|l| {
        let t = l.text.trim();
        !t.is_empty() && !t.starts_with("--")
    }) {
        return Err(err(
            stray.number,
            "statement before `-- migrate:up`; dbmate rejects it",
        ));
    }
    let script = |range: std::ops::Range<usize>, options: &str| Script {
        path: path.to_path_buf(),
        source: source.clone(),
        range,
        mode: mode_of(options),
        delimiting: Delimiting::Standard,
        folded: Vec::new(),
    };
    let up_script = script(up.next..down.start, up_options);
    let down_script = script(down.next..source.len(), down_options);
    Ok(migration(version, name, up_script, Some(down_script)))
}

/// `(version, name)` of a dbmate file name (`^(\d+).*\.sql$`); the name drops leading separators.
pub(crate) fn parse_name(file: &str) -> Option<(&str, &str)> {
    let (digits, rest) = leading_digits(file.strip_suffix(".sql")?);
    (!digits.is_empty()).then(|| (digits, rest.trim_start_matches(['_', '-', '.'])))
}

/// Loads a dbmate migrations directory in version order; files that do not start with digits
/// are skipped, as dbmate skips them.
pub fn load(files: &dyn Files, dir: &Path) -> Result<Vec<Migration>> {
    let listing = Listing::read_in(files, dir)?;
    let found = listing
        .sql_files()
        .filter_map(|e| {
            parse_name(&e.name).map(|(version, name)| Found {
                version: version.to_string(),
                name: name.to_string(),
                direction: Direction::Up,
                path: e.path.clone(),
            })
        })
        .collect();
    pair_in(found, Order::FileName)?
        .into_iter()
        .map(|p| {
            let source = read_sql_in(files, &p.up)?;
            parse(&p.up, source, p.version, p.name)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<Migration> {
        parse(Path::new("x.sql"), Arc::from(text), "1".into(), "x".into())
    }

    #[test]
    fn sections_and_options() {
        let m = parsed("-- a comment\n\n-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (a);\n\n-- migrate:down\nDROP INDEX CONCURRENTLY i;\n").unwrap();
        assert_eq!(m.up.text(), "CREATE INDEX CONCURRENTLY i ON t (a);\n\n");
        assert_eq!(m.up.mode, ExecMode::SingleSimpleQuery);
        let down = m.down.unwrap();
        assert_eq!(down.text(), "DROP INDEX CONCURRENTLY i;\n");
        assert_eq!(down.mode, ExecMode::WrappedTx);
    }

    #[test]
    fn errors() {
        let e = |t: &str| parsed(t).unwrap_err().to_string();
        assert_eq!(
            e("CREATE TABLE t ();\n"),
            "x.sql:1: dbmate requires a `-- migrate:up` section"
        );
        assert_eq!(
            e("\n-- migrate:up\nSELECT 1;\n"),
            "x.sql:2: dbmate requires a `-- migrate:down` section after `-- migrate:up` (it may be empty)"
        );
        assert_eq!(
            e("SELECT 1;\n-- migrate:up\n-- migrate:down\n"),
            "x.sql:1: statement before `-- migrate:up`; dbmate rejects it"
        );
        assert_eq!(
            e("-- migrate:down\n-- migrate:up\n"),
            "x.sql:1: `-- migrate:down` before `-- migrate:up`; dbmate requires up first"
        );
        assert!(parsed("-- migrate:upgrade\n").is_err());
    }
}
