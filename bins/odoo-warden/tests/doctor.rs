//! `odoo-warden doctor` against the simulator: every check ok (exit 0) on a sound deployment;
//! a wrong Odoo key, an unreachable Odoo, an audit folder others can read and a key about to
//! expire each turn the right check to FAIL or warn, with the exit status saying so. And the
//! shell completions cover every command.

mod support;

use serde_json::Value;
use support::{CONFIG, KEY_VAR, Setup};

/// The test configuration pointed at `url` / `database`, with an audit folder `audit/`.
fn config_for(url: &str, database: &str) -> String {
    CONFIG
        .replace("http://127.0.0.1:8069", url)
        .replace("database = \"odoo\"", &format!("database = \"{database}\""))
        .replace("write = true", "write = false")
        + "\n[audit]\ndir = \"audit\"\n"
}

fn doctor(setup: &Setup, key: &str, json: bool) -> (support::Run, Vec<Value>) {
    let mut args = vec!["doctor"];
    if json {
        args.push("--json");
    }
    let run = support::run_with(&setup.config(), &args, &[(KEY_VAR, key)]);
    let checks = if json {
        serde_json::from_str::<Vec<Value>>(&run.stdout)
            .unwrap_or_else(|_| panic!("json: {}{}", run.stdout, run.stderr))
    } else {
        Vec::new()
    };
    (run, checks)
}

fn status_of<'a>(checks: &'a [Value], name: &str) -> &'a str {
    checks
        .iter()
        .find(|c| c["check"] == name)
        .and_then(|c| c["status"].as_str())
        .unwrap_or_else(|| panic!("no {name} check: {checks:?}"))
}

#[test]
fn a_sound_deployment_passes_and_each_fault_is_named() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let sim = runtime.block_on(warden_odoo_sim::start(
        ([127, 0, 0, 1], 0).into(),
        warden_odoo_sim::SimOptions::default(),
    ))?;
    let setup = Setup::new(&config_for(&sim.url(), sim.database()));
    setup.create_key("alice", "reader", &["--expires", "30d"]);
    let key = sim.api_key("sales_agent").expect("demo user");

    // Sound: every check ok, exit 0; the text report has one line per check, no secret.
    let (run, checks) = doctor(&setup, &key, true);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    for name in ["config", "keys", "odoo:sales", "clock", "audit"] {
        assert_eq!(status_of(&checks, name), "ok", "{name}: {checks:?}");
    }
    let odoo = checks
        .iter()
        .find(|c| c["check"] == "odoo:sales")
        .and_then(|c| c["message"].as_str())
        .unwrap_or_default();
    assert!(odoo.contains("Odoo 18"), "{odoo}");
    assert!(odoo.contains("protocol"), "{odoo}");
    let (text, _) = doctor(&setup, &key, false);
    assert_eq!(text.code, 0);
    assert!(
        text.stdout
            .lines()
            .any(|l| l.starts_with("ok    odoo:sales")),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains(&key) && !text.stderr.contains(&key));

    // A wrong Odoo key: the identity FAILs, exit 1, and the key is not printed.
    let wrong = "ffffffffffffffffffffffffffffffffffffffff";
    let (run, checks) = doctor(&setup, wrong, true);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(status_of(&checks, "odoo:sales"), "fail");
    assert!(!run.stdout.contains(wrong) && !run.stderr.contains(wrong));

    // An audit folder others can read: a warning, exit 2.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let audit = setup.dir.path().join("audit");
        std::fs::create_dir_all(&audit)?;
        std::fs::set_permissions(&audit, std::fs::Permissions::from_mode(0o755))?;
        let (run, checks) = doctor(&setup, &key, true);
        assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
        assert_eq!(status_of(&checks, "audit"), "warn", "{checks:?}");
        std::fs::set_permissions(&audit, std::fs::Permissions::from_mode(0o700))?;
    }

    // A key expiring within 14 days: a warning naming it.
    setup.create_key("bob", "reader", &["--expires", "3d"]);
    let (run, checks) = doctor(&setup, &key, true);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert_eq!(status_of(&checks, "keys"), "warn");
    assert!(run.stdout.contains("bob"), "{}", run.stdout);
    Ok(())
}

