//! The MCP engine against the simulator, in every protocol revision it speaks: every message it
//! emits in these tests (responses, errors, notifications) is validated against the official JSON
//! Schema of the revision in use (`testdata/mcp-schema/`), and the protocol rules are checked:
//! no service without a protocol version, unsupported versions refused, cancellation, paging.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use support::Harness;
use tokio::sync::mpsc;
use warden_gateway::catalog::CatalogSettings;
use warden_gateway::engine::Session;
use warden_odoo_sim::{SimHandle, SimOptions};

mod support;

const LEGACY: [&str; 3] = ["2025-03-26", "2025-06-18", "2025-11-25"];
const MODERN: &str = "2026-07-28";

/// The official schema of one revision.
struct Schema {
    doc: Value,
    defs: &'static str,
}

impl Schema {
    fn load(version: &str) -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/mcp-schema")
            .join(version)
            .join("schema.json");
        let doc: Value =
            serde_json::from_slice(&std::fs::read(path).expect("schema file")).expect("json");
        let defs = if doc.get("$defs").is_some() {
            "$defs"
        } else {
            "definitions"
        };
        Self { doc, defs }
    }

    fn has(&self, def: &str) -> bool {
        self.doc[self.defs].get(def).is_some()
    }

    fn reference(&self, def: &str) -> Value {
        assert!(self.has(def), "no definition {def}");
        json!({"$ref": format!("#/{}/{def}", self.defs)})
    }

    /// Validates `message` against the whole document constrained by `constraints`.
    fn check(&self, what: &str, message: &Value, constraints: Vec<Value>) {
        let mut doc = self.doc.clone();
        doc["allOf"] = Value::Array(constraints);
        let validator = jsonschema::validator_for(&doc).expect("schema compiles");
        let errors: Vec<String> = validator
            .iter_errors(message)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{what} does not validate: {errors:#?}\n{message:#}"
        );
    }

    fn check_result(&self, what: &str, message: &Value, result_def: &str) {
        let envelope = if self.has("JSONRPCResultResponse") {
            "JSONRPCResultResponse"
        } else {
            "JSONRPCResponse"
        };
        let mut constraints = vec![
            self.reference(envelope),
            json!({"properties": {"result": self.reference(result_def)}, "required": ["result"]}),
        ];
        let specific = format!("{result_def}Response");
        if self.has(&specific) {
            constraints.push(self.reference(&specific));
        }
        self.check(what, message, constraints);
    }

    fn check_error(&self, what: &str, message: &Value) {
        let envelope = if self.has("JSONRPCErrorResponse") {
            "JSONRPCErrorResponse"
        } else {
            "JSONRPCError"
        };
        self.check(what, message, vec![self.reference(envelope)]);
    }

    fn check_notification(&self, what: &str, message: &Value, def: &str) {
        self.check(
            what,
            message,
            vec![self.reference("JSONRPCNotification"), self.reference(def)],
        );
    }
}

async fn sim() -> SimHandle {
    warden_odoo_sim::start("127.0.0.1:0".parse().expect("addr"), SimOptions::default())
        .await
        .expect("sim")
}

fn gateway(sim: &SimHandle) -> Harness {
    support::harness(sim, support::ALLOW_ALL, CatalogSettings::default())
}

/// A session and what it sent: the response plus any notifications.
struct Client {
    session: Session,
    next_id: u64,
    /// `_meta` added to every request (the modern era), or none (legacy).
    meta: Option<Value>,
}

