//! Field values as Odoo computes them: stored values, related fields (followed through their
//! path), one2many and many2many lists, the computed fields of the demo models (a partner's
//! complete name, commercial entity, normalized email, ...), and display names.

use serde_json::{Value, json};

use crate::db::{Db, Row};
use crate::domain::is_empty;
use crate::model::{self, GROUPS, Model, Ty};
use crate::orm::Env;

/// The stored row of a record.
pub(crate) fn row<'a>(db: &'a Db, m: &Model, id: i64) -> Option<&'a Row> {
    db.row(m.table, id)
}

fn text<'a>(row: &'a Row, key: &str) -> &'a str {
    row.get(key).and_then(Value::as_str).unwrap_or("")
}

fn flag(row: &Row, key: &str) -> bool {
    matches!(row.get(key), Some(Value::Bool(true)))
}

fn many2one(row: &Row, key: &str) -> Option<i64> {
    row.get(key).and_then(Value::as_i64)
}

/// The raw value of a field (stored, related or computed): many2one as an id (or Null), x2many
/// as a list of ids in the comodel's order.
pub(crate) fn raw(db: &Db, m: &'static Model, id: i64, row: &Row, field: &str, env: &Env) -> Value {
    match field {
        "id" => return json!(id),
        "display_name" => return json!(display_name(db, m, id, env)),
        _ => {}
    }
    let Some(f) = m.field(field) else {
        return Value::Null;
    };
    if let Some(path) = f.related {
        return follow(db, m, id, row, path, env);
    }
    match f.ty {
        Ty::O2m(comodel, inverse) => {
            let Some(cm) = model::model(comodel) else {
                return json!([]);
            };
            let Some(table) = db.table(cm.table) else {
                return json!([]);
            };
            let mut ids: Vec<i64> = table
                .rows
                .iter()
                .filter(|(_, r)| many2one(r, inverse) == Some(id))
                .filter(|(_, r)| {
                    !env.active_test
                        || !cm.has_active()
                        || !matches!(r.get("active"), Some(Value::Bool(false)))
                })
                .map(|(i, _)| *i)
                .collect();
            crate::search::sort_default(db, cm, env, &mut ids);
            return json!(ids);
        }
        Ty::M2m(comodel) => {
            let Some(cm) = model::model(comodel) else {
                return json!([]);
            };
            let mut ids: Vec<i64> = row
                .get(field)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_i64).collect())
                .unwrap_or_default();
            ids.retain(|i| {
                crate::values::row(db, cm, *i).is_some_and(|r| {
                    !env.active_test
                        || !cm.has_active()
                        || !matches!(r.get("active"), Some(Value::Bool(false)))
                })
            });
            crate::search::sort_default(db, cm, env, &mut ids);
            return json!(ids);
        }
        _ => {}
    }
    if f.computed {
        return computed(db, m, id, row, field);
    }
    if f.translate {
        return translated(db, m, id, row, field, env);
    }
    row.get(field).cloned().unwrap_or(Value::Null)
}

/// Follow a related field's path (`partner_id.email`) from a record.
fn follow(db: &Db, m: &'static Model, id: i64, row: &Row, path: &str, env: &Env) -> Value {
    let parts: Vec<&str> = path.split('.').collect();
    let (mut cm, mut cid) = (m, id);
    let mut current: Row = row.clone();
    for part in &parts[..parts.len() - 1] {
        let Some(next) = cm
            .field(part)
            .and_then(|f| f.ty.relation())
            .and_then(model::model)
        else {
            return Value::Null;
        };
        let Some(nid) = raw(db, cm, cid, &current, part, env).as_i64() else {
            return Value::Null;
        };
        let Some(nrow) = self::row(db, next, nid) else {
            return Value::Null;
        };
        current = nrow.clone();
        cm = next;
        cid = nid;
    }
    raw(db, cm, cid, &current, parts[parts.len() - 1], env)
}

/// A translatable field in `context.lang`.
pub(crate) fn translated(db: &Db, m: &Model, id: i64, row: &Row, field: &str, env: &Env) -> Value {
    if let (Some(lang), Some(f)) = (&env.lang, m.field(field))
        && f.translate
        && let Some(t) = db
            .translations
            .iter()
            .find(|((mm, ff, ii, ll), _)| {
                *mm == m.table && *ff == f.name && *ii == id && *ll == lang.as_str()
            })
            .map(|(_, t)| t)
    {
        return Value::String(t.clone());
    }
    row.get(field).cloned().unwrap_or(Value::Null)
}

