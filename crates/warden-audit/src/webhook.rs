//! The webhook sink: batches of events POSTed as JSON to a receiver, signed with HMAC-SHA256.
//!
//! Each batch is one `POST` of `{"events":[...]}` (`Content-Type: application/json`); alerts
//! and gaps are events like the others and travel in the same batches. Headers:
//!
//! - `X-Warden-Signature: t=<unix seconds>,v1=<hex>`: the HMAC-SHA256, under the shared secret,
//!   of the decimal timestamp, a dot, then the exact bytes of the body (the scheme Stripe uses).
//!   A receiver recomputes it, compares in constant time and refuses a timestamp outside its
//!   tolerance, so a captured request cannot be replayed later ([`verify_signature`] is that
//!   check; `examples/webhook-receivers/` has it in Python and Node).
//! - `X-Warden-Event-Count`: the number of events in the body.
//! - `X-Warden-Batch-Id`: the id of the first event of the batch, the same on every retry of it,
//!   so a receiver can drop a batch it already has.
//! - `User-Agent: odoo-warden/<version>`.
//!
//! Delivery: a 2xx answer is done. Another 4xx than 408 and 429, or a 3xx (redirects are not
//! followed), fails the batch at once. A 5xx, 408 or 429 (waiting what its `Retry-After` asks,
//! capped), a connection error or a timeout is retried with exponential backoff, re-signed with
//! a fresh timestamp each time, up to [`WebhookConfig::max_attempts`]; then the batch fails and
//! the pipeline applies the sink's [`crate::FailurePolicy`].
//!
//! The URL must be `https://`, unless its host is loopback or
//! [`WebhookConfig::allow_insecure_http`] is set (which logs a warning).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hmac::{Hmac, Mac};
use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use serde::Serialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use url::Url;

use crate::event::AuditEvent;
use crate::sink::{Batching, Sink, SinkError};

/// The header holding the signature: `t=<unix seconds>,v1=<hex HMAC-SHA256>`.
pub const SIGNATURE_HEADER: &str = "X-Warden-Signature";

/// The header holding the number of events in the batch.
pub const EVENT_COUNT_HEADER: &str = "X-Warden-Event-Count";

/// The header holding the batch's id (its first event's id), the same on every retry.
pub const BATCH_ID_HEADER: &str = "X-Warden-Batch-Id";

/// The `User-Agent` of every request.
const USER_AGENT: &str = concat!("odoo-warden/", env!("CARGO_PKG_VERSION"));

/// Longest signature header [`verify_signature`] reads.
const MAX_SIGNATURE_HEADER_LEN: usize = 4096;

/// Most bytes of an answer read (and thrown away) so the connection can be reused.
const MAX_DRAINED_BYTES: usize = 64 * 1024;

/// Where and how the webhook sink delivers. The secret never appears in `Debug`.
#[derive(Clone)]
pub struct WebhookConfig {
    /// The receiver: `https://`, or `http://` to a loopback host (or with
    /// [`Self::allow_insecure_http`]). No user info.
    pub url: Url,
    /// The HMAC-SHA256 key shared with the receiver, at least [`Self::MIN_SECRET_LEN`] bytes.
    pub secret: Vec<u8>,
    /// Most events in one request (default 100).
    pub batch_max_events: usize,
    /// The shortest time between two requests: events arriving meanwhile are gathered into the
    /// next batch (default 1 s).
    pub batch_max_wait: Duration,
    /// Limit for one request, connection and answer included (default 10 s).
    pub timeout: Duration,
    /// Requests sent for one batch at most, the first included (default 5).
    pub max_attempts: u32,
    /// The pause after the first failed request; it doubles after each, up to
    /// [`Self::MAX_BACKOFF`] (default 200 ms).
    pub initial_backoff: Duration,
    /// Allow `http://` to a host that is not loopback (default false; logs a warning): the
    /// events then travel unencrypted, signed but readable.
    pub allow_insecure_http: bool,
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &redacted_url(&self.url))
            .field("secret", &"<redacted>")
            .field("batch_max_events", &self.batch_max_events)
            .field("batch_max_wait", &self.batch_max_wait)
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff", &self.initial_backoff)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .finish()
    }
}

