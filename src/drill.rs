//! Restore drills: prove that a snapshot can really be restored, and how long it takes.
//!
//! A drill checks every file of a snapshot against its manifest, restores it into a scratch
//! database (an ephemeral cluster, or a throwaway database on a server the user names), verifies
//! what came back, and times each phase. Its report is kept in `<store>/_drills/<target>/` so that
//! `migsafe plan` can require a recent passing drill before an irreversible step may leak.
//!
//! - Targeted snapshots: every data file is loaded into plain tables and exported again
//!   ([`restore::rehearse`]): row counts and content sha256 must match the manifest.
//! - Full snapshots: `pg_restore` into the scratch database, then an exact `count(*)` of every
//!   table the manifest counted.
//!
//! A drill never touches a target.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::pg::Cluster;
use crate::pg::connect::{self, Target, Throwaway};
use crate::pg::quote_ident;
use crate::snapshot::manifest::ObjectKind;
use crate::snapshot::store::Entry;
use crate::snapshot::{Kind, Manifest, Store, full, restore};

/// The drill report format this migsafe writes.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrillResult {
    Passed,
    Failed,
}

impl DrillResult {
    pub fn label(self) -> &'static str {
        match self {
            DrillResult::Passed => "passed",
            DrillResult::Failed => "FAILED",
        }
    }
}

/// One timed phase: `checksums`, `scratch`, `restore`, `verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    pub name: String,
    pub ms: u64,
}

/// What came back for one captured object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectCheck {
    /// `schema.name`.
    pub object: String,
    pub kind: String,
    /// Rows the manifest records.
    pub expected_rows: u64,
    /// Rows found after the restore.
    pub rows: u64,
    /// Targeted snapshots: the restored rows, exported again, hash to the file's sha256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_matches: Option<bool>,
    /// Row changes: the rollback's restore, run on the rows as the statement left them, gave
    /// back exactly the rows it found (binary image equality) with no conflict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_matches: Option<bool>,
    pub ok: bool,
}

/// `<store>/_drills/<target>/<id>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillReport {
    pub schema_version: u32,
    pub id: String,
    pub snapshot: String,
    pub target: String,
    pub kind: Kind,
    /// Size of the snapshot's files.
    pub bytes: u64,
    /// Rows the manifest records.
    pub rows: u64,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub phases: Vec<Phase>,
    /// Time of the restore phase alone: what a real restore of this snapshot would take.
    pub restore_ms: u64,
    pub total_ms: u64,
    pub result: DrillResult,
    /// Why it failed (empty when it passed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ObjectCheck>,
    /// Where it ran: `scratch cluster`, or the redacted URL of the server.
    pub scratch: String,
    /// `server_version` of the scratch server (absent when the drill stopped before starting it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scratch_postgres: Option<String>,
    /// `server_version` of the server the snapshot came from.
    pub source_postgres: String,
    pub migsafe_version: String,
}

impl DrillReport {
    pub fn passed(&self) -> bool {
        self.result == DrillResult::Passed
    }

    pub fn phase_ms(&self, name: &str) -> Option<u64> {
        self.phases.iter().find(|p| p.name == name).map(|p| p.ms)
    }
}

/// Where drills restore.
#[derive(Debug, Clone, Default)]
pub struct DrillOptions {
    /// A server to create a throwaway database on (the role needs CREATEDB); `None` starts an
    /// ephemeral cluster.
    pub server: Option<Target>,
    /// Leave the scratch database (and cluster) in place afterwards, for inspection.
    pub keep_scratch: bool,
    /// `pg_restore -j` for full snapshots (0: the number of CPUs).
    pub jobs: usize,
}

/// A drill's report, and how to reach the scratch database when it was kept.
#[derive(Debug)]
pub struct DrillOutcome {
    pub report: DrillReport,
    pub kept: Option<String>,
}

/// The scratch database a drill restores into (one per drill: size does not matter).
#[allow(clippy::large_enum_variant)]
enum Scratch {
    Cluster {
        cluster: Cluster,
        target: Target,
        /// The drill database as its owner, the cluster's role without privileges.
        runner: Target,
    },
    Server(Throwaway),
}

impl Scratch {
    fn target(&self) -> &Target {
        match self {
            Scratch::Cluster { target, .. } => target,
            Scratch::Server(t) => t.target(),
        }
    }

