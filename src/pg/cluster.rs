//! Scratch PostgreSQL clusters: `initdb` and `pg_ctl` from the PostgreSQL installed on the
//! machine, a data directory in a temporary directory, a free port on 127.0.0.1 and a socket in
//! the same directory. Settings trade durability for speed (a scratch cluster holds nothing
//! worth an fsync).
//!
//! Cleanup does not depend on migsafe exiting cleanly: a guardian shell process holds the read
//! end of a pipe whose write end only migsafe holds. When migsafe ends — normally, by panic, on
//! Ctrl-C or SIGTERM, even on SIGKILL — the kernel closes the pipe, and the guardian stops the
//! server and removes the directory. `Drop` does the same at once. Server and guardian run in
//! their own process groups, so a Ctrl-C in the terminal reaches migsafe only.
//!
//! PostgreSQL refuses to run as root; as root, the server (and the guardian) run as the
//! `postgres` OS user.

use std::io::Write;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// The superuser role initdb creates in a scratch cluster.
pub const SUPERUSER: &str = "postgres";

/// The role a private cluster ([`Cluster::start_private`]) runs untrusted SQL as: it may log in
/// and own databases, nothing more (no superuser, no CREATEDB, no CREATEROLE), so `COPY … TO
/// PROGRAM`, server-side files, untrusted extensions and `ALTER SYSTEM` are refused to it.
pub const RUNNER: &str = "migsafe_runner";

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "PostgreSQL server programs (initdb, pg_ctl) not found in PATH, in `pg_config --bindir`, or in {searched}: install the PostgreSQL server package (Debian/Ubuntu: apt install postgresql; Fedora: dnf install postgresql-server; macOS: brew install postgresql), or pass --database-url to use a running server"
    )]
    NotInstalled { searched: String },
    #[error(
        "running as root, and there is no `postgres` OS user to run the scratch server as (PostgreSQL refuses to run as root): create one (useradd --system postgres) or run migsafe as an ordinary user"
    )]
    NoPostgresUser,
    #[error("cannot prepare the scratch cluster in {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{program} failed ({status}): {output}")]
    Command {
        program: String,
        status: String,
        output: String,
    },
    #[error("cannot connect to the scratch cluster: {0}")]
    Connect(#[from] postgres::Error),
}

type Result<T, E = ClusterError> = std::result::Result<T, E>;

/// A running scratch cluster. Stopped and removed when dropped.
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    major: u32,
    run_as: Option<(u32, u32)>,
    /// Writing `keep` and closing it disarms the guardian; dropping it lets the guardian clean up.
    guardian: Option<(Child, ChildStdin)>,
    kept: bool,
    started_in: Duration,
    /// Reached only through its Unix socket, in a directory only this OS user (or root) can
    /// enter; it has the [`RUNNER`] role.
    private: bool,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("dir", &self.dir)
            .field("port", &self.port)
            .field("major", &self.major)
            .finish()
    }
}

impl Cluster {
    /// initdb, configure, start, and wait until the server accepts connections on 127.0.0.1
    /// and its socket. For tests and tools that connect over TCP; see [`Cluster::start_private`]
    /// for running SQL nobody vouched for.
    pub fn start() -> Result<Cluster> {
        Self::start_with(false)
    }

    /// A cluster for untrusted SQL (migrations from a pull request, a shared snapshot store):
    /// no TCP at all, the socket in a private directory (mode 0700), and a [`RUNNER`] role
    /// without privileges for the untrusted work. Other users of the machine cannot reach the
    /// superuser that local trust authentication would otherwise hand them.
    pub fn start_private() -> Result<Cluster> {
        let cluster = Self::start_with(true)?;
        let mut admin = cluster.connect("postgres")?;
        admin.batch_execute(&format!(
            "CREATE ROLE {RUNNER} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
        ))?;
        Ok(cluster)
    }

