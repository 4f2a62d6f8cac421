//! Searching: a parsed domain is first resolved the way Odoo's `expression` module does it
//! (dotted paths and `any`/`not any` become sub-searches on the comodel, strings compared with
//! relational fields go through the comodel's name search, `display_name` through
//! `_rec_names_search`, `child_of`/`parent_of` through the hierarchy), then evaluated on every
//! record, together with the record rules and the `active` filter; the result is ordered and
//! sliced.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::db::{Db, Row};
use crate::domain::{self, Leaf, Node, compare, is_empty, like, loose_eq, substring_pattern};
use crate::error::{Kind, OdooError, py_repr};
use crate::model::{self, Field, Model, Op, Ty};
use crate::orm::{Env, check_access, check_domain_fields, rule_domain};
use crate::values::{display_name, raw, row};

/// `search`: ids matching the domain, record rules and `active`, ordered and sliced.
pub(crate) fn search(
    db: &Db,
    m: &'static Model,
    env: &Env,
    domain: Option<&Value>,
    offset: Option<usize>,
    limit: Option<usize>,
    order: Option<&Value>,
) -> Result<Vec<i64>, OdooError> {
    if !env.su {
        check_access(m, env, Op::Read)?;
    }
    let node = domain::parse(m, domain.unwrap_or(&Value::Null))?;
    if !env.su {
        check_domain_fields(m, env, &node)?;
    }
    let order = parse_order(m, order)?;
    let mut ids = search_node(db, m, env, &node)?;
    sort_ids(db, m, env, &mut ids, &order);
    Ok(ids
        .into_iter()
        .skip(offset.unwrap_or(0))
        .take(limit.unwrap_or(usize::MAX))
        .collect())
}

/// Unordered ids of the records matching a parsed domain (with rules and `active`).
pub(crate) fn search_node(
    db: &Db,
    m: &'static Model,
    env: &Env,
    node: &Node,
) -> Result<Vec<i64>, OdooError> {
    let active_filter = env.active_test && m.has_active() && !domain::mentions_active(node);
    let resolved = resolve(db, m, env, node)?;
    let rule = match (env.su, rule_domain(m, env)) {
        (false, Some(r)) => {
            let sudo = env.sudo();
            let parsed = domain::parse(m, &r)?;
            Some(resolve(db, m, &sudo, &parsed)?)
        }
        _ => None,
    };
    let Some(table) = db.table(m.table) else {
        return Ok(Vec::new());
    };
    Ok(table
        .rows
        .iter()
        .filter(|(_, row)| !active_filter || !matches!(row.get("active"), Some(Value::Bool(false))))
        .filter(|(id, row)| rule.as_ref().is_none_or(|r| eval(db, m, env, **id, row, r)))
        .filter(|(id, row)| eval(db, m, env, **id, row, &resolved))
        .map(|(id, _)| *id)
        .collect())
}

/// Ids of `m` matching a JSON domain, for the sub-searches of a resolution.
fn sub_search(
    db: &Db,
    m: &'static Model,
    env: &Env,
    domain: &Value,
) -> Result<Vec<i64>, OdooError> {
    if !env.su {
        check_access(m, env, Op::Read)?;
    }
    let node = domain::parse(m, domain)?;
    search_node(db, m, env, &node)
}

fn sub_search_node(
    db: &Db,
    m: &'static Model,
    env: &Env,
    node: &Node,
) -> Result<Vec<i64>, OdooError> {
    if !env.su {
        check_access(m, env, Op::Read)?;
    }
    search_node(db, m, env, node)
}

const NEGATIVE: &[&str] = &["!=", "not in", "not like", "not ilike", "not any"];

fn is_negative(op: &str) -> bool {
    NEGATIVE.contains(&op)
}

fn negation(op: &str) -> &'static str {
    match op {
        "!=" => "=",
        "not in" => "in",
        "not like" => "like",
        "not ilike" => "ilike",
        "not any" => "any",
        "=" => "!=",
        "in" => "not in",
        "like" => "not like",
        "ilike" => "not ilike",
        _ => "any",
    }
}

