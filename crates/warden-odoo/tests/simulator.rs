//! End to end against the Odoo simulator: JSON-2 on a V19 simulator through every typed
//! helper, protocol auto-detection, transparent session renewal, and injected faults.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use warden_odoo::{
    Credential, ErrorKind, OdooClient, OdooConfig, Protocol, ReadGroup, SearchRead, SecretString,
};
use warden_odoo_sim::{Fault, OdooVersion, SimHandle, SimOptions};

async fn sim(version: OdooVersion) -> SimHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let options = SimOptions {
        version,
        api_keys: BTreeMap::new(),
        ..SimOptions::default()
    };
    warden_odoo_sim::serve(listener, options)
        .await
        .expect("simulator")
}

fn client_with(
    sim: &SimHandle,
    login: &str,
    credential: Credential,
    protocol: Protocol,
) -> OdooClient {
    let url = url::Url::parse(&sim.url()).expect("url");
    let mut config = OdooConfig::new(url, sim.database(), login, credential);
    config.protocol = protocol;
    config.timeout = Duration::from_secs(10);
    OdooClient::new(config).expect("client")
}

fn api_key(sim: &SimHandle, login: &str) -> Credential {
    Credential::ApiKey(SecretString::from(sim.api_key(login).expect("api key")))
}

fn password(login: &str) -> Credential {
    Credential::Password(SecretString::from(login.to_owned()))
}

fn vals(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("object")
}

#[tokio::test]
async fn json2_end_to_end_through_every_typed_helper() {
    let sim = sim(OdooVersion::V19).await;
    let client = client_with(&sim, "admin", api_key(&sim, "admin"), Protocol::Json2);
    assert_eq!(client.version().await.expect("version").major, 19);

    let ids = client
        .create(
            "res.partner",
            vec![vals(json!({"name": "Json2 Test Co", "is_company": true}))],
        )
        .await
        .expect("create");
    assert_eq!(ids.len(), 1);
    let id = ids[0];

    let domain = json!([["name", "=", "Json2 Test Co"]]);
    let found = client
        .search_read(
            "res.partner",
            &SearchRead {
                domain: domain.clone(),
                fields: vec!["name".into()],
                limit: Some(5),
                ..SearchRead::default()
            },
        )
        .await
        .expect("search_read");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], json!(id));
    assert_eq!(
        client
            .search_count("res.partner", &domain)
            .await
            .expect("count"),
        1
    );

    assert!(
        client
            .write("res.partner", &[id], vals(json!({"city": "Springfield"})))
            .await
            .expect("write")
    );
    let read = client
        .read("res.partner", &[id], &["city".into()])
        .await
        .expect("read");
    assert_eq!(read[0]["city"], json!("Springfield"));

    let fields = client
        .fields_get("res.partner", &["type".into()])
        .await
        .expect("fields_get");
    assert!(fields.contains_key("name"));
    let pairs = client
        .name_search("res.partner", "Json2 Test", &json!([]), 5)
        .await
        .expect("name_search");
    assert!(pairs.iter().any(|(pid, _)| *pid == id));
    let groups = client
        .read_group(
            "res.partner",
            &ReadGroup {
                fields: vec!["id:count".into()],
                groupby: vec!["is_company".into()],
                ..ReadGroup::default()
            },
        )
        .await
        .expect("read_group");
    assert!(!groups.is_empty());
    let generic = client
        .execute_kw(
            "res.partner",
            "search_count",
            vec![domain.clone()],
            Map::new(),
        )
        .await
        .expect("execute_kw");
    assert_eq!(generic, json!(1));

    assert!(client.unlink("res.partner", &[id]).await.expect("unlink"));
    assert_eq!(
        client
            .search_count("res.partner", &domain)
            .await
            .expect("count"),
        0
    );
    let error = client
        .write("res.partner", &[id], vals(json!({"city": "x"})))
        .await
        .expect_err("deleted");
    assert_eq!(error.kind(), ErrorKind::MissingRecord, "{error}");
}

#[tokio::test]
async fn auto_picks_the_protocol_from_version_and_credential() {
    let v19 = sim(OdooVersion::V19).await;
    let client = client_with(&v19, "admin", api_key(&v19, "admin"), Protocol::Auto);
    assert_eq!(client.protocol().await.expect("protocol"), Protocol::Json2);
    assert!(
        client
            .search_count("res.partner", &json!([]))
            .await
            .expect("count")
            > 0
    );

    let v18 = sim(OdooVersion::V18).await;
    let client = client_with(&v18, "sales_agent", password("sales_agent"), Protocol::Auto);
    assert_eq!(
        client.protocol().await.expect("protocol"),
        Protocol::Session
    );
    assert_eq!(client.authenticate().await.expect("uid"), 8);

    let client = client_with(&v18, "admin", api_key(&v18, "admin"), Protocol::Auto);
    assert_eq!(
        client.protocol().await.expect("protocol"),
        Protocol::JsonRpc
    );
    assert_eq!(client.authenticate().await.expect("uid"), 2);
    assert!(
        client
            .search_count("res.partner", &json!([]))
            .await
            .expect("count")
            > 0
    );
}

