//! The Odoo tool catalog: the MCP tools, resources and prompts odoo-warden offers over Odoo, with
//! their JSON Schemas, argument parsing and validation, the cached model metadata and the calls to
//! Odoo through [`warden_odoo::OdooClient`].
//!
//! The API speaks plain Rust types and [`serde_json::Value`]; the MCP dispatcher maps it to the
//! wire. A tool call is first parsed into a [`ParsedCall`] (model, operation, every field read,
//! written, filtered, sorted or grouped on, the method and the ids), checked against the model's
//! metadata, and only then executed: a policy layer can inspect the parsed call in between with
//! [`Catalog::parse_call`] and [`Catalog::execute`].

mod args;
mod commands;
mod domain;
mod exec;
mod filter;
mod literal;
mod metadata;
mod names;
mod outcome;
mod parsed;
mod parser;
mod prompts;
mod resources;
pub use resources::Completed;
mod schema;
mod scope;
mod taint;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use schema::Tool;

pub use commands::NestedChange;
pub use parsed::{FieldUse, Operation, ParsedCall, Usage};

/// What one caller may see and do, as the catalog asks it. The gateway answers from the key's
/// policy profile; [`Unrestricted`] answers yes to everything (embedding behind other checks,
/// tests).
///
/// The catalog applies it everywhere: models that are not visible do not exist for the caller
/// (tools, resources, completions, prompts), fields that may not be read are absent from the
/// model's metadata (so they are refused as unknown in fields, domains, orders, groupings,
/// aggregates, dotted paths and values, and never returned), every parsed call goes through
/// [`Access::check`] before it reaches Odoo, and the records domain restricts every search and
/// every record named by id.
pub trait Access: Send + Sync {
    /// Whether the model exists for the caller.
    fn model_visible(&self, model: &str) -> bool;
    /// Whether the caller's rules let it see the field (its value, its metadata, its use in a
    /// filter). The catalog also hides the fields Odoo derives from one the rules hide.
    fn field_readable(&self, model: &str, field: &str) -> bool;
    /// Whether a readable field stays visible although Odoo derives it from a hidden one
    /// (default: no).
    fn derived_allowed(&self, _model: &str, _field: &str) -> bool {
        false
    }
    /// The rule that hides `model` from the caller, as the audit log records it (`None`: no
    /// rule does, or the access cannot say).
    fn model_rule(&self, _model: &str) -> Option<String> {
        None
    }
    /// The rule that makes `field` of `model` unreadable, as the audit log records it.
    fn field_rule(&self, _model: &str, _field: &str) -> Option<String> {
        None
    }
    /// Whether the caller's rules hide some field somewhere. When they hide none, Odoo's own
    /// name search (which may match any field of a record) cannot reveal anything hidden and
    /// runs as Odoo runs it; otherwise names are searched on readable name fields only.
    fn hides_fields(&self) -> bool {
        false
    }
    /// Whether the operation is allowed on at least one model (tools no model allows are not
    /// listed).
    fn operation_possible(&self, operation: Operation) -> bool;
    /// The domain (a JSON list) every search is restricted to and every record named by id must
    /// match, if any.
    fn records_domain(&self, model: &str) -> Option<Value>;
    /// Most records one call may return, if less than the catalog's own maximum.
    fn max_records(&self) -> Option<u32>;
    /// The decision on a parsed call, before anything reaches Odoo.
    fn check(&self, call: &ParsedCall) -> Result<(), Denied>;
}

/// A call the caller's access refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// `forbidden` or `rate_limited`.
    pub kind: &'static str,
    /// For the agent: what was refused and what it can do instead.
    pub message: String,
    /// For the audit log: the rule that refused it.
    pub rule: String,
}

/// Access that allows everything the Odoo user itself may do.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unrestricted;

impl Access for Unrestricted {
    fn model_visible(&self, _model: &str) -> bool {
        true
    }
    fn field_readable(&self, _model: &str, _field: &str) -> bool {
        true
    }
    fn operation_possible(&self, _operation: Operation) -> bool {
        true
    }
    fn records_domain(&self, _model: &str) -> Option<Value> {
        None
    }
    fn max_records(&self) -> Option<u32> {
        None
    }
    fn check(&self, _call: &ParsedCall) -> Result<(), Denied> {
        Ok(())
    }
}

