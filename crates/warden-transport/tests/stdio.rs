//! The stdio transport's framing, limits, concurrency and shutdown, with a stand-in handler (the
//! real engine is exercised end to end through the binary in `bins/odoo-warden-stdio/tests`).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use warden_transport::stdio::{MessageHandler, Outbound, StdioOptions, serve};

/// Echoes `{"echo": <message>}`; a message `{"sleep": ms}` answers after that many milliseconds;
/// `{"notify": n}` sends n notifications before answering; non-JSON gets `{"invalid": len}`.
#[derive(Clone)]
struct Echo;

impl MessageHandler for Echo {
    async fn handle(&self, message: Vec<u8>, outbound: Outbound) -> Option<Value> {
        let Ok(value) = serde_json::from_slice::<Value>(&message) else {
            return Some(json!({"invalid": message.len()}));
        };
        if let Some(ms) = value.get("sleep").and_then(Value::as_u64) {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if let Some(n) = value.get("notify").and_then(Value::as_u64) {
            for i in 0..n {
                outbound.send(json!({"progress": i})).await.ok()?;
            }
        }
        if value.get("silent").is_some() {
            return None;
        }
        Some(json!({"echo": value}))
    }
}

fn options() -> StdioOptions {
    StdioOptions {
        max_message_bytes: 1024,
        max_concurrent_requests: 4,
        drain_timeout: Duration::from_secs(2),
    }
}

/// Runs the transport over in-memory pipes with `input` and returns every output line, parsed.
async fn run(input: &[u8], options: StdioOptions) -> Vec<Value> {
    let (mut client_in, server_in) = tokio::io::duplex(64 * 1024);
    let (server_out, client_out) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(serve(Echo, server_in, server_out, options));
    let input = input.to_vec();
    let writer = tokio::spawn(async move {
        client_in.write_all(&input).await.expect("write");
        client_in.shutdown().await.expect("close input");
    });
    let mut lines = BufReader::new(client_out).lines();
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(line) = lines.next_line().await.expect("read") {
            out.push(serde_json::from_str(&line).expect("every output line is one JSON message"));
        }
    })
    .await;
    assert!(read.is_ok(), "the transport did not finish");
    writer.await.expect("writer");
    server.await.expect("server task").expect("serve");
    out
}

#[tokio::test]
async fn each_line_is_one_message_and_each_answer_one_line() {
    let out = run(b"{\"a\":1}\n{\"b\":2}\r\n\n   \n{\"c\":3}", options()).await;
    let mut echoed: Vec<Value> = out.iter().map(|v| v["echo"].clone()).collect();
    echoed.sort_by_key(std::string::ToString::to_string);
    // Blank lines are skipped; CRLF is accepted; the last line needs no newline.
    assert_eq!(
        echoed,
        vec![json!({"a": 1}), json!({"b": 2}), json!({"c": 3})]
    );
}

#[tokio::test]
async fn a_line_that_is_not_json_reaches_the_handler_and_serving_goes_on() {
    let out = run(b"this is not json\n{\"after\":true}\n", options()).await;
    assert!(out.contains(&json!({"invalid": 16})), "{out:?}");
    assert!(out.contains(&json!({"echo": {"after": true}})), "{out:?}");
}

#[tokio::test]
async fn an_oversized_line_is_refused_and_the_next_one_served() {
    let mut input = Vec::new();
    input.extend_from_slice(b"{\"big\":\"");
    input.extend(std::iter::repeat_n(b'x', 200_000));
    input.extend_from_slice(b"\"}\n{\"small\":1}\n");
    let out = run(&input, options()).await;
    assert_eq!(out.len(), 2, "{out:?}");
    let refusal = out
        .iter()
        .find(|v| v.get("error").is_some())
        .expect("an error answer");
    assert_eq!(refusal["error"]["code"], json!(-32600));
    assert_eq!(refusal["id"], Value::Null);
    assert!(
        refusal["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1024")
    );
    assert!(out.contains(&json!({"echo": {"small": 1}})));
}

#[tokio::test]
async fn an_oversized_last_line_without_newline_is_refused() {
    let input = vec![b'y'; 5000];
    let out = run(&input, options()).await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["error"]["code"], json!(-32600));
}

#[tokio::test]
async fn messages_are_handled_concurrently() {
    // Four messages that each take 300 ms finish in about 300 ms, not 1.2 s; a quick one sent
    // last is answered first.
    let started = Instant::now();
    let out = run(
        b"{\"sleep\":300,\"n\":1}\n{\"sleep\":300,\"n\":2}\n{\"sleep\":300,\"n\":3}\n{\"n\":4}\n",
        options(),
    )
    .await;
    assert_eq!(out.len(), 4);
    assert_eq!(
        out[0]["echo"]["n"],
        json!(4),
        "the quick message is not held behind slow ones"
    );
    assert!(
        started.elapsed() < Duration::from_millis(1100),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn notifications_go_out_before_the_answer() {
    let out = run(b"{\"notify\":3}\n", options()).await;
    assert_eq!(
        out,
        vec![
            json!({"progress": 0}),
            json!({"progress": 1}),
            json!({"progress": 2}),
            json!({"echo": {"notify": 3}})
        ]
    );
}

#[tokio::test]
async fn a_message_without_answer_writes_nothing() {
    let out = run(b"{\"silent\":true}\n{\"x\":1}\n", options()).await;
    assert_eq!(out, vec![json!({"echo": {"x": 1}})]);
}

#[tokio::test]
async fn end_of_input_waits_for_requests_in_flight_then_returns() {
    let out = run(b"{\"sleep\":200}\n", options()).await;
    assert_eq!(
        out,
        vec![json!({"echo": {"sleep": 200}})],
        "the answer is flushed before exit"
    );
}

#[tokio::test]
async fn end_of_input_abandons_requests_past_the_drain_timeout() {
    let options = StdioOptions {
        drain_timeout: Duration::from_millis(200),
        ..options()
    };
    let started = Instant::now();
    let out = run(b"{\"sleep\":60000}\n{\"quick\":1}\n", options).await;
    assert_eq!(out, vec![json!({"echo": {"quick": 1}})]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "exit is prompt: {:?}",
        started.elapsed()
    );
}
