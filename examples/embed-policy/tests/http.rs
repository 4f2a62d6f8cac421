//! The orders service over real HTTP on 127.0.0.1: allowed calls, denials by field, operation
//! and model (403, the rule in the audit event), bad keys (401), a failing audit log (503), and
//! an audit folder that verifies with one event per request.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use embed_policy::{App, Data};
use serde_json::{Value, json};
use warden_audit::verify::{VerifyOptions, verify_dir};
use warden_audit::{AuditEvent, Auditor, FailurePolicy, Sink, SinkError, SinkOptions};
use warden_policy::{KeyStoreFile, keys};

const POLICY: &str = include_str!("../policy.toml");

/// The service on an ephemeral port, with a key per profile and a revoked one.
struct Server {
    base: String,
    http: reqwest::Client,
    clerk: String,
    reporting: String,
    revoked: String,
    auditor: Auditor,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    dir: tempfile::TempDir,
}

/// What a call got back.
struct Answer {
    status: u16,
    audit_id: String,
    www_authenticate: Option<String>,
    body: Value,
}

impl Server {
    async fn start() -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let auditor = embed_policy::open_auditor(&dir.path().join("audit")).expect("audit log");
        Server::with_auditor(dir, auditor).await
    }

    async fn with_auditor(dir: tempfile::TempDir, auditor: Auditor) -> Server {
        let now = SystemTime::now();
        let day = Some(Duration::from_secs(86_400));
        let mut store = KeyStoreFile::default();
        let (_, clerk) = keys::create(&mut store, "alice", "clerk", day, now).expect("key");
        let (_, reporting) =
            keys::create(&mut store, "nightly-report", "reporting", day, now).expect("key");
        let (old, revoked) = keys::create(&mut store, "bob", "clerk", day, now).expect("key");
        keys::revoke(&mut store, &old.id, now).expect("revoke");
        let policy = embed_policy::compile_policy(POLICY, &store.to_toml()).expect("policy");

        let app = Arc::new(App::new(policy, auditor.clone(), Data::sample()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listen");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(embed_policy::serve(app, listener, async {
            let _ = stopped.await;
        }));
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        Server {
            base,
            http,
            clerk,
            reporting,
            revoked,
            auditor,
            stop,
            task,
            dir,
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let url = format!("{}{path}", self.base);
        let mut request = match method {
            "POST" => self.http.post(url),
            _ => self.http.get(url),
        };
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("request");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let audit_id = header("x-audit-id").expect("every answer names its audit event");
        let www_authenticate = header("www-authenticate");
        let status = response.status().as_u16();
        let body = response.json().await.expect("a JSON body");
        Answer {
            status,
            audit_id,
            www_authenticate,
            body,
        }
    }

    async fn get(&self, path: &str, key: &str) -> Answer {
        self.call("GET", path, Some(key), None).await
    }

    async fn post(&self, path: &str, key: &str, body: Value) -> Answer {
        self.call("POST", path, Some(key), Some(body)).await
    }

    /// Stops the server, closes the audit log, verifies its folder and returns its request
    /// events in order.
    async fn finish(self) -> Vec<Value> {
        let _ = self.stop.send(());
        self.task.await.expect("server task").expect("served");
        assert!(
            self.auditor.shutdown(Duration::from_secs(10)).await,
            "the audit log closes in time"
        );
        let dir = self.dir.path().join("audit");
        let report = verify_dir(&dir, &VerifyOptions::default()).expect("verify");
        assert!(report.ok(), "the chain verifies: {report:#?}");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("audit folder")
            .map(|entry| entry.expect("entry").path())
            .filter(|path| path.extension().is_some_and(|e| e == "jsonl"))
            .collect();
        files.sort();
        let events: Vec<Value> = files
            .iter()
            .flat_map(|path| {
                let text = std::fs::read_to_string(path).expect("audit file");
                text.lines()
                    .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"))
                    .collect::<Vec<_>>()
            })
            .filter(|event| event["kind"] == "request")
            .collect();
        assert_eq!(report.events(), events.len() as u64, "every event verified");
        events
    }
}

