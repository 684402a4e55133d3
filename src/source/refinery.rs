//! refinery: `[U|V]<version>__<name>.sql`, matched by `^([U|V])(\d+(?:\.\d+)?)__(\w+)` (rust-db/refinery
//! `refinery_core/src/util.rs`). `V` files must run in order, `U` files may be applied out of
//! order; both are ups. refinery has no down scripts by design and runs every migration in a
//! transaction, with no way to opt out.

use std::path::Path;

use super::files::Files;
use super::layout::{Direction, Found, Listing, found_upwards, load_pairs, name_error, pair};
use super::{ExecMode, Migration, Result};

/// `(version, name)` of a refinery file name.
fn parse_name(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix(['U', 'V'])?.strip_suffix(".sql")?;
    let (version, name) = rest.split_once("__")?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let version_ok = match version.split_once('.') {
        Some((major, minor)) => digits(major) && digits(minor),
        None => digits(version),
    };
    let name_ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    (version_ok && name_ok).then_some((version, name))
}

/// Whether refinery would read this file name as a migration.
pub(crate) fn accepts(name: &str) -> bool {
    parse_name(name).is_some()
}

/// Names that start like a refinery migration (`V1…`, `U2…`) but do not match the pattern:
/// refinery would skip them silently, which is how a migration goes missing.
pub(crate) fn looks_versioned(name: &str) -> bool {
    name.strip_prefix(['U', 'V'])
        .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
}

/// `refinery.toml` in the directory or up to three levels above (a Cargo manifest depending
/// on refinery is a repository hint, see `hints.rs`).
pub(crate) fn has_signal(dir: &Path) -> Option<String> {
    found_upwards(dir, 3, &["refinery.toml"])
}

/// Loads a refinery directory in version order. A `U` and a `V` file with the same version are
/// duplicates: refinery keys its history table by version alone.
pub fn load(files: &dyn Files, dir: &Path) -> Result<Vec<Migration>> {
    let listing = Listing::read_in(files, dir)?;
    let mut found = Vec::new();
    for entry in listing.sql_files() {
        match parse_name(&entry.name) {
            Some((version, name)) => found.push(Found {
                version: version.to_string(),
                name: name.to_string(),
                direction: Direction::Up,
                path: entry.path.clone(),
            }),
            None if looks_versioned(&entry.name) => {
                return Err(name_error(
                    &entry.path,
                    "not a refinery migration name: expected `V<version>__<name>.sql` (two underscores, name of letters, digits and `_`)",
                ));
            }
            None => {}
        }
    }
    load_pairs(files, pair(found)?, |_, _| Ok(ExecMode::WrappedTx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse_name("V1__initial.sql"), Some(("1", "initial")));
        assert_eq!(
            parse_name("U2.1__add_users.sql"),
            Some(("2.1", "add_users"))
        );
        assert_eq!(parse_name("V1_initial.sql"), None);
        assert_eq!(parse_name("V1.2.3__x.sql"), None);
        assert_eq!(parse_name("V1__with-dash.sql"), None);
        assert_eq!(parse_name("R__view.sql"), None);
    }
}
