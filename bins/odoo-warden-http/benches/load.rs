//! Load on `odoo-warden-http`: throughput and latency of `search_records` calls with
//! authentication, the policy and the audit log on, at 1, 8 and 64 concurrent clients, against
//! the simulator with zero latency — beside the same query sent straight to the simulator with
//! `warden-odoo`; then the process's memory with 1,000 legacy sessions open.
//!
//! Run with: `cargo bench -p odoo-warden-http --bench load` (or `cargo xtask bench`). The load
//! generator is this program (tokio + reqwest over loopback keep-alive connections, one client
//! per task). Bounded: `WARDEN_BENCH_CALLS` calls per concurrency level (default 4,000), a 300 s
//! deadline, loopback only. Run without `--bench` (as `cargo test` does) it makes a few calls of
//! each kind only, to check that it works.

#![allow(missing_docs, clippy::print_stdout)] // a benchmark binary reports on stdout

#[path = "support/drive.rs"]
mod drive;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use warden_odoo::{Credential, OdooClient, OdooConfig, Protocol, SearchRead, SecretString};
use warden_odoo_sim::SimOptions;
use warden_policy::config::KeyStoreFile;

use drive::{drive, percentile};

const DEADLINE: Duration = Duration::from_secs(300);
const LEVELS: [usize; 3] = [1, 8, 64];

fn report(label: &str, clients: usize, elapsed: Duration, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{label:<10} {clients:>3} clients  {:>6} calls  {:>8.0} calls/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
        samples.len(),
        samples.len() as f64 / elapsed.as_secs_f64(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
    );
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

struct Gateway {
    child: Child,
    url: String,
    secret: String,
    dir: std::path::PathBuf,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_gateway(sim_url: &str, database: &str, odoo_key: &str) -> Gateway {
    let dir = std::env::temp_dir().join(format!("warden-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut store = KeyStoreFile::default();
    let (_, secret) =
        warden_policy::keys::create(&mut store, "load", "agent", None, SystemTime::now())
            .expect("key");
    std::fs::write(dir.join("keys.toml"), store.to_toml()).expect("keys");
    let config = dir.join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "[odoo]\nurl = \"{sim_url}\"\ndatabase = \"{database}\"\nprotocol = \"jsonrpc\"\n\n\
             [odoo.identities.main]\nlogin = \"admin\"\napi_key_env = \"ODOO_API_KEY\"\n\n\
             [keys]\nfile = \"keys.toml\"\n\n\
             [profiles.agent]\nidentity = \"main\"\nmodels = {{ allow = [\"res.partner\"] }}\n\
             operations = {{ allow = [\"read\"] }}\nfields = {{ read = {{ deny = [\"vat\"] }} }}\n\n\
             [audit]\ndurability = \"group\"\ngroup_commit_ms = 2\n\n\
             [http]\nbind = \"127.0.0.1:0\"\nmax_concurrent_requests = 512\n\
             max_sessions_per_key = 2000\n"
        ),
    )
    .expect("config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_odoo-warden-http"))
        .arg("--config")
        .arg(&config)
        .env("ODOO_API_KEY", odoo_key)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("odoo-warden-http");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("announcement");
    let url = line
        .trim()
        .strip_prefix("odoo-warden-http listening on ")
        .expect("the announced url")
        .to_owned();
    Gateway {
        child,
        url,
        secret,
        dir,
    }
}

fn search_body(id: u64) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "search_records",
        "arguments": {"model": "res.partner", "domain": "[('is_company', '=', True)]",
                      "fields": ["name", "email", "country_id"], "limit": 20},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                  "io.modelcontextprotocol/clientCapabilities": {}}}})
    .to_string()
}

async fn gateway_level(
    gateway: &Arc<(String, String)>,
    clients: usize,
    calls: usize,
    started: Instant,
) -> (Duration, Vec<Duration>) {
    drive(clients, calls, started, DEADLINE, || {
        let gateway = Arc::clone(gateway);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        move |id| {
            let (gateway, http) = (Arc::clone(&gateway), http.clone());
            async move {
                let response = http
                    .post(&gateway.0)
                    .bearer_auth(&gateway.1)
                    .header("content-type", "application/json")
                    .header("accept", "application/json")
                    .header("mcp-protocol-version", "2026-07-28")
                    .header("mcp-method", "tools/call")
                    .header("mcp-name", "search_records")
                    .body(search_body(id))
                    .send()
                    .await
                    .expect("send");
                assert_eq!(response.status(), 200);
                let answer: Value = response.json().await.expect("json");
                assert_eq!(answer["result"]["isError"], false, "{answer}");
            }
        }
    })
    .await
}

