//! Rate limits on governor's fake clock: global, per key, a key's override, per address,
//! writes, failed authentications, and `retry_after`.

mod support;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use governor::Quota;
use governor::clock::FakeRelativeClock;
use std::num::NonZeroU32;
use support::*;
use warden_policy::{
    Budget, Denial, DenialKind, KeyRateLimitConfig, Principal, RateLimitConfig, RateLimiter,
};

fn principal(key_id: &str, rate_limit: KeyRateLimitConfig) -> Principal {
    let policy = policy("[profiles.p]\nidentity = \"main\"\n");
    Principal {
        key_id: key_id.to_owned(),
        key_name: key_id.to_owned(),
        profile: Arc::clone(policy.profile("p").unwrap()),
        rate_limit,
        expires: None,
    }
}

fn ip(text: &str) -> Option<IpAddr> {
    Some(text.parse().unwrap())
}

fn limiter(config: RateLimitConfig) -> (RateLimiter<FakeRelativeClock>, FakeRelativeClock) {
    let clock = FakeRelativeClock::default();
    (RateLimiter::with_clock(&config, clock.clone()), clock)
}

/// How many of `n` calls pass.
fn passes(n: usize, mut call: impl FnMut() -> Result<(), Denial>) -> usize {
    (0..n).filter(|_| call().is_ok()).count()
}

fn retry_after(denial: &Denial) -> Duration {
    match denial.kind {
        DenialKind::RateLimited { retry_after } => retry_after,
        other => panic!("not rate limited: {other:?}"),
    }
}

#[test]
fn no_limits_configured_means_no_refusal() {
    let (limiter, _) = limiter(RateLimitConfig::default());
    let alice = principal("k_alice", KeyRateLimitConfig::default());
    assert_eq!(
        passes(1000, || limiter.check(&alice, ip("10.0.0.1"), true)),
        1000
    );
}

#[test]
fn per_key_budget_with_burst_and_refill() {
    let (limiter, clock) = limiter(RateLimitConfig {
        per_key_per_minute: Some(60),
        ..RateLimitConfig::default()
    });
    let alice = principal("k_alice", KeyRateLimitConfig::default());
    let bob = principal("k_bob", KeyRateLimitConfig::default());
    // default burst: a sixth of 60
    assert_eq!(passes(20, || limiter.check(&alice, None, false)), 10);
    let denial = limiter.check(&alice, None, false).unwrap_err();
    let wait = retry_after(&denial);
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(1),
        "{wait:?}"
    );
    assert_eq!(denial.rule, "rate_limits.per_key_per_minute = 60");
    assert!(
        denial.message.contains("retry in 1 s"),
        "{}",
        denial.message
    );
    // another key has its own budget
    assert!(limiter.check(&bob, None, false).is_ok());
    // one second later, one more request
    clock.advance(wait);
    assert!(limiter.check(&alice, None, false).is_ok());
    assert!(limiter.check(&alice, None, false).is_err());
}

#[test]
fn a_key_override_replaces_the_default() {
    let (limiter, clock) = limiter(RateLimitConfig {
        per_key_per_minute: Some(600),
        burst: Some(3),
        ..RateLimitConfig::default()
    });
    let slow = principal(
        "k_slow",
        KeyRateLimitConfig {
            per_minute: Some(6),
            writes_per_minute: None,
        },
    );
    let normal = principal("k_normal", KeyRateLimitConfig::default());
    assert_eq!(passes(10, || limiter.check(&slow, None, false)), 3);
    assert_eq!(passes(10, || limiter.check(&normal, None, false)), 3);
    let slow_wait = retry_after(&limiter.check(&slow, None, false).unwrap_err());
    let normal_wait = retry_after(&limiter.check(&normal, None, false).unwrap_err());
    assert!(slow_wait > Duration::from_secs(5), "{slow_wait:?}");
    assert!(normal_wait <= Duration::from_millis(100), "{normal_wait:?}");
    let denial = limiter.check(&slow, None, false).unwrap_err();
    assert_eq!(denial.rule, "key k_slow: rate_limit.per_minute = 6");
    // A key on the default rate that equals an override is described by the default's setting.
    let same = principal(
        "k_same",
        KeyRateLimitConfig {
            per_minute: Some(600),
            writes_per_minute: None,
        },
    );
    assert_eq!(passes(10, || limiter.check(&same, None, false)), 3);
    assert_eq!(
        limiter.check(&same, None, false).unwrap_err().rule,
        "key k_same: rate_limit.per_minute = 600"
    );
    assert_eq!(
        limiter.check(&normal, None, false).unwrap_err().rule,
        "rate_limits.per_key_per_minute = 600"
    );
    clock.advance(Duration::from_millis(100));
    assert!(limiter.check(&normal, None, false).is_ok());
    assert!(limiter.check(&slow, None, false).is_err());
}

