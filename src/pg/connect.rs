//! Connections to a user's PostgreSQL server: a connection URL or libpq key=value string parsed
//! into a [`Target`], TLS as `sslmode` asks, errors that say what went wrong without ever showing
//! the password, and [`Throwaway`] databases for verifying on a shared server.
//!
//! TLS is rustls (through `tokio-postgres-rustls`) with the `ring` crypto provider, chosen over
//! `postgres-openssl`/`postgres-native-tls` because it is pure Rust at run time — the binary does
//! not depend on the system's libssl version, so the same build runs on any CI image — and because
//! its certificate-verifier API lets `verify-ca` check the chain while skipping the host name,
//! which libpq's modes need. `sslrootcert=system` reads the operating system's trust store
//! (`rustls-native-certs`), as libpq does, rather than a bundled list.
//!
//! `sslmode` follows libpq:
//!
//! | sslmode | TLS | certificate checked |
//! |---|---|---|
//! | `disable` | never | — |
//! | `allow`, `prefer` (default) | when the server offers it | no |
//! | `require` | always | no; the chain only when a root certificate is given (`sslrootcert`, or `~/.postgresql/root.crt` exists), as libpq does |
//! | `verify-ca` | always | chain against the root certificates |
//! | `verify-full` | always | chain and host name (subject alternative names) |
//!
//! `allow` is treated as `prefer` (the client library cannot try plain text first). Client
//! certificates (`sslcert`, `sslkey`) and CRLs are not supported and are refused clearly.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use postgres::config::Host;
use postgres::error::SqlState;

use super::quote_ident;

/// What went wrong while connecting or managing a throwaway database. Every variant names the
/// server by its redacted URL: no message ever contains the password.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid connection string: {0}")]
    Invalid(String),
    #[error(
        "cannot reach the PostgreSQL server of {target}: {detail} (check host and port, and that the server is running and accepts TCP connections from here)"
    )]
    Unreachable { target: String, detail: String },
    #[error("authentication failed for {target}: {detail}")]
    AuthFailed { target: String, detail: String },
    #[error("database {database:?} does not exist on the server of {target}")]
    DatabaseMissing { target: String, database: String },
    #[error("TLS failed for {target}: {detail}")]
    Tls { target: String, detail: String },
    #[error(
        "role {role:?} may not create databases on the server of {target}: it lacks the CREATEDB privilege. Grant it (ALTER ROLE {role} CREATEDB), connect as a role that has it, or leave out --database-url to verify on a scratch cluster"
    )]
    NoCreateDb { target: String, role: String },
    #[error(
        "template database {template:?} on the server of {target} is in use: a database can be copied only while no other session is connected to it"
    )]
    TemplateInUse { target: String, template: String },
    #[error("{target}: {detail}")]
    Server {
        target: String,
        /// SQLSTATE, when the server sent one.
        code: Option<String>,
        detail: String,
    },
}

impl ConnectError {
    /// Maps a client error to a clear message. `postgres::Error`'s own Display is terse ("db
    /// error", "error connecting to server"): the detail is in its source chain.
    fn from_pg(target: &Target, e: &postgres::Error) -> ConnectError {
        let t = target.redacted();
        if let Some(db) = e.as_db_error() {
            let detail = db.message().to_string();
            return match db.code() {
                c if *c == SqlState::INVALID_PASSWORD
                    || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
                {
                    ConnectError::AuthFailed { target: t, detail }
                }
                c if *c == SqlState::INVALID_CATALOG_NAME => ConnectError::DatabaseMissing {
                    target: t,
                    database: target.dbname().unwrap_or(target.user()).to_string(),
                },
                c => ConnectError::Server {
                    target: t,
                    code: Some(c.code().to_string()),
                    detail,
                },
            };
        }
        let detail = chain(e);
        if detail.starts_with("error performing TLS handshake") {
            let detail = if detail.contains("server does not support TLS") {
                format!(
                    "server does not support TLS (sslmode={} needs a server with ssl = on; sslmode=prefer falls back to an unencrypted connection)",
                    target.sslmode.as_str()
                )
            } else {
                detail
            };
            return ConnectError::Tls { target: t, detail };
        }
        if detail.contains("password missing") {
            return ConnectError::AuthFailed {
                target: t,
                detail: "the server asks for a password and none was given".into(),
            };
        }
        if detail.starts_with("error connecting to server")
            || detail.starts_with("timeout waiting for server")
        {
            return ConnectError::Unreachable { target: t, detail };
        }
        if detail.starts_with("authentication error") {
            return ConnectError::AuthFailed { target: t, detail };
        }
        ConnectError::Server {
            target: t,
            code: None,
            detail,
        }
    }
}

