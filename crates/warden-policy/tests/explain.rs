//! `Policy::explain` (every step, each naming its rule) and `Policy::warnings`.

mod support;

use std::net::IpAddr;

use support::*;
use warden_policy::{FieldUse, KeyStoreFile, Operation, Policy, Request, keys};

const POLICY: &str = r#"
[network]
allow = ["10.0.0.0/8"]

[profiles.base]
identity = "main"
models = { allow = ["res.partner", "sale.*"] }
operations = { allow = ["read"] }
fields = { read = { deny = ["*email*"] } }

[profiles.sales]
extends = ["base"]
max_write_ids = 5

[profiles.sales.model."sale.order"]
operations = { allow = ["write"] }
fields = { write = { allow = ["note"] } }
"#;

fn setup() -> (Policy, KeyStoreFile) {
    let (store, _) = store_with(&[("alice", "sales", Some(days(90)))]);
    (try_compile(POLICY, &store).unwrap(), store)
}

fn ip(text: &str) -> Option<IpAddr> {
    Some(text.parse().unwrap())
}

#[test]
fn an_allowed_request_lists_every_step_with_its_rule() {
    let (policy, store) = setup();
    let id = &store.keys[0].id;
    let fields = [
        field("sale.order", "note", FieldUse::Write),
        field("sale.order", "name", FieldUse::Read),
    ];
    let request = Request {
        tool: "update_records",
        model: Some("sale.order"),
        operation: Some(Operation::Write),
        fields: &fields,
        ids: 2,
        ..Request::default()
    };
    let explanation = policy.explain(id, &request, ip("10.1.1.1"), now());
    let text = explanation.lines.join("\n");
    assert!(explanation.allowed, "{text}");
    let expected = [
        format!("key {id} (\"alice\"): valid, expires 2026-04-01T00:00:00Z; profile \"sales\""),
        "address 10.1.1.1 (global): allowed by network.allow \"10.0.0.0/8\"".to_owned(),
        "address 10.1.1.1 (profile): allowed by profile \"sales\": network.allow (empty: any address)".to_owned(),
        "model \"sale.order\": allowed by profile \"sales\" (from \"base\"): models.allow \"sale.*\"".to_owned(),
        "operation \"write\" on \"sale.order\": allowed by profile \"sales\": model.\"sale.order\".operations.allow \"write\"".to_owned(),
        "field \"note\" of \"sale.order\" (write): allowed by profile \"sales\": model.\"sale.order\".fields.write.allow \"note\"".to_owned(),
        "field \"name\" of \"sale.order\" (read): allowed by default".to_owned(),
        "2 record id(s) for \"write\": allowed by profile \"sales\": max_write_ids = 5".to_owned(),
        "decision: allowed".to_owned(),
    ];
    for line in &expected {
        assert!(
            explanation
                .lines
                .iter()
                .any(|l| l.starts_with(line.as_str())),
            "missing line {line:?} in:\n{text}"
        );
    }
    assert_eq!(
        explanation.lines.last().map(String::as_str),
        Some("decision: allowed")
    );
}

#[test]
fn a_denied_request_still_lists_every_step() {
    let (policy, store) = setup();
    let id = &store.keys[0].id;
    let fields = [
        field("sale.order", "partner_id", FieldUse::Filter),
        field("res.partner", "email", FieldUse::Filter),
        field("sale.order", "amount_total", FieldUse::Write),
    ];
    let request = Request {
        tool: "update_records",
        model: Some("sale.order"),
        operation: Some(Operation::Write),
        fields: &fields,
        ids: 9,
        ..Request::default()
    };
    let explanation = policy.explain(id, &request, ip("192.168.1.1"), now());
    let text = explanation.lines.join("\n");
    assert!(!explanation.allowed);
    for expected in [
        "address 192.168.1.1 (global): denied by network.allow (no entry matches 192.168.1.1)",
        "field \"partner_id\" of \"sale.order\" (filter): allowed",
        "field \"email\" of \"res.partner\" (filter): denied by profile \"sales\" (from \"base\"): fields.read.deny \"*email*\"",
        "field \"amount_total\" of \"sale.order\" (write): denied by profile \"sales\": no applicable fields.write.allow entry matches",
        "9 record id(s) for \"write\": denied by profile \"sales\": max_write_ids = 5",
        "decision: denied",
    ] {
        assert!(
            explanation.lines.iter().any(|l| l.starts_with(expected)),
            "missing line {expected:?} in:\n{text}"
        );
    }
}

