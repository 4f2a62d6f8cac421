//! Golden schema tests: every kind of message odoo-warden emits, built through the crate's API
//! for each protocol revision, validates against the official JSON Schema of that revision; and a
//! deliberately broken copy of each is rejected, so the validation is really applied.

use std::path::Path;

use serde_json::{Value, json};
use warden_mcp::{
    Annotations, BinaryContent, CacheScope, CallToolResult, CancelledParams, CompleteResult,
    ContentBlock, Cursor, DecodeError, DiscoverResult, EmbeddedResource, EmptyResult,
    GetPromptResult, Icon, Id, Implementation, InitializeResult, ListChangedCapability,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
    MetaError, ProgressParams, ProgressToken, Prompt, PromptArgument, PromptMessage,
    ProtocolVersion, ReadResourceResult, Resource, ResourceContents, ResourceLink,
    ResourceTemplate, ResourcesCapability, Role, ServerCapabilities, TextResourceContents, Tool,
    ToolAnnotations, decode, error_code, error_response, method, notification, result_response,
};

const ALL: [ProtocolVersion; 4] = [
    ProtocolVersion::V2025_03_26,
    ProtocolVersion::V2025_06_18,
    ProtocolVersion::V2025_11_25,
    ProtocolVersion::V2026_07_28,
];

/// The official schema of one revision, with the names of its envelope definitions.
struct Schema {
    version: ProtocolVersion,
    doc: Value,
    defs: &'static str,
}

impl Schema {
    fn load(version: ProtocolVersion) -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/mcp-schema")
            .join(version.as_str())
            .join("schema.json");
        let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let defs = if doc.get("$defs").is_some() {
            "$defs"
        } else {
            "definitions"
        };
        Self { version, doc, defs }
    }

    fn has(&self, def: &str) -> bool {
        self.doc[self.defs].get(def).is_some()
    }

    fn reference(&self, def: &str) -> Value {
        assert!(self.has(def), "{} has no definition {def}", self.version);
        json!({ "$ref": format!("#/{}/{def}", self.defs) })
    }

    /// A validator for the whole document with `constraints` (all must hold) at its root.
    fn validator(&self, constraints: Vec<Value>) -> jsonschema::Validator {
        let mut doc = self.doc.clone();
        doc["allOf"] = Value::Array(constraints);
        jsonschema::validator_for(&doc).expect("official schema compiles")
    }

    fn result_envelope(&self) -> &'static str {
        if self.has("JSONRPCResultResponse") {
            "JSONRPCResultResponse"
        } else {
            "JSONRPCResponse"
        }
    }

    fn error_envelope(&self) -> &'static str {
        if self.has("JSONRPCErrorResponse") {
            "JSONRPCErrorResponse"
        } else {
            "JSONRPCError"
        }
    }

    /// Constraints for a success response carrying `result_def`: the generic envelope with the
    /// result definition and, where the revision defines one, the specific `<Result>Response`.
    fn result_constraints(&self, result_def: &str) -> Vec<Value> {
        let mut c = vec![
            self.reference(self.result_envelope()),
            json!({ "properties": { "result": self.reference(result_def) }, "required": ["result"] }),
        ];
        let specific = format!("{result_def}Response");
        if self.has(&specific) {
            c.push(self.reference(&specific));
        }
        c
    }

    /// Constraints for an error response; `specific` names a 2026-07-28 definition of the whole
    /// message or of its error object.
    fn error_constraints(&self, specific: Option<&str>) -> Vec<Value> {
        let mut c = vec![self.reference(self.error_envelope())];
        if let Some(def) = specific.filter(|d| self.has(d)) {
            let is_envelope = self.doc[self.defs][def]["properties"]
                .get("jsonrpc")
                .is_some();
            c.push(if is_envelope {
                self.reference(def)
            } else {
                json!({ "properties": { "error": self.reference(def) } })
            });
        }
        c
    }

    fn notification_constraints(&self, def: &str) -> Vec<Value> {
        vec![self.reference("JSONRPCNotification"), self.reference(def)]
    }
}

