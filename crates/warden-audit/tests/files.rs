//! The JSONL sink on real files: rotation by day and by size, retention with a fake clock,
//! permissions, several writers in one folder, and a writer that resumes a stream.

mod support;

use std::time::Duration;

use support::{FakeClock, config, event, files, lines};
use warden_audit::verify::{VerifyOptions, verify_dir};
use warden_audit::{JsonlSink, Sink};

fn names(dir: &std::path::Path) -> Vec<String> {
    files(dir)
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect()
}

#[test]
fn files_rotate_at_midnight_utc_and_stay_linked() {
    let dir = tempfile::tempdir().expect("tmp");
    let clock = FakeClock::new();
    let mut sink = JsonlSink::open(config(dir.path(), &clock)).expect("open");
    sink.write(&[event(1, clock.get())]).expect("write");
    clock.advance(Duration::from_secs(14 * 3600)); // 2026-12-02T00:00:00Z
    sink.write(&[event(2, clock.get())]).expect("write");
    sink.close().expect("close");
    assert_eq!(
        names(dir.path()),
        vec![
            "warden-20261201-000001.jsonl",
            "warden-20261202-000002.jsonl"
        ]
    );
    let first = lines(&files(dir.path())[0]);
    assert!(first.last().expect("line").contains("\"reason\":\"day\""));
    let report = verify_dir(dir.path(), &VerifyOptions::default()).expect("verify");
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.events(), 2);
}

#[test]
fn files_rotate_by_size() {
    let dir = tempfile::tempdir().expect("tmp");
    let clock = FakeClock::new();
    let mut cfg = config(dir.path(), &clock);
    cfg.max_file_bytes = 4096;
    let mut sink = JsonlSink::open(cfg).expect("open");
    for n in 0..100 {
        sink.write(&[event(n, clock.get())]).expect("write");
    }
    sink.close().expect("close");
    let all = files(dir.path());
    assert!(all.len() >= 5, "{} files", all.len());
    for file in &all {
        let size = std::fs::metadata(file).expect("meta").len();
        assert!(size <= 4096 + 1024, "{} is {size} bytes", file.display());
    }
    let report = verify_dir(dir.path(), &VerifyOptions::default()).expect("verify");
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.events(), 100);
}

#[test]
fn retention_removes_old_files_and_the_chain_still_verifies() {
    let dir = tempfile::tempdir().expect("tmp");
    let clock = FakeClock::new();
    for _ in 0..3 {
        let mut cfg = config(dir.path(), &clock);
        cfg.retention_days = 30;
        support::write_stream(cfg, 5);
        clock.advance(Duration::from_secs(20 * 86_400));
    }
    // Day 0, 20 and 40 written; now day 60: with 30 days, days 0 and 20 go.
    let mut cfg = config(dir.path(), &clock);
    cfg.retention_days = 30;
    support::write_stream(cfg, 5);
    let left = names(dir.path());
    assert_eq!(
        left,
        vec![
            "warden-20270110-000003.jsonl",
            "warden-20270130-000004.jsonl"
        ],
        "{left:?}"
    );
    // Each removal is recorded, before it happens, in the file being written then.
    let retained = |file: &std::path::Path, removed: &str| {
        lines(file)
            .iter()
            .any(|l| l.contains("\"op\":\"retention\"") && l.contains(removed))
    };
    let kept = files(dir.path());
    assert!(retained(&kept[0], "warden-20261201-000001.jsonl"));
    assert!(retained(&kept[1], "warden-20261221-000002.jsonl"));
    let report = verify_dir(dir.path(), &VerifyOptions::default()).expect("verify");
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.events(), 10);
}

#[cfg(unix)]
#[test]
fn files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().expect("tmp");
    let dir = parent.path().join("audit");
    let clock = FakeClock::new();
    support::write_stream(config(&dir, &clock), 1);
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    for entry in std::fs::read_dir(&dir).expect("dir") {
        let path = entry.expect("entry").path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
}

#[test]
fn two_writers_in_one_folder_keep_separate_chains() {
    let dir = tempfile::tempdir().expect("tmp");
    let clock = FakeClock::new();
    let mut a = JsonlSink::open(config(dir.path(), &clock)).expect("open a");
    let mut b = JsonlSink::open(config(dir.path(), &clock)).expect("open b");
    assert_eq!(a.stream(), "warden");
    assert_eq!(b.stream(), "warden.2");
    for n in 0..10 {
        a.write(&[event(n, clock.get())]).expect("a");
        b.write(&[event(100 + n, clock.get())]).expect("b");
    }
    a.close().expect("close");
    b.close().expect("close");
    drop(a);
    let report = verify_dir(dir.path(), &VerifyOptions::default()).expect("verify");
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.streams.len(), 2);
    assert_eq!(report.events(), 20);
    // The freed stream is taken again by the next writer, and continues its chain.
    drop(b);
    support::write_stream(config(dir.path(), &clock), 1);
    let report = verify_dir(dir.path(), &VerifyOptions::default()).expect("verify");
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.events(), 21);
}

