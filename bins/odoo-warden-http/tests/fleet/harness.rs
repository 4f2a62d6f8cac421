//! A fleet on loopback: the simulator, a real `redis-server` and PostgreSQL 15 (the harnesses of
//! warden-cluster's and warden-audit-pg's tests), N `odoo-warden-http` replicas sharing one
//! configuration (each with its own audit stream), and Debian's HAProxy balancing them round
//! robin. Used by `tests/fleet.rs` and `benches/fleet.rs`. Every wait is bounded.
//!
//! The crate root declares `redis` (crates/warden-cluster/tests/support) and `pg`
//! (crates/warden-audit-pg/tests/common) before this module.

#![allow(dead_code, unreachable_pub, clippy::print_stderr)]

use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use warden_policy::config::KeyStoreFile;

use crate::redis::RedisServer;

/// The confirmation key every replica shares (32 bytes, hex).
const CONFIRMATION_KEY: &str = "5f1c0d2b9e8a7c6b5f4e3d2c1b0a99887766554433221100ffeeddccbbaa9988";
/// The longest a replica or HAProxy may take to listen.
const START_LIMIT: Duration = Duration::from_secs(30);

/// Debian's HAProxy, or `None` (after a loud SKIP) when it is missing outside CI.
fn haproxy_binary(test: &str) -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var("HAPROXY").unwrap_or("/usr/sbin/haproxy".to_owned()));
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: {} is missing and CI=true: install haproxy",
        path.display()
    );
    eprintln!(
        "\n******** SKIP {test}: {} not found (set HAPROXY or install haproxy) ********\n",
        path.display()
    );
    None
}

fn wait_for_port(addr: SocketAddr) -> bool {
    let deadline = Instant::now() + START_LIMIT;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}

/// HAProxy in front of the replicas: `balance roundrobin`, the client's address in
/// `X-Forwarded-For`, nothing sticky. Killed on drop.
pub struct HaProxy {
    child: Child,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl HaProxy {
    pub fn start(test: &str, backends: &[SocketAddr]) -> Option<Self> {
        let binary = haproxy_binary(test)?;
        let dir = tempfile::tempdir().expect("a folder");
        let port = crate::redis::free_port();
        let mut config = format!(
            "global\n  maxconn 4096\n\
             defaults\n  mode http\n  retries 2\n  option redispatch 1\n  timeout connect 2s\n  timeout client 60s\n  timeout server 60s\n\
             frontend mcp\n  bind 127.0.0.1:{port}\n\
             \x20 http-request set-header X-Forwarded-For %[src]\n  default_backend replicas\n\
             backend replicas\n  balance roundrobin\n"
        );
        for (n, addr) in backends.iter().enumerate() {
            config.push_str(&format!("  server replica{n} {addr}\n"));
        }
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, config).expect("haproxy.cfg");
        let child = Command::new(binary)
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy starts");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        assert!(wait_for_port(addr), "haproxy did not listen on {addr}");
        Some(Self {
            child,
            addr,
            _dir: dir,
        })
    }
}

impl Drop for HaProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the fleet is built with.
pub struct Options {
    /// Replicas behind the balancer.
    pub replicas: usize,
    /// `[rate_limits]` lines.
    pub rate_limits: String,
    /// Keys (names) to create, each bound to profile `agent`.
    pub keys: Vec<String>,
    /// The replicas' `RUST_LOG`.
    pub log: &'static str,
    /// Whether the replicas share their state on Redis (`[cluster]`); without it, each keeps
    /// its own (the positive control of the fleet's tests).
    pub cluster: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            replicas: 3,
            rate_limits: String::new(),
            keys: vec!["agent".to_owned()],
            log: "error",
            cluster: true,
        }
    }
}

