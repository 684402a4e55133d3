//! `migsafe verify --target NAME`: round trips on the target's own schema instead of a replay.
//!
//! The target is only read, on a session whose transactions are all read-only (the same
//! reading as `migsafe drift`: the runner's history, migsafe's ledger, the schema fingerprint),
//! then `pg_dump --schema-only` of it (pg_dump reads in a read-only transaction of its own; the
//! password reaches it through the environment, never argv) into a private temporary directory.
//! The roles the schema refers to are created `NOLOGIN` on the verification server where they
//! are missing, so owners and grants restore as they are; the dump is restored with pg_restore
//! into a fresh database there. That database is the base the pending migrations' round trips
//! start from (`VerifyOptions::base`); it and the roles migsafe created are removed afterwards.
//!
//! With `sample_rows`, up to that many rows per table are copied from the target (one
//! read-only repeatable-read transaction: `COPY (SELECT … LIMIT n) TO STDOUT`) into the
//! restored database only, with foreign-key triggers off; rows that then violate a foreign
//! key are deleted until none does, so the sample is consistent.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context as _, anyhow, bail};
use postgres::Client;
use postgres::types::ToSql;
use serde::Serialize;

use super::Server;
use crate::classify::Analysis;
use crate::config::{DriftIgnore, TargetConfig};
use crate::pg::fingerprint::{self, Exclude};
use crate::pg::quote_ident;
use crate::snapshot::full;
use crate::source::Project;

/// Rows copied from the target into one table of the restored database.
#[derive(Debug, Clone, Serialize)]
pub struct Sampled {
    /// `schema.table`, quoted where SQL needs it.
    pub table: String,
    /// Rows copied (at most `--sample-rows`).
    pub copied: u64,
    /// Of those, rows deleted because the rows they refer to were not copied.
    pub removed: u64,
}

/// How `prepare` works.
pub struct TargetOptions<'a> {
    /// `[drift] ignore`, left out of schema ids.
    pub ignore: &'a [DriftIgnore],
    /// Rows per table to copy from the target (0: none).
    pub sample_rows: usize,
    /// The verification server is the user's (`--database-url`): drop the roles migsafe
    /// created there afterwards. On the scratch cluster they go with it.
    pub drop_roles: bool,
}

/// The target's schema, restored on the verification server, and what was read from the
/// target. Dropping it drops the restored database (and the roles created, with `drop_roles`).
pub struct Prepared<'a> {
    /// The target's name in migsafe.toml.
    pub name: String,
    /// Its URL, the password hidden.
    pub database: String,
    /// Migrations the target's history counts as applied, in apply order.
    pub applied: Vec<String>,
    /// Migrations the runner would apply next (pending and out of order): the ones verified.
    pub pending: HashSet<String>,
    /// The target's live schema id (`drift::schema_id`).
    pub live_schema: String,
    /// The schema id of the restored copy: equal to `live_schema` unless the dump could not
    /// carry something (see `schema_diff`).
    pub restored_schema: String,
    /// `- target, + restored copy`, when they differ.
    pub schema_diff: Option<String>,
    /// migsafe's schema and the runner's history table, left out of every fingerprint.
    pub exclude: Exclude,
    /// The target's session settings (`search_path`) for every phase of a round trip.
    pub settings: Vec<(String, String)>,
    /// Columns `migsafe apply` kept aside on the target (`table`, `column`): in the restored
    /// copy too, and left out of its schema ids as they are out of the target's.
    pub kept: Vec<(String, String)>,
    /// Rows copied per table (`sample_rows`).
    pub sampled: Vec<Sampled>,
    /// What limits the result.
    pub notes: Vec<String>,
    /// The round trips may run as the server's role without privileges: it was made a member
    /// of the roles that own the restored schema, none of which is a superuser.
    pub unprivileged: bool,
    cleanup: Cleanup<'a>,
}

impl Prepared<'_> {
    /// The restored database: the base for `VerifyOptions::base`.
    pub fn database_name(&self) -> &str {
        self.cleanup.db.as_deref().unwrap_or_default()
    }
}