/// An error and its causes, joined by ": ".
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !s.ends_with(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = c.source();
    }
    s
}

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn parse(s: &str) -> Result<SslMode, ConnectError> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(ConnectError::Invalid(format!(
                    "sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full, not {other:?}"
                )));
            }
        })
    }
}

/// A server and database to connect to. Display and Debug show the redacted URL only.
#[derive(Clone)]
pub struct Target {
    /// Everything the client library understands; `sslmode` mapped to what it models.
    config: postgres::Config,
    sslmode: SslMode,
    /// A PEM file, or `system` for the operating system's trust store.
    sslrootcert: Option<String>,
}

/// Parses a `postgres://` / `postgresql://` URL or a libpq `key=value` string.
///
/// Defaults, as libpq: port 5432, user = the OS user, database = the user, sslmode = prefer.
/// Also: `application_name=migsafe` and a 10 s connect timeout unless given.
pub fn from_url(url: &str) -> Result<Target, ConnectError> {
    let url = url.trim();
    let (rest, ours) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        split_url(url)?
    } else {
        split_keyword_value(url)?
    };
    let mut config: postgres::Config = rest
        .parse()
        .map_err(|e: postgres::Error| ConnectError::Invalid(chain(&e)))?;

    let mut sslmode = None;
    let mut sslrootcert = None;
    for (key, value) in ours {
        match key.as_str() {
            "sslmode" => sslmode = Some(SslMode::parse(&value)?),
            "sslrootcert" => sslrootcert = Some(value),
            other => {
                return Err(ConnectError::Invalid(format!(
                    "{other} is not supported: migsafe does not use client certificates or certificate revocation lists"
                )));
            }
        }
    }
    // libpq ≥ 16: the system's roots make verify-full the default and weaker modes an error,
    // since any public CA could otherwise vouch for any host.
    let sslmode = match (sslmode, sslrootcert.as_deref()) {
        (None, Some("system")) => SslMode::VerifyFull,
        (Some(m), Some("system")) if m != SslMode::VerifyFull => {
            return Err(ConnectError::Invalid(format!(
                "weak sslmode {:?} may not be used with sslrootcert=system (use verify-full)",
                m.as_str()
            )));
        }
        (m, _) => m.unwrap_or(SslMode::Prefer),
    };
    config.ssl_mode(match sslmode {
        SslMode::Disable => postgres::config::SslMode::Disable,
        SslMode::Allow | SslMode::Prefer => postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            postgres::config::SslMode::Require
        }
    });
    if config.get_hosts().is_empty() {
        return Err(ConnectError::Invalid(
            "no host given: postgres://user@HOST/database, or host=HOST".into(),
        ));
    }
    if config.get_user().is_none() {
        let user = os_user().ok_or_else(|| {
            ConnectError::Invalid(
                "no user given, and the OS user name is unknown: postgres://USER@host/database, or user=USER".into(),
            )
        })?;
        config.user(&user);
    }
    if config.get_application_name().is_none() {
        config.application_name("migsafe");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    Ok(Target {
        config,
        sslmode,
        sslrootcert,
    })
}

/// The keys migsafe handles itself: the client library knows `sslmode` only up to `require` and
/// nothing of root certificates; client-certificate keys are pulled out to refuse them clearly.
const OURS: &[&str] = &[
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslcrl",
    "sslcrldir",
];

