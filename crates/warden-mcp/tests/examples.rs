//! Every official 2026-07-28 example message round-trips through the crate: full messages are
//! classified by `decode`, and every example with a typed counterpart is parsed into it,
//! serialised back (results through `result_response`) and compared with the original.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use warden_mcp::{
    CallToolParams, CallToolResult, CancelledParams, ClientCapabilities, CompleteParams,
    CompleteResult, ContentBlock, DiscoverResult, ErrorObjectOwned, GetPromptParams,
    GetPromptResult, Id, Incoming, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedParams, ProgressParams, ProtocolVersion,
    ReadResourceParams, ReadResourceResult, RequestMeta, Resource, ResourceContents,
    ResponsePayload, ServerCapabilities, Tool, decode, error_response_from, notification,
    result_response,
};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/mcp-schema/2026-07-28/examples")
}

/// Parses `value` as `T` and serialises it back.
fn typed<T: DeserializeOwned + Serialize>(value: &Value) -> Value {
    let parsed: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("does not parse as {}: {e}", std::any::type_name::<T>()));
    serde_json::to_value(parsed).unwrap()
}

/// Parses a bare result as `T` and serialises it as a 2026-07-28 result.
fn typed_result<T: DeserializeOwned + Serialize>(value: &Value) -> Value {
    let parsed: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("does not parse as {}: {e}", std::any::type_name::<T>()));
    result_response(&Id::Number(0), ProtocolVersion::V2026_07_28, parsed)["result"].clone()
}

/// Decodes a full message and rebuilds it from its typed parts.
fn typed_message<P: DeserializeOwned + Serialize, R: DeserializeOwned + Serialize>(
    value: &Value,
) -> Value {
    let bytes = serde_json::to_vec(value).unwrap();
    match decode(&bytes).expect("official example must decode") {
        Incoming::Request(request) => {
            let params: P = request.params_as().expect("typed params");
            if let Some(meta) = RequestMeta::from_request(&request).expect("valid _meta") {
                assert_eq!(meta.protocol_version, ProtocolVersion::V2026_07_28);
            }
            serde_json::json!({
                "jsonrpc": "2.0",
                "id": request.id,
                "method": request.method,
                "params": params,
            })
        }
        Incoming::Notification(n) => {
            let params: P = n.params_as().expect("typed params");
            notification(&n.method, params)
        }
        Incoming::Response(response) => match response.payload {
            ResponsePayload::Result(result) => {
                let parsed: R = serde_json::from_value(result).expect("typed result");
                result_response(&response.id, ProtocolVersion::V2026_07_28, parsed)
            }
            ResponsePayload::Error(error) => error_response_from(&response.id, &error),
        },
    }
}

/// The example re-serialised through its typed counterpart, or `None` when the crate has none
/// (client-side features: sampling, elicitation, roots, subscriptions, multi-round-trip input).
fn round_trip(kind: &str, value: &Value) -> Option<Value> {
    Some(match kind {
        "CallToolRequest" => typed_message::<CallToolParams, Value>(value),
        "CallToolRequestParams" => typed::<CallToolParams>(value),
        "CallToolResult" => typed_result::<CallToolResult>(value),
        "CallToolResultResponse" => typed_message::<Value, CallToolResult>(value),
        "CancelledNotification" => typed_message::<CancelledParams, Value>(value),
        "CancelledNotificationParams" => typed::<CancelledParams>(value),
        "ClientCapabilities" => typed::<ClientCapabilities>(value),
        "CompleteRequest" => typed_message::<CompleteParams, Value>(value),
        "CompleteRequestParams" => typed::<CompleteParams>(value),
        "CompleteResult" => typed_result::<CompleteResult>(value),
        "CompleteResultResponse" => typed_message::<Value, CompleteResult>(value),
        "DiscoverRequest" => typed_message::<PaginatedParams, Value>(value),
        "DiscoverResult" => typed_result::<DiscoverResult>(value),
        "DiscoverResultResponse" => typed_message::<Value, DiscoverResult>(value),
        "AudioContent" | "EmbeddedResource" | "ImageContent" | "ResourceLink" | "TextContent" => {
            typed::<ContentBlock>(value)
        }
        "BlobResourceContents" | "TextResourceContents" => typed::<ResourceContents>(value),
        "GetPromptRequest" => typed_message::<GetPromptParams, Value>(value),
        "GetPromptRequestParams" => typed::<GetPromptParams>(value),
        "GetPromptResult" => typed_result::<GetPromptResult>(value),
        "GetPromptResultResponse" => typed_message::<Value, GetPromptResult>(value),
        "ListPromptsRequest"
        | "ListResourcesRequest"
        | "ListResourceTemplatesRequest"
        | "ListToolsRequest" => typed_message::<PaginatedParams, Value>(value),
        "PaginatedRequestParams" => typed::<PaginatedParams>(value),
        "ListPromptsResult" => typed_result::<ListPromptsResult>(value),
        "ListPromptsResultResponse" => typed_message::<Value, ListPromptsResult>(value),
        "ListResourcesResult" => typed_result::<ListResourcesResult>(value),
        "ListResourcesResultResponse" => typed_message::<Value, ListResourcesResult>(value),
        "ListResourceTemplatesResult" => typed_result::<ListResourceTemplatesResult>(value),
        "ListResourceTemplatesResultResponse" => {
            typed_message::<Value, ListResourceTemplatesResult>(value)
        }
        "ListToolsResult" => typed_result::<ListToolsResult>(value),
        "ListToolsResultResponse" => typed_message::<Value, ListToolsResult>(value),
        "ReadResourceRequest" => typed_message::<ReadResourceParams, Value>(value),
        "ReadResourceResult" => typed_result::<ReadResourceResult>(value),
        "ReadResourceResultResponse" => typed_message::<Value, ReadResourceResult>(value),
        "ProgressNotification" => typed_message::<ProgressParams, Value>(value),
        "ProgressNotificationParams" => typed::<ProgressParams>(value),
        "Resource" => typed::<Resource>(value),
        "ServerCapabilities" => typed::<ServerCapabilities>(value),
        "Tool" => typed::<Tool>(value),
        "HeaderMismatchError"
        | "MissingRequiredClientCapabilityError"
        | "UnsupportedProtocolVersionError" => typed_message::<Value, Value>(value),
        "InternalError" | "InvalidParamsError" | "MethodNotFoundError" | "ParseError" => {
            typed::<ErrorObjectOwned>(value)
        }
        _ => return None,
    })
}

