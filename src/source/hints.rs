//! Repository hints: files around a migrations directory that say which runner a project uses
//! (`go.mod` requiring golang-migrate, a `Cargo.toml` depending on sqlx, a Dockerfile that
//! installs a runner, a Gradle or Maven build with Flyway, a `package.json` depending on
//! dbmate). They are looked for in the migrations directory and its ancestors up to the
//! repository root (the first directory holding `.git`); outside a repository, up to
//! [`LEVELS_WITHOUT_REPO`] levels (Maven keeps migrations in `src/main/resources/db/migration`,
//! five below `pom.xml`).
//!
//! A hint only chooses between the runners whose layout fits the directory; detection
//! (`discover.rs`) decides what that means. Unreadable and oversized files give no hint.

use std::path::{Path, PathBuf};

use super::Runner;
use super::layout::cargo_depends_on;

/// How far up hints are looked for when no repository root is found.
const LEVELS_WITHOUT_REPO: usize = 5;
/// How far up the repository root is looked for.
const MAX_LEVELS: usize = 8;
/// Files larger than this are not read for hints.
const MAX_BYTES: u64 = 1 << 20;

/// One runner named by one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hint {
    pub runner: Runner,
    /// The file, by name (`go.mod`, `Dockerfile.migrate`, `build.gradle.kts` …).
    pub from: String,
}

/// The directories hints are read from: `dir` and its ancestors up to the repository root,
/// nearest first.
pub(crate) fn search_dirs(dir: &Path) -> Vec<PathBuf> {
    let base = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let all: Vec<PathBuf> = base
        .ancestors()
        .take(MAX_LEVELS + 1)
        .map(Path::to_path_buf)
        .collect();
    match all.iter().position(|d| d.join(".git").exists()) {
        Some(root) => all[..=root].to_vec(),
        None => all.into_iter().take(LEVELS_WITHOUT_REPO + 1).collect(),
    }
}

/// Every hint around `dir`, nearest directory first, each runner once (its nearest file).
pub(crate) fn find(dir: &Path) -> Vec<Hint> {
    let mut hints: Vec<Hint> = Vec::new();
    for d in search_dirs(dir) {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.metadata()
                    .is_ok_and(|m| m.is_file() && m.len() <= MAX_BYTES)
            })
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            let reader = reader_for(&name);
            let Some(reader) = reader else { continue };
            let Ok(bytes) = std::fs::read(d.join(&name)) else {
                continue;
            };
            for runner in reader(&String::from_utf8_lossy(&bytes)) {
                if !hints.iter().any(|h| h.runner == runner) {
                    hints.push(Hint {
                        runner,
                        from: name.clone(),
                    });
                }
            }
        }
    }
    hints
}

type Reader = fn(&str) -> Vec<Runner>;

/// Which reader understands a file, by its name.
fn reader_for(name: &str) -> Option<Reader> {
    let lower = name.to_ascii_lowercase();
    Some(match lower.as_str() {
        "go.mod" => go_mod,
        "cargo.toml" => cargo_toml,
        "pom.xml" | "build.gradle" | "build.gradle.kts" => java_build,
        "package.json" => package_json,
        "docker-compose.yml" | "docker-compose.yaml" | "compose.yml" | "compose.yaml" => docker,
        _ if lower == "dockerfile"
            || lower.starts_with("dockerfile.")
            || lower.ends_with(".dockerfile")
            || lower == "containerfile" =>
        {
            docker
        }
        _ => return None,
    })
}

/// Module paths in `require` lines (comments dropped). golang-migrate, goose and dbmate are Go
/// programs; `github.com/jackc/tern` is noted by no runner migsafe reads.
fn go_mod(text: &str) -> Vec<Runner> {
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    for (module, runner) in [
        ("github.com/golang-migrate/migrate", Runner::GolangMigrate),
        ("github.com/pressly/goose", Runner::Goose),
        ("github.com/amacneil/dbmate", Runner::Dbmate),
    ] {
        if code.contains(module) {
            out.push(runner);
        }
    }
    out
}

/// Dependencies on sqlx, diesel or refinery (by name, also renamed; `sqlparser` is not sqlx).
fn cargo_toml(text: &str) -> Vec<Runner> {
    [
        ("sqlx", Runner::Sqlx),
        ("diesel", Runner::Diesel),
        ("refinery", Runner::Refinery),
    ]
    .into_iter()
    .filter(|(krate, _)| cargo_depends_on(text, krate))
    .map(|(_, r)| r)
    .collect()
}

