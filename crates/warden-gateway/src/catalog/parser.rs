//! From a tool call's arguments to a [`ParsedCall`], checked against the model's metadata before
//! anything is sent to Odoo: model names, field names, dotted paths, domains (see `filter`),
//! orders, groupings, aggregates, values and what they do to other models (see `commands`),
//! methods, ids and limits.

use serde_json::{Map, Value};

use super::args::{self, Args};
use super::commands::{Nested, Written};
use super::domain;
use super::metadata::ModelView;
use super::outcome::{hidden, invalid, odoo_error_outcome};
use super::parsed::{Action, Operation, ParsedCall, Usage};
use super::schema::{self, Tool};
use super::{CallError, Catalog, ToolOutcome, names};

/// Methods `call_method` refuses: the ORM's own data methods (they have dedicated, checked tools)
/// and environment switches.
const REFUSED_METHODS: &[&str] = &[
    "create",
    "write",
    "unlink",
    "read",
    "search",
    "search_read",
    "search_count",
    "search_fetch",
    "read_group",
    "name_search",
    "fields_get",
    "web_read",
    "web_search_read",
    "web_read_group",
    "web_save",
    "export_data",
    "load",
    "browse",
    "sudo",
    "with_user",
    "with_env",
    "with_context",
    "with_company",
];

/// Aggregate functions `aggregate_records` accepts.
const AGGREGATE_FUNCTIONS: &[&str] = &[
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "count_distinct",
    "bool_and",
    "bool_or",
];

/// Date grouping intervals.
const INTERVALS: &[&str] = &["day", "week", "month", "quarter", "year"];

/// Most sort terms in an order.
const MAX_ORDER_TERMS: usize = 10;

/// An error that ends parsing: a finished error outcome.
pub(crate) type Refusal = Box<ToolOutcome>;

pub(crate) fn refuse(message: impl Into<String>) -> Refusal {
    Box::new(invalid(message.into()))
}

pub(crate) async fn parse(
    catalog: &Catalog,
    name: &str,
    arguments: Map<String, Value>,
) -> Result<Result<ParsedCall, ToolOutcome>, CallError> {
    let settings = &catalog.inner.settings;
    let Some(tool) = Tool::from_name(name).filter(|t| settings.write_tools || !t.writes()) else {
        return Err(CallError::UnknownTool(
            name.chars().take(100).collect::<String>(),
        ));
    };
    let parser = CallParser { catalog };
    Ok(parser.parse(tool, arguments).await.map_err(|b| *b))
}

pub(crate) struct CallParser<'a> {
    pub(crate) catalog: &'a Catalog,
}

