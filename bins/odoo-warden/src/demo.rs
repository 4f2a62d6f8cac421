//! `odoo-warden demo`: starts the Odoo simulator on a free loopback port and the HTTP gateway on
//! loopback, writes their configuration (one Odoo identity, a read-only and a writing profile, a
//! key store with one key, the audit log beside them), and prints the gateway's URL, the key's
//! secret and ready-to-paste client entries (Claude Code, Cursor and VS Code over HTTP; Claude
//! Desktop over stdio). Ctrl-C stops both. The Odoo API key stays in a private file and is never
//! printed.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;
use warden_odoo_sim::SimOptions;
use warden_policy::KeyStoreFile;

use crate::common::{self, EXIT_OK, usage};

/// The profiles a demo key may have.
const PROFILES: &[&str] = &["demo-reader", "demo-writer"];

/// How long the demo key is valid.
const KEY_VALIDITY: Duration = Duration::from_secs(30 * 24 * 3600);

/// Options of `demo`.
#[derive(Debug, Args)]
#[command(after_help = "\
Profiles: demo-reader reads every model but not the e-mail, phone and mobile of contacts;
demo-writer may also create and update contacts and sales orders, each change confirmed by the
person using the agent first.

Example:\n  odoo-warden demo --login sales_agent --profile demo-writer")]
pub(crate) struct DemoArgs {
    /// Demo user the agent acts as in Odoo: admin, sales_agent or readonly_bot.
    #[arg(long, default_value = "sales_agent")]
    login: String,
    /// The profile of the generated key: demo-reader or demo-writer.
    #[arg(long, default_value = "demo-reader")]
    profile: String,
    /// Where to write the generated configuration (default: a new folder in the temp dir).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The loopback address the HTTP gateway listens on (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8765")]
    listen: std::net::SocketAddr,
}

/// The configuration file's text.
fn config_text(
    url: &str,
    database: &str,
    login: &str,
    key_file: &str,
    write: bool,
    listen: std::net::SocketAddr,
) -> String {
    format!(
        r#"# odoo-warden demo configuration: the simulator on loopback.
[odoo]
url = "{url}"
database = "{database}"
protocol = "auto"
timeout_ms = 30000

# The Odoo user every call runs as; its API key is in a private file.
[odoo.identities.demo]
login = "{login}"
api_key_file = "{key_file}"

# The hashes of the keys agents present (`odoo-warden keys create|list|revoke|rotate`).
[keys]
file = "keys.toml"

[tools]
write = {write}

# The HTTP gateway (odoo-warden-http): loopback only.
[http]
bind = "{listen}"

[profiles.demo-reader]
description = "Reads every model, but not the e-mail, phone and mobile of contacts"
identity = "demo"
models = {{ allow = ["*"] }}
operations = {{ allow = ["read"] }}

[profiles.demo-reader.model."res.partner"]
fields = {{ read = {{ deny = ["*email*", "phone", "mobile"] }} }}

[profiles.demo-writer]
description = "demo-reader, plus creating and updating contacts and sales orders, each confirmed first"
extends = ["demo-reader"]
confirm_writes = true

[profiles.demo-writer.model."res.partner"]
operations = {{ allow = ["create", "write"] }}
fields = {{ write = {{ allow = ["name", "parent_id", "type", "is_company", "company_type", "company_name", "function", "street", "city", "zip", "country_id", "website", "ref", "comment", "category_id"] }} }}

[profiles.demo-writer.model."sale.order"]
operations = {{ allow = ["create", "write"] }}
fields = {{ write = {{ allow = ["partner_id", "validity_date", "client_order_ref", "origin", "note", "order_line"] }} }}
"#
    )
}

