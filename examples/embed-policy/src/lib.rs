//! An HTTP service of one's own — a tiny orders API — guarded by `warden-policy` and recorded
//! by `warden-audit`, without the rest of odoo-warden.
//!
//! | endpoint | model | operation | fields |
//! |---|---|---|---|
//! | `GET /partners[?fields=a,b]` | `partner` | read | the ones asked for, else every readable one |
//! | `GET /orders/{id}[?fields=a,b]` | `order` | read | the same |
//! | `POST /orders` (a JSON object) | `order` | create | the members of the object, as written |
//!
//! Every request carries `Authorization: Bearer <key>`, a key of a warden-policy key store
//! (`owk_…`). The steps mirror odoo-warden's gateway:
//!
//! 1. the address's failed-authentication budget, the global IP rules, the key itself (hash
//!    compared in constant time; revoked, expired and not-yet-valid keys refused) and the
//!    profile's and key's IP rules — a failure is 401 (or 403 for an address, 429 for too many
//!    failures) and is recorded without waiting;
//! 2. the rate limits (429);
//! 3. the key's profile decides on the model, the operation and every field
//!    ([`warden_policy::Profile::check`]) — a denial is 403 with the reason, and the audit event
//!    names the rule;
//! 4. a fail-closed audit log that cannot be written refuses the request before it is served
//!    (503);
//! 5. the request is served, and its event recorded; an answer whose event is not recorded is
//!    withheld (503).
//!
//! Every answer carries `X-Audit-Id`, the id of its audit event. The audit log is a folder of
//! hash-chained JSONL files ([`warden_audit::JsonlSink`]); `odoo-warden audit verify` and
//! [`warden_audit::verify::verify_dir`] check it.
//!
//! The client address is the socket peer's: put no proxy in front, or read the forwarded
//! address from a proxy you trust before handing it to [`App::handle`].

mod data;

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Map, Value, json};
use warden_audit::{AuditEvent, Auditor, Decision, JsonlConfig, JsonlSink, Latency, Outcome};
use warden_audit::{SinkError, SinkOptions};
use warden_policy::{
    Denial, DenialKind, FieldRef, FieldUse, KeyStoreFile, Operation, Policy, PolicyConfig,
    Principal, RateLimiter,
};

pub use data::{Data, ORDER_FIELDS, PARTNER_FIELDS};

/// The name every profile of this service gives as its `identity`: warden-policy binds each
/// profile to an identity (for odoo-warden, an Odoo user); this service has only itself.
pub const IDENTITY: &str = "orders-api";

/// Largest request body.
const MAX_BODY: usize = 16 * 1024;
/// Longest wait for a request body.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Most field names one `?fields=` may list.
const MAX_FIELDS: usize = 32;

/// The body of every answer.
pub type Body = Full<Bytes>;

/// Compiles the service's policy (`[network]`, `[rate_limits]`, `[profiles.NAME]`) and its key
/// store, both TOML.
pub fn compile_policy(policy_toml: &str, keys_toml: &str) -> anyhow::Result<Policy> {
    let config: PolicyConfig = toml::from_str(policy_toml).context("policy")?;
    let keys = KeyStoreFile::from_toml(keys_toml)?;
    Ok(Policy::compile(&config, &keys, &[IDENTITY])?)
}

/// The audit log: hash-chained JSONL files in `dir`, failing closed (a request whose event
/// cannot be written within two seconds fails).
pub fn open_auditor(dir: &Path) -> Result<Auditor, SinkError> {
    let files = JsonlSink::open(JsonlConfig::new(dir))?;
    Auditor::builder()
        .sink(files, SinkOptions::default())
        .build()
}

/// The service: its policy, rate limiter, audit log and data.
pub struct App {
    policy: Policy,
    limiter: RateLimiter,
    auditor: Auditor,
    data: Mutex<Data>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("auditor", &self.auditor)
            .finish_non_exhaustive()
    }
}

