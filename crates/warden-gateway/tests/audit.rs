//! The audit trail the engine writes, against the simulator, in a legacy revision and in
//! 2026-07-28: one event per request, allowed or denied, for every tool, resource and protocol
//! method; who (key, profile, Odoo user, transport), what (tool, model, Odoo method, operation,
//! field names, record ids), the decision and the rule behind it, the outcome, latency and
//! result size; never a secret or a field value unless the profile turns values on; failed
//! authentications and malformed messages recorded; and a fail-closed sink that cannot write
//! stops requests before they reach Odoo.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use support::{Client, ERAS, Keys};
use warden_audit::{AuditEvent, Auditor, FailurePolicy, Sink, SinkError, SinkOptions, Verdict};
use warden_gateway::catalog::CatalogSettings;
use warden_gateway::engine::{AUDIT_UNAVAILABLE, Caller, Gateway, ServerInfo};
use warden_odoo_sim::{SimHandle, SimOptions};

/// `reader` reads partners and countries without e-mails; `values` is `reader` with value
/// logging; `writer` may also change a partner's phone.
const POLICY: &str = r#"
[rate_limits]
per_key_per_minute = 1000

[profiles.reader]
identity = "sales"
models = { allow = ["res.partner", "res.country"] }
operations = { allow = ["read"] }
fields = { read = { deny = ["email"] } }

[profiles.values]
extends = ["reader"]
audit_values = true

[profiles.writer]
extends = ["reader"]
[profiles.writer.model."res.partner"]
operations = { allow = ["write", "create", "delete", "call"] }
methods = { allow = ["action_archive", "action_unarchive"] }
fields = { write = { allow = ["phone", "name"] } }
"#;

/// A sink that keeps what it is given, and fails while told to.
#[derive(Clone, Default)]
struct Memory {
    events: Arc<Mutex<Vec<Arc<AuditEvent>>>>,
    failing: Arc<AtomicBool>,
}

impl Memory {
    fn take(&self) -> Vec<Value> {
        self.events
            .lock()
            .expect("lock")
            .drain(..)
            .map(|e| serde_json::to_value(e.as_ref()).expect("json"))
            .collect()
    }
}

impl Sink for Memory {
    fn name(&self) -> &str {
        "memory"
    }
    fn write(&mut self, events: &[Arc<AuditEvent>]) -> Result<(), SinkError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(SinkError::new("disk full"));
        }
        self.events
            .lock()
            .expect("lock")
            .extend(events.iter().cloned());
        Ok(())
    }
}

struct Setup {
    sim: SimHandle,
    gateway: Gateway,
    memory: Memory,
    keys: Keys,
}

async fn setup() -> Setup {
    let sim = warden_odoo_sim::start("127.0.0.1:0".parse().expect("addr"), SimOptions::default())
        .await
        .expect("sim");
    let settings = CatalogSettings {
        write_tools: true,
        ..CatalogSettings::default()
    };
    let keys = Keys::for_policy(POLICY);
    let runtime = support::compile(POLICY, &keys.store, &support::catalogs(&sim, &settings));
    let memory = Memory::default();
    let auditor = Auditor::builder()
        .sink(
            memory.clone(),
            SinkOptions {
                policy: FailurePolicy::Block {
                    timeout: Duration::from_millis(500),
                },
                queue_capacity: 64,
            },
        )
        .alerts(warden_audit::AlertConfig::default())
        .build()
        .expect("auditor");
    let gateway = Gateway::with_audit(runtime, ServerInfo::default(), auditor);
    Setup {
        sim,
        gateway,
        memory,
        keys,
    }
}

impl Setup {
    async fn client(&self, profile: &str, version: &'static str) -> Client {
        let key = self
            .gateway
            .authenticate(&self.keys.secrets[profile], None)
            .expect("key");
        let client =
            Client::connect(self.gateway.session(Caller::stdio(), key), version, false).await;
        // Forget the handshake's events.
        self.memory.take();
        client
    }

