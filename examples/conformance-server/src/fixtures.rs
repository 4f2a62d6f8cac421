//! The fixtures of the official MCP conformance suite (`@modelcontextprotocol/conformance`) as a
//! pure message handler: one JSON-RPC message in, the response out, and the messages for the
//! client (progress, logs, server-to-client requests) on a channel meanwhile. The HTTP transport
//! carries them; nothing here does I/O.
//!
//! Both protocol eras are served the way the gateway's engine serves them:
//!
//! - legacy (2025-03-26 … 2025-11-25): `initialize` negotiates the revision of a session, whose
//!   later requests are served in it; a tool that needs the client (sampling, elicitation, roots)
//!   sends it requests on `outbound` and waits for the answers, which arrive as separate messages
//!   on the same session;
//! - 2026-07-28: every request carries its revision and the client's capabilities in `_meta` and
//!   is served on its own; a request that needs the client answers `input_required` (SEP-2322,
//!   see [`input`]), and `subscriptions/listen` streams the list changes that other requests
//!   publish.
//!
//! The fixtures themselves (names and contents, as the scenarios spell them) are in [`catalog`].

mod catalog;
mod input;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc, oneshot};
use warden_mcp::{
    CacheScope, ClientCapabilities, CompleteParams, CompletionReference, DiscoverResult, Era, Id,
    Implementation, Incoming, InitializeResult, LoggingLevel, ProgressParams, ProgressToken,
    ProtocolVersion, Request, RequestId, RequestMeta, Response, ResponsePayload, RpcError,
    ServerCapabilities, SetLevelParams, error_code, meta_key, method as m,
};

use self::catalog::{Behaviour, Change, Reference, Render};
use self::input::{Answers, Ask, Interaction, StateKey, Subject};

/// Who the fixtures say they are.
const SERVER_NAME: &str = "odoo-warden-conformance-fixtures";
/// Guidance for the model, sent in `initialize` and `server/discover`.
const INSTRUCTIONS: &str = "Fixtures of the MCP conformance suite; nothing here touches Odoo.";
/// The logger named in log messages.
const LOGGER: &str = "conformance-fixtures";
/// How long a client may cache list and read results (2026-07-28 `ttlMs`).
const TTL_MS: u64 = 60_000;
/// How long a legacy tool waits for the client's answer to a server-to-client request.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// The pause between the steps of the logging and progress tools.
const STEP: Duration = Duration::from_millis(50);
/// List changes buffered for a listen stream that falls behind (older ones are dropped).
const CHANGE_BUFFER: usize = 64;
/// The most resources one legacy session may subscribe to.
const MAX_SUBSCRIPTIONS: usize = 64;
/// The longest part of a client-chosen name that is echoed in an error message.
const MAX_ECHO: usize = 100;
/// `notifications/subscriptions/acknowledged` (2026-07-28).
const SUBSCRIPTIONS_ACKNOWLEDGED: &str = "notifications/subscriptions/acknowledged";
/// The `_meta` key naming the listen stream a notification belongs to (2026-07-28).
const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";

/// The state every conversation shares: the `requestState` key and the list-change bus.
pub(crate) struct Fixtures {
    shared: Arc<Shared>,
}

struct Shared {
    state_key: StateKey,
    changes: broadcast::Sender<Change>,
}

impl Fixtures {
    /// Fixtures with a fresh random `requestState` key.
    pub(crate) fn new() -> Self {
        let (changes, _) = broadcast::channel(CHANGE_BUFFER);
        Self {
            shared: Arc::new(Shared {
                state_key: StateKey::random(),
                changes,
            }),
        }
    }

    /// A fresh conversation: one legacy session (kept across POSTs of one `Mcp-Session-Id`), or
    /// one stateless 2026-07-28 request.
    pub(crate) fn session(&self) -> FixtureSession {
        FixtureSession {
            shared: Arc::clone(&self.shared),
            state: Arc::default(),
        }
    }
}