    fn start_with(private: bool) -> Result<Cluster> {
        let t0 = Instant::now();
        let bin = find_bindir()?;
        let major = major_version(&bin)?;
        let run_as = if unsafe { libc::geteuid() } == 0 {
            Some(postgres_user()?)
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("migsafe-scratch-")
            .tempdir()
            .map_err(|source| ClusterError::Io {
                path: std::env::temp_dir(),
                source,
            })?
            .keep();
        let io = |source| ClusterError::Io {
            path: dir.clone(),
            source,
        };
        // Private: the socket lives here, and local connections are trusted.
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .map_err(io)?;
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).map_err(io)?;
        }
        let mut cluster = Cluster {
            dir: dir.clone(),
            bin,
            port: 0,
            major,
            run_as,
            guardian: None,
            kept: false,
            started_in: Duration::ZERO,
            private,
        };
        // From here on, Drop removes the directory if anything fails.
        cluster.guardian = Some(cluster.spawn_guardian()?);
        cluster.initdb()?;
        cluster.configure().map_err(io)?;
        // A free port can be taken between probing and binding: try a few.
        let mut last = None;
        for _ in 0..5 {
            cluster.port = free_port().map_err(io)?;
            match cluster.pg_ctl_start() {
                Ok(()) => {
                    last = None;
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        if let Some(e) = last {
            return Err(e);
        }
        cluster.started_in = t0.elapsed();
        Ok(cluster)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// PostgreSQL major version of the server (15 for 15.8).
    pub fn major_version(&self) -> u32 {
        self.major
    }

    /// The directory holding the data directory, the socket and the server log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn bindir(&self) -> &Path {
        &self.bin
    }

    /// How long `start` took, initdb included.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// A connection URL for `db` (no password: the scratch cluster trusts local connections).
    pub fn url(&self, db: &str) -> String {
        self.url_as(SUPERUSER, db)
    }

    /// A connection URL for `db` as `role`: through the socket for a private cluster.
    pub fn url_as(&self, role: &str, db: &str) -> String {
        if self.private {
            let dir: String = self
                .dir
                .display()
                .to_string()
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    b => format!("%{b:02X}"),
                })
                .collect();
            format!("postgres://{role}@/{db}?host={dir}&port={}", self.port)
        } else {
            format!("postgres://{role}@{}:{}/{db}", self.host(), self.port)
        }
    }

    /// Whether this is a [`Cluster::start_private`] cluster (socket only, with [`RUNNER`]).
    pub fn is_private(&self) -> bool {
        self.private
    }

    pub fn config(&self, db: &str) -> postgres::Config {
        let mut c = postgres::Config::new();
        if self.private {
            c.host_path(&self.dir);
        } else {
            c.host(self.host());
        }
        c.port(self.port)
            .user(SUPERUSER)
            .dbname(db)
            .application_name("migsafe")
            .connect_timeout(Duration::from_secs(10));
        c
    }

    pub fn connect(&self, db: &str) -> Result<postgres::Client> {
        Ok(self.config(db).connect(postgres::NoTls)?)
    }

    /// Leaves the cluster running after migsafe exits (for debugging) and returns how to reach
    /// it and how to stop it.
    pub fn keep(mut self) -> String {
        if let Some((mut child, mut stdin)) = self.guardian.take() {
            let _ = stdin.write_all(b"keep\n");
            drop(stdin);
            let _ = child.wait();
        }
        self.kept = true;
        // pg_ctl refuses to run as root: the server runs as `postgres`, and so must it.
        let as_owner = if self.run_as.is_some() {
            "runuser -u postgres -- "
        } else {
            ""
        };
        format!(
            "scratch cluster kept running: psql '{}'\n  stop and remove it with: {as_owner}{} -D {} stop -m fast && rm -rf {}",
            self.url("postgres"),
            self.bin.join("pg_ctl").display(),
            self.dir.join("data").display(),
            self.dir.display()
        )
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(self.bin.join(program));
        c.current_dir(&self.dir)
            .env_remove("PGDATA")
            .env("LC_ALL", "C")
            // Own process group: the terminal's Ctrl-C goes to migsafe, which then cleans up.
            .process_group(0);
        if let Some((uid, gid)) = self.run_as {
            c.uid(uid).gid(gid);
        }
        c
    }

