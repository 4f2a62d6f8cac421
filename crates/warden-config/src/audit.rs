//! The `[audit]` section: where events go, how durably, what happens when a sink fails, and
//! which alerts are raised. Validated into [`AuditSettings`]; the transport opens the sinks.
//!
//! The audit log is on by default (JSONL files in `audit/` beside the configuration file, fail
//! closed). Turning it off takes `enabled = false`, which `config check` and the log at start
//! flag loudly.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use warden_audit::alerts::{AlertConfig, OffHours, Threshold};
use warden_audit::chain::SealKey;
use warden_audit::jsonl::{DEFAULT_CHECKPOINT_INTERVAL, valid_stream_name};
use warden_audit::signing::SigningKey;
use warden_audit::{Durability, FailurePolicy, SinkOptions};

use crate::ConfigError;
use crate::odoo::{from_env, from_file};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditSection {
    enabled: Option<bool>,
    dir: Option<PathBuf>,
    stream: Option<String>,
    durability: Option<String>,
    group_commit_ms: Option<u64>,
    max_file_mb: Option<u64>,
    retention_days: Option<u32>,
    on_failure: Option<String>,
    block_timeout_ms: Option<u64>,
    queue_capacity: Option<usize>,
    seal_key_env: Option<String>,
    seal_key_file: Option<PathBuf>,
    signing_key_env: Option<String>,
    signing_key_file: Option<PathBuf>,
    checkpoint_interval_s: Option<u64>,
    anchors_file: Option<PathBuf>,
    #[serde(default)]
    stdout: bool,
    #[serde(default)]
    stderr: bool,
    webhook: Option<WebhookSection>,
    postgres: Option<crate::audit_pg::PostgresSection>,
    #[serde(default)]
    alerts: AlertsSection,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookSection {
    url: String,
    secret_env: Option<String>,
    secret_file: Option<PathBuf>,
    batch_max_events: Option<usize>,
    batch_max_wait_ms: Option<u64>,
    timeout_ms: Option<u64>,
    max_attempts: Option<u32>,
    on_failure: Option<String>,
    block_timeout_ms: Option<u64>,
    queue_capacity: Option<usize>,
    #[serde(default)]
    allow_insecure_http: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertsSection {
    denied_burst: Option<ThresholdSection>,
    failed_auth_burst: Option<ThresholdSection>,
    rate_limited_burst: Option<ThresholdSection>,
    new_ip: Option<bool>,
    off_hours: Option<OffHoursSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdSection {
    count: u32,
    window_s: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OffHoursSection {
    work_start_hour: u8,
    work_end_hour: u8,
    #[serde(default)]
    utc_offset: Option<String>,
    #[serde(default)]
    weekends_off: bool,
}

/// The JSONL files' settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FileSettings {
    /// The folder, resolved against the configuration file's folder.
    pub dir: PathBuf,
    /// The stream name.
    pub stream: String,
    /// When events are made durable.
    pub durability: Durability,
    /// Largest file before rotation, in bytes.
    pub max_file_bytes: u64,
    /// Days files are kept.
    pub retention_days: u32,
    /// The seal key, when configured.
    pub seal: Option<SealKey>,
    /// The Ed25519 signing key (lines, head, checkpoints), when configured.
    pub signer: Option<SigningKey>,
    /// How often a checkpoint is made while events are written (with a signing key).
    pub checkpoint_interval: Duration,
    /// Where checkpoints are appended, resolved against the configuration file's folder.
    pub anchors_file: Option<PathBuf>,
    /// Failure policy and queue.
    pub options: SinkOptions,
}

/// The signed webhook's settings.
#[derive(Clone)]
#[non_exhaustive]
pub struct WebhookSettings {
    /// Where batches are POSTed.
    pub url: url::Url,
    /// The HMAC key (from `secret_env` or `secret_file`).
    pub secret: Vec<u8>,
    /// Most events per POST.
    pub batch_max_events: usize,
    /// The shortest time between two POSTs.
    pub batch_max_wait: Duration,
    /// Timeout of one POST.
    pub timeout: Duration,
    /// Attempts per batch.
    pub max_attempts: u32,
    /// Whether plain HTTP to a non-loopback host was explicitly allowed.
    pub allow_insecure_http: bool,
    /// Failure policy and queue.
    pub options: SinkOptions,
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            // The path or query may hold a token: only the origin is shown.
            .field("url", &self.url.origin().ascii_serialization())
            .field("batch_max_events", &self.batch_max_events)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// The validated `[audit]` section.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuditSettings {
    /// Whether events are recorded at all (`enabled = false` turns every sink off).
    pub enabled: bool,
    /// The JSONL files (always, when enabled).
    pub file: Option<FileSettings>,
    /// JSON lines on stdout.
    pub stdout: bool,
    /// JSON lines on stderr.
    pub stderr: bool,
    /// The signed webhook, when configured.
    pub webhook: Option<WebhookSettings>,
    /// The PostgreSQL sink (`[audit.postgres]`), when configured.
    pub postgres: Option<crate::audit_pg::PostgresSettings>,
    /// The stream sinks' failure policy and queue.
    pub stream_options: SinkOptions,
    /// The alerts.
    pub alerts: AlertConfig,
}

pub(crate) fn policy(
    key: &str,
    value: Option<&str>,
    default_block: bool,
    timeout_ms: Option<u64>,
) -> Result<FailurePolicy, ConfigError> {
    let timeout = Duration::from_millis(timeout_ms.unwrap_or(2000));
    if timeout.is_zero() {
        return Err(ConfigError::invalid(
            key.replace("on_failure", "block_timeout_ms"),
            "must be greater than 0",
        ));
    }
    match value {
        None if default_block => Ok(FailurePolicy::Block { timeout }),
        None => Ok(FailurePolicy::Drop),
        Some("block") => Ok(FailurePolicy::Block { timeout }),
        Some("drop") => Ok(FailurePolicy::Drop),
        Some(other) => Err(ConfigError::invalid(
            key,
            format!("{other:?} is not a failure policy: block (fail closed) or drop"),
        )),
    }
}

pub(crate) fn queue(key: &str, value: Option<usize>) -> Result<usize, ConfigError> {
    match value {
        None => Ok(4096),
        Some(0) => Err(ConfigError::invalid(key, "must be at least 1")),
        Some(n) => Ok(n),
    }
}

fn threshold(
    key: &str,
    section: Option<&ThresholdSection>,
    default: Option<Threshold>,
) -> Result<Option<Threshold>, ConfigError> {
    match section {
        None => Ok(default),
        Some(t) if t.count == 0 => Ok(None),
        Some(t) if t.window_s == 0 => Err(ConfigError::invalid(
            format!("{key}.window_s"),
            "must be greater than 0",
        )),
        Some(t) => Ok(Some(Threshold {
            count: t.count,
            window: Duration::from_secs(t.window_s),
        })),
    }
}

/// `+HH:MM`, `-HH:MM` or `Z` as minutes east of UTC.
fn utc_offset(key: &str, text: &str) -> Result<i32, ConfigError> {
    if text == "Z" || text == "UTC" {
        return Ok(0);
    }
    let invalid = || ConfigError::invalid(key, format!("{text:?} is not an offset such as +01:00"));
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => return Err(invalid()),
    };
    let (hours, minutes) = rest.split_once(':').ok_or_else(invalid)?;
    let hours: i32 = hours.parse().map_err(|_| invalid())?;
    let minutes: i32 = minutes.parse().map_err(|_| invalid())?;
    if !(0..=14).contains(&hours) || !(0..60).contains(&minutes) {
        return Err(invalid());
    }
    Ok(sign * (hours * 60 + minutes))
}

fn alerts(section: &AlertsSection) -> Result<AlertConfig, ConfigError> {
    let defaults = AlertConfig::default();
    let off_hours = match &section.off_hours {
        None => None,
        Some(hours) => {
            if hours.work_start_hour > 23
                || hours.work_end_hour == 0
                || hours.work_end_hour > 24
                || hours.work_start_hour >= hours.work_end_hour
            {
                return Err(ConfigError::invalid(
                    "audit.alerts.off_hours",
                    "work_start_hour must be before work_end_hour, both within 0-24",
                ));
            }
            Some(OffHours {
                work_start_hour: hours.work_start_hour,
                work_end_hour: hours.work_end_hour,
                utc_offset_minutes: match &hours.utc_offset {
                    Some(text) => utc_offset("audit.alerts.off_hours.utc_offset", text)?,
                    None => 0,
                },
                weekends_off: hours.weekends_off,
            })
        }
    };
    Ok(AlertConfig {
        denied_burst: threshold(
            "audit.alerts.denied_burst",
            section.denied_burst.as_ref(),
            defaults.denied_burst,
        )?,
        failed_auth_burst: threshold(
            "audit.alerts.failed_auth_burst",
            section.failed_auth_burst.as_ref(),
            defaults.failed_auth_burst,
        )?,
        rate_limited_burst: threshold(
            "audit.alerts.rate_limited_burst",
            section.rate_limited_burst.as_ref(),
            defaults.rate_limited_burst,
        )?,
        new_ip: section.new_ip.unwrap_or(defaults.new_ip),
        off_hours,
    })
}

fn secret(
    key: &str,
    env_var: Option<&String>,
    file: Option<&PathBuf>,
    env: &crate::Environment,
    base_dir: Option<&Path>,
) -> Result<Option<Vec<u8>>, ConfigError> {
    match (env_var, file) {
        (Some(_), Some(_)) => Err(ConfigError::invalid(
            key,
            "set only one of the _env and _file forms",
        )),
        (Some(var), None) => Ok(Some(
            from_env(&format!("{key}_env"), var, env)?.into_bytes(),
        )),
        (None, Some(path)) => {
            let path = match base_dir {
                Some(dir) => dir.join(path),
                None => path.clone(),
            };
            Ok(Some(from_file(&format!("{key}_file"), &path)?.into_bytes()))
        }
        (None, None) => Ok(None),
    }
}

/// The `[audit]` section validated, with secrets read from `env` and relative paths resolved
/// against `base_dir`.
pub(crate) fn settings(
    section: AuditSection,
    env: &crate::Environment,
    base_dir: Option<&Path>,
) -> Result<AuditSettings, ConfigError> {
    let enabled = section.enabled.unwrap_or(true);
    let alerts = alerts(&section.alerts)?;
    let stream_options = SinkOptions {
        policy: FailurePolicy::Drop,
        queue_capacity: 4096,
    };
    if !enabled {
        return Ok(AuditSettings {
            enabled,
            file: None,
            stdout: false,
            stderr: false,
            webhook: None,
            postgres: None,
            stream_options,
            alerts,
        });
    }
    let dir = dir(section.dir.as_deref(), base_dir)?;
    let stream = section
        .stream
        .clone()
        .unwrap_or_else(|| warden_audit::jsonl::DEFAULT_STREAM.to_owned());
    if !valid_stream_name(&stream) {
        return Err(ConfigError::invalid(
            "audit.stream",
            "letters, digits, _ and - only (at most 64)",
        ));
    }
    let durability = match section.durability.as_deref() {
        None | Some("every_event") => {
            if section.group_commit_ms.is_some() {
                return Err(ConfigError::invalid(
                    "audit.group_commit_ms",
                    "applies only with durability = \"group\"",
                ));
            }
            Durability::EveryEvent
        }
        Some("group") => {
            let ms = section.group_commit_ms.unwrap_or(5);
            if ms == 0 || ms > 10_000 {
                return Err(ConfigError::invalid(
                    "audit.group_commit_ms",
                    "must be within 1-10000",
                ));
            }
            Durability::GroupCommit {
                interval: Duration::from_millis(ms),
            }
        }
        Some(other) => {
            return Err(ConfigError::invalid(
                "audit.durability",
                format!("{other:?}: every_event (fsync each event) or group (group commit)"),
            ));
        }
    };
    let max_file_mb = section.max_file_mb.unwrap_or(64);
    if max_file_mb == 0 {
        return Err(ConfigError::invalid(
            "audit.max_file_mb",
            "must be at least 1",
        ));
    }
    let retention_days = section.retention_days.unwrap_or(90);
    if retention_days == 0 {
        return Err(ConfigError::invalid(
            "audit.retention_days",
            "must be at least 1",
        ));
    }
    let seal = secret(
        "audit.seal_key",
        section.seal_key_env.as_ref(),
        section.seal_key_file.as_ref(),
        env,
        base_dir,
    )?
    .map(|bytes| SealKey::new(bytes).map_err(|e| ConfigError::invalid("audit.seal_key", e)))
    .transpose()?;
    let signer = secret(
        "audit.signing_key",
        section.signing_key_env.as_ref(),
        section.signing_key_file.as_ref(),
        env,
        base_dir,
    )?
    .map(|bytes| {
        SigningKey::from_text(&String::from_utf8_lossy(&bytes))
            .map_err(|e| ConfigError::invalid("audit.signing_key", e.to_string()))
    })
    .transpose()?;
    let checkpoint_interval = match section.checkpoint_interval_s {
        None => DEFAULT_CHECKPOINT_INTERVAL,
        Some(_) if signer.is_none() => {
            return Err(ConfigError::invalid(
                "audit.checkpoint_interval_s",
                "checkpoints are signed: set audit.signing_key_env or audit.signing_key_file",
            ));
        }
        Some(seconds) if seconds == 0 || seconds > 86_400 => {
            return Err(ConfigError::invalid(
                "audit.checkpoint_interval_s",
                "must be within 1-86400",
            ));
        }
        Some(seconds) => Duration::from_secs(seconds),
    };
    let anchors_file = match &section.anchors_file {
        None => None,
        Some(_) if signer.is_none() => {
            return Err(ConfigError::invalid(
                "audit.anchors_file",
                "checkpoints are signed: set audit.signing_key_env or audit.signing_key_file",
            ));
        }
        Some(path) if path.as_os_str().is_empty() => {
            return Err(ConfigError::invalid(
                "audit.anchors_file",
                "the path is empty",
            ));
        }
        Some(path) => {
            let path = match base_dir {
                Some(base) => base.join(path),
                None if path.is_absolute() => path.clone(),
                None => {
                    return Err(ConfigError::invalid(
                        "audit.anchors_file",
                        format!(
                            "{} is relative and this configuration has no file to be relative \
                             to: give an absolute path",
                            path.display()
                        ),
                    ));
                }
            };
            if path.starts_with(&dir) {
                return Err(ConfigError::invalid(
                    "audit.anchors_file",
                    "must be outside the audit folder: whoever can change the folder could \
                     change the anchors too",
                ));
            }
            Some(path)
        }
    };
    let file = FileSettings {
        dir,
        stream,
        durability,
        max_file_bytes: max_file_mb * 1024 * 1024,
        retention_days,
        seal,
        signer,
        checkpoint_interval,
        anchors_file,
        options: SinkOptions {
            policy: policy(
                "audit.on_failure",
                section.on_failure.as_deref(),
                true,
                section.block_timeout_ms,
            )?,
            queue_capacity: queue("audit.queue_capacity", section.queue_capacity)?,
        },
    };
    let webhook = section
        .webhook
        .map(|w| webhook(w, env, base_dir))
        .transpose()?;
    let postgres = section
        .postgres
        .map(|p| crate::audit_pg::settings(p, env, base_dir))
        .transpose()?;
    Ok(AuditSettings {
        enabled,
        file: Some(file),
        stdout: section.stdout,
        stderr: section.stderr,
        webhook,
        postgres,
        stream_options,
        alerts,
    })
}

fn dir(dir: Option<&Path>, base_dir: Option<&Path>) -> Result<PathBuf, ConfigError> {
    let dir = dir.unwrap_or_else(|| Path::new("audit"));
    if dir.as_os_str().is_empty() {
        return Err(ConfigError::invalid("audit.dir", "the path is empty"));
    }
    match base_dir {
        Some(base) => Ok(base.join(dir)),
        None if dir.is_absolute() => Ok(dir.to_owned()),
        None => Err(ConfigError::invalid(
            "audit.dir",
            format!(
                "{} is relative and this configuration has no file to be relative to: give an \
                 absolute path",
                dir.display()
            ),
        )),
    }
}

fn webhook(
    section: WebhookSection,
    env: &crate::Environment,
    base_dir: Option<&Path>,
) -> Result<WebhookSettings, ConfigError> {
    let url: url::Url = section
        .url
        .parse()
        .map_err(|e| ConfigError::invalid("audit.webhook.url", format!("not a url: {e}")))?;
    if url.fragment().is_some() {
        return Err(ConfigError::invalid(
            "audit.webhook.url",
            "must not have a #fragment",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::invalid(
            "audit.webhook.url",
            "must not hold credentials; the batches are signed with secret_env or secret_file",
        ));
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback || section.allow_insecure_http => {}
        "http" => {
            return Err(ConfigError::invalid(
                "audit.webhook.url",
                "must be https (plain http only to a loopback address, or with \
                 allow_insecure_http = true)",
            ));
        }
        other => {
            return Err(ConfigError::invalid(
                "audit.webhook.url",
                format!("{other}: must be https"),
            ));
        }
    }
    let secret = secret(
        "audit.webhook.secret",
        section.secret_env.as_ref(),
        section.secret_file.as_ref(),
        env,
        base_dir,
    )?
    .ok_or_else(|| {
        ConfigError::invalid(
            "audit.webhook",
            "needs secret_env or secret_file: the HMAC key batches are signed with",
        )
    })?;
    if secret.len() < 32 {
        return Err(ConfigError::invalid(
            "audit.webhook.secret",
            "must be at least 32 bytes",
        ));
    }
    let batch_max_events = section.batch_max_events.unwrap_or(100);
    if batch_max_events == 0 {
        return Err(ConfigError::invalid(
            "audit.webhook.batch_max_events",
            "must be at least 1",
        ));
    }
    let timeout = Duration::from_millis(section.timeout_ms.unwrap_or(10_000));
    if timeout.is_zero() {
        return Err(ConfigError::invalid(
            "audit.webhook.timeout_ms",
            "must be greater than 0",
        ));
    }
    let max_attempts = section.max_attempts.unwrap_or(5);
    if max_attempts == 0 {
        return Err(ConfigError::invalid(
            "audit.webhook.max_attempts",
            "must be at least 1",
        ));
    }
    Ok(WebhookSettings {
        url,
        secret,
        batch_max_events,
        batch_max_wait: Duration::from_millis(section.batch_max_wait_ms.unwrap_or(1000)),
        timeout,
        max_attempts,
        allow_insecure_http: section.allow_insecure_http,
        options: SinkOptions {
            policy: policy(
                "audit.webhook.on_failure",
                section.on_failure.as_deref(),
                false,
                section.block_timeout_ms,
            )?,
            queue_capacity: queue("audit.webhook.queue_capacity", section.queue_capacity)?,
        },
    })
}

/// The audit folder the configuration at `path` names, reading only its `[audit]` section (no
/// secret is needed): what `odoo-warden audit verify|search|tail` use when no folder is given.
pub fn audit_dir(path: &Path, env: &crate::Environment) -> Result<PathBuf, ConfigError> {
    #[derive(Deserialize)]
    struct OnlyAudit {
        #[serde(default)]
        audit: AuditDirOnly,
    }
    #[derive(Default, Deserialize)]
    struct AuditDirOnly {
        enabled: Option<bool>,
        dir: Option<PathBuf>,
    }
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.to_owned(),
        message: e.kind().to_string(),
    })?;
    let document: toml::Value =
        toml::from_str(&text).map_err(|e| ConfigError::Parse(crate::one_line(&e.to_string())))?;
    let only: OnlyAudit = document
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Parse(crate::one_line(&e.to_string())))?;
    let prefix = format!("{}_AUDIT__DIR", crate::ENV_PREFIX);
    let overridden = env.get(&prefix).map(PathBuf::from);
    if only.audit.enabled == Some(false) && overridden.is_none() && only.audit.dir.is_none() {
        return Err(ConfigError::invalid(
            "audit.enabled",
            "the audit log is turned off in this configuration",
        ));
    }
    let base = path.parent().unwrap_or_else(|| Path::new(""));
    dir(
        overridden.as_deref().or(only.audit.dir.as_deref()),
        Some(base),
    )
}
