//! HTTP routing and the Odoo protocols: XML-RPC, JSON-RPC, the web session routes and JSON-2.

use std::sync::{Arc, PoisonError};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue, SET_COOKIE};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Map, Value, json};

use crate::error::{Entry, Kind, OdooError};
use crate::{Fault, OdooVersion, Shared, orm, xmlrpc};

/// Largest accepted request body.
pub(crate) const MAX_BODY: usize = 16 * 1024 * 1024;

const JSON_CT: &str = "application/json; charset=utf-8";
const HTML_CT: &str = "text/html; charset=utf-8";
const XML_CT: &str = "text/xml; charset=utf-8";

type Resp = Response<Full<Bytes>>;

/// Serve one request; `Err` closes the connection without an answer.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Resp, std::io::Error> {
    shared
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let latency = *shared
        .latency
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let fault = shared
        .fault
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    match fault {
        Fault::None => {}
        Fault::Delay(d) => tokio::time::sleep(d).await,
        Fault::DropConnection => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "fault injected: drop connection",
            ));
        }
        Fault::Http500 => {
            return Ok(plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                HTML_CT,
                html_page(
                    "500 Internal Server Error",
                    "Internal Server Error",
                    "The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.",
                ),
            ));
        }
        Fault::Garbage => {
            let ct = if req.uri().path().starts_with("/xmlrpc") {
                XML_CT
            } else {
                JSON_CT
            };
            return Ok(plain(
                StatusCode::OK,
                ct,
                "\u{1}<garbage>{\"not\": valid".to_owned(),
            ));
        }
    }
    Ok(route(&shared, req).await)
}

fn plain(status: StatusCode, ct: &'static str, body: String) -> Resp {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(ct));
    resp
}

fn html_page(title: &str, h1: &str, p: &str) -> String {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('\'', "&#39;")
            .replace('"', "&#34;")
    };
    format!(
        "<!doctype html>\n<html lang=en>\n<title>{title}</title>\n<h1>{h1}</h1>\n<p>{}</p>\n",
        escape(p)
    )
}

fn json_route_rejected(path: &str) -> Resp {
    plain(
        StatusCode::BAD_REQUEST,
        HTML_CT,
        html_page(
            "400 Bad Request",
            "Bad Request",
            &format!(
                "Request inferred type is compatible with ['http'] but '{path}' is type='json'."
            ),
        ),
    )
}

fn not_found() -> Resp {
    plain(
        StatusCode::NOT_FOUND,
        HTML_CT,
        html_page(
            "404 Not Found",
            "Not Found",
            "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.",
        ),
    )
}

fn method_not_allowed() -> Resp {
    plain(
        StatusCode::METHOD_NOT_ALLOWED,
        HTML_CT,
        html_page(
            "405 Method Not Allowed",
            "Method Not Allowed",
            "The method is not allowed for the requested URL.",
        ),
    )
}

async fn read_body(req: Request<Incoming>) -> Result<(hyper::http::request::Parts, Bytes), Resp> {
    let (parts, body) = req.into_parts();
    let too_large = || {
        plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            HTML_CT,
            html_page(
                "413 Request Entity Too Large",
                "Request Entity Too Large",
                "The data value transmitted exceeds the capacity limit.",
            ),
        )
    };
    if let Some(len) = parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > MAX_BODY as u64
    {
        return Err(too_large());
    }
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => Ok((parts, collected.to_bytes())),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large())
        }
        Err(_) => Err(plain(
            StatusCode::BAD_REQUEST,
            HTML_CT,
            html_page(
                "400 Bad Request",
                "Bad Request",
                "The request body could not be read.",
            ),
        )),
    }
}

