//! Reading the table: verify every stream's chain, search, report.
//!
//! Verify reads each stream's rows in `seq` order and checks them as `audit verify` checks a
//! folder's lines: each line parses, carries the next `seq` and the hash of the line before it
//! (and, with the keys, a valid seal and signature); the row's `seq` column is its line's; its
//! search columns still match its line. The stream's first row starts the chain (`seq` 0 after
//! the genesis hash) or, once retention removed older rows, links to the last removed row as a
//! retention record of the stream gives it; the stream ends at the row its head
//! (`warden_audit_heads`) names, with the hash the head records (and, with the keys, a head that
//! is sealed and signed). The first problem of each stream is named with why.
//!
//! With an anchors file, every stream must reach every checkpoint of it the table's sink made.
//!
//! Search and report push what they can into SQL (key, model, tool, method, outcome, time), as
//! a superset of what matches, then apply the very filters and tallies of the file commands to
//! the lines: the same events give the same results from a folder or the table.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use postgres::Client;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use warden_audit::chain::{self, ChainRecord, GENESIS, LineHead};
use warden_audit::checkpoint::{Anchor, Checkpoint, TABLE_FILE_PREFIX};
use warden_audit::event::format_time;
use warden_audit::jsonl::Head;
use warden_audit::report::{self, AuditReport, LineTally, ReportOptions};
use warden_audit::search::{EventView, Filter, LineSearch, OutcomeFilter, SearchStats};
use warden_audit::verify::{AnchorsReport, Problem, Report, StreamReport, Trailers, VerifyOptions};

use crate::{Columns, PgError, PgTarget, TABLE, off_runtime, schema};

/// A read-only connection to the audit table (`audit verify`, `search`, `report`). Must not be
/// used from inside an asynchronous runtime, except [`Reader::open`] and drop.
pub struct Reader {
    client: Option<Client>,
    source: String,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            off_runtime(move || drop(client));
        }
    }
}

impl Reader {
    /// Connect to `target` and check its schema: present, and not newer than this binary.
    pub fn open(target: &PgTarget) -> Result<Self, PgError> {
        let target = target.clone();
        off_runtime(move || {
            let mut client = target.connect()?;
            let version = schema::version(&mut client)?;
            if version == 0 {
                return Err(PgError::new(format!(
                    "{} holds no audit table: no odoo-warden has written to it",
                    target.display()
                )));
            }
            schema::check_known(version)?;
            Ok(Self {
                client: Some(client),
                source: target.display(),
            })
        })
    }

    /// The database, without its password.
    pub fn source(&self) -> &str {
        &self.source
    }

    fn client(&mut self) -> Result<&mut Client, PgError> {
        self.client
            .as_mut()
            .ok_or_else(|| PgError::new("not connected"))
    }

    /// The streams of the table, by name.
    pub fn streams(&mut self) -> Result<Vec<String>, PgError> {
        // A loose index scan: one index probe per stream, however many rows each has.
        let rows = self
            .client()?
            .query(
                "WITH RECURSIVE s(stream) AS (
                     (SELECT stream FROM warden_audit_events ORDER BY stream LIMIT 1)
                     UNION ALL
                     SELECT (SELECT e.stream FROM warden_audit_events e
                              WHERE e.stream > s.stream ORDER BY e.stream LIMIT 1)
                       FROM s WHERE s.stream IS NOT NULL)
                 SELECT stream FROM s WHERE stream IS NOT NULL
                 UNION SELECT stream FROM warden_audit_heads
                 ORDER BY stream",
                &[],
            )
            .map_err(|e| PgError::db("cannot list the streams", &e))?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    /// Verify `stream` (or every stream, and every stream a checkpoint names). With an anchors
    /// file, every stream must reach its checkpoints (those whose file names the table; a
    /// folder's are left to the folder's verify).
    pub fn verify(
        &mut self,
        stream: Option<&str>,
        options: &VerifyOptions,
    ) -> Result<Report, PgError> {
        let (anchors, checkpoints) = check_anchors(options);
        let mut streams = match stream {
            Some(name) => vec![name.to_owned()],
            None => self.streams()?,
        };
        if stream.is_none() {
            // Streams named by a checkpoint but gone from the table.
            for name in checkpoints.keys() {
                if !streams.iter().any(|s| s == name) {
                    streams.push(name.clone());
                }
            }
            streams.sort();
        }
        let mut reports = Vec::with_capacity(streams.len());
        for name in &streams {
            let mine = checkpoints.get(name).map_or(&[][..], Vec::as_slice);
            let mut report = self.verify_stream(name, options, mine)?;
            if options.anchors.is_some() && mine.is_empty() {
                report
                    .warnings
                    .push("the anchors file holds no checkpoint of this stream".to_owned());
            }
            reports.push(report);
        }
        Ok(Report {
            dir: PathBuf::from(&self.source),
            streams: reports,
            anchors,
        })
    }

