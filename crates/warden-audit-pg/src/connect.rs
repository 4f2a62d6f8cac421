//! Where the database is and how to reach it: a `postgres://` address without its password, the
//! password apart, TLS through rustls (ring), and a connect timeout.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use postgres::Client;
use postgres::config::SslMode;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::PgError;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// No TLS: allowed only for a loopback host (the configuration refuses it elsewhere).
    Disable,
    /// TLS, without checking the server's certificate: encrypted, but open to a man in the
    /// middle. Flagged as a risky setting.
    Require,
    /// TLS, the server's certificate checked against the CA (the `ca_file`, or the web's roots)
    /// and the host name. The default.
    VerifyFull,
}

impl TlsMode {
    /// The mode named `text` (`disable`, `require`, `verify-full`).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "disable" => Some(Self::Disable),
            "require" => Some(Self::Require),
            "verify-full" => Some(Self::VerifyFull),
            _ => None,
        }
    }
}

/// A password, never shown.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// A password of `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

/// A PostgreSQL database to connect to.
#[derive(Debug, Clone)]
pub struct PgTarget {
    /// The host (a name or an address).
    pub host: String,
    /// The port (default 5432).
    pub port: u16,
    /// The database.
    pub dbname: String,
    /// The role.
    pub user: String,
    /// The password, when one is needed.
    pub password: Option<Password>,
    /// How the connection is protected.
    pub tls: TlsMode,
    /// PEM certificates of the CA that signs the server's certificate (`verify-full`).
    pub ca_file: Option<PathBuf>,
    /// How long to wait for the connection.
    pub connect_timeout: Duration,
}

impl PgTarget {
    /// The target of `url` (`postgres://user@host:port/dbname`, or `postgresql://`), with TLS
    /// `verify-full` and a 5-second connect timeout. A password in the address is refused (it
    /// would show wherever the address does): give it apart. The error names no secret.
    pub fn from_url(url: &str) -> Result<Self, String> {
        let parsed =
            url::Url::parse(url).map_err(|e| format!("not a postgres:// address ({e})"))?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(format!(
                "the address must begin with postgres://, not {}://",
                parsed.scheme()
            ));
        }
        if parsed.password().is_some() {
            return Err(
                "the address holds a password: remove it, and give the password apart (an \
                 environment variable or a file)"
                    .to_owned(),
            );
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(
                "the address holds options after `?` or `#`: give them as settings instead"
                    .to_owned(),
            );
        }
        let host = match parsed.host() {
            Some(url::Host::Domain(name)) if !name.is_empty() => name.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err("the address names no host".to_owned()),
        };
        let user = parsed.username();
        if user.is_empty() {
            return Err("the address names no role: postgres://ROLE@HOST/DATABASE".to_owned());
        }
        let user = percent_decode(user)?;
        let dbname = percent_decode(parsed.path().trim_start_matches('/'))?;
        if dbname.is_empty() || dbname.contains('/') {
            return Err("the address names no database: postgres://ROLE@HOST/DATABASE".to_owned());
        }
        Ok(Self {
            host,
            port: parsed.port().unwrap_or(5432),
            dbname,
            user,
            password: None,
            tls: TlsMode::VerifyFull,
            ca_file: None,
            connect_timeout: Duration::from_secs(5),
        })
    }

    /// Whether the host is a loopback address or `localhost`.
    pub fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// The address, without a password: `postgres://user@host:port/dbname`.
    pub fn display(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!(
            "postgres://{}@{host}:{}/{}",
            self.user, self.port, self.dbname
        )
    }

    /// Connect. Must not be called from inside an asynchronous runtime (the client runs its
    /// own); [`crate::PgSink::open`] and the readers take care of that.
    pub fn connect(&self) -> Result<Client, PgError> {
        let mut config = postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .dbname(&self.dbname)
            .user(&self.user)
            .application_name("odoo-warden")
            .connect_timeout(self.connect_timeout)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30));
        if let Some(password) = &self.password {
            config.password(&password.0);
        }
        let connected = match self.tls {
            TlsMode::Disable => {
                config.ssl_mode(SslMode::Disable);
                config.connect(postgres::NoTls)
            }
            TlsMode::Require | TlsMode::VerifyFull => {
                config.ssl_mode(SslMode::Require);
                let tls = tokio_postgres_rustls::MakeRustlsConnect::new(self.rustls()?);
                config.connect(tls)
            }
        };
        connected.map_err(|e| {
            let reason = match e.as_db_error() {
                Some(db) => db.message().to_owned(),
                None => crate::with_causes(&e),
            };
            PgError::new(format!("cannot connect to {}: {reason}", self.display()))
        })
    }

    fn rustls(&self) -> Result<rustls::ClientConfig, PgError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| PgError::new(format!("TLS: {e}")))?;
        let config = match self.tls {
            TlsMode::Require => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoCertificateCheck(provider)))
                .with_no_client_auth(),
            _ => {
                let mut roots = rustls::RootCertStore::empty();
                match &self.ca_file {
                    Some(path) => {
                        let certs = CertificateDer::pem_file_iter(path)
                            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                            .map_err(|e| {
                                PgError::new(format!(
                                    "cannot read the CA file {}: {e}",
                                    path.display()
                                ))
                            })?;
                        let (added, _) = roots.add_parsable_certificates(certs);
                        if added == 0 {
                            return Err(PgError::new(format!(
                                "the CA file {} holds no certificate",
                                path.display()
                            )));
                        }
                    }
                    None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
                }
                builder.with_root_certificates(roots).with_no_client_auth()
            }
        };
        Ok(config)
    }
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| "the address holds an invalid %-escape".to_owned())?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the address is not UTF-8 once decoded".to_owned())
}

/// `tls = "require"`: the handshake's signatures are checked, the certificate is not.
#[derive(Debug)]
struct NoCertificateCheck(Arc<CryptoProvider>);

impl ServerCertVerifier for NoCertificateCheck {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_parsed_and_shown_without_password() {
        let target = PgTarget::from_url("postgres://audit%40x@db.example:6432/warden").unwrap();
        assert_eq!(target.user, "audit@x");
        assert_eq!(target.host, "db.example");
        assert_eq!(target.port, 6432);
        assert_eq!(target.dbname, "warden");
        assert_eq!(target.tls, TlsMode::VerifyFull);
        assert!(!target.is_loopback());
        let ipv6 = PgTarget::from_url("postgresql://a@[::1]/d").unwrap();
        assert!(ipv6.is_loopback());
        assert_eq!(ipv6.display(), "postgres://a@[::1]:5432/d");
        assert!(
            PgTarget::from_url("postgres://a@localhost/d")
                .unwrap()
                .is_loopback()
        );
    }

    #[test]
    fn bad_addresses_are_refused_without_the_secret() {
        let error = PgTarget::from_url("postgres://a:hunter2@h/d").unwrap_err();
        assert!(error.contains("password"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        for (url, want) in [
            ("mysql://a@h/d", "postgres://"),
            ("postgres://h/d", "no role"),
            ("postgres://a@h/", "no database"),
            ("postgres://a@h/d?sslmode=disable", "options"),
            ("postgres://a@/d", "host"),
            ("not a url", "not a postgres"),
        ] {
            let error = PgTarget::from_url(url).unwrap_err();
            assert!(error.contains(want), "{url}: {error}");
        }
    }

    #[test]
    fn passwords_are_never_shown() {
        let mut target = PgTarget::from_url("postgres://a@h/d").unwrap();
        target.password = Some(Password::new("hunter2"));
        assert!(!format!("{target:?}").contains("hunter2"));
        assert!(!target.display().contains("hunter2"));
    }
}
