//! The fallback for statements sqlparser cannot read: a keyword-level recognizer for the forms
//! that matter to migration safety. Anything it does not know stays opaque (fail closed).

use super::op::{ColumnSpec, ConstraintKind, DefaultKind, Name, Op};
use super::tokens::{Tok, tokenize};
use super::types::SqlType;

/// A cursor over a statement's tokens.
struct Cur {
    toks: Vec<Tok>,
    pos: usize,
}

impl Cur {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn kw(&mut self, kw: &str) -> bool {
        let hit = self.peek().is_some_and(|t| t.is_kw(kw));
        if hit {
            self.pos += 1;
        }
        hit
    }
    fn kws(&mut self, kws: &[&str]) -> bool {
        let save = self.pos;
        if kws.iter().all(|k| self.kw(k)) {
            return true;
        }
        self.pos = save;
        false
    }
    fn sym(&mut self, c: char) -> bool {
        let hit = self.peek() == Some(&Tok::Sym(c));
        if hit {
            self.pos += 1;
        }
        hit
    }
    fn at_end(&self) -> bool {
        matches!(self.peek(), None | Some(Tok::Sym(';')))
    }
    /// A possibly qualified name: `a`, `s.a`, `"A"."b"`.
    fn name(&mut self) -> Option<Name> {
        let mut parts = Vec::new();
        while let Some(Tok::Word { text, .. }) = self.peek() {
            parts.push(text.clone());
            self.pos += 1;
            if !self.sym('.') {
                break;
            }
        }
        (!parts.is_empty()).then(|| parts.join("."))
    }
    fn names(&mut self) -> Vec<Name> {
        let mut out = Vec::new();
        while let Some(n) = self.name() {
            out.push(n);
            if !self.sym(',') {
                break;
            }
        }
        out
    }
    /// Skips a balanced parenthesised group if one starts here.
    fn skip_parens(&mut self) {
        if self.peek() != Some(&Tok::Sym('(')) {
            return;
        }
        let mut depth = 0;
        while let Some(t) = self.peek() {
            match t {
                Tok::Sym('(') => depth += 1,
                Tok::Sym(')') => depth -= 1,
                _ => {}
            }
            self.pos += 1;
            if depth == 0 {
                break;
            }
        }
    }
    /// Tokens up to the next top-level comma or the end, consumed.
    fn action(&mut self) -> Vec<Tok> {
        let mut depth = 0i32;
        let start = self.pos;
        while let Some(t) = self.peek() {
            match t {
                Tok::Sym('(') => depth += 1,
                Tok::Sym(')') => depth -= 1,
                Tok::Sym(',') | Tok::Sym(';') if depth == 0 => break,
                _ => {}
            }
            self.pos += 1;
        }
        let out = self.toks[start..self.pos].to_vec();
        self.sym(',');
        out
    }
    fn rest_has(&self, kw: &str) -> bool {
        self.toks[self.pos..].iter().any(|t| t.is_kw(kw))
    }
}

