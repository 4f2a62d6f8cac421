//! `odoo-warden config check`: exit 0 without warnings, 2 with warnings, 64 for an invalid
//! configuration (one line), and with `--online` 1 when an identity cannot log in.

mod support;

use support::{CONFIG, Run, Setup};

fn check(setup: &Setup, extra: &[&str]) -> Run {
    let mut argv = vec!["config", "check"];
    argv.extend_from_slice(extra);
    setup.run(&argv)
}

fn warnings(run: &Run) -> Vec<&str> {
    run.stdout
        .lines()
        .filter_map(|l| l.strip_prefix("warning: "))
        .collect()
}

/// Read-only, keys with an expiry, every profile used.
fn clean_setup() -> Setup {
    let config = CONFIG.replace("write = true", "write = false");
    let setup = Setup::new(&config);
    setup.create_key("alice", "reader", &["--expires", "30d"]);
    setup.create_key(
        "bob",
        "writer",
        &["--expires", "30d", "--allow-ip", "10.0.0.0/8"],
    );
    setup
}

#[test]
fn a_clean_configuration_exits_0() {
    let setup = clean_setup();
    let run = check(&setup, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(warnings(&run).is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("valid; 0 warning(s)"), "{}", run.stderr);
}

#[test]
fn risky_settings_are_warned_about_with_exit_2() {
    let config = CONFIG
        .replace("login = \"sales_agent\"", "login = \"admin\"")
        .replace(
            "database = \"odoo\"",
            "database = \"odoo\"\ndanger_accept_invalid_certs = true",
        );
    let setup = Setup::new(&config);
    let (writer, _) = setup.create_key("alice", "writer", &[]);
    let (forever, _) = setup.create_key(
        "bob",
        "reader",
        &["--no-expiry", "--allow-ip", "10.0.0.0/8"],
    );
    let run = check(&setup, &[]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let warnings = warnings(&run);
    let has = |needle: &str| warnings.iter().any(|w| w.contains(needle));
    assert!(
        has(&format!("tools.write = true and key {writer}")),
        "write tools without IP rules: {warnings:#?}"
    );
    assert!(
        !has(&format!("tools.write = true and key {forever}")),
        "a reader key cannot change data: {warnings:#?}"
    );
    assert!(
        has(&format!("key {forever} (\"bob\") never expires")),
        "{warnings:#?}"
    );
    assert!(
        has("identity \"sales\" (login \"admin\") is an Odoo administrator"),
        "{warnings:#?}"
    );
    assert!(has("danger_accept_invalid_certs"), "{warnings:#?}");
    // The policy's own warnings are all there.
    assert!(
        has(&format!("key {writer} (\"alice\") may change data")),
        "{warnings:#?}"
    );
    // The same, as one JSON object for scripts: the same warnings, the same exit status.
    let json = check(&setup, &["--json"]);
    assert_eq!(json.code, 2, "{}{}", json.stdout, json.stderr);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).expect("one JSON object");
    assert_eq!(report["valid"], true);
    let listed: Vec<&str> = report["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(serde_json::Value::as_str)
        .collect();
    assert_eq!(listed, warnings, "the text and the JSON say the same");
    assert_eq!(report["errors"], serde_json::json!([]));
}

#[test]
fn admin_uids_and_plain_http_are_warned_about() {
    let config = CONFIG
        .replace(
            "api_key_env = \"TEST_ODOO_API_KEY\"",
            "api_key_env = \"TEST_ODOO_API_KEY\"\nuid = 2",
        )
        .replace("write = true", "write = false")
        .replace(
            "url = \"http://127.0.0.1:8069\"",
            "url = \"http://odoo.internal:8069\"\nallow_plain_http = true",
        );
    let setup = Setup::new(&config);
    setup.create_key("alice", "reader", &["--expires", "30d"]);
    setup.create_key(
        "bob",
        "writer",
        &["--expires", "30d", "--allow-ip", "10.0.0.0/8"],
    );
    let run = check(&setup, &[]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let warnings = warnings(&run);
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(
        warnings[0]
            .contains("is an Odoo administrator, and profile(s) \"reader\", \"writer\" run as it"),
        "{warnings:#?}"
    );
    assert!(warnings[1].contains("allow_plain_http"), "{warnings:#?}");
}

#[test]
fn invalid_configurations_exit_64_with_one_line() {
    let cases = [
        CONFIG.replace("[profiles.writer]", "[profiles.writer]\nmodles = []"),
        CONFIG.replace("extends = [\"reader\"]", "extends = [\"nobody\"]"),
        CONFIG.replace("url = \"http://127.0.0.1:8069\"", "url = \"ftp://x\""),
    ];
    for config in cases {
        let setup = Setup::new(&config);
        std::fs::write(setup.store(), "").unwrap();
        let run = check(&setup, &[]);
        assert_eq!(run.code, 64, "{config}\n{}{}", run.stdout, run.stderr);
        assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
        assert!(run.stdout.is_empty(), "{}", run.stdout);
    }
    // A missing key store, and a missing secret.
    let setup = Setup::new(CONFIG);
    assert_eq!(check(&setup, &[]).code, 64);
    std::fs::write(setup.store(), "").unwrap();
    let run = support::run_with(&setup.config(), &["config", "check"], &[]);
    assert_eq!(run.code, 64, "{}", run.stderr);
    assert!(run.stderr.contains("TEST_ODOO_API_KEY"), "{}", run.stderr);
}

#[test]
fn online_logs_in_as_every_identity() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let sim = runtime.block_on(warden_odoo_sim::start(
        ([127, 0, 0, 1], 0).into(),
        warden_odoo_sim::SimOptions::default(),
    ))?;
    let config = CONFIG
        .replace("http://127.0.0.1:8069", &sim.url())
        .replace(
            "database = \"odoo\"",
            &format!("database = \"{}\"", sim.database()),
        )
        .replace("write = true", "write = false")
        .replace(
            "[keys]",
            "[odoo.identities.boss]\nlogin = \"admin\"\napi_key_env = \"TEST_ADMIN_KEY\"\n\n[keys]",
        )
        .replace(
            "[profiles.writer]",
            "[profiles.boss]\nidentity = \"boss\"\nextends = [\"reader\"]\n\n[profiles.writer]",
        );
    let setup = Setup::new(&config);
    let agent_key = sim.api_key("sales_agent").expect("demo user");
    let admin_key = sim.api_key("admin").expect("demo user");
    let env = [
        (support::KEY_VAR, agent_key.as_str()),
        ("TEST_ADMIN_KEY", admin_key.as_str()),
    ];
    for (name, profile) in [("a", "reader"), ("b", "writer"), ("c", "boss")] {
        let run = support::run_with(
            &setup.config(),
            &[
                "keys",
                "create",
                "--name",
                name,
                "--profile",
                profile,
                "--expires",
                "30d",
                "--allow-ip",
                "10.0.0.0/8",
            ],
            &env,
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    // Offline: the admin login is flagged.
    let offline = support::run_with(&setup.config(), &["config", "check"], &env);
    assert_eq!(offline.code, 2, "{}{}", offline.stdout, offline.stderr);
    assert_eq!(warnings(&offline).len(), 1, "{}", offline.stdout);

    let online = support::run_with(&setup.config(), &["config", "check", "--online"], &env);
    assert_eq!(online.code, 2, "{}{}", online.stdout, online.stderr);
    assert_eq!(
        warnings(&online).len(),
        1,
        "flagged once: {}",
        online.stdout
    );
    assert!(
        online.stdout.contains("identity \"boss\""),
        "{}",
        online.stdout
    );
    assert!(
        online.stderr.contains("0 identity login failure(s)"),
        "{}",
        online.stderr
    );

    // A wrong secret: reported, exit 1, the secret never printed.
    let wrong = "ffffffffffffffffffffffffffffffffffffffff";
    let failing = support::run_with(
        &setup.config(),
        &["config", "check", "--online"],
        &[
            (support::KEY_VAR, wrong),
            ("TEST_ADMIN_KEY", admin_key.as_str()),
        ],
    );
    assert_eq!(failing.code, 1, "{}{}", failing.stdout, failing.stderr);
    assert!(
        failing
            .stdout
            .contains("error: identity \"sales\" (login \"sales_agent\") cannot log in"),
        "{}",
        failing.stdout
    );
    assert!(!failing.stdout.contains(wrong) && !failing.stderr.contains(wrong));

    runtime.block_on(sim.shutdown());
    Ok(())
}

#[test]
fn risky_http_settings_are_warned_about() {
    let config = format!(
        "{}\n[http]\nbind = \"0.0.0.0:8765\"\nallowed_hosts = [\"mcp.example.com\"]\n\
         allowed_origins = [\"http://app.example.com\"]\n",
        CONFIG.replace("write = true", "write = false")
    );
    let setup = Setup::new(&config);
    setup.create_key("alice", "reader", &["--expires", "30d"]);
    setup.create_key(
        "bob",
        "writer",
        &["--expires", "30d", "--allow-ip", "10.0.0.0/8"],
    );
    let run = check(&setup, &[]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let warnings = warnings(&run);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("plain HTTP on a non-loopback address")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("http://app.example.com")),
        "{warnings:?}"
    );
    // Behind a trusted proxy that covers everything: the other warning.
    let config = config.replace(
        "allowed_origins = [\"http://app.example.com\"]",
        "trusted_proxies = [\"0.0.0.0/0\"]",
    );
    let setup = Setup::new(&config);
    setup.create_key("alice", "reader", &["--expires", "30d"]);
    let run = check(&setup, &[]);
    let warnings = self::warnings(&run);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("every peer may set the client address")),
        "{warnings:?}"
    );
    assert!(
        !warnings
            .iter()
            .any(|w| w.contains("plain HTTP on a non-loopback")),
        "{warnings:?}"
    );
}

/// With Odoo's metadata, `config check --online` lists the fields a denial hides because Odoo
/// derives them from the denied one (notes), and warns where a records domain does not reach a
/// model's one2many children (its order lines).
#[test]
fn online_lists_what_each_denial_and_records_domain_reach() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let sim = runtime.block_on(warden_odoo_sim::start(
        ([127, 0, 0, 1], 0).into(),
        warden_odoo_sim::SimOptions::default(),
    ))?;
    let config = CONFIG
        .replace("http://127.0.0.1:8069", &sim.url())
        .replace(
            "database = \"odoo\"",
            &format!("database = \"{}\"", sim.database()),
        )
        .replace(
            "[profiles.writer]\n",
            "[profiles.reader.model.\"sale.order\"]\nrecords = [[\"user_id\", \"=\", 8]]\n\n[profiles.writer]\n",
        )
        .replace(
            "models = { allow = [\"res.partner\", \"sale.order\"] }",
            "models = { allow = [\"res.partner\", \"sale.order\", \"sale.order.line\"] }",
        )
        .replace("write = true", "write = false");
    let setup = Setup::new(&config);
    setup.create_key("alice", "reader", &["--expires", "30d"]);
    setup.create_key(
        "bob",
        "writer",
        &["--expires", "30d", "--allow-ip", "10.0.0.0/8"],
    );
    let key = sim.api_key("sales_agent").expect("demo user");
    let env = [(support::KEY_VAR, key.as_str())];

    let offline = support::run_with(&setup.config(), &["config", "check"], &env);
    assert!(
        !offline.stderr.contains("derived from"),
        "offline knows no metadata: {}",
        offline.stderr
    );

    let online = support::run_with(&setup.config(), &["config", "check", "--online"], &env);
    assert_eq!(online.code, 2, "{}{}", online.stdout, online.stderr);
    // Notes go to stderr, with the summary.
    let derived = online
        .stderr
        .lines()
        .find(|l| {
            l.starts_with("note: profile \"reader\": res.partner:")
                && l.contains("derived from res.partner.phone")
        })
        .unwrap_or_else(|| panic!("{}", online.stderr));
    assert!(derived.contains("phone_sanitized"), "{derived}");
    assert!(
        online
            .stderr
            .contains("note: profile \"reader\": res.partner: display_name"),
        "display_name follows the e-mail: {}",
        online.stderr
    );
    let uncovered = warnings(&online)
        .into_iter()
        .find(|w| w.contains("records domain on sale.order does not cover sale.order.line"))
        .unwrap_or_else(|| panic!("{}", online.stdout));
    assert!(uncovered.starts_with("profile \"reader\""), "{uncovered}");
    Ok(())
}
