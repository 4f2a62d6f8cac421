//! Table-driven tests of every rule kind of a profile: models, operations, methods, fields,
//! records, bounds, inheritance, and the decision for one call.

mod support;

use serde_json::json;
use support::*;
use warden_policy::{DenialKind, FieldUse, Operation, Request};

const POLICY: &str = r#"
[profiles.base]
identity = "main"
description = "what everyone may read"
models = { allow = ["res.partner", "product.*", "sale.*"], deny = ["sale.secret*"] }
operations = { allow = ["read"] }
fields = { read = { deny = ["*password*"] } }

[profiles.sales]
extends = ["base"]
models = { allow = ["crm.lead"], deny = ["product.pricelist"] }
operations = { deny = ["delete"] }
methods = { deny = ["action_cancel"] }
max_write_ids = 20

[profiles.sales.model."sale.order"]
operations = { allow = ["create", "write", "call", "delete"] }
methods = { allow = ["action_*", "_private_thing"] }
fields = { read = { deny = ["internal_note"] }, write = { allow = ["note", "client_order_ref", "internal_note", "id", "*password*"] } }
records = [["company_id", "=", 1]]

[profiles.sales.model."sale.*"]
records = ["|", ["user_id", "=", 5], ["team_id", "=", 2]]

[profiles.sales.model."res.partner"]
fields = { read = { allow = ["name", "city", "email*"], deny = ["email_private"] } }

[profiles.sales.model."crm.lead"]
operations = { allow = ["write"] }
methods = { allow = ["action_*"] }

[profiles.writer]
identity = "other"
models = { allow = ["*"] }
operations = { allow = ["read", "write", "call"] }
methods = { allow = ["do_it"] }
fields = { read = { allow = ["a*"] }, write = { allow = ["*"] , deny = ["ab*"] } }
"#;

#[test]
fn model_visibility() {
    let policy = policy(POLICY);
    let cases = [
        ("base", "res.partner", true),
        ("base", "res.partner.bank", false),
        ("base", "product.template", true),
        ("base", "product.pricelist", true),
        ("base", "sale.order", true),
        ("base", "sale.secret_stuff", false),
        ("base", "crm.lead", false),
        ("base", "Res.Partner", false),
        ("base", "", false),
        ("sales", "crm.lead", true),
        ("sales", "product.pricelist", false),
        ("sales", "product.product", true),
        ("sales", "sale.secret", false),
        ("sales", "hr.employee", false),
        ("writer", "anything.at.all", true),
    ];
    for (name, model, expected) in cases {
        assert_eq!(
            profile(&policy, name).model_visible(model),
            expected,
            "{name} / {model}"
        );
    }
}

#[test]
fn operations() {
    let policy = policy(POLICY);
    use Operation::*;
    let cases = [
        // profile level
        ("base", "res.partner", Read, true),
        ("base", "res.partner", Write, false),
        // inherited read
        ("sales", "res.partner", Read, true),
        // per model
        ("sales", "sale.order", Create, true),
        ("sales", "sale.order", Write, true),
        ("sales", "sale.order.line", Write, false),
        ("sales", "crm.lead", Write, true),
        ("sales", "crm.lead", Create, false),
        // deny at profile level wins over the model rule's allow
        ("sales", "sale.order", Delete, false),
        // never on an invisible model
        ("sales", "sale.secret_stuff", Read, false),
        ("sales", "hr.employee", Read, false),
    ];
    for (name, model, op, expected) in cases {
        assert_eq!(
            profile(&policy, name).operation_allowed(model, op),
            expected,
            "{name} / {model} / {op}"
        );
    }
    let sales = profile(&policy, "sales");
    assert!(sales.any_model_allows(Write));
    assert!(sales.any_model_allows(Call));
    assert!(!sales.any_model_allows(Delete), "denied profile-wide");
    assert!(!profile(&policy, "base").any_model_allows(Create));
}

#[test]
fn operation_deny_in_model_rule_wins_over_profile_allow() {
    let policy = policy(
        r#"
        [profiles.p]
        identity = "main"
        models = { allow = ["*"] }
        operations = { allow = ["read", "write"] }
        [profiles.p.model."account.*"]
        operations = { deny = ["write"] }
        "#,
    );
    let p = profile(&policy, "p");
    assert!(p.operation_allowed("sale.order", Operation::Write));
    assert!(!p.operation_allowed("account.move", Operation::Write));
    assert!(p.operation_allowed("account.move", Operation::Read));
}

