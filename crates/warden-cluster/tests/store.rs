//! The Redis store against a real `redis-server`: budgets shared by two replicas (interleaved
//! and concurrent), per key, per address and global; failed authentications; single
//! redemption; a server killed and restarted; a server that never answers.

mod support;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{RedisServer, Stalled};
use warden_cluster::{BREAKER, Options, RedisStore};
use warden_gateway::shared::{SharedState, Taken};
use warden_policy::{Budget, KeyRateLimitConfig, Principal, RateLimitConfig, RateLimiter};

/// A principal of key `id` (the profile does not matter to rate limits).
fn principal(id: &str) -> Principal {
    let config: warden_policy::PolicyConfig =
        toml::from_str("[profiles.p]\nidentity = \"main\"\n").expect("policy toml");
    let policy =
        warden_policy::Policy::compile(&config, &warden_policy::KeyStoreFile::default(), &["main"])
            .expect("policy");
    Principal {
        key_id: id.to_owned(),
        key_name: id.to_owned(),
        profile: Arc::clone(policy.profile("p").expect("profile")),
        rate_limit: KeyRateLimitConfig::default(),
        expires: None,
    }
}

fn ip(text: &str) -> Option<IpAddr> {
    Some(text.parse().expect("an address"))
}

/// A unique prefix per test, so tests sharing nothing still never share keys.
fn prefix(test: &str) -> String {
    format!("test-{test}:")
}

async fn admitted(store: &RedisStore, plan: &[Budget]) -> bool {
    match store.take(plan).await.expect("Redis answers") {
        Taken::Admitted => true,
        Taken::Refused { .. } => false,
    }
}

#[tokio::test]
async fn a_key_budget_admits_exactly_its_size_across_two_replicas() {
    let Some(server) =
        RedisServer::start("a_key_budget_admits_exactly_its_size_across_two_replicas")
    else {
        return;
    };
    // 12 a minute, all at once: nothing comes back for 5 s, longer than the test.
    let config = RateLimitConfig {
        per_key_per_minute: Some(12),
        burst: Some(12),
        ..RateLimitConfig::default()
    };
    let (a, b) = (RateLimiter::new(&config), RateLimiter::new(&config));
    let (store_a, store_b) = (server.store(&prefix("key")), server.store(&prefix("key")));
    let key = principal("k1");
    let mut passed = 0;
    let mut refusal = None;
    for i in 0..36 {
        let (limiter, store) = if i % 2 == 0 {
            (&a, &store_a)
        } else {
            (&b, &store_b)
        };
        let plan = limiter.plan(&key, None, false);
        match store.take(&plan).await.expect("Redis answers") {
            Taken::Admitted => passed += 1,
            Taken::Refused { index, wait } => refusal = Some((plan[index].rule().to_owned(), wait)),
        }
    }
    assert_eq!(
        passed, 12,
        "12 per minute for the fleet, not 12 per replica"
    );
    let (rule, wait) = refusal.expect("refused past the budget");
    assert_eq!(rule, "rate_limits.per_key_per_minute = 12");
    assert!(
        wait > Duration::from_secs(3) && wait <= Duration::from_secs(5),
        "one request's worth comes back within 5 s: {wait:?}"
    );
    // Another key has its own budget.
    assert!(admitted(&store_b, &b.plan(&principal("k2"), None, false)).await);
}

