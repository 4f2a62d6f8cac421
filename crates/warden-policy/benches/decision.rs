//! The cost of one decision: authenticating a key among 1,000, and `Profile::check` for a
//! typical search (model, 8 fields read, 3 filter fields) in a profile with 100 model rules.
//!
//! Run with: `cargo bench -p warden-policy --bench decision`

// criterion_group! defines an undocumented public function.
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use warden_policy::{
    FieldRef, FieldRules, FieldUse, GlobLists, KeyStoreFile, ModelRuleConfig, Operation,
    OperationLists, Policy, PolicyConfig, ProfileConfig, Request, keys,
};

fn globs(allow: &[&str], deny: &[&str]) -> GlobLists {
    GlobLists {
        allow: allow.iter().map(std::string::ToString::to_string).collect(),
        deny: deny.iter().map(std::string::ToString::to_string).collect(),
    }
}

fn setup() -> (Policy, String) {
    let mut model = BTreeMap::new();
    for i in 0..97 {
        model.insert(
            format!("x_custom.model{i}"),
            ModelRuleConfig {
                operations: OperationLists {
                    allow: vec![Operation::Write],
                    deny: vec![],
                },
                fields: FieldRules {
                    read: globs(&[], &["x_secret*"]).into(),
                    write: globs(&["name", "note"], &[]),
                },
                records: Some(serde_json::json!([["company_id", "=", 1]])),
                ..ModelRuleConfig::default()
            },
        );
    }
    model.insert(
        "sale.order".to_owned(),
        ModelRuleConfig {
            operations: OperationLists {
                allow: vec![Operation::Create, Operation::Write, Operation::Call],
                deny: vec![],
            },
            methods: globs(&["action_confirm"], &[]),
            fields: FieldRules {
                read: globs(&[], &["internal_*"]).into(),
                write: globs(&["note", "client_order_ref"], &[]),
            },
            records: Some(serde_json::json!([["company_id", "=", 1]])),
        },
    );
    model.insert(
        "sale.*".to_owned(),
        ModelRuleConfig {
            fields: FieldRules {
                read: globs(&[], &["margin*"]).into(),
                ..FieldRules::default()
            },
            ..ModelRuleConfig::default()
        },
    );
    model.insert(
        "res.partner".to_owned(),
        ModelRuleConfig {
            fields: FieldRules {
                read: globs(&["name", "city", "country_id", "ref"], &[]).into(),
                ..FieldRules::default()
            },
            ..ModelRuleConfig::default()
        },
    );
    let config = PolicyConfig {
        profiles: BTreeMap::from([
            (
                "base".to_owned(),
                ProfileConfig {
                    identity: Some("main".to_owned()),
                    models: globs(
                        &["res.partner", "product.*", "sale.*", "x_custom.*"],
                        &["ir.*", "res.users*"],
                    ),
                    operations: OperationLists {
                        allow: vec![Operation::Read],
                        deny: vec![],
                    },
                    fields: FieldRules {
                        read: globs(&[], &["*email*", "vat", "private_*", "*password*"]).into(),
                        ..FieldRules::default()
                    },
                    ..ProfileConfig::default()
                },
            ),
            (
                "sales".to_owned(),
                ProfileConfig {
                    extends: vec!["base".to_owned()],
                    model,
                    max_write_ids: Some(20),
                    ..ProfileConfig::default()
                },
            ),
        ]),
        ..PolicyConfig::default()
    };
    let now = SystemTime::now();
    let mut store = KeyStoreFile::default();
    let mut secret = String::new();
    for i in 0..1000 {
        let profile = if i % 2 == 0 { "sales" } else { "base" };
        let (_, s) = keys::create(
            &mut store,
            &format!("agent-{i}"),
            profile,
            Some(Duration::from_secs(90 * 24 * 3600)),
            now,
        )
        .expect("create");
        if i == 500 {
            secret = s;
        }
    }
    let policy = Policy::compile(&config, &store, &["main"]).expect("compile");
    (policy, secret)
}

fn decision(c: &mut Criterion) {
    let (policy, secret) = setup();
    let now = SystemTime::now();
    c.bench_function("authenticate (1,000 keys)", |b| {
        b.iter(|| {
            policy
                .authenticate(black_box(&secret), now)
                .expect("authenticates")
        });
    });
    let profile = policy.profile("sales").expect("profile").clone();
    let read = |field| FieldRef {
        model: "sale.order",
        field,
        usage: FieldUse::Read,
    };
    let filter = |model, field| FieldRef {
        model,
        field,
        usage: FieldUse::Filter,
    };
    let fields = [
        read("id"),
        read("name"),
        read("partner_id"),
        read("date_order"),
        read("amount_total"),
        read("state"),
        read("user_id"),
        read("client_order_ref"),
        filter("sale.order", "state"),
        filter("sale.order", "partner_id"),
        filter("res.partner", "city"),
    ];
    let request = Request {
        tool: "search_records",
        model: Some("sale.order"),
        operation: Some(Operation::Read),
        fields: &fields,
        method: None,
        ids: 0,
    };
    assert!(profile.check(&request).is_ok());
    c.bench_function(
        "Profile::check (search, 8 read + 3 filter fields, 100 model rules)",
        |b| b.iter(|| profile.check(black_box(&request))),
    );
}

criterion_group!(benches, decision);
criterion_main!(benches);
