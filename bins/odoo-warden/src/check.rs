//! `odoo-warden config check`: validate a configuration and its key store, and warn about
//! risky settings; `--online` also logs in to Odoo as every identity.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::{Map, Value, json};
use warden_config::Config;
use warden_policy::Operation;

use crate::common::{self, EXIT_FAIL, EXIT_OK, EXIT_WARNINGS};

/// Logins of Odoo's built-in administrators.
const ADMIN_LOGINS: &[&str] = &["admin", "__system__"];
/// User ids of Odoo's superuser (`__system__`) and first administrator.
const ADMIN_UIDS: &[i64] = &[1, 2];

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
    // A profile reached through `[[http.oauth.map]]` is used, though by no API key.
    let reached: Vec<&str> = config
        .http
        .oauth
        .iter()
        .flat_map(|oauth| {
            oauth
                .mappings
                .iter()
                .map(|(_, _, profile)| profile.as_str())
        })
        .collect();
    let mut warnings = config.policy.warnings_reaching(now, &reached);
    warnings.extend(write_tools_warnings(&config));
    let (audit_warnings, audit_notes) = audit_warnings(&config);
    warnings.extend(audit_warnings);
    warnings.extend(http_warnings(&config));
    let admins = admin_identities(&config);
    for (identity, login) in &admins {
        warnings.push(admin_warning(&config, identity, login, ADMIN_WHY));
    }
    if let Some(odoo) = config.identities.values().next() {
        if odoo.tls.danger_accept_invalid_certs {
            warnings.push(
                "odoo.danger_accept_invalid_certs = true: Odoo's TLS certificate is not checked, \
                 so anyone on the path can read the credentials and the data"
                    .to_owned(),
            );
        }
        if odoo.allow_plain_http {
            warnings.push(
                "odoo.allow_plain_http = true: the Odoo credentials may cross the network in clear"
                    .to_owned(),
            );
        }
    }
    let mut failures = Vec::new();
    let mut notes = audit_notes;
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

/// `[tools] write = true` and keys whose profile may change data from any address.
fn write_tools_warnings(config: &Config) -> Vec<String> {
    if !config.tools.write_tools {
        return Vec::new();
    }
    let policy_config = &config.policy_config;
    let global = !policy_config.network.allow.is_empty();
    let mut out = Vec::new();
    for key in config.policy.keys() {
        if key.revoked.is_some() {
            continue;
        }
        let Some(profile) = config.policy.profile(&key.profile) else {
            continue;
        };
        let writes = [
            Operation::Create,
            Operation::Write,
            Operation::Delete,
            Operation::Call,
        ]
        .into_iter()
        .any(|op| profile.any_model_allows(op));
        let profile_restricts = std::iter::once(profile.name())
            .chain(profile.ancestors().iter().map(String::as_str))
            .filter_map(|name| policy_config.profiles.get(name))
            .any(|p| !p.network.allow.is_empty());
        if writes && !global && !profile_restricts && key.network.allow.is_empty() {
            out.push(format!(
                "tools.write = true and key {} (\"{}\", profile \"{}\") may change data from any \
                 address: restrict it with an IP allow rule ([network], the profile's network, or \
                 `keys create --allow-ip`)",
                key.id, key.name, key.profile
            ));
        }
    }
    out
}

/// Identities whose login or uid is an Odoo administrator's: (name, login).
fn admin_identities(config: &Config) -> Vec<(String, String)> {
    config
        .identities
        .iter()
        .filter(|(_, odoo)| {
            ADMIN_LOGINS.contains(&odoo.login.as_str())
                || odoo.uid.is_some_and(|uid| ADMIN_UIDS.contains(&uid))
        })
        .map(|(name, odoo)| (name.clone(), odoo.login.clone()))
        .collect()
}

/// The profiles that run as `identity`.
fn profiles_of(config: &Config, identity: &str) -> Vec<String> {
    config
        .policy_config
        .profiles
        .keys()
        .filter(|name| {
            config
                .policy
                .profile(name)
                .is_some_and(|p| p.identity() == identity)
        })
        .map(|name| format!("\"{name}\""))
        .collect()
}

/// Why an identity is an administrator by its login or uid.
const ADMIN_WHY: &str = "is an Odoo administrator";

