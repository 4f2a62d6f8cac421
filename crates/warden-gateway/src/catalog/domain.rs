//! Odoo search domains: their shape is checked before anything reaches Odoo — prefix operators
//! with the right number of operands, three-element leaves, known comparison operators, values of
//! a fitting type — and the field paths they name are collected so that the caller can check them
//! against the model's metadata.

use serde_json::Value;

use super::literal;

/// The comparison operators a leaf may use.
pub(crate) const OPERATORS: &[&str] = &[
    "=",
    "!=",
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
];

/// Most elements (operators and leaves) in a domain.
const MAX_ELEMENTS: usize = 500;
/// Most dotted segments in a field path.
pub(crate) const MAX_PATH_SEGMENTS: usize = 6;

/// A domain whose shape is valid.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CheckedDomain {
    /// The domain in Odoo's JSON form, operators normalised to lower case.
    pub(crate) value: Value,
    /// The field path of every leaf, in order (e.g. `country_id.code`).
    pub(crate) paths: Vec<String>,
}

/// Parse a domain given as text (JSON or Python literal) and check its shape. An empty text
/// means no filter.
pub(crate) fn parse(text: &str) -> Result<CheckedDomain, String> {
    if text.trim().is_empty() {
        return Ok(CheckedDomain {
            value: Value::Array(Vec::new()),
            paths: Vec::new(),
        });
    }
    let value = literal::parse(text).map_err(|e| format!("the domain does not parse: {e}"))?;
    check(&value)
}

/// Check the shape of a parsed domain.
pub(crate) fn check(value: &Value) -> Result<CheckedDomain, String> {
    let Value::Array(items) = value else {
        return Err(
            "a domain must be a list of conditions, e.g. [(\"is_company\", \"=\", True)]"
                .to_owned(),
        );
    };
    if items.len() > MAX_ELEMENTS {
        return Err(format!(
            "the domain has {} elements; at most {MAX_ELEMENTS} are accepted",
            items.len()
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    let mut paths = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let position = index + 1;
        match item {
            Value::String(op) => match op.as_str() {
                "&" | "|" | "!" => out.push(item.clone()),
                other => {
                    return Err(format!(
                        "element {position} of the domain is the string {other:?}; only the prefix operators \"&\", \"|\" and \"!\" may stand alone, conditions are (field, operator, value) triples"
                    ));
                }
            },
            Value::Array(leaf) => {
                let (path, leaf) = check_leaf(leaf, position)?;
                paths.push(path);
                out.push(leaf);
            }
            other => {
                return Err(format!(
                    "element {position} of the domain is {}; expected a (field, operator, value) triple or one of \"&\", \"|\", \"!\"",
                    kind(other)
                ));
            }
        }
    }
    check_arity(&out)?;
    Ok(CheckedDomain {
        value: Value::Array(out),
        paths,
    })
}

/// Prefix notation: reading from the end, each leaf pushes one term, `!` needs one and `&`/`|`
/// need two. Terms left over at the start are joined by an implicit AND.
fn check_arity(items: &[Value]) -> Result<(), String> {
    let mut terms: usize = 0;
    for (index, item) in items.iter().enumerate().rev() {
        let position = index + 1;
        match item.as_str() {
            Some(op @ ("&" | "|")) => {
                if terms < 2 {
                    return Err(format!(
                        "the operator {op:?} at element {position} needs two conditions after it, found {terms}"
                    ));
                }
                terms -= 1;
            }
            Some("!") => {
                if terms < 1 {
                    return Err(format!(
                        "the operator \"!\" at element {position} needs a condition after it"
                    ));
                }
            }
            _ => terms += 1,
        }
    }
    Ok(())
}

fn check_leaf(leaf: &[Value], position: usize) -> Result<(String, Value), String> {
    let [field, operator, value] = leaf else {
        return Err(format!(
            "condition {position} of the domain has {} elements; a condition is a (field, operator, value) triple",
            leaf.len()
        ));
    };
    let Some(path) = field.as_str() else {
        return Err(format!(
            "condition {position} of the domain: the field must be a string, found {}",
            kind(field)
        ));
    };
    check_path_syntax(path).map_err(|e| format!("condition {position} of the domain: {e}"))?;
    let Some(operator) = operator.as_str() else {
        return Err(format!(
            "condition {position} of the domain: the operator must be a string, found {}",
            kind(operator)
        ));
    };
    let op = operator.trim().to_ascii_lowercase();
    if !OPERATORS.contains(&op.as_str()) {
        return Err(format!(
            "condition {position} of the domain: unknown operator {operator:?}; use one of {}",
            OPERATORS.join(", ")
        ));
    }
    check_value(&op, value).map_err(|e| format!("condition {position} of the domain: {e}"))?;
    Ok((
        path.to_owned(),
        Value::Array(vec![field.clone(), Value::String(op), value.clone()]),
    ))
}

/// A field path: dotted segments of `[a-z0-9_]`, starting with a letter or `_`.
pub(crate) fn check_path_syntax(path: &str) -> Result<(), String> {
    let segments: Vec<&str> = path.split('.').collect();
    if segments.len() > MAX_PATH_SEGMENTS {
        return Err(format!(
            "the field path {path:?} has more than {MAX_PATH_SEGMENTS} segments"
        ));
    }
    for segment in &segments {
        if !is_field_name(segment) {
            return Err(format!("{path:?} is not a valid field name or dotted path"));
        }
    }
    Ok(())
}

/// A field name: `[a-z_][a-z0-9_]*`, at most 64 characters.
pub(crate) fn is_field_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 64
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Array(_) | Value::Object(_))
}

