//! `migsafe.toml` → validated settings. Unknown keys are errors that name the line, so a typo
//! never silently turns a rule off.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::rules::{RuleConfig, Severity, registry};
use crate::source::Runner;

pub const FILE_NAME: &str = "migsafe.toml";

/// A rule's level: `off` disables it, `warning` reports without failing, `error` fails the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Off,
    Warning,
    Error,
}

/// migsafe.toml: settings for `migsafe lint` and the commands that follow it. Paths are relative
/// to the file's directory. Unknown keys are errors.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "migsafe.toml")]
struct Raw {
    /// The migration runner, when the layout alone is ambiguous.
    runner: Option<Runner>,
    /// The migrations directory, used when `migsafe lint` is given no paths or the project root.
    migrations_dir: Option<PathBuf>,
    /// Check only migrations after this version (those before it are already applied
    /// everywhere; they still feed the column-type catalog).
    #[schemars(with = "Option<String>")]
    start_after: Option<Spanned<String>>,
    /// The oldest PostgreSQL major version the migrations run on (10 to 18; default 15): rules
    /// whose hazard depends on the version use it.
    #[schemars(with = "Option<u32>", range(min = 10, max = 18))]
    postgres_version: Option<Spanned<u32>>,
    /// Rule levels by ID or name, e.g. `MS002 = "warning"`, `add-column-serial = "off"`.
    #[serde(default)]
    #[schemars(schema_with = "rules_schema")]
    rules: BTreeMap<Spanned<String>, Level>,
    /// Where snapshots of what irreversible steps destroy are kept.
    snapshots: Option<RawSnapshots>,
    /// The databases migsafe snapshots, plans and applies to: one per account, tenant or shard.
    #[serde(default)]
    #[schemars(with = "Vec<RawTarget>")]
    targets: Vec<Spanned<RawTarget>>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawSnapshots {
    /// A local directory (relative to migsafe.toml); snapshots go to `<store>/<target>/<id>/`.
    /// It holds production data: keep it on an encrypted, backed-up volume.
    store: PathBuf,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    /// A short name: letters, digits, `_`, `-`, `.`.
    name: String,
    /// Connection URL without a password (use `url_env` or PGPASSWORD / ~/.pgpass for secrets).
    url: Option<String>,
    /// The environment variable holding the connection URL.
    url_env: Option<String>,
    /// The rollout wave this target belongs to.
    wave: Option<String>,
}

/// `[rules]` accepts exactly the rule IDs and names, so editors can complete them.
fn rules_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let level = generator.subschema_for::<Level>();
    let mut properties = serde_json::Map::new();
    for r in registry::ALL.iter() {
        let m = r.meta();
        let mut schema = level.clone();
        schema.insert(
            "description".into(),
            format!("{} {}: {}", m.id, m.name, m.summary()).into(),
        );
        properties.insert(m.id.into(), schema.clone().into());
        properties.insert(m.name.into(), schema.into());
    }
    schemars::json_schema!({
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
        "default": {}
    })
}

/// The JSON Schema of migsafe.toml (docs/schemas/migsafe.toml.schema.json), for editors such
/// as VS Code's Even Better TOML.
pub fn schema() -> schemars::Schema {
    schemars::schema_for!(Raw)
}

/// Validated settings, with paths resolved against the file's directory.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file it came from, if any.
    pub path: Option<PathBuf>,
    pub runner: Option<Runner>,
    pub migrations_dir: Option<PathBuf>,
    pub start_after: Option<String>,
    pub postgres_version: u32,
    pub rules: RuleConfig,
    /// `[snapshots] store`, resolved against the file's directory.
    pub snapshot_store: Option<PathBuf>,
    pub targets: Vec<TargetConfig>,
}

/// One `[[targets]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetConfig {
    pub name: String,
    pub url: TargetUrl,
    pub wave: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetUrl {
    Literal(String),
    Env(String),
}

