use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `DROP` of a view, function, type, domain, trigger, policy, extension or similar object
    /// that existed before this migration, without `CASCADE`.
    ///
    /// That is `DROP VIEW | MATERIALIZED VIEW | FUNCTION | PROCEDURE | TYPE | DOMAIN | TRIGGER |
    /// POLICY | EXTENSION | …`. With `CASCADE` it is MS011 drop-cascade's finding; tables, columns,
    /// schemas and sequences have their own rules.
    ///
    /// ## Why it matters
    /// The application version still running during the rollout may use the object: its
    /// queries on a dropped view or function fail at once. Dropping a trigger silently stops its
    /// side effects (audit rows, denormalised columns) for every writer; dropping a policy changes
    /// which rows a role sees or may write. A down script must recreate the object from its full
    /// definition, which has to be copied into it by hand, and a materialized view comes back
    /// empty until refreshed. An extension takes its functions, types and operators with it.
    /// Dropping a view or function to create it again with another column list or signature
    /// breaks the callers that use the old one.
    ///
    /// ## Instead
    /// Stop using the object in one release and drop it in a later one. Put the object's complete
    /// definition (`pg_get_viewdef`, `pg_get_functiondef`, `pg_get_triggerdef`) in the down
    /// script. To change a function's signature, create the new overload next to the old one and
    /// drop the old one once nothing calls it; to change a view, create it under a new name.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE VIEW active_customers AS SELECT 1 AS id;
    /// -- example: next migration
    /// DROP VIEW active_customers;
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY);
    /// -- example: next migration
    /// DROP TRIGGER orders_audit ON orders;
    /// ```
    ///
    /// ```sql
    /// CREATE FUNCTION order_total(order_id bigint) RETURNS numeric LANGUAGE sql AS $$ SELECT 0::numeric $$;
    /// -- example: next migration
    /// DROP FUNCTION order_total(bigint);
    /// CREATE FUNCTION order_total(order_id bigint, with_tax boolean) RETURNS numeric LANGUAGE sql AS $$ SELECT 0::numeric $$;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE VIEW active_customers AS SELECT 1 AS id;
    /// DROP VIEW active_customers;
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY);
    /// CREATE TRIGGER orders_audit AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION audit();
    /// DROP TRIGGER orders_audit ON orders;
    /// ```
    DropObject {
        id: "MS207",
        name: "drop-object",
        severity: Warning,
        help: "create any replacement alongside it, stop using it in one release, and drop it in a later one with its full definition in the down script",
    }
}

impl Rule for DropObject {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        let units = super::commit_units(&cx.up().steps);
        super::walk(cx, |step, e, fresh| {
            let Op::DropObject {
                kind,
                names,
                cascade: false,
            } = &e.op
            else {
                return;
            };
            let table = super::on_table(&super::tokens(cx.up(), step));
            let created = match kind.as_str() {
                "view" | "materialized view" => names.iter().all(|n| fresh.has("view", n)),
                "function" | "procedure" | "aggregate" => {
                    names.iter().all(|n| fresh.has("function", n))
                }
                "type" | "domain" => names.iter().all(|n| fresh.has("type", n)),
                "extension" => names.iter().all(|n| fresh.has("extension", n)),
                "trigger" | "policy" | "rule" => table.as_deref().is_some_and(|t| fresh.table(t)),
                _ => false,
            };
            if created {
                return;
            }
            // Dropped to be created again (a changed signature or column list), in the same
            // transaction: only what changed can break callers.
            let recreated = names.iter().all(|n| {
                cx.ops().any(|(s, v)| {
                    s.index > step.index
                        && units[s.index] == units[step.index]
                        && match &v.op {
                            Op::CreateView { name, .. } | Op::CreateFunction { name, .. } => {
                                super::key(name) == super::key(n)
                            }
                            _ => false,
                        }
                })
            });
            let mut names = names.join(", ");
            if let ("trigger" | "policy" | "rule", Some(table)) = (kind.as_str(), &table) {
                names = format!("{names} on {table}");
            }
            let (it, its, it_is) = if names.contains(", ") {
                ("them", "their", "they are")
            } else {
                ("it", "its", "it is")
            };
            let why = match kind.as_str() {
                "view" | "materialized view" | "function" | "procedure" if recreated => format!(
                    "{it_is} created again in the same transaction, but the application version still running fails on {it} if the new definition drops a column, an argument or a result it relies on"
                ),
                "view" | "materialized view" | "function" | "procedure" | "aggregate" => format!(
                    "queries of the application version still running that use {it} fail, and a down script must recreate {it} from {its} full definition"
                ),
                "trigger" => format!(
                    "{its} side effects stop for every writer, and a down script must recreate {it} from {its} full definition"
                ),
                "policy" => format!(
                    "the rows roles may see or write change at once, and a down script must recreate {it} from {its} full definition"
                ),
                "extension" => format!(
                    "{its} functions, types and operators go with {it}, and the application version still running may use them"
                ),
                _ => format!(
                    "code that still uses {it} fails, and a down script must recreate {it} from {its} full definition"
                ),
            };
            out.push(Hit::at(step, format!("drops {kind} {names}: {why}")));
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::DropObject::META);
    }
}
