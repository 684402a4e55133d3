//! `migsafe lint --since REV`: which migrations a branch added or changed, and the history rules
//! (MS3xx) that compare them with the migrations already merged.
//!
//! The base is `git merge-base REV HEAD`. git says which files under a project's migrations
//! directory differ from the base (the working tree counts, untracked files too); the project
//! as it was at the base is then loaded with the same runner straight from git ([`tree`]), so
//! that old and new migrations are compared as migrations (versions, run order, up and down
//! scripts) rather than as file names.

mod edits;
mod tree;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::classify::Pos;
use crate::git::{Change, EntryKind, GitError, Objects, Repo};
use crate::rules::history::edited_applied_migration::EditedAppliedMigration;
use crate::rules::history::out_of_order_migration::OutOfOrderMigration;
use crate::rules::{Finding, RuleConfig, RuleMeta, Severity};
use crate::source::{self, Migration, Project, Runner, Script};
use crate::sql::LineIndex;
use edits::{Edits, edits};
use tree::{Tree, Trees};

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: outside the working tree of the repository it belongs to")]
    Outside { path: PathBuf },
    #[error(
        "{root}: cannot read the migrations as they were at the merge-base with `{rev}`: {message}"
    )]
    Base {
        root: PathBuf,
        rev: String,
        message: String,
    },
}

/// What changed in one project since the base.
#[derive(Debug, Default)]
pub struct History {
    /// IDs of the migrations added or changed: the ones to lint.
    pub changed: HashSet<String>,
    /// Findings of the history rules, at the levels migsafe.toml sets.
    pub findings: Vec<Finding>,
    /// Migrations already on the base that changed statement by statement: the byte ranges of
    /// their files that changed (see [`edits::Hunk::region`]). Findings elsewhere in them were
    /// there before the change and are not this change's to report.
    pub regions: HashMap<String, Vec<(PathBuf, Range<usize>)>>,
}

impl History {
    /// Whether a finding of the SQL rules is about what changed: anywhere in a migration that is
    /// new or changed as a whole, only in the changed regions of one that was already there.
    pub fn is_about_the_change(&self, f: &Finding) -> bool {
        self.regions.get(&f.migration).is_none_or(|regions| {
            regions
                .iter()
                .any(|(path, r)| *path == f.path && overlap(r, &f.range))
        })
    }
}

/// `--since REV` for one lint run: the merge-base is computed once per repository.
#[derive(Debug)]
pub struct Since {
    rev: String,
    bases: Vec<(Repo, String)>,
}

impl Since {
    pub fn new(rev: &str) -> Since {
        Since {
            rev: rev.to_string(),
            bases: Vec::new(),
        }
    }

    /// The repository holding `dir`, and the merge-base there.
    fn base(&mut self, dir: &Path) -> Result<(Repo, String), GitError> {
        let repo = Repo::discover(dir)?;
        if let Some(known) = self
            .bases
            .iter()
            .find(|(r, _)| r.toplevel() == repo.toplevel())
        {
            return Ok(known.clone());
        }
        let base = repo.merge_base(&self.rev)?;
        self.bases.push((repo.clone(), base.clone()));
        Ok((repo, base))
    }

