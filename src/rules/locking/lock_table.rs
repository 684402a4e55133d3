use crate::classify::LockLevel;
use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `LOCK TABLE` in `SHARE` mode or stronger (the default is `ACCESS EXCLUSIVE`) on a table that
    /// existed before this migration.
    ///
    /// ## Why it matters
    /// An explicit lock is held until the transaction commits, that is for the whole rest of the
    /// migration, however long its other steps take. `ACCESS EXCLUSIVE` blocks every read and write;
    /// `SHARE` to `EXCLUSIVE` block every write. And like any strong lock it first queues behind
    /// running queries, blocking everything that arrives after it.
    ///
    /// ## Instead
    /// Leave locking to the statements themselves, each of which takes the weakest lock it needs, and
    /// set `lock_timeout` so that none of them queues for long. If an explicit lock is really needed
    /// (to serialise a data fix), keep the transaction short and set `lock_timeout` first.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE accounts (id bigint PRIMARY KEY, balance_cents bigint);
    /// -- example: next migration
    /// LOCK TABLE accounts;
    /// UPDATE accounts SET balance_cents = 0 WHERE balance_cents < 0;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE accounts (id bigint PRIMARY KEY, balance_cents bigint);
    /// -- example: next migration
    /// LOCK TABLE accounts IN ROW EXCLUSIVE MODE;
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE accounts (id bigint PRIMARY KEY, balance_cents bigint);
    /// LOCK TABLE accounts;
    /// ```
    LockTable {
        id: "MS119",
        name: "lock-table",
        severity: Error,
        help: "drop the explicit LOCK: let each statement take the lock it needs, under a short lock_timeout",
    }
}

impl Rule for LockTable {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops_on_existing() {
            if let Op::LockTable { tables, mode } = &e.op
                && e.effect.lock >= LockLevel::Share
            {
                let blocked = if e.effect.lock == LockLevel::AccessExclusive {
                    "all reads and writes"
                } else {
                    "all writes"
                };
                let tables = tables.join(", ");
                out.push(Hit::at(
                    step,
                    format!(
                        "locks {tables} in {mode} mode until the transaction ends: {blocked} on {tables} wait for as long as the rest of the migration runs"
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::LockTable::META);
    }
}
