//! The ledger: migsafe's own record inside each target database, in schema `migsafe` — the
//! steps applied and rolled back, the snapshots they depend on, and events (applies, rollbacks,
//! drills, accepted risks, finalisations).
//!
//! Writers take a [`postgres::Transaction`]: a step's ledger row commits in the same
//! transaction as its snapshot, its migration and the runner's history row, so a crash leaves
//! the target either before or after the step. Readers take any client and work on a database
//! where the ledger was never created (they return nothing and write nothing), so `plan` can
//! call them inside READ ONLY transactions.
//!
//! [`lock`] serialises migsafe runs on one database with a session-level advisory lock.
//!
//! All SQL is constant text with quoted identifiers; values travel as bind parameters.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use postgres::{Client, GenericClient, Transaction};
use sha2::{Digest, Sha256};

use crate::pg::error_text;

/// The layout version this migsafe writes. A database at a newer version is refused rather than
/// misread.
pub const SCHEMA_VERSION: i32 = 4;

/// `MIGRATIONS[i]` takes the ledger from version `i` to `i + 1`. Append, never edit: databases
/// in the field are at every version that was ever released.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE SCHEMA IF NOT EXISTS "migsafe";
CREATE TABLE "migsafe"."schema_version" (
    "singleton" boolean PRIMARY KEY DEFAULT true CHECK ("singleton"),
    "version" integer NOT NULL
);
CREATE TABLE "migsafe"."steps" (
    "id" bigserial PRIMARY KEY,
    "migration_id" text NOT NULL,
    "version" text NOT NULL,
    "direction" text NOT NULL CHECK ("direction" IN ('up', 'down')),
    "started_at" timestamptz NOT NULL,
    "finished_at" timestamptz NOT NULL,
    "up_sha256" text NOT NULL,
    "down_sha256" text,
    "snapshot_ids" text[] NOT NULL DEFAULT '{}',
    "accepted_risk" text,
    "runner" text NOT NULL,
    "execution_ms" bigint NOT NULL,
    "rolled_back_by" bigint REFERENCES "migsafe"."steps" ("id"),
    "finalised_at" timestamptz
);
CREATE INDEX "steps_migration_id" ON "migsafe"."steps" ("migration_id");
CREATE TABLE "migsafe"."events" (
    "id" bigserial PRIMARY KEY,
    "at" timestamptz NOT NULL DEFAULT clock_timestamp(),
    "kind" text NOT NULL
        CHECK ("kind" IN ('apply', 'rollback', 'drill', 'accept_risk', 'finalise')),
    "target" text NOT NULL,
    "detail" jsonb NOT NULL DEFAULT '{}'
);
"#,
    r#"
ALTER TABLE "migsafe"."steps" ADD COLUMN "deferred" jsonb NOT NULL DEFAULT '[]';
CREATE TABLE "migsafe"."in_progress" (
    "migration_id" text PRIMARY KEY,
    "direction" text NOT NULL CHECK ("direction" IN ('up', 'down')),
    "started_at" timestamptz NOT NULL DEFAULT clock_timestamp(),
    "pid" integer NOT NULL DEFAULT pg_backend_pid()
);
"#,
    crate::snapshot::observe::FUNCTION_SQL,
    r#"
ALTER TABLE "migsafe"."steps" ADD COLUMN "snapshot_sha256" text[] NOT NULL DEFAULT '{}';
"#,
];

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("migsafe ledger: cannot {what}: {}", error_text(.source))]
    Db {
        what: &'static str,
        source: postgres::Error,
    },
    #[error("{}", busy_text(.target, .database, .holder.as_ref(), *.waited))]
    Busy {
        target: String,
        database: String,
        holder: Option<Holder>,
        /// How long this run waited; `None` when it did not wait.
        waited: Option<Duration>,
    },
    #[error(
        "the migsafe ledger in this database is at schema version {found}, newer than this migsafe knows ({SCHEMA_VERSION}): upgrade migsafe"
    )]
    TooNew { found: i32 },
    #[error("migsafe ledger: step {step}: {reason}")]
    Step { step: i64, reason: String },
    #[error("migsafe ledger: {0}")]
    Corrupt(String),
}

