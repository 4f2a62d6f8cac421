//! `odoo-warden policy explain`: what the gateway would decide on one tool call of one key,
//! and the rule behind every step.
//!
//! Offline (the default), the call is read from its arguments alone: the model, the operation
//! the tool performs, the fields named in `fields`, `values`, `order`, `group_by` and
//! `aggregates`, and the field paths of the domain (the first element of each condition). A
//! dotted path is checked on its first segment only: following a relation needs Odoo's
//! metadata. `--online` connects to Odoo as the profile's identity and parses the call with the
//! gateway's own parser, then checks it exactly as the gateway does.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::{Map, Value};
use warden_config::Config;
use warden_gateway::catalog::{self, Catalog, ParsedCall, ToolOutcome, Usage};
use warden_gateway::runtime::Runtime;
use warden_policy::{FieldRef, FieldUse, Operation, Policy, Request};

use crate::common::{self, EXIT_FAIL, EXIT_OK, Unavailable, usage};

/// Options of `policy explain`.
#[derive(Debug, Args)]
#[command(after_help = "\
Prints ALLOW or DENY, then one line per step of the decision naming the rule behind it.

Exit status: 0 allowed, 1 denied, 64 usage or configuration error, 69 Odoo unreachable
(--online).

Examples:
  odoo-warden policy explain --config warden.toml --key k_3f9a0c1e5b7d \\
      --tool search_records --args '{\"model\": \"res.partner\", \"fields\": [\"name\", \"email\"]}'
  odoo-warden policy explain --config warden.toml --key k_3f9a0c1e5b7d --ip 192.0.2.7 --online \\
      --tool count_records --args '{\"model\": \"sale.order\", \"domain\": \"[(\\\"partner_id.email\\\", \\\"ilike\\\", \\\"x\\\")]\"}'")]
pub(crate) struct ExplainArgs {
    /// The configuration file.
    #[arg(long, env = "WARDEN_CONFIG", value_name = "PATH")]
    config: PathBuf,
    /// The key's id (`keys list` shows it).
    #[arg(long, value_name = "ID")]
    key: String,
    /// The tool, e.g. search_records, read_records, create_records, call_method.
    #[arg(long)]
    tool: String,
    /// The tool's arguments, as the agent sends them (a JSON object).
    #[arg(long, value_name = "JSON", default_value = "{}")]
    args: String,
    /// The client address (absent: a call over stdio).
    #[arg(long, value_name = "ADDR")]
    ip: Option<String>,
    /// Parse the call as the gateway does, with Odoo's metadata (connects to Odoo).
    #[arg(long)]
    online: bool,
}

/// What a tool does, for reading its arguments offline.
#[derive(Clone, Copy)]
struct ToolSpec {
    name: &'static str,
    operation: Option<Operation>,
    needs_model: bool,
    arguments: &'static [&'static str],
}

const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "search_records",
        operation: Some(Operation::Read),
        needs_model: true,
        arguments: &["model", "domain", "fields", "order", "limit", "offset"],
    },
    ToolSpec {
        name: "read_records",
        operation: Some(Operation::Read),
        needs_model: true,
        arguments: &["model", "ids", "fields"],
    },
    ToolSpec {
        name: "count_records",
        operation: Some(Operation::Read),
        needs_model: true,
        arguments: &["model", "domain"],
    },
    ToolSpec {
        name: "aggregate_records",
        operation: Some(Operation::Read),
        needs_model: true,
        arguments: &[
            "model",
            "domain",
            "group_by",
            "aggregates",
            "order",
            "limit",
        ],
    },
    ToolSpec {
        name: "find_by_name",
        operation: Some(Operation::Read),
        needs_model: true,
        arguments: &["model", "name", "limit"],
    },
    ToolSpec {
        name: "list_models",
        operation: None,
        needs_model: false,
        arguments: &["filter"],
    },
    ToolSpec {
        name: "describe_model",
        operation: None,
        needs_model: true,
        arguments: &["model"],
    },
    ToolSpec {
        name: "create_records",
        operation: Some(Operation::Create),
        needs_model: true,
        arguments: &["model", "values"],
    },
    ToolSpec {
        name: "update_records",
        operation: Some(Operation::Write),
        needs_model: true,
        arguments: &["model", "ids", "values"],
    },
    ToolSpec {
        name: "delete_records",
        operation: Some(Operation::Delete),
        needs_model: true,
        arguments: &["model", "ids"],
    },
    ToolSpec {
        name: "call_method",
        operation: Some(Operation::Call),
        needs_model: true,
        arguments: &["model", "method", "ids", "args", "kwargs"],
    },
];

