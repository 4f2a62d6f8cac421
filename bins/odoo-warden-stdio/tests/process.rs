//! Process-level tests of `odoo-warden-stdio`: the real binary, spawned with a configuration file
//! and a key store in a temporary directory and its key in `WARDEN_KEY`, talking to the Odoo
//! simulator on 127.0.0.1, driven by raw JSON-RPC lines on its stdin and read back from its
//! stdout with bounded waits.
//!
//! Every line the process writes on stdout is checked to be one JSON-RPC 2.0 object as it is
//! read, in every test.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use warden_odoo_sim::{Fault, SimHandle, SimOptions};
use warden_policy::config::KeyStoreFile;

const BIN: &str = env!("CARGO_BIN_EXE_odoo-warden-stdio");
/// Longest wait for any one expected message.
const WAIT: Duration = Duration::from_secs(20);
const MODERN: &str = "2026-07-28";
const LEGACY: &str = "2025-11-25";
/// `[limits] max_message_bytes` by default.
const DEFAULT_MAX_MESSAGE_BYTES: usize = 1_048_576;

// ---------------------------------------------------------------------------------------------
// The simulator, in-process on its own runtime.

struct Sim {
    handle: SimHandle,
    // Kept last so that the simulator's tasks stop when the test ends.
    _runtime: tokio::runtime::Runtime,
}

impl Sim {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the simulator");
        let addr = "127.0.0.1:0".parse().expect("a loopback address");
        let handle = runtime
            .block_on(warden_odoo_sim::start(addr, SimOptions::default()))
            .expect("the simulator starts");
        Self {
            handle,
            _runtime: runtime,
        }
    }

    fn key(&self, login: &str) -> String {
        self.handle.api_key(login).expect("a demo user's api key")
    }
}

// ---------------------------------------------------------------------------------------------
// A temporary directory (std only), removed on drop.

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let path = std::env::temp_dir().join(format!(
            "odoo-warden-stdio-test-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&path).expect("a temporary directory");
        Self(path)
    }

    /// A configuration whose one profile (`agent`) sees every model as the Odoo user `login`,
    /// then `extra`; its key store holds one key of that profile.
    fn config(&self, url: &str, login: &str, extra: &str) -> Agent {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let config = self.0.join(format!("warden-{login}-{n}.toml"));
        let keys = self.0.join(format!("keys-{n}.toml"));
        let mut store = KeyStoreFile::default();
        let (record, secret) =
            warden_policy::keys::create(&mut store, "agent", "agent", None, SystemTime::now())
                .expect("a key is created");
        std::fs::write(&keys, store.to_toml()).expect("the key store is written");
        let text = format!(
            "[odoo]\nurl = \"{url}\"\ndatabase = \"odoo\"\ntimeout_ms = 2000\n\n\
             [odoo.identities.main]\nlogin = \"{login}\"\napi_key_env = \"ODOO_API_KEY\"\n\n\
             [keys]\nfile = \"keys-{n}.toml\"\n\n{PROFILE}\n{extra}\n"
        );
        std::fs::write(&config, text).expect("the configuration file is written");
        Agent {
            config,
            keys,
            store,
            key_id: record.id,
            secret,
        }
    }
}

/// The profile of the test configurations: every model, every operation, Odoo's own rules.
const PROFILE: &str = "[profiles.agent]\nidentity = \"main\"\nmodels = { allow = [\"*\"] }\n\
    operations = { allow = [\"read\", \"create\", \"write\", \"delete\", \"call\"] }\n\
    methods = { allow = [\"*\"] }\n";

/// A configuration file, its key store and the one key in it.
struct Agent {
    config: PathBuf,
    keys: PathBuf,
    store: KeyStoreFile,
    key_id: String,
    secret: String,
}

impl Agent {
    /// Revokes the key in the key store file.
    fn revoke(&mut self) {
        warden_policy::keys::revoke(&mut self.store, &self.key_id, SystemTime::now())
            .expect("the key is revoked");
        write_atomically(&self.keys, &self.store.to_toml());
    }
}

/// Replaces `path`'s contents at once (write a sibling, rename over), as deployment tools do,
/// so that a reader never sees half a file.
fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("the new file is written");
    std::fs::rename(&tmp, path).expect("the new file replaces the old one");
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------------
// The process under test.

struct Server {
    child: Child,
    /// Bytes for stdin, written by a thread so that a stuck reader can never block the test.
    input: Option<mpsc::Sender<Vec<u8>>>,
    /// stdout, one line per message.
    lines: mpsc::Receiver<String>,
    /// Messages read but not yet asked for.
    pending: Vec<Value>,
    stderr: Arc<Mutex<String>>,
    threads: Vec<JoinHandle<()>>,
}