/// A Maven or Gradle build with the Flyway plugin or `flyway-core`.
fn java_build(text: &str) -> Vec<Runner> {
    if text.to_ascii_lowercase().contains("flyway") {
        vec![Runner::Flyway]
    } else {
        Vec::new()
    }
}

/// `dbmate` among the dependencies of a `package.json`.
fn package_json(text: &str) -> Vec<Runner> {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    let depends = [
        "dependencies",
        "devDependencies",
        "optionalDependencies",
        "peerDependencies",
    ]
    .iter()
    .any(|k| doc.get(k).and_then(|d| d.get("dbmate")).is_some());
    if depends {
        vec![Runner::Dbmate]
    } else {
        Vec::new()
    }
}

/// Images and installs of a runner in a Dockerfile or Compose file (comment lines skipped).
fn docker(text: &str) -> Vec<Runner> {
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .to_ascii_lowercase();
    let mut out = Vec::new();
    for (needles, runner) in [
        (
            &[
                "migrate/migrate",
                "golang-migrate/migrate",
                "golang-migrate",
            ][..],
            Runner::GolangMigrate,
        ),
        (
            &["flyway/flyway", "redgate/flyway", "flyway-commandline"][..],
            Runner::Flyway,
        ),
        (&["pressly/goose"][..], Runner::Goose),
        (&["amacneil/dbmate"][..], Runner::Dbmate),
        (&["sqlx-cli"][..], Runner::Sqlx),
        (&["diesel_cli"][..], Runner::Diesel),
        (&["refinery_cli"][..], Runner::Refinery),
        (&["sqitch/sqitch"][..], Runner::Sqitch),
    ] {
        if needles.iter().any(|n| code.contains(n)) {
            out.push(runner);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_modules() {
        assert_eq!(
            go_mod("module x\n\nrequire (\n\tgithub.com/golang-migrate/migrate/v4 v4.17.1\n)\n"),
            [Runner::GolangMigrate]
        );
        assert_eq!(
            go_mod("require github.com/pressly/goose/v3 v3.20.0\n"),
            [Runner::Goose]
        );
        assert_eq!(
            go_mod("require github.com/amacneil/dbmate/v2 v2.1.0\n"),
            [Runner::Dbmate]
        );
        assert!(go_mod("require github.com/jackc/tern/v2 v2.1.0\n").is_empty());
        assert!(go_mod("// was github.com/pressly/goose\nmodule x\n").is_empty());
    }

    #[test]
    fn dockerfiles() {
        assert_eq!(
            docker("FROM migrate/migrate:v4.17.1\nCOPY db /migrations\n"),
            [Runner::GolangMigrate]
        );
        assert_eq!(
            docker(
                "RUN go install -tags postgres github.com/golang-migrate/migrate/v4/cmd/migrate@latest\n"
            ),
            [Runner::GolangMigrate]
        );
        assert_eq!(docker("FROM flyway/flyway:10\n"), [Runner::Flyway]);
        assert_eq!(
            docker("RUN cargo install sqlx-cli --no-default-features\n"),
            [Runner::Sqlx]
        );
        assert_eq!(
            docker("RUN go install github.com/pressly/goose/v3/cmd/goose@latest\n"),
            [Runner::Goose]
        );
        assert_eq!(
            docker("COPY --from=ghcr.io/amacneil/dbmate /usr/local/bin/dbmate /bin\n"),
            [Runner::Dbmate]
        );
        assert!(docker("# FROM migrate/migrate\nFROM postgres:16\n").is_empty());
        assert!(reader_for("Dockerfile.migrate").is_some());
        assert!(reader_for("db.Dockerfile").is_some());
        assert!(reader_for("README.md").is_none());
    }

    #[test]
    fn package_manifests() {
        assert_eq!(
            package_json(r#"{"devDependencies": {"dbmate": "^2.0.0"}}"#),
            [Runner::Dbmate]
        );
        assert!(package_json(r#"{"dependencies": {"knex": "3"}}"#).is_empty());
        assert!(package_json("not json").is_empty());
    }

    #[test]
    fn java_builds() {
        assert_eq!(
            java_build("plugins { id(\"org.flywaydb.flyway\") version \"10.0.0\" }"),
            [Runner::Flyway]
        );
        assert!(java_build("<artifactId>liquibase-core</artifactId>").is_empty());
    }
}
