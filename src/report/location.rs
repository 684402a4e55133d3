//! What the CI formats (github, sarif, gitlab, rdjson) share: the findings they emit, each with
//! a path the CI tool can match against the repository and a fingerprint that survives
//! unrelated edits.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use super::Report;
use crate::classify::Pos;
use crate::rules::Finding;

/// Where paths in reports start from: the repository root, so that GitHub, GitLab and
/// reviewdog can place findings whatever directory migsafe ran in.
#[derive(Debug, Clone, Default)]
pub struct Base {
    /// The directory relative paths in findings start from (where migsafe runs).
    cwd: Option<PathBuf>,
    root: Option<PathBuf>,
}

impl Base {
    /// The repository root as CI tools see it, the first of: the git work tree holding the
    /// current directory (found by its `.git` entry; a checkout into a subdirectory of the
    /// workspace is still its own repository), `GITHUB_WORKSPACE`, GitLab's `CI_PROJECT_DIR`,
    /// the current directory.
    pub fn repository() -> Base {
        let cwd = std::env::current_dir().ok();
        let env = |var| {
            std::env::var_os(var)
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
        };
        let root = cwd
            .as_deref()
            .and_then(work_tree)
            .or_else(|| env("GITHUB_WORKSPACE"))
            .or_else(|| env("CI_PROJECT_DIR"))
            .or_else(|| cwd.clone());
        Base { cwd, root }
    }

    /// Relative paths start from `dir`, and are reported relative to it.
    pub fn at(dir: impl Into<PathBuf>) -> Base {
        let dir = dir.into();
        Base {
            cwd: Some(dir.clone()),
            root: Some(dir),
        }
    }

    /// The root, absolute.
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// `path` relative to the root when it lies under it, with `/` separators and no `./`.
    /// Paths elsewhere are absolute: a relative `../x` would read as relative to the root.
    pub fn path(&self, path: &Path) -> String {
        if let Some(rel) = self.under_root(path) {
            return slashed(&rel);
        }
        match &self.cwd {
            Some(cwd) if path.is_relative() => slashed(&lexical(&cwd.join(path))),
            _ => slashed(path),
        }
    }

    /// The real location of directory `dir` when a symbolic link leads to it, absolute;
    /// `None` when it is where its path says (the common case, which costs one lookup).
    pub fn resolved(&self, dir: &Path) -> Option<PathBuf> {
        let absolute = match &self.cwd {
            Some(cwd) => lexical(&cwd.join(dir)),
            None => dir.to_path_buf(),
        };
        let real = absolute.canonicalize().ok()?;
        let root_real = self.root.as_deref().and_then(|r| r.canonicalize().ok());
        // A root that is itself reached through a link (a symlinked home or temp directory)
        // leaves paths under it alone.
        let root_lexical = self.root.as_deref().map(lexical);
        let same_under_root = match (&root_lexical, &root_real) {
            (Some(rl), Some(rr)) => {
                absolute.strip_prefix(rl).ok() == real.strip_prefix(rr).ok()
                    && absolute.starts_with(rl)
            }
            _ => true,
        };
        (real != absolute && !same_under_root).then_some(real)
    }

    fn under_root(&self, path: &Path) -> Option<PathBuf> {
        let root = self.root.as_deref()?;
        let absolute = match &self.cwd {
            _ if path.is_absolute() => path.to_path_buf(),
            Some(cwd) => cwd.join(path),
            None => return None,
        };
        if let Ok(rel) = lexical(&absolute).strip_prefix(lexical(root)) {
            return Some(rel.to_path_buf());
        }
        // A symlinked temp or home directory: compare the resolved forms.
        let (p, r) = (absolute.canonicalize().ok()?, root.canonicalize().ok()?);
        p.strip_prefix(r).ok().map(Path::to_path_buf)
    }
}

/// The top of the git work tree holding `dir`: the nearest ancestor with a `.git` entry (a
/// directory, or a file in worktrees and submodules). Walking up is cheaper than starting
/// `git rev-parse`, which would cost every lint a process.
fn work_tree(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
}

