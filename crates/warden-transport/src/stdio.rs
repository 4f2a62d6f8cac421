//! Newline-delimited JSON-RPC over a byte stream (the MCP stdio transport).
//!
//! - One message per line. A line longer than [`StdioOptions::max_message_bytes`] is refused with
//!   a JSON-RPC error and skipped to its end without being held in memory (a 10 MB line costs no
//!   more memory than a small one).
//! - Messages are handled concurrently (up to [`StdioOptions::max_concurrent_requests`]; reading
//!   waits beyond that), so a slow Odoo call does not block a `notifications/cancelled` for it.
//! - One writer owns the output: every line written is one whole JSON message followed by `\n`;
//!   nothing else is ever written to it (logs go to stderr).
//! - When the input ends, reading stops, messages in flight get [`StdioOptions::drain_timeout`] to
//!   finish, their answers are flushed, and [`serve`] returns.
//!
//! [`run`] serves odoo-warden itself: one process, one API key (`WARDEN_KEY`), the configuration
//! reloaded while serving.

use std::future::Future;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use warden_config::Environment;
use warden_gateway::engine::{Caller, Gateway, ServerInfo};

use crate::reload;
use crate::setup::{self, SetupError};

/// Where a handler sends messages for the client (responses and notifications).
pub type Outbound = mpsc::Sender<Value>;

/// Handles one incoming message (the bytes of one line, without the newline).
///
/// Returns the response to send, if any. Notifications for the client (progress, logging) go
/// to `outbound` while the message is being handled.
pub trait MessageHandler: Clone + Send + Sync + 'static {
    /// Handle `message`.
    fn handle(
        &self,
        message: Vec<u8>,
        outbound: Outbound,
    ) -> impl Future<Output = Option<Value>> + Send;
}

/// Limits of the stdio transport.
#[derive(Debug, Clone, Copy)]
pub struct StdioOptions {
    /// Longest accepted line, in bytes (default 1 MiB).
    pub max_message_bytes: usize,
    /// Messages handled at the same time (default 32).
    pub max_concurrent_requests: usize,
    /// How long messages in flight may run after the input ended (default 5 s).
    pub drain_timeout: Duration,
}

impl Default for StdioOptions {
    fn default() -> Self {
        Self {
            max_message_bytes: 1024 * 1024,
            max_concurrent_requests: 32,
            drain_timeout: Duration::from_secs(5),
        }
    }
}

/// One line read from the input.
enum Line {
    /// A whole line within the limit.
    Message(Vec<u8>),
    /// A line over the limit, skipped.
    TooLarge,
    /// The input ended.
    End,
}

/// Serve `handler` on `input`/`output` until the input ends (or the output is closed).
pub async fn serve<H, R, W>(
    handler: H,
    input: R,
    output: W,
    options: StdioOptions,
) -> io::Result<()>
where
    H: MessageHandler,
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Value>(256);
    let writer = tokio::spawn(write_loop(output, rx));
    let permits = Arc::new(Semaphore::new(options.max_concurrent_requests.max(1)));
    let mut tasks = JoinSet::new();
    let mut reader = BufReader::with_capacity(64 * 1024, input);
    let mut buffer = Vec::new();

    loop {
        // Reap finished tasks so the set does not grow with the session.
        while tasks.try_join_next().is_some() {}
        let line = tokio::select! {
            line = read_line(&mut reader, &mut buffer, options.max_message_bytes) => line?,
            // The client closed our output: nobody is listening any more.
            () = tx.closed() => break,
        };
        match line {
            Line::End => break,
            Line::TooLarge => {
                tracing::warn!(
                    limit = options.max_message_bytes,
                    "message over the size limit refused"
                );
                let error = json!({
                    "jsonrpc": "2.0",
                    "id": null,
                    "error": {
                        "code": -32600,
                        "message": format!(
                            "message too large: the limit is {} bytes",
                            options.max_message_bytes
                        ),
                    },
                });
                if tx.send(error).await.is_err() {
                    break;
                }
            }
            Line::Message(message) => {
                if message.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                    break;
                };
                let handler = handler.clone();
                let tx = tx.clone();
                tasks.spawn(async move {
                    let _permit = permit;
                    if let Some(response) = handler.handle(message, tx.clone()).await {
                        // The writer is gone only when the output is closed; nothing to do then.
                        let _ = tx.send(response).await;
                    }
                });
            }
        }
    }

    // Input ended: let what is in flight finish, within the drain timeout.
    let drained = tokio::time::timeout(options.drain_timeout, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = tasks.len(),
            "input closed; abandoning requests still in flight"
        );
        tasks.shutdown().await;
    }
    drop(tx);
    match writer.await {
        Ok(result) => result,
        Err(join) => Err(io::Error::other(join)),
    }
}

