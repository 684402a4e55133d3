//! `migsafe drift`: does a target's schema match what its history says it applied?
//!
//! Per target, read-only (the session is set `default_transaction_read_only`, the history is
//! read in a `READ ONLY` transaction, the fingerprint in a read-only repeatable-read one): read
//! the runner's history, compare it with the migrations on disk, and fingerprint the schema.
//! On a scratch database, apply exactly the migrations the history says are applied (their ups,
//! in the runner's execution mode) and fingerprint that. Targets on the same applied set share
//! one scratch database. Every difference becomes a finding about one object (`extra`,
//! `missing` or `changed`); an applied migration whose file changed since is an `edited`
//! finding. `[drift] ignore` in migsafe.toml drops findings by object name or `*` pattern, and
//! the report lists them with their reason.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::applied::{self, Status};
use crate::classify::{Analysis, MigrationAnalysis};
use crate::config::{DriftIgnore, TargetConfig};
use crate::pg::connect::{self, Target, Throwaway};
use crate::pg::fingerprint::{self, Exclude, Fingerprint};
use crate::source::{Project, Runner};
use crate::verify::exec::{self, ExecError};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// On the target, not in the schema its migrations build.
    Extra,
    /// In the schema its migrations build, not on the target.
    Missing,
    /// On both, defined differently.
    Changed,
    /// An applied migration whose file changed since it ran.
    Edited,
}

impl FindingKind {
    pub fn label(self) -> &'static str {
        match self {
            FindingKind::Extra => "extra",
            FindingKind::Missing => "missing",
            FindingKind::Changed => "changed",
            FindingKind::Edited => "edited",
        }
    }
}

/// One difference, about one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// `index public.accounts_name_idx`, `column public.accounts.plan`, `migration <id>`.
    pub object: String,
    /// The object's fingerprint entries as the applied migrations build them.
    pub expected: Option<String>,
    /// The object's fingerprint entries on the target.
    pub actual: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A finding `[drift] ignore` dropped.
