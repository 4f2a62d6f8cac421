//! `odoo-warden audit`: `verify` passes an intact folder and names the first changed line of a
//! broken one (with and without the seal key, with the public key alone), fails on an empty
//! folder and on a stream without its head, and with `--anchors` on a folder rolled back past a
//! checkpoint; `keygen` writes a key pair and never prints the private key; `search` applies every
//! filter exactly and prints events without their chain members; `tail` prints the latest
//! events in time order across streams and, with `-f`, the ones written after it started; the
//! folder comes from `DIR` or from the configuration's `[audit] dir`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, mpsc};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use warden_audit::chain::SealKey;
use warden_audit::event::{Alert, Gap};
use warden_audit::jsonl::Clock;
use warden_audit::signing::{PublicKey, SigningKey};
use warden_audit::{AuditEvent, Decision, JsonlConfig, JsonlSink, Latency, Outcome, Sink};

/// 2026-12-01T08:00:00Z.
const BASE_SECS: u64 = 1_796_083_200 + 8 * 3600;
/// How long a test waits for `tail -f` before it fails.
const WAIT: Duration = Duration::from_secs(10);

fn base() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(BASE_SECS)
}

/// A clock that stays at one instant (every file is of that day).
struct Fixed(SystemTime);

impl Clock for Fixed {
    fn now(&self) -> SystemTime {
        self.0
    }
}

/// What a run printed and its exit status.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: not JSON: {line}"))
            })
            .collect()
    }
}

fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_odoo-warden"));
    command.env_clear().args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

/// Runs `odoo-warden args…` with only `env` in the environment.
fn run_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = command(args, env).output().expect("run odoo-warden");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

fn run(args: &[&str]) -> Run {
    run_env(args, &[])
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// A sink in `dir` whose clock stays at `at`.
fn config_at(dir: &Path, at: SystemTime) -> JsonlConfig {
    let mut config = JsonlConfig::new(dir);
    config.clock = Arc::new(Fixed(at));
    config
}

/// Writes `events` through one sink, then closes it.
fn write_all(config: JsonlConfig, events: Vec<AuditEvent>) {
    let mut sink = JsonlSink::open(config).expect("open sink");
    for event in events {
        sink.write(&[Arc::new(event)]).expect("write");
    }
    sink.close().expect("close");
}

/// A plain request numbered `n` at `at`.
fn simple(n: u64, at: SystemTime) -> AuditEvent {
    let mut event = AuditEvent::request(at, "tools/call");
    event.request_id = Some(n.to_string());
    event.key_id = Some("k_000000000001".to_owned());
    event.key_name = Some("ann".to_owned());
    event.tool = Some("search_records".to_owned());
    event.model = Some("res.partner".to_owned());
    event
}

fn minutes(n: u64) -> Duration {
    Duration::from_secs(60 * n)
}

fn audit_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files
}

// --- verify -------------------------------------------------------------------------------

#[test]
fn verify_passes_an_intact_folder_and_names_the_changed_line() {
    let dir = tempfile::tempdir().unwrap();
    let events = (0..10).map(|n| simple(n, base() + minutes(n))).collect();
    write_all(config_at(dir.path(), base()), events);

    let ok = run(&["audit", "verify", path(dir.path())]);
    assert_eq!(ok.code, 0, "{ok:?}");
    assert!(ok.stdout.contains("10 events"), "{}", ok.stdout);
    assert!(ok.stdout.contains("stream warden: ok"), "{}", ok.stdout);
    let json = run(&["audit", "verify", path(dir.path()), "--json"]);
    assert_eq!(json.code, 0, "{json:?}");
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["streams"][0]["events"], 10);
    assert!(report["streams"][0]["problem"].is_null());
    let head = report["streams"][0]["head"].as_str().unwrap();
    assert!(ok.stdout.contains(head), "the head hash is printed");

    // Line 5 (seq 4) changed: the next line's prev no longer matches.
    let files = audit_files(dir.path());
    assert_eq!(files.len(), 1);
    let name = files[0].file_name().unwrap().to_str().unwrap().to_owned();
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert!(lines[4].contains("\"res.partner\""), "{}", lines[4]);
    lines[4] = lines[4].replace("\"res.partner\"", "\"res.users\"");
    std::fs::write(&files[0], lines.join("\n") + "\n").unwrap();
    let sixth: Value = serde_json::from_str(&lines[5]).unwrap();

    let broken = run(&["audit", "verify", path(dir.path())]);
    assert_eq!(broken.code, 1, "{broken:?}");
    for needle in [name.as_str(), "line 6", "seq 5", "changed"] {
        assert!(
            broken.stdout.contains(needle),
            "{needle:?} missing:\n{}",
            broken.stdout
        );
    }
    assert!(
        broken.stdout.contains(sixth["id"].as_str().unwrap()),
        "the event id is named:\n{}",
        broken.stdout
    );
    assert!(broken.stderr.contains("broken"), "{}", broken.stderr);
    assert_eq!(broken.stderr.lines().count(), 1, "{}", broken.stderr);

    let json = run(&["audit", "verify", path(dir.path()), "--json"]);
    assert_eq!(json.code, 1, "{json:?}");
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    let problem = &report["streams"][0]["problem"];
    assert!(
        problem["reason"].as_str().unwrap().contains("changed"),
        "{problem}"
    );
    assert_eq!(problem["file"], name.as_str());
    assert_eq!(problem["line"], 6);
    assert_eq!(problem["seq"], 5);
}

