//! `warden-config`: odoo-warden's configuration file.
//!
//! A TOML document, overridden key by key by `WARDEN_<SECTION>__<KEY>` environment variables
//! (`WARDEN_ODOO__TIMEOUT_MS=5000`), parsed once into typed sections, validated, and turned into
//! the settings each crate takes: one [`warden_odoo::OdooConfig`] per Odoo identity,
//! [`warden_gateway::catalog::CatalogSettings`], [`Limits`], and the compiled
//! [`warden_policy::Policy`] (profiles from the file, keys from the key store it names).
//!
//! - Unknown keys are errors, in every section: a typo must never silently change behaviour, let
//!   alone widen access.
//! - Secrets never sit in the file: the file names the environment variable or the file that holds
//!   each Odoo identity's secret (`api_key_env`, `api_key_file`, `password_env`, `password_file`).
//!   The key store holds only hashes of the API keys agents present.
//! - This crate reads no environment variable by itself: the caller hands it the environment
//!   ([`Environment`]). The file system is only touched to read the configuration file, the key
//!   store, and the secret and CA files the configuration names. Binaries own the process
//!   environment.
//!
//! Every error is one line, names the key or file it is about and never contains a secret.

mod audit;
mod audit_pg;
mod cluster;
mod http;
mod odoo;
mod risks;

pub use audit::{AuditSettings, FileSettings, WebhookSettings, audit_dir};
pub use audit_pg::PostgresSettings;
pub use cluster::ClusterSettings;
pub use http::{HttpSettings, OAuthSettings};
pub use risks::{
    ADMIN_LOGINS, ADMIN_UIDS, ADMIN_WHY, Risks, admin_identities, admin_warning, risks,
};

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use warden_gateway::catalog::CatalogSettings;
use warden_odoo::OdooConfig;
use warden_policy::Policy;
use warden_policy::config::{
    IpRulesConfig, KeyStoreFile, PolicyConfig, ProfileConfig, RateLimitConfig,
};

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
        /// The dotted key, e.g. `odoo.url` or `odoo.identities.sales.api_key_env`.
        key: String,
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
    /// The key store is missing, unreadable or malformed.
    #[error("config: key store {path}: {message}")]
    KeyStore {
        /// The key store file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The policy does not compile (an unknown profile or identity, a cycle, a bad pattern...).
    #[error("config: {0}")]
    Policy(String),
}