async fn direct_level(
    odoo: &OdooClient,
    clients: usize,
    calls: usize,
    started: Instant,
) -> (Duration, Vec<Duration>) {
    let query = SearchRead {
        fields: vec!["name".into(), "email".into(), "country_id".into()],
        limit: Some(20),
        ..SearchRead::new(json!([["is_company", "=", true]]))
    };
    drive(clients, calls, started, DEADLINE, || {
        let (odoo, query) = (odoo.clone(), query.clone());
        move |_| {
            let (odoo, query) = (odoo.clone(), query.clone());
            async move {
                let rows = odoo
                    .search_read("res.partner", &query)
                    .await
                    .expect("search_read");
                assert!(!rows.is_empty());
            }
        }
    })
    .await
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let calls: usize = if full {
        std::env::var("WARDEN_BENCH_CALLS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(4000)
    } else {
        64
    };
    let sessions = if full { 1000 } else { 10 };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    let sim = runtime
        .block_on(warden_odoo_sim::start(
            "127.0.0.1:0".parse().expect("addr"),
            SimOptions::default(),
        ))
        .expect("simulator");
    let key = sim.api_key("admin").expect("admin key");
    let mut config = OdooConfig::new(
        sim.url().parse().expect("url"),
        sim.database(),
        "admin",
        Credential::ApiKey(SecretString::from(key.clone())),
    );
    config.protocol = Protocol::JsonRpc;
    let odoo = OdooClient::new(config).expect("client");
    let gateway = start_gateway(&sim.url(), sim.database(), &key);
    let target = Arc::new((gateway.url.clone(), gateway.secret.clone()));
    runtime.block_on(async {
        let _ = gateway_level(&target, 1, 1, started).await;
    });
    // Memory with open legacy sessions, first, on the fresh process (after one call).
    let pid = gateway.child.id();
    let before = rss_kb(pid);
    let opened = runtime.block_on(async {
        let http = reqwest::Client::new();
        let mut ids = Vec::with_capacity(sessions);
        for n in 0..sessions {
            let response = http
                .post(&target.0)
                .bearer_auth(&target.1)
                .header("content-type", "application/json")
                .header("accept", "application/json")
                .body(
                    json!({"jsonrpc": "2.0", "id": n, "method": "initialize", "params": {
                        "protocolVersion": "2025-11-25", "capabilities": {},
                        "clientInfo": {"name": "load", "version": "1"}}})
                    .to_string(),
                )
                .send()
                .await
                .expect("initialize");
            assert_eq!(response.status(), 200);
            ids.push(
                response.headers()["mcp-session-id"]
                    .to_str()
                    .expect("id")
                    .to_owned(),
            );
            assert!(started.elapsed() < DEADLINE, "benchmark deadline");
        }
        ids.len()
    });
    let after = rss_kb(pid);
    println!(
        "{opened} legacy sessions open: resident memory {before} kB before, {after} kB after \
         ({:.1} kB per session)",
        (after.saturating_sub(before)) as f64 / opened.max(1) as f64
    );
    println!(
        "search_records (20 partners, 3 fields) against the zero-latency simulator; gateway with \
         API-key authentication, the policy and the audit log (group commit 2 ms) on:"
    );
    runtime.block_on(async {
        // Warm both paths (metadata cache, connections).
        let _ = gateway_level(&target, 1, 50, started).await;
        let _ = direct_level(&odoo, 1, 50, started).await;
        for clients in LEVELS {
            let (elapsed, samples) = direct_level(&odoo, clients, calls, started).await;
            report("direct", clients, elapsed, samples);
            let (elapsed, samples) = gateway_level(&target, clients, calls, started).await;
            report("gateway", clients, elapsed, samples);
        }
    });

    drop(gateway);
    runtime.block_on(sim.shutdown());
}
