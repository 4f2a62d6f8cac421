//! Tool outcomes: a success with its structured result, or an error an agent can read — its
//! kind, a clear message and a hint. Odoo's failures become errors with Odoo's clean message
//! (never a traceback, a host or a path).

use serde_json::Value;
use warden_odoo::{ErrorKind, OdooError};

use super::{Denied, Inner, ToolError, ToolOutcome};

/// The refusal of a name the caller's rules hide: worded exactly as for a name that does not
/// exist (`message`), with the rule kept for the audit log.
pub(crate) fn hidden(message: String, rule: Option<String>) -> ToolOutcome {
    let mut outcome = invalid(message);
    if let Err(error) = &mut outcome.result {
        error.rule = rule;
    }
    outcome
}

/// A tool error for arguments refused before Odoo.
pub(crate) fn invalid(message: String) -> ToolOutcome {
    error_outcome("invalid_arguments", &message, None)
}

/// A tool error for a call the caller's access refuses.
pub(crate) fn denied_outcome(denied: &Denied) -> ToolOutcome {
    let hint = match denied.kind {
        "rate_limited" => "wait as the message says, then try again",
        _ => {
            "this key may not do this; use describe_model and list_models to see what it may use, or ask an administrator"
        }
    };
    error_outcome(denied.kind, &denied.message, Some(hint))
}

pub(crate) fn error_outcome(kind: &str, message: &str, hint: Option<&str>) -> ToolOutcome {
    let mut text = format!("error ({kind}): {message}");
    if let Some(hint) = hint {
        text.push_str("\nhint: ");
        text.push_str(hint);
    }
    ToolOutcome {
        text,
        result: Err(ToolError {
            kind: kind.to_owned(),
            message: message.to_owned(),
            hint: hint.map(str::to_owned),
            rule: None,
        }),
    }
}

/// A message about an Odoo error that is safe to show: Odoo's own clean message for errors
/// raised by Odoo, a fixed text for transport failures (which could name hosts or addresses).
pub(crate) fn safe_odoo_message(error: &OdooError) -> String {
    match error.kind() {
        ErrorKind::Timeout => error.to_string(),
        ErrorKind::Connect | ErrorKind::ConnectionLost => {
            "odoo is unreachable (the connection failed)".to_owned()
        }
        ErrorKind::Tls => "odoo is unreachable (the tls handshake failed)".to_owned(),
        ErrorKind::Http | ErrorKind::Unparseable => {
            "odoo answered with something that is not a valid answer".to_owned()
        }
        ErrorKind::ResponseTooLarge => error.to_string(),
        ErrorKind::Config => "the gateway's odoo connection is misconfigured".to_owned(),
        _ => error.to_string(),
    }
}

fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::AccessDenied => "access_denied",
        ErrorKind::AccessError => "access_error",
        ErrorKind::MissingRecord => "missing_record",
        ErrorKind::Validation => "validation",
        ErrorKind::UserError => "user_error",
        ErrorKind::UnknownModel => "unknown_model",
        ErrorKind::UnknownMethod => "unknown_method",
        ErrorKind::InvalidRequest | ErrorKind::InvalidArgument => "invalid_request",
        ErrorKind::Timeout => "timeout",
        ErrorKind::Connect | ErrorKind::ConnectionLost | ErrorKind::Tls => "unreachable",
        _ => "odoo_error",
    }
}

/// A tool error for a failed Odoo call: Odoo's clean message and a hint by kind.
pub(crate) fn odoo_error_outcome(error: &OdooError, inner: &Inner) -> ToolOutcome {
    let timeout = inner.odoo.config().timeout;
    let hint = match error.kind() {
        ErrorKind::AccessDenied => {
            "Odoo refused the gateway's credentials; the administrator must check the API key".to_owned()
        }
        ErrorKind::AccessError => {
            "the Odoo user behind this key may not do this (model access rights, record rules or field groups); try other records or fields, or ask an administrator".to_owned()
        }
        ErrorKind::MissingRecord => {
            "the record does not exist or was deleted; search for it first (search_records or find_by_name)".to_owned()
        }
        ErrorKind::Validation | ErrorKind::UserError => {
            "Odoo refused the operation or the values; fix them as the message says and try again".to_owned()
        }
        ErrorKind::UnknownModel => "use list_models to find the model's technical name".to_owned(),
        ErrorKind::UnknownMethod => {
            "the method does not exist on this model or cannot be called from outside".to_owned()
        }
        ErrorKind::InvalidRequest | ErrorKind::InvalidArgument => {
            "check the arguments (domain, fields, values) with describe_model".to_owned()
        }
        ErrorKind::Timeout => format!(
            "Odoo did not answer within {} s; narrow the query (domain, limit, fewer fields) or try again later",
            timeout.as_secs_f64()
        ),
        ErrorKind::Connect | ErrorKind::ConnectionLost | ErrorKind::Tls => {
            "Odoo is unreachable; try again later".to_owned()
        }
        ErrorKind::ResponseTooLarge => {
            "ask for fewer records or fewer fields".to_owned()
        }
        _ => "try again later; if the problem persists, tell an administrator".to_owned(),
    };
    tracing::debug!(kind = ?error.kind(), "odoo call failed");
    error_outcome(
        kind_name(error.kind()),
        &safe_odoo_message(error),
        Some(&hint),
    )
}

pub(crate) fn success(summary: String, structured: Value) -> ToolOutcome {
    let json = serde_json::to_string(&structured).unwrap_or_else(|_| "{}".to_owned());
    ToolOutcome {
        text: format!("{summary}\n{json}"),
        result: Ok(structured),
    }
}
