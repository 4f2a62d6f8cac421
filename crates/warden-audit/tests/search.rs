//! Searching by record (`res.partner:42`): events on the record's model whose `record_ids`
//! hold its id match; an event that lists only the first 100 of more records, none of them the
//! record, does not match but is counted as one that may concern it.

mod support;

use std::ops::ControlFlow;
use std::sync::Arc;

use support::{FakeClock, config};
use warden_audit::search::{Filter, RecordRef, files_to_search, search_files};
use warden_audit::{AuditEvent, JsonlSink, Sink};

/// A read of `ids` on `model` by key `key`, numbered `n`.
fn read(n: u64, key: &str, model: &str, ids: impl IntoIterator<Item = i64>) -> AuditEvent {
    let mut event = AuditEvent::request(FakeClock::new().get(), "tools/call");
    event.request_id = Some(n.to_string());
    event.key_id = Some(key.to_owned());
    event.tool = Some("read_records".to_owned());
    event.model = Some(model.to_owned());
    event.operation = Some("read".to_owned());
    event.set_record_ids(ids);
    event
}

/// The request ids that match `filter`, and the search's totals.
fn search(dir: &std::path::Path, filter: &Filter) -> (Vec<String>, u64) {
    let (files, _) = files_to_search(dir, filter).expect("files");
    let mut found = Vec::new();
    let stats = search_files(
        &files,
        filter,
        |raw, view| {
            assert_eq!(view.model.as_deref(), Some("res.partner"));
            let event: serde_json::Value = serde_json::from_slice(raw).expect("json");
            found.push(event["request_id"].as_str().expect("id").to_owned());
            ControlFlow::Continue(())
        },
        |_| {},
    )
    .expect("search");
    assert_eq!(stats.matched, found.len() as u64);
    (found, stats.unlisted)
}

#[test]
fn search_by_record_finds_the_events_that_list_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let clock = FakeClock::new();
    let mut sink = JsonlSink::open(config(dir.path(), &clock)).expect("open");
    let events = [
        read(1, "k_a", "res.partner", [41, 42, 43]),
        // 150 records, 42 among the first 100 listed.
        read(2, "k_b", "res.partner", 1..=150),
        // 150 records from 101: the first 100 listed, 42 not among them and not named at all,
        // but a reader cannot tell: counted as "may concern it".
        read(3, "k_a", "res.partner", 101..=250),
        // Another model with the same id.
        read(4, "k_a", "sale.order", [42]),
        // Ids that contain the digits 42 but are not 42.
        read(5, "k_a", "res.partner", [420, 142, 4242]),
        read(6, "k_b", "res.partner", [42]),
        // A model whose name starts like the record's.
        read(7, "k_a", "res.partner.bank", [42]),
    ];
    for event in events {
        sink.write(&[Arc::new(event)]).expect("write");
    }
    sink.close().expect("close");

    let mut filter = Filter::default();
    filter.record = Some("res.partner:42".parse().expect("record"));
    let (found, unlisted) = search(dir.path(), &filter);
    assert_eq!(found, ["1", "2", "6"]);
    assert_eq!(unlisted, 1, "event 3 lists 100 of its 150 records");

    // Combined with another filter, both apply (the unlisted count too).
    filter.key = Some("k_b".to_owned());
    let (found, unlisted) = search(dir.path(), &filter);
    assert_eq!(found, ["2", "6"]);
    assert_eq!(unlisted, 0);

    // A record listed beyond the first 100 is never found: the event does not hold it.
    let mut beyond = Filter::default();
    beyond.record = Some(RecordRef {
        model: "res.partner".to_owned(),
        id: 120,
    });
    let (found, unlisted) = search(dir.path(), &beyond);
    assert_eq!(
        found,
        ["3"],
        "120 is among event 3's first 100, not event 2's"
    );
    assert_eq!(
        unlisted, 1,
        "event 2 lists ids 1-100 of 150: 120 may be one of the rest"
    );
}

#[test]
fn record_references_parse_as_model_colon_id() {
    let record: RecordRef = "res.partner:42".parse().expect("parse");
    assert_eq!(record.model, "res.partner");
    assert_eq!(record.id, 42);
    assert_eq!(record.to_string(), "res.partner:42");
    for bad in [
        "res.partner",
        "res.partner:",
        ":42",
        "res.partner:x",
        "res.partner:0",
        "a:-1",
    ] {
        let error = bad.parse::<RecordRef>().expect_err(bad);
        assert!(error.contains("MODEL:ID"), "{error}");
    }
}
