//! OAuth 2.1 resource server: the gateway accepts access tokens (JWTs) issued by an external
//! authorization server, checks them itself, and maps each one to a policy profile. There is no
//! authorization server here, no token introspection and no token issuance.
//!
//! A token is accepted when, in this order:
//!
//! 1. it is a JWS in compact form (`header.payload.signature`, base64url without padding) of at
//!    most [`MAX_TOKEN_BYTES`], with no `crit` header;
//! 2. its `alg` is one of [`OAuthConfig::algorithms`] (RSA PKCS#1 / PSS, ECDSA P-256 / P-384 or
//!    Ed25519; `none` and the HMAC algorithms cannot even be named, so a public key can never be
//!    used as an HMAC secret);
//! 3. a key of the authorization server's JWKS ([`OAuthConfig::jwks_url`]) matches its `kid` (a
//!    token without `kid` needs a JWKS with exactly one suitable key), its `alg` (the key's
//!    `kty`, `crv` and, when given, `alg`) and is meant for signatures (`use`, `key_ops`). Keys
//!    embedded in the token (`jwk`, `jku`, `x5u`, `x5c`) are never looked at;
//! 4. the signature verifies (with `ring`);
//! 5. `iss` is exactly [`OAuthConfig::issuer`], `aud` (a string or an array) contains
//!    [`OAuthConfig::audience`] exactly (RFC 8707: this server's canonical URL), `exp` is present
//!    and later than now minus the leeway, `nbf` and `iat` (when present) are not later than now
//!    plus the leeway;
//! 6. every [`OAuthConfig::required_scopes`] is granted (`scope`, space-separated, or `scp`, a
//!    string or an array; both are read);
//! 7. a [`ClaimMapping`] matches: the first one in order gives the [`Identity::profile`].
//!
//! The JWKS is fetched on first use and kept for [`OAuthConfig::jwks_cache_ttl`]. A `kid` it
//! does not hold (a key rotation) triggers a refetch, but fetches (successful or not) are at
//! least [`OAuthConfig::jwks_refresh_min_interval`] apart, so a stream of tokens with made-up
//! key ids costs one fetch per interval, not one per request. A failed fetch keeps the keys
//! already known (a stale set is better than none); with no keys at all the token is refused
//! with [`TokenError::JwksUnavailable`]. One fetch runs at a time; each is bounded by
//! [`OAuthConfig::http_timeout`] and [`MAX_JWKS_BYTES`], follows no redirect, and goes over
//! rustls (ring provider, webpki roots), `https://` only unless the host is loopback.
//!
//! The refetch throttle uses the monotonic clock; the token's time claims are checked against
//! the `now` given to [`Validator::validate`].
//!
//! [`protected_resource_metadata`] is the RFC 9728 document to serve at the paths
//! [`metadata_paths`] gives; [`TokenError::www_authenticate`] and [`bearer_challenge`] build the
//! `WWW-Authenticate` challenges (RFC 6750, RFC 9728) pointing clients at it.
//!
//! Not checked: `typ` (many authorization servers issue `JWT` rather than RFC 9068's `at+jwt`;
//! the audience check is what keeps ID tokens and tokens for other resources out), `jti`
//! (no replay cache) and revocation (tokens are short-lived; there is no introspection).
//!
//! No error message ever holds the token or any part of it (an unknown `alg` is only named when
//! it is a short alphanumeric word).

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::StatusCode;
use serde_json::{Map, Value, json};

/// Largest token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Largest JWKS document read, in bytes.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;

/// Most keys kept from one JWKS document (the first ones usable).
pub const MAX_JWKS_KEYS: usize = 64;

/// Longest `kid` accepted, in bytes.
const MAX_KID_BYTES: usize = 256;

/// Longest RSA modulus accepted, in bytes (8192 bits, ring's own limit).
const MAX_RSA_MODULUS_BYTES: usize = 1024;

/// The `User-Agent` of JWKS requests.
const USER_AGENT: &str = concat!("odoo-warden/", env!("CARGO_PKG_VERSION"));

/// The path of the RFC 9728 metadata document, without the resource's own path.
const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// A JWS signature algorithm that may be accepted. Only asymmetric algorithms exist here:
/// `none` and `HS256`/`HS384`/`HS512` have no variant and are always refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (`RS256`), modulus 2048 to 8192 bits.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384 (`RS384`).
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512 (`RS512`).
    Rs512,
    /// RSASSA-PSS with SHA-256 (`PS256`).
    Ps256,
    /// RSASSA-PSS with SHA-384 (`PS384`).
    Ps384,
    /// RSASSA-PSS with SHA-512 (`PS512`).
    Ps512,
    /// ECDSA on P-256 with SHA-256 (`ES256`).
    Es256,
    /// ECDSA on P-384 with SHA-384 (`ES384`).
    Es384,
    /// Ed25519 (`EdDSA` with an `OKP` key on curve `Ed25519`).
    EdDsa,
}

