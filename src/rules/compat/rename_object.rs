use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;
use crate::sql::tokens::Tok;

rule! {
    /// ## What it flags
    /// Renames of constraints, indexes, schemas, types, enum values, views, sequences and
    /// functions that existed before this migration.
    ///
    /// That is `ALTER INDEX | SCHEMA | TYPE | VIEW | MATERIALIZED VIEW | SEQUENCE | FUNCTION …
    /// RENAME TO`, `ALTER TABLE … RENAME CONSTRAINT` and `ALTER TYPE … RENAME VALUE`. Tables and
    /// columns have their own rules (MS202, MS201).
    ///
    /// ## Why it matters
    /// The application version still running during the rollout, other services and scripts
    /// refer to these objects by name: a renamed view, function, sequence (`nextval('…')`) or type
    /// (casts) makes their queries fail; a renamed schema breaks every qualified name and every
    /// `search_path` that lists it; a renamed enum value makes writes of the old value fail.
    /// Constraint and unique-index names are what applications match in violation errors, so
    /// error handling silently stops recognising them.
    ///
    /// ## Instead
    /// Create the object under its new name next to the old one (a view or function can wrap the
    /// other), move every user over, and drop the old name in a later release. For an enum value,
    /// add the new value, migrate the rows, and stop writing the old one. Keep constraint and
    /// index names stable unless nothing matches on them.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, email text CONSTRAINT orders_email_key UNIQUE);
    /// -- example: next migration
    /// ALTER TABLE orders RENAME CONSTRAINT orders_email_key TO orders_email_unique;
    /// ```
    ///
    /// ```sql
    /// CREATE TYPE order_status AS ENUM ('new', 'shipped');
    /// -- example: next migration
    /// ALTER TYPE order_status RENAME VALUE 'shipped' TO 'sent';
    /// ```
    ///
    /// ```sql
    /// CREATE VIEW active_orders AS SELECT 1 AS id;
    /// -- example: next migration
    /// ALTER VIEW active_orders RENAME TO open_orders;
    /// ```
    ///
    /// ## Good
    /// An object created by the same migration is not in use yet:
    ///
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, email text);
    /// -- example: next migration
    /// CREATE INDEX orders_email_idx ON orders (email);
    /// ALTER INDEX orders_email_idx RENAME TO orders_email_lookup_idx;
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, email text);
    /// -- example: next migration
    /// ALTER TABLE orders ADD CONSTRAINT orders_email_check CHECK (email <> '');
    /// ALTER TABLE orders RENAME CONSTRAINT orders_email_check TO orders_email_not_empty;
    /// ```
    RenameObject {
        id: "MS203",
        name: "rename-object",
        severity: Warning,
        help: "create the object under the new name alongside the old one, move every user over, and drop the old name in a later release",
    }
}

impl Rule for RenameObject {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        super::walk(cx, |step, e, fresh| {
            let Op::Rename { kind, name } = &e.op else {
                return;
            };
            let toks = super::tokens(cx.up(), step);
            let to = super::renamed_to(&toks)
                .map(|n| format!(" to {n}"))
                .unwrap_or_default();
            let message = match kind.as_str() {
                "constraint" => {
                    let old = super::name_at(&toks, after(&toks, &["rename", "constraint"]))
                        .map(|(n, _)| n);
                    if fresh.table(name)
                        || old.as_deref().is_some_and(|c| fresh.constraint(name, c))
                    {
                        return;
                    }
                    let old = old.map(|c| format!(" {c}")).unwrap_or_default();
                    format!(
                        "renames constraint{old} of {name}{to}: code that recognises the constraint by name in violation errors stops matching it"
                    )
                }
                "index" if !fresh.has("index", name) => format!(
                    "renames index {name}{to}: scripts and error handling that name it stop matching (a unique index's name is the constraint name in violation errors)"
                ),
                "schema" if !fresh.has("schema", name) => format!(
                    "renames schema {name}{to}: every qualified name and search_path that mentions {name} stops resolving"
                ),
                "type" if !fresh.has("type", name) => format!(
                    "renames type {name}{to}: casts and function signatures that name it fail in the application version still running"
                ),
                "enum value" if !fresh.has("type", name) => {
                    let at = after(&toks, &["rename", "value"]);
                    match (toks.get(at), toks.get(at + 2)) {
                        (Some(Tok::Str(old)), Some(Tok::Str(new))) => format!(
                            "renames value '{old}' of enum {name} to '{new}': the application version still running keeps writing '{old}', and those writes fail"
                        ),
                        _ => format!(
                            "renames a value of enum {name}: the application version still running keeps writing the old value, and those writes fail"
                        ),
                    }
                }
                "view" | "materialized view" if !fresh.has("view", name) => format!(
                    "renames {kind} {name}{to}: queries of the application version still running that read it fail"
                ),
                "sequence" if !fresh.has("sequence", name) => format!(
                    "renames sequence {name}{to}: nextval('{name}') and similar calls in application SQL fail (column defaults follow the rename)"
                ),
                "function" | "procedure" if !fresh.has("function", name) => {
                    format!("renames {kind} {name}{to}: callers that use the old name fail")
                }
                _ => return,
            };
            out.push(Hit::at(step, message));
        });
    }
}

/// The index just after the first occurrence of the keywords `kws` (past the end if absent).
fn after(toks: &[Tok], kws: &[&str]) -> usize {
    toks.windows(kws.len())
        .position(|w| w.iter().zip(kws).all(|(t, k)| t.is_kw(k)))
        .map_or(toks.len(), |i| i + kws.len())
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::RenameObject::META);
    }
}
