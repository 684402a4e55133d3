//! Statement → [`Effect`]; migration → [`Reversibility`].
//!
//! Classification walks a project's migrations in run order, keeping a [`Catalog`] of column
//! types (so type changes are judged against the previous type) and, per script, the context a
//! statement runs in: inside a transaction or not (from the runner's execution mode and explicit
//! `BEGIN`/`COMMIT`), whether `lock_timeout`/`statement_timeout` were set, and which tables the
//! same migration created.

mod catalog;
mod effect;
mod objects;

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

pub use catalog::{Catalog, TypeChange};
pub use effect::{DataEffect, Destroyed, Effect, LockLevel};
pub use objects::LockElsewhere;

use crate::source::{Delimiting, ExecMode, Migration, Project, Runner, Script};
use crate::sql::{self, LineIndex, Op, Statement};

/// A position in a file: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct OpEffect {
    #[serde(flatten)]
    pub op: Op,
    pub effect: Effect,
    /// The table was created earlier in the same migration.
    pub new_table: bool,
    /// What PostgreSQL runs this operation for, when the statement does not say it: a trigger,
    /// a foreign-key action, a parent table, a called function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// Tables besides its target that the operation locks (a referenced table, a partition's
    /// parent), with the lock it takes on each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locks_elsewhere: Vec<objects::LockElsewhere>,
}

/// One statement with its context and effects.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Step {
    pub index: usize,
    pub start: Pos,
    pub end: Pos,
    #[serde(flatten)]
    pub statement: Statement,
    pub effects: Vec<OpEffect>,
    pub in_transaction: bool,
    pub lock_timeout: bool,
    pub statement_timeout: bool,
}

/// One script (up or down) after splitting, parsing and classification.
#[derive(Debug, Clone)]
pub struct ScriptAnalysis {
    pub path: PathBuf,
    pub source: Arc<str>,
    /// Byte range of the script in `source` (a section, for goose and dbmate).
    pub range: std::ops::Range<usize>,
    pub lines: Arc<LineIndex>,
    /// The mode the script really runs in (Flyway's automatic choice resolved).
    pub mode: ExecMode,
    pub steps: Vec<Step>,
    /// `migsafe:ignore` directives after the last statement: they belong to no statement.
    pub trailing_directives: Vec<sql::Directive>,
}

impl ScriptAnalysis {
    pub fn text(&self, step: &Step) -> &str {
        &self.source[step.statement.range.clone()]
    }
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for s in &self.steps {
            match s.statement.understanding {
                sql::Understanding::Parsed => c.parsed += 1,
                sql::Understanding::Recognised => c.recognised += 1,
                sql::Understanding::Opaque { .. } => c.opaque += 1,
            }
        }
        c.statements = self.steps.len();
        c
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Counts {
    pub statements: usize,
    pub parsed: usize,
    pub recognised: usize,
    pub opaque: usize,
}

/// A step that destroys data, with what it destroys.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct IrreversibleStep {
    pub line: usize,
    pub column: usize,
    pub statement: String,
    pub reason: String,
    pub destroys: Vec<Destroyed>,
}

/// A step whose effect migsafe cannot tell.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct UnknownStep {
    pub line: usize,
    pub column: usize,
    pub statement: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Reversibility {
    /// Nothing destroys data and everything is understood.
    Reversible,
    /// Some step destroys data: a down script cannot bring it back.
    Irreversible {
        steps: Vec<IrreversibleStep>,
        unknown: Vec<UnknownStep>,
    },
    /// Nothing known to destroy data, but some step is not understood (fail closed).
    Unknown { steps: Vec<UnknownStep> },
}

impl Reversibility {
    pub fn label(&self) -> &'static str {
        match self {
            Reversibility::Reversible => "reversible",
            Reversibility::Irreversible { .. } => "irreversible",
            Reversibility::Unknown { .. } => "unknown",
        }
    }
}

#[derive(Debug, Clone)]
pub struct MigrationAnalysis {
    pub migration: Migration,
    pub up: ScriptAnalysis,
    pub down: Option<ScriptAnalysis>,
    pub reversibility: Reversibility,
    /// False for migrations at or before `start_after`: they feed the catalog but are not reported.
    pub checked: bool,
}

#[derive(Debug, Clone)]
pub struct Analysis {
    pub runner: Runner,
    /// The file that decided the runner between several that fit the layout ([`crate::source::Project::runner_hint`]).
    pub runner_hint: Option<String>,
    pub root: PathBuf,
    pub migrations: Vec<MigrationAnalysis>,
}

/// A script that cannot be split: an unterminated quote, dollar quote, comment or block.
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}:{column}: {message}")]
pub struct ScriptError {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Settings that change classification.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Target PostgreSQL major version.
    pub postgres: u32,
    /// migsafe.toml sets `[apply] lock_timeout`: `migsafe apply` and `rollback` set it on every
    /// step's session, so a script need not.
    pub apply_lock_timeout: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            postgres: 15,
            apply_lock_timeout: false,
        }
    }
}

/// Classifies every migration of a project in run order. `checked` decides which migrations
/// are reported (the others only feed the catalog).
pub fn analyze_project(
    project: Project,
    settings: Settings,
    checked: impl Fn(&Migration) -> bool,
) -> Result<Analysis, ScriptError> {
    // Splitting and parsing need no catalog: done first, on every core; classification then
    // walks the migrations in order. Errors surface in the same order as one by one.
    let mut parsed = parse_scripts(&project.migrations).into_iter();
    let mut catalog = Catalog::default();
    let mut migrations = Vec::with_capacity(project.migrations.len());
    for m in project.migrations {
        let (up_parsed, down_parsed) = parsed.next().expect("one parse per migration");
        let up = classify_script(&m.up, up_parsed?, &mut catalog, settings);
        let down = match (&m.down, down_parsed) {
            // The down script sees the schema the up left, and changes nothing for the next
            // migrations.
            (Some(d), Some(p)) => {
                let p = p?;
                Some(catalog.scratch(|c| classify_script(d, p, c, settings)))
            }
            _ => None,
        };
        let reversibility = reversibility(&up);
        migrations.push(MigrationAnalysis {
            checked: checked(&m),
            migration: m,
            up,
            down,
            reversibility,
        });
    }
    Ok(Analysis {
        runner: project.runner,
        runner_hint: project.runner_hint,
        root: project.root,
        migrations,
    })
}

/// A script split and parsed, not yet classified.
struct Parsed {
    lines: Arc<LineIndex>,
    statements: Vec<Statement>,
    trailing_directives: Vec<sql::Directive>,
}

