//! Wire codecs: XML-RPC (encode a call, decode a response) and JSON-RPC (decode a response),
//! all straight to and from [`serde_json::Value`].
//!
//! XML-RPC decoding maps `int`/`i4`/`i8` to integers, `double` to floats, `boolean` to
//! booleans, `string` and untyped `<value>text</value>` to strings, `dateTime.iso8601` and
//! `base64` to their text as sent, `nil` to `null`, arrays to arrays and structs to objects
//! that keep member order. Encoding writes booleans as `<boolean>`, integers as `<int>`
//! (`<i8>` beyond 32 bits), floats as `<double>` and `null` as `<nil/>`; text is escaped by
//! the XML writer.
//!
//! Errors reported by Odoo (XML-RPC faults, JSON-RPC `error` members, HTML error pages) are
//! decoded into the matching [`OdooError`] with a clean message.

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde_json::{Map, Number, Value};

use crate::error::{
    Classified, FaultCode, OdooError, classify_jsonrpc_error, classify_xmlrpc_fault,
    html_error_text,
};

/// Nesting deeper than this is refused (a hostile answer cannot exhaust the stack).
const MAX_DEPTH: usize = 256;

// ---------------------------------------------------------------------------------------------
// XML-RPC encoding
// ---------------------------------------------------------------------------------------------

/// Encode an XML-RPC `methodCall` with the given parameters.
///
/// Fails with [`OdooError::InvalidArgument`] for values XML-RPC cannot carry (integers beyond
/// 64-bit signed range).
pub fn encode_xmlrpc_call(method: &str, params: &[Value]) -> Result<Vec<u8>, OdooError> {
    let mut writer = Writer::new(Vec::with_capacity(256 + params.len() * 64));
    let result: Result<(), EncodeError> = (|| {
        writer.write_event(Event::Decl(BytesDecl::new("1.0", None, None)))?;
        start(&mut writer, "methodCall")?;
        start(&mut writer, "methodName")?;
        writer.write_event(Event::Text(BytesText::new(method)))?;
        end(&mut writer, "methodName")?;
        start(&mut writer, "params")?;
        for param in params {
            start(&mut writer, "param")?;
            write_value(&mut writer, param, 0)?;
            end(&mut writer, "param")?;
        }
        end(&mut writer, "params")?;
        end(&mut writer, "methodCall")?;
        Ok(())
    })();
    match result {
        Ok(()) => Ok(writer.into_inner()),
        Err(EncodeError::Io(error)) => Err(OdooError::invalid_argument(format!(
            "cannot encode xml-rpc call: {error}"
        ))),
        Err(EncodeError::Value(message)) => Err(OdooError::invalid_argument(message)),
    }
}

enum EncodeError {
    Io(std::io::Error),
    Value(String),
}

impl From<std::io::Error> for EncodeError {
    fn from(error: std::io::Error) -> Self {
        Self::Io(error)
    }
}

fn start(writer: &mut Writer<Vec<u8>>, name: &str) -> std::io::Result<()> {
    writer.write_event(Event::Start(BytesStart::new(name)))
}

fn end(writer: &mut Writer<Vec<u8>>, name: &str) -> std::io::Result<()> {
    writer.write_event(Event::End(BytesEnd::new(name)))
}

fn text_element(writer: &mut Writer<Vec<u8>>, name: &str, text: &str) -> std::io::Result<()> {
    start(writer, name)?;
    if !text.is_empty() {
        writer.write_event(Event::Text(BytesText::new(text)))?;
    }
    end(writer, name)
}

fn write_value(
    writer: &mut Writer<Vec<u8>>,
    value: &Value,
    depth: usize,
) -> Result<(), EncodeError> {
    if depth > MAX_DEPTH {
        return Err(EncodeError::Value("value nested too deeply".to_owned()));
    }
    start(writer, "value")?;
    match value {
        Value::Null => writer.write_event(Event::Empty(BytesStart::new("nil")))?,
        Value::Bool(b) => text_element(writer, "boolean", if *b { "1" } else { "0" })?,
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                if i32::try_from(i).is_ok() {
                    text_element(writer, "int", &i.to_string())?;
                } else {
                    text_element(writer, "i8", &i.to_string())?;
                }
            } else if n.is_u64() {
                return Err(EncodeError::Value(format!(
                    "integer {n} is out of range for xml-rpc"
                )));
            } else if let Some(f) = n.as_f64() {
                text_element(writer, "double", &format_double(f))?;
            } else {
                return Err(EncodeError::Value(format!("number {n} cannot be encoded")));
            }
        }
        Value::String(s) => text_element(writer, "string", s)?,
        Value::Array(items) => {
            start(writer, "array")?;
            start(writer, "data")?;
            for item in items {
                write_value(writer, item, depth + 1)?;
            }
            end(writer, "data")?;
            end(writer, "array")?;
        }
        Value::Object(members) => {
            start(writer, "struct")?;
            for (name, member) in members {
                start(writer, "member")?;
                text_element(writer, "name", name)?;
                write_value(writer, member, depth + 1)?;
                end(writer, "member")?;
            }
            end(writer, "struct")?;
        }
    }
    end(writer, "value")?;
    Ok(())
}

