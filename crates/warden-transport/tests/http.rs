//! The HTTP transport over real loopback HTTP against the simulator: authentication (none, wrong,
//! revoked), both protocol eras (legacy sessions bound to their key, 2026-07-28 stateless with
//! its headers checked against the body), Accept / Content-Type / body-size checks, Origin and
//! Host (DNS rebinding), the client address behind a trusted proxy and never from anyone else,
//! security headers, notifications, SSE answers, and graceful shutdown. Every refusal changes
//! nothing: the simulator sees no request.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use warden_audit::{AuditEvent, Auditor, FailurePolicy, Sink, SinkError, SinkOptions};
use warden_gateway::catalog::{Catalog, CatalogSettings};
use warden_gateway::engine::{Gateway, ServerInfo};
use warden_gateway::runtime::Runtime;
use warden_odoo::{Credential, OdooClient, OdooConfig, Protocol, SecretString};
use warden_odoo_sim::{SimHandle, SimOptions};
use warden_policy::config::{KeyStoreFile, PolicyConfig};
use warden_transport::http::{self, HttpOptions};

mod support;

const POLICY: &str = r#"
[profiles.reader]
identity = "sales"
models = { allow = ["res.partner", "res.country"] }
operations = { allow = ["read"] }
fields = { read = { deny = ["email"] } }
"#;

const LEGACY: &str = "2025-11-25";
const MODERN: &str = "2026-07-28";

/// A sink that keeps what it is given, or fails while its switch is on (a database gone).
#[derive(Clone, Default)]
struct Memory(
    Arc<Mutex<Vec<Arc<AuditEvent>>>>,
    Arc<std::sync::atomic::AtomicBool>,
);

impl Sink for Memory {
    fn name(&self) -> &str {
        "memory"
    }
    fn write(&mut self, events: &[Arc<AuditEvent>]) -> Result<(), SinkError> {
        if self.1.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(SinkError::new("the store does not answer"));
        }
        self.0.lock().expect("lock").extend(events.iter().cloned());
        Ok(())
    }
}

struct Server {
    sim: SimHandle,
    url: String,
    addr: SocketAddr,
    secrets: BTreeMap<String, String>,
    store: KeyStoreFile,
    gateway: Gateway,
    audit: Memory,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    http: reqwest::Client,
}

fn catalogs(sim: &SimHandle) -> BTreeMap<String, Catalog> {
    let mut config = OdooConfig::new(
        sim.url().parse().expect("url"),
        sim.database(),
        "sales_agent",
        Credential::ApiKey(SecretString::from(sim.api_key("sales_agent").expect("key"))),
    );
    config.protocol = Protocol::JsonRpc;
    let client = OdooClient::new(config).expect("client");
    BTreeMap::from([(
        "sales".to_owned(),
        Catalog::new(
            client,
            CatalogSettings {
                write_tools: true,
                ..CatalogSettings::default()
            },
        ),
    )])
}

fn runtime(sim: &SimHandle, store: &KeyStoreFile) -> Runtime {
    runtime_of(POLICY, sim, store)
}

fn runtime_of(policy: &str, sim: &SimHandle, store: &KeyStoreFile) -> Runtime {
    let config: PolicyConfig = toml::from_str(policy).expect("policy");
    let policy = warden_policy::Policy::compile(&config, store, &["sales"]).expect("policy");
    Runtime::new(policy, &catalogs(sim)).expect("runtime")
}

async fn start(options: HttpOptions) -> Server {
    start_with(POLICY, "reader", options).await
}

/// A server under `policy`, whose keys `alice` and `bob` have `profile`.
async fn start_with(policy: &str, profile: &str, options: HttpOptions) -> Server {
    let sim = warden_odoo_sim::start("127.0.0.1:0".parse().expect("addr"), SimOptions::default())
        .await
        .expect("sim");
    let mut store = KeyStoreFile::default();
    let mut secrets = BTreeMap::new();
    for name in ["alice", "bob"] {
        let (_, secret) =
            warden_policy::keys::create(&mut store, name, profile, None, SystemTime::now())
                .expect("key");
        secrets.insert(name.to_owned(), secret);
    }
    let audit = Memory::default();
    let metrics = http::Metrics::new();
    let auditor = Auditor::builder()
        .sink(
            audit.clone(),
            SinkOptions {
                policy: FailurePolicy::Block {
                    timeout: Duration::from_secs(2),
                },
                queue_capacity: 1024,
            },
        )
        .sink(
            metrics.sink(),
            SinkOptions {
                policy: FailurePolicy::Drop,
                queue_capacity: 1024,
            },
        )
        .build()
        .expect("auditor");
    let gateway = Gateway::with_audit(
        runtime_of(policy, &sim, &store),
        ServerInfo::default(),
        auditor,
    );
    let app = http::app_with(gateway.clone(), options, metrics);
    let served = support::serve(app, Duration::from_secs(5)).await;
    Server {
        sim,
        url: format!("{}/mcp", served.base()),
        addr: served.addr,
        secrets,
        store,
        gateway,
        audit,
        stop: Some(served.stop),
        task: served.task,
        http: support::client(),
    }
}

fn init_body(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
        "protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "http-test", "version": "1"}}})
}

fn modern_call(id: u64, tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": tool, "arguments": arguments,
        "_meta": {"io.modelcontextprotocol/protocolVersion": MODERN,
                  "io.modelcontextprotocol/clientCapabilities": {}}}})
}

