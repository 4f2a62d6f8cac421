//! The PostgreSQL audit sink against a real PostgreSQL 15 (see `common`).

#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::ops::ControlFlow;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use warden_audit::chain::{self, SealKey};
use warden_audit::event::{Decision, Outcome};
use warden_audit::report::ReportOptions;
use warden_audit::search::{Filter, OutcomeFilter, RecordRef};
use warden_audit::signing::SigningKey;
use warden_audit::{
    AuditError, AuditEvent, Auditor, FailurePolicy, JsonlConfig, JsonlSink, Sink, SinkOptions,
    VerifyOptions,
};
use warden_audit_pg::read::Reader;
use warden_audit_pg::{PgSink, PgSinkConfig, schema};

/// A request event, varied by `i`: three keys, two models, some denied, some failed.
fn event(i: u64, at: SystemTime) -> AuditEvent {
    let mut event = AuditEvent::request(at, "tools/call");
    event.key_id = Some(format!("k_{}", i % 3));
    event.key_name = Some(format!("agent-{}", i % 3));
    event.profile = Some(
        if i.is_multiple_of(2) {
            "sales"
        } else {
            "support"
        }
        .to_owned(),
    );
    event.tool = Some("search_records".to_owned());
    event.model = Some(
        if i.is_multiple_of(2) {
            "res.partner"
        } else {
            "sale.order"
        }
        .to_owned(),
    );
    event.set_record_ids([i64::try_from(i).unwrap(), 1000 + i64::try_from(i).unwrap()]);
    if i % 4 == 3 {
        event.decision = Some(Decision::deny(
            "profile \"sales\": models.deny",
            "forbidden",
        ));
        event.outcome = Some(Outcome::error("forbidden"));
    } else if i % 5 == 4 {
        event.outcome = Some(Outcome::error("access_error"));
    }
    event
}

fn events(count: u64, start: SystemTime) -> Vec<Arc<AuditEvent>> {
    (0..count)
        .map(|i| Arc::new(event(i, start + Duration::from_secs(i * 60))))
        .collect()
}

fn hours_ago(hours: u64) -> SystemTime {
    SystemTime::now() - Duration::from_secs(hours * 3600)
}

fn verify(
    cluster: &common::Cluster,
    db: &str,
    options: &VerifyOptions,
) -> warden_audit::verify::Report {
    let mut reader = Reader::open(&cluster.target(db)).expect("reader");
    reader.verify(None, options).expect("verify")
}

fn the_problem(report: &warden_audit::verify::Report) -> (String, Option<u64>, String) {
    let stream = report
        .streams
        .iter()
        .find(|s| s.problem.is_some())
        .unwrap_or_else(|| panic!("no problem found: {report:#?}"));
    let problem = stream.problem.clone().expect("problem");
    (stream.stream.clone(), problem.seq, problem.reason)
}

#[test]
fn events_are_rows_in_order_and_verify() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let db = cluster.database();
    let mut sink = PgSink::open(PgSinkConfig::new(cluster.target(&db), "replica-1")).expect("open");
    let written = events(20, hours_ago(5));
    sink.write(&written[..7]).expect("write");
    sink.write(&written[7..]).expect("write");
    sink.close().expect("close");
    drop(sink);

    let mut client = cluster.client(&db);
    let rows = client
        .query(
            "SELECT seq, kind, key_id, model, record_ids, line FROM warden_audit_events \
             WHERE stream = 'replica-1' ORDER BY seq",
            &[],
        )
        .expect("rows");
    // writer_start, 20 events, close.
    assert_eq!(rows.len(), 22);
    let mut prev = chain::GENESIS.to_owned();
    for (n, row) in rows.iter().enumerate() {
        assert_eq!(row.get::<_, i64>(0), i64::try_from(n).unwrap());
        let line: String = row.get(5);
        let value: serde_json::Value = serde_json::from_str(&line).expect("json line");
        assert_eq!(value["prev"], prev.as_str());
        prev = chain::hash_hex(line.as_bytes());
        if (1..=20).contains(&n) {
            assert_eq!(value["id"], written[n - 1].id.as_str(), "in order");
            assert_eq!(row.get::<_, String>(1), "request");
            assert_eq!(row.get::<_, Option<String>>(2), written[n - 1].key_id);
            assert_eq!(row.get::<_, Option<String>>(3), written[n - 1].model);
            assert_eq!(
                row.get::<_, Option<Vec<i64>>>(4),
                Some(written[n - 1].record_ids.clone())
            );
        }
    }
    let report = verify(cluster, &db, &VerifyOptions::default());
    assert!(report.ok(), "{report:#?}");
    assert_eq!(report.streams.len(), 1);
    assert_eq!(report.streams[0].events, 20);
    assert_eq!(report.streams[0].lines, 22);
    assert_eq!(report.streams[0].head.as_deref(), Some(prev.as_str()));
}

/// Writes 10 events in stream `s`, then returns the database.
fn ten_events(cluster: &common::Cluster) -> String {
    let db = cluster.database();
    let mut sink = PgSink::open(PgSinkConfig::new(cluster.target(&db), "s")).expect("open");
    sink.write(&events(10, hours_ago(3))).expect("write");
    sink.close().expect("close");
    db
}

#[test]
fn a_changed_row_fails_verify_naming_stream_and_seq() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let db = ten_events(cluster);
    let mut client = cluster.client(&db);
    client
        .execute(
            "UPDATE warden_audit_events SET line = replace(line, '\"res.partner\"', '\"hr.employee\"') \
             WHERE stream = 's' AND seq = 5",
            &[],
        )
        .expect("tamper");
    let report = verify(cluster, &db, &VerifyOptions::default());
    let (stream, seq, reason) = the_problem(&report);
    assert_eq!(stream, "s");
    // The changed line breaks its own columns first (model), or the next row's prev.
    assert!(seq == Some(5) || seq == Some(6), "{seq:?} {reason}");
    assert!(
        reason.contains("seq 5") || reason.contains("model"),
        "{reason}"
    );
}

