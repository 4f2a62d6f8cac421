//! The audit event: one per request (allowed or denied), per alert, and per gap in the record.
//!
//! The schema is versioned ([`SCHEMA_VERSION`], the `v` member) and documented in
//! `docs/audit.md`. Adding an optional member keeps the version; renaming, removing or changing
//! the meaning of one bumps it. Members that have no value are left out of the JSON.
//!
//! An event never holds a secret. It holds field *names*, never field values, unless the
//! profile of the key turned value logging on ([`AuditEvent::arguments`]).

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::checkpoint::Checkpoint;

/// The version of the event schema written by this crate.
pub const SCHEMA_VERSION: u32 = 1;

/// Most record ids listed in one event; [`AuditEvent::record_count`] has the full count.
pub const MAX_RECORD_IDS: usize = 100;

/// Most field names listed in each field list of one event.
pub const MAX_FIELDS: usize = 200;

/// What an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// One request, allowed or denied.
    Request,
    /// Something that looks wrong (see [`Alert`]).
    Alert,
    /// Events that a sink could not record (see [`Gap`]).
    Gap,
    /// How far the audit files' chain reached, signed (see [`Checkpoint`]): made by the file
    /// sink for the other sinks.
    Checkpoint,
}

/// Allowed or denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The request was served.
    Allow,
    /// The request was refused by a rule (key, network, rate limit, policy, confirmation).
    Deny,
}

/// The decision on a request and the rule behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Allowed or denied.
    pub verdict: Verdict,
    /// The rule that decided, as `policy explain` names it (e.g. `profile sales: models.deny
    /// hr.*`), when a rule decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Why, in a few words (e.g. `rate_limited`, `forbidden`, `invalid key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Decision {
    /// An allowed request.
    pub fn allow() -> Self {
        Self {
            verdict: Verdict::Allow,
            rule: None,
            reason: None,
        }
    }

    /// A denied request: the rule that refused it and why.
    pub fn deny(rule: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Deny,
            rule: Some(rule.into()).filter(|r: &String| !r.is_empty()),
            reason: Some(reason.into()),
        }
    }
}

/// How the request ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// `ok` or `error`.
    pub status: OutcomeStatus,
    /// For an error, its kind: an Odoo error kind (`access_error`, `validation`, `timeout`,
    /// `unreachable`...), `invalid_arguments`, `forbidden`, `rate_limited`, `protocol`,
    /// `cancelled`, `audit_unavailable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Outcome {
    /// A request that succeeded.
    pub fn ok() -> Self {
        Self {
            status: OutcomeStatus::Ok,
            error: None,
        }
    }

    /// A request that failed with an error of kind `kind`.
    pub fn error(kind: impl Into<String>) -> Self {
        Self {
            status: OutcomeStatus::Error,
            error: Some(kind.into()),
        }
    }
}

/// `ok` or `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStatus {
    /// Served without error.
    Ok,
    /// Failed.
    Error,
}

/// Time spent on the request.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Latency {
    /// From the message's arrival to its answer, in milliseconds.
    pub total_ms: f64,
    /// Waiting for Odoo (every round trip of the request), in milliseconds.
    pub odoo_ms: f64,
    /// Round trips to Odoo the request made (0: it never reached Odoo, e.g. refused before).
    #[serde(default)]
    pub odoo_calls: u32,
}

impl Latency {
    /// From durations and the number of Odoo round trips.
    pub fn new(total: Duration, odoo: Duration, odoo_calls: u32) -> Self {
        Self {
            total_ms: millis(total),
            odoo_ms: millis(odoo),
            odoo_calls,
        }
    }
}

