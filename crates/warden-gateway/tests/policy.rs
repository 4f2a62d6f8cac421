//! The gateway's policy enforcement against the simulator, table-driven, every case in a legacy
//! revision (2025-11-25, after `initialize`) and in 2026-07-28 (`_meta` on every request): the
//! tools, models and fields each profile sees; a hidden field refused wherever it is named, as
//! if it did not exist, before anything reaches Odoo; records domains; operations, methods and
//! bounds; write confirmation; rate limits; reloads; IP rules; and Odoo's own access errors.
//! Every message the gateway sends is validated against the official schema of its revision
//! (see `support::Client`).

mod support;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::SystemTime;

use serde_json::{Value, json};
use support::{Client, ERAS, Keys, LEGACY, MODERN};
use warden_gateway::catalog::CatalogSettings;
use warden_gateway::engine::{Caller, FORBIDDEN, Gateway, RATE_LIMITED, ServerInfo};
use warden_odoo::Protocol;
use warden_odoo_sim::{OdooVersion, SimHandle, SimOptions};

/// Profiles over the admin identity: `base` reads a few models without contact details,
/// `sales` may also change a partner's phone and website and confirm its own orders (user 2),
/// `writer` is `sales` with every change confirmed by a person.
const POLICY: &str = r#"
[profiles.base]
identity = "admin"
models = { allow = ["res.partner", "res.country", "sale.order", "sale.order.line", "product.*"], deny = ["hr.*"] }
operations = { allow = ["read"] }
fields = { read = { deny = ["*email*", "vat", "private_*"] } }

[profiles.sales]
extends = ["base"]
max_records = 5
max_write_ids = 2
[profiles.sales.model."res.partner"]
operations = { allow = ["write"] }
fields = { write = { allow = ["phone", "website"] } }
[profiles.sales.model."sale.order"]
operations = { allow = ["call"] }
methods = { allow = ["action_confirm"] }
records = [["user_id", "=", 2]]

[profiles.writer]
extends = ["sales"]
confirm_writes = true
"#;

/// The models of the simulator the policy lets every profile see.
const VISIBLE_MODELS: [&str; 6] = [
    "product.product",
    "product.template",
    "res.country",
    "res.partner",
    "sale.order",
    "sale.order.line",
];

const READ_TOOLS: [&str; 7] = [
    "search_records",
    "read_records",
    "count_records",
    "aggregate_records",
    "find_by_name",
    "list_models",
    "describe_model",
];

/// Sale orders of user 2 (the `sales` records domain) and of user 6, as in Odoo 18's demo data.
const IN_SCOPE: [i64; 7] = [2, 3, 4, 6, 7, 19, 20];
const OUT_OF_SCOPE: [i64; 13] = [1, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18];

/// Whether the policy hides a field (on every model).
fn hidden(field: &str) -> bool {
    field.contains("email") || field == "vat" || field.starts_with("private_")
}

fn settings() -> CatalogSettings {
    CatalogSettings {
        write_tools: true,
        ..CatalogSettings::default()
    }
}

async fn sim() -> SimHandle {
    warden_odoo_sim::start("127.0.0.1:0".parse().expect("addr"), SimOptions::default())
        .await
        .expect("sim")
}

fn harness(sim: &SimHandle) -> support::Harness {
    support::harness(sim, POLICY, settings())
}

/// The model metadata of `models` fetched, so that any later Odoo request is a data call.
async fn warm(client: &mut Client, models: &[&str]) {
    for model in models {
        client.ok("describe_model", json!({"model": model})).await;
    }
}

