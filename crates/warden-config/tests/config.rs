//! The configuration file: shape, defaults, identities, overrides, secrets, the key store, the
//! policy sections, and every refusal naming its key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use warden_config::{Config, ConfigError, Environment};
use warden_odoo::{Credential, Protocol};
use warden_policy::Operation;
use warden_policy::config::{
    FieldRules, GlobLists, IpRulesConfig, ModelRuleConfig, OperationLists, OperationName,
    RateLimitConfig,
};

const MINIMAL: &str = r#"
[odoo]
url = "http://127.0.0.1:8069"
database = "odoo"

[odoo.identities.sales]
login = "sales_agent"
api_key_env = "ODOO_API_KEY"

[keys]
file = "keys.toml"

[profiles.sales]
identity = "sales"
models = { allow = ["res.partner"] }
operations = { allow = ["read"] }
"#;

const KEYS: &str = r#"
[[key]]
id = "k_3b62781464d6"
name = "test-agent"
profile = "sales"
hash = "sha256:5bd75d3a04a9a609e1d695b9f9d2cd4f0ece02c2465abba15c78e727fb010be6"
created = "2026-08-25T00:00:00Z"
expires = "2026-11-23T00:00:00Z"
"#;

const BASE_DIR: &str = "/etc/odoo-warden";