/// One conversation. Clones share it: a client's answer to a server-to-client request arrives as
/// another message, handled concurrently with the request that waits for it.
#[derive(Clone)]
pub(crate) struct FixtureSession {
    shared: Arc<Shared>,
    state: Arc<SessionState>,
}

#[derive(Default)]
struct SessionState {
    /// Set by `initialize`.
    legacy: Mutex<Option<Legacy>>,
    /// Resources the legacy client subscribed to.
    subscriptions: Mutex<BTreeSet<String>>,
    /// Server-to-client requests awaiting an answer, by id.
    pending: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    next_id: AtomicU64,
}

/// A client's answer to a server-to-client request: its result, or why there is none.
type Answer = Result<Value, String>;

/// What `initialize` settled for a legacy session.
#[derive(Clone)]
struct Legacy {
    version: ProtocolVersion,
    caps: ClientCapabilities,
    /// Set by `logging/setLevel`; until then every level is sent.
    log_level: Option<LoggingLevel>,
}

/// `-32021` for the capabilities in `required` (a `ClientCapabilities` object).
fn missing_capability(required: Map<String, Value>) -> RpcError {
    let names: Vec<&str> = required.keys().map(String::as_str).collect();
    let message = format!("missing required client capability: {}", names.join(", "));
    RpcError::new(error_code::MISSING_REQUIRED_CLIENT_CAPABILITY, message)
        .with_data(json!({"requiredCapabilities": required}))
}

/// The revision and client a request is served for.
struct Ctx {
    version: ProtocolVersion,
    caps: ClientCapabilities,
    /// The lowest level of log messages to send; `None` sends none.
    log_level: Option<LoggingLevel>,
    progress: Option<ProgressToken>,
}

impl Ctx {
    fn modern(&self) -> bool {
        self.version.era() == Era::Modern
    }

    /// The success response, shaped for the revision; 2026-07-28 results name the server in
    /// `_meta` (a SHOULD for every response).
    fn respond(&self, id: &RequestId, mut result: Value) -> Value {
        if self.modern()
            && let Value::Object(result) = &mut result
            && let Value::Object(meta) = result.entry("_meta").or_insert_with(|| json!({}))
        {
            meta.entry(meta_key::SERVER_INFO)
                .or_insert_with(|| to_json(server_info()));
        }
        warden_mcp::result_response(id, self.version, result)
    }

    async fn log(&self, outbound: &mpsc::Sender<Value>, level: LoggingLevel, message: &str) {
        if self.log_level.is_some_and(|lowest| level >= lowest) {
            let params = json!({"level": level, "logger": LOGGER, "data": message});
            // Nobody to tell when the client asked for plain JSON.
            let _ = outbound
                .send(warden_mcp::notification(m::NOTIFICATION_MESSAGE, params))
                .await;
        }
    }

    async fn progress(&self, outbound: &mpsc::Sender<Value>, progress: u64, total: u64) {
        if let Some(token) = &self.progress {
            let mut params = ProgressParams::new(token.clone(), progress, Some(total));
            params.message = Some(format!("Completed step {progress} of {total}"));
            let _ = outbound
                .send(warden_mcp::notification(m::NOTIFICATION_PROGRESS, params))
                .await;
        }
    }
}

impl FixtureSession {
    /// Handle one JSON-RPC message (bytes of one JSON object). Returns the response to send:
    /// `None` for notifications, for the client's answers to this server's requests, and for a
    /// `subscriptions/listen` whose client went away. Messages for the client sent meanwhile go
    /// to `outbound`, in order; when it is closed (the client asked for plain JSON), a tool that
    /// needs the client answers with an error instead of waiting.
    pub(crate) async fn handle(
        &self,
        message: &[u8],
        outbound: &mpsc::Sender<Value>,
    ) -> Option<Value> {
        match warden_mcp::decode(message) {
            Err(error) => error.response(),
            // `notifications/initialized`, `notifications/cancelled`, …: nothing to do.
            Ok(Incoming::Notification(_)) => None,
            Ok(Incoming::Response(response)) => {
                self.answered(response);
                None
            }
            Ok(Incoming::Request(request)) => self.request(&request, outbound).await,
        }
    }

