//! The client's own time per call, for each protocol, against the zero-latency simulator.
//!
//! Run with: `cargo bench -p warden-odoo --bench call_overhead`. For every protocol two numbers:
//! `client/<protocol>`, a `search_read` of 20 partners through `OdooClient`, and `raw/<protocol>`,
//! the same request pre-encoded and posted with a bare `reqwest` client whose answer is only read,
//! not decoded. The difference is what the client adds: encoding, decoding into values, error
//! classification and session/uid bookkeeping. Both talk to the same simulator over loopback.

// criterion_group! defines an undocumented public function.
#![allow(missing_docs)]

use std::net::SocketAddr;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use warden_odoo::{Credential, OdooClient, OdooConfig, Protocol, SearchRead};
use warden_odoo_sim::{OdooVersion, SimHandle, SimOptions};

const FIELDS: [&str; 3] = ["name", "email", "country_id"];

struct Fixture {
    sim: SimHandle,
    raw: reqwest::Client,
}

fn domain() -> Value {
    json!([["is_company", "=", true]])
}

fn query() -> SearchRead {
    let mut q = SearchRead::new(domain());
    q.fields = FIELDS.iter().map(|f| (*f).to_owned()).collect();
    q.limit = Some(20);
    q
}

fn client(sim: &SimHandle, protocol: Protocol) -> OdooClient {
    let credential = match protocol {
        Protocol::Session => Credential::Password("admin".to_owned().into()),
        _ => Credential::ApiKey(sim.api_key("admin").expect("admin key").into()),
    };
    let mut config = OdooConfig::new(
        sim.url().parse().expect("url"),
        sim.database(),
        "admin",
        credential,
    );
    config.protocol = protocol;
    OdooClient::new(config).expect("client")
}

/// One raw request: path, extra headers, body.
struct Raw {
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

async fn raw_request(fx: &Fixture, protocol: Protocol) -> Raw {
    let db = fx.sim.database().to_owned();
    let key = fx.sim.api_key("admin").expect("admin key");
    let kwargs = json!({"fields": FIELDS, "limit": 20});
    match protocol {
        Protocol::XmlRpc => Raw {
            path: "/xmlrpc/2/object".into(),
            headers: vec![("content-type", "text/xml".into())],
            body: warden_odoo::wire::encode_xmlrpc_call(
                "execute_kw",
                &[
                    json!(db),
                    json!(2),
                    json!(key),
                    json!("res.partner"),
                    json!("search_read"),
                    json!([domain()]),
                    kwargs,
                ],
            )
            .expect("encode"),
        },
        Protocol::JsonRpc => Raw {
            path: "/jsonrpc".into(),
            headers: vec![("content-type", "application/json".into())],
            body: serde_json::to_vec(&json!({"jsonrpc": "2.0", "method": "call", "id": 1,
                "params": {"service": "object", "method": "execute_kw",
                    "args": [db, 2, key, "res.partner", "search_read", [domain()], kwargs]}}))
            .expect("json"),
        },
        Protocol::Session => {
            let auth = fx
                .raw
                .post(format!("{}/web/session/authenticate", fx.sim.url()))
                .json(&json!({"jsonrpc": "2.0", "method": "call", "id": 1,
                    "params": {"db": db, "login": "admin", "password": "admin"}}))
                .send()
                .await
                .expect("authenticate");
            let cookie = auth
                .headers()
                .get("set-cookie")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .expect("session cookie")
                .to_owned();
            Raw {
                path: "/web/dataset/call_kw".into(),
                headers: vec![
                    ("content-type", "application/json".into()),
                    ("cookie", cookie),
                ],
                body: serde_json::to_vec(&json!({"jsonrpc": "2.0", "method": "call", "id": 1,
                    "params": {"model": "res.partner", "method": "search_read",
                        "args": [domain()], "kwargs": kwargs}}))
                .expect("json"),
            }
        }
        _ => Raw {
            path: "/json/2/res.partner/search_read".into(),
            headers: vec![
                ("content-type", "application/json".into()),
                ("authorization", format!("bearer {key}")),
                ("x-odoo-database", db),
            ],
            body: serde_json::to_vec(&json!({"domain": domain(), "fields": FIELDS, "limit": 20}))
                .expect("json"),
        },
    }
}

fn overhead(c: &mut Criterion) {
    // The bare baseline client needs a process-wide rustls provider (the workspace builds reqwest
    // without one; `OdooClient` brings its own).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let fx = rt.block_on(async {
        let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        let options = SimOptions {
            version: OdooVersion::V19,
            ..SimOptions::default()
        };
        let sim = warden_odoo_sim::start(addr, options)
            .await
            .expect("sim starts");
        Fixture {
            sim,
            raw: reqwest::Client::builder()
                .tcp_nodelay(true)
                .build()
                .expect("raw"),
        }
    });

    let mut group = c.benchmark_group("search_read_20");
    group.measurement_time(Duration::from_secs(5));
    for (name, protocol) in [
        ("xmlrpc", Protocol::XmlRpc),
        ("jsonrpc", Protocol::JsonRpc),
        ("session", Protocol::Session),
        ("json2", Protocol::Json2),
    ] {
        let odoo = client(&fx.sim, protocol);
        // Warm up: authentication, session, connection pool; and prove the call works.
        let rows = rt
            .block_on(odoo.search_read("res.partner", &query()))
            .expect("search_read");
        assert!(
            !rows.is_empty(),
            "{name}: the simulator returned no company"
        );
        group.bench_function(format!("client/{name}"), |b| {
            b.to_async(&rt).iter(|| async {
                odoo.search_read("res.partner", &query())
                    .await
                    .expect("search_read")
            });
        });

        let raw = rt.block_on(raw_request(&fx, protocol));
        let url = format!("{}{}", fx.sim.url(), raw.path);
        group.bench_function(format!("raw/{name}"), |b| {
            b.to_async(&rt).iter(|| async {
                let mut request = fx.raw.post(&url).body(raw.body.clone());
                for (header, value) in &raw.headers {
                    request = request.header(*header, value);
                }
                let response = request.send().await.expect("send");
                assert!(
                    response.status().is_success(),
                    "{name}: {}",
                    response.status()
                );
                response.bytes().await.expect("body")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
