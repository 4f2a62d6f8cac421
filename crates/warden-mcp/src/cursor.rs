//! Opaque pagination cursors.
//!
//! A cursor encodes a list offset in a versioned, checked form: the hex encoding of a format
//! byte, the offset (64 bits, big-endian) and a 32-bit checksum over both. Cursors are not
//! secret and not signed; the checksum only makes a truncated, altered or foreign cursor an error
//! instead of a silently wrong page. Callers still bound the offset against the list they page.

use std::fmt;

/// The format byte of the current cursor layout.
const FORMAT: u8 = 1;
/// Bytes in a decoded cursor: format, offset, checksum.
const LEN: usize = 1 + 8 + 4;
/// Domain separation for the checksum, so cursors of other software do not check by accident.
const DOMAIN: &[u8] = b"odoo-warden/mcp-cursor";

/// An opaque pagination cursor (`nextCursor` in list results, `cursor` in list requests).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor(String);

/// A cursor that this server did not issue, or that was altered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CursorError {
    /// Wrong length or characters.
    #[error("invalid cursor")]
    Malformed,
    /// A cursor layout this server does not know.
    #[error("invalid cursor: unknown format")]
    UnknownFormat,
    /// The checksum does not match.
    #[error("invalid cursor: checksum mismatch")]
    Checksum,
}

/// FNV-1a (32 bits) over the domain and `bytes`.
fn checksum(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for &b in DOMAIN.iter().chain(bytes) {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl Cursor {
    /// The cursor for the page starting at `offset`.
    pub fn encode(offset: u64) -> Self {
        let mut bytes = [0u8; LEN];
        bytes[0] = FORMAT;
        bytes[1..9].copy_from_slice(&offset.to_be_bytes());
        let sum = checksum(&bytes[..9]);
        bytes[9..].copy_from_slice(&sum.to_be_bytes());
        Self(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The offset a cursor stands for. Any string that this server did not produce with
    /// [`Cursor::encode`] is an error (never a panic), which callers answer with `-32602`.
    pub fn decode(cursor: &str) -> Result<u64, CursorError> {
        let text = cursor.as_bytes();
        if text.len() != LEN * 2 {
            return Err(CursorError::Malformed);
        }
        let mut bytes = [0u8; LEN];
        for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
            let (Some(hi), Some(lo)) = (hex_value(pair[0]), hex_value(pair[1])) else {
                return Err(CursorError::Malformed);
            };
            *byte = hi << 4 | lo;
        }
        if bytes[0] != FORMAT {
            return Err(CursorError::UnknownFormat);
        }
        let mut sum = [0u8; 4];
        sum.copy_from_slice(&bytes[9..]);
        if u32::from_be_bytes(sum) != checksum(&bytes[..9]) {
            return Err(CursorError::Checksum);
        }
        let mut offset = [0u8; 8];
        offset.copy_from_slice(&bytes[1..9]);
        Ok(u64::from_be_bytes(offset))
    }

    /// The cursor as sent on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The cursor as an owned string (for `nextCursor`).
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Cursor> for String {
    fn from(cursor: Cursor) -> Self {
        cursor.0
    }
}
