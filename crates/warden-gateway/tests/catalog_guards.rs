//! The catalog's guards against the Odoo simulator: malformed arguments refused before Odoo,
//! limits and byte caps, disabled write tools, private methods, Odoo access errors, Odoo down or
//! slow, single-flight metadata, and the resources, prompts and completion.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{Map, Value, json};
use warden_gateway::catalog::{CallError, Catalog, CatalogSettings, Role};
use warden_odoo::{Credential, OdooClient, OdooConfig, Protocol, SecretString};
use warden_odoo_sim::{Fault, SimHandle, SimOptions};

mod support;
use support::native;

fn client(
    url: &str,
    database: &str,
    login: &str,
    key: String,
    timeout: Duration,
) -> Result<OdooClient> {
    let mut config = OdooConfig::new(
        url::Url::parse(url)?,
        database,
        login,
        Credential::ApiKey(SecretString::from(key)),
    );
    config.protocol = Protocol::JsonRpc;
    config.timeout = timeout;
    config.connect_timeout = Duration::from_secs(2);
    Ok(OdooClient::new(config)?)
}

async fn setup(login: &str, settings: CatalogSettings) -> Result<(SimHandle, Catalog)> {
    let sim = warden_odoo_sim::start("127.0.0.1:0".parse()?, SimOptions::default()).await?;
    let key = sim.api_key(login).context("demo user")?;
    let odoo = client(
        &sim.url(),
        sim.database(),
        login,
        key,
        Duration::from_secs(10),
    )?;
    Ok((sim, Catalog::new(odoo, settings)))
}

