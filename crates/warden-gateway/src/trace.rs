//! What the engine learns about one request while serving it, turned into its audit event at
//! the end: who, what (tool, model, Odoo method, field names, record ids), the decision and the
//! rule behind it, the outcome, latency, result size. Never a secret; values only when the
//! key's profile turned value logging on.

use std::time::{Instant, SystemTime};

use serde_json::{Map, Value};
use warden_audit::{AuditEvent, Decision, Latency, Outcome};
use warden_odoo::timing::OdooTime;
use warden_policy::Principal;

use crate::catalog::{Operation, ParsedCall, ToolError, ToolOutcome};

/// The audit facts of one request, filled in as it is served.
pub(crate) struct Trace {
    pub(crate) started: Instant,
    event: AuditEvent,
    /// Whether the key's profile records values.
    values: bool,
    ids_from_call: bool,
}

fn operation_name(operation: Operation) -> &'static str {
    match operation {
        Operation::Read => "read",
        Operation::Metadata => "metadata",
        Operation::Create => "create",
        Operation::Write => "write",
        Operation::Unlink => "delete",
        Operation::Call => "call",
        Operation::Link => "link",
    }
}

impl Trace {
    /// A request of `method` with JSON-RPC id `request_id` (as JSON text), from `key_id` over
    /// `transport` from `client_ip`.
    pub(crate) fn new(
        method: &str,
        request_id: Option<String>,
        key_id: &str,
        transport: &str,
        client_ip: Option<std::net::IpAddr>,
    ) -> Self {
        let at = SystemTime::now();
        let mut event = AuditEvent::request(at, method);
        event.request_id = request_id;
        event.key_id = Some(key_id.to_owned());
        event.transport = Some(transport.to_owned());
        event.client_ip = client_ip.map(|ip| ip.to_string());
        Self {
            started: Instant::now(),
            event,
            values: false,
            ids_from_call: false,
        }
    }

    pub(crate) fn principal(&mut self, principal: &Principal, odoo_user: Option<&str>) {
        self.event.key_name = Some(principal.key_name.clone());
        self.event.profile = Some(principal.profile.name().to_owned());
        self.event.odoo_user = odoo_user.map(str::to_owned);
        self.values = principal.profile.audit_values();
    }

    /// The key's name and profile, for a request refused before its principal was resolved.
    pub(crate) fn named(&mut self, key_name: String, profile: String) {
        self.event.key_name = Some(key_name);
        self.event.profile = Some(profile);
    }

    pub(crate) fn protocol(&mut self, version: &str) {
        self.event.protocol = Some(version.to_owned());
    }

    pub(crate) fn deny(&mut self, rule: &str, reason: &str) {
        self.event.decision = Some(Decision::deny(rule, reason));
        self.event.outcome = Some(Outcome::error(reason));
    }

    pub(crate) fn error(&mut self, kind: &str) {
        self.event.outcome = Some(Outcome::error(kind));
    }

    fn failed(&self) -> bool {
        self.event.error_kind().is_some()
    }

    pub(crate) fn tool(&mut self, name: &str, arguments: &Map<String, Value>) {
        self.event.tool = Some(name.to_owned());
        if let Some(model) = arguments.get("model").and_then(Value::as_str) {
            self.event.model = Some(model.chars().take(128).collect());
        }
        if self.values {
            self.event.arguments = Some(Value::Object(arguments.clone()));
        }
    }

    pub(crate) fn uri(&mut self, uri: &str) {
        self.event.uri = Some(uri.chars().take(512).collect());
        if let Some(rest) = uri.strip_prefix("odoo://") {
            let model = rest.split('/').next().unwrap_or_default();
            if !model.is_empty() {
                self.event.model = Some(model.chars().take(128).collect());
            }
            if let Some(id) = rest.split('/').nth(1).and_then(|id| id.parse::<i64>().ok()) {
                self.event.set_record_ids([id]);
                self.ids_from_call = true;
            }
        }
    }

