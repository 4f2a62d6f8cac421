//! The webhook sink against a real HTTP receiver on loopback: signatures, batches, retries,
//! drop mode with an unreachable receiver, the https-only rule, and the example receivers.

use std::collections::VecDeque;
use std::io::Write;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use url::Url;
use warden_audit::event::Alert;
use warden_audit::webhook::{
    BATCH_ID_HEADER, EVENT_COUNT_HEADER, SIGNATURE_HEADER, SignatureError, sign, verify_signature,
};
use warden_audit::{
    AuditEvent, Auditor, FailurePolicy, Sink, SinkOptions, WebhookConfig, WebhookSink,
};

const SECRET: &[u8] = b"test-secret-0123456789-abcdefghijklmnop";

/// Longest any wait of these tests lasts.
const WAIT: Duration = Duration::from_secs(30);

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Captured {
    at: Instant,
    status: u16,
    signature: String,
    event_count: String,
    batch_id: String,
    user_agent: String,
    content_type: String,
    body: Vec<u8>,
}

impl Captured {
    /// The events of the body, which must be `{"events":[...]}` and nothing else.
    fn events(&self) -> Vec<Value> {
        let json: Value = serde_json::from_slice(&self.body).expect("the body is json");
        let object = json.as_object().expect("the body is an object");
        assert_eq!(object.len(), 1, "only `events` in the body: {json}");
        object["events"]
            .as_array()
            .expect("events is an array")
            .clone()
    }

    fn timestamp(&self) -> u64 {
        let t = self
            .signature
            .split(',')
            .find_map(|item| item.strip_prefix("t="))
            .expect("a timestamp in the signature");
        t.parse().expect("a numeric timestamp")
    }
}

/// What the receiver answers to the next requests: a status and an optional `Retry-After`.
type Script = VecDeque<(u16, Option<u64>)>;

/// An HTTP/1 receiver on loopback, on a thread of its own. It answers what it is told to
/// ([`Receiver::answer`]), then 200, and keeps every request.
struct Receiver {
    addr: SocketAddr,
    captured: Arc<Mutex<Vec<Captured>>>,
    script: Arc<Mutex<Script>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start() -> Self {
        Self::on(StdListener::bind("127.0.0.1:0").expect("bind a loopback port"))
    }