impl Algorithm {
    /// Every algorithm, in the order of the enum.
    pub const ALL: [Algorithm; 9] = [
        Algorithm::Rs256,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Ps256,
        Algorithm::Ps384,
        Algorithm::Ps512,
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::EdDsa,
    ];

    /// The JOSE name (`RS256`, `ES256`, `EdDSA`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::EdDsa => "EdDSA",
        }
    }

    /// The algorithm a JOSE name stands for (exact, case-sensitive, as RFC 7515 says).
    pub fn from_jose(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    fn verification(self) -> &'static dyn ring::signature::VerificationAlgorithm {
        use ring::signature as s;
        match self {
            Algorithm::Rs256 => &s::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::Rs384 => &s::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::Rs512 => &s::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::Ps256 => &s::RSA_PSS_2048_8192_SHA256,
            Algorithm::Ps384 => &s::RSA_PSS_2048_8192_SHA384,
            Algorithm::Ps512 => &s::RSA_PSS_2048_8192_SHA512,
            Algorithm::Es256 => &s::ECDSA_P256_SHA256_FIXED,
            Algorithm::Es384 => &s::ECDSA_P384_SHA384_FIXED,
            Algorithm::EdDsa => &s::ED25519,
        }
    }

    fn rsa_parameters(self) -> Option<&'static ring::signature::RsaParameters> {
        use ring::signature as s;
        Some(match self {
            Algorithm::Rs256 => &s::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::Rs384 => &s::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::Rs512 => &s::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::Ps256 => &s::RSA_PSS_2048_8192_SHA256,
            Algorithm::Ps384 => &s::RSA_PSS_2048_8192_SHA384,
            Algorithm::Ps512 => &s::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = OAuthConfigError;

    /// The JOSE name; `none` and `HS*` are refused with a message saying why.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        if let Some(algorithm) = Self::from_jose(name) {
            return Ok(algorithm);
        }
        let upper = name.to_ascii_uppercase();
        if upper == "NONE" {
            return Err(OAuthConfigError::new(
                "the algorithm none (unsigned tokens) is never accepted",
            ));
        }
        if upper.starts_with("HS") {
            return Err(OAuthConfigError::new(format!(
                "the algorithm {name:?} is symmetric (a shared secret) and is never accepted; \
                 use RS256, PS256, ES256 or EdDSA"
            )));
        }
        Err(OAuthConfigError::new(format!(
            "unknown algorithm {name:?} (expected one of RS256, RS384, RS512, PS256, PS384, \
             PS512, ES256, ES384, EdDSA)"
        )))
    }
}

/// One rule giving a profile to a token: the claim [`Self::claim`] holds [`Self::value`].
///
/// For `scope` and `scp` the value must be one of the granted scopes (both claims are read, as a
/// space-separated string or an array). For any other claim the value must equal it (a string,
/// or a number or boolean written as JSON writes it) or be a member of it (an array). The claim
/// is looked up by its exact name, then, if absent and the name holds dots, as a path into
/// nested objects (`realm_access.roles`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMapping {
    /// The claim: `scope`, `client_id`, `sub`, `azp`, or any other.
    pub claim: String,
    /// The value it must hold.
    pub value: String,
    /// The policy profile the token then acts as.
    pub profile: String,
}

impl ClaimMapping {
    /// A mapping of `claim` holding `value` to `profile`.
    pub fn new(
        claim: impl Into<String>,
        value: impl Into<String>,
        profile: impl Into<String>,
    ) -> Self {
        Self {
            claim: claim.into(),
            value: value.into(),
            profile: profile.into(),
        }
    }

    fn is_scope(&self) -> bool {
        self.claim == "scope" || self.claim == "scp"
    }

    fn matches(&self, claims: &Map<String, Value>, scopes: &[String]) -> bool {
        if self.is_scope() {
            return scopes.contains(&self.value);
        }
        let Some(found) = claim_value(claims, &self.claim) else {
            return false;
        };
        match found {
            Value::Array(items) => items.iter().any(|item| scalar_equals(item, &self.value)),
            other => scalar_equals(other, &self.value),
        }
    }
}

fn claim_value<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(name) {
        return Some(value);
    }
    if !name.contains('.') {
        return None;
    }
    let mut parts = name.split('.');
    let mut current = claims.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

fn scalar_equals(value: &Value, expected: &str) -> bool {
    match value {
        Value::String(s) => s == expected,
        Value::Bool(b) => (if *b { "true" } else { "false" }) == expected,
        Value::Number(n) => n.to_string() == expected,
        _ => false,
    }
}

/// A configuration that cannot be used. One line; names the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("oauth: {0}")]
pub struct OAuthConfigError(String);

