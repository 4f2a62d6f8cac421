//! The `[http]` section: where `odoo-warden-http` listens and what it accepts. Validated into
//! [`HttpSettings`]; the transport builds its listener from it.

use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::ConfigError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HttpSection {
    bind: Option<String>,
    path: Option<String>,
    #[serde(default)]
    allowed_origins: Vec<String>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    forwarded_header: Option<String>,
    request_timeout_ms: Option<u64>,
    header_timeout_ms: Option<u64>,
    max_concurrent_requests: Option<usize>,
    max_concurrent_requests_per_key: Option<usize>,
    max_sessions: Option<usize>,
    max_sessions_per_key: Option<usize>,
    session_idle_timeout_s: Option<u64>,
    replicas: Option<usize>,
    ops_bind: Option<String>,
    ops_token_env: Option<String>,
    tls_cert_file: Option<std::path::PathBuf>,
    tls_key_file: Option<std::path::PathBuf>,
    oauth: Option<OAuthSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OAuthSection {
    issuer: String,
    jwks_url: String,
    audience: String,
    #[serde(default)]
    algorithms: Vec<String>,
    leeway_s: Option<u64>,
    #[serde(default)]
    required_scopes: Vec<String>,
    #[serde(default)]
    map: Vec<MapSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MapSection {
    claim: String,
    value: String,
    profile: String,
}

/// The validated `[http.oauth]` section: access tokens of an OAuth 2.1 authorization server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OAuthSettings {
    /// The issuer (`iss` must equal it).
    pub issuer: String,
    /// Where the issuer publishes its keys.
    pub jwks_url: url::Url,
    /// This server's canonical URL (`aud` must contain it, RFC 8707).
    pub audience: String,
    /// Allowed signature algorithms (empty: the validator's defaults).
    pub algorithms: Vec<String>,
    /// Clock leeway for `exp` and `nbf`.
    pub leeway: Option<Duration>,
    /// Scopes every token must carry.
    pub required_scopes: Vec<String>,
    /// Claims to profiles, first match wins: `(claim, value, profile)`.
    pub mappings: Vec<(String, String, String)>,
}

/// The validated `[http]` section.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpSettings {
    /// The address to listen on (default `127.0.0.1:8765`).
    pub bind: SocketAddr,
    /// The MCP endpoint's path (default `/mcp`).
    pub path: String,
    /// Browser origins allowed to call (exact; never `*`).
    pub allowed_origins: Vec<String>,
    /// `Host` values allowed; empty means the loopback names only.
    pub allowed_hosts: Vec<String>,
    /// Proxies whose forwarding header is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Whether they set RFC 7239 `Forwarded` (`forwarded_header = "forwarded"`) rather than
    /// `X-Forwarded-For` (the default); only that one header is read.
    pub forwarded_header_rfc7239: bool,
    /// Longest time for one request.
    pub request_timeout: Duration,
    /// Longest time for a request's headers.
    pub header_timeout: Duration,
    /// Requests served at once.
    pub max_concurrent_requests: usize,
    /// Requests of one key served at once (beyond it: 429 at once); at most
    /// `max_concurrent_requests`, a quarter of it by default.
    pub max_concurrent_requests_per_key: usize,
    /// Legacy sessions open at once.
    pub max_sessions: usize,
    /// Legacy sessions open at once per key.
    pub max_sessions_per_key: usize,
    /// Idle time after which a legacy session ends.
    pub session_idle_timeout: Duration,
    /// How many processes serve this configuration behind one balancer (`[http] replicas`,
    /// default 1): above 1, `config check` and the server warn unless `[cluster]` shares their
    /// state.
    pub replicas: usize,
    /// A second listener for `/healthz`, `/readyz` and `/metrics` (loopback unless a token is
    /// set).
    pub ops_bind: Option<SocketAddr>,
    /// The bearer token that opens `/readyz` and `/metrics` (on the main listener, and on a
    /// non-loopback operations listener).
    pub ops_token: Option<warden_odoo::SecretString>,
    /// OAuth 2.1 access tokens accepted beside the API keys.
    pub oauth: Option<OAuthSettings>,
    /// The certificate chain and private key (PEM) to serve TLS with, resolved against the
    /// configuration's folder; `None`: plain HTTP (behind a TLS-terminating proxy, or loopback).
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

fn positive(key: &str, value: Option<u64>, default: u64) -> Result<u64, ConfigError> {
    match value {
        Some(0) => Err(ConfigError::invalid(key, "must be greater than 0")),
        Some(n) => Ok(n),
        None => Ok(default),
    }
}

fn at_least_one(key: &str, value: Option<usize>, default: usize) -> Result<usize, ConfigError> {
    match value {
        Some(0) => Err(ConfigError::invalid(key, "must be at least 1")),
        Some(n) => Ok(n),
        None => Ok(default),
    }
}

pub(crate) fn settings(
    section: HttpSection,
    env: &crate::Environment,
    base_dir: Option<&std::path::Path>,
) -> Result<HttpSettings, ConfigError> {
    let resolve = |path: &std::path::Path| match base_dir {
        Some(dir) => dir.join(path),
        None => path.to_owned(),
    };
    let tls = match (&section.tls_cert_file, &section.tls_key_file) {
        (Some(cert), Some(key)) => Some((resolve(cert), resolve(key))),
        (None, None) => None,
        _ => {
            return Err(ConfigError::invalid(
                "http.tls_cert_file",
                "TLS needs both tls_cert_file and tls_key_file",
            ));
        }
    };
    let ops_token = match &section.ops_token_env {
        None => None,
        Some(var) => {
            let token = crate::odoo::from_env("http.ops_token_env", var, env)?;
            if token.len() < 16 {
                return Err(ConfigError::invalid(
                    "http.ops_token_env",
                    "the token must be at least 16 characters",
                ));
            }
            Some(warden_odoo::SecretString::from(token))
        }
    };
    let ops_bind = section
        .ops_bind
        .as_deref()
        .map(|text| {
            text.parse::<SocketAddr>().map_err(|_| {
                ConfigError::invalid("http.ops_bind", "not an address such as 127.0.0.1:9464")
            })
        })
        .transpose()?;
    if let Some(addr) = ops_bind
        && !addr.ip().is_loopback()
        && ops_token.is_none()
    {
        return Err(ConfigError::invalid(
            "http.ops_bind",
            format!("{addr} is not a loopback address: set http.ops_token_env to protect it"),
        ));
    }
    let bind: SocketAddr = section
        .bind
        .as_deref()
        .unwrap_or("127.0.0.1:8765")
        .parse()
        .map_err(|_| ConfigError::invalid("http.bind", "not an address such as 127.0.0.1:8765"))?;
    let path = section.path.unwrap_or_else(|| "/mcp".to_owned());
    if !path.starts_with('/') || path.contains(['?', '#', ' ']) || path == "/healthz" {
        return Err(ConfigError::invalid(
            "http.path",
            "must be a path such as /mcp (not /healthz)",
        ));
    }
    for origin in &section.allowed_origins {
        let valid = (origin.starts_with("https://") || origin.starts_with("http://"))
            && !origin.trim_end_matches('/').contains('*')
            && url::Url::parse(origin).is_ok_and(|u| u.path() == "/" && u.query().is_none());
        if !valid {
            return Err(ConfigError::invalid(
                "http.allowed_origins",
                format!(
                    "{origin:?} is not an origin such as https://app.example.com (no wildcard, no path)"
                ),
            ));
        }
    }
    let allowed_origins = section
        .allowed_origins
        .iter()
        .map(|o| o.trim_end_matches('/').to_owned())
        .collect();
    if section
        .allowed_hosts
        .iter()
        .any(|h| h.is_empty() || h.contains(['/', '*', ' ']))
    {
        return Err(ConfigError::invalid(
            "http.allowed_hosts",
            "each entry is a host name, optionally with :port (no wildcard)",
        ));
    }
    if !bind.ip().is_loopback() && section.allowed_hosts.is_empty() {
        return Err(ConfigError::invalid(
            "http.allowed_hosts",
            format!(
                "required when binding the non-loopback address {bind}: the host names clients use \
                 (DNS-rebinding protection)"
            ),
        ));
    }
    let trusted_proxies = section
        .trusted_proxies
        .iter()
        .map(|p| {
            p.parse::<IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    ConfigError::invalid(
                        "http.trusted_proxies",
                        format!("{p:?} is not an address or CIDR"),
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let forwarded_header_rfc7239 = match section.forwarded_header.as_deref() {
        None | Some("x-forwarded-for") => false,
        Some("forwarded") => true,
        Some(other) => {
            return Err(ConfigError::invalid(
                "http.forwarded_header",
                format!(
                    "{other:?}: the header the trusted proxies set is \"x-forwarded-for\" or \"forwarded\""
                ),
            ));
        }
    };
    let max_concurrent_requests = at_least_one(
        "http.max_concurrent_requests",
        section.max_concurrent_requests,
        256,
    )?;
    let max_concurrent_requests_per_key = at_least_one(
        "http.max_concurrent_requests_per_key",
        section.max_concurrent_requests_per_key,
        (max_concurrent_requests / 4).max(1),
    )?;
    if max_concurrent_requests_per_key > max_concurrent_requests {
        return Err(ConfigError::invalid(
            "http.max_concurrent_requests_per_key",
            format!("must not exceed http.max_concurrent_requests ({max_concurrent_requests})"),
        ));
    }
    Ok(HttpSettings {
        bind,
        path,
        allowed_origins,
        allowed_hosts: section.allowed_hosts,
        trusted_proxies,
        forwarded_header_rfc7239,
        request_timeout: Duration::from_millis(positive(
            "http.request_timeout_ms",
            section.request_timeout_ms,
            120_000,
        )?),
        header_timeout: Duration::from_millis(positive(
            "http.header_timeout_ms",
            section.header_timeout_ms,
            10_000,
        )?),
        max_concurrent_requests,
        max_concurrent_requests_per_key,
        max_sessions: at_least_one("http.max_sessions", section.max_sessions, 10_000)?,
        max_sessions_per_key: at_least_one(
            "http.max_sessions_per_key",
            section.max_sessions_per_key,
            100,
        )?,
        session_idle_timeout: Duration::from_secs(positive(
            "http.session_idle_timeout_s",
            section.session_idle_timeout_s,
            1800,
        )?),
        replicas: match section.replicas {
            None => 1,
            Some(n @ 1..=1000) => n,
            Some(n) => {
                return Err(ConfigError::invalid(
                    "http.replicas",
                    format!("{n}: the number of processes serving this configuration, 1 to 1000"),
                ));
            }
        },
        ops_bind,
        ops_token,
        tls,
        oauth: section.oauth.map(oauth).transpose()?,
    })
}

fn oauth(section: OAuthSection) -> Result<OAuthSettings, ConfigError> {
    if section.issuer.trim().is_empty() {
        return Err(ConfigError::invalid(
            "http.oauth.issuer",
            "must not be empty",
        ));
    }
    let jwks_url: url::Url = section
        .jwks_url
        .parse()
        .map_err(|e| ConfigError::invalid("http.oauth.jwks_url", format!("not a url: {e}")))?;
    let audience_url: url::Url = section.audience.parse().map_err(|e| {
        ConfigError::invalid(
            "http.oauth.audience",
            format!("this server's canonical URL, e.g. https://mcp.example.com/mcp: {e}"),
        )
    })?;
    if !matches!(audience_url.scheme(), "https" | "http") {
        return Err(ConfigError::invalid(
            "http.oauth.audience",
            "must be this server's https URL",
        ));
    }
    for name in &section.algorithms {
        let lower = name.to_ascii_lowercase();
        if lower == "none" || lower.starts_with("hs") {
            return Err(ConfigError::invalid(
                "http.oauth.algorithms",
                format!("{name} is never accepted (unsigned or shared-secret tokens)"),
            ));
        }
    }
    if section.map.is_empty() {
        return Err(ConfigError::invalid(
            "http.oauth.map",
            "at least one [[http.oauth.map]] (claim, value, profile): which profile a token gets",
        ));
    }
    if let Some(bad) = section.map.iter().find(|m| m.profile.contains(':')) {
        return Err(ConfigError::invalid(
            "http.oauth.map",
            format!(
                "profile {:?}: OAuth profiles cannot contain ':'",
                bad.profile
            ),
        ));
    }
    Ok(OAuthSettings {
        issuer: section.issuer,
        jwks_url,
        audience: section.audience,
        algorithms: section.algorithms,
        leeway: section.leeway_s.map(Duration::from_secs),
        required_scopes: section.required_scopes,
        mappings: section
            .map
            .into_iter()
            .map(|m| (m.claim, m.value, m.profile))
            .collect(),
    })
}
