//! `warden-transport`: how messages reach the gateway engine: newline-delimited JSON-RPC over
//! stdio ([`stdio`]) and MCP Streamable HTTP ([`http`]). The transport owns framing, sizes and
//! time limits, concurrency, sessions, the client's address and credentials, and shutdown; the
//! MCP methods themselves are the engine's.
//!
//! [`setup`] turns a configuration into the gateway's runtime and audit pipeline; [`reload`] swaps
//! in a new runtime on SIGHUP and when the configuration's files change.

pub mod http;
pub mod reload;
pub mod setup;
pub mod stdio;
