//! Where the runner modules read a migrations directory from: the disk ([`Disk`]), or, for
//! `lint --since`, the project as a git commit holds it (`crate::history`), without writing it
//! anywhere. Only what loading a directory needs: list a directory, say what a path is, read a
//! file. Detection and configuration lookups above the migrations directory stay on the disk.

use std::io;
use std::path::{Path, PathBuf};

/// What a path is, symbolic links followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    /// A FIFO, socket or device: never read (it could block).
    Other,
}

/// One entry of a directory.
#[derive(Debug, Clone)]
pub struct DirEntry {
    /// The file name, lossy for non-UTF-8 names (which then match no layout).
    pub name: String,
    /// `dir.join(name)`, so that relative directories give relative paths.
    pub path: PathBuf,
    pub kind: Kind,
}

/// A read-only view of files, by the paths the loaders use.
pub trait Files {
    /// The entries of directory `dir`, in no particular order. A link that leads nowhere is a
    /// [`Kind::File`], so that reading it reports the problem instead of the migration vanishing.
    fn list(&self, dir: &Path) -> io::Result<Vec<DirEntry>>;

    /// What `path` is; `None` when there is nothing there.
    fn kind(&self, path: &Path) -> Option<Kind>;

    /// The bytes of file `path`.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;

    fn is_file(&self, path: &Path) -> bool {
        self.kind(path) == Some(Kind::File)
    }
}

/// The file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct Disk;

impl Files for Disk {
    fn list(&self, dir: &Path) -> io::Result<Vec<DirEntry>> {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = dir.join(entry.file_name());
            // The entry's type comes with the listing on most file systems; only a link (or
            // an unknown type) costs a `stat`, which follows it. A broken link stays a file
            // (see the trait).
            let kind = match entry.file_type() {
                Ok(t) if t.is_dir() => Kind::Dir,
                Ok(t) if t.is_file() => Kind::File,
                Ok(t) if !t.is_symlink() => Kind::Other,
                _ => match std::fs::metadata(&path) {
                    Ok(m) if m.is_dir() => Kind::Dir,
                    Ok(m) if !m.is_file() => Kind::Other,
                    _ => Kind::File,
                },
            };
            entries.push(DirEntry {
                name: entry.file_name().to_string_lossy().into_owned(),
                path,
                kind,
            });
        }
        Ok(entries)
    }

    fn kind(&self, path: &Path) -> Option<Kind> {
        let m = std::fs::metadata(path).ok()?;
        Some(if m.is_dir() {
            Kind::Dir
        } else if m.is_file() {
            Kind::File
        } else {
            Kind::Other
        })
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }
}
