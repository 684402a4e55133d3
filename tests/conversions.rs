//! Every row of the type-conversion table (`migsafe::sql::convert`, documented in
//! `migsafe rule MS009`) checked on PostgreSQL: a table with edge values of the source type is
//! altered to the target type — once without `USING`, once `USING c::target` (the same
//! conversion, by the table) — and what PostgreSQL did must be what the table says:
//!
//! - *keeps every value*: the `ALTER` succeeds and every value converts back to the same value
//!   (and a binary-coercible change leaves the table's file alone, a rewrite does not);
//! - *may fail*: values that fit are kept exactly, and a value that does not fit fails the `ALTER`;
//! - *loses values*: the `ALTER` succeeds and at least one sample comes back different.
//!
//! It also checks that the tripwire's reading of the catalog (`format_type()` and whether a type
//! is an enum) gives the same verdict as lint's reading of the SQL.
//!
//! One database per row, in this process's scratch cluster.

use migsafe::sql::SqlType;
use migsafe::sql::convert::{ROWS, Verdict, convert, lossless};

/// How a value is compared after the change.
#[derive(Clone, Copy)]
enum Compare {
    /// Converted back to the source type, its text equals the original's.
    RoundTrip,
    /// What clients read (the type's output, `format('%s', c)`) is the same as before: for
    /// `char(n)`, whose padding clients read although a cast to text drops it.
    Output,
}

struct Case {
    from: &'static str,
    to: &'static str,
    /// Values (SQL literals) every verdict is checked with.
    samples: &'static [&'static str],
    /// For a *may fail* row: values that do not fit, each of which must fail the `ALTER`.
    misfits: &'static [&'static str],
    /// The session's TimeZone while the `ALTER` runs.
    timezone: &'static str,
    /// The TimeZone the values are converted back under.
    check_timezone: &'static str,
    compare: Compare,
}

const CASE: Case = Case {
    from: "",
    to: "",
    samples: &[],
    misfits: &[],
    timezone: "UTC",
    check_timezone: "UTC",
    compare: Compare::RoundTrip,
};

#[derive(Debug, PartialEq)]
enum Observed {
    /// Every value came back the same.
    Kept { rewritten: bool },
    /// The `ALTER` succeeded; these samples came back different.
    Lost(Vec<String>),
    /// The `ALTER` failed with this message.
    Failed(String),
}

fn is_enum(ty: &SqlType) -> bool {
    ty.base == "mood"
}