#[tokio::test]
async fn concurrent_requests_on_two_replicas_never_exceed_the_budget() {
    let Some(server) =
        RedisServer::start("concurrent_requests_on_two_replicas_never_exceed_the_budget")
    else {
        return;
    };
    let config = RateLimitConfig {
        per_key_per_minute: Some(20),
        burst: Some(20),
        ..RateLimitConfig::default()
    };
    let limiter = RateLimiter::new(&config);
    let plan = Arc::new(limiter.plan(&principal("k1"), None, false));
    let stores = [
        Arc::new(server.store(&prefix("atomic"))),
        Arc::new(server.store(&prefix("atomic"))),
    ];
    let mut tasks = Vec::new();
    for task in 0..16 {
        let store = Arc::clone(&stores[task % 2]);
        let plan = Arc::clone(&plan);
        tasks.push(tokio::spawn(async move {
            let mut passed = 0u32;
            for _ in 0..10 {
                if matches!(store.take(&plan).await, Ok(Taken::Admitted)) {
                    passed += 1;
                }
            }
            passed
        }));
    }
    let mut passed = 0;
    for task in tasks {
        passed += tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .expect("bounded")
            .expect("the task ends");
    }
    assert_eq!(passed, 20, "160 concurrent attempts, a budget of 20");
}

#[tokio::test]
async fn address_and_global_budgets_are_shared_and_a_refusal_keeps_the_earlier_takes() {
    let Some(server) = RedisServer::start(
        "address_and_global_budgets_are_shared_and_a_refusal_keeps_the_earlier_takes",
    ) else {
        return;
    };
    let config = RateLimitConfig {
        per_key_per_minute: Some(600),
        per_ip_per_minute: Some(6),
        global_per_minute: Some(10),
        burst: Some(6),
        ..RateLimitConfig::default()
    };
    let (a, b) = (RateLimiter::new(&config), RateLimiter::new(&config));
    let (store_a, store_b) = (server.store(&prefix("ip")), server.store(&prefix("ip")));
    // Two addresses of one IPv6 /64, one on each replica: one budget.
    let mut passed = 0;
    for i in 0..12 {
        let (limiter, store, from) = if i % 2 == 0 {
            (&a, &store_a, ip("2001:db8:1:2::a"))
        } else {
            (&b, &store_b, ip("2001:db8:1:2::b"))
        };
        let plan = limiter.plan(&principal(&format!("k{i}")), from, false);
        if admitted(store, &plan).await {
            passed += 1;
        }
    }
    assert_eq!(passed, 6, "the /64's budget, shared");
    // The global budget (burst 6 of 10 a minute) is already spent by those 6 requests.
    let other = a.plan(&principal("k-other"), ip("192.0.2.7"), false);
    match store_a.take(&other).await.expect("Redis answers") {
        Taken::Refused { index, wait } => {
            assert_eq!(other[index].rule(), "rate_limits.global_per_minute = 10");
            assert!(wait > Duration::ZERO && wait <= Duration::from_secs(6));
        }
        Taken::Admitted => panic!("the global budget is spent"),
    }
    // The refused request still took from the budgets before the global one: its address
    // had 6 and now has 5.
    let mut left = 0;
    for _ in 0..6 {
        let only_ip: Vec<Budget> = a
            .plan(&principal("k-other"), ip("192.0.2.7"), false)
            .into_iter()
            .filter(|b| b.scope().starts_with("ip:"))
            .collect();
        if admitted(&store_b, &only_ip).await {
            left += 1;
        }
    }
    assert_eq!(left, 5);
}

#[tokio::test]
async fn failed_authentications_are_counted_for_the_fleet() {
    let Some(server) = RedisServer::start("failed_authentications_are_counted_for_the_fleet")
    else {
        return;
    };
    let limiter = RateLimiter::new(&RateLimitConfig::default());
    let (store_a, store_b) = (server.store(&prefix("auth")), server.store(&prefix("auth")));
    let budget = limiter.failed_auth_budget("198.51.100.9".parse().expect("ip"));
    assert_eq!(store_b.peek(&budget).await.expect("answers"), None);
    for i in 0..10 {
        let store = if i % 2 == 0 { &store_a } else { &store_b };
        store
            .take(std::slice::from_ref(&budget))
            .await
            .expect("answers");
        let blocked = store_b.peek(&budget).await.expect("answers");
        assert_eq!(blocked.is_some(), i == 9, "after {} failures", i + 1);
    }
    let wait = store_a
        .peek(&budget)
        .await
        .expect("answers")
        .expect("blocked");
    assert!(
        wait > Duration::from_secs(5) && wait <= Duration::from_secs(6),
        "{wait:?}"
    );
    // A peek takes nothing: another address is untouched.
    let other = limiter.failed_auth_budget("198.51.100.10".parse().expect("ip"));
    for _ in 0..20 {
        assert_eq!(store_a.peek(&other).await.expect("answers"), None);
    }
}

