//! Flyway placeholders: `${name}` in a migration is replaced before Flyway runs it, so migsafe
//! replaces it before parsing (and apply and verify run the same replaced text).
//!
//! Values come from, lowest to highest precedence: Flyway's built-ins (`${flyway:defaultSchema}`
//! …), `flyway.conf` (`flyway.placeholders.<name>=<value>`) and `flyway.toml`
//! (`[flyway.placeholders]`, then `[environments.<env>.flyway.placeholders]` for the configured
//! `environment`), the nearest file in the migrations directory or up to three levels above
//! winning per key, and `[flyway] placeholders` in migsafe.toml. Names match case-insensitively,
//! as in Flyway. `placeholderPrefix`, `placeholderSuffix` and `placeholderReplacement = false`
//! are honoured. A placeholder without a value is an error at its line: Flyway refuses such a
//! script, and guessing would lint SQL that never runs.
//!
//! Values are untrusted text: they become SQL that lint only parses, and that apply and verify
//! run exactly as Flyway would. A value may span lines; the line breaks it brings are folded
//! (see [`super::Script::folded`]) so that findings keep the file's own line numbers.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::layout::{ancestors, line_of, parse_toml, toml_key_line};
use super::{Result, SourceError, read_sql};

/// The placeholder settings of one Flyway project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholders {
    /// Lower-cased name → value and where it was set.
    values: BTreeMap<String, (String, String)>,
    prefix: String,
    suffix: String,
    replace: bool,
}

