//! `odoo-warden doctor`: is this deployment ready? Loads the configuration, reaches Odoo and
//! logs in as every identity (reporting the Odoo version and the protocol chosen), compares the
//! clocks, and checks the key store, the audit folder's permissions, the TLS setup and, for a
//! fleet, the shared Redis. One line per check (or JSON); the exit status says whether anything
//! is wrong.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use clap::Args;
use serde_json::{Value, json};
use warden_config::Config;

use crate::common::{self, EXIT_FAIL, EXIT_OK, EXIT_WARNINGS};

/// How far apart this host's clock and Odoo's may be before it matters: access tokens are
/// checked with a leeway of about a minute, and the audit log's times should agree with Odoo's.
const CLOCK_SKEW_WARN: Duration = Duration::from_secs(60);
/// How long one identity's checks may take.
const IDENTITY_BUDGET: Duration = Duration::from_secs(20);

/// Options of `doctor`.
#[derive(Debug, Args)]
#[command(after_help = "\
Checks, one line each (ok, warn or FAIL):
  config     the configuration and its key store load and validate;
  keys       keys that expired or expire within 14 days, revoked keys;
  odoo:NAME  each identity: Odoo answers, its version, the protocol odoo-warden uses with it,
             the login works (with the time each step took);
  clock      this host's clock against each Odoo server's (warn beyond 60 s: access tokens,
             webhook signatures and the audit log's times depend on it);
  audit      the audit folder exists, is a folder, is not readable or writable by others
             (0700), and its files are 0600;
  anchors    with audit.anchors_file: the file takes appends and others cannot change it;
  tls        the HTTP listener's certificate and key load (when configured);
  redis      with [cluster]: the shared Redis (or Valkey) answers within timeout_ms, and its
             version (warn before 6.0);
  postgres   with [audit.postgres]: the database answers (over the TLS configured), its
             version, and its audit schema's version (none yet: warn; newer than this
             odoo-warden knows: FAIL).

Exit status: 0 everything ok, 2 warnings only, 1 a check failed, 64 the configuration does not
load.

Examples:
  odoo-warden doctor --config /etc/odoo-warden/warden.toml
  odoo-warden doctor --config warden.toml --json | jq '.[] | select(.status != \"ok\")'")]
pub(crate) struct DoctorArgs {
    /// The configuration file.
    #[arg(long, env = "WARDEN_CONFIG", value_name = "PATH")]
    config: PathBuf,
    /// One JSON array of the checks (`check`, `status`, `message`) on stdout.
    #[arg(long)]
    json: bool,
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warn => "warn",
            Self::Fail => "FAIL",
        }
    }
}

/// One line of the report.
struct Check {
    name: String,
    status: Status,
    message: String,
}

fn check(name: impl Into<String>, status: Status, message: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        status,
        message: message.into(),
    }
}

