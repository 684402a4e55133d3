use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

/// PostgreSQL's `NAMEDATALEN - 1`.
const MAX: usize = 63;

rule! {
    /// ## What it flags
    /// A name longer than 63 bytes given to something the migration creates or renames: a table,
    /// column, index, constraint, view, type, sequence, schema or function.
    ///
    /// ## Why it matters
    /// PostgreSQL truncates identifiers to 63 bytes with only a `NOTICE`, so the object exists
    /// under a different name than the one written. Two long names that share their first 63
    /// bytes collide (`relation … already exists`), even in different migrations; code that
    /// matches constraint names in violation errors, and schema-diff tools comparing against the
    /// migration, see the truncated name and never match. Bytes, not characters, count: non-ASCII
    /// names hit the limit sooner.
    ///
    /// ## Instead
    /// Choose a name of at most 63 bytes (abbreviate the table name in index and constraint
    /// names).
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE customer_subscription_billing_events (id bigint PRIMARY KEY, customer_id bigint);
    /// -- example: next migration
    /// CREATE INDEX customer_subscription_billing_events_customer_id_billing_period_idx ON customer_subscription_billing_events (customer_id);
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE orders (
    ///     id bigint PRIMARY KEY,
    ///     CONSTRAINT orders_id_positive_because_negative_ids_are_reserved_for_imports CHECK (id > 0)
    /// );
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE customer_subscription_billing_events (id bigint PRIMARY KEY, customer_id bigint);
    /// -- example: next migration
    /// CREATE INDEX csbe_customer_id_created_at_idx ON customer_subscription_billing_events (customer_id);
    /// ```
    IdentifierTooLong {
        id: "MS220",
        name: "identifier-too-long",
        severity: Error,
        help: "choose a name of at most 63 bytes",
    }
}

impl Rule for IdentifierTooLong {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for step in &cx.up().steps {
            if !may_hold_long_identifier(cx.up().text(step)) {
                continue;
            }
            let toks = super::tokens(cx.up(), step);
            let mut names: Vec<(&str, String)> = Vec::new();
            for e in &step.effects {
                match &e.op {
                    Op::CreateTable { table, columns, .. } => {
                        names.push(("table", table.clone()));
                        for c in columns {
                            names.push(("column", c.name.clone()));
                        }
                        // Named constraints of the table and its columns.
                        for (i, t) in toks.iter().enumerate() {
                            if t.is_kw("constraint")
                                && let Some((n, _)) = super::name_at(&toks, i + 1)
                            {
                                names.push(("constraint", n));
                            }
                        }
                    }
                    Op::CreateTableAs { table } => names.push(("table", table.clone())),
                    Op::AddColumn { column, .. } => names.push(("column", column.name.clone())),
                    Op::RenameColumn { to, .. } => names.push(("column", to.clone())),
                    Op::RenameTable { to, .. } => names.push(("table", to.clone())),
                    Op::AddConstraint {
                        name: Some(name), ..
                    } => names.push(("constraint", name.clone())),
                    Op::CreateIndex {
                        name: Some(name), ..
                    } => names.push(("index", name.clone())),
                    Op::CreateView { name, .. } => names.push(("view", name.clone())),
                    Op::CreateEnum { name } | Op::CreateDomain { name, .. } => {
                        names.push(("type", name.clone()))
                    }
                    Op::CreateFunction { name, kind, .. } => {
                        names.push((kind.as_str(), name.clone()))
                    }
                    Op::CreateOther { kind, name }
                        if matches!(kind.as_str(), "schema" | "sequence" | "type") =>
                    {
                        names.push((kind.as_str(), name.clone()))
                    }
                    Op::Rename { kind, .. } if kind != "enum value" => {
                        if let Some(to) = super::renamed_to(&toks) {
                            names.push((kind.as_str(), to));
                        }
                    }
                    _ => {}
                }
            }
            let mut seen = std::collections::HashSet::new();
            for (kind, name) in names {
                // Each part of a qualified name is an identifier of its own.
                for part in name.split('.') {
                    if part.len() > MAX && seen.insert(part.to_string()) {
                        out.push(Hit::at(
                            step,
                            format!(
                                "{kind} name {part} is {} bytes long: PostgreSQL silently truncates it to {}",
                                part.len(),
                                truncate(part)
                            ),
                        ));
                    }
                }
            }
        }
    }
}

/// The first 63 bytes of a name, cut at a character boundary as PostgreSQL does.
fn truncate(name: &str) -> &str {
    let mut end = MAX;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// Cheap pre-check: without a quoted identifier or a run of more than 63 bytes between
/// delimiters, no identifier in the statement can be too long, so it need not be tokenized.
fn may_hold_long_identifier(text: &str) -> bool {
    text.contains('"')
        || text
            .split(|c: char| c.is_whitespace() || "(),;.=".contains(c))
            .any(|word| word.len() > 63)
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::IdentifierTooLong::META);
    }

    #[test]
    fn truncates_at_a_character_boundary() {
        let name = format!("{}é", "a".repeat(62));
        assert_eq!(super::truncate(&name), "a".repeat(62));
    }
}