impl Server {
    /// Spawn the binary with `--config config` and exactly the environment `env`.
    fn spawn(config: &Path, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(BIN)
            .arg("--config")
            .arg(config)
            .env_clear()
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("odoo-warden-stdio starts");
        let mut stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr_pipe = child.stderr.take().expect("piped stderr");

        let (input, chunks) = mpsc::channel::<Vec<u8>>();
        let writer = thread::spawn(move || {
            for chunk in chunks {
                if stdin
                    .write_all(&chunk)
                    .and_then(|()| stdin.flush())
                    .is_err()
                {
                    break;
                }
            }
            // Dropping stdin here closes the process's input.
        });

        let (line_tx, lines) = mpsc::channel::<String>();
        let reader = thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            let mut line = Vec::new();
            loop {
                line.clear();
                match stdout.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&line).into_owned();
                        if line_tx.send(text).is_err() {
                            break;
                        }
                    }
                }
            }
        });

        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let logger = thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            while let Ok(n @ 1..) = stderr_pipe.read(&mut buffer) {
                sink.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });

        Self {
            child,
            input: Some(input),
            lines,
            pending: Vec::new(),
            stderr,
            threads: vec![writer, reader, logger],
        }
    }

    /// Spawn as the Odoo user `login` (its simulator key in `ODOO_API_KEY`), with the key of
    /// a fresh configuration in `WARDEN_KEY`.
    fn spawn_for(sim: &Sim, dir: &TempDir, login: &str, extra: &str) -> Self {
        Self::spawn_agent(sim, dir, login, extra).0
    }

    /// [`Server::spawn_for`], also returning the configuration.
    fn spawn_agent(sim: &Sim, dir: &TempDir, login: &str, extra: &str) -> (Self, Agent) {
        let agent = dir.config(&sim.handle.url(), login, extra);
        let key = sim.key(login);
        let server = Self::spawn(
            &agent.config,
            &[
                ("ODOO_API_KEY", key.as_str()),
                ("WARDEN_KEY", &agent.secret),
            ],
        );
        (server, agent)
    }

    /// Waits at most `limit` for stderr to contain `text`.
    fn wait_stderr(&self, text: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if self.stderr().contains(text) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends the process SIGHUP.
    fn hangup(&self) {
        let status = Command::new("kill")
            .arg("-HUP")
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -HUP failed");
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn write_raw(&self, bytes: Vec<u8>) {
        self.input
            .as_ref()
            .expect("stdin is still open")
            .send(bytes)
            .expect("the stdin writer is running");
    }

    fn send(&self, message: &Value) {
        let mut line = serde_json::to_vec(message).expect("a message serializes");
        line.push(b'\n');
        self.write_raw(line);
    }

    fn close_stdin(&mut self) {
        self.input = None;
    }

    /// The next message on stdout before `deadline`, checked to be a JSON-RPC 2.0 object.
    fn next_message(&mut self, deadline: Instant) -> Option<Value> {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = self.lines.recv_timeout(left).ok()?;
        Some(parse_stdout_line(&line))
    }

    /// The response to `id` (result or error), waiting at most `limit`.
    fn try_response_within(&mut self, id: &Value, limit: Duration) -> Option<Value> {
        let is_answer = |m: &Value| {
            m.get("id") == Some(id) && (m.get("result").is_some() || m.get("error").is_some())
        };
        if let Some(at) = self.pending.iter().position(is_answer) {
            return Some(self.pending.remove(at));
        }
        let deadline = Instant::now() + limit;
        while let Some(message) = self.next_message(deadline) {
            if is_answer(&message) {
                return Some(message);
            }
            self.pending.push(message);
        }
        None
    }

    fn response(&mut self, id: &Value) -> Value {
        match self.try_response_within(id, WAIT) {
            Some(response) => response,
            None => panic!(
                "no response to id {id} within {WAIT:?}; other messages: {:?}; stderr: {}",
                self.pending,
                self.stderr()
            ),
        }
    }

    fn request(&mut self, id: Value, method: &str, params: Value) -> Value {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.response(&id)
    }

    /// A request's successful result (panics on a JSON-RPC error).
    fn result(&mut self, id: Value, method: &str, params: Value) -> Value {
        let response = self.request(id, method, params);
        match response.get("result") {
            Some(result) => result.clone(),
            None => panic!("{method} failed: {response}"),
        }
    }

    /// The legacy handshake: `initialize`, then `notifications/initialized`.
    fn initialize(&mut self) {
        let result = self.result(
            json!("init"),
            "initialize",
            json!({
                "protocolVersion": LEGACY,
                "capabilities": {},
                "clientInfo": {"name": "process-test", "version": "1"},
            }),
        );
        assert_eq!(result["protocolVersion"], LEGACY, "{result}");
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    }

    /// A `tools/call` in the negotiated session; returns the `CallToolResult`.
    fn call_tool(&mut self, id: u64, name: &str, arguments: Value) -> Value {
        self.result(
            json!(id),
            "tools/call",
            json!({"name": name, "arguments": arguments}),
        )
    }

    fn ping(&mut self, id: u64) {
        let result = self.result(json!(id), "ping", json!({}));
        assert_eq!(result, json!({}));
    }

    /// Waits at most `limit` for the process to exit.
    fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("the process can be polled") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// After exit: every line left on stdout (each checked to be a JSON-RPC 2.0 object).
    fn remaining_stdout(&mut self) -> Vec<Value> {
        let mut out = std::mem::take(&mut self.pending);
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Some(message) = self.next_message(deadline) {
            out.push(message);
        }
        out
    }

    /// After exit: the whole of stderr.
    fn final_stderr(&mut self) -> String {
        // The stdin writer ends once its channel is closed.
        self.input = None;
        // Bounded: a reader that does not see end-of-file in time is left behind, never waited on
        // forever (the test then fails on what was collected).
        let deadline = Instant::now() + Duration::from_secs(5);
        for thread in self.threads.drain(..) {
            while !thread.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(10));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
        self.stderr()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.input = None;
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn parse_stdout_line(line: &str) -> Value {
    let message: Value = serde_json::from_str(line.trim_end_matches(['\n', '\r']))
        .unwrap_or_else(|e| panic!("stdout carried a line that is not JSON ({e}): {line:?}"));
    assert!(message.is_object(), "stdout line is not an object: {line}");
    assert_eq!(
        message["jsonrpc"], "2.0",
        "stdout line is not JSON-RPC 2.0: {line}"
    );
    message
}

/// `params` with the 2026-07-28 `_meta` that makes a request self-describing.
fn modern(mut params: Value) -> Value {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    params
}

fn error_code(response: &Value) -> Option<i64> {
    response.pointer("/error/code").and_then(Value::as_i64)
}

fn tool_text(result: &Value) -> String {
    result["content"]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// The peak resident set size of a process, in kB (`VmHWM` in /proc/<pid>/status).
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc status")
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[test]
fn a_line_that_is_not_json_gets_a_parse_error_and_serving_continues() {
    let sim = Sim::start();
    let dir = TempDir::new();
    let mut server = Server::spawn_for(&sim, &dir, "admin", "");
    server.initialize();

    server.write_raw(b"this is not json {\n".to_vec());
    let parse = server.response(&Value::Null);
    assert_eq!(error_code(&parse), Some(-32700), "{parse}");
    server.ping(1);

    // Bytes that are not UTF-8 are a parse error too, not a crash.
    server.write_raw(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"\xff\xfe\"}\n".to_vec());
    let parse = server.response(&Value::Null);
    assert_eq!(error_code(&parse), Some(-32700), "{parse}");
    server.ping(3);

    server.close_stdin();
    let status = server.wait_exit(Duration::from_secs(5));
    assert_eq!(status.map(|s| s.code()), Some(Some(0)));
}

#[test]
fn params_of_the_wrong_type_get_an_invalid_params_answer_with_the_id() {
    let sim = Sim::start();
    let dir = TempDir::new();
    let mut server = Server::spawn_for(&sim, &dir, "admin", "");
    server.initialize();

    let array = server.request(json!(10), "tools/list", json!([1, 2]));
    assert_eq!(error_code(&array), Some(-32602), "{array}");
    let string = server.request(json!("eleven"), "tools/call", json!("search_records"));
    assert_eq!(error_code(&string), Some(-32602), "{string}");

    let arguments = server.request(
        json!(12),
        "tools/call",
        json!({"name": "search_records", "arguments": "{\"model\": \"res.partner\"}"}),
    );
    assert_eq!(error_code(&arguments), Some(-32602), "{arguments}");
    assert!(
        arguments["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("arguments")),
        "{arguments}"
    );

    // The same in a 2026-07-28 request.
    let modern_args = server.request(
        json!(13),
        "tools/call",
        modern(json!({"name": "count_records", "arguments": "res.partner"})),
    );
    assert_eq!(error_code(&modern_args), Some(-32602), "{modern_args}");
    server.ping(14);
}

#[test]
fn requests_written_right_after_spawn_are_all_answered() {
    let sim = Sim::start();
    let dir = TempDir::new();
    let mut server = Server::spawn_for(&sim, &dir, "admin", "");

    // Twenty requests in one write, before anything is read: numbers and strings as ids.
    let ids: Vec<Value> = (1..=20u64)
        .map(|n| {
            if n % 2 == 0 {
                json!(n)
            } else {
                json!(format!("req-{n}"))
            }
        })
        .collect();
    let mut burst = Vec::new();
    for id in &ids {
        let message = json!({
            "jsonrpc": "2.0", "id": id, "method": "tools/list", "params": modern(json!({})),
        });
        serde_json::to_writer(&mut burst, &message).expect("serializes");
        burst.push(b'\n');
    }
    server.write_raw(burst);

    for id in &ids {
        let response = server.response(id);
        let tools = response
            .pointer("/result/tools")
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("no tool list for {id}: {response}"));
        assert!(
            tools.iter().any(|t| t["name"] == "search_records"),
            "{response}"
        );
    }
    // Exactly twenty answers: nothing else, no duplicate.
    assert!(
        server
            .try_response_within(&ids[0], Duration::from_millis(300))
            .is_none()
    );
    assert!(server.pending.is_empty(), "{:?}", server.pending);
}

#[test]
fn closing_stdin_with_nothing_in_flight_exits_promptly_with_status_zero() {
    let sim = Sim::start();
    let dir = TempDir::new();
    let mut server = Server::spawn_for(&sim, &dir, "admin", "");
    server.initialize();
    server.ping(1);

    let closed = Instant::now();
    server.close_stdin();
    let status = server.wait_exit(Duration::from_secs(3));
    assert!(
        status.is_some(),
        "still running 3 s after stdin closed; stderr: {}",
        server.stderr()
    );
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    assert!(closed.elapsed() < Duration::from_secs(3));
    assert!(server.remaining_stdout().is_empty());
}

#[test]
fn closing_stdin_answers_what_is_in_flight_then_exits_with_status_zero() {
    let sim = Sim::start();
    let dir = TempDir::new();
    let mut server = Server::spawn_for(&sim, &dir, "admin", "");
    server.initialize();
    // Warm: authentication and field metadata, so the next call is one slow round trip.
    let warm = server.call_tool(1, "count_records", json!({"model": "res.partner"}));
    assert_eq!(warm["isError"], false, "{warm}");

    sim.handle.set_latency(Duration::from_millis(800));
    server.send(&json!({
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "count_records", "arguments": {"model": "res.partner"}},
    }));
    let closed = Instant::now();
    server.close_stdin();

    let status = server.wait_exit(Duration::from_secs(3));
    assert!(
        status.is_some(),
        "still running 3 s after stdin closed; stderr: {}",
        server.stderr()
    );
    let exited_after = closed.elapsed();
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    // The call in flight was answered, in full, before the exit.
    let answered = server.remaining_stdout();
    let answer = answered
        .iter()
        .find(|m| m["id"] == 2)
        .unwrap_or_else(|| panic!("the call in flight was not answered: {answered:?}"));
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    assert_eq!(
        answer["result"]["structuredContent"]["count"],
        warm["structuredContent"]["count"]
    );
    assert!(
        exited_after >= Duration::from_millis(700),
        "exited before the slow call could finish"
    );
}

#[test]
fn a_ten_megabyte_line_is_refused_early_without_memory_growth_or_odoo_traffic() {
    let sim = Sim::start();
    let dir = TempDir::new();
    let mut server = Server::spawn_for(&sim, &dir, "admin", "");
    server.initialize();
    let listed = server.result(json!(1), "tools/list", json!({}));
    assert!(listed["tools"].is_array());
    // A message just under the limit is read whole (and refused by the domain parser, not by
    // the size limit), so the reader's buffer is at its largest before the baseline is taken.
    let near_limit = "x".repeat(DEFAULT_MAX_MESSAGE_BYTES - 4096);
    let near = server.request(
        json!(2),
        "tools/call",
        json!({"name": "search_records", "arguments": {"model": near_limit}}),
    );
    assert!(near.get("result").is_some(), "{near}");
    let baseline_kb = peak_rss_kb(server.pid());
    let odoo_requests = sim.handle.request_count();

    // A valid request that would reach Odoo if it were read: 10 MB in its domain string.
    let filler = "a".repeat(10 * 1024 * 1024);
    let mut huge = serde_json::to_vec(&json!({
        "jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": modern(json!({
            "name": "search_records",
            "arguments": {"model": "res.partner", "domain": format!("[('name', '=', '{filler}')]")},
        })),
    }))
    .expect("serializes");
    drop(filler);
    assert!(huge.len() > 10 * 1024 * 1024);
    huge.push(b'\n');
    server.write_raw(huge);
    server.ping(4);

    let refused = server.response(&Value::Null);
    assert_eq!(error_code(&refused), Some(-32600), "{refused}");
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&DEFAULT_MAX_MESSAGE_BYTES.to_string()),
        "the error does not name the limit: {message}"
    );
    assert!(
        server
            .try_response_within(&json!(3), Duration::from_millis(300))
            .is_none(),
        "the oversized request was served"
    );

    let growth_kb = peak_rss_kb(server.pid()).saturating_sub(baseline_kb);
    assert!(
        growth_kb < 4 * 1024,
        "peak memory grew by {growth_kb} kB reading a 10 MB line"
    );
    assert_eq!(
        sim.handle.request_count(),
        odoo_requests,
        "Odoo was called for a refused message"
    );
}

#[test]
fn a_huge_limit_is_clamped_to_the_maximum_and_the_result_says_so() {
    let sim = Sim::start();
    let dir = TempDir::new();
    let mut server = Server::spawn_for(&sim, &dir, "admin", "");
    server.initialize();
    let result = server.call_tool(
        1,
        "search_records",
        json!({"model": "res.partner", "fields": ["name"], "limit": 100_000}),
    );
    assert_eq!(result["isError"], false, "{result}");
    let structured = &result["structuredContent"];
    assert_eq!(structured["limit"], 500, "{structured}");
    let notes = structured["notes"].to_string();
    assert!(
        notes.contains("100000") && notes.contains("500"),
        "no note about the reduced limit: {structured}"
    );

    // A configured maximum is the one applied.
    let mut lower = Server::spawn_for(
        &sim,
        &dir,
        "admin",
        "[tools]\nmax_limit = 7\ndefault_limit = 5\n",
    );
    lower.initialize();
    let result = lower.call_tool(
        1,
        "search_records",
        json!({"model": "res.partner", "fields": ["name"], "limit": 100_000}),
    );
    assert_eq!(result["structuredContent"]["limit"], 7, "{result}");
    assert_eq!(
        result["structuredContent"]["records"]
            .as_array()
            .map(Vec::len),
        Some(7)
    );
}

#[test]
fn an_odoo_that_never_answers_gives_a_timeout_tool_error_at_the_configured_limit() {
    let sim = Sim::start();
    let dir = TempDir::new();
    let mut server = Server::spawn_for(&sim, &dir, "admin", "");
    server.initialize();
    let warm = server.call_tool(1, "count_records", json!({"model": "res.partner"}));
    assert_eq!(warm["isError"], false, "{warm}");

    sim.handle.set_fault(Fault::Delay(Duration::from_secs(60)));
    let started = Instant::now();
    let result = server.call_tool(2, "count_records", json!({"model": "res.partner"}));
    let took = started.elapsed();
    assert_eq!(result["isError"], true, "{result}");
    assert_eq!(
        result["_meta"]["io.github.odoo-warden/error"]["kind"], "timeout",
        "{result}"
    );
    let text = tool_text(&result);
    assert!(
        text.contains("2000 ms"),
        "the message does not say the limit: {text}"
    );
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(5),
        "answered after {took:?}, the timeout is 2 s"
    );
    // Still serving.
    sim.handle.set_fault(Fault::None);
    let again = server.call_tool(3, "count_records", json!({"model": "res.partner"}));
    assert_eq!(again["isError"], false, "{again}");
}

