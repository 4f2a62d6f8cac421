//! Verifying a folder of JSONL audit files: every stream's chain, file by file, line by line.
//!
//! For each stream, in file order, each line must parse, carry the next `seq` and the hash of
//! the line before it in `prev` (and, with the seal key, a valid `mac`); each file must open with
//! its `file_start` record linking to the last line of the stream's previous file; a missing first
//! file is accepted only where a `retention` record of the stream accounts for it; the stream's
//! head (`<stream>.head`) must not name a line beyond the end of the newest file.
//!
//! The first broken line of a stream is named with why; a torn last line (a writer stopped
//! mid-write) is a warning, not a failure.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::chain::{self, ChainRecord, GENESIS, LineHead, RemovedFile, SealKey};
use crate::jsonl::{Head, StreamFile, stream_files};

/// The first broken line of a stream, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file.
    pub file: String,
    /// The line number in the file (1-based), when the problem is at a line.
    pub line: Option<u64>,
    /// The line's `seq`, when it could be read.
    pub seq: Option<u64>,
    /// The line's event id, when it could be read.
    pub event_id: Option<String>,
    /// Why the chain is broken there.
    pub reason: String,
}

/// One stream's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamReport {
    /// The stream.
    pub stream: String,
    /// Files checked.
    pub files: u64,
    /// Lines that verified (chain records included).
    pub lines: u64,
    /// Events among them (requests, alerts, gaps).
    pub events: u64,
    /// The last verified line's hash: record it elsewhere to detect a rewrite later.
    pub head: Option<String>,
    /// The first problem, if any.
    pub problem: Option<Problem>,
    /// Things to know that do not break the chain.
    pub warnings: Vec<String>,
}

/// The result of [`verify_dir`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The folder.
    pub dir: PathBuf,
    /// Every stream found.
    pub streams: Vec<StreamReport>,
}

impl Report {
    /// Whether every stream verified.
    pub fn ok(&self) -> bool {
        self.streams.iter().all(|s| s.problem.is_none())
    }

    /// Events verified in all streams.
    pub fn events(&self) -> u64 {
        self.streams.iter().map(|s| s.events).sum()
    }
}

/// Options of [`verify_dir`].
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Check every line's seal with this key (and refuse unsealed lines).
    pub seal: Option<SealKey>,
}

/// Verify every stream in `dir`. `Err` only when the folder cannot be listed.
pub fn verify_dir(dir: &Path, options: &VerifyOptions) -> std::io::Result<Report> {
    let streams = stream_files(dir)?;
    let mut reports = Vec::with_capacity(streams.len());
    for (stream, files) in streams {
        reports.push(verify_stream(dir, &stream, &files, options));
    }
    Ok(Report {
        dir: dir.to_owned(),
        streams: reports,
    })
}

struct State {
    expected_seq: Option<u64>,
    prev: Option<String>,
    last_file: Option<String>,
    last_line_close: bool,
}

fn problem(
    file: &StreamFile,
    line: Option<u64>,
    head: Option<&LineHead>,
    reason: String,
) -> Problem {
    Problem {
        file: file.name.clone(),
        line,
        seq: head.map(|h| h.seq),
        event_id: head.and_then(|h| h.id.clone()),
        reason,
    }
}

fn verify_stream(
    dir: &Path,
    stream: &str,
    files: &[StreamFile],
    options: &VerifyOptions,
) -> StreamReport {
    let mut report = StreamReport {
        stream: stream.to_owned(),
        files: 0,
        lines: 0,
        events: 0,
        head: None,
        problem: None,
        warnings: Vec::new(),
    };
    let removed = retention_records(files);
    let mut state = State {
        expected_seq: None,
        prev: None,
        last_file: None,
        last_line_close: false,
    };
    let mut warned_unsealed = false;
    for (index, file) in files.iter().enumerate() {
        report.files += 1;
        if let Err(found) = verify_file(
            file,
            index == 0,
            &removed,
            &mut state,
            &mut report,
            options,
            &mut warned_unsealed,
        ) {
            report.problem = Some(found);
            return report;
        }
    }
    report.head.clone_from(&state.prev);
    // The head must not name a line beyond what the newest file holds.
    let head_path = dir.join(format!("{stream}.head"));
    if let Ok(text) = std::fs::read_to_string(&head_path)
        && !text.trim().is_empty()
    {
        match serde_json::from_str::<Head>(text.trim()) {
            Ok(head) => {
                if let Some(p) = check_head(&head, files, &state, options) {
                    report.problem = Some(p);
                    return report;
                }
            }
            Err(_) => report.warnings.push(format!(
                "{stream}.head is not readable; the end of the stream is not checked against it"
            )),
        }
    }
    if !state.last_line_close && files.last().is_some() {
        report.warnings.push(
            "the newest file has no close record: its writer is running, or was stopped abruptly"
                .to_owned(),
        );
    }
    report
}

