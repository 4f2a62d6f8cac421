//! The tools' definitions: names, titles, descriptions with examples, strict input schemas
//! (every property typed, the structured arguments as native JSON lists and objects, unions only
//! as `anyOf` branches of one type each, no extra properties) and output schemas.

use serde_json::{Value, json};

use super::{CatalogSettings, ToolDef, ToolHints};

/// The catalog's tools, in listing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Tool {
    SearchRecords,
    ReadRecords,
    CountRecords,
    AggregateRecords,
    FindByName,
    ListModels,
    DescribeModel,
    CreateRecords,
    UpdateRecords,
    DeleteRecords,
    CallMethod,
}

const ALL: &[Tool] = &[
    Tool::SearchRecords,
    Tool::ReadRecords,
    Tool::CountRecords,
    Tool::AggregateRecords,
    Tool::FindByName,
    Tool::ListModels,
    Tool::DescribeModel,
    Tool::CreateRecords,
    Tool::UpdateRecords,
    Tool::DeleteRecords,
    Tool::CallMethod,
];

impl Tool {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::SearchRecords => "search_records",
            Self::ReadRecords => "read_records",
            Self::CountRecords => "count_records",
            Self::AggregateRecords => "aggregate_records",
            Self::FindByName => "find_by_name",
            Self::ListModels => "list_models",
            Self::DescribeModel => "describe_model",
            Self::CreateRecords => "create_records",
            Self::UpdateRecords => "update_records",
            Self::DeleteRecords => "delete_records",
            Self::CallMethod => "call_method",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        ALL.iter().copied().find(|t| t.name() == name)
    }

    /// The operation the tool performs.
    pub(crate) fn operation(self) -> super::Operation {
        use super::Operation as Op;
        match self {
            Self::SearchRecords
            | Self::ReadRecords
            | Self::CountRecords
            | Self::AggregateRecords
            | Self::FindByName => Op::Read,
            Self::ListModels | Self::DescribeModel => Op::Metadata,
            Self::CreateRecords => Op::Create,
            Self::UpdateRecords => Op::Write,
            Self::DeleteRecords => Op::Unlink,
            Self::CallMethod => Op::Call,
        }
    }

    /// Whether the tool may change data (offered only with `write_tools`).
    pub(crate) fn writes(self) -> bool {
        matches!(
            self,
            Self::CreateRecords | Self::UpdateRecords | Self::DeleteRecords | Self::CallMethod
        )
    }
}

/// The arguments each tool accepts.
pub(crate) fn argument_names(tool: Tool) -> &'static [&'static str] {
    match tool {
        Tool::SearchRecords => &["model", "domain", "fields", "order", "limit", "offset"],
        Tool::ReadRecords => &["model", "ids", "fields"],
        Tool::CountRecords => &["model", "domain"],
        Tool::AggregateRecords => &[
            "model",
            "domain",
            "group_by",
            "aggregates",
            "order",
            "limit",
        ],
        Tool::FindByName => &["model", "name", "limit"],
        Tool::ListModels => &["filter"],
        Tool::DescribeModel => &["model"],
        Tool::CreateRecords => &["model", "values"],
        Tool::UpdateRecords => &["model", "ids", "values"],
        Tool::DeleteRecords => &["model", "ids"],
        Tool::CallMethod => &["model", "method", "ids", "args", "kwargs"],
    }
}

const DOMAIN_HELP: &str = "The domain is a list of conditions [field, operator, value], e.g. \
[[\"is_company\", \"=\", true]]. Conditions are ANDed; the prefix operators \"|\" (or), \"&\" (and) \
and \"!\" (not) combine the next ones, e.g. [\"|\", [\"city\", \"=\", \"Brussels\"], \
[\"city\", \"=\", \"Paris\"]]. Follow relations with dots: [\"country_id.code\", \"in\", \
[\"BE\", \"FR\"]]. Operators: =, !=, <, >, <=, >=, in, not in, like, not like, ilike, not ilike, \
=like, =ilike, child_of, parent_of. Empty or omitted: all records. The same list written as text \
(JSON, or Odoo's Python form \"[('is_company', '=', True)]\") is accepted too.";

fn model_prop() -> Value {
    json!({
        "type": "string",
        "description": "Technical model name, e.g. \"res.partner\" (contacts), \"sale.order\" (sales orders). Use list_models to find one.",
        "minLength": 1,
        "maxLength": 128
    })
}

fn domain_prop() -> Value {
    json!({
        "type": "array",
        "description": DOMAIN_HELP,
        "items": {
            "description": "A condition [field, operator, value], or a prefix operator \"|\", \"&\" or \"!\".",
            "anyOf": [
                {"type": "array", "minItems": 3, "maxItems": 3, "description": "[field, operator, value], e.g. [\"name\", \"ilike\", \"deco\"]."},
                {"type": "string", "enum": ["|", "&", "!"], "description": "A prefix operator combining the next two conditions (\"!\": the next one)."}
            ]
        }
    })
}