    /// Compares a project with its state at the base. A project read from several directories
    /// is read from the same ones at the base, into one run order as `lint` reads it.
    pub fn project(
        &mut self,
        project: &Project,
        rules: &RuleConfig,
        opts: &source::LoadOptions,
    ) -> Result<History, HistoryError> {
        let (repo, base) = self.base(&project.root)?;
        let dirs = project
            .dirs()
            .iter()
            .map(|dir| Ok((dir.clone(), in_repo(&repo, dir)?)))
            .collect::<Result<Vec<(PathBuf, PathBuf)>, HistoryError>>()?;
        // Paths below the project's root, whichever directory git was asked about.
        let mut diff = Diff::default();
        for (dir, rel) in &dirs {
            let of = |p: PathBuf| relative(&dir.join(p), &project.root);
            let d = Diff::read(&repo, &base, rel)?;
            diff.changed.extend(d.changed.into_iter().map(of));
            diff.removed.extend(d.removed.into_iter().map(of));
            diff.renamed
                .extend(d.renamed.into_iter().map(|(from, to)| (of(from), of(to))));
        }
        if diff.is_empty() {
            return Ok(History::default());
        }
        let objects = RefCell::new(repo.objects());
        // Each directory's files as the base holds them, and those of them that git found
        // unchanged (by path below that directory): those are read from the working tree.
        let mut listings = Vec::with_capacity(dirs.len());
        for (dir, rel) in &dirs {
            if !repo.has_dir(&base, rel)? {
                continue;
            }
            let listing = repo.ls_tree(&base, rel)?;
            let changed = |p: &Path| {
                let p = relative(&dir.join(p), &project.root);
                diff.changed.contains(&p) || diff.removed.contains(&p)
            };
            let clean: HashMap<PathBuf, String> = listing
                .iter()
                .filter(|e| matches!(e.kind, EntryKind::File | EntryKind::Symlink))
                .filter(|e| !changed(&e.path))
                .map(|e| (e.path.clone(), e.oid.clone()))
                .collect();
            listings.push((dir.clone(), rel.clone(), listing, clean));
        }
        let trees = Trees(
            listings
                .iter()
                .map(|(dir, _, listing, clean)| Tree::new(dir, listing.clone(), clean, &objects))
                .collect(),
        );
        let at_base: Vec<PathBuf> = listings.iter().map(|l| l.0.clone()).collect();
        let migrations = self.load_base(project, &trees, &at_base, opts)?;
        let cleans: Vec<(&PathBuf, &PathBuf, &HashMap<PathBuf, String>)> =
            listings.iter().map(|(d, r, _, c)| (d, r, c)).collect();
        let gained = self.gained(
            &repo,
            &base,
            &dirs,
            &cleans,
            project,
            &migrations,
            &objects,
            opts,
        )?;
        let base = Base {
            migrations: &migrations,
            root: &project.root,
            rev: &self.rev,
            gained: &gained,
        };
        Ok(compare(project, &base, &diff, rules))
    }

    /// The migrations `REV` holds beyond the merge-base that the project lacks: when REV moved on
    /// after this branch was cut, a new migration here may sort before one of them.
    #[allow(clippy::too_many_arguments)]
    fn gained(
        &self,
        repo: &Repo,
        base: &str,
        dirs: &[(PathBuf, PathBuf)],
        cleans: &[(&PathBuf, &PathBuf, &HashMap<PathBuf, String>)],
        project: &Project,
        at_base: &[Migration],
        objects: &RefCell<Objects>,
        opts: &source::LoadOptions,
    ) -> Result<Vec<Migration>, HistoryError> {
        let tip = match repo.commit(&self.rev)? {
            Some(tip) if tip != base => tip,
            _ => return Ok(Vec::new()),
        };
        let none = HashMap::new();
        let mut trees = Vec::new();
        let mut at_tip = Vec::new();
        for (dir, rel) in dirs {
            if !repo.has_dir(&tip, rel)? {
                continue;
            }
            let clean = cleans
                .iter()
                .find(|(d, _, _)| *d == dir)
                .map_or(&none, |(_, _, c)| *c);
            trees.push(Tree::new(dir, repo.ls_tree(&tip, rel)?, clean, objects));
            at_tip.push(dir.clone());
        }
        if at_tip.is_empty() {
            return Ok(Vec::new());
        }
        let at_rev = self.load_base(project, &Trees(trees), &at_tip, opts)?;
        let known = |m: &Migration, list: &[Migration]| {
            list.iter().any(|o| o.version == m.version && !o.repeatable)
        };
        Ok(at_rev
            .into_iter()
            .filter(|m| !m.repeatable && !known(m, &project.migrations) && !known(m, at_base))
            .collect())
    }

