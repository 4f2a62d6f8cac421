//! Tampering with the JSONL files, case by case and mode by mode: what `verify_dir` finds with no
//! key, with the seal key, with the public key (signed lines), and with the public key and an
//! anchors file. The table [`CASES`] is the one in docs/audit.md ("What verify detects"): a test
//! checks that the two say the same, so the documentation cannot claim more than is tested.
//!
//! The attacker can change anything in the audit folder, knows neither the seal key nor the
//! private signing key (the public key is public), and cannot change the anchors file.

mod support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;
use support::{FakeClock, config, event, files, lines, write_lines, write_stream};
use warden_audit::chain::{GENESIS, SealKey, hash_hex};
use warden_audit::checkpoint::Anchors;
use warden_audit::signing::SigningKey;
use warden_audit::verify::{Report, VerifyOptions, verify_dir};
use warden_audit::{JsonlConfig, JsonlSink, Sink};

/// What the writer and the verifier hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The hash chain alone.
    Plain,
    /// Lines and head sealed (HMAC); verified with the seal key.
    Seal,
    /// Lines and head signed (Ed25519); verified with the public key.
    Sign,
    /// Signed, with checkpoints appended to an anchors file; verified with the public key and
    /// the anchors file.
    Anchors,
}

const MODES: [Mode; 4] = [Mode::Plain, Mode::Seal, Mode::Sign, Mode::Anchors];

/// The gateway's keys: the same in every folder of the test, so that a file of another folder
/// is sealed and signed as well as the real ones.
fn seal_key() -> SealKey {
    SealKey::new(vec![42u8; 32]).expect("key")
}

fn signing_key() -> SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate().expect("key").0)
        .clone()
}

/// The attacker's own keys.
fn attacker_keys() -> (SealKey, SigningKey) {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    let sign = KEY
        .get_or_init(|| SigningKey::generate().expect("key").0)
        .clone();
    (SealKey::new(vec![66u8; 32]).expect("key"), sign)
}

/// An audit folder written in one mode: stream `warden` in three files (three writer runs of
/// ten events each; the third run's head is copied after five events), and during the third run
/// a second writer's stream `warden.2` (five events). A copy of the whole folder is taken
/// before the third run.
struct Folder {
    mode: Mode,
    _root: tempfile::TempDir,
    dir: PathBuf,
    anchors: PathBuf,
    snapshot: PathBuf,
    mid_head: PathBuf,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("dir") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, to.join(path.file_name().expect("name"))).expect("copy");
    }
}

impl Folder {
    fn build(mode: Mode) -> Self {
        let root = tempfile::tempdir().expect("tmp");
        let dir = root.path().join("audit");
        let anchors = root.path().join("anchors.jsonl");
        let snapshot = root.path().join("snapshot");
        let mid_head = root.path().join("mid.head");
        let folder = Self {
            mode,
            dir,
            anchors,
            snapshot,
            mid_head,
            _root: root,
        };
        let clock = FakeClock::new();
        for _ in 0..2 {
            write_stream(folder.config(&clock), 10);
            clock.advance(Duration::from_secs(60));
        }
        copy_dir(&folder.dir, &folder.snapshot);
        let mut first = JsonlSink::open(folder.config(&clock)).expect("open");
        let mut second = JsonlSink::open(folder.config(&clock)).expect("open");
        assert_eq!(second.stream(), "warden.2");
        for n in 0..10 {
            first.write(&[event(n, clock.get())]).expect("write");
            if n < 5 {
                second.write(&[event(100 + n, clock.get())]).expect("write");
            }
            if n == 4 {
                std::fs::copy(folder.head(), &folder.mid_head).expect("copy head");
            }
        }
        first.close().expect("close");
        second.close().expect("close");
        folder
    }

    fn config(&self, clock: &FakeClock) -> JsonlConfig {
        let mut config = config(&self.dir, clock);
        match self.mode {
            Mode::Plain => {}
            Mode::Seal => config.seal = Some(seal_key()),
            Mode::Sign => config.signer = Some(signing_key()),
            Mode::Anchors => {
                config.signer = Some(signing_key());
                config.anchors_file = Some(self.anchors.clone());
            }
        }
        config
    }

