use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
#[allow(unused_imports)]
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// A statement that neither sqlparser nor migsafe's own recognizer can read.
    ///
    /// ## Why it matters
    /// migsafe fails closed: what it cannot read, it cannot call safe. The statement may destroy data
    /// or lock a busy table, so the migration is reported as `unknown` and `migsafe plan` blocks it.
    ///
    /// ## Instead
    /// Check the statement by hand; if it is fine, say why with
    /// `-- migsafe:ignore opaque-statement <reason>` on the line before it, or rewrite it in a more
    /// common form. Please report statements PostgreSQL accepts and migsafe cannot read.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE STATISTICS orders_stats (dependencies) ON customer_id, region FROM orders;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// ANALYZE orders;
    /// ```
    OpaqueStatement {
        id: "MS901",
        name: "opaque-statement",
        severity: Error,
        help: "rewrite the statement in a form PostgreSQL and migsafe both read, or suppress with a reason after checking it by hand",
    }
}

impl Rule for OpaqueStatement {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for step in &cx.up().steps {
            if let crate::sql::Understanding::Opaque { message } = &step.statement.understanding {
                out.push(Hit::at(step, format!("migsafe cannot read this statement ({message}); the migration's reversibility is unknown")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::OpaqueStatement::META);
    }
}