struct Case {
    name: &'static str,
    message: Value,
    constraints: Vec<Value>,
    /// A JSON pointer and a value that makes the message invalid under this revision.
    broken_at: (&'static str, Value),
}

fn odoo_tool() -> Tool {
    let input = json!({
        "type": "object",
        "properties": {
            "model": { "type": "string", "description": "Odoo model, e.g. res.partner", "title": "Model" },
            "domain": { "type": "array", "description": "Odoo domain" },
            "fields": { "type": "array", "items": { "type": "string" } },
            "limit": { "type": "integer", "minimum": 1, "maximum": 500 }
        },
        "required": ["model"]
    });
    let output = json!({
        "type": "object",
        "properties": { "records": { "type": "array", "items": { "type": "object" } } },
        "required": ["records"]
    });
    let mut tool = Tool::new(
        "search_read",
        "Search records and read their fields",
        input.as_object().unwrap().clone(),
    );
    tool.title = Some("Search and read records".into());
    tool.output_schema = Some(output.as_object().unwrap().clone());
    let mut annotations = ToolAnnotations::default();
    annotations.title = Some("Search records".into());
    annotations.read_only_hint = Some(true);
    annotations.destructive_hint = Some(false);
    annotations.idempotent_hint = Some(true);
    annotations.open_world_hint = Some(false);
    tool.annotations = Some(annotations);
    let icon: Icon = serde_json::from_value(
        json!({"src": "https://example.com/odoo.png", "mimeType": "image/png", "sizes": ["48x48"]}),
    )
    .unwrap();
    tool.icons = Some(vec![icon]);
    tool
}

fn server_info() -> Implementation {
    let mut info = Implementation::new("odoo-warden", "0.1.0");
    info.title = Some("Odoo Warden".into());
    info.description = Some("A secure MCP gateway for Odoo".into());
    info.website_url = Some("https://github.com/odoo-warden/odoo-warden".into());
    info
}

fn capabilities() -> ServerCapabilities {
    let mut caps = ServerCapabilities::default();
    caps.tools = Some(ListChangedCapability::default());
    caps.resources = Some(ResourcesCapability::default());
    caps.prompts = Some(ListChangedCapability::default());
    caps.completions = Some(serde_json::Map::new());
    caps.logging = Some(serde_json::Map::new());
    caps
}

fn annotations() -> Annotations {
    serde_json::from_value(json!({"audience": ["user", "assistant"], "priority": 0.5, "lastModified": "2026-01-12T15:00:58Z"})).unwrap()
}

fn partner_contents() -> ResourceContents {
    ResourceContents::Text(TextResourceContents::new(
        "odoo://res.partner/7",
        Some("application/json".into()),
        r#"{"id":7,"name":"Azure Interior"}"#,
    ))
}

fn rich_tool_result() -> CallToolResult {
    let mut result = CallToolResult::text("Found 1 partner");
    let link: ResourceLink = serde_json::from_value(json!({
        "uri": "odoo://res.partner/7", "name": "Azure Interior", "title": "Partner Azure Interior",
        "description": "A customer", "mimeType": "application/json", "annotations": annotations()
    }))
    .unwrap();
    result.content.push(ContentBlock::ResourceLink(link));
    let embedded: EmbeddedResource = serde_json::from_value(
        json!({ "resource": partner_contents(), "annotations": annotations() }),
    )
    .unwrap();
    result.content.push(ContentBlock::Resource(embedded));
    let image: BinaryContent =
        serde_json::from_value(json!({"data": "iVBORw0KGgo=", "mimeType": "image/png"})).unwrap();
    result.content.push(ContentBlock::Image(image));
    result
}

fn cases(s: &Schema) -> Vec<Case> {
    let v = s.version;
    let id = Id::Number(1);
    let sid = Id::Str("req-7".into());
    let mut out = Vec::new();
    let mut result_case = |name, def: &str, result: Value, broken_at| {
        out.push(Case {
            name,
            message: result,
            constraints: s.result_constraints(def),
            broken_at,
        });
    };

    if v < ProtocolVersion::V2026_07_28 {
        let init = InitializeResult::new(
            v,
            capabilities(),
            server_info(),
            Some("Use search_read to find records.".into()),
        );
        result_case(
            "initialize",
            "InitializeResult",
            result_response(&id, v, init),
            ("/result/serverInfo/name", json!(5)),
        );
        result_case(
            "ping",
            "EmptyResult",
            result_response(&id, v, EmptyResult::default()),
            ("/result", json!("x")),
        );
        result_case(
            "logging/setLevel",
            "EmptyResult",
            result_response(&sid, v, ()),
            ("/result", json!([])),
        );
    } else {
        let discover = DiscoverResult::new(
            capabilities(),
            server_info(),
            Some("Use search_read.".into()),
            60_000,
            CacheScope::Public,
        );
        result_case(
            "server/discover",
            "DiscoverResult",
            result_response(&id, v, discover),
            ("/result/supportedVersions", json!("2026-07-28")),
        );
        result_case(
            "empty result",
            "EmptyResult",
            result_response(&id, v, EmptyResult::default()),
            ("/result/resultType", json!(1)),
        );
    }

    let next = Some(Cursor::encode(50).into_string());
    let tools = ListToolsResult::new(vec![odoo_tool()], 0, CacheScope::Private)
        .with_next_cursor(next.clone());
    result_case(
        "tools/list",
        "ListToolsResult",
        result_response(&id, v, tools),
        ("/result/tools/0/inputSchema", json!("object")),
    );

    let structured =
        CallToolResult::structured(json!({"records": [{"id": 7, "name": "Azure Interior"}]}));
    result_case(
        "tools/call structured",
        "CallToolResult",
        result_response(&id, v, structured),
        ("/result/content/0/text", json!(7)),
    );
    // 2026-07-28 allows any JSON value as structured content; older revisions only objects.
    let array = CallToolResult::structured(json!([{"id": 7}]));
    result_case(
        "tools/call array structured",
        "CallToolResult",
        result_response(&id, v, array),
        ("/result/content", json!({})),
    );
    result_case(
        "tools/call isError",
        "CallToolResult",
        result_response(
            &id,
            v,
            CallToolResult::error("Access denied on res.partner"),
        ),
        ("/result/isError", json!("yes")),
    );
    result_case(
        "tools/call rich content",
        "CallToolResult",
        result_response(&sid, v, rich_tool_result()),
        ("/result/content/2/resource/uri", json!(null)),
    );

    let mut resource = Resource::new("odoo://res.partner/7", "Azure Interior");
    resource.title = Some("Partner Azure Interior".into());
    resource.mime_type = Some("application/json".into());
    resource.annotations = Some(annotations());
    resource.size = Some(42);
    let resources = ListResourcesResult::new(vec![resource], 30_000, CacheScope::Private)
        .with_next_cursor(next.clone());
    result_case(
        "resources/list",
        "ListResourcesResult",
        result_response(&id, v, resources),
        ("/result/resources/0/uri", json!(1)),
    );

    let mut template = ResourceTemplate::new("odoo://{model}/{id}", "Odoo record");
    template.title = Some("An Odoo record".into());
    template.mime_type = Some("application/json".into());
    let templates = ListResourceTemplatesResult::new(vec![template], 30_000, CacheScope::Public);
    result_case(
        "resources/templates/list",
        "ListResourceTemplatesResult",
        result_response(&id, v, templates),
        ("/result/resourceTemplates/0/uriTemplate", json!([])),
    );

    let read = ReadResourceResult::new(vec![partner_contents()], 0, CacheScope::Private);
    result_case(
        "resources/read",
        "ReadResourceResult",
        result_response(&id, v, read),
        ("/result/contents/0/text", json!(false)),
    );

    let mut prompt = Prompt::new(
        "summarise_partner",
        "Summarise a partner's activity",
        vec![PromptArgument::new("partner_id", "The partner id", true)],
    );
    prompt.title = Some("Partner summary".into());
    prompt.arguments.as_mut().unwrap()[0].title = Some("Partner".into());
    let prompts = ListPromptsResult::new(vec![prompt], 60_000, CacheScope::Public);
    result_case(
        "prompts/list",
        "ListPromptsResult",
        result_response(&id, v, prompts),
        ("/result/prompts/0/name", json!(0)),
    );

    let embedded: EmbeddedResource =
        serde_json::from_value(json!({ "resource": partner_contents() })).unwrap();
    let get = GetPromptResult::new(
        Some("Partner summary".into()),
        vec![
            PromptMessage::new(Role::User, ContentBlock::text("Summarise partner 7.")),
            PromptMessage::new(Role::User, ContentBlock::Resource(embedded)),
            PromptMessage::new(
                Role::Assistant,
                ContentBlock::ResourceLink(
                    serde_json::from_value(
                        json!({"uri": "odoo://res.partner/7", "name": "Azure Interior"}),
                    )
                    .unwrap(),
                ),
            ),
        ],
    );
    result_case(
        "prompts/get",
        "GetPromptResult",
        result_response(&id, v, get),
        ("/result/messages/0/role", json!("robot")),
    );

    let complete = CompleteResult::new(vec!["res.partner".into(), "res.users".into()]);
    result_case(
        "completion/complete",
        "CompleteResult",
        result_response(&id, v, complete),
        ("/result/completion/values", json!("res.partner")),
    );

    // Errors.
    let error_cases: Vec<(&'static str, Value, Option<&str>)> = vec![
        (
            "method not found",
            error_response(&id, error_code::METHOD_NOT_FOUND, "Method not found", None),
            Some("MethodNotFoundError"),
        ),
        (
            "invalid params",
            error_response(
                &sid,
                error_code::INVALID_PARAMS,
                "Unknown tool: x",
                Some(json!({"tool": "x"})),
            ),
            Some("InvalidParamsError"),
        ),
        (
            "internal error",
            error_response(&id, error_code::INTERNAL_ERROR, "Internal error", None),
            Some("InternalError"),
        ),
        (
            "resource not found",
            error_response(
                &id,
                error_code::RESOURCE_NOT_FOUND,
                "Resource not found",
                Some(json!({"uri": "odoo://x/1"})),
            ),
            None,
        ),
        (
            "invalid request with id",
            decode(br#"{"jsonrpc":"1.0","id":3,"method":"ping"}"#)
                .unwrap_err()
                .response()
                .unwrap(),
            Some("InvalidRequestError"),
        ),
        (
            "invalid params from decode",
            decode(br#"{"jsonrpc":"2.0","id":"p","method":"ping","params":[]}"#)
                .unwrap_err()
                .response()
                .unwrap(),
            Some("InvalidParamsError"),
        ),
        (
            "header mismatch",
            error_response(&id, error_code::HEADER_MISMATCH, "Header mismatch", None),
            Some("HeaderMismatchError"),
        ),
        (
            "missing client capability",
            MetaError::MissingCapability {
                required: Box::new(serde_json::from_value(json!({"elicitation": {}})).unwrap()),
            }
            .response(&id),
            Some("MissingRequiredClientCapabilityError"),
        ),
        (
            "unsupported protocol version",
            MetaError::UnsupportedVersion {
                requested: "1900-01-01".into(),
            }
            .response(&sid),
            Some("UnsupportedProtocolVersionError"),
        ),
    ];
    for (name, message, specific) in error_cases {
        out.push(Case {
            name,
            message,
            constraints: s.error_constraints(specific),
            broken_at: ("/error/code", json!("-32601")),
        });
    }

    // Notifications.
    let progress = ProgressParams::new(ProgressToken::String("tok-1".into()), 50, Some(100));
    out.push(Case {
        name: "notifications/progress",
        message: notification(method::NOTIFICATION_PROGRESS, progress),
        constraints: s.notification_constraints("ProgressNotification"),
        broken_at: ("/params/progress", json!("half")),
    });
    out.push(Case {
        name: "notifications/cancelled",
        message: notification(
            method::NOTIFICATION_CANCELLED,
            CancelledParams::new(Id::Number(4), Some("user abort".into())),
        ),
        constraints: s.notification_constraints("CancelledNotification"),
        broken_at: ("/params/requestId", json!(true)),
    });
    out
}

fn errors(validator: &jsonschema::Validator, message: &Value) -> Vec<String> {
    validator
        .iter_errors(message)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn every_emitted_message_validates_against_its_revision() {
    let mut checked = 0;
    for version in ALL {
        let schema = Schema::load(version);
        for case in cases(&schema) {
            let validator = schema.validator(case.constraints.clone());
            let errs = errors(&validator, &case.message);
            assert!(
                errs.is_empty(),
                "{version} {}: {errs:#?}\n{:#}",
                case.name,
                case.message
            );

            let mut broken = case.message.clone();
            let (pointer, bad) = &case.broken_at;
            *broken
                .pointer_mut(pointer)
                .unwrap_or_else(|| panic!("{version} {}: no {pointer}", case.name)) = bad.clone();
            assert!(
                !validator.is_valid(&broken),
                "{version} {}: broken copy accepted",
                case.name
            );
            checked += 1;
        }
    }
    assert!(checked >= 4 * 20, "{checked}");
}

#[test]
fn modern_results_carry_result_type_and_legacy_ones_do_not() {
    for version in ALL {
        let schema = Schema::load(version);
        for case in cases(&schema) {
            let Some(result) = case.message.get("result") else {
                continue;
            };
            if version == ProtocolVersion::V2026_07_28 {
                assert_eq!(result["resultType"], "complete", "{}", case.name);
                // Without it, the 2026-07-28 schema rejects the message.
                let mut without = case.message.clone();
                without["result"]
                    .as_object_mut()
                    .unwrap()
                    .remove("resultType");
                assert!(
                    !schema
                        .validator(case.constraints.clone())
                        .is_valid(&without),
                    "{}",
                    case.name
                );
            } else {
                for key in ["resultType", "ttlMs", "cacheScope"] {
                    assert!(result.get(key).is_none(), "{version} {}: {key}", case.name);
                }
            }
        }
    }
}

/// Every value reachable in `value` under a key named `key` (not descending into JSON Schemas).
fn find_key<'a>(value: &'a Value, key: &str, out: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == key {
                    out.push(v);
                }
                if k != "inputSchema" && k != "outputSchema" {
                    find_key(v, key, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| find_key(v, key, out)),
        _ => {}
    }
}

#[test]
fn members_a_revision_does_not_know_are_not_emitted() {
    let absent = |version: ProtocolVersion, keys: &[&str]| {
        let schema = Schema::load(version);
        for case in cases(&schema) {
            let Some(result) = case.message.get("result") else {
                continue;
            };
            for key in keys {
                let mut found = Vec::new();
                find_key(result, key, &mut found);
                // Tool annotations carry a title in every revision.
                let found: Vec<_> = found
                    .into_iter()
                    .filter(|v| *v != &json!("Search records"))
                    .collect();
                assert!(
                    found.is_empty(),
                    "{version} {}: {key} emitted: {found:?}",
                    case.name
                );
            }
            let mut types = Vec::new();
            find_key(result, "type", &mut types);
            if version < ProtocolVersion::V2025_06_18 {
                assert!(
                    !types.contains(&&json!("resource_link")),
                    "{version} {}",
                    case.name
                );
            }
        }
    };
    absent(
        ProtocolVersion::V2025_03_26,
        &[
            "title",
            "outputSchema",
            "structuredContent",
            "icons",
            "lastModified",
            "websiteUrl",
        ],
    );
    absent(
        ProtocolVersion::V2025_06_18,
        &["icons", "websiteUrl", "extensions"],
    );
    absent(ProtocolVersion::V2025_11_25, &["extensions", "ttlMs"]);

    // What the newer revisions know is kept.
    let modern = Schema::load(ProtocolVersion::V2026_07_28);
    let tools = cases(&modern)
        .into_iter()
        .find(|c| c.name == "tools/list")
        .unwrap()
        .message;
    let tool = &tools["result"]["tools"][0];
    for key in ["title", "outputSchema", "icons", "annotations"] {
        assert!(tool.get(key).is_some(), "{key}");
    }
    assert_eq!(tools["result"]["ttlMs"], 0);
    assert_eq!(tools["result"]["cacheScope"], "private");
    let v0618 = Schema::load(ProtocolVersion::V2025_06_18);
    let call = cases(&v0618)
        .into_iter()
        .find(|c| c.name == "tools/call structured")
        .unwrap()
        .message;
    assert!(call["result"]["structuredContent"].is_object());
    let v0326 = Schema::load(ProtocolVersion::V2025_03_26);
    let rich = cases(&v0326)
        .into_iter()
        .find(|c| c.name == "tools/call rich content")
        .unwrap()
        .message;
    assert_eq!(rich["result"]["content"][1]["type"], "text");
    assert!(
        rich["result"]["content"][1]["text"]
            .as_str()
            .unwrap()
            .contains("odoo://res.partner/7")
    );
}

/// JSON-RPC 2.0 requires `"id": null` when the id of a bad message cannot be read; the MCP
/// schemas type `id` as string or integer, so such messages are checked without their id.
#[test]
fn id_less_errors_validate_apart_from_their_null_id() {
    let inputs: [(&[u8], &str); 3] = [
        (b"not json", "ParseError"),
        (b"[1]", "InvalidRequestError"),
        (
            b"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"x\"}",
            "InvalidRequestError",
        ),
    ];
    for version in ALL {
        let schema = Schema::load(version);
        for (input, def) in inputs {
            let err: DecodeError = decode(input).unwrap_err();
            let mut message = err.response().unwrap();
            assert_eq!(message["id"], Value::Null);
            message.as_object_mut().unwrap().remove("id");
            let constraints = if schema.has("JSONRPCErrorResponse") {
                schema.error_constraints(Some(def))
            } else {
                // 2025-03-26 and 2025-06-18 require an id in error responses: check the rest.
                let error_schema =
                    schema.doc[schema.defs]["JSONRPCError"]["properties"]["error"].clone();
                vec![json!({
                    "properties": { "jsonrpc": { "const": "2.0" }, "error": error_schema },
                    "required": ["jsonrpc", "error"]
                })]
            };
            let validator = schema.validator(constraints);
            let errs = errors(&validator, &message);
            assert!(errs.is_empty(), "{version} {def}: {errs:?}");
            message["error"]["code"] = json!("bad");
            assert!(!validator.is_valid(&message));
        }
    }
}
