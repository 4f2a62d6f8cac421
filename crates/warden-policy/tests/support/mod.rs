//! Helpers shared by the integration tests: policies written in TOML, keys, requests.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use warden_policy::{
    FieldRef, FieldUse, KeyStoreFile, Policy, PolicyConfig, PolicyError, Profile, keys,
};

/// The identities every test policy may name.
pub const IDENTITIES: &[&str] = &["main", "other"];

/// A fixed "now": 2026-01-01T00:00:00Z.
pub fn now() -> SystemTime {
    keys::parse_time("2026-01-01T00:00:00Z").unwrap()
}

pub fn days(n: u64) -> Duration {
    Duration::from_secs(n * 24 * 3600)
}

pub fn config(text: &str) -> PolicyConfig {
    toml::from_str(text).unwrap_or_else(|e| panic!("test policy does not parse: {e}"))
}

pub fn try_compile(text: &str, store: &KeyStoreFile) -> Result<Policy, PolicyError> {
    Policy::compile(&config(text), store, IDENTITIES)
}

pub fn policy(text: &str) -> Policy {
    try_compile(text, &KeyStoreFile::default()).unwrap_or_else(|e| panic!("{e}"))
}

pub fn profile(policy: &Policy, name: &str) -> Arc<Profile> {
    policy
        .profile(name)
        .unwrap_or_else(|| panic!("no profile {name}"))
        .clone()
}

pub fn field<'a>(model: &'a str, field: &'a str, usage: FieldUse) -> FieldRef<'a> {
    FieldRef {
        model,
        field,
        usage,
    }
}

pub const ALL_USES: [FieldUse; 6] = [
    FieldUse::Read,
    FieldUse::Write,
    FieldUse::Filter,
    FieldUse::Order,
    FieldUse::GroupBy,
    FieldUse::Aggregate,
];

/// A key store with one key per (name, profile), created at `now()`, and their secrets.
pub fn store_with(keys_wanted: &[(&str, &str, Option<Duration>)]) -> (KeyStoreFile, Vec<String>) {
    let mut store = KeyStoreFile::default();
    let mut secrets = Vec::new();
    for &(name, profile, expires) in keys_wanted {
        let (_, secret) = keys::create(&mut store, name, profile, expires, now()).unwrap();
        secrets.push(secret);
    }
    (store, secrets)
}
