//! What a target database already applied, read from the runner's own history table, and how
//! that compares with the migrations on disk (the ground `plan` and `apply` stand on).
//!
//! Reading is strictly read-only: existence is probed with `to_regclass`, the shape with
//! `information_schema.columns`, and rows with plain `SELECT`s. A missing table means nothing was
//! applied; a table of an unexpected shape is an error, never "nothing applied".
//!
//! Table layouts and semantics per runner follow the research notes (§A2 "History tables and how
//! to compute PENDING").

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use postgres::GenericClient;
use serde::Serialize;

use crate::source::{Migration, Project, Runner};

pub mod write;

#[cfg(test)]
mod tests;

/// One row of a runner's history, normalised across runners.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedRow {
    /// The runner's version as text; the change name for sqitch; the script for a Flyway
    /// repeatable.
    pub version: String,
    pub name: Option<String>,
    /// The stored checksum as text: hex for sqlx, a signed integer for Flyway, the u64 for
    /// refinery, SHA-1 hex for sqitch.
    pub checksum: Option<String>,
    pub applied_at: Option<String>,
    /// false for a row that records a failure (sqlx, Flyway, a sqitch `fail` event).
    pub success: bool,
    /// The runner's row type where it has one (Flyway: SQL, BASELINE, …).
    pub kind: Option<String>,
    /// Flyway `R__` scripts: keyed by script, not version.
    pub repeatable: bool,
    /// sqitch: the project the change belongs to (one registry serves many projects).
    pub project: Option<String>,
}

/// A runner's history as read from one database.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    pub runner: Runner,
    /// The table (or, for sqitch, the registry schema) that was read.
    pub table: String,
    pub exists: bool,
    /// Applied migrations in version order (Flyway: install rank; sqitch: commit order, plus
    /// one `success = false` row per unresolved failure; golang-migrate: its one row).
    pub applied: Vec<AppliedRow>,
    /// Why the runner would refuse to go on: golang-migrate `dirty`, sqlx/Flyway `success =
    /// false`, sqitch's unresolved `fail` events.
    pub dirty: Option<String>,
}

/// How far migsafe could check the content of applied migrations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Checksums {
    /// Recomputed and compared with the stored value.
    Compared(&'static str),
    /// The runner stores no checksum (diesel, golang-migrate, goose, dbmate).
    NotStored,
    /// The runner stores one that migsafe does not recompute; edits are not detected.
    NotCompared(String),
}

/// The database's history against the migrations on disk.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub runner: Runner,
    pub table: String,
    pub exists: bool,
    /// Migration ids the runner would apply, in its apply order.
    pub pending: Vec<String>,
    /// Unapplied migrations older than the newest applied one, which the runner refuses (goose,
    /// refinery `V`) or skips (Flyway, sqitch) by default.
    pub out_of_order: Vec<String>,
    /// Applied versions with no file on disk.
    pub missing_on_disk: Vec<String>,
    /// Applied migrations whose file no longer matches the stored checksum: (id, detail).
    pub edited: Vec<(String, String)>,
    /// Applied migrations whose content was not checked, with the reason (fail closed: these
    /// are not known to be unchanged).
    pub unverified: Vec<(String, String)>,
    pub checksums: Checksums,
    pub dirty: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AppliedError {
    #[error("{runner} keeps no history table; migsafe cannot tell what a database applied")]
    NoHistory { runner: Runner },
    #[error("{table}: not {runner}'s history table: {problem}")]
    Shape {
        runner: Runner,
        table: String,
        problem: String,
    },
    #[error("{table}: {message}")]
    Unexpected { table: String, message: String },
    #[error("{table}: reading {runner}'s history: {source}")]
    Db {
        runner: Runner,
        table: String,
        source: postgres::Error,
    },
}

/// The runner's default table (sqitch: registry schema).
pub fn default_table(runner: Runner) -> Option<&'static str> {
    Some(match runner {
        Runner::Diesel => "__diesel_schema_migrations",
        Runner::Sqlx => "_sqlx_migrations",
        Runner::Refinery => "refinery_schema_history",
        Runner::GolangMigrate | Runner::Dbmate => "schema_migrations",
        Runner::Goose => "goose_db_version",
        Runner::Flyway => "flyway_schema_history",
        Runner::Sqitch => "sqitch",
        Runner::Plain => return None,
    })
}

