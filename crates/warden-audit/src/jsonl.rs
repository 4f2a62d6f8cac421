//! JSONL audit files: one event per line, a SHA-256 hash chain (see [`crate::chain`]), rotation
//! by day and by size, retention in days, files created 0600 in a folder created 0700, and a
//! durability setting.
//!
//! A folder holds one or more *streams*; a stream is one writer's chain, in numbered files
//! `<stream>-<YYYYMMDD>-<NNNNNN>.jsonl`. A writer holds the stream's lock file
//! (`<stream>.lock`) while it writes; a second process writing to the same folder takes the
//! next free stream (`<stream>.2`, `<stream>.3`, …), so processes never interleave lines of
//! one chain. Each start of a writer opens a new file that links to the stream's last line.
//!
//! Beside the files, `<stream>.head` names the last line written (file, `seq`, hash; sealed and
//! signed like the lines): a truncation of the newest file is found by comparing it with the
//! file, and a stream without its head does not verify.
//!
//! With a signing key, the sink also makes checkpoints ([`crate::checkpoint`]) when it starts,
//! at every rotation, at shutdown and every `checkpoint_interval` while events are written:
//! appended to the anchors file, if one is set, and handed to the other sinks.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::chain::{self, ChainRecord, GENESIS, RemovedFile, SealKey};
use crate::checkpoint::{AnchorWriter, Checkpoint, Checkpoints};
use crate::event::{AuditEvent, format_time};
use crate::signing::SigningKey;
use crate::sink::{Batching, Sink, SinkError};

/// Where the time comes from (rotation, retention, chain records); tests inject a fake one.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> SystemTime;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// When written events are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Write and fsync every event before it counts as recorded.
    EveryEvent,
    /// Under load, at most one write and fsync per `interval`: events arriving meanwhile are
    /// gathered and synced together (far more events per second); a lone event is written and
    /// synced at once.
    GroupCommit {
        /// The shortest time between two syncs.
        interval: Duration,
    },
}

/// The settings of a [`JsonlSink`].
#[derive(Clone)]
pub struct JsonlConfig {
    /// The folder (created 0700 if missing).
    pub dir: PathBuf,
    /// The stream name (default `warden`): letters, digits, `_`, `-`.
    pub stream: String,
    /// A file is closed and a new one begun past this size (default 64 MiB).
    pub max_file_bytes: u64,
    /// Files whose day is older than this many days are removed (default 90; at least 1).
    pub retention_days: u32,
    /// When events are made durable (default: every event).
    pub durability: Durability,
    /// Seals every line with HMAC-SHA256 when set.
    pub seal: Option<SealKey>,
    /// Signs every line, the head and the checkpoints with Ed25519 when set; checkpoints are
    /// made only with a signing key.
    pub signer: Option<SigningKey>,
    /// While events are written, a checkpoint at least this often (default 5 minutes).
    pub checkpoint_interval: Duration,
    /// Where checkpoints are also appended (JSON lines, created 0600): a file outside the
    /// folder. Needs [`Self::signer`].
    pub anchors_file: Option<PathBuf>,
    /// The clock (default: the system's).
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for JsonlConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonlConfig")
            .field("dir", &self.dir)
            .field("stream", &self.stream)
            .field("max_file_bytes", &self.max_file_bytes)
            .field("retention_days", &self.retention_days)
            .field("durability", &self.durability)
            .field("sealed", &self.seal.is_some())
            .field("signer", &self.signer)
            .field("checkpoint_interval", &self.checkpoint_interval)
            .field("anchors_file", &self.anchors_file)
            .finish_non_exhaustive()
    }
}

impl JsonlConfig {
    /// The defaults, in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            stream: DEFAULT_STREAM.to_owned(),
            max_file_bytes: 64 * 1024 * 1024,
            retention_days: 90,
            durability: Durability::EveryEvent,
            seal: None,
            signer: None,
            checkpoint_interval: DEFAULT_CHECKPOINT_INTERVAL,
            anchors_file: None,
            clock: Arc::new(SystemClock),
        }
    }
}

/// The default stream name.
pub const DEFAULT_STREAM: &str = "warden";
/// How often a checkpoint is made while events are written, by default.
pub const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(300);
/// How many streams of one name a folder may hold (`warden`, `warden.2`, … `warden.64`).
const MAX_STREAMS: usize = 64;

