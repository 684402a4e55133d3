//! The snapshot store: `<store>/<target>/<snapshot-id>/` with data files and `manifest.json`.
//!
//! Rules that keep production data safe:
//! - every file is written under a temporary name, fsynced, then renamed; the manifest goes last,
//!   so a directory without a valid manifest is never a snapshot (`list` shows it as incomplete);
//! - directories are 0700 and files 0600: snapshots hold production rows;
//! - a writer holds an advisory `flock` on `<dir>/.lock` while it works, so `prune` never removes
//!   a capture in progress (the kernel drops the lock when the process dies, even by SIGKILL);
//! - a `pinned` file marks a snapshot that an applied, not yet finalised step depends on; prune
//!   keeps it whatever the policy says.
//!
//! Only a local directory backend exists; the type is the seam for an object-store backend.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::manifest::{self, FileEntry, Manifest};

const LOCK_FILE: &str = ".lock";
const PIN_FILE: &str = "pinned";
/// Where drill reports live; a name no target can take.
pub const DRILLS_DIR: &str = "_drills";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {what}: {source}")]
    Io {
        path: PathBuf,
        what: &'static str,
        source: io::Error,
    },
    #[error("no snapshot `{0}` in the store (see `migsafe snapshot list`)")]
    NotFound(String),
    #[error("snapshot id `{0}` is ambiguous: it names snapshots of several targets")]
    Ambiguous(String),
    #[error("{path}: invalid manifest: {message}")]
    BadManifest { path: PathBuf, message: String },
    #[error("{path}: {message}; nothing was read from it")]
    BadFile { path: PathBuf, message: String },
    #[error(
        "target name `{0}` cannot name a store directory (use letters, digits, `_`, `-`, `.`; not starting with `_` or `.`)"
    )]
    BadTarget(String),
}

fn io_err(path: &Path, what: &'static str) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { path, what, source }
}

/// A snapshot directory in the store, complete or not.
#[derive(Debug, Clone)]
pub struct Entry {
    pub target: String,
    pub id: String,
    pub dir: PathBuf,
    pub state: State,
    pub pinned: Option<String>,
    /// sha256 of manifest.json as read (hex), when it could be read.
    pub manifest_sha256: Option<String>,
}

#[derive(Debug, Clone)]
pub enum State {
    Complete(Box<Manifest>),
    /// No valid manifest: a capture that failed, was killed, or is still running.
    Incomplete {
        reason: String,
        in_progress: bool,
    },
}

impl Entry {
    pub fn manifest(&self) -> Option<&Manifest> {
        match &self.state {
            State::Complete(m) => Some(m),
            State::Incomplete { .. } => None,
        }
    }
}

