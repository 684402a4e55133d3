use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `CREATE TYPE … AS ENUM`.
    ///
    /// ## Why it matters
    /// An enum's values are hard to change later: PostgreSQL can add and rename values but
    /// never drop or reorder them, so removing one means rebuilding the type and rewriting every
    /// table that uses it under an `ACCESS EXCLUSIVE` lock (MS212 add-enum-value explains why even
    /// adding one complicates the down script). Every new value is also a schema migration rather
    /// than a data change, and enum values compare by declaration order, not alphabetically.
    ///
    /// ## Instead
    /// Use a `text` column with a `CHECK (status IN (…))` constraint, which can be replaced with
    /// `NOT VALID` and validated without blocking writes, or a lookup table with a foreign key. Keep
    /// enums for value sets that will never shrink.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped');
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE orders (
    ///     id bigint PRIMARY KEY,
    ///     status text NOT NULL CHECK (status IN ('new', 'paid', 'shipped'))
    /// );
    /// ```
    CreateEnum {
        id: "MS214",
        name: "create-enum",
        severity: Warning,
        default_enabled: false,
        help: "use a text column with a CHECK constraint, or a lookup table, unless the values will never shrink",
    }
}

impl Rule for CreateEnum {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops() {
            if let Op::CreateEnum { name } = &e.op {
                out.push(Hit::at(
                    step,
                    format!(
                        "creates enum type {name}: its values can be added but never dropped or reordered without rebuilding the type"
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
        crate::rules::testing::check_rule(&super::CreateEnum::META);
    }
}
