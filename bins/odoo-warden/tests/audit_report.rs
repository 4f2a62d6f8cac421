//! `odoo-warden audit report`: the figures of a known week (JSON and the page agree with what
//! was written), a key alone, hostile text escaped, listings bounded with the rest counted, a
//! broken chain or an empty folder reported with exit status 1; and `audit search --record`.

mod report_data;

use std::path::Path;
use std::process::Command;

use report_data::{BOT, BOT_ID, HOSTILE_MODEL, HOSTILE_RULE, SALES, SALES_ID, SINCE, UNTIL};
use serde_json::Value;

/// What a run printed and its exit status.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_odoo-warden"))
        .env_clear()
        .args(args)
        .output()
        .expect("run odoo-warden");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn json_report(dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "audit",
        "report",
        path(dir),
        "--since",
        SINCE,
        "--until",
        UNTIL,
        "--json",
    ];
    args.extend_from_slice(extra);
    let run = run(&args);
    assert_eq!(run.code, 0, "{run:?}");
    serde_json::from_str(&run.stdout).expect("one JSON object")
}

fn find<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .expect("a list")
        .iter()
        .find(|item| item["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {list}"))
}

#[test]
fn the_json_report_adds_up_the_week() {
    let dir = tempfile::tempdir().unwrap();
    let x = report_data::write_week(dir.path());
    let report = json_report(dir.path(), &[]);

    assert_eq!(report["report_version"], 1);
    assert_eq!(report["period"]["since"], "2026-12-01T00:00:00.000000Z");
    assert_eq!(report["period"]["until"], "2026-12-08T00:00:00.000000Z");
    let verification = &report["verification"];
    assert_eq!(verification["ok"], true, "{verification}");
    assert_eq!(verification["seal_checked"], false);
    assert!(verification["anchors"].is_null());
    let streams = verification["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0]["files"], 9, "a file per day written, 9 days");
    assert_eq!(streams[0]["head"].as_str().unwrap().len(), 64);

    let totals = &report["totals"];
    for (name, value) in [
        ("requests", x.requests),
        ("reads", x.reads),
        ("writes", x.writes),
        ("denied", x.denied),
        ("errors", x.errors),
        ("alerts", x.alerts),
        ("failed_authentications", x.failed_authentications),
        ("gaps", x.gaps),
        ("events_lost", x.events_lost),
        ("keys", 2),
    ] {
        assert_eq!(totals[name], value, "totals.{name}: {totals}");
    }
    assert_eq!(totals["events"], x.requests + x.alerts + x.gaps);

    let sales = find(&report["keys"], SALES_ID);
    assert_eq!(sales["name"], SALES);
    assert_eq!(sales["related"], serde_json::json!(["sales-agent"]));
    assert_eq!(sales["requests"], x.sales_requests);
    assert_eq!(sales["denied"], x.sales_denied);
    assert_eq!(sales["alerts"], 2);
    assert_eq!(sales["addresses"]["count"], 1);
    let partner = &sales["models"][0];
    assert_eq!(partner["model"], "res.partner", "most requests first");
    assert_eq!(partner["reads"], x.sales_partner_reads);
    assert_eq!(partner["records_read"]["count"], x.sales_partners_read);
    assert_eq!(partner["records_read"]["exact"], true);
    let orders = sales["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "sale.order")
        .unwrap();
    assert_eq!(orders["writes"], x.writes);
    assert_eq!(orders["records_changed"]["count"], 7, "one order a day");
    let rules = sales["rules"].as_array().unwrap();
    assert_eq!(
        rules[0]["name"],
        "profile \"sales-agent\": models.deny hr.*"
    );
    assert_eq!(rules[0]["count"], x.sales_hr_denied);
    assert_eq!(
        rules[1]["name"], HOSTILE_RULE,
        "recorded text is kept as it was"
    );
    let alert_names: Vec<&str> = sales["alert_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(alert_names, ["denied_burst", "off_hours"]);

    let bot = find(&report["keys"], BOT_ID);
    assert_eq!(bot["name"], BOT);
    assert_eq!(bot["requests"], x.bot_requests);
    assert_eq!(bot["rules"][0]["name"], "rate_limits.per_key_per_minute");
    assert_eq!(bot["rules"][0]["count"], x.bot_rate_limited);
    assert_eq!(bot["addresses"]["count"], 2);
    let invoices = &bot["models"][0];
    assert_eq!(invoices["model"], "account.move");
    assert_eq!(
        invoices["records_read"],
        serde_json::json!({"count": 100, "exact": false}),
        "150 records a read, the first 100 listed: a lower bound"
    );
    let none = find(&report["keys"], "(none)");
    assert_eq!(none["failed_authentications"], x.failed_authentications);
    assert_eq!(report["keys"][0]["id"], SALES_ID, "most requests first");

    let reporting = find(&report["profiles"], "reporting");
    assert_eq!(reporting["requests"], x.bot_requests);
    assert_eq!(reporting["related"], serde_json::json!([BOT]), "key names");
    assert!(reporting["name"].is_null());

    let daily = report["daily"].as_array().unwrap();
    let days: Vec<&str> = daily.iter().map(|d| d["day"].as_str().unwrap()).collect();
    assert_eq!(
        days,
        [
            "2026-12-01",
            "2026-12-02",
            "2026-12-03",
            "2026-12-04",
            "2026-12-05",
            "2026-12-06",
            "2026-12-07"
        ]
    );
    for (day, expected) in daily.iter().zip(x.daily) {
        assert_eq!(day["requests"], expected, "{day}");
    }
    assert_eq!(daily[3]["alerts"], 1);

    assert_eq!(report["denied"]["total"], x.denied);
    let listed = report["denied"]["listed"].as_array().unwrap();
    assert_eq!(listed.len() as u64, x.denied, "fewer than 100: all listed");
    let times: Vec<&str> = listed.iter().map(|l| l["time"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    assert_eq!(report["alerts"]["total"], x.alerts);
    assert_eq!(report["gaps"]["listed"][0]["what"], "webhook");
    assert_eq!(report["gaps"]["listed"][0]["count"], 3);
    assert_eq!(report["scan"]["unreadable"], 0);
    assert_eq!(report["limits"], serde_json::json!([]));
}

#[test]
fn a_key_alone_and_bounded_listings() {
    let dir = tempfile::tempdir().unwrap();
    let x = report_data::write_week(dir.path());
    let report = json_report(dir.path(), &["--key", SALES, "--list", "5"]);
    assert_eq!(report["key"], SALES);
    assert_eq!(report["totals"]["requests"], x.sales_requests);
    assert_eq!(report["keys"].as_array().unwrap().len(), 1);
    assert_eq!(report["denied"]["total"], x.sales_denied);
    let listed = report["denied"]["listed"].as_array().unwrap();
    assert_eq!(listed.len(), 5);
    // The earliest five: one on the 2nd, two on the 3rd, two of the three on the 4th.
    assert_eq!(listed[0]["time"], "2026-12-02T12:00:00.000000Z");
    assert_eq!(listed[4]["time"], "2026-12-04T12:01:00.000000Z");
    let by_id = json_report(dir.path(), &["--key", SALES_ID]);
    assert_eq!(by_id["totals"]["requests"], x.sales_requests);
    // A period that holds nothing: zeros, every day still in the series.
    let run = run(&[
        "audit",
        "report",
        path(dir.path()),
        "--since",
        "2026-11-01",
        "--until",
        "2026-11-08",
        "--json",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let empty: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(empty["totals"]["requests"], 0);
    assert_eq!(empty["daily"].as_array().unwrap().len(), 7);
    assert_eq!(empty["scan"]["files"], 0, "the week's files are not opened");
}

#[test]
fn the_page_holds_the_figures_and_escapes_what_events_say() {
    let dir = tempfile::tempdir().unwrap();
    let x = report_data::write_week(dir.path());
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("report.html");
    let run = run(&[
        "audit",
        "report",
        path(dir.path()),
        "--since",
        SINCE,
        "--until",
        UNTIL,
        "--html",
        path(&file),
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("report written to"), "{}", run.stderr);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the report holds audit data");
    }
    let page = std::fs::read_to_string(&file).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    // Self-contained: nothing to fetch, nothing to run.
    for forbidden in [
        "<script",
        "<link",
        "<img",
        "<iframe",
        "@import",
        "url(",
        "src=\"http",
        "href=\"http",
    ] {
        assert!(!page.contains(forbidden), "{forbidden} in the page");
    }
    assert!(page.contains("Content-Security-Policy"));
    // Hostile text is escaped, and the bidirectional override shown.
    assert!(!page.contains(HOSTILE_MODEL));
    assert!(!page.contains("<b id=\"injected\">"));
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(page.contains("&lt;b id=&quot;injected&quot;&gt;boom&lt;/b&gt;[U+202E]gnp.exe"));
    assert!(!page.contains('\u{202e}'));
    // The figures.
    for (label, value) in [
        ("requests", x.requests),
        ("denied", x.denied),
        ("alerts", x.alerts),
        ("reads", x.reads),
    ] {
        let cell = format!("data-figure=\"{label}\">{}<", report_data::thousands(value));
        assert!(page.contains(&cell), "{cell} missing");
    }
    assert!(page.contains("data-verified=\"true\""));
    assert!(
        page.contains("data-anchors=\"none\""),
        "the anchors' place is marked"
    );
    assert!(page.contains("<svg"), "the chart");
    assert!(page.contains(&format!("data-requests=\"{}\"", x.daily[6])));
    assert!(page.contains("≥\u{a0}100"), "a lower bound is marked");

    // To stdout with `--html -`; a summary without either.
    let to_stdout = run_args(dir.path(), &["--html", "-"]);
    assert!(to_stdout.stdout.starts_with("<!DOCTYPE html>"));
    let summary = run_args(dir.path(), &[]);
    assert!(
        summary.stdout.contains(&format!("{} requests", x.requests)),
        "{}",
        summary.stdout
    );
    assert!(
        summary.stdout.contains("chains: verified"),
        "{}",
        summary.stdout
    );
}

fn run_args(dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "audit",
        "report",
        path(dir),
        "--since",
        SINCE,
        "--until",
        UNTIL,
    ];
    args.extend_from_slice(extra);
    let run = run(&args);
    assert_eq!(run.code, 0, "{run:?}");
    run
}

#[test]
fn signatures_and_anchors_are_checked_and_shown() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let anchors = outside.path().join("anchors.jsonl");
    let (key, _) = warden_audit::signing::SigningKey::generate().unwrap();
    let public = outside.path().join("audit.pub");
    std::fs::write(&public, key.public_key().to_pem()).unwrap();
    report_data::write_week_signed(dir.path(), key, &anchors);
    let keys = ["--public-key", path(&public), "--anchors", path(&anchors)];

    let report = json_report(dir.path(), &keys);
    let verification = &report["verification"];
    assert_eq!(verification["ok"], true, "{verification}");
    assert_eq!(verification["signatures_checked"], true);
    let checkpoints = verification["anchors"]["checkpoints"].as_u64().unwrap();
    assert!(checkpoints > 0, "{verification}");
    assert_eq!(verification["anchors"]["signatures_checked"], true);
    assert!(verification["streams"][0]["checkpoints"].as_u64().unwrap() > 0);
    let page = run_args(dir.path(), &[&["--html", "-"][..], &keys[..]].concat()).stdout;
    assert!(page.contains("data-anchors=\"checked\""));
    assert!(page.contains("their signatures checked with the public key given"));
    assert!(page.contains(&format!("<b>{checkpoints} checkpoints</b>")));

    // Another key's signatures do not verify.
    let (other, _) = warden_audit::signing::SigningKey::generate().unwrap();
    std::fs::write(&public, other.public_key().to_pem()).unwrap();
    let mut args = vec![
        "audit",
        "report",
        path(dir.path()),
        "--since",
        SINCE,
        "--until",
        UNTIL,
    ];
    args.extend_from_slice(&keys);
    args.push("--json");
    let refused = run(&args);
    assert_eq!(refused.code, 1, "{refused:?}");
    let report: Value = serde_json::from_str(&refused.stdout).unwrap();
    assert_eq!(report["verification"]["ok"], false);
    // An anchors file that cannot be read: exit status 74.
    let missing = outside.path().join("none.jsonl");
    let gone = run(&[
        "audit",
        "report",
        path(dir.path()),
        "--anchors",
        path(&missing),
        "--json",
    ]);
    assert_eq!(gone.code, 74, "{gone:?}");
}

#[test]
fn a_broken_chain_or_no_files_is_reported_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    report_data::write_week(dir.path());
    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    let text = std::fs::read_to_string(&files[3]).unwrap();
    std::fs::write(&files[3], text.replacen("res.partner", "res.users", 1)).unwrap();
    let broken = run(&[
        "audit",
        "report",
        path(dir.path()),
        "--since",
        SINCE,
        "--until",
        UNTIL,
        "--json",
    ]);
    assert_eq!(broken.code, 1, "{broken:?}");
    let report: Value = serde_json::from_str(&broken.stdout).unwrap();
    assert_eq!(report["verification"]["ok"], false);
    let problem = &report["verification"]["streams"][0]["problem"];
    assert!(
        problem["reason"].as_str().unwrap().contains("changed"),
        "{problem}"
    );
    assert!(broken.stderr.contains("broken"), "{}", broken.stderr);
    let page = run_html(dir.path());
    assert!(page.contains("data-verified=\"false\""));
    assert!(page.contains("BROKEN"));

    let empty = tempfile::tempdir().unwrap();
    let none = run_html_code(empty.path());
    assert_eq!(none.0, 1);
    assert!(none.1.contains("NOT VERIFIED"));

    let missing = empty.path().join("nowhere");
    let gone = run(&["audit", "report", path(&missing), "--json"]);
    assert_eq!(gone.code, 74, "{gone:?}");
    for bad in [
        vec!["--since", "yesterday-ish"],
        vec!["--since", "2026-12-08", "--until", "2026-12-01"],
        vec!["--html", "x.html", "--json"],
        vec!["--list", "10001"],
    ] {
        let mut args = vec!["audit", "report", path(dir.path())];
        args.extend_from_slice(&bad);
        let refused = run(&args);
        assert_eq!(refused.code, 64, "{bad:?}: {refused:?}");
    }
}

fn run_html_code(dir: &Path) -> (i32, String) {
    let run = run(&[
        "audit",
        "report",
        path(dir),
        "--since",
        SINCE,
        "--until",
        UNTIL,
        "--html",
        "-",
    ]);
    (run.code, run.stdout)
}

fn run_html(dir: &Path) -> String {
    let (code, page) = run_html_code(dir);
    assert_eq!(code, 1);
    page
}

#[test]
fn search_by_record_says_who_read_it_and_when() {
    let dir = tempfile::tempdir().unwrap();
    report_data::write_week(dir.path());
    let search = |extra: &[&str]| {
        let mut args = vec!["audit", "search", path(dir.path())];
        args.extend_from_slice(extra);
        let run = run(&args);
        assert_eq!(run.code, 0, "{run:?}");
        run
    };
    // Partner 1 is read on every day's first request (ids 1-3), and at 22:00 on the 2nd.
    let found = search(&["--record", "res.partner:1", "--format", "json"]);
    let lines: Vec<Value> = found
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 8, "{}", found.stdout);
    assert!(
        lines
            .iter()
            .all(|l| l["model"] == "res.partner" && l["key_name"] == SALES)
    );
    assert!(!found.stderr.contains("note:"), "{}", found.stderr);
    // Invoice 120 is among the records of each read of 150, none of which lists it.
    let unlisted = search(&["--record", "account.move:120"]);
    assert!(unlisted.stdout.is_empty(), "{}", unlisted.stdout);
    assert!(
        unlisted
            .stderr
            .contains("note: 70 more events on account.move named more than 100 records"),
        "{}",
        unlisted.stderr
    );
    let listed = search(&["--record", "account.move:7", "--key", BOT]);
    assert_eq!(listed.stdout.lines().count(), 70);
    for bad in [["--record", "res.partner"], ["--record", "res.partner:x"]] {
        let mut args = vec!["audit", "search", path(dir.path())];
        args.extend_from_slice(&bad);
        assert_eq!(run(&args).code, 64, "{bad:?}");
    }
    let both = run(&[
        "audit",
        "search",
        path(dir.path()),
        "--record",
        "res.partner:1",
        "--model",
        "res.partner",
    ]);
    assert_eq!(both.code, 64, "{both:?}");
}
