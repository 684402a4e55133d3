//! `migsafe lint --format …` and `--output FILE` as a user runs them, and the example output in
//! docs/output/, which is regenerated here and compared with the checked-in pages.
//! Run with `MIGSAFE_UPDATE_DOCS=1 cargo test --test formats` to rewrite the examples.

use std::path::Path;
use std::process::{Command, Output};

use insta_cmd::{assert_cmd_snapshot, get_cargo_bin};
use serde_json::Value;

const RELEASE: &str = "migrations-examples/release-20h";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The binary run in `dir`, with nothing from the caller's CI leaking into paths or colour.
fn migsafe(dir: &Path) -> Command {
    let mut c = Command::new(get_cargo_bin("migsafe"));
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("MIGSAFE_CONFIG")
        .env_remove("MIGSAFE_FORMAT")
        .env_remove("CI_PROJECT_DIR")
        .env_remove("GITHUB_WORKSPACE");
    c
}

/// The absolute root SARIF records (`originalUriBaseIds`) differs between checkouts: the
/// documented example shows a GitHub runner's.
fn mask_root(text: &str) -> String {
    let shown = "file:///home/runner/work/app/app/";
    let canonical = repo().canonicalize().unwrap();
    [repo(), canonical.as_path()]
        .iter()
        .fold(text.to_string(), |t, root| {
            t.replace(&format!("file://{}/", root.display()), shown)
        })
}

fn lint(dir: &Path, args: &[&str]) -> Output {
    migsafe(dir).arg("lint").args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn github() {
    assert_cmd_snapshot!(migsafe(repo()).args(["lint", "--format", "github", RELEASE]));
}

#[test]
fn gitlab() {
    assert_cmd_snapshot!(migsafe(repo()).args(["lint", "--format", "gitlab", RELEASE]));
}

#[test]
fn rdjson() {
    assert_cmd_snapshot!(migsafe(repo()).args(["lint", "--format", "rdjson", RELEASE]));
}

/// The results in full; the rule list (every rule's documentation) is checked in the unit tests.
#[test]
fn sarif() {
    let out = lint(repo(), &["--format", "sarif", RELEASE]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.is_empty());
    let text = stdout(&out);
    validate_sarif(&text);
    let v: Value = serde_json::from_str(&text).unwrap();
    insta::assert_json_snapshot!(v, {
        ".runs[0].tool.driver.rules" => "[every rule]",
        ".runs[0].tool.driver.version" => "[version]",
        ".runs[0].tool.driver.semanticVersion" => "[version]",
        ".runs[0].originalUriBaseIds" => "[the repository root]",
    });
}

/// tests/sarif-schema-2.1.0.json is the OASIS SARIF 2.1.0 schema ("$id"
/// https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json),
/// copied unchanged from the serde-sarif 0.8.0 crate's src/schema.json.
fn validate_sarif(text: &str) {
    let schema = repo().join("tests/sarif-schema-2.1.0.json");
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.enable_format_assertions();
    let index = compiler
        .compile(schema.to_str().unwrap(), &mut schemas)
        .unwrap();
    let instance: Value = serde_json::from_str(text).unwrap();
    if let Err(e) = schemas.validate(&instance, index) {
        panic!("SARIF output does not match the schema:\n{e:#}");
    }
}

#[test]
fn sarif_of_a_clean_project_is_valid_and_exits_0() {
    let t = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let p = t.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("sqlx.toml", "");
    write(
        "migrations/1_init.up.sql",
        "CREATE TABLE accounts (id bigint PRIMARY KEY);\n",
    );
    write("migrations/1_init.down.sql", "DROP TABLE accounts;\n");
    let out = lint(t.path(), &["--format", "sarif", "migrations"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    validate_sarif(&text);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["runs"][0]["results"], Value::Array(vec![]));
}

/// GitLab reads paths relative to the checkout, which the job may not run migsafe in. Outside
/// a git work tree (an exported source tree) `CI_PROJECT_DIR` names it.
#[test]
fn gitlab_paths_are_relative_to_ci_project_dir() {
    let t = tempfile::tempdir().unwrap();
    let project = t.path().join("app");
    let src = repo().join(RELEASE);
    std::fs::create_dir_all(project.join("migrations")).unwrap();
    std::fs::copy(src.join("Cargo.toml"), project.join("Cargo.toml")).unwrap();
    for e in std::fs::read_dir(src.join("migrations")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), project.join("migrations").join(e.file_name())).unwrap();
    }
    let out = migsafe(&project)
        .args(["lint", "--format", "gitlab", "migrations"])
        .env("CI_PROJECT_DIR", t.path())
        .output()
        .unwrap();
    let issues: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!issues.is_empty());
    for i in &issues {
        let path = i["location"]["path"].as_str().unwrap();
        assert!(path.starts_with("app/migrations/"), "{path}");
    }
}

/// An absolute path under the current directory is reported relative to it.
#[test]
fn absolute_paths_become_relative() {
    let abs = repo().join(RELEASE);
    let out = lint(repo(), &["--format", "rdjson", abs.to_str().unwrap()]);
    let relative = lint(repo(), &["--format", "rdjson", RELEASE]);
    assert_eq!(stdout(&out), stdout(&relative));
}