    /// The guardian runs as migsafe's own user, so that it can remove whatever migsafe put in
    /// the directory; it stops the server with a signal (SIGQUIT: immediate shutdown), which
    /// root may send to the `postgres` user's server, rather than with pg_ctl, which refuses
    /// to run as root.
    fn spawn_guardian(&self) -> Result<(Child, ChildStdin)> {
        let mut c = Command::new("/bin/sh");
        c.arg("-c")
            .arg(
                r#"read what; [ "$what" = keep ] && exit 0
pid=$(head -n 1 "$0/data/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null; then
    i=0
    while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
fi
rm -rf "$0""#,
            )
            .arg(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        let mut child = c.spawn().map_err(|source| ClusterError::Io {
            path: PathBuf::from("/bin/sh"),
            source,
        })?;
        let stdin = child.stdin.take().expect("piped stdin");
        Ok((child, stdin))
    }

    fn initdb(&self) -> Result<()> {
        let mut c = self.command("initdb");
        c.arg("-D")
            .arg(self.dir.join("data"))
            .args(["-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--locale=C"])
            .arg("--no-sync");
        run(c, "initdb")
    }

    /// Settings appended to postgresql.conf: no TCP beyond loopback (none at all for a private
    /// cluster), the socket next to the data (mode 0700, like the directory), and durability
    /// off.
    fn configure(&self) -> std::io::Result<()> {
        let conf = self.dir.join("data/postgresql.conf");
        let mut f = std::fs::OpenOptions::new().append(true).open(&conf)?;
        let socket = self.dir.display().to_string().replace('\'', "''");
        let listen = if self.private { "" } else { "127.0.0.1" };
        write!(
            f,
            "\n# migsafe scratch cluster\nlisten_addresses = '{listen}'\nunix_socket_directories = '{socket}'\nunix_socket_permissions = 0700\nfsync = off\nfull_page_writes = off\nsynchronous_commit = off\nmax_connections = 50\nshared_buffers = 32MB\nlog_min_messages = warning\n"
        )
    }

    fn pg_ctl_start(&self) -> Result<()> {
        let mut c = self.command("pg_ctl");
        c.arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "30", "-o"])
            .arg(format!("-p {}", self.port))
            .arg("start")
            // pg_ctl leaves the server attached to these; do not let it hold migsafe's pipes.
            .stdin(Stdio::null());
        run(c, "pg_ctl start").map_err(|e| match e {
            ClusterError::Command {
                program,
                status,
                output,
            } => ClusterError::Command {
                program,
                status,
                output: format!(
                    "{output}\nserver log:\n{}",
                    std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
                ),
            },
            e => e,
        })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        if self.port != 0 {
            let mut c = self.command("pg_ctl");
            c.arg("-D")
                .arg(self.dir.join("data"))
                .args(["stop", "-m", "immediate", "-w"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let _ = c.status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        // The guardian finds nothing left to do.
        if let Some((mut child, stdin)) = self.guardian.take() {
            drop(stdin);
            let _ = child.wait();
        }
    }
}

fn run(mut c: Command, what: &str) -> Result<()> {
    let out = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|source| ClusterError::Io {
            path: PathBuf::from(what),
            source,
        })?;
    if out.status.success() {
        return Ok(());
    }
    Err(ClusterError::Command {
        program: what.to_string(),
        status: out.status.to_string(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .trim()
        .to_string(),
    })
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// The directory holding `initdb` and `pg_ctl`: PATH, then `pg_config --bindir`, then the usual
/// install locations (newest version first). Symlinks are resolved so that pg_ctl finds the
/// `postgres` binary next to it.
pub fn find_bindir() -> Result<PathBuf> {
    let has_both = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    let resolve = |d: &Path| -> Option<PathBuf> {
        let initdb = std::fs::canonicalize(d.join("initdb")).ok()?;
        let dir = initdb.parent()?.to_path_buf();
        has_both(&dir).then_some(dir)
    };
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            if has_both(&d)
                && let Some(dir) = resolve(&d)
            {
                return Ok(dir);
            }
        }
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let d = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if let Some(dir) = resolve(&d) {
            return Ok(dir);
        }
    }
    let mut candidates: Vec<(u32, PathBuf)> = Vec::new();
    // Debian: /usr/lib/postgresql/<major>/bin; RHEL: /usr/pgsql-<major>/bin; Homebrew:
    // /opt/homebrew/opt/postgresql@<major>/bin.
    for (parent, prefix, sub) in [
        ("/usr/lib/postgresql", "", "bin"),
        ("/usr", "pgsql-", "bin"),
        ("/opt/homebrew/opt", "postgresql@", "bin"),
        ("/usr/local/opt", "postgresql@", "bin"),
    ] {
        for entry in std::fs::read_dir(parent).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(v) = name.strip_prefix(prefix) else {
                continue;
            };
            let major = v
                .split('.')
                .next()
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            let d = entry.path().join(sub);
            if has_both(&d) {
                candidates.push((major, d));
            }
        }
    }
    candidates.push((0, PathBuf::from("/usr/local/pgsql/bin")));
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    for (_, d) in candidates {
        if has_both(&d)
            && let Some(dir) = resolve(&d)
        {
            return Ok(dir);
        }
    }
    Err(ClusterError::NotInstalled {
        searched: "/usr/lib/postgresql/*/bin, /usr/pgsql-*/bin, /opt/homebrew/opt/postgresql@*/bin, /usr/local/opt/postgresql@*/bin, /usr/local/pgsql/bin".into(),
    })
}

/// `initdb --version` → `initdb (PostgreSQL) 15.8 (Debian …)` → 15.
fn major_version(bin: &Path) -> Result<u32> {
    let out = Command::new(bin.join("initdb"))
        .arg("--version")
        .output()
        .map_err(|source| ClusterError::Io {
            path: bin.join("initdb"),
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .find_map(|w| {
            w.split('.')
                .next()
                .and_then(|m| m.parse::<u32>().ok())
                .filter(|&m| m >= 9)
        })
        .ok_or_else(|| ClusterError::Command {
            program: "initdb --version".into(),
            status: out.status.to_string(),
            output: text.trim().to_string(),
        })
}

/// uid and gid of the `postgres` OS user.
fn postgres_user() -> Result<(u32, u32)> {
    let name = c"postgres";
    // getpwnam returns a pointer into static storage; read it at once.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(ClusterError::NoPostgresUser);
    }
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_answers_and_removes_itself() {
        let cluster = Cluster::start().unwrap();
        let dir = cluster.dir().to_path_buf();
        let mut c = cluster.connect("postgres").unwrap();
        let row = c.query_one("SHOW fsync", &[]).unwrap();
        assert_eq!(row.get::<_, String>(0), "off");
        let v: i32 = c
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .unwrap()
            .get(0);
        assert_eq!(v as u32 / 10000, cluster.major_version());
        drop(c);
        drop(cluster);
        assert!(!dir.exists(), "{} left behind", dir.display());
    }

    #[test]
    fn the_guardian_cleans_up_when_migsafe_dies() {
        // Simulate a killed migsafe: forget the cluster, so Drop never runs, and close the pipe
        // the way the kernel would.
        let mut cluster = Cluster::start().unwrap();
        let dir = cluster.dir().to_path_buf();
        // Something migsafe itself wrote there (as root, when run as root) goes too.
        std::fs::create_dir(dir.join("client")).unwrap();
        std::fs::write(dir.join("client/ca.pem"), "x").unwrap();
        let pid_file = dir.join("data/postmaster.pid");
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let pid: i32 = pid.lines().next().unwrap().trim().parse().unwrap();
        let (mut child, stdin) = cluster.guardian.take().unwrap();
        std::mem::forget(cluster);
        drop(stdin);
        child.wait().unwrap();
        assert!(!dir.exists(), "{} left behind", dir.display());
        // And the server is gone.
        assert_ne!(
            unsafe { libc::kill(pid, 0) },
            0,
            "server {pid} still running"
        );
    }
}
