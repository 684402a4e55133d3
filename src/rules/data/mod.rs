//! Data rules (MS0xx): steps that destroy data, and migrations that cannot be rolled back.

mod delete_without_where;
mod destructive_backfill;
mod drop_cascade;
mod drop_column;
mod drop_database;
mod drop_schema_cascade;
mod drop_table;
mod empty_down;
mod irreversible_without_down;
mod lossy_type_change;
mod sequence_reset;
mod truncate_table;
mod update_without_where;

use super::Rule;

pub static RULES: &[&dyn Rule] = &[
    &drop_table::DropTable,
    &drop_column::DropColumn,
    &drop_schema_cascade::DropSchemaCascade,
    &drop_database::DropDatabase,
    &truncate_table::TruncateTable,
    &delete_without_where::DeleteWithoutWhere,
    &update_without_where::UpdateWithoutWhere,
    &destructive_backfill::DestructiveBackfill,
    &lossy_type_change::LossyTypeChange,
    &sequence_reset::SequenceReset,
    &drop_cascade::DropCascade,
    &irreversible_without_down::IrreversibleWithoutDown,
    &empty_down::EmptyDown,
];