#[test]
fn an_odoo_access_error_is_a_tool_error() {
    let sim = Sim::start();
    let dir = TempDir::new();
    let mut server = Server::spawn_for(&sim, &dir, "readonly_bot", "");
    server.initialize();
    let result = server.call_tool(1, "count_records", json!({"model": "ir.config_parameter"}));
    assert_eq!(result["isError"], true, "{result}");
    assert_eq!(
        result["_meta"]["io.github.odoo-warden/error"]["kind"], "access_error",
        "{result}"
    );
    let text = tool_text(&result);
    assert!(text.contains("ir.config_parameter"), "{text}");
    for leak in ["Traceback", ".py\"", "/usr/lib", &sim.key("readonly_bot")] {
        assert!(!text.contains(leak), "the message leaks {leak:?}: {text}");
    }
    // The same user may count what it can see.
    let allowed = server.call_tool(2, "count_records", json!({"model": "res.users"}));
    assert_eq!(allowed["isError"], false, "{allowed}");
}

#[test]
fn a_search_costs_one_odoo_round_trip_once_metadata_is_cached() {
    let sim = Sim::start();
    let dir = TempDir::new();
    let mut server = Server::spawn_for(&sim, &dir, "admin", "");
    server.initialize();
    let arguments = json!({
        "model": "res.partner",
        "domain": "[('is_company', '=', True)]",
        "fields": ["name", "email"],
        "order": "name asc",
        "limit": 20,
    });
    let warm = server.call_tool(1, "search_records", arguments.clone());
    assert_eq!(warm["isError"], false, "{warm}");

    let before = sim.handle.request_count();
    let second = server.call_tool(2, "search_records", arguments);
    let after = sim.handle.request_count();
    assert_eq!(second["isError"], false, "{second}");
    assert_eq!(second["structuredContent"], warm["structuredContent"]);
    assert_eq!(
        after - before,
        1,
        "one search cost {} Odoo requests",
        after - before
    );
}

