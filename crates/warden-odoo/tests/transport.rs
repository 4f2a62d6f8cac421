//! Transport behaviour on loopback: refused connections, TLS verification, the answer size
//! cap, timeouts, broken answers, and the configuration refusals.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use support::Reply;
use tokio::net::TcpListener;
use tokio_rustls::rustls;
use warden_odoo::{
    Credential, ErrorKind, OdooClient, OdooConfig, Origin, Protocol, SecretString, TlsOptions,
};

const VERSION_BODY: &str = r#"{"jsonrpc": "2.0", "id": 1, "result": {"server_version": "18.0", "server_version_info": [18, 0, 0, "final", 0, ""], "server_serie": "18.0", "protocol_version": 1}}"#;

fn config(url: url::Url) -> OdooConfig {
    let mut config = OdooConfig::new(
        url,
        "odoo",
        "admin",
        Credential::ApiKey(SecretString::from("transport-test-key".to_owned())),
    );
    config.timeout = Duration::from_secs(10);
    config
}

#[tokio::test]
async fn refused_connection_is_connect_error_quickly() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let url = url::Url::parse(&format!("http://{addr}")).expect("url");
    let client = OdooClient::new(config(url)).expect("client");
    let started = Instant::now();
    let error = client.version().await.expect_err("nothing listens");
    assert_eq!(error.kind(), ErrorKind::Connect, "{error}");
    assert_eq!(error.origin(), Origin::Transport);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn slow_answer_times_out_within_the_configured_timeout() {
    // A server that accepts and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let silent_addr = silent.local_addr().expect("addr");
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
            if held.len() > 16 {
                break;
            }
        }
    });
    let mut cfg = config(url::Url::parse(&format!("http://{silent_addr}")).expect("url"));
    cfg.timeout = Duration::from_millis(300);
    let client = OdooClient::new(cfg).expect("client");
    let started = Instant::now();
    let error = client.version().await.expect_err("times out");
    let elapsed = started.elapsed();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(
        elapsed >= Duration::from_millis(250),
        "too early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_millis(1000),
        "too late: {elapsed:?}"
    );
    holder.abort();
}

#[tokio::test]
async fn oversized_answer_is_refused() {
    let big = format!(
        r#"{{"jsonrpc": "2.0", "id": 1, "result": "{}"}}"#,
        "x".repeat(200_000)
    );
    let server = support::replay(vec![Reply::new(200, "application/json", big)]).await;
    let mut cfg = config(server.url());
    cfg.protocol = Protocol::JsonRpc;
    cfg.max_response_bytes = 64 * 1024;
    let client = OdooClient::new(cfg).expect("client");
    let error = client.version().await.expect_err("too large");
    assert_eq!(error.kind(), ErrorKind::ResponseTooLarge, "{error}");

    // The same answer fits under a larger cap (so the cap, not the body, caused the error).
    let mut cfg = config(server.url());
    cfg.protocol = Protocol::JsonRpc;
    cfg.max_response_bytes = 1024 * 1024;
    let client = OdooClient::new(cfg).expect("client");
    let error = client.version().await.expect_err("not a version object");
    assert_eq!(error.kind(), ErrorKind::Unparseable, "{error}");
}

#[tokio::test]
async fn garbage_and_error_statuses_are_reported() {
    let server = support::replay(vec![Reply::new(
        200,
        "text/xml",
        "<methodResponse><params>garbage",
    )])
    .await;
    let mut cfg = config(server.url());
    cfg.protocol = Protocol::XmlRpc;
    let client = OdooClient::new(cfg).expect("client");
    let error = client.version().await.expect_err("garbage");
    assert_eq!(error.kind(), ErrorKind::Unparseable, "{error}");

    let server = support::replay(vec![Reply::new(
        500,
        "text/html",
        "<h1>Internal Server Error</h1>",
    )])
    .await;
    let mut cfg = config(server.url());
    cfg.protocol = Protocol::JsonRpc;
    let client = OdooClient::new(cfg).expect("client");
    let error = client.version().await.expect_err("500");
    assert_eq!(error.kind(), ErrorKind::Http, "{error}");
}

