//! Values sent as text: JSON, or the Python-literal form Odoo users write domains in
//! (`[('is_company', '=', True), ('country_id.code', 'in', ['BE', 'FR'])]`).
//!
//! The Python form is read by a small recursive-descent parser: lists, tuples, strings in single
//! or double quotes, integers, floats, `True`/`False`/`None` (and JSON's `true`/`false`/`null`).
//! Nothing is evaluated; input size, nesting depth and item count are bounded.

use serde_json::{Map, Number, Value};

/// Largest accepted text, in bytes.
pub(crate) const MAX_TEXT_BYTES: usize = 256 * 1024;
/// Deepest accepted nesting of lists, tuples and objects.
pub(crate) const MAX_DEPTH: usize = 32;
/// Most values in one text.
const MAX_ITEMS: usize = 20_000;

/// Why a text is not a valid value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LiteralError {
    /// The text is longer than [`MAX_TEXT_BYTES`].
    #[error("the text is too long ({0} bytes, at most {MAX_TEXT_BYTES})")]
    TooLong(usize),
    /// The nesting is deeper than [`MAX_DEPTH`].
    #[error("the value is nested too deeply (at most {MAX_DEPTH} levels)")]
    TooDeep,
    /// More values than allowed.
    #[error("the value has too many items")]
    TooManyItems,
    /// A syntax error at a character position.
    #[error("{message} at character {position}")]
    Syntax {
        /// What is wrong.
        message: String,
        /// 1-based character position.
        position: usize,
    },
}

/// Parse JSON, or failing that the Python-literal form.
pub(crate) fn parse(text: &str) -> Result<Value, LiteralError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(LiteralError::TooLong(text.len()));
    }
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        if depth(&value) > MAX_DEPTH {
            return Err(LiteralError::TooDeep);
        }
        return Ok(value);
    }
    let mut parser = Parser {
        chars: text.chars().collect(),
        pos: 0,
        items: 0,
    };
    let value = parser.value(0)?;
    parser.skip_ws();
    if parser.pos < parser.chars.len() {
        return Err(parser.error("unexpected text after the value"));
    }
    Ok(value)
}

/// Hold a value that arrived as native JSON to the bounds text is held to: its size as JSON,
/// its nesting depth and its number of values.
pub(crate) fn check_bounds(value: &Value) -> Result<(), LiteralError> {
    let mut items = 0usize;
    let mut stack = vec![(value, 1usize)];
    while let Some((v, d)) = stack.pop() {
        if d > MAX_DEPTH {
            return Err(LiteralError::TooDeep);
        }
        items += 1;
        if items > MAX_ITEMS {
            return Err(LiteralError::TooManyItems);
        }
        match v {
            Value::Array(values) => stack.extend(values.iter().map(|i| (i, d + 1))),
            Value::Object(map) => stack.extend(map.values().map(|i| (i, d + 1))),
            _ => {}
        }
    }
    let mut size = SizeLimit(0);
    if serde_json::to_writer(&mut size, value).is_err() {
        return Err(LiteralError::TooLong(size.0));
    }
    Ok(())
}

/// Counts the bytes of JSON written, and fails past [`MAX_TEXT_BYTES`].
struct SizeLimit(usize);

impl std::io::Write for SizeLimit {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        if self.0 > MAX_TEXT_BYTES {
            return Err(std::io::Error::other("too long"));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn depth(value: &Value) -> usize {
    // Iterative, so that a deeply nested JSON value cannot exhaust the stack here.
    let mut max = 0;
    let mut stack = vec![(value, 1usize)];
    while let Some((v, d)) = stack.pop() {
        max = max.max(d);
        if d > MAX_DEPTH {
            break;
        }
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, d + 1))),
            Value::Object(map) => stack.extend(map.values().map(|i| (i, d + 1))),
            _ => {}
        }
    }
    max
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    items: usize,
}

