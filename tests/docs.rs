//! Generated documentation cannot drift: docs/rules/<ID>-<name>.md and docs/rules/README.md are
//! regenerated from the rules' doc comments and compared with the checked-in files.
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
    files.push((dir.join("README.md"), index));
    files
}

#[test]
fn rule_docs_match_the_rules() {
    let update = std::env::var_os("MIGSAFE_UPDATE_DOCS").is_some();
    let mut stale = Vec::new();
    for (path, content) in expected() {
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &content).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules");
    let known: Vec<PathBuf> = expected().into_iter().map(|(p, _)| p).collect();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        if !known.contains(&entry.path()) {
            stale.push(format!("{} (no such rule)", entry.path().display()));
        }
    }
    assert!(
        stale.is_empty(),
        "docs/rules is out of date; run MIGSAFE_UPDATE_DOCS=1 cargo test --test docs\n{}",
        stale.join("\n")
    );
}
