//! Property tests over random small policies and random calls: a denied field is never
//! usable, an allowed call only touches readable (and, to write, writable) fields, a deny rule
//! never widens access, and a child with no rules of its own decides like its parent.

mod support;

use std::collections::BTreeMap;

use proptest::prelude::*;
use support::IDENTITIES;
use warden_policy::{
    FieldRef, FieldRules, FieldUse, GlobLists, KeyStoreFile, ModelRuleConfig, Operation,
    OperationLists, Policy, PolicyConfig, ProfileConfig, Request,
};

const NAMES: &[&str] = &["a", "b", "ab", "ba", "abc", "id"];
const MODELS: &[&str] = &["x", "y", "x.y", "y.x"];
const METHODS: &[&str] = &["go", "stop", "_go"];
const OPS: [Operation; 5] = [
    Operation::Read,
    Operation::Create,
    Operation::Write,
    Operation::Delete,
    Operation::Call,
];
const USES: [FieldUse; 6] = [
    FieldUse::Read,
    FieldUse::Write,
    FieldUse::Filter,
    FieldUse::Order,
    FieldUse::GroupBy,
    FieldUse::Aggregate,
];

/// A reference matcher, written independently of the crate's.
fn glob_match(pattern: &[char], name: &[char]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some('*'), _) => {
            glob_match(&pattern[1..], name) || (!name.is_empty() && glob_match(pattern, &name[1..]))
        }
        (Some('?'), Some(_)) => glob_match(&pattern[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => glob_match(&pattern[1..], &name[1..]),
        _ => false,
    }
}

fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob_match(&p, &n)
}

fn pattern(alphabet: &'static [char]) -> impl Strategy<Value = String> + Clone {
    prop::collection::vec(prop::sample::select(alphabet), 1..=3)
        .prop_map(|chars| chars.into_iter().collect())
}

fn field_pattern() -> impl Strategy<Value = String> + Clone {
    pattern(&['a', 'b', 'c', '*', '?'])
}

fn model_pattern() -> impl Strategy<Value = String> + Clone {
    pattern(&['x', 'y', '.', '*', '?'])
}

fn method_pattern() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        prop::sample::select(METHODS).prop_map(str::to_owned),
        Just("*".to_owned()),
        Just("g*".to_owned()),
    ]
}

fn lists(item: impl Strategy<Value = String> + Clone) -> impl Strategy<Value = GlobLists> {
    (
        prop::collection::vec(item.clone(), 0..3),
        prop::collection::vec(item, 0..2),
    )
        .prop_map(|(allow, deny)| GlobLists { allow, deny })
}

fn ops() -> impl Strategy<Value = OperationLists> {
    (
        prop::collection::vec(prop::sample::select(&OPS[..]), 0..4),
        prop::collection::vec(prop::sample::select(&OPS[..]), 0..2),
    )
        .prop_map(|(allow, deny)| OperationLists { allow, deny })
}

fn field_rules() -> impl Strategy<Value = FieldRules> {
    (lists(field_pattern()), lists(field_pattern())).prop_map(|(read, write)| FieldRules {
        read: read.into(),
        write,
    })
}

fn model_rule() -> impl Strategy<Value = ModelRuleConfig> {
    (ops(), lists(method_pattern()), field_rules()).prop_map(|(operations, methods, fields)| {
        ModelRuleConfig {
            operations,
            methods,
            fields,
            records: None,
        }
    })
}

fn profile_rules() -> impl Strategy<Value = ProfileConfig> {
    (
        lists(model_pattern()),
        ops(),
        lists(method_pattern()),
        field_rules(),
        prop::collection::btree_map(model_pattern(), model_rule(), 0..3),
        prop::option::of(1u32..10),
    )
        .prop_map(
            |(models, operations, methods, fields, model, max_write_ids)| ProfileConfig {
                models,
                operations,
                methods,
                fields,
                model,
                max_write_ids,
                ..ProfileConfig::default()
            },
        )
}

