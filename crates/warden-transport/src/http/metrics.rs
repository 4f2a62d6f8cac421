//! Prometheus metrics, counted from the audit events themselves (a sink of the audit pipeline
//! that never blocks), so the numbers and the log cannot disagree: requests by method and
//! outcome, decisions, denials by reason, Odoo latency, and the audit queues.
//!
//! Label values come from bounded sets (known MCP methods, the gateway's own outcome kinds), so a
//! client cannot grow the metrics with names of its own.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use warden_audit::{AuditEvent, Auditor, EventKind, Sink, SinkError, Verdict};

/// Upper bounds of the latency histograms, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// MCP methods counted by name; anything else is `other`.
const METHODS: &[&str] = &[
    "initialize",
    "ping",
    "server/discover",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "authenticate",
    "invalid",
];

fn bounded(value: &str, allowed: &[&str]) -> String {
    if allowed.contains(&value) {
        value.to_owned()
    } else {
        "other".to_owned()
    }
}

/// An outcome kind: the gateway's own vocabulary (lowercase letters and `_`), else `other`.
fn kind(value: &str) -> String {
    if !value.is_empty()
        && value.len() <= 40
        && value.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    {
        value.to_owned()
    } else {
        "other".to_owned()
    }
}

#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bound, count) in BUCKETS.iter().zip(self.buckets.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str) {
        for (bound, count) in BUCKETS.iter().zip(self.buckets.iter()) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum {}", self.sum);
        let _ = writeln!(out, "{name}_count {}", self.count);
    }
}

#[derive(Default)]
struct Counters {
    requests: BTreeMap<(String, String), u64>,
    decisions: BTreeMap<&'static str, u64>,
    denials: BTreeMap<String, u64>,
    alerts: BTreeMap<String, u64>,
    odoo: Histogram,
    total: Histogram,
}

/// The metrics: a sink to add to the audit pipeline, and the text `/metrics` serves.
#[derive(Clone, Default)]
pub struct Metrics {
    counters: Arc<Mutex<Counters>>,
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Self {
        Self::default()
    }

    /// The sink that counts.
    pub fn sink(&self) -> MetricsSink {
        MetricsSink {
            counters: Arc::clone(&self.counters),
        }
    }

    /// The Prometheus text exposition, with the audit queues of `auditor` (if there is one)
    /// and `sessions` open.
    pub fn render(&self, auditor: Option<&Auditor>, sessions: usize) -> String {
        self.render_with(auditor, sessions, None)
    }