#[derive(Debug, Clone, Serialize)]
pub struct Ignored {
    pub kind: FindingKind,
    pub object: String,
    /// The `object` entry of the config that matched.
    pub rule: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetStatus {
    /// The schema is what the applied migrations build.
    InStep,
    Drift,
    /// Could not be compared (see `error`).
    Unknown,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetDrift {
    pub target: String,
    /// The URL with the password hidden.
    pub database: Option<String>,
    pub status: TargetStatus,
    /// How many migrations the history says are applied, and the newest of them.
    pub applied: usize,
    pub last_applied: Option<String>,
    pub findings: Vec<Finding>,
    pub ignored: Vec<Ignored>,
    /// What limits the comparison (a dirty history, contents not checked).
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub in_step: usize,
    pub drift: usize,
    pub unknown: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct DriftReport {
    pub schema_version: u32,
    pub targets: Vec<TargetDrift>,
    pub summary: Summary,
}

impl DriftReport {
    pub fn drifted(&self) -> bool {
        self.summary.drift > 0
    }

    /// Nothing could be compared at all.
    pub fn nothing_compared(&self) -> bool {
        self.summary.in_step + self.summary.drift == 0
    }
}

/// Where scratch databases are created (CREATEDB needed).
pub trait Scratch {
    fn server(&mut self) -> Result<Target, String>;
    /// The role the replay runs the migrations as, when not the server's own: a role without
    /// privileges on migsafe's private cluster.
    fn runner(&self) -> Option<Target> {
        None
    }
}

pub struct DriftInput<'a> {
    pub analysis: &'a Analysis,
    pub targets: &'a [TargetConfig],
    pub ignore: &'a [DriftIgnore],
}

/// What was read from one target.
pub(crate) struct Read {
    pub(crate) database: String,
    pub(crate) status: Status,
    /// The schema, without the kept columns.
    pub(crate) actual: Fingerprint,
    /// Columns `migsafe apply` renamed aside (soft drop) and left out of `actual`.
    pub(crate) kept: usize,
    /// Those columns, as `hide_kept` takes them.
    pub(crate) kept_columns: Vec<(String, String)>,
    pub(crate) notes: Vec<String>,
    /// migsafe's schema and the runner's history table.
    pub(crate) exclude: Exclude,
    /// The connection the target was read through.
    pub(crate) target: Target,
}

/// Compares every target with the schema its applied migrations build.
pub fn drift(input: &DriftInput<'_>, scratch: &mut dyn Scratch) -> DriftReport {
    let analysis = input.analysis;
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
    // Expected fingerprints by applied set: a fleet on one release builds one.
    let mut expected: HashMap<Vec<String>, Result<Fingerprint, String>> = HashMap::new();
    let mut out = Vec::new();
    for t in input.targets {
        let mut report = TargetDrift {
            target: t.name.clone(),
            database: None,
            status: TargetStatus::Unknown,
            applied: 0,
            last_applied: None,
            findings: Vec::new(),
            ignored: Vec::new(),
            notes: Vec::new(),
            error: None,
        };
        let read = match read_target(t, &project, &mut report.database) {
            Ok(r) => r,
            Err(e) => {
                report.error = Some(e);
                out.push(report);
                continue;
            }
        };
        let applied = applied_migrations(analysis, &read.status);
        report.notes.extend(read.notes.iter().cloned());
        if read.kept > 0 {
            report.notes.push(format!(
                "{} column(s) kept aside by `migsafe apply` until `migsafe finalise` are not counted",
                read.kept
            ));
        }
        report.applied = applied.len();
        report.last_applied = applied.last().map(|m| m.migration.id());
        if let Some(d) = &read.status.dirty {
            report.notes.push(format!("the history is dirty: {d}"));
        }
        if !read.status.unverified.is_empty() {
            report.notes.push(format!(
                "{} applied migration(s) not checked for edits: {}",
                read.status.unverified.len(),
                read.status.unverified[0].1
            ));
        }
        if !read.status.missing_on_disk.is_empty() {
            report.error = Some(format!(
                "the history names applied migrations with no file on disk ({}): the schema they build is unknown",
                read.status.missing_on_disk.join(", ")
            ));
            out.push(report);
            continue;
        }
        let key: Vec<String> = applied.iter().map(|m| m.migration.id()).collect();
        let built = expected
            .entry(key)
            .or_insert_with(|| build(scratch, &applied, &read.exclude));
        let built = match built {
            Ok(f) => f,
            Err(e) => {
                report.error = Some(e.clone());
                out.push(report);
                continue;
            }
        };
        let mut findings: Vec<Finding> = read
            .status
            .edited
            .iter()
            .map(|(id, detail)| Finding {
                kind: FindingKind::Edited,
                object: format!("migration {id}"),
                expected: None,
                actual: None,
                detail: Some(detail.clone()),
            })
            .collect();
        findings.extend(compare(built, &read.actual));
        for f in findings {
            match input.ignore.iter().find(|i| ignores(&i.object, &f.object)) {
                Some(i) => report.ignored.push(Ignored {
                    kind: f.kind,
                    object: f.object,
                    rule: i.object.clone(),
                    reason: i.reason.clone(),
                }),
                None => report.findings.push(f),
            }
        }
        report.database = Some(read.database);
        report.status = if report.findings.is_empty() {
            TargetStatus::InStep
        } else {
            TargetStatus::Drift
        };
        out.push(report);
    }
    let count = |s: TargetStatus| out.iter().filter(|t| t.status == s).count();
    let summary = Summary {
        in_step: count(TargetStatus::InStep),
        drift: count(TargetStatus::Drift),
        unknown: count(TargetStatus::Unknown),
    };
    DriftReport {
        schema_version: SCHEMA_VERSION,
        targets: out,
        summary,
    }
}

/// The project's migrations the history counts as applied, in apply order.
pub(crate) fn applied_migrations<'a>(
    analysis: &'a Analysis,
    status: &Status,
) -> Vec<&'a MigrationAnalysis> {
    analysis
        .migrations
        .iter()
        .filter(|m| {
            let id = m.migration.id();
            !status.pending.contains(&id) && !status.out_of_order.contains(&id)
        })
        .collect()
}

