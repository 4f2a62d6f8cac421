//! Typed queries and answers: [`SearchRead`], [`ReadGroup`], [`ServerVersion`].

use serde_json::{Value, json};

use crate::error::OdooError;

/// A `search_read` query.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRead {
    /// Odoo domain, e.g. `[["is_company", "=", true]]` (default: all records).
    pub domain: Value,
    /// Fields to read (empty: Odoo's default, all readable fields).
    pub fields: Vec<String>,
    /// Records to skip.
    pub offset: u64,
    /// Maximum number of records.
    pub limit: Option<u64>,
    /// Sort order, e.g. `"name asc"`.
    pub order: Option<String>,
}

impl SearchRead {
    /// A query for the records matching `domain`, with Odoo's defaults for the rest.
    pub fn new(domain: Value) -> Self {
        Self {
            domain,
            ..Self::default()
        }
    }
}

impl Default for SearchRead {
    fn default() -> Self {
        Self {
            domain: json!([]),
            fields: Vec::new(),
            offset: 0,
            limit: None,
            order: None,
        }
    }
}

/// A `read_group` query.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadGroup {
    /// Odoo domain (default: all records).
    pub domain: Value,
    /// Aggregates, e.g. `["amount_total:sum"]`.
    pub fields: Vec<String>,
    /// Group-by fields, e.g. `["partner_id"]`.
    pub groupby: Vec<String>,
    /// Groups to skip.
    pub offset: u64,
    /// Maximum number of groups.
    pub limit: Option<u64>,
    /// Group order.
    pub orderby: Option<String>,
    /// Group by the first field only (Odoo's default, true).
    pub lazy: bool,
}

impl ReadGroup {
    /// Group the records matching `domain` by `groupby`, aggregating `fields`.
    pub fn new(domain: Value, fields: Vec<String>, groupby: Vec<String>) -> Self {
        Self {
            domain,
            fields,
            groupby,
            ..Self::default()
        }
    }
}

impl Default for ReadGroup {
    fn default() -> Self {
        Self {
            domain: json!([]),
            fields: Vec::new(),
            groupby: Vec::new(),
            offset: 0,
            limit: None,
            orderby: None,
            lazy: true,
        }
    }
}

/// The version an Odoo server reports.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerVersion {
    /// E.g. `"18.0"` or `"saas~17.4"`.
    pub server_version: String,
    /// E.g. `[18, 0, 0, "final", 0, ""]`.
    pub server_version_info: Vec<Value>,
    /// The major version, e.g. 18.
    pub major: u32,
}

impl ServerVersion {
    /// Read a `version_info` / `common.version` answer.
    pub fn from_value(value: &Value) -> Result<Self, OdooError> {
        let server_version = value
            .get("server_version")
            .and_then(Value::as_str)
            .ok_or_else(|| OdooError::unparseable("version answer without server_version"))?
            .to_owned();
        let server_version_info = value
            .get("server_version_info")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let from_info = server_version_info
            .first()
            .and_then(Value::as_u64)
            .and_then(|m| u32::try_from(m).ok());
        let major = match from_info {
            Some(major) => major,
            None => major_from_text(&server_version).ok_or_else(|| {
                OdooError::unparseable("cannot read the major version of the server")
            })?,
        };
        Ok(Self {
            server_version,
            server_version_info,
            major,
        })
    }
}

/// `"18.0"` -> 18, `"saas~17.4"` -> 17.
fn major_from_text(text: &str) -> Option<u32> {
    let digits: String = text
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_major_from_info_or_text() {
        let v = ServerVersion::from_value(
            &json!({"server_version": "18.0", "server_version_info": [18, 0, 0, "final", 0, ""]}),
        )
        .expect("parses");
        assert_eq!(v.major, 18);
        let v = ServerVersion::from_value(&json!({"server_version": "saas~17.4"})).expect("parses");
        assert_eq!(v.major, 17);
        assert!(ServerVersion::from_value(&json!({})).is_err());
    }
}