/// Reads one line into `buffer`, holding at most `limit` bytes of it.
async fn read_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    buffer: &mut Vec<u8>,
    limit: usize,
) -> io::Result<Line> {
    buffer.clear();
    let mut too_large = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            // End of input: a last line without a newline still counts.
            return Ok(if too_large {
                Line::TooLarge
            } else if buffer.is_empty() {
                Line::End
            } else {
                Line::Message(std::mem::take(buffer))
            });
        }
        let (chunk, found_newline) = match available.iter().position(|b| *b == b'\n') {
            Some(at) => (&available[..at], true),
            None => (available, false),
        };
        if !too_large {
            if buffer.len() + chunk.len() > limit {
                too_large = true;
                buffer.clear();
                buffer.shrink_to(64 * 1024);
            } else {
                buffer.extend_from_slice(chunk);
            }
        }
        let consumed = chunk.len() + usize::from(found_newline);
        reader.consume(consumed);
        if found_newline {
            if too_large {
                return Ok(Line::TooLarge);
            }
            if buffer.last() == Some(&b'\r') {
                buffer.pop();
            }
            return Ok(Line::Message(std::mem::take(buffer)));
        }
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut output: W,
    mut rx: mpsc::Receiver<Value>,
) -> io::Result<()> {
    let mut line = Vec::with_capacity(4096);
    while let Some(message) = rx.recv().await {
        line.clear();
        serde_json::to_writer(&mut line, &message).map_err(io::Error::other)?;
        line.push(b'\n');
        if let Err(error) = output.write_all(&line).await {
            // The reader notices through the closed channel and stops.
            rx.close();
            return if error.kind() == io::ErrorKind::BrokenPipe {
                Ok(())
            } else {
                Err(error)
            };
        }
        output.flush().await?;
    }
    output.flush().await
}

impl MessageHandler for warden_gateway::engine::Session {
    async fn handle(&self, message: Vec<u8>, outbound: Outbound) -> Option<Value> {
        warden_gateway::engine::Session::handle(self, &message, &outbound).await
    }
}

/// The environment variable that holds the key secret of a stdio process.
pub const KEY_VARIABLE: &str = "WARDEN_KEY";

/// Why [`run`] could not serve. One line each; none contains the key secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The configuration does not load.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// No key secret in the environment.
    #[error(
        "WARDEN_KEY is not set: odoo-warden-stdio serves one API key per process; create one \
         with `odoo-warden keys create`"
    )]
    MissingKey,
    /// The key secret does not authenticate.
    #[error("WARDEN_KEY is not a valid key (unknown, expired, not yet valid or revoked)")]
    InvalidKey,
    /// The key is valid but may not be used here (the IP rules do not allow stdio).
    #[error("WARDEN_KEY may not be used over stdio: {0}")]
    KeyRefused(String),
    /// Reading stdin or writing stdout failed.
    #[error("stdio: {0}")]
    Io(#[from] io::Error),
}

impl RunError {
    /// Whether the failure is about the key (missing, invalid or refused).
    pub fn is_key_error(&self) -> bool {
        matches!(
            self,
            Self::MissingKey | Self::InvalidKey | Self::KeyRefused(_)
        )
    }
}

/// Serve odoo-warden on this process's stdin and stdout until stdin closes: the configuration
/// at `config_path` (overrides and secrets from `env`), as the key whose secret is
/// `env["WARDEN_KEY"]`. The configuration is reloaded on SIGHUP and when its files change.
pub async fn run(config_path: &Path, env: Environment) -> Result<(), RunError> {
    let secret = match env.get(KEY_VARIABLE) {
        Some(secret) if !secret.trim().is_empty() => secret.trim().to_owned(),
        _ => return Err(RunError::MissingKey),
    };
    let loaded = setup::load(config_path, &env)?;
    loaded.warn_risks();
    let auditor = setup::build_auditor(&loaded.audit, setup::TransportKind::Stdio)?;
    let gateway = Gateway::with_audit(loaded.runtime, ServerInfo::default(), auditor.clone());
    let key = match gateway.authenticate(&secret, None) {
        Ok(key) => key,
        Err(failure) => {
            tracing::info!(reason = %failure.reason, "WARDEN_KEY refused");
            auditor.shutdown_blocking(AUDIT_FLUSH_TIMEOUT);
            let runtime = gateway.runtime();
            return Err(
                if runtime
                    .policy()
                    .authenticate(&secret, SystemTime::now())
                    .is_err()
                {
                    RunError::InvalidKey
                } else {
                    RunError::KeyRefused(failure.message)
                },
            );
        }
    };
    drop(secret);
    let mut env = env;
    env.remove(KEY_VARIABLE);
    if loaded.cluster.is_some() {
        tracing::info!(
            "[cluster] applies to odoo-warden-http fleets: this stdio process keeps its state in \
             memory"
        );
    }
    let _reload = reload::spawn_watching(
        gateway.clone(),
        config_path.to_owned(),
        env,
        &loaded.files,
        reload::ClusterReload::Ignore,
    );
    let session = gateway.session(Caller::stdio(), key);
    let options = StdioOptions {
        max_message_bytes: loaded.limits.max_message_bytes,
        max_concurrent_requests: loaded.limits.max_concurrent_requests,
        ..StdioOptions::default()
    };
    tracing::info!(
        key = session.key().as_str(),
        "odoo-warden serving MCP on stdio"
    );
    let served = serve(session, tokio::io::stdin(), tokio::io::stdout(), options).await;
    // Every answered request is recorded; close the files (their close records) before exit.
    if !auditor.shutdown(AUDIT_FLUSH_TIMEOUT).await {
        tracing::error!("the audit log did not flush in time at shutdown");
    }
    served?;
    Ok(())
}

/// How long shutdown waits for the audit sinks to write what is queued.
const AUDIT_FLUSH_TIMEOUT: Duration = Duration::from_secs(10);