#[test]
fn a_changed_search_column_fails_verify() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let db = ten_events(cluster);
    let mut client = cluster.client(&db);
    client
        .execute(
            "UPDATE warden_audit_events SET key_id = 'k_other' WHERE stream = 's' AND seq = 4",
            &[],
        )
        .expect("tamper");
    let (stream, seq, reason) = the_problem(&verify(cluster, &db, &VerifyOptions::default()));
    assert_eq!((stream.as_str(), seq), ("s", Some(4)));
    assert!(reason.contains("key_id column"), "{reason}");
}

#[test]
fn a_deleted_row_in_the_middle_fails_verify() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let db = ten_events(cluster);
    let mut client = cluster.client(&db);
    client
        .execute(
            "DELETE FROM warden_audit_events WHERE stream = 's' AND seq = 4",
            &[],
        )
        .expect("tamper");
    let (stream, seq, reason) = the_problem(&verify(cluster, &db, &VerifyOptions::default()));
    assert_eq!((stream.as_str(), seq), ("s", Some(5)));
    assert!(reason.contains("expected seq 4, found 5"), "{reason}");
}

#[test]
fn reordered_rows_fail_verify() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let db = ten_events(cluster);
    let mut client = cluster.client(&db);
    // Swap the seq of rows 3 and 6.
    client
        .batch_execute(
            "UPDATE warden_audit_events SET seq = -1 WHERE stream = 's' AND seq = 3;
             ALTER TABLE warden_audit_events DROP CONSTRAINT warden_audit_events_seq_check;
             UPDATE warden_audit_events SET seq = 3 WHERE stream = 's' AND seq = 6;
             UPDATE warden_audit_events SET seq = 6 WHERE stream = 's' AND seq = -1;",
        )
        .or_else(|_| {
            client.batch_execute(
                "ALTER TABLE warden_audit_events DROP CONSTRAINT warden_audit_events_seq_check;
                 UPDATE warden_audit_events SET seq = -1 WHERE stream = 's' AND seq = 3;
                 UPDATE warden_audit_events SET seq = 3 WHERE stream = 's' AND seq = 6;
                 UPDATE warden_audit_events SET seq = 6 WHERE stream = 's' AND seq = -1;",
            )
        })
        .expect("tamper");
    let (stream, seq, reason) = the_problem(&verify(cluster, &db, &VerifyOptions::default()));
    assert_eq!((stream.as_str(), seq), ("s", Some(3)));
    assert!(reason.contains("renumbered or reordered"), "{reason}");
    // Renumbering the lines too breaks the chain instead.
    let db = ten_events(cluster);
    let mut client = cluster.client(&db);
    client
        .batch_execute(
            "DELETE FROM warden_audit_events WHERE stream = 's' AND seq = 3;
             UPDATE warden_audit_events SET seq = 3, line = replace(line, '\"seq\":4,', '\"seq\":3,') \
             WHERE stream = 's' AND seq = 4;",
        )
        .expect("tamper");
    let (_, seq, reason) = the_problem(&verify(cluster, &db, &VerifyOptions::default()));
    assert_eq!(seq, Some(3));
    assert!(reason.contains("prev does not match"), "{reason}");
}

#[test]
fn with_the_keys_a_forged_row_is_found() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let db = cluster.database();
    let seal = SealKey::new(vec![7u8; 32]).unwrap();
    let (signer, _) = SigningKey::generate().unwrap();
    let mut config = PgSinkConfig::new(cluster.target(&db), "sealed");
    config.seal = Some(seal.clone());
    config.signer = Some(signer.clone());
    let mut sink = PgSink::open(config).expect("open");
    sink.write(&events(5, hours_ago(2))).expect("write");
    drop(sink);
    let sealed = VerifyOptions {
        seal: Some(seal),
        public_key: Some(signer.public_key()),
        anchors: None,
    };
    let report = verify(cluster, &db, &sealed);
    assert!(report.ok(), "{report:#?}");

    // The newest row rewritten by someone without the keys: the chain alone cannot tell (it
    // ends there), the seal and the signature can.
    let mut client = cluster.client(&db);
    let row = client
        .query_one(
            "SELECT line FROM warden_audit_events WHERE stream = 'sealed' AND seq = 5",
            &[],
        )
        .unwrap();
    let line: String = row.get(0);
    let value: serde_json::Value = serde_json::from_str(&line).unwrap();
    let mut forged_event = event(4, hours_ago(2));
    forged_event.id = value["id"].as_str().unwrap().to_owned();
    forged_event.time = value["time"].as_str().unwrap().to_owned();
    forged_event.key_id = Some("k_innocent".to_owned());
    let object = serde_json::to_string(&forged_event).unwrap();
    let wrong = SealKey::new(vec![9u8; 32]).unwrap();
    let (other_signer, _) = SigningKey::generate().unwrap();
    let forged = chain::encode_line(
        5,
        value["prev"].as_str().unwrap(),
        &object,
        Some(&wrong),
        Some(&other_signer),
    );
    client
        .execute(
            "UPDATE warden_audit_events SET line = $1, key_id = 'k_innocent' \
             WHERE stream = 'sealed' AND seq = 5",
            &[&forged],
        )
        .unwrap();
    let (_, seq, reason) = the_problem(&verify(cluster, &db, &VerifyOptions::default()));
    assert_eq!(seq, Some(5));
    assert!(
        reason.contains("does not match the hash its head records"),
        "{reason}"
    );
    // With the head rewritten to match, the chain alone cannot tell (it ends there); the seal
    // and the signature can.
    client
        .execute(
            "UPDATE warden_audit_heads SET hash = $1 WHERE stream = 'sealed'",
            &[&chain::hash_hex(forged.as_bytes())],
        )
        .unwrap();
    let unkeyed = verify(cluster, &db, &VerifyOptions::default());
    assert!(
        unkeyed.ok(),
        "without keys a forged last row and head pass: {unkeyed:#?}"
    );
    let (_, seq, reason) = the_problem(&verify(cluster, &db, &sealed));
    assert_eq!(seq, Some(5));
    assert!(reason.contains("seal does not match"), "{reason}");
    let signed_only = VerifyOptions {
        public_key: Some(signer.public_key()),
        ..VerifyOptions::default()
    };
    let (_, seq, reason) = the_problem(&verify(cluster, &db, &signed_only));
    assert_eq!(seq, Some(5));
    assert!(reason.contains("signature does not verify"), "{reason}");
}

