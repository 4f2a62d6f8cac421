//! Errors: [`PolicyError`] for configurations and key stores that cannot be used, [`AuthError`]
//! for secrets that do not authenticate.

/// `"<at>: "`, or nothing when there is no location.
fn loc(at: &str) -> String {
    if at.is_empty() {
        String::new()
    } else {
        format!("{at}: ")
    }
}

/// Why a policy, a key store or a key-store operation was refused. One line; names the
/// profile, key or setting (e.g. `profiles.sales.extends: cycle sales -> base -> sales`); never
/// contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A profile named in `extends` or by a key does not exist.
    #[error("{}unknown profile \"{name}\"", loc(.at))]
    UnknownProfile {
        /// Where it is named.
        at: String,
        /// The missing profile.
        name: String,
    },
    /// Profiles extend each other in a circle.
    #[error("{}cycle {chain}", loc(.at))]
    Cycle {
        /// Where the cycle was found.
        at: String,
        /// The circle, e.g. `sales -> base -> sales`.
        chain: String,
    },
    /// A profile has no Odoo identity, neither its own nor inherited.
    #[error("profiles.{profile}.identity: missing (set it here or in a profile it extends)")]
    NoIdentity {
        /// The profile.
        profile: String,
    },
    /// A profile names an Odoo identity that is not configured.
    #[error("{}unknown identity \"{name}\" (not declared under [odoo.identities])", loc(.at))]
    UnknownIdentity {
        /// Where it is named.
        at: String,
        /// The identity.
        name: String,
    },
    /// A glob pattern is empty or uses characters outside `A-Za-z0-9_.*?-`.
    #[error("{}bad pattern \"{pattern}\": {reason}", loc(.at))]
    Pattern {
        /// Where it is written.
        at: String,
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An IP rule entry is not an address, a CIDR block or `stdio`.
    #[error("{}\"{value}\" is not an IP address, a CIDR block or \"stdio\"", loc(.at))]
    Address {
        /// Where it is written.
        at: String,
        /// The entry.
        value: String,
    },
    /// Two keys in the key store have the same id.
    #[error("key {id}: duplicate key id")]
    DuplicateKey {
        /// The id.
        id: String,
    },
    /// A key id is not `k_` and 12 lowercase hex digits.
    #[error("{}bad key id \"{value}\" (expected k_ and 12 lowercase hex digits)", loc(.at))]
    KeyId {
        /// Where it is written.
        at: String,
        /// The id.
        value: String,
    },
    /// A hash is not `sha256:` and 64 lowercase hex digits (the value is not repeated).
    #[error("{}bad hash (expected sha256: and 64 lowercase hex digits)", loc(.at))]
    Hash {
        /// Where it is written.
        at: String,
    },
    /// A timestamp is not RFC 3339 UTC.
    #[error("{}bad time \"{value}\" (expected RFC 3339 UTC, e.g. 2026-11-23T00:00:00Z)", loc(.at))]
    Time {
        /// Where it is written (empty when parsed on its own).
        at: String,
        /// The text.
        value: String,
    },
    /// A duration is not like `90d`, `12h` or `30m`.
    #[error("bad duration \"{value}\" (expected e.g. 90d, 12h or 30m)")]
    Duration {
        /// The text.
        value: String,
    },
    /// A rate is 0.
    #[error("{}0 is not a rate (leave the setting out for no limit)", loc(.at))]
    ZeroRate {
        /// The setting.
        at: String,
    },
    /// A bound (`max_records`, `max_write_ids`) is 0.
    #[error("{}must be at least 1", loc(.at))]
    ZeroBound {
        /// The setting.
        at: String,
    },
    /// A `records` domain is not a well-formed Odoo domain (a JSON array of terms).
    #[error("{}{reason}", loc(.at))]
    Records {
        /// Where it is written.
        at: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A key name is empty, too long or uses characters outside `A-Za-z0-9._-`.
    #[error("bad key name \"{value}\" (1 to 64 of A-Z a-z 0-9 . _ -)")]
    KeyName {
        /// The name.
        value: String,
    },
    /// A key name is already used by a key that is not revoked.
    #[error("key name \"{name}\" is already used by key {id}")]
    DuplicateName {
        /// The name.
        name: String,
        /// The key using it.
        id: String,
    },
    /// No key has this id.
    #[error("no key with id \"{id}\"")]
    KeyNotFound {
        /// The id.
        id: String,
    },
    /// The key is revoked, so it cannot be rotated.
    #[error("key {id} is revoked")]
    KeyRevoked {
        /// The id.
        id: String,
    },
    /// The key store is not valid TOML or has unknown or missing keys.
    #[error("key store, line {line}: {message}")]
    Toml {
        /// 1-based line of the problem.
        line: usize,
        /// The parser's message, on one line.
        message: String,
    },
}

/// Why a presented secret does not authenticate. The message is short and never echoes the
/// secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Not shaped like a key secret (`owk_…`).
    #[error("malformed key")]
    Malformed,
    /// No configured key has this secret (or the key id is unknown).
    #[error("unknown key")]
    Unknown,
    /// The key's `not_before` is still in the future.
    #[error("key not yet valid")]
    NotYetValid,
    /// The key has expired.
    #[error("key expired")]
    Expired,
    /// The key was revoked.
    #[error("key revoked")]
    Revoked,
}
