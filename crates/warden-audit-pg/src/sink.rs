//! The PostgreSQL sink: one hash-chained stream per writer in `warden_audit_events`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use postgres::Client;
use postgres::types::ToSql;
use warden_audit::chain::{self, ChainRecord, GENESIS, RemovedFile, SealKey};
use warden_audit::checkpoint::{AnchorWriter, Checkpoint, Checkpoints, TABLE_FILE_PREFIX};
use warden_audit::event::{AuditEvent, SCHEMA_VERSION, format_time, new_id};
use warden_audit::jsonl::{
    Clock, DEFAULT_CHECKPOINT_INTERVAL, Head, SystemClock, valid_stream_name,
};
use warden_audit::signing::SigningKey;
use warden_audit::sink::{Batching, Sink, SinkError};

use crate::{Columns, PgError, PgTarget, off_runtime, schema, stream_lock_key};

/// Retention, in days, when the configuration sets one and gives no number.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;

/// Most events in one transaction (14 parameters each: far below PostgreSQL's 65,535).
const MAX_BATCH: usize = 512;

/// How often retention runs while the sink is open (it also runs at start).
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// The settings of a [`PgSink`].
#[derive(Clone)]
pub struct PgSinkConfig {
    /// The database.
    pub target: PgTarget,
    /// This writer's stream: letters, digits, `_`, `-` (at most 64). One live writer per stream.
    pub stream: String,
    /// Rows older than this many days are removed (`None`: kept; the gateway's role then needs
    /// no DELETE right).
    pub retention_days: Option<u32>,
    /// Seals every line with HMAC-SHA256 when set.
    pub seal: Option<SealKey>,
    /// Signs every line and the head with Ed25519 when set; checkpoints are made only with a
    /// signing key.
    pub signer: Option<SigningKey>,
    /// While events are written, a checkpoint at least this often (default 5 minutes).
    pub checkpoint_interval: Duration,
    /// Where checkpoints are also appended (the file sink's anchors file may be the same file:
    /// their checkpoints name the table, `postgres:warden_audit_events`, as their file). Needs
    /// [`Self::signer`].
    pub anchors_file: Option<PathBuf>,
    /// The clock (retention, chain records); tests inject a fake one.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for PgSinkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSinkConfig")
            .field("target", &self.target.display())
            .field("stream", &self.stream)
            .field("retention_days", &self.retention_days)
            .field("sealed", &self.seal.is_some())
            .field("signed", &self.signer.is_some())
            .field("anchors_file", &self.anchors_file)
            .finish_non_exhaustive()
    }
}

impl PgSinkConfig {
    /// The defaults for `stream` in `target`: no retention, no seal, no signature.
    pub fn new(target: PgTarget, stream: impl Into<String>) -> Self {
        Self {
            target,
            stream: stream.into(),
            retention_days: None,
            seal: None,
            signer: None,
            checkpoint_interval: DEFAULT_CHECKPOINT_INTERVAL,
            anchors_file: None,
            clock: Arc::new(SystemClock),
        }
    }
}

/// The PostgreSQL sink. [`PgSink::open`] connects, applies the migrations, takes the stream and
/// writes a `writer_start` record linked to the stream's last row; every [`Sink::write`] is one
/// transaction, acknowledged once committed.
pub struct PgSink {
    config: PgSinkConfig,
    client: Option<Client>,
    next_seq: u64,
    prev: String,
    last_retention: Option<SystemTime>,
    name: String,
    /// Where checkpoints go (the anchors file, the other sinks) and when the next is due.
    checkpoints: Checkpoints,
}

impl std::fmt::Debug for PgSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSink")
            .field("target", &self.config.target.display())
            .field("stream", &self.config.stream)
            .field("next_seq", &self.next_seq)
            .finish_non_exhaustive()
    }
}

impl Drop for PgSink {
    fn drop(&mut self) {
        // The client owns a runtime, which must not be dropped inside another one.
        if let Some(client) = self.client.take() {
            off_runtime(move || drop(client));
        }
    }
}

