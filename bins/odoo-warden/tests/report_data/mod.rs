//! A week of audit events with known figures, for the tests of `audit report` (and its rendering
//! in Chromium): two keys in two profiles, reads, writes, denials by two rules, a failed request,
//! failed authentications, three alerts, a gap, events just outside the week, and hostile text
//! (markup, a bidirectional override) in a denied request's model and rule.

#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use warden_audit::event::{Alert, Gap};
use warden_audit::jsonl::Clock;
use warden_audit::signing::SigningKey;
use warden_audit::{AuditEvent, Decision, JsonlConfig, JsonlSink, Outcome, Sink};

/// 2026-12-01T00:00:00Z: the week's first day.
pub const WEEK_START: u64 = 1_796_083_200;
/// The week's bounds as `--since`/`--until` take them.
pub const SINCE: &str = "2026-12-01";
pub const UNTIL: &str = "2026-12-08";

/// The sales key.
pub const SALES_ID: &str = "k_000000000001";
pub const SALES: &str = "claude-sales";
/// The reporting key.
pub const BOT_ID: &str = "k_000000000002";
pub const BOT: &str = "reporting-bot";

/// A denied request's model and rule, as a caller could make them.
pub const HOSTILE_MODEL: &str = "<img src=x onerror=alert(1)>";
pub const HOSTILE_RULE: &str = "<b id=\"injected\">boom</b>\u{202e}gnp.exe";

/// The figures the week must give.
#[derive(Debug, Default, Clone, Copy)]
pub struct Expected {
    pub requests: u64,
    pub reads: u64,
    pub writes: u64,
    pub denied: u64,
    pub errors: u64,
    pub alerts: u64,
    pub failed_authentications: u64,
    pub gaps: u64,
    pub events_lost: u64,
    pub sales_requests: u64,
    pub sales_denied: u64,
    pub sales_partner_reads: u64,
    /// Distinct res.partner records the sales key read.
    pub sales_partners_read: u64,
    pub sales_hr_denied: u64,
    pub bot_requests: u64,
    pub bot_rate_limited: u64,
    /// Requests of each day, the 1st to the 7th.
    pub daily: [u64; 7],
}

/// A clock the writer sets to each event's time (files rotate by day as in production).
#[derive(Clone)]
struct Settable(Arc<Mutex<SystemTime>>);

impl Clock for Settable {
    fn now(&self) -> SystemTime {
        *self.0.lock().expect("clock")
    }
}

fn at(day: u64, hour: u64, minute: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH
        + Duration::from_secs(WEEK_START + day * 86_400 + hour * 3600 + minute * 60)
}

fn request(time: SystemTime, key: Option<(&str, &str)>, profile: Option<&str>) -> AuditEvent {
    let mut event = AuditEvent::request(time, "tools/call");
    if let Some((id, name)) = key {
        event.key_id = Some(id.to_owned());
        event.key_name = Some(name.to_owned());
    }
    event.profile = profile.map(str::to_owned);
    event.transport = Some("http".to_owned());
    event
}

fn sales(time: SystemTime) -> AuditEvent {
    let mut event = request(time, Some((SALES_ID, SALES)), Some("sales-agent"));
    event.client_ip = Some("10.0.0.5".to_owned());
    event
}

fn bot(time: SystemTime) -> AuditEvent {
    let mut event = request(time, Some((BOT_ID, BOT)), Some("reporting"));
    event.client_ip = Some("10.0.0.9".to_owned());
    event
}

fn alert(time: SystemTime, name: &str, key: (&str, &str), profile: &str) -> AuditEvent {
    let mut event = AuditEvent::alert(
        time,
        Alert {
            name: name.to_owned(),
            message: format!("key {} raised {name}", key.0),
            count: (name == "denied_burst").then_some(10),
            window_s: (name == "denied_burst").then_some(60),
        },
    );
    event.key_id = Some(key.0.to_owned());
    event.key_name = Some(key.1.to_owned());
    event.profile = Some(profile.to_owned());
    event
}

