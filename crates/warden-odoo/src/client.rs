//! The Odoo client: protocol resolution, authentication, sessions and model calls.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HeaderMap, HeaderValue, SET_COOKIE};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};
use tokio::sync::OnceCell;

use crate::config::{Credential, OdooConfig, Protocol};
use crate::error::OdooError;
use crate::types::{ReadGroup, SearchRead, ServerVersion};
use crate::wire;

const USER_AGENT: &str = concat!("odoo-warden/", env!("CARGO_PKG_VERSION"));

/// An async Odoo client. Cheap to clone (an `Arc` inside); all clones share one pool of
/// keep-alive connections, the resolved protocol, the uid and the web session.
#[derive(Clone)]
pub struct OdooClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: OdooConfig,
    base: String,
    http: reqwest::Client,
    protocol: OnceCell<Protocol>,
    uid: OnceCell<i64>,
    session: Mutex<Option<Session>>,
    session_auth: tokio::sync::Mutex<()>,
    next_id: AtomicU64,
}

#[derive(Clone)]
struct Session {
    generation: u64,
    uid: i64,
    cookie: SecretString,
}

impl fmt::Debug for OdooClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OdooClient")
            .field("url", &self.inner.base)
            .field("database", &self.inner.config.database)
            .field("login", &self.inner.config.login)
            .field("protocol", &self.inner.protocol.get())
            .finish_non_exhaustive()
    }
}

/// One HTTP answer, read completely (within the size limit).
struct RawResponse {
    status: u16,
    content_type: Option<String>,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl RawResponse {
    fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }
}

/// How a request authenticates at the HTTP level.
enum HttpAuth<'a> {
    None,
    Cookie(&'a SecretString),
    Bearer,
}

/// A model call in both shapes: positional (`execute_kw`, `call_kw`) and named (JSON-2).
struct ModelCall<'a> {
    model: &'a str,
    method: &'a str,
    args: Vec<Value>,
    kwargs: Map<String, Value>,
    named: Option<Map<String, Value>>,
}

