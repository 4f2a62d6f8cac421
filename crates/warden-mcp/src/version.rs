//! MCP protocol revisions, their era, and the `initialize` version negotiation.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An MCP protocol revision that odoo-warden speaks.
///
/// Variants are ordered from oldest to newest, so `a < b` means `a` is the older revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ProtocolVersion {
    /// `2025-03-26`.
    V2025_03_26,
    /// `2025-06-18`.
    V2025_06_18,
    /// `2025-11-25`.
    V2025_11_25,
    /// `2026-07-28`: the stateless revision (no `initialize`, per-request `_meta`).
    V2026_07_28,
}

/// The two protocol eras, which differ in how a conversation is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Era {
    /// `initialize` handshake, negotiated once per session (2025-03-26 to 2025-11-25).
    Legacy,
    /// Stateless: every request carries its version and client capabilities in `_meta`
    /// (2026-07-28 and later).
    Modern,
}

/// Every revision odoo-warden speaks, newest first.
pub const SUPPORTED: [ProtocolVersion; 4] = [
    ProtocolVersion::V2026_07_28,
    ProtocolVersion::V2025_11_25,
    ProtocolVersion::V2025_06_18,
    ProtocolVersion::V2025_03_26,
];

/// The newest legacy-era revision: the answer to an `initialize` asking for an unknown revision.
pub const LATEST_LEGACY: ProtocolVersion = ProtocolVersion::V2025_11_25;

/// The newest revision odoo-warden speaks.
pub const LATEST: ProtocolVersion = ProtocolVersion::V2026_07_28;

impl ProtocolVersion {
    /// The revision as it appears on the wire, e.g. `"2025-06-18"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V2025_03_26 => "2025-03-26",
            Self::V2025_06_18 => "2025-06-18",
            Self::V2025_11_25 => "2025-11-25",
            Self::V2026_07_28 => "2026-07-28",
        }
    }

    /// Parses a wire revision string; `None` if odoo-warden does not speak it.
    pub fn parse(s: &str) -> Option<Self> {
        SUPPORTED.into_iter().find(|v| v.as_str() == s)
    }

    /// The era the revision belongs to.
    pub const fn era(self) -> Era {
        match self {
            Self::V2025_03_26 | Self::V2025_06_18 | Self::V2025_11_25 => Era::Legacy,
            Self::V2026_07_28 => Era::Modern,
        }
    }

    /// The wire strings of every supported revision, newest first (the `supported` list of an
    /// unsupported-version error and of `server/discover`).
    pub fn supported_strings() -> Vec<String> {
        SUPPORTED.iter().map(|v| v.as_str().to_owned()).collect()
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A protocol revision string odoo-warden does not speak.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported protocol version")]
#[non_exhaustive]
pub struct UnknownVersion;

impl FromStr for ProtocolVersion {
    type Err = UnknownVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or(UnknownVersion)
    }
}

impl Serialize for ProtocolVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ProtocolVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom("unsupported protocol version"))
    }
}

/// The revision to answer an `initialize` request with: the requested one if it is a legacy
/// revision odoo-warden speaks, otherwise [`LATEST_LEGACY`] (the client then decides whether it
/// can continue). `initialize` belongs to the legacy era, so a request for 2026-07-28 through
/// `initialize` is answered with the latest legacy revision too.
pub fn negotiate(requested: &str) -> ProtocolVersion {
    match ProtocolVersion::parse(requested) {
        Some(v) if v.era() == Era::Legacy => v,
        _ => LATEST_LEGACY,
    }
}
