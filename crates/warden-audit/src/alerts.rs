//! Alerts: patterns in the recorded requests that an operator should look at, recorded as
//! events of their own (kind `alert`) in every sink, the webhook included.
//!
//! - `denied_burst`: a key had `count` denied requests within `window`;
//! - `failed_auth_burst`: an address presented `count` invalid keys within `window`;
//! - `rate_limited_burst`: a key hit a rate limit `count` times within `window`;
//! - `new_ip`: a key was used from an address it had not used since the gateway started (its
//!   first address is the baseline, not an alert);
//! - `off_hours`: a key was used between `start` and `end` o'clock at the configured UTC offset
//!   (and, if set, on weekends).
//!
//! Each alert is raised once per window for the same key or address, so a burst gives one alert,
//! not one per request. State is bounded: at most [`MAX_TRACKED`] keys and addresses are tracked.
//!
//! In a fleet, the windows of the bursts and the addresses of `new_ip` are shared
//! ([`SharedWindows`], injected with [`crate::AuditorBuilder::shared_alerts`]): the detector
//! still keeps its own windows ([`AlertDetector::checks`] says what they decided), and the
//! pipeline raises what the shared windows decide, or what its own decided when the store does
//! not answer. `off_hours` is decided by each process.

use std::future::Future;
use std::pin::Pin;

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, SystemTime};

use crate::event::{Alert, AuditEvent, EventKind};

/// Most keys or addresses whose recent history is kept for each alert.
pub const MAX_TRACKED: usize = 10_000;
/// Most addresses remembered per key for `new_ip`.
pub const MAX_IPS_PER_KEY: usize = 256;

/// `count` events within `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    /// How many events.
    pub count: u32,
    /// Within how long.
    pub window: Duration,
}

/// The hours outside which use of a key raises `off_hours`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffHours {
    /// Working hours start at this hour (0-23, local time).
    pub work_start_hour: u8,
    /// Working hours end at this hour (1-24, local time).
    pub work_end_hour: u8,
    /// The local time's offset from UTC, in minutes (e.g. 60 for UTC+01:00).
    pub utc_offset_minutes: i32,
    /// Whether Saturday and Sunday are off hours all day.
    pub weekends_off: bool,
}

/// Which alerts are raised, and their thresholds. `None` turns one off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertConfig {
    /// Denied requests of one key (default 10 in 60 s).
    pub denied_burst: Option<Threshold>,
    /// Failed authentications from one address (default 5 in 60 s).
    pub failed_auth_burst: Option<Threshold>,
    /// Rate-limit refusals of one key (default 20 in 60 s).
    pub rate_limited_burst: Option<Threshold>,
    /// A key used from a new address (default on).
    pub new_ip: bool,
    /// Use outside working hours (default off).
    pub off_hours: Option<OffHours>,
}

impl Default for AlertConfig {
    fn default() -> Self {
        let minute = Duration::from_secs(60);
        Self {
            denied_burst: Some(Threshold {
                count: 10,
                window: minute,
            }),
            failed_auth_burst: Some(Threshold {
                count: 5,
                window: minute,
            }),
            rate_limited_burst: Some(Threshold {
                count: 20,
                window: minute,
            }),
            new_ip: true,
            off_hours: None,
        }
    }
}

/// The answer of a fleet's shared windows: `Err` when the store does not answer (in time).
pub type WindowFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ()>> + Send + 'a>>;

/// Alert windows a fleet of replicas shares (a Redis store, in `warden-cluster`). Every call is
/// bounded in time by the store.
pub trait SharedWindows: Send + Sync + 'static {
    /// Counts one event of `who` for the alert `name`: `Some(count)` when `threshold` is reached
    /// within its window and no replica raised this alert for `who` within the window.
    fn hit<'a>(
        &'a self,
        name: &'a str,
        who: &'a str,
        threshold: Threshold,
    ) -> WindowFuture<'a, Option<u64>>;

    /// Records that `key` was used from `address`: `true` when the address is new for a key
    /// already seen from another one (the first address is the baseline); at most
    /// `max_per_key` addresses are remembered per key.
    fn new_address<'a>(
        &'a self,
        key: &'a str,
        address: &'a str,
        max_per_key: usize,
    ) -> WindowFuture<'a, bool>;
}

