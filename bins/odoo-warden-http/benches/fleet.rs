//! A fleet under load: `search_records` calls through HAProxy to one `odoo-warden-http` replica,
//! then to three, each with `[cluster]` on a real `redis-server` (a per-key budget large enough
//! never to refuse, so that every call runs the rate script) and `[audit.postgres]` on a real
//! PostgreSQL 15 beside the audit files, against the zero-latency simulator. Reports calls/s and
//! p50/p99 at 8 and 64 concurrent clients, and per call the Redis commands run
//! (`INFO commandstats`) and the PostgreSQL transactions committed (`pg_stat_database`).
//!
//! Run with: `cargo bench -p odoo-warden-http --bench fleet`. Bounded: `WARDEN_BENCH_CALLS`
//! calls per level (default 3,000), a 300 s deadline, loopback only. Without `--bench` (as
//! `cargo test` runs it) it makes a few calls only, to check that it works; it needs
//! redis-server, PostgreSQL 15 and haproxy, and says SKIP without them (outside CI).

#![allow(missing_docs, clippy::print_stdout, clippy::print_stderr)] // a benchmark binary reports on stdout

#[path = "../../../crates/warden-cluster/tests/support/mod.rs"]
mod redis;

#[path = "../../../crates/warden-audit-pg/tests/common/mod.rs"]
mod pg;

#[path = "../tests/fleet/harness.rs"]
mod harness;

#[path = "support/drive.rs"]
mod drive;

use std::sync::Arc;
use std::time::{Duration, Instant};

use drive::{drive, percentile};
use harness::{Fleet, Options, call, search};
use serde_json::json;

const DEADLINE: Duration = Duration::from_secs(300);
const LEVELS: [usize; 2] = [8, 64];

/// Calls per Redis command since it started (`INFO commandstats`, read with a raw RESP
/// request): those a script makes count as well as the round trips.
fn redis_commands(port: u16) -> std::collections::BTreeMap<String, u64> {
    use std::io::{Read as _, Write as _};
    let mut found = std::collections::BTreeMap::new();
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return found;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = stream.write_all(b"*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n");
    let mut text = String::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 || text.len() > 65_536 {
            break;
        }
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    for line in text.lines() {
        let Some((name, rest)) = line
            .strip_prefix("cmdstat_")
            .and_then(|l| l.split_once(':'))
        else {
            continue;
        };
        let calls = rest
            .split(',')
            .find_map(|kv| kv.strip_prefix("calls="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        found.insert(name.to_owned(), calls);
    }
    found
}

/// The calls per command between two `INFO commandstats`, per request, as `name n.nn`.
fn per_call(
    before: &std::collections::BTreeMap<String, u64>,
    after: &std::collections::BTreeMap<String, u64>,
    requests: f64,
) -> String {
    after
        .iter()
        .filter(|(name, _)| name.as_str() != "info")
        .filter_map(|(name, n)| {
            let d = n.saturating_sub(before.get(name).copied().unwrap_or(0));
            (d > 0).then(|| format!("{name} {:.2}", d as f64 / requests))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Transactions committed in the audit database.
fn pg_commits(fleet: &Fleet) -> i64 {
    let Some(cluster) = pg::cluster() else {
        return 0;
    };
    let mut client = cluster.client(&fleet.database);
    client
        .query_one(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
            &[],
        )
        .map(|row| row.get(0))
        .unwrap_or(0)
}

async fn level(
    url: &str,
    secret: &str,
    clients: usize,
    calls: usize,
    started: Instant,
) -> (Duration, Vec<Duration>) {
    let target = Arc::new((url.to_owned(), secret.to_owned()));
    drive(clients, calls, started, DEADLINE, || {
        let target = Arc::clone(&target);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        move |id| {
            let (target, http) = (Arc::clone(&target), http.clone());
            async move {
                let (status, answer) = call(
                    &http,
                    &target.0,
                    &target.1,
                    id,
                    "search_records",
                    search(),
                    json!({}),
                )
                .await;
                assert_eq!(status, 200, "{answer}");
                assert_eq!(answer["result"]["isError"], false, "{answer}");
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
            .unwrap_or(3000)
    } else {
        32
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "search_records (5 partners, 1 field) through HAProxy, [cluster] on Redis and \
         [audit.postgres] beside the files (group commit), zero-latency simulator:"
    );
    for replicas in [1, 3] {
        let options = Options {
            replicas,
            rate_limits: "per_key_per_minute = 10000000\nburst = 10000000".to_owned(),
            ..Options::default()
        };
        let Some(fleet) = Fleet::start("fleet benchmark", &options) else {
            return;
        };
        let url = fleet.url();
        let secret = fleet.secrets[0].clone();
        runtime.block_on(async {
            let _ = level(&url, &secret, 4, 40, started).await; // warm metadata and connections
        });
        for clients in LEVELS {
            let (commands, commits) = (redis_commands(fleet.redis.port), pg_commits(&fleet));
            let (elapsed, mut samples) =
                runtime.block_on(level(&url, &secret, clients, calls, started));
            let n = samples.len() as f64;
            let commands = per_call(&commands, &redis_commands(fleet.redis.port), n);
            let commits = (pg_commits(&fleet) - commits) as f64 / n;
            samples.sort();
            println!(
                "{replicas} replica{} {clients:>3} clients  {:>6} calls  {:>7.0} calls/s  p50 {:>7.2} ms  \
                 p99 {:>7.2} ms  postgres {commits:.3} commits/call  redis per call: {commands}",
                if replicas == 1 { " " } else { "s" },
                samples.len(),
                n / elapsed.as_secs_f64(),
                percentile(&samples, 0.5),
                percentile(&samples, 0.99),
            );
        }
        drop(fleet);
    }
}
