//! The MCP engine: one incoming message and its caller in, the response (and any notifications)
//! out. Transport-agnostic: stdio and HTTP feed it the same way.
//!
//! Both protocol eras are served by one [`Session`]:
//! - a request whose `_meta` carries `io.modelcontextprotocol/protocolVersion` is served
//!   statelessly in that (2026-07-28) revision;
//! - `initialize` negotiates a legacy revision (2025-03-26 … 2025-11-25) for the session, and
//!   requests without modern `_meta` are then served in it;
//! - any other request (no handshake, no modern `_meta`) is refused: nothing is served to a
//!   client that has not said which protocol it speaks.
//!
//! Results are shaped for the revision in use by `warden-mcp` (members a revision does not know
//! are dropped; `resultType`, `ttlMs` and `cacheScope` only in 2026-07-28).
//!
//! Every session belongs to one authenticated key ([`Gateway::authenticate`]). Every request,
//! whatever its method, first re-validates the key against the current policy (a reload may
//! have revoked it, or it may have expired), checks the client address against the global,
//! profile and key IP rules, and takes from the rate budgets; then it is served by the catalog
//! of the key's profile: its own Odoo identity, seen through the profile's rules.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, oneshot};
use warden_audit::{AuditEvent, Auditor, Decision, Outcome};
use warden_mcp::{Era, Incoming, ProtocolVersion, RequestMeta, RpcError, error_code, method as m};
use warden_odoo::timing::OdooTime;
use warden_policy::{DenialKind, Principal, RateLimitConfig, RateLimiter};

use crate::catalog::{CallError, Catalog, PromptContent, Role, ToolDef, ToolOutcome};
use crate::confirm::{self, StateKey};
use crate::runtime::Runtime;
use crate::shared::{Fleet, SharedState, SharedStatus, Taken, Unavailable};
use crate::trace::{Trace, rpc_error_kind};

/// JSON-RPC error code of a request refused by the policy (key, network).
pub const FORBIDDEN: i32 = -32003;
/// JSON-RPC error code of a request refused by a rate limit; `data.retryAfterMs` says when to
/// retry.
pub const RATE_LIMITED: i32 = -32029;
/// JSON-RPC error code of a request refused or withheld because its audit event could not be
/// recorded (a fail-closed audit sink is failing).
pub const AUDIT_UNAVAILABLE: i32 = -32005;
/// Longest wait for a human's answer to a confirmation.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(600);

/// Items per page of a list result.
const PAGE_SIZE: usize = 50;
/// How long a client may cache list results (2026-07-28 `ttlMs`).
const LIST_TTL_MS: u64 = 60_000;

/// Who the server says it is.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// Implementation name, e.g. `odoo-warden`.
    pub name: String,
    /// Implementation version.
    pub version: String,
    /// Instructions for the model, sent at initialize / discover.
    pub instructions: Option<String>,
}

impl Default for ServerInfo {
    fn default() -> Self {
        Self {
            name: "odoo-warden".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            instructions: Some(
                "Tools over an Odoo ERP. Odoo domains are lists of conditions such as \
                 [[\"is_company\", \"=\", true]]; use describe_model to learn a model's fields and \
                 list_models to find models. Results are paged: pass offset to get more."
                    .to_owned(),
            ),
        }
    }
}

/// Refusals recorded one by one per address and minute; beyond, they are counted, and the next
/// recorded refusal of the address says how many were not (a flood of refused requests cannot
/// fill the audit log).
const REFUSALS_PER_MINUTE: u32 = 120;
/// Addresses whose refusals are counted at once (beyond, the oldest windows are dropped).
const REFUSAL_ADDRESSES: usize = 10_000;

/// `reason`, saying how many refusals before it were not recorded one by one.
fn with_suppressed(reason: &str, suppressed: u64) -> String {
    if suppressed == 0 {
        return reason.to_owned();
    }
    format!(
        "{reason} ({suppressed} more refusals from this address in the previous minute were not \
         recorded one by one)"
    )
}

#[derive(Default)]
struct RefusalWindows {
    windows: HashMap<IpAddr, (SystemTime, u32, u64)>,
}

impl RefusalWindows {
    /// `Some(suppressed since the last recorded one)` when this refusal is to be recorded.
    fn admit(&mut self, ip: IpAddr, now: SystemTime) -> Option<u64> {
        if !self.windows.contains_key(&ip) && self.windows.len() >= REFUSAL_ADDRESSES {
            let cutoff = now - Duration::from_secs(60);
            self.windows.retain(|_, (start, _, _)| *start > cutoff);
            if self.windows.len() >= REFUSAL_ADDRESSES {
                return Some(0);
            }
        }
        let entry = self.windows.entry(ip).or_insert((now, 0, 0));
        if now.duration_since(entry.0).unwrap_or_default() >= Duration::from_secs(60) {
            let suppressed = entry.2;
            *entry = (now, 1, 0);
            return Some(suppressed);
        }
        if entry.1 < REFUSALS_PER_MINUTE {
            entry.1 += 1;
            return Some(0);
        }
        entry.2 += 1;
        None
    }
}

/// A key that [`Gateway::authenticate`] accepted. Sessions are opened for it only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyId(String);

impl KeyId {
    /// The key's id (never its secret).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a presented key was refused. Its text is what the client is told: it never says whether
/// the key exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AuthFailure {
    /// What the client is told.
    pub message: String,
    /// When a retry may succeed (too many failed attempts from the address).
    pub retry_after: Option<Duration>,
    /// Why, for the operator's log and the audit trail (e.g. `expired`, `revoked`, `unknown`).
    pub reason: String,
}

/// Who is calling, as the transport knows it.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Caller {
    /// `stdio` or `http`.
    pub transport: &'static str,
    /// The client's address, when the transport has one.
    pub client_ip: Option<IpAddr>,
}

impl Caller {
    /// A caller over HTTP from `client_ip` (the socket peer, or the address a trusted proxy
    /// forwarded).
    pub fn http(client_ip: Option<IpAddr>) -> Self {
        Self {
            transport: "http",
            client_ip,
        }
    }

    /// The caller of a stdio process: the local user who started it.
    pub fn stdio() -> Self {
        Self {
            transport: "stdio",
            client_ip: None,
        }
    }
}

/// The engine: the current [`Runtime`] (policy and catalogs), the rate limiter and the
/// server's identity. Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<GatewayInner>,
}

struct GatewayInner {
    info: ServerInfo,
    auditor: Auditor,
    refusals: Mutex<RefusalWindows>,
    runtime: RwLock<Arc<Runtime>>,
    limiter: RwLock<Arc<Limiter>>,
    /// The secret confirmation states are signed with, and the states redeemed in this process.
    state_key: RwLock<Arc<StateKey>>,
    /// The store a fleet shares (`None`: a single process, every state in memory).
    shared: RwLock<Option<Arc<dyn SharedState>>>,
    /// Whether the shared store answered its last call.
    shared_up: AtomicBool,
    /// Rate decisions taken in this process because the shared store could not answer.
    fallbacks: AtomicU64,
    /// Failed authentications being recorded in the shared store (bounded).
    auth_records: Arc<tokio::sync::Semaphore>,
}

/// The confirmation key and store of `fleet`, or a random key and none.
fn fleet_parts(fleet: Option<Fleet>) -> (Arc<StateKey>, Option<Arc<dyn SharedState>>) {
    match fleet {
        Some(fleet) => (
            Arc::new(StateKey::from_secret(&fleet.confirmation_key)),
            Some(fleet.store),
        ),
        None => (Arc::new(StateKey::random()), None),
    }
}