/// Columns each runner's table must have (a superset is fine: runners add columns over time).
fn expected_columns(runner: Runner) -> &'static [&'static str] {
    match runner {
        Runner::Diesel => &["version", "run_on"],
        Runner::Sqlx => &[
            "version",
            "description",
            "installed_on",
            "success",
            "checksum",
        ],
        Runner::Refinery => &["version", "name", "applied_on", "checksum"],
        Runner::GolangMigrate => &["version", "dirty"],
        Runner::Goose => &["id", "version_id", "is_applied", "tstamp"],
        Runner::Dbmate => &["version"],
        Runner::Flyway => &[
            "installed_rank",
            "version",
            "description",
            "type",
            "script",
            "checksum",
            "installed_on",
            "success",
        ],
        Runner::Sqitch | Runner::Plain => &[],
    }
}

/// Reads `runner`'s history. `table` overrides the default name (may be schema-qualified; for
/// sqitch it names the registry schema). Issues only `SELECT`s.
pub fn read(
    client: &mut impl GenericClient,
    runner: Runner,
    table: Option<&str>,
) -> Result<History, AppliedError> {
    let Some(default) = default_table(runner) else {
        return Err(AppliedError::NoHistory { runner });
    };
    let table = table.unwrap_or(default).to_string();
    let mut history = History {
        runner,
        table: table.clone(),
        exists: false,
        applied: Vec::new(),
        dirty: None,
    };
    if runner == Runner::Sqitch {
        read_sqitch(client, &mut history)?;
        return Ok(history);
    }
    let Some((qualified, columns)) = probe(client, runner, &table, expected_columns(runner))?
    else {
        return Ok(history);
    };
    history.exists = true;
    let db = |source| AppliedError::Db {
        runner,
        table: table.clone(),
        source,
    };
    let t = &qualified;
    match runner {
        Runner::Diesel => {
            let rows = client
                .query(
                    &format!("SELECT version::text, run_on::text FROM {t} ORDER BY version"),
                    &[],
                )
                .map_err(db)?;
            history.applied = rows.iter().map(|r| row(r.get(0), r.get(1))).collect();
        }
        Runner::Dbmate => {
            // golang-migrate's table has the same name; its `dirty` column tells them apart.
            if columns.contains("dirty") {
                return Err(AppliedError::Shape {
                    runner,
                    table,
                    problem: "it has a `dirty` column, so it is golang-migrate's table".into(),
                });
            }
            let rows = client
                .query(
                    &format!("SELECT version::text FROM {t} ORDER BY version"),
                    &[],
                )
                .map_err(db)?;
            history.applied = rows.iter().map(|r| row(r.get(0), None)).collect();
        }
        Runner::Sqlx => {
            let rows = client
                .query(
                    &format!(
                        "SELECT version::text, description, encode(checksum, 'hex'), \
                         installed_on::text, success FROM {t} ORDER BY version"
                    ),
                    &[],
                )
                .map_err(db)?;
            for r in &rows {
                let mut a = row(r.get(0), r.get(3));
                a.name = r.get(1);
                a.checksum = r.get(2);
                a.success = r.get::<_, Option<bool>>(4).unwrap_or(false);
                if !a.success && history.dirty.is_none() {
                    history.dirty = Some(format!(
                        "version {} is recorded with success = false (a `-- no-transaction` migration failed part-way); sqlx refuses to run until the row is fixed",
                        a.version
                    ));
                }
                history.applied.push(a);
            }
        }
        Runner::Refinery => {
            let rows = client
                .query(
                    &format!(
                        "SELECT version::text, name::text, checksum::text, applied_on::text \
                         FROM {t} ORDER BY version"
                    ),
                    &[],
                )
                .map_err(db)?;
            for r in &rows {
                let mut a = row(r.get(0), r.get(3));
                a.name = r.get(1);
                a.checksum = r.get(2);
                history.applied.push(a);
            }
        }
        Runner::GolangMigrate => {
            let rows = client
                .query(&format!("SELECT version::text, dirty FROM {t}"), &[])
                .map_err(db)?;
            if rows.len() > 1 {
                return Err(AppliedError::Unexpected {
                    table,
                    message: format!(
                        "{} rows, but golang-migrate keeps exactly one (the current version)",
                        rows.len()
                    ),
                });
            }
            if let Some(r) = rows.first() {
                let version: String = r.get(0);
                if r.get::<_, Option<bool>>(1).unwrap_or(false) {
                    history.dirty = Some(format!(
                        "version {version} is dirty: a migration failed part-way; golang-migrate refuses to run until `migrate force`"
                    ));
                }
                // -1 is golang-migrate's "no version", stored only together with dirty.
                if version != "-1" {
                    history.applied.push(row(version, None));
                }
            }
        }
        Runner::Goose => {
            let rows = client
                .query(
                    &format!(
                        "SELECT version_id::text, is_applied, tstamp::text FROM {t} ORDER BY id"
                    ),
                    &[],
                )
                .map_err(db)?;
            // The latest row per version decides; version 0 is the row goose writes on creation.
            let mut latest: BTreeMap<i64, (bool, Option<String>)> = BTreeMap::new();
            for r in &rows {
                let v: String = r.get(0);
                let v: i64 = v.parse().map_err(|_| AppliedError::Unexpected {
                    table: table.clone(),
                    message: format!("version_id {v} is not an integer"),
                })?;
                if v != 0 {
                    latest.insert(v, (r.get(1), r.get(2)));
                }
            }
            history.applied = latest
                .into_iter()
                .filter(|(_, (applied, _))| *applied)
                .map(|(v, (_, at))| row(v.to_string(), at))
                .collect();
        }
        Runner::Flyway => {
            let rows = client
                .query(
                    &format!(
                        "SELECT version::text, description::text, type::text, script::text, \
                         checksum::text, installed_on::text, success FROM {t} \
                         ORDER BY installed_rank"
                    ),
                    &[],
                )
                .map_err(db)?;
            replay_flyway(&rows, &mut history)?;
        }
        Runner::Sqitch | Runner::Plain => unreachable!("handled above"),
    }
    Ok(history)
}

