//! JSON-RPC and MCP error codes used by odoo-warden.
//!
//! The JSON-RPC 2.0 codes come from `jsonrpsee-types`; the MCP-specific ones are those of the
//! official schemas (the 2026-07-28 revision names -32020, -32021 and -32022).

/// Invalid JSON was received (`-32700`).
pub const PARSE_ERROR: i32 = jsonrpsee_types::error::PARSE_ERROR_CODE;
/// The message is not a valid JSON-RPC request object (`-32600`).
pub const INVALID_REQUEST: i32 = jsonrpsee_types::error::INVALID_REQUEST_CODE;
/// The method does not exist or is not available (`-32601`).
pub const METHOD_NOT_FOUND: i32 = jsonrpsee_types::error::METHOD_NOT_FOUND_CODE;
/// Invalid method parameters (`-32602`).
pub const INVALID_PARAMS: i32 = jsonrpsee_types::error::INVALID_PARAMS_CODE;
/// Internal error (`-32603`).
pub const INTERNAL_ERROR: i32 = jsonrpsee_types::error::INTERNAL_ERROR_CODE;
/// The requested resource does not exist (`-32002`, as the official SDKs use it).
pub const RESOURCE_NOT_FOUND: i32 = -32002;
/// HTTP headers disagree with the request body, or are missing or malformed (`-32020`,
/// `HeaderMismatchError` in 2026-07-28).
pub const HEADER_MISMATCH: i32 = -32020;
/// The request needs a client capability the client did not declare (`-32021`,
/// `MissingRequiredClientCapabilityError` in 2026-07-28).
pub const MISSING_REQUIRED_CLIENT_CAPABILITY: i32 = -32021;
/// The request's protocol version is not supported (`-32022`, `UnsupportedProtocolVersionError` in
/// 2026-07-28).
pub const UNSUPPORTED_PROTOCOL_VERSION: i32 = -32022;
