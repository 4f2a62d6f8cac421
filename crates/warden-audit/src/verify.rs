//! Verifying a folder of JSONL audit files: every stream's chain, file by file, line by line,
//! its head, and (when given) the checkpoints anchored outside the folder.
//!
//! For each stream, in file order, each line must parse, carry the next `seq` and the hash of
//! the line before it in `prev` (and, with the seal key, a valid `mac`; with the public key, a
//! valid `sig`); each file must open with its `file_start` record linking to the last line of the
//! stream's previous file; a missing first file is accepted only where a `retention` record of
//! the stream accounts for it.
//!
//! The end of a stream is checked against what the writer left beside it and after it:
//! - the head (`<stream>.head`) must be there, must name a file that is there and the line with
//!   its `seq` and hash (a head that lags behind the files, as after a crash, is fine), and must
//!   be sealed or signed like the lines (and verify, with the key);
//! - the newest file must not end with a `close` record of a rotation (`day`, `size`): the
//!   writer went on in a next file, so that file is missing;
//! - with an anchors file ([`crate::checkpoint`]), the stream must reach every checkpoint: the
//!   line with its `seq` has its hash, or a retention record accounts for it.
//!
//! A stream with a head or checkpoints but no file fails too. The first problem of a stream is
//! named with why; a torn last line (a writer stopped mid-write) and a newest file without a
//! close record (a writer running, or stopped abruptly) are warnings, not failures.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::chain::{self, ChainRecord, GENESIS, LineHead, RemovedFile, SealKey};
use crate::checkpoint::{Anchors, Checkpoint};
use crate::jsonl::{Head, StreamFile, stream_files};
use crate::signing::PublicKey;

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
    /// Checkpoints of the anchors file the stream reaches.
    pub checkpoints: u64,
    /// The first problem, if any.
    pub problem: Option<Problem>,
    /// Things to know that do not break the chain.
    pub warnings: Vec<String>,
}

impl StreamReport {
    fn new(stream: &str) -> Self {
        Self {
            stream: stream.to_owned(),
            files: 0,
            lines: 0,
            events: 0,
            head: None,
            checkpoints: 0,
            problem: None,
            warnings: Vec::new(),
        }
    }
}

/// What was found in the anchors file itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnchorsReport {
    /// The anchors file.
    pub file: PathBuf,
    /// Checkpoints read from it.
    pub checkpoints: u64,
    /// Whether their signatures were checked (a public key was given).
    pub signatures_checked: bool,
    /// What is wrong with the file: lines that are not JSON, checkpoints whose signature does
    /// not verify, no checkpoint at all.
    pub problems: Vec<String>,
    /// Things to know.
    pub warnings: Vec<String>,
}

/// The result of [`verify_dir`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The folder.
    pub dir: PathBuf,
    /// Every stream found (in the folder, or named by a checkpoint).
    pub streams: Vec<StreamReport>,
    /// The anchors file, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anchors: Option<AnchorsReport>,
}

impl Report {
    /// Whether every stream verified and the anchors file (if given) holds no problem.
    pub fn ok(&self) -> bool {
        self.streams.iter().all(|s| s.problem.is_none())
            && self.anchors.as_ref().is_none_or(|a| a.problems.is_empty())
    }

    /// Events verified in all streams.
    pub fn events(&self) -> u64 {
        self.streams.iter().map(|s| s.events).sum()
    }
}

/// Options of [`verify_dir`].
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Check every line's seal and the head's with this key (and refuse unsealed lines after
    /// the first sealed one, and a stream with no sealed line).
    pub seal: Option<SealKey>,
    /// Check every line's signature, the head's and the checkpoints' with this key (and refuse
    /// unsigned lines after the first signed one, and a stream with no signed line).
    pub public_key: Option<PublicKey>,
    /// Check that every stream reaches these checkpoints.
    pub anchors: Option<Anchors>,
}

