//! The per-request `_meta` of the 2026-07-28 revision: protocol version, client capabilities and
//! client identity travel with every request.

use jsonrpsee_types::{ErrorObjectOwned, Id};
use serde_json::{Map, Value, json};

use crate::error_code;
use crate::jsonrpc::{Request, error_response_from};
use crate::types::{ClientCapabilities, Implementation, LoggingLevel, ProgressToken};
use crate::version::ProtocolVersion;

/// Reserved `_meta` keys.
pub mod meta_key {
    /// The protocol revision of a request.
    pub const PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
    /// The client's capabilities for a request.
    pub const CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
    /// The client's name and version.
    pub const CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
    /// The log level the client wants for a request.
    pub const LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
    /// The server's name and version, on results.
    pub const SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
    /// The progress token of a request.
    pub const PROGRESS_TOKEN: &str = "progressToken";
}

/// The typed `_meta` of a 2026-07-28 request.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RequestMeta {
    /// The revision the request is written in.
    pub protocol_version: ProtocolVersion,
    /// The client's capabilities for this request.
    pub client_capabilities: ClientCapabilities,
    /// The client's self-reported identity, if sent (for display and logs only).
    pub client_info: Option<Implementation>,
    /// The log level the client opted in to, if any.
    pub log_level: Option<LoggingLevel>,
    /// The progress token, if the client wants progress notifications.
    pub progress_token: Option<ProgressToken>,
}

/// A request's `_meta` cannot be served.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MetaError {
    /// The request names a revision odoo-warden does not speak (`-32022`).
    #[error("unsupported protocol version")]
    UnsupportedVersion {
        /// The revision the client asked for.
        requested: String,
    },
    /// A required `_meta` member is missing or has the wrong type (`-32602`).
    #[error("invalid params: {reason}")]
    Invalid {
        /// What is wrong.
        reason: &'static str,
    },
    /// The request needs client capabilities the client did not declare (`-32021`).
    #[error("missing required client capability")]
    MissingCapability {
        /// The capabilities the request needs.
        required: Box<ClientCapabilities>,
    },
}

impl MetaError {
    /// The JSON-RPC error code.
    pub fn code(&self) -> i32 {
        match self {
            Self::UnsupportedVersion { .. } => error_code::UNSUPPORTED_PROTOCOL_VERSION,
            Self::Invalid { .. } => error_code::INVALID_PARAMS,
            Self::MissingCapability { .. } => error_code::MISSING_REQUIRED_CLIENT_CAPABILITY,
        }
    }

    /// The JSON-RPC error object, with the data the 2026-07-28 schema prescribes (`supported`
    /// and `requested` for an unsupported version, `requiredCapabilities` for a missing
    /// capability).
    pub fn error_object(&self) -> ErrorObjectOwned {
        let data = match self {
            Self::UnsupportedVersion { requested } => Some(json!({
                "supported": ProtocolVersion::supported_strings(),
                "requested": requested,
            })),
            Self::Invalid { .. } => None,
            Self::MissingCapability { required } => {
                Some(json!({ "requiredCapabilities": required }))
            }
        };
        ErrorObjectOwned::owned(self.code(), self.to_string(), data)
    }

    /// The error response to send for the request `id`.
    pub fn response(&self, id: &Id<'_>) -> Value {
        error_response_from(id, &self.error_object())
    }
}

impl RequestMeta {
    /// Reads the 2026-07-28 `_meta` of a request.
    ///
    /// `Ok(None)` when the request carries no `io.modelcontextprotocol/protocolVersion` (a
    /// legacy-era request, whose revision was negotiated by `initialize`).
    pub fn from_request(request: &Request) -> Result<Option<Self>, MetaError> {
        match request.meta() {
            Some(meta) => Self::from_meta(meta),
            None => Ok(None),
        }
    }

    /// Reads a `_meta` object; see [`RequestMeta::from_request`].
    pub fn from_meta(meta: &Map<String, Value>) -> Result<Option<Self>, MetaError> {
        let Some(version) = meta.get(meta_key::PROTOCOL_VERSION) else {
            return Ok(None);
        };
        let Some(version) = version.as_str() else {
            return Err(MetaError::Invalid {
                reason: "protocolVersion must be a string",
            });
        };
        let protocol_version =
            ProtocolVersion::parse(version).ok_or_else(|| MetaError::UnsupportedVersion {
                requested: version.to_owned(),
            })?;
        let client_capabilities = match meta.get(meta_key::CLIENT_CAPABILITIES) {
            Some(caps @ Value::Object(_)) => {
                serde_json::from_value(caps.clone()).map_err(|_| MetaError::Invalid {
                    reason: "clientCapabilities is malformed",
                })?
            }
            Some(_) => {
                return Err(MetaError::Invalid {
                    reason: "clientCapabilities must be an object",
                });
            }
            None => {
                return Err(MetaError::Invalid {
                    reason: "clientCapabilities is required",
                });
            }
        };
        let client_info = match meta.get(meta_key::CLIENT_INFO) {
            None => None,
            Some(info) => {
                Some(
                    serde_json::from_value(info.clone()).map_err(|_| MetaError::Invalid {
                        reason: "clientInfo is malformed",
                    })?,
                )
            }
        };
        let log_level = match meta.get(meta_key::LOG_LEVEL) {
            None => None,
            Some(level) => {
                Some(
                    serde_json::from_value(level.clone()).map_err(|_| MetaError::Invalid {
                        reason: "logLevel is not a log level",
                    })?,
                )
            }
        };
        let progress_token = match meta.get(meta_key::PROGRESS_TOKEN) {
            None => None,
            Some(token) => {
                Some(
                    serde_json::from_value(token.clone()).map_err(|_| MetaError::Invalid {
                        reason: "progressToken must be a string or an integer",
                    })?,
                )
            }
        };
        Ok(Some(Self {
            protocol_version,
            client_capabilities,
            client_info,
            log_level,
            progress_token,
        }))
    }

    /// Checks that the client declared every capability in `required`.
    pub fn require(&self, required: &ClientCapabilities) -> Result<(), MetaError> {
        if self.client_capabilities.covers(required) {
            Ok(())
        } else {
            Err(MetaError::MissingCapability {
                required: Box::new(required.clone()),
            })
        }
    }
}