/// What `<stream>.head` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// The stream.
    pub stream: String,
    /// The file of the last line.
    pub file: String,
    /// The last line's `seq`.
    pub seq: u64,
    /// The last line's hash.
    pub hash: String,
    /// When it was written.
    pub time: String,
    /// HMAC of the members above under the seal key, when sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Ed25519 signature of [`Head::signed_text`], when signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
}

impl Head {
    /// What the head's seal covers: stream, file, `seq`, hash and time, one per line.
    pub fn seal_body(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{}",
            self.stream, self.file, self.seq, self.hash, self.time
        )
    }

    /// What the head's signature covers: a fixed first line, then stream, file, `seq`, hash
    /// and time, one per line.
    pub fn signed_text(&self) -> String {
        format!("odoo-warden head 1\n{}", self.seal_body())
    }

    /// The head in the text of a head file: its first JSON value (a head file cut short or
    /// with bytes after the value still reads).
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::Deserializer::from_str(text)
            .into_iter::<Self>()
            .next()?
            .ok()
    }
}

/// A stream's file, as found in a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamFile {
    /// Its path.
    pub path: PathBuf,
    /// Its name.
    pub name: String,
    /// The stream.
    pub stream: String,
    /// Its day, `YYYYMMDD`.
    pub day: String,
    /// Its number in the stream.
    pub number: u64,
}

/// Parse `<stream>-<YYYYMMDD>-<NNNNNN>.jsonl`.
pub fn parse_file_name(name: &str) -> Option<(String, String, u64)> {
    let stem = name.strip_suffix(".jsonl")?;
    let (rest, number) = stem.rsplit_once('-')?;
    let (stream, day) = rest.rsplit_once('-')?;
    let valid_stream = !stream.is_empty()
        && stream
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !valid_stream
        || day.len() != 8
        || !day.bytes().all(|b| b.is_ascii_digit())
        || number.len() < 6
        || !number.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some((stream.to_owned(), day.to_owned(), number.parse().ok()?))
}

/// The audit files in `dir`, by stream, each stream's files in order.
pub fn stream_files(dir: &Path) -> std::io::Result<Vec<(String, Vec<StreamFile>)>> {
    let mut by_stream: std::collections::BTreeMap<String, Vec<StreamFile>> =
        std::collections::BTreeMap::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((stream, day, number)) = parse_file_name(&name) else {
            continue;
        };
        if !entry.file_type()?.is_file() {
            continue;
        }
        by_stream
            .entry(stream.clone())
            .or_default()
            .push(StreamFile {
                path: entry.path(),
                name,
                stream,
                day,
                number,
            });
    }
    Ok(by_stream
        .into_iter()
        .map(|(stream, mut files)| {
            files.sort_by_key(|f| f.number);
            (stream, files)
        })
        .collect())
}

/// The day (`YYYYMMDD`, UTC) of `at`.
pub fn day_of(at: SystemTime) -> String {
    let text = format_time(at);
    text.get(..10).unwrap_or("19700101").replace('-', "")
}

/// The last complete line of the file at `path` (without its newline), and how many bytes
/// follow it without a newline (a torn last line).
pub(crate) fn last_line(path: &Path) -> std::io::Result<(Option<Vec<u8>>, u64)> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut end = len;
    let mut tail: Vec<u8> = Vec::new();
    let mut torn = None;
    const CHUNK: u64 = 64 * 1024;
    loop {
        let start = end.saturating_sub(CHUNK);
        let mut chunk = vec![0u8; usize::try_from(end - start).unwrap_or(0)];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&tail);
        tail = chunk;
        // The bytes after the last newline are a torn line (or nothing).
        if torn.is_none() {
            if let Some(at) = tail.iter().rposition(|b| *b == b'\n') {
                torn = Some(tail.len() - at - 1);
            } else if start == 0 {
                return Ok((None, len));
            } else {
                end = start;
                continue;
            }
        }
        let torn_len = torn.unwrap_or(0);
        let body = &tail[..tail.len() - torn_len - 1];
        if let Some(at) = body.iter().rposition(|b| *b == b'\n') {
            return Ok((Some(body[at + 1..].to_vec()), torn_len as u64));
        }
        if start == 0 {
            return Ok(((!body.is_empty()).then(|| body.to_vec()), torn_len as u64));
        }
        end = start;
        if tail.len() > 64 * 1024 * 1024 {
            return Err(std::io::Error::other("a line longer than 64 MiB"));
        }
    }
}