#[test]
fn output_file_holds_the_report_and_stdout_stays_empty() {
    let t = tempfile::tempdir().unwrap();
    for format in ["human", "json", "github", "sarif", "gitlab", "rdjson"] {
        let file = t.path().join(format!("report.{format}"));
        let out = lint(
            repo(),
            &[
                "--format",
                format,
                "--output",
                file.to_str().unwrap(),
                RELEASE,
            ],
        );
        assert_eq!(out.status.code(), Some(1), "{format}");
        assert!(out.stdout.is_empty(), "{format}: {}", stdout(&out));
        assert!(out.stderr.is_empty(), "{format}");
        let written = std::fs::read_to_string(&file).unwrap();
        if format == "human" {
            // The run time in the summary line differs between two runs.
            assert!(written.contains("2 errors, 4 warnings"));
        } else {
            assert_eq!(
                written,
                stdout(&lint(repo(), &["--format", format, RELEASE]))
            );
        }
    }
}

/// `(12 ms)` → `(N ms)`: the human summary line's run time differs on every run.
fn mask_time(text: &str) -> String {
    text.lines()
        .map(|l| match l.rfind(" (") {
            Some(i) if l.ends_with(" ms)") => format!("{} (N ms)", &l[..i]),
            _ => l.to_string(),
        })
        .map(|l| l + "\n")
        .collect()
}

const START: &str = "<!-- example:start -->\n";
const END: &str = "<!-- example:end -->";

/// The page with its example block replaced by `example`.
fn with_example(page: &str, lang: &str, example: &str) -> Option<String> {
    let start = page.find(START)? + START.len();
    let end = start + page[start..].find(END)?;
    Some(format!(
        "{}```{lang}\n{example}```\n{}",
        &page[..start],
        &page[end..]
    ))
}