fn db(what: &'static str) -> impl FnOnce(postgres::Error) -> LedgerError {
    move |source| LedgerError::Db { what, source }
}

/// The session holding the lock, as pg_locks and pg_stat_activity show it (the activity
/// fields are hidden from roles that may not see that session's statistics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: i32,
    pub application_name: Option<String>,
    /// When the holding session connected: PostgreSQL does not record when an advisory lock
    /// was taken, and a migsafe run takes it right after connecting.
    pub since: Option<String>,
}

fn busy_text(
    target: &str,
    database: &str,
    holder: Option<&Holder>,
    waited: Option<Duration>,
) -> String {
    let mut s = format!(
        "target `{target}` is busy: another migsafe run holds the lock on database `{database}`"
    );
    match holder {
        Some(h) => {
            s.push_str(&format!(", held by pid {}", h.pid));
            if let Some(since) = &h.since {
                s.push_str(&format!(" since {since}"));
            }
            if let Some(app) = &h.application_name {
                s.push_str(&format!(" (application_name `{app}`)"));
            }
        }
        None => s.push_str(" (it was released just now: retry)"),
    }
    if let Some(w) = waited {
        s.push_str(&format!("; gave up after waiting {w:?}"));
    }
    s
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

/// One applied step: an up, or the down that rolled an up back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    /// The ledger row's id, set when read back; [`record_step`] ignores it.
    pub id: Option<i64>,
    pub migration_id: String,
    pub version: String,
    pub direction: Direction,
    /// Stored with microsecond precision, as PostgreSQL keeps timestamptz.
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub up_sha256: String,
    pub down_sha256: Option<String>,
    /// Snapshots taken before the step: rollback restores them, prune keeps them until the
    /// step is finalised.
    pub snapshot_ids: Vec<String>,
    /// The sha256 of each snapshot's manifest.json as apply wrote it, same order (empty for
    /// steps recorded before migsafe kept them): a manifest edited since is refused.
    pub snapshot_sha256: Vec<String>,
    /// Why an irreversible step was let through without its gate, when someone accepted that.
    pub accepted_risk: Option<String>,
    /// The runner whose history table was written in the same transaction.
    pub runner: String,
    pub execution_ms: i64,
    /// Columns an up step renamed aside instead of dropping (`[apply] soft_drop`): rollback
    /// renames them back, finalising drops them.
    pub deferred: Vec<Deferred>,
    /// Set when read back; [`finalise`] sets it, [`record_step`] ignores it.
    pub finalised_at: Option<Timestamp>,
}

/// A column that `DROP COLUMN` would have destroyed, kept under another name until the step is
/// finalised.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Deferred {
    pub schema: String,
    pub table: String,
    /// The column's name before the step.
    pub column: String,
    /// The name it was renamed to.
    pub aside: String,
    /// It was NOT NULL before the step (the aside column is made nullable so new rows fit).
    pub not_null: bool,
}

/// A step that ran outside a transaction and had not finished when last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InProgress {
    pub migration_id: String,
    pub direction: String,
    pub started_at: String,
    pub pid: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Apply,
    Rollback,
    Drill,
    AcceptRisk,
    Finalise,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Apply => "apply",
            EventKind::Rollback => "rollback",
            EventKind::Drill => "drill",
            EventKind::AcceptRisk => "accept_risk",
            EventKind::Finalise => "finalise",
        }
    }
}

