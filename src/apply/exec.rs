//! Runs one script of a migration on a target the way its runner does, capturing what each
//! destroying statement destroys immediately before it, in the same transaction (so the
//! snapshot holds exactly what the statement removes, and no other session can change those
//! rows in between: the capture takes SHARE locks).

use std::time::Instant;

use indicatif::ProgressBar;
use postgres::{Client, Transaction};

use super::defer;
use super::{ApplyError, Ctx};
use crate::classify::{ScriptAnalysis, Step};
use crate::ledger::Deferred;
use crate::snapshot::Manifest;
use crate::snapshot::capture::{self, CaptureOptions};
use crate::snapshot::manifest::{DatabaseIdentity, Guard, Kind};
use crate::snapshot::observe::{Covered, Observer};
use crate::source::ExecMode;
use crate::sql::Op;
use crate::verify::exec::{ExecError, execute};

/// What running a script left behind, besides its effect on the schema.
#[derive(Debug, Default)]
pub struct ScriptRun {
    /// Snapshots taken, in statement order.
    pub snapshots: Vec<String>,
    /// The sha256 of each snapshot's manifest.json, same order.
    pub manifest_sha256: Vec<String>,
    /// Columns renamed aside instead of dropped.
    pub deferred: Vec<Deferred>,
    /// Destroying statements that ran without a snapshot, with why (accepted risk).
    pub unprotected: Vec<String>,
    /// Losses the tripwire let through because the user accepted them (`--accept-loss`).
    pub accepted_loss: Vec<String>,
}

/// Whether the runner runs `script` inside one transaction.
pub fn transactional(script: &ScriptAnalysis) -> bool {
    match script.mode {
        ExecMode::WrappedTx | ExecMode::FlywayAuto => true,
        // One implicit transaction, unless the script is one statement that cannot run in
        // one (then the runner sends it alone, outside any transaction).
        ExecMode::SingleSimpleQuery => script.steps.iter().all(|s| s.in_transaction),
        ExecMode::PerStatement => false,
    }
}

/// Whether a statement destroys data (as lint classifies it).
pub fn destroys(step: &Step) -> bool {
    step.effects.iter().any(|e| e.effect.data.is_destructive())
}

/// Runs every statement of `script` inside `tx`, each under observed capture and the tripwire.
pub fn run_in_tx(
    tx: &mut Transaction<'_>,
    ctx: &Ctx<'_>,
    migration_id: &str,
    version: &str,
    script: &ScriptAnalysis,
    soft_drop: bool,
    out: &mut ScriptRun,
) -> Result<(), ApplyError> {
    let mut observer = Observer::begin(tx).map_err(|e| ApplyError::observe("", e))?;
    for step in &script.steps {
        run_statement(
            tx,
            &mut observer,
            ctx,
            migration_id,
            version,
            script,
            step,
            soft_drop,
            out,
        )?;
    }
    fire_deferred(tx, &mut observer, ctx, migration_id, script, out)
}

/// Runs `script` statement by statement in autocommit, as psql or goose's `NO TRANSACTION`
/// do; a destroying statement runs in its own transaction together with its capture and the
/// tripwire. The other statements run as written, unobserved: a script that cannot run in a
/// transaction has only its down to undo it.
pub fn run_autocommit(
    client: &mut Client,
    ctx: &Ctx<'_>,
    migration_id: &str,
    version: &str,
    script: &ScriptAnalysis,
    out: &mut ScriptRun,
) -> Result<(), ApplyError> {
    for step in &script.steps {
        if !destroys(step) {
            execute(client, script, step).map_err(ApplyError::from_exec)?;
            continue;
        }
        if step.in_transaction {
            // Inside the script's own BEGIN … COMMIT: a transaction of ours would end it.
            return Err(ApplyError::Unsupported(format!(
                "{}:{}: a destroying statement inside the script's own BEGIN … COMMIT, in a script that runs outside a transaction: migsafe cannot capture it in the same transaction; move it to a migration that runs in a transaction",
                script.path.display(),
                step.start.line
            )));
        }
        let before = out.snapshots.len();
        let mut tx = client.transaction().map_err(ApplyError::db("begin"))?;
        let result = Observer::begin(&mut tx)
            .map_err(|e| ApplyError::observe("", e))
            .and_then(|mut observer| {
                run_statement(
                    &mut tx,
                    &mut observer,
                    ctx,
                    migration_id,
                    version,
                    script,
                    step,
                    false,
                    out,
                )?;
                fire_deferred(&mut tx, &mut observer, ctx, migration_id, script, out)
            })
            .and_then(|()| tx.commit().map_err(ApplyError::db("commit")));
        if let Err(e) = result {
            // The statement rolled back with its capture: that snapshot protects nothing.
            super::discard(ctx, &out.snapshots[before..]);
            out.snapshots.truncate(before);
            out.manifest_sha256.truncate(before);
            return Err(e);
        }
    }
    Ok(())
}

