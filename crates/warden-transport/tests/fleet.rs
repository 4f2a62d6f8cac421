//! A fleet over HTTP: two servers (in this process, on 127.0.0.1) share a real `redis-server`.
//! A legacy session initialized through one is served by the other; another key presenting its
//! id gets 404 on both; DELETE through one ends it on both; the fleet's bounds hold across
//! replicas; with Redis gone, sessions held by a replica still serve there. `/readyz` and
//! `/metrics` report the shared state. A reload that changes `[cluster]` moves to the new store;
//! one that does not keeps the connection.

#[path = "../../warden-cluster/tests/support/mod.rs"]
mod redis_server;
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use warden_audit::Auditor;
use warden_cluster::{Options, RedisStore};
use warden_gateway::catalog::{Catalog, CatalogSettings};
use warden_gateway::engine::{Gateway, ServerInfo};
use warden_gateway::runtime::Runtime;
use warden_gateway::shared::Fleet;
use warden_odoo::{Credential, OdooClient, OdooConfig, SecretString};
use warden_odoo_sim::{SimHandle, SimOptions};
use warden_policy::config::{KeyStoreFile, PolicyConfig};
use warden_transport::http::{self, HttpOptions};

const POLICY: &str = r#"
[profiles.reader]
identity = "sales"
models = { allow = ["res.partner"] }
operations = { allow = ["read"] }
"#;

const LEGACY: &str = "2025-11-25";

/// Two replicas of one configuration on one Redis, and the keys `alice` and `bob`.
struct Replicas {
    _sim: SimHandle,
    servers: Vec<support::Served>,
    secrets: BTreeMap<String, String>,
    http: reqwest::Client,
}

fn catalogs(sim: &SimHandle) -> BTreeMap<String, Catalog> {
    let config = OdooConfig::new(
        sim.url().parse().expect("url"),
        sim.database(),
        "sales_agent",
        Credential::ApiKey(SecretString::from(sim.api_key("sales_agent").expect("key"))),
    );
    BTreeMap::from([(
        "sales".to_owned(),
        Catalog::new(
            OdooClient::new(config).expect("client"),
            CatalogSettings::default(),
        ),
    )])
}

async fn replicas(redis_url: &str, options: impl Fn() -> HttpOptions) -> Replicas {
    let sim = warden_odoo_sim::start("127.0.0.1:0".parse().expect("addr"), SimOptions::default())
        .await
        .expect("sim");
    let mut store = KeyStoreFile::default();
    let mut secrets = BTreeMap::new();
    for name in ["alice", "bob"] {
        let (_, secret) =
            warden_policy::keys::create(&mut store, name, "reader", None, SystemTime::now())
                .expect("key");
        secrets.insert(name.to_owned(), secret);
    }
    let config: PolicyConfig = toml::from_str(POLICY).expect("policy");
    let mut servers = Vec::new();
    for _ in 0..2 {
        let policy = warden_policy::Policy::compile(&config, &store, &["sales"]).expect("policy");
        let runtime = Runtime::new(policy, &catalogs(&sim)).expect("runtime");
        let mut redis = Options::new(redis_url);
        redis.key_prefix = "sessions-test:".to_owned();
        let fleet = Fleet {
            store: Arc::new(RedisStore::connect(&redis).expect("a store")),
            confirmation_key: b"sessions-test-confirmation-key-01".to_vec(),
        };
        let gateway =
            Gateway::with_fleet(runtime, ServerInfo::default(), Auditor::disabled(), fleet);
        servers.push(support::serve(http::app(gateway, options()), Duration::from_secs(5)).await);
    }
    Replicas {
        _sim: sim,
        servers,
        secrets,
        http: support::client(),
    }
}

impl Replicas {
    fn url(&self, replica: usize) -> String {
        format!("{}/mcp", self.servers[replica].base())
    }

    /// A POST of `body` to `replica` as `key`, in `session` if given.
    async fn post(
        &self,
        replica: usize,
        key: &str,
        session: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(self.url(replica))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .bearer_auth(&self.secrets[key])
            .body(body.to_string());
        if let Some(id) = session {
            request = request
                .header("mcp-session-id", id)
                .header("mcp-protocol-version", LEGACY);
        }
        request.send().await.expect("an answer")
    }