/// A problem `check` found with one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// The store at `root`; it is created on the first write.
    pub fn new(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates `<root>/<target>/<new id>/` (0700) and locks it for writing.
    pub fn begin(&self, target: &str) -> Result<Writer, StoreError> {
        check_target(target)?;
        let parent = self.root.join(target);
        make_private_dirs(&parent)?;
        // Ids sort by time; the suffix keeps two captures in one second apart.
        loop {
            let id = new_id();
            let dir = parent.join(&id);
            match fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {
                    let lock = lock_dir(&dir)?;
                    return Ok(Writer {
                        dir,
                        id,
                        target: target.to_string(),
                        files: vec![],
                        lock: Some(lock),
                        committed: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_err(&dir, "cannot create snapshot directory")(e)),
            }
        }
    }

    /// Every snapshot directory, complete or not, oldest first; `target` filters.
    pub fn list(&self, target: Option<&str>) -> Result<Vec<Entry>, StoreError> {
        let mut out = vec![];
        let targets = match read_dir_names(&self.root)? {
            Some(t) => t,
            None => return Ok(out),
        };
        for t in targets {
            if t.starts_with('_') || t.starts_with('.') || target.is_some_and(|want| want != t) {
                continue;
            }
            let tdir = self.root.join(&t);
            if !real_dir(&tdir) {
                continue;
            }
            for id in read_dir_names(&tdir)?.unwrap_or_default() {
                let dir = tdir.join(&id);
                if id.starts_with('.') {
                    continue;
                }
                // A link to a directory elsewhere is not a snapshot of this store.
                if fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink()) {
                    out.push(Entry {
                        target: t.clone(),
                        id: id.clone(),
                        dir: dir.clone(),
                        state: State::Incomplete {
                            reason: "a symbolic link, not a snapshot directory of this store"
                                .into(),
                            in_progress: false,
                        },
                        pinned: None,
                        manifest_sha256: None,
                    });
                    continue;
                }
                if !dir.is_dir() {
                    continue;
                }
                out.push(load_entry(&t, &id, &dir));
            }
        }
        out.sort_by(|a, b| (&a.id, &a.target).cmp(&(&b.id, &b.target)));
        Ok(out)
    }

    /// The complete snapshot with this id (any target).
    pub fn find(&self, id: &str) -> Result<Entry, StoreError> {
        let mut found: Vec<Entry> = self
            .list(None)?
            .into_iter()
            .filter(|e| e.id == id)
            .collect();
        match found.len() {
            0 => Err(StoreError::NotFound(id.to_string())),
            1 => {
                let e = found.remove(0);
                match &e.state {
                    State::Complete(_) => Ok(e),
                    State::Incomplete { reason, .. } => Err(StoreError::BadManifest {
                        path: e.dir.join(manifest::FILE_NAME),
                        message: reason.clone(),
                    }),
                }
            }
            _ => Err(StoreError::Ambiguous(id.to_string())),
        }
    }

    /// Checks every file of a snapshot against its manifest: present, same size, same sha256,
    /// private. An empty list means intact.
    pub fn check(&self, entry: &Entry) -> Vec<Problem> {
        let Some(m) = entry.manifest() else {
            return vec![Problem {
                path: entry.dir.join(manifest::FILE_NAME),
                message: "no valid manifest: the snapshot is incomplete".into(),
            }];
        };
        let mut problems = vec![];
        for f in &m.files {
            if let Err(message) = check_file(&entry.dir, f) {
                problems.push(Problem {
                    path: entry.dir.join(&f.path),
                    message,
                });
            }
        }
        problems
    }

    /// [`Store::check`] without reading the files: names, links, types, sizes and modes.
    pub fn inspect(&self, entry: &Entry) -> Vec<Problem> {
        let Some(m) = entry.manifest() else {
            return vec![Problem {
                path: entry.dir.join(manifest::FILE_NAME),
                message: "no valid manifest: the snapshot is incomplete".into(),
            }];
        };
        m.files
            .iter()
            .filter_map(|f| {
                open_checked(&entry.dir, f).err().map(|message| Problem {
                    path: entry.dir.join(&f.path),
                    message,
                })
            })
            .collect()
    }

    /// Marks a snapshot as needed by an applied, not yet finalised step.
    pub fn pin(&self, entry: &Entry, reason: &str) -> Result<(), StoreError> {
        write_private_atomic(&entry.dir.join(PIN_FILE), reason.as_bytes())
    }

    pub fn unpin(&self, entry: &Entry) -> Result<(), StoreError> {
        let path = entry.dir.join(PIN_FILE);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(io_err(&path, "cannot remove pin")(e))
            }
            _ => Ok(()),
        }
    }

    /// Removes a snapshot directory: the manifest first, so an interrupted removal leaves an
    /// incomplete directory, never a snapshot with missing files.
    pub fn remove(&self, entry: &Entry) -> Result<(), StoreError> {
        let manifest = entry.dir.join(manifest::FILE_NAME);
        if let Err(e) = fs::remove_file(&manifest)
            && e.kind() != io::ErrorKind::NotFound
        {
            return Err(io_err(&manifest, "cannot remove")(e));
        }
        fs::remove_dir_all(&entry.dir).map_err(io_err(&entry.dir, "cannot remove"))
    }

    /// `<root>/_drills`, where drill reports are kept.
    pub fn drills_dir(&self) -> PathBuf {
        self.root.join(DRILLS_DIR)
    }

    /// Writes a small file (a drill report) privately and atomically, creating its directory.
    pub fn write_file(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        if let Some(parent) = path.parent() {
            make_private_dirs(parent)?;
        }
        write_private_atomic(path, bytes)
    }
}

fn check_target(target: &str) -> Result<(), StoreError> {
    let ok = !target.is_empty()
        && !target.starts_with(['_', '.'])
        && target
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadTarget(target.to_string()))
    }
}

