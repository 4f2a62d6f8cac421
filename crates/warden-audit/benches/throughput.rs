//! Sustained audit throughput on the real file system, and search and verify over a million
//! events.
//!
//! Run with: `cargo bench -p warden-audit --bench throughput` (release build). Bounded: fixed
//! event counts (`WARDEN_BENCH_EVENTS` scales the sink series, default 5,000 / 50,000) and a
//! 300 s deadline. Series:
//! - `fsync per event`: one producer awaiting each event (what a request waits for under the
//!   default `block` policy with `durability = "every_event"`): events per second and the
//!   per-event wait, median and p99;
//! - `group commit N ms`: 64 concurrent producers awaiting their events: events per second and
//!   the per-event wait;
//! - `search` and `verify` over 1,000,000 request events in 64 MiB files.

#![allow(missing_docs, clippy::print_stdout)] // a benchmark binary reports on stdout

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use warden_audit::search::{Filter, OutcomeFilter, files_to_search, search_files};
use warden_audit::verify::{VerifyOptions, verify_dir};
use warden_audit::{
    AuditEvent, Auditor, Decision, Durability, FailurePolicy, JsonlConfig, JsonlSink, Latency,
    Sink, SinkOptions,
};

const DEADLINE: Duration = Duration::from_secs(300);

