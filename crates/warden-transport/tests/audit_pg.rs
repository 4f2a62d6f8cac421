//! `[audit.postgres]` from a configuration to a running sink: `build_auditor` opens it beside the
//! files, seals its lines with the `[audit]` key, and a second replica of the same stream is
//! refused at setup with the key it is about. Against a real PostgreSQL 15 (the harness of
//! `warden-audit-pg`'s tests).

#![allow(clippy::print_stderr, missing_docs)]

#[path = "../../warden-audit-pg/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use warden_audit::AuditEvent;
use warden_config::{Config, Environment};
use warden_transport::setup::{TransportKind, build_auditor};

const KEYS: &str = r#"
[[key]]
id = "k_3b62781464d6"
name = "test-agent"
profile = "sales"
hash = "sha256:5bd75d3a04a9a609e1d695b9f9d2cd4f0ece02c2465abba15c78e727fb010be6"
created = "2026-08-25T00:00:00Z"
"#;

fn config(dir: &Path, anchors: &Path, port: u16, db: &str, signing: &str) -> Config {
    let text = format!(
        r#"
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
models = {{ allow = ["res.partner"] }}
operations = {{ allow = ["read"] }}

[audit]
dir = "{dir}"
seal_key_env = "SEAL"
signing_key_env = "SIGNING"
anchors_file = "{anchors}"

[audit.postgres]
url = "postgres://postgres@127.0.0.1:{port}/{db}"
stream = "gw-1"
tls = "disable"
"#,
        dir = dir.display(),
        anchors = anchors.display()
    );
    let env: Environment = [
        ("ODOO_API_KEY", "0123456789abcdef0123456789abcdef01234567"),
        ("SEAL", "a-seal-key-of-at-least-32-bytes-long!!"),
        ("SIGNING", signing),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    Config::from_toml_with_keys(&text, KEYS, dir, &env).expect("valid configuration")
}

#[test]
fn the_postgres_sink_is_opened_beside_the_files() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let db = cluster.database();
    let dir = tempfile::tempdir().unwrap();
    let (signer, pem) = warden_audit::SigningKey::generate().unwrap();
    let anchors = dir.path().join("anchors.jsonl");
    let config = config(&dir.path().join("audit"), &anchors, cluster.port, &db, &pem);
    let auditor = build_auditor(&config.audit, TransportKind::Http).expect("auditor");
    // A second replica with the same stream: refused at setup, naming the section.
    let second = build_auditor(&config.audit, TransportKind::Http).unwrap_err();
    let message = second.to_string();
    assert!(
        message.contains("audit.postgres") && message.contains("another live writer"),
        "{message}"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut event = AuditEvent::request(SystemTime::now(), "tools/call");
    event.key_id = Some("k_3b62781464d6".to_owned());
    let id = event.id.clone();
    runtime.block_on(auditor.record(event)).expect("recorded");
    assert!(auditor.shutdown_blocking(Duration::from_secs(10)));

    let mut client = cluster.client(&db);
    let line: String = client
        .query_one(
            "SELECT line FROM warden_audit_events WHERE stream = 'gw-1' AND kind = 'request'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(line.contains(&id), "{line}");
    assert!(
        line.contains("\"mac\":\""),
        "sealed with the [audit] key: {line}"
    );
    // And the files got it too.
    let files = std::fs::read_dir(dir.path().join("audit")).unwrap().count();
    assert!(files > 0);

    // One anchors file holds the checkpoints of both: each verify checks its own.
    let options = warden_audit::VerifyOptions {
        public_key: Some(signer.public_key()),
        anchors: Some(warden_audit::Anchors::read(&anchors).unwrap()),
        ..warden_audit::VerifyOptions::default()
    };
    let folder = warden_audit::verify_dir(&dir.path().join("audit"), &options).unwrap();
    assert!(folder.ok(), "{folder:#?}");
    assert!(folder.streams[0].checkpoints >= 2, "{folder:#?}");
    let mut reader = warden_audit_pg::read::Reader::open(&cluster.target(&db)).unwrap();
    let table = reader.verify(None, &options).unwrap();
    assert!(table.ok(), "{table:#?}");
    assert!(table.streams[0].checkpoints >= 2, "{table:#?}");
}

#[test]
fn an_unreachable_database_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let (_, pem) = warden_audit::SigningKey::generate().unwrap();
    // Nothing listens on port 1.
    let config = config(
        &dir.path().join("audit"),
        &dir.path().join("anchors.jsonl"),
        1,
        "warden",
        &pem,
    );
    let message = build_auditor(&config.audit, TransportKind::Http)
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with(
            "config: `audit.postgres`: cannot connect to postgres://postgres@127.0.0.1:1/warden"
        ),
        "{message}"
    );
    assert_eq!(message.lines().count(), 1, "{message}");
}
