//! Everything that talks to PostgreSQL: scratch clusters, connections, catalog fingerprints.

pub mod cluster;
pub mod connect;
pub mod fingerprint;
#[doc(hidden)]
pub mod testing;

pub use cluster::Cluster;

/// `name` as a quoted SQL identifier: always double-quoted, embedded quotes doubled. Quoting
/// every identifier (not only those that need it) keeps case and reserved words from ever
/// changing what a statement means.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A client error as one clear line: the server's message with its SQLSTATE, detail and hint,
/// or the cause chain (`postgres::Error` alone prints only "db error").
pub fn error_text(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{} (SQLSTATE {})", db.message(), db.code().code());
            if let Some(d) = db.detail() {
                s.push_str(&format!("; {d}"));
            }
            if let Some(h) = db.hint() {
                s.push_str(&format!("; hint: {h}"));
            }
            s
        }
        None => connect::chain(e),
    }
}

#[cfg(test)]
mod tests {
    use super::quote_ident;

    #[test]
    fn quote_ident_always_quotes_and_doubles_quotes() {
        assert_eq!(quote_ident("accounts"), r#""accounts""#);
        assert_eq!(quote_ident("Mixed Case"), r#""Mixed Case""#);
        assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
        assert_eq!(quote_ident("select"), r#""select""#);
    }
}
