//! The compliance report: what an audit folder says about a period, as figures a person can read
//! ([`html::render`]) and a script can use (the [`AuditReport`] serialises to JSON).
//!
//! [`build`] verifies the folder's chains ([`crate::verify::verify_dir`]) and, on a second thread,
//! streams over the files of the period once, as [`crate::search`] does: files outside the period are skipped
//! unopened, every other line is parsed into a borrowed view and folded into bounded tallies.
//! Memory does not grow with the folder: keys and profiles ([`MAX_ACTIVITIES`]), models, rules and
//! addresses per key or profile, listed events ([`ReportOptions::listed`]) and distinct record ids
//! ([`MAX_IDS_PER_SET`], [`MAX_IDS_TOTAL`]) are capped, and the report says where a cap was reached
//! ([`AuditReport::limits`]) or a figure is a lower bound ([`Distinct::exact`]).
//!
//! Everything in an event is attacker-influenced text (a model name, a rule, a key name can come
//! from a caller's arguments): the figures hold it as it was recorded, and [`html`] escapes it.

pub mod html;

use std::borrow::Cow;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::event::format_time;
use crate::search::{self, Filter};
use crate::verify::{self, VerifyOptions};

/// The version of the report's JSON form: adding a member keeps it, renaming, removing or
/// changing the meaning of one bumps it.
pub const REPORT_VERSION: u32 = 1;

/// Denied requests, alerts and gaps listed by default (the earliest of the period; the rest are
/// counted).
pub const DEFAULT_LISTED: usize = 100;

/// Most keys, and most profiles, given figures of their own; the others are counted together
/// under [`OTHERS`].
pub const MAX_ACTIVITIES: usize = 1000;

/// Most models with figures of their own per key or profile; the others are counted under
/// [`OTHERS`].
pub const MAX_MODELS: usize = 200;

/// Most denial rules, and most alert names, counted per key or profile; the others are counted
/// under [`OTHERS`].
pub const MAX_RULES: usize = 100;

/// Most client addresses counted per key or profile.
pub const MAX_ADDRESSES: usize = 256;

/// Most distinct record ids remembered per key (or profile), model and kind of access (read or
/// changed); past it the count is a lower bound.
pub const MAX_IDS_PER_SET: usize = 100_000;

/// Most distinct record ids remembered in all: some tens of MB at most.
pub const MAX_IDS_TOTAL: usize = 1_000_000;

/// Most days in the daily series (a hundred years).
pub const MAX_DAYS: usize = 36_600;

/// The name under which what exceeds a cap is counted.
pub const OTHERS: &str = "(others)";

/// The key of requests made without one (failed authentications, refusals before
/// authentication), and the profile of requests without one.
pub const NONE: &str = "(none)";

/// What to report on.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// The period's start (included).
    pub since: SystemTime,
    /// The period's end (excluded).
    pub until: SystemTime,
    /// Only this key (id or name).
    pub key: Option<String>,
    /// How many denied requests, alerts and gaps to list (the earliest); the rest are counted.
    pub listed: usize,
    /// How to verify the chains (the seal key).
    pub verify: VerifyOptions,
    /// When the report is made.
    pub now: SystemTime,
    /// What made the report, e.g. `odoo-warden 0.1.0`.
    pub generator: String,
}