type ParsedPair = (
    Result<Parsed, ScriptError>,
    Option<Result<Parsed, ScriptError>>,
);

/// Below this many scripts a project is parsed on one thread.
const PARALLEL_MIN_SCRIPTS: usize = 16;

/// [`parse_script`] of each migration's up and down, in order, spread over the cores.
fn parse_scripts(migrations: &[Migration]) -> Vec<ParsedPair> {
    let one =
        |m: &Migration| -> ParsedPair { (parse_script(&m.up), m.down.as_ref().map(parse_script)) };
    let scripts = migrations.len() * 2;
    let threads = if scripts < PARALLEL_MIN_SCRIPTS {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get().min(scripts / PARALLEL_MIN_SCRIPTS))
    };
    if threads <= 1 {
        return migrations.iter().map(one).collect();
    }
    // Migrations vary in size: each thread takes the next one as it finishes the last.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut out: Vec<Option<ParsedPair>> = Vec::with_capacity(migrations.len());
    out.resize_with(migrations.len(), || None);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(m) = migrations.get(i) else { break };
                        done.push((i, one(m)));
                    }
                    done
                })
            })
            .collect();
        for h in handles {
            for (i, p) in h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)) {
                out[i] = Some(p);
            }
        }
    });
    out.into_iter()
        .map(|p| p.expect("every migration parsed"))
        .collect()
}

/// Splits and parses one script.
fn parse_script(script: &Script) -> Result<Parsed, ScriptError> {
    let lines = Arc::new(LineIndex::with_folds(&script.source, &script.folded));
    let (statements, trailing_directives) = sql::analyze(script).map_err(|e| {
        let (line, column) = lines.position(&script.source, e.at);
        ScriptError {
            path: script.path.clone(),
            line,
            column,
            message: e.to_string(),
        }
    })?;
    Ok(Parsed {
        lines,
        statements,
        trailing_directives,
    })
}

/// Splits, parses and classifies one script, folding its schema changes into `catalog`.
pub fn analyze_script(
    script: &Script,
    catalog: &mut Catalog,
    settings: Settings,
) -> Result<ScriptAnalysis, ScriptError> {
    Ok(classify_script(
        script,
        parse_script(script)?,
        catalog,
        settings,
    ))
}

/// Classifies one parsed script, folding its schema changes into `catalog`.
fn classify_script(
    script: &Script,
    parsed: Parsed,
    catalog: &mut Catalog,
    settings: Settings,
) -> ScriptAnalysis {
    let Parsed {
        lines,
        statements,
        trailing_directives,
    } = parsed;
    let mut origins = objects::Origins::default();
    let mut scs_off = false;
    let mut steps = Vec::with_capacity(statements.len());
    for (index, mut statement) in statements.into_iter().enumerate() {
        let (l, c) = lines.position(&script.source, statement.range.start);
        let (el, ec) = lines.position(&script.source, statement.range.end);
        let mut effects = Vec::with_capacity(statement.ops.len());
        let text = &script.source[statement.range.clone()];
        // The operations move into their effects: one copy, not two, on large files.
        for op in std::mem::take(&mut statement.ops) {
            // What the operation sets off is judged before the operation changes the model
            // (a dropped parent still has its partitions).
            let consequences = catalog.deps.consequences(&op);
            let mut locks_elsewhere = catalog.deps.locks_elsewhere(&op);
            let mut effect = judge(&op, catalog, &origins, settings);
            read_locks(&op, text, catalog, &mut effect, &mut locks_elsewhere);
            let new_table = is_new(&op, &origins);
            origins.record(&op, !if_not_exists(&op, text));
            catalog.apply(&op);
            note_default_partition(&op, text, catalog);
            if let Op::Call { .. } = op
                && consequences
                    .iter()
                    .any(|(o, _)| matches!(o, Op::Unmodeled { .. }))
            {
                effect.data = DataEffect::Unknown;
            }
            effects.push(OpEffect {
                op,
                effect,
                new_table,
                via: None,
                locks_elsewhere,
            });
            for (op, via) in consequences {
                let mut effect = judge(&op, catalog, &origins, settings);
                effect.reason = format!("{} (set off by {via})", effect.reason).into();
                let new_table = is_new(&op, &origins);
                // What a function does to the schema (a trigger, a rename, a function it
                // defines) holds for the statements after it.
                origins.record(&op, !if_not_exists(&op, ""));
                catalog.apply(&op);
                effects.push(OpEffect {
                    new_table,
                    op,
                    effect,
                    via: Some(via),
                    locks_elsewhere: Vec::new(),
                });
            }
        }
        // With standard_conforming_strings off, a backslash escapes a quote: migsafe's
        // splitter reads strings the standard way, so what follows may be split wrongly.
        if scs_off {
            effects.push(OpEffect {
                op: Op::Unmodeled {
                    what: "a statement after SET standard_conforming_strings = off".into(),
                },
                effect: judge(
                    &Op::Unmodeled {
                        what: "a statement after SET standard_conforming_strings = off, whose strings migsafe may split wrongly".into(),
                    },
                    catalog,
                    &origins,
                    settings,
                ),
                new_table: false,
                via: None,
                locks_elsewhere: Vec::new(),
            });
        }
        scs_off |= effects.iter().any(|e| {
            matches!(&e.op, Op::SetVar { name, value, .. } if name == "standard_conforming_strings"
                && matches!(value.trim_matches('\'').to_ascii_lowercase().as_str(), "off" | "false" | "0" | "no"))
        });
        steps.push(Step {
            index,
            start: Pos { line: l, column: c },
            end: Pos {
                line: el,
                column: ec,
            },
            statement,
            effects,
            in_transaction: false,
            lock_timeout: false,
            statement_timeout: false,
        });
    }
    let mode = effective_mode(script.mode, &steps);
    // goose and Flyway send statements one by one inside their transaction, so an explicit
    // COMMIT ends it; the others send the script as one query, whose implicit transaction
    // block outlives a COMMIT.
    let commit_ends_tx =
        script.delimiting == Delimiting::Goose || script.mode == ExecMode::FlywayAuto;
    annotate_context(mode, commit_ends_tx, &mut steps);
    ScriptAnalysis {
        path: script.path.clone(),
        source: script.source.clone(),
        range: script.range.clone(),
        lines,
        mode,
        steps,
        trailing_directives,
    }
}

