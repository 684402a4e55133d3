//! Snapshots of what irreversible steps destroy, and their restore.
//!
//! - [`store`]: the on-disk store (`<store>/<target>/<id>/`, manifest written last).
//! - [`capture`]: targeted capture of one statement's victims, inside a given transaction.
//! - [`observe`]: observed capture of what each statement of a step changed, and the tripwire.
//! - [`restore`]: targeted restore keyed by primary key, keeping rows written since.
//! - [`full`]: `pg_dump -Fd -j N` / `pg_restore -j N` snapshots of a database or schema.

pub mod capture;
pub mod full;
pub mod manifest;
pub mod observe;
pub mod restore;
pub mod store;

pub use manifest::{Kind, Manifest};
pub use store::{Entry, Store, StoreError};

/// The migsafe version recorded in manifests and drill reports.
pub const MIGSAFE_VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
mod tests;
