//! Two models that make a statement's verdict depend on what came before it:
//!
//! - [`Origins`]: which tables, columns and sequences the *current migration* created, by
//!   identity rather than by name (a rename moves the identity, a drop ends it), so that a rename
//!   swap followed by a `DROP` is judged on the object it really drops;
//! - [`Deps`]: what the project's migrations so far set up to act on data when something else
//!   happens: triggers, foreign-key actions, inheritance and partitions, and the functions they
//!   and statements call (read from their bodies).
//!
//! [`Deps::consequences`] turns one operation into the further operations PostgreSQL runs
//! because of it, so that an `INSERT` into a new table that fires a trigger deleting old rows, or
//! a `DELETE` from a new table that cascades into an old one, is judged by what it destroys.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::LockLevel;
use crate::sql::op::unqualified;
use crate::sql::{Body, FkAction, ForeignKey, Op, RUN_TIME};

/// A lock a statement takes on a table other than the one it names as its target, as
/// PostgreSQL 15 takes it (measured in `pg_locks`): the table a foreign key references, the
/// parent of a partition, the partition attached or detached.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct LockElsewhere {
    pub table: String,
    pub lock: LockLevel,
    /// Why the statement locks it, e.g. "referenced by the new foreign key".
    pub why: &'static str,
}

/// The name PostgreSQL gives a foreign key constraint that the statement does not name:
/// `<table>_<columns>_fkey`. Longer names are truncated by PostgreSQL in ways not modelled;
/// those are left unknown.
fn default_fk_name(table: &str, columns: &[String]) -> Option<String> {
    let name = format!("{}_{}_fkey", unqualified(table), columns.join("_"));
    (name.len() <= 63).then_some(name)
}

fn key(name: &str) -> String {
    unqualified(name).to_string()
}

/// What the current migration created, by identity. Names are keyed as PostgreSQL resolves
/// them for a new object: schema-qualified as written, else in the first schema of the
/// `search_path` the migration set (`public` by default).
#[derive(Debug, Default)]
pub struct Origins {
    tables: HashSet<String>,
    /// Columns added to tables that existed before (a new table's columns are all new).
    columns: HashSet<(String, String)>,
    sequences: HashSet<String>,
    /// The first schema of a `search_path` the migration set, when not `public`.
    schema: Option<String>,
}

impl Origins {
    fn key(&self, name: &str) -> String {
        match (&self.schema, name.contains('.')) {
            (Some(s), false) => format!("{s}.{name}"),
            _ => unqualified(name).to_string(),
        }
    }

    pub fn new_table(&self, table: &str) -> bool {
        self.tables.contains(&self.key(table))
    }

    pub fn new_column(&self, table: &str, column: &str) -> bool {
        self.new_table(table)
            || self
                .columns
                .contains(&(self.key(table), column.to_string()))
    }

    /// A sequence this migration created: by name, or `table.column` for an identity column.
    pub fn new_sequence(&self, name: &str) -> bool {
        if self.sequences.contains(&self.key(name)) {
            return true;
        }
        match unqualified(name).rsplit_once('.') {
            Some((table, column)) => self.new_column(table, column),
            None => false,
        }
    }