#[test]
fn methods() {
    let policy = policy(POLICY);
    let cases = [
        ("sales", "sale.order", "action_confirm", true),
        // allowlist only
        ("sales", "sale.order", "unlink_all", false),
        // deny wins (profile-wide deny against the model's allow glob)
        ("sales", "sale.order", "action_cancel", false),
        // private never, even when listed
        ("sales", "sale.order", "_private_thing", false),
        ("sales", "sale.order", "_action_confirm", false),
        // needs the call operation
        ("sales", "crm.lead", "action_won", false),
        ("sales", "res.partner", "action_confirm", false),
        ("writer", "x", "do_it", true),
        ("writer", "x", "do_it_again", false),
        ("base", "sale.order", "action_confirm", false),
    ];
    for (name, model, method, expected) in cases {
        assert_eq!(
            profile(&policy, name).method_allowed(model, method),
            expected,
            "{name} / {model} / {method}"
        );
    }
}

#[test]
fn fields_read() {
    let policy = policy(POLICY);
    let cases = [
        // default open, profile-wide deny inherited
        ("sales", "sale.order", "name", true),
        ("sales", "sale.order", "password_hash", false),
        ("sales", "sale.order", "internal_note", false),
        // an allowlist applies on res.partner
        ("sales", "res.partner", "name", true),
        ("sales", "res.partner", "email", true),
        ("sales", "res.partner", "email_private", false),
        ("sales", "res.partner", "phone", false),
        ("sales", "res.partner", "id", true),
        // ...but not on other models
        ("sales", "product.template", "phone", true),
        // invisible model: nothing readable, not even id
        ("sales", "hr.employee", "name", false),
        ("sales", "hr.employee", "id", false),
        ("writer", "m", "abc", true),
        ("writer", "m", "b", false),
        ("writer", "m", "", false),
    ];
    for (name, model, field, expected) in cases {
        assert_eq!(
            profile(&policy, name).field_readable(model, field),
            expected,
            "{name} / {model} / {field}"
        );
    }
}

#[test]
fn fields_write() {
    let policy = policy(POLICY);
    let cases = [
        ("sales", "sale.order", "note", true),
        ("sales", "sale.order", "client_order_ref", true),
        // allowlist only
        ("sales", "sale.order", "amount_total", false),
        // must be readable
        ("sales", "sale.order", "internal_note", false),
        ("sales", "sale.order", "password_hash", false),
        // id never
        ("sales", "sale.order", "id", false),
        // no write allow list at all
        ("base", "res.partner", "name", false),
        ("writer", "m", "ax", true),
        ("writer", "m", "abc", false),
        ("writer", "m", "bx", false),
    ];
    for (name, model, field, expected) in cases {
        assert_eq!(
            profile(&policy, name).field_writable(model, field),
            expected,
            "{name} / {model} / {field}"
        );
    }
}

#[test]
fn check_refuses_a_hidden_field_in_every_use() {
    let policy = policy(POLICY);
    let sales = profile(&policy, "sales");
    for usage in ALL_USES {
        let fields = [field("sale.order", "password_hash", usage)];
        let request = Request {
            tool: "search_records",
            model: Some("sale.order"),
            operation: Some(if usage == FieldUse::Write {
                Operation::Write
            } else {
                Operation::Read
            }),
            fields: &fields,
            ids: 1,
            ..Request::default()
        };
        let denial = sales.check(&request).unwrap_err();
        assert_eq!(denial.kind, DenialKind::Field, "{usage:?}");
        assert!(
            denial.message.contains("password_hash"),
            "{}",
            denial.message
        );
        assert_eq!(
            denial.rule, r#"profile "sales" (from "base"): fields.read.deny "*password*""#,
            "{usage:?}"
        );
    }
}

#[test]
fn dotted_paths_are_checked_on_their_own_model() {
    let policy = policy(POLICY);
    let sales = profile(&policy, "sales");
    let search = |fields: &[warden_policy::FieldRef<'_>]| {
        sales.check(&Request {
            tool: "search_records",
            model: Some("sale.order"),
            operation: Some(Operation::Read),
            fields,
            ..Request::default()
        })
    };
    // partner_id.city: city is readable on res.partner
    assert!(
        search(&[
            field("sale.order", "partner_id", FieldUse::Filter),
            field("res.partner", "city", FieldUse::Filter),
        ])
        .is_ok()
    );
    // partner_id.phone: not in res.partner's allow list
    let denial = search(&[
        field("sale.order", "partner_id", FieldUse::Filter),
        field("res.partner", "phone", FieldUse::Filter),
    ])
    .unwrap_err();
    assert_eq!(denial.kind, DenialKind::Field);
    assert!(denial.rule.contains("fields.read.allow"), "{}", denial.rule);
    // a path into an invisible model: refused as a field, without naming the model's rules
    let denial = search(&[
        field("sale.order", "user_id", FieldUse::Order),
        field("hr.employee", "name", FieldUse::Order),
    ])
    .unwrap_err();
    assert_eq!(denial.kind, DenialKind::Field);
    assert!(denial.message.contains("cannot be used to sort"));
}