impl OdooClient {
    /// Build a client: validates the configuration and the TLS setup; does no I/O.
    pub fn new(config: OdooConfig) -> Result<Self, OdooError> {
        let base = config.validate()?;
        let tls = crate::tls::client_config(&config.tls)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(std::time::Duration::from_secs(90))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| OdooError::config(format!("cannot build the http client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                base,
                http,
                protocol: OnceCell::new(),
                uid: OnceCell::new(),
                session: Mutex::new(None),
                session_auth: tokio::sync::Mutex::new(()),
                next_id: AtomicU64::new(1),
            }),
        })
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &OdooConfig {
        &self.inner.config
    }

    /// The server version (`/web/webclient/version_info`, falling back to `common.version`;
    /// with a forced XML-RPC or JSON-RPC protocol, that protocol's `common.version`).
    pub async fn version(&self) -> Result<ServerVersion, OdooError> {
        self.timed("version", async {
            let value = match self.inner.config.protocol {
                Protocol::XmlRpc => self.xmlrpc_common("version", Vec::new()).await?,
                Protocol::JsonRpc => self.jsonrpc_common("version", Vec::new()).await?,
                _ => self.detect_version_value().await?,
            };
            ServerVersion::from_value(&value)
        })
        .await
    }

    /// The server's clock, from the `Date` header of its answer to
    /// `/web/webclient/version_info` (`None` when it sends none or an unreadable one): what
    /// `odoo-warden doctor` compares with this host's clock.
    pub async fn server_date(&self) -> Result<Option<std::time::SystemTime>, OdooError> {
        let raw = self
            .post_json_rpc("/web/webclient/version_info", json!({}), HttpAuth::None)
            .await?;
        Ok(raw
            .headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok()))
    }

    /// The databases the server lists (`/web/database/list`; fails when listing is disabled).
    pub async fn list_databases(&self) -> Result<Vec<String>, OdooError> {
        self.timed("list_databases", async {
            let value = self
                .json_route("/web/database/list", json!({}), HttpAuth::None)
                .await?;
            let items = value
                .as_array()
                .ok_or_else(|| OdooError::unparseable("database list is not a list"))?;
            items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| OdooError::unparseable("database name is not a string"))
                })
                .collect()
        })
        .await
    }

    /// The protocol in use; runs [`Protocol::Auto`] detection once and caches it.
    pub async fn protocol(&self) -> Result<Protocol, OdooError> {
        self.timed("protocol", self.resolve_protocol()).await
    }

    /// Authenticate and return the uid. Odoo answering `false` is [`OdooError::AccessDenied`].
    pub async fn authenticate(&self) -> Result<i64, OdooError> {
        self.timed("authenticate", async {
            match self.resolve_protocol().await? {
                Protocol::Session => Ok(self.current_session(None).await?.uid),
                Protocol::Json2 => {
                    let uid = self.json2_uid().await?;
                    let _ = self.inner.uid.set(uid);
                    Ok(uid)
                }
                protocol => {
                    let uid = self.rpc_authenticate(protocol).await?;
                    let _ = self.inner.uid.set(uid);
                    Ok(uid)
                }
            }
        })
        .await
    }

    /// End the web session, if any (`/web/session/destroy`). Other protocols have nothing to end.
    pub async fn logout(&self) -> Result<(), OdooError> {
        self.timed("logout", async {
            let session = self
                .inner
                .session
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(session) = session {
                self.json_route(
                    "/web/session/destroy",
                    json!({}),
                    HttpAuth::Cookie(&session.cookie),
                )
                .await?;
            }
            Ok(())
        })
        .await
    }

    /// Call `model.method(*args, **kwargs)`. Over JSON-2 the positional arguments of the
    /// well-known methods are mapped to their parameter names; for other methods the first
    /// positional argument is `ids` and the rest travel as `args`.
    pub async fn execute_kw(
        &self,
        model: &str,
        method: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> Result<Value, OdooError> {
        self.call(ModelCall {
            model,
            method,
            args,
            kwargs,
            named: None,
        })
        .await
    }

    /// `search_read`: records matching the query.
    pub async fn search_read(
        &self,
        model: &str,
        q: &SearchRead,
    ) -> Result<Vec<Map<String, Value>>, OdooError> {
        let domain = domain_value(&q.domain)?;
        let mut options = Map::new();
        if !q.fields.is_empty() {
            options.insert("fields".into(), json!(q.fields));
        }
        if q.offset > 0 {
            options.insert("offset".into(), json!(q.offset));
        }
        if let Some(limit) = q.limit {
            options.insert("limit".into(), json!(limit));
        }
        if let Some(order) = &q.order {
            options.insert("order".into(), json!(order));
        }
        let mut named = Map::new();
        named.insert("domain".into(), domain.clone());
        named.extend(options.clone());
        let value = self
            .call(ModelCall {
                model,
                method: "search_read",
                args: vec![domain],
                kwargs: options,
                named: Some(named),
            })
            .await?;
        records(value)
    }

    /// `read`: the given records' fields (all readable fields when `fields` is empty).
    pub async fn read(
        &self,
        model: &str,
        ids: &[i64],
        fields: &[String],
    ) -> Result<Vec<Map<String, Value>>, OdooError> {
        let mut kwargs = Map::new();
        if !fields.is_empty() {
            kwargs.insert("fields".into(), json!(fields));
        }
        let mut named = Map::new();
        named.insert("ids".into(), json!(ids));
        named.extend(kwargs.clone());
        let value = self
            .call(ModelCall {
                model,
                method: "read",
                args: vec![json!(ids)],
                kwargs,
                named: Some(named),
            })
            .await?;
        records(value)
    }

    /// `search_count`: the number of records matching `domain`.
    pub async fn search_count(&self, model: &str, domain: &Value) -> Result<u64, OdooError> {
        let domain = domain_value(domain)?;
        let mut named = Map::new();
        named.insert("domain".into(), domain.clone());
        let value = self
            .call(ModelCall {
                model,
                method: "search_count",
                args: vec![domain],
                kwargs: Map::new(),
                named: Some(named),
            })
            .await?;
        value
            .as_u64()
            .ok_or_else(|| OdooError::unparseable("search_count did not return a count"))
    }

    /// `fields_get` for all fields, limited to the given attributes (all when empty).
    pub async fn fields_get(
        &self,
        model: &str,
        attributes: &[String],
    ) -> Result<Map<String, Value>, OdooError> {
        self.fields_get_for(model, &[], attributes).await
    }

    /// `fields_get` for the named fields only (all when `fields` is empty).
    pub async fn fields_get_for(
        &self,
        model: &str,
        fields: &[String],
        attributes: &[String],
    ) -> Result<Map<String, Value>, OdooError> {
        let mut args = Vec::new();
        let mut named = Map::new();
        if !fields.is_empty() {
            args.push(json!(fields));
            named.insert("allfields".into(), json!(fields));
        }
        let mut kwargs = Map::new();
        if !attributes.is_empty() {
            kwargs.insert("attributes".into(), json!(attributes));
            named.insert("attributes".into(), json!(attributes));
        }
        let value = self
            .call(ModelCall {
                model,
                method: "fields_get",
                args,
                kwargs,
                named: Some(named),
            })
            .await?;
        match value {
            Value::Object(map) => Ok(map),
            _ => Err(OdooError::unparseable(
                "fields_get did not return an object",
            )),
        }
    }

    /// `create`: the ids of the new records, in order. Odoo may answer a single id or a list.
    pub async fn create(
        &self,
        model: &str,
        vals_list: Vec<Map<String, Value>>,
    ) -> Result<Vec<i64>, OdooError> {
        if vals_list.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<Value> = vals_list.into_iter().map(Value::Object).collect();
        let positional = if list.len() == 1 {
            list[0].clone()
        } else {
            Value::Array(list.clone())
        };
        let mut named = Map::new();
        named.insert("vals_list".into(), Value::Array(list));
        let value = self
            .call(ModelCall {
                model,
                method: "create",
                args: vec![positional],
                kwargs: Map::new(),
                named: Some(named),
            })
            .await?;
        match value {
            Value::Number(n) => n
                .as_i64()
                .map(|id| vec![id])
                .ok_or_else(|| OdooError::unparseable("create returned an invalid id")),
            Value::Array(items) => items
                .iter()
                .map(|v| {
                    v.as_i64()
                        .ok_or_else(|| OdooError::unparseable("create returned an invalid id"))
                })
                .collect(),
            _ => Err(OdooError::unparseable("create did not return ids")),
        }
    }

    /// `write`: set `vals` on the records.
    pub async fn write(
        &self,
        model: &str,
        ids: &[i64],
        vals: Map<String, Value>,
    ) -> Result<bool, OdooError> {
        let mut named = Map::new();
        named.insert("ids".into(), json!(ids));
        named.insert("vals".into(), Value::Object(vals.clone()));
        let value = self
            .call(ModelCall {
                model,
                method: "write",
                args: vec![json!(ids), Value::Object(vals)],
                kwargs: Map::new(),
                named: Some(named),
            })
            .await?;
        boolean(value, "write")
    }

    /// `unlink`: delete the records.
    pub async fn unlink(&self, model: &str, ids: &[i64]) -> Result<bool, OdooError> {
        let mut named = Map::new();
        named.insert("ids".into(), json!(ids));
        let value = self
            .call(ModelCall {
                model,
                method: "unlink",
                args: vec![json!(ids)],
                kwargs: Map::new(),
                named: Some(named),
            })
            .await?;
        boolean(value, "unlink")
    }

    /// `name_search`: `(id, display name)` pairs matching `name`.
    pub async fn name_search(
        &self,
        model: &str,
        name: &str,
        domain: &Value,
        limit: u64,
    ) -> Result<Vec<(i64, String)>, OdooError> {
        let domain = domain_value(domain)?;
        // Positional over XML-RPC and JSON-RPC: the second parameter is `args` in Odoo 18 and
        // `domain` in Odoo 19, and a keyword would fail on one of them. JSON-2 (Odoo 19+) names
        // every parameter.
        let mut named = Map::new();
        named.insert("name".into(), json!(name));
        named.insert("domain".into(), domain.clone());
        named.insert("operator".into(), json!("ilike"));
        named.insert("limit".into(), json!(limit));
        let (args, kwargs) = if domain.as_array().is_some_and(Vec::is_empty) {
            let mut kwargs = Map::new();
            kwargs.insert("name".into(), json!(name));
            kwargs.insert("limit".into(), json!(limit));
            (Vec::new(), kwargs)
        } else {
            (
                vec![json!(name), domain, json!("ilike"), json!(limit)],
                Map::new(),
            )
        };
        let value = self
            .call(ModelCall {
                model,
                method: "name_search",
                args,
                kwargs,
                named: Some(named),
            })
            .await?;
        let items = value
            .as_array()
            .ok_or_else(|| OdooError::unparseable("name_search did not return a list"))?;
        items
            .iter()
            .map(|pair| match pair.as_array().map(Vec::as_slice) {
                Some([Value::Number(id), Value::String(name)]) => id
                    .as_i64()
                    .map(|id| (id, name.clone()))
                    .ok_or_else(|| OdooError::unparseable("name_search returned an invalid id")),
                _ => Err(OdooError::unparseable(
                    "name_search returned an item that is not [id, name]",
                )),
            })
            .collect()
    }

    /// `read_group`: aggregated groups.
    pub async fn read_group(
        &self,
        model: &str,
        q: &ReadGroup,
    ) -> Result<Vec<Map<String, Value>>, OdooError> {
        let domain = domain_value(&q.domain)?;
        let mut kwargs = Map::new();
        if q.offset > 0 {
            kwargs.insert("offset".into(), json!(q.offset));
        }
        if let Some(limit) = q.limit {
            kwargs.insert("limit".into(), json!(limit));
        }
        if let Some(orderby) = &q.orderby {
            kwargs.insert("orderby".into(), json!(orderby));
        }
        if !q.lazy {
            kwargs.insert("lazy".into(), json!(false));
        }
        let mut named = Map::new();
        named.insert("domain".into(), domain.clone());
        named.insert("fields".into(), json!(q.fields));
        named.insert("groupby".into(), json!(q.groupby));
        named.extend(kwargs.clone());
        let value = self
            .call(ModelCall {
                model,
                method: "read_group",
                args: vec![domain, json!(q.fields), json!(q.groupby)],
                kwargs,
                named: Some(named),
            })
            .await?;
        records(value)
    }

    /// Call a public method on records: `model.browse(ids).method(*args, **kwargs)`, or, with no
    /// ids, a model-level method (`@api.model`): `model.method(*args, **kwargs)`.
    /// Private methods (a leading `_`) are refused without calling Odoo.
    pub async fn call_method(
        &self,
        model: &str,
        method: &str,
        ids: &[i64],
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> Result<Value, OdooError> {
        if method.starts_with('_') {
            return Err(OdooError::invalid_argument(format!(
                "private method {method} cannot be called"
            )));
        }
        // JSON-2 sends ids, positional args and keyword arguments in one object: a keyword
        // argument must never replace the ids or the arguments the caller checked.
        if let Some(key) = kwargs.keys().find(|k| matches!(k.as_str(), "ids" | "args")) {
            return Err(OdooError::invalid_argument(format!(
                "the keyword argument {key:?} is reserved"
            )));
        }
        // No ids: a model-level method (`@api.model`), called without a recordset.
        let mut named = Map::new();
        if !ids.is_empty() {
            named.insert("ids".into(), json!(ids));
        }
        if !args.is_empty() {
            named.insert("args".into(), Value::Array(args.clone()));
        }
        for (key, value) in &kwargs {
            named.insert(key.clone(), value.clone());
        }
        let mut positional = Vec::with_capacity(args.len() + 1);
        if !ids.is_empty() {
            positional.push(json!(ids));
        }
        positional.extend(args);
        self.call(ModelCall {
            model,
            method,
            args: positional,
            kwargs,
            named: Some(named),
        })
        .await
    }

    // -----------------------------------------------------------------------------------------
    // dispatch
    // -----------------------------------------------------------------------------------------

    async fn timed<T>(
        &self,
        operation: &str,
        fut: impl Future<Output = Result<T, OdooError>>,
    ) -> Result<T, OdooError> {
        let timeout = self.inner.config.timeout;
        let started = Instant::now();
        let outcome = match crate::timing::track(tokio::time::timeout(timeout, fut)).await {
            Ok(result) => result,
            Err(_) => Err(OdooError::Timeout { after: timeout }),
        };
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        match &outcome {
            Ok(_) => tracing::debug!(operation, elapsed_ms, "odoo call done"),
            Err(error) => tracing::debug!(
                operation,
                elapsed_ms,
                kind = ?error.kind(),
                error = %error,
                "odoo call failed"
            ),
        }
        outcome
    }

    async fn call(&self, call: ModelCall<'_>) -> Result<Value, OdooError> {
        check_name(call.model, true)?;
        check_name(call.method, false)?;
        let model = call.model;
        let method = call.method;
        let span_label = format!("{model}.{method}");
        self.timed(&span_label, async move {
            let protocol = self.resolve_protocol().await?;
            tracing::trace!(%protocol, model, method, "calling odoo");
            match protocol {
                Protocol::Json2 => {
                    let mut named = match call.named {
                        Some(named) => named,
                        None => positional_to_named(call.method, call.args, call.kwargs)?,
                    };
                    merge_context(&self.inner.config.context, &mut named);
                    self.json2(call.model, call.method, named).await
                }
                Protocol::Session => {
                    let mut kwargs = call.kwargs;
                    merge_context(&self.inner.config.context, &mut kwargs);
                    self.session_call_kw(call.model, call.method, call.args, kwargs)
                        .await
                }
                Protocol::XmlRpc | Protocol::JsonRpc => {
                    let mut kwargs = call.kwargs;
                    merge_context(&self.inner.config.context, &mut kwargs);
                    let uid = self.rpc_uid(protocol).await?;
                    let mut params = vec![
                        json!(self.inner.config.database),
                        json!(uid),
                        self.secret_value(),
                        json!(call.model),
                        json!(call.method),
                        Value::Array(call.args),
                    ];
                    if !kwargs.is_empty() {
                        params.push(Value::Object(kwargs));
                    }
                    if protocol == Protocol::XmlRpc {
                        self.xmlrpc("/xmlrpc/2/object", "execute_kw", &params).await
                    } else {
                        self.jsonrpc_service("object", "execute_kw", params).await
                    }
                }
                Protocol::Auto => Err(OdooError::config("protocol not resolved")),
            }
        })
        .await
    }

    fn secret_value(&self) -> Value {
        Value::String(
            self.inner
                .config
                .credential
                .secret()
                .expose_secret()
                .to_owned(),
        )
    }

    async fn resolve_protocol(&self) -> Result<Protocol, OdooError> {
        let configured = self.inner.config.protocol;
        if configured != Protocol::Auto {
            return Ok(configured);
        }
        self.inner
            .protocol
            .get_or_try_init(|| async {
                let version = ServerVersion::from_value(&self.detect_version_value().await?)?;
                let api_key = self.inner.config.credential.is_api_key();
                let protocol = if version.major >= 19 && api_key {
                    Protocol::Json2
                } else if version.major <= 18 && !api_key {
                    Protocol::Session
                } else {
                    Protocol::JsonRpc
                };
                tracing::debug!(major = version.major, %protocol, "odoo protocol detected");
                Ok(protocol)
            })
            .await
            .copied()
    }

    /// `/web/webclient/version_info`, then `common.version` over JSON-RPC, then XML-RPC.
    async fn detect_version_value(&self) -> Result<Value, OdooError> {
        let first = self
            .json_route("/web/webclient/version_info", json!({}), HttpAuth::None)
            .await;
        let error = match first {
            Ok(value) => return Ok(value),
            Err(error) if is_transport(&error) => return Err(error),
            Err(error) => error,
        };
        tracing::debug!(error = %error, "version_info failed, trying common.version");
        match self.jsonrpc_common("version", Vec::new()).await {
            Ok(value) => Ok(value),
            Err(error) if is_transport(&error) => Err(error),
            Err(_) => self.xmlrpc_common("version", Vec::new()).await,
        }
    }

    async fn rpc_uid(&self, protocol: Protocol) -> Result<i64, OdooError> {
        self.inner
            .uid
            .get_or_try_init(|| async {
                match self.inner.config.uid {
                    Some(uid) => Ok(uid),
                    None => self.rpc_authenticate(protocol).await,
                }
            })
            .await
            .copied()
    }

    async fn rpc_authenticate(&self, protocol: Protocol) -> Result<i64, OdooError> {
        let params = vec![
            json!(self.inner.config.database),
            json!(self.inner.config.login),
            self.secret_value(),
            json!({}),
        ];
        let value = if protocol == Protocol::XmlRpc {
            self.xmlrpc_common("authenticate", params).await?
        } else {
            self.jsonrpc_common("authenticate", params).await?
        };
        uid_from(&value)
    }

    /// JSON-2 has no authenticate endpoint: ask `res.users.context_get` for the uid, or
    /// search the user by login.
    async fn json2_uid(&self) -> Result<i64, OdooError> {
        if let Some(uid) = self.inner.config.uid {
            return Ok(uid);
        }
        let mut named = Map::new();
        merge_context(&self.inner.config.context, &mut named);
        match self.json2("res.users", "context_get", named).await {
            Ok(context) => {
                if let Some(uid) = context.get("uid").and_then(Value::as_i64) {
                    return Ok(uid);
                }
            }
            Err(error)
                if is_transport(&error) || error.kind() == crate::ErrorKind::AccessDenied =>
            {
                return Err(error);
            }
            Err(_) => {}
        }
        let mut named = Map::new();
        named.insert(
            "domain".into(),
            json!([["login", "=", self.inner.config.login]]),
        );
        named.insert("limit".into(), json!(1));
        let ids = self.json2("res.users", "search", named).await?;
        ids.as_array()
            .and_then(|ids| ids.first())
            .and_then(Value::as_i64)
            .ok_or_else(|| OdooError::AccessDenied {
                message: "Access Denied".to_owned(),
            })
    }

    // -----------------------------------------------------------------------------------------
    // web session
    // -----------------------------------------------------------------------------------------

    /// The current session; authenticates when there is none, or when the session of
    /// generation `expired` is still the current one. Concurrent callers share one login.
    async fn current_session(&self, expired: Option<u64>) -> Result<Session, OdooError> {
        if let Some(session) = self.usable_session(expired) {
            return Ok(session);
        }
        let _guard = self.inner.session_auth.lock().await;
        if let Some(session) = self.usable_session(expired) {
            return Ok(session);
        }
        let (uid, cookie) = self.session_authenticate().await?;
        let mut slot = self
            .inner
            .session
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let generation = slot.as_ref().map_or(0, |s| s.generation) + 1;
        let session = Session {
            generation,
            uid,
            cookie,
        };
        *slot = Some(session.clone());
        let _ = self.inner.uid.set(uid);
        Ok(session)
    }

    fn usable_session(&self, expired: Option<u64>) -> Option<Session> {
        let slot = self
            .inner
            .session
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match slot.as_ref() {
            Some(session) if Some(session.generation) != expired => Some(session.clone()),
            _ => None,
        }
    }

    async fn session_authenticate(&self) -> Result<(i64, SecretString), OdooError> {
        let Credential::Password(password) = &self.inner.config.credential else {
            return Err(OdooError::config(
                "web sessions need a password, not an api key",
            ));
        };
        tracing::debug!("opening an odoo web session");
        let params = json!({
            "db": self.inner.config.database,
            "login": self.inner.config.login,
            "password": password.expose_secret(),
        });
        let raw = self
            .post_json_rpc("/web/session/authenticate", params, HttpAuth::None)
            .await?;
        let value = wire::decode_jsonrpc_http(raw.status, raw.content_type(), &raw.body)?;
        let uid = match value.get("uid") {
            Some(uid) => uid_from(uid)?,
            None => {
                return Err(OdooError::AccessDenied {
                    message: "Access Denied".to_owned(),
                });
            }
        };
        let cookie = session_cookie(&raw.headers)
            .ok_or_else(|| OdooError::unparseable("odoo did not set a session cookie"))?;
        Ok((uid, cookie))
    }

    async fn session_call_kw(
        &self,
        model: &str,
        method: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> Result<Value, OdooError> {
        let params = json!({
            "model": model,
            "method": method,
            "args": args,
            "kwargs": kwargs,
        });
        let session = self.current_session(None).await?;
        let outcome = match self
            .json_route(
                "/web/dataset/call_kw",
                params.clone(),
                HttpAuth::Cookie(&session.cookie),
            )
            .await
        {
            Err(OdooError::SessionExpired { .. }) => {
                tracing::debug!("odoo session expired, authenticating again");
                let session = self.current_session(Some(session.generation)).await?;
                self.json_route(
                    "/web/dataset/call_kw",
                    params,
                    HttpAuth::Cookie(&session.cookie),
                )
                .await
            }
            other => other,
        };
        // `call_kw` answers NotFound only when the model is not in the registry (an unknown
        // method is an AttributeError): an unknown model, as over the other protocols.
        match outcome {
            Err(OdooError::UnknownMethod { message })
                if !message.contains("does not exist on the model") =>
            {
                Err(OdooError::UnknownModel {
                    message: format!("Object {model} doesn't exist"),
                })
            }
            other => other,
        }
    }

    // -----------------------------------------------------------------------------------------
    // protocols
    // -----------------------------------------------------------------------------------------

    async fn xmlrpc_common(&self, method: &str, params: Vec<Value>) -> Result<Value, OdooError> {
        self.xmlrpc("/xmlrpc/2/common", method, &params).await
    }

    async fn xmlrpc(&self, path: &str, method: &str, params: &[Value]) -> Result<Value, OdooError> {
        let body = wire::encode_xmlrpc_call(method, params)?;
        let raw = self.post(path, "text/xml", body, HttpAuth::None).await?;
        wire::decode_xmlrpc_http(raw.status, raw.content_type(), &raw.body)
    }

    async fn jsonrpc_common(&self, method: &str, args: Vec<Value>) -> Result<Value, OdooError> {
        self.jsonrpc_service("common", method, args).await
    }

    async fn jsonrpc_service(
        &self,
        service: &str,
        method: &str,
        args: Vec<Value>,
    ) -> Result<Value, OdooError> {
        let params = json!({"service": service, "method": method, "args": args});
        self.json_route("/jsonrpc", params, HttpAuth::None).await
    }

    /// A `type=json` route: JSON-RPC envelope in, `result`/`error` out.
    async fn json_route(
        &self,
        path: &str,
        params: Value,
        auth: HttpAuth<'_>,
    ) -> Result<Value, OdooError> {
        let raw = self.post_json_rpc(path, params, auth).await?;
        wire::decode_jsonrpc_http(raw.status, raw.content_type(), &raw.body)
    }

    async fn post_json_rpc(
        &self,
        path: &str,
        params: Value,
        auth: HttpAuth<'_>,
    ) -> Result<RawResponse, OdooError> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let envelope = json!({"jsonrpc": "2.0", "method": "call", "params": params, "id": id});
        let body = serde_json::to_vec(&envelope)
            .map_err(|e| OdooError::invalid_argument(format!("cannot encode the call: {e}")))?;
        self.post(path, "application/json", body, auth).await
    }

    async fn json2(
        &self,
        model: &str,
        method: &str,
        named: Map<String, Value>,
    ) -> Result<Value, OdooError> {
        let path = format!("/json/2/{model}/{method}");
        let body = serde_json::to_vec(&named)
            .map_err(|e| OdooError::invalid_argument(format!("cannot encode the call: {e}")))?;
        let raw = self
            .post(&path, "application/json", body, HttpAuth::Bearer)
            .await?;
        wire::decode_json2_http(raw.status, raw.content_type(), &raw.body)
    }

    /// POST `body` to `path` on the configured origin and read the answer within the limits.
    async fn post(
        &self,
        path: &str,
        content_type: &'static str,
        body: Vec<u8>,
        auth: HttpAuth<'_>,
    ) -> Result<RawResponse, OdooError> {
        let url = format!("{}{}", self.inner.base, path);
        let mut request = self
            .inner
            .http
            .post(&url)
            .header(CONTENT_TYPE, content_type)
            .body(body);
        match auth {
            HttpAuth::None => {}
            HttpAuth::Cookie(cookie) => {
                let mut value =
                    HeaderValue::from_str(&format!("session_id={}", cookie.expose_secret()))
                        .map_err(|_| OdooError::unparseable("invalid session cookie"))?;
                value.set_sensitive(true);
                request = request.header(COOKIE, value);
            }
            HttpAuth::Bearer => {
                let secret = self.inner.config.credential.secret();
                let mut value =
                    HeaderValue::from_str(&format!("bearer {}", secret.expose_secret())).map_err(
                        |_| OdooError::config("the api key contains invalid characters"),
                    )?;
                value.set_sensitive(true);
                let database = HeaderValue::from_str(&self.inner.config.database)
                    .map_err(|_| OdooError::config("invalid database name"))?;
                request = request
                    .header(AUTHORIZATION, value)
                    .header("X-Odoo-Database", database);
            }
        }
        let started = Instant::now();
        let mut response = request.send().await.map_err(|e| self.transport_error(&e))?;
        let status = response.status().as_u16();
        let limit = self.inner.config.max_response_bytes;
        if response
            .content_length()
            .is_some_and(|len| len > limit as u64)
        {
            return Err(OdooError::ResponseTooLarge { limit });
        }
        let capacity = response
            .content_length()
            .map_or(8 * 1024, |len| usize::try_from(len).unwrap_or(limit));
        let mut body = Vec::with_capacity(capacity.min(limit));
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(&e))?
        {
            if body.len() + chunk.len() > limit {
                return Err(OdooError::ResponseTooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        let headers = std::mem::take(response.headers_mut());
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        tracing::trace!(
            path,
            status,
            bytes = body.len(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "odoo http exchange"
        );
        Ok(RawResponse {
            status,
            content_type,
            headers,
            body,
        })
    }

    fn transport_error(&self, error: &reqwest::Error) -> OdooError {
        let cause = root_cause(error);
        if error.is_timeout() {
            return OdooError::Timeout {
                after: self.inner.config.timeout,
            };
        }
        if is_tls_error(error) {
            return OdooError::Tls { message: cause };
        }
        if error.is_connect() {
            return OdooError::Connect { message: cause };
        }
        OdooError::ConnectionLost { message: cause }
    }
}

fn is_transport(error: &OdooError) -> bool {
    matches!(
        error.kind(),
        crate::ErrorKind::Timeout
            | crate::ErrorKind::Connect
            | crate::ErrorKind::ConnectionLost
            | crate::ErrorKind::Tls
            | crate::ErrorKind::ResponseTooLarge
    )
}

/// The innermost error's message.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current: &(dyn std::error::Error + 'static) = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// Whether a rustls error sits anywhere in the chain (also inside `io::Error`s).
fn is_tls_error(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if e.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && (inner.downcast_ref::<rustls::Error>().is_some() || is_tls_error(inner))
        {
            return true;
        }
        current = e.source();
    }
    false
}

fn session_cookie(headers: &HeaderMap) -> Option<SecretString> {
    for value in headers.get_all(SET_COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        let mut rest = text;
        while let Some(at) = rest.find("session_id=") {
            let after = &rest[at + "session_id=".len()..];
            let end = after.find([';', ',']).unwrap_or(after.len());
            let cookie = after[..end].trim();
            let valid = !cookie.is_empty()
                && cookie
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
            if valid {
                return Some(SecretString::from(cookie.to_owned()));
            }
            rest = &after[end..];
        }
    }
    None
}

fn uid_from(value: &Value) -> Result<i64, OdooError> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .filter(|uid| *uid > 0)
            .ok_or_else(|| OdooError::unparseable("invalid uid")),
        Value::Bool(false) | Value::Null => Err(OdooError::AccessDenied {
            message: "Access Denied".to_owned(),
        }),
        _ => Err(OdooError::unparseable("authenticate did not return a uid")),
    }
}

fn records(value: Value) -> Result<Vec<Map<String, Value>>, OdooError> {
    match value {
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(map) => Ok(map),
                _ => Err(OdooError::unparseable("a record is not an object")),
            })
            .collect(),
        _ => Err(OdooError::unparseable("expected a list of records")),
    }
}