impl WebhookConfig {
    /// Shortest accepted secret, in bytes.
    pub const MIN_SECRET_LEN: usize = 32;
    /// Default most events in one request.
    pub const DEFAULT_BATCH_MAX_EVENTS: usize = 100;
    /// Default gathering time of a batch.
    pub const DEFAULT_BATCH_MAX_WAIT: Duration = Duration::from_secs(1);
    /// Default limit for one request.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default requests per batch at most.
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
    /// Default first pause between two requests of a batch.
    pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(200);
    /// Longest pause between two requests of a batch, a receiver's `Retry-After` included.
    pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

    /// A configuration for `url` and `secret` with the defaults: batches of up to 100 events
    /// gathered for up to 1 s, 10 s per request, 5 attempts from 200 ms of backoff, https only
    /// (except to loopback).
    pub fn new(url: Url, secret: impl Into<Vec<u8>>) -> Self {
        Self {
            url,
            secret: secret.into(),
            batch_max_events: Self::DEFAULT_BATCH_MAX_EVENTS,
            batch_max_wait: Self::DEFAULT_BATCH_MAX_WAIT,
            timeout: Self::DEFAULT_TIMEOUT,
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            initial_backoff: Self::DEFAULT_INITIAL_BACKOFF,
            allow_insecure_http: false,
        }
    }

    /// Check the configuration. The message is one line, names the setting and never holds
    /// the secret (nor the URL's path or query).
    pub fn validate(&self) -> Result<(), SinkError> {
        let url = &self.url;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(SinkError::new(
                "the webhook url must not contain user info; the receiver authenticates the \
                 gateway by the signature",
            ));
        }
        if url.fragment().is_some() {
            return Err(SinkError::new(
                "the webhook url must not contain a fragment",
            ));
        }
        let host = url
            .host()
            .ok_or_else(|| SinkError::new("the webhook url has no host"))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&host) || self.allow_insecure_http => {}
            "http" => {
                return Err(SinkError::new(format!(
                    "plain http to {host} is refused for the webhook (use https, or set \
                     allow_insecure_http)"
                )));
            }
            other => {
                return Err(SinkError::new(format!(
                    "unsupported webhook url scheme {other:?} (use https)"
                )));
            }
        }
        if self.secret.len() < Self::MIN_SECRET_LEN {
            return Err(SinkError::new(format!(
                "the webhook secret must be at least {} bytes",
                Self::MIN_SECRET_LEN
            )));
        }
        if self.batch_max_events == 0 {
            return Err(SinkError::new(
                "the webhook batch_max_events must be greater than zero",
            ));
        }
        if self.timeout.is_zero() {
            return Err(SinkError::new(
                "the webhook timeout must be greater than zero",
            ));
        }
        if self.max_attempts == 0 {
            return Err(SinkError::new(
                "the webhook max_attempts must be greater than zero",
            ));
        }
        Ok(())
    }

    /// Whether requests go out as plain http to a host that is not loopback.
    fn is_insecure(&self) -> bool {
        self.url.scheme() == "http" && !self.url.host().is_some_and(|host| is_loopback(&host))
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

/// The URL without its path and query (which may hold a token of the receiver), for logs.
fn redacted_url(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(port) => format!("{}://{host}:{port}/...", url.scheme()),
        None => format!("{}://{host}/...", url.scheme()),
    }
}

/// The value of [`SIGNATURE_HEADER`] for `body` sent at `timestamp` (unix seconds):
/// `t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`.
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    // HMAC takes keys of every length, so the tag is always there; were it not, an empty v1
    // would match nothing (fail closed).
    let timestamp = timestamp.to_string();
    let tag = signature_tag(secret, &timestamp, body)
        .map(|tag| hex(&tag))
        .unwrap_or_default();
    format!("t={timestamp},v1={tag}")
}

