//! `odoo-warden keys`: create, list, revoke and rotate the API keys agents present.
//!
//! The key store holds only hashes. A new secret is printed once, alone on stdout, so that it
//! can be piped into a secret manager; everything else goes to stderr. Every change is checked
//! by compiling the policy with the new store before the file is replaced atomically.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use warden_config::KeyAdmin;
use warden_policy::keys;
use warden_policy::{KeyInfo, KeyStoreFile, Policy};

use crate::common::{self, EXIT_OK, usage};

const RELOAD_NOTE: &str =
    "Running odoo-warden servers pick up the change by themselves (they watch the key store).\n";

/// The `keys` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Create a key bound to a profile and print its secret (once).
    #[command(after_help = "\
The secret is printed alone on stdout and cannot be shown again; only its hash is stored.
The key store is created (mode 0600) when missing, and always replaced atomically.

Example:
  odoo-warden keys create --config warden.toml --name claude-alice --profile sales \\
      --expires 30d --allow-ip 10.0.0.0/8 --per-minute 60")]
    Create(CreateArgs),
    /// List the keys: id, name, profile, dates and state (never a hash).
    #[command(after_help = "\
Examples:
  odoo-warden keys list --config warden.toml
  odoo-warden keys list --config warden.toml --json | jq -r '.[] | select(.state == \"expired\") | .id'")]
    List(ListArgs),
    /// Revoke a key: it never authenticates again.
    #[command(after_help = "\
Takes effect at the key's next request: running servers watch the key store.

Example:
  odoo-warden keys revoke --config warden.toml k_3f9a0c1e5b7d")]
    Revoke(IdArgs),
    /// Give a key a new secret; the old one keeps working until the grace period ends.
    #[command(
        after_help = "Example:\n  odoo-warden keys rotate --config warden.toml k_3f9a0c1e5b7d --grace 24h"
    )]
    Rotate(RotateArgs),
}

/// Options of `keys create`.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The configuration file.
    #[arg(long, env = "WARDEN_CONFIG", value_name = "PATH")]
    config: PathBuf,
    /// A name for people, unique among the keys not revoked (A-Z a-z 0-9 . _ -).
    #[arg(long)]
    name: String,
    /// The profile the key acts under.
    #[arg(long)]
    profile: String,
    /// Validity from now, e.g. 90d, 12h, 30m.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "90d",
        conflicts_with = "no_expiry"
    )]
    expires: String,
    /// A key that never expires (not recommended).
    #[arg(long)]
    no_expiry: bool,
    /// Not valid before this instant (RFC 3339, e.g. 2026-12-01T00:00:00Z).
    #[arg(long, value_name = "RFC3339")]
    not_before: Option<String>,
    /// Client addresses allowed for this key (CIDR, address or `stdio`); repeatable.
    #[arg(long = "allow-ip", value_name = "CIDR")]
    allow_ip: Vec<String>,
    /// Client addresses refused for this key; repeatable.
    #[arg(long = "deny-ip", value_name = "CIDR")]
    deny_ip: Vec<String>,
    /// Requests per minute for this key (instead of the per-key default).
    #[arg(long, value_name = "N")]
    per_minute: Option<u32>,
    /// Data-changing requests per minute for this key.
    #[arg(long, value_name = "N")]
    writes_per_minute: Option<u32>,
}

/// Options of `keys list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// The configuration file.
    #[arg(long, env = "WARDEN_CONFIG", value_name = "PATH")]
    config: PathBuf,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

/// Options of `keys revoke`.
#[derive(Debug, Args)]
pub(crate) struct IdArgs {
    /// The configuration file.
    #[arg(long, env = "WARDEN_CONFIG", value_name = "PATH")]
    config: PathBuf,
    /// The key's id (`keys list` shows it), e.g. k_3f9a0c1e5b7d.
    id: String,
}

/// Options of `keys rotate`.
#[derive(Debug, Args)]
pub(crate) struct RotateArgs {
    /// The configuration file.
    #[arg(long, env = "WARDEN_CONFIG", value_name = "PATH")]
    config: PathBuf,
    /// The key's id (`keys list` shows it).
    id: String,
    /// How long the current secret keeps working (0s: it stops at once).
    #[arg(long, value_name = "DURATION", default_value = "24h")]
    grace: String,
}

