//! The `[audit.postgres]` section: the PostgreSQL audit sink, one trail for a fleet of replicas.
//! Validated into [`PostgresSettings`]; the transport opens the sink.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use warden_audit::SinkOptions;
use warden_audit::jsonl::valid_stream_name;
use warden_audit_pg::{Password, PgTarget, TlsMode};

use crate::ConfigError;
use crate::odoo::{from_env, from_file};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PostgresSection {
    url: String,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    stream: Option<String>,
    stream_env: Option<String>,
    tls: Option<String>,
    ca_file: Option<PathBuf>,
    retention_days: Option<u32>,
    connect_timeout_ms: Option<u64>,
    on_failure: Option<String>,
    block_timeout_ms: Option<u64>,
    queue_capacity: Option<usize>,
}

/// The PostgreSQL sink's settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PostgresSettings {
    /// The database, the password read, TLS and the connect timeout set.
    pub target: PgTarget,
    /// This replica's stream.
    pub stream: String,
    /// Days rows are kept (`None`: kept for ever, and no DELETE right is needed).
    pub retention_days: Option<u32>,
    /// Failure policy and queue.
    pub options: SinkOptions,
}

fn path(key: &str, path: &Path, base_dir: Option<&Path>) -> Result<PathBuf, ConfigError> {
    match base_dir {
        Some(base) => Ok(base.join(path)),
        None if path.is_absolute() => Ok(path.to_owned()),
        None => Err(ConfigError::invalid(
            key,
            format!(
                "{} is relative and this configuration has no file to be relative to: give an \
                 absolute path",
                path.display()
            ),
        )),
    }
}

/// The `[audit.postgres]` section validated, with the password read from `env` or its file.
pub(crate) fn settings(
    section: PostgresSection,
    env: &crate::Environment,
    base_dir: Option<&Path>,
) -> Result<PostgresSettings, ConfigError> {
    let mut target = PgTarget::from_url(&section.url)
        .map_err(|e| ConfigError::invalid("audit.postgres.url", e))?;
    target.password = match (&section.password_env, &section.password_file) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::invalid(
                "audit.postgres.password",
                "set only one of password_env and password_file",
            ));
        }
        (Some(var), None) => Some(Password::new(from_env(
            "audit.postgres.password_env",
            var,
            env,
        )?)),
        (None, Some(file)) => {
            let file = path("audit.postgres.password_file", file, base_dir)?;
            Some(Password::new(from_file(
                "audit.postgres.password_file",
                &file,
            )?))
        }
        (None, None) => None,
    };
    let stream = match (&section.stream, &section.stream_env) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::invalid(
                "audit.postgres.stream",
                "set only one of stream and stream_env",
            ));
        }
        (Some(stream), None) => stream.clone(),
        (None, Some(var)) => from_env("audit.postgres.stream_env", var, env)?,
        (None, None) => {
            return Err(ConfigError::invalid(
                "audit.postgres.stream",
                "required: each replica writes a stream of its own (stream = \"...\", or \
                 stream_env = \"POD_NAME\" where replicas share one configuration file)",
            ));
        }
    };
    if !valid_stream_name(&stream) {
        return Err(ConfigError::invalid(
            "audit.postgres.stream",
            format!("{stream:?}: letters, digits, _ and - only (at most 64)"),
        ));
    }
    target.tls = match section.tls.as_deref() {
        None => TlsMode::VerifyFull,
        Some(text) => TlsMode::parse(text).ok_or_else(|| {
            ConfigError::invalid(
                "audit.postgres.tls",
                format!("{text:?}: verify-full (the default), require, or disable (loopback only)"),
            )
        })?,
    };
    if target.tls == TlsMode::Disable && !target.is_loopback() {
        return Err(ConfigError::invalid(
            "audit.postgres.tls",
            "\"disable\" is allowed only for a loopback host: audit events and the password \
             would cross the network unencrypted",
        ));
    }
    if let Some(file) = &section.ca_file {
        if target.tls != TlsMode::VerifyFull {
            return Err(ConfigError::invalid(
                "audit.postgres.ca_file",
                "applies only with tls = \"verify-full\"",
            ));
        }
        let file = path("audit.postgres.ca_file", file, base_dir)?;
        if !file.is_file() {
            return Err(ConfigError::invalid(
                "audit.postgres.ca_file",
                format!("{} is not a file", file.display()),
            ));
        }
        target.ca_file = Some(file);
    }
    if section.retention_days == Some(0) {
        return Err(ConfigError::invalid(
            "audit.postgres.retention_days",
            "must be at least 1 (leave it out to keep every row)",
        ));
    }
    let timeout_ms = section.connect_timeout_ms.unwrap_or(5000);
    if timeout_ms == 0 || timeout_ms > 600_000 {
        return Err(ConfigError::invalid(
            "audit.postgres.connect_timeout_ms",
            "must be within 1-600000",
        ));
    }
    target.connect_timeout = Duration::from_millis(timeout_ms);
    Ok(PostgresSettings {
        target,
        stream,
        retention_days: section.retention_days,
        options: SinkOptions {
            policy: crate::audit::policy(
                "audit.postgres.on_failure",
                section.on_failure.as_deref(),
                true,
                section.block_timeout_ms,
            )?,
            queue_capacity: crate::audit::queue(
                "audit.postgres.queue_capacity",
                section.queue_capacity,
            )?,
        },
    })
}