#[test]
fn a_configuration_with_an_unknown_key_exits_64_naming_it() {
    let dir = TempDir::new();
    let agent = dir.config("http://127.0.0.1:9", "admin", "[tools]\nwrtie = true\n");
    let mut server = Server::spawn(
        &agent.config,
        &[
            ("ODOO_API_KEY", "0123456789abcdef"),
            ("WARDEN_KEY", &agent.secret),
        ],
    );
    let status = server.wait_exit(Duration::from_secs(5));
    assert_eq!(status.and_then(|s| s.code()), Some(64));
    let stderr = server.final_stderr();
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr:?}");
    assert!(stderr.contains("wrtie"), "{stderr:?}");
    assert!(server.remaining_stdout().is_empty());
}

#[test]
fn a_configuration_whose_secret_is_missing_exits_64_naming_the_variable() {
    let dir = TempDir::new();
    let agent = dir.config("http://127.0.0.1:9", "admin", "");
    let mut server = Server::spawn(&agent.config, &[("WARDEN_KEY", &agent.secret)]);
    let status = server.wait_exit(Duration::from_secs(5));
    assert_eq!(status.and_then(|s| s.code()), Some(64));
    let stderr = server.final_stderr();
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr:?}");
    assert!(
        stderr.contains("api_key_env") && stderr.contains("ODOO_API_KEY"),
        "{stderr:?}"
    );
    assert!(server.remaining_stdout().is_empty());
}

