//! `warden-audit`: odoo-warden's audit log.
//!
//! - [`AuditEvent`]: one event per request, allowed or denied, and per alert and gap; the
//!   schema is versioned ([`event::SCHEMA_VERSION`]) and documented in `docs/audit.md`.
//! - [`Sink`]: where events go; an embedding service can add its own. Shipped: JSONL files with
//!   rotation, retention and a SHA-256 hash chain ([`jsonl::JsonlSink`]), JSON lines on stdout or
//!   stderr ([`StreamSink`]), and a signed webhook ([`webhook::WebhookSink`]).
//! - [`Auditor`]: the asynchronous, bounded pipeline in front of the sinks, with a
//!   [`FailurePolicy`] per sink: fail closed (`block`) or count and report the loss (`drop`).
//! - [`alerts`]: bursts of denials, failed authentications, rate-limit hits, a key used from a new
//!   address, use outside working hours — recorded as events.
//! - [`signing`] and [`checkpoint`]: Ed25519 signatures of lines, heads and checkpoints, so the
//!   log can be checked with a public key alone; checkpoints kept outside the folder (an anchors
//!   file, the webhook) show a rollback of the whole folder.
//! - [`verify`] and [`search`]: check a folder's chains (the first broken event and why), and
//!   stream its events through a filter (by key, model, record, outcome, time...).
//! - [`report`]: a period's figures per key and profile with the chains' state, for people (a
//!   self-contained HTML page, [`report::html`]) and scripts (JSON).
//!
//! Knows nothing of MCP, Odoo or the gateway: events are plain data filled in by the caller.

pub mod alerts;
pub mod chain;
pub mod checkpoint;
pub mod event;
pub mod jsonl;
pub mod pipeline;
pub mod report;
pub mod search;
pub mod signing;
pub mod sink;
pub mod verify;
pub mod webhook;

pub use alerts::{AlertConfig, SharedWindows};
pub use checkpoint::{Anchors, Checkpoint};
pub use event::{
    Alert, AuditEvent, Decision, EventKind, Gap, Latency, Outcome, OutcomeStatus, Verdict,
};
pub use jsonl::{Durability, JsonlConfig, JsonlSink};
pub use pipeline::{AuditError, Auditor, FailurePolicy, SinkOptions, SinkStats};
pub use signing::{PublicKey, SigningKey};
pub use sink::{Batching, Sink, SinkError, Stream, StreamSink};
pub use verify::{Report, VerifyOptions, verify_dir};
pub use webhook::{WebhookConfig, WebhookSink};