fn boolean(value: Value, method: &str) -> Result<bool, OdooError> {
    match value {
        Value::Bool(b) => Ok(b),
        Value::Null => Ok(true),
        _ => Err(OdooError::unparseable(format!(
            "{method} did not return a boolean"
        ))),
    }
}

fn domain_value(domain: &Value) -> Result<Value, OdooError> {
    match domain {
        Value::Null => Ok(json!([])),
        Value::Array(_) => Ok(domain.clone()),
        _ => Err(OdooError::invalid_argument("a domain must be a list")),
    }
}

/// Model names: letters, digits, `.` and `_`; method names: letters, digits and `_`.
fn check_name(name: &str, model: bool) -> Result<(), OdooError> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || (model && b == b'.'));
    if valid {
        Ok(())
    } else {
        let what = if model { "model" } else { "method" };
        Err(OdooError::invalid_argument(format!(
            "invalid {what} name {:?}",
            name.chars().take(60).collect::<String>()
        )))
    }
}

/// Merge the default context under the call's own context (the call's keys win).
fn merge_context(defaults: &Map<String, Value>, params: &mut Map<String, Value>) {
    if defaults.is_empty() {
        return;
    }
    let mut merged = defaults.clone();
    if let Some(Value::Object(own)) = params.get("context") {
        for (key, value) in own {
            merged.insert(key.clone(), value.clone());
        }
    }
    params.insert("context".into(), Value::Object(merged));
}