impl ConfigError {
    pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// The file's shape. Every section denies unknown keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    odoo: odoo::OdooSection,
    #[serde(default)]
    tools: ToolsSection,
    #[serde(default)]
    limits: LimitsSection,
    keys: Option<KeysSection>,
    #[serde(default)]
    network: IpRulesConfig,
    #[serde(default)]
    rate_limits: RateLimitConfig,
    #[serde(default)]
    profiles: BTreeMap<String, ProfileConfig>,
    #[serde(default)]
    audit: audit::AuditSection,
    #[serde(default)]
    http: http::HttpSection,
    cluster: Option<cluster::ClusterSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysSection {
    file: PathBuf,
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
#[derive(Debug)]
#[non_exhaustive]
pub struct Config {
    /// One Odoo connection per identity (`[odoo.identities.NAME]`), by name: the `[odoo]`
    /// connection settings with that Odoo user's login and secret.
    pub identities: BTreeMap<String, OdooConfig>,
    /// The tool catalog's settings.
    pub tools: CatalogSettings,
    /// Limits on incoming messages.
    pub limits: Limits,
    /// The compiled policy: profiles, keys, IP rules, rate limits.
    pub policy: Policy,
    /// The policy sections as written (`[network]`, `[rate_limits]`, `[profiles.*]`), for
    /// `config check` and `policy explain`.
    pub policy_config: PolicyConfig,
    /// The key store file (`[keys] file`), resolved against the configuration file's folder:
    /// absolute, or relative to the process's working directory.
    pub key_store: PathBuf,
    /// The files this configuration was read from (the configuration file, when there is one,
    /// then the key store): what a reload watches.
    pub files: Vec<PathBuf>,
    /// The audit log's settings (`[audit]`).
    pub audit: AuditSettings,
    /// The HTTP transport's settings (`[http]`).
    pub http: HttpSettings,
    /// The state shared by a fleet of replicas (`[cluster]`); `None`: a single process.
    pub cluster: Option<ClusterSettings>,
}

/// Where the key store's text comes from.
enum KeyStoreSource<'a> {
    /// Read the file `[keys] file` names.
    Read,
    /// The caller has it.
    Given(&'a str),
}

impl Config {
    /// Read and parse the configuration file at `path`, then the key store it names (a relative
    /// `[keys] file` is relative to `path`'s folder), with overrides and secrets from `env`.
    pub fn load(path: &Path, env: &Environment) -> Result<Self, ConfigError> {
        let text = read_config_text(path)?;
        let base_dir = path.parent().unwrap_or_else(|| Path::new(""));
        let mut config = Self::build(&text, env, Some(base_dir), KeyStoreSource::Read)?;
        config.files.insert(0, path.to_owned());
        Ok(config)
    }

    /// Parse a TOML document that has no file of its own, with overrides and secrets from `env`.
    ///
    /// The key store is read from `[keys] file`, which must then be an absolute path: there is no
    /// configuration folder to resolve a relative one against. [`Config::load`] and
    /// [`Config::from_toml_with_keys`] accept relative paths.
    pub fn from_toml(text: &str, env: &Environment) -> Result<Self, ConfigError> {
        Self::build(text, env, None, KeyStoreSource::Read)
    }

    /// Parse a TOML document and the key store's text `keys_toml`, with overrides and secrets
    /// from `env`. No key store is read: [`Config::key_store`] is `[keys] file` resolved against
    /// `base_dir`, the folder the configuration belongs to.
    pub fn from_toml_with_keys(
        text: &str,
        keys_toml: &str,
        base_dir: &Path,
        env: &Environment,
    ) -> Result<Self, ConfigError> {
        Self::build(text, env, Some(base_dir), KeyStoreSource::Given(keys_toml))
    }

    fn build(
        text: &str,
        env: &Environment,
        base_dir: Option<&Path>,
        keys: KeyStoreSource<'_>,
    ) -> Result<Self, ConfigError> {
        let file = parse(text, env)?;
        let identities = odoo::identities(file.odoo, env, base_dir)?;
        let tools = tools_settings(&file.tools)?;
        let limits = limits(&file.limits)?;
        let key_store = key_store_path(file.keys, base_dir)?;
        let audit = audit::settings(file.audit, env, base_dir)?;
        let http = http::settings(file.http, env, base_dir)?;
        let cluster = cluster::settings(file.cluster, env, base_dir)?;
        if let Some(oauth) = &http.oauth
            && let Some((_, _, profile)) = oauth
                .mappings
                .iter()
                .find(|(_, _, profile)| !file.profiles.contains_key(profile))
        {
            return Err(ConfigError::invalid(
                "http.oauth.map",
                format!("no profile {profile:?} in [profiles]"),
            ));
        }
        let policy_config = PolicyConfig {
            network: file.network,
            rate_limits: file.rate_limits,
            profiles: file.profiles,
        };
        let names: Vec<&str> = identities.keys().map(String::as_str).collect();
        let policy = compile_with_store(&policy_config, &key_store, keys, &names)?;
        Ok(Self {
            identities,
            tools,
            limits,
            policy,
            policy_config,
            files: vec![key_store.clone()],
            key_store,
            audit,
            http,
            cluster,
        })
    }
}

/// The policy of `policy_config` with the key store at `key_store` (read, or given), over the
/// identities `names`.
fn compile_with_store(
    policy_config: &PolicyConfig,
    key_store: &Path,
    keys: KeyStoreSource<'_>,
    names: &[&str],
) -> Result<Policy, ConfigError> {
    let store = match keys {
        KeyStoreSource::Read => read_key_store(key_store)?,
        KeyStoreSource::Given(text) => parse_key_store(key_store, text)?,
    };
    Policy::compile(policy_config, &store, names)
        .map_err(|e| policy_error(&e.to_string(), key_store))
}

fn read_config_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.to_owned(),
        message: e.kind().to_string(),
    })
}

/// What key administration needs of a configuration: the key store, the profiles and the
/// identities' names, with the policy compiled from them. No secret is read (no Odoo credential,
/// seal key, webhook secret or operations token), so `odoo-warden keys` works from a shell that
/// does not hold the service's secrets; it can serve nothing.
#[derive(Debug)]
#[non_exhaustive]
pub struct KeyAdmin {
    /// The key store file.
    pub key_store: PathBuf,
    /// The policy's configuration (profiles, IP rules, rate limits).
    pub policy_config: PolicyConfig,
    /// The Odoo identities' names.
    pub identities: Vec<String>,
    /// The policy compiled with the key store.
    pub policy: Policy,
}

impl KeyAdmin {
    /// Read the configuration at `path` (overrides from `env`, no secret) and its key store.
    pub fn load(path: &Path, env: &Environment) -> Result<Self, ConfigError> {
        let text = read_config_text(path)?;
        let base_dir = path.parent().unwrap_or_else(|| Path::new(""));
        Self::build(&text, env, base_dir, KeyStoreSource::Read)
    }

