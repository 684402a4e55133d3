//! SARIF 2.1.0 output, for GitHub code scanning (`github/codeql-action/upload-sarif`) and other
//! SARIF viewers: one run whose driver describes the rules the results refer to (with their
//! documentation), and one result per unsuppressed finding. Plain serde structs: migsafe uses a small part of the format.

use serde::Serialize;

use super::Report;
use super::location::{self, Located};
use crate::rules::registry::ALL;
use crate::rules::{RuleMeta, Severity};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Renders `report`, whose paths [`Report::rebase`] made repository-relative.
pub fn render(report: &Report) -> String {
    let located = location::findings(report);
    // Only the rules that have results: the full documentation of all of them would make every
    // upload a quarter of a megabyte for nothing.
    let rules: Vec<&RuleMeta> = ALL
        .iter()
        .map(|r| r.meta())
        .filter(|m| located.iter().any(|l| l.finding.rule == m.id))
        .collect();
    // Relative URIs name their base, as GitHub documents for code scanning: `%SRCROOT%`, the
    // repository root, whose absolute form the run records for other viewers.
    let root = report.root.as_deref();
    let log = Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: "migsafe",
                    version: env!("CARGO_PKG_VERSION"),
                    semantic_version: env!("CARGO_PKG_VERSION"),
                    information_uri: env!("CARGO_PKG_REPOSITORY"),
                    rules: rules.iter().map(|m| rule(m)).collect(),
                },
            },
            // `Finding::start`/`end` count characters (Unicode scalar values).
            original_uri_base_ids: root.map(|r| {
                std::collections::BTreeMap::from([(
                    SRCROOT,
                    ArtifactLocation {
                        uri: directory_uri(r),
                        uri_base_id: None,
                    },
                )])
            }),
            column_kind: "unicodeCodePoints",
            results: located
                .iter()
                .map(|l| result(l, &rules, root.is_some()))
                .collect(),
        }],
    };
    // Every value serialises; a failure here would be a bug in the structs above. Control and
    // bidirectional characters in names are written as `\u` escapes (report::escape).
    let mut out = super::escape::json_pretty(&log).expect("SARIF serialises");
    out.push('\n');
    out
}

#[derive(Serialize)]
struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    #[serde(skip_serializing_if = "Option::is_none")]
    original_uri_base_ids: Option<std::collections::BTreeMap<&'static str, ArtifactLocation>>,
    column_kind: &'static str,
    results: Vec<SarifResult>,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    semantic_version: &'static str,
    information_uri: &'static str,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: &'static str,
    name: &'static str,
    short_description: Text,
    full_description: Text,
    help: Help,
    help_uri: String,
    default_configuration: Configuration,
    properties: RuleProperties,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    /// SARIF's default is `true`; only opt-in rules say otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    enabled: Option<bool>,
    level: &'static str,
}

#[derive(Serialize)]
struct RuleProperties {
    tags: Vec<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_index: Option<usize>,
    level: &'static str,
    message: Text,
    locations: [SarifLocation; 1],
    partial_fingerprints: Fingerprints,
}

