//! `migsafe lint`: paths → projects → analysis → findings. No database, no network.

use std::path::{Path, PathBuf};

use crate::classify::{self, Settings};
use crate::config::{Config, ConfigError};
use crate::report::{ProjectReport, Report};
use crate::rules;
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
}

/// What to lint.
#[derive(Debug, Default, Clone)]
pub struct LintOptions {
    pub paths: Vec<PathBuf>,
    /// An explicit config file for every path; otherwise each directory's nearest migsafe.toml.
    pub config: Option<PathBuf>,
}

pub fn lint(opts: &LintOptions) -> Result<Report, LintError> {
    let explicit = opts.config.as_deref().map(Config::load).transpose()?;
    let config_for = |dir: &Path| -> Result<Config, LintError> {
        if let Some(c) = &explicit {
            return Ok(c.clone());
        }
        Ok(match Config::find(dir) {
            Some(p) => Config::load(&p)?,
            None => Config::defaults(),
        })
    };
    let mut projects = Vec::new();
    let paths = if opts.paths.is_empty() {
        let here = config_for(Path::new("."))?;
        vec![
            here.migrations_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(".")),
        ]
    } else {
        opts.paths.clone()
    };
    let (files, dirs): (Vec<PathBuf>, Vec<PathBuf>) = paths.into_iter().partition(|p| p.is_file());
    for dir in dirs {
        if !dir.exists() {
            return Err(SourceError::Missing { path: dir }.into());
        }
        let config = config_for(&dir)?;
        let target = match (&config.migrations_dir, &config.path) {
            // A project root with a config that names its migrations directory.
            (Some(m), Some(p)) if p.parent().is_some_and(|root| same_dir(root, &dir)) => m.clone(),
            _ => dir.clone(),
        };
        let project = source::discover(&target, config.runner)?;
        projects.push(check(project, &config)?);
    }
    if !files.is_empty() {
        let config = config_for(files[0].parent().unwrap_or(Path::new(".")))?;
        projects.push(check(source::load_files(&files)?, &config)?);
    }
    Ok(Report { projects })
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

fn check(project: Project, config: &Config) -> Result<ProjectReport, LintError> {
    let settings = Settings {
        postgres: config.postgres_version,
    };
    let checked = start_after_filter(&project, config.start_after.as_deref())?;
    let analysis = classify::analyze_project(project, settings, |m| checked(m))?;
    let findings = rules::check(&analysis, &config.rules, settings);
    Ok(ProjectReport { analysis, findings })
}

/// Which migrations are checked: those after `start_after` in run order (matched by version),
/// or, when no migration has that version, those with a greater numeric version.
fn start_after_filter(
    project: &Project,
    start_after: Option<&str>,
) -> Result<impl Fn(&Migration) -> bool + use<>, LintError> {
    let Some(start) = start_after else {
        return Ok(Box::new(|_: &Migration| true) as Box<dyn Fn(&Migration) -> bool>);
    };
    if let Some(pos) = project.migrations.iter().position(|m| m.version == start) {
        let after: std::collections::HashSet<String> = project.migrations[pos + 1..]
            .iter()
            .map(|m| m.version.clone())
            .collect();
        return Ok(Box::new(move |m: &Migration| after.contains(&m.version)));
    }
    let numeric = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
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
        version: start.to_string(),
    })
}
