//! `migsafe snapshot create|list|show|verify|restore|prune`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, anyhow, bail};
use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use serde::Serialize;

use super::{ConfigOpts, Outcome, ProjectOpts, print};
use crate::classify::MigrationAnalysis;
use crate::config::Config;
use crate::pg::connect::{self, Target};
use crate::pg::quote_ident;
use crate::snapshot::capture::{self, CaptureError, Request};
use crate::snapshot::manifest::{DatabaseIdentity, Guard, Object, ObjectKind};
use crate::snapshot::store::{Entry, State};
use crate::snapshot::{Kind, Manifest, Store, full, restore};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum SnapFormat {
    /// Aligned text for people.
    #[default]
    Human,
    /// JSON on stdout (manifests as written in the store).
    Json,
}

/// Where the snapshot store is.
#[derive(Debug, Clone, Args)]
pub struct StoreOpts {
    /// The snapshot store directory [default: `[snapshots] store` from migsafe.toml].
    #[arg(long, value_name = "DIR", env = "MIGSAFE_SNAPSHOT_STORE")]
    pub store: Option<PathBuf>,
}

impl StoreOpts {
    pub fn open(&self, config: &Config) -> anyhow::Result<Store> {
        match self.store.as_ref().or(config.snapshot_store.as_ref()) {
            Some(dir) => Ok(Store::new(dir)),
            None => bail!(
                "no snapshot store configured: set [snapshots] store = \"…\" in migsafe.toml or pass --store DIR"
            ),
        }
    }
}

/// Which database: a target from migsafe.toml, or a connection URL.
#[derive(Debug, Clone, Args)]
pub struct TargetOpts {
    /// A target defined in migsafe.toml (`[[targets]] name = …`).
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// Connect to this database instead; its snapshots are stored under the database name.
    /// Keep the password out of the command line: set the environment variable instead.
    #[arg(
        long,
        value_name = "URL",
        env = "MIGSAFE_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
}

/// A target resolved to a store name and a connection.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The store's directory name for it.
    pub name: String,
    pub target: Target,
}

impl Resolved {
    /// The database it connects to (PostgreSQL defaults to the user's name).
    pub fn dbname(&self) -> String {
        self.target
            .dbname()
            .unwrap_or(self.target.user())
            .to_string()
    }
}

impl TargetOpts {
    /// The target, or `None` when neither option (nor the environment variable) is given.
    pub fn resolve_opt(&self, config: &Config) -> anyhow::Result<Option<Resolved>> {
        // A URL that only comes from the environment gives way to an explicit --target.
        let from_env = self.database_url.is_some()
            && std::env::var("MIGSAFE_DATABASE_URL").ok() == self.database_url;
        match (&self.target, &self.database_url) {
            (Some(_), Some(_)) if !from_env => {
                bail!("--target and --database-url both name a database: pass one of them")
            }
            (Some(name), _) => resolve_name(config, name).map(Some),
            (None, Some(url)) => {
                let target = connect::from_url(url)?;
                let db = target.dbname().unwrap_or(target.user()).to_string();
                Ok(Some(Resolved {
                    name: store_name(&db),
                    target,
                }))
            }
            (None, None) => Ok(None),
        }
    }

    pub fn resolve(&self, config: &Config) -> anyhow::Result<Resolved> {
        self.resolve_opt(config)?.ok_or_else(|| {
            anyhow!(
                "no database given: pass --target NAME (from migsafe.toml) or --database-url URL"
            )
        })
    }
}

/// A target of migsafe.toml by name.
pub fn resolve_name(config: &Config, name: &str) -> anyhow::Result<Resolved> {
    let Some(t) = config.target(name) else {
        return Err(unknown_target(config, name));
    };
    let url = t.url().map_err(|e| anyhow!(e))?;
    let target =
        connect::from_url(&url).with_context(|| format!("target `{name}`: invalid url"))?;
    Ok(Resolved {
        name: name.to_string(),
        target,
    })
}

pub fn unknown_target(config: &Config, name: &str) -> anyhow::Error {
    let file = config
        .path
        .as_ref()
        .map_or("no migsafe.toml found".to_string(), |p| {
            p.display().to_string()
        });
    if config.targets.is_empty() {
        anyhow!("unknown target `{name}`: {file} defines no [[targets]]")
    } else {
        let names: Vec<&str> = config.targets.iter().map(|t| t.name.as_str()).collect();
        anyhow!(
            "unknown target `{name}`: {file} defines {}",
            names.join(", ")
        )
    }
}

/// A database name as a store directory name: `[A-Za-z0-9_.-]`, not starting with `_` or `.`.
pub fn store_name(db: &str) -> String {
    let mut s: String = db
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(['_', '.']) {
        s.insert_str(0, "db");
    }
    s
}

pub fn load_config(opts: &ConfigOpts) -> anyhow::Result<Config> {
    Ok(match &opts.config {
        Some(p) => Config::load(p)?,
        None => match Config::find(Path::new(".")) {
            Some(p) => Config::load(&p)?,
            None => Config::defaults(),
        },
    })
}

