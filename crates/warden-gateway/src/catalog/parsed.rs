//! A tool call parsed into a typed [`ParsedCall`] and checked against the model's metadata before
//! anything is sent to Odoo: model names, field names, dotted paths, domains, orders, groupings,
//! aggregates, values, methods, ids and limits.

use serde_json::{Map, Value};

use super::args::{self, Args};
use super::commands::{self, NestedChange};
use super::domain::{self, CheckedDomain, restrict};
use super::metadata::{FieldInfo, ModelView};
use super::outcome::{invalid, odoo_error_outcome};
use super::schema::{self, Tool};
use super::{CallError, Catalog, ToolOutcome};
use super::{names, scope};

/// What a call does to Odoo data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Reads records (search, read, count, aggregate, name search).
    Read,
    /// Reads model metadata only (list of models, a model's fields).
    Metadata,
    /// Creates records.
    Create,
    /// Changes records.
    Write,
    /// Deletes records.
    Unlink,
    /// Calls a public model method.
    Call,
    /// Refers to existing records (a many2one value, a many2many link): they must be visible.
    Link,
}

/// How a call uses a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Usage {
    /// Its value is returned.
    Read,
    /// Its value is set.
    Write,
    /// A domain filters on it.
    Filter,
    /// The result is sorted on it.
    Order,
    /// The result is grouped by it.
    GroupBy,
    /// It is aggregated (sum, average...).
    Aggregate,
}

/// One field a call touches, on the model that has it: a dotted path such as
/// `partner_id.email` on `sale.order` gives `sale.order.partner_id` and `res.partner.email`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldUse {
    /// The model that has the field.
    pub model: String,
    /// The field's name.
    pub field: String,
    /// How the call uses it.
    pub usage: Usage,
}

/// A tool call after parsing and validation, before execution. A policy layer can check
/// everything the call touches through the accessors; [`super::Catalog::execute`] runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedCall {
    tool: Tool,
    model: Option<String>,
    operation: Operation,
    fields_read: Vec<String>,
    fields_written: Vec<String>,
    domain_fields: Vec<String>,
    order_fields: Vec<String>,
    group_by_fields: Vec<String>,
    method: Option<String>,
    ids: Vec<i64>,
    uses: Vec<FieldUse>,
    records: Option<Value>,
    nested: Vec<NestedChange>,
    pub(crate) notes: Vec<String>,
    pub(crate) action: Action,
}

