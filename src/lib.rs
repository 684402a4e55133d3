//! migsafe: keeps irreversible PostgreSQL schema migrations from reaching customers without a
//! way back. Data flows one way: source → sql → classify → rules → report.

pub mod applied;
pub mod apply;
pub mod classify;
pub mod cli;
pub mod config;
pub mod drift;
pub mod drill;
pub mod git;
pub mod history;
pub mod ledger;
pub mod lint;
pub mod pg;
pub mod plan;
pub mod report;
pub mod rules;
pub mod snapshot;
pub mod source;
pub mod sql;
pub mod units;
pub mod verify;