impl ToolSpec {
    fn writes(self) -> bool {
        matches!(
            self.operation,
            Some(Operation::Create | Operation::Write | Operation::Delete | Operation::Call)
        )
    }
}

/// A call as the policy sees it, with owned strings.
#[derive(Debug, Default)]
struct CallShape {
    model: Option<String>,
    operation: Option<Operation>,
    fields: Vec<(String, String, FieldUse)>,
    method: Option<String>,
    ids: usize,
    notes: Vec<String>,
}

impl CallShape {
    fn add(&mut self, model: &str, field: &str, usage: FieldUse) {
        let seen = self
            .fields
            .iter()
            .any(|(m, f, u)| m == model && f == field && *u == usage);
        if !seen {
            self.fields
                .push((model.to_owned(), field.to_owned(), usage));
        }
    }

    /// The call read from its arguments alone.
    fn offline(spec: ToolSpec, args: &Map<String, Value>) -> Result<CallShape> {
        let tool = spec.name;
        if let Some(unknown) = args.keys().find(|k| !spec.arguments.contains(&k.as_str())) {
            return Err(usage(format!(
                "--args: unknown argument \"{unknown}\" for {tool} (accepted: {})",
                spec.arguments.join(", ")
            )));
        }
        let mut shape = CallShape {
            operation: spec.operation,
            ..CallShape::default()
        };
        let model = match args.get("model") {
            Some(Value::String(model)) if !model.is_empty() => model.clone(),
            None | Some(Value::Null) if !spec.needs_model => String::new(),
            None | Some(Value::Null) => {
                return Err(usage(format!("--args: \"model\" is required for {tool}")));
            }
            Some(_) => return Err(usage("--args: \"model\" must be a non-empty string")),
        };
        if !model.is_empty() {
            shape.model = Some(model.clone());
        }
        if let Some(fields) = strings(args, "fields")? {
            for field in fields {
                shape.add(&model, &field, FieldUse::Read);
            }
        } else if matches!(tool, "search_records" | "read_records") {
            shape.notes.push(
                "no \"fields\" named: the gateway returns the fields this key may read".to_owned(),
            );
        }
        if tool == "find_by_name" {
            shape.add(&model, "display_name", FieldUse::Read);
        }
        for path in domain_paths(args)? {
            let first = path.split('.').next().unwrap_or(&path);
            shape.add(&model, first, FieldUse::Filter);
            if first != path {
                shape.notes.push(format!(
                    "domain path \"{path}\": only \"{first}\" on \"{model}\" is checked offline; \
                     the fields it leads to need --online (the relation's model comes from Odoo)"
                ));
            }
        }
        for spec in strings(args, "group_by")?.unwrap_or_default() {
            let name = spec.split(':').next().unwrap_or(&spec);
            shape.add(&model, name, FieldUse::GroupBy);
        }
        for spec in strings(args, "aggregates")?.unwrap_or_default() {
            let name = spec.split(':').next().unwrap_or(&spec);
            if name != "__count" {
                shape.add(&model, name, FieldUse::Aggregate);
            }
        }
        if let Some(order) = text(args, "order")? {
            for term in order.split(',') {
                if let Some(name) = term.split_whitespace().next()
                    && name != "__count"
                {
                    shape.add(&model, name, FieldUse::Order);
                }
            }
        }
        let mut records = 0;
        if let Some(value) = args.get("values").filter(|v| !v.is_null()) {
            let parsed = match value {
                Value::String(text) => warden_gateway::catalog::parse_literal(text)
                    .map_err(|e| usage(format!("--args: \"values\" does not parse: {e}")))?,
                other => other.clone(),
            };
            let items = match parsed {
                Value::Array(items) => items,
                object @ Value::Object(_) => vec![object],
                _ => {
                    return Err(usage(
                        "--args: \"values\" must be an object or a list of objects",
                    ));
                }
            };
            records = items.len();
            for item in &items {
                let Value::Object(map) = item else {
                    return Err(usage("--args: every item of \"values\" must be an object"));
                };
                for field in map.keys() {
                    shape.add(&model, field, FieldUse::Write);
                }
            }
        }
        shape.ids = match args.get("ids") {
            Some(Value::Array(ids)) => ids.len(),
            None | Some(Value::Null) => 0,
            Some(_) => return Err(usage("--args: \"ids\" must be a list of record ids")),
        }
        .max(records);
        if tool == "call_method" {
            match args.get("method") {
                Some(Value::String(method)) => shape.method = Some(method.clone()),
                _ => {
                    return Err(usage(
                        "--args: \"method\" (a string) is required for call_method",
                    ));
                }
            }
        }
        Ok(shape)
    }

