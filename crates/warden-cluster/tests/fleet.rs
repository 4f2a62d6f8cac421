//! Gateways of one fleet ("replicas") on a real `redis-server`: a key's budget is shared, not
//! multiplied; failed authentications are counted for the fleet; a 2026-07-28 confirmation
//! issued by one replica is redeemed once, through any; a Redis that dies or stalls never
//! holds a request beyond the timeout, rates fall back to each process, one alert is recorded,
//! and sharing resumes once it is back.

mod support;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use support::{RedisServer, Stalled};
use tokio::sync::mpsc;
use warden_audit::{
    AlertConfig, AuditEvent, Auditor, FailurePolicy, SharedWindows, Sink, SinkError, SinkOptions,
};
use warden_cluster::{Options, RedisStore};
use warden_gateway::catalog::{Catalog, CatalogSettings};
use warden_gateway::engine::{Caller, Gateway, KeyId, RATE_LIMITED, ServerInfo, Session};
use warden_gateway::runtime::Runtime;
use warden_gateway::shared::Fleet;
use warden_odoo::{Credential, OdooClient, OdooConfig, SecretString};
use warden_odoo_sim::{SimHandle, SimOptions};
use warden_policy::{KeyStoreFile, Policy, PolicyConfig};

const MODERN: &str = "2026-07-28";
const WRITE: &str = "update_records";
const CONFIRMATION_KEY: [u8; 32] = *b"fleet-test-confirmation-key-0001";

/// `writer` may change partners' phones, each change confirmed by a person.
fn policy(rate_limits: &str) -> String {
    format!(
        r#"
[rate_limits]
{rate_limits}

[profiles.writer]
identity = "sales"
models = {{ allow = ["res.partner"] }}
operations = {{ allow = ["read", "write"] }}
fields = {{ write = {{ allow = ["phone"] }} }}
confirm_writes = true
"#
    )
}

/// A sink that keeps the alerts it is given.
#[derive(Clone, Default)]
struct Alerts(Arc<Mutex<Vec<String>>>);

impl Alerts {
    fn named(&self, name: &str) -> usize {
        self.0
            .lock()
            .expect("lock")
            .iter()
            .filter(|n| *n == name)
            .count()
    }
}

impl Sink for Alerts {
    fn name(&self) -> &str {
        "alerts"
    }
    fn write(&mut self, events: &[Arc<AuditEvent>]) -> Result<(), SinkError> {
        let mut alerts = self.0.lock().expect("lock");
        alerts.extend(
            events
                .iter()
                .filter_map(|e| e.alert.as_ref().map(|a| a.name.clone())),
        );
        Ok(())
    }
}

/// Replicas over one simulator and one key store, each with its own store on `url`.
struct Fleet3 {
    _sim: SimHandle,
    replicas: Vec<(Gateway, Alerts)>,
    secrets: Vec<String>,
}

async fn fleet(url: &str, replicas: usize, rate_limits: &str, timeout: Duration) -> Fleet3 {
    let sim = warden_odoo_sim::start("127.0.0.1:0".parse().expect("addr"), SimOptions::default())
        .await
        .expect("sim");
    let text = policy(rate_limits);
    let config: PolicyConfig = toml::from_str(&text).expect("policy toml");
    let mut store = KeyStoreFile::default();
    let mut secrets = Vec::new();
    for name in ["first", "second"] {
        let (_, secret) = warden_policy::keys::create(
            &mut store,
            name,
            "writer",
            Some(Duration::from_secs(3600)),
            SystemTime::now(),
        )
        .expect("key");
        secrets.push(secret);
    }
    let settings = CatalogSettings {
        write_tools: true,
        ..CatalogSettings::default()
    };
    let mut gateways = Vec::new();
    for _ in 0..replicas {
        let mut odoo = OdooConfig::new(
            sim.url().parse().expect("url"),
            sim.database(),
            "sales_agent",
            Credential::ApiKey(SecretString::from(sim.api_key("sales_agent").expect("key"))),
        );
        odoo.timeout = Duration::from_secs(10);
        let catalogs = [(
            "sales".to_owned(),
            Catalog::new(OdooClient::new(odoo).expect("client"), settings.clone()),
        )]
        .into_iter()
        .collect();
        let policy = Policy::compile(&config, &store, &["sales"]).expect("policy");
        let runtime = Runtime::new(policy, &catalogs).expect("runtime");
        let alerts = Alerts::default();
        let mut options = Options::new(url);
        options.key_prefix = "fleet-test:".to_owned();
        options.timeout = timeout;
        let store = Arc::new(RedisStore::connect(&options).expect("a store"));
        let auditor = Auditor::builder()
            .sink(
                alerts.clone(),
                SinkOptions {
                    policy: FailurePolicy::Drop,
                    queue_capacity: 1024,
                },
            )
            .alerts(AlertConfig::default())
            .shared_alerts(Arc::clone(&store) as Arc<dyn SharedWindows>)
            .build()
            .expect("auditor");
        let shared = Fleet {
            store,
            confirmation_key: CONFIRMATION_KEY.to_vec(),
        };
        gateways.push((
            Gateway::with_fleet(runtime, ServerInfo::default(), auditor, shared),
            alerts,
        ));
    }
    Fleet3 {
        _sim: sim,
        replicas: gateways,
        secrets,
    }
}