/// TOML basic-string escaping for a path.
fn toml_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Runs the demo until Ctrl-C or SIGTERM.
#[tokio::main]
pub(crate) async fn run(args: DemoArgs) -> Result<u8> {
    if !args.listen.ip().is_loopback() {
        return Err(usage(format!(
            "--listen: {} is not a loopback address (the demo serves well-known demo data)",
            args.listen
        )));
    }
    if !PROFILES.contains(&args.profile.as_str()) {
        return Err(usage(format!(
            "--profile: unknown demo profile \"{}\" (use {})",
            args.profile,
            PROFILES.join(" or ")
        )));
    }
    // Installed before anything is printed: a supervisor may stop us as soon as it reads the banner.
    let stop = common::shutdown_signal()?;
    let sim = warden_odoo_sim::start(([127, 0, 0, 1], 0).into(), SimOptions::default())
        .await
        .context("cannot start the simulator")?;
    let login = &args.login;
    let api_key = sim.api_key(login).ok_or_else(|| {
        usage(format!(
            "--login: no demo user \"{login}\" (use admin, sales_agent or readonly_bot)"
        ))
    })?;
    let dir = match args.dir {
        Some(dir) => dir,
        None => std::env::temp_dir().join(format!("odoo-warden-demo-{}", sim.addr().port())),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let config_path = dir.join("warden.toml");
    let key_path = dir.join("odoo-api-key");
    let store_path = dir.join("keys.toml");
    common::write_private(&key_path, &api_key)?;

    let mut store = KeyStoreFile::default();
    let (record, secret) = warden_policy::keys::create(
        &mut store,
        "demo",
        &args.profile,
        Some(KEY_VALIDITY),
        SystemTime::now(),
    )?;
    common::write_atomic(&store_path, &store.to_toml())?;
    let config = config_text(
        &sim.url(),
        sim.database(),
        login,
        &toml_escape(&key_path.display().to_string()),
        args.profile == "demo-writer",
        args.listen,
    );
    common::write_private(&config_path, &config)?;
    // The generated files must load as the server will load them.
    common::load_config(&config_path).context("the generated configuration does not load")?;

    let stdio = std::env::current_exe()?.with_file_name("odoo-warden-stdio");
    let entry = json!({
        "mcpServers": {
            "odoo-warden": {
                "command": stdio,
                "args": ["--config", config_path],
                "env": {"WARDEN_KEY": secret},
            }
        }
    });
    let intro = format!(
        "Odoo simulator (Odoo 18 demo data) at {}, database {}\n\
         The agent acts as the Odoo user {login:?}; its Odoo API key is in {}\n\
         Key {} has profile {:?} and expires {}; the key store is {}\n\
         Configuration written to {}\n",
        sim.url(),
        sim.database(),
        key_path.display(),
        record.id,
        args.profile,
        record.expires.as_deref().unwrap_or("never"),
        store_path.display(),
        config_path.display()
    );
    let audit = dir.join("audit");
    let served = warden_transport::http::run_until(
        &config_path,
        std::collections::HashMap::new(),
        |url| {
            let text = banner_text(&intro, url, &secret, &entry, &stdio, &config_path, &audit);
            let _ = common::out(&text);
        },
        stop,
    )
    .await;
    sim.shutdown().await;
    served.map_err(|e| usage(e.to_string()))?;
    Ok(EXIT_OK)
}

/// What the demo prints once the gateway listens: where everything is, the key (only here), and
/// the entries to paste into each client.
fn banner_text(
    intro: &str,
    url: &str,
    secret: &str,
    stdio_entry: &serde_json::Value,
    stdio: &std::path::Path,
    config_path: &std::path::Path,
    audit: &std::path::Path,
) -> String {
    let mut out = String::from(intro);
    let bearer = format!("Bearer {secret}");
    let cursor =
        json!({"mcpServers": {"odoo-warden": {"url": url, "headers": {"Authorization": bearer}}}});
    let vscode = json!({"servers": {"odoo-warden": {"type": "http", "url": url, "headers": {"Authorization": bearer}}}});
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let _ = writeln!(
        out,
        "\nThe gateway listens at {url}. Agents send their key in every request as\n  \
         Authorization: Bearer {secret}\n(the key is shown only here)."
    );
    let _ = writeln!(
        out,
        "\nClaude Code:\n  claude mcp add --transport http odoo-warden {url} --header \"Authorization: {bearer}\""
    );
    let _ = writeln!(out, "\nCursor (~/.cursor/mcp.json):\n{}", pretty(&cursor));
    let _ = writeln!(out, "\nVS Code (.vscode/mcp.json):\n{}", pretty(&vscode));
    let _ = writeln!(
        out,
        "\nClaude Desktop (claude_desktop_config.json; it runs local servers over stdio):\n{}",
        pretty(stdio_entry)
    );
    if !stdio.exists() {
        let _ = writeln!(
            out,
            "(build the stdio server first: cargo build --release --bin odoo-warden-stdio)"
        );
    }
    let _ = writeln!(
        out,
        "\nClaude Code over stdio instead: claude mcp add odoo-warden -e WARDEN_KEY={secret} -- {} --config {}",
        stdio.display(),
        config_path.display()
    );
    let _ = writeln!(
        out,
        "\nEvery request is recorded in {}: watch it with `odoo-warden audit tail {} -f`, check \
         its hash chain with `odoo-warden audit verify {}`.",
        audit.display(),
        audit.display(),
        audit.display()
    );
    let _ = writeln!(out, "\nPress Ctrl-C to stop the gateway and the simulator.");
    out
}
