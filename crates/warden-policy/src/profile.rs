//! Compiled profiles and the decision for one call ([`Profile::check`]).
//!
//! A profile is compiled with the rules of every profile it extends flattened in: each rule
//! keeps the name of the profile that wrote it, so a denial can say which rule decided.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::sync::Arc;

use serde_json::Value;

use crate::config::OperationName as Operation;
use crate::glob::Glob;
use crate::ip::IpRules;

/// How a field is used by a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldUse {
    /// Returned in results.
    Read,
    /// Set by a create or an update.
    Write,
    /// Used in a domain.
    Filter,
    /// Used to sort.
    Order,
    /// Used to group.
    GroupBy,
    /// Aggregated (sum, count, …).
    Aggregate,
}

impl FieldUse {
    fn describe(self) -> &'static str {
        match self {
            FieldUse::Read => "read",
            FieldUse::Write => "write",
            FieldUse::Filter => "filter",
            FieldUse::Order => "order",
            FieldUse::GroupBy => "group by",
            FieldUse::Aggregate => "aggregate",
        }
    }
}

/// One field a call touches, on the model it belongs to. A dotted path (`partner_id.email` on
/// `sale.order`) arrives as one reference per segment, each on its own model
/// (`sale.order`/`partner_id`, `res.partner`/`email`).
#[derive(Debug, Clone, Copy)]
pub struct FieldRef<'a> {
    /// The model the field belongs to.
    pub model: &'a str,
    /// The field.
    pub field: &'a str,
    /// How the call uses it.
    pub usage: FieldUse,
}

/// What one call wants to do, as the gateway parsed it.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    /// The tool (or resource, prompt) name, used in messages only.
    pub tool: &'a str,
    /// The model; `None` for calls about no model in particular (listing models).
    pub model: Option<&'a str>,
    /// The operation; `None` for metadata only (describing or listing models), which needs the
    /// model to be visible and nothing else.
    pub operation: Option<Operation>,
    /// Every field the call reads, writes, filters, sorts, groups or aggregates by.
    pub fields: &'a [FieldRef<'a>],
    /// The method of a method call.
    pub method: Option<&'a str>,
    /// How many record ids the call names.
    pub ids: usize,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// What kind of rule refused it.
    pub kind: DenialKind,
    /// For the caller: what was refused and what to do. Never says whether a hidden model or
    /// field exists.
    pub message: String,
    /// For the audit log and `policy explain`: the rule that decided, e.g.
    /// `profile "sales" (from "readonly-base"): fields.read.deny "*email*"`.
    pub rule: String,
}

/// The kind of rule behind a [`Denial`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DenialKind {
    /// IP rules.
    Network,
    /// Model visibility.
    Model,
    /// Operations.
    Operation,
    /// Methods.
    Method,
    /// Fields.
    Field,
    /// `max_write_ids`.
    Bounds,
    /// A rate limit; retry after the given time.
    RateLimited {
        /// How long until the request would be accepted.
        retry_after: std::time::Duration,
    },
}

fn op_index(op: Operation) -> usize {
    match op {
        Operation::Read => 0,
        Operation::Create => 1,
        Operation::Write => 2,
        Operation::Delete => 3,
        Operation::Call => 4,
    }
}

/// One pattern of a list, with where it was written.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    glob: Glob,
    text: Box<str>,
    /// The profile that wrote it.
    origin: Arc<str>,
    /// The `model."PATTERN"` section it sits in, if any.
    scope: Option<Arc<str>>,
}

/// A list of patterns (one list of one profile, or the same list gathered over inheritance).
#[derive(Debug, Clone, Default)]
pub(crate) struct PatternSet {
    entries: Vec<Entry>,
}

