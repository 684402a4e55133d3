//! A running model of the schema built from the migrations read so far, so that a type change
//! can be judged against the column's previous type.

use std::collections::HashMap;

use std::collections::HashSet;

use crate::sql::convert::{Verdict, convert};
use crate::sql::{Op, SqlType};

#[derive(Debug, Default, Clone)]
pub struct Catalog {
    /// table → column → type. Names without a schema are keyed as written; `public.` is dropped.
    tables: HashMap<String, HashMap<String, SqlType>>,
    /// Triggers, foreign keys, inheritance and functions: what acts on data later.
    pub deps: super::objects::Deps,
    /// Enum types created by the migrations (unqualified, as [`SqlType::parse`] spells them).
    enums: HashSet<String>,
    /// While [`Catalog::scratch`] runs: what to put back afterwards.
    undo: Option<Undo>,
}

/// What a scratch analysis changed, to be put back: each table's columns as they were before
/// its first change, the enums it created, and the dependencies as they were before their first
/// change. Cheaper than cloning the whole catalog for each down script (quadratic over a
/// project's history).
#[derive(Debug, Default, Clone)]
struct Undo {
    tables: Vec<(String, Option<HashMap<String, SqlType>>)>,
    enums: Vec<String>,
    deps: Option<super::objects::Deps>,
}

/// How a column's type changes: a [`Verdict`] of the conversion table with the types it is about.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeChange {
    Same,
    /// No rewrite, no data change: `varchar(n)`→`varchar(m≥n)`/`text`, numeric precision up, `cidr`→`inet`.
    BinaryCoercible {
        from: SqlType,
        to: SqlType,
    },
    /// Every value fits, but the table and its indexes are rewritten (`int`→`bigint`).
    Rewrite {
        from: SqlType,
        to: SqlType,
    },
    /// Every value that converts is kept exactly, but one that does not fit fails the `ALTER`
    /// (`bigint`→`int`, `numeric(5,2)`→`numeric(6,4)`): which, in `why`.
    FailRisk {
        from: SqlType,
        to: SqlType,
        why: &'static str,
    },
    /// Values may not fit and are cut, rounded or rejected.
    Narrowing {
        from: SqlType,
        to: SqlType,
    },
    /// Every value converts, but not exactly: what is lost, in `why`.
    Inexact {
        from: SqlType,
        to: SqlType,
        why: &'static str,
    },
    /// A conversion the table does not know to keep every value (a user-defined type, a pair
    /// not checked): taken to lose values.
    Unlisted {
        from: SqlType,
        to: SqlType,
    },
    /// A `USING` expression computes new values from old: the old ones are gone.
    Using {
        to: SqlType,
    },
    /// The previous type is not known from these migrations.
    Unknown {
        to: SqlType,
    },
}

impl TypeChange {
    /// The change from `from` to `to`, as the conversion table has it.
    pub fn of(from: &SqlType, to: &SqlType, is_enum: &dyn Fn(&SqlType) -> bool) -> TypeChange {
        let (from, to) = (from.clone(), to.clone());
        match convert(&from, &to, is_enum) {
            Verdict::Same => TypeChange::Same,
            Verdict::BinaryCoercible => TypeChange::BinaryCoercible { from, to },
            Verdict::Rewrite => TypeChange::Rewrite { from, to },
            Verdict::FailRisk(why) => TypeChange::FailRisk { from, to, why },
            Verdict::Narrowing => TypeChange::Narrowing { from, to },
            Verdict::Inexact(why) => TypeChange::Inexact { from, to, why },
            Verdict::Unknown => TypeChange::Unlisted { from, to },
        }
    }

    pub fn describe(&self) -> String {
        match self {
            TypeChange::Same => "keeps the column's type".into(),
            TypeChange::BinaryCoercible { from, to } => {
                format!("changes {from} to {to}, a binary-coercible change without a rewrite")
            }
            TypeChange::Rewrite { from, to } => {
                format!("changes {from} to {to}, rewriting the table and its indexes")
            }
            TypeChange::FailRisk { from, to, why } => {
                format!("changes {from} to {to}, rewriting the table and its indexes; {why}")
            }
            TypeChange::Narrowing { from, to } => {
                format!("narrows {from} to {to}: values that do not fit are lost or rejected")
            }
            TypeChange::Inexact { from, to, why } => {
                format!("changes {from} to {to}, which {why}")
            }
            TypeChange::Unlisted { from, to } => format!(
                "changes {from} to {to}, a conversion migsafe does not know to keep every value"
            ),
            TypeChange::Using { to } => format!(
                "converts values to {to} with a USING expression, overwriting the old values"
            ),
            TypeChange::Unknown { to } => {
                format!(
                    "changes the type to {to}, but the previous type is not known from these migrations"
                )
            }
        }
    }
}