/// An object of field values: any field names, values of any type.
fn values_object(description: &str) -> Value {
    json!({
        "type": "object",
        "additionalProperties": true,
        "description": description
    })
}

fn fields_prop() -> Value {
    json!({
        "type": "array",
        "items": {"type": "string"},
        "description": "Field names to return, e.g. [\"name\", \"email\"]. Omitted: the model's stored fields. Use describe_model to list fields."
    })
}

fn ids_prop(what: &str) -> Value {
    json!({
        "type": "array",
        "items": {"type": "integer", "minimum": 1},
        "minItems": 1,
        "description": what
    })
}

fn limit_prop(settings: &CatalogSettings) -> Value {
    json!({
        "type": "integer",
        "minimum": 1,
        "description": format!(
            "Maximum number of results (default {}, at most {}; a larger limit is reduced).",
            settings.default_limit, settings.max_limit
        )
    })
}

fn object(properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false
    })
}

fn records_output(extra: Value) -> Value {
    let mut properties = json!({
        "model": {"type": "string"},
        "records": {"type": "array", "items": {"type": "object"}},
        "count": {"type": "integer", "minimum": 0, "description": "Records in this result."},
        "truncated": {"type": "boolean", "description": "Whether rows were cut to keep the result small."},
        "notes": {"type": "array", "items": {"type": "string"}}
    });
    if let (Some(target), Value::Object(extra)) = (properties.as_object_mut(), extra) {
        target.extend(extra);
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": ["model", "records", "count", "truncated"]
    })
}

fn hints(read_only: bool, destructive: bool, idempotent: bool) -> ToolHints {
    ToolHints {
        read_only,
        destructive,
        idempotent,
        open_world: false,
    }
}

