//! Flyway: `V<version>__<description>.sql` (versioned), `U<version>__<description>.sql` (undo, the
//! down of the same version), `R__<description>.sql` (repeatable: re-run whenever it changes,
//! after all versioned migrations). Versions use `.` or `_` between numbers (`V1_2__x` is 1.2).
//! A per-script `<file>.sql.conf` with `executeInTransaction=false` makes the script run
//! statement by statement; otherwise Flyway decides per script ([`ExecMode::FlywayAuto`]).
//! `${name}` placeholders are replaced as Flyway would ([`super::placeholders`]).
//! A location is scanned as Flyway scans it, subdirectories included; several locations are
//! read in one scan ([`load_many`]), so an undo pairs with its versioned script across them.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::files::Files;
use super::layout::{Direction, Found, Listing, found_upwards, line_of, name_error, pair};
use super::placeholders::Placeholders;
use super::{ExecMode, Migration, Result, Script, SourceError, read_sql_in};

#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Versioned { version: String },
    Undo { version: String },
    Repeatable,
}

/// Classifies a Flyway file name; `None` for files Flyway does not treat as migrations
/// (callbacks such as `afterMigrate.sql`), `Some(Err)` for names that start like a migration but
/// are malformed (Flyway skips those silently unless `validateMigrationNaming` is on).
fn parse_name(name: &str) -> Option<std::result::Result<(Kind, &str), String>> {
    let stem = name.strip_suffix(".sql")?;
    if let Some(desc) = stem.strip_prefix("R__") {
        return Some(Ok((Kind::Repeatable, desc)));
    }
    let undo = stem.starts_with('U');
    let rest = stem.strip_prefix(['V', 'U'])?;
    if !rest.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let Some((raw, desc)) = rest.split_once("__") else {
        return Some(Err(format!(
            "not a Flyway migration name: expected `{}<version>__<description>.sql` with two underscores",
            if undo { 'U' } else { 'V' }
        )));
    };
    let segments: Vec<&str> = raw.split(['.', '_']).collect();
    if segments
        .iter()
        .any(|s| s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()))
    {
        return Some(Err(format!(
            "Flyway version `{raw}` must be numbers separated by `.` or `_`"
        )));
    }
    let version = segments.join(".");
    Some(Ok((
        if undo {
            Kind::Undo { version }
        } else {
            Kind::Versioned { version }
        },
        desc,
    )))
}

/// Whether Flyway would read this file name as a migration.
pub(crate) fn accepts(name: &str) -> bool {
    matches!(parse_name(name), Some(Ok(_)))
}

/// Callback scripts (`beforeMigrate.sql`, `afterEachMigrate.sql` …) live next to migrations.
pub(crate) fn is_callback(name: &str) -> bool {
    name.starts_with("before") || name.starts_with("after")
}

/// Flyway configuration in the directory or above it (`flyway.conf`, `flyway.toml`,
/// `conf/flyway.conf`), or files that only Flyway has: `R__` repeatables, `.sql.conf` script
/// configs, and `U` files that undo a `V` version. Named by the file that shows it. (A Maven or
/// Gradle build with Flyway is a repository hint, see `hints.rs`.)
pub(crate) fn has_signal(dir: &Path, listing: &Listing) -> Option<String> {
    if let Some(conf) = found_upwards(dir, 3, &CONF_FILES) {
        return Some(conf);
    }
    let mut versions = Vec::new();
    let mut undos = Vec::new();
    for e in &listing.files {
        match parse_name(&e.name) {
            Some(Ok((Kind::Repeatable, _))) => return Some(e.name.clone()),
            Some(Ok((Kind::Versioned { version }, _))) => versions.push(version),
            Some(Ok((Kind::Undo { version }, _))) => undos.push((version, &e.name)),
            _ if e.name.ends_with(".sql.conf") => return Some(e.name.clone()),
            _ => {}
        }
    }
    undos
        .into_iter()
        .find(|(u, _)| versions.contains(u))
        .map(|(_, name)| name.clone())
}

/// Flyway's configuration files, where Flyway looks for them.
pub(crate) const CONF_FILES: [&str; 3] = ["flyway.conf", "flyway.toml", "conf/flyway.conf"];