/// A spinner on stderr; hidden when stderr is not a terminal or with --quiet.
pub fn progress(quiet: bool) -> indicatif::ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}") {
        pb.set_style(style);
    }
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(subcommand)]
    pub command: SnapshotCommand,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Capture data now: a table, some columns, what a migration destroys, or a full dump.
    ///
    /// Targeted captures run in one REPEATABLE READ, READ ONLY transaction: every object is
    /// captured as of the same instant. The manifest is written last: a capture that fails or is
    /// killed leaves no snapshot (only an incomplete directory, which `prune` removes).
    ///
    /// Exit codes: 0 captured, 2 nothing captured (bad input, unreachable database, a statement
    /// migsafe cannot capture).
    ///
    /// Examples:
    ///   migsafe snapshot create --target acct-1 --table accounts
    ///   migsafe snapshot create --target acct-1 --table accounts.plan --table accounts.email
    ///   migsafe snapshot create --target acct-1 --for 20240301120000
    ///   migsafe snapshot create --target acct-1 --full --jobs 4
    ///   MIGSAFE_DATABASE_URL=postgres://app@db/acct1 migsafe snapshot create --table billing.invoices
    #[command(verbatim_doc_comment)]
    Create(CreateArgs),
    /// List snapshots (and incomplete directories) in the store.
    ///
    /// Examples:
    ///   migsafe snapshot list
    ///   migsafe snapshot list --target acct-1 --format json
    #[command(verbatim_doc_comment)]
    List(ListArgs),
    /// Show one snapshot's manifest: source database, guarded statement, objects, files.
    ///
    /// Examples:
    ///   migsafe snapshot show 20260301T101500Z-3fa9c1
    ///   migsafe snapshot show 20260301T101500Z-3fa9c1 --format json
    #[command(verbatim_doc_comment)]
    Show(ShowArgs),
    /// Check a snapshot's files against the sha256 sums in its manifest.
    ///
    /// With --deep, also restore it into a scratch database and compare what comes back (a
    /// restore drill whose report is not kept; see `migsafe drill`).
    ///
    /// Exit codes: 0 intact, 1 the deep restore failed, 2 corrupt or missing files (each is
    /// named on stderr) or migsafe could not do its job.
    ///
    /// Examples:
    ///   migsafe snapshot verify 20260301T101500Z-3fa9c1
    ///   migsafe snapshot verify --deep 20260301T101500Z-3fa9c1
    #[command(verbatim_doc_comment)]
    Verify(VerifyArgs),
    /// Put a snapshot's data back.
    ///
    /// Targeted snapshots are restored keyed, in one transaction, into the current schema:
    /// missing rows are inserted, dropped columns refilled, overwritten values put back; rows
    /// written since the capture are kept. A row that changed since, both from the snapshot and
    /// from what the migration wrote, is a conflict: it is kept as it is and reported (exit 1;
    /// everything else is committed).
    ///
    /// Full snapshots are restored with pg_restore: --into NEWDB creates a new database beside
    /// the target; without --into the target's objects are dropped and recreated, which needs
    /// --yes (or typing the database name at the prompt).
    ///
    /// A snapshot is restored only into the target it was taken of, unless --into or
    /// --force-other-target says otherwise.
    ///
    /// Exit codes: 0 restored, 1 restored with conflicts, 2 nothing restored.
    ///
    /// Examples:
    ///   migsafe snapshot restore 20260301T101500Z-3fa9c1 --target acct-1
    ///   migsafe snapshot restore 20260301T101500Z-3fa9c1 --target acct-1 --into acct1_copy
    ///   migsafe snapshot restore 20260301T090000Z-77d0e2 --target acct-1 --yes --jobs 4
    #[command(verbatim_doc_comment)]
    Restore(RestoreArgs),
    /// Remove old snapshots, and incomplete directories of captures that died.
    ///
    /// Pinned snapshots (needed by an applied step that is not finalised) are always kept, and
    /// so are captures in progress.
    ///
    /// Examples:
    ///   migsafe snapshot prune --keep-last 5
    ///   migsafe snapshot prune --older-than 30d --target acct-1 --dry-run
    #[command(verbatim_doc_comment)]
    Prune(PruneArgs),
    /// Release a snapshot that `migsafe apply` or `rollback` pinned, so `prune` may remove it.
    ///
    /// Apply pins each step's snapshots until the step is rolled back or finalised; rollback
    /// pins what its downs captured. Unpin one by hand once you no longer need it (for example,
    /// after restoring a rollback's capture into the re-applied release).
    ///
    /// Examples:
    ///   migsafe snapshot unpin 20260301T101500Z-3fa9c1
    #[command(verbatim_doc_comment)]
    Unpin(UnpinArgs),
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("what").required(true).args(["full", "for_version", "table"])))]
pub struct CreateArgs {
    #[command(flatten)]
    pub target: TargetOpts,
    /// A full snapshot: `pg_dump -Fd` of the whole database.
    #[arg(long, conflicts_with_all = ["for_version", "table"])]
    pub full: bool,
    /// Parallel pg_dump jobs for --full [default: the number of CPUs].
    #[arg(long, value_name = "N", requires = "full")]
    pub jobs: Option<usize>,
    /// Capture what this migration's destructive steps would destroy (VERSION or its id).
    #[arg(long = "for", value_name = "VERSION", conflicts_with = "table")]
    pub for_version: Option<String>,
    /// The migrations directory for --for [default: migrations_dir from migsafe.toml].
    #[arg(long, value_name = "DIR", requires = "for_version")]
    pub migrations: Option<PathBuf>,
    /// A table (`accounts`, `billing.invoices`), or one column of it (`accounts.plan`) with the
    /// key. Repeat it; several columns of one table are captured together.
    #[arg(long, value_name = "TABLE[.COLUMN]")]
    pub table: Vec<String>,
    #[command(flatten)]
    pub store: StoreOpts,
    #[command(flatten)]
    pub config: ConfigOpts,
    #[command(flatten)]
    pub project: ProjectOpts,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: SnapFormat,
    /// No progress on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this target's snapshots.
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    #[command(flatten)]
    pub store: StoreOpts,
    #[command(flatten)]
    pub config: ConfigOpts,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: SnapFormat,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The snapshot id (see `migsafe snapshot list`).
    pub id: String,
    #[command(flatten)]
    pub store: StoreOpts,
    #[command(flatten)]
    pub config: ConfigOpts,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: SnapFormat,
}