    /// Loads the project as a commit holds it with the project's runner, from those of its
    /// directories the commit has. A sqitch directory without a plan had no changes yet.
    fn load_base(
        &self,
        project: &Project,
        files: &Trees<'_>,
        dirs: &[PathBuf],
        opts: &source::LoadOptions,
    ) -> Result<Vec<Migration>, HistoryError> {
        if project.runner == Runner::Sqitch
            && dirs.iter().all(|d| !source::sqitch::has_plan(files, d))
        {
            return Ok(Vec::new());
        }
        source::load_dirs_in(files, project.runner, dirs, opts).map_err(|e| HistoryError::Base {
            root: project.root.clone(),
            rev: self.rev.clone(),
            message: e.to_string(),
        })
    }

    /// Whether a file outside any project was added or changed since the base.
    pub fn file_changed(&mut self, file: &Path) -> Result<bool, HistoryError> {
        let dir = match file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let (repo, base) = self.base(dir)?;
        let rel = in_repo(&repo, file)?;
        Ok(!Diff::read(&repo, &base, &rel)?.changed.is_empty())
    }
}

/// `path` relative to the repository's top level.
fn in_repo(repo: &Repo, path: &Path) -> Result<PathBuf, HistoryError> {
    let canonical = std::fs::canonicalize(path).map_err(|source| HistoryError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    canonical
        .strip_prefix(repo.toplevel())
        .map(Path::to_path_buf)
        .map_err(|_| HistoryError::Outside {
            path: path.to_path_buf(),
        })
}

/// What git reports under a project's directory, paths relative to that directory.
#[derive(Debug, Default)]
pub(crate) struct Diff {
    /// Added, modified, untracked, and the new paths of renamed files.
    pub changed: HashSet<PathBuf>,
    /// Deleted files, and the old paths of renamed ones.
    pub removed: HashSet<PathBuf>,
    /// Old path → new path.
    pub renamed: HashMap<PathBuf, PathBuf>,
}

impl Diff {
    fn read(repo: &Repo, base: &str, dir: &Path) -> Result<Diff, GitError> {
        let under = |p: PathBuf| p.strip_prefix(dir).map(Path::to_path_buf).unwrap_or(p);
        let mut diff = Diff::default();
        for change in repo.diff(base, dir)? {
            match change {
                Change::Added(p) | Change::Modified(p) => {
                    diff.changed.insert(under(p));
                }
                Change::Deleted(p) => {
                    diff.removed.insert(under(p));
                }
                Change::Renamed { from, to } => {
                    let (from, to) = (under(from), under(to));
                    diff.removed.insert(from.clone());
                    diff.changed.insert(to.clone());
                    diff.renamed.insert(from, to);
                }
            }
        }
        diff.changed
            .extend(repo.untracked(dir)?.into_iter().map(under));
        Ok(diff)
    }

    fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.removed.is_empty()
    }
}

/// The project as it was at the base.
pub(crate) struct Base<'a> {
    /// Its migrations, in run order, loaded from `root`.
    pub migrations: &'a [Migration],
    pub root: &'a Path,
    /// The revision as the user named it, for messages.
    pub rev: &'a str,
    /// Migrations `rev` itself holds that this branch lacks (gained after the merge-base):
    /// the race between pull requests MS301 exists for.
    pub gained: &'a [Migration],
}

/// Whether two byte ranges share a byte, or, when one is empty, whether it lies in the other.
fn overlap(a: &Range<usize>, b: &Range<usize>) -> bool {
    if a.is_empty() || b.is_empty() {
        a.start.max(b.start) <= a.end.min(b.end)
    } else {
        a.start < b.end && b.start < a.end
    }
}

