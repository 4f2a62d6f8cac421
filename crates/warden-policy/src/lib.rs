//! odoo-warden's access policy, as data and pure decisions: which key may call, from where, how
//! often, and what it may see and do in Odoo.
//!
//! The crate does no I/O, reads no environment and owns no task: time comes in as arguments
//! (`SystemTime`) and, for rate limits, through governor's [`Clock`](governor::clock::Clock).
//! [`Policy::compile`] validates an administrator's [`PolicyConfig`] and [`KeyStoreFile`];
//! the gateway then asks, on every request, [`Policy::check_ip_global`],
//! [`Policy::authenticate`] / [`Policy::principal`], [`Policy::check_ip`],
//! [`RateLimiter::check`] and [`Profile::check`].
//!
//! How rules combine:
//! - **Unknown is denied.** A model is visible only when a `models.allow` pattern matches it; an
//!   operation, a method or a written field only when an allow list names it. Fields are the one
//!   default-open list: readable unless denied, until a `fields.read.allow` list applies to the
//!   model, which then limits reads to what it names.
//! - **Deny wins.** A matching deny pattern (models, operations, methods, fields, IP) refuses,
//!   whatever any allow list says, at any level.
//! - **Allow lists add up through inheritance.** A profile gets the rules of every profile it
//!   extends (several levels, diamonds included; cycles are an error): allow and deny lists are
//!   joined; a model rule (`model."PATTERN"`) adds to the profile-wide rules for the models it
//!   matches. Bounds take the strictest value, `confirm_writes` is on when any level sets it,
//!   and the identity is the profile's own or the first found in `extends` order.
//! - **Private methods** (`_name`) are never callable; `id` is readable on every visible model
//!   and never writable.
//! - **IP rules** are checked global, then profile, then key: each level must allow the
//!   address; in each, deny wins and an empty allow list means any. Calls over stdio carry no
//!   address and match only the word `stdio`.
//! - **Keys** are stored as SHA-256 hashes and compared in constant time; a rotated-out secret
//!   works until its grace period ends; revoked, expired and not-yet-valid keys are refused.

pub mod config;
mod error;
mod glob;
mod ip;
pub mod keys;
mod policy;
mod profile;
mod rate;

pub use config::{
    FieldRules, GlobLists, IpRulesConfig, KeyRateLimitConfig, KeyRecord, KeyStoreFile,
    ModelRuleConfig, OperationLists, OperationName, OperationName as Operation, PolicyConfig,
    PreviousSecret, ProfileConfig, RateLimitConfig, ReadLists,
};
pub use error::{AuthError, PolicyError};
pub use policy::{Explanation, KeyInfo, OAUTH_PREFIX, Policy, Principal};
pub use profile::{Denial, DenialKind, FieldRef, FieldUse, Profile, Request};
pub use rate::{Budget, RateLimiter, address_key};

impl OperationName {
    /// The name as written in `operations` lists: `read`, `create`, `write`, `delete`, `call`.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationName::Read => "read",
            OperationName::Create => "create",
            OperationName::Write => "write",
            OperationName::Delete => "delete",
            OperationName::Call => "call",
        }
    }
}

impl std::fmt::Display for OperationName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