/// The ledger's version in this database; `None` when it was never created. Read-only.
pub fn installed_version(client: &mut impl GenericClient) -> Result<Option<i32>, LedgerError> {
    // Check first: a query on a missing table would abort the caller's transaction.
    let exists: bool = client
        .query_one(
            r#"SELECT to_regclass('"migsafe"."schema_version"') IS NOT NULL"#,
            &[],
        )
        .map_err(db("look for the ledger"))?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let row = client
        .query_opt(r#"SELECT "version" FROM "migsafe"."schema_version""#, &[])
        .map_err(db("read the ledger's schema version"))?;
    Ok(Some(row.map_or(0, |r| r.get(0))))
}

/// Ledger readers: `false` when there is no ledger yet, an error when it is newer than us.
fn readable(client: &mut impl GenericClient) -> Result<bool, LedgerError> {
    match installed_version(client)? {
        None => Ok(false),
        Some(v) if v > SCHEMA_VERSION => Err(LedgerError::TooNew { found: v }),
        Some(_) => Ok(true),
    }
}

/// Creates the ledger or brings it up to [`SCHEMA_VERSION`]; does nothing when it is current.
pub fn ensure(tx: &mut Transaction<'_>) -> Result<(), LedgerError> {
    // Two first runs on a fresh database would both try to CREATE; the second waits here and
    // then sees the first's tables. Released at commit or rollback.
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&key_of("migsafe:ledger-ddl")],
    )
    .map_err(db("lock the ledger for creation"))?;
    let from = match installed_version(tx)? {
        Some(v) if v > SCHEMA_VERSION => return Err(LedgerError::TooNew { found: v }),
        Some(v) => v,
        None => 0,
    };
    if from == SCHEMA_VERSION {
        return Ok(());
    }
    for sql in &MIGRATIONS[from as usize..] {
        tx.batch_execute(sql)
            .map_err(db("create or upgrade the ledger"))?;
    }
    tx.execute(
        r#"INSERT INTO "migsafe"."schema_version" ("version") VALUES ($1)
           ON CONFLICT ("singleton") DO UPDATE SET "version" = EXCLUDED."version""#,
        &[&SCHEMA_VERSION],
    )
    .map_err(db("record the ledger's schema version"))?;
    Ok(())
}

/// Records one step and returns its id. Commit `tx` together with the step itself.
pub fn record_step(tx: &mut Transaction<'_>, step: &StepRecord) -> Result<i64, LedgerError> {
    let row = tx
        .query_one(
            r#"INSERT INTO "migsafe"."steps" ("migration_id", "version", "direction",
                   "started_at", "finished_at", "up_sha256", "down_sha256", "snapshot_ids",
                   "accepted_risk", "runner", "execution_ms", "deferred", "snapshot_sha256")
               VALUES ($1, $2, $3, $4::text::timestamptz, $5::text::timestamptz, $6, $7, $8,
                   $9, $10, $11, $12::text::jsonb, $13)
               RETURNING "id""#,
            &[
                &step.migration_id,
                &step.version,
                &step.direction.as_str(),
                &step.started_at.to_string(),
                &step.finished_at.to_string(),
                &step.up_sha256,
                &step.down_sha256,
                &step.snapshot_ids,
                &step.accepted_risk,
                &step.runner,
                &step.execution_ms,
                &serde_json::to_string(&step.deferred).expect("plain data serialises"),
                &step.snapshot_sha256,
            ],
        )
        .map_err(db("record a step"))?;
    Ok(row.get(0))
}

/// The sha256 of snapshot `id`'s manifest as the step that took it recorded it, when a step of
/// this database's ledger took it (and the ledger keeps checksums). Read-only.
pub fn recorded_manifest_sha256(
    client: &mut impl GenericClient,
    id: &str,
) -> Result<Option<String>, LedgerError> {
    if !readable(client)? {
        return Ok(None);
    }
    let row = client
        .query_opt(
            r#"SELECT (to_jsonb(s) -> 'snapshot_sha256') ->> (array_position(s."snapshot_ids", $1) - 1)
               FROM "migsafe"."steps" AS s
               WHERE $1 = ANY (s."snapshot_ids")
               ORDER BY s."id" DESC LIMIT 1"#,
            &[&id],
        )
        .map_err(db("read a snapshot's recorded checksum"))?;
    Ok(row.and_then(|r| r.get::<_, Option<String>>(0)))
}

