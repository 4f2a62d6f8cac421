//! Test support: a gateway over the simulator with a policy written in TOML, one key per
//! profile, and the three demo users as Odoo identities (`admin`, `sales` = sales_agent,
//! `readonly` = readonly_bot); an MCP client that drives a session in either protocol era and
//! validates every message the gateway sends against the official schema of the revision.

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tokio::sync::mpsc;
use warden_gateway::catalog::{Catalog, CatalogSettings};
use warden_gateway::engine::{Caller, Gateway, KeyId, ServerInfo, Session};
use warden_gateway::runtime::Runtime;
use warden_odoo::{Credential, OdooClient, OdooConfig, Protocol, SecretString};
use warden_odoo_sim::SimHandle;
use warden_policy::{KeyStoreFile, Policy, PolicyConfig};

/// A policy allowing everything the Odoo user may do (read only unless `write_tools`).
pub const ALLOW_ALL: &str = r#"
[profiles.all]
identity = "admin"
models = { allow = ["*"] }
operations = { allow = ["read", "create", "write", "delete", "call"] }
methods = { allow = ["*"] }
fields = { write = { allow = ["*"] } }
"#;

/// The legacy revision the policy tests speak (`initialize` first).
pub const LEGACY: &str = "2025-11-25";
/// The stateless revision (`_meta` on every request).
pub const MODERN: &str = "2026-07-28";
/// One revision of each era.
pub const ERAS: [&str; 2] = [LEGACY, MODERN];

/// A gateway and the secret of each profile's key.
pub struct Harness {
    pub gateway: Gateway,
    pub secrets: BTreeMap<String, String>,
    pub keys: BTreeMap<String, KeyId>,
}

impl Harness {
    /// A stdio session of `profile`'s key.
    pub fn session_of(&self, profile: &str) -> Session {
        self.gateway
            .session(Caller::stdio(), self.keys[profile].clone())
    }

    /// A stdio session of the only (or first) profile's key.
    pub fn session(&self) -> Session {
        let first = self.keys.keys().next().expect("a profile").clone();
        self.session_of(&first)
    }
}

/// The catalogs of the three demo identities on `sim`, over JSON-RPC.
pub fn catalogs(sim: &SimHandle, settings: &CatalogSettings) -> BTreeMap<String, Catalog> {
    catalogs_over(sim, settings, Protocol::JsonRpc)
}

/// The catalogs of the three demo identities on `sim`, over `protocol`.
pub fn catalogs_over(
    sim: &SimHandle,
    settings: &CatalogSettings,
    protocol: Protocol,
) -> BTreeMap<String, Catalog> {
    [
        ("admin", "admin"),
        ("sales", "sales_agent"),
        ("readonly", "readonly_bot"),
    ]
    .into_iter()
    .map(|(name, login)| {
        let mut config = OdooConfig::new(
            sim.url().parse().expect("url"),
            sim.database(),
            login,
            Credential::ApiKey(SecretString::from(sim.api_key(login).expect("key"))),
        );
        config.protocol = protocol;
        config.timeout = Duration::from_secs(10);
        let client = OdooClient::new(config).expect("client");
        (name.to_owned(), Catalog::new(client, settings.clone()))
    })
    .collect()
}

/// A key store with one key per profile of a policy: the store, each profile's secret and
/// each profile's key id.
pub struct Keys {
    pub store: KeyStoreFile,
    pub secrets: BTreeMap<String, String>,
    pub ids: BTreeMap<String, String>,
}

impl Keys {
    /// One fresh key for every profile of `policy_toml`.
    pub fn for_policy(policy_toml: &str) -> Self {
        let config: PolicyConfig = toml::from_str(policy_toml).expect("policy toml");
        let mut store = KeyStoreFile::default();
        let mut secrets = BTreeMap::new();
        let mut ids = BTreeMap::new();
        for profile in config.profiles.keys() {
            let (record, secret) = warden_policy::keys::create(
                &mut store,
                &format!("key-{profile}"),
                profile,
                Some(Duration::from_secs(3600)),
                SystemTime::now(),
            )
            .expect("key");
            secrets.insert(profile.clone(), secret);
            ids.insert(profile.clone(), record.id);
        }
        Self {
            store,
            secrets,
            ids,
        }
    }

