//! Property tests of field hiding through the whole gateway, against one simulator per test:
//! random read rules over `res.partner`'s fields (deny lists, sometimes an allow list, profile
//! wide or for the model only) and random search, read, count and aggregate calls naming any of
//! its fields — hidden ones included — in `fields`, domains (dotted paths through `parent_id`,
//! `child_ids` and `country_id` too), orders, groupings and aggregates, in either protocol era.
//!
//! (a) No response carries a hidden field as a key, nor a value only a hidden field holds.
//! (b) Every call that names a hidden field is refused and sends nothing to Odoo.

mod support;

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use support::{Client, ERAS, Keys};
use warden_gateway::catalog::{Catalog, CatalogSettings};
use warden_gateway::engine::{Gateway, ServerInfo};
use warden_odoo_sim::{SimHandle, SimOptions};

/// Every field of `res.partner` in the simulator (checked against `describe_model`).
const FIELDS: [&str; 39] = [
    "active",
    "barcode",
    "category_id",
    "child_ids",
    "city",
    "comment",
    "commercial_company_name",
    "commercial_partner_id",
    "company_id",
    "company_name",
    "company_registry",
    "company_type",
    "complete_name",
    "country_id",
    "create_date",
    "create_uid",
    "display_name",
    "email",
    "email_formatted",
    "email_normalized",
    "function",
    "id",
    "is_company",
    "mobile",
    "name",
    "parent_id",
    "phone",
    "phone_mobile_search",
    "phone_sanitized",
    "ref",
    "sale_order_ids",
    "street",
    "type",
    "user_id",
    "vat",
    "website",
    "write_date",
    "write_uid",
    "zip",
];

/// Fields of `res.country` reached through `country_id`.
const COUNTRY_FIELDS: [&str; 4] = ["code", "name", "display_name", "phone_code"];

/// Read patterns besides plain field names.
const GLOBS: [&str; 8] = [
    "*email*", "*_id", "comp*", "*date*", "*name", "c*", "*_uid", "*",
];

const PARTNER: &str = "res.partner";
const COUNTRY: &str = "res.country";

/// Read rules of one random profile.
#[derive(Debug, Clone)]
struct Rules {
    deny: Vec<String>,
    allow: Option<Vec<String>>,
    /// Whether the rules are written for `res.partner` only (else profile wide).
    partner_only: bool,
}

impl Rules {
    fn policy(&self) -> String {
        let mut read = format!("deny = {}", json!(self.deny));
        if let Some(allow) = &self.allow {
            read.push_str(&format!(", allow = {}", json!(allow)));
        }
        let rules = format!("fields = {{ read = {{ {read} }} }}");
        let (wide, model) = if self.partner_only {
            (
                String::new(),
                format!("[profiles.p.model.\"{PARTNER}\"]\n{rules}\n"),
            )
        } else {
            (rules, String::new())
        };
        format!(
            "[profiles.p]\nidentity = \"admin\"\nmodels = {{ allow = [\"{PARTNER}\", \"{COUNTRY}\"] }}\noperations = {{ allow = [\"read\"] }}\n{wide}\n{model}"
        )
    }
}

fn pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(FIELDS.to_vec()).prop_map(str::to_owned),
        1 => prop::sample::select(GLOBS.to_vec()).prop_map(str::to_owned),
    ]
}

fn rules() -> impl Strategy<Value = Rules> {
    (
        prop::collection::vec(pattern(), 0..6),
        prop::option::weighted(0.25, prop::collection::vec(pattern(), 1..10)),
        any::<bool>(),
    )
        .prop_map(|(deny, allow, partner_only)| Rules {
            deny,
            allow,
            partner_only,
        })
}

/// One tool call and every (model, field) it names.
#[derive(Debug, Clone)]
struct Call {
    tool: &'static str,
    arguments: Value,
    names: Vec<(&'static str, String)>,
}

fn field() -> impl Strategy<Value = &'static str> {
    prop::sample::select(FIELDS.to_vec())
}

