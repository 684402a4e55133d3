//! Finding the migrations directory, telling runners apart, and loading explicit files.
//!
//! Detection never guesses: `runner = "…"` in `migsafe.toml` wins; then strong evidence (a
//! runner's config file next to files in its layout, or goose/dbmate markers inside the files);
//! then the file layout alone. Several candidates at the deciding step is an `Ambiguous` error
//! that asks for `runner = "…"` (research/ecosystem-aesthetics.md §A2, "Telling runners apart").

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::files::{Disk, Files};
use super::layout::{Listing, leading_digits, migration, parse_toml, toml_key_line};
use super::{
    ExecMode, Migration, Project, Result, Runner, Script, SourceError, dbmate, diesel, flyway,
    golang_migrate, goose, hints, plain, read_sql, refinery, sqitch, sqlx,
};

/// Where migrations usually live below a project root, in the order they are tried.
const SUBDIRS: [&str; 4] = ["migrations", "db/migrations", "db/migration", "sql"];

/// What loading needs beyond the files: settings from migsafe.toml.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `[flyway] placeholders` from migsafe.toml; they win over Flyway's own configuration.
    pub flyway_placeholders: std::collections::BTreeMap<String, String>,
    /// The scripts will run against a real database (plan, apply, rollback …): values that
    /// only a live Flyway run knows (`${flyway:user}` …) must be configured, not stood in for.
    pub executing: bool,
}

/// Finds the migrations under `dir` (see [`detect`]) and loads them. An explicit `runner` skips
/// detection. A directory with nothing to load is `NothingFound`.
pub fn discover(dir: &Path, runner: Option<Runner>) -> Result<Project> {
    discover_with(dir, runner, &LoadOptions::default())
}

/// [`discover`] with settings from migsafe.toml.
pub fn discover_with(dir: &Path, runner: Option<Runner>, opts: &LoadOptions) -> Result<Project> {
    discover_in(&Disk, dir, runner, opts)
}

/// [`discover_with`], loading the migrations through `files` (SQL from stdin standing in for
/// one file of the project). The directory is found and the runner detected on the disk.
pub fn discover_in(
    files: &dyn Files,
    dir: &Path,
    runner: Option<Runner>,
    opts: &LoadOptions,
) -> Result<Project> {
    let (root, listing) = resolve(dir)?;
    let (runner, runner_hint) = match runner {
        Some(r) => (r, None),
        None => detect_in(&root, &listing)?,
    };
    let migrations = load_dir_in(files, runner, &root, opts)?;
    if migrations.is_empty() {
        return Err(SourceError::NothingFound {
            path: root,
            looked_for: runner.to_string(),
        });
    }
    Ok(Project {
        runner,
        runner_hint,
        dirs: vec![root.clone()],
        root,
        migrations,
    })
}

