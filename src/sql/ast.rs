//! sqlparser AST → [`Op`]s. Only the shape migsafe needs is read; sub-expressions are looked
//! at through their rendered text so that this file depends on as little of the AST as possible.

use sqlparser::ast::{
    AlterColumnOperation, AlterTableOperation, AlterTypeOperation, AssignmentTarget, CastKind,
    ColumnDef, ColumnOption, CreateTableOptions, DetachPartitionMode, Expr, FromTable, Ident,
    ObjectName, ObjectType, Query, ReferentialAction, Set, SetExpr, Statement, TableConstraint,
    TableFactor, TableObject, TableWithJoins,
};

use super::op::{
    ColumnSpec, ConstraintKind, DefaultKind, FkAction, FkActions, ForeignKey, Name, Op,
};
use super::tokens::volatile_function;
use super::types::SqlType;

pub fn ident(i: &Ident) -> Name {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_lowercase()
    }
}

pub fn name(n: &ObjectName) -> Name {
    n.0.iter()
        .map(|p| match p.as_ident() {
            Some(i) => ident(i),
            None => p.to_string().to_lowercase(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Whether `e` is `column::ty` or `CAST(column AS ty)` (in parentheses or not): a `USING` that
/// converts the column as no `USING` would.
fn is_cast_of(e: &Expr, column: &str, ty: &SqlType) -> bool {
    match e {
        Expr::Nested(inner) => is_cast_of(inner, column, ty),
        Expr::Cast {
            kind: CastKind::Cast | CastKind::DoubleColon,
            expr,
            data_type,
            format: None,
        } => {
            let mut inner = expr.as_ref();
            while let Expr::Nested(x) = inner {
                inner = x;
            }
            matches!(inner, Expr::Identifier(i) if ident(i) == column)
                && SqlType::parse(&data_type.to_string()) == *ty
        }
        _ => false,
    }
}

fn unmodeled(what: impl Into<String>) -> Vec<Op> {
    vec![Op::Unmodeled { what: what.into() }]
}

fn fk_action(a: &Option<ReferentialAction>) -> FkAction {
    match a {
        Some(ReferentialAction::Cascade) => FkAction::Cascade,
        Some(ReferentialAction::SetNull) => FkAction::SetNull,
        Some(ReferentialAction::SetDefault) => FkAction::SetDefault,
        Some(ReferentialAction::Restrict) => FkAction::Restrict,
        _ => FkAction::NoAction,
    }
}

fn foreign_key(fk: &sqlparser::ast::ForeignKeyConstraint) -> ForeignKey {
    ForeignKey {
        references: name(&fk.foreign_table),
        columns: fk.columns.iter().map(ident).collect(),
        referred: fk.referred_columns.iter().map(ident).collect(),
        actions: FkActions {
            on_delete: fk_action(&fk.on_delete),
            on_update: fk_action(&fk.on_update),
        },
    }
}

fn table_of(t: &TableWithJoins) -> Name {
    match &t.relation {
        TableFactor::Table { name: n, .. } => name(n),
        other => other.to_string(),
    }
}

pub fn column_spec(c: &ColumnDef) -> ColumnSpec {
    let ty = SqlType::parse(&c.data_type.to_string());
    let mut spec = ColumnSpec {
        name: ident(&c.name),
        default: ty.is_serial().then(|| DefaultKind::Volatile {
            function: "nextval".into(),
        }),
        ty,
        not_null: false,
        generated_stored: false,
        identity: false,
        primary_key: false,
        unique: false,
        check: false,
        references: None,
        actions: FkActions::default(),
    };
    for o in &c.options {
        match &o.option {
            ColumnOption::NotNull => spec.not_null = true,
            ColumnOption::Default(e) => {
                let text = e.to_string();
                spec.default = Some(match volatile_function(&text) {
                    Some(function) => DefaultKind::Volatile { function },
                    None => DefaultKind::Constant,
                });
            }
            ColumnOption::PrimaryKey(_) => {
                spec.primary_key = true;
                spec.not_null = true;
            }
            ColumnOption::Unique(_) => spec.unique = true,
            ColumnOption::ForeignKey(fk) => {
                let fk = foreign_key(fk);
                spec.references = Some(fk.references);
                spec.actions = fk.actions;
            }
            ColumnOption::Check(_) => spec.check = true,
            ColumnOption::Generated {
                generation_expr: Some(_),
                ..
            } => spec.generated_stored = true,
            ColumnOption::Generated { .. } => spec.identity = true,
            _ => {}
        }
    }
    spec
}

fn constraint_kind(c: &TableConstraint) -> (Option<Name>, Option<ConstraintKind>, bool) {
    let text = c.to_string().to_ascii_uppercase();
    let using_index = text.contains("USING INDEX");
    let (n, kind) = match c {
        TableConstraint::ForeignKey(fk) => (fk.name.as_ref(), Some(ConstraintKind::ForeignKey)),
        TableConstraint::Check(ck) => (ck.name.as_ref(), Some(ConstraintKind::Check)),
        TableConstraint::Unique(u) => (u.name.as_ref(), Some(ConstraintKind::Unique)),
        TableConstraint::PrimaryKey(p) => (p.name.as_ref(), Some(ConstraintKind::PrimaryKey)),
        _ => (
            None,
            text.contains("EXCLUDE").then_some(ConstraintKind::Exclude),
        ),
    };
    (n.map(ident), kind, using_index)
}

pub fn ops(stmt: &Statement) -> Vec<Op> {
    match stmt {
        Statement::CreateTable(ct) => {
            let table = name(&ct.name);
            if let Some(q) = &ct.query {
                // The query's own writes (`WITH d AS (DELETE … RETURNING *) SELECT …`) happen too.
                let mut ops: Vec<Op> = query_ops(q)
                    .into_iter()
                    .filter(|o| !matches!(o, Op::Select))
                    .collect();
                ops.push(Op::CreateTableAs { table });
                return ops;
            }
            let columns: Vec<ColumnSpec> = ct.columns.iter().map(column_spec).collect();
            let mut foreign_keys: Vec<ForeignKey> = columns
                .iter()
                .filter_map(|c| {
                    Some(ForeignKey {
                        references: c.references.clone()?,
                        columns: vec![c.name.clone()],
                        referred: vec![],
                        actions: c.actions,
                    })
                })
                .collect();
            for c in &ct.constraints {
                if let TableConstraint::ForeignKey(fk) = c {
                    foreign_keys.push(foreign_key(fk));
                }
            }
            let _ = &CreateTableOptions::None;
            vec![Op::CreateTable {
                table,
                columns,
                if_not_exists: ct.if_not_exists,
                foreign_keys,
                inherits: ct.inherits.iter().flatten().map(name).collect(),
                partition_of: ct.partition_of.as_ref().map(name),
            }]
        }
        Statement::CreateIndex(ci) => vec![Op::CreateIndex {
            table: name(&ci.table_name),
            name: ci.name.as_ref().map(name),
            unique: ci.unique,
            concurrently: ci.concurrently,
            if_not_exists: ci.if_not_exists,
        }],
        Statement::AlterTable(at) => {
            let table = name(&at.name);
            at.operations
                .iter()
                .map(|o| alter_table_op(&table, o))
                .collect()
        }
        Statement::Drop {
            object_type,
            names,
            cascade,
            if_exists,
            ..
        } => {
            let names: Vec<Name> = names.iter().map(name).collect();
            let cascade = *cascade;
            match object_type {
                ObjectType::Table => vec![Op::DropTable {
                    tables: names,
                    cascade,
                }],
                ObjectType::Index => vec![Op::DropIndex {
                    names,
                    concurrently: false,
                    if_exists: *if_exists,
                }],
                ObjectType::Schema => vec![Op::DropSchema { names, cascade }],
                ObjectType::Database => vec![Op::DropDatabase {
                    name: names.join(", "),
                }],
                ObjectType::Sequence => vec![Op::DropSequence { names }],
                other => vec![Op::DropObject {
                    kind: other.to_string().to_lowercase(),
                    names,
                    cascade,
                }],
            }
        }
        Statement::DropFunction(f) => vec![Op::DropObject {
            kind: "function".into(),
            names: f.func_desc.iter().map(|d| name(&d.name)).collect(),
            cascade: f
                .drop_behavior
                .is_some_and(|b| b.to_string().eq_ignore_ascii_case("cascade")),
        }],
        Statement::DropDomain(d) => {
            vec![Op::DropObject {
                kind: "domain".into(),
                names: vec![name(&d.name)],
                cascade: d
                    .drop_behavior
                    .is_some_and(|b| b.to_string().eq_ignore_ascii_case("cascade")),
            }]
        }
        Statement::DropTrigger(t) => vec![Op::DropObject {
            kind: "trigger".into(),
            names: vec![name(&t.trigger_name)],
            cascade: t
                .option
                .is_some_and(|b| b.to_string().eq_ignore_ascii_case("cascade")),
        }],
        Statement::DropPolicy(p) => vec![Op::DropObject {
            kind: "policy".into(),
            names: vec![ident(&p.name)],
            cascade: p
                .drop_behavior
                .is_some_and(|b| b.to_string().eq_ignore_ascii_case("cascade")),
        }],
        Statement::DropExtension(e) => vec![Op::DropObject {
            kind: "extension".into(),
            names: e.names.iter().map(ident).collect(),
            cascade: e
                .cascade_or_restrict
                .is_some_and(|b| b.to_string().eq_ignore_ascii_case("cascade")),
        }],
        Statement::Truncate(t) => vec![Op::Truncate {
            tables: t.table_names.iter().map(|t| name(&t.name)).collect(),
            cascade: t
                .cascade
                .as_ref()
                .is_some_and(|c| c.to_string().eq_ignore_ascii_case("cascade")),
        }],
        Statement::Delete(d) => {
            let table = match &d.from {
                FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => {
                    t.first().map(table_of)
                }
            }
            .unwrap_or_default();
            vec![Op::Delete {
                table,
                has_where: d.selection.is_some(),
            }]
        }
        Statement::Update(u) => {
            let columns = u
                .assignments
                .iter()
                .flat_map(|a| match &a.target {
                    AssignmentTarget::ColumnName(n) => vec![name(n)],
                    AssignmentTarget::Tuple(ns) => ns.iter().map(name).collect(),
                })
                .collect();
            vec![Op::Update {
                table: table_of(&u.table),
                has_where: u.selection.is_some(),
                columns,
            }]
        }
        Statement::Insert(i) => {
            let table = match &i.table {
                TableObject::TableName(n) => name(n),
                other => other.to_string(),
            };
            let mut ops = vec![Op::Insert {
                table: table.clone(),
            }];
            // ON CONFLICT … DO UPDATE overwrites the rows that already exist.
            if let Some(on) = &i.on {
                let text = on.to_string();
                if let Some(pos) = text.to_ascii_uppercase().find("DO UPDATE SET") {
                    use super::tokens::{Tok, tokenize};
                    let toks = tokenize(&text[pos + "DO UPDATE SET".len()..]);
                    let columns = toks
                        .windows(2)
                        .filter_map(|w| match (&w[0], &w[1]) {
                            (Tok::Word { text, .. }, Tok::Sym('=')) if text != "where" => {
                                Some(text.clone())
                            }
                            _ => None,
                        })
                        .collect();
                    ops.push(Op::Update {
                        table,
                        has_where: true,
                        columns,
                    });
                }
            }
            ops
        }
        Statement::Query(q) => query_ops(q),
        // What it runs is the procedure: see `calls`.
        Statement::Call(_) => vec![],
        // Each branch is what it says: DELETE and UPDATE destroy, INSERT adds. Every branch
        // may match rows, so each counts as filtered (the ON clause and its own AND decide).
        Statement::Merge(m) => {
            use sqlparser::ast::{MergeAction, MergeUpdateKind};
            let table = match &m.table {
                TableFactor::Table { name: n, .. } => name(n),
                other => other.to_string(),
            };
            let mut ops = vec![];
            for c in &m.clauses {
                let op = match &c.action {
                    MergeAction::Delete { .. } => Op::Delete {
                        table: table.clone(),
                        has_where: true,
                    },
                    MergeAction::Update(u) => match &u.kind {
                        MergeUpdateKind::Set(assignments) => Op::Update {
                            table: table.clone(),
                            has_where: true,
                            columns: assignments
                                .iter()
                                .flat_map(|a| match &a.target {
                                    AssignmentTarget::ColumnName(n) => vec![name(n)],
                                    AssignmentTarget::Tuple(ns) => ns.iter().map(name).collect(),
                                })
                                .collect(),
                        },
                        _ => return unmodeled("MERGE … UPDATE SET *"),
                    },
                    MergeAction::Insert(_) => Op::Insert {
                        table: table.clone(),
                    },
                    MergeAction::DoNothing { .. } => continue,
                };
                if !ops.contains(&op) {
                    ops.push(op);
                }
            }
            if ops.is_empty() {
                ops.push(Op::Select);
            }
            ops
        }
        Statement::CreateView(v) => vec![Op::CreateView {
            name: name(&v.name),
            materialized: v.materialized,
        }],
        // Read from the text (body, language, volatility): see `routine`.
        Statement::CreateFunction(f) => vec![Op::CreateFunction {
            name: name(&f.name),
            kind: "function".into(),
            body: super::op::Body::default(),
        }],
        Statement::CreateProcedure { name: n, .. } => vec![Op::CreateFunction {
            name: name(n),
            kind: "procedure".into(),
            body: super::op::Body::default(),
        }],
        Statement::CreateTrigger(t) => vec![Op::CreateTrigger {
            table: name(&t.table_name),
            function: None,
            events: vec![],
        }],
        Statement::CreateType {
            name: n,
            representation,
            ..
        } => {
            let is_enum = representation
                .as_ref()
                .is_some_and(|r| r.to_string().to_ascii_uppercase().contains("ENUM"));
            if is_enum {
                vec![Op::CreateEnum { name: name(n) }]
            } else {
                vec![Op::CreateOther {
                    kind: "type".into(),
                    name: name(n),
                }]
            }
        }
        Statement::AlterType(at) => match &at.operation {
            AlterTypeOperation::AddValue(_) => vec![Op::AddEnumValue {
                type_name: name(&at.name),
            }],
            AlterTypeOperation::RenameValue(_) => vec![Op::Rename {
                kind: "enum value".into(),
                name: name(&at.name),
            }],
            AlterTypeOperation::Rename(_) => vec![Op::Rename {
                kind: "type".into(),
                name: name(&at.name),
            }],
        },
        Statement::CreateDomain(d) => {
            vec![Op::CreateDomain {
                name: name(&d.name),
                check: !d.constraints.is_empty(),
            }]
        }
        Statement::CreateSchema { schema_name, .. } => {
            vec![Op::CreateOther {
                kind: "schema".into(),
                name: schema_name.to_string().to_lowercase(),
            }]
        }
        Statement::CreateExtension(e) => vec![Op::CreateOther {
            kind: "extension".into(),
            name: ident(&e.name),
        }],
        Statement::CreateSequence { name: n, .. } => vec![Op::CreateOther {
            kind: "sequence".into(),
            name: name(n),
        }],
        Statement::CreateRole(_) => vec![Op::Privileges {
            action: "create role".into(),
        }],
        Statement::CreatePolicy(p) => vec![Op::Privileges {
            action: format!("create policy {}", ident(&p.name)),
        }],
        Statement::AlterPolicy(p) => vec![Op::Privileges {
            action: format!("alter policy {}", ident(&p.name)),
        }],
        Statement::Grant(_) => vec![Op::Privileges {
            action: "grant".into(),
        }],
        Statement::Revoke(_) => vec![Op::Privileges {
            action: "revoke".into(),
        }],
        Statement::Comment { .. } => vec![Op::Comment],
        Statement::AlterIndex { name: n, .. } => vec![Op::Rename {
            kind: "index".into(),
            name: name(n),
        }],
        Statement::AlterView(v) => {
            let text = v.to_string().to_ascii_uppercase();
            if text.contains(" RENAME ") {
                vec![Op::Rename {
                    kind: "view".into(),
                    name: name(&v.name),
                }]
            } else {
                unmodeled("ALTER VIEW")
            }
        }
        Statement::Set(s) => set_op(s),
        Statement::Reset(r) => vec![Op::SetVar {
            name: r
                .to_string()
                .to_lowercase()
                .trim_start_matches("reset ")
                .to_string(),
            value: "DEFAULT".into(),
            local: false,
        }],
        Statement::StartTransaction { .. } => vec![Op::Begin],
        Statement::Commit { .. } => vec![Op::Commit],
        Statement::Rollback {
            savepoint: Some(_), ..
        }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. } => {
            vec![Op::Savepoint]
        }
        Statement::Rollback { .. } => vec![Op::Rollback],
        Statement::Lock(l) => vec![Op::LockTable {
            tables: l.tables.iter().map(|t| name(&t.name)).collect(),
            mode: l
                .lock_mode
                .as_ref()
                .map_or("ACCESS EXCLUSIVE".to_string(), |m| {
                    m.to_string().to_uppercase()
                }),
        }],
        Statement::Vacuum(v) => vec![Op::Vacuum {
            full: v.full,
            tables: v.table_name.iter().map(name).collect(),
        }],
        Statement::Analyze(_) => vec![Op::Analyze],
        Statement::RefreshMaterializedView(r) => {
            vec![Op::RefreshMatView {
                name: name(&r.name),
                concurrently: r.concurrently,
            }]
        }
        Statement::CreateDatabase { .. } => vec![Op::NonTransactional {
            what: "CREATE DATABASE".into(),
        }],
        other => {
            let text = other.to_string();
            let head: Vec<&str> = text.split_whitespace().take(2).collect();
            unmodeled(head.join(" ").to_uppercase())
        }
    }
}

/// A query's effect: the data-changing statements it carries (`WITH … DELETE`, data-modifying
/// CTEs), `SELECT … INTO`, and the functions it calls. A call to anything but a read-only
/// built-in may change data or schema, so it is unknown (fail closed).
fn query_ops(q: &Query) -> Vec<Op> {
    let mut ops = Vec::new();
    for cte in q.with.iter().flat_map(|w| &w.cte_tables) {
        ops.extend(
            query_ops(&cte.query)
                .into_iter()
                .filter(|o| !matches!(o, Op::Select)),
        );
    }
    match q.body.as_ref() {
        SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) | SetExpr::Merge(s) => {
            ops.extend(self::ops(s))
        }
        SetExpr::Query(inner) => ops.extend(query_ops(inner)),
        SetExpr::Select(sel) if sel.into.is_some() => {
            let into = sel
                .into
                .as_ref()
                .and_then(|i| i.targets.first())
                .map(|t| t.to_string().to_lowercase())
                .unwrap_or_default();
            ops.push(Op::CreateTableAs { table: into });
        }
        _ => {}
    }
    if ops.is_empty() {
        ops.push(Op::Select);
    }
    ops
}

/// The functions a statement runs, as operations: a sequence reset for `setval`, a trigger for
/// diesel's `diesel_manage_updated_at`, and a [`Op::Call`] for anything that is not a built-in
/// known to write nothing. Statements that only store code or expressions for later (views,
/// functions, triggers, policies, comments, grants, drops) run nothing now.
pub fn calls(stmt: &Statement) -> Vec<Op> {
    use std::ops::ControlFlow;
    // A view's functions run whenever it is read: counted where it is created (sooner, never
    // missed).
    match stmt {
        Statement::CreateFunction(_)
        | Statement::CreateProcedure { .. }
        | Statement::CreateTrigger(_)
        | Statement::CreatePolicy(_)
        | Statement::AlterPolicy(_)
        | Statement::CreateDomain(_)
        | Statement::Comment { .. }
        | Statement::Grant(_)
        | Statement::Revoke(_)
        | Statement::Drop { .. }
        | Statement::DropFunction(_) => return vec![],
        _ => {}
    }
    let mut names: Vec<Name> = vec![];
    if let Statement::Call(f) = stmt {
        names.push(name(&f.name));
    }
    let partitioned = matches!(stmt, Statement::CreateTable(ct) if ct.partition_by.is_some());
    let _ = sqlparser::ast::visit_expressions(stmt, |e| {
        if let sqlparser::ast::Expr::Function(f) = e {
            let n = name(&f.name);
            // `PARTITION BY RANGE (…)` parses as a call of `range`.
            if !(partitioned && matches!(n.as_str(), "range" | "list" | "hash")) {
                names.push(n);
            }
        }
        ControlFlow::<()>::Continue(())
    });
    let text = || stmt.to_string();
    let mut ops = vec![];
    for n in names {
        let bare = n.rsplit('.').next().unwrap_or(&n);
        let catalog = !n.contains('.') || n.starts_with("pg_catalog.");
        let op = match bare {
            "setval" => Op::AlterSequence {
                name: first_argument(&text(), "setval("),
                restart: true,
            },
            // diesel's own setup migration defines this helper: it only adds an updated_at trigger.
            "diesel_manage_updated_at" => Op::CreateTrigger {
                table: first_argument(&text(), "diesel_manage_updated_at("),
                function: Some("diesel_set_updated_at".into()),
                events: vec!["update".into()],
            },
            // Contrib functions are judged with the project's own functions, which may shadow them.
            _ if catalog && super::builtins::catalog_reader(bare) => continue,
            _ => Op::Call {
                function: n.clone(),
            },
        };
        if !ops.contains(&op) {
            ops.push(op);
        }
    }
    ops
}

/// The first argument of a call, as a name: `setval('s', 1)` → `s`.
fn first_argument(text: &str, call: &str) -> Name {
    // The call as written, its name quoted or not: `setval(` or `"setval"(`.
    let quoted = format!("\"{}\"(", call.trim_end_matches('('));
    let after = text
        .split_once(call)
        .or_else(|| text.split_once(quoted.as_str()))
        .map_or("", |(_, a)| a);
    after
        .split(['\'', ',', ')'])
        .find(|p| !p.trim().is_empty())
        .unwrap_or("?")
        .trim()
        .to_lowercase()
}

fn set_op(s: &Set) -> Vec<Op> {
    match s {
        Set::SingleAssignment {
            scope,
            variable,
            values,
            ..
        } => vec![Op::SetVar {
            name: name(variable),
            value: values
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            local: scope
                .as_ref()
                .is_some_and(|s| s.to_string().eq_ignore_ascii_case("local")),
        }],
        other => vec![Op::SetVar {
            name: other.to_string().to_lowercase(),
            value: String::new(),
            local: false,
        }],
    }
}

fn alter_table_op(table: &Name, o: &AlterTableOperation) -> Op {
    let table = table.clone();
    match o {
        AlterTableOperation::AddColumn { column_def, .. } => Op::AddColumn {
            table,
            column: column_spec(column_def),
        },
        AlterTableOperation::DropColumn {
            column_names,
            drop_behavior,
            ..
        } => Op::DropColumn {
            table,
            column: column_names
                .iter()
                .map(ident)
                .collect::<Vec<_>>()
                .join(", "),
            cascade: drop_behavior.is_some_and(|b| b.to_string().eq_ignore_ascii_case("cascade")),
        },
        AlterTableOperation::AlterColumn { column_name, op } => {
            let column = ident(column_name);
            match op {
                AlterColumnOperation::SetNotNull => Op::SetNotNull { table, column },
                AlterColumnOperation::DropNotNull => Op::DropNotNull { table, column },
                AlterColumnOperation::SetDefault { .. } => Op::SetDefault { table, column },
                AlterColumnOperation::DropDefault => Op::DropDefault { table, column },
                AlterColumnOperation::SetDataType {
                    data_type, using, ..
                } => {
                    let ty = SqlType::parse(&data_type.to_string());
                    let using_cast = using.as_ref().is_some_and(|u| is_cast_of(u, &column, &ty));
                    Op::AlterColumnType {
                        table,
                        column,
                        ty,
                        using: using.is_some(),
                        using_cast,
                    }
                }
                other => Op::AlterTableOther {
                    table,
                    action: format!("ALTER COLUMN {other}"),
                },
            }
        }
        AlterTableOperation::AddConstraint {
            constraint,
            not_valid,
        } => {
            let (n, kind, using_index) = constraint_kind(constraint);
            match kind {
                Some(kind) => Op::AddConstraint {
                    table,
                    name: n,
                    kind,
                    not_valid: *not_valid,
                    using_index,
                    foreign_key: match constraint {
                        TableConstraint::ForeignKey(fk) => Some(foreign_key(fk)),
                        _ => None,
                    },
                },
                None => Op::Unmodeled {
                    what: format!("ADD {constraint}"),
                },
            }
        }
        AlterTableOperation::ValidateConstraint { name: n } => Op::ValidateConstraint {
            table,
            name: ident(n),
        },
        AlterTableOperation::DropConstraint {
            name: n,
            drop_behavior,
            ..
        } => Op::DropConstraint {
            table,
            name: ident(n),
            cascade: drop_behavior.is_some_and(|b| b.to_string().eq_ignore_ascii_case("cascade")),
        },
        AlterTableOperation::RenameColumn {
            old_column_name,
            new_column_name,
        } => Op::RenameColumn {
            table,
            from: ident(old_column_name),
            to: ident(new_column_name),
        },
        AlterTableOperation::RenameTable { table_name } => Op::RenameTable {
            table,
            to: table_name
                .to_string()
                .to_lowercase()
                .trim_start_matches("to ")
                .to_string(),
        },
        AlterTableOperation::RenameConstraint { .. } => Op::Rename {
            kind: "constraint".into(),
            name: table,
        },
        AlterTableOperation::AttachPartitionOf { partition, .. } => Op::AttachPartition {
            table,
            partition: name(partition),
        },
        AlterTableOperation::Inherit { parent } => Op::Inherit {
            table,
            parent: name(parent),
        },
        AlterTableOperation::DetachPartitionOf { partition, mode } => Op::DetachPartition {
            table,
            partition: name(partition),
            concurrently: matches!(mode, Some(DetachPartitionMode::Concurrently)),
        },
        AlterTableOperation::SetLogged => Op::TableRewrite {
            table,
            action: "SET LOGGED".into(),
        },
        AlterTableOperation::SetUnlogged => Op::TableRewrite {
            table,
            action: "SET UNLOGGED".into(),
        },
        AlterTableOperation::EnableTrigger { .. }
        | AlterTableOperation::EnableAlwaysTrigger { .. }
        | AlterTableOperation::EnableReplicaTrigger { .. } => Op::TriggerToggle {
            table,
            enable: true,
        },
        AlterTableOperation::DisableTrigger { .. } => Op::TriggerToggle {
            table,
            enable: false,
        },
        AlterTableOperation::ReplicaIdentity { .. } => Op::ReplicaIdentity { table },
        AlterTableOperation::EnableRowLevelSecurity => Op::RowSecurity {
            table,
            action: "ENABLE".into(),
        },
        AlterTableOperation::DisableRowLevelSecurity => Op::RowSecurity {
            table,
            action: "DISABLE".into(),
        },
        AlterTableOperation::ForceRowLevelSecurity => Op::RowSecurity {
            table,
            action: "FORCE".into(),
        },
        AlterTableOperation::NoForceRowLevelSecurity => Op::RowSecurity {
            table,
            action: "NO FORCE".into(),
        },
        AlterTableOperation::OwnerTo { .. } | AlterTableOperation::SetOptionsParens { .. } => {
            Op::AlterTableOther {
                table,
                action: o.to_string(),
            }
        }
        other => Op::Unmodeled {
            what: format!(
                "ALTER TABLE … {}",
                other
                    .to_string()
                    .split_whitespace()
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        },
    }
}
