//! Full snapshots: `pg_dump -Fd -j N` into the store, `pg_restore -j N` back.
//!
//! The tools get the connection through libpq's environment variables only (`Target::pg_env`),
//! so a password never reaches argv, and they run without a shell. Inherited `PG*` variables are
//! removed first: the tools then reach exactly the server migsafe itself connects to.
//!
//! Row counts: migsafe opens a repeatable-read transaction, exports its snapshot, hands it to
//! pg_dump and counts the rows of every table in that same snapshot while pg_dump runs. The
//! counts are exact for the dump, and they cost little: `pg_dump -j N` dumps one table per job,
//! so on a database dominated by one large table the other jobs are idle most of the time.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::manifest::{KeySource, Manifest, Object, ObjectKind};
use super::store::{Entry, Problem, State, Store, Writer};
use crate::pg::connect::{self, ConnectError, Target};
use crate::pg::quote_ident;

/// The directory a full dump occupies inside the snapshot directory.
const DUMP_DIR: &str = "dump";

#[derive(Debug, thiserror::Error)]
pub enum FullError {
    #[error("{0}")]
    Tool(String),
    #[error(transparent)]
    Store(#[from] super::StoreError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("{target}: {detail}")]
    Db { target: String, detail: String },
    #[error(
        "{program} not found in {searched}: install the PostgreSQL client programs (Debian/Ubuntu: apt install postgresql-client; Fedora: dnf install postgresql; macOS: brew install libpq), in a version at least as new as the server"
    )]
    NotInstalled {
        program: &'static str,
        searched: String,
    },
    #[error("snapshot {id} is corrupt; nothing was restored:{}", list(problems))]
    Corrupt { id: String, problems: Vec<Problem> },
}

fn list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("\n  {p}")).collect()
}

#[derive(Debug, Clone, Default)]
pub struct DumpOptions {
    /// Parallel jobs (`-j`); 0 means the number of CPUs (at least 1).
    pub jobs: usize,
    /// Only this schema (`DROP SCHEMA … CASCADE`).
    pub schema: Option<String>,
    /// An exported snapshot (`pg_export_snapshot()`) the dump must see.
    pub snapshot: Option<String>,
    /// Directory of pg_dump / pg_restore [default: found like initdb].
    pub bindir: Option<PathBuf>,
}

/// A table whose rows are counted.
struct Table {
    oid: u32,
    schema: String,
    name: String,
    partitioned: bool,
}

