//! Soft drop: a plain `ALTER TABLE t DROP COLUMN c` is applied by renaming `c` aside, so that
//! rollback is two catalog updates instead of re-writing every row of `t` (research §6.3: 0.05 s
//! each way, against minutes of re-hydration), and `migsafe finalise` drops it for good when the
//! rollback window closes.
//!
//! Only columns nothing else depends on are deferred: an index, constraint, view, policy,
//! trigger column list, owned sequence or generated column on `c` would keep constraining new
//! rows (or collide with what the down re-creates), so those drops run as written, with their
//! targeted snapshot. Everything here runs inside the step's transaction.

use postgres::Transaction;
use sqlparser::ast::{AlterTableOperation, DropBehavior, Statement};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use crate::ledger::Deferred;
use crate::pg::quote_ident;
use crate::snapshot::capture::fold;

/// PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1).
const MAX_IDENT: usize = 63;

/// The table (as written) and column of a statement that is exactly one `DROP COLUMN` without
/// CASCADE; `None` for anything else.
pub fn candidate(sql: &str) -> Option<(String, String)> {
    let stmts = Parser::parse_sql(&PostgreSqlDialect {}, sql).ok()?;
    let [Statement::AlterTable(at)] = stmts.as_slice() else {
        return None;
    };
    let [
        AlterTableOperation::DropColumn {
            column_names,
            drop_behavior,
            ..
        },
    ] = at.operations.as_slice()
    else {
        return None;
    };
    let [column] = column_names.as_slice() else {
        return None;
    };
    if matches!(drop_behavior, Some(DropBehavior::Cascade)) || at.table_type.is_some() {
        return None;
    }
    Some((at.name.to_string(), fold(column)))
}

/// Whether anything but the column's own default depends on column `a` of table `c` (indexes,
/// constraints, views, policies, statistics, owned sequences, generated columns).
const DEPENDED_ON: &str = "EXISTS (
                 SELECT 1 FROM pg_catalog.pg_depend d
                 WHERE d.refclassid = 'pg_catalog.pg_class'::regclass
                   AND d.refobjid = c.oid AND d.refobjsubid = a.attnum
                   AND NOT (d.classid = 'pg_catalog.pg_attrdef'::regclass
                            AND d.objid IN (SELECT ad.oid FROM pg_catalog.pg_attrdef ad
                                            WHERE ad.adrelid = c.oid AND ad.adnum = a.attnum)))";

/// What the catalog says about a column that may be deferred.
struct Eligible {
    schema: String,
    table: String,
    not_null: bool,
}

/// Whether `column` of `table` can be renamed aside: an ordinary, non-inherited table, and no
/// object depending on the column except its own default. `Ok(None)` when not (or when the
/// table or column does not exist: the statement then runs as written and fails or no-ops as
/// it would have).
fn eligible(
    tx: &mut impl postgres::GenericClient,
    table: &str,
    column: &str,
) -> Result<Option<Eligible>, postgres::Error> {
    // to_regclass would raise on malformed names; a NULL simply means "not eligible".
    let row = tx.query_opt(
        &format!(
            r#"SELECT n.nspname::text, c.relname::text, a.attnotnull
           FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
           WHERE c.oid = pg_catalog.to_regclass($1) AND a.attname = $2
             AND a.attnum > 0 AND NOT a.attisdropped
             AND c.relkind = 'r' AND a.attidentity = '' AND a.attgenerated = ''
             -- A domain's NOT NULL or CHECK would still reject the new code's rows.
             AND (SELECT t.typtype FROM pg_catalog.pg_type t WHERE t.oid = a.atttypid) <> 'd'
             -- Column privileges would stay on the kept column.
             AND a.attacl IS NULL
             AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i
                             WHERE i.inhrelid = c.oid OR i.inhparent = c.oid)
             -- Subscribers would keep receiving the column.
             AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel pr WHERE pr.prrelid = c.oid)
             AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication p WHERE p.puballtables)
             -- Trigger functions may read the row as a whole (NEW.*, to_jsonb(NEW)).
             AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger tg
                             WHERE tg.tgrelid = c.oid AND NOT tg.tgisinternal)
             AND NOT {DEPENDED_ON}"#
        ),
        &[&table, &column],
    )?;
    Ok(row.map(|r| Eligible {
        schema: r.get(0),
        table: r.get(1),
        not_null: r.get(2),
    }))
}

/// Whether [`soft_drop`] would defer this statement, without changing anything (dry runs).
pub fn would_defer(
    client: &mut impl postgres::GenericClient,
    sql: &str,
) -> Result<Option<(String, String)>, postgres::Error> {
    let Some((table, column)) = candidate(sql) else {
        return Ok(None);
    };
    Ok(eligible(client, &table, &column)?.map(|e| (format!("{}.{}", e.schema, e.table), column)))
}

