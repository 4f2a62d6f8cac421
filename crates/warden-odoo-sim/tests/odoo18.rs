//! Odoo 18 behaviours the simulator models because the gateway's security depends on them, each
//! checked against the kit's real server (see `crates/warden-odoo/tests/fidelity.rs`): who may
//! read `ir.model`, `get_available_models`, `name_search`'s signature, the name search of
//! relational criteria, derived fields and their metadata, x2many commands, `any`/`not any`,
//! missing records, the sales agent's own documents and `hr.employee` without an HR group.

use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{Value, json};
use warden_odoo_sim::{OdooVersion, SimHandle, SimOptions, serve};

async fn sim_with(version: OdooVersion) -> Result<SimHandle> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    Ok(serve(
        listener,
        SimOptions {
            version,
            ..SimOptions::default()
        },
    )
    .await?)
}

async fn sim() -> Result<SimHandle> {
    sim_with(OdooVersion::V18).await
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

/// One `execute_kw` over /jsonrpc.
struct Odoo {
    c: reqwest::Client,
    s: SimHandle,
}

impl Odoo {
    async fn new() -> Result<Odoo> {
        Ok(Odoo {
            c: client()?,
            s: sim().await?,
        })
    }

    /// The whole JSON-RPC answer.
    async fn kw(
        &self,
        login: &str,
        model: &str,
        method: &str,
        args: Value,
        kwargs: Value,
    ) -> Result<Value> {
        let body = json!({"jsonrpc": "2.0", "method": "call", "params": {"service": "object", "method": "execute_kw",
            "args": [self.s.database(), uid(login), login, model, method, args, kwargs]}, "id": 1});
        Ok(self
            .c
            .post(format!("{}/jsonrpc", self.s.url()))
            .json(&body)
            .send()
            .await?
            .json()
            .await?)
    }

    async fn ok(
        &self,
        login: &str,
        model: &str,
        method: &str,
        args: Value,
        kwargs: Value,
    ) -> Result<Value> {
        let resp = self.kw(login, model, method, args, kwargs).await?;
        resp.get("result")
            .cloned()
            .with_context(|| format!("no result: {resp}"))
    }

    /// `(exception class, message)` of a failed call.
    async fn err(
        &self,
        login: &str,
        model: &str,
        method: &str,
        args: Value,
        kwargs: Value,
    ) -> Result<(String, String)> {
        let resp = self.kw(login, model, method, args, kwargs).await?;
        let data = &resp["error"]["data"];
        Ok((
            data["name"]
                .as_str()
                .with_context(|| format!("no error: {resp}"))?
                .to_owned(),
            data["message"].as_str().unwrap_or("").to_owned(),
        ))
    }

    async fn count(&self, login: &str, model: &str, domain: Value) -> Result<Value> {
        self.ok(login, model, "search_count", json!([domain]), json!({}))
            .await
    }

    async fn ids(&self, login: &str, model: &str, domain: Value) -> Result<Value> {
        self.ok(
            login,
            model,
            "search",
            json!([domain]),
            json!({"order": "id"}),
        )
        .await
    }

    /// One `execute_kw` over /xmlrpc/2/object: the raw XML answer.
    async fn xml(
        &self,
        login: &str,
        model: &str,
        method: &str,
        args: Value,
        kwargs: Value,
    ) -> Result<String> {
        let params = [
            json!(self.s.database()),
            json!(uid(login)),
            json!(login),
            json!(model),
            json!(method),
            args,
            kwargs,
        ];
        let mut body = String::from(
            "<?xml version='1.0'?>\n<methodCall>\n<methodName>execute_kw</methodName>\n<params>\n",
        );
        for p in &params {
            body.push_str("<param>\n");
            body.push_str(&xml_value(p));
            body.push_str("</param>\n");
        }
        body.push_str("</params>\n</methodCall>\n");
        Ok(self
            .c
            .post(format!("{}/xmlrpc/2/object", self.s.url()))
            .header("content-type", "text/xml")
            .body(body)
            .send()
            .await?
            .text()
            .await?)
    }
}

fn xml_value(v: &Value) -> String {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let inner = match v {
        Value::Null => "<nil/>".to_owned(),
        Value::Bool(b) => format!("<boolean>{}</boolean>", u8::from(*b)),
        Value::Number(n) if n.is_i64() => format!("<int>{n}</int>"),
        Value::Number(n) => format!("<double>{n}</double>"),
        Value::String(s) => format!("<string>{}</string>", escape(s)),
        Value::Array(items) => format!(
            "<array><data>\n{}</data></array>",
            items.iter().map(xml_value).collect::<String>()
        ),
        Value::Object(map) => format!(
            "<struct>\n{}</struct>",
            map.iter()
                .map(|(k, v)| format!(
                    "<member>\n<name>{}</name>\n{}</member>\n",
                    escape(k),
                    xml_value(v)
                ))
                .collect::<String>()
        ),
    };
    format!("<value>{inner}</value>\n")
}

/// The faultCode of an XML-RPC answer, if it is a fault.
fn fault_code(xml: &str) -> Option<i64> {
    let after = xml.split("<name>faultCode</name>").nth(1)?;
    let start = after.find("<int>")? + 5;
    let end = after[start..].find("</int>")? + start;
    after[start..end].parse().ok()
}

const ACCESS: &str = "odoo.exceptions.AccessError";

#[tokio::test]
async fn only_administrators_read_ir_model_and_its_fields() -> Result<()> {
    let o = Odoo::new().await?;
    let models = "You are not allowed to access 'Models' (ir.model) records.\n\nThis operation is allowed for the following groups:\n\t- Administration/Access Rights\n\nContact your administrator to request access if necessary.";
    let fields = "You are not allowed to access 'Fields' (ir.model.fields) records.\n\nThis operation is allowed for the following groups:\n\t- Administration/Access Rights\n\nContact your administrator to request access if necessary.";
    for login in ["sales_agent", "readonly_bot"] {
        for (method, args, kwargs) in [
            ("search_read", json!([[]]), json!({"fields": ["model"]})),
            ("search_count", json!([[]]), json!({})),
            ("read", json!([[87]]), json!({"fields": ["model"]})),
        ] {
            let (name, message) = o
                .err(login, "ir.model", method, args.clone(), kwargs.clone())
                .await?;
            assert_eq!(
                (name.as_str(), message.as_str()),
                (ACCESS, models),
                "{login} {method}"
            );
            let (name, message) = o
                .err(login, "ir.model.fields", method, args, kwargs)
                .await?;
            assert_eq!(
                (name.as_str(), message.as_str()),
                (ACCESS, fields),
                "{login} {method}"
            );
        }
        let xml = o
            .xml(login, "ir.model", "search_count", json!([[]]), json!({}))
            .await?;
        assert_eq!(fault_code(&xml), Some(4));
    }
    assert_eq!(
        o.count("admin", "ir.model", json!([["model", "=", "res.partner"]]))
            .await?,
        json!(1)
    );
    let rows = o
        .ok(
            "admin",
            "ir.model.fields",
            "search_read",
            json!([[["model", "=", "res.users"], ["name", "=", "email"]]]),
            json!({"fields": ["ttype", "related", "store"]}),
        )
        .await?;
    assert_eq!(rows[0]["related"], json!("partner_id.email"));
    assert_eq!(rows[0]["store"], json!(false));
    // fields_get stays open to whoever reads the model.
    let meta = o
        .ok(
            "readonly_bot",
            "res.partner",
            "fields_get",
            json!([["email"]]),
            json!({"attributes": ["type"]}),
        )
        .await?;
    assert_eq!(meta, json!({"email": {"type": "char"}}));
    Ok(())
}

#[tokio::test]
async fn available_models_follow_read_access() -> Result<()> {
    let o = Odoo::new().await?;
    let models = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m["model"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let sales = models(
        &o.ok(
            "sales_agent",
            "ir.model",
            "get_available_models",
            json!([]),
            json!({}),
        )
        .await?,
    );
    for m in [
        "res.partner",
        "sale.order",
        "sale.order.line",
        "crm.lead",
        "hr.employee.public",
        "hr.department",
    ] {
        assert!(sales.iter().any(|x| x == m), "{m} in {sales:?}");
    }
    for m in [
        "hr.employee",
        "ir.model",
        "ir.model.fields",
        "ir.config_parameter",
    ] {
        assert!(!sales.iter().any(|x| x == m), "{m} not in {sales:?}");
    }
    let readonly = models(
        &o.ok(
            "readonly_bot",
            "ir.model",
            "get_available_models",
            json!([]),
            json!({}),
        )
        .await?,
    );
    assert!(readonly.iter().any(|x| x == "res.partner"));
    assert!(
        !readonly
            .iter()
            .any(|x| x == "sale.order" || x == "crm.lead" || x == "hr.employee")
    );
    let admin = models(
        &o.ok(
            "admin",
            "ir.model",
            "get_available_models",
            json!([]),
            json!({}),
        )
        .await?,
    );
    assert!(admin.iter().any(|x| x == "hr.employee") && admin.iter().any(|x| x == "ir.model"));
    let first = &o
        .ok(
            "admin",
            "ir.model",
            "get_available_models",
            json!([]),
            json!({}),
        )
        .await?[0];
    let mut keys: Vec<&String> = first.as_object().context("a dict")?.keys().collect();
    keys.sort();
    assert_eq!(keys, ["display_name", "model"]);
    let named = o
        .ok(
            "sales_agent",
            "ir.model",
            "display_name_for",
            json!([[
                "res.partner",
                "hr.employee",
                "hr.employee.public",
                "sale.order",
                "no.such"
            ]]),
            json!({}),
        )
        .await?;
    assert_eq!(
        named,
        json!([
            {"display_name": "Contact", "model": "res.partner"},
            {"display_name": "Public Employee", "model": "hr.employee.public"},
            {"display_name": "Sales Order", "model": "sale.order"},
            {"display_name": "hr.employee", "model": "hr.employee"},
            {"display_name": "no.such", "model": "no.such"}
        ])
    );
    Ok(())
}

#[tokio::test]
async fn name_search_takes_args_on_18_and_domain_on_19() -> Result<()> {
    let o = Odoo::new().await?;
    let deco = json!([[10, "Deco Addict"]]);
    let companies = json!([["is_company", "=", true]]);
    assert_eq!(
        o.ok(
            "admin",
            "res.partner",
            "name_search",
            json!(["Deco", companies]),
            json!({})
        )
        .await?,
        deco
    );
    assert_eq!(
        o.ok(
            "admin",
            "res.partner",
            "name_search",
            json!([]),
            json!({"name": "Deco", "args": companies})
        )
        .await?,
        deco
    );
    let (name, message) = o
        .err(
            "admin",
            "res.partner",
            "name_search",
            json!([]),
            json!({"name": "Deco", "domain": companies}),
        )
        .await?;
    assert_eq!(name, "builtins.TypeError");
    assert_eq!(
        message,
        "BaseModel.name_search() got an unexpected keyword argument 'domain'"
    );
    let xml = o
        .xml(
            "admin",
            "res.partner",
            "name_search",
            json!([]),
            json!({"name": "Deco", "domain": companies}),
        )
        .await?;
    assert_eq!(fault_code(&xml), Some(1));
    assert!(xml.contains("TypeError: BaseModel.name_search() got an unexpected keyword argument &#x27;domain&#x27;") || xml.contains("TypeError: BaseModel.name_search() got an unexpected keyword argument 'domain'"), "{xml}");
    assert_eq!(
        o.ok(
            "admin",
            "res.partner",
            "name_search",
            json!(["Deco Addict", [], "=", 5]),
            json!({})
        )
        .await?,
        deco
    );

    let v19 = Odoo {
        c: client()?,
        s: sim_with(OdooVersion::V19).await?,
    };
    assert_eq!(
        v19.ok(
            "admin",
            "res.partner",
            "name_search",
            json!([]),
            json!({"name": "Deco", "domain": companies})
        )
        .await?,
        deco
    );
    assert_eq!(
        v19.ok(
            "admin",
            "res.partner",
            "name_search",
            json!(["Deco", companies]),
            json!({})
        )
        .await?,
        deco
    );
    let (name, message) = v19
        .err(
            "admin",
            "res.partner",
            "name_search",
            json!([]),
            json!({"name": "Deco", "args": companies}),
        )
        .await?;
    assert_eq!(name, "builtins.TypeError");
    assert_eq!(
        message,
        "BaseModel.name_search() got an unexpected keyword argument 'args'"
    );
    let key = v19.s.api_key("admin").context("key")?;
    let json2: Value = v19
        .c
        .post(format!("{}/json/2/res.partner/name_search", v19.s.url()))
        .bearer_auth(key)
        .json(&json!({"name": "Deco", "domain": companies}))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(json2, deco);
    Ok(())
}

#[tokio::test]
async fn strings_on_relational_fields_go_through_the_comodel_name_search() -> Result<()> {
    let o = Odoo::new().await?;
    let orders = |d: Value| o.ids("admin", "sale.order", d);
    // res.partner matches complete_name, email, ref, vat and company_registry.
    assert_eq!(
        orders(json!([["partner_id", "ilike", "deco"]])).await?,
        json!([1, 5, 21])
    );
    assert_eq!(
        orders(json!([["partner_id", "ilike", "info@agrolait"]])).await?,
        json!([1, 5, 21])
    );
    assert_eq!(
        orders(json!([["partner_id", "ilike", "US12345673"]])).await?,
        json!([1, 5, 21])
    );
    assert_eq!(
        orders(json!([["partner_id", "=", "Deco Addict"]])).await?,
        json!([1, 5, 21])
    );
    assert_eq!(
        orders(json!([["partner_id", "=", "deco addict"]])).await?,
        json!([])
    );
    assert_eq!(
        orders(json!([["partner_id", "in", ["Deco Addict", "Lumber Inc"]]])).await?,
        json!([1, 5, 6, 21])
    );
    assert_eq!(
        orders(json!([["partner_id", "ilike", "Joel"]])).await?,
        json!([19, 20])
    );
    assert_eq!(
        orders(json!([["partner_id", "not ilike", "gemini"]])).await?,
        json!([1, 2, 3, 5, 6, 19, 20, 21, 23])
    );
    assert_eq!(
        orders(json!([["partner_id", "!=", "Gemini Furniture"]])).await?,
        json!([1, 2, 3, 5, 6, 19, 20, 21, 23])
    );
    assert_eq!(
        orders(json!([["partner_id", "child_of", "Deco"]])).await?,
        json!([1, 5, 21])
    );
    let partners = |d: Value| o.ids("admin", "res.partner", d);
    assert_eq!(
        partners(json!([["parent_id", "child_of", "Deco Addict"]])).await?,
        json!([10, 19, 20, 36])
    );
    assert_eq!(
        partners(json!([["parent_id", "parent_of", "Douglas"]])).await?,
        json!([10, 16, 19, 35]),
        "Douglas Fletcher, Lorraine Douglas and their companies"
    );
    assert_eq!(
        partners(json!([[
            "display_name",
            "=",
            "Deco Addict, Douglas Fletcher"
        ]]))
        .await?,
        json!([19])
    );
    // A like on tags includes their children.
    assert_eq!(
        partners(json!([["category_id", "ilike", "vendor"]])).await?,
        json!([9, 10, 11, 12])
    );
    assert_eq!(
        partners(json!([["child_ids", "ilike", "Douglas"]])).await?,
        json!([10, 16])
    );
    // A negative operator keeps the records without a value.
    let demo = json!(["id", "<=", 61]);
    assert_eq!(
        o.count(
            "admin",
            "res.partner",
            json!([["parent_id", "!=", 10], demo])
        )
        .await?,
        json!(54)
    );
    // product.product matches default_code, barcode and name.
    assert_eq!(
        o.ok(
            "admin",
            "product.product",
            "name_search",
            json!(["2300001000008"]),
            json!({})
        )
        .await?,
        json!([[40, "[FURN_0001] Desk Organizer"]])
    );
    assert_eq!(
        o.ids(
            "admin",
            "sale.order.line",
            json!([["product_id", "=", "[FURN_7777] Office Chair"]])
        )
        .await?,
        json!([3, 7, 11, 17, 42, 46])
    );
    // res.users matches the login exactly, then the name.
    assert_eq!(
        o.count("admin", "crm.lead", json!([["user_id", "=", "admin"]]))
            .await?,
        json!(18)
    );
    Ok(())
}

#[tokio::test]
async fn derived_fields_carry_odoo_metadata() -> Result<()> {
    let o = Odoo::new().await?;
    let meta = o
        .ok(
            "admin",
            "res.partner",
            "fields_get",
            json!([[
                "email_formatted",
                "email_normalized",
                "phone_mobile_search",
                "display_name",
                "phone_sanitized"
            ]]),
            json!({"attributes": ["store", "searchable", "depends", "related"]}),
        )
        .await?;
    assert_eq!(
        meta,
        json!({
            "display_name": {"depends": ["complete_name", "email", "vat", "state_id", "country_id", "commercial_company_name", "name"], "searchable": true, "store": false},
            "email_normalized": {"depends": ["email"], "searchable": true, "store": true},
            "email_formatted": {"depends": ["name", "email"], "searchable": false, "store": false},
            "phone_sanitized": {"depends": ["country_id", "mobile", "phone"], "searchable": true, "store": true},
            "phone_mobile_search": {"depends": [], "searchable": true, "store": false}
        })
    );
    let all = o
        .ok(
            "admin",
            "res.users",
            "fields_get",
            json!([["email"]]),
            json!({}),
        )
        .await?;
    assert_eq!(all["email"]["related"], json!("partner_id.email"));
    assert_eq!(all["email"]["depends"], json!(["partner_id.email"]));
    let line = o
        .ok(
            "admin",
            "sale.order.line",
            "fields_get",
            json!([["order_partner_id"]]),
            json!({"attributes": ["related", "store"]}),
        )
        .await?;
    assert_eq!(
        line,
        json!({"order_partner_id": {"related": "order_id.partner_id", "store": true}})
    );
    let rows = o
        .ok("admin", "res.partner", "read", json!([[13]]), json!({"fields": ["email_normalized", "email_formatted", "phone_sanitized", "commercial_partner_id"]}))
        .await?;
    assert_eq!(
        rows,
        json!([{"id": 13, "email_normalized": "eriknfrench@armyspy.com", "email_formatted": "\"OpenWood\" <eriknfrench@armyspy.com>", "phone_sanitized": "+32 987 65 43 21", "commercial_partner_id": [13, "OpenWood"]}])
    );
    assert_eq!(
        o.ids(
            "admin",
            "res.partner",
            json!([["phone_mobile_search", "ilike", "672"]])
        )
        .await?,
        json!([24, 30, 53])
    );
    let (name, _) = o
        .err(
            "admin",
            "res.partner",
            "search",
            json!([[["phone_mobile_search", "ilike", "67"]]]),
            json!({}),
        )
        .await?;
    assert_eq!(name, "odoo.exceptions.UserError");
    // An unsearchable field is ignored, as Odoo does.
    assert_eq!(
        o.count(
            "admin",
            "res.partner",
            json!([["email_formatted", "ilike", "zzz"], ["id", "<=", 61]])
        )
        .await?,
        json!(57)
    );
    let products = o
        .ok(
            "admin",
            "product.product",
            "read",
            json!([[12, 40]]),
            json!({"fields": ["name", "display_name", "barcode", "product_tmpl_id"]}),
        )
        .await?;
    assert_eq!(
        products,
        json!([
            {"id": 12, "name": "Customizable Desk", "display_name": "[FURN_0096] Customizable Desk (Steel, White)", "barcode": false, "product_tmpl_id": [9, "Customizable Desk"]},
            {"id": 40, "name": "Desk Organizer", "display_name": "[FURN_0001] Desk Organizer", "barcode": "2300001000008", "product_tmpl_id": [31, "[FURN_0001] Desk Organizer"]}
        ])
    );
    // A related field is written through its path.
    o.ok(
        "admin",
        "res.users",
        "write",
        json!([[9], {"email": "bot@example.com"}]),
        json!({}),
    )
    .await?;
    let partner = o
        .ok(
            "admin",
            "res.partner",
            "read",
            json!([[61]]),
            json!({"fields": ["email"]}),
        )
        .await?;
    assert_eq!(partner[0]["email"], json!("bot@example.com"));
    Ok(())
}

#[tokio::test]
async fn x2many_commands_apply_with_the_comodel_rights_and_roll_back() -> Result<()> {
    let o = Odoo::new().await?;
    let p = o
        .ok("admin", "res.partner", "create", json!([{"name": "Cmd Co", "is_company": true, "child_ids": [[0, 0, {"name": "Kid A"}], [0, 0, {"name": "Kid B"}]], "category_id": [[6, 0, [2, 4]]]}]), json!({}))
        .await?;
    let rec = o
        .ok(
            "admin",
            "res.partner",
            "read",
            json!([[p]]),
            json!({"fields": ["child_ids", "category_id"]}),
        )
        .await?;
    let kids = rec[0]["child_ids"].as_array().context("ids")?.clone();
    assert_eq!(kids.len(), 2);
    assert_eq!(
        rec[0]["category_id"],
        json!([4, 2]),
        "tags in their order (by name)"
    );
    // (3, id) on a partner's children clears the parent; the child stays.
    o.ok(
        "admin",
        "res.partner",
        "write",
        json!([[p], {"child_ids": [[3, kids[0]]]}]),
        json!({}),
    )
    .await?;
    assert_eq!(
        o.count("admin", "res.partner", json!([["id", "in", kids]]))
            .await?,
        json!(2)
    );
    assert_eq!(
        o.count("admin", "res.partner", json!([["parent_id", "=", p]]))
            .await?,
        json!(1)
    );
    o.ok(
        "admin",
        "res.partner",
        "write",
        json!([[p], {"child_ids": [[4, kids[0]], [1, kids[1], {"name": "Kid B2"}]]}]),
        json!({}),
    )
    .await?;
    assert_eq!(
        o.count("admin", "res.partner", json!([["parent_id", "=", p]]))
            .await?,
        json!(2)
    );
    o.ok(
        "admin",
        "res.partner",
        "write",
        json!([[p], {"child_ids": [[2, kids[1]]]}]),
        json!({}),
    )
    .await?;
    assert_eq!(
        o.count("admin", "res.partner", json!([["id", "in", kids]]))
            .await?,
        json!(1)
    );
    o.ok(
        "admin",
        "res.partner",
        "write",
        json!([[p], {"child_ids": [[5]], "category_id": [[3, 2], [4, 1]]}]),
        json!({}),
    )
    .await?;
    assert_eq!(
        o.count("admin", "res.partner", json!([["parent_id", "=", p]]))
            .await?,
        json!(0)
    );
    let tags = o
        .ok(
            "admin",
            "res.partner",
            "read",
            json!([[p]]),
            json!({"fields": ["category_id"]}),
        )
        .await?;
    assert_eq!(tags[0]["category_id"], json!([4, 1]));
    // (2, id) on a many2many deletes the record.
    o.ok(
        "admin",
        "res.partner",
        "write",
        json!([[p], {"category_id": [[0, 0, {"name": "Cmd Tag"}]]}]),
        json!({}),
    )
    .await?;
    let tag = o
        .ids(
            "admin",
            "res.partner.category",
            json!([["name", "=", "Cmd Tag"]]),
        )
        .await?;
    o.ok(
        "admin",
        "res.partner",
        "write",
        json!([[p], {"category_id": [[2, tag[0]]]}]),
        json!({}),
    )
    .await?;
    assert_eq!(
        o.count(
            "admin",
            "res.partner.category",
            json!([["name", "=", "Cmd Tag"]])
        )
        .await?,
        json!(0)
    );
    let (name, _) = o
        .err(
            "admin",
            "res.partner",
            "write",
            json!([[p], {"category_id": [[6, 0, [1, 999_999]]]}]),
            json!({}),
        )
        .await?;
    assert_eq!(name, "odoo.exceptions.ValidationError");
    let (name, message) = o
        .err(
            "admin",
            "res.partner",
            "write",
            json!([[p], {"child_ids": [[1, 999_999, {"name": "x"}]]}]),
            json!({}),
        )
        .await?;
    assert_eq!(name, "odoo.exceptions.MissingError");
    assert_eq!(
        message,
        "Record does not exist or has been deleted.\n(Record: res.partner(999999,), User: 2)"
    );
    // (3, id) on order lines deletes them (the inverse is required); amounts follow.
    let order = o
        .ok("admin", "sale.order", "create", json!([{"partner_id": 10, "order_line": [[0, 0, {"product_id": 5, "product_uom_qty": 2}], [0, 0, {"product_id": 6}]]}]), json!({}))
        .await?;
    let read = o
        .ok(
            "admin",
            "sale.order",
            "read",
            json!([[order]]),
            json!({"fields": ["order_line", "amount_total"]}),
        )
        .await?;
    assert_eq!(read[0]["amount_total"], json!(180.0));
    let lines = read[0]["order_line"].as_array().context("lines")?.clone();
    o.ok(
        "admin",
        "sale.order",
        "write",
        json!([[order], {"order_line": [[3, lines[0]]]}]),
        json!({}),
    )
    .await?;
    assert_eq!(
        o.count("admin", "sale.order.line", json!([["id", "in", lines]]))
            .await?,
        json!(1)
    );
    let read = o
        .ok(
            "admin",
            "sale.order",
            "read",
            json!([[order]]),
            json!({"fields": ["amount_total"]}),
        )
        .await?;
    assert_eq!(read[0]["amount_total"], json!(40.0));
    // The whole call rolls back when one command fails.
    let before = o.count("admin", "sale.order", json!([])).await?;
    let (name, _) = o
        .err("admin", "sale.order", "create", json!([{"partner_id": 10, "order_line": [[0, 0, {"product_id": 5}], [0, 0, {"product_id": 999_999}]]}]), json!({}))
        .await?;
    assert_eq!(name, "odoo.exceptions.MissingError");
    assert_eq!(o.count("admin", "sale.order", json!([])).await?, before);
    // The comodel's rules apply: the sales agent cannot touch another order's line.
    for cmd in [
        json!([1, 1, {"product_uom_qty": 9}]),
        json!([4, 1]),
        json!([2, 1]),
    ] {
        let (name, _) = o
            .err(
                "sales_agent",
                "sale.order",
                "write",
                json!([[21], {"order_line": [cmd]}]),
                json!({}),
            )
            .await?;
        assert_eq!(name, ACCESS, "{cmd}");
    }
    let (name, _) = o
        .err(
            "readonly_bot",
            "res.partner",
            "write",
            json!([[p], {"child_ids": [[0, 0, {"name": "x"}]]}]),
            json!({}),
        )
        .await?;
    assert_eq!(name, ACCESS);
    Ok(())
}

#[tokio::test]
async fn any_and_not_any_on_every_relation() -> Result<()> {
    let o = Odoo::new().await?;
    assert_eq!(
        o.ids(
            "admin",
            "sale.order",
            json!([[
                "partner_id",
                "any",
                [["is_company", "=", true], ["name", "ilike", "deco"]]
            ]])
        )
        .await?,
        json!([1, 5, 21])
    );
    assert_eq!(
        o.count(
            "admin",
            "crm.lead",
            json!([["partner_id", "not any", [["is_company", "=", true]]]])
        )
        .await?,
        json!(27)
    );
    assert_eq!(
        o.ids(
            "admin",
            "sale.order",
            json!([[
                "order_line",
                "any",
                [["product_id.default_code", "=", "E-COM07"]]
            ]])
        )
        .await?,
        json!([21])
    );
    assert_eq!(
        o.ids(
            "admin",
            "sale.order",
            json!([[
                "order_line",
                "not any",
                [["product_id", "in", [5, 6, 32, 25]]]
            ]])
        )
        .await?,
        json!([2, 6, 20, 21, 23])
    );
    assert_eq!(
        o.ids(
            "admin",
            "res.partner",
            json!([["category_id", "any", [["parent_id.name", "=", "Vendor"]]]])
        )
        .await?,
        json!([9, 10, 11, 12])
    );
    assert_eq!(
        o.ids(
            "admin",
            "res.partner",
            json!([[
                "child_ids",
                "any",
                [
                    ["email", "ilike", "fletcher"],
                    ["parent_id", "any", [["is_company", "=", true]]]
                ]
            ]])
        )
        .await?,
        json!([10])
    );
    // Sub-searches keep the caller's record rules.
    assert_eq!(
        o.count(
            "sales_agent",
            "sale.order.line",
            json!([["order_id", "any", [["name", "in", ["S00001", "S00021"]]]]])
        )
        .await?,
        json!(1)
    );
    let (name, _) = o
        .err(
            "admin",
            "res.partner",
            "search_count",
            json!([[["name", "any", [["id", "=", 1]]]]]),
            json!({}),
        )
        .await?;
    assert_eq!(name, "builtins.KeyError");
    Ok(())
}

#[tokio::test]
async fn missing_records_raise_missing_error() -> Result<()> {
    let o = Odoo::new().await?;
    let text =
        "Record does not exist or has been deleted.\n(Record: res.partner(999999,), User: 2)";
    for (method, args) in [
        ("unlink", json!([[999_999]])),
        ("write", json!([[999_999], {"name": "x"}])),
        ("action_archive", json!([[999_999]])),
        ("unlink", json!([[999_999, 10]])),
    ] {
        let (name, message) = o
            .err("admin", "res.partner", method, args.clone(), json!({}))
            .await?;
        assert_eq!(
            (name.as_str(), message.as_str()),
            ("odoo.exceptions.MissingError", text),
            "{method}"
        );
        let xml = o
            .xml("admin", "res.partner", method, args, json!({}))
            .await?;
        assert_eq!(fault_code(&xml), Some(2), "{method}");
    }
    assert_eq!(
        o.count("admin", "res.partner", json!([["id", "=", 10]]))
            .await?,
        json!(1),
        "nothing was deleted"
    );
    let (_, message) = o
        .err(
            "admin",
            "res.partner",
            "unlink",
            json!([[999_998, 999_999]]),
            json!({}),
        )
        .await?;
    assert!(
        message.contains("res.partner(999998,)"),
        "the first missing id: {message}"
    );
    assert_eq!(
        o.ok(
            "admin",
            "res.partner",
            "read",
            json!([[999_999]]),
            json!({"fields": ["name"]})
        )
        .await?,
        json!([])
    );
    let (name, _) = o
        .err(
            "admin",
            "sale.order",
            "action_confirm",
            json!([[999_999]]),
            json!({}),
        )
        .await?;
    assert_eq!(name, "odoo.exceptions.MissingError");
    Ok(())
}

#[tokio::test]
async fn the_sales_agent_owns_the_kit_quotations() -> Result<()> {
    let o = Odoo::new().await?;
    let orders = o
        .ok("sales_agent", "sale.order", "search_read", json!([[]]), json!({"fields": ["name", "partner_id", "state", "amount_total", "order_line"], "order": "id"}))
        .await?;
    assert_eq!(
        orders,
        json!([
            {"id": 21, "name": "S00021", "partner_id": [10, "Deco Addict"], "state": "draft", "amount_total": 640.0, "order_line": [45]},
            {"id": 22, "name": "S00022", "partner_id": [11, "Gemini Furniture"], "state": "draft", "amount_total": 280.0, "order_line": [46]},
            {"id": 23, "name": "S00023", "partner_id": [12, "Ready Mat"], "state": "draft", "amount_total": 158.0, "order_line": [47]}
        ])
    );
    let lines = o
        .ok(
            "sales_agent",
            "sale.order.line",
            "search_read",
            json!([[]]),
            json!({"fields": ["product_id", "product_uom_qty", "price_unit"], "order": "id"}),
        )
        .await?;
    assert_eq!(
        lines,
        json!([
            {"id": 45, "product_id": [17, "[E-COM07] Large Cabinet"], "product_uom_qty": 2.0, "price_unit": 320.0},
            {"id": 46, "product_id": [5, "[FURN_7777] Office Chair"], "product_uom_qty": 4.0, "price_unit": 70.0},
            {"id": 47, "product_id": [18, "[E-COM08] Storage Box"], "product_uom_qty": 10.0, "price_unit": 15.8}
        ])
    );
    assert_eq!(
        o.count("sales_agent", "crm.lead", json!([])).await?,
        json!(13)
    );
    assert_eq!(o.count("admin", "crm.lead", json!([])).await?, json!(39));
    assert_eq!(o.count("admin", "sale.order", json!([])).await?, json!(23));
    let refused = "Uh-oh! Looks like you have stumbled upon some top-secret records.\n\nSorry, Sales Agent (id=8) doesn't have 'read' access to:\n- Sales Order Line (sale.order.line)\n\nIf you really, really need access, perhaps you can win over your friendly administrator with a batch of freshly baked cookies.";
    let (name, message) = o
        .err(
            "sales_agent",
            "sale.order.line",
            "read",
            json!([[1]]),
            json!({"fields": ["name"]}),
        )
        .await?;
    assert_eq!((name.as_str(), message.as_str()), (ACCESS, refused));
    for (model, method, args) in [
        ("sale.order", "read", json!([[1]])),
        ("sale.order", "write", json!([[1], {"note": "x"}])),
        ("crm.lead", "read", json!([[1]])),
        ("sale.order.line", "unlink", json!([[1]])),
        ("sale.order", "unlink", json!([[21]])),
        (
            "sale.order",
            "create",
            json!([{"partner_id": 10, "user_id": 2}]),
        ),
    ] {
        let (name, _) = o.err("sales_agent", model, method, args, json!({})).await?;
        assert_eq!(name, ACCESS, "{model}.{method}");
    }
    Ok(())
}

#[tokio::test]
async fn hr_employee_without_an_hr_group_reads_public_fields_only() -> Result<()> {
    let o = Odoo::new().await?;
    for login in ["sales_agent", "readonly_bot"] {
        assert_eq!(o.count(login, "hr.employee", json!([])).await?, json!(20));
        let rows = o
            .ok(
                login,
                "hr.employee",
                "search_read",
                json!([[]]),
                json!({"fields": ["name", "work_email"], "order": "id", "limit": 2}),
            )
            .await?;
        assert_eq!(
            rows,
            json!([
                {"id": 1, "name": "Mitchell Admin", "work_email": "admin@yourcompany.example.com"},
                {"id": 2, "name": "Jeffrey Kelly", "work_email": "jeffrey.kelly72@example.com"}
            ])
        );
        for kwargs in [
            json!({}),
            json!({"fields": []}),
            json!({"fields": ["name", "image_128"]}),
            json!({"fields": ["avatar_128"]}),
        ] {
            assert_eq!(
                o.ok(
                    login,
                    "hr.employee",
                    "search_read",
                    json!([[]]),
                    kwargs.clone()
                )
                .await?,
                json!([]),
                "{kwargs}"
            );
            assert_eq!(
                o.ok(
                    login,
                    "hr.employee",
                    "read",
                    json!([[1, 2]]),
                    kwargs.clone()
                )
                .await?,
                json!([]),
                "{kwargs}"
            );
        }
        let (name, message) = o
            .err(
                login,
                "hr.employee",
                "search_read",
                json!([[]]),
                json!({"fields": ["name", "private_email"]}),
            )
            .await?;
        assert_eq!(name, ACCESS);
        assert_eq!(
            message,
            format!(
                "You do not have enough rights to access the fields \"private_email\" on Employee (hr.employee). Please contact your system administrator.\n\nOperation: read\nUser: {}\nFields:\n- private_email (allowed for groups 'Employees / Officer: Manage all employees')",
                uid(login)
            )
        );
        let (name, message) = o
            .err(
                login,
                "hr.employee",
                "search",
                json!([[["private_email", "!=", false]]]),
                json!({}),
            )
            .await?;
        assert_eq!(name, "builtins.ValueError");
        assert_eq!(
            message,
            "Invalid field hr.employee.public.private_email in leaf ('private_email', '!=', False)"
        );
        let xml = o
            .xml(
                login,
                "hr.employee",
                "search_read",
                json!([[["private_email", "!=", false]]]),
                json!({"fields": ["name"]}),
            )
            .await?;
        assert_eq!(fault_code(&xml), Some(1));
        let (name, message) = o
            .err(
                login,
                "hr.employee",
                "search_count",
                json!([[["private_email", "!=", false]]]),
                json!({}),
            )
            .await?;
        assert_eq!(
            (name.as_str(), message.as_str()),
            (ACCESS, "You do not have access to this document.")
        );
        let meta = o
            .ok(
                login,
                "hr.employee",
                "fields_get",
                json!([]),
                json!({"attributes": ["type"]}),
            )
            .await?;
        assert!(
            meta.get("work_email").is_some()
                && meta.get("private_email").is_none()
                && meta.get("birthday").is_none(),
            "{meta}"
        );
        let (name, message) = o
            .err(
                login,
                "hr.employee",
                "write",
                json!([[2], {"job_title": "x"}]),
                json!({}),
            )
            .await?;
        assert_eq!(name, ACCESS);
        assert!(
            message.starts_with("You are not allowed to modify 'Employee' (hr.employee) records."),
            "{message}"
        );
        assert_eq!(
            o.ok(
                login,
                "hr.employee",
                "check_access_rights",
                json!(["read", false]),
                json!({})
            )
            .await?,
            json!(false)
        );
    }
    assert_eq!(
        o.ids(
            "sales_agent",
            "hr.employee",
            json!([["department_id.name", "=", "Sales"]])
        )
        .await?,
        json!([2, 8, 9])
    );
    let private = o
        .ok(
            "admin",
            "hr.employee",
            "read",
            json!([[3]]),
            json!({"fields": ["private_email"]}),
        )
        .await?;
    assert_eq!(
        private[0]["private_email"],
        json!("demo@yourcompany.example.com")
    );
    Ok(())
}
