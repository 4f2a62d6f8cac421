//! The OAuth resource server over real loopback HTTP: a JWKS server run by the test (counting
//! its fetches), keys generated here (ECDSA P-256 and Ed25519 with ring; one fixed RSA key, ring
//! cannot generate RSA), tokens signed here. Valid tokens get their mapped profile; every kind of
//! bad token is refused with its own error; unknown key ids cause at most one fetch per interval;
//! key rotation works after one refetch; an unreachable JWKS fails fast. Every wait is bounded.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde_json::{Value, json};
use warden_transport::http::oauth::{
    self, Algorithm, ClaimMapping, Identity, OAuthConfig, TokenError, Validator,
};

mod support;

const ISSUER: &str = "https://auth.example.com/realms/odoo";
const AUDIENCE: &str = "https://gateway.example.com/mcp";

/// Every wait on the validator is bounded by this.
const BOUND: Duration = Duration::from_secs(10);

/// A fixed RSA-2048 test key (PKCS#1 DER), made for these tests only.
const RSA_KEY_DER_BASE64: &[&str] = &[
    "MIIEowIBAAKCAQEAj/GkJarlrpsAbx33sEeku5Z3kq2doL66UzeuzmdnlpbMeCfE7M5kjUCoSpvJdqKVNJoDXPIGEJL744Wr",
    "ZPozNhr6d3Pqjj37V3GWU2Ut1TLsax8w/GJcbKV7cCyl9VsdMl3uGdicq+j9x923kYLRHQOixccJhGA04lW+D4ynunttsPlv",
    "W5VnAqhJsfJyQ3/8SxO83AVhpSaRxNnZyqOrJkqWNkPyPktJXFhBMPLphL0BzU1XOWaGiOjKG5oAgUWeNB3LovV3jhxRlpmO",
    "ftoJ65OEGk5IlPpCvHQ947Jr3zuKi4G37INVWK9oB6VpjKqHAtccEatfAMv7RLJeXA0ILwIDAQABAoIBAAGEemWWTLIPmGCr",
    "NxRj/ULg7+7F6YgdNB1T7At3V94PWOMdsPTMvhOh4nFY10jvgV7rbUIhkcwFRIUZguVfYv4fKN/QXRU+Gr27BCPSOmnIZ/ed",
    "zlLmYXOKgrOJ8uLpiO+dYtCj8KZNKb/nKQ3DtxZ3dUpXe5clng5xTsdce7W/UncsP+wZfGRgjvQ6B++26lUu7L41t0uHGgI3",
    "kmg1CMZqDnpn39qh4LesnqreLj23yP9GHpkiyi37VY+0HFmcproGwo7iX7c1Rwu3p/i0437940+38zGvlZQ72/FKqIdWLcK4",
    "1HvYhnzzAORmCj6Kl+a2naPeNRaZ+7ZyRGmdTqkCgYEAyD4GJCShe/DhNPm/zmYg6b7xnUylfgfDD0uxphL1xJUZK1/1g7yr",
    "b/OEoawbu0e6bnKQNrXdA9SFOP05Kvclq1DWoENcRMN3e1ZsB/aQ6T2J/YrKBL3T9fpHxfy/Jm53vPB68S0O63dDhCnE5y/G",
    "vlAOW4iW/4bDX7wCN3ce/8kCgYEAuAZ4iB6LtsefNzsRbmPxAGHoVal8BtyfW14UJcYzGtumKNek5QnKI12A5zoziCm/JG2j",
    "9T0xNUtRmdUn7LRGdEeyIZqbJrgUMjD8pFlSWZ0hyuku92EPnP15XqhEMDEivt6J4yiOvcz4WCjKLviOwWoSfIW0jY++pX0g",
    "eVUVdDcCgYBMDiLO/4rGRIuFT4bmoivGHFww3rfM0q3n1Vw4M+NdMzRIIT5jNvn2n4u0zGYMEAZjhOf5n8G+fq3LI4LfKtgH",
    "5cBfRrZ497UeB4kozSHlNRaAUoLAokkrmFBChukjc7nO7ZgEmpScIsRmImdDWAYoqseJRKv1if4TEpnU70264QKBgDZkmz3I",
    "oY0+Bb6CdA2H9tUhG1YuiV1R2rxb22Kq6bIXmE5cJv4X3aqEWbR+zHqDtF6lFaBIHQJep9jrWyioxGZcRreOBiv0nuuS9Sny",
    "yNd6DWH3eI1gIAhMF5K186m27Ek0Z9c/xqktK36LV+94QmHC44Hw10Q8Z6JskKusTXITAoGBALUpXb+dvRGGlBhGzswnAoQI",
    "yXAf5SYnN7tROiL8B3pdcAks4/N7wZilSDFFnOMB+9uS1yjrzJ3a7qxjlNNuOOUGh/LgiZbKG3waoE7Z0SPry5rkzdPlA00C",
    "+xxarZQdy3UtiJLcOr2LoPjjxAkNbA8XrGwI4hJQRg9N+zlhf6YO",
];

// ---------------------------------------------------------------------------------------------
// Keys and tokens.

/// A signing key with its `kid`.
enum Signer {
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

struct Key {
    kid: String,
    signer: Signer,
}

impl Key {
    fn ec(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("generate p-256");
        let pair = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8.as_ref(),
            &rng,
        )
        .expect("load p-256");
        Self {
            kid: kid.to_owned(),
            signer: Signer::Ec(pair),
        }
    }

    fn ed(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("generate ed25519");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("load ed25519");
        Self {
            kid: kid.to_owned(),
            signer: Signer::Ed(pair),
        }
    }

    fn rsa(kid: &str) -> Self {
        let der = STANDARD
            .decode(RSA_KEY_DER_BASE64.concat())
            .expect("rsa fixture is base64");
        let pair = RsaKeyPair::from_der(&der).expect("rsa fixture loads");
        Self {
            kid: kid.to_owned(),
            signer: Signer::Rsa(pair),
        }
    }

