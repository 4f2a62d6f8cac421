//! Top customers by confirmed sales, with `warden-odoo` on its own (no gateway, no MCP).
//!
//! Run with: `cargo run -p odoo-report -- [URL] [DATABASE] [LOGIN]` and the password or API key in
//! `ODOO_PASSWORD` or `ODOO_API_KEY`. Against the simulator (`cargo run --bin warden-odoo-sim`):
//! `ODOO_PASSWORD=admin cargo run -p odoo-report -- http://127.0.0.1:8069 odoo admin`.
//!
//! The protocol is picked by the client (`auto`): a web session on Odoo 18 with a password,
//! JSON-2 on Odoo 19 with an API key, JSON-RPC otherwise.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use warden_odoo::{Credential, OdooClient, OdooConfig, ReadGroup};

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8069".to_owned());
    let database = args.next().unwrap_or_else(|| "odoo".to_owned());
    let login = args.next().unwrap_or_else(|| "admin".to_owned());
    let credential = match (
        std::env::var("ODOO_API_KEY"),
        std::env::var("ODOO_PASSWORD"),
    ) {
        (Ok(key), _) => Credential::ApiKey(key.into()),
        (_, Ok(password)) => Credential::Password(password.into()),
        _ => bail!("set ODOO_API_KEY or ODOO_PASSWORD"),
    };

    let config = OdooConfig::new(
        url.parse().context("invalid url")?,
        database,
        login,
        credential,
    );
    let odoo = OdooClient::new(config)?;

    let query = ReadGroup {
        limit: Some(10),
        orderby: Some("amount_total desc".to_owned()),
        ..ReadGroup::new(
            json!([["state", "=", "sale"]]),
            vec!["amount_total:sum".to_owned()],
            vec!["partner_id".to_owned()],
        )
    };
    let groups = odoo.read_group("sale.order", &query).await?;

    let version = odoo.version().await?;
    let mut out = format!(
        "Top customers by confirmed sales (Odoo {}, over {}):\n",
        version.server_version,
        odoo.protocol().await?
    );
    for group in &groups {
        // many2one group keys come back as [id, "name"].
        let customer = group
            .get("partner_id")
            .and_then(Value::as_array)
            .and_then(|pair| pair.get(1))
            .and_then(Value::as_str)
            .unwrap_or("(no customer)");
        let total = group
            .get("amount_total")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        let orders = group
            .get("partner_id_count")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        out.push_str(&format!("{total:>12.2}  {customer} ({orders} orders)\n"));
    }
    if groups.is_empty() {
        out.push_str("(no confirmed sales order)\n");
    }
    print(&out);
    Ok(())
}

#[allow(clippy::print_stdout)] // the report is this program's output
fn print(text: &str) {
    print!("{text}");
}
