use crate::rules::{Context, Hit, Rule, RuleMeta, rule};

rule! {
    /// ## What it flags
    /// A migration added since the base of `--since` that sorts, in the runner's order, before
    /// the newest migration already on the base branch: at the merge-base, or on `REV` itself
    /// when it gained migrations after this branch was cut (the race between pull requests,
    /// caught also where CI does not check out the merge result).
    ///
    /// ## Why it matters
    /// Two branches each added a migration and the one merged second carries the older version.
    /// Databases that already ran the newer migration meet an older one they have not run:
    ///
    /// - golang-migrate only runs versions above the database's current version, so it never
    ///   runs the new migration there, and says nothing;
    /// - goose refuses to migrate (a missing migration) unless run with `-allow-missing`;
    /// - Flyway reports it as ignored and does not apply it unless `outOfOrder=true`;
    /// - refinery aborts on it (`abort_missing`), unless it is a `U` migration;
    /// - sqitch deploys only the changes planned after the last deployed one, so it skips it;
    /// - sqlx, diesel and dbmate apply it, but after the newer migration: existing databases and
    ///   new ones are then built in different orders, which breaks as soon as the two migrations
    ///   touch the same objects.
    ///
    /// Flyway repeatable migrations (`R__`) and refinery `U` migrations may run in any order and
    /// are not flagged. Only `--since` runs this check: it compares with the base branch, not
    /// with a database. Order is the runner's own: diesel compares versions as strings, dbmate
    /// file names, sqitch its plan (not compared across branches), the others numbers.
    ///
    /// ## Instead
    /// Give the new migration a version after every migration on the base branch: rebase, then
    /// rename it with a fresh timestamp or number (the runner's own `add`/`create` command makes
    /// one). With sqitch, move its line to the end of `sqitch.plan`.
    ///
    /// ## Bad
    /// ```text
    /// migrations/20240101000000_create_users.up.sql     on main
    /// migrations/20240301000000_create_orders.up.sql    on main
    /// migrations/20240201000000_add_email.up.sql        added
    /// ```
    ///
    /// ## Good
    /// ```text
    /// migrations/20240101000000_create_users.up.sql     on main
    /// migrations/20240301000000_create_orders.up.sql    on main
    /// migrations/20240302000000_add_email.up.sql        added
    /// ```
    OutOfOrderMigration {
        id: "MS301",
        name: "out-of-order-migration",
        severity: Error,
        help: "rename the new migration so that its version sorts after every migration on the base branch",
    }
}

impl Rule for OutOfOrderMigration {
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
        crate::rules::testing::check_history_rule(&super::OutOfOrderMigration::META);
    }
}