/// Reads the history and the fingerprint of a target, changing nothing.
fn read_target(
    t: &TargetConfig,
    project: &Project,
    database: &mut Option<String>,
) -> Result<Read, String> {
    read_target_session(t, project, database).map(|(read, _)| read)
}

/// [`read_target`], also returning the read-only session it used (every transaction of it is
/// read-only) for callers that read more (`migsafe verify --target`).
pub(crate) fn read_target_session(
    t: &TargetConfig,
    project: &Project,
    database: &mut Option<String>,
) -> Result<(Read, postgres::Client), String> {
    let url = t.url()?;
    let target = connect::from_url(&url).map_err(|e| format!("invalid url: {e}"))?;
    *database = Some(target.redacted());
    let mut client = connect::connect(&target).map_err(|e| format!("unreachable: {e}"))?;
    connect::set_session(&mut client, t.read_settings()).map_err(|e| t.session_error(e))?;
    // Belt and braces: every transaction of this session is read-only.
    client
        .batch_execute("SET default_transaction_read_only = on")
        .map_err(|e| crate::pg::error_text(&e))?;
    let history = {
        let mut tx = client
            .build_transaction()
            .read_only(true)
            .start()
            .map_err(|e| crate::pg::error_text(&e))?;
        let h = applied::read(&mut tx, project.runner, None)
            .map_err(|e| format!("cannot read what was applied: {e}"))?;
        let kept = kept_columns(&mut tx);
        let _ = tx.rollback();
        (h, kept)
    };
    let (history, kept) = history;
    let mut notes = vec![];
    let kept = kept.unwrap_or_else(|e| {
        notes.push(format!(
            "cannot read migsafe's ledger ({e}): columns `migsafe apply` kept aside would show as drift"
        ));
        vec![]
    });
    let status = applied::compare(project, &history);
    let exclude = exclude_for(project.runner, &history.table);
    let actual = fingerprint::fingerprint(&mut client, &exclude)
        .map_err(|e| format!("cannot read the schema: {}", crate::pg::error_text(&e)))?;
    Ok((
        Read {
            database: target.redacted(),
            status,
            actual: hide_kept(actual, &kept),
            kept_columns: kept.clone(),
            kept: kept.len(),
            notes,
            exclude,
            target,
        },
        client,
    ))
}

/// What a target's fingerprint leaves out: migsafe's own schema and the runner's history
/// (sqitch keeps a whole schema of its own).
pub fn exclude_for(runner: Runner, history_table: &str) -> Exclude {
    let mut exclude = Exclude {
        objects: vec!["migsafe.*".into()],
    };
    if runner == Runner::Sqitch {
        exclude.objects.push(format!("{history_table}.*"));
    } else {
        exclude.objects.push(history_table.to_string());
    }
    exclude
}

/// Leaves out the columns `migsafe apply` kept aside instead of dropping them (soft drop, until
/// `migsafe finalise`): the migration dropped them, and migsafe knows why they are still there.
pub(crate) fn hide_kept(actual: Fingerprint, kept: &[(String, String)]) -> Fingerprint {
    if kept.is_empty() {
        return actual;
    }
    let mut text = String::with_capacity(actual.text.len());
    for line in actual.text.lines() {
        let mut line = line.to_string();
        let mut skip = false;
        for (table, aside) in kept {
            if line.starts_with(&format!("column {table}.{aside}:")) {
                skip = true;
            }
            let order = format!("table {table} column order: ");
            if let Some(cols) = line.strip_prefix(&order) {
                let cols: Vec<&str> = cols.split(", ").filter(|c| c != aside).collect();
                line = format!("{order}{}", cols.join(", "));
            }
        }
        if !skip {
            text.push_str(&line);
            text.push('\n');
        }
    }
    Fingerprint { text }
}

