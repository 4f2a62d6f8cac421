//! The service's own data: partners and orders, in memory. Nothing here knows about keys,
//! profiles or the audit log.

use serde_json::{Map, Value, json};

/// The fields of a partner, as the policy names them (model `partner`).
pub const PARTNER_FIELDS: &[&str] = &["id", "name", "email", "phone", "city"];
/// The fields of an order (model `order`).
pub const ORDER_FIELDS: &[&str] = &["id", "partner_id", "amount", "note", "state"];

/// Partners and orders.
#[derive(Debug)]
pub struct Data {
    partners: Vec<Map<String, Value>>,
    orders: Vec<Map<String, Value>>,
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Only the `fields` of `record`.
fn pick(record: &Map<String, Value>, fields: &[String]) -> Value {
    let picked: Map<String, Value> = fields
        .iter()
        .filter_map(|f| record.get(f).map(|v| (f.clone(), v.clone())))
        .collect();
    Value::Object(picked)
}

impl Data {
    /// A few partners and orders to start with.
    pub fn sample() -> Self {
        let partners = [
            json!({"id": 1, "name": "Azure Interior", "email": "azure@example.com", "phone": "+32 2 555 01 01", "city": "Brussels"}),
            json!({"id": 2, "name": "Deco Addict", "email": "deco@example.com", "phone": "+32 2 555 02 02", "city": "Namur"}),
            json!({"id": 3, "name": "Gemini Furniture", "email": "gemini@example.com", "phone": "+32 2 555 03 03", "city": "Liège"}),
        ];
        let orders = [
            json!({"id": 1, "partner_id": 1, "amount": 1250.0, "note": "Two desks", "state": "confirmed"}),
            json!({"id": 2, "partner_id": 3, "amount": 480.5, "note": "", "state": "draft"}),
        ];
        Self {
            partners: partners.into_iter().map(object).collect(),
            orders: orders.into_iter().map(object).collect(),
        }
    }

    /// Every partner, with only `fields`.
    pub fn partners(&self, fields: &[String]) -> Vec<Value> {
        self.partners.iter().map(|p| pick(p, fields)).collect()
    }

    /// One order, with only `fields`.
    pub fn order(&self, id: i64, fields: &[String]) -> Option<Value> {
        self.orders
            .iter()
            .find(|o| o.get("id").and_then(Value::as_i64) == Some(id))
            .map(|o| pick(o, fields))
    }

    /// Records a new draft order from `values` (already checked against the policy) and
    /// returns its id, or says what is wrong with the values.
    pub fn create_order(&mut self, values: &Map<String, Value>) -> Result<i64, String> {
        let partner = values
            .get("partner_id")
            .and_then(Value::as_i64)
            .ok_or("partner_id: required, a partner id")?;
        if !self
            .partners
            .iter()
            .any(|p| p.get("id").and_then(Value::as_i64) == Some(partner))
        {
            return Err(format!("partner_id: no partner {partner}"));
        }
        let note = match values.get("note") {
            None => "",
            Some(Value::String(note)) => note,
            Some(_) => return Err("note: a string".to_owned()),
        };
        let id = self
            .orders
            .iter()
            .filter_map(|o| o.get("id").and_then(Value::as_i64))
            .max()
            .unwrap_or(0)
            + 1;
        self.orders.push(object(json!({
            "id": id,
            "partner_id": partner,
            "amount": 0.0,
            "note": note,
            "state": "draft",
        })));
        Ok(id)
    }
}
