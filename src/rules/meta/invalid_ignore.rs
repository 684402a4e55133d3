use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
#[allow(unused_imports)]
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// A `migsafe:ignore` directive that cannot be read: it names no rule or an unknown one, gives
    /// no reason, or misspells `migsafe:ignore`.
    ///
    /// In detail: no rule; a word that looks like a rule ID but is none (`MS999`), or a misspelt
    /// name after a comma (`MS002,drop-colunm`); no reason after the rules; MS903 or MS904 named
    /// (no directive can suppress those); a near-miss spelling (`migsafe:ignroe`,
    /// `migsafe ignore`, `migsafe-ignore`). A malformed directive suppresses nothing, not even the
    /// rules it names correctly. Every comment whose text starts with `migsafe`, a colon (blanks
    /// allowed around it) and a word is taken as a directive, in any case, in a `--` or a
    /// `/* … */` comment; text in strings and dollar-quoted bodies is not.
    ///
    /// ## Why it matters
    /// A suppression hides a hazard from review. A typo in the rule ID would hide nothing and leave
    /// the reader believing the hazard was considered; a missing reason leaves the next reader unable
    /// to judge whether it still holds.
    ///
    /// ## Instead
    /// Write `-- migsafe:ignore <rule IDs or names> <reason>` on the line before the statement,
    /// or at the end of the statement's last line. Several rules are separated by commas or blanks
    /// (`MS002,MS125`); every leading word that names a rule is one, the rest is the reason, which
    /// appears in the JSON output.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE t (id bigint PRIMARY KEY);
    /// -- migsafe:ignore drop-tabel the table is empty
    /// DROP TABLE t;
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE t (id bigint PRIMARY KEY, note text);
    /// -- example: next migration
    /// ALTER TABLE t DROP COLUMN note; -- migsafe:ignore MS002,MS999 never written
    /// /* migsafe:ignore drop-table */
    /// DROP TABLE t;
    /// -- migsafe ignore MS001 created by mistake
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE t (id bigint PRIMARY KEY, note text);
    /// -- example: next migration
    /// SET lock_timeout = '5s';
    /// ALTER TABLE t DROP COLUMN note; -- MIGSAFE:IGNORE MS002 never written
    /// /* migsafe: ignore drop-table
    ///    created by mistake in the previous release, never written to */
    /// DROP TABLE t;
    /// ```
    InvalidIgnore {
        id: "MS903",
        name: "invalid-ignore",
        severity: Error,
        help: "write `-- migsafe:ignore <rule IDs or names> <reason>` on the line before the statement or at the end of its last line",
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