#[test]
fn verify_checks_seals_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "an audit seal key that is long enough";
    let mut config = config_at(dir.path(), base());
    config.seal = Some(SealKey::new(secret.as_bytes().to_vec()).unwrap());
    write_all(
        config,
        (0..5).map(|n| simple(n, base() + minutes(n))).collect(),
    );
    let keys = tempfile::tempdir().unwrap();
    let right = keys.path().join("right");
    let wrong = keys.path().join("wrong");
    let short = keys.path().join("short");
    // Trailing whitespace is trimmed, as the configuration's seal_key_file is.
    std::fs::write(&right, format!("{secret}\n")).unwrap();
    std::fs::write(&wrong, "another key, also long enough to be one").unwrap();
    std::fs::write(&short, "short").unwrap();

    let ok = run(&[
        "audit",
        "verify",
        path(dir.path()),
        "--seal-key-file",
        path(&right),
    ]);
    assert_eq!(ok.code, 0, "{ok:?}");
    assert!(ok.stdout.contains("5 events"), "{}", ok.stdout);
    assert!(!ok.stdout.contains("warning"), "{}", ok.stdout);

    let by_env = run_env(
        &[
            "audit",
            "verify",
            path(dir.path()),
            "--seal-key-env",
            "SEAL",
        ],
        &[("SEAL", secret)],
    );
    assert_eq!(by_env.code, 0, "{by_env:?}");

    let bad = run(&[
        "audit",
        "verify",
        path(dir.path()),
        "--seal-key-file",
        path(&wrong),
    ]);
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(bad.stdout.contains("seal"), "{}", bad.stdout);
    assert!(bad.stdout.contains("line 1"), "{}", bad.stdout);

    // Without the key, the chain verifies and a warning says the seals were not checked.
    let unkeyed = run(&["audit", "verify", path(dir.path())]);
    assert_eq!(unkeyed.code, 0, "{unkeyed:?}");
    assert!(unkeyed.stdout.contains("seal key"), "{}", unkeyed.stdout);

    let too_short = run(&[
        "audit",
        "verify",
        path(dir.path()),
        "--seal-key-file",
        path(&short),
    ]);
    assert_eq!(too_short.code, 64, "{too_short:?}");
    assert!(
        too_short.stderr.contains("32 bytes"),
        "{}",
        too_short.stderr
    );
    let unset = run(&[
        "audit",
        "verify",
        path(dir.path()),
        "--seal-key-env",
        "NOT_SET",
    ]);
    assert_eq!(unset.code, 64, "{unset:?}");
    assert!(unset.stderr.contains("NOT_SET"), "{}", unset.stderr);
}

#[test]
fn verify_fails_on_an_empty_or_missing_folder() {
    let dir = tempfile::tempdir().unwrap();
    let empty = run(&["audit", "verify", path(dir.path())]);
    assert_eq!(empty.code, 1, "{empty:?}");
    assert!(
        empty.stderr.contains("no audit files in"),
        "{}",
        empty.stderr
    );
    let json = run(&["audit", "verify", path(dir.path()), "--json"]);
    assert_eq!(json.code, 1, "{json:?}");

    let missing = dir.path().join("nowhere");
    let gone = run(&["audit", "verify", path(&missing)]);
    assert_eq!(gone.code, 74, "{gone:?}");
    assert!(
        gone.stderr.contains("cannot read the audit folder")
            && gone.stderr.contains("does not exist"),
        "{}",
        gone.stderr
    );
    assert_eq!(gone.stderr.lines().count(), 1, "{}", gone.stderr);
    assert!(gone.stdout.is_empty(), "{}", gone.stdout);
    for sub in ["search", "tail"] {
        let gone = run(&["audit", sub, path(&missing)]);
        assert_eq!(gone.code, 74, "{sub}: {gone:?}");
    }
}