impl Client {
    fn new(gateway: &Harness, version: &str) -> Self {
        let meta = (version == MODERN).then(|| {
            json!({
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "engine-test", "version": "1"},
            })
        });
        Self {
            session: gateway.session(),
            next_id: 1,
            meta,
        }
    }

    async fn raw(&self, message: &Value) -> (Option<Value>, Vec<Value>) {
        let (tx, mut rx) = mpsc::channel(16);
        let response = self
            .session
            .handle(&serde_json::to_vec(message).expect("encode"), &tx)
            .await;
        drop(tx);
        let mut notifications = Vec::new();
        while let Some(n) = rx.recv().await {
            notifications.push(n);
        }
        (response, notifications)
    }

    async fn request(&mut self, method: &str, params: Value) -> (Value, Vec<Value>) {
        let mut params = params;
        if let Some(meta) = &self.meta {
            let mut merged = meta.clone();
            if let Some(extra) = params.get("_meta").and_then(Value::as_object) {
                for (k, v) in extra {
                    merged[k] = v.clone();
                }
            }
            params["_meta"] = merged;
        }
        let id = self.next_id;
        self.next_id += 1;
        let (response, notifications) = self
            .raw(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        let response = response.expect("a request is answered");
        assert_eq!(response["id"], json!(id));
        (response, notifications)
    }
}