/// Renames the column a plain `DROP COLUMN` statement names aside, instead of running it.
/// `Ok(None)` when the statement or column does not qualify; the caller then runs it as written.
pub fn soft_drop(
    tx: &mut Transaction<'_>,
    sql: &str,
    version: &str,
) -> Result<Option<Deferred>, postgres::Error> {
    let Some((table, column)) = candidate(sql) else {
        return Ok(None);
    };
    let oid: Option<u32> = tx
        .query_one("SELECT pg_catalog.to_regclass($1)::oid", &[&table])?
        .get(0);
    let Some(oid) = oid else {
        return Ok(None);
    };
    // The lock DROP COLUMN itself would take, first, so that nobody adds an index or a view
    // on the column between the checks and the rename.
    let locked: String = tx
        .query_one("SELECT $1::oid::regclass::text", &[&oid])?
        .get(0);
    tx.batch_execute(&format!("LOCK TABLE {locked} IN ACCESS EXCLUSIVE MODE"))?;
    let Some(e) = eligible(tx, &table, &column)? else {
        return Ok(None);
    };
    let qualified = format!("{}.{}", quote_ident(&e.schema), quote_ident(&e.table));
    let aside = aside_name(tx, &qualified, version, &column)?;
    tx.batch_execute(&format!(
        "ALTER TABLE {qualified} RENAME COLUMN {} TO {}",
        quote_ident(&column),
        quote_ident(&aside)
    ))?;
    if e.not_null {
        // New code no longer writes the column: its inserts must not fail on it.
        tx.batch_execute(&format!(
            "ALTER TABLE {qualified} ALTER COLUMN {} DROP NOT NULL",
            quote_ident(&aside)
        ))?;
    }
    Ok(Some(Deferred {
        schema: e.schema,
        table: e.table,
        column,
        aside,
        not_null: e.not_null,
    }))
}

/// `_migsafe_<version>_<column>`, cut to 63 bytes, with a counter if taken.
fn aside_name(
    tx: &mut Transaction<'_>,
    qualified: &str,
    version: &str,
    column: &str,
) -> Result<String, postgres::Error> {
    let base = format!("_migsafe_{version}_{column}");
    for n in 1u32.. {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!("_{n}")
        };
        let mut name = base.clone();
        while name.len() + suffix.len() > MAX_IDENT {
            name.pop();
        }
        name.push_str(&suffix);
        let taken: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
                                WHERE attrelid = pg_catalog.to_regclass($1) AND attname = $2)",
                &[&qualified, &name],
            )?
            .get(0);
        if !taken {
            return Ok(name);
        }
    }
    unreachable!("some counter is free")
}

/// What happened to a deferred column when its step was rolled back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "detail")]
pub enum SwapBack {
    /// The down re-created the column as it was; the kept column took its place, with every
    /// value, in constant time.
    Swapped,
    /// The down did not re-create the column; the kept copy was dropped (its snapshot stays).
    Dropped,
    /// The kept column could not take the re-created one's place (the reason); it was dropped
    /// and the values come back from the snapshot instead.
    FromSnapshot(String),
}

impl SwapBack {
    /// Whether the snapshot's copy of the column is still needed.
    pub fn needs_snapshot(&self) -> bool {
        matches!(self, SwapBack::FromSnapshot(_))
    }
}

struct ColumnDef {
    ty: String,
    collation: u32,
    default: Option<String>,
    not_null: bool,
    identity: String,
    generated: String,
}

fn column_def(
    tx: &mut Transaction<'_>,
    qualified: &str,
    column: &str,
) -> Result<Option<ColumnDef>, postgres::Error> {
    let row = tx.query_opt(
        r#"SELECT pg_catalog.format_type(a.atttypid, a.atttypmod), a.attcollation::oid::int8,
                  pg_catalog.pg_get_expr(d.adbin, d.adrelid), a.attnotnull,
                  a.attidentity::text, a.attgenerated::text
           FROM pg_catalog.pg_attribute a
           LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
           WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attname = $2
             AND a.attnum > 0 AND NOT a.attisdropped"#,
        &[&qualified, &column],
    )?;
    Ok(row.map(|r| ColumnDef {
        ty: r.get(0),
        collation: r.get::<_, i64>(1) as u32,
        default: r.get(2),
        not_null: r.get(3),
        identity: r.get(4),
        generated: r.get(5),
    }))
}

