//! Behaviour of the simulator beyond the recordings: domains, record rules, field groups,
//! read_group, transactions, sessions, JSON-2, faults and latency.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{Value, json};
use warden_odoo_sim::{Fault, OdooVersion, SimHandle, SimOptions, serve};

async fn sim_with(options: SimOptions) -> Result<SimHandle> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    Ok(serve(listener, options).await?)
}

async fn sim() -> Result<SimHandle> {
    sim_with(SimOptions::default()).await
}

fn client() -> Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?)
}

fn uid(login: &str) -> i64 {
    match login {
        "admin" => 2,
        "sales_agent" => 8,
        _ => 9,
    }
}

/// execute_kw over /jsonrpc; returns the whole JSON-RPC response.
async fn kw(
    c: &reqwest::Client,
    sim: &SimHandle,
    login: &str,
    model: &str,
    method: &str,
    args: Value,
    kwargs: Value,
) -> Result<Value> {
    let body = json!({"jsonrpc": "2.0", "method": "call", "params": {"service": "object", "method": "execute_kw",
        "args": [sim.database(), uid(login), login, model, method, args, kwargs]}, "id": 1});
    Ok(c.post(format!("{}/jsonrpc", sim.url()))
        .json(&body)
        .send()
        .await?
        .json()
        .await?)
}

async fn ok(
    c: &reqwest::Client,
    sim: &SimHandle,
    login: &str,
    model: &str,
    method: &str,
    args: Value,
    kwargs: Value,
) -> Result<Value> {
    let resp = kw(c, sim, login, model, method, args, kwargs).await?;
    resp.get("result")
        .cloned()
        .with_context(|| format!("no result: {resp}"))
}

fn error_name(resp: &Value) -> &str {
    resp["error"]["data"]["name"].as_str().unwrap_or("")
}

#[tokio::test]
async fn domains_support_operators_dotted_paths_and_reject_unknown_fields() -> Result<()> {
    let (c, s) = (client()?, sim().await?);
    let count = |d: Value| {
        let (c, s) = (&c, &s);
        async move {
            ok(
                c,
                s,
                "admin",
                "res.partner",
                "search_count",
                json!([d]),
                json!({}),
            )
            .await
        }
    };
    assert_eq!(
        count(json!([["country_id.code", "=", "BE"]])).await?,
        json!(1)
    );
    assert_eq!(
        count(json!([
            "|",
            ["name", "=like", "Deco%"],
            ["name", "ilike", "lumber"]
        ]))
        .await?,
        json!(2)
    );
    assert_eq!(
        count(json!([
            ["is_company", "=", true],
            ["name", "not in", ["OpenWood", "Lumber Inc"]]
        ]))
        .await?,
        json!(7)
    );
    assert_eq!(
        count(json!([
            "!",
            ["is_company", "=", true],
            ["parent_id", "=", 10]
        ]))
        .await?,
        json!(3)
    );
    assert_eq!(
        count(json!([["parent_id.name", "like", "Gemini"]])).await?,
        json!(4)
    );
    assert_eq!(count(json!([["id", "child_of", 10]])).await?, json!(4));
    // archived records are hidden unless the domain mentions active
    assert_eq!(count(json!([["name", "=", "OdooBot"]])).await?, json!(0));
    assert_eq!(
        count(json!([["name", "=", "OdooBot"], ["active", "=", false]])).await?,
        json!(1)
    );
    let rows = ok(
        &c,
        &s,
        "admin",
        "res.partner",
        "search_read",
        json!([[["is_company", "=", true]]]),
        json!({"fields": ["name"], "order": "name desc", "limit": 2, "offset": 1}),
    )
    .await?;
    assert_eq!(
        rows,
        json!([{"id": 9, "name": "Wood Corner"}, {"id": 14, "name": "The Jackson Group"}])
    );
    let bad = kw(
        &c,
        &s,
        "admin",
        "res.partner",
        "search",
        json!([[["nope", "=", 1]]]),
        json!({}),
    )
    .await?;
    assert_eq!(error_name(&bad), "builtins.ValueError");
    Ok(())
}

