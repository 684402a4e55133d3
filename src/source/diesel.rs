//! diesel: one folder per migration, `<YYYY-MM-DD-HHMMSS>_<name>/up.sql` with an optional
//! `down.sql` and an optional `metadata.toml`. The version is the folder name up to the first
//! `_` with `-` removed (diesel-rs/diesel `migrations_internals/src/lib.rs`). diesel sends each
//! file as one batch inside a transaction, or, with `run_in_transaction = false` in
//! `metadata.toml`, as one simple query (PostgreSQL's implicit transaction for a multi-statement
//! string still applies).

use std::path::Path;

use super::files::{Disk, Files};
use super::layout::{
    Direction, Found, Listing, Order, load_pairs, pair_in, parse_toml_in, toml_key_line,
};
use super::{ExecMode, Migration, Result, SourceError};

/// Whether a folder is a diesel migration folder (diesel requires `up.sql`; a lone `down.sql`
/// is counted here so that it is reported instead of skipped).
pub(crate) fn is_migration_dir(dir: &Path) -> bool {
    is_migration_dir_in(&Disk, dir)
}

fn is_migration_dir_in(files: &dyn Files, dir: &Path) -> bool {
    files.is_file(&dir.join("up.sql")) || files.is_file(&dir.join("down.sql"))
}

/// `diesel.toml` in the directory or its parent (the project root above `migrations/`).
pub(crate) fn has_signal(dir: &Path) -> Option<String> {
    super::layout::found_upwards(dir, 1, &["diesel.toml"])
}

/// `(version, name)` of a migration folder name: `2024-01-02-030405_create_users` →
/// `("20240102030405", "create_users")`.
pub(crate) fn parse_dir_name(name: &str) -> (String, String) {
    let (version, rest) = name.split_once('_').unwrap_or((name, ""));
    (version.replace('-', ""), rest.to_string())
}

/// The mode set by the migration folder's `metadata.toml`, if any.
fn mode_of(files: &dyn Files, folder: &Path) -> Result<ExecMode> {
    let path = folder.join("metadata.toml");
    if !files.is_file(&path) {
        return Ok(ExecMode::WrappedTx);
    }
    let (table, text) = parse_toml_in(files, &path)?;
    match table.get("run_in_transaction") {
        None | Some(toml::Value::Boolean(true)) => Ok(ExecMode::WrappedTx),
        Some(toml::Value::Boolean(false)) => Ok(ExecMode::SingleSimpleQuery),
        Some(other) => Err(SourceError::Layout {
            line: toml_key_line(&text, "run_in_transaction"),
            path,
            message: format!("run_in_transaction must be true or false, found {other}"),
        }),
    }
}

/// Loads a diesel migrations directory in version order. Dot-folders and folders without SQL
/// scripts are skipped, as diesel skips them.
pub fn load(files: &dyn Files, dir: &Path) -> Result<Vec<Migration>> {
    let listing = Listing::read_in(files, dir)?;
    let mut found = Vec::new();
    for folder in listing
        .dirs
        .iter()
        .filter(|d| is_migration_dir_in(files, &d.path))
    {
        let (version, name) = parse_dir_name(&folder.name);
        for (file, direction) in [("up.sql", Direction::Up), ("down.sql", Direction::Down)] {
            let path = folder.path.join(file);
            if files.is_file(&path) {
                found.push(Found {
                    version: version.clone(),
                    name: name.clone(),
                    direction,
                    path,
                });
            }
        }
    }
    load_pairs(files, pair_in(found, Order::Text)?, |path, _| {
        mode_of(files, path.parent().unwrap_or(dir))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names() {
        assert_eq!(
            parse_dir_name("2024-01-02-030405_create_users"),
            ("20240102030405".into(), "create_users".into())
        );
        assert_eq!(
            parse_dir_name("00000000000000_diesel_initial_setup").0,
            "00000000000000"
        );
        assert_eq!(
            parse_dir_name("2024-01-02"),
            ("20240102".into(), String::new())
        );
    }
}
