//! Keys: creation, authentication, validity in time, revocation, rotation with a grace period,
//! and re-validation of a key after a reload.

mod support;

use std::time::Duration;

use support::*;
use warden_policy::{AuthError, KeyStoreFile, Policy, PolicyError, keys};

const POLICY: &str = "[profiles.base]\nidentity = \"main\"\nmodels = { allow = [\"res.partner\"] }\n\
                      [profiles.other]\nidentity = \"other\"\nmodels = { allow = [\"x\"] }\n";

fn compile(store: &KeyStoreFile) -> Policy {
    Policy::compile(&config(POLICY), store, IDENTITIES).unwrap()
}

#[test]
fn secret_and_id_shapes() {
    let (store, secrets) = store_with(&[("alice", "base", None)]);
    let record = &store.keys[0];
    let secret = &secrets[0];
    assert!(keys::is_key_id(&record.id), "{}", record.id);
    assert_eq!(record.id.len(), 2 + 12);
    assert!(
        secret.starts_with(&format!("owk_{}_", &record.id[2..])),
        "{secret}"
    );
    assert_eq!(secret.len(), 4 + 12 + 1 + 40);
    assert!(secret[17..].bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(keys::key_id_of(secret).as_deref(), Some(record.id.as_str()));
    assert_eq!(record.hash, keys::hash_secret(secret));
    assert!(
        !store.to_toml().contains(secret.as_str()),
        "the store holds no secret"
    );
    // two keys never share a secret or an id
    let (store, secrets) = store_with(&[("a", "base", None), ("b", "base", None)]);
    assert_ne!(store.keys[0].id, store.keys[1].id);
    assert_ne!(secrets[0], secrets[1]);
}

#[test]
fn key_id_of_refuses_malformed_secrets() {
    let good = format!("owk_0123456789ab_{}", "A".repeat(40));
    assert_eq!(keys::key_id_of(&good).as_deref(), Some("k_0123456789ab"));
    for bad in [
        String::new(),
        "owk_".into(),
        format!("owk_0123456789AB_{}", "A".repeat(40)),
        format!("owk_0123456789a_{}", "A".repeat(40)),
        format!("owk_0123456789ab_{}", "A".repeat(39)),
        format!("owk_0123456789ab_{}", "A".repeat(41)),
        format!("owk_0123456789ab_{}-", "A".repeat(39)),
        format!("xyz_0123456789ab_{}", "A".repeat(40)),
        format!("owk_0123456789ab{}", "A".repeat(41)),
    ] {
        assert_eq!(keys::key_id_of(&bad), None, "{bad}");
    }
}

#[test]
fn create_then_authenticate() {
    let (store, secrets) = store_with(&[("alice", "base", None), ("bob", "other", None)]);
    let policy = compile(&store);
    let alice = policy.authenticate(&secrets[0], now()).unwrap();
    assert_eq!(alice.key_id, store.keys[0].id);
    assert_eq!(alice.key_name, "alice");
    assert_eq!(alice.profile.name(), "base");
    assert_eq!(alice.expires, None);
    let bob = policy.authenticate(&secrets[1], now()).unwrap();
    assert_eq!(bob.profile.name(), "other");
    assert_eq!(bob.profile.identity(), "other");
}

#[test]
fn wrong_secrets_are_refused() {
    let (store, secrets) = store_with(&[("alice", "base", None), ("bob", "base", None)]);
    let policy = compile(&store);
    let alice_hex = &store.keys[0].id[2..];
    let bob_random = &secrets[1][17..];
    let cases = [
        ("not a key".to_owned(), AuthError::Malformed),
        (String::new(), AuthError::Malformed),
        // right id, wrong random part
        (
            format!("owk_{alice_hex}_{}", "x".repeat(40)),
            AuthError::Unknown,
        ),
        // bob's random part under alice's id
        (format!("owk_{alice_hex}_{bob_random}"), AuthError::Unknown),
        // an id that does not exist
        (format!("owk_ffffffffffff_{bob_random}"), AuthError::Unknown),
    ];
    for (secret, expected) in cases {
        assert_eq!(
            policy.authenticate(&secret, now()).unwrap_err(),
            expected,
            "{secret}"
        );
    }
    assert!(!AuthError::Unknown.to_string().contains("owk_"));
}

#[test]
fn validity_in_time() {
    let (mut store, secrets) = store_with(&[("alice", "base", Some(days(30)))]);
    store.keys[0].not_before = Some(keys::format_time(now() + days(1)));
    let policy = compile(&store);
    let secret = &secrets[0];
    assert_eq!(
        policy.authenticate(secret, now()).unwrap_err(),
        AuthError::NotYetValid
    );
    assert!(policy.authenticate(secret, now() + days(1)).is_ok());
    let principal = policy.authenticate(secret, now() + days(2)).unwrap();
    assert_eq!(principal.expires, Some(now() + days(30)));
    assert!(
        policy
            .authenticate(secret, now() + days(30) - Duration::from_secs(1))
            .is_ok()
    );
    assert_eq!(
        policy.authenticate(secret, now() + days(30)).unwrap_err(),
        AuthError::Expired
    );
    assert_eq!(
        policy
            .principal(&store.keys[0].id, now() + days(31))
            .unwrap_err(),
        AuthError::Expired
    );
}

#[test]
fn revoked_keys_never_authenticate() {
    let (mut store, secrets) = store_with(&[("alice", "base", None)]);
    let id = store.keys[0].id.clone();
    keys::revoke(&mut store, &id, now()).unwrap();
    let revoked_at = store.keys[0].revoked.clone();
    // revoking again keeps the first time
    keys::revoke(&mut store, &id, now() + days(3)).unwrap();
    assert_eq!(store.keys[0].revoked, revoked_at);
    let policy = compile(&store);
    assert_eq!(
        policy.authenticate(&secrets[0], now()).unwrap_err(),
        AuthError::Revoked
    );
    assert_eq!(
        policy.principal(&id, now()).unwrap_err(),
        AuthError::Revoked
    );
    // the name is free again
    assert!(keys::create(&mut store, "alice", "base", None, now()).is_ok());
    assert!(matches!(
        keys::rotate(&mut store, &id, days(1), now()),
        Err(PolicyError::KeyRevoked { .. })
    ));
}

#[test]
fn rotation_grace_period() {
    let (mut store, secrets) = store_with(&[("alice", "base", None)]);
    let id = store.keys[0].id.clone();
    let old = secrets[0].clone();
    let new = keys::rotate(&mut store, &id, Duration::from_secs(3600), now()).unwrap();
    assert_ne!(old, new);
    assert_eq!(keys::key_id_of(&new).as_deref(), Some(id.as_str()));
    let policy = compile(&store);
    assert!(policy.authenticate(&new, now()).is_ok());
    assert!(
        policy.authenticate(&old, now()).is_ok(),
        "old works during grace"
    );
    assert!(
        policy
            .authenticate(&old, now() + Duration::from_secs(3599))
            .is_ok()
    );
    assert_eq!(
        policy
            .authenticate(&old, now() + Duration::from_secs(3600))
            .unwrap_err(),
        AuthError::Unknown,
        "old stops at until"
    );
    assert!(policy.authenticate(&new, now() + days(10)).is_ok());
    let info = policy.keys().next().unwrap();
    assert_eq!(info.previous_until, vec![now() + Duration::from_secs(3600)]);

    // A second rotation after the grace period prunes the expired entry; grace 0 adds none.
    let newest = keys::rotate(&mut store, &id, Duration::ZERO, now() + days(1)).unwrap();
    assert!(
        store.keys[0].previous.is_empty(),
        "{:?}",
        store.keys[0].previous
    );
    let policy = compile(&store);
    assert_eq!(
        policy.authenticate(&new, now() + days(1)).unwrap_err(),
        AuthError::Unknown
    );
    assert!(policy.authenticate(&newest, now() + days(1)).is_ok());
}

#[test]
fn a_reload_that_removes_or_revokes_a_key_is_seen_by_principal() {
    let (store, secrets) = store_with(&[("alice", "base", None), ("bob", "base", None)]);
    let policy = compile(&store);
    let alice = policy.authenticate(&secrets[0], now()).unwrap();
    assert_eq!(
        policy.principal(&alice.key_id, now()).unwrap().key_name,
        "alice"
    );

    let mut removed = store.clone();
    removed.keys.remove(0);
    let reloaded = compile(&removed);
    assert_eq!(
        reloaded.principal(&alice.key_id, now()).unwrap_err(),
        AuthError::Unknown
    );
    assert_eq!(
        reloaded.authenticate(&secrets[0], now()).unwrap_err(),
        AuthError::Unknown
    );

    let mut revoked = store.clone();
    keys::revoke(&mut revoked, &alice.key_id, now()).unwrap();
    let reloaded = compile(&revoked);
    assert_eq!(
        reloaded.principal(&alice.key_id, now()).unwrap_err(),
        AuthError::Revoked
    );
    assert!(reloaded.principal(&store.keys[1].id, now()).is_ok());
}

#[test]
fn create_validates_names() {
    let mut store = KeyStoreFile::default();
    for bad in ["", "has space", "é", &"x".repeat(65), "a/b"] {
        assert!(
            matches!(
                keys::create(&mut store, bad, "base", None, now()),
                Err(PolicyError::KeyName { .. })
            ),
            "{bad:?}"
        );
    }
    keys::create(&mut store, &"x".repeat(64), "base", None, now()).unwrap();
    keys::create(&mut store, "claude-desktop.alice_2", "base", None, now()).unwrap();
    let err = keys::create(&mut store, "claude-desktop.alice_2", "base", None, now()).unwrap_err();
    assert!(err.to_string().contains("already used by key k_"), "{err}");
}

#[test]
fn unknown_ids_are_reported() {
    let mut store = KeyStoreFile::default();
    assert_eq!(
        keys::revoke(&mut store, "k_000000000000", now())
            .unwrap_err()
            .to_string(),
        "no key with id \"k_000000000000\""
    );
    assert!(keys::rotate(&mut store, "k_000000000000", days(1), now()).is_err());
}

#[test]
fn times_and_durations() {
    let t = keys::parse_time("2026-11-23T00:00:00Z").unwrap();
    assert_eq!(keys::format_time(t), "2026-11-23T00:00:00Z");
    assert_eq!(
        keys::format_time(t + Duration::from_millis(1500)),
        "2026-11-23T00:00:01Z"
    );
    for bad in [
        "2026-11-23",
        "2026-11-23T00:00:00",
        "tomorrow",
        "2026-11-23T00:00:00+02:00",
    ] {
        let err = keys::parse_time(bad).unwrap_err().to_string();
        assert!(err.starts_with(&format!("bad time \"{bad}\"")), "{err}");
    }
    assert_eq!(keys::parse_duration("90d").unwrap(), days(90));
    assert_eq!(
        keys::parse_duration("12h").unwrap(),
        Duration::from_secs(12 * 3600)
    );
    assert_eq!(
        keys::parse_duration("30m").unwrap(),
        Duration::from_secs(30 * 60)
    );
    assert!(keys::parse_duration("soon").is_err());
    let (store, _) = store_with(&[("alice", "base", Some(days(90)))]);
    assert_eq!(store.keys[0].created, "2026-01-01T00:00:00Z");
    assert_eq!(
        store.keys[0].expires.as_deref(),
        Some("2026-04-01T00:00:00Z")
    );
}

#[test]
fn keys_are_listed_sorted_by_id_without_hashes() {
    let (store, _) = store_with(&[
        ("c", "base", None),
        ("a", "base", None),
        ("b", "other", None),
    ]);
    let policy = compile(&store);
    let ids: Vec<&str> = policy.keys().map(|k| k.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted);
    assert_eq!(ids.len(), 3);
    let info = policy.keys().find(|k| k.name == "b").unwrap();
    assert_eq!(info.profile, "other");
    assert_eq!(info.created, now());
}
