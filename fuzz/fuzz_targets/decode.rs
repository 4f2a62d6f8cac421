//! Fuzz target: `warden_mcp::decode` on arbitrary bytes and, when a message decodes, every typed
//! parser and response builder that the gateway applies to it. Any panic is a finding.

#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_mcp::{
    CallToolParams, CancelledParams, CompleteParams, Cursor, GetPromptParams, Id, Incoming,
    InitializeParams, PaginatedParams, ProgressParams, ProtocolVersion, ReadResourceParams,
    RequestMeta, SUPPORTED, SetLevelParams, adapt_result, decode, negotiate, result_response,
};

fuzz_target!(|data: &[u8]| {
    // Cursors arrive as arbitrary strings too.
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(offset) = Cursor::decode(text) {
            assert_eq!(Cursor::encode(offset).as_str(), text);
        }
        let _ = negotiate(text);
    }

    match decode(data) {
        Err(err) => {
            let _ = err.response();
        }
        Ok(Incoming::Request(request)) => {
            let _ = request
                .params_as::<InitializeParams>()
                .map_err(|e| e.response(&request.id));
            let _ = request.params_as::<SetLevelParams>();
            let _ = request.params_as::<PaginatedParams>();
            let _ = request.params_as::<CallToolParams>();
            let _ = request.params_as::<ReadResourceParams>();
            let _ = request.params_as::<GetPromptParams>();
            let _ = request.params_as::<CompleteParams>();
            let _ = request.progress_token();
            if let Err(err) = RequestMeta::from_request(&request) {
                let _ = err.response(&request.id);
            }
            if let Some(params) = &request.params {
                // Echoing client-supplied data through every revision's adaptation must not panic.
                for version in SUPPORTED {
                    let _ = result_response(&request.id, version, params);
                }
            }
        }
        Ok(Incoming::Notification(notification)) => {
            let _ = notification.params_as::<CancelledParams>();
            let _ = notification.params_as::<ProgressParams>();
        }
        Ok(Incoming::Response(response)) => {
            if let warden_mcp::ResponsePayload::Result(mut result) = response.payload {
                adapt_result(ProtocolVersion::V2025_03_26, &mut result);
                let _ = result_response(&Id::Null, ProtocolVersion::V2026_07_28, &result);
            }
        }
    }
});