fn check_head(
    head: &Head,
    files: &[StreamFile],
    state: &State,
    options: &VerifyOptions,
) -> Option<Problem> {
    let newest = files.last()?;
    let at_head = |reason: String| Problem {
        file: head.file.clone(),
        line: None,
        seq: Some(head.seq),
        event_id: None,
        reason,
    };
    if let Some(key) = &options.seal {
        let valid = head
            .mac
            .as_deref()
            .is_some_and(|mac| key.verify_hex(head.seal_body().as_bytes(), mac));
        if !valid {
            return Some(at_head(
                "the head file's seal is missing or wrong".to_owned(),
            ));
        }
    }
    let last_seq = state.expected_seq.map(|s| s.saturating_sub(1));
    if !files.iter().any(|f| f.name == head.file) {
        return Some(at_head(format!(
            "the head names {}, which is missing: the newest files were removed",
            head.file
        )));
    }
    match last_seq {
        Some(last) if head.seq > last => Some(Problem {
            file: newest.name.clone(),
            line: None,
            seq: Some(last),
            event_id: None,
            reason: format!(
                "truncated: the stream ends at seq {last} but its head records seq {}",
                head.seq
            ),
        }),
        Some(last) if head.seq == last && state.prev.as_deref() != Some(head.hash.as_str()) => {
            Some(at_head(
                "the last line does not match the hash its head records: it was changed".to_owned(),
            ))
        }
        _ => None,
    }
}