/// How a migration is recognised across the two sides: by its up script's path below the
/// migrations directory, except in sqitch, where `sqitch rework` moves a deployed change's
/// script to `<change>@<tag>.sql`, so the n-th instance of a change name in the plan is the
/// same migration on both sides.
#[derive(Debug, PartialEq, Eq, Hash)]
enum Key {
    Path(PathBuf),
    Planned { change: String, instance: usize },
}

fn keys(migrations: &[Migration], root: &Path, runner: Runner) -> Vec<Key> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    migrations
        .iter()
        .map(|m| {
            if runner == Runner::Sqitch {
                let change = m.version.split('@').next().unwrap_or(&m.version);
                let instance = seen.entry(change).or_default();
                *instance += 1;
                Key::Planned {
                    change: change.to_string(),
                    instance: *instance,
                }
            } else {
                Key::Path(relative(&m.up.path, root))
            }
        })
        .collect()
}

fn relative(path: &Path, root: &Path) -> PathBuf {
    path.strip_prefix(root).unwrap_or(path).to_path_buf()
}

fn scripts(m: &Migration) -> impl Iterator<Item = &Script> {
    [Some(&m.up), m.down.as_ref()].into_iter().flatten()
}

/// What a migration of today was at the base.
#[derive(Clone, Copy)]
enum Was<'a> {
    /// Not there: added by this branch.
    New,
    /// The same migration (same file, or renamed with its version kept where the runner knows
    /// migrations by version alone).
    Same(&'a Migration),
    /// Renamed with its version kept, in a runner that also records the name (Flyway, refinery).
    Renamed(&'a Migration),
}

/// Runners whose history records the name (Flyway: the description; refinery: the name is in
/// the checksum), so that renaming a file changes the migration even when its version stays.
fn records_name(runner: Runner) -> bool {
    matches!(runner, Runner::Flyway | Runner::Refinery)
}

/// The two history checks, and which migrations changed. Statements are compared, not file
/// status: a goose or dbmate file whose down section alone was edited keeps its up script, a
/// sqitch rework copies the deployed script unchanged, and an edit of comments or layout
/// changes no statement.
pub(crate) fn compare(
    project: &Project,
    base: &Base<'_>,
    diff: &Diff,
    rules: &RuleConfig,
) -> History {
    let runner = project.runner;
    let now_keys = keys(&project.migrations, &project.root, runner);
    let base_keys = keys(base.migrations, base.root, runner);
    let on_base: HashMap<&Key, usize> = base_keys.iter().zip(0..).collect();
    let mut matched = vec![false; base.migrations.len()];
    let mut was: Vec<Was<'_>> = now_keys
        .iter()
        .map(|k| match on_base.get(k) {
            Some(&j) => {
                matched[j] = true;
                Was::Same(&base.migrations[j])
            }
            None => Was::New,
        })
        .collect();
    // A file renamed with its version kept is the same migration to a runner that goes by
    // version alone. (Versions are unique on each side, repeatables have none.)
    if runner != Runner::Sqitch {
        for (i, m) in project.migrations.iter().enumerate() {
            if !matches!(was[i], Was::New) || m.repeatable {
                continue;
            }
            let Some(j) = (0..base.migrations.len()).find(|&j| {
                !matched[j]
                    && !base.migrations[j].repeatable
                    && base.migrations[j].version == m.version
            }) else {
                continue;
            };
            matched[j] = true;
            let old = &base.migrations[j];
            was[i] = if records_name(runner) {
                Was::Renamed(old)
            } else {
                Was::Same(old)
            };
        }
    }
    // Where the newest migration on the base sits in today's run order.
    let newest = (0..project.migrations.len())
        .rev()
        .find(|&i| !matches!(was[i], Was::New) && !project.migrations[i].repeatable);
    let out_of_order = rules.level(&OutOfOrderMigration::META);
    let edited = rules.level(&EditedAppliedMigration::META);
    let mut history = History::default();
    for (i, m) in project.migrations.iter().enumerate() {
        match was[i] {
            Was::New => {
                // A file git does not report (an ignored one) is not part of the change.
                let in_diff =
                    scripts(m).any(|s| diff.changed.contains(&relative(&s.path, &project.root)));
                if !in_diff {
                    continue;
                }
                history.changed.insert(m.id());
                // The newest migration on the base it sorts before, else one REV gained after
                // this branch left it (the race between pull requests).
                let later = match newest.filter(|&n| n > i) {
                    Some(n) => Some((
                        &project.migrations[n],
                        format!("is already on `{}`", base.rev),
                    )),
                    None => base
                        .gained
                        .iter()
                        .rfind(|g| source::runs_before(runner, m, g))
                        .map(|g| {
                            (
                                g,
                                format!("`{}` gained after this branch left it", base.rev),
                            )
                        }),
                };
                if let (Some(severity), Some((later, which))) = (out_of_order, later)
                    && !may_run_out_of_order(runner, m)
                {
                    let message = format!(
                        "`{}` is new but sorts before `{}`, which {which}: {}",
                        m.id(),
                        later.id(),
                        out_of_order_effect(runner)
                    );
                    history.findings.push(finding(
                        &OutOfOrderMigration::META,
                        severity,
                        m,
                        line_at(&m.up, m.up.range.start),
                        message,
                    ));
                }
            }
            Was::Same(old) => {
                let up = edits(Some(&m.up), Some(&old.up), |now| {
                    first_difference(now, &old.up)
                });
                let down = edits(m.down.as_ref(), old.down.as_ref(), |now| {
                    line_at(now, now.range.start)
                });
                let modes_changed = m.up.mode != old.up.mode
                    || m.down.as_ref().map(|d| d.mode) != old.down.as_ref().map(|d| d.mode);
                if !(up.changed() || down.changed() || modes_changed) {
                    continue;
                }
                history.changed.insert(m.id());
                // Where it changed, when that is known statement by statement: the rest of it
                // was already on the base, and its findings with it.
                let mut regions = Vec::new();
                let mut narrowed = !modes_changed;
                for (script, e) in [(Some(&m.up), &up), (m.down.as_ref(), &down)] {
                    match (script, e) {
                        (Some(script), Edits::Hunks(hunks)) => regions.extend(
                            hunks
                                .iter()
                                .map(|h| (script.path.clone(), h.region.clone())),
                        ),
                        (_, Edits::Whole { .. }) => narrowed = false,
                        _ => {}
                    }
                }
                if narrowed {
                    history.regions.insert(m.id(), regions);
                }
                let Some(severity) = edited.filter(|_| !m.repeatable) else {
                    continue;
                };
                let message = || {
                    format!(
                        "`{}` is already on `{}`, and its up script was edited: databases that ran it will not run it again{}",
                        m.id(),
                        base.rev,
                        checksum_effect(runner)
                    )
                };
                let at: Vec<Range<usize>> = match &up {
                    Edits::Same => Vec::new(),
                    Edits::Hunks(hunks) => {
                        hunks.iter().map(|h| line_at(&m.up, h.at.start)).collect()
                    }
                    Edits::Whole { at } => vec![at.clone()],
                };
                for range in at {
                    history.findings.push(finding(
                        &EditedAppliedMigration::META,
                        severity,
                        m,
                        range,
                        message(),
                    ));
                }
            }
            Was::Renamed(old) => {
                history.changed.insert(m.id());
                if let Some(severity) = edited {
                    let message = format!(
                        "`{}` is already on `{}`, and was renamed to `{}`: {}",
                        old.id(),
                        base.rev,
                        m.id(),
                        if runner == Runner::Flyway {
                            "Flyway's validation fails on the changed description"
                        } else {
                            "refinery aborts on it, as its checksum covers the name"
                        }
                    );
                    history.findings.push(finding(
                        &EditedAppliedMigration::META,
                        severity,
                        m,
                        line_at(&m.up, m.up.range.start),
                        message,
                    ));
                }
            }
        }
    }
    let Some(severity) = edited else {
        return history;
    };
    for (old, _) in base
        .migrations
        .iter()
        .zip(matched)
        .filter(|(old, matched)| !matched && !old.repeatable)
    {
        let old_path = relative(&old.up.path, base.root);
        let renamed = diff.renamed.get(&old_path).and_then(|new| {
            project
                .migrations
                .iter()
                .find(|m| relative(&m.up.path, &project.root) == *new)
        });
        history.findings.push(match renamed {
            Some(m) => finding(
                &EditedAppliedMigration::META,
                severity,
                m,
                line_at(&m.up, m.up.range.start),
                format!(
                    "`{}` is already on `{}`, and was renamed to `{}`: databases that ran it may run it again under its new name{}",
                    old.id(),
                    base.rev,
                    m.id(),
                    missing_effect(runner)
                ),
            ),
            // The file is gone (or, in sqitch, the change left the plan): no excerpt, line 1.
            None => Finding {
                path: project.root.join(&old_path),
                ..finding(
                    &EditedAppliedMigration::META,
                    severity,
                    old,
                    0..0,
                    format!(
                        "`{}` is already on `{}`, and was deleted: databases that ran it keep its changes, new databases will not get them{}",
                        old.id(),
                        base.rev,
                        missing_effect(runner)
                    ),
                )
            },
        });
    }
    history
}

/// refinery `U` migrations are meant to be applied out of order; Flyway repeatables run after
/// every versioned migration whatever their name.
fn may_run_out_of_order(runner: Runner, m: &Migration) -> bool {
    m.repeatable
        || (runner == Runner::Refinery
            && m.up
                .path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('U')))
}