fn leaf(path: &str, op: &str, value: Value) -> Node {
    Node::Leaf(Leaf {
        path: vec![path.to_owned()],
        op: op.to_owned(),
        value,
        sub: None,
    })
}

fn ids_value(ids: &[i64]) -> Value {
    json!(ids)
}

/// Whether a value is a string or a non-empty list of strings (a name criterion).
fn is_names(value: &Value) -> bool {
    match value {
        Value::String(_) => true,
        Value::Array(items) => !items.is_empty() && items.iter().all(Value::is_string),
        _ => false,
    }
}

/// Rewrite a parsed domain into leaves on the model's own fields with plain values.
fn resolve(db: &Db, m: &'static Model, env: &Env, node: &Node) -> Result<Node, OdooError> {
    Ok(match node {
        Node::True | Node::False => node.clone(),
        Node::And(a, b) => Node::And(
            Box::new(resolve(db, m, env, a)?),
            Box::new(resolve(db, m, env, b)?),
        ),
        Node::Or(a, b) => Node::Or(
            Box::new(resolve(db, m, env, a)?),
            Box::new(resolve(db, m, env, b)?),
        ),
        Node::Not(a) => Node::Not(Box::new(resolve(db, m, env, a)?)),
        Node::Leaf(l) => resolve_leaf(db, m, env, l)?,
    })
}

fn comodel_of(f: &Field) -> Option<&'static Model> {
    f.ty.relation().and_then(model::model)
}