impl PgSink {
    /// Connect, migrate, take the stream (refused while another writer holds it) and record
    /// the start. Safe to call from inside an asynchronous runtime.
    pub fn open(config: PgSinkConfig) -> Result<Self, SinkError> {
        if !valid_stream_name(&config.stream) {
            return Err(SinkError::new(format!(
                "invalid audit stream name {:?}: letters, digits, _ and - only (at most 64)",
                config.stream
            )));
        }
        if config.retention_days == Some(0) {
            return Err(SinkError::new("audit retention must be at least 1 day"));
        }
        let anchors = match &config.anchors_file {
            None => None,
            Some(_) if config.signer.is_none() => {
                return Err(SinkError::new(
                    "an anchors file needs a signing key: checkpoints are signed",
                ));
            }
            Some(path) => Some(AnchorWriter::open(path).map_err(|e| {
                SinkError::new(format!(
                    "cannot open the anchors file {}: {e}",
                    path.display()
                ))
            })?),
        };
        off_runtime(move || {
            let mut sink = Self {
                config,
                client: None,
                next_seq: 0,
                prev: GENESIS.to_owned(),
                last_retention: None,
                name: "postgres".to_owned(),
                checkpoints: Checkpoints::new(anchors),
            };
            sink.connect()?;
            let start = sink.chain_object(&ChainRecord::WriterStart {
                stream: sink.config.stream.clone(),
                store: "postgres".to_owned(),
            });
            sink.commit(vec![start], None)?;
            sink.prune()?;
            sink.checkpoint("start");
            Ok(sink)
        })
    }

    /// The stream this sink writes.
    pub fn stream(&self) -> &str {
        &self.config.stream
    }

    /// The `seq` the next row will have.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Connect, migrate, take the stream's lock and go on from its last row.
    fn connect(&mut self) -> Result<(), SinkError> {
        let target = &self.config.target;
        let stream = &self.config.stream;
        let mut client = target.connect()?;
        schema::migrate(&mut client)?;
        let taken: bool = client
            .query_one(
                "SELECT pg_try_advisory_lock($1)",
                &[&stream_lock_key(stream)],
            )
            .map_err(|e| PgError::db("cannot take the audit stream's lock", &e))?
            .get(0);
        if !taken {
            return Err(SinkError::new(format!(
                "the audit stream {stream:?} in {} is written by another live writer: give each \
                 replica a stream of its own (audit.postgres.stream)",
                target.display()
            )));
        }
        let last = client
            .query_opt(
                "SELECT seq, line FROM warden_audit_events WHERE stream = $1 \
                 ORDER BY seq DESC LIMIT 1",
                &[stream],
            )
            .map_err(|e| PgError::db("cannot read the stream's last row", &e))?
            .map(|row| {
                (
                    row.get::<_, i64>(0),
                    chain::hash_hex(row.get::<_, &str>(1).as_bytes()),
                )
            });
        let head = client
            .query_opt(
                "SELECT seq, hash FROM warden_audit_heads WHERE stream = $1",
                &[stream],
            )
            .map_err(|e| PgError::db("cannot read the stream's head", &e))?
            .map(|row| (row.get::<_, i64>(0), row.get::<_, String>(1)));
        // Go on from the furthest of: the last row, the head, what this writer wrote. The last
        // row is the furthest after an honest stop, or a batch that committed though its answer
        // was lost; when the head or this writer are further, the newest rows are gone, and
        // going on from there leaves the gap for verify to report rather than hiding it.
        let written = self
            .next_seq
            .checked_sub(1)
            .map(|seq| (seq, self.prev.clone()));
        let row = last.and_then(|(seq, hash)| Some((u64::try_from(seq).ok()?, hash)));
        let head = head.and_then(|(seq, hash)| Some((u64::try_from(seq).ok()?, hash)));
        let row_seq = row.as_ref().map(|(seq, _)| *seq);
        let furthest = [row, head, written]
            .into_iter()
            .flatten()
            .max_by_key(|(seq, _)| *seq);
        if let Some((seq, hash)) = furthest {
            if row_seq.is_none_or(|row| row < seq) {
                tracing::error!(
                    stream = %stream,
                    last_row = ?row_seq,
                    head_or_written = seq,
                    "the audit stream's newest rows are gone from the table: the chain goes on \
                     from seq {seq}, and audit verify will report the missing rows"
                );
            }
            self.next_seq = seq + 1;
            self.prev = hash;
        }
        self.client = Some(client);
        Ok(())
    }

    fn chain_object(&self, record: &ChainRecord) -> String {
        let now = self.config.clock.now();
        serde_json::json!({
            "v": SCHEMA_VERSION,
            "kind": "chain",
            "id": new_id(now),
            "time": format_time(now),
            "chain": record,
        })
        .to_string()
    }