#[tokio::test]
async fn a_confirmation_is_redeemed_once_in_the_fleet() {
    let Some(server) = RedisServer::start("a_confirmation_is_redeemed_once_in_the_fleet") else {
        return;
    };
    let (store_a, store_b) = (
        server.store(&prefix("redeem")),
        server.store(&prefix("redeem")),
    );
    let validity = Duration::from_secs(600);
    assert!(store_a.redeem("00ff", validity).await.expect("answers"));
    assert!(!store_b.redeem("00ff", validity).await.expect("answers"));
    assert!(!store_a.redeem("00ff", validity).await.expect("answers"));
    assert!(store_b.redeem("0100", validity).await.expect("answers"));
    // The record expires with the state.
    assert!(
        store_a
            .redeem("short", Duration::from_millis(50))
            .await
            .expect("answers")
    );
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(
        store_b
            .redeem("short", Duration::from_millis(50))
            .await
            .expect("answers")
    );
}

#[tokio::test]
async fn budget_keys_expire_once_full_again() {
    let Some(server) = RedisServer::start("budget_keys_expire_once_full_again") else {
        return;
    };
    let store = server.store(&prefix("expiry"));
    // 600 a minute: one request's worth comes back in 100 ms.
    let config = RateLimitConfig {
        per_key_per_minute: Some(600),
        ..RateLimitConfig::default()
    };
    let plan = RateLimiter::new(&config).plan(&principal("k1"), None, false);
    assert!(admitted(&store, &plan).await);
    let mut probe = redis::Client::open(server.url())
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("connection");
    let key = format!("{}rate:{}", prefix("expiry"), plan[0].scope());
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut probe)
        .await
        .expect("pttl");
    assert!(ttl > 0 && ttl <= 100, "expires when full again: {ttl} ms");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let exists: i64 = redis::cmd("EXISTS")
        .arg(&key)
        .query_async(&mut probe)
        .await
        .expect("exists");
    assert_eq!(exists, 0);
}

#[tokio::test]
async fn a_killed_server_fails_fast_behind_the_breaker_and_is_used_again_once_back() {
    let Some(mut server) = RedisServer::start(
        "a_killed_server_fails_fast_behind_the_breaker_and_is_used_again_once_back",
    ) else {
        return;
    };
    let config = RateLimitConfig {
        per_key_per_minute: Some(6),
        burst: Some(6),
        ..RateLimitConfig::default()
    };
    let limiter = RateLimiter::new(&config);
    let plan = limiter.plan(&principal("k1"), None, false);
    let store = server.store(&prefix("kill"));
    assert!(admitted(&store, &plan).await);
    server.kill();
    let bound = Duration::from_millis(250) + Duration::from_millis(750);
    let started = Instant::now();
    assert!(store.take(&plan).await.is_err(), "the server is gone");
    assert!(started.elapsed() < bound, "{:?}", started.elapsed());
    // Within the breaker, calls fail at once.
    let started = Instant::now();
    for _ in 0..100 {
        assert!(store.take(&plan).await.is_err());
    }
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );
    server.restart();
    // Back within a few breaker periods (bounded loop).
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut back = false;
    while Instant::now() < deadline {
        if store.take(&plan).await.is_ok() {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "the store reconnects by itself");
    // The restarted server (nothing persisted) holds the budgets again, for both replicas.
    let other = server.store(&prefix("kill"));
    let mut passed = 1;
    for i in 0..12 {
        let store = if i % 2 == 0 { &store } else { &other };
        if admitted(store, &plan).await {
            passed += 1;
        }
    }
    assert_eq!(passed, 6);
}

