//! The catalog's tools against the Odoo simulator: every tool on the happy path with real demo
//! data, every structured result validated against the tool's own output schema, and every input
//! schema checked for strictness.

use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{Map, Value, json};
use warden_gateway::catalog::{Catalog, CatalogSettings, Operation, ToolOutcome};
use warden_odoo::{Credential, OdooClient, OdooConfig, Protocol, SecretString};
use warden_odoo_sim::{SimHandle, SimOptions};

async fn setup(login: &str, settings: CatalogSettings) -> Result<(SimHandle, Catalog)> {
    let sim = warden_odoo_sim::start("127.0.0.1:0".parse()?, SimOptions::default()).await?;
    let key = sim.api_key(login).context("demo user")?;
    let mut config = OdooConfig::new(
        url::Url::parse(&sim.url())?,
        sim.database(),
        login,
        Credential::ApiKey(SecretString::from(key)),
    );
    config.protocol = Protocol::JsonRpc;
    config.timeout = Duration::from_secs(10);
    let catalog = Catalog::new(OdooClient::new(config)?, settings);
    Ok((sim, catalog))
}

fn writable() -> CatalogSettings {
    CatalogSettings {
        write_tools: true,
        ..CatalogSettings::default()
    }
}

fn args(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Call a tool, require success, and validate the structured result against the output schema.
async fn ok(catalog: &Catalog, tool: &str, arguments: Value) -> Result<Value> {
    let outcome = catalog.call_tool(tool, args(arguments)).await?;
    anyhow::ensure!(!outcome.is_error(), "{tool} failed: {}", outcome.text);
    check_output(catalog, tool, &outcome)?;
    outcome
        .result
        .map_err(|e| anyhow::anyhow!("{tool} failed: {}", e.message))
}

fn check_output(catalog: &Catalog, tool: &str, outcome: &ToolOutcome) -> Result<()> {
    let def = catalog
        .tools()
        .into_iter()
        .find(|t| t.name == tool)
        .context("tool listed")?;
    let validator = jsonschema::validator_for(&def.output_schema)
        .map_err(|e| anyhow::anyhow!("output schema of {tool} is invalid: {e}"))?;
    let structured = outcome.structured().context("a success")?;
    let errors: Vec<String> = validator
        .iter_errors(structured)
        .map(|e| e.to_string())
        .collect();
    anyhow::ensure!(
        errors.is_empty(),
        "{tool}: result does not match its output schema: {errors:?}"
    );
    // The text is a summary line, then the structured result as compact JSON.
    let (summary, json) = outcome.text.split_once('\n').context("two parts")?;
    anyhow::ensure!(!summary.is_empty());
    let parsed: Value = serde_json::from_str(json)?;
    anyhow::ensure!(&parsed == structured, "text carries the structured result");
    Ok(())
}

/// Walk a schema: every property has exactly one `type` (a string), or is an `anyOf` whose every
/// branch has one (the portable spelling of a union: no `type` arrays, no `oneOf`); every object
/// with properties lists its `required` and forbids other properties, and a free-form object
/// (field values) says so with `additionalProperties: true`.
fn assert_strict(schema: &Value, at: &str) {
    assert!(schema.get("oneOf").is_none(), "{at}: oneOf");
    if let Some(branches) = schema.get("anyOf") {
        assert!(schema.get("type").is_none(), "{at}: type beside anyOf");
        let branches = branches.as_array().expect("anyOf is a list");
        assert!(branches.len() >= 2, "{at}: anyOf of one branch");
        for (i, branch) in branches.iter().enumerate() {
            assert_strict(branch, &format!("{at}.anyOf[{i}]"));
        }
        return;
    }
    let ty = schema.get("type").and_then(Value::as_str);
    assert!(ty.is_some(), "{at}: no single string type in {schema}");
    match ty {
        Some("object") if schema.get("properties").is_none() => {
            assert_eq!(
                schema.get("additionalProperties"),
                Some(&json!(true)),
                "{at}: a free-form object says so"
            );
        }
        Some("object") => {
            assert_eq!(
                schema.get("additionalProperties"),
                Some(&json!(false)),
                "{at}: additionalProperties must be false"
            );
            let props = schema["properties"].as_object().expect("properties");
            let required = schema["required"].as_array().expect("required listed");
            for name in required {
                assert!(
                    props.contains_key(name.as_str().unwrap()),
                    "{at}: {name} not a property"
                );
            }
            for (name, prop) in props {
                assert!(
                    prop.get("description").is_some() || at.contains("items"),
                    "{at}.{name}: no description"
                );
                assert_strict(prop, &format!("{at}.{name}"));
            }
        }
        Some("array") => {
            if let Some(items) = schema.get("items") {
                assert_strict(items, &format!("{at}.items"));
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn tool_list_and_schemas_are_strict() -> Result<()> {
    let (_sim, catalog) = setup("admin", writable()).await?;
    let tools = catalog.tools();
    let names: Vec<&str> = tools.iter().map(|t| t.name).collect();
    assert_eq!(
        names,
        [
            "search_records",
            "read_records",
            "count_records",
            "aggregate_records",
            "find_by_name",
            "list_models",
            "describe_model",
            "create_records",
            "update_records",
            "delete_records",
            "call_method"
        ]
    );
    for tool in &tools {
        assert_strict(&tool.input_schema, tool.name);
        // Valid JSON Schema under the dialects the revisions name: draft-07 (what clients of
        // 2025-03-26 and 2025-06-18 assume) and 2020-12 (the default from 2025-11-25 on).
        for schema in [&tool.input_schema, &tool.output_schema] {
            jsonschema::draft7::meta::validate(schema)
                .map_err(|e| anyhow::anyhow!("{}: not draft-07: {e}", tool.name))?;
            jsonschema::draft202012::meta::validate(schema)
                .map_err(|e| anyhow::anyhow!("{}: not 2020-12: {e}", tool.name))?;
        }
        assert_eq!(tool.output_schema["type"], "object", "{}", tool.name);
        jsonschema::validator_for(&tool.output_schema)
            .map_err(|e| anyhow::anyhow!("{}: {e}", tool.name))?;
        assert!(!tool.hints.open_world);
        assert!(tool.description.len() > 40, "{}", tool.name);
    }
    let hint = |n: &str| tools.iter().find(|t| t.name == n).map(|t| t.hints).unwrap();
    assert!(hint("search_records").read_only && hint("search_records").idempotent);
    assert!(!hint("create_records").destructive && !hint("create_records").idempotent);
    assert!(hint("update_records").destructive && hint("delete_records").destructive);
    assert!(hint("call_method").destructive && !hint("call_method").read_only);
    // Examples are written in the native form agents send.
    assert!(
        tools[0]
            .description
            .contains(r#"[["is_company", "=", true]"#)
    );
    assert_eq!(
        tools[0].input_schema["properties"]["domain"]["type"],
        "array"
    );
    Ok(())
}

#[tokio::test]
async fn search_read_count_find_on_demo_data() -> Result<()> {
    let (_sim, catalog) = setup("admin", CatalogSettings::default()).await?;

    let out = ok(
        &catalog,
        "search_records",
        json!({"model": "res.partner", "domain": "[('name', '=', 'Deco Addict')]", "fields": ["name", "city", "country_id"]}),
    )
    .await?;
    assert_eq!(out["count"], 1);
    assert_eq!(out["records"][0]["id"], 10);
    assert_eq!(out["records"][0]["city"], "Pleasant Hill");
    assert_eq!(out["truncated"], false);
    assert!(out.get("next_offset").is_none());

    // Python-literal and JSON forms give the same records.
    let py = ok(
        &catalog,
        "search_records",
        json!({"model": "res.partner", "domain": "[('is_company', '=', True), ('country_id.code', 'in', ['BE', 'FR'])]", "fields": ["name"]}),
    )
    .await?;
    let js = ok(
        &catalog,
        "search_records",
        json!({"model": "res.partner", "domain": r#"[["is_company", "=", true], ["country_id.code", "in", ["BE", "FR"]]]"#, "fields": ["name"]}),
    )
    .await?;
    let native = ok(
        &catalog,
        "search_records",
        json!({"model": "res.partner", "domain": [["is_company", "=", true], ["country_id.code", "in", ["BE", "FR"]]], "fields": ["name"]}),
    )
    .await?;
    assert_eq!(py["records"], js["records"]);
    assert_eq!(py["records"], native["records"]);
    assert_eq!(py["records"][0]["name"], "OpenWood");
    assert_eq!(py["count"], 1);
    // An empty domain, native or text, is every record.
    let every = ok(&catalog, "count_records", json!({"model": "res.partner"})).await?;
    for empty in [json!([]), json!(""), json!("  ")] {
        let out = ok(
            &catalog,
            "count_records",
            json!({"model": "res.partner", "domain": empty}),
        )
        .await?;
        assert_eq!(out["count"], every["count"], "{empty}");
    }

    // Prefix operators and order.
    let out = ok(
        &catalog,
        "search_records",
        json!({"model": "res.partner", "domain": "['|', ('name', '=', 'Deco Addict'), ('name', '=', 'Wood Corner')]", "fields": ["name"], "order": "name desc"}),
    )
    .await?;
    let names: Vec<&str> = out["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, ["Wood Corner", "Deco Addict"]);

    // No fields: the stored fields, not computed ones.
    let out = ok(
        &catalog,
        "search_records",
        json!({"model": "res.partner", "domain": "[('id', '=', 10)]"}),
    )
    .await?;
    let record = out["records"][0].as_object().unwrap();
    assert!(record.contains_key("email") && record.contains_key("vat"));
    // display_name is computed; complete_name is stored (as Odoo 18 has it).
    assert!(!record.contains_key("display_name") && record.contains_key("complete_name"));

    let out = ok(
        &catalog,
        "read_records",
        json!({"model": "res.partner", "ids": [10, 11], "fields": ["name", "email"]}),
    )
    .await?;
    assert_eq!(out["count"], 2);
    assert_eq!(out["records"][0]["name"], "Deco Addict");
    assert_eq!(out["records"][0]["email"], "info@agrolait.com");

    let out = ok(
        &catalog,
        "count_records",
        json!({"model": "res.partner", "domain": "[('is_company', '=', True)]"}),
    )
    .await?;
    let companies = out["count"].as_u64().unwrap();
    let all = ok(&catalog, "search_records", json!({"model": "res.partner", "domain": "[('is_company', '=', True)]", "fields": ["id"], "limit": 500})).await?;
    assert_eq!(all["count"].as_u64(), Some(companies));
    assert!(companies >= 9);

    let out = ok(
        &catalog,
        "find_by_name",
        json!({"model": "res.partner", "name": "deco"}),
    )
    .await?;
    assert_eq!(out["matches"][0], json!({"id": 10, "name": "Deco Addict"}));
    Ok(())
}

#[tokio::test]
async fn aggregate_models_and_describe() -> Result<()> {
    let (_sim, catalog) = setup("admin", CatalogSettings::default()).await?;
    let out = ok(
        &catalog,
        "aggregate_records",
        json!({"model": "sale.order", "group_by": ["state"], "aggregates": ["amount_total:sum"], "order": "amount_total desc"}),
    )
    .await?;
    let groups = out["groups"].as_array().unwrap();
    assert!(!groups.is_empty());
    let counted: u64 = groups.iter().filter_map(|g| g["__count"].as_u64()).sum();
    let total = ok(&catalog, "count_records", json!({"model": "sale.order"})).await?;
    assert_eq!(Some(counted), total["count"].as_u64());
    let sums: Vec<f64> = groups
        .iter()
        .filter_map(|g| g["amount_total"].as_f64())
        .collect();
    assert!(
        sums.windows(2).all(|w| w[0] >= w[1]),
        "ordered by total: {sums:?}"
    );
    assert!(groups.iter().all(|g| g.get("__domain").is_none()));

    let out = ok(&catalog, "aggregate_records", json!({"model": "sale.order", "group_by": ["date_order:month"], "aggregates": ["amount_total:max"]})).await?;
    assert!(out["count"].as_u64().unwrap() >= 1);

    let out = ok(&catalog, "list_models", json!({"filter": "partner"})).await?;
    let models: Vec<&str> = out["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["model"].as_str())
        .collect();
    assert!(models.contains(&"res.partner") && models.contains(&"res.partner.category"));
    assert!(!models.contains(&"sale.order"));
    let all = ok(&catalog, "list_models", json!({})).await?;
    assert!(all["count"].as_u64().unwrap() > 10);

    let out = ok(&catalog, "describe_model", json!({"model": "res.partner"})).await?;
    assert_eq!(out["name"], "Contact");
    let fields = out["fields"].as_array().unwrap();
    let country = fields.iter().find(|f| f["name"] == "country_id").unwrap();
    assert_eq!(country["type"], "many2one");
    assert_eq!(country["relation"], "res.country");
    assert_eq!(country["label"], "Country");
    let kind = fields.iter().find(|f| f["name"] == "type").unwrap();
    assert_eq!(
        kind["selection"][0],
        json!({"value": "contact", "label": "Contact"})
    );
    Ok(())
}

#[tokio::test]
async fn write_tools_create_update_archive_delete() -> Result<()> {
    let (_sim, catalog) = setup("admin", writable()).await?;
    let out = ok(
        &catalog,
        "create_records",
        json!({"model": "res.partner", "values": r#"[{"name": "Warden Test Co", "is_company": true}, {"name": "Warden Person"}]"#}),
    )
    .await?;
    let ids: Vec<i64> = out["ids"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    assert_eq!(ids.len(), 2);

    // Native values, as agents send them.
    let native = ok(
        &catalog,
        "create_records",
        json!({"model": "res.partner", "values": [{"name": "Warden Native", "is_company": false}]}),
    )
    .await?;
    assert_eq!(native["count"], 1);

    ok(
        &catalog,
        "update_records",
        json!({"model": "res.partner", "ids": [ids[0]], "values": "{'city': 'Namur'}"}),
    )
    .await?;
    let read = ok(
        &catalog,
        "read_records",
        json!({"model": "res.partner", "ids": [ids[0]], "fields": ["city", "active"]}),
    )
    .await?;
    assert_eq!(read["records"][0]["city"], "Namur");
    ok(
        &catalog,
        "update_records",
        json!({"model": "res.partner", "ids": [ids[0]], "values": {"city": "Liège"}}),
    )
    .await?;
    let read = ok(
        &catalog,
        "read_records",
        json!({"model": "res.partner", "ids": [ids[0]], "fields": ["city"]}),
    )
    .await?;
    assert_eq!(read["records"][0]["city"], "Liège");

    // A method returning None is a success.
    let out = ok(
        &catalog,
        "call_method",
        json!({"model": "res.partner", "method": "action_archive", "ids": [ids[0]], "args": [], "kwargs": {}}),
    )
    .await?;
    assert_eq!(out["result"], Value::Null);
    let read = ok(&catalog, "search_records", json!({"model": "res.partner", "domain": format!("[('id', '=', {}), ('active', '=', False)]", ids[0]), "fields": ["active"]})).await?;
    assert_eq!(read["records"][0]["active"], false);

    ok(
        &catalog,
        "delete_records",
        json!({"model": "res.partner", "ids": [ids[1]]}),
    )
    .await?;
    let count = ok(
        &catalog,
        "count_records",
        json!({"model": "res.partner", "domain": format!("[('id', '=', {})]", ids[1])}),
    )
    .await?;
    assert_eq!(count["count"], 0);
    Ok(())
}

#[tokio::test]
async fn parsed_call_exposes_what_a_policy_checks() -> Result<()> {
    let (sim, catalog) = setup("admin", writable()).await?;
    let parsed = catalog
        .parse_call(
            "search_records",
            args(json!({"model": "res.partner", "domain": "[('country_id.code', '=', 'BE')]", "fields": ["name"], "order": "city desc, name"})),
        )
        .await?
        .map_err(|o| anyhow::anyhow!(o.text))?;
    assert_eq!(parsed.model(), Some("res.partner"));
    assert_eq!(parsed.operation(), Operation::Read);
    assert_eq!(parsed.fields_read(), ["name"]);
    assert_eq!(parsed.domain_fields(), ["country_id.code"]);
    assert_eq!(parsed.order_fields(), ["city", "name"]);

    let before = sim.request_count();
    let parsed = catalog
        .parse_call("update_records", args(json!({"model": "res.partner", "ids": [10, 10, 11], "values": "{\"phone\": \"1\"}"})))
        .await?
        .map_err(|o| anyhow::anyhow!(o.text))?;
    assert_eq!(
        sim.request_count(),
        before,
        "parsing reaches no record data"
    );
    assert_eq!(parsed.operation(), Operation::Write);
    assert_eq!(parsed.ids(), [10, 11]);
    assert_eq!(parsed.fields_written(), ["phone"]);

    let parsed = catalog
        .parse_call(
            "call_method",
            args(json!({"model": "sale.order", "method": "action_confirm", "ids": [1]})),
        )
        .await?
        .map_err(|o| anyhow::anyhow!(o.text))?;
    assert_eq!(parsed.method(), Some("action_confirm"));
    assert_eq!(parsed.operation(), Operation::Call);
    Ok(())
}

#[tokio::test]
async fn ping_checks_that_the_credential_still_works() -> Result<()> {
    let (sim, catalog) = setup("sales_agent", CatalogSettings::default()).await?;
    catalog.ping().await?;
    // The same server, a credential it refuses: not ready, though Odoo answers.
    let mut config = OdooConfig::new(
        url::Url::parse(&sim.url())?,
        sim.database(),
        "sales_agent",
        Credential::ApiKey(SecretString::from(
            "ffffffffffffffffffffffffffffffffffffffff".to_owned(),
        )),
    );
    config.protocol = Protocol::JsonRpc;
    let refused = Catalog::new(OdooClient::new(config)?, CatalogSettings::default());
    anyhow::ensure!(refused.ping().await.is_err(), "a refused key is not ready");
    Ok(())
}
