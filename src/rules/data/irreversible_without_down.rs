use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
#[allow(unused_imports)]
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// An irreversible migration (one that destroys data) without a down script, when its runner
    /// supports down scripts (diesel, sqlx, golang-migrate, goose, dbmate, Flyway undo, sqitch).
    ///
    /// ## Why it matters
    /// This is the migration a rollback needs most: without a down script there is no way back for
    /// the schema either, and `migsafe verify` has nothing to prove.
    ///
    /// ## Instead
    /// Write the down script that restores the schema; migsafe restores the destroyed data from the
    /// step's snapshot on rollback.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE accounts (id bigint PRIMARY KEY, legacy_plan text);
    /// -- example: next migration
    /// ALTER TABLE accounts DROP COLUMN legacy_plan;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE accounts (id bigint PRIMARY KEY, legacy_plan text);
    /// -- example: next migration
    /// ALTER TABLE accounts DROP COLUMN legacy_plan;
    /// -- example: down
    /// ALTER TABLE accounts ADD COLUMN legacy_plan text;
    /// ```
    IrreversibleWithoutDown {
        id: "MS012",
        name: "irreversible-without-down",
        severity: Error,
        help: "write a down script that restores the schema; the data comes back from the step's snapshot",
    }
}

impl Rule for IrreversibleWithoutDown {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        if !cx.runner.supports_down() || cx.migration.down.is_some() {
            return;
        }
        if let crate::classify::Reversibility::Irreversible { .. } = &cx.migration.reversibility {
            let first = cx
                .up()
                .steps
                .iter()
                .find(|s| s.effects.iter().any(|e| e.effect.data.is_destructive()));
            if let Some(step) = first {
                out.push(Hit::at(
                    step,
                    format!(
                        "irreversible migration without a down script, although {} supports them",
                        cx.runner
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
        crate::rules::testing::check_rule(&super::IrreversibleWithoutDown::META);
    }
}
