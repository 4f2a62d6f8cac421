//! Checkpoints: the file sink makes one at start, at every rotation, periodically while events
//! are written and at shutdown; appends each to the anchors file (0600, outside the folder);
//! hands each to the other sinks of the pipeline (shutdown included); and `verify_dir` checks
//! the log against them, retention included.

mod support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use support::{FakeClock, config, event, files, lines};
use warden_audit::checkpoint::{Anchors, Checkpoint};
use warden_audit::signing::SigningKey;
use warden_audit::verify::{VerifyOptions, verify_dir};
use warden_audit::{
    AuditEvent, Auditor, EventKind, FailurePolicy, JsonlConfig, JsonlSink, Sink, SinkError,
    SinkOptions,
};

struct Setup {
    _root: tempfile::TempDir,
    dir: PathBuf,
    anchors: PathBuf,
    key: SigningKey,
}

fn setup() -> Setup {
    let root = tempfile::tempdir().expect("tmp");
    Setup {
        dir: root.path().join("audit"),
        anchors: root.path().join("anchors.jsonl"),
        key: SigningKey::generate().expect("key").0,
        _root: root,
    }
}

impl Setup {
    fn config(&self, clock: &FakeClock) -> JsonlConfig {
        let mut config = config(&self.dir, clock);
        config.signer = Some(self.key.clone());
        config.anchors_file = Some(self.anchors.clone());
        config
    }

    fn anchored(&self) -> Vec<Checkpoint> {
        Anchors::read(&self.anchors)
            .expect("anchors")
            .anchors
            .into_iter()
            .map(|a| a.checkpoint)
            .collect()
    }

    fn options(&self) -> VerifyOptions {
        VerifyOptions {
            public_key: Some(self.key.public_key()),
            anchors: Some(Anchors::read(&self.anchors).expect("anchors")),
            ..VerifyOptions::default()
        }
    }
}

fn reasons(checkpoints: &[Checkpoint]) -> Vec<&str> {
    checkpoints.iter().map(|c| c.reason.as_str()).collect()
}

fn emitted(sink: &mut JsonlSink) -> Vec<Checkpoint> {
    sink.take_emitted()
        .iter()
        .map(|e| {
            assert_eq!(e.kind, EventKind::Checkpoint);
            e.checkpoint.clone().expect("a checkpoint")
        })
        .collect()
}

#[test]
fn checkpoints_are_made_at_start_rotation_interval_and_shutdown() {
    let s = setup();
    let clock = FakeClock::new();
    let mut sink = JsonlSink::open(s.config(&clock)).expect("open");
    assert!(sink.emits());
    assert_eq!(sink.tick_interval(), Some(Duration::from_secs(1)));
    let mut made = emitted(&mut sink);
    assert_eq!(reasons(&made), ["start"]);
    assert_eq!(made[0].seq, 0);

    for n in 0..3 {
        sink.write(&[event(n, clock.get())]).expect("write");
    }
    sink.tick().expect("tick");
    assert!(emitted(&mut sink).is_empty(), "the interval has not passed");
    clock.advance(Duration::from_secs(301));
    sink.tick().expect("tick");
    let interval = emitted(&mut sink);
    assert_eq!(reasons(&interval), ["interval"]);
    assert_eq!(interval[0].seq, 3, "the last line written");
    clock.advance(Duration::from_secs(301));
    sink.tick().expect("tick");
    assert!(
        emitted(&mut sink).is_empty(),
        "nothing was written since the last checkpoint"
    );
    sink.write(&[event(3, clock.get())]).expect("write");
    made.extend(interval);
    made.extend(emitted(&mut sink));
    // Midnight: the rotation's checkpoint names the new file's first line.
    clock.advance(Duration::from_secs(14 * 3600));
    sink.write(&[event(4, clock.get())]).expect("write");
    let rotation = emitted(&mut sink);
    assert_eq!(reasons(&rotation), ["day"]);
    assert!(rotation[0].file.contains("20261202"), "{rotation:?}");
    made.extend(rotation);
    sink.close().expect("close");
    made.extend(emitted(&mut sink));
    assert_eq!(
        reasons(&made),
        ["start", "interval", "interval", "day", "shutdown"]
    );

    // The anchors file holds the same checkpoints, each signed, one event per line.
    assert_eq!(s.anchored(), made);
    for checkpoint in &made {
        assert!(checkpoint.verify(&s.key.public_key()), "{checkpoint:?}");
        assert_eq!(checkpoint.key_id, s.key.id());
    }
    for line in lines(&s.anchors) {
        let value: Value = serde_json::from_str(&line).expect("json");
        assert_eq!(value["kind"], "checkpoint", "{line}");
    }
    let last = made.last().expect("shutdown");
    let newest = files(&s.dir).pop().expect("a file");
    let text = lines(&newest);
    assert_eq!(
        last.hash,
        warden_audit::chain::hash_hex(text.last().expect("line").as_bytes())
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&s.anchors)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    drop(sink);
    let report = verify_dir(&s.dir, &s.options()).expect("verify");
    assert!(report.ok(), "{report:#?}");
    assert_eq!(report.streams[0].checkpoints, 5);
}

