//! `migsafe drill`: timed restore drills of snapshots, and their history.

use std::path::Path;

use anyhow::{Context as _, bail};
use clap::Args;

use super::snapshot::{SnapFormat, StoreOpts, load_config, progress, unknown_target};
use super::{ConfigOpts, Outcome, print};
use crate::drill::{self, DrillOptions, DrillReport};
use crate::pg::connect;
use crate::snapshot::Store;
use crate::snapshot::store::Entry;

#[derive(Debug, Args)]
pub struct DrillArgs {
    /// Drill the newest complete snapshot of this target (with --history: only its drills).
    #[arg(long, value_name = "NAME", conflicts_with = "snapshot")]
    pub target: Option<String>,
    /// Drill this snapshot.
    #[arg(long, value_name = "ID")]
    pub snapshot: Option<String>,
    /// List past drills, newest first, instead of running one.
    #[arg(long, conflicts_with_all = ["snapshot", "database_url", "keep_scratch"])]
    pub history: bool,
    /// Restore into a throwaway database on this server instead of a scratch cluster (the role
    /// needs CREATEDB; the database is dropped afterwards). Keep the password out of the command
    /// line: set the environment variable instead.
    #[arg(
        long,
        value_name = "URL",
        env = "MIGSAFE_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Leave the scratch database (and cluster) in place and print how to reach it.
    #[arg(long)]
    pub keep_scratch: bool,
    /// Parallel pg_restore jobs for full snapshots [default: the number of CPUs].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
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

pub fn run(args: DrillArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.config)?;
    let store = args.store.open(&config)?;
    if args.history {
        return history(&args, &store);
    }
    let chosen = choose(&args, &store, &config)?;
    let server = match &args.database_url {
        Some(url) => Some(connect::from_url(url)?),
        None => None,
    };
    let opts = DrillOptions {
        server,
        keep_scratch: args.keep_scratch,
        jobs: args.jobs.unwrap_or(0),
    };
    let mut reports = vec![];
    let mut text = String::new();
    for entry in &chosen {
        let pb = progress(args.quiet);
        let outcome = drill::run(&store, entry, &opts, &pb)?;
        pb.finish_and_clear();
        let path = drill::save(&store, &outcome.report).with_context(|| {
            format!(
                "drill {} ran, but its report could not be saved",
                outcome.report.id
            )
        })?;
        if let Some(kept) = &outcome.kept {
            anstream::eprintln!("{kept}");
        }
        text.push_str(&report_text(&outcome.report, Some(&path)));
        reports.push(outcome.report);
    }
    match args.format {
        SnapFormat::Human => print(&text)?,
        SnapFormat::Json => print(
            &(serde_json::to_string_pretty(&serde_json::json!({ "drills": reports }))? + "\n"),
        )?,
    }
    Ok(if reports.iter().all(DrillReport::passed) {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}

/// The snapshots to drill: the one named, the newest of a target, or the newest of each.
fn choose(
    args: &DrillArgs,
    store: &Store,
    config: &crate::config::Config,
) -> anyhow::Result<Vec<Entry>> {
    if let Some(id) = &args.snapshot {
        return Ok(vec![store.find(id)?]);
    }
    let entries = store.list(args.target.as_deref())?;
    let mut newest: Vec<Entry> = vec![];
    for e in entries.into_iter().filter(|e| e.manifest().is_some()) {
        let key = |e: &Entry| (e.manifest().unwrap().created_at.clone(), e.id.clone());
        match newest.iter_mut().find(|n| n.target == e.target) {
            Some(n) if key(&e) > key(n) => *n = e,
            Some(_) => {}
            None => newest.push(e),
        }
    }
    if newest.is_empty() {
        match &args.target {
            Some(t) if config.target(t).is_none() && !config.targets.is_empty() => {
                return Err(unknown_target(config, t));
            }
            Some(t) => bail!(
                "no complete snapshot of target `{t}` in {}: take one with `migsafe snapshot create --target {t} …`",
                store.root().display()
            ),
            None => bail!(
                "no complete snapshot in {}: nothing to drill",
                store.root().display()
            ),
        }
    }
    Ok(newest)
}

/// The human summary of one drill.
pub fn report_text(r: &DrillReport, saved: Option<&Path>) -> String {
    let mut s = format!(
        "drill {} of snapshot {} ({}, {}, {} rows, {}): {}\n",
        r.id,
        r.snapshot,
        r.target,
        r.kind.label(),
        r.rows,
        crate::units::bytes(r.bytes),
        r.result.label()
    );
    for p in &r.phases {
        let extra = match (p.name.as_str(), &r.scratch_postgres) {
            ("scratch", Some(v)) => format!("  (PostgreSQL {v}, {})", r.scratch),
            _ => String::new(),
        };
        s.push_str(&format!("  {:<10} {:>7} ms{extra}\n", p.name, p.ms));
    }
    for o in &r.objects {
        s.push_str(&format!(
            "  {} {}  {}/{} rows{}{}\n",
            if o.ok { "ok  " } else { "FAIL" },
            o.object,
            o.rows,
            o.expected_rows,
            match o.content_matches {
                Some(true) => ", content matches",
                Some(false) => ", content differs",
                None => "",
            },
            match o.restore_matches {
                Some(true) => ", rollback restores it exactly",
                Some(false) => ", rollback does not restore it",
                None => "",
            }
        ));
    }
    for reason in &r.reasons {
        s.push_str(&format!("  reason: {reason}\n"));
    }
    match r.phase_ms("restore") {
        Some(_) => s.push_str(&format!(
            "  restore {} ms, total {} ms; snapshot from PostgreSQL {}\n",
            r.restore_ms, r.total_ms, r.source_postgres
        )),
        None => s.push_str(&format!(
            "  stopped before the restore, after {} ms\n",
            r.total_ms
        )),
    }
    if let Some(p) = saved {
        s.push_str(&format!("  report {}\n", p.display()));
    }
    s
}

fn history(args: &DrillArgs, store: &Store) -> anyhow::Result<Outcome> {
    let (reports, unreadable) = drill::history(store, args.target.as_deref())?;
    for u in &unreadable {
        anstream::eprintln!("warning: skipped unreadable drill report {u}");
    }
    if args.format == SnapFormat::Json {
        print(&(serde_json::to_string_pretty(&serde_json::json!({ "drills": reports }))? + "\n"))?;
        return Ok(Outcome::Clean);
    }
    if reports.is_empty() {
        print(&format!(
            "no drills recorded in {}{}\n",
            store.drills_dir().display(),
            args.target
                .as_deref()
                .map_or(String::new(), |t| format!(" for target {t}"))
        ))?;
        return Ok(Outcome::Clean);
    }
    let now = jiff::Timestamp::now().as_second();
    let mut s = String::new();
    let rows: Vec<[String; 6]> = reports
        .iter()
        .map(|r| {
            let age = r
                .started_at
                .parse::<jiff::Timestamp>()
                .map(|t| {
                    format!(
                        "{} ago",
                        crate::units::age((now - t.as_second()).max(0) as u64)
                    )
                })
                .unwrap_or_else(|_| r.started_at.clone());
            [
                age,
                r.target.clone(),
                r.snapshot.clone(),
                r.kind.label().to_string(),
                format!("{} ms", r.restore_ms),
                r.result.label().to_string(),
            ]
        })
        .collect();
    let mut width = [0usize; 6];
    let header = ["AGE", "TARGET", "SNAPSHOT", "KIND", "RESTORE", "RESULT"].map(String::from);
    for r in std::iter::once(&header).chain(&rows) {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(c.len());
        }
    }
    for r in std::iter::once(&header).chain(&rows) {
        s.push_str(&format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {:>w4$}  {}\n",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            w0 = width[0],
            w1 = width[1],
            w2 = width[2],
            w3 = width[3],
            w4 = width[4],
        ));
    }
    print(&s)?;
    Ok(Outcome::Clean)
}