    /// The call as the gateway parsed it.
    fn parsed(call: &ParsedCall) -> CallShape {
        let operation = match call.operation() {
            catalog::Operation::Read => Some(Operation::Read),
            catalog::Operation::Create => Some(Operation::Create),
            catalog::Operation::Write => Some(Operation::Write),
            catalog::Operation::Unlink => Some(Operation::Delete),
            catalog::Operation::Call => Some(Operation::Call),
            _ => None,
        };
        let mut shape = CallShape {
            model: call.model().map(str::to_owned),
            operation,
            method: call.method().map(str::to_owned),
            ids: call.ids().len().max(call.records_created()),
            ..CallShape::default()
        };
        for used in call.field_uses() {
            let usage = match used.usage {
                Usage::Write => FieldUse::Write,
                Usage::Filter => FieldUse::Filter,
                Usage::Order => FieldUse::Order,
                Usage::GroupBy => FieldUse::GroupBy,
                Usage::Aggregate => FieldUse::Aggregate,
                _ => FieldUse::Read,
            };
            shape.add(&used.model, &used.field, usage);
        }
        shape
    }

    /// [`Policy::explain`] on this call.
    fn explain(&self, policy: &Policy, ask: &Ask<'_>) -> (bool, Vec<String>) {
        let fields: Vec<FieldRef<'_>> = self
            .fields
            .iter()
            .map(|(model, field, usage)| FieldRef {
                model,
                field,
                usage: *usage,
            })
            .collect();
        let request = Request {
            tool: ask.tool,
            model: self.model.as_deref(),
            operation: self.operation,
            fields: &fields,
            method: self.method.as_deref(),
            ids: self.ids,
        };
        let explanation = policy.explain(ask.key, &request, ask.ip, ask.now);
        let lines = explanation
            .lines
            .into_iter()
            .filter(|line| !line.starts_with("decision:"))
            .collect();
        (explanation.allowed, lines)
    }
}

/// An optional list of strings.
fn strings(args: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                _ => Err(usage(format!(
                    "--args: \"{name}\" must be a list of strings"
                ))),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some),
        Some(_) => Err(usage(format!(
            "--args: \"{name}\" must be a list of strings"
        ))),
    }
}

/// An optional string.
fn text(args: &Map<String, Value>, name: &str) -> Result<Option<String>> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(usage(format!("--args: \"{name}\" must be a string"))),
    }
}

/// The field path of every condition of the `domain` argument (JSON or Python form), checked
/// as the gateway checks it.
fn domain_paths(args: &Map<String, Value>) -> Result<Vec<String>> {
    let text = match args.get("domain") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    };
    warden_gateway::catalog::domain_field_paths(&text)
        .map_err(|e| usage(format!("--args: \"domain\": {e}")))
}

