//! An audit sink of one's own: [`CsvSink`] appends one compact CSV line per event to a file a
//! compliance team opens in a spreadsheet — who (key), what (tool, model, operation, records),
//! the decision and the rule behind it, and the outcome.
//!
//! It implements [`warden_audit::Sink`] and is plugged into an [`warden_audit::Auditor`] beside
//! the hash-chained JSONL files, with its own [`warden_audit::SinkOptions`]
//! ([`CsvSink::OPTIONS`]): the JSONL files stay the record (fail closed), the CSV file is a
//! convenience copy that never holds a request up (`drop`): events it cannot write are counted,
//! and a `gap` line says how many when it writes again. `src/main.rs` shows the wiring.
//!
//! How it keeps the [`Sink`] contract:
//! - [`Sink::write`] writes the whole batch with one `write_all`; if that fails, the file is cut
//!   back to its length before the batch (nothing of a failed batch counts) and the error is
//!   returned, so the pipeline applies the sink's failure policy (retry under `block`, count
//!   and later report a gap under `drop`). The file is reopened at the next batch.
//! - `Ok` means handed to the operating system: the line survives the process, not a power cut.
//!   [`Sink::flush`] (on [`warden_audit::Auditor::flush`] and at shutdown) syncs it to disk.
//! - [`Sink::close`] syncs and lets the file go.
//!
//! Cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`) are
//! written as text (`'=…`), so an event field can never execute in the team's spreadsheet.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use warden_audit::{
    AuditEvent, Batching, EventKind, FailurePolicy, Sink, SinkError, SinkOptions, Verdict,
};

/// The first line of a new file.
pub const HEADER: &str =
    "time,key_id,key_name,profile,client_ip,tool,model,operation,records,decision,rule,outcome";

/// Appends one CSV line per event to a file.
#[derive(Debug)]
pub struct CsvSink {
    path: PathBuf,
    /// Open between batches; `None` before the first one and after a failure.
    file: Option<File>,
}

impl CsvSink {
    /// The options this sink is meant to run with: never hold a request up (`drop`: losses are
    /// counted and reported by a gap line), and room for a burst of 10,000 events.
    pub const OPTIONS: SinkOptions = SinkOptions {
        policy: FailurePolicy::Drop,
        queue_capacity: 10_000,
    };

    /// A sink appending to `path` (created 0600 with the header when missing).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            file: None,
        }
    }

    /// The file it writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open(&self) -> Result<File, SinkError> {
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options
            .open(&self.path)
            .map_err(|e| SinkError::new(format!("cannot open {}: {e}", self.path.display())))
    }
}

/// Appends `value` as one CSV cell (RFC 4180 quoting), neutralising formulas.
fn cell(out: &mut String, value: &str) {
    let formula = matches!(
        value.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r')
    );
    if formula || value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        if formula {
            out.push('\'');
        }
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// One event as a CSV line (with its newline).
pub fn line(event: &AuditEvent) -> String {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let (decision, rule, outcome) = match event.kind {
        EventKind::Request => {
            let decision = event.decision.as_ref();
            let verdict = match decision.map(|d| d.verdict) {
                Some(Verdict::Deny) => "deny",
                _ => "allow",
            };
            let rule = decision
                .and_then(|d| d.rule.clone().or_else(|| d.reason.clone()))
                .unwrap_or_default();
            let outcome = event.error_kind().unwrap_or("ok").to_owned();
            (verdict, rule, outcome)
        }
        EventKind::Alert => match &event.alert {
            Some(alert) => ("alert", alert.name.clone(), alert.message.clone()),
            None => ("alert", String::new(), String::new()),
        },
        EventKind::Gap => match &event.gap {
            Some(gap) => (
                "gap",
                format!("{}: {}", gap.sink, gap.reason),
                format!("{} event(s) lost since {}", gap.dropped, gap.since),
            ),
            None => ("gap", String::new(), String::new()),
        },
        _ => ("other", String::new(), String::new()),
    };
    let tool = event.tool.clone().or_else(|| event.method.clone());
    let records = event.record_count.map(|n| n.to_string());
    let cells = [
        event.time.clone(),
        text(&event.key_id),
        text(&event.key_name),
        text(&event.profile),
        text(&event.client_ip),
        text(&tool),
        text(&event.model),
        text(&event.operation),
        text(&records),
        decision.to_owned(),
        rule,
        outcome,
    ];
    let mut out = String::with_capacity(160);
    for (i, value) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        cell(&mut out, value);
    }
    out.push('\n');
    out
}

impl Sink for CsvSink {
    fn name(&self) -> &str {
        "csv"
    }

    fn write(&mut self, events: &[Arc<AuditEvent>]) -> Result<(), SinkError> {
        let mut file = match self.file.take() {
            Some(file) => file,
            None => self.open()?,
        };
        let before = file
            .metadata()
            .map_err(|e| SinkError::new(format!("cannot read {}: {e}", self.path.display())))?
            .len();
        let mut text = String::new();
        if before == 0 {
            text.push_str(HEADER);
            text.push('\n');
        }
        for event in events {
            text.push_str(&line(event));
        }
        if let Err(error) = file.write_all(text.as_bytes()) {
            // Nothing of a failed batch may count: cut what was written of it. The file is
            // dropped and reopened by the next attempt.
            let _ = file.set_len(before);
            return Err(SinkError::new(format!(
                "cannot write {}: {error}",
                self.path.display()
            )));
        }
        self.file = Some(file);
        Ok(())
    }

    /// Under load, one write every 200 ms gathers what arrived meanwhile; a lone event is
    /// written at once.
    fn batching(&self) -> Batching {
        Batching {
            max_events: 1000,
            max_wait: Duration::from_millis(200),
        }
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        match &self.file {
            Some(file) => file
                .sync_data()
                .map_err(|e| SinkError::new(format!("cannot sync {}: {e}", self.path.display()))),
            None => Ok(()),
        }
    }

    fn close(&mut self) -> Result<(), SinkError> {
        let synced = self.flush();
        self.file = None;
        synced
    }
}