fn env(pairs: &[(&str, &str)]) -> Environment {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn key_env() -> Environment {
    env(&[("ODOO_API_KEY", "0123456789abcdef0123456789abcdef01234567")])
}

/// `MINIMAL` with `extra` lines added to `[odoo]`.
fn with_odoo(extra: &str) -> String {
    MINIMAL.replace(
        "database = \"odoo\"\n",
        &format!("database = \"odoo\"\n{extra}\n"),
    )
}

/// `MINIMAL` with `extra` lines added to `[odoo.identities.sales]`.
fn with_identity(extra: &str) -> String {
    MINIMAL.replace(
        "api_key_env = \"ODOO_API_KEY\"\n",
        &format!("api_key_env = \"ODOO_API_KEY\"\n{extra}\n"),
    )
}

fn parse(text: &str, env: &Environment) -> Result<Config, ConfigError> {
    Config::from_toml_with_keys(text, KEYS, Path::new(BASE_DIR), env)
}

fn valid(text: &str, env: &Environment) -> Config {
    match parse(text, env) {
        Ok(config) => config,
        Err(e) => panic!("expected a valid configuration, got: {e}\n{text}"),
    }
}

fn error(text: &str, env: &Environment) -> String {
    match parse(text, env) {
        Ok(_) => panic!("expected a configuration error for:\n{text}"),
        Err(e) => {
            let message = e.to_string();
            assert_eq!(message.lines().count(), 1, "one line: {message}");
            message
        }
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a folder")).expect("create folder");
    std::fs::write(path, text).expect("write file");
}

#[test]
fn a_minimal_file_gets_safe_defaults() {
    let config = valid(MINIMAL, &key_env());
    assert_eq!(
        config.identities.keys().collect::<Vec<_>>(),
        ["sales"],
        "one identity"
    );
    let odoo = &config.identities["sales"];
    assert_eq!(odoo.login, "sales_agent");
    assert_eq!(odoo.protocol, Protocol::Auto);
    assert_eq!(odoo.timeout, Duration::from_secs(30));
    assert!(!odoo.tls.danger_accept_invalid_certs);
    assert!(!odoo.allow_plain_http);
    assert!(matches!(odoo.credential, Credential::ApiKey(_)));
    assert!(
        !config.tools.write_tools,
        "write tools are off unless turned on"
    );
    assert_eq!(config.limits.max_message_bytes, 1024 * 1024);
    assert_eq!(config.key_store, Path::new(BASE_DIR).join("keys.toml"));
    assert_eq!(config.files, [Path::new(BASE_DIR).join("keys.toml")]);
    assert_eq!(config.policy_config.network, IpRulesConfig::default());
    assert_eq!(config.policy_config.rate_limits, RateLimitConfig::default());
    assert_eq!(
        config.policy.profile("sales").map(|p| p.identity()),
        Some("sales")
    );
    let keys: Vec<_> = config.policy.keys().map(|k| k.id.clone()).collect();
    assert_eq!(keys, ["k_3b62781464d6"]);
    // One key may hold a quarter of the HTTP slots.
    assert_eq!(config.http.max_concurrent_requests, 256);
    assert_eq!(config.http.max_concurrent_requests_per_key, 64);
    let small = valid(
        &format!("{MINIMAL}\n[http]\nmax_concurrent_requests = 2\n"),
        &key_env(),
    );
    assert_eq!(small.http.max_concurrent_requests_per_key, 1);
}

#[test]
fn every_key_is_read() {
    let text = r#"
[odoo]
url = "http://127.0.0.1:8069"
database = "odoo"
protocol = "xmlrpc"
timeout_ms = 1500
connect_timeout_ms = 700
max_response_bytes = 2048
danger_accept_invalid_certs = true
allow_plain_http = true

[odoo.identities.sales]
login = "sales_user"
password_env = "ODOO_PASSWORD"
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

[keys]
file = "/var/lib/odoo-warden/keys.toml"

[network]
allow = ["10.0.0.0/8", "stdio"]
deny = ["10.9.0.0/16"]

[rate_limits]
global_per_minute = 1000
per_key_per_minute = 120
per_ip_per_minute = 300
writes_per_key_per_minute = 20
failed_auth_per_ip_per_minute = 5
burst = 30

[profiles.base]
description = "shared rules"
identity = "sales"
models = { deny = ["ir.*"] }
fields = { read = { deny = ["*password*"] } }

[profiles.sales]
description = "the sales assistant"
extends = ["base"]
models = { allow = ["res.partner", "sale.*"] }
operations = { allow = ["read"], deny = ["delete"] }
methods = { allow = ["name_search"], deny = ["action_cancel"] }
fields = { read = { allow = ["*"], deny = ["vat"] }, write = { allow = ["note"], deny = ["state"] } }
max_records = 100
max_write_ids = 20
confirm_writes = true
network = { allow = ["10.1.0.0/16"], deny = ["10.1.2.3"] }

[profiles.sales.model."sale.order"]
operations = { allow = ["create", "write", "call"] }
methods = { allow = ["action_confirm"] }
fields = { write = { allow = ["client_order_ref"] } }
records = [["company_id", "=", 1], ["state", "in", ["draft", "sent"]]]
"#;
    let config = valid(text, &env(&[("ODOO_PASSWORD", "admin")]));
    let odoo = &config.identities["sales"];
    assert_eq!(odoo.protocol, Protocol::XmlRpc);
    assert_eq!(odoo.login, "sales_user");
    assert!(matches!(odoo.credential, Credential::Password(_)));
    assert_eq!(odoo.timeout, Duration::from_millis(1500));
    assert_eq!(odoo.connect_timeout, Duration::from_millis(700));
    assert_eq!(odoo.max_response_bytes, 2048);
    assert!(odoo.tls.danger_accept_invalid_certs);
    assert!(odoo.allow_plain_http);
    assert_eq!(odoo.uid, Some(2));
    assert_eq!(odoo.context["lang"], "fr_FR");
    assert!(config.tools.write_tools);
    assert_eq!(
        (config.tools.default_limit, config.tools.max_limit),
        (10, 20)
    );
    assert_eq!(config.tools.max_result_bytes, 4096);
    assert_eq!(config.tools.metadata_ttl, Duration::from_secs(5));
    assert_eq!(config.limits.max_message_bytes, 65536);
    assert_eq!(config.limits.max_concurrent_requests, 4);
    assert_eq!(
        config.key_store,
        Path::new("/var/lib/odoo-warden/keys.toml"),
        "an absolute key store path is kept as it is"
    );

    let policy = &config.policy_config;
    assert_eq!(
        policy.network,
        IpRulesConfig {
            allow: vec!["10.0.0.0/8".into(), "stdio".into()],
            deny: vec!["10.9.0.0/16".into()],
        }
    );
    assert_eq!(
        policy.rate_limits,
        RateLimitConfig {
            global_per_minute: Some(1000),
            per_key_per_minute: Some(120),
            per_ip_per_minute: Some(300),
            writes_per_key_per_minute: Some(20),
            failed_auth_per_ip_per_minute: Some(5),
            burst: Some(30),
        }
    );
    let sales = &policy.profiles["sales"];
    assert_eq!(sales.description.as_deref(), Some("the sales assistant"));
    assert_eq!(sales.extends, ["base"]);
    assert_eq!(sales.identity, None, "inherited from base");
    assert_eq!(sales.models.allow, ["res.partner", "sale.*"]);
    assert_eq!(
        sales.operations,
        OperationLists {
            allow: vec![OperationName::Read],
            deny: vec![OperationName::Delete],
        }
    );
    assert_eq!(sales.methods.allow, ["name_search"]);
    assert_eq!(sales.methods.deny, ["action_cancel"]);
    assert_eq!(
        sales.fields,
        FieldRules {
            read: GlobLists {
                allow: vec!["*".into()],
                deny: vec!["vat".into()],
            }
            .into(),
            write: GlobLists {
                allow: vec!["note".into()],
                deny: vec!["state".into()],
            },
        }
    );
    assert_eq!(sales.max_records, Some(100));
    assert_eq!(sales.max_write_ids, Some(20));
    assert_eq!(sales.confirm_writes, Some(true));
    assert_eq!(sales.network.allow, ["10.1.0.0/16"]);
    assert_eq!(sales.network.deny, ["10.1.2.3"]);
    assert_eq!(
        sales.model["sale.order"],
        ModelRuleConfig {
            operations: OperationLists {
                allow: vec![
                    OperationName::Create,
                    OperationName::Write,
                    OperationName::Call
                ],
                deny: vec![],
            },
            methods: GlobLists {
                allow: vec!["action_confirm".into()],
                deny: vec![],
            },
            fields: FieldRules {
                read: GlobLists::default().into(),
                write: GlobLists {
                    allow: vec!["client_order_ref".into()],
                    deny: vec![],
                },
            },
            records: Some(serde_json::json!([
                ["company_id", "=", 1],
                ["state", "in", ["draft", "sent"]]
            ])),
        },
        "a model pattern with dots stays one key"
    );
    assert_eq!(
        config.policy.profile("sales").map(|p| p.identity()),
        Some("sales")
    );
}

#[test]
fn each_identity_has_its_own_login_and_secret_source() {
    let dir = tempfile::tempdir().expect("temp dir");
    let password = dir.path().join("accounting-password");
    write(&password, "accounting-password-value\n");
    let text = format!(
        r#"
[odoo]
url = "https://erp.example.com"
database = "prod"
timeout_ms = 2000

[odoo.identities.sales]
login = "sales-bot@example.com"
api_key_env = "ODOO_SALES_API_KEY"
uid = 8

[odoo.identities.accounting_ro]
login = "accounting-bot@example.com"
password_file = "{}"
lang = "de_DE"

[keys]
file = "keys.toml"

[profiles.sales]
identity = "sales"

[profiles.accounting]
identity = "accounting_ro"
"#,
        password.display()
    );
    let config = valid(&text, &env(&[("ODOO_SALES_API_KEY", "sales-key-value")]));
    assert_eq!(
        config.identities.keys().collect::<Vec<_>>(),
        ["accounting_ro", "sales"]
    );
    let sales = &config.identities["sales"];
    let accounting = &config.identities["accounting_ro"];
    assert_eq!(sales.login, "sales-bot@example.com");
    assert_eq!(accounting.login, "accounting-bot@example.com");
    assert!(matches!(sales.credential, Credential::ApiKey(_)));
    assert!(matches!(accounting.credential, Credential::Password(_)));
    assert_eq!((sales.uid, accounting.uid), (Some(8), None));
    assert!(sales.context.is_empty());
    assert_eq!(accounting.context["lang"], "de_DE");
    for odoo in [sales, accounting] {
        assert_eq!(odoo.url.as_str(), "https://erp.example.com/");
        assert_eq!(odoo.database, "prod");
        assert_eq!(odoo.timeout, Duration::from_millis(2000));
    }
    assert_eq!(
        config.policy.profile("accounting").map(|p| p.identity()),
        Some("accounting_ro")
    );

    // Each identity's secret is its own: a missing one is reported under that identity.
    let message = error(&text, &env(&[]));
    assert!(
        message.contains("odoo.identities.sales.api_key_env"),
        "{message}"
    );
}

#[test]
fn identities_are_required_and_their_names_checked() {
    let none = r#"
[odoo]
url = "http://127.0.0.1:8069"
database = "odoo"

[keys]
file = "keys.toml"
"#;
    let message = error(none, &key_env());
    assert!(message.contains("odoo.identities"), "{message}");
    assert!(message.contains("at least one"), "{message}");

    let long = "a".repeat(65);
    for bad in ["Sales", "sales.eu", "sales bot", "é", long.as_str()] {
        let text = MINIMAL.replace(
            "[odoo.identities.sales]",
            &format!("[odoo.identities.\"{bad}\"]"),
        );
        let message = error(&text, &key_env());
        assert!(
            message.contains(&format!("odoo.identities.{bad}")),
            "{bad}: {message}"
        );
        assert!(message.contains("a-z, 0-9"), "{bad}: {message}");
    }
    let longest = "a".repeat(64);
    let text = MINIMAL
        .replace(
            "[odoo.identities.sales]",
            &format!("[odoo.identities.{longest}]"),
        )
        .replace("identity = \"sales\"", &format!("identity = \"{longest}\""));
    assert!(valid(&text, &key_env()).identities.contains_key(&longest));
}

#[test]
fn the_single_user_shape_explains_where_its_keys_moved() {
    for key in [
        "login = \"admin\"",
        "api_key_env = \"ODOO_API_KEY\"",
        "api_key_file = \"/run/secrets/odoo\"",
        "password_env = \"ODOO_PASSWORD\"",
        "password_file = \"/run/secrets/odoo\"",
        "uid = 2",
        "lang = \"fr_FR\"",
    ] {
        let name = key.split(' ').next().expect("a key");
        let message = error(&with_odoo(key), &key_env());
        assert!(
            message.contains(&format!("`odoo.{name}` moved")),
            "{name}: {message}"
        );
        assert!(
            message.contains("[odoo.identities.NAME]"),
            "{name}: {message}"
        );
        assert!(message.contains("identity = \"NAME\""), "{name}: {message}");
    }
    // The whole earlier file, without any identity, gets the same explanation.
    let old = r#"
[odoo]
url = "http://127.0.0.1:8069"
database = "odoo"
login = "sales_agent"
api_key_env = "ODOO_API_KEY"
"#;
    assert!(error(old, &key_env()).contains("`odoo.login` moved"));
}

#[test]
fn environment_variables_override_file_keys() {
    let text = MINIMAL.replace("[profiles.sales]", "[profiles.sales-agent]");
    let keys = KEYS.replace("profile = \"sales\"", "profile = \"sales-agent\"");
    let mut env = key_env();
    env.insert("WARDEN_ODOO__TIMEOUT_MS".into(), "2500".into());
    env.insert("WARDEN_TOOLS__WRITE".into(), "true".into());
    env.insert(
        "WARDEN_ODOO__IDENTITIES__SALES__LOGIN".into(),
        "other_user".into(),
    );
    // A profile name with `-` is reachable (by a launcher that can set such a name).
    env.insert(
        "WARDEN_PROFILES__SALES-AGENT__MAX_RECORDS".into(),
        "5".into(),
    );
    // Not overrides: no `__` after the prefix.
    env.insert(
        "WARDEN_CONFIG".into(),
        "/etc/odoo-warden/warden.toml".into(),
    );
    env.insert("WARDEN_KEY".into(), "owk_3b62781464d6_secret".into());
    env.insert("UNRELATED".into(), "ignored".into());
    let config = Config::from_toml_with_keys(&text, &keys, Path::new(BASE_DIR), &env)
        .expect("valid with overrides");
    let odoo = &config.identities["sales"];
    assert_eq!(odoo.timeout, Duration::from_millis(2500));
    assert_eq!(odoo.login, "other_user");
    assert!(config.tools.write_tools);
    assert_eq!(
        config.policy_config.profiles["sales-agent"].max_records,
        Some(5)
    );
    assert_eq!(
        config.policy.profile("sales-agent").map(|p| p.identity()),
        Some("sales")
    );

    // The key store's path too.
    let mut env = key_env();
    env.insert("WARDEN_KEYS__FILE".into(), "/srv/keys.toml".into());
    assert_eq!(valid(MINIMAL, &env).key_store, Path::new("/srv/keys.toml"));

    // A list cannot be set from the environment: refused, never half-applied.
    let mut env = key_env();
    env.insert("WARDEN_PROFILES__SALES__MODELS__ALLOW".into(), "*".into());
    assert!(error(MINIMAL, &env).contains("allow"));
}

#[test]
fn unknown_keys_are_refused_in_every_section() {
    for (text, key) in [
        (with_odoo("urll = \"x\""), "urll"),
        (with_identity("logn = \"x\""), "logn"),
        (format!("{MINIMAL}\n[tools]\nwrites = true\n"), "writes"),
        (format!("{MINIMAL}\n[limits]\nmax_bytes = 1\n"), "max_bytes"),
        (format!("{MINIMAL}\n[policy]\nx = 1\n"), "policy"),
        (
            MINIMAL.replace("file = \"keys.toml\"", "file = \"k\"\npath = \"k\""),
            "path",
        ),
        (format!("{MINIMAL}\n[network]\nalow = []\n"), "alow"),
        (
            format!("{MINIMAL}\n[rate_limits]\nper_key = 5\n"),
            "per_key",
        ),
        (format!("{MINIMAL}modles = {{ allow = [] }}\n"), "modles"),
        (format!("{MINIMAL}network = {{ alow = [] }}\n"), "alow"),
        (
            format!("{MINIMAL}fields = {{ read = {{ alow = [\"name\"] }} }}\n"),
            "alow",
        ),
        (
            MINIMAL.replace("allow = [\"read\"]", "allow = [\"unlink\"]"),
            "unlink",
        ),
        (
            format!("{MINIMAL}\n[profiles.sales.model.\"res.partner\"]\nrecrods = []\n"),
            "recrods",
        ),
        (
            format!(
                "{MINIMAL}\n[profiles.sales.model.\"res.partner\"]\nfields = {{ write = {{ alow = [] }} }}\n"
            ),
            "alow",
        ),
    ] {
        let message = error(&text, &key_env());
        assert!(message.contains(key), "{key}: {message}");
    }
    // A typo through the environment is refused too.
    let mut env = key_env();
    env.insert("WARDEN_ODOO__TIMEOUT".into(), "5".into());
    assert!(error(MINIMAL, &env).contains("timeout"));
    let mut env = key_env();
    env.insert("WARDEN_PROFILES__SALES__MAX_RECORD".into(), "5".into());
    assert!(error(MINIMAL, &env).contains("max_record"));
}

#[test]
fn secrets_come_from_the_environment_or_a_file_never_the_file_itself() {
    let no_secret = MINIMAL.replace("api_key_env = \"ODOO_API_KEY\"\n", "");
    let message = error(&no_secret, &key_env());
    assert!(message.contains("odoo.identities.sales"), "{message}");
    assert!(message.contains("no credential"), "{message}");
    let inline = no_secret.replace(
        "login = \"sales_agent\"\n",
        "login = \"sales_agent\"\napi_key = \"0123\"\n",
    );
    assert!(error(&inline, &key_env()).contains("api_key"));
    let two = with_identity("password_env = \"P\"");
    assert!(
        error(&two, &env(&[("ODOO_API_KEY", "k"), ("P", "p")])).contains("several credentials")
    );
    let message = error(MINIMAL, &env(&[]));
    assert!(message.contains("ODOO_API_KEY is not set"), "{message}");
    assert!(
        message.contains("odoo.identities.sales.api_key_env"),
        "{message}"
    );
    assert!(error(MINIMAL, &env(&[("ODOO_API_KEY", "  ")])).contains("empty"));

    let dir = tempfile::tempdir().expect("temp dir");
    let secret = dir.path().join("key");
    write(&secret, "filekey0123\n");
    let with_source = |line: String| {
        no_secret.replace(
            "login = \"sales_agent\"\n",
            &format!("login = \"sales_agent\"\n{line}\n"),
        )
    };
    let from_file = with_source(format!("api_key_file = \"{}\"", secret.display()));
    let config = valid(&from_file, &env(&[]));
    assert!(matches!(
        config.identities["sales"].credential,
        Credential::ApiKey(_)
    ));
    let missing = with_source("password_file = \"/nonexistent/warden-secret\"".to_owned());
    assert!(error(&missing, &env(&[])).contains("odoo.identities.sales.password_file"));
}

#[test]
fn a_secret_never_appears_in_an_error_or_debug_output() {
    let secret = "s3cr3t-value-never-printed";
    let text = MINIMAL.replace("http://127.0.0.1:8069", "http://odoo.example.com");
    let message = error(&text, &env(&[("ODOO_API_KEY", secret)]));
    assert!(!message.contains(secret), "{message}");
    let config = valid(MINIMAL, &env(&[("ODOO_API_KEY", secret)]));
    assert!(!format!("{config:?}").contains(secret));
    // Nor the key store's hashes.
    assert!(!format!("{config:?}").contains("5bd75d3a04a9a609e1d695b9f9d2cd4f"));
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
        (with_odoo("protocol = \"soap\""), "odoo.protocol"),
        (with_odoo("timeout_ms = 0"), "odoo.timeout_ms"),
        (with_odoo("timeout_ms = \"soon\""), "timeout_ms"),
        (with_odoo("protocol = \"session\""), "odoo.identities.sales"),
        (with_identity("uid = \"two\""), "uid"),
        (
            format!("{MINIMAL}\n[tools]\ndefault_limit = 900\nmax_limit = 100\n"),
            "tools.default_limit",
        ),
        (
            format!("{MINIMAL}\n[limits]\nmax_message_bytes = 10\n"),
            "limits.max_message_bytes",
        ),
        (
            with_odoo("tls_ca_file = \"/nonexistent/ca.pem\""),
            "odoo.tls_ca_file",
        ),
        (
            MINIMAL.replace("file = \"keys.toml\"", "file = \"\""),
            "keys.file",
        ),
        (
            format!(
                "{MINIMAL}\n[http]\nmax_concurrent_requests = 8\n\
                 max_concurrent_requests_per_key = 9\n"
            ),
            "http.max_concurrent_requests_per_key",
        ),
        (
            format!("{MINIMAL}\n[http]\nmax_concurrent_requests_per_key = 0\n"),
            "http.max_concurrent_requests_per_key",
        ),
        ("[odoo\nurl=".to_owned(), "config"),
    ] {
        let message = error(&text, &key_env());
        assert!(message.contains(key), "{key}: {message}");
    }
}

#[test]
fn the_key_store_is_required() {
    let text = MINIMAL.replace("[keys]\nfile = \"keys.toml\"\n", "");
    let message = error(&text, &key_env());
    assert!(message.contains("keys.file"), "{message}");
    assert!(message.contains("odoo-warden keys create"), "{message}");
}

#[test]
fn policy_compile_errors_are_configuration_errors() {
    for (text, keys, expected) in [
        (
            MINIMAL.replace("identity = \"sales\"", "identity = \"nobody\""),
            KEYS.to_owned(),
            "nobody",
        ),
        (
            format!(
                "{MINIMAL}extends = [\"b\"]\n\n[profiles.a]\nidentity = \"sales\"\n\
                 extends = [\"sales\"]\n\n[profiles.b]\nidentity = \"sales\"\nextends = [\"a\"]\n"
            ),
            KEYS.to_owned(),
            "cycle",
        ),
        (
            format!("{MINIMAL}extends = [\"missing-parent\"]\n"),
            KEYS.to_owned(),
            "missing-parent",
        ),
        (
            MINIMAL.to_owned(),
            KEYS.replace("profile = \"sales\"", "profile = \"ghost\""),
            "ghost",
        ),
        (
            MINIMAL.to_owned(),
            KEYS.replace("hash = \"sha256:5bd7", "hash = \"md5:5bd7"),
            "/etc/odoo-warden/keys.toml",
        ),
    ] {
        let err = Config::from_toml_with_keys(&text, &keys, Path::new(BASE_DIR), &key_env())
            .expect_err("the policy does not compile");
        assert!(matches!(err, ConfigError::Policy(_)), "{err:?}");
        let message = err.to_string();
        assert!(message.contains(expected), "{expected}: {message}");
        assert_eq!(message.lines().count(), 1, "{message}");
    }
}

#[test]
fn a_key_store_problem_names_the_key_store() {
    let keys = KEYS.replace("profile = \"sales\"", "profile = \"ghost\"");
    let err = Config::from_toml_with_keys(MINIMAL, &keys, Path::new(BASE_DIR), &key_env())
        .expect_err("a key bound to an unknown profile");
    let message = err.to_string();
    assert!(message.contains("/etc/odoo-warden/keys.toml"), "{message}");
    assert!(message.contains("k_3b62781464d6"), "{message}");
}

#[test]
fn a_missing_or_malformed_key_store_names_its_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = dir.path().join("warden.toml");
    write(&config_path, MINIMAL);
    let store = dir.path().join("keys.toml");

    let err = Config::load(&config_path, &key_env()).expect_err("no key store");
    assert!(matches!(err, ConfigError::KeyStore { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&store.display().to_string()), "{message}");
    assert!(message.contains("odoo-warden keys create"), "{message}");

    for malformed in [
        "[[key]\nid = ",
        "[[key]]\nid = 1\n",
        "[[key]]\nid = \"k_3b62781464d6\"\nname = \"x\"\nprofile = \"sales\"\nhash = \"sha256:00\"\n\
         created = \"2026-08-25T00:00:00Z\"\nsecret = \"x\"\n",
        "[keys]\n",
    ] {
        write(&store, malformed);
        let err = Config::load(&config_path, &key_env()).expect_err("malformed key store");
        assert!(matches!(err, ConfigError::KeyStore { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains(&store.display().to_string()), "{message}");
        assert_eq!(message.lines().count(), 1, "{message}");
    }

    let err = Config::from_toml_with_keys(MINIMAL, "[[key]]\n", Path::new(BASE_DIR), &key_env())
        .expect_err("malformed key store text");
    assert!(
        err.to_string().contains("/etc/odoo-warden/keys.toml"),
        "{err}"
    );
}

#[test]
fn relative_secret_and_ca_files_are_relative_to_the_configuration_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let etc = dir.path().join("etc");
    let config_path = etc.join("warden.toml");
    let text = MINIMAL.replace(
        "api_key_env = \"ODOO_API_KEY\"",
        "api_key_file = \"secrets/odoo.key\"",
    );
    write(&config_path, &text);
    write(&etc.join("keys.toml"), KEYS);
    write(&etc.join("secrets").join("odoo.key"), "filekey0123\n");
    // Read from the configuration's folder whatever the working directory (the test's is the
    // crate's folder, which holds no `secrets/`).
    let config = Config::load(&config_path, &env(&[])).expect("valid");
    assert!(matches!(
        config.identities["sales"].credential,
        Credential::ApiKey(_)
    ));
    let text = text.replace(
        "database = \"odoo\"",
        "database = \"odoo\"\ntls_ca_file = \"missing-ca.pem\"",
    );
    write(&config_path, &text);
    let message = match Config::load(&config_path, &env(&[])) {
        Ok(_) => panic!("the CA file does not exist"),
        Err(e) => e.to_string(),
    };
    assert!(
        message.contains(&etc.join("missing-ca.pem").display().to_string()),
        "{message}"
    );
}

#[test]
fn a_relative_key_store_is_relative_to_the_configuration_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = dir.path().join("etc").join("warden.toml");
    write(&config_path, MINIMAL);
    write(&dir.path().join("etc").join("keys.toml"), KEYS);
    let config = Config::load(&config_path, &key_env()).expect("valid");
    let store = dir.path().join("etc").join("keys.toml");
    assert_eq!(config.key_store, store);
    assert_eq!(config.files, [config_path.clone(), store.clone()]);
    assert_eq!(config.policy.keys().count(), 1);

    // Also upwards and sideways.
    let text = MINIMAL.replace("\"keys.toml\"", "\"../var/keys.toml\"");
    write(&config_path, &text);
    write(&dir.path().join("var").join("keys.toml"), KEYS);
    let config = Config::load(&config_path, &key_env()).expect("valid");
    assert_eq!(
        config.key_store,
        dir.path().join("etc").join("../var/keys.toml")
    );

    // Without a file there is no folder: only an absolute path is accepted.
    let message = match Config::from_toml(MINIMAL, &key_env()) {
        Ok(_) => panic!("a relative key store needs a folder"),
        Err(e) => e.to_string(),
    };
    assert!(message.contains("keys.file"), "{message}");
    assert!(message.contains("absolute"), "{message}");
    let text = MINIMAL.replace("\"keys.toml\"", &format!("\"{}\"", store.display()));
    // The audit folder too (it defaults to `audit` beside the configuration file).
    let message = match Config::from_toml(&text, &key_env()) {
        Ok(_) => panic!("a relative audit folder needs a folder"),
        Err(e) => e.to_string(),
    };
    assert!(message.contains("audit.dir"), "{message}");
    let audit = dir.path().join("audit");
    let text = format!("{text}\n[audit]\ndir = \"{}\"\n", audit.display());
    let config = Config::from_toml(&text, &key_env()).expect("valid");
    assert_eq!(
        config.audit.file.as_ref().map(|f| f.dir.clone()),
        Some(audit)
    );
    assert_eq!(config.key_store, store);
    assert_eq!(config.files, [store]);
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let err = Config::load(Path::new("/nonexistent/warden.toml"), &key_env()).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(err.to_string().contains("/nonexistent/warden.toml"));
}

#[test]
fn the_example_policy_loads_and_compiles() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/policy");
    let env = env(&[
        ("ODOO_SALES_API_KEY", "sales-api-key-for-the-test"),
        ("ODOO_ACCOUNTING_API_KEY", "accounting-api-key-for-the-test"),
        ("ODOO_HR_API_KEY", "hr-api-key-for-the-test"),
    ]);
    let config = Config::load(&dir.join("warden.toml"), &env).expect("the example is valid");
    assert_eq!(
        config.identities.keys().collect::<Vec<_>>(),
        ["accounting", "hr", "sales"]
    );
    assert_eq!(config.key_store, dir.join("keys.toml"));
    for (profile, identity) in [
        ("sales-agent", "sales"),
        ("accounting-reader", "accounting"),
        ("hr-bot", "hr"),
    ] {
        let compiled = config.policy.profile(profile).expect(profile);
        assert_eq!(compiled.identity(), identity, "{profile}");
        assert_eq!(
            config.policy_config.profiles[profile].extends,
            ["base"],
            "{profile}"
        );
    }
    let mut bound: Vec<String> = config.policy.keys().map(|k| k.profile.clone()).collect();
    bound.sort();
    assert_eq!(bound, ["accounting-reader", "hr-bot", "sales-agent"]);
    assert!(config.tools.write_tools, "the sales agent writes");

    // What the README promises.
    let policy = &config.policy;
    let sales = policy.profile("sales-agent").expect("sales-agent");
    assert!(sales.field_readable("res.partner", "name"));
    for hidden in ["email", "phone", "mobile", "vat", "password"] {
        assert!(!sales.field_readable("res.partner", hidden), "{hidden}");
    }
    assert!(sales.field_writable("sale.order", "client_order_ref"));
    assert!(!sales.field_writable("sale.order", "state"));
    assert!(sales.method_allowed("sale.order", "action_confirm"));
    assert!(!sales.method_allowed("sale.order", "action_cancel"));
    assert!(!sales.operation_allowed("sale.order", Operation::Delete));
    assert!(!sales.operation_allowed("product.product", Operation::Write));
    assert!(!sales.model_visible("ir.config_parameter"));
    assert!(!sales.model_visible("res.users"));
    assert!(sales.confirm_writes());
    assert_eq!(sales.max_write_ids(), Some(20));
    assert_eq!(
        sales.records_domain("sale.order"),
        Some(serde_json::json!([["company_id", "=", 1]]))
    );
    let accounting = policy
        .profile("accounting-reader")
        .expect("accounting-reader");
    assert!(accounting.operation_allowed("account.move", Operation::Read));
    for op in [
        Operation::Create,
        Operation::Write,
        Operation::Delete,
        Operation::Call,
    ] {
        assert!(!accounting.operation_allowed("account.move", op), "{op}");
    }
    assert!(!accounting.field_readable("res.partner", "email"));
    assert!(!accounting.field_readable("res.partner", "street"));
    let hr = policy.profile("hr-bot").expect("hr-bot");
    assert!(hr.field_readable("hr.employee", "job_title"));
    for hidden in [
        "private_email",
        "ssnid",
        "bank_account_id",
        "birthday",
        "gender",
    ] {
        assert!(!hr.field_readable("hr.employee", hidden), "{hidden}");
    }
    let key = policy
        .keys()
        .find(|k| k.profile == "hr-bot")
        .expect("an hr-bot key");
    let now = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_392_000); // 2026-11-23
    let principal = policy.principal(&key.id, now).expect("a valid key");
    assert!(policy.check_ip(&principal, None).is_err(), "not over stdio");
    assert!(
        policy
            .check_ip(&principal, Some("192.0.2.1".parse().expect("an address")))
            .is_err(),
        "not from outside"
    );
}