/// Flyway's `locations` as the configuration in `root` (the project root: `flyway.conf`,
/// `flyway.toml` or `conf/flyway.conf` there) sets them, resolved against `root`, for a
/// project whose migrations live in several directories. `filesystem:` paths are taken as
/// written; `classpath:` ones (and bare ones, Flyway's default prefix) under Maven's and
/// Gradle's `src/main/resources`. Directories that do not exist are left out, as Flyway skips
/// them. Empty when no configuration there sets `locations`.
pub(crate) fn locations(root: &Path) -> Result<Vec<PathBuf>> {
    let mut settings = Settings::default();
    for name in super::flyway::CONF_FILES {
        let path = root.join(name);
        if !path.is_file() {
            continue;
        }
        if name.ends_with(".toml") {
            settings.read_toml(&path)?;
        } else {
            settings.read_conf(&path)?;
        }
    }
    let Some(list) = settings.get("locations") else {
        return Ok(Vec::new());
    };
    let mut dirs = Vec::new();
    for location in list.split(',').map(str::trim).filter(|l| !l.is_empty()) {
        let dir = match location.split_once(':') {
            Some(("filesystem", p)) => root.join(p),
            Some(("classpath", p)) => root.join("src/main/resources").join(p),
            // s3:, gcs: and other schemes: migrations migsafe cannot read are not skipped.
            Some((scheme, _)) => {
                let (path, line) = settings
                    .origins
                    .get("locations")
                    .cloned()
                    .unwrap_or_else(|| (root.to_path_buf(), 1));
                return Err(SourceError::Layout {
                    path,
                    line,
                    message: format!(
                        "Flyway location `{location}`: migsafe reads `filesystem:` and `classpath:` locations, not `{scheme}:`; copy the scripts to a directory and name it in migrations_dir"
                    ),
                });
            }
            None => root.join("src/main/resources").join(location),
        };
        if dir.is_dir() && !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    Ok(dirs)
}

/// Stand-ins for built-ins that only a live Flyway run knows. Fixed, so that checksums and
/// receipts stay the same from one run to the next.
const STAND_INS: [(&str, &str); 4] = [
    ("flyway:user", "flyway_user"),
    ("flyway:database", "flyway_database"),
    ("flyway:timestamp", "1970-01-01 00:00:00"),
    ("flyway:workingDirectory", "flyway_working_directory"),
];

impl Placeholders {
    /// The settings for migrations in `dir`: Flyway's configuration files in `dir` and up to
    /// three levels above, then `overrides` (migsafe.toml's `[flyway] placeholders`).
    /// `executing`: stand-ins are left out, so a script using an unconfigured one is refused
    /// as having no value (it would run with a made-up user or database name).
    pub fn find(
        dir: &Path,
        overrides: &BTreeMap<String, String>,
        executing: bool,
    ) -> Result<Placeholders> {
        let mut settings = Settings::default();
        for d in ancestors(dir, 3) {
            for name in super::flyway::CONF_FILES {
                let path = d.join(name);
                if path.is_file() {
                    if name.ends_with(".toml") {
                        settings.read_toml(&path)?;
                    } else {
                        settings.read_conf(&path)?;
                    }
                }
            }
        }
        let mut values: BTreeMap<String, (String, String)> = BTreeMap::new();
        let schema = settings
            .get("defaultSchema")
            .or_else(|| {
                settings
                    .get("schemas")
                    .and_then(|s| s.split(',').next().map(|f| f.trim().to_string()))
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "public".to_string());
        let builtin = "a Flyway built-in";
        let mut set = |name: &str, value: String, from: &str| {
            values.insert(name.to_ascii_lowercase(), (value, from.to_string()));
        };
        set("flyway:defaultSchema", schema, builtin);
        set(
            "flyway:table",
            settings
                .get("table")
                .unwrap_or_else(|| "flyway_schema_history".into()),
            builtin,
        );
        set(
            "flyway:environment",
            settings
                .get("environment")
                .unwrap_or_else(|| "default".into()),
            builtin,
        );
        for (name, value) in STAND_INS {
            let configured = match name {
                "flyway:user" => settings.get("user"),
                "flyway:database" => settings.get("url").and_then(|u| database_of(&u)),
                _ => None,
            };
            match configured {
                Some(v) => set(name, v, builtin),
                None if !executing => {
                    set(name, value.to_string(), "a stand-in for a Flyway built-in")
                }
                None => {}
            }
        }
        for (name, (value, from)) in &settings.placeholders {
            set(name, value.clone(), from);
        }
        for (name, value) in overrides {
            set(name, value.clone(), "migsafe.toml");
        }
        Ok(Placeholders {
            values,
            prefix: settings
                .get("placeholderPrefix")
                .unwrap_or_else(|| "${".into()),
            suffix: settings
                .get("placeholderSuffix")
                .unwrap_or_else(|| "}".into()),
            replace: settings
                .get("placeholderReplacement")
                .is_none_or(|v| !v.eq_ignore_ascii_case("false")),
        })
    }

    /// `text` with every placeholder replaced, and the byte ranges of the replaced values in
    /// the result. `None` when nothing is replaced (the text stays shared).
    pub fn substitute(
        &self,
        path: &Path,
        text: &str,
    ) -> Result<Option<(String, Vec<Range<usize>>)>> {
        if !self.replace || self.prefix.is_empty() || !text.contains(&self.prefix) {
            return Ok(None);
        }
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut out = String::with_capacity(text.len());
        let mut inserted = Vec::new();
        let mut rest = 0;
        let mut from = 0;
        while let Some(found) = text[from..].find(&self.prefix) {
            let start = from + found;
            let name_start = start + self.prefix.len();
            let Some(len) = text[name_start..].find(&self.suffix) else {
                break;
            };
            let name = &text[name_start..name_start + len];
            if name.is_empty() || name.contains(['\n', '\r']) {
                from = name_start;
                continue;
            }
            let key = name.to_ascii_lowercase();
            let value = if key == "flyway:filename" {
                file_name.clone()
            } else {
                match self.values.get(&key) {
                    Some((value, _)) => value.clone(),
                    None if STAND_INS.iter().any(|(n, _)| n.eq_ignore_ascii_case(&key)) => {
                        return Err(SourceError::Layout {
                            path: path.to_path_buf(),
                            line: line_of(text, start),
                            message: format!(
                                "placeholder `{}{name}{}` is known only to a live Flyway run, and this command runs the script: set `flyway.user` / `flyway.url` in flyway.conf (for the user and database), or give `{name}` a value with `placeholders = {{ \"{name}\" = \"…\" }}` under `[flyway]` in migsafe.toml",
                                self.prefix, self.suffix
                            ),
                        });
                    }
                    None => {
                        return Err(SourceError::Layout {
                            path: path.to_path_buf(),
                            line: line_of(text, start),
                            message: format!(
                                "placeholder `{}{name}{}` has no value, and Flyway refuses to run a script with one; set `flyway.placeholders.{name}` in flyway.conf, `{name}` under `[flyway.placeholders]` in flyway.toml, or `placeholders = {{ {name} = \"…\" }}` under `[flyway]` in migsafe.toml",
                                self.prefix, self.suffix
                            ),
                        });
                    }
                }
            };
            out.push_str(&text[rest..start]);
            inserted.push(out.len()..out.len() + value.len());
            out.push_str(&value);
            rest = name_start + len + self.suffix.len();
            from = rest;
        }
        if inserted.is_empty() {
            return Ok(None);
        }
        out.push_str(&text[rest..]);
        Ok(Some((out, inserted)))
    }
}

/// The database name of a JDBC URL (`jdbc:postgresql://host:5432/app?ssl=true` → `app`).
fn database_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let path = rest.split_once('/')?.1;
    let name = path.split(['?', ';']).next()?;
    (!name.is_empty()).then(|| name.to_string())
}

/// What the configuration files say, nearest file first (the first value of a key wins).
#[derive(Debug, Default)]
struct Settings {
    /// `flyway.<key>` settings other than placeholders.
    keys: BTreeMap<String, String>,
    /// Where each of `keys` was set: the file, and the line when known (else 1).
    origins: BTreeMap<String, (PathBuf, usize)>,
    /// Lower-cased placeholder name → value and the file that set it.
    placeholders: BTreeMap<String, (String, String)>,
}

impl Settings {
    fn get(&self, key: &str) -> Option<String> {
        self.keys.get(key).cloned()
    }

    fn key(&mut self, key: &str, value: String, from: &Path, line: usize) {
        if !self.keys.contains_key(key) {
            self.origins
                .insert(key.to_string(), (from.to_path_buf(), line));
        }
        self.keys.entry(key.to_string()).or_insert(value);
    }

    fn placeholder(&mut self, name: &str, value: String, from: &Path) {
        self.placeholders
            .entry(name.to_ascii_lowercase())
            .or_insert_with(|| (value, from.display().to_string()));
    }

    /// `flyway.conf`: Java properties, `flyway.placeholders.<name>=<value>` and `flyway.<key>`.
    fn read_conf(&mut self, path: &Path) -> Result<()> {
        let text = read_sql(path)?;
        for (key, value, offset) in super::flyway::properties(&text) {
            let value = value.as_str();
            let Some(key) = key.strip_prefix("flyway.") else {
                continue;
            };
            match key.strip_prefix("placeholders.") {
                Some(name) => self.placeholder(name, value.to_string(), path),
                None => self.key(key, value.to_string(), path, line_of(&text, offset)),
            }
        }
        Ok(())
    }

    /// `flyway.toml`: `[flyway]` keys and `[flyway.placeholders]`, with
    /// `[environments.<env>]` (its `schemas`, `user`, `url`) and
    /// `[environments.<env>.flyway.placeholders]` for the configured environment first.
    fn read_toml(&mut self, path: &Path) -> Result<()> {
        let doc = parse_toml(path)?;
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let flyway = doc.get("flyway").and_then(toml::Value::as_table);
        let environment = flyway
            .and_then(|f| f.get("environment"))
            .and_then(toml::Value::as_str)
            .unwrap_or("default")
            .to_string();
        let env = doc
            .get("environments")
            .and_then(|e| e.get(&environment))
            .and_then(toml::Value::as_table);
        let text_of = |v: &toml::Value| match v {
            toml::Value::String(s) => Some(s.clone()),
            toml::Value::Array(items) => Some(
                items
                    .iter()
                    .filter_map(toml::Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            toml::Value::Boolean(_) | toml::Value::Integer(_) => Some(v.to_string()),
            _ => None,
        };
        let tables = [
            env.and_then(|e| e.get("flyway"))
                .and_then(toml::Value::as_table),
            flyway,
        ];
        for table in tables.into_iter().flatten() {
            if let Some(p) = table.get("placeholders").and_then(toml::Value::as_table) {
                for (name, value) in p {
                    if let Some(v) = text_of(value) {
                        self.placeholder(name, v, path);
                    }
                }
            }
        }
        if let Some(env) = env {
            for key in ["schemas", "user", "url"] {
                if let Some(v) = env.get(key).and_then(text_of) {
                    self.key(key, v, path, 1);
                }
            }
        }
        for table in tables.into_iter().flatten() {
            for (key, value) in table {
                if key != "placeholders"
                    && let Some(v) = text_of(value)
                {
                    let line = toml_key_line(&text, key);
                    self.key(key, v, path, line);
                }
            }
        }
        self.key("environment", environment, path, 1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(values: &[(&str, &str)]) -> Placeholders {
        Placeholders {
            values: values
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), (v.to_string(), "test".into())))
                .collect(),
            prefix: "${".into(),
            suffix: "}".into(),
            replace: true,
        }
    }

    #[test]
    fn replaces_case_insensitively_and_records_ranges() {
        let p = plain(&[("Schema", "app"), ("owner", "alice")]);
        let (out, ranges) = p
            .substitute(
                Path::new("V1__x.sql"),
                "CREATE TABLE ${SCHEMA}.t ();\n-- ${flyway:filename}\nALTER TABLE ${schema}.t OWNER TO ${owner};",
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            out,
            "CREATE TABLE app.t ();\n-- V1__x.sql\nALTER TABLE app.t OWNER TO alice;"
        );
        let got: Vec<&str> = ranges.iter().map(|r| &out[r.clone()]).collect();
        assert_eq!(got, ["app", "V1__x.sql", "app", "alice"]);
        assert!(
            p.substitute(Path::new("a.sql"), "SELECT '$' || '{x'")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn missing_value_names_the_placeholder_and_its_line() {
        let e = plain(&[])
            .substitute(Path::new("V1__x.sql"), "SELECT 1;\nDROP TABLE ${table};\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("V1__x.sql:2: placeholder `${table}` has no value"),
            "{e}"
        );
        assert!(
            e.contains("`flyway.placeholders.table` in flyway.conf"),
            "{e}"
        );
    }

    #[test]
    fn jdbc_database_names() {
        assert_eq!(
            database_of("jdbc:postgresql://db:5432/app?ssl=true").as_deref(),
            Some("app")
        );
        assert_eq!(database_of("jdbc:postgresql://db:5432/"), None);
    }
}
