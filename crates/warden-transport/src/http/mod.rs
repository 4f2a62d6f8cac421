//! MCP Streamable HTTP: one gateway that many agents reach, usually behind a TLS-terminating
//! reverse proxy (nginx, Caddy, Traefik).
//!
//! [`app`] is the whole HTTP service as one tower stack (what the tests drive); [`serve`] runs it
//! on a listener with graceful shutdown; [`run`] is `odoo-warden-http`: configuration → gateway →
//! audit → listeners. The stack, outermost first, and why in that order:
//!
//! 1. **security headers** on every response — outermost, so even refusals made by the layers
//!    below carry them;
//! 2. **request timeout** (408) — around everything that may wait;
//! 3. **client address** — the socket peer, or the forwarded address when the peer is a trusted
//!    proxy; before anything that decides by address;
//! 4. **Host and Origin** (403) — before CORS and authentication: a DNS-rebinding page or a
//!    foreign origin never gets as far as presenting credentials;
//! 5. **CORS** — only for the allowed origins (never `*`); answers preflights, which carry no
//!    credentials, so it sits before authentication;
//! 6. **concurrency limit** — requests beyond it wait; before authentication so that a flood of
//!    bad keys is bounded too;
//! 7. the **router**: `/healthz` (open), the MCP endpoint behind **authentication** (401/429).

// A refusal is the HTTP response itself, carried in `Err` on the refusal path only.
#![allow(clippy::result_large_err)]

mod backend;
mod client_ip;
mod layers;
mod mcp;
mod metrics;
pub mod oauth;
mod sessions;
mod sse;
pub mod tls;

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use ipnet::IpNet;
use serde_json::Value;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use warden_gateway::engine::Gateway;

pub use backend::{AuthFailure, Backend, Caller, SharedStatus};
pub use client_ip::ForwardedHeader;
use layers::GuardLayer;
pub use metrics::{Metrics, MetricsSink};
use sessions::Sessions;

/// The body of every response.
pub type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// The client's address, as [`client_ip`] decided (a request extension).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr(pub(crate) IpAddr);

/// The socket peer of the connection (a request extension set per connection).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub(crate) SocketAddr);

/// When a request must be answered by: its arrival plus `request_timeout` (a request extension
/// set as it enters the stack). Reading the body waits until then, so that a body that arrives
/// too slowly is refused, and recorded, by the endpoint rather than by the outer timeout.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline(pub(crate) tokio::time::Instant);

/// How long after a request's [`Deadline`] the outer timeout answers 408 for whatever is still
/// waiting: the endpoint's own timeouts, which record what they refuse, fire first.
const TIMEOUT_GRACE: Duration = Duration::from_secs(1);

/// The principal a request authenticated as (a request extension).
#[derive(Debug, Clone)]
pub(crate) struct Authenticated<P>(pub(crate) P);

/// The settings of the HTTP transport. Build one with `..HttpOptions::default()`.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// The MCP endpoint's path (default `/mcp`).
    pub path: String,
    /// `Origin`s allowed to call (exact, e.g. `https://app.example.com`); a request with any
    /// other `Origin` gets 403, one without is allowed (not a browser). Default: none.
    pub allowed_origins: Vec<String>,
    /// `Host` values allowed (`name` or `name:port`); others get 403 (DNS rebinding). Default:
    /// the loopback names.
    pub allowed_hosts: Vec<String>,
    /// Proxies whose forwarding header is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Which forwarding header they set (default `X-Forwarded-For`); the other is never read.
    pub forwarded_header: ForwardedHeader,
    /// Largest request body (default 1 MiB).
    pub max_body_bytes: usize,
    /// Longest time for a request, body and answer included (default 120 s).
    pub request_timeout: Duration,
    /// Longest time for a request's headers to arrive (default 10 s).
    pub header_timeout: Duration,
    /// Requests served at once over all connections (default 256).
    pub max_concurrent_requests: usize,
    /// Requests of one key (or OAuth identity) served at once: beyond it the key's next request
    /// gets 429 at once, so one key cannot take every slot of `max_concurrent_requests` (with
    /// slow bodies, say) and starve the others. `None`: a quarter of `max_concurrent_requests`
    /// (at least 1).
    pub max_concurrent_requests_per_key: Option<usize>,
    /// Legacy sessions open at once (default 10,000) and per key (default 100).
    pub max_sessions: usize,
    /// Legacy sessions open at once per key: beyond it, the key's least recently used session
    /// ends.
    pub max_sessions_per_key: usize,
    /// A legacy session unused this long ends (default 30 min).
    pub session_idle_timeout: Duration,
    /// How long shutdown waits for requests in flight (default 10 s).
    pub drain_timeout: Duration,
    /// The bearer token that opens `/readyz` and `/metrics` on this listener (none: they are
    /// not served here).
    pub ops_token: Option<warden_odoo::SecretString>,
    /// OAuth 2.1 access tokens accepted beside the API keys (none: API keys only).
    pub oauth: Option<oauth::Validator>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            path: "/mcp".to_owned(),
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeader::default(),
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(120),
            header_timeout: Duration::from_secs(10),
            max_concurrent_requests: 256,
            max_concurrent_requests_per_key: None,
            max_sessions: 10_000,
            max_sessions_per_key: 100,
            session_idle_timeout: Duration::from_secs(1800),
            drain_timeout: Duration::from_secs(10),
            ops_token: None,
            oauth: None,
        }
    }
}

