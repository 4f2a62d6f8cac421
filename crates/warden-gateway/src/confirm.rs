//! Write confirmation: a profile with `confirm_writes` has every data-changing tool call
//! confirmed by the human before it runs.
//!
//! - Legacy sessions (2025-06-18 and later, client declared `elicitation`): the server sends an
//!   `elicitation/create` request on the session and waits for the answer.
//! - 2026-07-28: the call is answered with an `input_required` result carrying the same
//!   elicitation and a `requestState`; the client retries the call with the human's answer in
//!   `inputResponses` and the state. The state is an HMAC over the key, the tool, the
//!   arguments, an expiry and a random nonce, under a key that lives only in this process (or,
//!   in a fleet, the `[cluster]` confirmation key every replica shares): an answer is accepted
//!   only for the exact call it was asked about, by the same key, within ten minutes, and once
//!   (a replayed state is refused, so one confirmation is one change; in a fleet the shared
//!   store remembers redeemed states, see [`crate::shared`]).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

/// How long a confirmation request stays valid.
pub(crate) const VALIDITY: Duration = Duration::from_secs(600);
/// The key of the confirmation in `inputRequests` / `inputResponses`.
pub(crate) const INPUT_KEY: &str = "confirm";

type HmacSha256 = Hmac<Sha256>;

/// States redeemed and not yet expired, at most this many (beyond: refused until some expire,
/// so memory stays bounded however many confirmations are answered).
const MAX_REDEEMED: usize = 100_000;

/// The secret the request states are signed with, and the states already redeemed.
pub(crate) struct StateKey {
    key: Vec<u8>,
    /// Redeemed states (their nonce) with their expiry (UNIX seconds).
    redeemed: Mutex<HashMap<u128, u64>>,
}

/// What [`StateKey::redeem`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Redeemed {
    /// Issued for this call, unexpired, first use.
    Fresh,
    /// Not issued for this call, or expired.
    Invalid,
    /// Used before (or too many are outstanding to remember another).
    Used,
}

impl StateKey {
    /// A fresh random key.
    pub(crate) fn random() -> Self {
        let mut key = [0u8; 32];
        rand::Rng::fill(&mut rand::rng(), &mut key);
        Self::from_secret(&key)
    }

    /// A key every replica of a fleet shares (configured, at least 32 bytes).
    pub(crate) fn from_secret(secret: &[u8]) -> Self {
        Self {
            key: secret.to_vec(),
            redeemed: Mutex::new(HashMap::new()),
        }
    }

    /// The MAC over one call, ready to finalize or verify.
    fn mac(
        &self,
        key_id: &str,
        tool: &str,
        arguments: &Map<String, Value>,
        until: u64,
        nonce: u128,
    ) -> Option<HmacSha256> {
        let mut mac = HmacSha256::new_from_slice(&self.key).ok()?;
        for part in [key_id.as_bytes(), b"\0", tool.as_bytes(), b"\0"] {
            mac.update(part);
        }
        mac.update(canonical(&Value::Object(arguments.clone())).as_bytes());
        mac.update(b"\0");
        mac.update(&until.to_be_bytes());
        mac.update(&nonce.to_be_bytes());
        Some(mac)
    }

    /// The state for a confirmation of this call, valid until `now + VALIDITY`.
    pub(crate) fn issue(
        &self,
        key_id: &str,
        tool: &str,
        arguments: &Map<String, Value>,
        now: SystemTime,
    ) -> String {
        let until = (now + VALIDITY)
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let nonce: u128 = rand::random();
        let tag = self
            .mac(key_id, tool, arguments, until, nonce)
            .map(|mac| hex(&mac.finalize().into_bytes()))
            .unwrap_or_default();
        format!("{until:016x}{nonce:032x}{tag}")
    }

    /// The expiry and nonce of `state` if it was issued for this call and has not expired.
    pub(crate) fn check(
        &self,
        state: &str,
        key_id: &str,
        tool: &str,
        arguments: &Map<String, Value>,
        now: SystemTime,
    ) -> Option<(u64, u128)> {
        if state.len() != 16 + 32 + 64 || !state.is_ascii() {
            return None;
        }
        let until = u64::from_str_radix(&state[..16], 16).ok()?;
        let nonce = u128::from_str_radix(&state[16..48], 16).ok()?;
        let now_secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if now_secs > until {
            return None;
        }
        let given = unhex(&state[48..])?;
        // `verify_slice` compares in constant time.
        self.mac(key_id, tool, arguments, until, nonce)?
            .verify_slice(&given)
            .ok()
            .map(|()| (until, nonce))
    }

    /// Whether `state` was issued for this call and has not expired (it may have been used).
    #[cfg(test)]
    pub(crate) fn verify(
        &self,
        state: &str,
        key_id: &str,
        tool: &str,
        arguments: &Map<String, Value>,
        now: SystemTime,
    ) -> bool {
        self.check(state, key_id, tool, arguments, now).is_some()
    }

    /// Use `state` for this call: [`Redeemed::Fresh`] once, [`Redeemed::Used`] after.
    pub(crate) fn redeem(
        &self,
        state: &str,
        key_id: &str,
        tool: &str,
        arguments: &Map<String, Value>,
        now: SystemTime,
    ) -> Redeemed {
        let Some((until, nonce)) = self.check(state, key_id, tool, arguments, now) else {
            return Redeemed::Invalid;
        };
        let now_secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut redeemed = self.redeemed.lock().unwrap_or_else(PoisonError::into_inner);
        if redeemed.len() >= MAX_REDEEMED {
            redeemed.retain(|_, expires| *expires >= now_secs);
        }
        if redeemed.contains_key(&nonce) || redeemed.len() >= MAX_REDEEMED {
            return Redeemed::Used;
        }
        redeemed.insert(nonce, until);
        Redeemed::Fresh
    }
}