impl Server {
    fn post(&self, key: Option<&str>, body: &Value) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string());
        if let Some(key) = key {
            request = request.bearer_auth(&self.secrets[key]);
        }
        request
    }

    /// A stateless 2026-07-28 tool call with matching headers, except those in `replace`.
    fn modern_with(
        &self,
        key: &str,
        id: u64,
        tool: &str,
        arguments: Value,
        replace: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let mut headers = vec![
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "tools/call"),
            ("mcp-name", tool),
        ];
        for (name, value) in replace {
            headers.retain(|(n, _)| n != name);
            headers.push((name, value));
        }
        let mut request = self
            .http
            .post(&self.url)
            .bearer_auth(&self.secrets[key])
            .body(modern_call(id, tool, arguments).to_string());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request
    }

    /// A stateless 2026-07-28 tool call with matching headers.
    fn modern(&self, key: &str, id: u64, tool: &str, arguments: Value) -> reqwest::RequestBuilder {
        self.modern_with(key, id, tool, arguments, &[])
    }

    /// A legacy session of `key`: its id.
    async fn session(&self, key: &str) -> String {
        let response = self
            .post(Some(key), &init_body(1))
            .send()
            .await
            .expect("initialize");
        assert_eq!(response.status(), 200);
        let id = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .expect("a session id")
            .to_owned();
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["result"]["protocolVersion"], LEGACY, "{body}");
        let initialized = self
            .post(
                Some(key),
                &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            )
            .header("mcp-session-id", &id)
            .send()
            .await
            .expect("initialized");
        assert_eq!(initialized.status(), 202);
        id
    }

    /// The outcome error kinds of every event recorded so far (after a flush).
    async fn recorded_error_kinds(&self) -> Vec<String> {
        assert!(self.gateway.auditor().flush(Duration::from_secs(5)).await);
        self.audit
            .0
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|e| e.error_kind().map(str::to_owned))
            .collect()
    }

    async fn stop(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(15), self.task)
            .await
            .expect("shutdown is bounded")
            .expect("the server task")
    }
}

/// The JSON-RPC message of an answer: the body, or the last `data:` of an event stream.
/// The `Mcp-Session-Id` an `initialize` answer carries.
fn session_id(response: &reqwest::Response) -> String {
    response.headers()["mcp-session-id"]
        .to_str()
        .expect("a session id")
        .to_owned()
}

async fn message(response: reqwest::Response) -> Value {
    let sse = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("text/event-stream"));
    let text = response.text().await.expect("body");
    if sse {
        let last = text
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("data: "))
            .expect("an event");
        serde_json::from_str(last).expect("json event")
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("json: {text}"))
    }
}

#[tokio::test]
async fn without_a_valid_key_nothing_is_served() {
    let server = start(HttpOptions::default()).await;
    let before = server.sim.request_count();
    let call = modern_call(1, "count_records", json!({"model": "res.partner"}));
    let none = server.post(None, &call).send().await.expect("send");
    assert_eq!(none.status(), 401);
    let challenge = none.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    let wrong = server
        .post(None, &call)
        .bearer_auth("owk_k_000000000000_0000000000000000000000000000000000000000")
        .send()
        .await
        .expect("send");
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .contains("invalid_token")
    );
    let basic = server
        .post(None, &call)
        .basic_auth("admin", Some("admin"))
        .send()
        .await
        .expect("send");
    assert_eq!(basic.status(), 401);
    assert_eq!(server.sim.request_count(), before, "nothing reached Odoo");
    // The failures are audited, with the address.
    assert!(server.gateway.auditor().flush(Duration::from_secs(5)).await);
    let reasons: Vec<String> = server
        .audit
        .0
        .lock()
        .expect("lock")
        .iter()
        .filter(|e| e.method.as_deref() == Some("authenticate"))
        .filter_map(|e| e.decision.as_ref().and_then(|d| d.reason.clone()))
        .collect();
    // No credentials (twice: none, and Basic), and the wrong key: each recorded, with why.
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert_eq!(
        reasons.iter().filter(|r| *r == "no credentials").count(),
        2,
        "{reasons:?}"
    );
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn the_modern_era_is_stateless_and_its_headers_must_match_the_body() {
    let server = start(HttpOptions::default()).await;
    let ok = server
        .modern("alice", 1, "count_records", json!({"model": "res.partner"}))
        .send()
        .await
        .expect("send");
    assert_eq!(ok.status(), 200);
    let answer = message(ok).await;
    assert_eq!(answer["result"]["isError"], false, "{answer}");

    let before = server.sim.request_count();
    for (header, value) in [
        ("mcp-method", "tools/list"),
        ("mcp-name", "search_records"),
        ("mcp-protocol-version", LEGACY),
    ] {
        let mismatched = server
            .modern_with(
                "alice",
                2,
                "count_records",
                json!({"model": "res.partner"}),
                &[(header, value)],
            )
            .send()
            .await
            .expect("send");
        assert_eq!(mismatched.status(), 400, "{header}");
        let body: Value = mismatched.json().await.expect("json");
        assert_eq!(body["error"]["code"], -32020, "{header}: {body}");
    }
    // Two values for one header are ambiguous: refused.
    let doubled = server
        .modern("alice", 2, "count_records", json!({"model": "res.partner"}))
        .header("mcp-name", "search_records")
        .send()
        .await
        .expect("send");
    assert_eq!(doubled.status(), 400);
    let missing = server
        .post(
            Some("alice"),
            &modern_call(3, "count_records", json!({"model": "res.partner"})),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(missing.status(), 400);
    assert_eq!(
        server.sim.request_count(),
        before,
        "mismatches reach nothing"
    );
    // No sessions in 2026-07-28: GET and DELETE are refused.
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let response = server
            .http
            .request(method.clone(), &server.url)
            .bearer_auth(&server.secrets["alice"])
            .header("mcp-protocol-version", MODERN)
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 405, "{method}");
    }
    server.stop().await.expect("stop");
}

