//! JSON-RPC 2.0 framing: classifying one incoming message and building outgoing ones.

use std::borrow::Cow;

use jsonrpsee_types::{ErrorObjectOwned, Id};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::compat::adapt_result;
use crate::error_code;
use crate::version::ProtocolVersion;

/// The deepest nesting of arrays and objects accepted in one message. Deeper input is refused
/// before it is parsed, so hostile nesting costs neither stack nor time.
pub const MAX_DEPTH: usize = 64;

/// The longest part of a parser's explanation that is copied into an error message.
const MAX_REASON_LEN: usize = 200;

/// One classified incoming message.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A request: it has an id and expects a response.
    Request(Request),
    /// A notification: no id, never answered.
    Notification(Notification),
    /// A response to a request this side sent.
    Response(Response),
}

/// A JSON-RPC request.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Request {
    /// The request id (a string or a non-negative integer; never null).
    pub id: Id<'static>,
    /// The method name.
    pub method: String,
    /// The parameters, when present (always an object).
    pub params: Option<Map<String, Value>>,
}

/// A JSON-RPC notification.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Notification {
    /// The method name.
    pub method: String,
    /// The parameters, when present (always an object).
    pub params: Option<Map<String, Value>>,
}

/// A JSON-RPC response.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Response {
    /// The id of the request answered (`Id::Null` for an error about an unreadable request).
    pub id: Id<'static>,
    /// The result or the error.
    pub payload: ResponsePayload,
}

/// What a response carries.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponsePayload {
    /// A successful result.
    Result(Value),
    /// An error.
    Error(ErrorObjectOwned),
}

/// Why an incoming message could not be classified. [`DecodeError::response`] builds the error
/// response to send back.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input is not JSON (or not UTF-8, or empty).
    #[error("parse error: {reason}")]
    Parse {
        /// What is wrong, without the input itself.
        reason: String,
    },
    /// The input nests arrays and objects deeper than [`MAX_DEPTH`].
    #[error("invalid request: nesting deeper than {limit} levels")]
    TooDeep {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The input is a JSON array: batches are not part of MCP.
    #[error("invalid request: batches are not supported")]
    Batch,
    /// The input is JSON but not a valid JSON-RPC 2.0 message.
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// The id of the message, when it could be read.
        id: Option<Id<'static>>,
        /// What is wrong.
        reason: &'static str,
    },
    /// The message's `params` is present but not an object.
    #[error("invalid params: params must be an object")]
    InvalidParams {
        /// The id of the request; `None` for a notification.
        id: Option<Id<'static>>,
    },
}

impl DecodeError {
    /// The JSON-RPC error code of this error.
    pub fn code(&self) -> i32 {
        match self {
            Self::Parse { .. } => error_code::PARSE_ERROR,
            Self::TooDeep { .. } | Self::Batch | Self::InvalidRequest { .. } => {
                error_code::INVALID_REQUEST
            }
            Self::InvalidParams { .. } => error_code::INVALID_PARAMS,
        }
    }

    /// The id to answer with: the message's id when it could be read, otherwise `Id::Null`.
    pub fn id(&self) -> Id<'static> {
        match self {
            Self::InvalidRequest { id: Some(id), .. } | Self::InvalidParams { id: Some(id) } => {
                id.clone()
            }
            _ => Id::Null,
        }
    }

    /// The JSON-RPC error object of this error.
    pub fn error_object(&self) -> ErrorObjectOwned {
        ErrorObjectOwned::owned(self.code(), self.to_string(), None::<()>)
    }

    /// The error response to send, or `None` when the message was a notification (JSON-RPC
    /// forbids answering one, even with an error).
    pub fn response(&self) -> Option<Value> {
        match self {
            Self::InvalidParams { id: None } => None,
            _ => Some(error_response_from(&self.id(), &self.error_object())),
        }
    }
}

/// A request's parameters did not match the method's parameter type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid params: {reason}")]
#[non_exhaustive]
pub struct ParamsError {
    /// What is wrong, as the parser explains it (bounded in length).
    pub reason: String,
}