impl ReportOptions {
    /// A report on `since`..`until`, listing [`DEFAULT_LISTED`] events of each kind.
    pub fn new(since: SystemTime, until: SystemTime) -> Self {
        Self {
            since,
            until,
            key: None,
            listed: DEFAULT_LISTED,
            verify: VerifyOptions::default(),
            now: SystemTime::now(),
            generator: concat!("warden-audit ", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// The report: the chains' state and the period's figures.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct AuditReport {
    /// [`REPORT_VERSION`].
    pub report_version: u32,
    /// When the report was made (RFC 3339, UTC).
    pub generated: String,
    /// What made it.
    pub generator: String,
    /// The audit folder.
    pub dir: PathBuf,
    /// The period.
    pub period: Period,
    /// The key the report is limited to, if any.
    pub key: Option<String>,
    /// The chains of the whole folder (not only the period).
    pub verification: Verification,
    /// The period's totals.
    pub totals: Totals,
    /// Per key, most requests first.
    pub keys: Vec<Activity>,
    /// Per profile, most requests first.
    pub profiles: Vec<Activity>,
    /// Per day of the period, every day included.
    pub daily: Vec<Day>,
    /// Denied requests, the earliest listed.
    pub denied: Listing,
    /// Alerts, the earliest listed.
    pub alerts: Listing,
    /// Gaps (events a sink could not record), the earliest listed.
    pub gaps: Listing,
    /// What was read.
    pub scan: Scan,
    /// Where a cap was reached: the figures concerned are incomplete, and say so.
    pub limits: Vec<String>,
}

/// The period reported on.
#[derive(Debug, Clone, Serialize)]
pub struct Period {
    /// Start, included (RFC 3339, UTC).
    pub since: String,
    /// End, excluded (RFC 3339, UTC).
    pub until: String,
}

/// The chains' verification.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// Every stream verifies, there is at least one, and the anchors file (when given) holds no
    /// problem.
    pub ok: bool,
    /// The seals were checked with a key.
    pub seal_checked: bool,
    /// The signatures (lines, heads, checkpoints) were checked with a public key.
    pub signatures_checked: bool,
    /// The verification's own report, as `audit verify --json` prints it: the folder, per stream
    /// its files, events, head hash, checkpoints reached, first problem and warnings, and the
    /// anchors file's findings when one was given.
    #[serde(flatten)]
    pub chains: verify::Report,
}

/// Figures of a key, a profile, a model or the whole period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// Requests (allowed or denied).
    pub requests: u64,
    /// Reads that were allowed and succeeded (operation `read`).
    pub reads: u64,
    /// Creates, updates and deletes that were allowed and succeeded.
    pub writes: u64,
    /// Public methods called (operation `call`), allowed and successful.
    pub method_calls: u64,
    /// Requests denied by a rule.
    pub denied: u64,
    /// Requests allowed that failed (an Odoo error, invalid arguments, a timeout...).
    pub errors: u64,
    /// Alerts raised.
    pub alerts: u64,
}

/// A distinct count, exact or a lower bound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Distinct {
    /// Distinct record ids seen.
    pub count: u64,
    /// `false` when some event listed only the first 100 of its records, or a cap was reached:
    /// the true count may be higher.
    pub exact: bool,
}

/// A model's figures for one key or profile.
#[derive(Debug, Clone, Serialize)]
pub struct ModelFigures {
    /// The model (or [`OTHERS`]).
    pub model: String,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
    /// Distinct records read.
    pub records_read: Distinct,
    /// Distinct records created, updated or deleted.
    pub records_changed: Distinct,
}

/// A name and how often it occurred.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    /// The rule, alert or address.
    pub name: String,
    /// How often.
    pub count: u64,
}

/// One key's or profile's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Activity {
    /// The key's id or the profile's name ([`NONE`] for requests without one, [`OTHERS`] past
    /// [`MAX_ACTIVITIES`]).
    pub id: String,
    /// The key's name (the latest seen), for keys.
    pub name: Option<String>,
    /// For a key: its profiles; for a profile: its keys, by name (at most 20 of either).
    pub related: Vec<String>,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
    /// Failed authentications (requests refused before a key was known count under [`NONE`]).
    pub failed_authentications: u64,
    /// The first event of the period.
    pub first: Option<String>,
    /// The last event of the period.
    pub last: Option<String>,
    /// Distinct client addresses (at most [`MAX_ADDRESSES`] are told apart).
    pub addresses: Distinct,
    /// Per model, most requests first.
    pub models: Vec<ModelFigures>,
    /// Denials by rule (`decision.rule`, else `reason: …`), most first.
    pub rules: Vec<Count>,
    /// Alerts by name (`denied_burst`, `new_ip`, `off_hours`…), most first.
    pub alert_names: Vec<Count>,
}

/// The period's totals.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Totals {
    /// Requests, alerts and gaps of the period.
    pub events: u64,
    /// Their figures.
    #[serde(flatten)]
    pub figures: Figures,
    /// Failed authentications.
    pub failed_authentications: u64,
    /// Gap events.
    pub gaps: u64,
    /// Events the gaps say were lost.
    pub events_lost: u64,
    /// Keys that made requests (a key without one not counted).
    pub keys: u64,
}

/// One day's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Day {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    /// Requests.
    pub requests: u64,
    /// Allowed and successful.
    pub ok: u64,
    /// Allowed, failed.
    pub errors: u64,
    /// Denied.
    pub denied: u64,
    /// Creates, updates and deletes allowed and successful.
    pub writes: u64,
    /// Alerts.
    pub alerts: u64,
}

/// Events of one kind: the earliest listed, all counted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Listing {
    /// How many there are.
    pub total: u64,
    /// The earliest of them, oldest first (at most [`ReportOptions::listed`]).
    pub listed: Vec<Listed>,
}

impl Listing {
    /// Those counted but not listed.
    pub fn more(&self) -> u64 {
        self.total.saturating_sub(self.listed.len() as u64)
    }
}

/// A listed event.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Listed {
    /// When (RFC 3339).
    pub time: String,
    /// The event's id.
    pub id: Option<String>,
    /// The key's id.
    pub key_id: Option<String>,
    /// The key's name.
    pub key_name: Option<String>,
    /// The profile.
    pub profile: Option<String>,
    /// The client's address.
    pub client_ip: Option<String>,
    /// The tool, else the MCP method (requests); the alert's name; the gap's sink.
    pub what: Option<String>,
    /// The model.
    pub model: Option<String>,
    /// The denying rule (requests).
    pub rule: Option<String>,
    /// Why: the decision's reason, the alert's message, the gap's reason.
    pub reason: Option<String>,
    /// The alert's count, or the events a gap lost.
    pub count: Option<u64>,
}