/// Verify every stream in `dir`. `Err` only when the folder cannot be listed.
pub fn verify_dir(dir: &Path, options: &VerifyOptions) -> std::io::Result<Report> {
    let streams = stream_files(dir)?;
    let heads = head_files(dir)?;
    let (anchors_report, checkpoints) = check_anchors(options);
    let mut reports = Vec::with_capacity(streams.len());
    for (stream, files) in &streams {
        let mine = checkpoints
            .get(stream.as_str())
            .map_or(&[][..], Vec::as_slice);
        let mut report = verify_stream(dir, stream, files, options, mine);
        if options.anchors.is_some() && mine.is_empty() {
            report
                .warnings
                .push("the anchors file holds no checkpoint of this stream".to_owned());
        }
        reports.push(report);
    }
    // Streams whose files are all gone, but whose head or checkpoints say they had lines.
    let mut vanished: BTreeMap<String, StreamReport> = BTreeMap::new();
    for (stream, head) in heads {
        if streams.iter().any(|(name, _)| *name == stream) {
            continue;
        }
        let Some(head) = head else { continue };
        let mut report = StreamReport::new(&stream);
        report.problem = Some(Problem {
            file: head.file.clone(),
            line: None,
            seq: Some(head.seq),
            event_id: None,
            reason: format!(
                "{stream}.head records seq {} in {}, but the stream has no file left: its files were removed",
                head.seq, head.file
            ),
        });
        vanished.insert(stream, report);
    }
    for (stream, list) in &checkpoints {
        if streams.iter().any(|(name, _)| name == stream) || vanished.contains_key(*stream) {
            continue;
        }
        let Some(latest) = list.iter().max_by_key(|a| a.checkpoint.seq) else {
            continue;
        };
        let mut report = StreamReport::new(stream);
        report.problem = Some(Problem {
            file: latest.checkpoint.file.clone(),
            line: None,
            seq: Some(latest.checkpoint.seq),
            event_id: None,
            reason: format!(
                "the {} (anchors line {}) names this stream, but the folder has no file of it: the stream was removed",
                latest.checkpoint.describe(),
                latest.line
            ),
        });
        vanished.insert((*stream).to_owned(), report);
    }
    reports.extend(vanished.into_values());
    Ok(Report {
        dir: dir.to_owned(),
        streams: reports,
        anchors: anchors_report,
    })
}

/// A checkpoint that passed the anchors file's own checks, with its line there.
struct Anchored<'a> {
    line: u64,
    checkpoint: &'a Checkpoint,
}

/// The anchors file's own checks (signatures with the public key), and the checkpoints to
/// check the streams against, by stream.
fn check_anchors(
    options: &VerifyOptions,
) -> (Option<AnchorsReport>, HashMap<&str, Vec<Anchored<'_>>>) {
    let mut by_stream: HashMap<&str, Vec<Anchored<'_>>> = HashMap::new();
    let Some(anchors) = &options.anchors else {
        return (None, by_stream);
    };
    let mut report = AnchorsReport {
        file: anchors.path.clone(),
        checkpoints: anchors.anchors.len() as u64,
        signatures_checked: options.public_key.is_some(),
        problems: anchors.problems.clone(),
        warnings: anchors.warnings.clone(),
    };
    if anchors.anchors.is_empty() {
        report
            .problems
            .push("the anchors file holds no checkpoint: nothing is anchored".to_owned());
    }
    match &options.public_key {
        None if !anchors.anchors.is_empty() => report.warnings.push(
            "the checkpoints' signatures were not checked: give the public key (--public-key) to check them"
                .to_owned(),
        ),
        _ => {}
    }
    for anchor in &anchors.anchors {
        let checkpoint = &anchor.checkpoint;
        if let Some(key) = &options.public_key
            && !checkpoint.verify(key)
        {
            let whose = if checkpoint.key_id == key.id() {
                "it was changed or forged".to_owned()
            } else {
                format!(
                    "it says it was signed by key {}, not by the given key {}",
                    checkpoint.key_id,
                    key.id()
                )
            };
            report.problems.push(format!(
                "line {}: the signature of the {} does not verify: {whose}",
                anchor.line,
                checkpoint.describe()
            ));
            continue;
        }
        if checkpoint
            .file
            .starts_with(crate::checkpoint::TABLE_FILE_PREFIX)
        {
            // A stream of a database table: its verify checks it.
            continue;
        }
        by_stream
            .entry(checkpoint.stream.as_str())
            .or_default()
            .push(Anchored {
                line: anchor.line,
                checkpoint,
            });
    }
    (Some(report), by_stream)
}

