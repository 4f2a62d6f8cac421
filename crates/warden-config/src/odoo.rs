//! The `[odoo]` section: one connection to Odoo, and the named Odoo users (identities) the
//! gateway acts as, each turned into its own [`OdooConfig`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};
use warden_odoo::{Credential, OdooConfig, Protocol, SecretString};

use crate::{ConfigError, Environment};

/// Longest identity name.
const MAX_NAME_LEN: usize = 64;

/// `[odoo]`: the connection, and `[odoo.identities.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OdooSection {
    url: String,
    database: String,
    protocol: Option<String>,
    timeout_ms: Option<u64>,
    connect_timeout_ms: Option<u64>,
    max_response_bytes: Option<usize>,
    tls_ca_file: Option<PathBuf>,
    #[serde(default)]
    danger_accept_invalid_certs: bool,
    #[serde(default)]
    allow_plain_http: bool,
    #[serde(default)]
    identities: BTreeMap<String, IdentitySection>,
}

/// `[odoo.identities.NAME]`: one Odoo user and where its secret is.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentitySection {
    login: String,
    api_key_env: Option<String>,
    api_key_file: Option<PathBuf>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    uid: Option<i64>,
    lang: Option<String>,
}

impl OdooSection {
    /// The identities' names, checked, without reading any credential.
    pub(crate) fn identity_names(&self) -> Result<Vec<String>, ConfigError> {
        for name in self.identities.keys() {
            check_name(&format!("odoo.identities.{name}"), name)?;
        }
        Ok(self.identities.keys().cloned().collect())
    }
}

/// One [`OdooConfig`] per identity, by name.
pub(crate) fn identities(
    section: OdooSection,
    env: &Environment,
    base_dir: Option<&Path>,
) -> Result<BTreeMap<String, OdooConfig>, ConfigError> {
    let base = connection(&section, base_dir)?;
    if section.identities.is_empty() {
        return Err(ConfigError::invalid(
            "odoo.identities",
            "at least one Odoo identity is required: declare [odoo.identities.NAME] with a login \
             and one of api_key_env, api_key_file, password_env, password_file",
        ));
    }
    let mut out = BTreeMap::new();
    for (name, identity) in section.identities {
        let key = format!("odoo.identities.{name}");
        check_name(&key, &name)?;
        let credential = credential(&key, &identity, env, base_dir)?;
        let mut config = base.clone();
        config.login = identity.login;
        config.credential = credential;
        config.uid = identity.uid;
        if let Some(lang) = identity.lang {
            let mut context = Map::new();
            context.insert("lang".to_owned(), Value::String(lang));
            config.context = context;
        }
        // The client's own checks (scheme, host, plain http, protocol vs credential) run here
        // too, so a bad configuration is refused before anything starts.
        warden_odoo::OdooClient::new(config.clone())
            .map_err(|e| ConfigError::invalid(key, e.to_string()))?;
        out.insert(name, config);
    }
    Ok(out)
}

/// Keys of the earlier single-user `[odoo]` shape, which now belong to an identity.
const MOVED_KEYS: [&str; 7] = [
    "login",
    "api_key_env",
    "api_key_file",
    "password_env",
    "password_file",
    "uid",
    "lang",
];

/// Refuse the single-user shape with a message that says where its keys went, before the
/// generic "unknown field" error would.
pub(crate) fn refuse_moved_keys(document: &config::Config) -> Result<(), ConfigError> {
    match MOVED_KEYS.iter().find(|key| {
        document
            .get::<config::Value>(&format!("odoo.{key}"))
            .is_ok()
    }) {
        Some(key) => Err(ConfigError::Parse(format!(
            "`odoo.{key}` moved: declare the Odoo user under [odoo.identities.NAME] and bind \
             profiles to it with `identity = \"NAME\"`"
        ))),
        None => Ok(()),
    }
}

/// The connection settings, with a placeholder user that each identity replaces.
/// `path` as the configuration means it: relative to the configuration's folder, like every
/// other path in it (the working directory only for a configuration that is not a file).
fn resolve(path: &Path, base_dir: Option<&Path>) -> PathBuf {
    match base_dir {
        Some(dir) => dir.join(path),
        None => path.to_owned(),
    }
}

fn connection(section: &OdooSection, base_dir: Option<&Path>) -> Result<OdooConfig, ConfigError> {
    let url: url::Url = section
        .url
        .parse()
        .map_err(|e| ConfigError::invalid("odoo.url", format!("{e}")))?;
    let mut config = OdooConfig::new(
        url,
        section.database.clone(),
        String::new(),
        Credential::Password(SecretString::from(String::new())),
    );
    if let Some(protocol) = &section.protocol {
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
    if let Some(path) = &section.tls_ca_file {
        let path = resolve(path, base_dir);
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
    Ok(config)
}

/// Identity names are used in profiles and in environment overrides (which are lowercased):
/// `[a-z0-9_-]{1,64}`.
fn check_name(key: &str, name: &str) -> Result<(), ConfigError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            key,
            format!(
                "an identity name is 1 to {MAX_NAME_LEN} characters among a-z, 0-9, `_` and `-`"
            ),
        ))
    }
}

fn credential(
    key: &str,
    identity: &IdentitySection,
    env: &Environment,
    base_dir: Option<&Path>,
) -> Result<Credential, ConfigError> {
    let sources = [
        identity.api_key_env.is_some(),
        identity.api_key_file.is_some(),
        identity.password_env.is_some(),
        identity.password_file.is_some(),
    ];
    if sources.iter().filter(|s| **s).count() > 1 {
        return Err(ConfigError::invalid(
            key,
            "several credentials: set only one of api_key_env, api_key_file, password_env, \
             password_file",
        ));
    }
    let (source, is_api_key, secret) = if let Some(var) = &identity.api_key_env {
        let source = format!("{key}.api_key_env");
        let secret = from_env(&source, var, env)?;
        (source, true, secret)
    } else if let Some(path) = &identity.api_key_file {
        let source = format!("{key}.api_key_file");
        let secret = from_file(&source, &resolve(path, base_dir))?;
        (source, true, secret)
    } else if let Some(var) = &identity.password_env {
        let source = format!("{key}.password_env");
        let secret = from_env(&source, var, env)?;
        (source, false, secret)
    } else if let Some(path) = &identity.password_file {
        let source = format!("{key}.password_file");
        let secret = from_file(&source, &resolve(path, base_dir))?;
        (source, false, secret)
    } else {
        return Err(ConfigError::invalid(
            key,
            "no credential: set one of api_key_env, api_key_file, password_env, password_file \
             (secrets are never written in the file itself)",
        ));
    };
    if secret.is_empty() {
        return Err(ConfigError::invalid(source, "the secret is empty"));
    }
    let secret = SecretString::from(secret);
    Ok(if is_api_key {
        Credential::ApiKey(secret)
    } else {
        Credential::Password(secret)
    })
}

pub(crate) fn from_env(key: &str, var: &str, env: &Environment) -> Result<String, ConfigError> {
    env.get(var).map(|v| v.trim().to_owned()).ok_or_else(|| {
        ConfigError::invalid(key, format!("the environment variable {var} is not set"))
    })
}

pub(crate) fn from_file(key: &str, path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| {
            ConfigError::invalid(key, format!("cannot read {}: {}", path.display(), e.kind()))
        })
}

fn positive_ms(key: &str, ms: u64) -> Result<Duration, ConfigError> {
    if ms == 0 {
        return Err(ConfigError::invalid(key, "must be greater than 0"));
    }
    Ok(Duration::from_millis(ms))
}