#[test]
fn per_address_budget() {
    let (limiter, _) = limiter(RateLimitConfig {
        per_ip_per_minute: Some(12),
        ..RateLimitConfig::default()
    });
    let alice = principal("k_alice", KeyRateLimitConfig::default());
    let bob = principal("k_bob", KeyRateLimitConfig::default());
    assert_eq!(
        passes(5, || limiter.check(&alice, ip("10.0.0.1"), false)),
        2
    );
    // the same address with another key shares the budget; mapped IPv6 is the same address
    assert!(limiter.check(&bob, ip("10.0.0.1"), false).is_err());
    assert!(limiter.check(&bob, ip("::ffff:10.0.0.1"), false).is_err());
    let denial = limiter.check(&bob, ip("10.0.0.1"), false).unwrap_err();
    assert_eq!(denial.rule, "rate_limits.per_ip_per_minute = 12");
    // another address has its own; stdio is not counted per address
    assert!(limiter.check(&bob, ip("10.0.0.2"), false).is_ok());
    assert_eq!(passes(50, || limiter.check(&bob, None, false)), 50);
    // IPv6 addresses count per /64
    assert_eq!(
        passes(2, || limiter.check(&alice, ip("2001:db8::1"), false)),
        2
    );
    assert!(limiter.check(&alice, ip("2001:db8::2"), false).is_err());
    assert!(limiter.check(&alice, ip("2001:db8:0:1::1"), false).is_ok());
}

#[test]
fn global_budget() {
    let (limiter, clock) = limiter(RateLimitConfig {
        global_per_minute: Some(30),
        ..RateLimitConfig::default()
    });
    let keys: Vec<Principal> = (0..10)
        .map(|i| principal(&format!("k_{i}"), KeyRateLimitConfig::default()))
        .collect();
    let mut allowed = 0;
    for key in &keys {
        allowed += passes(1, || limiter.check(key, None, false));
    }
    assert_eq!(allowed, 5, "burst of 30 / 6 shared by everyone");
    let denial = limiter.check(&keys[0], None, false).unwrap_err();
    assert_eq!(denial.rule, "rate_limits.global_per_minute = 30");
    let wait = retry_after(&denial);
    assert!(wait > Duration::ZERO);
    clock.advance(wait);
    assert!(limiter.check(&keys[9], None, false).is_ok());
}

#[test]
fn writes_have_their_own_lower_budget() {
    let (limiter, _) = limiter(RateLimitConfig {
        per_key_per_minute: Some(600),
        writes_per_key_per_minute: Some(6),
        ..RateLimitConfig::default()
    });
    let alice = principal("k_alice", KeyRateLimitConfig::default());
    assert_eq!(passes(5, || limiter.check(&alice, None, true)), 1);
    let denial = limiter.check(&alice, None, true).unwrap_err();
    assert_eq!(denial.rule, "rate_limits.writes_per_key_per_minute = 6");
    assert!(retry_after(&denial) > Duration::from_secs(5));
    // reads still pass
    assert_eq!(passes(50, || limiter.check(&alice, None, false)), 50);
    // a key's own write budget overrides the default
    let busy = principal(
        "k_busy",
        KeyRateLimitConfig {
            per_minute: None,
            writes_per_minute: Some(60),
        },
    );
    assert_eq!(passes(20, || limiter.check(&busy, None, true)), 10);
    assert_eq!(
        limiter.check(&busy, None, true).unwrap_err().rule,
        "key k_busy: rate_limit.writes_per_minute = 60"
    );
}

#[test]
fn a_refusal_does_not_use_up_the_shared_budget() {
    // Writes refused by the key's write budget take nothing from the global budget.
    let (limiter, clock) = limiter(RateLimitConfig {
        global_per_minute: Some(60),
        writes_per_key_per_minute: Some(6),
        ..RateLimitConfig::default()
    });
    let alice = principal("k_alice", KeyRateLimitConfig::default());
    let bob = principal("k_bob", KeyRateLimitConfig::default());
    assert!(limiter.check(&alice, None, true).is_ok());
    for _ in 0..100 {
        let denial = limiter.check(&alice, None, true).unwrap_err();
        assert_eq!(denial.rule, "rate_limits.writes_per_key_per_minute = 6");
    }
    assert_eq!(passes(20, || limiter.check(&bob, None, false)), 9);
    clock.advance(Duration::from_secs(10));
    assert!(
        limiter.check(&alice, None, true).is_ok(),
        "served again after waiting"
    );
}

#[test]
fn failed_authentications_per_address() {
    let (limiter, clock) = limiter(RateLimitConfig::default());
    let attacker = ip("203.0.113.9");
    for _ in 0..9 {
        limiter.record_failed_auth(attacker);
        assert!(limiter.check_auth_allowed(attacker).is_ok());
    }
    limiter.record_failed_auth(attacker);
    let denial = limiter.check_auth_allowed(attacker).unwrap_err();
    assert_eq!(
        denial.rule,
        "rate_limits.failed_auth_per_ip_per_minute = 10"
    );
    assert!(
        denial.message.contains("failed authentications"),
        "{}",
        denial.message
    );
    let wait = retry_after(&denial);
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(6),
        "{wait:?}"
    );
    // other addresses and stdio are not affected
    assert!(limiter.check_auth_allowed(ip("203.0.113.10")).is_ok());
    limiter.record_failed_auth(None);
    assert!(limiter.check_auth_allowed(None).is_ok());
    // after the wait, one more attempt
    clock.advance(wait);
    assert!(limiter.check_auth_allowed(attacker).is_ok());
    limiter.record_failed_auth(attacker);
    assert!(limiter.check_auth_allowed(attacker).is_err());
}

