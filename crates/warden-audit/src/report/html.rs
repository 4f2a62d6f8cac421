//! The report as one self-contained HTML page: inline CSS and inline SVG, no script, no external
//! font, style or image (a Content-Security-Policy says so to the browser too), black on white,
//! with print rules (A4, page breaks between sections, table headers repeated, nothing dark) so
//! that "Print to PDF" gives a document to attach to an audit.
//!
//! Every text taken from an event (key and profile names, models, rules, reasons, addresses,
//! the folder's path) is escaped, and characters that could disguise it (controls, bidirectional
//! overrides, zero-width characters) are shown as `[U+XXXX]`. Markup is written only from
//! `&'static str` and numbers ([`Page::raw`], [`Page::num`]): a `String` can reach the page only
//! through [`Page::text`], which escapes it.

use std::fmt::Write as _;

use super::{Activity, AuditReport, Day, Distinct, Figures, Listed, Listing, ModelFigures};

/// Most bars in the activity chart: past it, a bar covers several days.
pub const MAX_BARS: usize = 120;

/// Most keys and profiles given a section of their own on the page (all are in the tables).
pub const MAX_DETAILED: usize = 100;

/// Most models listed per key or profile on the page (the JSON form has them all).
pub const MAX_MODELS_SHOWN: usize = 15;

/// Most characters of one text shown (the rest is cut, with its length said).
const MAX_TEXT: usize = 160;

/// A word longer than this may be broken anywhere to fit its cell.
const LONG_WORD: usize = 24;

/// Renders `report` as an HTML page.
pub fn render(report: &AuditReport) -> String {
    let mut page = Page::default();
    page.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    // Defence in depth: should escaping ever fail, the page still runs nothing and loads
    // nothing.
    page.raw(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n",
    );
    page.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Audit report ");
    page.text(&day_text(&report.period.since));
    page.raw(" to ");
    page.text(&last_day_text(&report.period.until));
    page.raw("</title>\n<style>\n");
    page.raw(CSS);
    page.raw("</style>\n</head>\n<body>\n");
    header(&mut page, report);
    glance(&mut page, report);
    verification(&mut page, report);
    chart(&mut page, report);
    activities(&mut page, report);
    listings(&mut page, report);
    notes(&mut page, report);
    page.raw("</body>\n</html>\n");
    page.out
}

const CSS: &str = r#"@page { size: A4; margin: 14mm 12mm 16mm; }
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", "DejaVu Sans", Arial, sans-serif;
  font-size: 10.5pt; line-height: 1.4; color: #1a1a1a; background: #fff; margin: 0 auto; padding: 24px;
  max-width: 1120px; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