/// The kept columns of unfinalised steps, as the fingerprint names them (`%I.%I`, `%I`).
pub(crate) fn kept_columns(
    tx: &mut postgres::Transaction<'_>,
) -> Result<Vec<(String, String)>, String> {
    let steps = crate::ledger::applied_steps(tx).map_err(|e| e.to_string())?;
    kept_of(tx, &steps)
}

/// The kept columns of the unfinalised `steps`, named as the fingerprint names them.
pub(crate) fn kept_of(
    tx: &mut postgres::Transaction<'_>,
    steps: &[crate::ledger::StepRecord],
) -> Result<Vec<(String, String)>, String> {
    let mut out = vec![];
    for d in steps
        .iter()
        .filter(|s| s.finalised_at.is_none())
        .flat_map(|s| &s.deferred)
    {
        let r = tx
            .query_one(
                "SELECT pg_catalog.format('%I.%I', $1::text, $2::text), pg_catalog.format('%I', $3::text)",
                &[&d.schema, &d.table, &d.aside],
            )
            .map_err(|e| crate::pg::error_text(&e))?;
        out.push((r.get(0), r.get(1)));
    }
    Ok(out)
}

/// The fingerprint of a scratch database on which exactly `applied` ran.
fn build(
    scratch: &mut dyn Scratch,
    applied: &[&MigrationAnalysis],
    exclude: &Exclude,
) -> Result<Fingerprint, String> {
    let server = scratch.server()?;
    let mut db = match scratch.runner() {
        Some(runner) => Throwaway::create_owned(&server, "migsafe_drift", &runner),
        None => Throwaway::create(&server, "migsafe_drift"),
    }
    .map_err(|e| format!("cannot create a scratch database: {e}"))?;
    for m in applied {
        match exec::run_script(db.client(), &m.up) {
            Ok(()) => {}
            Err(ExecError::Statement(f)) => {
                return Err(format!(
                    "cannot rebuild the applied schema: {} fails on a scratch database: {f}",
                    m.migration.id()
                ));
            }
            Err(ExecError::Connection(e)) => {
                return Err(format!("lost the scratch database: {e}"));
            }
        }
    }
    let f = fingerprint::fingerprint(db.client(), exclude).map_err(|e| {
        format!(
            "cannot read the scratch schema: {}",
            crate::pg::error_text(&e)
        )
    })?;
    let _ = db.remove();
    Ok(f)
}

/// The identity of a schema for proofs (receipts, plan): sha256 of its fingerprint without
/// column order (a rolled-back column comes back at the end), leaving out the entries of the
/// objects `[drift] ignore` covers, so an accepted difference does not make two schemas differ.
pub fn schema_id(f: &Fingerprint, ignore: &[DriftIgnore]) -> String {
    let f = f.without_column_order();
    let mut text = String::with_capacity(f.text.len());
    for (object, entries) in objects(&f) {
        if ignore.iter().any(|i| ignores(&i.object, &object)) {
            continue;
        }
        for e in entries {
            text.push_str(&e);
            text.push('\n');
        }
    }
    crate::verify::receipts::sha256(&text)
}

/// The identity of an applied set, to find the schema it builds: a hash chain over the runner
/// and each applied migration's id and up script, in apply order (so every prefix of a
/// project is found in one pass, [`prefix_ids`]).
pub fn applied_id(runner: Runner, applied: &[&MigrationAnalysis]) -> String {
    let mut id = chain_start(runner);
    for m in applied {
        id = chain_next(&id, m);
    }
    id
}

