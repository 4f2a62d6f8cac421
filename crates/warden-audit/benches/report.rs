//! The compliance report over a million events: verifying the chains, the period's figures, the
//! HTML page and the JSON form, and the memory the whole run held at most.
//!
//! Run with: `cargo bench -p warden-audit --bench report` (release build). Bounded: a fixed
//! event count (1,000,000 over 30 days; `WARDEN_BENCH_REPORT_EVENTS` changes it) and a 300 s
//! deadline. `cargo test --all-targets` runs the same binary without `--bench` as a smoke run of
//! 5,000 events (about 4 MiB, removed afterwards). `WARDEN_BENCH_KEEP=1` keeps the folder
//! (its path is printed) to time `odoo-warden audit report` on it.

#![allow(missing_docs, clippy::print_stdout)] // a benchmark binary reports on stdout

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use warden_audit::event::{Alert, Gap};
use warden_audit::jsonl::{Clock, day_of};
use warden_audit::report::{self, ReportOptions, html};
use warden_audit::verify::{VerifyOptions, verify_dir};
use warden_audit::{
    AuditEvent, Decision, Durability, JsonlConfig, JsonlSink, Latency, Outcome, Sink,
};

const DEADLINE: Duration = Duration::from_secs(300);
/// 2026-11-01T00:00:00Z: the first of the 30 days.
const START: u64 = 1_793_491_200;
const DAYS: u64 = 30;

const MODELS: [&str; 12] = [
    "res.partner",
    "sale.order",
    "sale.order.line",
    "account.move",
    "account.move.line",
    "product.product",
    "product.template",
    "stock.picking",
    "crm.lead",
    "project.task",
    "purchase.order",
    "hr.employee",
];
const PROFILES: [&str; 5] = ["sales", "accounting", "support", "reporting", "warehouse"];
const RULES: [&str; 3] = [
    "profile \"sales\": models.deny hr.*",
    "profile \"support\": model \"res.partner\": fields.read.deny phone",
    "rate_limits.per_key_per_minute",
];

/// Event `n` of `count`, at its place in the 30 days.
fn event(n: u64, count: u64) -> AuditEvent {
    let at = SystemTime::UNIX_EPOCH
        + Duration::from_secs(START)
        + Duration::from_micros(n * (DAYS * 86_400_000_000 / count));
    let key = n % 50;
    if n % 5_000 == 4_999 {
        let name = ["denied_burst", "new_ip", "off_hours"][(n / 5_000 % 3) as usize];
        let mut alert = AuditEvent::alert(
            at,
            Alert {
                name: name.to_owned(),
                message: format!("key k_{key:012x} raised {name}"),
                count: None,
                window_s: None,
            },
        );
        alert.key_id = Some(format!("k_{key:012x}"));
        alert.key_name = Some(format!("agent-{key}"));
        alert.profile = Some(PROFILES[(key % 5) as usize].to_owned());
        return alert;
    }
    if n % 400_000 == 200_000 {
        return AuditEvent::gap(
            at,
            Gap {
                sink: "webhook".to_owned(),
                dropped: 12,
                since: warden_audit::event::format_time(at),
                reason: "queue full".to_owned(),
            },
        );
    }
    let mut event = AuditEvent::request(at, "tools/call");
    event.request_id = Some(n.to_string());
    event.key_id = Some(format!("k_{key:012x}"));
    event.key_name = Some(format!("agent-{key}"));
    event.profile = Some(PROFILES[(key % 5) as usize].to_owned());
    event.odoo_user = Some("agent".to_owned());
    event.client_ip = Some(format!("10.0.{}.{}", key % 7, key));
    event.transport = Some("http".to_owned());
    event.protocol = Some("2026-07-28".to_owned());
    let model = MODELS[(n % 12) as usize];
    event.model = Some(model.to_owned());
    let write = n % 20 == 3;
    event.tool = Some(
        if write {
            "update_record"
        } else {
            "search_records"
        }
        .to_owned(),
    );
    event.odoo_method = Some(if write { "write" } else { "search_read" }.to_owned());
    event.operation = Some(if write { "write" } else { "read" }.to_owned());
    event.fields_requested = vec!["name".into(), "phone".into(), "country_id".into()];
    event.fields_returned = vec!["id".into(), "name".into(), "country_id".into()];
    let first = i64::try_from(n % 40_000).unwrap_or(0);
    if write {
        event.set_record_ids([first]);
    } else {
        event.set_record_ids(first..first + 20);
    }
    if n.is_multiple_of(17) {
        event.decision = Some(Decision::deny(RULES[(n % 3) as usize], "forbidden"));
        event.outcome = Some(Outcome::error("forbidden"));
    } else if n % 97 == 5 {
        event.outcome = Some(Outcome::error("access_error"));
    }
    event.latency = Some(Latency::new(
        Duration::from_micros(900),
        Duration::from_micros(700),
        1,
    ));
    event.result_count = Some(20);
    event.result_bytes = Some(2300);
    event
}

