//! golang-migrate: `<VERSION>_<TITLE>.up.sql` with an optional `.down.sql`, matched by
//! `^([0-9]+)_(.*)\.(down|up)\.(.*)$` (golang-migrate/migrate `source/parse.go`; only `.sql` is
//! read here). There is no transaction: the whole file is one `Exec`, i.e. one simple query, so
//! PostgreSQL runs a multi-statement file as one implicit transaction.

use std::path::Path;

use super::files::Files;
use super::layout::{Direction, Found, Listing, load_pairs, pair};
use super::{ExecMode, Migration, Result};

/// `(version, title, direction)` for a golang-migrate `.sql` file name.
fn parse_name(name: &str) -> Option<(&str, &str, Direction)> {
    let (version, rest) = name.split_once('_')?;
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Some(title) = rest.strip_suffix(".up.sql") {
        Some((version, title, Direction::Up))
    } else {
        rest.strip_suffix(".down.sql")
            .map(|title| (version, title, Direction::Down))
    }
}

/// Whether golang-migrate would read this file name as a migration.
pub(crate) fn accepts(name: &str) -> bool {
    parse_name(name).is_some()
}

/// Loads a golang-migrate directory in version order; files that do not match the pattern are
/// skipped, as golang-migrate skips them.
pub fn load(files: &dyn Files, dir: &Path) -> Result<Vec<Migration>> {
    let listing = Listing::read_in(files, dir)?;
    let found = listing
        .sql_files()
        .filter_map(|e| {
            parse_name(&e.name).map(|(version, name, direction)| Found {
                version: version.to_string(),
                name: name.to_string(),
                direction,
                path: e.path.clone(),
            })
        })
        .collect();
    load_pairs(files, pair(found)?, |_, _| Ok(ExecMode::SingleSimpleQuery))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            parse_name("1_init.up.sql"),
            Some(("1", "init", Direction::Up))
        );
        assert_eq!(
            parse_name("0002_a.b.down.sql"),
            Some(("0002", "a.b", Direction::Down))
        );
        assert_eq!(parse_name("1_init.sql"), None);
        assert_eq!(parse_name("x_init.up.sql"), None);
        assert_eq!(parse_name("1.up.sql"), None);
    }
}
