//! Version negotiation (`initialize` and per-request `_meta`) and pagination cursors.

use serde_json::json;
use warden_mcp::{
    ClientCapabilities, Cursor, CursorError, Era, Incoming, LATEST, LATEST_LEGACY, LoggingLevel,
    MetaError, ProgressToken, ProtocolVersion, RequestMeta, SUPPORTED, decode, error_code,
    negotiate,
};

fn request(params: serde_json::Value) -> warden_mcp::Request {
    let line =
        json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list", "params": params}).to_string();
    match decode(line.as_bytes()).unwrap() {
        Incoming::Request(r) => r,
        other => panic!("{other:?}"),
    }
}

#[test]
fn versions_parse_print_and_have_an_era() {
    for v in SUPPORTED {
        assert_eq!(ProtocolVersion::parse(v.as_str()), Some(v));
        assert_eq!(v.as_str().parse::<ProtocolVersion>(), Ok(v));
        assert_eq!(v.to_string(), v.as_str());
        assert_eq!(serde_json::to_value(v).unwrap(), json!(v.as_str()));
    }
    assert_eq!(ProtocolVersion::V2025_03_26.era(), Era::Legacy);
    assert_eq!(ProtocolVersion::V2025_06_18.era(), Era::Legacy);
    assert_eq!(ProtocolVersion::V2025_11_25.era(), Era::Legacy);
    assert_eq!(ProtocolVersion::V2026_07_28.era(), Era::Modern);
    assert_eq!(LATEST_LEGACY, ProtocolVersion::V2025_11_25);
    assert_eq!(LATEST, ProtocolVersion::V2026_07_28);
    assert_eq!(SUPPORTED[0], LATEST, "newest first");
    for bad in ["", "2024-11-05", "2025-13-01", "2025-06-18 ", "latest"] {
        assert_eq!(ProtocolVersion::parse(bad), None, "{bad:?}");
    }
    assert!(ProtocolVersion::V2025_03_26 < ProtocolVersion::V2026_07_28);
}

#[test]
fn initialize_negotiates_within_the_legacy_era() {
    assert_eq!(negotiate("2025-03-26"), ProtocolVersion::V2025_03_26);
    assert_eq!(negotiate("2025-06-18"), ProtocolVersion::V2025_06_18);
    assert_eq!(negotiate("2025-11-25"), ProtocolVersion::V2025_11_25);
    // Unknown (older or newer) revisions get the latest legacy one.
    assert_eq!(negotiate("2024-11-05"), LATEST_LEGACY);
    assert_eq!(negotiate("2099-01-01"), LATEST_LEGACY);
    assert_eq!(negotiate(""), LATEST_LEGACY);
    // The modern revision has no initialize.
    assert_eq!(negotiate("2026-07-28"), LATEST_LEGACY);
}

#[test]
fn modern_meta_is_read_from_a_request() {
    let r = request(json!({"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}},
        "io.modelcontextprotocol/clientInfo": {"name": "Claude", "version": "1.2"},
        "io.modelcontextprotocol/logLevel": "warning",
        "progressToken": 17
    }}));
    let meta = RequestMeta::from_request(&r).unwrap().unwrap();
    assert_eq!(meta.protocol_version, ProtocolVersion::V2026_07_28);
    assert!(meta.client_capabilities.elicitation.is_some());
    assert!(meta.client_capabilities.sampling.is_none());
    assert_eq!(meta.client_info.unwrap().name, "Claude");
    assert_eq!(meta.log_level, Some(LoggingLevel::Warning));
    assert_eq!(meta.progress_token, Some(ProgressToken::Number(17)));
}

#[test]
fn legacy_requests_have_no_modern_meta() {
    assert_eq!(
        RequestMeta::from_request(&request(json!({}))).unwrap(),
        None
    );
    assert_eq!(
        RequestMeta::from_request(&request(json!({"_meta": {"progressToken": "a"}}))).unwrap(),
        None
    );
}

#[test]
fn unsupported_modern_version_is_error_32022_with_the_supported_list() {
    let r = request(json!({"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2027-01-01",
        "io.modelcontextprotocol/clientCapabilities": {}
    }}));
    let err = RequestMeta::from_request(&r).unwrap_err();
    assert_eq!(
        err,
        MetaError::UnsupportedVersion {
            requested: "2027-01-01".into()
        }
    );
    let response = err.response(&r.id);
    assert_eq!(response["id"], 9);
    assert_eq!(response["error"]["code"], -32022);
    assert_eq!(
        response["error"]["code"],
        error_code::UNSUPPORTED_PROTOCOL_VERSION
    );
    assert_eq!(response["error"]["data"]["requested"], "2027-01-01");
    assert_eq!(
        response["error"]["data"]["supported"],
        json!(["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"])
    );
}