    /// [`KeyAdmin::load`] with the key store's text given (`""` for one not created yet).
    pub fn load_with_keys(
        path: &Path,
        keys_toml: &str,
        env: &Environment,
    ) -> Result<Self, ConfigError> {
        let text = read_config_text(path)?;
        let base_dir = path.parent().unwrap_or_else(|| Path::new(""));
        Self::build(&text, env, base_dir, KeyStoreSource::Given(keys_toml))
    }

    fn build(
        text: &str,
        env: &Environment,
        base_dir: &Path,
        keys: KeyStoreSource<'_>,
    ) -> Result<Self, ConfigError> {
        let file = parse(text, env)?;
        let identities = file.odoo.identity_names()?;
        let key_store = key_store_path(file.keys, Some(base_dir))?;
        let policy_config = PolicyConfig {
            network: file.network,
            rate_limits: file.rate_limits,
            profiles: file.profiles,
        };
        let names: Vec<&str> = identities.iter().map(String::as_str).collect();
        let policy = compile_with_store(&policy_config, &key_store, keys, &names)?;
        Ok(Self {
            key_store,
            policy_config,
            identities,
            policy,
        })
    }
}

/// The document with the environment's overrides merged in, in the file's shape.
///
/// Only `WARDEN_<SECTION>__<KEY>` variables are overrides: every key sits in a section, so a
/// variable without `__` after the prefix (`WARDEN_CONFIG`, `WARDEN_KEY`) is never one.
fn parse(text: &str, env: &Environment) -> Result<FileConfig, ConfigError> {
    let prefix = format!("{ENV_PREFIX}_");
    let overrides: config::Map<String, String> = env
        .iter()
        .filter(|(k, _)| {
            k.strip_prefix(&prefix)
                .is_some_and(|rest| rest.contains("__"))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let document = config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Toml))
        .add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .source(Some(overrides)),
        )
        .build()
        .map_err(parse_error)?;
    odoo::refuse_moved_keys(&document)?;
    document.try_deserialize().map_err(parse_error)
}

/// The `config` crate's message, key first (`` `profiles.sales`: unknown field `modles`, ... ``)
/// so that it survives the cut to one short line.
fn parse_error(error: config::ConfigError) -> ConfigError {
    let message = error.to_string();
    let message = match message.rsplit_once(" for key `") {
        Some((what, key)) if key.ends_with('`') && !key[..key.len() - 1].contains('`') => {
            format!("`{key}: {what}")
        }
        _ => message,
    };
    ConfigError::Parse(one_line(&message))
}

fn key_store_path(
    section: Option<KeysSection>,
    base_dir: Option<&Path>,
) -> Result<PathBuf, ConfigError> {
    let Some(section) = section else {
        return Err(ConfigError::invalid(
            "keys.file",
            "required: the key store holding the API keys' hashes (`odoo-warden keys create` \
             creates it)",
        ));
    };
    if section.file.as_os_str().is_empty() {
        return Err(ConfigError::invalid("keys.file", "the path is empty"));
    }
    match base_dir {
        Some(dir) => Ok(dir.join(&section.file)),
        None if section.file.is_absolute() => Ok(section.file),
        None => Err(ConfigError::invalid(
            "keys.file",
            format!(
                "{} is relative and this configuration has no file to be relative to: give an \
                 absolute path",
                section.file.display()
            ),
        )),
    }
}

fn read_key_store(path: &Path) -> Result<KeyStoreFile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::KeyStore {
        path: path.to_owned(),
        message: if e.kind() == std::io::ErrorKind::NotFound {
            "not found (`odoo-warden keys create --name NAME --profile PROFILE` creates it)"
                .to_owned()
        } else {
            format!("cannot read: {}", e.kind())
        },
    })?;
    parse_key_store(path, &text)
}

fn parse_key_store(path: &Path, text: &str) -> Result<KeyStoreFile, ConfigError> {
    KeyStoreFile::from_toml(text).map_err(|e| {
        let message = e.to_string();
        let message = message
            .strip_prefix("key store, ")
            .or_else(|| message.strip_prefix("key store: "))
            .unwrap_or(&message);
        ConfigError::KeyStore {
            path: path.to_owned(),
            message: one_line(message),
        }
    })
}

/// A compile error; one about a key (`key.k_…`, `key[0]`) also names the key store it is in.
fn policy_error(message: &str, key_store: &Path) -> ConfigError {
    let about_a_key = ["key.", "key[", "key "]
        .iter()
        .any(|prefix| message.starts_with(prefix));
    ConfigError::Policy(one_line(&if about_a_key {
        format!("key store {}: {message}", key_store.display())
    } else {
        message.to_owned()
    }))
}

/// One line of at most 300 characters: TOML errors come as a multi-line excerpt of the document;
/// keep where (the first line) and what (the last line).
fn one_line(message: &str) -> String {
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
