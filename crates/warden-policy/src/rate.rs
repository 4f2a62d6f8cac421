//! Rate limits (governor's GCRA): global, per key, per client address, a write budget per key,
//! and failed authentications per address.
//!
//! Memory stays bounded: every [`MAINTENANCE_EVERY`] calls, the keyed limiters forget the
//! callers whose budget is full again (`retain_recent`); a keyed limiter that still tracks more
//! than [`MAX_TRACKED`] callers after that starts afresh (every caller it tracked gets a full
//! budget back, which is what a caller with that many addresses gets anyway).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use governor::Quota;
use governor::clock::{Clock, DefaultClock, Reference};
use governor::middleware::{NoOpMiddleware, StateInformationMiddleware};
use governor::state::keyed::HashMapStateStore;
use governor::state::{InMemoryState, NotKeyed};

use crate::config::RateLimitConfig;
use crate::{Denial, DenialKind, Principal};

/// Calls between two maintenance passes.
const MAINTENANCE_EVERY: u64 = 1024;
/// Most callers one keyed limiter tracks after maintenance.
const MAX_TRACKED: usize = 65_536;
/// Failed authentications per minute per address when not configured.
const DEFAULT_FAILED_AUTH: u32 = 10;

type Keyed<K, C, MW> = governor::RateLimiter<K, HashMapStateStore<K>, C, MW>;
type Shared<K, C> = RwLock<Arc<Keyed<K, C, NoOpMiddleware<<C as Clock>::Instant>>>>;
type Direct<C> =
    governor::RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// The key of the per-address scopes: IPv4 (mapped IPv6 included) by address, IPv6 by /64
/// (one host or site usually owns a whole /64).
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 @ IpAddr::V4(_) => v4,
    }
}

fn quota(per_minute: u32, burst: Option<u32>) -> Quota {
    let rate = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
    let burst = burst
        .and_then(NonZeroU32::new)
        .unwrap_or_else(|| NonZeroU32::new(per_minute / 6).unwrap_or(NonZeroU32::MIN));
    Quota::per_minute(rate).allow_burst(burst)
}

/// A keyed limiter that can start afresh when it tracks too many callers.
struct Scope<K: std::hash::Hash + Eq + Clone, C: Clock> {
    quota: Quota,
    clock: C,
    limiter: Shared<K, C>,
}