impl CallParser<'_> {
    async fn parse(
        &self,
        tool: Tool,
        arguments: Map<String, Value>,
    ) -> Result<ParsedCall, Refusal> {
        let mut args = Args::new(arguments, schema::argument_names(tool)).map_err(refuse)?;
        match tool {
            Tool::SearchRecords => self.search(&mut args).await,
            Tool::ReadRecords => self.read(&mut args).await,
            Tool::CountRecords => self.count(&mut args).await,
            Tool::AggregateRecords => self.aggregate(&mut args).await,
            Tool::FindByName => self.find_by_name(&mut args).await,
            Tool::ListModels => {
                let filter = args.opt_text("filter").map_err(refuse)?;
                Ok(ParsedCall::new(
                    tool,
                    None,
                    Operation::Metadata,
                    Action::ListModels { filter },
                ))
            }
            Tool::DescribeModel => {
                let model = self.model(&mut args).await?;
                Ok(ParsedCall::new(
                    tool,
                    Some(model),
                    Operation::Metadata,
                    Action::Describe,
                ))
            }
            Tool::CreateRecords => self.create(&mut args).await,
            Tool::UpdateRecords => self.update(&mut args).await,
            Tool::DeleteRecords => {
                let model = self.model(&mut args).await?;
                let ids = required_ids(&mut args)?;
                let mut call =
                    ParsedCall::new(tool, Some(model), Operation::Unlink, Action::Delete);
                call.ids = ids;
                call.records = self.records(&model_name(&call));
                Ok(call)
            }
            Tool::CallMethod => self.call_method(&mut args).await,
        }
    }

    /// The `model` argument: well formed and known to Odoo.
    async fn model(&self, args: &mut Args) -> Result<String, Refusal> {
        let model = args.string("model").map_err(refuse)?;
        args::check_model_name(&model).map_err(refuse)?;
        let inner = &self.catalog.inner;
        match self.catalog.model_exists(&model).await {
            // Worded the same whether the model does not exist or a rule hides it.
            Ok(false) => Err(Box::new(hidden(
                unknown_model(&model),
                self.catalog.access.model_rule(&model),
            ))),
            Ok(true) => Ok(model),
            Err(e) => Err(Box::new(odoo_error_outcome(&e, inner))),
        }
    }

    /// The fields of `model` the caller may see.
    pub(crate) async fn fields(&self, model: &str) -> Result<ModelView, Refusal> {
        self.catalog
            .model_fields(model)
            .await
            .map_err(|e| Box::new(odoo_error_outcome(&e, &self.catalog.inner)))
    }

    /// Sorting on a relation sorts by the related model's own order, which may be made of fields
    /// the key cannot read (a product's code): refused when the related model hides any field.
    async fn check_sort(&self, fields: &ModelView, names: &[String]) -> Result<(), Refusal> {
        for name in names {
            let Some(comodel) = fields
                .get(name)
                .filter(|f| f.is_relational())
                .and_then(|f| f.relation.clone())
            else {
                continue;
            };
            let related = self.fields(&comodel).await?;
            if !self.catalog.access.model_visible(&comodel) || related.hides_any() {
                return Err(refuse(format!(
                    "sorting on {name:?} sorts by fields of the related records this key may not read; sort on another field"
                )));
            }
        }
        Ok(())
    }

    /// Plain field names (no paths) of `model`.
    pub(crate) fn check_fields(
        fields: &ModelView,
        model: &str,
        names: &[String],
        what: &str,
    ) -> Result<(), Refusal> {
        for name in names {
            if !domain::is_field_name(name) {
                return Err(refuse(format!(
                    "{:?} in {what} is not a valid field name",
                    name.chars().take(60).collect::<String>()
                )));
            }
            if !fields.contains_key(name) {
                return Err(unknown(fields, model, name, name));
            }
        }
        Ok(())
    }

    /// The fields a read returns: the named ones (checked, deduplicated), or the model's
    /// stored non-binary fields.
    fn read_fields(
        fields: &ModelView,
        model: &str,
        requested: Option<Vec<String>>,
    ) -> Result<Vec<String>, Refusal> {
        match requested {
            Some(names) if !names.is_empty() => {
                Self::check_fields(fields, model, &names, "fields")?;
                let mut out: Vec<String> = Vec::with_capacity(names.len());
                for name in names {
                    if !out.contains(&name) {
                        out.push(name);
                    }
                }
                Ok(out)
            }
            _ => Ok(fields
                .iter()
                .filter(|(_, f)| f.is_default())
                .map(|(name, _)| name.clone())
                .collect()),
        }
    }

    fn limit(&self, args: &mut Args, call_notes: &mut Vec<String>) -> Result<u32, Refusal> {
        let settings = &self.catalog.inner.settings;
        let max = self
            .catalog
            .access
            .max_records()
            .map_or(settings.max_limit, |m| m.min(settings.max_limit))
            .max(1);
        match args.opt_u64("limit").map_err(refuse)? {
            None => Ok(settings.default_limit.min(max).max(1)),
            Some(0) => Err(refuse("the argument \"limit\" must be at least 1")),
            Some(n) if n > u64::from(max) => {
                call_notes.push(format!("the limit {n} was reduced to the maximum of {max}"));
                Ok(max)
            }
            Some(n) => Ok(u32::try_from(n).unwrap_or(max)),
        }
    }

    /// The access's records domain for `model`, if any.
    fn records(&self, model: &str) -> Option<Value> {
        self.catalog.access.records_domain(model)
    }

    async fn search(&self, args: &mut Args) -> Result<ParsedCall, Refusal> {
        let model = self.model(args).await?;
        let fields = self.fields(&model).await?;
        let mut uses = Vec::new();
        let records = self.records(&model);
        let checked = self
            .domain(args, &model, records.as_ref(), &mut uses)
            .await?;
        let requested = args.opt_strings("fields").map_err(refuse)?;
        let read = Self::read_fields(&fields, &model, requested)?;
        let order = match args.opt_string("order").map_err(refuse)? {
            Some(text) if !text.trim().is_empty() => {
                let mut hidden_name = None;
                let parsed = parse_order(&text, |name| match fields.get(name) {
                    None => {
                        hidden_name = Some(name.to_owned());
                        Err(unknown_field(name, &model, name))
                    }
                    Some(f) if !f.sortable => Err(format!(
                        "the field {name:?} cannot be sorted on (it is not stored)"
                    )),
                    Some(_) => Ok(()),
                });
                match (parsed, hidden_name) {
                    (Ok(order), _) => Some(order),
                    (Err(_), Some(name)) => return Err(unknown(&fields, &model, &name, &name)),
                    (Err(message), None) => return Err(refuse(message)),
                }
            }
            _ => None,
        };
        if let Some((_, names)) = &order {
            self.check_sort(&fields, names).await?;
        }
        let mut notes = Vec::new();
        let limit = self.limit(args, &mut notes)?;
        let offset = args.opt_u64("offset").map_err(refuse)?.unwrap_or(0);
        let mut call = ParsedCall::new(
            Tool::SearchRecords,
            Some(model),
            Operation::Read,
            Action::Search {
                domain: checked.value,
                order: order.as_ref().map(|o| o.0.clone()),
                limit,
                offset,
            },
        );
        call.uses = uses;
        call.use_fields(&model_name(&call), &read, Usage::Read);
        call.fields_read = read;
        call.domain_fields = checked.paths;
        call.order_fields = order.map(|o| o.1).unwrap_or_default();
        let order_fields = call.order_fields.clone();
        call.use_fields(&model_name(&call), &order_fields, Usage::Order);
        call.records = records;
        call.notes = notes;
        Ok(call)
    }

    async fn read(&self, args: &mut Args) -> Result<ParsedCall, Refusal> {
        let model = self.model(args).await?;
        let fields = self.fields(&model).await?;
        let ids = required_ids(args)?;
        let max = self
            .catalog
            .access
            .max_records()
            .map_or(self.catalog.inner.settings.max_limit, |m| {
                m.min(self.catalog.inner.settings.max_limit)
            }) as usize;
        if ids.len() > max {
            return Err(refuse(format!(
                "at most {max} ids can be read at once; {} were given",
                ids.len()
            )));
        }
        let requested = args.opt_strings("fields").map_err(refuse)?;
        let read = Self::read_fields(&fields, &model, requested)?;
        let mut call = ParsedCall::new(
            Tool::ReadRecords,
            Some(model),
            Operation::Read,
            Action::Read,
        );
        call.use_fields(&model_name(&call), &read, Usage::Read);
        call.fields_read = read;
        call.ids = ids;
        call.records = self.records(&model_name(&call));
        Ok(call)
    }

    async fn count(&self, args: &mut Args) -> Result<ParsedCall, Refusal> {
        let model = self.model(args).await?;
        let mut uses = Vec::new();
        let records = self.records(&model);
        let checked = self
            .domain(args, &model, records.as_ref(), &mut uses)
            .await?;
        let mut call = ParsedCall::new(
            Tool::CountRecords,
            Some(model),
            Operation::Read,
            Action::Count {
                domain: checked.value,
            },
        );
        call.domain_fields = checked.paths;
        call.uses = uses;
        call.records = records;
        Ok(call)
    }

    async fn aggregate(&self, args: &mut Args) -> Result<ParsedCall, Refusal> {
        let model = self.model(args).await?;
        let fields = self.fields(&model).await?;
        let mut uses = Vec::new();
        let records = self.records(&model);
        let checked = self
            .domain(args, &model, records.as_ref(), &mut uses)
            .await?;
        let group_by = args
            .opt_strings("group_by")
            .map_err(refuse)?
            .unwrap_or_default();
        let mut group_fields = Vec::new();
        for spec in &group_by {
            let (name, interval) = match spec.split_once(':') {
                Some((name, interval)) => (name, Some(interval)),
                None => (spec.as_str(), None),
            };
            Self::check_fields(&fields, &model, &[name.to_owned()], "group_by")?;
            let field = fields
                .get(name)
                .ok_or_else(|| unknown(&fields, &model, name, name))?;
            if !field.groupable {
                return Err(refuse(format!(
                    "the field {name:?} cannot be grouped by (it is not stored)"
                )));
            }
            let is_date = matches!(field.ty.as_str(), "date" | "datetime");
            match interval {
                Some(interval) if !is_date => {
                    return Err(refuse(format!(
                        "{spec:?}: an interval (':{interval}') applies to date and datetime fields only; {name:?} is a {} field",
                        field.ty
                    )));
                }
                Some(interval) if !INTERVALS.contains(&interval) => {
                    return Err(refuse(format!(
                        "{spec:?}: unknown interval {interval:?}; use one of {}",
                        INTERVALS.join(", ")
                    )));
                }
                _ => {}
            }
            if !group_fields.contains(&name.to_owned()) {
                group_fields.push(name.to_owned());
            }
        }
        let specs = args
            .opt_strings("aggregates")
            .map_err(refuse)?
            .unwrap_or_default();
        let mut aggregates = Vec::new();
        let mut aggregated = Vec::new();
        for spec in &specs {
            if spec == "__count" {
                continue;
            }
            let Some((name, function)) = spec.split_once(':') else {
                return Err(refuse(format!(
                    "{spec:?} in aggregates needs a function: write \"field:function\", e.g. \"amount_total:sum\" (functions: {})",
                    AGGREGATE_FUNCTIONS.join(", ")
                )));
            };
            Self::check_fields(&fields, &model, &[name.to_owned()], "aggregates")?;
            if !AGGREGATE_FUNCTIONS.contains(&function) {
                return Err(refuse(format!(
                    "{spec:?}: unknown aggregate function {function:?}; use one of {}",
                    AGGREGATE_FUNCTIONS.join(", ")
                )));
            }
            if fields.get(name).is_some_and(|f| !f.store) {
                return Err(refuse(format!(
                    "the field {name:?} cannot be aggregated (it is not stored)"
                )));
            }
            if aggregated.contains(&name.to_owned()) {
                return Err(refuse(format!(
                    "the field {name:?} appears twice in aggregates; aggregate each field once"
                )));
            }
            if group_fields.iter().any(|g| g == name) {
                return Err(refuse(format!(
                    "the field {name:?} is both grouped by and aggregated; drop it from one of them"
                )));
            }
            aggregated.push(name.to_owned());
            aggregates.push(format!("{name}:{function}"));
        }
        let order = match args.opt_string("order").map_err(refuse)? {
            Some(text) if !text.trim().is_empty() => Some(
                parse_order(&text, |name| {
                    if name == "__count"
                        || group_fields.iter().any(|g| g == name)
                        || aggregated.iter().any(|a| a == name)
                    {
                        Ok(())
                    } else {
                        Err(format!(
                            "groups can be sorted only by a group_by field, an aggregated field or __count; {name:?} is neither"
                        ))
                    }
                })
                .map_err(refuse)?,
            ),
            _ => None,
        };
        if let Some((_, names)) = &order {
            self.check_sort(&fields, names).await?;
        }
        let mut notes = Vec::new();
        let limit = self.limit(args, &mut notes)?;
        let mut call = ParsedCall::new(
            Tool::AggregateRecords,
            Some(model),
            Operation::Read,
            Action::Aggregate {
                domain: checked.value,
                aggregates,
                group_by,
                order: order.as_ref().map(|o| o.0.clone()),
                limit,
            },
        );
        let name = model_name(&call);
        call.uses = uses;
        call.use_fields(&name, &aggregated, Usage::Aggregate);
        call.use_fields(&name, &group_fields, Usage::GroupBy);
        call.fields_read = aggregated;
        call.domain_fields = checked.paths;
        call.group_by_fields = group_fields;
        call.order_fields = order
            .map(|o| o.1.into_iter().filter(|f| f != "__count").collect())
            .unwrap_or_default();
        let order_fields = call.order_fields.clone();
        call.use_fields(&name, &order_fields, Usage::Order);
        call.records = records;
        call.notes = notes;
        Ok(call)
    }

    async fn find_by_name(&self, args: &mut Args) -> Result<ParsedCall, Refusal> {
        let model = self.model(args).await?;
        // Not Odoo's name_search, which may match fields the key cannot read (a contact's
        // e-mail or VAT, a product's code): a search on the readable name field (`names`).
        let fields = self.fields(&model).await?;
        let native = !self.catalog.access.hides_fields();
        let search = match names::name_field(&fields) {
            Some(search) => search,
            None if native => "display_name",
            None => {
                return Err(refuse(format!(
                    "find_by_name is not available on {model} with this key (it has no name field this key may read); use search_records with a domain on fields it may read"
                )));
            }
        };
        let label = match names::label(&fields) {
            names::Label::Native => "display_name".to_owned(),
            names::Label::Field(field) => field,
            names::Label::None => search.to_owned(),
        };
        let name = args.opt_text("name").map_err(refuse)?.unwrap_or_default();
        let mut notes = Vec::new();
        let limit = self.limit(args, &mut notes)?;
        let mut call = ParsedCall::new(
            Tool::FindByName,
            Some(model),
            Operation::Read,
            Action::FindByName {
                name,
                limit,
                search: (!native).then(|| search.to_owned()),
                label: label.clone(),
            },
        );
        let name = model_name(&call);
        call.fields_read = vec![label];
        let read = call.fields_read.clone();
        call.use_fields(&name, &read, Usage::Read);
        call.use_fields(&name, &[search.to_owned()], Usage::Filter);
        call.domain_fields = vec![search.to_owned()];
        call.records = self.records(&name);
        call.notes = notes;
        Ok(call)
    }

    async fn create(&self, args: &mut Args) -> Result<ParsedCall, Refusal> {
        let model = self.model(args).await?;
        let fields = self.fields(&model).await?;
        let list = match required_structured(args, "values")? {
            Value::Array(items) => items,
            object @ Value::Object(_) => vec![object],
            other => {
                return Err(refuse(format!(
                    "\"values\" must be a list of objects, e.g. [{{\"name\": \"Acme\"}}], found {}",
                    domain::kind(&other)
                )));
            }
        };
        if list.is_empty() {
            return Err(refuse(
                "\"values\" is empty: give at least one record to create",
            ));
        }
        let max = self.catalog.inner.settings.max_limit as usize;
        if list.len() > max {
            return Err(refuse(format!(
                "at most {max} records can be created at once; {} were given",
                list.len()
            )));
        }
        let mut values = Vec::with_capacity(list.len());
        let mut written: Vec<String> = Vec::new();
        let mut nested = Nested::default();
        for (index, item) in list.into_iter().enumerate() {
            let Value::Object(map) = item else {
                return Err(refuse(format!(
                    "item {} of \"values\" must be an object of field values",
                    index + 1
                )));
            };
            let names: Vec<String> = map.keys().cloned().collect();
            Self::check_fields(&fields, &model, &names, "values")?;
            let record = Written {
                model: &model,
                view: &fields,
                values: &map,
                prefix: "",
                owners: None,
                depth: 0,
            };
            self.relations(record, &mut nested).await?;
            for name in names {
                if !written.contains(&name) {
                    written.push(name);
                }
            }
            values.push(map);
        }
        let mut call = ParsedCall::new(
            Tool::CreateRecords,
            Some(model),
            Operation::Create,
            Action::Create { values },
        );
        set_writes(&mut call, written, nested);
        Ok(call)
    }

    async fn update(&self, args: &mut Args) -> Result<ParsedCall, Refusal> {
        let model = self.model(args).await?;
        let fields = self.fields(&model).await?;
        let ids = required_ids(args)?;
        let values = match required_structured(args, "values")? {
            Value::Object(map) if !map.is_empty() => map,
            Value::Object(_) => {
                return Err(refuse(
                    "\"values\" is empty: name at least one field to set",
                ));
            }
            other => {
                return Err(refuse(format!(
                    "\"values\" must be an object of field values, e.g. {{\"phone\": \"+32 2 123 45 67\"}}, found {}",
                    domain::kind(&other)
                )));
            }
        };
        let names: Vec<String> = values.keys().cloned().collect();
        Self::check_fields(&fields, &model, &names, "values")?;
        let mut nested = Nested::default();
        let written = Written {
            model: &model,
            view: &fields,
            values: &values,
            prefix: "",
            owners: Some(&ids),
            depth: 0,
        };
        self.relations(written, &mut nested).await?;
        let mut call = ParsedCall::new(
            Tool::UpdateRecords,
            Some(model),
            Operation::Write,
            Action::Update { values },
        );
        set_writes(&mut call, names, nested);
        call.ids = ids;
        call.records = self.records(&model_name(&call));
        Ok(call)
    }

    async fn call_method(&self, args: &mut Args) -> Result<ParsedCall, Refusal> {
        let model = args.string("model").map_err(refuse)?;
        args::check_model_name(&model).map_err(refuse)?;
        let method = args.string("method").map_err(refuse)?;
        if method.starts_with('_') {
            return Err(refuse(format!(
                "{:?} is a private method (its name starts with '_'); only public methods can be called",
                method.chars().take(60).collect::<String>()
            )));
        }
        let valid = method.len() <= 64
            && method.starts_with(|c: char| c.is_ascii_alphabetic())
            && method
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(refuse(format!(
                "{:?} is not a valid method name",
                method.chars().take(60).collect::<String>()
            )));
        }
        if REFUSED_METHODS.contains(&method.as_str()) {
            return Err(refuse(format!(
                "the method {method:?} cannot be called through call_method; use the dedicated tools (search_records, read_records, count_records, aggregate_records, find_by_name, describe_model, create_records, update_records, delete_records)"
            )));
        }
        let ids = args.ids("ids").map_err(refuse)?;
        let call_args = match args.opt_structured("args").map_err(refuse)? {
            None => Vec::new(),
            Some(value) => match value {
                Value::Array(items) => items,
                other => {
                    return Err(refuse(format!(
                        "\"args\" must be a list of positional arguments, e.g. [\"draft\"], found {}",
                        domain::kind(&other)
                    )));
                }
            },
        };
        let kwargs = match args.opt_structured("kwargs").map_err(refuse)? {
            None => Map::new(),
            Some(value) => match value {
                Value::Object(map) => map,
                other => {
                    return Err(refuse(format!(
                        "\"kwargs\" must be an object of keyword arguments, e.g. {{\"force\": true}}, found {}",
                        domain::kind(&other)
                    )));
                }
            },
        };
        for key in kwargs.keys() {
            if !domain::is_field_name(key) {
                return Err(refuse(format!(
                    "{:?} is not a valid keyword argument name",
                    key.chars().take(60).collect::<String>()
                )));
            }
            // The records are named by `ids` only (they are checked against the key's records
            // domain); the context would let a call switch companies or users.
            if matches!(key.as_str(), "ids" | "args" | "context" | "self") {
                return Err(refuse(format!(
                    "the keyword argument {key:?} cannot be given: name the records with \"ids\" and the positional arguments with \"args\"; the context is set by the gateway"
                )));
            }
        }
        // The model must exist; checked last so that refused methods never reach Odoo.
        let mut model_args = Args::new(
            Map::from_iter([("model".to_owned(), Value::String(model))]),
            &["model"],
        )
        .map_err(refuse)?;
        let model = self.model(&mut model_args).await?;
        let mut call = ParsedCall::new(
            Tool::CallMethod,
            Some(model),
            Operation::Call,
            Action::Call {
                args: call_args,
                kwargs,
            },
        );
        call.method = Some(method);
        call.ids = ids;
        call.records = self.records(&model_name(&call));
        Ok(call)
    }
}