#[test]
fn no_signing_key_no_checkpoint_and_bad_anchors_are_refused() {
    let s = setup();
    let clock = FakeClock::new();
    let mut sink = JsonlSink::open(config(&s.dir, &clock)).expect("open");
    assert!(!sink.emits());
    assert_eq!(sink.tick_interval(), None);
    sink.close().expect("close");
    assert!(sink.take_emitted().is_empty());
    drop(sink);

    let mut unsigned = config(&s.dir, &clock);
    unsigned.anchors_file = Some(s.anchors.clone());
    let error = JsonlSink::open(unsigned).expect_err("anchors without a key");
    assert!(error.to_string().contains("signing key"), "{error}");

    let mut inside = s.config(&clock);
    inside.anchors_file = Some(s.dir.join("anchors.jsonl"));
    let error = JsonlSink::open(inside).expect_err("anchors inside the folder");
    assert!(
        error.to_string().contains("inside the audit folder"),
        "{error}"
    );
    let mut below = s.config(&clock);
    std::fs::create_dir_all(s.dir.join("sub")).expect("mkdir");
    below.anchors_file = Some(s.dir.join("sub").join("anchors.jsonl"));
    assert!(JsonlSink::open(below).is_err());
}

#[test]
fn forged_and_foreign_checkpoints_fail() {
    let s = setup();
    let clock = FakeClock::new();
    support::write_stream(s.config(&clock), 5);
    assert!(verify_dir(&s.dir, &s.options()).expect("verify").ok());
    let good = std::fs::read_to_string(&s.anchors).expect("anchors");

    // A checkpoint changed in the anchors file: its signature no longer verifies.
    let forged = good.replacen("\"seq\":0", "\"seq\":1", 1);
    assert_ne!(forged, good);
    std::fs::write(&s.anchors, &forged).expect("write");
    let report = verify_dir(&s.dir, &s.options()).expect("verify");
    assert!(!report.ok());
    let anchors = report.anchors.as_ref().expect("anchors report");
    assert!(
        anchors.problems[0].contains("line 1") && anchors.problems[0].contains("does not verify"),
        "{anchors:?}"
    );
    // Without the public key the signature is not checked, but the chain does not reach it.
    let unchecked = VerifyOptions {
        anchors: Some(Anchors::read(&s.anchors).expect("anchors")),
        ..VerifyOptions::default()
    };
    let report = verify_dir(&s.dir, &unchecked).expect("verify");
    let problem = report.streams[0].problem.as_ref().expect("problem");
    assert!(
        problem
            .reason
            .contains("checkpoint of stream warden at seq 1"),
        "{problem:?}"
    );
    assert!(
        report.anchors.as_ref().expect("anchors").warnings[0].contains("not checked"),
        "{report:#?}"
    );

    // A checkpoint of another key.
    let (other, _) = SigningKey::generate().expect("key");
    let foreign = Checkpoint::new(&other, "warden", "f", 2, "00", "t", "interval");
    let line = serde_json::json!({ "checkpoint": foreign });
    std::fs::write(&s.anchors, format!("{good}{line}\n")).expect("write");
    let report = verify_dir(&s.dir, &s.options()).expect("verify");
    let anchors = report.anchors.as_ref().expect("anchors report");
    assert!(
        anchors.problems.iter().any(|p| p.contains(other.id())),
        "{anchors:?}"
    );

    // An empty anchors file anchors nothing.
    std::fs::write(&s.anchors, "").expect("write");
    let report = verify_dir(&s.dir, &s.options()).expect("verify");
    assert!(!report.ok());
}

