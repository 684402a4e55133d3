use crate::classify::{ScriptAnalysis, Step};
use crate::rules::{Context, Hit, Rule, RuleMeta, Script, rule};
use crate::source::{ExecMode, Runner};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// Explicit `BEGIN`, `COMMIT` or `ROLLBACK` that does not match how the runner executes the
    /// script, in the up or the down script.
    ///
    /// That is:
    ///
    /// - `BEGIN` / `START TRANSACTION`, `COMMIT` or `ROLLBACK` in a script the runner already
    ///   wraps in a transaction (sqlx, diesel, goose and golang-migrate by default, Flyway for
    ///   transactional scripts …);
    /// - a `BEGIN` while an explicit transaction is already open;
    /// - a `BEGIN` with no `COMMIT` or `ROLLBACK` by the end of a script that runs statement by
    ///   statement or as one simple query.
    ///
    /// ## Why it matters
    /// Inside the runner's transaction, PostgreSQL ignores a nested `BEGIN` with only a warning,
    /// and the script's `COMMIT` then commits the runner's transaction early: the statements after
    /// it, and the runner's own bookkeeping, run outside any transaction, so a failure there
    /// leaves the migration half applied. A `ROLLBACK` discards what ran before it while the
    /// runner carries on and records the migration as applied. A `BEGIN` that is never committed
    /// keeps the transaction open until the session ends, and then everything after it is
    /// silently rolled back, possibly after the runner recorded success.
    ///
    /// ## Instead
    /// Let the runner manage the transaction and remove `BEGIN`/`COMMIT` from the script. Where
    /// the runner does not wrap scripts (sqitch, psql, goose `NO TRANSACTION`), pair every `BEGIN`
    /// with a `COMMIT` in the same script.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// BEGIN;
    /// ALTER TABLE orders ADD COLUMN note text;
    /// COMMIT;
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// -- example: mode per_statement
    /// BEGIN;
    /// ALTER TABLE orders ADD COLUMN note text;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// ALTER TABLE orders ADD COLUMN note text;
    /// ```
    ///
    /// A script that runs statement by statement (sqitch, psql) opens and commits its own
    /// transaction:
    ///
    /// ```sql
    /// -- example: runner sqitch
    /// -- example: mode per_statement
    /// CREATE TABLE orders (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// BEGIN;
    /// ALTER TABLE orders ADD COLUMN note text;
    /// COMMIT;
    /// ```
    TransactionNesting {
        id: "MS213",
        name: "transaction-nesting",
        severity: Error,
        help: "let the runner manage the transaction; where it does not wrap scripts, pair every BEGIN with a COMMIT",
    }
}

impl Rule for TransactionNesting {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        check_script(cx.up(), Script::Up, cx.runner, out);
        if let Some(down) = &cx.migration.down {
            check_script(down, Script::Down, cx.runner, out);
        }
    }
}

fn check_script(script: &ScriptAnalysis, which: Script, runner: Runner, out: &mut Vec<Hit>) {
    let wrapped = matches!(script.mode, ExecMode::WrappedTx | ExecMode::FlywayAuto);
    let mut hit = |step: &Step, message: String| {
        out.push(Hit {
            at_most: None,
            script: which,
            step: Some(step.index),
            range: None,
            message,
        })
    };
    let mut open: Option<&Step> = None;
    for step in &script.steps {
        for e in &step.effects {
            match &e.op {
                Op::Begin if wrapped => {
                    let end = script.steps[step.index + 1..]
                        .iter()
                        .find_map(|s| s.effects.iter().find_map(|x| ends(&x.op).map(|k| (s, k))));
                    let then = match end {
                        Some((s, "COMMIT")) => format!(
                            ", and the COMMIT on line {} commits {runner}'s transaction early: what runs after it is outside any transaction, and a failure there leaves the migration half applied",
                            s.start.line
                        ),
                        Some((s, _)) => format!(
                            ", and the ROLLBACK on line {} discards what ran before it while {runner} carries on and records the migration as applied",
                            s.start.line
                        ),
                        None => "; remove it".to_string(),
                    };
                    hit(
                        step,
                        format!(
                            "BEGIN inside the transaction {runner} already runs this migration in: PostgreSQL ignores it with a warning{then}"
                        ),
                    );
                    open = Some(step);
                }
                Op::Begin => match open {
                    Some(o) => hit(
                        step,
                        format!(
                            "BEGIN while the transaction opened on line {} is still open: PostgreSQL ignores it with a warning, and the first COMMIT ends both",
                            o.start.line
                        ),
                    ),
                    None => open = Some(step),
                },
                Op::Commit | Op::Rollback => {
                    if wrapped && open.is_none() {
                        let message = if matches!(e.op, Op::Commit) {
                            format!(
                                "COMMIT inside the transaction {runner} runs this migration in: it commits the migration early, so what runs after it is outside any transaction, and a failure there leaves the migration half applied"
                            )
                        } else {
                            format!(
                                "ROLLBACK inside the transaction {runner} runs this migration in: it discards what ran before it, while {runner} carries on and records the migration as applied"
                            )
                        };
                        hit(step, message);
                    }
                    open = None;
                }
                _ => {}
            }
        }
    }
    if !wrapped && let Some(o) = open {
        hit(
            o,
            "BEGIN without a COMMIT: the transaction is still open when the script ends, and everything after it is rolled back when the session closes, even if the runner records the migration as applied".to_string(),
        );
    }
}

/// `COMMIT` or `ROLLBACK`, as written in messages.
fn ends(op: &Op) -> Option<&'static str> {
    match op {
        Op::Commit => Some("COMMIT"),
        Op::Rollback => Some("ROLLBACK"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::TransactionNesting::META);
    }
}