/// Parse a value written as JSON or as a Python literal (`True`, `None`, tuples, single quotes),
/// as the tools accept `values`, `args` and `kwargs`. No evaluation: literals only.
pub fn parse_literal(text: &str) -> Result<Value, String> {
    literal::parse(text).map_err(|e| e.to_string())
}

/// Parse and check a domain (JSON or Python-literal form) as the tools do: the field path of
/// every condition, in order (e.g. `partner_id.email`).
pub fn domain_field_paths(text: &str) -> Result<Vec<String>, String> {
    domain::parse(text).map(|checked| checked.paths)
}

/// Whether the tool named `name` changes data (create, update, delete, call a method).
pub fn tool_writes(name: &str) -> bool {
    Tool::from_name(name).is_some_and(Tool::writes)
}

/// The tool error outcome for a call the access refused.
pub fn denied_outcome(denied: &Denied) -> ToolOutcome {
    outcome::denied_outcome(denied)
}

/// A tool error outcome of kind `kind` with `message`.
pub fn refused_outcome(kind: &str, message: &str) -> ToolOutcome {
    outcome::error_outcome(kind, message, None)
}

/// Limits and switches of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogSettings {
    /// Records returned when a call names no limit (default 80).
    pub default_limit: u32,
    /// Largest number of records per call; a larger limit is clamped, with a note (default 500).
    pub max_limit: u32,
    /// Largest structured result in bytes of JSON; beyond, rows are cut and the result says which
    /// `offset` fetches the next page (default 256 KiB).
    pub max_result_bytes: usize,
    /// Whether the tools that change data (create, update, delete, call_method) are offered
    /// (default false: they are neither listed nor accepted).
    pub write_tools: bool,
    /// How long model metadata (the model list, each model's fields) is kept (default 300 s).
    pub metadata_ttl: Duration,
}

impl Default for CatalogSettings {
    fn default() -> Self {
        Self {
            default_limit: 80,
            max_limit: 500,
            max_result_bytes: 256 * 1024,
            write_tools: false,
            metadata_ttl: Duration::from_secs(300),
        }
    }
}

/// The tool catalog over one Odoo connection, as seen through one [`Access`]. Cheap to clone
/// (`Arc`s inside); [`Catalog::with_access`] gives the same connection and metadata cache under
/// another access.
#[derive(Clone)]
pub struct Catalog {
    inner: Arc<Inner>,
    access: Arc<dyn Access>,
    /// The hidden fields of each model under `access` (derived ones included).
    taint: Arc<taint::TaintCache>,
}

struct Inner {
    odoo: warden_odoo::OdooClient,
    settings: CatalogSettings,
    metadata: metadata::MetadataCache,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("odoo", &self.inner.odoo)
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

/// A tool as listed to MCP clients.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDef {
    /// Unique name, e.g. `search_records`.
    pub name: &'static str,
    /// Human-readable title.
    pub title: &'static str,
    /// What the tool does, with examples of its arguments.
    pub description: String,
    /// JSON Schema of the arguments (strict: every property typed, no extra properties).
    pub input_schema: Value,
    /// JSON Schema of the structured result of a successful call.
    pub output_schema: Value,
    /// Behaviour hints.
    pub hints: ToolHints,
}

/// MCP tool annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolHints {
    /// The tool does not change anything.
    pub read_only: bool,
    /// The tool may destroy or overwrite data.
    pub destructive: bool,
    /// Calling the tool twice with the same arguments has no further effect.
    pub idempotent: bool,
    /// The tool reaches beyond the Odoo database (always false).
    pub open_world: bool,
}

/// The result of a tool call. Tool-level failures (bad arguments, a policy refusal, Odoo refusing)
/// are outcomes too, with a [`ToolError`] and a clear, actionable `text`.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutcome {
    /// What the caller reads: a one-line summary then the structured result as compact JSON, or
    /// the error, its kind and a hint.
    pub text: String,
    /// On success, the structured result (a JSON object matching the tool's output schema); on
    /// failure, the error. An error has no structured result: MCP clients validate
    /// `structuredContent` against the output schema, which describes success only.
    pub result: Result<Value, ToolError>,
}