    fn options(&self) -> VerifyOptions {
        let mut options = VerifyOptions::default();
        match self.mode {
            Mode::Plain => {}
            Mode::Seal => options.seal = Some(seal_key()),
            Mode::Sign => options.public_key = Some(signing_key().public_key()),
            Mode::Anchors => {
                options.public_key = Some(signing_key().public_key());
                options.anchors = Some(Anchors::read(&self.anchors).expect("anchors"));
            }
        }
        options
    }

    fn verify(&self) -> Report {
        verify_dir(&self.dir, &self.options()).expect("verify")
    }

    /// The files of stream `warden`, in order.
    fn files(&self) -> Vec<PathBuf> {
        let files: Vec<PathBuf> = files(&self.dir)
            .into_iter()
            .filter(|p| name(p).starts_with("warden-"))
            .collect();
        assert_eq!(files.len(), 3);
        files
    }

    fn head(&self) -> PathBuf {
        self.dir.join("warden.head")
    }
}

fn name(path: &Path) -> String {
    path.file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned()
}

/// What an attacker does with the seals and signatures of the lines and the head they rewrite.
#[derive(Clone, Copy)]
enum Marks {
    /// Leaves them as they were (they no longer match).
    Keep,
    /// Removes them.
    Strip,
    /// Replaces them with the attacker's own.
    Forge,
}

/// `text` without its closing brace, with the marks `marks` says, closed.
fn mark(mut text: String, mac: Option<Value>, sig: Option<Value>, marks: Marks) -> String {
    let (seal, signer) = attacker_keys();
    assert_eq!(text.pop(), Some('}'));
    match marks {
        Marks::Keep => {
            for (member, value) in [("mac", mac), ("sig", sig)] {
                if let Some(value) = value {
                    text.push_str(&format!(",\"{member}\":{value}"));
                }
            }
        }
        Marks::Strip => {}
        Marks::Forge => {
            if mac.is_some() {
                let forged = seal.seal_hex(text.as_bytes());
                text.push_str(&format!(",\"mac\":\"{forged}\""));
            }
            if sig.is_some() {
                let forged = signer.sign_hex(text.as_bytes());
                text.push_str(&format!(",\"sig\":\"{forged}\""));
            }
        }
    }
    text.push('}');
    text
}

/// Rewrite stream `warden` from its first line: `edit` each line (by its index in the
/// stream), recompute every `prev` and then the head, with the marks `marks` says.
fn rewrite(folder: &Folder, edit: impl Fn(usize, &mut Value), marks: Marks) {
    let mut prev = GENESIS.to_owned();
    let mut index = 0;
    let mut last = (String::new(), 0u64);
    for file in folder.files() {
        let mut out = Vec::new();
        for line in lines(&file) {
            let mut value: Value = serde_json::from_str(&line).expect("json");
            edit(index, &mut value);
            index += 1;
            value["prev"] = Value::from(prev.clone());
            let object = value.as_object_mut().expect("object");
            let sig = object.remove("sig");
            let mac = object.remove("mac");
            let text = mark(value.to_string(), mac, sig, marks);
            prev = hash_hex(text.as_bytes());
            last = (name(&file), value["seq"].as_u64().expect("seq"));
            out.push(text);
        }
        write_lines(&file, &out);
    }
    set_head(folder, &last.0, last.1, &prev, marks);
}

/// Write a head naming `file`, `seq` and `hash`, with the marks `marks` says.
fn set_head(folder: &Folder, file: &str, seq: u64, hash: &str, marks: Marks) {
    let text = std::fs::read_to_string(folder.head()).unwrap_or_default();
    let old: Value = serde_json::from_str(text.trim()).unwrap_or(Value::Null);
    let time = old["time"]
        .as_str()
        .unwrap_or("2026-12-01T10:00:00Z")
        .to_owned();
    let mut head = serde_json::json!({
        "stream": "warden", "file": file, "seq": seq, "hash": hash, "time": time,
    });
    let body = format!("warden\n{file}\n{seq}\n{hash}\n{time}");
    let (seal, signer) = attacker_keys();
    for member in ["mac", "sig"] {
        let Some(value) = old.get(member) else {
            continue;
        };
        match marks {
            Marks::Keep => head[member] = value.clone(),
            Marks::Strip => {}
            Marks::Forge if member == "mac" => {
                head[member] = Value::from(seal.seal_hex(body.as_bytes()));
            }
            Marks::Forge => {
                let signed = format!("odoo-warden head 1\n{body}");
                head[member] = Value::from(signer.sign_hex(signed.as_bytes()));
            }
        }
    }
    std::fs::write(folder.head(), format!("{head}\n")).expect("head");
}