#[test]
fn removed_newest_rows_are_found_by_the_head() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    // Without keys: a cut is found; a cut with a head rewritten to match is not.
    let db = ten_events(cluster);
    let mut client = cluster.client(&db);
    client
        .execute(
            "DELETE FROM warden_audit_events WHERE stream = 's' AND seq >= 9",
            &[],
        )
        .unwrap();
    let (stream, seq, reason) = the_problem(&verify(cluster, &db, &VerifyOptions::default()));
    assert_eq!((stream.as_str(), seq), ("s", Some(8)));
    assert!(
        reason.contains("truncated: the stream ends at seq 8 but its head records seq 11"),
        "{reason}"
    );
    let line: String = client
        .query_one(
            "SELECT line FROM warden_audit_events WHERE stream = 's' AND seq = 8",
            &[],
        )
        .unwrap()
        .get(0);
    client
        .execute(
            "UPDATE warden_audit_heads SET seq = 8, hash = $1 WHERE stream = 's'",
            &[&chain::hash_hex(line.as_bytes())],
        )
        .unwrap();
    assert!(verify(cluster, &db, &VerifyOptions::default()).ok());
    // A missing head, or a head whose rows are all gone.
    client
        .execute("DELETE FROM warden_audit_heads WHERE stream = 's'", &[])
        .unwrap();
    let (_, _, reason) = the_problem(&verify(cluster, &db, &VerifyOptions::default()));
    assert!(reason.contains("has no head row"), "{reason}");
    let db = ten_events(cluster);
    let mut client = cluster.client(&db);
    client
        .execute("DELETE FROM warden_audit_events WHERE stream = 's'", &[])
        .unwrap();
    let (stream, _, reason) = the_problem(&verify(cluster, &db, &VerifyOptions::default()));
    assert_eq!(stream, "s");
    assert!(reason.contains("no row left"), "{reason}");

    // With the keys, a head rewritten without them is found.
    let db = cluster.database();
    let seal = SealKey::new(vec![3u8; 32]).unwrap();
    let mut config = PgSinkConfig::new(cluster.target(&db), "k");
    config.seal = Some(seal.clone());
    let mut sink = PgSink::open(config).expect("open");
    sink.write(&events(5, hours_ago(2))).expect("write");
    drop(sink);
    let mut client = cluster.client(&db);
    let line: String = client
        .query_one(
            "SELECT line FROM warden_audit_events WHERE stream = 'k' AND seq = 3",
            &[],
        )
        .unwrap()
        .get(0);
    client
        .batch_execute("DELETE FROM warden_audit_events WHERE stream = 'k' AND seq > 3")
        .unwrap();
    client
        .execute(
            "UPDATE warden_audit_heads SET seq = 3, hash = $1 WHERE stream = 'k'",
            &[&chain::hash_hex(line.as_bytes())],
        )
        .unwrap();
    let sealed = VerifyOptions {
        seal: Some(seal),
        ..VerifyOptions::default()
    };
    let (_, seq, reason) = the_problem(&verify(cluster, &db, &sealed));
    assert_eq!(seq, Some(3));
    assert!(
        reason.contains("head's seal is missing or wrong"),
        "{reason}"
    );
}

#[test]
fn a_restart_continues_the_chain() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let db = cluster.database();
    for round in 0..3 {
        let mut sink = PgSink::open(PgSinkConfig::new(cluster.target(&db), "r")).expect("open");
        sink.write(&events(4, hours_ago(4 - round))).expect("write");
        if round != 1 {
            sink.close().expect("close");
        }
    }
    let report = verify(cluster, &db, &VerifyOptions::default());
    assert!(report.ok(), "{report:#?}");
    // Three starts, 12 events, two closes.
    assert_eq!(report.streams[0].lines, 17);
    assert_eq!(report.streams[0].events, 12);
}

#[test]
fn one_live_writer_per_stream() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let db = cluster.database();
    let mut first = PgSink::open(PgSinkConfig::new(cluster.target(&db), "a")).expect("open");
    let error = PgSink::open(PgSinkConfig::new(cluster.target(&db), "a")).unwrap_err();
    assert!(
        error.to_string().contains("\"a\"") && error.to_string().contains("another live writer"),
        "{error}"
    );
    let mut other = PgSink::open(PgSinkConfig::new(cluster.target(&db), "b")).expect("open");
    first.write(&events(3, hours_ago(1))).expect("write");
    other.write(&events(5, hours_ago(1))).expect("write");
    first.write(&events(3, hours_ago(1))).expect("write");
    drop(first);
    // Once the first writer is gone, its stream can be taken again, and goes on.
    let mut again = PgSink::open(PgSinkConfig::new(cluster.target(&db), "a")).expect("reopen");
    again.write(&events(1, hours_ago(1))).expect("write");
    drop(again);
    drop(other);
    let report = verify(cluster, &db, &VerifyOptions::default());
    assert!(report.ok(), "{report:#?}");
    let names: Vec<_> = report.streams.iter().map(|s| s.stream.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(report.streams[0].events, 7);
    assert_eq!(report.streams[1].events, 5);
}