impl<K, C> Scope<K, C>
where
    K: std::hash::Hash + Eq + Clone,
    C: Clock + Clone,
{
    fn new(quota: Quota, clock: &C) -> Self {
        Scope {
            quota,
            clock: clock.clone(),
            limiter: RwLock::new(Arc::new(Self::fresh(quota, clock))),
        }
    }

    fn fresh(quota: Quota, clock: &C) -> Keyed<K, C, NoOpMiddleware<C::Instant>> {
        governor::RateLimiter::new(quota, HashMapStateStore::default(), clock.clone())
    }

    fn current(&self) -> Arc<Keyed<K, C, NoOpMiddleware<C::Instant>>> {
        self.limiter
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Takes one request from `key`'s budget, or says how long to wait.
    fn check(&self, key: &K) -> Result<(), Duration> {
        self.current()
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    fn maintain(&self) {
        let limiter = self.current();
        limiter.retain_recent();
        if limiter.len() > MAX_TRACKED {
            *self.limiter.write().unwrap_or_else(PoisonError::into_inner) =
                Arc::new(Self::fresh(self.quota, &self.clock));
        }
    }

    fn is_empty(&self) -> bool {
        self.current().is_empty()
    }
}

/// Failed authentications per address: each failure takes from a budget; an address whose
/// budget is used up is refused before its secrets are verified, until one failure's worth has
/// come back.
struct FailedAuth<C: Clock> {
    clock: C,
    quota: Quota,
    limiter: RwLock<Arc<Keyed<IpAddr, C, StateInformationMiddleware>>>,
    blocked: Mutex<HashMap<IpAddr, C::Instant>>,
    rule: String,
}

impl<C: Clock + Clone> FailedAuth<C> {
    fn fresh(quota: Quota, clock: &C) -> Keyed<IpAddr, C, StateInformationMiddleware> {
        Keyed::<IpAddr, C, NoOpMiddleware<C::Instant>>::new(
            quota,
            HashMapStateStore::default(),
            clock.clone(),
        )
        .with_middleware::<StateInformationMiddleware>()
    }

    fn current(&self) -> Arc<Keyed<IpAddr, C, StateInformationMiddleware>> {
        self.limiter
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn blocked(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, C::Instant>> {
        self.blocked.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn maintain(&self) {
        let limiter = self.current();
        limiter.retain_recent();
        if limiter.len() > MAX_TRACKED {
            *self.limiter.write().unwrap_or_else(PoisonError::into_inner) =
                Arc::new(Self::fresh(self.quota, &self.clock));
        }
        let now = self.clock.now();
        let mut blocked = self.blocked();
        blocked.retain(|_, until| *until > now);
        if blocked.len() > MAX_TRACKED {
            blocked.clear();
        }
    }
}

/// What a budget counts, and for whom.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    Writes(u32, String),
    Key(u32, String),
    Address(u32, IpAddr),
    Global(u32),
    FailedAuth(u32, IpAddr),
}

/// One budget a request takes from: its scope (what it counts, for whom), its per-minute rate
/// and burst, and how a refusal is told. [`RateLimiter::plan`] lists them; the in-process
/// limiter or a shared store runs the same GCRA over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    slot: Slot,
    per_minute: u32,
    burst: u32,
    rule: String,
    what: &'static str,
}

impl Budget {
    fn new(slot: Slot, burst: Option<u32>, rule: String, what: &'static str) -> Self {
        let per_minute = match &slot {
            Slot::Writes(n, _)
            | Slot::Key(n, _)
            | Slot::Address(n, _)
            | Slot::Global(n)
            | Slot::FailedAuth(n, _) => (*n).max(1),
        };
        let burst = burst
            .filter(|b| *b > 0)
            .unwrap_or_else(|| (per_minute / 6).max(1));
        Self {
            slot,
            per_minute,
            burst,
            rule,
            what,
        }
    }

    /// The budget's name, unique per budget and caller:
    /// `writes:<rate>:<key id>`, `key:<rate>:<key id>`, `ip:<rate>:<address>` (an IPv6 address
    /// by its /64), `global:<rate>`, `auth:<rate>:<address>`. The rate is part of it, so a new
    /// rate starts a fresh budget, as in the in-process limiter.
    pub fn scope(&self) -> String {
        match &self.slot {
            Slot::Writes(n, key) => format!("writes:{n}:{key}"),
            Slot::Key(n, key) => format!("key:{n}:{key}"),
            Slot::Address(n, ip) => format!("ip:{n}:{ip}"),
            Slot::Global(n) => format!("global:{n}"),
            Slot::FailedAuth(n, ip) => format!("auth:{n}:{ip}"),
        }
    }

    /// Requests per minute (at least 1).
    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Requests admitted at once from a full budget (at least 1).
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// The time one request's worth of budget takes to come back (GCRA's emission interval),
    /// as governor's quota has it: a minute divided by the rate.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(60) / self.per_minute
    }

    /// How far ahead of now the budget may be spent (GCRA's tolerance): the burst less one
    /// request.
    pub fn tolerance(&self) -> Duration {
        self.interval() * (self.burst - 1)
    }

    /// The rule this budget comes from, as the audit log and `policy explain` name it.
    pub fn rule(&self) -> &str {
        &self.rule
    }

    /// The refusal of a request by this budget, to be retried after `wait`.
    pub fn denial(&self, wait: Duration) -> Denial {
        limited(wait, self.what, &self.rule)
    }
}

/// The rate limiters of one policy's `[rate_limits]`, keyed by key id and client address.
///
/// [`RateLimiter::check`] takes from the budgets in this order, stopping at the first that
/// refuses: the key's write budget (for data-changing requests), the key's request budget, the
/// address's, then the global one. A refused request has taken from the budgets checked before
/// the one that refused, all of them the caller's own except in the global case; each of
/// those refills at its steady rate, so a caller that waits `retry_after` is served again. The
/// narrowest budgets come first so that a caller over its own limit does not use up the
/// budget shared by everyone.
///
/// Burst: the `burst` setting when given, otherwise a sixth of each per-minute budget (at
/// least 1). The failed-authentication budget allows its whole per-minute count at once (10 by
/// default), so a person mistyping a key is not locked out.
///
/// Calls over stdio (no address) are not counted per address.
pub struct RateLimiter<C: Clock = DefaultClock> {
    clock: C,
    config: RateLimitConfig,
    global: Option<Direct<C>>,
    per_ip: Option<Scope<IpAddr, C>>,
    /// Request budgets per key, by per-minute rate (the default and each key override).
    per_key: Mutex<HashMap<u32, Arc<Scope<String, C>>>>,
    /// Write budgets per key, by per-minute rate.
    writes: Mutex<HashMap<u32, Arc<Scope<String, C>>>>,
    failed_auth: FailedAuth<C>,
    calls: AtomicU64,
}

impl<C: Clock> std::fmt::Debug for RateLimiter<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// Rate limiters on the system's monotonic clock.
    pub fn new(config: &RateLimitConfig) -> Self {
        Self::with_clock(config, DefaultClock::default())
    }
}

fn seconds(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

fn limited(wait: Duration, what: &str, rule: &str) -> Denial {
    let retry_after = wait.max(Duration::from_millis(1));
    Denial {
        kind: DenialKind::RateLimited { retry_after },
        message: format!(
            "rate limit reached ({what}); retry in {} s",
            seconds(retry_after)
        ),
        rule: rule.to_owned(),
    }
}

impl<C: Clock + Clone> RateLimiter<C> {
    /// Rate limiters on the given clock (tests use governor's `FakeRelativeClock`).
    pub fn with_clock(config: &RateLimitConfig, clock: C) -> Self {
        let burst = config.burst;
        let global = config
            .global_per_minute
            .map(|n| governor::RateLimiter::direct_with_clock(quota(n, burst), clock.clone()));
        let per_ip = config
            .per_ip_per_minute
            .map(|n| Scope::new(quota(n, burst), &clock));
        let failed = config
            .failed_auth_per_ip_per_minute
            .unwrap_or(DEFAULT_FAILED_AUTH);
        let failed_quota = quota(failed, Some(failed));
        RateLimiter {
            global,
            per_ip,
            per_key: Mutex::new(HashMap::new()),
            writes: Mutex::new(HashMap::new()),
            failed_auth: FailedAuth {
                clock: clock.clone(),
                quota: failed_quota,
                limiter: RwLock::new(Arc::new(FailedAuth::fresh(failed_quota, &clock))),
                blocked: Mutex::new(HashMap::new()),
                rule: format!("rate_limits.failed_auth_per_ip_per_minute = {failed}"),
            },
            config: config.clone(),
            clock,
            calls: AtomicU64::new(0),
        }
    }

    /// The scope for a per-minute rate in one of the per-key maps (keys with the same rate
    /// share the limiter, each with its own budget in it).
    fn scope(
        &self,
        map: &Mutex<HashMap<u32, Arc<Scope<String, C>>>>,
        per_minute: u32,
    ) -> Arc<Scope<String, C>> {
        let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry(per_minute)
            .or_insert_with(|| {
                Arc::new(Scope::new(
                    quota(per_minute, self.config.burst),
                    &self.clock,
                ))
            })
            .clone()
    }

    fn tick(&self) {
        if self.calls.fetch_add(1, Ordering::Relaxed) % MAINTENANCE_EVERY == MAINTENANCE_EVERY - 1 {
            self.maintain();
        }
    }

    /// Forgets callers whose budgets are full again, and budgets no key uses any more.
    fn maintain(&self) {
        if let Some(scope) = &self.per_ip {
            scope.maintain();
        }
        for map in [&self.per_key, &self.writes] {
            let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
            for scope in map.values() {
                scope.maintain();
            }
            map.retain(|_, scope| Arc::strong_count(scope) > 1 || !scope.is_empty());
        }
        self.failed_auth.maintain();
    }

    /// Takes one request from every budget that applies: the key's write budget when `write`,
    /// the key's request budget (the principal's own `rate_limit` overrides the default), the
    /// address's, and the global one. Refused: [`DenialKind::RateLimited`] with the time after
    /// which a retry is accepted.
    pub fn check(
        &self,
        principal: &Principal,
        ip: Option<IpAddr>,
        write: bool,
    ) -> Result<(), Denial> {
        self.take(&self.plan(principal, ip, write))
    }

    /// The budgets a request takes from, narrowest first (see [`RateLimiter`]): what a shared
    /// store needs to run the same decision as [`RateLimiter::take`] for a whole fleet.
    pub fn plan(&self, principal: &Principal, ip: Option<IpAddr>, write: bool) -> Vec<Budget> {
        let burst = self.config.burst;
        let key = &principal.key_id;
        let mut plan = Vec::with_capacity(4);
        if write {
            let own = principal.rate_limit.writes_per_minute;
            if let Some(n) = own.or(self.config.writes_per_key_per_minute) {
                plan.push(Budget::new(
                    Slot::Writes(n, key.clone()),
                    burst,
                    match own {
                        Some(n) => format!("key {key}: rate_limit.writes_per_minute = {n}"),
                        None => format!("rate_limits.writes_per_key_per_minute = {n}"),
                    },
                    "write requests for this key",
                ));
            }
        }
        let own = principal.rate_limit.per_minute;
        if let Some(n) = own.or(self.config.per_key_per_minute) {
            plan.push(Budget::new(
                Slot::Key(n, key.clone()),
                burst,
                match own {
                    Some(n) => format!("key {key}: rate_limit.per_minute = {n}"),
                    None => format!("rate_limits.per_key_per_minute = {n}"),
                },
                "requests for this key",
            ));
        }
        if let (Some(n), Some(ip)) = (self.config.per_ip_per_minute, ip) {
            plan.push(Budget::new(
                Slot::Address(n, address_key(ip)),
                burst,
                format!("rate_limits.per_ip_per_minute = {n}"),
                "requests from this address",
            ));
        }
        if let Some(n) = self.config.global_per_minute {
            plan.push(Budget::new(
                Slot::Global(n),
                burst,
                format!("rate_limits.global_per_minute = {n}"),
                "requests from all clients",
            ));
        }
        plan
    }

    /// Takes one request from each budget of `plan` in this process, stopping at the first that
    /// refuses (the fallback when a shared store cannot answer).
    pub fn take(&self, plan: &[Budget]) -> Result<(), Denial> {
        self.tick();
        for budget in plan {
            let taken = match &budget.slot {
                Slot::Writes(n, key) => self.scope(&self.writes, *n).check(key),
                Slot::Key(n, key) => self.scope(&self.per_key, *n).check(key),
                Slot::Address(_, ip) => match &self.per_ip {
                    Some(scope) => scope.check(ip),
                    None => Ok(()),
                },
                Slot::Global(_) => match &self.global {
                    Some(global) => global
                        .check()
                        .map_err(|not_until| not_until.wait_time_from(self.clock.now())),
                    None => Ok(()),
                },
                Slot::FailedAuth(..) => Ok(()),
            };
            taken.map_err(|wait| budget.denial(wait))?;
        }
        Ok(())
    }

    /// The failed-authentication budget of `ip`'s address (see
    /// [`RateLimiter::check_auth_allowed`]): a shared store refuses the address while taking one
    /// more from it would be refused, and takes one per failure.
    pub fn failed_auth_budget(&self, ip: IpAddr) -> Budget {
        let n = self
            .config
            .failed_auth_per_ip_per_minute
            .unwrap_or(DEFAULT_FAILED_AUTH);
        Budget::new(
            Slot::FailedAuth(n, address_key(ip)),
            Some(n),
            self.failed_auth.rule.clone(),
            "too many failed authentications from this address",
        )
    }

    /// Before a secret is verified: refuses an address that has used up its budget of failed
    /// authentications. Stdio (`None`) is never refused.
    pub fn check_auth_allowed(&self, ip: Option<IpAddr>) -> Result<(), Denial> {
        self.tick();
        let Some(ip) = ip else { return Ok(()) };
        let now = self.clock.now();
        let until = self.failed_auth.blocked().get(&address_key(ip)).copied();
        match until {
            Some(until) if until > now => Err(limited(
                until.duration_since(now).into(),
                "too many failed authentications from this address",
                &self.failed_auth.rule,
            )),
            _ => Ok(()),
        }
    }

    /// Counts a failed authentication from `ip`. Stdio (`None`) is not counted.
    pub fn record_failed_auth(&self, ip: Option<IpAddr>) {
        self.tick();
        let Some(ip) = ip else { return };
        let key = address_key(ip);
        let now = self.clock.now();
        let until = match self.failed_auth.current().check_key(&key) {
            Ok(state) if state.remaining_burst_capacity() == 0 => {
                // Budget used up: blocked until one more failure's worth comes back (at most
                // one replenish interval).
                Some(now + self.failed_auth.quota.replenish_interval().into())
            }
            Ok(_) => None,
            Err(not_until) => Some(not_until.earliest_possible()),
        };
        if let Some(until) = until {
            let mut blocked = self.failed_auth.blocked();
            let entry = blocked.entry(key).or_insert(until);
            if *entry < until {
                *entry = until;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    fn tracked(limiter: &RateLimiter<FakeRelativeClock>) -> usize {
        limiter.per_ip.as_ref().map_or(0, |s| s.current().len())
    }

    #[test]
    fn idle_callers_are_forgotten() {
        let clock = FakeRelativeClock::default();
        let config = RateLimitConfig {
            per_ip_per_minute: Some(60),
            ..RateLimitConfig::default()
        };
        let limiter = RateLimiter::with_clock(&config, clock.clone());
        for i in 0..1000u32 {
            limiter.record_failed_auth(Some(IpAddr::from(i.to_be_bytes())));
        }
        let blocked = Some(IpAddr::from([192, 0, 2, 1]));
        for _ in 0..10 {
            limiter.record_failed_auth(blocked);
        }
        assert!(limiter.check_auth_allowed(blocked).is_err());
        let scope = limiter.per_ip.as_ref().unwrap();
        for i in 0..1000u32 {
            assert!(scope.check(&IpAddr::from(i.to_be_bytes())).is_ok());
        }
        assert_eq!(tracked(&limiter), 1000);
        assert_eq!(limiter.failed_auth.current().len(), 1001);
        assert_eq!(limiter.failed_auth.blocked().len(), 1);
        clock.advance(Duration::from_secs(120));
        limiter.maintain();
        assert_eq!(tracked(&limiter), 0);
        assert_eq!(limiter.failed_auth.current().len(), 0);
        assert!(limiter.failed_auth.blocked().is_empty());
    }

    #[test]
    fn a_scope_over_the_cap_starts_afresh() {
        let clock = FakeRelativeClock::default();
        let scope: Scope<u32, FakeRelativeClock> = Scope::new(quota(60, None), &clock);
        for i in 0..=u32::try_from(MAX_TRACKED).expect("small") {
            assert!(scope.check(&i).is_ok());
        }
        scope.maintain();
        assert_eq!(scope.current().len(), 0);
        assert!(scope.check(&0).is_ok());
    }

    #[test]
    fn unused_override_budgets_are_dropped() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(&RateLimitConfig::default(), clock.clone());
        let scope = limiter.scope(&limiter.per_key, 7);
        assert!(scope.check(&"k".to_owned()).is_ok());
        drop(scope);
        limiter.maintain();
        assert_eq!(
            limiter.per_key.lock().unwrap().len(),
            1,
            "still tracks a caller"
        );
        clock.advance(Duration::from_secs(600));
        limiter.maintain();
        assert!(limiter.per_key.lock().unwrap().is_empty());
    }
}
