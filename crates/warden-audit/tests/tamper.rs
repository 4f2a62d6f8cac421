//! Tampering with the JSONL files: every edit, deletion, reordering, truncation and splice is
//! found by `verify_dir`, which names the first broken line and why.

mod support;

use std::path::Path;

use support::{FakeClock, config, files, lines, write_lines, write_stream};
use warden_audit::chain::SealKey;
use warden_audit::verify::{Report, VerifyOptions, verify_dir};

/// Three files of one stream (three writer starts), 10 events each.
fn three_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let clock = FakeClock::new();
    for _ in 0..3 {
        write_stream(config(dir, &clock), 10);
        clock.advance(std::time::Duration::from_secs(60));
    }
    let files = files(dir);
    assert_eq!(files.len(), 3);
    files
}

fn verify(dir: &Path) -> Report {
    verify_dir(dir, &VerifyOptions::default()).expect("verify")
}

fn problem(report: &Report) -> (String, Option<u64>, String) {
    let stream = &report.streams[0];
    let p = stream.problem.as_ref().expect("a problem is reported");
    (p.file.clone(), p.line, p.reason.clone())
}

#[test]
fn an_untouched_folder_verifies() {
    let dir = tempfile::tempdir().expect("tmp");
    three_files(dir.path());
    let report = verify(dir.path());
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.events(), 30);
    // 3 × (start + 10 events + close).
    assert_eq!(report.streams[0].lines, 36);
    assert!(report.streams[0].warnings.is_empty(), "{report:?}");
}

#[test]
fn an_edited_event_is_found() {
    let dir = tempfile::tempdir().expect("tmp");
    let files = three_files(dir.path());
    let mut second = lines(&files[1]);
    second[4] = second[4].replace("\"res.partner\"", "\"res.users\"");
    write_lines(&files[1], &second);
    let (file, line, reason) = problem(&verify(dir.path()));
    assert!(files[1].ends_with(&file));
    assert_eq!(line, Some(6), "the line after the edited one breaks");
    assert!(
        reason.contains("line 5") && reason.contains("changed"),
        "{reason}"
    );
}

#[test]
fn an_edited_last_event_of_a_file_is_found_by_the_next_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let files = three_files(dir.path());
    let mut first = lines(&files[0]);
    let last = first.len() - 1;
    first[last] = first[last].replace("shutdown", "shutdowN");
    write_lines(&files[0], &first);
    let (file, line, reason) = problem(&verify(dir.path()));
    assert!(files[1].ends_with(&file));
    assert_eq!(line, Some(1));
    assert!(reason.contains("does not link"), "{reason}");
}

#[test]
fn an_edited_last_line_of_the_newest_file_is_found_by_the_head() {
    let dir = tempfile::tempdir().expect("tmp");
    let files = three_files(dir.path());
    let mut newest = lines(&files[2]);
    let last = newest.len() - 1;
    newest[last] = newest[last].replace("shutdown", "shutdowN");
    write_lines(&files[2], &newest);
    let (_, _, reason) = problem(&verify(dir.path()));
    assert!(reason.contains("was changed"), "{reason}");
}

#[test]
fn a_deleted_event_is_found() {
    let dir = tempfile::tempdir().expect("tmp");
    let files = three_files(dir.path());
    let mut second = lines(&files[1]);
    second.remove(3);
    write_lines(&files[1], &second);
    let (_, line, reason) = problem(&verify(dir.path()));
    assert_eq!(line, Some(4));
    assert!(reason.contains("missing"), "{reason}");
}

#[test]
fn reordered_events_are_found() {
    let dir = tempfile::tempdir().expect("tmp");
    let files = three_files(dir.path());
    let mut second = lines(&files[1]);
    second.swap(3, 4);
    write_lines(&files[1], &second);
    let (_, line, reason) = problem(&verify(dir.path()));
    assert_eq!(line, Some(4));
    assert!(reason.contains("expected seq"), "{reason}");
}

#[test]
fn a_truncated_middle_file_is_found() {
    let dir = tempfile::tempdir().expect("tmp");
    let files = three_files(dir.path());
    let mut first = lines(&files[0]);
    first.truncate(7);
    write_lines(&files[0], &first);
    let (file, line, reason) = problem(&verify(dir.path()));
    assert!(files[1].ends_with(&file));
    assert_eq!(line, Some(1));
    assert!(reason.contains("missing"), "{reason}");
}

