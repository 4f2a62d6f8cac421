//! Resources (`odoo://{model}/{id}`: one record; `odoo://{model}`: the model's fields) and the
//! completion of model names.

use serde_json::{Value, json};

use super::args::check_model_name;
use super::{CallError, Catalog, ResourceContent, ResourceDef, ResourceTemplateDef};

/// Most resources listed.
const MAX_LISTED: usize = 200;
/// Most completions returned.
const MAX_COMPLETIONS: usize = 100;
const JSON: &str = "application/json";

pub(crate) fn templates() -> Vec<ResourceTemplateDef> {
    vec![
        ResourceTemplateDef {
            uri_template: "odoo://{model}/{id}".to_owned(),
            name: "odoo_record".to_owned(),
            title: "Odoo record".to_owned(),
            description: "One Odoo record as JSON, with its stored fields, e.g. odoo://res.partner/10"
                .to_owned(),
            mime_type: JSON.to_owned(),
        },
        ResourceTemplateDef {
            uri_template: "odoo://{model}".to_owned(),
            name: "odoo_model".to_owned(),
            title: "Odoo model".to_owned(),
            description: "The fields of an Odoo model as JSON (name, type, label, relation...), e.g. odoo://res.partner"
                .to_owned(),
            mime_type: JSON.to_owned(),
        },
    ]
}

pub(crate) async fn list(catalog: &Catalog) -> Result<Vec<ResourceDef>, CallError> {
    let models = catalog.visible_models().await.map_err(CallError::Odoo)?;
    Ok(models
        .iter()
        .take(MAX_LISTED)
        .map(|m| ResourceDef {
            uri: format!("odoo://{}", m.model),
            name: m.model.clone(),
            title: if m.name.is_empty() {
                m.model.clone()
            } else {
                m.name.clone()
            },
            description: format!("The fields of the Odoo model {}", m.model),
            mime_type: JSON.to_owned(),
        })
        .collect())
}

/// A parsed resource URI.
#[derive(Debug, PartialEq, Eq)]
enum Uri {
    Model(String),
    Record(String, i64),
}

fn parse_uri(uri: &str) -> Result<Uri, CallError> {
    let shown = || uri.chars().take(200).collect::<String>();
    let rest = uri
        .strip_prefix("odoo://")
        .ok_or_else(|| CallError::InvalidUri(format!("{} does not start with odoo://", shown())))?;
    let (model, id) = match rest.split_once('/') {
        Some((model, id)) => (model, Some(id)),
        None => (rest, None),
    };
    check_model_name(model).map_err(|_| {
        CallError::InvalidUri(format!(
            "{}: the model name must be made of a-z, 0-9, '_' and '.'",
            shown()
        ))
    })?;
    match id {
        None => Ok(Uri::Model(model.to_owned())),
        Some(id) => {
            let valid = !id.is_empty() && id.len() <= 18 && id.bytes().all(|b| b.is_ascii_digit());
            match id.parse::<i64>() {
                Ok(n) if valid && n > 0 => Ok(Uri::Record(model.to_owned(), n)),
                _ => Err(CallError::InvalidUri(format!(
                    "{}: the record id must be a positive integer",
                    shown()
                ))),
            }
        }
    }
}

