//! The one error type of the Odoo client, its kinds and origins, and the rules that turn
//! Odoo's many error shapes (XML-RPC faults, JSON-RPC errors, JSON-2 statuses, HTML pages)
//! into clean, secret-free messages.

use std::time::Duration;

/// Everything that can go wrong when talking to Odoo.
///
/// `Display` is a clean, user-facing message: for errors raised by Odoo it is Odoo's own
/// message, never a traceback, a server file path, a database host or a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OdooError {
    /// The credentials were refused (wrong login, password or API key).
    #[error("{message}")]
    AccessDenied {
        /// Odoo's message.
        message: String,
    },
    /// The user may not do this (model access, record rules, field groups, private methods).
    #[error("{message}")]
    AccessError {
        /// Odoo's message.
        message: String,
    },
    /// The records do not exist or were deleted.
    #[error("{message}")]
    MissingRecord {
        /// Odoo's message.
        message: String,
    },
    /// A constraint refused the values.
    #[error("{message}")]
    Validation {
        /// Odoo's message.
        message: String,
    },
    /// A business rule refused the operation.
    #[error("{message}")]
    UserError {
        /// Odoo's message.
        message: String,
    },
    /// The model does not exist.
    #[error("{message}")]
    UnknownModel {
        /// Odoo's message.
        message: String,
    },
    /// The method does not exist on the model.
    #[error("{message}")]
    UnknownMethod {
        /// Odoo's message.
        message: String,
    },
    /// The database does not exist.
    #[error("{message}")]
    UnknownDatabase {
        /// A message naming the database only (never the database server).
        message: String,
    },
    /// Odoo refused the request as malformed (bad domain, bad parameters, bad body).
    #[error("{message}")]
    InvalidRequest {
        /// Odoo's message.
        message: String,
    },
    /// The web session expired and authenticating again did not help.
    #[error("{message}")]
    SessionExpired {
        /// Odoo's message.
        message: String,
    },
    /// Any other error raised inside Odoo.
    #[error("{message}")]
    Server {
        /// Odoo's message (or a generic one when Odoo's would leak server details).
        message: String,
    },
    /// The call did not complete within the configured timeout.
    #[error("odoo did not answer within {} ms", .after.as_millis())]
    Timeout {
        /// The timeout that elapsed.
        after: Duration,
    },
    /// No connection to Odoo could be made; the request was not sent.
    #[error("cannot connect to odoo: {message}")]
    Connect {
        /// What went wrong.
        message: String,
    },
    /// The connection broke after the request may have been sent.
    #[error("connection to odoo lost: {message}")]
    ConnectionLost {
        /// What went wrong.
        message: String,
    },
    /// The TLS handshake failed (untrusted or invalid certificate, protocol mismatch).
    #[error("tls error: {message}")]
    Tls {
        /// What went wrong.
        message: String,
    },
    /// Odoo answered with an unexpected HTTP status.
    #[error("unexpected http status {status} from odoo")]
    Http {
        /// The HTTP status code.
        status: u16,
    },
    /// The answer could not be parsed.
    #[error("unparseable answer from odoo: {message}")]
    Unparseable {
        /// What did not parse.
        message: String,
    },
    /// The answer was larger than the configured maximum; reading stopped there.
    #[error("odoo's answer exceeds the limit of {limit} bytes")]
    ResponseTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The client configuration is invalid.
    #[error("invalid configuration: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
    /// The client refused the arguments of a call before sending anything.
    #[error("invalid argument: {message}")]
    InvalidArgument {
        /// What is wrong.
        message: String,
    },
}

/// The kind of an [`OdooError`], without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// See [`OdooError::AccessDenied`].
    AccessDenied,
    /// See [`OdooError::AccessError`].
    AccessError,
    /// See [`OdooError::MissingRecord`].
    MissingRecord,
    /// See [`OdooError::Validation`].
    Validation,
    /// See [`OdooError::UserError`].
    UserError,
    /// See [`OdooError::UnknownModel`].
    UnknownModel,
    /// See [`OdooError::UnknownMethod`].
    UnknownMethod,
    /// See [`OdooError::UnknownDatabase`].
    UnknownDatabase,
    /// See [`OdooError::InvalidRequest`].
    InvalidRequest,
    /// See [`OdooError::SessionExpired`].
    SessionExpired,
    /// See [`OdooError::Server`].
    Server,
    /// See [`OdooError::Timeout`].
    Timeout,
    /// See [`OdooError::Connect`].
    Connect,
    /// See [`OdooError::ConnectionLost`].
    ConnectionLost,
    /// See [`OdooError::Tls`].
    Tls,
    /// See [`OdooError::Http`].
    Http,
    /// See [`OdooError::Unparseable`].
    Unparseable,
    /// See [`OdooError::ResponseTooLarge`].
    ResponseTooLarge,
    /// See [`OdooError::Config`].
    Config,
    /// See [`OdooError::InvalidArgument`].
    InvalidArgument,
}