fn chain_start(runner: Runner) -> String {
    crate::verify::receipts::sha256(&format!("{runner}\n"))
}

fn chain_next(id: &str, m: &MigrationAnalysis) -> String {
    let up = crate::verify::receipts::sha256(&m.up.source[m.up.range.clone()]);
    crate::verify::receipts::sha256(&format!("{id} {} {up}\n", m.migration.id()))
}

/// `applied_id` of every prefix of the project's migrations, from none to all (`n + 1` ids).
pub fn prefix_ids(analysis: &Analysis) -> Vec<String> {
    let mut out = vec![chain_start(analysis.runner)];
    for m in &analysis.migrations {
        let next = chain_next(out.last().expect("starts with one"), m);
        out.push(next);
    }
    out
}

/// The `[drift] ignore` objects, as receipts record them.
pub fn ignore_patterns(ignore: &[DriftIgnore]) -> Vec<String> {
    let mut v: Vec<String> = ignore.iter().map(|i| i.object.clone()).collect();
    v.sort();
    v.dedup();
    v
}

/// Fingerprint entries (a line and its continuation lines) grouped by the object they describe.
fn objects(f: &Fingerprint) -> BTreeMap<String, Vec<String>> {
    let mut entries: Vec<String> = Vec::new();
    for line in f.text.lines() {
        match entries.last_mut() {
            Some(last) if line.is_empty() || line.starts_with(' ') => {
                last.push('\n');
                last.push_str(line);
            }
            _ => entries.push(line.to_string()),
        }
    }
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in entries {
        map.entry(object_of(&e)).or_default().push(e);
    }
    map
}

/// One finding per object whose entries differ.
pub fn compare(expected: &Fingerprint, actual: &Fingerprint) -> Vec<Finding> {
    let want = objects(expected);
    let have = objects(actual);
    let mut keys: Vec<&String> = want.keys().chain(have.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for k in keys {
        let (w, h) = (want.get(k), have.get(k));
        if w == h {
            continue;
        }
        let kind = match (w, h) {
            (Some(_), None) => FindingKind::Missing,
            (None, Some(_)) => FindingKind::Extra,
            _ => FindingKind::Changed,
        };
        let join = |v: Option<&Vec<String>>| v.map(|v| v.join("\n"));
        out.push(Finding {
            kind,
            object: k.clone(),
            expected: join(w),
            actual: join(h),
            detail: None,
        });
    }
    out
}

/// Kinds of more than one word, as the fingerprint writes them.
const LONG_KINDS: &[&str] = &[
    "materialized view",
    "foreign table",
    "domain constraint",
    "event trigger",
];

/// The object a fingerprint entry describes: its kind and qualified name (with the argument
/// list for functions), e.g. `column public.accounts.plan`, `function public.f(integer)`.
/// Comments and privileges are objects of their own.
pub fn object_of(entry: &str) -> String {
    let head = entry.lines().next().unwrap_or("");
    if head.starts_with("grant ") || head.starts_with("revoke ") {
        return head.to_string();
    }
    if let Some(rest) = head.strip_prefix("comment on ") {
        return format!("comment on {}", until_colon(rest));
    }
    let (kind, rest) = match LONG_KINDS
        .iter()
        .find(|k| head.starts_with(*k) && head[k.len()..].starts_with(' '))
    {
        Some(k) => (*k, &head[k.len() + 1..]),
        None => head.split_once(' ').unwrap_or((head, "")),
    };
    format!("{kind} {}", qualified_name(rest))
}

/// The text before the first `:` outside double quotes and parentheses.
fn until_colon(s: &str) -> &str {
    let (mut quoted, mut depth) = (false, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth = depth.saturating_sub(1),
            ':' if !quoted && depth == 0 => return &s[..i],
            _ => {}
        }
    }
    s
}