#[test]
fn requests_must_name_a_protocol_and_batches_are_refused() {
    let sim = Sim::start();
    let dir = TempDir::new();
    let mut server = Server::spawn_for(&sim, &dir, "admin", "");

    // No initialize and no modern _meta: refused, and nothing reaches Odoo.
    let odoo_requests = sim.handle.request_count();
    let bare = server.request(
        json!(1),
        "tools/call",
        json!({"name": "count_records", "arguments": {"model": "res.partner"}}),
    );
    assert_eq!(error_code(&bare), Some(-32600), "{bare}");
    assert_eq!(sim.handle.request_count(), odoo_requests);

    // The same request naming the 2026-07-28 revision is served.
    let served = server.result(
        json!(2),
        "tools/call",
        modern(json!({"name": "count_records", "arguments": {"model": "res.partner"}})),
    );
    assert_eq!(served["isError"], false, "{served}");
    assert!(
        served["structuredContent"]["count"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );

    // A revision nobody knows.
    let future = server.request(
        json!(3),
        "tools/list",
        json!({"_meta": {
            "io.modelcontextprotocol/protocolVersion": "2099-01-01",
            "io.modelcontextprotocol/clientCapabilities": {},
        }}),
    );
    assert_eq!(error_code(&future), Some(-32022), "{future}");
    let supported = future
        .pointer("/error/data/supported")
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no supported versions in {future}"));
    assert!(supported.contains(&json!(MODERN)), "{future}");

    // A batch is refused as a whole; none of its requests is served.
    let batch = json!([
        {"jsonrpc": "2.0", "id": 4, "method": "tools/list", "params": modern(json!({}))},
        {"jsonrpc": "2.0", "id": 5, "method": "tools/list", "params": modern(json!({}))},
    ]);
    server.send(&batch);
    let refused = server.response(&Value::Null);
    assert_eq!(error_code(&refused), Some(-32600), "{refused}");
    let after = server.result(json!(6), "tools/list", modern(json!({})));
    assert!(after["tools"].is_array());
    for id in [4, 5] {
        assert!(
            server
                .try_response_within(&json!(id), Duration::from_millis(200))
                .is_none(),
            "a request inside a batch was served"
        );
    }
}

#[test]
fn a_cancelled_call_is_never_answered_and_serving_continues() {
    let sim = Sim::start();
    let dir = TempDir::new();
    let mut server = Server::spawn_for(&sim, &dir, "admin", "");
    server.initialize();
    let warm = server.call_tool(1, "count_records", json!({"model": "res.partner"}));
    assert_eq!(warm["isError"], false, "{warm}");

    let latency = Duration::from_millis(1500);
    sim.handle.set_latency(latency);
    let slow_call = |id: u64, token: &str| {
        json!({
            "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {
                "name": "count_records",
                "arguments": {"model": "res.partner"},
                "_meta": {"progressToken": token},
            },
        })
    };

    // The call is in flight once its first progress notification arrives.
    server.send(&slow_call(7, "p7"));
    let deadline = Instant::now() + WAIT;
    loop {
        let message = server
            .next_message(deadline)
            .expect("a progress notification for the slow call");
        if message["method"] == "notifications/progress" {
            assert_eq!(message["params"]["progressToken"], "p7");
            break;
        }
        server.pending.push(message);
    }
    server.send(&json!({
        "jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": 7, "reason": "the user moved on"},
    }));
    let pinged = Instant::now();
    server.ping(8);
    assert!(pinged.elapsed() < latency, "ping waited for the slow call");

    // Well past the time the call would have been answered: nothing for id 7.
    assert!(
        server
            .try_response_within(&json!(7), latency + Duration::from_millis(1500))
            .is_none(),
        "the cancelled call was answered"
    );

    // Without the cancellation the same call is answered within that time.
    server.send(&slow_call(9, "p9"));
    let answered = server
        .try_response_within(&json!(9), latency + Duration::from_millis(1500))
        .expect("an uncancelled slow call is answered");
    assert_eq!(answered["result"]["isError"], false, "{answered}");
}

