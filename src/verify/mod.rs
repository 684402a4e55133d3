//! `migsafe verify`: each migration's down-path proven on a real PostgreSQL.
//!
//! Migrations are applied in order, so that each one is tested on the state its predecessors
//! leave (never replayed from zero). For a migration under test: seed rows into tables that
//! have none, record the schema fingerprint F0 and the data digest D0; run up (F1); run down,
//! which must give back F0 and, for everything the migration does not destroy, D0; run up
//! again, which must give F1. A passing round trip ends in the state after the migration, so the
//! next one continues in the same database; copies of the state (template databases) are taken
//! every few migrations to recover from a failed round trip without replaying from zero.

pub mod digest;
pub mod exec;
pub mod receipts;
pub mod report;
pub mod seed;
pub mod target;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use postgres::Client;
use serde::Serialize;

use crate::classify::{Analysis, Destroyed, MigrationAnalysis, Reversibility};
use crate::pg::connect::{self, ConnectError, Target};
use crate::pg::fingerprint::{self, Exclude, Fingerprint};
use digest::DataChange;
use exec::{ExecError, ScriptFailure};
use seed::{SeedOptions, SeedSummary};

/// A PostgreSQL server migsafe may create and drop databases on: the scratch cluster, or the
/// user's server given with `--database-url`.
pub struct Server {
    target: Target,
    /// The database to connect to for CREATE/DROP DATABASE.
    admin_db: String,
    major: u32,
    /// The role migrations run as, when not `target`'s own: a role without privileges that
    /// owns the scratch databases ([`crate::pg::cluster::RUNNER`] of a private cluster).
    runner: Option<Target>,
}

impl Server {
    pub fn new(target: Target) -> Result<Server, ConnectError> {
        let admin_db = target.dbname().unwrap_or("postgres").to_string();
        let mut c = connect::connect(&target)?;
        let num: i32 = c
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .map_err(|e| ConnectError::Invalid(e.to_string()))?
            .get(0);
        Ok(Server {
            target,
            admin_db,
            major: num as u32 / 10000,
            runner: None,
        })
    }

    /// Migrations run on connections made as `runner` (same server; it owns every database
    /// created for the run), migsafe's own work (seeding, digests, fingerprints) as `target`.
    pub fn with_runner(mut self, runner: Target) -> Server {
        self.runner = Some(runner);
        self
    }

    /// The same server, with migrations run as the admin connection's role.
    pub fn without_runner(&self) -> Server {
        Server {
            target: self.target.clone(),
            admin_db: self.admin_db.clone(),
            major: self.major,
            runner: None,
        }
    }

    /// The role migrations run as, when it is not the admin connection's.
    pub fn runner_name(&self) -> Option<&str> {
        self.runner.as_ref().map(|r| r.user())
    }

    /// A connection to `db` as the role migrations run as.
    pub fn connect_runner(&self, db: &str) -> Result<Client, ConnectError> {
        match &self.runner {
            Some(r) => connect::connect(&r.with_dbname(db)),
            None => self.connect(db),
        }
    }

    pub fn major_version(&self) -> u32 {
        self.major
    }

    /// The server's URL with the password hidden.
    pub fn name(&self) -> String {
        self.target.redacted()
    }

    pub fn connect(&self, db: &str) -> Result<Client, ConnectError> {
        connect::connect(&self.target.with_dbname(db))
    }

    /// A session on the database used for CREATE/DROP DATABASE.
    pub(crate) fn admin(&self) -> Result<Client, ConnectError> {
        self.connect(&self.admin_db)
    }

    /// How migsafe connects to the server (for libpq tools: `Target::pg_env`).
    pub(crate) fn target(&self) -> &Target {
        &self.target
    }
}

/// Databases created for one run, dropped when it ends (the scratch cluster goes anyway; a
/// user's server must be left as found).
struct Databases<'a> {
    server: &'a Server,
    names: Vec<String>,
}

static RUN: AtomicUsize = AtomicUsize::new(0);