/// Map `execute_kw` positional arguments to JSON-2 named parameters.
fn positional_to_named(
    method: &str,
    args: Vec<Value>,
    kwargs: Map<String, Value>,
) -> Result<Map<String, Value>, OdooError> {
    let names: &[&str] = match method {
        "search_read" => &["domain", "fields", "offset", "limit", "order"],
        "search" => &["domain", "offset", "limit", "order"],
        "search_count" => &["domain", "limit"],
        "search_fetch" => &["domain", "field_names", "offset", "limit", "order"],
        "read" => &["ids", "fields"],
        "write" => &["ids", "vals"],
        "create" => &["vals_list"],
        "unlink" => &["ids"],
        "fields_get" => &["allfields", "attributes"],
        "name_search" => &["name", "domain", "operator", "limit"],
        "read_group" => &[
            "domain", "fields", "groupby", "offset", "limit", "orderby", "lazy",
        ],
        "default_get" => &["fields"],
        _ => &[],
    };
    let mut named = Map::new();
    let mut args = args.into_iter();
    if names.is_empty() {
        if let Some(ids) = args.next() {
            named.insert("ids".into(), ids);
        }
        let rest: Vec<Value> = args.collect();
        if !rest.is_empty() {
            named.insert("args".into(), Value::Array(rest));
        }
    } else {
        for (index, value) in args.enumerate() {
            let Some(name) = names.get(index) else {
                return Err(OdooError::invalid_argument(format!(
                    "too many positional arguments for {method}"
                )));
            };
            named.insert((*name).to_owned(), value);
        }
    }
    for (key, value) in kwargs {
        if named.contains_key(&key) {
            return Err(OdooError::invalid_argument(format!(
                "argument {key} given both by position and by name"
            )));
        }
        named.insert(key, value);
    }
    Ok(named)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positional_arguments_map_to_names() {
        let named = positional_to_named(
            "search_read",
            vec![json!([["a", "=", 1]]), json!(["name"])],
            Map::from_iter([("limit".to_owned(), json!(5))]),
        )
        .expect("maps");
        assert_eq!(
            Value::Object(named),
            json!({"domain": [["a", "=", 1]], "fields": ["name"], "limit": 5})
        );
        let named = positional_to_named("action_confirm", vec![json!([1]), json!("x")], Map::new())
            .expect("maps");
        assert_eq!(Value::Object(named), json!({"ids": [1], "args": ["x"]}));
        assert!(positional_to_named("unlink", vec![json!([1]), json!(2)], Map::new()).is_err());
    }

    #[test]
    fn cookie_is_read_from_set_cookie() {
        let mut headers = HeaderMap::new();
        headers.append(
            SET_COOKIE,
            HeaderValue::from_static(
                "session_id=abc_DEF-1; Expires=Tue, 23 Nov 2027 09:39:38 GMT; HttpOnly; Path=/",
            ),
        );
        let cookie = session_cookie(&headers).expect("cookie");
        assert_eq!(cookie.expose_secret(), "abc_DEF-1");
    }

    #[test]
    fn context_defaults_merge_under_call_context() {
        let defaults = Map::from_iter([
            ("lang".to_owned(), json!("fr_FR")),
            ("tz".to_owned(), json!("UTC")),
        ]);
        let mut params = Map::from_iter([("context".to_owned(), json!({"lang": "en_US"}))]);
        merge_context(&defaults, &mut params);
        assert_eq!(params["context"], json!({"lang": "en_US", "tz": "UTC"}));
    }
}
