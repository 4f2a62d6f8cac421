//! The load generator the HTTP benchmarks share: concurrent clients, each sending its calls one
//! after the other, and the percentiles of their latencies.

use std::future::Future;
use std::time::{Duration, Instant};

/// The latency at quantile `p` of `sorted`, in milliseconds.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // p is in [0, 1]: a valid index
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

/// About `calls` calls spread over `clients` tasks: each task gets its own caller from
/// `client()` (its own connections) and calls it with each call's number, one call after the
/// other. The wall time and every call's latency; panics once `deadline` has passed since
/// `started` (a benchmark stops by itself).
pub(crate) async fn drive<C, F, Fut>(
    clients: usize,
    calls: usize,
    started: Instant,
    deadline: Duration,
    client: F,
) -> (Duration, Vec<Duration>)
where
    F: Fn() -> C,
    C: Fn(u64) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let per = calls.div_ceil(clients);
    let begun = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let call = client();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::with_capacity(per);
            for i in 0..per {
                let t = Instant::now();
                call((c * per + i) as u64).await;
                samples.push(t.elapsed());
                assert!(started.elapsed() < deadline, "benchmark deadline");
            }
            samples
        }));
    }
    let mut all = Vec::with_capacity(calls);
    for task in tasks {
        all.extend(task.await.expect("client task"));
    }
    (begun.elapsed(), all)
}