async fn initialized(gateway: &Harness, version: &str, schema: &Schema) -> Client {
    let mut client = Client::new(gateway, version);
    if version != MODERN {
        let (response, _) = client
            .request(
                "initialize",
                json!({"protocolVersion": version, "capabilities": {},
                       "clientInfo": {"name": "engine-test", "version": "1"}}),
            )
            .await;
        schema.check_result("initialize", &response, "InitializeResult");
        assert_eq!(response["result"]["protocolVersion"], json!(version));
        let (none, _) = client
            .raw(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert!(none.is_none(), "notifications are never answered");
    }
    client
}

#[tokio::test]
async fn every_message_validates_against_the_schema_of_its_revision() {
    let sim = sim().await;
    let gateway = gateway(&sim);
    for version in LEGACY.iter().copied().chain([MODERN]) {
        let schema = Schema::load(version);
        let mut c = initialized(&gateway, version, &schema).await;
        let what = |m: &str| format!("{version} {m}");

        if version == MODERN {
            let (r, _) = c.request("server/discover", json!({})).await;
            schema.check_result(&what("server/discover"), &r, "DiscoverResult");
            assert_eq!(r["result"]["resultType"], json!("complete"));
        } else {
            let (r, _) = c.request("ping", json!({})).await;
            schema.check_result(&what("ping"), &r, "EmptyResult");
        }

        let (r, _) = c.request("tools/list", json!({})).await;
        schema.check_result(&what("tools/list"), &r, "ListToolsResult");
        let tools = r["result"]["tools"].as_array().expect("tools");
        assert_eq!(tools.len(), 7, "read tools only by default");
        if version == "2025-03-26" {
            assert!(
                tools.iter().all(|t| t.get("outputSchema").is_none()),
                "2025-03-26 knows no outputSchema"
            );
        } else {
            assert!(tools.iter().all(|t| t.get("outputSchema").is_some()));
        }

        let (r, notes) = c
            .request(
                "tools/call",
                json!({"name": "search_records",
                       "arguments": {"model": "res.partner", "domain": "[('is_company','=',True)]", "fields": ["name"], "limit": 3},
                       "_meta": {"progressToken": "p1"}}),
            )
            .await;
        schema.check_result(&what("tools/call"), &r, "CallToolResult");
        assert_eq!(r["result"]["isError"], json!(false));
        assert_eq!(notes.len(), 2, "progress before and after the Odoo call");
        for n in &notes {
            schema.check_notification(&what("progress"), n, "ProgressNotification");
            assert_eq!(n["params"]["progressToken"], json!("p1"));
        }

        let (r, _) = c
            .request("tools/call", json!({"name": "count_records", "arguments": {"model": "res.partner", "domain": "[('nope','=',1)]"}}))
            .await;
        schema.check_result(&what("tools/call error"), &r, "CallToolResult");
        assert_eq!(r["result"]["isError"], json!(true));

        for (method, params, def) in [
            ("resources/list", json!({}), "ListResourcesResult"),
            (
                "resources/templates/list",
                json!({}),
                "ListResourceTemplatesResult",
            ),
            (
                "resources/read",
                json!({"uri": "odoo://res.partner/10"}),
                "ReadResourceResult",
            ),
            (
                "resources/read",
                json!({"uri": "odoo://res.partner"}),
                "ReadResourceResult",
            ),
            ("prompts/list", json!({}), "ListPromptsResult"),
            (
                "prompts/get",
                json!({"name": "explain_model", "arguments": {"model": "res.partner"}}),
                "GetPromptResult",
            ),
            (
                "completion/complete",
                json!({"ref": {"type": "ref/resource", "uri": "odoo://{model}"}, "argument": {"name": "model", "value": "sale"}}),
                "CompleteResult",
            ),
        ] {
            let (r, _) = c.request(method, params).await;
            schema.check_result(&what(method), &r, def);
        }

        for (method, params, code) in [
            ("no/such/method", json!({}), -32601),
            (
                "tools/call",
                json!({"name": "no_such_tool", "arguments": {}}),
                -32602,
            ),
            (
                "tools/call",
                json!({"name": "count_records", "arguments": "a string"}),
                -32602,
            ),
            ("tools/list", json!({"cursor": "not-a-cursor"}), -32602),
            (
                "resources/read",
                json!({"uri": "odoo://res.partner/999999"}),
                -32002,
            ),
            (
                "resources/read",
                json!({"uri": "file:///etc/passwd"}),
                -32602,
            ),
            ("prompts/get", json!({"name": "no_such_prompt"}), -32602),
        ] {
            let (r, _) = c.request(method, params).await;
            schema.check_error(&what(method), &r);
            assert_eq!(r["error"]["code"], json!(code), "{version} {method}: {r}");
        }
    }
}

/// The id a create_records result names first (in its text, which every revision has).
fn first_id(result: &Value) -> i64 {
    let text = result["content"][0]["text"].as_str().expect("text");
    let json = text.split_once('\n').expect("summary, then JSON").1;
    let parsed: Value = serde_json::from_str(json).expect("json");
    parsed["ids"][0].as_i64().expect("an id")
}

/// Clients (TypeScript SDK v1, the Inspector) validate `structuredContent` against the tool's
/// `outputSchema` whenever it is present, error or not: every tool's success matches its schema,
/// and every failure carries no structured content, a text that says what went wrong, and its
/// kind in `_meta` — in every revision, for every tool.
#[tokio::test]
async fn every_tool_result_is_valid_for_clients_that_check_output_schemas() {
    let sim = sim().await;
    let gateway = support::harness(
        &sim,
        support::ALLOW_ALL,
        CatalogSettings {
            write_tools: true,
            ..CatalogSettings::default()
        },
    );
    let p = "res.partner";
    // (tool, arguments of a success, arguments of a failure, the failure's kind)
    let table = [
        (
            "search_records",
            json!({"model": p, "domain": [["id", "=", 10]], "fields": ["name"]}),
            json!({"model": p, "domain": [["nope", "=", 1]]}),
            "invalid_arguments",
        ),
        (
            "read_records",
            json!({"model": p, "ids": [10], "fields": ["name"]}),
            json!({"model": p, "ids": [10], "fields": ["nope"]}),
            "invalid_arguments",
        ),
        (
            "count_records",
            json!({"model": p, "domain": "[('is_company', '=', True)]"}),
            json!({"model": "no.such.model"}),
            "invalid_arguments",
        ),
        (
            "aggregate_records",
            json!({"model": "sale.order", "group_by": ["state"], "aggregates": ["amount_total:sum"]}),
            json!({"model": "sale.order", "aggregates": ["amount_total:median"]}),
            "invalid_arguments",
        ),
        (
            "find_by_name",
            json!({"model": p, "name": "deco"}),
            json!({"model": p, "name": "deco", "limit": 0}),
            "invalid_arguments",
        ),
        (
            "list_models",
            json!({"filter": "partner"}),
            json!({"filter": 5}),
            "invalid_arguments",
        ),
        (
            "describe_model",
            json!({"model": p}),
            json!({"model": "Not A Model"}),
            "invalid_arguments",
        ),
        (
            "create_records",
            json!({"model": p, "values": [{"name": "Output Schema Co"}]}),
            json!({"model": p, "values": [{"nope": 1}]}),
            "invalid_arguments",
        ),
        (
            "update_records",
            json!({"model": p, "ids": [10], "values": {"city": "Pleasant Hill"}}),
            json!({"model": p, "ids": [999_999], "values": {"city": "x"}}),
            "missing_record",
        ),
        // Deletes the record create_records made just before (its id is filled in below).
        (
            "delete_records",
            json!({"model": p, "ids": []}),
            json!({"model": p, "ids": [1]}),
            "validation",
        ),
        (
            "call_method",
            json!({"model": p, "method": "action_unarchive", "ids": [10]}),
            json!({"model": p, "method": "_private", "ids": [10]}),
            "invalid_arguments",
        ),
    ];
    for version in LEGACY.iter().copied().chain([MODERN]) {
        let schema = Schema::load(version);
        let mut c = initialized(&gateway, version, &schema).await;
        let (listed, _) = c.request("tools/list", json!({})).await;
        let tools = listed["result"]["tools"].as_array().expect("tools");
        assert_eq!(tools.len(), table.len(), "{version}: every tool is tried");
        let mut created = json!([]);
        for (tool, good, bad, kind) in &table {
            let what = format!("{version} {tool}");
            let mut good = good.clone();
            if *tool == "delete_records" {
                good["ids"] = created.clone();
            }
            let output_schema = tools
                .iter()
                .find(|t| t["name"] == json!(tool))
                .and_then(|t| t.get("outputSchema"));
            let (r, _) = c
                .request("tools/call", json!({"name": tool, "arguments": good}))
                .await;
            schema.check_result(&what, &r, "CallToolResult");
            let result = &r["result"];
            assert_eq!(result["isError"], json!(false), "{what}: {result}");
            if *tool == "create_records" {
                created = json!([first_id(result)]);
            }
            if let Some(output_schema) = output_schema {
                let structured = result.get("structuredContent").expect("structured content");
                let validator = jsonschema::validator_for(output_schema).expect("output schema");
                let errors: Vec<String> = validator
                    .iter_errors(structured)
                    .map(|e| e.to_string())
                    .collect();
                assert!(errors.is_empty(), "{what}: {errors:?}");
            } else {
                assert_eq!(version, "2025-03-26");
                assert!(result.get("structuredContent").is_none(), "{what}");
            }

            let (r, _) = c
                .request("tools/call", json!({"name": tool, "arguments": bad}))
                .await;
            schema.check_result(&format!("{what} error"), &r, "CallToolResult");
            let result = &r["result"];
            assert_eq!(result["isError"], json!(true), "{what}: {result}");
            assert!(
                result.get("structuredContent").is_none(),
                "{what}: an error has no structured content: {result}"
            );
            let error = &result["_meta"][warden_gateway::engine::TOOL_ERROR_META];
            assert_eq!(error["kind"], json!(kind), "{what}: {result}");
            let message = error["message"].as_str().expect("a message");
            let text = result["content"][0]["text"].as_str().expect("a text");
            assert!(
                text.starts_with(&format!("error ({kind}): {message}")),
                "{what}: the text says what went wrong: {text}"
            );
        }
    }
}

#[tokio::test]
async fn nothing_is_served_without_a_protocol_version() {
    let sim = sim().await;
    let gateway = gateway(&sim);
    let client = Client::new(&gateway, "2025-11-25");
    let requests_before = sim.request_count();
    let (r, _) = client
        .raw(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                     "params": {"name": "count_records", "arguments": {"model": "res.partner", "domain": "[]"}}}))
        .await;
    let r = r.expect("answered");
    assert_eq!(r["error"]["code"], json!(-32600), "{r}");
    assert_eq!(sim.request_count(), requests_before, "Odoo was not called");
    Schema::load("2025-11-25").check_error("no version", &r);
}