    /// The store record of `profile`'s key, to change its own rules.
    pub fn record_mut(&mut self, profile: &str) -> &mut warden_policy::KeyRecord {
        let id = self.ids[profile].clone();
        self.store
            .keys
            .iter_mut()
            .find(|k| k.id == id)
            .expect("the key is in the store")
    }
}

/// Compile `policy_toml` with the keys of `store` into a runtime over `catalogs`.
pub fn compile(
    policy_toml: &str,
    store: &KeyStoreFile,
    catalogs: &BTreeMap<String, Catalog>,
) -> Runtime {
    let config: PolicyConfig = toml::from_str(policy_toml).expect("policy toml");
    let policy =
        Policy::compile(&config, store, &["admin", "sales", "readonly"]).expect("policy compiles");
    Runtime::new(policy, catalogs).expect("runtime")
}

/// Compile `policy_toml` (the `[profiles.*]`, `[network]`, `[rate_limits]` sections) with one
/// key per profile.
pub fn runtime(
    sim: &SimHandle,
    policy_toml: &str,
    settings: &CatalogSettings,
) -> (Runtime, BTreeMap<String, String>) {
    let keys = Keys::for_policy(policy_toml);
    let runtime = compile(policy_toml, &keys.store, &catalogs(sim, settings));
    (runtime, keys.secrets)
}

/// A gateway over `runtime`, with the keys of `secrets` authenticated over stdio.
pub fn harness_of(runtime: Runtime, secrets: BTreeMap<String, String>) -> Harness {
    let gateway = Gateway::new(runtime, ServerInfo::default());
    let keys = secrets
        .iter()
        .map(|(profile, secret)| {
            (
                profile.clone(),
                gateway
                    .authenticate(secret, None)
                    .expect("the key authenticates"),
            )
        })
        .collect();
    Harness {
        gateway,
        secrets,
        keys,
    }
}

/// A gateway over `sim` under `policy_toml`.
pub fn harness(sim: &SimHandle, policy_toml: &str, settings: CatalogSettings) -> Harness {
    let (runtime, secrets) = runtime(sim, policy_toml, &settings);
    harness_of(runtime, secrets)
}

/// The official JSON Schema of one MCP revision (`testdata/mcp-schema/`), with its compiled
/// validators kept.
pub struct Schema {
    doc: Value,
    defs: &'static str,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

impl Schema {
    /// The schema of `version`, loaded once per test binary.
    pub fn of(version: &str) -> Arc<Schema> {
        static LOADED: OnceLock<Mutex<HashMap<String, Arc<Schema>>>> = OnceLock::new();
        let mut loaded = LOADED
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            loaded
                .entry(version.to_owned())
                .or_insert_with(|| Arc::new(Schema::load(version))),
        )
    }