async fn route(shared: &Shared, req: Request<Incoming>) -> Resp {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let json_routes = [
        "/jsonrpc",
        "/web/session/authenticate",
        "/web/session/destroy",
        "/web/session/get_session_info",
        "/web/webclient/version_info",
        "/web/database/list",
    ];
    let is_json_route = json_routes.contains(&path.as_str())
        || path == "/web/dataset/call_kw"
        || path.starts_with("/web/dataset/call_kw/");
    if let Some(rest) = path.strip_prefix("/json/2/") {
        if shared.version != OdooVersion::V19 {
            return not_found();
        }
        if method != Method::POST {
            return json2_error(
                405,
                "werkzeug.exceptions.MethodNotAllowed",
                "The method is not allowed for the requested URL.",
            );
        }
        let rest = rest.to_owned();
        return match read_body(req).await {
            Ok((parts, body)) => json2(shared, &rest, &parts, &body),
            Err(resp) => resp,
        };
    }
    let xml_service = match path.as_str() {
        "/xmlrpc/2/common" => Some(("common", false)),
        "/xmlrpc/2/object" => Some(("object", false)),
        "/xmlrpc/common" => Some(("common", true)),
        "/xmlrpc/object" => Some(("object", true)),
        _ => None,
    };
    if let Some((service, legacy)) = xml_service {
        if method != Method::POST {
            return method_not_allowed();
        }
        return match read_body(req).await {
            Ok((_, body)) => xmlrpc_call(shared, service, legacy, &body),
            Err(resp) => resp,
        };
    }
    if !is_json_route {
        return not_found();
    }
    let content_type_ok = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|v| v == "application/json" || v == "application/json-rpc");
    if method != Method::POST || !content_type_ok {
        return json_route_rejected(&path);
    }
    let (parts, body) = match read_body(req).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let Ok(Value::Object(envelope)) = serde_json::from_slice::<Value>(&body) else {
        return plain(
            StatusCode::BAD_REQUEST,
            HTML_CT,
            "Invalid JSON data".to_owned(),
        );
    };
    let id = envelope.get("id").cloned().unwrap_or(Value::Null);
    let params = match envelope.get("params") {
        Some(Value::Object(p)) => p.clone(),
        None | Some(Value::Null) => Map::new(),
        Some(_) => {
            return plain(
                StatusCode::BAD_REQUEST,
                HTML_CT,
                "Invalid JSON data".to_owned(),
            );
        }
    };
    let cookie = session_cookie(&parts.headers);
    match path.as_str() {
        "/jsonrpc" => jsonrpc_reply(&id, jsonrpc_call(shared, &params), Entry::JsonRpc),
        "/web/webclient/version_info" => {
            jsonrpc_reply(&id, Ok(Some(version_info(shared.version))), Entry::Web)
        }
        "/web/database/list" => jsonrpc_reply(&id, Ok(Some(json!([shared.database]))), Entry::Web),
        "/web/session/authenticate" => session_authenticate(shared, &id, &params),
        "/web/session/destroy" => {
            if let Some(sid) = &cookie {
                shared
                    .sessions
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(sid);
            }
            let mut resp = jsonrpc_reply(&id, Ok(None), Entry::Web);
            if let Some(sid) = cookie {
                append_cookie(
                    &mut resp,
                    &format!(
                        "session_id={sid}; Expires={}; Max-Age=0; Path=/",
                        http_date(0)
                    ),
                );
            }
            let fresh = new_session_id();
            append_cookie(
                &mut resp,
                &format!(
                    "session_id={fresh}; Expires={}; Max-Age=604800; HttpOnly; Path=/",
                    http_date(604_800)
                ),
            );
            resp
        }
        "/web/session/get_session_info" => {
            let uid = cookie.as_ref().and_then(|sid| {
                shared
                    .sessions
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(sid)
                    .copied()
            });
            match uid {
                Some(uid) => {
                    let db = shared.db.lock().unwrap_or_else(PoisonError::into_inner);
                    jsonrpc_reply(&id, Ok(Some(session_info(shared, &db, uid))), Entry::Web)
                }
                None => session_expired_reply(),
            }
        }
        _ => call_kw(shared, &id, &params, cookie),
    }
}

fn session_cookie(headers: &hyper::HeaderMap) -> Option<String> {
    headers
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().strip_prefix("session_id="))
        .map(str::to_owned)
        .next()
}

fn append_cookie(resp: &mut Resp, cookie: &str) {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        resp.headers_mut().append(SET_COOKIE, v);
    }
}

fn new_session_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::rng();
    (0..84)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// An HTTP date `seconds` from now.
