use crate::rules::{Context, Hit, Rule, RuleMeta, rule};

rule! {
    /// ## What it flags
    /// Columns created, added or changed to type `json` (not `jsonb`).
    ///
    /// ## Why it matters
    /// `json` stores the input text as written and parses it again on every access. It has no
    /// equality operator, so `SELECT DISTINCT`, `GROUP BY`, `UNION` and unique indexes fail on
    /// the column, and it supports neither GIN indexes nor the containment operators (`@>`, `?`).
    /// Switching to `jsonb` later rewrites the table under an `ACCESS EXCLUSIVE` lock.
    ///
    /// ## Instead
    /// Use `jsonb`. Keep `json` only where the exact input text must survive (key order,
    /// duplicate keys, whitespace), and suppress the finding there.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE events (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// ALTER TABLE events ADD COLUMN payload json;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE events (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// ALTER TABLE events ADD COLUMN payload jsonb;
    /// ```
    AddColumnJson {
        id: "MS221",
        name: "add-column-json",
        severity: Warning,
        help: "use jsonb, unless the exact input text (key order, duplicate keys) must be kept",
    }
}

impl Rule for AddColumnJson {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops() {
            for (table, column, ty, verb) in super::typed_columns(&e.op) {
                if ty.base == "json" {
                    out.push(Hit::at(
                        step,
                        format!(
                            "{}: json has no equality operator and no GIN index support, and is parsed again on every access",
                            super::column_phrase(verb, table, column, ty)
                        ),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::AddColumnJson::META);
    }
}