#[test]
fn migrations_are_applied_once_and_a_newer_schema_is_refused() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let db = cluster.database();
    let mut client = cluster.client(&db);
    assert_eq!(schema::version(&mut client).unwrap(), 0);
    assert_eq!(schema::migrate(&mut client).unwrap(), schema::LATEST);
    assert_eq!(schema::migrate(&mut client).unwrap(), schema::LATEST);
    drop(PgSink::open(PgSinkConfig::new(cluster.target(&db), "m")).expect("open"));
    let applied: i64 = client
        .query_one("SELECT count(*) FROM warden_audit_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(applied, i64::from(schema::LATEST));
    // Replicas starting together: every one starts, the schema is applied once.
    let db = cluster.database();
    let handles: Vec<_> = (0..4)
        .map(|n| {
            let target = cluster.target(&db);
            std::thread::spawn(move || PgSink::open(PgSinkConfig::new(target, format!("r{n}"))))
        })
        .collect();
    for handle in handles {
        handle.join().unwrap().expect("every replica starts");
    }
    let mut client = cluster.client(&db);
    let applied: i64 = client
        .query_one("SELECT count(*) FROM warden_audit_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(applied, i64::from(schema::LATEST));

    client
        .execute(
            "INSERT INTO warden_audit_schema (version, description) VALUES (99, 'future')",
            &[],
        )
        .unwrap();
    let error = PgSink::open(PgSinkConfig::new(cluster.target(&db), "m")).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("version 99, newer than this odoo-warden knows"),
        "{error}"
    );
    let error = Reader::open(&cluster.target(&db)).unwrap_err();
    assert!(error.to_string().contains("version 99"), "{error}");
}

#[test]
fn retention_removes_old_rows_and_verify_accepts_it() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let db = cluster.database();
    let mut sink = PgSink::open(PgSinkConfig::new(cluster.target(&db), "ret")).expect("open");
    sink.write(&events(6, hours_ago(24 * 40))).expect("old");
    sink.write(&events(4, hours_ago(2))).expect("new");
    sink.close().expect("close");
    drop(sink);
    let mut config = PgSinkConfig::new(cluster.target(&db), "ret");
    config.retention_days = Some(30);
    let mut sink = PgSink::open(config).expect("open with retention");
    sink.write(&events(1, hours_ago(1))).expect("write");
    drop(sink);
    let mut client = cluster.client(&db);
    let (first, left): (i64, i64) = {
        let row = client
            .query_one(
                "SELECT min(seq), count(*) FROM warden_audit_events WHERE stream = 'ret'",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    // The first start record (seq 0) and the old events (seq 1-6) are removed: retention
    // removes a prefix of the stream, up to its last old row.
    assert_eq!(first, 7);
    // 4 new events, close, start, retention record, 1 event.
    assert_eq!(left, 8);
    let report = verify(cluster, &db, &VerifyOptions::default());
    assert!(report.ok(), "{report:#?}");
    assert!(
        report.streams[0]
            .warnings
            .iter()
            .any(|w| w.contains("7 row(s) before seq 7 were removed by retention")),
        "{report:#?}"
    );
    // Rows removed without a retention record are found.
    client
        .execute(
            "DELETE FROM warden_audit_events WHERE stream = 'ret' AND seq = 7",
            &[],
        )
        .unwrap();
    let (_, seq, reason) = the_problem(&verify(cluster, &db, &VerifyOptions::default()));
    assert_eq!(seq, Some(8));
    assert!(
        reason.contains("no retention record accounts for them"),
        "{reason}"
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Cut `db` off: its sessions are ended and new ones refused, until [`reopen`].
fn cut_off(cluster: &common::Cluster, db: &str) {
    let mut admin = cluster.client("postgres");
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {db} ALLOW_CONNECTIONS false;
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}';"
        ))
        .unwrap();
}

fn reopen(cluster: &common::Cluster, db: &str) {
    let mut admin = cluster.client("postgres");
    admin
        .batch_execute(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true"))
        .unwrap();
}

#[test]
fn database_down_fail_closed_refuses_and_recovers() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let db = cluster.database();
    let sink = PgSink::open(PgSinkConfig::new(cluster.target(&db), "fc")).expect("open");
    let auditor = Auditor::builder()
        .sink(
            sink,
            SinkOptions {
                policy: FailurePolicy::Block {
                    timeout: Duration::from_millis(500),
                },
                queue_capacity: 64,
            },
        )
        .build()
        .unwrap();
    let rt = runtime();
    rt.block_on(auditor.record(event(0, hours_ago(1))))
        .expect("recorded");
    cut_off(cluster, &db);
    let refused = rt.block_on(auditor.record(event(1, hours_ago(1))));
    assert!(
        matches!(
            refused,
            Err(AuditError::Timeout { .. } | AuditError::Unavailable { .. })
        ),
        "{refused:?}"
    );
    assert!(
        common::wait_until(Duration::from_secs(5), || auditor.ready().is_err()),
        "new requests are refused while the sink fails"
    );
    reopen(cluster, &db);
    assert!(
        common::wait_until(Duration::from_secs(20), || auditor.ready().is_ok()),
        "the sink recovers"
    );
    rt.block_on(auditor.record(event(2, hours_ago(1))))
        .expect("recorded again");
    assert!(auditor.shutdown_blocking(Duration::from_secs(10)));
    let report = verify(cluster, &db, &VerifyOptions::default());
    assert!(report.ok(), "{report:#?}");
    // The refused event was kept and retried (fail closed drops nothing): 3 events.
    assert_eq!(report.streams[0].events, 3, "{report:#?}");
}

