use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER … SET SCHEMA` of a table, view, type, sequence, function or other object that
    /// existed before this migration.
    ///
    /// ## Why it matters
    /// Moving an object to another schema is a rename of its qualified name. Queries of the
    /// application version still running during the rollout that qualify the name, or that rely
    /// on `search_path` finding it in its old schema, fail from the moment the migration commits;
    /// a `search_path` that lists both schemas may also start resolving the name to a different
    /// object.
    ///
    /// ## Instead
    /// Move the object and, in the same release, make the old name keep working (a view or a
    /// wrapper function in the old schema, or a `search_path` that covers both), then remove that
    /// bridge in a later release.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE SCHEMA archive;
    /// CREATE TABLE audit_log (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// ALTER TABLE audit_log SET SCHEMA archive;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE SCHEMA archive;
    /// -- example: next migration
    /// CREATE TABLE audit_log (id bigint PRIMARY KEY);
    /// ALTER TABLE audit_log SET SCHEMA archive;
    /// ```
    SetSchema {
        id: "MS204",
        name: "set-schema",
        severity: Warning,
        help: "keep the old qualified name working (a view or wrapper in the old schema) until no deployed code uses it",
    }
}

impl Rule for SetSchema {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        super::walk(cx, |step, e, fresh| {
            let Op::SetSchema { kind, name } = &e.op else {
                return;
            };
            let fresh_kind = match kind.as_str() {
                "table" => "table",
                "view" | "materialized view" => "view",
                "function" | "procedure" => "function",
                "type" | "domain" => "type",
                other => other,
            };
            if fresh.has(fresh_kind, name) {
                return;
            }
            out.push(Hit::at(
                step,
                format!(
                    "moves {kind} {name} to another schema: queries of the application version still running that qualify it or find it through search_path fail"
                ),
            ));
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::SetSchema::META);
    }
}
