//! The HTTP stack over a `Backend` of our own (what an embedding service writes): the stack
//! authenticates through it, binds sessions to its principal, answers plain JSON unless the
//! backend sends something first, and tells the backend when the client has gone away.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use warden_transport::http::{self, AuthFailure, Backend, Caller, HttpOptions};

mod support;

/// A backend with one token per principal, and three methods: `initialize` (opens a legacy
/// session), `echo` (returns its params), `listen` (sends a notification, then waits until
/// nobody listens).
#[derive(Clone, Default)]
struct Echo {
    /// Set once a `listen` saw its outbound channel close.
    closed: Arc<AtomicBool>,
    /// Messages handled.
    handled: Arc<AtomicUsize>,
}

impl Backend for Echo {
    type Principal = String;
    type Session = Arc<str>;

    fn authenticate(&self, token: &str, caller: &Caller) -> Result<String, AuthFailure> {
        match token {
            "token-a" | "token-b" => Ok(token.to_owned()),
            _ => Err(self.reject_credential(caller, "unknown")),
        }
    }

    fn reject_credential(&self, _caller: &Caller, reason: &str) -> AuthFailure {
        AuthFailure {
            message: "invalid credential".to_owned(),
            retry_after: None,
            reason: reason.to_owned(),
        }
    }

    fn session(&self, _caller: Caller, principal: String) -> Arc<str> {
        Arc::from(principal)
    }

    async fn handle(
        &self,
        session: &Arc<str>,
        message: &[u8],
        outbound: &mpsc::Sender<Value>,
    ) -> Option<Value> {
        self.handled.fetch_add(1, Ordering::SeqCst);
        let message: Value = serde_json::from_slice(message).ok()?;
        let id = message.get("id")?.clone();
        let result = match message["method"].as_str()? {
            "initialize" => json!({"protocolVersion": "2025-06-18", "capabilities": {},
                                   "serverInfo": {"name": "echo", "version": "1"}}),
            "echo" => json!({"params": message["params"], "principal": &**session}),
            "listen" => {
                let note = json!({"jsonrpc": "2.0", "method": "notifications/hello"});
                if outbound.send(note).await.is_ok() {
                    outbound.closed().await;
                }
                self.closed.store(true, Ordering::SeqCst);
                return None;
            }
            _ => {
                return Some(json!({"jsonrpc": "2.0", "id": id,
                                   "error": {"code": -32601, "message": "method not found"}}));
            }
        };
        Some(json!({"jsonrpc": "2.0", "id": id, "result": result}))
    }

    async fn ready(&self) -> bool {
        true
    }
}

struct Running {
    url: String,
    backend: Echo,
    http: reqwest::Client,
    served: support::Served,
}

async fn start() -> Running {
    let backend = Echo::default();
    let app = http::app(backend.clone(), HttpOptions::default());
    let served = support::serve(app, Duration::from_secs(5)).await;
    Running {
        url: format!("{}/mcp", served.base()),
        backend,
        http: support::client(),
        served,
    }
}

impl Running {
    fn post(&self, token: Option<&str>, body: &Value) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request
    }

    async fn stop(self) {
        self.served.stop().await.expect("serve");
    }
}

const MODERN: &str = "2026-07-28";

fn modern(method: &str, id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {}}}})
}