#[test]
fn database_down_drop_mode_records_a_gap() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let db = cluster.database();
    let sink = PgSink::open(PgSinkConfig::new(cluster.target(&db), "dr")).expect("open");
    let auditor = Auditor::builder()
        .sink(
            sink,
            SinkOptions {
                policy: FailurePolicy::Drop,
                queue_capacity: 64,
            },
        )
        .build()
        .unwrap();
    let rt = runtime();
    rt.block_on(auditor.record(event(0, hours_ago(1))))
        .expect("recorded");
    assert!(rt.block_on(auditor.flush(Duration::from_secs(5))));
    cut_off(cluster, &db);
    for i in 1..4 {
        rt.block_on(auditor.record(event(i, hours_ago(1))))
            .expect("drop mode never refuses");
        assert!(rt.block_on(auditor.flush(Duration::from_secs(5))));
    }
    assert!(
        common::wait_until(Duration::from_secs(5), || auditor
            .stats()
            .iter()
            .any(|s| s.dropped >= 3)),
        "{:?}",
        auditor.stats()
    );
    reopen(cluster, &db);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut i = 10;
    let mut reader_db = None;
    while Instant::now() < deadline {
        rt.block_on(auditor.record(event(i, hours_ago(1)))).unwrap();
        assert!(rt.block_on(auditor.flush(Duration::from_secs(5))));
        i += 1;
        let mut client = cluster.target(&db).connect().ok();
        let gaps: i64 = client
            .as_mut()
            .and_then(|c| {
                c.query_one(
                    "SELECT count(*) FROM warden_audit_events WHERE kind = 'gap'",
                    &[],
                )
                .ok()
            })
            .map_or(0, |row| row.get(0));
        if gaps > 0 {
            reader_db = Some(());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        reader_db.is_some(),
        "a gap event is recorded once the sink writes again"
    );
    assert!(auditor.shutdown_blocking(Duration::from_secs(10)));
    let mut client = cluster.client(&db);
    let line: String = client
        .query_one(
            "SELECT line FROM warden_audit_events WHERE kind = 'gap'",
            &[],
        )
        .unwrap()
        .get(0);
    let gap: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(gap["gap"]["sink"], "postgres");
    assert!(gap["gap"]["dropped"].as_u64().unwrap() >= 3, "{gap}");
    let report = verify(cluster, &db, &VerifyOptions::default());
    assert!(report.ok(), "{report:#?}");
}

