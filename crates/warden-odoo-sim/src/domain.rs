//! Odoo search domains: parsing of the prefix notation (`&`, `|`, `!`, implicit AND), field path
//! validation, and evaluation against stored records.

use serde_json::Value;

use crate::error::{OdooError, py_repr};
use crate::model::{Model, Ty};

/// A parsed domain.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    True,
    False,
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Leaf(Leaf),
}

/// One `(path, operator, value)` condition.
#[derive(Clone, Debug)]
pub(crate) struct Leaf {
    pub(crate) path: Vec<String>,
    pub(crate) op: String,
    pub(crate) value: Value,
    /// For `any`/`not any`: the parsed sub-domain on the last relation.
    pub(crate) sub: Option<Box<Node>>,
}

const OPERATORS: &[&str] = &[
    "=",
    "!=",
    "<>",
    "<",
    ">",
    "<=",
    ">=",
    "in",
    "not in",
    "like",
    "not like",
    "ilike",
    "not ilike",
    "=like",
    "=ilike",
    "child_of",
    "parent_of",
    "any",
    "not any",
    "=?",
];

fn leaf_repr(items: &[Value]) -> String {
    let inner: Vec<String> = items.iter().map(py_repr).collect();
    format!("({})", inner.join(", "))
}

fn invalid_domain(domain: &Value) -> OdooError {
    OdooError::value(format!("Invalid domain: {}", py_repr(domain)))
}

/// Parse a domain (a JSON list) for `model`, checking every field path.
pub(crate) fn parse(model: &Model, domain: &Value) -> Result<Node, OdooError> {
    let items = match domain {
        Value::Null | Value::Bool(false) => return Ok(Node::True),
        Value::Array(items) => items,
        _ => return Err(invalid_domain(domain)),
    };
    let mut pos = 0;
    let mut exprs = Vec::new();
    while pos < items.len() {
        exprs.push(parse_expr(model, items, &mut pos, domain)?);
    }
    Ok(exprs
        .into_iter()
        .rev()
        .fold(None, |acc: Option<Node>, n| match acc {
            None => Some(n),
            Some(rest) => Some(Node::And(Box::new(n), Box::new(rest))),
        })
        .unwrap_or(Node::True))
}

fn parse_expr(
    model: &Model,
    items: &[Value],
    pos: &mut usize,
    whole: &Value,
) -> Result<Node, OdooError> {
    let Some(item) = items.get(*pos) else {
        return Err(invalid_domain(whole));
    };
    *pos += 1;
    match item {
        Value::String(op) if op == "&" || op == "|" => {
            let a = parse_expr(model, items, pos, whole)?;
            let b = parse_expr(model, items, pos, whole)?;
            Ok(if op == "&" {
                Node::And(Box::new(a), Box::new(b))
            } else {
                Node::Or(Box::new(a), Box::new(b))
            })
        }
        Value::String(op) if op == "!" => {
            Ok(Node::Not(Box::new(parse_expr(model, items, pos, whole)?)))
        }
        Value::Array(leaf) if leaf.len() == 3 => parse_leaf(model, leaf),
        _ => Err(invalid_domain(whole)),
    }
}