/// Cut `file` to its first `keep` lines; the last kept line's `seq` and hash.
fn cut(file: &Path, keep: usize) -> (u64, String) {
    let mut all = lines(file);
    all.truncate(keep);
    write_lines(file, &all);
    let last = all.last().expect("a line");
    let value: Value = serde_json::from_str(last).expect("json");
    (
        value["seq"].as_u64().expect("seq"),
        hash_hex(last.as_bytes()),
    )
}

/// The newest file of `warden` cut to five lines.
fn cut_newest(folder: &Folder) -> (String, u64, String) {
    let newest = folder.files()[2].clone();
    let (seq, hash) = cut(&newest, 5);
    (name(&newest), seq, hash)
}

fn remove(path: &Path) {
    std::fs::remove_file(path).expect("rm");
}

/// One tampering, and whether it is found in each mode (`[plain, seal, sign, anchors]`).
struct Case {
    /// As in docs/audit.md's table.
    doc: &'static str,
    tamper: fn(&Folder),
    detected: [bool; 4],
}

const ALL: [bool; 4] = [true, true, true, true];
const KEYED: [bool; 4] = [false, true, true, true];
const ANCHORED: [bool; 4] = [false, false, false, true];

const CASES: &[Case] = &[
    Case {
        doc: "edit a line",
        tamper: |f| {
            let file = &f.files()[1];
            let mut all = lines(file);
            all[4] = all[4].replace("\"res.partner\"", "\"res.users\"");
            write_lines(file, &all);
        },
        detected: ALL,
    },
    Case {
        doc: "edit the newest line",
        tamper: |f| {
            let file = &f.files()[2];
            let mut all = lines(file);
            let last = all.len() - 1;
            all[last] = all[last].replace("shutdown", "shutdowN");
            write_lines(file, &all);
        },
        detected: ALL,
    },
    Case {
        doc: "delete lines",
        tamper: |f| {
            let file = &f.files()[1];
            let mut all = lines(file);
            all.drain(3..5);
            write_lines(file, &all);
        },
        detected: ALL,
    },
    Case {
        doc: "reorder lines",
        tamper: |f| {
            let file = &f.files()[1];
            let mut all = lines(file);
            all.swap(3, 4);
            write_lines(file, &all);
        },
        detected: ALL,
    },
    Case {
        doc: "move a line to another file",
        tamper: |f| {
            let files = f.files();
            let mut first = lines(&files[0]);
            let mut second = lines(&files[1]);
            first.push(second.remove(5));
            write_lines(&files[0], &first);
            write_lines(&files[1], &second);
        },
        detected: ALL,
    },
    Case {
        doc: "truncate a file before the newest",
        tamper: |f| {
            cut(&f.files()[0], 7);
        },
        detected: ALL,
    },
    Case {
        doc: "truncate the newest file",
        tamper: |f| {
            cut_newest(f);
        },
        detected: ALL,
    },
    Case {
        doc: "truncate the newest file and delete the head",
        tamper: |f| {
            cut_newest(f);
            remove(&f.head());
        },
        detected: ALL,
    },
    Case {
        doc: "truncate the newest file and write a matching head",
        tamper: |f| {
            let (file, seq, hash) = cut_newest(f);
            set_head(f, &file, seq, &hash, Marks::Forge);
        },
        detected: KEYED,
    },
    Case {
        doc: "truncate the newest file back to an older copy of its head",
        tamper: |f| {
            let old: Value =
                serde_json::from_str(std::fs::read_to_string(&f.mid_head).expect("head").trim())
                    .expect("json");
            let newest = &f.files()[2];
            let keep = lines(newest)
                .iter()
                .position(|l| hash_hex(l.as_bytes()) == old["hash"].as_str().expect("hash"))
                .expect("the old head's line");
            cut(newest, keep + 1);
            std::fs::copy(&f.mid_head, f.head()).expect("copy head");
        },
        detected: ANCHORED,
    },
    Case {
        doc: "append lines and write a matching head",
        tamper: |f| {
            let newest = &f.files()[2];
            let mut all = lines(newest);
            let last: Value = serde_json::from_str(all.last().expect("line")).expect("json");
            let mut value: Value = serde_json::from_str(&all[3]).expect("json");
            let seq = last["seq"].as_u64().expect("seq") + 1;
            value["seq"] = Value::from(seq);
            value["prev"] = Value::from(hash_hex(all.last().expect("line").as_bytes()));
            let object = value.as_object_mut().expect("object");
            let sig = object.remove("sig");
            let mac = object.remove("mac");
            let text = mark(value.to_string(), mac, sig, Marks::Forge);
            let hash = hash_hex(text.as_bytes());
            all.push(text);
            write_lines(newest, &all);
            set_head(f, &name(newest), seq, &hash, Marks::Forge);
        },
        detected: KEYED,
    },
    Case {
        doc: "delete the head",
        tamper: |f| remove(&f.head()),
        detected: ALL,
    },
    Case {
        doc: "delete the newest file",
        tamper: |f| remove(&f.files()[2]),
        detected: ALL,
    },
    Case {
        doc: "delete the newest file and the head",
        tamper: |f| {
            remove(&f.files()[2]);
            remove(&f.head());
        },
        detected: ALL,
    },
    Case {
        doc: "delete the newest file and write a matching head",
        tamper: |f| {
            let files = f.files();
            remove(&files[2]);
            let all = lines(&files[1]);
            let last = all.last().expect("line");
            let value: Value = serde_json::from_str(last).expect("json");
            let seq = value["seq"].as_u64().expect("seq");
            set_head(
                f,
                &name(&files[1]),
                seq,
                &hash_hex(last.as_bytes()),
                Marks::Forge,
            );
        },
        detected: KEYED,
    },
    Case {
        doc: "delete a file in the middle",
        tamper: |f| remove(&f.files()[1]),
        detected: ALL,
    },
    Case {
        doc: "delete the oldest files",
        tamper: |f| remove(&f.files()[0]),
        detected: ALL,
    },
    Case {
        doc: "put a file of another folder in a file's place",
        tamper: |f| {
            let other = Folder::build(f.mode);
            std::fs::copy(&other.files()[1], &f.files()[1]).expect("copy");
        },
        detected: ALL,
    },
    Case {
        doc: "rewrite the whole chain consistently",
        tamper: |f| rewrite(f, edit_model, Marks::Keep),
        detected: KEYED,
    },
    Case {
        doc: "rewrite the whole chain without seals or signatures",
        tamper: |f| rewrite(f, edit_model, Marks::Strip),
        detected: KEYED,
    },
    Case {
        doc: "rewrite the whole chain, sealed and signed with keys of one's own",
        tamper: |f| rewrite(f, edit_model, Marks::Forge),
        detected: KEYED,
    },
    Case {
        doc: "roll the folder back to an older copy",
        tamper: |f| {
            for entry in std::fs::read_dir(&f.dir).expect("dir") {
                remove(&entry.expect("entry").path());
            }
            copy_dir(&f.snapshot, &f.dir);
        },
        detected: ANCHORED,
    },
    Case {
        doc: "delete a whole stream (its files and its head)",
        tamper: |f| {
            for entry in std::fs::read_dir(&f.dir).expect("dir") {
                let path = entry.expect("entry").path();
                if name(&path).starts_with("warden.2") {
                    remove(&path);
                }
            }
        },
        detected: ANCHORED,
    },
    Case {
        doc: "delete a stream's files, keep its head",
        tamper: |f| {
            for path in files(&f.dir) {
                if name(&path).starts_with("warden.2-") {
                    remove(&path);
                }
            }
        },
        detected: ALL,
    },
];

