//! The leak suite (`testdata/leaks/probes.json`, profiles in `testdata/leaks/policy.toml`) on the
//! simulator, in both protocol eras: every probe must show its secret through the positive
//! control (so the probe would see a leak) and must not through the profile under attack; a
//! call the attacked profile is refused before Odoo (invalid arguments, forbidden) makes no Odoo
//! request once the model metadata is cached. The same probes run over both transports and
//! against a real Odoo in `tests/live`.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use support::{Client, ERAS};
use warden_gateway::catalog::CatalogSettings;
use warden_odoo_sim::{SimHandle, SimOptions};

mod support;

const POLICY: &str = include_str!("../../../testdata/leaks/policy.toml");
const PROBES: &str = include_str!("../../../testdata/leaks/probes.json");

async fn sim() -> SimHandle {
    warden_odoo_sim::start("127.0.0.1:0".parse().expect("addr"), SimOptions::default())
        .await
        .expect("sim")
}

/// `value` with `{token}` and the saved `{name}`s filled in: a string that is exactly `{name}`
/// becomes the saved value itself (an id), anywhere else the name is replaced by its text.
fn fill(value: &Value, token: &str, saved: &BTreeMap<String, Value>) -> Value {
    match value {
        Value::String(text) => {
            if let Some(name) = text.strip_prefix('{').and_then(|t| t.strip_suffix('}'))
                && let Some(found) = saved.get(name)
            {
                return found.clone();
            }
            let mut out = text.replace("{token}", token);
            for (name, found) in saved {
                out = out.replace(&format!("{{{name}}}"), &found.to_string());
            }
            Value::String(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| fill(v, token, saved)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill(v, token, saved)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// What a probe's call answered, as one comparable value and as text to look for secrets in.
struct Answer {
    refused_kind: Option<String>,
    signature: Value,
    text: String,
}

async fn ask(client: &mut Client, probe: &Value, call: Option<&Value>) -> Answer {
    let response = match (probe.get("resource"), call) {
        (Some(uri), None) => client.request("resources/read", json!({"uri": uri})).await,
        (_, Some(call)) => {
            let tool = call[0].as_str().expect("tool");
            json!({"result": client.call(tool, call[1].clone()).await})
        }
        _ => panic!("a probe has a call or a resource: {probe}"),
    };
    let text = serde_json::to_string(&response)
        .expect("json")
        .to_lowercase();
    if let Some(error) = response.get("error") {
        return Answer {
            refused_kind: Some("protocol".to_owned()),
            signature: json!({"error": error["code"]}),
            text,
        };
    }
    let result = &response["result"];
    if result["isError"] == json!(true) {
        let kind = result["_meta"]["io.github.odoo-warden/error"]["kind"]
            .as_str()
            .unwrap_or("?")
            .to_owned();
        return Answer {
            signature: json!({"error": kind}),
            refused_kind: Some(kind),
            text,
        };
    }
    let structured = &result["structuredContent"];
    let ids = |key: &str| -> Option<Value> {
        structured.get(key).and_then(Value::as_array).map(|rows| {
            rows.iter()
                .map(|r| r.get("id").cloned().unwrap_or_else(|| r.clone()))
                .collect()
        })
    };
    let signature = json!({
        "count": structured.get("count"),
        "records": ids("records"),
        "groups": ids("groups"),
        "matches": ids("matches"),
    });
    Answer {
        refused_kind: None,
        signature,
        text,
    }
}

/// Whether a refusal was decided before Odoo (so the call must not reach it).
fn before_odoo(kind: Option<&str>) -> bool {
    matches!(kind, Some("invalid_arguments" | "forbidden" | "protocol"))
}

#[tokio::test]
async fn no_probe_leaks_and_every_probe_could_see_a_leak() {
    let sim = sim().await;
    let settings = CatalogSettings {
        write_tools: true,
        ..CatalogSettings::default()
    };
    let harness = support::harness(&sim, POLICY, settings);
    let suite: Value = serde_json::from_str(PROBES).expect("probes.json");
    let probes = suite["probes"].as_array().expect("probes");
    let mut failures: Vec<String> = Vec::new();
    let mut per_class: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (round, version) in ERAS.iter().enumerate() {
        let token = format!("t{round}{}", std::process::id());
        let mut control = Client::of(&harness, "control", version).await;
        let mut attacked: BTreeMap<String, Client> = BTreeMap::new();
        for key in ["restricted", "creator"] {
            attacked.insert(key.to_owned(), Client::of(&harness, key, version).await);
        }
        let mut saved: BTreeMap<String, Value> = BTreeMap::new();
        for step in suite["setup"].as_array().expect("setup") {
            let call = fill(&step["call"], &token, &saved);
            let tool = call[0].as_str().expect("tool");
            let out = control.ok(tool, call[1].clone()).await;
            for (name, pointer) in step["save"].as_object().expect("save") {
                let found = out
                    .pointer(pointer.as_str().expect("pointer"))
                    .cloned()
                    .unwrap_or_else(|| panic!("{version} setup {tool}: no {pointer} in {out}"));
                saved.insert(name.clone(), found);
            }
        }
        for probe in probes {
            let probe = fill(probe, &token, &saved);
            let class = probe["class"].as_str().expect("class").to_owned();
            let what = format!(
                "{version} [{class}] {}",
                probe["name"].as_str().unwrap_or("?")
            );
            let key = probe["key"].as_str().unwrap_or("restricted");
            let attacker = attacked.get_mut(key).expect("a key of the policy");
            let secret = probe["secret"].as_str().unwrap_or("").to_lowercase();
            let mut problems: Vec<String> = Vec::new();
            let mut refused_calls: Vec<Option<&Value>> = Vec::new();
            match probe["kind"].as_str().expect("kind") {
                "reveal" => {
                    let call = probe.get("call");
                    let seen = ask(&mut control, &probe, call).await;
                    if !seen.text.contains(&secret) {
                        problems.push(format!("the control does not show {secret:?}: the probe cannot see a leak ({})", seen.text));
                    }
                    let got = ask(attacker, &probe, call).await;
                    if got.text.contains(&secret) {
                        problems.push(format!("LEAK: {secret:?} in {}", got.text));
                    }
                    if before_odoo(got.refused_kind.as_deref()) {
                        refused_calls.push(call);
                    }
                }
                "oracle" => {
                    let (right, wrong) = (&probe["right"], &probe["wrong"]);
                    let seen_right = ask(&mut control, &probe, Some(right)).await;
                    let seen_wrong = ask(&mut control, &probe, Some(wrong)).await;
                    if seen_right.signature == seen_wrong.signature {
                        problems.push(format!("the control answers right and wrong alike ({}): the probe cannot see a leak", seen_right.signature));
                    }
                    let got_right = ask(attacker, &probe, Some(right)).await;
                    let got_wrong = ask(attacker, &probe, Some(wrong)).await;
                    if got_right.signature != got_wrong.signature {
                        problems.push(format!(
                            "LEAK: right {} vs wrong {}",
                            got_right.signature, got_wrong.signature
                        ));
                    }
                    for (answer, call) in [(&got_right, right), (&got_wrong, wrong)] {
                        if before_odoo(answer.refused_kind.as_deref()) {
                            refused_calls.push(Some(call));
                        }
                    }
                }
                "write" => {
                    let (call, check) = (&probe["call"], &probe["check"]);
                    let got = ask(attacker, &probe, Some(call)).await;
                    if got.refused_kind.is_none() {
                        problems.push(format!("LEAK: the write was served: {}", got.text));
                    }
                    let after = ask(&mut control, &probe, Some(check)).await;
                    if after.text.contains(&secret) {
                        problems.push(format!(
                            "LEAK: the refused write changed data: {}",
                            after.text
                        ));
                    }
                    let done = ask(&mut control, &probe, Some(call)).await;
                    let after = ask(&mut control, &probe, Some(check)).await;
                    if done.refused_kind.is_some() || !after.text.contains(&secret) {
                        problems.push(format!("the control's write does not show {secret:?}: the probe cannot see a leak ({} / {})", done.text, after.text));
                    }
                    if before_odoo(got.refused_kind.as_deref()) {
                        refused_calls.push(Some(call));
                    }
                }
                "refused" => {
                    let call = &probe["call"];
                    let seen = ask(&mut control, &probe, Some(call)).await;
                    if seen.refused_kind.is_some() {
                        problems.push(format!("the control is refused too: {}", seen.text));
                    }
                    let got = ask(attacker, &probe, Some(call)).await;
                    if got.refused_kind.is_none() {
                        problems.push(format!("LEAK: served: {}", got.text));
                    }
                    if before_odoo(got.refused_kind.as_deref()) {
                        refused_calls.push(Some(call));
                    }
                }
                other => problems.push(format!("unknown kind {other}")),
            }
            // Refused before Odoo: once the metadata is cached, the same call reaches Odoo not
            // at all.
            for call in refused_calls {
                let before = sim.request_count();
                let again = ask(attacker, &probe, call).await;
                if sim.request_count() != before {
                    problems.push(format!(
                        "a call refused before Odoo reached it ({} requests): {}",
                        sim.request_count() - before,
                        again.text
                    ));
                }
            }
            let entry = per_class.entry(class).or_default();
            entry.0 += 1;
            if !problems.is_empty() {
                entry.1 += 1;
                failures.extend(problems.into_iter().map(|p| format!("{what}: {p}")));
            }
        }
    }
    for (class, (tried, failed)) in &per_class {
        eprintln!("leak suite (simulator): {class}: {tried} probes, {failed} failed");
    }
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