#[tokio::test]
async fn expired_sessions_are_renewed_once_for_concurrent_calls() {
    let sim = sim(OdooVersion::V18).await;
    let client = client_with(&sim, "admin", password("admin"), Protocol::Session);
    client
        .search_count("res.partner", &json!([]))
        .await
        .expect("first call");
    sim.expire_sessions();
    // With some latency all five calls are in flight before the first answer comes back, so
    // all five meet the expired session.
    sim.set_latency(Duration::from_millis(50));
    let before = sim.request_count();
    let calls: Vec<_> = (0..5)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.search_count("res.partner", &json!([])).await })
        })
        .collect();
    for call in calls {
        call.await.expect("task").expect("call after expiry");
    }
    let requests = sim.request_count() - before;
    // 5 calls that fail with code 100, exactly one re-authentication, 5 retries.
    assert_eq!(requests, 11, "expected 5 expired + 1 login + 5 retries");
}

#[tokio::test]
async fn faults_map_to_transport_errors_over_every_protocol() {
    // A V19 simulator serves all four protocols.
    let sim = sim(OdooVersion::V19).await;
    for protocol in [
        Protocol::XmlRpc,
        Protocol::JsonRpc,
        Protocol::Session,
        Protocol::Json2,
    ] {
        let credential = if protocol == Protocol::Session {
            password("admin")
        } else {
            api_key(&sim, "admin")
        };
        let url = url::Url::parse(&sim.url()).expect("url");
        let mut config = OdooConfig::new(url, sim.database(), "admin", credential);
        config.protocol = protocol;
        config.timeout = Duration::from_millis(300);
        let client = OdooClient::new(config).expect("client");
        // Authenticate (uid or session) before the faults start.
        assert!(
            client
                .search_count("res.partner", &json!([]))
                .await
                .expect("warm-up")
                > 0
        );

        sim.set_fault(Fault::Delay(Duration::from_secs(3)));
        let started = Instant::now();
        let error = client
            .search_count("res.partner", &json!([]))
            .await
            .expect_err("timeout");
        let elapsed = started.elapsed();
        assert_eq!(error.kind(), ErrorKind::Timeout, "{protocol}: {error}");
        assert!(
            elapsed > Duration::from_millis(250) && elapsed < Duration::from_millis(1000),
            "{protocol}: timed out after {elapsed:?} for a 300 ms timeout"
        );

        sim.set_fault(Fault::Garbage);
        let error = client
            .search_count("res.partner", &json!([]))
            .await
            .expect_err("garbage");
        assert_eq!(error.kind(), ErrorKind::Unparseable, "{protocol}: {error}");

        sim.set_fault(Fault::Http500);
        let error = client
            .search_count("res.partner", &json!([]))
            .await
            .expect_err("500");
        assert!(
            matches!(error.kind(), ErrorKind::Http | ErrorKind::Server),
            "{protocol}: {error}"
        );

        sim.set_fault(Fault::DropConnection);
        let started = Instant::now();
        let error = client
            .search_count("res.partner", &json!([]))
            .await
            .expect_err("dropped");
        assert!(
            matches!(error.kind(), ErrorKind::ConnectionLost | ErrorKind::Connect),
            "{protocol}: {error} ({:?})",
            error.kind()
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{protocol}: no hang"
        );

        sim.set_fault(Fault::None);
        assert!(
            client
                .search_count("res.partner", &json!([]))
                .await
                .expect("recovered")
                > 0
        );
    }
}

#[tokio::test]
async fn keyword_arguments_never_replace_the_ids_of_a_method_call() {
    let sim = sim(OdooVersion::V19).await;
    for protocol in [Protocol::Json2, Protocol::JsonRpc, Protocol::XmlRpc] {
        let client = client_with(&sim, "admin", api_key(&sim, "admin"), protocol);
        let before = sim.request_count();
        for reserved in ["ids", "args"] {
            let error = client
                .call_method(
                    "sale.order",
                    "action_confirm",
                    &[17],
                    Vec::new(),
                    vals(serde_json::json!({ reserved: [3] })),
                )
                .await
                .expect_err("a reserved keyword argument is refused");
            assert_eq!(
                error.kind(),
                warden_odoo::ErrorKind::InvalidArgument,
                "{protocol:?}"
            );
        }
        assert_eq!(
            sim.request_count(),
            before,
            "{protocol:?}: nothing reached Odoo"
        );
    }
}