pub fn recognize(text: &str) -> Option<Vec<Op>> {
    let mut c = Cur {
        toks: tokenize(text),
        pos: 0,
    };
    let first = match c.peek()? {
        Tok::Word {
            text,
            quoted: false,
        } => text.clone(),
        _ => return None,
    };
    c.pos += 1;
    match first.as_str() {
        "drop" => drop(&mut c),
        "reindex" => {
            c.skip_parens();
            let _kind = c.name()?;
            let concurrently = c.kw("concurrently");
            let target = c.name()?;
            Some(vec![Op::Reindex {
                target,
                concurrently,
            }])
        }
        "vacuum" => {
            let mut full = false;
            loop {
                if c.kw("full") {
                    full = true;
                } else if c.kw("freeze") || c.kw("verbose") || c.kw("analyze") || c.kw("analyse") {
                } else if c.peek() == Some(&Tok::Sym('(')) {
                    let start = c.pos;
                    c.skip_parens();
                    full |= c.toks[start..c.pos].iter().any(|t| t.is_kw("full"));
                } else {
                    break;
                }
            }
            let mut tables = Vec::new();
            while let Some(n) = c.name() {
                tables.push(n);
                c.skip_parens();
                if !c.sym(',') {
                    break;
                }
            }
            Some(vec![Op::Vacuum { full, tables }])
        }
        "analyze" | "analyse" => Some(vec![Op::Analyze]),
        "refresh" => {
            if !c.kws(&["materialized", "view"]) {
                return None;
            }
            let concurrently = c.kw("concurrently");
            Some(vec![Op::RefreshMatView {
                name: c.name()?,
                concurrently,
            }])
        }
        "do" => Some(vec![Op::DoBlock]),
        "cluster" => {
            c.kw("verbose");
            Some(vec![Op::Cluster { table: c.name() }])
        }
        "lock" => {
            c.kw("table");
            c.kw("only");
            let tables = c.names();
            if tables.is_empty() {
                return None;
            }
            let mode = if c.kw("in") {
                let mut words = Vec::new();
                while let Some(Tok::Word { text, .. }) = c.peek() {
                    if text == "mode" {
                        break;
                    }
                    words.push(text.to_uppercase());
                    c.pos += 1;
                }
                words.join(" ")
            } else {
                "ACCESS EXCLUSIVE".into()
            };
            Some(vec![Op::LockTable { tables, mode }])
        }
        "create" => create(&mut c),
        "alter" => alter(&mut c),
        "comment" => Some(vec![Op::Comment]),
        "grant" | "revoke" => Some(vec![Op::Privileges { action: first }]),
        "begin" | "start" => Some(vec![Op::Begin]),
        "commit" | "end" => Some(vec![Op::Commit]),
        "rollback" | "abort" => Some(vec![if c.rest_has("to") {
            Op::Savepoint
        } else {
            Op::Rollback
        }]),
        "savepoint" | "release" => Some(vec![Op::Savepoint]),
        "set" => {
            let local = c.kw("local");
            c.kw("session");
            let name = c.name()?;
            let _ = c.sym('=') || c.kw("to");
            let value = c.toks[c.pos..]
                .iter()
                .filter_map(|t| match t {
                    Tok::Word { text, .. } | Tok::Num(text) => Some(text.clone()),
                    Tok::Str(s) => Some(format!("'{s}'")),
                    Tok::Sym(_) => None,
                })
                .collect::<Vec<_>>()
                .join(", ");
            Some(vec![Op::SetVar { name, value, local }])
        }
        "reset" => Some(vec![Op::SetVar {
            name: c.name()?,
            value: "DEFAULT".into(),
            local: false,
        }]),
        _ => None,
    }
}

fn drop(c: &mut Cur) -> Option<Vec<Op>> {
    let cascade = c.toks.iter().any(|t| t.is_kw("cascade"));
    if c.kw("index") {
        let concurrently = c.kw("concurrently");
        let if_exists = c.kws(&["if", "exists"]);
        return Some(vec![Op::DropIndex {
            names: c.names(),
            concurrently,
            if_exists,
        }]);
    }
    let kind = if c.kws(&["materialized", "view"]) {
        "materialized view".to_string()
    } else {
        match c.peek()? {
            Tok::Word {
                text,
                quoted: false,
            } => text.clone(),
            _ => return None,
        }
    };
    if kind != "materialized view" {
        c.pos += 1;
    }
    c.kws(&["if", "exists"]);
    let names = c.names();
    Some(vec![match kind.as_str() {
        "table" => Op::DropTable {
            tables: names,
            cascade,
        },
        "schema" => Op::DropSchema { names, cascade },
        "sequence" => Op::DropSequence { names },
        "database" => Op::DropDatabase {
            name: names.join(", "),
        },
        "type" | "domain" | "view" | "materialized view" | "function" | "procedure"
        | "extension" | "policy" | "trigger" | "aggregate" | "operator" | "rule" | "collation" => {
            Op::DropObject {
                kind,
                names,
                cascade,
            }
        }
        _ => return None,
    }])
}

