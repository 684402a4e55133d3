use crate::classify::DataEffect;
use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
#[allow(unused_imports)]
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER COLUMN … TYPE` that can lose values or fail on them: a narrowing (`varchar(255)` to
    /// `varchar(20)`, a smaller numeric scale), a conversion that is not exact although it looks
    /// like a widening (`json` to `jsonb`, `timestamp` to `timestamptz`), one that fails when a
    /// value does not fit (`bigint` to `int`), a `USING` expression other than a cast of the
    /// column, or a change from a type that migsafe does not know.
    ///
    /// `USING col::type` (or `USING CAST(col AS type)`) converts the column exactly as no `USING`
    /// does, so it is judged by the table below; any other `USING` expression replaces the values.
    ///
    /// ## Conversions
    /// One table decides, for lint and for `migsafe apply`'s tripwire (which checks, after each
    /// statement, that a column whose type changed without a snapshot kept every value). Each row
    /// is checked on PostgreSQL by migsafe's tests.
    ///
    /// | from | to | verdict | why |
    /// |---|---|---|---|
    /// | `smallint` | `int`, `bigint` | keeps every value (rewrite) | every value fits |
    /// | `int` | `bigint` | keeps every value (rewrite) | every value fits |
    /// | `bigint` | `int`, `smallint` | may fail | a value outside the range fails the ALTER (integer out of range); what converts is exact |
    /// | `int` | `numeric`, `numeric(12,2)` | keeps every value (rewrite) | unconstrained, or with p − s ≥ 5 / 10 / 19 integer digits for smallint / int / bigint |
    /// | `int` | `numeric(5,0)` | may fail | fewer integer digits than the integer type has: numeric field overflow |
    /// | `int` | `text`, `varchar` | keeps every value (rewrite) | one exact text form per value |
    /// | `int` | `double precision` | keeps every value (rewrite) | a double holds every integer up to 2^53 exactly |
    /// | `int` | `real` | loses values | rounds integers beyond 2^24 (16777217 becomes 16777216) |
    /// | `bigint` | `double precision` | loses values | rounds integers beyond 2^53 (9007199254740993 becomes 9007199254740992) |
    /// | `numeric(10,2)` | `numeric(12,2)`, `numeric` | keeps every value (no rewrite) | same scale, more or unconstrained precision |
    /// | `numeric(10,2)` | `numeric(12,4)` | keeps every value (rewrite) | scale s′ ≥ s and integer digits p′ − s′ ≥ p − s |
    /// | `numeric(5,2)` | `numeric(6,4)` | may fail | fewer integer digits (2 < 3): 999.99 fails the ALTER (numeric field overflow) |
    /// | `numeric(10,2)` | `numeric(10,1)` | loses values | a smaller scale rounds: 1.25 becomes 1.3 |
    /// | `numeric` | `text` | keeps every value (rewrite) | one exact text form per value, scale included |
    /// | `real` | `double precision` | keeps every value (rewrite) | every real is exactly a double: 0.1 reads 0.10000000149011612 but converts back to 0.1 |
    /// | `double precision` | `real` | loses values | rounds to 6 significant digits |
    /// | `varchar(20)` | `varchar(40)`, `varchar`, `text` | keeps every value (no rewrite) | same values, a larger or no limit |
    /// | `varchar(40)` | `varchar(20)` | loses values | a longer value fails the ALTER, but trailing blanks beyond the limit are cut silently (with USING, every longer value is cut) |
    /// | `text` | `varchar(10)` | loses values | as above |
    /// | `text` | `int` | loses values | parses the text: spellings such as `007` come back as `7`, and text that is not a number makes the ALTER fail |
    /// | `char(3)` | `text`, `varchar`, `char(5)` | loses values | drops or adds the blanks that pad char(n) values: clients read `'ab'` where they read `'ab '`, and trailing blanks of the source become insignificant |
    /// | `uuid`, `boolean`, `date` | `text` | keeps every value (rewrite) | one exact text form per value (a date's in the session's DateStyle) |
    /// | `mood` (an enum) | `text` | keeps every value (rewrite) | the labels survive as text (only for enums created in the migrations linted) |
    /// | `text` | `mood` (an enum) | may fail | a value that is not a label fails the ALTER (which needs `USING c::mood`) |
    /// | `date` | `timestamp` | may fail | dates after 294276 AD fail the ALTER (date out of range for timestamp); others become midnight, exactly |
    /// | `date` | `timestamptz` | loses values | stores each date as midnight in the session's TimeZone: read back under another TimeZone a date moves by a day, and dates after 294276 AD make the ALTER fail |
    /// | `timestamp` | `timestamptz` | loses values | converts through the session's TimeZone: a time in a daylight-saving gap moves (02:30 on a spring-forward night in Europe/Berlin comes back as 03:30) and the repeated autumn hour cannot be told apart |
    /// | `timestamptz` | `timestamp` | loses values | converts through the session's TimeZone: a time in a daylight-saving gap moves (02:30 on a spring-forward night in Europe/Berlin comes back as 03:30) and the repeated autumn hour cannot be told apart |
    /// | `timestamptz` | `date` | loses values | drops the time of day |
    /// | `timestamp(3)` | `timestamp(6)`, `timestamp` | keeps every value (no rewrite) | more fractional digits |
    /// | `timestamp(6)` | `timestamp(3)` | loses values | rounds fractional seconds |
    /// | `json` | `jsonb` | loses values | drops duplicate keys (the last one wins), key order, whitespace and number formatting |
    /// | `jsonb` | `json` | keeps every value (rewrite) | jsonb's text is json's normal form |
    /// | `cidr` | `inet` | keeps every value (no rewrite) | every cidr is an inet |
    /// | anything else |  | loses values | not in this table (user-defined types, an array to a non-array, pairs not checked): taken to lose values |
    ///
    /// *Keeps every value* means that converting each value back, in the same session, gives the
    /// same value: `real` to `double precision` keeps `0.1` although the double reads
    /// `0.10000000149011612`. `char(n)` is judged by what clients read, padding included (a cast
    /// back would pad again). Those changes are not flagged here (`column-type-rewrite` flags the
    /// rewrite). *May fail* changes are flagged because the `ALTER` fails on a value that does not
    /// fit; when it succeeds, every value was kept exactly, so apply needs no snapshot for them.
    /// *Loses values* changes destroy data: apply takes a snapshot of the column first.
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
    /// CREATE TABLE users (id bigint PRIMARY KEY, email varchar(255), prefs json, visits bigint);
    /// -- example: next migration
    /// ALTER TABLE users ALTER COLUMN email TYPE varchar(64);
    /// ALTER TABLE users ALTER COLUMN prefs TYPE jsonb USING prefs::jsonb;
    /// ALTER TABLE users ALTER COLUMN visits TYPE int;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE users (id bigint PRIMARY KEY, email varchar(64));
    /// -- example: next migration
    /// ALTER TABLE users ALTER COLUMN email TYPE varchar(255);
    /// ```
    ///
    /// A `USING` that only casts the column widens as the bare change does:
    ///
    /// ```sql
    /// CREATE TYPE task_state AS ENUM ('open', 'done');
    /// CREATE TABLE tasks (id bigint PRIMARY KEY, state task_state, code int);
    /// -- example: next migration
    /// ALTER TABLE tasks ALTER COLUMN state TYPE text USING state::text;
    /// ALTER TABLE tasks ALTER COLUMN code TYPE varchar USING CAST(code AS varchar);
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
                && (e.effect.data.is_destructive() || e.effect.data == DataEffect::FailRisk)
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

    /// The documented conversion table is the code's (`sql::convert::ROWS`, itself checked
    /// against `convert`).
    #[test]
    fn the_documented_conversions_are_the_table() {
        let doc: String = super::LossyTypeChange::META
            .doc
            .lines()
            .map(|l| format!("{}\n", l.strip_prefix(' ').unwrap_or(l)))
            .collect();
        let table = crate::sql::convert::markdown();
        assert!(
            doc.contains(&table),
            "MS009's doc comment must hold this table:\n{}",
            table
                .lines()
                .map(|l| format!("    /// {l}\n"))
                .collect::<String>()
        );
    }
}
