//! `migsafe lint`: paths → projects → analysis → findings. No database, no network.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::classify::{self, Settings};
use crate::config::{Config, ConfigError};
use crate::history::{HistoryError, Since};
use crate::report::{ProjectReport, Report};
use crate::rules::{self, Finding};
use crate::source::{self, Migration, Project, SourceError};

#[derive(Debug, thiserror::Error)]
pub enum LintError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Script(#[from] classify::ScriptError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "{path}: start_after = \"{version}\" matches no migration, and versions here are not numbers to compare with it"
    )]
    StartAfter { path: PathBuf, version: String },
    #[error(
        "no paths given and no migrations directory found here: pass a directory, or set migrations_dir in migsafe.toml"
    )]
    NoPaths,
    #[error(
        "{path}: --runner {runner} was given, but this file is not inside a {runner} migrations directory, so it would be read as {read_as}: name the migrations directory instead"
    )]
    RunnerOfFile {
        path: PathBuf,
        runner: source::Runner,
        read_as: source::Runner,
    },
    /// `--since` could not tell what changed; linting nothing instead would pass silently.
    #[error(transparent)]
    Since(#[from] HistoryError),
}

/// What to lint.
#[derive(Debug, Default, Clone)]
pub struct LintOptions {
    pub paths: Vec<PathBuf>,
    /// An explicit config file for every path; otherwise each directory's nearest migsafe.toml.
    pub config: Option<PathBuf>,
    /// `--runner`: wins over `runner` in migsafe.toml and over detection.
    pub runner: Option<source::Runner>,
    /// SQL read from stdin (`migsafe lint -`): the migration its name belongs to, or else one
    /// plain file.
    pub stdin: Option<StdinSql>,
    /// The migrations are read to run them (plan, apply, rollback …), not only to lint them.
    pub executing: bool,
    /// Check only migrations added or changed since the merge-base of HEAD and this revision,
    /// and run the history rules (MS3xx) against the migrations already there. SQL from stdin
    /// has no history and is always checked.
    pub since: Option<String>,
}