/// What decides an alert of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckKind {
    /// A burst: `threshold` events of the same key or address.
    Burst(Threshold),
    /// A key used from an address it had not used before.
    NewAddress {
        /// The address.
        address: String,
    },
    /// Decided by each process on its own (`off_hours`).
    Local,
}

/// One alert an event may raise: what this process's own windows decided, and what a fleet's
/// shared windows need to decide it for every replica.
#[derive(Debug, Clone)]
pub struct Check {
    /// The alert's name (`denied_burst`, `new_ip`, ...).
    pub name: &'static str,
    /// Whose window: the address (`failed_auth_burst`) or the key.
    pub who: String,
    /// What decides it.
    pub kind: CheckKind,
    /// The alert this process's own windows raise, if any.
    pub local: Option<AuditEvent>,
    /// The event's time and who made it, for the alert the shared windows raise.
    source: AuditEvent,
}

impl Check {
    /// The alert the shared windows decided (`count`: the events in the window, for a burst).
    pub fn shared_alert(&self, count: Option<u64>) -> AuditEvent {
        let at = self.source.timestamp().unwrap_or_else(SystemTime::now);
        let who = &self.who;
        match (&self.kind, count) {
            (CheckKind::Burst(threshold), Some(count)) => {
                let message = match self.name {
                    "failed_auth_burst" => format!("{count} failed authentications from {who}"),
                    "rate_limited_burst" => format!("key {who} hit a rate limit {count} times"),
                    _ => format!("key {who} had {count} denied requests"),
                };
                burst(&self.source, at, self.name, message, count, *threshold)
            }
            (CheckKind::NewAddress { address }, _) => alert(
                &self.source,
                at,
                self.name,
                format!("key {who} used from a new address {address}"),
            ),
            _ => self.local.clone().unwrap_or_else(|| {
                alert(
                    &self.source,
                    at,
                    self.name,
                    format!("key {who}: {}", self.name),
                )
            }),
        }
    }
}

/// Recent events per key or address, and when each last raised its alert.
#[derive(Default)]
struct Window {
    seen: HashMap<String, (VecDeque<SystemTime>, Option<SystemTime>)>,
}

impl Window {
    /// Count an event of `who` at `at`; whether the threshold is reached (once per window).
    fn hit(&mut self, who: &str, at: SystemTime, threshold: Threshold) -> Option<u64> {
        if !self.seen.contains_key(who) && self.seen.len() >= MAX_TRACKED {
            self.evict(at, threshold.window);
            if self.seen.len() >= MAX_TRACKED {
                return None;
            }
        }
        let (times, last_alert) = self.seen.entry(who.to_owned()).or_default();
        times.push_back(at);
        while times
            .front()
            .is_some_and(|t| at.duration_since(*t).unwrap_or_default() > threshold.window)
        {
            times.pop_front();
        }
        while times.len() > threshold.count as usize {
            times.pop_front();
        }
        let quiet = last_alert
            .is_none_or(|last| at.duration_since(last).unwrap_or_default() > threshold.window);
        if times.len() >= threshold.count as usize && quiet {
            *last_alert = Some(at);
            return Some(times.len() as u64);
        }
        None
    }

    fn evict(&mut self, now: SystemTime, window: Duration) {
        self.seen.retain(|_, (times, _)| {
            times
                .back()
                .is_some_and(|t| now.duration_since(*t).unwrap_or_default() <= window)
        });
    }
}

/// Watches recorded events and raises alerts (see the module documentation).
pub struct AlertDetector {
    config: AlertConfig,
    denied: Window,
    failed_auth: Window,
    rate_limited: Window,
    ips: HashMap<String, HashSet<String>>,
    off_hours_alerted: HashMap<String, SystemTime>,
}