impl Fleet3 {
    fn gateway(&self, replica: usize) -> &Gateway {
        &self.replicas[replica].0
    }

    /// A session of key `key` (0 or 1) on `replica`, from 192.0.2.1.
    fn session(&self, replica: usize, key: usize) -> Session {
        let gateway = self.gateway(replica);
        let caller = Caller::http(Some(IpAddr::from([192, 0, 2, 1])));
        let id: KeyId = gateway
            .authenticate_caller(&self.secrets[key], &caller)
            .expect("the key authenticates");
        gateway.session(caller, id)
    }
}

/// One 2026-07-28 request through `session`: its response.
async fn request(session: &Session, method: &str, mut params: Value) -> Value {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
        "io.modelcontextprotocol/clientInfo": {"name": "fleet-test", "version": "1"},
    });
    let message = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let (tx, _rx) = mpsc::channel(64);
    let bytes = serde_json::to_vec(&message).expect("encode");
    tokio::time::timeout(Duration::from_secs(10), session.handle(&bytes, &tx))
        .await
        .expect("answered in time")
        .expect("a request is answered")
}

/// Whether a request (`tools/list`, served without Odoo) through `session` passes the rate
/// limits.
async fn ping(session: &Session) -> bool {
    let response = request(session, "tools/list", json!({})).await;
    match response.get("error") {
        None => true,
        Some(error) if error["code"] == json!(RATE_LIMITED) => false,
        Some(error) => panic!("unexpected error: {error}"),
    }
}

/// The kind of a refused tool result, or `None` when it succeeded.
fn refusal(result: &Value) -> Option<String> {
    (result["result"]["isError"] == json!(true)).then(|| {
        result["result"]["_meta"]["io.github.odoo-warden/error"]["kind"]
            .as_str()
            .unwrap_or("?")
            .to_owned()
    })
}

fn phone_update(phone: &str) -> Value {
    json!({"model": "res.partner", "ids": [12], "values": json!({"phone": phone}).to_string()})
}

#[tokio::test]
async fn two_replicas_share_one_key_budget() {
    let Some(server) = RedisServer::start("two_replicas_share_one_key_budget") else {
        return;
    };
    let f = fleet(
        &server.url(),
        2,
        "per_key_per_minute = 6\nburst = 6",
        Duration::from_millis(250),
    )
    .await;
    let sessions = [f.session(0, 0), f.session(1, 0)];
    let mut passed = 0;
    for i in 0..12 {
        if ping(&sessions[i % 2]).await {
            passed += 1;
        }
    }
    assert_eq!(passed, 6, "6 a minute for the fleet, not 6 per replica");
    let refused = request(&sessions[1], "tools/list", json!({})).await;
    let retry = refused["error"]["data"]["retryAfterMs"]
        .as_u64()
        .expect("retryAfterMs");
    assert!((1..=10_000).contains(&retry), "{refused}");
    // The other key has its own budget.
    assert!(ping(&f.session(0, 1)).await);
    assert_eq!(
        f.gateway(0).shared_status().map(|s| (s.up, s.fallbacks)),
        Some((true, 0))
    );
}

#[tokio::test]
async fn failed_authentications_are_refused_for_the_whole_fleet() {
    let Some(server) = RedisServer::start("failed_authentications_are_refused_for_the_whole_fleet")
    else {
        return;
    };
    let f = fleet(&server.url(), 2, "", Duration::from_millis(250)).await;
    let attacker = Caller::http(Some("203.0.113.5".parse().expect("ip")));
    // Ten failures (the default budget), five on each replica: neither replica alone has seen
    // enough to refuse the address.
    for i in 0..10 {
        let gateway = f.gateway(i % 2);
        assert!(
            gateway.fleet_auth_allowed(&attacker).await.is_ok(),
            "try {i}"
        );
        assert!(
            gateway
                .authenticate_caller("owk_not-a-key", &attacker)
                .is_err()
        );
        // Failures are recorded in the background: let this one land.
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if i < 9 || f.gateway(0).fleet_auth_allowed(&attacker).await.is_err() {
                break;
            }
        }
    }
    for replica in 0..2 {
        let refused = f
            .gateway(replica)
            .fleet_auth_allowed(&attacker)
            .await
            .expect_err("the address is refused by every replica");
        let retry = refused.retry_after.expect("a retry delay");
        assert!(
            retry > Duration::ZERO && retry <= Duration::from_secs(6),
            "{retry:?}"
        );
        assert!(
            refused.message.contains("failed authentications"),
            "{}",
            refused.message
        );
    }
    // Another address is not affected.
    let other = Caller::http(Some("203.0.113.6".parse().expect("ip")));
    assert!(f.gateway(1).fleet_auth_allowed(&other).await.is_ok());
}