#[tokio::test]
async fn the_backend_decides_who_is_served_and_sessions_stay_with_their_principal() {
    let server = start().await;
    // No credential, and the backend serves nobody anonymously: 401, and nothing is handled.
    let response = server
        .post(None, &modern("echo", 1))
        .header("mcp-protocol-version", MODERN)
        .header("mcp-method", "echo")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 401);
    let response = server
        .post(Some("token-x"), &modern("echo", 1))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 401);
    assert_eq!(server.backend.handled.load(Ordering::SeqCst), 0);
    // A stateless request is answered as JSON with the principal the backend named.
    let response = server
        .post(Some("token-a"), &modern("echo", 2))
        .header("mcp-protocol-version", MODERN)
        .header("mcp-method", "echo")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["result"]["principal"], "token-a", "{body}");
    // The backend's -32601 is a 404 in 2026-07-28.
    let response = server
        .post(Some("token-a"), &modern("nothing/here", 3))
        .header("mcp-protocol-version", MODERN)
        .header("mcp-method", "nothing/here")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 404);
    // A legacy session is the principal's: another one is told it does not exist.
    let init = json!({"jsonrpc": "2.0", "id": 4, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}});
    let response = server
        .post(Some("token-a"), &init)
        .send()
        .await
        .expect("send");
    let id = response.headers()["mcp-session-id"]
        .to_str()
        .expect("id")
        .to_owned();
    let echo = json!({"jsonrpc": "2.0", "id": 5, "method": "echo", "params": {}});
    let mine = server
        .post(Some("token-a"), &echo)
        .header("mcp-session-id", &id)
        .send()
        .await
        .expect("send");
    assert_eq!(mine.status(), 200);
    let theirs = server
        .post(Some("token-b"), &echo)
        .header("mcp-session-id", &id)
        .send()
        .await
        .expect("send");
    assert_eq!(theirs.status(), 404);
    server.stop().await;
}

#[tokio::test]
async fn a_stream_starts_with_the_first_message_and_the_backend_learns_when_the_client_leaves() {
    let server = start().await;
    let mut response = server
        .post(Some("token-a"), &modern("listen", 1))
        .header("mcp-protocol-version", MODERN)
        .header("mcp-method", "listen")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/event-stream")
    );
    let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
        .await
        .expect("in time")
        .expect("read")
        .expect("a first event");
    assert!(
        String::from_utf8_lossy(&chunk).contains("notifications/hello"),
        "{chunk:?}"
    );
    assert!(!server.backend.closed.load(Ordering::SeqCst));
    // The client goes away: the backend's outbound channel closes, so it stops waiting.
    drop(response);
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while !server.backend.closed.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(closed.is_ok(), "the backend was told the client left");
    server.stop().await;
}

#[tokio::test]
async fn the_operations_listener_answers_probes_by_address_and_serves_nothing_else() {
    let server = start().await;
    let app = http::app(Echo::default(), HttpOptions::default());
    // Open (no token): the loopback operations listener.
    let served = support::serve(app.ops(None), Duration::from_secs(5)).await;
    let base = served.base();
    for path in ["/healthz", "/readyz", "/metrics"] {
        // A probe calls by address, with a Host the main listener would refuse.
        let response = server
            .http
            .get(format!("{base}{path}"))
            .header("host", "10.0.0.5:9464")
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 200, "{path}");
    }
    // The MCP endpoint is not served there.
    let response = server
        .http
        .post(format!("{base}/mcp"))
        .header("content-type", "application/json")
        .body(modern("echo", 1).to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 404);
    // A foreign page still gets nothing.
    let response = server
        .http
        .get(format!("{base}/metrics"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 403);
    served.stop().await.expect("serve");

    // With a token: /readyz and /metrics want it, /healthz does not.
    let token = warden_odoo::SecretString::from("ops-token-0123456789".to_owned());
    let served = support::serve(app.ops(Some(token)), Duration::from_secs(5)).await;
    let base = served.base();
    let get = |path: &str, token: Option<&str>| {
        let mut request = server.http.get(format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_eq!(get("/healthz", None).await.expect("send").status(), 200);
    assert_eq!(get("/metrics", None).await.expect("send").status(), 404);
    assert_eq!(
        get("/metrics", Some("wrong")).await.expect("send").status(),
        404
    );
    assert_eq!(
        get("/metrics", Some("ops-token-0123456789"))
            .await
            .expect("send")
            .status(),
        200
    );
    served.stop().await.expect("serve");
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let options = HttpOptions {
        header_timeout: Duration::from_millis(300),
        ..HttpOptions::default()
    };
    let header_timeout = options.header_timeout;
    let served = support::serve(http::app(Echo::default(), options), header_timeout).await;
    let addr = served.addr;
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    // Half a request, then silence (a slowloris).
    stream
        .write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .expect("write");
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest)).await;
    assert!(ended.is_ok(), "the server closed the connection");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "within the header timeout, not the request timeout: {:?}",
        started.elapsed()
    );
    served.stop().await.expect("serve");
}
