//! The MCP protocol layer of odoo-warden: JSON-RPC 2.0 framing, typed MCP messages and protocol
//! version negotiation for both protocol eras, as pure functions over bytes and JSON values.
//!
//! Nothing here performs I/O or knows about Odoo. The gateway uses this crate to:
//!
//! - classify every incoming line with [`decode`] (request, notification or response), turning
//!   malformed input into a [`DecodeError`] that can build the JSON-RPC error response to send;
//! - negotiate the protocol revision: [`negotiate`] for the legacy `initialize` handshake,
//!   [`RequestMeta::from_request`] for the per-request `_meta` of the 2026-07-28 revision;
//! - parse typed parameters ([`Request::params_as`]) and build every outgoing message
//!   ([`result_response`], [`error_response`], [`notification`]), where [`result_response`] adapts
//!   the result to the revision in use (adding `resultType` for 2026-07-28, removing members an older
//!   revision does not know);
//! - page lists with opaque, checked [`Cursor`]s.
//!
//! Error codes and method names are constants in [`error_code`] and [`method`].

mod compat;
mod cursor;
pub mod error_code;
mod jsonrpc;
mod meta;
pub mod method;
mod rpc_error;
mod types;
mod version;

pub use compat::adapt_result;
pub use cursor::{Cursor, CursorError};
pub use jsonrpc::{
    DecodeError, Incoming, MAX_DEPTH, Notification, ParamsError, Request, Response,
    ResponsePayload, decode, error_response, error_response_from, notification, result_response,
};
pub use jsonrpsee_types::{ErrorCode, ErrorObject, ErrorObjectOwned, Id};
pub use meta::{MetaError, RequestMeta, meta_key};
pub use rpc_error::RpcError;
pub use types::*;
pub use version::{
    Era, LATEST, LATEST_LEGACY, ProtocolVersion, SUPPORTED, UnknownVersion, negotiate,
};

/// A request id as it travels in this crate: an owned JSON-RPC [`Id`].
pub type RequestId = Id<'static>;
