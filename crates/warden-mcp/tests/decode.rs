//! `decode`: malformed input gets the exact JSON-RPC error and id, well-formed messages are
//! classified correctly, and typed parameters are parsed or refused with -32602.

use serde_json::{Value, json};
use warden_mcp::{
    CallToolParams, DecodeError, Id, Incoming, MAX_DEPTH, ProgressToken, ResponsePayload, decode,
    error_code,
};

fn nested(depth: usize) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"a":{}1{}}}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

#[test]
fn malformed_inputs_get_the_exact_error_code_and_id() {
    let deep = nested(MAX_DEPTH + 10);
    let very_deep = "[".repeat(100_000);
    let cases: Vec<(&str, Vec<u8>, i32, Value, bool)> = vec![
        // (name, input, code, id in the response, whether a response is sent)
        ("empty", b"".to_vec(), -32700, Value::Null, true),
        ("whitespace", b"  \t ".to_vec(), -32700, Value::Null, true),
        ("not json", b"hello".to_vec(), -32700, Value::Null, true),
        (
            "truncated",
            br#"{"jsonrpc":"2.0","id":1,"method":"#.to_vec(),
            -32700,
            Value::Null,
            true,
        ),
        (
            "invalid utf-8",
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\xfe\"}".to_vec(),
            -32700,
            Value::Null,
            true,
        ),
        (
            "batch",
            br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#.to_vec(),
            -32600,
            Value::Null,
            true,
        ),
        ("empty batch", b"[]".to_vec(), -32600, Value::Null, true),
        ("string", br#""ping""#.to_vec(), -32600, Value::Null, true),
        ("number", b"42".to_vec(), -32600, Value::Null, true),
        ("null", b"null".to_vec(), -32600, Value::Null, true),
        (
            "missing jsonrpc",
            br#"{"id":7,"method":"ping"}"#.to_vec(),
            -32600,
            json!(7),
            true,
        ),
        (
            "wrong version",
            br#"{"jsonrpc":"1.0","id":"a","method":"ping"}"#.to_vec(),
            -32600,
            json!("a"),
            true,
        ),
        (
            "jsonrpc not a string",
            br#"{"jsonrpc":2.0,"id":3,"method":"ping"}"#.to_vec(),
            -32600,
            json!(3),
            true,
        ),
        (
            "id is an object",
            br#"{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}"#.to_vec(),
            -32600,
            Value::Null,
            true,
        ),
        (
            "id is a float",
            br#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#.to_vec(),
            -32600,
            Value::Null,
            true,
        ),
        (
            "id is a bool",
            br#"{"jsonrpc":"2.0","id":true,"method":"ping"}"#.to_vec(),
            -32600,
            Value::Null,
            true,
        ),
        (
            "id is null on a request",
            br#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#.to_vec(),
            -32600,
            Value::Null,
            true,
        ),
        (
            "method not a string",
            br#"{"jsonrpc":"2.0","id":4,"method":12}"#.to_vec(),
            -32600,
            json!(4),
            true,
        ),
        (
            "method null",
            br#"{"jsonrpc":"2.0","id":"m","method":null}"#.to_vec(),
            -32600,
            json!("m"),
            true,
        ),
        (
            "params an array",
            br#"{"jsonrpc":"2.0","id":5,"method":"tools/list","params":[1,2]}"#.to_vec(),
            -32602,
            json!(5),
            true,
        ),
        (
            "params a string",
            br#"{"jsonrpc":"2.0","id":"s","method":"tools/list","params":"x"}"#.to_vec(),
            -32602,
            json!("s"),
            true,
        ),
        (
            "params null",
            br#"{"jsonrpc":"2.0","id":6,"method":"tools/list","params":null}"#.to_vec(),
            -32602,
            json!(6),
            true,
        ),
        (
            "notification params an array",
            br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":[]}"#.to_vec(),
            -32602,
            Value::Null,
            false,
        ),
        (
            "no method, result or error",
            br#"{"jsonrpc":"2.0","id":8}"#.to_vec(),
            -32600,
            json!(8),
            true,
        ),
        (
            "result and error",
            br#"{"jsonrpc":"2.0","id":9,"result":{},"error":{"code":1,"message":"m"}}"#.to_vec(),
            -32600,
            json!(9),
            true,
        ),
        (
            "result without id",
            br#"{"jsonrpc":"2.0","result":{}}"#.to_vec(),
            -32600,
            Value::Null,
            true,
        ),
        (
            "error not an object",
            br#"{"jsonrpc":"2.0","id":10,"error":"bad"}"#.to_vec(),
            -32600,
            json!(10),
            true,
        ),
        (
            "error code not an integer",
            br#"{"jsonrpc":"2.0","id":11,"error":{"code":"x","message":"m"}}"#.to_vec(),
            -32600,
            json!(11),
            true,
        ),
        (
            "nesting too deep",
            deep.into_bytes(),
            -32600,
            Value::Null,
            true,
        ),
        (
            "hostile nesting",
            very_deep.into_bytes(),
            -32600,
            Value::Null,
            true,
        ),
    ];
    for (name, input, code, id, responds) in cases {
        let err = decode(&input).expect_err(name);
        assert_eq!(err.code(), code, "{name}: {err}");
        assert_eq!(serde_json::to_value(err.id()).unwrap(), id, "{name}");
        match err.response() {
            Some(response) => {
                assert!(responds, "{name}: a notification must not be answered");
                assert_eq!(response["jsonrpc"], "2.0", "{name}");
                assert_eq!(response["id"], id, "{name}");
                assert_eq!(response["error"]["code"], code, "{name}");
                assert!(
                    response["error"]["message"]
                        .as_str()
                        .is_some_and(|m| !m.is_empty())
                );
            }
            None => assert!(!responds, "{name}: a response was expected"),
        }
    }
}

#[test]
fn error_messages_do_not_echo_the_input() {
    let secret = br#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"password":"hunter2"#;
    let err = decode(secret).unwrap_err();
    assert!(!err.to_string().contains("hunter2"));
    assert!(!err.response().unwrap().to_string().contains("hunter2"));
}

#[test]
fn nesting_up_to_the_limit_is_accepted() {
    // The envelope and params add two levels around the nested array.
    let ok = nested(MAX_DEPTH - 2);
    assert!(matches!(decode(ok.as_bytes()), Ok(Incoming::Request(_))));
    let too_deep = nested(MAX_DEPTH - 1);
    assert!(matches!(
        decode(too_deep.as_bytes()),
        Err(DecodeError::TooDeep { .. })
    ));
    // Brackets inside strings do not count.
    let in_string = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"{}"}}"#,
        "[".repeat(1000)
    );
    assert!(matches!(
        decode(in_string.as_bytes()),
        Ok(Incoming::Request(_))
    ));
}