impl AlertDetector {
    /// A detector with `config`.
    pub fn new(config: AlertConfig) -> Self {
        Self {
            config,
            denied: Window::default(),
            failed_auth: Window::default(),
            rate_limited: Window::default(),
            ips: HashMap::new(),
            off_hours_alerted: HashMap::new(),
        }
    }

    /// The alerts `event` raises (usually none). Only request events are looked at; the time
    /// is the event's own.
    pub fn observe(&mut self, event: &AuditEvent) -> Vec<AuditEvent> {
        self.checks(event)
            .into_iter()
            .filter_map(|check| check.local)
            .collect()
    }

    /// The alerts `event` may raise, each with what this process's own windows decided (see
    /// [`SharedWindows`] for a fleet). A `new_ip` check is made only for an address this process
    /// has not seen the key use.
    pub fn checks(&mut self, event: &AuditEvent) -> Vec<Check> {
        if event.kind != EventKind::Request {
            return Vec::new();
        }
        let Some(at) = event.timestamp() else {
            return Vec::new();
        };
        let mut alerts = Vec::new();
        let check = |name: &'static str, who: &str, kind: CheckKind, local: Option<AuditEvent>| {
            let mut source = AuditEvent::request(at, "");
            copy_who(event, &mut source);
            Check {
                name,
                who: who.to_owned(),
                kind,
                local,
                source,
            }
        };
        let key = event.key_id.as_deref();
        let ip = event.client_ip.as_deref();
        let failed_auth = event.method.as_deref() == Some("authenticate") && event.denied();
        let rate_limited = event.error_kind() == Some("rate_limited");

        if failed_auth {
            if let (Some(threshold), Some(ip)) = (self.config.failed_auth_burst, ip) {
                let local = self.failed_auth.hit(ip, at, threshold).map(|count| {
                    burst(
                        event,
                        at,
                        "failed_auth_burst",
                        format!("{count} failed authentications from {ip}"),
                        count,
                        threshold,
                    )
                });
                alerts.push(check(
                    "failed_auth_burst",
                    ip,
                    CheckKind::Burst(threshold),
                    local,
                ));
            }
            return alerts;
        }
        let Some(key) = key else { return alerts };
        if rate_limited {
            if let Some(threshold) = self.config.rate_limited_burst {
                let local = self.rate_limited.hit(key, at, threshold).map(|count| {
                    burst(
                        event,
                        at,
                        "rate_limited_burst",
                        format!("key {key} hit a rate limit {count} times"),
                        count,
                        threshold,
                    )
                });
                alerts.push(check(
                    "rate_limited_burst",
                    key,
                    CheckKind::Burst(threshold),
                    local,
                ));
            }
        } else if event.denied()
            && let Some(threshold) = self.config.denied_burst
        {
            let local = self.denied.hit(key, at, threshold).map(|count| {
                burst(
                    event,
                    at,
                    "denied_burst",
                    format!("key {key} had {count} denied requests"),
                    count,
                    threshold,
                )
            });
            alerts.push(check(
                "denied_burst",
                key,
                CheckKind::Burst(threshold),
                local,
            ));
        }
        if self.config.new_ip
            && let Some(ip) = ip
            && !event.denied()
        {
            let known = self.ips.len() < MAX_TRACKED || self.ips.contains_key(key);
            if known {
                let seen = self.ips.entry(key.to_owned()).or_default();
                let first = seen.is_empty();
                if !seen.contains(ip) && seen.len() < MAX_IPS_PER_KEY {
                    seen.insert(ip.to_owned());
                    let local = (!first).then(|| {
                        alert(
                            event,
                            at,
                            "new_ip",
                            format!("key {key} used from a new address {ip}"),
                        )
                    });
                    alerts.push(check(
                        "new_ip",
                        key,
                        CheckKind::NewAddress {
                            address: ip.to_owned(),
                        },
                        local,
                    ));
                }
            }
        }
        if let Some(hours) = self.config.off_hours
            && !event.denied()
            && is_off_hours(at, hours)
        {
            let quiet = self
                .off_hours_alerted
                .get(key)
                .is_none_or(|last| at.duration_since(*last).unwrap_or_default() > HOUR);
            if quiet
                && (self.off_hours_alerted.len() < MAX_TRACKED
                    || self.off_hours_alerted.contains_key(key))
            {
                self.off_hours_alerted.insert(key.to_owned(), at);
                let local = alert(
                    event,
                    at,
                    "off_hours",
                    format!("key {key} used outside working hours"),
                );
                alerts.push(check("off_hours", key, CheckKind::Local, Some(local)));
            }
        }
        alerts
    }
}