#[derive(Debug, Args)]
pub struct UnpinArgs {
    /// The snapshot id.
    pub id: String,
    #[command(flatten)]
    pub store: StoreOpts,
    #[command(flatten)]
    pub config: ConfigOpts,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The snapshot id.
    pub id: String,
    /// Also restore it into a scratch database and compare what comes back.
    #[arg(long)]
    pub deep: bool,
    /// With --deep: restore into a throwaway database on this server instead of a scratch
    /// cluster (the role needs CREATEDB).
    #[arg(
        long,
        value_name = "URL",
        env = "MIGSAFE_DATABASE_URL",
        hide_env_values = true,
        requires = "deep"
    )]
    pub database_url: Option<String>,
    #[command(flatten)]
    pub store: StoreOpts,
    #[command(flatten)]
    pub config: ConfigOpts,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: SnapFormat,
    /// No progress on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The snapshot id.
    pub id: String,
    #[command(flatten)]
    pub target: TargetOpts,
    /// Restore into this database on the target's server instead of the target's own database
    /// (full snapshots: it is created and must not exist).
    #[arg(long, value_name = "DB")]
    pub into: Option<String>,
    /// Parallel pg_restore jobs for full snapshots [default: the number of CPUs].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Full snapshot over the target: confirm that its objects are dropped and recreated.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Restore a snapshot of one target into another target's database.
    #[arg(long)]
    pub force_other_target: bool,
    #[command(flatten)]
    pub store: StoreOpts,
    #[command(flatten)]
    pub config: ConfigOpts,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: SnapFormat,
    /// No progress on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("policy").required(true).args(["keep_last", "older_than"])))]
pub struct PruneArgs {
    /// Keep the newest N complete snapshots of each target.
    #[arg(long, value_name = "N")]
    pub keep_last: Option<usize>,
    /// Remove snapshots older than this: `30m`, `12h`, `7d`, `2w`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub older_than: Option<u64>,
    /// Only this target's snapshots.
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// Say what would be removed, remove nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    #[command(flatten)]
    pub store: StoreOpts,
    #[command(flatten)]
    pub config: ConfigOpts,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: SnapFormat,
}

/// `30s`, `30m`, `12h`, `7d`, `2w` (or a combination, `1d12h`) → seconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let bad = || format!("`{s}` is not a duration: use a number and a unit, e.g. 30m, 12h, 7d, 2w");
    let mut total: u64 = 0;
    let mut num = String::new();
    let mut any = false;
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = num.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        num.clear();
        any = true;
    }
    if !num.is_empty() || !any {
        return Err(bad());
    }
    Ok(total)
}

pub fn run(args: SnapshotArgs) -> anyhow::Result<Outcome> {
    match args.command {
        SnapshotCommand::Create(a) => create(a),
        SnapshotCommand::List(a) => list(a),
        SnapshotCommand::Show(a) => show(a),
        SnapshotCommand::Verify(a) => verify(a),
        SnapshotCommand::Restore(a) => restore_cmd(a),
        SnapshotCommand::Prune(a) => prune(a),
        SnapshotCommand::Unpin(a) => unpin(a),
    }
}

// ---------------------------------------------------------------------------------------------
// create

fn create(args: CreateArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.config)?;
    let store = args.store.open(&config)?;
    let resolved = args.target.resolve(&config)?;
    // What to capture is settled before anything is written.
    let guard = match &args.for_version {
        Some(v) => Some(migration_requests(&args, v)?),
        None => None,
    };
    let pb = progress(args.quiet);
    let started = Instant::now();
    let manifest = if args.full {
        pb.set_message(format!("dumping {}", resolved.target));
        let identity = {
            let mut c = connect::connect(&resolved.target)?;
            DatabaseIdentity::read(&mut c).with_context(|| {
                format!("{}: cannot read the database identity", resolved.target)
            })?
        };
        let mut writer = store.begin(&resolved.name)?;
        let objects = full::dump(
            &resolved.target,
            &mut writer,
            &full::DumpOptions {
                jobs: args.jobs.unwrap_or(0),
                ..Default::default()
            },
            &pb,
        )
        .with_context(|| format!("full snapshot of {} failed; nothing kept", resolved.target))?;
        let m = new_manifest(
            Kind::Full,
            identity,
            None,
            objects,
            vec![],
            started.elapsed().as_millis() as u64,
        );
        writer.commit(m)?
    } else {
        let mut client = connect::connect(&resolved.target)?;
        let mut tx = client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .with_context(|| {
                format!("{}: cannot start the capture transaction", resolved.target)
            })?;
        let identity = DatabaseIdentity::read(&mut tx)
            .with_context(|| format!("{}: cannot read the database identity", resolved.target))?;
        let (requests, guard) = match guard {
            Some((requests, guard)) => (requests, Some(guard)),
            None => (table_requests(&mut tx, &args.table, &resolved)?, None),
        };
        let mut writer = store.begin(&resolved.name)?;
        pb.set_message(format!("capturing from {}", resolved.target));
        let captured = capture::capture(&mut tx, &resolved.target, &mut writer, &requests, &pb)
            .map_err(|e| capture_error(e, &resolved))?;
        tx.commit()
            .with_context(|| format!("{}: the capture transaction failed", resolved.target))?;
        let m = new_manifest(
            Kind::Targeted,
            identity,
            guard,
            captured.objects,
            captured.notes,
            started.elapsed().as_millis() as u64,
        );
        writer.commit(m)?
    };
    pb.finish_and_clear();
    match args.format {
        SnapFormat::Json => print(&(serde_json::to_string_pretty(&manifest)? + "\n"))?,
        SnapFormat::Human => print(&created_text(&manifest))?,
    }
    Ok(Outcome::Clean)
}

