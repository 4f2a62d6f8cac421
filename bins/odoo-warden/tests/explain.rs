//! `odoo-warden policy explain`: ALLOW or DENY with the rule behind each step, exit status 0
//! allowed, 1 denied, 64 usage or configuration error; offline and, against the simulator on
//! loopback, online.

mod support;

use support::{CONFIG, Run, Setup};

fn explain(setup: &Setup, key: &str, tool: &str, args: &str, extra: &[&str]) -> Run {
    let mut argv = vec![
        "policy", "explain", "--key", key, "--tool", tool, "--args", args,
    ];
    argv.extend_from_slice(extra);
    setup.run(&argv)
}

#[test]
fn allowed_calls_exit_0_and_name_the_rules() {
    let setup = Setup::new(CONFIG);
    let (id, _) = setup.create_key("alice", "writer", &[]);
    let run = explain(
        &setup,
        &id,
        "update_records",
        r#"{"model": "sale.order", "ids": [1, 2], "values": "{'note': 'rush'}"}"#,
        &[],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("ALLOW\n"), "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "operation \"write\" on \"sale.order\": allowed by profile \"writer\": model.\"sale.order\".operations.allow \"write\""
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("field \"note\" of \"sale.order\" (write): allowed by profile \"writer\": model.\"sale.order\".fields.write.allow \"note\""),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("decision: allowed"), "{}", run.stdout);
}

#[test]
fn denied_calls_exit_1_and_name_the_rule() {
    let setup = Setup::new(CONFIG);
    let (id, _) = setup.create_key("alice", "writer", &[]);
    // A hidden field in a Python-form domain.
    let run = explain(
        &setup,
        &id,
        "count_records",
        r#"{"model": "res.partner", "domain": "[('email', 'ilike', '@example.com')]"}"#,
        &[],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("DENY\n"), "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "field \"email\" of \"res.partner\" (filter): denied by profile \"writer\" (from \"reader\"): model.\"res.partner\".fields.read.deny \"*email*\""
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("decision: denied"), "{}", run.stdout);

    // An operation no rule allows.
    let run = explain(
        &setup,
        &id,
        "delete_records",
        r#"{"model": "sale.order", "ids": [1]}"#,
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("operation \"delete\" on \"sale.order\": denied by profile \"writer\": no applicable operations.allow entry matches"),
        "{}",
        run.stdout
    );

    // A model outside models.allow.
    let run = explain(
        &setup,
        &id,
        "search_records",
        r#"{"model": "hr.employee"}"#,
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("model \"hr.employee\": denied"),
        "{}",
        run.stdout
    );
}

#[test]
fn addresses_and_key_state_are_part_of_the_decision() {
    let setup = Setup::new(CONFIG);
    let (id, _) = setup.create_key("alice", "reader", &["--allow-ip", "10.0.0.0/8"]);
    let args = r#"{"model": "res.partner", "fields": ["name"]}"#;
    assert_eq!(
        explain(&setup, &id, "search_records", args, &["--ip", "10.1.2.3"]).code,
        0
    );
    let outside = explain(&setup, &id, "search_records", args, &["--ip", "192.0.2.1"]);
    assert_eq!(outside.code, 1, "{}", outside.stdout);
    assert!(
        outside
            .stdout
            .contains("address 192.0.2.1 (key): denied by key"),
        "{}",
        outside.stdout
    );
    // Without --ip the call comes over stdio, which the key's allow list does not name.
    let stdio = explain(&setup, &id, "search_records", args, &[]);
    assert_eq!(stdio.code, 1, "{}", stdio.stdout);
    assert!(
        stdio.stdout.contains("address stdio (key): denied"),
        "{}",
        stdio.stdout
    );

    assert_eq!(setup.run(&["keys", "revoke", &id]).code, 0);
    let revoked = explain(&setup, &id, "search_records", args, &["--ip", "10.1.2.3"]);
    assert_eq!(revoked.code, 1, "{}", revoked.stdout);
    assert!(
        revoked.stdout.contains("denied (key revoked)"),
        "{}",
        revoked.stdout
    );
}

#[test]
fn write_tools_off_deny_every_data_change() {
    let setup = Setup::new(&CONFIG.replace("write = true", "write = false"));
    let (id, _) = setup.create_key("alice", "writer", &[]);
    let run = explain(
        &setup,
        &id,
        "update_records",
        r#"{"model": "sale.order", "ids": [1], "values": {"note": "x"}}"#,
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("[tools] write = false"),
        "{}",
        run.stdout
    );
}

