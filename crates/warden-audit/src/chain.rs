//! The hash chain of the JSONL audit files.
//!
//! Every line of a file is one JSON object: `seq` (the line's number in its stream, counting
//! across files), `prev` (the SHA-256, in hex, of the previous line's bytes), then the members of
//! the event. When a seal key is configured, the line ends with `mac`: HMAC-SHA256 under that key
//! of every byte of the line before `,"mac":`. The next line's `prev` is the SHA-256 of the whole
//! line, `mac` included.
//!
//! With an Ed25519 signing key ([`crate::signing`]), the line then ends with `sig`: the
//! signature of every byte of the line before `,"sig":` (the `mac`, if any, included), checked
//! with the public key alone.
//!
//! So changing a byte of a line breaks the next line's `prev`; removing or reordering lines
//! breaks `seq` and `prev`; and without the seal key (or the private signing key), nobody can
//! write a chain that verifies under it. A sealed or signed line also vouches for every line
//! before it, through its `prev`. Every file opens with a `chain` record (`op: file_start`) whose `prev` is the hash of
//! the last line of the stream's previous file: files are linked, and a missing file is found.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::signing::{SIGNATURE_HEX_LEN, SigningKey};

/// The `prev` of the first line of a stream.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The member a sealed line ends with (before its `}` or its `sig`): `,"mac":"` 64 hex `"`.
const MAC_MEMBER_LEN: usize = 8 + 64 + 1;

/// The member a signed line ends with (before its `}`): `,"sig":"` 128 hex `"`.
const SIG_MEMBER_LEN: usize = 8 + SIGNATURE_HEX_LEN + 1;

/// The SHA-256 of `bytes` in lowercase hex.
pub fn hash_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// The key that seals every line (HMAC-SHA256). Its bytes never appear in `Debug`.
#[derive(Clone)]
pub struct SealKey(Vec<u8>);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

impl SealKey {
    /// A seal key of `bytes` (at least 32).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, String> {
        let bytes = bytes.into();
        if bytes.len() < 32 {
            return Err("the seal key must be at least 32 bytes".to_owned());
        }
        Ok(Self(bytes))
    }

    fn mac(&self, body: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable_hmac());
        mac.update(body);
        mac
    }

    /// The seal of `body`, in hex.
    pub fn seal_hex(&self, body: &[u8]) -> String {
        hex(&self.mac(body).finalize().into_bytes())
    }

    /// Whether `seal` (hex) is the seal of `body`; compared in constant time.
    pub fn verify_hex(&self, body: &[u8], seal: &str) -> bool {
        let expected = self.seal_hex(body);
        expected.as_bytes().ct_eq(seal.as_bytes()).into()
    }
}

/// HMAC accepts keys of every length; this is never called.
#[cold]
fn unreachable_hmac() -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(&[0u8; 32]).unwrap_or_else(|_| std::process::abort())
}

/// One line of the chain: `{"seq":N,"prev":"…",` + the members of `object` (a JSON object's
/// text) + (sealed) `,"mac":"…"` + (signed) `,"sig":"…"`, without the newline. Every store of
/// the chain (files, the PostgreSQL table) writes lines made here.
pub fn encode_line(
    seq: u64,
    prev: &str,
    object: &str,
    seal: Option<&SealKey>,
    signer: Option<&SigningKey>,
) -> String {
    let members = object
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .unwrap_or("");
    let mut line = String::with_capacity(members.len() + 280);
    line.push_str("{\"seq\":");
    line.push_str(&seq.to_string());
    line.push_str(",\"prev\":\"");
    line.push_str(prev);
    line.push('"');
    if !members.is_empty() {
        line.push(',');
        line.push_str(members);
    }
    if let Some(key) = seal {
        let mac = key.seal_hex(line.as_bytes());
        line.push_str(",\"mac\":\"");
        line.push_str(&mac);
        line.push('"');
    }
    if let Some(key) = signer {
        let sig = key.sign_hex(line.as_bytes());
        line.push_str(",\"sig\":\"");
        line.push_str(&sig);
        line.push('"');
    }
    line.push('}');
    line
}

/// What a line ends with: its seal and its signature, each with the bytes it covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Trailer<'a> {
    /// The bytes the seal covers, and the seal (hex).
    pub mac: Option<(&'a str, &'a str)>,
    /// The bytes the signature covers, and the signature (hex).
    pub sig: Option<(&'a str, &'a str)>,
}

/// The trailing `,"name":"<hex>"` member of `inner` (a line without its `}`), when there is one
/// of `len` bytes: what comes before it, and the hex.
fn trailing_member<'a>(inner: &'a str, name: &str, len: usize) -> Option<(&'a str, &'a str)> {
    if inner.len() < len || !inner.is_char_boundary(inner.len() - len) {
        return None;
    }
    let (body, member) = inner.split_at(inner.len() - len);
    let value = member
        .strip_prefix(",\"")?
        .strip_prefix(name)?
        .strip_prefix("\":\"")?
        .strip_suffix('"')?;
    value
        .bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then_some((body, value))
}

/// The seal and the signature a line ends with, if any.
pub fn trailer(line: &str) -> Trailer<'_> {
    let Some(mut inner) = line.strip_suffix('}') else {
        return Trailer::default();
    };
    let sig = trailing_member(inner, "sig", SIG_MEMBER_LEN);
    if let Some((body, _)) = sig {
        inner = body;
    }
    let mac = trailing_member(inner, "mac", MAC_MEMBER_LEN);
    Trailer { mac, sig }
}