/// Files removed by retention, as the stream's `retention` records list them, by name.
fn retention_records(files: &[StreamFile]) -> HashMap<String, RemovedFile> {
    let mut removed = HashMap::new();
    for file in files {
        let Ok(handle) = File::open(&file.path) else {
            continue;
        };
        for line in BufReader::new(handle).split(b'\n') {
            let Ok(line) = line else { break };
            if !contains(&line, b"\"op\":\"retention\"") {
                continue;
            }
            if let Ok(LineHead {
                chain: Some(ChainRecord::Retention { removed: list, .. }),
                ..
            }) = serde_json::from_slice::<LineHead>(&line)
            {
                for entry in list {
                    removed.insert(entry.file.clone(), entry);
                }
            }
        }
    }
    removed
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[allow(clippy::too_many_arguments)]
fn verify_file(
    file: &StreamFile,
    first_file: bool,
    removed: &HashMap<String, RemovedFile>,
    state: &mut State,
    report: &mut StreamReport,
    options: &VerifyOptions,
    warned_unsealed: &mut bool,
) -> Result<(), Problem> {
    let handle = File::open(&file.path)
        .map_err(|e| problem(file, None, None, format!("cannot read the file: {e}")))?;
    let mut reader = BufReader::with_capacity(256 * 1024, handle);
    let mut raw = Vec::with_capacity(1024);
    let mut number = 0u64;
    loop {
        raw.clear();
        let read = reader
            .read_until(b'\n', &mut raw)
            .map_err(|e| problem(file, Some(number + 1), None, format!("cannot read: {e}")))?;
        if read == 0 {
            break;
        }
        number += 1;
        if raw.last() == Some(&b'\n') {
            raw.pop();
        } else {
            // Bytes after the last newline of the file: a write that was interrupted. The
            // next file's start (if any) links to the last whole line.
            report.warnings.push(format!(
                "{}: torn last line ({} bytes without a newline): a write was interrupted; the lines before it verify",
                file.name,
                raw.len()
            ));
            break;
        }
        let head: LineHead = serde_json::from_slice(&raw).map_err(|_| {
            problem(
                file,
                Some(number),
                None,
                "not a valid audit line (changed, or not written by odoo-warden)".to_owned(),
            )
        })?;
        // The seal covers the line itself.
        let text = std::str::from_utf8(&raw).unwrap_or("");
        match (&options.seal, chain::split_seal(text)) {
            (Some(key), Some((body, mac))) if !key.verify_hex(body.as_bytes(), mac) => {
                return Err(problem(
                    file,
                    Some(number),
                    Some(&head),
                    "the line's seal does not match: the line was changed".to_owned(),
                ));
            }
            (Some(_), None) => {
                return Err(problem(
                    file,
                    Some(number),
                    Some(&head),
                    "the line is not sealed, but a seal key was given".to_owned(),
                ));
            }
            (None, Some(_)) if !*warned_unsealed => {
                *warned_unsealed = true;
                report.warnings.push(
                    "the lines are sealed; give the seal key to check the seals too".to_owned(),
                );
            }
            _ => {}
        }
        if number == 1 {
            check_file_start(file, first_file, removed, state, &head)?;
        }
        if let Some(expected) = state.expected_seq
            && head.seq != expected
        {
            let reason = if head.seq > expected {
                format!(
                    "expected seq {expected}, found {}: {} line(s) before it are missing",
                    head.seq,
                    head.seq - expected
                )
            } else {
                format!(
                    "expected seq {expected}, found {}: lines were reordered or repeated",
                    head.seq
                )
            };
            return Err(problem(file, Some(number), Some(&head), reason));
        }
        if let Some(prev) = &state.prev
            && head.prev != *prev
        {
            return Err(Problem {
                file: file.name.clone(),
                line: Some(number),
                seq: Some(head.seq),
                event_id: head.id.clone(),
                reason: if number == 1 {
                    format!(
                        "the file does not link to the last line of {}: lines at its end are missing or were changed, or files were spliced",
                        state.last_file.as_deref().unwrap_or("the previous file")
                    )
                } else {
                    format!(
                        "prev does not match the hash of line {}: line {} (seq {}) was changed",
                        number - 1,
                        number - 1,
                        head.seq.saturating_sub(1)
                    )
                },
            });
        }
        state.expected_seq = Some(head.seq + 1);
        state.prev = Some(chain::hash_hex(&raw));
        state.last_line_close = matches!(head.chain, Some(ChainRecord::Close { .. }));
        report.lines += 1;
        if head.kind.as_deref() != Some("chain") {
            report.events += 1;
        }
    }
    if number == 0 {
        return Err(problem(
            file,
            None,
            None,
            "the file is empty: its start record is missing".to_owned(),
        ));
    }
    state.last_file = Some(file.name.clone());
    Ok(())
}

fn check_file_start(
    file: &StreamFile,
    first_file: bool,
    removed: &HashMap<String, RemovedFile>,
    state: &mut State,
    head: &LineHead,
) -> Result<(), Problem> {
    let Some(ChainRecord::FileStart {
        stream,
        file: name,
        previous_file,
        ..
    }) = &head.chain
    else {
        return Err(problem(
            file,
            Some(1),
            Some(head),
            "the file does not start with its chain record (file_start)".to_owned(),
        ));
    };
    if *name != file.name || *stream != file.stream {
        return Err(problem(
            file,
            Some(1),
            Some(head),
            format!("the file says it is {name} of stream {stream}: it was renamed or copied"),
        ));
    }
    if first_file {
        match previous_file {
            None => {
                if head.prev != GENESIS || head.seq != 0 {
                    return Err(problem(
                        file,
                        Some(1),
                        Some(head),
                        "the stream's first file does not start the chain".to_owned(),
                    ));
                }
            }
            Some(previous) => match removed.get(previous) {
                Some(entry) => {
                    state.expected_seq = Some(entry.last_seq + 1);
                    state.prev = Some(entry.last_hash.clone());
                }
                None => {
                    return Err(problem(
                        file,
                        Some(1),
                        Some(head),
                        format!(
                            "the previous file {previous} is missing and no retention record accounts for it"
                        ),
                    ));
                }
            },
        }
    } else if previous_file.as_deref() != state.last_file.as_deref() {
        return Err(problem(
            file,
            Some(1),
            Some(head),
            format!(
                "the file follows {}, but the file before it is {}: files are missing",
                previous_file.as_deref().unwrap_or("nothing"),
                state.last_file.as_deref().unwrap_or("nothing")
            ),
        ));
    }
    Ok(())
}
