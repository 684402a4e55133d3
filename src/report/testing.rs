//! Real lint reports for the renderers' snapshot tests. Fixtures are linted by absolute path
//! and rendered relative to their directory, so snapshots hold no temp directory names.

use std::path::Path;

use super::Report;
use super::location::Base;
use crate::lint::{LintOptions, lint};

pub(crate) struct Fixture {
    pub report: Report,
    _dir: Option<tempfile::TempDir>,
}

/// Linted by absolute path, with paths made relative to `dir` as if it were the repository.
fn lint_dir(dir: &Path, rel: &str) -> Report {
    let mut report = lint(&LintOptions {
        executing: false,
        paths: vec![dir.join(rel)],
        ..Default::default()
    })
    .expect("fixture lints");
    report.rebase(&Base::at(dir));
    report
}

/// The repository's example: two errors and two warnings, one of them on an empty down script.
pub(crate) fn release_20h() -> Fixture {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    Fixture {
        report: lint_dir(repo, "migrations-examples/release-20h"),
        _dir: None,
    }
}

pub(crate) fn project(files: &[(&str, &str)]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sqlx.toml"), "").unwrap();
    for (rel, text) in files {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    Fixture {
        report: lint_dir(dir.path(), "migrations"),
        _dir: Some(dir),
    }
}

/// An sqlx project under `migrations/` with an `accounts` table and a second migration.
pub(crate) fn accounts_then(up: &str) -> Fixture {
    project(&[
        (
            "migrations/1_init.up.sql",
            "CREATE TABLE accounts (id bigint PRIMARY KEY, plan text, legacy text);\n",
        ),
        ("migrations/1_init.down.sql", "DROP TABLE accounts;\n"),
        ("migrations/2_change.up.sql", up),
    ])
}

/// A suppressed finding, a warning, a column name holding `%`, `,`, `:` and a newline (escaping),
/// and a finding after a multi-byte character on its line (byte versus character columns).
pub(crate) fn hostile() -> Fixture {
    project(&[
        (
            "migrations/1_init.up.sql",
            "CREATE TABLE accounts (id bigint PRIMARY KEY, \"50%, off:\nnow\" text, café text, legacy text);\n",
        ),
        ("migrations/1_init.down.sql", "DROP TABLE accounts;\n"),
        (
            "migrations/2_change.up.sql",
            "-- migsafe:ignore drop-column nobody has read it since 1.4\n\
             ALTER TABLE accounts DROP COLUMN legacy;\n\
             ALTER TABLE accounts DROP COLUMN \"50%, off:\nnow\";\n\
             /* prix en € */ ALTER TABLE accounts DROP COLUMN café;\n",
        ),
        (
            "migrations/2_change.down.sql",
            "ALTER TABLE accounts ADD COLUMN legacy text, ADD COLUMN \"50%, off:\nnow\" text, ADD COLUMN café text;\n",
        ),
    ])
}

/// Reversible migrations and nothing to report.
pub(crate) fn clean() -> Fixture {
    project(&[
        (
            "migrations/1_init.up.sql",
            "CREATE TABLE accounts (id bigint PRIMARY KEY);\n",
        ),
        ("migrations/1_init.down.sql", "DROP TABLE accounts;\n"),
    ])
}
