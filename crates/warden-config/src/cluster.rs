//! The `[cluster]` section: the Redis (or Valkey) server a fleet of replicas shares its state on,
//! and the confirmation key every replica signs with. Absent: a single process, every state in
//! memory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::Deserialize;

use crate::odoo::{from_env, from_file};
use crate::{ConfigError, Environment};

/// Default `key_prefix`.
pub(crate) const DEFAULT_KEY_PREFIX: &str = "odoo-warden:";
/// Default `timeout_ms`.
pub(crate) const DEFAULT_TIMEOUT_MS: u64 = 250;
/// Accepted `timeout_ms`: long enough for a round trip in a data centre, short enough that a
/// slow Redis never holds a request for long.
pub(crate) const TIMEOUT_MS_RANGE: std::ops::RangeInclusive<u64> = 10..=5_000;
/// Fewest bytes of the confirmation key.
pub(crate) const MIN_CONFIRMATION_KEY_BYTES: usize = 32;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClusterSection {
    redis_url: Option<String>,
    redis_username: Option<String>,
    redis_password_env: Option<String>,
    redis_password_file: Option<PathBuf>,
    redis_ca_file: Option<PathBuf>,
    key_prefix: Option<String>,
    timeout_ms: Option<u64>,
    confirmation_key_env: Option<String>,
    confirmation_key_file: Option<PathBuf>,
}

/// The validated `[cluster]` section.
#[non_exhaustive]
pub struct ClusterSettings {
    /// `redis://host[:port][/db]` or `rediss://` (TLS), without credentials.
    pub redis_url: url::Url,
    /// The ACL user, if any.
    pub redis_username: Option<String>,
    /// The password, from `redis_password_env` or `redis_password_file`, if any.
    pub redis_password: Option<SecretString>,
    /// The certificates (PEM) of the CAs that sign the server's certificate (`redis_ca_file`),
    /// trusted instead of Mozilla's roots.
    pub redis_ca_pem: Option<Vec<u8>>,
    /// Prepended to every key the fleet writes.
    pub key_prefix: String,
    /// The longest any call to Redis may take.
    pub timeout: Duration,
    /// The secret that signs 2026-07-28 confirmation states, the same on every replica.
    pub confirmation_key: SecretBox<[u8]>,
}

impl std::fmt::Debug for ClusterSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterSettings")
            .field("redis_url", &self.redis_url.as_str())
            .field("redis_username", &self.redis_username)
            .field(
                "redis_password",
                &self.redis_password.as_ref().map(|_| "<redacted>"),
            )
            .field("redis_ca_pem", &self.redis_ca_pem.as_ref().map(Vec::len))
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .field("confirmation_key", &"<redacted>")
            .finish()
    }
}

impl PartialEq for ClusterSettings {
    /// Same server, credentials, prefix, timeout and confirmation key: a reload keeps the
    /// connection.
    fn eq(&self, other: &Self) -> bool {
        self.redis_url == other.redis_url
            && self.redis_username == other.redis_username
            && self
                .redis_password
                .as_ref()
                .map(ExposeSecret::expose_secret)
                == other
                    .redis_password
                    .as_ref()
                    .map(ExposeSecret::expose_secret)
            && self.redis_ca_pem == other.redis_ca_pem
            && self.key_prefix == other.key_prefix
            && self.timeout == other.timeout
            && self.confirmation_key.expose_secret() == other.confirmation_key.expose_secret()
    }
}

impl ClusterSettings {
    /// Whether Redis is reached in clear over the network (`redis://` to a host that is not the
    /// loopback).
    pub fn plain_over_network(&self) -> bool {
        if self.redis_url.scheme() != "redis" {
            return false;
        }
        // `redis://` is not a special scheme to the URL parser: its host is opaque text.
        let host = self.redis_url.host_str().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        match host.parse::<std::net::IpAddr>() {
            Ok(ip) => !ip.is_loopback(),
            Err(_) => !host.eq_ignore_ascii_case("localhost"),
        }
    }
}