impl<'a> Databases<'a> {
    fn new(server: &'a Server) -> Databases<'a> {
        Databases {
            server,
            names: Vec::new(),
        }
    }

    /// A copy of `template` (`template0` for an empty one) under a fresh name.
    fn create(&mut self, template: &str) -> Result<String, VerifyError> {
        let name = format!(
            "migsafe_verify_{}_{}",
            std::process::id(),
            RUN.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = self.server.admin().map_err(VerifyError::Server)?;
        // PostgreSQL 15 copies a template through the WAL by default, page by page; for the
        // small databases verify clones, copying the files is several times faster.
        let strategy = if self.server.major >= 15 {
            " STRATEGY = FILE_COPY"
        } else {
            ""
        };
        let owner = match self.server.runner_name() {
            Some(r) => format!(" OWNER {}", crate::pg::quote_ident(r)),
            None => String::new(),
        };
        admin
            .batch_execute(&format!(
                "CREATE DATABASE {} TEMPLATE {}{strategy}{owner}",
                crate::pg::quote_ident(&name),
                crate::pg::quote_ident(template)
            ))
            .map_err(VerifyError::CreateDatabase)?;
        self.names.push(name.clone());
        Ok(name)
    }

    fn drop_db(&mut self, name: &str) {
        if let Ok(mut admin) = self.server.admin() {
            let force = if self.server.major >= 13 {
                " WITH (FORCE)"
            } else {
                ""
            };
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {}{force}",
                crate::pg::quote_ident(name)
            ));
        }
        self.names.retain(|n| n != name);
    }
}

