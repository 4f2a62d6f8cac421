//! [`CsvSink`] plugged into an [`Auditor`] beside the hash-chained JSONL files: records two
//! requests, shuts the pipeline down (which flushes and closes both sinks) and prints the CSV.
//!
//! Run with `cargo run -p custom-audit-sink -- [DIR]` (default `audit-demo`): the JSONL files go
//! to `DIR/audit` (`odoo-warden audit verify DIR/audit` checks them), the CSV to
//! `DIR/audit.csv`.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use custom_audit_sink::CsvSink;
use warden_audit::{AuditEvent, Auditor, Decision, JsonlConfig, JsonlSink, Outcome, SinkOptions};

#[tokio::main]
async fn main() -> Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "audit-demo".to_owned()),
    );
    let csv = dir.join("audit.csv");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;

    let auditor = Auditor::builder()
        // The record: fail closed (a request whose event is not written within 2 s fails).
        .sink(
            JsonlSink::open(JsonlConfig::new(dir.join("audit")))?,
            SinkOptions::default(),
        )
        // The spreadsheet copy: never holds a request up.
        .sink(CsvSink::new(&csv), CsvSink::OPTIONS)
        .build()?;

    let mut read = AuditEvent::request(SystemTime::now(), "tools/call");
    read.key_id = Some("k_3f9a0c1e5b7d".to_owned());
    read.key_name = Some("claude-alice".to_owned());
    read.profile = Some("sales".to_owned());
    read.tool = Some("search_records".to_owned());
    read.model = Some("res.partner".to_owned());
    read.operation = Some("read".to_owned());
    read.set_record_ids([7, 9, 12]);
    auditor.record(read).await?;

    let mut denied = AuditEvent::request(SystemTime::now(), "tools/call");
    denied.key_id = Some("k_3f9a0c1e5b7d".to_owned());
    denied.key_name = Some("claude-alice".to_owned());
    denied.profile = Some("sales".to_owned());
    denied.tool = Some("read_records".to_owned());
    denied.model = Some("hr.employee".to_owned());
    denied.operation = Some("read".to_owned());
    denied.decision = Some(Decision::deny(
        "profile \"sales\": no applicable models.allow entry matches",
        "forbidden",
    ));
    denied.outcome = Some(Outcome::error("forbidden"));
    auditor.record(denied).await?;

    if !auditor.shutdown(Duration::from_secs(5)).await {
        bail!("the audit sinks did not close in time");
    }
    let text =
        std::fs::read_to_string(&csv).with_context(|| format!("cannot read {}", csv.display()))?;
    let mut stdout = std::io::stdout().lock();
    write!(stdout, "{}:\n{text}", csv.display())?;
    stdout.flush()?;
    Ok(())
}
