//! The MCP endpoint (Streamable HTTP), behind the guards and authentication of [`super::app`].
//!
//! - POST: one JSON-RPC message. A request whose `_meta` names 2026-07-28 is served statelessly:
//!   the `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers must match the body (400 and
//!   error -32020 otherwise). `initialize` opens a legacy session (`Mcp-Session-Id` in the
//!   answer, bound to the key); other legacy messages name it. Notifications and responses get
//!   202. The answer is JSON, or an SSE stream (progress, and in the legacy era the confirmation
//!   the server asks for) when the client accepts one and the request is a tool call.
//! - GET (legacy): the session's stream of server messages; DELETE (legacy): ends the session.
//!   Both are 405 for 2026-07-28, which is POST only.
//! - `Content-Type` must be JSON (415); `Accept` must allow JSON or SSE (406); the body is
//!   bounded (413) and must arrive within the request timeout (408).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use warden_mcp::{Era, ProtocolVersion, RequestMeta, error_code, meta_key};

use super::sessions::{Full, Sessions};
use super::sse;
use super::{
    Authenticated, Backend, Body, Caller, ClientAddr, HttpOptions, empty, json_response,
    text_response,
};
use warden_gateway::shared::{SessionBounds, SessionOpened};

/// The `Mcp-Session-Id` header.
pub(crate) const SESSION_HEADER: &str = "mcp-session-id";
/// The `MCP-Protocol-Version` header.
pub(crate) const VERSION_HEADER: &str = "mcp-protocol-version";
/// The `Mcp-Method` header (2026-07-28).
pub(crate) const METHOD_HEADER: &str = "mcp-method";
/// The `Mcp-Name` header (2026-07-28).
pub(crate) const NAME_HEADER: &str = "mcp-name";

/// A legacy session a request named: its id, the session, its protocol version, and whether
/// it has ended.
type OpenSession<B> = (
    String,
    <B as Backend>::Session,
    String,
    tokio::sync::watch::Receiver<bool>,
);

/// The endpoint's state.
pub(crate) struct Mcp<B: Backend> {
    pub(crate) backend: B,
    pub(crate) sessions: Arc<Sessions<B>>,
    pub(crate) options: Arc<HttpOptions>,
}

/// A JSON-RPC error as an HTTP answer with `status`.
fn rpc_error(status: StatusCode, id: &Value, code: i32, message: &str) -> Response<Body> {
    json_response(
        status,
        &json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}),
    )
}

fn header<'a>(request: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Whether `accept` allows `mime` (or a wildcard covering it). No header allows everything.
fn accepts(accept: Option<&str>, mime: &str) -> bool {
    let Some(accept) = accept else { return true };
    let (kind, _) = mime.split_once('/').unwrap_or((mime, ""));
    accept.split(',').any(|item| {
        let range = item
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        range == mime || range == "*/*" || range == format!("{kind}/*")
    })
}

impl<B: Backend> Mcp<B> {
    pub(crate) async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        match *request.method() {
            Method::POST => self.post(request).await,
            Method::GET => self.get(request).await,
            Method::DELETE => self.delete(request).await,
            _ => {
                let mut response =
                    text_response(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, POST, DELETE"));
                response
            }
        }
    }

    fn identity(request: &Request<Incoming>) -> Option<(B::Principal, Caller)> {
        let key = request
            .extensions()
            .get::<Authenticated<B::Principal>>()?
            .0
            .clone();
        let ip = request.extensions().get::<ClientAddr>().map(|c| c.0);
        Some((key, Caller::http(ip)))
    }