type Split = (String, Vec<(String, String)>);

/// Removes [`OURS`] from a URL's query. The credentials end at the first `@` (so a password may
/// hold `?`), as in the client library's parser.
fn split_url(url: &str) -> Result<Split, ConnectError> {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let creds_end = url[after_scheme..]
        .find('@')
        .map_or(after_scheme, |i| after_scheme + i + 1);
    let Some(q) = url[creds_end..].find('?').map(|i| creds_end + i) else {
        return Ok((url.to_string(), Vec::new()));
    };
    let mut kept = Vec::new();
    let mut ours = Vec::new();
    for pair in url[q + 1..].split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(key)?;
        if OURS.contains(&key.as_str()) {
            ours.push((key, percent_decode(value)?));
        } else {
            kept.push(pair);
        }
    }
    let mut rest = url[..q].to_string();
    if !kept.is_empty() {
        rest.push('?');
        rest.push_str(&kept.join("&"));
    }
    Ok((rest, ours))
}

fn percent_decode(s: &str) -> Result<String, ConnectError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |j: usize| bytes.get(j).and_then(|b| (*b as char).to_digit(16));
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| ConnectError::Invalid("a URL parameter is not valid UTF-8".into()))
}

/// Splits a libpq `key=value` string (values bare or single-quoted, `\` escapes) into what the
/// client library gets back, re-quoted, and [`OURS`].
fn split_keyword_value(s: &str) -> Result<Split, ConnectError> {
    let mut rest = Vec::new();
    let mut ours = Vec::new();
    let mut it = s.chars().peekable();
    loop {
        while it.peek().is_some_and(|c| c.is_whitespace()) {
            it.next();
        }
        if it.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = it.peek() {
            if c.is_whitespace() || c == '=' {
                break;
            }
            key.push(c);
            it.next();
        }
        while it.peek().is_some_and(|c| c.is_whitespace()) {
            it.next();
        }
        if it.next() != Some('=') {
            return Err(ConnectError::Invalid(format!(
                "expected `=` after {key:?} (a connection string is key=value pairs or a postgres:// URL)"
            )));
        }
        while it.peek().is_some_and(|c| c.is_whitespace()) {
            it.next();
        }
        let mut value = String::new();
        if it.peek() == Some(&'\'') {
            it.next();
            loop {
                match it.next() {
                    None => {
                        return Err(ConnectError::Invalid(format!(
                            "unterminated quoted value for {key:?}"
                        )));
                    }
                    Some('\'') => break,
                    Some('\\') => value.extend(it.next()),
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(&c) = it.peek() {
                if c.is_whitespace() {
                    break;
                }
                it.next();
                if c == '\\' {
                    value.extend(it.next());
                } else {
                    value.push(c);
                }
            }
        }
        if OURS.contains(&key.as_str()) {
            ours.push((key, value));
        } else {
            let quoted = value.replace('\\', "\\\\").replace('\'', "\\'");
            rest.push(format!("{key}='{quoted}'"));
        }
    }
    Ok((rest.join(" "), ours))
}

/// The effective OS user's name, libpq's default user (`getpwuid_r`: thread-safe).
fn os_user() -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    let rc = unsafe {
        libc::getpwuid_r(
            libc::geteuid(),
            &mut pw,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() || pw.pw_name.is_null() {
        return std::env::var("USER").ok().filter(|u| !u.is_empty());
    }
    let name = unsafe { std::ffi::CStr::from_ptr(pw.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

/// Percent-encodes all but RFC 3986's unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Target {
    /// A canonical URL of this target with the password, if any, shown as `***`: user, hosts
    /// and ports, database, sslmode and sslrootcert. The only way a target is ever shown.
    pub fn redacted(&self) -> String {
        let c = &self.config;
        let mut s = String::from("postgres://");
        if let Some(user) = c.get_user() {
            s.push_str(&percent_encode(user));
            if c.get_password().is_some() {
                s.push_str(":***");
            }
            s.push('@');
        }
        let ports = c.get_ports();
        let port = |i: usize| ports.get(i).or(ports.first()).copied().unwrap_or(5432);
        let mut tcp = Vec::new();
        let mut params = Vec::new();
        for (i, host) in c.get_hosts().iter().enumerate() {
            match host {
                Host::Tcp(name) if name.contains(':') => tcp.push(format!("[{name}]:{}", port(i))),
                Host::Tcp(name) => tcp.push(format!("{}:{}", percent_encode(name), port(i))),
                #[cfg(unix)]
                Host::Unix(path) => {
                    params.push(format!("host={}", percent_encode(&path.to_string_lossy())));
                    params.push(format!("port={}", port(i)));
                }
            }
        }
        s.push_str(&tcp.join(","));
        s.push('/');
        if let Some(db) = c.get_dbname() {
            s.push_str(&percent_encode(db));
        }
        params.push(format!("sslmode={}", self.sslmode.as_str()));
        if let Some(root) = &self.sslrootcert {
            params.push(format!("sslrootcert={}", percent_encode(root)));
        }
        s.push('?');
        s.push_str(&params.join("&"));
        s
    }

    pub fn sslmode(&self) -> SslMode {
        self.sslmode
    }

    pub fn user(&self) -> &str {
        self.config.get_user().unwrap_or_default()
    }

    /// The database named in the URL; PostgreSQL defaults to the user's name when none is.
    pub fn dbname(&self) -> Option<&str> {
        self.config.get_dbname()
    }

    /// The client library's configuration (its Debug output hides the password).
    pub fn config(&self) -> &postgres::Config {
        &self.config
    }

    /// The same server, another database.
    pub fn with_dbname(&self, db: &str) -> Target {
        let mut t = self.clone();
        t.config.dbname(db);
        t
    }

    /// libpq environment variables for running `pg_dump`, `psql` and friends against this
    /// target: the password travels in the environment, never in argv.
    pub fn pg_env(&self) -> Vec<(&'static str, OsString)> {
        let c = &self.config;
        let mut env = Vec::new();
        let hosts: Vec<String> = c
            .get_hosts()
            .iter()
            .map(|h| match h {
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.to_string_lossy().into_owned(),
            })
            .collect();
        env.push(("PGHOST", hosts.join(",").into()));
        let ports: Vec<String> = c.get_ports().iter().map(u16::to_string).collect();
        if !ports.is_empty() {
            env.push(("PGPORT", ports.join(",").into()));
        }
        env.push(("PGUSER", self.user().into()));
        if let Some(db) = c.get_dbname() {
            env.push(("PGDATABASE", db.into()));
        }
        if let Some(pw) = c.get_password() {
            use std::os::unix::ffi::OsStrExt;
            env.push(("PGPASSWORD", std::ffi::OsStr::from_bytes(pw).to_owned()));
        }
        env.push(("PGSSLMODE", self.sslmode.as_str().into()));
        if let Some(root) = &self.sslrootcert {
            env.push(("PGSSLROOTCERT", root.into()));
        }
        if let Some(app) = c.get_application_name() {
            env.push(("PGAPPNAME", app.into()));
        }
        if let Some(t) = c.get_connect_timeout() {
            env.push(("PGCONNECT_TIMEOUT", t.as_secs().max(1).to_string().into()));
        }
        env
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Target").field(&self.redacted()).finish()
    }
}

/// Sets each `(name, value)` for the rest of the session, in order. On failure, returns the
/// setting PostgreSQL refused with its error.
pub fn set_session<'a>(
    client: &mut postgres::Client,
    settings: &'a [(String, String)],
) -> Result<(), (&'a str, &'a str, postgres::Error)> {
    for (name, value) in settings {
        client
            .execute(
                "SELECT pg_catalog.set_config($1, $2, false)",
                &[name, value],
            )
            .map_err(|e| (name.as_str(), value.as_str(), e))?;
    }
    Ok(())
}

/// Connects to `target`, with TLS and certificate checks as its `sslmode` asks.
pub fn connect(target: &Target) -> Result<postgres::Client, ConnectError> {
    let result = if target.sslmode == SslMode::Disable {
        target.config.connect(postgres::NoTls)
    } else {
        target.config.connect(tls::connector(target)?)
    };
    result.map_err(|e| ConnectError::from_pg(target, &e))
}

mod tls {
    //! The rustls client configuration for each sslmode.

    use super::*;
    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::CryptoProvider;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
    use tokio_postgres_rustls::MakeRustlsConnect;

    enum Check {
        /// libpq's prefer and require: encrypted, but anyone can be on the other end.
        Nothing,
        Chain(RootCertStore),
        ChainAndHost(RootCertStore),
    }

    pub(super) fn connector(target: &Target) -> Result<MakeRustlsConnect, ConnectError> {
        let tls_err = |detail: String| ConnectError::Tls {
            target: target.redacted(),
            detail,
        };
        let check = match target.sslmode {
            SslMode::Disable | SslMode::Allow | SslMode::Prefer => Check::Nothing,
            // libpq: require with a root certificate at hand behaves as verify-ca.
            SslMode::Require => match root_file(target) {
                Some(file) if file.exists() => Check::Chain(load_file(&file).map_err(tls_err)?),
                _ => Check::Nothing,
            },
            SslMode::VerifyCa => Check::Chain(roots(target).map_err(tls_err)?),
            SslMode::VerifyFull => Check::ChainAndHost(roots(target).map_err(tls_err)?),
        };
        // An explicit provider: whichever one another dependency might install as the process
        // default, this one is used.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let webpki = |roots: RootCertStore| {
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| tls_err(format!("cannot use the root certificates: {e}")))
        };
        let verifier: Arc<dyn ServerCertVerifier> = match check {
            Check::Nothing => Arc::new(AnyCertificate(provider.clone())),
            Check::Chain(roots) => Arc::new(AnyHostName(webpki(roots)?)),
            Check::ChainAndHost(roots) => webpki(roots)?,
        };
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_err(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(MakeRustlsConnect::new(config))
    }

    /// The root certificate file: `sslrootcert`, else libpq's default `~/.postgresql/root.crt`.
    fn root_file(target: &Target) -> Option<PathBuf> {
        match target.sslrootcert.as_deref() {
            Some("system") => None,
            Some(path) => Some(PathBuf::from(path)),
            None => {
                std::env::var_os("HOME").map(|home| Path::new(&home).join(".postgresql/root.crt"))
            }
        }
    }

    fn roots(target: &Target) -> Result<RootCertStore, String> {
        if target.sslrootcert.as_deref() == Some("system") {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(
                    "sslrootcert=system, but the system trust store holds no certificates".into(),
                );
            }
            return Ok(roots);
        }
        match root_file(target) {
            Some(file) if file.exists() => load_file(&file),
            Some(file) => Err(format!(
                "root certificate file {} does not exist: give the CA certificate with sslrootcert=FILE, use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification",
                file.display()
            )),
            None => Err(
                "no root certificate: give the CA certificate with sslrootcert=FILE or sslrootcert=system"
                    .into(),
            ),
        }
    }

    fn load_file(file: &Path) -> Result<RootCertStore, String> {
        let cannot = |e: &dyn std::fmt::Display| {
            format!("cannot read root certificates from {}: {e}", file.display())
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(file)
            .map_err(|e| cannot(&e))?
            .collect::<Result<_, _>>()
            .map_err(|e| cannot(&e))?;
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(certs);
        if roots.is_empty() {
            return Err(format!(
                "no usable certificate in root certificate file {}",
                file.display()
            ));
        }
        Ok(roots)
    }

    /// Accepts any certificate; still checks that the server holds its key.
    #[derive(Debug)]
    struct AnyCertificate(Arc<CryptoProvider>);

    impl ServerCertVerifier for AnyCertificate {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    /// verify-ca: the full web-PKI check, except that a certificate for another name passes.
    /// webpki checks the chain before the name, so a name error means the chain was good.
    #[derive(Debug)]
    struct AnyHostName(Arc<WebPkiServerVerifier>);

    impl ServerCertVerifier for AnyHostName {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp_response: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            match self.0.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ) {
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. },
                )) => Ok(ServerCertVerified::assertion()),
                other => other,
            }
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.0.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.0.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.supported_verify_schemes()
        }
    }
}