pub(crate) fn full(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()).boxed());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

pub(crate) fn text_response(status: StatusCode, text: &str) -> Response<Body> {
    full(status, "text/plain; charset=utf-8", format!("{text}\n"))
}

pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    full(
        status,
        "application/json",
        serde_json::to_vec(value).unwrap_or_default(),
    )
}

pub(crate) fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::new()).boxed());
    *response.status_mut() = status;
    response
}

/// The host part of a `Host` value (`name`, `name:port`, `[v6]:port`), lowercased.
fn host_name(value: &str) -> String {
    let value = value.trim().to_ascii_lowercase();
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("").to_owned();
    }
    match value.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name.to_owned(),
        _ => value,
    }
}

fn host_allowed(value: &str, allowed: &[String]) -> bool {
    let name = host_name(value);
    if allowed.is_empty() {
        return matches!(name.as_str(), "localhost" | "127.0.0.1" | "::1");
    }
    let value = value.trim().to_ascii_lowercase();
    allowed
        .iter()
        .any(|a| a.eq_ignore_ascii_case(&value) || a.eq_ignore_ascii_case(&name))
}

/// The whole HTTP service over `backend` (the gateway, or another [`Backend`]): the stack
/// described in the module documentation, with metrics that count nothing (see [`app_with`]).
pub fn app<B: Backend>(backend: B, options: HttpOptions) -> App<B> {
    app_with(backend, options, Metrics::new())
}

/// [`app`] serving `metrics` (whose sink the caller added to the gateway's audit pipeline) at
/// `/metrics` when the options name an operations token.
pub fn app_with<B: Backend>(backend: B, options: HttpOptions, metrics: Metrics) -> App<B> {
    let options = Arc::new(options);
    let sessions = Arc::new(Sessions::new(
        options.max_sessions,
        options.max_sessions_per_key,
        options.session_idle_timeout,
    ));
    let mcp = Arc::new(mcp::Mcp {
        backend: backend.clone(),
        sessions: Arc::clone(&sessions),
        options: Arc::clone(&options),
    });
    let endpoint = {
        let mcp = Arc::clone(&mcp);
        tower::service_fn(move |request: Request<Incoming>| {
            let mcp = Arc::clone(&mcp);
            async move { Ok::<_, Infallible>(mcp.handle(request).await) }
        })
    };
    let authenticated = ServiceBuilder::new()
        .layer(AuthLayer {
            backend: backend.clone(),
            slots: Arc::new(KeySlots::new(
                options
                    .max_concurrent_requests_per_key
                    .unwrap_or(options.max_concurrent_requests / 4),
                options.max_concurrent_requests,
            )),
            oauth: options.oauth.clone().map(|validator| {
                let metadata = oauth::resource_metadata_url(validator.config()).map(Arc::from);
                Arc::new(TokenAuth {
                    validator,
                    metadata,
                })
            }),
        })
        .service(endpoint);
    let ops = Ops::new(
        backend.clone(),
        metrics.clone(),
        Arc::clone(&sessions),
        options.ops_token.clone(),
        false,
    );
    let metadata = options.oauth.as_ref().map(|validator| {
        (
            oauth::metadata_paths(&options.path).to_vec(),
            Arc::new(oauth::protected_resource_metadata(validator.config())),
        )
    });
    let router = Router {
        path: options.path.clone(),
        mcp: Some(BoxCloneSyncService::new(authenticated)),
        ops,
        metadata,
    };
    App {
        service: stack(router, &options, &backend, true),
        sessions,
        backend,
        metrics,
        options,
        tls: None,
    }
}