fn http_date(seconds: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        + seconds;
    let days = i64::try_from(now / 86_400).unwrap_or(i64::MAX);
    let secs = now % 86_400;
    let (y, m, d) = crate::db::civil_from_days(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {d:02} {} {y} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)],
        MONTHS[(m as usize).saturating_sub(1) % 12],
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Serialise JSON the way Python's `json.dumps` does (", " and ": " separators, raw UTF-8).
pub(crate) fn py_json(value: &Value) -> Vec<u8> {
    struct PyFormatter;
    impl serde_json::ser::Formatter for PyFormatter {
        fn begin_array_value<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            if first { Ok(()) } else { w.write_all(b", ") }
        }
        fn begin_object_key<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            if first { Ok(()) } else { w.write_all(b", ") }
        }
        fn begin_object_value<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
        ) -> std::io::Result<()> {
            w.write_all(b": ")
        }
    }
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PyFormatter);
    if serde::Serialize::serialize(value, &mut ser).is_err() {
        out.clear();
        out.extend_from_slice(b"null");
    }
    out
}

fn json_resp(status: StatusCode, value: &Value) -> Resp {
    let mut resp = Response::new(Full::new(Bytes::from(py_json(value))));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(JSON_CT));
    resp
}

fn error_data(e: &OdooError, entry: Entry) -> Value {
    json!({
        "name": e.kind.qualified_name(),
        "debug": e.traceback(entry),
        "message": e.message,
        "arguments": [e.message],
        "context": {},
    })
}

fn jsonrpc_reply(id: &Value, result: Result<Option<Value>, OdooError>, entry: Entry) -> Resp {
    let mut out = Map::new();
    out.insert("jsonrpc".into(), json!("2.0"));
    out.insert("id".into(), id.clone());
    match result {
        Ok(Some(v)) => {
            out.insert("result".into(), v);
        }
        Ok(None) => {}
        Err(e) => {
            out.insert(
                "error".into(),
                json!({"code": 200, "message": "Odoo Server Error", "data": error_data(&e, entry)}),
            );
        }
    }
    json_resp(StatusCode::OK, &Value::Object(out))
}

fn session_expired_reply() -> Resp {
    let e = OdooError::session_expired();
    json_resp(
        StatusCode::OK,
        &json!({"jsonrpc": "2.0", "id": null, "error": {"code": 100, "message": "Odoo Session Expired", "data": error_data(&e, Entry::Web)}}),
    )
}

pub(crate) fn version_info(version: OdooVersion) -> Value {
    let major = match version {
        OdooVersion::V18 => 18,
        OdooVersion::V19 => 19,
    };
    json!({
        "server_version": format!("{major}.0"),
        "server_version_info": [major, 0, 0, "final", 0, ""],
        "server_serie": format!("{major}.0"),
        "protocol_version": 1,
    })
}

/// The uid for a login and a password (or, when `allow_key`, an API key).
fn check_login(shared: &Shared, login: &str, secret: &str, allow_key: bool) -> Option<i64> {
    let user = crate::seed::USERS.iter().find(|u| u.login == login)?;
    let key_ok = allow_key
        && shared
            .api_keys
            .get(login)
            .is_some_and(|k| constant_eq(k, secret));
    (constant_eq(user.login, secret) || key_ok).then_some(user.uid)
}

fn check_uid(shared: &Shared, uid: i64, secret: &str) -> bool {
    crate::seed::USERS
        .iter()
        .find(|u| u.uid == uid)
        .is_some_and(|u| check_login(shared, u.login, secret, true).is_some())
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn arg_str(args: &[Value], i: usize, what: &str) -> Result<String, OdooError> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(OdooError::type_error(format!(
            "missing or invalid argument: '{what}'"
        ))),
    }
}

