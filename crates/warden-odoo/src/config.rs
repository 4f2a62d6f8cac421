//! Client configuration: where Odoo is, who connects, over which protocol, with which limits.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Map, Value};
use url::Url;

use crate::error::OdooError;

/// The wire protocol used for model calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Detect from the server version and the credential: JSON-2 on Odoo 19+ with an API key,
    /// a web session on Odoo 18 and older with a password, JSON-RPC otherwise.
    #[default]
    Auto,
    /// Odoo 19+ `POST /json/2/<model>/<method>` with a bearer API key.
    Json2,
    /// Web session: `/web/session/authenticate` once, then `/web/dataset/call_kw` (password only).
    Session,
    /// `POST /jsonrpc` with `execute_kw`.
    JsonRpc,
    /// `POST /xmlrpc/2/object` with `execute_kw`.
    XmlRpc,
}

impl Protocol {
    /// The configuration name: `auto`, `json2`, `session`, `jsonrpc` or `xmlrpc`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Json2 => "json2",
            Self::Session => "session",
            Self::JsonRpc => "jsonrpc",
            Self::XmlRpc => "xmlrpc",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned when a protocol name is not recognised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown protocol {0:?}: expected auto, json2, session, jsonrpc or xmlrpc")]
pub struct ParseProtocolError(String);

impl FromStr for Protocol {
    type Err = ParseProtocolError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "json2" => Ok(Self::Json2),
            "session" => Ok(Self::Session),
            "jsonrpc" => Ok(Self::JsonRpc),
            "xmlrpc" => Ok(Self::XmlRpc),
            _ => Err(ParseProtocolError(s.chars().take(40).collect())),
        }
    }
}

/// The secret used to authenticate. `Debug` never shows it.
#[derive(Clone)]
pub enum Credential {
    /// An Odoo API key (works with XML-RPC, JSON-RPC and JSON-2).
    ApiKey(SecretString),
    /// A password (works with XML-RPC, JSON-RPC and web sessions).
    Password(SecretString),
}

impl Credential {
    /// Whether this is an API key.
    pub fn is_api_key(&self) -> bool {
        matches!(self, Self::ApiKey(_))
    }

    pub(crate) fn secret(&self) -> &SecretString {
        match self {
            Self::ApiKey(secret) | Self::Password(secret) => secret,
        }
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ApiKey(_) => f.write_str("ApiKey(<redacted>)"),
            Self::Password(_) => f.write_str("Password(<redacted>)"),
        }
    }
}

/// TLS settings. The default verifies certificates against the webpki roots.
#[derive(Clone, Default)]
pub struct TlsOptions {
    /// Extra trusted CA certificates, PEM encoded (each entry may hold several).
    pub ca_certificates_pem: Vec<Vec<u8>>,
    /// Accept any certificate. Dangerous: only for tests against self-signed servers; a
    /// warning is logged every time a client is built with it.
    pub danger_accept_invalid_certs: bool,
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("ca_certificates", &self.ca_certificates_pem.len())
            .field(
                "danger_accept_invalid_certs",
                &self.danger_accept_invalid_certs,
            )
            .finish()
    }
}

/// Everything the client needs to reach one Odoo database as one user.
#[derive(Debug, Clone)]
pub struct OdooConfig {
    /// Base URL of the Odoo server (`https://odoo.example.com`); no user info.
    pub url: Url,
    /// Database name.
    pub database: String,
    /// User login.
    pub login: String,
    /// API key or password.
    pub credential: Credential,
    /// Protocol for model calls (default [`Protocol::Auto`]).
    pub protocol: Protocol,
    /// Limit for a whole call, re-authentication included (default 30 s).
    pub timeout: Duration,
    /// Limit for establishing a connection (default 5 s).
    pub connect_timeout: Duration,
    /// Largest accepted answer in bytes (default 64 MiB); reading stops there.
    pub max_response_bytes: usize,
    /// TLS settings.
    pub tls: TlsOptions,
    /// Allow `http://` to a host that is not loopback (default false; logs a warning).
    pub allow_plain_http: bool,
    /// The user's id when known: `execute_kw` protocols then skip `authenticate`.
    pub uid: Option<i64>,
    /// Context merged into every model call (for example `{"lang": "fr_FR"}`); a call's own
    /// context keys win.
    pub context: Map<String, Value>,
}

impl OdooConfig {
    /// Default whole-call timeout.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default connect timeout.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// Default answer size limit: 64 MiB.
    pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

    /// A configuration with safe defaults: protocol auto-detection, 30 s timeout, 5 s connect
    /// timeout, 64 MiB answer limit, certificate verification on, plain HTTP only to loopback.
    pub fn new(
        url: Url,
        database: impl Into<String>,
        login: impl Into<String>,
        credential: Credential,
    ) -> Self {
        Self {
            url,
            database: database.into(),
            login: login.into(),
            credential,
            protocol: Protocol::Auto,
            timeout: Self::DEFAULT_TIMEOUT,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            max_response_bytes: Self::DEFAULT_MAX_RESPONSE_BYTES,
            tls: TlsOptions::default(),
            allow_plain_http: false,
            uid: None,
            context: Map::new(),
        }
    }

    /// Check the configuration; returns the base URL (no trailing slash) to build paths on.
    pub(crate) fn validate(&self) -> Result<String, OdooError> {
        let url = &self.url;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(OdooError::config(
                "the url must not contain user info; put credentials in the credential field",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(OdooError::config(
                "the url must not contain a query or a fragment",
            ));
        }
        let host = url
            .host()
            .ok_or_else(|| OdooError::config("the url has no host"))?;
        match url.scheme() {
            "https" => {}
            "http" => {
                if !is_loopback(&host) {
                    if self.allow_plain_http {
                        tracing::warn!(
                            host = %host,
                            "plain http to a non-loopback host: credentials travel unencrypted"
                        );
                    } else {
                        return Err(OdooError::config(format!(
                            "plain http to {host} is refused (use https, or set allow_plain_http)"
                        )));
                    }
                }
            }
            other => {
                return Err(OdooError::config(format!(
                    "unsupported url scheme {other:?} (use https)"
                )));
            }
        }
        if self.database.is_empty() {
            return Err(OdooError::config("the database name is empty"));
        }
        if self.login.is_empty() {
            return Err(OdooError::config("the login is empty"));
        }
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(OdooError::config("timeouts must be greater than zero"));
        }
        if self.max_response_bytes == 0 {
            return Err(OdooError::config(
                "max_response_bytes must be greater than zero",
            ));
        }
        if self.protocol == Protocol::Json2 && !self.credential.is_api_key() {
            return Err(OdooError::config("the json2 protocol needs an api key"));
        }
        if self.protocol == Protocol::Session && self.credential.is_api_key() {
            return Err(OdooError::config(
                "the session protocol needs a password (odoo web sessions refuse api keys)",
            ));
        }
        Ok(url.as_str().trim_end_matches('/').to_owned())
    }
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_names_round_trip() {
        for protocol in [
            Protocol::Auto,
            Protocol::Json2,
            Protocol::Session,
            Protocol::JsonRpc,
            Protocol::XmlRpc,
        ] {
            assert_eq!(protocol.to_string().parse::<Protocol>(), Ok(protocol));
            let json = format!("\"{protocol}\"");
            let parsed: Protocol = serde_json::from_str(&json).expect("deserializes");
            assert_eq!(parsed, protocol);
        }
        assert!("soap".parse::<Protocol>().is_err());
    }
}