#[test]
fn stdout_carries_only_json_rpc_even_with_trace_logging() {
    let sim = Sim::start();
    let dir = TempDir::new();
    let agent = dir.config(&sim.handle.url(), "admin", "");
    let key = sim.key("admin");
    let mut server = Server::spawn(
        &agent.config,
        &[
            ("ODOO_API_KEY", key.as_str()),
            ("WARDEN_KEY", &agent.secret),
            ("RUST_LOG", "trace"),
        ],
    );
    server.initialize();
    server.ping(1);
    let _ = server.result(json!(2), "tools/list", json!({}));
    let found = server.call_tool(
        3,
        "search_records",
        json!({"model": "res.partner", "limit": 5}),
    );
    assert_eq!(found["isError"], false, "{found}");
    let failed = server.call_tool(
        4,
        "count_records",
        json!({"model": "res.partner", "domain": "[('no_such_field', '=', 1)]"}),
    );
    assert_eq!(failed["isError"], true, "{failed}");
    server.write_raw(b"not json\n".to_vec());
    let _ = server.response(&Value::Null);
    server.close_stdin();
    let status = server.wait_exit(Duration::from_secs(5));
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    // Every line was checked as it was read (parse_stdout_line); the rest are checked here.
    let _ = server.remaining_stdout();
    let stderr = server.final_stderr();
    assert!(
        stderr.contains("TRACE") || stderr.contains("DEBUG"),
        "the trace logs went nowhere: stderr is {} bytes",
        stderr.len()
    );
    assert!(!stderr.contains(&key), "stderr logs the Odoo api key");
    assert!(!stderr.contains(&agent.secret), "stderr logs WARDEN_KEY");
}

// ---------------------------------------------------------------------------------------------
// The key (WARDEN_KEY) and reloading.

/// The process exits by itself within a few seconds: its status and its whole stderr.
fn exit_and_stderr(server: &mut Server) -> (Option<i32>, String) {
    let status = server.wait_exit(Duration::from_secs(5));
    let stderr = server.final_stderr();
    assert!(
        server.remaining_stdout().is_empty(),
        "wrote on stdout before serving"
    );
    (status.and_then(|s| s.code()), stderr)
}

#[test]
fn without_warden_key_it_exits_77_and_says_how_to_get_one() {
    let sim = Sim::start();
    let dir = TempDir::new();
    let agent = dir.config(&sim.handle.url(), "admin", "");
    let odoo_key = sim.key("admin");
    for env in [
        vec![("ODOO_API_KEY", odoo_key.as_str())],
        vec![("ODOO_API_KEY", odoo_key.as_str()), ("WARDEN_KEY", "")],
    ] {
        let mut server = Server::spawn(&agent.config, &env);
        let (code, stderr) = exit_and_stderr(&mut server);
        assert_eq!(code, Some(77), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr:?}");
        assert!(
            stderr.contains("WARDEN_KEY is not set") && stderr.contains("odoo-warden keys create"),
            "{stderr:?}"
        );
    }
    assert_eq!(sim.handle.request_count(), 0, "Odoo was called");
}

#[test]
fn an_unknown_or_malformed_key_exits_77_without_echoing_it() {
    let sim = Sim::start();
    let dir = TempDir::new();
    let agent = dir.config(&sim.handle.url(), "admin", "");
    // Shaped like a key, and even carrying the real key's id, but not its secret.
    let mut other = KeyStoreFile::default();
    let (_, unknown) =
        warden_policy::keys::create(&mut other, "other", "agent", None, SystemTime::now())
            .expect("a key is created");
    let same_id = format!(
        "{}{}",
        &agent.secret[..agent.secret.len() - 4],
        if agent.secret.ends_with("AAAA") {
            "BBBB"
        } else {
            "AAAA"
        }
    );
    let odoo_key = sim.key("admin");
    for wrong in [
        unknown.as_str(),
        same_id.as_str(),
        "not-a-key-at-all-5f3a9c",
    ] {
        let mut server = Server::spawn(
            &agent.config,
            &[("ODOO_API_KEY", odoo_key.as_str()), ("WARDEN_KEY", wrong)],
        );
        let (code, stderr) = exit_and_stderr(&mut server);
        assert_eq!(code, Some(77), "{stderr}");
        // The configuration's risky settings are named at start (an admin identity, a key
        // without expiry); beyond them the refusal is one line.
        let refusal: Vec<&str> = stderr
            .lines()
            .filter(|line| !line.contains("risky setting: "))
            .collect();
        assert_eq!(refusal.len(), 1, "{stderr:?}");
        assert!(
            stderr.contains(
                "WARDEN_KEY is not a valid key (unknown, expired, not yet valid or revoked)"
            ),
            "{stderr:?}"
        );
        assert!(!stderr.contains(wrong), "stderr echoes the key: {stderr:?}");
    }
}

