//! Three `odoo-warden-http` replicas behind HAProxy (round robin), sharing their state on a real
//! `redis-server` and writing one audit trail to a real PostgreSQL 15, against the simulator:
//! a key's budget holds for the fleet, a legacy session continues through any replica, a
//! confirmation is redeemed once, a replica killed under load loses no acknowledged audit event,
//! and Redis stopped and restarted under load is lived through. Each test that proves sharing has
//! its positive control: the same fleet without `[cluster]` lets the difference through.
//!
//! Needs redis-server, PostgreSQL 15 and haproxy (Debian's; `.ci/run` installs them): without
//! them the tests say SKIP loudly and pass, except under `CI=true`. Every loop is bounded.

#[path = "../../../crates/warden-cluster/tests/support/mod.rs"]
mod redis;

#[path = "../../../crates/warden-audit-pg/tests/common/mod.rs"]
mod pg;

#[path = "fleet/harness.rs"]
mod harness;

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use harness::{Fleet, Options, call, search};
use serde_json::{Value, json};

/// The longest one test's request loop may run.
const LOOP_LIMIT: Duration = Duration::from_secs(60);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

fn ok(answer: &Value) -> bool {
    answer["result"]["isError"] == json!(false)
}

fn rate_limited(status: u16, answer: &Value) -> bool {
    status == 429 || answer["error"]["data"]["retryAfterMs"].is_u64()
}

/// The request events in the audit table: (stream, request id) of each.
fn audited(fleet: &Fleet) -> Vec<(String, Value)> {
    let cluster = pg::cluster().expect("the cluster runs");
    let mut client = cluster.client(&fleet.database);
    client
        .query(
            "SELECT stream, line FROM warden_audit_events WHERE kind = 'request' ORDER BY stream, seq",
            &[],
        )
        .expect("the table is read")
        .into_iter()
        .map(|row| {
            let stream: String = row.get(0);
            let line: String = row.get(1);
            let line: Value = serde_json::from_str(&line).expect("a JSON line");
            (stream, line)
        })
        .collect()
}

/// `audit verify` on the table (every stream), as the CLI runs it.
fn verify(fleet: &Fleet) -> warden_audit::verify::Report {
    let cluster = pg::cluster().expect("the cluster runs");
    let mut reader =
        warden_audit_pg::read::Reader::open(&cluster.target(&fleet.database)).expect("open");
    reader
        .verify(None, &warden_audit::verify::VerifyOptions::default())
        .expect("verify runs")
}

/// Sends `count` searches of key `secret` through the balancer one after the other: how many
/// were served and how many refused by a rate limit (any other answer fails the test).
fn spend(fleet: &Fleet, secret: &str, count: u64, first_id: u64) -> (usize, usize) {
    let url = fleet.url();
    runtime().block_on(async {
        let http = http();
        let started = Instant::now();
        let (mut served, mut refused) = (0, 0);
        for n in 0..count {
            assert!(started.elapsed() < LOOP_LIMIT, "loop limit");
            let (status, answer) = call(
                &http,
                &url,
                secret,
                first_id + n,
                "search_records",
                search(),
                json!({}),
            )
            .await;
            if status == 200 && ok(&answer) {
                served += 1;
            } else {
                assert!(rate_limited(status, &answer), "{status} {answer}");
                refused += 1;
            }
        }
        (served, refused)
    })
}

const BUDGET: &str = "per_key_per_minute = 6\nburst = 6";

