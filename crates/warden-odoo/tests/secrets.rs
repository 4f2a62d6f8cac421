//! No secret anywhere: `Debug` of config, credential and client, `Display`/`Debug` of errors,
//! and everything logged at TRACE level, over every protocol, in success and failure.

mod support;

use std::time::Duration;

use serde_json::{Map, json};
use support::Reply;
use tokio::net::TcpListener;
use warden_odoo::{Credential, OdooClient, OdooConfig, Protocol, SearchRead, SecretString};

const SECRET: &str = "Zq9-distinctive-SECRET-4711";

fn wire(name: &str) -> Reply {
    let path = format!(
        "{}/../../testdata/odoo-wire/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let case: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
    let mut reply = Reply::new(
        u16::try_from(case["response"]["status"].as_u64().expect("status")).expect("u16"),
        case["response"]["headers"]["content-type"]
            .as_str()
            .expect("content type"),
        case["response"]["body"]
            .as_str()
            .expect("body")
            .as_bytes()
            .to_vec(),
    );
    if let Some(cookie) = case["response"]["headers"]["set-cookie"].as_str() {
        reply.headers.push((
            "set-cookie".to_owned(),
            cookie.replace("<SESSION>", "secretsTestSession"),
        ));
    }
    reply
}

fn client(url: url::Url, protocol: Protocol, credential: Credential) -> OdooClient {
    let mut config = OdooConfig::new(url, "odoo", "admin", credential);
    config.protocol = protocol;
    config.timeout = Duration::from_millis(400);
    OdooClient::new(config).expect("client")
}

fn key() -> Credential {
    Credential::ApiKey(SecretString::from(SECRET.to_owned()))
}

fn password() -> Credential {
    Credential::Password(SecretString::from(SECRET.to_owned()))
}

fn query() -> SearchRead {
    SearchRead {
        limit: Some(5),
        ..SearchRead::default()
    }
}

#[tokio::test]
async fn secrets_never_appear_in_debug_errors_or_logs() {
    let (logs, guard) = support::capture_logs();
    let mut shown: Vec<String> = Vec::new();

    let config = OdooConfig::new(
        url::Url::parse("https://odoo.example.com").expect("url"),
        "odoo",
        "admin",
        key(),
    );
    shown.push(format!("{config:?}"));
    shown.push(format!("{:?}", key()));
    shown.push(format!("{:?}", password()));
    shown.push(format!("{:?}", OdooClient::new(config).expect("client")));

    // XML-RPC and JSON-RPC: authenticate + call succeed, then bad credentials.
    for (protocol, prefix) in [(Protocol::XmlRpc, "xmlrpc"), (Protocol::JsonRpc, "jsonrpc")] {
        let server = support::replay(vec![
            wire(&format!("{prefix}-common-authenticate-ok")),
            wire(&format!("{prefix}-search_read-ok")),
        ])
        .await;
        let c = client(server.url(), protocol, key());
        let records = c
            .search_read("res.partner", &query())
            .await
            .expect("search_read");
        assert!(!records.is_empty());
        shown.push(format!("{c:?}"));
        assert!(
            server
                .requests()
                .iter()
                .any(|r| String::from_utf8_lossy(&r.body).contains(SECRET)),
            "the secret is sent on the wire"
        );

        let server = support::replay(vec![wire(&format!(
            "{prefix}-common-authenticate-bad-password"
        ))])
        .await;
        let error = client(server.url(), protocol, password())
            .authenticate()
            .await
            .expect_err("bad password");
        shown.push(format!("{error} {error:?}"));
        let server = support::replay(vec![wire(&format!("{prefix}-bad-credentials"))]).await;
        let mut config = OdooConfig::new(server.url(), "odoo", "admin", password());
        config.protocol = protocol;
        config.uid = Some(2);
        let error = OdooClient::new(config)
            .expect("client")
            .search_count("res.partner", &json!([]))
            .await
            .expect_err("denied");
        shown.push(format!("{error} {error:?}"));
        let server = support::replay(vec![Reply::new(200, "text/xml", "<<garbage")]).await;
        let error = client(server.url(), protocol, key())
            .authenticate()
            .await
            .expect_err("garbage");
        shown.push(format!("{error} {error:?}"));
    }

    // Web session: success (the session cookie is a secret too) and a refused password.
    let server = support::replay(vec![
        wire("session-authenticate-ok"),
        wire("session-call_kw-search_read-ok"),
    ])
    .await;
    let c = client(server.url(), Protocol::Session, password());
    c.search_read("res.partner", &query())
        .await
        .expect("session search_read");
    shown.push(format!("{c:?}"));
    let server = support::replay(vec![wire("session-authenticate-bad-password")]).await;
    let error = client(server.url(), Protocol::Session, password())
        .authenticate()
        .await
        .expect_err("bad password");
    shown.push(format!("{error} {error:?}"));

    // JSON-2: success, then an invalid key.
    let server = support::replay(vec![Reply::new(
        200,
        "application/json",
        r#"[{"id": 1, "name": "YourCompany"}]"#,
    )])
    .await;
    let c = client(server.url(), Protocol::Json2, key());
    c.search_read("res.partner", &query())
        .await
        .expect("json2 search_read");
    let sent = server.requests();
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("bearer {SECRET}").as_str())
    );
    let server = support::replay(vec![Reply::new(
        401,
        "application/json",
        r#"{"name": "werkzeug.exceptions.Unauthorized", "message": "Invalid apikey", "arguments": [], "context": {}, "debug": "Traceback (most recent call last):\n  File \"/opt/odoo/x.py\"\nUnauthorized"}"#,
    )])
    .await;
    let error = client(server.url(), Protocol::Json2, key())
        .execute_kw("res.partner", "search_count", vec![json!([])], Map::new())
        .await
        .expect_err("invalid key");
    assert_eq!(error.kind(), warden_odoo::ErrorKind::AccessDenied);
    shown.push(format!("{error} {error:?}"));

    // A timeout.
    let silent = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url =
        url::Url::parse(&format!("http://{}", silent.local_addr().expect("addr"))).expect("url");
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        for _ in 0..8 {
            let Ok((stream, _)) = silent.accept().await else {
                return;
            };
            held.push(stream);
        }
    });
    let error = client(url, Protocol::JsonRpc, key())
        .authenticate()
        .await
        .expect_err("timeout");
    assert_eq!(error.kind(), warden_odoo::ErrorKind::Timeout);
    shown.push(format!("{error} {error:?}"));
    holder.abort();

    drop(guard);
    let logged = logs.contents();
    assert!(
        logged.contains("odoo call"),
        "the client logged nothing: {logged}"
    );
    for text in shown.iter().chain(std::iter::once(&logged)) {
        assert!(!text.contains(SECRET), "secret leaked in: {text}");
        assert!(
            !text.contains("secretsTestSession"),
            "session cookie leaked in: {text}"
        );
    }
}
