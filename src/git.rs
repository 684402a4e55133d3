//! The git plumbing behind `migsafe lint --since`: small typed wrappers around `git -C <dir> …`
//! child processes (no git library: the user's own git, with its configuration, decides what
//! the repository looks like). Every failure is an error; nothing here guesses.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};

/// How to get the history `--since` needs, in the words of the CI system it runs under.
pub fn unshallow_hint() -> &'static str {
    let set = |var| std::env::var_os(var).is_some_and(|v| !v.is_empty());
    if set("GITHUB_ACTIONS") {
        "With actions/checkout set `fetch-depth: 0`, or run `git fetch --unshallow`"
    } else if set("GITLAB_CI") {
        "Set the job variable `GIT_DEPTH: 0` (or raise it past the branch point), or run `git fetch --unshallow`"
    } else {
        "Run `git fetch --unshallow`, or fetch the base branch with `git fetch origin <branch>`; on GitHub Actions set actions/checkout's `fetch-depth: 0`, on GitLab the variable `GIT_DEPTH: 0`"
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run `git` (--since needs it to find what changed): {source}")]
    NotInstalled { source: std::io::Error },
    #[error(
        "{path}: not inside a git repository; --since compares with git history, so run it in a clone"
    )]
    NotARepo { path: PathBuf },
    #[error("unknown revision `{rev}` for --since: {hint}")]
    UnknownRev { rev: String, hint: String },
    #[error(
        "cannot find the merge-base of `{rev}` and HEAD: this clone is shallow and lacks the commits that connect them. {}",
        unshallow_hint()
    )]
    Shallow { rev: String },
    #[error(
        "`{rev}` and HEAD have no common ancestor, so there is no base to compare with; pass the branch this one was started from"
    )]
    NoMergeBase { rev: String },
    #[error("`git {args}` stopped answering: {source}")]
    Batch {
        args: String,
        source: std::io::Error,
    },
    #[error("`git {args}` failed ({status}): {stderr}")]
    Failed {
        args: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
}

pub type Result<T, E = GitError> = std::result::Result<T, E>;

/// One entry of `git diff --name-status`, paths relative to the repository's top level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added(PathBuf),
    Modified(PathBuf),
    Deleted(PathBuf),
    Renamed { from: PathBuf, to: PathBuf },
}

/// What a tree entry is, from its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A file (executable or not).
    File,
    Symlink,
    Dir,
    /// A submodule: a commit of another repository, with no files here.
    Submodule,
}

/// One entry of `git ls-tree`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    pub kind: EntryKind,
    /// The object id (hex).
    pub oid: String,
    pub path: PathBuf,
}

/// A working tree: every path it takes or returns is relative to its top level.
#[derive(Debug, Clone)]
pub struct Repo {
    toplevel: PathBuf,
}