impl PatternSet {
    /// Compiles one list; a bad pattern is reported as `(index, reason)`.
    pub(crate) fn compile(
        patterns: &[String],
        origin: &Arc<str>,
        scope: Option<&Arc<str>>,
    ) -> Result<PatternSet, (usize, &'static str)> {
        let entries = patterns
            .iter()
            .enumerate()
            .map(|(i, text)| {
                Ok(Entry {
                    glob: Glob::new(text).map_err(|reason| (i, reason))?,
                    text: text.as_str().into(),
                    origin: origin.clone(),
                    scope: scope.cloned(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(PatternSet { entries })
    }

    fn extend(&mut self, other: &PatternSet) {
        self.entries.extend(other.entries.iter().cloned());
    }

    fn find(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.glob.matches(name))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries written literally as this text.
    pub(crate) fn written(&self, text: &str) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .filter(move |e| &*e.text == text)
            .map(|e| &*e.origin)
    }
}

/// Allow and deny lists of operations: for each operation, the profile that wrote it.
#[derive(Debug, Clone, Default)]
pub(crate) struct OpLists {
    allow: [Option<Arc<str>>; 5],
    deny: [Option<Arc<str>>; 5],
}

impl OpLists {
    pub(crate) fn compile(allow: &[Operation], deny: &[Operation], origin: &Arc<str>) -> OpLists {
        let mut lists = OpLists::default();
        for &op in allow {
            lists.allow[op_index(op)] = Some(origin.clone());
        }
        for &op in deny {
            lists.deny[op_index(op)] = Some(origin.clone());
        }
        lists
    }

    fn extend(&mut self, other: &OpLists) {
        for (mine, theirs) in self.allow.iter_mut().zip(&other.allow) {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
        for (mine, theirs) in self.deny.iter_mut().zip(&other.deny) {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
    }
}

/// Field rules.
#[derive(Debug, Clone, Default)]
pub(crate) struct FieldLists {
    pub(crate) read_allow: PatternSet,
    pub(crate) read_deny: PatternSet,
    pub(crate) read_allow_derived: PatternSet,
    pub(crate) write_allow: PatternSet,
    pub(crate) write_deny: PatternSet,
}

impl FieldLists {
    fn extend(&mut self, other: &FieldLists) {
        self.read_allow.extend(&other.read_allow);
        self.read_deny.extend(&other.read_deny);
        self.read_allow_derived.extend(&other.read_allow_derived);
        self.write_allow.extend(&other.write_allow);
        self.write_deny.extend(&other.write_deny);
    }
}

/// The rules of one `[profiles.P.model."PATTERN"]` section.
#[derive(Debug, Clone)]
pub(crate) struct ModelRule {
    pub(crate) glob: Glob,
    /// The pattern as written.
    pub(crate) scope: Arc<str>,
    /// The profile that wrote it.
    pub(crate) origin: Arc<str>,
    pub(crate) ops: OpLists,
    pub(crate) methods_allow: PatternSet,
    pub(crate) methods_deny: PatternSet,
    pub(crate) fields: FieldLists,
    /// The domain's terms (empty: none).
    pub(crate) records: Vec<Value>,
}

/// The rules one profile writes itself, validated.
#[derive(Debug, Clone, Default)]
pub(crate) struct OwnRules {
    pub(crate) models_allow: PatternSet,
    pub(crate) models_deny: PatternSet,
    pub(crate) ops: OpLists,
    pub(crate) methods_allow: PatternSet,
    pub(crate) methods_deny: PatternSet,
    pub(crate) fields: FieldLists,
    pub(crate) rules: Vec<ModelRule>,
    pub(crate) max_records: Option<u32>,
    pub(crate) max_write_ids: Option<u32>,
    pub(crate) confirm_writes: bool,
    pub(crate) audit_values: bool,
    pub(crate) network: IpRules,
}

/// A compiled profile, with the rules of the profiles it extends flattened in.
#[derive(Debug)]
pub struct Profile {
    name: Arc<str>,
    identity: String,
    description: Option<String>,
    ancestors: Vec<String>,
    models_allow: PatternSet,
    models_deny: PatternSet,
    ops: OpLists,
    methods_allow: PatternSet,
    methods_deny: PatternSet,
    fields: FieldLists,
    rules: Vec<ModelRule>,
    /// Model rules written without wildcard, by model name.
    literal_rules: HashMap<Box<str>, Vec<usize>>,
    /// Model rules with a wildcard.
    glob_rules: Vec<usize>,
    max_records: Option<(u32, Arc<str>)>,
    max_write_ids: Option<(u32, Arc<str>)>,
    confirm_writes: bool,
    audit_values: bool,
    network: IpRules,
}

/// The strictest of two bounds.
fn min_bound(a: Option<(u32, Arc<str>)>, b: Option<(u32, Arc<str>)>) -> Option<(u32, Arc<str>)> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
        (a, b) => a.or(b),
    }
}

impl Profile {
    /// Flattens `levels` (the profile's own rules first, then each ancestor's, nearest first).
    pub(crate) fn flatten(
        name: &Arc<str>,
        identity: String,
        description: Option<String>,
        levels: &[(&Arc<str>, &OwnRules)],
    ) -> Profile {
        let mut profile = Profile {
            name: name.clone(),
            identity,
            description,
            ancestors: levels.iter().skip(1).map(|(n, _)| n.to_string()).collect(),
            models_allow: PatternSet::default(),
            models_deny: PatternSet::default(),
            ops: OpLists::default(),
            methods_allow: PatternSet::default(),
            methods_deny: PatternSet::default(),
            fields: FieldLists::default(),
            rules: Vec::new(),
            literal_rules: HashMap::new(),
            glob_rules: Vec::new(),
            max_records: None,
            max_write_ids: None,
            confirm_writes: false,
            audit_values: false,
            network: IpRules::default(),
        };
        for &(level, own) in levels {
            profile.models_allow.extend(&own.models_allow);
            profile.models_deny.extend(&own.models_deny);
            profile.ops.extend(&own.ops);
            profile.methods_allow.extend(&own.methods_allow);
            profile.methods_deny.extend(&own.methods_deny);
            profile.fields.extend(&own.fields);
            profile.rules.extend(own.rules.iter().cloned());
            profile.max_records = min_bound(
                profile.max_records.take(),
                own.max_records.map(|n| (n, level.clone())),
            );
            profile.max_write_ids = min_bound(
                profile.max_write_ids.take(),
                own.max_write_ids.map(|n| (n, level.clone())),
            );
            profile.confirm_writes |= own.confirm_writes;
            profile.audit_values |= own.audit_values;
            profile.network.extend(&own.network);
        }
        for (i, rule) in profile.rules.iter().enumerate() {
            match rule.glob.literal() {
                Some(model) => profile
                    .literal_rules
                    .entry(model.into())
                    .or_default()
                    .push(i),
                None => profile.glob_rules.push(i),
            }
        }
        profile
    }

    /// The profile's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Odoo identity every Odoo call of this profile runs as (own or inherited).
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The profile's own description.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Every profile this one extends, directly or not, nearest first, each once.
    pub fn ancestors(&self) -> &[String] {
        &self.ancestors
    }

    /// Whether a `models.allow` pattern matches the model and no `models.deny` pattern does.
    pub fn model_visible(&self, model: &str) -> bool {
        self.visibility(model).is_ok()
    }

    /// Whether the model is visible, the operation is allowed by the profile or by a model rule
    /// that applies to the model, and no applicable rule denies it.
    pub fn operation_allowed(&self, model: &str, op: Operation) -> bool {
        self.model_visible(model) && self.view(model).operation(op).is_ok()
    }

    /// Whether some model could allow the operation (used to hide data-changing tools from a
    /// key that can never use them).
    pub fn any_model_allows(&self, op: Operation) -> bool {
        let i = op_index(op);
        if self.models_allow.is_empty() || self.ops.deny[i].is_some() {
            return false;
        }
        self.ops.allow[i].is_some()
            || self
                .rules
                .iter()
                .any(|r| r.ops.allow[i].is_some() && r.ops.deny[i].is_none())
    }

    /// Whether the method may be called on the model: the `call` operation is allowed, a
    /// `methods.allow` pattern matches, no `methods.deny` pattern does, and the name does not
    /// start with `_` (private methods never).
    pub fn method_allowed(&self, model: &str, method: &str) -> bool {
        if !self.operation_allowed(model, Operation::Call) {
            return false;
        }
        self.view(model).method(method).is_ok()
    }

    /// Whether the field may be read (see [`crate::config::FieldRules`]); `id` is readable
    /// whenever the model is visible.
    pub fn field_readable(&self, model: &str, field: &str) -> bool {
        self.model_visible(model) && self.view(model).read(field).is_ok()
    }

    /// The rule that hides the model from this profile, as `policy explain` names it (e.g.
    /// `profile "sales": models.deny "hr.*"`), or `None` when the model is visible.
    pub fn model_denial(&self, model: &str) -> Option<String> {
        self.visibility(model)
            .err()
            .map(|reason| reason.describe(&self.name))
    }

    /// The rule that makes the field unreadable for this profile (e.g. `profile "sales":
    /// model."res.partner".fields.read.deny "*email*"`), or `None` when it is readable. For a
    /// model the profile cannot see, the rule that hides the model.
    pub fn field_denial(&self, model: &str, field: &str) -> Option<String> {
        if let Some(rule) = self.model_denial(model) {
            return Some(rule);
        }
        self.view(model)
            .read(field)
            .err()
            .map(|reason| reason.describe(&self.name))
    }

    /// The models this profile's model rules name literally (not by a glob), each once, sorted:
    /// the models a reviewer looks at first.
    pub fn rule_models(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .rules
            .iter()
            .map(|r| r.scope.to_string())
            .filter(|scope| !scope.contains(['*', '?', '[']))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Whether any field rule of this profile hides fields somewhere (a `fields.read.deny`, or a
    /// `fields.read.allow` list that makes the others unreadable), profile-wide or in a model
    /// rule. A profile that hides no field lets Odoo's own name search run: it cannot match
    /// anything the key may not read.
    pub fn hides_fields(&self) -> bool {
        let hides = |f: &FieldLists| !f.read_deny.is_empty() || !f.read_allow.is_empty();
        hides(&self.fields) || self.rules.iter().any(|r| hides(&r.fields))
    }

    /// The `fields.read.allow_derived` entry that keeps the field readable although Odoo
    /// computes it from a field this profile hides, if any (e.g. `profile "sales":
    /// fields.read.allow_derived "display_name"`). Only a readable field can be kept.
    pub fn derived_allowed(&self, model: &str, field: &str) -> Option<String> {
        if !self.field_readable(model, field) {
            return None;
        }
        let view = self.view(model);
        let entry = self.fields.read_allow_derived.find(field).or_else(|| {
            view.rules
                .iter()
                .find_map(|r| r.fields.read_allow_derived.find(field))
        })?;
        Some(Reason::Entry("fields.read.allow_derived", entry).describe(&self.name))
    }

    /// Whether the field may be written: readable, a `fields.write.allow` pattern matches and no
    /// `fields.write.deny` pattern does. `id` is never writable.
    pub fn field_writable(&self, model: &str, field: &str) -> bool {
        self.model_visible(model) && self.view(model).write(field).is_ok()
    }

    /// Every applicable `records` domain, concatenated into one JSON array (Odoo ANDs the
    /// terms); `None` when no rule restricts the model's records.
    pub fn records_domain(&self, model: &str) -> Option<Value> {
        let view = self.view(model);
        let terms: Vec<Value> = view
            .rules
            .iter()
            .flat_map(|r| r.records.iter().cloned())
            .collect();
        (!terms.is_empty()).then_some(Value::Array(terms))
    }

    /// The most records one call may return (the strictest over inheritance).
    pub fn max_records(&self) -> Option<u32> {
        self.max_records.as_ref().map(|(n, _)| *n)
    }

    /// The most record ids one update, delete or method call may name (the strictest over
    /// inheritance).
    pub fn max_write_ids(&self) -> Option<u32> {
        self.max_write_ids.as_ref().map(|(n, _)| *n)
    }

    /// Whether data-changing tools ask the human first (when this profile or any profile it
    /// extends says so).
    pub fn confirm_writes(&self) -> bool {
        self.confirm_writes
    }

    /// Whether the audit log records the values of this profile's calls (when this profile or
    /// any profile it extends says so).
    pub fn audit_values(&self) -> bool {
        self.audit_values
    }

    /// The profile's IP rules, gathered over inheritance.
    pub(crate) fn network(&self) -> &IpRules {
        &self.network
    }

    /// The model patterns written as `*` (every model), with the profiles that wrote them.
    pub(crate) fn allow_every_model(&self) -> impl Iterator<Item = &str> {
        self.models_allow.written("*")
    }

    /// Whether no model is visible at all.
    pub(crate) fn sees_no_model(&self) -> bool {
        self.models_allow.is_empty()
    }

    /// One decision for one call: model visibility, operation, method, every field (its own
    /// model visible, readable — writable for [`FieldUse::Write`] — and, for a field on another
    /// model than the call's, `read` allowed there), then bounds (`max_write_ids` against the
    /// ids of an update, delete or method call). The first denial wins.
    pub fn check(&self, request: &Request<'_>) -> Result<(), Denial> {
        let mut denial = None;
        self.evaluate(request, |step| match step.verdict {
            Ok(_) => ControlFlow::Continue(()),
            Err(reason) => {
                denial = Some(Denial {
                    kind: step.subject.kind(),
                    message: step.subject.message(request.tool, &reason),
                    rule: reason.describe(&self.name),
                });
                ControlFlow::Break(())
            }
        });
        match denial {
            Some(denial) => Err(denial),
            None => Ok(()),
        }
    }

    /// Every step of the decision, one line each, and whether all passed.
    pub(crate) fn explain_steps(&self, request: &Request<'_>, lines: &mut Vec<String>) -> bool {
        let mut allowed = true;
        self.evaluate(request, |step| {
            let (word, reason) = match &step.verdict {
                Ok(reason) => ("allowed", reason),
                Err(reason) => {
                    allowed = false;
                    ("denied", reason)
                }
            };
            lines.push(format!(
                "{}: {word} by {}",
                step.subject.describe(),
                reason.describe(&self.name)
            ));
            ControlFlow::Continue(())
        });
        allowed
    }

    /// Whether a model is visible, and why.
    fn visibility(&self, model: &str) -> Verdict<'_> {
        if let Some(entry) = self.models_deny.find(model) {
            return Err(Reason::Entry("models.deny", entry));
        }
        match self.models_allow.find(model) {
            Some(entry) => Ok(Reason::Entry("models.allow", entry)),
            None => Err(Reason::NoMatch("models.allow")),
        }
    }

    /// The profile seen from one model: its applicable model rules, in the order written.
    fn view(&self, model: &str) -> View<'_> {
        let mut indexes: Vec<usize> = self
            .literal_rules
            .get(model)
            .map(std::vec::Vec::as_slice)
            .unwrap_or_default()
            .to_vec();
        let before = indexes.len();
        indexes.extend(
            self.glob_rules
                .iter()
                .copied()
                .filter(|&i| self.rules[i].glob.matches(model)),
        );
        if before > 0 && indexes.len() > before {
            indexes.sort_unstable();
        }
        View {
            profile: self,
            rules: indexes.into_iter().map(|i| &self.rules[i]).collect(),
        }
    }

    /// Walks the steps of the decision, handing each to `sink` until it breaks.
    fn evaluate<'s, 'r>(
        &'s self,
        request: &Request<'r>,
        mut sink: impl FnMut(Step<'s, 'r>) -> ControlFlow<()>,
    ) {
        let _ = self.walk(request, &mut sink);
    }

    fn walk<'s, 'r>(
        &'s self,
        request: &Request<'r>,
        sink: &mut impl FnMut(Step<'s, 'r>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let view = request.model.map(|model| (model, self.view(model)));
        if let Some((model, _)) = &view {
            sink(Step {
                subject: Subject::Model(model),
                verdict: self.visibility(model),
            })?;
        }
        if let Some(op) = request.operation {
            let verdict = match &view {
                Some((_, view)) => view.operation(op),
                None if self.any_model_allows(op) => {
                    Ok(Reason::Fixed("an operations.allow list (no model named)"))
                }
                None => Err(Reason::NoMatch("operations.allow")),
            };
            sink(Step {
                subject: Subject::Operation(request.model, op),
                verdict,
            })?;
        }
        if request.operation == Some(Operation::Call) || request.method.is_some() {
            let verdict = match (&view, request.method) {
                // A method is called only where the `call` operation is allowed, whatever
                // operation the request names.
                (Some((_, view)), Some(method)) => view
                    .operation(Operation::Call)
                    .and_then(|_| view.method(method)),
                (_, None) => Err(Reason::Fixed("a method call must name its method")),
                (None, Some(_)) => Err(Reason::Fixed("a method call must name its model")),
            };
            sink(Step {
                subject: Subject::Method(request.model, request.method),
                verdict,
            })?;
        }
        // Views of the other models fields belong to (dotted paths), built once each.
        let mut others: Vec<(&'r str, View<'s>)> = Vec::new();
        for &field in request.fields {
            let own = matches!(&view, Some((model, _)) if *model == field.model);
            if !own && !others.iter().any(|(m, _)| *m == field.model) {
                others.push((field.model, self.view(field.model)));
            }
            let field_view = match &view {
                Some((model, v)) if *model == field.model => v,
                _ => match others.iter().find(|(m, _)| *m == field.model) {
                    Some((_, v)) => v,
                    None => continue,
                },
            };
            if !own {
                // The field's own model must be visible, and readable when the call reads data.
                let mut verdict = self.visibility(field.model);
                if verdict.is_ok() && request.operation.is_some() {
                    verdict = field_view.operation(Operation::Read);
                }
                if let Err(reason) = verdict {
                    sink(Step {
                        subject: Subject::Field(field),
                        verdict: Err(reason),
                    })?;
                    continue;
                }
            }
            let verdict = match field.usage {
                FieldUse::Write => field_view.write(field.field),
                _ => field_view.read(field.field),
            };
            sink(Step {
                subject: Subject::Field(field),
                verdict,
            })?;
        }
        if let Some(op @ (Operation::Write | Operation::Delete | Operation::Call)) =
            request.operation
            && let Some((max, origin)) = &self.max_write_ids
        {
            let reason = Reason::Bound {
                origin,
                name: "max_write_ids",
                value: *max,
            };
            let within = u32::try_from(request.ids).is_ok_and(|ids| ids <= *max);
            sink(Step {
                subject: Subject::Bounds(op, request.ids),
                verdict: if within { Ok(reason) } else { Err(reason) },
            })?;
        }
        ControlFlow::Continue(())
    }
}

/// The profile's rules as they apply to one model.
struct View<'p> {
    profile: &'p Profile,
    rules: Vec<&'p ModelRule>,
}

type Verdict<'a> = Result<Reason<'a>, Reason<'a>>;

impl<'p> View<'p> {
    fn operation(&self, op: Operation) -> Verdict<'p> {
        let i = op_index(op);
        let p = self.profile;
        if let Some(origin) = &p.ops.deny[i] {
            return Err(Reason::Op("operations.deny", origin, None, op));
        }
        if let Some(rule) = self.rules.iter().find(|r| r.ops.deny[i].is_some()) {
            return Err(Reason::Op(
                "operations.deny",
                &rule.origin,
                Some(&rule.scope),
                op,
            ));
        }
        if let Some(origin) = &p.ops.allow[i] {
            return Ok(Reason::Op("operations.allow", origin, None, op));
        }
        match self.rules.iter().find(|r| r.ops.allow[i].is_some()) {
            Some(rule) => Ok(Reason::Op(
                "operations.allow",
                &rule.origin,
                Some(&rule.scope),
                op,
            )),
            None => Err(Reason::NoMatch("operations.allow")),
        }
    }

    fn method(&self, method: &str) -> Verdict<'p> {
        if method.starts_with('_') {
            return Err(Reason::Fixed(
                "the rule that private methods (names starting with \"_\") are never callable",
            ));
        }
        let p = self.profile;
        if let Some(entry) = p.methods_deny.find(method) {
            return Err(Reason::Entry("methods.deny", entry));
        }
        if let Some(entry) = self.rules.iter().find_map(|r| r.methods_deny.find(method)) {
            return Err(Reason::Entry("methods.deny", entry));
        }
        if let Some(entry) = p.methods_allow.find(method) {
            return Ok(Reason::Entry("methods.allow", entry));
        }
        match self.rules.iter().find_map(|r| r.methods_allow.find(method)) {
            Some(entry) => Ok(Reason::Entry("methods.allow", entry)),
            None => Err(Reason::NoMatch("methods.allow")),
        }
    }

    fn read(&self, field: &str) -> Verdict<'p> {
        if field == "id" {
            return Ok(Reason::Fixed(
                "the rule that \"id\" is readable on every visible model",
            ));
        }
        let p = self.profile;
        if let Some(entry) = p.fields.read_deny.find(field) {
            return Err(Reason::Entry("fields.read.deny", entry));
        }
        if let Some(entry) = self
            .rules
            .iter()
            .find_map(|r| r.fields.read_deny.find(field))
        {
            return Err(Reason::Entry("fields.read.deny", entry));
        }
        let allow_applies = !p.fields.read_allow.is_empty()
            || self.rules.iter().any(|r| !r.fields.read_allow.is_empty());
        if !allow_applies {
            return Ok(Reason::Fixed(
                "default (no fields.read.allow list applies, so fields not denied are readable)",
            ));
        }
        if let Some(entry) = p.fields.read_allow.find(field) {
            return Ok(Reason::Entry("fields.read.allow", entry));
        }
        match self
            .rules
            .iter()
            .find_map(|r| r.fields.read_allow.find(field))
        {
            Some(entry) => Ok(Reason::Entry("fields.read.allow", entry)),
            None => Err(Reason::NoMatch("fields.read.allow")),
        }
    }

    fn write(&self, field: &str) -> Verdict<'p> {
        if field == "id" {
            return Err(Reason::Fixed("the rule that \"id\" is never writable"));
        }
        self.read(field)?;
        let p = self.profile;
        if let Some(entry) = p.fields.write_deny.find(field) {
            return Err(Reason::Entry("fields.write.deny", entry));
        }
        if let Some(entry) = self
            .rules
            .iter()
            .find_map(|r| r.fields.write_deny.find(field))
        {
            return Err(Reason::Entry("fields.write.deny", entry));
        }
        if let Some(entry) = p.fields.write_allow.find(field) {
            return Ok(Reason::Entry("fields.write.allow", entry));
        }
        match self
            .rules
            .iter()
            .find_map(|r| r.fields.write_allow.find(field))
        {
            Some(entry) => Ok(Reason::Entry("fields.write.allow", entry)),
            None => Err(Reason::NoMatch("fields.write.allow")),
        }
    }
}

