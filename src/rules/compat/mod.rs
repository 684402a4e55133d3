//! Compatibility rules (MS2xx): changes that break the application version still running during
//! a rollout (renames, drops, privileges), transaction handling that silently changes what a
//! script does, and schema design choices that are expensive to undo later.

mod add_column_json;
mod add_enum_value;
mod change_column_default;
mod create_enum;
mod create_trigger;
mod disable_trigger;
mod drop_constraint;
mod drop_not_null;
mod drop_object;
mod identifier_too_long;
mod prefer_bigint;
mod prefer_identity;
mod prefer_robust_statements;
mod prefer_text;
mod prefer_timestamptz;
mod privileges_change;
mod rename_column;
mod rename_object;
mod rename_table;
mod replica_identity;
mod set_schema;
mod transaction_nesting;

use std::collections::HashMap;

use super::{Context, Rule};
use crate::classify::{OpEffect, ScriptAnalysis, Step};
use crate::sql::op::unqualified as key;
use crate::sql::tokens::{Tok, tokenize};
use crate::sql::{ColumnSpec, Op, SqlType};

pub static RULES: &[&dyn Rule] = &[
    &rename_column::RenameColumn,
    &rename_table::RenameTable,
    &rename_object::RenameObject,
    &set_schema::SetSchema,
    &drop_not_null::DropNotNull,
    &drop_constraint::DropConstraint,
    &drop_object::DropObject,
    &change_column_default::ChangeColumnDefault,
    &disable_trigger::DisableTrigger,
    &privileges_change::PrivilegesChange,
    &replica_identity::ReplicaIdentity,
    &add_enum_value::AddEnumValue,
    &transaction_nesting::TransactionNesting,
    &create_enum::CreateEnum,
    &prefer_robust_statements::PreferRobustStatements,
    &prefer_bigint::PreferBigint,
    &prefer_text::PreferText,
    &prefer_timestamptz::PreferTimestamptz,
    &prefer_identity::PreferIdentity,
    &identifier_too_long::IdentifierTooLong,
    &add_column_json::AddColumnJson,
    &create_trigger::CreateTrigger,
];

/// Every object the migration creates, with the index (in [`Context::ops`] order) of the
/// operation that creates it. Built once per migration and shared by every compat rule.
#[derive(Default)]
pub(crate) struct Created {
    /// Names by kind: `table` → `orders`, `column` → `orders.total`, `index`, `constraint`
    /// (`orders.orders_total_check`), `type`, `view`, `function`, `sequence`, `schema`,
    /// `extension`; the value is the index of the creating operation.
    keys: HashMap<&'static str, HashMap<String, usize>>,
}

impl Created {
    fn build(cx: &Context<'_>) -> Created {
        let mut created = Created::default();
        for (i, (_, e)) in cx.ops().enumerate() {
            created.record(&e.op, i);
        }
        created
    }

    fn add(&mut self, kind: &'static str, name: &str, at: usize) {
        self.keys
            .entry(kind)
            .or_default()
            .entry(key(name).to_string())
            .or_insert(at);
    }

    /// Records what the operation at index `at` creates (or renames a fresh table to).
    fn record(&mut self, op: &Op, at: usize) {
        let fresh = Fresh { created: self, at };
        match op {
            Op::CreateTable { table, .. } | Op::CreateTableAs { table } => {
                self.add("table", table, at)
            }
            Op::RenameTable { table, to } if fresh.table(table) => self.add("table", to, at),
            Op::AddColumn { table, column } => {
                self.add("column", &format!("{}.{}", key(table), column.name), at)
            }
            Op::RenameColumn { table, to, .. } => {
                self.add("column", &format!("{}.{to}", key(table)), at)
            }
            Op::AddConstraint {
                table,
                name: Some(name),
                ..
            } => self.add("constraint", &format!("{}.{name}", key(table)), at),
            Op::CreateIndex {
                name: Some(name), ..
            } => self.add("index", name, at),
            Op::CreateEnum { name } | Op::CreateDomain { name, .. } => self.add("type", name, at),
            Op::CreateView { name, .. } => self.add("view", name, at),
            Op::CreateFunction { name, .. } => self.add("function", name, at),
            Op::CreateOther { kind, name } => match kind.as_str() {
                "type" => self.add("type", name, at),
                "sequence" => self.add("sequence", name, at),
                "schema" => self.add("schema", name, at),
                "extension" => self.add("extension", name, at),
                _ => {}
            },
            _ => {}
        }
    }
}

/// What the migration created before the operation being looked at: objects that no running
/// application version can know about yet, so changing them again breaks nobody.
pub(crate) struct Fresh<'c> {
    created: &'c Created,
    /// Index of the operation being looked at.
    at: usize,
}

impl Fresh<'_> {
    fn has(&self, kind: &str, name: &str) -> bool {
        self.created
            .keys
            .get(kind)
            .and_then(|names| names.get(key(name)))
            .is_some_and(|&i| i < self.at)
    }

    fn table(&self, table: &str) -> bool {
        self.has("table", table)
    }

    /// A column of a table created in this migration, or added to one by it.
    fn column(&self, table: &str, column: &str) -> bool {
        self.table(table) || self.has("column", &format!("{}.{column}", key(table)))
    }

    fn constraint(&self, table: &str, name: &str) -> bool {
        self.table(table) || self.has("constraint", &format!("{}.{name}", key(table)))
    }
}

