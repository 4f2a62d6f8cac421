//! Process-level tests of `odoo-warden-http`: the real binary with a configuration in a
//! temporary folder, against the simulator on 127.0.0.1: it announces its address, serves, and
//! stops cleanly on SIGTERM; it refuses to start where it would be exposed unsafely, and when it
//! cannot listen; two processes with one `[cluster]` section share a key's budget on a real
//! `redis-server`. Every wait is bounded.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use warden_policy::config::KeyStoreFile;

const BIN: &str = env!("CARGO_BIN_EXE_odoo-warden-http");

struct Folder(PathBuf);

impl Folder {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "odoo-warden-http-test-{name}-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or_default()
        ));
        std::fs::create_dir_all(&path).expect("folder");
        Self(path)
    }

    /// A configuration with `http` as its `[http]` section and `keys` keys: its path and the
    /// secrets.
    fn config(&self, odoo_url: &str, http: &str, keys: usize) -> (PathBuf, Vec<String>) {
        let mut store = KeyStoreFile::default();
        let mut secrets = Vec::new();
        for n in 0..keys {
            let (_, secret) = warden_policy::keys::create(
                &mut store,
                &format!("agent-{n}"),
                "agent",
                None,
                SystemTime::now(),
            )
            .expect("key");
            secrets.push(secret);
        }
        std::fs::write(self.0.join("keys.toml"), store.to_toml()).expect("keys");
        let path = self.0.join("warden.toml");
        std::fs::write(
            &path,
            format!(
                "[odoo]\nurl = \"{odoo_url}\"\ndatabase = \"odoo\"\n\n\
                 [odoo.identities.main]\nlogin = \"admin\"\napi_key_env = \"ODOO_API_KEY\"\n\n\
                 [keys]\nfile = \"keys.toml\"\n\n\
                 [profiles.agent]\nidentity = \"main\"\nmodels = {{ allow = [\"res.partner\"] }}\n\
                 operations = {{ allow = [\"read\"] }}\n\n[http]\n{http}\n"
            ),
        )
        .expect("config");
        (path, secrets)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn spawn(config: &Path, odoo_key: &str) -> Child {
    Command::new(BIN)
        .arg("--config")
        .arg(config)
        .env_clear()
        .env("ODOO_API_KEY", odoo_key)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("odoo-warden-http starts")
}

/// The exit status and stderr of a process that must stop by itself within 20 s.
fn finish(mut child: Child) -> (Option<i32>, String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().expect("poll") {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            return (status.code(), stderr);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the process did not exit in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sim() -> (tokio::runtime::Runtime, warden_odoo_sim::SimHandle) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let handle = runtime
        .block_on(warden_odoo_sim::start(
            "127.0.0.1:0".parse().expect("addr"),
            warden_odoo_sim::SimOptions::default(),
        ))
        .expect("sim");
    (runtime, handle)
}

/// A raw HTTP/1.1 GET on loopback: the status line.
fn get(addr: &str, path: &str) -> String {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.lines().next().unwrap_or_default().to_owned()
}

#[test]
fn it_announces_serves_and_stops_cleanly_on_sigterm() {
    let (_runtime, sim) = sim();
    let folder = Folder::new("serve");
    let (config, _) = folder.config(&sim.url(), "bind = \"127.0.0.1:0\"", 1);
    let mut child = spawn(&config, &sim.api_key("admin").expect("key"));
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("an announcement");
    let url = line
        .strip_prefix("odoo-warden-http listening on http://")
        .unwrap_or_else(|| panic!("{line}"));
    let addr = url.strip_suffix("/mcp").expect("the endpoint").to_owned();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert_eq!(get(&addr, "/healthz"), "HTTP/1.1 200 OK");
    assert_eq!(get(&addr, "/mcp"), "HTTP/1.1 401 Unauthorized");
    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(killed.success());
    let (code, stderr) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");
    // The audit files were closed.
    let audit = folder.0.join("audit");
    let report = warden_audit::verify::verify_dir(&audit, &Default::default()).expect("verify");
    assert!(report.ok(), "{report:?}");
    assert!(report.streams[0].warnings.is_empty(), "{report:?}");
}

/// Serve `config` until it announces its address, then SIGTERM it: its exit status and stderr.
fn serve_then_stop(config: &Path, odoo_key: &str) -> (Option<i32>, String) {
    let mut child = spawn(config, odoo_key);
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(20));
    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(killed.success());
    let (code, stderr) = finish(child);
    assert!(line.is_ok(), "no announcement: {stderr}");
    (code, stderr)
}

#[test]
fn it_warns_at_start_about_the_settings_config_check_flags() {
    let (_runtime, sim) = sim();
    let key = sim.api_key("admin").expect("key");
    let folder = Folder::new("risky");
    let (config, _) = folder.config(
        &sim.url(),
        "bind = \"127.0.0.1:0\"\ntrusted_proxies = [\"0.0.0.0/0\"]\n\
         allowed_origins = [\"http://app.example.com\"]",
        1,
    );
    let (code, stderr) = serve_then_stop(&config, &key);
    assert_eq!(code, Some(0), "{stderr}");
    let risky: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("WARN") && line.contains("risky setting"))
        .collect();
    for flagged in [
        "http.trusted_proxies contains 0.0.0.0/0",
        "http.allowed_origins contains http://app.example.com",
        "is an Odoo administrator",
    ] {
        assert!(
            risky.iter().any(|line| line.contains(flagged)),
            "{flagged} not warned: {stderr}"
        );
    }
    // Positive control of the filter: a configuration without these settings warns of neither.
    let folder = Folder::new("plain");
    let (config, _) = folder.config(&sim.url(), "bind = \"127.0.0.1:0\"", 1);
    let (code, stderr) = serve_then_stop(&config, &key);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("trusted_proxies"), "{stderr}");
    assert!(!stderr.contains("allowed_origins"), "{stderr}");
}

