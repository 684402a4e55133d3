use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;
use crate::sql::tokens::Tok;

rule! {
    /// ## What it flags
    /// Key and id columns of type `integer`, `smallint`, `serial` or `smallserial`, in
    /// `CREATE TABLE` and `ALTER TABLE … ADD COLUMN`.
    ///
    /// Key and id columns are primary key columns (declared on the column or in a table-level
    /// `PRIMARY KEY (…)`), columns with a `REFERENCES` clause, and columns named `id` or `…_id`.
    ///
    /// ## Why it matters
    /// An `integer` key runs out after about 2.1 billion values (a `smallint` after 32,767), and
    /// sequences burn values on rolled-back inserts and `ON CONFLICT`. Widening the column when it
    /// runs out is one of the most expensive migrations there is: the table, its indexes and every
    /// foreign key column that refers to it must be rewritten, under `ACCESS EXCLUSIVE` locks or
    /// through a long shadow-column backfill, usually in a hurry. `bigint` costs four more bytes
    /// per row.
    ///
    /// ## Instead
    /// Use `bigint` (with `GENERATED ALWAYS AS IDENTITY`) for keys, and `bigint` for the columns
    /// that refer to them.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE orders (id serial PRIMARY KEY, customer_id integer NOT NULL);
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE orders (
    ///     id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ///     customer_id bigint NOT NULL,
    ///     quantity integer NOT NULL
    /// );
    /// ```
    PreferBigint {
        id: "MS216",
        name: "prefer-bigint",
        severity: Warning,
        default_enabled: false,
        help: "use bigint (GENERATED ALWAYS AS IDENTITY for keys) for key and id columns",
    }
}

impl Rule for PreferBigint {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops() {
            let keys = match &e.op {
                Op::CreateTable { .. } => primary_key_columns(&super::tokens(cx.up(), step)),
                _ => vec![],
            };
            let verb = if matches!(e.op, Op::CreateTable { .. }) {
                "creates"
            } else {
                "adds"
            };
            for (table, c) in super::defined_columns(&e.op) {
                let limit = match c.ty.base.as_str() {
                    "int" | "serial" => "about 2.1 billion",
                    "smallint" | "smallserial" => "32,767",
                    _ => continue,
                };
                if c.ty.array {
                    continue;
                }
                let role = if c.primary_key || keys.contains(&c.name) {
                    "a primary key"
                } else if c.references.is_some() {
                    "a foreign key"
                } else if c.name == "id" || c.name.ends_with("_id") {
                    "an id column"
                } else {
                    continue;
                };
                out.push(Hit::at(
                    step,
                    format!(
                        "{}: as {role}, it runs out at {limit} values, and widening it later rewrites the table, its indexes and every column that refers to it",
                        super::column_phrase(verb, table, &c.name, &c.ty)
                    ),
                ));
            }
        }
    }
}

/// The columns of table-level `PRIMARY KEY (a, b)` constraints.
fn primary_key_columns(toks: &[Tok]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, w) in toks.windows(3).enumerate() {
        if w[0].is_kw("primary") && w[1].is_kw("key") && w[2] == Tok::Sym('(') {
            for t in &toks[i + 3..] {
                match t {
                    Tok::Word { text, .. } => out.push(text.clone()),
                    Tok::Sym(',') => {}
                    _ => break,
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::PreferBigint::META);
    }
}