fn key(name: &str) -> String {
    crate::sql::op::unqualified(name).to_string()
}

impl Catalog {
    pub fn has_table(&self, table: &str) -> bool {
        self.tables.contains_key(&key(table))
    }

    pub fn column_type(&self, table: &str, column: &str) -> Option<&SqlType> {
        self.tables.get(&key(table))?.get(column)
    }

    /// `ALTER COLUMN column TYPE to`; `using_expression` when a `USING` other than a plain cast
    /// of the column to `to` computes the new values.
    pub fn type_change(
        &self,
        table: &str,
        column: &str,
        to: &SqlType,
        using_expression: bool,
    ) -> TypeChange {
        if using_expression {
            return TypeChange::Using { to: to.clone() };
        }
        match self.column_type(table, column) {
            Some(from) => TypeChange::of(from, to, &|t| self.is_enum(t)),
            None => TypeChange::Unknown { to: to.clone() },
        }
    }

    /// Whether `ty` is an enum a migration created.
    pub fn is_enum(&self, ty: &SqlType) -> bool {
        !ty.array && ty.mods.is_empty() && self.enums.contains(&key(&ty.base))
    }

    /// Runs `f` on this catalog, then puts the catalog back as it was: for a script whose
    /// changes must not reach the model (a down script), without cloning the whole model.
    pub fn scratch<R>(&mut self, f: impl FnOnce(&mut Catalog) -> R) -> R {
        let outer = self.undo.replace(Undo::default());
        let result = f(self);
        let undo = std::mem::replace(&mut self.undo, outer).unwrap_or_default();
        for (k, cols) in undo.tables.into_iter().rev() {
            match cols {
                Some(cols) => self.tables.insert(k, cols),
                None => self.tables.remove(&k),
            };
        }
        for e in undo.enums {
            self.enums.remove(&e);
        }
        if let Some(deps) = undo.deps {
            self.deps = deps;
        }
        result
    }

    /// Under [`Catalog::scratch`], keeps table `k` as it was before its first change.
    fn save_table(&mut self, k: &str) {
        if let Some(undo) = &mut self.undo
            && !undo.tables.iter().any(|(t, _)| t == k)
        {
            undo.tables
                .push((k.to_string(), self.tables.get(k).cloned()));
        }
    }