/// Removes what `prepare` created on the verification server, also when it fails part way.
struct Cleanup<'a> {
    server: &'a Server,
    db: Option<String>,
    roles: Vec<String>,
    drop_roles: bool,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let Ok(mut admin) = self.server.admin() else {
            return;
        };
        if let Some(db) = self.db.take() {
            let force = if self.server.major_version() >= 13 {
                " WITH (FORCE)"
            } else {
                ""
            };
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {}{force}",
                quote_ident(&db)
            ));
        }
        if self.drop_roles {
            for r in std::mem::take(&mut self.roles) {
                if let Err(e) =
                    admin.batch_execute(&format!("DROP ROLE IF EXISTS {}", quote_ident(&r)))
                {
                    eprintln!(
                        "warning: cannot drop role {r}, which migsafe created for the restore: {}",
                        crate::pg::error_text(&e)
                    );
                }
            }
        }
    }
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Reads the target `t` (read-only), restores its schema on `server` and copies sample rows.
pub fn prepare<'a>(
    t: &TargetConfig,
    analysis: &Analysis,
    server: &'a Server,
    opts: &TargetOptions<'_>,
) -> anyhow::Result<Prepared<'a>> {
    let name = &t.name;
    let project = Project {
        runner: analysis.runner,
        runner_hint: analysis.runner_hint.clone(),
        root: analysis.root.clone(),
        dirs: Vec::new(),
        migrations: analysis
            .migrations
            .iter()
            .map(|m| m.migration.clone())
            .collect(),
    };
    let mut database = None;
    let (read, mut source) = crate::drift::read_target_session(t, &project, &mut database)
        .map_err(|e| match &database {
            Some(d) => anyhow!("target `{name}` ({d}): {e}"),
            None => anyhow!("target `{name}`: {e}"),
        })?;
    let status = &read.status;
    if let Some(d) = &status.dirty {
        bail!(
            "target `{name}`: the history is dirty ({d}): the runner would refuse to go on, so there is nothing to verify on; repair the target first"
        );
    }
    if !status.missing_on_disk.is_empty() {
        bail!(
            "target `{name}`: the history names applied migrations with no file on disk ({}): this checkout does not know the target's migrations",
            status.missing_on_disk.join(", ")
        );
    }
    let mut notes = read.notes.clone();
    if read.kept > 0 {
        notes.push(format!(
            "{} column(s) kept aside by `migsafe apply` until `migsafe finalise` are left out of the target's schema id",
            read.kept
        ));
    }
    for (id, detail) in &status.edited {
        notes.push(format!(
            "applied migration {id} was edited after it ran ({detail}): the target has what ran, not the file"
        ));
    }
    let applied: Vec<String> = crate::drift::applied_migrations(analysis, status)
        .iter()
        .map(|m| m.migration.id())
        .collect();
    let pending: HashSet<String> = status
        .pending
        .iter()
        .chain(&status.out_of_order)
        .cloned()
        .collect();
    let live_schema = crate::drift::schema_id(&read.actual, opts.ignore);
    let ro = |e: postgres::Error| anyhow!("target `{name}`: {}", crate::pg::error_text(&e));
    let search_path: String = source
        .query_one("SHOW search_path", &[])
        .map_err(ro)?
        .get(0);
    let row = source
        .query_one(
            "SELECT pg_catalog.current_setting('server_version_num')::int4",
            &[],
        )
        .map_err(ro)?;
    let target_major = row.get::<_, i32>(0) as u32 / 10000;
    let mut roles = referenced_roles(&mut source).map_err(ro)?;
    // The role the target's sessions switch to must exist where the round trips run.
    if let Some((_, role)) = t.session.iter().find(|(k, _)| k == "role")
        && !role.eq_ignore_ascii_case("none")
        && !roles.contains(role)
    {
        roles.push(role.clone());
    }

    // The dump, in a directory only this user can read (tempfile creates it 0700).
    let tmp = tempfile::Builder::new()
        .prefix("migsafe-verify-target-")
        .tempdir()
        .context("cannot create a temporary directory for the schema dump")?;
    let file = tmp.path().join("schema.dump");
    let pg_dump = full::find_program(None, "pg_dump")?;
    let tool = full::tool_major(&pg_dump)?;
    if tool < target_major {
        bail!(
            "{} is version {tool}, older than target `{name}` (PostgreSQL {target_major}): pg_dump cannot dump a newer server; install the PostgreSQL {target_major} client programs",
            pg_dump.display()
        );
    }
    let mut cmd = full::tool_command(&pg_dump, &read.target);
    cmd.arg("--schema-only")
        // migsafe's own bookkeeping is no part of the schema migrations run on.
        .arg("--exclude-schema=migsafe")
        .arg("--format=custom")
        .arg("--no-password")
        .arg("--file")
        .arg(&file);
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {}", pg_dump.display()))?;
    full::check_status(
        out.status,
        String::from_utf8_lossy(&out.stderr).trim(),
        "pg_dump",
        &read.target,
    )?;

    // A fresh database on the verification server.
    let mut cleanup = Cleanup {
        server,
        db: None,
        roles: Vec::new(),
        drop_roles: opts.drop_roles,
    };
    let mut admin = server
        .admin()
        .context("cannot connect to the verification server")?;
    let db = format!(
        "migsafe_verify_target_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    admin
        .batch_execute(&format!(
            "CREATE DATABASE {} TEMPLATE template0",
            quote_ident(&db)
        ))
        .map_err(|e| {
            anyhow!(
                "cannot create a scratch database (the role needs the CREATEDB privilege): {}",
                crate::pg::error_text(&e)
            )
        })?;
    cleanup.db = Some(db.clone());
    let superuser: bool = admin
        .query_one(
            "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user",
            &[],
        )
        .map_err(|e| anyhow!("{}", crate::pg::error_text(&e)))?
        .get(0);
    if superuser {
        for r in &roles {
            let exists = admin
                .query_opt("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", &[r])
                .map_err(|e| anyhow!("{}", crate::pg::error_text(&e)))?
                .is_some();
            if exists {
                continue;
            }
            match admin.batch_execute(&format!("CREATE ROLE {} NOLOGIN", quote_ident(r))) {
                Ok(()) => cleanup.roles.push(r.clone()),
                // Created meanwhile by someone else: it exists, which is all the restore needs.
                Err(e) if e.code() == Some(&postgres::error::SqlState::DUPLICATE_OBJECT) => {}
                Err(e) if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) => {}
                Err(e) => bail!(
                    "cannot create role {r} for the restore: {}",
                    crate::pg::error_text(&e)
                ),
            }
        }
    } else {
        notes.push(
            "the verification server's role is not a superuser: the schema was restored without owners and grants (--no-owner --no-privileges)".into(),
        );
    }
    drop(admin);
    // The dump leaves out migsafe's schema, but the capture triggers `migsafe apply` installed
    // on the target's tables call its function: create it first so that they restore.
    server
        .connect(&db)
        .context("cannot connect to the scratch database")?
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS \"migsafe\"; {}",
            crate::snapshot::observe::FUNCTION_SQL
        ))
        .map_err(|e| {
            anyhow!(
                "cannot prepare the scratch database for the target's capture triggers: {}",
                crate::pg::error_text(&e)
            )
        })?;

    let pg_restore = full::find_program(None, "pg_restore")?;
    let into = server.target().with_dbname(&db);
    let mut cmd = full::tool_command(&pg_restore, &into);
    cmd.arg("--no-password")
        .arg("--exit-on-error")
        .arg(format!("--dbname=dbname='{}'", full::conninfo_escape(&db)));
    if !superuser {
        cmd.arg("--no-owner").arg("--no-privileges");
    }
    cmd.arg(&file);
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {}", pg_restore.display()))?;
    full::check_status(
        out.status,
        String::from_utf8_lossy(&out.stderr).trim(),
        "pg_restore (of the target's schema)",
        &into,
    )
    .with_context(|| format!("cannot restore the schema of target `{name}`"))?;
    drop(tmp);

    let mut scratch = server
        .connect(&db)
        .context("cannot connect to the restored database")?;
    let mut sampled = Vec::new();
    if opts.sample_rows > 0 {
        if !superuser {
            bail!(
                "--sample-rows needs a superuser on the verification server (foreign-key triggers are switched off while rows are copied); use the scratch cluster (no --database-url)"
            );
        }
        sampled = sample(&mut source, &mut scratch, &read.exclude, opts.sample_rows)
            .with_context(|| format!("cannot copy sample rows from target `{name}`"))?;
    }
    drop(source);
    let restored = fingerprint::fingerprint(&mut scratch, &read.exclude).map_err(|e| {
        anyhow!(
            "cannot read the restored schema: {}",
            crate::pg::error_text(&e)
        )
    })?;
    // With a role without privileges on the server, the round trips run as it: a member of the
    // (non-superuser) roles that own the restored schema, so it may alter their objects. A
    // schema a superuser owns can only be altered by one.
    let mut unprivileged = false;
    if let Some(runner) = server.runner_name() {
        let owner: Option<String> = scratch
            .query_opt(SUPERUSER_OWNED, &[])
            .map_err(|e| anyhow!("{}", crate::pg::error_text(&e)))?
            .map(|r| r.get(0));
        match owner {
            Some(su) => notes.push(format!(
                "the target's schema has objects owned by {su}, a superuser: the round trips run as the scratch cluster's superuser"
            )),
            None => {
                for r in &roles {
                    scratch
                        .batch_execute(&format!(
                            "GRANT {} TO {}",
                            quote_ident(r),
                            quote_ident(runner)
                        ))
                        .map_err(|e| {
                            anyhow!(
                                "cannot let the round trips act as role {r}: {}",
                                crate::pg::error_text(&e)
                            )
                        })?;
                }
                unprivileged = true;
            }
        }
    }
    drop(scratch);
    let restored = crate::drift::hide_kept(restored, &read.kept_columns);
    let restored_schema = crate::drift::schema_id(&restored, opts.ignore);
    let schema_diff = (restored_schema != live_schema).then(|| {
        fingerprint::diff_named(
            &read.actual.without_column_order(),
            &restored.without_column_order(),
            ("target", "restored copy"),
        )
    });
    if schema_diff.is_some() {
        notes.push(format!(
            "the restored copy of the schema differs from the target's (schema {}): receipts name the copy's",
            short(&restored_schema)
        ));
    }
    Ok(Prepared {
        name: name.clone(),
        database: read.database.clone(),
        applied,
        pending,
        live_schema,
        restored_schema,
        schema_diff,
        exclude: read.exclude.clone(),
        settings: session_settings(&t.session, search_path),
        kept: read.kept_columns.clone(),
        sampled,
        notes,
        unprivileged,
        cleanup,
    })
}