const HOUR: Duration = Duration::from_secs(3600);

/// Whether `at` is outside the working hours of `hours`.
pub fn is_off_hours(at: SystemTime, hours: OffHours) -> bool {
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let local = i128::from(secs) + i128::from(hours.utc_offset_minutes) * 60;
    let days = local.div_euclid(86_400);
    let hour = u8::try_from(local.rem_euclid(86_400) / 3600).unwrap_or(0);
    // 1970-01-01 was a Thursday: day 0 → 3 with Monday = 0.
    let weekday = (days + 3).rem_euclid(7);
    if hours.weekends_off && weekday >= 5 {
        return true;
    }
    !(hours.work_start_hour..hours.work_end_hour).contains(&hour)
}

fn alert(event: &AuditEvent, at: SystemTime, name: &str, message: String) -> AuditEvent {
    let mut out = AuditEvent::alert(
        at,
        Alert {
            name: name.to_owned(),
            message,
            count: None,
            window_s: None,
        },
    );
    copy_who(event, &mut out);
    out
}

fn burst(
    event: &AuditEvent,
    at: SystemTime,
    name: &str,
    message: String,
    count: u64,
    threshold: Threshold,
) -> AuditEvent {
    let mut out = alert(event, at, name, message);
    if let Some(alert) = out.alert.as_mut() {
        alert.count = Some(count);
        alert.window_s = Some(threshold.window.as_secs());
    }
    out
}