/// The writer's clock, set to each batch's time so files rotate by day as in production.
#[derive(Clone)]
struct Settable(Arc<Mutex<SystemTime>>);

impl Clock for Settable {
    fn now(&self) -> SystemTime {
        *self.0.lock().expect("clock")
    }
}

/// Removes the bench's scratch folder however `main` ends, unless asked to keep it.
struct Scratch(std::path::PathBuf, bool);

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.1 {
            println!("kept {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The most resident memory the process held (Linux), in MiB.
fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let count: u64 = std::env::var("WARDEN_BENCH_REPORT_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if measuring { 1_000_000 } else { 5_000 });
    let keep = std::env::var("WARDEN_BENCH_KEEP").is_ok_and(|v| v == "1");
    let dir = std::env::temp_dir().join(format!("warden-report-bench-{}", std::process::id()));
    let _scratch = Scratch(dir.clone(), keep);
    let _ = std::fs::remove_dir_all(&dir);

    // Write the events, a file per day (and per 64 MiB), in group-committed batches.
    let clock = Settable(Arc::new(Mutex::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(START),
    )));
    let mut config = JsonlConfig::new(&dir);
    config.clock = Arc::new(clock.clone());
    config.durability = Durability::GroupCommit {
        interval: Duration::from_millis(5),
    };
    let mut sink = JsonlSink::open(config).expect("open");
    let started = Instant::now();
    let mut batch: Vec<Arc<AuditEvent>> = Vec::with_capacity(4096);
    let mut batch_day = String::new();
    for n in 0..count {
        let event = event(n, count);
        let at = event.timestamp().expect("time");
        let day = day_of(at);
        if (day != batch_day || batch.len() == 4096) && !batch.is_empty() {
            sink.write(&batch).expect("write");
            batch.clear();
        }
        if batch.is_empty() {
            *clock.0.lock().expect("clock") = at;
            batch_day = day;
        }
        batch.push(Arc::new(event));
        assert!(started.elapsed() < DEADLINE, "deadline");
    }
    sink.write(&batch).expect("write");
    sink.close().expect("close");
    drop(sink);
    let bytes: u64 = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "wrote {count} events over {DAYS} days ({:.0} MiB) in {}",
        bytes as f64 / 1_048_576.0,
        secs(started.elapsed())
    );

    let since = SystemTime::UNIX_EPOCH + Duration::from_secs(START);
    let until = since + Duration::from_secs(DAYS * 86_400);
    let options = ReportOptions::new(since, until);

    let t = Instant::now();
    let chains = verify_dir(&dir, &VerifyOptions::default()).expect("verify");
    let verified = t.elapsed();
    assert!(chains.ok(), "{chains:?}");
    let t = Instant::now();
    let mut figures = report::aggregate(&dir, &options).expect("aggregate");
    let aggregated = t.elapsed();
    figures.verification = report::verification(chains, &VerifyOptions::default());
    let t = Instant::now();
    let page = html::render(&figures);
    let rendered = t.elapsed();
    let t = Instant::now();
    let json = serde_json::to_string(&figures).expect("json");
    let serialised = t.elapsed();
    assert_eq!(
        figures.totals.events, count,
        "every event falls in the period"
    );
    assert!(page.contains("data-verified=\"true\""));
    println!(
        "verify (every line parsed and hashed): {} ({:.0} events/s)",
        secs(verified),
        count as f64 / verified.as_secs_f64()
    );
    println!(
        "figures ({} requests, {} keys, {} profiles, {} days): {} ({:.0} events/s, {} lines, {} unreadable)",
        figures.totals.figures.requests,
        figures.keys.len(),
        figures.profiles.len(),
        figures.daily.len(),
        secs(aggregated),
        count as f64 / aggregated.as_secs_f64(),
        figures.scan.lines,
        figures.scan.unreadable
    );
    println!(
        "html page: {:.1} ms ({} KiB); json: {:.1} ms ({} KiB)",
        rendered.as_secs_f64() * 1e3,
        page.len() / 1024,
        serialised.as_secs_f64() * 1e3,
        json.len() / 1024
    );

    // The whole report, as `audit report --html` makes it.
    let t = Instant::now();
    let whole = report::build(&dir, &options).expect("report");
    let page = html::render(&whole);
    let total = t.elapsed();
    println!(
        "report, verify + figures + html: {} for {count} events",
        secs(total)
    );
    assert!(page.len() > 10_000);

    // A week of the month: the other days' files are not opened.
    let week = ReportOptions::new(until - Duration::from_secs(7 * 86_400), until);
    let t = Instant::now();
    let last = report::aggregate(&dir, &week).expect("aggregate a week");
    println!(
        "figures of the last 7 days: {} ({} of {} files read, {} events)",
        secs(t.elapsed()),
        last.scan.files,
        whole.scan.files,
        last.totals.events
    );
    if let Some(peak) = peak_mib() {
        println!("peak resident memory of the whole run: {peak:.0} MiB");
    }
}