#[test]
fn checkpoints_in_files_removed_by_retention_are_accounted_for() {
    let s = setup();
    let clock = FakeClock::new();
    for _ in 0..4 {
        let mut cfg = s.config(&clock);
        cfg.retention_days = 30;
        support::write_stream(cfg, 3);
        clock.advance(Duration::from_secs(20 * 86_400));
    }
    assert_eq!(files(&s.dir).len(), 2, "two files were removed");
    let report = verify_dir(&s.dir, &s.options()).expect("verify");
    assert!(report.ok(), "{report:#?}");
    assert_eq!(report.streams[0].checkpoints, 8, "{report:#?}");

    // A checkpoint of a removed file's last line whose hash the retention record contradicts.
    let anchored = s.anchored();
    let removed_last = &anchored[1];
    assert_eq!(removed_last.reason, "shutdown");
    let forged = Checkpoint::new(
        &s.key,
        "warden",
        &removed_last.file,
        removed_last.seq,
        &"0".repeat(64),
        &removed_last.time,
        "shutdown",
    );
    let mut text = std::fs::read_to_string(&s.anchors).expect("anchors");
    text.push_str(&serde_json::to_string(&forged).expect("json"));
    text.push('\n');
    std::fs::write(&s.anchors, text).expect("write");
    let report = verify_dir(&s.dir, &s.options()).expect("verify");
    let problem = report.streams[0].problem.as_ref().expect("problem");
    assert!(problem.reason.contains("retention record"), "{problem:?}");
}

/// A sink that keeps what it is given.
#[derive(Clone, Default)]
struct Memory(Arc<Mutex<Vec<Arc<AuditEvent>>>>);

impl Sink for Memory {
    fn name(&self) -> &str {
        "memory"
    }
    fn write(&mut self, events: &[Arc<AuditEvent>]) -> Result<(), SinkError> {
        self.0.lock().expect("lock").extend(events.iter().cloned());
        Ok(())
    }
}

impl Memory {
    fn checkpoints(&self) -> Vec<String> {
        self.0
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|e| e.checkpoint.as_ref().map(|c| c.reason.clone()))
            .collect()
    }
    fn requests(&self) -> usize {
        self.0
            .lock()
            .expect("lock")
            .iter()
            .filter(|e| e.kind == EventKind::Request)
            .count()
    }
}

fn auditor(s: &Setup, memory: &Memory, interval: Duration) -> Auditor {
    let mut cfg = JsonlConfig::new(&s.dir);
    cfg.signer = Some(s.key.clone());
    cfg.anchors_file = Some(s.anchors.clone());
    cfg.checkpoint_interval = interval;
    let options = SinkOptions {
        policy: FailurePolicy::Drop,
        queue_capacity: 64,
    };
    // The other sink first: the file sink is closed first all the same.
    Auditor::builder()
        .sink(memory.clone(), options)
        .sink(JsonlSink::open(cfg).expect("open"), SinkOptions::default())
        .build()
        .expect("build")
}

fn request(n: u64) -> AuditEvent {
    let mut event = AuditEvent::request(SystemTime::now(), "tools/call");
    event.request_id = Some(n.to_string());
    event
}