    /// Follows one operation. `creates` is false for a `… IF NOT EXISTS` whose object may
    /// already have existed (migsafe cannot tell, so it is not counted as new).
    pub fn record(&mut self, op: &Op, creates: bool) {
        match op {
            Op::SetVar { name, value, .. } if name == "search_path" || name == "all" => {
                let first = value
                    .split(',')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .trim_matches(['\'', '"'])
                    .to_string();
                self.schema = match first.to_ascii_lowercase().as_str() {
                    "" | "default" | "public" | "$user" => None,
                    _ if name == "all" => None,
                    _ => Some(first),
                };
            }
            Op::CreateTable { table, columns, .. } => {
                let t = self.key(table);
                self.forget_table(&t);
                if creates {
                    self.tables.insert(t.clone());
                    for c in columns.iter().filter(|c| c.ty.is_serial() || c.identity) {
                        self.sequences.insert(format!("{t}_{}_seq", c.name));
                    }
                }
            }
            Op::CreateTableAs { table } => {
                let t = self.key(table);
                self.forget_table(&t);
                self.tables.insert(t);
            }
            Op::CreateOther { kind, name } if kind == "sequence" && creates => {
                self.sequences.insert(self.key(name));
            }
            Op::AddColumn { table, column } => {
                let t = self.key(table);
                if creates {
                    self.columns.insert((t.clone(), column.name.clone()));
                    if column.ty.is_serial() || column.identity {
                        self.sequences.insert(format!("{t}_{}_seq", column.name));
                    }
                } else {
                    self.columns.remove(&(t, column.name.clone()));
                }
            }
            Op::DropColumn { table, column, .. } => {
                self.columns.remove(&(self.key(table), column.clone()));
            }
            Op::DropTable { tables, .. } => {
                for t in tables {
                    let t = self.key(t);
                    self.forget_table(&t);
                }
            }
            Op::DropSequence { names } => {
                for n in names {
                    let n = self.key(n);
                    self.sequences.remove(&n);
                }
            }
            // A name known only at run time may be any table: nothing is known to be new.
            Op::RenameTable { table, to } if table.contains(RUN_TIME) || to.contains(RUN_TIME) => {
                *self = Origins {
                    schema: self.schema.take(),
                    ..Origins::default()
                };
            }
            Op::RenameColumn { from, to, .. }
                if from.contains(RUN_TIME) || to.contains(RUN_TIME) =>
            {
                self.columns.clear();
            }
            Op::RenameTable { table, to } => {
                let from = self.key(table);
                // `ALTER TABLE s.t RENAME TO u` keeps the table in schema `s`.
                let to = match table.rsplit_once('.') {
                    Some((schema, _)) if !to.contains('.') => {
                        unqualified(&format!("{schema}.{to}")).to_string()
                    }
                    _ => self.key(to),
                };
                let was_new = self.tables.remove(&from);
                self.forget_table(&to);
                if was_new {
                    self.tables.insert(to.clone());
                }
                let moved: Vec<String> = self
                    .columns
                    .iter()
                    .filter(|(t, _)| *t == from)
                    .map(|(_, c)| c.clone())
                    .collect();
                for c in moved {
                    self.columns.remove(&(from.clone(), c.clone()));
                    self.columns.insert((to.clone(), c));
                }
            }
            // `ALTER INDEX|VIEW|SEQUENCE t RENAME TO …` renames a table too, to a name not
            // read here: a new table renamed so is no longer known.
            Op::Rename { kind, name }
                if matches!(
                    kind.as_str(),
                    "index" | "view" | "materialized view" | "sequence"
                ) =>
            {
                let n = self.key(name);
                self.forget_table(&n);
                self.sequences.remove(&n);
            }
            Op::RenameColumn { table, from, to } => {
                let t = self.key(table);
                let was_new = self.columns.remove(&(t.clone(), from.clone()));
                self.columns.remove(&(t.clone(), to.clone()));
                if was_new {
                    self.columns.insert((t, to.clone()));
                }
            }
            _ => {}
        }
    }

    fn forget_table(&mut self, key: &str) {
        self.tables.remove(key);
        self.columns.retain(|(owner, _)| owner != key);
    }
}

#[derive(Debug, Clone)]
struct Trigger {
    function: Option<String>,
    /// Empty when not read: fires on everything.
    events: Vec<String>,
}

#[derive(Debug, Clone)]
struct Child {
    table: String,
    partition: bool,
}

