//! Odoo-shaped application errors: exception class, message, and the Python-style traceback Odoo
//! puts in `data.debug` (JSON-RPC) or `faultString` (XML-RPC fault 1).

/// The Odoo (or Python) exception class an error is reported as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    AccessError,
    AccessDenied,
    UserError,
    ValidationError,
    MissingError,
    ValueError,
    AttributeError,
    TypeError,
    KeyError,
    OperationalError,
    SessionExpired,
}

impl Kind {
    /// The qualified name Odoo reports in `data.name`.
    pub(crate) fn qualified_name(self) -> &'static str {
        match self {
            Kind::AccessError => "odoo.exceptions.AccessError",
            Kind::AccessDenied => "odoo.exceptions.AccessDenied",
            Kind::UserError => "odoo.exceptions.UserError",
            Kind::ValidationError => "odoo.exceptions.ValidationError",
            Kind::MissingError => "odoo.exceptions.MissingError",
            Kind::ValueError => "builtins.ValueError",
            Kind::AttributeError => "builtins.AttributeError",
            Kind::TypeError => "builtins.TypeError",
            Kind::KeyError => "builtins.KeyError",
            Kind::OperationalError => "psycopg2.OperationalError",
            Kind::SessionExpired => "odoo.http.SessionExpiredException",
        }
    }

    /// The class name as Python prints it on the last traceback line.
    fn traceback_name(self) -> &'static str {
        match self {
            Kind::ValueError => "ValueError",
            Kind::AttributeError => "AttributeError",
            Kind::TypeError => "TypeError",
            Kind::KeyError => "KeyError",
            other => other.qualified_name(),
        }
    }

    /// The integer faultCode of `/xmlrpc/2/*`.
    pub(crate) fn fault_code(self) -> i32 {
        match self {
            Kind::UserError | Kind::ValidationError | Kind::MissingError => 2,
            Kind::AccessDenied => 3,
            Kind::AccessError => 4,
            _ => 1,
        }
    }

    /// The short class name used by the legacy `/xmlrpc/<service>` string faultCode.
    fn legacy_title(self) -> &'static str {
        match self {
            Kind::AccessError => "AccessError",
            Kind::UserError => "UserError",
            Kind::ValidationError => "ValidationError",
            Kind::MissingError => "MissingError",
            _ => "Error",
        }
    }

    /// HTTP status of this error on the JSON-2 API.
    pub(crate) fn json2_status(self) -> u16 {
        match self {
            Kind::AccessDenied | Kind::SessionExpired => 401,
            Kind::AccessError => 403,
            Kind::MissingError => 404,
            Kind::UserError | Kind::ValidationError => 422,
            _ => 500,
        }
    }
}

/// An application error as Odoo reports it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct OdooError {
    pub(crate) kind: Kind,
    pub(crate) message: String,
}

/// The frames Odoo's `type=json` routes have in common, from the transaction down to the endpoint.
const JSON_ROUTE_FRAMES: [Frame; 6] = [
    (
        "odoo/http.py",
        1954,
        "_transactioning",
        "return service_model.retrying(func, env=self.env)",
    ),
    ("odoo/service/model.py", 137, "retrying", "result = func()"),
    (
        "odoo/http.py",
        1921,
        "_serve_ir_http",
        "response = self.dispatcher.dispatch(rule.endpoint, args)",
    ),
    (
        "odoo/http.py",
        2168,
        "dispatch",
        "result = self.request.registry['ir.http']._dispatch(endpoint)",
    ),
    (
        "odoo/addons/base/models/ir_http.py",
        329,
        "_dispatch",
        "result = endpoint(**request.params)",
    ),
    (
        "odoo/http.py",
        727,
        "route_wrapper",
        "result = endpoint(self, *args, **params_ok)",
    ),
];

