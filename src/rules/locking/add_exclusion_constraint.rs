use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `ALTER TABLE … ADD [CONSTRAINT …] EXCLUDE …` on a table that existed before this migration.
    ///
    /// ## Why it matters
    /// An exclusion constraint builds its index and checks every row inside the `ALTER TABLE`, under
    /// `ACCESS EXCLUSIVE`: reads and writes stop for the whole build. Unlike unique constraints and
    /// foreign keys there is no online path: exclusion constraints support neither `NOT VALID` nor
    /// `USING INDEX`.
    ///
    /// ## Instead
    /// Declare exclusion constraints when the table is created. On an existing table, add it in a
    /// maintenance window, with `SET lock_timeout` so that the statement gives up instead of queueing
    /// behind running queries; if equality is all you need, a unique index built concurrently does the
    /// same job online.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE bookings (id bigint PRIMARY KEY, room_id bigint, during tstzrange);
    /// -- example: next migration
    /// ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist (room_id WITH =, during WITH &&);
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE bookings (id bigint PRIMARY KEY, room_id bigint, during tstzrange);
    /// ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist (room_id WITH =, during WITH &&);
    /// ```
    AddExclusionConstraint {
        id: "MS115",
        name: "add-exclusion-constraint",
        severity: Warning,
        help: "create exclusion constraints together with the table, or add them in a maintenance window with a short lock_timeout",
    }
}

impl Rule for AddExclusionConstraint {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops_on_existing() {
            if let Op::AddConstraint {
                table,
                name,
                kind: crate::sql::ConstraintKind::Exclude,
                ..
            } = &e.op
            {
                let name = name.clone().or_else(|| constraint_name(cx.up().text(step)));
                let what = super::constraint_phrase("exclusion constraint", name.as_deref());
                out.push(Hit::at(
                    step,
                    format!(
                        "adds {what} on {table}: its index is built and every row checked under ACCESS EXCLUSIVE, blocking all reads and writes on {table}, and there is no concurrent way to add it"
                    ),
                ));
            }
        }
    }
}

/// The name in `CONSTRAINT <name> EXCLUDE`, read from the statement when the parser drops it.
fn constraint_name(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    words.windows(3).find_map(|w| {
        (w[0].eq_ignore_ascii_case("constraint")
            && w[2].to_ascii_lowercase().starts_with("exclude"))
        .then(|| {
            if w[1].starts_with('"') {
                w[1].trim_matches('"').to_string()
            } else {
                w[1].to_lowercase()
            }
        })
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::AddExclusionConstraint::META);
    }
}