impl Drop for Databases<'_> {
    fn drop(&mut self) {
        for name in std::mem::take(&mut self.names) {
            self.drop_db(&name);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot connect to the verification server: {0}")]
    Server(ConnectError),
    #[error("cannot create a scratch database (the role needs the CREATEDB privilege): {0}")]
    CreateDatabase(postgres::Error),
    #[error("lost the connection to PostgreSQL: {0}")]
    Connection(postgres::Error),
    #[error("cannot create extension {0} ([verify] extensions): {reason}", reason = crate::pg::error_text(.1))]
    Extension(String, postgres::Error),
    #[error(transparent)]
    Seed(#[from] seed::SeedError),
}

#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    pub seed: SeedOptions,
    /// The database to start from (copied, never changed): `migsafe verify --target` restores
    /// the target's schema into it. `None` starts from an empty database.
    pub base: Option<String>,
    /// Migrations already in `base`: neither applied nor verified.
    pub already_applied: HashSet<String>,
    /// Left out of every fingerprint (the runner's history table and migsafe's schema when
    /// `base` is a copy of a target).
    pub exclude: Exclude,
    /// `[drift] ignore`: left out of the schema ids receipts record.
    pub ignore: Vec<crate::config::DriftIgnore>,
    /// Columns kept aside by `migsafe apply` in `base` (`table`, `column`), left out of the
    /// schema ids as plan leaves them out of the target's.
    pub kept: Vec<(String, String)>,
    /// Session settings (`search_path`, `role`, …) set on every connection that runs a
    /// migration, as the target's sessions have them.
    pub settings: Vec<(String, String)>,
    /// `[verify] extensions`: created as the server's admin role in the first scratch database
    /// (the others are copies of it) before any migration runs.
    pub extensions: Vec<String>,
}

/// What happened to one migration.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationResult {
    pub id: String,
    /// The static classification (`reversible`, `irreversible`, `unknown`).
    pub classified: &'static str,
    pub outcome: VerifyOutcome,
    pub failures: Vec<Failure>,
    /// Data the round trip did not bring back, each marked by whether the classification
    /// announced it.
    pub data_lost: Vec<DataChange>,
    /// The static classification and the round trip disagree (e.g. classified reversible, but
    /// data was lost).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disagreement: Option<String>,
    pub seeded: Vec<(String, u64)>,
    pub timings_ms: Timings,
    /// The schema the round trip started from, and the one the up left (`drift::schema_id`):
    /// receipts record them so plan can tell on which schema the down was proven.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_after: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyOutcome {
    /// Up, down and up again ran, schema and data came back.
    Passed,
    Failed,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub up: u64,
    pub down: u64,
    pub reapply: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Failure {
    /// Nothing to prove: the migration has no down script.
    NoDown {
        reason: String,
    },
    UpFailed {
        error: ScriptFailure,
    },
    DownFailed {
        error: ScriptFailure,
    },
    /// The down left a different schema than before the up.
    SchemaNotRestored {
        diff: String,
    },
    /// Data the migration was not classified as destroying did not survive up and down.
    DataChanged {
        changes: Vec<DataChange>,
    },
    /// Up failed the second time, after down.
    ReapplyFailed {
        error: ScriptFailure,
    },
    /// Up after down gave a different schema than the first up.
    ReapplyDiffers {
        diff: String,
    },
    /// An earlier migration failed, so the state this one starts from could not be built.
    NotReached {
        because: String,
    },
}

/// Progress for long runs.
pub enum Event<'a> {
    Applying { id: &'a str },
    Verifying { id: &'a str },
    Done { result: &'a MigrationResult },
}

/// Verifies the checked migrations of `analysis` on `server`. Earlier, unchecked migrations
/// are applied (up only) to build the state the checked ones start from.
pub fn verify(
    analysis: &Analysis,
    server: &Server,
    opts: &VerifyOptions,
    progress: &mut dyn FnMut(Event),
) -> Result<Vec<MigrationResult>, VerifyError> {
    // The synthetic rows include what the project's filtering statements select.
    let mut hinted = opts.clone();
    hinted.seed.hints = seed::hints_of(analysis);
    let opts = &hinted;
    let mut dbs = Databases::new(server);
    // Round trips that pass end where they started plus the migration, so they run in place;
    // a copy of the state is taken every CHECKPOINT_EVERY migrations, and a failed round trip
    // is recovered from the latest copy by applying the ups since (never from zero).
    let mut current = dbs.create(opts.base.as_deref().unwrap_or("template0"))?;
    if !opts.extensions.is_empty() {
        let mut c = server.connect(&current).map_err(VerifyError::Server)?;
        for e in &opts.extensions {
            c.batch_execute(&format!(
                "CREATE EXTENSION IF NOT EXISTS {}",
                crate::pg::quote_ident(e)
            ))
            .map_err(|err| VerifyError::Extension(e.clone(), err))?;
        }
    }
    let mut checkpoint: Option<String> = None;
    let mut since: Vec<&MigrationAnalysis> = Vec::new();
    let exclude = &opts.exclude;
    let mut results = Vec::new();
    let mut broken: Option<String> = None;
    // The schema after the last passing round trip: the next one starts from it.
    let mut known: Option<Fingerprint> = None;
    let apply = |db: &str, m: &MigrationAnalysis| -> Result<Option<String>, VerifyError> {
        let mut c = session(server, db, opts)?;
        match exec::run_script(&mut c, &m.up) {
            Ok(()) => Ok(None),
            Err(ExecError::Statement(f)) => {
                Ok(Some(format!("{} failed to apply: {f}", m.migration.id())))
            }
            Err(ExecError::Connection(e)) => Err(VerifyError::Connection(e)),
        }
    };
    for m in &analysis.migrations {
        if opts.already_applied.contains(&m.migration.id()) {
            continue;
        }
        if let Some(because) = &broken {
            if m.checked {
                results.push(not_reached(m, because));
            }
            continue;
        }
        if !m.checked {
            progress(Event::Applying {
                id: &m.migration.id(),
            });
            broken = apply(&current, m)?;
            known = None;
            since.push(m);
            continue;
        }
        if checkpoint.is_none() || since.len() >= CHECKPOINT_EVERY {
            if let Some(old) = checkpoint.take() {
                dbs.drop_db(&old);
            }
            checkpoint = Some(dbs.create(&current)?);
            since.clear();
        }
        progress(Event::Verifying {
            id: &m.migration.id(),
        });
        let supports_down = analysis.runner.supports_down();
        let (result, after) = round_trip(
            m,
            server,
            &current,
            opts,
            exclude,
            supports_down,
            known.take(),
        )?;
        let usable = after.is_some();
        known = after.flatten();
        progress(Event::Done { result: &result });
        if let Some(Failure::UpFailed { error }) = result.failures.first() {
            broken = Some(format!("{} failed to apply: {error}", m.migration.id()));
        }
        results.push(result);
        if !usable && broken.is_none() {
            // Down or the second up failed part way: rebuild the state after this migration
            // from the checkpoint.
            dbs.drop_db(&current);
            current = dbs.create(
                checkpoint
                    .as_deref()
                    .unwrap_or(opts.base.as_deref().unwrap_or("template0")),
            )?;
            for earlier in &since {
                if let Some(b) = apply(&current, earlier)? {
                    broken = Some(b);
                    break;
                }
            }
            if broken.is_none() {
                broken = apply(&current, m)?;
            }
        }
        since.push(m);
    }
    Ok(results)
}

/// How many migrations may pass between two copies of the state: a copy costs about as much
/// as a few small migrations, and a failure replays at most this many ups.
const CHECKPOINT_EVERY: usize = 8;

fn not_reached(m: &MigrationAnalysis, because: &str) -> MigrationResult {
    MigrationResult {
        id: m.migration.id(),
        classified: m.reversibility.label(),
        outcome: VerifyOutcome::Failed,
        failures: vec![Failure::NotReached {
            because: because.to_string(),
        }],
        data_lost: Vec::new(),
        disagreement: None,
        seeded: Vec::new(),
        timings_ms: Timings::default(),
        schema_before: None,
        schema_after: None,
    }
}

/// A new session on `db` for one phase, with the target's settings: state a phase leaves in
/// its session (a `SET`, a temporary table, a prepared statement) cannot help the next pass.
fn session(server: &Server, db: &str, opts: &VerifyOptions) -> Result<Client, VerifyError> {
    let mut c = server.connect_runner(db).map_err(VerifyError::Server)?;
    connect::set_session(&mut c, &opts.settings).map_err(|(_, _, e)| VerifyError::Connection(e))?;
    Ok(c)
}

/// Up, down, up on `work`. Returns the result and, when `work` ended in the after-up state
/// (so the next migration can start there), `Some` with that schema's fingerprint if known.
/// `before` is the fingerprint of `work` as it is now, when the caller knows it. Each phase
/// runs on a session of its own ([`session`]); fingerprints and digests are read on another.
fn round_trip(
    m: &MigrationAnalysis,
    server: &Server,
    work: &str,
    opts: &VerifyOptions,
    exclude: &Exclude,
    supports_down: bool,
    before: Option<Fingerprint>,
) -> Result<(MigrationResult, Option<Option<Fingerprint>>), VerifyError> {
    let mut result = MigrationResult {
        id: m.migration.id(),
        classified: m.reversibility.label(),
        outcome: VerifyOutcome::Failed,
        failures: Vec::new(),
        data_lost: Vec::new(),
        disagreement: None,
        seeded: Vec::new(),
        timings_ms: Timings::default(),
        schema_before: None,
        schema_after: None,
    };
    let mut c = server.connect(work).map_err(VerifyError::Server)?;
    if opts.seed.rows_per_table > 0 || opts.seed.seed_file.is_some() {
        // Inserting fires the migrations' triggers, CHECK constraints, defaults and index
        // expressions: they run with the migrations' privileges, never the superuser's.
        let mut seeder = server.connect_runner(work).map_err(VerifyError::Server)?;
        let SeedSummary { seeded, .. } = seed::seed(&mut seeder, &opts.seed)?;
        result.seeded = seeded;
    }
    // Synthetic rows never change the schema, so a known fingerprint still holds; the user's
    // seed file might.
    let f0 = match before {
        Some(f) if opts.seed.seed_file.is_none() => f,
        _ => schema(&mut c, exclude)?,
    };
    let id = |f: &Fingerprint| match opts.kept.is_empty() {
        true => crate::drift::schema_id(f, &opts.ignore),
        false => crate::drift::schema_id(
            &crate::drift::hide_kept(f.clone(), &opts.kept),
            &opts.ignore,
        ),
    };
    result.schema_before = Some(id(&f0));
    let d0 = digest::digest(&mut c).map_err(VerifyError::Connection)?;
    let phase =
        |script: &crate::classify::ScriptAnalysis| -> Result<Option<ScriptFailure>, VerifyError> {
            let mut s = session(server, work, opts)?;
            run(&mut s, script)
        };

    let t = Instant::now();
    if let Some(error) = phase(&m.up)? {
        result.failures.push(Failure::UpFailed { error });
        return Ok((result, None));
    }
    result.timings_ms.up = ms(t.elapsed());
    let f1 = schema(&mut c, exclude)?;
    result.schema_after = Some(id(&f1));

    if m.migration.repeatable {
        // Flyway re-runs a repeatable migration whenever it changes; it has no down. What can
        // be proven is that running it again over itself gives the same schema.
        let t = Instant::now();
        if let Some(error) = phase(&m.up)? {
            result.failures.push(Failure::ReapplyFailed { error });
            return Ok((result, None));
        }
        result.timings_ms.reapply = ms(t.elapsed());
        let f2 = schema(&mut c, exclude)?;
        if f2 != f1 {
            result.failures.push(Failure::ReapplyDiffers {
                diff: fingerprint::diff(&f1, &f2),
            });
            return Ok((result, Some(None)));
        }
        result.outcome = VerifyOutcome::Passed;
        return Ok((result, Some(Some(f2))));
    }
    let Some(down) = &m.down else {
        result.failures.push(Failure::NoDown {
            reason: if supports_down {
                "the migration has no down script".into()
            } else {
                "the runner runs migrations only forward: there is no down script to prove".into()
            },
        });
        return Ok((result, Some(Some(f1))));
    };
    let t = Instant::now();
    if let Some(error) = phase(down)? {
        result.failures.push(Failure::DownFailed { error });
        return Ok((result, None));
    }
    result.timings_ms.down = ms(t.elapsed());
    let f2 = schema(&mut c, exclude)?;
    let restored = f2 == f0;
    if !restored {
        result.failures.push(Failure::SchemaNotRestored {
            diff: fingerprint::diff(&f0, &f2),
        });
    }
    let d2 = digest::digest(&mut c).map_err(VerifyError::Connection)?;
    let changes = d0.changes(&d2, &destroyed(&m.reversibility));
    let unannounced: Vec<DataChange> = changes.iter().filter(|c| !c.announced).cloned().collect();
    if !unannounced.is_empty() {
        if matches!(m.reversibility, Reversibility::Reversible) {
            result.disagreement =
                Some("classified reversible, but data did not survive up and down".to_string());
        }
        result.failures.push(Failure::DataChanged {
            changes: unannounced,
        });
    }
    result.data_lost = changes;
    if !restored {
        // Up again over a schema the down left behind only repeats the same news ("already
        // exists"); the state must be rebuilt from the template.
        return Ok((result, None));
    }

    let t = Instant::now();
    if let Some(error) = phase(&m.up)? {
        result.failures.push(Failure::ReapplyFailed { error });
        return Ok((result, None));
    }
    result.timings_ms.reapply = ms(t.elapsed());
    let f3 = schema(&mut c, exclude)?;
    let same = f3 == f1;
    if !same {
        result.failures.push(Failure::ReapplyDiffers {
            diff: fingerprint::diff(&f1, &f3),
        });
    }
    if result.failures.is_empty() {
        result.outcome = VerifyOutcome::Passed;
    }
    Ok((result, Some(same.then_some(f3))))
}

/// Runs a script; a statement failure is a result, a broken connection an error.
fn run(
    c: &mut Client,
    script: &crate::classify::ScriptAnalysis,
) -> Result<Option<ScriptFailure>, VerifyError> {
    match exec::run_script(c, script) {
        Ok(()) => Ok(None),
        Err(ExecError::Statement(f)) => Ok(Some(f)),
        Err(ExecError::Connection(e)) => Err(VerifyError::Connection(e)),
    }
}

/// What the static classification says the up destroys.
fn destroyed(r: &Reversibility) -> Vec<Destroyed> {
    match r {
        Reversibility::Irreversible { steps, .. } => steps
            .iter()
            .flat_map(|s| s.destroys.iter().cloned())
            .collect(),
        _ => Vec::new(),
    }
}

/// The fingerprint without column order: a down that drops and re-adds a column cannot put it
/// back in place (PostgreSQL has no way to reorder), and queries that name their columns do not
/// see the difference.
fn schema(c: &mut Client, exclude: &Exclude) -> Result<Fingerprint, VerifyError> {
    Ok(fingerprint::fingerprint(c, exclude)
        .map_err(VerifyError::Connection)?
        .without_column_order())
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}