#[test]
fn requests_are_classified_with_their_id_and_params() {
    let Incoming::Request(r) =
        decode(br#"{"jsonrpc":"2.0","id":"abc","method":"tools/call","params":{"name":"x","arguments":{"a":1}},"extra":true}"#)
            .unwrap()
    else {
        panic!("not a request")
    };
    assert_eq!(r.id, Id::Str("abc".into()));
    assert_eq!(r.method, "tools/call");
    let params: CallToolParams = r.params_as().unwrap();
    assert_eq!(params.name, "x");
    assert_eq!(params.arguments.unwrap()["a"], 1);

    let Incoming::Request(r) = decode(br#"{"jsonrpc":"2.0","id":0,"method":"ping"}"#).unwrap()
    else {
        panic!("not a request")
    };
    assert_eq!(r.id, Id::Number(0));
    assert!(r.params.is_none());

    // Surrounding whitespace and a trailing carriage return are tolerated.
    assert!(matches!(
        decode(b"  {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r"),
        Ok(Incoming::Request(_))
    ));
}

#[test]
fn notifications_are_classified() {
    let Incoming::Notification(n) =
        decode(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap()
    else {
        panic!("not a notification")
    };
    assert_eq!(n.method, "notifications/initialized");
    assert!(n.params.is_none());
}

#[test]
fn responses_are_classified() {
    let Incoming::Response(r) =
        decode(br#"{"jsonrpc":"2.0","id":3,"result":{"ok":true}}"#).unwrap()
    else {
        panic!("not a response")
    };
    assert_eq!(r.id, Id::Number(3));
    assert_eq!(r.payload, ResponsePayload::Result(json!({"ok": true})));

    let Incoming::Response(r) =
        decode(br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error","data":{"x":1}}}"#)
            .unwrap()
    else {
        panic!("not a response")
    };
    assert_eq!(r.id, Id::Null);
    let ResponsePayload::Error(e) = r.payload else {
        panic!("not an error")
    };
    assert_eq!(e.code(), -32700);
    assert_eq!(e.message(), "Parse error");
    assert_eq!(e.data().unwrap().get(), r#"{"x":1}"#);
}

#[test]
fn typed_params_of_the_wrong_shape_are_invalid_params() {
    let Incoming::Request(r) =
        decode(br#"{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"arguments":{}}}"#)
            .unwrap()
    else {
        panic!("not a request")
    };
    let err = r.params_as::<CallToolParams>().unwrap_err();
    let response = err.response(&r.id);
    assert_eq!(response["error"]["code"], error_code::INVALID_PARAMS);
    assert_eq!(response["id"], 12);
    assert!(err.to_string().contains("name"), "{err}");
}

#[test]
fn progress_token_is_read_from_meta() {
    let Incoming::Request(r) = decode(
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":"tok"}}}"#,
    )
    .unwrap() else {
        panic!("not a request")
    };
    assert_eq!(
        r.progress_token(),
        Some(ProgressToken::String("tok".into()))
    );
    let Incoming::Request(r) = decode(
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":7}}}"#,
    )
    .unwrap() else {
        panic!("not a request")
    };
    assert_eq!(r.progress_token(), Some(ProgressToken::Number(7)));
    let Incoming::Request(r) =
        decode(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}"#).unwrap()
    else {
        panic!("not a request")
    };
    assert_eq!(r.progress_token(), None);
}

#[test]
fn garbage_never_panics() {
    // A fixed-seed generator over JSON-ish bytes: bounded in count, every outcome is fine but a
    // panic.
    let alphabet = br#"{}[]":,0123456789.-eE truenullfalsejsonrpc2.0idmethodparamsresulterror\"#;
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = (state % 64) as usize;
        let mut input = Vec::with_capacity(len);
        let mut s = state;
        for _ in 0..len {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            input.push(alphabet[(s >> 33) as usize % alphabet.len()]);
        }
        if let Err(e) = decode(&input) {
            let _ = e.response();
        }
    }
}