/// What the project's migrations set up to act on data later. Bodies and foreign keys are
/// shared, so that a copy (kept while a down script is analysed) copies pointers.
#[derive(Debug, Clone, Default)]
pub struct Deps {
    /// Every body given to a name (overloads, `CREATE OR REPLACE`): a call may run any.
    functions: HashMap<String, Vec<Body>>,
    triggers: HashMap<String, Vec<Trigger>>,
    /// Foreign keys: (referencing table, key).
    fks: Vec<Arc<(String, ForeignKey)>>,
    /// Foreign key constraints by (table, constraint name): the table each references.
    fk_names: HashMap<(String, String), String>,
    children: HashMap<String, Vec<Child>>,
    /// Primary key columns, where a column definition declared them.
    primary_keys: HashMap<String, Vec<String>>,
    /// Views (not materialized) the migrations created.
    views: HashSet<String>,
    /// Partitioned table → its `DEFAULT` partition (read from the statement's text).
    default_partitions: HashMap<String, String>,
}

/// How far consequences are followed (cascade chains, triggers firing triggers).
const MAX_CONSEQUENCES: usize = 256;

impl Deps {
    /// Whether [`Deps::apply`] may change anything for `op` (false: it certainly does not).
    pub fn may_change(op: &Op) -> bool {
        match op {
            Op::CreateTable {
                foreign_keys,
                inherits,
                partition_of,
                ..
            } => !foreign_keys.is_empty() || !inherits.is_empty() || partition_of.is_some(),
            Op::AddColumn { column, .. } => column.references.is_some() || column.primary_key,
            Op::AddConstraint { foreign_key, .. } => foreign_key.is_some(),
            Op::DropConstraint { .. } | Op::DropColumn { .. } => true,
            Op::CreateFunction { .. }
            | Op::CreateTrigger { .. }
            | Op::Inherit { .. }
            | Op::AttachPartition { .. }
            | Op::DetachPartition { .. }
            | Op::RenameTable { .. }
            | Op::DropTable { .. }
            | Op::CreateView {
                materialized: false,
                ..
            } => true,
            Op::DropObject { kind, .. } | Op::Rename { kind, .. } | Op::SetSchema { kind, .. } => {
                kind == "view"
            }
            _ => false,
        }
    }

