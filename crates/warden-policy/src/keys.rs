//! Keys: secrets, their hashes, and the key store's life cycle (create, rotate, revoke).
//!
//! A secret reads `owk_<12 hex>_<40 base62>`; the hex part is the key id's (`k_<12 hex>`), so a
//! presented secret names the one record it can match. The store keeps only
//! `sha256:<64 hex>` hashes; a secret is shown once, by [`create`] or [`rotate`].

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

use crate::PolicyError;
use crate::config::{KeyRecord, KeyStoreFile, PreviousSecret};

const SECRET_PREFIX: &str = "owk_";
const ID_PREFIX: &str = "k_";
const ID_HEX: usize = 12;
const SECRET_RANDOM: usize = 40;
const HASH_PREFIX: &str = "sha256:";
const MAX_NAME: usize = 64;

/// The first lines of a key store file written by [`KeyStoreFile::to_toml`].
const HEADER: &str = "\
# odoo-warden key store: key records with SHA-256 hashes of their secrets, never the secrets.
# Managed by `odoo-warden keys create|list|revoke|rotate`; edits by hand are validated on load.
";

/// A SHA-256 digest; its `Debug` does not print the bytes.
#[derive(Clone, Copy)]
pub(crate) struct Digest(pub(crate) [u8; 32]);

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Digest(..)")
    }
}

impl Digest {
    pub(crate) fn of(secret: &str) -> Digest {
        Digest(Sha256::digest(secret.as_bytes()).into())
    }