fn args(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn writable() -> CatalogSettings {
    CatalogSettings {
        write_tools: true,
        ..CatalogSettings::default()
    }
}

#[tokio::test]
async fn malformed_arguments_are_refused_before_odoo() -> Result<()> {
    let (sim, catalog) = setup("admin", writable()).await?;
    // Warm the metadata of the models involved so that any later request would be a data call.
    for model in ["res.partner", "res.country", "sale.order"] {
        let out = catalog
            .call_tool("describe_model", args(json!({"model": model})))
            .await?;
        assert!(!out.is_error(), "{}", out.text);
    }
    let p = "res.partner";
    let table: Vec<(&str, Value, &str)> = vec![
        (
            "search_records",
            json!({"model": p, "domain": "[('name', '=', 'x'"}),
            "does not parse",
        ),
        (
            "search_records",
            json!({"model": p, "domain": "[('name', '=')]"}),
            "triple",
        ),
        (
            "search_records",
            json!({"model": p, "domain": "['|', ('name', '=', 'a')]"}),
            "needs two conditions",
        ),
        (
            "search_records",
            json!({"model": p, "domain": "['!']"}),
            "needs a condition",
        ),
        (
            "search_records",
            json!({"model": p, "domain": "[('name', '~=', 'a')]"}),
            "unknown operator",
        ),
        (
            "search_records",
            json!({"model": p, "domain": "[('name', 'in', 'a')]"}),
            "needs a list",
        ),
        (
            "search_records",
            json!({"model": p, "domain": "[('nmae', '=', 'a')]"}),
            "unknown field \"nmae\"",
        ),
        (
            "search_records",
            json!({"model": p, "domain": "[('country_id.cod', '=', 'BE')]"}),
            "unknown field \"cod\" on res.country",
        ),
        (
            "search_records",
            json!({"model": p, "domain": "[('name.id', '=', 1)]"}),
            "not a relation",
        ),
        (
            "search_records",
            json!({"model": p, "domain": "{'name': 'x'}"}),
            "must be a list",
        ),
        (
            "search_records",
            json!({"model": p, "domain": "[('name', '=', __import__('os'))]"}),
            "does not parse",
        ),
        (
            "search_records",
            json!({"model": p, "domain": "['name']"}),
            "prefix operators",
        ),
        (
            "search_records",
            json!({"model": p, "fields": ["name", "secret_field"]}),
            "unknown field \"secret_field\"",
        ),
        (
            "search_records",
            json!({"model": p, "order": "name sideways"}),
            "asc or desc",
        ),
        (
            "search_records",
            json!({"model": p, "order": "name; drop table"}),
            "order",
        ),
        (
            "search_records",
            json!({"model": p, "order": "nope desc"}),
            "unknown field \"nope\"",
        ),
        (
            "search_records",
            json!({"model": p, "order": "display_name"}),
            "cannot be sorted",
        ),
        (
            "search_records",
            json!({"model": p, "limit": 0}),
            "at least 1",
        ),
        (
            "search_records",
            json!({"model": p, "limit": "ten"}),
            "must be an integer",
        ),
        (
            "search_records",
            json!({"model": p, "bogus": 1}),
            "unknown argument",
        ),
        (
            "search_records",
            json!({"model": "Res.Partner"}),
            "not a valid model name",
        ),
        (
            "search_records",
            json!({"model": "no.such.model"}),
            "unknown model",
        ),
        ("search_records", json!({}), "required"),
        ("read_records", json!({"model": p, "ids": []}), "ids"),
        (
            "read_records",
            json!({"model": p, "ids": [0]}),
            "positive integer",
        ),
        (
            "read_records",
            json!({"model": p, "ids": "10"}),
            "list of record ids",
        ),
        (
            "aggregate_records",
            json!({"model": "sale.order", "group_by": ["nope"]}),
            "unknown field",
        ),
        (
            "aggregate_records",
            json!({"model": "sale.order", "group_by": ["state:month"]}),
            "date and datetime",
        ),
        (
            "aggregate_records",
            json!({"model": "sale.order", "group_by": ["date_order:decade"]}),
            "unknown interval",
        ),
        (
            "aggregate_records",
            json!({"model": "sale.order", "aggregates": ["amount_total"]}),
            "needs a function",
        ),
        (
            "aggregate_records",
            json!({"model": "sale.order", "aggregates": ["amount_total:median"]}),
            "unknown aggregate function",
        ),
        (
            "aggregate_records",
            json!({"model": "sale.order", "group_by": ["state"], "order": "name desc"}),
            "groups can be sorted only",
        ),
        (
            "create_records",
            json!({"model": p, "values": "[{'nmae': 'x'}]"}),
            "unknown field \"nmae\"",
        ),
        (
            "create_records",
            json!({"model": p, "values": "[1, 2]"}),
            "must be an object",
        ),
        (
            "create_records",
            json!({"model": p, "values": "[]"}),
            "empty",
        ),
        (
            "update_records",
            json!({"model": p, "ids": [10], "values": "[1]"}),
            "must be an object",
        ),
        (
            "call_method",
            json!({"model": p, "method": "_compute_display_name", "ids": [10]}),
            "private method",
        ),
        (
            "call_method",
            json!({"model": p, "method": "write", "ids": [10], "args": "[{}]"}),
            "dedicated tools",
        ),
        (
            "call_method",
            json!({"model": p, "method": "action_archive", "args": "{}"}),
            "must be a list",
        ),
        (
            "call_method",
            json!({"model": p, "method": "action archive"}),
            "not a valid method name",
        ),
    ];
    // Every case as written, and with its structured arguments as the native JSON agents send:
    // both forms are refused alike.
    let mut forms: Vec<(&str, Value, &str)> = Vec::new();
    for (tool, arguments, expected) in &table {
        forms.push((tool, arguments.clone(), expected));
        if let Some(native) = native(arguments) {
            forms.push((tool, native, expected));
        }
    }
    assert!(
        forms.len() >= table.len() + 10,
        "native forms are tried too"
    );
    // Bounds hold on native values as on text: depth, number of values, size.
    let mut deep = json!("x");
    for _ in 0..40 {
        deep = json!([deep]);
    }
    let many: Vec<Value> = (0..20_001).map(|i| json!(["id", "=", i])).collect();
    let wide = json!([["name", "=", "x".repeat(300 * 1024)]]);
    forms.extend([
        (
            "search_records",
            json!({"model": p, "domain": [["name", "=", deep]]}),
            "nested too deeply",
        ),
        (
            "search_records",
            json!({"model": p, "domain": many}),
            "too many items",
        ),
        (
            "count_records",
            json!({"model": p, "domain": wide}),
            "too long",
        ),
        (
            "create_records",
            json!({"model": p, "values": [{"name": deep}]}),
            "nested too deeply",
        ),
        (
            "call_method",
            json!({"model": p, "method": "action_archive", "kwargs": {"x": deep}}),
            "nested too deeply",
        ),
    ]);
    let before = sim.request_count();
    for (tool, arguments, expected) in &forms {
        let out = catalog.call_tool(tool, args(arguments.clone())).await?;
        assert!(out.is_error(), "{tool} {arguments} should fail");
        assert!(
            out.text.contains(expected),
            "{tool} {arguments}: {:?} should mention {expected:?}",
            out.text
        );
        assert!(!out.text.contains("Traceback"));
        assert_eq!(out.error_kind(), Some("invalid_arguments"));
    }
    assert_eq!(
        sim.request_count(),
        before,
        "no malformed call reached Odoo"
    );
    Ok(())
}

#[tokio::test]
async fn limits_are_clamped_and_large_results_paged() -> Result<()> {
    let (_sim, catalog) = setup(
        "admin",
        CatalogSettings {
            max_limit: 5,
            default_limit: 3,
            ..CatalogSettings::default()
        },
    )
    .await?;
    let out = catalog
        .call_tool(
            "search_records",
            args(json!({"model": "res.partner", "fields": ["name"]})),
        )
        .await?;
    assert_eq!(
        out.structured().expect("a success")["count"],
        3,
        "default limit"
    );
    assert_eq!(out.structured().expect("a success")["next_offset"], 3);
    let out = catalog
        .call_tool(
            "search_records",
            args(json!({"model": "res.partner", "fields": ["name"], "limit": 100_000})),
        )
        .await?;
    assert!(!out.is_error(), "{}", out.text);
    assert_eq!(out.structured().expect("a success")["count"], 5);
    assert_eq!(out.structured().expect("a success")["limit"], 5);
    assert!(
        out.text
            .contains("the limit 100000 was reduced to the maximum of 5"),
        "{}",
        out.text
    );

    // A byte cap that holds only some records: rows are cut and the next offset given.
    let (_sim, catalog) = setup(
        "admin",
        CatalogSettings {
            max_result_bytes: 3000,
            ..CatalogSettings::default()
        },
    )
    .await?;
    let first = catalog.call_tool("search_records", args(json!({"model": "res.partner", "fields": ["name", "email"], "order": "id asc", "limit": 100}))).await?;
    assert!(!first.is_error(), "{}", first.text);
    let s = first.structured().expect("a success");
    assert_eq!(s["truncated"], true);
    let count = s["count"].as_u64().unwrap();
    assert!(count > 0 && count < 50, "count {count}");
    assert_eq!(s["next_offset"].as_u64(), Some(count));
    assert!(serde_json::to_string(s)?.len() <= 3000);
    assert!(first.text.contains(&format!("offset {count}")));
    let second = catalog.call_tool("search_records", args(json!({"model": "res.partner", "fields": ["name", "email"], "order": "id asc", "limit": 100, "offset": count}))).await?;
    let last_first = s["records"].as_array().unwrap().last().unwrap()["id"]
        .as_i64()
        .unwrap();
    let first_second = second.structured().expect("a success")["records"][0]["id"]
        .as_i64()
        .unwrap();
    assert!(
        first_second > last_first,
        "the next page continues after the first"
    );
    Ok(())
}

#[tokio::test]
async fn write_tools_are_hidden_and_refused_when_disabled() -> Result<()> {
    let (sim, catalog) = setup("admin", CatalogSettings::default()).await?;
    let names: Vec<&str> = catalog.tools().iter().map(|t| t.name).collect();
    for name in [
        "create_records",
        "update_records",
        "delete_records",
        "call_method",
    ] {
        assert!(!names.contains(&name), "{name} listed");
        let before = sim.request_count();
        let err = catalog.call_tool(name, args(json!({"model": "res.partner", "ids": [10], "values": "{}", "method": "action_archive"}))).await;
        assert!(
            matches!(err, Err(CallError::UnknownTool(ref n)) if n == name),
            "{name}: {err:?}"
        );
        assert_eq!(sim.request_count(), before);
    }
    assert!(matches!(
        catalog.call_tool("drop_database", Map::new()).await,
        Err(CallError::UnknownTool(_))
    ));
    // The partner was not archived.
    let out = catalog
        .call_tool(
            "count_records",
            args(json!({"model": "res.partner", "domain": "[('id', '=', 10)]"})),
        )
        .await?;
    assert_eq!(out.structured().expect("a success")["count"], 1);
    Ok(())
}

#[tokio::test]
async fn odoo_access_errors_are_clean_tool_errors() -> Result<()> {
    let (sim, catalog) = setup("readonly_bot", writable()).await?;
    let out = catalog
        .call_tool(
            "create_records",
            args(json!({"model": "res.partner", "values": "[{'name': 'Nope'}]"})),
        )
        .await?;
    assert!(out.is_error());
    assert_eq!(out.error_kind(), Some("access_error"));
    assert!(
        out.text
            .contains("You are not allowed to create 'Contact' (res.partner) records"),
        "{}",
        out.text
    );
    assert!(
        out.text.contains("the Odoo user behind this key may not"),
        "{}",
        out.text
    );
    assert!(!out.text.contains("Traceback") && !out.text.contains(".py"));
    drop(sim);

    // A salesperson: hr private fields are not even visible, so they are refused before Odoo;
    // another salesperson's order is refused by Odoo's record rules.
    let (sim, catalog) = setup("sales_agent", writable()).await?;
    let warm = catalog
        .call_tool("describe_model", args(json!({"model": "hr.employee"})))
        .await?;
    assert!(!warm.is_error(), "{}", warm.text);
    assert!(!warm.text.contains("private_email"));
    let before = sim.request_count();
    let out = catalog
        .call_tool(
            "search_records",
            args(json!({"model": "hr.employee", "fields": ["name", "private_email"]})),
        )
        .await?;
    assert!(out.is_error());
    assert!(
        out.text.contains("private_email") && out.text.contains("may not read it"),
        "{}",
        out.text
    );
    assert_eq!(sim.request_count(), before);

    let out = catalog
        .call_tool(
            "read_records",
            args(json!({"model": "sale.order", "ids": [2], "fields": ["name"]})),
        )
        .await?;
    assert!(out.is_error(), "{}", out.text);
    assert_eq!(out.error_kind(), Some("access_error"));
    assert!(
        out.text.contains("doesn't have 'read' access"),
        "{}",
        out.text
    );

    // A record that does not exist.
    let out = catalog
        .call_tool(
            "read_records",
            args(json!({"model": "res.partner", "ids": [999_999], "fields": ["name"]})),
        )
        .await?;
    // Odoo's read skips records that do not exist; the result names them.
    assert!(!out.is_error(), "{}", out.text);
    assert_eq!(out.structured().expect("a success")["count"], 0);
    assert_eq!(
        out.structured().expect("a success")["missing_ids"],
        json!([999_999])
    );
    // Changing a record that does not exist is Odoo's missing-record error.
    let out = catalog
        .call_tool(
            "update_records",
            args(json!({"model": "crm.lead", "ids": [999_999], "values": "{'name': 'x'}"})),
        )
        .await?;
    assert!(out.is_error());
    assert_eq!(out.error_kind(), Some("missing_record"), "{}", out.text);
    assert!(
        out.text
            .contains("Record does not exist or has been deleted"),
        "{}",
        out.text
    );
    assert!(out.text.contains("search for it first"), "{}", out.text);
    Ok(())
}

#[tokio::test]
async fn odoo_slow_or_down_is_a_clear_tool_error() -> Result<()> {
    let sim = warden_odoo_sim::start("127.0.0.1:0".parse()?, SimOptions::default()).await?;
    let key = sim.api_key("admin").context("key")?;
    let odoo = client(
        &sim.url(),
        sim.database(),
        "admin",
        key,
        Duration::from_millis(400),
    )?;
    let catalog = Catalog::new(odoo, CatalogSettings::default());
    let warm = catalog
        .call_tool("count_records", args(json!({"model": "res.partner"})))
        .await?;
    assert!(!warm.is_error(), "{}", warm.text);
    sim.set_fault(Fault::Delay(Duration::from_secs(3)));
    let started = Instant::now();
    let out = catalog
        .call_tool("count_records", args(json!({"model": "res.partner"})))
        .await?;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered within the timeout"
    );
    assert!(out.is_error());
    assert_eq!(out.error_kind(), Some("timeout"));
    assert!(
        out.text.contains("Odoo did not answer within 0.4 s"),
        "{}",
        out.text
    );
    sim.set_fault(Fault::None);

    // Nothing listens: Odoo is unreachable.
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    drop(listener);
    let odoo = client(
        &format!("http://{addr}"),
        "odoo",
        "admin",
        "0".repeat(40),
        Duration::from_secs(2),
    )?;
    let catalog = Catalog::new(odoo, CatalogSettings::default());
    let out = catalog
        .call_tool("search_records", args(json!({"model": "res.partner"})))
        .await?;
    assert!(out.is_error());
    assert_eq!(out.error_kind(), Some("unreachable"));
    assert!(out.text.contains("Odoo is unreachable"), "{}", out.text);
    assert!(
        !out.text.contains("127.0.0.1"),
        "no address in {}",
        out.text
    );
    Ok(())
}