/// Runs `policy explain`; 0 allowed, 1 denied.
pub(crate) fn run(args: &ExplainArgs) -> Result<u8> {
    let call_args = match serde_json::from_str::<Value>(&args.args) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            return Err(usage(
                "--args: must be a JSON object, e.g. {\"model\": \"res.partner\"}",
            ));
        }
        Err(e) => return Err(usage(format!("--args: not JSON: {e}"))),
    };
    let ip = match &args.ip {
        Some(text) => Some(
            text.parse::<IpAddr>()
                .map_err(|_| usage(format!("--ip: \"{text}\" is not an IP address")))?,
        ),
        None => None,
    };
    let Some(spec) = TOOLS.iter().copied().find(|t| t.name == args.tool) else {
        let names: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
        return Err(usage(format!(
            "--tool: unknown tool \"{}\" (tools: {})",
            args.tool,
            names.join(", ")
        )));
    };
    let config = common::load_config(&args.config)?;
    let Some(profile) = config
        .policy
        .keys()
        .find(|k| k.id == args.key)
        .map(|k| k.profile.clone())
    else {
        return Err(usage(format!(
            "--key: no key with id \"{}\" (`odoo-warden keys list` shows the ids)",
            args.key
        )));
    };
    let offline = CallShape::offline(spec, &call_args)?;
    let ask = Ask {
        key: &args.key,
        tool: spec.name,
        ip,
        now: SystemTime::now(),
    };
    let tool_off = spec.writes() && !config.tools.write_tools;
    let mut report = if args.online {
        online(config, &profile, call_args, offline, &ask)?
    } else {
        let (allowed, lines) = offline.explain(&config.policy, &ask);
        Report {
            allowed,
            lines,
            notes: offline.notes,
        }
    };
    if tool_off {
        report.allowed = false;
        report.lines.push(format!(
            "tool \"{}\": denied by [tools] write = false (data-changing tools are off for every key)",
            spec.name
        ));
    }
    let mut text = String::from(if report.allowed { "ALLOW\n" } else { "DENY\n" });
    for line in &report.lines {
        text.push_str("  ");
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(if report.allowed {
        "  decision: allowed\n"
    } else {
        "  decision: denied\n"
    });
    for note in &report.notes {
        text.push_str("note: ");
        text.push_str(note);
        text.push('\n');
    }
    common::out(&text)?;
    Ok(if report.allowed { EXIT_OK } else { EXIT_FAIL })
}

/// Whose call, which tool, from where, when.
struct Ask<'a> {
    key: &'a str,
    tool: &'static str,
    ip: Option<IpAddr>,
    now: SystemTime,
}

/// The decision, its steps and notes on how it was reached.
struct Report {
    allowed: bool,
    lines: Vec<String>,
    notes: Vec<String>,
}

/// The field names a call's arguments name on its model: `fields`, the first segment of each
/// domain path, `order`, `group_by`, `aggregates` and the keys of `values`.
fn named_fields(arguments: &Map<String, Value>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut push = |name: &str| {
        let name = name
            .split(['.', ':', ' '])
            .next()
            .unwrap_or(name)
            .to_owned();
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    };
    for key in ["fields", "group_by", "aggregates"] {
        if let Some(Value::Array(items)) = arguments.get(key) {
            items.iter().filter_map(Value::as_str).for_each(&mut push);
        }
    }
    if let Some(order) = arguments.get("order").and_then(Value::as_str) {
        order.split(',').map(str::trim).for_each(&mut push);
    }
    let domain = match arguments.get("domain") {
        Some(Value::String(text)) => Some(text.clone()),
        Some(native @ Value::Array(_)) => serde_json::to_string(native).ok(),
        _ => None,
    };
    if let Some(paths) = domain.and_then(|d| warden_gateway::catalog::domain_field_paths(&d).ok()) {
        for path in &paths {
            push(path);
        }
    }
    let values = match arguments.get("values") {
        Some(Value::String(text)) => warden_gateway::catalog::parse_literal(text).ok(),
        other => other.cloned(),
    };
    let objects: Vec<Value> = match values {
        Some(Value::Array(items)) => items,
        Some(object @ Value::Object(_)) => vec![object],
        _ => Vec::new(),
    };
    for object in objects {
        if let Value::Object(map) = object {
            for key in map.keys() {
                push(key);
            }
        }
    }
    names
}