/// The settings of every phase's session: the target's configured `session` settings, and the
/// `search_path` its sessions have unless those set one.
fn session_settings(configured: &[(String, String)], search_path: String) -> Vec<(String, String)> {
    let mut out = configured.to_vec();
    if !out.iter().any(|(k, _)| k == "search_path") {
        out.insert(0, ("search_path".into(), search_path));
    }
    out
}

/// The first 12 hex digits of a schema id, as reports show it.
pub fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// Roles the target database's objects refer to (owners, grantees), except PostgreSQL's own.
/// A superuser that owns a schema, table, function or type of the restored database (objects of
/// extensions and of migsafe's own schema aside), if any.
const SUPERUSER_OWNED: &str = "WITH own(owner, nsp, oid, cls) AS (
       SELECT n.nspowner, n.oid, n.oid, 'pg_catalog.pg_namespace'::pg_catalog.regclass FROM pg_catalog.pg_namespace n
       UNION ALL SELECT c.relowner, c.relnamespace, c.oid, 'pg_catalog.pg_class'::pg_catalog.regclass FROM pg_catalog.pg_class c
       UNION ALL SELECT p.proowner, p.pronamespace, p.oid, 'pg_catalog.pg_proc'::pg_catalog.regclass FROM pg_catalog.pg_proc p
       UNION ALL SELECT t.typowner, t.typnamespace, t.oid, 'pg_catalog.pg_type'::pg_catalog.regclass FROM pg_catalog.pg_type t)
     SELECT r.rolname::text FROM own
     JOIN pg_catalog.pg_namespace n ON n.oid = own.nsp
     JOIN pg_catalog.pg_roles r ON r.oid = own.owner
     WHERE r.rolsuper
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'migsafe')
       AND n.nspname !~ '^pg_'
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                       WHERE d.classid = own.cls AND d.objid = own.oid AND d.deptype = 'e')
     LIMIT 1";

