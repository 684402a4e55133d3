use crate::rules::{Context, Hit, Rule, RuleMeta, rule};

rule! {
    /// ## What it flags
    /// A migration that is already on the base branch of `--since` and whose up script was
    /// edited, renamed or deleted since.
    ///
    /// Statements are compared, not bytes: an edit is
    /// reported at each run of statements it changed, added or removed, and the findings of the
    /// SQL rules in such a migration are reported for the changed statements only (the others
    /// were there before).
    ///
    /// ## Why it matters
    /// Runners record the migrations a database has run and never run them again. An edit
    /// reaches new databases only; production and every developer database keep the old
    /// version, and the schemas drift apart. A deleted migration leaves its changes in the
    /// databases that ran it and out of new ones; a renamed one may run a second time under its
    /// new version. Runners that keep checksums stop outright: sqlx fails on a changed checksum
    /// or on an applied version that has no file, Flyway's validation fails, refinery aborts on a
    /// divergent or missing migration. diesel, golang-migrate, goose and dbmate keep no checksum
    /// and carry on without a word.
    ///
    /// Not flagged:
    ///
    /// - comments and layout: a reworded comment, a `-- migsafe:ignore` directive added,
    ///   re-indented SQL or keywords in another case change nothing a database runs (text in
    ///   quotes, and dollar-quoted strings other than function and `DO` bodies, must stay the
    ///   same);
    /// - a change to the down script alone: no runner checksums it, and a database runs it only
    ///   when rolling back, so editing it is how a broken down script gets fixed (the migration
    ///   still counts as changed, so its new down script is linted);
    /// - a rename that keeps the version, for runners that know migrations by version alone
    ///   (sqlx, diesel, golang-migrate, goose, dbmate); Flyway compares the description and
    ///   refinery's checksum covers the name, so there it is flagged;
    /// - Flyway repeatable migrations (`R__`), which exist to be edited;
    /// - `sqitch rework`, which keeps the deployed script as `deploy/<change>@<tag>.sql` and plans
    ///   the change again.
    ///
    /// ## Instead
    /// Restore the merged migration and write a new one that makes the change. A team that
    /// edits merged migrations on purpose (say, ones that never reach a shared database) can set
    /// the rule to `warning` in migsafe.toml and review each edit, or suppress one edit with
    /// `-- migsafe:ignore MS302 <reason>` before the edited statement.
    ///
    /// ## Bad
    /// ```text
    /// migrations/20240101000000_create_users.up.sql     on main, edited
    /// migrations/20240301000000_create_orders.up.sql    on main
    /// ```
    ///
    /// ```text
    /// migrations/20240101000000_create_users.up.sql     on main
    /// migrations/20240301000000_create_orders.up.sql    on main, deleted
    /// ```
    ///
    /// ## Good
    /// ```text
    /// migrations/20240101000000_create_users.up.sql     on main
    /// migrations/20240101000000_create_users.down.sql   on main, edited
    /// migrations/20240301000000_create_orders.up.sql    on main
    /// migrations/20240302000000_fix_orders.up.sql       added
    /// ```
    EditedAppliedMigration {
        id: "MS302",
        name: "edited-applied-migration",
        severity: Error,
        help: "leave migrations that are already merged as they are; make the change in a new migration",
    }
}

impl Rule for EditedAppliedMigration {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        // Decided by comparing with the base branch (crate::history), not from the SQL.
        let _ = (cx, out);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_history_rule(&super::EditedAppliedMigration::META);
    }
}
