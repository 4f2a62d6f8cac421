//! Ed25519 signatures: what lets an auditor check the log with a public key alone.
//!
//! With a [`SigningKey`], the file sink signs every line (a `sig` member, see [`crate::chain`]),
//! the head file and the checkpoints ([`crate::checkpoint`]); whoever holds the matching
//! [`PublicKey`] can check all three, and nobody without the private key can make a signature
//! that verifies. An HMAC seal ([`crate::chain::SealKey`]) needs the secret itself to be checked,
//! so whoever checks could also forge; a signature does not.
//!
//! Keys are read and written in the formats other tools use: the private key as PKCS#8 in PEM
//! (`-----BEGIN PRIVATE KEY-----`, as `openssl genpkey -algorithm ed25519` writes it), the public
//! key as SubjectPublicKeyInfo in PEM (`-----BEGIN PUBLIC KEY-----`, as `openssl pkey -pubout`
//! writes it). Signatures are 128 hex digits. The crypto is `ring`'s.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};

use crate::chain::{hash_hex, hex};

/// The DER prefix of an Ed25519 private key in PKCS#8 v1 (RFC 8410), before its 32-byte seed.
const PKCS8_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410), before its 32-byte key.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Length of a signature in hex.
pub const SIGNATURE_HEX_LEN: usize = 128;

/// Why a key could not be read. The message never holds key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

impl KeyError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// An Ed25519 private key. Its bytes never appear in `Debug`; clones share one key pair.
#[derive(Clone)]
pub struct SigningKey {
    pair: Arc<Ed25519KeyPair>,
    id: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey(id {}, ..)", self.id)
    }
}

impl SigningKey {
    /// A key from its text: PKCS#8 in PEM (`BEGIN PRIVATE KEY`), or the same DER in base64
    /// without the armour (handy in an environment variable).
    pub fn from_text(text: &str) -> Result<Self, KeyError> {
        let der = decode("PRIVATE KEY", text).map_err(|e| {
            KeyError::new(format!(
                "not an Ed25519 private key in PEM (BEGIN PRIVATE KEY): {e}"
            ))
        })?;
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(|_| {
            KeyError::new("not an Ed25519 private key (PKCS#8, as odoo-warden audit keygen or openssl genpkey -algorithm ed25519 write it)")
        })?;
        Ok(Self::from_pair(pair))
    }

    /// A new random key, with its private key as PKCS#8 PEM (write it 0600; never print it).
    pub fn generate() -> Result<(Self, String), KeyError> {
        use ring::rand::SecureRandom as _;
        let mut der = Vec::with_capacity(48);
        der.extend_from_slice(&PKCS8_V1_PREFIX);
        let mut seed = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut seed)
            .map_err(|_| KeyError::new("the system's random number generator failed"))?;
        der.extend_from_slice(&seed);
        seed.fill(0);
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .map_err(|_| KeyError::new("cannot build the new key"))?;
        let pem = encode("PRIVATE KEY", &der);
        der.fill(0);
        Ok((Self::from_pair(pair), pem))
    }

    fn from_pair(pair: Ed25519KeyPair) -> Self {
        let id = key_id(pair.public_key().as_ref());
        Self {
            pair: Arc::new(pair),
            id,
        }
    }

    /// The public key that checks this key's signatures.
    pub fn public_key(&self) -> PublicKey {
        let mut raw = [0u8; 32];
        raw.copy_from_slice(self.pair.public_key().as_ref());
        PublicKey {
            raw,
            id: self.id.clone(),
        }
    }

    /// A short name of the key pair: the first 16 hex digits of the SHA-256 of the public key.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The signature of `message`, in hex (128 digits).
    pub fn sign_hex(&self, message: &[u8]) -> String {
        hex(self.pair.sign(message).as_ref())
    }
}

/// An Ed25519 public key: checks signatures, cannot make them.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    raw: [u8; 32],
    id: String,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey(id {})", self.id)
    }
}

impl PublicKey {
    /// A public key from its text: SubjectPublicKeyInfo in PEM (`BEGIN PUBLIC KEY`), the same
    /// DER in base64, or the raw 32 bytes in hex (64 digits) or base64.
    pub fn from_text(text: &str) -> Result<Self, KeyError> {
        let trimmed = text.trim();
        if trimmed.len() == 64 && trimmed.bytes().all(|b| b.is_ascii_hexdigit()) {
            let bytes = unhex(trimmed).ok_or_else(|| KeyError::new("not hex"))?;
            return Self::from_raw(&bytes);
        }
        let der = decode("PUBLIC KEY", text).map_err(|e| {
            KeyError::new(format!(
                "not an Ed25519 public key in PEM (BEGIN PUBLIC KEY): {e}"
            ))
        })?;
        match der.len() {
            32 => Self::from_raw(&der),
            44 if der[..12] == SPKI_PREFIX => Self::from_raw(&der[12..]),
            _ => Err(KeyError::new(
                "not an Ed25519 public key (SubjectPublicKeyInfo, as odoo-warden audit keygen or openssl pkey -pubout write it)",
            )),
        }
    }