/// The mode of one script, from its `.sql.conf` if there is one.
fn mode_of(files: &dyn Files, script: &Path) -> Result<ExecMode> {
    let mut conf = script.as_os_str().to_owned();
    conf.push(".conf");
    let conf = Path::new(&conf);
    if !files.is_file(conf) {
        return Ok(ExecMode::FlywayAuto);
    }
    let text = read_sql_in(files, conf)?;
    let mut mode = ExecMode::FlywayAuto;
    for (key, value, offset) in properties(&text) {
        let value = value.as_str();
        if key != "executeInTransaction" {
            continue;
        }
        mode = match value.to_ascii_lowercase().as_str() {
            "true" => ExecMode::WrappedTx,
            "false" => ExecMode::PerStatement,
            _ => {
                return Err(SourceError::Layout {
                    path: conf.to_path_buf(),
                    line: line_of(&text, offset),
                    message: format!(
                        "executeInTransaction must be `true` or `false`, found `{value}`"
                    ),
                });
            }
        };
    }
    Ok(mode)
}

/// `key=value` pairs of a Java properties file (also `key: value` and `key value`), with the
/// offset of each line; `#` and `!` start comments. Read as `java.util.Properties` reads them:
/// a line ending in an odd number of backslashes continues on the next (its leading blanks
/// dropped), and `\t`, `\n`, `\r`, `\f`, `\uXXXX` and `\c` are decoded, so that a value
/// holding `\n` brings the line break Flyway would substitute.
pub(crate) fn properties(text: &str) -> Vec<(String, String, usize)> {
    let mut out = vec![];
    let mut lines = super::layout::lines(text);
    while let Some(l) = lines.next() {
        let t = l.text.trim_start();
        if t.is_empty() || t.starts_with(['#', '!']) {
            continue;
        }
        let mut logical = t.trim_end_matches(['\r']).to_string();
        while logical.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1 {
            logical.pop();
            match lines.next() {
                Some(next) => logical.push_str(next.text.trim_start().trim_end_matches('\r')),
                None => break,
            }
        }
        // The key ends at the first unescaped `=`, `:` or blank.
        let bytes = logical.as_bytes();
        let mut cut = bytes.len();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 1,
                b'=' | b':' | b' ' | b'\t' => {
                    cut = i;
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        let (key, rest) = logical.split_at(cut);
        let rest = rest.trim_start_matches([' ', '\t']);
        let value = rest
            .strip_prefix(['=', ':'])
            .unwrap_or(rest)
            .trim_start_matches([' ', '\t']);
        out.push((decode(key), decode(value.trim_end()), l.start));
    }
    out
}

/// Java properties escapes.
fn decode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                out.extend(u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32));
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// Loads a Flyway directory: versioned migrations in version order (each with its undo as the
/// down), then repeatables ordered by description. Placeholders are replaced as
/// [`Placeholders`] says for `opts`, from Flyway's configuration files on the disk.
pub fn load(files: &dyn Files, dir: &Path, opts: &super::LoadOptions) -> Result<Vec<Migration>> {
    load_many(files, std::slice::from_ref(&dir.to_path_buf()), opts)
}

/// How deep below a location Flyway's scan is followed here: a bound on symbolic links that
/// lead back up, should the same directory not be recognised on the way.
const MAX_DEPTH: usize = 32;

