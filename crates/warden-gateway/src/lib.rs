//! `warden-gateway`: the odoo-warden engine. It takes a decoded MCP message and the caller, and
//! returns the response: tools, resources and prompts over Odoo. It knows no transport.

pub mod catalog;
pub mod engine;
pub mod runtime;

mod confirm;
pub mod shared;
mod trace;
