use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
#[allow(unused_imports)]
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// An irreversible migration (one that destroys data) without a down script, when its runner
    /// supports down scripts (diesel, sqlx, golang-migrate, goose, dbmate, Flyway undo, sqitch).
    ///
    /// Flyway's undo scripts (`U<version>__…sql`) need a paid Flyway edition: in a Flyway project
    /// without any undo script the finding is a warning, not an error. Once the project has one,
    /// a missing undo is an error again.
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
                let flyway_without_undo =
                    cx.runner == crate::source::Runner::Flyway && !cx.project_has_downs;
                let mut hit = Hit::at(
                    step,
                    if flyway_without_undo {
                        "irreversible migration without an undo script; this project has none (Flyway undo needs a paid edition), so the way back is a restore".to_string()
                    } else {
                        format!(
                            "irreversible migration without a down script, although {} supports them",
                            cx.runner
                        )
                    },
                );
                if flyway_without_undo {
                    hit.at_most = Some(crate::rules::Severity::Warning);
                }
                out.push(hit);
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

    /// Flyway undo is a paid feature: without any undo script in the project, a missing undo
    /// is a warning; with one, the others are expected too (issue 19, item 9).
    #[test]
    fn flyway_without_undo_scripts_is_a_warning() {
        use crate::rules::Severity;
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, sql: &str| std::fs::write(dir.path().join(name), sql).unwrap();
        write("flyway.conf", "flyway.locations=filesystem:.\n");
        write(
            "V1__accounts.sql",
            "CREATE TABLE accounts (id bigint PRIMARY KEY, plan text);\n",
        );
        write(
            "V2__drop_plan.sql",
            "ALTER TABLE accounts DROP COLUMN plan;\n",
        );
        let ms012 = || {
            let report = crate::lint::lint(&crate::lint::LintOptions {
                paths: vec![dir.path().to_path_buf()],
                ..Default::default()
            })
            .unwrap();
            report.projects[0]
                .findings
                .iter()
                .filter(|f| f.rule == "MS012")
                .map(|f| (f.severity, f.message.clone()))
                .collect::<Vec<_>>()
        };
        let found = ms012();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, Severity::Warning);
        assert!(found[0].1.contains("paid edition"), "{found:?}");
        // The project uses undo: the missing one is an error again.
        write("U1__accounts.sql", "DROP TABLE accounts;\n");
        let found = ms012();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, Severity::Error);
    }
}
