//! Helpers shared by the runner modules: directory listing, version order, up/down pairing,
//! line scanning and the config-file lookups that detection uses.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::files::{DirEntry, Disk, Files, Kind};
use super::{ExecMode, Migration, Result, Script, SourceError, checksum, read_sql_in};

/// One directory entry. `name` is the file name as text (lossy for non-UTF-8 names, which then
/// match no layout); `path` is `dir.join(name)` so relative directories give relative paths.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub name: String,
    pub path: PathBuf,
}

/// The regular files and subdirectories of one directory, sorted by name, dot-entries skipped
/// (editors and VCS keep their own files there; no runner reads them).
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub files: Vec<Entry>,
    pub dirs: Vec<Entry>,
}

impl Listing {
    /// The directory on the disk.
    pub(crate) fn read(dir: &Path) -> Result<Listing> {
        Listing::read_in(&Disk, dir)
    }

    pub(crate) fn read_in(files: &dyn Files, dir: &Path) -> Result<Listing> {
        let mut listing = Listing::default();
        for entry in files.list(dir).map_err(|e| io_error(dir, e))? {
            if entry.name.starts_with('.') {
                continue;
            }
            let DirEntry { name, path, kind } = entry;
            // FIFOs and other special files are skipped because reading them could block.
            match kind {
                Kind::Dir => listing.dirs.push(Entry { name, path }),
                Kind::File => listing.files.push(Entry { name, path }),
                Kind::Other => {}
            }
        }
        listing.files.sort_by(|a, b| a.name.cmp(&b.name));
        listing.dirs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(listing)
    }

    /// Files ending in `.sql` (case-sensitive, as every runner matches it).
    pub(crate) fn sql_files(&self) -> impl Iterator<Item = &Entry> {
        self.files.iter().filter(|e| e.name.ends_with(".sql"))
    }

    pub(crate) fn has_file(&self, name: &str) -> bool {
        self.files.iter().any(|e| e.name == name)
    }
}