/// Whether an operation only creates when its object did not exist yet (`CREATE TABLE IF NOT
/// EXISTS`, `ADD COLUMN IF NOT EXISTS`, `CREATE SEQUENCE IF NOT EXISTS`): migsafe cannot tell
/// whether it existed, so what it "creates" is not counted as new.
fn if_not_exists(op: &Op, text: &str) -> bool {
    match op {
        Op::CreateTable { if_not_exists, .. } => *if_not_exists,
        Op::AddColumn { .. } | Op::CreateOther { .. } => {
            let lower = text.to_ascii_lowercase();
            lower
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .contains("if not exists")
        }
        _ => false,
    }
}

/// The locks of a statement that only its text tells: the table a policy or rule is on,
/// `CREATE OR REPLACE VIEW` of a view that exists, `CREATE INDEX ON ONLY`.
fn read_locks(
    op: &Op,
    text: &str,
    catalog: &Catalog,
    effect: &mut Effect,
    locks_elsewhere: &mut Vec<objects::LockElsewhere>,
) {
    let words = words(text);
    let at = |w: &str| words.iter().position(|x| x == w);
    let lock_on =
        |table: Option<&String>, why, locks_elsewhere: &mut Vec<objects::LockElsewhere>| {
            if let Some(table) = table {
                locks_elsewhere.push(objects::LockElsewhere {
                    table: sql::op::unqualified(table).to_string(),
                    lock: LockLevel::AccessExclusive,
                    why,
                });
            }
        };
    match op {
        // `CREATE POLICY p ON t …`, `ALTER POLICY p ON t …`: ACCESS EXCLUSIVE on t.
        Op::Privileges { action }
            if action.starts_with("create policy") || action.starts_with("alter policy") =>
        {
            let table = at("on").and_then(|i| words.get(i + 1));
            if table.is_some() {
                effect.lock = LockLevel::None;
            }
            lock_on(table, "the table the policy is on", locks_elsewhere);
        }
        // `CREATE [OR REPLACE] RULE r AS ON event TO t …`: ACCESS EXCLUSIVE on t.
        Op::Unmodeled { what } if what == "CREATE RULE" => {
            let table = at("to").and_then(|i| words.get(i + 1));
            lock_on(table, "the table the rule is on", locks_elsewhere);
        }
        // Replacing a view's query takes ACCESS EXCLUSIVE on it.
        Op::CreateView {
            name,
            materialized: false,
        } if words.get(1).is_some_and(|w| w == "or") && catalog.deps.has_view(name) => {
            effect.lock = LockLevel::AccessExclusive;
            effect.reason = "replaces the query of an existing view".into();
        }
        Op::CreateIndex { .. } if words.windows(2).any(|w| w[0] == "on" && w[1] == "only") => {
            locks_elsewhere.clear();
        }
        _ => {}
    }
}

/// A partition created or attached with `DEFAULT` (no `FOR VALUES` bound): later partitions
/// of its table lock it.
fn note_default_partition(op: &Op, text: &str, catalog: &mut Catalog) {
    let (parent, partition) = match op {
        Op::CreateTable {
            table,
            partition_of: Some(parent),
            ..
        } => (parent, table),
        Op::AttachPartition { table, partition } => (table, partition),
        _ => return,
    };
    let words = words(text);
    let bounded = words.windows(2).any(|w| w[0] == "for" && w[1] == "values");
    if !bounded && words.iter().any(|w| w == "default") {
        catalog.deps.default_partition(parent, partition);
    }
}

/// The words of a statement, lower-cased unless quoted, a qualified name as one word.
fn words(text: &str) -> Vec<String> {
    use sql::tokens::Tok;
    let mut out: Vec<String> = vec![];
    let mut dotted = false;
    for t in sql::tokens::tokenize(text) {
        match t {
            Tok::Word { text, .. } if dotted => {
                if let Some(last) = out.last_mut() {
                    last.push('.');
                    last.push_str(&text);
                }
                dotted = false;
            }
            Tok::Word { text, .. } => out.push(text),
            Tok::Sym('.') => dotted = true,
            _ => dotted = false,
        }
    }
    out
}

/// Whether every table an operation acts on was created earlier in this migration.
fn is_new(op: &Op, origins: &objects::Origins) -> bool {
    let tables = op.tables();
    !tables.is_empty() && tables.iter().all(|t| origins.new_table(t))
}

/// The effect of one operation in its migration: what it would do to existing data, less what
/// only reaches objects this migration created.
fn judge(op: &Op, catalog: &Catalog, origins: &objects::Origins, settings: Settings) -> Effect {
    let mut effect = effect::effect(op, catalog, is_new(op, origins));
    let nothing_lost = |effect: &mut Effect, reason: String| {
        effect.data = DataEffect::Schema;
        effect.destroys.clear();
        effect.reason = reason.into();
    };
    match op {
        Op::DropColumn { table, column, .. } if origins.new_column(table, column) => nothing_lost(
            &mut effect,
            format!("drops column {table}.{column}, added earlier in this migration"),
        ),
        // A backfill of columns this migration added overwrites no value that existed before
        // it (their default, at most): the down drops them again. What a trigger writes
        // meanwhile follows as a consequence of its own.
        Op::Update { table, columns, .. }
            if !columns.is_empty() && columns.iter().all(|c| origins.new_column(table, c)) =>
        {
            nothing_lost(
                &mut effect,
                format!(
                    "fills {} of {table}, added earlier in this migration: no value that existed before is overwritten",
                    columns.join(", ")
                ),
            )
        }
        Op::AlterSequence {
            name,
            restart: true,
        } if origins.new_sequence(name) => nothing_lost(
            &mut effect,
            format!("restarts sequence {name}, created earlier in this migration"),
        ),
        Op::Call { function } => {
            let bare = function.rsplit('.').next().unwrap_or(function);
            let schema = function.rsplit_once('.').map(|(s, _)| s);
            // pg_catalog comes first on every search path: a project function of a built-in's
            // name is not what runs (`lo_unlink(…)` is the built-in that writes).
            let builtin =
                sql::builtins::in_catalog(bare) && matches!(schema, None | Some("pg_catalog"));
            match catalog.deps.body(function) {
                _ if builtin => {}
                Some(sql::Body::Ops(_)) => {
                    effect = Effect::new(
                        DataEffect::None,
                        LockLevel::None,
                        format!("calls {function}(); what its body does follows"),
                    )
                }
                Some(sql::Body::Unreadable(why)) => {
                    effect.reason =
                        format!("calls {function}(), whose body migsafe cannot read: {why}").into()
                }
                // Extensions live in `public` or a schema of their own (`extensions`).
                None if sql::builtins::contrib_reader(bare)
                    && matches!(schema, None | Some("public" | "extensions")) =>
                {
                    effect = Effect::new(
                        DataEffect::None,
                        LockLevel::None,
                        format!(
                            "calls {function}() from a PostgreSQL extension, which writes nothing"
                        ),
                    )
                }
                None => {}
            }
        }
        _ => {}
    }
    if settings.postgres < 12 && matches!(op, Op::AddEnumValue { .. }) {
        effect.tx_allowed = false;
    }
    if settings.postgres < 12 && matches!(op, Op::AttachPartition { .. }) {
        effect.lock = LockLevel::AccessExclusive;
    }
    effect
}

