//! The integration recipes in docs/ci/ and `.pre-commit-hooks.yaml` run as written: every
//! `migsafe lint` command line in them is executed by `sh` against a git repository holding
//! migrations-examples/release-20h as a pull request (four migrations on the base branch, the
//! two irreversible ones added on the branch).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use insta_cmd::get_cargo_bin;

const NEW_UP: [&str; 2] = [
    "migrations/20241014090000_drop_accounts_legacy_plan.up.sql",
    "migrations/20241014091000_normalize_invoice_currency.up.sql",
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=migsafe", "-c", "user.email=ci@example.com"])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A repository whose `main` (also `origin/main`) has the first four migrations and whose
/// checked-out branch adds the last two, with the project in `sub` of it ("" for the top).
/// Returns the repository and the base commit.
fn pull_request(sub: &str) -> (tempfile::TempDir, String) {
    let t = tempfile::tempdir().unwrap();
    let src = repo().join("migrations-examples/release-20h");
    let top = t.path();
    let dst = &top.join(sub);
    std::fs::create_dir_all(dst.join("migrations")).unwrap();
    std::fs::copy(src.join("Cargo.toml"), dst.join("Cargo.toml")).unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(src.join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let copy = |files: &[PathBuf]| {
        for f in files {
            std::fs::copy(f, dst.join("migrations").join(f.file_name().unwrap())).unwrap();
        }
    };
    git(top, &["init", "-q"]);
    copy(&files[..8]);
    git(top, &["add", "."]);
    git(top, &["commit", "-qm", "first four migrations"]);
    let base = git(top, &["rev-parse", "HEAD"]);
    git(top, &["update-ref", "refs/remotes/origin/main", &base]);
    git(top, &["checkout", "-qb", "release"]);
    copy(&files[8..]);
    git(top, &["add", "."]);
    git(top, &["commit", "-qm", "the release's two migrations"]);
    (t, base)
}

/// The recipes run at the repository's top, and in a subdirectory holding the project (a job's
/// `working-directory`): paths are reported from the repository root either way, so GitHub
/// and GitLab can place them.
const PLACES: [&str; 2] = ["", "db"];

/// `rel` as the repository names it when the project lies in `sub`.
fn in_repo(sub: &str, rel: &str) -> String {
    if sub.is_empty() {
        rel.to_string()
    } else {
        format!("{sub}/{rel}")
    }
}

/// The `migsafe lint` command lines in the fenced blocks of a document, as a shell would see
/// them (YAML list markers and `run:` keys removed, GitHub expressions filled in).
fn commands(doc: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_block = false;
    for line in doc.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if !in_block || !line.contains("migsafe lint") {
            continue;
        }
        let mut cmd = line.trim().trim_start_matches("- ").trim();
        cmd = cmd.strip_prefix("run:").unwrap_or(cmd).trim();
        cmd = cmd.strip_prefix("entry:").unwrap_or(cmd).trim();
        out.push(cmd.replace("${{ github.base_ref }}", "main"));
    }
    out
}

fn run(dir: &Path, base: &str, cmd: &str) -> Output {
    let bin = get_cargo_bin("migsafe");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env("GITHUB_BASE_REF", "main")
        .env("CI_MERGE_REQUEST_DIFF_BASE_SHA", base)
        .env_remove("MIGSAFE_CONFIG")
        .env_remove("MIGSAFE_FORMAT")
        .output()
        .unwrap()
}

/// Only the branch's two migrations (up or down scripts) are reported, and both of them are,
/// by their path from the repository root.
fn assert_only_new(sub: &str, files: Vec<String>) {
    let new: Vec<String> = NEW_UP.iter().map(|up| in_repo(sub, up)).collect();
    for up in &new {
        assert!(
            files.iter().any(|f| f == up),
            "{up} not reported: {files:?}"
        );
    }
    for f in &files {
        let id = f.split('.').next().unwrap();
        assert!(
            new.iter().any(|up| up.starts_with(id)),
            "{f} is not one of the branch's migrations"
        );
    }
}

fn write_file(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn read_doc(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap()
}

fn json_file(dir: &Path, name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every file a document's JSON names, so a test can see that only the branch's migrations
/// were reported.
fn reported_files(v: &serde_json::Value, key: &str) -> Vec<String> {
    let mut found = Vec::new();
    fn walk(v: &serde_json::Value, key: &str, found: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match x {
                        serde_json::Value::String(s) if k == key => found.push(s.clone()),
                        _ => walk(x, key, found),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, key, found)),
            _ => {}
        }
    }
    walk(v, key, &mut found);
    found.sort();
    found.dedup();
    found
}

#[test]
fn github_actions_recipe_annotates_the_pull_request_and_writes_sarif() {
    for sub in PLACES {
        github_actions_recipe_in(sub);
    }
}

fn github_actions_recipe_in(sub: &str) {
    let (t, base) = pull_request(sub);
    let work = t.path().join(sub);
    let cmds = commands(&read_doc("docs/ci/github-actions.md"));
    assert_eq!(cmds.len(), 3, "{cmds:?}");

    let sarif = run(&work, &base, &cmds[0]);
    assert_eq!(sarif.status.code(), Some(0), "{sarif:?}");
    assert!(sarif.stdout.is_empty(), "the report goes to the file");
    let doc = json_file(&work, "migsafe.sarif");
    assert_eq!(doc["version"], "2.1.0");
    // What upload-sarif receives is valid SARIF (the OASIS schema, see tests/formats.rs).
    let mut schemas = boon::Schemas::new();
    let index = boon::Compiler::new()
        .compile(
            repo()
                .join("tests/sarif-schema-2.1.0.json")
                .to_str()
                .unwrap(),
            &mut schemas,
        )
        .unwrap();
    if let Err(e) = schemas.validate(&doc, index) {
        panic!("{e:#}");
    }
    let results = doc["runs"][0]["results"].as_array().unwrap();
    assert!(!results.is_empty());
    assert!(results.iter().any(|r| r["ruleId"] == "MS002"));
    assert_only_new(sub, reported_files(&doc["runs"][0]["results"], "uri"));
    // Relative URIs say what they are relative to, and the run says where that is.
    for r in results {
        let at = &r["locations"][0]["physicalLocation"]["artifactLocation"];
        assert_eq!(at["uriBaseId"], "%SRCROOT%", "{r}");
    }
    let root = doc["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"]
        .as_str()
        .unwrap();
    let top = t.path().canonicalize().unwrap();
    assert!(
        [t.path(), top.as_path()]
            .iter()
            .any(|p| root == format!("file://{}/", p.display())),
        "{root}"
    );

    let annotate = run(&work, &base, &cmds[1]);
    assert_eq!(annotate.status.code(), Some(1), "{annotate:?}");
    let log = String::from_utf8(annotate.stdout).unwrap();
    for file in NEW_UP {
        let file = in_repo(sub, file);
        assert!(log.contains(&format!("::error file={file},")), "{log}");
    }
    assert!(
        !log.contains("20240930110000"),
        "a base migration was linted:\n{log}"
    );

    // The reviewdog pipe: reviewdog itself is not here, so run what feeds it.
    let feed = cmds[2].split('|').next().unwrap();
    let rd = run(&work, &base, feed);
    assert_eq!(rd.status.code(), Some(1), "{rd:?}");
    let doc: serde_json::Value = serde_json::from_slice(&rd.stdout).unwrap();
    assert!(!doc["diagnostics"].as_array().unwrap().is_empty());
    assert_only_new(sub, reported_files(&doc["diagnostics"], "path"));
}

#[test]
fn gitlab_recipe_writes_code_quality_and_fails_the_job() {
    for sub in PLACES {
        gitlab_recipe_in(sub);
    }
}

fn gitlab_recipe_in(sub: &str) {
    let (t, base) = pull_request(sub);
    let work = t.path().join(sub);
    let cmds = commands(&read_doc("docs/ci/gitlab-ci.md"));
    assert_eq!(cmds.len(), 2, "{cmds:?}");

    let report = run(&work, &base, &cmds[0]);
    assert_eq!(report.status.code(), Some(0), "{report:?}");
    let doc = json_file(&work, "gl-code-quality-report.json");
    let issues = doc.as_array().unwrap();
    assert!(!issues.is_empty());
    let mut fingerprints: Vec<&str> = issues
        .iter()
        .map(|i| i["fingerprint"].as_str().unwrap())
        .collect();
    fingerprints.sort();
    fingerprints.dedup();
    assert_eq!(fingerprints.len(), issues.len(), "fingerprints are unique");
    assert_only_new(sub, reported_files(&doc, "path"));

    let log = run(&work, &base, &cmds[1]);
    assert_eq!(log.status.code(), Some(1), "{log:?}");
    let text = String::from_utf8(log.stdout).unwrap();
    assert!(text.contains("2 migrations checked"), "{text}");
}

#[test]
fn pre_commit_hook_checks_the_staged_files_in_their_project() {
    let (t, base) = pull_request("");
    let hooks = read_doc(".pre-commit-hooks.yaml");
    let field = |name: &str| {
        hooks
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no {name} in .pre-commit-hooks.yaml"))
            .trim()
            .to_string()
    };
    assert_eq!(field("- id"), "migsafe");
    assert_eq!(field("files"), r"\.sql$");
    assert_eq!(field("pass_filenames"), "true");
    // pre-commit appends the matching staged files to the entry.
    let out = run(
        t.path(),
        &base,
        &format!("{} {} {}", field("entry"), NEW_UP[0], NEW_UP[1]),
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("(sqlx from Cargo.toml, 2 migrations, 4 others read but not checked)"),
        "{text}"
    );

    // The recipe narrows the hook to the migrations directory: application SQL that is staged
    // too would otherwise be linted as plain migrations.
    let recipe = read_doc("docs/ci/pre-commit.md");
    let files = recipe
        .lines()
        .find_map(|l| l.trim().strip_prefix("files: "))
        .expect("the recipe sets files:");
    assert_eq!(files, r"^migrations/.*\.sql$");
    write_file(t.path(), "app/queries/purge.sql", "DELETE FROM accounts;\n");
    let staged = [NEW_UP[0], NEW_UP[1], "app/queries/purge.sql"];
    let passed: Vec<&str> = staged
        .into_iter()
        .filter(|f| f.starts_with("migrations/") && f.ends_with(".sql"))
        .collect();
    let out = run(
        t.path(),
        &base,
        &format!("{} {}", field("entry"), passed.join(" ")),
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("purge.sql"), "{text}");
    assert!(text.contains("2 migrations checked"), "{text}");

    let cmds = commands(&recipe);
    assert_eq!(cmds.len(), 1, "{cmds:?}");
    let out = run(t.path(), &base, &cmds[0]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("2 migrations checked"), "{text}");
}