/// Read `odoo://{model}` (what `describe_model` returns) or `odoo://{model}/{id}` (what
/// `read_records` returns for that id): through the very tool the resource mirrors — its parser,
/// the key's policy (operation, fields, records domain) and its execution — so a resource never
/// shows what the tool would refuse.
pub(crate) async fn read(catalog: &Catalog, uri: &str) -> Result<ResourceContent, CallError> {
    let parsed = parse_uri(uri)?;
    let (tool, arguments) = match &parsed {
        Uri::Model(model) => ("describe_model", json!({"model": model})),
        Uri::Record(model, id) => ("read_records", json!({"model": model, "ids": [id]})),
    };
    let arguments = match arguments {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    let call = match catalog.parse_call(tool, arguments).await? {
        Ok(call) => call,
        Err(outcome) => return Err(refused(outcome, uri)),
    };
    catalog.check(&call).map_err(CallError::Denied)?;
    let outcome = catalog.execute(call).await;
    let structured = match outcome.result {
        Ok(structured) => structured,
        Err(error) => return Err(refused_error(error, uri)),
    };
    let value = match parsed {
        Uri::Model(_) => structured,
        Uri::Record(..) => structured
            .get("records")
            .and_then(|records| records.get(0))
            .cloned()
            .ok_or_else(|| CallError::ResourceNotFound(uri.to_owned()))?,
    };
    let text = serde_json::to_string_pretty(&value).unwrap_or_else(|_| "{}".to_owned());
    if text.len() > catalog.inner.settings.max_result_bytes {
        return Err(CallError::ResultTooLarge(format!(
            "{uri} is larger than the result size limit; use read_records with fewer fields"
        )));
    }
    Ok(ResourceContent {
        uri: uri.to_owned(),
        mime_type: JSON.to_owned(),
        text,
    })
}

/// A tool error as the resource's error: what does not exist, or is not visible to the key, is
/// not found; anything else keeps its message.
fn refused(outcome: super::ToolOutcome, uri: &str) -> CallError {
    match outcome.result {
        Err(error) => refused_error(error, uri),
        Ok(_) => CallError::ResourceNotFound(uri.to_owned()),
    }
}

fn refused_error(error: super::ToolError, uri: &str) -> CallError {
    if let Some(rule) = error.rule {
        return CallError::Hidden {
            shown: Box::new(CallError::ResourceNotFound(uri.to_owned())),
            rule,
        };
    }
    match error.kind.as_str() {
        "invalid_arguments" | "missing_record" | "unknown_model" => {
            CallError::ResourceNotFound(uri.to_owned())
        }
        _ => CallError::Tool(error),
    }
}

pub(crate) async fn complete_model(
    catalog: &Catalog,
    prefix: &str,
) -> Result<Completed, CallError> {
    let models = catalog.visible_models().await.map_err(CallError::Odoo)?;
    let needle: String = prefix.trim().to_lowercase().chars().take(128).collect();
    // The whole name of a model Odoo has and the rules hide: a probe, answered as any name
    // without completions is, and recorded as a denial. A prefix on the way is not a name.
    let hidden = match catalog.access.model_rule(&needle) {
        Some(rule) if catalog.model_listed(&needle).await => Some(rule),
        _ => None,
    };
    let mut out: Vec<String> = models
        .iter()
        .filter(|m| m.model.starts_with(&needle))
        .map(|m| m.model.clone())
        .take(MAX_COMPLETIONS)
        .collect();
    if out.len() < MAX_COMPLETIONS {
        let more: Vec<String> = models
            .iter()
            .filter(|m| !m.model.starts_with(&needle) && m.model.contains(&needle))
            .map(|m| m.model.clone())
            .take(MAX_COMPLETIONS - out.len())
            .collect();
        out.extend(more);
    }
    Ok(Completed {
        values: out,
        hidden,
    })
}

/// What [`complete_model`] found.
#[derive(Debug, Clone, Default)]
pub struct Completed {
    /// The visible model names that complete the value.
    pub values: Vec<String>,
    /// The rule hiding the model the value names in full, when it names one.
    pub hidden: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_parsed_strictly() {
        assert_eq!(
            parse_uri("odoo://res.partner/10").unwrap(),
            Uri::Record("res.partner".into(), 10)
        );
        assert_eq!(
            parse_uri("odoo://res.partner").unwrap(),
            Uri::Model("res.partner".into())
        );
        for bad in [
            "odoo://res.partner/0",
            "odoo://res.partner/-1",
            "odoo://res.partner/1x",
            "odoo://res.partner/+1",
            "odoo://res.partner/",
            "odoo://Res.Partner/1",
            "odoo://res partner/1",
            "odoo://res.partner/1/2",
            "http://res.partner/1",
            "odoo://",
            "odoo://res.partner/99999999999999999999",
        ] {
            assert!(
                matches!(parse_uri(bad), Err(CallError::InvalidUri(_))),
                "{bad} should be invalid"
            );
        }
    }
}