fn copy_who(from: &AuditEvent, to: &mut AuditEvent) {
    to.key_id.clone_from(&from.key_id);
    to.key_name.clone_from(&from.key_name);
    to.profile.clone_from(&from.profile);
    to.client_ip.clone_from(&from.client_ip);
    to.transport.clone_from(&from.transport);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Decision;

    fn at(secs: u64) -> SystemTime {
        // 2026-12-01T00:00:00Z is a Tuesday.
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_083_200 + secs)
    }

    fn request(secs: u64, key: &str, ip: &str, denied: bool) -> AuditEvent {
        let mut event = AuditEvent::request(at(secs), "tools/call");
        event.key_id = Some(key.to_owned());
        event.client_ip = Some(ip.to_owned());
        if denied {
            event.decision = Some(Decision::deny("models.deny", "forbidden"));
        }
        event
    }

    fn names(alerts: &[AuditEvent]) -> Vec<String> {
        alerts
            .iter()
            .filter_map(|a| a.alert.as_ref().map(|a| a.name.clone()))
            .collect()
    }

    #[test]
    fn a_burst_of_denials_raises_one_alert_per_window() {
        let mut detector = AlertDetector::new(AlertConfig::default());
        let mut raised = Vec::new();
        for i in 0..25 {
            raised.extend(detector.observe(&request(i, "k1", "10.0.0.1", true)));
        }
        assert_eq!(names(&raised), vec!["denied_burst"]);
        assert_eq!(raised[0].alert.as_ref().and_then(|a| a.count), Some(10));
        // Another window later, another burst, another alert.
        let mut later = Vec::new();
        for i in 0..10 {
            later.extend(detector.observe(&request(200 + i, "k1", "10.0.0.1", true)));
        }
        assert_eq!(names(&later), vec!["denied_burst"]);
    }

    #[test]
    fn denials_spread_over_time_raise_nothing() {
        let mut detector = AlertDetector::new(AlertConfig::default());
        for i in 0..30 {
            assert!(
                detector
                    .observe(&request(i * 61, "k1", "10.0.0.1", true))
                    .is_empty()
            );
        }
    }

    #[test]
    fn failed_authentications_are_counted_per_address() {
        let mut detector = AlertDetector::new(AlertConfig::default());
        let mut raised = Vec::new();
        for i in 0..5 {
            let mut event = AuditEvent::request(at(i), "authenticate");
            event.client_ip = Some(if i % 2 == 0 { "10.0.0.1" } else { "10.0.0.2" }.to_owned());
            event.decision = Some(Decision::deny("", "invalid key"));
            raised.extend(detector.observe(&event));
        }
        assert!(raised.is_empty(), "no address reached 5");
        for i in 5..8 {
            let mut event = AuditEvent::request(at(i), "authenticate");
            event.client_ip = Some("10.0.0.1".to_owned());
            event.decision = Some(Decision::deny("", "invalid key"));
            raised.extend(detector.observe(&event));
        }
        assert_eq!(names(&raised), vec!["failed_auth_burst"]);
        assert_eq!(raised[0].client_ip.as_deref(), Some("10.0.0.1"));
    }

    #[test]
    fn rate_limit_hits_raise_their_own_alert() {
        let config = AlertConfig {
            rate_limited_burst: Some(Threshold {
                count: 3,
                window: Duration::from_secs(10),
            }),
            ..AlertConfig::default()
        };
        let mut detector = AlertDetector::new(config);
        let mut raised = Vec::new();
        for i in 0..3 {
            let mut event = request(i, "k1", "10.0.0.1", true);
            event.outcome = Some(crate::event::Outcome::error("rate_limited"));
            raised.extend(detector.observe(&event));
        }
        assert_eq!(names(&raised), vec!["rate_limited_burst"]);
    }

    #[test]
    fn a_new_address_after_the_first_raises_new_ip() {
        let mut detector = AlertDetector::new(AlertConfig::default());
        assert!(
            detector
                .observe(&request(0, "k1", "10.0.0.1", false))
                .is_empty()
        );
        assert!(
            detector
                .observe(&request(1, "k1", "10.0.0.1", false))
                .is_empty()
        );
        let raised = detector.observe(&request(2, "k1", "192.0.2.7", false));
        assert_eq!(names(&raised), vec!["new_ip"]);
        assert!(
            detector
                .observe(&request(3, "k1", "192.0.2.7", false))
                .is_empty()
        );
        // Another key has its own baseline.
        assert!(
            detector
                .observe(&request(4, "k2", "192.0.2.7", false))
                .is_empty()
        );
    }

    #[test]
    fn off_hours_follow_the_offset_and_weekends() {
        let hours = OffHours {
            work_start_hour: 8,
            work_end_hour: 18,
            utc_offset_minutes: 60,
            weekends_off: true,
        };
        // Tuesday 07:30 UTC = 08:30 local: working hours.
        assert!(!is_off_hours(at(7 * 3600 + 1800), hours));
        // Tuesday 06:30 UTC = 07:30 local: off.
        assert!(is_off_hours(at(6 * 3600 + 1800), hours));
        // Tuesday 17:30 UTC = 18:30 local: off.
        assert!(is_off_hours(at(17 * 3600 + 1800), hours));
        // Saturday 10:00 local.
        assert!(is_off_hours(at(4 * 86_400 + 9 * 3600), hours));
        let mut detector = AlertDetector::new(AlertConfig {
            off_hours: Some(hours),
            ..AlertConfig::default()
        });
        let raised = detector.observe(&request(2 * 3600, "k1", "10.0.0.1", false));
        assert_eq!(names(&raised), vec!["off_hours"]);
        assert!(
            detector
                .observe(&request(2 * 3600 + 60, "k1", "10.0.0.1", false))
                .is_empty()
        );
    }
}
