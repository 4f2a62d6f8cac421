//! `odoo-warden config check`: validate a configuration and its key store, and warn about
//! risky settings; `--online` also logs in to Odoo as every identity.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::{Map, Value, json};
use warden_config::Config;
use warden_config::{ADMIN_UIDS, ADMIN_WHY, admin_warning};

use crate::common::{self, EXIT_FAIL, EXIT_OK, EXIT_WARNINGS};

/// Options of `config check`.
#[derive(Debug, Args)]
#[command(after_help = "\
Prints one line per warning: risky policy settings (keys without expiry or about to expire,
unused profiles, profiles allowing every model), data-changing tools on for keys that no IP
rule restricts, profiles bound to an Odoo administrator, TLS verification off, plain http.
With --online, every identity logs in to Odoo; failures are reported, and identities in the
Settings/Administration group (base.group_system) are flagged. Audit settings that weaken the
record are flagged too: the audit log off, a sink that drops events, no seal key, a webhook over
plain http, and profiles that record field values. For odoo-warden-http: plain HTTP on a
non-loopback address with no trusted proxy in front, a trusted proxy range covering everything,
browser origins over plain http, an OAuth leeway over five minutes.

With --json, one object on stdout: {\"config\", \"valid\": true, \"warnings\": [...], \"errors\":
[...], \"notes\": [...]} (an invalid configuration is still one line on stderr and exit 64).

Exit status: 0 valid and no warnings, 2 valid with warnings, 64 invalid (one line per error),
1 an identity cannot log in (--online).

Examples:
  odoo-warden config check --config /etc/odoo-warden/warden.toml --online
  odoo-warden config check --config warden.toml --json | jq -r '.warnings[]'")]
pub(crate) struct CheckArgs {
    /// The configuration file.
    #[arg(long, env = "WARDEN_CONFIG", value_name = "PATH")]
    config: PathBuf,
    /// Also log in to Odoo as every identity and check its groups.
    #[arg(long)]
    online: bool,
    /// One JSON object on stdout (`valid`, `warnings`, `errors`, `notes`) instead of lines.
    #[arg(long)]
    json: bool,
}

/// Runs `config check`.
pub(crate) fn run(args: &CheckArgs) -> Result<u8> {
    let config = common::load_config(&args.config)?;
    let now = SystemTime::now();
    let risks = warden_config::risks(&config, now);
    let mut warnings = risks.warnings;
    let admins = warden_config::admin_identities(&config);
    let mut failures = Vec::new();
    let mut notes = risks.notes;
    if args.online {
        let flagged: BTreeSet<&str> = admins.iter().map(|(name, _)| name.as_str()).collect();
        online(&config, &flagged, &mut warnings, &mut failures, &mut notes)?;
    }

    let status = if !failures.is_empty() {
        EXIT_FAIL
    } else if warnings.is_empty() {
        EXIT_OK
    } else {
        EXIT_WARNINGS
    };
    if args.json {
        let report = json!({
            "config": args.config.display().to_string(),
            "valid": true,
            "warnings": warnings,
            "errors": failures,
            "notes": notes,
        });
        common::out(&format!("{report}\n"))?;
        return Ok(status);
    }
    let mut text = String::new();
    for warning in &warnings {
        text.push_str("warning: ");
        text.push_str(warning);
        text.push('\n');
    }
    for failure in &failures {
        text.push_str("error: ");
        text.push_str(failure);
        text.push('\n');
    }
    common::out(&text)?;
    let mut summary = String::new();
    for note in &notes {
        summary.push_str("note: ");
        summary.push_str(note);
        summary.push('\n');
    }
    summary.push_str(&format!(
        "{}: valid; {} warning(s){}\n",
        args.config.display(),
        warnings.len(),
        if args.online {
            format!(", {} identity login failure(s)", failures.len())
        } else {
            String::new()
        }
    ));
    common::note(&summary);
    Ok(status)
}

/// With Odoo's metadata, what each profile's rules reach beyond what they name: the fields
/// hidden because Odoo derives them from a denied one (notes), and the one2many relations of a
/// model with a records domain into models without one (warnings: the domain does not cover
/// them, e.g. an order's lines).
async fn reach(config: &Config, warnings: &mut Vec<String>, notes: &mut Vec<String>) -> Result<()> {
    let mut catalogs = std::collections::BTreeMap::new();
    for (name, odoo) in &config.identities {
        let client = warden_odoo::OdooClient::new(odoo.clone())
            .with_context(|| format!("odoo.identities.{name}"))?;
        catalogs.insert(
            name.clone(),
            warden_gateway::catalog::Catalog::new(client, config.tools.clone()),
        );
    }
    for profile in config.policy.profiles() {
        let name = profile.name();
        let Some(identity) = catalogs.get(profile.identity()) else {
            continue;
        };
        let catalog =
            warden_gateway::runtime::profile_catalog(identity, std::sync::Arc::clone(profile));
        for model in profile.rule_models() {
            if !profile.model_visible(&model) {
                continue;
            }
            match catalog.hidden_fields(&model).await {
                Ok(hidden) => {
                    let mut by_origin: std::collections::BTreeMap<String, Vec<String>> =
                        std::collections::BTreeMap::new();
                    for (field, why) in hidden {
                        if let Some(origin) = why.strip_prefix("derived from ") {
                            by_origin.entry(origin.to_owned()).or_default().push(field);
                        }
                    }
                    for (origin, fields) in by_origin {
                        notes.push(format!(
                            "profile \"{name}\": {model}: {} hidden too, derived from {origin} (keep one with fields.read.allow_derived)",
                            fields.join(", ")
                        ));
                    }
                }
                Err(e) => notes.push(format!(
                    "profile \"{name}\": could not read the fields of {model} ({e})"
                )),
            }
            if profile.records_domain(&model).is_some()
                && let Ok(children) = catalog.unscoped_children(&model).await
            {
                for (field, comodel) in children {
                    warnings.push(format!(
                        "profile \"{name}\": the records domain on {model} does not cover {comodel} (through {model}.{field}): its records stay readable, including those of {model} records outside the domain; give {comodel} a records domain of its own, or hide it"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Logs in as every identity; flags administrators Odoo reports.
fn online(
    config: &Config,
    flagged: &BTreeSet<&str>,
    warnings: &mut Vec<String>,
    failures: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async {
        for (name, odoo) in &config.identities {
            let client = warden_odoo::OdooClient::new(odoo.clone())
                .with_context(|| format!("odoo.identities.{name}"))?;
            let uid = match client.authenticate().await {
                Ok(uid) => uid,
                Err(e) => {
                    failures.push(format!(
                        "identity \"{name}\" (login \"{}\") cannot log in to Odoo: {e}",
                        odoo.login
                    ));
                    continue;
                }
            };
            if flagged.contains(name.as_str()) {
                continue;
            }
            if ADMIN_UIDS.contains(&uid) {
                warnings.push(admin_warning(config, name, &odoo.login, ADMIN_WHY));
                continue;
            }
            let in_group = client
                .call_method(
                    "res.users",
                    "has_group",
                    &[uid],
                    vec![json!("base.group_system")],
                    Map::new(),
                )
                .await;
            match in_group {
                Ok(Value::Bool(true)) => warnings.push(admin_warning(
                    config,
                    name,
                    &odoo.login,
                    "is in Odoo's Settings/Administration group (base.group_system)",
                )),
                Ok(_) => {}
                Err(e) => notes.push(format!(
                    "identity \"{name}\": could not tell whether it is in the Settings/Administration \
                     group (res.users has_group: {e}); check its groups in Odoo"
                )),
            }
        }
        if failures.is_empty() {
            reach(config, warnings, notes).await?;
        }
        Ok(())
    })
}