    async fn request(&self, request: &Request, outbound: &mpsc::Sender<Value>) -> Option<Value> {
        let modern_meta = request
            .meta()
            .is_some_and(|meta| meta.contains_key(meta_key::PROTOCOL_VERSION));
        if request.method == m::INITIALIZE && !modern_meta {
            return Some(self.initialize(request));
        }
        let ctx = match self.context(request) {
            Ok(ctx) => ctx,
            Err(error) => return Some(error.response(&request.id)),
        };
        match self.dispatch(&ctx, request, outbound).await {
            Ok(Some(result)) => Some(ctx.respond(&request.id, result)),
            Ok(None) => None,
            Err(error) => Some(error.response(&request.id)),
        }
    }

    /// A legacy handshake: the session's revision and the client's capabilities.
    fn initialize(&self, request: &Request) -> Value {
        let id = &request.id;
        let params = request.params.as_ref();
        let Some(requested) = params
            .and_then(|p| p.get("protocolVersion"))
            .and_then(Value::as_str)
        else {
            return RpcError::invalid_params("initialize needs protocolVersion").response(id);
        };
        let caps = match params.and_then(|p| p.get("capabilities")) {
            None => ClientCapabilities::default(),
            Some(caps @ Value::Object(_)) => match serde_json::from_value(caps.clone()) {
                Ok(caps) => caps,
                Err(_) => {
                    return RpcError::invalid_params("capabilities is malformed").response(id);
                }
            },
            Some(_) => {
                return RpcError::invalid_params("capabilities must be an object").response(id);
            }
        };
        let version = warden_mcp::negotiate(requested);
        {
            let mut legacy = lock(&self.state.legacy);
            if legacy.is_some() {
                return RpcError::new(
                    error_code::INVALID_REQUEST,
                    "the session is already initialized",
                )
                .response(id);
            }
            *legacy = Some(Legacy {
                version,
                caps,
                log_level: None,
            });
        }
        let result = InitializeResult::new(
            version,
            capabilities(),
            server_info(),
            Some(INSTRUCTIONS.to_owned()),
        );
        warden_mcp::result_response(id, version, result)
    }

    /// The revision and client of a request: from its 2026-07-28 `_meta`, else from the legacy
    /// session. A request with neither is refused with `-32602` (what 2026-07-28 answers a
    /// request without `_meta`).
    fn context(&self, request: &Request) -> Result<Ctx, RpcError> {
        match RequestMeta::from_request(request)? {
            Some(meta) if meta.protocol_version.era() == Era::Modern => Ok(Ctx {
                version: meta.protocol_version,
                caps: meta.client_capabilities,
                log_level: meta.log_level,
                progress: meta.progress_token,
            }),
            Some(meta) => {
                let requested = meta.protocol_version.as_str();
                Err(RpcError::new(
                    error_code::UNSUPPORTED_PROTOCOL_VERSION,
                    format!("protocol version {requested} is negotiated with initialize, not per request"),
                )
                .with_data(json!({
                    "supported": [warden_mcp::LATEST.as_str()],
                    "requested": requested,
                })))
            }
            None => match self.legacy() {
                Some(legacy) => Ok(Ctx {
                    version: legacy.version,
                    caps: legacy.caps,
                    log_level: Some(legacy.log_level.unwrap_or(LoggingLevel::Debug)),
                    progress: request.progress_token(),
                }),
                None => Err(RpcError::invalid_params(format!(
                    "_meta must carry {} and {} (or send initialize first)",
                    meta_key::PROTOCOL_VERSION,
                    meta_key::CLIENT_CAPABILITIES
                ))),
            },
        }
    }

