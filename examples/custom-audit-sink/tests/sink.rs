//! [`CsvSink`] in the pipeline: events arrive as CSV lines, a failed write is an `Err` that the
//! pipeline's failure policy handles (`drop`: counted, then a gap line; `block`: the request
//! fails, the batch is retried and nothing is lost), and shutdown writes what is queued.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use custom_audit_sink::{CsvSink, HEADER, line};
use warden_audit::event::{Alert, Gap};
use warden_audit::{
    AuditError, AuditEvent, Auditor, Decision, FailurePolicy, Outcome, Sink, SinkOptions,
};

const WAIT: Duration = Duration::from_secs(10);

/// The cells of one CSV line (RFC 4180 quoting, no line break inside a cell).
fn cells(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cell)),
            (c, _) => cell.push(c),
        }
    }
    out.push(cell);
    out
}

/// The file's lines as cells, after checking the header.
fn rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).expect("csv file");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(HEADER), "{text}");
    lines.map(cells).collect()
}

/// The column named `name` of `row`.
fn col<'a>(row: &'a [String], name: &str) -> &'a str {
    let index = HEADER
        .split(',')
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    &row[index]
}

fn request(key: &str, tool: &str) -> AuditEvent {
    let mut event = AuditEvent::request(SystemTime::now(), "tools/call");
    event.key_id = Some(key.to_owned());
    event.tool = Some(tool.to_owned());
    event
}

fn auditor(path: &Path, options: SinkOptions) -> Auditor {
    Auditor::builder()
        .sink(CsvSink::new(path), options)
        .build()
        .expect("auditor")
}

#[tokio::test]
async fn events_arrive_as_csv_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("audit.csv");
    let auditor = auditor(&path, CsvSink::OPTIONS);

    let mut read = request("k_3f9a0c1e5b7d", "search_records");
    read.key_name = Some("claude-alice".to_owned());
    read.profile = Some("sales".to_owned());
    read.client_ip = Some("10.1.2.3".to_owned());
    read.model = Some("res.partner".to_owned());
    read.operation = Some("read".to_owned());
    read.set_record_ids([7, 9, 12]);
    auditor.record(read).await.expect("recorded");

    let mut denied = request("k_3f9a0c1e5b7d", "read_records");
    // A name that a spreadsheet would run as a formula, and a rule with quotes and commas.
    denied.key_name = Some("=HYPERLINK(\"http://example.com\")".to_owned());
    denied.model = Some("hr.employee".to_owned());
    let rule = "profile \"sales\": fields.read.deny \"birthday\", from \"base\"";
    denied.decision = Some(Decision::deny(rule, "forbidden"));
    denied.outcome = Some(Outcome::error("forbidden"));
    auditor.record(denied).await.expect("recorded");

    let mut refused = AuditEvent::request(SystemTime::now(), "authenticate");
    refused.decision = Some(Decision::deny("", "unknown key"));
    refused.outcome = Some(Outcome::error("unauthenticated"));
    auditor.record(refused).await.expect("recorded");

    assert!(auditor.flush(WAIT).await, "flushed in time");
    let rows = rows(&path);
    assert_eq!(rows.len(), 3, "{rows:#?}");
    for row in &rows {
        assert_eq!(row.len(), HEADER.split(',').count(), "{row:?}");
    }
    let [read, denied, refused] = [&rows[0], &rows[1], &rows[2]];
    assert_eq!(col(read, "key_name"), "claude-alice");
    assert_eq!(col(read, "client_ip"), "10.1.2.3");
    assert_eq!(col(read, "tool"), "search_records");
    assert_eq!(col(read, "model"), "res.partner");
    assert_eq!(col(read, "records"), "3");
    assert_eq!(col(read, "decision"), "allow");
    assert_eq!(col(read, "outcome"), "ok");
    assert!(col(read, "time").ends_with('Z'), "{read:?}");

    assert_eq!(col(denied, "decision"), "deny");
    assert_eq!(col(denied, "rule"), rule, "quotes and commas survive");
    assert_eq!(col(denied, "outcome"), "forbidden");
    assert_eq!(
        col(denied, "key_name"),
        "'=HYPERLINK(\"http://example.com\")",
        "a formula is kept as text"
    );

    assert_eq!(
        col(refused, "tool"),
        "authenticate",
        "the method, without a tool"
    );
    assert_eq!(
        col(refused, "rule"),
        "unknown key",
        "the reason, without a rule"
    );
    assert_eq!(col(refused, "outcome"), "unauthenticated");

    let stats = &auditor.stats()[0];
    assert_eq!(
        (stats.name.as_str(), stats.written, stats.dropped),
        ("csv", 3, 0)
    );
    assert!(auditor.shutdown(WAIT).await);
}

#[test]
fn alerts_and_gaps_have_lines_of_their_own() {
    let alert = AuditEvent::alert(
        SystemTime::now(),
        Alert {
            name: "denied_burst".to_owned(),
            message: "key k_3f9a0c1e5b7d: 10 denied requests in 60 s".to_owned(),
            count: Some(10),
            window_s: Some(60),
        },
    );
    let row = cells(line(&alert).trim_end());
    assert_eq!(col(&row, "decision"), "alert");
    assert_eq!(col(&row, "rule"), "denied_burst");
    assert_eq!(
        col(&row, "outcome"),
        "key k_3f9a0c1e5b7d: 10 denied requests in 60 s"
    );

    let gap = AuditEvent::gap(
        SystemTime::now(),
        Gap {
            sink: "webhook".to_owned(),
            dropped: 4,
            since: "2026-12-01T05:40:56.123456Z".to_owned(),
            reason: "queue full".to_owned(),
        },
    );
    let row = cells(line(&gap).trim_end());
    assert_eq!(col(&row, "decision"), "gap");
    assert_eq!(col(&row, "rule"), "webhook: queue full");
    assert_eq!(
        col(&row, "outcome"),
        "4 event(s) lost since 2026-12-01T05:40:56.123456Z"
    );
}