#[test]
fn malformed_modern_meta_is_invalid_params() {
    let cases = [
        json!({"io.modelcontextprotocol/protocolVersion": 2026}),
        json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28"}),
        json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": []}),
        json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {"roots": 1}}),
        json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}, "io.modelcontextprotocol/clientInfo": {"name": "x"}}),
        json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}, "io.modelcontextprotocol/logLevel": "loud"}),
        json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}, "progressToken": 1.5}),
    ];
    for meta in cases {
        let r = request(json!({"_meta": meta}));
        let err = RequestMeta::from_request(&r).unwrap_err();
        assert_eq!(err.code(), error_code::INVALID_PARAMS, "{meta}");
        assert_eq!(err.response(&r.id)["error"]["code"], -32602);
    }
}

#[test]
fn missing_client_capability_is_error_32021() {
    let r = request(json!({"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {"sampling": {}, "extensions": {"io.modelcontextprotocol/ui": {}}}
    }}));
    let meta = RequestMeta::from_request(&r).unwrap().unwrap();
    let sampling: ClientCapabilities = serde_json::from_value(json!({"sampling": {}})).unwrap();
    assert!(meta.require(&sampling).is_ok());
    let ui: ClientCapabilities =
        serde_json::from_value(json!({"extensions": {"io.modelcontextprotocol/ui": {}}})).unwrap();
    assert!(meta.require(&ui).is_ok());
    assert!(meta.require(&ClientCapabilities::default()).is_ok());

    let elicitation: ClientCapabilities =
        serde_json::from_value(json!({"elicitation": {}})).unwrap();
    let err = meta.require(&elicitation).unwrap_err();
    let response = err.response(&r.id);
    assert_eq!(response["error"]["code"], -32021);
    assert_eq!(
        response["error"]["data"]["requiredCapabilities"],
        json!({"elicitation": {}})
    );
    let other_ext: ClientCapabilities =
        serde_json::from_value(json!({"extensions": {"com.example/x": {}}})).unwrap();
    assert_eq!(
        meta.require(&other_ext).unwrap_err().code(),
        error_code::MISSING_REQUIRED_CLIENT_CAPABILITY
    );
}

#[test]
fn cursors_round_trip() {
    for offset in [0, 1, 50, 100, 65_535, u64::from(u32::MAX) + 1, u64::MAX] {
        let cursor = Cursor::encode(offset);
        assert_eq!(Cursor::decode(cursor.as_str()), Ok(offset));
        assert_eq!(Cursor::decode(&cursor.to_string()), Ok(offset));
    }
    assert_ne!(Cursor::encode(1), Cursor::encode(2));
}

#[test]
fn tampered_and_foreign_cursors_are_errors() {
    let good = Cursor::encode(100).into_string();
    // Flip each character in turn: every single-character change is detected.
    for i in 0..good.len() {
        let mut bytes = good.clone().into_bytes();
        bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(Cursor::decode(&tampered).is_err(), "{tampered}");
    }
    assert_eq!(Cursor::decode(""), Err(CursorError::Malformed));
    assert_eq!(
        Cursor::decode("eyJwYWdlIjogMn0="),
        Err(CursorError::Malformed)
    );
    assert_eq!(
        Cursor::decode(&good.to_uppercase()),
        Err(CursorError::Malformed)
    );
    assert_eq!(
        Cursor::decode(&format!("{good}00")),
        Err(CursorError::Malformed)
    );
    assert_eq!(
        Cursor::decode(&good[..good.len() - 2]),
        Err(CursorError::Malformed)
    );
    let other_format = format!("02{}", &good[2..]);
    assert_eq!(
        Cursor::decode(&other_format),
        Err(CursorError::UnknownFormat)
    );
    let wrong_sum = format!("{}00000000", &good[..good.len() - 8]);
    assert_eq!(Cursor::decode(&wrong_sum), Err(CursorError::Checksum));
    // Multi-byte characters at the right byte length do not panic.
    let multibyte = "é".repeat(13);
    assert_eq!(multibyte.len(), 26);
    assert_eq!(Cursor::decode(&multibyte), Err(CursorError::Malformed));
}

#[test]
fn cursor_decode_of_random_garbage_never_panics_and_never_passes() {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..50_000 {
        let len = if round % 2 == 0 {
            26
        } else {
            (next() % 40) as usize
        };
        let hex_only = round % 3 == 0;
        let s: String = (0..len)
            .map(|_| {
                let r = next();
                if hex_only {
                    char::from(b"0123456789abcdef"[(r % 16) as usize])
                } else {
                    char::from_u32((r % 0x3000) as u32).unwrap_or('?')
                }
            })
            .collect();
        // A random string passes the 32-bit checksum with negligible probability.
        if let Ok(offset) = Cursor::decode(&s) {
            assert_eq!(Cursor::encode(offset).as_str(), s);
        }
    }
}