    /// The tables besides its target that `op` locks, with the lock; judged before the
    /// operation changes the model (a dropped table still has its foreign keys).
    pub fn locks_elsewhere(&self, op: &Op) -> Vec<LockElsewhere> {
        let at = |table: &str, lock, why| LockElsewhere {
            table: table.to_string(),
            lock,
            why,
        };
        let mut out = Vec::new();
        match op {
            Op::CreateTable {
                foreign_keys,
                inherits,
                partition_of,
                ..
            } => {
                for fk in foreign_keys {
                    out.push(at(
                        &fk.references,
                        LockLevel::ShareRowExclusive,
                        "referenced by a foreign key of the new table",
                    ));
                }
                if let Some(parent) = partition_of {
                    out.push(at(
                        parent,
                        LockLevel::AccessExclusive,
                        "the partitioned table the new one becomes a partition of",
                    ));
                    self.default_partition_lock(parent, &mut out);
                }
                for parent in inherits {
                    out.push(at(
                        parent,
                        LockLevel::ShareUpdateExclusive,
                        "the table the new one inherits from",
                    ));
                }
            }
            Op::AddColumn { column, table } => {
                for child in self.descendants(table, false) {
                    out.push(at(
                        &child,
                        LockLevel::AccessExclusive,
                        "a partition or child table of the table, which gets the column too",
                    ));
                }
                if let Some(references) = &column.references {
                    out.push(at(
                        references,
                        LockLevel::ShareRowExclusive,
                        "referenced by the new foreign key",
                    ));
                }
            }
            Op::AddConstraint {
                foreign_key: Some(fk),
                ..
            } => out.push(at(
                &fk.references,
                LockLevel::ShareRowExclusive,
                "referenced by the new foreign key",
            )),
            Op::DropConstraint {
                table,
                name,
                cascade,
            } => {
                if let Some(references) = self.fk_names.get(&(key(table), key(name))) {
                    out.push(at(
                        references,
                        LockLevel::AccessExclusive,
                        "referenced by the dropped foreign key",
                    ));
                }
                // The primary key, by the name PostgreSQL gives one declared with its column:
                // the foreign keys that reference it go with it.
                let pkey = format!("{}_pkey", unqualified(table));
                if *cascade
                    && key(name) == pkey
                    && let Some(pk) = self.primary_keys.get(&key(table))
                {
                    for (child, _) in self.referencing_columns(table, pk) {
                        out.push(at(
                            child,
                            LockLevel::AccessExclusive,
                            "its foreign key to the dropped primary key is dropped (CASCADE)",
                        ));
                    }
                }
            }
            Op::DropColumn {
                table,
                column,
                cascade,
            } => {
                for references in self.column_references(table, column) {
                    out.push(at(
                        references,
                        LockLevel::AccessExclusive,
                        "referenced by the dropped column's foreign key",
                    ));
                }
                if *cascade {
                    for (child, _) in self.referencing_columns(table, std::slice::from_ref(column))
                    {
                        out.push(at(
                            child,
                            LockLevel::AccessExclusive,
                            "its foreign key to the dropped column is dropped (CASCADE)",
                        ));
                    }
                }
            }
            Op::AlterColumnType { table, column, .. } => {
                for references in self.column_references(table, column) {
                    out.push(at(
                        references,
                        LockLevel::AccessExclusive,
                        "referenced by the foreign key of the retyped column",
                    ));
                }
                for (child, _) in self.referencing_columns(table, std::slice::from_ref(column)) {
                    out.push(at(
                        child,
                        LockLevel::AccessExclusive,
                        "its foreign key references the retyped column",
                    ));
                }
            }
            // An index on a partitioned table is built on each partition (inheritance
            // children get none). `ON ONLY` builds none: see `without_only`.
            Op::CreateIndex {
                table,
                concurrently: false,
                ..
            } => {
                for child in self.descendants(table, true) {
                    out.push(at(
                        &child,
                        LockLevel::Share,
                        "a partition of the table, indexed too",
                    ));
                }
            }
            Op::DropTable { tables, cascade } => {
                let dropped: HashSet<String> = tables.iter().map(|t| key(t)).collect();
                for t in &dropped {
                    for e in &self.fks {
                        let (child, fk) = &**e;
                        let parent = unqualified(&fk.references);
                        if child == t && !dropped.contains(parent) {
                            out.push(at(
                                parent,
                                LockLevel::AccessExclusive,
                                "referenced by a foreign key of the dropped table",
                            ));
                        } else if *cascade && parent == t && !dropped.contains(child) {
                            out.push(at(
                                child,
                                LockLevel::AccessExclusive,
                                "its foreign key to the dropped table is dropped (CASCADE)",
                            ));
                        }
                    }
                    for (parent, children) in &self.children {
                        if children.iter().any(|c| c.partition && &c.table == t)
                            && !dropped.contains(parent)
                        {
                            out.push(at(
                                parent,
                                LockLevel::AccessExclusive,
                                "the partitioned table of the dropped partition",
                            ));
                            if let Some(d) = self.default_partitions.get(parent)
                                && !dropped.contains(d)
                            {
                                out.push(at(
                                    d,
                                    LockLevel::AccessExclusive,
                                    "the default partition, whose bound changes",
                                ));
                            }
                        }
                    }
                }
            }
            Op::Truncate {
                tables,
                cascade: true,
            } => {
                let truncated: HashSet<String> = tables.iter().map(|t| key(t)).collect();
                for e in &self.fks {
                    let (child, fk) = &**e;
                    if truncated.contains(unqualified(&fk.references)) && !truncated.contains(child)
                    {
                        out.push(at(
                            child,
                            LockLevel::AccessExclusive,
                            "it references a truncated table (CASCADE)",
                        ));
                    }
                }
            }
            Op::AttachPartition { partition, table } => {
                out.push(at(
                    partition,
                    LockLevel::AccessExclusive,
                    "the table attached as a partition",
                ));
                self.default_partition_lock(table, &mut out);
            }
            Op::DetachPartition {
                partition, table, ..
            } => {
                out.push(at(
                    partition,
                    LockLevel::AccessExclusive,
                    "the detached partition",
                ));
                if self.default_partitions.get(&key(table)) != Some(&key(partition)) {
                    self.default_partition_lock(table, &mut out);
                }
            }
            Op::Inherit { parent, .. } => out.push(at(
                parent,
                LockLevel::ShareUpdateExclusive,
                "the table it comes to inherit from",
            )),
            _ => {}
        }
        // One entry per table: the strongest lock.
        out.sort_by(|a, b| a.table.cmp(&b.table).then(b.lock.cmp(&a.lock)));
        out.dedup_by(|b, a| a.table == b.table);
        out
    }

