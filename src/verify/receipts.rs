//! Down-path receipts: which migrations' down scripts were proven, for exactly which contents and
//! PostgreSQL major version. Kept in the project (`.migsafe/receipts.json`), committed to git, so
//! the file is sorted and pretty-printed for stable diffs, and written atomically.
//!
//! Each receipt also names the schema it was proven on (`schema_before`, a
//! [`crate::drift::schema_id`]) and the one its up left (`schema_after`): plan follows that
//! chain from a target's live schema to tell "proven on this schema" from "proven elsewhere".
//! `schemas` records which schema an applied set of migrations builds, for plan's drift status.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The version of the file format this migsafe reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// Evidence that a migration's down-path was proven, keyed by its exact contents.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Receipt {
    /// Migration id (`<version>_<name>`).
    pub id: String,
    pub up_sha256: String,
    /// `None` when the migration has no down script (it cannot pass, so never in a receipt).
    pub down_sha256: Option<String>,
    pub postgres_major: u32,
    pub migsafe_version: String,
    /// RFC 3339, UTC.
    pub verified_at: String,
    /// The schema the round trip started from (a `drift::schema_id`); absent in receipts of
    /// migsafe before 0.2, which count as proven elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_before: Option<String>,
    /// The schema after the up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_after: Option<String>,
    /// Where that schema came from: `replay` (the repository's migrations on an empty
    /// database) or `target NAME` (`migsafe verify --target`, from the target's own schema).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proven_on: Option<String>,
    /// The `[drift] ignore` objects left out of the schema ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift_ignore: Vec<String>,
}

/// The schema an applied set of migrations builds, as `migsafe verify` (replaying them) or
/// `migsafe drift` (building them) found it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExpectedSchema {
    /// `drift::applied_id` of the applied set.
    pub applied_sha256: String,
    /// The newest migration of the set, and how many there are (for people reading the file).
    pub last_applied: Option<String>,
    pub applied: usize,
    pub postgres_major: u32,
    /// The `drift::schema_id` those migrations build.
    pub schema: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift_ignore: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Receipts {
    /// Always [`SCHEMA_VERSION`] once loaded; a file with another version is refused.
    pub schema_version: u32,
    pub receipts: Vec<Receipt>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schemas: Vec<ExpectedSchema>,
}

