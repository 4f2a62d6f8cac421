//! `odoo-warden keys`: the secret is printed once and never stored, the store is private and
//! replaced atomically, refusals leave it untouched, rotation keeps the old secret for its
//! grace period only, and a revoked key never authenticates again.

mod support;

use std::time::{Duration, SystemTime};

use support::{CONFIG, Setup};
use warden_policy::AuthError;

#[test]
fn create_prints_the_secret_once_and_stores_only_its_hash() {
    let setup = Setup::new(CONFIG);
    let run = setup.run(&["keys", "create", "--name", "alice", "--profile", "reader"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let secret = run.stdout.trim();
    assert_eq!(
        run.stdout.lines().count(),
        1,
        "stdout holds the secret alone"
    );
    assert!(secret.starts_with("owk_"), "{secret}");
    assert!(
        run.stderr.contains("cannot be shown again"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("pick up the change"), "{}", run.stderr);
    assert!(!run.stderr.contains(secret), "the secret is printed once");

    let stored = std::fs::read_to_string(setup.store()).unwrap();
    assert!(
        !stored.contains(secret),
        "the store holds the secret:\n{stored}"
    );
    let random_part = secret.rsplit('_').next().unwrap();
    assert!(!stored.contains(random_part));
    assert!(stored.contains("hash = \"sha256:"), "{stored}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(setup.store())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "key store mode {mode:o}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(setup.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| {
            std::path::Path::new(name)
                .extension()
                .is_some_and(|e| e == "tmp")
        })
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    // The default expiry is 90 days.
    let policy = setup.policy();
    let principal = policy.authenticate(secret, SystemTime::now()).unwrap();
    let expires = principal.expires.expect("an expiry");
    let days = expires.duration_since(SystemTime::now()).unwrap().as_secs() / 86_400;
    assert!((88..=90).contains(&days), "expires in {days} days");

    let list = setup.run(&["keys", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let id = warden_policy::keys::key_id_of(secret).unwrap();
    let line = list
        .stdout
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("{id} not listed:\n{}", list.stdout));
    assert!(
        line.contains("alice") && line.contains("reader") && line.ends_with("active"),
        "{line}"
    );
    assert!(
        !list.stdout.contains("sha256"),
        "list shows a hash:\n{}",
        list.stdout
    );

    let json = setup.run(&["keys", "list", "--json"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let keys: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(keys[0]["id"], id.as_str());
    assert_eq!(keys[0]["state"], "active");
    assert!(!json.stdout.contains("sha256"));
}

#[test]
fn create_with_options_records_them() {
    let setup = Setup::new(CONFIG);
    let (id, secret) = setup.create_key(
        "bob",
        "writer",
        &[
            "--no-expiry",
            "--allow-ip",
            "10.0.0.0/8",
            "--deny-ip",
            "10.9.9.9",
            "--per-minute",
            "30",
            "--writes-per-minute",
            "5",
            "--not-before",
            "2020-01-01T00:00:00Z",
        ],
    );
    let policy = setup.policy();
    let principal = policy.authenticate(&secret, SystemTime::now()).unwrap();
    assert_eq!(principal.key_id, id);
    assert_eq!(principal.expires, None);
    assert_eq!(principal.rate_limit.per_minute, Some(30));
    assert_eq!(principal.rate_limit.writes_per_minute, Some(5));
    assert!(
        policy
            .check_ip(&principal, Some("10.1.2.3".parse().unwrap()))
            .is_ok()
    );
    assert!(
        policy
            .check_ip(&principal, Some("10.9.9.9".parse().unwrap()))
            .is_err()
    );
    assert!(
        policy
            .check_ip(&principal, Some("192.0.2.1".parse().unwrap()))
            .is_err()
    );

    // A key not valid yet.
    let (_, later) = setup.create_key("carol", "reader", &["--not-before", "2999-01-01T00:00:00Z"]);
    assert_eq!(
        setup
            .policy()
            .authenticate(&later, SystemTime::now())
            .unwrap_err(),
        AuthError::NotYetValid
    );
    let list = setup.run(&["keys", "list"]);
    assert!(list.stdout.contains("not yet valid"), "{}", list.stdout);
}

#[test]
fn refusals_leave_the_store_byte_identical() {
    let setup = Setup::new(CONFIG);
    setup.create_key("alice", "reader", &[]);
    let before = std::fs::read(setup.store()).unwrap();
    let cases: &[&[&str]] = &[
        &["keys", "create", "--name", "x", "--profile", "nope"],
        &["keys", "create", "--name", "alice", "--profile", "reader"],
        &[
            "keys",
            "create",
            "--name",
            "x",
            "--profile",
            "reader",
            "--allow-ip",
            "not-an-ip",
        ],
        &[
            "keys",
            "create",
            "--name",
            "x",
            "--profile",
            "reader",
            "--expires",
            "soon",
        ],
        &[
            "keys",
            "create",
            "--name",
            "bad name",
            "--profile",
            "reader",
        ],
        &["keys", "revoke", "k_000000000000"],
        &["keys", "rotate", "k_000000000000"],
    ];
    for args in cases {
        let run = setup.run(args);
        assert_eq!(run.code, 64, "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?} printed {:?}", run.stdout);
        assert_eq!(
            run.stderr.trim().lines().count(),
            1,
            "{args:?}: {}",
            run.stderr
        );
        assert_eq!(
            std::fs::read(setup.store()).unwrap(),
            before,
            "{args:?} changed the store"
        );
    }
    let unknown = setup.run(&["keys", "create", "--name", "x", "--profile", "nope"]);
    assert!(
        unknown.stderr.contains("unknown profile \"nope\""),
        "{}",
        unknown.stderr
    );
}

#[test]
fn a_held_lock_refuses_changes_and_is_released_after_each_command() {
    let setup = Setup::new(CONFIG);
    setup.create_key("alice", "reader", &[]);
    let mut lock = setup.store().into_os_string();
    lock.push(".lock");
    let lock = std::path::PathBuf::from(lock);
    assert!(!lock.exists(), "a finished command left its lock behind");
    let before = std::fs::read(setup.store()).unwrap();
    std::fs::write(&lock, b"").unwrap();
    let run = setup.run(&["keys", "create", "--name", "bob", "--profile", "reader"]);
    assert_eq!(run.code, 64, "{}", run.stderr);
    assert!(
        run.stderr.contains("another `odoo-warden keys` command"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(setup.store()).unwrap(), before);
    assert!(
        lock.exists(),
        "a refused command must not remove another's lock"
    );
    std::fs::remove_file(&lock).unwrap();
    let run = setup.run(&["keys", "create", "--name", "bob", "--profile", "reader"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!lock.exists());
}

#[test]
fn unknown_profile_creates_no_store() {
    let setup = Setup::new(CONFIG);
    let run = setup.run(&["keys", "create", "--name", "x", "--profile", "nope"]);
    assert_eq!(run.code, 64, "{}", run.stderr);
    assert!(!setup.store().exists(), "a store was created");
}

#[test]
fn rotate_keeps_the_old_secret_for_the_grace_period_only() {
    let setup = Setup::new(CONFIG);
    let (id, old) = setup.create_key("alice", "reader", &[]);
    let run = setup.run(&["keys", "rotate", &id, "--grace", "24h"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let new = run.stdout.trim().to_owned();
    assert_ne!(new, old);
    assert_eq!(
        warden_policy::keys::key_id_of(&new).as_deref(),
        Some(id.as_str())
    );
    assert!(
        !std::fs::read_to_string(setup.store())
            .unwrap()
            .contains(&new)
    );

    let policy = setup.policy();
    let now = SystemTime::now();
    assert!(
        policy.authenticate(&old, now).is_ok(),
        "old secret within grace"
    );
    assert!(policy.authenticate(&new, now).is_ok(), "new secret");
    let after = now + Duration::from_secs(25 * 3600);
    assert_eq!(
        policy.authenticate(&old, after).unwrap_err(),
        AuthError::Unknown
    );
    assert!(policy.authenticate(&new, after).is_ok());
    let list = setup.run(&["keys", "list"]);
    assert!(list.stdout.contains("rotating until"), "{}", list.stdout);

    // No grace: the previous secret stops at once.
    let run = setup.run(&["keys", "rotate", &id, "--grace", "0s"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let newest = run.stdout.trim().to_owned();
    let policy = setup.policy();
    let now = SystemTime::now();
    assert_eq!(
        policy.authenticate(&new, now).unwrap_err(),
        AuthError::Unknown
    );
    assert!(policy.authenticate(&newest, now).is_ok());
    // The first secret's grace period is still running: rotating again does not cut it short.
    assert!(policy.authenticate(&old, now).is_ok());
}

#[test]
fn revoked_keys_never_authenticate() {
    let setup = Setup::new(CONFIG);
    let (id, secret) = setup.create_key("alice", "reader", &[]);
    let (_, other) = setup.create_key("bob", "reader", &[]);
    let run = setup.run(&["keys", "revoke", &id]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    let policy = setup.policy();
    assert_eq!(
        policy.authenticate(&secret, SystemTime::now()).unwrap_err(),
        AuthError::Revoked
    );
    assert!(policy.authenticate(&other, SystemTime::now()).is_ok());
    let list = setup.run(&["keys", "list"]);
    let line = list.stdout.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(line.contains("revoked on"), "{line}");

    let again = setup.run(&["keys", "rotate", &id]);
    assert_eq!(
        again.code, 64,
        "a revoked key cannot be rotated: {}",
        again.stderr
    );
    // The name of a revoked key can be used again.
    setup.create_key("alice", "reader", &[]);
}

#[test]
fn key_commands_need_no_secret_of_the_service() {
    // The configuration names an Odoo API key variable, a sealed audit log and an operations
    // token; none of them is set in this shell, and `keys` works all the same.
    let config = format!(
        "{CONFIG}\n[audit]\nseal_key_env = \"TEST_SEAL_KEY\"\n\n[http]\nops_token_env = \"TEST_OPS_TOKEN\"\n"
    );
    let setup = Setup::new(&config);
    let no_secrets: &[(&str, &str)] = &[];
    let run = support::run_with(
        &setup.config(),
        &["keys", "create", "--name", "alice", "--profile", "reader"],
        no_secrets,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let id = warden_policy::keys::key_id_of(run.stdout.trim()).expect("a secret");
    let listed = support::run_with(&setup.config(), &["keys", "list"], no_secrets);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(listed.stdout.contains(&id), "{}", listed.stdout);
    let revoked = support::run_with(&setup.config(), &["keys", "revoke", &id], no_secrets);
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    // Serving, and checking the configuration, still need them: named, never guessed.
    let check = support::run_with(&setup.config(), &["config", "check"], no_secrets);
    assert_eq!(check.code, 64, "{}", check.stderr);
    assert!(
        check.stderr.contains("TEST_ODOO_API_KEY"),
        "{}",
        check.stderr
    );
    // A bad profile is still refused without secrets.
    let bad = support::run_with(
        &setup.config(),
        &["keys", "create", "--name", "bob", "--profile", "nobody"],
        no_secrets,
    );
    assert_eq!(bad.code, 64, "{}", bad.stderr);
}