#[test]
fn the_audit_signing_key_checkpoints_and_anchors_file_are_read_and_checked() {
    let (key, pem) = warden_audit::SigningKey::generate().expect("key");
    let with_audit = |lines: &str| format!("{MINIMAL}\n[audit]\n{lines}\n");
    let signing = env(&[
        ("ODOO_API_KEY", "0123456789abcdef0123456789abcdef01234567"),
        ("SIGNING", &pem),
    ]);

    // Off by default.
    let config = valid(MINIMAL, &key_env());
    let file = config.audit.file.as_ref().expect("files");
    assert!(file.signer.is_none() && file.anchors_file.is_none());
    assert_eq!(file.checkpoint_interval, Duration::from_secs(300));

    let config = valid(
        &with_audit(
            "signing_key_env = \"SIGNING\"\ncheckpoint_interval_s = 60\nanchors_file = \"../anchors/warden.jsonl\"",
        ),
        &signing,
    );
    let file = config.audit.file.as_ref().expect("files");
    assert_eq!(
        file.signer.as_ref().map(|s| s.id().to_owned()),
        Some(key.id().to_owned())
    );
    assert_eq!(file.checkpoint_interval, Duration::from_secs(60));
    assert_eq!(
        file.anchors_file,
        Some(Path::new(BASE_DIR).join("../anchors/warden.jsonl"))
    );
    // The private key never shows.
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(!format!("{config:?}").contains(&body[10..40]));

    // From a file, relative to the configuration's folder.
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = dir.path().join("warden.toml");
    write(
        &config_path,
        &with_audit("signing_key_file = \"secrets/audit-signing.key\""),
    );
    write(&dir.path().join("keys.toml"), KEYS);
    write(&dir.path().join("secrets/audit-signing.key"), &pem);
    let config = Config::load(&config_path, &key_env()).expect("valid");
    let file = config.audit.file.expect("files");
    assert_eq!(
        file.signer.map(|s| s.id().to_owned()),
        Some(key.id().to_owned())
    );

    for (lines, key) in [
        ("checkpoint_interval_s = 60", "audit.checkpoint_interval_s"),
        (
            "anchors_file = \"/var/anchors.jsonl\"",
            "audit.anchors_file",
        ),
        (
            "signing_key_env = \"SIGNING\"\ncheckpoint_interval_s = 0",
            "audit.checkpoint_interval_s",
        ),
        (
            "signing_key_env = \"SIGNING\"\nanchors_file = \"audit/anchors.jsonl\"",
            "audit.anchors_file",
        ),
        ("signing_key_env = \"UNSET\"", "audit.signing_key_env"),
        ("signing_key_env = \"ODOO_API_KEY\"", "audit.signing_key"),
        (
            "signing_key_env = \"SIGNING\"\nsigning_key_file = \"k\"",
            "audit.signing_key",
        ),
    ] {
        let message = error(&with_audit(lines), &signing);
        assert!(message.contains(key), "{lines}: {message}");
        assert!(!message.contains(&body[10..40]), "{message}");
    }
}