#[test]
fn a_truncated_newest_file_is_found() {
    let dir = tempfile::tempdir().expect("tmp");
    let files = three_files(dir.path());
    let mut newest = lines(&files[2]);
    newest.truncate(5);
    write_lines(&files[2], &newest);
    let (_, _, reason) = problem(&verify(dir.path()));
    assert!(reason.starts_with("truncated"), "{reason}");
}

#[test]
fn a_removed_file_is_found() {
    let dir = tempfile::tempdir().expect("tmp");
    let files = three_files(dir.path());
    std::fs::remove_file(&files[1]).expect("rm");
    let (file, _, reason) = problem(&verify(dir.path()));
    assert!(files[2].ends_with(&file));
    assert!(reason.contains("files are missing"), "{reason}");
    // Removing the first file is found too: no retention record accounts for it.
    let dir = tempfile::tempdir().expect("tmp");
    let files = three_files(dir.path());
    std::fs::remove_file(&files[0]).expect("rm");
    let (_, _, reason) = problem(&verify(dir.path()));
    assert!(reason.contains("no retention record"), "{reason}");
}

#[test]
fn events_spliced_across_files_are_found() {
    let dir = tempfile::tempdir().expect("tmp");
    let files = three_files(dir.path());
    // Move an event from the second file to the end of the first.
    let mut first = lines(&files[0]);
    let mut second = lines(&files[1]);
    let moved = second.remove(5);
    first.push(moved);
    write_lines(&files[0], &first);
    write_lines(&files[1], &second);
    let (file, _, reason) = problem(&verify(dir.path()));
    assert!(files[0].ends_with(&file), "{reason}");
}

#[test]
fn a_file_from_another_folder_spliced_in_is_found() {
    let dir = tempfile::tempdir().expect("tmp");
    let other = tempfile::tempdir().expect("tmp");
    let files = three_files(dir.path());
    let foreign = three_files(other.path());
    // Same names, other chain: the second file replaced by another folder's second file.
    std::fs::copy(&foreign[1], &files[1]).expect("copy");
    let (file, line, reason) = problem(&verify(dir.path()));
    assert!(files[1].ends_with(&file));
    assert_eq!(line, Some(1));
    assert!(reason.contains("does not link"), "{reason}");
}

#[test]
fn a_torn_last_line_is_a_warning_not_a_failure() {
    let dir = tempfile::tempdir().expect("tmp");
    let files = three_files(dir.path());
    let mut text = std::fs::read(&files[2]).expect("read");
    text.extend_from_slice(b"{\"seq\":999,\"prev\":\"ab");
    std::fs::write(&files[2], text).expect("write");
    let report = verify(dir.path());
    assert!(report.ok(), "{report:?}");
    assert!(
        report.streams[0]
            .warnings
            .iter()
            .any(|w| w.contains("torn last line")),
        "{report:?}"
    );
}

#[test]
fn a_rewritten_chain_passes_the_hashes_but_not_the_seal() {
    let dir = tempfile::tempdir().expect("tmp");
    let clock = FakeClock::new();
    let key = SealKey::new(vec![42u8; 32]).expect("key");
    let mut sealed = config(dir.path(), &clock);
    sealed.seal = Some(key.clone());
    write_stream(sealed, 10);
    let with_key = VerifyOptions {
        seal: Some(key.clone()),
    };
    assert!(verify_dir(dir.path(), &with_key).expect("verify").ok());

    // An attacker edits one event and recomputes every hash after it, but cannot seal.
    let file = &files(dir.path())[0];
    let mut rewritten = Vec::new();
    let mut prev = warden_audit::chain::GENESIS.to_owned();
    for (i, line) in lines(file).iter().enumerate() {
        let mut value: serde_json::Value = serde_json::from_str(line).expect("json");
        if i == 3 {
            value["model"] = serde_json::json!("hr.employee");
        }
        value["prev"] = serde_json::json!(prev);
        let text = value.to_string();
        prev = warden_audit::chain::hash_hex(text.as_bytes());
        rewritten.push(text);
    }
    write_lines(file, &rewritten);
    let head = dir.path().join("warden.head");
    let mut head_value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&head).expect("head")).expect("json");
    head_value["hash"] = serde_json::json!(prev);
    std::fs::write(&head, head_value.to_string()).expect("head");

    let report = verify_dir(dir.path(), &VerifyOptions::default()).expect("verify");
    assert!(
        report.ok(),
        "without the key, a consistent rewrite verifies: {report:?}"
    );
    let report = verify_dir(dir.path(), &with_key).expect("verify");
    let p = report.streams[0]
        .problem
        .as_ref()
        .expect("found with the key");
    assert_eq!(p.line, Some(4));
    assert!(p.reason.contains("seal"), "{}", p.reason);
}