#[allow(clippy::too_many_lines)]
fn resolve_leaf(db: &Db, m: &'static Model, env: &Env, l: &Leaf) -> Result<Node, OdooError> {
    let name = l.path[0].as_str();
    let op = l.op.as_str();
    if name == "id" {
        if l.path.len() > 1 {
            return Err(OdooError::value(format!("Invalid field {}.{name}", m.name)));
        }
        if op == "child_of" || op == "parent_of" {
            let ids = to_ids(db, m, env, &l.value)?;
            let Some((parent, _)) = m.parent else {
                return Ok(leaf("id", "in", ids_value(&ids)));
            };
            let closure = hierarchy(db, m, parent, &ids, op == "child_of");
            return Ok(leaf("id", "in", ids_value(&closure)));
        }
        return Ok(Node::Leaf(l.clone()));
    }
    let Some(f) = m.field(name) else {
        return Err(OdooError::value(format!("Invalid field {}.{name}", m.name)));
    };
    // A dotted path is an `any` on its first field (Odoo 17+).
    if l.path.len() > 1 {
        if comodel_of(f).is_none() {
            return Err(OdooError::value(format!(
                "Invalid field {}.{}",
                m.name, l.path[1]
            )));
        }
        let rest = Node::Leaf(Leaf {
            path: l.path[1..].to_vec(),
            op: l.op.clone(),
            value: l.value.clone(),
            sub: l.sub.clone(),
        });
        let any = Leaf {
            path: vec![name.to_owned()],
            op: "any".to_owned(),
            value: Value::Null,
            sub: Some(Box::new(rest)),
        };
        return resolve_leaf(db, m, env, &any);
    }
    if name == "display_name" {
        let node = search_display_name(db, m, env, op, &l.value)?;
        return resolve(db, m, env, &node);
    }
    if let Some(path) = f.related {
        let parts: Vec<String> = path.split('.').map(str::to_owned).collect();
        let through = Leaf {
            path: parts,
            op: l.op.clone(),
            value: l.value.clone(),
            sub: l.sub.clone(),
        };
        return resolve_leaf(db, m, env, &through);
    }
    if (m.name, name) == ("res.partner", "phone_mobile_search") {
        return phone_mobile_search(db, m, op, &l.value);
    }
    if f.computed && !f.stored && !f.searchable {
        // Odoo logs "Non-stored field ... cannot be searched" and ignores the condition.
        return Ok(Node::True);
    }
    if op == "any" || op == "not any" {
        let Some(cm) = comodel_of(f) else {
            return Err(OdooError::new(Kind::KeyError, "None"));
        };
        let sub = l.sub.as_deref().unwrap_or(&Node::True);
        let ids = sub_search_node(db, cm, env, sub)?;
        return Ok(match f.ty {
            Ty::M2o(_) if op == "any" => leaf(name, "in", ids_value(&ids)),
            Ty::M2o(_) => Node::Or(
                Box::new(leaf(name, "not in", ids_value(&ids))),
                Box::new(leaf(name, "=", Value::Bool(false))),
            ),
            Ty::O2m(_, inverse) => {
                let parents = inverse_ids(db, cm, inverse, &ids);
                leaf(
                    "id",
                    if op == "any" { "in" } else { "not in" },
                    ids_value(&parents),
                )
            }
            _ => leaf(
                name,
                if op == "any" { "in" } else { "not in" },
                ids_value(&ids),
            ),
        });
    }
    match f.ty {
        Ty::M2o(_) | Ty::M2m(_) | Ty::O2m(..) => {}
        _ => return Ok(Node::Leaf(l.clone())),
    }
    let Some(cm) = comodel_of(f) else {
        return Ok(Node::Leaf(l.clone()));
    };
    if op == "child_of" || op == "parent_of" {
        let ids = to_ids(db, cm, env, &l.value)?;
        let down = op == "child_of";
        if cm.name == m.name && matches!(f.ty, Ty::M2o(_)) {
            // (parent_id, child_of, x) on its own model: the hierarchy through this field.
            let closure = hierarchy(db, m, name, &ids, down);
            return Ok(leaf("id", "in", ids_value(&closure)));
        }
        let closure = match cm.parent {
            Some((parent, _)) => hierarchy(db, cm, parent, &ids, down),
            None => ids,
        };
        return Ok(match f.ty {
            Ty::O2m(_, inverse) => leaf(
                "id",
                "in",
                ids_value(&inverse_ids(db, cm, inverse, &closure)),
            ),
            _ => leaf(name, "in", ids_value(&closure)),
        });
    }
    match f.ty {
        Ty::M2o(_) if is_names(&l.value) => {
            // Resolve a string criterion on a many2one through the comodel's name search.
            let mut op = if matches!(op, "<" | ">" | "<=" | ">=") {
                "in"
            } else {
                op
            };
            let list = l.value.is_array();
            if !list && op == "in" {
                op = "=";
            } else if !list && op == "not in" {
                op = "!=";
            } else if list && op == "=" {
                op = "in";
            } else if list && op == "!=" {
                op = "not in";
            }
            if is_negative(op) {
                let domain = json!([["display_name", negation(op), l.value]]);
                let ids = sub_search(db, cm, env, &domain)?;
                Ok(Node::Or(
                    Box::new(leaf(name, "not in", ids_value(&ids))),
                    Box::new(leaf(name, "=", Value::Bool(false))),
                ))
            } else {
                let domain = json!([["display_name", op, l.value]]);
                let ids = sub_search(db, cm, env, &domain)?;
                Ok(leaf(name, "in", ids_value(&ids)))
            }
        }
        Ty::M2m(_) if l.value.is_string() => {
            let positive = if is_negative(op) { negation(op) } else { op };
            let domain = json!([["display_name", positive, l.value]]);
            let ids = sub_search(db, cm, env, &domain)?;
            Ok(leaf(
                name,
                if is_negative(op) { "not in" } else { "in" },
                ids_value(&ids),
            ))
        }
        Ty::O2m(_, inverse) => {
            // One2many conditions become conditions on `id`.
            let negative = is_negative(op);
            let target = if is_empty(&l.value) {
                // (o2m, =, False): records without lines; (o2m, !=, False): with lines.
                let all = sub_search(db, cm, env, &json!([[inverse, "!=", false]]))?;
                let parents = inverse_ids(db, cm, inverse, &all);
                let with = op == "!=";
                return Ok(leaf(
                    "id",
                    if with { "in" } else { "not in" },
                    ids_value(&parents),
                ));
            } else if l.value.is_string() {
                let positive = if negative { negation(op) } else { op };
                sub_search(db, cm, env, &json!([["display_name", positive, l.value]]))?
            } else {
                crate::orm::ids_of(&l.value).unwrap_or_default()
            };
            let parents = inverse_ids(db, cm, inverse, &target);
            Ok(leaf(
                "id",
                if negative { "not in" } else { "in" },
                ids_value(&parents),
            ))
        }
        _ => Ok(Node::Leaf(l.clone())),
    }
}