/// SQL piped in, with the name it is reported under.
#[derive(Debug, Clone)]
pub struct StdinSql {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

fn load_options(config: &Config, executing: bool) -> source::LoadOptions {
    source::LoadOptions {
        executing,
        ..config.load_options()
    }
}

pub fn lint(opts: &LintOptions) -> Result<Report, LintError> {
    let mut since = opts.since.as_deref().map(Since::new);
    let explicit = opts.config.as_deref().map(Config::load).transpose()?;
    let config_for = |dir: &Path| -> Result<Config, LintError> {
        let mut config = match (&explicit, Config::find(dir)) {
            (Some(c), _) => c.clone(),
            (None, Some(p)) => Config::load(&p)?,
            (None, None) => Config::defaults(),
        };
        if let Some(runner) = opts.runner {
            config.runner = Some(runner);
        }
        Ok(config)
    };
    let mut projects = Vec::new();
    if let Some(stdin) = &opts.stdin {
        let sql = source::decode_sql(&stdin.path, stdin.bytes.clone())?;
        // A name inside a project: that migration, with its runner's mode and the schema the
        // earlier migrations built, as if the file held the piped text.
        match stdin_project(&stdin.path, &sql, &config_for, opts.executing) {
            Some((project, config)) => {
                let named = |m: &Migration| {
                    [Some(&m.up), m.down.as_ref()]
                        .into_iter()
                        .flatten()
                        .any(|s| same_file(&s.path, &stdin.path))
                };
                projects.push(check_with(project, &config, named)?);
            }
            None => {
                let dir = match stdin.path.parent() {
                    Some(d) if !d.as_os_str().is_empty() && d.is_dir() => d,
                    _ => Path::new("."),
                };
                let config = config_for(dir)?;
                projects.push(check(
                    source::load_sources(vec![(stdin.path.clone(), sql)])?,
                    &config,
                )?);
            }
        }
        if opts.paths.is_empty() {
            return Ok(Report {
                projects,
                root: None,
            });
        }
    }
    let paths = if opts.paths.is_empty() {
        // The project root migsafe.toml describes, whose migrations_dir applies below.
        let here = config_for(Path::new("."))?;
        let root = match (&here.migrations_dir[..], here.path.as_deref()) {
            ([_, ..], Some(file)) => file.parent().filter(|p| !p.as_os_str().is_empty()),
            _ => None,
        };
        vec![root.map_or_else(|| PathBuf::from("."), Path::to_path_buf)]
    } else {
        opts.paths.clone()
    };
    let (files, dirs): (Vec<PathBuf>, Vec<PathBuf>) = paths.into_iter().partition(|p| p.is_file());
    for dir in dirs {
        if !dir.exists() {
            return Err(SourceError::Missing { path: dir }.into());
        }
        let config = config_for(&dir)?;
        let (targets, runner) = targets_of(&dir, &config)?;
        let project = load_targets(&dir, &targets, runner, &config, opts.executing)?;
        let after = start_after_filter(&project, config.start_after.as_deref())?;
        // History findings about migrations before start_after stay: editing one of those is
        // what MS302 is about.
        projects.push(check_project(
            project,
            &config,
            since.as_mut(),
            after,
            |_| true,
        )?);
    }
    // A file inside a project is checked in its project: with its runner's execution mode and
    // with the earlier migrations feeding the catalog. Other files stand alone. Each project is
    // discovered once, however many of its files are named.
    let mut in_projects: Vec<InProject> = Vec::new();
    let mut loose = Vec::new();
    for file in files {
        let canonical = std::fs::canonicalize(&file).map_err(|source| SourceError::Io {
            path: file.clone(),
            source,
        })?;
        if let Some(known) = in_projects
            .iter_mut()
            .find(|p| p.scripts.contains(&canonical))
        {
            known.wanted.insert(canonical);
            continue;
        }
        match project_of(&file, &canonical, &config_for) {
            Some(mut found) => {
                found.wanted.insert(canonical);
                in_projects.push(found);
            }
            None => loose.push(file),
        }
    }
    for InProject {
        project,
        config,
        wanted,
        ..
    } in in_projects
    {
        let named = |m: &Migration| script_paths(m).any(|p| wanted.contains(&p));
        projects.push(check_project(
            project,
            &config,
            since.as_mut(),
            named,
            named,
        )?);
    }
    if !loose.is_empty() {
        let config = config_for(loose[0].parent().unwrap_or(Path::new(".")))?;
        let project = source::load_files(&loose)?;
        // A file outside its runner's layout is read by its own markers (goose, dbmate) or as
        // a plain script: a `--runner` it does not fit is not quietly dropped.
        if let Some(runner) = opts.runner.filter(|r| *r != project.runner) {
            return Err(LintError::RunnerOfFile {
                path: loose[0].clone(),
                runner,
                read_as: project.runner,
            });
        }
        let report = match since.as_mut() {
            // Files outside any project have no run order to compare: only "did it change".
            Some(since) => {
                let mut changed = HashSet::new();
                for file in &loose {
                    if since.file_changed(file)? {
                        changed.insert(file.clone());
                    }
                }
                check_with(project, &config, |m| changed.contains(&m.up.path))?
            }
            None => check(project, &config)?,
        };
        projects.push(report);
    }
    Ok(Report {
        projects,
        root: None,
    })
}

/// The directories a directory given on the command line stands for: migsafe.toml's
/// `migrations_dir` when it is that file's project root, else the `locations` of a Flyway
/// configuration there (which makes them Flyway's), else itself. With the runner they imply.
fn targets_of(
    dir: &Path,
    config: &Config,
) -> Result<(Vec<PathBuf>, Option<source::Runner>), LintError> {
    let is_root = config
        .path
        .as_deref()
        .and_then(Path::parent)
        .is_some_and(|root| same_dir(root, dir));
    if is_root && !config.migrations_dir.is_empty() {
        return Ok((config.migrations_dir.clone(), config.runner));
    }
    if config.runner.is_none_or(|r| r == source::Runner::Flyway) {
        let locations = source::placeholders::locations(dir)?;
        if !locations.is_empty() {
            return Ok((locations, Some(source::Runner::Flyway)));
        }
    }
    Ok((vec![dir.to_path_buf()], config.runner))
}

/// Loads the project in `targets`: one directory, or several read as one project (Flyway's
/// `locations`, a `migrations_dir` list) with their migrations in the runner's order, as the
/// runner reads them (`source::load_project`, which `lint --since` reads a commit with too).
fn load_targets(
    root: &Path,
    targets: &[PathBuf],
    runner: Option<source::Runner>,
    config: &Config,
    executing: bool,
) -> Result<Project, LintError> {
    let options = load_options(config, executing);
    Ok(source::load_project(root, targets, runner, &options)?)
}

/// The project SQL read from stdin belongs to, by the name `--stdin-filename` gives it: its
/// directory (or, for diesel's `<dir>/up.sql`, its parent) loaded with the piped text in place
/// of that file, whether or not the file exists on disk. `None` when no project there has a
/// script by that name.
fn stdin_project(
    path: &Path,
    sql: &std::sync::Arc<str>,
    config_for: &dyn Fn(&Path) -> Result<Config, LintError>,
    executing: bool,
) -> Option<(Project, Config)> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let files = Piped {
        path: absolute(path),
        text: sql.clone(),
    };
    for dir in [Some(parent), parent.parent()].into_iter().flatten() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if !dir.is_dir() {
            continue;
        }
        let Ok(config) = config_for(dir) else {
            continue;
        };
        let options = load_options(&config, executing);
        let Ok(project) = source::discover_in(&files, dir, config.runner, &options) else {
            continue;
        };
        let holds = project.migrations.iter().any(|m| {
            [Some(&m.up), m.down.as_ref()]
                .into_iter()
                .flatten()
                .any(|s| same_file(&s.path, path))
        });
        if holds {
            return Some((project, config));
        }
    }
    None
}