/// With `WARDEN_PG_CHILD` set (by `acknowledged_events_survive_a_kill`): write events one by
/// one through a fail-closed pipeline and print each acknowledged id, until killed.
#[test]
#[ignore = "run by acknowledged_events_survive_a_kill as a child process"]
fn child_writer() {
    let Ok(spec) = std::env::var("WARDEN_PG_CHILD") else {
        return;
    };
    let (port, db) = spec.split_once('/').unwrap();
    let mut target =
        warden_audit_pg::PgTarget::from_url(&format!("postgres://postgres@127.0.0.1:{port}/{db}"))
            .unwrap();
    target.tls = warden_audit_pg::TlsMode::Disable;
    let sink = PgSink::open(PgSinkConfig::new(target, "child")).expect("open");
    let auditor = Auditor::builder()
        .sink(sink, SinkOptions::default())
        .build()
        .unwrap();
    let rt = runtime();
    let mut out = std::io::stdout();
    for i in 0..100_000 {
        let event = event(i, SystemTime::now());
        let id = event.id.clone();
        rt.block_on(auditor.record(event)).expect("recorded");
        writeln!(out, "acked {id}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn acknowledged_events_survive_a_kill() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let db = cluster.database();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_writer",
            "--include-ignored",
            "--nocapture",
        ])
        .env("WARDEN_PG_CHILD", format!("{}/{db}", cluster.port))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(id) = line.strip_prefix("acked ")
                && send.send(id.to_owned()).is_err()
            {
                break;
            }
        }
    });
    let mut acked = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.len() < 200 && Instant::now() < deadline {
        if let Ok(id) = receive.recv_timeout(Duration::from_secs(1)) {
            acked.insert(id);
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Acknowledgements already printed but not yet read.
    while let Ok(id) = receive.recv_timeout(Duration::from_millis(200)) {
        acked.insert(id);
    }
    assert!(
        acked.len() >= 200,
        "the child acknowledged {} events",
        acked.len()
    );
    let mut client = cluster.client(&db);
    let stored: BTreeSet<String> = client
        .query(
            "SELECT line::json->>'id' FROM warden_audit_events WHERE kind = 'request'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let missing: Vec<_> = acked.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not stored: {missing:?}"
    );
    let report = verify(cluster, &db, &VerifyOptions::default());
    assert!(report.ok(), "{report:#?}");
    assert!(
        report.streams[0]
            .warnings
            .iter()
            .any(|w| w.contains("stopped abruptly")),
        "{report:#?}"
    );
}

/// The same events in a JSONL folder and in the table.
fn both(cluster: &common::Cluster) -> (tempfile::TempDir, String, Vec<Arc<AuditEvent>>) {
    let written = events(60, hours_ago(30));
    let dir = tempfile::tempdir().unwrap();
    let mut files = JsonlSink::open(JsonlConfig::new(dir.path())).unwrap();
    files.write(&written).unwrap();
    files.close().unwrap();
    let db = cluster.database();
    let mut sink = PgSink::open(PgSinkConfig::new(cluster.target(&db), "warden")).unwrap();
    sink.write(&written[..25]).unwrap();
    sink.write(&written[25..]).unwrap();
    sink.close().unwrap();
    (dir, db, written)
}

fn ids_in_files(dir: &std::path::Path, filter: &Filter) -> (Vec<String>, u64) {
    let (files, _) = warden_audit::search::files_to_search(dir, filter).unwrap();
    let mut ids = Vec::new();
    let stats = warden_audit::search::search_files(
        &files,
        filter,
        |raw, _| {
            let value: serde_json::Value = serde_json::from_slice(raw).unwrap();
            ids.push(value["id"].as_str().unwrap().to_owned());
            ControlFlow::Continue(())
        },
        |_| {},
    )
    .unwrap();
    (ids, stats.unlisted)
}

#[test]
fn search_gives_what_the_folder_gives() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let (dir, db, written) = both(cluster);
    let mut reader = Reader::open(&cluster.target(&db)).unwrap();
    let middle = written[20].timestamp().unwrap();
    let late = written[40].timestamp().unwrap();
    let with = |edit: &dyn Fn(&mut Filter)| {
        let mut filter = Filter::default();
        edit(&mut filter);
        filter
    };
    let filters = [
        Filter::default(),
        with(&|f| f.key = Some("k_1".to_owned())),
        with(&|f| f.key = Some("agent-2".to_owned())),
        with(&|f| f.model = Some("sale.order".to_owned())),
        with(&|f| f.outcome = Some(OutcomeFilter::Denied)),
        with(&|f| f.outcome = Some(OutcomeFilter::Error)),
        with(&|f| f.outcome = Some(OutcomeFilter::Ok)),
        with(&|f| {
            f.outcome = Some(OutcomeFilter::Allowed);
            f.key = Some("k_0".to_owned());
        }),
        with(&|f| {
            f.since = Some(middle);
            f.until = Some(late);
        }),
        with(&|f| {
            f.record = Some(RecordRef {
                model: "res.partner".to_owned(),
                id: 1010,
            });
        }),
        with(&|f| f.kind = Some("chain".to_owned())),
    ];
    for filter in &filters {
        let (expected, unlisted) = ids_in_files(dir.path(), filter);
        let mut found = Vec::new();
        let stats = reader
            .search(filter, |raw, _| {
                let value: serde_json::Value = serde_json::from_slice(raw).unwrap();
                found.push(value["id"].as_str().unwrap().to_owned());
                ControlFlow::Continue(())
            })
            .unwrap();
        if filter.kind.as_deref() == Some("chain") {
            // Chain records are each store's own (file starts, writer starts).
            assert!(!found.is_empty());
            continue;
        }
        assert_eq!(found, expected, "{filter:?}");
        assert_eq!(stats.matched, expected.len() as u64);
        assert_eq!(stats.unlisted, unlisted);
        assert!(!expected.is_empty() || filter.since.is_some(), "{filter:?}");
    }
    // A search that stops early.
    let mut first = Vec::new();
    reader
        .search(&Filter::default(), |raw, _| {
            first.push(raw.len());
            if first.len() == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(first.len(), 3);
}

#[test]
fn report_gives_the_folder_s_figures() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let (dir, db, _) = both(cluster);
    let mut reader = Reader::open(&cluster.target(&db)).unwrap();
    for key in [None, Some("k_2".to_owned())] {
        let mut options = ReportOptions::new(hours_ago(48), SystemTime::now());
        options.key.clone_from(&key);
        let files = warden_audit::report::build(dir.path(), &options).unwrap();
        let table = reader.report(&options).unwrap();
        let json = |value: &dyn erased::Json| value.json();
        for (name, a, b) in [
            ("totals", json(&files.totals), json(&table.totals)),
            ("keys", json(&files.keys), json(&table.keys)),
            ("profiles", json(&files.profiles), json(&table.profiles)),
            ("daily", json(&files.daily), json(&table.daily)),
            ("denied", json(&files.denied), json(&table.denied)),
        ] {
            assert_eq!(a, b, "{name} with key {key:?}");
        }
        assert!(files.totals.events > 0);
        assert!(table.verification.ok, "{:#?}", table.verification);
        assert_eq!(table.verification.chains.streams.len(), 1);
    }
}

mod erased {
    pub(crate) trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap()
        }
    }
}

#[test]
fn tls_verify_full_checks_the_certificate_and_require_only_encrypts() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let db = cluster.database();
    let encrypted = |client: &mut postgres::Client| -> bool {
        client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0)
    };
    // verify-full with the CA: connected, over TLS, and the sink works there.
    let mut target = cluster.target(&db);
    target.tls = warden_audit_pg::TlsMode::VerifyFull;
    target.ca_file = Some(cluster.ca_file());
    let mut client = target.connect().expect("verify-full with the CA");
    assert!(encrypted(&mut client));
    let mut sink = PgSink::open(PgSinkConfig::new(target.clone(), "tls")).expect("open");
    sink.write(&events(2, hours_ago(1)))
        .expect("write over TLS");
    drop(sink);
    // verify-full without it: the certificate is refused.
    target.ca_file = None;
    let Err(error) = target.connect() else {
        panic!("verify-full without the CA must refuse the self-signed certificate");
    };
    let error = error.to_string();
    assert!(
        error.contains("cannot connect to postgres://postgres@127.0.0.1"),
        "{error}"
    );
    assert!(
        error.to_lowercase().contains("certificate") || error.contains("UnknownIssuer"),
        "{error}"
    );
    // verify-full against a host name the certificate does not name.
    target.ca_file = Some(cluster.ca_file());
    target.host = "127.0.0.2".to_owned();
    assert!(target.connect().is_err());
    // require: encrypted, the certificate not checked.
    let mut target = cluster.target(&db);
    target.tls = warden_audit_pg::TlsMode::Require;
    let mut client = target.connect().expect("require");
    assert!(encrypted(&mut client));
    // disable: plain.
    let mut client = cluster.target(&db).connect().expect("disable");
    assert!(!encrypted(&mut client));
}