#[test]
fn the_folder_comes_from_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("warden.toml");
    std::fs::write(&config, "[audit]\ndir = \"a\"\n").unwrap();
    let audit = dir.path().join("a");
    write_all(
        config_at(&audit, base()),
        (0..3).map(|n| simple(n, base() + minutes(n))).collect(),
    );

    let by_flag = run(&["audit", "verify", "--config", path(&config)]);
    assert_eq!(by_flag.code, 0, "{by_flag:?}");
    assert!(by_flag.stdout.contains(path(&audit)), "{}", by_flag.stdout);
    assert!(by_flag.stdout.contains("3 events"), "{}", by_flag.stdout);

    let by_env = run_env(&["audit", "search"], &[("WARDEN_CONFIG", path(&config))]);
    assert_eq!(by_env.code, 0, "{by_env:?}");
    assert_eq!(by_env.lines().len(), 3);

    // A DIR given wins over the configuration.
    let other = tempfile::tempdir().unwrap();
    let dir_wins = run(&[
        "audit",
        "verify",
        path(other.path()),
        "--config",
        path(&config),
    ]);
    assert_eq!(dir_wins.code, 1, "{dir_wins:?}");

    let neither = run(&["audit", "verify"]);
    assert_eq!(neither.code, 64, "{neither:?}");
    assert!(neither.stderr.contains("--config"), "{}", neither.stderr);
    assert_eq!(neither.stderr.lines().count(), 1, "{}", neither.stderr);

    let off = dir.path().join("off.toml");
    std::fs::write(&off, "[audit]\nenabled = false\n").unwrap();
    let disabled = run(&["audit", "verify", "--config", path(&off)]);
    assert_eq!(disabled.code, 64, "{disabled:?}");
}

// --- signatures, anchors, keygen ------------------------------------------------------------

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Runs `audit keygen` for `private` in `dir`; the key it wrote.
fn keygen(private: &Path) -> SigningKey {
    let made = run(&["audit", "keygen", path(private)]);
    assert_eq!(made.code, 0, "{made:?}");
    SigningKey::from_text(&std::fs::read_to_string(private).unwrap()).unwrap()
}

#[test]
fn keygen_writes_the_private_key_0600_and_the_public_key_and_never_prints_the_private_key() {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("audit-signing.key");
    let made = run(&["audit", "keygen", path(&private)]);
    assert_eq!(made.code, 0, "{made:?}");
    let secret = std::fs::read_to_string(&private).unwrap();
    assert!(
        secret.starts_with("-----BEGIN PRIVATE KEY-----\n"),
        "{secret}"
    );
    let body: String = secret.lines().filter(|l| !l.starts_with("-----")).collect();
    for output in [&made.stdout, &made.stderr] {
        assert!(!output.contains(&body), "{output}");
        assert!(!output.contains("PRIVATE KEY"), "{output}");
    }
    let public_path = dir.path().join("audit-signing.key.pub");
    let public = std::fs::read_to_string(&public_path).unwrap();
    assert_eq!(made.stdout, public, "the public key is printed");
    let key = SigningKey::from_text(&secret).unwrap();
    assert_eq!(PublicKey::from_text(&public).unwrap(), key.public_key());
    assert!(made.stderr.contains(key.id()), "{}", made.stderr);
    #[cfg(unix)]
    {
        assert_eq!(mode(&private), 0o600);
        assert_eq!(mode(&public_path), 0o644);
    }

    // An existing key is not replaced without --force.
    let again = run(&["audit", "keygen", path(&private)]);
    assert_eq!(again.code, 64, "{again:?}");
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(&private).unwrap(), secret);
    let forced = run(&["audit", "keygen", path(&private), "--force"]);
    assert_eq!(forced.code, 0, "{forced:?}");
    assert_ne!(std::fs::read_to_string(&private).unwrap(), secret);
    #[cfg(unix)]
    assert_eq!(mode(&private), 0o600);

    let elsewhere = dir.path().join("for-the-auditor.pub");
    let other = run(&[
        "audit",
        "keygen",
        path(&dir.path().join("second.key")),
        "--public",
        path(&elsewhere),
    ]);
    assert_eq!(other.code, 0, "{other:?}");
    assert!(elsewhere.exists());
    let same = run(&[
        "audit",
        "keygen",
        path(&dir.path().join("third.key")),
        "--public",
        path(&dir.path().join("third.key")),
    ]);
    assert_eq!(same.code, 64, "{same:?}");
    let nowhere = run(&["audit", "keygen", path(&dir.path().join("no/such/dir.key"))]);
    assert_eq!(nowhere.code, 74, "{nowhere:?}");
    assert_eq!(nowhere.stderr.lines().count(), 1, "{}", nowhere.stderr);
}