/// Dispatch a `service`/`method` call with positional args (shared by XML-RPC and JSON-RPC).
fn dispatch(
    shared: &Shared,
    service: &str,
    method: &str,
    args: Vec<Value>,
) -> Result<Option<Value>, OdooError> {
    match (service, method) {
        ("common", "version") => Ok(Some(version_info(shared.version))),
        ("common", "about") => Ok(Some(json!("See http://openerp.com"))),
        ("common", "authenticate" | "login") => {
            let db = arg_str(&args, 0, "db")?;
            let login = arg_str(&args, 1, "login")?;
            let password = arg_str(&args, 2, "password")?;
            if db != shared.database {
                return Err(OdooError::unknown_database(&db));
            }
            Ok(Some(
                check_login(shared, &login, &password, true)
                    .map(|uid| json!(uid))
                    .unwrap_or(Value::Bool(false)),
            ))
        }
        ("db", "list") => Ok(Some(json!([shared.database]))),
        ("object", "execute_kw" | "execute") => {
            let db = arg_str(&args, 0, "db")?;
            if db != shared.database {
                return Err(OdooError::unknown_database(&db));
            }
            let uid = args
                .get(1)
                .and_then(Value::as_i64)
                .ok_or_else(OdooError::access_denied)?;
            let password = arg_str(&args, 2, "password").map_err(|_| OdooError::access_denied())?;
            if !check_uid(shared, uid, &password) {
                return Err(OdooError::access_denied());
            }
            let model = arg_str(&args, 3, "model")?;
            let name = arg_str(&args, 4, "method")?;
            let (call_args, kwargs) = if method == "execute_kw" {
                let call_args = match args.get(5) {
                    Some(Value::Array(a)) => a.clone(),
                    None | Some(Value::Null) => Vec::new(),
                    Some(_) => {
                        return Err(OdooError::type_error("execute_kw() args must be a list"));
                    }
                };
                let kwargs = match args.get(6) {
                    Some(Value::Object(k)) => k.clone(),
                    None | Some(Value::Null | Value::Bool(false)) => Map::new(),
                    Some(_) => {
                        return Err(OdooError::type_error("execute_kw() kwargs must be a dict"));
                    }
                };
                (call_args, kwargs)
            } else {
                (
                    args.get(5..).map(<[Value]>::to_vec).unwrap_or_default(),
                    Map::new(),
                )
            };
            let mut db = shared.db.lock().unwrap_or_else(PoisonError::into_inner);
            orm::execute(
                &mut db,
                shared.version,
                uid,
                &model,
                &name,
                call_args,
                kwargs,
            )
        }
        ("common" | "object" | "db", _) => Err(OdooError::new(
            Kind::AttributeError,
            format!("The method '{method}' does not exist on the service '{service}'"),
        )),
        _ => Err(OdooError::new(
            Kind::ValueError,
            format!("Unknown service: {service}"),
        )),
    }
}

fn jsonrpc_call(shared: &Shared, params: &Map<String, Value>) -> Result<Option<Value>, OdooError> {
    let service = params.get("service").and_then(Value::as_str).unwrap_or("");
    let method = params.get("method").and_then(Value::as_str).unwrap_or("");
    let args = match params.get("args") {
        Some(Value::Array(a)) => a.clone(),
        None | Some(Value::Null) => Vec::new(),
        Some(_) => return Err(OdooError::type_error("args must be a list")),
    };
    dispatch(shared, service, method, args)
}

fn xml_resp(body: Vec<u8>) -> Resp {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(XML_CT));
    resp
}

fn xml_fault(e: &OdooError, legacy: bool) -> Resp {
    if legacy {
        return xml_resp(xmlrpc::fault(json!(e.legacy_fault_code()), ""));
    }
    let code = e.kind.fault_code();
    let string = match code {
        1 => e.traceback(Entry::XmlRpc),
        3 => "Access Denied".to_owned(),
        _ => e.message.clone(),
    };
    xml_resp(xmlrpc::fault(json!(code), &string))
}

fn xmlrpc_call(shared: &Shared, service: &str, legacy: bool, body: &[u8]) -> Resp {
    let text = String::from_utf8_lossy(body);
    let (method, params) = match xmlrpc::parse_call(&text) {
        Ok(x) => x,
        Err(msg) => {
            let e = OdooError::new(Kind::ValueError, msg);
            let trace = format!(
                "Traceback (most recent call last):\n  File \"/opt/odoo/src/odoo/addons/base/controllers/rpc.py\", line 161, in xmlrpc_2\n    response = self._xmlrpc(service)\n               ^^^^^^^^^^^^^^^^^^^^^\n  File \"/opt/odoo/src/odoo/addons/base/controllers/rpc.py\", line 138, in _xmlrpc\n    params, method = xmlrpc.client.loads(data, use_datetime=True)\n                     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\nxml.parsers.expat.ExpatError: {}\n",
                e.message
            );
            return xml_resp(xmlrpc::fault(
                if legacy { json!(trace) } else { json!(1) },
                if legacy { "" } else { &trace },
            ));
        }
    };
    match dispatch(shared, service, &method, params) {
        Ok(value) => match xmlrpc::response(&value.unwrap_or(Value::Null)) {
            Ok(bytes) => xml_resp(bytes),
            Err(err) => {
                let message = match err {
                    xmlrpc::MarshalError::None => {
                        "cannot marshal None unless allow_none is enabled"
                    }
                    xmlrpc::MarshalError::Overflow => "int exceeds XML-RPC limits",
                };
                let e = OdooError::type_error(message);
                xml_fault(&e, legacy)
            }
        },
        Err(e) => xml_fault(&e, legacy),
    }
}