/// A snapshot id: UTC time to the second, then 6 hex digits of randomness.
fn new_id() -> String {
    let now = jiff::Timestamp::now();
    let mut rand = [0u8; 3];
    if File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut rand))
        .is_err()
    {
        let n = now.subsec_nanosecond() as u32 ^ std::process::id();
        rand = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
    }
    format!(
        "{}-{:02x}{:02x}{:02x}",
        now.strftime("%Y%m%dT%H%M%SZ"),
        rand[0],
        rand[1],
        rand[2]
    )
}

fn read_dir_names(dir: &Path) -> Result<Option<Vec<String>>, StoreError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(dir, "cannot read store directory")(e)),
    };
    let mut names = vec![];
    for e in rd {
        let e = e.map_err(io_err(dir, "cannot read store directory"))?;
        if let Some(n) = e.file_name().to_str() {
            names.push(n.to_string());
        }
    }
    names.sort();
    Ok(Some(names))
}

fn load_entry(target: &str, id: &str, dir: &Path) -> Entry {
    let pinned = fs::read_to_string(dir.join(PIN_FILE)).ok();
    let path = dir.join(manifest::FILE_NAME);
    let read = read_manifest_file(&path);
    let manifest_sha256 = read.as_ref().ok().map(|b| hex(&Sha256::digest(b)));
    let state = match read {
        Err(e) if e.kind() == io::ErrorKind::NotFound => State::Incomplete {
            reason: "no manifest.json".into(),
            in_progress: is_locked(dir),
        },
        Err(e) => State::Incomplete {
            reason: format!("cannot read manifest.json: {e}"),
            in_progress: false,
        },
        Ok(bytes) => match parse_manifest(&bytes, target, id) {
            Ok(m) => State::Complete(Box::new(m)),
            Err(reason) => State::Incomplete {
                reason,
                in_progress: false,
            },
        },
    };
    Entry {
        target: target.to_string(),
        id: id.to_string(),
        dir: dir.to_path_buf(),
        state,
        pinned,
        manifest_sha256,
    }
}

/// A directory, not a link to one.
fn real_dir(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
}

/// Opens a regular file without following a link or waiting on a FIFO (a FIFO or device is
/// refused after the non-blocking open), with its metadata as opened.
fn open_regular(path: &Path) -> io::Result<(File, fs::Metadata)> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => io::Error::other("a symbolic link, not a file"),
            _ => e,
        })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    Ok((file, meta))
}

/// Reads a manifest through [`open_regular`], at most 64 MiB.
fn read_manifest_file(path: &Path) -> io::Result<Vec<u8>> {
    const MAX: u64 = 64 << 20;
    let (file, meta) = open_regular(path)?;
    if meta.len() > MAX {
        return Err(io::Error::other("larger than 64 MiB"));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX).read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn parse_manifest(bytes: &[u8], target: &str, id: &str) -> Result<Manifest, String> {
    let m: Manifest = serde_json::from_slice(bytes).map_err(|e| format!("manifest.json: {e}"))?;
    if m.schema_version != manifest::SCHEMA_VERSION {
        return Err(format!(
            "manifest schema_version {} is not supported (this migsafe reads {})",
            m.schema_version,
            manifest::SCHEMA_VERSION
        ));
    }
    if m.id != id || m.target != target {
        return Err(format!(
            "manifest names snapshot {}/{} but sits in {target}/{id}",
            m.target, m.id
        ));
    }
    m.validate()
        .map_err(|e| format!("manifest.json refused: {e}"))?;
    Ok(m)
}

/// Hashes one file after [`open_checked`]'s checks.
fn check_file(dir: &Path, f: &FileEntry) -> Result<(), String> {
    let mut r = HashingReader::new(open_checked(dir, f)?);
    io::copy(&mut r, &mut io::sink()).map_err(|e| format!("cannot read: {e}"))?;
    let (sha, _) = r.finish();
    if sha != f.sha256 {
        return Err(format!(
            "sha256 {sha} does not match the manifest ({}): the file is corrupt",
            f.sha256
        ));
    }
    Ok(())
}

/// Opens one file of a snapshot after the checks every reader of a snapshot makes (verify,
/// restore, rollback, drill): a plain relative name, no symbolic link on the way, a regular
/// file (not a device or a FIFO), the manifest's size, and private (mode 0600).
fn open_checked(dir: &Path, f: &FileEntry) -> Result<File, String> {
    manifest::plain_relative(&f.path).map_err(|e| e.to_string())?;
    let mut path = dir.to_path_buf();
    let parts: Vec<&str> = f.path.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        path.push(part);
        let meta = fs::symlink_metadata(&path).map_err(|e| format!("cannot read: {e}"))?;
        if meta.file_type().is_symlink() {
            let what = if i + 1 == parts.len() {
                "a symbolic link".to_string()
            } else {
                format!("its directory {} is a symbolic link", parts[..=i].join("/"))
            };
            return Err(format!(
                "{what}: snapshot files must be inside the snapshot directory"
            ));
        }
    }
    let meta = fs::symlink_metadata(&path).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() != f.bytes {
        return Err(format!(
            "size {} bytes, manifest says {} (truncated or altered)",
            meta.len(),
            f.bytes
        ));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "mode {:o} lets other users read production data (expected 600)",
            meta.permissions().mode() & 0o777
        ));
    }
    // The file cannot have been swapped for a link or a FIFO since: no following, no waiting.
    let (file, opened) = open_regular(&path).map_err(|e| format!("cannot open: {e}"))?;
    if opened.len() != f.bytes {
        return Err("changed while it was being opened".into());
    }
    Ok(file)
}