#[tokio::test]
async fn an_unsupported_modern_version_is_refused_with_the_supported_list() {
    let sim = sim().await;
    let gateway = gateway(&sim);
    let client = Client::new(&gateway, MODERN);
    let (r, _) = client
        .raw(&json!({"jsonrpc": "2.0", "id": 7, "method": "tools/list",
                     "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "2099-01-01",
                                          "io.modelcontextprotocol/clientCapabilities": {}}}}))
        .await;
    let r = r.expect("answered");
    assert_eq!(r["error"]["code"], json!(-32022), "{r}");
    assert!(
        r["error"]["data"]["supported"]
            .as_array()
            .is_some_and(|s| s.contains(&json!(MODERN))),
        "{r}"
    );
    let schema = Schema::load(MODERN);
    schema.check(
        "unsupported version",
        &r,
        vec![schema.reference("UnsupportedProtocolVersionError")],
    );
}

#[tokio::test]
async fn initialize_negotiates_down_to_a_supported_legacy_revision() {
    let sim = sim().await;
    let gateway = gateway(&sim);
    let mut c = Client::new(&gateway, "2025-11-25");
    let (r, _) = c.request("initialize", json!({"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "old", "version": "1"}})).await;
    let negotiated = r["result"]["protocolVersion"]
        .as_str()
        .expect("version")
        .to_owned();
    assert!(LEGACY.contains(&negotiated.as_str()), "{negotiated}");
    // The legacy session keeps serving without _meta.
    let (r, _) = c.request("tools/list", json!({})).await;
    Schema::load(&negotiated).check_result("tools/list after negotiation", &r, "ListToolsResult");
}

#[tokio::test]
async fn a_cancelled_request_gets_no_answer_and_the_session_goes_on() {
    let sim = sim().await;
    sim.set_latency(Duration::from_millis(500));
    let gateway = gateway(&sim);
    let schema = Schema::load("2025-11-25");
    let c = initialized(&gateway, "2025-11-25", &schema).await;
    let slow = {
        let session = c.session.clone();
        tokio::spawn(async move {
            let (tx, _rx) = mpsc::channel(16);
            let request = json!({"jsonrpc": "2.0", "id": "slow", "method": "tools/call",
                                 "params": {"name": "count_records", "arguments": {"model": "res.partner", "domain": "[]"}}});
            session
                .handle(&serde_json::to_vec(&request).expect("encode"), &tx)
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (none, _) = c
        .raw(&json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "slow", "reason": "user"}}))
        .await;
    assert!(none.is_none());
    let answer = tokio::time::timeout(Duration::from_secs(5), slow)
        .await
        .expect("returns promptly")
        .expect("task");
    assert!(
        answer.is_none(),
        "a cancelled request is not answered: {answer:?}"
    );
    sim.set_latency(Duration::ZERO);
    let mut c = c;
    let (r, _) = c.request("tools/list", json!({})).await;
    assert!(r.get("result").is_some());
}

#[tokio::test]
async fn malformed_messages_get_json_rpc_errors() {
    let sim = sim().await;
    let gateway = gateway(&sim);
    let session = gateway.session();
    let (tx, _rx) = mpsc::channel(4);
    for (input, code) in [
        (&b"not json"[..], -32700),
        (
            &b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]"[..],
            -32600,
        ),
        (
            &b"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}"[..],
            -32600,
        ),
        (
            &b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":[1]}"[..],
            -32602,
        ),
        (&b"\xff\xfe\x00"[..], -32700),
    ] {
        let r = session.handle(input, &tx).await.expect("answered");
        assert_eq!(
            r["error"]["code"],
            json!(code),
            "{}: {r}",
            String::from_utf8_lossy(input)
        );
        // JSON-RPC 2.0 answers an unreadable request with `"id": null` (the official SDKs send
        // and expect that too); the MCP schemas type ids as string or integer only, so the
        // envelope is checked without it.
        let mut checked = r.clone();
        if checked["id"].is_null() {
            checked.as_object_mut().expect("object").remove("id");
        }
        Schema::load("2025-11-25").check_error("malformed", &checked);
    }
}