impl ParamsError {
    /// The JSON-RPC error object (`-32602`).
    pub fn error_object(&self) -> ErrorObjectOwned {
        ErrorObjectOwned::owned(error_code::INVALID_PARAMS, self.to_string(), None::<()>)
    }

    /// The error response to send for the request with `id`.
    pub fn response(&self, id: &Id<'_>) -> Value {
        error_response_from(id, &self.error_object())
    }
}

fn parse_params<T: DeserializeOwned>(
    params: Option<&Map<String, Value>>,
) -> Result<T, ParamsError> {
    let value = Value::Object(params.cloned().unwrap_or_default());
    serde_json::from_value(value).map_err(|e| ParamsError {
        reason: bounded(&e.to_string()),
    })
}

impl Request {
    /// Parses the parameters as `T` (absent parameters parse as an empty object).
    pub fn params_as<T: DeserializeOwned>(&self) -> Result<T, ParamsError> {
        parse_params(self.params.as_ref())
    }

    /// The `_meta` object of the parameters, if any.
    pub fn meta(&self) -> Option<&Map<String, Value>> {
        self.params.as_ref()?.get("_meta")?.as_object()
    }

    /// The progress token the client attached in `_meta.progressToken`, if any and well-formed.
    pub fn progress_token(&self) -> Option<crate::ProgressToken> {
        let token = self.meta()?.get("progressToken")?;
        serde_json::from_value(token.clone()).ok()
    }
}

impl Notification {
    /// Parses the parameters as `T` (absent parameters parse as an empty object).
    pub fn params_as<T: DeserializeOwned>(&self) -> Result<T, ParamsError> {
        parse_params(self.params.as_ref())
    }
}

fn bounded(s: &str) -> String {
    if s.len() <= MAX_REASON_LEN {
        return s.to_owned();
    }
    let mut end = MAX_REASON_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Whether the nesting of arrays and objects in `input` (outside strings) exceeds `limit`.
fn too_deep(input: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in input {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Reads a JSON-RPC id: a string or a non-negative integer that fits in 64 bits.
fn read_id(value: &Value) -> Option<Id<'static>> {
    match value {
        Value::String(s) => Some(Id::Str(Cow::Owned(s.clone()))),
        Value::Number(n) => n.as_u64().map(Id::Number),
        _ => None,
    }
}

fn invalid(id: Option<Id<'static>>, reason: &'static str) -> DecodeError {
    DecodeError::InvalidRequest { id, reason }
}

/// Classifies one incoming message (the bytes of one line, without the line ending).
///
/// Empty input, invalid UTF-8 and non-JSON give [`DecodeError::Parse`] (`-32700`); an array
/// (batch), nesting deeper than [`MAX_DEPTH`], a non-object or a malformed envelope give `-32600`
/// (with the message's id when it can be read); `params` that is not an object gives `-32602`.
/// Members JSON-RPC does not define are ignored.
pub fn decode(input: &[u8]) -> Result<Incoming, DecodeError> {
    let text = std::str::from_utf8(input).map_err(|_| DecodeError::Parse {
        reason: "input is not valid UTF-8".into(),
    })?;
    if text.trim().is_empty() {
        return Err(DecodeError::Parse {
            reason: "empty message".into(),
        });
    }
    if too_deep(input, MAX_DEPTH) {
        return Err(DecodeError::TooDeep { limit: MAX_DEPTH });
    }
    let value: Value = serde_json::from_str(text).map_err(|e| DecodeError::Parse {
        reason: format!("invalid JSON at line {} column {}", e.line(), e.column()),
    })?;
    let obj = match value {
        Value::Object(obj) => obj,
        Value::Array(_) => return Err(DecodeError::Batch),
        _ => return Err(invalid(None, "a message must be a JSON object")),
    };
    classify(obj)
}

fn classify(mut obj: Map<String, Value>) -> Result<Incoming, DecodeError> {
    let raw_id = obj.remove("id");
    let id = raw_id.as_ref().and_then(read_id);

    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid(id, "jsonrpc must be \"2.0\""));
    }

    if let Some(method) = obj.remove("method") {
        let Value::String(method) = method else {
            return Err(invalid(id, "method must be a string"));
        };
        let is_request = raw_id.is_some();
        if is_request && id.is_none() {
            return Err(invalid(
                None,
                "id must be a string or a non-negative integer",
            ));
        }
        let params = match obj.remove("params") {
            None => None,
            Some(Value::Object(params)) => Some(params),
            Some(_) => return Err(DecodeError::InvalidParams { id }),
        };
        return Ok(match id {
            Some(id) => Incoming::Request(Request { id, method, params }),
            None => Incoming::Notification(Notification { method, params }),
        });
    }

    let result = obj.remove("result");
    let error = obj.remove("error");
    let id = match (&raw_id, id) {
        (Some(_), Some(id)) => id,
        (Some(Value::Null), None) if error.is_some() => Id::Null,
        (None, _) if result.is_none() && error.is_none() => {
            return Err(invalid(
                None,
                "a message needs a method, a result or an error",
            ));
        }
        _ => return Err(invalid(None, "a response needs a string or integer id")),
    };
    let payload = match (result, error) {
        (Some(result), None) => ResponsePayload::Result(result),
        (None, Some(error)) => {
            ResponsePayload::Error(read_error_object(error).ok_or_else(|| {
                invalid(
                    Some(id.clone()),
                    "error must have an integer code and a string message",
                )
            })?)
        }
        (Some(_), Some(_)) => {
            return Err(invalid(
                Some(id),
                "a response cannot carry both result and error",
            ));
        }
        (None, None) => {
            return Err(invalid(
                Some(id),
                "a message needs a method, a result or an error",
            ));
        }
    };
    Ok(Incoming::Response(Response { id, payload }))
}

