use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
#[allow(unused_imports)]
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// A rule named in a `migsafe:ignore` directive that suppresses nothing: the rule reports
    /// nothing on the directive's statement, or no statement follows the directive.
    ///
    /// Each such rule is one finding, at the directive; the other rules of the same directive, if
    /// they suppress a finding, are fine.
    ///
    /// A rule turned off in migsafe.toml does not run, so a directive naming it is not flagged.
    /// This finding cannot itself be suppressed by a directive (that directive could only vouch
    /// for itself): set `unused-ignore` to `"off"` in migsafe.toml's `[rules]` to turn it off.
    ///
    /// ## Why it matters
    /// A directive tells the reader that a hazard on the statement was weighed. One that
    /// suppresses nothing sits above the wrong statement, names the wrong rule (`MS106`, an index
    /// rule, above a `DROP COLUMN`), or has outlived the hazard it excused: the reader believes
    /// something was weighed that was not, the finding it was meant for stays (or is elsewhere),
    /// and when a later edit brings that rule's finding to the statement, it is hidden without
    /// anyone deciding so.
    ///
    /// ## Instead
    /// Put the directive on the line before the statement the finding is about, or at the end of
    /// that statement's last line, and name the rule the finding shows (`[drop-column]`, MS002);
    /// remove directives whose finding is gone.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE accounts (id bigint PRIMARY KEY, plan text);
    /// -- example: next migration
    /// SET lock_timeout = '5s';
    /// -- migsafe:ignore MS106 plan was never written in production
    /// ALTER TABLE accounts DROP COLUMN plan;
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE accounts (id bigint PRIMARY KEY, plan text);
    /// -- example: next migration
    /// SET lock_timeout = '5s';
    /// ALTER TABLE accounts DROP COLUMN plan; -- migsafe:ignore drop-column,drop-table plan was never written
    /// -- migsafe:ignore drop-column left over from an earlier draft
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE accounts (id bigint PRIMARY KEY, plan text);
    /// -- example: next migration
    /// -- migsafe:ignore drop-column,missing-lock-timeout plan was never written; accounts has 12 rows
    /// ALTER TABLE accounts DROP COLUMN plan;
    /// ```
    UnusedIgnore {
        id: "MS904",
        name: "unused-ignore",
        severity: Warning,
        help: "name the rule of a finding on the directive's statement, move the directive to the statement the finding is about, or remove it",
    }
}

impl Rule for UnusedIgnore {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        // Checked by the engine, which knows which findings each directive suppressed.
        let _ = (cx, out);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::UnusedIgnore::META);
    }
}