    fn load(version: &str) -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/mcp-schema")
            .join(version)
            .join("schema.json");
        let doc: Value =
            serde_json::from_slice(&std::fs::read(path).expect("schema file")).expect("json");
        let defs = if doc.get("$defs").is_some() {
            "$defs"
        } else {
            "definitions"
        };
        Self {
            doc,
            defs,
            validators: Mutex::default(),
        }
    }

    pub fn has(&self, def: &str) -> bool {
        self.doc[self.defs].get(def).is_some()
    }

    pub fn reference(&self, def: &str) -> Value {
        assert!(self.has(def), "no definition {def}");
        json!({"$ref": format!("#/{}/{def}", self.defs)})
    }

    /// Validates `message` against the whole document constrained by `constraints`.
    pub fn check(&self, what: &str, message: &Value, constraints: Vec<Value>) {
        let constraints = Value::Array(constraints);
        let key = constraints.to_string();
        let validator = {
            let mut validators = self
                .validators
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            Arc::clone(validators.entry(key).or_insert_with(|| {
                let mut doc = self.doc.clone();
                doc["allOf"] = constraints;
                Arc::new(jsonschema::validator_for(&doc).expect("schema compiles"))
            }))
        };
        let errors: Vec<String> = validator
            .iter_errors(message)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{what} does not validate: {errors:#?}\n{message:#}"
        );
    }

    /// A result response whose result is a `result_def`, in the envelope of `response_def`
    /// (e.g. `CallToolResultResponse`) when the revision defines it.
    pub fn check_result(&self, what: &str, message: &Value, result_def: &str, response_def: &str) {
        let envelope = if self.has("JSONRPCResultResponse") {
            "JSONRPCResultResponse"
        } else {
            "JSONRPCResponse"
        };
        let mut constraints = vec![
            self.reference(envelope),
            json!({"properties": {"result": self.reference(result_def)}, "required": ["result"]}),
        ];
        if self.has(response_def) {
            constraints.push(self.reference(response_def));
        }
        self.check(what, message, constraints);
    }

    pub fn check_error(&self, what: &str, message: &Value) {
        let envelope = if self.has("JSONRPCErrorResponse") {
            "JSONRPCErrorResponse"
        } else {
            "JSONRPCError"
        };
        self.check(what, message, vec![self.reference(envelope)]);
    }

    /// A message the server sends on its own: a notification or a request (elicitation).
    pub fn check_outbound(&self, what: &str, message: &Value) {
        let method = message["method"].as_str().unwrap_or_default();
        let def = match method {
            "notifications/progress" => "ProgressNotification",
            "notifications/message" => "LoggingMessageNotification",
            "elicitation/create" => "ElicitRequest",
            other => panic!("{what}: unexpected message from the server: {other} {message}"),
        };
        let envelope = if message.get("id").is_some() {
            "JSONRPCRequest"
        } else {
            "JSONRPCNotification"
        };
        self.check(
            what,
            message,
            vec![self.reference(envelope), self.reference(def)],
        );
    }

    /// The response to a request of `method`: a result of the method's type, or an error.
    pub fn check_response(&self, what: &str, method: &str, response: &Value) {
        if response.get("error").is_some() {
            self.check_error(what, response);
            return;
        }
        let (result, envelope) = match method {
            "initialize" => ("InitializeResult", "InitializeResultResponse"),
            "ping" | "logging/setLevel" => ("EmptyResult", "EmptyResultResponse"),
            "server/discover" => ("DiscoverResult", "DiscoverResultResponse"),
            "tools/list" => ("ListToolsResult", "ListToolsResultResponse"),
            "tools/call" if response["result"]["resultType"] == json!("input_required") => {
                ("InputRequiredResult", "CallToolResultResponse")
            }
            "tools/call" => ("CallToolResult", "CallToolResultResponse"),
            "resources/list" => ("ListResourcesResult", "ListResourcesResultResponse"),
            "resources/templates/list" => (
                "ListResourceTemplatesResult",
                "ListResourceTemplatesResultResponse",
            ),
            "resources/read" => ("ReadResourceResult", "ReadResourceResultResponse"),
            "prompts/list" => ("ListPromptsResult", "ListPromptsResultResponse"),
            "prompts/get" => ("GetPromptResult", "GetPromptResultResponse"),
            "completion/complete" => ("CompleteResult", "CompleteResultResponse"),
            other => panic!("{what}: no schema definition for the result of {other}"),
        };
        self.check_result(what, response, result, envelope);
    }
}

/// An MCP client on one session, in one revision. Every response and every message the
/// server sends on the session is validated against the revision's schema.
pub struct Client {
    pub session: Session,
    pub version: &'static str,
    pub schema: Arc<Schema>,
    next_id: u64,
    /// `_meta` added to every request (2026-07-28), or none (legacy).
    meta: Option<Value>,
}

/// The longest a test waits for one exchange with the gateway before failing (a hang guard,
/// not a speed check).
const EXCHANGE_LIMIT: Duration = Duration::from_secs(30);

