//! A tool call parsed into a typed [`ParsedCall`]: what a policy layer checks and what the
//! executor runs (see `parser` for how a call becomes one).

use serde_json::{Map, Value};

use super::commands::NestedChange;
use super::schema::Tool;

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
    pub(crate) tool: Tool,
    pub(crate) model: Option<String>,
    pub(crate) operation: Operation,
    pub(crate) fields_read: Vec<String>,
    pub(crate) fields_written: Vec<String>,
    pub(crate) domain_fields: Vec<String>,
    pub(crate) order_fields: Vec<String>,
    pub(crate) group_by_fields: Vec<String>,
    pub(crate) method: Option<String>,
    pub(crate) ids: Vec<i64>,
    pub(crate) uses: Vec<FieldUse>,
    pub(crate) records: Option<Value>,
    pub(crate) nested: Vec<NestedChange>,
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

    pub(crate) fn use_fields<'a>(
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

    pub(crate) fn new(
        tool: Tool,
        model: Option<String>,
        operation: Operation,
        action: Action,
    ) -> Self {
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
