//! `odoo-warden audit verify|search|report` on a PostgreSQL audit table, against a real
//! PostgreSQL 15 (the harness of `warden-audit-pg`'s tests).

#![allow(clippy::print_stderr, missing_docs)]

#[path = "../../../crates/warden-audit-pg/tests/common/mod.rs"]
mod common;
mod support;

use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use warden_audit::event::{Decision, Outcome};
use warden_audit::{AuditEvent, Sink};
use warden_audit_pg::{PgSink, PgSinkConfig};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_odoo-warden"));
    command.env_clear().args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("run odoo-warden");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

fn events(count: u64) -> Vec<Arc<AuditEvent>> {
    let start = SystemTime::now() - Duration::from_secs(3 * 3600);
    (0..count)
        .map(|i| {
            let mut event = AuditEvent::request(start + Duration::from_secs(i * 30), "tools/call");
            event.key_id = Some(format!("k_{}", i % 2));
            event.profile = Some("sales".to_owned());
            event.model = Some("res.partner".to_owned());
            event.set_record_ids([i64::try_from(i).unwrap()]);
            if i % 3 == 2 {
                event.decision = Some(Decision::deny("models.deny", "forbidden"));
                event.outcome = Some(Outcome::error("forbidden"));
            }
            Arc::new(event)
        })
        .collect()
}

