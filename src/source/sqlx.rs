//! sqlx: `<VERSION>_<DESCRIPTION>.sql` (simple) or `<VERSION>_<DESCRIPTION>.up.sql` with an
//! optional `.down.sql` (reversible). VERSION is an `i64`. A file whose text starts with
//! `-- no-transaction` is sent as one simple query; every other file runs inside a transaction
//! together with sqlx's bookkeeping row (launchbadge/sqlx `sqlx-core/src/migrate/source.rs`).

use std::path::Path;

use super::files::Files;
use super::layout::{Direction, Found, Listing, found_upwards, load_pairs, name_error, pair};
use super::{ExecMode, Migration, Result};

/// How sqlx names a file: `(version, description, direction)`, or `None` when sqlx skips it
/// (no `_`, not `.sql`). A version that is not an `i64` is an error in sqlx, so it is one here.
fn parse_name(name: &str) -> Option<std::result::Result<(&str, &str, Direction), String>> {
    let (version, rest) = name.split_once('_')?;
    let rest = rest.strip_suffix(".sql")?;
    if !version.bytes().all(|b| b.is_ascii_digit()) || version.parse::<i64>().is_err() {
        return Some(Err(format!(
            "sqlx needs a 64-bit integer version before the first `_`, found `{version}` (e.g. `0001_create_users.sql`)"
        )));
    }
    Some(Ok(if let Some(desc) = rest.strip_suffix(".up") {
        (version, desc, Direction::Up)
    } else if let Some(desc) = rest.strip_suffix(".down") {
        (version, desc, Direction::Down)
    } else {
        (version, rest, Direction::Up)
    }))
}

/// Whether sqlx would load this file name as a migration.
pub(crate) fn accepts(name: &str) -> bool {
    matches!(parse_name(name), Some(Ok(_)))
}

/// `sqlx.toml` in the directory or up to three levels above (a Cargo manifest depending on
/// sqlx is a repository hint, see `hints.rs`).
pub(crate) fn has_signal(dir: &Path) -> Option<String> {
    found_upwards(dir, 3, &["sqlx.toml"])
}

/// The execution mode sqlx uses for one file.
pub(crate) fn mode_of(text: &str) -> ExecMode {
    if text.starts_with("-- no-transaction") {
        ExecMode::SingleSimpleQuery
    } else {
        ExecMode::WrappedTx
    }
}

/// Loads a sqlx migrations directory in version order. The name keeps the file's spelling
/// (`create_users`; sqlx itself shows `create users`) so that [`Migration::id`] reads like the file.
pub fn load(files: &dyn Files, dir: &Path) -> Result<Vec<Migration>> {
    let listing = Listing::read_in(files, dir)?;
    let mut found = Vec::new();
    for entry in listing.sql_files() {
        match parse_name(&entry.name) {
            None => {}
            Some(Err(message)) => return Err(name_error(&entry.path, message)),
            Some(Ok((version, name, direction))) => found.push(Found {
                version: version.to_string(),
                name: name.to_string(),
                direction,
                path: entry.path.clone(),
            }),
        }
    }
    load_pairs(files, pair(found)?, |_, text| Ok(mode_of(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(accepts("20240101000000_create_users.sql"));
        assert!(accepts("1_a.up.sql"));
        assert!(accepts("1_a.down.sql"));
        assert!(!accepts("0001-init.sql"));
        assert!(!accepts("abc_def.sql"));
        assert!(!accepts("99999999999999999999_too_big.sql"));
        assert!(!accepts("-1_negative.sql"));
        assert!(parse_name("3.sql").is_none());
    }
}
