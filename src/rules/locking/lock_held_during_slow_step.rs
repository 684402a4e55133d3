use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// In one transaction, a step that scans or rewrites a table (a validated constraint, an index
    /// build, `SET NOT NULL`, a type change …) or updates or deletes rows of an existing table, after an
    /// earlier step of the same transaction took `ACCESS EXCLUSIVE` on a table that existed before the
    /// migration.
    ///
    /// One finding per transaction.
    ///
    /// ## Why it matters
    /// Locks are released only at commit. Once a brief `ALTER TABLE` has taken `ACCESS EXCLUSIVE`, every
    /// later step of the transaction runs with that table fully blocked: a backfill or an index build
    /// that would have been harmless on its own turns the instant `ALTER TABLE` into an outage as long as
    /// the slow step. Runners that wrap each migration in a transaction make this the default.
    ///
    /// ## Instead
    /// Move the slow step into a migration (or, in a script run statement by statement, a transaction)
    /// of its own, or order the steps so that the `ACCESS EXCLUSIVE` one comes last. Backfills belong
    /// outside schema migrations, in batches.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE accounts (id bigint PRIMARY KEY, plan text);
    /// -- example: next migration
    /// ALTER TABLE accounts ADD COLUMN plan_code text;
    /// UPDATE accounts SET plan_code = upper(plan) WHERE plan IS NOT NULL;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE accounts (id bigint PRIMARY KEY, plan text);
    /// -- example: next migration
    /// ALTER TABLE accounts ADD COLUMN plan_code text;
    /// -- example: next migration
    /// UPDATE accounts SET plan_code = upper(plan) WHERE plan IS NOT NULL;
    /// ```
    ///
    /// Run statement by statement, the `ALTER TABLE` commits before the backfill starts:
    ///
    /// ```sql
    /// CREATE TABLE accounts (id bigint PRIMARY KEY, plan text);
    /// -- example: next migration
    /// -- example: mode per_statement
    /// ALTER TABLE accounts ADD COLUMN plan_code text;
    /// UPDATE accounts SET plan_code = upper(plan) WHERE plan IS NOT NULL;
    /// ```
    LockHeldDuringSlowStep {
        id: "MS127",
        name: "lock-held-during-slow-step",
        severity: Warning,
        help: "take the ACCESS EXCLUSIVE step last, or move the slow step to a migration (or transaction) of its own",
    }
}

impl Rule for LockHeldDuringSlowStep {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        let tx = super::transactions(cx);
        // ACCESS EXCLUSIVE locks taken so far: (transaction, table, step).
        let mut held: Vec<(usize, String, &crate::classify::Step)> = Vec::new();
        // Constraints added NOT VALID: (transaction, table, name); validating them is MS111's case.
        let mut not_valid: Vec<(usize, String, &str)> = Vec::new();
        let mut reported: Vec<usize> = Vec::new();
        for step in &cx.up().steps {
            let Some(t) = tx[step.index] else {
                continue;
            };
            if !reported.contains(&t)
                && let Some((slow, own)) = slow_step(cx, step, t, &not_valid)
                && let Some((_, table, at)) = held
                    .iter()
                    .find(|(ht, table, _)| *ht == t && !own.contains(table))
            {
                out.push(Hit::at(
                    step,
                    format!(
                        "{slow} while the ACCESS EXCLUSIVE lock taken on {table} ({}) is still held: every query on {table} waits until this transaction commits",
                        super::line(at)
                    ),
                ));
                reported.push(t);
            }
            for e in &step.effects {
                if let Op::AddConstraint {
                    table,
                    name: Some(name),
                    not_valid: true,
                    ..
                } = &e.op
                {
                    not_valid.push((t, super::key(table).to_string(), name));
                }
                for table in exclusive_tables(cx, step, e) {
                    if !held.iter().any(|(ht, tb, _)| *ht == t && *tb == table) {
                        held.push((t, table, step));
                    }
                }
            }
        }
    }
}

/// What makes `step` slow, and the tables it locks ACCESS EXCLUSIVE itself (holding that lock
/// longer changes nothing for them).
fn slow_step(
    cx: &Context<'_>,
    step: &crate::classify::Step,
    t: usize,
    not_valid: &[(usize, String, &str)],
) -> Option<(String, Vec<String>)> {
    let mut slow = None;
    let mut own = Vec::new();
    for e in &step.effects {
        own.extend(exclusive_tables(cx, step, e));
        if slow.is_some() {
            continue;
        }
        slow = match &e.op {
            Op::Update { table, .. } if !e.new_table => Some(format!("updates rows of {table}")),
            Op::Delete { table, .. } if !e.new_table => Some(format!("deletes rows of {table}")),
            Op::ValidateConstraint { table, name }
                if not_valid
                    .iter()
                    .any(|(at, tb, n)| *at == t && tb == super::key(table) && n == name) =>
            {
                None
            }
            _ if (e.effect.scan || e.effect.rewrite) && !super::fresh(cx, step, e) => {
                Some(format!(
                    "{} {}",
                    if e.effect.rewrite {
                        "rewrites"
                    } else {
                        "scans"
                    },
                    super::target(&e.op)
                ))
            }
            _ => None,
        };
    }
    slow.map(|s| (s, own))
}

/// The pre-existing tables (or materialized views, indexes) an operation locks ACCESS EXCLUSIVE.
fn exclusive_tables(
    cx: &Context<'_>,
    step: &crate::classify::Step,
    e: &crate::classify::OpEffect,
) -> Vec<String> {
    if e.effect.lock != crate::classify::LockLevel::AccessExclusive
        || super::fresh(cx, step, e)
        || matches!(
            e.op,
            Op::CreateTable { .. } | Op::CreateTableAs { .. } | Op::Unmodeled { .. }
        )
    {
        return vec![];
    }
    match &e.op {
        Op::Reindex { target, .. } => vec![super::key(target).to_string()],
        Op::RefreshMatView { name, .. } => vec![super::key(name).to_string()],
        op => op
            .tables()
            .into_iter()
            .map(|t| super::key(t).to_string())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::LockHeldDuringSlowStep::META);
    }
}