#[test]
fn a_field_on_a_model_without_read_is_refused_in_data_calls() {
    let policy = policy(
        r#"
        [profiles.p]
        identity = "main"
        models = { allow = ["a", "b"] }
        [profiles.p.model.a]
        operations = { allow = ["read"] }
        "#,
    );
    let p = profile(&policy, "p");
    let fields = [
        field("a", "b_id", FieldUse::Filter),
        field("b", "name", FieldUse::Filter),
    ];
    let mut request = Request {
        model: Some("a"),
        operation: Some(Operation::Read),
        fields: &fields,
        ..Request::default()
    };
    let denial = p.check(&request).unwrap_err();
    assert_eq!(denial.kind, DenialKind::Field);
    // Metadata only (describe): visibility is enough.
    request.operation = None;
    assert!(p.check(&request).is_ok());
}

#[test]
fn messages_do_not_tell_hidden_from_missing() {
    let policy = policy(POLICY);
    let sales = profile(&policy, "sales");
    let message = |model: &str, name: &str| {
        let fields = [field(model, name, FieldUse::Read)];
        sales
            .check(&Request {
                model: Some(model),
                operation: Some(Operation::Read),
                fields: &fields,
                ..Request::default()
            })
            .unwrap_err()
            .message
    };
    let hidden = message("res.partner", "phone");
    let missing = message("res.partner", "no_such_field");
    assert_eq!(
        hidden.replace("phone", "X"),
        missing.replace("no_such_field", "X")
    );
    let model_message = |model: &str| {
        sales
            .check(&Request {
                model: Some(model),
                operation: Some(Operation::Read),
                ..Request::default()
            })
            .unwrap_err()
    };
    let hidden = model_message("hr.employee");
    let missing = model_message("no.such.model");
    assert_eq!(hidden.kind, DenialKind::Model);
    assert_eq!(
        hidden.message.replace("hr.employee", "X"),
        missing.message.replace("no.such.model", "X")
    );
}

