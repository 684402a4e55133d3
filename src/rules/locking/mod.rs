//! Locking rules (MS1xx): statements that block reads or writes on tables that already hold
//! data, rewrite them, scan them under a lock, or cannot run where the runner puts them.

mod add_column_generated_stored;
mod add_column_not_null_without_default;
mod add_column_serial;
mod add_column_volatile_default;
mod add_exclusion_constraint;
mod add_primary_key;
mod add_unique_constraint;
mod attach_partition_scan;
mod check_constraint_not_valid;
mod column_type_rewrite;
mod concurrent_index_not_idempotent;
mod create_index_non_concurrent;
mod detach_partition_non_concurrent;
mod domain_constraint_scan;
mod drop_index_non_concurrent;
mod foreign_key_not_valid;
mod lock_held_during_slow_step;
mod lock_table;
mod missing_lock_timeout;
mod missing_statement_timeout;
mod non_transactional_in_transaction;
mod refresh_matview_blocking;
mod reindex_non_concurrent;
mod repeated_alter_table;
mod set_not_null;
mod table_rewrite;
mod vacuum_full_or_cluster;
mod validate_in_same_transaction;

use std::collections::HashSet;

use super::{Context, Rule};
use crate::classify::{LockLevel, OpEffect, Step};
use crate::sql::Op;
use crate::sql::op::unqualified as key;

pub static RULES: &[&dyn Rule] = &[
    &add_column_volatile_default::AddColumnVolatileDefault,
    &add_column_not_null_without_default::AddColumnNotNullWithoutDefault,
    &add_column_serial::AddColumnSerial,
    &add_column_generated_stored::AddColumnGeneratedStored,
    &foreign_key_not_valid::ForeignKeyNotValid,
    &create_index_non_concurrent::CreateIndexNonConcurrent,
    &non_transactional_in_transaction::NonTransactionalInTransaction,
    &concurrent_index_not_idempotent::ConcurrentIndexNotIdempotent,
    &drop_index_non_concurrent::DropIndexNonConcurrent,
    &reindex_non_concurrent::ReindexNonConcurrent,
    &validate_in_same_transaction::ValidateInSameTransaction,
    &check_constraint_not_valid::CheckConstraintNotValid,
    &add_unique_constraint::AddUniqueConstraint,
    &add_primary_key::AddPrimaryKey,
    &add_exclusion_constraint::AddExclusionConstraint,
    &set_not_null::SetNotNull,
    &column_type_rewrite::ColumnTypeRewrite,
    &vacuum_full_or_cluster::VacuumFullOrCluster,
    &lock_table::LockTable,
    &detach_partition_non_concurrent::DetachPartitionNonConcurrent,
    &attach_partition_scan::AttachPartitionScan,
    &table_rewrite::TableRewrite,
    &domain_constraint_scan::DomainConstraintScan,
    &refresh_matview_blocking::RefreshMatviewBlocking,
    &missing_lock_timeout::MissingLockTimeout,
    &missing_statement_timeout::MissingStatementTimeout,
    &lock_held_during_slow_step::LockHeldDuringSlowStep,
    &repeated_alter_table::RepeatedAlterTable,
];

/// "foreign key orders_customer_fk", or "a foreign key" when the constraint is unnamed.
fn constraint_phrase(kind: &str, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("{kind} {n}"),
        None if kind.starts_with(['a', 'e', 'i', 'o', 'u']) => format!("an {kind}"),
        None => format!("a {kind}"),
    }
}

/// The lock mode as PostgreSQL spells it.
fn lock_name(lock: LockLevel) -> &'static str {
    match lock {
        LockLevel::None => "no",
        LockLevel::AccessShare => "ACCESS SHARE",
        LockLevel::RowExclusive => "ROW EXCLUSIVE",
        LockLevel::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
        LockLevel::Share => "SHARE",
        LockLevel::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
        LockLevel::Exclusive => "EXCLUSIVE",
        LockLevel::AccessExclusive => "ACCESS EXCLUSIVE",
    }
}

