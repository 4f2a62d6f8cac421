//! Searching a folder of JSONL audit files: by key, model, tool, method, outcome, address, record
//! and time range, streaming over the files (memory does not grow with the folder).
//!
//! Files whose day lies outside the time range are skipped unopened; within a file, a line is
//! fully parsed only when it contains every literal the filter names, so a search through a
//! million events takes seconds (see docs/PERFORMANCE.md).

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::ops::ControlFlow;
use std::path::Path;
use std::time::SystemTime;

use serde::Deserialize;

use crate::event::format_time;
use crate::jsonl::{StreamFile, day_of, stream_files};

/// Which outcomes match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeFilter {
    /// Allowed and successful.
    Ok,
    /// Failed (denied requests included).
    Error,
    /// Denied by a rule.
    Denied,
    /// Allowed (whatever the outcome).
    Allowed,
}

impl std::str::FromStr for OutcomeFilter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ok" => Ok(Self::Ok),
            "error" => Ok(Self::Error),
            "denied" | "deny" => Ok(Self::Denied),
            "allowed" | "allow" => Ok(Self::Allowed),
            other => Err(format!(
                "unknown outcome {other:?}: ok, error, denied or allowed"
            )),
        }
    }
}

/// One record: a model and an id, written `res.partner:42`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRef {
    /// The model, e.g. `res.partner`.
    pub model: String,
    /// The record's id.
    pub id: i64,
}

impl std::str::FromStr for RecordRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || format!("{s:?} is not MODEL:ID (e.g. res.partner:42)");
        let (model, id) = s.rsplit_once(':').ok_or_else(invalid)?;
        let id: i64 = id.trim().parse().map_err(|_| invalid())?;
        let model = model.trim();
        if model.is_empty() || id <= 0 {
            return Err(invalid());
        }
        Ok(Self {
            model: model.to_owned(),
            id,
        })
    }
}

impl std::fmt::Display for RecordRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.model, self.id)
    }
}

/// What to look for. Every member that is set must match.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Filter {
    /// The key's id or name.
    pub key: Option<String>,
    /// The model.
    pub model: Option<String>,
    /// The tool.
    pub tool: Option<String>,
    /// The MCP method.
    pub method: Option<String>,
    /// The outcome.
    pub outcome: Option<OutcomeFilter>,
    /// The client's address.
    pub ip: Option<String>,
    /// The event kind (`request`, `alert`, `gap`); chain records only when asked for (`chain`).
    pub kind: Option<String>,
    /// A record: events on its model whose `record_ids` hold its id. An event lists at most the
    /// first [`MAX_RECORD_IDS`](crate::event::MAX_RECORD_IDS) ids of the records it named or
    /// returned, so an event that named more may concern the record without listing it:
    /// [`SearchStats::unlisted`] counts those.
    pub record: Option<RecordRef>,
    /// From this time on.
    pub since: Option<SystemTime>,
    /// Before this time.
    pub until: Option<SystemTime>,
}

/// The members of a line a filter reads.
#[derive(Debug, Deserialize)]
pub struct EventView<'a> {
    /// The event's kind.
    #[serde(borrow, default)]
    pub kind: Option<Cow<'a, str>>,
    /// When.
    #[serde(borrow, default)]
    pub time: Option<Cow<'a, str>>,
    /// The key's id.
    #[serde(borrow, default)]
    pub key_id: Option<Cow<'a, str>>,
    /// The key's name.
    #[serde(borrow, default)]
    pub key_name: Option<Cow<'a, str>>,
    /// The model.
    #[serde(borrow, default)]
    pub model: Option<Cow<'a, str>>,
    /// The tool.
    #[serde(borrow, default)]
    pub tool: Option<Cow<'a, str>>,
    /// The MCP method.
    #[serde(borrow, default)]
    pub method: Option<Cow<'a, str>>,
    /// The client's address.
    #[serde(borrow, default)]
    pub client_ip: Option<Cow<'a, str>>,
    /// The record ids named or returned (at most
    /// [`MAX_RECORD_IDS`](crate::event::MAX_RECORD_IDS)).
    #[serde(default)]
    pub record_ids: Vec<i64>,
    /// How many records were named or returned (all of them).
    #[serde(default)]
    pub record_count: Option<u64>,
    /// The decision.
    #[serde(borrow, default)]
    pub decision: Option<DecisionView<'a>>,
    /// The outcome.
    #[serde(borrow, default)]
    pub outcome: Option<OutcomeView<'a>>,
}