#[tokio::test]
async fn a_stalled_server_never_holds_a_decision_beyond_the_timeout() {
    let stalled = Stalled::start();
    let mut options = Options::new(stalled.url());
    options.timeout = Duration::from_millis(100);
    let store = RedisStore::connect(&options).expect("a store");
    let limiter = RateLimiter::new(&RateLimitConfig {
        per_key_per_minute: Some(60),
        ..RateLimitConfig::default()
    });
    let plan = limiter.plan(&principal("k1"), None, false);
    // Generous bound: a correctness bound, not a benchmark.
    let bound = Duration::from_millis(100) + Duration::from_millis(400);
    for round in 0..3 {
        let started = Instant::now();
        let answer = store.take(&plan).await;
        assert!(
            answer.is_err(),
            "round {round}: a stalled server gives no answer"
        );
        assert!(
            started.elapsed() < bound,
            "round {round}: {:?}",
            started.elapsed()
        );
        let started = Instant::now();
        assert!(store.redeem("ab", Duration::from_secs(1)).await.is_err());
        assert!(store.peek(&plan[0]).await.is_err());
        assert!(
            started.elapsed() < bound * 2,
            "round {round}: {:?}",
            started.elapsed()
        );
        tokio::time::sleep(BREAKER + Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_server_version_is_reported() {
    let Some(server) = RedisServer::start("the_server_version_is_reported") else {
        return;
    };
    let version = server
        .store(&prefix("version"))
        .server_version()
        .await
        .expect("answers");
    let number = version.strip_prefix("Redis ").expect("named");
    assert!(
        number.chars().next().is_some_and(|c| c.is_ascii_digit()),
        "{version}"
    );
}

/// The ACL of docs/deployment.md ("Shared state on Redis"), on the test's own prefix.
const ACL: &str = "on >acl-test-password ~test-acl:* resetchannels -@all +evalsha +script|load +time +info +select +get +set +del +pexpire +zadd +zcard +zrange +zrem +zremrangebyscore +zremrangebyrank +sadd +scard +sismember";

#[tokio::test]
async fn an_acl_user_with_only_the_documented_commands_is_enough() {
    let Some(server) =
        RedisServer::start("an_acl_user_with_only_the_documented_commands_is_enough")
    else {
        return;
    };
    let mut admin = redis::Client::open(server.url())
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("connection");
    let mut acl = redis::cmd("ACL");
    acl.arg("SETUSER").arg("warden");
    for rule in ACL.split(' ') {
        acl.arg(rule);
    }
    let _: () = acl.query_async(&mut admin).await.expect("ACL SETUSER");
    // No one else may act anonymously.
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg("default")
        .arg("off")
        .query_async(&mut admin)
        .await
        .expect("default off");
    let mut options = Options::new(server.url());
    options.key_prefix = "test-acl:".to_owned();
    options.username = Some("warden".to_owned());
    options.password = Some("acl-test-password".into());
    let store = RedisStore::connect(&options).expect("a store");
    let limiter = RateLimiter::new(&RateLimitConfig {
        per_key_per_minute: Some(60),
        ..RateLimitConfig::default()
    });
    let plan = limiter.plan(&principal("k1"), ip("192.0.2.1"), false);
    assert!(admitted(&store, &plan).await);
    assert_eq!(store.peek(&plan[0]).await.expect("peek"), None);
    assert!(
        store
            .redeem("acl", Duration::from_secs(5))
            .await
            .expect("redeem")
    );
    assert!(store.server_version().await.is_ok());
    let bounds = warden_gateway::shared::SessionBounds {
        max: 10,
        per_owner: 1,
        idle: Duration::from_secs(60),
    };
    for id in ["s1", "s2"] {
        store
            .open_session(id, "k1", "record", bounds)
            .await
            .expect("open a session");
    }
    assert!(
        store
            .touch_session("s2", bounds.idle)
            .await
            .expect("touch")
            .is_some()
    );
    assert!(store.close_session("s2", "k1").await.expect("close"));
    let threshold = warden_audit::alerts::Threshold {
        count: 2,
        window: Duration::from_secs(60),
    };
    use warden_audit::SharedWindows;
    assert_eq!(store.hit("denied_burst", "k1", threshold).await, Ok(None));
    assert_eq!(
        store.hit("denied_burst", "k1", threshold).await,
        Ok(Some(2))
    );
    assert_eq!(store.new_address("k1", "192.0.2.1", 4).await, Ok(false));
    assert_eq!(store.new_address("k1", "192.0.2.2", 4).await, Ok(true));
    // Another prefix is out of the user's keys: refused, and said so without the password.
    let mut outside = options.clone();
    outside.key_prefix = "other:".to_owned();
    let refused = RedisStore::connect(&outside)
        .expect("a store")
        .take(&plan)
        .await
        .expect_err("no access to other keys");
    assert!(
        !refused.to_string().contains("acl-test-password"),
        "{refused}"
    );
    // A wrong password is refused too.
    let mut wrong = options.clone();
    wrong.password = Some("not-the-password".into());
    let refused = RedisStore::connect(&wrong)
        .expect("a store")
        .take(&plan)
        .await
        .expect_err("wrong password");
    assert!(
        !refused.to_string().contains("not-the-password"),
        "{refused}"
    );
}

#[tokio::test]
async fn sessions_are_recorded_bounded_and_ended_for_the_fleet() {
    use warden_gateway::shared::{SessionBounds, SessionOpened};
    let Some(server) = RedisServer::start("sessions_are_recorded_bounded_and_ended_for_the_fleet")
    else {
        return;
    };
    let (a, b) = (
        server.store(&prefix("sessions")),
        server.store(&prefix("sessions")),
    );
    let bounds = SessionBounds {
        max: 3,
        per_owner: 2,
        idle: Duration::from_secs(60),
    };
    let opened = |ended: &[&str]| SessionOpened::Opened {
        ended: ended.iter().map(|s| (*s).to_owned()).collect(),
    };
    assert_eq!(
        a.open_session("s1", "k1", "r1", bounds)
            .await
            .expect("answers"),
        opened(&[])
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        b.open_session("s2", "k1", "r2", bounds)
            .await
            .expect("answers"),
        opened(&[])
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        b.touch_session("s1", bounds.idle).await.expect("answers"),
        Some(("k1".to_owned(), "r1".to_owned()))
    );
    // k1 at its bound: its least recently used session (s2, as s1 was just used) ends.
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        a.open_session("s3", "k1", "r3", bounds)
            .await
            .expect("answers"),
        opened(&["s2"])
    );
    assert_eq!(
        a.touch_session("s2", bounds.idle).await.expect("answers"),
        None
    );
    // The fleet at its bound: refused.
    assert_eq!(
        b.open_session("s4", "k2", "r4", bounds)
            .await
            .expect("answers"),
        opened(&[])
    );
    assert_eq!(
        a.open_session("s5", "k3", "r5", bounds)
            .await
            .expect("answers"),
        SessionOpened::Full
    );
    // Only the owner ends a session.
    assert!(!b.close_session("s1", "k2").await.expect("answers"));
    assert!(b.close_session("s1", "k1").await.expect("answers"));
    assert_eq!(
        a.touch_session("s1", bounds.idle).await.expect("answers"),
        None
    );
    assert!(!a.close_session("s1", "k1").await.expect("answers"));
    // Room again.
    assert_eq!(
        a.open_session("s5", "k3", "r5", bounds)
            .await
            .expect("answers"),
        opened(&[])
    );
    // Idle sessions expire by themselves.
    let c = server.store(&prefix("sessions-idle"));
    let short = SessionBounds {
        idle: Duration::from_millis(100),
        ..bounds
    };
    assert_eq!(
        c.open_session("s6", "k4", "r6", short)
            .await
            .expect("answers"),
        opened(&[])
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        c.touch_session("s6", short.idle).await.expect("answers"),
        None
    );
}

#[tokio::test]
async fn alert_windows_count_once_per_window_and_addresses_are_bounded() {
    use warden_audit::SharedWindows;
    use warden_audit::alerts::Threshold;
    let Some(server) =
        RedisServer::start("alert_windows_count_once_per_window_and_addresses_are_bounded")
    else {
        return;
    };
    let (a, b) = (
        server.store(&prefix("alerts")),
        server.store(&prefix("alerts")),
    );
    let threshold = Threshold {
        count: 3,
        window: Duration::from_millis(300),
    };
    assert_eq!(a.hit("denied_burst", "k1", threshold).await, Ok(None));
    assert_eq!(b.hit("denied_burst", "k1", threshold).await, Ok(None));
    assert_eq!(
        a.hit("denied_burst", "k2", threshold).await,
        Ok(None),
        "another key"
    );
    assert_eq!(b.hit("denied_burst", "k1", threshold).await, Ok(Some(3)));
    assert_eq!(
        a.hit("denied_burst", "k1", threshold).await,
        Ok(None),
        "once per window"
    );
    assert_eq!(
        a.hit("rate_limited_burst", "k1", threshold).await,
        Ok(None),
        "another alert"
    );
    // Once the window has passed, events before it no longer count.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(a.hit("denied_burst", "k1", threshold).await, Ok(None));
    assert_eq!(b.hit("denied_burst", "k1", threshold).await, Ok(None));
    assert_eq!(a.hit("denied_burst", "k1", threshold).await, Ok(Some(3)));
    // Addresses: the first is the baseline; at most `max` are remembered.
    assert_eq!(a.new_address("k1", "192.0.2.1", 2).await, Ok(false));
    assert_eq!(b.new_address("k1", "192.0.2.1", 2).await, Ok(false));
    assert_eq!(b.new_address("k1", "192.0.2.2", 2).await, Ok(true));
    assert_eq!(a.new_address("k1", "192.0.2.2", 2).await, Ok(false));
    assert_eq!(
        a.new_address("k1", "192.0.2.3", 2).await,
        Ok(false),
        "over the bound"
    );
    assert_eq!(
        a.new_address("k2", "192.0.2.3", 2).await,
        Ok(false),
        "k2's baseline"
    );
}

#[tokio::test]
async fn tls_is_verified_against_the_configured_ca() {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("a certificate");
    let cert_pem = certified.cert.pem();
    let Some(server) = RedisServer::start_tls(
        "tls_is_verified_against_the_configured_ca",
        &cert_pem,
        &certified.signing_key.serialize_pem(),
    ) else {
        return;
    };
    let url = format!("rediss://127.0.0.1:{}", server.tls_port.expect("tls"));
    let limiter = RateLimiter::new(&RateLimitConfig {
        per_key_per_minute: Some(60),
        ..RateLimitConfig::default()
    });
    let plan = limiter.plan(&principal("k1"), None, false);
    let mut options = Options::new(&url);
    options.key_prefix = prefix("tls");
    options.ca_pem = Some(cert_pem.into_bytes());
    let trusted = RedisStore::connect(&options).expect("a store");
    assert!(
        admitted(&trusted, &plan).await,
        "TLS with the configured CA"
    );
    // Without it, the server's certificate is not trusted (Mozilla's roots do not sign it).
    options.ca_pem = None;
    let untrusted = RedisStore::connect(&options).expect("a store");
    assert!(
        untrusted.take(&plan).await.is_err(),
        "an unknown CA is refused"
    );
    // Another CA: refused too.
    let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("a CA");
    options.ca_pem = Some(other.cert.pem().into_bytes());
    let wrong = RedisStore::connect(&options).expect("a store");
    assert!(
        wrong.take(&plan).await.is_err(),
        "a certificate of another CA is refused"
    );
}