/// The disk, with one file's text replaced by SQL read from stdin (and listed even when it is
/// not on disk yet: an editor's unsaved buffer).
struct Piped {
    path: PathBuf,
    text: std::sync::Arc<str>,
}

impl source::Files for Piped {
    fn list(&self, dir: &Path) -> std::io::Result<Vec<source::files::DirEntry>> {
        let mut entries = source::Disk.list(dir)?;
        if self.path.parent() == Some(absolute(dir).as_path())
            && let Some(name) = self.path.file_name()
            && !entries.iter().any(|e| e.path.file_name() == Some(name))
        {
            entries.push(source::files::DirEntry {
                name: name.to_string_lossy().into_owned(),
                path: dir.join(name),
                kind: source::files::Kind::File,
            });
        }
        Ok(entries)
    }

    fn kind(&self, path: &Path) -> Option<source::files::Kind> {
        if absolute(path) == self.path {
            return Some(source::files::Kind::File);
        }
        source::Disk.kind(path)
    }

    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        if absolute(path) == self.path {
            return Ok(self.text.as_bytes().to_vec());
        }
        source::Disk.read(path)
    }
}

/// `path` made absolute against the current directory, `.` and `..` applied lexically.
fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        crate::report::location::lexical(path)
    } else {
        crate::report::location::lexical(&std::env::current_dir().unwrap_or_default().join(path))
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    absolute(a) == absolute(b)
}

/// A project some named files belong to.
struct InProject {
    project: Project,
    config: Config,
    /// Canonical paths of every up and down script of the project.
    scripts: HashSet<PathBuf>,
    /// Canonical paths of the files named on the command line.
    wanted: HashSet<PathBuf>,
}

/// Canonical paths of a migration's up and down scripts.
fn script_paths(m: &Migration) -> impl Iterator<Item = PathBuf> + '_ {
    [Some(&m.up), m.down.as_ref()]
        .into_iter()
        .flatten()
        .filter_map(|s| std::fs::canonicalize(&s.path).ok())
}

/// The project a migration file belongs to: its directory (or, for diesel's `<dir>/up.sql`, its
/// parent) loaded as a project that contains the file.
fn project_of(
    file: &Path,
    canonical: &Path,
    config_for: &dyn Fn(&Path) -> Result<Config, LintError>,
) -> Option<InProject> {
    let parent = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    for dir in [
        Some(parent),
        parent.parent().filter(|p| !p.as_os_str().is_empty()),
    ]
    .into_iter()
    .flatten()
    {
        let Ok(config) = config_for(dir) else {
            continue;
        };
        let Ok(project) = source::discover_with(dir, config.runner, &config.load_options()) else {
            continue;
        };
        let scripts: HashSet<PathBuf> = project.migrations.iter().flat_map(script_paths).collect();
        if scripts.contains(canonical) {
            return Some(InProject {
                project,
                config,
                scripts,
                wanted: HashSet::new(),
            });
        }
    }
    None
}

