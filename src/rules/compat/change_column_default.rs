use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER TABLE … ALTER COLUMN … SET DEFAULT` or `DROP DEFAULT` on a column that existed
    /// before this migration.
    ///
    /// ## Why it matters
    /// The default decides what inserts that omit the column store. The application version
    /// still running during the rollout keeps omitting it and silently gets the new value (or
    /// NULL); after `DROP DEFAULT` on a `NOT NULL` column its inserts fail. ORMs that cache
    /// defaults or insert every column (Rails' partial inserts turned off) disagree with the
    /// database until they are redeployed. Rows written under the new default cannot be told apart
    /// later.
    ///
    /// ## Instead
    /// Make every deployed version set the column explicitly before changing its default, then
    /// change the default in a later release.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE accounts (id bigint PRIMARY KEY, plan text NOT NULL DEFAULT 'free');
    /// -- example: next migration
    /// ALTER TABLE accounts ALTER COLUMN plan SET DEFAULT 'trial';
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE accounts (id bigint PRIMARY KEY, plan text NOT NULL DEFAULT 'free');
    /// -- example: next migration
    /// ALTER TABLE accounts ALTER COLUMN plan DROP DEFAULT;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE accounts (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// ALTER TABLE accounts ADD COLUMN plan text;
    /// ALTER TABLE accounts ALTER COLUMN plan SET DEFAULT 'trial';
    /// ```
    ChangeColumnDefault {
        id: "MS208",
        name: "change-column-default",
        severity: Warning,
        default_enabled: false,
        help: "make every deployed version write the column explicitly, then change its default in a later release",
    }
}

impl Rule for ChangeColumnDefault {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        super::walk_existing(cx, |step, e, fresh| {
            let message = match &e.op {
                Op::SetDefault { table, column } if !fresh.column(table, column) => format!(
                    "changes the default of {table}.{column}: inserts of the application version still running that omit the column silently store the new value"
                ),
                Op::DropDefault { table, column } if !fresh.column(table, column) => format!(
                    "drops the default of {table}.{column}: inserts of the application version still running that omit the column store NULL, or fail if it is NOT NULL"
                ),
                _ => return,
            };
            out.push(Hit::at(step, message));
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::ChangeColumnDefault::META);
    }
}
