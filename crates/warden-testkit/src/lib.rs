//! Test-only launchers for the servers a fleet of odoo-warden replicas runs beside: Debian's
//! `redis-server`, PostgreSQL 15 and `haproxy`, each started on 127.0.0.1 on a free port in a
//! temporary folder of its own and stopped when dropped. Used by the tests of the shared state,
//! the PostgreSQL audit sink and the fleet; never by the product.
//!
//! A server whose binary is missing makes [`Launch::start`]-style constructors return `None`
//! after a loud `SKIP` line on stderr, so that `cargo test` passes on a machine without it —
//! except under `CI=true`, where a missing server fails the test (`.ci/run` installs them).
//! Every wait is bounded.

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// Longest a server may take to accept connections after it is started.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether the tests run in CI (`CI=true` or `CI=1`), where a missing server is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `name` found on the PATH or in `extra` folders.
pub fn find(name: &str, extra: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Says loudly that `test` is skipped because `what` is missing; panics under CI.
///
/// # Panics
/// Under `CI=true`, always: CI installs every server these tests need.
pub fn skip(test: &str, what: &str) {
    assert!(
        !in_ci(),
        "{test}: {what} is missing, and CI=true requires it (.ci/run installs it)"
    );
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(
        stderr,
        "SKIP {test}: {what} is not installed on this machine; install it to run this test"
    );
}

/// A port that was free a moment ago on 127.0.0.1.
///
/// # Panics
/// When the system has no free port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port on 127.0.0.1")
}

/// Waits until something accepts TCP connections on `addr`, at most `timeout`.
pub fn wait_for_port(addr: SocketAddr, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}