/// A float as Python's `repr` would write it for integral values (`2.0`, not `2`).
fn format_double(f: f64) -> String {
    let text = f.to_string();
    if text.contains(['.', 'e', 'E']) || !f.is_finite() {
        text
    } else {
        format!("{text}.0")
    }
}

// ---------------------------------------------------------------------------------------------
// XML-RPC decoding
// ---------------------------------------------------------------------------------------------

/// Decode an XML-RPC `methodResponse` body.
///
/// A fault becomes the matching [`OdooError`]; the fault Odoo sends when a method returned
/// `None` ("cannot marshal None unless allow_none is enabled") is `Ok(Value::Null)`, since
/// the method did run.
pub fn decode_xmlrpc_response(body: &[u8]) -> Result<Value, OdooError> {
    let mut decoder = Decoder::new(body);
    decoder.expect_start(b"methodResponse")?;
    let which = decoder.next_start()?;
    match which.as_slice() {
        b"params" => {
            decoder.expect_start(b"param")?;
            decoder.expect_start(b"value")?;
            let value = decoder.value(0)?;
            decoder.expect_end(b"param")?;
            decoder.expect_end(b"params")?;
            decoder.expect_end(b"methodResponse")?;
            Ok(value)
        }
        b"fault" => {
            decoder.expect_start(b"value")?;
            let fault = decoder.value(0)?;
            fault_to_result(&fault)
        }
        other => Err(OdooError::unparseable(format!(
            "unexpected element <{}> in methodResponse",
            String::from_utf8_lossy(other)
        ))),
    }
}

fn fault_to_result(fault: &Value) -> Result<Value, OdooError> {
    let code = match fault.get("faultCode") {
        Some(Value::Number(n)) => FaultCode::Int(n.as_i64().unwrap_or(1)),
        Some(Value::String(s)) => FaultCode::Text(s.clone()),
        _ => return Err(OdooError::unparseable("xml-rpc fault without a faultCode")),
    };
    let fault_string = fault
        .get("faultString")
        .and_then(Value::as_str)
        .unwrap_or("");
    match classify_xmlrpc_fault(&code, fault_string) {
        Classified::NoneResult => Ok(Value::Null),
        Classified::Error(error) => Err(error),
    }
}

struct Decoder<'a> {
    reader: Reader<&'a [u8]>,
}

impl<'a> Decoder<'a> {
    fn new(body: &'a [u8]) -> Self {
        let mut reader = Reader::from_reader(body);
        let config = reader.config_mut();
        config.trim_text(false);
        config.check_end_names = true;
        Self { reader }
    }