/// Flyway runs a script outside a transaction when it holds a statement that cannot run in one.
/// Mixing both kinds is refused by Flyway (unless `mixed=true`), so such a script is modelled
/// as transactional: the non-transactional statement is then reported as what breaks it.
fn effective_mode(mode: ExecMode, steps: &[Step]) -> ExecMode {
    if mode != ExecMode::FlywayAuto {
        return mode;
    }
    let effects = || steps.iter().flat_map(|s| &s.effects);
    let non_tx = effects().any(|e| !e.effect.tx_allowed);
    let transactional =
        effects().any(|e| e.effect.tx_allowed && !matches!(e.op, Op::SetVar { .. } | Op::Comment));
    if non_tx && !transactional {
        ExecMode::PerStatement
    } else {
        ExecMode::WrappedTx
    }
}

/// Marks, for each step, whether it runs inside a transaction block and whether timeouts are set.
fn annotate_context(mode: ExecMode, commit_ends_tx: bool, steps: &mut [Step]) {
    // The runner's own transaction; where `commit_ends_tx`, an explicit COMMIT or ROLLBACK in
    // the script ends it early (PostgreSQL only warns), and what follows runs in autocommit.
    let mut implicit = match mode {
        ExecMode::WrappedTx | ExecMode::FlywayAuto => true,
        // A multi-statement simple query is one implicit transaction block, also after a COMMIT.
        ExecMode::SingleSimpleQuery => steps.len() > 1,
        ExecMode::PerStatement => false,
    };
    let mut explicit = false;
    // Session-level values, and `SET LOCAL` values that last until the transaction ends.
    let (mut lock_timeout, mut statement_timeout) = (false, false);
    let (mut local_lock, mut local_statement): (Option<bool>, Option<bool>) = (None, None);
    for step in steps {
        step.in_transaction = implicit || explicit;
        for e in &step.effects {
            match &e.op {
                Op::Begin => explicit = true,
                Op::Commit | Op::Rollback => {
                    explicit = false;
                    implicit &= !commit_ends_tx;
                    (local_lock, local_statement) = (None, None);
                }
                Op::SetVar { name, value, local } => {
                    let on = timeout_enabled(value);
                    // SET LOCAL outside a transaction block has no effect.
                    match (name.as_str(), *local) {
                        // RESET ALL (and DISCARD ALL) return every setting to its default.
                        ("all", false) => {
                            (lock_timeout, statement_timeout) = (false, false);
                            (local_lock, local_statement) = (None, None);
                        }
                        ("lock_timeout", false) => (lock_timeout, local_lock) = (on, None),
                        ("statement_timeout", false) => {
                            (statement_timeout, local_statement) = (on, None)
                        }
                        ("lock_timeout", true) if step.in_transaction => local_lock = Some(on),
                        ("statement_timeout", true) if step.in_transaction => {
                            local_statement = Some(on)
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        step.lock_timeout = local_lock.unwrap_or(lock_timeout);
        step.statement_timeout = local_statement.unwrap_or(statement_timeout);
    }
}

/// Whether a timeout setting limits anything: `0` in any unit, `DEFAULT` and an empty value do
/// not (a server-side default is invisible here, so it does not count).
fn timeout_enabled(value: &str) -> bool {
    let v = value.trim().trim_matches('\'').trim();
    let digits: String = v
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    !(v.is_empty()
        || v.eq_ignore_ascii_case("default")
        || digits.parse::<f64>().is_ok_and(|n| n == 0.0))
}

/// A migration is irreversible when any step destroys data (a down script cannot bring data
/// back), unknown when a step is not understood, and reversible otherwise.
fn reversibility(up: &ScriptAnalysis) -> Reversibility {
    let mut destroying = Vec::new();
    let mut unknown = Vec::new();
    for step in &up.steps {
        let statement = excerpt(up.text(step));
        if let sql::Understanding::Opaque { message } = &step.statement.understanding {
            unknown.push(UnknownStep {
                line: step.start.line,
                column: step.start.column,
                statement: statement.clone(),
                reason: format!("cannot parse: {message}"),
            });
        }
        for e in &step.effects {
            if e.effect.data.is_destructive() {
                destroying.push(IrreversibleStep {
                    line: step.start.line,
                    column: step.start.column,
                    statement: statement.clone(),
                    reason: e.effect.reason.to_string(),
                    destroys: e.effect.destroys.clone(),
                });
            } else if e.effect.data == DataEffect::Unknown {
                unknown.push(UnknownStep {
                    line: step.start.line,
                    column: step.start.column,
                    statement: statement.clone(),
                    reason: e.effect.reason.to_string(),
                });
            }
        }
    }
    if !destroying.is_empty() {
        Reversibility::Irreversible {
            steps: destroying,
            unknown,
        }
    } else if !unknown.is_empty() {
        Reversibility::Unknown { steps: unknown }
    } else {
        Reversibility::Reversible
    }
}

/// The statement on one line, shortened for reports.
pub fn excerpt(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 120 {
        let cut: String = one_line.chars().take(117).collect();
        format!("{cut}...")
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Delimiting;

    fn mk(sql: &str, mode: ExecMode) -> Script {
        Script {
            path: "m.sql".into(),
            source: Arc::from(sql),
            range: 0..sql.len(),
            mode,
            delimiting: Delimiting::Standard,
            folded: Vec::new(),
        }
    }

    fn script(sql: &str, mode: ExecMode) -> ScriptAnalysis {
        analyze_script(&mk(sql, mode), &mut Catalog::default(), Settings::default()).unwrap()
    }

    fn in_tx(a: &ScriptAnalysis) -> Vec<bool> {
        a.steps.iter().map(|s| s.in_transaction).collect()
    }

    /// ATTACH PARTITION takes SHARE UPDATE EXCLUSIVE on the partitioned table from PostgreSQL 12
    /// on, ACCESS EXCLUSIVE before; GRANT and REVOKE take no table lock, a policy ACCESS
    /// EXCLUSIVE on its table.
    #[test]
    fn lock_levels_follow_the_version_and_the_statement() {
        let sql = "ALTER TABLE p ATTACH PARTITION p1 FOR VALUES IN (1);\nGRANT SELECT ON a TO PUBLIC;\nREVOKE SELECT ON a FROM PUBLIC;\nCREATE POLICY own ON s.a USING (true);";
        let locks = |postgres| -> Vec<LockLevel> {
            let settings = Settings {
                postgres,
                ..Settings::default()
            };
            let a = analyze_script(
                &mk(sql, ExecMode::WrappedTx),
                &mut Catalog::default(),
                settings,
            )
            .unwrap();
            a.steps.iter().map(|s| s.effects[0].effect.lock).collect()
        };
        use LockLevel as L;
        assert_eq!(
            locks(15),
            [L::ShareUpdateExclusive, L::None, L::None, L::None]
        );
        assert_eq!(locks(11), [L::AccessExclusive, L::None, L::None, L::None]);
        let a = script(sql, ExecMode::WrappedTx);
        assert_eq!(
            a.steps[3].effects[0].locks_elsewhere,
            [objects::LockElsewhere {
                table: "s.a".into(),
                lock: L::AccessExclusive,
                why: "the table the policy is on",
            }]
        );
    }

    #[test]
    fn transaction_context_follows_the_execution_mode() {
        let cic = "CREATE INDEX CONCURRENTLY i ON t (a);";
        assert_eq!(in_tx(&script(cic, ExecMode::WrappedTx)), [true]);
        assert_eq!(in_tx(&script(cic, ExecMode::SingleSimpleQuery)), [false]);
        // Two statements in one simple query form one implicit transaction block.
        assert_eq!(
            in_tx(&script(
                &format!("SELECT 1; {cic}"),
                ExecMode::SingleSimpleQuery
            )),
            [true, true]
        );
        assert_eq!(
            in_tx(&script(
                &format!("BEGIN; SELECT 1; COMMIT; {cic}"),
                ExecMode::PerStatement
            )),
            [false, true, true, false]
        );
    }

    #[test]
    fn an_explicit_commit_ends_the_runner_transaction_and_set_local_with_it() {
        let sql =
            "SET LOCAL lock_timeout = '1s'; ALTER TABLE t ADD COLUMN a int; COMMIT; SELECT 1;";
        // goose runs statements one by one in its transaction: COMMIT ends it.
        let goose = Script {
            delimiting: Delimiting::Goose,
            folded: Vec::new(),
            ..mk(sql, ExecMode::WrappedTx)
        };
        let a = analyze_script(&goose, &mut Catalog::default(), Settings::default()).unwrap();
        assert_eq!(in_tx(&a), [true, true, true, false]);
        // sqlx sends the file as one query: the implicit block outlives the COMMIT.
        assert_eq!(
            in_tx(&script(sql, ExecMode::WrappedTx)),
            [true, true, true, true]
        );
        let lt: Vec<bool> = a.steps.iter().map(|s| s.lock_timeout).collect();
        assert_eq!(lt, [true, true, false, false]);
        // Outside a transaction block SET LOCAL changes nothing.
        let b = script(
            "SET LOCAL lock_timeout = '1s'; ALTER TABLE t ADD COLUMN a int;",
            ExecMode::PerStatement,
        );
        assert!(b.steps.iter().all(|s| !s.lock_timeout));
    }

    #[test]
    fn flyway_runs_scripts_with_non_transactional_statements_outside_a_transaction() {
        let a = script(
            "CREATE INDEX CONCURRENTLY i ON t (a);",
            ExecMode::FlywayAuto,
        );
        assert_eq!((a.mode, in_tx(&a)), (ExecMode::PerStatement, vec![false]));
        let b = script("CREATE INDEX i ON t (a);", ExecMode::FlywayAuto);
        assert_eq!((b.mode, in_tx(&b)), (ExecMode::WrappedTx, vec![true]));
    }

    #[test]
    fn timeouts_apply_to_the_statements_after_them() {
        let a = script(
            "ALTER TABLE t ADD COLUMN a int; SET lock_timeout = '2s'; ALTER TABLE t ADD COLUMN b int; SET lock_timeout = '0ms'; SELECT 1; SET LOCAL lock_timeout TO 500; SELECT 1; RESET lock_timeout; SELECT 1; SET lock_timeout = '1s'; RESET ALL;",
            ExecMode::WrappedTx,
        );
        let lt: Vec<bool> = a.steps.iter().map(|s| s.lock_timeout).collect();
        assert_eq!(
            lt,
            [
                false, true, true, false, false, true, true, false, false, true, false
            ]
        );
    }

    #[test]
    fn backfills_of_columns_added_in_the_same_migration_destroy_nothing() {
        let a = script(
            "ALTER TABLE n ADD COLUMN creator_id int; UPDATE n SET creator_id = p.creator_id FROM p WHERE p.id = n.post_id; UPDATE n SET creator_id = 0 WHERE creator_id IS NULL;",
            ExecMode::WrappedTx,
        );
        assert!(
            matches!(reversibility(&a), Reversibility::Reversible),
            "{:?}",
            reversibility(&a)
        );
        // An UPDATE that also sets a column that existed before destroys its old values.
        let b = script(
            "ALTER TABLE n ADD COLUMN creator_id int; UPDATE n SET creator_id = 1, title = 'x';",
            ExecMode::WrappedTx,
        );
        assert!(matches!(
            reversibility(&b),
            Reversibility::Irreversible { .. }
        ));
        // A column of the same name added to another table does not count.
        let c = script(
            "ALTER TABLE m ADD COLUMN creator_id int; UPDATE n SET creator_id = 1;",
            ExecMode::WrappedTx,
        );
        assert!(matches!(
            reversibility(&c),
            Reversibility::Irreversible { .. }
        ));
    }

    /// The destroyed objects of an irreversible migration, or its label otherwise.
    fn verdict(sql: &str) -> Result<Vec<Destroyed>, &'static str> {
        match reversibility(&script(sql, ExecMode::WrappedTx)) {
            Reversibility::Irreversible { steps, .. } => {
                Ok(steps.into_iter().flat_map(|s| s.destroys).collect())
            }
            other => Err(other.label()),
        }
    }

    fn rows(table: &str, all: bool) -> Destroyed {
        Destroyed::Rows {
            table: table.into(),
            all,
        }
    }

    #[test]
    fn renames_move_identity_so_a_swap_then_drop_hits_the_old_object() {
        assert_eq!(
            verdict(
                "CREATE TABLE accounts_new (id int); ALTER TABLE accounts RENAME TO accounts_old; ALTER TABLE accounts_new RENAME TO accounts; DROP TABLE accounts_old;"
            ),
            Ok(vec![Destroyed::Table {
                table: "accounts_old".into()
            }])
        );
        // The new table, renamed, is still new: dropping it loses nothing.
        assert_eq!(
            verdict(
                "CREATE TABLE a_new (id int); ALTER TABLE a_new RENAME TO a_tmp; DROP TABLE a_tmp;"
            ),
            Err("reversible")
        );
        // A name freed by a drop and taken by an old table is the old table.
        assert_eq!(
            verdict(
                "CREATE TABLE tmp (id int); DROP TABLE tmp; ALTER TABLE accounts RENAME TO tmp; DROP TABLE tmp;"
            ),
            Ok(vec![Destroyed::Table {
                table: "tmp".into()
            }])
        );
        // Column swaps: the renamed old column is what the DROP destroys.
        assert!(
            verdict("ALTER TABLE t ADD COLUMN b2 int; ALTER TABLE t RENAME COLUMN b TO b_old; ALTER TABLE t RENAME COLUMN b2 TO b; ALTER TABLE t DROP COLUMN b_old;").is_ok()
        );
        assert_eq!(
            verdict(
                "ALTER TABLE t ADD COLUMN b2 int; ALTER TABLE t RENAME COLUMN b2 TO b3; ALTER TABLE t DROP COLUMN b3;"
            ),
            Err("reversible")
        );
        assert_eq!(
            verdict(
                "ALTER TABLE t ADD COLUMN c int; UPDATE t SET c = 1; ALTER TABLE t RENAME COLUMN c TO d; UPDATE t SET d = 2;"
            ),
            Err("reversible")
        );
    }

    #[test]
    fn sequences_the_migration_created_can_be_reset() {
        assert_eq!(
            verdict(
                "CREATE SEQUENCE s; SELECT setval('s', 100); CREATE TABLE n (id serial); SELECT setval('n_id_seq', 5); ALTER TABLE n ALTER COLUMN id RESTART WITH 9;"
            ),
            Err("reversible")
        );
        assert_eq!(
            verdict("ALTER TABLE accounts ALTER COLUMN id RESTART WITH 1;"),
            Ok(vec![Destroyed::Sequence {
                sequence: "accounts.id".into()
            }])
        );
    }

    #[test]
    fn foreign_key_actions_carry_deletes_into_older_tables() {
        assert_eq!(
            verdict(
                "CREATE TABLE plans (id int PRIMARY KEY); INSERT INTO plans SELECT DISTINCT plan_id FROM accounts; ALTER TABLE accounts ADD FOREIGN KEY (plan_id) REFERENCES plans ON DELETE CASCADE; DELETE FROM plans WHERE id = 3;"
            ),
            Ok(vec![rows("accounts", false)])
        );
        assert_eq!(
            verdict(
                "CREATE TABLE plans (id int PRIMARY KEY); ALTER TABLE accounts ADD CONSTRAINT f FOREIGN KEY (plan_id) REFERENCES plans (id) ON DELETE SET NULL; DELETE FROM plans;"
            ),
            Ok(vec![Destroyed::Values {
                table: "accounts".into(),
                columns: vec!["plan_id".into()],
                all_rows: false
            }])
        );
        // Without an action the DELETE of the new table's rows fails or does nothing to others.
        assert_eq!(
            verdict(
                "CREATE TABLE plans (id int PRIMARY KEY); ALTER TABLE accounts ADD FOREIGN KEY (plan_id) REFERENCES plans; DELETE FROM plans;"
            ),
            Err("reversible")
        );
        // Cascades into a table the migration created lose nothing.
        assert_eq!(
            verdict(
                "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (p int REFERENCES p ON DELETE CASCADE); DELETE FROM p;"
            ),
            Err("reversible")
        );
    }

    #[test]
    fn inheritance_and_partitions_reach_older_tables() {
        assert_eq!(
            verdict(
                "CREATE TABLE base (id int); ALTER TABLE accounts INHERIT base; DELETE FROM base;"
            ),
            Ok(vec![rows("accounts", true)])
        );
        assert_eq!(
            verdict(
                "CREATE TABLE events_p (id int, at date) PARTITION BY RANGE (at); ALTER TABLE events_p ATTACH PARTITION events FOR VALUES FROM ('2020-01-01') TO ('2030-01-01'); DROP TABLE events_p;"
            ),
            Ok(vec![Destroyed::Table {
                table: "events".into()
            }])
        );
    }

    #[test]
    fn triggers_and_functions_the_migration_created_act_on_older_tables() {
        let purge = "CREATE FUNCTION purge() RETURNS trigger AS $$ BEGIN DELETE FROM accounts WHERE closed; RETURN NEW; END $$ LANGUAGE plpgsql;";
        assert_eq!(
            verdict(&format!(
                "CREATE TABLE log (id int); {purge} CREATE TRIGGER t AFTER INSERT ON log FOR EACH ROW EXECUTE FUNCTION purge(); INSERT INTO log VALUES (1);"
            )),
            Ok(vec![rows("accounts", false)])
        );
        // A trigger on other events does not fire.
        assert_eq!(
            verdict(&format!(
                "CREATE TABLE log (id int); {purge} CREATE TRIGGER t AFTER DELETE ON log FOR EACH ROW EXECUTE FUNCTION purge(); INSERT INTO log VALUES (1);"
            )),
            Err("reversible")
        );
        let wipe = "CREATE FUNCTION wipe() RETURNS int AS $$ DELETE FROM accounts RETURNING 1 $$ LANGUAGE sql;";
        for use_it in [
            "INSERT INTO log SELECT wipe();",
            "ALTER TABLE log ADD COLUMN c int DEFAULT wipe();",
            "ALTER TABLE log ADD CONSTRAINT c CHECK (wipe() > 0);",
            "CREATE MATERIALIZED VIEW mv AS SELECT wipe();",
            "CREATE INDEX i ON log ((wipe()));",
            "CREATE TABLE copy AS SELECT wipe() AS n;",
        ] {
            assert_eq!(
                verdict(&format!("CREATE TABLE log (id int); {wipe} {use_it}")),
                Ok(vec![rows("accounts", true)]),
                "{use_it}"
            );
        }
        // A view runs the call whenever it is read: counted where the view is created.
        assert_eq!(
            verdict(&format!("{wipe} CREATE VIEW v AS SELECT wipe();")),
            Ok(vec![rows("accounts", true)])
        );
        // A function migsafe did not see created is unknown wherever it runs.
        assert_eq!(
            verdict("CREATE TABLE log (id int); INSERT INTO log SELECT external_fn();"),
            Err("unknown")
        );
        // STABLE and IMMUTABLE functions cannot write; built-ins are known.
        assert_eq!(
            verdict(
                "CREATE FUNCTION f() RETURNS int STABLE LANGUAGE sql AS 'SELECT 1'; CREATE TABLE log (id int DEFAULT f(), u uuid DEFAULT gen_random_uuid(), e text DEFAULT lower('X')); INSERT INTO log SELECT f();"
            ),
            Err("reversible")
        );
        // Extension functions are known in any schema, unless the project defines its own.
        assert_eq!(
            verdict(
                "CREATE TABLE log (id uuid DEFAULT extensions.uuid_generate_v4(), d int DEFAULT levenshtein('a', 'b'));"
            ),
            Err("reversible")
        );
        assert_eq!(
            verdict(
                "CREATE FUNCTION levenshtein(a text, b text) RETURNS int LANGUAGE sql AS 'DELETE FROM accounts RETURNING 1'; CREATE TABLE log (d int); INSERT INTO log SELECT levenshtein('a', 'b');"
            ),
            Ok(vec![rows("accounts", true)])
        );
        // A built-in that writes is as unknown as any unread function.
        assert_eq!(verdict("SELECT lo_unlink(42);"), Err("unknown"));
        // Functions calling functions are followed.
        assert_eq!(
            verdict(&format!(
                "{wipe} CREATE FUNCTION outer_fn() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM wipe(); END $$; SELECT outer_fn();"
            )),
            Ok(vec![rows("accounts", true)])
        );
        // Recursion ends.
        assert_eq!(
            verdict(
                "CREATE FUNCTION r() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM r(); END $$; SELECT r();"
            ),
            Err("reversible")
        );
    }

    #[test]
    fn do_blocks_are_classified_from_their_statements() {
        assert_eq!(
            verdict("DO $$ BEGIN EXECUTE 'ALTER TABLE accounts DROP COLUMN legacy'; END $$;"),
            Ok(vec![Destroyed::Columns {
                table: "accounts".into(),
                columns: vec!["legacy".into()]
            }])
        );
        assert_eq!(
            verdict(
                "DO $$ BEGIN IF EXISTS (SELECT 1 FROM legacy_orders) THEN DROP TABLE legacy_orders; END IF; END $$;"
            ),
            Ok(vec![Destroyed::Table {
                table: "legacy_orders".into()
            }])
        );
        assert_eq!(
            verdict(
                "DO $$ DECLARE t text; BEGIN FOR t IN SELECT tablename FROM pg_tables WHERE tablename LIKE 'tmp_%' LOOP EXECUTE 'DROP TABLE ' || quote_ident(t); END LOOP; END $$;"
            ),
            Ok(vec![Destroyed::Table {
                table: crate::sql::RUN_TIME.into()
            }])
        );
        assert_eq!(
            verdict(
                "DO $$ BEGIN CREATE TYPE mood AS ENUM ('ok'); EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
            ),
            Err("reversible")
        );
        assert_eq!(
            verdict("DO $$ BEGIN EXECUTE some_text; END $$;"),
            Err("unknown")
        );
        assert_eq!(
            verdict("MERGE INTO accounts a USING s ON a.id = s.id WHEN MATCHED THEN DELETE;"),
            Ok(vec![rows("accounts", false)])
        );
    }

    /// Each case an attacker-minded review found letting data loss through, checked on
    /// PostgreSQL 15 (accounts, staging.* and purge_accounts() exist before the migration).
    #[test]
    fn reviewed_evasions_are_caught() {
        let irreversible = [
            "CREATE TABLE IF NOT EXISTS accounts (id int); DELETE FROM accounts;",
            "ALTER TABLE accounts ADD COLUMN IF NOT EXISTS email text; UPDATE accounts SET email = NULL;",
            "SET search_path = staging, public; CREATE TABLE accounts (id int); RESET search_path; DROP TABLE accounts;",
            "CREATE TABLE staging.accounts_new (id int); ALTER TABLE staging.accounts_new RENAME TO accounts; DROP TABLE accounts;",
            "CREATE TABLE tmp (id int); ALTER INDEX tmp RENAME TO tmp_gone; ALTER INDEX accounts RENAME TO tmp; DROP TABLE tmp;",
            "CREATE TABLE log (id int); CREATE FUNCTION purge() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM accounts; RETURN NULL; END $$; CREATE FUNCTION mk() RETURNS void LANGUAGE plpgsql AS $$ BEGIN CREATE TRIGGER x AFTER INSERT ON log FOR EACH STATEMENT EXECUTE FUNCTION purge(); END $$; SELECT mk(); INSERT INTO log VALUES (1);",
            "CREATE TABLE staging_acc (id int); CREATE FUNCTION swap() RETURNS void LANGUAGE plpgsql AS $$ BEGIN ALTER TABLE staging_acc RENAME TO junk; ALTER TABLE accounts RENAME TO staging_acc; END $$; SELECT swap(); DROP TABLE staging_acc;",
            "CREATE TABLE staging_acc (id int); DROP TABLE staging_acc; DO $$ BEGIN EXECUTE format('ALTER TABLE %I RENAME TO %I', 'accounts', 'staging_acc'); END $$; DROP TABLE staging_acc;",
            "CREATE FUNCTION f(t text) RETURNS int LANGUAGE sql AS 'DELETE FROM accounts RETURNING 1'; CREATE FUNCTION f(i int) RETURNS int LANGUAGE sql AS 'SELECT 1'; SELECT f('x'::text);",
            "CREATE FUNCTION w() RETURNS int LANGUAGE sql AS 'DELETE FROM accounts RETURNING 1'; CREATE FUNCTION s() RETURNS int STABLE LANGUAGE plpgsql AS $$ BEGIN RETURN w(); END $$; SELECT s();",
            "CREATE FUNCTION f() RETURNS int SET search_path = stable, public LANGUAGE sql AS $$ DELETE FROM accounts RETURNING 1 $$; SELECT f();",
            "CREATE FUNCTION wipe() RETURNS int LANGUAGE sql AS 'DELETE FROM accounts RETURNING 1'; CREATE VIEW v AS SELECT wipe();",
            "DO $$ DECLARE r record; BEGIN FOR r IN DELETE FROM accounts RETURNING * LOOP NULL; END LOOP; END $$;",
            "ALTER TABLE accounts ADD COLUMN n int; DO $$ BEGIN EXECUTE E'UPDATE accounts SET n = 1 --\\n, email = NULL'; END $$;",
            // A row trigger on a partitioned table is cloned to its partitions.
            "CREATE TABLE log_p (id int) PARTITION BY RANGE (id); CREATE TABLE log_1 PARTITION OF log_p FOR VALUES FROM (0) TO (10); CREATE FUNCTION purge() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM accounts; RETURN NULL; END $$; CREATE TRIGGER t AFTER INSERT ON log_p FOR EACH ROW EXECUTE FUNCTION purge(); INSERT INTO log_1 VALUES (1);",
        ];
        for sql in irreversible {
            assert!(verdict(sql).is_ok(), "{sql}: {:?}", verdict(sql));
        }
        let unknown = [
            "CREATE FUNCTION public.lo_unlink(oid) RETURNS int LANGUAGE sql AS 'SELECT 1'; SELECT lo_unlink(42);",
            "SELECT staging.similarity('a', 'b');",
            "CREATE FUNCTION f() RETURNS int STABLE LANGUAGE sql AS 'SELECT purge_accounts()'; SELECT f();",
            "CREATE MATERIALIZED VIEW mv AS SELECT purge_accounts() WITH NO DATA; REFRESH MATERIALIZED VIEW mv;",
            "DO $$ DECLARE q text := 'purge_accounts()'; BEGIN EXECUTE 'SELECT ' || q; END $$;",
            "DO $$ BEGIN RAISE NOTICE '%', purge_accounts(); END $$;",
            "DO $$ BEGIN CASE WHEN purge_accounts() > 0 THEN NULL; ELSE NULL; END CASE; END $$;",
            "DO $$ BEGIN FOR i IN 1..purge_accounts() LOOP NULL; END LOOP; END $$;",
            "DO $$ DECLARE r record; BEGIN FOR r IN (SELECT purge_accounts()) LOOP NULL; END LOOP; END $$;",
            "DO $$ BEGIN LOOP EXIT WHEN purge_accounts() > 0; END LOOP; END $$;",
            "DO $$ BEGIN EXECUTE 'SELECT $1' USING purge_accounts(); END $$;",
            "DO $$ DECLARE x int; BEGIN FOREACH x IN ARRAY ARRAY[purge_accounts()] LOOP NULL; END LOOP; END $$;",
            "SET standard_conforming_strings = off; SELECT 1;",
        ];
        for sql in unknown {
            assert_eq!(verdict(sql), Err("unknown"), "{sql}");
        }
        // Ordinary migrations stay reversible.
        for sql in [
            "CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);",
            "CREATE TABLE t (id int) PARTITION BY LIST (id); CREATE TABLE u (id int) PARTITION BY HASH (id);",
            "CREATE SEQUENCE public.tags_id_seq; SELECT pg_catalog.setval('public.tags_id_seq', 1, false);",
            "DO $$ BEGIN CREATE TYPE mood AS ENUM ('ok'); EXCEPTION WHEN SQLSTATE '42710' THEN NULL; END $$;",
        ] {
            assert_eq!(verdict(sql), Err("reversible"), "{sql}");
        }
    }

    /// psql: `\\` ends a meta-command and SQL follows; a `\set` value keeps its blanks and may
    /// hold several statements.
    #[test]
    fn psql_scripts_cannot_hide_statements() {
        for sql in [
            "\\echo hi \\\\ DROP TABLE accounts;",
            "\\set x '1; DROP TABLE accounts'\nSELECT :x;",
        ] {
            assert!(verdict(sql).is_ok(), "{sql}: {:?}", verdict(sql));
        }
    }

    #[test]
    fn tables_created_in_the_same_migration_hold_no_data_to_destroy() {
        let a = script(
            "CREATE TABLE t (id int); UPDATE t SET id = 1; DROP TABLE t;",
            ExecMode::WrappedTx,
        );
        assert!(matches!(reversibility(&a), Reversibility::Reversible));
        let b = script("UPDATE t SET id = 1 WHERE id = 2;", ExecMode::WrappedTx);
        match reversibility(&b) {
            Reversibility::Irreversible { steps, .. } => {
                assert_eq!(
                    steps[0].destroys,
                    vec![Destroyed::Values {
                        table: "t".into(),
                        columns: vec!["id".into()],
                        all_rows: false
                    }]
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn opaque_statements_make_a_migration_unknown_and_destruction_wins() {
        let a = script("CREATE STATISTICS s ON a, b FROM t;", ExecMode::WrappedTx);
        assert_eq!(reversibility(&a).label(), "unknown");
        let b = script(
            "CREATE STATISTICS s ON a, b FROM t; DROP TABLE t;",
            ExecMode::WrappedTx,
        );
        match reversibility(&b) {
            Reversibility::Irreversible { unknown, .. } => assert_eq!(unknown.len(), 1),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn type_changes_are_judged_against_the_previous_type() {
        let mut catalog = Catalog::default();
        let mk = |sql: &str| Script {
            path: "m.sql".into(),
            source: Arc::from(sql),
            range: 0..sql.len(),
            mode: ExecMode::WrappedTx,
            delimiting: Delimiting::Standard,
            folded: Vec::new(),
        };
        analyze_script(
            &mk("CREATE TABLE u (email varchar(64), n numeric(10,2));"),
            &mut catalog,
            Settings::default(),
        )
        .unwrap();
        let widen = analyze_script(
            &mk("ALTER TABLE u ALTER COLUMN email TYPE text;"),
            &mut catalog,
            Settings::default(),
        )
        .unwrap();
        assert!(matches!(reversibility(&widen), Reversibility::Reversible));
        assert!(!widen.steps[0].effects[0].effect.rewrite);
        // Fewer integer digits: fails on a value that does not fit, keeps every other exactly.
        let fewer = analyze_script(
            &mk("ALTER TABLE u ALTER COLUMN n TYPE numeric(8,2);"),
            &mut catalog,
            Settings::default(),
        )
        .unwrap();
        assert_eq!(reversibility(&fewer).label(), "reversible");
        assert_eq!(fewer.steps[0].effects[0].effect.data, DataEffect::FailRisk);
        // A smaller scale rounds.
        let narrow = analyze_script(
            &mk("ALTER TABLE u ALTER COLUMN n TYPE numeric(8,1);"),
            &mut catalog,
            Settings::default(),
        )
        .unwrap();
        assert_eq!(reversibility(&narrow).label(), "irreversible");
    }
}