/// The directories of `dir`'s tree, `dir` first, each with its listing, as Flyway scans a
/// location: every subdirectory, at any depth. Dot-directories are skipped as everywhere in
/// migsafe (`.git`, editor state). A directory reached twice (a symbolic link back up, or a
/// location inside another) is read once.
fn scan(
    files: &dyn Files,
    dir: &Path,
    seen: &mut HashSet<PathBuf>,
    out: &mut Vec<Listing>,
) -> Result<()> {
    let mut stack = vec![(dir.to_path_buf(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        let id = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
        if !seen.insert(id) || depth > MAX_DEPTH {
            continue;
        }
        let listing = Listing::read_in(files, &dir)?;
        // Reversed onto the stack, so that subdirectories are read in name order.
        stack.extend(
            listing
                .dirs
                .iter()
                .rev()
                .map(|d| (d.path.clone(), depth + 1)),
        );
        out.push(listing);
    }
    Ok(())
}

/// Loads several Flyway locations as Flyway reads them: one scan of all of them (subdirectories
/// included), undo scripts paired with their versioned script wherever each lives, one version
/// in two places refused. A location without migrations adds nothing.
pub fn load_many(
    files: &dyn Files,
    dirs: &[PathBuf],
    opts: &super::LoadOptions,
) -> Result<Vec<Migration>> {
    let mut placeholders = Vec::with_capacity(dirs.len());
    let mut seen = HashSet::new();
    // Each listing, with the placeholders of the location it is in.
    let mut listings: Vec<(Listing, usize)> = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        placeholders.push(Placeholders::find(
            dir,
            &opts.flyway_placeholders,
            opts.executing,
        )?);
        let mut found = Vec::new();
        scan(files, dir, &mut seen, &mut found)?;
        listings.extend(found.into_iter().map(|l| (l, i)));
    }
    let mut location_of: HashMap<PathBuf, usize> = HashMap::new();
    let mut found = Vec::new();
    let mut repeatables = Vec::new();
    for (listing, location) in &listings {
        for entry in &listing.files {
            if let Some(script) = entry
                .name
                .strip_suffix(".conf")
                .filter(|s| s.ends_with(".sql"))
            {
                if !listing.has_file(script) {
                    return Err(name_error(
                        &entry.path,
                        format!(
                            "script configuration for `{script}`, which does not exist (misnamed?)"
                        ),
                    ));
                }
                continue;
            }
            let (kind, desc) = match parse_name(&entry.name) {
                None => continue,
                Some(Err(message)) => return Err(name_error(&entry.path, message)),
                Some(Ok(parsed)) => parsed,
            };
            location_of.insert(entry.path.clone(), *location);
            let (version, direction) = match kind {
                Kind::Repeatable => {
                    repeatables.push((desc.to_string(), entry.path.clone()));
                    continue;
                }
                Kind::Versioned { version } => (version, Direction::Up),
                Kind::Undo { version } => (version, Direction::Down),
            };
            found.push(Found {
                version,
                name: desc.to_string(),
                direction,
                path: entry.path.clone(),
            });
        }
    }
    let script = |path: &Path| -> Result<Script> {
        let placeholders = &placeholders[location_of.get(path).copied().unwrap_or(0)];
        let source = read_sql_in(files, path)?;
        let mode = mode_of(files, path)?;
        Ok(match placeholders.substitute(path, &source)? {
            None => Script::whole(path.to_path_buf(), source, mode),
            Some((text, inserted)) => {
                let mut s = Script::whole(path.to_path_buf(), Arc::from(text), mode);
                // Only the line breaks a value brings need folding.
                s.folded = inserted
                    .into_iter()
                    .filter(|r| s.source[r.clone()].contains('\n'))
                    .collect();
                s
            }
        })
    };
    let mut migrations = pair(found)?
        .into_iter()
        .map(|p| {
            let up = script(&p.up)?;
            let down = p.down.as_deref().map(script).transpose()?;
            Ok(super::layout::migration(p.version, p.name, up, down))
        })
        .collect::<Result<Vec<_>>>()?;
    repeatables.sort();
    for (desc, path) in repeatables {
        let up = script(&path)?;
        let mut m = super::layout::migration("R".to_string(), desc, up, None);
        m.repeatable = true;
        migrations.push(m);
    }
    Ok(migrations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let v = |s: &str| Kind::Versioned {
            version: s.to_string(),
        };
        assert_eq!(parse_name("V1__init.sql"), Some(Ok((v("1"), "init"))));
        assert_eq!(parse_name("V1_2__x.sql"), Some(Ok((v("1.2"), "x"))));
        assert_eq!(
            parse_name("V2024.01.02.1030__x.sql"),
            Some(Ok((v("2024.01.02.1030"), "x")))
        );
        assert_eq!(
            parse_name("U3__x.sql"),
            Some(Ok((
                Kind::Undo {
                    version: "3".into()
                },
                "x"
            )))
        );
        assert_eq!(
            parse_name("R__views.sql"),
            Some(Ok((Kind::Repeatable, "views")))
        );
        assert!(matches!(parse_name("V1_init.sql"), Some(Err(_))));
        assert!(matches!(parse_name("V1..2__x.sql"), Some(Err(_))));
        assert_eq!(parse_name("afterMigrate.sql"), None);
        assert_eq!(parse_name("Vacuum.sql"), None);
    }

    /// As `java.util.Properties` reads them: continuation lines and escapes, so that a value's
    /// `\n` is the line break Flyway substitutes (ending a `--` comment around it).
    #[test]
    fn properties_continuations_and_escapes() {
        let got = properties(
            "flyway.placeholders.note=release 42\\n DROP TABLE accounts;\nflyway.placeholders.long = a\\\n    b\\u0041\nkey\\=x = v\\\\\n",
        );
        let kv: Vec<_> = got
            .iter()
            .map(|(k, v, _)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            kv,
            [
                (
                    "flyway.placeholders.note",
                    "release 42\n DROP TABLE accounts;"
                ),
                ("flyway.placeholders.long", "abA"),
                ("key=x", "v\\"),
            ]
        );
    }

    #[test]
    fn properties_forms() {
        let got =
            properties("# c\nexecuteInTransaction=false\nencoding : UTF-8\n! x\nmixed true\n");
        let kv: Vec<_> = got
            .iter()
            .map(|(k, v, _)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            kv,
            [
                ("executeInTransaction", "false"),
                ("encoding", "UTF-8"),
                ("mixed", "true")
            ]
        );
    }
}