fn event(n: u64) -> AuditEvent {
    let mut event = AuditEvent::request(SystemTime::now(), "tools/call");
    event.request_id = Some(n.to_string());
    event.key_id = Some(format!("k_{:012x}", n % 50));
    event.key_name = Some(format!("agent-{}", n % 50));
    event.profile = Some("sales".to_owned());
    event.odoo_user = Some("sales_agent".to_owned());
    event.client_ip = Some(format!("10.0.{}.{}", n % 7, n % 200));
    event.transport = Some("http".to_owned());
    event.protocol = Some("2026-07-28".to_owned());
    event.tool =
        Some(["search_records", "read_records", "count_records"][(n % 3) as usize].to_owned());
    event.model = Some(["res.partner", "sale.order", "account.move"][(n % 3) as usize].to_owned());
    event.odoo_method = Some("search_read".to_owned());
    event.operation = Some("read".to_owned());
    event.fields_requested = vec!["name".into(), "phone".into(), "country_id".into()];
    event.fields_returned = vec![
        "id".into(),
        "name".into(),
        "phone".into(),
        "country_id".into(),
    ];
    event.set_record_ids((n..n + 20).map(|i| i64::try_from(i).unwrap_or(i64::MAX)));
    if n.is_multiple_of(17) {
        event.decision = Some(Decision::deny(
            "profile \"sales\": models.deny hr.*",
            "forbidden",
        ));
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

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // p is in [0, 1]: a valid index
fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1e6
}

fn report(label: &str, events: usize, elapsed: Duration, mut waits: Vec<Duration>) {
    waits.sort();
    println!(
        "{label:<22} {events:>7} events  {:>9.0} events/s  wait median {:>8.1} µs  p99 {:>8.1} µs",
        events as f64 / elapsed.as_secs_f64(),
        pct(&waits, 0.5),
        pct(&waits, 0.99)
    );
}

fn block() -> SinkOptions {
    SinkOptions {
        policy: FailurePolicy::Block {
            timeout: Duration::from_secs(30),
        },
        queue_capacity: 8192,
    }
}

async fn sequential(
    dir: &std::path::Path,
    durability: Durability,
    count: usize,
) -> (Duration, Vec<Duration>) {
    let mut config = JsonlConfig::new(dir);
    config.durability = durability;
    let auditor = Auditor::builder()
        .sink(JsonlSink::open(config).expect("open"), block())
        .build()
        .expect("auditor");
    let started = Instant::now();
    let mut waits = Vec::with_capacity(count);
    for n in 0..count as u64 {
        let e = event(n);
        let t = Instant::now();
        auditor.record(e).await.expect("recorded");
        waits.push(t.elapsed());
        assert!(started.elapsed() < DEADLINE, "deadline");
    }
    let elapsed = started.elapsed();
    auditor.shutdown(Duration::from_secs(30)).await;
    (elapsed, waits)
}

async fn concurrent(
    dir: &std::path::Path,
    durability: Durability,
    count: usize,
    producers: usize,
) -> (Duration, Vec<Duration>) {
    let mut config = JsonlConfig::new(dir);
    config.durability = durability;
    let auditor = Auditor::builder()
        .sink(JsonlSink::open(config).expect("open"), block())
        .build()
        .expect("auditor");
    let started = Instant::now();
    let per = count / producers;
    let mut tasks = Vec::new();
    for p in 0..producers {
        let auditor = auditor.clone();
        tasks.push(tokio::spawn(async move {
            let mut waits = Vec::with_capacity(per);
            for i in 0..per {
                let e = event((p * per + i) as u64);
                let t = Instant::now();
                auditor.record(e).await.expect("recorded");
                waits.push(t.elapsed());
                assert!(started.elapsed() < DEADLINE, "deadline");
            }
            waits
        }));
    }
    let mut waits = Vec::with_capacity(count);
    for task in tasks {
        waits.extend(task.await.expect("producer"));
    }
    let elapsed = started.elapsed();
    auditor.shutdown(Duration::from_secs(30)).await;
    (elapsed, waits)
}

/// Removes the bench's scratch folder however `main` ends, a failed assertion included.
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it,
    // and then a smoke run at a small scale checks that the bench still works without filling
    // the disk of a CI machine (the full run writes about 900 MiB).
    let measuring = std::env::args().any(|a| a == "--bench");
    let scale: usize = std::env::var("WARDEN_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if measuring { 5000 } else { 200 });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let base = std::env::temp_dir().join(format!("warden-audit-bench-{}", std::process::id()));
    let _scratch = Scratch(base.clone());
    let fresh = |name: &str| {
        let dir = base.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        dir
    };
    println!(
        "JSONL sink on {} (a real file system, fsync):",
        std::env::temp_dir().display()
    );
    let (elapsed, waits) =
        runtime.block_on(sequential(&fresh("every"), Durability::EveryEvent, scale));
    report("fsync per event, 1", scale, elapsed, waits);
    let (elapsed, waits) = runtime.block_on(concurrent(
        &fresh("every64"),
        Durability::EveryEvent,
        scale,
        64,
    ));
    report("fsync per event, 64", scale, elapsed, waits);
    for ms in [2u64, 5] {
        let durability = Durability::GroupCommit {
            interval: Duration::from_millis(ms),
        };
        let (elapsed, waits) = runtime.block_on(concurrent(
            &fresh(&format!("group{ms}")),
            durability,
            scale * 10,
            64,
        ));
        report(
            &format!("group commit {ms} ms, 64"),
            scale * 10,
            elapsed,
            waits,
        );
    }

    // A million events (20,000 in a smoke run), written straight through the sink in large group-committed batches.
    let many: u64 = if measuring { 1_000_000 } else { 20_000 };
    let dir = fresh("million");
    let mut config = JsonlConfig::new(&dir);
    config.durability = Durability::GroupCommit {
        interval: Duration::from_millis(5),
    };
    let mut sink = JsonlSink::open(config).expect("open");
    let started = Instant::now();
    let mut batch = Vec::with_capacity(4096);
    for n in 0..many {
        batch.push(Arc::new(event(n)));
        if batch.len() == 4096 {
            sink.write(&batch).expect("write");
            batch.clear();
        }
        assert!(started.elapsed() < DEADLINE, "deadline");
    }
    sink.write(&batch).expect("write");
    sink.close().expect("close");
    drop(sink);
    let written = started.elapsed();
    let bytes: u64 = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "wrote {many} events ({:.0} MiB) in {:.1} s",
        bytes as f64 / 1048576.0,
        written.as_secs_f64()
    );
    let mut filter = Filter::default();
    filter.key = Some("agent-7".to_owned());
    filter.outcome = Some(OutcomeFilter::Denied);
    let t = Instant::now();
    let (files, _) = files_to_search(&dir, &filter).expect("files");
    let stats = search_files(
        &files,
        &filter,
        |_, _| std::ops::ControlFlow::Continue(()),
        |_| {},
    )
    .expect("search");
    let searched = t.elapsed();
    println!(
        "search --key agent-7 --outcome denied: {} of {} lines matched in {:.2} s ({:.0} MiB/s)",
        stats.matched,
        stats.lines,
        searched.as_secs_f64(),
        stats.bytes as f64 / 1048576.0 / searched.as_secs_f64()
    );
    let mut all = Filter::default();
    all.model = Some("sale.order".to_owned());
    let t = Instant::now();
    let stats = search_files(
        &files,
        &all,
        |_, _| std::ops::ControlFlow::Continue(()),
        |_| {},
    )
    .expect("search");
    println!(
        "search --model sale.order: {} matched in {:.2} s",
        stats.matched,
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let report = verify_dir(&dir, &VerifyOptions::default()).expect("verify");
    assert!(report.ok(), "{report:?}");
    println!(
        "verify: {} events in {} files in {:.2} s",
        report.events(),
        report.streams[0].files,
        t.elapsed().as_secs_f64()
    );
}