/// Loads the migrations of several directories as one project (Flyway's `locations`, a
/// `migrations_dir` list), `root` being the directory they stand for. One directory is
/// [`discover_with`]. Several are read as the runner would read them, into one run order (see
/// [`load_dirs_in`]); a directory named twice (another spelling, a link) is read once, and one
/// without migrations adds nothing, as long as another has some. The project remembers the
/// directories it read ([`Project::dirs`]), for `lint --since` to read the same ones at a
/// commit.
pub fn load_project(
    root: &Path,
    dirs: &[PathBuf],
    runner: Option<Runner>,
    opts: &LoadOptions,
) -> Result<Project> {
    let mut unique: Vec<PathBuf> = Vec::with_capacity(dirs.len());
    let mut seen = Vec::with_capacity(dirs.len());
    for dir in dirs {
        if !dir.exists() {
            return Err(SourceError::Missing { path: dir.clone() });
        }
        let id = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
        if !seen.contains(&id) {
            seen.push(id);
            unique.push(dir.clone());
        }
    }
    if let [one] = unique.as_slice() {
        return discover_with(one, runner, opts);
    }
    // Each directory as discovery finds it (a project root stands for its `migrations/` …),
    // with the runner it holds; empty ones are left out.
    let mut parts: Vec<(PathBuf, Runner, Option<String>)> = Vec::with_capacity(unique.len());
    for dir in &unique {
        let (found, listing) = if runner == Some(Runner::Flyway) {
            // Flyway reads a location as named, subdirectories included.
            (dir.clone(), Listing::default())
        } else {
            resolve(dir)?
        };
        match runner {
            Some(r) => parts.push((found, r, None)),
            None => match detect_in(&found, &listing) {
                Ok((r, hint)) => parts.push((found, r, hint)),
                Err(SourceError::NothingFound { .. }) => {}
                Err(e) => return Err(e),
            },
        }
    }
    let Some((first, runner, runner_hint)) = parts.first().cloned() else {
        return Err(SourceError::NothingFound {
            path: root.to_path_buf(),
            looked_for: runner.map_or_else(
                || {
                    Runner::ALL
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                |r| r.to_string(),
            ),
        });
    };
    let layout = |message: String| SourceError::Layout {
        path: root.to_path_buf(),
        line: 1,
        message,
    };
    if let Some((other, other_runner, _)) = parts.iter().find(|p| p.1 != runner) {
        return Err(layout(format!(
            "the migrations directories are read as one project, but {} holds {runner} migrations and {} {other_runner} ones: lint them separately",
            first.display(),
            other.display(),
        )));
    }
    if runner == Runner::Sqitch && parts.len() > 1 {
        return Err(layout(
            "sqitch orders changes by its plan, which names one directory: lint each project on its own".into(),
        ));
    }
    let dirs: Vec<PathBuf> = parts.into_iter().map(|p| p.0).collect();
    let migrations = load_dirs_in(&Disk, runner, &dirs, opts)?;
    if migrations.is_empty() {
        return Err(SourceError::NothingFound {
            path: root.to_path_buf(),
            looked_for: runner.to_string(),
        });
    }
    Ok(Project {
        runner,
        runner_hint,
        root: root.to_path_buf(),
        dirs,
        migrations,
    })
}

/// The migrations of `dirs` read through `files` with one runner, as one project: Flyway
/// scans them all at once (an undo may live in another location than its versioned script);
/// other runners read each, and their migrations are merged into the runner's order, then
/// Flyway's repeatables by description. One version in two directories is an error, as the
/// runners refuse it. A directory without migrations adds nothing; none at all is an empty
/// list. `lint` reads the disk, `lint --since` a commit.
pub fn load_dirs_in(
    files: &dyn Files,
    runner: Runner,
    dirs: &[PathBuf],
    opts: &LoadOptions,
) -> Result<Vec<Migration>> {
    match dirs {
        [] => return Ok(Vec::new()),
        [one] => return load_dir_in(files, runner, one, opts),
        _ if runner == Runner::Flyway => return flyway::load_many(files, dirs, opts),
        _ => {}
    }
    let mut migrations = Vec::new();
    for dir in dirs {
        migrations.extend(load_dir_in(files, runner, dir, opts)?);
    }
    migrations.sort_by(|a, b| {
        a.repeatable.cmp(&b.repeatable).then_with(|| {
            if a.repeatable {
                a.name.cmp(&b.name)
            } else if super::runs_before(runner, a, b) {
                std::cmp::Ordering::Less
            } else if super::runs_before(runner, b, a) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
    });
    for pair in migrations.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if !a.repeatable && !b.repeatable && a.version == b.version {
            return Err(SourceError::Layout {
                path: b.up.path.clone(),
                line: 1,
                message: format!(
                    "version {} is also {}: two migrations with one version, which the runner refuses",
                    b.version,
                    a.up.path.display()
                ),
            });
        }
    }
    Ok(migrations)
}

/// Tells which runner owns the migrations under `dir`. When `dir` itself holds no migration
/// files, `migrations/`, `db/migrations/`, `db/migration/` and `sql/` below it are tried (and the
/// directory named by `diesel.toml` or `sqlx.toml` there), so a project root works too.
pub fn detect(dir: &Path) -> Result<Runner> {
    let (root, listing) = resolve(dir)?;
    Ok(detect_in(&root, &listing)?.0)
}

/// Loads files named on the command line, one migration each. goose and dbmate files are split
/// into their sections by their markers; any other file is a plain script run statement by
/// statement. The version is the file name's leading digits (or its stem), and the runner is
/// goose or dbmate when every file says so, else plain.
pub fn load_files(files: &[PathBuf]) -> Result<Project> {
    let mut sources = Vec::with_capacity(files.len());
    for path in files {
        if path.extension().is_none_or(|e| e != "sql") {
            return Err(SourceError::NotSql { path: path.clone() });
        }
        sources.push((path.clone(), read_sql(path)?));
    }
    load_sources(sources)
}

/// Migrations from SQL already in memory (stdin), each named by its path; as [`load_files`].
pub fn load_sources(sources: Vec<(PathBuf, Arc<str>)>) -> Result<Project> {
    let files: Vec<PathBuf> = sources.iter().map(|(p, _)| p.clone()).collect();
    let mut migrations = Vec::with_capacity(sources.len());
    let mut runners = Vec::with_capacity(sources.len());
    for (path, source) in sources {
        let path = &path;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = file_name.strip_suffix(".sql").unwrap_or(&file_name);
        let (digits, rest) = leading_digits(stem);
        let (version, name) = if digits.is_empty() {
            (stem.to_string(), String::new())
        } else {
            (
                digits.to_string(),
                rest.trim_start_matches(['_', '-', '.']).to_string(),
            )
        };
        let (m, runner) = if goose::has_marker(&source) {
            (goose::parse(path, source, version, name)?, Runner::Goose)
        } else if dbmate::has_marker(&source) {
            (dbmate::parse(path, source, version, name)?, Runner::Dbmate)
        } else {
            let up = Script::whole(path.clone(), source, ExecMode::PerStatement);
            (migration(version, name, up, None), Runner::Plain)
        };
        migrations.push(m);
        runners.push(runner);
    }
    let runner = match runners.first() {
        Some(&first) if runners.iter().all(|&r| r == first) => first,
        _ => Runner::Plain,
    };
    Ok(Project {
        runner,
        runner_hint: None,
        root: common_parent(&files),
        dirs: Vec::new(),
        migrations,
    })
}

/// Loads `dir` with one runner's layout: no detection, no looking below it, and an empty list
/// when it holds no migrations.
pub fn load_dir(runner: Runner, dir: &Path) -> Result<Vec<Migration>> {
    load_dir_with(runner, dir, &LoadOptions::default())
}

/// [`load_dir`] with settings from migsafe.toml.
pub fn load_dir_with(runner: Runner, dir: &Path, opts: &LoadOptions) -> Result<Vec<Migration>> {
    load_dir_in(&Disk, runner, dir, opts)
}

/// [`load_dir_with`], reading the directory through `files` (`lint --since` reads the base
/// from git). Flyway's configuration files are read from the disk.
pub fn load_dir_in(
    files: &dyn Files,
    runner: Runner,
    dir: &Path,
    opts: &LoadOptions,
) -> Result<Vec<Migration>> {
    match runner {
        Runner::Diesel => diesel::load(files, dir),
        Runner::Sqlx => sqlx::load(files, dir),
        Runner::GolangMigrate => golang_migrate::load(files, dir),
        Runner::Goose => goose::load(files, dir),
        Runner::Dbmate => dbmate::load(files, dir),
        Runner::Flyway => flyway::load(files, dir, opts),
        Runner::Refinery => refinery::load(files, dir),
        Runner::Sqitch => sqitch::load(files, dir),
        Runner::Plain => plain::load(files, dir),
    }
}

/// Whether a directory holds anything a runner could load.
fn has_migrations(listing: &Listing) -> bool {
    listing.sql_files().next().is_some()
        || listing.has_file(sqitch::PLAN)
        || listing.has_file(sqitch::CONF)
        || listing
            .dirs
            .iter()
            .any(|d| diesel::is_migration_dir(&d.path))
}

/// The migrations directory for `dir`, with its listing.
fn resolve(dir: &Path) -> Result<(PathBuf, Listing)> {
    let listing = Listing::read(dir)?;
    if has_migrations(&listing) {
        return Ok((dir.to_path_buf(), listing));
    }
    let mut candidates: Vec<PathBuf> = configured_dirs(dir);
    candidates.extend(SUBDIRS.iter().map(|s| dir.join(s)));
    for candidate in candidates {
        if candidate.is_dir() {
            let sub = Listing::read(&candidate)?;
            if has_migrations(&sub) {
                return Ok((candidate, sub));
            }
        }
    }
    Ok((dir.to_path_buf(), listing))
}

/// Migration directories named by `diesel.toml` (`[migrations_directory] dir`) and `sqlx.toml`
/// (`[migrate] migrations-dir`) in `dir`. Broken files are left to the runners to report.
fn configured_dirs(dir: &Path) -> Vec<PathBuf> {
    let lookup = |file: &str, table: &str, key: &str| -> Option<PathBuf> {
        let path = dir.join(file);
        if !path.is_file() {
            return None;
        }
        let doc = parse_toml(&path).ok()?;
        doc.get(table)?.get(key)?.as_str().map(|d| dir.join(d))
    };
    [
        lookup("diesel.toml", "migrations_directory", "dir"),
        lookup("sqlx.toml", "migrate", "migrations-dir"),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// `runner = "…"` from a `migsafe.toml` in the migrations directory or up to two levels above
/// (the project root above `migrations/` or `db/migrations/`).
fn configured_runner(root: &Path) -> Result<Option<Runner>> {
    let Some(path) = super::layout::ancestors(root, 2)
        .map(|d| d.join("migsafe.toml"))
        .find(|p| p.is_file())
    else {
        return Ok(None);
    };
    let doc = parse_toml(&path)?;
    let Some(value) = doc.get("runner") else {
        return Ok(None);
    };
    let wanted = value.as_str().unwrap_or_default();
    match Runner::ALL.into_iter().find(|r| r.as_str() == wanted) {
        Some(r) => Ok(Some(r)),
        None => {
            let line = std::fs::read_to_string(&path).map_or(1, |t| toml_key_line(&t, "runner"));
            let names: Vec<&str> = Runner::ALL.iter().map(|r| r.as_str()).collect();
            Err(SourceError::Layout {
                path,
                line,
                message: format!(
                    "unknown runner {value}; expected one of {}",
                    names.join(", ")
                ),
            })
        }
    }
}

/// How much of a directory's layout belongs to a runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fit {
    None,
    /// Some files fit, others do not.
    Partial,
    /// Every migration-shaped file fits.
    Full,
}

fn fit(runner: Runner, dir: &Path, listing: &Listing) -> Fit {
    let by_name = |accepts: fn(&str) -> bool, ignore: fn(&str) -> bool| {
        let names: Vec<&str> = listing
            .sql_files()
            .map(|e| e.name.as_str())
            .filter(|n| !ignore(n))
            .collect();
        let fitting = names.iter().filter(|n| accepts(n)).count();
        match fitting {
            0 => Fit::None,
            n if n == names.len() => Fit::Full,
            _ => Fit::Partial,
        }
    };
    let none = |_: &str| false;
    match runner {
        Runner::Diesel => {
            if !listing
                .dirs
                .iter()
                .any(|d| diesel::is_migration_dir(&d.path))
            {
                Fit::None
            } else if listing.sql_files().next().is_some() {
                Fit::Partial
            } else {
                Fit::Full
            }
        }
        Runner::Sqitch if sqitch::has_signal(dir) => Fit::Full,
        Runner::Sqitch | Runner::Goose | Runner::Dbmate => Fit::None,
        Runner::Sqlx => by_name(sqlx::accepts, none),
        Runner::GolangMigrate => by_name(golang_migrate::accepts, none),
        Runner::Flyway => by_name(flyway::accepts, flyway::is_callback),
        Runner::Refinery => by_name(refinery::accepts, none),
        Runner::Plain => by_name(plain::accepts, none),
    }
}

/// Config files (and Flyway-only files) that name a runner, by the file that shows it.
fn has_signal(runner: Runner, dir: &Path, listing: &Listing) -> Option<String> {
    match runner {
        Runner::Diesel => diesel::has_signal(dir),
        Runner::Sqlx => sqlx::has_signal(dir),
        Runner::Flyway => flyway::has_signal(dir, listing),
        Runner::Refinery => refinery::has_signal(dir),
        Runner::Sqitch => sqitch::has_signal(dir).then(|| sqitch::PLAN.to_string()),
        Runner::GolangMigrate | Runner::Goose | Runner::Dbmate | Runner::Plain => None,
    }
}

/// `(goose, dbmate)`: whether any `.sql` file carries `-- +goose Up` or `-- migrate:up`.
/// Unreadable files are skipped here; loading reports them.
fn markers(listing: &Listing) -> (bool, bool) {
    let (mut goose_seen, mut dbmate_seen) = (false, false);
    for entry in listing.sql_files() {
        let Ok(bytes) = std::fs::read(&entry.path) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        goose_seen |= goose::has_marker(&text);
        dbmate_seen |= dbmate::has_marker(&text);
    }
    (goose_seen, dbmate_seen)
}

/// The runner of a directory, and the file that decided it when the layout alone fits several.
///
/// Order: `runner = "…"` in migsafe.toml; then strong evidence — goose/dbmate markers in the
/// files, and runners whose layout fits at least partly and that a config file or a repository
/// hint names (`hints.rs`); then the layout alone (every file fits, then some). Several
/// candidates with markers or evidence are narrowed to those a file names; one left decides,
/// several (hints that disagree) or none is `Ambiguous`.
fn detect_in(root: &Path, listing: &Listing) -> Result<(Runner, Option<String>)> {
    if let Some(runner) = configured_runner(root)? {
        return Ok((runner, None));
    }
    let (goose_seen, dbmate_seen) = markers(listing);
    let repo_hints = hints::find(root);
    let evidence = |r: Runner| -> Option<String> {
        has_signal(r, root, listing).or_else(|| {
            repo_hints
                .iter()
                .find(|h| h.runner == r)
                .map(|h| h.from.clone())
        })
    };
    let mut strong: Vec<(Runner, Option<String>)> = Vec::new();
    for r in Runner::ALL {
        let marked = match r {
            Runner::Goose => goose_seen,
            Runner::Dbmate => dbmate_seen,
            _ => false,
        };
        let named = evidence(r).filter(|_| marked || fit(r, root, listing) != Fit::None);
        if marked || named.is_some() {
            strong.push((r, named));
        }
    }
    // A file decided only when the layout (files and markers) fits more than one runner;
    // naming it otherwise would credit it with a choice the layout made.
    let contested = Runner::ALL
        .into_iter()
        .filter(|&r| {
            fit(r, root, listing) != Fit::None
                || (r == Runner::Goose && goose_seen)
                || (r == Runner::Dbmate && dbmate_seen)
        })
        .count()
        > 1;
    let credit = |from: &Option<String>| from.clone().filter(|_| contested);
    match strong.as_slice() {
        [] => {}
        [(one, from)] => return Ok((*one, credit(from))),
        many => {
            let named: Vec<&(Runner, Option<String>)> =
                many.iter().filter(|(_, from)| from.is_some()).collect();
            if let [(one, from)] = named.as_slice() {
                return Ok((*one, credit(from)));
            }
            let hints = if named.len() > 1 {
                let list: Vec<String> = named
                    .iter()
                    .map(|(r, from)| format!("{r} from {}", from.as_deref().unwrap_or_default()))
                    .collect();
                format!(
                    ", and the repository points to several ({})",
                    list.join(", ")
                )
            } else {
                String::new()
            };
            return Err(ambiguous(root, many.iter().map(|(r, _)| *r), hints));
        }
    }
    let fits: Vec<(Runner, Fit)> = Runner::ALL
        .into_iter()
        .map(|r| (r, fit(r, root, listing)))
        .collect();
    for level in [Fit::Full, Fit::Partial] {
        let candidates: Vec<Runner> = fits
            .iter()
            .filter(|(_, f)| *f == level)
            .map(|(r, _)| *r)
            .collect();
        match candidates.as_slice() {
            [] => {}
            [one] => return Ok((*one, None)),
            many => return Err(ambiguous(root, many.iter().copied(), String::new())),
        }
    }
    let all: Vec<&str> = Runner::ALL.iter().map(|r| r.as_str()).collect();
    Err(SourceError::NothingFound {
        path: root.to_path_buf(),
        looked_for: all.join(", "),
    })
}

fn ambiguous(root: &Path, candidates: impl Iterator<Item = Runner>, hints: String) -> SourceError {
    let names: Vec<&str> = candidates.map(Runner::as_str).collect();
    SourceError::Ambiguous {
        path: root.to_path_buf(),
        candidates: names.join(", "),
        hints,
    }
}

/// The deepest directory containing every file (empty for no files or unrelated roots).
fn common_parent(files: &[PathBuf]) -> PathBuf {
    let parents = files.iter().map(|f| f.parent().unwrap_or(Path::new("")));
    let mut common: Option<Vec<Component<'_>>> = None;
    for parent in parents {
        let comps: Vec<Component<'_>> = parent.components().collect();
        common = Some(match common {
            None => comps,
            Some(prev) => prev
                .into_iter()
                .zip(comps)
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a)
                .collect(),
        });
    }
    let common: PathBuf = common.map(|c| c.into_iter().collect()).unwrap_or_default();
    if common.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        common
    }
}