fn fields() -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(field(), 1..4)
}

/// A domain path and the fields it names.
fn path() -> impl Strategy<Value = (String, Vec<(&'static str, String)>)> {
    let own = |f: &str| (PARTNER, f.to_owned());
    prop_oneof![
        4 => field().prop_map(move |f| (f.to_owned(), vec![own(f)])),
        1 => field().prop_map(move |f| (format!("parent_id.{f}"), vec![own("parent_id"), own(f)])),
        1 => field().prop_map(move |f| (format!("child_ids.{f}"), vec![own("child_ids"), own(f)])),
        1 => prop::sample::select(COUNTRY_FIELDS.to_vec()).prop_map(move |f| {
            (format!("country_id.{f}"), vec![own("country_id"), (COUNTRY, f.to_owned())])
        }),
    ]
}

/// A domain of one or two conditions and the fields it names.
fn domain() -> impl Strategy<Value = (String, Vec<(&'static str, String)>)> {
    let condition = (
        path(),
        prop::sample::select(vec!["'!=', False", "'=', False", "'ilike', 'e'", "'>', 1"]),
    );
    prop::collection::vec(condition, 0..3).prop_map(|conditions| {
        let mut names = Vec::new();
        let leaves: Vec<String> = conditions
            .into_iter()
            .map(|((path, named), rest)| {
                names.extend(named);
                format!("('{path}', {rest})")
            })
            .collect();
        (format!("[{}]", leaves.join(", ")), names)
    })
}

fn own_fields(list: &[&str]) -> Vec<(&'static str, String)> {
    list.iter().map(|f| (PARTNER, (*f).to_owned())).collect()
}

fn call() -> impl Strategy<Value = Call> {
    let search = (
        prop::option::of(fields()),
        domain(),
        prop::collection::vec((field(), any::<bool>()), 0..3),
    )
        .prop_map(|(fields, (domain, mut names), order)| {
            let mut arguments = json!({"model": PARTNER, "domain": domain, "limit": 20});
            if let Some(fields) = &fields {
                arguments["fields"] = json!(fields);
                names.extend(own_fields(fields));
            }
            if !order.is_empty() {
                let terms: Vec<String> = order
                    .iter()
                    .map(|(f, asc)| format!("{f} {}", if *asc { "asc" } else { "desc" }))
                    .collect();
                arguments["order"] = json!(terms.join(", "));
                let sorted: Vec<&str> = order.iter().map(|(f, _)| *f).collect();
                names.extend(own_fields(&sorted));
            }
            Call {
                tool: "search_records",
                arguments,
                names,
            }
        });
    let read = (
        prop::collection::vec(1i64..=62, 1..5),
        prop::option::of(fields()),
    )
        .prop_map(|(ids, fields)| {
            let mut arguments = json!({"model": PARTNER, "ids": ids});
            let mut names = Vec::new();
            if let Some(fields) = &fields {
                arguments["fields"] = json!(fields);
                names.extend(own_fields(fields));
            }
            Call {
                tool: "read_records",
                arguments,
                names,
            }
        });
    let count = domain().prop_map(|(domain, names)| Call {
        tool: "count_records",
        arguments: json!({"model": PARTNER, "domain": domain}),
        names,
    });
    let aggregate = (
        domain(),
        prop::collection::vec(field(), 0..3),
        prop::collection::vec(
            (
                field(),
                prop::sample::select(vec!["count", "count_distinct", "max", "min", "sum"]),
            ),
            0..3,
        ),
    )
        .prop_map(|((domain, mut names), group_by, aggregates)| {
            names.extend(own_fields(&group_by));
            let aggregated: Vec<&str> = aggregates.iter().map(|(f, _)| *f).collect();
            names.extend(own_fields(&aggregated));
            let specs: Vec<String> = aggregates
                .iter()
                .map(|(f, function)| format!("{f}:{function}"))
                .collect();
            Call {
                tool: "aggregate_records",
                arguments: json!({"model": PARTNER, "domain": domain, "group_by": group_by,
                                  "aggregates": specs, "limit": 20}),
                names,
            }
        });
    prop_oneof![search, read, count, aggregate]
}

/// The shared simulator and what the tests know of its partners.
struct World {
    tokio: tokio::runtime::Runtime,
    sim: SimHandle,
    catalogs: std::collections::BTreeMap<String, Catalog>,
    /// Every partner (archived ones too) with every field, read without restriction.
    partners: Vec<Value>,
}

impl World {
    fn start() -> Self {
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let sim = tokio
            .block_on(warden_odoo_sim::start(
                "127.0.0.1:0".parse().expect("addr"),
                SimOptions::default(),
            ))
            .expect("sim");
        let settings = CatalogSettings::default();
        let catalogs = {
            let _entered = tokio.enter();
            support::catalogs(&sim, &settings)
        };
        let partners = tokio.block_on(async {
            let admin = &catalogs["admin"];
            let described = admin
                .call_tool("describe_model", object(json!({"model": PARTNER})))
                .await
                .expect("a tool");
            let described: BTreeSet<String> = described.structured().expect("a success")["fields"]
                .as_array()
                .expect("fields")
                .iter()
                .map(|f| f["name"].as_str().expect("name").to_owned())
                .collect();
            let known: BTreeSet<String> = FIELDS.iter().map(|f| (*f).to_owned()).collect();
            assert_eq!(described, known, "FIELDS lists every field of res.partner");
            let found = admin
                .call_tool(
                    "search_records",
                    object(json!({"model": PARTNER, "fields": FIELDS.as_slice(), "limit": 500,
                                  "domain": "['|', ('active', '=', True), ('active', '=', False)]"})),
                )
                .await
                .expect("a tool");
            assert!(!found.is_error(), "{}", found.text);
            found.structured().expect("a success")["records"]
                .as_array()
                .expect("records")
                .clone()
        });
        assert!(partners.len() > 40, "the demo partners");
        Self {
            tokio,
            sim,
            catalogs,
            partners,
        }
    }

    /// A gateway under `rules`, with the hidden fields of each model it names.
    fn gateway(&self, rules: &Rules) -> (Gateway, String, Hidden) {
        let policy = rules.policy();
        let keys = Keys::for_policy(&policy);
        let runtime = support::compile(&policy, &keys.store, &self.catalogs);
        let profile = runtime.policy().profile("p").expect("profile").clone();
        let hidden = Hidden {
            partner: FIELDS
                .iter()
                .filter(|f| !profile.field_readable(PARTNER, f))
                .map(|f| (*f).to_owned())
                .collect(),
            country: COUNTRY_FIELDS
                .iter()
                .filter(|f| !profile.field_readable(COUNTRY, f))
                .map(|f| (*f).to_owned())
                .collect(),
        };
        let gateway = Gateway::new(runtime, ServerInfo::default());
        (gateway, keys.secrets["p"].clone(), hidden)
    }

    /// Strings only hidden fields of some partner hold (no visible field of any partner holds
    /// them), longer than three characters.
    fn hidden_values(&self, hidden: &Hidden) -> BTreeSet<String> {
        let mut only_hidden = BTreeSet::new();
        let mut visible = BTreeSet::new();
        for partner in &self.partners {
            for (field, value) in partner.as_object().expect("a record") {
                let mut strings = Vec::new();
                support::strings_of(value, &mut strings);
                if hidden.partner.contains(field) {
                    only_hidden.extend(strings);
                } else {
                    visible.extend(strings);
                }
            }
        }
        only_hidden
            .difference(&visible)
            .filter(|s| s.chars().count() > 3)
            .cloned()
            .collect()
    }
}

/// Fields a profile may not read, by model.
#[derive(Debug)]
struct Hidden {
    partner: BTreeSet<String>,
    country: BTreeSet<String>,
}

impl Hidden {
    fn names_any(&self, names: &[(&'static str, String)]) -> bool {
        names.iter().any(|(model, field)| match *model {
            PARTNER => self.partner.contains(field),
            _ => self.country.contains(field),
        })
    }
}

fn object(value: Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    })
}

/// The strategy of one case: rules, a protocol era and a few calls.
fn case() -> impl Strategy<Value = (Rules, &'static str, Vec<Call>)> {
    (
        rules(),
        prop::sample::select(ERAS.to_vec()),
        prop::collection::vec(call(), 1..8),
    )
}

/// A client of a fresh gateway under `rules`, with the metadata of both models cached; the
/// described fields hold no hidden one.
async fn connect(
    world: &World,
    rules: &Rules,
    version: &'static str,
) -> Result<(Client, Hidden), TestCaseError> {
    let (gateway, secret, hidden) = world.gateway(rules);
    let key = gateway.authenticate(&secret, None).expect("the key");
    let session = gateway.session(warden_gateway::engine::Caller::stdio(), key);
    let mut client = Client::connect(session, version, false).await;
    for (model, hidden_here) in [(PARTNER, &hidden.partner), (COUNTRY, &hidden.country)] {
        let described = client.ok("describe_model", json!({"model": model})).await;
        for f in described["fields"].as_array().expect("fields") {
            let name = f["name"].as_str().expect("name");
            prop_assert!(
                !hidden_here.contains(name),
                "describe_model {model} shows the hidden field {name}"
            );
        }
    }
    Ok((client, hidden))
}

#[test]
fn responses_never_carry_a_hidden_field_or_its_value() {
    let world = World::start();
    let result = runner().run(&case(), |(rules, version, calls)| {
        world.tokio.block_on(async {
            let (mut client, hidden) = connect(&world, &rules, version).await?;
            let values = world.hidden_values(&hidden);
            for call in &calls {
                let result = client.call(call.tool, call.arguments.clone()).await;
                let structured = &result["structuredContent"];
                let mut keys = Vec::new();
                support::keys_of(structured, &mut keys);
                for key in &keys {
                    prop_assert!(
                        !hidden.partner.contains(key),
                        "{} {}: the hidden field {key} is in {structured}",
                        call.tool,
                        call.arguments
                    );
                }
                let mut strings = Vec::new();
                support::strings_of(&result, &mut strings);
                for s in &strings {
                    prop_assert!(
                        !values.contains(s),
                        "{} {}: the hidden value {s:?} is in {result}",
                        call.tool,
                        call.arguments
                    );
                }
            }
            Ok(())
        })
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}

#[test]
fn calls_naming_a_hidden_field_are_refused_before_odoo() {
    let world = World::start();
    let result = runner().run(&case(), |(rules, version, calls)| {
        world.tokio.block_on(async {
            let (mut client, hidden) = connect(&world, &rules, version).await?;
            for call in &calls {
                if !hidden.names_any(&call.names) {
                    continue;
                }
                let before = world.sim.request_count();
                let result = client.call(call.tool, call.arguments.clone()).await;
                prop_assert_eq!(
                    world.sim.request_count(),
                    before,
                    "{} {} reached Odoo: {}",
                    call.tool,
                    &call.arguments,
                    &result
                );
                prop_assert_eq!(
                    &result["isError"],
                    &json!(true),
                    "{} {}: {}",
                    call.tool,
                    &call.arguments,
                    &result
                );
                prop_assert_eq!(
                    &result["_meta"]["io.github.odoo-warden/error"]["kind"],
                    &json!("invalid_arguments"),
                    "{} {}",
                    call.tool,
                    &call.arguments
                );
            }
            Ok(())
        })
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}
