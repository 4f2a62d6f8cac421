//! Reading a tool call's arguments with strict types: unknown arguments, wrong types and values
//! out of range are refused with a message naming the argument.

use serde_json::{Map, Value};

use super::domain::kind;
use super::literal;

/// Most ids in one call.
pub(crate) const MAX_IDS: usize = 1000;
/// Most names in a `fields`, `group_by` or `aggregates` list.
pub(crate) const MAX_NAMES: usize = 200;
/// Longest accepted free-text argument (a name to search), in characters.
const MAX_TEXT_CHARS: usize = 1000;

/// A call's arguments, consumed one by one.
pub(crate) struct Args {
    map: Map<String, Value>,
}

impl Args {
    /// Refuse arguments other than `allowed`.
    pub(crate) fn new(map: Map<String, Value>, allowed: &[&str]) -> Result<Self, String> {
        let mut unknown: Vec<&str> = map
            .keys()
            .map(String::as_str)
            .filter(|k| !allowed.contains(k))
            .collect();
        if !unknown.is_empty() {
            unknown.sort_unstable();
            let shown: Vec<String> = unknown
                .iter()
                .take(5)
                .map(|k| format!("{:?}", k.chars().take(40).collect::<String>()))
                .collect();
            return Err(format!(
                "unknown argument {}; accepted arguments: {}",
                shown.join(", "),
                allowed.join(", ")
            ));
        }
        Ok(Self { map })
    }

    fn take(&mut self, name: &str) -> Option<Value> {
        match self.map.remove(name) {
            None | Some(Value::Null) => None,
            Some(value) => Some(value),
        }
    }

    /// A required string.
    pub(crate) fn string(&mut self, name: &str) -> Result<String, String> {
        self.opt_string(name)?
            .ok_or_else(|| format!("the argument {name:?} is required"))
    }

    /// An optional string.
    pub(crate) fn opt_string(&mut self, name: &str) -> Result<Option<String>, String> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(format!(
                "the argument {name:?} must be a string, found {}",
                kind(&other)
            )),
        }
    }

    /// An optional structured argument (`domain`, `values`, `args`, `kwargs`): native JSON as
    /// agents send it, or the same written as text — JSON, or Odoo's Python-literal form — for
    /// clients that send it so. Both forms are held to the same size, depth and item bounds
    /// ([`literal`]); an empty or blank text is absent.
    pub(crate) fn opt_structured(&mut self, name: &str) -> Result<Option<Value>, String> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
            Some(Value::String(text)) => literal::parse(&text)
                .map(Some)
                .map_err(|e| format!("the argument {name:?} does not parse: {e}")),
            Some(value) => literal::check_bounds(&value)
                .map(|()| Some(value))
                .map_err(|e| format!("the argument {name:?} is refused: {e}")),
        }
    }

    /// An optional short text (bounded length, no control characters).
    pub(crate) fn opt_text(&mut self, name: &str) -> Result<Option<String>, String> {
        let Some(text) = self.opt_string(name)? else {
            return Ok(None);
        };
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(format!(
                "the argument {name:?} is longer than {MAX_TEXT_CHARS} characters"
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(format!(
                "the argument {name:?} must not contain control characters"
            ));
        }
        Ok(Some(text))
    }

    /// An optional non-negative integer.
    pub(crate) fn opt_u64(&mut self, name: &str) -> Result<Option<u64>, String> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) => Ok(Some(v)),
                None if n
                    .as_f64()
                    .is_some_and(|f| f >= 0.0 && f.fract() == 0.0 && f < 1e15) =>
                {
                    // 10.0 is accepted as 10; precision is exact below 2^53.
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    let v = n.as_f64().map_or(0, |f| f as u64);
                    Ok(Some(v))
                }
                None => Err(format!(
                    "the argument {name:?} must be a non-negative integer, found {n}"
                )),
            },
            Some(other) => Err(format!(
                "the argument {name:?} must be an integer, found {}",
                kind(&other)
            )),
        }
    }

    /// An optional list of strings (at most [`MAX_NAMES`]).
    pub(crate) fn opt_strings(&mut self, name: &str) -> Result<Option<Vec<String>>, String> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Array(items)) => {
                if items.len() > MAX_NAMES {
                    return Err(format!(
                        "the argument {name:?} has {} items; at most {MAX_NAMES} are accepted",
                        items.len()
                    ));
                }
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| match item {
                        Value::String(s) => Ok(s),
                        other => Err(format!(
                            "item {} of {name:?} must be a string, found {}",
                            i + 1,
                            kind(&other)
                        )),
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some)
            }
            Some(other) => Err(format!(
                "the argument {name:?} must be a list of strings, found {}",
                kind(&other)
            )),
        }
    }

    /// A list of record ids: positive integers, at most [`MAX_IDS`], duplicates removed (order
    /// kept). Absent means empty.
    pub(crate) fn ids(&mut self, name: &str) -> Result<Vec<i64>, String> {
        let items = match self.take(name) {
            None => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(format!(
                    "the argument {name:?} must be a list of record ids, found {}",
                    kind(&other)
                ));
            }
        };
        if items.len() > MAX_IDS {
            return Err(format!(
                "the argument {name:?} has {} ids; at most {MAX_IDS} are accepted",
                items.len()
            ));
        }
        let mut ids: Vec<i64> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item.as_i64() {
                Some(id) if id > 0 => {
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                _ => {
                    return Err(format!(
                        "item {} of {name:?} must be a positive integer id, found {item}",
                        i + 1
                    ));
                }
            }
        }
        Ok(ids)
    }
}

/// A model's technical name: `[a-z0-9_.]`, starting with a letter, at most 128 characters.
pub(crate) fn check_model_name(model: &str) -> Result<(), String> {
    let valid = model.len() <= 128
        && model.starts_with(|c: char| c.is_ascii_lowercase())
        && model
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
        && !model.contains("..")
        && !model.ends_with('.');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{:?} is not a valid model name; model names look like \"res.partner\" (use list_models to find one)",
            model.chars().take(60).collect::<String>()
        ))
    }
}