impl ParsedCall {
    /// The tool's name.
    pub fn tool(&self) -> &'static str {
        self.tool.name()
    }
    /// The model the call works on (`None` for `list_models`).
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }
    /// What the call does.
    pub fn operation(&self) -> Operation {
        self.operation
    }
    /// The fields whose values the call returns (for a search without `fields`, the model's
    /// stored fields the catalog asks for).
    pub fn fields_read(&self) -> &[String] {
        &self.fields_read
    }
    /// The fields the call sets (create, update).
    pub fn fields_written(&self) -> &[String] {
        &self.fields_written
    }
    /// The field paths the domain filters on (e.g. `country_id.code`).
    pub fn domain_fields(&self) -> &[String] {
        &self.domain_fields
    }
    /// The fields the call sorts on.
    pub fn order_fields(&self) -> &[String] {
        &self.order_fields
    }
    /// The fields the call groups by.
    pub fn group_by_fields(&self) -> &[String] {
        &self.group_by_fields
    }
    /// The method called (`call_method` only).
    pub fn method(&self) -> Option<&str> {
        self.method.as_deref()
    }
    /// Whether the call changes data (create, update, delete, call a method).
    pub fn changes_data(&self) -> bool {
        matches!(
            self.operation,
            Operation::Create | Operation::Write | Operation::Unlink | Operation::Call
        )
    }
    /// The record ids named by the call.
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }
    /// Every field the call touches, each on its own model, with how it is used.
    pub fn field_uses(&self) -> &[FieldUse] {
        &self.uses
    }
    /// What the call's relational values do to records of other models (create and update):
    /// records created, changed, deleted or linked through one2many, many2many and many2one
    /// fields. Each is checked as that operation on that model.
    pub fn nested_changes(&self) -> &[NestedChange] {
        &self.nested
    }
    /// Number of records the call creates (create only).
    pub fn records_created(&self) -> usize {
        match &self.action {
            Action::Create { values } => values.len(),
            _ => 0,
        }
    }
    /// The Odoo method the call runs (`search_read`, `read`, `write`, a public method...).
    pub fn odoo_method(&self) -> &str {
        match &self.action {
            Action::Search { .. } | Action::ListModels { .. } => "search_read",
            Action::Read => "read",
            Action::Count { .. } => "search_count",
            Action::Aggregate { .. } => "read_group",
            Action::FindByName { search: None, .. } => "name_search",
            Action::FindByName { .. } => "search_read",
            Action::Describe => "fields_get",
            Action::Create { .. } => "create",
            Action::Update { .. } => "write",
            Action::Delete => "unlink",
            Action::Call { .. } => self.method.as_deref().unwrap_or(""),
        }
    }
    /// The records domain the access restricts this call to (already part of the call's
    /// search domain; records named by id are checked against it before execution).
    pub(crate) fn records_domain(&self) -> Option<&Value> {
        self.records.as_ref()
    }

    fn use_fields<'a>(
        &mut self,
        model: &str,
        names: impl IntoIterator<Item = &'a String>,
        usage: Usage,
    ) {
        for name in names {
            self.uses.push(FieldUse {
                model: model.to_owned(),
                field: name.clone(),
                usage,
            });
        }
    }

    fn new(tool: Tool, model: Option<String>, operation: Operation, action: Action) -> Self {
        Self {
            tool,
            model,
            operation,
            fields_read: Vec::new(),
            fields_written: Vec::new(),
            domain_fields: Vec::new(),
            order_fields: Vec::new(),
            group_by_fields: Vec::new(),
            method: None,
            ids: Vec::new(),
            uses: Vec::new(),
            records: None,
            nested: Vec::new(),
            notes: Vec::new(),
            action,
        }
    }
}

/// The tool-specific part of a call, ready for Odoo.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    Search {
        domain: Value,
        order: Option<String>,
        limit: u32,
        offset: u64,
    },
    Read,
    Count {
        domain: Value,
    },
    Aggregate {
        domain: Value,
        aggregates: Vec<String>,
        group_by: Vec<String>,
        order: Option<String>,
        limit: u32,
    },
    FindByName {
        name: String,
        limit: u32,
        /// The readable name field searched; `None`: Odoo's own name search (the key's rules
        /// hide no field).
        search: Option<String>,
        /// The field shown as each match's name.
        label: String,
    },
    ListModels {
        filter: Option<String>,
    },
    Describe,
    Create {
        values: Vec<Map<String, Value>>,
    },
    Update {
        values: Map<String, Value>,
    },
    Delete,
    Call {
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    },
}

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
type Refusal = Box<ToolOutcome>;

/// What the relational values of a create or update do to other models.
#[derive(Default)]
struct Nested {
    changes: Vec<NestedChange>,
    uses: Vec<FieldUse>,
}

/// One segment of a field path, on the model that has it.
struct Step {
    model: String,
    field: String,
    info: FieldInfo,
    /// Whether the caller's profile hides fields of `model`.
    restricted: bool,
}