impl OAuthConfigError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// How tokens are checked: who issues them, where its keys are, who they must be for, and which
/// profile each one gets. Build one with [`OAuthConfig::new`] and adjust the fields.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// The authorization server's issuer identifier; `iss` must equal it exactly.
    pub issuer: String,
    /// Where the authorization server publishes its keys (JWKS): `https://`, or `http://` to a
    /// loopback host.
    pub jwks_url: url::Url,
    /// This server's canonical URL (RFC 8707 resource indicator, e.g.
    /// `https://gateway.example.com/mcp`); `aud` must contain it exactly.
    pub audience: String,
    /// Algorithms accepted (default `[RS256, ES256]`).
    pub algorithms: Vec<Algorithm>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default 60 s).
    pub leeway: Duration,
    /// Scopes every token must grant (default none).
    pub required_scopes: Vec<String>,
    /// Which profile a token gets: the first mapping that matches (at least one is required).
    pub mappings: Vec<ClaimMapping>,
    /// Shortest time between two JWKS fetches after the first: an unknown `kid` triggers a
    /// refetch at most this often (default 60 s).
    pub jwks_refresh_min_interval: Duration,
    /// How long a fetched JWKS is used before it is fetched again (default 1 h).
    pub jwks_cache_ttl: Duration,
    /// Limit for one JWKS fetch, connection and body included (default 5 s).
    pub http_timeout: Duration,
}

impl OAuthConfig {
    /// Default accepted algorithms.
    pub const DEFAULT_ALGORITHMS: [Algorithm; 2] = [Algorithm::Rs256, Algorithm::Es256];
    /// Default clock skew tolerated.
    pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
    /// Largest clock skew [`Self::validate`] accepts.
    pub const MAX_LEEWAY: Duration = Duration::from_secs(600);
    /// Default shortest time between two JWKS fetches.
    pub const DEFAULT_JWKS_REFRESH_MIN_INTERVAL: Duration = Duration::from_secs(60);
    /// Default JWKS lifetime in the cache.
    pub const DEFAULT_JWKS_CACHE_TTL: Duration = Duration::from_secs(3600);
    /// Default limit for one JWKS fetch.
    pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(5);

    /// A configuration with the defaults, no required scope and no mapping (add at least one).
    pub fn new(issuer: impl Into<String>, jwks_url: url::Url, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            jwks_url,
            audience: audience.into(),
            algorithms: Self::DEFAULT_ALGORITHMS.to_vec(),
            leeway: Self::DEFAULT_LEEWAY,
            required_scopes: Vec::new(),
            mappings: Vec::new(),
            jwks_refresh_min_interval: Self::DEFAULT_JWKS_REFRESH_MIN_INTERVAL,
            jwks_cache_ttl: Self::DEFAULT_JWKS_CACHE_TTL,
            http_timeout: Self::DEFAULT_HTTP_TIMEOUT,
        }
    }

    /// Check the configuration: a non-empty issuer and audience, an `https://` JWKS URL (or
    /// `http://` to a loopback host) without user info, at least one algorithm, at least one
    /// complete mapping, no empty required scope, a leeway of at most [`Self::MAX_LEEWAY`] and
    /// non-zero timeout and cache lifetime.
    pub fn validate(&self) -> Result<(), OAuthConfigError> {
        if self.issuer.trim().is_empty() {
            return Err(OAuthConfigError::new("the issuer must not be empty"));
        }
        if self.audience.trim().is_empty() {
            return Err(OAuthConfigError::new(
                "the audience (this server's canonical url) must not be empty",
            ));
        }
        let url = &self.jwks_url;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(OAuthConfigError::new(
                "the jwks url must not contain user info",
            ));
        }
        let Some(host) = url.host() else {
            return Err(OAuthConfigError::new("the jwks url has no host"));
        };
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&host) => {}
            "http" => {
                return Err(OAuthConfigError::new(format!(
                    "plain http to {host} is refused for the jwks url (use https)"
                )));
            }
            other => {
                return Err(OAuthConfigError::new(format!(
                    "unsupported jwks url scheme {other:?} (use https)"
                )));
            }
        }
        if self.algorithms.is_empty() {
            return Err(OAuthConfigError::new(
                "at least one signature algorithm must be allowed",
            ));
        }
        if self.mappings.is_empty() {
            return Err(OAuthConfigError::new(
                "at least one claim mapping (claim, value, profile) is required",
            ));
        }
        for (index, mapping) in self.mappings.iter().enumerate() {
            if mapping.claim.is_empty() || mapping.value.is_empty() || mapping.profile.is_empty() {
                return Err(OAuthConfigError::new(format!(
                    "claim mapping #{index} needs a claim, a value and a profile"
                )));
            }
        }
        if self
            .required_scopes
            .iter()
            .any(|s| s.is_empty() || s.contains(char::is_whitespace))
        {
            return Err(OAuthConfigError::new(
                "a required scope is empty or holds whitespace",
            ));
        }
        if self.leeway > Self::MAX_LEEWAY {
            return Err(OAuthConfigError::new(format!(
                "the leeway must be at most {} s",
                Self::MAX_LEEWAY.as_secs()
            )));
        }
        if self.http_timeout.is_zero() {
            return Err(OAuthConfigError::new(
                "the jwks http timeout must be greater than zero",
            ));
        }
        if self.jwks_cache_ttl.is_zero() {
            return Err(OAuthConfigError::new(
                "the jwks cache ttl must be greater than zero",
            ));
        }
        Ok(())
    }
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => {
            let name = name.strip_suffix('.').unwrap_or(name);
            name.eq_ignore_ascii_case("localhost")
        }
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Who an accepted token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `sub`, or the client id when the token has no `sub`.
    pub subject: String,
    /// `client_id` (RFC 9068), else `azp`.
    pub client_id: Option<String>,
    /// The granted scopes (`scope` and `scp`), without duplicates, in token order.
    pub scopes: Vec<String>,
    /// The profile of the first matching [`ClaimMapping`].
    pub profile: String,
    /// When the token expires (`exp`).
    pub expires: SystemTime,
}