/// The edit of the rewrites: one event's model, in the second file.
fn edit_model(index: usize, value: &mut Value) {
    if index == 15 {
        value["model"] = Value::from("hr.employee");
    }
}

#[test]
fn an_untouched_folder_verifies_in_every_mode() {
    for mode in MODES {
        let folder = Folder::build(mode);
        let report = folder.verify();
        assert!(report.ok(), "{mode:?}: {report:#?}");
        assert_eq!(report.streams.len(), 2, "{mode:?}");
        assert_eq!(report.events(), 35, "{mode:?}");
        // 3 × (start + 10 events + close).
        assert_eq!(report.streams[0].lines, 36, "{mode:?}");
        for stream in &report.streams {
            assert!(stream.warnings.is_empty(), "{mode:?}: {report:#?}");
        }
        if let Some(anchors) = &report.anchors {
            assert!(anchors.problems.is_empty() && anchors.warnings.is_empty());
            // Each run's start and shutdown, and the second writer's.
            assert_eq!(anchors.checkpoints, 8, "{report:#?}");
            assert_eq!(report.streams[0].checkpoints, 6, "{report:#?}");
            assert_eq!(report.streams[1].checkpoints, 2, "{report:#?}");
        }
    }
}

#[test]
fn every_tampering_case_is_found_as_documented_in_every_mode() {
    // One thread per mode: the folders are written with an fsync per event.
    let results: Vec<(u32, Vec<String>)> = std::thread::scope(|scope| {
        let threads: Vec<_> = MODES
            .into_iter()
            .enumerate()
            .map(|(index, mode)| {
                scope.spawn(move || {
                    let mut found = 0u32;
                    let mut failures = Vec::new();
                    for case in CASES {
                        let folder = Folder::build(mode);
                        (case.tamper)(&folder);
                        let report = folder.verify();
                        let detected = !report.ok();
                        found += u32::from(detected);
                        if detected != case.detected[index] {
                            let word = |d: bool| if d { "detected" } else { "not detected" };
                            failures.push(format!(
                                "{:?} in mode {mode:?}: expected {}, got {}\n{report:#?}",
                                case.doc,
                                word(case.detected[index]),
                                word(detected),
                            ));
                        }
                    }
                    (found, failures)
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("a mode's thread"))
            .collect()
    });
    let failures: Vec<&String> = results.iter().flat_map(|(_, f)| f).collect();
    assert!(
        failures.is_empty(),
        "{}",
        failures
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join("\n\n")
    );
    // The counts the documentation gives.
    assert_eq!(CASES.len(), 24);
    let found: Vec<u32> = results.iter().map(|(found, _)| *found).collect();
    assert_eq!(found, [15, 21, 21, 24]);
}

#[test]
fn the_documented_table_is_the_tested_one() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/audit.md"))
            .expect("docs/audit.md");
    let start = doc
        .find("<!-- tamper-table: checked by crates/warden-audit/tests/tamper.rs -->")
        .expect("the table's marker");
    let mut rows = Vec::new();
    for line in doc[start..].lines().skip(1) {
        if !line.starts_with('|') {
            if rows.is_empty() {
                continue;
            }
            break;
        }
        let cells: Vec<String> = line
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().trim_matches('*').to_owned())
            .collect();
        if cells.len() != 5 || cells[1] == "---" || cells[0] == "tampering" {
            continue;
        }
        let verdicts: Vec<bool> = cells[1..]
            .iter()
            .map(|c| match c.as_str() {
                "yes" => true,
                "no" => false,
                other => panic!("{other:?} in {line}"),
            })
            .collect();
        rows.push((cells[0].clone(), verdicts));
    }
    let expected: Vec<(String, Vec<bool>)> = CASES
        .iter()
        .map(|c| (c.doc.to_owned(), c.detected.to_vec()))
        .collect();
    assert_eq!(rows, expected, "docs/audit.md's table differs from CASES");
}

#[test]
fn a_rotation_close_without_its_next_file_shows_the_missing_files_without_any_key() {
    for reason in ["size", "day"] {
        let dir = tempfile::tempdir().expect("tmp");
        let clock = FakeClock::new();
        let mut cfg = config(dir.path(), &clock);
        cfg.max_file_bytes = 4096;
        let mut sink = JsonlSink::open(cfg).expect("open");
        for n in 0..40 {
            if reason == "day" && n % 10 == 9 {
                clock.advance(Duration::from_secs(86_400));
            }
            sink.write(&[event(n, clock.get())]).expect("write");
        }
        sink.close().expect("close");
        // The newest file and the head go; a head naming the new last line takes its place.
        let all = files(dir.path());
        assert!(all.len() >= 3, "{reason}: {} files", all.len());
        remove(all.last().expect("newest"));
        let previous = &all[all.len() - 2];
        let text = lines(previous);
        let last = text.last().expect("line");
        assert!(last.contains(&format!("\"reason\":\"{reason}\"")), "{last}");
        let value: Value = serde_json::from_str(last).expect("json");
        let head = serde_json::json!({
            "stream": "warden", "file": name(previous), "seq": value["seq"],
            "hash": hash_hex(last.as_bytes()), "time": "2026-12-01T10:00:00.000000Z",
        });
        std::fs::write(dir.path().join("warden.head"), head.to_string()).expect("head");
        let report = verify_dir(dir.path(), &VerifyOptions::default()).expect("verify");
        let problem = report.streams[0].problem.as_ref().expect("a problem");
        assert!(
            problem.reason.contains("rotation") && problem.reason.contains("missing"),
            "{reason}: {problem:?}"
        );
    }
}

#[test]
fn problems_are_named_where_they_are() {
    let folder = Folder::build(Mode::Plain);
    let files = folder.files();
    let mut second = lines(&files[1]);
    second[4] = second[4].replace("\"res.partner\"", "\"res.users\"");
    write_lines(&files[1], &second);
    let report = folder.verify();
    let p = report.streams[0].problem.as_ref().expect("problem");
    assert_eq!(p.file, name(&files[1]));
    assert_eq!(p.line, Some(6), "the line after the edited one breaks");
    assert!(
        p.reason.contains("line 5") && p.reason.contains("changed"),
        "{p:?}"
    );

    let folder = Folder::build(Mode::Plain);
    remove(&folder.files()[1]);
    let p = folder.verify().streams[0].problem.clone().expect("problem");
    assert!(p.reason.contains("files are missing"), "{p:?}");

    let folder = Folder::build(Mode::Plain);
    remove(&folder.files()[0]);
    let p = folder.verify().streams[0].problem.clone().expect("problem");
    assert!(p.reason.contains("no retention record"), "{p:?}");

    let folder = Folder::build(Mode::Plain);
    remove(&folder.head());
    let p = folder.verify().streams[0].problem.clone().expect("problem");
    assert!(p.reason.contains("warden.head is missing"), "{p:?}");

    let folder = Folder::build(Mode::Plain);
    cut_newest(&folder);
    let p = folder.verify().streams[0].problem.clone().expect("problem");
    assert!(p.reason.starts_with("truncated"), "{p:?}");

    let folder = Folder::build(Mode::Sign);
    rewrite(&folder, edit_model, Marks::Forge);
    let p = folder.verify().streams[0].problem.clone().expect("problem");
    assert_eq!(p.line, Some(1));
    assert!(p.reason.contains("signature does not verify"), "{p:?}");

    let folder = Folder::build(Mode::Anchors);
    for entry in std::fs::read_dir(&folder.dir).expect("dir") {
        remove(&entry.expect("entry").path());
    }
    copy_dir(&folder.snapshot, &folder.dir);
    let report = folder.verify();
    let p = report.streams[0].problem.clone().expect("problem");
    assert!(
        p.reason.contains("rolled back") && p.reason.contains("checkpoint of stream warden"),
        "{p:?}"
    );
    let gone = report
        .streams
        .iter()
        .find(|s| s.stream == "warden.2")
        .expect("the vanished stream is reported");
    assert!(
        gone.problem
            .as_ref()
            .is_some_and(|p| p.reason.contains("no file of it")),
        "{gone:?}"
    );
}

#[test]
fn a_torn_last_line_is_a_warning_not_a_failure() {
    for mode in MODES {
        let folder = Folder::build(mode);
        let newest = &folder.files()[2];
        let mut text = std::fs::read(newest).expect("read");
        text.extend_from_slice(b"{\"seq\":999,\"prev\":\"ab");
        std::fs::write(newest, text).expect("write");
        let report = folder.verify();
        assert!(report.ok(), "{mode:?}: {report:#?}");
        assert!(
            report.streams[0]
                .warnings
                .iter()
                .any(|w| w.contains("torn last line")),
            "{report:?}"
        );
    }
}

#[test]
fn a_running_writer_and_a_lagging_head_verify() {
    for mode in MODES {
        let folder = Folder::build(mode);
        let clock = FakeClock::new();
        clock.advance(Duration::from_secs(600));
        let mut sink = JsonlSink::open(folder.config(&clock)).expect("open");
        sink.write(&[event(1, clock.get())]).expect("write");
        let head = std::fs::read(folder.head()).expect("head");
        sink.write(&[event(2, clock.get())]).expect("write");
        // A crash leaves the head behind the file: fine, it names a line that is there.
        std::fs::write(folder.head(), head).expect("head");
        let report = folder.verify();
        assert!(report.ok(), "{mode:?}: {report:#?}");
        assert!(
            report.streams[0]
                .warnings
                .iter()
                .any(|w| w.contains("no close record")),
            "{report:?}"
        );
        drop(sink);
    }
}

#[test]
fn a_key_set_later_vouches_for_the_lines_before_it_but_not_after_it_is_removed() {
    let dir = tempfile::tempdir().expect("tmp");
    let clock = FakeClock::new();
    write_stream(config(dir.path(), &clock), 3);
    let mut signed = config(dir.path(), &clock);
    signed.signer = Some(signing_key());
    signed.seal = Some(seal_key());
    write_stream(signed, 3);
    let options = VerifyOptions {
        seal: Some(seal_key()),
        public_key: Some(signing_key().public_key()),
        ..VerifyOptions::default()
    };
    let report = verify_dir(dir.path(), &options).expect("verify");
    assert!(report.ok(), "{report:#?}");
    assert!(
        report.streams[0]
            .warnings
            .iter()
            .any(|w| w.contains("first 5 line(s) are not signed")),
        "{report:#?}"
    );
    // Turned off again: lines after signed ones that are not signed fail.
    write_stream(config(dir.path(), &clock), 1);
    let report = verify_dir(dir.path(), &options).expect("verify");
    let p = report.streams[0].problem.as_ref().expect("problem");
    assert!(
        p.reason.contains("not sealed, but the lines before it are"),
        "{p:?}"
    );
    // A stream never signed fails with a key.
    let dir = tempfile::tempdir().expect("tmp");
    write_stream(config(dir.path(), &clock), 2);
    let report = verify_dir(
        dir.path(),
        &VerifyOptions {
            public_key: Some(signing_key().public_key()),
            ..VerifyOptions::default()
        },
    )
    .expect("verify");
    let p = report.streams[0].problem.as_ref().expect("problem");
    assert!(
        p.reason.contains("no line of the stream is signed"),
        "{p:?}"
    );
}

#[test]
fn signed_lines_are_checked_with_the_right_public_key_only() {
    let folder = Folder::build(Mode::Sign);
    let (other, _) = SigningKey::generate().expect("key");
    let report = verify_dir(
        &folder.dir,
        &VerifyOptions {
            public_key: Some(other.public_key()),
            ..VerifyOptions::default()
        },
    )
    .expect("verify");
    let p = report.streams[0].problem.as_ref().expect("problem");
    assert_eq!(p.line, Some(1));
    // Without a key: the chain verifies, and a warning says the signatures were not checked.
    let report = verify_dir(&folder.dir, &VerifyOptions::default()).expect("verify");
    assert!(report.ok(), "{report:#?}");
    assert!(
        report.streams[0]
            .warnings
            .iter()
            .any(|w| w.contains("public key")),
        "{report:#?}"
    );
}
