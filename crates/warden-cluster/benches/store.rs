//! What sharing costs per request: a request's rate plan (key, address and global budgets)
//! taken in this process and on Redis, a legacy session's use on Redis, and the same plan on a
//! Redis that is down (the breaker's immediate answer).
//!
//! Run with: `cargo bench -p warden-cluster --bench store`. Needs `redis-server` (Debian's, or
//! `REDIS_SERVER`); without it the benchmark says so and measures nothing. The server runs on
//! 127.0.0.1 on a free port, in a temporary folder, and is stopped at the end.

// criterion_group! defines an undocumented public function; the benchmark prints its SKIP.
#![allow(missing_docs, clippy::print_stderr)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use warden_gateway::shared::{SessionBounds, SharedState};
use warden_policy::{KeyRateLimitConfig, Principal, RateLimitConfig, RateLimiter};

fn principal() -> Principal {
    let config: warden_policy::PolicyConfig =
        toml::from_str("[profiles.p]\nidentity = \"main\"\n").expect("policy toml");
    let policy =
        warden_policy::Policy::compile(&config, &warden_policy::KeyStoreFile::default(), &["main"])
            .expect("policy");
    Principal {
        key_id: "k_bench".to_owned(),
        key_name: "bench".to_owned(),
        profile: Arc::clone(policy.profile("p").expect("profile")),
        rate_limit: KeyRateLimitConfig::default(),
        expires: None,
    }
}

fn store(c: &mut Criterion) {
    let Some(server) = support::RedisServer::start("bench store") else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // Budgets large enough never to refuse during the run: the cost of a decision, not a refusal.
    let limiter = RateLimiter::new(&RateLimitConfig {
        global_per_minute: Some(u32::MAX),
        per_key_per_minute: Some(u32::MAX),
        per_ip_per_minute: Some(u32::MAX),
        ..RateLimitConfig::default()
    });
    let ip: IpAddr = "192.0.2.10".parse().expect("ip");
    let plan = limiter.plan(&principal(), Some(ip), false);
    assert_eq!(plan.len(), 3);
    let store = runtime.block_on(async { server.store("bench:") });
    let bounds = SessionBounds {
        max: 10,
        per_owner: 10,
        idle: Duration::from_secs(600),
    };
    runtime
        .block_on(store.open_session("s_bench", "k_bench", "2025-11-25 0", bounds))
        .expect("a session");

    let mut group = c.benchmark_group("rate_plan");
    group.bench_function("in_process", |b| {
        b.iter(|| limiter.take(&plan).expect("admitted"));
    });
    group.bench_function("redis", |b| {
        b.to_async(&runtime)
            .iter(|| async { store.take(&plan).await.expect("answers") });
    });
    group.finish();
    c.bench_function("session_touch/redis", |b| {
        b.to_async(&runtime).iter(|| async {
            store
                .touch_session("s_bench", bounds.idle)
                .await
                .expect("answers")
        });
    });
    let mut down = server;
    down.kill();
    // The first call finds it gone; then the breaker answers at once (a call a second tries
    // again, and is refused by the closed port).
    let _ = runtime.block_on(store.take(&plan));
    c.bench_function("rate_plan/redis_down", |b| {
        b.to_async(&runtime)
            .iter(|| async { store.take(&plan).await.is_err() });
    });
}

criterion_group!(benches, store);
criterion_main!(benches);