/// The layers of the module documentation around `router`.
/// `check_host` is off for the operations listener only: probes and scrapers call it by address
/// (`http://10.0.0.5:9464/healthz`), and it serves nothing a rebinding page could use (its
/// `/metrics` wants its token); `Origin` is checked there too.
fn stack<B: Backend>(
    router: Router<B>,
    options: &HttpOptions,
    backend: &B,
    check_host: bool,
) -> Boxed {
    let request_timeout = options.request_timeout;
    let deadline = GuardLayer::new(move |request: &mut Request<Incoming>| {
        let by = tokio::time::Instant::now() + request_timeout;
        request.extensions_mut().insert(Deadline(by));
        Ok(())
    });
    let trusted = options.trusted_proxies.clone();
    let forwarded_header = options.forwarded_header;
    let client = GuardLayer::new(move |request: &mut Request<Incoming>| {
        let Some(Peer(peer)) = request.extensions().get::<Peer>().copied() else {
            return Err(text_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "no peer address",
            ));
        };
        let ip = client_ip::client_ip(peer, request.headers(), &trusted, forwarded_header);
        request.extensions_mut().insert(ClientAddr(ip));
        Ok(())
    });
    let hosts = options.allowed_hosts.clone();
    let origins = options.allowed_origins.clone();
    let recorder = backend.clone();
    let origin_host = GuardLayer::new(move |request: &mut Request<Incoming>| {
        let caller = Caller::http(request.extensions().get::<ClientAddr>().map(|c| c.0));
        // RFC 9112 §3.2: more than one Host is a 400, whichever of them is allowed (a proxy
        // and this server could each read another).
        if request.headers().get_all(header::HOST).iter().count() > 1 {
            let message = "the host header is given more than once";
            recorder.record_refusal(&caller, None, "http", "duplicate_header", message);
            return Err(text_response(StatusCode::BAD_REQUEST, message));
        }
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| {
                request
                    .uri()
                    .authority()
                    .map(hyper::http::uri::Authority::as_str)
            });
        match host {
            _ if !check_host => {}
            Some(host) if host_allowed(host, &hosts) => {}
            _ => {
                recorder.record_refusal(
                    &caller,
                    None,
                    "http",
                    "forbidden_host",
                    "host not allowed",
                );
                return Err(text_response(StatusCode::FORBIDDEN, "host not allowed"));
            }
        }
        if let Some(origin) = request.headers().get(header::ORIGIN) {
            let allowed = origin
                .to_str()
                .is_ok_and(|o| origins.iter().any(|a| a.eq_ignore_ascii_case(o.trim())));
            if !allowed {
                recorder.record_refusal(
                    &caller,
                    None,
                    "http",
                    "forbidden_origin",
                    "origin not allowed",
                );
                return Err(text_response(StatusCode::FORBIDDEN, "origin not allowed"));
            }
        }
        Ok(())
    });
    let cors_origins: Vec<HeaderValue> = options
        .allowed_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(cors_origins))
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static(mcp::SESSION_HEADER),
            HeaderName::from_static(mcp::VERSION_HEADER),
            HeaderName::from_static(mcp::METHOD_HEADER),
            HeaderName::from_static(mcp::NAME_HEADER),
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            HeaderName::from_static(mcp::SESSION_HEADER),
            header::WWW_AUTHENTICATE,
        ])
        .max_age(Duration::from_secs(600));
    let service = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            options.request_timeout + TIMEOUT_GRACE,
        ))
        .layer(deadline)
        .layer(client)
        .layer(origin_host)
        .layer(cors)
        .layer(tower::limit::ConcurrencyLimitLayer::new(
            options.max_concurrent_requests.max(1),
        ))
        .service(router);
    BoxCloneSyncService::new(service.map_err(|never: Infallible| match never {}))
}

/// Authentication: `Authorization: Bearer <API key>`, or an OAuth 2.1 access token when
/// `[http.oauth]` is configured. Missing: 401 with `WWW-Authenticate` (naming the protected
/// resource metadata with OAuth); invalid: 401 `invalid_token`; missing scopes: 403
/// `insufficient_scope`; too many failures from the address: 429 with `Retry-After`. The
/// credential is checked on every request (a revocation or an expiry takes effect at once) and
/// is never passed on to Odoo. Every refusal of a presented credential is audited.
#[derive(Clone)]
struct AuthLayer<B: Backend> {
    backend: B,
    slots: Arc<KeySlots<B::Principal>>,
    oauth: Option<Arc<TokenAuth>>,
}