#[tokio::test]
async fn record_rules_limit_sales_agent_to_its_own_orders() -> Result<()> {
    let (c, s) = (client()?, sim().await?);
    assert_eq!(
        ok(
            &c,
            &s,
            "sales_agent",
            "sale.order",
            "search_count",
            json!([[]]),
            json!({})
        )
        .await?,
        json!(3),
        "the kit's S00021-S00023"
    );
    let id = ok(
        &c,
        &s,
        "sales_agent",
        "sale.order",
        "create",
        json!([{"partner_id": 10}]),
        json!({}),
    )
    .await?;
    let mine = ok(
        &c,
        &s,
        "sales_agent",
        "sale.order",
        "search_read",
        json!([[]]),
        json!({"fields": ["user_id"], "order": "id desc"}),
    )
    .await?;
    assert_eq!(
        mine,
        json!([
            {"id": id, "user_id": [8, "Sales Agent"]},
            {"id": 23, "user_id": [8, "Sales Agent"]},
            {"id": 22, "user_id": [8, "Sales Agent"]},
            {"id": 21, "user_id": [8, "Sales Agent"]}
        ])
    );
    assert_eq!(
        ok(
            &c,
            &s,
            "admin",
            "sale.order",
            "search_count",
            json!([[]]),
            json!({})
        )
        .await?,
        json!(24)
    );
    let other = kw(
        &c,
        &s,
        "sales_agent",
        "sale.order",
        "write",
        json!([[1], {"note": "x"}]),
        json!({}),
    )
    .await?;
    assert_eq!(error_name(&other), "odoo.exceptions.AccessError");
    let denied = kw(
        &c,
        &s,
        "readonly_bot",
        "sale.order",
        "search_read",
        json!([[]]),
        json!({}),
    )
    .await?;
    assert_eq!(error_name(&denied), "odoo.exceptions.AccessError");
    Ok(())
}

#[tokio::test]
async fn hr_private_fields_need_the_hr_group() -> Result<()> {
    let (c, s) = (client()?, sim().await?);
    let denied = kw(
        &c,
        &s,
        "sales_agent",
        "hr.employee",
        "read",
        json!([[1], ["private_phone"]]),
        json!({}),
    )
    .await?;
    assert_eq!(error_name(&denied), "odoo.exceptions.AccessError");
    let public = ok(
        &c,
        &s,
        "readonly_bot",
        "hr.employee",
        "read",
        json!([[2], ["name", "job_title"]]),
        json!({}),
    )
    .await?;
    assert_eq!(public[0]["name"], json!("Jeffrey Kelly"));
    let hr = ok(
        &c,
        &s,
        "admin",
        "hr.employee",
        "read",
        json!([[1], ["private_email", "private_phone"]]),
        json!({}),
    )
    .await?;
    assert_eq!(
        hr[0]["private_email"],
        json!("admin@yourcompany.example.com")
    );
    let meta = ok(
        &c,
        &s,
        "sales_agent",
        "hr.employee",
        "fields_get",
        json!([]),
        json!({"attributes": ["type"]}),
    )
    .await?;
    assert!(
        meta.get("name").is_some() && meta.get("private_email").is_none(),
        "{meta}"
    );
    let all = ok(
        &c,
        &s,
        "admin",
        "hr.employee",
        "fields_get",
        json!([["private_email"]]),
        json!({}),
    )
    .await?;
    assert_eq!(all["private_email"]["type"], json!("char"));
    Ok(())
}

#[tokio::test]
async fn read_group_sums_and_counts() -> Result<()> {
    let (c, s) = (client()?, sim().await?);
    let groups = ok(
        &c,
        &s,
        "admin",
        "sale.order",
        "read_group",
        json!([[], ["amount_total:sum"], ["state"]]),
        json!({}),
    )
    .await?;
    let total: f64 = groups
        .as_array()
        .context("list")?
        .iter()
        .filter_map(|g| g["amount_total"].as_f64())
        .sum();
    assert_eq!(total, 25_958.5);
    let count: i64 = groups
        .as_array()
        .context("list")?
        .iter()
        .filter_map(|g| g["state_count"].as_i64())
        .sum();
    assert_eq!(count, 23);
    let months = ok(
        &c,
        &s,
        "admin",
        "sale.order",
        "read_group",
        json!([
            [["partner_id", "=", 10]],
            ["amount_total"],
            ["date_order:month"]
        ]),
        json!({"lazy": false}),
    )
    .await?;
    assert_eq!(months[0]["date_order:month"], json!("October 2026"));
    assert_eq!(months[0]["__count"], json!(2));
    assert_eq!(months[0]["amount_total"], json!(2145.0));
    assert_eq!(months[1]["date_order:month"], json!("November 2026"));
    assert_eq!(months[1]["amount_total"], json!(640.0));
    Ok(())
}

