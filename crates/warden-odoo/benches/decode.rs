//! Decoding a 1,000-record `search_read` response, XML-RPC and JSON-RPC.
//!
//! Run with: `cargo bench -p warden-odoo --bench decode`. The bodies are shaped like Odoo 18's
//! answers to `res.partner.search_read` with eight fields (ids, strings with escaped characters,
//! `false` for empty values, a many2one pair, a one2many id list, a float).

// criterion_group! defines an undocumented public function.
#![allow(missing_docs)]

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};

const RECORDS: usize = 1_000;

fn record(i: usize) -> Value {
    json!({
        "id": i + 1,
        "name": format!("Partner {i} & Sons <Wood>"),
        "email": if i.is_multiple_of(3) { json!(false) } else { json!(format!("contact{i}@example.com")) },
        "is_company": i.is_multiple_of(2),
        "country_id": [233, "United States"],
        "child_ids": [i * 3 + 1, i * 3 + 2, i * 3 + 3],
        "credit_limit": 1500.5 + i as f64,
        "write_date": "2026-11-23 09:03:10",
    })
}

fn jsonrpc_body() -> Vec<u8> {
    let rows: Vec<Value> = (0..RECORDS).map(record).collect();
    serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": 7, "result": rows})).expect("json")
}

/// An XML-RPC `methodResponse` laid out exactly as Python's `xmlrpc.client.dumps` (Odoo) does.
fn xmlrpc_body() -> Vec<u8> {
    fn value(out: &mut String, v: &Value) {
        out.push_str("<value>");
        match v {
            Value::Bool(b) => write!(out, "<boolean>{}</boolean>", u8::from(*b)).expect("fmt"),
            Value::Number(n) if n.is_i64() => write!(out, "<int>{n}</int>").expect("fmt"),
            Value::Number(n) => write!(out, "<double>{n}</double>").expect("fmt"),
            Value::String(s) => {
                let escaped = s
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;");
                write!(out, "<string>{escaped}</string>").expect("fmt");
            }
            Value::Array(items) => {
                out.push_str("<array><data>\n");
                for item in items {
                    value(out, item);
                }
                out.push_str("</data></array>");
            }
            Value::Object(members) => {
                out.push_str("<struct>\n");
                for (name, member) in members {
                    write!(out, "<member>\n<name>{name}</name>\n").expect("fmt");
                    value(out, member);
                    out.push_str("</member>\n");
                }
                out.push_str("</struct>");
            }
            Value::Null => out.push_str("<nil/>"),
        }
        out.push_str("</value>\n");
    }
    let rows = Value::Array((0..RECORDS).map(record).collect());
    let mut out = String::from("<?xml version=\"1.0\"?>\n<methodResponse>\n<params>\n<param>\n");
    value(&mut out, &rows);
    out.push_str("</param>\n</params>\n</methodResponse>\n");
    out.into_bytes()
}

fn decode(c: &mut Criterion) {
    let xml = xmlrpc_body();
    let json = jsonrpc_body();
    // The two decoders must agree before their speed means anything.
    let from_xml = warden_odoo::wire::decode_xmlrpc_response(&xml).expect("xml-rpc decodes");
    let from_json = warden_odoo::wire::decode_jsonrpc_response(&json).expect("json-rpc decodes");
    assert_eq!(
        from_xml, from_json,
        "XML-RPC and JSON-RPC decode to the same records"
    );
    assert_eq!(from_xml.as_array().map(Vec::len), Some(RECORDS));

    let mut group = c.benchmark_group("decode_search_read_1000");
    group.throughput(Throughput::Bytes(xml.len() as u64));
    group.bench_function("xmlrpc", |b| {
        b.iter(|| warden_odoo::wire::decode_xmlrpc_response(black_box(&xml)).expect("decodes"));
    });
    group.throughput(Throughput::Bytes(json.len() as u64));
    group.bench_function("jsonrpc", |b| {
        b.iter(|| warden_odoo::wire::decode_jsonrpc_response(black_box(&json)).expect("decodes"));
    });
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
