//! A project's migrations directory as a commit holds it, for the loaders ([`Files`]), read
//! from git in place: no copy is written anywhere.
//!
//! The listing comes from `git ls-tree`. A file whose object is the one git found unchanged in
//! the working tree is read from the working tree: the same bytes, and nearly every file of a
//! long history is one. Only the others are read from git, all through one `git cat-file
//! --batch`. Symbolic links are followed inside the directory; one that leads out of it is read
//! through the working tree when it is unchanged there, and is unreadable otherwise.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::git::{EntryKind, GitError, Objects, TreeEntry};
use crate::source::files::{DirEntry, Disk, Files, Kind};

/// How many symbolic links one lookup may follow, as Linux allows (`ELOOP`).
const MAX_LINKS: usize = 40;

/// Files of a directory in a commit, seen at `root` (the project's own migrations directory,
/// so that paths in messages and findings are the project's paths).
pub(crate) struct Tree<'a> {
    root: PathBuf,
    entries: HashMap<PathBuf, TreeEntry>,
    children: HashMap<PathBuf, Vec<PathBuf>>,
    /// Path → object id of the files that are the same in the working tree.
    clean: &'a HashMap<PathBuf, String>,
    objects: &'a RefCell<Objects>,
}

/// Where a path leads inside the tree.
enum Resolved<'t> {
    /// The top of the tree, a directory.
    Root,
    Entry(&'t TreeEntry),
    /// Led out of the tree by a symbolic link (an absolute one, or one climbing above the
    /// directory).
    Outside,
    Missing,
}

impl<'a> Tree<'a> {
    pub(crate) fn new(
        root: &Path,
        listing: Vec<TreeEntry>,
        clean: &'a HashMap<PathBuf, String>,
        objects: &'a RefCell<Objects>,
    ) -> Tree<'a> {
        let mut children: HashMap<PathBuf, Vec<PathBuf>> = HashMap::new();
        for e in &listing {
            let parent = e.path.parent().unwrap_or(Path::new("")).to_path_buf();
            children.entry(parent).or_default().push(e.path.clone());
        }
        Tree {
            root: root.to_path_buf(),
            entries: listing.into_iter().map(|e| (e.path.clone(), e)).collect(),
            children,
            clean,
            objects,
        }
    }

    /// The path below the root, when `path` is below it.
    fn below_root<'p>(&self, path: &'p Path) -> Option<&'p Path> {
        path.strip_prefix(&self.root).ok()
    }

    fn object(&self, oid: &str) -> io::Result<Vec<u8>> {
        match self.objects.borrow_mut().read(oid) {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("object {oid} is missing from the repository"),
            )),
            Err(GitError::NotInstalled { source }) => Err(source),
            Err(e) => Err(io::Error::other(e.to_string())),
        }
    }

    /// Follows `rel` (relative to the root) through directories and symbolic links.
    fn resolve(&self, rel: &Path) -> io::Result<Resolved<'_>> {
        let mut at = PathBuf::new();
        let mut links = 0;
        // The components still to walk, the next one last.
        let mut rest: Vec<std::ffi::OsString> = rel
            .components()
            .rev()
            .map(|c| c.as_os_str().to_os_string())
            .collect();
        while let Some(part) = rest.pop() {
            match Path::new(&part).components().next() {
                None | Some(Component::CurDir) => continue,
                Some(Component::ParentDir) => {
                    if !at.pop() {
                        // Above the directory: a link led there, or the path itself did,
                        // where this tree has nothing.
                        return Ok(if links > 0 {
                            Resolved::Outside
                        } else {
                            Resolved::Missing
                        });
                    }
                    continue;
                }
                Some(Component::Normal(name)) => at.push(name),
                Some(Component::RootDir | Component::Prefix(_)) => return Ok(Resolved::Missing),
            }
            let Some(entry) = self.entries.get(&at) else {
                return Ok(Resolved::Missing);
            };
            match entry.kind {
                EntryKind::Dir => {}
                EntryKind::File | EntryKind::Submodule if rest.is_empty() => {}
                EntryKind::File | EntryKind::Submodule => return Ok(Resolved::Missing),
                EntryKind::Symlink => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(io::Error::other("too many levels of symbolic links"));
                    }
                    let target = path_of(self.object(&entry.oid)?);
                    if target.is_absolute() {
                        return Ok(Resolved::Outside);
                    }
                    at.pop();
                    rest.extend(
                        target
                            .components()
                            .rev()
                            .map(|c| c.as_os_str().to_os_string()),
                    );
                }
            }
        }
        Ok(if at.as_os_str().is_empty() {
            Resolved::Root
        } else {
            match self.entries.get(&at) {
                Some(e) => Resolved::Entry(e),
                None => Resolved::Missing,
            }
        })
    }

    /// Whether the working tree has the same file at `path` (relative to the root).
    fn is_clean(&self, rel: &Path, oid: &str) -> bool {
        self.clean.get(rel).is_some_and(|o| o == oid)
    }

    /// A link out of the tree, unchanged in the working tree: the working tree's link leads
    /// where this one did.
    fn clean_link_out(&self, rel: &Path) -> bool {
        self.entries
            .get(rel)
            .is_some_and(|e| e.kind == EntryKind::Symlink && self.is_clean(rel, &e.oid))
    }
}