/// Runs `doctor`.
pub(crate) fn run(args: &DoctorArgs) -> Result<u8> {
    let config = common::load_config(&args.config)?;
    let mut checks = vec![check(
        "config",
        Status::Ok,
        format!(
            "{}: {} identit{}, key store {}",
            args.config.display(),
            config.identities.len(),
            if config.identities.len() == 1 {
                "y"
            } else {
                "ies"
            },
            config.key_store.display()
        ),
    )];
    checks.push(keys(&config, SystemTime::now()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(odoo(&config, &mut checks));
    if let Some(redis) = runtime.block_on(redis(&config)) {
        checks.push(redis);
    }
    checks.push(audit(&config));
    if let Some(anchors) = anchors(&config) {
        checks.push(anchors);
    }
    if let Some(tls) = tls(&config) {
        checks.push(tls);
    }
    if let Some(pg) = &config.audit.postgres {
        checks.push(postgres(pg));
    }
    report(&checks, args.json)?;
    Ok(match checks.iter().map(|c| c.status).max() {
        Some(Status::Fail) => EXIT_FAIL,
        Some(Status::Warn) => EXIT_WARNINGS,
        _ => EXIT_OK,
    })
}

/// The PostgreSQL audit sink's database: reachable, its version, the audit schema's version.
fn postgres(pg: &warden_config::PostgresSettings) -> Check {
    use warden_audit_pg::schema;
    let started = Instant::now();
    let probe = match schema::probe(&pg.target) {
        Ok(probe) => probe,
        Err(error) => return check("postgres", Status::Fail, error.to_string()),
    };
    let at = format!(
        "{} (PostgreSQL {}, {} ms)",
        pg.target.display(),
        probe.server_version,
        started.elapsed().as_millis()
    );
    match probe.schema_version {
        0 => check(
            "postgres",
            Status::Warn,
            format!(
                "{at}: no audit table yet; the first start creates it, which needs CREATE on the \
                 database's schema (docs/audit.md, PostgreSQL: roles and grants)"
            ),
        ),
        version if version > schema::LATEST => check(
            "postgres",
            Status::Fail,
            format!(
                "{at}: the audit schema is version {version}, newer than this odoo-warden knows \
                 ({}): upgrade odoo-warden",
                schema::LATEST
            ),
        ),
        version if version < schema::LATEST => check(
            "postgres",
            Status::Ok,
            format!(
                "{at}: audit schema version {version}; the next start migrates it to {}",
                schema::LATEST
            ),
        ),
        version => check(
            "postgres",
            Status::Ok,
            format!("{at}: audit schema version {version}, stream {}", pg.stream),
        ),
    }
}

fn report(checks: &[Check], json: bool) -> Result<()> {
    if json {
        let value: Vec<Value> = checks
            .iter()
            .map(|c| json!({"check": c.name, "status": c.status.label().to_ascii_lowercase(), "message": c.message}))
            .collect();
        return common::out(&format!("{}\n", Value::Array(value)));
    }
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for c in checks {
        out.push_str(&format!(
            "{:<4}  {:<width$}  {}\n",
            c.status.label(),
            c.name,
            c.message
        ));
    }
    common::out(&out)
}

/// Keys that expired, expire soon, or were revoked.
fn keys(config: &Config, now: SystemTime) -> Check {
    let soon = now + Duration::from_secs(14 * 86_400);
    let (mut total, mut revoked, mut expired, mut expiring) = (0, 0, 0, Vec::new());
    for key in config.policy.keys() {
        total += 1;
        if key.revoked.is_some_and(|at| at <= now) {
            revoked += 1;
        } else if key.expires.is_some_and(|at| at <= now) {
            expired += 1;
        } else if key.expires.is_some_and(|at| at <= soon) {
            expiring.push(key.name.clone());
        }
    }
    let active = total - revoked - expired;
    let mut message = format!("{active} active, {revoked} revoked, {expired} expired");
    if !expiring.is_empty() {
        message.push_str(&format!(
            "; expiring within 14 days: {} (rotate with `odoo-warden keys rotate`)",
            expiring.join(", ")
        ));
    }
    let status = if active == 0 {
        message.push_str("; no key can be used");
        Status::Warn
    } else if expiring.is_empty() {
        Status::Ok
    } else {
        Status::Warn
    };
    check("keys", status, message)
}

/// Each identity: version, protocol, login; and the clocks.
async fn odoo(config: &Config, checks: &mut Vec<Check>) {
    let mut skews = Vec::new();
    for (name, identity) in &config.identities {
        let label = format!("odoo:{name}");
        let client = match warden_odoo::OdooClient::new(identity.clone()) {
            Ok(client) => client,
            Err(e) => {
                checks.push(check(label, Status::Fail, e.to_string()));
                continue;
            }
        };
        let where_ = format!("{} db {:?}", identity.url, identity.database);
        let steps = async {
            let started = Instant::now();
            let version = client.version().await?;
            let version_ms = started.elapsed().as_millis();
            let protocol = client.protocol().await?;
            let started = Instant::now();
            let uid = client.authenticate().await?;
            let login_ms = started.elapsed().as_millis();
            let date = client.server_date().await.ok().flatten();
            Ok::<_, warden_odoo::OdooError>((version, version_ms, protocol, uid, login_ms, date))
        };
        match tokio::time::timeout(IDENTITY_BUDGET, steps).await {
            Err(_) => checks.push(check(
                label,
                Status::Fail,
                format!("{where_}: no answer within {} s", IDENTITY_BUDGET.as_secs()),
            )),
            Ok(Err(e)) => checks.push(check(label, Status::Fail, format!("{where_}: {e}"))),
            Ok(Ok((version, version_ms, protocol, uid, login_ms, date))) => {
                checks.push(check(
                    label,
                    Status::Ok,
                    format!(
                        "{where_}: Odoo {} ({version_ms} ms), protocol {protocol:?}, logged in as {:?} (uid {uid}, {login_ms} ms)",
                        version.server_version, identity.login
                    ),
                ));
                if let Some(date) = date {
                    skews.push((name.clone(), skew(SystemTime::now(), date)));
                }
            }
        }
    }
    if config.identities.is_empty() {
        return;
    }
    let worst = skews.iter().max_by_key(|(_, s)| s.unsigned_abs());
    checks.push(match worst {
        None => check(
            "clock",
            Status::Warn,
            "no Odoo server said what time it is (no Date header): check this host's clock (NTP)",
        ),
        Some((name, seconds)) if seconds.unsigned_abs() > CLOCK_SKEW_WARN.as_secs() => check(
            "clock",
            Status::Warn,
            format!(
                "Odoo ({name}) is {} s {} this host: access tokens, webhook signatures and audit times depend on the clock (NTP)",
                seconds.unsigned_abs(),
                if *seconds > 0 { "ahead of" } else { "behind" }
            ),
        ),
        Some((_, seconds)) => check(
            "clock",
            Status::Ok,
            format!(
                "within {} s of every Odoo server (HTTP Date, 1 s resolution)",
                seconds.unsigned_abs().max(1)
            ),
        ),
    });
}

/// How many seconds `theirs` is ahead of `ours` (negative: behind).
/// With `[cluster]`: whether the shared Redis answers (within `timeout_ms`) and its version.
async fn redis(config: &Config) -> Option<Check> {
    let settings = config.cluster.as_ref()?;
    let place = format!(
        "{}://{}",
        settings.redis_url.scheme(),
        settings.redis_url.host_str().unwrap_or_default()
    );
    let (fleet, _) = match warden_transport::setup::build_fleet(settings) {
        Ok(fleet) => fleet,
        Err(error) => return Some(check("redis", Status::Fail, error.to_string())),
    };
    let started = Instant::now();
    Some(match fleet.store.version().await {
        Ok(version) => {
            let major: Option<u32> = version
                .rsplit(' ')
                .next()
                .and_then(|v| v.split('.').next())
                .and_then(|v| v.parse().ok());
            let took = started.elapsed().as_millis();
            if version.starts_with("Redis ") && major.is_some_and(|m| m < 6) {
                check(
                    "redis",
                    Status::Warn,
                    format!("{version} at {place} ({took} ms): ACL users need Redis 6 or later"),
                )
            } else {
                check(
                    "redis",
                    Status::Ok,
                    format!("{version} at {place} answers ({took} ms)"),
                )
            }
        }
        Err(error) => check(
            "redis",
            Status::Fail,
            format!(
                "{place}: {error}; replicas would fall back to their own rate budgets and refuse \
                 2026-07-28 confirmations"
            ),
        ),
    })
}

fn skew(ours: SystemTime, theirs: SystemTime) -> i64 {
    match theirs.duration_since(ours) {
        Ok(ahead) => i64::try_from(ahead.as_secs()).unwrap_or(i64::MAX),
        Err(behind) => -i64::try_from(behind.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// The audit folder: present, a folder, private, its files private.
fn audit(config: &Config) -> Check {
    if !config.audit.enabled {
        return check(
            "audit",
            Status::Warn,
            "the audit log is off (audit.enabled = false): nothing is recorded",
        );
    }
    let Some(file) = &config.audit.file else {
        return check(
            "audit",
            Status::Ok,
            "no audit files (events go to the other sinks configured)",
        );
    };
    folder(&file.dir)
}

/// The anchors file the signed checkpoints go to: its folder exists and takes writes, the file
/// (when there) takes appends and is not writable by others. `None` without one.
fn anchors(config: &Config) -> Option<Check> {
    let file = config.audit.file.as_ref()?;
    let path = file.anchors_file.as_ref()?;
    let name = "anchors";
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(parent) = parent
        && !parent.is_dir()
    {
        return Some(check(
            name,
            Status::Fail,
            format!(
                "{}: its folder does not exist (the gateway would not start)",
                path.display()
            ),
        ));
    }
    match std::fs::OpenOptions::new().append(true).open(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Some(check(
                name,
                Status::Ok,
                format!(
                    "{}: not created yet (it is, 0600, at the first start); keep it on storage \
                     the audit folder's writers cannot change",
                    path.display()
                ),
            ));
        }
        Err(e) => {
            return Some(check(
                name,
                Status::Fail,
                format!("{}: cannot be appended to: {}", path.display(), e.kind()),
            ));
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = std::fs::metadata(path) {
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o022 != 0 {
                return Some(check(
                    name,
                    Status::Warn,
                    format!(
                        "{} is {mode:04o}: others can change the checkpoints (chmod 600)",
                        path.display()
                    ),
                ));
            }
        }
    }
    let count = std::fs::read_to_string(path)
        .map(|text| text.lines().filter(|l| !l.trim().is_empty()).count())
        .unwrap_or(0);
    Some(check(
        name,
        Status::Ok,
        format!("{}: {count} checkpoint(s), appendable", path.display()),
    ))
}

fn folder(dir: &Path) -> Check {
    let metadata = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return check(
                "audit",
                Status::Ok,
                format!(
                    "{}: not created yet (it is, 0700, at the first start)",
                    dir.display()
                ),
            );
        }
        Err(e) => {
            return check(
                "audit",
                Status::Fail,
                format!("{}: cannot be read: {}", dir.display(), e.kind()),
            );
        }
    };
    if !metadata.is_dir() {
        return check(
            "audit",
            Status::Fail,
            format!("{} is not a folder", dir.display()),
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return check(
                "audit",
                Status::Warn,
                format!(
                    "{} is {mode:04o}: others can read or change the audit log (chmod 700)",
                    dir.display()
                ),
            );
        }
        if mode & 0o200 == 0 {
            return check(
                "audit",
                Status::Fail,
                format!("{} is {mode:04o}: not writable by its owner", dir.display()),
            );
        }
        let mut files = 0usize;
        let mut open = Vec::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let Ok(m) = entry.metadata() else { continue };
                if !m.is_file() {
                    continue;
                }
                files += 1;
                if m.permissions().mode() & 0o077 != 0 {
                    open.push(entry.file_name().to_string_lossy().into_owned());
                }
            }
        }
        if !open.is_empty() {
            open.sort();
            open.truncate(5);
            return check(
                "audit",
                Status::Warn,
                format!(
                    "{}: files others can read: {} (chmod 600)",
                    dir.display(),
                    open.join(", ")
                ),
            );
        }
        check(
            "audit",
            Status::Ok,
            format!(
                "{}: 0700, {files} file{} 0600 (verify the chain with `odoo-warden audit verify`)",
                dir.display(),
                if files == 1 { "" } else { "s" }
            ),
        )
    }
    #[cfg(not(unix))]
    check("audit", Status::Ok, format!("{}: present", dir.display()))
}

/// The HTTP listener's certificate and key, when configured.
fn tls(config: &Config) -> Option<Check> {
    let (cert, key) = config.http.tls.as_ref()?;
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| format!("cannot read {}: {}", path.display(), e.kind()))
    };
    let loaded = read(cert).and_then(|cert| {
        read(key).and_then(|key| warden_transport::http::tls::acceptor(&cert, &key))
    });
    Some(match loaded {
        Ok(_) => check(
            "tls",
            Status::Ok,
            format!("{} and its key load; TLS 1.2 and 1.3 only", cert.display()),
        ),
        Err(e) => check("tls", Status::Fail, e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_is_signed() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(skew(now, now + Duration::from_secs(90)), 90);
        assert_eq!(skew(now, now - Duration::from_secs(5)), -5);
        assert_eq!(skew(now, now), 0);
    }
}