type Frame = (&'static str, u32, &'static str, &'static str);

impl OdooError {
    pub(crate) fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn access(message: impl Into<String>) -> Self {
        Self::new(Kind::AccessError, message)
    }

    pub(crate) fn user(message: impl Into<String>) -> Self {
        Self::new(Kind::UserError, message)
    }

    pub(crate) fn validation(message: impl Into<String>) -> Self {
        Self::new(Kind::ValidationError, message)
    }

    pub(crate) fn value(message: impl Into<String>) -> Self {
        Self::new(Kind::ValueError, message)
    }

    pub(crate) fn type_error(message: impl Into<String>) -> Self {
        Self::new(Kind::TypeError, message)
    }

    pub(crate) fn access_denied() -> Self {
        Self::new(Kind::AccessDenied, "Access Denied")
    }

    pub(crate) fn unknown_database(db: &str) -> Self {
        Self::new(
            Kind::OperationalError,
            format!(
                "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  database \"{db}\" does not exist\n"
            ),
        )
    }

    pub(crate) fn session_expired() -> Self {
        Self::new(Kind::SessionExpired, "Session expired")
    }

    /// The legacy `/xmlrpc/<service>` faultCode string.
    pub(crate) fn legacy_fault_code(&self) -> String {
        match self.kind {
            Kind::AccessDenied => "AccessDenied".to_owned(),
            Kind::AccessError | Kind::UserError | Kind::ValidationError | Kind::MissingError => {
                format!(
                    "warning -- {}\n\n{}",
                    self.kind.legacy_title(),
                    self.message
                )
            }
            _ => self.traceback(Entry::XmlRpc),
        }
    }

    /// A Python-style traceback naming server files under /opt/odoo, as Odoo sends in `debug`.
    pub(crate) fn traceback(&self, entry: Entry) -> String {
        let mut out = String::from("Traceback (most recent call last):\n");
        let frames: &[(&str, u32, &str, &str)] = match entry {
            Entry::XmlRpc => &[
                (
                    "odoo/addons/base/controllers/rpc.py",
                    161,
                    "xmlrpc_2",
                    "response = self._xmlrpc(service)",
                ),
                (
                    "odoo/addons/base/controllers/rpc.py",
                    139,
                    "_xmlrpc",
                    "result = dispatch_rpc(service, method, params)",
                ),
                (
                    "odoo/http.py",
                    398,
                    "dispatch_rpc",
                    "return dispatch(method, params)",
                ),
            ],
            Entry::JsonRpc => &[
                JSON_ROUTE_FRAMES.as_slice(),
                &[
                    (
                        "odoo/addons/base/controllers/rpc.py",
                        170,
                        "jsonrpc",
                        "return dispatch_rpc(service, method, args)",
                    ),
                    (
                        "odoo/http.py",
                        398,
                        "dispatch_rpc",
                        "return dispatch(method, params)",
                    ),
                ],
            ]
            .concat(),
            Entry::Web => &[
                JSON_ROUTE_FRAMES.as_slice(),
                &[(
                    "addons/web/controllers/dataset.py",
                    42,
                    "call_kw",
                    "return call_kw(request.env[model], method, args, kwargs)",
                )],
            ]
            .concat(),
        };
        for (file, line, func, code) in frames {
            push_frame(&mut out, file, *line, func, code);
        }
        let last: (&str, u32, &str, &str) = match self.kind {
            Kind::AccessError => ("odoo/models.py", 4362, "check_access", "raise result[1]()"),
            Kind::AccessDenied => (
                "odoo/addons/base/models/res_users.py",
                2284,
                "_check_credentials",
                "raise AccessDenied()",
            ),
            Kind::UserError => (
                "odoo/service/model.py",
                51,
                "execute_cr",
                "raise UserError(message)",
            ),
            Kind::ValidationError => ("odoo/models.py", 1599, "_validate_fields", "check(self)"),
            Kind::MissingError => (
                "odoo/fields.py",
                1272,
                "__get__",
                "raise MissingError(\"\\n\".join([",
            ),
            Kind::ValueError => (
                "odoo/osv/expression.py",
                374,
                "_anyfy_leaves",
                "raise ValueError(message)",
            ),
            Kind::AttributeError => (
                "odoo/api.py",
                500,
                "call_kw",
                "raise AttributeError(message)",
            ),
            Kind::TypeError => (
                "odoo/api.py",
                484,
                "call_kw",
                "result = method(recs, *args, **kwargs)",
            ),
            Kind::KeyError => (
                "odoo/osv/expression.py",
                1116,
                "parse",
                "comodel = model.env[field.comodel_name]",
            ),
            Kind::OperationalError => (
                "/opt/odoo/venv/lib/python3.11/site-packages/psycopg2/__init__.py",
                122,
                "connect",
                "conn = _connect(dsn, connection_factory=connection_factory, **kwasync)",
            ),
            Kind::SessionExpired => (
                "odoo/addons/base/models/ir_http.py",
                244,
                "_auth_method_user",
                "raise http.SessionExpiredException(\"Session expired\")",
            ),
        };
        push_frame(&mut out, last.0, last.1, last.2, last.3);
        out.push_str(self.kind.traceback_name());
        out.push_str(": ");
        out.push_str(&self.message);
        out.push('\n');
        out
    }
}

/// Which server entry point the traceback starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    XmlRpc,
    JsonRpc,
    Web,
}

fn push_frame(out: &mut String, file: &str, line: u32, func: &str, code: &str) {
    let path = if file.starts_with('/') {
        file.to_owned()
    } else {
        format!("/opt/odoo/src/{file}")
    };
    out.push_str(&format!(
        "  File \"{path}\", line {line}, in {func}\n    {code}\n"
    ));
    out.push_str("    ");
    out.push_str(&"^".repeat(code.len()));
    out.push('\n');
}

/// Python `repr` of a JSON value (strings in single quotes, True/False/None), used in messages.
pub(crate) fn py_repr(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let mut out = String::from("'");
            for c in s.chars() {
                match c {
                    '\'' => out.push_str("\\'"),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    c => out.push(c),
                }
            }
            out.push('\'');
            out
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(py_repr).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", py_repr(&Value::String(k.clone())), py_repr(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}