#[test]
fn failed_authentication_budget_is_configurable() {
    let (limiter, _) = limiter(RateLimitConfig {
        failed_auth_per_ip_per_minute: Some(2),
        ..RateLimitConfig::default()
    });
    let addr = ip("2001:db8::7");
    limiter.record_failed_auth(addr);
    assert!(limiter.check_auth_allowed(addr).is_ok());
    limiter.record_failed_auth(addr);
    let wait = retry_after(&limiter.check_auth_allowed(addr).unwrap_err());
    assert!(wait > Duration::from_secs(20), "{wait:?}");
}

#[test]
fn many_callers_stay_bounded_and_keep_working() {
    let (limiter, clock) = limiter(RateLimitConfig {
        per_ip_per_minute: Some(60),
        per_key_per_minute: Some(60),
        ..RateLimitConfig::default()
    });
    let alice = principal("k_alice", KeyRateLimitConfig::default());
    // Many distinct addresses across several maintenance passes.
    for i in 0..5000u32 {
        let [_, a, b, c] = i.to_be_bytes();
        let addr = IpAddr::from([10, a, b, c]);
        let _ = limiter.check(&alice, Some(addr), false);
        limiter.record_failed_auth(Some(addr));
        if i % 500 == 0 {
            clock.advance(Duration::from_secs(60));
        }
    }
    clock.advance(Duration::from_secs(60));
    assert!(limiter.check(&alice, ip("10.0.0.1"), false).is_ok());
    assert!(limiter.check_auth_allowed(ip("10.0.0.1")).is_ok());
}

#[test]
fn the_plan_lists_the_budgets_narrowest_first_with_governors_timing() {
    let config = RateLimitConfig {
        global_per_minute: Some(600),
        per_key_per_minute: Some(60),
        per_ip_per_minute: Some(120),
        writes_per_key_per_minute: Some(12),
        ..RateLimitConfig::default()
    };
    let (limiter, _) = limiter(config);
    let plan = limiter.plan(
        &principal("k1", KeyRateLimitConfig::default()),
        ip("2001:db8:0:1:2:3:4:5"),
        true,
    );
    let scopes: Vec<String> = plan.iter().map(Budget::scope).collect();
    assert_eq!(
        scopes,
        [
            "writes:12:k1",
            "key:60:k1",
            "ip:120:2001:db8:0:1::",
            "global:600"
        ]
    );
    for budget in &plan {
        // The in-process limiter's quota: a sixth of the rate as burst.
        let rate = NonZeroU32::new(budget.per_minute()).unwrap();
        let burst = NonZeroU32::new((budget.per_minute() / 6).max(1)).unwrap();
        let quota = Quota::per_minute(rate).allow_burst(burst);
        assert_eq!(budget.interval(), quota.replenish_interval(), "{budget:?}");
        assert_eq!(budget.burst(), quota.burst_size().get(), "{budget:?}");
        assert_eq!(budget.tolerance(), budget.interval() * (budget.burst() - 1));
    }
    // A key's own rate replaces the default, and reads skip the write budget.
    let own = KeyRateLimitConfig {
        per_minute: Some(5),
        ..KeyRateLimitConfig::default()
    };
    let plan = limiter.plan(&principal("k1", own), None, false);
    assert_eq!(plan.len(), 2, "no address: no per-address budget");
    assert_eq!(plan[0].scope(), "key:5:k1");
    assert_eq!(plan[0].rule(), "key k1: rate_limit.per_minute = 5");
    assert_eq!(plan[0].burst(), 1);
    assert_eq!(plan[0].tolerance(), Duration::ZERO);
    // IPv4-mapped addresses count as IPv4; failures allow the whole minute at once.
    let auth = limiter.failed_auth_budget("::ffff:192.0.2.1".parse().unwrap());
    assert_eq!(auth.scope(), "auth:10:192.0.2.1");
    assert_eq!(auth.burst(), 10);
}

#[test]
fn take_runs_the_plan_in_this_process() {
    let (limiter, clock) = limiter(RateLimitConfig {
        per_key_per_minute: Some(60),
        burst: Some(2),
        ..RateLimitConfig::default()
    });
    let plan = limiter.plan(&principal("k1", KeyRateLimitConfig::default()), None, false);
    assert!(limiter.take(&plan).is_ok());
    assert!(limiter.take(&plan).is_ok());
    let denial = limiter.take(&plan).unwrap_err();
    assert_eq!(denial.rule, "rate_limits.per_key_per_minute = 60");
    assert_eq!(
        denial.kind,
        DenialKind::RateLimited {
            retry_after: Duration::from_secs(1)
        }
    );
    assert_eq!(plan[0].denial(Duration::from_secs(1)), denial);
    clock.advance(Duration::from_secs(1));
    assert!(limiter.take(&plan).is_ok());
}