/// Runs a `keys` subcommand; the exit status on success.
pub(crate) fn run(command: KeysCommand) -> Result<u8> {
    match command {
        KeysCommand::Create(args) => create(&args),
        KeysCommand::List(args) => list(&args),
        KeysCommand::Revoke(args) => revoke(&args),
        KeysCommand::Rotate(args) => rotate(&args),
    }
}

/// An exclusive claim on the key store for one read-modify-write: a `.lock` file next to it,
/// created only if absent and removed when dropped, so two `keys` commands cannot lose each
/// other's change.
struct StoreLock(std::path::PathBuf);

impl StoreLock {
    fn take(store: &Path) -> Result<Self> {
        let mut name = store.as_os_str().to_owned();
        name.push(".lock");
        let path = std::path::PathBuf::from(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(_) => Ok(Self(path)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(usage(format!(
                "another `odoo-warden keys` command is changing the key store (or one was interrupted: if none is running, remove {})",
                path.display()
            ))),
            Err(e) => Err(usage(format!(
                "cannot lock the key store {}: {}",
                store.display(),
                e.kind()
            ))),
        }
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The key store as written, or an empty one when the file does not exist yet.
fn read_store(path: &Path, allow_missing: bool) -> Result<KeyStoreFile> {
    match std::fs::read_to_string(path) {
        Ok(text) => KeyStoreFile::from_toml(&text)
            .map_err(|e| usage(format!("key store {}: {e}", path.display()))),
        Err(e) if allow_missing && e.kind() == std::io::ErrorKind::NotFound => {
            Ok(KeyStoreFile::default())
        }
        Err(e) => Err(usage(format!(
            "cannot read the key store {}: {}",
            path.display(),
            e.kind()
        ))),
    }
}

/// Checks the new store against the configuration, then replaces the file.
fn save_store(config: &KeyAdmin, store: &KeyStoreFile) -> Result<()> {
    let identities: Vec<&str> = config.identities.iter().map(String::as_str).collect();
    Policy::compile(&config.policy_config, store, &identities)?;
    common::write_atomic(&config.key_store, &store.to_toml())
        .with_context(|| format!("key store {} left unchanged", config.key_store.display()))
}

fn parse_duration(option: &str, text: &str) -> Result<Duration> {
    keys::parse_duration(text).map_err(|e| usage(format!("{option}: {e}")))
}

fn create(args: &CreateArgs) -> Result<u8> {
    let config = common::load_key_admin(&args.config, true)?;
    if config.policy.profile(&args.profile).is_none() {
        let known: Vec<&str> = config
            .policy_config
            .profiles
            .keys()
            .map(String::as_str)
            .collect();
        return Err(usage(format!(
            "--profile: unknown profile \"{}\" (configured: {})",
            args.profile,
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        )));
    }
    let expires_in = if args.no_expiry {
        None
    } else {
        Some(parse_duration("--expires", &args.expires)?)
    };
    let not_before = match &args.not_before {
        Some(text) => {
            keys::parse_time(text).map_err(|e| usage(format!("--not-before: {e}")))?;
            Some(text.clone())
        }
        None => None,
    };
    let _lock = StoreLock::take(&config.key_store)?;
    let mut store = read_store(&config.key_store, true)?;
    let now = SystemTime::now();
    let (record, secret) = keys::create(&mut store, &args.name, &args.profile, expires_in, now)?;
    if let Some(added) = store.keys.iter_mut().find(|k| k.id == record.id) {
        added.not_before = not_before;
        added.network.allow.clone_from(&args.allow_ip);
        added.network.deny.clone_from(&args.deny_ip);
        added.rate_limit.per_minute = args.per_minute;
        added.rate_limit.writes_per_minute = args.writes_per_minute;
    }
    save_store(&config, &store)?;

    let mut text = format!(
        "Created key {} (\"{}\") for profile \"{}\", {}, in {}.\n",
        record.id,
        record.name,
        record.profile,
        record
            .expires
            .as_ref()
            .map_or_else(|| "no expiry".to_owned(), |t| format!("expires {t}")),
        config.key_store.display()
    );
    if args.no_expiry {
        text.push_str(
            "WARNING: this key never expires. A leaked secret then works until someone revokes \
             it: prefer --expires and `keys rotate`.\n",
        );
    }
    text.push_str(
        "The secret below is shown once and cannot be shown again (only its hash is stored): \
         keep it now, e.g. as WARDEN_KEY of the MCP client.\n",
    );
    text.push_str(RELOAD_NOTE);
    common::note(&text);
    common::out(&format!("{secret}\n"))?;
    Ok(EXIT_OK)
}

/// A key's state in words.
fn state(key: &KeyInfo, now: SystemTime) -> String {
    if let Some(at) = key.revoked {
        return format!("revoked on {}", keys::format_time(at));
    }
    if let Some(at) = key.expires
        && now >= at
    {
        return "expired".to_owned();
    }
    if let Some(at) = key.not_before
        && now < at
    {
        return format!("not yet valid (from {})", keys::format_time(at));
    }
    match key.previous_until.iter().filter(|t| **t > now).max() {
        Some(until) => format!(
            "active, rotating until {} (the previous secret works until then)",
            keys::format_time(*until)
        ),
        None => "active".to_owned(),
    }
}

fn list(args: &ListArgs) -> Result<u8> {
    let config = common::load_key_admin(&args.config, false)?;
    let now = SystemTime::now();
    let keys: Vec<&KeyInfo> = config.policy.keys().collect();
    if args.json {
        let items: Vec<Value> = keys
            .iter()
            .map(|k| {
                json!({
                    "id": k.id,
                    "name": k.name,
                    "profile": k.profile,
                    "created": keys::format_time(k.created),
                    "not_before": k.not_before.map(keys::format_time),
                    "expires": k.expires.map(keys::format_time),
                    "revoked": k.revoked.map(keys::format_time),
                    "rotating_until": k.previous_until.iter().filter(|t| **t > now).max().map(|t| keys::format_time(*t)),
                    "state": state(k, now),
                    "network": {"allow": k.network.allow, "deny": k.network.deny},
                    "rate_limit": {
                        "per_minute": k.rate_limit.per_minute,
                        "writes_per_minute": k.rate_limit.writes_per_minute,
                    },
                })
            })
            .collect();
        common::out(&format!("{}\n", serde_json::to_string_pretty(&items)?))?;
        return Ok(EXIT_OK);
    }
    if keys.is_empty() {
        common::note(&format!(
            "No keys in {}; `odoo-warden keys create` adds one.\n",
            config.key_store.display()
        ));
        return Ok(EXIT_OK);
    }
    let header = ["ID", "NAME", "PROFILE", "CREATED", "EXPIRES", "STATE"].map(str::to_owned);
    let rows: Vec<[String; 6]> = keys
        .iter()
        .map(|k| {
            [
                k.id.clone(),
                k.name.clone(),
                k.profile.clone(),
                keys::format_time(k.created),
                k.expires
                    .map_or_else(|| "never".to_owned(), keys::format_time),
                state(k, now),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[i]);
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    common::out(&text)?;
    Ok(EXIT_OK)
}

fn revoke(args: &IdArgs) -> Result<u8> {
    let config = common::load_key_admin(&args.config, false)?;
    let _lock = StoreLock::take(&config.key_store)?;
    let mut store = read_store(&config.key_store, false)?;
    let already = store
        .keys
        .iter()
        .find(|k| k.id == args.id)
        .and_then(|k| k.revoked.clone());
    keys::revoke(&mut store, &args.id, SystemTime::now())?;
    if let Some(at) = already {
        common::note(&format!(
            "Key {} was already revoked on {at}; nothing changed.\n",
            args.id
        ));
        return Ok(EXIT_OK);
    }
    save_store(&config, &store)?;
    common::note(&format!(
        "Revoked key {}: it never authenticates again.\n{RELOAD_NOTE}",
        args.id
    ));
    Ok(EXIT_OK)
}

fn rotate(args: &RotateArgs) -> Result<u8> {
    let grace = parse_duration("--grace", &args.grace)?;
    let config = common::load_key_admin(&args.config, false)?;
    let _lock = StoreLock::take(&config.key_store)?;
    let mut store = read_store(&config.key_store, false)?;
    let now = SystemTime::now();
    let secret = keys::rotate(&mut store, &args.id, grace, now)?;
    save_store(&config, &store)?;
    let old = if grace.is_zero() {
        "The previous secret stopped working now.".to_owned()
    } else {
        let until = now
            .checked_add(grace)
            .map_or_else(String::new, keys::format_time);
        format!("The previous secret keeps working until {until}: update the clients before then.")
    };
    common::note(&format!(
        "Rotated key {}. {old}\nThe new secret below is shown once and cannot be shown again \
         (only its hash is stored).\n{RELOAD_NOTE}",
        args.id
    ));
    common::out(&format!("{secret}\n"))?;
    Ok(EXIT_OK)
}
