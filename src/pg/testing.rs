//! For tests (unit and integration): one scratch cluster per test process, and a fresh database
//! per test copied from a template. The cluster lives in a static and is never dropped; its
//! guardian removes it when the test process exits.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Cluster;

static CLUSTER: LazyLock<Cluster> =
    LazyLock::new(|| Cluster::start().expect("cannot start the scratch PostgreSQL for tests"));
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The process-wide test cluster, started on first use.
pub fn cluster() -> &'static Cluster {
    &CLUSTER
}

/// A new, empty database (a copy of template0) with a unique name, and a connection to it.
pub fn fresh_database(prefix: &str) -> (String, postgres::Client) {
    let c = cluster();
    let name = format!(
        "{}_{}_{}",
        prefix
            .to_ascii_lowercase()
            .replace(|ch: char| !ch.is_ascii_alphanumeric(), "_"),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = c.connect("postgres").expect("connect to the test cluster");
    admin
        .batch_execute(&format!("CREATE DATABASE \"{name}\" TEMPLATE template0"))
        .expect("create a test database");
    let client = c.connect(&name).expect("connect to the test database");
    (name, client)
}