/// `.` dropped and `..` applied, without touching the file system.
pub(crate) fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The path with `/` between components and without `.` components.
fn slashed(path: &Path) -> String {
    let mut out = String::new();
    for c in path.components() {
        let part = match c {
            Component::CurDir => continue,
            Component::RootDir => {
                out.push('/');
                continue;
            }
            Component::Prefix(p) => p.as_os_str().to_string_lossy(),
            Component::ParentDir => "..".into(),
            Component::Normal(s) => s.to_string_lossy(),
        };
        if !out.is_empty() && !out.ends_with('/') {
            out.push('/');
        }
        out.push_str(&part);
    }
    out
}

/// One finding as the CI formats emit it.
pub struct Located<'a> {
    pub finding: &'a Finding,
    /// The script text the finding's byte range points into, when migsafe read it.
    pub source: Option<&'a str>,
    /// Repository-relative, `/`-separated.
    pub path: String,
    /// Lowercase hex sha256, unique within the report.
    pub fingerprint: String,
}

impl Located<'_> {
    /// The range is empty (a finding about a whole file, such as an empty down script):
    /// CI formats point at the line rather than at a zero-width column span.
    pub fn is_point(&self) -> bool {
        self.finding.range.is_empty()
    }

    /// The last line the finding covers. A range that ends just after a newline ends on the
    /// line before, although its exclusive end position is column 1 of the next line.
    pub fn last_line(&self) -> usize {
        let (s, e) = (self.finding.start, self.finding.end);
        if e.line > s.line && e.column == 1 {
            e.line - 1
        } else {
            e.line.max(s.line)
        }
    }

    /// 1-based start and exclusive end, with columns counted in UTF-8 bytes (reviewdog's
    /// unit). `Finding::start`/`end` count characters, so they serve only when the source is
    /// unknown.
    pub fn byte_positions(&self) -> (Pos, Pos) {
        let f = self.finding;
        match self.source {
            Some(src) => (
                byte_pos(src, f.range.start, f.start.line),
                byte_pos(src, f.range.end, f.end.line),
            ),
            None => (f.start, f.end),
        }
    }

    /// `message` then the rule's help, on two lines.
    pub fn message_with_help(&self) -> String {
        format!("{}\nhelp: {}", self.finding.message, self.finding.help)
    }
}

/// The 1-based byte column of an offset on a known line. Only the line is scanned, so a
/// large script with many findings stays linear.
fn byte_pos(src: &str, offset: usize, line: usize) -> Pos {
    let offset = offset.min(src.len());
    let line_start = src.as_bytes()[..offset]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    Pos {
        line,
        column: offset - line_start + 1,
    }
}

/// The findings CI formats emit, in report order: suppressed ones are left out (the JSON
/// output keeps them, with their reasons).
pub fn findings(report: &Report) -> Vec<Located<'_>> {
    // Occurrences are counted over suppressed findings too, so that suppressing one of two
    // identical statements leaves the other's fingerprint alone.
    let mut seen: HashMap<[u8; 32], usize> = HashMap::new();
    let mut out = Vec::new();
    for p in &report.projects {
        let sources = p.sources();
        for f in &p.findings {
            let source = sources.of(f);
            let path = slashed(&f.path);
            let key = digest(&[f.rule, &path, &statement_text(f, source)]);
            let n = seen.entry(key).or_default();
            let occurrence = *n;
            *n += 1;
            if f.suppressed.is_some() {
                continue;
            }
            let mut h = Sha256::new();
            h.update(key);
            h.update(occurrence.to_string());
            let fingerprint = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
            out.push(Located {
                finding: f,
                source,
                path,
                fingerprint,
            });
        }
    }
    out
}

