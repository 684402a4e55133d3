use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
#[allow(unused_imports)]
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `TRUNCATE`, with or without `CASCADE`, of a table that existed before this migration.
    ///
    /// ## Why it matters
    /// All rows are gone and no down script brings them back. `TRUNCATE` also takes an `ACCESS
    /// EXCLUSIVE` lock, and with `CASCADE` it empties every table that references the target, which
    /// the statement does not even name. No other migration linter flags a plain `TRUNCATE`.
    ///
    /// ## Instead
    /// Delete only the rows you mean, in batches, after taking a snapshot of them; or keep the data
    /// and stop using it.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE sessions (id uuid PRIMARY KEY);
    /// -- example: next migration
    /// TRUNCATE sessions CASCADE;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE staging_import (line text);
    /// INSERT INTO staging_import VALUES ('header');
    /// TRUNCATE staging_import;
    /// ```
    TruncateTable {
        id: "MS005",
        name: "truncate-table",
        severity: Error,
        help: "delete only the rows you mean, in batches with a WHERE clause, after taking a snapshot of them",
    }
}

impl Rule for TruncateTable {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops_on_existing() {
            if let Op::Truncate { tables, cascade } = &e.op {
                let also = if *cascade {
                    ", and with CASCADE every table that references them"
                } else {
                    ""
                };
                out.push(Hit::at(
                    step,
                    format!("removes every row of {}{also}", tables.join(", ")),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::TruncateTable::META);
    }
}