/// The records of `m` whose `inverse` many2one points at `ids`, as parent ids.
fn inverse_ids(db: &Db, cm: &Model, inverse: &str, ids: &[i64]) -> Vec<i64> {
    let set: BTreeSet<i64> = ids
        .iter()
        .filter_map(|i| {
            row(db, cm, *i)
                .and_then(|r| r.get(inverse))
                .and_then(Value::as_i64)
        })
        .collect();
    set.into_iter().collect()
}

/// Names or ids to ids (`child_of 'Deco'` name-searches the comodel with `ilike`).
fn to_ids(db: &Db, m: &'static Model, env: &Env, value: &Value) -> Result<Vec<i64>, OdooError> {
    let names: Vec<&str> = match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => {
            items.iter().filter_map(Value::as_str).collect()
        }
        Value::Number(n) => return Ok(n.as_i64().filter(|i| *i != 0).into_iter().collect()),
        Value::Array(items) => return Ok(items.iter().filter_map(Value::as_i64).collect()),
        _ => return Ok(Vec::new()),
    };
    let mut out = BTreeSet::new();
    for name in names {
        out.extend(sub_search(
            db,
            m,
            env,
            &json!([["display_name", "ilike", name]]),
        )?);
    }
    Ok(out.into_iter().collect())
}

/// Descendants (or ancestors) of `ids` through the many2one `parent`, the ids included.
fn hierarchy(db: &Db, m: &Model, parent: &str, ids: &[i64], down: bool) -> Vec<i64> {
    let mut seen: BTreeSet<i64> = ids
        .iter()
        .copied()
        .filter(|i| row(db, m, *i).is_some())
        .collect();
    let mut frontier: Vec<i64> = seen.iter().copied().collect();
    while !frontier.is_empty() {
        let mut next = Vec::new();
        if down {
            if let Some(table) = db.table(m.table) {
                for (cid, r) in &table.rows {
                    if r.get(parent)
                        .and_then(Value::as_i64)
                        .is_some_and(|p| frontier.contains(&p))
                        && seen.insert(*cid)
                    {
                        next.push(*cid);
                    }
                }
            }
        } else {
            for id in &frontier {
                if let Some(p) = row(db, m, *id)
                    .and_then(|r| r.get(parent))
                    .and_then(Value::as_i64)
                    && seen.insert(p)
                {
                    next.push(p);
                }
            }
        }
        frontier = next;
    }
    seen.into_iter().collect()
}