/// What identifies a finding apart from where it is: the text it points at with whitespace
/// collapsed (re-indenting or moving a statement keeps it), or the message when there is no
/// text (an empty range, a file migsafe did not read).
fn statement_text(f: &Finding, source: Option<&str>) -> String {
    let text = source
        .and_then(|s| s.get(f.range.clone()))
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    if text.is_empty() {
        f.message.clone()
    } else {
        text
    }
}

/// sha256 over the parts, each followed by a NUL so that no two part lists collide.
fn digest(parts: &[&str]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    h.finalize().into()
}

/// Most severe first, report order otherwise (a stable sort).
pub fn by_severity<'a, 'b>(items: &'b [Located<'a>]) -> Vec<&'b Located<'a>> {
    let mut v: Vec<&Located> = items.iter().collect();
    v.sort_by_key(|l| std::cmp::Reverse(l.finding.severity));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::{Fixture, accounts_then};

    fn prints(f: &Fixture) -> Vec<(&'static str, String)> {
        findings(&f.report)
            .into_iter()
            .map(|l| (l.finding.rule, l.fingerprint))
            .collect()
    }

    #[test]
    fn fingerprints_ignore_lines_above_and_layout() {
        let before = accounts_then("ALTER TABLE accounts DROP COLUMN legacy;\n");
        let after = accounts_then(
            "-- Release 2.0\nSET statement_timeout = '1min';\n\nALTER TABLE accounts\n    DROP COLUMN legacy;\n",
        );
        let (a, b) = (prints(&before), prints(&after));
        assert!(a.iter().any(|(rule, _)| *rule == "MS002"), "{a:?}");
        assert_eq!(a, b);
    }

    #[test]
    fn fingerprints_are_unique_for_identical_statements() {
        let f = accounts_then(
            "UPDATE accounts SET plan = 'free';\nUPDATE accounts SET plan = 'free';\n",
        );
        let p = prints(&f);
        let backfills: Vec<&String> = p
            .iter()
            .filter(|(rule, _)| *rule == "MS007")
            .map(|(_, fp)| fp)
            .collect();
        assert_eq!(backfills.len(), 2, "{p:?}");
        let unique: std::collections::HashSet<&String> = p.iter().map(|(_, fp)| fp).collect();
        assert_eq!(unique.len(), p.len());
    }

    #[test]
    fn fingerprints_change_with_the_statement() {
        let a = prints(&accounts_then("ALTER TABLE accounts DROP COLUMN legacy;\n"));
        let b = prints(&accounts_then("ALTER TABLE accounts DROP COLUMN plan;\n"));
        assert_ne!(a[0].1, b[0].1);
    }

    #[test]
    fn paths_are_relative_with_forward_slashes() {
        let base = Base::at("/repo");
        assert_eq!(
            base.path(Path::new("./migrations/1.sql")),
            "migrations/1.sql"
        );
        assert_eq!(
            base.path(Path::new("/repo/./migrations/1.sql")),
            "migrations/1.sql"
        );
        assert_eq!(base.path(Path::new("/elsewhere/1.sql")), "/elsewhere/1.sql");
        // Outside the root, relative to the current directory: made absolute.
        assert_eq!(base.path(Path::new("../x/1.sql")), "/x/1.sql");
        assert_eq!(Base::default().path(Path::new("a/./b.sql")), "a/b.sql");
        // GitLab: migsafe runs in a subdirectory of the checkout.
        let sub = Base {
            cwd: Some("/repo/db".into()),
            root: Some("/repo".into()),
        };
        assert_eq!(
            sub.path(Path::new("migrations/1.sql")),
            "db/migrations/1.sql"
        );
        assert_eq!(sub.path(Path::new("../other/1.sql")), "other/1.sql");
    }

    #[test]
    fn byte_positions_count_bytes_from_one() {
        let src = "é;\nab é x";
        let col = |offset, line| byte_pos(src, offset, line).column;
        assert_eq!(col(0, 1), 1);
        assert_eq!(col(2, 1), 3);
        assert_eq!(col(4, 2), 1);
        assert_eq!(col(10, 2), 7);
        assert_eq!(col(99, 2), 8);
    }
}