#[test]
fn verify_checks_signatures_with_the_public_key_alone() {
    let keys = tempfile::tempdir().unwrap();
    let key = keygen(&keys.path().join("signing.key"));
    let public = keys.path().join("signing.key.pub");
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_at(dir.path(), base());
    config.signer = Some(key);
    write_all(
        config,
        (0..5).map(|n| simple(n, base() + minutes(n))).collect(),
    );

    let ok = run(&[
        "audit",
        "verify",
        path(dir.path()),
        "--public-key",
        path(&public),
    ]);
    assert_eq!(ok.code, 0, "{ok:?}");
    assert!(!ok.stdout.contains("warning"), "{}", ok.stdout);
    // Without it the chain verifies, and a warning says the signatures were not checked.
    let unkeyed = run(&["audit", "verify", path(dir.path())]);
    assert_eq!(unkeyed.code, 0, "{unkeyed:?}");
    assert!(
        unkeyed.stdout.contains("--public-key"),
        "{}",
        unkeyed.stdout
    );
    // Another key's public key.
    let other = keygen(&keys.path().join("other.key"));
    let wrong = run(&[
        "audit",
        "verify",
        path(dir.path()),
        "--public-key",
        path(&keys.path().join("other.key.pub")),
    ]);
    assert_eq!(wrong.code, 1, "{wrong:?}");
    assert!(wrong.stdout.contains("signature"), "{}", wrong.stdout);
    drop(other);

    // A line forged without the private key: every hash after it and the head recomputed,
    // the old signatures left in place.
    let file = &audit_files(dir.path())[0];
    let text = std::fs::read_to_string(file).unwrap();
    let mut prev = warden_audit::chain::GENESIS.to_owned();
    let mut forged = String::new();
    for (i, line) in text.lines().enumerate() {
        let mut value: Value = serde_json::from_str(line).unwrap();
        if i == 2 {
            value["model"] = Value::from("hr.employee");
        }
        value["prev"] = Value::from(prev.clone());
        let line = value.to_string();
        prev = warden_audit::chain::hash_hex(line.as_bytes());
        forged.push_str(&line);
        forged.push('\n');
    }
    std::fs::write(file, forged).unwrap();
    let head_path = dir.path().join("warden.head");
    let mut head: Value =
        serde_json::from_str(std::fs::read_to_string(&head_path).unwrap().trim()).unwrap();
    head["hash"] = Value::from(prev);
    std::fs::write(&head_path, head.to_string()).unwrap();
    let broken = run(&[
        "audit",
        "verify",
        path(dir.path()),
        "--public-key",
        path(&public),
    ]);
    assert_eq!(broken.code, 1, "{broken:?}");
    assert!(
        broken.stdout.contains("line 3") && broken.stdout.contains("signature does not verify"),
        "{}",
        broken.stdout
    );

    for bad in ["nowhere.pub", "signing.key"] {
        let unusable = run(&[
            "audit",
            "verify",
            path(dir.path()),
            "--public-key",
            path(&keys.path().join(bad)),
        ]);
        assert_eq!(unusable.code, 64, "{bad}: {unusable:?}");
        assert!(
            unusable.stderr.contains("--public-key"),
            "{}",
            unusable.stderr
        );
        assert_eq!(unusable.stderr.lines().count(), 1, "{}", unusable.stderr);
    }
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap().path();
        std::fs::copy(&entry, to.join(entry.file_name().unwrap())).unwrap();
    }
}