/// A 2026-07-28 request with the given `_meta` and `method`, its headers matching.
fn modern_request(
    server: &Server,
    method: &str,
    meta: Value,
    version_header: &str,
) -> reqwest::RequestBuilder {
    server
        .http
        .post(&server.url)
        .bearer_auth(&server.secrets["alice"])
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", version_header)
        .header("mcp-method", method)
        .body(
            json!({"jsonrpc": "2.0", "id": 41, "method": method, "params": {"_meta": meta}})
                .to_string(),
        )
}

#[tokio::test]
async fn the_modern_envelope_is_checked_and_errors_carry_their_http_status() {
    let server = start(HttpOptions::default()).await;
    let before = server.sim.request_count();
    let caps = json!({});
    // (what, _meta, MCP-Protocol-Version header, the JSON-RPC error code; all 400)
    let refused = [
        (
            "no protocol version in _meta, though the header names 2026-07-28",
            json!({"io.modelcontextprotocol/clientCapabilities": caps}),
            MODERN,
            -32602,
        ),
        (
            "no client capabilities",
            json!({"io.modelcontextprotocol/protocolVersion": MODERN}),
            MODERN,
            -32602,
        ),
        (
            "a revision this server does not speak",
            json!({"io.modelcontextprotocol/protocolVersion": "v999.0.0",
                   "io.modelcontextprotocol/clientCapabilities": caps}),
            "v999.0.0",
            -32022,
        ),
        (
            "the header and the body disagree on the revision (checked first)",
            json!({"io.modelcontextprotocol/protocolVersion": "v999.0.0",
                   "io.modelcontextprotocol/clientCapabilities": caps}),
            MODERN,
            -32020,
        ),
    ];
    for (what, meta, header, code) in refused {
        let response = modern_request(&server, "tools/list", meta, header)
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 400, "{what}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
        assert_eq!(body["id"], 41, "{what}: the error carries the request's id");
        if code == -32022 {
            // It names what the server supports, and echoes what was asked.
            assert_eq!(body["error"]["data"]["requested"], "v999.0.0", "{body}");
            assert!(
                body["error"]["data"]["supported"]
                    .as_array()
                    .is_some_and(|v| v.contains(&json!(MODERN))),
                "{body}"
            );
        }
    }
    assert_eq!(server.sim.request_count(), before, "refusals reach nothing");
    // Header values are compared without the whitespace around them (RFC 9110).
    let response = server
        .modern_with(
            "alice",
            5,
            "count_records",
            json!({"model": "res.partner"}),
            &[("mcp-name", "  count_records  ")],
        )
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);

    // A method this server does not serve (a legacy one, or none at all): -32601, 404.
    let meta = json!({"io.modelcontextprotocol/protocolVersion": MODERN,
                      "io.modelcontextprotocol/clientCapabilities": caps});
    for method in ["ping", "unknown/method"] {
        let response = modern_request(&server, method, meta.clone(), MODERN)
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 404, "{method}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], -32601, "{method}: {body}");
    }
    // A known method is 200, answered as JSON (nothing was sent on the way).
    let response = modern_request(&server, "tools/list", meta, MODERN)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("application/json")
    );
    let kinds = server.recorded_error_kinds().await;
    for kind in [
        "invalid_params",
        "unsupported_protocol_version",
        "header_mismatch",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} is audited: {kinds:?}"
        );
    }
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn a_legacy_session_takes_any_legacy_revision_in_its_header_and_nothing_else() {
    let server = start(HttpOptions::default()).await;
    let response = server
        .post(Some("alice"), &init_body(1))
        .send()
        .await
        .expect("initialize");
    let id = session_id(&response);
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    for (named, status) in [
        ("2025-03-26", 200),
        ("2025-06-18", 200),
        (MODERN, 400),
        ("1999-01-01", 400),
    ] {
        let response = server
            .post(Some("alice"), &list)
            .header("mcp-session-id", &id)
            .header("mcp-protocol-version", named)
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), status, "{named}");
    }
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn each_request_of_a_legacy_session_is_seen_from_its_own_address() {
    // Loopback is the trusted proxy, so X-Forwarded-For says where each request comes from.
    let server = start(HttpOptions {
        trusted_proxies: vec!["127.0.0.0/8".parse().expect("net")],
        ..HttpOptions::default()
    })
    .await;
    let response = server
        .post(Some("alice"), &init_body(1))
        .header("x-forwarded-for", "198.51.100.1")
        .send()
        .await
        .expect("initialize");
    let id = session_id(&response);
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "count_records", "arguments": {"model": "res.partner"}}});
    let response = server
        .post(Some("alice"), &call)
        .header("mcp-session-id", &id)
        .header("x-forwarded-for", "203.0.113.5")
        .send()
        .await
        .expect("call");
    assert_eq!(response.status(), 200);
    assert!(server.gateway.auditor().flush(Duration::from_secs(5)).await);
    let recorded = server
        .audit
        .0
        .lock()
        .expect("lock")
        .iter()
        .rev()
        .find(|e| e.tool.is_some())
        .and_then(|e| e.client_ip.clone());
    // The address that the policy's IP rules, the rate limits and the audit see.
    assert_eq!(recorded.as_deref(), Some("203.0.113.5"));
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn a_legacy_session_belongs_to_its_key_and_ends_with_delete() {
    let server = start(HttpOptions::default()).await;
    let id = server.session("alice").await;
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let listed = server
        .post(Some("alice"), &list)
        .header("mcp-session-id", &id)
        .send()
        .await
        .expect("send");
    assert_eq!(listed.status(), 200);
    assert!(message(listed).await["result"]["tools"].is_array());
    // Another key presenting the id: as if it did not exist.
    let stolen = server
        .post(Some("bob"), &list)
        .header("mcp-session-id", &id)
        .send()
        .await
        .expect("send");
    assert_eq!(stolen.status(), 404);
    assert!(
        server
            .recorded_error_kinds()
            .await
            .iter()
            .any(|k| k == "unknown_session"),
        "the attempt is audited"
    );
    // Without a session or modern _meta, a request is refused (never served sessionless).
    let sessionless = server
        .post(Some("alice"), &list)
        .send()
        .await
        .expect("send");
    assert_eq!(sessionless.status(), 400);
    // A tool call over the session: plain JSON, though the client takes a stream, as nothing
    // is sent before the response.
    let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                      "params": {"name": "count_records", "arguments": {"model": "res.country"}}});
    let called = server
        .post(Some("alice"), &call)
        .header("mcp-session-id", &id)
        .send()
        .await
        .expect("send");
    assert_eq!(called.status(), 200);
    assert!(
        called.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("application/json")
    );
    assert_eq!(message(called).await["result"]["isError"], false);
    // DELETE by another key changes nothing; by the owner it ends the session.
    let delete = |key: &str| {
        server
            .http
            .delete(&server.url)
            .bearer_auth(&server.secrets[key])
            .header("mcp-session-id", &id)
            .send()
    };
    assert_eq!(delete("bob").await.expect("send").status(), 404);
    assert_eq!(delete("alice").await.expect("send").status(), 204);
    let after = server
        .post(Some("alice"), &list)
        .header("mcp-session-id", &id)
        .send()
        .await
        .expect("send");
    assert_eq!(after.status(), 404);
    assert_eq!(delete("alice").await.expect("send").status(), 404);
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn content_type_accept_and_size_are_checked() {
    let server = start(HttpOptions {
        max_body_bytes: 4096,
        ..HttpOptions::default()
    })
    .await;
    let body = modern_call(1, "count_records", json!({"model": "res.partner"}));
    let text = server
        .modern_with(
            "alice",
            1,
            "count_records",
            json!({"model": "res.partner"}),
            &[("content-type", "text/plain")],
        )
        .send()
        .await
        .expect("send");
    assert_eq!(text.status(), 415);
    let html = server
        .modern_with(
            "alice",
            1,
            "count_records",
            json!({"model": "res.partner"}),
            &[("accept", "text/html")],
        )
        .send()
        .await
        .expect("send");
    assert_eq!(html.status(), 406);
    let mut big = body.clone();
    big["params"]["arguments"]["domain"] = json!("x".repeat(10_000));
    let large = server
        .post(Some("alice"), &big)
        .header("mcp-protocol-version", MODERN)
        .header("mcp-method", "tools/call")
        .header("mcp-name", "count_records")
        .send()
        .await
        .expect("send");
    assert_eq!(large.status(), 413);
    let garbage = server
        .http
        .post(&server.url)
        .bearer_auth(&server.secrets["alice"])
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(garbage.status(), 400);
    let parsed: Value = garbage.json().await.expect("a JSON-RPC error");
    assert_eq!(parsed["error"]["code"], -32700);
    // A realistic message of a few hundred kilobytes is fine under the default limit.
    let roomy = start(HttpOptions::default()).await;
    let mut fine = body.clone();
    fine["params"]["arguments"]["domain"] = json!(format!(
        "[('name', 'not in', [{}])]",
        vec!["'x'"; 50_000].join(", ")
    ));
    let response = roomy
        .post(Some("alice"), &fine)
        .header("mcp-protocol-version", MODERN)
        .header("mcp-method", "tools/call")
        .header("mcp-name", "count_records")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    // Each refusal is in the audit log, with its kind and the key's name (as its other
    // requests are, so `audit search --key alice` finds them).
    let kinds = server.recorded_error_kinds().await;
    let names: Vec<(String, Option<String>)> = server
        .audit
        .0
        .lock()
        .expect("lock")
        .iter()
        .filter_map(|e| Some((e.error_kind()?.to_owned(), e.key_name.clone())))
        .collect();
    for kind in [
        "unsupported_media_type",
        "not_acceptable",
        "payload_too_large",
        "parse_error",
    ] {
        assert!(
            names
                .iter()
                .any(|(k, name)| k == kind && name.as_deref() == Some("alice")),
            "{kind} carries alice's name: {names:?}"
        );
    }
    for kind in [
        "unsupported_media_type",
        "not_acceptable",
        "payload_too_large",
        "parse_error",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    server.stop().await.expect("stop");
    roomy.stop().await.expect("stop");
}

#[tokio::test]
async fn origin_and_host_are_checked_and_headers_are_safe() {
    let server = start(HttpOptions {
        allowed_origins: vec!["https://app.example.com".to_owned()],
        ..HttpOptions::default()
    })
    .await;
    let before = server.sim.request_count();
    let evil = server
        .modern("alice", 1, "count_records", json!({"model": "res.partner"}))
        .header("origin", "https://evil.example.net")
        .send()
        .await
        .expect("send");
    assert_eq!(evil.status(), 403);
    let rebinding = server
        .modern("alice", 1, "count_records", json!({"model": "res.partner"}))
        .header("host", "attacker.example.net")
        .send()
        .await
        .expect("send");
    assert_eq!(rebinding.status(), 403);
    assert_eq!(server.sim.request_count(), before);
    let kinds = server.recorded_error_kinds().await;
    assert!(kinds.iter().any(|k| k == "forbidden_origin"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "forbidden_host"), "{kinds:?}");
    let good = server
        .modern("alice", 1, "count_records", json!({"model": "res.partner"}))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .expect("send");
    assert_eq!(good.status(), 200);
    let headers = good.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");
    // Preflight for the allowed origin, never a wildcard.
    let preflight = server
        .http
        .request(reqwest::Method::OPTIONS, &server.url)
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, mcp-session-id",
        )
        .send()
        .await
        .expect("send");
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let healthz = server
        .http
        .get(format!("http://{}/healthz", server.addr))
        .send()
        .await
        .expect("send");
    assert_eq!(healthz.status(), 200);
    assert_eq!(healthz.headers()["x-content-type-options"], "nosniff");
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn the_client_address_comes_from_the_peer_unless_it_is_a_trusted_proxy() {
    // Untrusted peer: a spoofed X-Forwarded-For is ignored.
    let server = start(HttpOptions::default()).await;
    let response = server
        .modern("alice", 1, "count_records", json!({"model": "res.partner"}))
        .header("x-forwarded-for", "203.0.113.66")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert_eq!(message(response).await["result"]["isError"], false);
    assert!(server.gateway.auditor().flush(Duration::from_secs(5)).await);
    let last_ip = |server: &Server| {
        server
            .audit
            .0
            .lock()
            .expect("lock")
            .iter()
            .rev()
            .find(|e| e.tool.is_some())
            .and_then(|e| e.client_ip.clone())
    };
    assert_eq!(last_ip(&server).as_deref(), Some("127.0.0.1"));
    server.stop().await.expect("stop");

    // Loopback is the trusted proxy: the right-most untrusted address is the client.
    let proxied = start(HttpOptions {
        trusted_proxies: vec!["127.0.0.0/8".parse().expect("net")],
        ..HttpOptions::default()
    })
    .await;
    let response = proxied
        .modern("alice", 1, "count_records", json!({"model": "res.partner"}))
        .header("x-forwarded-for", "198.51.100.1, 203.0.113.9")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert_eq!(message(response).await["result"]["isError"], false);
    assert!(
        proxied
            .gateway
            .auditor()
            .flush(Duration::from_secs(5))
            .await
    );
    assert_eq!(last_ip(&proxied).as_deref(), Some("203.0.113.9"));
    // A client's own `Forwarded`, passed through by a proxy that sets X-Forwarded-For, does not
    // decide; nor does garbage the client put left of the address the proxy appended.
    let response = proxied
        .modern("alice", 2, "count_records", json!({"model": "res.partner"}))
        .header("forwarded", "for=10.20.4.10")
        .header("x-forwarded-for", "nonsense, 203.0.113.10")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert!(
        proxied
            .gateway
            .auditor()
            .flush(Duration::from_secs(5))
            .await
    );
    assert_eq!(last_ip(&proxied).as_deref(), Some("203.0.113.10"));
    proxied.stop().await.expect("stop");
}

#[tokio::test]
async fn a_revoked_key_is_refused_at_its_next_request() {
    let server = start(HttpOptions::default()).await;
    let id = server.session("alice").await;
    let mut store = server.store.clone();
    let key_id = store
        .keys
        .iter()
        .find(|k| k.name == "alice")
        .expect("alice")
        .id
        .clone();
    warden_policy::keys::revoke(&mut store, &key_id, SystemTime::now()).expect("revoke");
    server.gateway.reload(runtime(&server.sim, &store));
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let refused = server
        .post(Some("alice"), &list)
        .header("mcp-session-id", &id)
        .send()
        .await
        .expect("send");
    assert_eq!(refused.status(), 401);
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn notifications_get_202_and_a_slow_client_is_cut_off() {
    let server = start(HttpOptions {
        request_timeout: Duration::from_millis(500),
        ..HttpOptions::default()
    })
    .await;
    let note = server
        .post(Some("alice"), &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": {"requestId": 1, "_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}}}))
        .header("mcp-protocol-version", MODERN)
        .header("mcp-method", "notifications/cancelled")
        .send()
        .await
        .expect("send");
    assert_eq!(note.status(), 202);
    // A client that sends its headers then trickles nothing of its body.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
        server.secrets["alice"]
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "the server answers and closes within the timeout"
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    // The endpoint answered, not the outer timeout: the refusal is recorded, with the key.
    assert!(server.gateway.auditor().flush(Duration::from_secs(5)).await);
    let timed_out: Vec<Option<String>> = server
        .audit
        .0
        .lock()
        .expect("lock")
        .iter()
        .filter(|e| e.error_kind() == Some("request_timeout"))
        .map(|e| e.key_name.clone())
        .collect();
    assert_eq!(timed_out, [Some("alice".to_owned())]);
    server.stop().await.expect("stop");
}