pub(crate) fn settings(
    section: Option<ClusterSection>,
    env: &Environment,
    base_dir: Option<&Path>,
) -> Result<Option<ClusterSettings>, ConfigError> {
    let Some(section) = section else {
        return Ok(None);
    };
    let redis_url = redis_url(section.redis_url.as_deref())?;
    let redis_username = match section.redis_username {
        Some(name)
            if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            return Err(ConfigError::invalid(
                "cluster.redis_username",
                "must be a non-empty name without spaces",
            ));
        }
        other => other,
    };
    let resolve = |path: &PathBuf| match base_dir {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.clone(),
    };
    let redis_password = match (&section.redis_password_env, &section.redis_password_file) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::invalid(
                "cluster.redis_password_env",
                "set only one of redis_password_env and redis_password_file",
            ));
        }
        (Some(var), None) => Some(from_env("cluster.redis_password_env", var, env)?),
        (None, Some(path)) => Some(from_file("cluster.redis_password_file", &resolve(path))?),
        (None, None) => None,
    };
    if redis_password.as_deref() == Some("") {
        return Err(ConfigError::invalid(
            "cluster.redis_password_env",
            "the Redis password is empty",
        ));
    }
    let redis_ca_pem = match &section.redis_ca_file {
        None => None,
        Some(_) if redis_url.scheme() != "rediss" => {
            return Err(ConfigError::invalid(
                "cluster.redis_ca_file",
                "only for TLS: redis_url must start with rediss://",
            ));
        }
        Some(path) => {
            let path = resolve(path);
            let pem = std::fs::read(&path).map_err(|e| {
                ConfigError::invalid(
                    "cluster.redis_ca_file",
                    format!("cannot read {}: {}", path.display(), e.kind()),
                )
            })?;
            if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                return Err(ConfigError::invalid(
                    "cluster.redis_ca_file",
                    format!("{} holds no PEM certificate", path.display()),
                ));
            }
            Some(pem)
        }
    };
    let key_prefix = section
        .key_prefix
        .unwrap_or_else(|| DEFAULT_KEY_PREFIX.to_owned());
    if key_prefix.is_empty()
        || key_prefix.len() > 64
        || !key_prefix.chars().all(|c| c.is_ascii_graphic())
    {
        return Err(ConfigError::invalid(
            "cluster.key_prefix",
            "must be 1 to 64 printable ASCII characters without spaces (e.g. \"odoo-warden:\")",
        ));
    }
    let timeout_ms = section.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
    if !TIMEOUT_MS_RANGE.contains(&timeout_ms) {
        return Err(ConfigError::invalid(
            "cluster.timeout_ms",
            format!(
                "must be between {} and {} (milliseconds)",
                TIMEOUT_MS_RANGE.start(),
                TIMEOUT_MS_RANGE.end()
            ),
        ));
    }
    let (key, text) = match (
        &section.confirmation_key_env,
        &section.confirmation_key_file,
    ) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::invalid(
                "cluster.confirmation_key_env",
                "set only one of confirmation_key_env and confirmation_key_file",
            ));
        }
        (Some(var), None) => (
            "cluster.confirmation_key_env",
            from_env("cluster.confirmation_key_env", var, env)?,
        ),
        (None, Some(path)) => (
            "cluster.confirmation_key_file",
            from_file("cluster.confirmation_key_file", &resolve(path))?,
        ),
        (None, None) => {
            return Err(ConfigError::invalid(
                "cluster.confirmation_key_env",
                format!(
                    "[cluster] needs the key every replica signs confirmations with: set \
                     confirmation_key_env or confirmation_key_file (at least \
                     {MIN_CONFIRMATION_KEY_BYTES} random bytes, hex or base64, e.g. from \
                     `openssl rand -hex 32`)"
                ),
            ));
        }
    };
    let confirmation_key = decode_key(key, text.trim())?;
    Ok(Some(ClusterSettings {
        redis_url,
        redis_username,
        redis_password: redis_password.map(SecretString::from),
        redis_ca_pem,
        key_prefix,
        timeout: Duration::from_millis(timeout_ms),
        confirmation_key: SecretBox::new(confirmation_key.into_boxed_slice()),
    }))
}

/// `redis_url`: `redis://` or `rediss://`, a host, no credentials. The URL itself is never
/// repeated in an error (it might hold a password).
fn redis_url(text: Option<&str>) -> Result<url::Url, ConfigError> {
    const KEY: &str = "cluster.redis_url";
    let Some(text) = text else {
        return Err(ConfigError::invalid(
            KEY,
            "[cluster] needs redis_url (e.g. \"rediss://redis.internal:6379\")",
        ));
    };
    let url =
        url::Url::parse(text).map_err(|e| ConfigError::invalid(KEY, format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "redis" | "rediss") {
        return Err(ConfigError::invalid(
            KEY,
            "must start with redis:// or rediss:// (TLS)",
        ));
    }
    if url.password().is_some() {
        return Err(ConfigError::invalid(
            KEY,
            "holds a password: remove it from the URL and use redis_password_env or \
             redis_password_file (and redis_username for an ACL user)",
        ));
    }
    if !url.username().is_empty() {
        return Err(ConfigError::invalid(
            KEY,
            "holds a user name: remove it from the URL and use redis_username",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::invalid(KEY, "names no host"));
    }
    let path = url.path().trim_start_matches('/');
    if !path.is_empty() && path.parse::<u16>().is_err() {
        return Err(ConfigError::invalid(
            KEY,
            "the path must be a database number (e.g. redis://host:6379/0)",
        ));
    }
    if url.fragment().is_some() {
        return Err(ConfigError::invalid(KEY, "must not have a fragment"));
    }
    Ok(url)
}

/// The key's bytes from hex or base64 (standard or URL-safe, padded or not), at least
/// [`MIN_CONFIRMATION_KEY_BYTES`] of them. Errors never show the text.
fn decode_key(key: &str, text: &str) -> Result<Vec<u8>, ConfigError> {
    let is_hex = !text.is_empty()
        && text.len().is_multiple_of(2)
        && text.chars().all(|c| c.is_ascii_hexdigit());
    let bytes = if is_hex {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .ok()
    } else {
        let engines = [
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::STANDARD_NO_PAD,
            base64::engine::general_purpose::URL_SAFE,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        engines.iter().find_map(|engine| engine.decode(text).ok())
    };
    let Some(bytes) = bytes else {
        return Err(ConfigError::invalid(
            key,
            "the confirmation key is neither hex nor base64",
        ));
    };
    if bytes.len() < MIN_CONFIRMATION_KEY_BYTES {
        return Err(ConfigError::invalid(
            key,
            format!(
                "the confirmation key has {} bytes; at least {MIN_CONFIRMATION_KEY_BYTES} random \
                 bytes are needed (e.g. `openssl rand -hex 32`)",
                bytes.len()
            ),
        ));
    }
    if bytes.iter().all(|b| *b == bytes[0]) {
        return Err(ConfigError::invalid(
            key,
            "the confirmation key is one byte repeated: use random bytes (e.g. `openssl rand -hex 32`)",
        ));
    }
    Ok(bytes)
}
