//! The pipeline's promises: fail closed under `block` (a request waits for its event and fails
//! when it cannot be recorded; new requests are refused while the sink fails; nothing is lost
//! once it recovers), count and report the loss under `drop` (a gap event when the sink
//! recovers), never wait on a `drop` sink, and flush at shutdown.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use warden_audit::{
    AuditError, AuditEvent, Auditor, EventKind, FailurePolicy, JsonlSink, Sink, SinkError,
    SinkOptions,
};

/// A sink that keeps what it is given, and fails while told to.
#[derive(Clone, Default)]
struct Memory {
    events: Arc<Mutex<Vec<Arc<AuditEvent>>>>,
    failing: Arc<AtomicBool>,
    delay: Arc<Mutex<Duration>>,
    writes: Arc<AtomicUsize>,
}

impl Memory {
    fn kinds(&self) -> Vec<EventKind> {
        self.events
            .lock()
            .expect("lock")
            .iter()
            .map(|e| e.kind)
            .collect()
    }
    fn requests(&self) -> usize {
        self.kinds()
            .iter()
            .filter(|k| **k == EventKind::Request)
            .count()
    }
    fn gaps(&self) -> Vec<u64> {
        self.events
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|e| e.gap.as_ref().map(|g| g.dropped))
            .collect()
    }
}

impl Sink for Memory {
    fn name(&self) -> &str {
        "memory"
    }
    fn write(&mut self, events: &[Arc<AuditEvent>]) -> Result<(), SinkError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        let delay = *self.delay.lock().expect("lock");
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        if self.failing.load(Ordering::SeqCst) {
            return Err(SinkError::new("disk full"));
        }
        self.events
            .lock()
            .expect("lock")
            .extend(events.iter().cloned());
        Ok(())
    }
}

fn event(n: u64) -> AuditEvent {
    let mut event = AuditEvent::request(SystemTime::now(), "tools/call");
    event.request_id = Some(n.to_string());
    event
}

fn block(ms: u64) -> SinkOptions {
    SinkOptions {
        policy: FailurePolicy::Block {
            timeout: Duration::from_millis(ms),
        },
        queue_capacity: 64,
    }
}

fn drop_policy(capacity: usize) -> SinkOptions {
    SinkOptions {
        policy: FailurePolicy::Drop,
        queue_capacity: capacity,
    }
}

/// Wait (bounded) until `check` holds.
async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn block_waits_until_the_event_is_recorded() {
    let memory = Memory::default();
    let auditor = Auditor::builder()
        .sink(memory.clone(), block(2000))
        .build()
        .expect("build");
    for n in 0..20 {
        auditor.record(event(n)).await.expect("recorded");
        // Recorded means written, before record returns.
        assert_eq!(memory.requests(), usize::try_from(n).expect("small") + 1);
    }
}