    /// The rows retention removed, as the stream's retention records give them: the last
    /// removed `seq`, with its file-like name and hash.
    fn retention(&mut self, stream: &str) -> Result<HashMap<u64, (String, String)>, PgError> {
        let rows = self
            .client()?
            .query(
                "SELECT line FROM warden_audit_events
                  WHERE stream = $1 AND kind = 'chain' AND strpos(line, '\"op\":\"retention\"') > 0",
                &[&stream],
            )
            .map_err(|e| PgError::db("cannot read the retention records", &e))?;
        let mut removed = HashMap::new();
        for row in rows {
            let line: String = row.get(0);
            if let Ok(LineHead {
                chain: Some(ChainRecord::Retention { removed: list, .. }),
                ..
            }) = serde_json::from_str::<LineHead>(&line)
            {
                for entry in list {
                    removed.insert(entry.last_seq, (entry.file, entry.last_hash));
                }
            }
        }
        Ok(removed)
    }

    /// The stream's head row, if any.
    fn head(&mut self, stream: &str) -> Result<Option<Head>, PgError> {
        let row = self
            .client()?
            .query_opt(
                "SELECT seq, hash, time, mac, sig FROM warden_audit_heads WHERE stream = $1",
                &[&stream],
            )
            .map_err(|e| PgError::db("cannot read the stream's head", &e))?;
        Ok(row.map(|row| Head {
            stream: stream.to_owned(),
            file: TABLE.to_owned(),
            seq: u64::try_from(row.get::<_, i64>(0)).unwrap_or(u64::MAX),
            hash: row.get(1),
            time: row.get(2),
            mac: row.get(3),
            sig: row.get(4),
        }))
    }

    fn verify_stream(
        &mut self,
        stream: &str,
        options: &VerifyOptions,
        checkpoints: &[(u64, Checkpoint)],
    ) -> Result<StreamReport, PgError> {
        let removed = self.retention(stream)?;
        let head = self.head(stream)?;
        let mut report = StreamReport {
            stream: stream.to_owned(),
            files: 0,
            lines: 0,
            events: 0,
            head: None,
            checkpoints: 0,
            problem: None,
            warnings: Vec::new(),
        };
        let mut anchored: HashMap<u64, Vec<&(u64, Checkpoint)>> = HashMap::new();
        for entry in checkpoints {
            anchored.entry(entry.1.seq).or_default().push(entry);
        }
        let mut check = Check {
            options,
            removed: &removed,
            expected_seq: None,
            first_seq: None,
            prev: None,
            trailers: Trailers::new("row"),
            last_close: false,
            number: 0,
            anchored,
            reached: 0,
        };
        let client = self.client()?;
        let params: [&(dyn ToSql + Sync); 1] = [&stream];
        let mut rows = client
            .query_raw(
                "SELECT seq, (extract(epoch FROM time) * 1000000)::bigint, kind, key_id,
                        key_name, profile, tool, method, model, outcome, decision,
                        record_ids, line
                   FROM warden_audit_events WHERE stream = $1 ORDER BY seq",
                params,
            )
            .map_err(|e| PgError::db("cannot read the stream", &e))?;
        while let Some(row) = rows
            .next()
            .map_err(|e| PgError::db("cannot read the stream", &e))?
        {
            let stored = Stored {
                seq: row.get(0),
                time_micros: row.get(1),
                columns: Columns {
                    time: String::new(),
                    kind: row.get(2),
                    key_id: row.get(3),
                    key_name: row.get(4),
                    profile: row.get(5),
                    tool: row.get(6),
                    method: row.get(7),
                    model: row.get(8),
                    outcome: row.get(9),
                    decision: row.get(10),
                    record_ids: row.get::<_, Option<Vec<i64>>>(11).unwrap_or_default(),
                },
                line: row.get(12),
            };
            if let Err(found) = check.row(&stored, &mut report) {
                report.problem = Some(found);
                return Ok(report);
            }
        }
        report.head.clone_from(&check.prev);
        if let Some(found) = check.marks(&mut report) {
            report.problem = Some(found);
            return Ok(report);
        }
        if let Some(found) = check.end(stream, head.as_ref()) {
            report.problem = Some(found);
            return Ok(report);
        }
        if let Some(found) = check.checkpoints(checkpoints) {
            report.problem = Some(found);
            return Ok(report);
        }
        report.checkpoints = check.reached;
        if report.lines > 0 && !check.last_close {
            report.warnings.push(
                "the newest row is not a close record: its writer is running, or was stopped \
                 abruptly"
                    .to_owned(),
            );
        }
        Ok(report)
    }