#[test]
fn verify_checks_that_the_log_reaches_every_anchored_checkpoint() {
    let root = tempfile::tempdir().unwrap();
    let key = keygen(&root.path().join("signing.key"));
    let public = root.path().join("signing.key.pub");
    let dir = root.path().join("audit");
    let anchors = root.path().join("anchors.jsonl");
    let signed = |at: SystemTime| {
        let mut config = config_at(&dir, at);
        config.signer = Some(key.clone());
        config.anchors_file = Some(anchors.clone());
        config
    };
    write_all(signed(base()), (0..5).map(|n| simple(n, base())).collect());
    let copy = root.path().join("copy");
    copy_folder(&dir, &copy);
    let later = base() + minutes(30);
    write_all(signed(later), (5..10).map(|n| simple(n, later)).collect());

    let args = |extra: &[&str]| -> Run {
        let mut all = vec!["audit", "verify", path(&dir), "--public-key", path(&public)];
        all.extend_from_slice(extra);
        run(&all)
    };
    let ok = args(&["--anchors", path(&anchors)]);
    assert_eq!(ok.code, 0, "{ok:?}");
    assert!(ok.stdout.contains("4 checkpoints reached"), "{}", ok.stdout);
    assert!(ok.stdout.contains("signatures checked"), "{}", ok.stdout);
    let json = args(&["--anchors", path(&anchors), "--json"]);
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["anchors"]["checkpoints"], 4);
    assert_eq!(report["streams"][0]["checkpoints"], 4);

    // The folder rolled back to the copy taken before the second run: a valid chain, but it
    // does not reach the second run's checkpoints.
    std::fs::remove_dir_all(&dir).unwrap();
    copy_folder(&copy, &dir);
    let without = args(&[]);
    assert_eq!(without.code, 0, "invisible from inside: {without:?}");
    let rolled = args(&["--anchors", path(&anchors)]);
    assert_eq!(rolled.code, 1, "{rolled:?}");
    assert!(
        rolled.stdout.contains("checkpoint of stream warden at seq")
            && rolled.stdout.contains("rolled back"),
        "{}",
        rolled.stdout
    );
    assert!(rolled.stderr.contains("broken"), "{}", rolled.stderr);

    // A checkpoint edited in the anchors file.
    let text = std::fs::read_to_string(&anchors).unwrap();
    let edited = root.path().join("edited.jsonl");
    std::fs::write(
        &edited,
        text.replacen("\"reason\":\"start\"", "\"reason\":\"stArt\"", 1),
    )
    .unwrap();
    copy_folder(&copy, &dir);
    let forged = args(&["--anchors", path(&edited)]);
    assert_eq!(forged.code, 1, "{forged:?}");
    assert!(
        forged.stdout.contains("does not verify"),
        "{}",
        forged.stdout
    );

    let missing = args(&["--anchors", path(&root.path().join("nowhere.jsonl"))]);
    assert_eq!(missing.code, 74, "{missing:?}");
    assert!(
        missing.stderr.contains("cannot read the anchors file"),
        "{}",
        missing.stderr
    );
}

#[test]
fn verify_fails_on_a_stream_without_its_head() {
    let dir = tempfile::tempdir().unwrap();
    write_all(
        config_at(dir.path(), base()),
        (0..3).map(|n| simple(n, base())).collect(),
    );
    std::fs::remove_file(dir.path().join("warden.head")).unwrap();
    let headless = run(&["audit", "verify", path(dir.path())]);
    assert_eq!(headless.code, 1, "{headless:?}");
    assert!(
        headless.stdout.contains("warden.head is missing"),
        "{}",
        headless.stdout
    );
}

// --- search -------------------------------------------------------------------------------

const KEYS: [(&str, &str); 4] = [
    ("k_000000000001", "ann"),
    ("k_000000000002", "anna"),
    ("k_000000000003", "bob"),
    ("k_000000000004", "carol"),
];
const MODELS: [&str; 4] = [
    "res.partner",
    "sale.order",
    "sale.order.line",
    "hr.employee",
];
const TOOLS: [&str; 3] = ["search_records", "read_records", "update_record"];
const IPS: [&str; 3] = ["10.0.0.1", "10.0.0.10", "192.168.1.5"];

/// One request of the search data, and what it was.
struct Spec {
    n: u64,
    key: usize,
    model: &'static str,
    /// `None` for a resource read.
    tool: Option<&'static str>,
    method: &'static str,
    ip: &'static str,
    denied: bool,
    failed: bool,
}

fn spec(n: u64) -> Spec {
    let resource = n % 10 == 9;
    Spec {
        n,
        key: (n % 4) as usize,
        model: MODELS[(n % 7 % 4) as usize],
        tool: (!resource).then(|| TOOLS[(n % 3) as usize]),
        method: if resource {
            "resources/read"
        } else {
            "tools/call"
        },
        ip: IPS[((n / 2) % 3) as usize],
        denied: n.is_multiple_of(7),
        failed: n % 7 == 1,
    }
}

fn request(spec: &Spec) -> AuditEvent {
    let mut event = AuditEvent::request(base() + minutes(spec.n), spec.method);
    event.request_id = Some(spec.n.to_string());
    event.key_id = Some(KEYS[spec.key].0.to_owned());
    event.key_name = Some(KEYS[spec.key].1.to_owned());
    event.client_ip = Some(spec.ip.to_owned());
    event.model = Some(spec.model.to_owned());
    event.tool = spec.tool.map(str::to_owned);
    event.latency = Some(Latency::new(
        Duration::from_micros(1500 + spec.n),
        Duration::from_micros(900),
        1,
    ));
    if spec.denied {
        event.decision = Some(Decision::deny(
            "profile sales: models.deny hr.*",
            "forbidden",
        ));
        event.outcome = Some(Outcome::error("forbidden"));
    } else if spec.failed {
        event.outcome = Some(Outcome::error("access_error"));
    }
    event
}