/// What the chain itself records: file starts, retention and closes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ChainRecord {
    /// The first line of every file.
    FileStart {
        /// The stream the file belongs to.
        stream: String,
        /// This file's name.
        file: String,
        /// The stream's previous file, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_file: Option<String>,
        /// Why the writer began a new file: `start`, `day`, `size`.
        reason: String,
        /// Bytes of a torn last line the previous file ends with (the previous writer was
        /// stopped mid-write), left as found.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        torn_tail_bytes: Option<u64>,
        /// The line the stream's head named when the writer took the stream over, when the
        /// writer found the stream ending before it: lines after the one it goes on from were
        /// lost (a power loss with relaxed durability) or removed while no writer ran.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        head_ahead: Option<HeadAhead>,
    },
    /// Files of the stream removed by retention (written before they are removed).
    Retention {
        /// The removed files, oldest first.
        removed: Vec<RemovedFile>,
        /// Retention in days.
        retention_days: u32,
    },
    /// A writer took a stream kept in a database table (the PostgreSQL sink) and goes on from
    /// its last row: the first row of such a stream, and the first row of every start after.
    WriterStart {
        /// The stream.
        stream: String,
        /// The store, e.g. `postgres`.
        store: String,
    },
    /// The last line of a file the writer closed (rotation or shutdown).
    Close {
        /// `day`, `size` or `shutdown`.
        reason: String,
    },
}

/// Where the head said a stream ended: see [`ChainRecord::FileStart`]'s `head_ahead`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadAhead {
    /// The file the head named.
    pub file: String,
    /// The `seq` the head named.
    pub seq: u64,
}

/// A file removed by retention, with what the next file's start links to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedFile {
    /// Its name.
    pub file: String,
    /// The `seq` of its last line.
    pub last_seq: u64,
    /// The hash of its last line.
    pub last_hash: String,
}

/// The members of a chain line that verification reads.
#[derive(Debug, Deserialize)]
pub struct LineHead {
    /// The line's number in its stream.
    pub seq: u64,
    /// The hash of the line before it.
    pub prev: String,
    /// The event's kind (`chain` for the chain's own records).
    #[serde(default)]
    pub kind: Option<String>,
    /// The event's id.
    #[serde(default)]
    pub id: Option<String>,
    /// The chain record, for `kind: chain`.
    #[serde(default)]
    pub chain: Option<ChainRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_carries_seq_prev_and_the_members() {
        let line = encode_line(7, GENESIS, r#"{"a":1,"b":"x"}"#, None, None);
        let value: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(value["seq"], 7);
        assert_eq!(value["prev"], GENESIS);
        assert_eq!(value["a"], 1);
        assert_eq!(value["b"], "x");
    }

    #[test]
    fn a_sealed_line_verifies_only_under_its_key() {
        let key = SealKey::new(vec![7u8; 32]).expect("key");
        let other = SealKey::new(vec![8u8; 32]).expect("key");
        let line = encode_line(1, GENESIS, r#"{"a":1}"#, Some(&key), None);
        serde_json::from_str::<serde_json::Value>(&line).expect("still json");
        let (body, mac) = trailer(&line).mac.expect("sealed");
        assert!(key.verify_hex(body.as_bytes(), mac));
        assert!(!other.verify_hex(body.as_bytes(), mac));
        let edited = body.replace("\"a\":1", "\"a\":2");
        assert!(!key.verify_hex(edited.as_bytes(), mac));
    }

    #[test]
    fn a_signed_line_verifies_with_the_public_key_and_covers_the_seal() {
        let seal = SealKey::new(vec![7u8; 32]).expect("key");
        let (signer, _) = SigningKey::generate().expect("key");
        let public = signer.public_key();
        let line = encode_line(3, GENESIS, r#"{"a":1}"#, Some(&seal), Some(&signer));
        let value: serde_json::Value = serde_json::from_str(&line).expect("still json");
        assert_eq!(value["a"], 1);
        let found = trailer(&line);
        let (signed, sig) = found.sig.expect("signed");
        let (sealed, mac) = found.mac.expect("sealed");
        assert!(public.verify_hex(signed.as_bytes(), sig));
        assert!(seal.verify_hex(sealed.as_bytes(), mac));
        assert!(signed.ends_with(&format!("\"mac\":\"{mac}\"")), "{signed}");
        let forged = signed.replace("\"a\":1", "\"a\":2");
        assert!(!public.verify_hex(forged.as_bytes(), sig));
        // Signed only.
        let line = encode_line(3, GENESIS, r#"{"a":1}"#, None, Some(&signer));
        let found = trailer(&line);
        assert!(found.mac.is_none());
        let (signed, sig) = found.sig.expect("signed");
        assert!(public.verify_hex(signed.as_bytes(), sig));
        // Neither.
        assert_eq!(
            trailer(&encode_line(3, GENESIS, "{}", None, None)),
            Trailer::default()
        );
    }

    #[test]
    fn short_keys_are_refused_and_never_shown() {
        assert!(SealKey::new(vec![1u8; 31]).is_err());
        let key = SealKey::new(b"a-very-secret-seal-key-of-32-bytes!!".to_vec()).expect("key");
        assert!(!format!("{key:?}").contains("secret"));
    }

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(
            hash_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