fn capture_error(e: CaptureError, resolved: &Resolved) -> anyhow::Error {
    match e {
        CaptureError::Unsupported { .. } => anyhow!("{e}; nothing was captured"),
        e => anyhow::Error::new(e).context(format!(
            "capture from {} failed; nothing was kept",
            resolved.target
        )),
    }
}

fn new_manifest(
    kind: Kind,
    database: DatabaseIdentity,
    guards: Option<Guard>,
    objects: Vec<Object>,
    notes: Vec<String>,
    capture_ms: u64,
) -> Manifest {
    Manifest::new(kind, database, guards, objects, notes, capture_ms)
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The capture requests of a migration's destructive steps, and the guard that names them.
fn migration_requests(args: &CreateArgs, version: &str) -> anyhow::Result<(Vec<Request>, Guard)> {
    let report = crate::lint::lint(&crate::lint::LintOptions {
        executing: false,
        paths: args.migrations.iter().cloned().collect(),
        config: args.config.config.clone(),
        runner: args.project.runner,
        since: None,
        stdin: None,
    })?;
    let found: Vec<&MigrationAnalysis> = report
        .projects
        .iter()
        .flat_map(|p| &p.analysis.migrations)
        .filter(|m| m.migration.version == version || m.migration.id() == version)
        .collect();
    let m = match found.as_slice() {
        [] => bail!("no migration `{version}` found in the migrations directory"),
        [m] => *m,
        several => bail!(
            "`{version}` names several migrations: {}",
            several
                .iter()
                .map(|m| m.migration.id())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let id = m.migration.id();
    let mut requests = vec![];
    let mut statements = vec![];
    let mut lines = vec![];
    for step in &m.up.steps {
        if !step.effects.iter().any(|e| e.effect.data.is_destructive()) {
            continue;
        }
        let text = m.up.text(step);
        let reqs = capture::requests_for(text).map_err(|e| {
            anyhow!(
                "{}:{}: {e}; nothing was captured",
                m.up.path.display(),
                step.start.line
            )
        })?;
        if reqs.is_empty() {
            bail!(
                "{}:{}: migsafe classifies `{}` as destroying data but cannot tell what to capture; nothing was captured (use --full)",
                m.up.path.display(),
                step.start.line,
                crate::classify::excerpt(text)
            );
        }
        requests.extend(reqs);
        statements.push(collapse(text));
        lines.push(step.start.line.to_string());
    }
    if requests.is_empty() {
        bail!("migration {id} destroys no data: there is nothing to snapshot");
    }
    Ok((
        requests,
        Guard {
            migration: id,
            statement: statements.join("; "),
            location: Some(format!("{}:{}", m.up.path.display(), lines.join(","))),
        },
    ))
}

/// `--table T` / `--table T.COL` → requests, resolved against the catalog (so `billing.invoices`
/// is a table when one exists, otherwise column `invoices` of table `billing`).
fn table_requests(
    tx: &mut postgres::Transaction<'_>,
    specs: &[String],
    resolved: &Resolved,
) -> anyhow::Result<Vec<Request>> {
    let db = resolved.dbname();
    let mut tables: Vec<String> = vec![];
    let mut columns: Vec<(String, Vec<String>)> = vec![];
    let exists = |tx: &mut postgres::Transaction<'_>, parts: &[&str]| -> anyhow::Result<bool> {
        let name: Vec<String> = parts.iter().map(|p| quote_ident(p)).collect();
        let row = tx.query_one("SELECT to_regclass($1) IS NOT NULL", &[&name.join(".")])?;
        Ok(row.get(0))
    };
    let has_column =
        |tx: &mut postgres::Transaction<'_>, parts: &[&str], col: &str| -> anyhow::Result<bool> {
            let name: Vec<String> = parts.iter().map(|p| quote_ident(p)).collect();
            let row = tx.query_one(
                "SELECT EXISTS (SELECT FROM pg_attribute WHERE attrelid = to_regclass($1) \
                 AND attname = $2 AND attnum > 0 AND NOT attisdropped)",
                &[&name.join("."), &col],
            )?;
            Ok(row.get(0))
        };
    for spec in specs {
        let parts: Vec<&str> = spec.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) || parts.len() > 3 {
            bail!(
                "--table {spec}: expected TABLE, SCHEMA.TABLE, TABLE.COLUMN or SCHEMA.TABLE.COLUMN"
            );
        }
        let (table, column) = match parts.len() {
            1 => (parts.clone(), None),
            2 if exists(tx, &parts)? => (parts.clone(), None),
            _ => (
                parts[..parts.len() - 1].to_vec(),
                Some(parts[parts.len() - 1]),
            ),
        };
        let tname = table.join(".");
        if !exists(tx, &table)? {
            bail!("--table {spec}: no table `{tname}` in database {db}");
        }
        match column {
            None => {
                if !tables.contains(&tname) {
                    tables.push(tname);
                }
            }
            Some(c) => {
                if !has_column(tx, &table, c)? {
                    bail!("--table {spec}: table `{tname}` has no column `{c}` in database {db}");
                }
                match columns.iter_mut().find(|(t, _)| *t == tname) {
                    Some((_, cols)) if cols.iter().any(|x| x == c) => {}
                    Some((_, cols)) => cols.push(c.to_string()),
                    None => columns.push((tname, vec![c.to_string()])),
                }
            }
        }
    }
    let mut out: Vec<Request> = tables
        .iter()
        .map(|t| Request::Table { table: t.clone() })
        .collect();
    // A whole table already holds its columns.
    for (table, cols) in columns {
        if !tables.contains(&table) {
            out.push(Request::Columns {
                table,
                columns: cols,
            });
        }
    }
    Ok(out)
}