/// One replica, stopped (SIGTERM, then SIGKILL) on drop.
pub struct Replica {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT/mcp`.
    pub url: String,
    pub addr: SocketAddr,
    /// Its audit stream.
    pub stream: String,
}

impl Replica {
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL: no drain, no flush.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and a bounded wait for the exit: its status code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// The fleet; dropping it stops everything.
pub struct Fleet {
    pub replicas: Vec<Replica>,
    pub proxy: HaProxy,
    pub redis: RedisServer,
    /// The audit database (in the test binary's PostgreSQL cluster).
    pub database: String,
    /// The keys' secrets, in `Options::keys` order.
    pub secrets: Vec<String>,
    pub dir: tempfile::TempDir,
    sim: Option<warden_odoo_sim::SimHandle>,
    runtime: tokio::runtime::Runtime,
}

fn config_text(
    sim: &warden_odoo_sim::SimHandle,
    options: &Options,
    redis: &RedisServer,
    pg: &crate::pg::Cluster,
    database: &str,
    n: usize,
    dir: &Path,
) -> String {
    format!(
        "[odoo]\nurl = \"{sim_url}\"\ndatabase = \"{sim_db}\"\nprotocol = \"jsonrpc\"\n\n\
         [odoo.identities.main]\nlogin = \"admin\"\napi_key_env = \"ODOO_API_KEY\"\n\n\
         [tools]\nwrite = true\n\n[keys]\nfile = \"keys.toml\"\n\n\
         [profiles.agent]\nidentity = \"main\"\nmodels = {{ allow = [\"res.partner\"] }}\n\
         operations = {{ allow = [\"read\", \"write\"] }}\nconfirm_writes = true\n\
         fields = {{ write = {{ allow = [\"phone\"] }} }}\n\n\
         [rate_limits]\n{rate_limits}\n\n\
         [audit]\ndir = \"{audit}\"\n\n\
         [audit.postgres]\nurl = \"postgres://postgres@127.0.0.1:{pg_port}/{database}\"\n\
         stream = \"replica-{n}\"\ntls = \"verify-full\"\nca_file = \"{ca}\"\n\n\
         {cluster}\
         [http]\nbind = \"127.0.0.1:0\"\ntrusted_proxies = [\"127.0.0.1\"]\n\
         max_concurrent_requests = 256\nmax_concurrent_requests_per_key = 256\n",
        sim_url = sim.url(),
        sim_db = sim.database(),
        rate_limits = options.rate_limits,
        audit = dir.join(format!("audit-{n}")).display(),
        pg_port = pg.port,
        ca = pg.ca_file().display(),
        cluster = if options.cluster {
            format!(
                "[cluster]\nredis_url = \"{}\"\nconfirmation_key_env = \"WARDEN_CONFIRMATION_KEY\"\n\
                 # A loaded 2-core test machine: a slow answer is not an outage.\n\
                 timeout_ms = 2000\n\n",
                redis.url()
            )
        } else {
            String::new()
        },
    )
}

fn spawn(config: &Path, odoo_key: &str, log: &str, stream: String) -> Replica {
    let mut child = Command::new(env!("CARGO_BIN_EXE_odoo-warden-http"))
        .arg("--config")
        .arg(config)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ODOO_API_KEY", odoo_key)
        .env("WARDEN_CONFIRMATION_KEY", CONFIRMATION_KEY)
        .env("RUST_LOG", log)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("odoo-warden-http starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        // Keep reading so that the replica never blocks on a full pipe.
        let mut rest = String::new();
        while reader.read_line(&mut rest).is_ok_and(|n| n > 0) {
            rest.clear();
        }
    });
    let line = rx
        .recv_timeout(START_LIMIT)
        .expect("the replica announces its address");
    let url = line
        .trim()
        .strip_prefix("odoo-warden-http listening on ")
        .unwrap_or_else(|| panic!("the announced url: {line:?}"))
        .to_owned();
    let addr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .and_then(|a| a.parse().ok())
        .expect("an address");
    Replica {
        child: Some(child),
        url,
        addr,
        stream,
    }
}

impl Fleet {
    /// A fleet, or `None` when a server it needs is missing (a loud SKIP; a failure in CI).
    pub fn start(test: &str, options: &Options) -> Option<Self> {
        haproxy_binary(test)?;
        let redis = RedisServer::start(test)?;
        let pg = crate::pg::cluster()?;
        let database = pg.database();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let sim = runtime
            .block_on(warden_odoo_sim::start(
                "127.0.0.1:0".parse().expect("addr"),
                warden_odoo_sim::SimOptions::default(),
            ))
            .expect("simulator");
        let odoo_key = sim.api_key("admin").expect("admin key");
        let dir = tempfile::tempdir().expect("a folder");
        let mut store = KeyStoreFile::default();
        let mut secrets = Vec::new();
        for name in &options.keys {
            let (_, secret) =
                warden_policy::keys::create(&mut store, name, "agent", None, SystemTime::now())
                    .expect("key");
            secrets.push(secret);
        }
        std::fs::write(dir.path().join("keys.toml"), store.to_toml()).expect("keys");
        let mut replicas = Vec::new();
        for n in 0..options.replicas {
            let config = dir.path().join(format!("warden-{n}.toml"));
            let text = config_text(&sim, options, &redis, pg, &database, n, dir.path());
            std::fs::write(&config, text).expect("config");
            replicas.push(spawn(
                &config,
                &odoo_key,
                options.log,
                format!("replica-{n}"),
            ));
        }
        let backends: Vec<SocketAddr> = replicas.iter().map(|r| r.addr).collect();
        let proxy = HaProxy::start(test, &backends)?;
        Some(Self {
            replicas,
            proxy,
            redis,
            database,
            secrets,
            dir,
            sim: Some(sim),
            runtime,
        })
    }

    /// The balancer's MCP endpoint.
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.proxy.addr)
    }

    /// Stops every replica cleanly (their audit flushed and closed).
    pub fn stop_replicas(&mut self) {
        for replica in &mut self.replicas {
            let _ = replica.stop();
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.stop_replicas();
        if let Some(sim) = self.sim.take() {
            self.runtime.block_on(sim.shutdown());
        }
    }
}

/// A 2026-07-28 request: `method` with `params` and the protocol's `_meta`.
pub fn modern(id: u64, method: &str, mut params: Value) -> Value {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
        "io.modelcontextprotocol/clientInfo": {"name": "fleet-test", "version": "1"},
    });
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// The JSON of an answer, plain or the last message of an SSE stream.
pub fn answer_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| {
        text.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .rfind(|m| m.get("result").is_some() || m.get("error").is_some())
            .unwrap_or(Value::Null)
    })
}

/// A 2026-07-28 `tools/call` of `tool` POSTed to `url`: the HTTP status and the answer.
pub async fn call(
    http: &reqwest::Client,
    url: &str,
    secret: &str,
    id: u64,
    tool: &str,
    arguments: Value,
    extra: Value,
) -> (u16, Value) {
    let mut params = json!({"name": tool, "arguments": arguments});
    if let (Some(params), Value::Object(extra)) = (params.as_object_mut(), extra) {
        params.extend(extra);
    }
    let response = http
        .post(url)
        .bearer_auth(secret)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .body(modern(id, "tools/call", params).to_string())
        .send()
        .await
        .expect("the balancer answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, answer_of(&text))
}

/// A search every replica can answer.
pub fn search() -> Value {
    json!({"model": "res.partner", "domain": [["is_company", "=", true]], "fields": ["name"], "limit": 5})
}