    /// Append `objects` (JSON objects' text) as the next lines, and remove the rows up to
    /// `delete_through`, in one transaction. The chain moves on only once it has committed; on
    /// failure the connection is dropped, and the next call reconnects and goes on from the
    /// table's last row.
    fn commit(
        &mut self,
        objects: Vec<String>,
        delete_through: Option<i64>,
    ) -> Result<(), SinkError> {
        if self.client.is_none() {
            self.connect()?;
        }
        let mut seq = self.next_seq;
        let mut prev = self.prev.clone();
        let mut rows = Vec::with_capacity(objects.len());
        for object in objects {
            let line = chain::encode_line(
                seq,
                &prev,
                &object,
                self.config.seal.as_ref(),
                self.config.signer.as_ref(),
            );
            let columns = Columns::of_line(&line)
                .ok_or_else(|| SinkError::new("an audit event without time or kind"))?;
            prev = chain::hash_hex(line.as_bytes());
            let number =
                i64::try_from(seq).map_err(|_| SinkError::new("the stream's seq overflowed"))?;
            rows.push((number, columns, line));
            seq += 1;
        }
        let head = self.head(seq.saturating_sub(1), &prev);
        let stream = self.config.stream.clone();
        let Some(client) = self.client.as_mut() else {
            return Err(SinkError::new("not connected"));
        };
        match insert(client, &stream, &rows, &head, delete_through) {
            Ok(()) => {
                self.next_seq = seq;
                self.prev = prev;
                Ok(())
            }
            Err(error) => {
                self.client = None;
                Err(error.into())
            }
        }
    }

    /// Make a checkpoint of the stream's last row (with a signing key only): append it to the
    /// anchors file and keep it for the other sinks. A failure to append is logged, not fatal,
    /// as for the file sink.
    fn checkpoint(&mut self, reason: &str) {
        let Some(key) = &self.config.signer else {
            return;
        };
        let now = self.config.clock.now();
        let seq = self.next_seq.saturating_sub(1);
        let checkpoint = Checkpoint::new(
            key,
            &self.config.stream,
            &format!("{TABLE_FILE_PREFIX}{}", crate::TABLE),
            seq,
            &self.prev,
            &format_time(now),
            reason,
        );
        self.checkpoints.publish(now, seq, checkpoint);
    }

    /// A checkpoint if the interval has passed since the last one and rows were written since.
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