    /// `initialize` through `replica` as `key`: the session id.
    async fn initialize(&self, replica: usize, key: &str) -> String {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": LEGACY, "capabilities": {},
            "clientInfo": {"name": "fleet-sessions", "version": "1"}}});
        let response = self.post(replica, key, None, &body).await;
        assert_eq!(response.status(), 200);
        response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .expect("a session id")
            .to_owned()
    }

    /// `tools/list` in `session` through `replica` as `key`: the HTTP status and body.
    async fn list(&self, replica: usize, key: &str, session: &str) -> (u16, Value) {
        let body = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}});
        let response = self.post(replica, key, Some(session), &body).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn delete(&self, replica: usize, key: &str, session: &str) -> u16 {
        self.http
            .delete(self.url(replica))
            .bearer_auth(&self.secrets[key])
            .header("mcp-session-id", session)
            .header("mcp-protocol-version", LEGACY)
            .send()
            .await
            .expect("an answer")
            .status()
            .as_u16()
    }
}

#[tokio::test]
async fn a_session_opened_on_one_replica_is_served_by_the_other() {
    let Some(server) =
        redis_server::RedisServer::start("a_session_opened_on_one_replica_is_served_by_the_other")
    else {
        return;
    };
    let r = replicas(&server.url(), HttpOptions::default).await;
    let id = r.initialize(0, "alice").await;
    // Served by the other replica, in the revision initialize negotiated.
    let (status, body) = r.list(1, "alice", &id).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["result"]["tools"]
            .as_array()
            .is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "count_records", "arguments": {"model": "res.partner"}}});
    let response = r.post(1, "alice", Some(&id), &call).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["result"]["isError"], json!(false), "{body}");
    // Another key presenting the id: 404 on both replicas.
    for replica in [0, 1] {
        assert_eq!(
            r.list(replica, "bob", &id).await.0,
            404,
            "replica {replica}"
        );
    }
    // A made-up id: 404.
    assert_eq!(r.list(1, "alice", &"0".repeat(64)).await.0, 404);
    // DELETE through one ends it on both (the other had adopted it).
    assert_eq!(r.list(0, "alice", &id).await.0, 200);
    assert_eq!(r.delete(1, "bob", &id).await, 404, "not bob's to end");
    assert_eq!(r.delete(1, "alice", &id).await, 204);
    for replica in [0, 1] {
        assert_eq!(
            r.list(replica, "alice", &id).await.0,
            404,
            "replica {replica}"
        );
    }
}

#[tokio::test]
async fn the_per_key_bound_holds_across_the_fleet() {
    let Some(server) = redis_server::RedisServer::start("the_per_key_bound_holds_across_the_fleet")
    else {
        return;
    };
    let options = || HttpOptions {
        max_sessions_per_key: 2,
        ..HttpOptions::default()
    };
    let r = replicas(&server.url(), options).await;
    let first = r.initialize(0, "alice").await;
    let second = r.initialize(1, "alice").await;
    // Last uses a few milliseconds apart (the store orders them by millisecond).
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(r.list(1, "alice", &first).await.0, 200);
    tokio::time::sleep(Duration::from_millis(5)).await;
    // A third session anywhere ends the least recently used one everywhere.
    let third = r.initialize(1, "alice").await;
    for replica in [0, 1] {
        assert_eq!(
            r.list(replica, "alice", &second).await.0,
            404,
            "replica {replica}"
        );
    }
    for id in [&first, &third] {
        assert_eq!(r.list(0, "alice", id).await.0, 200);
    }
    // Bob's sessions are his own.
    let bob = r.initialize(0, "bob").await;
    assert_eq!(r.list(1, "bob", &bob).await.0, 200);
}

#[tokio::test]
async fn without_redis_a_replica_serves_the_sessions_it_holds() {
    let Some(mut server) =
        redis_server::RedisServer::start("without_redis_a_replica_serves_the_sessions_it_holds")
    else {
        return;
    };
    let r = replicas(&server.url(), HttpOptions::default).await;
    let id = r.initialize(0, "alice").await;
    server.kill();
    // Held by replica 0: still served there; replica 1 cannot learn of it: 404 (initialize
    // again).
    assert_eq!(r.list(0, "alice", &id).await.0, 200);
    assert_eq!(r.list(1, "alice", &id).await.0, 404);
    // A session opened while Redis is down is served by its replica.
    let local = r.initialize(1, "alice").await;
    assert_eq!(r.list(1, "alice", &local).await.0, 200);
    assert_eq!(r.list(1, "bob", &local).await.0, 404);
}

