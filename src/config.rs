//! `migsafe.toml` → validated settings. Unknown keys are errors that name the line, so a typo
//! never silently turns a rule off.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    /// The migrations directory, used when `migsafe lint` is given no paths or the project
    /// root; a list for a project whose migrations live in several (Flyway's `locations`),
    /// read as one project in the runner's order.
    migrations_dir: Option<OneOrMany>,
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
    /// The rollout waves in order, e.g. `["internal", "alpha", "beta", "all"]`: leaking a
    /// release means applying it to the next wave. When set, every target names one of them.
    #[schemars(with = "Option<Vec<String>>")]
    #[schemars(extend("uniqueItems" = true, "minItems" = 1))]
    waves: Option<Spanned<Vec<Spanned<String>>>>,
    /// How `migsafe apply` and `migsafe rollback` run statements on a target.
    apply: Option<RawApply>,
    /// The restore-drill policy the gate enforces.
    drill: Option<RawDrill>,
    /// How `migsafe drift` compares a target's schema with what its history says it applied.
    drift: Option<RawDrift>,
    /// How `migsafe verify` (and drift's replay) runs the migrations on its scratch cluster.
    verify: Option<RawVerify>,
    /// Settings for Flyway projects.
    flyway: Option<RawFlyway>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawFlyway {
    /// Values for `${name}` placeholders in the migrations, e.g. `{ schema = "app" }`. They win
    /// over `flyway.placeholders.*` in flyway.conf and `[flyway.placeholders]` in flyway.toml.
    /// Names match case-insensitively, as in Flyway. The values become SQL text: lint parses
    /// it, `apply` and `verify` run it.
    #[serde(default)]
    placeholders: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawVerify {
    /// Run the migrations as the scratch cluster's superuser instead of an unprivileged role
    /// that owns the scratch databases. UNSAFE for migrations nobody reviewed (a pull request):
    /// a superuser can run programs on the machine (`COPY … TO PROGRAM`), read its files and
    /// reach other servers (`dblink`). Only for migrations that need superuser-only commands.
    superuser: Option<bool>,
    /// Extensions migsafe creates, as the scratch cluster's superuser, in every scratch
    /// database before the migrations run, for extensions an unprivileged owner may not create
    /// (those not marked trusted). Trusted ones (pgcrypto, citext, hstore, …) need no entry.
    #[serde(default)]
    extensions: Vec<String>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawDrift {
    /// Differences `migsafe drift` does not report (it lists them with their reason), e.g.
    /// objects an extension or an operator manages outside the migrations.
    #[serde(default)]
    #[schemars(with = "Vec<RawDriftIgnore>")]
    ignore: Vec<Spanned<RawDriftIgnore>>,
    /// Whether `migsafe plan` and `migsafe apply` block an irreversible migration on a target
    /// whose schema is not the one its down-path was proven on (drifted, or not known): a
    /// snapshot and a down proven on another schema are no proof for this one. Default true.
    blocks: Option<bool>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawDriftIgnore {
    /// The object as `migsafe drift` names it (`index public.accounts_name_idx`,
    /// `column public.accounts.plan`, `migration 20240902090000`), or a pattern where `*`
    /// matches any text (`index public.*_tmp`). The kind may be left out (`public.audit_*`).
    #[schemars(length(min = 1))]
    object: String,
    /// Why the difference is accepted; shown in every report.
    #[schemars(length(min = 1))]
    reason: String,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawApply {
    /// PostgreSQL `lock_timeout` for each step: how long a statement waits for a lock before it
    /// fails, so that a step never queues behind a long transaction while blocking everyone
    /// else. A number with an optional unit `ms` (the default), `s`, `min`, `h` or `d`; `0`
    /// waits forever.
    #[schemars(with = "Option<String>", pattern(PG_INTERVAL_PATTERN))]
    #[schemars(extend("default" = "5s"))]
    lock_timeout: Option<Spanned<String>>,
    /// PostgreSQL `statement_timeout` for each step, in the same form as `lock_timeout`; `0`
    /// (the default) sets no limit.
    #[schemars(with = "Option<String>", pattern(PG_INTERVAL_PATTERN))]
    #[schemars(extend("default" = "0"))]
    statement_timeout: Option<Spanned<String>>,
    /// Apply a plain `ALTER TABLE … DROP COLUMN c` by renaming `c` aside (and dropping its NOT
    /// NULL) instead of dropping it, when nothing else depends on the column. Rollback renames
    /// it back in constant time; `migsafe finalise` drops it when the rollback window closes.
    /// Code that uses `SELECT *` or `INSERT` without a column list sees the extra column: set
    /// `false` for such applications.
    #[schemars(extend("default" = true))]
    soft_drop: Option<bool>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawDrill {
    /// An irreversible migration is blocked unless a restore drill of the target's snapshot
    /// store passed within this age: a number and a unit `m` (minutes), `h`, `d` or `w`, e.g.
    /// `"7d"`. Unset: no drill is required.
    #[schemars(with = "Option<String>", pattern(DRILL_AGE_PATTERN))]
    max_age: Option<Spanned<String>>,
}

const PG_INTERVAL_PATTERN: &str = "^[0-9]+(ms|s|min|h|d)?$";
const DRILL_AGE_PATTERN: &str = "^[0-9]+(m|h|d|w)$";

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
    /// The rollout wave this target belongs to: one of `waves` when that is set.
    #[schemars(with = "Option<String>")]
    wave: Option<Spanned<String>>,
    /// PostgreSQL settings of the sessions the runner uses on this target, set on every
    /// session migsafe runs a migration step on (`migsafe apply`, `rollback`, and the round
    /// trips of `migsafe verify --target`), e.g. `{ search_path = "app, public", role =
    /// "migrator" }`. lock_timeout and statement_timeout belong in `[apply]`.
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    session: Option<Spanned<BTreeMap<String, String>>>,
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

/// A path, or a list of them.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
enum OneOrMany {
    One(PathBuf),
    #[schemars(extend("minItems" = 1))]
    Many(Vec<PathBuf>),
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
    /// One directory, or several read as one project; empty when not set.
    pub migrations_dir: Vec<PathBuf>,
    pub start_after: Option<String>,
    pub postgres_version: u32,
    pub rules: RuleConfig,
    /// `[snapshots] store`, resolved against the file's directory.
    pub snapshot_store: Option<PathBuf>,
    pub targets: Vec<TargetConfig>,
    /// `waves`, in rollout order; empty when not set.
    pub waves: Vec<String>,
    pub apply: ApplySettings,
    /// `[drill] max_age`: a drill older than this does not count.
    pub drill_max_age: Option<Duration>,
    /// `[drift] ignore`: differences `migsafe drift` leaves out, with their reasons.
    pub drift_ignore: Vec<DriftIgnore>,
    /// `[drift] blocks` (default true): an irreversible migration whose receipt was not proven
    /// on the target's own schema is blocked.
    pub drift_blocks: bool,
    /// `[verify] superuser`: run verified migrations as superuser (unsafe; default false).
    pub verify_superuser: bool,
    /// `[apply] lock_timeout` is set in the file, to something other than 0 (no timeout).
    pub apply_lock_timeout_set: bool,
    /// `[verify] extensions`: created by migsafe in each scratch database before the run.
    pub verify_extensions: Vec<String>,
    /// `[flyway] placeholders`: values for `${name}` in Flyway migrations.
    pub flyway_placeholders: BTreeMap<String, String>,
}

/// One `[drift] ignore` entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DriftIgnore {
    /// An object name or a pattern with `*`.
    pub object: String,
    pub reason: String,
}

/// `[apply]`: session settings for each step, as PostgreSQL reads them (`SET lock_timeout`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplySettings {
    pub lock_timeout: String,
    pub statement_timeout: String,
    /// `[apply] soft_drop`: rename dropped columns aside until finalised.
    pub soft_drop: bool,
}

impl Default for ApplySettings {
    fn default() -> Self {
        ApplySettings {
            lock_timeout: "5s".into(),
            statement_timeout: "0".into(),
            soft_drop: true,
        }
    }
}

impl ApplySettings {
    pub fn lock_timeout(&self) -> Duration {
        pg_interval(&self.lock_timeout).expect("validated when the config was read")
    }

    /// `None` for `0`, which PostgreSQL reads as no limit.
    pub fn statement_timeout(&self) -> Option<Duration> {
        Some(pg_interval(&self.statement_timeout).expect("validated when the config was read"))
            .filter(|d| !d.is_zero())
    }
}

/// A PostgreSQL time setting as `lock_timeout` takes it: digits and an optional unit, the
/// default unit being milliseconds. PostgreSQL keeps these in an int of milliseconds, so a
/// larger value would fail only at apply time; it is refused here instead.
fn pg_interval(text: &str) -> Option<Duration> {
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (n, unit) = text.split_at(digits);
    let n: u64 = n.parse().ok()?;
    let ms_per = match unit {
        "" | "ms" => 1,
        "s" => 1_000,
        "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    let ms = n.checked_mul(ms_per).filter(|&ms| ms <= i32::MAX as u64)?;
    Some(Duration::from_millis(ms))
}

/// A drill age: digits and a required unit (`m`, `h`, `d`, `w`), more than zero.
fn drill_age(text: &str) -> Option<Duration> {
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (n, unit) = text.split_at(digits);
    let n: u64 = n.parse().ok().filter(|&n| n > 0)?;
    let secs_per = match unit {
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    Some(Duration::from_secs(n.checked_mul(secs_per)?))
}

/// A wave name that the config does not define.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaveError {
    #[error("unknown wave `{wave}`{}", known_list(.known))]
    Unknown { wave: String, known: Vec<String> },
    #[error(
        "migsafe.toml sets no `waves`, so there is no rollout order: add `waves = [\"…\", …]` in order"
    )]
    NoOrder,
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        " (migsafe.toml defines no waves)".into()
    } else {
        format!(" (known waves: {})", known.join(", "))
    }
}

/// One `[[targets]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetConfig {
    pub name: String,
    pub url: TargetUrl,
    pub wave: Option<String>,
    /// Settings for every session a migration step runs on (`session` in migsafe.toml), in
    /// name order.
    pub session: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetUrl {
    Literal(String),
    Env(String),
}

/// A target's `session` settings, checked: names as PostgreSQL spells settings, and none that
/// migsafe sets itself.
fn session_settings(
    target: &str,
    settings: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, String> {
    for name in settings.keys() {
        let ok = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !ok {
            return Err(format!(
                "target `{target}`: session setting `{name}` is not a PostgreSQL setting name (letters, digits, `_`, `.`)"
            ));
        }
        let lower = name.to_ascii_lowercase();
        if matches!(
            lower.as_str(),
            "lock_timeout" | "statement_timeout" | "default_transaction_read_only"
        ) {
            return Err(format!(
                "target `{target}`: session setting `{name}` is set by migsafe; lock_timeout and statement_timeout go in [apply]"
            ));
        }
    }
    Ok(settings
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect())
}

impl TargetConfig {
    /// The `search_path` of `session`, alone: what read-only sessions set so that they find
    /// the runner's history where the runner's sessions do (without switching role, so a
    /// role that can only read is enough for them).
    pub fn read_settings(&self) -> &[(String, String)] {
        match self.session.iter().position(|(k, _)| k == "search_path") {
            Some(i) => &self.session[i..=i],
            None => &[],
        }
    }

    /// The message for a `session` setting PostgreSQL refused.
    pub fn session_error(&self, (name, value, e): (&str, &str, postgres::Error)) -> String {
        format!(
            "target `{}`: cannot set session setting {name} = '{value}': {}",
            self.name,
            crate::pg::error_text(&e)
        )
    }

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
            drift_blocks: true,
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
        if matches!(&raw.migrations_dir, Some(OneOrMany::Many(ds)) if ds.is_empty()) {
            let at = text.find("migrations_dir").map(|i| i..i + 1);
            return Err(invalid(
                at,
                "`migrations_dir` is an empty list: name the directories, or remove the key".into(),
            ));
        }
        let waves = match &raw.waves {
            None => None,
            Some(list) if list.get_ref().is_empty() => {
                return Err(invalid(
                    Some(list.span()),
                    "`waves` is empty: list the rollout waves in order, or remove the key".into(),
                ));
            }
            Some(list) => {
                let mut names: Vec<String> = vec![];
                for w in list.get_ref() {
                    if !valid_name(w.get_ref()) {
                        return Err(invalid(
                            Some(w.span()),
                            format!(
                                "wave name `{}`: use letters, digits, `_`, `-`, `.` (not starting with `_` or `.`)",
                                w.get_ref()
                            ),
                        ));
                    }
                    if names.contains(w.get_ref()) {
                        return Err(invalid(
                            Some(w.span()),
                            format!("wave `{}` is listed twice in `waves`", w.get_ref()),
                        ));
                    }
                    names.push(w.get_ref().clone());
                }
                Some(names)
            }
        };
        let base = path.parent().unwrap_or(Path::new("."));
        let mut targets: Vec<TargetConfig> = vec![];
        for t in &raw.targets {
            let span = Some(t.span());
            let t = t.get_ref();
            if !valid_name(&t.name) {
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
            if let Some(waves) = &waves {
                match &t.wave {
                    None => {
                        return Err(invalid(
                            span,
                            format!(
                                "target `{}` has no `wave`: `waves` is set, so every target names one of {}",
                                t.name,
                                waves.join(", ")
                            ),
                        ));
                    }
                    Some(w) if !waves.contains(w.get_ref()) => {
                        return Err(invalid(
                            Some(w.span()),
                            format!(
                                "target `{}`: wave `{}` is not one of `waves` ({})",
                                t.name,
                                w.get_ref(),
                                waves.join(", ")
                            ),
                        ));
                    }
                    Some(_) => {}
                }
            }
            let session = match &t.session {
                None => vec![],
                Some(s) => session_settings(&t.name, s.get_ref())
                    .map_err(|m| invalid(Some(s.span()), m))?,
            };
            targets.push(TargetConfig {
                name: t.name.clone(),
                url,
                wave: t.wave.as_ref().map(|w| w.get_ref().clone()),
                session,
            });
        }
        let apply_setting = |value: &Option<Spanned<String>>, key: &str, default: &str| {
            let Some(v) = value else {
                return Ok(default.to_string());
            };
            match pg_interval(v.get_ref()) {
                Some(_) => Ok(v.get_ref().clone()),
                None => Err(invalid(
                    Some(v.span()),
                    format!(
                        "apply.{key} `{}`: write a whole number with an optional unit ms (default), s, min, h or d, e.g. \"5s\"; at most 2147483647ms",
                        v.get_ref()
                    ),
                )),
            }
        };
        let defaults = ApplySettings::default();
        let apply_lock_timeout_set = raw.apply.as_ref().is_some_and(|a| a.lock_timeout.is_some());
        let apply = match &raw.apply {
            None => defaults,
            Some(a) => ApplySettings {
                lock_timeout: apply_setting(
                    &a.lock_timeout,
                    "lock_timeout",
                    &defaults.lock_timeout,
                )?,
                statement_timeout: apply_setting(
                    &a.statement_timeout,
                    "statement_timeout",
                    &defaults.statement_timeout,
                )?,
                soft_drop: a.soft_drop.unwrap_or(defaults.soft_drop),
            },
        };
        let apply_lock_timeout_set =
            apply_lock_timeout_set && apply.lock_timeout() > Duration::ZERO;
        let drill_max_age = match raw.drill.as_ref().and_then(|d| d.max_age.as_ref()) {
            None => None,
            Some(v) => Some(drill_age(v.get_ref()).ok_or_else(|| {
                invalid(
                    Some(v.span()),
                    format!(
                        "drill.max_age `{}`: write a whole number above 0 and a unit m (minutes), h, d or w, e.g. \"7d\"",
                        v.get_ref()
                    ),
                )
            })?),
        };
        let mut drift_ignore: Vec<DriftIgnore> = vec![];
        for entry in raw.drift.iter().flat_map(|d| &d.ignore) {
            let span = Some(entry.span());
            let e = entry.get_ref();
            if e.object.trim().is_empty() {
                return Err(invalid(
                    span,
                    "drift.ignore: `object` is empty: name the object, e.g. \"index public.accounts_name_idx\"".into(),
                ));
            }
            if e.reason.trim().is_empty() {
                return Err(invalid(
                    span,
                    format!(
                        "drift.ignore `{}`: give the `reason` the difference is accepted",
                        e.object.trim()
                    ),
                ));
            }
            drift_ignore.push(DriftIgnore {
                object: e.object.trim().to_string(),
                reason: e.reason.trim().to_string(),
            });
        }
        Ok(Config {
            path: Some(path.to_path_buf()),
            runner: raw.runner,
            migrations_dir: match raw.migrations_dir {
                None => Vec::new(),
                Some(OneOrMany::One(d)) => vec![base.join(d)],
                Some(OneOrMany::Many(ds)) => ds.iter().map(|d| base.join(d)).collect(),
            },
            start_after: raw.start_after.map(Spanned::into_inner),
            postgres_version,
            rules,
            snapshot_store: raw.snapshots.map(|s| base.join(s.store)),
            targets,
            waves: waves.unwrap_or_default(),
            apply,
            drill_max_age,
            drift_ignore,
            drift_blocks: raw.drift.as_ref().and_then(|d| d.blocks).unwrap_or(true),
            verify_superuser: raw
                .verify
                .as_ref()
                .and_then(|v| v.superuser)
                .unwrap_or(false),
            verify_extensions: raw.verify.map(|v| v.extensions).unwrap_or_default(),
            apply_lock_timeout_set,
            flyway_placeholders: raw.flyway.map(|f| f.placeholders).unwrap_or_default(),
        })
    }

    /// What loading migrations needs from this file.
    pub fn load_options(&self) -> crate::source::LoadOptions {
        crate::source::LoadOptions {
            flyway_placeholders: self.flyway_placeholders.clone(),
            executing: false,
        }
    }

    pub fn target(&self, name: &str) -> Option<&TargetConfig> {
        self.targets.iter().find(|t| t.name == name)
    }

    /// The configured waves in rollout order (empty when `waves` is not set).
    pub fn waves(&self) -> &[String] {
        &self.waves
    }

    /// The targets of one wave, in file order. Without `waves`, the wave names the targets
    /// carry are the known ones.
    pub fn targets_in_wave(&self, wave: &str) -> Result<Vec<&TargetConfig>, WaveError> {
        let known: Vec<String> = if self.waves.is_empty() {
            let mut seen: Vec<String> = vec![];
            for w in self.targets.iter().filter_map(|t| t.wave.as_ref()) {
                if !seen.contains(w) {
                    seen.push(w.clone());
                }
            }
            seen
        } else {
            self.waves.clone()
        };
        if !known.iter().any(|w| w == wave) {
            return Err(WaveError::Unknown {
                wave: wave.to_string(),
                known,
            });
        }
        Ok(self
            .targets
            .iter()
            .filter(|t| t.wave.as_deref() == Some(wave))
            .collect())
    }

    /// The waves from the first up to and including `wave`: what a release has reached once it
    /// leaks to `wave`. Needs `waves`, the only source of the order.
    pub fn waves_up_to(&self, wave: &str) -> Result<&[String], WaveError> {
        if self.waves.is_empty() {
            return Err(WaveError::NoOrder);
        }
        let at = self
            .waves
            .iter()
            .position(|w| w == wave)
            .ok_or_else(|| WaveError::Unknown {
                wave: wave.to_string(),
                known: self.waves.clone(),
            })?;
        Ok(&self.waves[..=at])
    }

    /// Finds `migsafe.toml` in `dir` or the nearest ancestor.
    pub fn find(dir: &Path) -> Option<PathBuf> {
        // The real directory: `a/../../b` climbs where the file system says, not textually.
        let abs = std::fs::canonicalize(dir)
            .or_else(|_| std::path::absolute(dir))
            .ok()?;
        let found = abs
            .ancestors()
            .map(|d| d.join(FILE_NAME))
            .find(|p| p.is_file())?;
        if dir.is_absolute() {
            return Some(found);
        }
        // Report it relative to the working directory when `dir` was relative, for stable
        // messages.
        let cwd = std::env::current_dir().and_then(std::fs::canonicalize).ok();
        Some(cwd.and_then(|c| relative_to(&found, &c)).unwrap_or(found))
    }
}

/// Target and wave names appear in paths (`<store>/<target>/`), command lines and JSON output:
/// a small alphabet keeps them safe in all three.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['_', '.'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// `path` as seen from `from` (both absolute, canonical): `../` up to their common ancestor,
/// then down.
fn relative_to(path: &Path, from: &Path) -> Option<PathBuf> {
    let common = from.ancestors().find(|a| path.starts_with(a))?;
    let ups = from.ancestors().position(|a| a == common)?;
    let mut rel = PathBuf::new();
    for _ in 0..ups {
        rel.push("..");
    }
    rel.push(path.strip_prefix(common).ok()?);
    Some(rel)
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
        assert_eq!(c.migrations_dir, [PathBuf::from("proj/db")]);
        let list = parse("migrations_dir = [\"sql/core\", \"sql/billing\"]\n").unwrap();
        assert_eq!(
            list.migrations_dir,
            [
                PathBuf::from("proj/sql/core"),
                PathBuf::from("proj/sql/billing")
            ]
        );
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

    const WAVES: &str = "waves = [\"internal\", \"alpha\", \"beta\", \"all\"]\n";

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn waves_apply_and_drill_happy_path() {
        let c = parse(&format!(
            "{WAVES}[apply]\nlock_timeout = \"250ms\"\nstatement_timeout = \"2min\"\n[drill]\nmax_age = \"7d\"\n\
             [[targets]]\nname = \"staff\"\nurl = \"postgres://h/staff\"\nwave = \"internal\"\n\
             [[targets]]\nname = \"acme\"\nurl_env = \"ACME_URL\"\nwave = \"beta\"\n\
             [[targets]]\nname = \"globex\"\nurl = \"postgres://h/globex\"\nwave = \"beta\"\n"
        ))
        .unwrap();
        assert_eq!(c.waves(), ["internal", "alpha", "beta", "all"]);
        assert_eq!(c.apply.lock_timeout, "250ms");
        assert_eq!(c.apply.lock_timeout(), Duration::from_millis(250));
        assert_eq!(c.apply.statement_timeout(), Some(Duration::from_secs(120)));
        assert_eq!(c.drill_max_age, Some(Duration::from_secs(7 * 86_400)));
        let names = |ts: Vec<&TargetConfig>| ts.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(c.targets_in_wave("beta").unwrap()),
            ["acme", "globex"]
        );
        assert!(c.targets_in_wave("alpha").unwrap().is_empty());
        assert_eq!(
            c.waves_up_to("beta").unwrap(),
            ["internal", "alpha", "beta"]
        );
        assert_eq!(c.waves_up_to("internal").unwrap(), ["internal"]);
        let unknown = c.targets_in_wave("gamma").unwrap_err().to_string();
        assert_eq!(
            unknown,
            "unknown wave `gamma` (known waves: internal, alpha, beta, all)"
        );
        assert_eq!(c.waves_up_to("gamma").unwrap_err().to_string(), unknown);
    }

    #[test]
    fn apply_and_drill_defaults() {
        for c in [parse("").unwrap(), Config::defaults()] {
            assert_eq!(c.apply.lock_timeout, "5s");
            assert_eq!(c.apply.lock_timeout(), Duration::from_secs(5));
            assert_eq!(c.apply.statement_timeout, "0");
            assert_eq!(c.apply.statement_timeout(), None);
            assert_eq!(c.drill_max_age, None);
            assert!(c.waves().is_empty());
        }
        let c = parse("[apply]\nstatement_timeout = \"1500\"\n").unwrap();
        assert_eq!(c.apply.lock_timeout, "5s");
        assert_eq!(
            c.apply.statement_timeout(),
            Some(Duration::from_millis(1500))
        );
        for (age, secs) in [("30m", 1_800), ("12h", 43_200), ("2w", 1_209_600)] {
            let c = parse(&format!("[drill]\nmax_age = \"{age}\"\n")).unwrap();
            assert_eq!(c.drill_max_age, Some(Duration::from_secs(secs)), "{age}");
        }
    }

    #[test]
    fn without_waves_target_labels_are_the_known_waves_but_have_no_order() {
        let c = parse(
            "[[targets]]\nname = \"a\"\nurl = \"postgres://h/a\"\nwave = \"canary\"\n\
             [[targets]]\nname = \"b\"\nurl = \"postgres://h/b\"\n",
        )
        .unwrap();
        assert!(c.waves().is_empty());
        assert_eq!(c.targets_in_wave("canary").unwrap().len(), 1);
        assert_eq!(
            c.targets_in_wave("all").unwrap_err().to_string(),
            "unknown wave `all` (known waves: canary)"
        );
        assert_eq!(c.waves_up_to("canary").unwrap_err(), WaveError::NoOrder);
        assert_eq!(
            parse("")
                .unwrap()
                .targets_in_wave("x")
                .unwrap_err()
                .to_string(),
            "unknown wave `x` (migsafe.toml defines no waves)"
        );
    }

    #[test]
    fn duplicate_empty_or_badly_named_waves_are_errors() {
        assert_eq!(
            err("waves = [\"alpha\",\n  \"beta\", \"alpha\"]\n"),
            "proj/migsafe.toml:2:11: wave `alpha` is listed twice in `waves`"
        );
        assert_eq!(
            err("runner = \"sqlx\"\nwaves = []\n"),
            "proj/migsafe.toml:2:9: `waves` is empty: list the rollout waves in order, or remove the key"
        );
        assert_eq!(
            err("waves = [\"a b\"]\n"),
            "proj/migsafe.toml:1:10: wave name `a b`: use letters, digits, `_`, `-`, `.` (not starting with `_` or `.`)"
        );
    }

    #[test]
    fn a_target_wave_must_be_one_of_waves() {
        assert_eq!(
            err(&format!(
                "{WAVES}[[targets]]\nname = \"ok\"\nurl = \"postgres://h/ok\"\nwave = \"all\"\n\
                 [[targets]]\nname = \"acme\"\nurl = \"postgres://h/acme\"\nwave = \"gamma\"\n"
            )),
            "proj/migsafe.toml:9:8: target `acme`: wave `gamma` is not one of `waves` (internal, alpha, beta, all)"
        );
    }

    #[test]
    fn a_target_without_a_wave_is_an_error_when_waves_are_set() {
        let e = err(&format!(
            "{WAVES}\n[[targets]]\nname = \"acme\"\nurl = \"postgres://h/acme\"\n"
        ));
        assert_eq!(
            e,
            "proj/migsafe.toml:3:1: target `acme` has no `wave`: `waves` is set, so every target names one of internal, alpha, beta, all"
        );
    }

    #[test]
    fn apply_timeouts_must_be_postgres_intervals() {
        for bad in ["5 s", "5sec", "-1", "1.5s", "", "s", "3000000000", "25d"] {
            let e = err(&format!("[apply]\nlock_timeout = \"{bad}\"\n"));
            assert_eq!(
                e,
                format!(
                    "proj/migsafe.toml:2:16: apply.lock_timeout `{bad}`: write a whole number with an optional unit ms (default), s, min, h or d, e.g. \"5s\"; at most 2147483647ms"
                )
            );
        }
        let e = err("[apply]\nlock_timeout = \"1s\"\nstatement_timeout = \"1m\"\n");
        assert!(
            e.starts_with("proj/migsafe.toml:3:21: apply.statement_timeout `1m`:"),
            "{e}"
        );
        for ok in ["0", "100", "5s", "2min", "1h", "24d"] {
            let c = parse(&format!("[apply]\nlock_timeout = \"{ok}\"\n")).unwrap();
            assert_eq!(c.apply.lock_timeout, ok);
        }
        let e = err("[apply]\nlock_timeout = 5\n");
        assert!(e.starts_with("proj/migsafe.toml:2:16: invalid type"), "{e}");
        let e = err("[apply]\nlock_timeot = \"5s\"\n");
        assert!(
            e.starts_with("proj/migsafe.toml:2:1: unknown field `lock_timeot`"),
            "{e}"
        );
    }

    #[test]
    fn drift_ignore_needs_an_object_and_a_reason() {
        let c = parse(
            "[drift]\nignore = [\n  { object = \"index public.*_tmp\", reason = \"ops build these\" },\n]\n",
        )
        .unwrap();
        assert_eq!(
            c.drift_ignore,
            vec![DriftIgnore {
                object: "index public.*_tmp".into(),
                reason: "ops build these".into()
            }]
        );
        assert_eq!(
            err("[drift]\nignore = [\n  { object = \"x\", reason = \" \" },\n]\n"),
            "proj/migsafe.toml:3:3: drift.ignore `x`: give the `reason` the difference is accepted"
        );
        let e = err("[drift]\nignore = [{ object = \"x\" }]\n");
        assert!(e.starts_with("proj/migsafe.toml:2:"), "{e}");
        assert!(e.contains("reason"), "{e}");
        let e = err("[drift]\nignored = []\n");
        assert!(e.starts_with("proj/migsafe.toml:2:1:"), "{e}");
        let e = err("[drift]\nignore = [{ object = \"\", reason = \"r\" }]\n");
        assert!(e.contains("`object` is empty"), "{e}");
    }

    #[test]
    fn drift_blocks_by_default() {
        assert!(parse("").unwrap().drift_blocks);
        assert!(Config::defaults().drift_blocks);
        assert!(parse("[drift]\nblocks = true\n").unwrap().drift_blocks);
        assert!(!parse("[drift]\nblocks = false\n").unwrap().drift_blocks);
        let e = err("[drift]\nblocks = \"no\"\n");
        assert!(e.starts_with("proj/migsafe.toml:2:"), "{e}");
    }

    #[test]
    fn target_session_settings_are_checked_names() {
        let c = parse(
            "[[targets]]\nname = \"prod\"\nurl = \"postgres://h/db\"\nsession = { search_path = \"app, public\", Role = \"migrator\" }\n",
        )
        .unwrap();
        assert_eq!(
            c.targets[0].session,
            [
                ("role".to_string(), "migrator".to_string()),
                ("search_path".to_string(), "app, public".to_string())
            ]
        );
        let target = |session: &str| {
            err(&format!(
                "[[targets]]\nname = \"prod\"\nurl = \"postgres://h/db\"\nsession = {session}\n"
            ))
        };
        let e = target("{ \"search path\" = \"app\" }");
        assert_eq!(
            e,
            "proj/migsafe.toml:4:11: target `prod`: session setting `search path` is not a PostgreSQL setting name (letters, digits, `_`, `.`)"
        );
        let e = target("{ lock_timeout = \"1s\" }");
        assert!(
            e.ends_with("session setting `lock_timeout` is set by migsafe; lock_timeout and statement_timeout go in [apply]"),
            "{e}"
        );
        let e = target("{ role = 1 }");
        assert!(e.starts_with("proj/migsafe.toml:4:"), "{e}");
    }

    #[test]
    fn drill_max_age_must_be_a_duration() {
        for bad in ["7", "0d", "7 d", "1y", "7days", "1.5h"] {
            let e = err(&format!("[drill]\nmax_age = \"{bad}\"\n"));
            assert_eq!(
                e,
                format!(
                    "proj/migsafe.toml:2:11: drill.max_age `{bad}`: write a whole number above 0 and a unit m (minutes), h, d or w, e.g. \"7d\""
                )
            );
        }
        let e = err("[drill]\nmaxage = \"7d\"\n");
        assert!(
            e.starts_with("proj/migsafe.toml:2:1: unknown field `maxage`"),
            "{e}"
        );
    }
}
