//! sqitch: `sqitch.plan` lists changes in deploy order; each change has `deploy/<change>.sql`,
//! `revert/<change>.sql` and `verify/<change>.sql`. A change planned again after a tag is a
//! rework: the earlier instance's scripts are `deploy/<change>@<tag>.sql`, where the tag is the
//! first one between the two instances whose script exists (sqitchers/sqitch
//! `lib/App/Sqitch/Plan/Change.pm`, `path_segments`). Scripts go through `psql` statement by
//! statement and carry their own `BEGIN`/`COMMIT`.
//!
//! `sqitch.conf` (git-config syntax) in the project directory moves those files: `top_dir`,
//! `plan_file`, `deploy_dir`, `revert_dir`, `verify_dir` and `extension`, each looked up as
//! sqitch's `App::Sqitch::Target::_fetch` does: `[target "<name>"]` (the target named by the
//! engine section's or core's `target`), then `[engine "<engine>"]` (`core.engine`, else `pg`),
//! then `[core]`. Defaults are `<top_dir>/sqitch.plan` and `<top_dir>/deploy` …; a configured
//! `plan_file` or `deploy_dir` is taken as written, relative to the project directory (not to
//! `top_dir`), as sqitch does. The file is untrusted: absolute paths and paths that climb out
//! of the project directory are refused at their line.

use std::path::{Component, Path, PathBuf};

use super::files::Files;
use super::layout::{lines, migration};
use super::{ExecMode, Migration, Result, Script, SourceError, read_sql_in};

pub(crate) const PLAN: &str = "sqitch.plan";
pub(crate) const CONF: &str = "sqitch.conf";

/// `sqitch.plan` or `sqitch.conf` in the directory.
pub(crate) fn has_signal(dir: &Path) -> bool {
    dir.join(PLAN).is_file() || dir.join(CONF).is_file()
}

/// Whether the project in `dir` has a plan file where its configuration puts it. A broken
/// configuration counts as having one, so that loading reports the error.
pub(crate) fn has_plan(files: &dyn Files, dir: &Path) -> bool {
    match project_dir(files, dir).and_then(|d| Layout::read(files, &d)) {
        Ok(layout) => files.is_file(&layout.plan),
        Err(_) => true,
    }
}

/// One `key = value` of a git-config file: the section (lower case), the subsection (as
/// written), the key (lower case), the value (unquoted) and its line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ConfigEntry {
    section: String,
    subsection: Option<String>,
    key: String,
    value: String,
    line: usize,
}

/// Parses git-config syntax: `[section]`, `[section "subsection"]` (and the old
/// `[section.subsection]`), `key = value`, a bare `key` (true), `#`/`;` comments outside quotes,
/// double-quoted parts with `\"`, `\\`, `\n`, `\t` escapes, and a `\` at the end of a line
/// continuing the value on the next.
fn parse_config(path: &Path, text: &str) -> Result<Vec<ConfigEntry>> {
    let mut entries = Vec::new();
    let mut section: Option<(String, Option<String>)> = None;
    let all: Vec<_> = lines(text).collect();
    let mut i = 0;
    while i < all.len() {
        let line = all[i];
        i += 1;
        let err = |message: String| SourceError::Layout {
            path: path.to_path_buf(),
            line: line.number,
            message,
        };
        let t = line.text.trim();
        if t.is_empty() || t.starts_with(['#', ';']) {
            continue;
        }
        let mut rest = t;
        if let Some(after) = rest.strip_prefix('[') {
            let Some(close) = find_section_end(after) else {
                return Err(err("unterminated section header: missing `]`".into()));
            };
            let header = &after[..close];
            let tail = after[close + 1..].trim_start();
            section = Some(
                parse_header(header)
                    .ok_or_else(|| err(format!("`[{header}]` is not a valid section header")))?,
            );
            if tail.is_empty() || tail.starts_with(['#', ';']) {
                continue;
            }
            // git allows `[core] key = value` on one line.
            rest = tail;
        }
        let Some((name, subsection)) = &section else {
            return Err(err("a setting before the first `[section]`".into()));
        };
        let key_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(rest.len());
        let key = &rest[..key_len];
        if key.is_empty() || !key.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(err(format!("`{t}` is not a `key = value` setting")));
        }
        let after_key = rest[key_len..].trim_start();
        let value = if after_key.is_empty() || after_key.starts_with(['#', ';']) {
            "true".to_string()
        } else if let Some(raw) = after_key.strip_prefix('=') {
            let mut raw = raw.to_string();
            let mut value = String::new();
            loop {
                match parse_value(&raw, &mut value) {
                    Ok(false) => break,
                    Ok(true) => {
                        let Some(next) = all.get(i) else {
                            return Err(err(
                                "a `\\` continues the value past the end of the file".into()
                            ));
                        };
                        i += 1;
                        raw = next.text.to_string();
                    }
                    Err(message) => return Err(err(message)),
                }
            }
            value
        } else {
            return Err(err(format!("`{t}` is not a `key = value` setting")));
        };
        entries.push(ConfigEntry {
            section: name.clone(),
            subsection: subsection.clone(),
            key: key.to_ascii_lowercase(),
            value,
            line: line.number,
        });
    }
    Ok(entries)
}