/// The decision of a line.
#[derive(Debug, Deserialize)]
pub struct DecisionView<'a> {
    /// `allow` or `deny`.
    #[serde(borrow)]
    pub verdict: Cow<'a, str>,
    /// The rule.
    #[serde(borrow, default)]
    pub rule: Option<Cow<'a, str>>,
    /// The reason.
    #[serde(borrow, default)]
    pub reason: Option<Cow<'a, str>>,
}

/// The outcome of a line.
#[derive(Debug, Deserialize)]
pub struct OutcomeView<'a> {
    /// `ok` or `error`.
    #[serde(borrow)]
    pub status: Cow<'a, str>,
    /// The error kind.
    #[serde(borrow, default)]
    pub error: Option<Cow<'a, str>>,
}

impl Filter {
    /// Literals a matching line must contain (checked before parsing).
    fn needles(&self) -> Vec<Vec<u8>> {
        let record_model = self.record.as_ref().map(|r| &r.model);
        [&self.key, &self.model, &self.tool, &self.ip, &self.method]
            .into_iter()
            .flatten()
            .chain(record_model)
            .map(|s| {
                // The literal as it appears inside a JSON string.
                let quoted = serde_json::to_string(s).unwrap_or_default();
                quoted.trim_matches('"').as_bytes().to_vec()
            })
            .filter(|n| !n.is_empty())
            .collect()
    }

    /// Whether `view` matches.
    pub fn matches(&self, view: &EventView<'_>) -> bool {
        self.matches_but_record_id(view)
            && self
                .record
                .as_ref()
                .is_none_or(|r| view.record_ids.contains(&r.id))
    }

    /// Whether `view` matches every member but the record's id, and lists only part of the
    /// records it named (the first [`MAX_RECORD_IDS`](crate::event::MAX_RECORD_IDS)), none of
    /// them the record: it may concern the record all the same.
    pub fn may_name_unlisted_record(&self, view: &EventView<'_>) -> bool {
        let Some(record) = &self.record else {
            return false;
        };
        let listed = view.record_ids.len() as u64;
        view.record_count.is_some_and(|count| count > listed)
            && !view.record_ids.contains(&record.id)
            && self.matches_but_record_id(view)
    }

    fn matches_but_record_id(&self, view: &EventView<'_>) -> bool {
        let eq = |want: &Option<String>, have: &Option<Cow<'_, str>>| {
            want.as_ref()
                .is_none_or(|w| have.as_deref() == Some(w.as_str()))
        };
        let kind = view.kind.as_deref().unwrap_or("");
        match &self.kind {
            Some(want) if want != kind => return false,
            None if kind == "chain" => return false,
            _ => {}
        }
        if let Some(key) = &self.key
            && view.key_id.as_deref() != Some(key.as_str())
            && view.key_name.as_deref() != Some(key.as_str())
        {
            return false;
        }
        if let Some(record) = &self.record
            && view.model.as_deref() != Some(record.model.as_str())
        {
            return false;
        }
        if !eq(&self.model, &view.model)
            || !eq(&self.tool, &view.tool)
            || !eq(&self.method, &view.method)
            || !eq(&self.ip, &view.client_ip)
        {
            return false;
        }
        let time = view.time.as_deref().unwrap_or("");
        if let Some(since) = self.since
            && time < format_time(since).as_str()
        {
            return false;
        }
        if let Some(until) = self.until
            && time >= format_time(until).as_str()
        {
            return false;
        }
        if let Some(outcome) = self.outcome {
            let denied = view.decision.as_ref().is_some_and(|d| d.verdict == "deny");
            let failed = view.outcome.as_ref().is_some_and(|o| o.status == "error");
            let ok = match outcome {
                OutcomeFilter::Ok => !denied && !failed && view.outcome.is_some(),
                OutcomeFilter::Error => failed || denied,
                OutcomeFilter::Denied => denied,
                OutcomeFilter::Allowed => !denied && view.decision.is_some(),
            };
            if !ok {
                return false;
            }
        }
        true
    }

    /// Whether `file` may hold events of the time range.
    pub(crate) fn file_in_range(&self, file: &StreamFile) -> bool {
        // A file holds events of its day and (until rotation at the next write) later ones.
        // An event made just before midnight may be written just after it, in the next day's
        // file: a day of margin. Every write on a later day rotates first, so a file holds no
        // event made after its day: one of a day before `since` is skipped (a day of margin
        // too, for a writer's clock a little behind).
        let day = std::time::Duration::from_secs(86_400);
        self.until
            .is_none_or(|until| file.day <= day_of(until + day))
            && self
                .since
                .is_none_or(|since| file.day >= day_of(since.checked_sub(day).unwrap_or(since)))
    }
}

