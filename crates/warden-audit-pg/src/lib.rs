//! `warden-audit-pg`: the audit trail in PostgreSQL, for a fleet of replicas.
//!
//! - [`PgSink`]: a [`warden_audit::Sink`] that appends every event to the table
//!   `warden_audit_events`, as one row per line of a hash chain: the exact line the JSONL sink
//!   would write (seq, prev, the event, seal and signature, made by [`warden_audit::chain`]),
//!   plus columns copied from it for searching. One chain (*stream*) per replica; a stream has
//!   one live writer at a time (a session-level advisory lock). A batch is one transaction: an
//!   event is acknowledged only once it has committed. Each stream's head is kept beside it, and
//!   with a signing key the sink makes checkpoints, as the file sink does.
//! - [`schema`]: versioned migrations applied at start, under an advisory lock.
//! - [`read`]: verify every stream of the table (the first broken row and why), search it and
//!   report on it with the filters and tallies of [`warden_audit::search`] and
//!   [`warden_audit::report`].
//! - [`PgTarget`]: where the database is; TLS through rustls (ring), never a password in the
//!   address or a message.
//!
//! The client is the synchronous `postgres` crate: the sink runs on a thread of its own and the
//! command line is synchronous, so neither needs an asynchronous runtime of ours.

mod connect;
pub mod read;
pub mod schema;
mod sink;

pub use connect::{Password, PgTarget, TlsMode};
pub use sink::{DEFAULT_RETENTION_DAYS, PgSink, PgSinkConfig};

/// The events table, as problems and heads name it.
pub(crate) const TABLE: &str = "warden_audit_events";

/// Why the database could not be used. The message names the database without its password,
/// and never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PgError(pub String);

impl PgError {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// `context`, then the server's message (or the client's, when the server sent none).
    pub fn db(context: &str, error: &postgres::Error) -> Self {
        match error.as_db_error() {
            Some(db) => Self(format!(
                "{context}: {} ({})",
                db.message(),
                db.code().code()
            )),
            None => Self(format!("{context}: {}", with_causes(error))),
        }
    }
}

/// `error` and its causes, `: `-separated (the client's errors keep the TLS reason in a cause).
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    // Bounded: a cycle of causes would be a bug elsewhere, not a reason to hang.
    for _ in 0..8 {
        let Some(next) = cause else { break };
        let more = next.to_string();
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = next.source();
    }
    text
}

impl From<PgError> for warden_audit::SinkError {
    fn from(error: PgError) -> Self {
        Self::new(error.0)
    }
}

/// The columns copied from a line for searching. Computed from the line itself, by the sink
/// when it writes and by `verify` when it checks that the columns still match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    /// `time`, as in the line.
    pub time: String,
    /// `kind`.
    pub kind: String,
    /// `key_id`.
    pub key_id: Option<String>,
    /// `key_name`.
    pub key_name: Option<String>,
    /// `profile`.
    pub profile: Option<String>,
    /// `tool`.
    pub tool: Option<String>,
    /// `method`.
    pub method: Option<String>,
    /// `model`.
    pub model: Option<String>,
    /// `outcome.status`.
    pub outcome: Option<String>,
    /// `decision.verdict`.
    pub decision: Option<String>,
    /// `record_ids`.
    pub record_ids: Vec<i64>,
}

impl Columns {
    /// The columns of `line` (a JSON object), `None` when it is not one.
    pub fn of_line(line: &str) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        let object = value.as_object()?;
        let text = |name: &str| object.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let inner = |outer: &str, name: &str| {
            object
                .get(outer)
                .and_then(|v| v.get(name))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        Some(Self {
            time: text("time")?,
            kind: text("kind")?,
            key_id: text("key_id"),
            key_name: text("key_name"),
            profile: text("profile"),
            tool: text("tool"),
            method: text("method"),
            model: text("model"),
            outcome: inner("outcome", "status"),
            decision: inner("decision", "verdict"),
            record_ids: object
                .get("record_ids")
                .and_then(|v| v.as_array())
                .map(|ids| ids.iter().filter_map(serde_json::Value::as_i64).collect())
                .unwrap_or_default(),
        })
    }
}

/// The advisory lock key of `stream`: the first 8 bytes of a SHA-256 of its name.
pub(crate) fn stream_lock_key(stream: &str) -> i64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("odoo-warden audit stream\n{stream}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// Run `work` on a thread of its own and wait for it: the synchronous client must not run on a
/// thread inside an asynchronous runtime (the gateway's setup, tests).
pub(crate) fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(work)
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}