/// The week's events in time order, and what they add up to.
pub fn week() -> (Vec<AuditEvent>, Expected) {
    let mut events = Vec::new();
    let mut x = Expected::default();
    let mut partners = std::collections::HashSet::new();
    // Just before the week: not counted.
    let mut before = sales(at(0, 0, 0) - Duration::from_secs(3600));
    before.tool = Some("search_records".to_owned());
    before.model = Some("res.partner".to_owned());
    events.push(before);
    for day in 0..7u64 {
        let mut today = Vec::new();
        // The sales key reads partners from 09:00, three records each, overlapping.
        for i in 0..20 + day * 5 {
            let mut event = sales(at(day, 9, i));
            event.tool = Some("search_records".to_owned());
            event.model = Some("res.partner".to_owned());
            event.operation = Some("read".to_owned());
            event.odoo_method = Some("search_read".to_owned());
            let first = i64::try_from(i).expect("small");
            event.set_record_ids(first + 1..=first + 3);
            partners.extend(first + 1..=first + 3);
            x.sales_partner_reads += 1;
            today.push(event);
        }
        // Two writes on sale.order at 11:00.
        for i in 0..2 {
            let mut event = sales(at(day, 11, i));
            event.tool = Some("update_record".to_owned());
            event.model = Some("sale.order".to_owned());
            event.operation = Some("write".to_owned());
            event.odoo_method = Some("write".to_owned());
            event.set_record_ids([100 + i64::try_from(day).expect("small")]);
            x.writes += 1;
            today.push(event);
        }
        // `day` denials on hr.employee at 12:00.
        for i in 0..day {
            let mut event = sales(at(day, 12, i));
            event.tool = Some("read_records".to_owned());
            event.model = Some("hr.employee".to_owned());
            event.operation = Some("read".to_owned());
            event.decision = Some(Decision::deny(
                "profile \"sales-agent\": models.deny hr.*",
                "forbidden",
            ));
            event.outcome = Some(Outcome::error("forbidden"));
            x.sales_hr_denied += 1;
            today.push(event);
        }
        // The reporting key reads 150 invoices ten times at 14:00 (ids: the first 100 listed).
        for i in 0..10 {
            let mut event = bot(at(day, 14, i));
            event.tool = Some("search_records".to_owned());
            event.model = Some("account.move".to_owned());
            event.operation = Some("read".to_owned());
            event.set_record_ids(1..=150);
            today.push(event);
        }
        match day {
            1 => {
                // Late at night: an off-hours alert.
                let mut event = sales(at(day, 22, 0));
                event.tool = Some("search_records".to_owned());
                event.model = Some("res.partner".to_owned());
                event.operation = Some("read".to_owned());
                event.set_record_ids([1]);
                x.sales_partner_reads += 1;
                today.push(event);
                today.push(alert(
                    at(day, 22, 0),
                    "off_hours",
                    (SALES_ID, SALES),
                    "sales-agent",
                ));
            }
            2 => {
                let mut event = sales(at(day, 10, 0));
                event.tool = Some("read_records".to_owned());
                event.model = Some("res.partner".to_owned());
                event.operation = Some("read".to_owned());
                event.outcome = Some(Outcome::error("access_error"));
                x.errors += 1;
                today.push(event);
                today.push(AuditEvent::gap(
                    at(day, 15, 0),
                    Gap {
                        sink: "webhook".to_owned(),
                        dropped: 3,
                        since: "2026-12-03T14:59:00Z".to_owned(),
                        reason: "queue full".to_owned(),
                    },
                ));
            }
            3 => {
                for i in 0..4 {
                    let mut event = bot(at(day, 16, i));
                    event.tool = Some("search_records".to_owned());
                    event.model = Some("account.move".to_owned());
                    event.decision = Some(Decision::deny(
                        "rate_limits.per_key_per_minute",
                        "rate_limited",
                    ));
                    event.outcome = Some(Outcome::error("rate_limited"));
                    x.bot_rate_limited += 1;
                    today.push(event);
                }
                today.push(alert(
                    at(day, 12, 30),
                    "denied_burst",
                    (SALES_ID, SALES),
                    "sales-agent",
                ));
            }
            4 => {
                for i in 0..2 {
                    let mut event = request(at(day, 3, i), None, None);
                    event.method = Some("authenticate".to_owned());
                    event.client_ip = Some("203.0.113.9".to_owned());
                    event.decision = Some(Decision::deny("keys", "invalid key"));
                    event.outcome = Some(Outcome::error("unauthenticated"));
                    x.failed_authentications += 1;
                    today.push(event);
                }
            }
            5 => {
                let mut event = sales(at(day, 13, 0));
                event.tool = Some("read_records".to_owned());
                event.model = Some(HOSTILE_MODEL.to_owned());
                event.decision = Some(Decision::deny(HOSTILE_RULE, "forbidden"));
                event.outcome = Some(Outcome::error("forbidden"));
                today.push(event);
                let mut moved = bot(at(day, 14, 30));
                moved.client_ip = Some("10.0.0.77".to_owned());
                moved.method = Some("tools/list".to_owned());
                today.push(moved);
                today.push(alert(at(day, 14, 30), "new_ip", (BOT_ID, BOT), "reporting"));
            }
            _ => {}
        }
        today.sort_by(|a, b| a.time.cmp(&b.time));
        x.daily[usize::try_from(day).expect("small")] = today
            .iter()
            .filter(|e| e.alert.is_none() && e.gap.is_none())
            .count() as u64;
        events.extend(today);
    }
    // Just after the week: not counted.
    let mut after = bot(at(7, 1, 0));
    after.tool = Some("search_records".to_owned());
    events.push(after);

    let week: Vec<&AuditEvent> = events[1..events.len() - 1].iter().collect();
    let requests: Vec<&&AuditEvent> = week.iter().filter(|e| e.decision.is_some()).collect();
    x.requests = requests.len() as u64;
    x.denied = requests.iter().filter(|e| e.denied()).count() as u64;
    x.reads = requests
        .iter()
        .filter(|e| {
            !e.denied() && e.error_kind().is_none() && e.operation.as_deref() == Some("read")
        })
        .count() as u64;
    x.alerts = week.iter().filter(|e| e.alert.is_some()).count() as u64;
    x.gaps = 1;
    x.events_lost = 3;
    x.sales_requests = requests
        .iter()
        .filter(|e| e.key_id.as_deref() == Some(SALES_ID))
        .count() as u64;
    x.sales_denied = requests
        .iter()
        .filter(|e| e.key_id.as_deref() == Some(SALES_ID) && e.denied())
        .count() as u64;
    x.bot_requests = requests
        .iter()
        .filter(|e| e.key_id.as_deref() == Some(BOT_ID))
        .count() as u64;
    x.sales_partners_read = partners.len() as u64;
    (events, x)
}