    /// A request for a legacy session's id: 405 when it speaks 2026-07-28 (no sessions there),
    /// 400 without an id, 404 when the session is not this key's or has ended.
    async fn session_of(
        &self,
        request: &Request<Incoming>,
        key: &B::Principal,
        caller: &Caller,
    ) -> Result<OpenSession<B>, Response<Body>> {
        let modern = header(request, VERSION_HEADER)
            .and_then(ProtocolVersion::parse)
            .is_some_and(|v| v.era() == Era::Modern);
        let Some(id) = header(request, SESSION_HEADER) else {
            let mut response = text_response(
                if modern || request.method() != Method::POST {
                    StatusCode::METHOD_NOT_ALLOWED
                } else {
                    StatusCode::BAD_REQUEST
                },
                if modern {
                    "2026-07-28 is served statelessly: POST only"
                } else {
                    "this needs the Mcp-Session-Id of a session opened with initialize"
                },
            );
            if response.status() == StatusCode::METHOD_NOT_ALLOWED {
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            return Err(response);
        };
        match self.find_session(id, key, caller).await {
            Some((session, version, ended)) => Ok((id.to_owned(), session, version, ended)),
            None => Err(text_response(
                StatusCode::NOT_FOUND,
                "no such session (it ended, expired or belongs to another key): initialize again",
            )),
        }
    }

    /// Refuse a request before the engine sees it, recording the refusal in the audit log.
    fn refuse(
        &self,
        caller: &Caller,
        key: &B::Principal,
        status: StatusCode,
        message: &str,
        kind: &str,
    ) -> Response<Body> {
        self.backend
            .record_refusal(caller, Some(key), "invalid", kind, message);
        text_response(status, message)
    }

    async fn get(&self, request: Request<Incoming>) -> Response<Body> {
        let Some((key, caller)) = Self::identity(&request) else {
            return text_response(StatusCode::UNAUTHORIZED, "unauthenticated");
        };
        let (_, _, _, ended) = match self.session_of(&request, &key, &caller).await {
            Ok(found) => found,
            Err(response) => return response,
        };
        if !accepts(header(&request, "accept"), "text/event-stream") {
            return text_response(
                StatusCode::NOT_ACCEPTABLE,
                "GET opens an event stream: accept text/event-stream",
            );
        }
        // This server sends nothing unprompted; the stream stays open (with keep-alive comments)
        // until the session ends, so clients that expect one are served.
        sse::idle_stream(ended, Duration::from_secs(15))
    }

    async fn delete(&self, request: Request<Incoming>) -> Response<Body> {
        let Some((key, caller)) = Self::identity(&request) else {
            return text_response(StatusCode::UNAUTHORIZED, "unauthenticated");
        };
        let (id, _, _, _) = match self.session_of(&request, &key, &caller).await {
            Ok(found) => found,
            Err(response) => return response,
        };
        self.sessions.remove(&id, &key);
        // Ended for the whole fleet: another replica's copy is forgotten at its next use.
        if let (Some(store), Some(owner)) = (
            self.backend.session_store(),
            self.backend.principal_id(&key),
        ) && store.close_session(&id, &owner).await.is_err()
        {
            tracing::warn!(
                "a legacy session ended here could not be ended in the shared store (it \
                 expires there after the idle timeout)"
            );
        }
        empty(StatusCode::NO_CONTENT)
    }

    /// Open a legacy session of `key` here and, in a fleet, in the shared store (which bounds
    /// the sessions of the whole fleet). When the store does not answer, the session is served
    /// by this replica only.
    async fn open_session(
        &self,
        key: &B::Principal,
        session: B::Session,
        version: &str,
    ) -> Result<String, Full> {
        let fleet = self.backend.session_store().and_then(|store| {
            let owner = self.backend.principal_id(key)?;
            let record = self.backend.session_record(&session)?;
            Some((store, owner, format!("{version}\t{record}")))
        });
        let id = self
            .sessions
            .insert(key, session, version, fleet.is_some())?;
        let Some((store, owner, record)) = fleet else {
            return Ok(id);
        };
        let (max, per_key, idle) = self.sessions.bounds();
        let bounds = SessionBounds {
            max,
            per_owner: per_key,
            idle,
        };
        match store.open_session(&id, &owner, &record, bounds).await {
            Ok(SessionOpened::Opened { ended }) => {
                for other in ended {
                    self.sessions.forget(&other);
                }
            }
            Ok(SessionOpened::Full) => {
                self.sessions.forget(&id);
                return Err(Full::Server);
            }
            Err(error) => {
                tracing::warn!(%error, "legacy session opened for this replica only");
                self.sessions.keep_local(&id);
            }
        }
        Ok(id)
    }

    /// The session `id` of `key`: held here (and, in a fleet, still recorded in the shared
    /// store), or opened by another replica and recorded there. `None`: unknown, ended,
    /// expired, or another key's. While the store does not answer, sessions held here serve
    /// and others are unknown.
    async fn find_session(
        &self,
        id: &str,
        key: &B::Principal,
        caller: &Caller,
    ) -> Option<(B::Session, String, tokio::sync::watch::Receiver<bool>)> {
        let store = self.backend.session_store();
        if let Some((session, version, ended, shared)) = self.sessions.get(id, key) {
            if let (true, Some(store)) = (shared, &store) {
                let (_, _, idle) = self.sessions.bounds();
                match store.touch_session(id, idle).await {
                    Ok(Some((owner, _)))
                        if self.backend.principal_id(key).as_deref() == Some(owner.as_str()) => {}
                    Ok(_) => {
                        // Ended elsewhere (DELETE through another replica, or evicted).
                        self.sessions.forget(id);
                        return None;
                    }
                    Err(_) => {}
                }
            }
            return Some((session, version, ended));
        }
        let store = store?;
        if !super::sessions::well_formed(id) {
            return None;
        }
        let owner = self.backend.principal_id(key)?;
        let (_, _, idle) = self.sessions.bounds();
        let (recorded_owner, record) = store.touch_session(id, idle).await.ok()??;
        if recorded_owner != owner {
            return None;
        }
        let (version, record) = record.split_once('\t')?;
        let session = self
            .backend
            .restore_session(caller.clone(), key.clone(), record)?;
        let ended = self
            .sessions
            .adopt(id, key, session.clone(), version)
            .ok()?;
        Some((session, version.to_owned(), ended))
    }

    async fn post(self: Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        let Some((key, caller)) = Self::identity(&request) else {
            return text_response(StatusCode::UNAUTHORIZED, "unauthenticated");
        };
        // Two values of a header that decides how the message is read are ambiguous (a proxy
        // and this server could each pick another): refused.
        for name in [
            "content-type",
            SESSION_HEADER,
            VERSION_HEADER,
            METHOD_HEADER,
            NAME_HEADER,
        ] {
            if request.headers().get_all(name).iter().count() > 1 {
                return self.refuse(
                    &caller,
                    &key,
                    StatusCode::BAD_REQUEST,
                    &format!("the {name} header is given more than once"),
                    "duplicate_header",
                );
            }
        }
        let content_type = header(&request, "content-type").unwrap_or("");
        let json_body = content_type
            .split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !json_body {
            return self.refuse(
                &caller,
                &key,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the message as application/json",
                "unsupported_media_type",
            );
        }
        let accept = header(&request, "accept").map(str::to_owned);
        let json_ok = accepts(accept.as_deref(), "application/json");
        let sse_ok = accept
            .as_deref()
            .is_some_and(|a| a.to_ascii_lowercase().contains("text/event-stream"));
        let accepts = Accepts {
            json: json_ok,
            sse: sse_ok,
        };
        if !json_ok && !sse_ok {
            return self.refuse(
                &caller,
                &key,
                StatusCode::NOT_ACCEPTABLE,
                "accept application/json or text/event-stream",
                "not_acceptable",
            );
        }
        let headers = request.headers().clone();
        let limit = self.options.max_body_bytes;
        // A declared length over the limit is refused at once, not after waiting for a body
        // that will be refused anyway (or never comes).
        let declared = headers
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|length| length > limit as u64) {
            return self.refuse(
                &caller,
                &key,
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the message is larger than {limit} bytes"),
                "payload_too_large",
            );
        }
        let deadline = request.extensions().get::<super::Deadline>().map_or_else(
            || tokio::time::Instant::now() + self.options.request_timeout,
            |d| d.0,
        );
        let body = Limited::new(request.into_body(), limit);
        let bytes = match tokio::time::timeout_at(deadline, body.collect()).await {
            Err(_) => {
                return self.refuse(
                    &caller,
                    &key,
                    StatusCode::REQUEST_TIMEOUT,
                    "the request body did not arrive in time",
                    "request_timeout",
                );
            }
            Ok(Err(error)) => {
                return if error
                    .downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    self.refuse(
                        &caller,
                        &key,
                        StatusCode::PAYLOAD_TOO_LARGE,
                        &format!("the message is larger than {limit} bytes"),
                        "payload_too_large",
                    )
                } else {
                    self.refuse(
                        &caller,
                        &key,
                        StatusCode::BAD_REQUEST,
                        "the request body could not be read",
                        "invalid_request",
                    )
                };
            }
            Ok(Ok(collected)) => collected.to_bytes(),
        };
        let message = serde_json::from_slice::<Value>(&bytes);
        let Some(object) = message.as_ref().ok().and_then(Value::as_object) else {
            // Not one JSON-RPC object (not JSON, a batch, a scalar): the engine answers with
            // the JSON-RPC error, and records it.
            let session = self.backend.session(caller, key);
            let (tx, _) = mpsc::channel(1);
            let response = self.backend.handle(&session, &bytes, &tx).await;
            return json_response(StatusCode::BAD_REQUEST, &response.unwrap_or(Value::Null));
        };
        let id = object.get("id").cloned().unwrap_or(Value::Null);
        let method = object
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let is_request = method.is_some() && object.contains_key("id");
        let params = object.get("params").and_then(Value::as_object);
        let modern_version = params
            .and_then(|p| p.get("_meta"))
            .and_then(|m| m.get(meta_key::PROTOCOL_VERSION))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let header_of = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };

        // 2026-07-28: stateless. A request is of this era when its `_meta` names a 2026-07-28
        // revision, or names a revision this server does not know (and no session), or when
        // it names none but the MCP-Protocol-Version header names 2026-07-28 (and no session).
        let no_session = headers.get(SESSION_HEADER).is_none();
        let header_modern = header_of(VERSION_HEADER)
            .and_then(|v| ProtocolVersion::parse(v.trim()))
            .is_some_and(|v| v.era() == Era::Modern);
        let body_version = modern_version.as_deref().map(ProtocolVersion::parse);
        let modern = match body_version {
            Some(Some(version)) => version.era() == Era::Modern,
            Some(None) => no_session,
            None => header_modern && no_session && is_request,
        };
        if modern {
            let refuse = |kind: &str, problem: &str, error: Value| {
                self.backend.record_refusal(
                    &caller,
                    Some(&key),
                    method.as_deref().unwrap_or("invalid"),
                    kind,
                    problem,
                );
                json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({"jsonrpc": "2.0", "id": id, "error": error}),
                )
            };
            let Some(version) = &modern_version else {
                let problem = "params._meta must name io.modelcontextprotocol/protocolVersion";
                return refuse(
                    "invalid_params",
                    problem,
                    json!({"code": error_code::INVALID_PARAMS, "message": problem}),
                );
            };
            if let Some(problem) = header_mismatch(&header_of, version, method.as_deref(), params) {
                return refuse(
                    "header_mismatch",
                    &problem,
                    json!({"code": error_code::HEADER_MISMATCH, "message": problem}),
                );
            }
            if is_request {
                let meta = params
                    .and_then(|p| p.get("_meta"))
                    .and_then(Value::as_object);
                if let Some(Err(error)) = meta.map(RequestMeta::from_meta) {
                    let kind = if error.code() == error_code::UNSUPPORTED_PROTOCOL_VERSION {
                        "unsupported_protocol_version"
                    } else {
                        "invalid_params"
                    };
                    let object = serde_json::to_value(error.error_object()).unwrap_or(Value::Null);
                    return refuse(kind, &error.to_string(), object);
                }
            }
            let session = self.backend.session(caller, key);
            return self.answer(session, bytes, is_request, accepts, true).await;
        }

        // Legacy: initialize opens a session; everything else names one.
        if method.as_deref() == Some("initialize") {
            let session = self.backend.session(caller, key.clone());
            let (tx, _) = mpsc::channel(1);
            let Some(response) = self.backend.handle(&session, &bytes, &tx).await else {
                return empty(StatusCode::ACCEPTED);
            };
            let Some(version) = response
                .pointer("/result/protocolVersion")
                .and_then(Value::as_str)
                .map(str::to_owned)
            else {
                return json_response(StatusCode::OK, &response);
            };
            return match self.open_session(&key, session, &version).await {
                Ok(session_id) => {
                    let mut answer = json_response(StatusCode::OK, &response);
                    if let Ok(value) = HeaderValue::from_str(&session_id) {
                        answer.headers_mut().insert(SESSION_HEADER, value);
                    }
                    answer
                }
                Err(Full::Server) => rpc_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &id,
                    error_code::INTERNAL_ERROR,
                    "too many open sessions; try again later",
                ),
            };
        }
        let method_name = method.as_deref().unwrap_or("invalid");
        let Some(session_id) = header_of(SESSION_HEADER) else {
            self.backend.record_refusal(
                &caller,
                Some(&key),
                method_name,
                "no_session",
                "no Mcp-Session-Id and no 2026-07-28 _meta",
            );
            return rpc_error(
                StatusCode::BAD_REQUEST,
                &id,
                error_code::INVALID_REQUEST,
                "no session: send initialize first (and its Mcp-Session-Id with every request), or name the protocol version in _meta (2026-07-28)",
            );
        };
        let Some((session, version, _)) = self.find_session(session_id, &key, &caller).await else {
            self.backend.record_refusal(
                &caller,
                Some(&key),
                method_name,
                "unknown_session",
                "the session ended, expired or belongs to another key",
            );
            return rpc_error(
                StatusCode::NOT_FOUND,
                &id,
                error_code::INVALID_REQUEST,
                "no such session (it ended, expired or belongs to another key): initialize again",
            );
        };
        // The header may name any legacy revision this server speaks (clients have been seen
        // sending an older one than the session negotiated; the session's revision governs);
        // an unknown one, or 2026-07-28 on a legacy session, is refused.
        if let Some(named) = header_of(VERSION_HEADER)
            && named != version
            && !ProtocolVersion::parse(named).is_some_and(|v| v.era() == Era::Legacy)
        {
            self.backend.record_refusal(
                &caller,
                Some(&key),
                method_name,
                "header_mismatch",
                "MCP-Protocol-Version names no legacy revision this server speaks",
            );
            return rpc_error(
                StatusCode::BAD_REQUEST,
                &id,
                error_code::INVALID_REQUEST,
                &format!(
                    "MCP-Protocol-Version {named:?} is not a revision this session can speak (it negotiated {version})"
                ),
            );
        }
        // This request's own address, not the one that opened the session.
        let session = self.backend.for_request(&session, &caller);
        self.answer(session, bytes, is_request, accepts, false)
            .await
    }

    /// Hand the message to the session; answer 202 for what is not a request, JSON or SSE for
    /// a request. In the 2026-07-28 era a JSON error answer carries the HTTP status the
    /// revision prescribes ([`modern_status`]).
    async fn answer(
        &self,
        session: B::Session,
        bytes: Bytes,
        is_request: bool,
        accepts: Accepts,
        modern: bool,
    ) -> Response<Body> {
        if !is_request {
            let (tx, _) = mpsc::channel(1);
            let _ = self.backend.handle(&session, &bytes, &tx).await;
            return empty(StatusCode::ACCEPTED);
        }
        let response = if accepts.sse {
            // Whatever the backend sends before its response (progress, logging, a
            // confirmation it asks for) turns the answer into a stream.
            match sse::respond(
                self.backend.clone(),
                session,
                bytes,
                self.options.request_timeout,
                accepts.json,
            )
            .await
            {
                sse::Started::Stream(stream) => return stream,
                sse::Started::Json(response) => response,
            }
        } else {
            // The outbound channel is closed: the backend knows nobody can be asked.
            let (tx, rx) = mpsc::channel(1);
            drop(rx);
            self.backend.handle(&session, &bytes, &tx).await
        };
        match response {
            Some(response) => {
                let status = if modern {
                    modern_status(&response)
                } else {
                    StatusCode::OK
                };
                json_response(status, &response)
            }
            None => empty(StatusCode::ACCEPTED),
        }
    }
}