#[test]
fn a_non_loopback_address_needs_allowed_hosts_and_keys() {
    let (_runtime, sim) = sim();
    let key = sim.api_key("admin").expect("key");
    let folder = Folder::new("exposed");
    let (config, _) = folder.config(&sim.url(), "bind = \"0.0.0.0:0\"", 1);
    let (code, stderr) = finish(spawn(&config, &key));
    assert_eq!(code, Some(64), "{stderr}");
    assert!(stderr.contains("http.allowed_hosts"), "{stderr}");
    let folder = Folder::new("nokeys");
    let (config, _) = folder.config(
        &sim.url(),
        "bind = \"0.0.0.0:0\"\nallowed_hosts = [\"mcp.example.com\"]",
        0,
    );
    let (code, stderr) = finish(spawn(&config, &key));
    assert_eq!(code, Some(64), "{stderr}");
    assert!(stderr.contains("no authentication"), "{stderr}");
    assert!(stderr.lines().count() == 1, "one line: {stderr}");
}

#[test]
fn a_busy_port_exits_69() {
    let (_runtime, sim) = sim();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = taken.local_addr().expect("addr").port();
    let folder = Folder::new("busy");
    let (config, _) = folder.config(&sim.url(), &format!("bind = \"127.0.0.1:{port}\""), 1);
    let (code, stderr) = finish(spawn(&config, &sim.api_key("admin").expect("key")));
    assert_eq!(code, Some(69), "{stderr}");
    assert!(stderr.contains("cannot listen"), "{stderr}");
}

#[path = "../../../crates/warden-cluster/tests/support/mod.rs"]
mod redis_server;

/// Processes killed if the test ends early.
struct Running(Vec<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts `config`, waits for its announcement: the child and its `host:port`.
fn start(config: &Path, odoo_key: &str) -> (Child, String) {
    let mut child = spawn(config, odoo_key);
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) else {
        let _ = child.kill();
        let (_, stderr) = finish(child);
        panic!("no announcement: {stderr}");
    };
    let addr = line
        .strip_prefix("odoo-warden-http listening on http://")
        .and_then(|url| url.strip_suffix("/mcp"))
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();
    (child, addr)
}

#[test]
fn two_processes_with_one_cluster_section_share_a_key_budget() {
    let Some(redis) = redis_server::RedisServer::start(
        "two_processes_with_one_cluster_section_share_a_key_budget",
    ) else {
        return;
    };
    let (runtime, sim) = sim();
    let folder = Folder::new("cluster");
    std::fs::write(
        folder.0.join("confirmation.key"),
        "8f1c0e7a52d94b36a1e0c7f25b9d4e38a6c1f0b7e2d94a5c3b8e1f0a7d6c5b49\n",
    )
    .expect("key file");
    let http = format!(
        "bind = \"127.0.0.1:0\"\n\n[rate_limits]\nper_key_per_minute = 4\nburst = 4\n\n\
         [cluster]\nredis_url = \"{}\"\nconfirmation_key_file = \"confirmation.key\"\n",
        redis.url()
    );
    let (config, secrets) = folder.config(&sim.url(), &http, 1);
    let odoo_key = sim.api_key("admin").expect("key");
    let mut running = Running(Vec::new());
    let (first, first_addr) = start(&config, &odoo_key);
    running.0.push(first);
    let (second, second_addr) = start(&config, &odoo_key);
    running.0.push(second);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                  "io.modelcontextprotocol/clientCapabilities": {},
                  "io.modelcontextprotocol/clientInfo": {"name": "process-test", "version": "1"}}}});
    let mut served = 0;
    let mut limited = 0;
    for i in 0..8 {
        let addr = if i % 2 == 0 {
            &first_addr
        } else {
            &second_addr
        };
        let answer: serde_json::Value = runtime.block_on(async {
            client
                .post(format!("http://{addr}/mcp"))
                .bearer_auth(&secrets[0])
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "tools/list")
                .body(body.to_string())
                .send()
                .await
                .expect("an answer")
                .json()
                .await
                .expect("json")
        });
        if answer.get("result").is_some() {
            served += 1;
        } else if answer["error"]["code"] == serde_json::json!(-32029) {
            limited += 1;
        } else {
            panic!("unexpected answer: {answer}");
        }
    }
    assert_eq!(
        (served, limited),
        (4, 4),
        "4 a minute for both processes together"
    );
    for child in std::mem::take(&mut running.0) {
        let killed = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .expect("kill");
        assert!(killed.success());
        let (code, stderr) = finish(child);
        assert_eq!(code, Some(0), "{stderr}");
        assert!(!stderr.contains("shared state unavailable"), "{stderr}");
    }
}
