//! Plain numbered files (`001_init.sql`, `0002-add-x.sql`, `3.sql`) run in numeric order, each
//! statement on its own as `psql -f` does. There are no down scripts in this layout.

use std::path::Path;

use super::files::Files;
use super::layout::{Direction, Found, Listing, leading_digits, load_pairs, name_error, pair};
use super::{ExecMode, Migration, Result};

/// `(version, name)` of a numbered file: the leading digits, and the rest of the stem without
/// its leading separators (`0002-add-x.sql` → `("0002", "add-x")`).
pub(crate) fn parse_name(name: &str) -> Option<(&str, &str)> {
    let stem = name.strip_suffix(".sql")?;
    let (digits, rest) = leading_digits(stem);
    (!digits.is_empty()).then(|| (digits, rest.trim_start_matches(['_', '-', '.', ' '])))
}

/// Up/down pairs belong to sqlx or golang-migrate, never to plain files.
fn is_paired(name: &str) -> bool {
    name.ends_with(".up.sql") || name.ends_with(".down.sql")
}

/// Whether the name is a plain numbered migration.
pub(crate) fn accepts(name: &str) -> bool {
    parse_name(name).is_some() && !is_paired(name)
}

/// Loads numbered files in numeric order. Files without a leading number (`seed.sql`) are not
/// migrations and are skipped; `.up.sql`/`.down.sql` files are an error because psql would run
/// both directions in a row.
pub fn load(files: &dyn Files, dir: &Path) -> Result<Vec<Migration>> {
    let listing = Listing::read_in(files, dir)?;
    let mut found = Vec::new();
    for entry in listing.sql_files() {
        let Some((version, name)) = parse_name(&entry.name) else {
            continue;
        };
        if is_paired(&entry.name) {
            return Err(name_error(
                &entry.path,
                "up/down file pairs are not plain numbered migrations; set `runner = \"sqlx\"` or `runner = \"golang-migrate\"`",
            ));
        }
        found.push(Found {
            version: version.to_string(),
            name: name.to_string(),
            direction: Direction::Up,
            path: entry.path.clone(),
        });
    }
    load_pairs(files, pair(found)?, |_, _| Ok(ExecMode::PerStatement))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse_name("001_init.sql"), Some(("001", "init")));
        assert_eq!(parse_name("0002-add-x.sql"), Some(("0002", "add-x")));
        assert_eq!(parse_name("3.sql"), Some(("3", "")));
        assert_eq!(parse_name("seed.sql"), None);
        assert!(!accepts("1_x.down.sql"));
    }
}