fn referenced_roles(c: &mut Client) -> Result<Vec<String>, postgres::Error> {
    let rows = c.query(
        "SELECT r.rolname::text FROM pg_catalog.pg_roles r
          WHERE r.rolname !~ '^pg_'
            AND (r.oid IN (SELECT d.refobjid FROM pg_catalog.pg_shdepend d
                            WHERE d.refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass
                              AND d.dbid = (SELECT oid FROM pg_catalog.pg_database
                                             WHERE datname = pg_catalog.current_database()))
                 OR r.oid IN (SELECT nspowner FROM pg_catalog.pg_namespace
                              UNION SELECT relowner FROM pg_catalog.pg_class
                              UNION SELECT proowner FROM pg_catalog.pg_proc
                              UNION SELECT typowner FROM pg_catalog.pg_type))
          ORDER BY 1",
        &[],
    )?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Copies up to `n` rows per table from `source` (read-only) into `scratch`, then deletes rows
/// that violate a foreign key there, until none does.
fn sample(
    source: &mut Client,
    scratch: &mut Client,
    exclude: &Exclude,
    n: usize,
) -> anyhow::Result<Vec<Sampled>> {
    let (schemas, tables) = exclude.pairs();
    let mut tx = source
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    let version: i32 = tx
        .query_one(
            "SELECT pg_catalog.current_setting('server_version_num')::int4",
            &[],
        )?
        .get(0);
    // Generated columns are computed again on the way in; identity columns take the copied
    // value (COPY FROM writes identity columns, GENERATED ALWAYS included).
    let not_generated = if version >= 120000 {
        "AND a.attgenerated = ''"
    } else {
        ""
    };
    let params: [&(dyn ToSql + Sync); 2] = [&schemas, &tables];
    let list = tx.query(
        &format!(
            "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname),
                    ARRAY(SELECT pg_catalog.quote_ident(a.attname) FROM pg_catalog.pg_attribute a
                           WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped {not_generated}
                           ORDER BY a.attnum)
               FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind = 'r'
                AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
                AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                                 WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                   AND d.objid = c.oid AND d.deptype = 'e')
                AND NOT EXISTS (SELECT 1 FROM unnest($1::text[], $2::text[]) AS x(s, t)
                                 WHERE (x.s IS NULL OR x.s = n.nspname)
                                   AND (x.t IS NULL OR x.t = c.relname))
              ORDER BY 1"
        ),
        &params,
    )?;
    scratch.batch_execute("SET session_replication_role = replica; SET search_path = ''")?;
    let mut out = Vec::new();
    for r in &list {
        let table: String = r.get(0);
        let columns: Vec<String> = r.get(1);
        if columns.is_empty() {
            continue;
        }
        let cols = columns.join(", ");
        let mut reader = tx.copy_out(&format!(
            "COPY (SELECT {cols} FROM ONLY {table} LIMIT {n}) TO STDOUT"
        ))?;
        let mut writer = scratch.copy_in(&format!("COPY {table} ({cols}) FROM STDIN"))?;
        std::io::copy(&mut reader, &mut writer)
            .with_context(|| format!("copying rows of {table}"))?;
        let copied = writer.finish()?;
        drop(reader);
        out.push(Sampled {
            table,
            copied,
            removed: 0,
        });
    }
    let _ = tx.rollback();
    let removed = remove_orphans(scratch)?;
    for s in &mut out {
        s.removed = removed.get(&s.table).copied().unwrap_or(0);
    }
    advance_sequences(scratch, &out)?;
    scratch.batch_execute("RESET session_replication_role; RESET search_path")?;
    Ok(out)
}