/// The requests each principal has in flight, against its share of the slots.
struct KeySlots<P> {
    share: usize,
    /// At most `max_concurrent_requests` principals: a list is enough.
    in_flight: std::sync::Mutex<Vec<(P, usize)>>,
}

impl<P: Clone + PartialEq> KeySlots<P> {
    fn new(share: usize, max: usize) -> Self {
        Self {
            share: share.clamp(1, max.max(1)),
            in_flight: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// One more request of `principal` in flight, or `None` when it has its whole share.
    fn take(self: &Arc<Self>, principal: &P) -> Option<KeySlot<P>> {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match in_flight.iter_mut().find(|(p, _)| p == principal) {
            Some((_, n)) if *n >= self.share => return None,
            Some((_, n)) => *n += 1,
            None => in_flight.push((principal.clone(), 1)),
        }
        Some(KeySlot {
            slots: Arc::clone(self),
            principal: principal.clone(),
        })
    }
}

/// A request in flight of [`KeySlots`]; given back when dropped.
struct KeySlot<P: Clone + PartialEq> {
    slots: Arc<KeySlots<P>>,
    principal: P,
}

impl<P: Clone + PartialEq> Drop for KeySlot<P> {
    fn drop(&mut self) {
        let mut in_flight = self
            .slots
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(at) = in_flight.iter().position(|(p, _)| *p == self.principal) {
            in_flight[at].1 -= 1;
            if in_flight[at].1 == 0 {
                in_flight.swap_remove(at);
            }
        }
    }
}

/// Access-token validation, and the metadata URL its challenges name (computed once).
struct TokenAuth {
    validator: oauth::Validator,
    metadata: Option<Arc<str>>,
}

impl<S, B: Backend> tower::Layer<S> for AuthLayer<B> {
    type Service = Auth<S, B>;
    fn layer(&self, inner: S) -> Self::Service {
        Auth {
            inner,
            backend: self.backend.clone(),
            slots: Arc::clone(&self.slots),
            oauth: self.oauth.clone(),
        }
    }
}

#[derive(Clone)]
struct Auth<S, B: Backend> {
    inner: S,
    backend: B,
    slots: Arc<KeySlots<B::Principal>>,
    oauth: Option<Arc<TokenAuth>>,
}

impl<S, B: Backend> Service<Request<Incoming>> for Auth<S, B>
where
    S: Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = layers::BoxFuture;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Incoming>) -> Self::Future {
        let backend = self.backend.clone();
        let tokens = self.oauth.clone();
        let slots = Arc::clone(&self.slots);
        // The service that was made ready serves this request; a fresh clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let key = match authenticate(&backend, tokens.as_deref(), &request).await {
                Ok(key) => key,
                Err(response) => return Ok(response),
            };
            let Some(slot) = slots.take(&key) else {
                let caller = Caller::http(request.extensions().get::<ClientAddr>().map(|c| c.0));
                let message = format!(
                    "this key has {} requests in flight, its share of the server: retry when \
                     one is answered",
                    slots.share
                );
                backend.record_refusal(&caller, Some(&key), "http", "key_busy", &message);
                let mut response = text_response(StatusCode::TOO_MANY_REQUESTS, &message);
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return Ok(response);
            };
            request.extensions_mut().insert(Authenticated(key));
            let response = inner.call(request).await;
            drop(slot);
            response
        })
    }
}