impl Repo {
    /// The repository containing `dir` (which must exist).
    pub fn discover(dir: &Path) -> Result<Repo> {
        let out = git(dir, ["rev-parse", "--show-toplevel"])?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            if stderr.contains("not a git repository") {
                return Err(GitError::NotARepo {
                    path: dir.to_path_buf(),
                });
            }
            return Err(failed(&["rev-parse", "--show-toplevel"], &out));
        }
        let top = path_of(trim_newline(&out.stdout));
        // Canonical, so that canonical project paths can be made relative to it.
        let toplevel = std::fs::canonicalize(&top).unwrap_or(top);
        Ok(Repo { toplevel })
    }

    /// The top level of the working tree, canonical.
    pub fn toplevel(&self) -> &Path {
        &self.toplevel
    }

    /// `git merge-base REV HEAD`, with an error that says how to fix each way it can fail.
    pub fn merge_base(&self, rev: &str) -> Result<String> {
        if self.commit(rev)?.is_none() {
            let hint = if rev == "HEAD" {
                "the repository has no commits yet".to_string()
            } else {
                self.unknown_rev_hint(rev)?
            };
            return Err(GitError::UnknownRev {
                rev: rev.to_string(),
                hint,
            });
        }
        if self.commit("HEAD")?.is_none() {
            return Err(GitError::UnknownRev {
                rev: "HEAD".to_string(),
                hint: "the repository has no commits yet".to_string(),
            });
        }
        let args = ["merge-base", rev, "HEAD"];
        let out = self.run(args)?;
        match out.status.code() {
            Some(0) => Ok(String::from_utf8_lossy(trim_newline(&out.stdout)).into_owned()),
            // 1 with no output: no common ancestor among the commits this clone has.
            Some(1) if out.stdout.is_empty() => Err(if self.is_shallow()? {
                GitError::Shallow {
                    rev: rev.to_string(),
                }
            } else {
                GitError::NoMergeBase {
                    rev: rev.to_string(),
                }
            }),
            _ => Err(failed(&args, &out)),
        }
    }

    /// The commit `rev` names, or `None` when it names none.
    pub fn commit(&self, rev: &str) -> Result<Option<String>> {
        let spec = format!("{rev}^{{commit}}");
        let out = self.run([
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &spec,
        ])?;
        Ok(out
            .status
            .success()
            .then(|| String::from_utf8_lossy(trim_newline(&out.stdout)).into_owned()))
    }

    /// `git rev-parse --is-shallow-repository`.
    pub fn is_shallow(&self) -> Result<bool> {
        let args = ["rev-parse", "--is-shallow-repository"];
        let out = self.run(args)?;
        if !out.status.success() {
            return Err(failed(&args, &out));
        }
        Ok(trim_newline(&out.stdout) == b"true")
    }

    fn unknown_rev_hint(&self, rev: &str) -> Result<String> {
        let out = self.run(["cat-file", "-t", "--end-of-options", rev])?;
        if out.status.success() {
            let kind = String::from_utf8_lossy(trim_newline(&out.stdout)).into_owned();
            return Ok(format!(
                "it names a {kind}, not a commit; pass a branch, tag or commit"
            ));
        }
        let mut hint = match rev.split_once('/') {
            Some((remote, branch)) if !branch.is_empty() && self.is_remote(remote)? => format!(
                "no such commit in this clone; fetch it first with `git fetch {remote} {branch}`"
            ),
            _ => "no such branch, tag or commit in this clone; check the name, or fetch it first"
                .to_string(),
        };
        if self.is_shallow()? {
            hint.push_str(&format!(" (this clone is shallow. {})", unshallow_hint()));
        }
        Ok(hint)
    }

    fn is_remote(&self, name: &str) -> Result<bool> {
        let out = self.run(["remote"])?;
        Ok(out.status.success()
            && String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l == name))
    }

    /// Files under `pathspec` that differ between `base` and the working tree (so uncommitted
    /// edits count), with renames detected.
    pub fn diff(&self, base: &str, pathspec: &Path) -> Result<Vec<Change>> {
        let pathspec = pathspec_of(pathspec);
        let args: [&OsStr; 8] = [
            "diff".as_ref(),
            "--name-status".as_ref(),
            "-z".as_ref(),
            "-M".as_ref(),
            "--no-ext-diff".as_ref(),
            base.as_ref(),
            "--".as_ref(),
            pathspec.as_os_str(),
        ];
        let out = self.run(args)?;
        if !out.status.success() {
            return Err(failed(&args, &out));
        }
        parse_name_status(&out.stdout).ok_or_else(|| GitError::Failed {
            args: join(&args),
            status: out.status,
            stderr: "unexpected output".to_string(),
        })
    }

    /// Untracked files under `pathspec`, ignored ones excluded.
    pub fn untracked(&self, pathspec: &Path) -> Result<Vec<PathBuf>> {
        let pathspec = pathspec_of(pathspec);
        let args: [&OsStr; 7] = [
            "ls-files".as_ref(),
            "--others".as_ref(),
            "--exclude-standard".as_ref(),
            "--full-name".as_ref(),
            "-z".as_ref(),
            "--".as_ref(),
            pathspec.as_os_str(),
        ];
        let out = self.run(args)?;
        if !out.status.success() {
            return Err(failed(&args, &out));
        }
        Ok(fields(&out.stdout).map(path_of).collect())
    }

    /// Whether `dir` (relative to the top level) is a directory in commit `rev`.
    pub fn has_dir(&self, rev: &str, dir: &Path) -> Result<bool> {
        let spec = format!("{rev}:{}", slashed(dir));
        let out = self.run(["cat-file", "-t", &spec])?;
        Ok(out.status.success() && trim_newline(&out.stdout) == b"tree")
    }

    /// Every entry below directory `dir` (relative to the top level) in commit `rev`,
    /// subdirectories included, with paths relative to `dir`.
    pub fn ls_tree(&self, rev: &str, dir: &Path) -> Result<Vec<TreeEntry>> {
        let tree = format!("{rev}:{}", slashed(dir));
        let args = ["ls-tree", "-r", "-t", "-z", tree.as_str()];
        let out = self.run(args)?;
        if !out.status.success() {
            return Err(failed(&args, &out));
        }
        fields(&out.stdout)
            .map(parse_tree_entry)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| GitError::Failed {
                args: join(&args),
                status: out.status,
                stderr: "unexpected output".to_string(),
            })
    }

    /// A reader of objects by id, through one `git cat-file --batch` started on first use.
    pub fn objects(&self) -> Objects {
        Objects {
            toplevel: self.toplevel.clone(),
            batch: None,
        }
    }

    fn run<I, S>(&self, args: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        git(&self.toplevel, args)
    }
}