fn same_dir(a: &Path, b: &Path) -> bool {
    let a = if a.as_os_str().is_empty() {
        Path::new(".")
    } else {
        a
    };
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Checks the `selected` migrations of a project; with `--since`, only those of them that
/// changed since the base, plus the history findings about migrations `history_about` accepts.
fn check_project(
    project: Project,
    config: &Config,
    since: Option<&mut Since>,
    selected: impl Fn(&Migration) -> bool,
    history_about: impl Fn(&Migration) -> bool,
) -> Result<ProjectReport, LintError> {
    let Some(since) = since else {
        return check_with(project, config, selected);
    };
    // Findings about deleted migrations name no migration of the project, so only a run about
    // the whole project reports them.
    let about: Option<HashSet<String>> =
        (!project.migrations.iter().all(&history_about)).then(|| {
            project
                .migrations
                .iter()
                .filter(|m| history_about(m))
                .map(Migration::id)
                .collect()
        });
    // git answers while the project is analysed (every migration is, to build the catalog);
    // which migrations are checked is settled once both are done.
    let for_history = project.clone();
    let (history, analysis) = std::thread::scope(|scope| {
        let history =
            scope.spawn(|| since.project(&for_history, &config.rules, &config.load_options()));
        let analysis = analyze(project, config, selected);
        let history = history
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (history, analysis)
    });
    let history = history?;
    let mut analysis = analysis?;
    for m in &mut analysis.migrations {
        m.checked = m.checked && history.changed.contains(&m.migration.id());
    }
    let mut report = rules_on(analysis, config);
    report.findings.retain(|f| history.is_about_the_change(f));
    let history_findings: Vec<Finding> = history
        .findings
        .into_iter()
        .filter(|f| about.as_ref().is_none_or(|a| a.contains(&f.migration)))
        .map(|mut f| {
            f.suppressed = suppression(&report.analysis, &f);
            f
        })
        .collect();
    report.findings.extend(history_findings);
    Ok(report)
}

/// The reason of a `-- migsafe:ignore` directive for a history finding's rule on the statement
/// it points at (or the next one: MS301 points at the top of the file).
fn suppression(analysis: &classify::Analysis, f: &Finding) -> Option<String> {
    let m = analysis
        .migrations
        .iter()
        .find(|m| m.migration.id() == f.migration)?;
    let script = [Some(&m.up), m.down.as_ref()]
        .into_iter()
        .flatten()
        .find(|s| s.path == f.path && s.range.contains(&f.range.start))?;
    let step = script
        .steps
        .iter()
        .find(|st| st.statement.range.end > f.range.start)?;
    rules::engine::suppressed_by(&step.statement, f.rule)
}

fn check(project: Project, config: &Config) -> Result<ProjectReport, LintError> {
    let checked = start_after_filter(&project, config.start_after.as_deref())?;
    check_with(project, config, checked)
}

/// Analyses a whole project and reports the migrations `checked` selects.
fn check_with(
    project: Project,
    config: &Config,
    checked: impl Fn(&Migration) -> bool,
) -> Result<ProjectReport, LintError> {
    Ok(rules_on(analyze(project, config, checked)?, config))
}

fn settings(config: &Config) -> Settings {
    Settings {
        postgres: config.postgres_version,
        apply_lock_timeout: config.apply_lock_timeout_set,
    }
}

/// Analyses a whole project, marking the migrations `checked` selects.
fn analyze(
    project: Project,
    config: &Config,
    checked: impl Fn(&Migration) -> bool,
) -> Result<classify::Analysis, LintError> {
    Ok(classify::analyze_project(project, settings(config), |m| {
        checked(m)
    })?)
}

/// Runs the rules on the checked migrations of an analysis.
fn rules_on(analysis: classify::Analysis, config: &Config) -> ProjectReport {
    let findings = rules::check(&analysis, &config.rules, settings(config));
    ProjectReport { analysis, findings }
}

/// Which migrations are checked: those after `start_after` in run order (matched by version),
/// or, when no migration has that version, those with a greater numeric version.
fn start_after_filter(
    project: &Project,
    start_after: Option<&str>,
) -> Result<impl Fn(&Migration) -> bool + use<>, LintError> {
    let Some(given) = start_after else {
        return Ok(Box::new(|_: &Migration| true) as Box<dyn Fn(&Migration) -> bool>);
    };
    // The name users see works too: diesel's folder `2026-07-27-143313-0000_add_x` (or its
    // version part) is version 202607271433130000.
    let start = match project.runner {
        source::Runner::Diesel => source::diesel::parse_dir_name(given).0,
        _ => given.to_string(),
    };
    let start = start.as_str();
    if let Some(pos) = project
        .migrations
        .iter()
        .position(|m| m.version == start || m.id() == given)
    {
        let after: std::collections::HashSet<String> = project.migrations[pos + 1..]
            .iter()
            .map(|m| m.version.clone())
            .collect();
        return Ok(Box::new(move |m: &Migration| after.contains(&m.version)));
    }
    let numeric = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
    if project.runner == source::Runner::Diesel && numeric(start) {
        // Diesel compares versions as strings.
        let start = start.to_string();
        return Ok(Box::new(move |m: &Migration| m.version > start));
    }
    if numeric(start)
        && project
            .migrations
            .iter()
            .all(|m| numeric(&m.version) || m.repeatable)
    {
        let start = start.trim_start_matches('0').to_string();
        return Ok(Box::new(move |m: &Migration| {
            let v = m.version.trim_start_matches('0');
            m.repeatable || (v.len(), v) > (start.len(), start.as_str())
        }));
    }
    Err(LintError::StartAfter {
        path: project.root.clone(),
        version: given.to_string(),
    })
}