impl Parser {
    fn error(&self, message: impl Into<String>) -> LiteralError {
        LiteralError::Syntax {
            message: message.into(),
            position: self.pos + 1,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, LiteralError> {
        if depth >= MAX_DEPTH {
            return Err(LiteralError::TooDeep);
        }
        self.items += 1;
        if self.items > MAX_ITEMS {
            return Err(LiteralError::TooManyItems);
        }
        self.skip_ws();
        match self.peek() {
            None => Err(self.error("unexpected end of text")),
            Some('[') => {
                self.pos += 1;
                self.sequence(']', depth).map(Value::Array)
            }
            Some('(') => {
                self.pos += 1;
                self.tuple(depth)
            }
            Some('{') => {
                self.pos += 1;
                self.dict(depth)
            }
            Some(q @ ('\'' | '"')) => {
                self.pos += 1;
                self.string(q).map(Value::String)
            }
            Some(c) if c == '-' || c == '+' || c.is_ascii_digit() => self.number(),
            Some(c) if c.is_ascii_alphabetic() || c == '_' => self.word(),
            Some(c) => Err(self.error(format!("unexpected character {c:?}"))),
        }
    }

    /// Items up to `close`, separated by commas, a trailing comma allowed. The opening bracket
    /// has been consumed.
    fn sequence(&mut self, close: char, depth: usize) -> Result<Vec<Value>, LiteralError> {
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok(items);
            }
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(c) if c == close => {}
                Some(c) => {
                    return Err(self.error(format!("expected ',' or '{close}', found {c:?}")));
                }
                None => return Err(self.error(format!("missing '{close}'"))),
            }
        }
    }

    /// `(a, b)` is a tuple, `(a,)` a one-item tuple, `()` an empty one and `(a)` just `a`.
    fn tuple(&mut self, depth: usize) -> Result<Value, LiteralError> {
        self.skip_ws();
        if self.peek() == Some(')') {
            self.pos += 1;
            return Ok(Value::Array(Vec::new()));
        }
        let first = self.value(depth + 1)?;
        self.skip_ws();
        match self.peek() {
            Some(')') => {
                self.pos += 1;
                Ok(first)
            }
            Some(',') => {
                self.pos += 1;
                let mut items = vec![first];
                items.extend(self.sequence(')', depth)?);
                Ok(Value::Array(items))
            }
            Some(c) => Err(self.error(format!("expected ',' or ')', found {c:?}"))),
            None => Err(self.error("missing ')'")),
        }
    }

    fn dict(&mut self, depth: usize) -> Result<Value, LiteralError> {
        let mut map = Map::new();
        loop {
            self.skip_ws();
            match self.peek() {
                Some('}') => {
                    self.pos += 1;
                    return Ok(Value::Object(map));
                }
                Some(q @ ('\'' | '"')) => {
                    self.pos += 1;
                    let key = self.string(q)?;
                    self.skip_ws();
                    if self.peek() != Some(':') {
                        return Err(self.error("expected ':' after a dictionary key"));
                    }
                    self.pos += 1;
                    let value = self.value(depth + 1)?;
                    map.insert(key, value);
                    self.skip_ws();
                    match self.peek() {
                        Some(',') => self.pos += 1,
                        Some('}') => {}
                        Some(c) => {
                            return Err(self.error(format!("expected ',' or '}}', found {c:?}")));
                        }
                        None => return Err(self.error("missing '}'")),
                    }
                }
                Some(c) => {
                    return Err(
                        self.error(format!("expected a quoted dictionary key, found {c:?}"))
                    );
                }
                None => return Err(self.error("missing '}'")),
            }
        }
    }

    /// A quoted string; the opening quote has been consumed.
    fn string(&mut self, quote: char) -> Result<String, LiteralError> {
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("unterminated string"));
            };
            self.pos += 1;
            match c {
                c if c == quote => return Ok(out),
                '\n' => return Err(self.error("unterminated string")),
                '\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.error("unterminated string"));
                    };
                    self.pos += 1;
                    match e {
                        '\\' => out.push('\\'),
                        '\'' => out.push('\''),
                        '"' => out.push('"'),
                        '/' => out.push('/'),
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '0' => out.push('\0'),
                        'u' => out.push(self.unicode_escape()?),
                        other => {
                            return Err(self.error(format!("unknown escape \\{other}")));
                        }
                    }
                }
                c => out.push(c),
            }
        }
    }

    fn unicode_escape(&mut self) -> Result<char, LiteralError> {
        let end = self.pos + 4;
        if end > self.chars.len() {
            return Err(self.error("incomplete \\u escape"));
        }
        let hex: String = self.chars[self.pos..end].iter().collect();
        let code = u32::from_str_radix(&hex, 16).map_err(|_| self.error("invalid \\u escape"))?;
        self.pos = end;
        char::from_u32(code).ok_or_else(|| self.error("invalid \\u escape"))
    }

    fn number(&mut self) -> Result<Value, LiteralError> {
        let start = self.pos;
        if matches!(self.peek(), Some('-' | '+')) {
            self.pos += 1;
        }
        let mut float = false;
        while let Some(c) = self.peek() {
            match c {
                '0'..='9' | '_' => {}
                '.' => float = true,
                'e' | 'E' => {
                    float = true;
                    if matches!(self.chars.get(self.pos + 1), Some('-' | '+')) {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos]
            .iter()
            .filter(|c| **c != '_')
            .collect();
        let parsed = if float {
            text.parse::<f64>().ok().and_then(Number::from_f64)
        } else {
            text.parse::<i64>().ok().map(Number::from)
        };
        parsed.map(Value::Number).ok_or(LiteralError::Syntax {
            message: format!("invalid number {text:?}"),
            position: start + 1,
        })
    }

    fn word(&mut self) -> Result<Value, LiteralError> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.pos += 1;
        }
        let word: String = self.chars[start..self.pos].iter().collect();
        match word.as_str() {
            "True" | "true" => Ok(Value::Bool(true)),
            "False" | "false" => Ok(Value::Bool(false)),
            "None" | "null" => Ok(Value::Null),
            _ => Err(LiteralError::Syntax {
                message: format!(
                    "unexpected name {word:?} (only True, False, None, numbers, quoted strings, lists and tuples are accepted)"
                ),
                position: start + 1,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_and_json_forms_agree() {
        let py = parse("[('is_company', '=', True), (\"country_id.code\", 'in', ['BE', 'FR',]), ('x', '!=', None), ('n', '>', -1.5)]").unwrap();
        let js = parse(r#"[["is_company","=",true],["country_id.code","in",["BE","FR"]],["x","!=",null],["n",">",-1.5]]"#).unwrap();
        assert_eq!(py, js);
    }

    #[test]
    fn tuples_follow_python() {
        assert_eq!(parse("(1,)").unwrap(), json!([1]));
        assert_eq!(parse("(1)").unwrap(), json!(1));
        assert_eq!(parse("()").unwrap(), json!([]));
        assert_eq!(parse("'it\\'s'").unwrap(), json!("it's"));
        assert_eq!(parse("{'a': [1, 2]}").unwrap(), json!({"a": [1, 2]}));
    }

    #[test]
    fn errors_name_the_position() {
        let err = parse("[('a', '=', 1]").unwrap_err();
        assert!(err.to_string().contains("character"), "{err}");
        assert!(parse("[('a', '=', os.system('x'))]").is_err());
        assert!(parse("[('a', '=', 'unterminated)]").is_err());
        assert!(parse("[1] [2]").is_err());
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert_eq!(parse(&deep).unwrap_err(), LiteralError::TooDeep);
        let deep_py = "(".repeat(100) + "1," + &")".repeat(100);
        assert_eq!(parse(&deep_py).unwrap_err(), LiteralError::TooDeep);
    }
}