    /// Constant-time comparison.
    pub(crate) fn ct_eq(&self, other: &Digest) -> subtle::Choice {
        self.0.ct_eq(&other.0)
    }
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Parses `sha256:<64 lowercase hex>`.
pub(crate) fn parse_hash(text: &str) -> Option<Digest> {
    let hex = text.strip_prefix(HASH_PREFIX)?;
    if hex.len() != 64 || !is_lower_hex(hex) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(Digest(out))
}

/// Whether `id` is `k_` and 12 lowercase hex digits.
pub fn is_key_id(id: &str) -> bool {
    id.strip_prefix(ID_PREFIX)
        .is_some_and(|hex| hex.len() == ID_HEX && is_lower_hex(hex))
}

/// The key id a secret belongs to (`owk_3f9a0c1e5b7d_…` → `k_3f9a0c1e5b7d`), or `None` when the
/// secret is not shaped like one.
pub fn key_id_of(secret: &str) -> Option<String> {
    let rest = secret.strip_prefix(SECRET_PREFIX)?;
    let (hex, random) = rest.split_once('_')?;
    let shaped = hex.len() == ID_HEX
        && is_lower_hex(hex)
        && random.len() == SECRET_RANDOM
        && random.bytes().all(|b| b.is_ascii_alphanumeric());
    shaped.then(|| format!("{ID_PREFIX}{hex}"))
}

/// `sha256:` and the lowercase hex SHA-256 of the secret, as the key store keeps it.
pub fn hash_secret(secret: &str) -> String {
    let digest = Digest::of(secret);
    let mut out = String::with_capacity(HASH_PREFIX.len() + 64);
    out.push_str(HASH_PREFIX);
    for byte in digest.0 {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Parses an RFC 3339 UTC timestamp (`2026-11-23T00:00:00Z`).
pub fn parse_time(text: &str) -> Result<SystemTime, PolicyError> {
    humantime::parse_rfc3339(text).map_err(|_| PolicyError::Time {
        at: String::new(),
        value: text.to_owned(),
    })
}

/// Formats an instant as RFC 3339 UTC, to the second (`2026-11-23T00:00:00Z`).
pub fn format_time(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// Parses a duration such as `90d`, `12h`, `30m` or `1h 30m`.
pub fn parse_duration(text: &str) -> Result<Duration, PolicyError> {
    humantime::parse_duration(text).map_err(|_| PolicyError::Duration {
        value: text.to_owned(),
    })
}

fn new_id(rng: &mut impl Rng) -> String {
    let bytes: [u8; ID_HEX / 2] = rng.random();
    let mut id = String::from(ID_PREFIX);
    for byte in bytes {
        let _ = write!(id, "{byte:02x}");
    }
    id
}

fn new_secret(rng: &mut impl Rng, id: &str) -> String {
    let hex = id.strip_prefix(ID_PREFIX).unwrap_or(id);
    let random: String = (0..SECRET_RANDOM)
        .map(|_| char::from(rng.sample(Alphanumeric)))
        .collect();
    format!("{SECRET_PREFIX}{hex}_{random}")
}

fn check_name(name: &str) -> Result<(), PolicyError> {
    let ok = (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(PolicyError::KeyName {
            value: name.chars().take(MAX_NAME + 8).collect(),
        })
    }
}

/// Creates a key bound to `profile`, adds its record to the store and returns the record and
/// the secret (shown once: only its hash is kept). The name must be unique among keys that are
/// not revoked. The profile is checked when the policy is compiled.
pub fn create(
    store: &mut KeyStoreFile,
    name: &str,
    profile: &str,
    expires_in: Option<Duration>,
    now: SystemTime,
) -> Result<(KeyRecord, String), PolicyError> {
    check_name(name)?;
    if let Some(other) = store
        .keys
        .iter()
        .find(|k| k.name == name && k.revoked.is_none())
    {
        return Err(PolicyError::DuplicateName {
            name: name.to_owned(),
            id: other.id.clone(),
        });
    }
    let expires = match expires_in {
        Some(d) => Some(now.checked_add(d).ok_or_else(|| PolicyError::Duration {
            value: humantime::format_duration(d).to_string(),
        })?),
        None => None,
    };
    let mut rng = rand::rng();
    // 48 random bits: a collision is rare; a few draws make it vanish.
    let id = (0..16)
        .map(|_| new_id(&mut rng))
        .find(|id| store.keys.iter().all(|k| &k.id != id))
        .ok_or_else(|| PolicyError::DuplicateKey { id: "k_…".into() })?;
    let secret = new_secret(&mut rng, &id);
    let record = KeyRecord {
        id,
        name: name.to_owned(),
        profile: profile.to_owned(),
        hash: hash_secret(&secret),
        created: format_time(now),
        expires: expires.map(format_time),
        ..KeyRecord::default()
    };
    store.keys.push(record.clone());
    Ok((record, secret))
}

fn find<'a>(store: &'a mut KeyStoreFile, id: &str) -> Result<&'a mut KeyRecord, PolicyError> {
    store
        .keys
        .iter_mut()
        .find(|k| k.id == id)
        .ok_or_else(|| PolicyError::KeyNotFound { id: id.to_owned() })
}

/// Gives a key a new secret and returns it. The current secret keeps working until
/// `now + grace` (a zero grace stops it at once); previous secrets whose time is up are
/// dropped. A revoked key cannot be rotated.
pub fn rotate(
    store: &mut KeyStoreFile,
    id: &str,
    grace: Duration,
    now: SystemTime,
) -> Result<String, PolicyError> {
    let record = find(store, id)?;
    if record.revoked.is_some() {
        return Err(PolicyError::KeyRevoked { id: id.to_owned() });
    }
    let mut kept = Vec::with_capacity(record.previous.len() + 1);
    for (i, previous) in record.previous.iter().enumerate() {
        let until = parse_time(&previous.until).map_err(|_| PolicyError::Time {
            at: format!("key.{id}.previous[{i}].until"),
            value: previous.until.clone(),
        })?;
        if until > now {
            kept.push(previous.clone());
        }
    }
    if !grace.is_zero() {
        let until = now
            .checked_add(grace)
            .ok_or_else(|| PolicyError::Duration {
                value: humantime::format_duration(grace).to_string(),
            })?;
        kept.push(PreviousSecret {
            hash: record.hash.clone(),
            until: format_time(until),
        });
    }
    let secret = new_secret(&mut rand::rng(), id);
    record.hash = hash_secret(&secret);
    record.previous = kept;
    Ok(secret)
}

/// Revokes a key: it never authenticates again. Revoking a revoked key keeps the first time.
pub fn revoke(store: &mut KeyStoreFile, id: &str, now: SystemTime) -> Result<(), PolicyError> {
    let record = find(store, id)?;
    if record.revoked.is_none() {
        record.revoked = Some(format_time(now));
    }
    Ok(())
}

/// A TOML basic string, escaped.
fn quote(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn string_line(out: &mut String, key: &str, value: &str) {
    out.push_str(key);
    out.push_str(" = ");
    quote(out, value);
    out.push('\n');
}

fn list_line(out: &mut String, key: &str, values: &[String]) {
    out.push_str(key);
    out.push_str(" = [");
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        quote(out, value);
    }
    out.push_str("]\n");
}

impl KeyStoreFile {
    /// Parses a key store. Unknown keys are refused; the error names the line.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |span| {
                text[..span.start.min(text.len())].matches('\n').count() + 1
            });
            PolicyError::Toml {
                line,
                message: e.message().split_whitespace().collect::<Vec<_>>().join(" "),
            }
        })
    }

    /// Writes the key store, with a header saying it holds hashes only.
    pub fn to_toml(&self) -> String {
        let mut out = String::from(HEADER);
        for key in &self.keys {
            out.push_str("\n[[key]]\n");
            string_line(&mut out, "id", &key.id);
            string_line(&mut out, "name", &key.name);
            string_line(&mut out, "profile", &key.profile);
            string_line(&mut out, "hash", &key.hash);
            string_line(&mut out, "created", &key.created);
            for (name, value) in [
                ("not_before", &key.not_before),
                ("expires", &key.expires),
                ("revoked", &key.revoked),
            ] {
                if let Some(value) = value {
                    string_line(&mut out, name, value);
                }
            }
            for previous in &key.previous {
                out.push_str("\n[[key.previous]]\n");
                string_line(&mut out, "hash", &previous.hash);
                string_line(&mut out, "until", &previous.until);
            }
            if !key.network.allow.is_empty() || !key.network.deny.is_empty() {
                out.push_str("\n[key.network]\n");
                list_line(&mut out, "allow", &key.network.allow);
                list_line(&mut out, "deny", &key.network.deny);
            }
            let limits = &key.rate_limit;
            if limits.per_minute.is_some() || limits.writes_per_minute.is_some() {
                out.push_str("\n[key.rate_limit]\n");
                for (name, value) in [
                    ("per_minute", limits.per_minute),
                    ("writes_per_minute", limits.writes_per_minute),
                ] {
                    if let Some(value) = value {
                        let _ = writeln!(out, "{name} = {value}");
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_round_trip() {
        let hash = hash_secret("abc");
        assert_eq!(
            hash,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(parse_hash(&hash).is_some());
        assert!(parse_hash(&hash.to_uppercase()).is_none());
        assert!(parse_hash("sha256:abc").is_none());
        assert!(parse_hash(&hash.replace("sha256:", "sha1:")).is_none());
    }

    #[test]
    fn digest_debug_hides_bytes() {
        assert_eq!(format!("{:?}", Digest::of("x")), "Digest(..)");
    }

    #[test]
    fn secret_shape() {
        let mut rng = rand::rng();
        let id = new_id(&mut rng);
        assert!(is_key_id(&id), "{id}");
        let secret = new_secret(&mut rng, &id);
        assert_eq!(key_id_of(&secret).as_deref(), Some(id.as_str()));
        assert_eq!(secret.len(), 4 + 12 + 1 + 40);
    }
}