    /// The result of a request (`None`: no response, for a listen whose client went away).
    async fn dispatch(
        &self,
        ctx: &Ctx,
        request: &Request,
        outbound: &mpsc::Sender<Value>,
    ) -> Result<Option<Value>, RpcError> {
        let empty = Map::new();
        let params = request.params.as_ref().unwrap_or(&empty);
        let modern = ctx.modern();
        let result = match request.method.as_str() {
            m::TOOLS_LIST => listing(
                "tools",
                catalog::TOOLS.iter().map(catalog::ToolDef::listing),
                params,
            )?,
            m::TOOLS_CALL => self.call_tool(ctx, params, outbound).await?,
            m::RESOURCES_LIST => {
                let resources = catalog::RESOURCES.iter().map(catalog::ResourceDef::listing);
                listing("resources", resources, params)?
            }
            m::RESOURCES_TEMPLATES_LIST => {
                listing("resourceTemplates", catalog::templates(), params)?
            }
            m::RESOURCES_READ => read_resource(ctx, params)?,
            m::PROMPTS_LIST => listing(
                "prompts",
                catalog::PROMPTS.iter().map(catalog::PromptDef::listing),
                params,
            )?,
            m::PROMPTS_GET => self.get_prompt(ctx, params, outbound).await?,
            m::COMPLETION_COMPLETE => complete(request)?,
            m::SERVER_DISCOVER if modern => to_json(DiscoverResult::new(
                capabilities(),
                server_info(),
                Some(INSTRUCTIONS.to_owned()),
                TTL_MS,
                CacheScope::Public,
            )),
            m::SUBSCRIPTIONS_LISTEN if modern => {
                return self.listen(&request.id, params, outbound).await;
            }
            m::PING if !modern => json!({}),
            m::LOGGING_SET_LEVEL if !modern => {
                let level = request.params_as::<SetLevelParams>()?.level;
                if let Some(legacy) = lock(&self.state.legacy).as_mut() {
                    legacy.log_level = Some(level);
                }
                json!({})
            }
            m::RESOURCES_SUBSCRIBE | m::RESOURCES_UNSUBSCRIBE if !modern => {
                self.subscribe(&request.method, params)?
            }
            // Everything else, including what 2026-07-28 removed (initialize, ping,
            // logging/setLevel, resources/subscribe and unsubscribe).
            other => {
                return Err(RpcError::new(
                    error_code::METHOD_NOT_FOUND,
                    format!("method not found: {}", echo(other)),
                ));
            }
        };
        Ok(Some(result))
    }