#[test]
fn verify_search_and_report_read_a_postgres_table() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let db = cluster.database();
    for stream in ["east", "west"] {
        let mut sink = PgSink::open(PgSinkConfig::new(cluster.target(&db), stream)).unwrap();
        sink.write(&events(9)).unwrap();
        sink.close().unwrap();
    }
    let url = format!("postgres://postgres@127.0.0.1:{}/{db}", cluster.port);
    let tls = ["--tls", "disable"];

    let ok = run(&["audit", "verify", &url, tls[0], tls[1]], &[]);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    assert!(
        ok.stdout
            .contains("audit table warden_audit_events in postgres://"),
        "{}",
        ok.stdout
    );
    assert!(
        ok.stdout.contains("east") && ok.stdout.contains("west"),
        "{}",
        ok.stdout
    );
    let one = run(
        &[
            "audit", "verify", &url, "--tls", "disable", "--stream", "west", "--json",
        ],
        &[],
    );
    assert_eq!(one.code, 0, "{}", one.stderr);
    let json: serde_json::Value = serde_json::from_str(&one.stdout).unwrap();
    assert_eq!(json["streams"].as_array().unwrap().len(), 1);
    assert_eq!(json["streams"][0]["events"], 9);

    let found = run(
        &[
            "audit",
            "search",
            &url,
            "--tls",
            "disable",
            "--key",
            "k_1",
            "--outcome",
            "denied",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(found.code, 0, "{}", found.stderr);
    // Per stream, i in 0..9 with key k_1 (odd) and denied (i % 3 == 2): 5. Twice.
    assert_eq!(found.stdout.lines().count(), 2, "{}", found.stdout);
    assert!(
        found.stderr.contains("2 matching events"),
        "{}",
        found.stderr
    );

    let report = run(
        &[
            "audit", "report", &url, "--tls", "disable", "--since", "1d", "--json",
        ],
        &[],
    );
    assert_eq!(report.code, 0, "{}", report.stderr);
    let json: serde_json::Value = serde_json::from_str(&report.stdout).unwrap();
    assert_eq!(json["totals"]["events"], 18);
    assert_eq!(json["verification"]["ok"], true);

    // A changed row: exit 1, naming the stream and the seq.
    let mut client = cluster.client(&db);
    client
        .execute(
            "UPDATE warden_audit_events SET line = replace(line, '\"k_0\"', '\"k_9\"'), key_id = 'k_9' \
             WHERE stream = 'west' AND seq = 3",
            &[],
        )
        .unwrap();
    let broken = run(&["audit", "verify", &url, "--tls", "disable"], &[]);
    assert_eq!(broken.code, 1, "{}{}", broken.stdout, broken.stderr);
    assert!(broken.stdout.contains("west"), "{}", broken.stdout);
    assert!(broken.stdout.contains("seq 4"), "{}", broken.stdout);
    assert!(
        broken.stderr.contains("broken in 1 of 2 streams"),
        "{}",
        broken.stderr
    );
    let report = run(
        &["audit", "report", &url, "--tls", "disable", "--since", "1d"],
        &[],
    );
    assert_eq!(report.code, 1, "{}{}", report.stdout, report.stderr);
}

#[test]
fn bad_postgres_sources_are_clear_errors_without_the_password() {
    let secret = [("PGPASSWORD", "hunter2-secret")];
    // Nothing listens on port 1.
    let down = run(
        &[
            "audit",
            "verify",
            "postgres://auditor@127.0.0.1:1/warden",
            "--tls",
            "disable",
        ],
        &secret,
    );
    assert_eq!(down.code, 74, "{}", down.stderr);
    assert!(
        down.stderr
            .contains("cannot connect to postgres://auditor@127.0.0.1:1/warden"),
        "{}",
        down.stderr
    );
    assert!(!down.stderr.contains("hunter2"), "{}", down.stderr);
    for (args, want) in [
        (
            vec![
                "audit",
                "verify",
                "postgres://auditor:hunter2-secret@db/warden",
            ],
            "password",
        ),
        (
            vec![
                "audit",
                "verify",
                "postgres://auditor@db.internal/warden",
                "--tls",
                "disable",
            ],
            "loopback",
        ),
        (
            vec![
                "audit",
                "verify",
                "postgres://auditor@db/warden",
                "--password-env",
                "NOT_SET",
            ],
            "NOT_SET",
        ),
        (
            vec!["audit", "verify", "/tmp", "--tls", "disable"],
            "postgres:// source only",
        ),
        (
            vec!["audit", "verify", "/tmp", "--stream", "a"],
            "postgres:// source only",
        ),
        (
            vec!["audit", "tail", "postgres://auditor@db/warden"],
            "audit search --since",
        ),
    ] {
        let refused = run(&args, &secret);
        assert_eq!(refused.code, 64, "{args:?}: {}", refused.stderr);
        assert!(
            refused.stderr.contains(want),
            "{args:?}: {}",
            refused.stderr
        );
        assert!(!refused.stderr.contains("hunter2"), "{}", refused.stderr);
    }
}

#[test]
fn doctor_checks_the_postgres_database() -> anyhow::Result<()> {
    let Some(cluster) = common::cluster() else {
        return Ok(());
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let sim = runtime.block_on(warden_odoo_sim::start(
        ([127, 0, 0, 1], 0).into(),
        warden_odoo_sim::SimOptions::default(),
    ))?;
    let key = sim.api_key("sales_agent").expect("demo user");
    let db = cluster.database();
    let config = |port: u16| {
        support::CONFIG
            .replace("http://127.0.0.1:8069", &sim.url())
            .replace(
                "database = \"odoo\"",
                &format!("database = \"{}\"", sim.database()),
            )
            + &format!(
                "\n[audit]\ndir = \"audit\"\n\n[audit.postgres]\n\
                 url = \"postgres://postgres@127.0.0.1:{port}/{db}\"\n\
                 stream = \"gw-1\"\ntls = \"disable\"\nconnect_timeout_ms = 2000\n"
            )
    };
    let postgres = |setup: &support::Setup| -> (i32, String) {
        let run = support::run_with(
            &setup.config(),
            &["doctor", "--json"],
            &[(support::KEY_VAR, key.as_str())],
        );
        let checks: Vec<serde_json::Value> = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|_| panic!("json: {}{}", run.stdout, run.stderr));
        let check = checks
            .iter()
            .find(|c| c["check"] == "postgres")
            .unwrap_or_else(|| panic!("no postgres check: {checks:?}"));
        (
            run.code,
            format!("{} {}", check["status"].as_str().unwrap(), check["message"]),
        )
    };
    let setup = support::Setup::new(&config(cluster.port));
    setup.create_key("alice", "reader", &["--expires", "30d"]);
    // No table yet: a warning (exit 2).
    let (code, line) = postgres(&setup);
    assert!(
        line.starts_with("warn") && line.contains("no audit table yet"),
        "{line}"
    );
    assert!(line.contains("PostgreSQL 15"), "{line}");
    assert_eq!(code, 2, "{line}");
    // Migrated: ok.
    drop(PgSink::open(PgSinkConfig::new(cluster.target(&db), "gw-0")).unwrap());
    let (code, line) = postgres(&setup);
    assert!(
        line.starts_with("ok") && line.contains("audit schema version 1"),
        "{line}"
    );
    assert_eq!(code, 0, "{line}");
    // A newer schema: FAIL.
    cluster
        .client(&db)
        .execute(
            "INSERT INTO warden_audit_schema (version, description) VALUES (99, 'future')",
            &[],
        )
        .unwrap();
    let (code, line) = postgres(&setup);
    assert!(
        line.starts_with("fail") && line.contains("version 99"),
        "{line}"
    );
    assert_eq!(code, 1, "{line}");
    // Unreachable: FAIL, naming the database.
    let setup = support::Setup::new(&config(1));
    setup.create_key("alice", "reader", &["--expires", "30d"]);
    let (code, line) = postgres(&setup);
    assert!(
        line.starts_with("fail") && line.contains("cannot connect to postgres://"),
        "{line}"
    );
    assert_eq!(code, 1, "{line}");
    Ok(())
}

#[test]
fn verify_takes_the_public_key_and_the_anchors_file_for_a_table() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let db = cluster.database();
    let dir = tempfile::tempdir().unwrap();
    let anchors = dir.path().join("anchors.jsonl");
    let public = dir.path().join("audit-signing.pub");
    let (signer, _) = warden_audit::SigningKey::generate().unwrap();
    std::fs::write(&public, signer.public_key().to_pem()).unwrap();
    let mut config = PgSinkConfig::new(cluster.target(&db), "gw-1");
    config.signer = Some(signer);
    config.anchors_file = Some(anchors.clone());
    let mut sink = PgSink::open(config).unwrap();
    sink.write(&events(4)).unwrap();
    sink.close().unwrap();
    drop(sink);
    let url = format!("postgres://postgres@127.0.0.1:{}/{db}", cluster.port);
    let args = [
        "audit",
        "verify",
        url.as_str(),
        "--tls",
        "disable",
        "--public-key",
        public.to_str().unwrap(),
        "--anchors",
        anchors.to_str().unwrap(),
    ];
    let ok = run(&args, &[]);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    assert!(ok.stdout.contains("2 checkpoints"), "{}", ok.stdout);
    // Rolled back past the shutdown checkpoint: exit 1.
    cluster
        .client(&db)
        .batch_execute(
            "DELETE FROM warden_audit_events WHERE stream = 'gw-1' AND seq > 2;
             UPDATE warden_audit_heads SET seq = 2,
                 hash = (SELECT encode(sha256(convert_to(line, 'UTF8')), 'hex')
                           FROM warden_audit_events WHERE stream = 'gw-1' AND seq = 2),
                 sig = NULL
              WHERE stream = 'gw-1';",
        )
        .unwrap();
    // (Without the public key: the head rewritten here is unsigned; the checkpoint shows it.)
    let unsigned = [&args[..5], &args[7..]].concat();
    let rolled = run(&unsigned, &[]);
    assert_eq!(rolled.code, 1, "{}{}", rolled.stdout, rolled.stderr);
    assert!(rolled.stdout.contains("rolled back"), "{}", rolled.stdout);
}