fn row(version: String, applied_at: Option<String>) -> AppliedRow {
    AppliedRow {
        version,
        name: None,
        checksum: None,
        applied_at,
        success: true,
        kind: None,
        repeatable: false,
        project: None,
    }
}

/// `to_regclass` the table; if it exists, checks it has `columns` and returns its quoted,
/// schema-qualified name and all its columns.
fn probe(
    client: &mut impl GenericClient,
    runner: Runner,
    table: &str,
    columns: &[&str],
) -> Result<Option<(String, HashSet<String>)>, AppliedError> {
    let db = |source| AppliedError::Db {
        runner,
        table: table.to_string(),
        source,
    };
    let found = client
        .query_opt(
            "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.oid = to_regclass($1)",
            &[&table],
        )
        .map_err(db)?;
    let Some(found) = found else {
        return Ok(None);
    };
    let (schema, name): (String, String) = (found.get(0), found.get(1));
    let have: HashSet<String> = client
        .query(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = $1 AND table_name = $2",
            &[&schema, &name],
        )
        .map_err(db)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let missing: Vec<&str> = columns
        .iter()
        .copied()
        .filter(|c| !have.contains(*c))
        .collect();
    if !missing.is_empty() {
        let mut have: Vec<String> = have.into_iter().collect();
        have.sort();
        return Err(AppliedError::Shape {
            runner,
            table: table.to_string(),
            problem: format!(
                "expected columns ({}), missing {}; it has ({})",
                columns.join(", "),
                missing.join(", "),
                have.join(", ")
            ),
        });
    }
    let qualified = format!("{}.{}", quote_ident(&schema), quote_ident(&name));
    Ok(Some((qualified, have)))
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Flyway row types that apply a migration, that un-apply one, and that record nothing to apply.
const FLYWAY_APPLY: &[&str] = &[
    "SQL",
    "JDBC",
    "SPRING_JDBC",
    "SCRIPT",
    "CUSTOM",
    "BASELINE",
    "SQL_BASELINE",
    "JDBC_BASELINE",
    "SCRIPT_BASELINE",
];
const FLYWAY_UNAPPLY: &[&str] = &[
    "DELETE",
    "UNDO_SQL",
    "UNDO_JDBC",
    "UNDO_SCRIPT",
    "UNDO_CUSTOM",
];

/// Replays Flyway's history in rank order: applying rows set, undo/delete rows clear, a
/// repeatable keeps its last successful run.
fn replay_flyway(rows: &[postgres::Row], history: &mut History) -> Result<(), AppliedError> {
    // Keyed by normalised version (or script for repeatables), kept in first-applied order.
    let mut applied: Vec<(String, AppliedRow)> = Vec::new();
    let mut failed: Option<String> = None;
    for r in rows {
        let version: Option<String> = r.get(0);
        let kind: String = r.get(2);
        let script: String = r.get(3);
        let success: bool = r.get::<_, Option<bool>>(6).unwrap_or(false);
        if kind == "SCHEMA" {
            continue;
        }
        let repeatable = version.is_none();
        let key = match &version {
            Some(v) => format!("V{}", flyway_key(v).join(".")),
            None => format!("R{}", file_name(&script)),
        };
        if !success {
            failed.get_or_insert_with(|| {
                format!(
                    "{} ({script}) failed (success = false); Flyway refuses to migrate until `flyway repair`",
                    version.as_deref().unwrap_or("repeatable")
                )
            });
            continue;
        }
        if FLYWAY_UNAPPLY.contains(&kind.as_str()) {
            applied.retain(|(k, _)| *k != key);
        } else if FLYWAY_APPLY.contains(&kind.as_str()) {
            let row = AppliedRow {
                version: version.unwrap_or_else(|| file_name(&script).to_string()),
                name: r.get(1),
                checksum: r.get(4),
                applied_at: r.get(5),
                success,
                kind: Some(kind),
                repeatable,
                project: None,
            };
            match applied.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = row,
                None => applied.push((key, row)),
            }
        } else {
            return Err(AppliedError::Unexpected {
                table: history.table.clone(),
                message: format!(
                    "Flyway row of unknown type `{kind}` ({script}); migsafe does not know whether it applies or un-applies a migration"
                ),
            });
        }
    }
    history.applied = applied.into_iter().map(|(_, r)| r).collect();
    history.dirty = failed;
    Ok(())
}

