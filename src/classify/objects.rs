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

use crate::sql::op::unqualified;
use crate::sql::{Body, FkAction, ForeignKey, Op};

fn key(name: &str) -> String {
    unqualified(name).to_string()
}

/// What the current migration created, by identity.
#[derive(Debug, Default)]
pub struct Origins {
    tables: HashSet<String>,
    /// Columns added to tables that existed before (a new table's columns are all new).
    columns: HashSet<(String, String)>,
    sequences: HashSet<String>,
}

impl Origins {
    pub fn new_table(&self, table: &str) -> bool {
        self.tables.contains(unqualified(table))
    }

    pub fn new_column(&self, table: &str, column: &str) -> bool {
        self.new_table(table) || self.columns.contains(&(key(table), column.to_string()))
    }

    /// A sequence this migration created: by name, or `table.column` for an identity column.
    pub fn new_sequence(&self, name: &str) -> bool {
        if self.sequences.contains(unqualified(name)) {
            return true;
        }
        match unqualified(name).rsplit_once('.') {
            Some((table, column)) => self.new_column(table, column),
            None => false,
        }
    }

    /// Follows one operation. `creates` is false for a `CREATE TABLE IF NOT EXISTS` of a table
    /// that already existed.
    pub fn record(&mut self, op: &Op, creates: bool) {
        match op {
            Op::CreateTable { table, columns, .. } if creates => {
                self.forget_table(table);
                self.tables.insert(key(table));
                for c in columns.iter().filter(|c| c.ty.is_serial() || c.identity) {
                    self.sequences
                        .insert(format!("{}_{}_seq", key(table), c.name));
                }
            }
            Op::CreateTableAs { table } => {
                self.forget_table(table);
                self.tables.insert(key(table));
            }
            Op::CreateOther { kind, name } if kind == "sequence" => {
                self.sequences.insert(key(name));
            }
            Op::AddColumn { table, column } => {
                self.columns.insert((key(table), column.name.clone()));
                if column.ty.is_serial() || column.identity {
                    self.sequences
                        .insert(format!("{}_{}_seq", key(table), column.name));
                }
            }
            Op::DropColumn { table, column, .. } => {
                self.columns.remove(&(key(table), column.clone()));
            }
            Op::DropTable { tables, .. } => {
                for t in tables {
                    self.forget_table(t);
                }
            }
            Op::DropSequence { names } => {
                for n in names {
                    self.sequences.remove(unqualified(n));
                }
            }
            Op::RenameTable { table, to } => {
                let (from, to) = (key(table), key(to));
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
            Op::RenameColumn { table, from, to } => {
                let t = key(table);
                let was_new = self.columns.remove(&(t.clone(), from.clone()));
                self.columns.remove(&(t.clone(), to.clone()));
                if was_new {
                    self.columns.insert((t, to.clone()));
                }
            }
            _ => {}
        }
    }

    fn forget_table(&mut self, table: &str) {
        let t = key(table);
        self.tables.remove(&t);
        self.columns.retain(|(owner, _)| *owner != t);
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
    functions: HashMap<String, Arc<Body>>,
    triggers: HashMap<String, Vec<Trigger>>,
    /// Foreign keys: (referencing table, key).
    fks: Vec<Arc<(String, ForeignKey)>>,
    children: HashMap<String, Vec<Child>>,
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
            Op::AddColumn { column, .. } => column.references.is_some(),
            Op::AddConstraint { foreign_key, .. } => foreign_key.is_some(),
            Op::CreateFunction { .. }
            | Op::CreateTrigger { .. }
            | Op::Inherit { .. }
            | Op::AttachPartition { .. }
            | Op::DetachPartition { .. }
            | Op::RenameTable { .. }
            | Op::DropTable { .. } => true,
            _ => false,
        }
    }

    /// Follows one operation.
    pub fn apply(&mut self, op: &Op) {
        match op {
            Op::CreateFunction { name, body, .. } => {
                self.functions.insert(key(name), Arc::new(body.clone()));
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
                foreign_keys,
                inherits,
                partition_of,
                ..
            } => {
                for fk in foreign_keys {
                    self.fks.push(Arc::new((key(table), fk.clone())));
                }
                for p in inherits {
                    self.add_child(p, table, false);
                }
                if let Some(p) = partition_of {
                    self.add_child(p, table, true);
                }
            }
            Op::AddColumn { table, column } => {
                if let Some(references) = &column.references {
                    self.fks.push(Arc::new((
                        key(table),
                        ForeignKey {
                            references: references.clone(),
                            columns: vec![column.name.clone()],
                            referred: vec![],
                            actions: column.actions,
                        },
                    )));
                }
            }
            Op::AddConstraint {
                table,
                foreign_key: Some(fk),
                ..
            } => self.fks.push(Arc::new((key(table), fk.clone()))),
            Op::Inherit { table, parent } => self.add_child(parent, table, false),
            Op::AttachPartition { table, partition } => self.add_child(table, partition, true),
            Op::DetachPartition {
                table, partition, ..
            } => {
                if let Some(c) = self.children.get_mut(unqualified(table)) {
                    c.retain(|c| c.table != key(partition));
                }
            }
            Op::RenameTable { table, to } => self.rename(&key(table), &key(to)),
            Op::DropTable { tables, .. } => {
                for t in tables {
                    let t = key(t);
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

    fn add_child(&mut self, parent: &str, child: &str, partition: bool) {
        self.children.entry(key(parent)).or_default().push(Child {
            table: key(child),
            partition,
        });
    }

    fn rename(&mut self, from: &str, to: &str) {
        if let Some(t) = self.triggers.remove(from) {
            self.triggers.insert(to.to_string(), t);
        }
        if let Some(c) = self.children.remove(from) {
            self.children.insert(to.to_string(), c);
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

    /// What a call of `function` does: `None` when migsafe did not read a body for it.
    pub fn body(&self, function: &str) -> Option<&Body> {
        self.functions.get(unqualified(function)).map(|b| &**b)
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
            for t in self.triggers.get(unqualified(table)).into_iter().flatten() {
                if !t.events.is_empty() && !t.events.iter().any(|e| e == event) {
                    continue;
                }
                let via = format!("a trigger on {table}");
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
                if let Some(Body::Ops(ops)) = self.body(function) {
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