#[test]
fn the_anchors_file_is_checked() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let sim = runtime.block_on(warden_odoo_sim::start(
        ([127, 0, 0, 1], 0).into(),
        warden_odoo_sim::SimOptions::default(),
    ))?;
    let key = sim.api_key("sales_agent").expect("demo user");
    let setup = Setup::new(
        &(config_for(&sim.url(), sim.database())
            + "signing_key_file = \"signing.pem\"\nanchors_file = \"anchors/checkpoints.jsonl\"\n"),
    );
    setup.create_key("alice", "reader", &["--expires", "30d"]);
    let keygen = std::process::Command::new(env!("CARGO_BIN_EXE_odoo-warden"))
        .args(["audit", "keygen"])
        .arg(setup.dir.path().join("signing.pem"))
        .output()?;
    assert!(keygen.status.success(), "{keygen:?}");
    // Its folder is missing: the gateway could not start.
    let (run, checks) = doctor(&setup, &key, true);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(status_of(&checks, "anchors"), "fail", "{checks:?}");
    // There, not yet created: ok.
    let folder = setup.dir.path().join("anchors");
    std::fs::create_dir_all(&folder)?;
    let (run, checks) = doctor(&setup, &key, true);
    assert_eq!(status_of(&checks, "anchors"), "ok", "{checks:?}");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // Writable by others: a warning.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let file = folder.join("checkpoints.jsonl");
        std::fs::write(&file, "")?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666))?;
        let (run, checks) = doctor(&setup, &key, true);
        assert_eq!(status_of(&checks, "anchors"), "warn", "{checks:?}");
        assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
        let (_, checks) = doctor(&setup, &key, true);
        assert_eq!(status_of(&checks, "anchors"), "ok", "{checks:?}");
    }
    Ok(())
}

#[test]
fn an_unreachable_odoo_fails_and_a_bad_configuration_is_a_usage_error() {
    // Nothing listens on port 9 of loopback (discard): the identity FAILs.
    let setup = Setup::new(&config_for("http://127.0.0.1:9", "odoo"));
    setup.create_key("alice", "reader", &["--expires", "30d"]);
    let (run, checks) = doctor(&setup, support::ODOO_KEY, true);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(status_of(&checks, "odoo:sales"), "fail");
    assert!(!run.stdout.contains(support::ODOO_KEY));

    let broken = Setup::new("[odoo]\nurl = 3\n");
    let (run, _) = doctor(&broken, support::ODOO_KEY, false);
    assert_eq!(run.code, 64, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}

#[test]
fn completions_cover_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_odoo-warden"))
            .args(["completions", shell])
            .output()
            .expect("run");
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        for command in ["keys", "doctor", "audit", "policy", "demo"] {
            assert!(script.contains(command), "{shell} completes {command}");
        }
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_odoo-warden"))
        .args(["completions", "tcsh"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(64),
        "an unknown shell is a usage error"
    );
}

#[path = "../../../crates/warden-cluster/tests/support/mod.rs"]
mod redis_server;

#[test]
fn the_shared_redis_is_checked() -> anyhow::Result<()> {
    let Some(server) = redis_server::RedisServer::start("the_shared_redis_is_checked") else {
        return Ok(());
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let sim = runtime.block_on(warden_odoo_sim::start(
        ([127, 0, 0, 1], 0).into(),
        warden_odoo_sim::SimOptions::default(),
    ))?;
    let key = sim.api_key("sales_agent").expect("demo user");
    let confirm = (
        "WARDEN_TEST_CONFIRMATION_KEY",
        "4f1c0e7a52d94b36a1e0c7f25b9d4e38a6c1f0b7e2d94a5c3b8e1f0a7d6c5b49",
    );
    let cluster = |url: &str| {
        format!(
            "{}\n[cluster]\nredis_url = \"{url}\"\nconfirmation_key_env = \"{}\"\ntimeout_ms = 200\n",
            config_for(&sim.url(), sim.database()),
            confirm.0
        )
    };
    let setup = Setup::new(&cluster(&server.url()));
    setup.create_key("alice", "reader", &["--expires", "30d"]);
    let run = support::run_with(
        &setup.config(),
        &["doctor", "--json"],
        &[(KEY_VAR, &key), confirm],
    );
    let checks: Vec<Value> = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|_| panic!("json: {}{}", run.stdout, run.stderr));
    assert_eq!(status_of(&checks, "redis"), "ok", "{checks:?}");
    let message = checks
        .iter()
        .find(|c| c["check"] == "redis")
        .and_then(|c| c["message"].as_str())
        .unwrap_or_default();
    assert!(message.starts_with("Redis "), "{message}");
    // Nothing listens there: FAIL, exit 1, within the timeout.
    let closed = format!("redis://127.0.0.1:{}", redis_server::free_port());
    let setup = Setup::new(&cluster(&closed));
    setup.create_key("alice", "reader", &["--expires", "30d"]);
    let run = support::run_with(
        &setup.config(),
        &["doctor", "--json"],
        &[(KEY_VAR, &key), confirm],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let checks: Vec<Value> = serde_json::from_str(&run.stdout)?;
    assert_eq!(status_of(&checks, "redis"), "fail", "{checks:?}");
    assert!(!run.stdout.contains(confirm.1) && !run.stderr.contains(confirm.1));
    Ok(())
}