    fn on(listener: StdListener) -> Self {
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("local address");
        let captured = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(Script::new()));
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = {
            let captured = Arc::clone(&captured);
            let script = Arc::clone(&script);
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("receiver runtime");
                runtime.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    loop {
                        tokio::select! {
                            _ = &mut stopped => break,
                            accepted = listener.accept() => {
                                let Ok((stream, _)) = accepted else { continue };
                                let captured = Arc::clone(&captured);
                                let script = Arc::clone(&script);
                                tokio::spawn(async move {
                                    let service = service_fn(move |request| {
                                        handle(request, Arc::clone(&captured), Arc::clone(&script))
                                    });
                                    let _ = hyper::server::conn::http1::Builder::new()
                                        .serve_connection(TokioIo::new(stream), service)
                                        .await;
                                });
                            }
                        }
                    }
                });
            })
        };
        Self {
            addr,
            captured,
            script,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn url(&self) -> Url {
        Url::parse(&format!("http://{}/hook", self.addr)).expect("url")
    }

    /// Answer the next requests with `statuses` (and `Retry-After`s), then 200.
    fn answer(&self, statuses: &[(u16, Option<u64>)]) {
        self.script
            .lock()
            .expect("script")
            .extend(statuses.iter().copied());
    }

    fn requests(&self) -> Vec<Captured> {
        self.captured.lock().expect("captured").clone()
    }

    /// Every event of the requests answered 2xx, in order.
    fn delivered_events(&self) -> Vec<Value> {
        self.requests()
            .iter()
            .filter(|request| (200..300).contains(&request.status))
            .flat_map(Captured::events)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn handle(
    request: Request<Incoming>,
    captured: Arc<Mutex<Vec<Captured>>>,
    script: Arc<Mutex<Script>>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let at = Instant::now();
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let signature = header(SIGNATURE_HEADER);
    let event_count = header(EVENT_COUNT_HEADER);
    let batch_id = header(BATCH_ID_HEADER);
    let user_agent = header("user-agent");
    let content_type = header("content-type");
    let body = request.into_body().collect().await?.to_bytes().to_vec();
    let (status, retry_after) = script
        .lock()
        .expect("script")
        .pop_front()
        .unwrap_or((200, None));
    captured.lock().expect("captured").push(Captured {
        at,
        status,
        signature,
        event_count,
        batch_id,
        user_agent,
        content_type,
        body,
    });
    let mut response = Response::builder().status(status);
    if let Some(seconds) = retry_after {
        response = response.header("retry-after", seconds.to_string());
    }
    Ok(response
        .body(Full::new(Bytes::from_static(b"{}")))
        .expect("response"))
}

/// Poll `done` every 10 ms until it holds, at most `timeout`.
fn wait_for(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn config(url: Url) -> WebhookConfig {
    let mut config = WebhookConfig::new(url, SECRET.to_vec());
    config.batch_max_events = 10;
    config.batch_max_wait = Duration::from_millis(50);
    config.timeout = Duration::from_secs(5);
    config.initial_backoff = Duration::from_millis(20);
    config
}

fn request_event(n: usize) -> AuditEvent {
    let mut event = AuditEvent::request(SystemTime::now(), "tools/call");
    event.tool = Some(format!("search_read_{n}"));
    event
}

fn events(count: usize) -> Vec<Arc<AuditEvent>> {
    (0..count).map(|n| Arc::new(request_event(n))).collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("test runtime")
}

fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|event| event["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// 1. Batches reach the receiver complete, in order, signed, with the documented headers.
#[test]
fn delivered_batches_are_signed_complete_and_in_order() {
    let receiver = Receiver::start();
    let sink = WebhookSink::new(config(receiver.url())).expect("sink");
    let auditor = Auditor::builder()
        .sink(
            sink,
            SinkOptions {
                policy: FailurePolicy::Drop,
                queue_capacity: 1024,
            },
        )
        .build()
        .expect("auditor");
    let rt = runtime();
    let mut expected = Vec::new();
    for n in 0..24 {
        if n == 12 {
            let alert = AuditEvent::alert(
                SystemTime::now(),
                Alert {
                    name: "denied_burst".to_owned(),
                    message: "12 denied requests in 60 s".to_owned(),
                    count: Some(12),
                    window_s: Some(60),
                },
            );
            expected.push(alert.id.clone());
            auditor.record_nowait(alert);
        }
        let event = request_event(n);
        expected.push(event.id.clone());
        rt.block_on(auditor.record(event)).expect("recorded");
    }
    assert!(rt.block_on(auditor.flush(WAIT)), "flushed in time");

    let requests = receiver.requests();
    assert!(
        requests.len() >= 3,
        "25 events in batches of at most 10: {} requests",
        requests.len()
    );
    let now = unix_now();
    for request in &requests {
        verify_signature(SECRET, &request.signature, &request.body, now, 60)
            .expect("a valid signature");
        assert_eq!(request.content_type, "application/json");
        assert!(
            request.user_agent.starts_with("odoo-warden/"),
            "{}",
            request.user_agent
        );
        let events = request.events();
        assert!(!events.is_empty() && events.len() <= 10, "{}", events.len());
        assert_eq!(request.event_count, events.len().to_string());
        assert_eq!(request.batch_id, ids(&events)[0]);
    }
    let delivered = receiver.delivered_events();
    assert_eq!(ids(&delivered), expected);
    let alerts: Vec<&Value> = delivered.iter().filter(|e| e["kind"] == "alert").collect();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["alert"]["name"], "denied_burst");

    let stats = &auditor.stats()[0];
    assert_eq!(stats.name, "webhook");
    assert_eq!(stats.written, 25);
    assert_eq!(stats.dropped, 0);
}

/// 2. The documented check refuses a replayed request and an altered body.
#[test]
fn replayed_or_altered_requests_are_refused() {
    let receiver = Receiver::start();
    let mut sink = WebhookSink::new(config(receiver.url())).expect("sink");
    sink.write(&events(3)).expect("delivered");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    let t = request.timestamp();
    let (header, body) = (request.signature.as_str(), request.body.as_slice());

    assert_eq!(verify_signature(SECRET, header, body, t, 300), Ok(()));
    assert_eq!(verify_signature(SECRET, header, body, t + 300, 300), Ok(()));
    // The same request, replayed later (or sent with a clock far ahead): refused.
    assert_eq!(
        verify_signature(SECRET, header, body, t + 301, 300),
        Err(SignatureError::Stale)
    );
    assert_eq!(
        verify_signature(SECRET, header, body, t.saturating_sub(301), 300),
        Err(SignatureError::Stale)
    );
    // One byte of the body changed: refused, at any time.
    let mut altered = body.to_vec();
    let index = altered.len() / 2;
    altered[index] ^= 0x01;
    assert_eq!(
        verify_signature(SECRET, header, &altered, t, 300),
        Err(SignatureError::Mismatch)
    );
    // A fresh timestamp on the old signature: refused.
    let v1 = header.split_once(",v1=").expect("v1").1;
    let moved = format!("t={},v1={v1}", t + 1000);
    assert_eq!(
        verify_signature(SECRET, &moved, body, t + 1000, 300),
        Err(SignatureError::Mismatch)
    );
    // Another secret: refused.
    assert_eq!(
        verify_signature(
            b"another-secret-0123456789-abcdefghijk",
            header,
            body,
            t,
            300
        ),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_signature(SECRET, "v1=abcd", body, t, 300),
        Err(SignatureError::Malformed)
    );
    // `sign` is what the sink sent.
    assert_eq!(sign(SECRET, t, body), header);
}

/// 3. 5xx is retried until delivered; Retry-After is honoured and each retry re-signed;
///    a 4xx or a redirect is not retried; attempts are bounded.
#[test]
fn transient_failures_are_retried_and_permanent_ones_are_not() {
    let receiver = Receiver::start();
    let mut sink = WebhookSink::new(config(receiver.url())).expect("sink");

    // 503, 503, then 200: three attempts, one delivery.
    receiver.answer(&[(503, None), (503, None)]);
    let batch = events(4);
    sink.write(&batch).expect("delivered on the third attempt");
    let requests = receiver.requests();
    assert_eq!(
        requests.iter().map(|r| r.status).collect::<Vec<_>>(),
        [503, 503, 200]
    );
    for request in &requests {
        assert_eq!(request.body, requests[0].body, "the same batch each time");
        assert_eq!(request.batch_id, batch[0].id, "the same batch id each time");
        verify_signature(SECRET, &request.signature, &request.body, unix_now(), 60)
            .expect("every attempt is signed");
    }
    assert_eq!(receiver.delivered_events().len(), 4, "delivered once");

    // 400: refused for good, not retried.
    let before = receiver.requests().len();
    receiver.answer(&[(400, None)]);
    let error = sink.write(&events(2)).expect_err("a 400 fails the batch");
    assert_eq!(
        receiver.requests().len(),
        before + 1,
        "no retry after a 400"
    );
    let message = error.to_string();
    assert!(message.contains("400"), "{message}");
    assert_eq!(message, message.to_lowercase());

    // A redirect is not followed, nor retried.
    let before = receiver.requests().len();
    receiver.answer(&[(307, None)]);
    sink.write(&events(1))
        .expect_err("a redirect fails the batch");
    assert_eq!(
        receiver.requests().len(),
        before + 1,
        "no retry after a 307"
    );

    // 429 with Retry-After: 1 waits a second, and the retry carries a fresh timestamp.
    let before = receiver.requests().len();
    receiver.answer(&[(429, Some(1))]);
    sink.write(&events(1)).expect("delivered after the 429");
    let requests = receiver.requests();
    let (first, second) = (&requests[before], &requests[before + 1]);
    assert_eq!((first.status, second.status), (429, 200));
    assert!(
        second.at.duration_since(first.at) >= Duration::from_millis(950),
        "retry-after honoured: {:?}",
        second.at.duration_since(first.at)
    );
    assert!(
        second.timestamp() > first.timestamp(),
        "re-signed with a fresh timestamp"
    );
    assert_ne!(first.signature, second.signature);

    // Always 500: max_attempts requests, then an error.
    let mut config = config(receiver.url());
    config.max_attempts = 3;
    let mut sink = WebhookSink::new(config).expect("sink");
    let before = receiver.requests().len();
    receiver.answer(&[(500, None), (500, None), (500, None)]);
    let error = sink.write(&events(1)).expect_err("gives up");
    assert_eq!(receiver.requests().len(), before + 3);
    assert!(error.to_string().contains("after 3 attempts"), "{error}");
}

/// 4. In drop mode an unreachable receiver never holds up requests; what was lost is counted
///    and reported by a gap event once the receiver is back.
#[test]
fn an_unreachable_receiver_never_blocks_requests_in_drop_mode() {
    // A loopback port with nothing listening: connections are refused.
    let port = {
        let listener = StdListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let url = Url::parse(&format!("http://127.0.0.1:{port}/hook")).expect("url");
    let mut config = config(url);
    config.batch_max_events = 5;
    config.batch_max_wait = Duration::from_millis(20);
    config.max_attempts = 3;
    config.initial_backoff = Duration::from_millis(100);
    config.timeout = Duration::from_secs(1);
    let sink = WebhookSink::new(config).expect("sink");
    let auditor = Auditor::builder()
        .sink(
            sink,
            SinkOptions {
                policy: FailurePolicy::Drop,
                queue_capacity: 8,
            },
        )
        .build()
        .expect("auditor");
    let rt = runtime();

    // Each failed batch costs the sink at least 300 ms of backoff: 200 events waiting for it
    // would take many seconds. None does.
    const RECORDED: usize = 200;
    let start = Instant::now();
    let mut slowest = Duration::ZERO;
    for n in 0..RECORDED {
        let call = Instant::now();
        rt.block_on(auditor.record(request_event(n)))
            .expect("drop mode never fails a request");
        slowest = slowest.max(call.elapsed());
    }
    let elapsed = start.elapsed();
    assert!(
        elapsed < Duration::from_secs(2),
        "200 records took {elapsed:?}"
    );
    assert!(
        slowest < Duration::from_millis(500),
        "one record took {slowest:?}"
    );
    let stats = auditor.stats().remove(0);
    assert!(stats.dropped > 0, "{stats:?}");
    // The batch in hand fails too (after its retries), and is counted as lost.
    assert!(
        wait_for(WAIT, || {
            let stats = &auditor.stats()[0];
            stats.failures > 0 && stats.failing
        }),
        "the sink reports the failed write"
    );

    // The receiver comes up on that port; once the queue is empty, one more event.
    let listener = StdListener::bind(("127.0.0.1", port))
        .expect("the closed port could be bound again for the receiver");
    let receiver = Receiver::on(listener);
    assert!(
        wait_for(WAIT, || auditor.stats()[0].queued == 0),
        "the queue drains"
    );
    let last = request_event(RECORDED);
    let last_id = last.id.clone();
    rt.block_on(auditor.record(last)).expect("recorded");
    assert!(
        wait_for(WAIT, || ids(&receiver.delivered_events())
            .contains(&last_id)),
        "the event after the outage is delivered"
    );

    let delivered = receiver.delivered_events();
    let gaps: Vec<&Value> = delivered.iter().filter(|e| e["kind"] == "gap").collect();
    assert!(!gaps.is_empty(), "a gap event is delivered");
    let reported: u64 = gaps
        .iter()
        .map(|gap| gap["gap"]["dropped"].as_u64().expect("a count"))
        .sum();
    for gap in &gaps {
        assert_eq!(gap["gap"]["sink"], "webhook");
    }
    let stats = auditor.stats().remove(0);
    assert_eq!(
        reported, stats.dropped,
        "the gap events report every lost event"
    );
    let requests_delivered = delivered.iter().filter(|e| e["kind"] == "request").count() as u64;
    assert_eq!(
        requests_delivered + stats.dropped,
        RECORDED as u64 + 1,
        "every event is either delivered or reported lost"
    );
    assert!(!stats.failing, "{stats:?}");
}

/// 5. https only, except to loopback or when plain http is allowed explicitly; no user info;
///    one-line lowercase errors without the secret.
#[test]
fn plain_http_is_only_for_loopback_unless_allowed() {
    let check = |url: &str, allow_insecure_http: bool| {
        let mut config = WebhookConfig::new(Url::parse(url).expect("url"), SECRET.to_vec());
        config.allow_insecure_http = allow_insecure_http;
        config.validate()
    };
    let assert_clean = |message: &str| {
        assert!(!message.contains('\n'), "one line: {message}");
        assert_eq!(message, message.to_lowercase(), "lowercase: {message}");
        assert!(!message.ends_with('.'), "no trailing period: {message}");
        assert!(
            !message.contains(std::str::from_utf8(SECRET).expect("ascii")),
            "no secret: {message}"
        );
    };

    let refused = check("http://example.com/hook", false).expect_err("plain http refused");
    assert!(refused.to_string().contains("plain http"), "{refused}");
    assert_clean(&refused.to_string());

    for url in [
        "http://127.0.0.1:9/hook",
        "http://127.1.2.3/hook",
        "http://[::1]:9/hook",
        "http://localhost:9/hook",
        "https://example.com/hook",
        "https://example.com/hook?token=abc",
    ] {
        check(url, false).unwrap_or_else(|e| panic!("{url} accepted: {e}"));
    }
    check("http://example.com/hook", true).expect("allowed explicitly");
    WebhookSink::new({
        let mut config = config(Url::parse("http://example.com/hook").expect("url"));
        config.allow_insecure_http = true;
        config
    })
    .expect("a sink with allow_insecure_http (and a warning)");
    WebhookSink::new(config(Url::parse("http://127.0.0.1:9/hook").expect("url")))
        .expect("a loopback sink");

    for (url, secret, needle) in [
        ("https://user:pass@example.com/hook", SECRET, "user info"),
        ("ftp://example.com/hook", SECRET, "scheme"),
        ("https://example.com/hook#part", SECRET, "fragment"),
        (
            "https://example.com/hook",
            &b"too-short-secret"[..],
            "32 bytes",
        ),
    ] {
        let config = WebhookConfig::new(Url::parse(url).expect("url"), secret.to_vec());
        let message = config.validate().expect_err(url).to_string();
        assert!(message.contains(needle), "{url}: {message}");
        assert!(!message.contains("pass"), "{message}");
        assert!(!message.contains("too-short-secret"), "{message}");
        assert_clean(&message);
    }

    let mut config = config(Url::parse("https://example.com/hook").expect("url"));
    config.max_attempts = 0;
    assert!(config.validate().is_err());
    let debug = format!("{config:?}");
    assert!(
        !debug.contains(std::str::from_utf8(SECRET).expect("ascii")),
        "{debug}"
    );
}

/// The example receivers' folder.
fn receivers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/webhook-receivers")
}

/// Run an example receiver's CLI on `header` and `body`; its exit status.
fn run_receiver(program: &str, script: &str, secret: &[u8], header: &str, body: &[u8]) -> i32 {
    let path = receivers_dir().join(script);
    assert!(path.is_file(), "{} is missing", path.display());
    let mut child = Command::new(program)
        .arg(&path)
        .arg(header)
        .env(
            "WARDEN_WEBHOOK_SECRET",
            std::str::from_utf8(secret).expect("ascii"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{program}` ({e}): the example receivers test needs {program} on \
                 the PATH (python3 and node are installed in CI)"
            )
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body)
        .expect("write the body");
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status
                .code()
                .unwrap_or_else(|| panic!("{program} {script} was killed: {status}"));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{program} {script} did not finish within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// 6. The Python and Node receivers of the docs accept what the sink signs, and refuse an
///    altered body, an old timestamp and another secret.
#[test]
fn example_receivers_verify_what_the_sink_signs() {
    let mut event = request_event(0);
    event.key_name = Some("équipe ventes — \"bot\"\n".to_owned());
    let body = serde_json::to_vec(&serde_json::json!({ "events": [event] })).expect("json");
    let now = unix_now();
    let fresh = sign(SECRET, now, &body);
    let old = sign(SECRET, now - 3600, &body);
    let mut altered = body.clone();
    let index = altered.len() / 2;
    altered[index] ^= 0x01;

    for (program, script) in [("python3", "receiver.py"), ("node", "receiver.mjs")] {
        assert_eq!(
            run_receiver(program, script, SECRET, &fresh, &body),
            0,
            "{script} accepts a fresh, valid signature"
        );
        assert_eq!(
            run_receiver(program, script, SECRET, &fresh, &altered),
            1,
            "{script} refuses an altered body"
        );
        assert_eq!(
            run_receiver(program, script, SECRET, &old, &body),
            1,
            "{script} refuses an old timestamp"
        );
        assert_eq!(
            run_receiver(
                program,
                script,
                b"another-secret-0123456789-abcdefghijk",
                &fresh,
                &body
            ),
            1,
            "{script} refuses another secret"
        );
    }
}