fn admin_warning(config: &Config, identity: &str, login: &str, why: &str) -> String {
    let profiles = profiles_of(config, identity);
    format!(
        "identity \"{identity}\" (login \"{login}\") {why}, and profile(s) {} run as it: a \
         profile bound to an Odoo admin escapes Odoo's own access rights; use a dedicated Odoo \
         user with only the rights the agents need",
        if profiles.is_empty() {
            "none".to_owned()
        } else {
            profiles.join(", ")
        }
    )
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

/// Audit settings that weaken the record: warnings, and notes (advice that does not change the
/// exit status).
fn audit_warnings(config: &Config) -> (Vec<String>, Vec<String>) {
    let audit = &config.audit;
    let mut warnings = Vec::new();
    let mut notes = Vec::new();
    if !audit.enabled {
        warnings.push(
            "audit.enabled = false: no request is recorded; nobody can later show who accessed \
             what"
                .to_owned(),
        );
        return (warnings, notes);
    }
    if let Some(file) = &audit.file {
        if file.options.policy == warden_audit::FailurePolicy::Drop {
            warnings.push(
                "audit.on_failure = \"drop\": requests go on when the audit files cannot be \
                 written (the loss is counted and a gap event records it); use \"block\" to \
                 fail closed"
                    .to_owned(),
            );
        }
        if file.seal.is_none() && file.signer.is_none() {
            notes.push(
                "audit: no seal key (audit.seal_key_env or audit.seal_key_file) and no signing \
                 key (audit.signing_key_env or audit.signing_key_file): the hash chain shows \
                 edits, but whoever can write the folder can also rewrite the whole chain; a \
                 seal or signing key (or the webhook copy) makes that detectable"
                    .to_owned(),
            );
        }
        if file.signer.is_some() && file.anchors_file.is_none() && audit.webhook.is_none() {
            notes.push(
                "audit: checkpoints are signed but kept nowhere outside the audit folder (no \
                 audit.anchors_file, no webhook): a rollback of the whole folder to an older \
                 copy cannot be shown"
                    .to_owned(),
            );
        }
    }
    if let Some(hook) = &audit.webhook
        && hook.allow_insecure_http
        && hook.url.scheme() == "http"
    {
        warnings.push(
            "audit.webhook.allow_insecure_http = true: audit events cross the network unencrypted \
             (signed, but readable)"
                .to_owned(),
        );
    }
    for (name, profile) in &config.policy_config.profiles {
        if profile.audit_values == Some(true) {
            warnings.push(format!(
                "profiles.{name}.audit_values = true: the audit log records this profile's \
                 field values (domains, values written); the log then holds personal data"
            ));
        }
    }
    (warnings, notes)
}

/// `[http]` settings that expose more than they should.
fn http_warnings(config: &Config) -> Vec<String> {
    let http = &config.http;
    let mut warnings = Vec::new();
    if !http.bind.ip().is_loopback() && http.tls.is_none() && http.trusted_proxies.is_empty() {
        warnings.push(format!(
            "http.bind = {}: plain HTTP on a non-loopback address with no trusted proxy in front; \
             keys and tokens would cross the network in clear (set tls_cert_file/tls_key_file, or \
             put a TLS-terminating proxy in http.trusted_proxies)",
            http.bind
        ));
    }
    for net in &http.trusted_proxies {
        if net.prefix_len() == 0 {
            warnings.push(format!(
                "http.trusted_proxies contains {net}: every peer may set the client address \
                 (X-Forwarded-For), which defeats the IP rules and rate limits"
            ));
        }
    }
    for origin in &http.allowed_origins {
        if origin.starts_with("http://") {
            let loopback = origin.starts_with("http://localhost")
                || origin.starts_with("http://127.")
                || origin.starts_with("http://[::1]");
            if !loopback {
                warnings.push(format!(
                    "http.allowed_origins contains {origin}: a page served over plain http may call \
                     the gateway"
                ));
            }
        }
    }
    if let Some(oauth) = &http.oauth
        && oauth
            .leeway
            .is_some_and(|l| l > std::time::Duration::from_secs(300))
    {
        warnings.push(
            "http.oauth.leeway_s is over 300: expired access tokens stay usable that long"
                .to_owned(),
        );
    }
    warnings
}