fn millis(duration: Duration) -> f64 {
    // Three decimals (microseconds) are plenty and keep the line short.
    (duration.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// An alert: a pattern of requests that an operator should look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// `denied_burst`, `failed_auth_burst`, `rate_limited_burst`, `new_ip` or `off_hours`.
    pub name: String,
    /// One line for a person.
    pub message: String,
    /// How many events made the alert (within `window_s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The window the events were counted in, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_s: Option<u64>,
}

/// Events a sink could not record, written by that sink as soon as it can write again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// The sink that lost them.
    pub sink: String,
    /// How many events were lost.
    pub dropped: u64,
    /// When the first of them was dropped (RFC 3339).
    pub since: String,
    /// Why (`queue full`, `write failed: ...`).
    pub reason: String,
}

/// One audit event. Build one with [`AuditEvent::request`], [`AuditEvent::alert`] or
/// [`AuditEvent::gap`], then set the members that apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditEvent {
    /// The schema version ([`SCHEMA_VERSION`]).
    pub v: u32,
    /// What the event records.
    pub kind: EventKind,
    /// A time-ordered unique id (UUIDv7).
    pub id: String,
    /// When, in UTC, RFC 3339 with microseconds.
    pub time: String,
    /// The JSON-RPC id of the request (as JSON text), when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The key's id (never its secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The key's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    /// The key's profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The Odoo user the request ran as (its login).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub odoo_user: Option<String>,
    /// The client's address (none over stdio).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// `stdio` or `http`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
    /// The MCP protocol revision the request was served in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// The MCP method (`tools/call`, `resources/read`, `initialize`...), or `authenticate` for
    /// a key presented to the gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The tool, for `tools/call`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The resource URI, for `resources/read`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// The Odoo model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The Odoo method called (`search_read`, `write`, a public method...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub odoo_method: Option<String>,
    /// The operation class: `read`, `metadata`, `create`, `write`, `delete` or `call`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// The field names the request asked to read (at most [`MAX_FIELDS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields_requested: Vec<String>,
    /// The field names it set (create, update).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields_written: Vec<String>,
    /// The field paths its domain, order and grouping used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields_filtered: Vec<String>,
    /// The field names present in the result.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields_returned: Vec<String>,
    /// The record ids named or returned (at most [`MAX_RECORD_IDS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub record_ids: Vec<i64>,
    /// How many records were named or returned (the full count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_count: Option<u64>,
    /// The decision (requests only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// How the request ended (requests only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// Time spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
    /// Rows or items in the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_count: Option<u64>,
    /// Bytes of the JSON result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_bytes: Option<u64>,
    /// The tool's arguments, values included: only when the key's profile turned value logging
    /// on (`audit_values = true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
    /// The alert (alerts only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<Alert>,
    /// The gap (gaps only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap: Option<Gap>,
    /// The checkpoint (checkpoints only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
}

impl AuditEvent {
    fn new(kind: EventKind, at: SystemTime) -> Self {
        Self {
            v: SCHEMA_VERSION,
            kind,
            id: new_id(at),
            time: format_time(at),
            request_id: None,
            key_id: None,
            key_name: None,
            profile: None,
            odoo_user: None,
            client_ip: None,
            transport: None,
            protocol: None,
            method: None,
            tool: None,
            uri: None,
            model: None,
            odoo_method: None,
            operation: None,
            fields_requested: Vec::new(),
            fields_written: Vec::new(),
            fields_filtered: Vec::new(),
            fields_returned: Vec::new(),
            record_ids: Vec::new(),
            record_count: None,
            decision: None,
            outcome: None,
            latency: None,
            result_count: None,
            result_bytes: None,
            arguments: None,
            alert: None,
            gap: None,
            checkpoint: None,
        }
    }

    /// A request event at `at`, for MCP method `method`, allowed and successful until said
    /// otherwise.
    pub fn request(at: SystemTime, method: impl Into<String>) -> Self {
        let mut event = Self::new(EventKind::Request, at);
        event.method = Some(method.into());
        event.decision = Some(Decision::allow());
        event.outcome = Some(Outcome::ok());
        event
    }