#[test]
fn a_key_budget_of_n_admits_n_across_three_replicas_not_3n() {
    let test = "a_key_budget_of_n_admits_n_across_three_replicas_not_3n";
    let options = Options {
        rate_limits: BUDGET.to_owned(),
        ..Options::default()
    };
    let Some(mut fleet) = Fleet::start(test, &options) else {
        return;
    };
    let (served, refused) = spend(&fleet, &fleet.secrets[0], 18, 1);
    assert_eq!((served, refused), (6, 12), "one budget of 6 for the fleet");
    // The balancer did spread the calls: every replica recorded some.
    fleet.stop_replicas();
    let streams: BTreeSet<String> = audited(&fleet).into_iter().map(|(s, _)| s).collect();
    assert_eq!(streams.len(), 3, "{streams:?}");
    drop(fleet);

    // Positive control: the same fleet, each replica on its own, admits three budgets.
    let control = Options {
        cluster: false,
        ..options
    };
    let Some(fleet) = Fleet::start(test, &control) else {
        return;
    };
    let (served, _) = spend(&fleet, &fleet.secrets[0], 18, 1);
    assert!(
        served > 6,
        "without [cluster] every replica has its own budget: {served}"
    );
}

/// A legacy (2025-11-25) request on the session `id`: its status and answer.
async fn legacy(
    http: &reqwest::Client,
    url: &str,
    secret: &str,
    session: Option<&str>,
    body: Value,
) -> (u16, Option<String>, Value) {
    let mut request = http
        .post(url)
        .bearer_auth(secret)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(id) = session {
        request = request
            .header("mcp-session-id", id)
            .header("mcp-protocol-version", "2025-11-25");
    }
    let response = request.body(body.to_string()).send().await.expect("answer");
    let status = response.status().as_u16();
    let id = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.unwrap_or_default();
    (status, id, harness::answer_of(&text))
}

