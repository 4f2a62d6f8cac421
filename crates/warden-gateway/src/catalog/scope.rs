//! A key's records domains on every model a filter reaches, not only the model searched. A
//! condition that follows a relation (`order_id.client_order_ref`) into a model whose records the
//! key sees only in part would otherwise answer for records outside that part: the count of
//! order lines whose order's reference starts with "SECRET" tells about an order the key may not
//! read. Each such hop becomes Odoo's `any` operator with that model's records domain inside:
//! `[("order_id", "any", [<records domain of sale.order>, ("client_order_ref", "=ilike", "SECRET%")])]`.
//!
//! **Invariant:** every record a domain condition looks at through a relation is within the
//! key's records domain of that record's model.

use serde_json::{Value, json};

/// One relation a condition's path goes through: the segment and the records domain of the model
/// it leads to, if the key has one there.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hop {
    pub(crate) segment: String,
    pub(crate) records: Option<Value>,
}

/// The condition `[path, op, value]` (its path made of `hops` then `last`), rewritten so that
/// each hop into a model with a records domain only reaches records within it.
pub(crate) fn scoped(hops: &[Hop], last: &str, op: &str, value: &Value) -> Value {
    let Some(first) = hops.iter().position(|hop| hop.records.is_some()) else {
        let mut path: Vec<&str> = hops.iter().map(|hop| hop.segment.as_str()).collect();
        path.push(last);
        return json!([path.join("."), op, value]);
    };
    let prefix: Vec<&str> = hops[..=first]
        .iter()
        .map(|hop| hop.segment.as_str())
        .collect();
    let inner = scoped(&hops[first + 1..], last, op, value);
    let mut terms = match hops[first].records.clone() {
        Some(Value::Array(terms)) => terms,
        Some(other) => vec![other],
        None => Vec::new(),
    };
    terms.push(inner);
    json!([prefix.join("."), "any", terms])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(segment: &str, records: Option<Value>) -> Hop {
        Hop {
            segment: segment.to_owned(),
            records,
        }
    }

    #[test]
    fn paths_through_models_without_a_records_domain_are_unchanged() {
        assert_eq!(
            scoped(&[hop("partner_id", None)], "city", "=", &json!("Namur")),
            json!(["partner_id.city", "=", "Namur"])
        );
        assert_eq!(
            scoped(&[], "name", "ilike", &json!("x")),
            json!(["name", "ilike", "x"])
        );
    }

    #[test]
    fn each_hop_into_a_restricted_model_is_an_any_with_its_domain() {
        let mine = json!([["user_id", "=", 8]]);
        assert_eq!(
            scoped(
                &[hop("order_id", Some(mine.clone()))],
                "client_order_ref",
                "=ilike",
                &json!("SECRET%")
            ),
            json!([
                "order_id",
                "any",
                [
                    ["user_id", "=", 8],
                    ["client_order_ref", "=ilike", "SECRET%"]
                ]
            ])
        );
        let companies = json!([["company_id", "=", 1]]);
        assert_eq!(
            scoped(
                &[
                    hop("order_id", None),
                    hop("partner_id", Some(companies)),
                    hop("parent_id", None)
                ],
                "name",
                "=",
                &json!("x")
            ),
            json!([
                "order_id.partner_id",
                "any",
                [["company_id", "=", 1], ["parent_id.name", "=", "x"]]
            ])
        );
        let nested = scoped(
            &[
                hop("order_id", Some(mine.clone())),
                hop("partner_id", Some(json!([["active", "=", true]]))),
            ],
            "name",
            "=",
            &json!("x"),
        );
        assert_eq!(
            nested,
            json!([
                "order_id",
                "any",
                [
                    ["user_id", "=", 8],
                    [
                        "partner_id",
                        "any",
                        [["active", "=", true], ["name", "=", "x"]]
                    ]
                ]
            ])
        );
    }
}