/// `_search_display_name`: the condition on `display_name` as a domain on the model's fields.
fn search_display_name(
    db: &Db,
    m: &'static Model,
    env: &Env,
    op: &str,
    value: &Value,
) -> Result<Node, OdooError> {
    let negative = is_negative(op);
    if op.ends_with("like") && !op.contains('=') && is_empty_text(value) {
        return Ok(if negative { Node::False } else { Node::True });
    }
    let mut domains: Vec<Value> = Vec::new();
    match m.name {
        "product.product" => {
            domains.push(json!([["name", op, value]]));
            domains.push(json!([["default_code", op, value]]));
            if op == "=" || op == "in" || (op.ends_with("like") && !negative) {
                let barcodes = if op == "in" {
                    value.clone()
                } else {
                    json!([value])
                };
                domains.push(json!([["barcode", "in", barcodes]]));
            }
            if op == "="
                && let Some(code) = value
                    .as_str()
                    .and_then(|s| s.split_once('[')?.1.split_once(']').map(|c| c.0.to_owned()))
            {
                domains.push(json!([["default_code", "=", code]]));
            }
        }
        "res.users" => {
            if matches!(op, "=" | "ilike") && value.as_str().is_some_and(|s| !s.is_empty()) {
                let users = sub_search(db, m, env, &json!([["login", "=", value]]))?;
                if !users.is_empty() {
                    return domain::parse(m, &json!([["id", "in", users]]));
                }
            }
            for f in m.rec_names {
                domains.push(json!([[f, op, value]]));
            }
        }
        _ => {
            for f in m.rec_names {
                domains.push(json!([[f, op, value]]));
            }
        }
    }
    let joiner = if negative { "&" } else { "|" };
    let mut flat: Vec<Value> = Vec::new();
    for _ in 1..domains.len() {
        flat.push(json!(joiner));
    }
    for d in domains {
        if let Value::Array(items) = d {
            flat.extend(items);
        }
    }
    let node = domain::parse(m, &Value::Array(flat))?;
    if m.name == "res.partner.category" && op.ends_with("like") {
        let ids = sub_search_node(db, m, env, &node)?;
        let Some((parent, _)) = m.parent else {
            return Ok(leaf("id", "in", ids_value(&ids)));
        };
        return Ok(leaf(
            "id",
            "in",
            ids_value(&hierarchy(db, m, parent, &ids, true)),
        ));
    }
    Ok(node)
}

fn is_empty_text(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        other => is_empty(other),
    }
}

/// `phone_mobile_search`: phone or mobile, compared without spaces, dots, slashes, dashes and
/// parentheses; an international prefix matches both `+` and `00`.
fn phone_mobile_search(
    db: &Db,
    m: &'static Model,
    op: &str,
    value: &Value,
) -> Result<Node, OdooError> {
    let fields = ["phone", "mobile"];
    if (op == "=" || op == "!=") && (value == &Value::Bool(true) || is_empty_text(value)) {
        let op = if value == &Value::Bool(true) {
            if op == "=" { "!=" } else { "=" }
        } else {
            op
        };
        let joiner = if op == "=" { "&" } else { "|" };
        let domain = json!([joiner, [fields[0], op, false], [fields[1], op, false]]);
        return domain::parse(m, &domain);
    }
    let text = value.as_str().unwrap_or("").trim().to_owned();
    if text.chars().count() < 3 {
        return Err(OdooError::user(
            "Please enter at least 3 characters when searching a Phone/Mobile number.",
        ));
    }
    let strip = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '\\' | '.' | '/' | '(' | ')' | '-'))
            .collect()
    };
    let negative = is_negative(op);
    let positive = if negative { negation(op) } else { op };
    let insensitive = positive.ends_with("ilike");
    let exact = positive == "=";
    let patterns: Vec<String> =
        if let Some(rest) = text.strip_prefix('+').or_else(|| text.strip_prefix("00")) {
            let term = strip(rest);
            let tail = if exact { "" } else { "%" };
            vec![format!("00{term}{tail}"), format!("+{term}{tail}")]
        } else {
            let term = strip(&text);
            vec![if exact { term } else { format!("%{term}%") }]
        };
    let matches = |stored: &str| {
        patterns
            .iter()
            .any(|p| like(p, &strip(stored), insensitive))
    };
    let Some(table) = db.table(m.table) else {
        return Ok(Node::False);
    };
    let ids: Vec<i64> = table
        .rows
        .iter()
        .filter(|(_, r)| {
            let values: Vec<Option<&str>> = fields
                .iter()
                .map(|f| r.get(*f).and_then(Value::as_str))
                .collect();
            if negative {
                values.iter().all(|v| v.is_none_or(|s| !matches(s)))
            } else {
                values.iter().any(|v| v.is_some_and(matches))
            }
        })
        .map(|(id, _)| *id)
        .collect();
    Ok(leaf("id", "in", ids_value(&ids)))
}