/// Writes the week into `dir` through the JSONL sink (a file per day), and returns its figures.
pub fn write_week(dir: &Path) -> Expected {
    write_week_with(dir, |_| {})
}

/// Writes the week into `dir` signed with `key`, its checkpoints appended to `anchors`.
pub fn write_week_signed(dir: &Path, key: SigningKey, anchors: &Path) -> Expected {
    write_week_with(dir, |config| {
        config.signer = Some(key);
        config.anchors_file = Some(anchors.to_owned());
    })
}

/// Writes the week into `dir` through a sink `configure` adjusts.
pub fn write_week_with(dir: &Path, configure: impl FnOnce(&mut JsonlConfig)) -> Expected {
    let (events, expected) = week();
    let clock = Settable(Arc::new(Mutex::new(SystemTime::UNIX_EPOCH)));
    *clock.0.lock().expect("clock") = events[0].timestamp().expect("time");
    let mut config = JsonlConfig::new(dir);
    config.clock = Arc::new(clock.clone());
    configure(&mut config);
    let mut sink = JsonlSink::open(config).expect("open the sink");
    for event in events {
        *clock.0.lock().expect("clock") = event.timestamp().expect("time");
        sink.write(&[Arc::new(event)]).expect("write");
    }
    sink.close().expect("close");
    expected
}

/// `1234567` as `1,234,567`, as the page writes numbers.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}