/// Failed authentications recorded in the shared store at the same time, at most; beyond, a
/// failure is counted in this process only.
const MAX_AUTH_RECORDS: usize = 256;

/// The rate limiter and the configuration it was built from (kept across reloads that do not
/// change the limits, so budgets are not reset by a reload).
struct Limiter {
    config: RateLimitConfig,
    limiter: RateLimiter,
}

impl Limiter {
    fn new(config: &RateLimitConfig) -> Self {
        Self {
            config: config.clone(),
            limiter: RateLimiter::new(config),
        }
    }
}

impl Gateway {
    /// An engine over `runtime` that records nothing (embedding behind another audit trail,
    /// tests). odoo-warden's transports use [`Gateway::with_audit`].
    pub fn new(runtime: Runtime, info: ServerInfo) -> Self {
        Self::with_audit(runtime, info, Auditor::disabled())
    }

    /// An engine over `runtime` that records every request, allowed or denied, with `auditor`.
    pub fn with_audit(runtime: Runtime, info: ServerInfo, auditor: Auditor) -> Self {
        Self::build(runtime, info, auditor, None)
    }

    /// An engine of a fleet: rate budgets, failed authentications and redeemed confirmations
    /// are shared with the other replicas through `fleet.store`, and confirmation states are
    /// signed with the fleet's key (see [`crate::shared`]).
    pub fn with_fleet(runtime: Runtime, info: ServerInfo, auditor: Auditor, fleet: Fleet) -> Self {
        Self::build(runtime, info, auditor, Some(fleet))
    }

    fn build(runtime: Runtime, info: ServerInfo, auditor: Auditor, fleet: Option<Fleet>) -> Self {
        let limiter = Limiter::new(runtime.policy().rate_limits());
        let (state_key, shared) = fleet_parts(fleet);
        Self {
            inner: Arc::new(GatewayInner {
                info,
                auditor,
                refusals: Mutex::new(RefusalWindows::default()),
                runtime: RwLock::new(Arc::new(runtime)),
                limiter: RwLock::new(Arc::new(limiter)),
                state_key: RwLock::new(state_key),
                shared: RwLock::new(shared),
                shared_up: AtomicBool::new(true),
                fallbacks: AtomicU64::new(0),
                auth_records: Arc::new(tokio::sync::Semaphore::new(MAX_AUTH_RECORDS)),
            }),
        }
    }

