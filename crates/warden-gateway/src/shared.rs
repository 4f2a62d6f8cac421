//! State shared by a fleet of gateways: the seam a shared store (Redis, see `warden-cluster`)
//! plugs into.
//!
//! The policy crate describes which budgets a request takes ([`warden_policy::Budget`]); a
//! [`SharedState`] runs that decision for every replica at once, remembers which confirmation
//! states were redeemed, and keeps the legacy sessions the HTTP transport opens (so that any
//! replica serves them). The gateway falls back to its in-process limiter when the store cannot
//! answer, and refuses confirmations (never a replay); the transport then serves the sessions a
//! replica holds. Every call of a store is bounded in time by the store itself.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use warden_policy::Budget;

/// The store could not answer in time (down, slow, or its breaker is open). The text says why,
/// without secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shared state unavailable: {0}")]
pub struct Unavailable(pub String);

/// What taking one request from a plan's budgets gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// Every budget had room; one request was taken from each.
    Admitted,
    /// The budget at `index` refused, after the budgets before it were taken from; a retry
    /// after `wait` is accepted.
    Refused {
        /// The refusing budget's position in the plan.
        index: usize,
        /// How long until it has room again.
        wait: Duration,
    },
}

/// The answer of a shared store: a boxed future, so the trait stays object-safe.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, Unavailable>> + Send + 'a>>;

/// A store the replicas of a fleet share. Every method answers within the store's own bounded
/// timeout, or [`Unavailable`].
pub trait SharedState: Send + Sync + 'static {
    /// Takes one request from each budget of `plan` in order, stopping at the first that
    /// refuses, atomically for the whole fleet (GCRA, as [`warden_policy::RateLimiter::take`]).
    fn take<'a>(&'a self, plan: &'a [Budget]) -> StoreFuture<'a, Taken>;

    /// Whether taking one request from `budget` would be refused now (`Some(wait)`), without
    /// taking it.
    fn peek<'a>(&'a self, budget: &'a Budget) -> StoreFuture<'a, Option<Duration>>;

    /// Marks the confirmation state `id` as redeemed for `validity`: `true` the first time in
    /// the fleet, `false` if it was redeemed before.
    fn redeem<'a>(&'a self, id: &'a str, validity: Duration) -> StoreFuture<'a, bool>;

    /// Records the legacy session `id` of `owner` (a principal's id) with what another replica
    /// needs to serve it (`record`), expiring after `bounds.idle` without use. Sessions idle for
    /// longer are forgotten first; an owner at `bounds.per_owner` gives up its least recently
    /// used session (named in the answer); a fleet at `bounds.max` refuses.
    fn open_session<'a>(
        &'a self,
        id: &'a str,
        owner: &'a str,
        record: &'a str,
        bounds: SessionBounds,
    ) -> StoreFuture<'a, SessionOpened>;

    /// The owner and record of the session `id`, its idle expiry refreshed; `None` when it
    /// ended, expired or never existed.
    fn touch_session<'a>(
        &'a self,
        id: &'a str,
        idle: Duration,
    ) -> StoreFuture<'a, Option<(String, String)>>;

    /// The server's name and version (e.g. `Redis 7.0.15`): whether it answers, for `doctor`
    /// and `/readyz`.
    fn version(&self) -> StoreFuture<'_, String>;

    /// Ends the session `id` if `owner` owns it: whether it did.
    fn close_session<'a>(&'a self, id: &'a str, owner: &'a str) -> StoreFuture<'a, bool>;
}

/// The fleet-wide bounds of legacy sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionBounds {
    /// Sessions open in the fleet.
    pub max: usize,
    /// Sessions open per owner.
    pub per_owner: usize,
    /// How long a session lives without use.
    pub idle: Duration,
}

/// What [`SharedState::open_session`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionOpened {
    /// Recorded; the owner's sessions given up to make room (at most one).
    Opened {
        /// Ids of the sessions ended.
        ended: Vec<String>,
    },
    /// The fleet holds its maximum of sessions.
    Full,
}

/// What a gateway of a fleet shares with the other replicas.
#[derive(Clone)]
pub struct Fleet {
    /// The shared store.
    pub store: Arc<dyn SharedState>,
    /// The secret that signs 2026-07-28 confirmation states, the same on every replica (at least
    /// 32 bytes), so a state issued by one replica is accepted by another.
    pub confirmation_key: Vec<u8>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet").finish_non_exhaustive()
    }
}

/// The shared state's status, as `/metrics` and `/readyz` report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedStatus {
    /// Whether the last call to the store was answered.
    pub up: bool,
    /// Rate decisions taken by the in-process limiter because the store could not answer.
    pub fallbacks: u64,
}
