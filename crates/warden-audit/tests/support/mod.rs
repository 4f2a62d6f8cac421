//! Helpers shared by the audit tests: a fake clock, events, and writing a stream.

#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use warden_audit::jsonl::Clock;
use warden_audit::{AuditEvent, JsonlConfig, JsonlSink, Sink};

/// A clock the test moves.
#[derive(Clone)]
pub struct FakeClock(Arc<Mutex<SystemTime>>);

impl FakeClock {
    /// 2026-12-01T10:00:00Z.
    pub fn new() -> Self {
        Self(Arc::new(Mutex::new(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_083_200 + 10 * 3600),
        )))
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().expect("clock");
        *now += by;
    }

    pub fn get(&self) -> SystemTime {
        *self.0.lock().expect("clock")
    }
}

impl Clock for FakeClock {
    fn now(&self) -> SystemTime {
        self.get()
    }
}

/// A request event numbered `n`.
pub fn event(n: u64, at: SystemTime) -> Arc<AuditEvent> {
    let mut event = AuditEvent::request(at, "tools/call");
    event.request_id = Some(n.to_string());
    event.key_id = Some("k_test".to_owned());
    event.tool = Some("search_records".to_owned());
    event.model = Some("res.partner".to_owned());
    Arc::new(event)
}

/// A sink in `dir` on `clock`.
pub fn config(dir: &Path, clock: &FakeClock) -> JsonlConfig {
    let mut config = JsonlConfig::new(dir);
    config.clock = Arc::new(clock.clone());
    config
}

/// Write `count` events through a sink opened with `config`, then close it.
pub fn write_stream(config: JsonlConfig, count: u64) {
    let clock = Arc::clone(&config.clock);
    let mut sink = JsonlSink::open(config).expect("open");
    for n in 0..count {
        sink.write(&[event(n, clock.now())]).expect("write");
    }
    sink.close().expect("close");
}

/// The `.jsonl` files of `dir`, sorted by name.
pub fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files
}

/// The lines of a file.
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("read")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Write `lines` back to `path`, newline-terminated.
pub fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).expect("write");
}