fn check_value(op: &str, value: &Value) -> Result<(), String> {
    match op {
        "in" | "not in" => match value {
            Value::Array(items) if items.iter().all(is_scalar) => Ok(()),
            Value::Array(_) => Err(format!(
                "the values of {op:?} must be plain values, not lists"
            )),
            _ => Err(format!(
                "the operator {op:?} needs a list of values, e.g. ['BE', 'FR'], found {}",
                kind(value)
            )),
        },
        "child_of" | "parent_of" => match value {
            Value::Number(_) | Value::String(_) => Ok(()),
            Value::Array(items) if items.iter().all(is_scalar) => Ok(()),
            _ => Err(format!(
                "the operator {op:?} needs an id or a list of ids, found {}",
                kind(value)
            )),
        },
        "like" | "not like" | "ilike" | "not ilike" | "=like" | "=ilike" => match value {
            Value::String(_) | Value::Number(_) | Value::Bool(false) => Ok(()),
            _ => Err(format!(
                "the operator {op:?} needs a text pattern, found {}",
                kind(value)
            )),
        },
        "<" | ">" | "<=" | ">=" => match value {
            Value::Number(_) | Value::String(_) => Ok(()),
            _ => Err(format!(
                "the operator {op:?} needs a number, a date or a text, found {}",
                kind(value)
            )),
        },
        _ => {
            if is_scalar(value) {
                Ok(())
            } else {
                Err(format!(
                    "the operator {op:?} needs a single value, found {}; use \"in\" for a list",
                    kind(value)
                ))
            }
        }
    }
}

/// A value's JSON kind, for messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "None",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// `records AND domain`: both are lists of conditions, implicitly ANDed at the top level.
pub(crate) fn restrict(records: Value, domain: Value) -> Value {
    let mut out = match records {
        Value::Array(items) => items,
        other => vec![other],
    };
    match domain {
        Value::Array(items) => out.extend(items),
        Value::Null => {}
        other => out.push(other),
    }
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes_are_checked() {
        let ok =
            parse("['|', ('a', '=', 1), '!', ('b.c', 'IN', [1, 2]), ('d', 'ilike', 'x')]").unwrap();
        assert_eq!(ok.paths, vec!["a", "b.c", "d"]);
        assert_eq!(ok.value[3], json!(["b.c", "in", [1, 2]]));
        assert!(parse("").unwrap().paths.is_empty());
        for bad in [
            "['|', ('a', '=', 1)]",
            "['!']",
            "['&', '&', ('a','=',1), ('b','=',2)]",
            "[('a', '=')]",
            "[('a', '~', 1)]",
            "[('a', 'in', 1)]",
            "[('A', '=', 1)]",
            "[('a..b', '=', 1)]",
            "[1]",
            "['x']",
            "{'a': 1}",
            "[('a', '=', [1])]",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