/// A parent profile `p` and a child `c` extending it with rules of its own.
fn policy_config() -> impl Strategy<Value = PolicyConfig> {
    (profile_rules(), profile_rules()).prop_map(|(mut parent, mut child)| {
        parent.identity = Some("main".to_owned());
        child.extends = vec!["p".to_owned()];
        PolicyConfig {
            profiles: BTreeMap::from([("p".to_owned(), parent), ("c".to_owned(), child)]),
            ..PolicyConfig::default()
        }
    })
}

/// An owned request, borrowed as a [`Request`] by [`Call::request`].
#[derive(Debug, Clone)]
struct Call {
    model: &'static str,
    operation: Option<Operation>,
    fields: Vec<(&'static str, &'static str, FieldUse)>,
    method: Option<&'static str>,
    ids: usize,
}

impl Call {
    fn refs(&self) -> Vec<FieldRef<'static>> {
        self.fields
            .iter()
            .map(|&(model, field, usage)| FieldRef {
                model,
                field,
                usage,
            })
            .collect()
    }

    fn request<'a>(&self, refs: &'a [FieldRef<'static>]) -> Request<'a> {
        Request {
            tool: "t",
            model: Some(self.model),
            operation: self.operation,
            fields: refs,
            method: self.method,
            ids: self.ids,
        }
    }
}

fn call() -> impl Strategy<Value = Call> {
    (
        prop::sample::select(MODELS),
        prop::option::of(prop::sample::select(&OPS[..])),
        prop::collection::vec(
            (
                prop::sample::select(MODELS),
                prop::sample::select(NAMES),
                prop::sample::select(&USES[..]),
            ),
            0..4,
        ),
        prop::option::of(prop::sample::select(METHODS)),
        0usize..12,
    )
        .prop_map(|(model, operation, mut fields, method, ids)| {
            // Most fields of a call are on its own model.
            for (i, f) in fields.iter_mut().enumerate() {
                if i % 2 == 0 {
                    f.0 = model;
                }
            }
            Call {
                model,
                operation,
                fields,
                method,
                ids,
            }
        })
}

fn compile(config: &PolicyConfig) -> Policy {
    Policy::compile(config, &KeyStoreFile::default(), IDENTITIES).unwrap()
}

