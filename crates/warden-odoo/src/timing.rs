//! Time spent waiting for Odoo, summed over every call made within a scope: what the audit
//! log records as a request's Odoo latency.
//!
//! ```
//! # async fn demo() {
//! let (value, waited) = warden_odoo::timing::measure(async { 42 }).await;
//! assert_eq!(value, 42);
//! assert!(waited.calls == 0);
//! # }
//! ```

use std::cell::Cell;
use std::future::Future;
use std::time::{Duration, Instant};

tokio::task_local! {
    static WAITED: Cell<Scope>;
}

#[derive(Clone, Copy, Default)]
struct Scope {
    time: OdooTime,
    depth: u32,
}

/// Odoo calls made within a [`measure`] scope and the time spent in them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OdooTime {
    /// Calls made (each round trip, the failed ones included).
    pub calls: u32,
    /// Time spent in them.
    pub total: Duration,
}

/// Run `future`, and sum the time every [`crate::OdooClient`] call made within it waited.
pub async fn measure<F: Future>(future: F) -> (F::Output, OdooTime) {
    WAITED
        .scope(Cell::new(Scope::default()), async move {
            let output = future.await;
            (output, WAITED.with(|cell| cell.get().time))
        })
        .await
}

/// Run one client call, counted in the current scope (if any) unless it is made within
/// another counted call (the protocol detection inside a model call, say).
pub(crate) async fn track<F: Future>(future: F) -> F::Output {
    let outermost = WAITED
        .try_with(|cell| {
            let mut scope = cell.get();
            scope.depth += 1;
            cell.set(scope);
            scope.depth == 1
        })
        .unwrap_or(false);
    let started = Instant::now();
    let output = future.await;
    let elapsed = started.elapsed();
    let _ = WAITED.try_with(|cell| {
        let mut scope = cell.get();
        scope.depth = scope.depth.saturating_sub(1);
        if outermost {
            scope.time.calls = scope.time.calls.saturating_add(1);
            scope.time.total += elapsed;
        }
        cell.set(scope);
    });
    output
}