/// The `<stream>.head` files of `dir`, with their head (`None`: empty or unreadable).
fn head_files(dir: &Path) -> std::io::Result<Vec<(String, Option<Head>)>> {
    let mut heads = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stream) = name.strip_suffix(".head") else {
            continue;
        };
        if !entry.file_type()?.is_file() {
            continue;
        }
        let head = std::fs::read_to_string(entry.path())
            .ok()
            .and_then(|text| Head::parse(&text));
        heads.push((stream.to_owned(), head));
    }
    heads.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(heads)
}

/// What `<stream>.head` holds.
enum HeadState {
    Missing,
    Empty,
    Unreadable,
    Found(Head),
}

fn read_head(dir: &Path, stream: &str) -> HeadState {
    match std::fs::read_to_string(dir.join(format!("{stream}.head"))) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => HeadState::Missing,
        Err(_) => HeadState::Unreadable,
        Ok(text) if text.trim().is_empty() => HeadState::Empty,
        Ok(text) => Head::parse(&text).map_or(HeadState::Unreadable, HeadState::Found),
    }
}

/// How the seals (or the signatures) of a stream's lines were found, with a key.
#[derive(Debug, Default)]
struct Marks {
    /// Whether a sealed (signed) line has been seen.
    seen: bool,
    /// Lines before the first sealed (signed) one.
    before: u64,
    /// Whether the last line is sealed (signed).
    last: bool,
    /// A warning about unchecked marks was given.
    warned: bool,
}

/// The seals and signatures of one stream's lines, checked line by line with the keys given:
/// shared by the folder's verification and other chained stores' (the PostgreSQL table, whose
/// lines are its rows: `noun` is `"line"` or `"row"` in the messages).
#[derive(Debug)]
pub struct Trailers {
    noun: &'static str,
    seals: Marks,
    sigs: Marks,
}

impl Trailers {
    /// Nothing checked yet; messages speak of `noun`s (`"line"`, `"row"`).
    pub fn new(noun: &'static str) -> Self {
        Self {
            noun,
            seals: Marks::default(),
            sigs: Marks::default(),
        }
    }

    /// Whether the last line checked is sealed, and whether it is signed.
    pub fn last(&self) -> (bool, bool) {
        (self.seals.last, self.sigs.last)
    }

    /// Checks the seal and the signature of the line `text` with the keys of `options`: `Err`
    /// says why it fails; a warning (once) when marks are present but no key was given.
    pub fn check(
        &mut self,
        text: &str,
        options: &VerifyOptions,
        warnings: &mut Vec<String>,
    ) -> Result<(), String> {
        let noun = self.noun;
        let trailer = chain::trailer(text);
        self.seals.last = trailer.mac.is_some();
        self.sigs.last = trailer.sig.is_some();
        match (&options.seal, trailer.mac) {
            (Some(key), Some((body, mac))) => {
                if !key.verify_hex(body.as_bytes(), mac) {
                    return Err(format!(
                        "the {noun}'s seal does not match: the {noun} was changed"
                    ));
                }
                self.seals.seen = true;
            }
            (Some(_), None) if self.seals.seen => {
                return Err(format!(
                    "the {noun} is not sealed, but the {noun}s before it are: it was added or \
                     changed without the seal key"
                ));
            }
            (Some(_), None) => self.seals.before += 1,
            (None, Some(_)) if !self.seals.warned => {
                self.seals.warned = true;
                warnings.push(format!(
                    "the {noun}s are sealed; give the seal key to check the seals too"
                ));
            }
            (None, _) => {}
        }
        match (&options.public_key, trailer.sig) {
            (Some(key), Some((body, sig))) => {
                if !key.verify_hex(body.as_bytes(), sig) {
                    return Err(format!(
                        "the {noun}'s signature does not verify: the {noun} was changed or forged"
                    ));
                }
                self.sigs.seen = true;
            }
            (Some(_), None) if self.sigs.seen => {
                return Err(format!(
                    "the {noun} is not signed, but the {noun}s before it are: it was added or \
                     changed without the signing key"
                ));
            }
            (Some(_), None) => self.sigs.before += 1,
            (None, Some(_)) if !self.sigs.warned => {
                self.sigs.warned = true;
                warnings.push(format!(
                    "the {noun}s are signed; give the public key (--public-key) to check the \
                     signatures too"
                ));
            }
            (None, _) => {}
        }
        Ok(())
    }