/// Marks up step `step_id` as rolled back by down step `rollback_step_id`.
pub fn mark_rolled_back(
    tx: &mut Transaction<'_>,
    step_id: i64,
    rollback_step_id: i64,
) -> Result<(), LedgerError> {
    let n = tx
        .execute(
            r#"UPDATE "migsafe"."steps" SET "rolled_back_by" = $2
               WHERE "id" = $1 AND "direction" = 'up' AND "rolled_back_by" IS NULL
                 AND EXISTS (SELECT 1 FROM "migsafe"."steps"
                             WHERE "id" = $2 AND "direction" = 'down')"#,
            &[&step_id, &rollback_step_id],
        )
        .map_err(db("mark a step rolled back"))?;
    if n == 1 {
        return Ok(());
    }
    Err(LedgerError::Step {
        step: step_id,
        reason: format!(
            "cannot be marked rolled back by step {rollback_step_id}: it must be an up step not yet rolled back, and step {rollback_step_id} a recorded down step"
        ),
    })
}

/// The up steps in effect (not rolled back), in the order they were applied. Empty, and
/// read-only, when the database has no ledger.
pub fn applied_steps(client: &mut impl GenericClient) -> Result<Vec<StepRecord>, LedgerError> {
    if !readable(client)? {
        return Ok(vec![]);
    }
    let rows = client
        .query(
            r#"SELECT "id", "migration_id", "version",
                   (extract(epoch FROM "started_at") * 1000000)::int8,
                   (extract(epoch FROM "finished_at") * 1000000)::int8,
                   "up_sha256", "down_sha256", "snapshot_ids", "accepted_risk", "runner",
                   "execution_ms", (extract(epoch FROM "finalised_at") * 1000000)::int8,
                   -- Version-1 ledgers, not yet upgraded, have no "deferred" column.
                   COALESCE((to_jsonb(s) -> 'deferred')::text, '[]'),
                   -- Ledgers before version 4 have no "snapshot_sha256" column.
                   COALESCE((to_jsonb(s) -> 'snapshot_sha256')::text, '[]')
               FROM "migsafe"."steps" AS s
               WHERE "direction" = 'up' AND "rolled_back_by" IS NULL
               ORDER BY "id""#,
            &[],
        )
        .map_err(db("read the applied steps"))?;
    rows.iter()
        .map(|r| {
            Ok(StepRecord {
                id: Some(r.get(0)),
                migration_id: r.get(1),
                version: r.get(2),
                direction: Direction::Up,
                started_at: micros(r.get(3))?,
                finished_at: micros(r.get(4))?,
                up_sha256: r.get(5),
                down_sha256: r.get(6),
                snapshot_ids: r.get(7),
                snapshot_sha256: serde_json::from_str(r.get::<_, &str>(13)).map_err(|e| {
                    LedgerError::Corrupt(format!("a step's snapshot checksums are unreadable: {e}"))
                })?,
                accepted_risk: r.get(8),
                runner: r.get(9),
                execution_ms: r.get(10),
                finalised_at: r.get::<_, Option<i64>>(11).map(micros).transpose()?,
                deferred: serde_json::from_str(r.get::<_, &str>(12)).map_err(|e| {
                    LedgerError::Corrupt(format!("a step's deferred columns are unreadable: {e}"))
                })?,
            })
        })
        .collect()
}

fn micros(us: i64) -> Result<Timestamp, LedgerError> {
    Timestamp::from_microsecond(us)
        .map_err(|e| LedgerError::Corrupt(format!("a step's timestamp is out of range: {e}")))
}