impl Client {
    /// A client of `session` speaking `version`, declaring the elicitation capability or not;
    /// a legacy client has completed the `initialize` handshake.
    pub async fn connect(session: Session, version: &'static str, elicitation: bool) -> Self {
        let capabilities = if elicitation {
            json!({"elicitation": {}})
        } else {
            json!({})
        };
        let modern = version == MODERN;
        let meta = modern.then(|| {
            json!({
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": capabilities,
                "io.modelcontextprotocol/clientInfo": {"name": "policy-test", "version": "1"},
            })
        });
        let mut client = Self {
            session,
            version,
            schema: Schema::of(version),
            next_id: 1,
            meta,
        };
        if !modern {
            let response = client
                .request(
                    "initialize",
                    json!({"protocolVersion": version, "capabilities": capabilities,
                           "clientInfo": {"name": "policy-test", "version": "1"}}),
                )
                .await;
            assert_eq!(
                response["result"]["protocolVersion"],
                json!(version),
                "{response}"
            );
            let (none, _) = client
                .raw(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
                .await;
            assert!(none.is_none(), "notifications are never answered");
        }
        client
    }

    /// A client of `profile`'s stdio session.
    pub async fn of(harness: &Harness, profile: &str, version: &'static str) -> Self {
        Self::connect(harness.session_of(profile), version, false).await
    }

    /// One message in; the response (if any) and what the server sent meanwhile, validated.
    pub async fn raw(&self, message: &Value) -> (Option<Value>, Vec<Value>) {
        let (tx, mut rx) = mpsc::channel(16);
        let bytes = serde_json::to_vec(message).expect("encode");
        let response = tokio::time::timeout(EXCHANGE_LIMIT, self.session.handle(&bytes, &tx))
            .await
            .expect("the gateway answers");
        drop(tx);
        let mut sent = Vec::new();
        while let Some(n) = rx.recv().await {
            self.schema
                .check_outbound(&format!("{} outbound", self.version), &n);
            sent.push(n);
        }
        (response, sent)
    }

    /// A request message of `method` with the next id (and the modern `_meta`).
    fn message(&mut self, method: &str, params: Value) -> (u64, Value) {
        let mut params = params;
        if let Some(meta) = &self.meta {
            let mut merged = meta.clone();
            if let Some(extra) = params.get("_meta").and_then(Value::as_object) {
                for (k, v) in extra {
                    merged[k] = v.clone();
                }
            }
            params["_meta"] = merged;
        }
        let id = self.next_id;
        self.next_id += 1;
        (
            id,
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        )
    }

    /// A request: its response, checked against the schema (result or error).
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let (id, message) = self.message(method, params);
        let (response, _) = self.raw(&message).await;
        let response = response.expect("a request is answered");
        assert_eq!(response["id"], json!(id), "{response}");
        self.schema
            .check_response(&format!("{} {method}", self.version), method, &response);
        response
    }

    /// The result of a request that must succeed at the protocol level.
    pub async fn result(&mut self, method: &str, params: Value) -> Value {
        let response = self.request(method, params).await;
        assert!(
            response.get("result").is_some(),
            "{} {method}: expected a result, got {response}",
            self.version
        );
        response["result"].clone()
    }

    /// The JSON-RPC error of a request that must fail at the protocol level.
    pub async fn error(&mut self, method: &str, params: Value) -> Value {
        let response = self.request(method, params).await;
        assert!(
            response.get("error").is_some(),
            "{} {method}: expected an error, got {response}",
            self.version
        );
        response["error"].clone()
    }

    /// `tools/call`: the tool result (`content`, `structuredContent`, `isError`).
    pub async fn call(&mut self, tool: &str, arguments: Value) -> Value {
        self.result("tools/call", json!({"name": tool, "arguments": arguments}))
            .await
    }

    /// The structured content of a tool call that must succeed.
    pub async fn ok(&mut self, tool: &str, arguments: Value) -> Value {
        let result = self.call(tool, arguments.clone()).await;
        assert_eq!(
            result["isError"],
            json!(false),
            "{} {tool} {arguments}: {result:#}",
            self.version
        );
        result["structuredContent"].clone()
    }