    /// The tables the foreign keys of `table`'s column `column` reference.
    fn column_references(&self, table: &str, column: &str) -> Vec<&str> {
        self.fks
            .iter()
            .filter(|e| e.0 == key(table) && e.1.columns.iter().any(|c| c == column))
            .map(|e| unqualified(&e.1.references))
            .collect()
    }

    /// The foreign keys that reference any of `columns` of `table`: by name, or (none named)
    /// through its primary key, when known.
    fn referencing_columns(&self, table: &str, columns: &[String]) -> Vec<(&str, &ForeignKey)> {
        let pk = self.primary_keys.get(&key(table));
        self.fks
            .iter()
            .filter(|e| unqualified(&e.1.references) == unqualified(table) && e.0 != key(table))
            .filter(|e| {
                let referred = if e.1.referred.is_empty() {
                    match pk {
                        Some(pk) => pk,
                        None => return false,
                    }
                } else {
                    &e.1.referred
                };
                referred.iter().any(|c| columns.contains(c))
            })
            .map(|e| (e.0.as_str(), &e.1))
            .collect()
    }

    /// The known partitions (and, unless `partitions_only`, inheritance children) of `table`,
    /// and theirs, transitively.
    fn descendants(&self, table: &str, partitions_only: bool) -> Vec<String> {
        let mut out: Vec<String> = vec![];
        let mut queue = vec![key(table)];
        while let Some(t) = queue.pop() {
            for c in self.children.get(&t).into_iter().flatten() {
                if (c.partition || !partitions_only)
                    && !out.contains(&c.table)
                    && c.table != key(table)
                {
                    out.push(c.table.clone());
                    queue.push(c.table.clone());
                }
            }
        }
        out
    }

    /// A partition added (its rows must not be in the parent's `DEFAULT` partition) or
    /// detached changes the default partition's bound: PostgreSQL locks it (ACCESS EXCLUSIVE).
    fn default_partition_lock(&self, parent: &str, out: &mut Vec<LockElsewhere>) {
        if let Some(default) = self.default_partitions.get(&key(parent)) {
            out.push(LockElsewhere {
                table: default.clone(),
                lock: LockLevel::AccessExclusive,
                why: "the default partition, whose bound changes",
            });
        }
    }

    /// Records that `partition` is the `DEFAULT` partition of `parent` (the statement says
    /// `DEFAULT` rather than `FOR VALUES`).
    pub fn default_partition(&mut self, parent: &str, partition: &str) {
        self.default_partitions.insert(key(parent), key(partition));
    }

    /// Whether the migrations created a (plain) view of this name that still exists.
    pub fn has_view(&self, name: &str) -> bool {
        self.views.contains(&key(name))
    }

