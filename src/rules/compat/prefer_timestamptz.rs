use crate::rules::{Context, Hit, Rule, RuleMeta, rule};

rule! {
    /// ## What it flags
    /// Columns created, added or changed to `timestamp` (`timestamp without time zone`).
    ///
    /// ## Why it matters
    /// `timestamp` stores a wall-clock reading with no time zone. What it means depends on the
    /// `TimeZone` setting of whoever wrote it: values written by servers, jobs or drivers in
    /// different zones are silently inconsistent, comparisons with `now()` are off by the UTC
    /// offset, and an hour around every daylight-saving change is ambiguous. Converting the column
    /// later rewrites the table and needs to know which zone every existing value was meant in.
    ///
    /// ## Instead
    /// Use `timestamptz` (`timestamp with time zone`): it stores an absolute instant, and converts
    /// to the session's zone only for display. Keep `timestamp` for genuinely zone-less values
    /// (a local opening time), and suppress the finding there.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, placed_at timestamp NOT NULL DEFAULT now());
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// ALTER TABLE orders ADD COLUMN shipped_at timestamp(3) without time zone;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, placed_at timestamptz NOT NULL DEFAULT now());
    /// ```
    PreferTimestamptz {
        id: "MS218",
        name: "prefer-timestamptz",
        severity: Warning,
        help: "use timestamptz, which stores an absolute instant",
    }
}

impl Rule for PreferTimestamptz {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops() {
            for (table, column, ty, verb) in super::typed_columns(&e.op) {
                if ty.base == "timestamp" {
                    out.push(Hit::at(
                        step,
                        format!(
                            "{} (without time zone): what its values mean depends on the TimeZone setting of whoever wrote them",
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
        crate::rules::testing::check_rule(&super::PreferTimestamptz::META);
    }
}