/// Why a token was refused. Each message is one line, lowercase, and never holds the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a well-formed signed JWT (JWS compact form), too large, or a claim of the wrong type.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The `alg` is not allowed (`none` and `HS*` never are).
    #[error("token algorithm {alg} is not allowed")]
    AlgorithmNotAllowed {
        /// The algorithm named, when it is a short word; else `<unrecognized>`.
        alg: String,
    },
    /// No key of the JWKS matches the token's `kid` and algorithm.
    #[error("no key of the authorization server matches the token")]
    UnknownKey,
    /// The signature does not verify.
    #[error("token signature is invalid")]
    BadSignature,
    /// `iss` is missing or not the configured issuer.
    #[error("token issuer is not the expected issuer")]
    WrongIssuer,
    /// `aud` is missing or does not contain this server.
    #[error("token audience does not include this server")]
    WrongAudience,
    /// `exp` is past (beyond the leeway).
    #[error("token has expired")]
    Expired,
    /// `nbf` or `iat` is in the future (beyond the leeway).
    #[error("token is not yet valid")]
    NotYetValid,
    /// A required scope is not granted.
    #[error("token lacks a required scope (required: {})", required.join(" "))]
    InsufficientScope {
        /// The scopes this server requires, all of them.
        required: Vec<String>,
    },
    /// No claim mapping matches: the token gives no profile here.
    #[error("no profile is mapped to this token")]
    NoProfile,
    /// The JWKS could not be fetched and no key is known.
    #[error("the authorization server's keys are unavailable: {reason}")]
    JwksUnavailable {
        /// Why the last fetch failed (one line).
        reason: String,
    },
}

impl TokenError {
    /// The RFC 6750 / RFC 9728 `WWW-Authenticate` value for this refusal:
    /// `Bearer resource_metadata="…", error="invalid_token"`, or
    /// `…, error="insufficient_scope", scope="a b"` for [`TokenError::InsufficientScope`].
    /// [`TokenError::JwksUnavailable`] is the server's fault, not the token's: no `error`.
    pub fn www_authenticate(&self, resource_metadata_url: &str) -> String {
        let mut challenge = bearer_challenge(resource_metadata_url);
        match self {
            TokenError::InsufficientScope { required } => {
                challenge.push_str(", error=\"insufficient_scope\", scope=\"");
                challenge.push_str(&quoted(&required.join(" ")));
                challenge.push('"');
            }
            TokenError::JwksUnavailable { .. } => {}
            _ => challenge.push_str(", error=\"invalid_token\""),
        }
        challenge
    }