/// The confirmation key of the `[cluster]` tests: 32 random bytes, hex.
const CONFIRM_KEY_HEX: &str = "8f1c0e7a52d94b36a1e0c7f25b9d4e38a6c1f0b7e2d94a5c3b8e1f0a7d6c5b49";

/// `MINIMAL` with a `[cluster]` section of `lines`.
fn with_cluster(lines: &str) -> String {
    format!("{MINIMAL}\n[cluster]\n{lines}\n")
}

fn cluster_env() -> Environment {
    let mut env = key_env();
    env.insert("CONFIRM_KEY".into(), CONFIRM_KEY_HEX.into());
    env.insert("REDIS_PASSWORD".into(), "s3cret-redis-pass".into());
    env
}

#[test]
fn the_cluster_section_is_read_with_safe_defaults() {
    assert!(
        valid(MINIMAL, &key_env()).cluster.is_none(),
        "no [cluster]: one process"
    );
    let config = valid(
        &with_cluster(
            "redis_url = \"rediss://redis.internal:6380/2\"\nconfirmation_key_env = \"CONFIRM_KEY\"",
        ),
        &cluster_env(),
    );
    let cluster = config.cluster.expect("[cluster]");
    assert_eq!(cluster.redis_url.as_str(), "rediss://redis.internal:6380/2");
    assert_eq!(cluster.key_prefix, "odoo-warden:");
    assert_eq!(cluster.timeout, Duration::from_millis(250));
    assert!(cluster.redis_username.is_none() && cluster.redis_password.is_none());
    assert!(!cluster.plain_over_network());
    let config = valid(
        &with_cluster(
            "redis_url = \"redis://127.0.0.1:6379\"\nredis_username = \"warden\"\n\
             redis_password_env = \"REDIS_PASSWORD\"\nkey_prefix = \"prod-warden:\"\n\
             timeout_ms = 100\nconfirmation_key_env = \"CONFIRM_KEY\"",
        ),
        &cluster_env(),
    );
    let cluster = config.cluster.expect("[cluster]");
    assert_eq!(cluster.redis_username.as_deref(), Some("warden"));
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(cluster.redis_password.as_ref().expect("password")),
        "s3cret-redis-pass"
    );
    assert_eq!(cluster.key_prefix, "prod-warden:");
    assert_eq!(cluster.timeout, Duration::from_millis(100));
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&cluster.confirmation_key).len(),
        32
    );
    // Neither secret shows in debug output.
    let debug = format!("{cluster:?}");
    assert!(
        !debug.contains("s3cret") && !debug.contains(&CONFIRM_KEY_HEX[..16]),
        "{debug}"
    );
}

