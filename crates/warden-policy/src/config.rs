//! The policy as written by an administrator: the `[network]`, `[rate_limits]` and
//! `[profiles.NAME]` sections of the configuration file, and the key store file.
//!
//! Every struct denies unknown keys: a typo must never widen access. These types only describe
//! the shape; [`crate::Policy::compile`] validates them (globs, CIDRs, inheritance, references)
//! and turns them into the structures decisions are taken on.
//!
//! ```toml
//! [network]
//! allow = ["10.0.0.0/8", "stdio"]
//!
//! [rate_limits]
//! per_key_per_minute = 120
//!
//! [profiles.readonly-base]
//! identity = "reader"
//! models = { allow = ["res.partner", "product.*"], deny = ["hr.*"] }
//! operations = { allow = ["read"] }
//! fields = { read = { deny = ["*email*", "vat"] } }
//!
//! [profiles.sales]
//! extends = ["readonly-base"]
//! identity = "sales"
//! models = { allow = ["sale.*"] }
//!
//! [profiles.sales.model."sale.order"]
//! operations = { allow = ["create", "write", "call"] }
//! methods = { allow = ["action_confirm"] }
//! fields = { write = { allow = ["note", "client_order_ref"] } }
//! records = [["company_id", "=", 1]]
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The policy part of the configuration.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Global IP rules (`[network]`), checked for every request before the profile's and key's.
    #[serde(default)]
    pub network: IpRulesConfig,
    /// Rate limits (`[rate_limits]`).
    #[serde(default)]
    pub rate_limits: RateLimitConfig,
    /// The profiles (`[profiles.NAME]`), by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, ProfileConfig>,
}

/// Allow and deny lists of client addresses.
///
/// Entries are CIDR blocks (`10.0.0.0/8`, `2001:db8::/32`), single addresses (`192.0.2.7`,
/// `::1`), or the word `stdio`, which stands for calls that arrive over stdio and carry no
/// address. IPv4-mapped IPv6 addresses (`::ffff:192.0.2.7`) are compared as IPv4. A deny match
/// wins; an empty allow list allows any address (and stdio).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IpRulesConfig {
    /// Addresses allowed; empty means any.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Addresses refused, whatever the allow list says.
    #[serde(default)]
    pub deny: Vec<String>,
}

/// Request budgets. A missing value means "no limit" for that scope; `0` is refused at
/// compile time (use `deny` rules to shut a key out).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests per minute, all keys together.
    pub global_per_minute: Option<u32>,
    /// Requests per minute for each key (a key's own `rate_limit` overrides it).
    pub per_key_per_minute: Option<u32>,
    /// Requests per minute from each client address.
    pub per_ip_per_minute: Option<u32>,
    /// Data-changing requests (create, write, delete, call) per minute for each key; counted in
    /// addition to the request budgets.
    pub writes_per_key_per_minute: Option<u32>,
    /// Failed authentications per minute from each client address before that address is
    /// refused outright (default 10).
    pub failed_auth_per_ip_per_minute: Option<u32>,
    /// How many requests may arrive at once above the steady rate (default: the per-minute
    /// budget divided by 6, at least 1, i.e. ten seconds' worth).
    pub burst: Option<u32>,
}

/// A key's own rate-limit overrides (`[key.rate_limit]` in the key store).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRateLimitConfig {
    /// Requests per minute for this key.
    pub per_minute: Option<u32>,
    /// Data-changing requests per minute for this key.
    pub writes_per_minute: Option<u32>,
}

/// An operation on a model's records, as named in `operations` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OperationName {
    /// Search, read, count, aggregate, find by name, read a record resource.
    Read,
    /// Create records.
    Create,
    /// Change records.
    Write,
    /// Delete records.
    Delete,
    /// Call a public model method (which must also be in a `methods` allow list).
    Call,
}

/// An allow list and a deny list of glob patterns (`*` matches any run of characters, `?` one
/// character), e.g. `sale.*`, `*email*`, `private_*`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GlobLists {
    /// Patterns allowed.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Patterns refused, whatever the allow list says.
    #[serde(default)]
    pub deny: Vec<String>,
}

/// Allow and deny lists of readable fields, and the derived fields kept readable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReadLists {
    /// Patterns allowed (when any applies to a model, only the fields it names are readable).
    #[serde(default)]
    pub allow: Vec<String>,
    /// Patterns refused, whatever the allow list says.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Fields that stay readable although Odoo computes them from a field this profile hides
    /// (`depends`/`related`), e.g. `display_name` when `email` is denied. Without it such a
    /// derived field is hidden too. It never makes a denied field readable.
    #[serde(default)]
    pub allow_derived: Vec<String>,
}

impl From<GlobLists> for ReadLists {
    /// Allow and deny lists, no derived field kept.
    fn from(lists: GlobLists) -> Self {
        Self {
            allow: lists.allow,
            deny: lists.deny,
            allow_derived: Vec::new(),
        }
    }
}

/// Allow and deny lists of operations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OperationLists {
    /// Operations allowed.
    #[serde(default)]
    pub allow: Vec<OperationName>,
    /// Operations refused, whatever any allow list says.
    #[serde(default)]
    pub deny: Vec<OperationName>,
}

/// Field rules: which fields may be read, which may be written.
///
/// Reading: a field is readable unless a `read.deny` pattern matches it, and, when any
/// `read.allow` list applies to the model, only if one of them matches it. Writing is allowlist
/// only: a field is writable when it is readable, a `write.allow` pattern matches it and no
/// `write.deny` pattern does (no mass assignment).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FieldRules {
    /// Readable fields.
    #[serde(default)]
    pub read: ReadLists,
    /// Writable fields.
    #[serde(default)]
    pub write: GlobLists,
}