#[tokio::test]
async fn failed_requests_change_nothing() -> Result<()> {
    let (c, s) = (client()?, sim().await?);
    let before = ok(
        &c,
        &s,
        "admin",
        "res.partner",
        "search_count",
        json!([[]]),
        json!({}),
    )
    .await?;
    let bad = kw(
        &c,
        &s,
        "admin",
        "res.partner",
        "create",
        json!([[{"name": "First"}, {"name": "Second", "type": "bogus"}]]),
        json!({}),
    )
    .await?;
    assert_eq!(error_name(&bad), "builtins.ValueError");
    assert_eq!(
        ok(
            &c,
            &s,
            "admin",
            "res.partner",
            "search_count",
            json!([[]]),
            json!({})
        )
        .await?,
        before
    );
    let missing = kw(
        &c,
        &s,
        "admin",
        "res.partner",
        "write",
        json!([[10, 9999], {"name": "Renamed"}]),
        json!({}),
    )
    .await?;
    assert_eq!(error_name(&missing), "odoo.exceptions.MissingError");
    let cyc = kw(
        &c,
        &s,
        "admin",
        "res.partner",
        "write",
        json!([[10, 19], {"phone": "1"}]),
        json!({}),
    )
    .await?;
    assert!(cyc.get("result").is_some());
    let loop_err = kw(
        &c,
        &s,
        "admin",
        "res.partner",
        "write",
        json!([[10], {"parent_id": 19, "name": "Changed"}]),
        json!({}),
    )
    .await?;
    assert_eq!(error_name(&loop_err), "odoo.exceptions.ValidationError");
    let row = ok(
        &c,
        &s,
        "admin",
        "res.partner",
        "read",
        json!([[10], ["name", "parent_id"]]),
        json!({}),
    )
    .await?;
    assert_eq!(
        row,
        json!([{"id": 10, "name": "Deco Addict", "parent_id": false}])
    );
    let id = ok(&c, &s, "admin", "sale.order", "create", json!([{"partner_id": 12, "order_line": [[0, 0, {"product_id": 12, "product_uom_qty": 2}]]}]), json!({})).await?;
    let order = ok(
        &c,
        &s,
        "admin",
        "sale.order",
        "read",
        json!([[id], ["amount_total", "state"]]),
        json!({}),
    )
    .await?;
    assert_eq!(order[0]["amount_total"], json!(1500.0));
    assert_eq!(
        ok(
            &c,
            &s,
            "admin",
            "sale.order",
            "unlink",
            json!([[id]]),
            json!({})
        )
        .await?,
        json!(true)
    );
    assert_eq!(
        ok(
            &c,
            &s,
            "admin",
            "sale.order.line",
            "search_count",
            json!([[["order_id", "=", id]]]),
            json!({})
        )
        .await?,
        json!(0)
    );
    Ok(())
}

#[tokio::test]
async fn web_sessions_expire_and_are_destroyed() -> Result<()> {
    let (c, s) = (client()?, sim().await?);
    let auth = c.post(format!("{}/web/session/authenticate", s.url()))
        .json(&json!({"jsonrpc": "2.0", "method": "call", "params": {"db": "odoo", "login": "admin", "password": "admin"}, "id": 1}))
        .send().await?;
    let cookie = auth
        .headers()
        .get("set-cookie")
        .context("cookie")?
        .to_str()?
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Max-Age=604800"),
        "{cookie}"
    );
    let sid = cookie.split(';').next().context("sid")?.to_owned();
    let call = |c: &reqwest::Client, sid: String| {
        let req = c.post(format!("{}/web/dataset/call_kw/res.partner/search_count", s.url()))
            .header("cookie", sid)
            .json(&json!({"jsonrpc": "2.0", "method": "call", "params": {"model": "res.partner", "method": "search_count", "args": [[]], "kwargs": {}}, "id": 2}));
        async move { Ok::<Value, anyhow::Error>(req.send().await?.json().await?) }
    };
    assert!(call(&c, sid.clone()).await?["result"].is_number());
    s.expire_sessions();
    let expired = call(&c, sid.clone()).await?;
    assert_eq!(expired["error"]["code"], json!(100));
    // API keys are not accepted by the web session.
    let key = s.api_key("admin").context("key")?;
    let refused: Value = c.post(format!("{}/web/session/authenticate", s.url()))
        .json(&json!({"jsonrpc": "2.0", "method": "call", "params": {"db": "odoo", "login": "admin", "password": key}, "id": 1}))
        .send().await?.json().await?;
    assert_eq!(error_name(&refused), "odoo.exceptions.AccessDenied");
    Ok(())
}

