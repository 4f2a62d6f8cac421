//! `warden-transport`: how messages reach the gateway engine. Today: newline-delimited JSON-RPC
//! over stdio ([`stdio`]). The transport owns framing, message-size limits, concurrency and
//! shutdown; it knows nothing of MCP methods or Odoo.
//!
//! [`setup`] turns a configuration into the gateway's runtime; [`reload`] swaps in a new one on
//! SIGHUP and when the configuration's files change.

pub mod reload;
pub mod setup;
pub mod stdio;