#[tokio::test]
async fn metadata_is_fetched_once_under_concurrent_misses() -> Result<()> {
    let (sim, catalog) = setup("admin", CatalogSettings::default()).await?;
    // Authenticate first, so that only metadata and data calls are counted.
    let client_only = catalog.call_tool("list_models", Map::new()).await?;
    assert!(!client_only.is_error());
    let before = sim.request_count();
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let catalog = catalog.clone();
        tasks.push(tokio::spawn(async move {
            catalog
                .call_tool("search_records", args(json!({"model": "res.partner", "domain": "[('country_id.code', '=', 'US')]", "fields": ["name"], "limit": 2})))
                .await
        }));
    }
    for task in tasks {
        let out = tokio::time::timeout(Duration::from_secs(10), task).await???;
        assert!(!out.is_error(), "{}", out.text);
    }
    // fields_get of res.partner and res.country once each, then 10 data calls.
    assert_eq!(sim.request_count() - before, 2 + 10);

    // A short TTL refetches.
    let (sim, catalog) = setup(
        "admin",
        CatalogSettings {
            metadata_ttl: Duration::from_millis(50),
            ..CatalogSettings::default()
        },
    )
    .await?;
    catalog
        .call_tool("describe_model", args(json!({"model": "res.partner"})))
        .await?;
    let before = sim.request_count();
    catalog
        .call_tool("describe_model", args(json!({"model": "res.partner"})))
        .await?;
    assert_eq!(sim.request_count(), before, "cached");
    tokio::time::sleep(Duration::from_millis(80)).await;
    catalog
        .call_tool("describe_model", args(json!({"model": "res.partner"})))
        .await?;
    assert_eq!(
        sim.request_count() - before,
        2,
        "model list and fields refetched"
    );
    Ok(())
}

