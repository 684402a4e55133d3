use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
#[allow(unused_imports)]
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// A `-- migsafe:ignore` directive that names no known rule, or gives no reason.
    ///
    /// ## Why it matters
    /// A suppression hides a hazard from review. A typo in the rule ID would hide nothing and leave
    /// the reader believing the hazard was considered; a missing reason leaves the next reader unable
    /// to judge whether it still holds.
    ///
    /// ## Instead
    /// Write `-- migsafe:ignore <RULE-ID or name> <reason>` on the line before the statement; the
    /// reason appears in the JSON output.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE t (id bigint PRIMARY KEY);
    /// -- migsafe:ignore drop-tabel the table is empty
    /// DROP TABLE t;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE t (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// -- migsafe:ignore drop-table created by mistake in the previous release, never written to
    /// DROP TABLE t;
    /// ```
    InvalidIgnore {
        id: "MS903",
        name: "invalid-ignore",
        severity: Error,
        help: "write `-- migsafe:ignore <RULE-ID or name> <reason>` on the line before the statement",
    }
}

impl Rule for InvalidIgnore {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        // Checked by the engine, which sees every directive, including those in down scripts.
        let _ = (cx, out);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::InvalidIgnore::META);
    }
}