    /// At the stream's end (`lines` checked): with a key, the stream must hold a sealed
    /// (signed) line, else `Err` says so; the lines before the first one are vouched for by it
    /// through the chain, and a warning says so.
    pub fn finish(
        &self,
        options: &VerifyOptions,
        lines: u64,
        warnings: &mut Vec<String>,
    ) -> Result<(), String> {
        let noun = self.noun;
        for (given, marks, what, member) in [
            (options.seal.is_some(), &self.seals, "sealed", "seal key"),
            (
                options.public_key.is_some(),
                &self.sigs,
                "signed",
                "public key",
            ),
        ] {
            if !given || lines == 0 {
                continue;
            }
            if !marks.seen {
                return Err(format!(
                    "no {noun} of the stream is {what}, but a {member} was given: the {noun}s \
                     were rewritten without it, or were never {what}"
                ));
            }
            if marks.before > 0 {
                warnings.push(format!(
                    "the first {} {noun}(s) are not {what} (the key was set later): the first \
                     {what} {noun} vouches for them through the chain",
                    marks.before
                ));
            }
        }
        Ok(())
    }
}

struct State<'a> {
    expected_seq: Option<u64>,
    prev: Option<String>,
    last_file: Option<String>,
    /// The reason of the close record the stream's last line is, if it is one.
    last_close: Option<String>,
    /// The `seq` of the first line read.
    first_seq: Option<u64>,
    /// The head's `seq`, and the hash the line with that `seq` has, once read.
    head_seq: Option<u64>,
    head_line_hash: Option<String>,
    trailers: Trailers,
    /// The checkpoints, by `seq`, each with its line in the anchors file.
    anchors: HashMap<u64, Vec<(u64, &'a Checkpoint)>>,
    /// The first checkpoint a line does not match.
    anchor_problem: Option<Problem>,
    checkpoints_reached: u64,
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
    checkpoints: &[Anchored<'_>],
) -> StreamReport {
    let mut report = StreamReport::new(stream);
    let removed = retention_records(files);
    let head = read_head(dir, stream);
    let mut anchors: HashMap<u64, Vec<(u64, &Checkpoint)>> = HashMap::new();
    for anchored in checkpoints {
        anchors
            .entry(anchored.checkpoint.seq)
            .or_default()
            .push((anchored.line, anchored.checkpoint));
    }
    let mut state = State {
        expected_seq: None,
        prev: None,
        last_file: None,
        last_close: None,
        first_seq: None,
        head_seq: match &head {
            HeadState::Found(head) => Some(head.seq),
            _ => None,
        },
        head_line_hash: None,
        trailers: Trailers::new("line"),
        anchors,
        anchor_problem: None,
        checkpoints_reached: 0,
    };
    for (index, file) in files.iter().enumerate() {
        report.files += 1;
        if let Err(found) =
            verify_file(file, index == 0, &removed, &mut state, &mut report, options)
        {
            report.problem = Some(found);
            return report;
        }
    }
    report.head.clone_from(&state.prev);
    if let Some(found) = check_marks(files, &state, options, &mut report) {
        report.problem = Some(found);
        return report;
    }
    if let Some(found) = check_checkpoints(files, &removed, &mut state, checkpoints) {
        report.problem = Some(found);
        return report;
    }
    report.checkpoints = state.checkpoints_reached;
    if let Some(found) = check_end(stream, &head, files, &state, options) {
        report.problem = Some(found);
        return report;
    }
    if state.last_close.is_none() && files.last().is_some() {
        report.warnings.push(
            "the newest file has no close record: its writer is running, or was stopped abruptly"
                .to_owned(),
        );
    }
    report
}

/// With a key, a stream must hold a sealed (signed) line ([`Trailers::finish`]).
fn check_marks(
    files: &[StreamFile],
    state: &State<'_>,
    options: &VerifyOptions,
    report: &mut StreamReport,
) -> Option<Problem> {
    let first = files.first()?;
    let lines = report.lines;
    let reason = state
        .trailers
        .finish(options, lines, &mut report.warnings)
        .err()?;
    Some(Problem {
        file: first.name.clone(),
        line: Some(1),
        seq: state.first_seq,
        event_id: None,
        reason,
    })
}

/// Every checkpoint must be reached: lines beyond the end are missing or were rolled back.
fn check_checkpoints(
    files: &[StreamFile],
    removed: &HashMap<String, RemovedFile>,
    state: &mut State<'_>,
    checkpoints: &[Anchored<'_>],
) -> Option<Problem> {
    if let Some(found) = state.anchor_problem.take() {
        return Some(found);
    }
    let last = state.expected_seq.map(|s| s.saturating_sub(1));
    let first = state.first_seq.unwrap_or(0);
    let beyond = checkpoints
        .iter()
        .filter(|a| last.is_none_or(|last| a.checkpoint.seq > last))
        .max_by_key(|a| a.checkpoint.seq);
    if let Some(anchored) = beyond {
        let newest = files.last().map_or("", |f| f.name.as_str());
        return Some(Problem {
            file: newest.to_owned(),
            line: None,
            seq: last,
            event_id: None,
            reason: format!(
                "the stream ends at seq {}, but the {} (anchors line {}) reached seq {} in {}: lines or files after the end were removed, or the folder was rolled back to an older copy",
                last.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                anchored.checkpoint.describe(),
                anchored.line,
                anchored.checkpoint.seq,
                anchored.checkpoint.file
            ),
        });
    }
    // Checkpoints before the first line left: in files retention removed.
    for anchored in checkpoints.iter().filter(|a| a.checkpoint.seq < first) {
        let checkpoint = anchored.checkpoint;
        let entry = removed.values().find(|r| r.last_seq == checkpoint.seq);
        if let Some(entry) = entry
            && entry.last_hash != checkpoint.hash
        {
            return Some(Problem {
                file: entry.file.clone(),
                line: None,
                seq: Some(checkpoint.seq),
                event_id: None,
                reason: format!(
                    "the retention record of {} gives its last line (seq {}) another hash than the {} (anchors line {}): the chain was rewritten",
                    entry.file,
                    checkpoint.seq,
                    checkpoint.describe(),
                    anchored.line
                ),
            });
        }
        state.checkpoints_reached += 1;
    }
    None
}

/// The end of the stream against its head and its last record.
fn check_end(
    stream: &str,
    head: &HeadState,
    files: &[StreamFile],
    state: &State<'_>,
    options: &VerifyOptions,
) -> Option<Problem> {
    let newest = files.last()?;
    let at_newest = |reason: String| Problem {
        file: newest.name.clone(),
        line: None,
        seq: state.expected_seq.map(|s| s.saturating_sub(1)),
        event_id: None,
        reason,
    };
    let head = match head {
        HeadState::Found(head) => head,
        HeadState::Missing => {
            return Some(at_newest(format!(
                "the head file {stream}.head is missing: the end of the stream cannot be checked, and the newest lines or files may have been removed"
            )));
        }
        HeadState::Empty => {
            return Some(at_newest(format!(
                "the head file {stream}.head is empty: the end of the stream cannot be checked, and the newest lines or files may have been removed"
            )));
        }
        HeadState::Unreadable => {
            return Some(at_newest(format!(
                "the head file {stream}.head cannot be read as a head: the end of the stream cannot be checked"
            )));
        }
    };
    if let Some(found) = check_head(stream, head, files, state, options) {
        return Some(found);
    }
    match state.last_close.as_deref() {
        Some(reason @ ("day" | "size")) => Some(at_newest(format!(
            "the newest file ends with the close record of a rotation ({reason}): its writer went on in a next file, which is missing"
        ))),
        _ => None,
    }
}

fn check_head(
    stream: &str,
    head: &Head,
    files: &[StreamFile],
    state: &State<'_>,
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
    if head.stream != stream {
        return Some(at_head(format!(
            "the head file {stream}.head is the head of stream {}: it was replaced",
            head.stream
        )));
    }
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
    } else if state.trailers.last().0 && head.mac.is_none() {
        return Some(at_head(
            "the lines are sealed but the head is not: it was replaced".to_owned(),
        ));
    }
    if let Some(key) = &options.public_key {
        let valid = head
            .sig
            .as_deref()
            .is_some_and(|sig| key.verify_hex(head.signed_text().as_bytes(), sig));
        if !valid {
            return Some(at_head(
                "the head file's signature is missing or does not verify".to_owned(),
            ));
        }
    } else if state.trailers.last().1 && head.sig.is_none() {
        return Some(at_head(
            "the lines are signed but the head is not: it was replaced".to_owned(),
        ));
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
        _ => match &state.head_line_hash {
            Some(hash) if *hash != head.hash => Some(at_head(format!(
                "the head records seq {} with another hash than that line has: the head was replaced, or the line changed",
                head.seq
            ))),
            _ => None,
        },
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

fn verify_file(
    file: &StreamFile,
    first_file: bool,
    removed: &HashMap<String, RemovedFile>,
    state: &mut State<'_>,
    report: &mut StreamReport,
    options: &VerifyOptions,
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
        // The seal and the signature cover the line itself.
        let text = std::str::from_utf8(&raw).unwrap_or("");
        state
            .trailers
            .check(text, options, &mut report.warnings)
            .map_err(|reason| problem(file, Some(number), Some(&head), reason))?;
        if number == 1 {
            check_file_start(file, first_file, removed, state, &head)?;
            if let Some(ChainRecord::FileStart {
                head_ahead: Some(ahead),
                ..
            }) = &head.chain
            {
                report.warnings.push(format!(
                    "{}: when its writer started, the stream ended before the line its head named ({} seq {}): lines after seq {} were lost (a power loss with relaxed durability) or removed while no writer ran",
                    file.name,
                    ahead.file,
                    ahead.seq,
                    head.seq.saturating_sub(1)
                ));
            }
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
        let hash = chain::hash_hex(&raw);
        observe(file, number, &head, &hash, state);
        state.first_seq.get_or_insert(head.seq);
        state.expected_seq = Some(head.seq + 1);
        state.prev = Some(hash);
        state.last_close = match &head.chain {
            Some(ChainRecord::Close { reason }) => Some(reason.clone()),
            _ => None,
        };
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

/// A verified line against the head and the checkpoints that name its `seq`.
fn observe(file: &StreamFile, number: u64, head: &LineHead, hash: &str, state: &mut State<'_>) {
    if state.head_seq == Some(head.seq) {
        state.head_line_hash = Some(hash.to_owned());
    }
    let Some(anchored) = state.anchors.get(&head.seq) else {
        return;
    };
    let mut reached = 0;
    let mut mismatch = None;
    for (line, checkpoint) in anchored {
        if checkpoint.hash == hash {
            reached += 1;
        } else if mismatch.is_none() {
            mismatch = Some(format!(
                "the line does not have the hash the {} (anchors line {line}) records: it, or the chain before it, was rewritten",
                checkpoint.describe()
            ));
        }
    }
    state.checkpoints_reached += reached;
    if let Some(reason) = mismatch
        && state.anchor_problem.is_none()
    {
        state.anchor_problem = Some(problem(file, Some(number), Some(head), reason));
    }
}

fn check_file_start(
    file: &StreamFile,
    first_file: bool,
    removed: &HashMap<String, RemovedFile>,
    state: &mut State<'_>,
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