    /// Follows one operation.
    pub fn apply(&mut self, op: &Op) {
        match op {
            Op::CreateFunction { name, body, .. } => {
                let bodies = self.functions.entry(key(name)).or_default();
                if !bodies.contains(body) {
                    bodies.push(body.clone());
                }
            }
            Op::CreateTrigger {
                table,
                function,
                events,
            } => self.triggers.entry(key(table)).or_default().push(Trigger {
                function: function.clone(),
                events: events.clone(),
            }),
            Op::CreateTable {
                table,
                columns,
                foreign_keys,
                inherits,
                partition_of,
                ..
            } => {
                for fk in foreign_keys {
                    self.fks.push(Arc::new((key(table), fk.clone())));
                    self.name_fk(table, None, fk);
                }
                for p in inherits {
                    self.add_child(p, table, false);
                }
                if let Some(p) = partition_of {
                    self.add_child(p, table, true);
                }
                let pk: Vec<String> = columns
                    .iter()
                    .filter(|c| c.primary_key)
                    .map(|c| c.name.clone())
                    .collect();
                self.primary_keys.remove(&key(table));
                if !pk.is_empty() {
                    self.primary_keys.insert(key(table), pk);
                }
            }
            Op::CreateView {
                name,
                materialized: false,
            } => {
                self.views.insert(key(name));
            }
            Op::DropObject { kind, names, .. } if kind == "view" => {
                for n in names {
                    self.views.remove(&key(n));
                }
            }
            Op::Rename { kind, name } | Op::SetSchema { kind, name } if kind == "view" => {
                self.views.remove(&key(name));
            }
            Op::AddColumn { table, column } => {
                if column.primary_key {
                    self.primary_keys
                        .insert(key(table), vec![column.name.clone()]);
                }
                if let Some(references) = &column.references {
                    let fk = ForeignKey {
                        references: references.clone(),
                        columns: vec![column.name.clone()],
                        referred: vec![],
                        actions: column.actions,
                    };
                    self.name_fk(table, None, &fk);
                    self.fks.push(Arc::new((key(table), fk)));
                }
            }
            Op::AddConstraint {
                table,
                name,
                foreign_key: Some(fk),
                ..
            } => {
                self.name_fk(table, name.as_deref(), fk);
                self.fks.push(Arc::new((key(table), fk.clone())));
            }
            Op::DropConstraint { table, name, .. } => {
                self.fk_names.remove(&(key(table), key(name)));
                if key(name) == format!("{}_pkey", unqualified(table)) {
                    self.primary_keys.remove(&key(table));
                }
            }
            Op::DropColumn { table, column, .. } => {
                let t = key(table);
                self.fks
                    .retain(|e| !(e.0 == t && e.1.columns.iter().any(|c| c == column)));
                if self
                    .primary_keys
                    .get(&t)
                    .is_some_and(|pk| pk.contains(column))
                {
                    self.primary_keys.remove(&t);
                }
            }
            Op::Inherit { table, parent } => self.add_child(parent, table, false),
            Op::AttachPartition { table, partition } => self.add_child(table, partition, true),
            Op::DetachPartition {
                table, partition, ..
            } => {
                if let Some(c) = self.children.get_mut(unqualified(table)) {
                    c.retain(|c| c.table != key(partition));
                }
                self.default_partitions.retain(|_, d| *d != key(partition));
            }
            Op::RenameTable { table, to } => self.rename(&key(table), &key(to)),
            Op::DropTable { tables, .. } => {
                for t in tables {
                    let t = key(t);
                    self.fk_names.retain(|(table, _), _| *table != t);
                    self.primary_keys.remove(&t);
                    self.default_partitions
                        .retain(|parent, d| *parent != t && *d != t);
                    self.triggers.remove(&t);
                    self.children.remove(&t);
                    self.fks.retain(|e| {
                        let (child, fk) = &**e;
                        *child != t && unqualified(&fk.references) != t
                    });
                }
            }
            _ => {}
        }
    }

    fn name_fk(&mut self, table: &str, name: Option<&str>, fk: &ForeignKey) {
        let name = match name {
            Some(n) => Some(key(n)),
            None => default_fk_name(table, &fk.columns),
        };
        if let Some(name) = name {
            self.fk_names
                .insert((key(table), name), key(&fk.references));
        }
    }

    fn add_child(&mut self, parent: &str, child: &str, partition: bool) {
        self.children.entry(key(parent)).or_default().push(Child {
            table: key(child),
            partition,
        });
    }

