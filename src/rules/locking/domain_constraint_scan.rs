use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER DOMAIN … ADD CONSTRAINT …` without `NOT VALID`, except on a domain created in the same
    /// migration.
    ///
    /// ## Why it matters
    /// PostgreSQL checks the new constraint against every stored value of the domain: it scans every
    /// table with a column of that type, holding a `SHARE` lock on each, so writes to all of them stop
    /// until the scans finish. If one value violates the constraint, the migration fails after that.
    ///
    /// ## Instead
    /// Add the constraint `NOT VALID` (new values are checked at once; existing ones are not), and run
    /// `ALTER DOMAIN … VALIDATE CONSTRAINT …` in a later migration. Before PostgreSQL 19 the validation
    /// still takes `SHARE` locks, so run it when writes are quiet; from 19 on it lets writes continue.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE DOMAIN amount_cents AS bigint;
    /// CREATE TABLE payments (id bigint PRIMARY KEY, amount amount_cents);
    /// -- example: next migration
    /// ALTER DOMAIN amount_cents ADD CONSTRAINT amount_cents_positive CHECK (VALUE >= 0);
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE DOMAIN amount_cents AS bigint;
    /// CREATE TABLE payments (id bigint PRIMARY KEY, amount amount_cents);
    /// -- example: next migration
    /// ALTER DOMAIN amount_cents ADD CONSTRAINT amount_cents_positive CHECK (VALUE >= 0) NOT VALID;
    /// -- example: next migration
    /// ALTER DOMAIN amount_cents VALIDATE CONSTRAINT amount_cents_positive;
    /// ```
    DomainConstraintScan {
        id: "MS123",
        name: "domain-constraint-scan",
        severity: Warning,
        help: "add the domain constraint NOT VALID, then ALTER DOMAIN … VALIDATE CONSTRAINT in a later migration",
    }
}

impl Rule for DomainConstraintScan {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops() {
            if let Op::AlterDomainAddConstraint {
                name,
                not_valid: false,
            } = &e.op
            {
                if super::fresh(cx, step, e) {
                    continue;
                }
                out.push(Hit::at(
                    step,
                    format!(
                        "adds a constraint to domain {name} and checks it at once: every column of type {name}, in every table, is scanned while writes to those tables are blocked (SHARE lock)"
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
        crate::rules::testing::check_rule(&super::DomainConstraintScan::META);
    }
}