    fn from_raw(bytes: &[u8]) -> Result<Self, KeyError> {
        let raw: [u8; 32] = bytes
            .try_into()
            .map_err(|_| KeyError::new("an Ed25519 public key is 32 bytes"))?;
        Ok(Self {
            raw,
            id: key_id(&raw),
        })
    }

    /// The key as PEM (SubjectPublicKeyInfo), as `odoo-warden audit keygen` writes it.
    pub fn to_pem(&self) -> String {
        let mut der = Vec::with_capacity(44);
        der.extend_from_slice(&SPKI_PREFIX);
        der.extend_from_slice(&self.raw);
        encode("PUBLIC KEY", &der)
    }

    /// The key's short name (see [`SigningKey::id`]).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether `signature` (hex) is a signature of `message` by the private key.
    pub fn verify_hex(&self, message: &[u8], signature: &str) -> bool {
        let Some(signature) = unhex(signature) else {
            return false;
        };
        UnparsedPublicKey::new(&ED25519, &self.raw)
            .verify(message, &signature)
            .is_ok()
    }
}

/// The first 16 hex digits of the SHA-256 of a raw public key.
fn key_id(raw: &[u8]) -> String {
    hash_hex(raw)[..16].to_owned()
}

/// PEM with lines of 64 characters.
fn encode(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// The DER inside PEM armour labelled `label`, or bare base64.
fn decode(label: &str, text: &str) -> Result<Vec<u8>, String> {
    let text = text.trim();
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body = if let Some(rest) = text.strip_prefix(&begin) {
        rest.strip_suffix(&end)
            .ok_or_else(|| format!("no {end} line"))?
    } else if text.starts_with("-----BEGIN") {
        return Err(format!("expected {begin}"));
    } else {
        text
    };
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Err("empty".to_owned());
    }
    STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| "not base64".to_owned())
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test key pair made by `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout`.
    const OPENSSL_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIBuCSiaVFT2ozQXORlV59n2vmkgA0dCL13lYd3C289+c
-----END PRIVATE KEY-----
";
    const OPENSSL_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEA5J0te1+LHIucWacjgENlYuKFxRIfqfZTfoaFI3H14Bw=
-----END PUBLIC KEY-----
";

    #[test]
    fn keys_of_openssl_are_read_and_written_alike() {
        let key = SigningKey::from_text(OPENSSL_PRIVATE).expect("private key");
        let public = PublicKey::from_text(OPENSSL_PUBLIC).expect("public key");
        assert_eq!(key.public_key(), public);
        assert_eq!(public.to_pem(), OPENSSL_PUBLIC);
        let signature = key.sign_hex(b"message");
        assert_eq!(signature.len(), SIGNATURE_HEX_LEN);
        assert!(public.verify_hex(b"message", &signature));
        assert!(!public.verify_hex(b"messagE", &signature));
        assert!(!public.verify_hex(b"message", "00"));
        // Without the armour, as an environment variable may hold it; the raw key in hex.
        let bare: String = OPENSSL_PRIVATE
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        assert_eq!(SigningKey::from_text(&bare).expect("bare").id(), key.id());
        let raw_hex = hex(&public.raw);
        assert_eq!(PublicKey::from_text(&raw_hex).expect("hex"), public);
    }

    #[test]
    fn generated_keys_round_trip_through_pem_and_never_show() {
        let (key, pem) = SigningKey::generate().expect("generate");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
        let again = SigningKey::from_text(&pem).expect("read back");
        assert_eq!(again.public_key(), key.public_key());
        assert_eq!(key.id().len(), 16);
        let shown = format!("{key:?} {:?}", key.public_key());
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        assert!(!shown.contains(&body[20..40]), "{shown}");
        let (other, _) = SigningKey::generate().expect("generate");
        assert_ne!(other.id(), key.id());
    }

    #[test]
    fn wrong_texts_are_refused() {
        for text in [
            "",
            "not base64 !",
            OPENSSL_PUBLIC,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAw",
        ] {
            assert!(SigningKey::from_text(text).is_err(), "{text:?}");
        }
        for text in ["", OPENSSL_PRIVATE, "abcd", &"zz".repeat(32)] {
            assert!(PublicKey::from_text(text).is_err(), "{text:?}");
        }
    }
}