    async fn call_tool(
        &self,
        ctx: &Ctx,
        params: &Map<String, Value>,
        outbound: &mpsc::Sender<Value>,
    ) -> Result<Value, RpcError> {
        let name = string_param(params, "name")?;
        let tool = catalog::tool_named(name)
            .ok_or_else(|| RpcError::invalid_params(format!("unknown tool: {}", echo(name))))?;
        let arguments = match params.get("arguments") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(arguments)) => arguments.clone(),
            Some(_) => return Err(RpcError::invalid_params("arguments must be an object")),
        };
        Ok(match &tool.behaviour {
            Behaviour::Fixed(result) => result(&arguments),
            Behaviour::Logs(messages, done) => {
                for (i, message) in messages.iter().enumerate() {
                    if i > 0 {
                        tokio::time::sleep(STEP).await;
                    }
                    ctx.log(outbound, LoggingLevel::Info, message).await;
                }
                catalog::text_result(done)
            }
            Behaviour::Progress => {
                for (i, progress) in [0, 50, 100].into_iter().enumerate() {
                    if i > 0 {
                        tokio::time::sleep(STEP).await;
                    }
                    ctx.progress(outbound, progress, 100).await;
                }
                catalog::text_result("Tool with progress executed successfully")
            }
            Behaviour::Sleep(millis, text) => {
                tokio::time::sleep(Duration::from_millis(*millis)).await;
                catalog::text_result(text)
            }
            Behaviour::Publish(change) => {
                // No open listen stream is not an error.
                let _ = self.shared.changes.send(*change);
                catalog::text_result("The change was published to open subscriptions.")
            }
            Behaviour::Ask(interaction) => match interaction(&arguments, &ctx.caps) {
                Ok(interaction) => {
                    let subject = Subject {
                        method: m::TOOLS_CALL,
                        name: tool.name,
                        arguments: &arguments,
                    };
                    return self
                        .interact(ctx, &subject, &interaction, params, outbound)
                        .await;
                }
                Err(message) => json!({
                    "isError": true,
                    "content": [{"type": "text", "text": message}],
                }),
            },
        })
    }

    async fn get_prompt(
        &self,
        ctx: &Ctx,
        params: &Map<String, Value>,
        outbound: &mpsc::Sender<Value>,
    ) -> Result<Value, RpcError> {
        let name = string_param(params, "name")?;
        let prompt = catalog::prompt_named(name)
            .ok_or_else(|| RpcError::invalid_params(format!("unknown prompt: {}", echo(name))))?;
        let arguments = match params.get("arguments") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(arguments)) if arguments.values().all(Value::is_string) => {
                arguments.clone()
            }
            Some(_) => {
                return Err(RpcError::invalid_params(
                    "arguments must be an object of strings",
                ));
            }
        };
        match &prompt.render {
            Render::Fixed(render) => render(&arguments).map_err(RpcError::invalid_params),
            Render::Ask(interaction) => {
                let subject = Subject {
                    method: m::PROMPTS_GET,
                    name: prompt.name,
                    arguments: &arguments,
                };
                self.interact(ctx, &subject, &interaction(), params, outbound)
                    .await
            }
        }
    }

    /// Gets the answers `interaction` needs, then its result: in 2026-07-28 by one multi-round
    /// trip ([`input::resume`]), in a legacy session by asking the client over `outbound`. A
    /// legacy tool that cannot get its answers reports it as a failed call (`isError`).
    async fn interact(
        &self,
        ctx: &Ctx,
        subject: &Subject<'_>,
        interaction: &Interaction,
        params: &Map<String, Value>,
        outbound: &mpsc::Sender<Value>,
    ) -> Result<Value, RpcError> {
        if ctx.modern() {
            let key = &self.shared.state_key;
            let now = input::unix_now();
            return input::resume(key, subject, interaction, params, &ctx.caps, now);
        }
        let mut answers = Answers::new();
        for ask in interaction.rounds.iter().flatten() {
            match self.ask_client(ctx, ask, outbound).await {
                Ok(answer) => {
                    answers.insert(ask.key.to_owned(), answer);
                }
                Err(why) if subject.method == m::TOOLS_CALL => {
                    return Ok(
                        json!({"isError": true, "content": [{"type": "text", "text": why}]}),
                    );
                }
                Err(why) => return Err(RpcError::new(error_code::INTERNAL_ERROR, why)),
            }
        }
        Ok((interaction.finish)(&answers))
    }

    /// Sends `ask` to the legacy client and waits for its answer.
    async fn ask_client(
        &self,
        ctx: &Ctx,
        ask: &Ask,
        outbound: &mpsc::Sender<Value>,
    ) -> Result<Value, String> {
        let capability = ask.capability();
        if !input::declared(&ctx.caps, capability) {
            return Err(format!(
                "the client did not declare the {capability} capability, so it cannot be asked"
            ));
        }
        if ask.method == input::ELICIT && ctx.version < ProtocolVersion::V2025_06_18 {
            return Err("elicitation needs protocol revision 2025-06-18 or later".to_owned());
        }
        let number = self.state.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let id = format!("fixtures-{number}");
        let (answer_tx, answer_rx) = oneshot::channel();
        // Registered before the request leaves: the answer may come back at once.
        lock(&self.state.pending).insert(id.clone(), answer_tx);
        let request =
            json!({"jsonrpc": "2.0", "id": id, "method": ask.method, "params": ask.params});
        let answer = if outbound.send(request).await.is_err() {
            Err(
                "the client cannot be asked: it wants a plain JSON response, which cannot carry \
                 a request to it"
                    .to_owned(),
            )
        } else {
            match tokio::time::timeout(ANSWER_TIMEOUT, answer_rx).await {
                Ok(Ok(answer)) => answer,
                Ok(Err(_)) => Err(format!("no answer to {}", ask.method)),
                Err(_) => Err(format!(
                    "the client did not answer {} within {} s",
                    ask.method,
                    ANSWER_TIMEOUT.as_secs()
                )),
            }
        };
        lock(&self.state.pending).remove(&id);
        let answer = answer?;
        input::check_answer(ask.method, &answer)
            .map_err(|why| format!("the client's answer to {} is invalid: {why}", ask.method))?;
        Ok(answer)
    }

    /// The client's answer to a request this session sent; anything else is ignored.
    fn answered(&self, response: Response) {
        let Id::Str(id) = &response.id else {
            return;
        };
        let Some(waiter) = lock(&self.state.pending).remove(id.as_ref()) else {
            return;
        };
        let answer = match response.payload {
            ResponsePayload::Result(result) => Ok(result),
            ResponsePayload::Error(error) => Err(format!(
                "the client answered with an error: {}",
                echo(error.message())
            )),
        };
        // The waiter may have timed out meanwhile.
        let _ = waiter.send(answer);
    }

    fn legacy(&self) -> Option<Legacy> {
        lock(&self.state.legacy).clone()
    }

    /// `resources/subscribe` and `resources/unsubscribe` (legacy): tracked per session.
    fn subscribe(&self, method: &str, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let uri = string_param(params, "uri")?;
        if !catalog::resource_exists(uri) {
            return Err(not_found(error_code::RESOURCE_NOT_FOUND, uri));
        }
        let mut subscriptions = lock(&self.state.subscriptions);
        if method == m::RESOURCES_UNSUBSCRIBE {
            subscriptions.remove(uri);
        } else if subscriptions.len() < MAX_SUBSCRIPTIONS || subscriptions.contains(uri) {
            subscriptions.insert(uri.to_owned());
        } else {
            return Err(RpcError::invalid_params(format!(
                "at most {MAX_SUBSCRIPTIONS} subscriptions per session"
            )));
        }
        Ok(json!({}))
    }

    /// `subscriptions/listen` (2026-07-28): acknowledges the notification types it honours, then
    /// forwards the list changes the client asked for, tagged with the listen request's id, until
    /// the client goes away (`outbound` closes).
    async fn listen(
        &self,
        id: &RequestId,
        params: &Map<String, Value>,
        outbound: &mpsc::Sender<Value>,
    ) -> Result<Option<Value>, RpcError> {
        let Some(Value::Object(filter)) = params.get("notifications") else {
            return Err(RpcError::invalid_params(
                "subscriptions/listen needs notifications (an object)",
            ));
        };
        let wants = |key: &str| filter.get(key).and_then(Value::as_bool) == Some(true);
        let mut honoured = Map::new();
        for key in [
            "toolsListChanged",
            "promptsListChanged",
            "resourcesListChanged",
        ] {
            if wants(key) {
                honoured.insert(key.to_owned(), json!(true));
            }
        }
        if let Some(uris) = filter.get("resourceSubscriptions") {
            let Value::Array(uris) = uris else {
                return Err(RpcError::invalid_params(
                    "resourceSubscriptions must be an array of URIs",
                ));
            };
            let known: Vec<&Value> = uris
                .iter()
                .filter(|uri| uri.as_str().is_some_and(catalog::resource_exists))
                .take(MAX_SUBSCRIPTIONS)
                .collect();
            honoured.insert("resourceSubscriptions".to_owned(), json!(known));
        }
        let tag = json!({ SUBSCRIPTION_ID: id });
        // Subscribed before the acknowledgement: a change published once the client has seen it
        // is not missed.
        let mut changes = self.shared.changes.subscribe();
        let ack = json!({"notifications": honoured, "_meta": tag});
        if outbound
            .send(warden_mcp::notification(SUBSCRIPTIONS_ACKNOWLEDGED, ack))
            .await
            .is_err()
        {
            return Err(RpcError::new(
                error_code::INVALID_REQUEST,
                "subscriptions/listen needs a response stream (Accept: text/event-stream)",
            ));
        }
        loop {
            let change = tokio::select! {
                () = outbound.closed() => return Ok(None),
                change = changes.recv() => change,
            };
            let method = match change {
                Ok(Change::Tools) if wants("toolsListChanged") => {
                    m::NOTIFICATION_TOOLS_LIST_CHANGED
                }
                Ok(Change::Prompts) if wants("promptsListChanged") => {
                    m::NOTIFICATION_PROMPTS_LIST_CHANGED
                }
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
                // The fixtures are shutting down: the subscription ends gracefully.
                Err(RecvError::Closed) => return Ok(Some(json!({"_meta": tag}))),
            };
            let notice = warden_mcp::notification(method, json!({"_meta": tag}));
            if outbound.send(notice).await.is_err() {
                return Ok(None);
            }
        }
    }
}