/// Why a request is not served: its answer and what the audit event says.
#[derive(Debug)]
struct Stop {
    status: StatusCode,
    /// The outcome's error kind, also the answer's `error`.
    kind: &'static str,
    /// For the caller.
    message: String,
    /// The rule that refused the request and why, when a rule did (the decision is then deny).
    deny: Option<(String, String)>,
    retry_after: Option<Duration>,
}

impl Stop {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
            deny: None,
            retry_after: None,
        }
    }

    fn unauthenticated(message: &str, reason: String) -> Self {
        let mut stop = Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message);
        stop.deny = Some((String::new(), reason));
        stop
    }

    /// A denial of the policy: 403, or 429 for a rate limit.
    fn denied(denial: Denial) -> Self {
        let (status, kind, retry_after) = match denial.kind {
            DenialKind::RateLimited { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                Some(retry_after),
            ),
            _ => (StatusCode::FORBIDDEN, "forbidden", None),
        };
        Self {
            status,
            kind,
            message: denial.message,
            deny: Some((denial.rule, kind.to_owned())),
            retry_after,
        }
    }

    /// The decision and outcome in the event.
    fn note(&self, event: &mut AuditEvent) {
        if let Some((rule, reason)) = &self.deny {
            event.decision = Some(Decision::deny(rule, reason));
        }
        event.outcome = Some(Outcome::error(self.kind));
    }

    fn response(&self, audit_id: &str) -> Response<Body> {
        let body = json!({"error": self.kind, "message": self.message});
        let mut response = json_response(self.status, &body, audit_id);
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(wait) = self.retry_after {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
    }
}

fn json_response(status: StatusCode, body: &Value, audit_id: &str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(id) = HeaderValue::from_str(audit_id) {
        headers.insert("x-audit-id", id);
    }
    response
}

/// The endpoints.
#[derive(Debug, Clone, Copy)]
enum Route {
    ListPartners,
    ReadOrder(i64),
    CreateOrder,
}

impl Route {
    fn parse(method: &Method, path: &str) -> Option<Self> {
        match (method, path) {
            (&Method::GET, "/partners") => Some(Self::ListPartners),
            (&Method::POST, "/orders") => Some(Self::CreateOrder),
            (&Method::GET, _) => path
                .strip_prefix("/orders/")
                .and_then(|id| id.parse().ok())
                .filter(|id| *id > 0)
                .map(Self::ReadOrder),
            _ => None,
        }
    }
}

/// What one request wants, in the policy's terms.
#[derive(Debug)]
struct Action {
    tool: &'static str,
    model: &'static str,
    operation: Operation,
    /// The fields it reads, or writes for a create.
    fields: Vec<String>,
    ids: Vec<i64>,
    /// The values of a create.
    values: Map<String, Value>,
}

/// The field names of `?fields=a,b`, if given.
fn requested_fields(query: Option<&str>) -> Result<Option<Vec<String>>, Stop> {
    let Some(list) = query
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("fields="))
    else {
        return Ok(None);
    };
    let fields: Vec<String> = list
        .split(',')
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect();
    if fields.len() > MAX_FIELDS {
        return Err(Stop::new(
            StatusCode::BAD_REQUEST,
            "invalid_arguments",
            format!("fields: at most {MAX_FIELDS} names"),
        ));
    }
    Ok(Some(fields))
}

/// A JSON object body, read within the size and time limits.
async fn json_object(body: Incoming) -> Result<Map<String, Value>, Stop> {
    let bad = |message: &str| Stop::new(StatusCode::BAD_REQUEST, "invalid_arguments", message);
    let bytes =
        match tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, MAX_BODY).collect()).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(_)) => return Err(bad("the body is too large or could not be read")),
            Err(_) => return Err(bad("the body did not arrive in time")),
        };
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(values)) => Ok(values),
        _ => Err(bad("the body must be a JSON object")),
    }
}

impl App {
    /// The service over a compiled policy, an audit log and its data.
    pub fn new(policy: Policy, auditor: Auditor, data: Data) -> Self {
        let limiter = RateLimiter::new(policy.rate_limits());
        Self {
            policy,
            limiter,
            auditor,
            data: Mutex::new(data),
        }
    }