impl Files for Tree<'_> {
    fn list(&self, dir: &Path) -> io::Result<Vec<DirEntry>> {
        let not_found = || io::Error::from(io::ErrorKind::NotFound);
        let rel = self.below_root(dir).ok_or_else(not_found)?;
        let at = match self.resolve(rel)? {
            Resolved::Root => PathBuf::new(),
            Resolved::Entry(e) if e.kind == EntryKind::Dir => e.path.clone(),
            // A submodule is an empty directory here, as git checks it out without its files.
            Resolved::Entry(e) if e.kind == EntryKind::Submodule => return Ok(Vec::new()),
            Resolved::Outside if self.clean_link_out(rel) => return Disk.list(dir),
            _ => return Err(not_found()),
        };
        let mut out = Vec::new();
        for child in self.children.get(&at).into_iter().flatten() {
            let Some(name) = child.file_name() else {
                continue;
            };
            let path = dir.join(name);
            out.push(DirEntry {
                name: name.to_string_lossy().into_owned(),
                kind: self.kind(&path).unwrap_or(Kind::File),
                path,
            });
        }
        Ok(out)
    }

    fn kind(&self, path: &Path) -> Option<Kind> {
        let rel = self.below_root(path)?;
        match self.resolve(rel).ok()? {
            Resolved::Root => Some(Kind::Dir),
            Resolved::Entry(e) => Some(match e.kind {
                EntryKind::Dir | EntryKind::Submodule => Kind::Dir,
                EntryKind::File | EntryKind::Symlink => Kind::File,
            }),
            Resolved::Outside if self.clean_link_out(rel) => Disk.kind(path),
            // A link that leads nowhere is a file, so that reading it says why.
            Resolved::Outside => Some(Kind::File),
            Resolved::Missing => self
                .entries
                .get(rel)
                .filter(|e| e.kind == EntryKind::Symlink)
                .map(|_| Kind::File),
        }
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let rel = self
            .below_root(path)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        match self.resolve(rel)? {
            Resolved::Entry(e) if e.kind == EntryKind::File => {
                if self.is_clean(&e.path, &e.oid) {
                    // The working tree's copy, unless it has gone (a sparse checkout).
                    if let Ok(bytes) = Disk.read(&self.root.join(&e.path)) {
                        return Ok(bytes);
                    }
                }
                self.object(&e.oid)
            }
            Resolved::Outside if self.clean_link_out(rel) => Disk.read(path),
            Resolved::Outside => Err(io::Error::new(
                io::ErrorKind::NotFound,
                "a symbolic link that leads out of the migrations directory",
            )),
            Resolved::Root | Resolved::Entry(_) => Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "a directory, not a file",
            )),
            Resolved::Missing => Err(io::ErrorKind::NotFound.into()),
        }
    }
}

#[cfg(unix)]
fn path_of(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

#[cfg(not(unix))]
fn path_of(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
}

/// Several directories of one commit, each a [`Tree`]: a project read from several
/// directories (Flyway's `locations`, a `migrations_dir` list). A path is looked up in the
/// tree of the deepest directory it is below.
pub(crate) struct Trees<'a>(pub(crate) Vec<Tree<'a>>);

impl<'a> Trees<'a> {
    fn of(&self, path: &Path) -> Option<&Tree<'a>> {
        self.0
            .iter()
            .filter(|t| t.below_root(path).is_some())
            .max_by_key(|t| t.root.components().count())
    }
}

impl Files for Trees<'_> {
    fn list(&self, dir: &Path) -> io::Result<Vec<DirEntry>> {
        match self.of(dir) {
            Some(t) => t.list(dir),
            None => Err(io::ErrorKind::NotFound.into()),
        }
    }

    fn kind(&self, path: &Path) -> Option<Kind> {
        self.of(path)?.kind(path)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        match self.of(path) {
            Some(t) => t.read(path),
            None => Err(io::ErrorKind::NotFound.into()),
        }
    }
}