/// Open a connection to `addr` and send `head` (a request's headers, and whatever else).
async fn raw(addr: std::net::SocketAddr, head: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write");
    stream
}

/// The status line of the answer on `stream`, read within 10 s.
async fn status_line(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    let mut chunk = [0_u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        while !answer.windows(2).any(|w| w == b"\r\n") {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "an answer within 10 s");
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_duplicate_host_or_an_oversized_declared_length_is_refused_at_once() {
    let server = start(HttpOptions {
        max_body_bytes: 4096,
        // Long: a refusal that waited for the body would not come within `status_line`'s 10 s.
        request_timeout: Duration::from_secs(60),
        ..HttpOptions::default()
    })
    .await;
    let secret = &server.secrets["alice"];
    let before = server.sim.request_count();
    // Two Host headers, the first one allowed: 400 (RFC 9112 §3.2), whatever their order.
    for hosts in [
        "Host: 127.0.0.1\r\nHost: attacker.example.net",
        "Host: attacker.example.net\r\nHost: 127.0.0.1",
        "Host: 127.0.0.1\r\nHost: 127.0.0.1",
    ] {
        let body = modern_call(1, "count_records", json!({"model": "res.partner"})).to_string();
        let mut stream = raw(
            server.addr,
            &format!(
                "POST /mcp HTTP/1.1\r\n{hosts}\r\nAuthorization: Bearer {secret}\r\n\
                 Content-Type: application/json\r\nAccept: application/json\r\n\
                 MCP-Protocol-Version: {MODERN}\r\nMcp-Method: tools/call\r\n\
                 Mcp-Name: count_records\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        )
        .await;
        assert_eq!(
            status_line(&mut stream).await,
            "HTTP/1.1 400 Bad Request",
            "{hosts}"
        );
    }
    assert_eq!(
        server.sim.request_count(),
        before,
        "no duplicate-Host request reached Odoo"
    );
    // Positive control: the same request with one Host is served.
    let body = modern_call(1, "count_records", json!({"model": "res.partner"})).to_string();
    let mut stream = raw(
        server.addr,
        &format!(
            "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {secret}\r\n\
             Content-Type: application/json\r\nAccept: application/json\r\n\
             MCP-Protocol-Version: {MODERN}\r\nMcp-Method: tools/call\r\n\
             Mcp-Name: count_records\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    assert_eq!(status_line(&mut stream).await, "HTTP/1.1 200 OK");
    assert!(
        server.sim.request_count() > before,
        "the control reached Odoo"
    );
    // A declared length over the limit, and no body: 413 at once.
    let mut stream = raw(
        server.addr,
        &format!(
            "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {secret}\r\n\
             Content-Type: application/json\r\nAccept: application/json\r\n\
             Content-Length: 1000000\r\n\r\n{{"
        ),
    )
    .await;
    assert_eq!(
        status_line(&mut stream).await,
        "HTTP/1.1 413 Payload Too Large"
    );
    assert!(server.gateway.auditor().flush(Duration::from_secs(5)).await);
    let events = server.audit.0.lock().expect("lock").clone();
    let duplicates = events
        .iter()
        .filter(|e| e.error_kind() == Some("duplicate_header"))
        .count();
    assert_eq!(duplicates, 3, "each duplicate Host is recorded");
    let too_large: Vec<Option<String>> = events
        .iter()
        .filter(|e| e.error_kind() == Some("payload_too_large"))
        .map(|e| e.key_name.clone())
        .collect();
    assert_eq!(too_large, [Some("alice".to_owned())]);
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn one_key_cannot_take_every_slot() {
    let server = start(HttpOptions {
        max_concurrent_requests: 4,
        max_concurrent_requests_per_key: Some(2),
        // Long: without a share, bob would wait this long for alice's slow bodies to time out.
        request_timeout: Duration::from_secs(60),
        ..HttpOptions::default()
    })
    .await;
    let slow = |secret: &str| {
        format!(
            "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {secret}\r\n\
             Content-Type: application/json\r\nAccept: application/json\r\n\
             Content-Length: 100\r\n\r\n{{"
        )
    };
    // alice: every slot's worth of requests whose bodies never come.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(raw(server.addr, &slow(&server.secrets["alice"])).await);
    }
    // Her share is two: the other two are refused at once, with Retry-After.
    let mut refused = 0;
    for stream in &mut held {
        let read = tokio::time::timeout(Duration::from_millis(500), status_line(stream)).await;
        if let Ok(line) = read {
            assert_eq!(line, "HTTP/1.1 429 Too Many Requests");
            refused += 1;
        }
    }
    assert_eq!(
        refused, 2,
        "two of alice's four requests are over her share"
    );
    // bob is served while alice's two slow bodies hold their slots.
    let answer = server
        .modern("bob", 1, "count_records", json!({"model": "res.partner"}))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("bob is served");
    assert_eq!(answer.status(), 200);
    assert_eq!(message(answer).await["result"]["isError"], false);
    // So is alice, once her slow requests are gone.
    drop(held);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let answer = server
            .modern("alice", 2, "count_records", json!({"model": "res.partner"}))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .expect("alice");
        if answer.status() == 200 {
            break;
        }
        assert_eq!(answer.status(), 429);
        assert!(
            std::time::Instant::now() < deadline,
            "alice's slots come back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(server.gateway.auditor().flush(Duration::from_secs(5)).await);
    let busy: Vec<Option<String>> = server
        .audit
        .0
        .lock()
        .expect("lock")
        .iter()
        .filter(|e| e.error_kind() == Some("key_busy"))
        .map(|e| e.key_name.clone())
        .collect();
    assert!(busy.len() >= 2, "{busy:?}");
    assert!(
        busy.iter().all(|n| n.as_deref() == Some("alice")),
        "{busy:?}"
    );
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn shutdown_lets_a_request_in_flight_finish() {
    let server = start(HttpOptions::default()).await;
    let pending = server
        .modern("alice", 1, "count_records", json!({"model": "res.partner"}))
        .send();
    let answer = tokio::spawn(pending);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let url = server.url.clone();
    server.stop().await.expect("a clean stop");
    let answered = answer.await.expect("task");
    if let Ok(response) = answered {
        assert_eq!(response.status(), 200);
    }
    // After the stop nothing listens.
    let refused = support::client()
        .post(url)
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(refused.is_err());
}

/// `/readyz` answers 503 while a fail-closed audit sink cannot write (requests would be refused),
/// and 200 again once it can.
#[tokio::test]
async fn readiness_follows_a_fail_closed_audit_sink() {
    let token = "ops-token-0123456789abcdef";
    let server = start(HttpOptions {
        ops_token: Some(token.to_owned().into()),
        ..HttpOptions::default()
    })
    .await;
    let base = format!("http://{}", server.addr);
    let ready = || async {
        server
            .http
            .get(format!("{base}/readyz"))
            .bearer_auth(token)
            .send()
            .await
            .expect("send")
            .status()
    };
    assert_eq!(ready().await, 200);
    // The sink fails: the request waiting on its event is refused, and the gateway is not ready.
    server
        .audit
        .1
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let refused = server
        .modern("alice", 1, "count_records", json!({"model": "res.partner"}))
        .send()
        .await
        .expect("send");
    let _ = message(refused).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while ready().await != 503 {
        assert!(
            std::time::Instant::now() < deadline,
            "not ready while the audit log cannot be written"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // It answers again: ready again (the pipeline retries; the 5 s cache, bounded).
    server
        .audit
        .1
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while ready().await != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "ready again once the audit log is written"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn readiness_and_metrics_need_the_operations_token() {
    let token = "ops-token-0123456789abcdef";
    let server = start(HttpOptions {
        ops_token: Some(token.to_owned().into()),
        ..HttpOptions::default()
    })
    .await;
    let ok = server
        .modern("alice", 1, "count_records", json!({"model": "res.partner"}))
        .send()
        .await
        .expect("send");
    assert_eq!(message(ok).await["result"]["isError"], false);
    let denied = server
        .modern(
            "alice",
            2,
            "update_records",
            json!({"model": "res.partner", "ids": [1], "values": "{'name': 'X'}"}),
        )
        .send()
        .await
        .expect("send");
    message(denied).await;
    assert!(server.gateway.auditor().flush(Duration::from_secs(5)).await);
    let base = format!("http://{}", server.addr);
    for path in ["/readyz", "/metrics"] {
        let anonymous = server
            .http
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("send");
        assert_eq!(anonymous.status(), 404, "{path} without the token");
        let wrong = server
            .http
            .get(format!("{base}{path}"))
            .bearer_auth("ops-token-0123456789abcdeX")
            .send()
            .await
            .expect("send");
        assert_eq!(wrong.status(), 404, "{path} with a wrong token");
        // An agent's API key is not the operations token.
        let agent = server
            .http
            .get(format!("{base}{path}"))
            .bearer_auth(&server.secrets["alice"])
            .send()
            .await
            .expect("send");
        assert_eq!(agent.status(), 404, "{path} with an API key");
    }
    let ready = server
        .http
        .get(format!("{base}/readyz"))
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    assert_eq!(ready.status(), 200);
    let metrics = server
        .http
        .get(format!("{base}/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.expect("text");
    assert!(
        text.contains("warden_requests_total{method=\"tools/call\",outcome=\"ok\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("warden_decisions_total{verdict=\"deny\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("warden_denials_total{reason=\"forbidden\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("warden_odoo_latency_seconds_count ")
            && !text.contains("warden_odoo_latency_seconds_count 0"),
        "{text}"
    );
    assert!(
        text.contains("warden_audit_queue_depth{sink=\"memory\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("warden_audit_dropped_total{sink=\"memory\"} 0"),
        "{text}"
    );
    for secret in server.secrets.values() {
        assert!(!text.contains(secret.as_str()));
    }
    assert!(
        !text.contains(&server.sim.url()),
        "no configuration in the metrics"
    );
    // Odoo failing: not ready (within the 5 s cache it may still say ready; wait it out, bounded).
    server.sim.set_fault(warden_odoo_sim::Fault::Http500);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let ready = server
            .http
            .get(format!("{base}/readyz"))
            .bearer_auth(token)
            .send()
            .await
            .expect("send");
        if ready.status() == 503 {
            assert!(
                !ready.text().await.expect("text").contains("127.0.0.1"),
                "no host named"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "readiness follows Odoo"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn tls_serves_with_hsts_and_refuses_plain_http() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    let cert_pem = certified.cert.pem();
    let key_pem = certified.signing_key.serialize_pem();
    assert!(http::tls::acceptor(cert_pem.as_bytes(), b"not a key").is_err());
    let acceptor = http::tls::acceptor(cert_pem.as_bytes(), key_pem.as_bytes()).expect("acceptor");

    let sim = warden_odoo_sim::start("127.0.0.1:0".parse().expect("addr"), SimOptions::default())
        .await
        .expect("sim");
    let mut store = KeyStoreFile::default();
    let (_, secret) =
        warden_policy::keys::create(&mut store, "alice", "reader", None, SystemTime::now())
            .expect("key");
    let gateway = Gateway::new(runtime(&sim, &store), ServerInfo::default());
    let app = http::app(gateway, HttpOptions::default()).with_tls(acceptor);
    let served = support::serve(app, Duration::from_secs(2)).await;
    let port = served.addr.port();

    let _ = rustls::crypto::ring::default_provider().install_default();
    let trusted = reqwest::Certificate::from_pem(cert_pem.as_bytes()).expect("cert");
    let tls_client = reqwest::Client::builder()
        .add_root_certificate(trusted)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let response = tls_client
        .post(format!("https://localhost:{port}/mcp"))
        .bearer_auth(&secret)
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .header("mcp-protocol-version", MODERN)
        .header("mcp-method", "tools/list")
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {}}}})
            .to_string(),
        )
        .send()
        .await
        .expect("https");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    // Plain HTTP on the TLS port gets no answer it could mistake for one.
    let plain = support::client()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.is_err() || !plain.expect("answer").status().is_success());
    tokio::time::timeout(Duration::from_secs(15), served.stop())
        .await
        .expect("bounded")
        .expect("serve");
}

#[tokio::test]
async fn failed_authentications_are_rate_limited_per_address() {
    let server = start(HttpOptions::default()).await;
    let wrong = "owk_000000000000_0000000000000000000000000000000000000000";
    let mut limited = None;
    for attempt in 0..40 {
        let response = server
            .post(
                None,
                &modern_call(attempt, "count_records", json!({"model": "res.partner"})),
            )
            .bearer_auth(wrong)
            .send()
            .await
            .expect("send");
        match response.status().as_u16() {
            401 => continue,
            429 => {
                limited = Some(response);
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    let limited = limited.expect("the address is limited after repeated failures");
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(retry >= 1);
    // While limited, even the right key is refused from that address, and nothing reaches Odoo.
    let before = server.sim.request_count();
    let right = server
        .modern(
            "alice",
            99,
            "count_records",
            json!({"model": "res.partner"}),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(right.status(), 429);
    assert_eq!(server.sim.request_count(), before);
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn a_key_at_its_session_limit_gives_up_its_oldest_session() {
    let server = start(HttpOptions {
        max_sessions_per_key: 2,
        ..HttpOptions::default()
    })
    .await;
    let first = server.session("alice").await;
    let second = server.session("alice").await;
    let third = server.session("alice").await;
    let bob = server.session("bob").await;
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let status = |id: String, key: &'static str| {
        let request = server
            .post(Some(key), &list)
            .header("mcp-session-id", id)
            .send();
        async move { request.await.expect("send").status().as_u16() }
    };
    assert_eq!(
        status(first, "alice").await,
        404,
        "the oldest session ended"
    );
    assert_eq!(status(second, "alice").await, 200);
    assert_eq!(status(third, "alice").await, 200);
    assert_eq!(status(bob, "bob").await, 200, "other keys are not affected");
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn a_legacy_confirmation_travels_on_the_event_stream() {
    const CONFIRMING: &str = r#"
[profiles.writer]
identity = "sales"
models = { allow = ["res.partner"] }
operations = { allow = ["read", "write"] }
fields = { write = { allow = ["phone"] } }
confirm_writes = true
"#;
    let server = start_with(CONFIRMING, "writer", HttpOptions::default()).await;
    // A session whose client can ask its user (elicitation).
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": LEGACY, "capabilities": {"elicitation": {}},
        "clientInfo": {"name": "http-test", "version": "1"}}});
    let response = server
        .post(Some("alice"), &init)
        .send()
        .await
        .expect("initialize");
    let id = session_id(&response);
    let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
        "name": "update_records",
        "arguments": {"model": "res.partner", "ids": [3], "values": "{'phone': '+32 2 555 00 00'}"}}});
    let mut stream = server
        .post(Some("alice"), &call)
        .header("mcp-session-id", &id)
        .send()
        .await
        .expect("call");
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/event-stream")
    );
    // The server asks on the stream; the client answers with a POST of its own.
    let mut buffer = String::new();
    let mut answered = false;
    let final_message = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let chunk = stream
                .chunk()
                .await
                .expect("read")
                .expect("the stream goes on");
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) else {
                    continue;
                };
                let message: Value = serde_json::from_str(data).expect("json event");
                if message["method"] == "elicitation/create" && !answered {
                    answered = true;
                    let answer = json!({"jsonrpc": "2.0", "id": message["id"],
                        "result": {"action": "accept", "content": {}}});
                    let posted = server
                        .post(Some("alice"), &answer)
                        .header("mcp-session-id", &id)
                        .send()
                        .await
                        .expect("answer");
                    assert_eq!(posted.status(), 202);
                } else if message["id"] == 7 {
                    return message;
                }
            }
        }
    })
    .await
    .expect("the call ends");
    assert!(answered, "the server asked for a confirmation");
    assert_eq!(final_message["result"]["isError"], false, "{final_message}");
    server.stop().await.expect("stop");
}