/// 200 requests a minute apart from 08:00, two alerts (08:30:30, 10:30:30) and a gap
/// (09:15:30), in one file.
fn search_data() -> (tempfile::TempDir, Vec<Spec>) {
    let dir = tempfile::tempdir().unwrap();
    let specs: Vec<Spec> = (0..200).map(spec).collect();
    let mut events: Vec<AuditEvent> = specs.iter().map(request).collect();
    let half = Duration::from_secs(30);
    let alert = |at| {
        AuditEvent::alert(
            at,
            Alert {
                name: "denied_burst".to_owned(),
                message: "many denials".to_owned(),
                count: Some(10),
                window_s: Some(60),
            },
        )
    };
    events.insert(31, alert(base() + minutes(30) + half));
    events.insert(
        77,
        AuditEvent::gap(
            base() + minutes(75) + half,
            Gap {
                sink: "webhook".to_owned(),
                dropped: 3,
                since: "2026-12-01T09:15:00Z".to_owned(),
                reason: "queue full".to_owned(),
            },
        ),
    );
    events.push(alert(base() + minutes(150) + half));
    write_all(config_at(dir.path(), base()), events);
    (dir, specs)
}

fn count(specs: &[Spec], keep: impl Fn(&Spec) -> bool) -> usize {
    specs.iter().filter(|s| keep(s)).count()
}

#[test]
fn search_applies_every_filter_exactly() {
    let (dir, specs) = search_data();
    let d = path(dir.path());
    let search = |extra: &[&str]| {
        let mut args = vec!["audit", "search", d];
        args.extend_from_slice(extra);
        let run = run(&args);
        assert_eq!(run.code, 0, "{extra:?}: {run:?}");
        run
    };

    let all = search(&[]);
    let lines = all.lines();
    assert_eq!(lines.len(), 203, "200 requests, 2 alerts, 1 gap");
    for line in &lines {
        assert_ne!(line["kind"], "chain", "a chain record without --kind chain");
        for member in ["seq", "prev", "mac"] {
            assert!(line.get(member).is_none(), "{member} in {line}");
        }
        assert!(line.get("id").is_some() && line.get("time").is_some());
    }
    assert_eq!(
        lines[0]["v"], 1,
        "the members keep their order: {}",
        lines[0]
    );
    assert_eq!(
        lines[0]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .map(String::as_str),
        Some("v")
    );
    assert!(
        all.stderr.contains("203 matching events in 1 file ("),
        "{}",
        all.stderr
    );

    let cases: Vec<(Vec<&str>, usize)> = vec![
        (vec!["--key", "ann"], count(&specs, |s| s.key == 0)),
        (vec!["--key", "anna"], count(&specs, |s| s.key == 1)),
        (
            vec!["--key", "k_000000000002"],
            count(&specs, |s| s.key == 1),
        ),
        (
            vec!["--model", "sale.order"],
            count(&specs, |s| s.model == "sale.order"),
        ),
        (
            vec!["--model", "sale.order.line"],
            count(&specs, |s| s.model == "sale.order.line"),
        ),
        (
            vec!["--tool", "update_record"],
            count(&specs, |s| s.tool == Some("update_record")),
        ),
        (
            vec!["--method", "resources/read"],
            count(&specs, |s| s.method == "resources/read"),
        ),
        (
            vec!["--ip", "10.0.0.1"],
            count(&specs, |s| s.ip == "10.0.0.1"),
        ),
        (
            vec!["--ip", "10.0.0.10"],
            count(&specs, |s| s.ip == "10.0.0.10"),
        ),
        (
            vec!["--outcome", "ok"],
            count(&specs, |s| !s.denied && !s.failed),
        ),
        (
            vec!["--outcome", "error"],
            count(&specs, |s| s.denied || s.failed),
        ),
        (vec!["--outcome", "denied"], count(&specs, |s| s.denied)),
        (vec!["--outcome", "allowed"], count(&specs, |s| !s.denied)),
        (
            vec!["--key", "bob", "--outcome", "denied"],
            count(&specs, |s| s.key == 2 && s.denied),
        ),
        (
            vec![
                "--model",
                "hr.employee",
                "--ip",
                "192.168.1.5",
                "--tool",
                "read_records",
            ],
            count(&specs, |s| {
                s.model == "hr.employee" && s.ip == "192.168.1.5" && s.tool == Some("read_records")
            }),
        ),
        (vec!["--kind", "request"], 200),
        (vec!["--kind", "alert"], 2),
        (vec!["--kind", "gap"], 1),
        // 08:50 up to (not including) 09:40: requests 50-99 and the gap at 09:15:30.
        (
            vec![
                "--since",
                "2026-12-01T08:50:00Z",
                "--until",
                "2026-12-01T09:40:00Z",
            ],
            51,
        ),
        (
            vec![
                "--since",
                "2026-12-01T08:50:00Z",
                "--until",
                "2026-12-01T09:40:00Z",
                "--kind",
                "request",
            ],
            50,
        ),
        (vec!["--since", "2026-12-01T11:00:00Z"], 20),
        (vec!["--until", "2026-12-01T08:10:00Z"], 10),
        (vec!["--since", "2026-12-02"], 0),
    ];
    for (args, expected) in &cases {
        assert!(
            *expected > 0 || args.contains(&"2026-12-02"),
            "{args:?} selects nothing"
        );
        let run = search(args);
        assert_eq!(run.lines().len(), *expected, "{args:?}\n{}", run.stderr);
        assert!(
            run.stderr.contains(&format!("{expected} matching")),
            "{args:?}: {}",
            run.stderr
        );
    }
    let one_key = search(&["--key", "ann"]).lines();
    assert!(one_key.iter().all(|l| l["key_name"] == "ann"));

    let chain = search(&["--kind", "chain"]).lines();
    assert!(chain.len() >= 2, "file start and close: {chain:?}");
    assert!(chain.iter().all(|l| l["kind"] == "chain"));
    assert_eq!(chain[0]["chain"]["op"], "file_start");

    let limited = search(&["--limit", "7", "--outcome", "error"]);
    let lines = limited.lines();
    assert_eq!(lines.len(), 7);
    assert_eq!(lines[0]["request_id"], "0");
    assert!(
        limited.stderr.contains("stopped at --limit 7"),
        "{}",
        limited.stderr
    );

    let none = search(&["--key", "nobody"]);
    assert!(none.stdout.is_empty(), "{}", none.stdout);
    assert!(none.stderr.contains("0 matching events"), "{}", none.stderr);

    let table = search(&["--format", "table", "--outcome", "denied"]);
    let rows: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(
        rows.len(),
        1 + count(&specs, |s| s.denied),
        "{}",
        table.stdout
    );
    for column in [
        "TIME", "KEY", "IP", "TOOL", "MODEL", "DECISION", "OUTCOME", "MS",
    ] {
        assert!(rows[0].contains(column), "{}", rows[0]);
    }
    // Request 0: ann, 10.0.0.1, search_records on res.partner, denied, 1.5 ms.
    let first: Vec<&str> = rows[1].split_whitespace().collect();
    assert_eq!(
        first,
        [
            "2026-12-01T08:00:00.000Z",
            "ann",
            "10.0.0.1",
            "search_records",
            "res.partner",
            "deny",
            "forbidden",
            "1.5"
        ],
        "{}",
        rows[1]
    );
    // Columns line up.
    let at = rows[0].find("DECISION").unwrap();
    assert_eq!(rows[1].get(at..at + 4), Some("deny"), "{}", table.stdout);
    let table = search(&["--format", "table", "--kind", "gap"]);
    assert!(table.stdout.contains("gap webhook"), "{}", table.stdout);
    let empty_table = search(&["--format", "table", "--key", "nobody"]);
    assert_eq!(empty_table.stdout.lines().count(), 1, "the header alone");
}