#[test]
fn a_legacy_session_opened_through_one_replica_continues_through_the_others() {
    let test = "a_legacy_session_opened_through_one_replica_continues_through_the_others";
    let options = Options {
        keys: vec!["alice".to_owned(), "bob".to_owned()],
        ..Options::default()
    };
    let Some(fleet) = Fleet::start(test, &options) else {
        return;
    };
    let (alice, bob) = (&fleet.secrets[0], &fleet.secrets[1]);
    let url = fleet.url();
    runtime().block_on(async {
        let http = http();
        let (status, id, answer) = legacy(
            &http,
            &url,
            alice,
            None,
            json!({"jsonrpc": "2.0", "id": 1,
            "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "fleet-test", "version": "1"}}}),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let id = id.expect("a session id");
        let (status, _, _) = legacy(
            &http,
            &url,
            alice,
            Some(&id),
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        )
        .await;
        assert_eq!(status, 202);
        // Round robin: six calls reach every replica twice.
        for n in 0..6 {
            let (status, _, answer) = legacy(
                &http,
                &url,
                alice,
                Some(&id),
                json!({"jsonrpc": "2.0",
                "id": 10 + n, "method": "tools/call",
                "params": {"name": "search_records", "arguments": search()}}),
            )
            .await;
            assert_eq!(status, 200, "call {n}: {answer}");
            assert!(ok(&answer), "call {n}: {answer}");
        }
        // Another key presenting the id gets 404 on every replica.
        for n in 0..3 {
            let (status, _, _) = legacy(
                &http,
                &url,
                bob,
                Some(&id),
                json!({"jsonrpc": "2.0",
                "id": 20 + n, "method": "tools/list"}),
            )
            .await;
            assert_eq!(status, 404, "bob, call {n}");
        }
        // DELETE through one replica ends it on all.
        let response = http
            .delete(&url)
            .bearer_auth(alice)
            .header("mcp-session-id", &id)
            .header("mcp-protocol-version", "2025-11-25")
            .send()
            .await
            .expect("delete");
        assert!(response.status().is_success(), "{}", response.status());
        for n in 0..3 {
            let (status, _, _) = legacy(
                &http,
                &url,
                alice,
                Some(&id),
                json!({"jsonrpc": "2.0",
                "id": 30 + n, "method": "tools/list"}),
            )
            .await;
            assert_eq!(status, 404, "after DELETE, call {n}");
        }
    });
}

#[test]
fn a_confirmation_issued_by_one_replica_is_redeemed_once_through_another() {
    let test = "a_confirmation_issued_by_one_replica_is_redeemed_once_through_another";
    let Some(fleet) = Fleet::start(test, &Options::default()) else {
        return;
    };
    let secret = &fleet.secrets[0];
    let urls: Vec<String> = fleet.replicas.iter().map(|r| r.url.clone()).collect();
    runtime().block_on(async {
        let http = http();
        let update =
            json!({"model": "res.partner", "ids": [12], "values": {"phone": "+32 1 fleet"}});
        let (status, asked) = call(
            &http,
            &urls[0],
            secret,
            1,
            "update_records",
            update.clone(),
            json!({}),
        )
        .await;
        assert_eq!(status, 200, "{asked}");
        let state = asked["result"]["requestState"]
            .as_str()
            .unwrap_or_else(|| panic!("a requestState: {asked}"))
            .to_owned();
        let confirm = json!({"inputResponses": {"confirm": {"action": "accept"}},
                             "requestState": state});
        let (_, redeemed) = call(
            &http,
            &urls[1],
            secret,
            2,
            "update_records",
            update.clone(),
            confirm.clone(),
        )
        .await;
        assert!(
            ok(&redeemed),
            "redeemed through the second replica: {redeemed}"
        );
        for (n, url) in [&urls[2], &urls[0], &urls[1]].into_iter().enumerate() {
            let (_, replay) = call(
                &http,
                url,
                secret,
                3 + n as u64,
                "update_records",
                update.clone(),
                confirm.clone(),
            )
            .await;
            assert_eq!(
                replay["result"]["isError"],
                json!(true),
                "replay {n}: {replay}"
            );
            assert_eq!(
                replay["result"]["_meta"]["io.github.odoo-warden/error"]["kind"],
                json!("confirmation_used"),
                "replay {n}: {replay}"
            );
        }
    });
}

#[test]
fn a_replica_killed_under_load_loses_no_acknowledged_event_and_the_table_verifies() {
    let test = "a_replica_killed_under_load_loses_no_acknowledged_event_and_the_table_verifies";
    let Some(mut fleet) = Fleet::start(test, &Options::default()) else {
        return;
    };
    let url = fleet.url();
    let secret = fleet.secrets[0].clone();
    let victim = fleet.replicas[1].pid().expect("running");
    let acknowledged = runtime().block_on(async {
        let started = Instant::now();
        let mut tasks = Vec::new();
        for task in 0..4u64 {
            let (url, secret) = (url.clone(), secret.clone());
            tasks.push(tokio::spawn(async move {
                let http = http();
                let mut answered = Vec::new();
                for n in 0..75u64 {
                    assert!(started.elapsed() < LOOP_LIMIT, "loop limit");
                    let id = 1_000 * (task + 1) + n;
                    let response = http
                        .post(&url)
                        .bearer_auth(&secret)
                        .header("content-type", "application/json")
                        .header("accept", "application/json, text/event-stream")
                        .header("mcp-protocol-version", "2026-07-28")
                        .header("mcp-method", "tools/call")
                        .header("mcp-name", "search_records")
                        .body(
                            harness::modern(
                                id,
                                "tools/call",
                                json!({"name": "search_records", "arguments": search()}),
                            )
                            .to_string(),
                        )
                        .send()
                        .await;
                    // A request cut by the kill has no answer: it was never acknowledged.
                    let Ok(response) = response else { continue };
                    if response.status() != 200 {
                        continue;
                    }
                    let answer = harness::answer_of(&response.text().await.unwrap_or_default());
                    if ok(&answer) {
                        answered.push(id);
                    }
                }
                answered
            }));
        }
        // SIGKILL the second replica while the load runs.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &victim.to_string()])
            .status();
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.expect("a load task"));
        }
        all
    });
    fleet.replicas[1].kill();
    fleet.stop_replicas();
    let events = audited(&fleet);
    let recorded: HashSet<String> = events
        .iter()
        .filter_map(|(_, e)| e["request_id"].as_str().map(str::to_owned))
        .collect();
    let killed: usize = events.iter().filter(|(s, _)| s == "replica-1").count();
    assert!(killed > 0, "the killed replica had served some of the load");
    assert!(
        acknowledged.len() > 150,
        "most calls were answered: {}",
        acknowledged.len()
    );
    let lost: Vec<&u64> = acknowledged
        .iter()
        .filter(|id| !recorded.contains(&id.to_string()))
        .collect();
    assert!(
        lost.is_empty(),
        "acknowledged but not in the table: {lost:?}"
    );
    let report = verify(&fleet);
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.streams.len(), 3);
}