#[tokio::test]
async fn the_pipeline_hands_every_checkpoint_to_the_other_sinks_shutdown_included() {
    let s = setup();
    let memory = Memory::default();
    let auditor = auditor(&s, &memory, Duration::from_millis(50));
    for n in 0..3 {
        auditor.record(request(n)).await.expect("record");
    }
    // Idle: the ticks make the periodic checkpoint.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !memory.checkpoints().contains(&"interval".to_owned()) {
        assert!(
            std::time::Instant::now() < deadline,
            "no interval checkpoint"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(auditor.shutdown(Duration::from_secs(5)).await);
    let reasons = memory.checkpoints();
    assert_eq!(reasons.first().map(String::as_str), Some("start"));
    assert_eq!(
        reasons.last().map(String::as_str),
        Some("shutdown"),
        "{reasons:?}"
    );
    assert_eq!(memory.requests(), 3);
    let anchored: Vec<String> = Anchors::read(&s.anchors)
        .expect("anchors")
        .anchors
        .into_iter()
        .map(|a| a.checkpoint.reason)
        .collect();
    assert_eq!(anchored, reasons);
    let report = verify_dir(&s.dir, &s.options()).expect("verify");
    assert!(report.ok(), "{report:#?}");
}

#[test]
fn dropping_the_last_handle_still_hands_over_the_shutdown_checkpoint() {
    let s = setup();
    let memory = Memory::default();
    let auditor = auditor(&s, &memory, Duration::from_secs(300));
    auditor.record_nowait(request(1));
    drop(auditor);
    assert_eq!(memory.checkpoints(), ["start", "shutdown"]);
    assert_eq!(memory.requests(), 1);
}

#[test]
fn anchors_and_emitted_checkpoints_match_the_written_lines() {
    let s = setup();
    let clock = FakeClock::new();
    let mut cfg = s.config(&clock);
    cfg.max_file_bytes = 4096;
    let mut sink = JsonlSink::open(cfg).expect("open");
    for n in 0..60 {
        sink.write(&[event(n, clock.get())]).expect("write");
    }
    sink.close().expect("close");
    let anchored = s.anchored();
    assert!(
        anchored.iter().filter(|c| c.reason == "size").count() >= 3,
        "{anchored:?}"
    );
    let by_file = |file: &str| -> Vec<String> { lines(&Path::new(&s.dir).join(file)) };
    for checkpoint in &anchored {
        let found = by_file(&checkpoint.file).iter().any(|line| {
            warden_audit::chain::hash_hex(line.as_bytes()) == checkpoint.hash
                && line.starts_with(&format!("{{\"seq\":{},", checkpoint.seq))
        });
        assert!(found, "{checkpoint:?}");
    }
}

#[test]
fn two_emitting_sinks_end_and_both_hand_their_checkpoints_to_the_others() {
    let s = setup();
    let other_dir = s.dir.with_file_name("audit-2");
    let memory = Memory::default();
    let mut second = JsonlConfig::new(&other_dir);
    second.signer = Some(s.key.clone());
    let mut first = JsonlConfig::new(&s.dir);
    first.signer = Some(s.key.clone());
    let auditor = Auditor::builder()
        .sink(
            JsonlSink::open(first).expect("open"),
            SinkOptions::default(),
        )
        .sink(memory.clone(), SinkOptions::default())
        .sink(
            JsonlSink::open(second).expect("open"),
            SinkOptions::default(),
        )
        .build()
        .expect("build");
    auditor.record_nowait(request(1));
    // Dropping the last handle ends every thread (it would hang if the two file sinks held
    // each other's queues).
    drop(auditor);
    let mut reasons = memory.checkpoints();
    reasons.sort();
    assert_eq!(
        reasons,
        ["shutdown", "shutdown", "start", "start"],
        "each file sink's"
    );
    // Neither file sink wrote the other's checkpoints into its chain.
    for dir in [&s.dir, &other_dir] {
        let text: String = files(dir).iter().flat_map(|f| lines(f)).collect();
        assert!(!text.contains("\"kind\":\"checkpoint\""));
    }
}