    fn event(&mut self) -> Result<Event<'a>, OdooError> {
        self.reader.read_event().map_err(|error| {
            OdooError::unparseable(format!(
                "invalid xml at byte {}: {error}",
                self.reader.error_position()
            ))
        })
    }

    /// The next structural event, skipping whitespace, comments, declarations.
    fn structural(&mut self) -> Result<Event<'a>, OdooError> {
        loop {
            let event = self.event()?;
            match &event {
                Event::Text(text) if text.iter().all(u8::is_ascii_whitespace) => {}
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
                _ => return Ok(event),
            }
        }
    }

    /// The name of the next start tag (an empty tag counts as start + end only for `Empty`).
    fn next_start(&mut self) -> Result<Vec<u8>, OdooError> {
        match self.structural()? {
            Event::Start(start) => Ok(start.name().as_ref().to_vec()),
            other => Err(unexpected(&other, "a start tag")),
        }
    }

    fn expect_start(&mut self, name: &[u8]) -> Result<(), OdooError> {
        match self.structural()? {
            Event::Start(start) if start.name().as_ref() == name => Ok(()),
            other => Err(unexpected(&other, &String::from_utf8_lossy(name))),
        }
    }

    fn expect_end(&mut self, name: &[u8]) -> Result<(), OdooError> {
        match self.structural()? {
            Event::End(end) if end.name().as_ref() == name => Ok(()),
            other => Err(unexpected(
                &other,
                &format!("</{}>", String::from_utf8_lossy(name)),
            )),
        }
    }

    /// Collect the text content up to the end tag `name` (entity and character references
    /// resolved, CDATA included).
    fn text_until_end(&mut self, name: &[u8]) -> Result<Cow<'a, str>, OdooError> {
        let mut out: Option<Cow<'a, str>> = None;
        loop {
            match self.event()? {
                Event::Text(text) => {
                    let piece = text
                        .unescape()
                        .map_err(|e| OdooError::unparseable(format!("invalid text: {e}")))?;
                    append(&mut out, piece);
                }
                Event::CData(data) => {
                    let piece = data
                        .decode()
                        .map_err(|e| OdooError::unparseable(format!("invalid cdata: {e}")))?;
                    append(&mut out, piece);
                }
                Event::Comment(_) => {}
                Event::End(end) if end.name().as_ref() == name => {
                    return Ok(out.unwrap_or(Cow::Borrowed("")));
                }
                other => return Err(unexpected(&other, "text")),
            }
        }
    }

    /// Decode a value; the `<value>` start tag has been consumed; consumes `</value>`.
    fn value(&mut self, depth: usize) -> Result<Value, OdooError> {
        if depth > MAX_DEPTH {
            return Err(OdooError::unparseable("xml-rpc value nested too deeply"));
        }
        let mut untyped: Option<Cow<'a, str>> = None;
        loop {
            match self.event()? {
                Event::Text(text) => {
                    let piece = text
                        .unescape()
                        .map_err(|e| OdooError::unparseable(format!("invalid text: {e}")))?;
                    append(&mut untyped, piece);
                }
                Event::CData(data) => {
                    let piece = data
                        .decode()
                        .map_err(|e| OdooError::unparseable(format!("invalid cdata: {e}")))?;
                    append(&mut untyped, piece);
                }
                Event::Comment(_) => {}
                Event::End(end) if end.name().as_ref() == b"value" => {
                    return Ok(Value::String(
                        untyped.map(Cow::into_owned).unwrap_or_default(),
                    ));
                }
                Event::Empty(empty) => {
                    let value = empty_typed(empty.name().as_ref())?;
                    self.expect_end(b"value")?;
                    return Ok(value);
                }
                Event::Start(start) => {
                    if untyped
                        .as_ref()
                        .is_some_and(|t| !t.chars().all(char::is_whitespace))
                    {
                        return Err(OdooError::unparseable("mixed content in <value>"));
                    }
                    let name = start.name().as_ref().to_vec();
                    let value = self.typed(&name, depth)?;
                    self.expect_end(b"value")?;
                    return Ok(value);
                }
                other => return Err(unexpected(&other, "a value")),
            }
        }
    }

    /// Decode a typed value whose start tag `name` was consumed; consumes its end tag.
    fn typed(&mut self, name: &[u8], depth: usize) -> Result<Value, OdooError> {
        match name {
            b"string" | b"dateTime.iso8601" | b"base64" => {
                let text = self.text_until_end(name)?;
                Ok(Value::String(text.into_owned()))
            }
            b"int" | b"i4" | b"i8" | b"i1" | b"i2" | b"bigint" => {
                let text = self.text_until_end(name)?;
                let number: i64 = text.trim().parse().map_err(|_| {
                    OdooError::unparseable(format!("invalid integer {:?}", short(&text)))
                })?;
                Ok(Value::Number(number.into()))
            }
            b"double" | b"float" | b"bigdecimal" => {
                let text = self.text_until_end(name)?;
                let number: f64 = text.trim().parse().map_err(|_| {
                    OdooError::unparseable(format!("invalid double {:?}", short(&text)))
                })?;
                Number::from_f64(number)
                    .map(Value::Number)
                    .ok_or_else(|| OdooError::unparseable("a double that is not a finite number"))
            }
            b"boolean" => {
                let text = self.text_until_end(name)?;
                match text.trim() {
                    "1" | "true" => Ok(Value::Bool(true)),
                    "0" | "false" => Ok(Value::Bool(false)),
                    other => Err(OdooError::unparseable(format!(
                        "invalid boolean {:?}",
                        short(other)
                    ))),
                }
            }
            b"nil" => {
                self.text_until_end(name)?;
                Ok(Value::Null)
            }
            b"array" => self.array(depth),
            b"struct" => self.structure(depth),
            other => Err(OdooError::unparseable(format!(
                "unknown xml-rpc type <{}>",
                String::from_utf8_lossy(other)
            ))),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, OdooError> {
        let mut items = Vec::new();
        match self.structural()? {
            Event::Start(start) if start.name().as_ref() == b"data" => {}
            Event::Empty(empty) if empty.name().as_ref() == b"data" => {
                self.expect_end(b"array")?;
                return Ok(Value::Array(items));
            }
            other => return Err(unexpected(&other, "<data>")),
        }
        loop {
            match self.structural()? {
                Event::Start(start) if start.name().as_ref() == b"value" => {
                    items.push(self.value(depth + 1)?);
                }
                Event::Empty(empty) if empty.name().as_ref() == b"value" => {
                    items.push(Value::String(String::new()));
                }
                Event::End(end) if end.name().as_ref() == b"data" => break,
                other => return Err(unexpected(&other, "<value> or </data>")),
            }
        }
        self.expect_end(b"array")?;
        Ok(Value::Array(items))
    }

    fn structure(&mut self, depth: usize) -> Result<Value, OdooError> {
        let mut members = Map::new();
        loop {
            match self.structural()? {
                Event::Start(start) if start.name().as_ref() == b"member" => {
                    self.expect_start(b"name")?;
                    let name = self.text_until_end(b"name")?.into_owned();
                    let value = match self.structural()? {
                        Event::Start(start) if start.name().as_ref() == b"value" => {
                            self.value(depth + 1)?
                        }
                        Event::Empty(empty) if empty.name().as_ref() == b"value" => {
                            Value::String(String::new())
                        }
                        other => return Err(unexpected(&other, "<value>")),
                    };
                    self.expect_end(b"member")?;
                    members.insert(name, value);
                }
                Event::End(end) if end.name().as_ref() == b"struct" => break,
                other => return Err(unexpected(&other, "<member> or </struct>")),
            }
        }
        Ok(Value::Object(members))
    }
}

fn empty_typed(name: &[u8]) -> Result<Value, OdooError> {
    match name {
        b"nil" => Ok(Value::Null),
        b"string" | b"dateTime.iso8601" | b"base64" => Ok(Value::String(String::new())),
        b"array" => Ok(Value::Array(Vec::new())),
        b"struct" => Ok(Value::Object(Map::new())),
        other => Err(OdooError::unparseable(format!(
            "empty <{}/> is not a valid value",
            String::from_utf8_lossy(other)
        ))),
    }
}

fn append<'a>(out: &mut Option<Cow<'a, str>>, piece: Cow<'a, str>) {
    match out {
        None => *out = Some(piece),
        Some(existing) => existing.to_mut().push_str(&piece),
    }
}