/// Evaluate a resolved domain on one record.
fn eval(db: &Db, m: &'static Model, env: &Env, id: i64, row: &Row, node: &Node) -> bool {
    match node {
        Node::True => true,
        Node::False => false,
        Node::And(a, b) => eval(db, m, env, id, row, a) && eval(db, m, env, id, row, b),
        Node::Or(a, b) => eval(db, m, env, id, row, a) || eval(db, m, env, id, row, b),
        Node::Not(a) => !eval(db, m, env, id, row, a),
        Node::Leaf(leaf) => eval_leaf(db, m, env, id, row, leaf),
    }
}

fn eval_leaf(db: &Db, m: &'static Model, env: &Env, id: i64, row: &Row, leaf: &Leaf) -> bool {
    if is_negative(&leaf.op) {
        let positive = Leaf {
            path: leaf.path.clone(),
            op: negation(&leaf.op).to_owned(),
            value: leaf.value.clone(),
            sub: leaf.sub.clone(),
        };
        return !eval_leaf(db, m, env, id, row, &positive);
    }
    let name = leaf.path[0].as_str();
    let value = raw(db, m, id, row, name, env);
    let ty = if name == "id" {
        Ty::Int
    } else {
        match m.field(name) {
            Some(f) => f.ty,
            None => return false,
        }
    };
    match_value(ty, &value, &leaf.op, &leaf.value)
}

fn match_value(ty: Ty, value: &Value, op: &str, arg: &Value) -> bool {
    match ty {
        Ty::M2o(_) | Ty::O2m(..) | Ty::M2m(_) => {
            let ids: Vec<i64> = match value {
                Value::Number(n) => n.as_i64().into_iter().collect(),
                Value::Array(a) => a.iter().filter_map(Value::as_i64).collect(),
                _ => Vec::new(),
            };
            match op {
                "=" => match arg {
                    Value::Bool(false) | Value::Null => ids.is_empty(),
                    Value::Number(n) => n.as_i64().is_some_and(|a| ids.contains(&a)),
                    _ => false,
                },
                "in" => match arg {
                    Value::Array(list) => {
                        (ids.is_empty() && list.iter().any(is_empty))
                            || list
                                .iter()
                                .any(|a| a.as_i64().is_some_and(|a| ids.contains(&a)))
                    }
                    other => other.as_i64().is_some_and(|a| ids.contains(&a)),
                },
                "<" | ">" | "<=" | ">=" => ids.iter().any(|i| ordered(op, compare(&json!(i), arg))),
                "like" | "ilike" | "=like" | "=ilike" => is_empty(arg) && ids.is_empty(),
                _ => false,
            }
        }
        ty => match op {
            "=" => loose_eq(ty, value, arg),
            "in" => match arg {
                Value::Array(list) => list.iter().any(|a| loose_eq(ty, value, a)),
                other => loose_eq(ty, value, other),
            },
            "like" | "ilike" | "=like" | "=ilike" => {
                let text = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return false,
                };
                let Some(pattern) = arg.as_str() else {
                    return false;
                };
                let pat = if op.starts_with('=') {
                    pattern.to_owned()
                } else {
                    substring_pattern(pattern)
                };
                like(&pat, &text, op.ends_with("ilike"))
            }
            "<" | ">" | "<=" | ">=" => !is_empty(value) && ordered(op, compare(value, arg)),
            _ => false,
        },
    }
}

fn ordered(op: &str, ord: Option<Ordering>) -> bool {
    match (op, ord) {
        ("<", Some(Ordering::Less)) | (">", Some(Ordering::Greater)) => true,
        ("<=", Some(o)) => o != Ordering::Greater,
        (">=", Some(o)) => o != Ordering::Less,
        _ => false,
    }
}