#[test]
fn redis_stopped_and_restarted_under_load_is_lived_through_and_shared_again() {
    let test = "redis_stopped_and_restarted_under_load_is_lived_through_and_shared_again";
    let options = Options {
        rate_limits: BUDGET.to_owned(),
        keys: (0..12)
            .map(|n| {
                if n < 4 {
                    format!("load-{n}")
                } else {
                    format!("after-{n}")
                }
            })
            .collect(),
        ..Options::default()
    };
    let Some(mut fleet) = Fleet::start(test, &options) else {
        return;
    };
    // Four agents load the fleet; Redis dies under them. Every request is still answered —
    // served within each replica's own budget or refused by it — never an error nor a hang.
    let url = fleet.url();
    let secrets: Vec<String> = fleet.secrets[..4].to_vec();
    let started = Instant::now();
    let load = runtime();
    let answered = load.block_on(async {
        let mut tasks = Vec::new();
        for (agent, secret) in secrets.into_iter().enumerate() {
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                let http = http();
                let (mut served, mut refused) = (0usize, 0usize);
                for n in 0..15u64 {
                    assert!(started.elapsed() < LOOP_LIMIT, "loop limit");
                    let id = 1_000 * (agent as u64 + 1) + n;
                    let (status, answer) = call(
                        &http,
                        &url,
                        &secret,
                        id,
                        "search_records",
                        search(),
                        json!({}),
                    )
                    .await;
                    if status == 200 && ok(&answer) {
                        served += 1;
                    } else {
                        assert!(rate_limited(status, &answer), "{status} {answer}");
                        refused += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                (served, refused)
            }));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        tasks
    });
    fleet.redis.kill();
    let counts: Vec<(usize, usize)> = load.block_on(async {
        let mut all = Vec::new();
        for task in answered {
            all.push(task.await.expect("an agent"));
        }
        all
    });
    for (served, refused) in &counts {
        assert_eq!(served + refused, 15, "{counts:?}");
        assert!(
            *served >= 6,
            "each agent keeps at least its budget: {counts:?}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "no request waited on Redis beyond its timeout"
    );
    fleet.redis.restart();
    // The replicas go back to Redis by themselves (the breaker retries after a second, the
    // connection manager reconnects): within 20 s, a fresh key's 18 calls admit 6 for the fleet
    // again. Each try spends a key of its own.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut tries = Vec::new();
    for (n, secret) in fleet.secrets[4..].iter().enumerate() {
        std::thread::sleep(Duration::from_millis(1_500));
        let spent = spend(&fleet, secret, 18, 100 + 100 * n as u64);
        tries.push(spent);
        if spent == (6, 12) || Instant::now() > deadline {
            break;
        }
    }
    assert_eq!(
        tries.last(),
        Some(&(6, 12)),
        "one budget for the fleet again: {tries:?}"
    );
    // The outage is in the audit trail: one alert per replica that met it.
    fleet.stop_replicas();
    let cluster = pg::cluster().expect("the cluster runs");
    let mut client = cluster.client(&fleet.database);
    let alerts: Vec<String> = client
        .query(
            "SELECT line FROM warden_audit_events WHERE kind = 'alert'",
            &[],
        )
        .expect("read")
        .into_iter()
        .map(|row| row.get::<_, String>(0))
        .collect();
    let down = alerts
        .iter()
        .filter(|l| l.contains("shared_state_unavailable"))
        .count();
    assert!((1..=3).contains(&down), "{alerts:?}");
}