impl ToolOutcome {
    /// Whether the call failed.
    pub fn is_error(&self) -> bool {
        self.result.is_err()
    }

    /// The structured result of a successful call.
    pub fn structured(&self) -> Option<&Value> {
        self.result.as_ref().ok()
    }

    /// The error of a failed call.
    pub fn error(&self) -> Option<&ToolError> {
        self.result.as_ref().err()
    }

    /// The kind of the error of a failed call.
    pub fn error_kind(&self) -> Option<&str> {
        self.error().map(|e| e.kind.as_str())
    }
}

/// Why a tool call failed, for machines: the kind (`invalid_arguments`, `forbidden`,
/// `access_error`, ...), the message and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError {
    /// A stable, machine-readable name of the failure (see docs/clients.md).
    pub kind: String,
    /// What went wrong, for the agent.
    pub message: String,
    /// What the agent can do instead, if anything.
    pub hint: Option<String>,
    /// The policy rule that refused the call, when one did although the caller is told only
    /// that a name is unknown (a hidden model or field): for the audit log, never sent.
    pub rule: Option<String>,
}

/// A resource template (`odoo://{model}/{id}`, `odoo://{model}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceTemplateDef {
    /// RFC 6570 URI template.
    pub uri_template: String,
    /// Unique name.
    pub name: String,
    /// Human-readable title.
    pub title: String,
    /// What the resource holds.
    pub description: String,
    /// MIME type of the contents.
    pub mime_type: String,
}

/// A concrete resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceDef {
    /// The resource's URI.
    pub uri: String,
    /// Unique name.
    pub name: String,
    /// Human-readable title.
    pub title: String,
    /// What the resource holds.
    pub description: String,
    /// MIME type of the contents.
    pub mime_type: String,
}

/// The contents of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceContent {
    /// The URI that was read.
    pub uri: String,
    /// MIME type of `text`.
    pub mime_type: String,
    /// The contents.
    pub text: String,
}

/// A prompt as listed to MCP clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptDef {
    /// Unique name.
    pub name: String,
    /// Human-readable title.
    pub title: String,
    /// What the prompt does.
    pub description: String,
    /// Its arguments.
    pub arguments: Vec<PromptArgumentDef>,
}

/// One argument of a prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptArgumentDef {
    /// Argument name.
    pub name: String,
    /// What to pass.
    pub description: String,
    /// Whether it must be given.
    pub required: bool,
}

/// Who speaks a prompt message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The user.
    User,
    /// The assistant.
    Assistant,
}

/// A prompt filled with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptContent {
    /// What the prompt does.
    pub description: String,
    /// The messages, in order.
    pub messages: Vec<(Role, String)>,
}

/// Protocol-level errors of the catalog (the dispatcher maps them to JSON-RPC errors).
/// Failures of a tool call are not errors: they are [`ToolOutcome`]s with `is_error` set.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// No such tool, or the tool is disabled.
    #[error("unknown tool: {0}")]
    UnknownTool(String),
    /// No such prompt.
    #[error("unknown prompt: {0}")]
    UnknownPrompt(String),
    /// A prompt argument is missing or invalid.
    #[error("invalid prompt arguments: {0}")]
    InvalidPromptArguments(String),
    /// The resource does not exist.
    #[error("resource not found: {0}")]
    ResourceNotFound(String),
    /// The URI is not one of the catalog's resource URIs.
    #[error("invalid resource uri: {0}")]
    InvalidUri(String),
    /// The contents are larger than the result size limit.
    #[error("result too large: {0}")]
    ResultTooLarge(String),
    /// Odoo failed while serving a resource, a prompt or a completion.
    #[error("{}", outcome::safe_odoo_message(.0))]
    Odoo(warden_odoo::OdooError),
    /// The key's policy refuses it (a resource mirrors a tool the profile does not allow).
    #[error("{}", .0.message)]
    Denied(Denied),
    /// The tool a resource mirrors failed.
    #[error("{}", .0.message)]
    Tool(ToolError),
    /// `shown` is what the caller is told (a name does not exist), but a rule hides it: the
    /// audit log records the refusal as a denial by `rule`.
    #[error("{shown}")]
    Hidden {
        /// The error the caller sees.
        shown: Box<CallError>,
        /// The rule that hides what the call names.
        rule: String,
    },
}