/// HMAC-SHA256 under `secret` of `timestamp` (its decimal text, as in the header), a dot and
/// `body`.
fn signature_tag(secret: &[u8], timestamp: &str, body: &[u8]) -> Option<Vec<u8>> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).ok()?;
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac.finalize().into_bytes().to_vec())
}

/// Why [`verify_signature`] refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The header is not `t=<unix seconds>,v1=<hex>[,v1=<hex>...]`.
    #[error("malformed signature header")]
    Malformed,
    /// No signature of the header matches the body under the secret.
    #[error("signature mismatch")]
    Mismatch,
    /// The signature matches but its timestamp is outside the tolerance: a replay, or a clock
    /// too far off.
    #[error("signature timestamp outside the tolerance (replayed or clock skew)")]
    Stale,
}

/// Check a request as a receiver must: `header` (the [`SIGNATURE_HEADER`] value) holds a
/// timestamp and at least one `v1` signature; one of them must be the HMAC-SHA256 under
/// `secret` of the timestamp, a dot and the exact `body` bytes (compared in constant time), and
/// the timestamp must be within `tolerance_s` seconds of `now_unix`, before or after.
///
/// Several `v1` entries are accepted (any one matching is enough), so a sender can sign with
/// an old and a new secret during a rotation; entries of other schemes are ignored.
pub fn verify_signature(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now_unix: u64,
    tolerance_s: u64,
) -> Result<(), SignatureError> {
    if header.len() > MAX_SIGNATURE_HEADER_LEN {
        return Err(SignatureError::Malformed);
    }
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for item in header.split(',') {
        let (key, value) = item
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match key {
            "t" => {
                if timestamp.is_some()
                    || value.is_empty()
                    || !value.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(SignatureError::Malformed);
                }
                let seconds = value
                    .parse::<u64>()
                    .map_err(|_| SignatureError::Malformed)?;
                timestamp = Some((value, seconds));
            }
            "v1" => candidates.push(value),
            _ => {}
        }
    }
    let Some((timestamp_text, timestamp)) = timestamp else {
        return Err(SignatureError::Malformed);
    };
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    // The tag covers the timestamp as written in the header.
    let expected = signature_tag(secret, timestamp_text, body).ok_or(SignatureError::Mismatch)?;
    let mut matched = false;
    for candidate in candidates {
        if let Some(candidate) = unhex(candidate) {
            // Every candidate is compared, whatever the earlier ones gave.
            matched |= bool::from(expected.ct_eq(&candidate));
        }
    }
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    if now_unix.abs_diff(timestamp) > tolerance_s {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// The body of one request.
#[derive(Serialize)]
struct Payload<'a> {
    events: Vec<&'a AuditEvent>,
}

/// What one request gave.
enum Attempt {
    /// The receiver has the batch.
    Delivered,
    /// Sending it again would not help.
    Permanent(String),
    /// Worth another try, after the receiver's `Retry-After` if it said one.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
}

/// The webhook sink: POSTs signed batches of events to a receiver (see the module
/// documentation for the format and the delivery rules).
///
/// [`Sink::write`] blocks until the batch is delivered or has failed: it runs its requests on
/// a small single-threaded runtime of its own, so it must be called from a plain thread (as the
/// pipeline does), never from inside an async task.
pub struct WebhookSink {
    config: WebhookConfig,
    client: reqwest::Client,
    // `None` only once dropped: see `Drop`.
    runtime: Option<tokio::runtime::Runtime>,
}

