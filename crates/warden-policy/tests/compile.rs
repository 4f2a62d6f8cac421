//! Compile-time validation: every refused configuration and key store, with the message naming
//! where the problem is.

mod support;

use support::*;
use warden_policy::{KeyStoreFile, Policy, PolicyError, keys};

const BASE: &str = "[profiles.base]\nidentity = \"main\"\nmodels = { allow = [\"*\"] }\n";

#[test]
fn refused_policies_name_the_problem() {
    let cases: &[(&str, &str)] = &[
        (
            "[profiles.a]\nidentity = \"main\"\nextends = [\"nope\"]",
            "profiles.a.extends: unknown profile \"nope\"",
        ),
        (
            "[profiles.sales]\nidentity = \"main\"\nextends = [\"base\"]\n[profiles.base]\nextends = [\"sales\"]",
            "profiles.base.extends: cycle base -> sales -> base",
        ),
        (
            "[profiles.me]\nidentity = \"main\"\nextends = [\"me\"]",
            "profiles.me.extends: cycle me -> me",
        ),
        (
            "[profiles.a]\nextends = [\"b\"]\n[profiles.b]\nmodels = { allow = [\"x\"] }",
            "profiles.a.identity: missing (set it here or in a profile it extends)",
        ),
        (
            "[profiles.a]\nidentity = \"admin\"",
            "profiles.a.identity: unknown identity \"admin\" (not declared under [odoo.identities])",
        ),
        (
            "[profiles.a]\nidentity = \"main\"\nmodels = { allow = [\"\"] }",
            "profiles.a.models.allow: bad pattern \"\": a pattern cannot be empty",
        ),
        (
            "[profiles.a]\nidentity = \"main\"\nfields = { read = { deny = [\"e mail\"] } }",
            "profiles.a.fields.read.deny: bad pattern \"e mail\": only letters, digits and _ . - * ? are allowed",
        ),
        (
            "[profiles.a]\nidentity = \"main\"\n[profiles.a.model.\"sale/order\"]",
            "profiles.a.model: bad pattern \"sale/order\"",
        ),
        (
            "[profiles.a]\nidentity = \"main\"\n[profiles.a.model.\"sale.order\"]\nmethods = { allow = [\"a(b)\"] }",
            "profiles.a.model.\"sale.order\".methods.allow: bad pattern \"a(b)\"",
        ),
        (
            "[network]\nallow = [\"10.0.0.0/40\"]",
            "network.allow: \"10.0.0.0/40\" is not an IP address, a CIDR block or \"stdio\"",
        ),
        (
            "[profiles.a]\nidentity = \"main\"\nnetwork = { deny = [\"localhost\"] }",
            "profiles.a.network.deny: \"localhost\" is not an IP address",
        ),
        (
            "[rate_limits]\nper_key_per_minute = 0",
            "rate_limits.per_key_per_minute: 0 is not a rate",
        ),
        (
            "[rate_limits]\nburst = 0",
            "rate_limits.burst: 0 is not a rate",
        ),
        (
            "[profiles.a]\nidentity = \"main\"\nmax_records = 0",
            "profiles.a.max_records: must be at least 1",
        ),
        (
            "[profiles.a]\nidentity = \"main\"\nmax_write_ids = 0",
            "profiles.a.max_write_ids: must be at least 1",
        ),
        (
            "[profiles.a]\nidentity = \"main\"\n[profiles.a.model.x]\nrecords = { company_id = 1 }",
            "profiles.a.model.\"x\".records: must be a JSON array",
        ),
        (
            "[profiles.a]\nidentity = \"main\"\n[profiles.a.model.x]\nrecords = [\"|\", [\"a\", \"=\", 1]]",
            "profiles.a.model.\"x\".records: term 0: \"|\" needs two operands",
        ),
        (
            "[profiles.a]\nidentity = \"main\"\n[profiles.a.model.x]\nrecords = [[\"a\", \"=\"]]",
            "profiles.a.model.\"x\".records: term 0: expected [field, operator, value]",
        ),
    ];
    for (text, expected) in cases {
        let err = try_compile(text, &KeyStoreFile::default()).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with(expected),
            "for:\n{text}\nexpected: {expected}\ngot:      {message}"
        );
        assert!(!message.contains('\n'), "one line: {message}");
    }
}