/// After the down ran: puts the kept column back in place of the one the down re-created, when
/// that is exactly equivalent to re-hydrating it — same definition, nothing depending on the
/// re-created column, and no value in it other than its default. Otherwise drops the kept
/// column and says why, so the snapshot restores the values.
pub fn swap_back(tx: &mut Transaction<'_>, d: &Deferred) -> Result<SwapBack, postgres::Error> {
    let qualified = format!("{}.{}", quote_ident(&d.schema), quote_ident(&d.table));
    let exists: bool = tx
        .query_one(
            "SELECT pg_catalog.to_regclass($1) IS NOT NULL",
            &[&qualified],
        )?
        .get(0);
    if !exists {
        return Ok(SwapBack::FromSnapshot(format!(
            "table {qualified} no longer exists"
        )));
    }
    // No writer may fill the re-created column between the checks and the swap.
    tx.batch_execute(&format!("LOCK TABLE {qualified} IN ACCESS EXCLUSIVE MODE"))?;
    let Some(kept) = column_def(tx, &qualified, &d.aside)? else {
        return Ok(SwapBack::FromSnapshot(format!(
            "the kept column {} is gone",
            d.aside
        )));
    };
    let drop_kept = |tx: &mut Transaction<'_>| {
        tx.batch_execute(&format!(
            "ALTER TABLE {qualified} DROP COLUMN {}",
            quote_ident(&d.aside)
        ))
    };
    let Some(new) = column_def(tx, &qualified, &d.column)? else {
        drop_kept(tx)?;
        return Ok(SwapBack::Dropped);
    };
    let mut why = None;
    if new.ty != kept.ty || new.collation != kept.collation {
        why = Some(format!(
            "the down re-creates {} as {}, it was {}",
            d.column, new.ty, kept.ty
        ));
    } else if new.default != kept.default {
        why = Some(format!(
            "the down gives {} another default ({})",
            d.column,
            new.default.as_deref().unwrap_or("none")
        ));
    } else if new.not_null != d.not_null || !new.identity.is_empty() || !new.generated.is_empty() {
        why = Some(format!("the down re-creates {} differently", d.column));
    }
    if why.is_none() {
        let depended: bool = tx
            .query_one(
                &format!(
                    "SELECT {DEPENDED_ON} FROM pg_catalog.pg_class c
                     JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
                     WHERE c.oid = pg_catalog.to_regclass($1) AND a.attname = $2"
                ),
                &[&qualified, &d.column],
            )?
            .get(0);
        if depended {
            // DROP COLUMN would take the down's indexes or constraints on it along.
            why = Some(format!(
                "the down builds indexes, constraints or views on {}",
                d.column
            ));
        }
    }
    if why.is_none() {
        // After ADD COLUMN every row holds the same value (NULL or a constant default);
        // anything else means the down filled the column itself.
        let c = quote_ident(&d.column);
        let filled: bool = tx
            .query_one(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM {qualified}
                     WHERE {c} IS DISTINCT FROM (SELECT {c} FROM {qualified} LIMIT 1))"
                ),
                &[],
            )?
            .get(0);
        if filled {
            why = Some(format!("the down writes values into {}", d.column));
        }
    }
    if let Some(why) = why {
        drop_kept(tx)?;
        return Ok(SwapBack::FromSnapshot(why));
    }
    let mut sp = tx.savepoint("migsafe_swap")?;
    let mut sql = format!(
        "ALTER TABLE {qualified} DROP COLUMN {c}; ALTER TABLE {qualified} RENAME COLUMN {a} TO {c};",
        c = quote_ident(&d.column),
        a = quote_ident(&d.aside)
    );
    if d.not_null {
        sql.push_str(&format!(
            " ALTER TABLE {qualified} ALTER COLUMN {} SET NOT NULL;",
            quote_ident(&d.column)
        ));
    }
    match sp.batch_execute(&sql) {
        Ok(()) => {
            sp.commit()?;
            Ok(SwapBack::Swapped)
        }
        Err(e) => {
            drop(sp);
            drop_kept(tx)?;
            Ok(SwapBack::FromSnapshot(format!(
                "PostgreSQL refused the swap: {}",
                crate::pg::error_text(&e)
            )))
        }
    }
}

/// Finalising: drops the kept column for good. `false` when it was already gone.
pub fn drop_kept(tx: &mut Transaction<'_>, d: &Deferred) -> Result<bool, postgres::Error> {
    let qualified = format!("{}.{}", quote_ident(&d.schema), quote_ident(&d.table));
    if column_def(tx, &qualified, &d.aside)?.is_none() {
        return Ok(false);
    }
    tx.batch_execute(&format!(
        "ALTER TABLE {qualified} DROP COLUMN {}",
        quote_ident(&d.aside)
    ))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_single_plain_drop_columns() {
        assert_eq!(
            candidate("ALTER TABLE accounts DROP COLUMN legacy_plan"),
            Some(("accounts".into(), "legacy_plan".into()))
        );
        assert_eq!(
            candidate(r#"alter table public."Acc" drop "Plan" restrict"#),
            Some((r#"public."Acc""#.into(), "Plan".into()))
        );
        assert_eq!(candidate("ALTER TABLE a DROP COLUMN b CASCADE"), None);
        assert_eq!(
            candidate("ALTER TABLE a DROP COLUMN b, DROP COLUMN c"),
            None
        );
        assert_eq!(candidate("ALTER TABLE a ADD COLUMN b int"), None);
        assert_eq!(candidate("DROP TABLE a"), None);
        assert_eq!(candidate("not sql at all"), None);
    }
}