/// The event an answer names.
fn event<'a>(events: &'a [Value], answer: &Answer) -> &'a Value {
    events
        .iter()
        .find(|e| e["id"] == answer.audit_id.as_str())
        .unwrap_or_else(|| panic!("no audit event {}", answer.audit_id))
}

#[tokio::test]
async fn allowed_calls_are_served_and_recorded() {
    let server = Server::start().await;

    let partners = server.get("/partners", &server.clerk).await;
    assert_eq!(partners.status, 200, "{}", partners.body);
    let first = &partners.body["partners"][0];
    assert_eq!(first["name"], "Azure Interior");
    assert!(
        first.get("email").is_none() && first.get("phone").is_none(),
        "denied fields are left out of a read that names none: {first}"
    );

    let order = server
        .get("/orders/1?fields=id,amount", &server.clerk)
        .await;
    assert_eq!(order.status, 200, "{}", order.body);
    assert_eq!(order.body, json!({"id": 1, "amount": 1250.0}));

    let created = server
        .post(
            "/orders",
            &server.clerk,
            json!({"partner_id": 2, "note": "Chairs"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["id"], 3);
    let read_back = server.get("/orders/3", &server.reporting).await;
    assert_eq!(read_back.status, 200, "{}", read_back.body);
    assert_eq!(read_back.body["note"], "Chairs");
    assert_eq!(read_back.body["state"], "draft");

    let missing = server.get("/orders/99", &server.clerk).await;
    assert_eq!(missing.status, 404, "{}", missing.body);

    let events = server.finish().await;
    assert_eq!(events.len(), 5, "one event per request: {events:#?}");
    let listed = event(&events, &partners);
    assert_eq!(listed["decision"]["verdict"], "allow");
    assert_eq!(listed["outcome"]["status"], "ok");
    assert_eq!(listed["key_name"], "alice");
    assert_eq!(listed["profile"], "clerk");
    assert_eq!(listed["client_ip"], "127.0.0.1");
    assert_eq!(listed["tool"], "list_partners");
    assert_eq!(listed["model"], "partner");
    assert_eq!(listed["operation"], "read");
    assert_eq!(listed["fields_requested"], json!(["id", "name", "city"]));
    assert_eq!(listed["record_ids"], json!([1, 2, 3]));
    let made = event(&events, &created);
    assert_eq!(made["fields_written"], json!(["partner_id", "note"]));
    assert_eq!(made["record_ids"], json!([3]));
    assert_eq!(event(&events, &read_back)["key_name"], "nightly-report");
    let not_found = event(&events, &missing);
    assert_eq!(not_found["decision"]["verdict"], "allow");
    assert_eq!(not_found["outcome"]["error"], "not_found");
    for event in &events {
        assert!(!event.to_string().contains("owk_"), "no secret: {event}");
    }
}

#[tokio::test]
async fn denied_fields_operations_and_models_are_403_with_the_rule_recorded() {
    let server = Server::start().await;

    let email = server
        .get("/partners?fields=name,email", &server.clerk)
        .await;
    assert_eq!(email.status, 403, "{}", email.body);
    assert_eq!(email.body["error"], "forbidden");
    let message = email.body["message"].as_str().expect("a reason");
    assert!(message.contains("field \"email\""), "{message}");

    let state = server
        .post(
            "/orders",
            &server.clerk,
            json!({"partner_id": 1, "state": "paid"}),
        )
        .await;
    assert_eq!(state.status, 403, "{}", state.body);
    assert!(
        state.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("\"state\" of model \"order\" may not be written")),
        "{}",
        state.body
    );

    let create = server
        .post("/orders", &server.reporting, json!({"partner_id": 1}))
        .await;
    assert_eq!(create.status, 403, "{}", create.body);
    assert!(
        create.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("operation \"create\" on model \"order\"")),
        "{}",
        create.body
    );

    let partners = server.get("/partners", &server.reporting).await;
    assert_eq!(partners.status, 403, "{}", partners.body);

    // Nothing denied was carried out.
    let none = server.get("/orders/3", &server.clerk).await;
    assert_eq!(none.status, 404, "{}", none.body);

    let events = server.finish().await;
    assert_eq!(events.len(), 5, "{events:#?}");
    for (answer, rule) in [
        (&email, "profile \"clerk\": fields.read.deny \"email\""),
        (
            &state,
            "profile \"clerk\": no applicable fields.write.allow entry matches",
        ),
        (&create, "profile \"reporting\": operations.deny \"create\""),
        (
            &partners,
            "profile \"reporting\": no applicable models.allow entry matches",
        ),
    ] {
        let denied = event(&events, answer);
        assert_eq!(denied["decision"]["verdict"], "deny", "{denied}");
        assert_eq!(denied["decision"]["rule"], rule, "{denied}");
        assert_eq!(denied["decision"]["reason"], "forbidden");
        assert_eq!(denied["outcome"]["error"], "forbidden");
    }
    assert_eq!(
        event(&events, &email)["fields_requested"],
        json!(["name", "email"])
    );
    assert_eq!(
        event(&events, &state)["fields_written"],
        json!(["partner_id", "state"])
    );
}