fn def(tool: Tool, settings: &CatalogSettings) -> ToolDef {
    let (title, description, input, output, hint) = match tool {
        Tool::SearchRecords => (
            "Search records",
            format!(
                "Search records of an Odoo model and return their fields (Odoo search_read). \
Example: model \"res.partner\", domain [[\"is_company\", \"=\", true], [\"country_id.code\", \"=\", \"BE\"]], \
fields [\"name\", \"email\"], order \"name asc\", limit 10. {DOMAIN_HELP} Results are paged: \
when \"next_offset\" is present, call again with that offset for more."
            ),
            object(
                json!({
                    "model": model_prop(),
                    "domain": domain_prop(),
                    "fields": fields_prop(),
                    "order": {"type": "string", "description": "Sort order: comma-separated \"field asc|desc\", e.g. \"name asc, id desc\"."},
                    "limit": limit_prop(settings),
                    "offset": {"type": "integer", "minimum": 0, "description": "Records to skip, for paging (default 0)."}
                }),
                &["model"],
            ),
            records_output(json!({
                "limit": {"type": "integer"},
                "offset": {"type": "integer"},
                "next_offset": {"type": "integer", "description": "Offset of the next page; absent when this page is the last."}
            })),
            hints(true, false, true),
        ),
        Tool::ReadRecords => (
            "Read records",
            "Read records of an Odoo model by id (Odoo read). Example: model \"res.partner\", ids [10], \
fields [\"name\", \"email\", \"country_id\"]. Many2one values come as [id, \"name\"]."
                .to_owned(),
            object(
                json!({
                    "model": model_prop(),
                    "ids": ids_prop("Record ids, e.g. [10, 11]."),
                    "fields": fields_prop()
                }),
                &["model", "ids"],
            ),
            records_output(json!({
                "remaining_ids": {"type": "array", "items": {"type": "integer"}, "description": "Ids not returned because the result was cut; read them in another call."},
                "missing_ids": {"type": "array", "items": {"type": "integer"}, "description": "Requested ids that do not exist or are not visible."}
            })),
            hints(true, false, true),
        ),
        Tool::CountRecords => (
            "Count records",
            format!(
                "Count the records of an Odoo model matching a domain (Odoo search_count). Example: \
model \"sale.order\", domain [[\"state\", \"=\", \"sale\"]]. {DOMAIN_HELP}"
            ),
            object(
                json!({"model": model_prop(), "domain": domain_prop()}),
                &["model"],
            ),
            json!({
                "type": "object",
                "properties": {"model": {"type": "string"}, "count": {"type": "integer", "minimum": 0}},
                "required": ["model", "count"]
            }),
            hints(true, false, true),
        ),
        Tool::AggregateRecords => (
            "Aggregate records",
            format!(
                "Group the records of an Odoo model and aggregate fields per group (Odoo read_group). \
Example: model \"sale.order\", group_by [\"partner_id\"], aggregates [\"amount_total:sum\"], \
order \"amount_total desc\". Date fields group by interval: \"date_order:month\" (day, week, month, \
quarter, year). Functions: sum, avg, min, max, count, count_distinct, bool_and, bool_or. Every group \
has \"__count\", its number of records. {DOMAIN_HELP}"
            ),
            object(
                json!({
                    "model": model_prop(),
                    "domain": domain_prop(),
                    "group_by": {"type": "array", "items": {"type": "string"}, "description": "Fields to group by, e.g. [\"state\"] or [\"date_order:month\"]. Empty: one group of all records."},
                    "aggregates": {"type": "array", "items": {"type": "string"}, "description": "\"field:function\" items, e.g. [\"amount_total:sum\"]."},
                    "order": {"type": "string", "description": "Group order by a group_by field, an aggregated field or __count, e.g. \"__count desc\"."},
                    "limit": limit_prop(settings)
                }),
                &["model"],
            ),
            json!({
                "type": "object",
                "properties": {
                    "model": {"type": "string"},
                    "groups": {"type": "array", "items": {"type": "object", "properties": {"__count": {"type": "integer"}}, "required": ["__count"]}},
                    "count": {"type": "integer", "minimum": 0},
                    "truncated": {"type": "boolean"},
                    "notes": {"type": "array", "items": {"type": "string"}}
                },
                "required": ["model", "groups", "count", "truncated"]
            }),
            hints(true, false, true),
        ),
        Tool::FindByName => (
            "Find records by name",
            "Find records whose display name matches a text (Odoo name_search), e.g. model \"res.partner\", \
name \"deco\". Returns ids and names; use read_records for details."
                .to_owned(),
            object(
                json!({
                    "model": model_prop(),
                    "name": {"type": "string", "description": "Text to look for in the record names (case-insensitive). Empty: any record."},
                    "limit": limit_prop(settings)
                }),
                &["model", "name"],
            ),
            json!({
                "type": "object",
                "properties": {
                    "model": {"type": "string"},
                    "matches": {"type": "array", "items": {
                        "type": "object",
                        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
                        "required": ["id", "name"]
                    }},
                    "count": {"type": "integer", "minimum": 0},
                    "notes": {"type": "array", "items": {"type": "string"}}
                },
                "required": ["model", "matches", "count"]
            }),
            hints(true, false, true),
        ),
        Tool::ListModels => (
            "List models",
            "List the Odoo models (technical name and description), optionally those whose name or \
description contains a text, e.g. filter \"partner\" or \"sale\"."
                .to_owned(),
            object(
                json!({"filter": {"type": "string", "description": "Case-insensitive text to look for in the model's technical name or description."}}),
                &[],
            ),
            json!({
                "type": "object",
                "properties": {
                    "models": {"type": "array", "items": {
                        "type": "object",
                        "properties": {"model": {"type": "string"}, "name": {"type": "string"}},
                        "required": ["model", "name"]
                    }},
                    "count": {"type": "integer", "minimum": 0},
                    "truncated": {"type": "boolean"},
                    "notes": {"type": "array", "items": {"type": "string"}}
                },
                "required": ["models", "count", "truncated"]
            }),
            hints(true, false, true),
        ),
        Tool::DescribeModel => (
            "Describe a model",
            "Describe the fields of an Odoo model: name, type, label, relation (for many2one, one2many, \
many2many), required, readonly, stored, and the choices of selection fields. Example: model \"res.partner\"."
                .to_owned(),
            object(json!({"model": model_prop()}), &["model"]),
            json!({
                "type": "object",
                "properties": {
                    "model": {"type": "string"},
                    "name": {"type": "string"},
                    "fields": {"type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "type": {"type": "string"},
                            "label": {"type": "string"},
                            "relation": {"type": "string"},
                            "required": {"type": "boolean"},
                            "readonly": {"type": "boolean"},
                            "stored": {"type": "boolean"},
                            "selection": {"type": "array", "items": {
                                "type": "object",
                                "properties": {"value": {"type": "string"}, "label": {"type": "string"}},
                                "required": ["value", "label"]
                            }},
                            "help": {"type": "string"}
                        },
                        "required": ["name", "type", "label", "required", "readonly", "stored"]
                    }},
                    "count": {"type": "integer", "minimum": 0}
                },
                "required": ["model", "fields", "count"]
            }),
            hints(true, false, true),
        ),
        Tool::CreateRecords => (
            "Create records",
            "Create records of an Odoo model (Odoo create). \"values\" is a list of objects of field \
values, one per record, e.g. model \"res.partner\", values [{\"name\": \"Acme\", \"is_company\": true}]. \
Many2one fields take an id; one2many and many2many fields take Odoo's commands, e.g. \
\"category_id\": [[6, 0, [1, 2]]]. Returns the new ids."
                .to_owned(),
            object(
                json!({
                    "model": model_prop(),
                    "values": {
                        "type": "array",
                        "minItems": 1,
                        "items": values_object("The field values of one record, e.g. {\"name\": \"Acme\"}."),
                        "description": "One object of field values per record to create, e.g. [{\"name\": \"Acme\"}]. The same written as JSON text is accepted too."
                    }
                }),
                &["model", "values"],
            ),
            json!({
                "type": "object",
                "properties": {
                    "model": {"type": "string"},
                    "ids": {"type": "array", "items": {"type": "integer"}},
                    "count": {"type": "integer", "minimum": 0}
                },
                "required": ["model", "ids", "count"]
            }),
            hints(false, false, false),
        ),
        Tool::UpdateRecords => (
            "Update records",
            "Set field values on records of an Odoo model (Odoo write). \"values\" is an object of field \
values, e.g. model \"res.partner\", ids [10], values {\"phone\": \"+32 2 123 45 67\"}."
                .to_owned(),
            object(
                json!({
                    "model": model_prop(),
                    "ids": ids_prop("Ids of the records to change."),
                    "values": values_object("The field values to set, e.g. {\"phone\": \"+32 2 123 45 67\"}. The same written as JSON text is accepted too.")
                }),
                &["model", "ids", "values"],
            ),
            json!({
                "type": "object",
                "properties": {
                    "model": {"type": "string"},
                    "ids": {"type": "array", "items": {"type": "integer"}},
                    "updated": {"type": "boolean"}
                },
                "required": ["model", "ids", "updated"]
            }),
            hints(false, true, true),
        ),
        Tool::DeleteRecords => (
            "Delete records",
            "Delete records of an Odoo model by id (Odoo unlink). This cannot be undone; to hide a record \
instead, call_method \"action_archive\". Example: model \"res.partner\", ids [42]."
                .to_owned(),
            object(
                json!({"model": model_prop(), "ids": ids_prop("Ids of the records to delete.")}),
                &["model", "ids"],
            ),
            json!({
                "type": "object",
                "properties": {
                    "model": {"type": "string"},
                    "ids": {"type": "array", "items": {"type": "integer"}},
                    "deleted": {"type": "boolean"}
                },
                "required": ["model", "ids", "deleted"]
            }),
            hints(false, true, true),
        ),
        Tool::CallMethod => (
            "Call a model method",
            "Call a public method of an Odoo model on records, e.g. model \"sale.order\", method \
\"action_confirm\", ids [12]; or model \"res.partner\", method \"action_archive\", ids [42]. \
\"args\" is a list of extra positional arguments, \"kwargs\" an object of keyword arguments. \
Private methods (starting with \"_\") and the data methods that have their own tool (read, write, \
create, unlink, search...) are refused. A method that returns nothing succeeds with result null."
                .to_owned(),
            object(
                json!({
                    "model": model_prop(),
                    "method": {"type": "string", "description": "Public method name, e.g. \"action_confirm\".", "minLength": 1, "maxLength": 64},
                    "ids": {"type": "array", "items": {"type": "integer", "minimum": 1}, "description": "Records to call the method on (empty for model-level methods)."},
                    "args": {"type": "array", "description": "Positional arguments after the records, e.g. [\"draft\"]. Default []. The same written as JSON text is accepted too."},
                    "kwargs": values_object("Keyword arguments, e.g. {\"force\": true}. Default {}. The same written as JSON text is accepted too.")
                }),
                &["model", "method"],
            ),
            json!({
                "type": "object",
                "properties": {
                    "model": {"type": "string"},
                    "method": {"type": "string"},
                    "ids": {"type": "array", "items": {"type": "integer"}},
                    "result": {
                        "description": "What the method returned (null when it returns nothing).",
                        "anyOf": [
                            {"type": "object"},
                            {"type": "array"},
                            {"type": "string"},
                            {"type": "number"},
                            {"type": "boolean"},
                            {"type": "null"}
                        ]
                    }
                },
                "required": ["model", "method", "ids", "result"]
            }),
            hints(false, true, false),
        ),
    };
    ToolDef {
        name: tool.name(),
        title,
        description,
        input_schema: input,
        output_schema: output,
        hints: hint,
    }
}

/// The enabled tools, in listing order.
pub(crate) fn tool_defs(settings: &CatalogSettings) -> Vec<ToolDef> {
    ALL.iter()
        .copied()
        .filter(|t| settings.write_tools || !t.writes())
        .map(|t| def(t, settings))
        .collect()
}
