//! The audit pipeline as `setup::build_auditor` opens it from the configuration: with
//! `[audit] signing_key_env` and `anchors_file`, the lines are signed, and the checkpoints (start
//! and shutdown) are appended to the anchors file and POSTed to the webhook as events of kind
//! `checkpoint`.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warden_audit::checkpoint::Anchors;
use warden_audit::verify::{VerifyOptions, verify_dir};
use warden_audit::{AuditEvent, SigningKey};
use warden_config::{Config, Environment};
use warden_transport::setup::{TransportKind, build_auditor};

const CONFIG: &str = r#"
[odoo]
url = "http://127.0.0.1:8069"
database = "odoo"

[odoo.identities.sales]
login = "sales_agent"
api_key_env = "ODOO_API_KEY"

[keys]
file = "keys.toml"

[profiles.sales]
identity = "sales"
models = { allow = ["res.partner"] }
operations = { allow = ["read"] }
"#;

const KEYS: &str = r#"
[[key]]
id = "k_3b62781464d6"
name = "test-agent"
profile = "sales"
hash = "sha256:5bd75d3a04a9a609e1d695b9f9d2cd4f0ece02c2465abba15c78e727fb010be6"
created = "2026-08-25T00:00:00Z"
"#;

/// A webhook receiver on loopback that answers 200 and keeps every body.
async fn receiver() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&bodies);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let kept = Arc::clone(&kept);
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                loop {
                    let mut chunk = [0u8; 8192];
                    let Ok(read) = socket.read(&mut chunk).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..read]);
                    // Every complete request in the buffer.
                    while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buffer[..end]).to_lowercase();
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if buffer.len() < end + 4 + length {
                            break;
                        }
                        let body: Vec<u8> = buffer[end + 4..end + 4 + length].to_vec();
                        buffer.drain(..end + 4 + length);
                        if let Ok(value) = serde_json::from_slice(&body) {
                            kept.lock().expect("lock").push(value);
                        }
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                        if socket.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (url, bodies)
}

fn config(root: &Path, url: &str, pem: &str) -> Config {
    let text = format!(
        "{CONFIG}\n[audit]\ndir = \"{}\"\nsigning_key_env = \"SIGNING\"\nanchors_file = \"{}\"\n\n[audit.webhook]\nurl = \"{url}\"\nsecret_env = \"HOOK\"\nbatch_max_wait_ms = 10\n",
        root.join("audit").display(),
        root.join("anchors.jsonl").display()
    );
    let env: Environment = [
        ("ODOO_API_KEY", "0123456789abcdef0123456789abcdef01234567"),
        ("SIGNING", pem),
        ("HOOK", "a webhook secret of at least 32 bytes"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    Config::from_toml_with_keys(&text, KEYS, root, &env).expect("config")
}

#[tokio::test]
async fn checkpoints_reach_the_anchors_file_and_the_webhook() {
    let root = tempfile::tempdir().expect("tmp");
    let (url, bodies) = receiver().await;
    let (key, pem) = SigningKey::generate().expect("key");
    let config = config(root.path(), &url, &pem);
    let auditor = build_auditor(&config.audit, TransportKind::Http).expect("auditor");
    let mut event = AuditEvent::request(SystemTime::now(), "tools/call");
    event.request_id = Some("1".to_owned());
    auditor.record(event).await.expect("record");
    assert!(auditor.shutdown(Duration::from_secs(10)).await);

    let anchors = Anchors::read(&root.path().join("anchors.jsonl")).expect("anchors");
    let reasons: Vec<&str> = anchors
        .anchors
        .iter()
        .map(|a| a.checkpoint.reason.as_str())
        .collect();
    assert_eq!(reasons, ["start", "shutdown"]);
    let received: Vec<serde_json::Value> = bodies
        .lock()
        .expect("lock")
        .iter()
        .flat_map(|body| body["events"].as_array().cloned().unwrap_or_default())
        .collect();
    let posted: Vec<&str> = received
        .iter()
        .filter(|e| e["kind"] == "checkpoint")
        .filter_map(|e| e["checkpoint"]["reason"].as_str())
        .collect();
    assert_eq!(posted, ["start", "shutdown"], "{received:#?}");
    assert!(received.iter().any(|e| e["kind"] == "request"));

    let options = VerifyOptions {
        public_key: Some(key.public_key()),
        anchors: Some(anchors),
        ..VerifyOptions::default()
    };
    let report = verify_dir(&root.path().join("audit"), &options).expect("verify");
    assert!(report.ok(), "{report:#?}");
    assert_eq!(report.streams[0].checkpoints, 2);
}
