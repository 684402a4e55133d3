//! The parser-independent description of what a statement does. Both the sqlparser AST
//! ([`super::ast`]) and the fallback recognizer ([`super::recognize`]) produce these, so nothing
//! downstream depends on the parser.

use serde::Serialize;

use super::types::SqlType;

/// A relation name without the default `public.` schema, so that `public.t` and `t` compare
/// equal (migsafe assumes the default search_path).
pub fn unqualified(name: &str) -> &str {
    name.strip_prefix("public.").unwrap_or(name)
}

/// A (possibly schema-qualified) object name, normalised the way PostgreSQL folds it:
/// unquoted parts lower-cased, quoted parts kept.
pub type Name = String;

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DefaultKind {
    /// A constant or a stable expression: PostgreSQL ≥ 11 stores it in the catalog, no rewrite.
    Constant,
    /// A volatile expression (`random()`, `gen_random_uuid()`, `clock_timestamp()`, `nextval`):
    /// every existing row must be rewritten.
    Volatile { function: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ColumnSpec {
    pub name: Name,
    pub ty: SqlType,
    pub not_null: bool,
    pub default: Option<DefaultKind>,
    pub generated_stored: bool,
    pub identity: bool,
    pub primary_key: bool,
    pub unique: bool,
    pub check: bool,
    pub references: Option<Name>,
    /// The referential actions of `references`, when there is one.
    #[serde(skip)]
    #[schemars(skip)]
    pub actions: FkActions,
}

/// What a referential action does to the referencing rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FkAction {
    #[default]
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl FkAction {
    /// Whether the action writes the referencing rows (deletes or overwrites them).
    pub fn writes(self) -> bool {
        matches!(
            self,
            FkAction::Cascade | FkAction::SetNull | FkAction::SetDefault
        )
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct FkActions {
    pub on_delete: FkAction,
    pub on_update: FkAction,
}

/// A foreign key: the referencing columns, the table they reference, and its actions.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ForeignKey {
    pub references: Name,
    pub columns: Vec<Name>,
    /// The referenced columns, when written (else the referenced table's primary key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub referred: Vec<Name>,
    #[serde(flatten)]
    pub actions: FkActions,
}

/// What a function does when called, read from its body when it was created.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// The operations of the statements in its body.
    Ops(Vec<Op>),
    /// A language or form migsafe cannot read, and why.
    Unreadable(String),
}

impl Default for Body {
    fn default() -> Self {
        Body::Unreadable("its body was not read".into())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConstraintKind {
    ForeignKey,
    Check,
    Unique,
    PrimaryKey,
    Exclude,
}

/// One operation. A statement holds one or more (an `ALTER TABLE` with several actions, a
/// `DROP TABLE a, b`).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    CreateTable {
        table: Name,
        columns: Vec<ColumnSpec>,
        if_not_exists: bool,
        foreign_keys: Vec<ForeignKey>,
        /// `INHERITS (…)`: the parents whose scans, updates and deletes reach this table.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        inherits: Vec<Name>,
        /// `PARTITION OF parent`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        partition_of: Option<Name>,
    },
    CreateTableAs {
        table: Name,
    },
    CreateIndex {
        table: Name,
        name: Option<Name>,
        unique: bool,
        concurrently: bool,
        if_not_exists: bool,
    },
    DropIndex {
        names: Vec<Name>,
        concurrently: bool,
        if_exists: bool,
    },
    Reindex {
        target: Name,
        concurrently: bool,
    },
    AddColumn {
        table: Name,
        column: ColumnSpec,
    },
    DropColumn {
        table: Name,
        column: Name,
        cascade: bool,
    },
    AlterColumnType {
        table: Name,
        column: Name,
        ty: SqlType,
        /// A `USING` clause is present.
        using: bool,
        /// That `USING` is a plain cast of the column to the new type (`USING col::ty`,
        /// `USING CAST(col AS ty)`): the same conversion as no `USING` at all.
        using_cast: bool,
    },
    SetNotNull {
        table: Name,
        column: Name,
    },
    DropNotNull {
        table: Name,
        column: Name,
    },
    SetDefault {
        table: Name,
        column: Name,
    },
    DropDefault {
        table: Name,
        column: Name,
    },
    AddConstraint {
        table: Name,
        name: Option<Name>,
        kind: ConstraintKind,
        not_valid: bool,
        using_index: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        foreign_key: Option<ForeignKey>,
    },
    ValidateConstraint {
        table: Name,
        name: Name,
    },
    DropConstraint {
        table: Name,
        name: Name,
        cascade: bool,
    },
    RenameColumn {
        table: Name,
        from: Name,
        to: Name,
    },
    RenameTable {
        table: Name,
        to: Name,
    },
    /// Renames of other objects: index, constraint, schema, type, enum value, view, sequence …
    Rename {
        kind: String,
        name: Name,
    },
    SetSchema {
        kind: String,
        name: Name,
    },
    AttachPartition {
        table: Name,
        partition: Name,
    },
    /// `ALTER TABLE table INHERIT parent`.
    Inherit {
        table: Name,
        parent: Name,
    },
    DetachPartition {
        table: Name,
        partition: Name,
        concurrently: bool,
    },
    /// `SET LOGGED|UNLOGGED`, `SET TABLESPACE`, `SET ACCESS METHOD`: rewrite the whole table.
    TableRewrite {
        table: Name,
        action: String,
    },
    TriggerToggle {
        table: Name,
        enable: bool,
    },
    ReplicaIdentity {
        table: Name,
    },
    RowSecurity {
        table: Name,
        action: String,
    },
    /// An `ALTER TABLE` action with no data or lock effect worth a rule (OWNER TO, SET (…)).
    AlterTableOther {
        table: Name,
        action: String,
    },
    DropTable {
        tables: Vec<Name>,
        cascade: bool,
    },
    DropSchema {
        names: Vec<Name>,
        cascade: bool,
    },
    DropDatabase {
        name: Name,
    },
    DropSequence {
        names: Vec<Name>,
    },
    AlterSequence {
        name: Name,
        restart: bool,
    },
    /// DROP of a type, domain, view, function, extension, policy, trigger, materialized view …
    DropObject {
        kind: String,
        names: Vec<Name>,
        cascade: bool,
    },
    Truncate {
        tables: Vec<Name>,
        cascade: bool,
    },
    Delete {
        table: Name,
        has_where: bool,
    },
    Update {
        table: Name,
        has_where: bool,
        columns: Vec<Name>,
    },
    Insert {
        table: Name,
    },
    Select,
    CreateEnum {
        name: Name,
    },
    AddEnumValue {
        type_name: Name,
    },
    CreateView {
        name: Name,
        materialized: bool,
    },
    CreateFunction {
        name: Name,
        kind: String,
        #[serde(skip)]
        #[schemars(skip)]
        body: Body,
    },
    CreateTrigger {
        table: Name,
        /// The function it executes.
        #[serde(skip)]
        #[schemars(skip)]
        function: Option<Name>,
        /// The events that fire it: `insert`, `update`, `delete`, `truncate`.
        #[serde(skip)]
        #[schemars(skip)]
        events: Vec<String>,
    },
    /// A call of a function that is not a read-only built-in, where the statement runs it (a
    /// query, a default or check evaluated on existing rows, an index expression, `CALL`).
    Call {
        function: Name,
    },
    CreateDomain {
        name: Name,
        check: bool,
    },
    AlterDomainAddConstraint {
        name: Name,
        not_valid: bool,
    },
    /// Other objects with no data effect: schema, extension, sequence, type, role, policy …
    CreateOther {
        kind: String,
        name: Name,
    },
    DoBlock,
    Vacuum {
        full: bool,
        tables: Vec<Name>,
    },
    Analyze,
    Cluster {
        table: Option<Name>,
    },
    LockTable {
        tables: Vec<Name>,
        mode: String,
    },
    RefreshMatView {
        name: Name,
        concurrently: bool,
    },
    Privileges {
        action: String,
    },
    Comment,
    /// `SET [LOCAL|SESSION] name = value` / `RESET name`.
    SetVar {
        name: String,
        value: String,
        local: bool,
    },
    Begin,
    Commit,
    Rollback,
    Savepoint,
    /// Statements that cannot run in a transaction block and have no other effect here
    /// (`CREATE DATABASE`, `ALTER SYSTEM`).
    NonTransactional {
        what: String,
    },
    /// Parsed, but migsafe does not model what it does: treated as unknown (fail closed).
    Unmodeled {
        what: String,
    },
}

impl Op {
    /// Every table an operation acts on.
    pub fn tables(&self) -> Vec<&str> {
        match self {
            Op::DropTable { tables, .. }
            | Op::Truncate { tables, .. }
            | Op::LockTable { tables, .. } => tables.iter().map(String::as_str).collect(),
            other => other.table().into_iter().collect(),
        }
    }

    /// The table an operation acts on, when it has exactly one.
    pub fn table(&self) -> Option<&str> {
        use Op::*;
        match self {
            CreateTable { table, .. }
            | CreateTableAs { table }
            | CreateIndex { table, .. }
            | AddColumn { table, .. }
            | DropColumn { table, .. }
            | AlterColumnType { table, .. }
            | SetNotNull { table, .. }
            | DropNotNull { table, .. }
            | SetDefault { table, .. }
            | DropDefault { table, .. }
            | AddConstraint { table, .. }
            | ValidateConstraint { table, .. }
            | DropConstraint { table, .. }
            | RenameColumn { table, .. }
            | RenameTable { table, .. }
            | AttachPartition { table, .. }
            | Inherit { table, .. }
            | DetachPartition { table, .. }
            | TableRewrite { table, .. }
            | TriggerToggle { table, .. }
            | ReplicaIdentity { table }
            | RowSecurity { table, .. }
            | AlterTableOther { table, .. }
            | Delete { table, .. }
            | Update { table, .. }
            | Insert { table }
            | CreateTrigger { table, .. } => Some(table),
            Cluster { table } => table.as_deref(),
            _ => None,
        }
    }
}