/// The `]` that closes a section header, skipping a quoted subsection.
fn find_section_end(s: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ']' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// `core` → `("core", None)`; `engine "pg"` and `engine.pg` → `("engine", Some("pg"))`.
fn parse_header(header: &str) -> Option<(String, Option<String>)> {
    let header = header.trim();
    let valid = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    };
    if let Some((name, sub)) = header.split_once(char::is_whitespace) {
        let sub = sub.trim().strip_prefix('"')?.strip_suffix('"')?;
        let sub = sub.replace("\\\"", "\"").replace("\\\\", "\\");
        return valid(name).then(|| (name.to_ascii_lowercase(), Some(sub)));
    }
    if !valid(header) {
        return None;
    }
    Some(match header.split_once('.') {
        Some((name, sub)) => (name.to_ascii_lowercase(), Some(sub.to_ascii_lowercase())),
        None => (header.to_ascii_lowercase(), None),
    })
}

/// Appends the value in `raw` (the text after `=`) to `out`: quotes removed, escapes resolved,
/// a comment outside quotes dropped, surrounding whitespace trimmed (inside quotes it stays).
/// `Ok(true)` when a trailing `\` continues the value on the next line.
fn parse_value(raw: &str, out: &mut String) -> std::result::Result<bool, String> {
    let mut quoted = false;
    // Whitespace outside quotes is kept only between words; `pending` holds it until a word follows.
    let mut pending = String::new();
    let mut chars = raw.chars();
    let start = out.is_empty();
    let mut seen = !start;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                if seen {
                    out.push_str(&pending);
                }
                pending.clear();
                seen = true;
            }
            '\\' => {
                let Some(e) = chars.next() else {
                    if quoted {
                        return Err("a quoted value continues past the end of the line".into());
                    }
                    // git keeps the whitespace before the `\` when the value goes on.
                    if seen {
                        out.push_str(&pending);
                    }
                    return Ok(true);
                };
                if seen {
                    out.push_str(&pending);
                }
                pending.clear();
                seen = true;
                out.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    'b' => '\u{8}',
                    '"' | '\\' => e,
                    other => return Err(format!("unknown escape `\\{other}` in a value")),
                });
            }
            '#' | ';' if !quoted => break,
            c if c.is_whitespace() && !quoted => pending.push(c),
            c => {
                if seen {
                    out.push_str(&pending);
                }
                pending.clear();
                seen = true;
                out.push(c);
            }
        }
    }
    if quoted {
        return Err("unterminated quoted value (missing `\"`)".into());
    }
    Ok(false)
}

/// Where a sqitch project's plan and scripts are.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Layout {
    plan: PathBuf,
    deploy: PathBuf,
    revert: PathBuf,
    extension: String,
}

