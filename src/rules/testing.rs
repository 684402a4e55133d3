//! Runs a rule's documented examples: every `## Bad` example must trigger the rule, every
//! `## Good` example must not, and the rendered findings of the bad examples are snapshotted.
//!
//! An example is one or more migrations. Lines of the form `-- example: <directive>` shape it:
//! `-- example: next migration` starts the next migration, `-- example: down` starts the
//! current migration's down script, `-- example: mode <wrapped_tx|single_simple_query|per_statement>`
//! sets the execution mode (default `wrapped_tx`), `-- example: runner <name>` the runner
//! (default sqlx).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::{Finding, RuleConfig, RuleMeta, check};
use crate::classify::{Settings, analyze_project};
use crate::source::{Delimiting, ExecMode, Migration, Project, Runner, Script, checksum};

/// Builds a project from an example and lints it with every rule enabled at its default level,
/// plus `meta` itself (so opt-in rules are exercised).
pub fn lint_example(example: &str, meta: &RuleMeta) -> (Vec<Finding>, HashMap<PathBuf, String>) {
    let mut mode = ExecMode::WrappedTx;
    let mut runner = Runner::Sqlx;
    let mut migrations: Vec<(String, Option<String>)> = vec![(String::new(), None)];
    for line in example.lines() {
        let directive = line.trim().strip_prefix("-- example:").map(str::trim);
        match directive {
            Some("next migration") => migrations.push((String::new(), None)),
            Some("down") => migrations.last_mut().unwrap().1 = Some(String::new()),
            Some(d) if d.starts_with("mode ") => {
                mode = match &d[5..] {
                    "single_simple_query" => ExecMode::SingleSimpleQuery,
                    "per_statement" => ExecMode::PerStatement,
                    _ => ExecMode::WrappedTx,
                }
            }
            Some(d) if d.starts_with("runner ") => {
                runner = Runner::ALL
                    .into_iter()
                    .find(|r| r.as_str() == &d[7..])
                    .expect("known runner")
            }
            _ => {
                let m = migrations.last_mut().unwrap();
                let target = m.1.as_mut().unwrap_or(&mut m.0);
                target.push_str(line);
                target.push('\n');
            }
        }
    }
    let n = migrations.len();
    let mut sources = HashMap::new();
    let migrations = migrations
        .into_iter()
        .enumerate()
        .map(|(i, (up, down))| {
            let version = format!("{}", i + 1);
            let mut script = |text: &str, kind: &str| {
                let path = PathBuf::from(format!("migrations/{version}_example.{kind}.sql"));
                sources.insert(path.clone(), text.to_string());
                Script {
                    path,
                    source: Arc::from(text),
                    range: 0..text.len(),
                    mode,
                    delimiting: Delimiting::Standard,
                    folded: Vec::new(),
                }
            };
            Migration {
                checksum: checksum(&up, down.as_deref()),
                up: script(&up, "up"),
                down: down.as_deref().map(|d| script(d, "down")),
                version,
                name: "example".into(),
                repeatable: false,
            }
        })
        .collect();
    let project = Project {
        runner,
        runner_hint: None,
        root: PathBuf::from("migrations"),
        dirs: Vec::new(),
        migrations,
    };
    let settings = Settings::default();
    // Only the last migration is checked; earlier ones set the scene.
    let analysis =
        analyze_project(project, settings, |m| m.version == n.to_string()).expect("example splits");
    let mut config = RuleConfig::default();
    config.levels.insert(meta.id, Some(meta.severity));
    (check(&analysis, &config, settings), sources)
}

/// Asserts the rule's examples and snapshots what the bad ones render to.
#[track_caller]
pub fn check_rule(meta: &'static RuleMeta) {
    let mut rendered = String::new();
    for bad in meta.examples("Bad") {
        let (findings, sources) = lint_example(&bad, meta);
        let mine: Vec<&Finding> = findings.iter().filter(|f| f.rule == meta.id).collect();
        assert!(
            !mine.is_empty(),
            "{} did not flag its bad example:\n{bad}\nfindings: {findings:#?}",
            meta.id
        );
        for f in mine {
            rendered.push_str(&crate::report::human::render_finding_plain(
                f,
                &sources[&f.path],
            ));
            rendered.push('\n');
        }
    }
    for good in meta.examples("Good") {
        let (findings, _) = lint_example(&good, meta);
        let mine: Vec<&Finding> = findings.iter().filter(|f| f.rule == meta.id).collect();
        assert!(
            mine.is_empty(),
            "{} flagged its good example:\n{good}\nfindings: {mine:#?}",
            meta.id
        );
    }
    insta::assert_snapshot!(format!("{}-{}", meta.id, meta.name), rendered);
}