/// sqitch: `<registry>.changes` are deployed changes; a `fail` event that is the latest event of
/// its change is an unresolved failure (recorded as a row with success = false).
fn read_sqitch(client: &mut impl GenericClient, history: &mut History) -> Result<(), AppliedError> {
    let registry = history.table.clone();
    let changes = format!("{}.changes", quote_ident(&registry));
    let events = format!("{}.events", quote_ident(&registry));
    let Some((changes, _)) = probe(
        client,
        Runner::Sqitch,
        &changes,
        &[
            "change_id",
            "script_hash",
            "change",
            "project",
            "committed_at",
        ],
    )?
    else {
        return Ok(());
    };
    let Some((events, _)) = probe(
        client,
        Runner::Sqitch,
        &events,
        &["event", "change_id", "change", "project", "committed_at"],
    )?
    else {
        return Err(AppliedError::Shape {
            runner: Runner::Sqitch,
            table: registry,
            problem: "has `changes` but no `events` table".into(),
        });
    };
    history.exists = true;
    let db = |source| AppliedError::Db {
        runner: Runner::Sqitch,
        table: registry.clone(),
        source,
    };
    let rows = client
        .query(
            &format!(
                "SELECT change, project, script_hash, committed_at::text FROM {changes} \
                 ORDER BY committed_at, change_id"
            ),
            &[],
        )
        .map_err(db)?;
    for r in &rows {
        let mut a = row(r.get(0), r.get(3));
        a.project = Some(r.get(1));
        a.checksum = r.get(2);
        history.applied.push(a);
    }
    let fails = client
        .query(
            &format!(
                "SELECT DISTINCT ON (project, change_id) change, project, committed_at::text, event \
                 FROM {events} ORDER BY project, change_id, committed_at DESC"
            ),
            &[],
        )
        .map_err(db)?;
    for r in fails.iter().filter(|r| r.get::<_, String>(3) == "fail") {
        let mut a = row(r.get(0), r.get(2));
        a.project = Some(r.get(1));
        a.success = false;
        history.dirty.get_or_insert_with(|| {
            format!(
                "deploying {}:{} failed (a `fail` event with no later deploy)",
                a.project.as_deref().unwrap_or_default(),
                a.version
            )
        });
        history.applied.push(a);
    }
    Ok(())
}

fn file_name(script: &str) -> &str {
    script.rsplit(['/', '\\']).next().unwrap_or(script)
}

/// Flyway compares versions as numbers segment by segment, ignoring trailing zero segments.
fn flyway_key(v: &str) -> Vec<String> {
    let mut segs: Vec<String> = v
        .split(['.', '_'])
        .map(|s| {
            let t = s.trim_start_matches('0');
            if t.is_empty() { "0" } else { t }.to_string()
        })
        .collect();
    while segs.len() > 1 && segs.last().is_some_and(|s| s == "0") {
        segs.pop();
    }
    segs
}

