//! Random input over real loopback HTTP: arbitrary bodies, methods, header values and paths are
//! each answered, quickly, with a client error or a JSON-RPC answer — never a server error, a
//! hang or a dropped connection — and the server goes on serving valid requests afterwards.
//! Bounded: 256 cases, each with a 10 s limit.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use serde_json::{Value, json};
use warden_gateway::catalog::{Catalog, CatalogSettings};
use warden_gateway::engine::{Gateway, ServerInfo};
use warden_gateway::runtime::Runtime;
use warden_odoo::{Credential, OdooClient, OdooConfig, Protocol, SecretString};
use warden_policy::config::{KeyStoreFile, PolicyConfig};
use warden_transport::http::{self, HttpOptions};

struct Target {
    runtime: tokio::runtime::Runtime,
    url: String,
    secret: String,
    client: reqwest::Client,
}

fn target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (url, secret) = runtime.block_on(async {
            let sim = warden_odoo_sim::start(
                "127.0.0.1:0".parse().expect("addr"),
                warden_odoo_sim::SimOptions::default(),
            )
            .await
            .expect("sim");
            let mut config = OdooConfig::new(
                sim.url().parse().expect("url"),
                sim.database(),
                "sales_agent",
                Credential::ApiKey(SecretString::from(sim.api_key("sales_agent").expect("key"))),
            );
            config.protocol = Protocol::JsonRpc;
            let catalogs = BTreeMap::from([(
                "sales".to_owned(),
                Catalog::new(
                    OdooClient::new(config).expect("client"),
                    CatalogSettings::default(),
                ),
            )]);
            let policy: PolicyConfig = toml::from_str(
                "[profiles.reader]\nidentity = \"sales\"\nmodels = { allow = [\"res.partner\"] }\n\
                 operations = { allow = [\"read\"] }\n",
            )
            .expect("policy");
            let mut store = KeyStoreFile::default();
            let (_, secret) =
                warden_policy::keys::create(&mut store, "fuzz", "reader", None, SystemTime::now())
                    .expect("key");
            let policy =
                warden_policy::Policy::compile(&policy, &store, &["sales"]).expect("compile");
            let runtime = Runtime::new(policy, &catalogs).expect("runtime");
            let gateway = Gateway::new(runtime, ServerInfo::default());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("listen");
            let url = format!(
                "http://127.0.0.1:{}",
                listener.local_addr().expect("addr").port()
            );
            let app = http::app(
                gateway,
                HttpOptions {
                    max_body_bytes: 64 * 1024,
                    ..HttpOptions::default()
                },
            );
            tokio::spawn(async move {
                let _sim = sim;
                let _ = http::serve(
                    app,
                    listener,
                    Duration::from_secs(5),
                    Duration::from_secs(1),
                    std::future::pending::<()>(),
                )
                .await;
            });
            (url, secret)
        });
        Target {
            runtime,
            url,
            secret,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client"),
        }
    })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_/]{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A message that looks like MCP, with random parts.
fn message() -> impl Strategy<Value = Value> {
    let method = prop_oneof![
        Just("initialize".to_owned()),
        Just("tools/call".to_owned()),
        Just("tools/list".to_owned()),
        Just("resources/read".to_owned()),
        Just("notifications/cancelled".to_owned()),
        "[a-z/]{0,20}",
    ];
    let version = prop_oneof![
        Just(json!("2026-07-28")),
        Just(json!("2025-11-25")),
        json_value(),
    ];
    (method, version, json_value(), json_value(), any::<bool>()).prop_map(
        |(method, version, params, id, with_id)| {
            let mut params = match params {
                Value::Object(map) => Value::Object(map),
                other => json!({"arguments": other}),
            };
            params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": version,
                                     "io.modelcontextprotocol/clientCapabilities": {}});
            let mut message = json!({"jsonrpc": "2.0", "method": method, "params": params});
            if with_id {
                message["id"] = id;
            }
            message
        },
    )
}

#[derive(Debug, Clone)]
enum Body {
    Json(Value),
    Bytes(Vec<u8>),
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        3 => message().prop_map(Body::Json),
        1 => json_value().prop_map(Body::Json),
        1 => prop::collection::vec(any::<u8>(), 0..512).prop_map(Body::Bytes),
    ]
}

fn header_value() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        Just("2026-07-28".to_owned()),
        Just("tools/call".to_owned()),
        "[ -~]{0,30}",
    ])
}

const ALLOWED: [u16; 11] = [200, 202, 204, 400, 401, 403, 404, 405, 406, 413, 415];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_requests_get_a_clear_answer(
        body in body(),
        method in prop_oneof![Just("POST"), Just("POST"), Just("GET"), Just("DELETE"), Just("PUT")],
        path in prop_oneof![Just("/mcp".to_owned()), "/[a-z./%-]{0,20}"],
        authenticated in prop::bool::weighted(0.8),
        version in header_value(),
        mcp_method in header_value(),
        name in header_value(),
        session in header_value(),
        content_type in prop_oneof![Just("application/json".to_owned()), "[ -~]{0,20}"],
        accept in prop_oneof![Just("application/json, text/event-stream".to_owned()), "[ -~]{0,20}"],
    ) {
        let t = target();
        let status = t.runtime.block_on(async {
            let mut request = t
                .client
                .request(method.parse().expect("method"), format!("{}{}", t.url, path))
                .header("content-type", content_type)
                .header("accept", accept);
            if authenticated {
                request = request.bearer_auth(&t.secret);
            }
            for (header, value) in [
                ("mcp-protocol-version", version),
                ("mcp-method", mcp_method),
                ("mcp-name", name),
                ("mcp-session-id", session),
            ] {
                if let Some(value) = value {
                    request = request.header(header, value);
                }
            }
            request = match body {
                Body::Json(value) => request.body(value.to_string()),
                Body::Bytes(bytes) => request.body(bytes),
            };
            let response = request.send().await.expect("an answer, not a dropped connection");
            let status = response.status().as_u16();
            // The whole body arrives too (streams end).
            let _ = response.bytes().await.expect("the body ends");
            status
        });
        prop_assert!(ALLOWED.contains(&status), "status {}", status);
    }
}

#[test]
fn the_server_still_serves_after_the_random_requests() {
    random_requests_get_a_clear_answer();
    let t = target();
    let status = t.runtime.block_on(async {
        t.client
            .post(format!("{}/mcp", t.url))
            .bearer_auth(&t.secret)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/list")
            .body(
                json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientCapabilities": {}}}})
                .to_string(),
            )
            .send()
            .await
            .expect("send")
            .status()
            .as_u16()
    });
    assert_eq!(status, 200);
}
