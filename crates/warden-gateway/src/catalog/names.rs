//! Record names only from what the key can read. Odoo names a record with its `display_name`,
//! which it may build from other fields (a product's `[default_code] name`, a contact's e-mail),
//! and resolves a name to records with `_rec_names_search`, which may match fields the key cannot
//! read (a contact's e-mail, VAT, reference; a product's code or barcode). So:
//!
//! - a record's **label** is its `display_name` when the key may read it (it derives from no
//!   hidden field), else the first readable `complete_name` or `name`, else nothing (a bare id);
//! - a **name search** (`find_by_name`, a string compared with a relational field in a domain, a
//!   condition on `display_name`) runs as a plain condition on the model's readable name field
//!   (`complete_name` or `name`), never through Odoo's `_rec_names_search`.
//!
//! **Invariant:** no domain the gateway sends to Odoo names `display_name`, or compares a
//! relational field with anything but ids; a name shown for a record comes from a field the key
//! may read.

use serde_json::{Value, json};

use super::metadata::ModelView;

/// The fields that may name a record, best first, when `display_name` may not be shown.
const NAME_FIELDS: &[&str] = &["complete_name", "name"];

/// How the caller sees the name of a model's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Label {
    /// Odoo's own `display_name` (as in many2one values).
    Native,
    /// This readable field instead.
    Field(String),
    /// No readable name: records appear as bare ids.
    None,
}

/// The label of `view`'s records.
pub(crate) fn label(view: &ModelView) -> Label {
    if view.contains_key("display_name") {
        return Label::Native;
    }
    name_field(view).map_or(Label::None, |f| Label::Field(f.to_owned()))
}

/// The readable text field that names the model's records and can be searched: what a name
/// search runs on.
pub(crate) fn name_field(view: &ModelView) -> Option<&'static str> {
    NAME_FIELDS.iter().copied().find(|name| {
        view.get(name)
            .is_some_and(|f| f.searchable && matches!(f.ty.as_str(), "char" | "text"))
    })
}

/// Operators that compare a value with a field (the negative ones are rewritten as `!` of the
/// positive one, so that a record whose relation is empty matches as Odoo matches it).
fn positive(op: &str) -> Option<(&'static str, bool)> {
    Some(match op {
        "=" => ("=", false),
        "!=" => ("=", true),
        "in" => ("in", false),
        "not in" => ("in", true),
        "like" => ("like", false),
        "not like" => ("like", true),
        "ilike" => ("ilike", false),
        "not ilike" => ("ilike", true),
        "=like" => ("=like", false),
        "=ilike" => ("=ilike", false),
        _ => return None,
    })
}

/// How one condition compares a relational field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RelationalUse {
    /// With ids, emptiness or booleans: Odoo compares ids; nothing to rewrite.
    Ids,
    /// With text: Odoo would run the comodel's name search.
    Names,
}

/// Whether condition `op value` on a relational field compares ids or resolves names.
pub(crate) fn relational_use(op: &str, value: &Value) -> Result<RelationalUse, String> {
    let is_id = |v: &Value| v.is_i64() || v.is_boolean() || v.is_null();
    match op {
        // Odoo's like operators on a relation always run the name search, whatever the value.
        "like" | "not like" | "ilike" | "not ilike" | "=like" | "=ilike" => {
            Ok(RelationalUse::Names)
        }
        _ => match value {
            Value::Array(items) if items.iter().all(is_id) => Ok(RelationalUse::Ids),
            Value::Array(items) if items.iter().all(Value::is_string) => Ok(RelationalUse::Names),
            Value::Array(_) => {
                Err("compare a relation with ids or with names, not both in one list".to_owned())
            }
            Value::String(_) => Ok(RelationalUse::Names),
            _ if is_id(value) => Ok(RelationalUse::Ids),
            _ => Err(format!(
                "a relation is compared with record ids (or with names as text), found {}",
                super::domain::kind(value)
            )),
        },
    }
}

/// The condition `path op value` rewritten to compare `name_path` (the readable name field of
/// the records `path` designates) instead: `[name_path, op, value]`, or `["!", [...]]` for a
/// negative operator. `None` when the operator cannot be rewritten (`child_of`/`parent_of`
/// with names: give ids).
pub(crate) fn rewrite(name_path: &str, op: &str, value: &Value) -> Option<Vec<Value>> {
    let (op, negated) = positive(op)?;
    let leaf = json!([name_path, op, value]);
    Some(if negated {
        vec![json!("!"), leaf]
    } else {
        vec![leaf]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relations_compared_with_text_are_name_searches() {
        assert_eq!(relational_use("=", &json!(5)), Ok(RelationalUse::Ids));
        assert_eq!(relational_use("in", &json!([1, 2])), Ok(RelationalUse::Ids));
        assert_eq!(relational_use("=", &json!(false)), Ok(RelationalUse::Ids));
        assert_eq!(relational_use("!=", &json!(false)), Ok(RelationalUse::Ids));
        assert_eq!(
            relational_use("child_of", &json!(3)),
            Ok(RelationalUse::Ids)
        );
        assert_eq!(
            relational_use("=", &json!("Deco")),
            Ok(RelationalUse::Names)
        );
        assert_eq!(
            relational_use("in", &json!(["a", "b"])),
            Ok(RelationalUse::Names)
        );
        assert_eq!(
            relational_use("child_of", &json!("x")),
            Ok(RelationalUse::Names)
        );
        // A number is a name to the like operators (Odoo searches its text).
        assert_eq!(
            relational_use("ilike", &json!(42)),
            Ok(RelationalUse::Names)
        );
        assert!(relational_use("in", &json!([1, "a"])).is_err());
    }

    #[test]
    fn negative_operators_become_not_of_the_positive_one() {
        assert_eq!(
            rewrite("partner_id.name", "ilike", &json!("x")),
            Some(vec![json!(["partner_id.name", "ilike", "x"])])
        );
        assert_eq!(
            rewrite("partner_id.name", "not ilike", &json!("x")),
            Some(vec![json!("!"), json!(["partner_id.name", "ilike", "x"])])
        );
        assert_eq!(
            rewrite("partner_id.name", "!=", &json!("x")),
            Some(vec![json!("!"), json!(["partner_id.name", "=", "x"])])
        );
        assert_eq!(rewrite("partner_id.name", "child_of", &json!("x")), None);
    }
}
