use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
#[allow(unused_imports)]
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER COLUMN … TYPE` that can lose values: a narrowing (`varchar(255)` to `varchar(20)`,
    /// `bigint` to `int`, less numeric precision or scale), any `USING` expression, or a change from a
    /// type that migsafe does not know from earlier migrations.
    ///
    /// Some changes that look like widenings lose values too: `json` to `jsonb` (duplicate keys,
    /// key order, whitespace and number formatting are gone), `timestamp` to `timestamptz` and
    /// back (converted through the session's `TimeZone`: a time in a daylight-saving gap moves,
    /// the repeated hour cannot be told apart).
    ///
    /// ## Why it matters
    /// Values that do not fit are cut, rounded or rejected, and a `USING` expression replaces every
    /// old value with a computed one: converting back in a down script does not restore them. The
    /// change also rewrites the table under an `ACCESS EXCLUSIVE` lock.
    ///
    /// ## Instead
    /// Add a column of the new type, backfill it, switch the application, and drop the old column in
    /// a later release. Widenings that PostgreSQL does without a rewrite (`varchar(n)` to
    /// `varchar(m >= n)` or `text`, more numeric precision at the same scale, `cidr` to `inet`) are
    /// not flagged.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE users (id bigint PRIMARY KEY, email varchar(255), prefs json);
    /// -- example: next migration
    /// ALTER TABLE users ALTER COLUMN email TYPE varchar(64);
    /// ALTER TABLE users ALTER COLUMN prefs TYPE jsonb;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE users (id bigint PRIMARY KEY, email varchar(64));
    /// -- example: next migration
    /// ALTER TABLE users ALTER COLUMN email TYPE varchar(255);
    /// ```
    LossyTypeChange {
        id: "MS009",
        name: "lossy-type-change",
        severity: Error,
        help: "add a column of the new type, backfill it, and keep the old column until the release is final",
    }
}

impl Rule for LossyTypeChange {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops_on_existing() {
            if let Op::AlterColumnType { table, column, .. } = &e.op
                && e.effect.data.is_destructive()
            {
                out.push(Hit::at(
                    step,
                    format!("{table}.{column}: {}", e.effect.reason),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::LossyTypeChange::META);
    }
}