/// What a create or update writes: the fields on the call's model, and what its relational
/// values do to other models (the fields they set recorded as writes on their own models).
fn set_writes(call: &mut ParsedCall, fields: Vec<String>, nested: Nested) {
    call.use_fields(&model_name(call), &fields, Usage::Write);
    call.uses.extend(nested.uses);
    call.nested = nested.changes;
    call.fields_written = fields;
}

pub(crate) fn model_name(call: &ParsedCall) -> String {
    call.model.clone().unwrap_or_default()
}

/// A structured argument the tool requires (see [`Args::opt_structured`]).
fn required_structured(args: &mut Args, name: &str) -> Result<Value, Refusal> {
    args.opt_structured(name)
        .map_err(refuse)?
        .ok_or_else(|| refuse(format!("the argument {name:?} is required")))
}

fn required_ids(args: &mut Args) -> Result<Vec<i64>, Refusal> {
    let ids = args.ids("ids").map_err(refuse)?;
    if ids.is_empty() {
        return Err(refuse(
            "the argument \"ids\" is required: give at least one record id, e.g. [10]",
        ));
    }
    Ok(ids)
}

/// The refusal of `name` (in `path`), which is not a field of `model` as the caller sees it
/// (`view`): worded the same whether it does not exist or a rule hides it, the rule kept for
/// the audit log in the second case.
pub(crate) fn unknown(view: &ModelView, model: &str, name: &str, path: &str) -> Refusal {
    Box::new(hidden(
        unknown_field(name, model, path),
        view.denial(model, name),
    ))
}