    /// Folds one operation into the model.
    pub fn apply(&mut self, op: &Op) {
        if let Some(undo) = &mut self.undo
            && undo.deps.is_none()
            && super::objects::Deps::may_change(op)
        {
            undo.deps = Some(self.deps.clone());
        }
        self.deps.apply(op);
        match op {
            Op::CreateTable {
                table,
                if_not_exists: true,
                ..
            } if self.has_table(table) => {}
            Op::CreateTable { table, columns, .. } => {
                let cols = columns
                    .iter()
                    .map(|c| (c.name.clone(), c.ty.clone()))
                    .collect();
                let k = key(table);
                self.save_table(&k);
                self.tables.insert(k, cols);
            }
            Op::AddColumn { table, column } => {
                let k = key(table);
                self.save_table(&k);
                self.tables
                    .entry(k)
                    .or_default()
                    .insert(column.name.clone(), column.ty.clone());
            }
            Op::AlterColumnType {
                table, column, ty, ..
            } => {
                let k = key(table);
                self.save_table(&k);
                if let Some(t) = self.tables.get_mut(&k) {
                    t.insert(column.clone(), ty.clone());
                }
            }
            Op::CreateEnum { name } => {
                let k = key(&name.to_lowercase());
                if self.enums.insert(k.clone())
                    && let Some(undo) = &mut self.undo
                {
                    undo.enums.push(k);
                }
            }
            Op::DropColumn { table, column, .. } => {
                let k = key(table);
                self.save_table(&k);
                if let Some(t) = self.tables.get_mut(&k) {
                    t.remove(column);
                }
            }
            Op::RenameColumn { table, from, to } => {
                let k = key(table);
                self.save_table(&k);
                if let Some(t) = self.tables.get_mut(&k)
                    && let Some(ty) = t.remove(from)
                {
                    t.insert(to.clone(), ty);
                }
            }
            Op::RenameTable { table, to } => {
                let (from, to) = (key(table), key(to));
                self.save_table(&from);
                self.save_table(&to);
                if let Some(t) = self.tables.remove(&from) {
                    self.tables.insert(to, t);
                }
            }
            Op::DropTable { tables, .. } => {
                for t in tables {
                    let k = key(t);
                    self.save_table(&k);
                    self.tables.remove(&k);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(from: &str, to: &str) -> TypeChange {
        TypeChange::of(&SqlType::parse(from), &SqlType::parse(to), &|_| false)
    }

    #[test]
    fn verdicts_become_type_changes() {
        assert!(matches!(
            change("varchar(20)", "text"),
            TypeChange::BinaryCoercible { .. }
        ));
        assert!(matches!(
            change("int", "bigint"),
            TypeChange::Rewrite { .. }
        ));
        assert!(matches!(
            change("numeric(5,2)", "numeric(6,4)"),
            TypeChange::FailRisk { .. }
        ));
        assert!(matches!(
            change("varchar(40)", "varchar(20)"),
            TypeChange::Narrowing { .. }
        ));
        assert!(matches!(
            change("json", "jsonb"),
            TypeChange::Inexact { .. }
        ));
        assert!(matches!(
            change("mood", "text"),
            TypeChange::Unlisted { .. }
        ));
        assert!(
            change("numeric(5,2)", "numeric(6,4)")
                .describe()
                .contains("numeric field overflow")
        );
    }

    #[test]
    fn scratch_puts_the_catalog_back() {
        let mut cat = Catalog::default();
        for op in crate::sql::parse_ops(
            "CREATE TABLE t (a int, b text); CREATE TABLE u (id int REFERENCES t (a)); \
             CREATE TYPE mood AS ENUM ('sad')",
        ) {
            cat.apply(&op);
        }
        let before = format!("{:?}", (sorted(&cat.tables), &cat.enums, cat.deps.clone()));
        cat.scratch(|c| {
            for op in crate::sql::parse_ops(
                "ALTER TABLE t ADD COLUMN c int; ALTER TABLE t ALTER COLUMN a TYPE bigint; \
                 ALTER TABLE t RENAME COLUMN b TO bb; ALTER TABLE t RENAME TO t2; \
                 CREATE TABLE t (x int); DROP TABLE u; CREATE TABLE v (y int); \
                 CREATE TYPE other AS ENUM ('x'); ALTER TABLE t2 DROP COLUMN a",
            ) {
                c.apply(&op);
            }
            assert!(c.has_table("v") && c.has_table("t2") && !c.has_table("u"));
        });
        let after = format!("{:?}", (sorted(&cat.tables), &cat.enums, cat.deps.clone()));
        assert_eq!(before, after);
        assert!(cat.undo.is_none());
        assert_eq!(cat.column_type("t", "a"), Some(&SqlType::parse("int")));
        assert!(!cat.has_table("v"));
    }

    fn sorted(
        tables: &HashMap<String, HashMap<String, SqlType>>,
    ) -> Vec<(String, Vec<(String, SqlType)>)> {
        let mut out: Vec<_> = tables
            .iter()
            .map(|(t, cols)| {
                let mut cols: Vec<_> = cols.iter().map(|(c, ty)| (c.clone(), ty.clone())).collect();
                cols.sort_by(|a, b| a.0.cmp(&b.0));
                (t.clone(), cols)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    #[test]
    fn enums_created_by_the_migrations_are_known() {
        let mut cat = Catalog::default();
        for sql in [
            "CREATE TYPE mood AS ENUM ('sad', 'ok')",
            "CREATE TABLE t (m mood, n public.mood, o mood[], p other)",
        ] {
            for op in crate::sql::parse_ops(sql) {
                cat.apply(&op);
            }
        }
        let text = SqlType::parse("text");
        assert!(matches!(
            cat.type_change("t", "m", &text, false),
            TypeChange::Rewrite { .. }
        ));
        assert!(matches!(
            cat.type_change("t", "n", &text, false),
            TypeChange::Rewrite { .. }
        ));
        assert!(matches!(
            cat.type_change("t", "o", &SqlType::parse("text[]"), false),
            TypeChange::Unlisted { .. }
        ));
        assert!(matches!(
            cat.type_change("t", "p", &text, false),
            TypeChange::Unlisted { .. }
        ));
        assert!(matches!(
            cat.type_change("t", "m", &text, true),
            TypeChange::Using { .. }
        ));
    }
}