impl fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSink")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl WebhookSink {
    /// A sink for `config`: validates it and builds the HTTP client (rustls with the ring
    /// provider, TLS 1.2+, the webpki roots, no redirects) and its runtime; does no I/O.
    pub fn new(config: WebhookConfig) -> Result<Self, SinkError> {
        config.validate()?;
        if config.is_insecure() {
            tracing::warn!(
                url = %redacted_url(&config.url),
                "the audit webhook uses plain http to a non-loopback host \
                 (allow_insecure_http): audit events travel UNENCRYPTED and can be read on the way"
            );
        }
        let tls = tls_config()?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .redirect(reqwest::redirect::Policy::none())
            // The sink retries, re-signing each time; the client does not retry on its own.
            .retry(reqwest::retry::never())
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| {
                SinkError::new(format!(
                    "cannot build the webhook http client: {}",
                    e.without_url()
                ))
            })?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("audit-webhook-rt")
            .build()
            .map_err(|e| SinkError::new(format!("cannot start the webhook runtime: {e}")))?;
        Ok(Self {
            config,
            client,
            runtime: Some(runtime),
        })
    }

    /// The configuration this sink was built with.
    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    /// Send `body` once.
    fn attempt(
        &self,
        runtime: &tokio::runtime::Runtime,
        body: &[u8],
        count: &HeaderValue,
        batch_id: Option<&HeaderValue>,
    ) -> Attempt {
        let signature = sign(&self.config.secret, unix_now(), body);
        let mut request = self
            .client
            .post(self.config.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header(EVENT_COUNT_HEADER, count.clone())
            .body(body.to_vec());
        if let Some(batch_id) = batch_id {
            request = request.header(BATCH_ID_HEADER, batch_id.clone());
        }
        let timeout = self.config.timeout;
        runtime.block_on(async move {
            let response = match request.send().await {
                Ok(response) => response,
                Err(error) => return classify_error(error, timeout),
            };
            let status = response.status();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            drain(response).await;
            let code = status.as_u16();
            match code {
                200..=299 => Attempt::Delivered,
                408 | 429 | 500..=599 => Attempt::Retry {
                    reason: format!("the receiver answered {code}"),
                    after: retry_after,
                },
                300..=399 => Attempt::Permanent(format!(
                    "the receiver answered {code} (redirects are not followed)"
                )),
                400..=499 => Attempt::Permanent(format!("the receiver refused the batch ({code})")),
                _ => Attempt::Permanent(format!("the receiver answered {code}")),
            }
        })
    }
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        // Dropping a runtime waits for its tasks, which is refused (a panic) inside an async
        // context; the sink may be dropped in one (a failed start, a test). Nothing of ours is
        // left running between two writes, so not waiting loses nothing.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Sink for WebhookSink {
    fn name(&self) -> &str {
        "webhook"
    }

    fn batching(&self) -> Batching {
        Batching {
            max_events: self.config.batch_max_events,
            max_wait: self.config.batch_max_wait,
        }
    }

    fn write(&mut self, events: &[Arc<AuditEvent>]) -> Result<(), SinkError> {
        let Some(first) = events.first() else {
            return Ok(());
        };
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| SinkError::new("the webhook sink is closed"))?;
        let payload = Payload {
            events: events.iter().map(AsRef::as_ref).collect(),
        };
        let body = serde_json::to_vec(&payload)
            .map_err(|e| SinkError::new(format!("cannot encode the webhook batch: {e}")))?;
        let count = HeaderValue::from(events.len());
        // An id that cannot be a header value (an event from elsewhere) only loses the header.
        let batch_id = HeaderValue::from_str(&first.id).ok();
        let mut backoff = self.config.initial_backoff;
        let mut last_reason = String::new();
        for attempt in 1..=self.config.max_attempts {
            match self.attempt(runtime, &body, &count, batch_id.as_ref()) {
                Attempt::Delivered => {
                    if attempt > 1 {
                        tracing::debug!(attempt, "audit webhook batch delivered after retries");
                    }
                    return Ok(());
                }
                Attempt::Permanent(reason) => {
                    return Err(SinkError::new(format!("webhook delivery failed: {reason}")));
                }
                Attempt::Retry { reason, after } => {
                    tracing::debug!(attempt, %reason, "audit webhook request failed");
                    if attempt < self.config.max_attempts {
                        let pause = after.unwrap_or(backoff).min(WebhookConfig::MAX_BACKOFF);
                        std::thread::sleep(pause);
                        backoff = backoff.saturating_mul(2).min(WebhookConfig::MAX_BACKOFF);
                    }
                    last_reason = reason;
                }
            }
        }
        Err(SinkError::new(format!(
            "webhook delivery failed after {} attempts: {last_reason}",
            self.config.max_attempts
        )))
    }
}