impl Layout {
    /// The layout of the project in `dir`, from its `sqitch.conf` if it has one.
    fn read(files: &dyn Files, dir: &Path) -> Result<Layout> {
        let conf = dir.join(CONF);
        let entries = if files.is_file(&conf) {
            let text = read_sql_in(files, &conf)?;
            parse_config(&conf, &text)?
        } else {
            Vec::new()
        };
        let get = |section: &str, sub: Option<&str>, key: &str| {
            // The last assignment wins, as in git.
            entries
                .iter()
                .rev()
                .find(|e| e.section == section && e.subsection.as_deref() == sub && e.key == key)
        };
        let core = |key: &str| get("core", None, key).filter(|e| !e.value.is_empty());
        let engine = core("engine").map_or("pg".to_string(), |e| e.value.clone());
        let target = get("engine", Some(&engine), "target")
            .or_else(|| core("target"))
            .map(|e| e.value.clone());
        // sqitch treats an empty value as unset (`||`) and falls through to the next place.
        let fetch = |key: &str| -> Option<&ConfigEntry> {
            target
                .as_deref()
                .and_then(|t| get("target", Some(t), key))
                .filter(|e| !e.value.is_empty())
                .or_else(|| get("engine", Some(&engine), key).filter(|e| !e.value.is_empty()))
                .or_else(|| core(key))
        };
        let path_of = |key: &str| -> Result<Option<PathBuf>> {
            fetch(key)
                .map(|e| checked_path(&conf, e).map(|p| dir.join(p)))
                .transpose()
        };
        let top = match path_of("top_dir")? {
            Some(top) => clean(&top),
            None => dir.to_path_buf(),
        };
        let extension = fetch("extension").map_or("sql".to_string(), |e| e.value.clone());
        if extension.contains(['/', '\\']) || extension.contains("..") {
            let e = fetch("extension").expect("set");
            return Err(SourceError::Layout {
                path: conf,
                line: e.line,
                message: format!("extension `{extension}` must be a plain file extension"),
            });
        }
        Ok(Layout {
            plan: path_of("plan_file")?.unwrap_or_else(|| top.join(PLAN)),
            deploy: path_of("deploy_dir")?.unwrap_or_else(|| top.join("deploy")),
            revert: path_of("revert_dir")?.unwrap_or_else(|| top.join("revert")),
            extension,
        })
    }
}

/// `a/./b` → `a/b`, so that `top_dir = .` leaves paths as they would be without it.
fn clean(path: &Path) -> PathBuf {
    let out: PathBuf = path
        .components()
        .filter(|c| *c != Component::CurDir)
        .collect();
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

/// A path from sqitch.conf, refused when absolute or when it climbs out of the project
/// directory: the configuration comes with the repository and must not make migsafe read
/// (or `apply` run) files elsewhere on the machine.
fn checked_path(conf: &Path, entry: &ConfigEntry) -> Result<PathBuf> {
    let err = |why: &str| SourceError::Layout {
        path: conf.to_path_buf(),
        line: entry.line,
        message: format!(
            "{} = \"{}\": {why}; sqitch paths must stay inside the project directory",
            entry.key, entry.value
        ),
    };
    let path = Path::new(&entry.value);
    let mut depth: usize = 0;
    for c in path.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => return Err(err("an absolute path")),
            Component::CurDir => {}
            Component::ParentDir => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| err("the path leaves the project directory (`..`)"))?;
            }
            Component::Normal(_) => depth += 1,
        }
    }
    if entry.value.starts_with('~') {
        return Err(err("a path in a home directory"));
    }
    Ok(path.to_path_buf())
}

#[derive(Debug)]
enum Entry {
    Change { name: String, line: usize },
    Tag { name: String },
}

/// Reads the plan's changes and tags in order, checking that each change line has the shape
/// `name [deps] timestamp planner <email> # note`.
fn parse_plan(path: &Path, text: &str) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for line in lines(text) {
        let t = line.text.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with('%') {
            continue;
        }
        let err = |message: String| SourceError::Layout {
            path: path.to_path_buf(),
            line: line.number,
            message,
        };
        let head = t.split_whitespace().next().unwrap_or_default();
        let (body, _note) = t.split_once(" #").unwrap_or((t, ""));
        if !(body.contains('<') && body.trim_end().ends_with('>')) {
            return Err(err(format!(
                "not a plan entry: expected `{head} [dependencies] <timestamp> <planner name> <email>`"
            )));
        }
        if let Some(tag) = head.strip_prefix('@') {
            entries.push(Entry::Tag {
                name: tag.to_string(),
            });
        } else if head.starts_with('-') {
            return Err(err(format!(
                "`{head}`: revert entries in the plan are not supported"
            )));
        } else {
            let name = head.strip_prefix('+').unwrap_or(head);
            if name.is_empty() || name.contains(['@', ':', '[']) {
                return Err(err(format!("`{head}` is not a valid change name")));
            }
            entries.push(Entry::Change {
                name: name.to_string(),
                line: line.number,
            });
        }
    }
    Ok(entries)
}

