use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;
use crate::sql::tokens::Tok;

rule! {
    /// ## What it flags
    /// `ALTER TABLE … DISABLE TRIGGER` on a table that existed before this migration, unless the
    /// same transaction enables the table's triggers again.
    ///
    /// ## Why it matters
    /// A disabled trigger is disabled for every session, not just the migration's: audit rows,
    /// denormalised columns, and the work of any other trigger silently stop for all writers,
    /// including the application. `DISABLE TRIGGER ALL` also disables the internal triggers that
    /// enforce foreign keys, so rows that violate them can be written and are never checked again.
    /// Left disabled, nothing warns about it; re-enabled later, the rows written meanwhile stay as
    /// they are.
    ///
    /// ## Instead
    /// Disable the trigger and enable it again in the same transaction, around the statements
    /// that must not fire it: other sessions never see it disabled. Never disable it across
    /// migrations or outside a transaction.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, total numeric);
    /// -- example: next migration
    /// ALTER TABLE orders DISABLE TRIGGER orders_audit;
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, total numeric);
    /// -- example: next migration
    /// -- example: mode per_statement
    /// ALTER TABLE orders DISABLE TRIGGER ALL;
    /// UPDATE orders SET total = 0 WHERE total IS NULL;
    /// ALTER TABLE orders ENABLE TRIGGER ALL;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, total numeric);
    /// -- example: next migration
    /// ALTER TABLE orders DISABLE TRIGGER orders_audit;
    /// UPDATE orders SET total = 0 WHERE total IS NULL;
    /// ALTER TABLE orders ENABLE TRIGGER orders_audit;
    /// ```
    DisableTrigger {
        id: "MS209",
        name: "disable-trigger",
        severity: Warning,
        help: "disable and re-enable the trigger in the same transaction, around the statements that must not fire it",
    }
}

impl Rule for DisableTrigger {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        let units = super::commit_units(&cx.up().steps);
        super::walk_existing(cx, |step, e, _| {
            let Op::TriggerToggle {
                table,
                enable: false,
            } = &e.op
            else {
                return;
            };
            let reenabled = cx.ops().find(|(s, v)| {
                s.index > step.index
                    && matches!(&v.op, Op::TriggerToggle { table: t, enable: true } if super::key(t) == super::key(table))
            });
            let toks = super::tokens(cx.up(), step);
            let (which, it) = match trigger_name(super::action_tokens(step, e, &toks)) {
                Some(all) if all == "all" => (
                    format!(
                        "every trigger on {table}, the ones that enforce foreign keys included,"
                    ),
                    "them",
                ),
                Some(user) if user == "user" => (format!("every user trigger on {table}"), "them"),
                Some(name) => (format!("trigger {name} on {table}"), "it"),
                None => (format!("the triggers on {table}"), "them"),
            };
            let message = match reenabled {
                Some((s, _)) if step.in_transaction && units[s.index] == units[step.index] => {
                    return;
                }
                Some((s, _)) => format!(
                    "disables {which} and re-enables {it} only on line {}, in a separate transaction: writes of every other session skip {it} meanwhile",
                    s.start.line
                ),
                None => format!(
                    "disables {which} and does not re-enable {it}: every writer, the application included, bypasses {it} from now on"
                ),
            };
            out.push(Hit::at(step, message));
        });
    }
}

/// The trigger named by `DISABLE TRIGGER name | ALL | USER`.
fn trigger_name(toks: &[Tok]) -> Option<String> {
    let i = toks
        .windows(2)
        .position(|w| w[0].is_kw("disable") && w[1].is_kw("trigger"))?;
    super::name_at(toks, i + 2).map(|(n, _)| n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::DisableTrigger::META);
    }
}