/// Creates `dir` and missing parents with mode 0700.
pub fn make_private_dirs(dir: &Path) -> Result<(), StoreError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir, "cannot create directory"))
}

fn lock_dir(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join(LOCK_FILE);
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(io_err(&path, "cannot create lock file"))?;
    // SAFETY: flock on a file descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(io_err(&path, "cannot lock")(io::Error::last_os_error()));
    }
    Ok(f)
}

fn is_locked(dir: &Path) -> bool {
    let Ok(f) = File::open(dir.join(LOCK_FILE)) else {
        return false;
    };
    // SAFETY: flock on a file descriptor we own.
    let got = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) } == 0;
    !got
}

fn fsync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir, "cannot sync directory"))
}

/// Writes `bytes` to `path` via a 0600 temporary file, fsync and rename.
fn write_private_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .permissions(fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
        .map_err(io_err(dir, "cannot create file"))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(io_err(path, "cannot write"))?;
    tmp.persist(path)
        .map_err(|e| io_err(path, "cannot rename into place")(e.error))?;
    fsync_dir(dir)
}

/// A snapshot being written. Dropping it without `commit` removes the directory; if the process
/// dies instead, the directory stays without a manifest and is listed as incomplete.
#[derive(Debug)]
pub struct Writer {
    dir: PathBuf,
    id: String,
    target: String,
    files: Vec<FileEntry>,
    lock: Option<File>,
    committed: bool,
}