    /// The audit log (to flush or shut it down).
    pub fn auditor(&self) -> &Auditor {
        &self.auditor
    }

    /// Serves one request from `peer`: decides, serves, records.
    pub async fn handle(&self, request: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        let started = Instant::now();
        let ip = peer.ip();
        let mut event = AuditEvent::request(SystemTime::now(), request.method().as_str());
        event.transport = Some("http".to_owned());
        event.client_ip = Some(ip.to_string());
        event.uri = Some(request.uri().path().chars().take(512).collect());

        let principal = match self.authenticate(request.headers(), ip) {
            Ok(principal) => principal,
            Err(stop) => {
                // Refused before any work: recorded without waiting, as the gateway does.
                stop.note(&mut event);
                event.latency = Some(Latency::new(started.elapsed(), Duration::ZERO, 0));
                let id = event.id.clone();
                self.auditor.record_nowait(event);
                return stop.response(&id);
            }
        };
        event.key_id = Some(principal.key_id.clone());
        event.key_name = Some(principal.key_name.clone());
        event.profile = Some(principal.profile.name().to_owned());

        let answer = self.answer(request, &principal, ip, &mut event).await;
        if let Err(stop) = &answer {
            stop.note(&mut event);
        }
        event.latency = Some(Latency::new(started.elapsed(), Duration::ZERO, 0));
        let id = event.id.clone();
        // Fail closed: nothing is handed out that the audit log does not hold.
        if let Err(error) = self.auditor.record(event).await {
            let body = json!({"error": "audit_unavailable", "message": error.to_string()});
            return json_response(StatusCode::SERVICE_UNAVAILABLE, &body, &id);
        }
        match answer {
            Ok((status, body)) => json_response(status, &body, &id),
            Err(stop) => stop.response(&id),
        }
    }

