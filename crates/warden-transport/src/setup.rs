//! From a validated configuration to the gateway's [`Runtime`]: one Odoo client and one tool
//! catalog per Odoo identity, under the compiled policy.
//!
//! [`load`] is what startup and every reload do: read and validate the configuration, then build.
//! Nothing here talks to Odoo: clients connect on their first call.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use std::sync::Arc;
use warden_audit::SharedWindows;
use warden_audit::jsonl::JsonlConfig;
use warden_audit::webhook::{WebhookConfig, WebhookSink};
use warden_audit::{Auditor, JsonlSink, Stream, StreamSink};
use warden_config::{AuditSettings, ClusterSettings, Config, ConfigError, Environment, Limits};
use warden_gateway::catalog::Catalog;
use warden_gateway::runtime::{Runtime, RuntimeError};
use warden_gateway::shared::{Fleet, SharedState};

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
    /// The shared state store cannot be set up (`[cluster]`).
    #[error("config: `cluster.redis_url`: {0}")]
    Cluster(String),
    /// An audit sink cannot be opened (the folder is not writable, the webhook is invalid...).
    #[error("config: `{key}`: {message}")]
    Audit {
        /// The section, e.g. `audit.dir` or `audit.webhook`.
        key: String,
        /// Why.
        message: String,
    },
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
    /// The audit log's settings (a reload does not change them: the sinks stay open).
    pub audit: AuditSettings,
    /// The HTTP transport's settings (read at start).
    pub http: warden_config::HttpSettings,
    /// The risky settings `odoo-warden config check` flags; [`Loaded::warn_risks`] logs them.
    pub risks: warden_config::Risks,
    /// The state shared by a fleet (`[cluster]`), read at start: a reload keeps the running
    /// store.
    pub cluster: Option<ClusterSettings>,
}

impl Loaded {
    /// Log every risky setting of the configuration as a warning, as startup and every reload
    /// do: an operator who never runs `config check` still sees them in the server's log.
    pub fn warn_risks(&self) {
        for warning in &self.risks.warnings {
            tracing::warn!(target: "odoo_warden::config", "risky setting: {warning}");
        }
    }
}

/// Reads the configuration at `path` with `env`, validates it and builds its runtime: what
/// startup and every reload do.
pub fn load(path: &Path, env: &Environment) -> Result<Loaded, SetupError> {
    let mut config = Config::load(path, env)?;
    let limits = config.limits;
    let files = config.files.clone();
    let audit = config.audit.clone();
    let http = config.http.clone();
    let cluster = config.cluster.take();
    let risks = warden_config::risks(&config, std::time::SystemTime::now());
    let runtime = build_runtime(config)?;
    Ok(Loaded {
        runtime,
        limits,
        files,
        audit,
        http,
        risks,
        cluster,
    })
}

/// The fleet `settings` describe: a Redis store (connected lazily, so a Redis that is down at
/// start does not stop the server: rates fall back meanwhile) and the shared confirmation key,
/// and the same store as the audit pipeline's shared alert windows. Call within a tokio
/// runtime.
pub fn build_fleet(
    settings: &ClusterSettings,
) -> Result<(Fleet, Arc<dyn SharedWindows>), SetupError> {
    use secrecy::ExposeSecret;
    let mut options = warden_cluster::Options::new(settings.redis_url.as_str());
    options.username.clone_from(&settings.redis_username);
    options.password.clone_from(&settings.redis_password);
    options.ca_pem.clone_from(&settings.redis_ca_pem);
    options.key_prefix.clone_from(&settings.key_prefix);
    options.timeout = settings.timeout;
    let store = warden_cluster::RedisStore::connect(&options)
        .map_err(|e| SetupError::Cluster(e.to_string()))?;
    tracing::info!(
        prefix = %settings.key_prefix,
        timeout_ms = settings.timeout.as_millis(),
        "rate budgets, failed authentications, confirmations, legacy sessions and alert windows are shared on {}://{}",
        settings.redis_url.scheme(),
        settings.redis_url.host_str().unwrap_or_default()
    );
    let store = Arc::new(store);
    let fleet = Fleet {
        store: Arc::clone(&store) as Arc<dyn SharedState>,
        confirmation_key: settings.confirmation_key.expose_secret().to_vec(),
    };
    Ok((fleet, store))
}

/// Which transport an [`Auditor`] serves: the stdio transport owns stdout, so no audit event may
/// be written there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// `odoo-warden-stdio`.
    Stdio,
    /// `odoo-warden-http`.
    Http,
}

/// Open the sinks `settings` describe and start the audit pipeline: the JSONL files (stream
/// taken, new file begun, old files pruned; with a signing key, signed lines and checkpoints to
/// the anchors file and the other sinks), stdout or stderr JSON lines, the signed webhook;
/// alerts as configured. With `enabled = false`, a pipeline that records nothing, and a loud
/// warning.
pub fn build_auditor(
    settings: &AuditSettings,
    transport: TransportKind,
) -> Result<Auditor, SetupError> {
    build_auditor_with(settings, transport, Vec::new())
}