#[test]
fn accepted_edge_cases() {
    // A profile with an empty allow list compiles (and is warned about); stdio is a word.
    let policy = policy(
        "[network]\nallow = [\"stdio\", \"::1\", \"10.0.0.0/8\", \"::ffff:192.0.2.0/120\"]\n\
         [profiles.empty]\nidentity = \"main\"\n\
         [profiles.a]\nidentity = \"main\"\nmodels = { allow = [\"*\"] }\n\
         [profiles.a.model.x]\nrecords = [\"!\", [\"a\", \"=\", 1], \"&\", [\"b\", \"=\", 2], [\"c\", \"=\", 3]]",
    );
    assert!(policy.profile("empty").is_some());
}

fn key_store_error(store: &KeyStoreFile, mutate: impl FnOnce(&mut KeyStoreFile)) -> String {
    let mut store = store.clone();
    mutate(&mut store);
    Policy::compile(&config(BASE), &store, IDENTITIES)
        .unwrap_err()
        .to_string()
}

#[test]
fn refused_key_stores_name_the_key() {
    let (store, _) = store_with(&[("alice", "base", None)]);
    let id = store.keys[0].id.clone();
    type Mutation = Box<dyn FnOnce(&mut KeyStoreFile)>;
    let cases: Vec<(String, Mutation)> = vec![
        (
            format!("key.{id}.profile: unknown profile \"ghost\""),
            Box::new(|s| s.keys[0].profile = "ghost".into()),
        ),
        (
            format!("key {id}: duplicate key id"),
            Box::new(|s| {
                let mut twin = s.keys[0].clone();
                twin.name = "bob".into();
                s.keys.push(twin);
            }),
        ),
        (
            "key[0].id: bad key id \"alice\"".to_owned(),
            Box::new(|s| s.keys[0].id = "alice".into()),
        ),
        (
            format!("key.{id}.hash: bad hash (expected sha256: and 64 lowercase hex digits)"),
            Box::new(|s| s.keys[0].hash = s.keys[0].hash.to_uppercase()),
        ),
        (
            format!("key.{id}.hash: bad hash"),
            Box::new(|s| s.keys[0].hash = "owk_plaintext_secret".into()),
        ),
        (
            format!("key.{id}.created: bad time \"yesterday\""),
            Box::new(|s| s.keys[0].created = "yesterday".into()),
        ),
        (
            format!("key.{id}.expires: bad time \"2026-13-01T00:00:00Z\""),
            Box::new(|s| s.keys[0].expires = Some("2026-13-01T00:00:00Z".into())),
        ),
        (
            format!("key.{id}.previous[0].until: bad time"),
            Box::new(|s| {
                let hash = s.keys[0].hash.clone();
                s.keys[0].previous.push(warden_policy::PreviousSecret {
                    hash,
                    until: "soon".into(),
                });
            }),
        ),
        (
            format!("key.{id}.network.allow: \"10.0.0.0/8/8\""),
            Box::new(|s| s.keys[0].network.allow = vec!["10.0.0.0/8/8".into()]),
        ),
        (
            format!("key.{id}.rate_limit.per_minute: 0 is not a rate"),
            Box::new(|s| s.keys[0].rate_limit.per_minute = Some(0)),
        ),
    ];
    for (expected, mutate) in cases {
        let message = key_store_error(&store, mutate);
        assert!(
            message.starts_with(&expected),
            "expected: {expected}\ngot:      {message}"
        );
    }
}

#[test]
fn hash_errors_do_not_repeat_the_value() {
    let (store, _) = store_with(&[("alice", "base", None)]);
    let message = key_store_error(&store, |s| {
        s.keys[0].hash = "owk_0123456789ab_TOPSECRET".into();
    });
    assert!(!message.contains("TOPSECRET"), "{message}");
}