/// What was read.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Scan {
    /// Files read (those of days outside the period are skipped).
    pub files: u64,
    /// Lines read.
    pub lines: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Lines that are not audit events (skipped; `audit verify` names a changed one).
    pub unreadable: u64,
}

/// Verifies `dir` and reports on the period of `options`. `Err` only when the folder cannot be
/// listed or a file cannot be read.
///
/// The verification and the figures read the files independently; they run on two threads, so
/// on two cores the report takes about as long as the longer of the two.
pub fn build(dir: &Path, options: &ReportOptions) -> std::io::Result<AuditReport> {
    let (chains, report) = std::thread::scope(|scope| {
        let verifying = scope.spawn(|| verify::verify_dir(dir, &options.verify));
        let report = aggregate(dir, options);
        let chains = verifying
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (chains, report)
    });
    let mut report = report?;
    report.verification = verification(chains?, &options.verify);
    Ok(report)
}

/// The verification's summary of `chains`, verified with `options`.
pub fn verification(chains: verify::Report, options: &VerifyOptions) -> Verification {
    Verification {
        ok: !chains.streams.is_empty() && chains.ok(),
        seal_checked: options.seal.is_some(),
        signatures_checked: options.public_key.is_some(),
        chains,
    }
}

/// The period's figures, without verifying the chains ([`AuditReport::verification`] is left
/// empty and not ok). `Err` only when the folder cannot be listed or a file cannot be read.
pub fn aggregate(dir: &Path, options: &ReportOptions) -> std::io::Result<AuditReport> {
    let filter = Filter {
        since: Some(options.since),
        until: Some(options.until),
        key: options.key.clone(),
        ..Filter::default()
    };
    let (files, _) = search::files_to_search(dir, &filter)?;
    let mut lines = LineTally::new(options);
    let mut line = Vec::with_capacity(4096);
    for file in &files {
        let handle = match File::open(&file.path) {
            Ok(handle) => handle,
            // Removed by retention between the listing and now.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error),
        };
        lines.tally.scan.files += 1;
        let mut reader = BufReader::with_capacity(1024 * 1024, handle);
        loop {
            line.clear();
            let read = reader.read_until(b'\n', &mut line)?;
            if read == 0 {
                break;
            }
            lines.tally.scan.bytes += read as u64;
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            lines.line(&line);
        }
    }
    Ok(lines.finish(dir))
}

/// The figures of a report fed one line at a time, from any store of the chain (files, a
/// database table): what [`aggregate`] does with a folder's lines.
pub struct LineTally<'o> {
    tally: Tally,
    options: &'o ReportOptions,
    needle: Option<Vec<u8>>,
}

impl std::fmt::Debug for LineTally<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineTally").finish_non_exhaustive()
    }
}

impl<'o> LineTally<'o> {
    /// Figures for the period (and key) of `options`.
    pub fn new(options: &'o ReportOptions) -> Self {
        Self {
            tally: Tally::new(options),
            options,
            needle: options.key.as_deref().map(json_literal),
        }
    }

    /// Count `line` (without its newline), `bytes` long as read.
    pub fn line(&mut self, line: &[u8]) {
        self.tally.scan.lines += 1;
        if let Some(needle) = &self.needle
            && !search::memmem(line, needle)
        {
            return;
        }
        match serde_json::from_slice::<Line<'_>>(line) {
            Ok(view) => self.tally.line(&view),
            Err(_) => self.tally.scan.unreadable += 1,
        }
    }

    /// Count `bytes` more read (the scan's figures).
    pub fn read_bytes(&mut self, bytes: u64) {
        self.tally.scan.bytes += bytes;
    }

    /// The report of the lines counted, named after `source` (a folder, or a database's
    /// address without its password); its verification is left empty and not ok.
    pub fn finish(self, source: &Path) -> AuditReport {
        self.tally.finish(source, self.options)
    }
}

/// A string as it appears inside a JSON string.
fn json_literal(text: &str) -> Vec<u8> {
    let quoted = serde_json::to_string(text).unwrap_or_default();
    quoted.trim_matches('"').as_bytes().to_vec()
}

// --- the lines ----------------------------------------------------------------------------

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    time: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    key_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    key_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    profile: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    client_ip: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tool: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    operation: Option<Cow<'a, str>>,
    #[serde(default)]
    record_ids: Vec<i64>,
    #[serde(default)]
    record_count: Option<u64>,
    #[serde(borrow, default)]
    decision: Option<DecisionLine<'a>>,
    #[serde(borrow, default)]
    outcome: Option<OutcomeLine<'a>>,
    #[serde(borrow, default)]
    alert: Option<AlertLine<'a>>,
    #[serde(borrow, default)]
    gap: Option<GapLine<'a>>,
}