/// A version in the runner's own order: numbers for integer versions, Flyway's dotted
/// segments, text otherwise (diesel and dbmate store the digits as text; sqitch has names).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    Num(i128),
    Segments(Vec<(usize, String)>),
    Text(String),
}

fn key(runner: Runner, version: &str) -> Key {
    match runner {
        Runner::Sqlx | Runner::Refinery | Runner::GolangMigrate | Runner::Goose => version
            .parse()
            .map(Key::Num)
            .unwrap_or_else(|_| Key::Text(version.to_string())),
        Runner::Flyway => Key::Segments(
            flyway_key(version)
                .into_iter()
                .map(|s| (s.len(), s))
                .collect(),
        ),
        _ => Key::Text(version.to_string()),
    }
}

/// Compares what the database applied with the project on disk.
pub fn compare(project: &Project, history: &History) -> Status {
    let runner = history.runner;
    let mut status = Status {
        runner,
        table: history.table.clone(),
        exists: history.exists,
        pending: Vec::new(),
        out_of_order: Vec::new(),
        missing_on_disk: Vec::new(),
        edited: Vec::new(),
        unverified: Vec::new(),
        checksums: checksums(runner),
        dirty: history.dirty.clone(),
    };
    if project.runner != runner {
        // Comparing one runner's table with another's files would report nonsense; refuse.
        status.dirty = Some(format!(
            "the history read is {runner}'s but the project on disk is {}'s",
            project.runner
        ));
        return status;
    }
    if runner == Runner::Sqitch {
        compare_sqitch(project, history, &mut status);
        return status;
    }
    let versioned: Vec<&Migration> = project
        .migrations
        .iter()
        .filter(|m| !m.repeatable)
        .collect();
    let rows: Vec<&AppliedRow> = history.applied.iter().filter(|r| !r.repeatable).collect();
    // A failed sqlx row is not applied, but sqlx will not re-run it either: it shows as
    // `dirty`, not as pending. (Flyway's failed rows never reach `applied`: after `repair` the
    // version runs again, so it is pending.)
    let recorded: HashMap<Key, &AppliedRow> =
        rows.iter().map(|r| (key(runner, &r.version), *r)).collect();
    let on_disk: HashSet<Key> = versioned.iter().map(|m| key(runner, &m.version)).collect();
    let newest = rows
        .iter()
        .filter(|r| r.success)
        .map(|r| key(runner, &r.version))
        .max();
    let baseline = rows
        .iter()
        .filter(|r| r.kind.as_deref().is_some_and(|k| k.contains("BASELINE")))
        .map(|r| key(runner, &r.version))
        .max();

    for m in &versioned {
        let k = key(runner, &m.version);
        let applied = if runner == Runner::GolangMigrate {
            // One row: everything up to the stored version counts as applied.
            newest.as_ref().is_some_and(|n| k <= *n)
        } else {
            recorded.contains_key(&k) || baseline.as_ref().is_some_and(|b| k <= *b)
        };
        if applied {
            match recorded.get(&k).filter(|r| r.success) {
                Some(r) => check_content(runner, project, m, r, &mut status),
                None => {
                    let why = match &status.checksums {
                        Checksums::NotStored => format!("{runner} stores no checksum"),
                        Checksums::NotCompared(why) => why.clone(),
                        Checksums::Compared(_) if baseline.as_ref().is_some_and(|b| k <= *b) => {
                            "covered by the baseline; Flyway never ran this file".into()
                        }
                        Checksums::Compared(_) => "its run failed; nothing valid to compare".into(),
                    };
                    status.unverified.push((m.id(), why));
                }
            }
            continue;
        }
        let older = newest.as_ref().is_some_and(|n| k < *n);
        let may_go_back = match runner {
            Runner::Goose | Runner::Flyway => false,
            // refinery applies `U` files out of order, `V` files only after the newest.
            Runner::Refinery => file_name_starts_with(&m.up.path, 'U'),
            _ => true,
        };
        if older && !may_go_back {
            status.out_of_order.push(m.id());
        } else {
            status.pending.push(m.id());
        }
    }
    for r in &rows {
        let k = key(runner, &r.version);
        let is_baseline = r.kind.as_deref().is_some_and(|k| k.contains("BASELINE"));
        if r.success && !is_baseline && !on_disk.contains(&k) {
            status.missing_on_disk.push(r.version.clone());
        }
    }
    // Flyway repeatables run after the versioned ones, whenever their checksum changed.
    for m in project.migrations.iter().filter(|m| m.repeatable) {
        let script =
            m.up.path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
        let last = history
            .applied
            .iter()
            .rfind(|r| r.repeatable && r.version == script);
        let Some(last) = last else {
            status.pending.push(m.id());
            continue;
        };
        match (flyway_checksum(&m.up.path), last.checksum.as_deref()) {
            (Ok(now), Some(stored)) if stored.parse::<i32>() == Ok(now) => {}
            (Ok(_), Some(_)) => status.pending.push(m.id()),
            (Err(e), _) => status.unverified.push((m.id(), e)),
            (Ok(_), None) => status
                .unverified
                .push((m.id(), "no checksum stored for its last run".into())),
        }
    }
    for r in history.applied.iter().filter(|r| r.repeatable) {
        let present = project
            .migrations
            .iter()
            .any(|m| m.repeatable && m.up.path.file_name().is_some_and(|f| *f == *r.version));
        if !present && !status.missing_on_disk.contains(&r.version) {
            status.missing_on_disk.push(r.version.clone());
        }
    }
    status
}