/// Dumps `target` into `writer`'s directory (`dump/`), hashes the files, and returns the dump
/// object plus one `Rows` count object per table (exact counts in the dump's snapshot).
pub fn dump(
    target: &Target,
    writer: &mut Writer,
    opts: &DumpOptions,
    progress: &indicatif::ProgressBar,
) -> Result<Vec<Object>, FullError> {
    let pg_dump = find_program(opts.bindir.as_deref(), "pg_dump")?;
    let tool_major = tool_major(&pg_dump)?;
    let db_err = |e: postgres::Error| db_error(target, &e);

    progress.set_message(format!("connecting to {target}"));
    let mut client = connect::connect(target)?;
    let mut tx = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(db_err)?;
    if let Some(id) = &opts.snapshot {
        // Must be the transaction's first statement; SET takes no parameters, so the id is
        // checked to be what pg_export_snapshot() returns (hex digits and dashes) and quoted.
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(FullError::Tool(format!(
                "{id:?} is not a snapshot id from pg_export_snapshot()"
            )));
        }
        tx.batch_execute(&format!("SET TRANSACTION SNAPSHOT '{id}'"))
            .map_err(db_err)?;
    }
    let row = tx
        .query_one(
            "SELECT current_setting('server_version_num')::int4, current_database()::text",
            &[],
        )
        .map_err(db_err)?;
    let server_major = row.get::<_, i32>(0) as u32 / 10000;
    let database: String = row.get(1);
    if tool_major < server_major {
        return Err(FullError::Tool(format!(
            "{} is version {tool_major}, older than the server ({server_major}) of {target}: pg_dump cannot dump a newer server. Install the PostgreSQL {server_major} client programs (Debian/Ubuntu: apt install postgresql-client-{server_major}) and point migsafe at their directory",
            pg_dump.display()
        )));
    }
    let snapshot = match &opts.snapshot {
        Some(id) => id.clone(),
        None => tx
            .query_one("SELECT pg_export_snapshot()", &[])
            .map_err(db_err)?
            .get(0),
    };
    // Counting shares the CPUs with pg_dump; a parallel plan would only take them from it.
    tx.batch_execute("SET LOCAL max_parallel_workers_per_gather = 0")
        .map_err(db_err)?;
    let tables = list_tables(&mut tx, opts.schema.as_deref()).map_err(db_err)?;

    let jobs = jobs(opts.jobs);
    let out_dir = writer.dir().join(DUMP_DIR);
    let mut cmd = tool_command(&pg_dump, target);
    cmd.arg("--format=directory")
        .arg(format!("--jobs={jobs}"))
        .arg("--no-password")
        .arg(format!("--snapshot={snapshot}"))
        .arg("--file")
        .arg(&out_dir);
    if let Some(schema) = &opts.schema {
        // A pg_dump pattern: double quotes make it match this one name literally.
        cmd.arg(format!("--schema=\"{}\"", schema.replace('"', "\"\"")));
    }
    let label = format!("pg_dump -j{jobs}");
    let started = Instant::now();
    let mut counts = None;
    let (status, stderr) = run(cmd, &pg_dump, progress, &label, Some(&out_dir), |child| {
        let result = count_rows(&mut tx, &tables, child);
        if result.is_err() {
            // The snapshot cannot be completed: no point in letting pg_dump finish.
            let _ = child.kill();
        }
        counts = Some(result);
    })?;
    let counts = counts.expect("counted");
    if counts.is_ok() || status.success() {
        check_status(status, &stderr, "pg_dump", target)?;
    }
    let counts = counts.map_err(db_err)?;
    // pg_dump is done with the snapshot: the transaction can end.
    drop(tx);

    progress.set_message(format!(
        "{label}: {} in {:.1} s; hashing the files",
        crate::units::bytes(dir_size(&out_dir)),
        started.elapsed().as_secs_f64()
    ));
    writer.add_tree(DUMP_DIR)?;

    let mut objects = vec![Object {
        kind: ObjectKind::Dump,
        schema: opts.schema.clone().unwrap_or_default(),
        name: database,
        key_source: KeySource::None,
        key: vec![],
        key_types: vec![],
        columns: vec![],
        column_types: vec![],
        after: vec![],
        // The rows are in the Rows objects; counting them here too would count them twice.
        rows: 0,
        file: DUMP_DIR.into(),
    }];
    for (t, rows) in tables.iter().zip(counts) {
        objects.push(Object {
            kind: ObjectKind::Rows,
            schema: t.schema.clone(),
            name: t.name.clone(),
            key_source: KeySource::None,
            key: vec![],
            key_types: vec![],
            columns: vec![],
            column_types: vec![],
            after: vec![],
            rows,
            file: DUMP_DIR.into(),
        });
    }
    Ok(objects)
}

/// Ordinary and partitioned tables in user schemas, as pg_dump dumps their data: extension
/// members are left out (pg_dump skips their data), foreign tables have none.
fn list_tables(
    tx: &mut postgres::Transaction<'_>,
    schema: Option<&str>,
) -> Result<Vec<Table>, postgres::Error> {
    let rows = tx.query(
        "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind = 'p'
           FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p')
            AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
            AND ($1::text IS NULL OR n.nspname = $1)
            AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                             WHERE d.classid = 'pg_catalog.pg_class'::regclass
                               AND d.objid = c.oid AND d.deptype = 'e')
          ORDER BY n.nspname, c.relname",
        &[&schema],
    )?;
    Ok(rows
        .iter()
        .map(|r| Table {
            oid: r.get(0),
            schema: r.get(1),
            name: r.get(2),
            partitioned: r.get(3),
        })
        .collect())
}

/// Exact counts, in `tables` order. A partitioned table's count is the sum of its dumped leaf
/// partitions' (counted once each, not scanned again through the parent). Stops early when
/// pg_dump has failed: its error is the one to report.
fn count_rows(
    tx: &mut postgres::Transaction<'_>,
    tables: &[Table],
    child: &mut Child,
) -> Result<Vec<u64>, postgres::Error> {
    let mut by_oid: HashMap<u32, u64> = HashMap::new();
    let mut counts = vec![0; tables.len()];
    let failed = |child: &mut Child| matches!(child.try_wait(), Ok(Some(s)) if !s.success());
    for (i, t) in tables.iter().enumerate().filter(|(_, t)| !t.partitioned) {
        if failed(child) {
            return Ok(counts);
        }
        let sql = format!(
            "SELECT count(*) FROM ONLY {}.{}",
            quote_ident(&t.schema),
            quote_ident(&t.name)
        );
        let n = tx.query_one(&sql, &[])?.get::<_, i64>(0) as u64;
        counts[i] = n;
        by_oid.insert(t.oid, n);
    }
    for (i, t) in tables.iter().enumerate().filter(|(_, t)| t.partitioned) {
        let leaves = tx.query(
            "SELECT relid::oid FROM pg_catalog.pg_partition_tree($1::oid::regclass) WHERE isleaf",
            &[&t.oid],
        )?;
        // Partitions outside a dumped schema are not in the dump, so not in its count.
        counts[i] = leaves
            .iter()
            .filter_map(|l| by_oid.get(&l.get::<_, u32>(0)))
            .sum();
    }
    Ok(counts)
}

