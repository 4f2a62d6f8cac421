//! The receivers `docs/audit.md` shows (a Python and a Node `verify`), run as printed against
//! signatures the webhook sink makes: a valid one passes; an altered body, a replay outside the
//! tolerance and another secret fail. If the document's code changes, this test runs the new code.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use warden_audit::webhook::sign;

const DOC: &str = include_str!("../../../docs/audit.md");

/// The first fenced block of `language` in the document.
fn block(language: &str) -> String {
    let fence = format!("```{language}\n");
    let start = DOC
        .find(&fence)
        .unwrap_or_else(|| panic!("docs/audit.md has no {language} block"))
        + fence.len();
    let end = DOC[start..].find("```").expect("the block ends") + start;
    DOC[start..end].to_owned()
}

/// Runs `program` on `script` (the document's code plus a driver reading the case from
/// stdin), returning whether it printed `true`.
fn run(program: &str, extension: &str, script: &str, case: &serde_json::Value) -> bool {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join(format!("receiver.{extension}"));
    std::fs::write(&path, script).expect("write");
    let mut child = Command::new(program)
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{program} cannot be started ({e}): it must be on the PATH (CI installs it)")
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(case.to_string().as_bytes())
        .expect("write case");
    let output = child.wait_with_output().expect("the receiver ends");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    match stdout.trim() {
        "true" => true,
        "false" => false,
        other => panic!("{program} printed {other:?}"),
    }
}

const PY_DRIVER: &str = r#"
import json, sys
case = json.load(sys.stdin)
print("true" if verify(case["secret"].encode(), case["header"], case["body"].encode(), case["now"]) else "false")
"#;

const JS_DRIVER: &str = r#"
let input = "";
for await (const chunk of process.stdin) input += chunk;
const c = JSON.parse(input);
console.log(verify(Buffer.from(c.secret), c.header, Buffer.from(c.body), c.now) ? "true" : "false");
"#;

#[test]
fn the_documented_receivers_accept_real_signatures_and_refuse_the_rest() {
    let python = format!("{}\n{PY_DRIVER}", block("python"));
    let node = format!("{}\n{JS_DRIVER}", block("js"));
    let secret = "a-webhook-secret-of-at-least-32-bytes!";
    let body = r#"{"events":[{"v":1,"kind":"request","model":"res.partner","note":"é"}]}"#;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let header = sign(secret.as_bytes(), now, body.as_bytes());
    let case = |secret: &str, body: &str, now: u64| serde_json::json!({"secret": secret, "header": header, "body": body, "now": now});
    for (program, extension, script) in [("python3", "py", &python), ("node", "mjs", &node)] {
        assert!(
            run(program, extension, script, &case(secret, body, now)),
            "{program}: a valid signature"
        );
        assert!(
            run(program, extension, script, &case(secret, body, now + 299)),
            "{program}: within the tolerance"
        );
        assert!(
            !run(
                program,
                extension,
                script,
                &case(secret, &body.replace("partner", "partnes"), now)
            ),
            "{program}: an altered body"
        );
        assert!(
            !run(program, extension, script, &case(secret, body, now + 301)),
            "{program}: a replay outside the tolerance"
        );
        assert!(
            !run(
                program,
                extension,
                script,
                &case("another-secret-of-at-least-32-bytes!!", body, now)
            ),
            "{program}: another secret"
        );
    }
}
