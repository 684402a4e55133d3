use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
use crate::source::{ExecMode, Runner};
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// A statement that cannot run inside a transaction block, placed where it will run inside one.
    ///
    /// The statements are `CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`,
    /// `REINDEX … CONCURRENTLY`, `ALTER TABLE … DETACH PARTITION … CONCURRENTLY`, `VACUUM`,
    /// `CREATE DATABASE`, `DROP DATABASE`, `ALTER SYSTEM`, and `ALTER TYPE … ADD VALUE` before
    /// PostgreSQL 12. They end up in a transaction when the runner wraps the migration in one, when
    /// the script is sent as one multi-statement query (which PostgreSQL runs as one implicit
    /// transaction), or when the script opens one with `BEGIN`.
    ///
    /// ## Why it matters
    /// The statement fails with `cannot run inside a transaction block` and the migration stops: the
    /// deploy fails. This holds for every table, new or not, so the rule always applies.
    ///
    /// ## Instead
    /// Give the statement a migration of its own that runs outside a transaction: sqlx
    /// `-- no-transaction` as the file's first line, goose `-- +goose NO TRANSACTION`, dbmate
    /// `-- migrate:up transaction:false`, diesel `run_in_transaction = false` in `metadata.toml`,
    /// Flyway `executeInTransaction=false` in the script's `.sql.conf`. A script sent as one query
    /// (golang-migrate, or the options above for sqlx, dbmate and diesel) must hold only that
    /// statement. In scripts run statement by statement, keep it out of `BEGIN … COMMIT`.
    ///
    /// ## Bad
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);
    /// -- example: next migration
    /// CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id_idx ON orders (customer_id);
    /// ```
    ///
    /// Two statements sent as one query run as one implicit transaction:
    ///
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);
    /// -- example: next migration
    /// -- example: mode single_simple_query
    /// CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id_idx ON orders (customer_id);
    /// DROP INDEX CONCURRENTLY IF EXISTS orders_customer_idx;
    /// ```
    ///
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);
    /// -- example: next migration
    /// -- example: mode per_statement
    /// BEGIN;
    /// CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id_idx ON orders (customer_id);
    /// COMMIT;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);
    /// -- example: next migration
    /// -- example: mode per_statement
    /// CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id_idx ON orders (customer_id);
    /// DROP INDEX CONCURRENTLY IF EXISTS orders_customer_idx;
    /// ```
    ///
    /// A lone statement sent as one query runs outside a transaction:
    ///
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);
    /// -- example: next migration
    /// -- example: mode single_simple_query
    /// CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id_idx ON orders (customer_id);
    /// ```
    NonTransactionalInTransaction {
        id: "MS107",
        name: "non-transactional-in-transaction",
        severity: Error,
        help: "run the statement outside a transaction: alone in a migration the runner does not wrap, or outside BEGIN … COMMIT",
    }
}

impl Rule for NonTransactionalInTransaction {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops() {
            if e.effect.tx_allowed || !step.in_transaction {
                continue;
            }
            let what = statement(&e.op).unwrap_or_else(|| e.effect.reason.to_string());
            let (why, fix) = match cx.up().mode {
                ExecMode::SingleSimpleQuery => (
                    format!(
                        "{} sends this script as one query, which PostgreSQL runs as one implicit transaction when it holds several statements",
                        cx.runner
                    ),
                    "make it the only statement of its migration".to_string(),
                ),
                ExecMode::PerStatement => (
                    "it runs after an explicit BEGIN in the script".to_string(),
                    "move it out of the BEGIN … COMMIT block".to_string(),
                ),
                ExecMode::WrappedTx | ExecMode::FlywayAuto => (
                    format!("{} runs this migration inside a transaction", cx.runner),
                    opt_out(cx.runner),
                ),
            };
            out.push(Hit::at(
                step,
                format!("{what} cannot run inside a transaction block, and {why}: {fix}"),
            ));
        }
    }
}

/// The statement, as PostgreSQL's error message would name it.
fn statement(op: &Op) -> Option<String> {
    Some(match op {
        Op::CreateIndex {
            name,
            unique,
            concurrently: true,
            ..
        } => format!(
            "CREATE {}INDEX CONCURRENTLY{}",
            if *unique { "UNIQUE " } else { "" },
            name.as_deref().map(|n| format!(" {n}")).unwrap_or_default()
        ),
        Op::DropIndex {
            names,
            concurrently: true,
            ..
        } => format!("DROP INDEX CONCURRENTLY {}", names.join(", ")),
        Op::Reindex {
            target,
            concurrently: true,
        } => format!("REINDEX CONCURRENTLY {target}"),
        Op::DetachPartition {
            table,
            partition,
            concurrently: true,
        } => format!("ALTER TABLE {table} DETACH PARTITION {partition} CONCURRENTLY"),
        Op::Vacuum { full, tables } => format!(
            "VACUUM{}{}",
            if *full { " FULL" } else { "" },
            if tables.is_empty() {
                String::new()
            } else {
                format!(" {}", tables.join(", "))
            }
        ),
        Op::DropDatabase { name } => format!("DROP DATABASE {name}"),
        Op::NonTransactional { what } => what.clone(),
        Op::AddEnumValue { type_name } => {
            format!("ALTER TYPE {type_name} ADD VALUE (before PostgreSQL 12)")
        }
        _ => return None,
    })
}

/// How to make this runner run a migration outside a transaction.
fn opt_out(runner: Runner) -> String {
    match runner {
        Runner::Sqlx => "move it to a migration of its own whose file starts with `-- no-transaction`",
        Runner::Diesel => "move it to a migration of its own with `run_in_transaction = false` in its metadata.toml",
        Runner::Goose => "move it to a migration of its own annotated `-- +goose NO TRANSACTION`",
        Runner::Dbmate => "move it to a migration of its own whose section starts `-- migrate:up transaction:false`",
        Runner::Flyway => "move it to a migration of its own with `executeInTransaction=false` in its .sql.conf",
        Runner::Refinery => "refinery always uses a transaction, so run this statement outside refinery",
        Runner::GolangMigrate | Runner::Sqitch | Runner::Plain => "run it outside a transaction",
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::NonTransactionalInTransaction::META);
    }
}