#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    pub jobs: usize,
    /// Drop and recreate objects in the database first (`--clean --if-exists`): restoring over
    /// the target.
    pub clean: bool,
    /// `--no-owner --no-privileges`: for scratch databases (drills), where the source's roles
    /// do not exist.
    pub no_owner: bool,
    pub bindir: Option<PathBuf>,
    /// Restoring as a role without privileges (drills on a private scratch cluster): this
    /// connection, a superuser's on the same database, first creates the extensions the dump
    /// names (their scripts come from the machine's PostgreSQL, not from the dump), and what
    /// only a superuser or an owner may restore is left out (`--no-comments`,
    /// `--no-publications`, `--no-subscriptions`, `--no-security-labels`). The dump's own SQL
    /// (CHECK constraints, triggers, index expressions it evaluates while loading) then runs
    /// without privileges.
    pub extensions_by: Option<Target>,
}

/// Checks every file's sha256, then `pg_restore -j N` into the database `into` names.
pub fn restore(
    entry: &Entry,
    manifest: &Manifest,
    into: &Target,
    opts: &RestoreOptions,
    progress: &indicatif::ProgressBar,
) -> Result<(), FullError> {
    let corrupt = |message: String| FullError::Corrupt {
        id: manifest.id.clone(),
        problems: vec![Problem {
            path: entry.dir.join(super::manifest::FILE_NAME),
            message,
        }],
    };
    let dump = manifest
        .objects
        .iter()
        .find(|o| o.kind == ObjectKind::Dump)
        .ok_or_else(|| corrupt("the snapshot holds no pg_dump directory".into()))?;
    // The directory must lie inside the snapshot: pg_restore reads whatever it is given.
    if dump.file.is_empty()
        || dump.file.starts_with('/')
        || dump
            .file
            .split('/')
            .any(|part| part == ".." || part.is_empty())
    {
        return Err(corrupt(format!(
            "dump directory {:?} is not inside the snapshot",
            dump.file
        )));
    }
    let toc = format!("{}/toc.dat", dump.file);
    if !manifest.files.iter().any(|f| f.path == toc) {
        return Err(corrupt(format!("{toc} is not among the snapshot's files")));
    }

    // Every file before anything runs: a corrupt dump must not half-restore.
    progress.set_message(format!(
        "checking {} files ({})",
        manifest.files.len(),
        crate::units::bytes(manifest.total_bytes())
    ));
    let checked = Entry {
        state: State::Complete(Box::new(manifest.clone())),
        ..entry.clone()
    };
    let problems = Store::new(&entry.dir).check(&checked);
    if !problems.is_empty() {
        return Err(FullError::Corrupt {
            id: manifest.id.clone(),
            problems,
        });
    }

    let pg_restore = find_program(opts.bindir.as_deref(), "pg_restore")?;
    let major = tool_major(&pg_restore)?;
    let source_major = manifest.database.major();
    if major < source_major {
        return Err(FullError::Tool(format!(
            "{} is version {major}, but the snapshot was dumped from PostgreSQL {source_major} with a pg_dump at least that new, which it cannot read. Install the PostgreSQL {source_major} client programs (Debian/Ubuntu: apt install postgresql-client-{source_major}) and point migsafe at their directory",
            pg_restore.display()
        )));
    }
    // pg_restore's own error for an unreachable server is terse; this one says what to check.
    progress.set_message(format!("connecting to {into}"));
    drop(connect::connect(into)?);
    if let Some(admin) = &opts.extensions_by {
        let mut list = tool_command(&pg_restore, admin);
        list.arg("--list").arg(entry.dir.join(&dump.file));
        let out = list
            .output()
            .map_err(|e| FullError::Tool(format!("cannot run {}: {e}", pg_restore.display())))?;
        if !out.status.success() {
            return Err(FullError::Tool(format!(
                "pg_restore --list failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let mut c = connect::connect(admin)?;
        for name in toc_extensions(&String::from_utf8_lossy(&out.stdout)) {
            c.batch_execute(&format!(
                "CREATE EXTENSION IF NOT EXISTS {}",
                crate::pg::quote_ident(&name)
            ))
            .map_err(|e| {
                FullError::Tool(format!(
                    "cannot create extension {name} in the scratch database: {}",
                    crate::pg::error_text(&e)
                ))
            })?;
        }
    }

    let jobs = jobs(opts.jobs);
    let dbname = into.dbname().unwrap_or(into.user());
    let mut cmd = tool_command(&pg_restore, into);
    cmd.arg(format!("--jobs={jobs}"))
        .arg("--no-password")
        .arg("--exit-on-error")
        // A connection string holding only the name: a name with `=` in it stays a name.
        .arg(format!("--dbname=dbname='{}'", conninfo_escape(dbname)));
    if opts.clean {
        cmd.arg("--clean").arg("--if-exists");
    }
    if opts.no_owner {
        cmd.arg("--no-owner").arg("--no-privileges");
    }
    if opts.extensions_by.is_some() {
        cmd.args([
            "--no-comments",
            "--no-publications",
            "--no-subscriptions",
            "--no-security-labels",
        ]);
    }
    cmd.arg(entry.dir.join(&dump.file));
    let label = format!("pg_restore -j{jobs} into {dbname}");
    let (status, stderr) = run(cmd, &pg_restore, progress, &label, None, |_| {})?;
    check_status(status, &stderr, "pg_restore", into)
}

/// The extensions a `pg_restore --list` table of contents creates: lines such as
/// `2; 3079 16397 EXTENSION - pgcrypto`.
fn toc_extensions(list: &str) -> Vec<String> {
    list.lines()
        .filter(|l| !l.starts_with(';'))
        .filter_map(|l| {
            let mut words = l.split_whitespace().skip(3);
            match (words.next(), words.next(), words.next(), words.next()) {
                (Some("EXTENSION"), Some("-"), Some(name), None) => Some(name.to_string()),
                _ => None,
            }
        })
        .collect()
}

/// `-j 0` means one job per CPU.
fn jobs(jobs: usize) -> usize {
    if jobs > 0 {
        jobs
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// `program` from `bindir`, else next to initdb (the newest installed PostgreSQL), else from
/// PATH (client-only installs have pg_dump without initdb).
pub(crate) fn find_program(
    bindir: Option<&Path>,
    program: &'static str,
) -> Result<PathBuf, FullError> {
    if let Some(dir) = bindir {
        let p = dir.join(program);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(FullError::NotInstalled {
                program,
                searched: dir.display().to_string(),
            })
        };
    }
    if let Ok(dir) = crate::pg::cluster::find_bindir() {
        let p = dir.join(program);
        if p.is_file() {
            return Ok(p);
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .ok_or_else(|| FullError::NotInstalled {
            program,
            searched: "the PostgreSQL installation directories and PATH".into(),
        })
}

/// `pg_dump --version` → `pg_dump (PostgreSQL) 15.18 (Debian 15.18-1)` → 15.
pub(crate) fn tool_major(program: &Path) -> Result<u32, FullError> {
    let out = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| FullError::Tool(format!("cannot run {}: {e}", program.display())))?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_major(&text).ok_or_else(|| {
        FullError::Tool(format!(
            "cannot read the version of {} from {:?}",
            program.display(),
            text.trim()
        ))
    })
}

fn parse_major(version: &str) -> Option<u32> {
    let after = version.split_once(')').map_or(version, |(_, rest)| rest);
    let word = after
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
    let digits: String = word.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// A command for a libpq tool connecting to `target` through the environment only.
pub(crate) fn tool_command(program: &Path, target: &Target) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(key);
        }
    }
    for (key, value) in target.pg_env() {
        cmd.env(key, value);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Runs `cmd`, showing progress (bytes written under `watch`, else the elapsed time) while
/// `during` works alongside; returns the exit status and what the tool wrote to stderr.
fn run(
    mut cmd: Command,
    program: &Path,
    progress: &indicatif::ProgressBar,
    label: &str,
    watch: Option<&Path>,
    during: impl FnOnce(&mut Child),
) -> Result<(ExitStatus, String), FullError> {
    progress.set_message(label.to_string());
    let mut child = cmd
        .spawn()
        .map_err(|e| FullError::Tool(format!("cannot run {}: {e}", program.display())))?;
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let done = AtomicBool::new(false);
    let started = Instant::now();
    let (status, err) = std::thread::scope(|s| {
        // Read stderr as it comes so a chatty tool never blocks on a full pipe.
        let reader = s.spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf);
            buf
        });
        let poller = s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                let msg = match watch {
                    Some(dir) => format!("{label}: {} written", crate::units::bytes(dir_size(dir))),
                    None => format!("{label}: {} s", started.elapsed().as_secs()),
                };
                progress.set_message(msg);
                std::thread::park_timeout(Duration::from_millis(250));
            }
        });
        during(&mut child);
        let status = child.wait();
        done.store(true, Ordering::Relaxed);
        poller.thread().unpark();
        let _ = poller.join();
        (status, reader.join().unwrap_or_default())
    });
    let status =
        status.map_err(|e| FullError::Tool(format!("waiting for {}: {e}", program.display())))?;
    Ok((status, String::from_utf8_lossy(&err).trim().to_string()))
}