/// One profile: what the keys bound to it may do, and as which Odoo user.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileConfig {
    /// What the profile is for, shown by `keys list` and `policy explain`.
    pub description: Option<String>,
    /// Parent profiles: their rules apply too (allow lists add up, any deny wins). Several
    /// levels are allowed; a cycle is a configuration error.
    #[serde(default)]
    pub extends: Vec<String>,
    /// The Odoo identity (`[odoo.identities.NAME]`) every Odoo call of this profile runs as.
    /// Inherited from the first parent (in `extends` order, depth first) that names one; a
    /// profile that ends up with none is a configuration error.
    pub identity: Option<String>,
    /// Which models are visible at all.
    #[serde(default)]
    pub models: GlobLists,
    /// Operations allowed on every visible model.
    #[serde(default)]
    pub operations: OperationLists,
    /// Methods `call_method` may call on every visible model (names or globs; private methods,
    /// whose names start with `_`, never).
    #[serde(default)]
    pub methods: GlobLists,
    /// Field rules for every visible model.
    #[serde(default)]
    pub fields: FieldRules,
    /// Rules for the models matching each pattern (a model name or a glob).
    #[serde(default)]
    pub model: BTreeMap<String, ModelRuleConfig>,
    /// Most records one call may return (a larger `limit` is reduced).
    pub max_records: Option<u32>,
    /// Most record ids one update, delete or method call may name.
    pub max_write_ids: Option<u32>,
    /// Whether data-changing tools ask the human for confirmation first (elicitation).
    pub confirm_writes: Option<bool>,
    /// Whether the audit log records the values of this profile's calls (tool arguments:
    /// domains' values, values written). Off by default: the log holds field names only.
    pub audit_values: Option<bool>,
    /// The profile's IP rules, checked after the global ones.
    #[serde(default)]
    pub network: IpRulesConfig,
}

/// Rules for the models matching one pattern, added to the profile-wide rules.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRuleConfig {
    /// Operations allowed (added to the profile's) or refused on these models.
    #[serde(default)]
    pub operations: OperationLists,
    /// Methods allowed or refused on these models.
    #[serde(default)]
    pub methods: GlobLists,
    /// Field rules on these models.
    #[serde(default)]
    pub fields: FieldRules,
    /// An Odoo domain every search, count and group on these models is restricted to, and
    /// that records named by id (read, update, delete, call, resources) must match, e.g.
    /// `[["company_id", "=", 1]]`. Several applicable domains are ANDed.
    pub records: Option<serde_json::Value>,
}

/// The key store: the keys' records, without their secrets (only SHA-256 hashes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeyStoreFile {
    /// The keys.
    #[serde(default, rename = "key")]
    pub keys: Vec<KeyRecord>,
}

/// One key's record in the key store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRecord {
    /// Stable identifier (also embedded in the secret), e.g. `k_3f9a0c1e5b7d`.
    pub id: String,
    /// A name for people, e.g. `claude-desktop-alice`.
    pub name: String,
    /// The profile the key acts under.
    pub profile: String,
    /// `sha256:` and the lowercase hex SHA-256 of the current secret.
    pub hash: String,
    /// When the key was created (RFC 3339, UTC).
    #[serde(deserialize_with = "timestamp::required")]
    pub created: String,
    /// Not valid before this instant (RFC 3339).
    #[serde(default, deserialize_with = "timestamp::optional")]
    pub not_before: Option<String>,
    /// Not valid from this instant on (RFC 3339).
    #[serde(default, deserialize_with = "timestamp::optional")]
    pub expires: Option<String>,
    /// When the key was revoked (RFC 3339); a revoked key never authenticates again.
    #[serde(default, deserialize_with = "timestamp::optional")]
    pub revoked: Option<String>,
    /// Secrets replaced by a rotation that keep working until their `until`.
    #[serde(default)]
    pub previous: Vec<PreviousSecret>,
    /// The key's own IP rules, checked after the global and profile ones.
    #[serde(default)]
    pub network: IpRulesConfig,
    /// The key's own rate limits, instead of the per-key defaults.
    #[serde(default)]
    pub rate_limit: KeyRateLimitConfig,
}

/// A rotated-out secret still accepted during its grace period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousSecret {
    /// `sha256:` and the hex SHA-256 of the old secret.
    pub hash: String,
    /// The old secret stops working at this instant (RFC 3339).
    #[serde(deserialize_with = "timestamp::required")]
    pub until: String,
}

/// Timestamps are kept as text; in a key store they may be written as TOML strings
/// (`"2026-11-23T00:00:00Z"`) or as bare TOML datetimes (`2026-11-23T00:00:00Z`).
mod timestamp {
    use std::fmt;

    use serde::de::value::MapAccessDeserializer;
    use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

    struct Text;

    impl<'de> Visitor<'de> for Text {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an RFC 3339 timestamp such as \"2026-11-23T00:00:00Z\"")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<String, A::Error> {
            toml::value::Datetime::deserialize(MapAccessDeserializer::new(map))
                .map(|d| d.to_string())
        }
    }

    struct OptionalText;

    impl<'de> Visitor<'de> for OptionalText {
        type Value = Option<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            Text.expecting(f)
        }

        fn visit_none<E: de::Error>(self) -> Result<Option<String>, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
            required(d).map(Some)
        }
    }

    pub(super) fn required<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        d.deserialize_any(Text)
    }

    pub(super) fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_option(OptionalText)
    }
}