#[test]
fn a_password_is_sent_and_never_shown() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let db = cluster.database();
    let role = format!("pw_{db}");
    cluster
        .client("postgres")
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD 'right-pass-123' IN ROLE pw_users; \
             GRANT ALL ON DATABASE {db} TO {role}; \
             ALTER DATABASE {db} OWNER TO {role};"
        ))
        .unwrap();
    let mut target = warden_audit_pg::PgTarget::from_url(&format!(
        "postgres://{role}@127.0.0.1:{}/{db}",
        cluster.port
    ))
    .unwrap();
    target.tls = warden_audit_pg::TlsMode::Disable;
    // No password, a wrong one: refused, and the message names neither.
    let Err(error) = target.connect() else {
        panic!("connected without a password");
    };
    assert!(error.to_string().contains("password"), "{error}");
    target.password = Some(warden_audit_pg::Password::new("wrong-pass-456"));
    let Err(error) = PgSink::open(PgSinkConfig::new(target.clone(), "pw")) else {
        panic!("connected with a wrong password");
    };
    let error = error.to_string();
    assert!(error.contains("password authentication failed"), "{error}");
    assert!(!error.contains("wrong-pass-456"), "{error}");
    // The right one: the sink works.
    target.password = Some(warden_audit_pg::Password::new("right-pass-123"));
    let mut sink = PgSink::open(PgSinkConfig::new(target.clone(), "pw")).expect("open");
    sink.write(&events(1, hours_ago(1))).expect("write");
    assert!(!format!("{sink:?}").contains("right-pass-123"));
}

/// Throughput of the sink on the test cluster (`cargo test -p warden-audit-pg --release --test
/// pg -- --ignored throughput --nocapture`): batches of 512 and single events. The cluster runs
/// with fsync off, so the figures are the sink's and the protocol's cost, not a disk's.
#[test]
#[ignore = "a measurement, run by hand"]
fn throughput() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let db = cluster.database();
    let mut sink = PgSink::open(PgSinkConfig::new(cluster.target(&db), "bench")).expect("open");
    let batch = events(512, hours_ago(1));
    let started = Instant::now();
    let rounds = 40;
    for _ in 0..rounds {
        sink.write(&batch).expect("write");
    }
    let elapsed = started.elapsed();
    println!(
        "batches of 512: {} events in {elapsed:.2?}: {:.0} events/s",
        rounds * 512,
        f64::from(rounds * 512) / elapsed.as_secs_f64()
    );
    let started = Instant::now();
    for event in batch.iter().take(500) {
        sink.write(std::slice::from_ref(event)).expect("write");
    }
    let elapsed = started.elapsed();
    println!(
        "single events: 500 in {elapsed:.2?}: {:.0} events/s, {:.2} ms each",
        500.0 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / 500.0
    );
    drop(sink);
    assert!(verify(cluster, &db, &VerifyOptions::default()).ok());
}

#[test]
fn checkpoints_in_the_anchors_file_show_a_rollback() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let db = cluster.database();
    let dir = tempfile::tempdir().unwrap();
    let anchors_path = dir.path().join("anchors.jsonl");
    let (signer, _) = SigningKey::generate().unwrap();
    let mut config = PgSinkConfig::new(cluster.target(&db), "cp");
    config.signer = Some(signer.clone());
    config.anchors_file = Some(anchors_path.clone());
    let mut sink = PgSink::open(config.clone()).expect("open");
    assert!(sink.emits());
    sink.write(&events(5, hours_ago(2))).expect("write");
    // The stream as it is now, head included: a genuine older copy to roll back to.
    let mut client = cluster.client(&db);
    let saved = client
        .query_one(
            "SELECT seq, hash, time, mac, sig FROM warden_audit_heads WHERE stream = 'cp'",
            &[],
        )
        .unwrap();
    let saved_seq: i64 = saved.get(0);
    sink.write(&events(5, hours_ago(1))).expect("write");
    sink.close().expect("close");
    // The start and shutdown checkpoints, handed to the other sinks too.
    let emitted = sink.take_emitted();
    assert_eq!(emitted.len(), 2, "{emitted:?}");
    assert!(emitted.iter().all(|e| e.checkpoint.is_some()));
    drop(sink);
    let anchored = || VerifyOptions {
        public_key: Some(signer.public_key()),
        anchors: Some(warden_audit::Anchors::read(&anchors_path).unwrap()),
        ..VerifyOptions::default()
    };
    let report = verify(cluster, &db, &anchored());
    assert!(report.ok(), "{report:#?}");
    assert_eq!(report.streams[0].checkpoints, 2);
    let anchors = report.anchors.as_ref().expect("anchors report");
    assert_eq!(anchors.checkpoints, 2);
    assert!(anchors.signatures_checked);

    // Rolled back to the older copy: the chain and the (genuine, signed) head verify; only
    // the checkpoint shows it.
    client
        .execute(
            "DELETE FROM warden_audit_events WHERE stream = 'cp' AND seq > $1",
            &[&saved_seq],
        )
        .unwrap();
    let (hash, time, mac, sig): (String, String, Option<String>, Option<String>) =
        (saved.get(1), saved.get(2), saved.get(3), saved.get(4));
    client
        .execute(
            "UPDATE warden_audit_heads SET seq = $1, hash = $2, time = $3, mac = $4, sig = $5 \
             WHERE stream = 'cp'",
            &[&saved_seq, &hash, &time, &mac, &sig],
        )
        .unwrap();
    let signed_only = VerifyOptions {
        public_key: Some(signer.public_key()),
        ..VerifyOptions::default()
    };
    assert!(verify(cluster, &db, &signed_only).ok());
    let (stream, seq, reason) = the_problem(&verify(cluster, &db, &anchored()));
    assert_eq!((stream.as_str(), seq), ("cp", Some(5)));
    assert!(reason.contains("rolled back"), "{reason}");

    // A forged checkpoint in the anchors file is refused by its signature.
    let text = std::fs::read_to_string(&anchors_path).unwrap();
    std::fs::write(&anchors_path, text.replace("\"seq\":0,", "\"seq\":1,")).unwrap();
    let report = verify(cluster, &db, &anchored());
    let anchors = report.anchors.expect("anchors report");
    assert!(
        anchors
            .problems
            .iter()
            .any(|p| p.contains("does not verify")),
        "{anchors:#?}"
    );
}