fn object_kind(k: ObjectKind) -> &'static str {
    match k {
        ObjectKind::Rows => "rows",
        ObjectKind::Columns => "columns",
        ObjectKind::Values => "values",
        ObjectKind::Changes => "changes",
        ObjectKind::Definition => "definition",
        ObjectKind::Sequence => "sequence",
        ObjectKind::Dump => "dump",
    }
}

fn object_line(o: &Object) -> String {
    let mut detail = String::new();
    if !o.columns.is_empty() && o.kind != ObjectKind::Rows {
        detail.push_str(&format!(" ({})", o.columns.join(", ")));
    }
    if !o.key.is_empty() {
        detail.push_str(&format!("  key {}", o.key.join(", ")));
    }
    format!(
        "  {:<10}  {}{}  {}\n",
        object_kind(o.kind),
        o.qualified(),
        detail,
        plural(o.rows, "row", "rows")
    )
}

fn created_text(m: &Manifest) -> String {
    let mut s = String::new();
    for o in &m.objects {
        s.push_str(&object_line(o));
    }
    for n in &m.notes {
        s.push_str(&format!("  note: {n}\n"));
    }
    s.push_str(&format!(
        "snapshot {} of {} ({}): {}, {}, {} in {} ms\n",
        m.id,
        m.target,
        m.kind.label(),
        plural(m.objects.len() as u64, "object", "objects"),
        plural(m.total_rows(), "row", "rows"),
        crate::units::bytes(m.total_bytes()),
        m.capture_ms
    ));
    s
}

// ---------------------------------------------------------------------------------------------
// list

#[derive(Serialize)]
struct ListedSnapshot<'a> {
    id: &'a str,
    target: &'a str,
    kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    guards: Option<&'a Guard>,
    objects: usize,
    rows: u64,
    bytes: u64,
    created_at: &'a str,
    pinned: Option<&'a str>,
}

#[derive(Serialize)]
struct ListedIncomplete<'a> {
    id: &'a str,
    target: &'a str,
    dir: &'a Path,
    reason: &'a str,
    in_progress: bool,
}

fn list(args: ListArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.config)?;
    let store = args.store.open(&config)?;
    let entries = store.list(args.target.as_deref())?;
    let mut complete = vec![];
    let mut incomplete = vec![];
    for e in &entries {
        match &e.state {
            State::Complete(m) => complete.push(ListedSnapshot {
                id: &e.id,
                target: &e.target,
                kind: m.kind,
                guards: m.guards.as_ref(),
                objects: m.objects.len(),
                rows: m.total_rows(),
                bytes: m.total_bytes(),
                created_at: &m.created_at,
                pinned: e.pinned.as_deref().map(str::trim),
            }),
            State::Incomplete {
                reason,
                in_progress,
            } => incomplete.push(ListedIncomplete {
                id: &e.id,
                target: &e.target,
                dir: &e.dir,
                reason,
                in_progress: *in_progress,
            }),
        }
    }
    // Per target, oldest first.
    complete.sort_by(|a, b| (a.target, a.created_at, a.id).cmp(&(b.target, b.created_at, b.id)));
    if args.format == SnapFormat::Json {
        print(
            &(serde_json::to_string_pretty(&serde_json::json!({
                "store": store.root(),
                "snapshots": complete,
                "incomplete": incomplete,
            }))? + "\n"),
        )?;
        return Ok(Outcome::Clean);
    }
    let mut s = String::new();
    if complete.is_empty() {
        s.push_str(&format!(
            "no snapshots in {}{}\n",
            store.root().display(),
            args.target
                .as_deref()
                .map_or(String::new(), |t| format!(" for target {t}"))
        ));
    } else {
        let rows: Vec<[String; 8]> = complete
            .iter()
            .map(|c| {
                [
                    c.id.to_string(),
                    c.target.to_string(),
                    c.kind.label().to_string(),
                    c.objects.to_string(),
                    c.rows.to_string(),
                    crate::units::bytes(c.bytes),
                    c.created_at.to_string(),
                    {
                        let mut v = vec![];
                        if let Some(g) = c.guards {
                            v.push(g.migration.clone());
                        }
                        if let Some(p) = c.pinned {
                            v.push(format!("pinned: {p}"));
                        }
                        v.join("  ")
                    },
                ]
            })
            .collect();
        let header = [
            "ID", "TARGET", "KIND", "OBJECTS", "ROWS", "SIZE", "CREATED", "GUARDS",
        ]
        .map(String::from);
        s.push_str(&table(&header, &rows));
    }
    if !incomplete.is_empty() {
        s.push_str(&format!(
            "\n{} (not snapshots: no valid manifest; `migsafe snapshot prune` removes those not in progress):\n",
            plural(incomplete.len() as u64, "incomplete directory", "incomplete directories")
        ));
        for i in &incomplete {
            s.push_str(&format!(
                "  {}/{}  {}{}\n",
                i.target,
                i.id,
                i.reason,
                if i.in_progress { " (in progress)" } else { "" }
            ));
        }
    }
    print(&s)?;
    Ok(Outcome::Clean)
}