/// Loads a sqitch project in plan order. The version is the change name; an earlier instance of
/// a reworked change is `<change>@<tag>`, sqitch's own way to name it. A missing deploy script
/// is an error at its plan line; a missing revert script means no down.
pub fn load(files: &dyn Files, dir: &Path) -> Result<Vec<Migration>> {
    let layout = Layout::read(files, &project_dir(files, dir)?)?;
    let plan_path = layout.plan.clone();
    let plan = read_sql_in(files, &plan_path)?;
    let entries = parse_plan(&plan_path, &plan)?;
    let mut migrations = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let Entry::Change { name, line } = entry else {
            continue;
        };
        let later = &entries[i + 1..];
        let next = later.iter().enumerate().find_map(|(j, e)| match e {
            Entry::Change { name: n, line } if n == name => Some((j, *line)),
            _ => None,
        });
        let (version, stem) = match next {
            None => (name.clone(), name.clone()),
            Some((next, again)) => {
                let tags: Vec<&str> = later[..next]
                    .iter()
                    .filter_map(|e| match e {
                        Entry::Tag { name } => Some(name.as_str()),
                        Entry::Change { .. } => None,
                    })
                    .collect();
                let Some(first) = tags.first() else {
                    return Err(SourceError::Layout {
                        path: plan_path,
                        line: again,
                        message: format!(
                            "change `{name}` is planned again without a tag in between (sqitch needs a tag before a rework)"
                        ),
                    });
                };
                let tag = tags
                    .iter()
                    .find(|t| files.is_file(&layout.script(&layout.deploy, &format!("{name}@{t}"))))
                    .unwrap_or(first);
                (format!("{name}@{tag}"), format!("{name}@{tag}"))
            }
        };
        let deploy = layout.script(&layout.deploy, &stem);
        if !files.is_file(&deploy) {
            return Err(SourceError::Layout {
                path: plan_path,
                line: *line,
                message: format!(
                    "deploy script {} not found for change `{name}`",
                    deploy.display()
                ),
            });
        }
        let up = script(files, &deploy)?;
        let revert = layout.script(&layout.revert, &stem);
        let down = if files.is_file(&revert) {
            Some(script(files, &revert)?)
        } else {
            None
        };
        migrations.push(migration(version, String::new(), up, down));
    }
    Ok(migrations)
}

impl Layout {
    /// `<dir>/<stem>.<extension>`; a change name with `/` lives in a subdirectory, as in sqitch.
    fn script(&self, dir: &Path, stem: &str) -> PathBuf {
        dir.join(format!("{stem}.{}", self.extension))
    }
}

/// The project directory for `dir`: `dir` itself when it has a `sqitch.conf` or no project
/// above claims it; else the directory one or two levels up whose `sqitch.conf` puts its plan
/// in `dir` (a project with `top_dir = sql`, linted as `sql/`).
fn project_dir(files: &dyn Files, dir: &Path) -> Result<PathBuf> {
    if files.is_file(&dir.join(CONF)) {
        return Ok(dir.to_path_buf());
    }
    let Ok(here) = dir.join(PLAN).canonicalize() else {
        return Ok(dir.to_path_buf());
    };
    let mut up = dir.to_path_buf();
    for _ in 0..2 {
        // Lexically up while the path ends in a name, so reports keep relative paths short.
        up = match up.components().next_back() {
            Some(Component::Normal(_)) => match up.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            },
            _ => up.join(".."),
        };
        if files.is_file(&up.join(CONF)) {
            let layout = Layout::read(files, &up)?;
            if layout.plan.canonicalize().is_ok_and(|p| p == here) {
                return Ok(up);
            }
        }
    }
    Ok(dir.to_path_buf())
}