#[test]
fn a_stream_removed_whole_is_found_by_its_checkpoints() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let db = cluster.database();
    let dir = tempfile::tempdir().unwrap();
    let anchors_path = dir.path().join("anchors.jsonl");
    let (signer, _) = SigningKey::generate().unwrap();
    for stream in ["keep", "gone"] {
        let mut config = PgSinkConfig::new(cluster.target(&db), stream);
        config.signer = Some(signer.clone());
        config.anchors_file = Some(anchors_path.clone());
        let mut sink = PgSink::open(config).expect("open");
        sink.write(&events(2, hours_ago(1))).expect("write");
        sink.close().expect("close");
    }
    let mut client = cluster.client(&db);
    client
        .batch_execute(
            "DELETE FROM warden_audit_events WHERE stream = 'gone';
             DELETE FROM warden_audit_heads WHERE stream = 'gone';",
        )
        .unwrap();
    let options = VerifyOptions {
        public_key: Some(signer.public_key()),
        anchors: Some(warden_audit::Anchors::read(&anchors_path).unwrap()),
        ..VerifyOptions::default()
    };
    let report = verify(cluster, &db, &options);
    let (stream, _, reason) = the_problem(&report);
    assert_eq!(stream, "gone");
    assert!(
        reason.contains("rolled back") || reason.contains("removed"),
        "{reason}"
    );
    assert!(
        report
            .streams
            .iter()
            .any(|s| s.stream == "keep" && s.problem.is_none())
    );
}

#[test]
fn a_restart_after_the_rows_were_removed_does_not_hide_it() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let db = ten_events(cluster);
    let mut client = cluster.client(&db);
    // Every row gone, the head left: the next writer goes on from the head, not from seq 0.
    client
        .execute("DELETE FROM warden_audit_events WHERE stream = 's'", &[])
        .unwrap();
    let mut sink = PgSink::open(PgSinkConfig::new(cluster.target(&db), "s")).expect("open");
    assert_eq!(sink.next_seq(), 13, "after the start record of seq 12");
    sink.write(&events(1, hours_ago(1))).expect("write");
    drop(sink);
    let (stream, seq, reason) = the_problem(&verify(cluster, &db, &VerifyOptions::default()));
    assert_eq!((stream.as_str(), seq), ("s", Some(12)));
    assert!(
        reason.contains("no retention record accounts for them"),
        "{reason}"
    );
}

#[test]
fn the_documented_grants_are_enough_and_no_more() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let db = cluster.database();
    let (owner, gateway, auditor) = (format!("own_{db}"), format!("gw_{db}"), format!("aud_{db}"));
    cluster
        .client("postgres")
        .batch_execute(&format!(
            "CREATE ROLE {owner} LOGIN; CREATE ROLE {gateway} LOGIN; CREATE ROLE {auditor} LOGIN;
             ALTER DATABASE {db} OWNER TO {owner};"
        ))
        .unwrap();
    let as_role = |role: &str| {
        let mut target = warden_audit_pg::PgTarget::from_url(&format!(
            "postgres://{role}@127.0.0.1:{}/{db}",
            cluster.port
        ))
        .unwrap();
        target.tls = warden_audit_pg::TlsMode::Disable;
        target
    };
    // The owner's first start creates the tables; then the grants of docs/audit.md.
    drop(PgSink::open(PgSinkConfig::new(as_role(&owner), "setup")).expect("owner migrates"));
    as_role(&owner)
        .connect()
        .unwrap()
        .batch_execute(&format!(
            "GRANT SELECT, INSERT ON warden_audit_events TO {gateway};
             GRANT SELECT, INSERT, UPDATE ON warden_audit_heads TO {gateway};
             GRANT SELECT ON warden_audit_schema TO {gateway};
             GRANT SELECT ON warden_audit_events, warden_audit_heads, warden_audit_schema TO {auditor};"
        ))
        .unwrap();
    // The gateway writes its stream (no DDL on a current schema).
    let mut sink = PgSink::open(PgSinkConfig::new(as_role(&gateway), "gw-1")).expect("gateway");
    sink.write(&events(3, hours_ago(1))).expect("write");
    sink.close().expect("close");
    drop(sink);
    // But cannot remove or change rows.
    let mut client = as_role(&gateway).connect().unwrap();
    for sql in [
        "DELETE FROM warden_audit_events WHERE stream = 'gw-1'",
        "UPDATE warden_audit_events SET line = '' WHERE stream = 'gw-1'",
    ] {
        let error = client.batch_execute(sql).unwrap_err();
        assert!(
            error
                .as_db_error()
                .is_some_and(|e| e.message().contains("permission denied")),
            "{sql}: {error}"
        );
    }
    // The auditor reads and verifies every stream, and can write nothing.
    let mut reader = Reader::open(&as_role(&auditor)).expect("auditor");
    let report = reader.verify(None, &VerifyOptions::default()).unwrap();
    assert!(report.ok(), "{report:#?}");
    assert_eq!(report.streams.len(), 2);
    let error = PgSink::open(PgSinkConfig::new(as_role(&auditor), "a")).unwrap_err();
    assert!(error.to_string().contains("permission denied"), "{error}");
}
