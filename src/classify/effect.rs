//! The data and lock effect of each operation, following the hazard catalog
//! (research/peers-linters.md §3) and PostgreSQL's "Explicit Locking" documentation.

use std::borrow::Cow;

use serde::Serialize;

use super::catalog::{Catalog, TypeChange};
use crate::sql::{ConstraintKind, DefaultKind, Op};

/// What a step does to data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataEffect {
    None,
    /// Reversible by a down script.
    Schema,
    /// Reversible, but breaks the old application version during a rollout.
    Compat,
    /// May fail on existing data.
    FailRisk,
    /// May destroy values; treated as destroying unless a rule proves it safe.
    Lossy,
    /// Destroys data: no down script can bring it back.
    Destroys,
    /// migsafe cannot tell (opaque or unmodeled statement, `DO` block).
    Unknown,
}

impl DataEffect {
    pub fn is_destructive(self) -> bool {
        matches!(self, DataEffect::Destroys | DataEffect::Lossy)
    }
}

/// Table-level lock modes, weakest to strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LockLevel {
    None,
    AccessShare,
    RowExclusive,
    ShareUpdateExclusive,
    Share,
    ShareRowExclusive,
    Exclusive,
    AccessExclusive,
}

/// What a step destroys, for reports and (later) targeted snapshots.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Destroyed {
    Table {
        table: String,
    },
    Columns {
        table: String,
        columns: Vec<String>,
    },
    /// Rows removed: all of them, or those a predicate matches.
    Rows {
        table: String,
        all: bool,
    },
    /// Old values overwritten in place.
    Values {
        table: String,
        columns: Vec<String>,
        all_rows: bool,
    },
    Schema {
        schema: String,
    },
    Database {
        database: String,
    },
    Sequence {
        sequence: String,
    },
    /// Objects that depend on a dropped object (`CASCADE`): unknown until run.
    Dependents {
        of: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Effect {
    pub data: DataEffect,
    pub lock: LockLevel,
    /// Rewrites the table (and its indexes).
    pub rewrite: bool,
    /// Scans the whole table while holding its lock.
    pub scan: bool,
    /// Whether the statement may run inside a transaction block.
    pub tx_allowed: bool,
    /// Why: one short sentence.
    pub reason: Cow<'static, str>,
    pub destroys: Vec<Destroyed>,
}

impl Effect {
    pub(super) fn new(
        data: DataEffect,
        lock: LockLevel,
        reason: impl Into<Cow<'static, str>>,
    ) -> Effect {
        Effect {
            data,
            lock,
            rewrite: false,
            scan: false,
            tx_allowed: true,
            reason: reason.into(),
            destroys: vec![],
        }
    }
    fn rewrite(mut self) -> Effect {
        self.rewrite = true;
        self
    }
    fn scan(mut self) -> Effect {
        self.scan = true;
        self
    }
    fn no_tx(mut self) -> Effect {
        self.tx_allowed = false;
        self
    }
    fn destroys(mut self, d: Destroyed) -> Effect {
        self.destroys.push(d);
        self
    }
}

/// The effect of one operation. `new_table` says the table was created earlier in the same
/// migration, so it holds no pre-existing data and nobody else can be waiting on its lock.
pub fn effect(op: &Op, catalog: &Catalog, new_table: bool) -> Effect {
    use DataEffect as D;
    use LockLevel as L;
    let e = match op {
        Op::CreateTable { .. } | Op::CreateTableAs { .. } => {
            Effect::new(D::Schema, L::AccessExclusive, "creates a table")
        }
        Op::CreateIndex {
            unique,
            concurrently: true,
            ..
        } => {
            let e = Effect::new(
                if *unique { D::FailRisk } else { D::Schema },
                L::ShareUpdateExclusive,
                "builds an index without blocking writes",
            );
            e.scan().no_tx()
        }
        Op::CreateIndex { unique, .. } => Effect::new(
            if *unique { D::FailRisk } else { D::Schema },
            L::Share,
            "builds an index while blocking writes",
        )
        .scan(),
        Op::DropIndex {
            concurrently: true, ..
        } => Effect::new(
            D::Schema,
            L::ShareUpdateExclusive,
            "drops an index concurrently",
        )
        .no_tx(),
        Op::DropIndex { .. } => Effect::new(
            D::Schema,
            L::AccessExclusive,
            "drops an index, locking its table",
        ),
        Op::Reindex {
            concurrently: true, ..
        } => Effect::new(
            D::None,
            L::ShareUpdateExclusive,
            "rebuilds indexes concurrently",
        )
        .no_tx(),
        Op::Reindex { .. } => Effect::new(
            D::None,
            L::AccessExclusive,
            "rebuilds indexes, blocking writes and reads that use them",
        )
        .scan(),
        Op::AddColumn { column, .. } => {
            let mut e = Effect::new(D::Schema, L::AccessExclusive, "adds a column");
            // Identity columns fill every existing row from their sequence, like serial.
            if matches!(column.default, Some(DefaultKind::Volatile { .. }))
                || column.generated_stored
                || column.identity
            {
                e = e.rewrite();
                e.reason =
                    "adds a column whose value is computed per row, rewriting the table".into();
            }
            if column.not_null
                && column.default.is_none()
                && !column.generated_stored
                && !column.identity
            {
                e.data = D::FailRisk;
                e.reason =
                    "adds a NOT NULL column without a default: fails on a non-empty table".into();
            }
            // An inline CHECK, UNIQUE or PRIMARY KEY is validated (or indexed) over every row.
            if column.check || column.unique || column.primary_key {
                e = e.scan();
                if e.data == D::Schema {
                    e.data = D::FailRisk;
                }
            }
            e
        }
        Op::DropColumn {
            table,
            column,
            cascade,
        } => {
            let e = Effect::new(
                D::Destroys,
                L::AccessExclusive,
                format!("drops column {table}.{column} and every value in it"),
            )
            .destroys(Destroyed::Columns {
                table: table.clone(),
                columns: vec![column.clone()],
            });
            if *cascade {
                e.destroys(Destroyed::Dependents {
                    of: format!("{table}.{column}"),
                })
            } else {
                e
            }
        }
        Op::AlterColumnType {
            table,
            column,
            ty,
            using,
            using_cast,
        } => {
            let change = catalog.type_change(table, column, ty, *using && !*using_cast);
            let mut e = Effect::new(D::Schema, L::AccessExclusive, change.describe());
            match change {
                TypeChange::Same | TypeChange::BinaryCoercible { .. } => {}
                TypeChange::Rewrite { .. } => e = e.rewrite(),
                // Fails or keeps every value: nothing to capture.
                TypeChange::FailRisk { .. } => {
                    e = e.rewrite();
                    e.data = D::FailRisk;
                }
                TypeChange::Narrowing { .. }
                | TypeChange::Inexact { .. }
                | TypeChange::Unlisted { .. }
                | TypeChange::Using { .. }
                | TypeChange::Unknown { .. } => {
                    e = e.rewrite();
                    e.data = D::Lossy;
                    e = e.destroys(Destroyed::Values {
                        table: table.clone(),
                        columns: vec![column.clone()],
                        all_rows: true,
                    });
                }
            }
            e
        }
        Op::SetNotNull { .. } => Effect::new(
            D::FailRisk,
            L::AccessExclusive,
            "scans the whole table to check for NULLs",
        )
        .scan(),
        Op::DropNotNull { .. } => Effect::new(
            D::Compat,
            L::AccessExclusive,
            "lets NULLs into a column readers assume is non-null",
        ),
        Op::SetDefault { .. } | Op::DropDefault { .. } => Effect::new(
            D::Compat,
            L::AccessExclusive,
            "changes what inserts that omit the column store",
        ),
        Op::AddConstraint {
            kind,
            not_valid,
            using_index,
            ..
        } => {
            let (lock, what) = match kind {
                ConstraintKind::ForeignKey => (L::ShareRowExclusive, "foreign key"),
                ConstraintKind::Check => (L::AccessExclusive, "check constraint"),
                ConstraintKind::Unique => (L::AccessExclusive, "unique constraint"),
                ConstraintKind::PrimaryKey => (L::AccessExclusive, "primary key"),
                ConstraintKind::Exclude => (L::AccessExclusive, "exclusion constraint"),
            };
            let e = Effect::new(D::FailRisk, lock, format!("adds a {what}"));
            if *not_valid || *using_index {
                e
            } else {
                e.scan()
            }
        }
        Op::ValidateConstraint { .. } => Effect::new(
            D::FailRisk,
            L::ShareUpdateExclusive,
            "validates existing rows without blocking writes",
        )
        .scan(),
        Op::DropConstraint { .. } => Effect::new(
            D::Schema,
            L::AccessExclusive,
            "drops a constraint; re-adding it must validate data written meanwhile",
        ),
        Op::RenameColumn { .. }
        | Op::RenameTable { .. }
        | Op::Rename { .. }
        | Op::SetSchema { .. } => Effect::new(
            D::Compat,
            L::AccessExclusive,
            "renames or moves an object the running application refers to",
        ),
        Op::Inherit { .. } => Effect::new(
            D::Schema,
            L::AccessExclusive,
            "makes the table a child of another: scans, updates and deletes of the parent reach its rows",
        ),
        Op::Call { function } => Effect::new(
            D::Unknown,
            L::None,
            format!("calls {function}(), whose body migsafe cannot read"),
        ),
        // SHARE UPDATE EXCLUSIVE on the parent (ACCESS EXCLUSIVE before PostgreSQL 12: see
        // `judge`), and ACCESS EXCLUSIVE on the table attached (a lock elsewhere).
        Op::AttachPartition { .. } => Effect::new(
            D::FailRisk,
            L::ShareUpdateExclusive,
            "attaches a partition, scanning it under ACCESS EXCLUSIVE to check its bound",
        )
        .scan(),
        Op::DetachPartition {
            concurrently: true, ..
        } => Effect::new(
            D::Compat,
            L::ShareUpdateExclusive,
            "detaches a partition concurrently",
        )
        .no_tx(),
        Op::DetachPartition { .. } => Effect::new(
            D::Compat,
            L::AccessExclusive,
            "detaches a partition; its rows vanish from the parent",
        ),
        Op::TableRewrite { action, .. } => Effect::new(
            D::None,
            L::AccessExclusive,
            format!("{action} rewrites the whole table"),
        )
        .rewrite(),
        Op::TriggerToggle { .. } => Effect::new(
            D::Compat,
            L::ShareRowExclusive,
            "changes which triggers fire",
        ),
        Op::ReplicaIdentity { .. } => Effect::new(
            D::None,
            L::AccessExclusive,
            "changes what logical replication sends",
        ),
        Op::RowSecurity { .. } => Effect::new(
            D::Compat,
            L::AccessExclusive,
            "changes who may read or write",
        ),
        // A policy takes ACCESS EXCLUSIVE on its table (named from the text where read: see
        // `read_locks`); GRANT, REVOKE and roles take no table lock.
        Op::Privileges { action } => Effect::new(
            D::Compat,
            if action.contains("policy") {
                L::AccessExclusive
            } else {
                L::None
            },
            "changes who may read or write",
        ),
        // Storage parameters, statistics targets and CLUSTER ON take SHARE UPDATE EXCLUSIVE;
        // ownership and inheritance changes take ACCESS EXCLUSIVE.
        Op::AlterTableOther { action, .. } => {
            let a = action.to_ascii_uppercase();
            let lock = if a.contains("OWNER") || a.contains("INHERIT") || a.starts_with("OF") {
                L::AccessExclusive
            } else {
                L::ShareUpdateExclusive
            };
            Effect::new(D::None, lock, "changes a table option")
        }
        Op::DropTable { tables, cascade } => {
            let mut e = Effect::new(
                D::Destroys,
                L::AccessExclusive,
                format!("drops {} and every row in it", tables.join(", ")),
            );
            for t in tables {
                e = e.destroys(Destroyed::Table { table: t.clone() });
                if *cascade {
                    e = e.destroys(Destroyed::Dependents { of: t.clone() });
                }
            }
            e
        }
        Op::DropSchema { names, cascade } => {
            let mut e = Effect::new(
                if *cascade { D::Destroys } else { D::Schema },
                L::AccessExclusive,
                if *cascade {
                    "drops a schema and everything in it"
                } else {
                    "drops an empty schema"
                },
            );
            if *cascade {
                for n in names {
                    e = e.destroys(Destroyed::Schema { schema: n.clone() });
                }
            }
            e
        }
        Op::DropDatabase { name } => {
            Effect::new(D::Destroys, L::AccessExclusive, "drops a whole database")
                .no_tx()
                .destroys(Destroyed::Database {
                    database: name.clone(),
                })
        }
        Op::DropSequence { names } => {
            let mut e = Effect::new(
                D::Destroys,
                L::AccessExclusive,
                "drops a sequence and its current value",
            );
            for n in names {
                e = e.destroys(Destroyed::Sequence {
                    sequence: n.clone(),
                });
            }
            e
        }
        Op::AlterSequence {
            name,
            restart: true,
        } => Effect::new(
            D::Destroys,
            L::AccessExclusive,
            "restarts a sequence, losing its current value",
        )
        .destroys(Destroyed::Sequence {
            sequence: name.clone(),
        }),
        Op::AlterSequence { .. } => Effect::new(
            D::Schema,
            L::AccessExclusive,
            "changes a sequence's options",
        ),
        Op::DropObject {
            kind,
            names,
            cascade,
        } => {
            let mut e = Effect::new(
                D::Schema,
                L::AccessExclusive,
                format!("drops {kind} {}", names.join(", ")),
            );
            if *cascade {
                e.data = D::Lossy;
                e.reason = format!(
                    "drops {kind} {} with CASCADE, which also drops whatever depends on it",
                    names.join(", ")
                )
                .into();
                for n in names {
                    e = e.destroys(Destroyed::Dependents { of: n.clone() });
                }
            }
            e
        }
        Op::Truncate { tables, cascade } => {
            let mut e = Effect::new(
                D::Destroys,
                L::AccessExclusive,
                format!("removes every row of {}", tables.join(", ")),
            );
            for t in tables {
                e = e.destroys(Destroyed::Rows {
                    table: t.clone(),
                    all: true,
                });
                if *cascade {
                    e = e.destroys(Destroyed::Dependents { of: t.clone() });
                }
            }
            e
        }
        Op::Delete { table, has_where } => Effect::new(
            D::Destroys,
            L::RowExclusive,
            if *has_where {
                format!("deletes the rows of {table} that match its WHERE clause")
            } else {
                format!("deletes every row of {table}")
            },
        )
        .destroys(Destroyed::Rows {
            table: table.clone(),
            all: !has_where,
        }),
        Op::Update {
            table,
            has_where,
            columns,
        } => Effect::new(
            D::Destroys,
            L::RowExclusive,
            format!(
                "overwrites {} of {} rows of {table}",
                columns.join(", "),
                if *has_where { "the matching" } else { "all" }
            ),
        )
        .destroys(Destroyed::Values {
            table: table.clone(),
            columns: columns.clone(),
            all_rows: !has_where,
        }),
        Op::Insert { .. } => Effect::new(D::Schema, L::RowExclusive, "inserts rows"),
        Op::Select => Effect::new(D::None, L::AccessShare, "reads data"),
        Op::CreateEnum { .. }
        | Op::CreateView { .. }
        | Op::CreateFunction { .. }
        | Op::CreateOther { .. } => Effect::new(D::Schema, L::None, "creates an object"),
        Op::CreateDomain { check, .. } => Effect::new(
            if *check { D::FailRisk } else { D::Schema },
            L::None,
            "creates a domain",
        ),
        Op::AddEnumValue { .. } => Effect::new(
            D::Schema,
            L::AccessExclusive,
            "adds an enum value; PostgreSQL cannot drop it again",
        ),
        Op::CreateTrigger { .. } => Effect::new(D::Compat, L::ShareRowExclusive, "adds a trigger"),
        Op::AlterDomainAddConstraint { not_valid, .. } => {
            let e = Effect::new(
                D::FailRisk,
                L::Share,
                "adds a domain constraint, checking every column of the domain",
            );
            if *not_valid { e } else { e.scan() }
        }
        Op::DoBlock => Effect::new(
            D::Unknown,
            L::None,
            "runs procedural code migsafe cannot see into",
        ),
        Op::Vacuum { full: true, .. } => Effect::new(
            D::None,
            L::AccessExclusive,
            "VACUUM FULL rewrites the table",
        )
        .rewrite()
        .no_tx(),
        Op::Vacuum { .. } => Effect::new(D::None, L::ShareUpdateExclusive, "vacuums").no_tx(),
        Op::Analyze => Effect::new(D::None, L::ShareUpdateExclusive, "collects statistics"),
        Op::Cluster { .. } => Effect::new(
            D::None,
            L::AccessExclusive,
            "CLUSTER rewrites the table in index order",
        )
        .rewrite(),
        Op::LockTable { mode, .. } => Effect::new(
            D::None,
            lock_mode(mode),
            format!("takes an explicit {mode} lock"),
        ),
        Op::RefreshMatView {
            concurrently: true, ..
        } => Effect::new(
            D::None,
            L::Exclusive,
            "refreshes a materialized view without blocking reads",
        )
        .scan(),
        Op::RefreshMatView { .. } => Effect::new(
            D::None,
            L::AccessExclusive,
            "refreshes a materialized view, blocking reads",
        )
        .scan(),
        Op::Comment => Effect::new(D::None, L::ShareUpdateExclusive, "sets a comment"),
        Op::SetVar { .. } | Op::Begin | Op::Commit | Op::Rollback | Op::Savepoint => {
            Effect::new(D::None, L::None, "session or transaction control")
        }
        Op::NonTransactional { what } => Effect::new(
            D::None,
            L::None,
            format!("{what} cannot run in a transaction"),
        )
        .no_tx(),
        Op::Unmodeled { what } => Effect::new(
            D::Unknown,
            L::AccessExclusive,
            format!("{what}: migsafe does not model this statement"),
        ),
    };
    if new_table { on_new_table(op, e) } else { e }
}

/// A table created earlier in the same migration holds no pre-existing rows, and no other
/// session can be waiting on it: its changes destroy nothing and lock nobody out.
fn on_new_table(op: &Op, mut e: Effect) -> Effect {
    if matches!(op, Op::CreateTable { .. } | Op::CreateTableAs { .. }) {
        return e;
    }
    if e.data.is_destructive() || e.data == DataEffect::FailRisk || e.data == DataEffect::Compat {
        e.data = DataEffect::Schema;
        e.destroys.clear();
        e.reason = format!("{} (table created earlier in this migration)", e.reason).into();
    }
    e.rewrite = false;
    e.scan = false;
    e
}

fn lock_mode(mode: &str) -> LockLevel {
    match mode.to_ascii_uppercase().as_str() {
        "ACCESS SHARE" => LockLevel::AccessShare,
        "ROW SHARE" => LockLevel::AccessShare,
        "ROW EXCLUSIVE" => LockLevel::RowExclusive,
        "SHARE UPDATE EXCLUSIVE" => LockLevel::ShareUpdateExclusive,
        "SHARE" => LockLevel::Share,
        "SHARE ROW EXCLUSIVE" => LockLevel::ShareRowExclusive,
        "EXCLUSIVE" => LockLevel::Exclusive,
        _ => LockLevel::AccessExclusive,
    }
}