/// Left-aligned columns, two spaces apart; the last column is not padded.
fn table<const N: usize>(header: &[String; N], rows: &[[String; N]]) -> String {
    let mut width = [0usize; N];
    for r in std::iter::once(header).chain(rows) {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let mut s = String::new();
    for r in std::iter::once(header).chain(rows) {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == N {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$}  ", w = width[i]));
            }
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

// ---------------------------------------------------------------------------------------------
// show

fn unpin(args: UnpinArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.config)?;
    let store = args.store.open(&config)?;
    let entry = store.find(&args.id)?;
    match &entry.pinned {
        None => print(&format!("{} was not pinned\n", entry.id))?,
        Some(reason) => {
            store.unpin(&entry)?;
            print(&format!("{} unpinned (was: {})\n", entry.id, reason.trim()))?;
        }
    }
    Ok(Outcome::Clean)
}

fn show(args: ShowArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.config)?;
    let store = args.store.open(&config)?;
    let entry = store.find(&args.id)?;
    let m = entry.manifest().expect("find returns complete snapshots");
    if args.format == SnapFormat::Json {
        print(&(serde_json::to_string_pretty(m)? + "\n"))?;
        return Ok(Outcome::Clean);
    }
    let mut s = String::new();
    s.push_str(&format!("snapshot   {}\n", m.id));
    s.push_str(&format!("target     {}\n", m.target));
    s.push_str(&format!("kind       {}\n", m.kind.label()));
    s.push_str(&format!(
        "database   {} on PostgreSQL {} (system {})\n",
        m.database.database, m.database.server_version, m.database.system_identifier
    ));
    s.push_str(&format!(
        "created    {} (capture {} ms, migsafe {})\n",
        m.created_at, m.capture_ms, m.migsafe_version
    ));
    if let Some(g) = &m.guards {
        s.push_str(&format!("guards     {}\n", g.migration));
        if let Some(l) = &g.location {
            s.push_str(&format!("           at {l}\n"));
        }
        s.push_str(&format!("           {}\n", g.statement));
    }
    if let Some(p) = &entry.pinned {
        s.push_str(&format!("pinned     {}\n", p.trim()));
    }
    s.push_str(&format!("directory  {}\n", entry.dir.display()));
    s.push_str(&format!(
        "\nobjects ({}, {}):\n",
        m.objects.len(),
        plural(m.total_rows(), "row", "rows")
    ));
    for o in &m.objects {
        s.push_str(&object_line(o));
        // Types reach the restore's SQL (checked first): a reviewer sees them here.
        let typed = |names: &[String], types: &[String]| {
            names
                .iter()
                .zip(types)
                .map(|(n, t)| format!("{n} {t}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !o.key_types.is_empty() {
            s.push_str(&format!(
                "              key ({})\n",
                typed(&o.key, &o.key_types)
            ));
        }
        if !o.column_types.is_empty() {
            s.push_str(&format!(
                "              columns ({})\n",
                typed(&o.columns, &o.column_types)
            ));
        }
        s.push_str(&format!("              file {}\n", o.file));
    }
    s.push_str(&format!(
        "\nfiles ({}, {}):\n",
        m.files.len(),
        crate::units::bytes(m.total_bytes())
    ));
    for f in &m.files {
        s.push_str(&format!(
            "  {}  {}  sha256 {}\n",
            f.path,
            crate::units::bytes(f.bytes),
            f.sha256
        ));
    }
    if !m.notes.is_empty() {
        s.push_str("\nnotes:\n");
        for n in &m.notes {
            s.push_str(&format!("  {n}\n"));
        }
    }
    print(&s)?;
    Ok(Outcome::Clean)
}

// ---------------------------------------------------------------------------------------------
// verify

/// Names every bad file on stderr and fails (exit 2) when the snapshot is not intact.
pub fn check_intact(store: &Store, entry: &Entry) -> anyhow::Result<()> {
    let problems = store.check(entry);
    if problems.is_empty() {
        return Ok(());
    }
    for p in &problems {
        anstream::eprintln!("corrupt: {p}");
    }
    bail!(
        "snapshot {} is corrupt: {} not match its manifest; it cannot be restored",
        entry.id,
        plural(problems.len() as u64, "file does", "files do")
    )
}

fn verify(args: VerifyArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.config)?;
    let store = args.store.open(&config)?;
    let entry = store.find(&args.id)?;
    let m = entry.manifest().expect("find returns complete snapshots");
    check_intact(&store, &entry)?;
    let intact = format!(
        "snapshot {}: {} intact ({})\n",
        m.id,
        plural(m.files.len() as u64, "file", "files"),
        crate::units::bytes(m.total_bytes())
    );
    if !args.deep {
        match args.format {
            SnapFormat::Human => print(&intact)?,
            SnapFormat::Json => print(
                &(serde_json::to_string_pretty(&serde_json::json!({
                    "snapshot": m.id,
                    "intact": true,
                    "files": m.files.len(),
                    "bytes": m.total_bytes(),
                }))? + "\n"),
            )?,
        }
        return Ok(Outcome::Clean);
    }
    let server = args
        .database_url
        .as_deref()
        .map(connect::from_url)
        .transpose()?;
    let pb = progress(args.quiet);
    let outcome = crate::drill::run(
        &store,
        &entry,
        &crate::drill::DrillOptions {
            server,
            keep_scratch: false,
            jobs: 0,
        },
        &pb,
    )?;
    pb.finish_and_clear();
    match args.format {
        SnapFormat::Human => {
            print(&intact)?;
            print(&super::drill::report_text(&outcome.report, None))?;
        }
        SnapFormat::Json => print(&(serde_json::to_string_pretty(&outcome.report)? + "\n"))?,
    }
    Ok(if outcome.report.passed() {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}

// ---------------------------------------------------------------------------------------------
// restore

fn restore_cmd(args: RestoreArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.config)?;
    let store = args.store.open(&config)?;
    let entry = store.find(&args.id)?;
    let m = entry.manifest().expect("find returns complete snapshots");
    let resolved = args.target.resolve(&config)?;
    if m.target != resolved.name && args.into.is_none() && !args.force_other_target {
        bail!(
            "snapshot {} was taken of target `{}`, not `{}`: restoring it here would put {}'s data into {}. \
             Pass --force-other-target if that is really what you want, or --into DB to restore into another database",
            m.id,
            m.target,
            resolved.name,
            m.target,
            resolved.name
        );
    }
    let into = match &args.into {
        Some(db) => resolved.target.with_dbname(db),
        None => resolved.target.clone(),
    };
    match m.kind {
        Kind::Targeted => restore_targeted(&args, &entry, m, &into),
        Kind::Full => restore_full(&args, &entry, m, &resolved, &into),
    }
}

fn restore_targeted(
    args: &RestoreArgs,
    entry: &Entry,
    m: &Manifest,
    into: &Target,
) -> anyhow::Result<Outcome> {
    let mut client = connect::connect(into)?;
    // A snapshot `migsafe apply` took is vouched for by the target's ledger.
    if let Some(recorded) = crate::ledger::recorded_manifest_sha256(&mut client, &m.id)?
        && entry.manifest_sha256.as_deref() != Some(recorded.as_str())
    {
        bail!(
            "snapshot {}: its manifest.json changed after apply recorded it (sha256 {}, the ledger of {into} holds {recorded}): restore the snapshot directory from a copy you trust; nothing was restored",
            m.id,
            entry.manifest_sha256.as_deref().unwrap_or("unreadable")
        );
    }
    let pb = progress(args.quiet);
    pb.set_message(format!("restoring {} into {into}", m.id));
    let mut tx = client
        .transaction()
        .with_context(|| format!("{into}: cannot start the restore transaction"))?;
    let report = restore::restore(&mut tx, entry, m, restore::RestoreOptions::default(), &pb)
        .with_context(|| format!("restore of {} into {into} failed; nothing changed", m.id))?;
    tx.commit()
        .with_context(|| format!("{into}: the restore could not commit; nothing changed"))?;
    pb.finish_and_clear();
    let conflicts = report.conflicts();
    match args.format {
        SnapFormat::Json => {
            let mut v = serde_json::to_value(&report)?;
            v["into"] = into.redacted().into();
            v["committed"] = true.into();
            v["conflicts"] = conflicts.into();
            print(&(serde_json::to_string_pretty(&v)? + "\n"))?;
        }
        SnapFormat::Human => {
            let mut s = String::new();
            for o in &report.objects {
                s.push_str(&format!(
                    "  {:<10}  {}  restored {}, unchanged {}, gone {}, conflicts {}\n",
                    o.kind, o.object, o.restored, o.unchanged, o.gone, o.conflicts
                ));
                for k in &o.conflict_keys {
                    s.push_str(&format!("              conflict at key {k}\n"));
                }
            }
            s.push_str(&format!(
                "restored snapshot {} into {} in {} ms{}\n",
                m.id,
                into,
                report.elapsed_ms,
                if conflicts > 0 {
                    format!(
                        ": committed, but {} changed since the capture and kept as they are now",
                        plural(conflicts, "row", "rows")
                    )
                } else {
                    String::new()
                }
            ));
            print(&s)?;
        }
    }
    Ok(if conflicts > 0 {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

fn restore_full(
    args: &RestoreArgs,
    entry: &Entry,
    m: &Manifest,
    resolved: &Resolved,
    into: &Target,
) -> anyhow::Result<Outcome> {
    let opts = |clean| full::RestoreOptions {
        jobs: args.jobs.unwrap_or(0),
        clean,
        no_owner: false,
        bindir: None,
        extensions_by: None,
    };
    let started = Instant::now();
    let pb;
    match &args.into {
        Some(db) => {
            let mut admin = connect::connect(&resolved.target)?;
            let exists: bool = admin
                .query_one(
                    "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)",
                    &[db],
                )?
                .get(0);
            if exists {
                bail!(
                    "database {db:?} already exists on the server of {}: a full restore --into creates a new database; choose another name",
                    resolved.target
                );
            }
            admin
                .batch_execute(&format!("CREATE DATABASE {}", quote_ident(db)))
                .with_context(|| format!("cannot create database {db:?}"))?;
            pb = progress(args.quiet);
            pb.set_message(format!("restoring {} into {into}", m.id));
            if let Err(e) = full::restore(entry, m, into, &opts(false), &pb) {
                pb.finish_and_clear();
                let dropped = admin
                    .batch_execute(&format!("DROP DATABASE {}", quote_ident(db)))
                    .is_ok();
                return Err(anyhow::Error::new(e).context(format!(
                    "full restore of {} into {db:?} failed{}",
                    m.id,
                    if dropped {
                        "; the new database was dropped"
                    } else {
                        "; the new database could not be dropped: drop it by hand"
                    }
                )));
            }
        }
        None => {
            let db = resolved.dbname();
            if !args.yes {
                if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
                    anstream::eprint!(
                        "Restoring full snapshot {} over {} drops and recreates its objects: data written since {} is lost.\nType the database name ({db}) to continue: ",
                        m.id,
                        into,
                        m.created_at
                    );
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    if line.trim() != db {
                        bail!("not confirmed: nothing was restored");
                    }
                } else {
                    bail!(
                        "restoring full snapshot {} over {into} drops and recreates its objects (data written since {} is lost): pass --yes to confirm, or --into NEWDB to restore beside it",
                        m.id,
                        m.created_at
                    );
                }
            }
            pb = progress(args.quiet);
            pb.set_message(format!("restoring {} over {into}", m.id));
            full::restore(entry, m, into, &opts(true), &pb)
                .with_context(|| format!("full restore of {} over {into} failed", m.id))?;
        }
    }
    pb.finish_and_clear();
    let ms = started.elapsed().as_millis() as u64;
    match args.format {
        SnapFormat::Json => print(
            &(serde_json::to_string_pretty(&serde_json::json!({
                "snapshot": m.id,
                "kind": "full",
                "into": into.redacted(),
                "elapsed_ms": ms,
            }))? + "\n"),
        )?,
        SnapFormat::Human => print(&format!(
            "restored full snapshot {} into {into} in {ms} ms\n",
            m.id
        ))?,
    }
    Ok(Outcome::Clean)
}

// ---------------------------------------------------------------------------------------------
// prune

#[derive(Debug, Serialize)]
struct Pruned {
    target: String,
    id: String,
    /// `removed`, `kept`.
    action: &'static str,
    reason: String,
    bytes: u64,
}

fn dir_bytes(dir: &Path) -> u64 {
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

fn prune(args: PruneArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.config)?;
    let store = args.store.open(&config)?;
    let entries = store.list(args.target.as_deref())?;
    let now = jiff::Timestamp::now();
    let mut decisions: Vec<(Entry, Pruned)> = vec![];
    let mut targets: Vec<&str> = entries.iter().map(|e| e.target.as_str()).collect();
    targets.sort_unstable();
    targets.dedup();
    for t in targets {
        // Newest first, by capture time, then id.
        let mut complete: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.target == t && e.manifest().is_some())
            .collect();
        complete.sort_by(|a, b| {
            let key = |e: &Entry| (e.manifest().unwrap().created_at.clone(), e.id.clone());
            key(b).cmp(&key(a))
        });
        for (i, e) in complete.into_iter().enumerate() {
            let m = e.manifest().unwrap();
            let expired = match (args.keep_last, args.older_than) {
                (Some(n), _) if i >= n => Some(format!("not among the newest {n}")),
                (_, Some(secs)) => {
                    let created: jiff::Timestamp = m.created_at.parse().with_context(|| {
                        format!(
                            "{}: created_at {:?} is not a time",
                            e.dir.display(),
                            m.created_at
                        )
                    })?;
                    let age = now.as_second() - created.as_second();
                    (age > secs as i64).then(|| format!("older than {}", crate::units::age(secs)))
                }
                _ => None,
            };
            let Some(reason) = expired else { continue };
            let (action, reason) = match &e.pinned {
                Some(p) => ("kept", format!("pinned: {}", p.trim())),
                None => ("removed", reason),
            };
            decisions.push((
                e.clone(),
                Pruned {
                    target: e.target.clone(),
                    id: e.id.clone(),
                    action,
                    reason,
                    bytes: dir_bytes(&e.dir),
                },
            ));
        }
        for e in entries.iter().filter(|e| e.target == t) {
            if let State::Incomplete {
                reason,
                in_progress,
            } = &e.state
            {
                let (action, why) = if *in_progress {
                    ("kept", "incomplete: a capture is in progress".to_string())
                } else {
                    ("removed", format!("incomplete: {reason}"))
                };
                decisions.push((
                    e.clone(),
                    Pruned {
                        target: e.target.clone(),
                        id: e.id.clone(),
                        action,
                        reason: why,
                        bytes: dir_bytes(&e.dir),
                    },
                ));
            }
        }
    }
    let mut freed = 0;
    let mut removed = 0;
    for (e, d) in &decisions {
        if d.action != "removed" {
            continue;
        }
        if !args.dry_run {
            store.remove(e)?;
        }
        freed += d.bytes;
        removed += 1;
    }
    let results: Vec<&Pruned> = decisions.iter().map(|(_, d)| d).collect();
    if args.format == SnapFormat::Json {
        print(
            &(serde_json::to_string_pretty(&serde_json::json!({
                "dry_run": args.dry_run,
                "removed": removed,
                "bytes_freed": freed,
                "snapshots": results,
            }))? + "\n"),
        )?;
        return Ok(Outcome::Clean);
    }
    let mut s = String::new();
    for d in &results {
        let action = match (d.action, args.dry_run) {
            ("removed", true) => "would remove",
            ("removed", false) => "removed",
            _ => "kept",
        };
        s.push_str(&format!(
            "{action:<12}  {}/{}  {}  ({})\n",
            d.target,
            d.id,
            crate::units::bytes(d.bytes),
            d.reason
        ));
    }
    s.push_str(&format!(
        "{} {}, {} {}\n",
        if args.dry_run {
            "would remove"
        } else {
            "removed"
        },
        plural(removed, "directory", "directories"),
        crate::units::bytes(freed),
        if args.dry_run {
            "would be freed"
        } else {
            "freed"
        },
    ));
    print(&s)?;
    Ok(Outcome::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d"), Ok(7 * 86_400));
        assert_eq!(parse_duration("12h"), Ok(12 * 3600));
        assert_eq!(parse_duration("30m"), Ok(1800));
        assert_eq!(parse_duration("2w"), Ok(14 * 86_400));
        assert_eq!(parse_duration("1d12h"), Ok(36 * 3600));
        for bad in ["", "7", "d", "7x", "-1d", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn store_names_from_database_names() {
        assert_eq!(store_name("acct1"), "acct1");
        assert_eq!(store_name("my db/x"), "my_db_x");
        assert_eq!(store_name("_hidden"), "db_hidden");
        assert_eq!(store_name(""), "db");
    }

    #[test]
    fn sizes() {
        assert_eq!(crate::units::bytes(12), "12 B");
        assert_eq!(crate::units::bytes(2048), "2.0 KiB");
        assert_eq!(crate::units::bytes(5 * 1024 * 1024), "5.0 MiB");
    }
}
