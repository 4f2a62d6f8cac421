//! `warden-config`: odoo-warden's configuration file.
//!
//! A TOML document, overridden key by key by `WARDEN_<SECTION>__<KEY>` environment variables
//! (`WARDEN_ODOO__TIMEOUT_MS=5000`), parsed once into typed sections, validated, and turned into
//! the settings each crate takes ([`warden_odoo::OdooConfig`], [`warden_gateway::catalog::CatalogSettings`]).
//!
//! - Unknown keys are errors, in every section: a typo must never silently change behaviour.
//! - Secrets never sit in the file: the file names the environment variable or the file that holds
//!   them (`api_key_env`, `api_key_file`, `password_env`, `password_file`).
//! - This crate reads no environment variable and no file by itself: the caller hands it the
//!   environment ([`Environment`]) and the file system is only touched to read the secret and CA
//!   files the configuration names. Binaries own the process environment.
//!
//! Every error names the key it is about and never contains a secret.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};
use warden_gateway::catalog::CatalogSettings;
use warden_odoo::{Credential, OdooConfig, Protocol, SecretString};

/// The environment variables visible to the configuration: overrides and secrets.
pub type Environment = HashMap<String, String>;

/// Prefix of the environment variables that override file keys.
pub const ENV_PREFIX: &str = "WARDEN";

/// A configuration problem: which key, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The document is not valid TOML or does not have the expected shape.
    #[error("config: {0}")]
    Parse(String),
    /// A key has an invalid value.
    #[error("config: `{key}`: {message}")]
    Invalid {
        /// The dotted key, e.g. `odoo.url`.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The configuration file could not be read.
    #[error("config: cannot read {path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        message: String,
    },
}

impl ConfigError {
    fn invalid(key: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            key,
            message: message.into(),
        }
    }
}

/// The file's shape. Every section denies unknown keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    odoo: OdooSection,
    #[serde(default)]
    tools: ToolsSection,
    #[serde(default)]
    limits: LimitsSection,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OdooSection {
    url: String,
    database: String,
    login: String,
    #[serde(default)]
    protocol: Option<String>,
    api_key_env: Option<String>,
    api_key_file: Option<PathBuf>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    timeout_ms: Option<u64>,
    connect_timeout_ms: Option<u64>,
    max_response_bytes: Option<usize>,
    tls_ca_file: Option<PathBuf>,
    #[serde(default)]
    danger_accept_invalid_certs: bool,
    #[serde(default)]
    allow_plain_http: bool,
    uid: Option<i64>,
    lang: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolsSection {
    #[serde(default)]
    write: bool,
    default_limit: Option<u32>,
    max_limit: Option<u32>,
    max_result_bytes: Option<usize>,
    metadata_ttl_s: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsSection {
    max_message_bytes: Option<usize>,
    max_concurrent_requests: Option<usize>,
}

/// Transport-independent limits on incoming messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted incoming message (one JSON-RPC message), in bytes. Default 1 MiB.
    pub max_message_bytes: usize,
    /// Requests of one connection handled at the same time. Default 32.
    pub max_concurrent_requests: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 1024 * 1024,
            max_concurrent_requests: 32,
        }
    }
}

/// The validated configuration, as the settings of each crate.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The Odoo connection and identity.
    pub odoo: OdooConfig,
    /// The tool catalog's settings.
    pub tools: CatalogSettings,
    /// Limits on incoming messages.
    pub limits: Limits,
}

impl Config {
    /// Read and parse the file at `path`, with overrides and secrets from `env`.
    pub fn load(path: &Path, env: &Environment) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_owned(),
            message: e.kind().to_string(),
        })?;
        Self::from_toml(&text, env)
    }

    /// Parse a TOML document, with overrides and secrets from `env`.
    pub fn from_toml(text: &str, env: &Environment) -> Result<Self, ConfigError> {
        let overrides: config::Map<String, String> = env
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{ENV_PREFIX}_")))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let file: FileConfig = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .add_source(
                config::Environment::with_prefix(ENV_PREFIX)
                    .prefix_separator("_")
                    .separator("__")
                    .try_parsing(true)
                    .source(Some(overrides)),
            )
            .build()
            .and_then(config::Config::try_deserialize)
            .map_err(|e| ConfigError::Parse(clean_parse_error(&e.to_string())))?;
        Ok(Self {
            odoo: odoo_config(file.odoo, env)?,
            tools: tools_settings(&file.tools)?,
            limits: limits(&file.limits)?,
        })
    }
}

/// One line of at most 300 characters: TOML errors come as a multi-line excerpt of the document;
/// keep where (the first line) and what (the last line).
fn clean_parse_error(message: &str) -> String {
    let lines: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let line = match lines.as_slice() {
        [] => String::from("invalid configuration"),
        [only] => (*only).to_owned(),
        [first, .., last] => format!("{first}: {last}"),
    };
    let mut out: String = line.chars().take(300).collect();
    if out.len() < line.len() {
        out.push('…');
    }
    out
}