/// One page holding the whole list, with the 2026-07-28 cache hint (removed for legacy
/// revisions by `result_response`).
fn listing(
    key: &str,
    items: impl IntoIterator<Item = Value>,
    params: &Map<String, Value>,
) -> Result<Value, RpcError> {
    if params.get("cursor").is_some_and(|cursor| !cursor.is_null()) {
        return Err(RpcError::invalid_params(
            "unknown cursor: every list fits in one page",
        ));
    }
    let items: Vec<Value> = items.into_iter().collect();
    Ok(json!({key: items, "ttlMs": TTL_MS, "cacheScope": "public"}))
}

fn read_resource(ctx: &Ctx, params: &Map<String, Value>) -> Result<Value, RpcError> {
    let uri = string_param(params, "uri")?;
    // SEP-2164 (2026-07-28) standardises -32602; earlier revisions' SDKs use -32002.
    let code = if ctx.modern() {
        error_code::INVALID_PARAMS
    } else {
        error_code::RESOURCE_NOT_FOUND
    };
    let contents = catalog::read(uri).ok_or_else(|| not_found(code, uri))?;
    Ok(json!({"contents": [contents], "ttlMs": TTL_MS, "cacheScope": "public"}))
}

fn not_found(code: i32, uri: &str) -> RpcError {
    RpcError::new(code, "Resource not found").with_data(json!({"uri": uri}))
}