#[tokio::test]
async fn readiness_and_metrics_report_the_shared_state() {
    let Some(mut server) =
        redis_server::RedisServer::start("readiness_and_metrics_report_the_shared_state")
    else {
        return;
    };
    let token = "ops-token-for-the-fleet-test";
    let options = || HttpOptions {
        ops_token: Some(SecretString::from(token)),
        ..HttpOptions::default()
    };
    let r = replicas(&server.url(), options).await;
    let ops = |replica: usize, path: &str| {
        r.http
            .get(format!("{}{path}", r.servers[replica].base()))
            .bearer_auth(token)
            .send()
    };
    let ready = ops(0, "/readyz").await.expect("readyz");
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.text().await.expect("text").trim_end(),
        "ready; shared state: up"
    );
    let metrics = ops(0, "/metrics")
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("warden_shared_state_up 1"), "{metrics}");
    assert!(
        metrics.contains("warden_shared_state_fallbacks_total 0"),
        "{metrics}"
    );
    // Redis gone: still ready (rates fall back), and said so.
    server.kill();
    let ready = ops(1, "/readyz").await.expect("readyz");
    assert_eq!(ready.status(), 200);
    let body = ready.text().await.expect("text");
    assert!(body.starts_with("ready; shared state: down"), "{body}");
    let metrics = ops(1, "/metrics")
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("warden_shared_state_up 0"), "{metrics}");
}

#[tokio::test]
async fn a_reload_applies_a_changed_cluster_section_and_keeps_an_unchanged_one() {
    let Some(first) = redis_server::RedisServer::start(
        "a_reload_applies_a_changed_cluster_section_and_keeps_an_unchanged_one",
    ) else {
        return;
    };
    let Some(mut second) = redis_server::RedisServer::start("(the second redis-server)") else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = dir.path().join("warden.toml");
    let base = r#"
[odoo]
url = "http://127.0.0.1:9"
database = "odoo"

[odoo.identities.sales]
login = "sales_agent"
api_key_env = "ODOO_KEY"

[keys]
file = "keys.toml"

[profiles.reader]
identity = "sales"
models = { allow = ["res.partner"] }
operations = { allow = ["read"] }
"#;
    let with_cluster = |url: &str, prefix: &str| {
        format!(
            "{base}\n[cluster]\nredis_url = \"{url}\"\nkey_prefix = \"{prefix}\"\nconfirmation_key_env = \"CONFIRM\"\n"
        )
    };
    std::fs::write(dir.path().join("keys.toml"), "").expect("keys");
    std::fs::write(&config, with_cluster(&first.url(), "a:")).expect("config");
    let env: warden_config::Environment = [
        ("ODOO_KEY", "0123456789abcdef0123456789abcdef01234567"),
        (
            "CONFIRM",
            "8f1c0e7a52d94b36a1e0c7f25b9d4e38a6c1f0b7e2d94a5c3b8e1f0a7d6c5b49",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let loaded = warden_transport::setup::load(&config, &env).expect("the configuration loads");
    let (fleet, windows) =
        warden_transport::setup::build_fleet(loaded.cluster.as_ref().expect("[cluster]"))
            .expect("a fleet");
    let auditor = Auditor::builder()
        .shared_alerts(windows)
        .build()
        .expect("auditor");
    let gateway = Gateway::with_fleet(loaded.runtime, ServerInfo::default(), auditor, fleet);
    let handle = warden_transport::reload::spawn_with_cluster(
        gateway.clone(),
        config.clone(),
        env,
        loaded.cluster,
    );
    let store = gateway.shared_store().expect("a store");
    // Unchanged [cluster] (another section changed): the same store, the same connection.
    std::fs::write(
        &config,
        with_cluster(&first.url(), "a:")
            .replace("\"res.partner\"", "\"res.partner\", \"res.country\""),
    )
    .expect("config");
    handle.reload_now().expect("reloads");
    assert!(Arc::ptr_eq(
        &store,
        &gateway.shared_store().expect("a store")
    ));
    // Another Redis: the gateway moves to it (the first can go away).
    std::fs::write(&config, with_cluster(&second.url(), "b:")).expect("config");
    handle.reload_now().expect("reloads");
    assert!(!Arc::ptr_eq(
        &store,
        &gateway.shared_store().expect("a store")
    ));
    drop(first);
    assert_eq!(
        gateway.check_shared_state().await,
        Some(true),
        "the second answers"
    );
    second.kill();
    assert_eq!(gateway.check_shared_state().await, Some(false));
    // No [cluster] any more: one process again.
    std::fs::write(&config, base).expect("config");
    handle.reload_now().expect("reloads");
    assert!(gateway.shared_status().is_none());
}