    fn rename(&mut self, from: &str, to: &str) {
        let names = std::mem::take(&mut self.fk_names);
        self.fk_names = names
            .into_iter()
            .map(|((table, name), references)| {
                let table = if table == from { to.to_string() } else { table };
                let references = if references == from {
                    to.to_string()
                } else {
                    references
                };
                ((table, name), references)
            })
            .collect();
        if let Some(t) = self.triggers.remove(from) {
            self.triggers.insert(to.to_string(), t);
        }
        if let Some(c) = self.children.remove(from) {
            self.children.insert(to.to_string(), c);
        }
        if let Some(pk) = self.primary_keys.remove(from) {
            self.primary_keys.insert(to.to_string(), pk);
        }
        if let Some(d) = self.default_partitions.remove(from) {
            self.default_partitions.insert(to.to_string(), d);
        }
        for d in self.default_partitions.values_mut() {
            if d == from {
                *d = to.to_string();
            }
        }
        for c in self.children.values_mut().flatten() {
            if c.table == from {
                c.table = to.to_string();
            }
        }
        for e in &mut self.fks {
            if e.0 == from || unqualified(&e.1.references) == from {
                let (child, fk) = Arc::make_mut(e);
                if child == from {
                    *child = to.to_string();
                }
                if unqualified(&fk.references) == from {
                    fk.references = to.to_string();
                }
            }
        }
    }

    /// What a call of `function` does, over every body given to its name: `None` when
    /// migsafe did not read one.
    pub fn body(&self, function: &str) -> Option<Body> {
        let bodies = self.functions.get(unqualified(function))?;
        if let Some(Body::Unreadable(why)) =
            bodies.iter().find(|b| matches!(b, Body::Unreadable(_)))
        {
            return Some(Body::Unreadable(why.clone()));
        }
        Some(Body::Ops(
            bodies
                .iter()
                .flat_map(|b| match b {
                    Body::Ops(ops) => ops.clone(),
                    Body::Unreadable(_) => vec![],
                })
                .collect(),
        ))
    }

    /// The operations PostgreSQL runs because of `op`, each with what set it off, followed
    /// transitively: trigger functions, foreign-key actions, the rows of child tables and
    /// partitions, and the bodies of called functions.
    pub fn consequences(&self, op: &Op) -> Vec<(Op, String)> {
        let mut out: Vec<(Op, String)> = vec![];
        let mut queue: Vec<(Op, String)> = self.direct(op);
        while let Some((next, via)) = queue.pop() {
            if out.len() >= MAX_CONSEQUENCES {
                out.push((
                    Op::Unmodeled {
                        what: "a chain of triggers, cascades and calls too long to follow".into(),
                    },
                    via,
                ));
                break;
            }
            if out.iter().any(|(o, _)| *o == next) || next == *op {
                continue;
            }
            for (o, v) in self.direct(&next) {
                queue.push((o, format!("{v}, set off by {via}")));
            }
            out.push((next, via));
        }
        out
    }