#[test]
fn check_steps_in_order() {
    let policy = policy(POLICY);
    let sales = profile(&policy, "sales");
    let write_fields = [field("sale.order", "note", FieldUse::Write)];
    let cases: Vec<(Request<'_>, Result<(), DenialKind>)> = vec![
        (
            Request {
                model: Some("hr.employee"),
                operation: Some(Operation::Read),
                ..Request::default()
            },
            Err(DenialKind::Model),
        ),
        (
            Request {
                model: Some("sale.order"),
                operation: Some(Operation::Delete),
                ids: 1,
                ..Request::default()
            },
            Err(DenialKind::Operation),
        ),
        (
            Request {
                model: Some("sale.order"),
                operation: Some(Operation::Call),
                method: Some("action_confirm"),
                ids: 3,
                ..Request::default()
            },
            Ok(()),
        ),
        (
            Request {
                model: Some("sale.order"),
                operation: Some(Operation::Call),
                method: Some("_unlink"),
                ids: 3,
                ..Request::default()
            },
            Err(DenialKind::Method),
        ),
        (
            Request {
                model: Some("sale.order"),
                operation: Some(Operation::Call),
                ids: 1,
                ..Request::default()
            },
            Err(DenialKind::Method),
        ),
        (
            Request {
                model: Some("sale.order"),
                operation: Some(Operation::Write),
                fields: &write_fields,
                ids: 20,
                ..Request::default()
            },
            Ok(()),
        ),
        (
            Request {
                model: Some("sale.order"),
                operation: Some(Operation::Write),
                fields: &write_fields,
                ids: 21,
                ..Request::default()
            },
            Err(DenialKind::Bounds),
        ),
        (
            Request {
                model: Some("sale.order"),
                operation: Some(Operation::Create),
                fields: &write_fields,
                ids: 500,
                ..Request::default()
            },
            Ok(()),
        ),
        // metadata only: visibility
        (
            Request {
                model: Some("sale.order"),
                ..Request::default()
            },
            Ok(()),
        ),
        // list models
        (Request::default(), Ok(())),
    ];
    for (i, (request, expected)) in cases.iter().enumerate() {
        assert_eq!(
            sales.check(request).map_err(|d| d.kind),
            *expected,
            "case {i}: {request:?}"
        );
    }
    let denial = sales
        .check(&Request {
            tool: "update_records",
            model: Some("sale.order"),
            operation: Some(Operation::Write),
            fields: &write_fields,
            ids: 21,
            ..Request::default()
        })
        .unwrap_err();
    assert_eq!(denial.rule, r#"profile "sales": max_write_ids = 20"#);
    assert!(
        denial.message.starts_with("update_records: "),
        "{}",
        denial.message
    );
    assert!(denial.message.contains("at most 20"), "{}", denial.message);
}

#[test]
fn records_domains_are_concatenated() {
    let policy = policy(
        r#"
        [profiles.base]
        identity = "main"
        models = { allow = ["sale.*"] }
        [profiles.base.model."sale.*"]
        records = [["company_id", "=", 1]]
        [profiles.child]
        extends = ["base"]
        [profiles.child.model."sale.order"]
        records = ["|", ["user_id", "=", 5], ["team_id", "=", 2]]
        [profiles.child.model."sale.order.line"]
        records = []
        "#,
    );
    let child = profile(&policy, "child");
    assert_eq!(
        child.records_domain("sale.order"),
        Some(json!([
            "|",
            ["user_id", "=", 5],
            ["team_id", "=", 2],
            ["company_id", "=", 1]
        ]))
    );
    assert_eq!(
        child.records_domain("sale.order.line"),
        Some(json!([["company_id", "=", 1]]))
    );
    assert_eq!(child.records_domain("res.partner"), None);
    assert_eq!(
        profile(&policy, "base").records_domain("sale.order"),
        Some(json!([["company_id", "=", 1]]))
    );
}

#[test]
fn inheritance_several_levels_and_diamond() {
    let policy = policy(
        r#"
        [profiles.root]
        identity = "main"
        models = { allow = ["a"] }
        fields = { read = { deny = ["secret"] } }
        max_records = 100
        [profiles.left]
        extends = ["root"]
        models = { allow = ["b"] }
        max_records = 50
        [profiles.right]
        extends = ["root"]
        identity = "other"
        models = { allow = ["c"], deny = ["a"] }
        confirm_writes = true
        [profiles.bottom]
        extends = ["left", "right"]
        models = { allow = ["d"] }
        max_records = 80
        [profiles.deep]
        extends = ["bottom"]
        "#,
    );
    let bottom = profile(&policy, "bottom");
    assert_eq!(bottom.ancestors(), ["left", "right", "root"]);
    // identity: depth first in extends order: left -> root ("main") before right
    assert_eq!(bottom.identity(), "main");
    assert_eq!(profile(&policy, "right").identity(), "other");
    assert!(bottom.model_visible("b"));
    assert!(bottom.model_visible("c"));
    assert!(bottom.model_visible("d"));
    assert!(
        !bottom.model_visible("a"),
        "right's deny wins over root's allow"
    );
    assert!(!bottom.field_readable("b", "secret"));
    assert_eq!(bottom.max_records(), Some(50), "the strictest bound");
    assert!(bottom.confirm_writes());
    let deep = profile(&policy, "deep");
    assert_eq!(deep.ancestors(), ["bottom", "left", "right", "root"]);
    assert_eq!(deep.identity(), "main");
    assert!(deep.model_visible("d") && !deep.model_visible("a"));
    assert_eq!(deep.description(), None);
    assert_eq!(profile(&policy, "root").max_records(), Some(100));
    assert!(!profile(&policy, "left").confirm_writes());
}

#[test]
fn denial_rule_names_the_profile_it_comes_from() {
    let policy = policy(POLICY);
    let sales = profile(&policy, "sales");
    let fields = [field("res.partner", "email_private", FieldUse::Read)];
    let denial = sales
        .check(&Request {
            model: Some("res.partner"),
            operation: Some(Operation::Read),
            fields: &fields,
            ..Request::default()
        })
        .unwrap_err();
    assert_eq!(
        denial.rule,
        r#"profile "sales": model."res.partner".fields.read.deny "email_private""#
    );
    let denial = sales
        .check(&Request {
            model: Some("sale.secret_x"),
            ..Request::default()
        })
        .unwrap_err();
    assert_eq!(
        denial.rule,
        r#"profile "sales" (from "base"): models.deny "sale.secret*""#
    );
}

#[test]
fn empty_profile_sees_nothing() {
    let policy = policy("[profiles.p]\nidentity = \"main\"\n");
    let p = profile(&policy, "p");
    assert!(!p.model_visible("res.partner"));
    assert!(!p.any_model_allows(Operation::Read));
    assert!(
        policy
            .warnings(now())
            .iter()
            .any(|w| w.contains("\"p\" sees no model"))
    );
}