/// Maps an I/O error to `Missing` for not-found and `Io` otherwise.
pub(crate) fn io_error(path: &Path, source: std::io::Error) -> SourceError {
    if source.kind() == std::io::ErrorKind::NotFound {
        SourceError::Missing {
            path: path.to_path_buf(),
        }
    } else {
        SourceError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A problem with a file's name rather than its content; reported at line 1 so that editors and
/// CI annotations still open the file.
pub(crate) fn name_error(path: &Path, message: impl Into<String>) -> SourceError {
    SourceError::Layout {
        path: path.to_path_buf(),
        line: 1,
        message: message.into(),
    }
}

/// Orders versions the way runners do: dot-separated segments, numeric segments compared as
/// numbers of any length (no overflow on 20-digit timestamps), missing segments as zero
/// (Flyway: `1` = `1.0`), anything else byte-wise.
pub(crate) fn cmp_versions(a: &str, b: &str) -> Ordering {
    let (mut xs, mut ys) = (a.split('.'), b.split('.'));
    loop {
        match (xs.next(), ys.next()) {
            (None, None) => return Ordering::Equal,
            (x, y) => {
                let ord = cmp_segment(x.unwrap_or("0"), y.unwrap_or("0"));
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

fn cmp_segment(x: &str, y: &str) -> Ordering {
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if numeric(x) && numeric(y) {
        let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
        x.len().cmp(&y.len()).then_with(|| x.cmp(y))
    } else {
        x.cmp(y)
    }
}

/// Splits a name into its leading ASCII digits and the rest (`"0012_users.sql"` →
/// `("0012", "_users.sql")`).
pub(crate) fn leading_digits(s: &str) -> (&str, &str) {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    s.split_at(n)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Up,
    Down,
}

/// A file that a runner recognised by its name, before pairing.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub version: String,
    pub name: String,
    pub direction: Direction,
    pub path: PathBuf,
}

/// An up file and its down file (if any) for one version.
#[derive(Debug, Clone)]
pub(crate) struct Pair {
    pub version: String,
    pub name: String,
    pub up: PathBuf,
    pub down: Option<PathBuf>,
}

/// How a runner orders its migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Numbers (of any length), dot-separated segments for Flyway: [`cmp_versions`].
    Numeric,
    /// The version as a string: diesel keeps versions as text, so `20260825100000` sorts
    /// after `202607271433130000`.
    Text,
    /// The file name as a string: dbmate runs files in the order it lists them.
    FileName,
}

impl Order {
    fn cmp(self, a: &Found, b: &Found) -> Ordering {
        match self {
            Order::Numeric => cmp_versions(&a.version, &b.version),
            Order::Text => a.version.cmp(&b.version),
            Order::FileName => a.path.file_name().cmp(&b.path.file_name()),
        }
    }

    /// Whether two files are of one version (an up and its down, or a duplicate).
    fn same(self, a: &Found, b: &Found) -> bool {
        match self {
            Order::Numeric => cmp_versions(&a.version, &b.version) == Ordering::Equal,
            Order::Text | Order::FileName => a.version == b.version,
        }
    }
}

/// Pairs up and down files by version and sorts them in run order. Two ups (or two downs) of
/// one version are a `DuplicateVersion`; a down without an up is `DownWithoutUp`. Every runner
/// with versioned files goes through here, so these checks read the same everywhere.
pub(crate) fn pair(found: Vec<Found>) -> Result<Vec<Pair>> {
    pair_in(found, Order::Numeric)
}

/// [`pair`], in the runner's own `order`.
pub(crate) fn pair_in(mut found: Vec<Found>, order: Order) -> Result<Vec<Pair>> {
    found.sort_by(|a, b| order.cmp(a, b).then_with(|| a.path.cmp(&b.path)));
    let mut pairs = Vec::new();
    let mut rest = found.as_slice();
    while let Some(first) = rest.first() {
        let len = rest.iter().take_while(|f| order.same(f, first)).count();
        let (group, tail) = rest.split_at(len);
        rest = tail;
        let ups: Vec<&Found> = group
            .iter()
            .filter(|f| f.direction == Direction::Up)
            .collect();
        let downs: Vec<&Found> = group
            .iter()
            .filter(|f| f.direction == Direction::Down)
            .collect();
        for same in [&ups, &downs] {
            if let [other, path, ..] = same.as_slice() {
                return Err(SourceError::DuplicateVersion {
                    path: path.path.clone(),
                    other: other.path.clone(),
                    version: path.version.clone(),
                });
            }
        }
        match (ups.first(), downs.first()) {
            (Some(up), down) => pairs.push(Pair {
                version: up.version.clone(),
                name: up.name.clone(),
                up: up.path.clone(),
                down: down.map(|d| d.path.clone()),
            }),
            (None, Some(down)) => {
                return Err(SourceError::DownWithoutUp {
                    path: down.path.clone(),
                    version: down.version.clone(),
                });
            }
            (None, None) => {}
        }
    }
    Ok(pairs)
}

/// Reads whole-file up and down scripts for each pair. `mode` decides the execution mode per file
/// (sqlx looks at the text, Flyway and diesel at a side file next to it).
pub(crate) fn load_pairs(
    files: &dyn Files,
    pairs: Vec<Pair>,
    mode: impl Fn(&Path, &str) -> Result<ExecMode>,
) -> Result<Vec<Migration>> {
    let script = |path: &Path| -> Result<Script> {
        let source = read_sql_in(files, path)?;
        let mode = mode(path, &source)?;
        Ok(Script::whole(path.to_path_buf(), source, mode))
    };
    pairs
        .into_iter()
        .map(|p| {
            let up = script(&p.up)?;
            let down = p.down.as_deref().map(script).transpose()?;
            Ok(migration(p.version, p.name, up, down))
        })
        .collect()
}

/// Builds a migration, computing its checksum over both scripts.
pub(crate) fn migration(
    version: String,
    name: String,
    up: Script,
    down: Option<Script>,
) -> Migration {
    let checksum = checksum(up.text(), down.as_ref().map(Script::text));
    Migration {
        version,
        name,
        up,
        down,
        checksum,
        repeatable: false,
    }
}

/// One line of a text: 1-based number, its text without the line break (`\n` or `\r\n`),
/// its start offset and the offset where the next line starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Line<'a> {
    pub number: usize,
    pub text: &'a str,
    pub start: usize,
    pub next: usize,
}

pub(crate) fn lines(text: &str) -> impl Iterator<Item = Line<'_>> {
    let mut start = 0;
    text.split_inclusive('\n').enumerate().map(move |(i, raw)| {
        let line_text = raw.strip_suffix('\n').unwrap_or(raw);
        let line_text = line_text.strip_suffix('\r').unwrap_or(line_text);
        let line = Line {
            number: i + 1,
            text: line_text,
            start,
            next: start + raw.len(),
        };
        start += raw.len();
        line
    })
}

/// 1-based line number of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    1 + text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// Parses a small TOML side file (diesel's `metadata.toml`, `migsafe.toml`), turning syntax
/// errors into a `Layout` error at the right line.
pub(crate) fn parse_toml(path: &Path) -> Result<toml::Table> {
    parse_toml_in(&Disk, path).map(|(table, _)| table)
}

/// [`parse_toml`] through `files`, with the text.
pub(crate) fn parse_toml_in(files: &dyn Files, path: &Path) -> Result<(toml::Table, Arc<str>)> {
    let text = read_sql_in(files, path)?;
    let table = text
        .parse::<toml::Table>()
        .map_err(|e| SourceError::Layout {
            path: path.to_path_buf(),
            line: e.span().map_or(1, |s| line_of(&text, s.start)),
            message: format!("invalid TOML: {}", e.message()),
        })?;
    Ok((table, text))
}

/// Line of the first `key =` assignment in a TOML text, for errors about a value.
pub(crate) fn toml_key_line(text: &str, key: &str) -> usize {
    lines(text)
        .find(|l| {
            l.text
                .trim_start()
                .strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map_or(1, |l| l.number)
}

/// `dir` and up to `levels` of its ancestors, nearest first. The walk uses the canonical path so
/// that a relative directory such as `migrations` still sees the project above it.
pub(crate) fn ancestors(dir: &Path, levels: usize) -> impl Iterator<Item = PathBuf> {
    let base = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    base.ancestors()
        .take(levels + 1)
        .map(Path::to_path_buf)
        .collect::<Vec<_>>()
        .into_iter()
}

/// The first of `names` (as written) that exists in `dir` or its ancestors (up to `levels`).
/// Detection only looks; loading reports the real errors.
pub(crate) fn found_upwards(dir: &Path, levels: usize, names: &[&str]) -> Option<String> {
    ancestors(dir, levels).find_map(|d| {
        names
            .iter()
            .find(|n| d.join(n).is_file())
            .map(|n| n.to_string())
    })
}

/// Whether a Cargo manifest declares a dependency named `krate` or `krate-*` (`sqlx`,
/// `sqlx-postgres`, `refinery-core` …), also through `package = "…"` renames. Parsing the
/// tables, rather than searching the text, keeps `sqlparser` from counting as sqlx.
pub(crate) fn cargo_depends_on(manifest: &str, krate: &str) -> bool {
    let Ok(doc) = manifest.parse::<toml::Table>() else {
        return false;
    };
    let names = |name: &str| {
        name == krate
            || name
                .strip_prefix(krate)
                .is_some_and(|r| r.starts_with(['-', '_']))
    };
    let declares = |deps: Option<&toml::Value>| {
        deps.and_then(toml::Value::as_table).is_some_and(|t| {
            t.iter().any(|(k, v)| {
                names(k)
                    || v.get("package")
                        .and_then(toml::Value::as_str)
                        .is_some_and(names)
            })
        })
    };
    let in_table = |t: &toml::Table| {
        ["dependencies", "dev-dependencies", "build-dependencies"]
            .iter()
            .any(|k| declares(t.get(*k)))
    };
    in_table(&doc)
        || doc
            .get("workspace")
            .and_then(toml::Value::as_table)
            .is_some_and(|w| declares(w.get("dependencies")))
        || doc
            .get("target")
            .and_then(toml::Value::as_table)
            .is_some_and(|targets| {
                targets
                    .values()
                    .filter_map(toml::Value::as_table)
                    .any(in_table)
            })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically_without_overflow() {
        assert_eq!(cmp_versions("9", "10"), Ordering::Less);
        assert_eq!(cmp_versions("0010", "10"), Ordering::Equal);
        assert_eq!(
            cmp_versions("123456789012345678901234567890", "99999999999999999999"),
            Ordering::Greater
        );
        assert_eq!(cmp_versions("1.2", "1.10"), Ordering::Less);
        assert_eq!(cmp_versions("1", "1.0"), Ordering::Equal);
        assert_eq!(cmp_versions("1.0.1", "1"), Ordering::Greater);
    }

    #[test]
    fn lines_keep_offsets() {
        let text = "a\r\nbb\n\nc";
        let got: Vec<_> = lines(text)
            .map(|l| (l.number, l.text, l.start, l.next))
            .collect();
        assert_eq!(
            got,
            [
                (1, "a", 0, 3),
                (2, "bb", 3, 6),
                (3, "", 6, 7),
                (4, "c", 7, 8)
            ]
        );
        assert_eq!(line_of(text, 4), 2);
        assert_eq!(line_of(text, 100), 4);
    }

    #[test]
    fn cargo_dependency_names() {
        assert!(cargo_depends_on("[dependencies]\nsqlx = \"0.8\"\n", "sqlx"));
        assert!(cargo_depends_on(
            "[dependencies.sqlx-postgres]\nversion = \"0.8\"\n",
            "sqlx"
        ));
        assert!(cargo_depends_on(
            "[dependencies]\ndb = { package = \"sqlx\", version = \"0.8\" }\n",
            "sqlx"
        ));
        assert!(cargo_depends_on(
            "[workspace.dependencies]\nrefinery = \"0.8\"\n",
            "refinery"
        ));
        assert!(cargo_depends_on(
            "[target.'cfg(unix)'.dev-dependencies]\nsqlx = \"0.8\"\n",
            "sqlx"
        ));
        assert!(!cargo_depends_on(
            "[dependencies]\nsqlparser = \"0.64\"\n",
            "sqlx"
        ));
        assert!(!cargo_depends_on("not toml [", "sqlx"));
    }
}
