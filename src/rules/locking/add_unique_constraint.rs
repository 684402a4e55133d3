use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER TABLE … ADD [CONSTRAINT …] UNIQUE (…)` without `USING INDEX`, and
    /// `ALTER TABLE … ADD COLUMN … UNIQUE`, on a table that existed before this migration.
    ///
    /// ## Why it matters
    /// The constraint's unique index is built inside the `ALTER TABLE`, which holds
    /// `ACCESS EXCLUSIVE` for the whole build: no query can read or write the table meanwhile. If a
    /// duplicate exists, the build fails at the end, after the table has been blocked all that time.
    ///
    /// ## Instead
    /// Build the index with `CREATE UNIQUE INDEX CONCURRENTLY` (in a migration that does not run in a
    /// transaction), then attach it with `ALTER TABLE … ADD CONSTRAINT … UNIQUE USING INDEX …`, which
    /// only takes the lock briefly.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE users (id bigint PRIMARY KEY, email text);
    /// -- example: next migration
    /// ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE users (id bigint PRIMARY KEY, email text);
    /// -- example: next migration
    /// -- example: mode per_statement
    /// CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_email_key ON users (email);
    /// ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key;
    /// ```
    AddUniqueConstraint {
        id: "MS113",
        name: "add-unique-constraint",
        severity: Error,
        help: "CREATE UNIQUE INDEX CONCURRENTLY, then ALTER TABLE … ADD CONSTRAINT … UNIQUE USING INDEX",
    }
}

impl Rule for AddUniqueConstraint {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops_on_existing() {
            match &e.op {
                Op::AddConstraint {
                    table,
                    name,
                    kind: crate::sql::ConstraintKind::Unique,
                    using_index: false,
                    ..
                } => {
                    let what = super::constraint_phrase("unique constraint", name.as_deref());
                    out.push(Hit::at(
                        step,
                        format!(
                            "adds {what} on {table}: its unique index is built under ACCESS EXCLUSIVE, blocking all reads and writes on {table} for the whole build"
                        ),
                    ));
                }
                Op::AddColumn { table, column } if column.unique => out.push(Hit::at(
                    step,
                    format!(
                        "adds {table}.{} with an inline UNIQUE: its unique index is built under ACCESS EXCLUSIVE, blocking all reads and writes on {table} for the whole build",
                        column.name
                    ),
                )),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::AddUniqueConstraint::META);
    }
}