#[derive(Deserialize)]
struct DecisionLine<'a> {
    #[serde(borrow)]
    verdict: Cow<'a, str>,
    #[serde(borrow, default)]
    rule: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct OutcomeLine<'a> {
    #[serde(borrow)]
    status: Cow<'a, str>,
}

#[derive(Deserialize)]
struct AlertLine<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
    #[serde(default)]
    count: Option<u64>,
}

#[derive(Deserialize)]
struct GapLine<'a> {
    #[serde(borrow, default)]
    sink: Option<Cow<'a, str>>,
    #[serde(default)]
    dropped: Option<u64>,
    #[serde(borrow, default)]
    reason: Option<Cow<'a, str>>,
}

/// What a request was, for the tallies.
#[derive(Clone, Copy)]
struct Class {
    denied: bool,
    failed: bool,
    read: bool,
    write: bool,
    call: bool,
}

impl Class {
    fn of(line: &Line<'_>) -> Self {
        let denied = line.decision.as_ref().is_some_and(|d| d.verdict == "deny");
        let failed = !denied && line.outcome.as_ref().is_some_and(|o| o.status == "error");
        let served = !denied && !failed;
        let operation = line.operation.as_deref().unwrap_or("");
        Self {
            denied,
            failed,
            read: served && operation == "read",
            write: served && matches!(operation, "create" | "write" | "delete"),
            call: served && operation == "call",
        }
    }

    fn add_to(self, figures: &mut Figures) {
        figures.requests += 1;
        figures.denied += u64::from(self.denied);
        figures.errors += u64::from(self.failed);
        figures.reads += u64::from(self.read);
        figures.writes += u64::from(self.write);
        figures.method_calls += u64::from(self.call);
    }
}

// --- the tallies --------------------------------------------------------------------------

/// Hashing for record ids: a folded multiply with a per-process random seed. SipHash (the
/// standard one) is a fifth of the report's time; this one is a few instructions, and the seed
/// and the fold keep crafted ids (say, all multiples of 2^20) from landing in one bucket.
#[derive(Clone, Copy)]
struct IdHashing(u64);

impl Default for IdHashing {
    fn default() -> Self {
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        Self(*SEED.get_or_init(|| {
            use std::hash::{BuildHasher, Hasher};
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        }))
    }
}

impl std::hash::BuildHasher for IdHashing {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher(self.0)
    }
}

/// See [`IdHashing`].
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.write_u64(u64::from(*byte));
        }
    }

    fn write_u64(&mut self, n: u64) {
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let product = u128::from(self.0 ^ n) * u128::from(K);
        // The high half folded into the low one: every bit of the id reaches the bucket index.
        #[allow(clippy::cast_possible_truncation)] // the two halves of a u128, on purpose
        let folded = (product as u64) ^ ((product >> 64) as u64);
        self.0 = folded;
    }

    fn write_i64(&mut self, n: i64) {
        self.write_u64(n.cast_unsigned());
    }
}

/// Distinct record ids, remembered up to the caps.
#[derive(Default)]
struct IdSet {
    ids: HashSet<i64, IdHashing>,
    exact: bool,
    seen: bool,
    /// A cap was reached: no id is added any more.
    full: bool,
}

impl IdSet {
    fn add(&mut self, ids: &[i64], count: Option<u64>, budget: &mut usize, capped: &mut bool) {
        if !self.seen {
            self.seen = true;
            self.exact = true;
        }
        if count.is_some_and(|c| c > ids.len() as u64) {
            // The event lists only the first MAX_RECORD_IDS of its records.
            self.exact = false;
        }
        if self.full {
            return;
        }
        for id in ids {
            if self.ids.contains(id) {
                continue;
            }
            if self.ids.len() >= MAX_IDS_PER_SET || *budget == 0 {
                self.exact = false;
                self.full = true;
                *capped = true;
                return;
            }
            self.ids.insert(*id);
            *budget -= 1;
        }
    }

    fn distinct(&self) -> Distinct {
        Distinct {
            count: self.ids.len() as u64,
            exact: self.exact || !self.seen,
        }
    }
}

#[derive(Default)]
struct ModelTally {
    figures: Figures,
    read: IdSet,
    changed: IdSet,
}

/// A count per name, at most `cap` names (the rest under [`OTHERS`]).
#[derive(Default)]
struct Counts(HashMap<String, u64>);

impl Counts {
    /// Counts `name`; whether it went to [`OTHERS`].
    fn add(&mut self, name: &str, cap: usize) -> bool {
        if let Some(count) = self.0.get_mut(name) {
            *count += 1;
            return false;
        }
        let overflow = self.0.len() >= cap;
        let name = if overflow { OTHERS } else { name };
        *self.0.entry(name.to_owned()).or_default() += 1;
        overflow
    }