/// What an operation acts on, for messages: its tables, or the index, view, domain … it names.
fn target(op: &Op) -> String {
    let tables = op.tables();
    if !tables.is_empty() {
        return tables.join(", ");
    }
    match op {
        Op::DropIndex { names, .. } => format!("the table of index {}", names.join(", ")),
        Op::DropObject { names, .. }
        | Op::DropSequence { names }
        | Op::DropSchema { names, .. } => names.join(", "),
        Op::Vacuum { tables, .. } if !tables.is_empty() => tables.join(", "),
        Op::Vacuum { .. } => "every table of the database".into(),
        Op::Cluster { table: None } => "every previously clustered table".into(),
        Op::Reindex { target, .. } => target.clone(),
        // The lock is on the tables with a column of the domain.
        Op::AlterDomainAddConstraint { name, .. } => format!("the tables using domain {name}"),
        Op::RefreshMatView { name, .. }
        | Op::AlterSequence { name, .. }
        | Op::Rename { name, .. }
        | Op::SetSchema { name, .. }
        | Op::CreateView { name, .. }
        | Op::CreateDomain { name, .. } => name.clone(),
        Op::AddEnumValue { type_name } => type_name.clone(),
        Op::DropDatabase { name } => name.clone(),
        _ => "the object".into(),
    }
}

/// Relations created earlier in this migration (before step `before`): tables, materialized
/// views, domains, and indexes built on such tables. They hold no pre-existing data and no other
/// session can be waiting on them.
fn created_before(cx: &Context<'_>, before: usize) -> HashSet<String> {
    let mut created = HashSet::new();
    for (step, e) in cx.ops() {
        if step.index >= before {
            break;
        }
        match &e.op {
            Op::CreateTable { table, .. } | Op::CreateTableAs { table } => {
                created.insert(key(table).to_string());
            }
            Op::CreateView { name, .. } | Op::CreateDomain { name, .. } => {
                created.insert(key(name).to_string());
            }
            Op::CreateIndex {
                name: Some(name), ..
            } if e.new_table => {
                created.insert(key(name).to_string());
            }
            _ => {}
        }
    }
    created
}

/// Whether an operation acts only on objects created earlier in this migration (its table, or
/// the index, view, domain … it names), which hold no pre-existing data and lock nobody out.
fn fresh(cx: &Context<'_>, step: &Step, e: &OpEffect) -> bool {
    if e.new_table {
        return true;
    }
    let names: Vec<&str> = match &e.op {
        Op::DropIndex { names, .. } => names.iter().map(String::as_str).collect(),
        Op::Vacuum { tables, .. } => tables.iter().map(String::as_str).collect(),
        Op::Reindex { target, .. } => vec![target.as_str()],
        Op::RefreshMatView { name, .. }
        | Op::AlterDomainAddConstraint { name, .. }
        | Op::CreateView { name, .. } => {
            vec![name.as_str()]
        }
        _ => return false,
    };
    let created = created_before(cx, step.index);
    !names.is_empty() && names.iter().all(|n| created.contains(key(n)))
}

/// For each step of the up script, which transaction it runs in (`None`: autocommit). A
/// transaction ends at `COMMIT`/`ROLLBACK` or when a step runs outside one.
fn transactions(cx: &Context<'_>) -> Vec<Option<usize>> {
    let mut ids = Vec::with_capacity(cx.up().steps.len());
    let (mut current, mut next, mut ended) = (None, 0, true);
    for step in &cx.up().steps {
        if !step.in_transaction {
            current = None;
            ended = true;
        } else if ended {
            current = Some(next);
            next += 1;
            ended = false;
        }
        ids.push(current);
        if step
            .effects
            .iter()
            .any(|e| matches!(e.op, Op::Commit | Op::Rollback))
        {
            ended = true;
        }
    }
    ids
}

/// `ALTER TABLE` subcommands (as opposed to other statements that also name a table).
fn is_alter_table(op: &Op) -> bool {
    matches!(
        op,
        Op::AddColumn { .. }
            | Op::DropColumn { .. }
            | Op::AlterColumnType { .. }
            | Op::SetNotNull { .. }
            | Op::DropNotNull { .. }
            | Op::SetDefault { .. }
            | Op::DropDefault { .. }
            | Op::AddConstraint { .. }
            | Op::ValidateConstraint { .. }
            | Op::DropConstraint { .. }
            | Op::RenameColumn { .. }
            | Op::RenameTable { .. }
            | Op::AttachPartition { .. }
            | Op::DetachPartition { .. }
            | Op::TriggerToggle { .. }
            | Op::ReplicaIdentity { .. }
            | Op::RowSecurity { .. }
            | Op::AlterTableOther { .. }
    ) || matches!(op, Op::TableRewrite { action, .. } if !action.contains("(index)"))
}

/// `line N`, for pointing from one finding at another step.
fn line(step: &Step) -> String {
    format!("line {}", step.start.line)
}