/// The snapshot ids that applied, not yet finalised steps depend on, in step order without
/// repeats: what `snapshot prune` must keep. Empty, and read-only, without a ledger.
pub fn unfinalised_snapshot_ids(
    client: &mut impl GenericClient,
) -> Result<Vec<String>, LedgerError> {
    if !readable(client)? {
        return Ok(vec![]);
    }
    let rows = client
        .query(
            r#"SELECT u."snapshot_id"
               FROM "migsafe"."steps" AS s,
                    unnest(s."snapshot_ids") WITH ORDINALITY AS u("snapshot_id", "n")
               WHERE s."direction" = 'up' AND s."rolled_back_by" IS NULL
                 AND s."finalised_at" IS NULL
               ORDER BY s."id", u."n""#,
            &[],
        )
        .map_err(db("read the unfinalised snapshot ids"))?;
    let mut ids: Vec<String> = vec![];
    for r in rows {
        let id: String = r.get(0);
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Marks the applied steps of `migration_id` final: their snapshots are no longer needed for a
/// rollback. Returns how many steps it marked. The caller records the `finalise` event.
pub fn finalise(tx: &mut Transaction<'_>, migration_id: &str) -> Result<u64, LedgerError> {
    tx.execute(
        r#"UPDATE "migsafe"."steps" SET "finalised_at" = clock_timestamp()
           WHERE "migration_id" = $1 AND "direction" = 'up' AND "rolled_back_by" IS NULL
             AND "finalised_at" IS NULL"#,
        &[&migration_id],
    )
    .map_err(db("finalise a migration"))
}

/// Notes that `migration_id` starts running outside a transaction; commit this before it runs,
/// and [`clear_in_progress`] in the transaction that records the step. A row left behind tells
/// the next run that the step was interrupted part way.
pub fn mark_in_progress(
    tx: &mut Transaction<'_>,
    migration_id: &str,
    direction: Direction,
) -> Result<(), LedgerError> {
    tx.execute(
        r#"INSERT INTO "migsafe"."in_progress" ("migration_id", "direction") VALUES ($1, $2)"#,
        &[&migration_id, &direction.as_str()],
    )
    .map_err(db("note a step in progress"))?;
    Ok(())
}

/// Removes the in-progress note of `migration_id`; returns whether there was one.
pub fn clear_in_progress(
    tx: &mut Transaction<'_>,
    migration_id: &str,
) -> Result<bool, LedgerError> {
    let n = tx
        .execute(
            r#"DELETE FROM "migsafe"."in_progress" WHERE "migration_id" = $1"#,
            &[&migration_id],
        )
        .map_err(db("clear a step in progress"))?;
    Ok(n > 0)
}

/// Steps that started outside a transaction and never finished. Empty, and read-only, without
/// a ledger (or with a version-1 ledger, which had no such steps).
pub fn in_progress(client: &mut impl GenericClient) -> Result<Vec<InProgress>, LedgerError> {
    if !readable(client)? {
        return Ok(vec![]);
    }
    let exists: bool = client
        .query_one(
            r#"SELECT to_regclass('"migsafe"."in_progress"') IS NOT NULL"#,
            &[],
        )
        .map_err(db("look for steps in progress"))?
        .get(0);
    if !exists {
        return Ok(vec![]);
    }
    let rows = client
        .query(
            r#"SELECT "migration_id", "direction",
                   to_char("started_at" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), "pid"
               FROM "migsafe"."in_progress" ORDER BY "started_at""#,
            &[],
        )
        .map_err(db("read the steps in progress"))?;
    Ok(rows
        .iter()
        .map(|r| InProgress {
            migration_id: r.get(0),
            direction: r.get(1),
            started_at: r.get(2),
            pid: r.get(3),
        })
        .collect())
}

/// Records an event and returns its id.
pub fn record_event(
    tx: &mut Transaction<'_>,
    kind: EventKind,
    target: &str,
    detail: &serde_json::Value,
) -> Result<i64, LedgerError> {
    let row = tx
        .query_one(
            r#"INSERT INTO "migsafe"."events" ("kind", "target", "detail")
               VALUES ($1, $2, $3::text::jsonb) RETURNING "id""#,
            &[&kind.as_str(), &target, &detail.to_string()],
        )
        .map_err(db("record an event"))?;
    Ok(row.get(0))
}

/// A stable 64-bit key from a text: the first 8 bytes of its sha256. PostgreSQL's own
/// `hashtext` is not promised to stay the same across major versions; this is.
fn key_of(text: &str) -> i64 {
    let digest = Sha256::digest(text.as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("sha256 has 32 bytes"))
}

/// The advisory-lock key of a database. It derives from the database name, not the target's:
/// every migsafe process working on this database — whatever config, target name or URL it
/// came through — must compute the same key to exclude the others. (PostgreSQL already scopes
/// advisory locks to the current database; the `migsafe:` prefix keeps the key apart from
/// those the application itself may take.)
pub fn lock_key(database: &str) -> i64 {
    key_of(&format!("migsafe:{database}"))
}

/// Holds the database's migsafe lock; unlocks when dropped. Dereferences to the client, so
/// the run uses its connection while holding the lock.
pub struct LockGuard<'a> {
    client: &'a mut Client,
    key: i64,
}

impl std::fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard").field("key", &self.key).finish()
    }
}