/// The set of strings at `key` in each item of `items`.
fn names(items: &Value, key: &str) -> BTreeSet<String> {
    items
        .as_array()
        .expect("a list")
        .iter()
        .map(|item| item[key].as_str().expect("a string").to_owned())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Every string value of `email` and `vat` of the partners, read by an unrestricted catalog.
async fn hidden_partner_values(sim: &SimHandle) -> BTreeSet<String> {
    let catalogs = support::catalogs(sim, &settings());
    let arguments = json!({"model": "res.partner", "fields": ["email", "vat"], "limit": 500});
    let outcome = catalogs["admin"]
        .call_tool(
            "search_records",
            arguments.as_object().expect("object").clone(),
        )
        .await
        .expect("a tool");
    assert!(!outcome.is_error(), "{}", outcome.text);
    let mut values = Vec::new();
    support::strings_of(
        &outcome.structured().expect("a success")["records"],
        &mut values,
    );
    let values: BTreeSet<String> = values.into_iter().filter(|v| v.len() > 3).collect();
    assert!(values.contains("info@agrolait.com") && values.contains("US12345673"));
    values
}

/// `records` (or `groups`) of a result hold no hidden field as a key and no hidden value.
fn assert_nothing_hidden(what: &str, structured: &Value, hidden_values: &BTreeSet<String>) {
    let mut keys = Vec::new();
    support::keys_of(structured, &mut keys);
    let leaked: Vec<&String> = keys.iter().filter(|k| hidden(k)).collect();
    assert!(
        leaked.is_empty(),
        "{what}: hidden fields {leaked:?} in {structured}"
    );
    let mut strings = Vec::new();
    support::strings_of(structured, &mut strings);
    let leaked: Vec<&String> = strings
        .iter()
        .filter(|s| hidden_values.contains(*s))
        .collect();
    assert!(
        leaked.is_empty(),
        "{what}: hidden values {leaked:?} in {structured}"
    );
}

/// A partner's phone, read back by `client`.
async fn phone_of(client: &mut Client, id: i64) -> Value {
    let read = client
        .ok(
            "read_records",
            json!({"model": "res.partner", "ids": [id], "fields": ["phone"]}),
        )
        .await;
    read["records"][0]["phone"].clone()
}

/// A sale order's state, read back by `client`.
async fn state_of(client: &mut Client, id: i64) -> Value {
    let read = client
        .ok(
            "read_records",
            json!({"model": "sale.order", "ids": [id], "fields": ["state"]}),
        )
        .await;
    assert_eq!(read["records"][0]["id"], json!(id), "{read}");
    read["records"][0]["state"].clone()
}

/// `text` with every whole-word occurrence of `word` (not inside a longer field name)
/// replaced by `with`.
fn replace_word(text: &str, word: &str, with: &str) -> String {
    let is_name = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(word) {
        out.push_str(&rest[..at]);
        let before = out.chars().last();
        let after = rest[at + word.len()..].chars().next();
        if is_name(before) || is_name(after) {
            out.push_str(word);
        } else {
            out.push_str(with);
        }
        rest = &rest[at + word.len()..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn each_profile_lists_only_the_tools_it_may_use() {
    let sim = sim().await;
    let h = harness(&sim);
    let mut sales_tools = set(&READ_TOOLS);
    sales_tools.extend(set(&["update_records", "call_method"]));
    for version in ERAS {
        for (profile, expected) in [
            ("base", set(&READ_TOOLS)),
            ("sales", sales_tools.clone()),
            ("writer", sales_tools.clone()),
        ] {
            let mut c = Client::of(&h, profile, version).await;
            let listed = c.result("tools/list", json!({})).await;
            assert_eq!(
                names(&listed["tools"], "name"),
                expected,
                "{version} {profile}"
            );
        }
    }
}

#[tokio::test]
async fn models_outside_the_profile_do_not_exist() {
    let sim = sim().await;
    let h = harness(&sim);
    let visible = set(&VISIBLE_MODELS);
    for version in ERAS {
        for profile in ["base", "sales"] {
            let what = format!("{version} {profile}");
            let mut c = Client::of(&h, profile, version).await;

            let listed = c.ok("list_models", json!({})).await;
            assert_eq!(names(&listed["models"], "model"), visible, "{what}");
            let listed = c.ok("list_models", json!({"filter": "hr"})).await;
            assert_eq!(listed["count"], json!(0), "{what}: {listed}");

            let resources = c.result("resources/list", json!({})).await;
            let uris = names(&resources["resources"], "uri");
            let expected: BTreeSet<String> = VISIBLE_MODELS
                .iter()
                .map(|m| format!("odoo://{m}"))
                .collect();
            assert_eq!(uris, expected, "{what}");

            for (reference, value, expected) in [
                (
                    json!({"type": "ref/resource", "uri": "odoo://{model}"}),
                    "hr",
                    set(&[]),
                ),
                (
                    json!({"type": "ref/resource", "uri": "odoo://{model}/{id}"}),
                    "res",
                    set(&["res.country", "res.partner"]),
                ),
                (
                    json!({"type": "ref/prompt", "name": "explain_model"}),
                    "employee",
                    set(&[]),
                ),
                (
                    json!({"type": "ref/prompt", "name": "explain_model"}),
                    "order",
                    set(&["sale.order", "sale.order.line"]),
                ),
            ] {
                let completed = c
                    .result(
                        "completion/complete",
                        json!({"ref": reference, "argument": {"name": "model", "value": value}}),
                    )
                    .await;
                let values: BTreeSet<String> = completed["completion"]["values"]
                    .as_array()
                    .expect("values")
                    .iter()
                    .map(|v| v.as_str().expect("a string").to_owned())
                    .collect();
                assert_eq!(values, expected, "{what}: completion of {value:?}");
                assert_eq!(
                    completed["completion"]["total"],
                    json!(expected.len()),
                    "{what}"
                );
            }

            // A hidden model is refused exactly like a model that does not exist.
            let hidden = c
                .error(
                    "prompts/get",
                    json!({"name": "explain_model", "arguments": {"model": "hr.employee"}}),
                )
                .await;
            let missing = c
                .error(
                    "prompts/get",
                    json!({"name": "explain_model", "arguments": {"model": "product.nothing"}}),
                )
                .await;
            assert_eq!(hidden["code"], json!(-32602), "{what}: {hidden}");
            assert_eq!(
                hidden["message"],
                json!(
                    missing["message"]
                        .as_str()
                        .expect("message")
                        .replace("product.nothing", "hr.employee")
                ),
                "{what}"
            );
        }
    }
}

#[tokio::test]
async fn hidden_fields_and_models_are_absent_from_descriptions() {
    let sim = sim().await;
    let h = harness(&sim);
    for version in ERAS {
        for profile in ["base", "sales"] {
            let what = format!("{version} {profile}");
            let mut c = Client::of(&h, profile, version).await;

            let described = c
                .ok("describe_model", json!({"model": "res.partner"}))
                .await;
            let fields = names(&described["fields"], "name");
            assert!(
                fields.contains("phone") && fields.contains("name"),
                "{what}"
            );
            let shown: Vec<&String> = fields.iter().filter(|f| hidden(f)).collect();
            assert!(shown.is_empty(), "{what}: describe_model shows {shown:?}");
            assert_eq!(described["count"], json!(fields.len()), "{what}");

            let read = c
                .result("resources/read", json!({"uri": "odoo://res.partner"}))
                .await;
            let text = read["contents"][0]["text"].as_str().expect("text");
            let resource: Value = serde_json::from_str(text).expect("json contents");
            assert_eq!(names(&resource["fields"], "name"), fields, "{what}");

            // A hidden model is refused exactly like a model that does not exist.
            let refused = c
                .tool_error("describe_model", json!({"model": "hr.employee"}))
                .await;
            let missing = c
                .tool_error("describe_model", json!({"model": "product.nothing"}))
                .await;
            assert_eq!(refused["kind"], json!("invalid_arguments"), "{what}");
            let message = refused["message"].as_str().expect("message");
            assert!(message.contains("unknown model"), "{what}: {message}");
            assert_eq!(
                message,
                missing["message"]
                    .as_str()
                    .expect("message")
                    .replace("product.nothing", "hr.employee"),
                "{what}"
            );
            for uri in ["odoo://hr.employee", "odoo://hr.employee/1"] {
                let error = c.error("resources/read", json!({"uri": uri})).await;
                assert_eq!(error["code"], json!(-32002), "{what} {uri}: {error}");
            }
        }
    }
}

#[tokio::test]
async fn a_hidden_field_is_refused_wherever_it_is_named_before_odoo() {
    let sim = sim().await;
    let h = harness(&sim);
    let p = "res.partner";
    let so = "sale.order";
    // (tool, arguments, the hidden field named, how)
    let table: Vec<(&str, Value, &str, &str)> = vec![
        (
            "search_records",
            json!({"model": p, "fields": ["name", "email"]}),
            "email",
            "fields",
        ),
        (
            "search_records",
            json!({"model": p, "domain": "[('email', 'ilike', 'a')]"}),
            "email",
            "domain",
        ),
        (
            "search_records",
            json!({"model": p, "domain": "['|', ('name', '=', 'x'), '!', ('vat', '=', 'BE0477472701')]"}),
            "vat",
            "nested domain",
        ),
        (
            "search_records",
            json!({"model": so, "domain": "[('partner_id.email', 'ilike', 'a')]"}),
            "email",
            "dotted path on another model",
        ),
        (
            "search_records",
            json!({"model": p, "domain": "[('child_ids.vat', '=like', 'US%')]"}),
            "vat",
            "dotted one2many path",
        ),
        (
            "search_records",
            json!({"model": p, "order": "vat desc"}),
            "vat",
            "order",
        ),
        (
            "search_records",
            json!({"model": p, "fields": ["name"], "order": "name asc, email"}),
            "email",
            "second order term",
        ),
        (
            "aggregate_records",
            json!({"model": p, "group_by": ["email"]}),
            "email",
            "group_by",
        ),
        (
            "aggregate_records",
            json!({"model": p, "group_by": ["country_id"], "aggregates": ["vat:count_distinct"]}),
            "vat",
            "aggregates",
        ),
        (
            "aggregate_records",
            json!({"model": so, "group_by": ["state"], "domain": "[('partner_id.email', '!=', False)]"}),
            "email",
            "aggregate domain path",
        ),
        (
            "read_records",
            json!({"model": p, "ids": [10], "fields": ["vat"]}),
            "vat",
            "read fields",
        ),
        (
            "count_records",
            json!({"model": p, "domain": "[('vat', '=like', 'US%')]"}),
            "vat",
            "count domain",
        ),
        (
            "count_records",
            json!({"model": so, "domain": "[('partner_id.vat', '!=', False)]"}),
            "vat",
            "count dotted path",
        ),
        (
            "update_records",
            json!({"model": p, "ids": [10], "values": "{'email': 'x@example.com'}"}),
            "email",
            "update values",
        ),
        (
            "update_records",
            json!({"model": p, "ids": [10], "values": "{'phone': '1', 'vat': 'BE0000000097'}"}),
            "vat",
            "update values besides an allowed one",
        ),
    ];
    // Every case as written (text) and as the native JSON agents send.
    let table: Vec<(&str, Value, &str, String)> = table
        .iter()
        .flat_map(|(tool, arguments, field, how)| {
            let mut forms = vec![(*tool, arguments.clone(), *field, (*how).to_owned())];
            if let Some(native) = support::native(arguments) {
                forms.push((*tool, native, *field, format!("{how}, native")));
            }
            forms
        })
        .collect();
    assert!(table.len() > 20, "native forms are tried too");
    for version in ERAS {
        let mut c = Client::of(&h, "sales", version).await;
        warm(&mut c, &[p, so]).await;
        for (tool, arguments, field, how) in &table {
            let what = format!("{version} {tool} ({how})");
            let before = sim.request_count();
            let refused = c.tool_error(tool, arguments.clone()).await;
            assert_eq!(
                sim.request_count(),
                before,
                "{what}: the refused call reached Odoo"
            );
            assert_eq!(
                refused["kind"],
                json!("invalid_arguments"),
                "{what}: {refused}"
            );
            let message = refused["message"].as_str().expect("message");
            assert!(message.contains("unknown field"), "{what}: {message}");
            // Refused exactly like a field that does not exist: the message says nothing more.
            let decoy = "zz_nofield";
            let renamed: Value =
                serde_json::from_str(&replace_word(&arguments.to_string(), field, decoy))
                    .expect("json");
            assert_ne!(&renamed, arguments, "{what}: the decoy replaces the field");
            let missing = c.tool_error(tool, renamed).await;
            assert_eq!(
                sim.request_count(),
                before,
                "{what}: the decoy reached Odoo"
            );
            assert_eq!(
                message,
                missing["message"]
                    .as_str()
                    .expect("message")
                    .replace(decoy, field),
                "{what}"
            );
        }
        // The same calls on visible fields are served.
        let served = c
            .ok(
                "search_records",
                json!({"model": so, "domain": "[('partner_id.phone', '!=', False)]", "fields": ["name"]}),
            )
            .await;
        assert!(
            served["count"].as_u64().unwrap_or(0) > 0,
            "{version}: {served}"
        );
    }
}

#[tokio::test]
async fn a_path_into_a_model_the_profile_cannot_see_is_refused_before_odoo() {
    let sim = sim().await;
    let h = harness(&sim);
    // (model, domain, the invisible model the path enters)
    let table = [
        (
            "res.partner",
            "[('user_id.login', '=', 'admin')]",
            "res.users",
        ),
        (
            "res.partner",
            "[('company_id.name', 'ilike', 'a')]",
            "res.company",
        ),
        (
            "res.partner",
            "[('category_id.name', '=', 'Vendor')]",
            "res.partner.category",
        ),
        (
            "sale.order",
            "[('user_id.name', 'ilike', 'mitchell')]",
            "res.users",
        ),
        (
            "sale.order",
            "[('currency_id.name', '=', 'USD')]",
            "res.currency",
        ),
    ];
    for version in ERAS {
        let mut c = Client::of(&h, "sales", version).await;
        warm(&mut c, &["res.partner", "sale.order"]).await;
        for (model, domain, entered) in table {
            let what = format!("{version} {model} {domain}");
            let before = sim.request_count();
            let refused = c
                .tool_error("count_records", json!({"model": model, "domain": domain}))
                .await;
            assert_eq!(
                refused["kind"],
                json!("invalid_arguments"),
                "{what}: {refused}"
            );
            let message = refused["message"].as_str().expect("message");
            assert!(message.contains("unknown field"), "{what}: {message}");
            assert_eq!(
                sim.request_count(),
                before,
                "{what}: the refused call sent a request to Odoo (the fields of {entered})"
            );
        }
    }
}

#[tokio::test]
async fn calls_that_name_no_fields_return_no_hidden_field() {
    let sim = sim().await;
    let hidden_values = hidden_partner_values(&sim).await;
    let h = harness(&sim);
    for version in ERAS {
        for profile in ["base", "sales"] {
            let what = format!("{version} {profile}");
            let mut c = Client::of(&h, profile, version).await;
            for (tool, arguments) in [
                ("search_records", json!({"model": "res.partner"})),
                (
                    "search_records",
                    json!({"model": "res.partner", "domain": "[('is_company', '=', True)]", "order": "name"}),
                ),
                (
                    "read_records",
                    json!({"model": "res.partner", "ids": [9, 10, 13]}),
                ),
                ("search_records", json!({"model": "sale.order"})),
            ] {
                let found = c.ok(tool, arguments.clone()).await;
                let records = found["records"].as_array().expect("records");
                assert!(!records.is_empty(), "{what} {tool} {arguments}");
                for record in records {
                    let keys: Vec<&String> = record.as_object().expect("a record").keys().collect();
                    assert!(keys.len() > 5, "{what}: default fields {keys:?}");
                }
                if arguments["model"] == json!("res.partner") {
                    assert!(
                        records.iter().any(|r| r.get("phone").is_some()),
                        "{what}: visible fields are returned"
                    );
                }
                assert_nothing_hidden(&format!("{what} {tool}"), &found, &hidden_values);
            }
            let read = c
                .result("resources/read", json!({"uri": "odoo://res.partner/10"}))
                .await;
            let text = read["contents"][0]["text"].as_str().expect("text");
            let record: Value = serde_json::from_str(text).expect("json contents");
            assert_eq!(record["phone"], json!("(603)-996-3829"), "{what}");
            assert_nothing_hidden(&format!("{what} resource"), &record, &hidden_values);
        }
    }
}

#[tokio::test]
async fn the_records_domain_bounds_every_path() {
    let sim = sim().await;
    let h = harness(&sim);
    for version in ERAS {
        let mut c = Client::of(&h, "sales", version).await;
        let mut admin = Client::of(&h, "base", version).await;

        // Searching pages through the orders of user 2 only.
        let mut seen = Vec::new();
        let mut total = 0.0;
        let mut offset = 0;
        for _ in 0..10 {
            let page = c
                .ok(
                    "search_records",
                    json!({"model": "sale.order", "fields": ["user_id", "amount_total"],
                           "order": "id asc", "offset": offset}),
                )
                .await;
            for record in page["records"].as_array().expect("records") {
                // res.users is not visible: the salesperson is an id, without the user's name.
                assert_eq!(record["user_id"], json!(2), "{version}: {record}");
                seen.push(record["id"].as_i64().expect("id"));
                total += record["amount_total"].as_f64().expect("amount");
            }
            match page["next_offset"].as_u64() {
                Some(next) => offset = next,
                None => break,
            }
        }
        assert_eq!(seen, IN_SCOPE, "{version}");

        let counted = c.ok("count_records", json!({"model": "sale.order"})).await;
        assert_eq!(counted["count"], json!(IN_SCOPE.len()), "{version}");
        let counted = c
            .ok(
                "count_records",
                json!({"model": "sale.order", "domain": "[('user_id', '=', 6)]"}),
            )
            .await;
        assert_eq!(counted["count"], json!(0), "{version}");

        let grouped = c
            .ok(
                "aggregate_records",
                json!({"model": "sale.order", "group_by": ["user_id"], "aggregates": ["amount_total:sum"]}),
            )
            .await;
        let groups = grouped["groups"].as_array().expect("groups");
        assert_eq!(groups.len(), 1, "{version}: {grouped}");
        // res.users is not visible: the salesperson is an id, without the user's name.
        assert_eq!(groups[0]["user_id"], json!(2), "{version}: {grouped}");
        assert_eq!(groups[0]["__count"], json!(IN_SCOPE.len()), "{version}");
        let sum = groups[0]["amount_total"].as_f64().expect("sum");
        assert!((sum - total).abs() < 0.005, "{version}: {sum} != {total}");

        // A reference from a visible record to one outside the domain is the bare id: the
        // order line shows its order's name only when the order is the key's to read.
        let lines = c
            .ok(
                "search_records",
                json!({"model": "sale.order.line", "fields": ["order_id"], "limit": 200}),
            )
            .await;
        let lines = lines["records"].as_array().expect("records");
        let (mut named, mut bare) = (0, 0);
        for line in lines {
            let order = &line["order_id"];
            match order {
                Value::Array(pair) => {
                    let id = pair[0].as_i64().expect("id");
                    assert!(IN_SCOPE.contains(&id), "{version}: a name leaked: {line}");
                    named += 1;
                }
                Value::Number(id) => {
                    let id = id.as_i64().expect("id");
                    assert!(
                        OUT_OF_SCOPE.contains(&id),
                        "{version}: a name was lost: {line}"
                    );
                    bare += 1;
                }
                other => panic!("{version}: {other}"),
            }
        }
        assert!(
            named > 0 && bare > 0,
            "{version}: {named} named, {bare} bare"
        );
        // The key without a domain sees every order's name.
        let all = admin
            .ok(
                "search_records",
                json!({"model": "sale.order.line", "fields": ["order_id"], "limit": 200}),
            )
            .await;
        assert!(
            all["records"]
                .as_array()
                .expect("records")
                .iter()
                .all(|l| l["order_id"].is_array()),
            "{version}"
        );

        // Records named by id outside the domain do not exist for the key.
        let read = c
            .ok(
                "read_records",
                json!({"model": "sale.order", "ids": [3, 1], "fields": ["name", "state"]}),
            )
            .await;
        let ids: Vec<Value> = read["records"]
            .as_array()
            .expect("records")
            .iter()
            .map(|r| r["id"].clone())
            .collect();
        assert_eq!(ids, vec![json!(3)], "{version}: {read}");
        assert_eq!(read["missing_ids"], json!([1]), "{version}: {read}");
        assert!(!read.to_string().contains("S00001"), "{version}: {read}");
        for id in OUT_OF_SCOPE {
            let read = c
                .ok("read_records", json!({"model": "sale.order", "ids": [id]}))
                .await;
            assert_eq!(read["records"], json!([]), "{version} {id}: {read}");
            assert_eq!(read["missing_ids"], json!([id]), "{version} {id}");
            let error = c
                .error(
                    "resources/read",
                    json!({"uri": format!("odoo://sale.order/{id}")}),
                )
                .await;
            assert_eq!(error["code"], json!(-32002), "{version} {id}: {error}");
        }
        let refused = c
            .tool_error(
                "call_method",
                json!({"model": "sale.order", "method": "action_confirm", "ids": [1]}),
            )
            .await;
        assert_eq!(
            refused["kind"],
            json!("missing_record"),
            "{version}: {refused}"
        );
        assert_eq!(state_of(&mut admin, 1).await, json!("draft"), "{version}");
        let refused = c
            .tool_error(
                "call_method",
                json!({"model": "sale.order", "method": "action_confirm", "ids": [3, 1]}),
            )
            .await;
        assert_eq!(
            refused["kind"],
            json!("missing_record"),
            "{version}: {refused}"
        );
        assert_eq!(state_of(&mut admin, 3).await, json!("draft"), "{version}");

        let record = c
            .result("resources/read", json!({"uri": "odoo://sale.order/3"}))
            .await;
        assert!(
            record["contents"][0]["text"]
                .as_str()
                .is_some_and(|t| t.contains("S00003")),
            "{version}: {record}"
        );

        let found = c
            .ok(
                "find_by_name",
                json!({"model": "sale.order", "name": "S0001"}),
            )
            .await;
        let matches = found["matches"].as_array().expect("matches");
        assert!(!matches.is_empty(), "{version}: {found}");
        for m in matches {
            let id = m["id"].as_i64().expect("id");
            assert!(IN_SCOPE.contains(&id), "{version}: {found}");
        }
        for name in ["S00001", "S00012", "S00018"] {
            let found = c
                .ok("find_by_name", json!({"model": "sale.order", "name": name}))
                .await;
            assert_eq!(found["count"], json!(0), "{version}: {found}");
        }

        // An order in the domain is confirmed.
        let order = if version == LEGACY { 2 } else { 3 };
        assert_eq!(
            state_of(&mut admin, order).await,
            json!("draft"),
            "{version}"
        );
        c.ok(
            "call_method",
            json!({"model": "sale.order", "method": "action_confirm", "ids": [order]}),
        )
        .await;
        assert_eq!(
            state_of(&mut admin, order).await,
            json!("sale"),
            "{version}"
        );
    }
}

#[tokio::test]
async fn method_keyword_arguments_cannot_replace_the_checked_ids() {
    // Odoo 19's JSON-2 takes the record ids and the keyword arguments in one JSON object.
    let sim = warden_odoo_sim::start(
        "127.0.0.1:0".parse().expect("addr"),
        SimOptions {
            version: OdooVersion::V19,
            ..SimOptions::default()
        },
    )
    .await
    .expect("sim");
    let keys = Keys::for_policy(POLICY);
    let catalogs = support::catalogs_over(&sim, &settings(), Protocol::Json2);
    let h = support::harness_of(
        support::compile(POLICY, &keys.store, &catalogs),
        keys.secrets.clone(),
    );
    for (version, outside) in [(LEGACY, 1), (MODERN, 5)] {
        let mut c = Client::of(&h, "sales", version).await;
        let mut admin = Client::of(&h, "base", version).await;
        assert_eq!(state_of(&mut admin, outside).await, json!("draft"));
        for kwargs in [
            format!("{{'ids': [{outside}]}}"),
            format!("{{'args': [[{outside}]]}}"),
        ] {
            let result = c
                .call(
                    "call_method",
                    json!({"model": "sale.order", "method": "action_confirm", "ids": [4],
                           "kwargs": kwargs}),
                )
                .await;
            assert_eq!(
                state_of(&mut admin, outside).await,
                json!("draft"),
                "{version}: kwargs {kwargs} confirmed an order outside the records domain: {result}"
            );
        }
    }
}

#[tokio::test]
async fn operations_methods_and_bounds_are_enforced_before_odoo() {
    let sim = sim().await;
    let h = harness(&sim);
    let p = "res.partner";
    let so = "sale.order";
    // (tool, arguments, kind)
    let table: Vec<(&str, Value, &str)> = vec![
        (
            "update_records",
            json!({"model": p, "ids": [10], "values": "{'name': 'Renamed'}"}),
            "forbidden",
        ),
        (
            "update_records",
            json!({"model": p, "ids": [10], "values": "{'phone': '1', 'name': 'Renamed'}"}),
            "forbidden",
        ),
        (
            "update_records",
            json!({"model": p, "ids": [10], "values": "{'id': 99}"}),
            "forbidden",
        ),
        (
            "update_records",
            json!({"model": p, "ids": [9, 10, 11], "values": "{'phone': '1'}"}),
            "forbidden",
        ),
        (
            "update_records",
            json!({"model": so, "ids": [1], "values": "{'note': 'x'}"}),
            "forbidden",
        ),
        (
            "create_records",
            json!({"model": p, "values": "[{'name': 'New'}]"}),
            "forbidden",
        ),
        (
            "delete_records",
            json!({"model": p, "ids": [10]}),
            "forbidden",
        ),
        (
            "call_method",
            json!({"model": so, "method": "action_cancel", "ids": [1]}),
            "forbidden",
        ),
        (
            "call_method",
            json!({"model": so, "method": "action_confirm", "ids": [1, 2, 4]}),
            "forbidden",
        ),
        (
            "call_method",
            json!({"model": p, "method": "action_archive", "ids": [10]}),
            "forbidden",
        ),
        (
            "call_method",
            json!({"model": so, "method": "_compute_x", "ids": [1]}),
            "invalid_arguments",
        ),
        (
            "call_method",
            json!({"model": so, "method": "write", "ids": [1], "args": "[{'state': 'sale'}]"}),
            "invalid_arguments",
        ),
        (
            "search_records",
            json!({"model": "hr.employee", "fields": ["name"]}),
            "invalid_arguments",
        ),
    ];
    for version in ERAS {
        let mut c = Client::of(&h, "sales", version).await;
        warm(&mut c, &[p, so]).await;
        for (tool, arguments, kind) in &table {
            let what = format!("{version} {tool} {arguments}");
            let before = sim.request_count();
            let refused = c.tool_error(tool, arguments.clone()).await;
            assert_eq!(sim.request_count(), before, "{what}: reached Odoo");
            assert_eq!(refused["kind"], json!(kind), "{what}: {refused}");
        }
        for id in [9, 10, 11] {
            assert_ne!(phone_of(&mut c, id).await, json!("1"), "{version}");
        }

        // Bounds: a larger limit is reduced to max_records, with a note.
        let found = c
            .ok(
                "search_records",
                json!({"model": p, "fields": ["name"], "limit": 50}),
            )
            .await;
        assert_eq!(found["count"], json!(5), "{version}: {found}");
        assert_eq!(found["records"].as_array().map(Vec::len), Some(5));
        let notes = found["notes"].to_string();
        assert!(notes.contains("reduced"), "{version}: {found}");

        // What the rules allow is served.
        let phone = format!("+32 2 000 00 0{}", if version == LEGACY { 1 } else { 2 });
        c.ok(
            "update_records",
            json!({"model": p, "ids": [10, 11], "values": json!({"phone": phone}).to_string()}),
        )
        .await;
        assert_eq!(phone_of(&mut c, 10).await, json!(phone), "{version}");
        assert_eq!(phone_of(&mut c, 11).await, json!(phone), "{version}");
    }
}

#[tokio::test]
async fn max_records_bounds_every_read() {
    let sim = sim().await;
    let h = harness(&sim);
    for version in ERAS {
        let mut c = Client::of(&h, "sales", version).await;
        let grouped = c
            .ok(
                "aggregate_records",
                json!({"model": "res.partner", "group_by": ["city"], "limit": 50}),
            )
            .await;
        assert!(
            grouped["count"].as_u64().unwrap_or(99) <= 5,
            "{version}: {grouped}"
        );
        let found = c
            .ok(
                "find_by_name",
                json!({"model": "res.partner", "name": "e", "limit": 50}),
            )
            .await;
        assert!(
            found["count"].as_u64().unwrap_or(99) <= 5,
            "{version}: {found}"
        );
        let ids: Vec<i64> = (1..=20).collect();
        let result = c
            .call(
                "read_records",
                json!({"model": "sale.order", "ids": ids, "fields": ["name"]}),
            )
            .await;
        let returned = result["structuredContent"]["records"]
            .as_array()
            .map_or(0, Vec::len);
        assert!(
            returned <= 5,
            "{version}: read_records returned {returned} records to a key whose max_records is 5"
        );
    }
}

const WRITE: &str = "update_records";

fn phone_update(id: i64, phone: &str) -> Value {
    json!({"model": "res.partner", "ids": [id], "values": json!({"phone": phone}).to_string()})
}

/// The person sees the whole change: a long one in full (it used to be cut at 600 characters,
/// so the end of a change could be approved unseen), and one too long to show whole is refused
/// without asking, in both eras.
#[tokio::test]
async fn a_change_too_large_to_show_whole_is_not_asked_about() {
    let sim = sim().await;
    let h = harness(&sim);
    let website = |n: usize| format!("https://example.com/{}end", "a".repeat(n));
    let update =
        |site: &str| json!({"model": "res.partner", "ids": [12], "values": {"website": site}});
    let mut c = Client::connect(h.session_of("writer"), LEGACY, true).await;
    let long = website(3_000);
    let (response, asked) = c
        .call_answering(WRITE, update(&long), Some(json!({"action": "decline"})))
        .await;
    let asked = asked.expect("the person is asked");
    let question = asked["params"]["message"].as_str().expect("message");
    assert!(question.contains(&long), "the whole value is shown");
    assert_eq!(
        response["result"]["_meta"]["io.github.odoo-warden/error"]["kind"],
        json!("confirmation_declined")
    );
    let huge = website(20_000);
    for version in ERAS {
        let mut c = Client::connect(h.session_of("writer"), version, true).await;
        let (response, asked) = c.call_answering(WRITE, update(&huge), None).await;
        assert!(
            asked.is_none(),
            "{version}: nobody is asked about a change cut short"
        );
        let result = &response["result"];
        assert_eq!(result["isError"], json!(true), "{version}: {result}");
        assert_ne!(result["resultType"], json!("input_required"), "{version}");
        assert_eq!(
            result["_meta"]["io.github.odoo-warden/error"]["kind"],
            json!("confirmation_too_large"),
            "{version}: {result}"
        );
        let read = c
            .ok(
                "read_records",
                json!({"model": "res.partner", "ids": [12], "fields": ["website"]}),
            )
            .await;
        assert_ne!(
            read["records"][0]["website"],
            json!(huge),
            "{version}: nothing changed"
        );
    }
}

#[tokio::test]
async fn legacy_writes_are_confirmed_by_a_person() {
    let sim = sim().await;
    let h = harness(&sim);
    let original = json!("(803)-873-6126");

    // A client that cannot ask: nothing is changed.
    let mut c = Client::connect(h.session_of("writer"), LEGACY, false).await;
    assert_eq!(phone_of(&mut c, 12).await, original);
    let (response, asked) = c
        .call_answering(WRITE, phone_update(12, "no-ask"), None)
        .await;
    assert!(asked.is_none(), "{response}");
    let result = &response["result"];
    assert_eq!(result["isError"], json!(true), "{response}");
    assert_eq!(
        result["_meta"]["io.github.odoo-warden/error"]["kind"],
        json!("confirmation_unavailable")
    );
    assert_eq!(phone_of(&mut c, 12).await, original);

    // A client that can ask.
    let mut c = Client::connect(h.session_of("writer"), LEGACY, true).await;
    let (response, asked) = c
        .call_answering(
            WRITE,
            phone_update(12, "declined"),
            Some(json!({"action": "decline"})),
        )
        .await;
    let asked = asked.expect("the person is asked");
    let question = asked["params"]["message"].as_str().expect("message");
    assert!(
        question.contains("update_records") && question.contains("declined"),
        "{question}"
    );
    assert_eq!(
        response["result"]["_meta"]["io.github.odoo-warden/error"]["kind"],
        json!("confirmation_declined"),
        "{response}"
    );
    assert_eq!(phone_of(&mut c, 12).await, original);

    let (response, asked) = c
        .call_answering(
            WRITE,
            phone_update(12, "cancelled"),
            Some(json!({"action": "cancel"})),
        )
        .await;
    assert!(asked.is_some());
    assert_eq!(response["result"]["isError"], json!(true), "{response}");
    assert_eq!(phone_of(&mut c, 12).await, original);

    let (response, asked) = c
        .call_answering(WRITE, phone_update(12, "failed"), None)
        .await;
    assert!(asked.is_some());
    assert_eq!(
        response["result"]["_meta"]["io.github.odoo-warden/error"]["kind"],
        json!("confirmation_unavailable"),
        "{response}"
    );
    assert_eq!(phone_of(&mut c, 12).await, original);

    let (response, asked) = c
        .call_answering(
            WRITE,
            phone_update(12, "accepted"),
            Some(json!({"action": "accept"})),
        )
        .await;
    assert!(asked.is_some());
    assert_eq!(response["result"]["isError"], json!(false), "{response}");
    assert_eq!(phone_of(&mut c, 12).await, json!("accepted"));

    // Reads are not confirmed; refused writes are refused before anyone is asked.
    let (response, asked) = c
        .call_answering(
            "count_records",
            json!({"model": "res.partner"}),
            Some(json!({"action": "decline"})),
        )
        .await;
    assert!(asked.is_none(), "{response}");
    assert_eq!(response["result"]["isError"], json!(false), "{response}");
    let (response, asked) = c
        .call_answering(
            WRITE,
            json!({"model": "res.partner", "ids": [12], "values": "{'name': 'x'}"}),
            Some(json!({"action": "accept"})),
        )
        .await;
    assert!(asked.is_none(), "{response}");
    assert_eq!(
        response["result"]["_meta"]["io.github.odoo-warden/error"]["kind"],
        json!("forbidden")
    );
}

#[tokio::test]
async fn modern_writes_are_confirmed_by_a_person() {
    let sim = sim().await;
    let h = harness(&sim);
    let original = json!("(803)-873-6126");

    let mut c = Client::connect(h.session_of("writer"), MODERN, false).await;
    let refused = c.tool_error(WRITE, phone_update(12, "no-ask")).await;
    assert_eq!(
        refused["kind"],
        json!("confirmation_unavailable"),
        "{refused}"
    );
    assert_eq!(phone_of(&mut c, 12).await, original);

    let mut c = Client::connect(h.session_of("writer"), MODERN, true).await;
    let arguments = phone_update(12, "accepted");
    let asked = c.call(WRITE, arguments.clone()).await;
    assert_eq!(asked["resultType"], json!("input_required"), "{asked}");
    assert_eq!(
        asked["inputRequests"]["confirm"]["method"],
        json!("elicitation/create"),
        "{asked}"
    );
    let state = asked["requestState"]
        .as_str()
        .expect("requestState")
        .to_owned();
    assert_eq!(phone_of(&mut c, 12).await, original);

    let accept = json!({"confirm": {"action": "accept"}});
    let mut tampered = state.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    for (what, arguments, state, answer, kind) in [
        (
            "tampered state",
            arguments.clone(),
            tampered.clone(),
            accept.clone(),
            "confirmation_invalid",
        ),
        (
            "no state",
            arguments.clone(),
            String::new(),
            accept.clone(),
            "confirmation_invalid",
        ),
        (
            "other arguments",
            phone_update(12, "other"),
            state.clone(),
            accept.clone(),
            "confirmation_invalid",
        ),
        (
            "other record",
            phone_update(13, "accepted"),
            state.clone(),
            accept.clone(),
            "confirmation_invalid",
        ),
        (
            "declined",
            arguments.clone(),
            state.clone(),
            json!({"confirm": {"action": "decline"}}),
            "confirmation_declined",
        ),
        // The human answered (declined): that question is spent.
        (
            "answered already",
            arguments.clone(),
            state.clone(),
            accept.clone(),
            "confirmation_used",
        ),
    ] {
        let result = c
            .result(
                "tools/call",
                json!({"name": WRITE, "arguments": arguments, "inputResponses": answer,
                       "requestState": state}),
            )
            .await;
        assert_eq!(result["isError"], json!(true), "{what}: {result}");
        assert_eq!(
            result["_meta"]["io.github.odoo-warden/error"]["kind"],
            json!(kind),
            "{what}: {result}"
        );
        assert_eq!(phone_of(&mut c, 12).await, original, "{what}");
        assert_eq!(
            phone_of(&mut c, 13).await,
            json!("+32 987 65 43 21"),
            "{what}"
        );
    }

    // Asked again, accepted: the change is made, once.
    let asked = c.call(WRITE, arguments.clone()).await;
    let state = asked["requestState"]
        .as_str()
        .expect("requestState")
        .to_owned();
    let confirmed = json!({"name": WRITE, "arguments": arguments, "inputResponses": accept,
                           "requestState": state});
    let result = c.result("tools/call", confirmed.clone()).await;
    assert_eq!(result["isError"], json!(false), "{result}");
    assert_eq!(phone_of(&mut c, 12).await, json!("accepted"));
    // Replaying the confirmed call is refused: one confirmation, one change.
    let rewritten = c
        .result(
            "tools/call",
            json!({"name": WRITE, "arguments": phone_update(12, "accepted"),
                   "inputResponses": accept, "requestState": confirmed["requestState"]}),
        )
        .await;
    assert_eq!(rewritten["isError"], json!(true), "{rewritten}");
    assert_eq!(
        rewritten["_meta"]["io.github.odoo-warden/error"]["kind"],
        json!("confirmation_used"),
        "{rewritten}"
    );
}

#[tokio::test]
async fn the_rate_limit_refuses_with_a_retry_delay() {
    let sim = sim().await;
    let policy = format!("{POLICY}\n[rate_limits]\nper_key_per_minute = 3\nburst = 3\n");
    for version in ERAS {
        // A fresh gateway per era: fresh budgets.
        let h = support::harness(&sim, &policy, settings());
        let mut c = Client::of(&h, "base", version).await;
        let mut admitted = usize::from(version == LEGACY); // initialize
        let mut limited = None;
        for _ in 0..10 {
            let before = sim.request_count();
            let response = c
                .request(
                    "tools/call",
                    json!({"name": "count_records", "arguments": {"model": "res.partner"}}),
                )
                .await;
            if let Some(error) = response.get("error") {
                assert_eq!(sim.request_count(), before, "{version}: reached Odoo");
                limited = Some(error.clone());
                break;
            }
            assert_eq!(response["result"]["isError"], json!(false), "{response}");
            admitted += 1;
        }
        let error = limited.expect("a request is refused");
        assert_eq!(error["code"], json!(RATE_LIMITED), "{version}: {error}");
        assert!(
            error["data"]["retryAfterMs"]
                .as_u64()
                .is_some_and(|ms| ms > 0),
            "{version}: {error}"
        );
        assert_eq!(admitted, 3, "{version}: the 4th request is refused");
        // Every method takes from the same budget.
        let error = c.error("tools/list", json!({})).await;
        assert_eq!(error["code"], json!(RATE_LIMITED), "{version}");
    }
}

#[tokio::test]
async fn a_reload_takes_effect_at_the_next_request_of_open_sessions() {
    let sim = sim().await;
    let keys = Keys::for_policy(POLICY);
    let catalogs = support::catalogs(&sim, &settings());
    let h = support::harness_of(
        support::compile(POLICY, &keys.store, &catalogs),
        keys.secrets.clone(),
    );
    let search = json!({"name": "search_records",
                        "arguments": {"model": "res.partner", "domain": "[('id', '=', 10)]"}});
    let mut revoked = keys.store.clone();
    warden_policy::keys::revoke(&mut revoked, &keys.ids["sales"], SystemTime::now())
        .expect("revoke");
    let mut removed = keys.store.clone();
    removed.keys.retain(|k| k.id != keys.ids["sales"]);
    let phone_hidden = POLICY.replace(
        r#"deny = ["*email*", "vat", "private_*"]"#,
        r#"deny = ["*email*", "vat", "private_*", "phone"]"#,
    );
    assert_ne!(phone_hidden, POLICY);
    for version in ERAS {
        let mut c = Client::of(&h, "sales", version).await;
        let found = c.result("tools/call", search.clone()).await;
        assert_eq!(
            found["structuredContent"]["records"][0]["phone"],
            json!("(603)-996-3829"),
            "{version}: {found}"
        );

        for (what, store) in [("revoked", &revoked), ("removed", &removed)] {
            h.gateway.reload(support::compile(POLICY, store, &catalogs));
            let before = sim.request_count();
            for (method, params) in [("tools/call", search.clone()), ("tools/list", json!({}))] {
                let error = c.error(method, params).await;
                assert_eq!(error["code"], json!(FORBIDDEN), "{version} {what}: {error}");
                let message = error["message"].as_str().expect("message");
                assert!(!message.contains(&keys.secrets["sales"]), "{message}");
            }
            assert_eq!(
                sim.request_count(),
                before,
                "{version} {what}: reached Odoo"
            );
            // Other keys go on.
            let mut base = Client::of(&h, "base", version).await;
            base.ok("count_records", json!({"model": "res.partner"}))
                .await;
        }

        // The same session is served again once the key is back: it was never dropped.
        h.gateway
            .reload(support::compile(POLICY, &keys.store, &catalogs));
        let found = c.result("tools/call", search.clone()).await;
        assert_eq!(found["isError"], json!(false), "{version}: {found}");

        h.gateway
            .reload(support::compile(&phone_hidden, &keys.store, &catalogs));
        let found = c.result("tools/call", search.clone()).await;
        assert_eq!(found["isError"], json!(false), "{version}: {found}");
        let record = &found["structuredContent"]["records"][0];
        assert_eq!(record["id"], json!(10), "{version}: {found}");
        assert!(record.get("phone").is_none(), "{version}: {record}");
        let refused = c
            .tool_error(
                "search_records",
                json!({"model": "res.partner", "fields": ["phone"]}),
            )
            .await;
        assert_eq!(refused["kind"], json!("invalid_arguments"), "{version}");
        let described = c
            .ok("describe_model", json!({"model": "res.partner"}))
            .await;
        assert!(!names(&described["fields"], "name").contains("phone"));

        h.gateway
            .reload(support::compile(POLICY, &keys.store, &catalogs));
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("an address")
}

#[tokio::test]
async fn ip_rules_apply_to_authentication_and_every_request() {
    let sim = sim().await;
    let catalogs = support::catalogs(&sim, &settings());
    let policy = format!("[network]\nallow = [\"10.0.0.0/8\"]\n{POLICY}");
    let mut keys = Keys::for_policy(&policy);
    keys.record_mut("sales").network.deny = vec!["10.9.0.0/16".to_owned()];
    let gateway = Gateway::new(
        support::compile(&policy, &keys.store, &catalogs),
        ServerInfo::default(),
    );
    let base = keys.secrets["base"].clone();
    let sales = keys.secrets["sales"].clone();
    for (secret, address, allowed) in [
        (&base, Some(ip("10.1.2.3")), true),
        (&base, Some(ip("::ffff:10.1.2.3")), true),
        (&base, Some(ip("192.0.2.7")), false),
        (&base, Some(ip("::ffff:192.0.2.7")), false),
        (&base, Some(ip("2001:db8::7")), false),
        (&base, None, false),
        (&sales, Some(ip("10.1.2.3")), true),
        (&sales, Some(ip("10.9.1.1")), false),
        (&sales, Some(ip("::ffff:10.9.1.1")), false),
    ] {
        let outcome = gateway.authenticate(secret, address);
        assert_eq!(outcome.is_ok(), allowed, "{address:?}: {outcome:?}");
        if let Err(failure) = outcome {
            assert!(!failure.message.contains(secret.as_str()));
        }
    }

    // Every request of a session checks its address against the current rules.
    let key = gateway
        .authenticate(&base, Some(ip("10.1.2.3")))
        .expect("allowed");
    let mut caller = Caller::stdio();
    caller.transport = "http";
    caller.client_ip = Some(ip("10.1.2.3"));
    for version in ERAS {
        let mut c =
            Client::connect(gateway.session(caller.clone(), key.clone()), version, false).await;
        c.ok("count_records", json!({"model": "res.partner"})).await;
        keys.record_mut("base").network.deny = vec!["10.1.0.0/16".to_owned()];
        gateway.reload(support::compile(&policy, &keys.store, &catalogs));
        let before = sim.request_count();
        let error = c
            .error(
                "tools/call",
                json!({"name": "count_records", "arguments": {"model": "res.partner"}}),
            )
            .await;
        assert_eq!(error["code"], json!(FORBIDDEN), "{version}: {error}");
        assert_eq!(sim.request_count(), before, "{version}: reached Odoo");
        keys.record_mut("base").network.deny.clear();
        gateway.reload(support::compile(&policy, &keys.store, &catalogs));
        c.ok("count_records", json!({"model": "res.partner"})).await;
    }

    // `stdio` in an allow list stands for calls without an address, and only for them.
    let policy = format!("[network]\nallow = [\"stdio\"]\n{POLICY}");
    let keys = Keys::for_policy(&policy);
    let gateway = Gateway::new(
        support::compile(&policy, &keys.store, &catalogs),
        ServerInfo::default(),
    );
    let base = &keys.secrets["base"];
    assert!(gateway.authenticate(base, None).is_ok());
    assert!(gateway.authenticate(base, Some(ip("10.1.2.3"))).is_err());
    assert!(gateway.authenticate(base, Some(ip("127.0.0.1"))).is_err());
    let key = gateway.authenticate(base, None).expect("stdio");
    for version in ERAS {
        let mut c = Client::connect(
            gateway.session(Caller::stdio(), key.clone()),
            version,
            false,
        )
        .await;
        c.ok("count_records", json!({"model": "res.partner"})).await;
    }
}

#[tokio::test]
async fn odoo_access_errors_pass_through_cleanly() {
    let sim = sim().await;
    let policy = r#"
[profiles.bot]
identity = "readonly"
models = { allow = ["res.partner", "sale.order"] }
operations = { allow = ["read", "write"] }
fields = { write = { allow = ["phone"] } }
"#;
    let h = support::harness(&sim, policy, settings());
    for version in ERAS {
        let mut c = Client::of(&h, "bot", version).await;
        // The policy allows it; Odoo's access rights do not.
        let refused = c.tool_error(WRITE, phone_update(10, "by-the-bot")).await;
        assert_eq!(
            refused["kind"],
            json!("access_error"),
            "{version}: {refused}"
        );
        let refused_orders = c
            .tool_error(
                "search_records",
                json!({"model": "sale.order", "fields": ["name"]}),
            )
            .await;
        assert_eq!(
            refused_orders["kind"],
            json!("access_error"),
            "{version}: {refused_orders}"
        );
        for error in [&refused, &refused_orders] {
            let message = error["message"].as_str().expect("message");
            assert!(
                message.starts_with("You are not allowed to"),
                "{version}: {message}"
            );
            for forbidden in [
                "Traceback",
                "File \"",
                ".py",
                "127.0.0.1",
                &sim.url(),
                "odoo.exceptions",
                "\n  ",
            ] {
                assert!(
                    !message.contains(forbidden),
                    "{version}: {forbidden:?} in {message:?}"
                );
            }
        }
        assert_eq!(phone_of(&mut c, 10).await, json!("(603)-996-3829"));
    }
}