fn file_name_starts_with(path: &Path, c: char) -> bool {
    path.file_name()
        .is_some_and(|f| f.to_string_lossy().starts_with(c))
}

fn checksums(runner: Runner) -> Checksums {
    match runner {
        Runner::Sqlx => Checksums::Compared("SHA-384 of the up file"),
        Runner::Flyway => Checksums::Compared("CRC32 of the file's lines"),
        Runner::Sqitch => Checksums::Compared("SHA-1 of the deploy script"),
        // The research notes name SipHash-1-3 over (name, version, sql) but not the byte
        // encoding, which depends on refinery's version width; a guess would report false edits.
        Runner::Refinery => Checksums::NotCompared(
            "refinery's SipHash-1-3 checksum is not recomputed by migsafe".into(),
        ),
        Runner::Diesel | Runner::GolangMigrate | Runner::Goose | Runner::Dbmate | Runner::Plain => {
            Checksums::NotStored
        }
    }
}

/// Compares an applied migration's file with the stored checksum, or says why it cannot.
fn check_content(
    runner: Runner,
    project: &Project,
    m: &Migration,
    r: &AppliedRow,
    status: &mut Status,
) {
    let reason = match &status.checksums {
        Checksums::Compared(_) => None,
        Checksums::NotStored => Some(format!("{runner} stores no checksum")),
        Checksums::NotCompared(why) => Some(why.clone()),
    };
    if let Some(reason) = reason {
        status.unverified.push((m.id(), reason));
        return;
    }
    let Some(stored) = r.checksum.as_deref() else {
        status
            .unverified
            .push((m.id(), "no checksum stored for it".into()));
        return;
    };
    let now = match runner {
        Runner::Sqlx => {
            if let Some(why) = sqlx_ignored_chars(&project.root) {
                status.unverified.push((m.id(), why));
                return;
            }
            sqlx_checksum(&m.up.path).map(|h| (h.eq_ignore_ascii_case(stored), h))
        }
        Runner::Flyway => flyway_checksum(&m.up.path)
            .map(|c| (stored.trim().parse::<i32>() == Ok(c), c.to_string())),
        _ => Err(format!("{runner}: migsafe does not recompute its checksum")),
    };
    match now {
        Ok((true, _)) => {}
        Ok((false, now)) => status.edited.push((
            m.id(),
            format!(
                "{} changed since it was applied: stored {stored}, file now {now}",
                m.up.path.display()
            ),
        )),
        Err(e) => status.unverified.push((m.id(), e)),
    }
}

/// sqlx removes `ignored-chars` from sqlx.toml before hashing; migsafe does not read that list,
/// so with it set a comparison could only guess.
fn sqlx_ignored_chars(root: &Path) -> Option<String> {
    root.ancestors().take(3).find_map(|dir| {
        let conf = dir.join("sqlx.toml");
        let text = std::fs::read_to_string(&conf).ok()?;
        text.contains("ignored-chars").then(|| {
            format!(
                "{} sets ignored-chars, which sqlx strips before hashing; not compared",
                conf.display()
            )
        })
    })
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: cannot read to compare: {e}", path.display()))
}