impl Writer {
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn target(&self) -> &str {
        &self.target
    }
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts a data file; it gets its name only in `finish_file`.
    pub fn create_file(&self, name: &str) -> Result<FileSink, StoreError> {
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!(".{name}.partial"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err(&tmp, "cannot create snapshot file"))?;
        Ok(FileSink {
            name: name.to_string(),
            path,
            tmp,
            out: HashingWriter::new(BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// Flushes, fsyncs and renames a data file into place, recording its size and sha256.
    pub fn finish_file(&mut self, sink: FileSink) -> Result<FileEntry, StoreError> {
        let FileSink {
            name,
            path,
            tmp,
            out,
        } = sink;
        let (buf, sha256, bytes) = out.finish();
        let file = buf
            .into_inner()
            .map_err(|e| io_err(&tmp, "cannot write snapshot file")(e.into_error()))?;
        file.sync_all()
            .map_err(io_err(&tmp, "cannot sync snapshot file"))?;
        fs::rename(&tmp, &path).map_err(io_err(&path, "cannot rename into place"))?;
        let entry = FileEntry {
            path: name,
            bytes,
            sha256,
        };
        self.files.push(entry.clone());
        Ok(entry)
    }

    /// Records every file under `sub` (a `pg_dump -Fd` directory written by another program):
    /// makes it private, fsyncs and hashes it.
    pub fn add_tree(&mut self, sub: &str) -> Result<Vec<FileEntry>, StoreError> {
        let root = self.dir.join(sub);
        let mut added = vec![];
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                .map_err(io_err(&dir, "cannot set permissions"))?;
            for name in read_dir_names(&dir)?.unwrap_or_default() {
                let path = dir.join(&name);
                let meta =
                    fs::symlink_metadata(&path).map_err(io_err(&path, "cannot read dump file"))?;
                if meta.is_dir() {
                    stack.push(path);
                    continue;
                }
                fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
                    .map_err(io_err(&path, "cannot set permissions"))?;
                let f = File::open(&path).map_err(io_err(&path, "cannot read dump file"))?;
                f.sync_all().map_err(io_err(&path, "cannot sync"))?;
                let mut r = HashingReader::new(f);
                io::copy(&mut r, &mut io::sink()).map_err(io_err(&path, "cannot read"))?;
                let (sha256, bytes) = r.finish();
                let rel = path
                    .strip_prefix(&self.dir)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/");
                added.push(FileEntry {
                    path: rel,
                    bytes,
                    sha256,
                });
            }
            fsync_dir(&dir)?;
        }
        added.sort_by(|a, b| a.path.cmp(&b.path));
        self.files.extend(added.iter().cloned());
        Ok(added)
    }

    /// Writes the manifest (with the files recorded so far) last and atomically: from here on
    /// the directory is a snapshot.
    pub fn commit(self, manifest: Manifest) -> Result<Manifest, StoreError> {
        self.commit_with_sha(manifest).map(|(m, _)| m)
    }

    /// [`Writer::commit`], also returning the sha256 of the manifest.json written (hex): the
    /// ledger keeps it, so that a manifest edited later is told apart.
    pub fn commit_with_sha(
        mut self,
        mut manifest: Manifest,
    ) -> Result<(Manifest, String), StoreError> {
        manifest.id = self.id.clone();
        manifest.target = self.target.clone();
        manifest.schema_version = manifest::SCHEMA_VERSION;
        manifest.files = std::mem::take(&mut self.files);
        fsync_dir(&self.dir)?;
        let json = serde_json::to_vec_pretty(&manifest).expect("manifest serializes");
        write_private_atomic(&self.dir.join(manifest::FILE_NAME), &json)?;
        self.committed = true;
        let _ = fs::remove_file(self.dir.join(LOCK_FILE));
        let sha = hex(&Sha256::digest(&json));
        Ok((manifest, sha))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.dir);
        }
        self.lock.take();
    }
}

/// A data file being written: bytes go through sha256 on their way to disk.
pub struct FileSink {
    name: String,
    path: PathBuf,
    tmp: PathBuf,
    out: HashingWriter<BufWriter<File>>,
}

impl FileSink {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Write for FileSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

pub struct HashingWriter<W> {
    inner: W,
    sha: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            sha: Sha256::new(),
            bytes: 0,
        }
    }
    /// The writer back, with the hex sha256 and the byte count.
    pub fn finish(self) -> (W, String, u64) {
        (self.inner, hex(&self.sha.finalize()), self.bytes)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Hashes what passes through; restore streams files through it and refuses at the end (inside
/// the still-open transaction) when the sum does not match.
pub struct HashingReader<R> {
    inner: R,
    sha: Sha256,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            sha: Sha256::new(),
            bytes: 0,
        }
    }
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
    pub fn finish(self) -> (String, u64) {
        (hex(&self.sha.finalize()), self.bytes)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Opens a snapshot file for streaming; pair with [`HashingReader::finish`] to check it.
/// Every reader checks the file the same way ([`open_checked`]); a file that fails is refused
/// with the same message `snapshot verify` gives.
pub fn open_file(entry: &Entry, f: &FileEntry) -> Result<HashingReader<File>, StoreError> {
    let file = open_checked(&entry.dir, f).map_err(|message| StoreError::BadFile {
        path: entry.dir.join(&f.path),
        message,
    })?;
    Ok(HashingReader::new(file))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::manifest::{DatabaseIdentity, Kind};

    fn manifest() -> Manifest {
        Manifest {
            schema_version: 0,
            id: String::new(),
            kind: Kind::Targeted,
            target: String::new(),
            database: DatabaseIdentity {
                system_identifier: "1".into(),
                database: "app".into(),
                server_version: "15.18".into(),
                server_version_num: 150018,
            },
            guards: None,
            objects: vec![],
            files: vec![],
            created_at: "2026-11-27T00:00:00Z".into(),
            capture_ms: 1,
            migsafe_version: "0".into(),
            notes: vec![],
        }
    }

    fn write_one(store: &Store, target: &str, data: &[u8]) -> Entry {
        let mut w = store.begin(target).unwrap();
        let mut f = w.create_file("data.copy").unwrap();
        f.write_all(data).unwrap();
        w.finish_file(f).unwrap();
        let m = w.commit(manifest()).unwrap();
        store.find(&m.id).unwrap()
    }

    #[test]
    fn committed_snapshot_is_listed_private_and_intact() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path().join("store"));
        let e = write_one(&store, "acct-1", b"1\thello\n");
        let m = e.manifest().unwrap();
        assert_eq!(m.files.len(), 1);
        assert_eq!(m.files[0].bytes, 8);
        assert_eq!(m.target, "acct-1");
        assert!(store.check(&e).is_empty());
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&e.dir), 0o700);
        assert_eq!(mode(&e.dir.join("data.copy")), 0o600);
        assert_eq!(mode(&e.dir.join("manifest.json")), 0o600);
        assert_eq!(mode(&store.root().join("acct-1")), 0o700);
        assert!(!e.dir.join(".lock").exists());
        assert_eq!(store.list(Some("other")).unwrap().len(), 0);
    }

    #[test]
    fn one_flipped_byte_or_truncation_is_found_and_named() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path());
        let e = write_one(&store, "t", b"1\thello\n2\tworld\n");
        let path = e.dir.join("data.copy");
        let mut bytes = fs::read(&path).unwrap();
        bytes[3] ^= 1;
        fs::write(&path, &bytes).unwrap();
        let p = store.check(&e);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].path, path);
        assert!(p[0].message.contains("sha256"), "{}", p[0].message);
        fs::write(&path, &bytes[..4]).unwrap();
        assert!(store.check(&e)[0].message.contains("truncated"));
    }

    #[test]
    fn writer_dropped_without_commit_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path());
        let w = store.begin("t").unwrap();
        let dir = w.dir().to_path_buf();
        assert!(store.list(None).unwrap()[0].manifest().is_none());
        assert!(matches!(
            &store.list(None).unwrap()[0].state,
            State::Incomplete {
                in_progress: true,
                ..
            }
        ));
        drop(w);
        assert!(!dir.exists());
        assert!(store.list(None).unwrap().is_empty());
    }

    #[test]
    fn directory_without_manifest_is_incomplete_not_a_snapshot() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path());
        let dir = tmp.path().join("t").join("20260101T000000Z-000000");
        fs::create_dir_all(&dir).unwrap();
        let l = store.list(None).unwrap();
        assert!(
            matches!(&l[0].state, State::Incomplete { in_progress: false, reason } if reason == "no manifest.json")
        );
        assert!(matches!(
            store.find("20260101T000000Z-000000"),
            Err(StoreError::BadManifest { .. })
        ));
        fs::write(dir.join("manifest.json"), b"{\"truncated\":").unwrap();
        assert!(store.list(None).unwrap()[0].manifest().is_none());
        assert!(matches!(store.find("nope"), Err(StoreError::NotFound(_))));
    }

    #[test]
    fn a_store_that_cannot_be_written_is_a_clear_error_and_holds_nothing() {
        // /proc refuses new directories, even for root (for whom permission bits do not).
        let store = Store::new("/proc/migsafe-store");
        let err = store.begin("t").unwrap_err().to_string();
        assert!(
            err.starts_with("/proc/migsafe-store/t: cannot create directory"),
            "{err}"
        );
        assert!(store.list(None).unwrap().is_empty());
    }

    #[test]
    fn bad_target_names_are_refused() {
        let store = Store::new("/nonexistent");
        for bad in ["", "../x", "_drills", ".hidden", "a/b", "a b"] {
            assert!(
                matches!(store.begin(bad), Err(StoreError::BadTarget(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn pin_and_remove() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path());
        let e = write_one(&store, "t", b"x");
        store.pin(&e, "step 2 of release 7").unwrap();
        let e = store.find(&e.id).unwrap();
        assert_eq!(e.pinned.as_deref(), Some("step 2 of release 7"));
        store.unpin(&e).unwrap();
        assert!(store.find(&e.id).unwrap().pinned.is_none());
        store.remove(&e).unwrap();
        assert!(store.list(None).unwrap().is_empty());
    }
}
