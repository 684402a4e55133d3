use crate::classify::Step;
use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;
use crate::sql::tokens::Tok;

use super::has_seq;

rule! {
    /// ## What it flags
    /// Statements without `IF [NOT] EXISTS` or `OR REPLACE`, in a script that does not run as one
    /// transaction, when statements that commit separately follow them.
    ///
    /// A script does not run as one transaction when it runs statement by statement or is split
    /// by explicit `COMMIT`s. The statements flagged are:
    ///
    /// - `CREATE TABLE`, `CREATE INDEX`, `CREATE SCHEMA | EXTENSION | SEQUENCE | MATERIALIZED VIEW`
    ///   without `IF NOT EXISTS`, `CREATE VIEW | FUNCTION | PROCEDURE` without `OR REPLACE`;
    /// - `ALTER TABLE … ADD COLUMN` without `IF NOT EXISTS`;
    /// - `DROP TABLE | INDEX | VIEW | TYPE | …`, `ALTER TABLE … DROP COLUMN | CONSTRAINT` without
    ///   `IF EXISTS`.
    ///
    /// `CREATE INDEX CONCURRENTLY` is left to MS108 concurrent-index-not-idempotent. Statements
    /// PostgreSQL gives no `IF [NOT] EXISTS` form (`ADD CONSTRAINT`, `CREATE TYPE`, `RENAME`) are
    /// not flagged.
    ///
    /// ## Why it matters
    /// When a later statement fails, what ran before it stays committed, but the runner records
    /// the migration as failed (or not at all) and runs the whole script again after the fix. The
    /// retry then stops at the first statement that already took effect: the table already
    /// exists, the column is already gone. Someone has to repair the database by hand, under
    /// time pressure, in production.
    ///
    /// ## Instead
    /// Make every statement of a non-transactional script idempotent with `IF NOT EXISTS`,
    /// `IF EXISTS` or `OR REPLACE`, or run the script in a transaction if nothing in it needs to
    /// run outside one.
    ///
    /// ## Bad
    /// ```sql
    /// -- example: mode per_statement
    /// CREATE TABLE orders (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// CREATE TABLE order_notes (id bigint PRIMARY KEY, order_id bigint);
    /// ALTER TABLE orders ADD COLUMN note_count int;
    /// DROP INDEX orders_legacy_idx;
    /// CREATE INDEX CONCURRENTLY IF NOT EXISTS order_notes_order_id_idx ON order_notes (order_id);
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// -- example: mode per_statement
    /// CREATE TABLE orders (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// CREATE TABLE IF NOT EXISTS order_notes (id bigint PRIMARY KEY, order_id bigint);
    /// ALTER TABLE orders ADD COLUMN IF NOT EXISTS note_count int;
    /// DROP INDEX IF EXISTS orders_legacy_idx;
    /// CREATE INDEX CONCURRENTLY IF NOT EXISTS order_notes_order_id_idx ON order_notes (order_id);
    /// ```
    ///
    /// A script that runs in one transaction rolls back as a whole:
    ///
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// CREATE TABLE order_notes (id bigint PRIMARY KEY, order_id bigint);
    /// ALTER TABLE orders ADD COLUMN note_count int;
    /// ```
    PreferRobustStatements {
        id: "MS215",
        name: "prefer-robust-statements",
        severity: Warning,
        default_enabled: false,
        help: "make the statement re-runnable with IF NOT EXISTS, IF EXISTS or OR REPLACE, or run the script in one transaction",
    }
}

impl Rule for PreferRobustStatements {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        let steps = &cx.up().steps;
        let units = super::commit_units(steps);
        // The last unit that can fail: statements committed before it are at risk.
        let Some(last) = steps
            .iter()
            .rev()
            .find(|s| s.effects.iter().any(|e| can_fail(&e.op)))
            .map(|s| units[s.index])
        else {
            return;
        };
        for (step, e) in cx.ops() {
            if units[step.index] >= last {
                continue;
            }
            if let Some(problem) = problem(step, &e.op, &super::tokens(cx.up(), step), e) {
                let retry = if matches!(e.op, Op::CreateIndex { name: None, .. }) {
                    "builds a second, identical index"
                } else {
                    "fails here"
                };
                out.push(Hit::at(
                    step,
                    format!(
                        "{problem}: the script does not run as one transaction, so when a later statement fails this one stays applied and the retry {retry}"
                    ),
                ));
            }
        }
    }
}