fn parse_leaf(model: &Model, leaf: &[Value]) -> Result<Node, OdooError> {
    let op = match &leaf[1] {
        Value::String(op) => op.to_lowercase(),
        _ => {
            return Err(OdooError::value(format!(
                "Invalid leaf {}",
                leaf_repr(leaf)
            )));
        }
    };
    let path = match &leaf[0] {
        Value::String(p) => p.clone(),
        Value::Number(n) => {
            // TRUE_LEAF (1, '=', 1) and FALSE_LEAF (0, '=', 1)
            let truth = n.as_i64() == Some(1) && op == "=" && leaf[2].as_i64() == Some(1);
            return Ok(if truth { Node::True } else { Node::False });
        }
        _ => {
            return Err(OdooError::value(format!(
                "Invalid leaf {}",
                leaf_repr(leaf)
            )));
        }
    };
    if !OPERATORS.contains(&op.as_str()) {
        return Err(OdooError::value(format!(
            "Invalid leaf {}",
            leaf_repr(leaf)
        )));
    }
    let parts: Vec<String> = path.split('.').map(str::to_owned).collect();
    // Validate the path.
    let mut current: &Model = model;
    for (i, part) in parts.iter().enumerate() {
        let Some(field) = current.field(part) else {
            return Err(OdooError::value(format!(
                "Invalid field {}.{} in leaf {}",
                current.name,
                part,
                leaf_repr(leaf)
            )));
        };
        if i + 1 < parts.len() {
            match field.ty.relation().and_then(crate::model::model) {
                Some(next) => current = next,
                None => {
                    return Err(OdooError::value(format!(
                        "Invalid field {}.{} in leaf {}",
                        current.name,
                        parts[i + 1],
                        leaf_repr(leaf)
                    )));
                }
            }
        }
    }
    // `any` on a field that is not relational fails later, like Odoo (a KeyError).
    let sub = if op == "any" || op == "not any" {
        let last = current.field(&parts[parts.len() - 1]);
        match last
            .and_then(|f| f.ty.relation())
            .and_then(crate::model::model)
        {
            Some(comodel) => Some(Box::new(parse(comodel, &leaf[2])?)),
            None => None,
        }
    } else {
        None
    };
    let value = if op == "=?" && (leaf[2].is_null() || leaf[2] == Value::Bool(false)) {
        return Ok(Node::True);
    } else {
        leaf[2].clone()
    };
    let op = match op.as_str() {
        "<>" => "!=".to_owned(),
        "=?" => "=".to_owned(),
        _ => op,
    };
    Ok(Node::Leaf(Leaf {
        path: parts,
        op,
        value,
        sub,
    }))
}

/// Whether the domain mentions the `active` field at its top level (then Odoo adds no
/// implicit `active = True`).
pub(crate) fn mentions_active(node: &Node) -> bool {
    match node {
        Node::Leaf(l) => l.path.len() == 1 && l.path[0] == "active",
        Node::And(a, b) | Node::Or(a, b) => mentions_active(a) || mentions_active(b),
        Node::Not(a) => mentions_active(a),
        _ => false,
    }
}

/// SQL `LIKE` pattern matching (`%` any run, `_` one character).
pub(crate) fn like(pattern: &str, text: &str, insensitive: bool) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = if insensitive {
        (
            pattern.to_lowercase().chars().collect(),
            text.to_lowercase().chars().collect(),
        )
    } else {
        (pattern.chars().collect(), text.chars().collect())
    };
    // Iterative wildcard match with backtracking on the last '%'.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '_' || (p[pi] != '%' && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '%' {
        pi += 1;
    }
    pi == p.len()
}

/// Escape `%`/`_` for a plain substring `like`.
pub(crate) fn substring_pattern(value: &str) -> String {
    format!("%{value}%")
}

/// Whether a value is "empty" in Odoo's sense (NULL/False).
pub(crate) fn is_empty(v: &Value) -> bool {
    matches!(v, Value::Null | Value::Bool(false))
}

/// Compare a stored scalar with an operand for `<`, `>`, `<=`, `>=`.
pub(crate) fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.as_str().cmp(y.as_str())),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Equality of a stored scalar and an operand, with Odoo's loose typing (1 == True, 1 == 1.0).
pub(crate) fn loose_eq(ty: Ty, stored: &Value, operand: &Value) -> bool {
    if is_empty(operand) {
        return match ty {
            Ty::Bool => !matches!(stored, Value::Bool(true)),
            _ => is_empty(stored),
        };
    }
    match ty {
        Ty::Bool => {
            let want = match operand {
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => false,
            };
            matches!(stored, Value::Bool(true)) == want
        }
        _ => match (stored, operand) {
            (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
            (Value::Number(a), Value::String(b)) => b.parse::<f64>().ok() == a.as_f64(),
            (a, b) => a == b,
        },
    }
}