#[test]
fn docs_examples_match_the_output() {
    let update = std::env::var_os("MIGSAFE_UPDATE_DOCS").is_some();
    let mut stale = Vec::new();
    for (format, lang) in [
        ("human", "text"),
        ("github", "text"),
        ("sarif", "json"),
        ("gitlab", "json"),
        ("rdjson", "json"),
    ] {
        let path = repo().join(format!("docs/output/{format}.md"));
        let page = std::fs::read_to_string(&path).unwrap();
        let out = lint(repo(), &["--format", format, RELEASE]);
        assert_eq!(out.status.code(), Some(1), "{format}");
        let example = match format {
            "human" => mask_time(&stdout(&out)),
            "sarif" => mask_root(&stdout(&out)),
            _ => stdout(&out),
        };
        let Some(expected) = with_example(&page, lang, &example) else {
            panic!("{} has no {START:?} … {END:?} block", path.display());
        };
        if expected != page {
            if update {
                std::fs::write(&path, expected).unwrap();
            } else {
                stale.push(path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "examples in docs/output are out of date; run MIGSAFE_UPDATE_DOCS=1 cargo test --test formats\n{}",
        stale.join("\n")
    );
}

#[test]
fn docs_index_lists_every_page() {
    let dir = repo().join("docs/output");
    let index = std::fs::read_to_string(dir.join("README.md")).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != "README.md" {
            assert!(
                index.contains(&format!("({name})")),
                "README.md lacks {name}"
            );
        }
    }
}

/// A migration file name and a table name (from the migration's SQL) holding ESC, a newline
/// followed by a would-be workflow command, and a right-to-left override; a column name holding
/// DEL and the 8-bit CSI (C1). Names are shown, never obeyed (issue 17).
#[cfg(unix)]
mod hostile_names {
    use super::*;

    const FILE: &str = "2_esc\u{1b}[31mRED\n::error::forged\u{202e}lqs.up.sql";
    const TABLE: &str = "t\u{1b}[2J\n::warning::forged\u{202e}txt";
    const COLUMN: &str = "c\u{7f}\u{9b}31m";

    fn project() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let p = t.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write("sqlx.toml", "");
        write(
            "migrations/1_init.up.sql",
            &format!("CREATE TABLE \"{TABLE}\" (id bigint PRIMARY KEY, \"{COLUMN}\" text);\n"),
        );
        write(
            "migrations/1_init.down.sql",
            &format!("DROP TABLE \"{TABLE}\";\n"),
        );
        write(
            &format!("migrations/{FILE}"),
            &format!(
                "ALTER TABLE \"{TABLE}\" DROP COLUMN \"{COLUMN}\";\nDROP TABLE \"{TABLE}\";\n"
            ),
        );
        t
    }

    /// The report in `format`, after checking that no control or bidirectional character
    /// (other than the format's own line breaks) and no forged line reaches it.
    fn report(format: &str) -> String {
        let t = project();
        let out = lint(t.path(), &["--format", format, "migrations"]);
        assert_eq!(out.status.code(), Some(1), "{format}: {out:?}");
        assert!(out.stderr.is_empty(), "{format}: {out:?}");
        let text = stdout(&out);
        let raw: Vec<char> = text
            .chars()
            .filter(|&c| migsafe::report::escape::is_unsafe(c) && c != '\n')
            .collect();
        assert!(raw.is_empty(), "{format}: {raw:?} in\n{text}");
        for line in text.lines() {
            assert!(
                !line.starts_with("::error::forged") && !line.starts_with("::warning::forged"),
                "{format}: a name started a line of its own:\n{text}"
            );
        }
        text
    }

    /// The names as the human and github formats show them.
    const SHOWN_FILE: &str = r"2_esc\e[31mRED\n::error::forged\u{202e}lqs.up.sql";
    const SHOWN_TABLE: &str = r"t\e[2J\n::warning::forged\u{202e}txt";
    const SHOWN_COLUMN: &str = r"c\x7f\u{9b}31m";

    /// The names as JSON strings hold them.
    const JSON_FILE: &str = r"2_esc\u001b[31mRED\n::error::forged\u202elqs.up.sql";
    const JSON_TABLE: &str = r"t\u001b[2J\n::warning::forged\u202etxt";
    const JSON_COLUMN: &str = r"c\u007f\u009b31m";

    #[test]
    fn human() {
        let text = mask_time(&report("human"));
        for shown in [SHOWN_FILE, SHOWN_TABLE, SHOWN_COLUMN] {
            assert!(text.contains(shown), "{shown} not in\n{text}");
        }
        insta::assert_snapshot!("human", text);
    }

    #[test]
    fn github() {
        let text = report("github");
        // In a command's file property, `:` and `,` are percent-encoded as well.
        let property = SHOWN_FILE.replace(':', "%3A");
        assert!(
            text.contains(&format!("file=migrations/{property},")),
            "{text}"
        );
        for shown in [SHOWN_FILE, SHOWN_TABLE, SHOWN_COLUMN] {
            assert!(text.contains(shown), "{shown} not in\n{text}");
        }
        // Every line is a command, blank, a plain finding or the summary.
        for line in text.lines() {
            assert!(
                line.is_empty()
                    || line.starts_with("::error file=")
                    || line.starts_with("::warning file=")
                    || line.starts_with("error[")
                    || line.starts_with("warning[")
                    || line.starts_with("2 migrations checked"),
                "{line}"
            );
        }
        insta::assert_snapshot!("github", text);
    }

    #[test]
    fn gitlab() {
        let text = report("gitlab");
        let issues: Vec<Value> = serde_json::from_str(&text).unwrap();
        assert!(
            issues
                .iter()
                .all(|i| i["location"]["path"] == format!("migrations/{FILE}").as_str())
        );
        for escaped in [JSON_FILE, JSON_TABLE, JSON_COLUMN] {
            assert!(text.contains(escaped), "{escaped} not in\n{text}");
        }
        insta::assert_snapshot!("gitlab", text);
    }

    #[test]
    fn rdjson() {
        let text = report("rdjson");
        let v: Value = serde_json::from_str(&text).unwrap();
        let diagnostics = v["diagnostics"].as_array().unwrap();
        assert!(!diagnostics.is_empty());
        assert!(
            diagnostics
                .iter()
                .all(|d| d["location"]["path"] == format!("migrations/{FILE}").as_str())
        );
        for escaped in [JSON_FILE, JSON_TABLE, JSON_COLUMN] {
            assert!(text.contains(escaped), "{escaped} not in\n{text}");
        }
        insta::assert_snapshot!("rdjson", text);
    }

    #[test]
    fn sarif() {
        let text = report("sarif");
        validate_sarif(&text);
        for escaped in [JSON_TABLE, JSON_COLUMN] {
            assert!(text.contains(escaped), "{escaped} not in\n{text}");
        }
        // The file name is a URI reference: percent-encoded.
        assert!(
            text.contains("2_esc%1B%5B31mRED%0A%3A%3Aerror%3A%3Aforged%E2%80%AElqs.up.sql"),
            "{text}"
        );
        // Read back and written again the same way (keys sorted: serde_json's Value), without
        // every rule's documentation.
        let mut v: Value = serde_json::from_str(&text).unwrap();
        let driver = &mut v["runs"][0]["tool"]["driver"];
        driver["rules"] = "[every rule]".into();
        driver["version"] = "[version]".into();
        driver["semanticVersion"] = "[version]".into();
        v["runs"][0]["originalUriBaseIds"] = "[the temporary directory]".into();
        insta::assert_snapshot!("sarif", migsafe::report::escape::json_pretty(&v).unwrap());
    }

    #[test]
    fn json() {
        let text = report("json");
        let mut v: Value = serde_json::from_str(&text).unwrap();
        let migration = &v["projects"][0]["migrations"][1];
        assert_eq!(
            migration["up"]["path"],
            format!("migrations/{FILE}").as_str()
        );
        for escaped in [JSON_FILE, JSON_TABLE, JSON_COLUMN] {
            assert!(text.contains(escaped), "{escaped} not in\n{text}");
        }
        // Read back and written again the same way, indented (keys sorted: serde_json's Value).
        v["migsafe_version"] = "[version]".into();
        insta::assert_snapshot!("json", migsafe::report::escape::json_pretty(&v).unwrap());
    }
}