#[test]
fn key_store_toml_round_trip() {
    let (mut store, _) = store_with(&[("alice", "base", Some(days(90))), ("bob", "base", None)]);
    let id = store.keys[0].id.clone();
    keys::rotate(&mut store, &id, days(1), now()).unwrap();
    store.keys[1].network.allow = vec!["10.0.0.0/8".into(), "stdio".into()];
    store.keys[1].rate_limit.writes_per_minute = Some(5);
    store.keys[1].name = "b\"o\\b".into();
    let text = store.to_toml();
    assert!(text.starts_with("# odoo-warden key store"), "{text}");
    assert!(text.contains("hashes"), "{text}");
    let back = KeyStoreFile::from_toml(&text).unwrap();
    assert_eq!(back, store);
    assert_eq!(
        KeyStoreFile::from_toml(&KeyStoreFile::default().to_toml()).unwrap(),
        KeyStoreFile::default()
    );
}

#[test]
fn key_store_parse_errors_are_one_line_with_the_line_number() {
    let text = "# header\n\n[[key]]\nid = \"k_0123456789ab\"\nname = \"a\"\nprofil = \"x\"\n";
    let err = KeyStoreFile::from_toml(text).unwrap_err();
    let message = err.to_string();
    assert!(message.starts_with("key store, line "), "{message}");
    assert!(message.contains("profil"), "{message}");
    assert!(!message.contains('\n'));
    assert!(
        matches!(err, PolicyError::Toml { line: 3..=6, .. }),
        "{err:?}"
    );
}

#[test]
fn policy_debug_prints_no_hash() {
    let (store, secrets) = store_with(&[("alice", "base", None)]);
    let policy = Policy::compile(&config(BASE), &store, IDENTITIES).unwrap();
    let debug = format!("{policy:?}");
    let hash = &store.keys[0].hash["sha256:".len()..];
    assert!(!debug.contains(hash), "hash leaked in Debug");
    assert!(!debug.contains(&secrets[0]));
    assert!(debug.contains("alice"));
}

#[test]
fn policy_and_limiter_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Policy>();
    check::<warden_policy::Principal>();
    check::<warden_policy::RateLimiter>();
    check::<warden_policy::RateLimiter<governor::clock::FakeRelativeClock>>();
}

#[test]
fn key_store_times_may_be_bare_toml_datetimes() {
    let hash = keys::hash_secret("x");
    let text = format!(
        "[[key]]\nid = \"k_0123456789ab\"\nname = \"a\"\nprofile = \"base\"\nhash = \"{hash}\"\n\
         created = 2026-01-01T00:00:00Z\nexpires = \"2026-04-01T00:00:00Z\"\nnot_before = 2026-01-02T00:00:00Z\n\
         [[key.previous]]\nhash = \"{hash}\"\nuntil = 2026-01-03T00:00:00Z\n"
    );
    let store = KeyStoreFile::from_toml(&text).unwrap();
    let key = &store.keys[0];
    assert_eq!(key.created, "2026-01-01T00:00:00Z");
    assert_eq!(key.expires.as_deref(), Some("2026-04-01T00:00:00Z"));
    assert_eq!(key.not_before.as_deref(), Some("2026-01-02T00:00:00Z"));
    assert_eq!(key.revoked, None);
    assert_eq!(key.previous[0].until, "2026-01-03T00:00:00Z");
    let policy = Policy::compile(&config(BASE), &store, IDENTITIES).unwrap();
    assert_eq!(policy.keys().next().unwrap().created, now());
    // A datetime with another offset is kept as written and refused at compile time.
    let shifted = text.replace(
        "created = 2026-01-01T00:00:00Z",
        "created = 2026-01-01T02:00:00+02:00",
    );
    let store = KeyStoreFile::from_toml(&shifted).unwrap();
    let err = Policy::compile(&config(BASE), &store, IDENTITIES).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("key.k_0123456789ab.created: bad time"),
        "{err}"
    );
    // Other types are refused on load.
    let wrong = text.replace("created = 2026-01-01T00:00:00Z", "created = 42");
    let err = KeyStoreFile::from_toml(&wrong).unwrap_err().to_string();
    assert!(err.contains("expected an RFC 3339 timestamp"), "{err}");
}
