//! Checkpoints: signed statements of how far a stream's chain reached, kept outside the folder.
//!
//! Nothing inside the audit folder can show that the folder was rolled back to an older copy of
//! itself (older files and the head of that time): the older state is a valid chain. A
//! checkpoint names a stream's last line at one moment — stream, file, `seq`, hash, time — and
//! is signed with the Ed25519 signing key ([`crate::signing`]). The file sink makes one when it
//! starts, at every rotation, at shutdown and periodically while events are written, and
//! - appends it to an *anchors file* of the operator's choice (JSON lines, 0600), which must be
//!   outside the audit folder (another volume, a mount only the gateway's user can append to);
//! - hands it to the other sinks (the webhook, stdout/stderr) as an event of kind `checkpoint`.
//!
//! [`crate::verify`] then checks that the log still reaches every checkpoint: the line with the
//! checkpoint's `seq` has the checkpoint's hash, or a retention record accounts for it.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::signing::{PublicKey, SigningKey};

/// What the `file` of a checkpoint of a stream kept in a database table begins with
/// (`postgres:warden_audit_events`): a folder's verify leaves such checkpoints to the table's, so
/// one anchors file serves both.
pub const TABLE_FILE_PREFIX: &str = "postgres:";

/// How far a stream's chain reached, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The stream.
    pub stream: String,
    /// The file holding the line.
    pub file: String,
    /// The line's `seq`.
    pub seq: u64,
    /// The line's hash (SHA-256 hex of its bytes): the head of the chain at that moment.
    pub hash: String,
    /// When the checkpoint was made (RFC 3339, UTC).
    pub time: String,
    /// Why: `start`, `interval`, `day` or `size` (a rotation), `shutdown`.
    pub reason: String,
    /// The signing key's id ([`SigningKey::id`]).
    pub key_id: String,
    /// The Ed25519 signature (hex) of [`Checkpoint::signed_text`].
    pub sig: String,
}

impl Checkpoint {
    /// A signed checkpoint.
    pub fn new(
        key: &SigningKey,
        stream: &str,
        file: &str,
        seq: u64,
        hash: &str,
        time: &str,
        reason: &str,
    ) -> Self {
        let mut checkpoint = Self {
            stream: stream.to_owned(),
            file: file.to_owned(),
            seq,
            hash: hash.to_owned(),
            time: time.to_owned(),
            reason: reason.to_owned(),
            key_id: key.id().to_owned(),
            sig: String::new(),
        };
        checkpoint.sig = key.sign_hex(checkpoint.signed_text().as_bytes());
        checkpoint
    }

    /// What the signature covers: a fixed first line, then every member but `sig`, one per
    /// line, in the order above.
    pub fn signed_text(&self) -> String {
        format!(
            "odoo-warden checkpoint 1\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.stream, self.file, self.seq, self.hash, self.time, self.reason, self.key_id
        )
    }

    /// Whether the signature verifies under `key`.
    pub fn verify(&self, key: &PublicKey) -> bool {
        key.verify_hex(self.signed_text().as_bytes(), &self.sig)
    }

    /// One line for people: `stream warden, seq 41 (2026-12-01T10:05:00.000000Z)`.
    pub fn describe(&self) -> String {
        format!(
            "checkpoint of stream {} at seq {} ({}, {})",
            self.stream, self.seq, self.time, self.reason
        )
    }
}

/// A checkpoint read from an anchors file, with where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// The line of the anchors file (1-based).
    pub line: u64,
    /// The checkpoint.
    pub checkpoint: Checkpoint,
}

/// The checkpoints of an anchors file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Anchors {
    /// The file, for the report.
    pub path: PathBuf,
    /// Every checkpoint, in file order.
    pub anchors: Vec<Anchor>,
    /// Lines that are not JSON (other JSON lines are skipped: an export of a SIEM's events may
    /// hold every kind of event).
    pub problems: Vec<String>,
    /// Things to know (a torn last line).
    pub warnings: Vec<String>,
}

impl Anchors {
    /// Read the anchors file at `path`: the lines `odoo-warden` appends (checkpoint events),
    /// and also bare checkpoints, events exported from a receiver (any kind; only checkpoints
    /// are kept) and webhook bodies (`{"events":[…]}`), one per line.
    pub fn read(path: &Path) -> std::io::Result<Self> {
        let file = File::open(path)?;
        let mut anchors = Self {
            path: path.to_owned(),
            ..Self::default()
        };
        let mut number = 0u64;
        for line in BufReader::new(file).split(b'\n') {
            let line = line?;
            number += 1;
            anchors.add_line(number, &line);
        }
        Ok(anchors)
    }

    /// The checkpoints in `text` (see [`Anchors::read`]).
    pub fn parse(text: &str) -> Self {
        let mut anchors = Self::default();
        for (index, line) in text.split('\n').enumerate() {
            anchors.add_line(index as u64 + 1, line.as_bytes());
        }
        anchors
    }

    fn add_line(&mut self, number: u64, line: &[u8]) {
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let value = match serde_json::from_slice::<Value>(line) {
            Ok(value) => value,
            Err(error) if error.is_eof() => {
                self.warnings.push(format!(
                    "line {number} of the anchors file is cut short (a write was interrupted); it is skipped"
                ));
                return;
            }
            Err(_) => {
                self.problems
                    .push(format!("line {number} of the anchors file is not JSON"));
                return;
            }
        };
        let mut found = Vec::new();
        collect(&value, &mut found);
        for checkpoint in found {
            self.anchors.push(Anchor {
                line: number,
                checkpoint,
            });
        }
    }