#[test]
fn a_password_in_the_redis_url_is_refused_without_repeating_it() {
    for url in [
        "redis://:hunter2-secret@redis.internal:6379",
        "rediss://warden:hunter2-secret@redis.internal:6379",
    ] {
        let message = error(
            &with_cluster(&format!(
                "redis_url = \"{url}\"\nconfirmation_key_env = \"CONFIRM_KEY\""
            )),
            &cluster_env(),
        );
        assert!(message.contains("cluster.redis_url"), "{message}");
        assert!(message.contains("redis_password_env"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
    let message = error(
        &with_cluster(
            "redis_url = \"redis://warden@redis.internal\"\nconfirmation_key_env = \"CONFIRM_KEY\"",
        ),
        &cluster_env(),
    );
    assert!(message.contains("redis_username"), "{message}");
}

#[test]
fn the_cluster_needs_a_strong_confirmation_key() {
    let url = "redis_url = \"redis://127.0.0.1\"";
    let message = error(&with_cluster(url), &cluster_env());
    assert!(message.contains("confirmation_key_env"), "{message}");
    assert!(message.contains("confirmation_key_file"), "{message}");
    let mut env = cluster_env();
    for (value, expected) in [
        ("00112233445566778899aabbccddeeff", "16 bytes"),
        ("not a key at all!", "neither hex nor base64"),
        (&"ab".repeat(32), "one byte repeated"),
    ] {
        env.insert("CONFIRM_KEY".into(), value.to_owned());
        let message = error(
            &with_cluster(&format!("{url}\nconfirmation_key_env = \"CONFIRM_KEY\"")),
            &env,
        );
        assert!(message.contains(expected), "{value}: {message}");
        assert!(
            message.contains("cluster.confirmation_key_env"),
            "{message}"
        );
        assert!(
            !message.contains(value),
            "the key is not repeated: {message}"
        );
    }
    // Base64 (standard or URL-safe) works as well as hex.
    env.insert(
        "CONFIRM_KEY".into(),
        "jxwOelLZSzah4MfyW51OOKbB8LfiOUpcO44fCn1sW0k=".into(),
    );
    let config = valid(
        &with_cluster(&format!("{url}\nconfirmation_key_env = \"CONFIRM_KEY\"")),
        &env,
    );
    assert!(config.cluster.is_some());
    // Unset variable, missing file, both sources.
    let message = error(
        &with_cluster(&format!("{url}\nconfirmation_key_env = \"NOT_SET\"")),
        &cluster_env(),
    );
    assert!(message.contains("NOT_SET is not set"), "{message}");
    let message = error(
        &with_cluster(&format!(
            "{url}\nconfirmation_key_file = \"/nonexistent/confirm.key\""
        )),
        &cluster_env(),
    );
    assert!(
        message.contains("cluster.confirmation_key_file"),
        "{message}"
    );
    let message = error(
        &with_cluster(&format!(
            "{url}\nconfirmation_key_env = \"CONFIRM_KEY\"\nconfirmation_key_file = \"k\""
        )),
        &cluster_env(),
    );
    assert!(message.contains("only one"), "{message}");
}

#[test]
fn a_confirmation_key_file_is_read_relative_to_the_configuration() {
    let dir = tempfile::tempdir().expect("a temp dir");
    write(
        &dir.path().join("secrets/confirm.key"),
        &format!("{CONFIRM_KEY_HEX}\n"),
    );
    let text = with_cluster(
        "redis_url = \"redis://127.0.0.1\"\nconfirmation_key_file = \"secrets/confirm.key\"",
    );
    let config = Config::from_toml_with_keys(&text, KEYS, dir.path(), &key_env())
        .expect("a valid configuration");
    assert!(config.cluster.is_some());
}

#[test]
fn bad_cluster_values_name_their_key() {
    let key = "confirmation_key_env = \"CONFIRM_KEY\"";
    for (lines, expected) in [
        (key.to_owned(), "cluster.redis_url"),
        (
            format!("redis_url = \"http://redis\"\n{key}"),
            "redis:// or rediss://",
        ),
        (
            format!("redis_url = \"redis:///0\"\n{key}"),
            "cluster.redis_url",
        ),
        (
            format!("redis_url = \"redis://h/x\"\n{key}"),
            "database number",
        ),
        (
            format!("redis_url = \"redis://h\"\ntimeout_ms = 0\n{key}"),
            "cluster.timeout_ms",
        ),
        (
            format!("redis_url = \"redis://h\"\ntimeout_ms = 9\n{key}"),
            "between 10 and 5000",
        ),
        (
            format!("redis_url = \"redis://h\"\ntimeout_ms = 5001\n{key}"),
            "cluster.timeout_ms",
        ),
        (
            format!("redis_url = \"redis://h\"\nkey_prefix = \"\"\n{key}"),
            "cluster.key_prefix",
        ),
        (
            format!("redis_url = \"redis://h\"\nkey_prefix = \"a b\"\n{key}"),
            "cluster.key_prefix",
        ),
        (
            format!("redis_url = \"redis://h\"\nredis_username = \"\"\n{key}"),
            "cluster.redis_username",
        ),
        (
            format!(
                "redis_url = \"redis://h\"\nredis_password_env = \"REDIS_PASSWORD\"\n\
                 redis_password_file = \"p\"\n{key}"
            ),
            "only one",
        ),
        (
            format!("redis_url = \"redis://h\"\nredis_password_env = \"NOPE\"\n{key}"),
            "NOPE is not set",
        ),
        (
            format!("redis_url = \"redis://h\"\nredis_urll = \"x\"\n{key}"),
            "redis_urll",
        ),
    ] {
        let message = error(&with_cluster(&lines), &cluster_env());
        assert!(message.contains(expected), "{lines}: {message}");
    }
    // Environment overrides reach the section, and are validated the same way.
    let mut env = cluster_env();
    env.insert("WARDEN_CLUSTER__TIMEOUT_MS".into(), "99999".into());
    let message = error(
        &with_cluster(&format!("redis_url = \"redis://h\"\n{key}")),
        &env,
    );
    assert!(message.contains("cluster.timeout_ms"), "{message}");
}

#[test]
fn plain_redis_over_the_network_is_a_loud_warning() {
    let key = "confirmation_key_env = \"CONFIRM_KEY\"";
    let warned = |url: &str| {
        let config = valid(
            &with_cluster(&format!("redis_url = \"{url}\"\n{key}")),
            &cluster_env(),
        );
        warden_config::risks(&config, std::time::SystemTime::now())
            .warnings
            .into_iter()
            .any(|w| w.contains("cluster.redis_url") && w.contains("rediss://"))
    };
    assert!(warned("redis://redis.internal:6379"));
    assert!(warned("redis://10.0.0.5"));
    assert!(!warned("redis://127.0.0.1:6379"));
    assert!(!warned("redis://[::1]:6379"));
    assert!(!warned("redis://localhost"));
    assert!(!warned("rediss://redis.internal:6379"));
}

#[test]
fn a_redis_ca_file_is_for_tls_and_must_hold_a_certificate() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    write(&dir.path().join("redis-ca.pem"), pem);
    write(&dir.path().join("not-a-cert.pem"), "hello\n");
    let load = |lines: &str| {
        let text = with_cluster(&format!("{lines}\nconfirmation_key_env = \"CONFIRM_KEY\""));
        Config::from_toml_with_keys(&text, KEYS, dir.path(), &cluster_env())
    };
    let config = load("redis_url = \"rediss://redis.internal\"\nredis_ca_file = \"redis-ca.pem\"")
        .expect("a valid configuration");
    let cluster = config.cluster.expect("[cluster]");
    assert_eq!(cluster.redis_ca_pem.as_deref(), Some(pem.as_bytes()));
    for (lines, expected) in [
        (
            "redis_url = \"redis://127.0.0.1\"\nredis_ca_file = \"redis-ca.pem\"",
            "rediss://",
        ),
        (
            "redis_url = \"rediss://redis.internal\"\nredis_ca_file = \"missing.pem\"",
            "cannot read",
        ),
        (
            "redis_url = \"rediss://redis.internal\"\nredis_ca_file = \"not-a-cert.pem\"",
            "no PEM certificate",
        ),
    ] {
        let message = load(lines).expect_err(lines).to_string();
        assert!(message.contains("cluster.redis_ca_file"), "{message}");
        assert!(message.contains(expected), "{lines}: {message}");
    }
}

#[test]
fn the_postgres_audit_sink_is_read_and_checked() {
    let with_pg = |lines: &str| format!("{MINIMAL}\n[audit.postgres]\n{lines}\n");
    let secrets = env(&[
        ("ODOO_API_KEY", "0123456789abcdef0123456789abcdef01234567"),
        ("PGPASS", "s3cret-pg-password"),
        ("POD_NAME", "gateway-7f9c"),
        ("BAD_POD", "gateway.7"),
    ]);
    // Off by default.
    assert!(valid(MINIMAL, &key_env()).audit.postgres.is_none());

    // Secure defaults: verify-full, fail closed, no retention, 5 s to connect.
    let config = valid(
        &with_pg(
            "url = \"postgres://warden@db.internal:6432/audit\"\npassword_env = \"PGPASS\"\nstream = \"replica-1\"",
        ),
        &secrets,
    );
    let pg = config.audit.postgres.as_ref().expect("postgres");
    assert_eq!(pg.stream, "replica-1");
    assert_eq!(pg.target.tls, warden_audit_pg::TlsMode::VerifyFull);
    assert_eq!(pg.target.host, "db.internal");
    assert_eq!(pg.target.port, 6432);
    assert_eq!(pg.target.connect_timeout, Duration::from_secs(5));
    assert!(pg.target.password.is_some());
    assert_eq!(pg.retention_days, None);
    assert!(matches!(
        pg.options.policy,
        warden_audit::FailurePolicy::Block { .. }
    ));
    assert!(!format!("{config:?}").contains("s3cret-pg-password"));
    let risks = warden_config::risks(&config, std::time::SystemTime::now());
    assert!(
        !risks.warnings.iter().any(|w| w.contains("audit.postgres")),
        "{risks:?}"
    );

    // Every key.
    let dir = tempfile::tempdir().expect("temp dir");
    write(&dir.path().join("ca.pem"), "-----BEGIN CERTIFICATE-----\n");
    write(&dir.path().join("pg.pass"), "from-a-file\n");
    let text = with_pg(&format!(
        "url = \"postgres://warden@db.internal/audit\"\npassword_file = \"{}\"\nstream_env = \"POD_NAME\"\n\
         tls = \"verify-full\"\nca_file = \"{}\"\nretention_days = 400\nconnect_timeout_ms = 1500\n\
         on_failure = \"drop\"\nqueue_capacity = 99",
        dir.path().join("pg.pass").display(),
        dir.path().join("ca.pem").display()
    ));
    let config = valid(&text, &secrets);
    let pg = config.audit.postgres.as_ref().expect("postgres");
    assert_eq!(pg.stream, "gateway-7f9c");
    assert_eq!(pg.target.ca_file, Some(dir.path().join("ca.pem")));
    assert_eq!(pg.retention_days, Some(400));
    assert_eq!(pg.target.connect_timeout, Duration::from_millis(1500));
    assert_eq!(pg.options.policy, warden_audit::FailurePolicy::Drop);
    assert_eq!(pg.options.queue_capacity, 99);
    let risks = warden_config::risks(&config, std::time::SystemTime::now());
    assert!(
        risks
            .warnings
            .iter()
            .any(|w| w.contains("audit.postgres.on_failure = \"drop\"")),
        "{risks:?}"
    );
    assert!(
        risks
            .notes
            .iter()
            .any(|w| w.contains("audit.postgres.retention_days")),
        "{risks:?}"
    );

    // tls = "require" works, loudly; "disable" only on loopback.
    let config = valid(
        &with_pg("url = \"postgres://w@db.internal/a\"\nstream = \"s\"\ntls = \"require\""),
        &secrets,
    );
    let risks = warden_config::risks(&config, std::time::SystemTime::now());
    assert!(
        risks
            .warnings
            .iter()
            .any(|w| w.contains("audit.postgres.tls = \"require\"")),
        "{risks:?}"
    );
    for host in ["127.0.0.1", "localhost", "[::1]"] {
        let config = valid(
            &with_pg(&format!(
                "url = \"postgres://w@{host}/a\"\nstream = \"s\"\ntls = \"disable\""
            )),
            &secrets,
        );
        assert_eq!(
            config.audit.postgres.expect("postgres").target.tls,
            warden_audit_pg::TlsMode::Disable
        );
    }

    for (lines, key, why) in [
        (
            "url = \"postgres://w:s3cret-pg-password@db/a\"\nstream = \"s\"",
            "audit.postgres.url",
            "password",
        ),
        (
            "url = \"mysql://w@db/a\"\nstream = \"s\"",
            "audit.postgres.url",
            "postgres://",
        ),
        (
            "url = \"postgres://w@db/a\"",
            "audit.postgres.stream",
            "required",
        ),
        (
            "url = \"postgres://w@db/a\"\nstream = \"a.b\"",
            "audit.postgres.stream",
            "letters",
        ),
        (
            "url = \"postgres://w@db/a\"\nstream_env = \"BAD_POD\"",
            "audit.postgres.stream",
            "letters",
        ),
        (
            "url = \"postgres://w@db/a\"\nstream = \"s\"\nstream_env = \"POD_NAME\"",
            "audit.postgres.stream",
            "only one",
        ),
        (
            "url = \"postgres://w@db/a\"\nstream_env = \"NOT_SET\"",
            "audit.postgres.stream_env",
            "NOT_SET",
        ),
        (
            "url = \"postgres://w@db/a\"\nstream = \"s\"\npassword_env = \"PGPASS\"\npassword_file = \"/x\"",
            "audit.postgres.password",
            "only one",
        ),
        (
            "url = \"postgres://w@db/a\"\nstream = \"s\"\npassword_env = \"NOT_SET\"",
            "audit.postgres.password_env",
            "NOT_SET",
        ),
        (
            "url = \"postgres://w@db/a\"\nstream = \"s\"\npassword_file = \"/nonexistent/pg.pass\"",
            "audit.postgres.password_file",
            "cannot read",
        ),
        (
            "url = \"postgres://w@db.internal/a\"\nstream = \"s\"\ntls = \"disable\"",
            "audit.postgres.tls",
            "loopback",
        ),
        (
            "url = \"postgres://w@db/a\"\nstream = \"s\"\ntls = \"prefer\"",
            "audit.postgres.tls",
            "verify-full",
        ),
        (
            "url = \"postgres://w@db/a\"\nstream = \"s\"\ntls = \"require\"\nca_file = \"/etc/ssl/ca.pem\"",
            "audit.postgres.ca_file",
            "verify-full",
        ),
        (
            "url = \"postgres://w@db/a\"\nstream = \"s\"\nca_file = \"/nonexistent/ca.pem\"",
            "audit.postgres.ca_file",
            "not a file",
        ),
        (
            "url = \"postgres://w@db/a\"\nstream = \"s\"\nretention_days = 0",
            "audit.postgres.retention_days",
            "at least 1",
        ),
        (
            "url = \"postgres://w@db/a\"\nstream = \"s\"\nconnect_timeout_ms = 0",
            "audit.postgres.connect_timeout_ms",
            "1-600000",
        ),
        (
            "url = \"postgres://w@db/a\"\nstream = \"s\"\non_failure = \"ignore\"",
            "audit.postgres.on_failure",
            "block",
        ),
        (
            "url = \"postgres://w@db/a\"\nstream = \"s\"\nqueue_capacity = 0",
            "audit.postgres.queue_capacity",
            "at least 1",
        ),
        (
            "url = \"postgres://w@db/a\"\nstream = \"s\"\npool_size = 4",
            "pool_size",
            "unknown",
        ),
    ] {
        let message = error(&with_pg(lines), &secrets);
        assert!(message.contains(key), "{key}: {message}");
        assert!(message.contains(why), "{why}: {message}");
        assert!(!message.contains("s3cret-pg-password"), "{message}");
    }
}

#[test]
fn several_replicas_without_shared_state_are_a_warning() {
    let risks = |text: &str, env: &Environment| {
        warden_config::risks(&valid(text, env), std::time::SystemTime::now())
    };
    let replicas = |n: usize| format!("{MINIMAL}\n[http]\nreplicas = {n}\n");
    let fleet_warning = |r: &warden_config::Risks| {
        r.warnings.iter().any(|w| {
            w.contains("http.replicas = 3 without [cluster]") && w.contains("multiplied by 3")
        })
    };
    // The default is one process: nothing to say.
    assert_eq!(valid(MINIMAL, &key_env()).http.replicas, 1);
    let one = risks(&replicas(1), &key_env());
    assert!(
        !one.warnings.iter().any(|w| w.contains("http.replicas")),
        "{one:?}"
    );
    // Three without [cluster]: a warning, and a note about the scattered audit folders.
    let three = risks(&replicas(3), &key_env());
    assert!(fleet_warning(&three), "{three:?}");
    assert!(
        three.notes.iter().any(|n| n.contains("[audit.postgres]")),
        "{three:?}"
    );
    // Three sharing their state on Redis: no warning.
    let shared = format!(
        "{}\n[cluster]\nredis_url = \"rediss://redis.internal\"\nconfirmation_key_env = \"CONFIRM_KEY\"\n",
        replicas(3)
    );
    let shared = risks(&shared, &cluster_env());
    assert!(!fleet_warning(&shared), "{shared:?}");
    // Behind a proxy without [cluster]: a note, not a warning.
    let proxied = risks(
        &format!("{MINIMAL}\n[http]\ntrusted_proxies = [\"10.0.0.2\"]\n"),
        &key_env(),
    );
    assert!(
        proxied
            .notes
            .iter()
            .any(|n| n.contains("http.trusted_proxies") && n.contains("[cluster]")),
        "{proxied:?}"
    );
    // Out of bounds.
    for n in [0, 1001] {
        let message = error(&replicas(n), &key_env());
        assert!(message.contains("http.replicas"), "{message}");
    }
}
