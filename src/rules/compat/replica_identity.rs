use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;
use crate::sql::tokens::Tok;

rule! {
    /// ## What it flags
    /// `ALTER TABLE … REPLICA IDENTITY` on a table that existed before this migration.
    ///
    /// ## Why it matters
    /// The replica identity decides what logical replication and change-data-capture consumers
    /// (publications, Debezium, `wal2json`) receive for `UPDATE` and `DELETE`. `NOTHING` makes
    /// updates and deletes fail outright on a table that is in a publication; `DEFAULT` or
    /// `USING INDEX` change the key consumers match rows on, and drop the old column values they
    /// may rely on; `FULL` writes the whole old row to the WAL for every update and delete, and
    /// makes subscribers find rows by sequential scan. None of it shows up in the application's
    /// tests.
    ///
    /// ## Instead
    /// Coordinate the change with the owners of every publication and CDC consumer of the table,
    /// and prefer `USING INDEX` on a unique, non-null index over `FULL`.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE events (id bigint PRIMARY KEY, payload jsonb);
    /// -- example: next migration
    /// ALTER TABLE events REPLICA IDENTITY FULL;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE events (id bigint PRIMARY KEY, payload jsonb);
    /// ALTER TABLE events REPLICA IDENTITY FULL;
    /// ```
    ReplicaIdentity {
        id: "MS211",
        name: "replica-identity",
        severity: Warning,
        help: "coordinate with the owners of every publication and CDC consumer of the table; prefer USING INDEX over FULL",
    }
}

impl Rule for ReplicaIdentity {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        super::walk_existing(cx, |step, e, _| {
            let Op::ReplicaIdentity { table } = &e.op else {
                return;
            };
            let toks = super::tokens(cx.up(), step);
            let action = super::action_tokens(step, e, &toks);
            let at = action
                .windows(2)
                .position(|w| w[0].is_kw("replica") && w[1].is_kw("identity"))
                .map_or(action.len(), |i| i + 2);
            let effect = match action.get(at) {
                Some(t) if t.is_kw("full") => "FULL: every update and delete writes the whole old row to the WAL, and subscribers find rows by sequential scan".to_string(),
                Some(t) if t.is_kw("nothing") => "NOTHING: updates and deletes fail while the table is in a publication".to_string(),
                Some(t) if t.is_kw("using") => {
                    let index = super::name_at(action, at + 2).map_or_else(|| "an index".to_string(), |(n, _)| format!("index {n}"));
                    format!("{index}: logical replication and CDC consumers now match rows on its columns")
                }
                Some(Tok::Word { .. }) => "DEFAULT: logical replication and CDC consumers now match rows on the primary key only".to_string(),
                _ => "a new setting: logical replication and CDC consumers receive different old values".to_string(),
            };
            out.push(Hit::at(
                step,
                format!("sets the replica identity of {table} to {effect}"),
            ));
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::ReplicaIdentity::META);
    }
}