fn create(c: &mut Cur) -> Option<Vec<Op>> {
    c.kws(&["or", "replace"]);
    let unique = c.kw("unique");
    if c.kw("index") {
        let concurrently = c.kw("concurrently");
        let if_not_exists = c.kws(&["if", "not", "exists"]);
        let name = if c.peek().is_some_and(|t| t.is_kw("on")) {
            None
        } else {
            c.name()
        };
        if !c.kw("on") {
            return None;
        }
        c.kw("only");
        return Some(vec![Op::CreateIndex {
            table: c.name()?,
            name,
            unique,
            concurrently,
            if_not_exists,
        }]);
    }
    if unique {
        return None;
    }
    for kind in ["function", "procedure"] {
        if c.kw(kind) {
            return Some(vec![Op::CreateFunction {
                name: c.name()?,
                kind: kind.into(),
                body: crate::sql::op::Body::default(),
            }]);
        }
    }
    if c.kw("trigger") || c.kws(&["constraint", "trigger"]) {
        while !c.at_end() && !c.kw("on") {
            c.pos += 1;
        }
        return Some(vec![Op::CreateTrigger {
            table: c.name()?,
            function: None,
            events: vec![],
        }]);
    }
    let materialized = c.kw("materialized");
    if c.kw("view")
        || (!materialized
            && (c.kws(&["recursive", "view"])
                || c.kws(&["temp", "view"])
                || c.kws(&["temporary", "view"])))
    {
        c.kws(&["if", "not", "exists"]);
        return Some(vec![Op::CreateView {
            name: c.name()?,
            materialized,
        }]);
    }
    if materialized {
        return None;
    }
    if c.kw("domain") {
        let name = c.name()?;
        return Some(vec![Op::CreateDomain {
            name,
            check: c.rest_has("check"),
        }]);
    }
    if c.kw("table") {
        let if_not_exists = c.kws(&["if", "not", "exists"]);
        let table = c.name()?;
        // The referenced tables are not read here: an empty name stands for "some table".
        let foreign_keys = if c.rest_has("references") {
            vec![crate::sql::ForeignKey {
                references: String::new(),
                columns: vec![],
                referred: vec![],
                actions: Default::default(),
            }]
        } else {
            vec![]
        };
        return Some(vec![Op::CreateTable {
            table,
            columns: vec![],
            if_not_exists,
            foreign_keys,
            inherits: vec![],
            partition_of: None,
        }]);
    }
    if c.kw("database") {
        return Some(vec![Op::NonTransactional {
            what: "CREATE DATABASE".into(),
        }]);
    }
    for kind in [
        "schema",
        "extension",
        "sequence",
        "type",
        "role",
        "policy",
        "aggregate",
        "collation",
    ] {
        if c.kw(kind) {
            c.kws(&["if", "not", "exists"]);
            let name = c.name().unwrap_or_default();
            if kind == "type" && c.kw("as") && c.kw("enum") {
                return Some(vec![Op::CreateEnum { name }]);
            }
            return Some(vec![Op::CreateOther {
                kind: kind.into(),
                name,
            }]);
        }
    }
    None
}