#[test]
fn search_rejects_bad_options_in_one_line() {
    let (dir, _) = search_data();
    let d = path(dir.path());
    for args in [
        vec!["--since", "yesterday-ish"],
        vec!["--since", "2026-12-01T10:00:00+01:00"],
        vec!["--since", "2h", "--until", "3h"],
    ] {
        let mut all = vec!["audit", "search", d];
        all.extend_from_slice(&args);
        let run = run(&all);
        assert_eq!(run.code, 64, "{args:?}: {run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(run.stderr.starts_with("odoo-warden: --"), "{}", run.stderr);
        assert!(run.stdout.is_empty());
    }
    let bad_outcome = run(&["audit", "search", d, "--outcome", "maybe"]);
    assert_eq!(bad_outcome.code, 64, "{bad_outcome:?}");
    let zero = run(&["audit", "search", d, "--limit", "0"]);
    assert_eq!(zero.code, 64, "{zero:?}");
}

#[test]
fn search_takes_relative_times() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let mut sink = JsonlSink::open(JsonlConfig::new(dir.path())).unwrap();
    for (n, ago) in [(0, 120), (1, 10)] {
        sink.write(&[Arc::new(simple(n, now - minutes(ago)))])
            .unwrap();
    }
    sink.close().unwrap();
    let recent = run(&["audit", "search", path(dir.path()), "--since", "1h"]);
    assert_eq!(recent.code, 0, "{recent:?}");
    let lines = recent.lines();
    assert_eq!(lines.len(), 1, "{}", recent.stdout);
    assert_eq!(lines[0]["request_id"], "1");
    let older = run(&["audit", "search", path(dir.path()), "--until", "1h"]);
    assert_eq!(older.lines().len(), 1, "{older:?}");
    let week = run(&["audit", "search", path(dir.path()), "--since", "7d"]);
    assert_eq!(week.lines().len(), 2, "{week:?}");
}