    /// The HTTP status to answer with: 403 for [`TokenError::InsufficientScope`], 503 for
    /// [`TokenError::JwksUnavailable`], 401 for the rest.
    pub fn status(&self) -> StatusCode {
        match self {
            TokenError::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            TokenError::JwksUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

/// The challenge when no token was presented: `Bearer resource_metadata="…"` (RFC 9728 §5.1).
pub fn bearer_challenge(resource_metadata_url: &str) -> String {
    format!(
        "Bearer resource_metadata=\"{}\"",
        quoted(resource_metadata_url)
    )
}

/// `text` as the inside of an HTTP quoted-string: `"` and `\` escaped, control characters
/// dropped.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The RFC 9728 protected resource metadata for `config`: the resource (the audience), its
/// authorization server (the issuer), the scopes it knows (required scopes, then the values of
/// the `scope`/`scp` mappings, without duplicates) and `bearer_methods_supported: ["header"]`.
pub fn protected_resource_metadata(config: &OAuthConfig) -> Value {
    let mut scopes: Vec<&str> = Vec::new();
    let mapped = config
        .mappings
        .iter()
        .filter(|m| m.is_scope())
        .map(|m| m.value.as_str());
    for scope in config
        .required_scopes
        .iter()
        .map(String::as_str)
        .chain(mapped)
    {
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    json!({
        "resource": config.audience,
        "authorization_servers": [config.issuer],
        "scopes_supported": scopes,
        "bearer_methods_supported": ["header"],
    })
}

/// The two paths the metadata is served at for a resource at `resource_path`: the plain
/// `/.well-known/oauth-protected-resource` and the RFC 9728 path-suffixed form
/// (`/.well-known/oauth-protected-resource/mcp` for `/mcp`). For `/` both are the plain one.
pub fn metadata_paths(resource_path: &str) -> [String; 2] {
    let path = resource_path.trim_start_matches('/');
    let suffixed = if path.is_empty() {
        WELL_KNOWN.to_owned()
    } else {
        format!("{WELL_KNOWN}/{path}")
    };
    [WELL_KNOWN.to_owned(), suffixed]
}

/// The absolute URL of the metadata document for `config`'s audience, to put in challenges:
/// `https://host/.well-known/oauth-protected-resource/mcp` for `https://host/mcp`. `None` when
/// the audience is not an absolute `http(s)` URL.
pub fn resource_metadata_url(config: &OAuthConfig) -> Option<String> {
    let audience = url::Url::parse(&config.audience).ok()?;
    if !matches!(audience.scheme(), "https" | "http") {
        return None;
    }
    audience.host()?;
    let origin = audience.origin().ascii_serialization();
    let [_, suffixed] = metadata_paths(audience.path());
    Some(format!("{origin}{suffixed}"))
}

/// A verification key from the JWKS.
#[derive(Debug, Clone)]
struct Jwk {
    kid: Option<String>,
    alg: Option<String>,
    material: KeyMaterial,
}

#[derive(Debug, Clone)]
enum KeyMaterial {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// An uncompressed point `04 || x || y`.
    Ec {
        curve: Curve,
        point: Vec<u8>,
    },
    Ed25519(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

impl Jwk {
    /// The key described by `value`, when it is a usable public signature key.
    fn parse(value: &Value) -> Option<Self> {
        let object = value.as_object()?;
        let text = |name: &str| object.get(name).and_then(Value::as_str);
        if let Some(usage) = object.get("use")
            && usage.as_str() != Some("sig")
        {
            return None;
        }
        if let Some(ops) = object.get("key_ops") {
            let ops = ops.as_array()?;
            if !ops.iter().any(|op| op.as_str() == Some("verify")) {
                return None;
            }
        }
        let bytes = |name: &str| text(name).and_then(|v| URL_SAFE_NO_PAD.decode(v).ok());
        let material = match text("kty")? {
            "RSA" => {
                let n = strip_leading_zeros(bytes("n")?);
                let e = strip_leading_zeros(bytes("e")?);
                if n.is_empty() || e.is_empty() || n.len() > MAX_RSA_MODULUS_BYTES || e.len() > 8 {
                    return None;
                }
                KeyMaterial::Rsa { n, e }
            }
            "EC" => {
                let (curve, size) = match text("crv")? {
                    "P-256" => (Curve::P256, 32),
                    "P-384" => (Curve::P384, 48),
                    _ => return None,
                };
                let (x, y) = (bytes("x")?, bytes("y")?);
                if x.len() != size || y.len() != size {
                    return None;
                }
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                KeyMaterial::Ec { curve, point }
            }
            "OKP" => {
                if text("crv")? != "Ed25519" {
                    return None;
                }
                let x = bytes("x")?;
                if x.len() != 32 {
                    return None;
                }
                KeyMaterial::Ed25519(x)
            }
            // Symmetric ("oct") and unknown key types are never used.
            _ => return None,
        };
        let kid = match object.get("kid") {
            None => None,
            Some(Value::String(kid)) if kid.len() <= MAX_KID_BYTES => Some(kid.clone()),
            Some(_) => return None,
        };
        let alg = match object.get("alg") {
            None => None,
            Some(Value::String(alg)) => Some(alg.clone()),
            Some(_) => return None,
        };
        Some(Self { kid, alg, material })
    }

    /// Whether this key may check a signature made with `alg`.
    fn suits(&self, alg: Algorithm) -> bool {
        if self.alg.as_deref().is_some_and(|a| a != alg.as_str()) {
            return false;
        }
        match (&self.material, alg) {
            (KeyMaterial::Rsa { .. }, _) => alg.rsa_parameters().is_some(),
            (KeyMaterial::Ec { curve, .. }, Algorithm::Es256) => *curve == Curve::P256,
            (KeyMaterial::Ec { curve, .. }, Algorithm::Es384) => *curve == Curve::P384,
            (KeyMaterial::Ed25519(_), Algorithm::EdDsa) => true,
            _ => false,
        }
    }

    fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        match &self.material {
            KeyMaterial::Rsa { n, e } => {
                let Some(parameters) = alg.rsa_parameters() else {
                    return false;
                };
                ring::signature::RsaPublicKeyComponents { n, e }
                    .verify(parameters, message, signature)
                    .is_ok()
            }
            KeyMaterial::Ec { point: key, .. } | KeyMaterial::Ed25519(key) => {
                ring::signature::UnparsedPublicKey::new(alg.verification(), key)
                    .verify(message, signature)
                    .is_ok()
            }
        }
    }
}

fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

/// The JWKS as last fetched, and when.
#[derive(Debug, Default)]
struct Cache {
    keys: Vec<Jwk>,
    /// The last successful fetch.
    loaded: Option<Instant>,
    /// The last fetch, successful or not.
    attempted: Option<Instant>,
    /// Why the last fetch failed, if it did.
    last_error: Option<String>,
}

struct Inner {
    config: OAuthConfig,
    client: reqwest::Client,
    cache: RwLock<Cache>,
    /// Held while fetching, so that one fetch runs at a time.
    fetching: tokio::sync::Mutex<()>,
}

/// Checks access tokens against an [`OAuthConfig`], keeping the JWKS cached. Cheap to clone
/// (the cache is shared).
#[derive(Clone)]
pub struct Validator {
    inner: Arc<Inner>,
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validator")
            .field("issuer", &self.inner.config.issuer)
            .field("audience", &self.inner.config.audience)
            .field("jwks_url", &self.inner.config.jwks_url.as_str())
            .finish_non_exhaustive()
    }
}

/// A decoded, not yet verified, token.
struct Parts<'a> {
    alg: Algorithm,
    kid: Option<String>,
    signed: &'a [u8],
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl Validator {
    /// A validator for `config`: validates it and builds the HTTP client (rustls with the ring
    /// provider, TLS 1.2+, webpki roots, no redirects, [`OAuthConfig::http_timeout`]). Does no
    /// I/O: the JWKS is fetched on first use (or by [`Self::refresh`]).
    pub fn new(config: OAuthConfig) -> Result<Self, OAuthConfigError> {
        config.validate()?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| OAuthConfigError::new(format!("jwks tls setup failed: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(config.http_timeout)
            .connect_timeout(config.http_timeout)
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| {
                OAuthConfigError::new(format!(
                    "cannot build the jwks http client: {}",
                    e.without_url()
                ))
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                client,
                cache: RwLock::new(Cache::default()),
                fetching: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OAuthConfig {
        &self.inner.config
    }

    /// Fetch the JWKS now (e.g. at startup, to warm the cache), whatever the refetch interval.
    /// On failure the keys already known are kept.
    pub async fn refresh(&self) -> Result<(), TokenError> {
        let _guard = self.inner.fetching.lock().await;
        match self.fetch_and_store().await {
            Ok(()) => Ok(()),
            Err(reason) => Err(TokenError::JwksUnavailable { reason }),
        }
    }

    /// Check `token` (the Bearer credential, without the `Bearer ` prefix) at time `now`, as the
    /// module documentation describes, and say who it speaks for.
    pub async fn validate(&self, token: &str, now: SystemTime) -> Result<Identity, TokenError> {
        let parts = self.decode(token)?;
        let key = self.find_key(parts.kid.as_deref(), parts.alg).await?;
        if !key.verify(parts.alg, parts.signed, &parts.signature) {
            return Err(TokenError::BadSignature);
        }
        let claims: Map<String, Value> = serde_json::from_slice(&parts.payload)
            .map_err(|_| TokenError::Malformed("the payload is not a json object"))?;
        self.check_claims(&claims, now)
    }

    /// Split and decode the compact form; check the header.
    fn decode<'a>(&self, token: &'a str) -> Result<Parts<'a>, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed("the token is larger than 16 kib"));
        }
        let mut pieces = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (pieces.next(), pieces.next(), pieces.next(), pieces.next())
        else {
            return Err(TokenError::Malformed(
                "not a signed jwt (three base64url parts)",
            ));
        };
        if header.is_empty() || payload.is_empty() {
            return Err(TokenError::Malformed(
                "not a signed jwt (three base64url parts)",
            ));
        }
        let header_bytes = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| TokenError::Malformed("the header is not base64url"))?;
        let header: Map<String, Value> = serde_json::from_slice(&header_bytes)
            .map_err(|_| TokenError::Malformed("the header is not a json object"))?;
        let Some(Value::String(alg)) = header.get("alg") else {
            return Err(TokenError::Malformed("the header has no alg"));
        };
        let Some(alg) = Algorithm::from_jose(alg).filter(|a| self.config().algorithms.contains(a))
        else {
            return Err(TokenError::AlgorithmNotAllowed {
                alg: printable_alg(alg),
            });
        };
        if header.contains_key("crit") {
            return Err(TokenError::Malformed("the header has critical extensions"));
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) if kid.len() <= MAX_KID_BYTES => Some(kid.clone()),
            Some(_) => return Err(TokenError::Malformed("the kid is not a short string")),
        };
        let payload_bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed("the payload is not base64url"))?;
        if signature.is_empty() {
            return Err(TokenError::Malformed("the signature is empty"));
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed("the signature is not base64url"))?;
        let signed_len = header_len(token);
        Ok(Parts {
            alg,
            kid,
            signed: &token.as_bytes()[..signed_len],
            payload: payload_bytes,
            signature,
        })
    }

    fn check_claims(
        &self,
        claims: &Map<String, Value>,
        now: SystemTime,
    ) -> Result<Identity, TokenError> {
        let config = self.config();
        if claims.get("iss").and_then(Value::as_str) != Some(config.issuer.as_str()) {
            return Err(TokenError::WrongIssuer);
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => *aud == config.audience,
            Some(Value::Array(auds)) => auds
                .iter()
                .any(|a| a.as_str() == Some(config.audience.as_str())),
            _ => false,
        };
        if !audience_ok {
            return Err(TokenError::WrongAudience);
        }
        let now_secs = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let leeway = config.leeway.as_secs_f64();
        let Some(exp) = numeric_date(claims, "exp")? else {
            return Err(TokenError::Malformed("the token has no exp claim"));
        };
        if exp <= now_secs - leeway {
            return Err(TokenError::Expired);
        }
        if let Some(nbf) = numeric_date(claims, "nbf")?
            && nbf > now_secs + leeway
        {
            return Err(TokenError::NotYetValid);
        }
        if let Some(iat) = numeric_date(claims, "iat")?
            && iat > now_secs + leeway
        {
            return Err(TokenError::NotYetValid);
        }
        let expires = Duration::try_from_secs_f64(exp)
            .ok()
            .and_then(|d| UNIX_EPOCH.checked_add(d))
            .ok_or(TokenError::Malformed("the exp claim is out of range"))?;
        let scopes = scopes(claims)?;
        if !config
            .required_scopes
            .iter()
            .all(|required| scopes.contains(required))
        {
            return Err(TokenError::InsufficientScope {
                required: config.required_scopes.clone(),
            });
        }
        let client_id = optional_string(claims, "client_id")?
            .or(optional_string(claims, "azp")?)
            .map(str::to_owned);
        let subject = match optional_string(claims, "sub")? {
            Some(sub) => sub.to_owned(),
            None => client_id
                .clone()
                .ok_or(TokenError::Malformed("the token has no sub claim"))?,
        };
        let profile = config
            .mappings
            .iter()
            .find(|m| m.matches(claims, &scopes))
            .map(|m| m.profile.clone())
            .ok_or(TokenError::NoProfile)?;
        Ok(Identity {
            subject,
            client_id,
            scopes,
            profile,
            expires,
        })
    }

    /// The key for `kid` and `alg`: from the cache when it is fresh and holds it; else after a
    /// fetch, when the refetch interval allows one; else from the (stale) cache.
    async fn find_key(&self, kid: Option<&str>, alg: Algorithm) -> Result<Jwk, TokenError> {
        if let Some(key) = self.cached_key(kid, alg, true) {
            return Ok(key);
        }
        {
            let _guard = self.inner.fetching.lock().await;
            // Another request may have fetched while this one waited.
            if let Some(key) = self.cached_key(kid, alg, true) {
                return Ok(key);
            }
            if self.may_fetch() {
                // A failure is recorded and the old keys kept; the lookup below decides.
                let _ = self.fetch_and_store().await;
            }
        }
        if let Some(key) = self.cached_key(kid, alg, false) {
            return Ok(key);
        }
        let cache = self.read_cache();
        if cache.loaded.is_none() {
            return Err(TokenError::JwksUnavailable {
                reason: cache
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "the jwks has not been fetched yet".to_owned()),
            });
        }
        Err(TokenError::UnknownKey)
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        self.inner
            .cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached key for `kid` and `alg`; with `fresh`, only from a cache younger than its ttl.
    fn cached_key(&self, kid: Option<&str>, alg: Algorithm, fresh: bool) -> Option<Jwk> {
        let cache = self.read_cache();
        let loaded = cache.loaded?;
        if fresh && loaded.elapsed() >= self.config().jwks_cache_ttl {
            return None;
        }
        match kid {
            Some(kid) => cache
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid) && k.suits(alg))
                .cloned(),
            None => {
                let mut suitable = cache.keys.iter().filter(|k| k.suits(alg));
                match (suitable.next(), suitable.next()) {
                    (Some(only), None) => Some(only.clone()),
                    _ => None,
                }
            }
        }
    }

