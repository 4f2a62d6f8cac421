//! The risky settings of a configuration, as `odoo-warden config check` reports them and as the
//! servers log them at start: settings that expose more than they should (plain HTTP on a
//! network address, proxies trusted for everything, plain-http browser origins), policies that
//! grant more than they look like (keys that may write from anywhere, Odoo administrators
//! behind a profile), a weakened audit log, Odoo's TLS turned off. Static: no I/O; `config check
//! --online` adds what only Odoo can tell.

use std::time::SystemTime;

use warden_policy::Operation;

use crate::Config;

/// Odoo logins of administrators.
pub const ADMIN_LOGINS: &[&str] = &["admin", "__system__"];
/// Odoo user ids of the superuser and the first administrator.
pub const ADMIN_UIDS: &[i64] = &[1, 2];
/// Why an identity is an administrator by its login or uid.
pub const ADMIN_WHY: &str = "is an Odoo administrator";

/// What [`risks`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Risks {
    /// Settings that weaken the deployment (`config check` exits 2 on any).
    pub warnings: Vec<String>,
    /// Advice that does not change the exit status.
    pub notes: Vec<String>,
}

/// The risky settings of `config` at `now` (key expiries are read against it).
pub fn risks(config: &Config, now: SystemTime) -> Risks {
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
    warnings.extend(write_tools_warnings(config));
    let (audit_warnings, notes) = audit_warnings(config);
    warnings.extend(audit_warnings);
    warnings.extend(http_warnings(config));
    let (fleet_warnings, fleet_notes) = fleet_risks(config);
    warnings.extend(fleet_warnings);
    let mut notes = notes;
    notes.extend(fleet_notes);
    for (identity, login) in &admin_identities(config) {
        warnings.push(admin_warning(config, identity, login, ADMIN_WHY));
    }
    if let Some(cluster) = &config.cluster
        && cluster.plain_over_network()
    {
        warnings.push(format!(
            "cluster.redis_url uses plain redis:// to {}, which is not this machine: rate \
             budgets, redeemed confirmations and the Redis password cross the network in clear; \
             use rediss:// (TLS)",
            cluster.redis_url.host_str().unwrap_or("?")
        ));
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
    Risks { warnings, notes }
}

/// Several replicas (`[http] replicas` above 1) without `[cluster]`: each process keeps its own
/// budgets, sessions, confirmation key and alert windows. Behind a proxy without `[cluster]`,
/// a note: the proxy may balance more than one process.
fn fleet_risks(config: &Config) -> (Vec<String>, Vec<String>) {
    let (mut warnings, mut notes) = (Vec::new(), Vec::new());
    let replicas = config.http.replicas;
    if replicas > 1 && config.cluster.is_none() {
        warnings.push(format!(
            "http.replicas = {replicas} without [cluster]: every process keeps its own rate \
             budgets (each limit is multiplied by {replicas}), failed-authentication counts, \
             alert windows, legacy sessions and confirmation key, so a session or a pending \
             confirmation fails on another replica; set [cluster] redis_url and a shared \
             confirmation key"
        ));
    }
    if replicas > 1 && config.audit.postgres.is_none() && config.audit.file.is_some() {
        notes.push(format!(
            "http.replicas = {replicas} with the audit log in files only: each replica writes its \
             own folder, to be kept and verified one by one; [audit.postgres] gathers every \
             replica's stream in one table"
        ));
    }
    if replicas == 1 && config.cluster.is_none() && !config.http.trusted_proxies.is_empty() {
        notes.push(
            "behind a proxy (http.trusted_proxies) without [cluster]: if it balances more than \
             one odoo-warden-http process, set http.replicas and [cluster], or every process \
             keeps its own limits and sessions"
                .to_owned(),
        );
    }
    (warnings, notes)
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
pub fn admin_identities(config: &Config) -> Vec<(String, String)> {
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

/// The warning about an identity that is an Odoo administrator (`why` says how it is known).
pub fn admin_warning(config: &Config, identity: &str, login: &str, why: &str) -> String {
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
    if let Some(pg) = &audit.postgres {
        postgres_warnings(pg, &mut warnings, &mut notes);
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

/// `[audit.postgres]` settings that weaken the shared trail.
fn postgres_warnings(
    pg: &crate::PostgresSettings,
    warnings: &mut Vec<String>,
    notes: &mut Vec<String>,
) {
    if pg.target.tls == warden_audit_pg::TlsMode::Require {
        warnings.push(
            "audit.postgres.tls = \"require\": the connection is encrypted but the server's \
             certificate is not checked; whoever sits between the gateway and the database can \
             read and drop audit events, and take the password; use \"verify-full\" (with \
             ca_file for a private CA)"
                .to_owned(),
        );
    }
    if pg.options.policy == warden_audit::FailurePolicy::Drop {
        warnings.push(
            "audit.postgres.on_failure = \"drop\": requests go on when the database cannot be \
             written (the loss is counted and a gap event records it); use \"block\" to fail \
             closed"
                .to_owned(),
        );
    }
    if pg.retention_days.is_some() {
        notes.push(
            "audit.postgres.retention_days: the gateway's database role needs DELETE on \
             warden_audit_events, and so can remove rows; without retention it needs only \
             INSERT and SELECT (docs/audit.md, PostgreSQL)"
                .to_owned(),
        );
    }
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