    /// The store this engine shares with its fleet, if any (the HTTP transport keeps legacy
    /// sessions there too).
    pub fn shared_store(&self) -> Option<Arc<dyn SharedState>> {
        self.inner
            .shared
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn state_key(&self) -> Arc<StateKey> {
        Arc::clone(
            &self
                .inner
                .state_key
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Join a fleet (`Some`), leave it (`None`) or move to another store or key: what a reload
    /// does when `[cluster]` changed. Requests in flight finish with the store they started
    /// with; confirmation states issued under another key are no longer accepted.
    pub fn set_fleet(&self, fleet: Option<Fleet>) {
        let (state_key, shared) = fleet_parts(fleet);
        *self
            .inner
            .shared
            .write()
            .unwrap_or_else(PoisonError::into_inner) = shared;
        *self
            .inner
            .state_key
            .write()
            .unwrap_or_else(PoisonError::into_inner) = state_key;
        self.inner.shared_up.store(true, Ordering::Relaxed);
    }

    /// Asks the shared store whether it answers (its version), updating the status `/metrics`
    /// and `/readyz` report (and raising the alert of a transition). `None` without a fleet.
    pub async fn check_shared_state(&self) -> Option<bool> {
        let store = self.shared_store()?;
        Some(self.shared_answer(store.version().await).is_some())
    }

    /// The shared store's status, when this engine belongs to a fleet.
    pub fn shared_status(&self) -> Option<SharedStatus> {
        self.shared_store().map(|_| SharedStatus {
            up: self.inner.shared_up.load(Ordering::Relaxed),
            fallbacks: self.inner.fallbacks.load(Ordering::Relaxed),
        })
    }

    /// Notes the outcome of a call to the shared store: the transition down is logged (WARN)
    /// and recorded as an alert (`shared_state_unavailable`), the way back up logged (INFO) and
    /// recorded (`shared_state_restored`).
    fn shared_answer<T>(&self, answer: Result<T, Unavailable>) -> Option<T> {
        let inner = &self.inner;
        match answer {
            Ok(value) => {
                if !inner.shared_up.swap(true, Ordering::Relaxed) {
                    tracing::info!(
                        "shared state reachable again: budgets and confirmations are shared by the fleet"
                    );
                    self.shared_alert(
                        "shared_state_restored",
                        "the shared state store answers again; rate budgets are shared by the fleet again",
                    );
                }
                Some(value)
            }
            Err(error) => {
                if inner.shared_up.swap(false, Ordering::Relaxed) {
                    tracing::warn!(%error, "shared state unavailable: rate limits fall back to this process's budgets, confirmations are refused");
                    self.shared_alert(
                        "shared_state_unavailable",
                        &format!(
                            "{error}; rate limits fall back to each process's own budgets and 2026-07-28 confirmations are refused until it answers"
                        ),
                    );
                }
                None
            }
        }
    }

    fn shared_alert(&self, name: &str, message: &str) {
        let alert = warden_audit::event::Alert {
            name: name.to_owned(),
            message: message.to_owned(),
            count: None,
            window_s: None,
        };
        self.inner
            .auditor
            .record_nowait(AuditEvent::alert(SystemTime::now(), alert));
    }

    /// Takes one request from each budget of `plan`: in the shared store when there is one and
    /// it answers, otherwise in this process.
    async fn take_budgets(
        &self,
        limiter: &Limiter,
        plan: &[warden_policy::Budget],
    ) -> Result<(), warden_policy::Denial> {
        if let Some(store) = self.shared_store() {
            if plan.is_empty() {
                return Ok(());
            }
            if let Some(taken) = self.shared_answer(store.take(plan).await) {
                return match taken {
                    Taken::Admitted => Ok(()),
                    Taken::Refused { index, wait } => Err(plan
                        .get(index)
                        .unwrap_or(&plan[plan.len() - 1])
                        .denial(wait)),
                };
            }
            self.inner.fallbacks.fetch_add(1, Ordering::Relaxed);
        }
        limiter.limiter.take(plan)
    }

    /// Before a credential from `caller` is checked: refuses an address that has used up its
    /// failed-authentication budget in the fleet (the shared store; this process's own budget
    /// is checked by [`Gateway::authenticate_caller`]). Without a shared store, or when it
    /// does not answer, nothing is refused here.
    pub async fn fleet_auth_allowed(&self, caller: &Caller) -> Result<(), AuthFailure> {
        let (Some(store), Some(ip)) = (self.shared_store(), caller.client_ip) else {
            return Ok(());
        };
        let budget = self.limiter().limiter.failed_auth_budget(ip);
        match self.shared_answer(store.peek(&budget).await) {
            Some(Some(wait)) => {
                let denial = budget.denial(wait);
                let failure = AuthFailure {
                    message: denial.message,
                    retry_after: Some(wait.max(Duration::from_millis(1))),
                    reason: "too many failed authentications".to_owned(),
                };
                self.record_auth_failure(caller, &failure);
                Err(failure)
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed authentication from `ip` in this process and, in a fleet, in the shared
    /// store (in the background, bounded by the store's timeout and [`MAX_AUTH_RECORDS`]).
    fn record_failed_auth(&self, limiter: &Limiter, ip: Option<IpAddr>) {
        limiter.limiter.record_failed_auth(ip);
        let (Some(store), Some(ip)) = (self.shared_store(), ip) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let Ok(permit) = Arc::clone(&self.inner.auth_records).try_acquire_owned() else {
            return;
        };
        let budget = limiter.limiter.failed_auth_budget(ip);
        let gateway = self.clone();
        runtime.spawn(async move {
            let answer = store.take(std::slice::from_ref(&budget)).await;
            gateway.shared_answer(answer);
            drop(permit);
        });
    }

    /// Serve new requests under `runtime` from now on. Requests in flight finish under the
    /// runtime they started with; sessions stay open; rate budgets are kept unless the limits
    /// changed.
    pub fn reload(&self, runtime: Runtime) {
        let limits = runtime.policy().rate_limits().clone();
        {
            let mut limiter = self
                .inner
                .limiter
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if limiter.config != limits {
                *limiter = Arc::new(Limiter::new(&limits));
            }
        }
        *self
            .inner
            .runtime
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(runtime);
    }

    /// The audit pipeline requests are recorded in.
    pub fn auditor(&self) -> &Auditor {
        &self.inner.auditor
    }

    /// The runtime new requests are served under.
    pub fn runtime(&self) -> Arc<Runtime> {
        Arc::clone(
            &self
                .inner
                .runtime
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    fn limiter(&self) -> Arc<Limiter> {
        Arc::clone(
            &self
                .inner
                .limiter
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Check a presented key secret from `client_ip` (`None`: stdio): the address's failed
    /// attempts, the global IP rules, then the secret (constant-time), its validity window
    /// and revocation, and the profile's and key's IP rules. A failure counts against the
    /// address's failed-authentication budget.
    ///
    /// Every failure is recorded in the audit log (method `authenticate`, the address, why).
    pub fn authenticate(
        &self,
        secret: &str,
        client_ip: Option<IpAddr>,
    ) -> Result<KeyId, AuthFailure> {
        let caller = Caller {
            transport: if client_ip.is_some() { "http" } else { "stdio" },
            client_ip,
        };
        self.authenticate_caller(secret, &caller)
    }

    /// [`Gateway::authenticate`] for `caller` (its address and transport are recorded).
    pub fn authenticate_caller(&self, secret: &str, caller: &Caller) -> Result<KeyId, AuthFailure> {
        let result = self.check_secret(secret, caller.client_ip);
        if let Err(failure) = &result {
            self.record_auth_failure(caller, failure);
        }
        result
    }

    /// An OAuth identity whose access token the transport validated (signature, issuer,
    /// audience, validity, scopes) and whose claims map to `profile`: the failed-authentication
    /// budget of the address, the global IP rules, the profile, and the profile's IP rules. The
    /// token itself never reaches the gateway, let alone Odoo. Failures are recorded.
    pub fn authenticate_oauth(
        &self,
        subject: &str,
        profile: &str,
        caller: &Caller,
    ) -> Result<KeyId, AuthFailure> {
        let result = self.check_oauth(subject, profile, caller.client_ip);
        if let Err(failure) = &result {
            self.record_auth_failure(caller, failure);
        }
        result
    }

    /// Record a presented credential the transport refused (an access token that does not
    /// validate): it counts against the address's failed-authentication budget and is audited.
    /// `reason` names why, never the token.
    pub fn reject_credential(&self, caller: &Caller, reason: &str) -> AuthFailure {
        let limiter = self.limiter();
        let failure = match Self::auth_budget(&limiter, caller.client_ip) {
            Err(failure) => failure,
            Ok(()) => {
                self.record_failed_auth(&limiter, caller.client_ip);
                AuthFailure {
                    message: "invalid access token".to_owned(),
                    retry_after: None,
                    reason: reason.to_owned(),
                }
            }
        };
        self.record_auth_failure(caller, &failure);
        failure
    }

    /// Record a request the transport refused before the engine saw it (no credentials, HTTP
    /// headers that contradict the body...): `method` as far as it is known, `kind` the outcome
    /// kind, `reason` why.
    pub fn record_refusal(
        &self,
        caller: &Caller,
        key: Option<&KeyId>,
        method: &str,
        kind: &str,
        reason: &str,
    ) {
        let now = SystemTime::now();
        let Some(suppressed) = self.admit_refusal(caller, now) else {
            return;
        };
        let mut event = AuditEvent::request(now, method);
        event.transport = Some(caller.transport.to_owned());
        event.client_ip = caller.client_ip.map(|ip| ip.to_string());
        if let Some(key) = key {
            event.key_id = Some(key.as_str().to_owned());
            // Named as the key's other requests are, so `audit search --key NAME` finds it.
            if let Some((name, profile)) = self.runtime().policy().key_label(key.as_str()) {
                event.key_name = Some(name);
                event.profile = Some(profile);
            }
        }
        let reason = with_suppressed(reason, suppressed);
        event.decision = Some(Decision::deny("", reason));
        event.outcome = Some(Outcome::error(kind));
        self.inner.auditor.record_nowait(event);
    }

    /// Whether a refusal from `caller` at `now` is recorded one by one: `Some(refusals not
    /// recorded since the last one)`, or `None` past the address's budget (see
    /// [`REFUSALS_PER_MINUTE`]).
    fn admit_refusal(&self, caller: &Caller, now: SystemTime) -> Option<u64> {
        let Some(ip) = caller.client_ip else {
            return Some(0);
        };
        self.inner
            .refusals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .admit(ip, now)
    }

    fn record_auth_failure(&self, caller: &Caller, failure: &AuthFailure) {
        let now = SystemTime::now();
        let Some(suppressed) = self.admit_refusal(caller, now) else {
            return;
        };
        let mut event = AuditEvent::request(now, "authenticate");
        event.transport = Some(caller.transport.to_owned());
        event.client_ip = caller.client_ip.map(|ip| ip.to_string());
        let rule = if failure.retry_after.is_some() {
            "rate_limits.failed_auth_per_ip_per_minute"
        } else {
            ""
        };
        let reason = with_suppressed(&failure.reason, suppressed);
        event.decision = Some(Decision::deny(rule, reason));
        event.outcome = Some(Outcome::error(if failure.retry_after.is_some() {
            "rate_limited"
        } else {
            "unauthenticated"
        }));
        self.inner.auditor.record_nowait(event);
    }

    fn check_oauth(
        &self,
        subject: &str,
        profile: &str,
        client_ip: Option<IpAddr>,
    ) -> Result<KeyId, AuthFailure> {
        let runtime = self.runtime();
        Self::auth_budget(&self.limiter(), client_ip)?;
        let policy = runtime.policy();
        if let Err(denial) = policy.check_ip_global(client_ip) {
            return Err(AuthFailure {
                message: "this address may not use odoo-warden".to_owned(),
                retry_after: None,
                reason: denial.rule,
            });
        }
        let Some(principal) = policy.oauth_principal(subject, profile) else {
            return Err(AuthFailure {
                message: "the access token maps to no usable profile".to_owned(),
                retry_after: None,
                reason: format!("oauth: no profile {profile:?}"),
            });
        };
        if let Err(denial) = policy.check_ip(&principal, client_ip) {
            return Err(AuthFailure {
                message: "this address may not use this profile".to_owned(),
                retry_after: None,
                reason: denial.rule,
            });
        }
        Ok(KeyId(principal.key_id))
    }

    fn check_secret(&self, secret: &str, client_ip: Option<IpAddr>) -> Result<KeyId, AuthFailure> {
        let runtime = self.runtime();
        let limiter = self.limiter();
        Self::auth_budget(&limiter, client_ip)?;
        let policy = runtime.policy();
        if let Err(denial) = policy.check_ip_global(client_ip) {
            return Err(AuthFailure {
                message: "this address may not use odoo-warden".to_owned(),
                retry_after: None,
                reason: denial.rule,
            });
        }
        let principal = match policy.authenticate(secret, SystemTime::now()) {
            Ok(principal) => principal,
            Err(error) => {
                self.record_failed_auth(&limiter, client_ip);
                return Err(AuthFailure {
                    message: "invalid API key (unknown, expired, not yet valid or revoked)"
                        .to_owned(),
                    retry_after: None,
                    reason: error.to_string(),
                });
            }
        };
        if let Err(denial) = policy.check_ip(&principal, client_ip) {
            return Err(AuthFailure {
                message: "this address may not use this key".to_owned(),
                retry_after: None,
                reason: denial.rule,
            });
        }
        Ok(KeyId(principal.key_id))
    }

    /// `Err` when `client_ip` has used up its budget of failed authentications.
    fn auth_budget(limiter: &Limiter, client_ip: Option<IpAddr>) -> Result<(), AuthFailure> {
        limiter
            .limiter
            .check_auth_allowed(client_ip)
            .map_err(|denial| AuthFailure {
                message: denial.message,
                retry_after: match denial.kind {
                    DenialKind::RateLimited { retry_after } => Some(retry_after),
                    _ => None,
                },
                reason: "too many failed authentications".to_owned(),
            })
    }

    /// The legacy session another replica opened for `key` and recorded as `snapshot`, served
    /// here from now on.
    pub fn restore_session(
        &self,
        caller: Caller,
        key: KeyId,
        snapshot: SessionSnapshot,
    ) -> Session {
        let session = self.session(caller, key);
        *session
            .state
            .legacy
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(snapshot.version);
        *session
            .state
            .elicitation
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = snapshot.elicitation;
        session
    }

    /// A session of the key `key` for one connection (one stdio process, one HTTP session or
    /// stateless request).
    pub fn session(&self, caller: Caller, key: KeyId) -> Session {
        Session {
            gateway: self.clone(),
            caller,
            state: Arc::new(SessionState {
                key,
                legacy: Mutex::new(None),
                elicitation: Mutex::new(false),
                in_flight: Mutex::new(HashMap::new()),
                pending: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
            }),
        }
    }
}

/// What a legacy session needs to be served by another replica of a fleet (see
/// [`Session::snapshot`], [`Gateway::restore_session`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSnapshot {
    /// The revision `initialize` negotiated.
    pub version: ProtocolVersion,
    /// Whether the client declared the elicitation capability.
    pub elicitation: bool,
}

impl SessionSnapshot {
    /// A short text form (`<version> <0|1>`), what a fleet's store keeps.
    pub fn encode(&self) -> String {
        format!("{} {}", self.version.as_str(), u8::from(self.elicitation))
    }

    /// The snapshot [`SessionSnapshot::encode`] wrote, if it is one (a legacy revision this
    /// server speaks).
    pub fn decode(text: &str) -> Option<Self> {
        let (version, elicitation) = text.split_once(' ')?;
        let version = ProtocolVersion::parse(version).filter(|v| v.era() == Era::Legacy)?;
        let elicitation = match elicitation {
            "0" => false,
            "1" => true,
            _ => return None,
        };
        Some(Self {
            version,
            elicitation,
        })
    }
}

/// One connection's state: its key, the negotiated legacy revision, the requests in flight and
/// the requests this server sent and awaits answers to.
#[derive(Clone)]
pub struct Session {
    gateway: Gateway,
    /// Who sends the message being handled: a legacy HTTP session's requests may each come
    /// from another address (see [`Session::with_caller`]).
    caller: Caller,
    state: Arc<SessionState>,
}

type Answer = Result<Value, String>;

struct SessionState {
    key: KeyId,
    legacy: Mutex<Option<ProtocolVersion>>,
    /// Whether the legacy client declared the elicitation capability.
    elicitation: Mutex<bool>,
    in_flight: Mutex<HashMap<String, oneshot::Sender<()>>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    next_id: AtomicU64,
}

/// What the policy says before a request is served.
struct Admitted {
    runtime: Arc<Runtime>,
    principal: Principal,
}

/// The outcome of a confirmation.
enum Confirmation {
    Proceed,
    Refused(ToolOutcome),
    InputRequired(Value),
}

/// The key of a request id in the in-flight table: its JSON text, as `requestId` is compared.
fn id_key(id: &warden_mcp::RequestId) -> String {
    serde_json::to_string(id).unwrap_or_default()
}

type RpcResult = Result<Value, RpcError>;

impl Session {
    /// The caller this session serves.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// The same session (its key, negotiated revision, requests in flight and awaited answers),
    /// for a message from `caller`: over HTTP each request of a legacy session is checked
    /// against, rate limited by and recorded with the address it came from, not the one that
    /// opened the session.
    #[must_use]
    pub fn with_caller(&self, caller: Caller) -> Session {
        Session {
            gateway: self.gateway.clone(),
            caller,
            state: Arc::clone(&self.state),
        }
    }

    /// The key this session belongs to.
    pub fn key(&self) -> &KeyId {
        &self.state.key
    }

    /// What another replica of a fleet needs to serve this legacy session once it is
    /// initialized: the negotiated revision and whether the client can be asked (elicitation).
    /// `None` before `initialize`.
    pub fn snapshot(&self) -> Option<SessionSnapshot> {
        let version = (*self
            .state
            .legacy
            .lock()
            .unwrap_or_else(PoisonError::into_inner))?;
        let elicitation = *self
            .state
            .elicitation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Some(SessionSnapshot {
            version,
            elicitation,
        })
    }

    /// Handle one message (the bytes of one JSON-RPC message). Returns the response to send, if
    /// any; notifications for the client (progress) are sent to `outbound` meanwhile.
    pub async fn handle(&self, message: &[u8], outbound: &mpsc::Sender<Value>) -> Option<Value> {
        match warden_mcp::decode(message) {
            Err(error) => {
                let response = error.response();
                let code = response
                    .as_ref()
                    .and_then(|r| r.pointer("/error/code"))
                    .and_then(Value::as_i64)
                    .and_then(|c| i32::try_from(c).ok())
                    .unwrap_or(error_code::INVALID_REQUEST);
                let mut trace = self.trace("invalid", None);
                // Named as the key's other requests are (`audit search --key NAME`).
                let runtime = self.gateway.runtime();
                if let Some((name, profile)) = runtime.policy().key_label(self.state.key.as_str()) {
                    trace.named(name, profile);
                }
                trace.error(rpc_error_kind(code));
                self.gateway
                    .inner
                    .auditor
                    .record_nowait(trace.finish(OdooTime::default()));
                response
            }
            Ok(Incoming::Notification(notification)) => {
                self.notification(&notification.method, notification.params.as_ref());
                None
            }
            // An answer to a request this server sent (a confirmation); anything else is ignored.
            Ok(Incoming::Response(response)) => {
                let key = id_key(&response.id);
                let waiter = self
                    .state
                    .pending
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&key);
                if let Some(waiter) = waiter {
                    let answer = match response.payload {
                        warden_mcp::ResponsePayload::Result(value) => Ok(value),
                        warden_mcp::ResponsePayload::Error(error) => {
                            Err(error.message().to_owned())
                        }
                    };
                    let _ = waiter.send(answer);
                }
                None
            }
            Ok(Incoming::Request(request)) => {
                let key = id_key(&request.id);
                let mut trace = self.trace(&request.method, Some(key.clone()));
                let (cancel_tx, cancel_rx) = oneshot::channel();
                self.lock_in_flight().insert(key.clone(), cancel_tx);
                // Boxed: the request's future is deep, and the stdio transport nests it again.
                let work = Box::pin(warden_odoo::timing::measure(self.request(
                    &request.method,
                    request.params.as_ref(),
                    outbound,
                    &mut trace,
                )));
                let outcome = tokio::select! {
                    outcome = work => Some(outcome),
                    // Cancelled: the client no longer wants an answer.
                    _ = cancel_rx => None,
                };
                self.lock_in_flight().remove(&key);
                let auditor = &self.gateway.inner.auditor;
                let Some(((version, result), odoo)) = outcome else {
                    trace.error("cancelled");
                    auditor.record_nowait(trace.finish(OdooTime::default()));
                    return None;
                };
                match &result {
                    Ok(value) => trace.result_bytes(value),
                    Err(e) if e.code != AUDIT_UNAVAILABLE => trace.error(rpc_error_kind(e.code)),
                    Err(_) => {}
                }
                let event = trace.finish(odoo);
                let result = match auditor.record(event).await {
                    Ok(()) => result,
                    // Fail closed: nothing is handed out that the audit log does not hold.
                    Err(error) => {
                        tracing::error!(%error, "request withheld: its audit event was not recorded");
                        Err(RpcError::new(
                            AUDIT_UNAVAILABLE,
                            format!(
                                "{error}; the answer is withheld (a change the request made, if any, was carried out)"
                            ),
                        ))
                    }
                };
                Some(match result {
                    Ok(result) => warden_mcp::result_response(&request.id, version, result),
                    Err(e) => warden_mcp::error_response(&request.id, e.code, &e.message, e.data),
                })
            }
        }
    }

    fn trace(&self, method: &str, request_id: Option<String>) -> Trace {
        Trace::new(
            method,
            request_id,
            self.state.key.as_str(),
            self.caller.transport,
            self.caller.client_ip,
        )
    }

    fn lock_in_flight(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<()>>> {
        self.state
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn notification(&self, method: &str, params: Option<&Map<String, Value>>) {
        match method {
            "notifications/cancelled" => {
                let Some(id) = params.and_then(|p| p.get("requestId")) else {
                    return;
                };
                if let Some(cancel) = self.lock_in_flight().remove(&id.to_string()) {
                    tracing::debug!(request = %id, "request cancelled by the client");
                    let _ = cancel.send(());
                }
            }
            "notifications/initialized" => tracing::debug!("client initialized"),
            other => tracing::debug!(method = other, "notification ignored"),
        }
    }

    /// The revision a request is served in, then its result.
    async fn request(
        &self,
        method: &str,
        params: Option<&Map<String, Value>>,
        outbound: &mpsc::Sender<Value>,
        trace: &mut Trace,
    ) -> (ProtocolVersion, RpcResult) {
        let empty = Map::new();
        let params = params.unwrap_or(&empty);
        if method == m::INITIALIZE {
            if let Err(error) = self.admit(method, params, trace).await {
                return (warden_mcp::LATEST_LEGACY, Err(error));
            }
            let (version, result) = self.initialize(params);
            trace.protocol(version.as_str());
            return (version, result);
        }
        let meta = params.get("_meta").and_then(Value::as_object);
        let version = match meta
            .map(RequestMeta::from_meta)
            .transpose()
            .map(Option::flatten)
        {
            Ok(Some(meta)) if meta.protocol_version.era() == Era::Modern => meta.protocol_version,
            Ok(Some(meta)) => {
                return (
                    warden_mcp::LATEST,
                    Err(RpcError::new(
                        error_code::UNSUPPORTED_PROTOCOL_VERSION,
                        format!(
                            "protocol version {} is negotiated with initialize, not per request",
                            meta.protocol_version.as_str()
                        ),
                    )
                    .with_data(json!({
                        "requested": meta.protocol_version.as_str(),
                        "supported": [warden_mcp::LATEST.as_str()],
                    }))),
                );
            }
            Ok(None) => match *self
                .state
                .legacy
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
            {
                Some(version) => version,
                None if method == m::SERVER_DISCOVER => warden_mcp::LATEST,
                None => {
                    return (
                        warden_mcp::LATEST_LEGACY,
                        Err(RpcError::new(
                            error_code::INVALID_REQUEST,
                            "no protocol version: send initialize first, or name the protocol \
                             version in _meta (io.modelcontextprotocol/protocolVersion)",
                        )),
                    );
                }
            },
            Err(error) => {
                return (
                    warden_mcp::LATEST,
                    Err(RpcError::from_object(&error.error_object())),
                );
            }
        };
        trace.protocol(version.as_str());
        let admitted = match self.admit(method, params, trace).await {
            Ok(admitted) => admitted,
            Err(error) => return (version, Err(error)),
        };
        let result = self
            .dispatch(&admitted, version, method, params, outbound, trace)
            .await;
        (version, result)
    }

    /// The key still valid, the address allowed, the rate budgets not spent: the runtime and
    /// principal the request is served under.
    async fn admit(
        &self,
        method: &str,
        params: &Map<String, Value>,
        trace: &mut Trace,
    ) -> Result<Admitted, RpcError> {
        let runtime = self.gateway.runtime();
        let ip = self.caller.client_ip;
        let principal = runtime
            .policy()
            .principal(self.state.key.as_str(), SystemTime::now())
            .map_err(|error| {
                tracing::warn!(key = self.state.key.as_str(), %error, "request refused: the key is no longer valid");
                if let Some((name, profile)) = runtime.policy().key_label(self.state.key.as_str()) {
                    trace.named(name, profile);
                }
                trace.deny("keys", &format!("key no longer valid: {error}"));
                trace.error("forbidden");
                RpcError::new(
                    FORBIDDEN,
                    "the API key of this session is no longer valid (expired, revoked or removed)",
                )
            })?;
        let odoo_user = runtime
            .catalog(principal.profile.name())
            .map(Catalog::odoo_user);
        trace.principal(&principal, odoo_user);
        if method == m::TOOLS_CALL
            && let Some(name) = params.get("name").and_then(Value::as_str)
        {
            let empty = Map::new();
            let arguments = params
                .get("arguments")
                .and_then(Value::as_object)
                .unwrap_or(&empty);
            trace.tool(name, arguments);
        }
        if let Err(denial) = runtime.policy().check_ip(&principal, ip) {
            tracing::warn!(key = %principal.key_id, rule = %denial.rule, "request refused by the IP rules");
            trace.deny(&denial.rule, "forbidden");
            return Err(RpcError::new(FORBIDDEN, denial.message));
        }
        let write = method == m::TOOLS_CALL
            && params
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(crate::catalog::tool_writes);
        let limiter = self.gateway.limiter();
        let plan = limiter.limiter.plan(&principal, ip, write);
        if let Err(denial) = self.gateway.take_budgets(&limiter, &plan).await {
            let retry_ms = match denial.kind {
                DenialKind::RateLimited { retry_after } => {
                    u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX)
                }
                _ => 0,
            };
            tracing::info!(key = %principal.key_id, rule = %denial.rule, "request refused by a rate limit");
            trace.deny(&denial.rule, "rate_limited");
            return Err(RpcError::new(RATE_LIMITED, denial.message)
                .with_data(json!({"retryAfterMs": retry_ms})));
        }
        // Fail closed before anything reaches Odoo when the audit log cannot be written.
        if let Err(error) = self.gateway.inner.auditor.ready() {
            tracing::error!(%error, "request refused: the audit log cannot be written");
            trace.deny("audit.on_failure = block", "audit_unavailable");
            return Err(RpcError::new(AUDIT_UNAVAILABLE, error.to_string()));
        }
        Ok(Admitted { runtime, principal })
    }

    fn initialize(&self, params: &Map<String, Value>) -> (ProtocolVersion, RpcResult) {
        let Some(requested) = params.get("protocolVersion").and_then(Value::as_str) else {
            return (
                warden_mcp::LATEST_LEGACY,
                Err(RpcError::invalid_params("initialize needs protocolVersion")),
            );
        };
        let version = warden_mcp::negotiate(requested);
        *self
            .state
            .legacy
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(version);
        let elicitation = params
            .get("capabilities")
            .and_then(|c| c.get("elicitation"))
            .is_some_and(Value::is_object);
        *self
            .state
            .elicitation
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = elicitation;
        let info = &self.gateway.inner.info;
        let mut result = json!({
            "protocolVersion": version.as_str(),
            "capabilities": capabilities(),
            "serverInfo": {"name": info.name, "version": info.version},
        });
        if let Some(instructions) = &info.instructions {
            result["instructions"] = json!(instructions);
        }
        (version, Ok(result))
    }

    async fn dispatch(
        &self,
        admitted: &Admitted,
        version: ProtocolVersion,
        method: &str,
        params: &Map<String, Value>,
        outbound: &mpsc::Sender<Value>,
        trace: &mut Trace,
    ) -> RpcResult {
        let profile = admitted.principal.profile.name();
        let Some(catalog) = admitted.runtime.catalog(profile) else {
            tracing::error!(profile, "no catalog for the profile");
            return Err(RpcError::new(error_code::INTERNAL_ERROR, "internal error"));
        };
        let modern = version.era() == Era::Modern;
        match method {
            m::PING if !modern => Ok(json!({})),
            m::LOGGING_SET_LEVEL if !modern => {
                const LEVELS: [&str; 8] = [
                    "debug",
                    "info",
                    "notice",
                    "warning",
                    "error",
                    "critical",
                    "alert",
                    "emergency",
                ];
                match params.get("level").and_then(Value::as_str) {
                    Some(level) if LEVELS.contains(&level) => Ok(json!({})),
                    _ => Err(RpcError::invalid_params(
                        "level must be one of debug, info, notice, warning, error, critical, \
                         alert, emergency",
                    )),
                }
            }
            m::SERVER_DISCOVER => Ok(self.discover()),
            m::TOOLS_LIST => {
                let tools: Vec<Value> = catalog.tools().iter().map(tool_json).collect();
                list_result("tools", tools, params, modern)
            }
            m::TOOLS_CALL => {
                self.call_tool(
                    catalog,
                    &admitted.principal,
                    version,
                    params,
                    outbound,
                    trace,
                )
                .await
            }
            m::RESOURCES_LIST => {
                let resources = catalog.list_resources().await.map_err(call_error)?;
                let items = resources
                    .into_iter()
                    .map(|r| {
                        json!({"uri": r.uri, "name": r.name, "title": r.title,
                               "description": r.description, "mimeType": r.mime_type})
                    })
                    .collect();
                list_result("resources", items, params, modern)
            }
            m::RESOURCES_TEMPLATES_LIST => {
                let items = catalog
                    .resource_templates()
                    .into_iter()
                    .map(|t| {
                        json!({"uriTemplate": t.uri_template, "name": t.name, "title": t.title,
                               "description": t.description, "mimeType": t.mime_type})
                    })
                    .collect();
                list_result("resourceTemplates", items, params, modern)
            }
            m::RESOURCES_READ => {
                let uri = string_param(params, "uri")?;
                trace.uri(uri);
                let content = catalog
                    .read_resource(uri)
                    .await
                    .map_err(|e| refused(trace, e))?;
                let mut result = json!({"contents": [
                    {"uri": content.uri, "mimeType": content.mime_type, "text": content.text}
                ]});
                if modern {
                    // Record data is never cached: stale at once, and never shared across keys.
                    result["ttlMs"] = json!(0);
                    result["cacheScope"] = json!("private");
                }
                Ok(result)
            }
            m::PROMPTS_LIST => {
                let items = catalog
                    .prompts()
                    .into_iter()
                    .map(|p| {
                        let arguments: Vec<Value> = p
                            .arguments
                            .iter()
                            .map(|a| json!({"name": a.name, "description": a.description, "required": a.required}))
                            .collect();
                        json!({"name": p.name, "title": p.title, "description": p.description,
                               "arguments": arguments})
                    })
                    .collect();
                list_result("prompts", items, params, modern)
            }
            m::PROMPTS_GET => {
                let name = string_param(params, "name")?;
                let arguments = string_map(params.get("arguments"))?;
                let prompt = catalog
                    .get_prompt(name, &arguments)
                    .await
                    .map_err(|e| refused(trace, e))?;
                Ok(prompt_json(&prompt))
            }
            m::COMPLETION_COMPLETE => self.complete(catalog, params, trace).await,
            _ => Err(RpcError::new(
                error_code::METHOD_NOT_FOUND,
                format!("method not found: {method}"),
            )),
        }
    }

    fn discover(&self) -> Value {
        let info = &self.gateway.inner.info;
        let mut result = json!({
            // Every revision served: 2026-07-28 statelessly, the others through `initialize`
            // (the same list an unsupported-version error names).
            "supportedVersions": ProtocolVersion::supported_strings(),
            "capabilities": capabilities(),
            "ttlMs": LIST_TTL_MS,
            "cacheScope": "public",
            "_meta": {"io.modelcontextprotocol/serverInfo": {"name": info.name, "version": info.version}},
        });
        if let Some(instructions) = &info.instructions {
            result["instructions"] = json!(instructions);
        }
        result
    }

    async fn call_tool(
        &self,
        catalog: &Catalog,
        principal: &Principal,
        version: ProtocolVersion,
        params: &Map<String, Value>,
        outbound: &mpsc::Sender<Value>,
        trace: &mut Trace,
    ) -> RpcResult {
        let name = string_param(params, "name")?;
        let arguments = match params.get("arguments") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(arguments)) => arguments.clone(),
            Some(_) => return Err(RpcError::invalid_params("arguments must be an object")),
        };
        let progress = params
            .get("_meta")
            .and_then(|meta| meta.get("progressToken"))
            .filter(|token| token.is_string() || token.is_i64())
            .cloned();
        if let Some(token) = &progress {
            let _ = outbound
                .send(progress_notification(token, 0, "calling Odoo"))
                .await;
        }
        let call = match catalog
            .parse_call(name, arguments.clone())
            .await
            .map_err(call_error)?
        {
            Ok(call) => call,
            Err(outcome) => {
                trace.outcome(&outcome);
                return Ok(tool_result(outcome));
            }
        };
        trace.call(&call);
        if let Err(denied) = catalog.check(&call) {
            tracing::info!(key = %principal.key_id, tool = name, rule = %denied.rule, "tool call refused by the policy");
            trace.deny(&denied.rule, denied.kind);
            return Ok(tool_result(crate::catalog::denied_outcome(&denied)));
        }
        if call.changes_data() && principal.profile.confirm_writes() {
            match self
                .confirm(principal, version, &call, &arguments, params, outbound)
                .await
            {
                Confirmation::Proceed => {}
                Confirmation::Refused(outcome) => {
                    let kind = outcome
                        .error()
                        .map_or("confirmation_declined", |e| e.kind.as_str())
                        .to_owned();
                    trace.deny("confirm_writes", &kind);
                    return Ok(tool_result(outcome));
                }
                Confirmation::InputRequired(result) => {
                    trace.error("input_required");
                    return Ok(result);
                }
            }
        }
        let outcome = catalog.execute(call).await;
        trace.outcome(&outcome);
        if let Some(token) = &progress {
            let _ = outbound.send(progress_notification(token, 1, "done")).await;
        }
        Ok(tool_result(outcome))
    }

    /// Redeem a 2026-07-28 confirmation `state` for this call: in this process, or in a fleet
    /// in the shared store, so that a state is used once whichever replica it reaches. `None`:
    /// the shared store did not answer (the confirmation is refused, never replayed).
    async fn redeem(
        &self,
        state: &str,
        key_id: &str,
        tool: &str,
        arguments: &Map<String, Value>,
        now: SystemTime,
    ) -> Option<confirm::Redeemed> {
        let key = self.gateway.state_key();
        let Some(store) = self.gateway.shared_store() else {
            return Some(key.redeem(state, key_id, tool, arguments, now));
        };
        let Some((until, nonce)) = key.check(state, key_id, tool, arguments, now) else {
            return Some(confirm::Redeemed::Invalid);
        };
        // Remembered as long as the state is accepted (through the second `until` names).
        let left = (UNIX_EPOCH + Duration::from_secs(until.saturating_add(1)))
            .duration_since(now)
            .unwrap_or(Duration::from_secs(1));
        let fresh = self
            .gateway
            .shared_answer(store.redeem(&format!("{nonce:032x}"), left).await)?;
        Some(if fresh {
            confirm::Redeemed::Fresh
        } else {
            confirm::Redeemed::Used
        })
    }

    /// Ask the human to confirm a data-changing call (see [`crate::confirm`]).
    async fn confirm(
        &self,
        principal: &Principal,
        version: ProtocolVersion,
        call: &crate::catalog::ParsedCall,
        arguments: &Map<String, Value>,
        params: &Map<String, Value>,
        outbound: &mpsc::Sender<Value>,
    ) -> Confirmation {
        let key = self.gateway.state_key();
        let now = SystemTime::now();
        let tool = call.tool();
        // The person sees the whole change, or is not asked.
        let Some(message) = confirm::message(&principal.key_name, call, arguments) else {
            return Confirmation::Refused(crate::catalog::refused_outcome(
                "confirmation_too_large",
                &format!(
                    "this change is too large to be shown whole to the person who must confirm it (at most {} characters); nothing was changed: split it into smaller calls",
                    confirm::MAX_MESSAGE_CHARS
                ),
            ));
        };
        if version.era() == Era::Modern {
            let answer = params
                .get("inputResponses")
                .and_then(|r| r.get(confirm::INPUT_KEY));
            if let Some(answer) = answer {
                let state = params
                    .get("requestState")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let Some(redeemed) = self
                    .redeem(state, &principal.key_id, tool, arguments, now)
                    .await
                else {
                    return Confirmation::Refused(crate::catalog::refused_outcome(
                        "shared_state_unavailable",
                        "the confirmation cannot be checked right now (the shared state store does not answer); nothing was changed: retry the same call with the same inputResponses and requestState in a few seconds",
                    ));
                };
                match redeemed {
                    confirm::Redeemed::Fresh => {}
                    confirm::Redeemed::Invalid => {
                        return Confirmation::Refused(crate::catalog::refused_outcome(
                            "confirmation_invalid",
                            "the confirmation does not belong to this call or has expired; call the tool again without inputResponses to ask again",
                        ));
                    }
                    confirm::Redeemed::Used => {
                        return Confirmation::Refused(crate::catalog::refused_outcome(
                            "confirmation_used",
                            "this confirmation was used already (one confirmation, one change); call the tool again without inputResponses to ask again",
                        ));
                    }
                }
                return match confirm::accepted(answer) {
                    Some(true) => Confirmation::Proceed,
                    _ => Confirmation::Refused(declined()),
                };
            }
            let can_ask = params
                .get("_meta")
                .and_then(|meta| meta.get(warden_mcp::meta_key::CLIENT_CAPABILITIES))
                .and_then(|caps| caps.get("elicitation"))
                .is_some_and(Value::is_object);
            if !can_ask {
                return Confirmation::Refused(cannot_ask());
            }
            let state = key.issue(&principal.key_id, tool, arguments, now);
            return Confirmation::InputRequired(json!({
                "resultType": "input_required",
                "inputRequests": {
                    confirm::INPUT_KEY: {
                        "method": "elicitation/create",
                        "params": confirm::elicitation_params(message),
                    }
                },
                "requestState": state,
            }));
        }
        let elicitation = *self
            .state
            .elicitation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !elicitation || version < ProtocolVersion::V2025_06_18 {
            return Confirmation::Refused(cannot_ask());
        }
        let id = format!(
            "warden-confirm-{}",
            self.state.next_id.fetch_add(1, Ordering::Relaxed)
        );
        let (tx, rx) = oneshot::channel();
        self.state
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(serde_json::to_string(&id).unwrap_or_default(), tx);
        let request = json!({
            "jsonrpc": "2.0",
            "id": id,
            "method": "elicitation/create",
            "params": confirm::elicitation_params(message),
        });
        if outbound.send(request).await.is_err() {
            return Confirmation::Refused(cannot_ask());
        }
        let answer = tokio::time::timeout(CONFIRM_TIMEOUT, rx).await;
        self.state
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&serde_json::to_string(&id).unwrap_or_default());
        match answer {
            Ok(Ok(Ok(result))) if confirm::accepted(&result) == Some(true) => Confirmation::Proceed,
            Ok(Ok(Ok(_))) => Confirmation::Refused(declined()),
            Ok(Ok(Err(_)) | Err(_)) => Confirmation::Refused(cannot_ask()),
            Err(_) => Confirmation::Refused(crate::catalog::refused_outcome(
                "confirmation_timeout",
                "nobody confirmed the change in time; nothing was changed",
            )),
        }
    }

    async fn complete(
        &self,
        catalog: &Catalog,
        params: &Map<String, Value>,
        trace: &mut Trace,
    ) -> RpcResult {
        let reference = params
            .get("ref")
            .and_then(Value::as_object)
            .ok_or_else(|| RpcError::invalid_params("completion/complete needs ref"))?;
        let argument = params
            .get("argument")
            .and_then(Value::as_object)
            .ok_or_else(|| RpcError::invalid_params("completion/complete needs argument"))?;
        let name = argument
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let value = argument
            .get("value")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let completes_model = match reference.get("type").and_then(Value::as_str) {
            Some("ref/resource") => {
                let uri = reference
                    .get("uri")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let known = catalog.resource_templates();
                if !known.iter().any(|t| t.uri_template == uri) {
                    return Err(RpcError::invalid_params(format!(
                        "unknown resource template: {}",
                        uri.chars().take(100).collect::<String>()
                    )));
                }
                name == "model"
            }
            Some("ref/prompt") => {
                let prompt = reference
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !catalog.prompts().iter().any(|p| p.name == prompt) {
                    return Err(RpcError::invalid_params(format!(
                        "unknown prompt: {prompt}"
                    )));
                }
                name == "model"
            }
            _ => {
                return Err(RpcError::invalid_params(
                    "ref.type must be ref/resource or ref/prompt",
                ));
            }
        };
        let values = if completes_model {
            let completed = catalog.complete_model(value).await.map_err(call_error)?;
            if let Some(rule) = &completed.hidden {
                // Answered as any name without completions; recorded as the probe it is.
                trace.deny(rule, "forbidden");
            }
            completed.values
        } else {
            Vec::new()
        };
        let total = values.len();
        let shown: Vec<String> = values.into_iter().take(100).collect();
        Ok(json!({"completion": {"values": shown, "total": total, "hasMore": total > 100}}))
    }
}

fn declined() -> ToolOutcome {
    crate::catalog::refused_outcome(
        "confirmation_declined",
        "the user declined the change; nothing was changed",
    )
}

fn cannot_ask() -> ToolOutcome {
    crate::catalog::refused_outcome(
        "confirmation_unavailable",
        "this key's changes must be confirmed by a person, but this client cannot ask (it does not support elicitation); nothing was changed",
    )
}

fn capabilities() -> Value {
    json!({
        "tools": {"listChanged": false},
        "resources": {"subscribe": false, "listChanged": false},
        "prompts": {"listChanged": false},
        "completions": {},
        "logging": {},
    })
}

fn tool_json(tool: &ToolDef) -> Value {
    json!({
        "name": tool.name,
        "title": tool.title,
        "description": tool.description,
        "inputSchema": tool.input_schema,
        "outputSchema": tool.output_schema,
        "annotations": {
            "title": tool.title,
            "readOnlyHint": tool.hints.read_only,
            "destructiveHint": tool.hints.destructive,
            "idempotentHint": tool.hints.idempotent,
            "openWorldHint": tool.hints.open_world,
        },
    })
}

/// The `_meta` key under which a failed tool call carries its machine-readable error.
pub const TOOL_ERROR_META: &str = "io.github.odoo-warden/error";

/// A `CallToolResult`. A success carries `structuredContent` (which matches the tool's output
/// schema); a failure carries none — every client validates `structuredContent` against the
/// output schema when it is present, and that schema describes success — but its text says what
/// went wrong, and its kind, message and hint travel in `_meta` under [`TOOL_ERROR_META`], which
/// every revision allows on every result.
fn tool_result(outcome: ToolOutcome) -> Value {
    let content = json!([{"type": "text", "text": outcome.text}]);
    match outcome.result {
        Ok(structured) => json!({
            "content": content,
            "structuredContent": structured,
            "isError": false,
        }),
        Err(error) => {
            let mut detail = json!({"kind": error.kind, "message": error.message});
            if let Some(hint) = error.hint {
                detail["hint"] = Value::String(hint);
            }
            json!({
                "content": content,
                "isError": true,
                "_meta": {TOOL_ERROR_META: detail},
            })
        }
    }
}

fn prompt_json(prompt: &PromptContent) -> Value {
    let messages: Vec<Value> = prompt
        .messages
        .iter()
        .map(|(role, text)| {
            let role = match role {
                Role::Assistant => "assistant",
                Role::User => "user",
            };
            json!({"role": role, "content": {"type": "text", "text": text}})
        })
        .collect();
    json!({"description": prompt.description, "messages": messages})
}

fn progress_notification(token: &Value, progress: u64, message: &str) -> Value {
    json!({
        "jsonrpc": "2.0",
        "method": "notifications/progress",
        "params": {"progressToken": token, "progress": progress, "total": 1, "message": message},
    })
}

/// A page of `items` under `key`, from the request's cursor; `nextCursor` when more remain.
fn list_result(
    key: &str,
    items: Vec<Value>,
    params: &Map<String, Value>,
    modern: bool,
) -> RpcResult {
    let offset = match params.get("cursor") {
        None | Some(Value::Null) => 0,
        Some(Value::String(cursor)) => warden_mcp::Cursor::decode(cursor)
            .ok()
            .and_then(|offset| usize::try_from(offset).ok())
            .ok_or_else(|| RpcError::invalid_params("invalid cursor"))?,
        Some(_) => return Err(RpcError::invalid_params("cursor must be a string")),
    };
    if offset > items.len() {
        return Err(RpcError::invalid_params("invalid cursor"));
    }
    let end = (offset + PAGE_SIZE).min(items.len());
    let more = end < items.len();
    let page: Vec<Value> = items.into_iter().skip(offset).take(end - offset).collect();
    let mut result = Map::new();
    result.insert(key.to_owned(), Value::Array(page));
    if more {
        result.insert(
            "nextCursor".to_owned(),
            json!(warden_mcp::Cursor::encode(end as u64).into_string()),
        );
    }
    if modern {
        result.insert("ttlMs".to_owned(), json!(LIST_TTL_MS));
        // What a key may see will depend on its policy: never share across keys.
        result.insert("cacheScope".to_owned(), json!("private"));
    }
    Ok(Value::Object(result))
}

fn string_param<'a>(params: &'a Map<String, Value>, name: &str) -> Result<&'a str, RpcError> {
    params
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params(format!("missing string parameter {name}")))
}

fn string_map(value: Option<&Value>) -> Result<BTreeMap<String, String>, RpcError> {
    match value {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(RpcError::invalid_params(format!(
                    "argument {k} must be a string"
                ))),
            })
            .collect(),
        Some(_) => Err(RpcError::invalid_params("arguments must be an object")),
    }
}

/// `call_error`, with a refusal by the key's rules recorded as the denial it is (the caller may
/// be told only that the name is unknown).
fn refused(trace: &mut Trace, error: CallError) -> RpcError {
    match &error {
        CallError::Denied(denied) => trace.deny(&denied.rule, denied.kind),
        CallError::Hidden { rule, .. } => trace.deny(rule, "forbidden"),
        _ => {}
    }
    call_error(error)
}

fn call_error(error: CallError) -> RpcError {
    match error {
        CallError::Hidden { shown, .. } => call_error(*shown),
        CallError::ResourceNotFound(message) => RpcError::new(
            error_code::RESOURCE_NOT_FOUND,
            format!("resource not found: {message}"),
        ),
        CallError::Odoo(error) => RpcError::new(error_code::INTERNAL_ERROR, error.to_string()),
        other => RpcError::invalid_params(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_refusals_is_recorded_up_to_the_window_then_counted() {
        let mut windows = RefusalWindows::default();
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let recorded = (0..1000)
            .filter(|i| {
                windows
                    .admit(ip, start + Duration::from_millis(*i))
                    .is_some()
            })
            .count();
        assert_eq!(recorded, REFUSALS_PER_MINUTE as usize);
        // Another address has its own window.
        assert_eq!(
            windows.admit("192.0.2.2".parse().expect("ip"), start),
            Some(0)
        );
        // The next minute's first refusal says how many were not recorded.
        assert_eq!(
            windows.admit(ip, start + Duration::from_secs(61)),
            Some(1000 - u64::from(REFUSALS_PER_MINUTE))
        );
    }
}