    /// The `error` object (`kind`, `message`, ...) of a tool call that must fail.
    pub async fn tool_error(&mut self, tool: &str, arguments: Value) -> Value {
        let result = self.call(tool, arguments.clone()).await;
        assert_eq!(
            result["isError"],
            json!(true),
            "{} {tool} {arguments}: {result:#}",
            self.version
        );
        result["_meta"]["io.github.odoo-warden/error"].clone()
    }

    /// A legacy tool call during which the server may ask the person (elicitation/create):
    /// `answer` is the client's result for that request (`None`: answer with a JSON-RPC
    /// error). Returns the call's response and the elicitation request, if one was sent.
    pub async fn call_answering(
        &mut self,
        tool: &str,
        arguments: Value,
        answer: Option<Value>,
    ) -> (Value, Option<Value>) {
        let (id, message) =
            self.message("tools/call", json!({"name": tool, "arguments": arguments}));
        let bytes = serde_json::to_vec(&message).expect("encode");
        let (tx, mut rx) = mpsc::channel(16);
        let session = self.session.clone();
        let mut call = tokio::spawn(async move { session.handle(&bytes, &tx).await });
        let mut elicitation = None;
        let exchange = async {
            // At most one elicitation and a few progress notifications come before the answer.
            for _ in 0..16 {
                tokio::select! {
                    done = &mut call => return done.expect("the call task"),
                    Some(sent) = rx.recv() => {
                        self.schema.check_outbound(&format!("{} outbound", self.version), &sent);
                        if sent["method"] == json!("elicitation/create") {
                            assert!(elicitation.is_none(), "one confirmation per call: {sent}");
                            let reply = match &answer {
                                Some(result) => json!({"jsonrpc": "2.0", "id": sent["id"], "result": result}),
                                None => json!({"jsonrpc": "2.0", "id": sent["id"],
                                               "error": {"code": -32603, "message": "the client cannot ask"}}),
                            };
                            let (none, _) = self.raw(&reply).await;
                            assert!(none.is_none(), "a response is not answered");
                            elicitation = Some(sent);
                        }
                    }
                }
            }
            panic!("the call did not end after 16 messages");
        };
        let response = tokio::time::timeout(EXCHANGE_LIMIT, exchange)
            .await
            .expect("the call ends")
            .expect("a request is answered");
        while let Ok(sent) = rx.try_recv() {
            self.schema
                .check_outbound(&format!("{} outbound", self.version), &sent);
        }
        assert_eq!(response["id"], json!(id), "{response}");
        self.schema.check_response(
            &format!("{} tools/call", self.version),
            "tools/call",
            &response,
        );
        (response, elicitation)
    }
}

/// Every object key anywhere in `value`.
pub fn keys_of(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                out.push(key.clone());
                keys_of(item, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                keys_of(item, out);
            }
        }
        _ => {}
    }
}

/// Every string anywhere in `value` (object keys excluded).
pub fn strings_of(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Object(map) => {
            for item in map.values() {
                strings_of(item, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                strings_of(item, out);
            }
        }
        _ => {}
    }
}

/// The arguments a tool takes as structured values (`domain`, `values`, `args`, `kwargs`).
pub const STRUCTURED_ARGUMENTS: [&str; 4] = ["domain", "values", "args", "kwargs"];

/// `arguments` with every structured argument written as text (JSON or Python literal) turned
/// into the native JSON an agent sends, or `None` when there is none to turn (or one does not
/// parse). Every check must decide the same on both forms.
pub fn native(arguments: &Value) -> Option<Value> {
    let mut out = arguments.clone();
    let mut changed = false;
    for name in STRUCTURED_ARGUMENTS {
        if let Some(Value::String(text)) = arguments.get(name) {
            if text.trim().is_empty() {
                continue;
            }
            let value = warden_gateway::catalog::parse_literal(text).ok()?;
            out[name] = value;
            changed = true;
        }
    }
    changed.then_some(out)
}