fn session_info(shared: &Shared, db: &crate::db::Db, uid: i64) -> Value {
    let user = crate::seed::USERS.iter().find(|u| u.uid == uid);
    let env = orm::Env::for_user(db, uid);
    let is_system = env.groups.contains(&crate::model::G_SYSTEM);
    let version = version_info(shared.version);
    json!({
        "uid": uid,
        "is_system": is_system,
        "is_admin": is_system,
        "is_public": false,
        "is_internal_user": true,
        "user_context": {"lang": "en_US", "tz": "Europe/Brussels", "uid": uid},
        "db": shared.database,
        "server_version": version["server_version"],
        "server_version_info": version["server_version_info"],
        "support_url": "https://www.odoo.com/buy",
        "name": user.map(|u| u.name).unwrap_or(""),
        "username": user.map(|u| u.login).unwrap_or(""),
        "partner_display_name": user.map(|u| u.name).unwrap_or(""),
        "partner_id": user.map(|u| u.partner_id).unwrap_or(0),
        "web.base.url": "http://127.0.0.1:8069",
        "active_ids_limit": 20000,
        "max_file_upload_size": 134_217_728,
        "home_action_id": false,
        "currencies": {"1": {"symbol": "$", "position": "before", "digits": [69, 2]}},
        "user_companies": {"current_company": 1, "allowed_companies": {"1": {"id": 1, "name": "YourCompany", "sequence": 0, "child_ids": [], "parent_id": false}}, "disallowed_ancestor_companies": {}},
        "test_mode": false,
    })
}

fn session_authenticate(shared: &Shared, id: &Value, params: &Map<String, Value>) -> Resp {
    let db_name = params.get("db").and_then(Value::as_str).unwrap_or("");
    let login = params.get("login").and_then(Value::as_str).unwrap_or("");
    let password = params.get("password").and_then(Value::as_str).unwrap_or("");
    if db_name != shared.database {
        return jsonrpc_reply(
            id,
            Err(OdooError::access("Database not found.")),
            Entry::Web,
        );
    }
    let Some(uid) = check_login(shared, login, password, false) else {
        return jsonrpc_reply(id, Err(OdooError::access_denied()), Entry::Web);
    };
    let sid = new_session_id();
    shared
        .sessions
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(sid.clone(), uid);
    let info = {
        let db = shared.db.lock().unwrap_or_else(PoisonError::into_inner);
        session_info(shared, &db, uid)
    };
    let mut resp = jsonrpc_reply(id, Ok(Some(info)), Entry::Web);
    append_cookie(
        &mut resp,
        &format!(
            "session_id={sid}; Expires={}; Max-Age=604800; HttpOnly; Path=/",
            http_date(604_800)
        ),
    );
    resp
}