/// Parse an `order` spec; `None` gives the model's default order.
pub(crate) fn parse_order(
    m: &Model,
    order: Option<&Value>,
) -> Result<Vec<(String, bool)>, OdooError> {
    let spec = match order {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        None | Some(Value::Null | Value::Bool(false) | Value::String(_)) => m.order.to_owned(),
        Some(other) => {
            return Err(OdooError::value(format!(
                "Invalid \"order\" specified ({})",
                py_repr(other)
            )));
        }
    };
    let mut out = Vec::new();
    for part in spec.split(',') {
        let mut words = part.split_whitespace();
        let Some(name) = words.next() else { continue };
        let desc = match words.next().map(str::to_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => {
                return Err(OdooError::value(format!(
                    "Invalid \"order\" specified ({spec}). A valid \"order\" specification is a comma-separated list of valid field names (optionally followed by asc/desc for the direction)"
                )));
            }
        };
        let name = name.split(':').next().unwrap_or(name);
        if name == "sequence" && m.field("sequence").is_none() {
            continue;
        }
        if m.field(name).is_none() {
            return Err(OdooError::value(format!(
                "Invalid field {} on model {}",
                py_repr(&json!(name)),
                py_repr(&json!(m.name))
            )));
        }
        out.push((name.to_owned(), desc));
    }
    Ok(out)
}

/// A sort key of one field.
#[derive(PartialEq, PartialOrd)]
pub(crate) enum SortKey {
    Num(f64),
    Text(String),
    Null,
}

fn sort_key(db: &Db, m: &'static Model, env: &Env, id: i64, row: &Row, field: &str) -> SortKey {
    let v = raw(db, m, id, row, field, env);
    let f = m.field(field);
    match (f.map(|f| f.ty), &v) {
        (_, Value::Null) => SortKey::Null,
        (Some(Ty::M2o(comodel)), Value::Number(n)) => {
            let cm = model::model(comodel);
            SortKey::Text(
                cm.map(|cm| display_name(db, cm, n.as_i64().unwrap_or(0), env))
                    .unwrap_or_default()
                    .to_lowercase(),
            )
        }
        (_, Value::Number(n)) => SortKey::Num(n.as_f64().unwrap_or(0.0)),
        (_, Value::Bool(b)) => SortKey::Num(if *b { 1.0 } else { 0.0 }),
        (_, Value::String(s)) => SortKey::Text(s.to_lowercase()),
        _ => SortKey::Null,
    }
}

/// Compare two keys, PostgreSQL's way: NULLS LAST for ASC, NULLS FIRST for DESC.
pub(crate) fn cmp_keys(a: &SortKey, b: &SortKey, desc: bool) -> Ordering {
    let ord = match (a, b) {
        (SortKey::Null, SortKey::Null) => Ordering::Equal,
        (SortKey::Null, _) => Ordering::Greater,
        (_, SortKey::Null) => Ordering::Less,
        _ => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    };
    if desc { ord.reverse() } else { ord }
}

pub(crate) fn sort_ids(
    db: &Db,
    m: &'static Model,
    env: &Env,
    ids: &mut Vec<i64>,
    order: &[(String, bool)],
) {
    let mut keyed: Vec<(i64, Vec<SortKey>)> = ids
        .iter()
        .filter_map(|id| {
            row(db, m, *id).map(|r| {
                (
                    *id,
                    order
                        .iter()
                        .map(|(f, _)| sort_key(db, m, env, *id, r, f))
                        .collect(),
                )
            })
        })
        .collect();
    keyed.sort_by(|(ia, ka), (ib, kb)| {
        for (i, (_, desc)) in order.iter().enumerate() {
            let o = cmp_keys(&ka[i], &kb[i], *desc);
            if o != Ordering::Equal {
                return o;
            }
        }
        ia.cmp(ib)
    });
    *ids = keyed.into_iter().map(|(id, _)| id).collect();
}

/// Sort ids in the model's default order.
pub(crate) fn sort_default(db: &Db, m: &'static Model, env: &Env, ids: &mut Vec<i64>) {
    let order = parse_order(m, None).unwrap_or_default();
    sort_ids(db, m, env, ids, &order);
}
