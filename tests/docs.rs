//! Generated documentation cannot drift: docs/rules/<ID>-<name>.md and docs/rules/README.md are
//! regenerated from the rules' doc comments, and docs/schemas/ from the types that serialise
//! the lint JSON, read migsafe.toml and write snapshot manifests; each is compared with the checked-in file.
//! Run with `MIGSAFE_UPDATE_DOCS=1 cargo test --test docs` to rewrite them.

use std::path::{Path, PathBuf};

use migsafe::rules::registry::ALL;

fn expected() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules");
    let mut files = Vec::new();
    let mut index = String::from(
        "# Rules\n\nGenerated from the rules' doc comments; `migsafe rule ID` prints the same text.\n\n| ID | name | default | flags |\n|---|---|---|---|\n",
    );
    for r in ALL.iter() {
        let m = r.meta();
        let file = format!("{}-{}.md", m.id, m.name);
        index.push_str(&format!(
            "| [{}]({file}) | {} | {} | {} |\n",
            m.id,
            m.name,
            m.default_level(),
            m.summary().replace('|', "\\|")
        ));
        files.push((dir.join(file), m.page()));
    }
    index.push_str(
        "\n## Suppressing a finding\n\n\
         `-- migsafe:ignore <rule IDs or names> <reason>` (or in a `/* … */` comment, any case) on\n\
         the line before a statement, or at the end of its last line, suppresses those rules'\n\
         findings on that statement: `-- migsafe:ignore MS002,MS125 never written`. The reason is\n\
         required. A directive that cannot be read is [MS903](MS903-invalid-ignore.md); one that\n\
         suppresses nothing is [MS904](MS904-unused-ignore.md). See\n\
         [Suppressing one finding](../../README.md#suppressing-one-finding).\n",
    );
    files.push((dir.join("README.md"), index));
    files
}

fn schemas() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schemas");
    let json = |s: schemars::Schema| serde_json::to_string_pretty(&s).unwrap() + "\n";
    vec![
        (
            dir.join("lint-output.schema.json"),
            json(migsafe::report::json::schema()),
        ),
        (
            dir.join("migsafe.toml.schema.json"),
            json(migsafe::config::schema()),
        ),
        (
            dir.join("plan-output.schema.json"),
            json(migsafe::plan::schema()),
        ),
        (
            dir.join("snapshot-manifest.schema.json"),
            json(migsafe::snapshot::manifest::schema()),
        ),
    ]
}

/// Rewrites the files under `MIGSAFE_UPDATE_DOCS`, otherwise lists those that differ and, for
/// a generated directory, files in it that nothing generates.
fn check_generated(files: Vec<(PathBuf, String)>, dir: &str) {
    let update = std::env::var_os("MIGSAFE_UPDATE_DOCS").is_some();
    let mut stale = Vec::new();
    for (path, content) in &files {
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        } else if std::fs::read_to_string(path).ok().as_deref() != Some(content.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let known: Vec<&PathBuf> = files.iter().map(|(p, _)| p).collect();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        if !known.contains(&&entry.path()) {
            stale.push(format!("{} (not generated)", entry.path().display()));
        }
    }
    assert!(
        stale.is_empty(),
        "generated docs are out of date; run MIGSAFE_UPDATE_DOCS=1 cargo test --test docs\n{}",
        stale.join("\n")
    );
}

#[test]
fn rule_docs_match_the_rules() {
    check_generated(expected(), "docs/rules");
}

#[test]
fn json_schemas_match_the_types() {
    check_generated(schemas(), "docs/schemas");
}

fn validator(schema: &serde_json::Value) -> (boon::Schemas, boon::SchemaIndex) {
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler
        .add_resource("urn:migsafe-test", schema.clone())
        .unwrap();
    let index = compiler.compile("urn:migsafe-test", &mut schemas).unwrap();
    (schemas, index)
}

/// The schema describes what migsafe really writes: the JSON of every bundled example
/// validates against it.
#[test]
fn lint_json_output_validates_against_its_schema() {
    let schema = serde_json::to_value(migsafe::report::json::schema()).unwrap();
    let (schemas, index) = validator(&schema);
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations-examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&examples).unwrap().flatten() {
        if !entry.path().is_dir() {
            continue;
        }
        let report = migsafe::lint::lint(&migsafe::lint::LintOptions {
            executing: false,
            paths: vec![entry.path()],
            ..Default::default()
        })
        .unwrap();
        let doc: serde_json::Value =
            serde_json::from_str(&migsafe::report::json::render(&report)).unwrap();
        if let Err(e) = schemas.validate(&doc, index) {
            panic!("{}: {e:#}", entry.path().display());
        }
        checked += 1;
    }
    assert!(checked >= 9, "only {checked} examples");
    // And the schema is not vacuous: a document missing its summary fails.
    let mut broken: serde_json::Value = serde_json::from_str(&migsafe::report::json::render(
        &migsafe::lint::lint(&migsafe::lint::LintOptions {
            executing: false,
            paths: vec![examples.join("release-20h")],
            ..Default::default()
        })
        .unwrap(),
    ))
    .unwrap();
    broken.as_object_mut().unwrap().remove("summary");
    assert!(schemas.validate(&broken, index).is_err());
}

/// A complete migsafe.toml is accepted by the schema and by migsafe; a typo is rejected by both.
#[test]
fn config_schema_agrees_with_the_config_reader() {
    let schema = serde_json::to_value(migsafe::config::schema()).unwrap();
    let (schemas, index) = validator(&schema);
    let good = r#"
runner = "golang-migrate"
migrations_dir = "db/migrations"
start_after = "20240101000000"
postgres_version = 14

[rules]
MS002 = "warning"
add-column-serial = "off"
"#;
    let bad_key = "runer = \"sqlx\"\n";
    let bad_rule = "[rules]\nMS999 = \"off\"\n";
    let bad_level = "[rules]\nMS002 = \"loud\"\n";
    let path = Path::new("migsafe.toml");
    let as_json =
        |text: &str| serde_json::to_value(toml::from_str::<toml::Value>(text).unwrap()).unwrap();
    assert!(migsafe::config::Config::parse(good, path).is_ok());
    if let Err(e) = schemas.validate(&as_json(good), index) {
        panic!("{e:#}");
    }
    for bad in [bad_key, bad_rule, bad_level] {
        assert!(migsafe::config::Config::parse(bad, path).is_err(), "{bad}");
        assert!(schemas.validate(&as_json(bad), index).is_err(), "{bad}");
    }
}