/// The leading qualified name of `s` (quoted parts may hold spaces, dots and colons), with a
/// directly following parenthesised argument list.
fn qualified_name(s: &str) -> &str {
    let (mut quoted, mut depth) = (false, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return &s[..=i];
                }
            }
            ' ' | ':' if !quoted && depth == 0 => return &s[..i],
            _ => {}
        }
    }
    s
}

/// Whether the `[drift] ignore` entry `pattern` covers `object`: equal, or matching with `*`
/// as any text; a pattern without the kind matches the name part.
pub fn ignores(pattern: &str, object: &str) -> bool {
    if glob(pattern, object) {
        return true;
    }
    object
        .split_once(' ')
        .is_some_and(|(_, name)| glob(pattern, name))
}

fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

/// A readable diff of one finding: `-` what the migrations build, `+` what the target has.
pub fn finding_diff(f: &Finding) -> String {
    match (&f.expected, &f.actual) {
        (Some(e), Some(a)) => {
            let d = fingerprint::diff(
                &Fingerprint {
                    text: format!("{e}\n"),
                },
                &Fingerprint {
                    text: format!("{a}\n"),
                },
            );
            // Drop the `--- before` / `+++ after` header and the hunk headers of one-line
            // entries; keep hunk headers of multi-line ones (function bodies).
            let multi = e.contains('\n') || a.contains('\n');
            d.lines()
                .skip(2)
                .filter(|l| multi || !l.starts_with("@@"))
                .map(|l| format!("{l}\n"))
                .collect()
        }
        (Some(e), None) => e.lines().map(|l| format!("-{l}\n")).collect(),
        (None, Some(a)) => a.lines().map(|l| format!("+{l}\n")).collect(),
        (None, None) => String::new(),
    }
}

pub fn json(report: &DriftReport) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("the report serialises");
    s.push('\n');
    s
}

