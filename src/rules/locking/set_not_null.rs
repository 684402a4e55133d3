use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER TABLE … ALTER COLUMN … SET NOT NULL` on a table that existed before this migration.
    ///
    /// Not flagged when the same migration has validated, before it, a check constraint on that
    /// table, which migsafe takes to be `CHECK (col IS NOT NULL)` (when the constraint was added in
    /// this migration, its text must say so).
    ///
    /// ## Why it matters
    /// `SET NOT NULL` scans the whole table to prove there is no NULL, holding `ACCESS EXCLUSIVE`: no
    /// query can read or write the table until the scan is done. PostgreSQL ≥ 12 skips the scan when a
    /// valid `CHECK (col IS NOT NULL)` constraint already proves it.
    ///
    /// ## Instead
    /// Add `CHECK (col IS NOT NULL) NOT VALID` (brief lock), then in a later migration
    /// `VALIDATE CONSTRAINT` (scans under `SHARE UPDATE EXCLUSIVE`, reads and writes continue),
    /// `SET NOT NULL` (no scan) and drop the now redundant check. migsafe sees constraints within one
    /// migration only: keep the `VALIDATE` and the `SET NOT NULL` together, or suppress the finding
    /// with a reason when the check was validated earlier.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE users (id bigint PRIMARY KEY, email text);
    /// -- example: next migration
    /// ALTER TABLE users ALTER COLUMN email SET NOT NULL;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE users (id bigint PRIMARY KEY, email text);
    /// -- example: next migration
    /// ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID;
    /// -- example: next migration
    /// ALTER TABLE users VALIDATE CONSTRAINT users_email_not_null;
    /// ALTER TABLE users ALTER COLUMN email SET NOT NULL;
    /// ALTER TABLE users DROP CONSTRAINT users_email_not_null;
    /// ```
    SetNotNull {
        id: "MS116",
        name: "set-not-null",
        severity: Error,
        help: "add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it in a later migration, then SET NOT NULL (PostgreSQL 12+ skips the scan) and drop the CHECK",
    }
}

impl Rule for SetNotNull {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops_on_existing() {
            if let Op::SetNotNull { table, column } = &e.op {
                if cx.settings.postgres >= 12 && proven_by_check(cx, step.index, table, column) {
                    continue;
                }
                out.push(Hit::at(
                    step,
                    format!(
                        "sets {table}.{column} NOT NULL: every row of {table} is scanned for NULLs under ACCESS EXCLUSIVE, blocking all reads and writes meanwhile"
                    ),
                ));
            }
        }
    }
}

/// Whether a check constraint validated earlier in this migration (before step `before`) makes
/// PostgreSQL skip the scan. A constraint added in this migration must read `col IS NOT NULL`;
/// one added by an earlier migration cannot be seen and is trusted.
fn proven_by_check(cx: &Context<'_>, before: usize, table: &str, column: &str) -> bool {
    let mut added: Vec<(&str, bool)> = Vec::new();
    for (step, e) in cx.ops() {
        if step.index >= before {
            break;
        }
        match &e.op {
            Op::AddConstraint {
                table: t,
                name,
                kind,
                not_valid,
                ..
            } if super::key(t) == super::key(table) => {
                let text = cx.up().text(step).to_lowercase().replace('"', "");
                let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                let not_null = *kind == crate::sql::ConstraintKind::Check
                    && text.contains(&format!("{} is not null", column.to_lowercase()));
                if not_null && !not_valid {
                    return true;
                }
                if let Some(name) = name {
                    added.push((name, not_null));
                }
            }
            Op::ValidateConstraint { table: t, name } if super::key(t) == super::key(table) => {
                match added.iter().find(|(n, _)| n == name) {
                    Some((_, true)) | None => return true,
                    Some((_, false)) => {}
                }
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::SetNotNull::META);
    }
}