    fn sorted(self) -> Vec<Count> {
        let mut counts: Vec<Count> = self
            .0
            .into_iter()
            .map(|(name, count)| Count { name, count })
            .collect();
        counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
        counts
    }
}

#[derive(Default)]
struct ActivityTally {
    name: Option<String>,
    related: Vec<String>,
    figures: Figures,
    failed_authentications: u64,
    first: Option<String>,
    last: Option<String>,
    addresses: HashSet<String>,
    addresses_capped: bool,
    models: HashMap<String, ModelTally>,
    rules: Counts,
    alert_names: Counts,
}

/// Most names kept in [`Activity::related`].
const MAX_RELATED: usize = 20;

/// Which caps were reached.
#[derive(Default)]
struct Capped {
    activities: bool,
    models: bool,
    rules: bool,
    ids: bool,
}

impl ActivityTally {
    /// Notes an event of the key or profile at `time`; `related` is its profile (for a key) or
    /// key (for a profile).
    fn seen(&mut self, line: &Line<'_>, time: &str, related: Option<&str>, is_key: bool) {
        if self.first.as_deref().is_none_or(|first| time < first) {
            self.first = Some(time.to_owned());
        }
        if self.last.as_deref().is_none_or(|last| time > last) {
            self.last = Some(time.to_owned());
        }
        if is_key
            && let Some(name) = line.key_name.as_deref()
            && self.name.as_deref() != Some(name)
        {
            self.name = Some(name.to_owned());
        }
        if let Some(related) = related
            && self.related.len() < MAX_RELATED
            && !self.related.iter().any(|r| r == related)
        {
            self.related.push(related.to_owned());
        }
        if let Some(ip) = line.client_ip.as_deref()
            && !self.addresses.contains(ip)
        {
            if self.addresses.len() < MAX_ADDRESSES {
                self.addresses.insert(ip.to_owned());
            } else {
                self.addresses_capped = true;
            }
        }
    }

    fn request(&mut self, line: &Line<'_>, class: Class, budget: &mut usize, capped: &mut Capped) {
        class.add_to(&mut self.figures);
        if line.method.as_deref() == Some("authenticate") && class.denied {
            self.failed_authentications += 1;
        }
        if class.denied {
            let decision = line.decision.as_ref();
            let rule = match (
                decision.and_then(|d| d.rule.as_deref()),
                decision.and_then(|d| d.reason.as_deref()),
            ) {
                (Some(rule), _) => Cow::Borrowed(rule),
                (None, Some(reason)) => Cow::Owned(format!("reason: {reason}")),
                (None, None) => Cow::Borrowed("(no rule recorded)"),
            };
            capped.rules |= self.rules.add(&rule, MAX_RULES);
        }
        let Some(model) = line.model.as_deref() else {
            return;
        };
        let model = if self.models.contains_key(model) {
            model
        } else if self.models.len() >= MAX_MODELS {
            capped.models = true;
            OTHERS
        } else {
            model
        };
        let tally = entry(&mut self.models, model);
        class.add_to(&mut tally.figures);
        if class.read {
            tally
                .read
                .add(&line.record_ids, line.record_count, budget, &mut capped.ids);
        } else if class.write {
            tally
                .changed
                .add(&line.record_ids, line.record_count, budget, &mut capped.ids);
        }
    }

    fn alert(&mut self, name: &str, capped: &mut Capped) {
        self.figures.alerts += 1;
        capped.rules |= self.alert_names.add(name, MAX_RULES);
    }

    fn finish(self, id: String) -> Activity {
        let mut models: Vec<ModelFigures> = self
            .models
            .into_iter()
            .map(|(model, tally)| ModelFigures {
                model,
                figures: tally.figures,
                records_read: tally.read.distinct(),
                records_changed: tally.changed.distinct(),
            })
            .collect();
        models.sort_by(|a, b| {
            b.figures
                .requests
                .cmp(&a.figures.requests)
                .then_with(|| a.model.cmp(&b.model))
        });
        Activity {
            id,
            name: self.name,
            related: self.related,
            figures: self.figures,
            failed_authentications: self.failed_authentications,
            first: self.first,
            last: self.last,
            addresses: Distinct {
                count: self.addresses.len() as u64,
                exact: !self.addresses_capped,
            },
            models,
            rules: self.rules.sorted(),
            alert_names: self.alert_names.sorted(),
        }
    }
}

/// A kept event, ordered by time, then by when it was read.
struct Entry {
    time: String,
    arrival: u64,
    event: Listed,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (&self.time, self.arrival).cmp(&(&other.time, other.arrival))
    }
}

/// The earliest events of one kind, all of them counted.
struct Earliest {
    cap: usize,
    total: u64,
    /// A max-heap: the latest kept is the first to go.
    kept: BinaryHeap<Entry>,
}