fn or_null(s: String) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::String(s)
    }
}

/// The computed fields of the demo models.
fn computed(db: &Db, m: &'static Model, id: i64, row: &Row, field: &str) -> Value {
    match (m.name, field) {
        ("res.partner", "complete_name") => json!(partner_complete_name(db, id)),
        ("res.partner", "commercial_partner_id") => json!(commercial_partner(db, id)),
        ("res.partner", "commercial_company_name") => commercial_company_name(db, id),
        ("res.partner", "email_normalized") => email_normalized(text(row, "email")),
        ("res.partner", "email_formatted") => {
            let email = text(row, "email");
            if email.is_empty() {
                return Value::Null;
            }
            let address = email_normalized(email)
                .as_str()
                .map_or_else(|| email.to_owned(), str::to_owned);
            json!(format!("\"{}\" <{address}>", text(row, "name")))
        }
        ("res.partner", "phone_sanitized") => ["mobile", "phone"]
            .iter()
            .map(|k| text(row, k).trim().to_owned())
            .find(|s| !s.is_empty())
            .map_or(Value::Null, Value::String),
        ("res.partner", "company_type") => json!(if flag(row, "is_company") {
            "company"
        } else {
            "person"
        }),
        ("res.users", "share") => Value::Bool(false),
        ("res.groups", "full_name") => json!(
            GROUPS
                .iter()
                .find(|g| g.1 == id)
                .map(|g| format!("{} / {}", g.2, g.4))
                .unwrap_or_else(|| text(row, "name").to_owned())
        ),
        ("product.template", "default_code") => {
            let variants = template_variants(db, id);
            match variants.as_slice() {
                [only] => db
                    .row("product.product", *only)
                    .and_then(|r| r.get("default_code"))
                    .cloned()
                    .unwrap_or(Value::Null),
                _ => Value::Null,
            }
        }
        ("hr.department", "complete_name") => json!(department_name(db, id)),
        ("res.company", "country_id") => many2one(row, "partner_id")
            .and_then(|p| db.row("res.partner", p))
            .and_then(|p| p.get("country_id").cloned())
            .unwrap_or(Value::Null),
        (_, "id") => json!(id),
        _ => Value::Null,
    }
}

/// The variants (product.product ids) of a template.
pub(crate) fn template_variants(db: &Db, template: i64) -> Vec<i64> {
    db.table("product.product")
        .map(|t| {
            t.rows
                .iter()
                .filter(|(_, r)| many2one(r, "product_tmpl_id") == Some(template))
                .map(|(i, _)| *i)
                .collect()
        })
        .unwrap_or_default()
}

/// Odoo's `email_normalize`: the address of the first email, lowercased; Null when invalid.
pub(crate) fn email_normalized(email: &str) -> Value {
    let email = email.trim();
    let address = match (email.rfind('<'), email.rfind('>')) {
        (Some(start), Some(end)) if end > start => &email[start + 1..end],
        _ => email.split(',').next().unwrap_or(""),
    };
    let address = address.trim();
    match address.split_once('@') {
        Some((local, domain)) if !local.is_empty() && domain.contains('.') => {
            json!(address.to_lowercase())
        }
        _ => Value::Null,
    }
}

/// The commercial entity: the partner itself when it is a company or has no parent, else its
/// parent's commercial entity.
pub(crate) fn commercial_partner(db: &Db, id: i64) -> i64 {
    let mut current = id;
    for _ in 0..64 {
        let Some(row) = db.row("res.partner", current) else {
            return current;
        };
        if flag(row, "is_company") {
            return current;
        }
        match many2one(row, "parent_id") {
            Some(parent) if db.row("res.partner", parent).is_some() => current = parent,
            _ => return current,
        }
    }
    current
}