#[tokio::test]
async fn json2_on_v19() -> Result<()> {
    let c = client()?;
    let s = sim_with(SimOptions {
        version: OdooVersion::V19,
        ..SimOptions::default()
    })
    .await?;
    let key = s.api_key("admin").context("key")?;
    let url = format!("{}/json/2/res.partner/search_read", s.url());
    let body = json!({"domain": [["is_company", "=", true]], "fields": ["name"], "limit": 2, "order": "id", "context": {"lang": "en_US"}});
    let resp = c
        .post(&url)
        .bearer_auth(&key)
        .header("X-Odoo-Database", "odoo")
        .json(&body)
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await?,
        json!([{"id": 1, "name": "YourCompany"}, {"id": 9, "name": "Wood Corner"}])
    );
    let read = c
        .post(format!("{}/json/2/res.partner/read", s.url()))
        .bearer_auth(&key)
        .json(&json!({"ids": [10], "fields": ["name"]}))
        .send()
        .await?;
    assert_eq!(
        read.json::<Value>().await?,
        json!([{"id": 10, "name": "Deco Addict"}])
    );
    assert_eq!(c.post(&url).json(&body).send().await?.status(), 401);
    assert_eq!(
        c.post(&url)
            .bearer_auth("0".repeat(40))
            .json(&body)
            .send()
            .await?
            .status(),
        401
    );
    assert_eq!(
        c.post(&url)
            .bearer_auth("admin")
            .json(&body)
            .send()
            .await?
            .status(),
        401,
        "passwords are refused"
    );
    let unauthorized: Value = c.post(&url).json(&body).send().await?.json().await?;
    assert_eq!(
        unauthorized["name"],
        json!("werkzeug.exceptions.Unauthorized")
    );
    for path in [
        "x.no.model/search",
        "res.partner/no_such_method",
        "res.partner/_read_group",
    ] {
        let r = c
            .post(format!("{}/json/2/{path}", s.url()))
            .bearer_auth(&key)
            .json(&json!({}))
            .send()
            .await?;
        assert_eq!(r.status(), 404, "{path}");
    }
    assert_eq!(c.get(&url).bearer_auth(&key).send().await?.status(), 405);
    let unknown = c
        .post(&url)
        .bearer_auth(&key)
        .json(&json!({"bogus": 1}))
        .send()
        .await?;
    assert_eq!(unknown.status(), 422);
    let denied = c
        .post(format!("{}/json/2/res.partner/create", s.url()))
        .bearer_auth(s.api_key("readonly_bot").context("key")?)
        .json(&json!({"vals_list": [{"name": "x"}]}))
        .send()
        .await?;
    assert_eq!(denied.status(), 403);
    let v18 = sim().await?;
    let r = c
        .post(format!("{}/json/2/res.partner/search_read", v18.url()))
        .bearer_auth(v18.api_key("admin").context("key")?)
        .json(&json!({}))
        .send()
        .await?;
    assert_eq!(r.status(), 404);
    Ok(())
}

#[tokio::test]
async fn faults_and_latency_are_observable() -> Result<()> {
    let (c, s) = (client()?, sim().await?);
    let version = || {
        c.post(format!("{}/jsonrpc", s.url())).json(&json!({"jsonrpc": "2.0", "method": "call", "params": {"service": "common", "method": "version", "args": []}, "id": 1}))
    };
    s.set_fault(Fault::Delay(Duration::from_millis(600)));
    let t = Instant::now();
    assert_eq!(version().send().await?.status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(600));
    s.set_fault(Fault::DropConnection);
    assert!(
        version().send().await.is_err(),
        "the connection is closed without an answer"
    );
    s.set_fault(Fault::Http500);
    let r = version().send().await?;
    assert_eq!(r.status(), 500);
    assert!(
        r.headers()["content-type"]
            .to_str()?
            .starts_with("text/html")
    );
    s.set_fault(Fault::Garbage);
    let r = version().send().await?;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()?
            .starts_with("application/json")
    );
    assert!(serde_json::from_str::<Value>(&r.text().await?).is_err());
    s.set_fault(Fault::None);
    s.set_latency(Duration::from_millis(300));
    let t = Instant::now();
    assert_eq!(version().send().await?.status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    s.set_latency(Duration::ZERO);
    let before = s.request_count();
    version().send().await?;
    assert_eq!(s.request_count(), before + 1);
    Ok(())
}

#[tokio::test]
async fn oversized_bodies_are_refused_and_shutdown_closes() -> Result<()> {
    let (c, s) = (client()?, sim().await?);
    let big = vec![b' '; 16 * 1024 * 1024 + 1];
    let r = c
        .post(format!("{}/jsonrpc", s.url()))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await?;
    assert_eq!(r.status(), 413);
    let url = s.url();
    s.shutdown().await;
    assert!(
        c.get(format!("{url}/web/database/list"))
            .send()
            .await
            .is_err()
    );
    Ok(())
}
