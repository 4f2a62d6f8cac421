//! The configurations under `examples/deployments/` are valid as their READMEs set them up: each
//! `warden.toml` is copied to a temporary folder with the secrets it names (environment
//! variables, files) and the key store its README creates (`odoo-warden keys create`, or an
//! empty file), then `odoo-warden config check` must accept it — exit 0, or 2 where the README
//! explains the warnings — without printing any secret.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Every secret the examples read from the environment, with a recognisable fake value.
const ENV_SECRETS: &[(&str, &str)] = &[
    ("ODOO_API_KEY", "fake-odoo-key-desktop-4b1d7c0e9a"),
    ("ODOO_SALES_API_KEY", "fake-odoo-key-sales-2f8e6a1c55"),
    ("ODOO_SUPPORT_API_KEY", "fake-odoo-key-support-9d3b7e02"),
    ("ODOO_FINANCE_API_KEY", "fake-odoo-key-finance-71c4a8f3"),
    (
        "ODOO_WARDEN_WEBHOOK_SECRET",
        "fake-webhook-secret-0c5e9b2d7a41f6e3b8d0",
    ),
    ("ODOO_WARDEN_OPS_TOKEN", "fake-ops-token-5a2c8e1f"),
    (
        "ODOO_WARDEN_AUDIT_SEAL_KEY",
        "fake-seal-key-from-env-e7b3d91c4a60f28b",
    ),
    // Not a secret, but set per replica the same way.
    ("ODOO_WARDEN_REPLICA", "replica-a"),
];

/// The seal key the team gateway reads from a file.
const SEAL_KEY_FILE: &str = "fake-seal-key-from-file-a81f0d3c6b29e574";

/// The fleet's files: the confirmation key (32 bytes, hex), the Redis and PostgreSQL passwords,
/// and a CA certificate for the database (a real one: its contents are checked).
const CONFIRMATION_KEY_FILE: &str =
    "8b4e1ecc0fffe88567262a5c2e3f20c840ad423ea2ff74c439061a12c957a7bf\n";
const REDIS_PASSWORD_FILE: &str = "fake-redis-password-6c1e93b0";
const POSTGRES_PASSWORD_FILE: &str = "fake-postgres-password-d25a7f41";
const POSTGRES_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBkjCCATmgAwIBAgIUfPrZ8I0rkUjnn0S9FCQtUAJOK00wCgYIKoZIzj0EAwIw
HjEcMBoGA1UEAwwTZXhhbXBsZSBkYXRhYmFzZSBDQTAgFw0yNjEyMDcxMjI0MTda
GA8yMTI2MTExMzEyMjQxN1owHjEcMBoGA1UEAwwTZXhhbXBsZSBkYXRhYmFzZSBD
QTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABJq7gH84Q2lw6/6ilKHe5RDtwdF5
fQs8Xgc+BPndSi9RHMFaac4MwEJ/QBAo95Mk3ykHPFIwJJc1f1Zpw+LDOFajUzBR
MB0GA1UdDgQWBBSyJB7eehj9cE6btUUJ8yTbzup58jAfBgNVHSMEGDAWgBSyJB7e
ehj9cE6btUUJ8yTbzup58jAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cA
MEQCIB9x4oPg/nkPyBCJeV0NxngR1lgqt/PncARKK4n3TdiyAiAyOW7SqdHXKdoi
GBasUBTwUi5hsxGi8sBHqDYfHciaDA==
-----END CERTIFICATE-----
";

/// One deployment example and how its README sets it up.
struct Example {
    /// Its folder under `examples/deployments`.
    name: &'static str,
    /// The environment variables its configuration reads.
    env: &'static [&'static str],
    /// The `odoo-warden keys create` arguments its README gives (after `--config warden.toml`).
    keys: &'static [&'static str],
    /// Files its README creates beside `warden.toml`: (relative path, contents).
    files: &'static [(&'static str, &'static str)],
    /// The exit status of `config check`.
    code: i32,
    /// The warnings `config check` prints, each explained in the README.
    warnings: &'static [&'static str],
}

const EXAMPLES: &[Example] = &[
    Example {
        name: "desktop-stdio",
        env: &["ODOO_API_KEY"],
        keys: &["--name alice-laptop --profile assistant --expires 90d"],
        files: &[],
        code: 0,
        warnings: &[],
    },
    Example {
        name: "team-gateway",
        env: &[
            "ODOO_SALES_API_KEY",
            "ODOO_SUPPORT_API_KEY",
            "ODOO_WARDEN_WEBHOOK_SECRET",
            "ODOO_WARDEN_OPS_TOKEN",
        ],
        keys: &[
            "--name alice-sales --profile sales --expires 90d",
            "--name support-bot --profile support --expires 90d",
        ],
        files: &[("secrets/audit-seal.key", SEAL_KEY_FILE)],
        code: 0,
        warnings: &[],
    },
    Example {
        name: "sso-oauth",
        env: &[
            "ODOO_SALES_API_KEY",
            "ODOO_FINANCE_API_KEY",
            "ODOO_WARDEN_AUDIT_SEAL_KEY",
        ],
        keys: &[],
        // `install -m 0600 /dev/null keys.toml`: an empty key store, tokens only.
        files: &[("keys.toml", "")],
        code: 0,
        warnings: &[],
    },
    Example {
        name: "fleet",
        env: &[
            "ODOO_SALES_API_KEY",
            "ODOO_SUPPORT_API_KEY",
            "ODOO_WARDEN_REPLICA",
        ],
        keys: &[
            "--name alice-sales --profile sales --expires 90d",
            "--name support-bot --profile support --expires 90d",
        ],
        files: &[
            ("secrets/audit-seal.key", SEAL_KEY_FILE),
            ("secrets/confirmation.key", CONFIRMATION_KEY_FILE),
            ("secrets/redis.password", REDIS_PASSWORD_FILE),
            ("secrets/postgres.password", POSTGRES_PASSWORD_FILE),
            ("secrets/postgres-ca.pem", POSTGRES_CA),
        ],
        code: 0,
        warnings: &[],
    },
];