impl Earliest {
    fn new(cap: usize) -> Self {
        Self {
            cap,
            total: 0,
            kept: BinaryHeap::new(),
        }
    }

    fn offer(&mut self, time: &str, make: impl FnOnce() -> Listed) {
        self.total += 1;
        if self.cap == 0 {
            return;
        }
        // Among events of the same instant, the one read first stays.
        if self.kept.len() >= self.cap
            && self
                .kept
                .peek()
                .is_some_and(|latest| time >= latest.time.as_str())
        {
            return;
        }
        self.kept.push(Entry {
            time: time.to_owned(),
            arrival: self.total,
            event: make(),
        });
        if self.kept.len() > self.cap {
            self.kept.pop();
        }
    }

    fn finish(self) -> Listing {
        Listing {
            total: self.total,
            listed: self
                .kept
                .into_sorted_vec()
                .into_iter()
                .map(|entry| entry.event)
                .collect(),
        }
    }
}

struct Tally {
    since: String,
    until: String,
    key: Option<String>,
    scan: Scan,
    totals: Totals,
    keys: HashMap<String, ActivityTally>,
    profiles: HashMap<String, ActivityTally>,
    days: BTreeMap<String, Day>,
    denied: Earliest,
    alerts: Earliest,
    gaps: Earliest,
    budget: usize,
    capped: Capped,
}

fn owned(text: Option<&Cow<'_, str>>) -> Option<String> {
    text.map(|t| t.as_ref().to_owned())
}

/// The tally of `id` in `map`, or of [`OTHERS`] past [`MAX_ACTIVITIES`].
fn activity<'m>(
    map: &'m mut HashMap<String, ActivityTally>,
    id: &str,
    capped: &mut bool,
) -> &'m mut ActivityTally {
    let id = if map.contains_key(id) || map.len() < MAX_ACTIVITIES {
        id
    } else {
        *capped = true;
        OTHERS
    };
    entry(map, id)
}

/// The value of `name` in `map`, made when missing (the name is copied only then).
fn entry<'m, T: Default>(map: &'m mut HashMap<String, T>, name: &str) -> &'m mut T {
    if !map.contains_key(name) {
        map.insert(name.to_owned(), T::default());
    }
    map.get_mut(name).expect("present: inserted above")
}

impl Tally {
    fn new(options: &ReportOptions) -> Self {
        Self {
            since: format_time(options.since),
            until: format_time(options.until),
            key: options.key.clone(),
            scan: Scan::default(),
            totals: Totals::default(),
            keys: HashMap::new(),
            profiles: HashMap::new(),
            days: BTreeMap::new(),
            denied: Earliest::new(options.listed),
            alerts: Earliest::new(options.listed),
            gaps: Earliest::new(options.listed),
            budget: MAX_IDS_TOTAL,
            capped: Capped::default(),
        }
    }

    fn line(&mut self, line: &Line<'_>) {
        let kind = line.kind.as_deref().unwrap_or("");
        if !matches!(kind, "request" | "alert" | "gap") {
            return;
        }
        let Some(time) = line.time.as_deref() else {
            self.scan.unreadable += 1;
            return;
        };
        if time < self.since.as_str() || time >= self.until.as_str() {
            return;
        }
        if let Some(key) = &self.key
            && line.key_id.as_deref() != Some(key.as_str())
            && line.key_name.as_deref() != Some(key.as_str())
        {
            return;
        }
        self.totals.events += 1;
        let day = time.get(..10).unwrap_or(time);
        let day = match self.days.get_mut(day) {
            Some(day) => day,
            None => self.days.entry(day.to_owned()).or_insert_with(|| Day {
                day: day.to_owned(),
                ..Day::default()
            }),
        };
        match kind {
            "request" => {
                let class = Class::of(line);
                class.add_to(&mut self.totals.figures);
                day.requests += 1;
                day.denied += u64::from(class.denied);
                day.errors += u64::from(class.failed);
                day.ok += u64::from(!class.denied && !class.failed);
                day.writes += u64::from(class.write);
                if line.method.as_deref() == Some("authenticate") && class.denied {
                    self.totals.failed_authentications += 1;
                }
                self.request(line, time, class);
            }
            "alert" => {
                day.alerts += 1;
                self.totals.figures.alerts += 1;
                self.alert(line, time);
            }
            _ => {
                self.totals.gaps += 1;
                let gap = line.gap.as_ref();
                self.totals.events_lost += gap.and_then(|g| g.dropped).unwrap_or(0);
                self.gaps.offer(time, || Listed {
                    time: time.to_owned(),
                    id: owned(line.id.as_ref()),
                    what: gap.and_then(|g| owned(g.sink.as_ref())),
                    reason: gap.and_then(|g| owned(g.reason.as_ref())),
                    count: gap.and_then(|g| g.dropped),
                    ..Listed::default()
                });
            }
        }
    }