/// Creates a table of `values` in `from`, alters it to `to` (with `USING c::to` or without),
/// and says what happened to the values.
fn observe(
    db: &mut postgres::Client,
    case: &Case,
    table: &str,
    values: &[&str],
    using: bool,
) -> Observed {
    let (from, to) = (case.from, case.to);
    db.batch_execute(&format!(
        "SET TimeZone = '{}'; CREATE TABLE {table} (id int, c {from}); CREATE TABLE {table}_o (id int, c {from});",
        case.timezone
    ))
    .unwrap();
    for (i, v) in values.iter().enumerate() {
        db.batch_execute(&format!(
            "INSERT INTO {table} VALUES ({i}, {v}); INSERT INTO {table}_o VALUES ({i}, {v});"
        ))
        .unwrap();
    }
    let node = |db: &mut postgres::Client| -> u32 {
        db.query_one(
            &format!("SELECT relfilenode FROM pg_class WHERE oid = '{table}'::regclass"),
            &[],
        )
        .unwrap()
        .get(0)
    };
    let before = node(db);
    let using = if using {
        format!(" USING c::{to}")
    } else {
        String::new()
    };
    if let Err(e) = db.batch_execute(&format!(
        "ALTER TABLE {table} ALTER COLUMN c TYPE {to}{using}"
    )) {
        let message = e
            .as_db_error()
            .map_or_else(|| e.to_string(), |d| d.message().to_string());
        return Observed::Failed(message);
    }
    let rewritten = node(db) != before;
    db.batch_execute(&format!("SET TimeZone = '{}'", case.check_timezone))
        .unwrap();
    let now = match case.compare {
        Compare::RoundTrip => format!("(t.c::{from})::text"),
        Compare::Output => "format('%s', t.c)".to_string(),
    };
    let was = match case.compare {
        Compare::RoundTrip => "o.c::text",
        Compare::Output => "format('%s', o.c)",
    };
    let lost: Vec<String> = db
        .query(
            &format!(
                "SELECT {was} || ' → ' || coalesce({now}, 'missing') \
                 FROM {table}_o o LEFT JOIN {table} t USING (id) \
                 WHERE {now} IS DISTINCT FROM {was} OR t.id IS NULL ORDER BY o.id"
            ),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    if lost.is_empty() {
        Observed::Kept { rewritten }
    } else {
        Observed::Lost(lost)
    }
}

/// Whether PostgreSQL refuses the change without `USING` because there is no assignment cast
/// (`text` → `int`): only the `USING` form can be judged.
fn needs_using(o: &Observed) -> bool {
    matches!(o, Observed::Failed(m) if m.contains("cannot be cast automatically"))
}

/// The format_type() spelling and enum-ness of column `c` of `table`.
fn column_type(db: &mut postgres::Client, table: &str) -> (String, bool) {
    let r = db
        .query_one(
            &format!(
                "SELECT pg_catalog.format_type(a.atttypid, a.atttypmod), t.typtype = 'e' \
                 FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
                 WHERE a.attrelid = '{table}'::regclass AND a.attname = 'c'"
            ),
            &[],
        )
        .unwrap();
    (r.get(0), r.get(1))
}

fn check(name: &str, case: Case) {
    let verdict = convert(
        &SqlType::parse(case.from),
        &SqlType::parse(case.to),
        &is_enum,
    );
    let (_, mut db) = migsafe::pg::testing::fresh_database(&format!("conv_{name}"));
    db.batch_execute("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')")
        .unwrap();
    let what = format!("{} → {} ({verdict:?})", case.from, case.to);
    let mut judged = 0;
    for using in [false, true] {
        let form = if using { "USING" } else { "no USING" };
        let table = if using { "t_using" } else { "t_bare" };
        let seen = observe(&mut db, &case, table, case.samples, using);
        if !using && needs_using(&seen) {
            continue;
        }
        judged += 1;
        match verdict {
            Verdict::BinaryCoercible | Verdict::Rewrite | Verdict::Same => assert_eq!(
                seen,
                Observed::Kept {
                    rewritten: verdict == Verdict::Rewrite
                },
                "{what}, {form}: PostgreSQL did not keep every value as the table says"
            ),
            Verdict::FailRisk(_) => {
                assert!(
                    matches!(seen, Observed::Kept { .. }),
                    "{what}, {form}: values that fit were not kept: {seen:?}"
                );
                assert!(
                    !case.misfits.is_empty(),
                    "{what}: a may-fail row needs misfits"
                );
                for (i, m) in case.misfits.iter().enumerate() {
                    let misfit = observe(&mut db, &case, &format!("{table}_m{i}"), &[m], using);
                    assert!(
                        matches!(misfit, Observed::Failed(_)),
                        "{what}, {form}: {m} did not fail the ALTER: {misfit:?}"
                    );
                }
            }
            Verdict::Narrowing | Verdict::Inexact(_) | Verdict::Unknown => assert!(
                matches!(seen, Observed::Lost(_)),
                "{what}, {form}: no sample was lost: {seen:?}"
            ),
        }
        // The tripwire reads the same change from the catalog.
        if matches!(seen, Observed::Kept { .. }) {
            let (now, now_enum) = column_type(&mut db, table);
            let (was, was_enum) = column_type(&mut db, &format!("{table}_o"));
            assert_eq!(
                SqlType::parse(&was),
                SqlType::parse(case.from),
                "format_type {was:?}"
            );
            assert_eq!(
                SqlType::parse(&now),
                SqlType::parse(case.to),
                "format_type {now:?}"
            );
            assert_eq!(
                lossless(&was, was_enum, &now, now_enum),
                verdict.lossless(),
                "{what}: the tripwire reads {was} → {now} differently"
            );
        }
    }
    assert!(judged > 0, "{what}: nothing judged");
}

macro_rules! rows {
    ($($name:ident: $case:expr;)*) => {
        $(
            #[test]
            fn $name() {
                check(stringify!($name), $case);
            }
        )*

        /// Every pair the documented table lists is checked above.
        #[test]
        fn every_documented_row_is_checked() {
            let checked: Vec<(SqlType, SqlType)> = vec![$({
                let c: Case = $case;
                (SqlType::parse(c.from), SqlType::parse(c.to))
            }),*];
            for row in ROWS.iter().filter(|r| !r.to.is_empty()) {
                for f in row.from.split(", ") {
                    for t in row.to.split(", ") {
                        let pair = (
                            SqlType::parse(f.trim_end_matches(" (an enum)")),
                            SqlType::parse(t.trim_end_matches(" (an enum)")),
                        );
                        assert!(checked.contains(&pair), "{f} → {t} is not checked on PostgreSQL");
                    }
                }
            }
        }
    };
}

const INTS: &[&str] = &["-2147483648", "2147483647", "0"];

rows! {
    smallint_to_int: Case { from: "smallint", to: "int", samples: &["-32768", "32767", "0"], ..CASE };
    smallint_to_bigint: Case { from: "smallint", to: "bigint", samples: &["-32768", "32767"], ..CASE };
    int_to_bigint: Case { from: "int", to: "bigint", samples: INTS, ..CASE };
    bigint_to_int: Case { from: "bigint", to: "int", samples: INTS, misfits: &["2147483648", "-2147483649"], ..CASE };
    bigint_to_smallint: Case { from: "bigint", to: "smallint", samples: &["-32768", "32767"], misfits: &["32768"], ..CASE };
    int_to_numeric: Case { from: "int", to: "numeric", samples: INTS, ..CASE };
    int_to_numeric_12_2: Case { from: "int", to: "numeric(12,2)", samples: INTS, ..CASE };
    smallint_to_numeric_5_0: Case { from: "smallint", to: "numeric(5,0)", samples: &["-32768", "32767"], ..CASE };
    bigint_to_numeric_19_0: Case { from: "bigint", to: "numeric(19,0)", samples: &["-9223372036854775808", "9223372036854775807"], ..CASE };
    bigint_to_numeric_18_0: Case { from: "bigint", to: "numeric(18,0)", samples: &["999999999999999999"], misfits: &["9223372036854775807"], ..CASE };
    int_to_numeric_5_0: Case { from: "int", to: "numeric(5,0)", samples: &["99999", "-99999"], misfits: &["100000"], ..CASE };
    int_to_text: Case { from: "int", to: "text", samples: INTS, ..CASE };
    int_to_varchar: Case { from: "int", to: "varchar", samples: INTS, ..CASE };
    int_to_varchar_11: Case { from: "int", to: "varchar(11)", samples: INTS, ..CASE };
    int_to_double: Case { from: "int", to: "double precision", samples: INTS, ..CASE };
    int_to_real: Case { from: "int", to: "real", samples: &["16777216", "16777217"], ..CASE };
    bigint_to_double: Case { from: "bigint", to: "double precision", samples: &["9007199254740992", "9007199254740993"], ..CASE };
    numeric_10_2_to_12_2: Case { from: "numeric(10,2)", to: "numeric(12,2)", samples: &["99999999.99", "-99999999.99", "0.01", "1.50"], ..CASE };
    numeric_10_2_to_numeric: Case { from: "numeric(10,2)", to: "numeric", samples: &["99999999.99", "-99999999.99", "0.01", "1.50"], ..CASE };
    numeric_10_2_to_12_4: Case { from: "numeric(10,2)", to: "numeric(12,4)", samples: &["99999999.99", "-99999999.99", "0.01"], ..CASE };
    numeric_5_2_to_6_4: Case { from: "numeric(5,2)", to: "numeric(6,4)", samples: &["99.99", "-99.99", "0.01"], misfits: &["999.99", "100"], ..CASE };
    numeric_10_2_to_10_1: Case { from: "numeric(10,2)", to: "numeric(10,1)", samples: &["1.25", "1.20"], ..CASE };
    numeric_to_text: Case { from: "numeric", to: "text", samples: &["1.50", "'NaN'", "123456789012345678901234567890.123456789", "-0.000001", "0"], ..CASE };
    real_to_double: Case { from: "real", to: "double precision", samples: &["0.1", "3.4028235e38", "1.4e-45", "'NaN'", "'Infinity'", "'-Infinity'", "'-0'", "16777217"], ..CASE };
    double_to_real: Case { from: "double precision", to: "real", samples: &["0.1", "1.0"], ..CASE };
    varchar_20_to_40: Case { from: "varchar(20)", to: "varchar(40)", samples: &["'abc'", "''", "'twenty characters!!'", "'trailing  '"], ..CASE };
    varchar_20_to_varchar: Case { from: "varchar(20)", to: "varchar", samples: &["'abc'", "''", "'trailing  '"], ..CASE };
    varchar_20_to_text: Case { from: "varchar(20)", to: "text", samples: &["'abc'", "''", "'trailing  '"], ..CASE };
    // Without USING a longer value fails the ALTER, but blanks past the limit are cut silently.
    varchar_40_to_20: Case { from: "varchar(40)", to: "varchar(20)", samples: &["'ab'", "'ab                            '"], ..CASE };
    text_to_varchar_10: Case { from: "text", to: "varchar(10)", samples: &["'ab'", "'ab              '"], ..CASE };
    text_to_int: Case { from: "text", to: "int", samples: &["'7'", "'007'"], ..CASE };
    char_3_to_text: Case { from: "char(3)", to: "text", samples: &["'ab'", "'abc'"], compare: Compare::Output, ..CASE };
    char_3_to_varchar: Case { from: "char(3)", to: "varchar", samples: &["'ab'", "'abc'"], compare: Compare::Output, ..CASE };
    char_3_to_char_5: Case { from: "char(3)", to: "char(5)", samples: &["'ab'", "'abc'"], compare: Compare::Output, ..CASE };
    uuid_to_text: Case { from: "uuid", to: "text", samples: &["'00000000-0000-0000-0000-000000000000'", "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'"], ..CASE };
    boolean_to_text: Case { from: "boolean", to: "text", samples: &["true", "false"], ..CASE };
    date_to_text: Case { from: "date", to: "text", samples: &["'2024-02-29'", "'infinity'", "'-infinity'", "'4713-01-01 BC'", "'5874897-12-31'"], ..CASE };
    enum_to_text: Case { from: "mood", to: "text", samples: &["'sad'", "'happy'"], ..CASE };
    text_to_enum: Case { from: "text", to: "mood", samples: &["'sad'", "'ok'"], misfits: &["'glad'", "'Sad'"], ..CASE };
    date_to_timestamp: Case { from: "date", to: "timestamp", samples: &["'2024-03-31'", "'infinity'", "'-infinity'", "'4713-01-01 BC'", "'294276-12-31'"], misfits: &["'5874897-12-31'"], timezone: "Europe/Berlin", ..CASE };
    // Midnight in Berlin is the day before in UTC.
    date_to_timestamptz: Case { from: "date", to: "timestamptz", samples: &["'2024-03-31'"], timezone: "Europe/Berlin", check_timezone: "UTC", ..CASE };
    // 02:30 on 2024-03-31 does not exist in Berlin: it comes back as 03:30.
    timestamp_to_timestamptz: Case { from: "timestamp", to: "timestamptz", samples: &["'2024-03-31 01:30'", "'2024-03-31 02:30'"], timezone: "Europe/Berlin", check_timezone: "Europe/Berlin", ..CASE };
    // The autumn hour 02:00–03:00 happens twice in Berlin: two instants, one local time.
    timestamptz_to_timestamp: Case { from: "timestamptz", to: "timestamp", samples: &["'2024-10-27 02:30+02'", "'2024-10-27 02:30+01'"], timezone: "Europe/Berlin", check_timezone: "Europe/Berlin", ..CASE };
    timestamptz_to_date: Case { from: "timestamptz", to: "date", samples: &["'2024-03-31 00:00+00'", "'2024-03-31 12:00+00'"], ..CASE };
    timestamp_3_to_6: Case { from: "timestamp(3)", to: "timestamp(6)", samples: &["'2024-01-01 12:00:00.123'", "'infinity'"], ..CASE };
    timestamp_3_to_timestamp: Case { from: "timestamp(3)", to: "timestamp", samples: &["'2024-01-01 12:00:00.123'", "'infinity'"], ..CASE };
    timestamp_6_to_3: Case { from: "timestamp(6)", to: "timestamp(3)", samples: &["'2024-01-01 12:00:00.123456'"], ..CASE };
    json_to_jsonb: Case { from: "json", to: "jsonb", samples: &["'{\"a\": 1}'", "'{\"a\":1,\"a\":2}'"], ..CASE };
    jsonb_to_json: Case { from: "jsonb", to: "json", samples: &["'{\"b\": [1, 2.50], \"a\": null}'", "'\"x\"'", "'null'", "'1e2'"], ..CASE };
    cidr_to_inet: Case { from: "cidr", to: "inet", samples: &["'10.0.0.0/8'", "'::1/128'"], ..CASE };
    int_array_to_bigint_array: Case { from: "int[]", to: "bigint[]", samples: &["'{1,2147483647,NULL}'", "'{}'"], ..CASE };
    varbit_5_to_8: Case { from: "bit varying(5)", to: "bit varying(8)", samples: &["B'10101'", "B''"], ..CASE };
}