/// Where an error comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// Odoo answered and refused or failed the call.
    Odoo,
    /// The network, TLS or HTTP layer failed, or the answer was unusable.
    Transport,
    /// The client refused before sending (configuration or arguments).
    Client,
}

impl OdooError {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::AccessDenied { .. } => ErrorKind::AccessDenied,
            Self::AccessError { .. } => ErrorKind::AccessError,
            Self::MissingRecord { .. } => ErrorKind::MissingRecord,
            Self::Validation { .. } => ErrorKind::Validation,
            Self::UserError { .. } => ErrorKind::UserError,
            Self::UnknownModel { .. } => ErrorKind::UnknownModel,
            Self::UnknownMethod { .. } => ErrorKind::UnknownMethod,
            Self::UnknownDatabase { .. } => ErrorKind::UnknownDatabase,
            Self::InvalidRequest { .. } => ErrorKind::InvalidRequest,
            Self::SessionExpired { .. } => ErrorKind::SessionExpired,
            Self::Server { .. } => ErrorKind::Server,
            Self::Timeout { .. } => ErrorKind::Timeout,
            Self::Connect { .. } => ErrorKind::Connect,
            Self::ConnectionLost { .. } => ErrorKind::ConnectionLost,
            Self::Tls { .. } => ErrorKind::Tls,
            Self::Http { .. } => ErrorKind::Http,
            Self::Unparseable { .. } => ErrorKind::Unparseable,
            Self::ResponseTooLarge { .. } => ErrorKind::ResponseTooLarge,
            Self::Config { .. } => ErrorKind::Config,
            Self::InvalidArgument { .. } => ErrorKind::InvalidArgument,
        }
    }

    /// Where this error comes from.
    pub fn origin(&self) -> Origin {
        match self.kind() {
            ErrorKind::Timeout
            | ErrorKind::Connect
            | ErrorKind::ConnectionLost
            | ErrorKind::Tls
            | ErrorKind::Http
            | ErrorKind::Unparseable
            | ErrorKind::ResponseTooLarge => Origin::Transport,
            ErrorKind::Config | ErrorKind::InvalidArgument => Origin::Client,
            _ => Origin::Odoo,
        }
    }

    pub(crate) fn unparseable(message: impl Into<String>) -> Self {
        Self::Unparseable {
            message: message.into(),
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::Config {
            message: message.into(),
        }
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> Self {
        Self::InvalidArgument {
            message: message.into(),
        }
    }
}

/// The outcome of classifying an Odoo error: an error, or the XML-RPC "cannot marshal None"
/// fault, which means the method ran and returned `None`.
pub(crate) enum Classified {
    Error(OdooError),
    NoneResult,
}

const GENERIC_SERVER_MESSAGE: &str = "odoo server error";

/// Keep only what is safe to show from an Odoo message: no traceback, no trailing blanks.
fn clean_message(message: &str) -> String {
    let cut = message
        .find("Traceback (most recent call last)")
        .map_or(message, |at| &message[..at]);
    let trimmed = cut.trim();
    if trimmed.is_empty() || looks_like_server_detail(trimmed) {
        GENERIC_SERVER_MESSAGE.to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// A message that names server files or the database server is not shown.
fn looks_like_server_detail(message: &str) -> bool {
    message.contains(".py\"")
        || message.contains("File \"/")
        || message.contains("connection to server at")
}

/// `database "x" does not exist`, extracted from PostgreSQL's text (which names the DB server).
fn unknown_database_message(message: &str) -> Option<String> {
    let start = message.find("database \"")?;
    let rest = &message[start..];
    let end = rest.find("does not exist")? + "does not exist".len();
    Some(rest[..end].to_owned())
}

/// Classify an error by Odoo's exception class name (`odoo.exceptions.AccessError`,
/// `builtins.ValueError`, ...) and its message.
pub(crate) fn classify_by_name(name: &str, raw_message: &str) -> Classified {
    let short = name.rsplit('.').next().unwrap_or(name);
    if short == "TypeError" && raw_message.contains("cannot marshal None") {
        return Classified::NoneResult;
    }
    let message = clean_message(raw_message);
    let error = match short {
        "AccessDenied" | "Unauthorized" => OdooError::AccessDenied { message },
        "AccessError" => OdooError::AccessError { message },
        "MissingError" => OdooError::MissingRecord { message },
        "ValidationError" => OdooError::Validation { message },
        "UserError" | "RedirectWarning" | "except_orm" | "Warning" => classify_user_error(message),
        "ValueError"
        | "TypeError"
        | "ExpatError"
        | "BadRequest"
        | "UnprocessableEntity"
        | "KeyError" => {
            if short == "KeyError" {
                OdooError::UnknownModel { message }
            } else {
                OdooError::InvalidRequest { message }
            }
        }
        "AttributeError" if raw_message.contains("does not exist on the model") => {
            OdooError::UnknownMethod { message }
        }
        "NotFound" => OdooError::UnknownMethod { message },
        "OperationalError" | "ProgrammingError" | "InterfaceError" => {
            match unknown_database_message(raw_message) {
                Some(message) => OdooError::UnknownDatabase { message },
                None => OdooError::Server {
                    message: "odoo database error".to_owned(),
                },
            }
        }
        "SessionExpiredException" => OdooError::SessionExpired { message },
        _ => OdooError::Server { message },
    };
    Classified::Error(error)
}

/// A `UserError` is refined by its message: unknown model, missing record, validation.
fn classify_user_error(message: String) -> OdooError {
    if message.starts_with("Object ") && message.ends_with("doesn't exist") {
        OdooError::UnknownModel { message }
    } else if message.starts_with("Record does not exist or has been deleted") {
        OdooError::MissingRecord { message }
    } else if message.starts_with("The operation cannot be completed") {
        OdooError::Validation { message }
    } else {
        OdooError::UserError { message }
    }
}

/// Find the final exception of a Python traceback: `(class, message)`.
///
/// The exception line is the first non-indented line after the last
/// `Traceback (most recent call last):` header; the message runs to the end.
pub(crate) fn parse_traceback(text: &str) -> Option<(String, String)> {
    let header = "Traceback (most recent call last):";
    let start = text.rfind(header)? + header.len();
    let tail = &text[start..];
    let mut offset = 0;
    for line in tail.split_inclusive('\n') {
        let first = line.chars().next();
        let indented = matches!(first, Some(' ' | '\t' | '\n' | '\r') | None);
        if !indented {
            let exception = &tail[offset..];
            let (class, message) = match exception.find(':') {
                Some(colon) => (&exception[..colon], &exception[colon + 1..]),
                None => (exception.trim_end(), ""),
            };
            let class = class.trim();
            let valid = !class.is_empty()
                && class
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            if valid {
                return Some((class.to_owned(), message.trim().to_owned()));
            }
            return None;
        }
        offset += line.len();
    }
    None
}

/// Classify an XML-RPC fault.
pub(crate) fn classify_xmlrpc_fault(code: &FaultCode, fault_string: &str) -> Classified {
    match code {
        FaultCode::Int(1) => classify_traceback_text(fault_string),
        FaultCode::Int(2) => Classified::Error(classify_user_error(clean_message(fault_string))),
        FaultCode::Int(3) => Classified::Error(OdooError::AccessDenied {
            message: clean_message(fault_string),
        }),
        FaultCode::Int(4) => Classified::Error(OdooError::AccessError {
            message: clean_message(fault_string),
        }),
        FaultCode::Int(_) => classify_traceback_text(fault_string),
        FaultCode::Text(text) => classify_legacy_fault(text, fault_string),
    }
}

/// A fault whose string is (or may be) a Python traceback.
fn classify_traceback_text(text: &str) -> Classified {
    if let Some((class, message)) = parse_traceback(text) {
        tracing::debug!(target: "warden_odoo::error", exception = %class, traceback = %text, "odoo raised an exception");
        return classify_by_name(&class, &message);
    }
    Classified::Error(OdooError::Server {
        message: clean_message(text),
    })
}

/// The legacy `/xmlrpc/<service>` endpoint: `"warning -- AccessError\n\n<message>"` in the code.
fn classify_legacy_fault(code: &str, fault_string: &str) -> Classified {
    if let Some(rest) = code.strip_prefix("warning -- ") {
        let (class, message) = match rest.find('\n') {
            Some(newline) => (&rest[..newline], &rest[newline..]),
            None => (rest, ""),
        };
        return classify_by_name(class.trim(), message);
    }
    if code.trim() == "AccessDenied" {
        return Classified::Error(OdooError::AccessDenied {
            message: "Access Denied".to_owned(),
        });
    }
    if code.contains("Traceback") {
        return classify_traceback_text(code);
    }
    if fault_string.contains("Traceback") {
        return classify_traceback_text(fault_string);
    }
    let message = if fault_string.trim().is_empty() {
        code
    } else {
        fault_string
    };
    Classified::Error(OdooError::Server {
        message: clean_message(message),
    })
}

/// An XML-RPC fault code: an int on `/xmlrpc/2/*`, a string on the legacy endpoint.
#[derive(Debug, Clone)]
pub(crate) enum FaultCode {
    Int(i64),
    Text(String),
}

/// Classify a JSON-RPC `error` object (`{"code", "message", "data": {"name", "message", "debug"}}`).
pub(crate) fn classify_jsonrpc_error(error: &serde_json::Value) -> Classified {
    let code = error.get("code").and_then(serde_json::Value::as_i64);
    let data = error.get("data");
    let name = data
        .and_then(|d| d.get("name"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    let message = data
        .and_then(|d| d.get("message"))
        .and_then(serde_json::Value::as_str)
        .or_else(|| error.get("message").and_then(serde_json::Value::as_str))
        .unwrap_or("");
    if let Some(debug_text) = data
        .and_then(|d| d.get("debug"))
        .and_then(serde_json::Value::as_str)
    {
        tracing::debug!(target: "warden_odoo::error", exception = %name, traceback = %debug_text, "odoo raised an exception");
    }
    if code == Some(100) || name.ends_with("SessionExpiredException") {
        return Classified::Error(OdooError::SessionExpired {
            message: clean_message(message),
        });
    }
    if name.is_empty() {
        return Classified::Error(OdooError::Server {
            message: clean_message(message),
        });
    }
    classify_by_name(name, message)
}

/// Classify a JSON-2 error answer: the HTTP status and the `{"name", "message"}` body.
pub(crate) fn classify_json2_error(status: u16, body: &serde_json::Value) -> OdooError {
    let name = body
        .get("name")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    let message = body
        .get("message")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    if let Some(debug_text) = body.get("debug").and_then(serde_json::Value::as_str) {
        tracing::debug!(target: "warden_odoo::error", exception = %name, traceback = %debug_text, "odoo raised an exception");
    }
    let by_name = if name.is_empty() {
        None
    } else {
        match classify_by_name(name, message) {
            Classified::Error(OdooError::Server { .. }) => None,
            Classified::Error(error) => Some(error),
            Classified::NoneResult => None,
        }
    };
    if let Some(error) = by_name {
        // A 404 is an unknown model or an unknown method: tell them apart by the message.
        if status == 404 {
            let lower = message.to_ascii_lowercase();
            if lower.contains("model") && !lower.contains("method") {
                return OdooError::UnknownModel {
                    message: clean_message(message),
                };
            }
        }
        return error;
    }
    let message = clean_message(message);
    match status {
        400 | 422 => OdooError::InvalidRequest { message },
        401 => OdooError::AccessDenied { message },
        403 => OdooError::AccessError { message },
        404 => OdooError::UnknownMethod { message },
        _ if status >= 500 => OdooError::Server { message },
        _ => OdooError::Http { status },
    }
}

/// Text of an HTML error page (`<p>...</p>` content, or the stripped body), unescaped.
pub(crate) fn html_error_text(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let inner = match (text.find("<p>"), text.rfind("</p>")) {
        (Some(start), Some(end)) if end > start + 3 => text[start + 3..end].to_owned(),
        _ => {
            let mut out = String::new();
            let mut in_tag = false;
            for c in text.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    _ if !in_tag => out.push(c),
                    _ => {}
                }
            }
            out
        }
    };
    let unescaped = inner
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let collapsed: String = unescaped.split_whitespace().collect::<Vec<_>>().join(" ");
    let limited: String = collapsed.chars().take(300).collect();
    if limited.is_empty() {
        "bad request".to_owned()
    } else {
        clean_message(&limited)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceback_last_exception_is_found() {
        let text = "Traceback (most recent call last):\n  File \"/opt/odoo/x.py\", line 1, in f\n    raise ValueError('x')\nValueError: Invalid field a.b in leaf\n";
        let (class, message) = parse_traceback(text).expect("parsed");
        assert_eq!(class, "ValueError");
        assert_eq!(message, "Invalid field a.b in leaf");
    }

    #[test]
    fn unknown_database_hides_the_server() {
        let raw = "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  database \"nosuchdb\" does not exist\n";
        match classify_by_name("psycopg2.OperationalError", raw) {
            Classified::Error(OdooError::UnknownDatabase { message }) => {
                assert_eq!(message, "database \"nosuchdb\" does not exist");
            }
            _ => panic!("expected UnknownDatabase"),
        }
    }

    #[test]
    fn html_page_text_is_extracted() {
        let body =
            b"<!doctype html><p>Request inferred type is compatible with [&#39;http&#39;]</p>";
        assert_eq!(
            html_error_text(body),
            "Request inferred type is compatible with ['http']"
        );
    }
}