    fn who<'l>(line: &'l Line<'_>) -> (&'l str, &'l str) {
        let key = line
            .key_id
            .as_deref()
            .or(line.key_name.as_deref())
            .unwrap_or(NONE);
        let profile = line.profile.as_deref().unwrap_or(NONE);
        (key, profile)
    }

    fn request(&mut self, line: &Line<'_>, time: &str, class: Class) {
        let (key, profile) = Self::who(line);
        let key_tally = activity(&mut self.keys, key, &mut self.capped.activities);
        key_tally.seen(line, time, line.profile.as_deref(), true);
        key_tally.request(line, class, &mut self.budget, &mut self.capped);
        let profile_tally = activity(&mut self.profiles, profile, &mut self.capped.activities);
        profile_tally.seen(
            line,
            time,
            line.key_name.as_deref().or(line.key_id.as_deref()),
            false,
        );
        profile_tally.request(line, class, &mut self.budget, &mut self.capped);
        if class.denied {
            self.denied.offer(time, || {
                let decision = line.decision.as_ref();
                Listed {
                    time: time.to_owned(),
                    id: owned(line.id.as_ref()),
                    key_id: owned(line.key_id.as_ref()),
                    key_name: owned(line.key_name.as_ref()),
                    profile: owned(line.profile.as_ref()),
                    client_ip: owned(line.client_ip.as_ref()),
                    what: owned(line.tool.as_ref().or(line.method.as_ref())),
                    model: owned(line.model.as_ref()),
                    rule: decision.and_then(|d| owned(d.rule.as_ref())),
                    reason: decision.and_then(|d| owned(d.reason.as_ref())),
                    count: None,
                }
            });
        }
    }

    fn alert(&mut self, line: &Line<'_>, time: &str) {
        let alert = line.alert.as_ref();
        let name = alert.and_then(|a| a.name.as_deref()).unwrap_or("alert");
        let (key, profile) = Self::who(line);
        let key_tally = activity(&mut self.keys, key, &mut self.capped.activities);
        key_tally.seen(line, time, line.profile.as_deref(), true);
        key_tally.alert(name, &mut self.capped);
        let profile_tally = activity(&mut self.profiles, profile, &mut self.capped.activities);
        profile_tally.seen(
            line,
            time,
            line.key_name.as_deref().or(line.key_id.as_deref()),
            false,
        );
        profile_tally.alert(name, &mut self.capped);
        self.alerts.offer(time, || Listed {
            time: time.to_owned(),
            id: owned(line.id.as_ref()),
            key_id: owned(line.key_id.as_ref()),
            key_name: owned(line.key_name.as_ref()),
            profile: owned(line.profile.as_ref()),
            client_ip: owned(line.client_ip.as_ref()),
            what: Some(name.to_owned()),
            model: None,
            rule: None,
            reason: alert.and_then(|a| owned(a.message.as_ref())),
            count: alert.and_then(|a| a.count),
        });
    }

    fn finish(self, dir: &Path, options: &ReportOptions) -> AuditReport {
        let mut limits = Vec::new();
        if self.capped.activities {
            limits.push(format!(
                "more than {MAX_ACTIVITIES} keys or profiles: the rest are counted together as {OTHERS}"
            ));
        }
        if self.capped.models {
            limits.push(format!(
                "more than {MAX_MODELS} models for a key or profile: the rest are counted together as {OTHERS}"
            ));
        }
        if self.capped.rules {
            limits.push(format!(
                "more than {MAX_RULES} rules or alert names for a key or profile: the rest are counted together as {OTHERS}"
            ));
        }
        if self.capped.ids {
            limits.push(format!(
                "distinct records are remembered up to {MAX_IDS_PER_SET} per key (or profile) and model and {MAX_IDS_TOTAL} in all: the counts past them are lower bounds"
            ));
        }
        let mut totals = self.totals;
        totals.keys = self.keys.keys().filter(|k| k.as_str() != NONE).count() as u64;
        let mut keys: Vec<Activity> = self
            .keys
            .into_iter()
            .map(|(id, tally)| tally.finish(id))
            .collect();
        let mut profiles: Vec<Activity> = self
            .profiles
            .into_iter()
            .map(|(id, tally)| tally.finish(id))
            .collect();
        for list in [&mut keys, &mut profiles] {
            list.sort_by(|a, b| {
                b.figures
                    .requests
                    .cmp(&a.figures.requests)
                    .then_with(|| a.id.cmp(&b.id))
            });
        }
        let (daily, truncated) = every_day(options.since, options.until, self.days);
        if truncated {
            limits.push(format!("the daily series stops after {MAX_DAYS} days"));
        }
        AuditReport {
            report_version: REPORT_VERSION,
            generated: format_time(options.now),
            generator: options.generator.clone(),
            dir: dir.to_owned(),
            period: Period {
                since: self.since,
                until: self.until,
            },
            key: self.key,
            verification: verification(
                verify::Report {
                    dir: dir.to_owned(),
                    streams: Vec::new(),
                    anchors: None,
                },
                &VerifyOptions::default(),
            ),
            totals,
            keys,
            profiles,
            daily,
            denied: self.denied.finish(),
            alerts: self.alerts.finish(),
            gaps: self.gaps.finish(),
            scan: self.scan,
            limits,
        }
    }
}

