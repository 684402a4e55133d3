//! History rules (MS3xx): how the migrations a branch adds or changes relate to those already
//! merged. They need a base to compare with, so only `migsafe lint --since REV` runs them; the
//! findings come from [`crate::history`], not from [`Rule::check`], which has no SQL to look at.

pub mod edited_applied_migration;
pub mod out_of_order_migration;

use super::Rule;

pub static RULES: &[&dyn Rule] = &[
    &out_of_order_migration::OutOfOrderMigration,
    &edited_applied_migration::EditedAppliedMigration,
];
