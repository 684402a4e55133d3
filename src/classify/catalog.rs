//! A running model of the schema built from the migrations read so far, so that a type change
//! can be judged against the column's previous type.

use std::collections::HashMap;

use crate::sql::{Op, SqlType};

#[derive(Debug, Default, Clone)]
pub struct Catalog {
    /// table → column → type. Names without a schema are keyed as written; `public.` is dropped.
    tables: HashMap<String, HashMap<String, SqlType>>,
    /// Triggers, foreign keys, inheritance and functions: what acts on data later.
    pub deps: super::objects::Deps,
}

/// How a column's type changes.
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
    pub fn describe(&self) -> String {
        match self {
            TypeChange::Same => "keeps the column's type".into(),
            TypeChange::BinaryCoercible { from, to } => {
                format!("changes {from} to {to}, a binary-coercible change without a rewrite")
            }
            TypeChange::Rewrite { from, to } => {
                format!("changes {from} to {to}, rewriting the table and its indexes")
            }
            TypeChange::Narrowing { from, to } => {
                format!("narrows {from} to {to}: values that do not fit are lost or rejected")
            }
            TypeChange::Inexact { from, to, why } => {
                format!("changes {from} to {to}, which {why}")
            }
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

    pub fn type_change(&self, table: &str, column: &str, to: &SqlType, using: bool) -> TypeChange {
        if using {
            return TypeChange::Using { to: to.clone() };
        }
        match self.column_type(table, column) {
            Some(from) => classify_change(from, to),
            None => TypeChange::Unknown { to: to.clone() },
        }
    }

    /// Folds one operation into the model.
    pub fn apply(&mut self, op: &Op) {
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
                self.tables.insert(key(table), cols);
            }
            Op::AddColumn { table, column } => {
                self.tables
                    .entry(key(table))
                    .or_default()
                    .insert(column.name.clone(), column.ty.clone());
            }
            Op::AlterColumnType {
                table, column, ty, ..
            } => {
                if let Some(t) = self.tables.get_mut(&key(table)) {
                    t.insert(column.clone(), ty.clone());
                }
            }
            Op::DropColumn { table, column, .. } => {
                if let Some(t) = self.tables.get_mut(&key(table)) {
                    t.remove(column);
                }
            }
            Op::RenameColumn { table, from, to } => {
                if let Some(t) = self.tables.get_mut(&key(table))
                    && let Some(ty) = t.remove(from)
                {
                    t.insert(to.clone(), ty);
                }
            }
            Op::RenameTable { table, to } => {
                if let Some(t) = self.tables.remove(&key(table)) {
                    self.tables.insert(key(to), t);
                }
            }
            Op::DropTable { tables, .. } => {
                for t in tables {
                    self.tables.remove(&key(t));
                }
            }
            _ => {}
        }
    }
}

fn classify_change(from: &SqlType, to: &SqlType) -> TypeChange {
    let (f, t) = (from.base.as_str(), to.base.as_str());
    let same_array = from.array == to.array;
    let coercible = TypeChange::BinaryCoercible {
        from: from.clone(),
        to: to.clone(),
    };
    let rewrite = TypeChange::Rewrite {
        from: from.clone(),
        to: to.clone(),
    };
    let narrowing = TypeChange::Narrowing {
        from: from.clone(),
        to: to.clone(),
    };
    if from == to {
        return TypeChange::Same;
    }
    if !same_array {
        return narrowing;
    }
    let len = |ty: &SqlType| ty.mods.first().copied();
    match (f, t) {
        ("varchar", "varchar") => match (len(from), len(to)) {
            (_, None) => coercible,
            (Some(a), Some(b)) if b >= a => coercible,
            _ => narrowing,
        },
        ("varchar", "text") | ("text", "varchar") if len(to).is_none() => coercible,
        // char(n) pads with blanks: widening it, or casting it to text (which trims), rewrites.
        ("char", "char") | ("varchar", "char")
            if len(to).is_some_and(|b| len(from).is_some_and(|a| b >= a)) =>
        {
            rewrite
        }
        ("numeric", "numeric") => match (&from.mods[..], &to.mods[..]) {
            (_, []) => coercible,
            ([p1], [p2]) | ([p1, 0], [p2]) | ([p1], [p2, 0]) if p2 >= p1 => coercible,
            ([p1, s1], [p2, s2]) if s1 == s2 && p2 >= p1 => coercible,
            ([p1, s1], [p2, s2]) if s2 >= s1 && p2 - s2 >= p1 - s1 => rewrite,
            _ => narrowing,
        },
        ("cidr", "inet") | ("varbit", "varbit")
            if len(to).is_none_or(|b| len(from).is_some_and(|a| b >= a)) =>
        {
            coercible
        }
        ("smallint", "int" | "bigint" | "numeric" | "real" | "double precision")
        | ("int", "bigint" | "numeric" | "double precision")
        | ("bigint", "numeric")
        | ("real", "double precision")
        | ("char", "varchar")
        // jsonb's text is json's normal form: nothing is lost going back.
        | ("jsonb", "json")
        | ("date", "timestamp" | "timestamptz") => rewrite,
        // Lossy though they look like widenings.
        ("json", "jsonb") => TypeChange::Inexact {
            from: from.clone(),
            to: to.clone(),
            why: "drops duplicate keys, key order, whitespace and number formatting",
        },
        ("timestamp", "timestamptz") | ("timestamptz", "timestamp") => TypeChange::Inexact {
            from: from.clone(),
            to: to.clone(),
            why: "converts through the session's TimeZone: a time in a daylight-saving gap moves and the repeated hour cannot be told apart",
        },
        (_, "text") => rewrite,
        _ => narrowing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(from: &str, to: &str) -> TypeChange {
        classify_change(&SqlType::parse(from), &SqlType::parse(to))
    }

    #[test]
    fn widenings_are_binary_coercible() {
        for (f, t) in [
            ("varchar(20)", "varchar(40)"),
            ("varchar(20)", "varchar"),
            ("varchar(20)", "text"),
            ("character varying", "text"),
            ("numeric(10,2)", "numeric(12,2)"),
            ("numeric(10,2)", "numeric"),
            ("cidr", "inet"),
        ] {
            assert!(
                matches!(change(f, t), TypeChange::BinaryCoercible { .. }),
                "{f} → {t}"
            );
        }
    }

    #[test]
    fn narrowings_and_rewrites_are_told_apart() {
        for (f, t) in [
            ("varchar(40)", "varchar(20)"),
            ("bigint", "int"),
            ("numeric(12,2)", "numeric(10,2)"),
            ("numeric(10,2)", "numeric(10,1)"),
            ("text", "varchar(10)"),
            ("text", "int"),
        ] {
            assert!(
                matches!(change(f, t), TypeChange::Narrowing { .. }),
                "{f} → {t}"
            );
        }
        for (f, t) in [
            ("json", "jsonb"),
            ("timestamp", "timestamptz"),
            ("timestamptz", "timestamp"),
        ] {
            assert!(
                matches!(change(f, t), TypeChange::Inexact { .. }),
                "{f} → {t}"
            );
        }
        for (f, t) in [
            ("int", "bigint"),
            ("int", "text"),
            ("jsonb", "json"),
            ("date", "timestamptz"),
        ] {
            assert!(
                matches!(change(f, t), TypeChange::Rewrite { .. }),
                "{f} → {t}"
            );
        }
    }
}
