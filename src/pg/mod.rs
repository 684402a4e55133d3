//! Everything that talks to PostgreSQL: scratch clusters, connections, catalog fingerprints.

pub mod cluster;
pub mod fingerprint;
#[doc(hidden)]
pub mod testing;

pub use cluster::Cluster;