/// The rule behind one step.
#[derive(Debug, Clone, Copy)]
enum Reason<'a> {
    /// A pattern of a list matched.
    Entry(&'static str, &'a Entry),
    /// An operation list names the operation: (list, origin, model scope, operation).
    Op(&'static str, &'a str, Option<&'a str>, Operation),
    /// No entry of the list matches.
    NoMatch(&'static str),
    /// A rule of the policy itself, in words.
    Fixed(&'static str),
    /// A bound.
    Bound {
        origin: &'a str,
        name: &'static str,
        value: u32,
    },
}

/// `profile "sales"` or `profile "sales" (from "base")`.
fn who(profile: &str, origin: &str) -> String {
    if profile == origin {
        format!("profile \"{profile}\"")
    } else {
        format!("profile \"{profile}\" (from \"{origin}\")")
    }
}

fn scoped(scope: Option<&str>) -> String {
    scope.map_or_else(String::new, |s| format!("model.\"{s}\"."))
}

impl Reason<'_> {
    fn describe(&self, profile: &str) -> String {
        match self {
            Reason::Entry(list, entry) => format!(
                "{}: {}{list} \"{}\"",
                who(profile, &entry.origin),
                scoped(entry.scope.as_deref()),
                entry.text
            ),
            Reason::Op(list, origin, scope, op) => format!(
                "{}: {}{list} \"{}\"",
                who(profile, origin),
                scoped(*scope),
                op.as_str()
            ),
            Reason::NoMatch(list) => {
                format!("profile \"{profile}\": no applicable {list} entry matches")
            }
            Reason::Fixed(words) => (*words).to_owned(),
            Reason::Bound {
                origin,
                name,
                value,
            } => format!("{}: {name} = {value}", who(profile, origin)),
        }
    }
}

/// What a step decides about.
#[derive(Debug, Clone, Copy)]
enum Subject<'r> {
    Model(&'r str),
    Operation(Option<&'r str>, Operation),
    Method(Option<&'r str>, Option<&'r str>),
    Field(FieldRef<'r>),
    Bounds(Operation, usize),
}

struct Step<'s, 'r> {
    subject: Subject<'r>,
    verdict: Verdict<'s>,
}

impl Subject<'_> {
    fn kind(&self) -> DenialKind {
        match self {
            Subject::Model(_) => DenialKind::Model,
            Subject::Operation(..) => DenialKind::Operation,
            Subject::Method(..) => DenialKind::Method,
            Subject::Field(_) => DenialKind::Field,
            Subject::Bounds(..) => DenialKind::Bounds,
        }
    }

    /// For the explain lines.
    fn describe(&self) -> String {
        match self {
            Subject::Model(model) => format!("model \"{model}\""),
            Subject::Operation(Some(model), op) => {
                format!("operation \"{}\" on \"{model}\"", op.as_str())
            }
            Subject::Operation(None, op) => format!("operation \"{}\"", op.as_str()),
            Subject::Method(model, method) => format!(
                "method \"{}\" on \"{}\"",
                method.unwrap_or(""),
                model.unwrap_or("")
            ),
            Subject::Field(f) => format!(
                "field \"{}\" of \"{}\" ({})",
                f.field,
                f.model,
                f.usage.describe()
            ),
            Subject::Bounds(op, ids) => format!("{ids} record id(s) for \"{}\"", op.as_str()),
        }
    }

    /// For the caller: what was refused, without saying whether a hidden model or field exists.
    fn message(&self, tool: &str, reason: &Reason<'_>) -> String {
        let mut out = String::new();
        if !tool.is_empty() {
            let _ = write!(out, "{tool}: ");
        }
        let _ = match self {
            Subject::Model(model) => {
                write!(out, "model \"{model}\" is not available with this key")
            }
            Subject::Operation(Some(model), op) => write!(
                out,
                "operation \"{}\" on model \"{model}\" is not allowed with this key",
                op.as_str()
            ),
            Subject::Operation(None, op) => write!(
                out,
                "operation \"{}\" is not allowed with this key",
                op.as_str()
            ),
            Subject::Method(_, None) => write!(out, "a method call must name its method"),
            Subject::Method(None, Some(_)) => write!(out, "a method call must name its model"),
            Subject::Method(Some(_), Some(method)) if method.starts_with('_') => write!(
                out,
                "method \"{method}\" is private (its name starts with \"_\"); private methods can never be called"
            ),
            Subject::Method(Some(model), Some(method)) => write!(
                out,
                "method \"{method}\" on model \"{model}\" may not be called with this key"
            ),
            Subject::Field(f) => {
                let what = match f.usage {
                    FieldUse::Read => "is not available",
                    FieldUse::Write => "may not be written",
                    FieldUse::Filter => "cannot be used in a filter",
                    FieldUse::Order => "cannot be used to sort",
                    FieldUse::GroupBy => "cannot be used to group",
                    FieldUse::Aggregate => "cannot be aggregated",
                };
                write!(
                    out,
                    "field \"{}\" of model \"{}\" {what} with this key; leave it out",
                    f.field, f.model
                )
            }
            Subject::Bounds(op, ids) => {
                let max = match reason {
                    Reason::Bound { value, .. } => *value,
                    _ => 0,
                };
                write!(
                    out,
                    "{ids} record ids named, but one \"{}\" may name at most {max} with this key; split the call",
                    op.as_str()
                )
            }
        };
        out
    }
}
