//! A real PostgreSQL 15 for the tests: one cluster per test binary, initialized in a temporary
//! folder, listening on 127.0.0.1 on a free port (its socket in the folder), and a fresh database
//! per test. PostgreSQL refuses to run as root: as root, the cluster runs as the `postgres`
//! system user. A watchdog stops it (`pg_ctl stop -m immediate`) and removes the folder when
//! the test binary exits. Without the binaries the tests print a loud SKIP and pass, except
//! under `CI=true`, where they fail.

#![allow(dead_code, clippy::print_stderr, unreachable_pub)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use warden_audit_pg::{PgTarget, TlsMode};

/// Where the PostgreSQL 15 binaries are (`PG_BIN` overrides).
fn bin_dir() -> PathBuf {
    std::env::var_os("PG_BIN").map_or_else(
        || PathBuf::from("/usr/lib/postgresql/15/bin"),
        PathBuf::from,
    )
}

/// The running cluster.
pub struct Cluster {
    pub port: u16,
    dir: PathBuf,
}

static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();
static DATABASES: AtomicUsize = AtomicUsize::new(0);

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program args` as the cluster's user.
fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(command: &mut Command, what: &str) {
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

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn start() -> Option<Cluster> {
    let bin = bin_dir();
    if !bin.join("postgres").exists() || !bin.join("initdb").exists() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "PostgreSQL 15 is not installed in {} (CI=true): the PostgreSQL audit tests \
                 cannot run",
                bin.display()
            );
        }
        eprintln!(
            "\n*** SKIP: PostgreSQL 15 not found in {} (set PG_BIN): the PostgreSQL audit tests \
             did not run ***\n",
            bin.display()
        );
        return None;
    }
    let dir = tempfile::Builder::new()
        .prefix("warden-pg-")
        .tempdir()
        .expect("temp dir")
        .keep();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    if is_root() {
        run(
            Command::new("chown").arg("postgres:postgres").arg(&dir),
            "chown",
        );
    }
    // TLS, with a fresh self-signed certificate for 127.0.0.1 and localhost (non-TLS connections
    // are still accepted: pg_hba.conf says `host`, not `hostssl`).
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("certificate");
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    std::fs::write(&cert, certified.cert.pem()).expect("write certificate");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    if is_root() {
        run(
            Command::new("chown")
                .arg("postgres:postgres")
                .arg(&cert)
                .arg(&key),
            "chown",
        );
    }
    let data = dir.join("data");
    run(
        as_owner(&bin.join("initdb")).arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]),
        "initdb",
    );
    // Members of `pw_users` must give their password (SCRAM); the other roles are trusted.
    let hba = data.join("pg_hba.conf");
    let trusted = std::fs::read_to_string(&hba).expect("pg_hba.conf");
    std::fs::write(
        &hba,
        format!("host all +pw_users 127.0.0.1/32 scram-sha-256\n{trusted}"),
    )
    .expect("write pg_hba.conf");
    let mut last_error = String::new();
    for _ in 0..5 {
        let port = free_port();
        let options = format!(
            "-p {port} -h 127.0.0.1 -k {dir} -c fsync=off -c max_connections=200 -c ssl=on \
             -c ssl_cert_file={dir}/server.crt -c ssl_key_file={dir}/server.key",
            dir = dir.display()
        );
        let output = as_owner(&bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .args(["-o", &options, "-l"])
            .arg(dir.join("log"))
            .args(["-w", "-t", "60", "start"])
            .stdin(Stdio::null())
            .output()
            .expect("pg_ctl");
        if output.status.success() {
            watchdog(&bin, &data, &dir);
            let cluster = Cluster { port, dir };
            cluster
                .client("postgres")
                .batch_execute("CREATE ROLE pw_users NOLOGIN")
                .expect("create pw_users");
            return Some(cluster);
        }
        last_error = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
    }
    panic!("PostgreSQL did not start: {last_error}");
}

/// Stops the cluster and removes its folder once this process is gone (at most 2 hours). The
/// watchdog outlives this process on purpose: it is never waited for.
#[allow(clippy::zombie_processes)]
fn watchdog(bin: &Path, data: &Path, dir: &Path) {
    let script = format!(
        "for i in $(seq 1 7200); do kill -0 {pid} 2>/dev/null || break; sleep 1; done; \
         {owner} {pg_ctl} -D {data} stop -m immediate >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        owner = if is_root() {
            "runuser -u postgres --"
        } else {
            ""
        },
        pg_ctl = bin.join("pg_ctl").display(),
        data = data.display(),
        dir = dir.display(),
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("watchdog");
}

/// The cluster, started on first use; `None` when PostgreSQL is missing (and CI is not set).
pub fn cluster() -> Option<&'static Cluster> {
    CLUSTER.get_or_init(start).as_ref()
}

impl Cluster {
    /// A target for `database` as the superuser, without TLS (loopback).
    pub fn target(&self, database: &str) -> PgTarget {
        let mut target = PgTarget::from_url(&format!(
            "postgres://postgres@127.0.0.1:{}/{database}",
            self.port
        ))
        .expect("url");
        target.tls = TlsMode::Disable;
        target
    }

    /// A client of `database`.
    pub fn client(&self, database: &str) -> postgres::Client {
        self.target(database).connect().expect("connect")
    }

    /// A fresh database.
    pub fn database(&self) -> String {
        let name = format!(
            "t{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::SeqCst)
        );
        let mut admin = self.client("postgres");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create database");
        name
    }

    /// The CA file that verifies the server's certificate (the certificate itself).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("server.crt")
    }

    /// The folder of the cluster.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Wait until `done`, polling every 20 ms, at most `limit`.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}