fn complete(request: &Request) -> Result<Value, RpcError> {
    let params: CompleteParams = request.params_as()?;
    let reference = match &params.reference {
        CompletionReference::Prompt { name, .. } => Reference::Prompt(name),
        CompletionReference::ResourceTemplate { uri } => Reference::Template(uri),
        _ => return Err(RpcError::invalid_params("unknown ref type")),
    };
    let argument = &params.argument;
    let values = catalog::completions(&reference, &argument.name, &argument.value)
        .ok_or_else(|| RpcError::invalid_params("unknown prompt or resource template"))?;
    let total = values.len();
    Ok(json!({"completion": {"values": values, "total": total, "hasMore": false}}))
}

fn string_param<'a>(params: &'a Map<String, Value>, name: &str) -> Result<&'a str, RpcError> {
    params
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params(format!("{name} (a string) is required")))
}

/// What the fixtures offer: every list with change notifications, resource subscriptions, logs
/// and completions.
fn capabilities() -> ServerCapabilities {
    serde_json::from_value(json!({
        "tools": {"listChanged": true},
        "resources": {"subscribe": true, "listChanged": true},
        "prompts": {"listChanged": true},
        "logging": {},
        "completions": {},
    }))
    .expect("the fixed capabilities are ServerCapabilities")
}

fn server_info() -> Implementation {
    Implementation::new(SERVER_NAME, env!("CARGO_PKG_VERSION"))
}

/// A value the fixtures built, as JSON (plain data always serialises).
fn to_json(value: impl Serialize) -> Value {
    serde_json::to_value(value).expect("fixture data serialises to JSON")
}

/// At most [`MAX_ECHO`] characters of a client-chosen string, for an error message.
fn echo(text: &str) -> String {
    let mut echoed: String = text.chars().take(MAX_ECHO).collect();
    if echoed.len() < text.len() {
        echoed.push('…');
    }
    echoed
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
