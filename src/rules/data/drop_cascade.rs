use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
#[allow(unused_imports)]
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `DROP TYPE | DOMAIN | VIEW | FUNCTION | EXTENSION | … CASCADE`.
    ///
    /// ## Why it matters
    /// `CASCADE` silently drops every object that depends on the dropped one. For a type or a domain
    /// that includes the table columns of that type, with their data; for an extension it can include
    /// columns, indexes and functions all over the schema.
    ///
    /// ## Instead
    /// Drop or change the dependent objects explicitly in reviewed statements, then drop the object
    /// without `CASCADE`, so that PostgreSQL refuses if anything still depends on it.
    ///
    /// ## Bad
    /// ```sql
    /// DROP TYPE order_status CASCADE;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// DROP TYPE order_status;
    /// ```
    DropCascade {
        id: "MS011",
        name: "drop-cascade",
        severity: Error,
        help: "drop or change the dependent objects explicitly first, then drop without CASCADE",
    }
}

impl Rule for DropCascade {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops() {
            if let Op::DropObject {
                kind,
                names,
                cascade: true,
            } = &e.op
            {
                out.push(Hit::at(step, format!("drops {kind} {} with CASCADE: dependent columns, views and constraints go too, unseen", names.join(", "))));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::DropCascade::META);
    }
}
