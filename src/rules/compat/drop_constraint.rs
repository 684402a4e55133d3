use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER TABLE … DROP CONSTRAINT` of a constraint that existed before this migration
    /// (check, foreign key, unique, primary key, exclusion).
    ///
    /// ## Why it matters
    /// From the moment the migration commits, rows that break the constraint can be written,
    /// by the new application version or by any other writer. Putting the constraint back, in a
    /// down script or a later migration, must validate every row written meanwhile: it fails on
    /// the first violation, and it scans the table (and builds an index, for unique and primary
    /// keys) under a lock that blocks writes. Dropping a unique or primary key also drops its
    /// index, which may have served queries, and `CASCADE` drops the foreign keys that depend on
    /// it.
    ///
    /// ## Instead
    /// Make sure nothing relies on the constraint any more, and write the down script to repair
    /// violating rows before re-adding it (`ADD CONSTRAINT … NOT VALID`, then
    /// `VALIDATE CONSTRAINT`). To relax a constraint, add the new one first, then drop the old
    /// one, so the data is never unconstrained.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE payments (id bigint PRIMARY KEY, amount numeric CONSTRAINT payments_amount_positive CHECK (amount > 0));
    /// -- example: next migration
    /// ALTER TABLE payments DROP CONSTRAINT payments_amount_positive;
    /// ```
    ///
    /// ## Good
    /// Relax a constraint by adding the looser one first; drop the old one once nothing relies
    /// on it:
    ///
    /// ```sql
    /// CREATE TABLE payments (id bigint PRIMARY KEY, amount numeric CONSTRAINT payments_amount_positive CHECK (amount > 0));
    /// -- example: next migration
    /// ALTER TABLE payments ADD CONSTRAINT payments_amount_not_negative CHECK (amount >= 0) NOT VALID;
    /// ```
    ///
    /// A constraint created by the same migration is not relied on yet:
    ///
    /// ```sql
    /// CREATE TABLE payments (id bigint PRIMARY KEY, amount numeric);
    /// -- example: next migration
    /// ALTER TABLE payments ADD CONSTRAINT payments_amount_positive CHECK (amount > 0) NOT VALID;
    /// ALTER TABLE payments DROP CONSTRAINT payments_amount_positive;
    /// ```
    DropConstraint {
        id: "MS206",
        name: "drop-constraint",
        severity: Warning,
        help: "make sure nothing relies on it, and write a down script that repairs violating rows before re-adding it NOT VALID and validating",
    }
}

impl Rule for DropConstraint {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        super::walk_existing(cx, |step, e, fresh| {
            if let Op::DropConstraint {
                table,
                name,
                cascade,
            } = &e.op
                && !fresh.constraint(table, name)
            {
                let cascade = if *cascade {
                    ", and CASCADE also drops the foreign keys that depend on it"
                } else {
                    ""
                };
                out.push(Hit::at(
                    step,
                    format!(
                        "drops constraint {name} of {table}: rows written from now on are unchecked, so putting it back must validate them and may fail{cascade}"
                    ),
                ));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::DropConstraint::META);
    }
}