/// A fresh, empty folder under the system's temporary folder, removed when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new folder named after `label`.
    ///
    /// # Panics
    /// When it cannot be created.
    pub fn new(label: &str) -> Self {
        let stamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let path = std::env::temp_dir().join(format!(
            "warden-testkit-{label}-{}-{stamp}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).expect("a temporary folder");
        Self(path)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A `redis-server` on 127.0.0.1 without persistence, stopped when dropped.
#[derive(Debug)]
pub struct Redis {
    child: Option<Child>,
    port: u16,
    binary: PathBuf,
    dir: TempDir,
}

impl Redis {
    /// Starts one, or `None` (after [`skip`]) when `redis-server` is not installed.
    ///
    /// # Panics
    /// When it is installed but does not start.
    pub fn start(test: &str) -> Option<Self> {
        let Some(binary) = find("redis-server", &["/usr/sbin", "/usr/bin"]) else {
            skip(test, "redis-server");
            return None;
        };
        let mut redis = Redis {
            child: None,
            port: free_port(),
            binary,
            dir: TempDir::new("redis"),
        };
        redis.restart();
        Some(redis)
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops it at once (SIGKILL): clients see their connections reset.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill(&mut child);
        }
    }

    /// Starts it again on the same port, empty.
    ///
    /// # Panics
    /// When it does not accept connections within [`START_TIMEOUT`].
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new(&self.binary)
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
        assert!(
            wait_for_port(SocketAddr::from(([127, 0, 0, 1], self.port)), START_TIMEOUT),
            "redis-server did not listen on {}",
            self.port
        );
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The user PostgreSQL runs as when the tests run as root (it refuses root).
const PG_USER: &str = "postgres";
/// Where Debian puts PostgreSQL 15's programs.
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
/// The superuser's password in the test cluster (password authentication is what production
/// uses, so the tests use it too).
pub const PG_PASSWORD: &str = "warden-test-password";

/// A PostgreSQL 15 cluster in a temporary folder, listening on 127.0.0.1 only (no unix socket),
/// password authentication for the superuser `postgres`; stopped (immediate) when dropped.
#[derive(Debug)]
pub struct Postgres {
    dir: TempDir,
    data: PathBuf,
    port: u16,
    bin: PathBuf,
    running: bool,
}

fn as_pg_user(program: &Path) -> Command {
    // The effective uid, read from /proc: PostgreSQL refuses to run as root.
    let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|rest| rest.split_whitespace().nth(1))
            .is_some_and(|euid| euid == "0")
    });
    if root {
        let mut command = Command::new("runuser");
        command.args(["-u", PG_USER, "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run_quiet(command: &mut Command, what: &str) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl Postgres {
    /// Starts one, or `None` (after [`skip`]) when PostgreSQL 15 is not installed.
    ///
    /// # Panics
    /// When it is installed but does not start.
    pub fn start(test: &str) -> Option<Self> {
        let bin =
            std::env::var_os("WARDEN_PGBIN").map_or_else(|| PathBuf::from(PG_BIN), PathBuf::from);
        if !bin.join("initdb").is_file() {
            skip(test, "PostgreSQL 15 (initdb)");
            return None;
        }
        let dir = TempDir::new("postgres");
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, PG_PASSWORD).expect("the password file");
        // The server's user must own the folder it writes.
        run_quiet(
            Command::new("chown").args(["-R", PG_USER]).arg(dir.path()),
            "chown the cluster's folder",
        );
        run_quiet(
            as_pg_user(&bin.join("initdb"))
                .args([
                    "-U",
                    "postgres",
                    "--auth=scram-sha-256",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ])
                .arg("--pwfile")
                .arg(&pwfile)
                .arg("-D")
                .arg(&data),
            "initdb",
        );
        let mut pg = Postgres {
            dir,
            data,
            port: free_port(),
            bin,
            running: false,
        };
        pg.restart();
        Some(pg)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@127.0.0.1:PORT/DATABASE` (the password is [`PG_PASSWORD`], given apart).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates `database`.
    ///
    /// # Panics
    /// When psql fails.
    pub fn create_database(&self, database: &str) {
        run_quiet(
            Command::new(self.bin.join("psql"))
                .env("PGPASSWORD", PG_PASSWORD)
                .args([
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-v",
                    "ON_ERROR_STOP=1",
                ])
                .arg("-p")
                .arg(self.port.to_string())
                .arg("-c")
                .arg(format!("CREATE DATABASE \"{database}\"")),
            "create a database",
        );
    }

    /// Runs `sql` in `database` with psql: its output (unaligned, tuples only).
    ///
    /// # Panics
    /// When psql fails.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let output = Command::new(self.bin.join("psql"))
            .env("PGPASSWORD", PG_PASSWORD)
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
            ])
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-d")
            .arg(database)
            .arg("-c")
            .arg(sql)
            .stdin(Stdio::null())
            .output()
            .expect("psql runs");
        assert!(
            output.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Stops it at once (`pg_ctl stop -m immediate`).
    pub fn stop(&mut self) {
        if !self.running {
            return;
        }
        self.running = false;
        let _ = as_pg_user(&self.bin.join("pg_ctl"))
            .args(["stop", "-m", "immediate", "-w", "-t", "30", "-D"])
            .arg(&self.data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Starts it again on the same port, with its data.
    ///
    /// # Panics
    /// When it does not accept connections within [`START_TIMEOUT`].
    pub fn restart(&mut self) {
        self.stop();
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories='' -c fsync=off -c max_connections=100",
            self.port
        );
        run_quiet(
            as_pg_user(&self.bin.join("pg_ctl"))
                .args(["start", "-w", "-t", "30", "-D"])
                .arg(&self.data)
                .arg("-l")
                .arg(self.dir.path().join("postgres.log"))
                .arg("-o")
                .arg(options),
            "pg_ctl start",
        );
        self.running = true;
        assert!(
            wait_for_port(SocketAddr::from(([127, 0, 0, 1], self.port)), START_TIMEOUT),
            "PostgreSQL did not listen on {}",
            self.port
        );
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// HAProxy on 127.0.0.1 balancing HTTP round robin over `backends`, stopped when dropped.
#[derive(Debug)]
pub struct HaProxy {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl HaProxy {
    /// Starts one in front of `backends` with the given extra lines in its backend section
    /// (e.g. a `stick` rule), or `None` (after [`skip`]) when `haproxy` is not installed.
    ///
    /// # Panics
    /// When it is installed but does not start.
    pub fn start(test: &str, backends: &[SocketAddr], extra: &str) -> Option<Self> {
        let Some(binary) = find("haproxy", &["/usr/sbin"]) else {
            skip(test, "haproxy");
            return None;
        };
        let dir = TempDir::new("haproxy");
        let port = free_port();
        let mut config = format!(
            "global\n  maxconn 2000\n\
             defaults\n  mode http\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n  option forwardfor\n\
             frontend mcp\n  bind 127.0.0.1:{port}\n  default_backend replicas\n\
             backend replicas\n  balance roundrobin\n{extra}\n"
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
        assert!(
            wait_for_port(SocketAddr::from(([127, 0, 0, 1], port)), START_TIMEOUT),
            "haproxy did not listen on {port}"
        );
        Some(HaProxy {
            child,
            port,
            _dir: dir,
        })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

impl Drop for HaProxy {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}
