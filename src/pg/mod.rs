//! Everything that talks to PostgreSQL: scratch clusters, connections, catalog fingerprints.

pub mod cluster;
pub mod fingerprint;
#[doc(hidden)]
pub mod testing;

pub use cluster::Cluster;

/// `name` as a quoted SQL identifier: `"accounts"`, `"we""ird"`. Every identifier migsafe puts
/// into SQL goes through here.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A connection config from a `postgres://` URL or a libpq `key=value` string. Without a
/// password in it, `PGPASSWORD` supplies one, so the password need not be in argv.
pub fn config_from_url(url: &str) -> Result<postgres::Config, postgres::Error> {
    let mut config: postgres::Config = url.parse()?;
    if config.get_password().is_none()
        && let Ok(pw) = std::env::var("PGPASSWORD")
    {
        config.password(pw);
    }
    Ok(config)
}

/// The URL with any password replaced by `***`, for messages.
pub fn redact_url(url: &str) -> String {
    // postgres://user:secret@host/db
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && let Some((user, _)) = userinfo.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    // key=value form: password=secret
    url.split_whitespace()
        .map(|kv| {
            if kv.starts_with("password=") {
                "password=***".to_string()
            } else {
                kv.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
