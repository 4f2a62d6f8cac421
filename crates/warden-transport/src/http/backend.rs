//! What the HTTP stack serves: a [`Backend`]. The gateway is one ([`Gateway`] implements it);
//! a Rust service embedding this crate can put its own MCP server behind the same hardened
//! stack (Host and Origin checks, authentication, sessions bound to the principal, the
//! 2026-07-28 header checks, limits, SSE), as `examples/conformance-server` does.
//!
//! The stack owns everything HTTP; the backend owns who a credential is and what a message
//! means. A backend never sees a request the stack refused, and the stack never answers an
//! MCP message itself.

use std::future::Future;
use std::time::Duration;

use serde_json::Value;
use std::sync::Arc;
use tokio::sync::mpsc;
use warden_audit::Auditor;
pub use warden_gateway::engine::{AuthFailure, Caller};

use warden_gateway::engine::{Gateway, KeyId, Session, SessionSnapshot};
use warden_gateway::shared::SharedState;
pub use warden_gateway::shared::SharedStatus;

/// An MCP server behind the HTTP stack.
///
/// Sessions are the backend's: the stack keeps a legacy session's value under its
/// `Mcp-Session-Id`, bound to the principal that opened it, and hands each message of the
/// session to [`Backend::handle`]. A 2026-07-28 request gets a fresh session of its own.
pub trait Backend: Clone + Send + Sync + 'static {
    /// Who a request authenticated as. Sessions are bound to it: another principal presenting
    /// a session's id is told the session does not exist.
    type Principal: Clone + PartialEq + Send + Sync + 'static;
    /// One conversation: a legacy session, or one stateless request. Cheap to clone.
    type Session: Clone + Send + Sync + 'static;

    /// The principal of a bearer `token` from `caller`, or why not (the refusal is the
    /// backend's to record). Called on every request.
    fn authenticate(&self, token: &str, caller: &Caller) -> Result<Self::Principal, AuthFailure>;

    /// Before a presented credential is checked: whether `caller` may try at all (the gateway
    /// refuses an address that has used up its failed-authentication budget in the fleet; the
    /// refusal is the backend's to record). Default: allowed.
    fn admit_caller(
        &self,
        _caller: &Caller,
    ) -> impl Future<Output = Result<(), AuthFailure>> + Send {
        std::future::ready(Ok(()))
    }

    /// The principal of a request without credentials, if the backend serves such requests
    /// (the gateway never does). Default: none, and the stack answers 401.
    fn anonymous(&self, _caller: &Caller) -> Option<Self::Principal> {
        None
    }

    /// The principal of a validated OAuth access token (its subject and the profile its claims
    /// map to), or why not. Default: refused.
    fn authenticate_oauth(
        &self,
        _subject: &str,
        _profile: &str,
        caller: &Caller,
    ) -> Result<Self::Principal, AuthFailure> {
        Err(self.reject_credential(caller, "access tokens are not accepted here"))
    }

    /// Record a credential the stack refused (an invalid access token): what the client is
    /// told, and whether to slow it down.
    fn reject_credential(&self, caller: &Caller, reason: &str) -> AuthFailure;

    /// Record a request the stack refused before the backend saw it: `method` as far as it is
    /// known, `kind` the outcome kind, `reason` why. Default: nothing is recorded.
    fn record_refusal(
        &self,
        _caller: &Caller,
        _principal: Option<&Self::Principal>,
        _method: &str,
        _kind: &str,
        _reason: &str,
    ) {
    }

    /// A new conversation for `principal`.
    fn session(&self, caller: Caller, principal: Self::Principal) -> Self::Session;

    /// `session` for one more request of it, from `caller` (a legacy session's requests may
    /// each come from another address). Default: the session as it is.
    fn for_request(&self, session: &Self::Session, _caller: &Caller) -> Self::Session {
        session.clone()
    }

    /// Handle one JSON-RPC message of `session`: the response to send, if any. Messages for the
    /// client on the way (progress, logging, requests of the server's own) go to `outbound`;
    /// when it is closed, nobody is listening (the client asked for plain JSON, or went away).
    fn handle(
        &self,
        session: &Self::Session,
        message: &[u8],
        outbound: &mpsc::Sender<Value>,
    ) -> impl Future<Output = Option<Value>> + Send;

    /// Whether the backend can serve (`/readyz`), checked at most every few seconds.
    fn ready(&self) -> impl Future<Output = bool> + Send;

    /// The audit pipeline whose queue depth and losses `/metrics` exports, if any.
    fn auditor(&self) -> Option<&Auditor> {
        None
    }

    /// The shared state's status, when the backend belongs to a fleet (`/metrics`, `/readyz`).
    fn shared_status(&self) -> Option<SharedStatus> {
        None
    }

    /// The store a fleet shares legacy sessions through, if any (see [`Backend::session_record`]).
    fn session_store(&self) -> Option<Arc<dyn SharedState>> {
        None
    }

    /// `principal`'s id as the fleet's store records it: the same on every replica, one line.
    /// `None`: its sessions stay with the replica that opened them.
    fn principal_id(&self, _principal: &Self::Principal) -> Option<String> {
        None
    }

    /// What another replica needs to serve `session` once `initialize` answered (one line).
    /// `None`: it stays with this replica.
    fn session_record(&self, _session: &Self::Session) -> Option<String> {
        None
    }

    /// The session of `principal` that another replica recorded as `record`, served here from
    /// now on, or `None` if the record is not one this backend wrote.
    fn restore_session(
        &self,
        _caller: Caller,
        _principal: Self::Principal,
        _record: &str,
    ) -> Option<Self::Session> {
        None
    }
}