#[derive(Serialize)]
struct Fingerprints {
    /// The one fingerprint GitHub reads. migsafe's does not hash the line, despite the name:
    /// it stays put when lines above the finding change, which is what the key is for.
    #[serde(rename = "primaryLocationLineHash")]
    primary: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifLocation {
    physical_location: PhysicalLocation,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

/// The base relative result URIs are resolved against.
const SRCROOT: &str = "%SRCROOT%";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_column: Option<usize>,
    end_line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_column: Option<usize>,
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn rule(m: &RuleMeta) -> Rule {
    let doc = m.documentation();
    Rule {
        id: m.id,
        name: m.name,
        short_description: Text { text: m.summary() },
        full_description: Text {
            text: section(&doc, "Why it matters").unwrap_or_else(|| m.summary()),
        },
        // Viewers that cannot render Markdown get the one-line remedy and the page's address.
        help: Help {
            text: format!("{}\n\n{}", m.help, m.url()),
            markdown: doc,
        },
        help_uri: m.url(),
        default_configuration: Configuration {
            enabled: (!m.default_enabled).then_some(false),
            level: level(m.severity),
        },
        properties: RuleProperties {
            tags: vec![family(m.id)],
        },
    }
}

/// The family an ID's hundreds digit names (src/rules/registry.rs), as a tag to filter on.
fn family(id: &str) -> &'static str {
    match id.as_bytes().get(2) {
        Some(b'0') => "data",
        Some(b'1') => "locking",
        Some(b'2') => "compatibility",
        Some(b'3') => "history",
        _ => "migsafe",
    }
}

/// The text under a `## heading` of a rule's documentation, its lines joined into paragraphs.
fn section(doc: &str, heading: &str) -> Option<String> {
    let body = doc.split(&format!("## {heading}\n")).nth(1)?;
    let body = body.split("\n## ").next().unwrap_or(body).trim();
    let paragraphs: Vec<String> = body
        .split("\n\n")
        .map(|p| p.split('\n').map(str::trim).collect::<Vec<_>>().join(" "))
        .collect();
    Some(paragraphs.join("\n\n"))
}

fn result(l: &Located, rules: &[&RuleMeta], rooted: bool) -> SarifResult {
    let f = l.finding;
    let (start_column, end_column) = if l.is_point() {
        // An empty range marks a whole file or line; an empty column span would show nothing.
        (None, None)
    } else {
        (Some(f.start.column), Some(f.end.column))
    };
    SarifResult {
        rule_id: f.rule,
        rule_index: rules.iter().position(|m| m.id == f.rule),
        level: level(f.severity),
        message: Text {
            text: l.message_with_help(),
        },
        locations: [SarifLocation {
            physical_location: PhysicalLocation {
                artifact_location: artifact(&l.path, rooted),
                region: Region {
                    start_line: f.start.line,
                    start_column,
                    end_line: if l.is_point() {
                        f.start.line
                    } else {
                        f.end.line
                    },
                    end_column,
                },
            },
        }],
        partial_fingerprints: Fingerprints {
            primary: l.fingerprint.clone(),
        },
    }
}

/// A repository-relative path is a URI relative to `%SRCROOT%`; a path outside the
/// repository stays absolute (`file://`), without a base.
fn artifact(path: &str, rooted: bool) -> ArtifactLocation {
    let relative = !path.starts_with('/');
    ArtifactLocation {
        uri: uri(path),
        uri_base_id: (rooted && relative).then_some(SRCROOT),
    }
}

/// An absolute directory as a `file://` URI ending in `/`, as `originalUriBaseIds` requires.
fn directory_uri(dir: &std::path::Path) -> String {
    let mut u = uri(&dir.display().to_string());
    if !u.ends_with('/') {
        u.push('/');
    }
    u
}

/// A path as a URI reference: bytes outside RFC 3986's unreserved set (and `/`) are
/// percent-encoded, so spaces, `%`, `#` and non-ASCII names stay part of the path. Relative
/// paths stay relative (to the repository root); absolute ones become `file://` URIs.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push_str("file://");
    }
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::report::testing::{self, Fixture};

    fn render(f: &Fixture) -> Value {
        let text = super::render(&f.report);
        validate(&text);
        serde_json::from_str(&text).unwrap()
    }

    /// Validates against the OASIS SARIF 2.1.0 schema shipped in tests/ (see tests/formats.rs
    /// for where it comes from), with `format` checked too (URIs, for one).
    fn schema_errors(text: &str) -> Option<String> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sarif-schema-2.1.0.json");
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        compiler.enable_format_assertions();
        let index = compiler.compile(path, &mut schemas).unwrap();
        let instance: Value = serde_json::from_str(text).unwrap();
        schemas
            .validate(&instance, index)
            .err()
            .map(|e| format!("{e:#}"))
    }

    fn validate(text: &str) {
        if let Some(e) = schema_errors(text) {
            panic!("SARIF output does not match the schema:\n{e}\n{text}");
        }
    }

    /// The results and the run around them; the rule list is checked on its own.
    macro_rules! snap {
        ($value:expr) => {
            insta::assert_json_snapshot!($value, {
                ".runs[0].tool.driver.rules" => "[every rule]",
                ".runs[0].tool.driver.version" => "[version]",
                ".runs[0].tool.driver.semanticVersion" => "[version]",
                ".runs[0].originalUriBaseIds" => "[the repository root]",
            })
        };
    }

    #[test]
    fn release_20h() {
        snap!(render(&testing::release_20h()));
    }

    #[test]
    fn hostile_names_and_suppression() {
        let v = render(&testing::hostile());
        let results = v["runs"][0]["results"].as_array().unwrap();
        assert!(
            results
                .iter()
                .all(|r| !r["message"]["text"].as_str().unwrap().contains("legacy:")),
            "suppressed finding emitted"
        );
        snap!(v);
    }

    #[test]
    fn no_findings() {
        let v = render(&testing::clean());
        assert_eq!(v["runs"][0]["results"], Value::Array(vec![]));
        snap!(v);
    }

    #[test]
    fn the_rules_of_the_results_are_described_in_registry_order() {
        let v = render(&testing::release_20h());
        let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
        let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
        let mut used: Vec<&str> = v["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["ruleId"].as_str().unwrap())
            .collect();
        used.sort();
        used.dedup();
        assert_eq!(ids, used);
        let ms002 = rules.iter().find(|r| r["id"] == "MS002").unwrap();
        insta::assert_json_snapshot!(ms002);
        let clean = render(&testing::clean());
        assert_eq!(
            clean["runs"][0]["tool"]["driver"]["rules"],
            serde_json::json!([])
        );
    }

    #[test]
    fn every_rule_has_descriptions_code_scanning_accepts() {
        for r in ALL.iter() {
            let m = r.meta();
            let rule = serde_json::to_value(rule(m)).unwrap();
            let short = rule["shortDescription"]["text"].as_str().unwrap();
            // GitHub's limit for shortDescription.
            assert!(!short.is_empty() && short.len() <= 1024, "{}", m.id);
            assert!(!rule["fullDescription"]["text"].as_str().unwrap().is_empty());
            assert!(rule["helpUri"].as_str().unwrap().ends_with(".md"));
        }
    }

    #[test]
    fn result_points_at_its_rule() {
        let v = render(&testing::release_20h());
        let rules = &v["runs"][0]["tool"]["driver"]["rules"];
        for r in v["runs"][0]["results"].as_array().unwrap() {
            let i = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[i]["id"], r["ruleId"]);
        }
    }

    #[test]
    fn the_schema_check_rejects_what_it_should() {
        let doc = |uri: &str, line: u32| {
            format!(
                r#"{{"version": "2.1.0", "runs": [{{"tool": {{"driver": {{"name": "x"}}}},
                "results": [{{"message": {{"text": "m"}}, "locations": [{{"physicalLocation":
                {{"artifactLocation": {{"uri": "{uri}"}}, "region": {{"startLine": {line}}}}}}}]}}]}}]}}"#
            )
        };
        assert_eq!(schema_errors(&doc("a%20b", 1)), None);
        assert!(schema_errors(&doc("a b", 1)).is_some(), "a space in a URI");
        assert!(schema_errors(&doc("a", 0)).is_some(), "line 0");
    }

    #[test]
    fn uris_are_percent_encoded() {
        assert_eq!(
            uri("migrations/1 café#%.sql"),
            "migrations/1%20caf%C3%A9%23%25.sql"
        );
        assert_eq!(uri("/abs/x.sql"), "file:///abs/x.sql");
    }
}
