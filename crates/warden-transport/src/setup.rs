//! From a validated configuration to the gateway's [`Runtime`]: one Odoo client and one tool
//! catalog per Odoo identity, under the compiled policy.
//!
//! [`load`] is what startup and every reload do: read and validate the configuration, then build.
//! Nothing here talks to Odoo: clients connect on their first call.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use warden_config::{Config, ConfigError, Environment, Limits};
use warden_gateway::catalog::Catalog;
use warden_gateway::runtime::{Runtime, RuntimeError};

/// A configuration that cannot be turned into a runtime. Every message is one line and names
/// what it is about; none contains a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The configuration (or the key store it names) is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An Odoo identity's client cannot be built.
    #[error("config: `odoo.identities.{identity}`: {message}")]
    Odoo {
        /// The identity's name.
        identity: String,
        /// Why (the client's own message).
        message: String,
    },
    /// The policy and the catalogs do not fit together.
    #[error("config: {0}")]
    Runtime(#[from] RuntimeError),
}

/// The runtime `config` describes: one [`warden_odoo::OdooClient`] and one [`Catalog`] per
/// identity in `config.identities`, under `config.policy`. Takes the configuration by value: the
/// compiled policy moves into the runtime.
pub fn build_runtime(config: Config) -> Result<Runtime, SetupError> {
    let mut catalogs = BTreeMap::new();
    for (name, identity) in config.identities {
        let odoo = warden_odoo::OdooClient::new(identity).map_err(|e| SetupError::Odoo {
            identity: name.clone(),
            message: e.to_string(),
        })?;
        catalogs.insert(name, Catalog::new(odoo, config.tools.clone()));
    }
    Ok(Runtime::new(config.policy, &catalogs)?)
}

/// A configuration read, validated and built.
#[derive(Debug)]
#[non_exhaustive]
pub struct Loaded {
    /// The gateway's runtime: policy and catalogs.
    pub runtime: Runtime,
    /// Limits on incoming messages.
    pub limits: Limits,
    /// The files the configuration was read from (the configuration file, then the key store).
    pub files: Vec<PathBuf>,
}

/// Reads the configuration at `path` with `env`, validates it and builds its runtime: what
/// startup and every reload do.
pub fn load(path: &Path, env: &Environment) -> Result<Loaded, SetupError> {
    let config = Config::load(path, env)?;
    let limits = config.limits;
    let files = config.files.clone();
    let runtime = build_runtime(config)?;
    Ok(Loaded {
        runtime,
        limits,
        files,
    })
}
