//! Snapshot stores are shared: another person or machine may write a manifest or a data file.
//! Each test crafts one hostile snapshot and checks that every reader refuses it by name, with
//! exit 2, before anything runs on the target.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use insta_cmd::get_cargo_bin;

struct Project {
    dir: tempfile::TempDir,
    db: String,
}

impl Project {
    /// A target with `accounts` (500 rows) and a complete snapshot of that table.
    fn with_snapshot() -> (Project, String) {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = migsafe::pg::testing::fresh_database("hostile");
        let c = migsafe::pg::testing::cluster();
        std::fs::write(
            dir.path().join("migsafe.toml"),
            format!(
                "[snapshots]\nstore = \"store\"\n\n[[targets]]\nname = \"acct-1\"\nurl = \"{}\"\n",
                c.url(&db)
            ),
        )
        .unwrap();
        let p = Project { dir, db };
        p.client()
            .batch_execute(
                "CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL, plan text);
                 INSERT INTO accounts SELECT g, 'user' || g || '@example.com', 'free'
                 FROM generate_series(1, 500) g;",
            )
            .unwrap();
        let o = p.run(&[
            "snapshot", "create", "--target", "acct-1", "--table", "accounts", "--format", "json",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let m: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let id = m["id"].as_str().unwrap().to_string();
        (p, id)
    }

    /// The store calls the snapshot incomplete (its manifest is refused), rather than a
    /// snapshot with a bad file.
    fn manifest_refused(&self, id: &str) -> bool {
        let o = self.run(&["snapshot", "list", "--format", "json"]);
        let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        list["incomplete"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == id)
    }

    fn client(&self) -> postgres::Client {
        migsafe::pg::testing::cluster().connect(&self.db).unwrap()
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(get_cargo_bin("migsafe"))
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("MIGSAFE_CONFIG")
            .env_remove("MIGSAFE_DATABASE_URL")
            .env_remove("MIGSAFE_SNAPSHOT_STORE")
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .args(args)
            .output()
            .unwrap()
    }

    fn snapshot_dir(&self, id: &str) -> PathBuf {
        self.dir.path().join("store/acct-1").join(id)
    }

    /// Rewrites the manifest with `edit` applied (the data files stay as they are).
    fn edit_manifest(&self, id: &str, edit: impl FnOnce(&mut serde_json::Value)) {
        let path = self.snapshot_dir(id).join("manifest.json");
        let mut m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        edit(&mut m);
        std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    }

    /// The first data object's file, relative to the snapshot directory.
    fn data_file(&self, id: &str) -> String {
        let m: serde_json::Value = serde_json::from_slice(
            &std::fs::read(self.snapshot_dir(id).join("manifest.json")).unwrap(),
        )
        .unwrap();
        m["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["kind"] == "rows")
            .unwrap()["file"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Every way of reading the snapshot refuses it with a message holding `why` (restore and
    /// verify exit 2; a drill records a failed drill, exit 1); the target is untouched.
    fn refused_everywhere(&self, id: &str, why: &str) {
        self.client()
            .batch_execute("DELETE FROM accounts WHERE id <= 10")
            .unwrap();
        let admin = migsafe::pg::testing::cluster().url("postgres");
        for (args, code) in [
            (vec!["snapshot", "restore", id, "--target", "acct-1"], 2),
            (vec!["snapshot", "verify", id], 2),
            (
                vec!["drill", "--snapshot", id, "--database-url", &admin, "-q"],
                if self.manifest_refused(id) { 2 } else { 1 },
            ),
        ] {
            let o = self.run(&args);
            let all = text(&o);
            assert_eq!(o.status.code(), Some(code), "{args:?}\n{all}");
            assert!(all.contains(why), "{args:?}: expected {why:?}\n{all}");
        }
        let mut c = self.client();
        let n: i64 = c
            .query_one("SELECT count(*) FROM accounts", &[])
            .unwrap()
            .get(0);
        assert_eq!(n, 490, "nothing may be restored from a refused snapshot");
        let pwned: bool = c
            .query_one("SELECT to_regclass('public.pwned') IS NOT NULL", &[])
            .unwrap()
            .get(0);
        assert!(!pwned, "SQL from the manifest ran on the target");
    }
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn sql_injected_into_a_manifest_type_never_runs() {
    let (p, id) = Project::with_snapshot();
    p.edit_manifest(&id, |m| {
        for o in m["objects"].as_array_mut().unwrap() {
            if o["kind"] == "rows" {
                o["column_types"][1] = serde_json::json!(
                    "text); CREATE TABLE public.pwned AS SELECT current_user; CREATE TEMP TABLE zz (q text"
                );
            }
        }
    });
    p.refused_everywhere(&id, "column_types[1]");
    // Listed apart, with the reason.
    let o = p.run(&["snapshot", "list"]);
    assert!(text(&o).contains("manifest.json refused"), "{}", text(&o));
}

#[test]
fn unknown_manifest_fields_are_refused() {
    let (p, id) = Project::with_snapshot();
    p.edit_manifest(&id, |m| {
        m["run_before_restore"] = serde_json::json!("DROP TABLE accounts");
    });
    p.refused_everywhere(&id, "unknown field `run_before_restore`");
}

#[test]
fn file_entries_outside_the_snapshot_directory_are_refused() {
    for (path, why) in [
        ("/etc/hostname", "an absolute path"),
        ("../../acct-1.copy", "not a plain relative name"),
        ("x/../../../etc/hostname", "not a plain relative name"),
    ] {
        let (p, id) = Project::with_snapshot();
        let file = p.data_file(&id);
        p.edit_manifest(&id, |m| {
            for f in m["files"].as_array_mut().unwrap() {
                if f["path"] == file.as_str() {
                    f["path"] = serde_json::json!(path);
                }
            }
            for o in m["objects"].as_array_mut().unwrap() {
                if o["file"] == file.as_str() {
                    o["file"] = serde_json::json!(path);
                }
            }
        });
        p.refused_everywhere(&id, why);
    }
}

#[test]
fn a_data_file_that_is_a_symbolic_link_is_refused() {
    let (p, id) = Project::with_snapshot();
    let file = p.snapshot_dir(&id).join(p.data_file(&id));
    // The same bytes, outside the snapshot, private: only the link is wrong.
    let outside = p.dir.path().join("outside.copy");
    std::fs::copy(&file, &outside).unwrap();
    set_mode(&outside, 0o600);
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink(&outside, &file).unwrap();
    p.refused_everywhere(
        &id,
        "a symbolic link: snapshot files must be inside the snapshot directory",
    );
}

#[test]
fn a_world_readable_data_file_is_refused_by_every_reader() {
    let (p, id) = Project::with_snapshot();
    let file = p.snapshot_dir(&id).join(p.data_file(&id));
    set_mode(&file, 0o644);
    p.refused_everywhere(&id, "mode 644 lets other users read production data");
}

#[test]
fn a_fifo_in_place_of_a_data_file_is_refused_without_blocking() {
    let (p, id) = Project::with_snapshot();
    let file = p.snapshot_dir(&id).join(p.data_file(&id));
    std::fs::remove_file(&file).unwrap();
    let c = std::ffi::CString::new(file.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    p.refused_everywhere(&id, "not a regular file");
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_dollar_quoted_payload_in_a_type_never_runs() {
    let (p, id) = Project::with_snapshot();
    p.edit_manifest(&id, |m| {
        for o in m["objects"].as_array_mut().unwrap() {
            if o["kind"] == "rows" {
                o["column_types"][1] = serde_json::json!(
                    "text DEFAULT $$\"$$) ON COMMIT DROP; CREATE TABLE public.pwned AS SELECT current_user AS who; --\""
                );
            }
        }
    });
    p.refused_everywhere(&id, "column_types[1]");
}

#[test]
fn sizes_and_counts_that_cannot_be_real_are_refused_not_summed() {
    let (p, id) = Project::with_snapshot();
    p.edit_manifest(&id, |m| {
        m["files"][0]["bytes"] = serde_json::json!(u64::MAX);
    });
    p.refused_everywhere(&id, "files[0].bytes");
}

#[test]
fn a_manifest_that_is_a_fifo_or_a_link_is_refused_without_blocking() {
    let (p, id) = Project::with_snapshot();
    let manifest = p.snapshot_dir(&id).join("manifest.json");
    let kept = p.dir.path().join("manifest.kept");
    std::fs::rename(&manifest, &kept).unwrap();
    let c = std::ffi::CString::new(manifest.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    p.refused_everywhere(&id, "not a regular file");
    std::fs::remove_file(&manifest).unwrap();
    std::os::unix::fs::symlink(&kept, &manifest).unwrap();
    p.refused_everywhere(&id, "a symbolic link, not a file");
}

#[test]
fn a_snapshot_directory_that_is_a_link_is_not_a_snapshot() {
    let (p, id) = Project::with_snapshot();
    let dir = p.snapshot_dir(&id);
    let elsewhere = p.dir.path().join("elsewhere");
    std::fs::rename(&dir, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &dir).unwrap();
    p.refused_everywhere(
        &id,
        "a symbolic link, not a snapshot directory of this store",
    );
}

/// Words that pass the token check but are not one type name (`text DEFAULT now()` would give
/// the staging column a default) are refused by the server's own type-name parser first.
#[test]
fn a_type_the_server_does_not_read_as_one_type_name_is_refused() {
    let (p, id) = Project::with_snapshot();
    p.edit_manifest(&id, |m| {
        for o in m["objects"].as_array_mut().unwrap() {
            if o["kind"] == "rows" {
                o["column_types"][1] = serde_json::json!("text DEFAULT pg_sleep(1)");
            }
        }
    });
    p.client()
        .batch_execute("DELETE FROM accounts WHERE id <= 10")
        .unwrap();
    let o = p.run(&["snapshot", "restore", &id, "--target", "acct-1"]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(2), "{all}");
    assert!(all.contains("is not a type name"), "{all}");
    let n: i64 = p
        .client()
        .query_one("SELECT count(*) FROM accounts", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 490);
}

/// A full snapshot's dump carries the target's functions, constraints and triggers; a drill on
/// migsafe's own cluster loads it as a role without privileges, so a CHECK that would run a
/// program as superuser while rows load cannot.
#[test]
fn a_drill_loads_a_dump_without_privileges() {
    let (p, _) = Project::with_snapshot();
    let marker = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        marker.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let flag = marker.path().join("pwned");
    p.client()
        .batch_execute(&format!(
            "CREATE FUNCTION ok(int) RETURNS bool LANGUAGE plpgsql AS $f$ BEGIN
               IF current_database() <> '{db}'
                  AND (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
                 EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch {flag}''';
               END IF;
               RETURN true;
             END $f$;
             CREATE TABLE guarded (id int PRIMARY KEY CHECK (ok(id)));
             INSERT INTO guarded VALUES (1), (2);
             CREATE EXTENSION pgcrypto;",
            db = p.db,
            flag = flag.display()
        ))
        .unwrap();
    let o = p.run(&[
        "snapshot", "create", "--target", "acct-1", "--full", "--format", "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let m: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let id = m["id"].as_str().unwrap();
    let o = p.run(&["drill", "--snapshot", id, "-q"]);
    assert!(
        !flag.exists(),
        "the dump's SQL ran as superuser\n{}",
        text(&o)
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("passed"), "{}", text(&o));
}

/// A bare carriage return ends a `--` comment in PostgreSQL (and psql): a statement behind
/// one is seen, classified and flagged, and a directive on a CR-only line is not taken for
/// one on the statement's line.
#[test]
fn a_carriage_return_cannot_hide_a_statement() {
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("migrations");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(t.path().join("sqlx.toml"), "").unwrap();
    std::fs::write(
        m.join("1_init.up.sql"),
        "CREATE TABLE accounts (id bigint PRIMARY KEY, plan text, note text);\n",
    )
    .unwrap();
    std::fs::write(m.join("1_init.down.sql"), "DROP TABLE accounts;\n").unwrap();
    std::fs::write(
        m.join("2_cleanup.up.sql"),
        "-- tidy up comments\rDROP TABLE accounts;\n",
    )
    .unwrap();
    let report = migsafe::lint::lint(&migsafe::lint::LintOptions {
        paths: vec![m.clone()],
        ..Default::default()
    })
    .unwrap();
    let rules: Vec<&str> = report.projects[0].findings.iter().map(|f| f.rule).collect();
    assert!(rules.contains(&"MS001"), "{rules:?}");
    assert!(report.has_errors());

    // CR line endings: the directive is on the line before the first DROP COLUMN only.
    std::fs::write(
        m.join("2_cleanup.up.sql"),
        "SET lock_timeout = '1s';\r-- migsafe:ignore MS002 unused since 2023\rALTER TABLE accounts DROP COLUMN plan;\rALTER TABLE accounts DROP COLUMN note;\r",
    )
    .unwrap();
    let report = migsafe::lint::lint(&migsafe::lint::LintOptions {
        paths: vec![m],
        ..Default::default()
    })
    .unwrap();
    let ms002: Vec<bool> = report.projects[0]
        .findings
        .iter()
        .filter(|f| f.rule == "MS002")
        .map(|f| f.suppressed.is_some())
        .collect();
    assert_eq!(ms002, [true, false]);
}