#[test]
fn explain_for_expired_and_unknown_keys() {
    let (policy, store) = setup();
    let id = &store.keys[0].id;
    let request = Request {
        model: Some("res.partner"),
        operation: Some(Operation::Read),
        ..Request::default()
    };
    let expired = policy.explain(id, &request, None, now() + days(100));
    assert!(!expired.allowed);
    assert!(
        expired.lines[0].contains("denied (key expired)"),
        "{:?}",
        expired.lines
    );
    // the other steps are still explained
    assert!(
        expired
            .lines
            .iter()
            .any(|l| l.starts_with("model \"res.partner\": allowed"))
    );

    let unknown = policy.explain("k_000000000000", &request, None, now());
    assert!(!unknown.allowed);
    assert!(
        unknown.lines[0].contains("unknown key"),
        "{:?}",
        unknown.lines
    );
    assert_eq!(
        unknown.lines.last().map(String::as_str),
        Some("decision: denied")
    );
}

#[test]
fn explain_agrees_with_check() {
    let (policy, store) = setup();
    let id = &store.keys[0].id;
    let profile = profile(&policy, "sales");
    let models = ["sale.order", "res.partner", "hr.employee"];
    let names = ["note", "name", "email", "id"];
    let ops = [
        None,
        Some(Operation::Read),
        Some(Operation::Write),
        Some(Operation::Delete),
    ];
    for model in models {
        for name in names {
            for usage in ALL_USES {
                for op in ops {
                    let fields = [field(model, name, usage)];
                    let request = Request {
                        model: Some(model),
                        operation: op,
                        fields: &fields,
                        ids: 1,
                        ..Request::default()
                    };
                    let explained = policy.explain(id, &request, ip("10.0.0.1"), now()).allowed;
                    assert_eq!(explained, profile.check(&request).is_ok(), "{request:?}");
                }
            }
        }
    }
}

#[test]
fn warnings_name_risky_settings() {
    let text = r#"
        [profiles.base]
        identity = "main"
        models = { allow = ["*"] }
        operations = { allow = ["read"] }
        [profiles.writer]
        extends = ["base"]
        operations = { allow = ["write"] }
        [profiles.locked]
        identity = "main"
        models = { allow = ["x"] }
        operations = { allow = ["create"] }
        network = { allow = ["10.0.0.0/8"] }
        [profiles.unused]
        identity = "main"
        models = { allow = ["x"] }
        [profiles.blind]
        identity = "main"
    "#;
    let (mut store, _) = store_with(&[
        ("forever", "base", None),
        ("soon", "base", Some(days(3))),
        ("later", "writer", Some(days(60))),
        ("fenced", "locked", Some(days(60))),
        ("gone", "blind", None),
    ]);
    let gone = store.keys[4].id.clone();
    keys::revoke(&mut store, &gone, now()).unwrap();
    let policy = try_compile(text, &store).unwrap();
    let warnings = policy.warnings(now());
    let joined = warnings.join("\n");
    let id = |i: usize| store.keys[i].id.clone();
    let expected = [
        format!("key {} (\"forever\") never expires", id(0)),
        format!(
            "key {} (\"soon\") expires within 7 days, on 2026-01-04T00:00:00Z",
            id(1)
        ),
        format!(
            "key {} (\"later\") may change data (profile \"writer\") from any address",
            id(2)
        ),
        "profile \"unused\" is used by no key".to_owned(),
        "profile \"blind\" is used by no key".to_owned(),
        "profile \"blind\" sees no model".to_owned(),
        "profile \"base\" allows every model (models.allow \"*\")".to_owned(),
    ];
    for line in &expected {
        assert!(
            warnings.iter().any(|w| w.starts_with(line.as_str())),
            "missing warning {line:?} in:\n{joined}"
        );
    }
    // not warned: a restricted writer, a revoked key, an ancestor of a used profile, "*" inherited
    assert!(!joined.contains("\"fenced\") may change"), "{joined}");
    assert!(!joined.contains(&gone), "{joined}");
    assert!(
        !joined.contains("profile \"base\" is used by no key"),
        "{joined}"
    );
    assert!(
        !joined.contains("profile \"writer\" allows every model"),
        "{joined}"
    );
    assert!(!joined.contains("profile \"locked\" is used"), "{joined}");
    assert!(warnings.iter().all(|w| !w.contains('\n')));
    // a profile reached otherwise (OAuth claim mappings) is used
    let reaching = policy.warnings_reaching(now(), &["unused"]).join("\n");
    assert!(
        !reaching.contains("profile \"unused\" is used by no key"),
        "{reaching}"
    );
    assert!(
        reaching.contains("profile \"blind\" is used by no key"),
        "{reaching}"
    );
    // expiry warnings move with time
    let later = policy.warnings(now() + days(4)).join("\n");
    assert!(
        later.contains(&format!("key {} (\"soon\") expired on", id(1))),
        "{later}"
    );
    // a global allow rule restricts every key
    let restricted = try_compile(&format!("[network]\nallow = [\"stdio\"]\n{text}"), &store)
        .unwrap()
        .warnings(now())
        .join("\n");
    assert!(!restricted.contains("may change data"), "{restricted}");
}