/// What a run printed and its exit status.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn example_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/deployments")
        .join(name)
}

/// `odoo-warden args…` in `dir` with only `env` in the environment.
fn odoo_warden(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_odoo-warden"))
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("run odoo-warden");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn check_example(example: &Example) {
    let source = example_dir(example.name);
    let config = std::fs::read_to_string(source.join("warden.toml")).expect("warden.toml");
    let readme = std::fs::read_to_string(source.join("README.md")).expect("README.md");
    let name = example.name;

    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("warden.toml"), &config).expect("copy warden.toml");
    for (path, contents) in example.files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("folder");
        std::fs::write(path, contents).expect("write file");
    }
    let env: Vec<(&str, &str)> = ENV_SECRETS
        .iter()
        .filter(|(var, _)| example.env.contains(var))
        .copied()
        .collect();
    assert_eq!(env.len(), example.env.len(), "{name}: a secret is missing");
    for var in example.env {
        assert!(config.contains(var), "{name}: warden.toml reads {var}");
        assert!(readme.contains(var), "{name}: the README names {var}");
    }

    // The key store, as the README creates it.
    let mut secrets: Vec<String> = env.iter().map(|(_, value)| (*value).to_owned()).collect();
    secrets.extend(example.files.iter().map(|(_, c)| (*c).to_owned()));
    secrets.retain(|secret| !secret.is_empty());
    for keys in example.keys {
        let command = format!("odoo-warden keys create --config warden.toml {keys}");
        assert!(
            readme.contains(&command),
            "{name}: the README says `{command}`"
        );
        let mut args = vec!["keys", "create", "--config", "warden.toml"];
        args.extend(keys.split(' '));
        let run = odoo_warden(dir.path(), &args, &env);
        assert_eq!(run.code, 0, "{name}: {command}: {}", run.stderr);
        let secret = run.stdout.trim().to_owned();
        assert!(secret.starts_with("owk_"), "{name}: {:?}", run.stdout);
        secrets.push(secret);
    }

    let run = odoo_warden(
        dir.path(),
        &["config", "check", "--config", "warden.toml"],
        &env,
    );
    let output = format!("{}{}", run.stdout, run.stderr);
    assert_eq!(run.code, example.code, "{name}: config check: {output}");
    assert!(
        run.stderr.contains("warden.toml: valid"),
        "{name}: {output}"
    );
    let warnings: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("warning: "))
        .collect();
    assert_eq!(warnings, example.warnings, "{name}: {output}");
    for warning in example.warnings {
        assert!(
            readme.contains(warning),
            "{name}: the README explains the warning `{warning}`"
        );
    }
    for secret in &secrets {
        assert!(
            !output.contains(secret.as_str()),
            "{name}: config check printed a secret: {output}"
        );
        assert!(
            !config.contains(secret.as_str()),
            "{name}: a secret in warden.toml"
        );
    }
}

#[test]
fn desktop_stdio_is_valid() {
    check_example(&EXAMPLES[0]);
}

#[test]
fn team_gateway_is_valid() {
    check_example(&EXAMPLES[1]);
}

#[test]
fn sso_oauth_is_valid() {
    check_example(&EXAMPLES[2]);
}

#[test]
fn fleet_is_valid() {
    check_example(&EXAMPLES[3]);
}

/// The fleet's `haproxy.cfg` is one HAProxy accepts (`haproxy -c`), with a throw-away
/// certificate in place of the one it names.
#[test]
fn the_fleet_haproxy_configuration_is_valid() {
    let haproxy = std::path::Path::new("/usr/sbin/haproxy");
    if !haproxy.is_file() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "haproxy is missing and CI=true: install haproxy"
        );
        let mut stderr = std::io::stderr().lock();
        let _ = std::io::Write::write_all(
            &mut stderr,
            b"SKIP the_fleet_haproxy_configuration_is_valid: haproxy is not installed\n",
        );
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let certified = rcgen::generate_simple_self_signed(vec!["mcp.example.com".to_owned()])
        .expect("a certificate");
    let pem = dir.path().join("mcp.pem");
    std::fs::write(
        &pem,
        format!(
            "{}{}",
            certified.cert.pem(),
            certified.signing_key.serialize_pem()
        ),
    )
    .expect("pem");
    let config =
        std::fs::read_to_string(example_dir("fleet").join("haproxy.cfg")).expect("haproxy.cfg");
    let named = "/etc/haproxy/certs/mcp.example.com.pem";
    assert!(config.contains(named));
    let path = dir.path().join("haproxy.cfg");
    std::fs::write(&path, config.replace(named, &pem.display().to_string())).expect("copy");
    let output = Command::new(haproxy)
        .arg("-c")
        .arg("-f")
        .arg(&path)
        .output()
        .expect("haproxy -c");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn every_deployment_is_tested() {
    let mut found: Vec<String> = std::fs::read_dir(example_dir(""))
        .expect("examples/deployments")
        .map(|entry| entry.expect("entry"))
        .filter(|entry| entry.path().join("warden.toml").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut tested: Vec<&str> = EXAMPLES.iter().map(|e| e.name).collect();
    tested.sort_unstable();
    assert_eq!(found, tested);
}