fn command<I, S>(dir: &Path, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        // Messages are shown to the user as they are, but must be parseable where checked.
        .env("LC_ALL", "C");
    cmd
}

fn git<I, S>(dir: &Path, args: I) -> Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    output(command(dir, args))
}

fn output(mut cmd: Command) -> Result<Output> {
    cmd.output()
        .map_err(|source| GitError::NotInstalled { source })
}

fn failed<S: AsRef<OsStr>>(args: &[S], out: &Output) -> GitError {
    GitError::Failed {
        args: join(args),
        status: out.status,
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    }
}

fn join<S: AsRef<OsStr>>(args: &[S]) -> String {
    args.iter()
        .map(|a| a.as_ref().to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

fn trim_newline(bytes: &[u8]) -> &[u8] {
    bytes.strip_suffix(b"\n").unwrap_or(bytes)
}

/// A path in git's `/`-separated form (pathspecs and `<rev>:<path>` want it on every platform).
fn slashed(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// git refuses an empty pathspec; the top level itself is `.`.
fn pathspec_of(path: &Path) -> &Path {
    if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    }
}

fn fields(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split(|&b| b == 0).filter(|f| !f.is_empty())
}

#[cfg(unix)]
fn path_of(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(OsStr::from_bytes(bytes))
}

#[cfg(not(unix))]
fn path_of(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

/// Parses one `<mode> SP <type> SP <object> TAB <path>` record of `git ls-tree -z`.
fn parse_tree_entry(record: &[u8]) -> Option<TreeEntry> {
    let tab = record.iter().position(|&b| b == b'\t')?;
    let (head, path) = (&record[..tab], &record[tab + 1..]);
    let mut head = head.split(|&b| b == b' ');
    let (mode, _type, oid) = (head.next()?, head.next()?, head.next()?);
    let kind = match mode {
        b"040000" => EntryKind::Dir,
        b"120000" => EntryKind::Symlink,
        b"160000" => EntryKind::Submodule,
        _ => EntryKind::File,
    };
    Some(TreeEntry {
        kind,
        oid: String::from_utf8(oid.to_vec()).ok()?,
        path: path_of(path),
    })
}

/// Objects read by id from one long-lived `git cat-file --batch`: one process for any number
/// of reads, started on the first.
pub struct Objects {
    toplevel: PathBuf,
    batch: Option<Batch>,
}

struct Batch {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Objects {
    /// The contents of object `oid` (a hex id: object names with spaces or line breaks cannot
    /// be asked for on this line-based protocol), or `None` when the repository lacks it.
    pub fn read(&mut self, oid: &str) -> Result<Option<Vec<u8>>> {
        let args = ["cat-file", "--batch"];
        let broken = |e: std::io::Error| GitError::Batch {
            args: join(&args),
            source: e,
        };
        if oid.is_empty() || !oid.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        if self.batch.is_none() {
            let mut cmd = command(&self.toplevel, args);
            cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
            let mut child = cmd
                .spawn()
                .map_err(|source| GitError::NotInstalled { source })?;
            let (Some(input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
                return Err(broken(std::io::Error::other("no pipes")));
            };
            self.batch = Some(Batch {
                child,
                input,
                output: BufReader::new(output),
            });
        }
        let Some(batch) = self.batch.as_mut() else {
            return Ok(None);
        };
        let result = batch.request(oid);
        if result.is_err() {
            // Whatever went wrong, the stream is out of step: start afresh next time.
            self.batch = None;
        }
        result.map_err(broken)
    }
}

impl Batch {
    fn request(&mut self, oid: &str) -> std::io::Result<Option<Vec<u8>>> {
        writeln!(self.input, "{oid}")?;
        self.input.flush()?;
        let mut header = Vec::new();
        self.output.read_until(b'\n', &mut header)?;
        let header = trim_newline(&header);
        if header.is_empty() {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        // `<oid> missing`, `<oid> ambiguous`; else `<oid> <type> <size>`.
        let mut words = header.split(|&b| b == b' ').skip(1);
        let (Some(_type), Some(size)) = (words.next(), words.next()) else {
            return Ok(None);
        };
        let size: usize = std::str::from_utf8(size)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other("unexpected header"))?;
        let mut contents = Vec::new();
        (&mut self.output)
            .take(size as u64)
            .read_to_end(&mut contents)?;
        let mut newline = [0u8; 1];
        self.output.read_exact(&mut newline)?;
        if contents.len() != size || newline != *b"\n" {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(Some(contents))
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        // `git cat-file` only reads, so it may be ended at once; waiting leaves no zombie.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parses `git diff --name-status -z`: a status field, then one path (two for renames and
/// copies). Copies count as additions, type changes and unmerged entries as modifications.
fn parse_name_status(bytes: &[u8]) -> Option<Vec<Change>> {
    let mut fields = fields(bytes);
    let mut changes = Vec::new();
    while let Some(status) = fields.next() {
        let mut next = || fields.next().map(path_of);
        let change = match status.first()? {
            b'A' => Change::Added(next()?),
            b'D' => Change::Deleted(next()?),
            b'R' => Change::Renamed {
                from: next()?,
                to: next()?,
            },
            b'C' => {
                next()?;
                Change::Added(next()?)
            }
            _ => Change::Modified(next()?),
        };
        changes.push(change);
    }
    Some(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_status_with_renames_and_copies() {
        let out = b"M\0m/1.sql\0R087\0m/a b.sql\0m/c.sql\0A\0m/2.sql\0C100\0m/3.sql\0m/4.sql\0D\0m/5.sql\0T\0m/6.sql\0";
        assert_eq!(
            parse_name_status(out).unwrap(),
            [
                Change::Modified("m/1.sql".into()),
                Change::Renamed {
                    from: "m/a b.sql".into(),
                    to: "m/c.sql".into()
                },
                Change::Added("m/2.sql".into()),
                Change::Added("m/4.sql".into()),
                Change::Deleted("m/5.sql".into()),
                Change::Modified("m/6.sql".into()),
            ]
        );
        assert_eq!(parse_name_status(b"").unwrap(), []);
        assert!(parse_name_status(b"R100\0only-one\0").is_none());
    }

    #[test]
    fn git_paths_use_slashes() {
        assert_eq!(slashed(Path::new("db/migrations")), "db/migrations");
        assert_eq!(slashed(Path::new("")), "");
    }
}