    /// One step of [`Deps::consequences`].
    fn direct(&self, op: &Op) -> Vec<(Op, String)> {
        let mut out = vec![];
        let fire = |table: &str, event: &str, out: &mut Vec<(Op, String)>| {
            // A partitioned table's row triggers are cloned to its partitions: a write that
            // names a partition fires its ancestors' triggers too.
            let mut owners = vec![key(table)];
            let mut i = 0;
            while let Some(t) = owners.get(i).cloned() {
                i += 1;
                for (parent, kids) in self.children.iter() {
                    if kids.iter().any(|c| c.partition && c.table == t) && !owners.contains(parent)
                    {
                        owners.push(parent.clone());
                    }
                }
            }
            let triggers = owners.iter().flat_map(|o| {
                self.triggers
                    .get(o)
                    .into_iter()
                    .flatten()
                    .map(move |t| (o, t))
            });
            for (owner, t) in triggers {
                if !t.events.is_empty() && !t.events.iter().any(|e| e == event) {
                    continue;
                }
                let via = format!("a trigger on {owner}");
                out.push(match &t.function {
                    Some(f) => (
                        Op::Call {
                            function: f.clone(),
                        },
                        via,
                    ),
                    None => (
                        Op::Unmodeled {
                            what: format!("a trigger on {table} whose function was not read"),
                        },
                        via,
                    ),
                });
            }
        };
        let children = |table: &str| self.children.get(unqualified(table)).into_iter().flatten();
        let referencing = |table: &str| -> Vec<&(String, ForeignKey)> {
            self.fks
                .iter()
                .map(|e| &**e)
                .filter(|(_, fk)| unqualified(&fk.references) == unqualified(table))
                .collect()
        };
        let fk_via = |child: &str, fk: &ForeignKey, on: &str, action: FkAction| {
            format!(
                "the foreign key {child} ({}) → {} ON {on} {}",
                fk.columns.join(", "),
                fk.references,
                action_sql(action)
            )
        };
        match op {
            Op::Call { function } => {
                let bare = function.rsplit('.').next().unwrap_or(function);
                let builtin = crate::sql::builtins::in_catalog(bare)
                    && matches!(function.rsplit_once('.'), None | Some(("pg_catalog", _)));
                if let (false, Some(Body::Ops(ops))) = (builtin, self.body(function)) {
                    for o in ops {
                        out.push((o.clone(), format!("{function}()")));
                    }
                }
            }
            Op::Insert { table } => fire(table, "insert", &mut out),
            Op::Update { table, columns, .. } => {
                fire(table, "update", &mut out);
                for (child, fk) in referencing(table) {
                    let touched =
                        fk.referred.is_empty() || fk.referred.iter().any(|c| columns.contains(c));
                    if fk.actions.on_update.writes() && touched {
                        out.push((
                            Op::Update {
                                table: child.clone(),
                                has_where: true,
                                columns: fk.columns.clone(),
                            },
                            fk_via(child, fk, "UPDATE", fk.actions.on_update),
                        ));
                    }
                }
                for c in children(table) {
                    out.push((
                        Op::Update {
                            table: c.table.clone(),
                            has_where: true,
                            columns: columns.clone(),
                        },
                        format!("{} being a child of {table}", c.table),
                    ));
                }
            }
            Op::Delete { table, has_where } => {
                fire(table, "delete", &mut out);
                for (child, fk) in referencing(table) {
                    let o = match fk.actions.on_delete {
                        FkAction::Cascade => Op::Delete {
                            table: child.clone(),
                            has_where: true,
                        },
                        FkAction::SetNull | FkAction::SetDefault => Op::Update {
                            table: child.clone(),
                            has_where: true,
                            columns: fk.columns.clone(),
                        },
                        _ => continue,
                    };
                    out.push((o, fk_via(child, fk, "DELETE", fk.actions.on_delete)));
                }
                for c in children(table) {
                    out.push((
                        Op::Delete {
                            table: c.table.clone(),
                            has_where: *has_where,
                        },
                        format!("{} being a child of {table}", c.table),
                    ));
                }
            }
            Op::Truncate { tables, cascade } => {
                for t in tables {
                    fire(t, "truncate", &mut out);
                    let mut reached: Vec<(String, String)> = children(t)
                        .map(|c| (c.table.clone(), format!("{} being a child of {t}", c.table)))
                        .collect();
                    if *cascade {
                        reached.extend(referencing(t).into_iter().map(|(child, _)| {
                            (child.clone(), format!("TRUNCATE … CASCADE of {t}"))
                        }));
                    }
                    for (table, via) in reached {
                        out.push((
                            Op::Truncate {
                                tables: vec![table],
                                cascade: *cascade,
                            },
                            via,
                        ));
                    }
                }
            }
            Op::DropTable { tables, cascade } => {
                for t in tables {
                    for c in children(t).filter(|c| c.partition || *cascade) {
                        out.push((
                            Op::DropTable {
                                tables: vec![c.table.clone()],
                                cascade: *cascade,
                            },
                            format!("{} being a partition or child of {t}", c.table),
                        ));
                    }
                }
            }
            _ => {}
        }
        out
    }
}

fn action_sql(a: FkAction) -> &'static str {
    match a {
        FkAction::Cascade => "CASCADE",
        FkAction::SetNull => "SET NULL",
        FkAction::SetDefault => "SET DEFAULT",
        FkAction::Restrict => "RESTRICT",
        FkAction::NoAction => "NO ACTION",
    }
}
