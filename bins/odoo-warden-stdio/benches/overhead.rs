//! The gateway's own time per tool call, over stdio, against the zero-latency simulator.
//!
//! Run with: `cargo bench -p odoo-warden-stdio --bench overhead` (release build). Two series of
//! sequential calls, same query (20 companies, 3 fields), same Odoo protocol (JSON-RPC, as the
//! gateway picks for an API key on Odoo 18):
//! - `direct`: `search_read` sent straight to the simulator with `warden-odoo`;
//! - `gateway`: `search_records` through `odoo-warden-stdio` (a separate process, its stdin and
//!   stdout as pipes): JSON-RPC decode, the key's re-validation and the policy's checks (one
//!   profile that sees every model), argument and domain validation, the Odoo call, result
//!   shaping, encode.
//!
//! Prints median, p90 and p99 of each and the difference of the medians. Bounded: a fixed number
//! of calls (`WARDEN_BENCH_CALLS`, default 2000) and a 120 s deadline.

#![allow(missing_docs, clippy::print_stdout)] // a benchmark binary reports on stdout

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use warden_odoo::{Credential, OdooClient, OdooConfig, Protocol, SearchRead, SecretString};
use warden_odoo_sim::SimOptions;
use warden_policy::config::KeyStoreFile;

const WARMUP: usize = 200;
const DEADLINE: Duration = Duration::from_secs(120);

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // p is in [0, 1]: a valid index
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn summary(name: &str, mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let median = percentile(&samples, 0.5);
    println!(
        "{name:<26} calls {:>5}  median {:>8.1} µs  p90 {:>8.1} µs  p99 {:>8.1} µs",
        samples.len(),
        median.as_secs_f64() * 1e6,
        percentile(&samples, 0.9).as_secs_f64() * 1e6,
        percentile(&samples, 0.99).as_secs_f64() * 1e6,
    );
    median
}

fn main() {
    let calls: usize = std::env::var("WARDEN_BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let sim = runtime
        .block_on(warden_odoo_sim::start(
            "127.0.0.1:0".parse().expect("addr"),
            SimOptions::default(),
        ))
        .expect("simulator");
    let key = sim.api_key("admin").expect("admin key");
    let started = Instant::now();

    // Direct: the same search_read through the Odoo client.
    let mut config = OdooConfig::new(
        sim.url().parse().expect("url"),
        sim.database(),
        "admin",
        Credential::ApiKey(SecretString::from(key.clone())),
    );
    config.protocol = Protocol::JsonRpc;
    let odoo = OdooClient::new(config).expect("client");
    let query = SearchRead {
        fields: vec!["name".into(), "email".into(), "country_id".into()],
        limit: Some(20),
        ..SearchRead::new(json!([["is_company", "=", true]]))
    };
    let mut direct = Vec::with_capacity(calls);
    for i in 0..WARMUP + calls {
        let t = Instant::now();
        let rows = runtime
            .block_on(odoo.search_read("res.partner", &query))
            .expect("search_read");
        assert!(!rows.is_empty());
        if i >= WARMUP {
            direct.push(t.elapsed());
        }
        assert!(started.elapsed() < DEADLINE, "benchmark deadline");
    }

    // Gateway: the stdio binary as an agent runs it, with the audit log off, with group
    // commit, and with an fsync per event (the default).
    let series = [
        ("no audit", "[audit]\nenabled = false\n"),
        (
            "audit, group commit 2 ms",
            "[audit]\ndurability = \"group\"\ngroup_commit_ms = 2\n",
        ),
        (
            "audit, fsync per event",
            "[audit]\ndurability = \"every_event\"\n",
        ),
    ];
    let mut gateways = Vec::new();
    for (label, audit) in series {
        let samples = gateway_series(&sim, &key, audit, calls, started);
        gateways.push((label, samples));
    }

    println!("search_read of 20 partners against the zero-latency simulator, sequential calls:");
    let d = summary("direct", direct);
    let mut medians = Vec::new();
    for (label, samples) in gateways {
        medians.push((label, summary(label, samples)));
    }
    for (label, median) in &medians {
        println!(
            "gateway overhead at the median ({label}): {:.1} µs",
            (median.as_secs_f64() - d.as_secs_f64()) * 1e6
        );
    }
    if let (Some((_, off)), true) = (medians.first(), medians.len() > 1) {
        for (label, median) in &medians[1..] {
            println!(
                "added by the audit log at the median ({label}): {:.1} µs",
                (median.as_secs_f64() - off.as_secs_f64()) * 1e6
            );
        }
    }
}

/// `calls` timed `search_records` calls through a fresh `odoo-warden-stdio` whose configuration
/// ends with `audit` (its `[audit]` section).
fn gateway_series(
    sim: &warden_odoo_sim::SimHandle,
    key: &str,
    audit: &str,
    calls: usize,
    started: Instant,
) -> Vec<Duration> {
    static RUN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let run = RUN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("warden-bench-{}-{run}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config_path = dir.join("warden.toml");
    let mut store = KeyStoreFile::default();
    let (_, secret) =
        warden_policy::keys::create(&mut store, "bench", "bench", None, SystemTime::now())
            .expect("a key");
    std::fs::write(dir.join("keys.toml"), store.to_toml()).expect("key store");
    std::fs::write(
        &config_path,
        format!(
            "[odoo]\nurl = \"{}\"\ndatabase = \"{}\"\n\n\
             [odoo.identities.main]\nlogin = \"admin\"\napi_key_env = \"ODOO_API_KEY\"\n\n\
             [keys]\nfile = \"keys.toml\"\n\n\
             [profiles.bench]\nidentity = \"main\"\nmodels = {{ allow = [\"*\"] }}\n\
             operations = {{ allow = [\"read\"] }}\n\n{audit}",
            sim.url(),
            sim.database()
        ),
    )
    .expect("config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_odoo-warden-stdio"))
        .arg("--config")
        .arg(&config_path)
        .env("ODOO_API_KEY", key)
        .env("WARDEN_KEY", &secret)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn odoo-warden-stdio");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    let mut call = |message: &Value| -> Value {
        let mut bytes = serde_json::to_vec(message).expect("encode");
        bytes.push(b'\n');
        stdin.write_all(&bytes).expect("write");
        stdin.flush().expect("flush");
        line.clear();
        stdout.read_line(&mut line).expect("read");
        serde_json::from_str(&line).expect("a JSON answer")
    };
    let init = call(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}}));
    assert!(init.get("result").is_some(), "{init}");
    let mut gateway = Vec::with_capacity(calls);
    for i in 0..WARMUP + calls {
        let request = json!({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call", "params": {
            "name": "search_records",
            "arguments": {"model": "res.partner", "domain": "[('is_company', '=', True)]",
                          "fields": ["name", "email", "country_id"], "limit": 20}}});
        let t = Instant::now();
        let answer = call(&request);
        let elapsed = t.elapsed();
        assert_eq!(answer["result"]["isError"], json!(false), "{answer}");
        if i >= WARMUP {
            gateway.push(elapsed);
        }
        assert!(started.elapsed() < DEADLINE, "benchmark deadline");
    }
    drop(stdin);
    let _ = child.wait();
    std::fs::remove_dir_all(&dir).ok();

    gateway
}