    /// The head naming the row `seq` of hash `hash`, sealed and signed like the lines.
    fn head(&self, seq: u64, hash: &str) -> Head {
        let mut head = Head {
            stream: self.config.stream.clone(),
            file: crate::TABLE.to_owned(),
            seq,
            hash: hash.to_owned(),
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
        head
    }

    /// Remove the stream's rows older than the retention (never its newest row), after
    /// recording, in the same transaction, the last one removed and its hash.
    fn prune(&mut self) -> Result<(), SinkError> {
        let Some(days) = self.config.retention_days else {
            return Ok(());
        };
        let now = self.config.clock.now();
        let cutoff = now
            .checked_sub(Duration::from_secs(u64::from(days) * 86_400))
            .unwrap_or(SystemTime::UNIX_EPOCH);
        if self.client.is_none() {
            self.connect()?;
        }
        let Some(client) = self.client.as_mut() else {
            return Err(SinkError::new("not connected"));
        };
        let newest = i64::try_from(self.next_seq.saturating_sub(1)).unwrap_or(i64::MAX);
        let found = client
            .query_opt(
                "SELECT e.seq, e.line, (SELECT min(seq) FROM warden_audit_events WHERE stream = $1)
                   FROM warden_audit_events e
                  WHERE e.stream = $1
                    AND e.seq = (SELECT max(seq) FROM warden_audit_events
                                  WHERE stream = $1 AND time < $2::text::timestamptz
                                    AND seq < $3)",
                &[&self.config.stream, &format_time(cutoff), &newest],
            )
            .map_err(|e| PgError::db("cannot find the rows retention removes", &e));
        let found = match found {
            Ok(found) => found,
            Err(error) => {
                self.client = None;
                return Err(error.into());
            }
        };
        let Some(row) = found else {
            self.last_retention = Some(now);
            return Ok(());
        };
        let last: i64 = row.get(0);
        let line: String = row.get(1);
        let first: i64 = row.get(2);
        let record = self.chain_object(&ChainRecord::Retention {
            removed: vec![RemovedFile {
                file: format!("{} rows {first}-{last}", self.config.stream),
                last_seq: u64::try_from(last).unwrap_or(0),
                last_hash: chain::hash_hex(line.as_bytes()),
            }],
            retention_days: days,
        });
        self.commit(vec![record], Some(last))?;
        self.last_retention = Some(now);
        tracing::info!(
            stream = %self.config.stream,
            "audit retention: removed rows {first}-{last} (older than {days} days)"
        );
        Ok(())
    }
}

/// One multi-row INSERT, the head's update (and the retention's DELETE), committed.
fn insert(
    client: &mut Client,
    stream: &String,
    rows: &[(i64, Columns, String)],
    head: &Head,
    delete_through: Option<i64>,
) -> Result<(), PgError> {
    let mut sql = String::from(
        "INSERT INTO warden_audit_events (stream, seq, time, kind, key_id, key_name, profile, \
         tool, method, model, outcome, decision, record_ids, line) VALUES ",
    );
    let ids: Vec<Option<Vec<i64>>> = rows
        .iter()
        .map(|(_, c, _)| (!c.record_ids.is_empty()).then(|| c.record_ids.clone()))
        .collect();
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(1 + rows.len() * 13);
    params.push(stream);
    for (index, (seq, columns, line)) in rows.iter().enumerate() {
        let base = params.len();
        if index > 0 {
            sql.push(',');
        }
        sql.push_str(&format!(
            "($1, ${}, ${}::text::timestamptz, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}::bigint[], ${})",
            base + 1,
            base + 2,
            base + 3,
            base + 4,
            base + 5,
            base + 6,
            base + 7,
            base + 8,
            base + 9,
            base + 10,
            base + 11,
            base + 12,
            base + 13,
        ));
        params.push(seq);
        params.push(&columns.time);
        params.push(&columns.kind);
        params.push(&columns.key_id);
        params.push(&columns.key_name);
        params.push(&columns.profile);
        params.push(&columns.tool);
        params.push(&columns.method);
        params.push(&columns.model);
        params.push(&columns.outcome);
        params.push(&columns.decision);
        params.push(&ids[index]);
        params.push(line);
    }
    let mut tx = client
        .transaction()
        .map_err(|e| PgError::db("cannot begin the audit transaction", &e))?;
    tx.execute(sql.as_str(), &params)
        .map_err(|e| PgError::db("cannot insert the audit events", &e))?;
    let head_seq = i64::try_from(head.seq).unwrap_or(i64::MAX);
    tx.execute(
        "INSERT INTO warden_audit_heads (stream, seq, hash, time, mac, sig)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (stream) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash,
             time = EXCLUDED.time, mac = EXCLUDED.mac, sig = EXCLUDED.sig",
        &[
            stream, &head_seq, &head.hash, &head.time, &head.mac, &head.sig,
        ],
    )
    .map_err(|e| PgError::db("cannot update the stream's head", &e))?;
    if let Some(last) = delete_through {
        tx.execute(
            "DELETE FROM warden_audit_events WHERE stream = $1 AND seq <= $2",
            &[stream, &last],
        )
        .map_err(|e| PgError::db("cannot remove the expired audit rows", &e))?;
    }
    tx.commit()
        .map_err(|e| PgError::db("cannot commit the audit events", &e))
}

impl Sink for PgSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn write(&mut self, events: &[Arc<AuditEvent>]) -> Result<(), SinkError> {
        let objects = events
            .iter()
            .map(|event| serde_json::to_string(event.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SinkError::new(e.to_string()))?;
        self.commit(objects, None)?;
        self.checkpoint_if_due();
        Ok(())
    }

    fn batching(&self) -> Batching {
        Batching {
            max_events: MAX_BATCH,
            max_wait: Duration::ZERO,
        }
    }

    fn close(&mut self) -> Result<(), SinkError> {
        let close = self.chain_object(&ChainRecord::Close {
            reason: "shutdown".to_owned(),
        });
        self.commit(vec![close], None)?;
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
        match (&self.config.signer, self.config.retention_days) {
            (Some(_), _) => Some(self.config.checkpoint_interval.min(Duration::from_secs(1))),
            (None, Some(_)) => Some(Duration::from_secs(60)),
            (None, None) => None,
        }
    }

    fn tick(&mut self) -> Result<(), SinkError> {
        let now = self.config.clock.now();
        let due = self.last_retention.is_none_or(|at| {
            now.duration_since(at)
                .is_ok_and(|since| since >= RETENTION_EVERY)
        });
        if due && self.config.retention_days.is_some() {
            self.prune()?;
        }
        self.checkpoint_if_due();
        Ok(())
    }
}