/// What the runner does with a migration older than the newest one a database has run ("that
/// one").
fn out_of_order_effect(runner: Runner) -> String {
    match runner {
        Runner::GolangMigrate => "golang-migrate runs only versions above a database's current one, so databases that ran that one will never run this one".into(),
        Runner::Goose => "goose refuses to migrate databases that ran that one unless run with -allow-missing".into(),
        Runner::Flyway => "Flyway ignores it on databases that ran that one unless outOfOrder=true".into(),
        Runner::Refinery => "refinery aborts on databases that ran that one (a missing migration)".into(),
        Runner::Sqitch => "sqitch deploys only changes planned after the last deployed one, so databases that ran that one never get this one".into(),
        Runner::Sqlx | Runner::Diesel | Runner::Dbmate => format!(
            "{runner} runs it after that one on databases that have it, but before it on new databases"
        ),
        Runner::Plain => "a runner that remembers the last script it ran skips it on databases that ran that one".into(),
    }
}

fn checksum_effect(runner: Runner) -> &'static str {
    match runner {
        Runner::Sqlx => ", and sqlx stops on the changed checksum",
        Runner::Flyway => ", and Flyway's validation fails on the changed checksum",
        Runner::Refinery => ", and refinery aborts on the changed checksum",
        _ => "",
    }
}