/// sqlx: SHA-384 of the file's text as read (hex).
pub fn sqlx_checksum(path: &Path) -> Result<String, String> {
    use sha2::{Digest, Sha384};
    Ok(hex(&Sha384::digest(read_bytes(path)?)))
}

/// Flyway: CRC32 fed line by line without terminators (so over the text minus `\r` and `\n`),
/// after a UTF-8 byte order mark, as Java's signed int.
pub fn flyway_checksum(path: &Path) -> Result<i32, String> {
    let bytes = read_bytes(path)?;
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    let mut h = crc32fast::Hasher::new();
    for chunk in bytes.split(|b| *b == b'\n' || *b == b'\r') {
        h.update(chunk);
    }
    Ok(h.finalize() as i32)
}

/// sqitch: SHA-1 of the deploy file's bytes (hex).
pub fn sqitch_checksum(path: &Path) -> Result<String, String> {
    use sha1::{Digest, Sha1};
    Ok(hex(&Sha1::digest(read_bytes(path)?)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sqitch: the plan's `%project`.
fn sqitch_project(root: &Path) -> Option<String> {
    let plan = std::fs::read_to_string(root.join("sqitch.plan")).ok()?;
    plan.lines()
        .find_map(|l| l.trim().strip_prefix("%project="))
        .map(|p| p.trim().to_string())
}

/// sqitch deploys the plan in order; a change planned twice (reworked) has one row per deploy,
/// so the n-th plan entry of a name matches the n-th deployed row of that name.
fn compare_sqitch(project: &Project, history: &History, status: &mut Status) {
    let Some(name) = sqitch_project(&project.root) else {
        status.dirty.get_or_insert_with(|| {
            format!(
                "{}: no %project in sqitch.plan; cannot tell which registry rows are this project's",
                project.root.join("sqitch.plan").display()
            )
        });
        for m in &project.migrations {
            status
                .unverified
                .push((m.id(), "project name unknown".into()));
        }
        return;
    };
    let ours = |r: &&AppliedRow| r.project.as_deref() == Some(name.as_str());
    status.dirty = history
        .applied
        .iter()
        .filter(ours)
        .find(|r| !r.success)
        .map(|r| {
            format!(
                "deploying {} failed (a `fail` event with no later deploy); sqitch reverted it",
                r.version
            )
        });
    let mut deployed: HashMap<&str, Vec<&AppliedRow>> = HashMap::new();
    for r in history.applied.iter().filter(ours).filter(|r| r.success) {
        deployed.entry(r.version.as_str()).or_default().push(r);
    }
    let mut used: HashMap<&str, usize> = HashMap::new();
    let mut undeployed_before_last = Vec::new();
    let mut any_deployed_after = false;
    for m in project.migrations.iter().rev() {
        // A reworked change's earlier instance is `name@tag`; its rows carry the bare name.
        let change = m.version.split('@').next().unwrap_or(&m.version);
        let rows = deployed.get(change).map(Vec::as_slice).unwrap_or_default();
        let before = project
            .migrations
            .iter()
            .take_while(|x| !std::ptr::eq(*x, m))
            .filter(|x| x.version.split('@').next() == Some(change))
            .count();
        match rows.get(before) {
            Some(r) => {
                *used.entry(change).or_default() += 1;
                any_deployed_after = true;
                match (sqitch_checksum(&m.up.path), r.checksum.as_deref()) {
                    (Ok(now), Some(stored)) if now.eq_ignore_ascii_case(stored) => {}
                    (Ok(now), Some(stored)) => status.edited.push((
                        m.id(),
                        format!(
                            "{} changed since it was deployed: stored {stored}, file now {now}",
                            m.up.path.display()
                        ),
                    )),
                    (Err(e), _) => status.unverified.push((m.id(), e)),
                    (Ok(_), None) => status
                        .unverified
                        .push((m.id(), "no script_hash stored for it".into())),
                }
            }
            None if any_deployed_after => undeployed_before_last.push(m.id()),
            None => status.pending.push(m.id()),
        }
    }
    status.pending.reverse();
    undeployed_before_last.reverse();
    status.out_of_order = undeployed_before_last;
    for (change, rows) in &deployed {
        let matched = used.get(change).copied().unwrap_or(0);
        for _ in matched..rows.len() {
            status.missing_on_disk.push((*change).to_string());
        }
    }
    status.missing_on_disk.sort();
}