    /// Stream every event of the table that matches `filter` to `visit`, each stream's rows in
    /// `seq` order, until it breaks.
    pub fn search(
        &mut self,
        filter: &Filter,
        mut visit: impl FnMut(&[u8], &EventView<'_>) -> ControlFlow<()>,
    ) -> Result<SearchStats, PgError> {
        let mut search = LineSearch::new(filter);
        let (conditions, values) = pushdown(filter);
        self.lines(
            &conditions,
            &values,
            "cannot search the audit table",
            |line| {
                search.stats.bytes += line.len() as u64 + 1;
                search.line(line.as_bytes(), &mut visit)
            },
        )?;
        Ok(search.stats)
    }

    /// Each `line` of the rows where every one of `conditions` holds (their parameters
    /// `values`), each stream's rows in `seq` order, to `visit` until it breaks. `what` says
    /// what failed, for the error.
    fn lines(
        &mut self,
        conditions: &[String],
        values: &[String],
        what: &str,
        mut visit: impl FnMut(&str) -> ControlFlow<()>,
    ) -> Result<(), PgError> {
        let sql = format!(
            "SELECT line FROM warden_audit_events WHERE {} ORDER BY stream, seq",
            conditions.join(" AND ")
        );
        let params: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let mut rows = self
            .client()?
            .query_raw(sql.as_str(), params)
            .map_err(|e| PgError::db(what, &e))?;
        while let Some(row) = rows.next().map_err(|e| PgError::db(what, &e))? {
            if visit(row.get(0)).is_break() {
                break;
            }
        }
        Ok(())
    }

    /// The report of `options`' period: the figures of its rows, and the verification of every
    /// stream of the table.
    pub fn report(&mut self, options: &ReportOptions) -> Result<AuditReport, PgError> {
        let chains = self.verify(None, &options.verify)?;
        let mut tally = LineTally::new(options);
        let mut conditions = vec![
            "time >= $1::text::timestamptz".to_owned(),
            "time < $2::text::timestamptz".to_owned(),
        ];
        let mut values = vec![format_time(options.since), format_time(options.until)];
        if let Some(key) = &options.key {
            conditions.push("(key_id = $3 OR key_name = $3)".to_owned());
            values.push(key.clone());
        }
        self.lines(
            &conditions,
            &values,
            "cannot read the audit table",
            |line| {
                tally.read_bytes(line.len() as u64 + 1);
                tally.line(line.as_bytes());
                ControlFlow::Continue(())
            },
        )?;
        let mut built = tally.finish(Path::new(&self.source));
        built.verification = report::verification(chains, &options.verify);
        Ok(built)
    }
}

/// Checkpoints by stream, each with its line in the anchors file.
type ByStream = HashMap<String, Vec<(u64, Checkpoint)>>;

/// The anchors file's own checks for the table's checkpoints (file `postgres:…`), and those
/// checkpoints by stream, each with its line. The checkpoints of folders in the same file are
/// left to the folder's verify.
fn check_anchors(options: &VerifyOptions) -> (Option<AnchorsReport>, ByStream) {
    let mut by_stream = ByStream::new();
    let Some(anchors) = &options.anchors else {
        return (None, by_stream);
    };
    let ours: Vec<&Anchor> = anchors
        .anchors
        .iter()
        .filter(|a| a.checkpoint.file.starts_with(TABLE_FILE_PREFIX))
        .collect();
    let mut report = AnchorsReport {
        file: anchors.path.clone(),
        checkpoints: ours.len() as u64,
        signatures_checked: options.public_key.is_some(),
        problems: anchors.problems.clone(),
        warnings: anchors.warnings.clone(),
    };
    if ours.is_empty() {
        report.problems.push(
            "the anchors file holds no checkpoint of a database table: nothing is anchored"
                .to_owned(),
        );
    }
    if options.public_key.is_none() && !ours.is_empty() {
        report.warnings.push(
            "the checkpoints' signatures were not checked: give the public key (--public-key) \
             to check them"
                .to_owned(),
        );
    }
    for anchor in ours {
        let checkpoint = &anchor.checkpoint;
        if let Some(key) = &options.public_key
            && !checkpoint.verify(key)
        {
            report.problems.push(format!(
                "line {}: the signature of the {} does not verify: it was changed or forged, or \
                 signed by another key",
                anchor.line,
                checkpoint.describe()
            ));
            continue;
        }
        by_stream
            .entry(checkpoint.stream.clone())
            .or_default()
            .push((anchor.line, checkpoint.clone()));
    }
    (Some(report), by_stream)
}

/// What SQL can narrow a search to: conditions (a superset of the matches) and their values.
fn pushdown(filter: &Filter) -> (Vec<String>, Vec<String>) {
    let mut conditions: Vec<String> = Vec::new();
    let mut values: Vec<String> = Vec::new();
    let param = |values: &mut Vec<String>, value: String| {
        values.push(value);
        format!("${}", values.len())
    };
    match &filter.kind {
        Some(kind) => {
            let p = param(&mut values, kind.clone());
            conditions.push(format!("kind = {p}"));
        }
        None => conditions.push("kind <> 'chain'".to_owned()),
    }
    if let Some(key) = &filter.key {
        let p = param(&mut values, key.clone());
        conditions.push(format!("(key_id = {p} OR key_name = {p})"));
    }
    let model = filter
        .model
        .as_ref()
        .or(filter.record.as_ref().map(|r| &r.model));
    if let Some(model) = model {
        let p = param(&mut values, model.clone());
        conditions.push(format!("model = {p}"));
    }
    if let (Some(model), Some(record)) = (&filter.model, &filter.record)
        && *model != record.model
    {
        conditions.push("false".to_owned());
    }
    for (column, value) in [("tool", &filter.tool), ("method", &filter.method)] {
        if let Some(value) = value {
            let p = param(&mut values, value.clone());
            conditions.push(format!("{column} = {p}"));
        }
    }
    if let Some(since) = filter.since {
        let p = param(&mut values, format_time(since));
        conditions.push(format!("time >= {p}::text::timestamptz"));
    }
    if let Some(until) = filter.until {
        let p = param(&mut values, format_time(until));
        conditions.push(format!("time < {p}::text::timestamptz"));
    }
    match filter.outcome {
        Some(OutcomeFilter::Denied) => conditions.push("decision = 'deny'".to_owned()),
        Some(OutcomeFilter::Allowed) => conditions.push("decision = 'allow'".to_owned()),
        Some(OutcomeFilter::Error) => {
            conditions.push("(outcome = 'error' OR decision = 'deny')".to_owned());
        }
        Some(OutcomeFilter::Ok) => conditions.push("outcome IS NOT NULL".to_owned()),
        None => {}
    }
    (conditions, values)
}

/// A row as stored.
struct Stored {
    seq: i64,
    time_micros: i64,
    columns: Columns,
    line: String,
}

struct Check<'a> {
    options: &'a VerifyOptions,
    removed: &'a HashMap<u64, (String, String)>,
    expected_seq: Option<u64>,
    /// The `seq` of the first row read.
    first_seq: Option<u64>,
    /// The checkpoints of the stream by `seq`, each with its line in the anchors file.
    anchored: HashMap<u64, Vec<&'a (u64, Checkpoint)>>,
    /// Checkpoints the stream reaches.
    reached: u64,
    prev: Option<String>,
    trailers: Trailers,
    last_close: bool,
    /// Rows read.
    number: u64,
}