/// A database created for one verification on a user's server and dropped when done (on
/// `Drop`, or by [`Throwaway::remove`] to see errors). Its name starts with `migsafe_`, so
/// leftovers of a killed run can be found.
pub struct Throwaway {
    name: String,
    target: Target,
    admin_target: Target,
    /// The connection that created the database, kept to drop it.
    admin: Option<postgres::Client>,
    client: Option<postgres::Client>,
    server_version: i32,
    removed: bool,
}

impl fmt::Debug for Throwaway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Throwaway")
            .field("name", &self.name)
            .field("target", &self.target)
            .finish()
    }
}

impl Throwaway {
    /// An empty database (a copy of template0, so nothing in the server's template1 leaks in).
    pub fn create(target: &Target, prefix: &str) -> Result<Throwaway, ConnectError> {
        Throwaway::create_inner(target, "template0", prefix, None)
    }

    /// An empty database owned by `owner`'s role (same server), whose connection is made as
    /// that role: for SQL that must not run with `target`'s privileges.
    pub fn create_owned(
        target: &Target,
        prefix: &str,
        owner: &Target,
    ) -> Result<Throwaway, ConnectError> {
        Throwaway::create_inner(target, "template0", prefix, Some(owner))
    }

    /// A copy of `template` (no other session may be connected to it meanwhile).
    pub fn create_from_template(
        target: &Target,
        template: &str,
        prefix: &str,
    ) -> Result<Throwaway, ConnectError> {
        Throwaway::create_inner(target, template, prefix, None)
    }