/// The error message of a tool outcome.
fn outcome_message(outcome: &ToolOutcome) -> String {
    outcome
        .error()
        .map_or_else(|| outcome.text.clone(), |e| e.message.clone())
}

/// The decision with Odoo's metadata: the gateway's own parser and checks for the key's
/// profile, and the policy's explanation of the call as parsed.
fn online(
    config: Config,
    profile: &str,
    call_args: Map<String, Value>,
    mut offline: CallShape,
    ask: &Ask<'_>,
) -> Result<Report> {
    let tool = ask.tool;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async move {
        let Config {
            identities,
            tools,
            policy,
            ..
        } = config;
        let identity = policy
            .profile(profile)
            .map(|p| p.identity().to_owned())
            .with_context(|| format!("profile \"{profile}\" is not configured"))?;
        let mut catalogs = BTreeMap::new();
        for (name, odoo) in &identities {
            let client = warden_odoo::OdooClient::new(odoo.clone())
                .with_context(|| format!("odoo.identities.{name}"))?;
            if *name == identity {
                client.authenticate().await.map_err(|e| {
                    Unavailable(format!(
                        "cannot log in to Odoo as identity \"{name}\" (login \"{}\"): {e}",
                        odoo.login
                    ))
                })?;
            }
            catalogs.insert(name.clone(), Catalog::new(client, tools.clone()));
        }
        let runtime = Runtime::new(policy, &catalogs)?;
        let policy = runtime.policy();
        let scoped = runtime
            .catalog(profile)
            .with_context(|| format!("profile \"{profile}\" has no catalog"))?;
        let unrestricted = catalogs
            .get(&identity)
            .with_context(|| format!("identity \"{identity}\" has no catalog"))?;
        let mut notes = vec![format!(
            "online: the call was parsed with Odoo's metadata as identity \"{identity}\", as the gateway does"
        )];
        let (gateway_ok, gateway_line, shape) =
            match scoped.parse_call(tool, call_args.clone()).await {
                Ok(Ok(call)) => {
                    let shape = CallShape::parsed(&call);
                    match scoped.check(&call) {
                        Ok(()) => (true, "gateway: the call passes its checks".to_owned(), shape),
                        Err(denied) => (
                            false,
                            format!("gateway: refused: {} (rule: {})", denied.message, denied.rule),
                            shape,
                        ),
                    }
                }
                Ok(Err(refused)) => {
                    let line = format!(
                        "gateway: refused before the policy check: {}",
                        outcome_message(&refused)
                    );
                    // Fields hidden because Odoo derives them from a hidden one: say from what.
                    if let Some(model) = call_args.get("model").and_then(Value::as_str)
                        && let Ok(hidden) = scoped.hidden_fields(model).await
                    {
                        for name in named_fields(&call_args) {
                            if let Some(why) = hidden.get(&name).filter(|w| *w != "denied") {
                                notes.push(format!(
                                    "{model}.{name} is hidden because it is {why} (keep it with fields.read.allow_derived)"
                                ));
                            }
                        }
                    }
                    // What the key cannot see is unknown to the scoped parser: parse as the
                    // identity sees Odoo to name the rule that hides it.
                    let shape = match unrestricted.parse_call(tool, call_args).await {
                        Ok(Ok(call)) => CallShape::parsed(&call),
                        _ => {
                            notes.append(&mut offline.notes);
                            offline
                        }
                    };
                    (false, line, shape)
                }
                Err(error) => {
                    notes.append(&mut offline.notes);
                    (false, format!("gateway: {error}"), offline)
                }
            };
        let (allowed, mut lines) = shape.explain(policy, ask);
        lines.push(gateway_line);
        Ok(Report {
            allowed: allowed && gateway_ok,
            lines,
            notes,
        })
    })
}