/// Read what the receiver answered, up to a limit, so the connection can be reused.
async fn drain(mut response: reqwest::Response) {
    let mut read = 0usize;
    while read < MAX_DRAINED_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            Ok(None) | Err(_) => break,
        }
    }
}

fn classify_error(error: reqwest::Error, timeout: Duration) -> Attempt {
    if error.is_builder() {
        return Attempt::Permanent(format!("cannot build the request: {}", root_cause(error)));
    }
    let reason = if error.is_timeout() {
        format!(
            "the receiver did not answer within {}",
            humantime::format_duration(timeout)
        )
    } else if error.is_connect() {
        format!("cannot connect to the receiver: {}", root_cause(error))
    } else {
        format!("the request failed: {}", root_cause(error))
    };
    Attempt::Retry {
        reason,
        after: None,
    }
}

/// The innermost cause of `error` (`connection refused (os error 111)`), first letter
/// lowercased; never the URL, whose path or query may hold a token of the receiver.
fn root_cause(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut cause: &dyn std::error::Error = &error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    let text = cause.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or(0)
}

/// rustls with the ring provider, TLS 1.3 and 1.2, the webpki roots.
fn tls_config() -> Result<rustls::ClientConfig, SinkError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| SinkError::new(format!("webhook tls setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn signature_round_trips_and_is_stripe_shaped() {
        let header = sign(SECRET, 1_700_000_000, b"{\"events\":[]}");
        let (t, v1) = header.split_once(',').expect("two parts");
        assert_eq!(t, "t=1700000000");
        let v1 = v1.strip_prefix("v1=").expect("v1");
        assert_eq!(v1.len(), 64);
        assert!(
            v1.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(
            verify_signature(SECRET, &header, b"{\"events\":[]}", 1_700_000_010, 300),
            Ok(())
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        for header in [
            "",
            "t=1",
            "v1=00",
            "t=,v1=00",
            "t=-1,v1=00",
            "t=1,t=2,v1=00",
            "garbage",
            "t=99999999999999999999999,v1=00",
        ] {
            assert_eq!(
                verify_signature(SECRET, header, b"", 1, 300),
                Err(SignatureError::Malformed),
                "{header:?}"
            );
        }
        let long = format!("t=1,v1={}", "0".repeat(MAX_SIGNATURE_HEADER_LEN));
        assert_eq!(
            verify_signature(SECRET, &long, b"", 1, 300),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn any_v1_may_match_and_other_schemes_are_ignored() {
        let good = sign(SECRET, 10, b"x");
        let v1 = good.split_once(",v1=").expect("v1").1;
        let header = format!("t=10,v0=zz,v1=deadbeef,v1=nothex,v1={v1}");
        assert_eq!(verify_signature(SECRET, &header, b"x", 10, 0), Ok(()));
    }

    #[test]
    fn hex_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(unhex(&hex(&bytes)), Some(bytes));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn debug_never_shows_the_secret_nor_the_path() {
        let url = Url::parse("https://hooks.example.com/t/0ken?key=abc").expect("url");
        let config = WebhookConfig::new(url, SECRET.to_vec());
        let text = format!("{config:?}");
        assert!(!text.contains("0123456789abcdef"), "{text}");
        assert!(
            !text.contains("0ken") && !text.contains("key=abc"),
            "{text}"
        );
        assert!(text.contains("hooks.example.com"), "{text}");
    }

    #[test]
    fn loopback_hosts() {
        for (url, loopback) in [
            ("http://127.0.0.1/", true),
            ("http://127.9.8.7/", true),
            ("http://[::1]/", true),
            ("http://[::ffff:127.0.0.1]/", true),
            ("http://localhost/", true),
            ("http://LocalHost./", true),
            ("http://localhost.example.com/", false),
            ("http://10.0.0.1/", false),
            ("http://[::2]/", false),
        ] {
            let url = Url::parse(url).expect("url");
            let host = url.host().expect("host");
            assert_eq!(is_loopback(&host), loopback, "{url}");
        }
    }
}