#[tokio::test]
async fn bad_keys_are_401_and_recorded() {
    let server = Server::start().await;
    let unknown = format!("owk_{}_{}", "0123456789ab", "A".repeat(40));
    let mut answers = Vec::new();
    for key in [
        Some(unknown.as_str()),
        Some("not-a-key"),
        Some(server.revoked.as_str()),
        None,
    ] {
        let answer = server.call("GET", "/partners", key, None).await;
        assert_eq!(answer.status, 401, "{}", answer.body);
        assert_eq!(answer.body["error"], "unauthenticated");
        assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer"));
        assert!(answer.body.get("partners").is_none());
        answers.push(answer);
    }

    let events = server.finish().await;
    assert_eq!(events.len(), 4, "{events:#?}");
    for (answer, reason) in answers.iter().zip([
        "unknown key",
        "malformed key",
        "key revoked",
        "no key presented",
    ]) {
        let refused = event(&events, answer);
        assert_eq!(refused["decision"]["verdict"], "deny");
        assert_eq!(refused["decision"]["reason"], reason);
        assert_eq!(refused["outcome"]["error"], "unauthenticated");
        assert!(refused.get("key_id").is_none(), "{refused}");
        assert!(
            !refused.to_string().contains("owk_"),
            "no secret: {refused}"
        );
    }
}

/// A sink that never writes.
struct Broken;

impl Sink for Broken {
    fn name(&self) -> &str {
        "broken"
    }

    fn write(&mut self, _events: &[std::sync::Arc<AuditEvent>]) -> Result<(), SinkError> {
        Err(SinkError::new("disk full"))
    }
}

#[tokio::test]
async fn a_failing_audit_log_fails_closed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files =
        warden_audit::JsonlSink::open(warden_audit::JsonlConfig::new(dir.path().join("audit")))
            .expect("audit files");
    let fail_closed = SinkOptions {
        policy: FailurePolicy::Block {
            timeout: Duration::from_secs(5),
        },
        queue_capacity: 16,
    };
    let auditor = Auditor::builder()
        .sink(files, SinkOptions::default())
        .sink(Broken, fail_closed)
        .build()
        .expect("auditor");
    let server = Server::with_auditor(dir, auditor).await;

    // The first request is served, but its answer is withheld: its event was not recorded.
    let first = server
        .post("/orders", &server.clerk, json!({"partner_id": 2}))
        .await;
    assert_eq!(first.status, 503, "{}", first.body);
    assert_eq!(first.body["error"], "audit_unavailable");
    // From then on requests are refused before they are served.
    let second = server
        .post("/orders", &server.clerk, json!({"partner_id": 3}))
        .await;
    assert_eq!(second.status, 503, "{}", second.body);

    let events = server.finish().await;
    assert_eq!(
        events.len(),
        2,
        "the files sink still holds both: {events:#?}"
    );
    assert_eq!(event(&events, &first)["decision"]["verdict"], "allow");
    assert_eq!(event(&events, &first)["record_ids"], json!([3]));
    let refused = event(&events, &second);
    assert_eq!(refused["decision"]["verdict"], "deny");
    assert_eq!(refused["outcome"]["error"], "audit_unavailable");
    assert!(refused.get("record_ids").is_none(), "not served: {refused}");
}