#[tokio::test]
async fn resources_completion_and_prompts() -> Result<()> {
    let (_sim, catalog) = setup("admin", CatalogSettings::default()).await?;
    let templates: Vec<String> = catalog
        .resource_templates()
        .into_iter()
        .map(|t| t.uri_template)
        .collect();
    assert_eq!(templates, ["odoo://{model}/{id}", "odoo://{model}"]);

    let record = catalog.read_resource("odoo://res.partner/10").await?;
    assert_eq!(record.mime_type, "application/json");
    let value: Value = serde_json::from_str(&record.text)?;
    assert_eq!(value["name"], "Deco Addict");
    let model = catalog.read_resource("odoo://res.country").await?;
    let value: Value = serde_json::from_str(&model.text)?;
    assert!(
        value["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "code")
    );

    assert!(matches!(
        catalog.read_resource("odoo://res.partner/999999").await,
        Err(CallError::ResourceNotFound(_))
    ));
    assert!(matches!(
        catalog.read_resource("odoo://no.such.model/1").await,
        Err(CallError::ResourceNotFound(_))
    ));
    for bad in [
        "odoo://res.partner/abc",
        "odoo://res.partner/0",
        "odoo://RES/1",
        "file:///etc/passwd",
        "odoo://res.partner/1/2",
    ] {
        assert!(
            matches!(
                catalog.read_resource(bad).await,
                Err(CallError::InvalidUri(_))
            ),
            "{bad}"
        );
    }

    let listed = catalog.list_resources().await?;
    assert!(listed.iter().any(|r| r.uri == "odoo://res.partner"));
    assert!(listed.len() <= 200);

    let completions = catalog.complete_model("res.p").await?.values;
    assert_eq!(completions.first().map(String::as_str), Some("res.partner"));
    assert!(completions.iter().all(|m| m.contains("res.p")));
    let contains = catalog.complete_model("order").await?.values;
    assert!(
        contains.contains(&"sale.order".to_owned())
            && contains.contains(&"sale.order.line".to_owned())
    );

    let names: Vec<String> = catalog.prompts().into_iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        [
            "summarize_customer",
            "explain_model",
            "sales_pipeline_review"
        ]
    );
    let prompt = catalog
        .get_prompt(
            "summarize_customer",
            &BTreeMap::from([("customer".to_owned(), "Deco Addict".to_owned())]),
        )
        .await?;
    assert_eq!(prompt.messages[0].0, Role::User);
    assert!(
        prompt.messages[0].1.contains("find_by_name")
            && prompt.messages[0].1.contains("\"Deco Addict\"")
    );
    assert!(prompt.messages[0].1.contains("sale.order"));
    let prompt = catalog
        .get_prompt(
            "explain_model",
            &BTreeMap::from([("model".to_owned(), "sale.order".to_owned())]),
        )
        .await?;
    assert!(
        prompt.messages[0]
            .1
            .contains("describe_model with model \"sale.order\"")
    );
    let prompt = catalog
        .get_prompt("sales_pipeline_review", &BTreeMap::new())
        .await?;
    assert!(prompt.messages[0].1.contains("aggregate_records"));
    assert!(matches!(
        catalog
            .get_prompt(
                "explain_model",
                &BTreeMap::from([("model".to_owned(), "no.such".to_owned())])
            )
            .await,
        Err(CallError::InvalidPromptArguments(_))
    ));
    assert!(matches!(
        catalog
            .get_prompt("summarize_customer", &BTreeMap::new())
            .await,
        Err(CallError::InvalidPromptArguments(_))
    ));
    assert!(matches!(
        catalog.get_prompt("nope", &BTreeMap::new()).await,
        Err(CallError::UnknownPrompt(_))
    ));
    Ok(())
}