    /// The one request event the last request wrote.
    fn only(&self) -> Value {
        let events = self.memory.take();
        let requests: Vec<&Value> = events.iter().filter(|e| e["kind"] == "request").collect();
        assert_eq!(requests.len(), 1, "one event per request: {events:#?}");
        requests[0].clone()
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn every_tool_call_is_recorded_with_who_what_and_how_it_ended() {
    let s = setup().await;
    for version in ERAS {
        let mut client = s.client("writer", version).await;
        // (tool, arguments, model, odoo method, operation)
        let cases = [
            (
                "search_records",
                json!({"model": "res.partner", "domain": "[('is_company', '=', True)]", "fields": ["name", "phone"], "limit": 3, "order": "name"}),
                Some("res.partner"),
                "search_read",
                "read",
            ),
            (
                "read_records",
                json!({"model": "res.partner", "ids": [1, 2], "fields": ["name"]}),
                Some("res.partner"),
                "read",
                "read",
            ),
            (
                "count_records",
                json!({"model": "res.partner", "domain": "[]"}),
                Some("res.partner"),
                "search_count",
                "read",
            ),
            (
                "aggregate_records",
                json!({"model": "res.partner", "group_by": ["country_id"], "aggregates": ["__count"]}),
                Some("res.partner"),
                "read_group",
                "read",
            ),
            (
                "find_by_name",
                json!({"model": "res.country", "name": "Bel"}),
                Some("res.country"),
                "search_read",
                "read",
            ),
            ("list_models", json!({}), None, "search_read", "metadata"),
            (
                "describe_model",
                json!({"model": "res.partner"}),
                Some("res.partner"),
                "fields_get",
                "metadata",
            ),
            (
                "update_records",
                json!({"model": "res.partner", "ids": [3], "values": "{'phone': '+32 2 000 00 00'}"}),
                Some("res.partner"),
                "write",
                "write",
            ),
            (
                "call_method",
                json!({"model": "res.partner", "method": "action_archive", "ids": [3]}),
                Some("res.partner"),
                "action_archive",
                "call",
            ),
            (
                "call_method",
                json!({"model": "res.partner", "method": "action_unarchive", "ids": [3]}),
                Some("res.partner"),
                "action_unarchive",
                "call",
            ),
        ];
        for (tool, arguments, model, odoo_method, operation) in cases {
            let result = client.call(tool, arguments.clone()).await;
            let event = s.only();
            let what = format!("{version} {tool} {event:#}");
            assert_eq!(result["isError"], json!(false), "{what} {result}");
            assert_eq!(event["v"], 1, "{what}");
            assert_eq!(event["method"], "tools/call", "{what}");
            assert_eq!(event["tool"], tool, "{what}");
            assert_eq!(event["model"].as_str(), model, "{what}");
            assert_eq!(event["odoo_method"], odoo_method, "{what}");
            assert_eq!(event["operation"], operation, "{what}");
            assert_eq!(event["decision"]["verdict"], "allow", "{what}");
            assert_eq!(event["outcome"]["status"], "ok", "{what}");
            assert_eq!(event["key_id"], s.keys.ids["writer"].as_str(), "{what}");
            assert_eq!(event["key_name"], "key-writer", "{what}");
            assert_eq!(event["profile"], "writer", "{what}");
            assert_eq!(event["odoo_user"], "sales_agent", "{what}");
            assert_eq!(event["transport"], "stdio", "{what}");
            assert_eq!(event["protocol"], version, "{what}");
            assert!(event["request_id"].is_string(), "{what}");
            assert!(
                event["result_bytes"].as_u64().is_some_and(|b| b > 0),
                "{what}"
            );
            let latency = &event["latency"];
            assert!(
                latency["total_ms"].as_f64().is_some_and(|ms| ms > 0.0),
                "{what}"
            );
            assert!(
                latency["odoo_ms"].as_f64().is_some_and(
                    |ms| ms >= 0.0 && ms <= latency["total_ms"].as_f64().unwrap_or(0.0)
                ),
                "{what}"
            );
            assert!(
                event.get("arguments").is_none(),
                "no values by default: {what}"
            );
            let id = event["id"].as_str().expect("id");
            assert_eq!(id.len(), 36, "a uuid: {what}");
            assert!(
                event["time"]
                    .as_str()
                    .is_some_and(|t| t.ends_with('Z') && t.len() == 27),
                "{what}"
            );
        }
    }
}

#[tokio::test]
async fn events_name_the_fields_and_records_but_never_the_values() {
    let s = setup().await;
    for version in ERAS {
        let mut client = s.client("reader", version).await;
        let found = client
            .ok(
                "search_records",
                json!({"model": "res.partner", "domain": "[('name', 'ilike', 'Azure')]", "fields": ["name", "phone"], "order": "name"}),
            )
            .await;
        let ids: Vec<i64> = found["records"]
            .as_array()
            .expect("records")
            .iter()
            .filter_map(|r| r["id"].as_i64())
            .collect();
        assert!(!ids.is_empty());
        let event = s.only();
        assert_eq!(strings(&event["fields_requested"]), ["name", "phone"]);
        assert_eq!(
            strings(&event["fields_filtered"]),
            ["name", "name"][..1].to_vec()
        );
        assert_eq!(strings(&event["fields_returned"]), ["id", "name", "phone"]);
        let recorded: Vec<i64> = event["record_ids"]
            .as_array()
            .expect("ids")
            .iter()
            .filter_map(Value::as_i64)
            .collect();
        assert_eq!(recorded, ids);
        assert_eq!(event["record_count"], json!(ids.len()));
        assert_eq!(event["result_count"], json!(ids.len()));
        let text = event.to_string();
        assert!(!text.contains("Azure"), "a domain value leaked: {text}");
        let phone = found["records"][0]["phone"].as_str().unwrap_or("no phone");
        assert!(!text.contains(phone), "a field value leaked: {text}");

        // The same call by a profile that turns values on records its arguments.
        let mut values = s.client("values", version).await;
        values
            .ok(
                "search_records",
                json!({"model": "res.partner", "domain": "[('name', 'ilike', 'Azure')]", "fields": ["name"]}),
            )
            .await;
        let event = s.only();
        assert_eq!(event["arguments"]["domain"], "[('name', 'ilike', 'Azure')]");
    }
}

#[tokio::test]
async fn denials_are_recorded_with_the_rule_that_decided() {
    let s = setup().await;
    for version in ERAS {
        let mut client = s.client("reader", version).await;
        // Model metadata is fetched once and cached; warm it so the count below is exact.
        client
            .ok("describe_model", json!({"model": "res.partner"}))
            .await;
        s.memory.take();
        let before = s.sim.request_count();
        // An operation the profile does not allow.
        client
            .tool_error(
                "update_records",
                json!({"model": "res.partner", "ids": [3], "values": "{'phone': 'x'}"}),
            )
            .await;
        let event = s.only();
        assert_eq!(event["decision"]["verdict"], "deny", "{event:#}");
        assert!(
            event["decision"]["rule"]
                .as_str()
                .is_some_and(|r| r.contains("reader")),
            "{event:#}"
        );
        assert_eq!(event["outcome"]["status"], "error");
        assert_eq!(event["outcome"]["error"], "forbidden");
        assert_eq!(event["operation"], "write");
        assert_eq!(event["record_ids"], json!([3]));
        assert_eq!(
            s.sim.request_count(),
            before,
            "a denied call reaches nothing"
        );

        // Names the profile hides: the caller is told they are unknown (as for names that do
        // not exist), the log records a denial with the rule that hides them — on every tool,
        // resource and prompt.
        let hidden_model = "profile \"reader\": no applicable models.allow entry matches";
        let hidden_email = "profile \"reader\": fields.read.deny \"email\"";
        let probes = [
            (
                "tools/call",
                json!({"name": "search_records", "arguments": {"model": "res.partner", "fields": ["email"]}}),
                hidden_email,
            ),
            (
                "tools/call",
                json!({"name": "count_records", "arguments": {"model": "res.partner", "domain": [["email", "ilike", "x"]]}}),
                hidden_email,
            ),
            (
                "tools/call",
                json!({"name": "search_records", "arguments": {"model": "res.partner", "order": "email"}}),
                hidden_email,
            ),
            (
                "tools/call",
                json!({"name": "aggregate_records", "arguments": {"model": "res.partner", "group_by": ["email"]}}),
                hidden_email,
            ),
            (
                "tools/call",
                json!({"name": "count_records", "arguments": {"model": "res.partner", "domain": [["email_normalized", "ilike", "x"]]}}),
                "(res.partner.email_normalized derives from res.partner.email)",
            ),
            (
                "tools/call",
                json!({"name": "count_records", "arguments": {"model": "res.partner", "domain": [["user_id.login", "=", "x"]]}}),
                hidden_model,
            ),
            (
                "tools/call",
                json!({"name": "search_records", "arguments": {"model": "hr.employee"}}),
                hidden_model,
            ),
            (
                "tools/call",
                json!({"name": "describe_model", "arguments": {"model": "hr.employee"}}),
                hidden_model,
            ),
            (
                "resources/read",
                json!({"uri": "odoo://hr.employee/1"}),
                hidden_model,
            ),
            (
                "resources/read",
                json!({"uri": "odoo://hr.employee"}),
                hidden_model,
            ),
            (
                "prompts/get",
                json!({"name": "explain_model", "arguments": {"model": "hr.employee"}}),
                hidden_model,
            ),
        ];
        for (method, params, rule) in &probes {
            let before = s.sim.request_count();
            let response = client.request(method, params.clone()).await;
            let event = s.only();
            let what = format!("{version} {method} {params}: {event:#}");
            assert_eq!(event["decision"]["verdict"], "deny", "{what}");
            assert!(
                event["decision"]["rule"]
                    .as_str()
                    .is_some_and(|r| r.contains(rule)),
                "{what}"
            );
            assert_eq!(event["outcome"]["status"], "error", "{what}");
            // What the caller is told names no rule.
            let told = response.to_string();
            assert!(
                !told.contains("deny") && !told.contains("allow"),
                "{what}: {told}"
            );
            assert_eq!(s.sim.request_count(), before, "{what}: reached Odoo");
        }
        // Completion: a prefix on the way is no probe; the whole name of a hidden model is,
        // though it is answered as any name without completions is.
        let complete = |value: &str| {
            json!({"ref": {"type": "ref/resource", "uri": "odoo://{model}/{id}"},
                   "argument": {"name": "model", "value": value}})
        };
        for (value, verdict) in [
            ("res.p", "allow"),
            ("res.use", "allow"),
            ("res.users", "deny"),
        ] {
            let response = client.request("completion/complete", complete(value)).await;
            let event = s.only();
            let what = format!("{version} completion {value}: {event:#} {response}");
            assert_eq!(event["decision"]["verdict"], verdict, "{what}");
            if verdict == "deny" {
                assert_eq!(
                    response["result"]["completion"]["values"],
                    json!([]),
                    "{what}"
                );
                assert!(
                    event["decision"]["rule"]
                        .as_str()
                        .is_some_and(|r| r.contains(hidden_model)),
                    "{what}"
                );
            } else if value == "res.p" {
                assert_eq!(
                    response["result"]["completion"]["values"][0], "res.partner",
                    "{what}"
                );
            }
        }
        // Malformed input stays what it is: an invalid argument, allowed by the policy.
        client
            .tool_error(
                "search_records",
                json!({"model": "res.partner", "fields": ["no_such_field"]}),
            )
            .await;
        let event = s.only();
        assert_eq!(event["decision"]["verdict"], "allow", "{event:#}");
        assert_eq!(event["outcome"]["error"], "invalid_arguments", "{event:#}");
    }
}

/// An agent probing hidden models trips `denied_burst`, as one probing forbidden operations
/// does.
#[tokio::test]
async fn probing_hidden_names_raises_the_denied_burst_alert() {
    let s = setup().await;
    let mut client = s.client("reader", support::LEGACY).await;
    for model in [
        "hr.employee",
        "res.users",
        "ir.config_parameter",
        "account.move",
    ]
    .iter()
    .cycle()
    .take(12)
    {
        client
            .tool_error("search_records", json!({"model": model}))
            .await;
    }
    let events = s.memory.take();
    let alerts: Vec<&Value> = events.iter().filter(|e| e["kind"] == "alert").collect();
    assert!(
        alerts.iter().any(|a| a["alert"]["name"] == "denied_burst"),
        "12 probes of hidden models: {events:#?}"
    );
}

#[tokio::test]
async fn protocol_methods_resources_and_malformed_messages_are_recorded() {
    let s = setup().await;
    for version in ERAS {
        let mut client = s.client("reader", version).await;
        client.result("tools/list", json!({})).await;
        let event = s.only();
        assert_eq!(event["method"], "tools/list");
        assert_eq!(event["outcome"]["status"], "ok");

        client
            .result("resources/read", json!({"uri": "odoo://res.partner/1"}))
            .await;
        let event = s.only();
        assert_eq!(event["method"], "resources/read");
        assert_eq!(event["uri"], "odoo://res.partner/1");
        assert_eq!(event["model"], "res.partner");
        assert_eq!(event["record_ids"], json!([1]));

        client.error("no/such/method", json!({})).await;
        let event = s.only();
        assert_eq!(event["outcome"]["error"], "method_not_found", "{event:#}");

        let (tx, _rx) = tokio::sync::mpsc::channel(4);
        let response = client.session.handle(b"{not json", &tx).await;
        assert!(response.is_some());
        assert!(
            tokio::time::timeout(Duration::from_secs(5), async {
                loop {
                    let events = s.memory.events.lock().expect("lock").len();
                    if events > 0 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
            .await
            .is_ok()
        );
        let event = s.only();
        assert_eq!(event["method"], "invalid");
        assert_eq!(event["outcome"]["error"], "parse_error", "{event:#}");
    }
}

#[tokio::test]
async fn failed_authentications_are_recorded_without_the_secret() {
    let s = setup().await;
    let wrong = "owk_k_000000000000_0000000000000000000000000000000000000000";
    let address: std::net::IpAddr = "192.0.2.7".parse().expect("ip");
    assert!(s.gateway.authenticate(wrong, Some(address)).is_err());
    assert!(s.gateway.auditor().flush(Duration::from_secs(5)).await);
    let events = s.memory.take();
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    assert_eq!(event["method"], "authenticate");
    assert_eq!(event["decision"]["verdict"], "deny");
    assert_eq!(event["outcome"]["error"], "unauthenticated");
    assert_eq!(event["client_ip"], "192.0.2.7");
    assert_eq!(event["transport"], "http");
    assert!(
        !event.to_string().contains(wrong),
        "the presented secret is never recorded"
    );
    // Nor any real secret, on any event.
    let mut client = s.client("reader", support::LEGACY).await;
    client
        .ok("count_records", json!({"model": "res.partner"}))
        .await;
    for event in s.memory.take() {
        for secret in s.keys.secrets.values() {
            assert!(!event.to_string().contains(secret.as_str()));
        }
    }
}

#[tokio::test]
async fn a_revoked_key_is_recorded_as_denied() {
    let s = setup().await;
    for version in ERAS {
        let mut client = s.client("reader", version).await;
        let mut store = s.keys.store.clone();
        warden_policy::keys::revoke(&mut store, &s.keys.ids["reader"], SystemTime::now())
            .expect("revoke");
        let settings = CatalogSettings::default();
        s.gateway.reload(support::compile(
            POLICY,
            &store,
            &support::catalogs(&s.sim, &settings),
        ));
        client.error("tools/list", json!({})).await;
        let event = s.only();
        assert_eq!(event["decision"]["verdict"], "deny", "{event:#}");
        assert_eq!(event["outcome"]["error"], "forbidden");
        assert!(
            event["decision"]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("revoked")),
            "{event:#}"
        );
        // Named, so `audit search --key reader` finds the refusal as it finds the key's calls.
        assert_eq!(event["key_name"], "key-reader", "{event:#}");
        assert_eq!(event["profile"], "reader", "{event:#}");
        // So is a message that is not JSON-RPC at all.
        let (tx, _rx) = tokio::sync::mpsc::channel(1);
        assert!(client.session.handle(b"{not json", &tx).await.is_some());
        assert!(s.gateway.auditor().flush(Duration::from_secs(5)).await);
        let event = s.only();
        assert_eq!(event["method"], "invalid", "{event:#}");
        assert_eq!(event["key_name"], "key-reader", "{event:#}");
        s.gateway.reload(support::compile(
            POLICY,
            &s.keys.store,
            &support::catalogs(&s.sim, &settings),
        ));
    }
}

#[tokio::test]
async fn a_failing_fail_closed_sink_stops_requests_before_odoo() {
    let s = setup().await;
    for version in ERAS {
        let mut client = s.client("writer", version).await;
        s.memory.failing.store(true, Ordering::SeqCst);
        // The first request cannot be recorded: its answer is withheld.
        let error = client
            .error(
                "tools/call",
                json!({"name": "count_records", "arguments": {"model": "res.partner"}}),
            )
            .await;
        assert_eq!(error["code"], json!(AUDIT_UNAVAILABLE), "{error}");
        assert!(error.to_string().contains("audit"), "{error}");
        assert!(
            !error.to_string().contains("count"),
            "no result is handed out: {error}"
        );
        // From then on, requests are refused before anything reaches Odoo.
        let before = s.sim.request_count();
        let error = client
            .error(
                "tools/call",
                json!({"name": "update_records", "arguments": {"model": "res.partner", "ids": [3], "values": "{'phone': '+1'}"}}),
            )
            .await;
        assert_eq!(error["code"], json!(AUDIT_UNAVAILABLE), "{error}");
        assert_eq!(s.sim.request_count(), before, "nothing reached Odoo");
        // The sink recovers: the refusals are recorded (nothing was lost), and requests go on.
        s.memory.failing.store(false, Ordering::SeqCst);
        tokio::time::timeout(Duration::from_secs(10), async {
            while s.gateway.auditor().ready().is_err() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the sink recovers");
        let events = s.memory.take();
        assert!(
            events
                .iter()
                .any(|e| e["outcome"]["error"] == "audit_unavailable"
                    && e["decision"]["verdict"] == "deny"),
            "{events:#?}"
        );
        assert!(
            events.iter().any(|e| e["tool"] == "count_records"),
            "{events:#?}"
        );
        client
            .ok("count_records", json!({"model": "res.partner"}))
            .await;
        let event = s.only();
        assert_eq!(
            serde_json::from_value::<AuditEvent>(event)
                .expect("parses")
                .decision
                .map(|d| d.verdict),
            Some(Verdict::Allow)
        );
    }
}