impl TargetConfig {
    /// The connection URL; an unset variable is an error that names it.
    pub fn url(&self) -> Result<String, String> {
        match &self.url {
            TargetUrl::Literal(u) => Ok(u.clone()),
            TargetUrl::Env(var) => std::env::var(var).map_err(|_| {
                format!(
                    "target `{}`: environment variable {var} (url_env) is not set",
                    self.name
                )
            }),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

impl Config {
    pub fn defaults() -> Config {
        Config {
            postgres_version: 15,
            ..Config::default()
        }
    }

    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |span: Option<std::ops::Range<usize>>, message: String| {
            let at = span.map_or(0, |s| s.start);
            let line = text[..at.min(text.len())].matches('\n').count() + 1;
            let column = text[..at.min(text.len())]
                .rsplit('\n')
                .next()
                .map_or(0, |l| l.chars().count())
                + 1;
            ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                message,
            }
        };
        let raw: Raw =
            toml::from_str(text).map_err(|e| invalid(e.span(), e.message().trim().to_string()))?;
        let mut rules = RuleConfig::default();
        for (key, level) in &raw.rules {
            let meta = registry::lookup(key.get_ref()).ok_or_else(|| {
                invalid(
                    Some(key.span()),
                    format!(
                        "unknown rule `{}` (see `migsafe rule` for the list)",
                        key.get_ref()
                    ),
                )
            })?;
            let level = match level {
                Level::Off => None,
                Level::Warning => Some(Severity::Warning),
                Level::Error => Some(Severity::Error),
            };
            rules.levels.insert(meta.id, level);
        }
        let postgres_version = match &raw.postgres_version {
            Some(v) if !(10..=18).contains(v.get_ref()) => {
                return Err(invalid(
                    Some(v.span()),
                    format!(
                        "postgres_version {} is not a supported major version (10 to 18)",
                        v.get_ref()
                    ),
                ));
            }
            Some(v) => *v.get_ref(),
            None => 15,
        };
        let base = path.parent().unwrap_or(Path::new("."));
        let mut targets: Vec<TargetConfig> = vec![];
        for t in &raw.targets {
            let span = Some(t.span());
            let t = t.get_ref();
            let valid_name = !t.name.is_empty()
                && !t.name.starts_with(['_', '.'])
                && t.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !valid_name {
                return Err(invalid(
                    span,
                    format!(
                        "target name `{}`: use letters, digits, `_`, `-`, `.` (not starting with `_` or `.`)",
                        t.name
                    ),
                ));
            }
            if targets.iter().any(|o| o.name == t.name) {
                return Err(invalid(
                    span,
                    format!("target `{}` is defined twice", t.name),
                ));
            }
            let url = match (&t.url, &t.url_env) {
                (Some(u), None) => TargetUrl::Literal(u.clone()),
                (None, Some(e)) => TargetUrl::Env(e.clone()),
                _ => {
                    return Err(invalid(
                        span,
                        format!(
                            "target `{}`: set exactly one of `url` and `url_env`",
                            t.name
                        ),
                    ));
                }
            };
            targets.push(TargetConfig {
                name: t.name.clone(),
                url,
                wave: t.wave.clone(),
            });
        }
        Ok(Config {
            path: Some(path.to_path_buf()),
            runner: raw.runner,
            migrations_dir: raw.migrations_dir.map(|d| base.join(d)),
            start_after: raw.start_after.map(Spanned::into_inner),
            postgres_version,
            rules,
            snapshot_store: raw.snapshots.map(|s| base.join(s.store)),
            targets,
        })
    }

    pub fn target(&self, name: &str) -> Option<&TargetConfig> {
        self.targets.iter().find(|t| t.name == name)
    }

    /// Finds `migsafe.toml` in `dir` or the nearest ancestor.
    pub fn find(dir: &Path) -> Option<PathBuf> {
        let abs = std::path::absolute(dir).ok()?;
        let found = abs
            .ancestors()
            .map(|d| d.join(FILE_NAME))
            .find(|p| p.is_file())?;
        // Report it relative to `dir` when `dir` was relative, for stable messages.
        let depth = abs.ancestors().position(|d| Some(d) == found.parent())?;
        if dir.is_absolute() {
            Some(found)
        } else {
            let mut rel = dir.to_path_buf();
            for _ in 0..depth {
                rel.push("..");
            }
            Some(normalise(&rel.join(FILE_NAME)))
        }
    }
}

/// Removes `x/..` pairs so that relative paths stay readable.
fn normalise(p: &Path) -> PathBuf {
    let mut out: Vec<std::path::Component> = Vec::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir
                if matches!(out.last(), Some(std::path::Component::Normal(_))) =>
            {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    if out.is_empty() {
        PathBuf::from(".")
    } else {
        out.iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("proj/migsafe.toml"))
    }

    #[test]
    fn reads_every_setting() {
        let c = parse("runner = \"sqlx\"\nmigrations_dir = \"db\"\nstart_after = \"20240101\"\npostgres_version = 14\n[rules]\ndrop-column = \"warning\"\nMS013 = \"off\"\n").unwrap();
        assert_eq!(c.runner, Some(Runner::Sqlx));
        assert_eq!(c.migrations_dir, Some(PathBuf::from("proj/db")));
        assert_eq!(c.start_after.as_deref(), Some("20240101"));
        assert_eq!(c.postgres_version, 14);
        assert_eq!(c.rules.levels.get("MS002"), Some(&Some(Severity::Warning)));
        assert_eq!(c.rules.levels.get("MS013"), Some(&None));
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("runner = \"sqlx\"\nrunnr = \"goose\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("proj/migsafe.toml:2:1: unknown field `runnr`"),
            "{e}"
        );
        let e = parse("[rules]\n\ndrop-colum = \"off\"\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "proj/migsafe.toml:3:1: unknown rule `drop-colum` (see `migsafe rule` for the list)"
        );
        let e = parse("runner = \"liquibase\"\n").unwrap_err().to_string();
        assert!(
            e.starts_with("proj/migsafe.toml:1:10: unknown variant `liquibase`"),
            "{e}"
        );
        let e = parse("[rules]\ndrop-column = \"loud\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("proj/migsafe.toml:2:15: unknown variant `loud`"),
            "{e}"
        );
        let e = parse("postgres_version = 9\n").unwrap_err().to_string();
        assert!(
            e.starts_with("proj/migsafe.toml:1:20: postgres_version 9"),
            "{e}"
        );
    }
}