#[tokio::test]
async fn a_confirmation_issued_by_one_replica_is_redeemed_once_through_any() {
    let Some(mut server) =
        RedisServer::start("a_confirmation_issued_by_one_replica_is_redeemed_once_through_any")
    else {
        return;
    };
    let f = fleet(
        &server.url(),
        3,
        "per_key_per_minute = 1000",
        Duration::from_millis(250),
    )
    .await;
    let (a, b, c) = (f.session(0, 0), f.session(1, 0), f.session(2, 0));
    let arguments = phone_update("+32 1 fleet");
    let asked = request(
        &a,
        "tools/call",
        json!({"name": WRITE, "arguments": arguments}),
    )
    .await;
    assert_eq!(
        asked["result"]["resultType"],
        json!("input_required"),
        "{asked}"
    );
    let state = asked["result"]["requestState"].clone();
    assert!(state.is_string(), "{asked}");
    let confirmed = json!({"name": WRITE, "arguments": arguments,
                           "inputResponses": {"confirm": {"action": "accept"}},
                           "requestState": state});
    let done = request(&b, "tools/call", confirmed.clone()).await;
    assert_eq!(
        refusal(&done),
        None,
        "redeemed through another replica: {done}"
    );
    for (replica, session) in [("the issuer", &a), ("a third", &c), ("the same", &b)] {
        let replay = request(session, "tools/call", confirmed.clone()).await;
        assert_eq!(
            refusal(&replay).as_deref(),
            Some("confirmation_used"),
            "a replay through {replica} replica: {replay}"
        );
    }
    // With Redis down, a confirmation is refused (never replayed), with a retryable error.
    let asked = request(
        &a,
        "tools/call",
        json!({"name": WRITE, "arguments": arguments}),
    )
    .await;
    let pending = json!({"name": WRITE, "arguments": arguments,
                         "inputResponses": {"confirm": {"action": "accept"}},
                         "requestState": asked["result"]["requestState"].clone()});
    server.kill();
    let refused = request(&c, "tools/call", pending.clone()).await;
    assert_eq!(
        refusal(&refused).as_deref(),
        Some("shared_state_unavailable"),
        "{refused}"
    );
    let text = refused["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("retry"), "{refused}");
    assert!(text.contains("nothing was changed"), "{refused}");
    // Once Redis is back, the same answer goes through, once.
    server.restart();
    let outcome = once_answered(&c, &pending).await;
    assert_eq!(refusal(&outcome), None, "{outcome}");
    let replay = once_answered(&a, &pending).await;
    assert_eq!(refusal(&replay).as_deref(), Some("confirmation_used"));
}

/// The result of `call` through `session` once the shared store answers again (each replica
/// reconnects on its own; bounded wait).
async fn once_answered(session: &Session, call: &Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        let answer = request(session, "tools/call", call.clone()).await;
        if refusal(&answer).as_deref() != Some("shared_state_unavailable") {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the shared store did not come back within 15 s");
}

#[tokio::test]
async fn a_killed_redis_falls_back_with_one_alert_and_sharing_resumes() {
    let Some(mut server) =
        RedisServer::start("a_killed_redis_falls_back_with_one_alert_and_sharing_resumes")
    else {
        return;
    };
    let f = fleet(
        &server.url(),
        2,
        "per_key_per_minute = 6\nburst = 6",
        Duration::from_millis(250),
    )
    .await;
    let sessions = [f.session(0, 0), f.session(1, 0)];
    assert!(ping(&sessions[0]).await);
    server.kill();
    // Each decision within the timeout and a margin; every replica now has its own budget.
    let bound = Duration::from_millis(250) + Duration::from_millis(750);
    let mut passed = 0;
    for i in 0..20 {
        let started = Instant::now();
        if ping(&sessions[i % 2]).await {
            passed += 1;
        }
        assert!(
            started.elapsed() < bound,
            "request {i}: {:?}",
            started.elapsed()
        );
    }
    assert_eq!(
        passed, 12,
        "each replica's own budget of 6 while Redis is down"
    );
    for (gateway, _) in &f.replicas {
        let status = gateway.shared_status().expect("a fleet");
        assert!(!status.up);
        assert_eq!(status.fallbacks, 10);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for (_, alerts) in &f.replicas {
        assert_eq!(
            alerts.named("shared_state_unavailable"),
            1,
            "one alert per replica"
        );
    }
    server.restart();
    // Each replica reconnects on its own (bounded wait).
    for (replica, session) in sessions.iter().enumerate() {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline && !f.gateway(replica).shared_status().is_some_and(|s| s.up)
        {
            ping(session).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for (gateway, alerts) in &f.replicas {
        assert!(gateway.shared_status().is_some_and(|s| s.up), "back up");
        assert_eq!(alerts.named("shared_state_restored"), 1);
        assert_eq!(alerts.named("shared_state_unavailable"), 1);
    }
    // Shared again: the other key's fresh budget of 6 is one budget for both replicas.
    let others = [f.session(0, 1), f.session(1, 1)];
    let mut passed = 0;
    for i in 0..12 {
        if ping(&others[i % 2]).await {
            passed += 1;
        }
    }
    assert_eq!(passed, 6);
}

#[tokio::test]
async fn a_stalled_redis_never_holds_a_request_beyond_the_timeout() {
    let stalled = Stalled::start();
    let f = fleet(
        &stalled.url(),
        1,
        "per_key_per_minute = 600",
        Duration::from_millis(100),
    )
    .await;
    let session = f.session(0, 0);
    // Generous: a correctness bound, not a benchmark.
    let bound = Duration::from_millis(100) + Duration::from_millis(900);
    for i in 0..5 {
        let started = Instant::now();
        assert!(ping(&session).await, "the local budget serves");
        assert!(
            started.elapsed() < bound,
            "request {i}: {:?}",
            started.elapsed()
        );
    }
    let status = f.gateway(0).shared_status().expect("a fleet");
    assert!(!status.up);
    assert_eq!(status.fallbacks, 5);
}

/// Waits (bounded) until `f` holds.
async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}

#[tokio::test]
async fn alert_windows_are_counted_for_the_fleet_and_raised_once() {
    let Some(mut server) =
        RedisServer::start("alert_windows_are_counted_for_the_fleet_and_raised_once")
    else {
        return;
    };
    let f = fleet(&server.url(), 2, "", Duration::from_millis(250)).await;
    let raised = |name: &str| -> usize { f.replicas.iter().map(|(_, a)| a.named(name)).sum() };
    // failed_auth_burst: 5 in 60 s by default. Three failures through one replica and two
    // through the other: neither replica alone has seen five.
    let attacker = Caller::http(Some("203.0.113.77".parse().expect("ip")));
    for i in 0..5 {
        assert!(
            f.gateway(i % 2)
                .authenticate_caller("owk_wrong", &attacker)
                .is_err()
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert!(
        eventually(|| raised("failed_auth_burst") == 1).await,
        "one alert for the fleet"
    );
    // More failures within the window raise no second alert.
    for i in 0..4 {
        let _ = f.gateway(i % 2).authenticate_caller("owk_wrong", &attacker);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(raised("failed_auth_burst"), 1);
    // new_ip: the key's first address is the baseline, wherever it was seen; a second address
    // through the other replica is new for the fleet.
    let key = |replica: usize, ip: [u8; 4]| {
        let caller = Caller::http(Some(IpAddr::from(ip)));
        let gateway = f.gateway(replica);
        let id = gateway
            .authenticate_caller(&f.secrets[1], &caller)
            .expect("key");
        gateway.session(caller, id)
    };
    assert!(ping(&key(0, [198, 51, 100, 1])).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(ping(&key(1, [198, 51, 100, 1])).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        raised("new_ip"),
        0,
        "the same address on another replica is not new"
    );
    assert!(ping(&key(1, [198, 51, 100, 2])).await);
    assert!(eventually(|| raised("new_ip") == 1).await);
    assert!(ping(&key(0, [198, 51, 100, 2])).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(raised("new_ip"), 1, "raised once for the fleet");
    // Redis down: each replica's own windows decide.
    server.kill();
    let other = Caller::http(Some("203.0.113.78".parse().expect("ip")));
    for _ in 0..5 {
        let _ = f.gateway(0).authenticate_caller("owk_wrong", &other);
    }
    assert!(
        eventually(|| raised("failed_auth_burst") == 2).await,
        "the replica's own window raised it"
    );
}