impl Default for Receipts {
    fn default() -> Receipts {
        Receipts {
            schema_version: SCHEMA_VERSION,
            receipts: vec![],
            schemas: vec![],
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("{path}: cannot read receipts: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a receipts file: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{path}: cannot write receipts: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The default location, relative to the project root.
pub const DEFAULT_PATH: &str = ".migsafe/receipts.json";

impl Receipts {
    /// Reads `path`; a missing file is an empty set.
    pub fn load(path: &Path) -> Result<Receipts, ReceiptError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Receipts::default()),
            Err(source) => {
                return Err(ReceiptError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let invalid = |message: String| ReceiptError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let mut r: Receipts = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        if r.schema_version != SCHEMA_VERSION {
            return Err(invalid(format!(
                "schema_version {} is not supported (this migsafe reads {SCHEMA_VERSION})",
                r.schema_version
            )));
        }
        sort(&mut r.receipts);
        sort_schemas(&mut r.schemas);
        Ok(r)
    }

    /// Writes atomically: a temp file in the same directory, fsynced, renamed over `path`, and
    /// the directory fsynced so that the rename itself survives a crash. Creates missing parent
    /// directories. A reader sees the old file or the new one, never a partial one.
    pub fn save(&self, path: &Path) -> Result<(), ReceiptError> {
        let write_err = |source: std::io::Error| ReceiptError::Write {
            path: path.to_path_buf(),
            source,
        };
        let mut out = self.clone();
        out.schema_version = SCHEMA_VERSION;
        sort(&mut out.receipts);
        sort_schemas(&mut out.schemas);
        let mut text = serde_json::to_string_pretty(&out).expect("receipts serialize");
        text.push('\n');

        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(write_err)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "receipts.json".into());
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(write_err)?;
        tmp.write_all(text.as_bytes()).map_err(write_err)?;
        // The file is meant to be committed and read by CI: the temp file's 0600 is too tight.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
                .map_err(write_err)?;
        }
        tmp.as_file().sync_all().map_err(write_err)?;
        tmp.persist(path).map_err(|e| write_err(e.error))?;
        #[cfg(unix)]
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(write_err)?;
        Ok(())
    }

    /// The receipt for exactly these contents on this PostgreSQL major version, if any. A
    /// migration without a down script never has one.
    pub fn valid_for(
        &self,
        id: &str,
        up_sha256: &str,
        down_sha256: Option<&str>,
        postgres_major: u32,
    ) -> Option<&Receipt> {
        let down = down_sha256?;
        self.receipts.iter().find(|r| {
            r.id == id
                && r.up_sha256 == up_sha256
                && r.down_sha256.as_deref() == Some(down)
                && r.postgres_major == postgres_major
        })
    }

    /// Every receipt for exactly these contents on this PostgreSQL major version (one per
    /// schema proven on).
    pub fn all_valid_for<'a>(
        &'a self,
        id: &'a str,
        up_sha256: &'a str,
        down_sha256: Option<&'a str>,
        postgres_major: u32,
    ) -> impl Iterator<Item = &'a Receipt> + 'a {
        self.receipts.iter().filter(move |r| {
            down_sha256.is_some()
                && r.id == id
                && r.up_sha256 == up_sha256
                && r.down_sha256.as_deref() == down_sha256
                && r.postgres_major == postgres_major
        })
    }

    /// Adds a receipt. It replaces the receipts of the same id and PostgreSQL major version
    /// proven on the same schema under the same `[drift] ignore` rules, and those for other
    /// contents (no longer evidence for anything); receipts proven on other schemas, or under
    /// other ignore rules, stay, each evidence for its own.
    pub fn record(&mut self, receipt: Receipt) {
        self.receipts.retain(|r| {
            !(r.id == receipt.id
                && r.postgres_major == receipt.postgres_major
                && ((r.schema_before == receipt.schema_before
                    && r.drift_ignore == receipt.drift_ignore)
                    || r.up_sha256 != receipt.up_sha256
                    || r.down_sha256 != receipt.down_sha256))
        });
        self.receipts.push(receipt);
        sort(&mut self.receipts);
    }

    /// The schema `applied_sha256` builds on this major, recorded with these ignore patterns.
    pub fn expected_schema(
        &self,
        applied_sha256: &str,
        postgres_major: u32,
        drift_ignore: &[String],
    ) -> Option<&ExpectedSchema> {
        self.schemas.iter().find(|s| {
            s.applied_sha256 == applied_sha256
                && s.postgres_major == postgres_major
                && s.drift_ignore == drift_ignore
        })
    }

    /// Adds or replaces what an applied set builds.
    pub fn record_schema(&mut self, schema: ExpectedSchema) {
        self.schemas.retain(|s| {
            !(s.applied_sha256 == schema.applied_sha256
                && s.postgres_major == schema.postgres_major
                && s.drift_ignore == schema.drift_ignore)
        });
        self.schemas.push(schema);
        sort_schemas(&mut self.schemas);
    }

    /// Leaves out the expected schemas of applied sets no longer in the project (`keep`): a
    /// migration was edited or removed since, so nothing will look them up again.
    pub fn prune_schemas(&mut self, keep: &std::collections::HashSet<String>) {
        self.schemas.retain(|s| keep.contains(&s.applied_sha256));
    }
}

/// By id, then PostgreSQL major, then schema: stable diffs in git whatever order migrations
/// were verified in.
fn sort(receipts: &mut [Receipt]) {
    receipts.sort_by(|a, b| {
        (a.id.as_str(), a.postgres_major, &a.schema_before).cmp(&(
            b.id.as_str(),
            b.postgres_major,
            &b.schema_before,
        ))
    });
}

/// By how many migrations are applied, then the rest, for stable diffs.
fn sort_schemas(schemas: &mut [ExpectedSchema]) {
    schemas.sort_by(|a, b| {
        (
            a.applied,
            &a.applied_sha256,
            a.postgres_major,
            &a.drift_ignore,
        )
            .cmp(&(
                b.applied,
                &b.applied_sha256,
                b.postgres_major,
                &b.drift_ignore,
            ))
    });
}

/// The current time as RFC 3339 in UTC, to the second (`2025-01-31T12:00:00Z`).
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The sha256 of a migration's up and down scripts (the statements migsafe runs), as receipts
/// key them.
pub fn script_hashes(m: &crate::classify::MigrationAnalysis) -> (String, Option<String>) {
    (
        sha256(&m.up.source[m.up.range.clone()]),
        m.down.as_ref().map(|d| sha256(&d.source[d.range.clone()])),
    )
}

/// sha256 of a script's text as lowercase hex.
pub fn sha256(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut out = String::with_capacity(64);
    for b in Sha256::digest(text.as_bytes()) {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(id: &str, up: &str, down: &str, major: u32) -> Receipt {
        Receipt {
            id: id.into(),
            up_sha256: sha256(up),
            down_sha256: Some(sha256(down)),
            postgres_major: major,
            migsafe_version: "0.1.0".into(),
            verified_at: "2025-01-31T12:00:00Z".into(),
            schema_before: None,
            schema_after: None,
            proven_on: None,
            drift_ignore: vec![],
        }
    }

    #[test]
    fn missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let r = Receipts::load(&dir.path().join("nope.json")).unwrap();
        assert_eq!(r, Receipts::default());
        assert_eq!(r.schema_version, SCHEMA_VERSION);
    }

    #[test]
    fn round_trip_sorted_in_a_new_directory_without_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DEFAULT_PATH);
        let mut r = Receipts::default();
        r.record(receipt("002_b", "up b", "down b", 15));
        r.record(receipt("001_a", "up a", "down a", 16));
        r.record(receipt("001_a", "up a", "down a", 15));
        r.save(&path).unwrap();
        let back = Receipts::load(&path).unwrap();
        assert_eq!(back, r);
        let ids: Vec<_> = back
            .receipts
            .iter()
            .map(|r| (r.id.as_str(), r.postgres_major))
            .collect();
        assert_eq!(ids, [("001_a", 15), ("001_a", 16), ("002_b", 15)]);
        // Nothing but the receipts file is left in its directory.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["receipts.json"]);
        let text = std::fs::read_to_string(&path).unwrap();
        insta::assert_snapshot!(text);
    }

    #[test]
    fn save_replaces_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("receipts.json");
        std::fs::write(&path, "old").unwrap();
        let mut r = Receipts::default();
        r.record(receipt("001_a", "up", "down", 15));
        r.save(&path).unwrap();
        assert_eq!(Receipts::load(&path).unwrap(), r);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn valid_only_for_the_exact_contents_and_major() {
        let mut r = Receipts::default();
        r.record(receipt("001_a", "up", "down", 15));
        let (up, down) = (sha256("up"), sha256("down"));
        assert!(r.valid_for("001_a", &up, Some(&down), 15).is_some());
        assert!(r.valid_for("001_b", &up, Some(&down), 15).is_none());
        assert!(
            r.valid_for("001_a", &sha256("up edited"), Some(&down), 15)
                .is_none()
        );
        assert!(
            r.valid_for("001_a", &up, Some(&sha256("down edited")), 15)
                .is_none()
        );
        assert!(r.valid_for("001_a", &up, None, 15).is_none());
        assert!(r.valid_for("001_a", &up, Some(&down), 16).is_none());
    }

    #[test]
    fn record_replaces_same_id_and_major_only() {
        let mut r = Receipts::default();
        r.record(receipt("001_a", "up v1", "down", 15));
        r.record(receipt("001_a", "up v1", "down", 16));
        r.record(receipt("001_a", "up v2", "down", 15));
        assert_eq!(r.receipts.len(), 2);
        let (v1, v2, down) = (sha256("up v1"), sha256("up v2"), sha256("down"));
        assert!(r.valid_for("001_a", &v2, Some(&down), 15).is_some());
        assert!(r.valid_for("001_a", &v1, Some(&down), 15).is_none());
        assert!(r.valid_for("001_a", &v1, Some(&down), 16).is_some());
    }

    fn on(mut r: Receipt, before: &str) -> Receipt {
        r.schema_before = Some(before.into());
        r.schema_after = Some(format!("{before}+"));
        r.proven_on = Some(format!("target {before}"));
        r
    }

    #[test]
    fn one_receipt_per_schema_proven_on_and_edits_forget_them_all() {
        let mut r = Receipts::default();
        r.record(on(receipt("001_a", "up", "down", 15), "s1"));
        r.record(on(receipt("001_a", "up", "down", 15), "s2"));
        r.record(on(receipt("001_a", "up", "down", 15), "s1"));
        let (up, down) = (sha256("up"), sha256("down"));
        let befores = |r: &Receipts, up: &str| -> Vec<String> {
            r.all_valid_for("001_a", up, Some(&down), 15)
                .filter_map(|r| r.schema_before.clone())
                .collect()
        };
        assert_eq!(befores(&r, &up), ["s1", "s2"]);
        assert_eq!(r.all_valid_for("001_a", &up, None, 15).count(), 0);
        // The same schema under other [drift] ignore rules is other evidence: both stay.
        let mut ignoring = on(receipt("001_a", "up", "down", 15), "s1");
        ignoring.drift_ignore = vec!["index public.hotfix".into()];
        r.record(ignoring);
        assert_eq!(befores(&r, &up), ["s1", "s1", "s2"]);
        // New contents: the receipts for the old ones are evidence for nothing.
        r.record(on(receipt("001_a", "up v2", "down", 15), "s1"));
        assert!(befores(&r, &up).is_empty());
        assert_eq!(befores(&r, &sha256("up v2")), ["s1"]);
    }

    #[test]
    fn expected_schemas_by_applied_set_major_and_ignore_rules() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("receipts.json");
        let schema =
            |applied: &str, n: usize, major: u32, ignore: &[&str], id: &str| ExpectedSchema {
                applied_sha256: applied.into(),
                last_applied: None,
                applied: n,
                postgres_major: major,
                schema: id.into(),
                drift_ignore: ignore.iter().map(|s| s.to_string()).collect(),
            };
        let mut r = Receipts::default();
        r.record_schema(schema("p2", 2, 15, &[], "x2"));
        r.record_schema(schema("p1", 1, 15, &[], "x1"));
        r.record_schema(schema("p1", 1, 15, &[], "x1b"));
        r.record_schema(schema("p1", 1, 16, &[], "y1"));
        r.record_schema(schema("p1", 1, 15, &["index *"], "z1"));
        assert_eq!(r.schemas.len(), 4);
        assert_eq!(r.expected_schema("p1", 15, &[]).unwrap().schema, "x1b");
        assert_eq!(r.expected_schema("p1", 16, &[]).unwrap().schema, "y1");
        assert_eq!(
            r.expected_schema("p1", 15, &["index *".to_string()])
                .unwrap()
                .schema,
            "z1"
        );
        assert!(r.expected_schema("p3", 15, &[]).is_none());
        r.save(&path).unwrap();
        let back = Receipts::load(&path).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.schemas[0].applied, 1, "sorted by applied count");
        r.prune_schemas(&["p2".to_string()].into_iter().collect());
        assert_eq!(r.schemas.len(), 1);
        // A file without schemas (and receipts without schema ids) still loads.
        std::fs::write(
            &path,
            r#"{"schema_version": 1, "receipts": [{"id": "001_a", "up_sha256": "u", "down_sha256": "d",
                "postgres_major": 15, "migsafe_version": "0.1.0", "verified_at": "2025-01-31T12:00:00Z"}]}"#,
        )
        .unwrap();
        let old = Receipts::load(&path).unwrap();
        assert!(old.schemas.is_empty());
        assert_eq!(old.receipts[0].schema_before, None);
    }

    #[test]
    fn invalid_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("receipts.json");
        for (text, expect) in [
            ("{not json", "key must be a string"),
            (r#"{"receipts": []}"#, "missing field `schema_version`"),
            (
                r#"{"schema_version": 2, "receipts": []}"#,
                "schema_version 2",
            ),
            (
                r#"{"schema_version": 1, "receipts": [{"id": 1}]}"#,
                "invalid type",
            ),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = Receipts::load(&path).unwrap_err();
            assert!(matches!(err, ReceiptError::Invalid { .. }), "{err}");
            let msg = err.to_string();
            assert!(msg.contains("receipts.json: not a receipts file"), "{msg}");
            assert!(msg.contains(expect), "{msg}");
        }
    }

    #[test]
    fn now_is_rfc3339_utc() {
        let now = now_rfc3339();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.ends_with('Z'));
        assert!(now.parse::<jiff::Timestamp>().is_ok());
    }
}