    /// [`Metrics::render`], with the shared state's status when the server belongs to a fleet:
    /// `warden_shared_state_up` (whether the shared store answered its last call) and
    /// `warden_shared_state_fallbacks_total` (rate decisions taken in this process because it
    /// did not).
    pub fn render_with(
        &self,
        auditor: Option<&Auditor>,
        sessions: usize,
        shared: Option<warden_gateway::shared::SharedStatus>,
    ) -> String {
        let counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP warden_requests_total Requests by MCP method and outcome.\n");
        out.push_str("# TYPE warden_requests_total counter\n");
        for ((method, outcome), n) in &counters.requests {
            let _ = writeln!(
                out,
                "warden_requests_total{{method=\"{method}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        out.push_str("# HELP warden_decisions_total Requests allowed and denied by the policy.\n");
        out.push_str("# TYPE warden_decisions_total counter\n");
        for (verdict, n) in &counters.decisions {
            let _ = writeln!(out, "warden_decisions_total{{verdict=\"{verdict}\"}} {n}");
        }
        out.push_str("# HELP warden_denials_total Denied requests by reason.\n");
        out.push_str("# TYPE warden_denials_total counter\n");
        for (reason, n) in &counters.denials {
            let _ = writeln!(out, "warden_denials_total{{reason=\"{reason}\"}} {n}");
        }
        out.push_str("# HELP warden_alerts_total Alerts raised, by name.\n");
        out.push_str("# TYPE warden_alerts_total counter\n");
        for (name, n) in &counters.alerts {
            let _ = writeln!(out, "warden_alerts_total{{name=\"{name}\"}} {n}");
        }
        out.push_str("# HELP warden_odoo_latency_seconds Time requests waited for Odoo.\n");
        out.push_str("# TYPE warden_odoo_latency_seconds histogram\n");
        counters
            .odoo
            .render(&mut out, "warden_odoo_latency_seconds");
        out.push_str(
            "# HELP warden_request_latency_seconds Time from a request's arrival to its answer.\n",
        );
        out.push_str("# TYPE warden_request_latency_seconds histogram\n");
        counters
            .total
            .render(&mut out, "warden_request_latency_seconds");
        drop(counters);
        out.push_str("# HELP warden_audit_queue_depth Events waiting for each audit sink.\n");
        out.push_str("# TYPE warden_audit_queue_depth gauge\n");
        let stats = auditor.map(Auditor::stats).unwrap_or_default();
        for s in &stats {
            let _ = writeln!(
                out,
                "warden_audit_queue_depth{{sink=\"{}\"}} {}",
                kind_or(&s.name),
                s.queued
            );
        }
        out.push_str("# HELP warden_audit_dropped_total Events each audit sink lost (each reported by a gap event).\n");
        out.push_str("# TYPE warden_audit_dropped_total counter\n");
        for s in &stats {
            let _ = writeln!(
                out,
                "warden_audit_dropped_total{{sink=\"{}\"}} {}",
                kind_or(&s.name),
                s.dropped
            );
        }
        out.push_str("# HELP warden_audit_failing Whether each audit sink's last write failed.\n");
        out.push_str("# TYPE warden_audit_failing gauge\n");
        for s in &stats {
            let _ = writeln!(
                out,
                "warden_audit_failing{{sink=\"{}\"}} {}",
                kind_or(&s.name),
                u8::from(s.failing)
            );
        }
        out.push_str("# HELP warden_http_sessions Legacy MCP sessions open.\n");
        out.push_str("# TYPE warden_http_sessions gauge\n");
        let _ = writeln!(out, "warden_http_sessions {sessions}");
        if let Some(shared) = shared {
            out.push_str("# HELP warden_shared_state_up Whether the shared state store (Redis) answered its last call.\n");
            out.push_str("# TYPE warden_shared_state_up gauge\n");
            let _ = writeln!(out, "warden_shared_state_up {}", u8::from(shared.up));
            out.push_str("# HELP warden_shared_state_fallbacks_total Rate decisions taken by this process's own limiter because the shared store did not answer.\n");
            out.push_str("# TYPE warden_shared_state_fallbacks_total counter\n");
            let _ = writeln!(
                out,
                "warden_shared_state_fallbacks_total {}",
                shared.fallbacks
            );
        }
        out
    }
}

fn kind_or(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .take(40)
        .collect()
}

/// The audit sink of [`Metrics`].
pub struct MetricsSink {
    counters: Arc<Mutex<Counters>>,
}

impl Sink for MetricsSink {
    fn name(&self) -> &str {
        "metrics"
    }

    fn write(&mut self, events: &[Arc<AuditEvent>]) -> Result<(), SinkError> {
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        for event in events {
            match event.kind {
                EventKind::Request => {}
                EventKind::Alert => {
                    if let Some(alert) = &event.alert {
                        *counters.alerts.entry(kind(&alert.name)).or_default() += 1;
                    }
                    continue;
                }
                _ => continue,
            }
            let method = bounded(event.method.as_deref().unwrap_or(""), METHODS);
            let outcome = event.error_kind().map_or_else(|| "ok".to_owned(), kind);
            *counters
                .requests
                .entry((method, outcome.clone()))
                .or_default() += 1;
            let denied = event
                .decision
                .as_ref()
                .is_some_and(|d| d.verdict == Verdict::Deny);
            *counters
                .decisions
                .entry(if denied { "deny" } else { "allow" })
                .or_default() += 1;
            if denied {
                *counters.denials.entry(outcome).or_default() += 1;
            }
            if let Some(latency) = &event.latency {
                counters.total.observe(latency.total_ms / 1000.0);
                if latency.odoo_ms > 0.0 {
                    counters.odoo.observe(latency.odoo_ms / 1000.0);
                }
            }
        }
        Ok(())
    }
}
