//! Schema fingerprints (being written).

/// A deterministic, normalised description of a database's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// One line per object property, sorted; equal schemas give equal text.
    pub text: String,
}

/// What the fingerprint leaves out: the runner's and migsafe's own tables, by name as
/// `schema.table` (e.g. `public._sqlx_migrations`, `migsafe.*` for a whole schema).
#[derive(Debug, Clone, Default)]
pub struct Exclude {
    pub objects: Vec<String>,
}

/// Reads the catalogs of the database `client` is connected to.
pub fn fingerprint(
    _client: &mut postgres::Client,
    _exclude: &Exclude,
) -> Result<Fingerprint, postgres::Error> {
    todo!("fingerprint")
}

/// A readable unified diff from `before` to `after` (empty when equal).
pub fn diff(_before: &Fingerprint, _after: &Fingerprint) -> String {
    todo!("diff")
}
