use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;
use crate::sql::tokens::Tok;

use super::Fresh;

rule! {
    /// ## What it flags
    /// Changes to who may read or write data that existed before this migration: `GRANT`,
    /// `REVOKE`, row level security and policies.
    ///
    /// That is `GRANT` and `REVOKE` (of privileges or of role membership), `ALTER TABLE … ENABLE |
    /// DISABLE | FORCE | NO FORCE ROW LEVEL SECURITY`, and `CREATE POLICY` / `ALTER POLICY`.
    /// Grants and policies on objects the same migration creates are not flagged, nor are the
    /// policies of a table whose row level security the migration enables (that is flagged
    /// once). `DROP POLICY` is MS207 drop-object's finding.
    ///
    /// ## Why it matters
    /// These take effect for every session the moment the migration commits. A `REVOKE`, a newly
    /// enabled or forced row level security, or a narrower policy makes queries of the
    /// application, reports and other services fail with `permission denied` or silently return
    /// fewer rows, which no test against a superuser connection notices. A `GRANT`, a disabled row
    /// level security or a wider policy exposes data to roles that did not see it before. Neither
    /// shows up in the schema diff most reviews look at.
    ///
    /// ## Instead
    /// Review the change with whoever owns access to the data, check the roles the application
    /// really connects as, and put the exact inverse (`REVOKE` for `GRANT`, the previous policy
    /// definition) in the down script. Create and test policies before enabling row level security.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE salaries (id bigint PRIMARY KEY, amount numeric);
    /// -- example: next migration
    /// REVOKE SELECT ON salaries FROM reporting;
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE documents (id bigint PRIMARY KEY, owner_id bigint);
    /// -- example: next migration
    /// ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
    /// CREATE POLICY documents_owner ON documents USING (owner_id = current_setting('app.user_id')::bigint);
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE salaries (id bigint PRIMARY KEY, amount numeric);
    /// -- example: next migration
    /// GRANT SELECT, UPDATE ON salaries TO support;
    /// ```
    ///
    /// ## Good
    /// Privileges and policies of a table the same migration creates:
    ///
    /// ```sql
    /// CREATE TABLE salaries (id bigint PRIMARY KEY, amount numeric);
    /// GRANT SELECT ON salaries TO reporting;
    /// ALTER TABLE salaries ENABLE ROW LEVEL SECURITY;
    /// CREATE POLICY salaries_reporting ON salaries FOR SELECT TO reporting USING (true);
    /// ```
    PrivilegesChange {
        id: "MS210",
        name: "privileges-change",
        severity: Warning,
        help: "review it with the data's owner, check the roles the application connects as, and write the exact inverse in the down script",
    }
}

impl Rule for PrivilegesChange {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        // Tables whose row level security this migration turns on: their policies are part of
        // that (reported) change.
        let rls_enabled: Vec<&str> = cx
            .ops()
            .filter_map(|(_, e)| match &e.op {
                Op::RowSecurity { table, action } if action == "ENABLE" => Some(super::key(table)),
                _ => None,
            })
            .collect();
        super::walk(cx, |step, e, fresh| {
            let message = match &e.op {
                Op::RowSecurity { table, action } => {
                    if e.new_table || fresh.table(table) {
                        return;
                    }
                    match action.as_str() {
                        "ENABLE" => format!(
                            "enables row level security on {table}: roles other than its owner see no rows and cannot write until a policy allows them"
                        ),
                        "FORCE" => format!(
                            "forces row level security on {table}: its owner, often the role the application connects as, becomes subject to its policies"
                        ),
                        "DISABLE" => format!(
                            "disables row level security on {table}: every role with privileges on it sees and writes all rows, whatever its policies say"
                        ),
                        _ => format!(
                            "stops forcing row level security on {table}: its owner bypasses its policies again"
                        ),
                    }
                }
                Op::Privileges { action } => {
                    let toks = super::tokens(cx.up(), step);
                    match action.split_whitespace().next() {
                        Some("grant") => match grant(&toks, "to", fresh) {
                            Grant::Fresh => return,
                            Grant::Objects {
                                privileges,
                                objects,
                                roles,
                            } => format!(
                                "grants {privileges} on {objects} to {roles}: access to existing data widens the moment the migration commits"
                            ),
                            Grant::Role { role, roles } => format!(
                                "grants role {role} to {roles}: every privilege of {role} now applies to {roles}"
                            ),
                        },
                        Some("revoke") => match grant(&toks, "from", fresh) {
                            Grant::Fresh => return,
                            Grant::Objects {
                                privileges,
                                objects,
                                roles,
                            } if privileges.starts_with("the grant option") => {
                                format!(
                                    "revokes {privileges} on {objects} from {roles}: they can no longer grant it to other roles"
                                )
                            }
                            Grant::Objects {
                                privileges,
                                objects,
                                roles,
                            } => format!(
                                "revokes {privileges} on {objects} from {roles}: queries by {roles} that rely on it, the application's included, fail with permission denied"
                            ),
                            Grant::Role { role, roles } => format!(
                                "revokes role {role} from {roles}: privileges held through {role} no longer apply to {roles}, and queries that rely on them fail"
                            ),
                        },
                        Some("create") | Some("alter") if action.contains("policy") => {
                            let Some(table) = super::on_table(&toks) else {
                                return;
                            };
                            if fresh.table(&table) || rls_enabled.contains(&super::key(&table)) {
                                return;
                            }
                            let policy = action.rsplit(' ').next().unwrap_or_default();
                            let verb = if action.starts_with("create") {
                                "creates"
                            } else {
                                "changes"
                            };
                            format!(
                                "{verb} policy {policy} on {table}: when row level security is enabled on it, the rows roles see or may write change at once"
                            )
                        }
                        _ => return,
                    }
                }
                _ => return,
            };
            out.push(Hit::at(step, message));
        });
    }
}