fn alter(c: &mut Cur) -> Option<Vec<Op>> {
    if c.kw("system") {
        return Some(vec![Op::NonTransactional {
            what: "ALTER SYSTEM".into(),
        }]);
    }
    if c.kw("table") {
        c.kws(&["if", "exists"]);
        c.kw("only");
        let table = c.name()?;
        c.sym('*');
        let mut ops = Vec::new();
        while !c.at_end() {
            let action = c.action();
            ops.push(table_action(&table, action)?);
        }
        return (!ops.is_empty()).then_some(ops);
    }
    if c.kw("sequence") {
        c.kws(&["if", "exists"]);
        let name = c.name()?;
        let restart = c.rest_has("restart");
        if c.kw("rename") {
            return Some(vec![Op::Rename {
                kind: "sequence".into(),
                name,
            }]);
        }
        if c.kws(&["set", "schema"]) {
            return Some(vec![Op::SetSchema {
                kind: "sequence".into(),
                name,
            }]);
        }
        return Some(vec![Op::AlterSequence { name, restart }]);
    }
    if c.kw("domain") {
        let name = c.name()?;
        if c.kws(&["add"]) {
            return Some(vec![Op::AlterDomainAddConstraint {
                name,
                not_valid: c.rest_has("valid")
                    && c.toks
                        .windows(2)
                        .any(|w| w[0].is_kw("not") && w[1].is_kw("valid")),
            }]);
        }
        // SET NOT NULL scans every column of the domain, DROP CONSTRAINT relaxes it …: not
        // modelled, so unknown rather than harmless.
        return Some(vec![Op::Unmodeled {
            what: format!("ALTER DOMAIN {name}"),
        }]);
    }
    if c.kw("type") {
        let name = c.name()?;
        if c.kws(&["add", "value"]) {
            return Some(vec![Op::AddEnumValue { type_name: name }]);
        }
        if c.kws(&["rename", "value"]) {
            return Some(vec![Op::Rename {
                kind: "enum value".into(),
                name,
            }]);
        }
        return object_change(c, "type", name);
    }
    let kind = if c.kws(&["materialized", "view"]) {
        "materialized view".to_string()
    } else {
        match c.peek()? {
            Tok::Word {
                text,
                quoted: false,
            } if [
                "index",
                "view",
                "schema",
                "function",
                "procedure",
                "trigger",
                "policy",
                "extension",
            ]
            .contains(&text.as_str()) =>
            {
                let k = text.clone();
                c.pos += 1;
                k
            }
            _ => return None,
        }
    };
    c.kws(&["if", "exists"]);
    let name = c.name()?;
    if kind == "function" || kind == "procedure" {
        c.skip_parens();
    }
    object_change(c, &kind, name)
}

fn object_change(c: &mut Cur, kind: &str, name: Name) -> Option<Vec<Op>> {
    if c.rest_has("rename") {
        return Some(vec![Op::Rename {
            kind: kind.into(),
            name,
        }]);
    }
    if c.kws(&["set", "schema"]) {
        return Some(vec![Op::SetSchema {
            kind: kind.into(),
            name,
        }]);
    }
    if kind == "index" && c.kws(&["set", "tablespace"]) {
        return Some(vec![Op::TableRewrite {
            table: name,
            action: "SET TABLESPACE (index)".into(),
        }]);
    }
    if kind == "policy" {
        return Some(vec![Op::Privileges {
            action: format!("alter policy {name}"),
        }]);
    }
    // Owner and comment-like changes are harmless; anything else (ALTER TYPE … DROP ATTRIBUTE
    // destroys stored values) is not modelled, so it is unknown, never silently safe.
    if c.kws(&["owner", "to"]) {
        return Some(vec![Op::CreateOther {
            kind: format!("{kind} owner"),
            name,
        }]);
    }
    Some(vec![Op::Unmodeled {
        what: format!("ALTER {} {name}", kind.to_uppercase()),
    }])
}