/// What the client takes in answer.
#[derive(Debug, Clone, Copy)]
struct Accepts {
    json: bool,
    sse: bool,
}

/// The HTTP status of a 2026-07-28 JSON answer: 404 for an unknown method, 400 for the errors
/// the revision ties to `400 Bad Request` (header mismatch, a missing client capability, an
/// unsupported protocol version), 200 otherwise (a tool's failure is a result, and other
/// errors are the protocol's to carry).
fn modern_status(response: &Value) -> StatusCode {
    match response.pointer("/error/code").and_then(Value::as_i64) {
        Some(code) if code == i64::from(error_code::METHOD_NOT_FOUND) => StatusCode::NOT_FOUND,
        Some(code)
            if [
                error_code::HEADER_MISMATCH,
                error_code::MISSING_REQUIRED_CLIENT_CAPABILITY,
                error_code::UNSUPPORTED_PROTOCOL_VERSION,
            ]
            .iter()
            .any(|c| i64::from(*c) == code) =>
        {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::OK,
    }
}

/// Why the 2026-07-28 headers do not match the body, if they do not.
fn header_mismatch<'a>(
    header_of: &impl Fn(&str) -> Option<&'a str>,
    version: &str,
    method: Option<&str>,
    params: Option<&serde_json::Map<String, Value>>,
) -> Option<String> {
    match header_of(VERSION_HEADER) {
        Some(named) if named == version => {}
        Some(named) => {
            return Some(format!(
                "MCP-Protocol-Version {named:?} does not match the body's protocol version {version:?}"
            ));
        }
        None => return Some("the MCP-Protocol-Version header is required".to_owned()),
    }
    let method = method?;
    match header_of(METHOD_HEADER) {
        Some(named) if named == method => {}
        Some(named) => {
            return Some(format!(
                "Mcp-Method {named:?} does not match the body's method {method:?}"
            ));
        }
        None => return Some("the Mcp-Method header is required".to_owned()),
    }
    let name_member = match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    };
    if let Some(member) = name_member {
        let expected = params.and_then(|p| p.get(member)).and_then(Value::as_str);
        match (header_of(NAME_HEADER), expected) {
            (Some(named), Some(expected)) if named == expected => {}
            (Some(named), Some(expected)) => {
                return Some(format!(
                    "Mcp-Name {named:?} does not match the body's {member} {expected:?}"
                ));
            }
            (None, Some(_)) => return Some("the Mcp-Name header is required".to_owned()),
            // A missing body member is the engine's to refuse (invalid params).
            (_, None) => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::accepts;

    #[test]
    fn accept_ranges() {
        assert!(accepts(None, "application/json"));
        assert!(accepts(
            Some("application/json, text/event-stream"),
            "application/json"
        ));
        assert!(accepts(Some("*/*"), "application/json"));
        assert!(accepts(Some("application/*;q=0.8"), "application/json"));
        assert!(!accepts(Some("text/event-stream"), "application/json"));
        assert!(!accepts(Some("text/html"), "text/event-stream"));
    }
}