// --- tail ---------------------------------------------------------------------------------

fn request_ids(run: &Run) -> Vec<String> {
    run.lines()
        .iter()
        .map(|l| l["request_id"].as_str().unwrap_or("-").to_owned())
        .collect()
}

#[test]
fn tail_prints_the_latest_events_in_time_order_across_streams() {
    let dir = tempfile::tempdir().unwrap();
    let d = path(dir.path());
    // Two writers at once: streams warden and warden.2, events interleaved in time.
    let mut first = JsonlSink::open(config_at(dir.path(), base())).unwrap();
    let mut second = JsonlSink::open(config_at(dir.path(), base())).unwrap();
    assert_eq!(second.stream(), "warden.2");
    for n in 0..8u64 {
        let sink = if n.is_multiple_of(2) {
            &mut first
        } else {
            &mut second
        };
        sink.write(&[Arc::new(simple(n, base() + minutes(n)))])
            .unwrap();
    }
    first.close().unwrap();
    second.close().unwrap();

    let last3 = run(&["audit", "tail", d, "-n", "3"]);
    assert_eq!(last3.code, 0, "{last3:?}");
    assert_eq!(request_ids(&last3), ["5", "6", "7"]);
    let default = run(&["audit", "tail", d]);
    assert_eq!(
        request_ids(&default),
        ["0", "1", "2", "3", "4", "5", "6", "7"]
    );
    let filtered = run(&[
        "audit",
        "tail",
        d,
        "-n",
        "2",
        "--until",
        "2026-12-01T08:05:00Z",
    ]);
    assert_eq!(request_ids(&filtered), ["3", "4"]);
    let none = run(&["audit", "tail", d, "-n", "0"]);
    assert!(none.stdout.is_empty(), "{none:?}");
    let table = run(&["audit", "tail", d, "-n", "1", "--format", "table"]);
    assert_eq!(table.stdout.lines().count(), 2, "{}", table.stdout);
    assert!(table.stdout.starts_with("TIME"), "{}", table.stdout);
}

/// A child killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The child's stdout lines, as they come.
fn line_reader(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

/// The next line's `request_id`, waiting at most [`WAIT`].
fn next_id(lines: &mpsc::Receiver<String>) -> String {
    let line = lines
        .recv_timeout(WAIT)
        .expect("tail -f printed a line within the wait");
    let event: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert!(event.get("seq").is_none(), "{line}");
    event["request_id"].as_str().unwrap_or("-").to_owned()
}

#[test]
fn tail_follow_prints_events_written_after_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = JsonlConfig::new(dir.path());
    // Small files: the writes below rotate, so the follower must find new files.
    config.max_file_bytes = 2_000;
    let mut sink = JsonlSink::open(config).unwrap();
    let now = SystemTime::now;
    for n in 0..3 {
        sink.write(&[Arc::new(simple(n, now()))]).unwrap();
    }

    let mut child = command(
        &[
            "audit",
            "tail",
            path(dir.path()),
            "-f",
            "-n",
            "2",
            "--key",
            "ann",
        ],
        &[],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .expect("start tail -f");
    let lines = line_reader(&mut child);
    let mut child = Running(child);
    assert_eq!(next_id(&lines), "1");
    assert_eq!(next_id(&lines), "2");

    // Written after the first lines came out: seen by the follow loop, across rotations.
    let files_before = audit_files(dir.path()).len();
    for n in 3..12 {
        sink.write(&[Arc::new(simple(n, now()))]).unwrap();
        let mut other = simple(100 + n, now());
        other.key_name = Some("bob".to_owned());
        other.key_id = Some("k_000000000003".to_owned());
        sink.write(&[Arc::new(other)]).unwrap();
    }
    assert!(
        audit_files(dir.path()).len() > files_before,
        "the writes rotated"
    );
    for n in 3..12 {
        assert_eq!(next_id(&lines), n.to_string(), "filtered, in order");
    }

    // A second writer: a new stream.
    let mut second = JsonlSink::open(JsonlConfig::new(dir.path())).unwrap();
    assert_eq!(second.stream(), "warden.2");
    second.write(&[Arc::new(simple(500, now()))]).unwrap();
    assert_eq!(next_id(&lines), "500");
    assert!(
        lines.recv_timeout(Duration::from_millis(600)).is_err(),
        "nothing else matches"
    );

    #[cfg(unix)]
    {
        // SIGTERM ends the follow loop with exit status 0.
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.0.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success());
        let deadline = std::time::Instant::now() + WAIT;
        let code = loop {
            if let Some(status) = child.0.try_wait().unwrap() {
                break status.code();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "tail -f did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(code, Some(0));
    }
    drop(child);
    sink.close().unwrap();
    second.close().unwrap();
}