    /// An alert event at `at`.
    pub fn alert(at: SystemTime, alert: Alert) -> Self {
        let mut event = Self::new(EventKind::Alert, at);
        event.alert = Some(alert);
        event
    }

    /// A gap event at `at`.
    pub fn gap(at: SystemTime, gap: Gap) -> Self {
        let mut event = Self::new(EventKind::Gap, at);
        event.gap = Some(gap);
        event
    }

    /// A checkpoint event at `at`.
    pub fn checkpoint(at: SystemTime, checkpoint: Checkpoint) -> Self {
        let mut event = Self::new(EventKind::Checkpoint, at);
        event.checkpoint = Some(checkpoint);
        event
    }

    /// Set the record ids: the first [`MAX_RECORD_IDS`] are listed, all are counted.
    pub fn set_record_ids(&mut self, ids: impl IntoIterator<Item = i64>) {
        let mut count = 0u64;
        self.record_ids.clear();
        for id in ids {
            if self.record_ids.len() < MAX_RECORD_IDS {
                self.record_ids.push(id);
            }
            count += 1;
        }
        self.record_count = Some(count);
    }

    /// A field list capped at [`MAX_FIELDS`], duplicates removed, order kept.
    pub fn field_list<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for name in names {
            if out.len() >= MAX_FIELDS {
                break;
            }
            if !out.iter().any(|known| known == name) {
                out.push(name.to_owned());
            }
        }
        out
    }

    /// Whether the request was denied.
    pub fn denied(&self) -> bool {
        self.decision
            .as_ref()
            .is_some_and(|d| d.verdict == Verdict::Deny)
    }

    /// The outcome's error kind, if the request failed.
    pub fn error_kind(&self) -> Option<&str> {
        self.outcome.as_ref().and_then(|o| o.error.as_deref())
    }

    /// The event's time, parsed back (`None` if the event came from elsewhere malformed).
    pub fn timestamp(&self) -> Option<SystemTime> {
        humantime::parse_rfc3339(&self.time).ok()
    }
}

/// RFC 3339 in UTC with microseconds, e.g. `2026-12-01T05:40:56.123456Z`.
pub fn format_time(at: SystemTime) -> String {
    humantime::format_rfc3339_micros(at).to_string()
}

/// A UUIDv7 for an event at `at`: ids sort by time (to the millisecond), the rest is random.
pub fn new_id(at: SystemTime) -> String {
    let millis = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let random: [u8; 10] = rand::random();
    uuid::Builder::from_unix_timestamp_millis(millis, &random)
        .into_uuid()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_ids_are_capped_but_counted() {
        let mut event = AuditEvent::request(SystemTime::now(), "tools/call");
        event.set_record_ids(1..=250);
        assert_eq!(event.record_ids.len(), MAX_RECORD_IDS);
        assert_eq!(event.record_count, Some(250));
    }

    #[test]
    fn ids_sort_by_time() {
        let early = AuditEvent::request(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000), "a");
        let late = AuditEvent::request(SystemTime::UNIX_EPOCH + Duration::from_secs(2_000), "a");
        assert!(early.id < late.id);
        assert_ne!(early.id, late.id);
    }

    #[test]
    fn empty_members_are_left_out_and_time_is_utc_micros() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_micros(1_780_000_000_123_456);
        let event = AuditEvent::request(at, "ping");
        let json = serde_json::to_value(&event).expect("json");
        assert_eq!(json["time"], "2026-05-28T20:26:40.123456Z");
        assert!(json.get("tool").is_none());
        assert!(json.get("record_ids").is_none());
        assert_eq!(json["decision"]["verdict"], "allow");
        let back: AuditEvent = serde_json::from_value(json).expect("parse");
        assert_eq!(back, event);
    }

    #[test]
    fn field_lists_drop_duplicates() {
        assert_eq!(
            AuditEvent::field_list(["name", "email", "name"]),
            vec!["name".to_owned(), "email".to_owned()]
        );
    }
}