#[tokio::test]
async fn block_fails_closed_and_loses_nothing_once_the_sink_recovers() {
    let memory = Memory::default();
    memory.failing.store(true, Ordering::SeqCst);
    let auditor = Auditor::builder()
        .sink(memory.clone(), block(200))
        .build()
        .expect("build");
    assert!(auditor.ready().is_ok(), "healthy until a write fails");
    let error = auditor
        .record(event(1))
        .await
        .expect_err("cannot be recorded");
    assert!(
        matches!(
            error,
            AuditError::Unavailable { .. } | AuditError::Timeout { .. }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("memory"), "{error}");
    // While failing, new requests are refused before they start.
    assert!(matches!(
        auditor.ready(),
        Err(AuditError::Unavailable { .. })
    ));
    // The sink recovers: the kept event is written, and requests are admitted again.
    memory.failing.store(false, Ordering::SeqCst);
    eventually("the kept event", || memory.requests() == 1).await;
    eventually("ready again", || auditor.ready().is_ok()).await;
    auditor.record(event(2)).await.expect("recorded");
    assert_eq!(memory.requests(), 2);
    assert!(memory.gaps().is_empty(), "nothing was dropped");
    assert_eq!(auditor.stats()[0].dropped, 0);
}

#[tokio::test]
async fn block_times_out_on_a_slow_sink() {
    let memory = Memory::default();
    *memory.delay.lock().expect("lock") = Duration::from_millis(300);
    let auditor = Auditor::builder()
        .sink(memory.clone(), block(50))
        .build()
        .expect("build");
    let started = Instant::now();
    let error = auditor.record(event(1)).await.expect_err("too slow");
    assert!(matches!(error, AuditError::Timeout { .. }), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_millis(290),
        "the wait is bounded"
    );
    // The event is still written (late), not lost.
    eventually("the late event", || memory.requests() == 1).await;
}

#[tokio::test]
async fn drop_never_waits_counts_the_loss_and_records_a_gap() {
    let memory = Memory::default();
    memory.failing.store(true, Ordering::SeqCst);
    *memory.delay.lock().expect("lock") = Duration::from_millis(20);
    let auditor = Auditor::builder()
        .sink(memory.clone(), drop_policy(8))
        .build()
        .expect("build");
    let started = Instant::now();
    for n in 0..200 {
        auditor
            .record(event(n))
            .await
            .expect("drop never fails a request");
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "200 records took {:?}: a drop sink must not hold requests up",
        started.elapsed()
    );
    assert!(
        auditor.ready().is_ok(),
        "a drop sink never refuses requests"
    );
    eventually("drops counted", || auditor.stats()[0].dropped > 0).await;
    memory.failing.store(false, Ordering::SeqCst);
    *memory.delay.lock().expect("lock") = Duration::ZERO;
    auditor.record(event(1000)).await.expect("record");
    eventually("a gap event", || !memory.gaps().is_empty()).await;
    assert!(auditor.flush(Duration::from_secs(5)).await);
    let stats = auditor.stats().remove(0);
    let recorded = memory.requests() as u64;
    let reported: u64 = memory.gaps().iter().sum();
    assert_eq!(
        recorded + reported,
        201,
        "every event is either recorded or counted in a gap ({recorded} + {reported})"
    );
    assert_eq!(stats.dropped, reported);
    let gap = memory
        .events
        .lock()
        .expect("lock")
        .iter()
        .find_map(|e| e.gap.clone())
        .expect("gap");
    assert_eq!(gap.sink, "memory");
    assert!(!gap.since.is_empty() && !gap.reason.is_empty());
}

#[tokio::test]
async fn a_failing_drop_sink_does_not_hold_up_a_block_sink() {
    let strict = Memory::default();
    let lossy = Memory::default();
    lossy.failing.store(true, Ordering::SeqCst);
    *lossy.delay.lock().expect("lock") = Duration::from_millis(500);
    let auditor = Auditor::builder()
        .sink(strict.clone(), block(1000))
        .sink(lossy.clone(), drop_policy(4))
        .build()
        .expect("build");
    let started = Instant::now();
    for n in 0..20 {
        auditor.record(event(n)).await.expect("strict sink records");
    }
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(strict.requests(), 20);
}

#[tokio::test]
async fn shutdown_flushes_and_closes_the_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let clock = support::FakeClock::new();
    let mut config = support::config(dir.path(), &clock);
    config.durability = warden_audit::Durability::GroupCommit {
        interval: Duration::from_millis(50),
    };
    let sink = JsonlSink::open(config).expect("open");
    let auditor = Auditor::builder()
        .sink(
            sink,
            SinkOptions {
                policy: FailurePolicy::Drop,
                queue_capacity: 4096,
            },
        )
        .build()
        .expect("build");
    for n in 0..500 {
        auditor.record(event(n)).await.expect("record");
    }
    assert!(auditor.shutdown(Duration::from_secs(10)).await);
    drop(auditor);
    let report = warden_audit::verify::verify_dir(dir.path(), &Default::default()).expect("verify");
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.events(), 500);
    assert!(
        report.streams[0].warnings.is_empty(),
        "closed cleanly: {report:?}"
    );
}

#[tokio::test]
async fn alerts_are_recorded_beside_the_requests() {
    let memory = Memory::default();
    let auditor = Auditor::builder()
        .sink(memory.clone(), block(2000))
        .alerts(warden_audit::AlertConfig::default())
        .build()
        .expect("build");
    for n in 0..10 {
        let mut e = event(n);
        e.key_id = Some("k_x".to_owned());
        e.decision = Some(warden_audit::Decision::deny("models.deny", "forbidden"));
        auditor.record(e).await.expect("record");
    }
    assert!(auditor.flush(Duration::from_secs(5)).await);
    let alerts: Vec<String> = memory
        .events
        .lock()
        .expect("lock")
        .iter()
        .filter_map(|e| e.alert.as_ref().map(|a| a.name.clone()))
        .collect();
    assert_eq!(alerts, vec!["denied_burst"]);
}

#[tokio::test]
async fn a_disabled_auditor_records_nothing_and_never_fails() {
    let auditor = Auditor::disabled();
    assert!(!auditor.is_enabled());
    assert!(auditor.ready().is_ok());
    auditor.record(event(1)).await.expect("ok");
    assert!(auditor.shutdown(Duration::from_secs(1)).await);
}
