use crate::rules::{Context, Hit, Rule, RuleMeta, rule};

rule! {
    /// ## What it flags
    /// Columns created, added or changed to `varchar(n)` or `char(n)`.
    ///
    /// That includes the spellings `character varying(n)` and `character(n)`, and `char` without
    /// a length, which is `char(1)`. `varchar` without a length is `text` and is not flagged.
    ///
    /// ## Why it matters
    /// In PostgreSQL `varchar(n)` is no faster or smaller than `text`: the limit is only a check,
    /// but one built into the type. Lowering it later means `ALTER COLUMN TYPE`, which scans the
    /// table under an `ACCESS EXCLUSIVE` lock and fails on the first longer value; any change of
    /// it is refused while a view uses the column. `char(n)` pads values with spaces to `n`
    /// characters, which leaks into lengths, concatenation, comparisons and the application.
    ///
    /// ## Instead
    /// Use `text`, with a `CHECK (length(col) <= n)` constraint where a limit matters: a check
    /// can be replaced with `NOT VALID` and validated without blocking writes.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE customers (id bigint PRIMARY KEY, name varchar(100), country char(2));
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE customers (
    ///     id bigint PRIMARY KEY,
    ///     name text CHECK (length(name) <= 100),
    ///     country text CHECK (length(country) = 2),
    ///     notes varchar
    /// );
    /// ```
    PreferText {
        id: "MS217",
        name: "prefer-text",
        severity: Warning,
        default_enabled: false,
        help: "use text, with a CHECK (length(col) <= n) constraint where the limit matters",
    }
}

impl Rule for PreferText {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops() {
            for (table, column, ty, verb) in super::typed_columns(&e.op) {
                let phrase = super::column_phrase(verb, table, column, ty);
                let message = match ty.base.as_str() {
                    "varchar" if !ty.mods.is_empty() => format!(
                        "{phrase}: the length limit is part of the type, so lowering it later scans the table under an ACCESS EXCLUSIVE lock; text with a CHECK constraint enforces the same limit and can change it online"
                    ),
                    "char" => format!(
                        "{phrase}: values are padded with spaces to the full length, which leaks into lengths, comparisons and the application; use text"
                    ),
                    _ => continue,
                };
                out.push(Hit::at(step, message));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::PreferText::META);
    }
}