    /// The key presented in `Authorization: Bearer`, from `ip`.
    fn authenticate(&self, headers: &HeaderMap, ip: IpAddr) -> Result<Principal, Stop> {
        self.limiter
            .check_auth_allowed(Some(ip))
            .map_err(Stop::denied)?;
        self.policy
            .check_ip_global(Some(ip))
            .map_err(Stop::denied)?;
        let secret = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, secret)| secret.trim());
        let Some(secret) = secret else {
            return Err(Stop::unauthenticated(
                "authentication required: Authorization: Bearer <key>",
                "no key presented".to_owned(),
            ));
        };
        let principal = self
            .policy
            .authenticate(secret, SystemTime::now())
            .map_err(|error| {
                self.limiter.record_failed_auth(Some(ip));
                Stop::unauthenticated(
                    "invalid key (unknown, expired, not yet valid or revoked)",
                    error.to_string(),
                )
            })?;
        self.policy
            .check_ip(&principal, Some(ip))
            .map_err(Stop::denied)?;
        Ok(principal)
    }

    /// Everything after authentication: the answer's status and body.
    async fn answer(
        &self,
        request: Request<Incoming>,
        principal: &Principal,
        ip: IpAddr,
        event: &mut AuditEvent,
    ) -> Result<(StatusCode, Value), Stop> {
        let Some(route) = Route::parse(request.method(), request.uri().path()) else {
            return Err(Stop::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such endpoint",
            ));
        };
        let write = matches!(route, Route::CreateOrder);
        self.limiter
            .check(principal, Some(ip), write)
            .map_err(Stop::denied)?;

        let action = self.action(route, request, principal).await?;
        event.tool = Some(action.tool.to_owned());
        event.model = Some(action.model.to_owned());
        event.operation = Some(action.operation.as_str().to_owned());
        let names = action.fields.iter().map(String::as_str);
        if action.operation == Operation::Create {
            event.fields_written = AuditEvent::field_list(names);
        } else {
            event.fields_requested = AuditEvent::field_list(names);
        }
        if !action.ids.is_empty() {
            event.set_record_ids(action.ids.iter().copied());
        }

        let usage = if action.operation == Operation::Create {
            FieldUse::Write
        } else {
            FieldUse::Read
        };
        let fields: Vec<FieldRef<'_>> = action
            .fields
            .iter()
            .map(|field| FieldRef {
                model: action.model,
                field,
                usage,
            })
            .collect();
        principal
            .profile
            .check(&warden_policy::Request {
                tool: action.tool,
                model: Some(action.model),
                operation: Some(action.operation),
                fields: &fields,
                method: None,
                ids: action.ids.len(),
            })
            .map_err(Stop::denied)?;

        // Fail closed before anything is served when the audit log cannot be written.
        self.auditor.ready().map_err(|error| Stop {
            deny: Some((
                "the audit log fails closed (FailurePolicy::Block)".to_owned(),
                "audit_unavailable".to_owned(),
            )),
            ..Stop::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "audit_unavailable",
                error.to_string(),
            )
        })?;

        self.execute(route, &action, event)
    }

    /// What `route` wants: the fields named, or for a read that names none, every field the
    /// profile may read.
    async fn action(
        &self,
        route: Route,
        request: Request<Incoming>,
        principal: &Principal,
    ) -> Result<Action, Stop> {
        let (tool, model, schema, ids) = match route {
            Route::ListPartners => ("list_partners", "partner", PARTNER_FIELDS, Vec::new()),
            Route::ReadOrder(id) => ("read_order", "order", ORDER_FIELDS, vec![id]),
            Route::CreateOrder => {
                let values = json_object(request.into_body()).await?;
                return Ok(Action {
                    tool: "create_order",
                    model: "order",
                    operation: Operation::Create,
                    fields: values.keys().cloned().collect(),
                    ids: Vec::new(),
                    values,
                });
            }
        };
        let fields = match requested_fields(request.uri().query())? {
            Some(fields) => fields,
            None => schema
                .iter()
                .filter(|field| principal.profile.field_readable(model, field))
                .map(|field| (*field).to_owned())
                .collect(),
        };
        Ok(Action {
            tool,
            model,
            operation: Operation::Read,
            fields,
            ids,
            values: Map::new(),
        })
    }

    /// Serves an allowed request.
    fn execute(
        &self,
        route: Route,
        action: &Action,
        event: &mut AuditEvent,
    ) -> Result<(StatusCode, Value), Stop> {
        let schema = if action.model == "partner" {
            PARTNER_FIELDS
        } else {
            ORDER_FIELDS
        };
        if let Some(unknown) = action.fields.iter().find(|f| !schema.contains(&f.as_str())) {
            return Err(Stop::new(
                StatusCode::BAD_REQUEST,
                "invalid_arguments",
                format!("{}: unknown field \"{unknown}\"", action.tool),
            ));
        }
        let mut data = self.data.lock().unwrap_or_else(PoisonError::into_inner);
        match route {
            Route::ListPartners => {
                let partners = data.partners(&action.fields);
                event.result_count = Some(partners.len() as u64);
                event.fields_returned = action.fields.clone();
                let ids = partners.iter().filter_map(|p| p["id"].as_i64());
                event.set_record_ids(ids.collect::<Vec<_>>());
                Ok((StatusCode::OK, json!({ "partners": partners })))
            }
            Route::ReadOrder(id) => match data.order(id, &action.fields) {
                Some(order) => {
                    event.result_count = Some(1);
                    event.fields_returned = action.fields.clone();
                    Ok((StatusCode::OK, order))
                }
                None => Err(Stop::new(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    format!("no order {id}"),
                )),
            },
            Route::CreateOrder => match data.create_order(&action.values) {
                Ok(id) => {
                    event.set_record_ids([id]);
                    Ok((StatusCode::CREATED, json!({ "id": id })))
                }
                Err(message) => Err(Stop::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_arguments",
                    message,
                )),
            },
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting and lets the
/// open connections finish their requests (10 s at most). The audit log stays open: shut it
/// down afterwards ([`Auditor::shutdown`]).
pub async fn serve(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: pause instead of spinning.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = Arc::clone(&app);
        let mut stop = stop_rx.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let app = Arc::clone(&app);
                async move { Ok::<_, Infallible>(app.handle(request, peer).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(Duration::from_secs(10), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
    }
    Ok(())
}