#[test]
fn a_writer_after_a_torn_line_starts_a_new_file_linked_to_the_last_whole_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let clock = FakeClock::new();
    let mut sink = JsonlSink::open(config(dir.path(), &clock)).expect("open");
    for n in 0..3 {
        sink.write(&[event(n, clock.get())]).expect("write");
    }
    let path = sink.current_file();
    drop(sink); // no close record: as if killed
    let mut text = std::fs::read(&path).expect("read");
    text.extend_from_slice(b"{\"seq\":4,\"pr");
    std::fs::write(&path, text).expect("tear");
    support::write_stream(config(dir.path(), &clock), 2);
    let report = verify_dir(dir.path(), &VerifyOptions::default()).expect("verify");
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.events(), 5);
    assert!(
        report.streams[0]
            .warnings
            .iter()
            .any(|w| w.contains("torn"))
    );
    let second = lines(&files(dir.path())[1]);
    assert!(
        second[0].contains("\"torn_tail_bytes\":12"),
        "{}",
        second[0]
    );
}

#[test]
fn a_writer_after_a_crash_that_left_an_empty_file_goes_on_from_the_file_before_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let clock = FakeClock::new();
    let mut sink = JsonlSink::open(config(dir.path(), &clock)).expect("open");
    for n in 0..3 {
        sink.write(&[event(n, clock.get())]).expect("write");
    }
    drop(sink); // killed
    // Killed again as it began its next file: created, nothing written.
    let empty = dir.path().join("warden-20261201-000002.jsonl");
    std::fs::File::create(&empty).expect("empty file");
    let report = verify_dir(dir.path(), &VerifyOptions::default()).expect("verify");
    assert!(
        !report.ok(),
        "positive control: the empty file fails: {report:?}"
    );
    support::write_stream(config(dir.path(), &clock), 2);
    let report = verify_dir(dir.path(), &VerifyOptions::default()).expect("verify");
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.events(), 5);
    assert_eq!(
        names(dir.path()),
        vec![
            "warden-20261201-000001.jsonl",
            "warden-20261201-000002.jsonl"
        ]
    );
    let second = lines(&files(dir.path())[1]);
    assert!(
        second[0].contains("\"previous_file\":\"warden-20261201-000001.jsonl\""),
        "{}",
        second[0]
    );
}

#[test]
fn a_writer_that_finds_the_stream_shorter_than_its_head_says_so_for_good() {
    let dir = tempfile::tempdir().expect("tmp");
    let clock = FakeClock::new();
    support::write_stream(config(dir.path(), &clock), 6);
    // While no writer runs, the newest lines are cut (whole lines: no torn tail to see).
    let path = files(dir.path())[0].clone();
    let kept: Vec<String> = lines(&path).into_iter().take(4).collect();
    std::fs::write(&path, format!("{}\n", kept.join("\n"))).expect("cut");
    support::write_stream(config(dir.path(), &clock), 1);
    let second = lines(&files(dir.path())[1]);
    assert!(second[0].contains("\"head_ahead\":{"), "{}", second[0]);
    let report = verify_dir(dir.path(), &VerifyOptions::default()).expect("verify");
    assert!(
        report.streams[0]
            .warnings
            .iter()
            .any(|w| w.contains("ended before the line its head named")),
        "{report:?}"
    );
    // Positive control: a stream resumed after a clean stop carries no such record.
    let clean = tempfile::tempdir().expect("tmp");
    support::write_stream(config(clean.path(), &clock), 6);
    support::write_stream(config(clean.path(), &clock), 1);
    let second = lines(&files(clean.path())[1]);
    assert!(!second[0].contains("head_ahead"), "{}", second[0]);
    let report = verify_dir(clean.path(), &VerifyOptions::default()).expect("verify");
    assert!(
        report.ok() && report.streams[0].warnings.is_empty(),
        "{report:?}"
    );
}

#[test]
fn bad_settings_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let clock = FakeClock::new();
    let mut cfg = config(dir.path(), &clock);
    cfg.stream = "../escape".to_owned();
    assert!(JsonlSink::open(cfg).is_err());
    let mut cfg = config(dir.path(), &clock);
    cfg.retention_days = 0;
    assert!(JsonlSink::open(cfg).is_err());
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").expect("write");
    assert!(JsonlSink::open(config(&file, &clock)).is_err());
}
