use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
#[allow(unused_imports)]
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `DROP SCHEMA … CASCADE`.
    ///
    /// ## Why it matters
    /// Everything in the schema goes with it: tables and their rows, views, functions, types. Nobody
    /// reviewing the migration can see from the statement what that is.
    ///
    /// ## Instead
    /// Drop the schema's objects explicitly, each in a reviewed migration, and drop the empty schema
    /// without `CASCADE` so that PostgreSQL refuses if anything is left.
    ///
    /// ## Bad
    /// ```sql
    /// DROP SCHEMA reporting CASCADE;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// DROP SCHEMA reporting;
    /// ```
    DropSchemaCascade {
        id: "MS003",
        name: "drop-schema-cascade",
        severity: Error,
        help: "drop the schema's objects one by one in reviewed migrations, then drop the empty schema without CASCADE",
    }
}

impl Rule for DropSchemaCascade {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops() {
            if let Op::DropSchema {
                names,
                cascade: true,
            } = &e.op
            {
                out.push(Hit::at(
                    step,
                    format!(
                        "drops schema {} and every table, row and function in it",
                        names.join(", ")
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
        crate::rules::testing::check_rule(&super::DropSchemaCascade::META);
    }
}