    /// The public JWK.
    fn jwk(&self) -> Value {
        match &self.signer {
            Signer::Ec(pair) => {
                let point = pair.public_key().as_ref();
                json!({
                    "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
                    "x": b64(&point[1..33]), "y": b64(&point[33..65]),
                })
            }
            Signer::Ed(pair) => json!({
                "kty": "OKP", "crv": "Ed25519", "kid": self.kid,
                "x": b64(pair.public_key().as_ref()),
            }),
            Signer::Rsa(pair) => {
                let components = signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
                json!({
                    "kty": "RSA", "use": "sig", "kid": self.kid,
                    "n": b64(&components.n), "e": b64(&components.e),
                })
            }
        }
    }

    /// The public key's bytes, as an attacker would pick them for an HMAC secret.
    fn public_bytes(&self) -> Vec<u8> {
        match &self.signer {
            Signer::Ec(pair) => pair.public_key().as_ref().to_vec(),
            Signer::Ed(pair) => pair.public_key().as_ref().to_vec(),
            Signer::Rsa(pair) => pair.public().as_ref().to_vec(),
        }
    }

    fn sign(&self, alg: &str, input: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.signer {
            Signer::Ec(pair) => pair.sign(&rng, input).expect("sign").as_ref().to_vec(),
            Signer::Ed(pair) => pair.sign(input).as_ref().to_vec(),
            Signer::Rsa(pair) => {
                let padding: &'static dyn signature::RsaEncoding = match alg {
                    "PS256" => &signature::RSA_PSS_SHA256,
                    _ => &signature::RSA_PKCS1_SHA256,
                };
                let mut out = vec![0u8; pair.public().modulus_len()];
                pair.sign(padding, &rng, input, &mut out).expect("sign");
                out
            }
        }
    }

    fn default_alg(&self) -> &'static str {
        match self.signer {
            Signer::Ec(_) => "ES256",
            Signer::Ed(_) => "EdDSA",
            Signer::Rsa(_) => "RS256",
        }
    }

    /// A token over `claims` with this key's default algorithm and kid.
    fn token(&self, claims: &Value) -> String {
        self.token_with(
            &json!({"alg": self.default_alg(), "typ": "at+jwt", "kid": self.kid}),
            claims,
        )
    }

    /// A token with an explicit header.
    fn token_with(&self, header: &Value, claims: &Value) -> String {
        let alg = header["alg"].as_str().unwrap_or("ES256");
        let input = signing_input(header, claims);
        let sig = self.sign(alg, input.as_bytes());
        format!("{input}.{}", b64(&sig))
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        b64(&serde_json::to_vec(header).expect("header")),
        b64(&serde_json::to_vec(claims).expect("claims"))
    )
}

fn unix(t: SystemTime) -> i64 {
    i64::try_from(t.duration_since(UNIX_EPOCH).expect("after 1970").as_secs()).expect("in range")
}

/// Claims valid at `now` for the reader profile.
fn claims(now: SystemTime) -> Value {
    let now = unix(now);
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-42",
        "client_id": "claude-desktop",
        "scope": "openid mcp:tools odoo:read",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    if let Some(object) = claims.as_object_mut() {
        object.remove(key);
    }
    claims
}

// ---------------------------------------------------------------------------------------------
// A loopback JWKS server.

struct JwksState {
    document: Mutex<Value>,
    status: Mutex<StatusCode>,
    fetches: AtomicUsize,
}

