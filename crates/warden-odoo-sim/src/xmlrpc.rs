//! XML-RPC: requests parsed with dxr, values converted to and from JSON, and responses written the
//! way Python's `xmlrpc.client` marshaller lays them out (quick-xml escapes the text; dxr's own
//! serialiser sorts struct members and cannot write Odoo's string faultCode of the legacy endpoint).

use dxr::Value as X;
use quick_xml::Writer;
use quick_xml::escape::partial_escape;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde_json::{Map, Value, json};

/// Parse an XML-RPC method call into its name and JSON parameters.
pub(crate) fn parse_call(body: &str) -> Result<(String, Vec<Value>), String> {
    let call = dxr::MethodCall::from_xml(body).map_err(|e| {
        let text = e.to_string();
        // dxr echoes the whole document in its message; keep only the first line, bounded.
        text.lines()
            .next()
            .unwrap_or("syntax error")
            .chars()
            .take(120)
            .collect::<String>()
    })?;
    let params = call
        .params
        .iter()
        .map(to_json)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((call.name.into_owned(), params))
}

fn to_json(v: &X) -> Result<Value, String> {
    Ok(match v {
        X::Integer(i) => json!(i),
        X::Boolean(b) => json!(b),
        X::String(s) => json!(s),
        X::Double(d) => json!(d),
        X::DateTime(dt) => json!(dt.to_string()),
        X::Base64(_) => return Err("base64 values are not supported".to_owned()),
        X::Struct(members) => {
            let mut map = Map::new();
            for (k, v) in members {
                map.insert(k.clone(), to_json(v)?);
            }
            Value::Object(map)
        }
        X::Array(items) => Value::Array(items.iter().map(to_json).collect::<Result<Vec<_>, _>>()?),
    })
}

/// Why a value cannot be marshalled (Python's TypeError/OverflowError text).
pub(crate) enum MarshalError {
    None,
    Overflow,
}

struct Out {
    w: Writer<Vec<u8>>,
}

impl Out {
    fn new() -> Out {
        Out {
            w: Writer::new(Vec::new()),
        }
    }
    fn raw(&mut self, s: &str) {
        let _ = self.w.write_event(Event::Text(BytesText::from_escaped(s)));
    }
    fn start(&mut self, tag: &str) {
        let _ = self.w.write_event(Event::Start(BytesStart::new(tag)));
    }
    fn end(&mut self, tag: &str) {
        let _ = self.w.write_event(Event::End(BytesEnd::new(tag)));
    }
    fn text(&mut self, s: &str) {
        let _ = self
            .w
            .write_event(Event::Text(BytesText::from_escaped(partial_escape(s))));
    }
    fn leaf(&mut self, tag: &str, text: &str) {
        self.start(tag);
        self.text(text);
        self.end(tag);
    }
    fn value(&mut self, v: &Value) -> Result<(), MarshalError> {
        self.start("value");
        match v {
            Value::Null => return Err(MarshalError::None),
            Value::Bool(b) => self.leaf("boolean", if *b { "1" } else { "0" }),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    if i32::try_from(i).is_err() {
                        return Err(MarshalError::Overflow);
                    }
                    self.leaf("int", &i.to_string());
                } else {
                    let f = n.as_f64().unwrap_or(0.0);
                    self.leaf("double", &py_float(f));
                }
            }
            Value::String(s) => self.leaf("string", s),
            Value::Array(items) => {
                self.start("array");
                self.start("data");
                self.raw("\n");
                for item in items {
                    self.value(item)?;
                }
                self.end("data");
                self.end("array");
            }
            Value::Object(map) => {
                self.start("struct");
                self.raw("\n");
                for (k, item) in map {
                    self.start("member");
                    self.raw("\n");
                    self.leaf("name", k);
                    self.raw("\n");
                    self.value(item)?;
                    self.end("member");
                    self.raw("\n");
                }
                self.end("struct");
            }
        }
        self.end("value");
        self.raw("\n");
        Ok(())
    }
    fn finish(mut self) -> Vec<u8> {
        self.raw("\n");
        self.end("methodResponse");
        self.raw("\n");
        self.w.into_inner()
    }
    fn header() -> Out {
        let mut out = Out::new();
        let _ = out
            .w
            .write_event(Event::Decl(BytesDecl::new("1.0", None, None)));
        out.raw("\n");
        out.start("methodResponse");
        out.raw("\n");
        out
    }
}

/// Python's `repr` of a float.
fn py_float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// A successful response carrying `value`.
pub(crate) fn response(value: &Value) -> Result<Vec<u8>, MarshalError> {
    let mut out = Out::header();
    out.start("params");
    out.raw("\n");
    out.start("param");
    out.raw("\n");
    out.value(value)?;
    out.end("param");
    out.raw("\n");
    out.end("params");
    out.raw("\n");
    Ok(out.finish())
}

/// A fault response; `code` is an int (`/xmlrpc/2`) or a string (legacy endpoint).
pub(crate) fn fault(code: Value, string: &str) -> Vec<u8> {
    let mut out = Out::header();
    out.start("fault");
    out.raw("\n");
    let mut map = Map::new();
    map.insert("faultCode".into(), code);
    map.insert("faultString".into(), json!(string));
    // Both members are strings or ints: marshalling cannot fail.
    let _ = out.value(&Value::Object(map));
    out.end("fault");
    out.raw("\n");
    out.finish()
}
