use crate::classify::LockLevel;
use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// The first statement of a migration that can run for a long time while holding a lock that
    /// blocks others (a scan or rewrite under `SHARE` or stronger, or an `UPDATE`/`DELETE` of a table
    /// that existed before the migration), when no `SET statement_timeout` precedes it in the script.
    ///
    /// One finding per migration. Off by default: enable it in `migsafe.toml`.
    ///
    /// ## Why it matters
    /// How long such a statement runs depends on the size of the production table, which a review
    /// cannot see. Without a timeout, a step that was instant in staging can hold its locks for an
    /// hour in production, and the only way out is to find and cancel the backend by hand.
    ///
    /// ## Instead
    /// Set `statement_timeout` (`SET LOCAL` in a migration the runner wraps in a transaction) to the
    /// longest outage you accept, so that the migration fails and rolls back instead. Better still, make
    /// the step one that does not block (see the other locking rules).
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE users (id bigint PRIMARY KEY, email text);
    /// -- example: next migration
    /// ALTER TABLE users ALTER COLUMN email SET NOT NULL;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE users (id bigint PRIMARY KEY, email text);
    /// -- example: next migration
    /// SET LOCAL statement_timeout = '30s';
    /// ALTER TABLE users ALTER COLUMN email SET NOT NULL;
    /// ```
    MissingStatementTimeout {
        id: "MS126",
        name: "missing-statement-timeout",
        severity: Warning,
        default_enabled: false,
        help: "SET statement_timeout before long statements, so that a runaway step fails instead of holding its locks indefinitely",
    }
}

impl Rule for MissingStatementTimeout {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops() {
            if step.statement_timeout {
                continue;
            }
            let message = match &e.op {
                Op::Update { table, .. } | Op::Delete { table, .. } if !e.new_table => format!(
                    "{} rows of {table} while holding their row locks, with no statement_timeout set to bound how long it runs",
                    if matches!(e.op, Op::Update { .. }) {
                        "updates"
                    } else {
                        "deletes"
                    }
                ),
                _ if (e.effect.scan || e.effect.rewrite)
                    && e.effect.lock >= LockLevel::Share
                    && !super::fresh(cx, step, e) =>
                {
                    format!(
                        "{} {} while holding {}, with no statement_timeout set to bound how long it runs",
                        if e.effect.rewrite {
                            "rewrites"
                        } else {
                            "scans"
                        },
                        super::target(&e.op),
                        super::lock_name(e.effect.lock)
                    )
                }
                _ => continue,
            };
            out.push(Hit::at(step, message));
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::MissingStatementTimeout::META);
    }
}
