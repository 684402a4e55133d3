//! sqitch: `sqitch.plan` lists changes in deploy order; each change has `deploy/<change>.sql`,
//! `revert/<change>.sql` and `verify/<change>.sql`. A change planned again after a tag is a
//! rework: the earlier instance's scripts are `deploy/<change>@<tag>.sql`, where the tag is the
//! first one between the two instances whose script exists (sqitchers/sqitch
//! `lib/App/Sqitch/Plan/Change.pm`, `path_segments`). Scripts go through `psql` statement by
//! statement and carry their own `BEGIN`/`COMMIT`.

use std::path::{Path, PathBuf};

use super::layout::{lines, migration};
use super::{ExecMode, Migration, Result, Script, SourceError, read_sql};

pub(crate) const PLAN: &str = "sqitch.plan";

/// `sqitch.plan` in the directory.
pub(crate) fn has_signal(dir: &Path) -> bool {
    dir.join(PLAN).is_file()
}

#[derive(Debug)]
enum Entry {
    Change { name: String, line: usize },
    Tag { name: String },
}

/// Reads the plan's changes and tags in order, checking that each change line has the shape
/// `name [deps] timestamp planner <email> # note`.
fn parse_plan(path: &Path, text: &str) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for line in lines(text) {
        let t = line.text.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with('%') {
            continue;
        }
        let err = |message: String| SourceError::Layout {
            path: path.to_path_buf(),
            line: line.number,
            message,
        };
        let head = t.split_whitespace().next().unwrap_or_default();
        let (body, _note) = t.split_once(" #").unwrap_or((t, ""));
        if !(body.contains('<') && body.trim_end().ends_with('>')) {
            return Err(err(format!(
                "not a plan entry: expected `{head} [dependencies] <timestamp> <planner name> <email>`"
            )));
        }
        if let Some(tag) = head.strip_prefix('@') {
            entries.push(Entry::Tag {
                name: tag.to_string(),
            });
        } else if head.starts_with('-') {
            return Err(err(format!(
                "`{head}`: revert entries in the plan are not supported"
            )));
        } else {
            let name = head.strip_prefix('+').unwrap_or(head);
            if name.is_empty() || name.contains(['@', ':', '[']) {
                return Err(err(format!("`{head}` is not a valid change name")));
            }
            entries.push(Entry::Change {
                name: name.to_string(),
                line: line.number,
            });
        }
    }
    Ok(entries)
}

/// Loads a sqitch project in plan order. The version is the change name; an earlier instance of
/// a reworked change is `<change>@<tag>`, sqitch's own way to name it. A missing deploy script
/// is an error at its plan line; a missing revert script means no down.
pub fn load(dir: &Path) -> Result<Vec<Migration>> {
    let plan_path = dir.join(PLAN);
    let plan = read_sql(&plan_path)?;
    let entries = parse_plan(&plan_path, &plan)?;
    let mut migrations = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let Entry::Change { name, line } = entry else {
            continue;
        };
        let later = &entries[i + 1..];
        let next = later.iter().enumerate().find_map(|(j, e)| match e {
            Entry::Change { name: n, line } if n == name => Some((j, *line)),
            _ => None,
        });
        let (version, stem) = match next {
            None => (name.clone(), name.clone()),
            Some((next, again)) => {
                let tags: Vec<&str> = later[..next]
                    .iter()
                    .filter_map(|e| match e {
                        Entry::Tag { name } => Some(name.as_str()),
                        Entry::Change { .. } => None,
                    })
                    .collect();
                let Some(first) = tags.first() else {
                    return Err(SourceError::Layout {
                        path: plan_path,
                        line: again,
                        message: format!(
                            "change `{name}` is planned again without a tag in between (sqitch needs a tag before a rework)"
                        ),
                    });
                };
                let tag = tags
                    .iter()
                    .find(|t| script_path(dir, "deploy", &format!("{name}@{t}")).is_file())
                    .unwrap_or(first);
                (format!("{name}@{tag}"), format!("{name}@{tag}"))
            }
        };
        let deploy = script_path(dir, "deploy", &stem);
        if !deploy.is_file() {
            return Err(SourceError::Layout {
                path: plan_path,
                line: *line,
                message: format!(
                    "deploy script {} not found for change `{name}`",
                    deploy.display()
                ),
            });
        }
        let up = script(&deploy)?;
        let revert = script_path(dir, "revert", &stem);
        let down = if revert.is_file() {
            Some(script(&revert)?)
        } else {
            None
        };
        migrations.push(migration(version, String::new(), up, down));
    }
    Ok(migrations)
}

/// `<dir>/<kind>/<stem>.sql`; a change name with `/` lives in a subdirectory, as in sqitch.
fn script_path(dir: &Path, kind: &str, stem: &str) -> PathBuf {
    dir.join(kind).join(format!("{stem}.sql"))
}

fn script(path: &Path) -> Result<Script> {
    Ok(Script::whole(
        path.to_path_buf(),
        read_sql(path)?,
        ExecMode::PerStatement,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_lines() {
        let plan = "%syntax-version=1.0.0\n%project=flipr\n\n# comment\nappschema 2024-01-01T00:00:00Z Ann <ann@example.com> # schema\nusers [appschema] 2024-01-02T00:00:00Z Ann <ann@example.com>\n@v1.0 2024-01-03T00:00:00Z Ann <ann@example.com> # tag\n";
        let entries = parse_plan(Path::new("sqitch.plan"), plan).unwrap();
        let names: Vec<String> = entries
            .iter()
            .map(|e| match e {
                Entry::Change { name, line } => format!("{name}:{line}"),
                Entry::Tag { name } => format!("@{name}"),
            })
            .collect();
        assert_eq!(names, ["appschema:5", "users:6", "@v1.0"]);
    }

    #[test]
    fn bad_plan_line() {
        let e = parse_plan(Path::new("sqitch.plan"), "users\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "sqitch.plan:1: not a plan entry: expected `users [dependencies] <timestamp> <planner name> <email>`"
        );
    }
}
