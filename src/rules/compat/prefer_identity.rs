use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `serial`, `bigserial` and `smallserial` columns in `CREATE TABLE`, and in
    /// `ALTER TABLE … ADD COLUMN` on a table created by the same migration.
    ///
    /// Adding one to an existing table also rewrites it: MS103 add-column-serial reports that.
    ///
    /// ## Why it matters
    /// `serial` is not a type but a shorthand for an integer column with a `nextval` default and
    /// a separate sequence. The sequence needs its own privileges (`USAGE`), the default can be
    /// dropped or overwritten without complaint, explicit inserts of ids silently get out of step
    /// with it and fail later with duplicate keys, and copying the table's definition with
    /// `CREATE TABLE … (LIKE …)` shares the original's sequence. `serial` is also a 32-bit
    /// `integer`.
    ///
    /// ## Instead
    /// Use an identity column: `bigint GENERATED ALWAYS AS IDENTITY` (or `BY DEFAULT` where ids
    /// must sometimes be inserted explicitly). Its sequence belongs to the column and follows it.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE orders (id bigserial PRIMARY KEY, total numeric);
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, total numeric);
    /// ```
    PreferIdentity {
        id: "MS219",
        name: "prefer-identity",
        severity: Warning,
        default_enabled: false,
        help: "use an identity column: bigint GENERATED ALWAYS AS IDENTITY",
    }
}

impl Rule for PreferIdentity {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        super::walk(cx, |step, e, fresh| {
            let verb = match &e.op {
                Op::CreateTable { .. } => "creates",
                Op::AddColumn { table, .. } if e.new_table || fresh.table(table) => "adds",
                _ => return,
            };
            for (table, c) in super::defined_columns(&e.op) {
                if c.ty.is_serial() && !c.ty.array {
                    out.push(Hit::at(
                        step,
                        format!(
                            "{}: a serial column is an integer with a nextval default and a separate sequence, which get out of step with explicit inserts and need their own privileges",
                            super::column_phrase(verb, table, &c.name, &c.ty)
                        ),
                    ));
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::PreferIdentity::META);
    }
}