#[test]
fn a_revoked_key_exits_77() {
    let sim = Sim::start();
    let dir = TempDir::new();
    let mut agent = dir.config(&sim.handle.url(), "admin", "");
    agent.revoke();
    let odoo_key = sim.key("admin");
    let mut server = Server::spawn(
        &agent.config,
        &[
            ("ODOO_API_KEY", odoo_key.as_str()),
            ("WARDEN_KEY", &agent.secret),
        ],
    );
    let (code, stderr) = exit_and_stderr(&mut server);
    assert_eq!(code, Some(77), "{stderr}");
    assert!(stderr.contains("not a valid key"), "{stderr:?}");
    assert!(!stderr.contains(&agent.secret), "{stderr:?}");
}

#[test]
fn a_key_whose_ip_rules_exclude_stdio_exits_77_saying_so() {
    let sim = Sim::start();
    let dir = TempDir::new();
    let mut server =
        Server::spawn_for(&sim, &dir, "admin", "[network]\nallow = [\"10.0.0.0/8\"]\n");
    let (code, stderr) = exit_and_stderr(&mut server);
    assert_eq!(code, Some(77), "{stderr}");
    assert!(stderr.contains("may not be used over stdio"), "{stderr:?}");
}

#[test]
fn sighup_reloads_and_a_revoked_key_is_refused_from_the_next_request_on() {
    let sim = Sim::start();
    let dir = TempDir::new();
    let (mut server, mut agent) = Server::spawn_agent(&sim, &dir, "admin", "");
    server.initialize();
    let before = server.call_tool(1, "count_records", json!({"model": "res.partner"}));
    assert_eq!(before["isError"], false, "{before}");

    // Without a change: the reload is logged (by default), and serving goes on.
    server.hangup();
    assert!(
        server.wait_stderr("configuration reloaded (SIGHUP)", Duration::from_secs(10)),
        "no reload logged: {}",
        server.stderr()
    );
    let stderr = server.stderr();
    assert!(
        stderr.contains(&agent.config.display().to_string())
            && stderr.contains(&agent.keys.display().to_string()),
        "the reload line does not name the files: {stderr}"
    );
    server.ping(2);

    agent.revoke();
    server.hangup();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut id = 10;
    let refused = loop {
        id += 1;
        let response = server.request(
            json!(id),
            "tools/call",
            json!({"name": "count_records", "arguments": {"model": "res.partner"}}),
        );
        if response.get("error").is_some() || Instant::now() >= deadline {
            break response;
        }
        thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(error_code(&refused), Some(-32003), "{refused}");
    // Still up, and answering (with the refusal) whatever is asked.
    assert!(
        matches!(server.child.try_wait(), Ok(None)),
        "the process exited"
    );
    let ping = server.request(json!(100), "ping", json!({}));
    assert_eq!(error_code(&ping), Some(-32003), "{ping}");
    assert!(!server.stderr().contains(&agent.secret));
}

#[test]
fn a_broken_configuration_on_reload_is_refused_and_the_old_one_keeps_serving() {
    let sim = Sim::start();
    let dir = TempDir::new();
    let (mut server, agent) = Server::spawn_agent(&sim, &dir, "admin", "");
    server.initialize();
    let before = server.call_tool(1, "count_records", json!({"model": "res.partner"}));
    assert_eq!(before["isError"], false, "{before}");

    let text = std::fs::read_to_string(&agent.config).expect("the configuration is read");
    write_atomically(&agent.config, &format!("{text}\n[tools]\nwirte = true\n"));
    server.hangup();
    assert!(
        server.wait_stderr("refused", Duration::from_secs(10)),
        "no error logged: {}",
        server.stderr()
    );
    let stderr = server.stderr();
    let line = stderr
        .lines()
        .find(|l| l.contains("refused"))
        .unwrap_or_default();
    assert!(
        line.contains("ERROR") && line.contains("wirte"),
        "the error line does not name the key: {line}"
    );

    let after = server.call_tool(2, "count_records", json!({"model": "res.partner"}));
    assert_eq!(after["isError"], false, "{after}");
    assert_eq!(
        after["structuredContent"]["count"],
        before["structuredContent"]["count"]
    );
}

#[test]
fn a_changed_key_store_is_reloaded_without_a_signal() {
    let sim = Sim::start();
    let dir = TempDir::new();
    let (mut server, mut agent) = Server::spawn_agent(&sim, &dir, "admin", "");
    server.initialize();
    server.ping(1);

    agent.revoke();
    // Polled, bounded: the watcher sees the change and reloads after its debounce.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut id = 1;
    let refused = loop {
        id += 1;
        let response = server.request(json!(id), "ping", json!({}));
        if response.get("error").is_some() || Instant::now() >= deadline {
            break response;
        }
        thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(error_code(&refused), Some(-32003), "{refused}");
    assert!(
        server
            .stderr()
            .contains("configuration reloaded (file change)"),
        "{}",
        server.stderr()
    );
    assert!(
        matches!(server.child.try_wait(), Ok(None)),
        "the process exited"
    );
}

// ---------------------------------------------------------------------------------------------
// The audit log.

/// The events of the audit folder `dir` (chain records left out), after checking its chains.
fn audit_events(dir: &Path) -> (Vec<Value>, warden_audit::verify::Report) {
    let report =
        warden_audit::verify::verify_dir(dir, &warden_audit::verify::VerifyOptions::default())
            .expect("the audit folder can be read");
    let mut events = Vec::new();
    for entry in std::fs::read_dir(dir).expect("the audit folder exists") {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            let text = std::fs::read_to_string(&path).expect("an audit file");
            for line in text.lines() {
                if let Ok(value) = serde_json::from_str::<Value>(line)
                    && value["kind"] != "chain"
                {
                    events.push(value);
                }
            }
        }
    }
    (events, report)
}

#[test]
fn tool_calls_and_denials_through_the_binary_are_in_the_audit_log() {
    let sim = Sim::start();
    let dir = TempDir::new();
    let extra = "[profiles.agent.model.\"hr.employee\"]\noperations = { deny = [\"read\"] }\n\n\
                 [audit]\ndir = \"audit-calls\"\n";
    let mut server = Server::spawn_for(&sim, &dir, "admin", extra);
    server.initialize();
    let found = server.call_tool(
        1,
        "search_records",
        json!({"model": "res.partner", "fields": ["name"], "limit": 2}),
    );
    assert_eq!(found["isError"], json!(false), "{found}");
    let denied = server.call_tool(2, "search_records", json!({"model": "hr.employee"}));
    assert_eq!(denied["isError"], json!(true), "{denied}");
    let modern_count = server.result(
        json!(3),
        "tools/call",
        modern(json!({"name": "count_records", "arguments": {"model": "res.country"}})),
    );
    assert_eq!(modern_count["isError"], json!(false), "{modern_count}");
    server.close_stdin();
    assert_eq!(
        server.wait_exit(Duration::from_secs(10)).map(|s| s.code()),
        Some(Some(0))
    );

    let (events, report) = audit_events(&dir.0.join("audit-calls"));
    assert!(report.ok(), "{report:?}");
    assert!(
        report.streams[0].warnings.is_empty(),
        "the files were closed at exit: {report:?}"
    );
    let by_id = |id: &str| {
        events
            .iter()
            .find(|e| e["request_id"] == id)
            .unwrap_or_else(|| panic!("no event for request {id}: {events:#?}"))
    };
    let init = by_id("\"init\"");
    assert_eq!(init["method"], "initialize");
    assert_eq!(init["protocol"], LEGACY);
    let search = by_id("1");
    assert_eq!(search["tool"], "search_records");
    assert_eq!(search["model"], "res.partner");
    assert_eq!(search["decision"]["verdict"], "allow");
    assert_eq!(search["odoo_user"], "admin");
    assert_eq!(search["transport"], "stdio");
    assert_eq!(search["result_count"], 2);
    assert!(
        search["latency"]["odoo_ms"]
            .as_f64()
            .is_some_and(|ms| ms > 0.0),
        "{search}"
    );
    let denial = by_id("2");
    assert_eq!(denial["decision"]["verdict"], "deny", "{denial}");
    assert!(
        denial["decision"]["rule"]
            .as_str()
            .is_some_and(|r| r.contains("hr.employee")),
        "{denial}"
    );
    assert_eq!(denial["outcome"]["error"], "forbidden");
    let count = by_id("3");
    assert_eq!(count["protocol"], MODERN);
    assert_eq!(count["model"], "res.country");
}

#[test]
fn an_unwritable_audit_folder_stops_the_process_with_status_64() {
    let sim = Sim::start();
    let dir = TempDir::new();
    std::fs::write(dir.0.join("not-a-folder"), "x").expect("a file");
    let extra = "[audit]\ndir = \"not-a-folder\"\n";
    let mut server = Server::spawn_for(&sim, &dir, "admin", extra);
    let (code, stderr) = exit_and_stderr(&mut server);
    assert_eq!(code, Some(64), "{stderr}");
    assert!(stderr.contains("audit.dir"), "{stderr}");
}

/// SIGKILL mid-stream: with fsync on every event (the default), every request that was answered
/// has its event on disk, and the chain verifies (a torn last line is only a warning).
#[test]
fn a_process_killed_mid_stream_loses_no_event_of_an_answered_request() {
    let sim = Sim::start();
    let dir = TempDir::new();
    let extra = "[audit]\ndir = \"audit-crash\"\ndurability = \"every_event\"\n";
    let mut server = Server::spawn_for(&sim, &dir, "admin", extra);
    server.initialize();
    const SENT: u64 = 400;
    for id in 0..SENT {
        server.send(&json!({"jsonrpc": "2.0", "id": id, "method": "ping"}));
    }
    // Kill once part of the stream is answered, while the rest is still being served.
    let mut answered = std::collections::BTreeSet::new();
    let deadline = Instant::now() + WAIT;
    while answered.len() < 50 {
        let message = server
            .next_message(deadline)
            .expect("answers keep coming before the kill");
        if let Some(id) = message.get("id").and_then(Value::as_u64) {
            answered.insert(id);
        }
    }
    let killed = Command::new("kill")
        .arg("-KILL")
        .arg(server.pid().to_string())
        .status()
        .expect("kill runs");
    assert!(killed.success());
    server.wait_exit(Duration::from_secs(10)).expect("killed");
    // What the process wrote before dying was answered too.
    for message in server.remaining_stdout() {
        if let Some(id) = message.get("id").and_then(Value::as_u64) {
            answered.insert(id);
        }
    }
    assert!(
        (answered.len() as u64) < SENT,
        "the kill came mid-stream ({} of {SENT} answered)",
        answered.len()
    );
    let (events, report) = audit_events(&dir.0.join("audit-crash"));
    assert!(report.ok(), "the chain verifies after a crash: {report:?}");
    let recorded: std::collections::BTreeSet<u64> = events
        .iter()
        .filter_map(|e| e["request_id"].as_str().and_then(|id| id.parse().ok()))
        .collect();
    let lost: Vec<u64> = answered.difference(&recorded).copied().collect();
    assert!(
        lost.is_empty(),
        "answered but not recorded: {lost:?} ({} answered, {} recorded)",
        answered.len(),
        recorded.len()
    );
}
