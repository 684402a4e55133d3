//! Column types, normalised so that aliases compare equal (`int4` = `integer` = `int`,
//! `character varying(20)` = `varchar(20)`).

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlType {
    /// Canonical base name, lower case: `int`, `bigint`, `varchar`, `numeric`, `timestamptz` …
    pub base: String,
    /// Type modifiers: `varchar(20)` → `[20]`, `numeric(10,2)` → `[10, 2]`.
    pub mods: Vec<i64>,
    pub array: bool,
}

impl Serialize for SqlType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Serialised as its SQL spelling (`varchar(20)`, `int[]`).
impl schemars::JsonSchema for SqlType {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SqlType".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A column type in its canonical SQL spelling, e.g. `varchar(20)`, `numeric(10,2)`, `int[]`."
        })
    }
}

impl fmt::Display for SqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)?;
        if !self.mods.is_empty() {
            let m: Vec<String> = self.mods.iter().map(i64::to_string).collect();
            write!(f, "({})", m.join(","))?;
        }
        if self.array {
            f.write_str("[]")?;
        }
        Ok(())
    }
}

impl SqlType {
    /// Parses a type as written in SQL (`character varying(255)`, `NUMERIC(10, 2)`, `int[]`,
    /// `timestamp with time zone`) or as `format_type()` spells it (`timestamp(3) without time
    /// zone`, `bit varying(5)`, `"char"`). A name it does not know (a user type such as an enum)
    /// is kept as written, lower case.
    pub fn parse(text: &str) -> SqlType {
        let lower = text.trim().to_ascii_lowercase();
        let lower = lower
            .strip_prefix("pg_catalog.")
            .map_or(lower.as_str(), str::trim_start)
            .to_string();
        let (mut head, array) = match lower.strip_suffix("[]") {
            Some(h) => (h.trim_end().to_string(), true),
            None => (lower.clone(), false),
        };
        let mut mods = Vec::new();
        if let (Some(open), Some(close)) = (head.find('('), head.rfind(')'))
            && open < close
        {
            mods = head[open + 1..close]
                .split(',')
                .filter_map(|m| m.trim().parse().ok())
                .collect();
            head = format!("{}{}", &head[..open], &head[close + 1..]);
        }
        let words: Vec<&str> = head.split_whitespace().collect();
        let joined = words.join(" ");
        // `"char"` (quoted) is the one-byte type, not `char(n)`.
        let unquoted = if joined == "\"char\"" {
            joined.as_str()
        } else {
            joined.trim_matches('"')
        };
        let base = match unquoted {
            "int" | "integer" | "int4" => "int",
            "bigint" | "int8" => "bigint",
            "smallint" | "int2" => "smallint",
            "serial" | "serial4" => "serial",
            "bigserial" | "serial8" => "bigserial",
            "smallserial" | "serial2" => "smallserial",
            "character varying" | "varchar" => "varchar",
            "character" | "char" | "bpchar" => "char",
            "decimal" | "numeric" => "numeric",
            "real" | "float4" => "real",
            "double precision" | "float8" | "double" => "double precision",
            "float" => {
                if mods.first().is_some_and(|&p| p <= 24) {
                    "real"
                } else {
                    "double precision"
                }
            }
            "boolean" | "bool" => "boolean",
            "timestamp" | "timestamp without time zone" => "timestamp",
            "timestamptz" | "timestamp with time zone" => "timestamptz",
            "time" | "time without time zone" => "time",
            "timetz" | "time with time zone" => "timetz",
            "bit varying" | "varbit" => "varbit",
            other => other,
        }
        .to_string();
        if base == "double precision" || base == "real" {
            mods.clear();
        }
        SqlType { base, mods, array }
    }

    pub fn is_serial(&self) -> bool {
        matches!(self.base.as_str(), "serial" | "bigserial" | "smallserial")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_normalise() {
        assert_eq!(
            SqlType::parse("character varying(255)"),
            SqlType::parse("VARCHAR(255)")
        );
        assert_eq!(SqlType::parse("INT4").base, "int");
        assert_eq!(
            SqlType::parse("timestamp with time zone").base,
            "timestamptz"
        );
        assert_eq!(SqlType::parse("numeric(10, 2)").mods, vec![10, 2]);
        assert_eq!(SqlType::parse("int[]").to_string(), "int[]");
    }

    /// What `format_type(atttypid, atttypmod)` returns, as the tripwire reads it.
    #[test]
    fn format_type_spellings_parse() {
        for (text, want) in [
            ("character varying(20)", "varchar(20)"),
            ("character varying", "varchar"),
            ("timestamp with time zone", "timestamptz"),
            ("timestamp without time zone", "timestamp"),
            ("timestamp(3) without time zone", "timestamp(3)"),
            ("time(3) with time zone", "timetz(3)"),
            ("integer[]", "int[]"),
            ("numeric(10,2)", "numeric(10,2)"),
            ("bit varying(5)", "varbit(5)"),
            ("bit(3)", "bit(3)"),
            ("character(3)", "char(3)"),
            ("double precision", "double precision"),
            ("real", "real"),
            ("smallint", "smallint"),
            ("bigint[]", "bigint[]"),
            ("\"char\"", "\"char\""),
            ("mood", "mood"),
            ("public.mood", "public.mood"),
            ("pg_catalog.int4", "int"),
        ] {
            assert_eq!(SqlType::parse(text).to_string(), want, "{text}");
        }
        assert_ne!(SqlType::parse("\"char\""), SqlType::parse("character(1)"));
    }
}