enum Grant {
    /// Only objects created by this migration.
    Fresh,
    Objects {
        privileges: String,
        objects: String,
        roles: String,
    },
    Role {
        role: String,
        roles: String,
    },
}

/// Reads `GRANT|REVOKE <privileges> [ON [<kind>] <objects>] TO|FROM <roles>`.
fn grant(toks: &[Tok], to: &str, fresh: &Fresh) -> Grant {
    let word = |t: &Tok| match t {
        Tok::Word { text, .. } => Some(text.clone()),
        _ => None,
    };
    let on = toks.iter().position(|t| t.is_kw("on"));
    let to_at = toks.iter().position(|t| t.is_kw(to)).unwrap_or(toks.len());
    let roles: Vec<String> = toks[(to_at + 1).min(toks.len())..]
        .iter()
        .take_while(|t| {
            !(t.is_kw("with") || t.is_kw("granted") || t.is_kw("cascade") || t.is_kw("restrict"))
        })
        .filter(|t| !t.is_kw("group"))
        .filter_map(word)
        .collect();
    let roles = if roles.is_empty() {
        "the grantees".to_string()
    } else {
        roles.join(", ")
    };
    // Privileges (or granted roles): the words after GRANT/REVOKE, outside column lists.
    let mut depth = 0;
    let mut privileges = Vec::new();
    for t in &toks[1..on.unwrap_or(to_at).max(1)] {
        match t {
            Tok::Sym('(') => depth += 1,
            Tok::Sym(')') => depth -= 1,
            Tok::Word { text, .. } if depth == 0 => privileges.push(text.to_uppercase()),
            Tok::Sym(',') if depth == 0 => {
                if let Some(last) = privileges.last_mut() {
                    last.push(',');
                }
            }
            _ => {}
        }
    }
    let privileges = privileges
        .join(" ")
        .replace("GRANT OPTION FOR ", "the grant option for ");
    let Some(on) = on else {
        return Grant::Role {
            role: privileges.to_lowercase(),
            roles,
        };
    };
    let target = &toks[on + 1..to_at.max(on + 1)];
    let mut i = 0;
    let mut kind = "table".to_string();
    let bulk = target.first().is_some_and(|t| t.is_kw("all"));
    if !bulk {
        while let Some(Tok::Word {
            text,
            quoted: false,
        }) = target.get(i)
        {
            let k = text.as_str();
            let next_is_name = matches!(target.get(i + 1), Some(Tok::Word { .. }));
            if !next_is_name {
                break;
            }
            if [
                "table",
                "sequence",
                "function",
                "procedure",
                "routine",
                "schema",
                "type",
                "domain",
                "database",
                "language",
                "tablespace",
                "foreign",
                "data",
                "wrapper",
                "server",
                "large",
                "object",
            ]
            .contains(&k)
            {
                kind = k.to_string();
                i += 1;
            } else {
                break;
            }
        }
    }
    let mut names = Vec::new();
    while let Some((n, next)) = super::name_at(target, i) {
        names.push(n);
        i = next;
        if target.get(i) == Some(&Tok::Sym(',')) {
            i += 1;
        } else {
            break;
        }
    }
    let fresh_kind = match kind.as_str() {
        "table" => Some("table"),
        "sequence" => Some("sequence"),
        "function" | "procedure" | "routine" => Some("function"),
        "schema" => Some("schema"),
        "type" | "domain" => Some("type"),
        _ => None,
    };
    if !bulk
        && !names.is_empty()
        && fresh_kind.is_some_and(|k| names.iter().all(|n| fresh.has(k, n)))
    {
        return Grant::Fresh;
    }
    let objects = if bulk {
        target.iter().filter_map(word).collect::<Vec<_>>().join(" ")
    } else if kind == "table" {
        names.join(", ")
    } else {
        format!("{kind} {}", names.join(", "))
    };
    Grant::Objects {
        privileges,
        objects,
        roles,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::PrivilegesChange::META);
    }
}