h1 { font-size: 20pt; margin: 0 0 2px; }
h2 { font-size: 14pt; margin: 28px 0 8px; padding-bottom: 3px; border-bottom: 2px solid #333; break-after: avoid; }
h3 { font-size: 11.5pt; margin: 18px 0 4px; break-after: avoid; }
p { margin: 4px 0 8px; }
.meta { color: #444; margin: 0; }
.meta b { color: #1a1a1a; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 12px; font-size: 8.8pt; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
th, td { border-bottom: 1px solid #d4d4d4; padding: 3px 5px; text-align: left; vertical-align: top; overflow-wrap: break-word; }
td.x { overflow-wrap: anywhere; }
td.w { white-space: nowrap; }
td.r { min-width: 13em; overflow-wrap: anywhere; }
table.events { font-size: 8pt; }
th { border-bottom: 1.5px solid #555; font-weight: 600; }
.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; overflow-wrap: normal; }
.t { white-space: nowrap; overflow-wrap: normal; font-variant-numeric: tabular-nums; }
.figures { display: grid; grid-template-columns: repeat(4, 1fr); gap: 8px; margin: 8px 0; }
.figure { border: 1px solid #bbb; border-radius: 4px; padding: 6px 10px; break-inside: avoid; }
.figure .v { font-size: 16pt; font-weight: 650; font-variant-numeric: tabular-nums; }
.figure .l { font-size: 8.5pt; color: #444; }
.status { border: 2px solid; border-radius: 4px; padding: 8px 12px; margin: 8px 0; font-weight: 600; break-inside: avoid; }
.ok { color: #1b5e20; }
.bad { color: #b71c1c; }
.status.ok { border-color: #2e7d32; background: #f0f8f0; }
.status.bad { border-color: #c62828; background: #fdf0f0; }
.hash { font-family: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 8pt; overflow-wrap: anywhere; }
.anchors { border: 2px dashed #8a6d00; border-radius: 4px; padding: 8px 12px; margin: 10px 0; background: #fffbe8; break-inside: avoid; }
.anchors h3 { margin-top: 0; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; font-size: 8pt; margin: 4px 0; }
.note { font-size: 8.8pt; color: #444; }
.more { font-size: 9pt; color: #333; font-style: italic; }
code { font-family: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 8.5pt; overflow-wrap: anywhere; }
figure { margin: 6px 0 12px; break-inside: avoid; }
figcaption { font-size: 8.8pt; color: #333; }
.legend svg { vertical-align: -1px; }
.legend span { margin-right: 14px; white-space: nowrap; }
.detail { margin-bottom: 10px; }
.detail h3 { border-bottom: 1px solid #999; }
.sign { display: grid; grid-template-columns: 2fr 1fr 2fr; gap: 24px; margin-top: 44px; break-inside: avoid; }
.sign div { border-top: 1px solid #333; padding-top: 4px; font-size: 9pt; color: #333; }
footer { margin-top: 24px; font-size: 8pt; color: #555; }
@media print {
  body { padding: 0; max-width: none; font-size: 9.5pt; }
  .pagebreak { break-before: page; }
  h2 { margin-top: 18px; }
}
"#;

/// The page being written.
#[derive(Default)]
struct Page {
    out: String,
}

impl Page {
    /// Markup: only ever a literal of this file.
    fn raw(&mut self, markup: &'static str) {
        self.out.push_str(markup);
    }

    /// A number, with thousands separated.
    fn num(&mut self, n: u64) {
        self.out.push_str(&thousands(n));
    }

    /// A number for an SVG attribute.
    fn coord(&mut self, x: f64) {
        let _ = write!(self.out, "{x:.1}");
    }

    /// Text from anywhere, escaped, at most [`MAX_TEXT`] characters shown.
    fn text(&mut self, text: &str) {
        escape_into(&mut self.out, text, MAX_TEXT);
    }

    /// Opens a table cell for `text`: one that may break anywhere when `text` holds a long
    /// word, one that does not wrap for a single short word, else an ordinary one.
    fn td_for(&mut self, text: &str) {
        let mut words = text.split_whitespace();
        if words.clone().any(|word| word.chars().count() > LONG_WORD) {
            self.raw("<td class=\"x\">");
        } else if words.nth(1).is_none() {
            // One short word (a key, a profile, an address, a model): kept on one line, not
            // broken at its hyphens.
            self.raw("<td class=\"w\">");
        } else {
            self.raw("<td>");
        }
    }

    /// Text in a table cell.
    fn cell(&mut self, text: &str) {
        self.td_for(text);
        self.text(text);
        self.raw("</td>");
    }

    /// A rule or a message: a cell wide enough to read it, breaking a long word anywhere.
    fn cell_wide(&mut self, text: Option<&str>) {
        self.raw("<td class=\"r\">");
        self.text(text.unwrap_or("–"));
        self.raw("</td>");
    }

    /// An optional text in a table cell, a dash when absent.
    fn cell_opt(&mut self, text: Option<&str>) {
        self.cell(text.unwrap_or("–"));
    }

    /// A number in a right-aligned table cell.
    fn cell_num(&mut self, n: u64) {
        self.raw("<td class=\"n\">");
        self.num(n);
        self.raw("</td>");
    }

    /// A distinct count in a right-aligned cell: `≥ n` when it may be higher.
    fn cell_distinct(&mut self, distinct: Distinct) {
        self.raw("<td class=\"n\">");
        if !distinct.exact {
            self.raw("≥\u{a0}");
        }
        self.num(distinct.count);
        self.raw("</td>");
    }

    /// A time in a table cell (`2026-12-01 10:15:02`).
    fn cell_time(&mut self, time: &str) {
        self.raw("<td class=\"t\">");
        self.text(&time_text(time));
        self.raw("</td>");
    }

    fn th(&mut self, headers: &[&'static str]) {
        self.raw("<thead><tr>");
        for header in headers {
            if let Some(numeric) = header.strip_prefix('#') {
                self.raw("<th class=\"n\">");
                self.raw(numeric);
            } else {
                self.raw("<th>");
                self.raw(header);
            }
            self.raw("</th>");
        }
        self.raw("</tr></thead>\n<tbody>\n");
    }
}

/// Appends `text` to `out`, escaped for HTML text and attribute values, with characters that
/// could disguise it shown as `[U+XXXX]`, cut after `max` characters.
fn escape_into(out: &mut String, text: &str, max: usize) {
    let total = text.chars().count();
    for (shown, c) in text.chars().enumerate() {
        if shown == max {
            let _ = write!(out, "… ({} characters)", thousands(total as u64));
            return;
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if disguising(c) => {
                let _ = write!(out, "[U+{:04X}]", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

/// Controls, bidirectional formatting and invisible characters: they could make a text read as
/// something it is not.
fn disguising(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00ad}'
                | '\u{061c}'
                | '\u{115f}'
                | '\u{1160}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{3164}'
                | '\u{fe00}'..='\u{fe0f}'
                | '\u{feff}'
                | '\u{ffa0}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{e0000}'..='\u{e007f}'
        )
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// `2026-12-01T10:15:02.123456Z` as `2026-12-01 10:15:02`.
fn time_text(time: &str) -> String {
    match time.get(..19) {
        Some(head) if time.is_char_boundary(19) => head.replacen('T', " ", 1),
        _ => time.to_owned(),
    }
}

/// The day of an RFC 3339 time.
fn day_text(time: &str) -> String {
    time.get(..10).unwrap_or(time).to_owned()
}

/// The last day a period ending (excluded) at `until` covers.
fn last_day_text(until: &str) -> String {
    match humantime::parse_rfc3339(until) {
        Ok(at) => {
            let last = at
                .checked_sub(std::time::Duration::from_micros(1))
                .unwrap_or(at);
            day_text(&crate::event::format_time(last))
        }
        Err(_) => day_text(until),
    }
}

fn header(page: &mut Page, report: &AuditReport) {
    page.raw("<header>\n<h1>Audit report</h1>\n<p class=\"meta\">Period <b>");
    page.text(&time_text(&report.period.since));
    page.raw("</b> to <b>");
    page.text(&time_text(&report.period.until));
    page.raw("</b> UTC (end excluded)");
    if let Some(key) = &report.key {
        page.raw(" · key <b>");
        page.text(key);
        page.raw("</b> only");
    }
    page.raw("</p>\n<p class=\"meta\">Audit folder <code>");
    page.text(&report.dir.display().to_string());
    page.raw("</code> · generated ");
    page.text(&time_text(&report.generated));
    page.raw(" UTC by ");
    page.text(&report.generator);
    page.raw("</p>\n</header>\n");
}

fn figure(page: &mut Page, value: u64, label: &'static str) {
    page.raw("<div class=\"figure\"><div class=\"v\" data-figure=\"");
    page.raw(label);
    page.raw("\">");
    page.num(value);
    page.raw("</div><div class=\"l\">");
    page.raw(label);
    page.raw("</div></div>\n");
}

fn glance(page: &mut Page, report: &AuditReport) {
    let totals = &report.totals;
    let f = &totals.figures;
    page.raw("<section>\n<h2>At a glance</h2>\n<div class=\"figures\">\n");
    figure(page, f.requests, "requests");
    figure(page, f.reads, "reads");
    figure(page, f.writes, "writes (create, update, delete)");
    figure(page, f.method_calls, "method calls");
    figure(page, f.denied, "denied");
    figure(page, f.errors, "failed (allowed)");
    figure(page, f.alerts, "alerts");
    figure(
        page,
        totals.failed_authentications,
        "failed authentications",
    );
    figure(page, totals.keys, "keys used");
    figure(page, report.profiles.len() as u64, "profiles");
    figure(page, totals.gaps, "gaps");
    figure(page, totals.events_lost, "events lost (gaps)");
    page.raw("</div>\n</section>\n");
}

fn verification(page: &mut Page, report: &AuditReport) {
    let v = &report.verification;
    let streams = &v.chains.streams;
    let anchors = v.chains.anchors.as_ref();
    page.raw("<section>\n<h2>Chain verification</h2>\n");
    let broken = streams.iter().filter(|s| s.problem.is_some()).count();
    if streams.is_empty() {
        page.raw("<div class=\"status bad\" data-verified=\"false\">NOT VERIFIED: the folder holds no audit files</div>\n");
    } else if v.ok {
        page.raw(
            "<div class=\"status ok\" data-verified=\"true\">VERIFIED: every chain is intact (",
        );
        page.num(streams.len() as u64);
        page.raw(if streams.len() == 1 {
            " stream, "
        } else {
            " streams, "
        });
        page.num(v.chains.events());
        page.raw(" events)</div>\n");
    } else if broken == 0 {
        page.raw("<div class=\"status bad\" data-verified=\"false\">BROKEN: the anchors file does not verify; see below</div>\n");
    } else {
        page.raw("<div class=\"status bad\" data-verified=\"false\">BROKEN: the chain does not verify in ");
        page.num(broken as u64);
        page.raw(" of ");
        page.num(streams.len() as u64);
        page.raw(" streams; see the first broken event below</div>\n");
    }
    page.raw("<p class=\"note\">Every file of the folder was checked, not only the period's: each line's hash link to the one before it and the stream's head");
    page.raw(if v.seal_checked {
        "; each line's seal, with the seal key given"
    } else {
        "; seals not checked (no seal key given)"
    });
    page.raw(if v.signatures_checked {
        "; each line's signature, the heads' and the checkpoints', with the public key given"
    } else {
        "; signatures not checked (no public key given)"
    });
    page.raw(". Record the head hashes elsewhere: a later report whose chains still lead to them proves that nothing before them was rewritten.</p>\n");
    if !streams.is_empty() {
        stream_table(page, streams, anchors.is_some());
    }
    page.raw("<div class=\"anchors\" id=\"anchors\">\n<h3>Anchors checked</h3>\n");
    match anchors {
        Some(anchors) => {
            page.raw(if anchors.problems.is_empty() {
                "<p data-anchors=\"checked\"><b>"
            } else {
                "<p data-anchors=\"broken\" class=\"bad\"><b>"
            });
            page.num(anchors.checkpoints);
            page.raw(if anchors.checkpoints == 1 {
                " checkpoint"
            } else {
                " checkpoints"
            });
            page.raw("</b> read from <code>");
            page.text(&anchors.file.display().to_string());
            page.raw("</code>, ");
            page.raw(if anchors.signatures_checked {
                "their signatures checked with the public key given"
            } else {
                "their signatures not checked (no public key given)"
            });
            page.raw(". Each stream must reach every checkpoint of its own: the column Checkpoints above counts those it reaches, and a stream that falls short of one is broken.</p>\n");
            for problem in &anchors.problems {
                page.raw("<p class=\"bad\">Problem: ");
                page.text(problem);
                page.raw("</p>\n");
            }
            for warning in &anchors.warnings {
                page.raw("<p class=\"note\">Warning: ");
                page.text(warning);
                page.raw("</p>\n");
            }
        }
        None => page.raw(
            "<p data-anchors=\"none\"><b>None checked:</b> no anchors file was given (<code>--anchors FILE</code>: the checkpoints the gateway appends outside this folder, or those the webhook's receiver kept). The chains were checked against themselves and their head files only; the head hashes above, kept somewhere this folder's writers cannot change, serve as anchors for a later check.</p>\n",
        ),
    }
    page.raw("</div>\n</section>\n");
}

/// Each stream's verification: status, files, events, checkpoints reached (with an anchors
/// file), head hash, the first problem and the warnings.
fn stream_table(page: &mut Page, streams: &[crate::verify::StreamReport], anchored: bool) {
    page.raw("<table>\n");
    if anchored {
        page.th(&[
            "Stream",
            "Status",
            "#Files",
            "#Events",
            "#Checkpoints",
            "Head hash (last verified line)",
        ]);
    } else {
        page.th(&[
            "Stream",
            "Status",
            "#Files",
            "#Events",
            "Head hash (last verified line)",
        ]);
    }
    let span: &'static str = if anchored { "5" } else { "4" };
    for stream in streams {
        page.raw("<tr>");
        page.cell(&stream.stream);
        if stream.problem.is_some() {
            page.raw("<td class=\"bad\"><b>BROKEN</b></td>");
        } else {
            page.raw("<td class=\"ok\"><b>ok</b></td>");
        }
        page.cell_num(stream.files);
        page.cell_num(stream.events);
        if anchored {
            page.cell_num(stream.checkpoints);
        }
        page.raw("<td class=\"hash\">");
        page.text(stream.head.as_deref().unwrap_or("–"));
        page.raw("</td></tr>\n");
        if let Some(problem) = &stream.problem {
            page.raw("<tr><td></td><td class=\"bad\" colspan=\"");
            page.raw(span);
            page.raw("\">First broken event: ");
            page.text(&problem.file);
            if let Some(line) = problem.line {
                page.raw(", line ");
                page.num(line);
            }
            if let Some(seq) = problem.seq {
                page.raw(", seq ");
                page.num(seq);
            }
            if let Some(id) = &problem.event_id {
                page.raw(", event ");
                page.text(id);
            }
            page.raw(": ");
            page.text(&problem.reason);
            page.raw("</td></tr>\n");
        }
        for warning in &stream.warnings {
            page.raw("<tr><td></td><td class=\"note\" colspan=\"");
            page.raw(span);
            page.raw("\">Warning: ");
            page.text(warning);
            page.raw("</td></tr>\n");
        }
    }
    page.raw("</tbody></table>\n");
}

/// A "nice" step (1, 2 or 5 times a power of ten) for about four grid lines up to `max`.
fn nice_step(max: u64) -> u64 {
    let target = max.div_ceil(4).max(1);
    let mut power = 1u64;
    loop {
        for factor in [1, 2, 5] {
            let step = power.saturating_mul(factor);
            if step >= target {
                return step;
            }
        }
        if power > u64::MAX / 10 {
            return u64::MAX;
        }
        power *= 10;
    }
}

/// The daily series in at most [`MAX_BARS`] bars: (first day, figures summed).
fn buckets(days: &[Day]) -> (usize, Vec<(String, Day)>) {
    let per = days.len().div_ceil(MAX_BARS).max(1);
    let bars = days
        .chunks(per)
        .map(|chunk| {
            let mut sum = Day::default();
            for day in chunk {
                sum.requests += day.requests;
                sum.ok += day.ok;
                sum.errors += day.errors;
                sum.denied += day.denied;
                sum.writes += day.writes;
                sum.alerts += day.alerts;
            }
            (chunk[0].day.clone(), sum)
        })
        .collect();
    (per, bars)
}

const OK_COLOUR: &str = "#4f7cc0";
const ERROR_COLOUR: &str = "#e3a21a";
const DENIED_COLOUR: &str = "#c4392f";
const ALERT_COLOUR: &str = "#6a3d9a";

fn legend_square(page: &mut Page, colour: &'static str, label: &'static str) {
    page.raw("<span><svg width=\"10\" height=\"10\" aria-hidden=\"true\"><rect width=\"10\" height=\"10\" fill=\"");
    page.raw(colour);
    page.raw("\"/></svg> ");
    page.raw(label);
    page.raw("</span>");
}

#[allow(clippy::cast_precision_loss)] // counts far below 2^52 draw the same
fn chart(page: &mut Page, report: &AuditReport) {
    const WIDTH: f64 = 1000.0;
    const HEIGHT: f64 = 250.0;
    const LEFT: f64 = 58.0;
    const RIGHT: f64 = 8.0;
    const TOP: f64 = 22.0;
    const BOTTOM: f64 = 34.0;
    let (per, bars) = buckets(&report.daily);
    page.raw("<section>\n<h2>Activity</h2>\n<figure>\n");
    page.raw("<svg viewBox=\"0 0 1000 250\" width=\"100%\" role=\"img\" aria-labelledby=\"chart-title\" xmlns=\"http://www.w3.org/2000/svg\" font-size=\"11\">\n<title id=\"chart-title\">Requests per ");
    if per == 1 {
        page.raw("day");
    } else {
        page.num(per as u64);
        page.raw(" days");
    }
    page.raw(", allowed, failed and denied, and alerts</title>\n");
    let max = bars.iter().map(|(_, d)| d.requests).max().unwrap_or(0);
    let step = nice_step(max);
    let top = step.saturating_mul(max.div_ceil(step).max(1));
    let plot_height = HEIGHT - TOP - BOTTOM;
    let y = |value: u64| HEIGHT - BOTTOM - plot_height * (value as f64 / top as f64);
    // Grid lines and their labels.
    let mut tick = 0u64;
    for _ in 0..=8 {
        if tick > top {
            break;
        }
        page.raw("<line x1=\"");
        page.coord(LEFT);
        page.raw("\" x2=\"");
        page.coord(WIDTH - RIGHT);
        page.raw("\" y1=\"");
        page.coord(y(tick));
        page.raw("\" y2=\"");
        page.coord(y(tick));
        page.raw(if tick == 0 {
            "\" stroke=\"#555\" stroke-width=\"1\"/>\n"
        } else {
            "\" stroke=\"#ddd\" stroke-width=\"1\"/>\n"
        });
        page.raw("<text x=\"");
        page.coord(LEFT - 6.0);
        page.raw("\" y=\"");
        page.coord(y(tick) + 4.0);
        page.raw("\" text-anchor=\"end\" fill=\"#333\">");
        page.num(tick);
        page.raw("</text>\n");
        tick = tick.saturating_add(step);
    }
    let count = bars.len().max(1) as f64;
    let slot = (WIDTH - LEFT - RIGHT) / count;
    let bar = (slot * 0.78).max(1.0);
    let label_every = bars.len().div_ceil(12).max(1);
    for (index, (first, day)) in bars.iter().enumerate() {
        let x = LEFT + slot * index as f64 + (slot - bar) / 2.0;
        page.raw("<g data-day=\"");
        page.text(first);
        page.raw("\" data-requests=\"");
        page.out.push_str(&day.requests.to_string());
        page.raw("\"><title>");
        page.text(first);
        if per > 1 {
            page.raw(" (");
            page.num(per as u64);
            page.raw(" days)");
        }
        page.raw(": ");
        page.num(day.requests);
        page.raw(" requests (");
        page.num(day.ok);
        page.raw(" ok, ");
        page.num(day.errors);
        page.raw(" failed, ");
        page.num(day.denied);
        page.raw(" denied), ");
        page.num(day.writes);
        page.raw(" writes, ");
        page.num(day.alerts);
        page.raw(" alerts</title>");
        let mut base = 0u64;
        for (value, colour) in [
            (day.ok, OK_COLOUR),
            (day.errors, ERROR_COLOUR),
            (day.denied, DENIED_COLOUR),
        ] {
            if value == 0 {
                continue;
            }
            let (low, high) = (y(base), y(base + value));
            page.raw("<rect x=\"");
            page.coord(x);
            page.raw("\" y=\"");
            page.coord(high);
            page.raw("\" width=\"");
            page.coord(bar);
            page.raw("\" height=\"");
            page.coord((low - high).max(0.5));
            page.raw("\" fill=\"");
            page.raw(colour);
            page.raw("\"/>");
            base += value;
        }
        if day.alerts > 0 {
            let cx = x + bar / 2.0;
            let cy = (y(day.requests) - 8.0).max(6.0);
            page.raw("<path d=\"M");
            page.coord(cx);
            page.raw(" ");
            page.coord(cy - 5.0);
            page.raw(" L");
            page.coord(cx + 5.0);
            page.raw(" ");
            page.coord(cy);
            page.raw(" L");
            page.coord(cx);
            page.raw(" ");
            page.coord(cy + 5.0);
            page.raw(" L");
            page.coord(cx - 5.0);
            page.raw(" ");
            page.coord(cy);
            page.raw(" Z\" fill=\"");
            page.raw(ALERT_COLOUR);
            page.raw("\"/>");
        }
        page.raw("</g>\n");
        if index % label_every == 0 {
            page.raw("<text x=\"");
            page.coord(x + bar / 2.0);
            page.raw("\" y=\"");
            page.coord(HEIGHT - BOTTOM + 16.0);
            page.raw("\" text-anchor=\"middle\" fill=\"#333\">");
            page.text(first.get(5..).unwrap_or(first));
            page.raw("</text>\n");
        }
    }
    page.raw("</svg>\n<figcaption><div class=\"legend\">");
    legend_square(page, OK_COLOUR, "allowed, ok");
    legend_square(page, ERROR_COLOUR, "allowed, failed");
    legend_square(page, DENIED_COLOUR, "denied");
    page.raw("<span><svg width=\"10\" height=\"10\" aria-hidden=\"true\"><path d=\"M5 0 L10 5 L5 10 L0 5 Z\" fill=\"");
    page.raw(ALERT_COLOUR);
    page.raw("\"/></svg> alerts that day</span></div>Requests per ");
    if per == 1 {
        page.raw("day");
    } else {
        page.num(per as u64);
        page.raw(" days");
    }
    page.raw(" (UTC), ");
    if let (Some(first), Some(last)) = (report.daily.first(), report.daily.last()) {
        page.text(&first.day);
        page.raw(" to ");
        page.text(&last.day);
        page.raw(". ");
    }
    page.raw("Busiest ");
    page.raw(if per == 1 { "day" } else { "bar" });
    page.raw(": ");
    page.num(max);
    page.raw(" requests.</figcaption>\n</figure>\n</section>\n");
}

/// A key's name and id (a profile's name): in a table cell, the id on a line of its own.
fn key_label(page: &mut Page, activity: &Activity, in_cell: bool) {
    match &activity.name {
        Some(name) if *name != activity.id => {
            page.text(name);
            page.raw(if in_cell {
                "<br><span class=\"note\">"
            } else {
                " <span class=\"note\">"
            });
            page.text(&activity.id);
            page.raw("</span>");
        }
        _ => page.text(&activity.id),
    }
}

/// The records read over every model: a sum of distinct counts (each model's ids are its own).
fn records_read(activity: &Activity) -> Distinct {
    activity.models.iter().fold(
        Distinct {
            count: 0,
            exact: true,
        },
        |sum, m| Distinct {
            count: sum.count + m.records_read.count,
            exact: sum.exact && m.records_read.exact,
        },
    )
}

fn figures_cells(page: &mut Page, figures: &Figures) {
    page.cell_num(figures.requests);
    page.cell_num(figures.reads);
    page.cell_num(figures.writes);
    page.cell_num(figures.denied);
    page.cell_num(figures.errors);
    page.cell_num(figures.alerts);
}

fn activity_table(page: &mut Page, activities: &[Activity], keys: bool) {
    page.raw("<table>\n");
    if keys {
        page.th(&[
            "Key",
            "Profile",
            "#Requests",
            "#Reads",
            "#Writes",
            "#Denied",
            "#Failed",
            "#Alerts",
            "#Records read",
            "#Addresses",
        ]);
    } else {
        page.th(&[
            "Profile",
            "Keys",
            "#Requests",
            "#Reads",
            "#Writes",
            "#Denied",
            "#Failed",
            "#Alerts",
            "#Records read",
            "#Addresses",
        ]);
    }
    for activity in activities {
        page.raw("<tr>");
        page.td_for(activity.name.as_deref().unwrap_or(&activity.id));
        key_label(page, activity, true);
        page.raw("</td>");
        page.td_for(&activity.related.join(" "));
        related(page, activity);
        page.raw("</td>");
        figures_cells(page, &activity.figures);
        page.cell_distinct(records_read(activity));
        page.cell_distinct(activity.addresses);
        page.raw("</tr>\n");
    }
    page.raw("</tbody></table>\n");
}

fn related(page: &mut Page, activity: &Activity) {
    for (index, name) in activity.related.iter().enumerate() {
        if index > 0 {
            page.raw(", ");
        }
        page.text(name);
    }
}

fn models_table(page: &mut Page, models: &[ModelFigures]) {
    page.raw("<table>\n");
    page.th(&[
        "Model",
        "#Requests",
        "#Reads",
        "#Distinct records read",
        "#Writes",
        "#Distinct records changed",
        "#Denied",
        "#Failed",
    ]);
    for model in models.iter().take(MAX_MODELS_SHOWN) {
        page.raw("<tr>");
        page.cell(&model.model);
        page.cell_num(model.figures.requests);
        page.cell_num(model.figures.reads);
        page.cell_distinct(model.records_read);
        page.cell_num(model.figures.writes);
        page.cell_distinct(model.records_changed);
        page.cell_num(model.figures.denied);
        page.cell_num(model.figures.errors);
        page.raw("</tr>\n");
    }
    page.raw("</tbody></table>\n");
    if models.len() > MAX_MODELS_SHOWN {
        page.raw("<p class=\"more\">and ");
        page.num((models.len() - MAX_MODELS_SHOWN) as u64);
        page.raw(" more models (the JSON form of the report lists them all).</p>\n");
    }
}

fn counts_table(page: &mut Page, header: &'static str, counts: &[super::Count]) {
    page.raw("<table>\n");
    page.th(&[header, "#Count"]);
    for count in counts {
        page.raw("<tr>");
        page.cell(&count.name);
        page.cell_num(count.count);
        page.raw("</tr>\n");
    }
    page.raw("</tbody></table>\n");
}

fn detail(page: &mut Page, activity: &Activity, keys: bool) {
    page.raw("<div class=\"detail\">\n<h3>");
    page.raw(if keys { "Key " } else { "Profile " });
    key_label(page, activity, false);
    page.raw("</h3>\n<p class=\"note\">");
    if !activity.related.is_empty() {
        page.raw(if keys { "Profile " } else { "Keys " });
        related(page, activity);
        page.raw(" · ");
    }
    page.raw("first event ");
    page.text(
        &activity
            .first
            .as_deref()
            .map_or_else(|| "–".to_owned(), time_text),
    );
    page.raw(", last ");
    page.text(
        &activity
            .last
            .as_deref()
            .map_or_else(|| "–".to_owned(), time_text),
    );
    page.raw(" · ");
    page.num(activity.figures.requests);
    page.raw(" requests, ");
    page.num(activity.figures.method_calls);
    page.raw(" method calls, ");
    page.num(activity.failed_authentications);
    page.raw(" failed authentications</p>\n");
    if !activity.models.is_empty() {
        models_table(page, &activity.models);
    }
    if !activity.rules.is_empty() {
        page.raw("<p><b>Denials by rule</b></p>\n");
        counts_table(page, "Rule (decision.rule)", &activity.rules);
    }
    if !activity.alert_names.is_empty() {
        page.raw("<p><b>Alerts</b></p>\n");
        counts_table(page, "Alert", &activity.alert_names);
    }
    page.raw("</div>\n");
}

fn activities(page: &mut Page, report: &AuditReport) {
    page.raw("<section class=\"pagebreak\">\n<h2>Keys</h2>\n");
    if report.keys.is_empty() {
        page.raw("<p>No request in the period.</p>\n");
    } else {
        activity_table(page, &report.keys, true);
    }
    page.raw("<h2>Profiles</h2>\n");
    if report.profiles.is_empty() {
        page.raw("<p>No request in the period.</p>\n");
    } else {
        activity_table(page, &report.profiles, false);
    }
    page.raw("<p class=\"note\">Requests count every request, allowed or denied; reads, writes (create, update, delete) and method calls count those allowed that succeeded; failed counts those allowed that failed. Records read: distinct record ids per model, summed over the models; ≥ marks a count that may be higher (an event lists the first 100 ids of the records it named or returned). (none): requests without a key or a profile: failed authentications and requests refused before authentication.</p>\n</section>\n");
    for (title, list, keys) in [
        ("<h2>Per key</h2>\n", &report.keys, true),
        ("<h2>Per profile</h2>\n", &report.profiles, false),
    ] {
        if list.is_empty() {
            continue;
        }
        page.raw("<section class=\"pagebreak\">\n");
        page.raw(title);
        for activity in list.iter().take(MAX_DETAILED) {
            detail(page, activity, keys);
        }
        if list.len() > MAX_DETAILED {
            page.raw("<p class=\"more\">and ");
            page.num((list.len() - MAX_DETAILED) as u64);
            page.raw(" more, with fewer requests (the tables above and the JSON form have them all).</p>\n");
        }
        page.raw("</section>\n");
    }
}

/// The command that lists all the events of a listing.
fn search_hint(page: &mut Page, report: &AuditReport, what: &'static str) {
    page.raw("<code>odoo-warden audit search ");
    page.text(&shell_word(&report.dir.display().to_string()));
    page.raw(" ");
    page.raw(what);
    page.raw(" --since ");
    page.text(&report.period.since);
    page.raw(" --until ");
    page.text(&report.period.until);
    if let Some(key) = &report.key {
        page.raw(" --key ");
        page.text(&shell_word(key));
    }
    page.raw("</code>");
}

/// `text` as one word of a POSIX shell command: as it is when it is plain, else single-quoted.
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | ':' | '+' | ',')
        });
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

fn listing_more(page: &mut Page, report: &AuditReport, listing: &Listing, what: &'static str) {
    page.raw("<p class=\"more\" data-more=\"");
    page.out.push_str(&listing.more().to_string());
    page.raw("\">");
    if listing.more() > 0 {
        page.raw("and ");
        page.num(listing.more());
        page.raw(" more, not listed (");
        page.num(listing.total);
        page.raw(" in all). List them all with ");
    } else {
        page.num(listing.total);
        page.raw(" in all, every one listed. Their full events: ");
    }
    search_hint(page, report, what);
    page.raw("</p>\n");
}

fn who(page: &mut Page, event: &Listed) {
    page.cell_opt(event.key_name.as_deref().or(event.key_id.as_deref()));
}

fn listings(page: &mut Page, report: &AuditReport) {
    page.raw("<section class=\"pagebreak\">\n<h2>Denied requests</h2>\n");
    if report.denied.total == 0 {
        page.raw("<p data-more=\"0\">None in the period.</p>\n");
    } else {
        page.raw("<table class=\"events\">\n");
        page.th(&[
            "Time (UTC)",
            "Key",
            "Profile",
            "Address",
            "Tool or method",
            "Model",
            "Rule",
            "Reason",
        ]);
        for event in &report.denied.listed {
            page.raw("<tr>");
            page.cell_time(&event.time);
            who(page, event);
            page.cell_opt(event.profile.as_deref());
            page.cell_opt(event.client_ip.as_deref());
            page.cell_opt(event.what.as_deref());
            page.cell_opt(event.model.as_deref());
            page.cell_wide(event.rule.as_deref());
            page.cell_opt(event.reason.as_deref());
            page.raw("</tr>\n");
        }
        page.raw("</tbody></table>\n");
        listing_more(page, report, &report.denied, "--outcome denied");
    }
    page.raw("<h2>Alerts</h2>\n");
    if report.alerts.total == 0 {
        page.raw("<p data-more=\"0\">None in the period.</p>\n");
    } else {
        page.raw("<table class=\"events\">\n");
        page.th(&["Time (UTC)", "Alert", "Key", "Address", "Message", "#Count"]);
        for event in &report.alerts.listed {
            page.raw("<tr>");
            page.cell_time(&event.time);
            page.cell_opt(event.what.as_deref());
            who(page, event);
            page.cell_opt(event.client_ip.as_deref());
            page.cell_wide(event.reason.as_deref());
            match event.count {
                Some(count) => page.cell_num(count),
                None => page.raw("<td class=\"n\">–</td>"),
            }
            page.raw("</tr>\n");
        }
        page.raw("</tbody></table>\n");
        listing_more(page, report, &report.alerts, "--kind alert");
    }
    page.raw("<h2>Gaps</h2>\n");
    if report.gaps.total == 0 {
        page.raw("<p>None in the period: no sink reported events it could not record.</p>\n");
    } else {
        page.raw("<p class=\"bad\">A sink could not record some events; each gap says how many and why.</p>\n<table class=\"events\">\n");
        page.th(&["Time (UTC)", "Sink", "#Events lost", "Reason"]);
        for event in &report.gaps.listed {
            page.raw("<tr>");
            page.cell_time(&event.time);
            page.cell_opt(event.what.as_deref());
            page.cell_num(event.count.unwrap_or(0));
            page.cell_opt(event.reason.as_deref());
            page.raw("</tr>\n");
        }
        page.raw("</tbody></table>\n");
        listing_more(page, report, &report.gaps, "--kind gap");
    }
    page.raw("</section>\n");
}

fn notes(page: &mut Page, report: &AuditReport) {
    page.raw("<section>\n<h2>About this report</h2>\n<p class=\"note\">Read from ");
    page.num(report.scan.files);
    page.raw(" files (");
    page.num(report.scan.lines);
    page.raw(" lines, ");
    page.num(report.scan.bytes);
    page.raw(" bytes); files of days outside the period were not opened. ");
    page.num(report.totals.events);
    page.raw(" events fall in the period. Times are UTC. ");
    if report.scan.unreadable > 0 {
        page.raw("<b class=\"bad\">");
        page.num(report.scan.unreadable);
        page.raw(" lines are not audit events and were left out</b> (the chain verification above says whether a line was changed). ");
    }
    page.raw("The figures and every listed event come from the audit files only; regenerate them with <code>odoo-warden audit report ");
    page.text(&shell_word(&report.dir.display().to_string()));
    page.raw(" --since ");
    page.text(&report.period.since);
    page.raw(" --until ");
    page.text(&report.period.until);
    if let Some(key) = &report.key {
        page.raw(" --key ");
        page.text(&shell_word(key));
    }
    page.raw(" --json</code>.</p>\n");
    if !report.limits.is_empty() {
        page.raw("<p class=\"note\"><b>Limits reached:</b></p>\n<ul class=\"note\">\n");
        for limit in &report.limits {
            page.raw("<li>");
            page.text(limit);
            page.raw("</li>\n");
        }
        page.raw("</ul>\n");
    }
    page.raw("<div class=\"sign\"><div>Reviewed by (name, role)</div><div>Date</div><div>Signature</div></div>\n");
    page.raw("<footer>odoo-warden audit report, format ");
    page.num(u64::from(report.report_version));
    page.raw(" · ");
    page.text(&report.generator);
    page.raw("</footer>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = String::new();
        escape_into(&mut out, text, MAX_TEXT);
        out
    }

    #[test]
    fn text_is_escaped_and_disguises_are_shown() {
        assert_eq!(
            escaped("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(escaped("abc\u{202e}fed"), "abc[U+202E]fed");
        assert_eq!(escaped("a\nb\u{0}"), "a[U+000A]b[U+0000]");
        assert_eq!(escaped("zero\u{200b}width"), "zero[U+200B]width");
        assert_eq!(escaped("res.partner"), "res.partner");
        let long = "x".repeat(MAX_TEXT + 40);
        let cut = escaped(&long);
        assert!(cut.starts_with(&"x".repeat(MAX_TEXT)));
        assert!(
            cut.ends_with(&format!("… ({} characters)", MAX_TEXT + 40)),
            "{cut}"
        );
    }

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(
            shell_word("/var/lib/odoo-warden/audit"),
            "/var/lib/odoo-warden/audit"
        );
        assert_eq!(shell_word("/tmp/my audit"), "'/tmp/my audit'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn numbers_have_thousands_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn grid_steps_are_round() {
        assert_eq!(nice_step(0), 1);
        assert_eq!(nice_step(4), 1);
        assert_eq!(nice_step(7), 2);
        assert_eq!(nice_step(19), 5);
        assert_eq!(nice_step(1000), 500);
        assert_eq!(nice_step(33_333), 10_000);
    }

    #[test]
    fn long_periods_are_drawn_in_bars_of_several_days() {
        let days: Vec<Day> = (0..365)
            .map(|n| Day {
                day: format!("d{n:03}"),
                requests: 1,
                ..Day::default()
            })
            .collect();
        let (per, bars) = buckets(&days);
        assert_eq!(per, 4);
        assert!(bars.len() <= MAX_BARS);
        assert_eq!(bars.iter().map(|(_, d)| d.requests).sum::<u64>(), 365);
        assert_eq!(bars[1].0, "d004");
    }
}
