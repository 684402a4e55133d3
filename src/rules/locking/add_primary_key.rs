use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER TABLE … ADD [CONSTRAINT …] PRIMARY KEY (…)` without `USING INDEX`, and
    /// `ALTER TABLE … ADD COLUMN … PRIMARY KEY`, on a table that existed before this migration.
    ///
    /// ## Why it matters
    /// Adding a primary key builds its unique index inside the `ALTER TABLE` and, for nullable columns,
    /// scans the table to set them `NOT NULL`, all under `ACCESS EXCLUSIVE`: reads and writes stop for
    /// the whole build.
    ///
    /// ## Instead
    /// Build the index with `CREATE UNIQUE INDEX CONCURRENTLY`, make the columns `NOT NULL` without a
    /// long lock (`CHECK (col IS NOT NULL) NOT VALID`, `VALIDATE CONSTRAINT`, `SET NOT NULL`), then
    /// attach the index with `ALTER TABLE … ADD CONSTRAINT … PRIMARY KEY USING INDEX …`.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE events (id bigint NOT NULL, payload text);
    /// -- example: next migration
    /// ALTER TABLE events ADD PRIMARY KEY (id);
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE events (id bigint NOT NULL, payload text);
    /// -- example: next migration
    /// -- example: mode per_statement
    /// CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS events_pkey ON events (id);
    /// ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_pkey;
    /// ```
    AddPrimaryKey {
        id: "MS114",
        name: "add-primary-key",
        severity: Error,
        help: "CREATE UNIQUE INDEX CONCURRENTLY, make the columns NOT NULL through a validated CHECK, then ADD PRIMARY KEY USING INDEX",
    }
}

impl Rule for AddPrimaryKey {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops_on_existing() {
            match &e.op {
                Op::AddConstraint {
                    table,
                    name,
                    kind: crate::sql::ConstraintKind::PrimaryKey,
                    using_index: false,
                    ..
                } => {
                    let what = super::constraint_phrase("primary key", name.as_deref());
                    out.push(Hit::at(
                        step,
                        format!(
                            "adds {what} on {table}: its unique index is built, and its columns checked for NULLs, under ACCESS EXCLUSIVE, blocking all reads and writes on {table} meanwhile"
                        ),
                    ));
                }
                Op::AddColumn { table, column } if column.primary_key => out.push(Hit::at(
                    step,
                    format!(
                        "adds {table}.{} as the primary key: its unique index is built under ACCESS EXCLUSIVE, blocking all reads and writes on {table} for the whole build",
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
        crate::rules::testing::check_rule(&super::AddPrimaryKey::META);
    }
}
