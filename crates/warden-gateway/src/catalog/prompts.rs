//! Prompts: ready-made requests that tell the model which tools to call for common Odoo tasks.

use std::collections::BTreeMap;

use super::args::check_model_name;
use super::{CallError, Catalog, PromptArgumentDef, PromptContent, PromptDef, Role};

/// Longest accepted prompt argument, in characters.
const MAX_ARGUMENT_CHARS: usize = 200;

pub(crate) fn defs() -> Vec<PromptDef> {
    vec![
        PromptDef {
            name: "summarize_customer".to_owned(),
            title: "Summarize a customer".to_owned(),
            description: "Summarize an Odoo customer: contact details, contacts, sales orders and open opportunities."
                .to_owned(),
            arguments: vec![PromptArgumentDef {
                name: "customer".to_owned(),
                description: "The customer's name, or part of it (e.g. \"Deco Addict\").".to_owned(),
                required: true,
            }],
        },
        PromptDef {
            name: "explain_model".to_owned(),
            title: "Explain a model".to_owned(),
            description: "Explain what an Odoo model holds: its important fields, relations and a few sample records."
                .to_owned(),
            arguments: vec![PromptArgumentDef {
                name: "model".to_owned(),
                description: "The model's technical name (e.g. \"sale.order\").".to_owned(),
                required: true,
            }],
        },
        PromptDef {
            name: "sales_pipeline_review".to_owned(),
            title: "Review the sales pipeline".to_owned(),
            description: "Review quotations, confirmed orders and opportunities: totals by state and salesperson, largest deals."
                .to_owned(),
            arguments: Vec::new(),
        },
    ]
}

/// A required argument: present, not blank, bounded, without control characters.
fn argument(arguments: &BTreeMap<String, String>, name: &str) -> Result<String, CallError> {
    let value = arguments
        .get(name)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            CallError::InvalidPromptArguments(format!("the argument {name:?} is required"))
        })?;
    if value.chars().count() > MAX_ARGUMENT_CHARS {
        return Err(CallError::InvalidPromptArguments(format!(
            "the argument {name:?} is longer than {MAX_ARGUMENT_CHARS} characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(CallError::InvalidPromptArguments(format!(
            "the argument {name:?} must not contain control characters"
        )));
    }
    Ok(value.to_owned())
}

fn no_extra(arguments: &BTreeMap<String, String>, allowed: &[&str]) -> Result<(), CallError> {
    match arguments.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(CallError::InvalidPromptArguments(format!(
            "unknown argument {:?}",
            key.chars().take(40).collect::<String>()
        ))),
        None => Ok(()),
    }
}

/// Which of `wanted` exist in this database for the caller.
async fn existing(
    catalog: &Catalog,
    wanted: &[&'static str],
) -> Result<Vec<&'static str>, CallError> {
    let mut out = Vec::with_capacity(wanted.len());
    for model in wanted {
        match catalog.model_exists(model).await {
            Ok(false) => {}
            Ok(true) => out.push(*model),
            Err(e) => return Err(CallError::Odoo(e)),
        }
    }
    Ok(out)
}

/// Those of `wanted` the caller may read on `model`, as a JSON list for the instructions: a
/// prompt never steers the agent into asking for a field its key cannot see.
async fn readable(catalog: &Catalog, model: &str, wanted: &[&str]) -> Result<String, CallError> {
    let fields = catalog.model_fields(model).await.map_err(CallError::Odoo)?;
    let names: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|name| fields.contains_key(name))
        .collect();
    Ok(serde_json::to_string(&names).unwrap_or_else(|_| "[]".to_owned()))
}

/// A JSON string literal (quotes and escapes), to embed a user's text in instructions.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