/// [`build_auditor`] with `extra` sinks of the caller's (metrics), which run even when the audit
/// log is off.
pub fn build_auditor_with(
    settings: &AuditSettings,
    transport: TransportKind,
    extra: Vec<(Box<dyn warden_audit::Sink>, warden_audit::SinkOptions)>,
) -> Result<Auditor, SetupError> {
    build_auditor_shared(settings, transport, extra, None)
}

/// [`build_auditor_with`], the alert windows shared by a fleet when `windows` is given (see
/// [`warden_audit::SharedWindows`]).
pub fn build_auditor_shared(
    settings: &AuditSettings,
    transport: TransportKind,
    extra: Vec<(Box<dyn warden_audit::Sink>, warden_audit::SinkOptions)>,
    windows: Option<std::sync::Arc<dyn warden_audit::SharedWindows>>,
) -> Result<Auditor, SetupError> {
    if !settings.enabled {
        tracing::warn!(
            "THE AUDIT LOG IS OFF (audit.enabled = false): no request is recorded; nobody can \
             later show who accessed what"
        );
        if extra.is_empty() {
            return Ok(Auditor::disabled());
        }
    }
    let mut builder = Auditor::builder().alerts(settings.alerts.clone());
    if let Some(windows) = windows {
        builder = builder.shared_alerts(windows);
    }
    for (sink, options) in extra {
        builder = builder.boxed_sink(sink, options);
    }
    if !settings.enabled {
        return builder.build().map_err(|e| SetupError::Audit {
            key: "audit".to_owned(),
            message: e.to_string(),
        });
    }
    if let Some(file) = &settings.file {
        let mut config = JsonlConfig::new(&file.dir);
        config.stream.clone_from(&file.stream);
        config.max_file_bytes = file.max_file_bytes;
        config.retention_days = file.retention_days;
        config.durability = file.durability;
        config.seal.clone_from(&file.seal);
        config.signer.clone_from(&file.signer);
        config.checkpoint_interval = file.checkpoint_interval;
        config.anchors_file.clone_from(&file.anchors_file);
        let sink = JsonlSink::open(config).map_err(|e| SetupError::Audit {
            key: "audit.dir".to_owned(),
            message: e.to_string(),
        })?;
        tracing::info!(
            file = %sink.current_file().display(),
            "audit log: writing {}",
            sink.stream()
        );
        builder = builder.sink(sink, file.options);
    }
    if settings.stdout {
        if transport == TransportKind::Stdio {
            return Err(SetupError::Audit {
                key: "audit.stdout".to_owned(),
                message: "stdout carries the MCP protocol with the stdio transport; use \
                          audit.stderr"
                    .to_owned(),
            });
        }
        builder = builder.sink(StreamSink::new(Stream::Stdout), settings.stream_options);
    }
    if settings.stderr {
        builder = builder.sink(StreamSink::new(Stream::Stderr), settings.stream_options);
    }
    if let Some(hook) = &settings.webhook {
        let mut config = WebhookConfig::new(hook.url.clone(), hook.secret.clone());
        config.batch_max_events = hook.batch_max_events;
        config.batch_max_wait = hook.batch_max_wait;
        config.timeout = hook.timeout;
        config.max_attempts = hook.max_attempts;
        config.allow_insecure_http = hook.allow_insecure_http;
        let sink = WebhookSink::new(config).map_err(|e| SetupError::Audit {
            key: "audit.webhook".to_owned(),
            message: e.to_string(),
        })?;
        builder = builder.sink(sink, hook.options);
    }
    if let Some(pg) = &settings.postgres {
        builder = builder.sink(postgres_sink(settings, pg)?, pg.options);
    }
    builder.build().map_err(|e| SetupError::Audit {
        key: "audit".to_owned(),
        message: e.to_string(),
    })
}

/// The PostgreSQL sink of `[audit.postgres]`, sealed and signed with the `[audit]` keys, its
/// checkpoints appended to the `[audit]` anchors file.
fn postgres_sink(
    settings: &AuditSettings,
    pg: &warden_config::PostgresSettings,
) -> Result<warden_audit_pg::PgSink, SetupError> {
    let mut config = warden_audit_pg::PgSinkConfig::new(pg.target.clone(), pg.stream.clone());
    config.retention_days = pg.retention_days;
    if let Some(file) = &settings.file {
        config.seal.clone_from(&file.seal);
        config.signer.clone_from(&file.signer);
        config.checkpoint_interval = file.checkpoint_interval;
        config.anchors_file.clone_from(&file.anchors_file);
    }
    let sink = warden_audit_pg::PgSink::open(config).map_err(|e| SetupError::Audit {
        key: "audit.postgres".to_owned(),
        message: e.to_string(),
    })?;
    tracing::info!(
        database = %pg.target.display(),
        "audit log: writing stream {} to PostgreSQL",
        sink.stream()
    );
    Ok(sink)
}