#[test]
fn usage_and_configuration_errors_exit_64() {
    let setup = Setup::new(CONFIG);
    let (id, _) = setup.create_key("alice", "reader", &[]);
    let cases: &[(&str, &str, &[&str], &str)] = &[
        ("search_records", "not json", &[], "--args"),
        ("search_records", "[1]", &[], "--args"),
        ("no_such_tool", "{}", &[], "unknown tool"),
        ("search_records", "{}", &[], "\"model\" is required"),
        (
            "search_records",
            r#"{"model": "res.partner", "colour": 1}"#,
            &[],
            "unknown argument",
        ),
        (
            "search_records",
            r#"{"model": "res.partner"}"#,
            &["--ip", "nowhere"],
            "--ip",
        ),
        (
            "search_records",
            r#"{"model": "res.partner", "domain": "[(1, 2"}"#,
            &[],
            "domain",
        ),
    ];
    for (tool, args, extra, expected) in cases {
        let run = explain(&setup, &id, tool, args, extra);
        assert_eq!(run.code, 64, "{tool} {args}: {}{}", run.stdout, run.stderr);
        assert!(run.stdout.is_empty());
        assert!(
            run.stderr.contains(expected),
            "{tool} {args}: {}",
            run.stderr
        );
    }
    let unknown_key = explain(&setup, "k_000000000000", "list_models", "{}", &[]);
    assert_eq!(unknown_key.code, 64, "{}", unknown_key.stderr);
    let broken = Setup::new(&CONFIG.replace("[profiles.writer]", "[profiles.writer]\nmodles = []"));
    let run = explain(&broken, &id, "list_models", "{}", &[]);
    assert_eq!(run.code, 64, "{}", run.stderr);
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
}

#[test]
fn offline_checks_the_first_segment_online_follows_the_path() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let sim = runtime.block_on(warden_odoo_sim::start(
        ([127, 0, 0, 1], 0).into(),
        warden_odoo_sim::SimOptions::default(),
    ))?;
    let config = CONFIG.replace("http://127.0.0.1:8069", &sim.url()).replace(
        "database = \"odoo\"",
        &format!("database = \"{}\"", sim.database()),
    );
    let setup = Setup::new(&config);
    let key = sim.api_key("sales_agent").expect("demo user");
    let (id, _) = setup.create_key("alice", "reader", &[]);
    let args = r#"{"model": "sale.order", "fields": ["name"], "domain": "[[\"partner_id.email\", \"ilike\", \"@example.com\"]]"}"#;
    let env = [(support::KEY_VAR, key.as_str())];
    let explain_with = |extra: &[&str]| {
        let mut argv = vec![
            "policy",
            "explain",
            "--key",
            &id,
            "--tool",
            "search_records",
            "--args",
            args,
        ];
        argv.extend_from_slice(extra);
        support::run_with(&setup.config(), &argv, &env)
    };

    let offline = explain_with(&[]);
    assert_eq!(offline.code, 0, "{}{}", offline.stdout, offline.stderr);
    assert!(
        offline.stdout.contains("need --online"),
        "{}",
        offline.stdout
    );

    let online = explain_with(&["--online"]);
    assert_eq!(online.code, 1, "{}{}", online.stdout, online.stderr);
    assert!(
        online.stdout.contains(
            "field \"email\" of \"res.partner\" (filter): denied by profile \"reader\": model.\"res.partner\".fields.read.deny \"*email*\""
        ),
        "{}",
        online.stdout
    );
    assert!(
        online.stdout.contains("gateway: refused"),
        "{}",
        online.stdout
    );

    // A call the gateway accepts: no fields named gives the readable ones, not the hidden.
    let partners = support::run_with(
        &setup.config(),
        &[
            "policy",
            "explain",
            "--key",
            &id,
            "--tool",
            "search_records",
            "--args",
            r#"{"model": "res.partner"}"#,
            "--online",
        ],
        &env,
    );
    assert_eq!(partners.code, 0, "{}{}", partners.stdout, partners.stderr);
    assert!(
        partners
            .stdout
            .contains("gateway: the call passes its checks"),
        "{}",
        partners.stdout
    );
    assert!(
        partners
            .stdout
            .contains("field \"name\" of \"res.partner\" (read): allowed")
    );
    assert!(
        !partners.stdout.contains("field \"email\""),
        "{}",
        partners.stdout
    );

    // Odoo refusing the identity's credentials: exit 69, one line.
    let bad = support::run_with(
        &setup.config(),
        &[
            "policy",
            "explain",
            "--key",
            &id,
            "--tool",
            "list_models",
            "--online",
        ],
        &[(support::KEY_VAR, "ffffffffffffffffffffffffffffffffffffffff")],
    );
    assert_eq!(bad.code, 69, "{}{}", bad.stdout, bad.stderr);
    assert!(!bad.stderr.contains("ffffffff"), "{}", bad.stderr);

    runtime.block_on(sim.shutdown());
    Ok(())
}

/// `policy explain --online` says what a refused field is derived from.
#[test]
fn online_names_the_field_a_hidden_one_derives_from() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let sim = runtime.block_on(warden_odoo_sim::start(
        ([127, 0, 0, 1], 0).into(),
        warden_odoo_sim::SimOptions::default(),
    ))?;
    let config = CONFIG.replace("http://127.0.0.1:8069", &sim.url()).replace(
        "database = \"odoo\"",
        &format!("database = \"{}\"", sim.database()),
    );
    let setup = Setup::new(&config);
    let key = sim.api_key("sales_agent").expect("demo user");
    let (id, _) = setup.create_key("alice", "reader", &[]);
    let env = [(support::KEY_VAR, key.as_str())];
    let run = support::run_with(
        &setup.config(),
        &[
            "policy",
            "explain",
            "--key",
            &id,
            "--tool",
            "search_records",
            "--args",
            r#"{"model": "res.partner", "fields": ["name", "phone_sanitized"]}"#,
            "--online",
        ],
        &env,
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "res.partner.phone_sanitized is hidden because it is derived from res.partner.phone"
        ),
        "{}",
        run.stdout
    );
    Ok(())
}