    fn create_inner(
        target: &Target,
        template: &str,
        prefix: &str,
        owner: Option<&Target>,
    ) -> Result<Throwaway, ConnectError> {
        let mut admin = connect(target)?;
        let pg = |e: postgres::Error| ConnectError::from_pg(target, &e);
        let server_version: i32 = admin
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .map_err(pg)?
            .get(0);
        let name = unique_name(prefix);
        let sql = format!(
            "CREATE DATABASE {} TEMPLATE {}{}",
            quote_ident(&name),
            quote_ident(template),
            owner
                .map(|o| format!(" OWNER {}", quote_ident(o.user())))
                .unwrap_or_default()
        );
        if let Err(e) = admin.batch_execute(&sql) {
            let t = target.redacted();
            return Err(match e.code() {
                Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => ConnectError::NoCreateDb {
                    target: t,
                    role: target.user().to_string(),
                },
                Some(c) if *c == SqlState::OBJECT_IN_USE => ConnectError::TemplateInUse {
                    target: t,
                    template: template.to_string(),
                },
                Some(c) if *c == SqlState::INVALID_CATALOG_NAME => ConnectError::DatabaseMissing {
                    target: t,
                    database: template.to_string(),
                },
                _ => pg(e),
            });
        }
        let mut throwaway = Throwaway {
            target: owner.unwrap_or(target).with_dbname(&name),
            name,
            admin_target: target.clone(),
            admin: Some(admin),
            client: None,
            server_version,
            removed: false,
        };
        // On failure the Throwaway is dropped here, and the database with it.
        throwaway.client = Some(connect(&throwaway.target)?);
        Ok(throwaway)
    }