struct JwksServer {
    state: Arc<JwksState>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl JwksServer {
    async fn start(keys: &[&Key]) -> Self {
        let state = Arc::new(JwksState {
            document: Mutex::new(jwks(keys)),
            status: Mutex::new(StatusCode::OK),
            fetches: AtomicUsize::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |_request: Request<_>| {
                        let state = Arc::clone(&state);
                        async move {
                            state.fetches.fetch_add(1, Ordering::SeqCst);
                            let body = serde_json::to_vec(&*state.document.lock().expect("lock"))
                                .expect("json");
                            let mut response = Response::new(Full::new(Bytes::from(body)));
                            *response.status_mut() = *state.status.lock().expect("lock");
                            response.headers_mut().insert(
                                hyper::header::CONTENT_TYPE,
                                hyper::header::HeaderValue::from_static("application/json"),
                            );
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { state, addr, task }
    }

    fn url(&self) -> url::Url {
        url::Url::parse(&format!("http://{}/realms/odoo/certs", self.addr)).expect("url")
    }

    fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    fn publish(&self, keys: &[&Key]) {
        *self.state.document.lock().expect("lock") = jwks(keys);
    }

    fn publish_raw(&self, document: Value) {
        *self.state.document.lock().expect("lock") = document;
    }

    fn answer(&self, status: StatusCode) {
        *self.state.status.lock().expect("lock") = status;
    }
}

fn jwks(keys: &[&Key]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() })
}

fn config(jwks_url: url::Url) -> OAuthConfig {
    let mut config = OAuthConfig::new(ISSUER, jwks_url, AUDIENCE);
    config.algorithms = vec![
        Algorithm::Rs256,
        Algorithm::Ps256,
        Algorithm::Es256,
        Algorithm::EdDsa,
    ];
    config.mappings = vec![
        ClaimMapping::new("scope", "odoo:write", "writer"),
        ClaimMapping::new("scope", "odoo:read", "reader"),
        ClaimMapping::new("client_id", "batch-job", "batch"),
        ClaimMapping::new("realm_access.roles", "auditor", "auditor"),
        ClaimMapping::new("groups", "accounting", "accountant"),
    ];
    config.http_timeout = Duration::from_secs(2);
    config
}

async fn validate(validator: &Validator, token: &str) -> Result<Identity, TokenError> {
    validate_at(validator, token, SystemTime::now()).await
}

async fn validate_at(
    validator: &Validator,
    token: &str,
    now: SystemTime,
) -> Result<Identity, TokenError> {
    tokio::time::timeout(BOUND, validator.validate(token, now))
        .await
        .expect("validation is bounded")
}

/// `error`'s message holds no part of `token`.
fn assert_no_token_in(error: &TokenError, token: &str) {
    let message = error.to_string();
    assert!(!message.contains('\n'), "one line: {message}");
    // Lowercase prose; only names (algorithms) keep their case.
    assert!(
        message.starts_with(|c: char| c.is_ascii_lowercase()),
        "lowercase: {message}"
    );
    for part in token.split('.').filter(|p| p.len() >= 8) {
        assert!(
            !message.contains(part),
            "message holds the token: {message}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Valid tokens.

#[tokio::test]
async fn a_valid_token_gets_its_mapped_profile() {
    let ec = Key::ec("ec-1");
    let rsa = Key::rsa("rsa-1");
    let ed = Key::ed("ed-1");
    let server = JwksServer::start(&[&ec, &rsa, &ed]).await;
    let validator = Validator::new(config(server.url())).expect("config");
    let now = SystemTime::now();

    let identity = validate(&validator, &ec.token(&claims(now)))
        .await
        .expect("valid es256");
    assert_eq!(identity.profile, "reader");
    assert_eq!(identity.subject, "user-42");
    assert_eq!(identity.client_id.as_deref(), Some("claude-desktop"));
    assert_eq!(identity.scopes, ["openid", "mcp:tools", "odoo:read"]);
    assert_eq!(
        identity.expires,
        UNIX_EPOCH + Duration::from_secs(u64::try_from(unix(now) + 300).expect("after 1970"))
    );

    let identity = validate(&validator, &rsa.token(&claims(now)))
        .await
        .expect("valid rs256");
    assert_eq!(identity.profile, "reader");
    let ps256 = rsa.token_with(&json!({"alg": "PS256", "kid": "rsa-1"}), &claims(now));
    assert_eq!(
        validate(&validator, &ps256).await.expect("ps256").profile,
        "reader"
    );
    let identity = validate(&validator, &ed.token(&claims(now)))
        .await
        .expect("valid eddsa");
    assert_eq!(identity.profile, "reader");
    // One fetch served all of them.
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn mappings_are_tried_in_order_over_scopes_and_claims() {
    let key = Key::ec("k");
    let server = JwksServer::start(&[&key]).await;
    let validator = Validator::new(config(server.url())).expect("config");
    let now = SystemTime::now();
    let profile = |claims: Value| {
        let token = key.token(&claims);
        let validator = validator.clone();
        async move { validate(&validator, &token).await.map(|i| i.profile) }
    };
    // The first mapping that matches wins, whatever the order of the scopes.
    let both = with(claims(now), "scope", json!("odoo:read odoo:write"));
    assert_eq!(profile(both).await.expect("ok"), "writer");
    // `scp` as an array counts as scopes too.
    let scp = with(without(claims(now), "scope"), "scp", json!(["odoo:write"]));
    assert_eq!(profile(scp).await.expect("ok"), "writer");
    // Equality on another claim; azp is not client_id for the mapping.
    let batch = with(
        with(claims(now), "scope", json!("mcp:tools")),
        "client_id",
        json!("batch-job"),
    );
    assert_eq!(profile(batch).await.expect("ok"), "batch");
    // A nested claim by its dotted path; array membership.
    let nested = with(
        with(claims(now), "scope", json!("mcp:tools")),
        "realm_access",
        json!({"roles": ["viewer", "auditor"]}),
    );
    assert_eq!(profile(nested).await.expect("ok"), "auditor");
    let groups = with(
        with(claims(now), "scope", json!("mcp:tools")),
        "groups",
        json!(["sales", "accounting"]),
    );
    assert_eq!(profile(groups).await.expect("ok"), "accountant");
    // A scope that only contains the value as a substring does not match.
    let partial = with(claims(now), "scope", json!("odoo:reader mcp:tools"));
    assert_eq!(profile(partial).await, Err(TokenError::NoProfile));
    // Without sub, the client id is the subject.
    let token = key.token(&without(claims(now), "sub"));
    let identity = validate(&validator, &token).await.expect("ok");
    assert_eq!(identity.subject, "claude-desktop");
}

#[tokio::test]
async fn no_matching_mapping_is_no_profile() {
    let key = Key::ec("k");
    let server = JwksServer::start(&[&key]).await;
    let validator = Validator::new(config(server.url())).expect("config");
    let token = key.token(&with(
        claims(SystemTime::now()),
        "scope",
        json!("openid profile"),
    ));
    let error = validate(&validator, &token).await.expect_err("no profile");
    assert_eq!(error, TokenError::NoProfile);
    assert_no_token_in(&error, &token);
}

// ---------------------------------------------------------------------------------------------
// Time.

#[tokio::test]
async fn time_claims_are_checked_with_the_leeway() {
    let key = Key::ec("k");
    let server = JwksServer::start(&[&key]).await;
    let validator = Validator::new(config(server.url())).expect("config");
    let now = SystemTime::now();
    let t = unix(now);
    let check = |claims: Value| {
        let token = key.token(&claims);
        let validator = validator.clone();
        async move { validate_at(&validator, &token, now).await.map(|_| ()) }
    };
    // Expired 30 s ago, not valid for another 30 s, issued 30 s from now: within 60 s.
    let skewed = json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "u", "scope": "odoo:read",
        "iat": t + 30, "nbf": t + 30, "exp": t - 30,
    });
    assert_eq!(check(skewed).await, Ok(()));
    // Beyond the leeway.
    let expired = with(claims(now), "exp", json!(t - 61));
    assert_eq!(check(expired).await, Err(TokenError::Expired));
    let expired_long_ago = with(claims(now), "exp", json!(t - 86_400));
    assert_eq!(check(expired_long_ago).await, Err(TokenError::Expired));
    let not_yet = with(claims(now), "nbf", json!(t + 120));
    assert_eq!(check(not_yet).await, Err(TokenError::NotYetValid));
    let issued_in_the_future = with(claims(now), "iat", json!(t + 3600));
    assert_eq!(
        check(issued_in_the_future).await,
        Err(TokenError::NotYetValid)
    );
    // exp is required and must be a number.
    assert!(matches!(
        check(without(claims(now), "exp")).await,
        Err(TokenError::Malformed(_))
    ));
    assert!(matches!(
        check(with(claims(now), "exp", json!("tomorrow"))).await,
        Err(TokenError::Malformed(_))
    ));
    // Fractional dates are fine.
    assert_eq!(
        check(with(claims(now), "exp", json!(t as f64 + 100.5))).await,
        Ok(())
    );
    // A validator with no leeway refuses what the default accepted.
    let mut strict = config(server.url());
    strict.leeway = Duration::ZERO;
    let strict = Validator::new(strict).expect("config");
    let token = key.token(&with(claims(now), "exp", json!(t - 30)));
    assert_eq!(
        validate_at(&strict, &token, now).await.map(|_| ()),
        Err(TokenError::Expired)
    );
}

// ---------------------------------------------------------------------------------------------
// Issuer, audience, scopes.

#[tokio::test]
async fn wrong_issuer_and_wrong_audience_are_refused() {
    let key = Key::ec("k");
    let server = JwksServer::start(&[&key]).await;
    let validator = Validator::new(config(server.url())).expect("config");
    let now = SystemTime::now();
    let check = |claims: Value| {
        let token = key.token(&claims);
        let validator = validator.clone();
        async move {
            let result = validate(&validator, &token).await.map(|_| ());
            if let Err(error) = &result {
                assert_no_token_in(error, &token);
            }
            result
        }
    };
    for issuer in [
        json!("https://evil.example.com/realms/odoo"),
        json!(format!("{ISSUER}/")),
        json!(ISSUER.to_uppercase()),
        json!([ISSUER]),
    ] {
        assert_eq!(
            check(with(claims(now), "iss", issuer)).await,
            Err(TokenError::WrongIssuer)
        );
    }
    assert_eq!(
        check(without(claims(now), "iss")).await,
        Err(TokenError::WrongIssuer)
    );
    for audience in [
        json!("https://other.example.com/mcp"),
        json!(format!("{AUDIENCE}/")),
        json!(["https://other.example.com/mcp", "account"]),
        json!([]),
        json!(42),
    ] {
        assert_eq!(
            check(with(claims(now), "aud", audience)).await,
            Err(TokenError::WrongAudience)
        );
    }
    assert_eq!(
        check(without(claims(now), "aud")).await,
        Err(TokenError::WrongAudience)
    );
    // An array holding this server is fine.
    assert_eq!(
        check(with(claims(now), "aud", json!(["account", AUDIENCE]))).await,
        Ok(())
    );
}

#[tokio::test]
async fn insufficient_scope_lists_the_required_scopes() {
    let key = Key::ec("k");
    let server = JwksServer::start(&[&key]).await;
    let mut config = config(server.url());
    config.required_scopes = vec!["mcp:tools".to_owned(), "odoo:access".to_owned()];
    let validator = Validator::new(config).expect("config");
    let now = SystemTime::now();
    let token = key.token(&with(claims(now), "scope", json!("mcp:tools odoo:read")));
    let error = validate(&validator, &token).await.expect_err("refused");
    assert_eq!(
        error,
        TokenError::InsufficientScope {
            required: vec!["mcp:tools".to_owned(), "odoo:access".to_owned()]
        }
    );
    assert_eq!(error.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        error.www_authenticate(
            "https://gateway.example.com/.well-known/oauth-protected-resource/mcp"
        ),
        "Bearer resource_metadata=\"https://gateway.example.com/.well-known/oauth-protected-resource/mcp\", \
         error=\"insufficient_scope\", scope=\"mcp:tools odoo:access\""
    );
    assert!(error.to_string().contains("mcp:tools odoo:access"));
    assert_no_token_in(&error, &token);
    let token = key.token(&with(
        claims(now),
        "scope",
        json!("mcp:tools odoo:access odoo:read"),
    ));
    assert_eq!(
        validate(&validator, &token).await.expect("ok").profile,
        "reader"
    );
}

// ---------------------------------------------------------------------------------------------
// Algorithms, signatures, forms.

#[tokio::test]
async fn alg_none_and_hmac_key_confusion_are_refused() {
    let rsa = Key::rsa("rsa-1");
    let ec = Key::ec("ec-1");
    let server = JwksServer::start(&[&rsa, &ec]).await;
    let validator = Validator::new(config(server.url())).expect("config");
    let now = SystemTime::now();

    for none in ["none", "None", "NONE"] {
        let input = signing_input(&json!({"alg": none, "kid": "rsa-1"}), &claims(now));
        for token in [format!("{input}."), format!("{input}.{}", b64(b"x"))] {
            let error = validate(&validator, &token).await.expect_err("none");
            assert!(
                matches!(&error, TokenError::AlgorithmNotAllowed { alg } if alg == none),
                "{error:?}"
            );
            assert_no_token_in(&error, &token);
        }
    }

    // HS256 signed with the public key (its JWK's bytes or its DER) as the secret.
    for key in [&rsa, &ec] {
        for secret in [key.public_bytes(), key.jwk().to_string().into_bytes()] {
            for alg in ["HS256", "HS384", "HS512"] {
                let header = json!({"alg": alg, "kid": key.kid});
                let input = signing_input(&header, &claims(now));
                let mac = ring::hmac::sign(
                    &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret),
                    input.as_bytes(),
                );
                let token = format!("{input}.{}", b64(mac.as_ref()));
                let error = validate(&validator, &token).await.expect_err("hmac");
                assert_eq!(
                    error,
                    TokenError::AlgorithmNotAllowed {
                        alg: alg.to_owned()
                    }
                );
            }
        }
    }

    // An algorithm the configuration does not allow, though the key would verify it.
    let mut es_only = config(server.url());
    es_only.algorithms = vec![Algorithm::Es256];
    let es_only = Validator::new(es_only).expect("config");
    assert_eq!(
        validate(&es_only, &rsa.token(&claims(now))).await,
        Err(TokenError::AlgorithmNotAllowed {
            alg: "RS256".to_owned()
        })
    );
    // A made-up, long or odd algorithm is not echoed.
    let weird = format!(
        "{}.{}",
        signing_input(&json!({"alg": "x\"; DROP TABLE tokens; --"}), &claims(now)),
        b64(b"sig")
    );
    assert_eq!(
        validate(&validator, &weird).await,
        Err(TokenError::AlgorithmNotAllowed {
            alg: "<unrecognized>".to_owned()
        })
    );
    // Header and key disagree: ES256 header pointing at the RSA key, RS256 at the EC key.
    let crossed = ec.token_with(&json!({"alg": "ES256", "kid": "rsa-1"}), &claims(now));
    assert_eq!(
        validate(&validator, &crossed).await,
        Err(TokenError::UnknownKey)
    );
    let crossed = rsa.token_with(&json!({"alg": "RS256", "kid": "ec-1"}), &claims(now));
    assert_eq!(
        validate(&validator, &crossed).await,
        Err(TokenError::UnknownKey)
    );
    // The EC JWK (which says `alg: ES256`) named by a PS256 header.
    let crossed = rsa.token_with(&json!({"alg": "PS256", "kid": "ec-1"}), &claims(now));
    assert_eq!(
        validate(&validator, &crossed).await,
        Err(TokenError::UnknownKey)
    );
    // Only the first key lookup fetched; refused algorithms never reach the JWKS.
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn tampered_tokens_and_foreign_signatures_are_refused() {
    let key = Key::ec("k");
    let impostor = Key::ec("k");
    let rsa = Key::rsa("rsa-1");
    let server = JwksServer::start(&[&key, &rsa]).await;
    let validator = Validator::new(config(server.url())).expect("config");
    let now = SystemTime::now();

    // Payload swapped for one that grants more, signature kept.
    let genuine = key.token(&claims(now));
    let (input, signature) = genuine.rsplit_once('.').expect("three parts");
    let (header, _) = input.split_once('.').expect("three parts");
    let more = with(claims(now), "scope", json!("odoo:write"));
    let forged = format!(
        "{header}.{}.{signature}",
        b64(&serde_json::to_vec(&more).expect("json"))
    );
    let error = validate(&validator, &forged).await.expect_err("tampered");
    assert_eq!(error, TokenError::BadSignature);
    assert_no_token_in(&error, &forged);

    // The header changed (kid kept), signature kept.
    let other_header = b64(br#"{"alg":"ES256","kid":"k","typ":"JWT"}"#);
    let forged = format!("{other_header}.{}", &genuine[header.len() + 1..]);
    assert_eq!(
        validate(&validator, &forged).await,
        Err(TokenError::BadSignature)
    );

    // A signature flipped by one bit.
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).expect("b64");
    bytes[10] ^= 1;
    let flipped = format!("{input}.{}", b64(&bytes));
    assert_eq!(
        validate(&validator, &flipped).await,
        Err(TokenError::BadSignature)
    );

    // Signed by another key claiming the same kid.
    let foreign = impostor.token(&claims(now));
    assert_eq!(
        validate(&validator, &foreign).await,
        Err(TokenError::BadSignature)
    );

    // RS256 payload tampered.
    let genuine = rsa.token(&claims(now));
    let (input, signature) = genuine.rsplit_once('.').expect("three parts");
    let (header, _) = input.split_once('.').expect("three parts");
    let forged = format!(
        "{header}.{}.{signature}",
        b64(&serde_json::to_vec(&more).expect("json"))
    );
    assert_eq!(
        validate(&validator, &forged).await,
        Err(TokenError::BadSignature)
    );
    // A truncated ECDSA signature.
    let genuine = key.token(&claims(now));
    let short = &genuine[..genuine.len() - 4];
    assert!(matches!(
        validate(&validator, short).await,
        Err(TokenError::BadSignature | TokenError::Malformed(_))
    ));
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn garbage_and_oversized_tokens_are_malformed() {
    let key = Key::ec("k");
    let server = JwksServer::start(&[&key]).await;
    let validator = Validator::new(config(server.url())).expect("config");
    let now = SystemTime::now();
    let valid = key.token(&claims(now));
    let (input, _) = valid.rsplit_once('.').expect("parts");

    let oversized = key.token(&with(
        claims(now),
        "padding",
        json!("x".repeat(oauth::MAX_TOKEN_BYTES)),
    ));
    let error = validate(&validator, &oversized).await.expect_err("too big");
    assert!(matches!(error, TokenError::Malformed(_)), "{error:?}");
    assert_no_token_in(&error, &oversized);

    let garbage = [
        String::new(),
        "garbage".to_owned(),
        "owk_not_a_jwt".to_owned(),
        "a.b".to_owned(),
        "a.b.c.d.e".to_owned(),
        "..".to_owned(),
        "!!!.###.$$$".to_owned(),
        format!("{input}.sig.extra"),
        format!("{input}."),
        format!("{input}.***"),
        format!("{}.{}.c2ln", b64(b"not json"), b64(b"{}")),
        format!("{}.{}.c2ln", b64(b"[1,2]"), b64(b"{}")),
        format!("{}.{}.c2ln", b64(br#"{"kid":"k"}"#), b64(b"{}")),
        format!("{}.{}.c2ln", b64(br#"{"alg":7}"#), b64(b"{}")),
        format!(
            "{}.{}.c2ln",
            b64(br#"{"alg":"ES256","kid":"k","crit":["exp"]}"#),
            b64(b"{}")
        ),
        format!("{}.{}.c2ln", b64(br#"{"alg":"ES256","kid":9}"#), b64(b"{}")),
        format!("{}.@@@.c2ln", b64(br#"{"alg":"ES256","kid":"k"}"#)),
        // Padded base64 is not base64url as JWS wants it.
        format!("{}=.{}.c2ln", b64(br#"{"alg":"ES256"}"#), b64(b"{}")),
        "\u{1F600}.\u{1F600}.\u{1F600}".to_owned(),
    ];
    for token in &garbage {
        let error = validate(&validator, token).await.expect_err("garbage");
        assert!(
            matches!(error, TokenError::Malformed(_)),
            "{token:?}: {error:?}"
        );
        assert_no_token_in(&error, token);
    }
    // A payload that is signed but is not a JSON object.
    let header = json!({"alg": "ES256", "kid": "k"});
    let input = format!(
        "{}.{}",
        b64(&serde_json::to_vec(&header).expect("json")),
        b64(b"[\"not\", \"claims\"]")
    );
    let token = format!("{input}.{}", b64(&key.sign("ES256", input.as_bytes())));
    assert!(matches!(
        validate(&validator, &token).await,
        Err(TokenError::Malformed(_))
    ));
    // Claims of the wrong type.
    for (name, value) in [
        ("sub", json!(1)),
        ("scope", json!(3)),
        ("scope", json!([1])),
        ("nbf", json!(-5)),
    ] {
        let token = key.token(&with(claims(now), name, value));
        assert!(
            matches!(
                validate(&validator, &token).await,
                Err(TokenError::Malformed(_))
            ),
            "{name}"
        );
    }
    // Nothing here needed a fetch beyond the first signed token's.
    assert!(server.fetches() <= 1);
}

// ---------------------------------------------------------------------------------------------
// The JWKS cache.

#[tokio::test]
async fn an_unknown_kid_refetches_once_per_interval() {
    let key = Key::ec("k1");
    let stranger = Key::ec("k-unknown");
    let server = JwksServer::start(&[&key]).await;
    let mut config = config(server.url());
    config.jwks_refresh_min_interval = Duration::from_secs(1);
    let validator = Validator::new(config).expect("config");
    let now = SystemTime::now();

    assert!(validate(&validator, &key.token(&claims(now))).await.is_ok());
    assert_eq!(server.fetches(), 1);
    // Within the interval: refused at once, no fetch.
    for _ in 0..20 {
        assert_eq!(
            validate(&validator, &stranger.token(&claims(now))).await,
            Err(TokenError::UnknownKey)
        );
    }
    assert_eq!(server.fetches(), 1);
    // After it: one refetch, then bounded again, whatever the kids.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for i in 0..20 {
        let token = stranger.token_with(
            &json!({"alg": "ES256", "kid": format!("made-up-{i}")}),
            &claims(now),
        );
        let error = validate(&validator, &token).await.expect_err("unknown");
        assert_eq!(error, TokenError::UnknownKey);
        assert_no_token_in(&error, &token);
    }
    assert_eq!(server.fetches(), 2);
    // The known key still works from the cache meanwhile.
    assert!(validate(&validator, &key.token(&claims(now))).await.is_ok());
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn concurrent_unknown_kids_share_one_fetch() {
    let key = Key::ec("k1");
    let stranger = Key::ec("nobody");
    let server = JwksServer::start(&[&key]).await;
    let validator = Validator::new(config(server.url())).expect("config");
    let now = SystemTime::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..32 {
        let validator = validator.clone();
        let token = if i % 2 == 0 {
            stranger.token(&claims(now))
        } else {
            key.token(&claims(now))
        };
        tasks.spawn(async move { validate(&validator, &token).await.is_ok() });
    }
    let mut accepted = 0;
    while let Some(result) = tokio::time::timeout(BOUND, tasks.join_next())
        .await
        .expect("bounded")
    {
        if result.expect("task") {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 16);
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn key_rotation_validates_after_one_refetch() {
    let old = Key::ec("2025-key");
    let new = Key::rsa("2026-key");
    let server = JwksServer::start(&[&old]).await;
    let mut config = config(server.url());
    config.jwks_refresh_min_interval = Duration::from_secs(1);
    let validator = Validator::new(config).expect("config");
    let now = SystemTime::now();

    assert!(validate(&validator, &old.token(&claims(now))).await.is_ok());
    assert_eq!(server.fetches(), 1);
    // The authorization server rotates: only the new key is published.
    server.publish(&[&new]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let identity = validate(&validator, &new.token(&claims(now)))
        .await
        .expect("the new key validates after a refetch");
    assert_eq!(identity.profile, "reader");
    assert_eq!(server.fetches(), 2);
    // The old key is gone with the refetch.
    assert_eq!(
        validate(&validator, &old.token(&claims(now))).await,
        Err(TokenError::UnknownKey)
    );
    // Repeated unknown kids do not fetch per request.
    for i in 0..50 {
        let token = old.token_with(
            &json!({"alg": "ES256", "kid": format!("rotated-{i}")}),
            &claims(now),
        );
        assert_eq!(
            validate(&validator, &token).await,
            Err(TokenError::UnknownKey)
        );
    }
    assert_eq!(server.fetches(), 2);
    // New tokens keep validating from the cache.
    for _ in 0..10 {
        assert!(validate(&validator, &new.token(&claims(now))).await.is_ok());
    }
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn a_failed_refetch_keeps_the_old_keys() {
    let key = Key::ec("k1");
    let server = JwksServer::start(&[&key]).await;
    let mut config = config(server.url());
    config.jwks_refresh_min_interval = Duration::from_millis(100);
    config.jwks_cache_ttl = Duration::from_millis(100);
    let validator = Validator::new(config).expect("config");
    let now = SystemTime::now();
    assert!(validate(&validator, &key.token(&claims(now))).await.is_ok());

    // The JWKS endpoint breaks in three ways in turn; the cached key keeps working.
    for round in 0..3 {
        match round {
            0 => server.answer(StatusCode::INTERNAL_SERVER_ERROR),
            1 => {
                server.answer(StatusCode::OK);
                server.publish_raw(json!({"keys": []}));
            }
            _ => server.publish_raw(json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})),
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
        let identity = validate(&validator, &key.token(&claims(now)))
            .await
            .expect("stale keys are kept");
        assert_eq!(identity.profile, "reader");
        assert_eq!(server.fetches(), round + 2);
    }
    // refresh() says why.
    let error = validator.refresh().await.expect_err("broken");
    assert!(
        matches!(error, TokenError::JwksUnavailable { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn the_jwks_size_is_bounded() {
    let key = Key::ec("k1");
    let server = JwksServer::start(&[&key]).await;
    let mut big = jwks(&[&key]);
    big["padding"] = json!("x".repeat(oauth::MAX_JWKS_BYTES));
    server.publish_raw(big);
    let validator = Validator::new(config(server.url())).expect("config");
    let error = validate(&validator, &key.token(&claims(SystemTime::now())))
        .await
        .expect_err("too big");
    assert!(
        matches!(&error, TokenError::JwksUnavailable { reason } if reason.contains("larger")),
        "{error:?}"
    );
    assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn an_unreachable_jwks_is_unavailable_without_hanging() {
    let key = Key::ec("k1");
    let token = key.token(&claims(SystemTime::now()));

    // Nothing listens: refused at once.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let url = url::Url::parse(&format!("http://{closed}/jwks")).expect("url");
    let validator = Validator::new(config(url)).expect("config");
    let error = validate(&validator, &token).await.expect_err("unreachable");
    assert!(
        matches!(error, TokenError::JwksUnavailable { .. }),
        "{error:?}"
    );
    assert_no_token_in(&error, &token);

    // Something accepts but never answers: bounded by the http timeout.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent_addr = silent.local_addr().expect("addr");
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&held);
    let black_hole = tokio::spawn(async move {
        while let Ok((stream, _)) = silent.accept().await {
            keep.lock().expect("lock").push(stream);
        }
    });
    let mut config = config(url::Url::parse(&format!("http://{silent_addr}/jwks")).expect("url"));
    config.http_timeout = Duration::from_millis(500);
    let validator = Validator::new(config).expect("config");
    let started = Instant::now();
    let error = validate(&validator, &token).await.expect_err("silent");
    let took = started.elapsed();
    assert!(
        matches!(error, TokenError::JwksUnavailable { .. }),
        "{error:?}"
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(error.to_string().contains("timed out"), "{error}");
    // Right after, within the refetch interval: refused without waiting again.
    let started = Instant::now();
    let again = validate(&validator, &token).await.expect_err("silent");
    assert!(
        matches!(again, TokenError::JwksUnavailable { .. }),
        "{again:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(400));
    assert_eq!(again.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        again.www_authenticate("https://gw/.well-known/oauth-protected-resource"),
        "Bearer resource_metadata=\"https://gw/.well-known/oauth-protected-resource\""
    );
    black_hole.abort();
}

// ---------------------------------------------------------------------------------------------
// Configuration, metadata, challenges.

#[test]
fn configuration_is_validated() {
    let jwks = url::Url::parse("https://auth.example.com/certs").expect("url");
    let mut good = OAuthConfig::new(ISSUER, jwks.clone(), AUDIENCE);
    assert!(good.validate().is_err(), "a mapping is required");
    good.mappings = vec![ClaimMapping::new("scope", "odoo:read", "reader")];
    assert_eq!(good.validate(), Ok(()));
    assert_eq!(good.algorithms, [Algorithm::Rs256, Algorithm::Es256]);
    assert_eq!(good.leeway, Duration::from_secs(60));
    assert_eq!(good.jwks_refresh_min_interval, Duration::from_secs(60));
    assert_eq!(good.jwks_cache_ttl, Duration::from_secs(3600));
    assert_eq!(good.http_timeout, Duration::from_secs(5));

    let loopback = [
        "http://127.0.0.1:8080/certs",
        "http://localhost/certs",
        "http://[::1]/c",
    ];
    for url in loopback {
        let mut config = good.clone();
        config.jwks_url = url::Url::parse(url).expect("url");
        assert_eq!(config.validate(), Ok(()), "{url}");
    }
    let refused = [
        "http://auth.example.com/certs",
        "http://10.0.0.1/certs",
        "ftp://auth.example.com/certs",
        "https://user:pass@auth.example.com/certs",
    ];
    for url in refused {
        let mut config = good.clone();
        config.jwks_url = url::Url::parse(url).expect("url");
        assert!(config.validate().is_err(), "{url}");
    }
    let mut config = good.clone();
    config.issuer = " ".to_owned();
    assert!(config.validate().is_err());
    let mut config = good.clone();
    config.audience = String::new();
    assert!(config.validate().is_err());
    let mut config = good.clone();
    config.algorithms.clear();
    assert!(config.validate().is_err());
    let mut config = good.clone();
    config.mappings = vec![ClaimMapping::new("scope", "", "reader")];
    assert!(config.validate().is_err());
    let mut config = good.clone();
    config.http_timeout = Duration::ZERO;
    assert!(config.validate().is_err());
    assert!(Validator::new(config).is_err());

    // Algorithms by name: the JOSE names only; none and HS* never.
    assert_eq!("RS256".parse::<Algorithm>(), Ok(Algorithm::Rs256));
    assert_eq!("EdDSA".parse::<Algorithm>(), Ok(Algorithm::EdDsa));
    for refused in ["none", "HS256", "hs512", "rs256", "RSA-OAEP", ""] {
        assert!(refused.parse::<Algorithm>().is_err(), "{refused}");
    }
    for algorithm in Algorithm::ALL {
        assert_eq!(algorithm.to_string().parse::<Algorithm>(), Ok(algorithm));
    }
}

#[test]
fn protected_resource_metadata_and_paths() {
    let jwks = url::Url::parse("https://auth.example.com/certs").expect("url");
    let mut config = OAuthConfig::new(ISSUER, jwks, AUDIENCE);
    config.required_scopes = vec!["mcp:tools".to_owned()];
    config.mappings = vec![
        ClaimMapping::new("scope", "odoo:write", "writer"),
        ClaimMapping::new("scp", "odoo:read", "reader"),
        ClaimMapping::new("client_id", "batch", "batch"),
        ClaimMapping::new("scope", "mcp:tools", "reader"),
    ];
    assert_eq!(
        oauth::protected_resource_metadata(&config),
        json!({
            "resource": AUDIENCE,
            "authorization_servers": [ISSUER],
            "scopes_supported": ["mcp:tools", "odoo:write", "odoo:read"],
            "bearer_methods_supported": ["header"],
        })
    );
    assert_eq!(
        oauth::metadata_paths("/mcp"),
        [
            "/.well-known/oauth-protected-resource".to_owned(),
            "/.well-known/oauth-protected-resource/mcp".to_owned(),
        ]
    );
    assert_eq!(
        oauth::metadata_paths("/"),
        [
            "/.well-known/oauth-protected-resource".to_owned(),
            "/.well-known/oauth-protected-resource".to_owned(),
        ]
    );
    assert_eq!(
        oauth::resource_metadata_url(&config).as_deref(),
        Some("https://gateway.example.com/.well-known/oauth-protected-resource/mcp")
    );
    config.audience = "http://127.0.0.1:8080/mcp".to_owned();
    assert_eq!(
        oauth::resource_metadata_url(&config).as_deref(),
        Some("http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp")
    );
    config.audience = "https://[::1]:8443/".to_owned();
    assert_eq!(
        oauth::resource_metadata_url(&config).as_deref(),
        Some("https://[::1]:8443/.well-known/oauth-protected-resource")
    );
    config.audience = "urn:odoo-warden".to_owned();
    assert_eq!(oauth::resource_metadata_url(&config), None);

    let url = "https://gateway.example.com/.well-known/oauth-protected-resource/mcp";
    assert_eq!(
        oauth::bearer_challenge(url),
        format!("Bearer resource_metadata=\"{url}\"")
    );
    for error in [
        TokenError::Expired,
        TokenError::BadSignature,
        TokenError::UnknownKey,
        TokenError::NoProfile,
        TokenError::Malformed("x"),
    ] {
        assert_eq!(
            error.www_authenticate(url),
            format!("Bearer resource_metadata=\"{url}\", error=\"invalid_token\"")
        );
        assert_eq!(error.status(), StatusCode::UNAUTHORIZED);
    }
    // A quote in the URL cannot break out of the quoted string.
    assert_eq!(
        oauth::bearer_challenge("https://x/\"a"),
        "Bearer resource_metadata=\"https://x/\\\"a\""
    );
}

// ---------------------------------------------------------------------------------------------
// Through the HTTP transport: access tokens beside API keys.

/// The HTTP app over the simulator, profile `reader` only, OAuth configured with `config`, no
/// API key in the store: its base URL and the server task's stop.
async fn gateway_over_http(
    config: OAuthConfig,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    warden_odoo_sim::SimHandle,
) {
    use warden_transport::http;
    let sim = warden_odoo_sim::start(
        "127.0.0.1:0".parse().expect("addr"),
        warden_odoo_sim::SimOptions::default(),
    )
    .await
    .expect("sim");
    let mut odoo = warden_odoo::OdooConfig::new(
        sim.url().parse().expect("url"),
        sim.database(),
        "sales_agent",
        warden_odoo::Credential::ApiKey(warden_odoo::SecretString::from(
            sim.api_key("sales_agent").expect("key"),
        )),
    );
    odoo.protocol = warden_odoo::Protocol::JsonRpc;
    let catalogs = std::collections::BTreeMap::from([(
        "sales".to_owned(),
        warden_gateway::catalog::Catalog::new(
            warden_odoo::OdooClient::new(odoo).expect("client"),
            warden_gateway::catalog::CatalogSettings::default(),
        ),
    )]);
    let policy: warden_policy::config::PolicyConfig = toml::from_str(
        "[profiles.reader]\nidentity = \"sales\"\nmodels = { allow = [\"res.partner\"] }\n\
         operations = { allow = [\"read\"] }\n",
    )
    .expect("policy");
    let policy =
        warden_policy::Policy::compile(&policy, &Default::default(), &["sales"]).expect("compile");
    let runtime = warden_gateway::runtime::Runtime::new(policy, &catalogs).expect("runtime");
    let gateway = warden_gateway::engine::Gateway::new(runtime, Default::default());
    let app = http::app(
        gateway,
        http::HttpOptions {
            oauth: Some(Validator::new(config).expect("validator")),
            ..http::HttpOptions::default()
        },
    );
    let served = support::serve(app, Duration::from_secs(5)).await;
    (served.base(), served.stop, sim)
}

fn tools_list(
    client: &reqwest::Client,
    base: &str,
    token: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut request = client
        .post(format!("{base}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/list")
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {}}}})
            .to_string(),
        );
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request
}

#[tokio::test]
async fn access_tokens_work_over_http_and_every_refusal_says_how_to_get_one() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(BOUND)
        .build()
        .expect("client");
    let ec = Key::ec("ec-http");
    let jwks_server = JwksServer::start(&[&ec]).await;
    let mut oauth_config = config(jwks_server.url());
    oauth_config.required_scopes = vec!["mcp:tools".to_owned()];
    let (base, stop, _sim) = gateway_over_http(oauth_config).await;
    let now = SystemTime::now();
    let metadata_url = "https://gateway.example.com/.well-known/oauth-protected-resource/mcp";

    // A valid token of the reader mapping is served as the reader profile.
    let ok = tools_list(&client, &base, Some(&ec.token(&claims(now))))
        .send()
        .await
        .expect("send");
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.expect("json");
    assert!(
        body["result"]["tools"]
            .as_array()
            .is_some_and(|t| !t.is_empty()),
        "{body}"
    );

    // No credentials: 401 naming the protected resource metadata.
    let none = tools_list(&client, &base, None).send().await.expect("send");
    assert_eq!(none.status(), 401);
    let challenge = none.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        challenge.contains(&format!("resource_metadata=\"{metadata_url}\"")),
        "{challenge}"
    );

    // Wrong audience, expired, unsigned: 401 invalid_token.
    let wrong_audience = ec.token(&with(
        claims(now),
        "aud",
        json!("https://other.example.com/mcp"),
    ));
    let expired = ec.token(&with(claims(now), "exp", json!(unix(now) - 3600)));
    let unsigned = format!("{}.", signing_input(&json!({"alg": "none"}), &claims(now)));
    for token in [wrong_audience, expired, unsigned] {
        let refused = tools_list(&client, &base, Some(&token))
            .send()
            .await
            .expect("send");
        assert_eq!(refused.status(), 401);
        let challenge = refused.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(challenge.contains("invalid_token"), "{challenge}");
        assert!(
            !refused.text().await.expect("text").contains(&token[..20]),
            "the token is not echoed"
        );
    }

    // Missing scope: 403 insufficient_scope naming it.
    let narrow = ec.token(&with(claims(now), "scope", json!("odoo:read")));
    let forbidden = tools_list(&client, &base, Some(&narrow))
        .send()
        .await
        .expect("send");
    assert_eq!(forbidden.status(), 403);
    let challenge = forbidden.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        challenge.contains("insufficient_scope") && challenge.contains("mcp:tools"),
        "{challenge}"
    );

    // A mapping to a profile the policy does not have: refused.
    let writer = ec.token(&with(claims(now), "scope", json!("mcp:tools odoo:write")));
    let no_profile = tools_list(&client, &base, Some(&writer))
        .send()
        .await
        .expect("send");
    assert_eq!(no_profile.status(), 401);

    // RFC 9728 metadata, both paths, unauthenticated.
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let document: Value = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        assert_eq!(document["resource"], AUDIENCE, "{path}: {document}");
        assert_eq!(
            document["authorization_servers"],
            json!([ISSUER]),
            "{path}: {document}"
        );
    }
    let _ = stop.send(());
}