/// Whether a statement can fail at run time (session and transaction control cannot, much).
fn can_fail(op: &Op) -> bool {
    !matches!(
        op,
        Op::SetVar { .. } | Op::Begin | Op::Commit | Op::Rollback | Op::Savepoint
    )
}

/// What makes the operation fail when run again, if anything.
fn problem(step: &Step, op: &Op, toks: &[Tok], e: &crate::classify::OpEffect) -> Option<String> {
    let action = super::action_tokens(step, e, toks);
    let exists = || has_seq(toks, &["if", "exists"]);
    let not_exists = || has_seq(toks, &["if", "not", "exists"]);
    Some(match op {
        Op::CreateTable {
            table,
            if_not_exists: false,
            ..
        } => format!("CREATE TABLE {table} has no IF NOT EXISTS"),
        Op::CreateIndex {
            concurrently: false,
            if_not_exists: false,
            name,
            table,
            ..
        } => match name {
            Some(name) => format!("CREATE INDEX {name} has no IF NOT EXISTS"),
            None => format!("CREATE INDEX on {table} has no name (IF NOT EXISTS needs one)"),
        },
        Op::CreateOther { kind, name }
            if matches!(kind.as_str(), "schema" | "extension" | "sequence") && !not_exists() =>
        {
            format!("CREATE {} {name} has no IF NOT EXISTS", kind.to_uppercase())
        }
        Op::CreateView {
            name,
            materialized: true,
        } if !not_exists() => format!("CREATE MATERIALIZED VIEW {name} has no IF NOT EXISTS"),
        Op::CreateView {
            name,
            materialized: false,
        } if !has_seq(toks, &["or", "replace"]) => {
            format!("CREATE VIEW {name} has no OR REPLACE")
        }
        Op::CreateFunction { name, kind, .. } if !has_seq(toks, &["or", "replace"]) => {
            format!("CREATE {} {name} has no OR REPLACE", kind.to_uppercase())
        }
        Op::AddColumn { table, column }
            if !has_seq(action, &["add", "column", "if", "not", "exists"])
                && !has_seq(action, &["add", "if", "not", "exists"]) =>
        {
            format!("ADD COLUMN {table}.{} has no IF NOT EXISTS", column.name)
        }
        Op::DropColumn { table, column, .. }
            if !has_seq(action, &["drop", "column", "if", "exists"])
                && !has_seq(action, &["drop", "if", "exists"]) =>
        {
            format!("DROP COLUMN {table}.{column} has no IF EXISTS")
        }
        Op::DropConstraint { table, name, .. }
            if !has_seq(action, &["drop", "constraint", "if", "exists"]) =>
        {
            format!("DROP CONSTRAINT {name} of {table} has no IF EXISTS")
        }
        Op::DropIndex {
            names,
            if_exists: false,
            ..
        } => format!("DROP INDEX {} has no IF EXISTS", names.join(", ")),
        Op::DropTable { tables: names, .. } if !exists() => {
            format!("DROP TABLE {} has no IF EXISTS", names.join(", "))
        }
        Op::DropSequence { names } if !exists() => {
            format!("DROP SEQUENCE {} has no IF EXISTS", names.join(", "))
        }
        Op::DropSchema { names, .. } if !exists() => {
            format!("DROP SCHEMA {} has no IF EXISTS", names.join(", "))
        }
        Op::DropObject { kind, names, .. } if !exists() => format!(
            "DROP {} {} has no IF EXISTS",
            kind.to_uppercase(),
            names.join(", ")
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::PreferRobustStatements::META);
    }
}
