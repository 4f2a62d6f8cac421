//! A real `redis-server` for the tests: started on 127.0.0.1 on a free port in a temporary
//! folder, stopped when dropped. Without the binary the tests print a loud SKIP and pass,
//! except under `CI=true`, where they fail.
//!
//! Also a stalled server: a listener that accepts connections and never answers.

#![allow(dead_code, unreachable_pub, clippy::print_stderr)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use warden_cluster::{Options, RedisStore};

/// Where Debian installs the server; `REDIS_SERVER` overrides it.
const DEFAULT_BINARY: &str = "/usr/bin/redis-server";

/// The server binary, or `None` (after the SKIP message) when it is missing outside CI.
pub fn binary(test: &str) -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var("REDIS_SERVER").unwrap_or(DEFAULT_BINARY.to_owned()));
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: {} is missing and CI=true: install redis-server",
        path.display()
    );
    eprintln!(
        "\n******** SKIP {test}: {} not found (set REDIS_SERVER or install redis-server) ********\n",
        path.display()
    );
    None
}

/// A free port on 127.0.0.1 (free when this returns; the server binds it right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running `redis-server`, killed on drop.
pub struct RedisServer {
    binary: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
    /// The TLS port, when started with a certificate ([`RedisServer::start_tls`]).
    pub tls_port: Option<u16>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one, or `None` when the binary is missing (outside CI).
    pub fn start(test: &str) -> Option<Self> {
        let binary = binary(test)?;
        let mut server = Self {
            binary,
            dir: tempfile::tempdir().expect("a temp dir"),
            port: free_port(),
            tls_port: None,
            child: None,
        };
        server.spawn();
        Some(server)
    }

    /// Starts one that also serves TLS with `cert_pem` and `key_pem` (on [`RedisServer::tls_port`];
    /// clients are not asked for a certificate), or `None` when the binary is missing.
    pub fn start_tls(test: &str, cert_pem: &str, key_pem: &str) -> Option<Self> {
        let binary = binary(test)?;
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::write(dir.path().join("server.crt"), cert_pem).expect("write the certificate");
        std::fs::write(dir.path().join("server.key"), key_pem).expect("write the key");
        let mut server = Self {
            binary,
            dir,
            port: free_port(),
            tls_port: Some(free_port()),
            child: None,
        };
        server.spawn();
        Some(server)
    }

    fn spawn(&mut self) {
        let mut command = Command::new(&self.binary);
        if let Some(tls_port) = self.tls_port {
            command
                .arg("--tls-port")
                .arg(tls_port.to_string())
                .arg("--tls-cert-file")
                .arg(self.dir.path().join("server.crt"))
                .arg("--tls-key-file")
                .arg(self.dir.path().join("server.key"))
                .args(["--tls-auth-clients", "no"]);
        }
        let child = command
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if ping(self.port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "redis-server on port {} did not answer within 10 s",
            self.port
        );
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A store on this server with `prefix`.
    pub fn store(&self, prefix: &str) -> RedisStore {
        let mut options = Options::new(self.url());
        options.key_prefix = prefix.to_owned();
        RedisStore::connect(&options).expect("a store")
    }

    /// Kills the server (its data is gone: nothing is persisted).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether a server on `port` answers `PING` (plain RESP over a socket, within 200 ms).
fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    ) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut answer = [0u8; 7];
    stream.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
}

/// A listener on 127.0.0.1 that accepts connections and never answers, until dropped.
pub struct Stalled {
    pub port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Stalled {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a listener");
        listener.set_nonblocking(true).expect("non-blocking");
        let port = listener.local_addr().expect("an address").port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            // Bounded: runs until the test drops it, at most a minute.
            let deadline = Instant::now() + Duration::from_secs(60);
            while !flag.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline {
                if let Ok((stream, _)) = listener.accept() {
                    held.push(stream);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Self {
            port,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Stalled {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
