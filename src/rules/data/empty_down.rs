use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
#[allow(unused_imports)]
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// A down script with no statements (empty, or only comments and transaction control).
    ///
    /// ## Why it matters
    /// The runner will happily "roll back" the migration, record success and change nothing: the
    /// schema stays at the new version while the runner believes it is at the old one.
    ///
    /// ## Instead
    /// Write the statements that undo the up script. If the migration truly cannot be undone, make the
    /// down script fail loudly (`DO $$ BEGIN RAISE EXCEPTION 'irreversible'; END $$;`).
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE tags (id bigint PRIMARY KEY);
    /// -- example: down
    /// -- nothing to do
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE tags (id bigint PRIMARY KEY);
    /// -- example: down
    /// DROP TABLE tags;
    /// ```
    EmptyDown {
        id: "MS013",
        name: "empty-down",
        severity: Warning,
        help: "write the statements that undo the up script, or make the down fail loudly if it cannot be undone",
    }
}

impl Rule for EmptyDown {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        let Some(down) = &cx.migration.down else {
            return;
        };
        let meaningful = down.steps.iter().any(|s| {
            !s.effects
                .iter()
                .all(|e| matches!(e.op, Op::Begin | Op::Commit | Op::SetVar { .. }))
        });
        if !meaningful {
            let range = down
                .steps
                .first()
                .map_or(down.range.start..down.range.start, |s| {
                    s.statement.range.clone()
                });
            out.push(Hit {
                at_most: None,
                script: crate::rules::Script::Down,
                step: None,
                range: Some(range),
                message: "the down script has no statements: rolling back would record success and change nothing".into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::EmptyDown::META);
    }
}