fn call_kw(
    shared: &Shared,
    id: &Value,
    params: &Map<String, Value>,
    cookie: Option<String>,
) -> Resp {
    let uid = cookie.as_ref().and_then(|sid| {
        shared
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(sid)
            .copied()
    });
    let (Some(uid), Some(sid)) = (uid, cookie) else {
        return session_expired_reply();
    };
    let model = params.get("model").and_then(Value::as_str).unwrap_or("");
    let method = params.get("method").and_then(Value::as_str).unwrap_or("");
    let args = match params.get("args") {
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    let kwargs = match params.get("kwargs") {
        Some(Value::Object(k)) => k.clone(),
        _ => Map::new(),
    };
    let result = {
        let mut db = shared.db.lock().unwrap_or_else(PoisonError::into_inner);
        orm::execute(&mut db, shared.version, uid, model, method, args, kwargs)
    };
    let mut resp = jsonrpc_reply(id, result, Entry::Web);
    append_cookie(
        &mut resp,
        &format!(
            "session_id={sid}; Expires={}; Max-Age=604800; HttpOnly; Path=/",
            http_date(604_800)
        ),
    );
    resp
}

fn json2_error(status: u16, name: &str, message: &str) -> Resp {
    let body = json!({"name": name, "message": message, "arguments": [message], "context": {}, "debug": ""});
    json_resp(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &body,
    )
}

fn json2(shared: &Shared, rest: &str, parts: &hyper::http::request::Parts, body: &[u8]) -> Resp {
    let auth = parts
        .headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let key = match auth.split_once(' ') {
        Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") => key.trim(),
        _ => "",
    };
    let uid = shared
        .api_keys
        .iter()
        .find(|(_, k)| !key.is_empty() && constant_eq(k, key))
        .and_then(|(login, _)| crate::seed::USERS.iter().find(|u| u.login == login))
        .map(|u| u.uid);
    let Some(uid) = uid else {
        return json2_error(401, "werkzeug.exceptions.Unauthorized", "Invalid apikey");
    };
    if let Some(db) = parts
        .headers
        .get("x-odoo-database")
        .and_then(|v| v.to_str().ok())
        && db != shared.database
    {
        return json2_error(
            404,
            "werkzeug.exceptions.NotFound",
            &format!("database {db:?} not found"),
        );
    }
    let Some((model_name, method)) = rest.split_once('/') else {
        return json2_error(
            404,
            "werkzeug.exceptions.NotFound",
            "The requested URL was not found on the server.",
        );
    };
    let Some(model) = crate::model::model(model_name) else {
        return json2_error(
            404,
            "werkzeug.exceptions.NotFound",
            &format!("the model {model_name:?} does not exist"),
        );
    };
    if method.starts_with('_') || !orm::method_exists(model, method, shared.version) {
        return json2_error(
            404,
            "werkzeug.exceptions.NotFound",
            &format!("the method {method:?} does not exist on the model {model_name:?}"),
        );
    }
    let Ok(Value::Object(mut params)) = serde_json::from_slice::<Value>(body) else {
        return json2_error(
            400,
            "werkzeug.exceptions.BadRequest",
            "the body must be a JSON object",
        );
    };
    let mut args = Vec::new();
    if orm::is_record_method(model, method, shared.version) {
        args.push(params.remove("ids").unwrap_or_else(|| json!([])));
    } else if let Some(ids) = params.remove("ids")
        && ids.as_array().is_some_and(|a| !a.is_empty())
    {
        return json2_error(
            422,
            "werkzeug.exceptions.UnprocessableEntity",
            &format!("{method}() does not take record ids"),
        );
    }
    if let Some(extra) = params.remove("args") {
        match extra {
            Value::Array(a) => args.extend(a),
            _ => {
                return json2_error(
                    422,
                    "werkzeug.exceptions.UnprocessableEntity",
                    "args must be a list",
                );
            }
        }
    }
    let mut kwargs = Map::new();
    if let Some(extra) = params.remove("kwargs") {
        match extra {
            Value::Object(k) => kwargs.extend(k),
            _ => {
                return json2_error(
                    422,
                    "werkzeug.exceptions.UnprocessableEntity",
                    "kwargs must be an object",
                );
            }
        }
    }
    let names = orm::param_names(model, method, shared.version);
    for (key, value) in params {
        if key != "context" && !names.contains(&key.as_str()) {
            return json2_error(
                422,
                "werkzeug.exceptions.UnprocessableEntity",
                &format!("{method}() got an unexpected keyword argument '{key}'"),
            );
        }
        kwargs.insert(key, value);
    }
    // JSON-2's create always takes and returns a list.
    let result = {
        let mut db = shared.db.lock().unwrap_or_else(PoisonError::into_inner);
        orm::execute(
            &mut db,
            shared.version,
            uid,
            model_name,
            method,
            args,
            kwargs,
        )
    };
    match result {
        Ok(v) => json_resp(StatusCode::OK, &v.unwrap_or(Value::Null)),
        Err(e) => {
            let status = e.kind.json2_status();
            let status = if e.kind == Kind::TypeError {
                422
            } else {
                status
            };
            let body = json!({"name": e.kind.qualified_name(), "message": e.message, "arguments": [e.message], "context": {}, "debug": e.traceback(Entry::JsonRpc)});
            json_resp(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                &body,
            )
        }
    }
}