/// JSON with object keys sorted at every level: the same arguments in any key order give the
/// same text.
fn canonical(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for key in keys {
                    out.insert(key.clone(), sorted(&map[key]));
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_string(&sorted(value)).unwrap_or_default()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Longest confirmation message: a change that cannot be shown whole within it is not asked
/// about (and not made).
pub(crate) const MAX_MESSAGE_CHARS: usize = 16_000;

/// The message shown to the human: what the agent wants to do — the tool, its arguments whole,
/// and what the call does to other models through relational values — or `None` when that does
/// not fit in [`MAX_MESSAGE_CHARS`] (the change is then refused, never shown in part).
pub(crate) fn message(
    key_name: &str,
    call: &crate::catalog::ParsedCall,
    arguments: &Map<String, Value>,
) -> Option<String> {
    let args = serde_json::to_string_pretty(arguments).unwrap_or_default();
    let mut text = format!(
        "The agent using the key \"{key_name}\" wants to change Odoo data with {}:\n{args}\n",
        call.tool()
    );
    let nested = call.nested_changes();
    if !nested.is_empty() {
        text.push_str("\nThis also changes other records:\n");
        for change in nested {
            let what = match change.operation {
                crate::catalog::Operation::Create => "creates",
                crate::catalog::Operation::Write => "changes",
                crate::catalog::Operation::Unlink => "deletes or detaches",
                _ => "links to",
            };
            let ids: Vec<String> = change.ids.iter().map(i64::to_string).collect();
            let records = if ids.is_empty() {
                format!("{} records", change.model)
            } else {
                format!("{} {}", change.model, ids.join(", "))
            };
            text.push_str(&format!("- through {}: {what} {records}\n", change.via));
        }
    }
    text.push_str("\nAllow this change?");
    (text.chars().count() <= MAX_MESSAGE_CHARS).then_some(text)
}

/// The `elicitation/create` params asking for a yes/no confirmation (accept or decline).
pub(crate) fn elicitation_params(message: String) -> Value {
    json!({
        "message": message,
        "requestedSchema": {"type": "object", "properties": {}},
    })
}

/// The human's answer in an elicitation result: `Some(true)` accept, `Some(false)` decline or
/// cancel, `None` not a valid result.
pub(crate) fn accepted(result: &Value) -> Option<bool> {
    match result.get("action").and_then(Value::as_str)? {
        "accept" => Some(true),
        "decline" | "cancel" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Map<String, Value> {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn a_state_is_bound_to_key_tool_arguments_and_time() {
        let key = StateKey::random();
        let now = SystemTime::now();
        let a = args(r#"{"model": "res.partner", "ids": "[1]"}"#);
        let state = key.issue("k_1", "delete_records", &a, now);
        assert!(key.verify(&state, "k_1", "delete_records", &a, now));
        // Key order does not matter.
        let reordered = args(r#"{"ids": "[1]", "model": "res.partner"}"#);
        assert!(key.verify(&state, "k_1", "delete_records", &reordered, now));
        assert!(!key.verify(&state, "k_2", "delete_records", &a, now));
        assert!(!key.verify(&state, "k_1", "update_records", &a, now));
        let other = args(r#"{"model": "res.partner", "ids": "[2]"}"#);
        assert!(!key.verify(&state, "k_1", "delete_records", &other, now));
        let later = now + VALIDITY + Duration::from_secs(2);
        assert!(!key.verify(&state, "k_1", "delete_records", &a, later));
        assert!(!StateKey::random().verify(&state, "k_1", "delete_records", &a, now));
        // The last hex digit changed (to another digit, whatever it was).
        let last = state.len() - 1;
        let flipped = if state.ends_with('0') { '1' } else { '0' };
        let tampered = format!("{}{flipped}", &state[..last]);
        for bad in ["", "zz", &state[..70], &tampered] {
            assert!(!key.verify(bad, "k_1", "delete_records", &a, now), "{bad}");
        }
    }

    #[test]
    fn a_state_is_redeemed_once() {
        let key = StateKey::random();
        let now = SystemTime::now();
        let a = args(r#"{"model": "res.partner", "ids": "[1]"}"#);
        let state = key.issue("k_1", "delete_records", &a, now);
        assert_eq!(
            key.redeem(&state, "k_1", "delete_records", &a, now),
            Redeemed::Fresh
        );
        assert_eq!(
            key.redeem(&state, "k_1", "delete_records", &a, now),
            Redeemed::Used
        );
        // Another confirmation of the same call is another state, good once too.
        let again = key.issue("k_1", "delete_records", &a, now);
        assert_ne!(again, state);
        assert_eq!(
            key.redeem(&again, "k_1", "delete_records", &a, now),
            Redeemed::Fresh
        );
        assert_eq!(
            key.redeem(&again, "k_2", "delete_records", &a, now),
            Redeemed::Invalid
        );
    }

    #[test]
    fn answers_are_read_strictly() {
        assert_eq!(accepted(&json!({"action": "accept"})), Some(true));
        assert_eq!(accepted(&json!({"action": "decline"})), Some(false));
        assert_eq!(accepted(&json!({"action": "cancel"})), Some(false));
        assert_eq!(accepted(&json!({"action": "yes"})), None);
        assert_eq!(accepted(&json!({})), None);
    }
}
