use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
#[allow(unused_imports)]
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `DROP DATABASE`.
    ///
    /// ## Why it matters
    /// It destroys a whole database, and it cannot run inside a transaction, so nothing around it can
    /// be rolled back either.
    ///
    /// ## Instead
    /// Retire databases through an operational runbook with a verified backup, not in a schema
    /// migration.
    ///
    /// ## Bad
    /// ```sql
    /// DROP DATABASE analytics_old;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE SCHEMA IF NOT EXISTS analytics;
    /// ```
    DropDatabase {
        id: "MS004",
        name: "drop-database",
        severity: Error,
        help: "never drop a database from a migration; retire it through an operational runbook with a verified backup",
    }
}

impl Rule for DropDatabase {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops() {
            if let Op::DropDatabase { name } = &e.op {
                out.push(Hit::at(
                    step,
                    format!("drops database {name} with all its data"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::DropDatabase::META);
    }
}