/// Installs the capture triggers that the script's statements will need on tables that exist
/// now, each table in a short transaction of its own before the step (the triggers do nothing
/// until a step wakes them): the step then does not hold SHARE ROW EXCLUSIVE on them until it
/// commits. Best effort: a table whose lock is not had within `lock_timeout` gets its
/// triggers inside the step, as any table a statement writes unforeseen.
pub fn prepare_capture(client: &mut Client, ctx: &Ctx<'_>, script: &ScriptAnalysis) {
    let names: Vec<String> = script
        .steps
        .iter()
        .flat_map(|s| &s.effects)
        .filter(|e| {
            matches!(
                e.op,
                Op::Delete { .. } | Op::Update { .. } | Op::Insert { .. }
            )
        })
        .flat_map(|e| e.op.tables())
        .map(capture::quote_dotted)
        .collect();
    if names.is_empty() {
        return;
    }
    let tables = (|| -> Result<Vec<u32>, ApplyError> {
        let mut tx = client.transaction().map_err(ApplyError::db("begin"))?;
        crate::ledger::ensure(&mut tx)?;
        let oids: Vec<u32> = tx
            .query(
                "SELECT DISTINCT pg_catalog.to_regclass(n)::oid FROM pg_catalog.unnest($1::text[]) n \
                 WHERE pg_catalog.to_regclass(n) IS NOT NULL",
                &[&names],
            )
            .map_err(ApplyError::db("resolve the tables the migration writes"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let all = crate::snapshot::observe::reachable(&mut tx, &oids).map_err(ApplyError::db(
            "follow the foreign keys of the tables the migration writes",
        ))?;
        tx.commit().map_err(ApplyError::db("commit"))?;
        Ok(all)
    })();
    let tables = match tables {
        Ok(t) => t,
        Err(e) => {
            ctx.note(&format!(
                "capture triggers are installed inside the step ({e})"
            ));
            return;
        }
    };
    for oid in tables {
        let result = client
            .transaction()
            .map_err(crate::snapshot::observe::ObserveError::from)
            .and_then(|mut tx| {
                crate::snapshot::observe::catalog_path(&mut tx, |tx| {
                    crate::snapshot::observe::install(tx, oid)
                })?;
                tx.commit()?;
                Ok(())
            });
        if let Err(e) = result {
            ctx.note(&format!(
                "capture triggers for table {oid} are installed inside the step instead: {e}"
            ));
        }
    }
}

/// The OIDs of the tables a statement names: those its DML writes, and those its DDL alters
/// (whose rewrite is then expected), plus the columns a type change rewrites `USING` an
/// expression.
fn named_tables(
    tx: &mut Transaction<'_>,
    step: &Step,
) -> Result<(Vec<u32>, Covered), postgres::Error> {
    let mut dml = vec![];
    let mut covered = Covered::default();
    for e in &step.effects {
        for name in e.op.tables() {
            let oid: Option<u32> = tx
                .query_one(
                    "SELECT pg_catalog.to_regclass($1)::oid",
                    &[&capture::quote_dotted(name)],
                )?
                .get(0);
            let Some(oid) = oid else { continue };
            match &e.op {
                Op::Delete { .. } | Op::Update { .. } | Op::Insert { .. } => dml.push(oid),
                Op::Truncate { .. } | Op::DropTable { .. } => {}
                Op::AlterColumnType {
                    column,
                    using: true,
                    using_cast: false,
                    ..
                } => {
                    covered.named.insert(oid);
                    covered.using.insert((oid, column.clone()));
                }
                _ => {
                    covered.named.insert(oid);
                }
            }
        }
    }
    Ok((dml, covered))
}

#[allow(clippy::too_many_arguments)]
fn run_statement(
    tx: &mut Transaction<'_>,
    observer: &mut Observer,
    ctx: &Ctx<'_>,
    migration_id: &str,
    version: &str,
    script: &ScriptAnalysis,
    step: &Step,
    soft_drop: bool,
    out: &mut ScriptRun,
) -> Result<(), ApplyError> {
    let text = script.text(step);
    let location = format!("{}:{}", script.path.display(), step.start.line);
    let started = Instant::now();
    let guard = Guard {
        migration: migration_id.to_string(),
        statement: collapse(text),
        location: Some(location.clone()),
    };
    let mut snapshot = Pending {
        writer: None,
        objects: vec![],
        notes: vec![],
    };
    if destroys(step) {
        match capture::pre_capture(step, text) {
            Ok(requests) if !requests.is_empty() => match ctx.store {
                Some(store) => {
                    let writer = snapshot
                        .writer
                        .insert(store.begin(ctx.target_name).map_err(ApplyError::Store)?);
                    let pb = ProgressBar::hidden();
                    let captured = capture::capture_with(
                        tx,
                        ctx.target,
                        writer,
                        &requests,
                        CaptureOptions { lock_tables: true },
                        ctx.progress.unwrap_or(&pb),
                    )
                    .map_err(|e| ApplyError::Capture(location.clone(), e))?;
                    snapshot.objects.extend(captured.objects);
                    snapshot.notes.extend(captured.notes);
                }
                None => match ctx.accept_risk {
                    Some(_) => out
                        .unprotected
                        .push(format!("{location}: no snapshot store configured")),
                    None => {
                        return Err(ApplyError::Unsupported(format!(
                            "{location}: this statement destroys data and no snapshot store is configured: set [snapshots] store or pass --store"
                        )));
                    }
                },
            },
            Ok(_) => {}
            Err(e) => match ctx.accept_risk {
                Some(_) => out.unprotected.push(format!("{location}: {e}")),
                None => return Err(ApplyError::Capture(location, e)),
            },
        }
    }
    let (dml, mut covered) =
        named_tables(tx, step).map_err(ApplyError::db("resolve the statement's tables"))?;
    for (table, reason) in ctx.accept_loss {
        let oid: Option<u32> = tx
            .query_one("SELECT pg_catalog.to_regclass($1)::oid", &[table])
            .map_err(ApplyError::db("resolve an --accept-loss table"))?
            .get(0);
        if let Some(oid) = oid {
            covered.accepted.insert(oid, format!("{table}: {reason}"));
        }
    }
    covered.add_objects(observer.catalog(), &snapshot.objects);
    crate::snapshot::observe::catalog_path(tx, |tx| covered.expand(tx)).map_err(ApplyError::db(
        "find the partitions and children of the statement's tables",
    ))?;
    observer
        .prepare(tx, &dml)
        .map_err(|e| ApplyError::observe(&location, e))?;
    // A statement that is one plain UPDATE tells the flush which columns it sets.
    if let ([e], [oid]) = (step.effects.as_slice(), dml.as_slice())
        && let Op::Update { columns, .. } = &e.op
    {
        observer
            .hint(tx, *oid, columns)
            .map_err(|e| ApplyError::observe(&location, e))?;
    }
    let deferred = if soft_drop && destroys(step) {
        defer::soft_drop(tx, text, version).map_err(ApplyError::db("soft drop"))?
    } else {
        None
    };
    match deferred {
        Some(d) => {
            ctx.note(&format!(
                "{}.{}.{} renamed aside to {} (dropped when finalised)",
                d.schema, d.table, d.column, d.aside
            ));
            out.deferred.push(d);
            observer
                .refresh(tx)
                .map_err(|e| ApplyError::observe(&location, e))?;
        }
        None => {
            let passed = observer.statement(
                tx,
                &covered,
                |sp| execute(sp, script, step).map_err(ApplyError::from_exec),
                |e| ApplyError::observe(&location, e),
            )?;
            for a in passed.accepted {
                ctx.note(&format!("{location}: the statement {a}"));
                out.accepted_loss.push(format!("{location}: {a}"));
            }
            for n in passed.notes {
                ctx.note(&format!("{location}: note: {n}"));
            }
            if passed.reruns > 0 {
                ctx.note(&format!(
                    "{location}: the statement wrote tables migsafe had not prepared for; it ran again with their capture trigger installed"
                ));
            }
        }
    }
    record(tx, observer, ctx, &location, guard, snapshot, started, out)
}

/// Flushes what the last observed statement changed into its snapshot (with what its
/// pre-capture already holds) and commits the snapshot's manifest.
#[allow(clippy::too_many_arguments)]
fn record(
    tx: &mut Transaction<'_>,
    observer: &mut Observer,
    ctx: &Ctx<'_>,
    location: &str,
    guard: Guard,
    mut snapshot: Pending,
    started: Instant,
    out: &mut ScriptRun,
) -> Result<(), ApplyError> {
    // What the statement really changed in rows that existed before the step.
    let first = snapshot.objects.len() + 1;
    let flushed = match ctx.store {
        Some(store) => {
            let mut open = || {
                store
                    .begin(ctx.target_name)
                    .map_err(crate::snapshot::observe::ObserveError::from)
            };
            observer.flush(tx, &mut snapshot.writer, Some(&mut open), first)
        }
        None => observer.flush(tx, &mut snapshot.writer, None, first),
    }
    .map_err(|e| ApplyError::observe(location, e))?;
    snapshot.objects.extend(flushed.objects);
    if !flushed.unstored.is_empty() {
        // Rows added to existing tables are the down's to remove; overwritten or deleted rows
        // need a store.
        let what = flushed.unstored.join(", ");
        match ctx.accept_risk {
            Some(_) => out.unprotected.push(format!(
                "{location}: changed {what} without a snapshot store"
            )),
            None => {
                return Err(ApplyError::Unsupported(format!(
                    "{location}: this statement changed {what} and no snapshot store is configured to record them: set [snapshots] store or pass --store"
                )));
            }
        }
    }
    if let Some(writer) = snapshot.writer {
        let id = commit(
            tx,
            ctx,
            writer,
            guard,
            snapshot.objects,
            snapshot.notes,
            started,
        )?;
        out.snapshots.push(id.0);
        out.manifest_sha256.push(id.1);
    }
    Ok(())
}

/// Deferred constraint triggers fire at COMMIT, after the last statement: they are fired here
/// instead (`SET CONSTRAINTS ALL IMMEDIATE`), observed like a statement, so what they write is
/// recorded and judged before the step commits.
fn fire_deferred(
    tx: &mut Transaction<'_>,
    observer: &mut Observer,
    ctx: &Ctx<'_>,
    migration_id: &str,
    script: &ScriptAnalysis,
    out: &mut ScriptRun,
) -> Result<(), ApplyError> {
    let location = format!("{}: deferred triggers at commit", script.path.display());
    let started = Instant::now();
    let passed = observer.statement(
        tx,
        &Covered::default(),
        |sp| {
            sp.batch_execute("SET CONSTRAINTS ALL IMMEDIATE")
                .map_err(ApplyError::db("fire deferred constraint triggers"))
        },
        |e| ApplyError::observe(&location, e),
    )?;
    for n in passed.notes {
        ctx.note(&format!("{location}: note: {n}"));
    }
    let guard = Guard {
        migration: migration_id.to_string(),
        statement: "SET CONSTRAINTS ALL IMMEDIATE".into(),
        location: Some(location.clone()),
    };
    let snapshot = Pending {
        writer: None,
        objects: vec![],
        notes: vec![],
    };
    record(tx, observer, ctx, &location, guard, snapshot, started, out)
}

/// A statement's snapshot while it is being written.
struct Pending {
    writer: Option<crate::snapshot::store::Writer>,
    objects: Vec<crate::snapshot::manifest::Object>,
    notes: Vec<String>,
}

/// Writes the manifest of a statement's snapshot (last, so it is complete before the step's
/// transaction can commit).
fn commit(
    tx: &mut Transaction<'_>,
    ctx: &Ctx<'_>,
    writer: crate::snapshot::store::Writer,
    guard: Guard,
    objects: Vec<crate::snapshot::manifest::Object>,
    notes: Vec<String>,
    started: Instant,
) -> Result<(String, String), ApplyError> {
    let identity = DatabaseIdentity::read(tx).map_err(ApplyError::db("read the identity"))?;
    let manifest = Manifest::new(
        Kind::Targeted,
        identity,
        Some(guard),
        objects,
        notes,
        started.elapsed().as_millis() as u64,
    );
    let (m, sha) = writer
        .commit_with_sha(manifest)
        .map_err(ApplyError::Store)?;
    ctx.note(&format!(
        "snapshot {} taken ({} rows, {} bytes)",
        m.id,
        m.total_rows(),
        m.total_bytes()
    ));
    Ok((m.id, sha))
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl ApplyError {
    /// An observed-capture failure at `location` (a `path:line`).
    pub(crate) fn observe(location: &str, e: crate::snapshot::observe::ObserveError) -> ApplyError {
        use crate::snapshot::observe::ObserveError as E;
        let at = if location.is_empty() {
            String::new()
        } else {
            format!("{location}: ")
        };
        match e {
            E::Unrecorded(what) => ApplyError::Unrecorded(format!(
                "{at}the statement {what}; lint did not predict this. The step was rolled back: nothing changed"
            )),
            E::Db(source) => ApplyError::Db {
                what: "record what the statement changed",
                source,
            },
            E::Store(e) => ApplyError::Store(e),
            E::Other(m) => ApplyError::Unsupported(format!("{at}{m}")),
        }
    }

    fn from_exec(e: ExecError) -> ApplyError {
        match e {
            ExecError::Statement(f) => ApplyError::Statement(f),
            ExecError::Connection(source) => ApplyError::Db {
                what: "run the migration",
                source,
            },
        }
    }
}