/// Calls `f` for every operation of the up script, with what the migration created before it.
fn walk<'a>(cx: &Context<'a>, mut f: impl FnMut(&'a Step, &'a OpEffect, &Fresh<'_>)) {
    let created = cx.memo.created.get_or_init(|| Created::build(cx));
    for (at, (step, e)) in cx.ops().enumerate() {
        f(step, e, &Fresh { created, at });
    }
}

/// Like [`walk`], but only operations on tables that existed before this migration.
fn walk_existing<'a>(cx: &Context<'a>, mut f: impl FnMut(&'a Step, &'a OpEffect, &Fresh<'_>)) {
    walk(cx, |step, e, fresh| {
        let tables = e.op.tables();
        let new = e.new_table || (!tables.is_empty() && tables.iter().all(|t| fresh.table(t)));
        if !new {
            f(step, e, fresh)
        }
    });
}

/// A step's tokens (comments skipped, string literals opaque).
fn tokens(script: &ScriptAnalysis, step: &Step) -> Vec<Tok> {
    tokenize(script.text(step))
}

/// Whether `kws` appear as consecutive keywords in `toks`.
fn has_seq(toks: &[Tok], kws: &[&str]) -> bool {
    toks.windows(kws.len())
        .any(|w| w.iter().zip(kws).all(|(t, k)| t.is_kw(k)))
}

/// The name (possibly qualified) that starts at `toks[i]`, and the index after it.
fn name_at(toks: &[Tok], mut i: usize) -> Option<(String, usize)> {
    let mut parts = Vec::new();
    while let Some(Tok::Word { text, .. }) = toks.get(i) {
        parts.push(text.clone());
        i += 1;
        if toks.get(i) != Some(&Tok::Sym('.')) {
            break;
        }
        i += 1;
    }
    (!parts.is_empty()).then(|| (parts.join("."), i))
}

/// The table after the first top-level `ON` (`DROP TRIGGER t ON orders`, `CREATE POLICY p ON
/// orders`).
fn on_table(toks: &[Tok]) -> Option<String> {
    let i = toks.iter().position(|t| t.is_kw("on"))?;
    let mut j = i + 1;
    if toks.get(j).is_some_and(|t| t.is_kw("table")) {
        j += 1;
    }
    name_at(toks, j).map(|(n, _)| n)
}

/// The tokens of each top-level comma-separated part of a statement (the actions of an
/// `ALTER TABLE`).
fn parts(toks: &[Tok]) -> Vec<&[Tok]> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, t) in toks.iter().enumerate() {
        match t {
            Tok::Sym('(') => depth += 1,
            Tok::Sym(')') => depth -= 1,
            Tok::Sym(',') if depth == 0 => {
                out.push(&toks[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&toks[start..]);
    out
}

/// The tokens of the `ALTER TABLE` action that produced `e`, the n-th operation of its step
/// (each action becomes one operation, in order); the whole statement when that does not line up.
fn action_tokens<'t>(step: &Step, e: &OpEffect, toks: &'t [Tok]) -> &'t [Tok] {
    let n = step
        .effects
        .iter()
        .position(|x| std::ptr::eq(x, e))
        .unwrap_or(0);
    let parts = parts(toks);
    if parts.len() == step.effects.len() {
        parts[n]
    } else {
        toks
    }
}

/// The columns a `CREATE TABLE` or `ADD COLUMN` defines, with their table.
fn defined_columns(op: &Op) -> Vec<(&str, &ColumnSpec)> {
    match op {
        Op::CreateTable { table, columns, .. } => {
            columns.iter().map(|c| (table.as_str(), c)).collect()
        }
        Op::AddColumn { table, column } => vec![(table.as_str(), column)],
        _ => vec![],
    }
}

/// Every column type the operation sets: column definitions and `ALTER COLUMN … TYPE`, with the
/// table, the column, and a verb for messages.
fn typed_columns(op: &Op) -> Vec<(&str, &str, &SqlType, &'static str)> {
    match op {
        Op::AlterColumnType {
            table, column, ty, ..
        } => vec![(table.as_str(), column.as_str(), ty, "changes")],
        Op::CreateTable { .. } => defined_columns(op)
            .into_iter()
            .map(|(t, c)| (t, c.name.as_str(), &c.ty, "creates"))
            .collect(),
        _ => defined_columns(op)
            .into_iter()
            .map(|(t, c)| (t, c.name.as_str(), &c.ty, "adds"))
            .collect(),
    }
}

/// For each step of a script, the unit it commits in: steps of one transaction share a unit,
/// each step outside a transaction is a unit of its own.
fn commit_units(steps: &[Step]) -> Vec<usize> {
    let mut units = Vec::with_capacity(steps.len());
    let (mut unit, mut ended) = (0, true);
    for step in steps {
        if !step.in_transaction || ended {
            unit += 1;
            ended = !step.in_transaction;
        }
        units.push(unit);
        if step
            .effects
            .iter()
            .any(|e| matches!(e.op, Op::Commit | Op::Rollback))
        {
            ended = true;
        }
    }
    units
}

/// `creates column orders.total as numeric`, `changes column orders.total to numeric`.
fn column_phrase(verb: &str, table: &str, column: &str, ty: &SqlType) -> String {
    match verb {
        "changes" => format!("changes column {table}.{column} to {ty}"),
        _ => format!("{verb} column {table}.{column} as {ty}"),
    }
}

/// The new name of `… RENAME [CONSTRAINT x] TO new`.
fn renamed_to(toks: &[Tok]) -> Option<String> {
    let rename = toks.iter().position(|t| t.is_kw("rename"))?;
    let to = toks[rename..].iter().position(|t| t.is_kw("to"))?;
    name_at(toks, rename + to + 1).map(|(n, _)| n)
}