impl LockGuard<'_> {
    /// Unlocks now and reports a failure that `Drop` would ignore.
    pub fn unlock(self) -> Result<(), LedgerError> {
        let r = release(&mut *self.client, self.key);
        std::mem::forget(self);
        r
    }
}

impl std::ops::Deref for LockGuard<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client
    }
}

impl std::ops::DerefMut for LockGuard<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // On a broken connection this fails, and the server has released the lock with the
        // session anyway.
        let _ = release(self.client, self.key);
    }
}

fn release(client: &mut Client, key: i64) -> Result<(), LedgerError> {
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .map_err(db("release the lock"))?;
    Ok(())
}

/// How often a waiting [`lock`] tries again.
const RETRY: Duration = Duration::from_millis(50);

/// Takes the migsafe lock of the client's database for a session (not a transaction), so it
/// spans every step of a run and dies with the connection if migsafe crashes. `wait: None`
/// tries once; `Some(d)` retries for up to `d`. Either way a lock held elsewhere ends in
/// [`LedgerError::Busy`] naming the holder. `target_name` is only for that message.
///
/// Retrying `pg_try_advisory_lock` rather than blocking in `pg_advisory_lock` bounds the wait
/// without touching the session's `lock_timeout`, which apply sets for its steps.
pub fn lock<'a>(
    client: &'a mut Client,
    target_name: &str,
    wait: Option<Duration>,
) -> Result<LockGuard<'a>, LedgerError> {
    let database: String = client
        .query_one("SELECT current_database()", &[])
        .map_err(db("read the database name"))?
        .get(0);
    let key = lock_key(&database);
    let start = Instant::now();
    let deadline = wait.map(|w| start + w);
    loop {
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .map_err(db("take the lock"))?
            .get(0);
        if got {
            return Ok(LockGuard { client, key });
        }
        let now = Instant::now();
        match deadline {
            Some(d) if now < d => std::thread::sleep(RETRY.min(d - now)),
            _ => {
                return Err(LedgerError::Busy {
                    target: target_name.to_string(),
                    database,
                    holder: holder(client, key)?,
                    waited: wait.map(|_| start.elapsed()),
                });
            }
        }
    }
}

/// Who holds `key` in this database. A bigint advisory key shows in pg_locks as its high half
/// in `classid`, its low half in `objid`, and `objsubid = 1`.
fn holder(client: &mut Client, key: i64) -> Result<Option<Holder>, LedgerError> {
    let (high, low) = ((key >> 32) as u32, key as u32);
    let row = client
        .query_opt(
            r#"SELECT l.pid, a.application_name,
                   to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
               FROM pg_catalog.pg_locks AS l
               LEFT JOIN pg_catalog.pg_stat_activity AS a ON a.pid = l.pid
               WHERE l.locktype = 'advisory' AND l.granted
                 AND l.database = (SELECT oid FROM pg_catalog.pg_database
                                   WHERE datname = current_database())
                 AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 1
                 AND l.pid <> pg_backend_pid()
               LIMIT 1"#,
            &[&high, &low],
        )
        .map_err(db("find who holds the lock"))?;
    Ok(row.map(|r| Holder {
        pid: r.get(0),
        application_name: r.get::<_, Option<String>>(1).filter(|a| !a.is_empty()),
        since: r.get(2),
    }))
}

#[cfg(test)]
mod tests;