/// Totals of a search.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchStats {
    /// Files read.
    pub files: u64,
    /// Lines read.
    pub lines: u64,
    /// Lines that matched.
    pub matched: u64,
    /// Bytes read.
    pub bytes: u64,
    /// With [`Filter::record`]: events that match every member but the record's id and list
    /// only the first [`MAX_RECORD_IDS`](crate::event::MAX_RECORD_IDS) of more
    /// records, so the record may be among the rest (see
    /// [`Filter::may_name_unlisted_record`]). Not passed to the visitor.
    pub unlisted: u64,
}

/// The files a search reads, oldest first, and their total size (for a progress bar).
pub fn files_to_search(dir: &Path, filter: &Filter) -> std::io::Result<(Vec<StreamFile>, u64)> {
    let mut files: Vec<StreamFile> = stream_files(dir)?
        .into_iter()
        .flat_map(|(_, files)| files)
        .filter(|f| filter.file_in_range(f))
        .collect();
    files.sort_by(|a, b| (&a.day, &a.stream, a.number).cmp(&(&b.day, &b.stream, b.number)));
    let total = files
        .iter()
        .filter_map(|f| std::fs::metadata(&f.path).ok())
        .map(|m| m.len())
        .sum();
    Ok((files, total))
}

/// Stream every line of `files` that matches `filter` to `visit` (the raw line without its
/// newline, and its parsed view) until it breaks; `progress` is told the bytes read so far after
/// each file. Unreadable lines are skipped (`audit verify` reports them).
pub fn search_files(
    files: &[StreamFile],
    filter: &Filter,
    mut visit: impl FnMut(&[u8], &EventView<'_>) -> ControlFlow<()>,
    mut progress: impl FnMut(u64),
) -> std::io::Result<SearchStats> {
    let mut search = LineSearch::new(filter);
    let mut line = Vec::with_capacity(2048);
    'files: for file in files {
        let Ok(handle) = File::open(&file.path) else {
            continue;
        };
        search.stats.files += 1;
        let mut reader = BufReader::with_capacity(1024 * 1024, handle);
        loop {
            line.clear();
            let read = reader.read_until(b'\n', &mut line)?;
            if read == 0 {
                break;
            }
            search.stats.bytes += read as u64;
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            if search.line(&line, &mut visit).is_break() {
                break 'files;
            }
        }
        progress(search.stats.bytes);
    }
    Ok(search.stats)
}

/// A search fed one line at a time, from any store of the chain (files, a database table).
#[derive(Debug)]
pub struct LineSearch<'f> {
    filter: &'f Filter,
    needles: Vec<Vec<u8>>,
    /// The totals so far (the caller counts [`SearchStats::files`] and [`SearchStats::bytes`]).
    pub stats: SearchStats,
}

impl<'f> LineSearch<'f> {
    /// A search for `filter`.
    pub fn new(filter: &'f Filter) -> Self {
        Self {
            filter,
            needles: filter.needles(),
            stats: SearchStats::default(),
        }
    }

    /// Read `line` (without its newline): when it matches, pass it to `visit`, and return what
    /// `visit` returns. An unreadable line is skipped.
    pub fn line(
        &mut self,
        line: &[u8],
        visit: &mut impl FnMut(&[u8], &EventView<'_>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        self.stats.lines += 1;
        if !self.needles.iter().all(|n| memmem(line, n)) {
            return ControlFlow::Continue(());
        }
        let Ok(view) = serde_json::from_slice::<EventView<'_>>(line) else {
            return ControlFlow::Continue(());
        };
        if self.filter.may_name_unlisted_record(&view) {
            self.stats.unlisted += 1;
        }
        if self.filter.matches(&view) {
            self.stats.matched += 1;
            return visit(line, &view);
        }
        ControlFlow::Continue(())
    }
}

/// Whether `needle` occurs in `haystack`.
pub(crate) fn memmem(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let mut from = 0;
    while let Some(at) = haystack[from..].iter().position(|b| *b == first) {
        let start = from + at;
        if haystack[start + 1..].starts_with(rest) {
            return true;
        }
        from = start + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::memmem;

    #[test]
    fn memmem_finds_needles() {
        assert!(memmem(b"abcabd", b"abd"));
        assert!(!memmem(b"abcab", b"abd"));
        assert!(memmem(b"x", b""));
    }
}