    pub(crate) fn call(&mut self, call: &ParsedCall) {
        self.event.model = call.model().map(str::to_owned);
        self.event.odoo_method = Some(call.odoo_method().to_owned());
        self.event.operation = Some(operation_name(call.operation()).to_owned());
        self.event.fields_requested =
            AuditEvent::field_list(call.fields_read().iter().map(String::as_str));
        self.event.fields_written =
            AuditEvent::field_list(call.fields_written().iter().map(String::as_str));
        self.event.fields_filtered = AuditEvent::field_list(
            call.domain_fields()
                .iter()
                .chain(call.order_fields())
                .chain(call.group_by_fields())
                .map(String::as_str),
        );
        if !call.ids().is_empty() {
            self.event.set_record_ids(call.ids().iter().copied());
            self.ids_from_call = true;
        }
    }

    /// The tool's outcome: its error kind, or what it returned.
    pub(crate) fn outcome(&mut self, outcome: &ToolOutcome) {
        let structured = match &outcome.result {
            Ok(structured) => structured,
            // A name the key's rules hide: the caller is told it is unknown, the log that a
            // rule denied it.
            Err(ToolError {
                rule: Some(rule), ..
            }) => {
                self.deny(rule, "forbidden");
                return;
            }
            Err(error) => {
                if !self.failed() {
                    self.error(&error.kind);
                }
                return;
            }
        };
        if let Some(count) = structured.get("count").and_then(Value::as_u64) {
            self.event.result_count = Some(count);
        }
        let rows = ["records", "groups", "matches"]
            .iter()
            .find_map(|key| structured.get(*key).and_then(Value::as_array));
        if let Some(rows) = rows {
            let mut names: Vec<&str> = Vec::new();
            for row in rows.iter().filter_map(Value::as_object) {
                for key in row.keys() {
                    if !names.contains(&key.as_str()) {
                        names.push(key);
                    }
                }
            }
            self.event.fields_returned = AuditEvent::field_list(names);
            if !self.ids_from_call {
                let ids: Vec<i64> = rows
                    .iter()
                    .filter_map(|row| row.get("id").and_then(Value::as_i64))
                    .collect();
                if !ids.is_empty() {
                    self.event.set_record_ids(ids);
                }
            }
        } else if !self.ids_from_call
            && let Some(ids) = structured.get("ids").and_then(Value::as_array)
        {
            self.event
                .set_record_ids(ids.iter().filter_map(Value::as_i64));
        }
    }

    /// The size of what the client is sent, in bytes of JSON.
    pub(crate) fn result_bytes(&mut self, result: &Value) {
        let mut counter = Counter(0);
        if serde_json::to_writer(&mut counter, result).is_ok() {
            self.event.result_bytes = Some(counter.0);
        }
    }

    /// The event, with the request's latency.
    pub(crate) fn finish(mut self, odoo: OdooTime) -> AuditEvent {
        self.event.latency = Some(Latency::new(self.started.elapsed(), odoo.total, odoo.calls));
        self.event
    }
}

/// Counts bytes written.
struct Counter(u64);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The audit error kind of a JSON-RPC error code.
pub(crate) fn rpc_error_kind(code: i32) -> &'static str {
    match code {
        crate::engine::FORBIDDEN => "forbidden",
        crate::engine::RATE_LIMITED => "rate_limited",
        crate::engine::AUDIT_UNAVAILABLE => "audit_unavailable",
        warden_mcp::error_code::INVALID_PARAMS => "invalid_params",
        warden_mcp::error_code::METHOD_NOT_FOUND => "method_not_found",
        warden_mcp::error_code::INVALID_REQUEST => "invalid_request",
        warden_mcp::error_code::PARSE_ERROR => "parse_error",
        warden_mcp::error_code::RESOURCE_NOT_FOUND => "resource_not_found",
        warden_mcp::error_code::UNSUPPORTED_PROTOCOL_VERSION => "unsupported_protocol_version",
        _ => "internal_error",
    }
}