    /// The database's name (unquoted).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The target for this database, for more connections or external tools.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// A connection to the database.
    pub fn client(&mut self) -> &mut postgres::Client {
        self.client
            .as_mut()
            .expect("a live Throwaway always has its connection")
    }

    /// Drops the database now, reporting failure (Drop cannot).
    pub fn remove(mut self) -> Result<(), ConnectError> {
        self.drop_database()
    }

    fn drop_database(&mut self) -> Result<(), ConnectError> {
        if self.removed {
            return Ok(());
        }
        self.client = None;
        let mut admin = match self.admin.take() {
            Some(c) if !c.is_closed() => c,
            _ => connect(&self.admin_target)?,
        };
        let pg = |e: postgres::Error| ConnectError::from_pg(&self.admin_target, &e);
        let name = quote_ident(&self.name);
        if self.server_version >= 130000 {
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .map_err(pg)?;
        } else {
            admin
                .execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = $1 AND pid <> pg_backend_pid()",
                    &[&self.name],
                )
                .map_err(pg)?;
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
                .map_err(pg)?;
        }
        self.removed = true;
        Ok(())
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let _ = self.drop_database();
    }
}

/// `migsafe_<prefix>_<12 hex digits>`: lower case (no quoting surprises in psql), at most 63
/// bytes (PostgreSQL's limit), random enough that CI jobs sharing a server never collide.
fn unique_name(prefix: &str) -> String {
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let random = std::hash::RandomState::new().hash_one((
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed),
    ));
    let mut prefix: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    prefix.truncate(63 - "migsafe__".len() - 12);
    format!("migsafe_{prefix}_{:012x}", random & 0xffff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-Pa55";

    #[test]
    fn urls_parse_with_defaults() {
        let t = from_url("postgres://app@db.example.com/app").unwrap();
        assert_eq!(t.user(), "app");
        assert_eq!(t.dbname(), Some("app"));
        assert_eq!(t.sslmode(), SslMode::Prefer);
        assert_eq!(t.config().get_ports(), &[5432]);
        assert_eq!(t.config().get_application_name(), Some("migsafe"));
        assert_eq!(
            t.redacted(),
            "postgres://app@db.example.com:5432/app?sslmode=prefer"
        );
        let t = from_url("postgresql://app@h:6543/db?application_name=x").unwrap();
        assert_eq!(t.config().get_ports(), &[6543]);
        assert_eq!(t.config().get_application_name(), Some("x"));
    }

    #[test]
    fn every_sslmode_parses_from_urls_and_keyword_strings() {
        for (text, mode, lib) in [
            (
                "disable",
                SslMode::Disable,
                postgres::config::SslMode::Disable,
            ),
            ("allow", SslMode::Allow, postgres::config::SslMode::Prefer),
            ("prefer", SslMode::Prefer, postgres::config::SslMode::Prefer),
            (
                "require",
                SslMode::Require,
                postgres::config::SslMode::Require,
            ),
            (
                "verify-ca",
                SslMode::VerifyCa,
                postgres::config::SslMode::Require,
            ),
            (
                "verify-full",
                SslMode::VerifyFull,
                postgres::config::SslMode::Require,
            ),
        ] {
            let u = from_url(&format!(
                "postgres://u@h/db?sslmode={text}&connect_timeout=3"
            ))
            .unwrap();
            assert_eq!(u.sslmode(), mode);
            assert_eq!(u.config().get_ssl_mode(), lib);
            assert_eq!(
                u.config().get_connect_timeout(),
                Some(&Duration::from_secs(3))
            );
            let k = from_url(&format!("host=h user=u dbname=db sslmode={text}")).unwrap();
            assert_eq!(k.sslmode(), mode);
            assert_eq!(k.config().get_ssl_mode(), lib);
        }
        let e = from_url("postgres://u@h/db?sslmode=bogus").unwrap_err();
        assert!(e.to_string().contains("sslmode must be one of"), "{e}");
    }

    #[test]
    fn sslrootcert_is_kept_and_system_roots_need_verify_full() {
        let t =
            from_url("postgres://u@h/db?sslmode=verify-ca&sslrootcert=%2Fetc%2Fca.pem").unwrap();
        assert_eq!(t.sslrootcert.as_deref(), Some("/etc/ca.pem"));
        assert!(
            t.redacted()
                .ends_with("?sslmode=verify-ca&sslrootcert=%2Fetc%2Fca.pem")
        );
        let t = from_url("host=h user=u sslrootcert=system").unwrap();
        assert_eq!(t.sslmode(), SslMode::VerifyFull);
        let e = from_url("host=h user=u sslrootcert=system sslmode=require").unwrap_err();
        assert!(e.to_string().contains("verify-full"), "{e}");
        let e = from_url("postgres://u@h/db?sslcert=/c.pem").unwrap_err();
        assert!(e.to_string().contains("sslcert is not supported"), "{e}");
    }

    #[test]
    fn keyword_values_may_be_quoted_and_escaped() {
        let t = from_url(r"host=h user='my user' password='it\'s a \\secret' dbname = db").unwrap();
        assert_eq!(t.user(), "my user");
        assert_eq!(t.config().get_password(), Some(&br"it's a \secret"[..]));
        assert_eq!(t.dbname(), Some("db"));
        assert!(from_url("host=h user='open").is_err());
        assert!(from_url("host").is_err());
    }

    #[test]
    fn a_url_needs_a_host() {
        let e = from_url("postgres:///db").unwrap_err();
        assert!(e.to_string().contains("no host"), "{e}");
        // A socket directory is a host.
        let t = from_url("postgres://u@%2Fvar%2Frun%2Fpostgresql/db").unwrap();
        assert_eq!(
            t.redacted(),
            "postgres://u@/db?host=%2Fvar%2Frun%2Fpostgresql&port=5432&sslmode=prefer"
        );
    }

    #[test]
    fn the_password_is_never_shown() {
        let inputs = [
            format!("postgres://app:{SECRET}@db.example.com:5433/app?sslmode=require"),
            format!("postgresql://app@db.example.com/app?password={SECRET}"),
            format!("host=db.example.com user=app password={SECRET} dbname=app"),
            format!("host=db.example.com user=app password='{SECRET}' sslmode=verify-full"),
            // A `?` in the password does not start the query.
            format!("postgres://app:{SECRET}%3Fx@[::1]:5432/app"),
        ];
        for input in inputs {
            let t = from_url(&input).unwrap();
            let shown = [
                t.to_string(),
                format!("{t:?}"),
                t.redacted(),
                format!("{:?}", t.with_dbname("other")),
            ];
            for s in shown {
                assert!(!s.contains(SECRET), "{s}");
                assert!(s.contains("***"), "{s}");
            }
            let library = format!("{:?}", t.config());
            assert!(!library.contains(SECRET), "{library}");
            assert_eq!(
                t.config()
                    .get_password()
                    .map(|p| p.starts_with(SECRET.as_bytes())),
                Some(true)
            );
        }
        let t = from_url(&format!("postgres://app:{SECRET}@[::1]:5432/app")).unwrap();
        assert_eq!(
            t.redacted(),
            "postgres://app:***@[::1]:5432/app?sslmode=prefer"
        );
    }

    #[test]
    fn pg_env_carries_everything_for_libpq_tools() {
        let t = from_url(&format!(
            "postgres://app:{SECRET}@h1:5433,h2:5434/db?sslmode=verify-full&sslrootcert=%2Fca.pem"
        ))
        .unwrap();
        let env: std::collections::BTreeMap<_, _> = t.pg_env().into_iter().collect();
        assert_eq!(env["PGHOST"], "h1,h2");
        assert_eq!(env["PGPORT"], "5433,5434");
        assert_eq!(env["PGUSER"], "app");
        assert_eq!(env["PGDATABASE"], "db");
        assert_eq!(env["PGPASSWORD"], SECRET);
        assert_eq!(env["PGSSLMODE"], "verify-full");
        assert_eq!(env["PGSSLROOTCERT"], "/ca.pem");
    }

    #[test]
    fn throwaway_names_are_unique_lower_case_and_short() {
        let a = unique_name("Verify Me");
        let b = unique_name("Verify Me");
        assert_ne!(a, b);
        assert!(a.starts_with("migsafe_verify_me_"), "{a}");
        let long = unique_name(&"x".repeat(100));
        assert!(long.len() <= 63, "{long}");
    }
}