#[tokio::test]
async fn under_drop_a_failed_write_is_counted_then_reported_by_a_gap_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let folder = dir.path().join("not-yet");
    let path = folder.join("audit.csv");
    let auditor = auditor(&path, CsvSink::OPTIONS);

    // The folder does not exist: the write fails, the request is not held up.
    auditor
        .record(request("k_000000000001", "first"))
        .await
        .expect("a drop sink never fails a request");
    // A flush is handled after the failed write: the loss is counted by then.
    assert!(auditor.flush(WAIT).await);
    let stats = &auditor.stats()[0];
    assert_eq!(stats.dropped, 1, "{stats:?}");
    assert!(stats.failing && stats.failures >= 1, "{stats:?}");
    assert!(
        auditor.ready().is_ok(),
        "a drop sink never refuses requests"
    );

    std::fs::create_dir(&folder).expect("create the folder");
    auditor
        .record(request("k_000000000002", "second"))
        .await
        .expect("recorded");
    assert!(auditor.flush(WAIT).await);

    let rows = rows(&path);
    assert_eq!(rows.len(), 2, "a gap line, then the event: {rows:#?}");
    assert_eq!(col(&rows[0], "decision"), "gap");
    assert!(
        col(&rows[0], "rule").starts_with("csv: write failed: cannot open"),
        "{:?}",
        rows[0]
    );
    assert!(
        col(&rows[0], "outcome").starts_with("1 event(s) lost since "),
        "{:?}",
        rows[0]
    );
    assert_eq!(col(&rows[1], "tool"), "second");
    let stats = &auditor.stats()[0];
    assert!(!stats.failing, "{stats:?}");
    assert_eq!((stats.written, stats.dropped), (2, 1), "{stats:?}");
    assert!(auditor.shutdown(WAIT).await);
}

#[tokio::test]
async fn under_block_a_failed_write_fails_the_request_and_is_retried() {
    let dir = tempfile::tempdir().expect("temp dir");
    let folder = dir.path().join("not-yet");
    let path = folder.join("audit.csv");
    let fail_closed = SinkOptions {
        policy: FailurePolicy::Block { timeout: WAIT },
        queue_capacity: 64,
    };
    let auditor = auditor(&path, fail_closed);

    let error = auditor
        .record(request("k_000000000001", "first"))
        .await
        .expect_err("the event was not recorded");
    assert!(
        matches!(&error, AuditError::Unavailable { sink } if sink == "csv"),
        "{error:?}"
    );
    assert!(
        auditor.ready().is_err(),
        "new requests are refused while the sink fails"
    );

    std::fs::create_dir(&folder).expect("create the folder");
    // Waits (within the timeout) for the retried batch and this event to be written.
    auditor
        .record(request("k_000000000002", "second"))
        .await
        .expect("recorded once the folder exists");
    assert!(auditor.ready().is_ok(), "recovered");

    let rows = rows(&path);
    let tools: Vec<&str> = rows.iter().map(|r| col(r, "tool")).collect();
    assert_eq!(tools, ["first", "second"], "nothing lost, no gap");
    assert_eq!(auditor.stats()[0].dropped, 0);
    assert!(auditor.shutdown(WAIT).await);
}

#[tokio::test]
async fn shutdown_writes_what_is_queued_and_closes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("audit.csv");
    let auditor = auditor(&path, CsvSink::OPTIONS);
    for i in 0..500 {
        auditor.record_nowait(request("k_000000000001", &format!("call-{i}")));
    }
    assert!(auditor.shutdown(WAIT).await, "closed in time");

    let rows = rows(&path);
    assert_eq!(rows.len(), 500);
    assert_eq!(col(&rows[0], "tool"), "call-0");
    assert_eq!(col(&rows[499], "tool"), "call-499");
    assert_eq!(auditor.stats()[0].written, 500);
    let closed = auditor.record(request("k_000000000001", "late")).await;
    assert!(matches!(closed, Err(AuditError::Closed)), "{closed:?}");
}

#[test]
fn a_write_that_fails_returns_an_error_and_the_file_is_reopened() {
    let dir = tempfile::tempdir().expect("temp dir");
    let folder = dir.path().join("not-yet");
    let mut sink = CsvSink::new(folder.join("audit.csv"));
    let event = Arc::new(request("k_000000000001", "first"));

    let error = sink
        .write(std::slice::from_ref(&event))
        .expect_err("no folder");
    assert!(error.to_string().contains("cannot open"), "{error}");
    assert!(!folder.exists(), "nothing was created");

    std::fs::create_dir(&folder).expect("create the folder");
    sink.write(std::slice::from_ref(&event)).expect("written");
    sink.close().expect("closed");
    assert_eq!(rows(sink.path()).len(), 1);
}

/// A full disk: the write itself fails (Linux's `/dev/full`).
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_is_an_error() {
    let mut sink = CsvSink::new("/dev/full");
    let event = Arc::new(request("k_000000000001", "first"));
    let error = sink.write(&[event]).expect_err("no space left");
    assert!(
        error.to_string().contains("cannot write /dev/full"),
        "{error}"
    );
}
