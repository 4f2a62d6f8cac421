//! The in-memory tables of the simulated database.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::{self, Model};

/// One record: stored field values by field name (empty values are absent or `Null`).
pub(crate) type Row = BTreeMap<&'static str, Value>;

/// One model's records.
#[derive(Clone, Debug, Default)]
pub(crate) struct Table {
    pub(crate) rows: BTreeMap<i64, Row>,
    pub(crate) next_id: i64,
}

/// The whole database. Cloned to roll a failed request back.
#[derive(Clone, Debug, Default)]
pub(crate) struct Db {
    pub(crate) tables: BTreeMap<&'static str, Table>,
    /// `context.lang` translations of translatable fields: (model, field, id, lang) -> text.
    pub(crate) translations: BTreeMap<(&'static str, &'static str, i64, &'static str), String>,
    /// A monotonically increasing clock for create/write dates (seconds since the seed time).
    pub(crate) clock: u64,
    /// The attribute values of product variants, as their display names end: id -> "(Steel, White)".
    pub(crate) variants: BTreeMap<i64, String>,
}

impl Db {
    pub(crate) fn table(&self, model: &str) -> Option<&Table> {
        self.tables.get(model)
    }

    pub(crate) fn table_mut(&mut self, model: &'static str) -> &mut Table {
        self.tables.entry(model).or_default()
    }

    pub(crate) fn row(&self, model: &str, id: i64) -> Option<&Row> {
        self.tables.get(model).and_then(|t| t.rows.get(&id))
    }

    /// Insert a seed record from a JSON object whose keys are field names of the model.
    pub(crate) fn insert_json(&mut self, model: &'static Model, id: i64, vals: Value) {
        let mut row = Row::new();
        if let Value::Object(map) = vals {
            for (key, value) in map {
                if let Some(field) = model.field(&key) {
                    row.insert(field.name, value);
                }
            }
        }
        if model.has_active() && !row.contains_key("active") {
            row.insert("active", Value::Bool(true));
        }
        let table = self.table_mut(model.table);
        table.rows.insert(id, row);
        if table.next_id <= id {
            table.next_id = id + 1;
        }
    }

    /// The current timestamp as Odoo prints datetimes.
    pub(crate) fn now(&mut self) -> String {
        self.clock += 1;
        // Seed time 2026-11-23 09:40:00 plus one second per write.
        let total = 9 * 3600 + 40 * 60 + self.clock;
        let days = total / 86_400;
        let secs = total % 86_400;
        let (y, m, d) = civil_from_days(
            days_from_civil(2026, 11, 23) + i64::try_from(days).unwrap_or(i64::MAX),
        );
        format!(
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
            secs / 3600,
            (secs / 60) % 60,
            secs % 60
        )
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
// The day (1..=31) and the month (1..=12) fit a u32 by construction.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Look a model up by name for seeding (the names are this crate's own constants).
pub(crate) fn seed_model(name: &str) -> Option<&'static Model> {
    model::model(name)
}