fn missing_effect(runner: Runner) -> &'static str {
    match runner {
        Runner::Sqlx => "; sqlx stops on an applied version that has no file",
        Runner::Flyway => "; Flyway's validation fails on an applied migration that has no file",
        Runner::Refinery => "; refinery aborts on an applied migration that has no file",
        _ => "",
    }
}

/// A finding on a migration's up script, underlining `range` of its file.
fn finding(
    meta: &'static RuleMeta,
    severity: Severity,
    m: &Migration,
    range: Range<usize>,
    message: String,
) -> Finding {
    let source = &m.up.source;
    let lines = LineIndex::with_folds(source, &m.up.folded);
    let pos = |o: usize| {
        let (line, column) = lines.position(source, o);
        Pos { line, column }
    };
    Finding {
        rule: meta.id,
        name: meta.name,
        severity,
        migration: m.id(),
        path: m.up.path.clone(),
        start: pos(range.start),
        end: pos(range.end),
        range,
        message,
        help: meta.help,
        suppressed: None,
    }
}

/// The line of `now` where it first differs from `was`, as a byte range of the file.
fn first_difference(now: &Script, was: &Script) -> Range<usize> {
    let (a, b) = (now.text().as_bytes(), was.text().as_bytes());
    let same = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    // Text removed at the end: point at the last line that is left.
    let at = if same == a.len() {
        same.saturating_sub(1)
    } else {
        same
    };
    line_at(now, now.range.start + at)
}