pub(crate) async fn get(
    catalog: &Catalog,
    name: &str,
    arguments: &BTreeMap<String, String>,
) -> Result<PromptContent, CallError> {
    match name {
        "summarize_customer" => {
            no_extra(arguments, &["customer"])?;
            let customer = argument(arguments, "customer")?;
            let models = existing(catalog, &["res.partner", "sale.order", "crm.lead"]).await?;
            if !models.contains(&"res.partner") {
                return Err(CallError::InvalidPromptArguments(
                    "this Odoo database has no contacts (res.partner)".to_owned(),
                ));
            }
            let partner_fields = readable(
                catalog,
                "res.partner",
                &[
                    "name",
                    "email",
                    "phone",
                    "website",
                    "street",
                    "city",
                    "country_id",
                    "vat",
                    "is_company",
                    "child_ids",
                ],
            )
            .await?;
            let contact_fields = readable(
                catalog,
                "res.partner",
                &["name", "email", "phone", "function"],
            )
            .await?;
            let mut steps = vec![
                format!(
                    "1. Call find_by_name with model \"res.partner\" and name {} to find the customer. If several match, prefer the company; if none match, say so and stop.",
                    quoted(&customer)
                ),
                format!(
                    "2. Call read_records on \"res.partner\" with the customer's id and fields {partner_fields}."
                ),
                format!(
                    "3. If it has contacts (child_ids), call search_records on \"res.partner\" with domain [[\"parent_id\", \"=\", ID]] and fields {contact_fields}."
                ),
            ];
            if models.contains(&"sale.order") {
                let fields = readable(
                    catalog,
                    "sale.order",
                    &["name", "date_order", "state", "amount_total"],
                )
                .await?;
                steps.push(format!("4. Call search_records on \"sale.order\" with domain [[\"partner_id\", \"child_of\", ID]], fields {fields} and order \"date_order desc\", limit 20; and aggregate_records on \"sale.order\" with the same domain, group_by [\"state\"] and aggregates [\"amount_total:sum\"]."));
            }
            if models.contains(&"crm.lead") {
                let fields = readable(
                    catalog,
                    "crm.lead",
                    &["name", "type", "expected_revenue", "probability", "user_id"],
                )
                .await?;
                steps.push(format!("5. Call search_records on \"crm.lead\" with domain [[\"partner_id\", \"child_of\", ID]] and fields {fields}."));
            }
            let text = format!(
                "Summarize the Odoo customer {}. Use the odoo-warden tools, replacing ID with the customer's id:\n{}\nThen write a short summary: who they are, how to reach them, their key contacts, their sales history (totals by state, the latest orders) and open opportunities. Quote amounts with their currency and say when data is missing or could not be read.",
                quoted(&customer),
                steps.join("\n")
            );
            Ok(PromptContent {
                description: format!("Summarize the customer {customer}"),
                messages: vec![(Role::User, text)],
            })
        }
        "explain_model" => {
            no_extra(arguments, &["model"])?;
            let model = argument(arguments, "model")?;
            check_model_name(&model).map_err(CallError::InvalidPromptArguments)?;
            match catalog.model_exists(&model).await {
                Ok(false) => {
                    let shown = CallError::InvalidPromptArguments(format!(
                        "unknown model {model:?}; list_models shows the available models"
                    ));
                    return Err(match catalog.access.model_rule(&model) {
                        Some(rule) => CallError::Hidden {
                            shown: Box::new(shown),
                            rule,
                        },
                        None => shown,
                    });
                }
                Ok(true) => {}
                Err(e) => return Err(CallError::Odoo(e)),
            }
            let text = format!(
                "Explain the Odoo model \"{model}\" to me. Use the odoo-warden tools:\n\
1. Call describe_model with model \"{model}\" to get its fields.\n\
2. Call count_records with model \"{model}\" to see how many records it has.\n\
3. Call search_records with model \"{model}\", limit 5 and a handful of its most telling fields to show sample records.\n\
Then explain what the model is for, its key fields (required ones first), how it relates to other models (many2one, one2many and many2many fields and their relations), the choices of its selection fields, and give a few example domains to search it."
            );
            Ok(PromptContent {
                description: format!("Explain the model {model}"),
                messages: vec![(Role::User, text)],
            })
        }
        "sales_pipeline_review" => {
            no_extra(arguments, &[])?;
            let models = existing(catalog, &["sale.order", "crm.lead"]).await?;
            if models.is_empty() {
                return Err(CallError::InvalidPromptArguments(
                    "this Odoo database has neither sales orders (sale.order) nor opportunities (crm.lead)".to_owned(),
                ));
            }
            let mut steps = Vec::new();
            if models.contains(&"sale.order") {
                steps.push("- Call aggregate_records on \"sale.order\" with group_by [\"state\"] and aggregates [\"amount_total:sum\"]; then with group_by [\"user_id\"] and domain [[\"state\", \"in\", [\"draft\", \"sent\"]]] for open quotations per salesperson.".to_owned());
                steps.push("- Call search_records on \"sale.order\" with domain [[\"state\", \"in\", [\"draft\", \"sent\"]]], fields [\"name\", \"partner_id\", \"user_id\", \"date_order\", \"amount_total\"], order \"amount_total desc\" and limit 10 for the largest open quotations.".to_owned());
            }
            if models.contains(&"crm.lead") {
                steps.push("- Call aggregate_records on \"crm.lead\" with domain [[\"type\", \"=\", \"opportunity\"]], group_by [\"user_id\"] and aggregates [\"expected_revenue:sum\", \"probability:avg\"].".to_owned());
            }
            let text = format!(
                "Review the sales pipeline in Odoo. Use the odoo-warden tools:\n{}\nThen report: totals by state, open quotations and opportunities per salesperson, the largest deals, and anything that needs attention (old quotations, deals without a salesperson). Keep it short and quote amounts.",
                steps.join("\n")
            );
            Ok(PromptContent {
                description: "Review the sales pipeline".to_owned(),
                messages: vec![(Role::User, text)],
            })
        }
        other => Err(CallError::UnknownPrompt(other.chars().take(100).collect())),
    }
}
