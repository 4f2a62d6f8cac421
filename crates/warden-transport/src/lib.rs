//! `warden-transport`: how messages reach the gateway engine. Today: newline-delimited JSON-RPC
//! over stdio ([`stdio`]). The transport owns framing, message-size limits, concurrency and
//! shutdown; it knows nothing of MCP methods or Odoo.

pub mod stdio;