pub(crate) fn check_status(
    status: ExitStatus,
    stderr: &str,
    program: &str,
    target: &Target,
) -> Result<(), FullError> {
    if status.success() {
        return Ok(());
    }
    // The password travels in the environment and libpq never prints it; scrub it anyway
    // (only when long enough that scrubbing cannot mangle ordinary words).
    let mut stderr = stderr.to_string();
    if let Some(pw) = target.config().get_password()
        && pw.len() >= 4
    {
        stderr = stderr.replace(&*String::from_utf8_lossy(pw), "***");
    }
    let hint = if stderr.contains("No space left on device") {
        "\n(the disk holding the snapshot store is full: free space or use another store)"
    } else if stderr.contains("Permission denied") {
        "\n(check that migsafe may write the snapshot store and the role may read every table)"
    } else {
        ""
    };
    let stderr = if stderr.is_empty() {
        "(no error output)".to_string()
    } else {
        stderr
    };
    Err(FullError::Tool(format!(
        "{program} failed ({status}) on {target}:\n{stderr}{hint}"
    )))
}

fn db_error(target: &Target, e: &postgres::Error) -> FullError {
    let detail = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => {
            let mut s = e.to_string();
            let mut cur = std::error::Error::source(e);
            while let Some(c) = cur {
                s.push_str(&format!(": {c}"));
                cur = c.source();
            }
            s
        }
    };
    FullError::Db {
        target: target.redacted(),
        detail,
    }
}