    /// The streams the checkpoints name, each once, in order of first appearance.
    pub fn streams(&self) -> Vec<&str> {
        let mut streams: Vec<&str> = Vec::new();
        for anchor in &self.anchors {
            if !streams.contains(&anchor.checkpoint.stream.as_str()) {
                streams.push(&anchor.checkpoint.stream);
            }
        }
        streams
    }
}

/// The checkpoints in a JSON value: a checkpoint event, a bare checkpoint, or a webhook body.
fn collect(value: &Value, found: &mut Vec<Checkpoint>) {
    if let Some(events) = value.get("events").and_then(Value::as_array) {
        for event in events {
            collect(event, found);
        }
        return;
    }
    if let Some(inner) = value.get("checkpoint") {
        if let Ok(checkpoint) = serde_json::from_value::<Checkpoint>(inner.clone()) {
            found.push(checkpoint);
        }
        return;
    }
    if value.get("sig").is_some()
        && let Ok(checkpoint) = serde_json::from_value::<Checkpoint>(value.clone())
    {
        found.push(checkpoint);
    }
}

/// Appends checkpoints to an anchors file, each line synced.
#[derive(Debug)]
pub struct AnchorWriter {
    path: PathBuf,
    file: File,
}

impl AnchorWriter {
    /// Open (create 0600) `path` for appending.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path)?;
        Ok(Self {
            path: path.to_owned(),
            file,
        })
    }

    /// Append `line` (without its newline) and sync it.
    pub fn append(&mut self, line: &str) -> std::io::Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.file.write_all(&bytes)?;
        self.file.sync_data()
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Where a writer's checkpoints go and when the next one is due: shared by the file sink and
/// other chained sinks (the PostgreSQL one).
#[derive(Debug, Default)]
pub struct Checkpoints {
    anchors: Option<AnchorWriter>,
    emitted: Vec<std::sync::Arc<crate::AuditEvent>>,
    last: Option<(std::time::SystemTime, u64)>,
}

impl Checkpoints {
    /// Checkpoints appended to `anchors` (when given) and handed to the other sinks.
    pub fn new(anchors: Option<AnchorWriter>) -> Self {
        Self {
            anchors,
            ..Self::default()
        }
    }

    /// Whether a checkpoint of `seq` is due at `now`: none made yet, or `interval` has passed
    /// since the last and lines were written since.
    pub fn due(&self, now: std::time::SystemTime, seq: u64, interval: std::time::Duration) -> bool {
        match self.last {
            None => true,
            Some((at, last_seq)) => {
                last_seq != seq && now.duration_since(at).is_ok_and(|since| since >= interval)
            }
        }
    }

    /// Publish `checkpoint`, made at `now` of `seq`: append it to the anchors file and keep it
    /// for the other sinks. A failure to append is logged, not fatal: the checkpoint still goes
    /// to the other sinks, and the next one is appended again.
    pub fn publish(&mut self, now: std::time::SystemTime, seq: u64, checkpoint: Checkpoint) {
        let event = crate::AuditEvent::checkpoint(now, checkpoint);
        if let Some(anchors) = &mut self.anchors {
            let appended = serde_json::to_string(&event)
                .map_err(std::io::Error::other)
                .and_then(|line| anchors.append(&line));
            if let Err(error) = appended {
                tracing::error!(
                    file = %anchors.path().display(),
                    %error,
                    "cannot append the audit checkpoint to the anchors file"
                );
            }
        }
        self.emitted.push(std::sync::Arc::new(event));
        self.last = Some((now, seq));
    }

    /// The checkpoints made since the last call.
    pub fn take_emitted(&mut self) -> Vec<std::sync::Arc<crate::AuditEvent>> {
        std::mem::take(&mut self.emitted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_verifies_only_as_signed() {
        let (key, _) = SigningKey::generate().expect("key");
        let (other, _) = SigningKey::generate().expect("key");
        let checkpoint = Checkpoint::new(
            &key,
            "warden",
            "warden-20261201-000001.jsonl",
            41,
            &"ab".repeat(32),
            "2026-12-01T10:00:00.000000Z",
            "interval",
        );
        assert!(checkpoint.verify(&key.public_key()));
        assert!(!checkpoint.verify(&other.public_key()));
        for change in [
            |c: &mut Checkpoint| c.seq += 1,
            |c: &mut Checkpoint| c.hash = "cd".repeat(32),
            |c: &mut Checkpoint| c.stream = "warden.2".to_owned(),
            |c: &mut Checkpoint| c.time = "2026-12-01T10:00:01.000000Z".to_owned(),
        ] {
            let mut forged = checkpoint.clone();
            change(&mut forged);
            assert!(!forged.verify(&key.public_key()), "{forged:?}");
        }
    }

    #[test]
    fn anchors_are_read_from_every_shape_and_bad_lines_are_named() {
        let (key, _) = SigningKey::generate().expect("key");
        let checkpoint = Checkpoint::new(&key, "warden", "f", 1, "h", "t", "start");
        let bare = serde_json::to_string(&checkpoint).expect("json");
        let event = serde_json::json!({"v":1,"kind":"checkpoint","checkpoint":checkpoint});
        let body = serde_json::json!({"events":[{"kind":"request"}, event]});
        let text =
            format!("{bare}\n{event}\n{body}\n{{\"kind\":\"request\"}}\nnot json\n{{\"cut\":");
        let anchors = Anchors::parse(&text);
        assert_eq!(anchors.anchors.len(), 3, "{anchors:?}");
        assert_eq!(
            anchors.anchors.iter().map(|a| a.line).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(anchors.problems.len(), 1, "{anchors:?}");
        assert!(anchors.problems[0].contains("line 5"));
        assert_eq!(anchors.warnings.len(), 1, "{anchors:?}");
        assert_eq!(anchors.streams(), vec!["warden"]);
    }
}