fn refuse(message: impl Into<String>) -> Refusal {
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

struct CallParser<'a> {
    catalog: &'a Catalog,
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
            Ok(false) => Err(refuse(format!(
                "unknown model {model:?}; use list_models to find the technical name (e.g. \"res.partner\" for contacts)"
            ))),
            Ok(true) => Ok(model),
            Err(e) => Err(Box::new(odoo_error_outcome(&e, inner))),
        }
    }

    /// The fields of `model` the caller may see.
    async fn fields(&self, model: &str) -> Result<ModelView, Refusal> {
        self.catalog
            .model_fields(model)
            .await
            .map_err(|e| Box::new(odoo_error_outcome(&e, &self.catalog.inner)))
    }

    /// Follow a dotted path through relational fields: each segment with the model that has it
    /// and its metadata, as the caller sees them.
    async fn steps(&self, model: &str, path: &str) -> Result<Vec<Step>, Refusal> {
        domain::check_path_syntax(path).map_err(refuse)?;
        let segments: Vec<&str> = path.split('.').collect();
        let mut current = model.to_owned();
        let mut out: Vec<Step> = Vec::with_capacity(segments.len());
        for (index, segment) in segments.iter().enumerate() {
            let fields = self.fields(&current).await?;
            let Some(field) = fields.get(segment) else {
                return Err(refuse(unknown_field(segment, &current, path)));
            };
            let next = field.relation.clone().filter(|_| field.is_relational());
            out.push(Step {
                model: current.clone(),
                field: (*segment).to_owned(),
                info: field.clone(),
                restricted: fields.hides_any(),
            });
            if index + 1 == segments.len() {
                break;
            }
            match next {
                Some(relation) => current = relation,
                None => {
                    return Err(refuse(format!(
                        "in {path:?}, {segment:?} is a {} field of {current}, not a relation; only many2one, one2many and many2many fields can be followed with '.' (segment {})",
                        field.ty,
                        index + 1
                    )));
                }
            }
        }
        Ok(out)
    }

    /// Parse and check a `domain` argument; its conditions are resolved on `model` (each
    /// segment recorded in `uses`), name searches rewritten to the readable name fields
    /// ([`names`]) and relations scoped to the records domains of the models they reach
    /// ([`scope`]). The access's records domain of `model` is ANDed to the returned value.
    async fn domain(
        &self,
        args: &mut Args,
        model: &str,
        records: Option<&Value>,
        uses: &mut Vec<FieldUse>,
    ) -> Result<CheckedDomain, Refusal> {
        let value = args
            .opt_structured("domain")
            .map_err(refuse)?
            .unwrap_or_else(|| Value::Array(Vec::new()));
        let checked = domain::check(&value).map_err(refuse)?;
        let items = match checked.value {
            Value::Array(items) => items,
            _ => Vec::new(),
        };
        let mut out = Vec::with_capacity(items.len());
        let mut paths = Vec::with_capacity(checked.paths.len());
        for item in items {
            match item {
                Value::Array(leaf) => {
                    out.extend(self.condition(model, &leaf, uses, &mut paths).await?);
                }
                operator => out.push(operator),
            }
        }
        let mut value = Value::Array(out);
        if let Some(records) = records {
            value = restrict(records.clone(), value);
        }
        Ok(CheckedDomain { value, paths })
    }

    /// One condition `[path, op, value]` of a domain on `model`, as the items that replace it.
    async fn condition(
        &self,
        model: &str,
        leaf: &[Value],
        uses: &mut Vec<FieldUse>,
        paths: &mut Vec<String>,
    ) -> Result<Vec<Value>, Refusal> {
        let [path, op, value] = leaf else {
            return Err(refuse("a condition is a (field, operator, value) triple"));
        };
        let (Some(path), Some(op)) = (path.as_str(), op.as_str()) else {
            return Err(refuse("a condition's field and operator are strings"));
        };
        let steps = self.steps(model, path).await?;
        let last = steps.last().ok_or_else(|| refuse("an empty field path"))?;
        let prefix: Vec<&str> = steps[..steps.len() - 1]
            .iter()
            .map(|s| s.field.as_str())
            .collect();
        // Conditions Odoo would answer with a name search: on the readable name field instead.
        let name_of = |view: &ModelView, what: &str| {
            names::name_field(view).ok_or_else(|| {
                refuse(format!(
                    "{path:?} cannot be compared with a name with this key ({what} has no name field it may read); compare it with record ids"
                ))
            })
        };
        let rewrite = self.catalog.access.hides_fields();
        let conditions: Vec<Value> = if !rewrite {
            vec![Value::Array(leaf.to_vec())]
        } else if last.field == "display_name" {
            let view = self.fields(&last.model).await?;
            let name = name_of(&view, &last.model)?;
            let mut renamed = prefix.clone();
            renamed.push(name);
            names::rewrite(&renamed.join("."), op, value).ok_or_else(|| {
                refuse(format!(
                    "the operator {op:?} does not apply to display_name; compare names with =, in, like or ilike"
                ))
            })?
        } else if let (true, Some(comodel)) = (last.info.is_relational(), &last.info.relation) {
            match names::relational_use(op, value).map_err(refuse)? {
                names::RelationalUse::Ids => vec![Value::Array(leaf.to_vec())],
                names::RelationalUse::Names => {
                    let view = self.fields(comodel).await?;
                    let name = name_of(&view, &last.field)?;
                    let renamed = format!("{path}.{name}");
                    names::rewrite(&renamed, op, value).ok_or_else(|| {
                        refuse(format!(
                            "{op:?} with a name is not supported on {path:?}: give record ids, e.g. [{path:?}, {op:?}, 42]"
                        ))
                    })?
                }
            }
        } else {
            vec![Value::Array(leaf.to_vec())]
        };
        let mut out = Vec::with_capacity(conditions.len());
        for item in conditions {
            let Value::Array(leaf) = item else {
                out.push(item);
                continue;
            };
            let (Some(path), Some(op), Some(value)) = (
                leaf.first().and_then(Value::as_str),
                leaf.get(1).and_then(Value::as_str),
                leaf.get(2),
            ) else {
                return Err(refuse("a condition is a (field, operator, value) triple"));
            };
            let steps = self.steps(model, path).await?;
            for step in &steps {
                if step.restricted && step.info.is_opaque() {
                    return Err(refuse(format!(
                        "the field {:?} of {} cannot be used in a filter with this key: Odoo searches it with code of its own, which may look at fields this key may not read",
                        step.field, step.model
                    )));
                }
                uses.push(FieldUse {
                    model: step.model.clone(),
                    field: step.field.clone(),
                    usage: Usage::Filter,
                });
            }
            let (last, hops) = steps
                .split_last()
                .ok_or_else(|| refuse("an empty field path"))?;
            if !last.info.searchable {
                return Err(refuse(format!(
                    "the field {path:?} cannot be used in a domain (it is computed and not searchable)"
                )));
            }
            let hops: Vec<scope::Hop> = hops
                .iter()
                .map(|step| scope::Hop {
                    segment: step.field.clone(),
                    records: step
                        .info
                        .relation
                        .as_deref()
                        .and_then(|r| self.catalog.access.records_domain(r)),
                })
                .collect();
            paths.push(path.to_owned());
            out.push(scope::scoped(&hops, &last.field, op, value));
        }
        Ok(out)
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
    fn check_fields(
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
                return Err(refuse(unknown_field(name, model, name)));
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
            Some(text) if !text.trim().is_empty() => Some(
                parse_order(&text, |name| match fields.get(name) {
                    None => Err(unknown_field(name, &model, name)),
                    Some(f) if !f.sortable => Err(format!(
                        "the field {name:?} cannot be sorted on (it is not stored)"
                    )),
                    Some(_) => Ok(()),
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
                .ok_or_else(|| refuse(unknown_field(name, &model, name)))?;
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
            self.relations(&model, &fields, &map, "", None, 0, &mut nested)
                .await?;
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
        call.use_fields(&model_name(&call), &written, Usage::Write);
        call.uses.extend(nested.uses);
        call.nested = nested.changes;
        call.fields_written = written;
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
        self.relations(&model, &fields, &values, "", Some(&ids), 0, &mut nested)
            .await?;
        let mut call = ParsedCall::new(
            Tool::UpdateRecords,
            Some(model),
            Operation::Write,
            Action::Update { values },
        );
        call.use_fields(&model_name(&call), &names, Usage::Write);
        call.uses.extend(nested.uses);
        call.nested = nested.changes;
        call.fields_written = names;
        call.ids = ids;
        call.records = self.records(&model_name(&call));
        Ok(call)
    }

    /// The relational values among `values` (of `model`, seen as `view`) as the changes they
    /// make on other models ([`commands`]), recursively through the values of create and update
    /// commands; the fields those set are recorded as writes on their own models.
    fn relations<'a>(
        &'a self,
        model: &'a str,
        view: &'a ModelView,
        values: &'a Map<String, Value>,
        prefix: &'a str,
        owners: Option<&'a [i64]>,
        depth: usize,
        nested: &'a mut Nested,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Refusal>> + Send + 'a>> {
        Box::pin(async move {
            for (name, value) in values {
                let Some(field) = view.get(name) else {
                    continue;
                };
                let via = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                let unseen = |_comodel: &str| {
                    refuse(format!(
                        "{via:?} of {model} refers to records of a model this key cannot see; leave it out"
                    ))
                };
                let comodel = match (field.ty.as_str(), field.relation.as_deref()) {
                    ("many2one" | "one2many" | "many2many", Some(comodel)) => comodel.to_owned(),
                    ("reference", _) => {
                        // "model,id": a record of any model.
                        let Some((target, id)) = value.as_str().and_then(|v| v.split_once(','))
                        else {
                            continue;
                        };
                        let id = id.trim().parse::<i64>().map_err(|_| {
                            refuse(format!(
                                "{via:?} takes \"model,id\", e.g. \"res.partner,10\""
                            ))
                        })?;
                        if !self.catalog.access.model_visible(target) {
                            return Err(unseen(target));
                        }
                        nested.changes.push(NestedChange {
                            via,
                            model: target.to_owned(),
                            operation: Operation::Link,
                            ids: vec![id],
                            member_of: None,
                        });
                        continue;
                    }
                    _ => continue,
                };
                if field.ty == "many2one" {
                    match value {
                        Value::Null | Value::Bool(false) => continue,
                        Value::Number(n) if n.as_i64().is_some_and(|id| id > 0) => {
                            if !self.catalog.access.model_visible(&comodel) {
                                return Err(unseen(&comodel));
                            }
                            nested.changes.push(NestedChange {
                                via,
                                model: comodel,
                                operation: Operation::Link,
                                ids: n.as_i64().into_iter().collect(),
                                member_of: None,
                            });
                            continue;
                        }
                        _ => {
                            return Err(refuse(format!(
                                "{via:?} takes a record id (or false), found {}",
                                domain::kind(value)
                            )));
                        }
                    }
                }
                if !self.catalog.access.model_visible(&comodel) {
                    return Err(unseen(&comodel));
                }
                let list = commands::parse(&via, value).map_err(refuse)?;
                let inverse = (field.ty == "one2many")
                    .then(|| field.inverse.as_deref())
                    .flatten();
                if field.ty == "one2many" && inverse.is_none() {
                    return Err(refuse(format!(
                        "{via:?} cannot be written with this key (Odoo does not say which records it holds)"
                    )));
                }
                let relation = commands::Relation {
                    via: &via,
                    comodel: &comodel,
                    inverse,
                    restricted: self.catalog.access.records_domain(&comodel).is_some(),
                    scoped: self.catalog.access.records_domain(model).is_some(),
                    owners,
                };
                for command in &list {
                    let changes = commands::changes(relation, command).map_err(refuse)?;
                    nested.changes.extend(changes);
                    let (vals, record) = match command {
                        commands::Command::Create(vals) => (vals, None),
                        commands::Command::Update(id, vals) => (vals, Some(*id)),
                        _ => continue,
                    };
                    if depth + 1 >= commands::MAX_DEPTH {
                        return Err(refuse(format!(
                            "{via:?}: commands nest more than {} levels deep",
                            commands::MAX_DEPTH
                        )));
                    }
                    let comodel_view = self.fields(&comodel).await?;
                    let names: Vec<String> = vals.keys().cloned().collect();
                    Self::check_fields(&comodel_view, &comodel, &names, &via)?;
                    for name in names {
                        nested.uses.push(FieldUse {
                            model: comodel.clone(),
                            field: name,
                            usage: Usage::Write,
                        });
                    }
                    let record = record.map(|id| vec![id]);
                    self.relations(
                        &comodel,
                        &comodel_view,
                        vals,
                        &via,
                        record.as_deref(),
                        depth + 1,
                        nested,
                    )
                    .await?;
                }
            }
            Ok(())
        })
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

fn model_name(call: &ParsedCall) -> String {
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

fn unknown_field(name: &str, model: &str, path: &str) -> String {
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
    check: impl Fn(&str) -> Result<(), String>,
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