/// Deletes rows whose foreign key points at no row, repeating while a pass deletes any (a
/// deleted parent orphans its children). Returns the rows deleted per table.
fn remove_orphans(c: &mut Client) -> anyhow::Result<BTreeMap<String, u64>> {
    let fks = c.query(
        "SELECT k.conrelid::pg_catalog.regclass::text, ch.relkind = 'r',
                k.confrelid::pg_catalog.regclass::text, pa.relkind = 'r',
                k.confmatchtype = 'f',
                ARRAY(SELECT pg_catalog.quote_ident(a.attname)
                        FROM unnest(k.conkey) WITH ORDINALITY AS x(attnum, i)
                        JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = x.attnum
                       ORDER BY x.i),
                ARRAY(SELECT pg_catalog.quote_ident(a.attname)
                        FROM unnest(k.confkey) WITH ORDINALITY AS x(attnum, i)
                        JOIN pg_catalog.pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = x.attnum
                       ORDER BY x.i)
           FROM pg_catalog.pg_constraint k
           JOIN pg_catalog.pg_class ch ON ch.oid = k.conrelid
           JOIN pg_catalog.pg_class pa ON pa.oid = k.confrelid
          WHERE k.contype = 'f' AND k.conparentid = 0
          ORDER BY 1, 3",
        &[],
    )?;
    let mut statements = Vec::new();
    for f in &fks {
        let (child, child_plain, parent, parent_plain, full): (String, bool, String, bool, bool) =
            (f.get(0), f.get(1), f.get(2), f.get(3), f.get(4));
        let (from, to): (Vec<String>, Vec<String>) = (f.get(5), f.get(6));
        // MATCH SIMPLE: a row with any NULL in the key refers to nothing; MATCH FULL: only
        // an all-NULL key does (a partly NULL one violates the constraint).
        let nulls = from
            .iter()
            .map(|c| format!("c.{c} IS NULL"))
            .collect::<Vec<_>>();
        let refers = if full {
            format!("NOT ({})", nulls.join(" AND "))
        } else {
            format!("NOT ({})", nulls.join(" OR "))
        };
        let matches = from
            .iter()
            .zip(&to)
            .map(|(a, b)| format!("p.{b} = c.{a}"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let only = |plain: bool| if plain { "ONLY " } else { "" };
        statements.push((
            child.clone(),
            format!(
                "DELETE FROM {}{child} AS c WHERE {refers} AND NOT EXISTS (SELECT 1 FROM {}{parent} AS p WHERE {matches})",
                only(child_plain),
                only(parent_plain)
            ),
        ));
    }
    let mut removed: BTreeMap<String, u64> = BTreeMap::new();
    loop {
        let mut any = false;
        for (table, sql) in &statements {
            let n = c.execute(sql.as_str(), &[])?;
            if n > 0 {
                any = true;
                *removed.entry(table.clone()).or_default() += n;
            }
        }
        if !any {
            return Ok(removed);
        }
    }
}

/// Moves the sequences of serial and identity columns past the copied values, so that rows a
/// migration inserts do not collide with the sample.
fn advance_sequences(c: &mut Client, sampled: &[Sampled]) -> anyhow::Result<()> {
    let names: Vec<String> = sampled
        .iter()
        .filter(|s| s.copied > s.removed)
        .map(|s| s.table.clone())
        .collect();
    let rows = c.query(
        "SELECT t.name, pg_catalog.quote_ident(a.attname),
                pg_catalog.pg_get_serial_sequence(t.name, a.attname)
           FROM unnest($1::text[]) AS t(name)
           JOIN pg_catalog.pg_attribute a ON a.attrelid = t.name::pg_catalog.regclass
          WHERE a.attnum > 0 AND NOT a.attisdropped
            AND pg_catalog.pg_get_serial_sequence(t.name, a.attname) IS NOT NULL",
        &[&names],
    )?;
    for r in &rows {
        let (table, column, seq): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        // Best effort: a value outside the sequence's bounds leaves it where it is.
        let _ = c.execute(
            &format!(
                "SELECT pg_catalog.setval($1::text::pg_catalog.regclass, max({column})::int8) FROM {table} HAVING max({column}) IS NOT NULL"
            ),
            &[&seq],
        );
    }
    Ok(())
}