/// Every day from `since`'s to the one before `until` (at most [`MAX_DAYS`]), with the figures
/// of those that had events; whether the series was cut.
fn every_day(
    since: SystemTime,
    until: SystemTime,
    mut days: BTreeMap<String, Day>,
) -> (Vec<Day>, bool) {
    const DAY: Duration = Duration::from_secs(86_400);
    let last = format_time(until.checked_sub(Duration::from_micros(1)).unwrap_or(until));
    let last = last.get(..10).unwrap_or("").to_owned();
    let mut out = Vec::new();
    let mut at = since;
    for _ in 0..MAX_DAYS {
        let day = format_time(at).get(..10).unwrap_or("").to_owned();
        if day > last {
            return (out, false);
        }
        out.push(days.remove(&day).unwrap_or_else(|| Day {
            day,
            ..Day::default()
        }));
        at += DAY;
    }
    let day = format_time(at).get(..10).unwrap_or("").to_owned();
    (out, day <= last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_are_listed_whatever_the_reading_order() {
        let mut earliest = Earliest::new(2);
        for time in [
            "2026-12-03",
            "2026-12-01",
            "2026-12-04",
            "2026-12-02",
            "2026-12-01",
        ] {
            earliest.offer(time, || Listed {
                time: time.to_owned(),
                ..Listed::default()
            });
        }
        let listing = earliest.finish();
        assert_eq!(listing.total, 5);
        assert_eq!(listing.more(), 3);
        let times: Vec<&str> = listing.listed.iter().map(|l| l.time.as_str()).collect();
        assert_eq!(times, ["2026-12-01", "2026-12-01"]);
    }

    #[test]
    fn counts_past_the_cap_go_to_others() {
        let mut counts = Counts::default();
        assert!(!counts.add("a", 2));
        assert!(!counts.add("b", 2));
        assert!(counts.add("c", 2));
        assert!(!counts.add("a", 2));
        let sorted: Vec<(String, u64)> = counts
            .sorted()
            .into_iter()
            .map(|c| (c.name, c.count))
            .collect();
        assert_eq!(
            sorted,
            [
                ("a".to_owned(), 2),
                (OTHERS.to_owned(), 1),
                ("b".to_owned(), 1)
            ]
        );
    }

    #[test]
    fn id_hashes_spread_ids_that_share_their_low_bits() {
        use std::hash::BuildHasher;
        let hashing = IdHashing::default();
        let buckets: HashSet<u64> = (0..1024i64)
            .map(|n| hashing.hash_one(n << 20) & 1023)
            .collect();
        assert!(buckets.len() > 500, "{} buckets of 1024", buckets.len());
    }

    #[test]
    fn distinct_ids_are_capped_and_flag_partial_lists() {
        let mut budget = 3;
        let mut capped = false;
        let mut set = IdSet::default();
        assert!(set.distinct().exact, "nothing seen: exact zero");
        set.add(&[1, 2, 2], Some(3), &mut budget, &mut capped);
        assert_eq!(
            set.distinct(),
            Distinct {
                count: 2,
                exact: true
            }
        );
        set.add(&[3], Some(150), &mut budget, &mut capped);
        assert_eq!(
            set.distinct(),
            Distinct {
                count: 3,
                exact: false
            }
        );
        assert!(!capped);
        set.add(&[4], None, &mut budget, &mut capped);
        assert!(capped, "the budget of 3 ids is spent");
        assert_eq!(set.distinct().count, 3);
    }

    #[test]
    fn the_daily_series_has_every_day_of_the_period() {
        let day = |d: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_083_200 + d * 86_400);
        let mut days = BTreeMap::new();
        days.insert(
            "2026-12-02".to_owned(),
            Day {
                day: "2026-12-02".to_owned(),
                requests: 5,
                ..Day::default()
            },
        );
        // 2026-12-01T12:00 to 2026-12-04T00:00: the 1st, 2nd and 3rd.
        let (series, cut) = every_day(day(0) + Duration::from_secs(12 * 3600), day(3), days);
        assert!(!cut);
        let names: Vec<&str> = series.iter().map(|d| d.day.as_str()).collect();
        assert_eq!(names, ["2026-12-01", "2026-12-02", "2026-12-03"]);
        assert_eq!(series[1].requests, 5);
    }
}