/// libpq conninfo value quoting: inside single quotes, `\` and `'` are escaped with `\`.
pub(crate) fn conninfo_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "\\'")
}

/// Total size of the files under `dir` (0 while it does not exist yet).
fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::pg::fingerprint::{Exclude, fingerprint};
    use crate::pg::testing;
    use crate::snapshot::Kind;
    use crate::snapshot::manifest::DatabaseIdentity;

    const SCHEMA: &str = "
        CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL);
        CREATE TABLE orders (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            customer_id bigint NOT NULL REFERENCES customers,
            note text);
        CREATE INDEX orders_customer_idx ON orders (customer_id);
        CREATE TABLE empty_one (x int);
        INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 120) g;
        INSERT INTO orders (customer_id, note)
            SELECT 1 + g % 120, repeat('n', g % 17) FROM generate_series(1, 345) g;";

    fn target(db: &str) -> Target {
        connect::from_url(&testing::cluster().url(db)).unwrap()
    }

    fn opts() -> DumpOptions {
        DumpOptions {
            jobs: 2,
            bindir: Some(testing::cluster().bindir().to_path_buf()),
            ..DumpOptions::default()
        }
    }

    fn restore_opts() -> RestoreOptions {
        RestoreOptions {
            jobs: 2,
            clean: false,
            no_owner: false,
            bindir: Some(testing::cluster().bindir().to_path_buf()),
            extensions_by: None,
        }
    }

    /// Dumps `db` into a new store and commits the snapshot as the CLI would.
    fn snapshot(db: &str, opts: &DumpOptions) -> (tempfile::TempDir, Store, Entry) {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path().join("store"));
        let mut w = store.begin("t").unwrap();
        let objects = dump(&target(db), &mut w, opts, &indicatif::ProgressBar::hidden()).unwrap();
        let mut client = testing::cluster().connect(db).unwrap();
        let m = w
            .commit(Manifest {
                schema_version: 0,
                id: String::new(),
                kind: Kind::Full,
                target: String::new(),
                database: DatabaseIdentity::read(&mut client).unwrap(),
                guards: None,
                objects,
                files: vec![],
                created_at: "2026-11-27T00:00:00Z".into(),
                capture_ms: 1,
                migsafe_version: "test".into(),
                notes: vec![],
            })
            .unwrap();
        let entry = store.find(&m.id).unwrap();
        (tmp, store, entry)
    }

    fn counts(client: &mut postgres::Client, tables: &[&str]) -> Vec<i64> {
        tables
            .iter()
            .map(|t| {
                client
                    .query_one(&format!("SELECT count(*) FROM {t}"), &[])
                    .unwrap()
                    .get(0)
            })
            .collect()
    }

    fn rows_objects(m: &Manifest) -> Vec<(String, u64)> {
        m.objects
            .iter()
            .filter(|o| o.kind == ObjectKind::Rows)
            .map(|o| (o.qualified(), o.rows))
            .collect()
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn dump_commits_a_private_hashed_snapshot_with_exact_row_counts() {
        let (db, mut client) = testing::fresh_database("full_dump");
        client.batch_execute(SCHEMA).unwrap();
        let (_tmp, store, entry) = snapshot(&db, &opts());
        let m = entry.manifest().unwrap();
        assert!(store.check(&entry).is_empty());
        assert!(m.files.iter().any(|f| f.path == "dump/toc.dat"));
        assert!(
            m.files.len() >= 4,
            "toc plus one file per table: {:?}",
            m.files
        );
        assert!(
            m.files
                .iter()
                .all(|f| f.sha256.len() == 64 && f.path.starts_with("dump/"))
        );
        assert_eq!(mode(&entry.dir.join("dump")), 0o700);
        for f in &m.files {
            assert_eq!(mode(&entry.dir.join(&f.path)), 0o600, "{}", f.path);
        }
        assert_eq!(
            rows_objects(m),
            vec![
                ("public.customers".into(), 120),
                ("public.empty_one".into(), 0),
                ("public.orders".into(), 345)
            ]
        );
        let d: Vec<_> = m
            .objects
            .iter()
            .filter(|o| o.kind == ObjectKind::Dump)
            .collect();
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].schema.as_str(), d[0].name.as_str()),
            ("", db.as_str())
        );
        assert!(
            m.objects
                .iter()
                .all(|o| o.file == "dump" && o.key_source == KeySource::None)
        );
    }

    #[test]
    fn restore_into_an_empty_database_gives_the_same_rows_and_schema() {
        let (db, mut client) = testing::fresh_database("full_src");
        client.batch_execute(SCHEMA).unwrap();
        let (_tmp, _store, entry) = snapshot(&db, &opts());
        let (into, mut into_client) = testing::fresh_database("full_into");
        let bar = indicatif::ProgressBar::hidden();
        restore(
            &entry,
            entry.manifest().unwrap(),
            &target(&into),
            &restore_opts(),
            &bar,
        )
        .unwrap();
        let tables = ["customers", "orders", "empty_one"];
        assert_eq!(counts(&mut into_client, &tables), vec![120, 345, 0]);
        assert_eq!(
            counts(&mut client, &tables),
            counts(&mut into_client, &tables)
        );
        let before = fingerprint(&mut client, &Exclude::default()).unwrap();
        let after = fingerprint(&mut into_client, &Exclude::default()).unwrap();
        assert_eq!(
            before,
            after,
            "{}",
            crate::pg::fingerprint::diff(&before, &after)
        );
        // Identity sequences come back where they were.
        let next: i64 = into_client
            .query_one(
                "INSERT INTO orders (customer_id) VALUES (1) RETURNING id",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(next, 346);

        // --clean restores over a database that changed since.
        into_client
            .batch_execute("DELETE FROM orders WHERE id > 100; CREATE TABLE extra (x int)")
            .unwrap();
        let clean = RestoreOptions {
            clean: true,
            ..restore_opts()
        };
        restore(
            &entry,
            entry.manifest().unwrap(),
            &target(&into),
            &clean,
            &bar,
        )
        .unwrap();
        assert_eq!(counts(&mut into_client, &tables), vec![120, 345, 0]);
    }

    #[test]
    fn a_corrupt_or_truncated_file_is_refused_by_name_and_nothing_runs() {
        let (db, mut client) = testing::fresh_database("full_corrupt");
        client.batch_execute(SCHEMA).unwrap();
        let (_tmp, _store, entry) = snapshot(&db, &opts());
        let m = entry.manifest().unwrap();
        let biggest = m
            .files
            .iter()
            .filter(|f| f.path.ends_with(".dat.gz"))
            .max_by_key(|f| f.bytes)
            .unwrap();
        let path = entry.dir.join(&biggest.path);
        let mut bytes = fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x20;
        fs::write(&path, &bytes).unwrap();

        let (into, mut into_client) = testing::fresh_database("full_corrupt_into");
        into_client
            .batch_execute("CREATE TABLE marker (x int)")
            .unwrap();
        let bar = indicatif::ProgressBar::hidden();
        let clean = RestoreOptions {
            clean: true,
            ..restore_opts()
        };
        let err = restore(&entry, m, &target(&into), &clean, &bar).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, FullError::Corrupt { .. }), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("sha256"), "{msg}");
        let tables: Vec<String> = into_client
            .query(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(tables, vec!["marker".to_string()]);

        // A truncated table of contents is named too.
        fs::write(&path, &bytes[..0]).unwrap();
        let toc = entry.dir.join("dump/toc.dat");
        let t = fs::read(&toc).unwrap();
        fs::write(&toc, &t[..t.len() - 1]).unwrap();
        let msg = restore(&entry, m, &target(&into), &clean, &bar)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains(&toc.display().to_string()) && msg.contains("truncated"),
            "{msg}"
        );
    }

    #[test]
    fn schema_dump_holds_only_that_schema() {
        let (db, mut client) = testing::fresh_database("full_schema");
        client
            .batch_execute(
                "CREATE SCHEMA \"App\"; CREATE SCHEMA other;
                 CREATE TABLE \"App\".items (id int PRIMARY KEY);
                 CREATE TABLE \"App\".parts (id int, at int) PARTITION BY RANGE (at);
                 CREATE TABLE \"App\".parts_1 PARTITION OF \"App\".parts FOR VALUES FROM (0) TO (10);
                 CREATE TABLE other.parts_2 PARTITION OF \"App\".parts FOR VALUES FROM (10) TO (20);
                 CREATE TABLE other.things (id int);
                 INSERT INTO \"App\".items SELECT generate_series(1, 7);
                 INSERT INTO \"App\".parts SELECT g, g FROM generate_series(0, 19) g;
                 INSERT INTO other.things SELECT generate_series(1, 3);",
            )
            .unwrap();
        let o = DumpOptions {
            schema: Some("App".into()),
            ..opts()
        };
        let (_tmp, _store, entry) = snapshot(&db, &o);
        let m = entry.manifest().unwrap();
        assert_eq!(
            rows_objects(m),
            vec![
                ("App.items".into(), 7),
                ("App.parts".into(), 10),
                ("App.parts_1".into(), 10)
            ]
        );
        let d = m
            .objects
            .iter()
            .find(|o| o.kind == ObjectKind::Dump)
            .unwrap();
        assert_eq!(d.schema, "App");

        let (into, mut into_client) = testing::fresh_database("full_schema_into");
        let bar = indicatif::ProgressBar::hidden();
        restore(&entry, m, &target(&into), &restore_opts(), &bar).unwrap();
        let schemas: Vec<String> = into_client
            .query(
                "SELECT DISTINCT table_schema::text FROM information_schema.tables
                  WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(schemas, vec!["App".to_string()]);
        assert_eq!(
            counts(&mut into_client, &["\"App\".items", "\"App\".parts"]),
            vec![7, 10]
        );
    }

    #[test]
    fn the_dump_and_its_counts_see_the_callers_snapshot() {
        let (db, mut client) = testing::fresh_database("full_snap");
        client.batch_execute(SCHEMA).unwrap();
        let mut holder = testing::cluster().connect(&db).unwrap();
        let mut tx = holder
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .start()
            .unwrap();
        let id: String = tx
            .query_one("SELECT pg_export_snapshot()", &[])
            .unwrap()
            .get(0);
        client
            .batch_execute(
                "INSERT INTO customers SELECT g, 'late' FROM generate_series(121, 130) g",
            )
            .unwrap();
        let o = DumpOptions {
            snapshot: Some(id),
            ..opts()
        };
        let (_tmp, _store, entry) = snapshot(&db, &o);
        tx.rollback().unwrap();
        let m = entry.manifest().unwrap();
        assert!(rows_objects(m).contains(&("public.customers".into(), 120)));
        let (into, mut into_client) = testing::fresh_database("full_snap_into");
        let bar = indicatif::ProgressBar::hidden();
        restore(&entry, m, &target(&into), &restore_opts(), &bar).unwrap();
        assert_eq!(counts(&mut into_client, &["customers"]), vec![120]);

        let bad = DumpOptions {
            snapshot: Some("x'; DROP TABLE customers; --".into()),
            ..opts()
        };
        let tmp = tempfile::tempdir().unwrap();
        let mut w = Store::new(tmp.path()).begin("t").unwrap();
        let err = dump(&target(&db), &mut w, &bad, &bar).unwrap_err();
        assert!(err.to_string().contains("not a snapshot id"), "{err}");
    }

    #[test]
    fn unreachable_server_is_a_clear_error_and_commits_nothing() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let t = connect::from_url(&format!(
            "postgres://app:s3cret-pw@127.0.0.1:{port}/app?sslmode=disable&connect_timeout=2"
        ))
        .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path());
        let mut w = store.begin("t").unwrap();
        let err = dump(&t, &mut w, &opts(), &indicatif::ProgressBar::hidden()).unwrap_err();
        drop(w);
        let msg = err.to_string();
        assert!(
            matches!(err, FullError::Connect(ConnectError::Unreachable { .. })),
            "{msg}"
        );
        assert!(
            msg.contains("cannot reach") && !msg.contains("s3cret"),
            "{msg}"
        );
        assert!(store.list(None).unwrap().is_empty());
    }

    /// A stand-in pg_dump: prints `version` for --version, else fails like `stderr` says.
    fn fake_tool(dir: &Path, name: &str, version: &str, stderr: &str) {
        let path = dir.join(name);
        fs::write(
            &path,
            format!(
                "#!/bin/sh\nif [ \"$1\" = --version ]; then echo '{name} (PostgreSQL) {version}'; exit 0; fi\n\
                 env | grep -q '^PGPASSWORD=' && echo 'has password in env' >&2\n\
                 echo \"$@\" | grep -q 's3cret' && echo 'PASSWORD IN ARGV' >&2\n\
                 echo '{stderr}' >&2\nexit 1\n"
            ),
        )
        .unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        // Another test thread may be between fork and exec holding the file open for writing
        // (ETXTBSY); wait until it can run.
        for _ in 0..100 {
            match Command::new(&path).arg("--version").output() {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => break,
            }
        }
    }

    #[test]
    fn pg_dump_failure_reports_its_stderr_and_commits_nothing() {
        let (db, _client) = testing::fresh_database("full_fail");
        let bin = tempfile::tempdir().unwrap();
        fake_tool(
            bin.path(),
            "pg_dump",
            "99.1",
            "pg_dump: error: could not write to file: No space left on device",
        );
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path());
        let mut w = store.begin("t").unwrap();
        let o = DumpOptions {
            bindir: Some(bin.path().to_path_buf()),
            ..opts()
        };
        // The password reaches the tool through the environment only.
        let url = format!("{}?password=s3cret-pw", testing::cluster().url(&db));
        let t = connect::from_url(&url).unwrap();
        let err = dump(&t, &mut w, &o, &indicatif::ProgressBar::hidden()).unwrap_err();
        drop(w);
        let msg = err.to_string();
        assert!(
            msg.contains("No space left on device") && msg.contains("disk"),
            "{msg}"
        );
        assert!(msg.contains("has password in env"), "{msg}");
        assert!(
            !msg.contains("PASSWORD IN ARGV") && !msg.contains("s3cret"),
            "{msg}"
        );
        assert!(store.list(None).unwrap().is_empty());

        fake_tool(bin.path(), "pg_dump", "9.6.24", "unused");
        let mut w = store.begin("t").unwrap();
        let msg = dump(&target(&db), &mut w, &o, &indicatif::ProgressBar::hidden())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("version 9, older than the server"), "{msg}");
        assert!(msg.contains("postgresql-client-"), "{msg}");

        let empty = tempfile::tempdir().unwrap();
        let o = DumpOptions {
            bindir: Some(empty.path().to_path_buf()),
            ..opts()
        };
        let err = dump(&target(&db), &mut w, &o, &indicatif::ProgressBar::hidden()).unwrap_err();
        assert!(
            matches!(
                err,
                FullError::NotInstalled {
                    program: "pg_dump",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn versions_are_read_from_the_tools_banner() {
        assert_eq!(
            parse_major("pg_dump (PostgreSQL) 15.18 (Debian 15.18-1.pgdg120+1)"),
            Some(15)
        );
        assert_eq!(parse_major("pg_dump (PostgreSQL) 9.6.24"), Some(9));
        assert_eq!(parse_major("pg_restore (PostgreSQL) 17devel"), Some(17));
        assert_eq!(parse_major("garbage"), None);
        assert_eq!(conninfo_escape(r"a'b\c"), r"a\'b\\c");
    }
}

#[cfg(test)]
mod toc_tests {
    #[test]
    fn extensions_are_read_from_the_table_of_contents() {
        let list = ";\n; Archive created at 2026-12-07\n;\n2; 3079 16397 EXTENSION - pgcrypto \n3391; 0 0 COMMENT - EXTENSION pgcrypto \n215; 1259 16434 TABLE public t postgres\n3; 3079 1 EXTENSION - uuid-ossp \n3403; 0 0 COMMENT - EXTENSION \"uuid-ossp\" \n";
        assert_eq!(
            super::toc_extensions(list),
            ["pgcrypto".to_string(), "uuid-ossp".to_string()]
        );
    }
}