/// The line holding byte `offset` of the script's file, within the script's range and without
/// its line break.
fn line_at(script: &Script, offset: usize) -> Range<usize> {
    let bytes = script.source.as_bytes();
    let within = script.range.clone();
    let offset = offset.clamp(within.start, within.end);
    let start = bytes[..offset]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1)
        .max(within.start);
    let mut end = bytes[start..within.end]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(within.end, |i| start + i);
    if end > start && bytes[end - 1] == b'\r' {
        end -= 1;
    }
    start..end
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::source::ExecMode;

    fn script(text: &str) -> Script {
        Script::whole("m.sql".into(), Arc::from(text), ExecMode::WrappedTx)
    }

    #[test]
    fn first_difference_is_a_whole_line() {
        let was = script("CREATE TABLE a ();\nCREATE TABLE b ();\r\nCREATE TABLE c ();\n");
        let now = script("CREATE TABLE a ();\nCREATE TABLE bb ();\r\nCREATE TABLE c ();\n");
        let r = first_difference(&now, &was);
        assert_eq!(&now.text()[r], "CREATE TABLE bb ();");
        // Lines removed at the end: the last line left.
        let now = script("CREATE TABLE a ();\n");
        let r = first_difference(&now, &was);
        assert_eq!(&now.text()[r], "CREATE TABLE a ();");
        let empty = script("");
        assert_eq!(first_difference(&empty, &was), 0..0);
    }

    #[test]
    fn line_at_stays_in_a_section() {
        let source: Arc<str> = Arc::from("-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 2;\n");
        let down = Script {
            range: 26..source.len(),
            ..Script::whole("m.sql".into(), source.clone(), ExecMode::WrappedTx)
        };
        assert_eq!(&source[line_at(&down, 30)], "+goose Down");
        assert_eq!(&source[line_at(&down, 0)], "+goose Down");
    }

    /// A migration whose up (and down) script is the file `m/<file>`.
    fn mig(file: &str, version: &str, up: &str, down: Option<&str>) -> Migration {
        let at = |text: &str| Script {
            path: Path::new("m").join(file),
            ..script(text)
        };
        Migration {
            version: version.into(),
            // IDs are unique in a project: Flyway names repeatables by their description.
            name: if version == "R" {
                file.into()
            } else {
                String::new()
            },
            up: at(up),
            down: down.map(at),
            checksum: String::new(),
            repeatable: version == "R",
        }
    }

    fn run(
        runner: Runner,
        base: Vec<Migration>,
        now: Vec<Migration>,
        changed: &[&str],
        rules: &RuleConfig,
    ) -> History {
        let project = Project {
            runner,
            runner_hint: None,
            root: "m".into(),
            dirs: Vec::new(),
            migrations: now,
        };
        let diff = Diff {
            changed: changed.iter().map(PathBuf::from).collect(),
            ..Diff::default()
        };
        let base = Base {
            migrations: &base,
            root: Path::new("m"),
            rev: "main",
            gained: &[],
        };
        compare(&project, &base, &diff, rules)
    }

    fn ids(h: &History) -> Vec<&str> {
        let mut ids: Vec<&str> = h.findings.iter().map(|f| f.rule).collect();
        ids.sort();
        ids
    }

    #[test]
    fn refinery_u_migrations_may_run_out_of_order() {
        let base = || {
            vec![
                mig("V1__a.sql", "1", "a", None),
                mig("V3__c.sql", "3", "c", None),
            ]
        };
        let mut now = base();
        now.insert(1, mig("U2__b.sql", "2", "b", None));
        let h = run(
            Runner::Refinery,
            base(),
            now,
            &["U2__b.sql"],
            &RuleConfig::default(),
        );
        assert!(h.findings.is_empty(), "{:?}", h.findings);
        assert!(h.changed.contains("2"));
        let mut now = base();
        now.insert(1, mig("V2__b.sql", "2", "b", None));
        let h = run(
            Runner::Refinery,
            base(),
            now,
            &["V2__b.sql"],
            &RuleConfig::default(),
        );
        assert_eq!(ids(&h), ["MS301"]);
    }

    #[test]
    fn flyway_repeatables_are_edited_and_added_freely() {
        let base = vec![
            mig("V1__a.sql", "1", "a", None),
            mig("R__v.sql", "R", "v1", None),
        ];
        let now = vec![
            mig("V1__a.sql", "1", "a", None),
            mig("R__v.sql", "R", "v2", None),
            mig("R__w.sql", "R", "w", None),
        ];
        let h = run(
            Runner::Flyway,
            base,
            now,
            &["R__v.sql", "R__w.sql"],
            &RuleConfig::default(),
        );
        assert!(h.findings.is_empty(), "{:?}", h.findings);
        assert_eq!(h.changed.len(), 2);
    }

    #[test]
    fn an_edited_down_section_changes_the_migration_only() {
        let h = run(
            Runner::Goose,
            vec![mig("1_a.sql", "1", "up", Some("down"))],
            vec![mig("1_a.sql", "1", "up", Some("better down"))],
            &["1_a.sql"],
            &RuleConfig::default(),
        );
        assert!(h.findings.is_empty(), "{:?}", h.findings);
        assert!(h.changed.contains("1"));
    }

    #[test]
    fn files_git_does_not_report_are_not_added() {
        let h = run(
            Runner::GolangMigrate,
            vec![mig("3_c.up.sql", "3", "c", None)],
            vec![
                mig("2_b.up.sql", "2", "b", None),
                mig("3_c.up.sql", "3", "c", None),
            ],
            &[],
            &RuleConfig::default(),
        );
        assert!(h.findings.is_empty() && h.changed.is_empty());
    }

    #[test]
    fn rules_turned_off_report_nothing_but_still_narrow() {
        let mut rules = RuleConfig::default();
        rules.levels.insert("MS301", None);
        rules.levels.insert("MS302", Some(Severity::Warning));
        let h = run(
            Runner::GolangMigrate,
            vec![
                mig("1_a.up.sql", "1", "a", None),
                mig("3_c.up.sql", "3", "c", None),
            ],
            vec![
                mig("1_a.up.sql", "1", "a", None),
                mig("2_b.up.sql", "2", "b", None),
            ],
            &["2_b.up.sql"],
            &rules,
        );
        assert_eq!(ids(&h), ["MS302"]);
        let deleted = &h.findings[0];
        assert_eq!(deleted.severity, Severity::Warning);
        assert_eq!(deleted.path, Path::new("m/3_c.up.sql"));
        assert_eq!(deleted.migration, "3");
        assert_eq!((deleted.start.line, deleted.start.column), (1, 1));
        assert_eq!(h.changed, HashSet::from(["2".to_string()]));
    }

    #[test]
    fn sqitch_reworks_keep_their_identity() {
        let m = |version: &str| crate::source::Migration {
            version: version.into(),
            name: String::new(),
            up: script(""),
            down: None,
            checksum: String::new(),
            repeatable: false,
        };
        let base = keys(&[m("users"), m("orders")], Path::new(""), Runner::Sqitch);
        let now = keys(
            &[m("users@v1"), m("orders"), m("users")],
            Path::new(""),
            Runner::Sqitch,
        );
        assert_eq!(now[0], base[0]);
        assert_eq!(now[1], base[1]);
        assert!(!base.contains(&now[2]));
    }
}
