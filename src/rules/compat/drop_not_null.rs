use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER TABLE … ALTER COLUMN … DROP NOT NULL` on a column that existed before this
    /// migration.
    ///
    /// ## Why it matters
    /// Code written against the column assumes it is never NULL: the application version still
    /// running, reports, other services and non-nullable fields in ORM models. Once the new
    /// version writes NULLs, their reads break. The change is also hard to roll back: the down
    /// script's `SET NOT NULL` fails as soon as one NULL has been written, and scans the whole
    /// table under an `ACCESS EXCLUSIVE` lock when it does not.
    ///
    /// ## Instead
    /// Ship readers that cope with NULL first (every deployed version), then drop the constraint
    /// in a later release. Write the down script to backfill NULLs before `SET NOT NULL`, or keep
    /// the column non-null and write a sentinel value instead.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE invoices (id bigint PRIMARY KEY, due_on date NOT NULL);
    /// -- example: next migration
    /// ALTER TABLE invoices ALTER COLUMN due_on DROP NOT NULL;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE invoices (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// ALTER TABLE invoices ADD COLUMN due_on date NOT NULL DEFAULT '2000-01-01';
    /// ALTER TABLE invoices ALTER COLUMN due_on DROP NOT NULL;
    /// ```
    DropNotNull {
        id: "MS205",
        name: "drop-not-null",
        severity: Warning,
        help: "release readers that handle NULL first; make the down script backfill NULLs before SET NOT NULL",
    }
}

impl Rule for DropNotNull {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        super::walk_existing(cx, |step, e, fresh| {
            if let Op::DropNotNull { table, column } = &e.op
                && !fresh.column(table, column)
            {
                out.push(Hit::at(
                    step,
                    format!(
                        "drops NOT NULL from {table}.{column}: code that assumes it is never NULL, including the version still running, breaks on the first NULL, and a down script's SET NOT NULL then fails"
                    ),
                ));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::DropNotNull::META);
    }
}