/// One action of `ALTER TABLE t <action>, <action> …`.
fn table_action(table: &Name, toks: Vec<Tok>) -> Option<Op> {
    let table = table.clone();
    let mut c = Cur { toks, pos: 0 };
    let has = |c: &Cur, kw: &str| c.toks.iter().any(|t| t.is_kw(kw));
    if c.kws(&["attach", "partition"]) {
        return Some(Op::AttachPartition {
            table,
            partition: c.name()?,
        });
    }
    if c.kws(&["detach", "partition"]) {
        let partition = c.name()?;
        return Some(Op::DetachPartition {
            table,
            partition,
            concurrently: c.kw("concurrently"),
        });
    }
    if c.kws(&["set", "tablespace"]) || c.kws(&["set", "access", "method"]) {
        return Some(Op::TableRewrite {
            table,
            action: "SET TABLESPACE / ACCESS METHOD".into(),
        });
    }
    if c.kws(&["set", "logged"]) {
        return Some(Op::TableRewrite {
            table,
            action: "SET LOGGED".into(),
        });
    }
    if c.kws(&["set", "unlogged"]) {
        return Some(Op::TableRewrite {
            table,
            action: "SET UNLOGGED".into(),
        });
    }
    if c.kws(&["set", "schema"]) {
        return Some(Op::SetSchema {
            kind: "table".into(),
            name: table,
        });
    }
    if c.kws(&["rename", "to"]) {
        return Some(Op::RenameTable {
            table,
            to: c.name()?,
        });
    }
    if c.kws(&["rename", "constraint"]) {
        return Some(Op::Rename {
            kind: "constraint".into(),
            name: table,
        });
    }
    if c.kw("rename") {
        c.kw("column");
        let from = c.name()?;
        c.kw("to");
        return Some(Op::RenameColumn {
            table,
            from,
            to: c.name()?,
        });
    }
    if c.kws(&["validate", "constraint"]) {
        return Some(Op::ValidateConstraint {
            table,
            name: c.name()?,
        });
    }
    if c.kws(&["drop", "constraint"]) {
        c.kws(&["if", "exists"]);
        return Some(Op::DropConstraint {
            table,
            name: c.name()?,
            cascade: has(&c, "cascade"),
        });
    }
    if c.kw("drop") {
        c.kw("column");
        c.kws(&["if", "exists"]);
        return Some(Op::DropColumn {
            table,
            column: c.name()?,
            cascade: has(&c, "cascade"),
        });
    }
    if c.kw("add") {
        let not_valid = c
            .toks
            .windows(2)
            .any(|w| w[0].is_kw("not") && w[1].is_kw("valid"));
        let mut name = None;
        if c.kw("constraint") {
            name = c.name();
        }
        let kind = if c.kws(&["foreign", "key"]) {
            Some(ConstraintKind::ForeignKey)
        } else if c.kw("check") {
            Some(ConstraintKind::Check)
        } else if c.kw("unique") {
            Some(ConstraintKind::Unique)
        } else if c.kws(&["primary", "key"]) {
            Some(ConstraintKind::PrimaryKey)
        } else if c.kw("exclude") {
            Some(ConstraintKind::Exclude)
        } else {
            None
        };
        if let Some(kind) = kind {
            let using_index = c
                .toks
                .windows(2)
                .any(|w| w[0].is_kw("using") && w[1].is_kw("index"));
            let foreign_key = (kind == ConstraintKind::ForeignKey).then(|| foreign_key(&c.toks));
            return Some(Op::AddConstraint {
                table,
                name,
                kind,
                not_valid,
                using_index,
                foreign_key,
            });
        }
        c.kw("column");
        c.kws(&["if", "not", "exists"]);
        return Some(Op::AddColumn {
            table,
            column: column_spec(&mut c)?,
        });
    }
    if c.kw("alter") {
        c.kw("column");
        let column = c.name()?;
        if c.kws(&["set", "not", "null"]) {
            return Some(Op::SetNotNull { table, column });
        }
        if c.kws(&["drop", "not", "null"]) {
            return Some(Op::DropNotNull { table, column });
        }
        if c.kws(&["set", "default"]) {
            return Some(Op::SetDefault { table, column });
        }
        if c.kws(&["drop", "default"]) {
            return Some(Op::DropDefault { table, column });
        }
        // An identity column's sequence set back (`RESTART [WITH n]`): ids handed out again.
        if has(&c, "restart") {
            return Some(Op::AlterSequence {
                name: format!("{table}.{column}"),
                restart: true,
            });
        }
        if c.kws(&["set", "data", "type"]) || c.kw("type") {
            let ty = type_text(&mut c);
            if ty.is_empty() {
                return None;
            }
            let ty = SqlType::parse(&ty);
            let using = has(&c, "using");
            let using_cast = c.kw("using") && cast_of(&mut c, &column, &ty) && c.at_end();
            return Some(Op::AlterColumnType {
                table,
                column,
                ty,
                using,
                using_cast,
            });
        }
        return Some(Op::AlterTableOther {
            table,
            action: "ALTER COLUMN option".into(),
        });
    }
    if c.kw("enable") || c.kw("disable") {
        let enable = c.toks[0].is_kw("enable");
        if has(&c, "trigger") {
            return Some(Op::TriggerToggle { table, enable });
        }
        if has(&c, "security") {
            return Some(Op::RowSecurity {
                table,
                action: if enable { "ENABLE" } else { "DISABLE" }.into(),
            });
        }
        return Some(Op::AlterTableOther {
            table,
            action: "ENABLE/DISABLE".into(),
        });
    }
    if c.kws(&["replica", "identity"]) {
        return Some(Op::ReplicaIdentity { table });
    }
    if c.kw("force") || c.kws(&["no", "force"]) {
        return Some(Op::RowSecurity {
            table,
            action: "FORCE".into(),
        });
    }
    if c.kws(&["cluster", "on"])
        || c.kws(&["set", "without"])
        || c.kw("inherit")
        || c.kws(&["no", "inherit"])
        || c.kws(&["owner", "to"])
        || c.kws(&["set", "("])
        || c.kw("reset")
        || c.kws(&["alter", "constraint"])
        || c.kw("set")
        || c.kw("of")
        || c.kws(&["not", "of"])
    {
        let action = c.toks[..c.pos.min(3)]
            .iter()
            .filter_map(|t| match t {
                Tok::Word { text, .. } => Some(text.to_uppercase()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(" ");
        return Some(Op::AlterTableOther { table, action });
    }
    None
}

/// The type text of a column definition, up to its first constraint keyword.
/// Reads `column::ty` or `CAST(column AS ty)`, possibly in parentheses: a `USING` that converts
/// the column as no `USING` would.
fn cast_of(c: &mut Cur, column: &str, ty: &SqlType) -> bool {
    if c.sym('(') {
        return cast_of(c, column, ty) && c.sym(')');
    }
    let is_column =
        |c: &mut Cur| matches!(c.peek(), Some(Tok::Word { text, .. }) if text == column);
    if c.kw("cast") {
        if !c.sym('(') || !is_column(c) {
            return false;
        }
        c.pos += 1;
        if !c.kw("as") {
            return false;
        }
        return cast_type(c) == *ty && c.sym(')');
    }
    if !is_column(c) {
        return false;
    }
    c.pos += 1;
    if !(c.sym(':') && c.sym(':')) {
        return false;
    }
    cast_type(c) == *ty
}

/// The type of a cast, up to a `)` that closes what encloses the cast.
fn cast_type(c: &mut Cur) -> SqlType {
    let start = c.pos;
    let mut depth = 0;
    while let Some(t) = c.peek() {
        match t {
            Tok::Sym('(') => depth += 1,
            Tok::Sym(')') if depth == 0 => break,
            Tok::Sym(')') => depth -= 1,
            _ => {}
        }
        c.pos += 1;
    }
    let end = c.pos;
    let mut inner = Cur {
        toks: c.toks[start..end].to_vec(),
        pos: 0,
    };
    let text = type_text(&mut inner);
    if !inner.at_end() && inner.pos < inner.toks.len() {
        // Something that is not part of a type (`col::text || 'x'`).
        return SqlType::parse("?");
    }
    SqlType::parse(&text)
}

fn type_text(c: &mut Cur) -> String {
    const STOP: &[&str] = &[
        "not",
        "null",
        "default",
        "references",
        "primary",
        "unique",
        "check",
        "constraint",
        "generated",
        "collate",
        "using",
    ];
    let mut parts = Vec::new();
    while let Some(t) = c.peek() {
        match t {
            Tok::Word { text, quoted } if *quoted || !STOP.contains(&text.as_str()) => {
                parts.push(text.clone())
            }
            Tok::Sym(s) if matches!(s, '(' | ')' | ',' | '[' | ']') => parts.push(s.to_string()),
            Tok::Num(n) => parts.push(n.clone()),
            _ => break,
        }
        c.pos += 1;
    }
    parts
        .join(" ")
        .replace(" ( ", "(")
        .replace(" )", ")")
        .replace(" , ", ",")
        .replace(" [ ]", "[]")
}

fn column_spec(c: &mut Cur) -> Option<ColumnSpec> {
    let name = c.name()?;
    let ty = SqlType::parse(&type_text(c));
    let rest = &c.toks[c.pos..];
    let has = |kw: &str| rest.iter().any(|t| t.is_kw(kw));
    let pair = |a: &str, b: &str| rest.windows(2).any(|w| w[0].is_kw(a) && w[1].is_kw(b));
    let default = if ty.is_serial() {
        Some(DefaultKind::Volatile {
            function: "nextval".into(),
        })
    } else if has("default") {
        // Without an AST, any function call in the column definition counts as volatile.
        let text: String = rest
            .iter()
            .map(|t| match t {
                Tok::Word { text, .. } => format!("{text} "),
                Tok::Sym(s) => s.to_string(),
                _ => "0 ".into(),
            })
            .collect();
        Some(match super::tokens::volatile_function(&text) {
            Some(function) => DefaultKind::Volatile { function },
            None => DefaultKind::Constant,
        })
    } else {
        None
    };
    Some(ColumnSpec {
        name,
        ty,
        not_null: pair("not", "null") || pair("primary", "key"),
        default,
        generated_stored: has("stored"),
        identity: pair("as", "identity"),
        primary_key: pair("primary", "key"),
        unique: has("unique"),
        check: has("check"),
        references: has("references").then(String::new),
        actions: Default::default(),
    })
}

/// A foreign key's referenced table and actions, read from its tokens (`… REFERENCES t (id)
/// ON DELETE CASCADE`); an unreadable name is empty.
fn foreign_key(toks: &[Tok]) -> crate::sql::ForeignKey {
    use crate::sql::{FkAction, FkActions};
    let at = toks.iter().position(|t| t.is_kw("references"));
    // `name` or `schema.name`: words joined by dots.
    let mut parts: Vec<String> = vec![];
    let mut rest = at.map_or(&[][..], |i| &toks[i + 1..]).iter();
    while let Some(Tok::Word { text, .. }) = rest.next() {
        parts.push(text.clone());
        if rest.next() != Some(&Tok::Sym('.')) {
            break;
        }
    }
    let action = |event: &str| {
        let i = toks
            .windows(2)
            .position(|w| w[0].is_kw("on") && w[1].is_kw(event))?;
        let w = |k: usize| toks.get(i + 2 + k);
        Some(if w(0)?.is_kw("cascade") {
            FkAction::Cascade
        } else if w(0)?.is_kw("set") && w(1)?.is_kw("null") {
            FkAction::SetNull
        } else if w(0)?.is_kw("set") && w(1)?.is_kw("default") {
            FkAction::SetDefault
        } else if w(0)?.is_kw("restrict") {
            FkAction::Restrict
        } else {
            FkAction::NoAction
        })
    };
    crate::sql::ForeignKey {
        references: parts.join("."),
        columns: vec![],
        referred: vec![],
        actions: FkActions {
            on_delete: action("delete").unwrap_or_default(),
            on_update: action("update").unwrap_or_default(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(sql: &str) -> Op {
        let ops = recognize(sql).unwrap_or_else(|| panic!("not recognised: {sql}"));
        assert_eq!(ops.len(), 1, "{sql}: {ops:?}");
        ops.into_iter().next().unwrap()
    }

    #[test]
    fn recognises_what_sqlparser_cannot_read() {
        assert_eq!(
            one("DROP INDEX CONCURRENTLY IF EXISTS a.idx_x;"),
            Op::DropIndex {
                names: vec!["a.idx_x".into()],
                concurrently: true,
                if_exists: true
            }
        );
        assert_eq!(
            one("REINDEX INDEX CONCURRENTLY idx"),
            Op::Reindex {
                target: "idx".into(),
                concurrently: true
            }
        );
        assert_eq!(
            one("REINDEX (VERBOSE) TABLE t"),
            Op::Reindex {
                target: "t".into(),
                concurrently: false
            }
        );
        assert_eq!(
            one("VACUUM (FULL, ANALYZE) t"),
            Op::Vacuum {
                full: true,
                tables: vec!["t".into()]
            }
        );
        assert_eq!(
            one("VACUUM ANALYZE t"),
            Op::Vacuum {
                full: false,
                tables: vec!["t".into()]
            }
        );
        assert_eq!(
            one("REFRESH MATERIALIZED VIEW CONCURRENTLY m"),
            Op::RefreshMatView {
                name: "m".into(),
                concurrently: true
            }
        );
        assert_eq!(one("DO $$ BEGIN DELETE FROM t; END $$"), Op::DoBlock);
        assert_eq!(
            one("CREATE OR REPLACE PROCEDURE p() LANGUAGE sql AS $$ SELECT 1 $$"),
            Op::CreateFunction {
                name: "p".into(),
                kind: "procedure".into(),
                body: Default::default()
            }
        );
        assert_eq!(
            one("ALTER TABLE t ATTACH PARTITION p FOR VALUES FROM (1) TO (2)"),
            Op::AttachPartition {
                table: "t".into(),
                partition: "p".into()
            }
        );
        assert_eq!(
            one("ALTER TABLE t DETACH PARTITION p CONCURRENTLY"),
            Op::DetachPartition {
                table: "t".into(),
                partition: "p".into(),
                concurrently: true
            }
        );
        assert_eq!(
            one("ALTER SEQUENCE s RESTART WITH 1"),
            Op::AlterSequence {
                name: "s".into(),
                restart: true
            }
        );
        assert!(matches!(
            one("ALTER TABLE t SET TABLESPACE fast"),
            Op::TableRewrite { .. }
        ));
        assert!(matches!(
            one("ALTER DOMAIN d ADD CONSTRAINT c CHECK (VALUE > 0) NOT VALID"),
            Op::AlterDomainAddConstraint {
                not_valid: true,
                ..
            }
        ));
    }

    #[test]
    fn recognises_alter_table_actions_with_columns() {
        let ops = recognize("ALTER TABLE ONLY t ALTER COLUMN c SET STATISTICS 100, ADD COLUMN d varchar(20) NOT NULL DEFAULT gen_random_uuid()").unwrap();
        assert_eq!(ops.len(), 2);
        match &ops[1] {
            Op::AddColumn { column, .. } => {
                assert_eq!(column.ty.to_string(), "varchar(20)");
                assert!(column.not_null);
                assert_eq!(
                    column.default,
                    Some(DefaultKind::Volatile {
                        function: "gen_random_uuid".into()
                    })
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_forms_stay_unrecognised() {
        assert_eq!(recognize("FROBNICATE t"), None);
        assert_eq!(recognize("ALTER TABLE t FROBNICATE"), None);
        assert_eq!(recognize("'just a string'"), None);
    }
}
