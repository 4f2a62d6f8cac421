//! IP rules: IPv4, IPv6, IPv4-mapped IPv6, stdio, deny wins, and the global → profile → key
//! order.

mod support;

use std::net::IpAddr;

use support::*;
use warden_policy::{DenialKind, KeyStoreFile, Policy, Principal};

fn ip(text: &str) -> Option<IpAddr> {
    Some(text.parse().unwrap())
}

fn setup(policy_text: &str, key_allow: &[&str], key_deny: &[&str]) -> (Policy, Principal) {
    let mut store = KeyStoreFile::default();
    let (_, secret) = warden_policy::keys::create(&mut store, "k", "p", None, now()).unwrap();
    store.keys[0].network.allow = key_allow
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
    store.keys[0].network.deny = key_deny
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
    let policy = try_compile(policy_text, &store).unwrap();
    let principal = policy.authenticate(&secret, now()).unwrap();
    (policy, principal)
}

#[test]
fn global_rules() {
    let (policy, _) = setup(
        "[network]\nallow = [\"10.0.0.0/8\", \"2001:db8::/32\", \"stdio\"]\ndeny = [\"10.9.0.0/16\", \"2001:db8:bad::/48\"]\n\
         [profiles.p]\nidentity = \"main\"\n",
        &[],
        &[],
    );
    let cases = [
        (ip("10.1.2.3"), true),
        (ip("11.1.2.3"), false),
        (ip("10.9.1.1"), false),
        (ip("::ffff:10.1.2.3"), true),
        (ip("::ffff:10.9.1.1"), false),
        (ip("::ffff:11.1.2.3"), false),
        (ip("2001:db8::1"), true),
        (ip("2001:db8:bad::1"), false),
        (ip("2001:db9::1"), false),
        (None, true),
    ];
    for (addr, expected) in cases {
        assert_eq!(policy.check_ip_global(addr).is_ok(), expected, "{addr:?}");
    }
    let denial = policy.check_ip_global(ip("10.9.1.1")).unwrap_err();
    assert_eq!(denial.kind, DenialKind::Network);
    assert_eq!(denial.rule, "network.deny \"10.9.0.0/16\"");
    assert!(denial.message.contains("10.9.1.1"), "{}", denial.message);
    let denial = policy.check_ip_global(ip("11.1.2.3")).unwrap_err();
    assert_eq!(denial.rule, "network.allow (no entry matches 11.1.2.3)");
}

#[test]
fn stdio_matches_only_rules_that_say_so() {
    let cases = [
        // (allow, deny, stdio allowed)
        ("[]", "[]", true),
        ("[\"10.0.0.0/8\"]", "[]", false),
        ("[\"stdio\"]", "[]", true),
        ("[]", "[\"stdio\"]", false),
        ("[\"stdio\"]", "[\"stdio\"]", false),
        ("[]", "[\"0.0.0.0/0\", \"::/0\"]", true),
    ];
    for (allow, deny, expected) in cases {
        let (policy, _) = setup(
            &format!(
                "[network]\nallow = {allow}\ndeny = {deny}\n[profiles.p]\nidentity = \"main\"\n"
            ),
            &[],
            &[],
        );
        assert_eq!(
            policy.check_ip_global(None).is_ok(),
            expected,
            "{allow} {deny}"
        );
    }
    let (policy, _) = setup(
        "[network]\nallow = [\"stdio\"]\n[profiles.p]\nidentity = \"main\"\n",
        &[],
        &[],
    );
    assert!(
        policy.check_ip_global(ip("127.0.0.1")).is_err(),
        "stdio is not loopback"
    );
    let denial = setup(
        "[network]\nallow = [\"10.0.0.0/8\"]\n[profiles.p]\nidentity = \"main\"\n",
        &[],
        &[],
    )
    .0
    .check_ip_global(None)
    .unwrap_err();
    assert!(denial.message.contains("stdio"), "{}", denial.message);
}

#[test]
fn mapped_addresses_match_ipv4_rules_and_back() {
    let (policy, _) = setup(
        "[network]\nallow = [\"::ffff:192.0.2.7\", \"198.51.100.0/24\"]\n[profiles.p]\nidentity = \"main\"\n",
        &[],
        &[],
    );
    assert!(policy.check_ip_global(ip("192.0.2.7")).is_ok());
    assert!(policy.check_ip_global(ip("::ffff:192.0.2.7")).is_ok());
    assert!(policy.check_ip_global(ip("::ffff:198.51.100.9")).is_ok());
    assert!(policy.check_ip_global(ip("192.0.2.8")).is_err());
    // a single IPv6 address is a /128
    let (policy, _) = setup(
        "[network]\nallow = [\"::1\"]\n[profiles.p]\nidentity = \"main\"\n",
        &[],
        &[],
    );
    assert!(policy.check_ip_global(ip("::1")).is_ok());
    assert!(policy.check_ip_global(ip("::2")).is_err());
}

#[test]
fn global_then_profile_then_key() {
    let text = "[network]\nallow = [\"10.0.0.0/8\", \"stdio\"]\n\
                [profiles.base]\nidentity = \"main\"\nnetwork = { deny = [\"10.66.0.0/16\"] }\n\
                [profiles.p]\nextends = [\"base\"]\nnetwork = { allow = [\"10.1.0.0/16\", \"10.2.0.0/16\", \"10.66.0.0/16\"] }\n";
    let (policy, principal) = setup(text, &["10.1.0.0/16", "10.66.1.0/24"], &["10.1.9.9"]);
    let cases = [
        (ip("10.1.2.3"), Ok(())),
        // global refuses
        (
            ip("192.168.1.1"),
            Err("network.allow (no entry matches 192.168.1.1)"),
        ),
        // profile refuses (allow list)
        (
            ip("10.3.0.1"),
            Err("profile \"p\": network.allow (no entry matches 10.3.0.1)"),
        ),
        // inherited profile deny wins over the profile's own allow and the key's allow
        (
            ip("10.66.1.1"),
            Err("profile \"p\" (from \"base\"): network.deny \"10.66.0.0/16\""),
        ),
        // key refuses (allow list)
        (
            ip("10.2.0.1"),
            Err("key K: network.allow (no entry matches 10.2.0.1)"),
        ),
        // key deny wins
        (ip("10.1.9.9"), Err("key K: network.deny \"10.1.9.9\"")),
        // stdio: allowed globally, but the profile's and key's allow lists do not say stdio
        (
            None,
            Err("profile \"p\": network.allow (no entry matches stdio)"),
        ),
    ];
    for (addr, expected) in cases {
        let got = policy.check_ip(&principal, addr);
        match expected {
            Ok(()) => assert!(got.is_ok(), "{addr:?}: {got:?}"),
            Err(rule) => {
                let denial = got.unwrap_err();
                assert_eq!(denial.kind, DenialKind::Network);
                assert_eq!(
                    denial.rule,
                    rule.replace("K", &principal.key_id),
                    "{addr:?}"
                );
            }
        }
    }
}

#[test]
fn a_removed_key_fails_closed() {
    let (policy, principal) = setup("[profiles.p]\nidentity = \"main\"\n", &[], &[]);
    let other = try_compile(
        "[profiles.p]\nidentity = \"main\"\n",
        &KeyStoreFile::default(),
    )
    .unwrap();
    assert!(policy.check_ip(&principal, ip("10.0.0.1")).is_ok());
    assert_eq!(
        other.check_ip(&principal, ip("10.0.0.1")).unwrap_err().kind,
        DenialKind::Network
    );
}