fn read_error_object(error: Value) -> Option<ErrorObjectOwned> {
    let Value::Object(mut error) = error else {
        return None;
    };
    let code = i32::try_from(error.get("code")?.as_i64()?).ok()?;
    let Value::String(message) = error.remove("message")? else {
        return None;
    };
    Some(ErrorObjectOwned::owned(code, message, error.remove("data")))
}

/// The success response for the request `id`, adapted to `version` with [`adapt_result`]:
/// `resultType: "complete"` is added for 2026-07-28, and members a legacy revision does not know
/// are removed. A result that serialises to `null` (e.g. `()`) becomes the empty result `{}`; a
/// result that cannot be serialised gives an internal error response instead.
pub fn result_response(id: &Id<'_>, version: ProtocolVersion, result: impl Serialize) -> Value {
    let mut result = match serde_json::to_value(result) {
        Ok(Value::Null) => Value::Object(Map::new()),
        Ok(value @ Value::Object(_)) => value,
        Ok(_) | Err(_) => {
            return error_response(id, error_code::INTERNAL_ERROR, "internal error", None);
        }
    };
    adapt_result(version, &mut result);
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

/// An error response for the request `id` (`Id::Null` when the id could not be read).
pub fn error_response(id: &Id<'_>, code: i32, message: &str, data: Option<Value>) -> Value {
    error_response_from(id, &ErrorObjectOwned::owned(code, message, data))
}

/// An error response for the request `id` from a JSON-RPC error object.
pub fn error_response_from(id: &Id<'_>, error: &ErrorObjectOwned) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": error })
}

/// A notification message. `params` that serialises to `null` is left out; params that cannot be
/// serialised as an object are left out too (every MCP notification's params is an object).
pub fn notification(method: &str, params: impl Serialize) -> Value {
    let mut message = json!({ "jsonrpc": "2.0", "method": method });
    if let Ok(params @ Value::Object(_)) = serde_json::to_value(params) {
        message["params"] = params;
    }
    message
}