pub fn human(report: &DriftReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    for t in &report.targets {
        let _ = write!(s, "{}", t.target);
        if let Some(db) = &t.database {
            let _ = write!(s, " ({db})");
        }
        let applied = match &t.last_applied {
            Some(last) => format!("{} applied, up to {last}", t.applied),
            None => "nothing applied".to_string(),
        };
        match t.status {
            TargetStatus::InStep => {
                let _ = writeln!(s, ": in step ({applied})");
            }
            TargetStatus::Drift => {
                let _ = writeln!(
                    s,
                    ": DRIFT, {} difference(s) from what its migrations build ({applied})",
                    t.findings.len()
                );
            }
            TargetStatus::Unknown => {
                let _ = writeln!(
                    s,
                    ": unknown: {}",
                    t.error.as_deref().unwrap_or("not compared")
                );
            }
        }
        for f in &t.findings {
            let _ = writeln!(s, "  {} {}", f.kind.label(), f.object);
            if let Some(d) = &f.detail {
                for l in d.lines() {
                    let _ = writeln!(s, "      {l}");
                }
            }
            for l in finding_diff(f).lines() {
                let _ = writeln!(s, "      {l}");
            }
        }
        for i in &t.ignored {
            let _ = writeln!(
                s,
                "  ignored {} {} (`{}`): {}",
                i.kind.label(),
                i.object,
                i.rule,
                i.reason
            );
        }
        for n in &t.notes {
            let _ = writeln!(s, "  note: {n}");
        }
    }
    let sum = &report.summary;
    let verdict = if sum.drift > 0 {
        "drift"
    } else if sum.unknown > 0 {
        "could not compare every target"
    } else {
        "no drift"
    };
    let _ = writeln!(
        s,
        "\n{verdict}: {} in step, {} drifted, {} unknown",
        sum.in_step, sum.drift, sum.unknown
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(text: &str) -> Fingerprint {
        Fingerprint { text: text.into() }
    }

    #[test]
    fn schema_ids_ignore_column_order_and_ignored_objects_only() {
        let base = "column public.a.x: integer\ntable public.a column order: x, y\ncolumn public.a.y: text\n";
        let id = schema_id(&fp(base), &[]);
        assert_eq!(id.len(), 64);
        let reordered = "column public.a.x: integer\ntable public.a column order: y, x\ncolumn public.a.y: text\n";
        assert_eq!(
            schema_id(&fp(reordered), &[]),
            id,
            "column order is left out"
        );
        let extra =
            format!("{base}index public.a_tmp_idx: CREATE INDEX a_tmp_idx ON public.a (x)\n");
        assert_ne!(
            schema_id(&fp(&extra), &[]),
            id,
            "an extra index is another schema"
        );
        let ignore = [DriftIgnore {
            object: "index public.*_tmp_idx".into(),
            reason: "ops".into(),
        }];
        assert_eq!(schema_id(&fp(&extra), &ignore), id, "unless it is ignored");
        let changed = base.replace("integer", "bigint");
        assert_ne!(schema_id(&fp(&changed), &ignore), id);
        assert_eq!(
            super::ignore_patterns(&[ignore[0].clone(), ignore[0].clone()]),
            ["index public.*_tmp_idx"]
        );
    }

    #[test]
    fn objects_are_kind_and_name() {
        for (entry, object) in [
            (
                "column public.accounts.plan: text not null",
                "column public.accounts.plan",
            ),
            (
                "table public.accounts column order: id, plan",
                "table public.accounts",
            ),
            ("table public.accounts", "table public.accounts"),
            (
                "index public.a_idx invalid: CREATE INDEX a_idx ON public.a USING btree (x)",
                "index public.a_idx",
            ),
            (
                "function public.f(integer, text):\n    CREATE OR REPLACE FUNCTION",
                "function public.f(integer, text)",
            ),
            (
                "materialized view public.mv:\n     SELECT 1",
                "materialized view public.mv",
            ),
            (
                "column \"My S\".\"a: b\".c: integer",
                "column \"My S\".\"a: b\".c",
            ),
            (
                "extension pgcrypto version 1.3 schema public",
                "extension pgcrypto",
            ),
            (
                "comment on column public.a.x: 'it''s: here'",
                "comment on column public.a.x",
            ),
            (
                "grant SELECT on table public.a to bob",
                "grant SELECT on table public.a to bob",
            ),
            ("schema app", "schema app"),
        ] {
            assert_eq!(object_of(entry), object, "{entry}");
        }
    }

    #[test]
    fn compare_gives_one_finding_per_object() {
        let expected = fp(
            "column public.a.x: text default 'a'::text\nfunction public.f():\n    BEGIN\n\n    END\ntable public.a\ntable public.a column order: x\n",
        );
        let actual = fp(
            "column public.a.x: text\nfunction public.f():\n    BEGIN\n\n    END\nindex public.a_x: CREATE INDEX a_x ON public.a USING btree (x)\ntable public.a\ntable public.a column order: x\n",
        );
        let f = compare(&expected, &actual);
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(f[0].kind, FindingKind::Changed);
        assert_eq!(f[0].object, "column public.a.x");
        assert_eq!(f[1].kind, FindingKind::Extra);
        assert_eq!(f[1].object, "index public.a_x");
        assert_eq!(
            finding_diff(&f[0]),
            "-column public.a.x: text default 'a'::text\n+column public.a.x: text\n"
        );
        assert!(compare(&expected, &expected).is_empty());
    }

    #[test]
    fn ignore_patterns() {
        assert!(ignores("index public.a_idx", "index public.a_idx"));
        assert!(ignores("public.a_idx", "index public.a_idx"));
        assert!(ignores("index public.*_tmp", "index public.x_tmp"));
        assert!(ignores("*pg_stat*", "function public.pg_stat_x()"));
        assert!(!ignores("index public.*_tmp", "index public.x_tmp2"));
        assert!(!ignores("index public.a", "index public.a_idx"));
        assert!(ignores("*", "anything"));
        assert!(!ignores("a*a", "a"));
    }
}
