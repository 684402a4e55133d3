use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER TYPE … ADD VALUE` on an enum that existed before this migration.
    ///
    /// ## Why it matters
    /// PostgreSQL has no `ALTER TYPE … DROP VALUE`: a down script can only remove the value by
    /// rebuilding the type (create a new enum, `ALTER COLUMN … TYPE` every column that uses it,
    /// which rewrites those tables under an `ACCESS EXCLUSIVE` lock, drop the old type) and must
    /// first deal with the rows that hold the value by then. The application version still
    /// running during the rollout may also fail to read rows with a value it does not know.
    /// Before PostgreSQL 12 the statement cannot run inside a transaction block at all (MS107
    /// non-transactional-in-transaction reports that); since 12, the new value cannot be used
    /// until the transaction that added it commits.
    ///
    /// ## Instead
    /// Make sure every deployed version reads the new value before any version writes it, write
    /// the type rebuild into the down script (or accept that the value stays and say so), and
    /// add the value in its own migration. For value sets that change often, a lookup table or a
    /// `text` column with a `CHECK` constraint is easier to change both ways.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TYPE order_status AS ENUM ('new', 'paid');
    /// -- example: next migration
    /// ALTER TYPE order_status ADD VALUE 'refunded';
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TYPE order_status AS ENUM ('new', 'paid');
    /// ALTER TYPE order_status ADD VALUE 'refunded';
    /// ```
    AddEnumValue {
        id: "MS212",
        name: "add-enum-value",
        severity: Warning,
        help: "deploy readers of the new value first, and put the type rebuild in the down script (there is no DROP VALUE)",
    }
}

impl Rule for AddEnumValue {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        super::walk(cx, |step, e, fresh| {
            if let Op::AddEnumValue { type_name } = &e.op
                && !fresh.has("type", type_name)
            {
                out.push(Hit::at(
                    step,
                    format!(
                        "adds a value to enum {type_name}: PostgreSQL cannot drop it again, so a down script has to rebuild the type and rewrite every table that uses it"
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
        crate::rules::testing::check_rule(&super::AddEnumValue::META);
    }
}