fn unknown_model(model: &str) -> String {
    format!(
        "unknown model {model:?}; use list_models to find the technical name (e.g. \"res.partner\" for contacts)"
    )
}

pub(crate) fn unknown_field(name: &str, model: &str, path: &str) -> String {
    let shown: String = name.chars().take(60).collect();
    let mut message = format!(
        "unknown field {shown:?} on {model} (it does not exist, or the Odoo user behind this key may not read it); use describe_model to list the fields"
    );
    if path != name {
        message.push_str(&format!(
            " (in {:?})",
            path.chars().take(120).collect::<String>()
        ));
    }
    message
}

/// Parse an order like `name asc, id desc`: `(normalised order, field names)`. `check` vets
/// each field name.
fn parse_order(
    text: &str,
    mut check: impl FnMut(&str) -> Result<(), String>,
) -> Result<(String, Vec<String>), String> {
    let terms: Vec<&str> = text.split(',').map(str::trim).collect();
    if terms.len() > MAX_ORDER_TERMS {
        return Err(format!("the order has more than {MAX_ORDER_TERMS} terms"));
    }
    let mut normalised = Vec::with_capacity(terms.len());
    let mut fields = Vec::with_capacity(terms.len());
    for term in terms {
        let words: Vec<&str> = term.split_whitespace().collect();
        let (name, direction) = match words.as_slice() {
            [name] => (*name, "asc"),
            [name, direction] => {
                let lower = direction.to_ascii_lowercase();
                match lower.as_str() {
                    "asc" => (*name, "asc"),
                    "desc" => (*name, "desc"),
                    _ => {
                        return Err(format!(
                            "invalid order {:?}: the direction must be asc or desc, found {:?}",
                            text.chars().take(120).collect::<String>(),
                            direction.chars().take(30).collect::<String>()
                        ));
                    }
                }
            }
            _ => {
                return Err(format!(
                    "invalid order {:?}: write \"field [asc|desc], ...\", e.g. \"name asc, id desc\"",
                    text.chars().take(120).collect::<String>()
                ));
            }
        };
        if !domain::is_field_name(name) {
            return Err(format!(
                "invalid order {:?}: {:?} is not a field name",
                text.chars().take(120).collect::<String>(),
                name.chars().take(60).collect::<String>()
            ));
        }
        check(name)?;
        normalised.push(format!("{name} {direction}"));
        fields.push(name.to_owned());
    }
    Ok((normalised.join(", "), fields))
}