#[tokio::test]
async fn plain_http_to_remote_hosts_and_userinfo_are_refused() {
    let remote = url::Url::parse("http://odoo.example.com").expect("url");
    let error = OdooClient::new(config(remote.clone())).expect_err("plain http refused");
    assert_eq!(error.kind(), ErrorKind::Config);
    assert_eq!(error.origin(), Origin::Client);

    let mut allowed = config(remote);
    allowed.allow_plain_http = true;
    assert!(OdooClient::new(allowed).is_ok());

    for url in [
        "https://admin:hunter2@odoo.example.com",
        "https://admin@odoo.example.com",
    ] {
        let error = OdooClient::new(config(url::Url::parse(url).expect("url")))
            .expect_err("userinfo refused");
        assert_eq!(error.kind(), ErrorKind::Config);
        assert!(!error.to_string().contains("hunter2"));
    }
    assert!(
        OdooClient::new(config(
            url::Url::parse("https://odoo.example.com").expect("url")
        ))
        .is_ok()
    );
    assert!(
        OdooClient::new(config(
            url::Url::parse("http://127.0.0.1:8069").expect("url")
        ))
        .is_ok()
    );
}

#[tokio::test]
async fn private_methods_are_refused_locally() {
    let server = support::replay(vec![Reply::new(200, "application/json", VERSION_BODY)]).await;
    let mut cfg = config(server.url());
    cfg.protocol = Protocol::JsonRpc;
    cfg.uid = Some(2);
    let client = OdooClient::new(cfg).expect("client");
    let error = client
        .call_method(
            "res.partner",
            "_read_group",
            &[1],
            Vec::new(),
            serde_json::Map::new(),
        )
        .await
        .expect_err("refused");
    assert_eq!(error.kind(), ErrorKind::InvalidArgument);
    assert!(server.requests().is_empty(), "nothing may reach odoo");
}

/// A TLS loopback server with a fresh self-signed certificate for 127.0.0.1 / localhost;
/// returns its port and the certificate PEM.
async fn tls_server() -> (u16, String, tokio::task::JoinHandle<()>) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("certificate");
    let pem = certified.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        for _ in 0..32 {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service = service_fn(|_request| async {
                    Ok::<_, std::convert::Infallible>(
                        hyper::Response::builder()
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from_static(VERSION_BODY.as_bytes())))
                            .expect("response"),
                    )
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (port, pem, task)
}

#[tokio::test]
async fn tls_self_signed_is_refused_by_default_and_accepted_when_trusted() {
    let (port, pem, task) = tls_server().await;
    let url = url::Url::parse(&format!("https://127.0.0.1:{port}")).expect("url");

    let client = OdooClient::new(config(url.clone())).expect("client");
    let error = client.version().await.expect_err("untrusted certificate");
    assert_eq!(error.kind(), ErrorKind::Tls, "{error}");

    let mut trusted = config(url.clone());
    trusted.tls = TlsOptions {
        ca_certificates_pem: vec![pem.into_bytes()],
        danger_accept_invalid_certs: false,
    };
    let client = OdooClient::new(trusted).expect("client");
    let version = client.version().await.expect("trusted certificate");
    assert_eq!(version.major, 18);

    let (logs, guard) = support::capture_logs();
    let mut dangerous = config(url);
    dangerous.tls.danger_accept_invalid_certs = true;
    let client = OdooClient::new(dangerous).expect("client");
    let version = client.version().await.expect("verification disabled");
    assert_eq!(version.major, 18);
    drop(guard);
    assert!(
        logs.contents().contains("verification is DISABLED"),
        "no warning logged: {}",
        logs.contents()
    );
    task.abort();
}

#[tokio::test]
async fn invalid_ca_pem_is_a_config_error() {
    let mut cfg = config(url::Url::parse("https://odoo.example.com").expect("url"));
    cfg.tls.ca_certificates_pem = vec![b"not a certificate".to_vec()];
    let error = OdooClient::new(cfg).expect_err("bad pem");
    assert_eq!(error.kind(), ErrorKind::Config);
}