/// The key (or OAuth identity) `request` authenticates as, or the refusal.
async fn authenticate<B: Backend>(
    backend: &B,
    tokens: Option<&TokenAuth>,
    request: &Request<Incoming>,
) -> Result<B::Principal, Response<Body>> {
    let ip = request.extensions().get::<ClientAddr>().map(|c| c.0);
    let caller = Caller::http(ip);
    let metadata = tokens.and_then(|t| t.metadata.as_deref());
    if request
        .headers()
        .get_all(header::AUTHORIZATION)
        .iter()
        .count()
        > 1
    {
        return Err(text_response(
            StatusCode::BAD_REQUEST,
            "the authorization header is given more than once",
        ));
    }
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        if let Some(principal) = backend.anonymous(&caller) {
            return Ok(principal);
        }
        backend.record_refusal(
            &caller,
            None,
            "authenticate",
            "unauthenticated",
            "no credentials",
        );
        return Err(unauthorized(None, metadata));
    };
    let refused = |failure: AuthFailure| match failure.retry_after {
        Some(after) => {
            let mut response = text_response(StatusCode::TOO_MANY_REQUESTS, &failure.message);
            if let Ok(value) = HeaderValue::from_str(&after.as_secs().max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        None => unauthorized(Some(&failure.message), metadata),
    };
    backend.admit_caller(&caller).await.map_err(refused)?;
    match tokens {
        Some(tokens) if !token.starts_with("owk_") => {
            match tokens
                .validator
                .validate(token, std::time::SystemTime::now())
                .await
            {
                Ok(identity) => backend
                    .authenticate_oauth(&identity.subject, &identity.profile, &caller)
                    .map_err(refused),
                Err(error) => {
                    let failure = backend.reject_credential(&caller, &error.to_string());
                    if failure.retry_after.is_some() {
                        return Err(refused(failure));
                    }
                    let mut response = text_response(error.status(), &error.to_string());
                    let challenge = error.www_authenticate(metadata.unwrap_or(""));
                    if let Ok(value) = HeaderValue::from_str(&challenge) {
                        response
                            .headers_mut()
                            .insert(header::WWW_AUTHENTICATE, value);
                    }
                    Err(response)
                }
            }
        }
        _ => backend.authenticate(token, &caller).map_err(refused),
    }
}

fn unauthorized(error: Option<&str>, metadata: Option<&str>) -> Response<Body> {
    let mut response = text_response(
        StatusCode::UNAUTHORIZED,
        error.unwrap_or("authentication required: Authorization: Bearer <API key or access token>"),
    );
    let mut challenge = match metadata {
        Some(url) => oauth::bearer_challenge(url),
        None => "Bearer realm=\"odoo-warden\"".to_owned(),
    };
    if error.is_some() {
        challenge.push_str(", error=\"invalid_token\"");
    }
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

type Boxed = BoxCloneSyncService<Request<Incoming>, Response<Body>, Infallible>;

/// The operations endpoints: `/healthz` (alive), `/readyz` (the configuration is loaded, every
/// fail-closed audit sink can write and every Odoo identity's server answers, checked at most
/// every 5 s), `/metrics` (Prometheus
/// text). None of them says anything about the configuration or a secret.
#[derive(Clone)]
struct Ops<B: Backend> {
    backend: B,
    metrics: Metrics,
    sessions: Arc<Sessions<B>>,
    token: Option<Arc<warden_odoo::SecretString>>,
    /// Served without a token (the operations listener on loopback).
    open: bool,
    ready: Arc<tokio::sync::Mutex<Option<(std::time::Instant, bool)>>>,
}

impl<B: Backend> Ops<B> {
    fn new(
        backend: B,
        metrics: Metrics,
        sessions: Arc<Sessions<B>>,
        token: Option<warden_odoo::SecretString>,
        open: bool,
    ) -> Self {
        Self {
            backend,
            metrics,
            sessions,
            token: token.map(Arc::new),
            open,
            ready: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    /// Whether `request` may see `/readyz` and `/metrics`: the token, compared in constant time.
    fn allowed(&self, request: &Request<Incoming>) -> bool {
        use secrecy::ExposeSecret;
        use subtle::ConstantTimeEq;
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match (&self.token, presented) {
            (Some(token), Some(presented)) => token
                .expose_secret()
                .as_bytes()
                .ct_eq(presented.trim().as_bytes())
                .into(),
            (None, _) => self.open,
            _ => false,
        }
    }

    async fn readiness(&self) -> Response<Body> {
        let mut cached = self.ready.lock().await;
        let fresh = cached.is_some_and(|(at, _)| at.elapsed() < Duration::from_secs(5));
        if !fresh {
            let ok = self.backend.ready().await;
            *cached = Some((std::time::Instant::now(), ok));
        }
        if cached.is_some_and(|(_, ok)| ok) {
            match self.backend.shared_status() {
                Some(status) if !status.up => text_response(
                    StatusCode::OK,
                    "ready; shared state: down (rate limits fall back to this process's budgets, \
                     2026-07-28 confirmations are refused until it answers)",
                ),
                Some(_) => text_response(StatusCode::OK, "ready; shared state: up"),
                None => text_response(StatusCode::OK, "ready"),
            }
        } else {
            text_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: odoo does not answer",
            )
        }
    }

    async fn serve(&self, request: &Request<Incoming>) -> Option<Response<Body>> {
        match request.uri().path() {
            "/healthz" => Some(text_response(StatusCode::OK, "ok")),
            "/readyz" if self.allowed(request) => Some(self.readiness().await),
            "/metrics" if self.allowed(request) => Some(full(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                self.metrics.render_with(
                    self.backend.auditor(),
                    self.sessions.len(),
                    self.backend.shared_status(),
                ),
            )),
            _ => None,
        }
    }
}

/// Routes by path: the operations endpoints, the MCP endpoint, 404 for the rest.
#[derive(Clone)]
struct Router<B: Backend> {
    path: String,
    mcp: Option<Boxed>,
    ops: Ops<B>,
    /// RFC 9728 protected resource metadata (OAuth): its paths and the document.
    metadata: Option<(Vec<String>, Arc<Value>)>,
}

impl<B: Backend> Service<Request<Incoming>> for Router<B> {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = layers::BoxFuture;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        if let Some(mcp) = &self.mcp
            && request.uri().path() == self.path
        {
            return Box::pin(mcp.clone().oneshot(request));
        }
        if let Some((paths, document)) = &self.metadata
            && paths.iter().any(|p| p == request.uri().path())
        {
            let response = if request.method() == Method::GET {
                json_response(StatusCode::OK, document)
            } else {
                text_response(StatusCode::METHOD_NOT_ALLOWED, "GET only")
            };
            return Box::pin(async move { Ok(response) });
        }
        let ops = self.ops.clone();
        Box::pin(async move {
            Ok(match ops.serve(&request).await {
                Some(response) => response,
                None => text_response(StatusCode::NOT_FOUND, "not found"),
            })
        })
    }
}

/// The HTTP service over a [`Backend`] (by default the gateway) and its session store.
#[derive(Clone)]
pub struct App<B: Backend = Gateway> {
    service: Boxed,
    sessions: Arc<Sessions<B>>,
    backend: B,
    metrics: Metrics,
    options: Arc<HttpOptions>,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl<B: Backend> App<B> {
    /// The operations listener's service: `/healthz`, `/readyz` and `/metrics` only, behind the
    /// same layers; served without a token when `token` is `None` (a loopback listener).
    pub fn ops(&self, token: Option<warden_odoo::SecretString>) -> App<B> {
        let open = token.is_none();
        let router = Router {
            path: String::new(),
            mcp: None,
            metadata: None,
            ops: Ops::new(
                self.backend.clone(),
                self.metrics.clone(),
                Arc::clone(&self.sessions),
                token,
                open,
            ),
        };
        App {
            service: stack(router, &self.options, &self.backend, false),
            sessions: Arc::clone(&self.sessions),
            backend: self.backend.clone(),
            metrics: self.metrics.clone(),
            options: Arc::clone(&self.options),
            tls: self.tls.clone(),
        }
    }

    /// The same service over TLS (see [`tls::acceptor`]): [`serve`] then handshakes every
    /// connection (within the header timeout) and every answer carries
    /// `Strict-Transport-Security`.
    #[must_use]
    pub fn with_tls(mut self, acceptor: tokio_rustls::TlsAcceptor) -> Self {
        self.tls = Some(acceptor);
        self
    }

    /// Serve one request from `peer`.
    pub async fn call(&self, mut request: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        request.extensions_mut().insert(Peer(peer));
        let mut response = match self.service.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        if self.tls.is_some() {
            response.headers_mut().insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000"),
            );
        }
        response
    }

    /// Legacy sessions open.
    pub fn open_sessions(&self) -> usize {
        self.sessions.len()
    }
}

/// Serve one connection until it ends, or until `stop` (then gracefully).
async fn connection<B: Backend, IO>(
    app: App<B>,
    io: IO,
    peer: SocketAddr,
    header_timeout: Duration,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(app.call(request, peer).await) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(hyper_util::rt::TokioIo::new(io), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, "connection ended with an error");
            }
        }
        _ = stop.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// Serve `app` on `listener` until `shutdown` resolves: then stop accepting, let requests in
/// flight finish within the drain timeout, end the sessions.
pub async fn serve<B: Backend>(
    app: App<B>,
    listener: tokio::net::TcpListener,
    header_timeout: Duration,
    drain_timeout: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let sweeper = {
        let sessions = Arc::clone(&app.sessions);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                sessions.sweep();
            }
        })
    };
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut stop = stop_rx.clone();
        connections.spawn(async move {
            match app.tls.clone() {
                None => connection(app, stream, peer, header_timeout, &mut stop).await,
                Some(acceptor) => {
                    // A client that does not finish its handshake in time is dropped.
                    match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => connection(app, tls, peer, header_timeout, &mut stop).await,
                        Ok(Err(error)) => tracing::debug!(%error, "tls handshake failed"),
                        Err(_) => tracing::debug!("tls handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    app.sessions.clear();
    sweeper.abort();
    let drained = tokio::time::timeout(drain_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = connections.len(),
            "shutdown: abandoning connections still open"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Why [`run`] could not serve. One line each; none holds a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The configuration does not load.
    #[error(transparent)]
    Setup(#[from] crate::setup::SetupError),
    /// The configuration would expose the gateway unsafely.
    #[error("config: `{key}`: {message}")]
    Unsafe {
        /// The key.
        key: String,
        /// Why.
        message: String,
    },
    /// The listener cannot be opened.
    #[error("cannot listen on {addr}: {message}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The operating system's reason.
        message: String,
    },
    /// The TLS certificate or key cannot be used.
    #[error("config: `http.tls_cert_file`: {0}")]
    Tls(String),
    /// Serving failed.
    #[error("http: {0}")]
    Io(#[from] std::io::Error),
}

/// The options `settings` and `limits` describe.
pub fn options(
    settings: &warden_config::HttpSettings,
    limits: &warden_config::Limits,
) -> HttpOptions {
    HttpOptions {
        path: settings.path.clone(),
        allowed_origins: settings.allowed_origins.clone(),
        allowed_hosts: settings.allowed_hosts.clone(),
        trusted_proxies: settings.trusted_proxies.clone(),
        forwarded_header: if settings.forwarded_header_rfc7239 {
            ForwardedHeader::Forwarded
        } else {
            ForwardedHeader::XForwardedFor
        },
        max_body_bytes: limits.max_message_bytes,
        request_timeout: settings.request_timeout,
        header_timeout: settings.header_timeout,
        max_concurrent_requests: settings.max_concurrent_requests,
        max_concurrent_requests_per_key: Some(settings.max_concurrent_requests_per_key),
        max_sessions: settings.max_sessions,
        max_sessions_per_key: settings.max_sessions_per_key,
        session_idle_timeout: settings.session_idle_timeout,
        ..HttpOptions::default()
    }
}

/// `odoo-warden-http`: serve the configuration at `config_path` (overrides and secrets from
/// `env`) over HTTP until SIGTERM or SIGINT, reloading it on SIGHUP and when its files change;
/// then drain, end the sessions and flush the audit log. `ready` is told the endpoint's URL
/// (`http://127.0.0.1:8765/mcp`, `https://…` with TLS) once the listener is open.
pub async fn run(
    config_path: &std::path::Path,
    env: warden_config::Environment,
    ready: impl FnOnce(&str),
) -> Result<(), RunError> {
    // Installed before anything is announced: a supervisor may stop us as soon as it reads it.
    let stop = stop_signal();
    run_until(config_path, env, ready, stop).await
}

/// [`run`] until `shutdown` resolves instead of a signal (the demo, tests, embedding).
pub async fn run_until(
    config_path: &std::path::Path,
    env: warden_config::Environment,
    ready: impl FnOnce(&str),
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), RunError> {
    let loaded = crate::setup::load(config_path, &env)?;
    let settings = loaded.http.clone();
    if !settings.bind.ip().is_loopback()
        && loaded.runtime.policy().keys().next().is_none()
        && settings.oauth.is_none()
    {
        return Err(RunError::Unsafe {
            key: "http.bind".to_owned(),
            message: format!(
                "{} is not a loopback address and no authentication is configured (the key store \
                 holds no key): refusing to start",
                settings.bind
            ),
        });
    }
    loaded.warn_risks();
    let metrics = Metrics::new();
    let fleet = loaded
        .cluster
        .as_ref()
        .map(crate::setup::build_fleet)
        .transpose()?;
    let auditor = crate::setup::build_auditor_shared(
        &loaded.audit,
        crate::setup::TransportKind::Http,
        vec![(
            Box::new(metrics.sink()),
            warden_audit::SinkOptions {
                policy: warden_audit::FailurePolicy::Drop,
                queue_capacity: 16_384,
            },
        )],
        fleet.as_ref().map(|(_, windows)| Arc::clone(windows)),
    )?;
    let info = warden_gateway::engine::ServerInfo::default();
    let gateway = match fleet {
        Some((fleet, _)) => Gateway::with_fleet(loaded.runtime, info, auditor.clone(), fleet),
        None => Gateway::with_audit(loaded.runtime, info, auditor.clone()),
    };
    let _reload = crate::reload::spawn_watching(
        gateway.clone(),
        config_path.to_owned(),
        env,
        &loaded.files,
        crate::reload::ClusterReload::Apply(loaded.cluster),
    );
    let mut options = options(&settings, &loaded.limits);
    options.ops_token.clone_from(&settings.ops_token);
    if let Some(oauth) = &settings.oauth {
        options.oauth = Some(validator(oauth)?);
    }
    let (header_timeout, drain_timeout) = (options.header_timeout, options.drain_timeout);
    let listener = tokio::net::TcpListener::bind(settings.bind)
        .await
        .map_err(|e| RunError::Bind {
            addr: settings.bind,
            message: e.kind().to_string(),
        })?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, path = %options.path, "odoo-warden serving MCP over HTTP");
    let path = options.path.clone();
    let mut app = app_with(gateway, options, metrics);
    if let Some((cert, key)) = &settings.tls {
        let read = |path: &std::path::Path| {
            std::fs::read(path)
                .map_err(|e| RunError::Tls(format!("cannot read {}: {}", path.display(), e.kind())))
        };
        let acceptor = tls::acceptor(&read(cert)?, &read(key)?).map_err(RunError::Tls)?;
        app = app.with_tls(acceptor);
        tracing::info!("serving TLS (1.2 and 1.3)");
    }
    let ops = match settings.ops_bind {
        Some(ops_addr) => {
            let ops_listener =
                tokio::net::TcpListener::bind(ops_addr)
                    .await
                    .map_err(|e| RunError::Bind {
                        addr: ops_addr,
                        message: e.kind().to_string(),
                    })?;
            tracing::info!(addr = %ops_addr, "operations endpoints (/healthz, /readyz, /metrics)");
            let ops_app = app.ops(settings.ops_token.clone());
            let (stop_ops, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(serve(
                ops_app,
                ops_listener,
                header_timeout,
                drain_timeout,
                async move {
                    let _ = stopped.await;
                },
            ));
            Some((stop_ops, task))
        }
        None => None,
    };
    let scheme = if settings.tls.is_some() {
        "https"
    } else {
        "http"
    };
    ready(&format!("{scheme}://{addr}{path}"));
    let served = serve(app, listener, header_timeout, drain_timeout, shutdown).await;
    if let Some((stop_ops, task)) = ops {
        let _ = stop_ops.send(());
        let _ = task.await;
    }
    if !auditor.shutdown(Duration::from_secs(10)).await {
        tracing::error!("the audit log did not flush in time at shutdown");
    }
    served?;
    Ok(())
}

/// The access-token validator `settings` describe.
fn validator(settings: &warden_config::OAuthSettings) -> Result<oauth::Validator, RunError> {
    let unsafe_config = |message: String| RunError::Unsafe {
        key: "http.oauth".to_owned(),
        message,
    };
    let mut config = oauth::OAuthConfig::new(
        settings.issuer.clone(),
        settings.jwks_url.clone(),
        settings.audience.clone(),
    );
    if !settings.algorithms.is_empty() {
        config.algorithms = settings
            .algorithms
            .iter()
            .map(|a| {
                a.parse::<oauth::Algorithm>()
                    .map_err(|e| unsafe_config(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some(leeway) = settings.leeway {
        config.leeway = leeway;
    }
    config.required_scopes.clone_from(&settings.required_scopes);
    config.mappings = settings
        .mappings
        .iter()
        .map(|(claim, value, profile)| oauth::ClaimMapping::new(claim, value, profile))
        .collect();
    oauth::Validator::new(config).map_err(|e| unsafe_config(e.to_string()))
}

/// SIGTERM or SIGINT (Ctrl-C): the handlers are installed when this is called, not when the
/// future is first polled. What [`run`] stops on; a server of one's own on [`serve`] can too.
pub fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
            tracing::info!("stopping: draining requests in flight");
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