fn unexpected(event: &Event<'_>, wanted: &str) -> OdooError {
    let found = match event {
        Event::Start(s) => format!("<{}>", String::from_utf8_lossy(s.name().as_ref())),
        Event::End(e) => format!("</{}>", String::from_utf8_lossy(e.name().as_ref())),
        Event::Empty(e) => format!("<{}/>", String::from_utf8_lossy(e.name().as_ref())),
        Event::Text(_) | Event::CData(_) => "text".to_owned(),
        Event::Eof => "end of document".to_owned(),
        _ => "markup".to_owned(),
    };
    OdooError::unparseable(format!("expected {wanted}, found {found}"))
}

fn short(text: &str) -> String {
    text.chars().take(40).collect()
}

// ---------------------------------------------------------------------------------------------
// JSON-RPC decoding
// ---------------------------------------------------------------------------------------------

#[derive(serde::Deserialize)]
struct JsonRpcEnvelope {
    #[serde(default)]
    result: Value,
    #[serde(default)]
    error: Option<Value>,
}

/// Decode a JSON-RPC response body (`/jsonrpc` and Odoo's `type=json` web routes).
///
/// A missing `result` member (Odoo's answer when a method returned `None`) is
/// `Ok(Value::Null)`; an `error` member becomes the matching [`OdooError`].
pub fn decode_jsonrpc_response(body: &[u8]) -> Result<Value, OdooError> {
    let envelope: JsonRpcEnvelope = serde_json::from_slice(body)
        .map_err(|e| OdooError::unparseable(format!("invalid json-rpc answer: {e}")))?;
    match envelope.error {
        Some(error) if !error.is_null() => match classify_jsonrpc_error(&error) {
            Classified::Error(error) => Err(error),
            Classified::NoneResult => Ok(Value::Null),
        },
        _ => Ok(envelope.result),
    }
}