fn commercial_company_name(db: &Db, id: i64) -> Value {
    let commercial = commercial_partner(db, id);
    match db.row("res.partner", commercial) {
        Some(c) if flag(c, "is_company") => or_null(text(c, "name").to_owned()),
        _ => db
            .row("res.partner", id)
            .map_or(Value::Null, |r| or_null(text(r, "company_name").to_owned())),
    }
}

/// `res.partner._get_complete_name`: "Company, Name" for contacts of a company.
pub(crate) fn partner_complete_name(db: &Db, id: i64) -> String {
    let Some(row) = db.row("res.partner", id) else {
        return String::new();
    };
    let mut name = text(row, "name").to_owned();
    let parent = many2one(row, "parent_id");
    if !text(row, "company_name").is_empty() || parent.is_some() {
        if name.is_empty() {
            name = match text(row, "type") {
                "invoice" => "Invoice Address".to_owned(),
                "delivery" => "Delivery Address".to_owned(),
                "other" => "Other Address".to_owned(),
                _ => name,
            };
        }
        if !flag(row, "is_company") {
            let company = match commercial_company_name(db, id) {
                Value::String(s) => s,
                _ => parent
                    .and_then(|p| db.row("res.partner", p))
                    .map(|p| text(p, "name").to_owned())
                    .unwrap_or_default(),
            };
            name = format!("{company}, {name}");
        }
    }
    name.trim().to_owned()
}

fn department_name(db: &Db, id: i64) -> String {
    let mut parts = Vec::new();
    let mut current = Some(id);
    while let Some(cid) = current {
        let Some(row) = db.row("hr.department", cid) else {
            break;
        };
        parts.push(text(row, "name").to_owned());
        current = many2one(row, "parent_id");
        if parts.len() > 32 {
            break;
        }
    }
    parts.reverse();
    parts.join(" / ")
}

fn category_name(db: &Db, m: &Model, id: i64, env: &Env) -> String {
    let mut parts = Vec::new();
    let mut current = Some(id);
    while let Some(cid) = current {
        let Some(row) = db.row(m.table, cid) else {
            break;
        };
        parts.push(
            translated(db, m, cid, row, "name", env)
                .as_str()
                .unwrap_or("")
                .to_owned(),
        );
        current = many2one(row, "parent_id");
        if parts.len() > 32 {
            break;
        }
    }
    parts.reverse();
    parts.join(" / ")
}

/// Display name of a record.
pub(crate) fn display_name(db: &Db, m: &'static Model, id: i64, env: &Env) -> String {
    let Some(row) = self::row(db, m, id) else {
        return String::new();
    };
    match m.name {
        "res.partner" => partner_complete_name(db, id),
        "res.partner.category" => category_name(db, m, id, env),
        "hr.department" => department_name(db, id),
        "ir.config_parameter" => text(row, "key").to_owned(),
        "ir.model.fields" => format!(
            "{} ({})",
            text(row, "field_description"),
            text(row, "model")
        ),
        "res.users" => raw(db, m, id, row, "name", env)
            .as_str()
            .unwrap_or("")
            .to_owned(),
        "product.product" => {
            let name = raw(db, m, id, row, "name", env)
                .as_str()
                .unwrap_or("")
                .to_owned();
            let mut out = match row.get("default_code").and_then(Value::as_str) {
                Some(code) if !code.is_empty() => format!("[{code}] {name}"),
                _ => name,
            };
            if let Some(variant) = db.variants.get(&id) {
                out.push(' ');
                out.push_str(variant);
            }
            out
        }
        "product.template" => {
            let name = translated(db, m, id, row, "name", env)
                .as_str()
                .unwrap_or("")
                .to_owned();
            match computed(db, m, id, row, "default_code") {
                Value::String(code) if !code.is_empty() => format!("[{code}] {name}"),
                _ => name,
            }
        }
        "sale.order.line" => {
            let order = many2one(row, "order_id")
                .and_then(|o| db.row("sale.order", o))
                .map(|o| text(o, "name").to_owned())
                .unwrap_or_default();
            let first = text(row, "name").lines().next().unwrap_or("").to_owned();
            format!("{order} - {first}")
        }
        _ => {
            let v = translated(db, m, id, row, "name", env);
            if is_empty(&v) {
                String::new()
            } else {
                v.as_str().map_or_else(|| v.to_string(), str::to_owned)
            }
        }
    }
}
