//! The one table of column type conversions: what `ALTER COLUMN … TYPE` (or `USING col::type`,
//! the same conversion) does to the values of a column. Lint classifies type changes with it
//! (`lossy-type-change`, `column-type-rewrite`), and apply's tripwire derives from it whether a
//! type change it observed in the catalog kept every value ([`lossless`]).
//!
//! Every row is checked on PostgreSQL by `tests/conversions.rs`, and [`ROWS`] is the table that
//! `migsafe rule MS009` shows (drift-checked against [`convert`] by the unit tests below).
//!
//! What "keeps every value" means: converting each value back to the old type, in the same
//! session, gives the same value. So `real` → `double precision` keeps every value although
//! `0.1::real` reads `0.10000000149011612` as a double: the number is the same, only double's
//! spelling of it is longer. Anything the table does not know (a user-defined type, a pair it
//! does not list) is taken to lose values: fail closed.

use super::types::SqlType;

/// What converting a column's values from one type to another does to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The same type.
    Same,
    /// Every value survives and nothing is rewritten: only the catalog changes.
    BinaryCoercible,
    /// Every value survives, but the table and its indexes are rewritten.
    Rewrite,
    /// Every value that converts survives exactly, but a value that does not fit makes the
    /// `ALTER` fail (nothing is lost: the statement rolls back). The reason says which values.
    FailRisk(&'static str),
    /// Values that do not fit are cut, rounded or rejected.
    Narrowing,
    /// Every value converts, but not exactly: what is lost.
    Inexact(&'static str),
    /// Not in the table (a user-defined type, or a pair migsafe has not checked): taken to lose
    /// values.
    Unknown,
}

impl Verdict {
    /// Whether every value that the `ALTER` converts comes out exactly: after the statement
    /// succeeded, nothing was lost. A [`Verdict::FailRisk`] change that succeeded kept every
    /// value (the ones that would not fit would have failed it).
    pub fn lossless(self) -> bool {
        matches!(
            self,
            Verdict::Same | Verdict::BinaryCoercible | Verdict::Rewrite | Verdict::FailRisk(_)
        )
    }
}

/// How many characters the text form of each integer type takes at most (`-2147483648`), and
/// how many decimal digits its values have at most.
fn int_width(base: &str) -> Option<(i64, i64)> {
    match base {
        "smallint" => Some((6, 5)),
        "int" => Some((11, 10)),
        "bigint" => Some((20, 19)),
        _ => None,
    }
}

/// Serial types are integer columns with a default.
fn base_of(ty: &SqlType) -> &str {
    match ty.base.as_str() {
        "serial" => "int",
        "bigserial" => "bigint",
        "smallserial" => "smallint",
        other => other,
    }
}

const TZ_SHIFT: &str = "converts through the session's TimeZone: a time in a daylight-saving gap moves (02:30 on a spring-forward night in Europe/Berlin comes back as 03:30) and the repeated autumn hour cannot be told apart";
const DATE_TZ: &str = "stores each date as midnight in the session's TimeZone: read back under another TimeZone a date moves by a day, and dates after 294276 AD make the ALTER fail";
const CHAR_PAD: &str = "drops or adds the blanks that pad char(n) values: clients read `'ab'` where they read `'ab '`, and trailing blanks of the source become insignificant";
const JSONB: &str =
    "drops duplicate keys (the last one wins), key order, whitespace and number formatting";
const TO_REAL: &str = "rounds integers beyond 2^24 (16777217 becomes 16777216)";
const TO_DOUBLE: &str = "rounds integers beyond 2^53 (9007199254740993 becomes 9007199254740992)";
const DROP_TIME: &str = "drops the time of day";
const PARSE_TEXT: &str = "parses the text: spellings such as `007` come back as `7`, and text that is not a number makes the ALTER fail";

/// Classifies converting a column of type `from` to type `to`. `is_enum` says which user
/// types are enums (lint knows those created in the migrations, the tripwire asks the catalog);
/// other user types are [`Verdict::Unknown`].
pub fn convert(from: &SqlType, to: &SqlType, is_enum: &dyn Fn(&SqlType) -> bool) -> Verdict {
    if from == to {
        return Verdict::Same;
    }
    if from.array != to.array {
        return Verdict::Unknown;
    }
    let (f, t) = (base_of(from), base_of(to));
    // Length or precision: `varchar(20)` → 20, unconstrained → None.
    let len = |ty: &SqlType| ty.mods.first().copied();
    // A typmod that allows at least as much: unconstrained, or not smaller.
    let wider = || len(to).is_none_or(|b| len(from).is_some_and(|a| b >= a));
    if f == t && from.mods == to.mods {
        // `serial` → `int`, same type.
        return Verdict::Same;
    }
    let textual = |b: &str| matches!(b, "text") || (b == "varchar" && len(to).is_none());
    // An array of enums is not known to the tripwire as an enum: not here either.
    let from_enum = !from.array && !is_builtin(f) && is_enum(from);
    let to_enum = !to.array && !is_builtin(t) && is_enum(to);
    match (f, t) {
        // Integers.
        (a, b) if int_width(a).is_some() && int_width(b).is_some() => {
            if int_width(b) >= int_width(a) {
                Verdict::Rewrite
            } else {
                Verdict::FailRisk("values outside the new type's range make the ALTER fail")
            }
        }
        (a, "numeric") if int_width(a).is_some() => {
            let digits = int_width(a).map_or(0, |w| w.1);
            match &to.mods[..] {
                [] => Verdict::Rewrite,
                [p] | [p, _] if p - to.mods.get(1).copied().unwrap_or(0) >= digits => {
                    Verdict::Rewrite
                }
                _ => Verdict::FailRisk(
                    "values with more integer digits than the numeric allows make the ALTER fail (numeric field overflow)",
                ),
            }
        }
        ("smallint", "real" | "double precision") | ("int", "double precision") => Verdict::Rewrite,
        ("int" | "bigint", "real") => Verdict::Inexact(TO_REAL),
        ("bigint", "double precision") => Verdict::Inexact(TO_DOUBLE),
        (a, b) if int_width(a).is_some() && textual(b) => Verdict::Rewrite,
        (a, "varchar") if int_width(a).is_some() => {
            if len(to).is_some_and(|n| int_width(a).is_some_and(|w| n >= w.0)) {
                Verdict::Rewrite
            } else {
                Verdict::Narrowing
            }
        }
        // Numeric.
        ("numeric", "numeric") => match (&from.mods[..], &to.mods[..]) {
            (_, []) => Verdict::BinaryCoercible,
            ([], _) => Verdict::Narrowing,
            (fm, tm) => {
                let (p1, s1) = (fm[0], fm.get(1).copied().unwrap_or(0));
                let (p2, s2) = (tm[0], tm.get(1).copied().unwrap_or(0));
                if s2 < s1 {
                    Verdict::Narrowing
                } else if p2 - s2 < p1 - s1 {
                    Verdict::FailRisk(
                        "values with more integer digits than the new precision allows make the ALTER fail (numeric field overflow)",
                    )
                } else if s2 == s1 {
                    Verdict::BinaryCoercible
                } else {
                    Verdict::Rewrite
                }
            }
        },
        ("numeric", b) if textual(b) => Verdict::Rewrite,
        ("real", "double precision") => Verdict::Rewrite,
        ("double precision", "real") => Verdict::Narrowing,
        // Strings.
        ("varchar", "varchar") | ("varbit", "varbit") if wider() => Verdict::BinaryCoercible,
        ("varchar", "varchar") | ("varbit", "varbit") => Verdict::Narrowing,
        ("varchar", "text") | ("text", "varchar") if len(to).is_none() => Verdict::BinaryCoercible,
        ("text", "varchar") => Verdict::Narrowing,
        ("char", "char") if !wider() => Verdict::Narrowing,
        ("char", _) | (_, "char") => Verdict::Inexact(CHAR_PAD),
        ("text" | "varchar", "int" | "bigint" | "smallint" | "numeric") => {
            Verdict::Inexact(PARSE_TEXT)
        }
        ("cidr", "inet") => Verdict::BinaryCoercible,
        // Times.
        ("timestamp" | "timestamptz" | "time" | "timetz", _) if f == t => {
            if wider() {
                Verdict::BinaryCoercible
            } else {
                Verdict::Narrowing
            }
        }
        ("date", "timestamp") => Verdict::FailRisk("dates after 294276 AD make the ALTER fail"),
        ("date", "timestamptz") => Verdict::Inexact(DATE_TZ),
        ("timestamp", "timestamptz") | ("timestamptz", "timestamp") => Verdict::Inexact(TZ_SHIFT),
        ("timestamp" | "timestamptz", "date") => Verdict::Inexact(DROP_TIME),
        // Documents.
        ("json", "jsonb") => Verdict::Inexact(JSONB),
        // jsonb's text is json's normal form: nothing is lost going back.
        ("jsonb", "json") => Verdict::Rewrite,
        ("jsonb" | "json", b) if textual(b) => Verdict::Rewrite,
        // Other values with one exact text form.
        ("uuid" | "boolean" | "date", b) if textual(b) => Verdict::Rewrite,
        // Enums: the labels survive as text; text becomes a label or fails the ALTER.
        (_, b) if from_enum && textual(b) => Verdict::Rewrite,
        ("text" | "varchar", _) if to_enum => {
            Verdict::FailRisk("a value that is not one of the enum's labels makes the ALTER fail")
        }
        (a, b) if is_builtin(a) && is_builtin(b) && NARROW.contains(&(a, b)) => Verdict::Narrowing,
        _ => Verdict::Unknown,
    }
}

/// Built-in pairs that round or cut values (listed so the message names the narrowing).
const NARROW: &[(&str, &str)] = &[
    ("numeric", "int"),
    ("numeric", "bigint"),
    ("numeric", "smallint"),
    ("real", "int"),
    ("double precision", "int"),
    ("double precision", "bigint"),
];

/// The canonical names [`SqlType::parse`] gives built-in types; anything else is a user type
/// (or one migsafe does not know).
pub fn is_builtin(base: &str) -> bool {
    matches!(
        base,
        "int"
            | "bigint"
            | "smallint"
            | "serial"
            | "bigserial"
            | "smallserial"
            | "numeric"
            | "real"
            | "double precision"
            | "text"
            | "varchar"
            | "char"
            | "\"char\""
            | "name"
            | "boolean"
            | "date"
            | "timestamp"
            | "timestamptz"
            | "time"
            | "timetz"
            | "interval"
            | "uuid"
            | "json"
            | "jsonb"
            | "bytea"
            | "bit"
            | "varbit"
            | "inet"
            | "cidr"
            | "macaddr"
            | "macaddr8"
            | "money"
            | "xml"
            | "tsvector"
            | "tsquery"
            | "oid"
            | "point"
            | "line"
            | "lseg"
            | "box"
            | "path"
            | "polygon"
            | "circle"
            | "int4range"
            | "int8range"
            | "numrange"
            | "tsrange"
            | "tstzrange"
            | "daterange"
    )
}

/// Whether changing a column from `from` to `to` — both as `format_type()` spells them, with
/// whether each is an enum per the catalog — kept every value: apply's tripwire asks this of a
/// type change it observed, to know whether it needed a capture. Derived from [`convert`]:
/// unknown types are lossy.
pub fn lossless(from: &str, from_enum: bool, to: &str, to_enum: bool) -> bool {
    let (f, t) = (SqlType::parse(from), SqlType::parse(to));
    let enums = |ty: &SqlType| (from_enum && *ty == f) || (to_enum && *ty == t);
    convert(&f, &t, &enums).lossless()
}

/// One row of the documented table: source → target, the verdict, and why.
pub struct Row {
    pub from: &'static str,
    pub to: &'static str,
    pub verdict: &'static str,
    pub why: &'static str,
}

/// The table `migsafe rule MS009` documents. Enum rows use the type name `mood`, an enum.
pub const ROWS: &[Row] = &[
    Row {
        from: "smallint",
        to: "int, bigint",
        verdict: "keeps every value (rewrite)",
        why: "every value fits",
    },
    Row {
        from: "int",
        to: "bigint",
        verdict: "keeps every value (rewrite)",
        why: "every value fits",
    },
    Row {
        from: "bigint",
        to: "int, smallint",
        verdict: "may fail",
        why: "a value outside the range fails the ALTER (integer out of range); what converts is exact",
    },
    Row {
        from: "int",
        to: "numeric, numeric(12,2)",
        verdict: "keeps every value (rewrite)",
        why: "unconstrained, or with p − s ≥ 5 / 10 / 19 integer digits for smallint / int / bigint",
    },
    Row {
        from: "int",
        to: "numeric(5,0)",
        verdict: "may fail",
        why: "fewer integer digits than the integer type has: numeric field overflow",
    },
    Row {
        from: "int",
        to: "text, varchar",
        verdict: "keeps every value (rewrite)",
        why: "one exact text form per value",
    },
    Row {
        from: "int",
        to: "double precision",
        verdict: "keeps every value (rewrite)",
        why: "a double holds every integer up to 2^53 exactly",
    },
    Row {
        from: "int",
        to: "real",
        verdict: "loses values",
        why: TO_REAL,
    },
    Row {
        from: "bigint",
        to: "double precision",
        verdict: "loses values",
        why: TO_DOUBLE,
    },
    Row {
        from: "numeric(10,2)",
        to: "numeric(12,2), numeric",
        verdict: "keeps every value (no rewrite)",
        why: "same scale, more or unconstrained precision",
    },
    Row {
        from: "numeric(10,2)",
        to: "numeric(12,4)",
        verdict: "keeps every value (rewrite)",
        why: "scale s′ ≥ s and integer digits p′ − s′ ≥ p − s",
    },
    Row {
        from: "numeric(5,2)",
        to: "numeric(6,4)",
        verdict: "may fail",
        why: "fewer integer digits (2 < 3): 999.99 fails the ALTER (numeric field overflow)",
    },
    Row {
        from: "numeric(10,2)",
        to: "numeric(10,1)",
        verdict: "loses values",
        why: "a smaller scale rounds: 1.25 becomes 1.3",
    },
    Row {
        from: "numeric",
        to: "text",
        verdict: "keeps every value (rewrite)",
        why: "one exact text form per value, scale included",
    },
    Row {
        from: "real",
        to: "double precision",
        verdict: "keeps every value (rewrite)",
        why: "every real is exactly a double: 0.1 reads 0.10000000149011612 but converts back to 0.1",
    },
    Row {
        from: "double precision",
        to: "real",
        verdict: "loses values",
        why: "rounds to 6 significant digits",
    },
    Row {
        from: "varchar(20)",
        to: "varchar(40), varchar, text",
        verdict: "keeps every value (no rewrite)",
        why: "same values, a larger or no limit",
    },
    Row {
        from: "varchar(40)",
        to: "varchar(20)",
        verdict: "loses values",
        why: "a longer value fails the ALTER, but trailing blanks beyond the limit are cut silently (with USING, every longer value is cut)",
    },
    Row {
        from: "text",
        to: "varchar(10)",
        verdict: "loses values",
        why: "as above",
    },
    Row {
        from: "text",
        to: "int",
        verdict: "loses values",
        why: PARSE_TEXT,
    },
    Row {
        from: "char(3)",
        to: "text, varchar, char(5)",
        verdict: "loses values",
        why: CHAR_PAD,
    },
    Row {
        from: "uuid, boolean, date",
        to: "text",
        verdict: "keeps every value (rewrite)",
        why: "one exact text form per value (a date's in the session's DateStyle)",
    },
    Row {
        from: "mood (an enum)",
        to: "text",
        verdict: "keeps every value (rewrite)",
        why: "the labels survive as text (only for enums created in the migrations linted)",
    },
    Row {
        from: "text",
        to: "mood (an enum)",
        verdict: "may fail",
        why: "a value that is not a label fails the ALTER (which needs `USING c::mood`)",
    },
    Row {
        from: "date",
        to: "timestamp",
        verdict: "may fail",
        why: "dates after 294276 AD fail the ALTER (date out of range for timestamp); others become midnight, exactly",
    },
    Row {
        from: "date",
        to: "timestamptz",
        verdict: "loses values",
        why: DATE_TZ,
    },
    Row {
        from: "timestamp",
        to: "timestamptz",
        verdict: "loses values",
        why: TZ_SHIFT,
    },
    Row {
        from: "timestamptz",
        to: "timestamp",
        verdict: "loses values",
        why: TZ_SHIFT,
    },
    Row {
        from: "timestamptz",
        to: "date",
        verdict: "loses values",
        why: DROP_TIME,
    },
    Row {
        from: "timestamp(3)",
        to: "timestamp(6), timestamp",
        verdict: "keeps every value (no rewrite)",
        why: "more fractional digits",
    },
    Row {
        from: "timestamp(6)",
        to: "timestamp(3)",
        verdict: "loses values",
        why: "rounds fractional seconds",
    },
    Row {
        from: "json",
        to: "jsonb",
        verdict: "loses values",
        why: JSONB,
    },
    Row {
        from: "jsonb",
        to: "json",
        verdict: "keeps every value (rewrite)",
        why: "jsonb's text is json's normal form",
    },
    Row {
        from: "cidr",
        to: "inet",
        verdict: "keeps every value (no rewrite)",
        why: "every cidr is an inet",
    },
    Row {
        from: "anything else",
        to: "",
        verdict: "loses values",
        why: "not in this table (user-defined types, an array to a non-array, pairs not checked): taken to lose values",
    },
];

/// The verdict words a [`Verdict`] is documented with.
pub fn verdict_words(v: Verdict) -> &'static str {
    match v {
        Verdict::Rewrite => "keeps every value (rewrite)",
        Verdict::Same | Verdict::BinaryCoercible => "keeps every value (no rewrite)",
        Verdict::FailRisk(_) => "may fail",
        Verdict::Narrowing | Verdict::Inexact(_) | Verdict::Unknown => "loses values",
    }
}