fn script(files: &dyn Files, path: &Path) -> Result<Script> {
    Ok(Script::whole(
        path.to_path_buf(),
        read_sql_in(files, path)?,
        ExecMode::PerStatement,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_lines() {
        let plan = "%syntax-version=1.0.0\n%project=flipr\n\n# comment\nappschema 2024-01-01T00:00:00Z Ann <ann@example.com> # schema\nusers [appschema] 2024-01-02T00:00:00Z Ann <ann@example.com>\n@v1.0 2024-01-03T00:00:00Z Ann <ann@example.com> # tag\n";
        let entries = parse_plan(Path::new("sqitch.plan"), plan).unwrap();
        let names: Vec<String> = entries
            .iter()
            .map(|e| match e {
                Entry::Change { name, line } => format!("{name}:{line}"),
                Entry::Tag { name } => format!("@{name}"),
            })
            .collect();
        assert_eq!(names, ["appschema:5", "users:6", "@v1.0"]);
    }

    #[test]
    fn bad_plan_line() {
        let e = parse_plan(Path::new("sqitch.plan"), "users\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "sqitch.plan:1: not a plan entry: expected `users [dependencies] <timestamp> <planner name> <email>`"
        );
    }

    fn config(text: &str) -> Vec<(String, String)> {
        parse_config(Path::new("sqitch.conf"), text)
            .unwrap()
            .into_iter()
            .map(|e| {
                let section = match e.subsection {
                    Some(sub) => format!("{}.{sub}", e.section),
                    None => e.section,
                };
                (format!("{section}.{}:{}", e.key, e.line), e.value)
            })
            .collect()
    }

    #[test]
    fn git_config_syntax() {
        let got = config(
            "# sqitch\n[core]\n\tengine = pg\n\tTop_Dir = ./sql   # where\n; comment\n[engine \"pg\"]\n\ttarget = \"db:pg:x;y\" ; c\n\tplan_file = \"a \\\"b\\\" c\"\n\tflag\n[Engine.PG]\nclient = psql \\\n  -X\n[core] verify_dir = v\n",
        );
        let want: Vec<(String, String)> = [
            ("core.engine:3", "pg"),
            ("core.top_dir:4", "./sql"),
            ("engine.pg.target:7", "db:pg:x;y"),
            ("engine.pg.plan_file:8", "a \"b\" c"),
            ("engine.pg.flag:9", "true"),
            ("engine.pg.client:11", "psql   -X"),
            ("core.verify_dir:13", "v"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn bad_config_lines() {
        let e = |t: &str| {
            parse_config(Path::new("sqitch.conf"), t)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            e("top_dir = sql\n"),
            "sqitch.conf:1: a setting before the first `[section]`"
        );
        assert_eq!(
            e("[core\n"),
            "sqitch.conf:1: unterminated section header: missing `]`"
        );
        assert_eq!(
            e("[core]\n top_dir = \"sql\n"),
            "sqitch.conf:2: unterminated quoted value (missing `\"`)"
        );
        assert_eq!(
            e("[core]\n= x\n"),
            "sqitch.conf:2: `= x` is not a `key = value` setting"
        );
    }

    #[test]
    fn hostile_paths() {
        let entry = |value: &str| ConfigEntry {
            section: "core".into(),
            subsection: None,
            key: "top_dir".into(),
            value: value.into(),
            line: 3,
        };
        let conf = Path::new("p/sqitch.conf");
        for bad in ["/etc", "..", "sql/../..", "../x", "~/x"] {
            let e = checked_path(conf, &entry(bad)).unwrap_err().to_string();
            assert!(e.starts_with("p/sqitch.conf:3: top_dir = "), "{bad}: {e}");
        }
        for good in ["sql", "./sql", "a/../b", "db/sqitch"] {
            assert_eq!(checked_path(conf, &entry(good)).unwrap(), Path::new(good));
        }
    }
}
