//! `warden-odoo`: an async Odoo client for XML-RPC, JSON-RPC, web sessions and JSON-2, with
//! typed errors and secure defaults.
//!
//! Values are [`serde_json::Value`] throughout and Odoo's conventions are kept as sent
//! (`false` for empty values, many2one as `[id, "name"]`, dates as strings).
//!
//! ```no_run
//! # async fn demo() -> Result<(), warden_odoo::OdooError> {
//! use secrecy::SecretString;
//! use warden_odoo::{Credential, OdooClient, OdooConfig, SearchRead};
//!
//! let url = url::Url::parse("https://odoo.example.com").expect("valid url");
//! let key = SecretString::from("0123456789abcdef0123456789abcdef01234567".to_owned());
//! let client = OdooClient::new(OdooConfig::new(url, "odoo", "admin", Credential::ApiKey(key)))?;
//! let partners = client
//!     .search_read("res.partner", &SearchRead { limit: Some(5), ..SearchRead::default() })
//!     .await?;
//! # let _ = partners;
//! # Ok(())
//! # }
//! ```
//!
//! Security: TLS certificates are verified (webpki roots plus configured CAs) with TLS 1.2 or
//! newer; plain HTTP is refused except to loopback; URLs with user info are refused; every
//! call is bounded in time and answer size; secrets never appear in `Debug`, `Display`, logs
//! or errors.

mod client;
mod config;
mod error;
pub mod timing;
mod tls;
mod types;
pub mod wire;

pub use client::OdooClient;
pub use config::{Credential, OdooConfig, ParseProtocolError, Protocol, TlsOptions};
pub use error::{ErrorKind, OdooError, Origin};
pub use types::{ReadGroup, SearchRead, ServerVersion};

pub use secrecy::SecretString;