/// The table as Markdown, for the rule's documentation.
pub fn markdown() -> String {
    let mut s = String::from("| from | to | verdict | why |\n|---|---|---|---|\n");
    for r in ROWS {
        let code = |x: &str| {
            x.split(", ")
                .map(|t| match t.strip_suffix(" (an enum)") {
                    Some(e) => format!("`{e}` (an enum)"),
                    None if t.is_empty() || t == "anything else" => t.to_string(),
                    None => format!("`{t}`"),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            code(r.from),
            code(r.to),
            r.verdict,
            r.why
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enums(ty: &SqlType) -> bool {
        ty.base == "mood"
    }

    fn types(cell: &str) -> Vec<SqlType> {
        cell.split(", ")
            .map(|t| SqlType::parse(t.trim_end_matches(" (an enum)")))
            .collect()
    }

    /// The documented table says what the code does, row by row.
    #[test]
    fn the_documented_table_is_the_code_table() {
        for r in ROWS.iter().filter(|r| !r.to.is_empty()) {
            for f in types(r.from) {
                for t in types(r.to) {
                    let v = convert(&f, &t, &enums);
                    assert_eq!(verdict_words(v), r.verdict, "{f} → {t}: {v:?}");
                    if let Verdict::Inexact(why) = v {
                        assert_eq!(why, r.why, "{f} → {t}");
                    }
                }
            }
        }
        for (f, t) in [("mood", "text"), ("text", "mood"), ("point", "text")] {
            let v = convert(&SqlType::parse(f), &SqlType::parse(t), &|_| false);
            assert_eq!(v, Verdict::Unknown, "{f} → {t} with mood unknown");
        }
    }

    #[test]
    fn lossless_reads_format_type() {
        for (a, b) in [
            ("integer", "bigint"),
            ("smallint", "integer"),
            ("integer", "numeric"),
            ("integer", "numeric(12,2)"),
            ("bigint", "numeric(19,0)"),
            ("integer", "text"),
            ("integer", "character varying"),
            ("integer", "character varying(11)"),
            ("character varying(20)", "character varying(40)"),
            ("character varying(20)", "text"),
            ("character varying(20)", "character varying"),
            ("numeric(10,2)", "numeric(12,2)"),
            ("numeric(10,2)", "numeric(12,3)"),
            ("numeric(10,2)", "numeric"),
            ("uuid", "text"),
            ("real", "double precision"),
            ("bit varying(5)", "bit varying(8)"),
            (
                "timestamp(3) without time zone",
                "timestamp without time zone",
            ),
            ("integer[]", "bigint[]"),
            // Fails or keeps every value: after it succeeded, nothing was lost.
            ("bigint", "integer"),
            ("numeric(5,2)", "numeric(6,4)"),
            ("date", "timestamp without time zone"),
        ] {
            assert!(lossless(a, false, b, false), "{a} -> {b}");
        }
        for (a, b) in [
            ("json", "jsonb"),
            ("character varying(40)", "character varying(20)"),
            ("text", "character varying(10)"),
            ("integer", "character varying(5)"),
            ("numeric(10,2)", "numeric(12,1)"),
            ("numeric", "numeric(10,2)"),
            ("double precision", "real"),
            ("bigint", "double precision"),
            ("integer", "real"),
            ("timestamp with time zone", "timestamp without time zone"),
            ("timestamp without time zone", "timestamp with time zone"),
            ("date", "timestamp with time zone"),
            ("character(3)", "text"),
            ("character(3)", "character(5)"),
            ("double precision", "text"),
            ("integer[]", "bigint"),
            ("\"char\"", "text"),
            ("bit(3)", "bit varying"),
            ("mood", "text"),
            ("text", "mood"),
            ("public.mood", "text"),
        ] {
            assert!(!lossless(a, false, b, false), "{a} -> {b}");
        }
        assert!(lossless("mood", true, "text", false));
        assert!(lossless("public.mood", true, "character varying", false));
        assert!(lossless("text", false, "mood", true));
        assert!(!lossless("mood", true, "mood2", true));
        assert!(!lossless("mood[]", false, "text[]", false));
    }
}