impl Catalog {
    /// A catalog over `odoo` with `settings`, with [`Unrestricted`] access (what the Odoo user
    /// may do). Does no I/O.
    pub fn new(odoo: warden_odoo::OdooClient, settings: CatalogSettings) -> Self {
        let metadata = metadata::MetadataCache::new(settings.metadata_ttl);
        Self {
            inner: Arc::new(Inner {
                odoo,
                settings,
                metadata,
            }),
            access: Arc::new(Unrestricted),
            taint: Arc::default(),
        }
    }

    /// The same connection and metadata cache, seen through `access`.
    pub fn with_access(&self, access: Arc<dyn Access>) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            access,
            taint: Arc::default(),
        }
    }

    /// The models the caller may see, sorted by technical name.
    pub(crate) async fn visible_models(
        &self,
    ) -> Result<Vec<metadata::ModelInfo>, warden_odoo::OdooError> {
        let list = self.inner.metadata.models(&self.inner.odoo).await?;
        Ok(list
            .models
            .iter()
            .filter(|m| self.access.model_visible(&m.model))
            .cloned()
            .collect())
    }

    /// Whether `model` is in Odoo's list of models, whoever may see it (no further Odoo call
    /// when the list is cached).
    pub(crate) async fn model_listed(&self, model: &str) -> bool {
        self.inner
            .metadata
            .models(&self.inner.odoo)
            .await
            .is_ok_and(|list| list.contains(model))
    }

    /// Whether `model` exists for the caller (who must be allowed to see it): listed in the
    /// model list, or — when the Odoo user's list is not complete — known to `fields_get`.
    pub(crate) async fn model_exists(&self, model: &str) -> Result<bool, warden_odoo::OdooError> {
        if !self.access.model_visible(model) {
            return Ok(false);
        }
        let list = self.inner.metadata.models(&self.inner.odoo).await?;
        if list.contains(model) {
            return Ok(true);
        }
        if list.complete {
            return Ok(false);
        }
        match self.inner.metadata.fields(&self.inner.odoo, model).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == warden_odoo::ErrorKind::UnknownModel => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The fields of `model` the caller may see.
    pub(crate) async fn model_fields(
        &self,
        model: &str,
    ) -> Result<metadata::ModelView, warden_odoo::OdooError> {
        // A model the caller may not see has no fields for it, and Odoo is not asked.
        let all = if self.access.model_visible(model) {
            self.inner.metadata.fields(&self.inner.odoo, model).await?
        } else {
            Arc::new(metadata::ModelFields::new())
        };
        let hidden = self
            .taint
            .hidden(
                &self.inner.metadata,
                &self.inner.odoo,
                self.access.as_ref(),
                model,
                &all,
            )
            .await;
        Ok(metadata::ModelView::new(
            all,
            hidden,
            Arc::clone(&self.access),
        ))
    }

    /// The Odoo user this catalog's calls run as (its login).
    pub fn odoo_user(&self) -> &str {
        &self.inner.odoo.config().login
    }

    /// Whether Odoo answers and still accepts this catalog's credential: the server version,
    /// then one authenticated call that reads nothing (the count of the user's own record), so
    /// an expired or revoked Odoo API key makes the gateway not ready. For readiness checks; the
    /// error never names a host.
    pub async fn ping(&self) -> Result<(), CallError> {
        let odoo = &self.inner.odoo;
        odoo.version().await.map_err(CallError::Odoo)?;
        let uid = odoo.authenticate().await.map_err(CallError::Odoo)?;
        odoo.search_count("res.users", &serde_json::json!([["id", "=", uid]]))
            .await
            .map(|_| ())
            .map_err(CallError::Odoo)
    }

    /// The fields of `model` the caller may not read, and why: `"denied"` (the profile's field
    /// rules) or the denied field it derives from, as `"derived from res.partner.email"`. For
    /// reviewers (`policy explain`, `config check --online`); may fetch metadata.
    pub async fn hidden_fields(
        &self,
        model: &str,
    ) -> Result<BTreeMap<String, String>, warden_odoo::OdooError> {
        let view = self.model_fields(model).await?;
        Ok(view
            .hidden()
            .iter()
            .map(|(name, why)| {
                let why = match why {
                    taint::Hidden::Denied => "denied".to_owned(),
                    taint::Hidden::Derived { from } => format!("derived from {from}"),
                };
                (name.clone(), why)
            })
            .collect())
    }

    /// The one2many fields of `model` whose comodel the caller may see without a records
    /// domain of its own, as `(field, comodel)`: where a records domain on `model` does not
    /// reach (an order's lines). For `config check --online`; may fetch metadata.
    pub async fn unscoped_children(
        &self,
        model: &str,
    ) -> Result<Vec<(String, String)>, warden_odoo::OdooError> {
        let view = self.model_fields(model).await?;
        Ok(view
            .iter()
            .filter(|(_, f)| f.ty == "one2many")
            .filter_map(|(name, f)| {
                let comodel = f.relation.as_deref()?;
                (self.access.model_visible(comodel)
                    && self.access.records_domain(comodel).is_none())
                .then(|| (name.clone(), comodel.to_owned()))
            })
            .collect())
    }

    /// The settings this catalog was built with.
    pub fn settings(&self) -> &CatalogSettings {
        &self.inner.settings
    }

    /// The enabled tools the caller's access can use on some model, in a stable order.
    pub fn tools(&self) -> Vec<ToolDef> {
        schema::tool_defs(&self.inner.settings)
            .into_iter()
            .filter(|tool| {
                Tool::from_name(tool.name)
                    .is_some_and(|t| self.access.operation_possible(t.operation()))
            })
            .collect()
    }

    /// Parse and validate a call without executing it: the result is the typed call a policy
    /// layer can check, or a tool-level error outcome (bad arguments, unknown fields...). May
    /// fetch model metadata (cached); never fetches or changes records.
    pub async fn parse_call(
        &self,
        name: &str,
        arguments: Map<String, Value>,
    ) -> Result<Result<ParsedCall, ToolOutcome>, CallError> {
        parser::parse(self, name, arguments).await
    }

    /// Execute a call returned by [`Catalog::parse_call`]: one Odoo round trip for the data.
    pub async fn execute(&self, call: ParsedCall) -> ToolOutcome {
        exec::execute(self, call).await
    }

    /// The access's decision on a parsed call, as a tool error outcome when refused.
    pub fn check(&self, call: &ParsedCall) -> Result<(), Denied> {
        self.access.check(call)
    }

    /// Parse, validate, check against the access and execute a tool call. Only an unknown or
    /// disabled tool is an `Err`.
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: Map<String, Value>,
    ) -> Result<ToolOutcome, CallError> {
        match self.parse_call(name, arguments).await? {
            Ok(call) => match self.check(&call) {
                Ok(()) => Ok(self.execute(call).await),
                Err(denied) => Ok(outcome::denied_outcome(&denied)),
            },
            Err(outcome) => Ok(outcome),
        }
    }

    /// The resource templates: `odoo://{model}/{id}` and `odoo://{model}`.
    pub fn resource_templates(&self) -> Vec<ResourceTemplateDef> {
        resources::templates()
    }

    /// One `odoo://{model}` resource per model (at most 200).
    pub async fn list_resources(&self) -> Result<Vec<ResourceDef>, CallError> {
        resources::list(self).await
    }

    /// Read `odoo://{model}/{id}` (one record as JSON) or `odoo://{model}` (the model's fields).
    pub async fn read_resource(&self, uri: &str) -> Result<ResourceContent, CallError> {
        resources::read(self, uri).await
    }

    /// Up to 100 model names starting with `prefix`, then those containing it.
    pub async fn complete_model(&self, prefix: &str) -> Result<resources::Completed, CallError> {
        resources::complete_model(self, prefix).await
    }

    /// The prompts.
    pub fn prompts(&self) -> Vec<PromptDef> {
        prompts::defs()
    }

    /// Fill a prompt with its arguments.
    pub async fn get_prompt(
        &self,
        name: &str,
        arguments: &BTreeMap<String, String>,
    ) -> Result<PromptContent, CallError> {
        prompts::get(self, name, arguments).await
    }
}
