use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `CREATE TRIGGER` on a table that existed before this migration.
    ///
    /// ## Why it matters
    /// The trigger fires for every writer from the moment the migration commits: the
    /// application version still running during the rollout, batch jobs and other services all
    /// get its side effects and its cost on each write, without having been changed or tested
    /// with it. A failing trigger function makes their writes fail. Creating it takes a
    /// `SHARE ROW EXCLUSIVE` lock, which blocks writes while it waits.
    ///
    /// ## Instead
    /// Review what the trigger does to every writer of the table, keep its function cheap and
    /// unable to fail on the existing data, and test it against the running version of the
    /// application. Prefer doing the work in the application where only the new version needs it.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, total numeric);
    /// -- example: next migration
    /// CREATE TRIGGER orders_audit AFTER UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION audit_row();
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, total numeric);
    /// CREATE TRIGGER orders_audit AFTER UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION audit_row();
    /// ```
    CreateTrigger {
        id: "MS222",
        name: "create-trigger",
        severity: Warning,
        default_enabled: false,
        help: "check what the trigger does to every writer of the table, the running application version included, before adding it",
    }
}

impl Rule for CreateTrigger {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        super::walk_existing(cx, |step, e, _| {
            let Op::CreateTrigger { table, .. } = &e.op else {
                return;
            };
            let toks = super::tokens(cx.up(), step);
            let name = toks
                .iter()
                .position(|t| t.is_kw("trigger"))
                .and_then(|i| super::name_at(&toks, i + 1))
                .map(|(n, _)| format!(" {n}"))
                .unwrap_or_default();
            out.push(Hit::at(
                step,
                format!(
                    "creates trigger{name} on {table}: it fires for every writer as soon as the migration commits, the application version still running included"
                ),
            ));
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::CreateTrigger::META);
    }
}