impl Backend for Gateway {
    type Principal = KeyId;
    type Session = Session;

    fn authenticate(&self, token: &str, caller: &Caller) -> Result<KeyId, AuthFailure> {
        self.authenticate_caller(token, caller)
    }

    async fn admit_caller(&self, caller: &Caller) -> Result<(), AuthFailure> {
        self.fleet_auth_allowed(caller).await
    }

    fn authenticate_oauth(
        &self,
        subject: &str,
        profile: &str,
        caller: &Caller,
    ) -> Result<KeyId, AuthFailure> {
        Gateway::authenticate_oauth(self, subject, profile, caller)
    }

    fn reject_credential(&self, caller: &Caller, reason: &str) -> AuthFailure {
        Gateway::reject_credential(self, caller, reason)
    }

    fn record_refusal(
        &self,
        caller: &Caller,
        principal: Option<&KeyId>,
        method: &str,
        kind: &str,
        reason: &str,
    ) {
        Gateway::record_refusal(self, caller, principal, method, kind, reason);
    }

    fn session(&self, caller: Caller, principal: KeyId) -> Session {
        Gateway::session(self, caller, principal)
    }

    /// The request's own address decides its IP rules, rate limits and audit record.
    fn for_request(&self, session: &Session, caller: &Caller) -> Session {
        session.with_caller(caller.clone())
    }

    async fn handle(
        &self,
        session: &Session,
        message: &[u8],
        outbound: &mpsc::Sender<Value>,
    ) -> Option<Value> {
        session.handle(message, outbound).await
    }

    /// Every fail-closed audit sink can write (else requests are refused: a database gone under
    /// `on_failure = "block"`), and every Odoo identity's server answers. In a fleet the shared
    /// store is asked too, so the status `/readyz` and `/metrics` report is fresh; a store that
    /// does not answer does not make the gateway unready (rates fall back to this process).
    async fn ready(&self) -> bool {
        self.check_shared_state().await;
        if Gateway::auditor(self).ready().is_err() {
            return false;
        }
        let runtime = self.runtime();
        for catalog in runtime.catalogs() {
            let reached = tokio::time::timeout(Duration::from_secs(5), catalog.ping()).await;
            if !matches!(reached, Ok(Ok(()))) {
                return false;
            }
        }
        true
    }

    fn auditor(&self) -> Option<&Auditor> {
        Some(Gateway::auditor(self))
    }

    fn shared_status(&self) -> Option<SharedStatus> {
        Gateway::shared_status(self)
    }

    fn session_store(&self) -> Option<Arc<dyn SharedState>> {
        Gateway::shared_store(self)
    }

    fn principal_id(&self, principal: &KeyId) -> Option<String> {
        let id = principal.as_str();
        (!id.contains(['\n', '\t'])).then(|| id.to_owned())
    }

    fn session_record(&self, session: &Session) -> Option<String> {
        session.snapshot().map(|snapshot| snapshot.encode())
    }

    fn restore_session(&self, caller: Caller, principal: KeyId, record: &str) -> Option<Session> {
        let snapshot = SessionSnapshot::decode(record)?;
        Some(Gateway::restore_session(self, caller, principal, snapshot))
    }
}