/// Every `fields.read.deny` pattern that applies to `model` in `profile` and its parents.
fn applicable_read_denies<'c>(
    config: &'c PolicyConfig,
    profile: &str,
    model: &str,
) -> Vec<&'c str> {
    let mut out = Vec::new();
    let mut level = Some(profile);
    while let Some(name) = level {
        let p = &config.profiles[name];
        out.extend(p.fields.read.deny.iter().map(String::as_str));
        for (pattern, rule) in &p.model {
            if matches(pattern, model) {
                out.extend(rule.fields.read.deny.iter().map(String::as_str));
            }
        }
        level = p.extends.first().map(String::as_str);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// (1) A field matched by an applicable deny pattern is unreadable and unusable in any way
    /// (every profile, model and field of the small universe is tried).
    #[test]
    fn denied_fields_are_never_usable(config in policy_config(), call in call()) {
        let policy = compile(&config);
        for which in ["p", "c"] {
            let profile = policy.profile(which).unwrap();
            for &model in MODELS {
                let denies = applicable_read_denies(&config, which, model);
                for &field in NAMES.iter().filter(|&&f| f != "id") {
                    if !denies.iter().any(|p| matches(p, field)) {
                        continue;
                    }
                    prop_assert!(!profile.field_readable(model, field), "{which} {model} {field}");
                    prop_assert!(!profile.field_writable(model, field), "{which} {model} {field}");
                    for usage in USES {
                        let mut with_field = call.clone();
                        with_field.fields.push((model, field, usage));
                        let refs = with_field.refs();
                        prop_assert!(
                            profile.check(&with_field.request(&refs)).is_err(),
                            "{which} {model} {field} {usage:?}"
                        );
                    }
                }
            }
        }
    }

    /// (2) An allowed call only touches readable fields, and writes only writable ones.
    #[test]
    fn allowed_calls_touch_only_permitted_fields(
        config in policy_config(),
        call in call(),
        which in prop::sample::select(&["p", "c"][..]),
    ) {
        let policy = compile(&config);
        let profile = policy.profile(which).unwrap();
        let refs = call.refs();
        if profile.check(&call.request(&refs)).is_ok() {
            prop_assert!(profile.model_visible(call.model));
            for f in &refs {
                prop_assert!(profile.field_readable(f.model, f.field), "{f:?}");
                if f.usage == FieldUse::Write {
                    prop_assert!(profile.field_writable(f.model, f.field), "{f:?}");
                }
            }
            if let Some(op) = call.operation {
                prop_assert!(profile.operation_allowed(call.model, op));
            }
            if let Some(method) = call.method {
                prop_assert!(profile.method_allowed(call.model, method));
            }
        }
    }

    /// (3) Adding a deny rule never turns a denial into an allow.
    #[test]
    fn a_deny_rule_never_widens_access(
        config in policy_config(),
        call in call(),
        kind in 0usize..6,
        field in field_pattern(),
        model in model_pattern(),
        method in method_pattern(),
        op in prop::sample::select(&OPS[..]),
    ) {
        let before = compile(&config);
        let refs = call.refs();
        let request = call.request(&refs);
        let was = before.profile("c").unwrap().check(&request).is_ok();
        let mut stricter = config.clone();
        let child = stricter.profiles.get_mut("c").unwrap();
        match kind {
            0 => child.fields.read.deny.push(field),
            1 => child.fields.write.deny.push(field),
            2 => child.models.deny.push(model),
            3 => child.operations.deny.push(op),
            4 => child.methods.deny.push(method),
            _ => child
                .model
                .entry(model)
                .or_default()
                .fields
                .read
                .deny
                .push(field),
        }
        let after = compile(&stricter);
        let now_ok = after.profile("c").unwrap().check(&request).is_ok();
        prop_assert!(!now_ok || was, "a deny rule allowed {call:?}");
    }

    /// (4) A child with no rules of its own decides exactly like its parent.
    #[test]
    fn an_empty_child_decides_like_its_parent(
        config in policy_config(),
        call in call(),
        model in prop::sample::select(MODELS),
        field in prop::sample::select(NAMES),
    ) {
        let mut config = config;
        config.profiles.insert(
            "c".to_owned(),
            ProfileConfig { extends: vec!["p".to_owned()], ..ProfileConfig::default() },
        );
        let policy = compile(&config);
        let parent = policy.profile("p").unwrap();
        let child = policy.profile("c").unwrap();
        let refs = call.refs();
        let request = call.request(&refs);
        let (a, b) = (parent.check(&request), child.check(&request));
        prop_assert_eq!(a.is_ok(), b.is_ok());
        if let (Err(a), Err(b)) = (a, b) {
            prop_assert_eq!(a.kind, b.kind);
            prop_assert_eq!(a.message, b.message);
        }
        prop_assert_eq!(parent.model_visible(model), child.model_visible(model));
        prop_assert_eq!(parent.field_readable(model, field), child.field_readable(model, field));
        prop_assert_eq!(parent.field_writable(model, field), child.field_writable(model, field));
        for op in OPS {
            prop_assert_eq!(parent.operation_allowed(model, op), child.operation_allowed(model, op));
            prop_assert_eq!(parent.any_model_allows(op), child.any_model_allows(op));
        }
        for method in METHODS {
            prop_assert_eq!(parent.method_allowed(model, method), child.method_allowed(model, method));
        }
        prop_assert_eq!(parent.records_domain(model), child.records_domain(model));
        prop_assert_eq!(parent.max_write_ids(), child.max_write_ids());
        prop_assert_eq!(parent.identity(), child.identity());
    }

    /// The compiled matcher agrees with the reference matcher.
    #[test]
    fn glob_matcher_agrees_with_reference(
        pattern in pattern(&['a', 'b', '*', '?']),
        name in "[ab]{0,5}",
    ) {
        let config = PolicyConfig {
            profiles: BTreeMap::from([(
                "p".to_owned(),
                ProfileConfig {
                    identity: Some("main".to_owned()),
                    models: GlobLists { allow: vec![pattern.clone()], deny: vec![] },
                    ..ProfileConfig::default()
                },
            )]),
            ..PolicyConfig::default()
        };
        let policy = compile(&config);
        prop_assert_eq!(
            policy.profile("p").unwrap().model_visible(&name),
            matches(&pattern, &name),
            "{} against {}", pattern, name
        );
    }
}
