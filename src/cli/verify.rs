use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use clap::{Args, ValueEnum};

use super::{ConfigOpts, Outcome, ProjectOpts, print};
use crate::lint::{LintOptions, lint};
use crate::pg::Cluster;
use crate::verify::receipts::{self, Receipt, Receipts};
use crate::verify::report::{ProjectResults, VerifyReport};
use crate::verify::seed::SeedOptions;
use crate::verify::{self, Event, Server, VerifyOptions, VerifyOutcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifyFormat {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Migrations directories or project roots, as for `migsafe lint` [default: migrations_dir
    /// from migsafe.toml, else the current directory].
    #[arg(value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
    /// Verify only migrations added or changed since the merge-base of HEAD and REV.
    #[arg(long, value_name = "REV")]
    pub since: Option<String>,
    /// Start from the schema of this target of migsafe.toml ([[targets]] name) instead of a
    /// replay of the migrations: its schema is read read-only (pg_dump --schema-only) and
    /// restored on the scratch cluster, and the migrations the target has not applied are
    /// round-tripped on it, each phase on a new session with the target's `session` settings
    /// (search_path, role). Receipts say `proven_on: target NAME`. Example: `migsafe verify
    /// --target prod`.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["check_receipts", "since"])]
    pub target: Option<String>,
    /// With --target: copy up to N rows per table from the target into the restored scratch
    /// database (rows that then break a foreign key are deleted) instead of only synthetic
    /// rows. The rows leave the target only into the scratch database, which is dropped
    /// afterwards. Example: `migsafe verify --target prod --sample-rows 100`.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "target")]
    pub sample_rows: usize,
    /// Run the round trips on this server instead of a scratch cluster: migsafe creates
    /// throwaway databases there (the role needs CREATEDB) and drops them afterwards. Keep the
    /// password out of the command line: set the environment variable instead. sslmode in the
    /// URL (disable, prefer, require, verify-ca, verify-full; sslrootcert=FILE) sets TLS.
    #[arg(
        long,
        value_name = "URL",
        env = "MIGSAFE_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Receipts file: read by --check-receipts, written for every migration that passes.
    #[arg(long, value_name = "FILE", default_value = receipts::DEFAULT_PATH)]
    pub receipts: PathBuf,
    /// Do not run anything: list the checked migrations that lack a valid receipt (exit 1 if
    /// any). For CI on pull requests, after someone ran `migsafe verify`.
    #[arg(long)]
    pub check_receipts: bool,
    /// PostgreSQL major version receipts must be for, with --check-receipts [default:
    /// postgres_version from migsafe.toml, else 15].
    #[arg(long, value_name = "N")]
    pub postgres_major: Option<u32>,
    /// SQL run after the synthetic rows, to add realistic data of your own.
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
    /// Synthetic rows per table.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub rows: usize,
    /// Leave the scratch cluster running afterwards and print how to connect (debugging).
    #[arg(long)]
    pub keep_scratch: bool,
    #[command(flatten)]
    pub project: ProjectOpts,
    #[command(flatten)]
    pub config: ConfigOpts,
    /// Output format.
    #[arg(long, value_enum, default_value_t = VerifyFormat::Human)]
    pub format: VerifyFormat,
    /// No progress notes on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

pub fn run(args: VerifyArgs) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let report = lint(&LintOptions {
        executing: false,
        paths: args.paths.clone(),
        config: args.config.config.clone(),
        runner: args.project.runner,
        since: args.since.clone(),
        stdin: None,
    })?;
    if args.check_receipts {
        return check_receipts(&args, &report);
    }
    let config = super::snapshot::load_config(&args.config)?;
    // An unknown target is a usage error: before any cluster starts.
    let target = match &args.target {
        Some(name) => Some(
            config
                .target(name)
                .ok_or_else(|| super::snapshot::unknown_target(&config, name))?
                .clone(),
        ),
        None => None,
    };
    let ignore = crate::drift::ignore_patterns(&config.drift_ignore);
    let progress_on = !args.quiet && std::io::stderr().is_terminal();
    // The cluster must outlive the server handle and every connection.
    let mut cluster = None;
    let (server, server_name) = match &args.database_url {
        Some(url) => {
            let target = crate::pg::connect::from_url(url)?;
            let name = target.redacted();
            let server = Server::new(target)?;
            (server, name)
        }
        None => {
            let c =
                Cluster::start_private().context("cannot start a scratch PostgreSQL cluster")?;
            if progress_on {
                eprintln!(
                    "scratch PostgreSQL {} ready in {:.1} s",
                    c.major_version(),
                    c.started_in().as_secs_f64()
                );
            }
            let mut server = Server::new(crate::pg::connect::from_url(&c.url("postgres"))?)
                .context("cannot connect to the scratch cluster")?;
            // Migrations nobody vouched for run without privileges (with `--target`, unless a
            // superuser owns the target's schema: see verify::target).
            if !config.verify_superuser {
                server = server.with_runner(crate::pg::connect::from_url(
                    &c.url_as(crate::pg::cluster::RUNNER, "postgres"),
                )?);
            }
            cluster = Some(c);
            (server, "a scratch cluster".to_string())
        }
    };
    let seed = SeedOptions {
        rows_per_table: args.rows,
        seed_file: args.seed.clone(),
        hints: Default::default(),
    };
    if let Some(t) = &target {
        let outcome = on_target(
            &args,
            &report,
            &config,
            t,
            &server,
            server_name,
            seed,
            started,
        );
        drop(server);
        if let Some(c) = cluster.take()
            && args.keep_scratch
        {
            eprintln!("{}", c.keep());
        }
        return outcome;
    }
    let opts = VerifyOptions {
        seed,
        ignore: config.drift_ignore.clone(),
        extensions: config.verify_extensions.clone(),
        ..VerifyOptions::default()
    };
    let mut receipts = Receipts::load(&args.receipts)?;
    let mut written = 0;
    let mut projects = Vec::new();
    let mut keep = std::collections::HashSet::new();
    for p in &report.projects {
        let mut progress = |e: Event| {
            if !progress_on {
                return;
            }
            match e {
                Event::Applying { id } => eprintln!("applying {id}"),
                Event::Verifying { id } => eprintln!("verifying {id}"),
                Event::Done { .. } => {}
            }
        };
        let results = verify::verify(&p.analysis, &server, &opts, &mut progress)?;
        record_schemas(
            &mut receipts,
            &p.analysis,
            &results,
            server.major_version(),
            &ignore,
            &mut keep,
        );
        for r in results
            .iter()
            .filter(|r| r.outcome == VerifyOutcome::Passed)
        {
            let Some(m) = p
                .analysis
                .migrations
                .iter()
                .find(|m| m.migration.id() == r.id)
            else {
                continue;
            };
            receipts.record(receipt(
                m,
                r,
                server.major_version(),
                "replay".into(),
                &ignore,
            ));
            written += 1;
        }
        projects.push(ProjectResults {
            root: p.analysis.root.clone(),
            runner: p.analysis.runner.to_string(),
            migrations: results,
        });
    }
    receipts.prune_schemas(&keep);
    if written > 0 || !receipts.schemas.is_empty() {
        receipts.save(&args.receipts)?;
    }
    let mut out = VerifyReport::new(server_name, server.major_version(), projects);
    out.summary.receipts_written = written;
    match args.format {
        VerifyFormat::Human => print(&crate::verify::report::human(&out, Some(started.elapsed())))?,
        VerifyFormat::Json => print(&crate::verify::report::json(&out))?,
    }
    drop(server);
    if let Some(c) = cluster.take()
        && args.keep_scratch
    {
        eprintln!("{}", c.keep());
    }
    Ok(if out.all_passed() {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}

/// `migsafe verify --target NAME`: the pending migrations' round trips on a restored copy of
/// the target's schema. Records receipts (`proven_on: target NAME`), never expected schemas:
/// those describe what a replay of the repository builds.
#[allow(clippy::too_many_arguments)]
fn on_target(
    args: &VerifyArgs,
    report: &crate::report::Report,
    config: &crate::config::Config,
    t: &crate::config::TargetConfig,
    server: &Server,
    server_name: String,
    seed: SeedOptions,
    started: Instant,
) -> anyhow::Result<Outcome> {
    let p = match report.projects.as_slice() {
        [p] => p,
        [] => anyhow::bail!("no migrations project found"),
        ps => anyhow::bail!(
            "verify --target takes one migrations project; {} given",
            ps.len()
        ),
    };
    let progress_on = !args.quiet && std::io::stderr().is_terminal();
    if progress_on {
        eprintln!("reading target {} (read-only)", t.name);
    }
    let prepared = verify::target::prepare(
        t,
        &p.analysis,
        server,
        &verify::target::TargetOptions {
            ignore: &config.drift_ignore,
            sample_rows: args.sample_rows,
            drop_roles: args.database_url.is_some(),
        },
    )?;
    if let Some(diff) = &prepared.schema_diff {
        eprintln!(
            "warning: the schema restored from target {} differs from the target's own (schema {} there, {} restored); receipts name the restored one, which plan shows as proven elsewhere (- target, + restored):",
            t.name,
            verify::target::short(&prepared.live_schema),
            verify::target::short(&prepared.restored_schema)
        );
        for l in diff.lines() {
            eprintln!("    {l}");
        }
    }
    let mut analysis = p.analysis.clone();
    for m in &mut analysis.migrations {
        m.checked = prepared.pending.contains(&m.migration.id());
    }
    let opts = VerifyOptions {
        seed,
        base: Some(prepared.database_name().to_string()),
        already_applied: prepared.applied.iter().cloned().collect(),
        exclude: prepared.exclude.clone(),
        ignore: config.drift_ignore.clone(),
        settings: prepared.settings.clone(),
        kept: prepared.kept.clone(),
        extensions: config.verify_extensions.clone(),
    };
    let ignore = crate::drift::ignore_patterns(&config.drift_ignore);
    let mut progress = |e: Event| {
        if !progress_on {
            return;
        }
        match e {
            Event::Applying { id } => eprintln!("applying {id}"),
            Event::Verifying { id } => eprintln!("verifying {id}"),
            Event::Done { .. } => {}
        }
    };
    let admin_only;
    let server = if prepared.unprivileged {
        server
    } else {
        admin_only = server.without_runner();
        &admin_only
    };
    let results = verify::verify(&analysis, server, &opts, &mut progress)?;
    let mut receipts = Receipts::load(&args.receipts)?;
    let mut written = 0;
    for r in results
        .iter()
        .filter(|r| r.outcome == VerifyOutcome::Passed)
    {
        let Some(m) = analysis
            .migrations
            .iter()
            .find(|m| m.migration.id() == r.id)
        else {
            continue;
        };
        receipts.record(receipt(
            m,
            r,
            server.major_version(),
            format!("target {}", t.name),
            &ignore,
        ));
        written += 1;
    }
    if written > 0 {
        receipts.save(&args.receipts)?;
    }
    let base = crate::verify::report::Base {
        target: prepared.name.clone(),
        database: prepared.database.clone(),
        applied: prepared.applied.len(),
        schema: prepared.live_schema.clone(),
        restored_schema: prepared
            .schema_diff
            .is_some()
            .then(|| prepared.restored_schema.clone()),
        sampled: prepared.sampled.clone(),
        notes: prepared.notes.clone(),
    };
    drop(prepared);
    let mut out = VerifyReport::new(
        server_name,
        server.major_version(),
        vec![ProjectResults {
            root: analysis.root.clone(),
            runner: analysis.runner.to_string(),
            migrations: results,
        }],
    );
    out.base = Some(base);
    out.summary.receipts_written = written;
    match args.format {
        VerifyFormat::Human => print(&crate::verify::report::human(&out, Some(started.elapsed())))?,
        VerifyFormat::Json => print(&crate::verify::report::json(&out))?,
    }
    Ok(if out.all_passed() {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}

/// The receipt for a migration that passed.
fn receipt(
    m: &crate::classify::MigrationAnalysis,
    r: &verify::MigrationResult,
    major: u32,
    proven_on: String,
    ignore: &[String],
) -> Receipt {
    // Only a repeatable migration passes without a down.
    let (up_sha256, down_sha256) = receipts::script_hashes(m);
    Receipt {
        id: r.id.clone(),
        up_sha256,
        down_sha256,
        postgres_major: major,
        migsafe_version: env!("CARGO_PKG_VERSION").to_string(),
        verified_at: receipts::now_rfc3339(),
        schema_before: r.schema_before.clone(),
        schema_after: r.schema_after.clone(),
        proven_on: Some(proven_on),
        drift_ignore: ignore.to_vec(),
    }
}

/// Records which schema each prefix of the migrations builds, as the replay found it (before
/// and after each round trip), for plan's drift status. `keep` collects every prefix of the
/// project: the others (an edited or removed migration) are forgotten afterwards.
fn record_schemas(
    receipts: &mut Receipts,
    analysis: &crate::classify::Analysis,
    results: &[verify::MigrationResult],
    major: u32,
    ignore: &[String],
    keep: &mut std::collections::HashSet<String>,
) {
    let prefixes = crate::drift::prefix_ids(analysis);
    for (i, m) in analysis.migrations.iter().enumerate() {
        let id = m.migration.id();
        let Some(r) = results.iter().find(|r| r.id == id) else {
            continue;
        };
        let ids = analysis.migrations[..=i]
            .iter()
            .map(|m| m.migration.id())
            .collect::<Vec<_>>();
        for (n, schema) in [(i, &r.schema_before), (i + 1, &r.schema_after)] {
            if let Some(schema) = schema {
                receipts.record_schema(receipts::ExpectedSchema {
                    applied_sha256: prefixes[n].clone(),
                    last_applied: ids[..n].last().cloned(),
                    applied: n,
                    postgres_major: major,
                    schema: schema.clone(),
                    drift_ignore: ignore.to_vec(),
                });
            }
        }
    }
    keep.extend(prefixes);
}

/// Which checked migrations lack a receipt for their exact contents.
fn check_receipts(args: &VerifyArgs, report: &crate::report::Report) -> anyhow::Result<Outcome> {
    let receipts = Receipts::load(&args.receipts)?;
    let major = match args.postgres_major {
        Some(m) => m,
        None => match crate::config::Config::find(std::path::Path::new(".")) {
            Some(p) => crate::config::Config::load(&p)?.postgres_version,
            None => crate::config::Config::defaults().postgres_version,
        },
    };
    let mut missing = Vec::new();
    let mut total = 0;
    for p in &report.projects {
        for m in p.analysis.migrations.iter().filter(|m| m.checked) {
            total += 1;
            let (up, down) = receipts::script_hashes(m);
            if receipts
                .valid_for(&m.migration.id(), &up, down.as_deref(), major)
                .is_none()
            {
                missing.push(m.migration.id());
            }
        }
    }
    let mut text = String::new();
    for id in &missing {
        text.push_str(&format!("no receipt  {id}\n"));
    }
    text.push_str(&format!(
        "{total} migration{} checked against {}: {} without a valid receipt for PostgreSQL {major}{}\n",
        if total == 1 { "" } else { "s" },
        args.receipts.display(),
        missing.len(),
        if missing.is_empty() {
            String::new()
        } else {
            "; run `migsafe verify` and commit the receipts file".to_string()
        }
    ));
    if args.format == VerifyFormat::Json {
        text = serde_json::to_string_pretty(&serde_json::json!({
            "schema_version": 1,
            "receipts": args.receipts,
            "postgres_major": major,
            "checked": total,
            "missing": missing,
        }))? + "\n";
    }
    print(&text)?;
    Ok(if missing.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}