fn is_html(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|c| c.to_ascii_lowercase().starts_with("text/html"))
}

fn non_success(status: u16, content_type: Option<&str>, body: &[u8]) -> OdooError {
    if status == 400 {
        let message = if is_html(content_type) || !body.starts_with(b"{") {
            html_error_text(body)
        } else {
            "bad request".to_owned()
        };
        return OdooError::InvalidRequest { message };
    }
    OdooError::Http { status }
}

/// Decode a whole JSON-RPC HTTP answer: status, content type and body.
///
/// HTTP 400 pages (body not JSON, wrong content type, GET on a json route) become
/// [`OdooError::InvalidRequest`]; other non-200 statuses [`OdooError::Http`].
pub fn decode_jsonrpc_http(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Value, OdooError> {
    if status != 200 {
        return Err(non_success(status, content_type, body));
    }
    decode_jsonrpc_response(body)
}

/// Decode a whole XML-RPC HTTP answer: status, content type and body.
pub fn decode_xmlrpc_http(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Value, OdooError> {
    if status != 200 {
        return Err(non_success(status, content_type, body));
    }
    decode_xmlrpc_response(body)
}

/// Decode a whole JSON-2 HTTP answer (`/json/2/<model>/<method>`): 200 with the method's
/// return value as JSON, or an error status with `{"name", "message", ...}`.
pub fn decode_json2_http(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Value, OdooError> {
    if status == 200 {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        return serde_json::from_slice(body)
            .map_err(|e| OdooError::unparseable(format!("invalid json-2 answer: {e}")));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value) if value.is_object() => Err(crate::error::classify_json2_error(status, &value)),
        _ => Err(non_success(status, content_type, body)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn xmlrpc_round_trip_keeps_types_and_order() {
        let params = vec![
            json!("a<b&c"),
            json!(1),
            json!(5_000_000_000_i64),
            json!(2.5),
            json!(true),
            Value::Null,
            json!([1, "x", [false]]),
            json!({"z": 1, "a": {"k": "v"}}),
        ];
        let body = encode_xmlrpc_call("m", &params).expect("encodes");
        let text = String::from_utf8(body.clone()).expect("utf8");
        assert!(text.contains("<string>a&lt;b&amp;c</string>"));
        assert!(text.contains("<i8>5000000000</i8>"));
        assert!(text.contains("<boolean>1</boolean>"));
        assert!(text.contains("<nil/>"));
        // Decode the params back by wrapping them as a response array.
        let response = text
            .replace("<param>", "")
            .replace("</param>", "")
            .replace(
                "<methodCall><methodName>m</methodName><params>",
                "<methodResponse><params><param><value><array><data>",
            )
            .replace(
                "</params></methodCall>",
                "</data></array></value></param></params></methodResponse>",
            );
        let decoded = decode_xmlrpc_response(response.as_bytes()).expect("decodes");
        assert_eq!(decoded, Value::Array(params));
        let keys: Vec<_> = decoded[7]
            .as_object()
            .expect("object")
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["z", "a"]);
    }

    #[test]
    fn untyped_value_is_a_string() {
        let body = b"<?xml version=\"1.0\"?><methodResponse><params><param><value>plain &amp; simple</value></param></params></methodResponse>";
        assert_eq!(
            decode_xmlrpc_response(body).expect("decodes"),
            json!("plain & simple")
        );
    }

    #[test]
    fn garbage_is_unparseable() {
        for body in [
            &b"not xml"[..],
            b"<methodResponse><params>",
            b"",
            b"<a></b>",
        ] {
            let error = decode_xmlrpc_response(body).expect_err("fails");
            assert_eq!(error.kind(), crate::ErrorKind::Unparseable, "{body:?}");
        }
        let error = decode_jsonrpc_response(b"{not json").expect_err("fails");
        assert_eq!(error.kind(), crate::ErrorKind::Unparseable);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut body = String::from("<methodResponse><params><param><value>");
        for _ in 0..1000 {
            body.push_str("<array><data><value>");
        }
        let error = decode_xmlrpc_response(body.as_bytes()).expect_err("fails");
        assert_eq!(error.kind(), crate::ErrorKind::Unparseable);
    }
}