/// The JSONL file sink. [`JsonlSink::open`] takes a stream and starts a new file; every
/// [`Sink::write`] appends, rotates and prunes as configured.
pub struct JsonlSink {
    config: JsonlConfig,
    stream: String,
    _lock: File,
    file: File,
    file_name: String,
    file_day: String,
    file_number: u64,
    file_bytes: u64,
    next_seq: u64,
    prev: String,
    head: File,
    name: String,
    /// Where checkpoints go (the anchors file, the other sinks) and when the next is due.
    checkpoints: Checkpoints,
}

impl std::fmt::Debug for JsonlSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonlSink")
            .field("stream", &self.stream)
            .field("file", &self.file_name)
            .finish_non_exhaustive()
    }
}

fn io_error(what: &str, path: &Path, error: &std::io::Error) -> SinkError {
    SinkError::new(format!("{what} {}: {error}", path.display()))
}

fn create_dir(dir: &Path) -> Result<(), SinkError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| io_error("cannot create the audit folder", dir, &e))
}

fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

fn sync_dir(dir: &Path) {
    // Makes a new file's name durable; some file systems cannot, which is not an error.
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}

/// Whether `name` is a valid stream name.
pub fn valid_stream_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
}

impl JsonlSink {
    /// Take a stream in `config.dir` and begin a new file linked to the stream's last line.
    pub fn open(config: JsonlConfig) -> Result<Self, SinkError> {
        if !valid_stream_name(&config.stream) {
            return Err(SinkError::new(format!(
                "invalid audit stream name {:?}: letters, digits, _ and - only",
                config.stream
            )));
        }
        if config.retention_days == 0 {
            return Err(SinkError::new("audit retention must be at least 1 day"));
        }
        create_dir(&config.dir)?;
        let anchors = match &config.anchors_file {
            None => None,
            Some(_) if config.signer.is_none() => {
                return Err(SinkError::new(
                    "an anchors file needs a signing key: checkpoints are signed",
                ));
            }
            Some(path) => {
                outside_folder(path, &config.dir)?;
                Some(
                    AnchorWriter::open(path)
                        .map_err(|e| io_error("cannot open the anchors file", path, &e))?,
                )
            }
        };
        let (stream, lock) = Self::take_stream(&config)?;
        let files = stream_files(&config.dir)
            .map_err(|e| io_error("cannot list the audit folder", &config.dir, &e))?;
        let mut mine = files
            .into_iter()
            .find(|(name, _)| *name == stream)
            .map(|(_, files)| files)
            .unwrap_or_default();
        // A newest file with nothing in it: the writer stopped between creating it and writing
        // its start record. It holds no line, so it is removed and its number taken again, and
        // the chain goes on from the file before it (kept, it would fail every verify).
        if let Some(last) = mine.last()
            && std::fs::metadata(&last.path).is_ok_and(|m| m.len() == 0)
        {
            std::fs::remove_file(&last.path)
                .map_err(|e| io_error("cannot remove the empty audit file", &last.path, &e))?;
            sync_dir(&config.dir);
            tracing::warn!(
                file = %last.name,
                "the last audit file was empty (the writer was stopped as it began it); removed"
            );
            mine.pop();
        }
        let previous = mine.pop();
        let (next_seq, prev, previous_name, torn) = match &previous {
            None => (0, GENESIS.to_owned(), None, 0),
            Some(file) => {
                let (line, torn) = last_line(&file.path)
                    .map_err(|e| io_error("cannot read the audit file", &file.path, &e))?;
                match line {
                    Some(line) => {
                        let seq = serde_json::from_slice::<chain::LineHead>(&line)
                            .map(|head| head.seq + 1)
                            .unwrap_or(0);
                        (seq, chain::hash_hex(&line), Some(file.name.clone()), torn)
                    }
                    None => (0, GENESIS.to_owned(), Some(file.name.clone()), torn),
                }
            }
        };
        if torn > 0
            && let Some(file) = &previous
        {
            tracing::warn!(
                file = %file.name,
                bytes = torn,
                "the last audit file ends with a torn line (the writer was stopped mid-write); it is kept as found"
            );
        }
        let head_path = config.dir.join(format!("{stream}.head"));
        // The head names the last line the previous writer wrote: ending before it, the stream
        // lost lines since, and the new file's start record says so for good.
        let head_ahead = std::fs::read_to_string(&head_path)
            .ok()
            .and_then(|text| Head::parse(&text))
            .filter(|head| head.stream == stream)
            .filter(|head| match &previous_name {
                None => true,
                Some(_) => head.seq >= next_seq,
            })
            .map(|head| chain::HeadAhead {
                file: head.file,
                seq: head.seq,
            });
        if let Some(ahead) = &head_ahead {
            tracing::warn!(
                file = %ahead.file,
                seq = ahead.seq,
                found = next_seq.checked_sub(1),
                "the audit stream ends before the line its head names: lines were lost or removed while no writer ran; the new file's start record says so"
            );
        }
        let head = private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&head_path)
            .map_err(|e| io_error("cannot open", &head_path, &e))?;
        let number = previous.as_ref().map_or(1, |f| f.number + 1);
        let now = config.clock.now();
        let day = day_of(now);
        let (file, file_name) = Self::create_file(&config, &stream, &day, number)?;
        let mut sink = Self {
            name: "file".to_owned(),
            config,
            stream,
            _lock: lock,
            file,
            file_name,
            file_day: day,
            file_number: number,
            file_bytes: 0,
            next_seq,
            prev,
            head,
            checkpoints: Checkpoints::new(anchors),
        };
        sink.start_file_after(previous_name, "start", torn, head_ahead)?;
        sink.prune()?;
        sink.checkpoint("start");
        Ok(sink)
    }

    /// The stream this sink writes.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The file being written.
    pub fn current_file(&self) -> PathBuf {
        self.config.dir.join(&self.file_name)
    }

    fn take_stream(config: &JsonlConfig) -> Result<(String, File), SinkError> {
        for n in 1..=MAX_STREAMS {
            let stream = if n == 1 {
                config.stream.clone()
            } else {
                format!("{}.{n}", config.stream)
            };
            let path = config.dir.join(format!("{stream}.lock"));
            let lock = private_options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| io_error("cannot open", &path, &e))?;
            match lock.try_lock() {
                Ok(()) => return Ok((stream, lock)),
                Err(fs::TryLockError::WouldBlock) => {}
                Err(fs::TryLockError::Error(e)) => {
                    return Err(io_error("cannot lock", &path, &e));
                }
            }
        }
        Err(SinkError::new(format!(
            "{MAX_STREAMS} writers already use the audit folder {}",
            config.dir.display()
        )))
    }

    fn create_file(
        config: &JsonlConfig,
        stream: &str,
        day: &str,
        number: u64,
    ) -> Result<(File, String), SinkError> {
        let name = format!("{stream}-{day}-{number:06}.jsonl");
        let path = config.dir.join(&name);
        let file = private_options()
            .append(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_error("cannot create the audit file", &path, &e))?;
        sync_dir(&config.dir);
        Ok((file, name))
    }

    /// Write `object` (a JSON object's text) as the next line; on failure nothing is left of it.
    fn append(&mut self, object: &str) -> Result<(), SinkError> {
        let line = chain::encode_line(
            self.next_seq,
            &self.prev,
            object,
            self.config.seal.as_ref(),
            self.config.signer.as_ref(),
        );
        let mut bytes = line.into_bytes();
        let hash = chain::hash_hex(&bytes);
        bytes.push(b'\n');
        if let Err(error) = self.file.write_all(&bytes) {
            self.undo();
            return Err(io_error("cannot write", &self.current_file(), &error));
        }
        self.file_bytes += bytes.len() as u64;
        self.next_seq += 1;
        self.prev = hash;
        Ok(())
    }

    /// Cut the file back to its last whole line after a failed write.
    fn undo(&mut self) {
        if let Err(error) = self.file.set_len(self.file_bytes) {
            tracing::error!(%error, "cannot undo a partial audit write");
        }
    }

    fn sync(&mut self) -> Result<(), SinkError> {
        self.file
            .sync_data()
            .map_err(|e| io_error("cannot sync", &self.current_file(), &e))
    }

    fn chain_object(&self, record: &ChainRecord) -> String {
        let now = self.config.clock.now();
        let value = serde_json::json!({
            "v": crate::event::SCHEMA_VERSION,
            "kind": "chain",
            "id": crate::event::new_id(now),
            "time": format_time(now),
            "chain": record,
        });
        value.to_string()
    }

    fn start_file(
        &mut self,
        previous_file: Option<String>,
        reason: &str,
        torn: u64,
    ) -> Result<(), SinkError> {
        self.start_file_after(previous_file, reason, torn, None)
    }

    fn start_file_after(
        &mut self,
        previous_file: Option<String>,
        reason: &str,
        torn: u64,
        head_ahead: Option<chain::HeadAhead>,
    ) -> Result<(), SinkError> {
        let record = ChainRecord::FileStart {
            stream: self.stream.clone(),
            file: self.file_name.clone(),
            previous_file,
            reason: reason.to_owned(),
            torn_tail_bytes: (torn > 0).then_some(torn),
            head_ahead,
        };
        let object = self.chain_object(&record);
        self.append(&object)?;
        self.sync()?;
        self.write_head(true);
        Ok(())
    }

    /// Rewrite the head file; `sync` makes it durable (at a file's start, retention and
    /// shutdown: the head of a new stream is never left empty by a power loss).
    fn write_head(&mut self, sync: bool) {
        let mut head = Head {
            stream: self.stream.clone(),
            file: self.file_name.clone(),
            seq: self.next_seq.saturating_sub(1),
            hash: self.prev.clone(),
            time: format_time(self.config.clock.now()),
            mac: None,
            sig: None,
        };
        if let Some(key) = &self.config.seal {
            head.mac = Some(key.seal_hex(head.seal_body().as_bytes()));
        }
        if let Some(key) = &self.config.signer {
            head.sig = Some(key.sign_hex(head.signed_text().as_bytes()));
        }
        let mut text = serde_json::to_string(&head).unwrap_or_default();
        text.push('\n');
        // Written over the old head, then cut to length (never emptied first): a crash leaves
        // the old head or the new one. A head that lags after a crash is fine.
        let written = self
            .head
            .seek(SeekFrom::Start(0))
            .and_then(|_| self.head.write_all(text.as_bytes()))
            .and_then(|()| self.head.set_len(text.len() as u64))
            .and_then(|()| if sync { self.head.sync_data() } else { Ok(()) });
        if let Err(error) = written {
            tracing::warn!(%error, "cannot update the audit head file");
        }
    }

    /// Close the current file (a `close` record) and begin the next one.
    fn rotate(&mut self, reason: &str) -> Result<(), SinkError> {
        let close = self.chain_object(&ChainRecord::Close {
            reason: reason.to_owned(),
        });
        self.append(&close)?;
        self.sync()?;
        let day = day_of(self.config.clock.now());
        let number = self.file_number + 1;
        let (file, name) = Self::create_file(&self.config, &self.stream, &day, number)?;
        let previous = std::mem::replace(&mut self.file_name, name);
        self.file = file;
        self.file_day = day;
        self.file_number = number;
        self.file_bytes = 0;
        self.start_file(Some(previous), reason, 0)?;
        self.prune()?;
        self.checkpoint(reason);
        Ok(())
    }

    /// Make a checkpoint of the stream's last line (with a signing key only): append it to the
    /// anchors file and keep it for the other sinks. A failure to append is logged, not fatal:
    /// the checkpoint still goes to the other sinks, and the next one is appended again.
    fn checkpoint(&mut self, reason: &str) {
        let Some(key) = &self.config.signer else {
            return;
        };
        let now = self.config.clock.now();
        let seq = self.next_seq.saturating_sub(1);
        let checkpoint = Checkpoint::new(
            key,
            &self.stream,
            &self.file_name,
            seq,
            &self.prev,
            &format_time(now),
            reason,
        );
        self.checkpoints.publish(now, seq, checkpoint);
    }

    /// A checkpoint if the interval has passed since the last one and lines were written since.
    fn checkpoint_if_due(&mut self) {
        if self.config.signer.is_none() {
            return;
        }
        let now = self.config.clock.now();
        let seq = self.next_seq.saturating_sub(1);
        if self
            .checkpoints
            .due(now, seq, self.config.checkpoint_interval)
        {
            self.checkpoint("interval");
        }
    }

    /// Remove this stream's files older than the retention, after recording which.
    fn prune(&mut self) -> Result<(), SinkError> {
        let retention = Duration::from_secs(u64::from(self.config.retention_days) * 86_400);
        let cutoff = day_of(
            self.config
                .clock
                .now()
                .checked_sub(retention)
                .unwrap_or(SystemTime::UNIX_EPOCH),
        );
        let files = stream_files(&self.config.dir)
            .map_err(|e| io_error("cannot list the audit folder", &self.config.dir, &e))?;
        let old: Vec<StreamFile> = files
            .into_iter()
            .filter(|(stream, _)| *stream == self.stream)
            .flat_map(|(_, files)| files)
            .filter(|f| f.day < cutoff && f.name != self.file_name)
            .collect();
        if old.is_empty() {
            return Ok(());
        }
        let mut removed = Vec::with_capacity(old.len());
        for file in &old {
            let (line, _) = last_line(&file.path)
                .map_err(|e| io_error("cannot read the audit file", &file.path, &e))?;
            let line = line.unwrap_or_default();
            let last_seq = serde_json::from_slice::<chain::LineHead>(&line)
                .map(|h| h.seq)
                .unwrap_or(0);
            removed.push(RemovedFile {
                file: file.name.clone(),
                last_seq,
                last_hash: chain::hash_hex(&line),
            });
        }
        let record = self.chain_object(&ChainRecord::Retention {
            removed,
            retention_days: self.config.retention_days,
        });
        self.append(&record)?;
        self.sync()?;
        self.write_head(true);
        for file in old {
            if let Err(error) = fs::remove_file(&file.path) {
                tracing::warn!(file = %file.name, %error, "cannot remove an expired audit file");
            }
        }
        sync_dir(&self.config.dir);
        Ok(())
    }

    fn write_events(&mut self, events: &[Arc<AuditEvent>]) -> Result<(), SinkError> {
        for event in events {
            let object =
                serde_json::to_string(event.as_ref()).map_err(|e| SinkError::new(e.to_string()))?;
            let today = day_of(self.config.clock.now());
            if today != self.file_day {
                self.rotate("day")?;
            } else if self.file_bytes + object.len() as u64 + 100 > self.config.max_file_bytes
                && self.file_bytes > 0
            {
                self.rotate("size")?;
            }
            self.append(&object)?;
            if self.config.durability == Durability::EveryEvent {
                self.sync()?;
            }
        }
        if self.config.durability != Durability::EveryEvent {
            self.sync()?;
        }
        self.write_head(false);
        self.checkpoint_if_due();
        Ok(())
    }
}