fn odoo_config(section: OdooSection, env: &Environment) -> Result<OdooConfig, ConfigError> {
    let url: url::Url = section
        .url
        .parse()
        .map_err(|e| ConfigError::invalid("odoo.url", format!("{e}")))?;
    let credential = credential(&section, env)?;
    let mut config = OdooConfig::new(url, section.database, section.login, credential);
    if let Some(protocol) = section.protocol {
        config.protocol = protocol
            .parse::<Protocol>()
            .map_err(|e| ConfigError::invalid("odoo.protocol", e.to_string()))?;
    }
    if let Some(ms) = section.timeout_ms {
        config.timeout = positive_ms("odoo.timeout_ms", ms)?;
    }
    if let Some(ms) = section.connect_timeout_ms {
        config.connect_timeout = positive_ms("odoo.connect_timeout_ms", ms)?;
    }
    if let Some(bytes) = section.max_response_bytes {
        if bytes == 0 {
            return Err(ConfigError::invalid(
                "odoo.max_response_bytes",
                "must be greater than 0",
            ));
        }
        config.max_response_bytes = bytes;
    }
    if let Some(path) = section.tls_ca_file {
        let pem = std::fs::read(&path).map_err(|e| {
            ConfigError::invalid(
                "odoo.tls_ca_file",
                format!("cannot read {}: {}", path.display(), e.kind()),
            )
        })?;
        config.tls.ca_certificates_pem.push(pem);
    }
    config.tls.danger_accept_invalid_certs = section.danger_accept_invalid_certs;
    config.allow_plain_http = section.allow_plain_http;
    config.uid = section.uid;
    if let Some(lang) = section.lang {
        let mut context = Map::new();
        context.insert("lang".to_owned(), Value::String(lang));
        config.context = context;
    }
    // The client's own checks (scheme, host, plain http, protocol vs credential) run here too, so
    // a bad configuration is refused before anything starts.
    warden_odoo::OdooClient::new(config.clone())
        .map_err(|e| ConfigError::invalid("odoo", e.to_string()))?;
    Ok(config)
}

fn credential(section: &OdooSection, env: &Environment) -> Result<Credential, ConfigError> {
    let sources = [
        section.api_key_env.is_some(),
        section.api_key_file.is_some(),
        section.password_env.is_some(),
        section.password_file.is_some(),
    ];
    if sources.iter().filter(|s| **s).count() > 1 {
        return Err(ConfigError::invalid(
            "odoo",
            "several credentials: set only one of api_key_env, api_key_file, password_env, \
             password_file",
        ));
    }
    let (key, is_api_key, secret) = if let Some(var) = &section.api_key_env {
        (
            "odoo.api_key_env",
            true,
            from_env("odoo.api_key_env", var, env)?,
        )
    } else if let Some(path) = &section.api_key_file {
        (
            "odoo.api_key_file",
            true,
            from_file("odoo.api_key_file", path)?,
        )
    } else if let Some(var) = &section.password_env {
        (
            "odoo.password_env",
            false,
            from_env("odoo.password_env", var, env)?,
        )
    } else if let Some(path) = &section.password_file {
        (
            "odoo.password_file",
            false,
            from_file("odoo.password_file", path)?,
        )
    } else {
        return Err(ConfigError::invalid(
            "odoo",
            "no credential: set one of api_key_env, api_key_file, password_env, password_file \
             (secrets are never written in the file itself)",
        ));
    };
    if secret.is_empty() {
        return Err(ConfigError::invalid(key, "the secret is empty"));
    }
    let secret = SecretString::from(secret);
    Ok(if is_api_key {
        Credential::ApiKey(secret)
    } else {
        Credential::Password(secret)
    })
}

fn from_env(key: &'static str, var: &str, env: &Environment) -> Result<String, ConfigError> {
    env.get(var).map(|v| v.trim().to_owned()).ok_or_else(|| {
        ConfigError::invalid(key, format!("the environment variable {var} is not set"))
    })
}

fn from_file(key: &'static str, path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| {
            ConfigError::invalid(key, format!("cannot read {}: {}", path.display(), e.kind()))
        })
}

fn positive_ms(key: &'static str, ms: u64) -> Result<Duration, ConfigError> {
    if ms == 0 {
        return Err(ConfigError::invalid(key, "must be greater than 0"));
    }
    Ok(Duration::from_millis(ms))
}

fn tools_settings(section: &ToolsSection) -> Result<CatalogSettings, ConfigError> {
    let mut settings = CatalogSettings {
        write_tools: section.write,
        ..CatalogSettings::default()
    };
    if let Some(limit) = section.default_limit {
        settings.default_limit = limit;
    }
    if let Some(limit) = section.max_limit {
        settings.max_limit = limit;
    }
    if settings.default_limit == 0 || settings.max_limit == 0 {
        return Err(ConfigError::invalid(
            "tools.default_limit",
            "limits must be greater than 0",
        ));
    }
    if settings.default_limit > settings.max_limit {
        return Err(ConfigError::invalid(
            "tools.default_limit",
            format!(
                "{} is above tools.max_limit ({})",
                settings.default_limit, settings.max_limit
            ),
        ));
    }
    if let Some(bytes) = section.max_result_bytes {
        if bytes < 1024 {
            return Err(ConfigError::invalid(
                "tools.max_result_bytes",
                "must be at least 1024",
            ));
        }
        settings.max_result_bytes = bytes;
    }
    if let Some(seconds) = section.metadata_ttl_s {
        settings.metadata_ttl = Duration::from_secs(seconds);
    }
    Ok(settings)
}

fn limits(section: &LimitsSection) -> Result<Limits, ConfigError> {
    let mut limits = Limits::default();
    if let Some(bytes) = section.max_message_bytes {
        if bytes < 1024 {
            return Err(ConfigError::invalid(
                "limits.max_message_bytes",
                "must be at least 1024",
            ));
        }
        limits.max_message_bytes = bytes;
    }
    if let Some(n) = section.max_concurrent_requests {
        if n == 0 {
            return Err(ConfigError::invalid(
                "limits.max_concurrent_requests",
                "must be at least 1",
            ));
        }
        limits.max_concurrent_requests = n;
    }
    Ok(limits)
}