impl Check<'_> {
    fn problem(&self, seq: Option<u64>, head: Option<&LineHead>, reason: String) -> Problem {
        Problem {
            file: TABLE.to_owned(),
            line: Some(self.number),
            seq,
            event_id: head.and_then(|h| h.id.clone()),
            reason,
        }
    }

    fn row(&mut self, stored: &Stored, report: &mut StreamReport) -> Result<(), Problem> {
        self.number += 1;
        let column_seq = u64::try_from(stored.seq).ok();
        let head: LineHead = serde_json::from_str(&stored.line).map_err(|_| {
            self.problem(
                column_seq,
                None,
                format!(
                    "row seq {}: not a valid audit line (changed, or not written by odoo-warden)",
                    stored.seq
                ),
            )
        })?;
        let at = Some(head.seq);
        if column_seq != Some(head.seq) {
            return Err(self.problem(
                column_seq,
                Some(&head),
                format!(
                    "row seq {} holds the line of seq {}: rows were renumbered or reordered",
                    stored.seq, head.seq
                ),
            ));
        }
        let options = self.options;
        self.trailers
            .check(&stored.line, options, &mut report.warnings)
            .map_err(|reason| {
                self.problem(at, Some(&head), format!("seq {}: {reason}", head.seq))
            })?;
        if self.expected_seq.is_none() {
            self.first(&head, report)?;
        }
        if let Some(expected) = self.expected_seq
            && head.seq != expected
        {
            let reason = if head.seq > expected {
                format!(
                    "expected seq {expected}, found {}: {} row(s) before it are missing",
                    head.seq,
                    head.seq - expected
                )
            } else {
                format!(
                    "expected seq {expected}, found {}: rows were reordered or repeated",
                    head.seq
                )
            };
            return Err(self.problem(at, Some(&head), reason));
        }
        if let Some(prev) = &self.prev
            && head.prev != *prev
        {
            return Err(self.problem(
                at,
                Some(&head),
                format!(
                    "seq {}: prev does not match the hash of seq {}: that row was changed",
                    head.seq,
                    head.seq.saturating_sub(1)
                ),
            ));
        }
        if let Some(column) = self.columns_differ(stored) {
            return Err(self.problem(
                at,
                Some(&head),
                format!(
                    "seq {}: the row's {column} column does not match its line: the row was changed",
                    head.seq
                ),
            ));
        }
        let hash = chain::hash_hex(stored.line.as_bytes());
        if let Some(list) = self.anchored.get(&head.seq) {
            for (line, checkpoint) in list.iter().map(|entry| (entry.0, &entry.1)) {
                if checkpoint.hash != hash {
                    return Err(self.problem(
                        at,
                        Some(&head),
                        format!(
                            "seq {}: the row does not have the hash the {} (anchors line {line}) \
                             records: it, or the chain before it, was rewritten",
                            head.seq,
                            checkpoint.describe()
                        ),
                    ));
                }
                self.reached += 1;
            }
        }
        self.first_seq.get_or_insert(head.seq);
        self.expected_seq = Some(head.seq + 1);
        self.prev = Some(hash);
        self.last_close = matches!(head.chain, Some(ChainRecord::Close { .. }));
        report.lines += 1;
        if head.kind.as_deref() != Some("chain") {
            report.events += 1;
        }
        Ok(())
    }

    /// The stream's first row: the chain's start, or the row after those retention removed.
    fn first(&mut self, head: &LineHead, report: &mut StreamReport) -> Result<(), Problem> {
        if head.seq == 0 {
            if head.prev != GENESIS {
                return Err(self.problem(
                    Some(0),
                    Some(head),
                    "seq 0 does not start the chain (its prev is not the genesis hash)".to_owned(),
                ));
            }
        } else {
            let Some((name, hash)) = self.removed.get(&(head.seq - 1)) else {
                return Err(self.problem(
                    Some(head.seq),
                    Some(head),
                    format!(
                        "the stream begins at seq {}: rows 0-{} are missing and no retention \
                         record accounts for them",
                        head.seq,
                        head.seq - 1
                    ),
                ));
            };
            report.warnings.push(format!(
                "{} row(s) before seq {} were removed by retention ({name})",
                head.seq, head.seq
            ));
            self.prev = Some(hash.clone());
        }
        self.expected_seq = Some(head.seq);
        Ok(())
    }

    /// The first search column that differs from what the line holds.
    fn columns_differ(&self, stored: &Stored) -> Option<&'static str> {
        let Some(line) = Columns::of_line(&stored.line) else {
            return Some("time or kind");
        };
        let micros = humantime::parse_rfc3339(&line.time)
            .ok()
            .and_then(|t| t.duration_since(std::time::SystemTime::UNIX_EPOCH).ok())
            .and_then(|d| i64::try_from(d.as_micros()).ok());
        let row = &stored.columns;
        if micros != Some(stored.time_micros) {
            return Some("time");
        }
        [
            ("kind", Some(&row.kind) == Some(&line.kind)),
            ("key_id", row.key_id == line.key_id),
            ("key_name", row.key_name == line.key_name),
            ("profile", row.profile == line.profile),
            ("tool", row.tool == line.tool),
            ("method", row.method == line.method),
            ("model", row.model == line.model),
            ("outcome", row.outcome == line.outcome),
            ("decision", row.decision == line.decision),
            ("record_ids", row.record_ids == line.record_ids),
        ]
        .into_iter()
        .find(|(_, same)| !same)
        .map(|(name, _)| name)
    }

    /// The end of the stream against its head: the head is updated in the transaction of every
    /// batch, so the stream ends exactly at the row it names, with the hash it records.
    fn end(&self, stream: &str, head: Option<&Head>) -> Option<Problem> {
        let last = self.expected_seq.map(|s| s.saturating_sub(1));
        let at = |seq: Option<u64>, reason: String| Problem {
            file: TABLE.to_owned(),
            line: None,
            seq,
            event_id: None,
            reason,
        };
        let Some(head) = head else {
            return last.map(|_| {
                at(
                    last,
                    format!(
                        "the stream {stream} has no head row (warden_audit_heads): the end of the \
                         stream cannot be checked, and the newest rows may have been removed"
                    ),
                )
            });
        };
        if let Some(key) = &self.options.seal {
            let valid = head
                .mac
                .as_deref()
                .is_some_and(|mac| key.verify_hex(head.seal_body().as_bytes(), mac));
            if !valid {
                return Some(at(
                    Some(head.seq),
                    "the head's seal is missing or wrong: the head was replaced".to_owned(),
                ));
            }
        }
        if let Some(key) = &self.options.public_key {
            let valid = head
                .sig
                .as_deref()
                .is_some_and(|sig| key.verify_hex(head.signed_text().as_bytes(), sig));
            if !valid {
                return Some(at(
                    Some(head.seq),
                    "the head's signature is missing or does not verify: the head was replaced"
                        .to_owned(),
                ));
            }
        }
        let Some(last) = last else {
            return Some(at(
                Some(head.seq),
                format!(
                    "the head records seq {}, but the stream has no row left: its rows were removed",
                    head.seq
                ),
            ));
        };
        if head.seq > last {
            return Some(at(
                Some(last),
                format!(
                    "truncated: the stream ends at seq {last} but its head records seq {}: the \
                     newest rows were removed",
                    head.seq
                ),
            ));
        }
        if head.seq < last {
            return Some(at(
                Some(head.seq),
                format!(
                    "the head records seq {}, but the stream goes on to seq {last}: the head was \
                     replaced by an older one, or rows were added by another writer",
                    head.seq
                ),
            ));
        }
        if self.prev.as_deref() != Some(head.hash.as_str()) {
            return Some(at(
                Some(last),
                format!(
                    "seq {last}: the last row does not match the hash its head records: it was \
                     changed"
                ),
            ));
        }
        None
    }

    /// Every checkpoint must be reached: one beyond the last row shows rows removed after it, or
    /// the table rolled back to an older copy; one before the first row must lie in what
    /// retention removed.
    fn checkpoints(&mut self, checkpoints: &[(u64, Checkpoint)]) -> Option<Problem> {
        let last = self.expected_seq.map(|s| s.saturating_sub(1));
        let beyond = checkpoints
            .iter()
            .filter(|(_, c)| last.is_none_or(|last| c.seq > last))
            .max_by_key(|(_, c)| c.seq);
        if let Some((line, checkpoint)) = beyond {
            return Some(Problem {
                file: TABLE.to_owned(),
                line: None,
                seq: last,
                event_id: None,
                reason: format!(
                    "the stream ends at seq {}, but the {} (anchors line {line}) reached seq {}: \
                     rows after the end were removed, or the table was rolled back to an older \
                     copy",
                    last.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                    checkpoint.describe(),
                    checkpoint.seq
                ),
            });
        }
        let first = self.first_seq.unwrap_or(0);
        for (line, checkpoint) in checkpoints.iter().filter(|(_, c)| c.seq < first) {
            let removed = self.removed.keys().any(|last| *last >= checkpoint.seq);
            if !removed {
                return Some(Problem {
                    file: TABLE.to_owned(),
                    line: None,
                    seq: Some(checkpoint.seq),
                    event_id: None,
                    reason: format!(
                        "the {} (anchors line {line}) names a row before the stream's first, and \
                         no retention record accounts for it",
                        checkpoint.describe()
                    ),
                });
            }
            self.reached += 1;
        }
        None
    }

    /// With a key, a stream must hold a sealed (signed) row ([`Trailers::finish`]).
    fn marks(&self, report: &mut StreamReport) -> Option<Problem> {
        let lines = report.lines;
        let reason = self
            .trailers
            .finish(self.options, lines, &mut report.warnings)
            .err()?;
        Some(Problem {
            file: TABLE.to_owned(),
            line: None,
            seq: None,
            event_id: None,
            reason,
        })
    }
}