    /// Whether the refetch interval allows a fetch now.
    fn may_fetch(&self) -> bool {
        self.read_cache()
            .attempted
            .is_none_or(|at| at.elapsed() >= self.config().jwks_refresh_min_interval)
    }

    /// Fetch the JWKS and store it; on failure keep the old keys and record why. The caller
    /// holds the fetch lock.
    async fn fetch_and_store(&self) -> Result<(), String> {
        let config = self.config();
        let fetched = match tokio::time::timeout(config.http_timeout, self.fetch()).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "timed out after {} ms",
                config.http_timeout.as_millis()
            )),
        };
        let mut cache = self
            .inner
            .cache
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        cache.attempted = Some(now);
        match fetched {
            Ok(keys) => {
                tracing::debug!(keys = keys.len(), url = %config.jwks_url, "jwks fetched");
                cache.keys = keys;
                cache.loaded = Some(now);
                cache.last_error = None;
                Ok(())
            }
            Err(reason) => {
                tracing::warn!(
                    url = %config.jwks_url,
                    %reason,
                    kept = cache.keys.len(),
                    "jwks fetch failed; keeping the keys already known"
                );
                cache.last_error = Some(reason.clone());
                Err(reason)
            }
        }
    }

    async fn fetch(&self) -> Result<Vec<Jwk>, String> {
        let mut response = self
            .inner
            .client
            .get(self.config().jwks_url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(describe)?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(format!("the jwks endpoint answered {}", status.as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_JWKS_BYTES as u64)
        {
            return Err(format!("the jwks is larger than {MAX_JWKS_BYTES} bytes"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!("the jwks is larger than {MAX_JWKS_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let document: Value =
            serde_json::from_slice(&body).map_err(|_| "the jwks is not json".to_owned())?;
        let Some(entries) = document.get("keys").and_then(Value::as_array) else {
            return Err("the jwks has no keys array".to_owned());
        };
        let keys: Vec<Jwk> = entries
            .iter()
            .filter_map(Jwk::parse)
            .take(MAX_JWKS_KEYS)
            .collect();
        if keys.is_empty() {
            return Err("the jwks holds no usable signature key".to_owned());
        }
        Ok(keys)
    }
}

/// Length of `header.payload` in `token` (already known to hold two dots).
fn header_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(0)
}

/// The `alg` as it may appear in a message: a short alphanumeric word, else a placeholder.
fn printable_alg(alg: &str) -> String {
    if !alg.is_empty() && alg.len() <= 16 && alg.bytes().all(|b| b.is_ascii_alphanumeric()) {
        alg.to_owned()
    } else {
        "<unrecognized>".to_owned()
    }
}

/// A NumericDate claim (seconds since the epoch, possibly fractional), if present.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(secs) if secs.is_finite() && secs >= 0.0 => Ok(Some(secs)),
            _ => Err(TokenError::Malformed("a time claim is not a numeric date")),
        },
        Some(_) => Err(TokenError::Malformed("a time claim is not a numeric date")),
    }
}

fn optional_string<'a>(
    claims: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(TokenError::Malformed(
            "a sub, client_id or azp claim is not a string",
        )),
    }
}

/// The granted scopes: `scope` then `scp`, each a space-separated string or an array of
/// strings; without duplicates.
fn scopes(claims: &Map<String, Value>) -> Result<Vec<String>, TokenError> {
    let mut scopes: Vec<String> = Vec::new();
    let mut add = |scope: &str| {
        if !scope.is_empty() && !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    };
    for name in ["scope", "scp"] {
        match claims.get(name) {
            None => {}
            Some(Value::String(list)) => list.split_whitespace().for_each(&mut add),
            Some(Value::Array(items)) => {
                for item in items {
                    let Some(scope) = item.as_str() else {
                        return Err(TokenError::Malformed("a scope is not a string"));
                    };
                    scope.split_whitespace().for_each(&mut add);
                }
            }
            Some(_) => return Err(TokenError::Malformed("the scope claim is not a string")),
        }
    }
    Ok(scopes)
}

/// A one-line reason for a failed request, without the URL.
fn describe(error: reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".to_owned();
    }
    let error = error.without_url();
    let mut cause: &dyn std::error::Error = &error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    let text = cause.to_string();
    let line = text.lines().next().unwrap_or_default().trim();
    if line.is_empty() {
        "request failed".to_owned()
    } else {
        line.to_ascii_lowercase()
    }
}
