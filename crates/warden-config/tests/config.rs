//! The configuration file: shape, defaults, overrides, secrets, and every refusal naming its key.

use std::time::Duration;

use warden_config::{Config, ConfigError, Environment};
use warden_odoo::{Credential, Protocol};

const MINIMAL: &str = r#"
[odoo]
url = "http://127.0.0.1:8069"
database = "odoo"
login = "sales_agent"
api_key_env = "ODOO_API_KEY"
"#;

fn env(pairs: &[(&str, &str)]) -> Environment {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn key_env() -> Environment {
    env(&[("ODOO_API_KEY", "0123456789abcdef0123456789abcdef01234567")])
}

fn error(text: &str, env: &Environment) -> String {
    match Config::from_toml(text, env) {
        Ok(_) => panic!("expected a configuration error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_minimal_file_gets_safe_defaults() {
    let config = Config::from_toml(MINIMAL, &key_env()).expect("valid");
    assert_eq!(config.odoo.protocol, Protocol::Auto);
    assert_eq!(config.odoo.timeout, Duration::from_secs(30));
    assert!(!config.odoo.tls.danger_accept_invalid_certs);
    assert!(!config.odoo.allow_plain_http);
    assert!(matches!(config.odoo.credential, Credential::ApiKey(_)));
    assert!(
        !config.tools.write_tools,
        "write tools are off unless turned on"
    );
    assert_eq!(config.limits.max_message_bytes, 1024 * 1024);
}

#[test]
fn every_key_is_read() {
    let text = r#"
[odoo]
url = "http://127.0.0.1:8069"
database = "odoo"
login = "admin"
protocol = "xmlrpc"
password_env = "ODOO_PASSWORD"
timeout_ms = 1500
connect_timeout_ms = 700
max_response_bytes = 2048
uid = 2
lang = "fr_FR"

[tools]
write = true
default_limit = 10
max_limit = 20
max_result_bytes = 4096
metadata_ttl_s = 5

[limits]
max_message_bytes = 65536
max_concurrent_requests = 4
"#;
    let config = Config::from_toml(text, &env(&[("ODOO_PASSWORD", "admin")])).expect("valid");
    assert_eq!(config.odoo.protocol, Protocol::XmlRpc);
    assert!(matches!(config.odoo.credential, Credential::Password(_)));
    assert_eq!(config.odoo.timeout, Duration::from_millis(1500));
    assert_eq!(config.odoo.connect_timeout, Duration::from_millis(700));
    assert_eq!(config.odoo.max_response_bytes, 2048);
    assert_eq!(config.odoo.uid, Some(2));
    assert_eq!(config.odoo.context["lang"], "fr_FR");
    assert!(config.tools.write_tools);
    assert_eq!(
        (config.tools.default_limit, config.tools.max_limit),
        (10, 20)
    );
    assert_eq!(config.tools.max_result_bytes, 4096);
    assert_eq!(config.tools.metadata_ttl, Duration::from_secs(5));
    assert_eq!(config.limits.max_message_bytes, 65536);
    assert_eq!(config.limits.max_concurrent_requests, 4);
}

#[test]
fn environment_variables_override_file_keys() {
    let mut env = key_env();
    env.insert("WARDEN_ODOO__TIMEOUT_MS".into(), "2500".into());
    env.insert("WARDEN_TOOLS__WRITE".into(), "true".into());
    env.insert("UNRELATED".into(), "ignored".into());
    let config = Config::from_toml(MINIMAL, &env).expect("valid");
    assert_eq!(config.odoo.timeout, Duration::from_millis(2500));
    assert!(config.tools.write_tools);
}

#[test]
fn unknown_keys_are_refused_in_every_section() {
    for (text, key) in [
        (format!("{MINIMAL}urll = \"x\"\n"), "urll"),
        (format!("{MINIMAL}\n[tools]\nwrites = true\n"), "writes"),
        (format!("{MINIMAL}\n[limits]\nmax_bytes = 1\n"), "max_bytes"),
        (format!("{MINIMAL}\n[policy]\nx = 1\n"), "policy"),
    ] {
        let message = error(&text, &key_env());
        assert!(message.contains(key), "{key}: {message}");
    }
    // A typo through the environment is refused too.
    let mut env = key_env();
    env.insert("WARDEN_ODOO__TIMEOUT".into(), "5".into());
    assert!(error(MINIMAL, &env).contains("timeout"));
}

#[test]
fn secrets_come_from_the_environment_or_a_file_never_the_file_itself() {
    let no_secret = MINIMAL.replace("api_key_env = \"ODOO_API_KEY\"\n", "");
    assert!(error(&no_secret, &key_env()).contains("no credential"));
    let inline = format!("{no_secret}api_key = \"0123\"\n");
    assert!(error(&inline, &key_env()).contains("api_key"));
    let two = format!("{MINIMAL}password_env = \"P\"\n");
    assert!(
        error(&two, &env(&[("ODOO_API_KEY", "k"), ("P", "p")])).contains("several credentials")
    );
    assert!(error(MINIMAL, &env(&[])).contains("ODOO_API_KEY is not set"));
    assert!(error(MINIMAL, &env(&[("ODOO_API_KEY", "  ")])).contains("empty"));

    let dir = std::env::temp_dir().join(format!("warden-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("key");
    std::fs::write(&secret, "filekey0123\n").unwrap();
    let from_file = no_secret.clone() + &format!("api_key_file = \"{}\"\n", secret.display());
    let config = Config::from_toml(&from_file, &env(&[])).expect("valid");
    assert!(matches!(config.odoo.credential, Credential::ApiKey(_)));
    let missing = no_secret + "password_file = \"/nonexistent/warden-secret\"\n";
    assert!(error(&missing, &env(&[])).contains("odoo.password_file"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_secret_never_appears_in_an_error_or_debug_output() {
    let secret = "s3cr3t-value-never-printed";
    let text = MINIMAL.replace("http://127.0.0.1:8069", "http://odoo.example.com");
    let message = error(&text, &env(&[("ODOO_API_KEY", secret)]));
    assert!(!message.contains(secret), "{message}");
    let config = Config::from_toml(MINIMAL, &env(&[("ODOO_API_KEY", secret)])).expect("valid");
    assert!(!format!("{config:?}").contains(secret));
}

#[test]
fn bad_values_name_their_key() {
    for (text, key) in [
        (
            MINIMAL.replace("http://127.0.0.1:8069", "not a url"),
            "odoo.url",
        ),
        (
            MINIMAL.replace("http://127.0.0.1:8069", "http://odoo.example.com"),
            "plain http",
        ),
        (format!("{MINIMAL}protocol = \"soap\"\n"), "odoo.protocol"),
        (format!("{MINIMAL}timeout_ms = 0\n"), "odoo.timeout_ms"),
        (format!("{MINIMAL}timeout_ms = \"soon\"\n"), "timeout_ms"),
        (
            format!("{MINIMAL}\n[tools]\ndefault_limit = 900\nmax_limit = 100\n"),
            "tools.default_limit",
        ),
        (
            format!("{MINIMAL}\n[limits]\nmax_message_bytes = 10\n"),
            "limits.max_message_bytes",
        ),
        (
            format!("{MINIMAL}tls_ca_file = \"/nonexistent/ca.pem\"\n"),
            "odoo.tls_ca_file",
        ),
        ("[odoo\nurl=".to_owned(), "config"),
    ] {
        let message = error(&text, &key_env());
        assert!(message.contains(key), "{key}: {message}");
        assert!(message.lines().count() == 1, "one line: {message}");
    }
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let err =
        Config::load(std::path::Path::new("/nonexistent/warden.toml"), &key_env()).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(err.to_string().contains("/nonexistent/warden.toml"));
}