/// Asserts a history rule's examples, which are file listings: every line names a file and
/// says `on main`, `on main, edited`, `on main, deleted` or `added`. The files follow
/// golang-migrate's `<version>_<name>.up.sql` / `.down.sql` layout under `migrations/`.
#[track_caller]
pub fn check_history_rule(meta: &'static RuleMeta) {
    let mut rendered = String::new();
    for bad in meta.listings("Bad") {
        let (findings, sources) = compare_listing(&bad, meta);
        assert!(
            !findings.is_empty(),
            "{} did not flag its bad example:\n{bad}",
            meta.id
        );
        for f in findings {
            rendered.push_str(&crate::report::human::render_finding_plain(
                &f,
                &sources[&f.path],
            ));
            rendered.push('\n');
        }
    }
    for good in meta.listings("Good") {
        let (findings, _) = compare_listing(&good, meta);
        assert!(
            findings.is_empty(),
            "{} flagged its good example:\n{good}\nfindings: {findings:#?}",
            meta.id
        );
    }
    insta::assert_snapshot!(format!("{}-{}", meta.id, meta.name), rendered);
}

/// Builds both sides of a listing and runs the history checks with only `meta` enabled.
/// Returns its findings and the text of every file either side has (a deleted file is shown
/// as it was).
fn compare_listing(listing: &str, meta: &RuleMeta) -> (Vec<Finding>, HashMap<PathBuf, String>) {
    use crate::history::{Base, Diff, compare};

    let mut base_files = Vec::new();
    let mut now_files = Vec::new();
    let mut diff = Diff::default();
    let mut sources = HashMap::new();
    for line in listing.lines().filter(|l| !l.trim().is_empty()) {
        let (path, state) = line
            .split_once(char::is_whitespace)
            .expect("path and state");
        let path = PathBuf::from(path);
        let text = format!("-- {}\nSELECT 1;\n", path.display());
        let rel = path.strip_prefix("migrations").unwrap().to_path_buf();
        match state.trim() {
            "on main" => {
                base_files.push((path.clone(), text.clone()));
                now_files.push((path.clone(), text.clone()));
            }
            "on main, edited" => {
                let edited = format!("-- {}\nSELECT 2;\n", path.display());
                base_files.push((path.clone(), text));
                now_files.push((path.clone(), edited.clone()));
                diff.changed.insert(rel);
                sources.insert(path, edited);
                continue;
            }
            "on main, deleted" => {
                base_files.push((path.clone(), text.clone()));
                diff.removed.insert(rel);
            }
            "added" => {
                now_files.push((path.clone(), text.clone()));
                diff.changed.insert(rel);
            }
            other => panic!("unknown state `{other}` in\n{listing}"),
        }
        sources.insert(path, text);
    }
    let project = |files: Vec<(PathBuf, String)>| Project {
        runner: Runner::GolangMigrate,
        runner_hint: None,
        root: PathBuf::from("migrations"),
        dirs: Vec::new(),
        migrations: listing_migrations(files),
    };
    let (base, now) = (project(base_files), project(now_files));
    let mut config = RuleConfig::default();
    for rule in crate::rules::history::RULES {
        let m = rule.meta();
        config
            .levels
            .insert(m.id, (m.id == meta.id).then_some(m.severity));
    }
    let base = Base {
        migrations: &base.migrations,
        root: &base.root,
        rev: "main",
        gained: &[],
    };
    (compare(&now, &base, &diff, &config).findings, sources)
}

/// golang-migrate migrations from `<version>_<name>.up.sql` / `.down.sql` files, in version order.
fn listing_migrations(files: Vec<(PathBuf, String)>) -> Vec<Migration> {
    let mut by_version: std::collections::BTreeMap<u64, Migration> = Default::default();
    for (path, text) in files {
        let file = path.file_name().unwrap().to_str().unwrap().to_string();
        let (version, rest) = file.split_once('_').expect("<version>_<name>");
        let (name, down) = match rest.strip_suffix(".down.sql") {
            Some(name) => (name, true),
            None => (rest.strip_suffix(".up.sql").expect(".up.sql"), false),
        };
        let script = Script {
            path,
            range: 0..text.len(),
            source: Arc::from(text),
            mode: ExecMode::SingleSimpleQuery,
            delimiting: Delimiting::Standard,
            folded: Vec::new(),
        };
        let m = by_version
            .entry(version.parse().expect("numeric version"))
            .or_insert_with(|| Migration {
                version: version.to_string(),
                name: name.to_string(),
                up: script.clone(),
                down: None,
                checksum: String::new(),
                repeatable: false,
            });
        if down {
            m.down = Some(script);
        } else {
            m.up = script;
        }
    }
    by_version.into_values().collect()
}