/// The class `decode` must give a full message, from its schema name.
fn expected_class(kind: &str, value: &Value) -> &'static str {
    if value.get("method").is_some() {
        if value.get("id").is_some() {
            "request"
        } else {
            "notification"
        }
    } else {
        assert!(
            kind.ends_with("Response") || kind.ends_with("Error"),
            "{kind}"
        );
        "response"
    }
}

#[test]
fn every_official_example_round_trips() {
    let mut typed_count = 0;
    let mut decoded_count = 0;
    let mut untyped = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let kind = dir.file_name().unwrap().to_str().unwrap().to_owned();
        for file in std::fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            let text = std::fs::read(&path).unwrap();
            let value: Value = serde_json::from_slice(&text).unwrap();
            let name = format!("{kind}/{}", path.file_name().unwrap().to_string_lossy());

            // Full JSON-RPC messages are classified from their original bytes.
            if value.get("jsonrpc").is_some() {
                let class = match decode(&text) {
                    Ok(Incoming::Request(_)) => "request",
                    Ok(Incoming::Notification(_)) => "notification",
                    Ok(Incoming::Response(_)) => "response",
                    Err(e) => panic!("{name}: official example rejected: {e}"),
                };
                assert_eq!(class, expected_class(&kind, &value), "{name}");
                decoded_count += 1;
            }

            match round_trip(&kind, &value) {
                Some(back) => {
                    assert_eq!(back, value, "{name} does not round-trip");
                    typed_count += 1;
                }
                None => untyped.push(name),
            }
        }
    }
    // The typed families above cover the server side of the protocol: at least these many files.
    assert!(
        typed_count >= 84,
        "only {typed_count} examples round-tripped; untyped: {untyped:?}"
    );
    assert!(
        decoded_count >= 32,
        "only {decoded_count} full messages decoded"
    );
}

#[test]
fn unsupported_version_example_matches_our_error_shape() {
    let text = std::fs::read(
        examples_dir().join("UnsupportedProtocolVersionError/unsupported-version.json"),
    )
    .unwrap();
    let Incoming::Response(response) = decode(&text).unwrap() else {
        panic!("not a response")
    };
    let ResponsePayload::Error(official) = response.payload else {
        panic!("not an error")
    };
    let ours = warden_mcp::MetaError::UnsupportedVersion {
        requested: "1900-01-01".into(),
    }
    .error_object();
    assert_eq!(official.code(), ours.code());
    let official_data: Value = serde_json::from_str(official.data().unwrap().get()).unwrap();
    let our_data: Value = serde_json::from_str(ours.data().unwrap().get()).unwrap();
    assert_eq!(official_data["requested"], our_data["requested"]);
    assert!(
        our_data["supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "2026-07-28")
    );
}