impl Sink for JsonlSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn write(&mut self, events: &[Arc<AuditEvent>]) -> Result<(), SinkError> {
        let (seq, prev, bytes) = (self.next_seq, self.prev.clone(), self.file_bytes);
        let (name, number) = (self.file_name.clone(), self.file_number);
        let result = self.write_events(events);
        if result.is_err() && self.file_name == name && self.file_number == number {
            // Nothing of a failed batch counts: cut the file back and rewind the chain, so
            // the retried batch continues from the last line that was recorded.
            self.file_bytes = bytes;
            self.undo();
            self.next_seq = seq;
            self.prev = prev;
        }
        result
    }

    fn batching(&self) -> Batching {
        match self.config.durability {
            Durability::EveryEvent => Batching::ONE,
            Durability::GroupCommit { interval } => Batching {
                max_events: 4096,
                max_wait: interval,
            },
        }
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.sync()
    }

    fn close(&mut self) -> Result<(), SinkError> {
        let close = self.chain_object(&ChainRecord::Close {
            reason: "shutdown".to_owned(),
        });
        self.append(&close)?;
        self.sync()?;
        self.write_head(true);
        self.checkpoint("shutdown");
        Ok(())
    }

    fn emits(&self) -> bool {
        self.config.signer.is_some()
    }

    fn take_emitted(&mut self) -> Vec<Arc<AuditEvent>> {
        self.checkpoints.take_emitted()
    }

    fn tick_interval(&self) -> Option<Duration> {
        self.config
            .signer
            .as_ref()
            .map(|_| self.config.checkpoint_interval.min(Duration::from_secs(1)))
    }

    fn tick(&mut self) -> Result<(), SinkError> {
        self.checkpoint_if_due();
        Ok(())
    }
}

/// Refuse an anchors file inside the audit folder: whoever can change the folder could change
/// the anchors too.
fn outside_folder(anchors: &Path, dir: &Path) -> Result<(), SinkError> {
    let parent = match anchors.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let parent = fs::canonicalize(parent)
        .map_err(|e| io_error("cannot find the anchors file's folder", parent, &e))?;
    let dir = fs::canonicalize(dir).map_err(|e| io_error("cannot find", dir, &e))?;
    if parent.starts_with(&dir) {
        return Err(SinkError::new(format!(
            "the anchors file {} is inside the audit folder: keep it elsewhere (another volume), \
             out of reach of whoever can change the folder",
            anchors.display()
        )));
    }
    Ok(())
}