    fn keep(self) -> String {
        match self {
            Scratch::Cluster {
                cluster, target, ..
            } => {
                format!("scratch database {target}\n{}", cluster.keep())
            }
            Scratch::Server(t) => {
                let msg = format!(
                    "scratch database kept: {} (drop it with: DROP DATABASE {})",
                    t.target(),
                    quote_ident(t.name())
                );
                // Throwaway drops its database on Drop; forgetting it keeps the database (the
                // connections close when the process exits).
                std::mem::forget(t);
                msg
            }
        }
    }
}

fn ms(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

/// A drill id: UTC time to the second, then 6 hex digits of randomness (sorts by time).
fn new_id() -> String {
    use std::io::Read;
    let now = jiff::Timestamp::now();
    let mut rand = [0u8; 3];
    if std::fs::File::open("/dev/urandom")
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

/// Current time, RFC 3339 UTC to the second.
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Runs one drill of a complete snapshot. A snapshot that does not come back intact is a failed
/// drill (in the report); not being able to run the drill at all (no scratch server) is an error.
pub fn run(
    store: &Store,
    entry: &Entry,
    opts: &DrillOptions,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<DrillOutcome> {
    let manifest = entry
        .manifest()
        .with_context(|| format!("{}: not a complete snapshot", entry.dir.display()))?;
    let started = Instant::now();
    let mut report = DrillReport {
        schema_version: SCHEMA_VERSION,
        id: new_id(),
        snapshot: manifest.id.clone(),
        target: manifest.target.clone(),
        kind: manifest.kind,
        bytes: manifest.total_bytes(),
        rows: manifest.total_rows(),
        started_at: now_rfc3339(),
        phases: vec![],
        restore_ms: 0,
        total_ms: 0,
        result: DrillResult::Passed,
        reasons: vec![],
        objects: vec![],
        scratch: match &opts.server {
            Some(t) => t.redacted(),
            None => "scratch cluster".into(),
        },
        scratch_postgres: None,
        source_postgres: manifest.database.server_version.clone(),
        migsafe_version: crate::snapshot::MIGSAFE_VERSION.to_string(),
    };

    progress.set_message(format!("{}: checking checksums", manifest.id));
    let t = Instant::now();
    let problems = store.check(entry);
    report.phases.push(Phase {
        name: "checksums".into(),
        ms: ms(t),
    });
    if !problems.is_empty() {
        report.result = DrillResult::Failed;
        report.reasons = problems.iter().map(|p| p.to_string()).collect();
        report.total_ms = ms(started);
        return Ok(DrillOutcome { report, kept: None });
    }

    progress.set_message(format!("{}: preparing a scratch database", manifest.id));
    let t = Instant::now();
    let scratch = start_scratch(opts)?;
    let mut client = connect::connect(scratch.target()).with_context(|| {
        format!(
            "cannot connect to the scratch database {}",
            scratch.target()
        )
    })?;
    let version: String = client
        .query_one("SELECT current_setting('server_version')", &[])
        .context("cannot read the scratch server's version")?
        .get(0);
    report.scratch_postgres = Some(version);
    report.phases.push(Phase {
        name: "scratch".into(),
        ms: ms(t),
    });

    progress.set_message(format!("{}: restoring", manifest.id));
    match manifest.kind {
        Kind::Targeted => {
            let t = Instant::now();
            let rehearsed = restore::rehearse(&mut client, entry, manifest, progress);
            report.restore_ms = ms(t);
            report.phases.push(Phase {
                name: "restore".into(),
                ms: report.restore_ms,
            });
            let t = Instant::now();
            match rehearsed {
                Err(e) => report.reasons.push(format!("restore failed: {e}")),
                Ok(rehearsals) => check_rehearsals(manifest, &rehearsals, &mut report),
            }
            report.phases.push(Phase {
                name: "verify".into(),
                ms: ms(t),
            });
        }
        Kind::Full => {
            let t = Instant::now();
            // On migsafe's own cluster the dump is loaded by a role without privileges: what
            // its CHECK constraints, triggers and index expressions run cannot act as superuser.
            let (into, extensions_by) = match &scratch {
                Scratch::Cluster { runner, target, .. } => (runner, Some(target.clone())),
                Scratch::Server(t) => (t.target(), None),
            };
            let restored = full::restore(
                entry,
                manifest,
                into,
                &full::RestoreOptions {
                    jobs: opts.jobs,
                    clean: false,
                    no_owner: true,
                    bindir: match &scratch {
                        Scratch::Cluster { cluster, .. } => Some(cluster.bindir().to_path_buf()),
                        Scratch::Server(_) => None,
                    },
                    extensions_by,
                },
                progress,
            );
            report.restore_ms = ms(t);
            report.phases.push(Phase {
                name: "restore".into(),
                ms: report.restore_ms,
            });
            let t = Instant::now();
            match restored {
                Err(e) => report.reasons.push(format!("restore failed: {e}")),
                Ok(()) => {
                    progress.set_message(format!("{}: counting rows", manifest.id));
                    count_rows(&mut client, manifest, &mut report);
                }
            }
            report.phases.push(Phase {
                name: "verify".into(),
                ms: ms(t),
            });
        }
    }
    drop(client);
    if !report.reasons.is_empty() {
        report.result = DrillResult::Failed;
    }
    let kept = if opts.keep_scratch {
        Some(scratch.keep())
    } else {
        if let Scratch::Server(t) = scratch {
            t.remove()
                .context("the drill ran, but its throwaway database could not be dropped")?;
        }
        None
    };
    report.total_ms = ms(started);
    Ok(DrillOutcome { report, kept })
}

fn start_scratch(opts: &DrillOptions) -> anyhow::Result<Scratch> {
    match &opts.server {
        Some(server) => Ok(Scratch::Server(
            Throwaway::create(server, "drill")
                .context("cannot create a scratch database for the drill")?,
        )),
        None => {
            let cluster =
                Cluster::start_private().context("cannot start a scratch PostgreSQL cluster")?;
            let mut admin = cluster
                .connect("postgres")
                .context("cannot connect to the scratch cluster")?;
            admin
                .batch_execute(&format!(
                    "CREATE DATABASE migsafe_drill TEMPLATE template0 OWNER {}",
                    crate::pg::cluster::RUNNER
                ))
                .context("cannot create the drill database in the scratch cluster")?;
            let target = connect::from_url(&cluster.url("migsafe_drill"))?;
            let runner =
                connect::from_url(&cluster.url_as(crate::pg::cluster::RUNNER, "migsafe_drill"))?;
            Ok(Scratch::Cluster {
                cluster,
                target,
                runner,
            })
        }
    }
}

fn check_rehearsals(
    manifest: &Manifest,
    rehearsals: &[restore::Rehearsal],
    report: &mut DrillReport,
) {
    for r in rehearsals {
        let ok = r.loaded_rows == r.expected_rows
            && r.content_matches
            && r.restore_matches != Some(false)
            && r.problem.is_none();
        if let Some(p) = &r.problem {
            report.reasons.push(format!("{}: {p}", r.object));
        } else if r.loaded_rows != r.expected_rows {
            report.reasons.push(format!(
                "{}: {} rows loaded, the manifest records {}",
                r.object, r.loaded_rows, r.expected_rows
            ));
        } else if !r.content_matches {
            report.reasons.push(format!(
                "{}: the restored rows differ from the captured file",
                r.object
            ));
        }
        report.objects.push(ObjectCheck {
            object: r.object.clone(),
            kind: r.kind.clone(),
            expected_rows: r.expected_rows,
            rows: r.loaded_rows,
            content_matches: Some(r.content_matches),
            restore_matches: r.restore_matches,
            ok,
        });
    }
    // Every data object must have been rehearsed.
    for o in manifest.objects.iter().filter(|o| {
        matches!(
            o.kind,
            ObjectKind::Rows | ObjectKind::Columns | ObjectKind::Values | ObjectKind::Changes
        )
    }) {
        let q = o.qualified();
        if !rehearsals.iter().any(|r| r.object == q) {
            report.reasons.push(format!(
                "{q}: in the manifest, but the drill did not load it"
            ));
        }
    }
}

fn count_rows(client: &mut postgres::Client, manifest: &Manifest, report: &mut DrillReport) {
    for o in manifest
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::Rows)
    {
        let q = o.qualified();
        let sql = format!(
            "SELECT count(*) FROM {}.{}",
            quote_ident(&o.schema),
            quote_ident(&o.name)
        );
        let rows = match client.query_one(&sql, &[]) {
            Ok(row) => row.get::<_, i64>(0) as u64,
            Err(e) => {
                report
                    .reasons
                    .push(format!("{q}: cannot count the restored rows: {e}"));
                report.objects.push(ObjectCheck {
                    object: q,
                    kind: "rows".into(),
                    expected_rows: o.rows,
                    rows: 0,
                    content_matches: None,
                    restore_matches: None,
                    ok: false,
                });
                continue;
            }
        };
        let ok = rows == o.rows;
        if !ok {
            report.reasons.push(format!(
                "{q}: {rows} rows restored, the manifest records {}",
                o.rows
            ));
        }
        report.objects.push(ObjectCheck {
            object: q,
            kind: "rows".into(),
            expected_rows: o.rows,
            rows,
            content_matches: None,
            restore_matches: None,
            ok,
        });
    }
}

/// Where a report of `target` goes.
pub fn report_path(store: &Store, target: &str, id: &str) -> PathBuf {
    store.drills_dir().join(target).join(format!("{id}.json"))
}

/// Writes the report privately and atomically into the store; returns its path.
pub fn save(store: &Store, report: &DrillReport) -> anyhow::Result<PathBuf> {
    let path = report_path(store, &report.target, &report.id);
    let mut json = serde_json::to_vec_pretty(report)?;
    json.push(b'\n');
    store.write_file(&path, &json)?;
    Ok(path)
}

/// Past drills, newest first; `target` filters. Files that cannot be read as reports are
/// skipped with their path in the second list.
pub fn history(
    store: &Store,
    target: Option<&str>,
) -> anyhow::Result<(Vec<DrillReport>, Vec<String>)> {
    let root = store.drills_dir();
    let mut reports = vec![];
    let mut unreadable = vec![];
    for tdir in read_dirs(&root)? {
        let name = tdir.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if target.is_some_and(|t| t != name) {
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&tdir)
            .with_context(|| format!("{}: cannot read", tdir.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for f in files {
            match std::fs::read(&f)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<DrillReport>(&b).map_err(|e| e.to_string()))
            {
                Ok(r) => reports.push(r),
                Err(e) => unreadable.push(format!("{}: {e}", f.display())),
            }
        }
    }
    reports.sort_by(|a, b| (&b.started_at, &b.id).cmp(&(&a.started_at, &a.id)));
    Ok((reports, unreadable))
}

fn read_dirs(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(anyhow::anyhow!("{}: cannot read: {e}", root.display())),
    };
    let mut dirs: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// The newest drill report of `target`, if any (for `migsafe plan`'s drill-age gate).
pub fn latest(store: &Store, target: &str) -> Option<DrillReport> {
    history(store, Some(target))
        .ok()
        .and_then(|(reports, _)| reports.into_iter().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(target: &str, id: &str, started_at: &str, result: DrillResult) -> DrillReport {
        DrillReport {
            schema_version: SCHEMA_VERSION,
            id: id.into(),
            snapshot: "s".into(),
            target: target.into(),
            kind: Kind::Targeted,
            bytes: 1,
            rows: 1,
            started_at: started_at.into(),
            phases: vec![],
            restore_ms: 5,
            total_ms: 9,
            result,
            reasons: vec![],
            objects: vec![],
            scratch: "scratch cluster".into(),
            scratch_postgres: Some("15.8".into()),
            source_postgres: "15.8".into(),
            migsafe_version: "0".into(),
        }
    }

    #[test]
    fn saved_reports_come_back_newest_first_per_target() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path());
        assert!(latest(&store, "a").is_none());
        let old = report("a", "1", "2026-01-01T00:00:00Z", DrillResult::Passed);
        let new = report("a", "2", "2026-02-01T00:00:00Z", DrillResult::Failed);
        let other = report("b", "3", "2026-03-01T00:00:00Z", DrillResult::Passed);
        for r in [&old, &new, &other] {
            let p = save(&store, r).unwrap();
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert_eq!(latest(&store, "a").unwrap(), new);
        let (all, bad) = history(&store, None).unwrap();
        assert!(bad.is_empty());
        let ids: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["3", "2", "1"]);
        std::fs::write(store.drills_dir().join("a/broken.json"), b"{").unwrap();
        let (a, bad) = history(&store, Some("a")).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(bad.len(), 1);
    }
}
