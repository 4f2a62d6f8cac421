//! The ORM of the simulated database: access rights, record rules, field groups, and the public
//! model methods (`search_read`, `read`, `create`, `write`, `unlink`, `read_group`,
//! `name_search`, `fields_get`, x2many commands, `ir.model.get_available_models`, ...).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::OdooVersion;
use crate::db::{Db, Row};
use crate::domain::{self, Node, is_empty};
use crate::error::{Kind, OdooError, py_repr};
use crate::model::{
    self, Attr, G_SALE_MANAGER, G_SALESMAN, G_SALESMAN_ALL, GROUPS, GroupId, Model, Op, Ty,
    group_full_name, group_spaced_name,
};
use crate::search::{SortKey, cmp_keys, search, search_node};
use crate::values::{display_name, raw, row};

/// Who calls, with which context.
#[derive(Clone, Debug)]
pub(crate) struct Env {
    pub(crate) uid: i64,
    pub(crate) groups: Vec<GroupId>,
    pub(crate) lang: Option<String>,
    pub(crate) active_test: bool,
    /// Superuser mode (`sudo()`): no access rights, no record rules.
    pub(crate) su: bool,
}

impl Env {
    /// The environment of user `uid` as stored in the database.
    pub(crate) fn for_user(db: &Db, uid: i64) -> Env {
        let groups = db
            .row("res.users", uid)
            .and_then(|r| r.get("groups_id"))
            .and_then(Value::as_array)
            .map(|ids| {
                GROUPS
                    .iter()
                    .filter(|g| ids.iter().any(|i| i.as_i64() == Some(g.1)))
                    .map(|g| g.0)
                    .collect()
            })
            .unwrap_or_default();
        Env {
            uid,
            groups,
            lang: None,
            active_test: true,
            su: false,
        }
    }

    fn has(&self, group: GroupId) -> bool {
        self.groups.contains(&group)
    }

    /// The same user in superuser mode.
    pub(crate) fn sudo(&self) -> Env {
        let mut env = self.clone();
        env.su = true;
        env
    }

    /// Apply a call's `context` (lang, active_test).
    pub(crate) fn with_context(mut self, context: Option<&Value>) -> Env {
        if let Some(Value::Object(ctx)) = context {
            if let Some(Value::String(lang)) = ctx.get("lang") {
                self.lang = Some(lang.clone());
            }
            if let Some(Value::Bool(b)) = ctx.get("active_test") {
                self.active_test = *b;
            }
        }
        self
    }
}

/// Whether the method name is one of the read-only methods (no transaction snapshot needed).
fn read_only(method: &str) -> bool {
    matches!(
        method,
        "search_read"
            | "search"
            | "search_count"
            | "read"
            | "fields_get"
            | "name_search"
            | "read_group"
            | "default_get"
            | "exists"
            | "check_access_rights"
            | "get_available_models"
            | "display_name_for"
    )
}

/// Parameter names of each public method (after `ids` for record methods).
fn params_of(
    model: &Model,
    method: &str,
    version: OdooVersion,
) -> Option<(bool, &'static [&'static str])> {
    Some(match method {
        "search_read" => (
            false,
            &["domain", "fields", "offset", "limit", "order", "load"],
        ),
        "search" => (false, &["domain", "offset", "limit", "order"]),
        "search_count" => (false, &["domain", "limit"]),
        "read" => (true, &["fields", "load"]),
        "fields_get" => (false, &["allfields", "attributes"]),
        "create" => (false, &["vals_list"]),
        "write" => (true, &["vals"]),
        "unlink" | "exists" => (true, &[]),
        // Odoo 18: name_search(name='', args=None, operator='ilike', limit=100);
        // Odoo 19 renamed `args` to `domain`.
        "name_search" => match version {
            OdooVersion::V18 => (false, &["name", "args", "operator", "limit"]),
            OdooVersion::V19 => (false, &["name", "domain", "operator", "limit"]),
        },
        "read_group" => (
            false,
            &[
                "domain", "fields", "groupby", "offset", "limit", "orderby", "lazy",
            ],
        ),
        "default_get" => (false, &["fields_list"]),
        "check_access_rights" => (false, &["operation", "raise_exception"]),
        "get_available_models" if model.name == "ir.model" => (false, &[]),
        "display_name_for" if model.name == "ir.model" => (false, &["models"]),
        other if model.actions.contains(&other) => (true, &[]),
        _ => return None,
    })
}

/// Whether `method` exists on `model` (public or not).
pub(crate) fn method_exists(model: &Model, method: &str, version: OdooVersion) -> bool {
    params_of(model, method, version).is_some()
}

/// Whether `method` operates on records (takes `ids` first).
pub(crate) fn is_record_method(model: &Model, method: &str, version: OdooVersion) -> bool {
    params_of(model, method, version).is_some_and(|p| p.0)
}

/// The parameter names of `method` (for JSON-2 named parameters).
pub(crate) fn param_names(
    model: &Model,
    method: &str,
    version: OdooVersion,
) -> &'static [&'static str] {
    params_of(model, method, version)
        .map(|p| p.1)
        .unwrap_or(&[])
}

/// The Python class whose method a TypeError names (the outermost override in Odoo 18).
fn owner_class(model: &Model, method: &str) -> &'static str {
    match (model.name, method) {
        ("res.users", "name_search") => "ResUsers",
        ("product.product", "name_search") => "ProductProduct",
        ("product.template", "name_search") => "ProductTemplate",
        ("res.country", "name_search") => "Country",
        ("ir.model", "get_available_models" | "display_name_for") => "IrModel",
        _ => "BaseModel",
    }
}

/// Call a public method the way `execute_kw` does: check the name, bind the arguments, run the
/// method in a transaction (rolled back on error). `Ok(None)` is Python's `None`.
pub(crate) fn execute(
    db: &mut Db,
    version: OdooVersion,
    uid: i64,
    model_name: &str,
    method: &str,
    args: Vec<Value>,
    mut kwargs: Map<String, Value>,
) -> Result<Option<Value>, OdooError> {
    if method.starts_with('_') {
        return Err(OdooError::access(format!(
            "Private methods (such as {method}) cannot be called remotely."
        )));
    }
    let Some(model) = model::model(model_name) else {
        return Err(OdooError::user(format!(
            "Object {model_name} doesn't exist"
        )));
    };
    let Some((is_record, names)) = params_of(model, method, version) else {
        return Err(OdooError::new(
            Kind::AttributeError,
            format!("The method '{method}' does not exist on the model '{model_name}'"),
        ));
    };
    let owner = owner_class(model, method);
    let context = kwargs.remove("context");
    let env = Env::for_user(db, uid).with_context(context.as_ref());
    let mut args = args.into_iter();
    let ids = if is_record {
        match args.next() {
            Some(v) => ids_of(&v)?,
            None => {
                return Err(OdooError::type_error(format!(
                    "{owner}.{method}() missing 1 required positional argument: 'self'"
                )));
            }
        }
    } else {
        Vec::new()
    };
    let mut bound: BTreeMap<&'static str, Value> = BTreeMap::new();
    for (i, value) in args.enumerate() {
        let Some(name) = names.get(i) else {
            return Err(OdooError::type_error(format!(
                "{owner}.{method}() takes from 1 to {} positional arguments but {} were given",
                names.len() + 1,
                i + 2
            )));
        };
        bound.insert(name, value);
    }
    for (key, value) in kwargs {
        let Some(name) = names.iter().find(|n| **n == key) else {
            return Err(OdooError::type_error(format!(
                "{owner}.{method}() got an unexpected keyword argument '{key}'"
            )));
        };
        if bound.insert(name, value).is_some() {
            return Err(OdooError::type_error(format!(
                "{owner}.{method}() got multiple values for argument '{key}'"
            )));
        }
    }
    let call = Call {
        model,
        env,
        ids,
        args: bound,
        version,
    };
    if read_only(method) {
        return call.run(db, method);
    }
    let snapshot = db.clone();
    match call.run(db, method) {
        Ok(v) => Ok(v),
        Err(e) => {
            *db = snapshot;
            Err(e)
        }
    }
}

/// Record ids from an `ids` argument (an int or a list of ints).
pub(crate) fn ids_of(v: &Value) -> Result<Vec<i64>, OdooError> {
    match v {
        Value::Number(n) => n.as_i64().map(|i| vec![i]).ok_or_else(|| bad_ids(v)),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_i64().ok_or_else(|| bad_ids(v)))
            .collect(),
        Value::Null | Value::Bool(false) => Ok(Vec::new()),
        _ => Err(bad_ids(v)),
    }
}

fn bad_ids(v: &Value) -> OdooError {
    OdooError::value(format!("Invalid record ids: {}", py_repr(v)))
}

struct Call {
    model: &'static Model,
    env: Env,
    ids: Vec<i64>,
    args: BTreeMap<&'static str, Value>,
    version: OdooVersion,
}

/// `hr.employee` for a user without an HR group: reads are served from `hr.employee.public`.
fn public_employee(m: &Model, env: &Env) -> Option<&'static Model> {
    if m.name == "hr.employee" && !env.su && !m.allowed(&env.groups, Op::Read) {
        model::model("hr.employee.public")
    } else {
        None
    }
}

impl Call {
    fn arg(&self, name: &str) -> Option<&Value> {
        self.args.get(name).filter(|v| !v.is_null())
    }

    fn int_arg(&self, name: &str) -> Result<Option<usize>, OdooError> {
        match self.arg(name) {
            None | Some(Value::Bool(false)) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| OdooError::value(format!("invalid {name}: {n}"))),
            Some(other) => Err(OdooError::type_error(format!(
                "'{}' is not a valid {name}",
                py_repr(other)
            ))),
        }
    }

    fn str_list_arg(&self, name: &str) -> Result<Option<Vec<String>>, OdooError> {
        match self.arg(name) {
            None | Some(Value::Bool(false)) => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str().map(str::to_owned).ok_or_else(|| {
                        OdooError::type_error(format!("invalid {name}: {}", py_repr(i)))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(OdooError::type_error(format!(
                "invalid {name}: {}",
                py_repr(other)
            ))),
        }
    }

    fn search_args(&self, db: &Db, m: &'static Model) -> Result<Vec<i64>, OdooError> {
        search(
            db,
            m,
            &self.env,
            self.arg("domain"),
            self.int_arg("offset")?,
            self.int_arg("limit")?,
            self.arg("order"),
        )
    }

    #[allow(clippy::too_many_lines)]
    fn run(&self, db: &mut Db, method: &str) -> Result<Option<Value>, OdooError> {
        let m = self.model;
        let env = &self.env;
        if let Some(public) = public_employee(m, env)
            && matches!(
                method,
                "search_read" | "search" | "search_count" | "read" | "name_search"
            )
        {
            return self.run_public_employee(db, public, method);
        }
        match method {
            "search_read" => {
                let fields = self.str_list_arg("fields")?;
                let ids = self.search_args(db, m)?;
                Ok(Some(Value::Array(read(
                    db,
                    m,
                    env,
                    &ids,
                    fields.as_deref(),
                )?)))
            }
            "search" => Ok(Some(json!(self.search_args(db, m)?))),
            "search_count" => {
                let ids = search(
                    db,
                    m,
                    env,
                    self.arg("domain"),
                    None,
                    self.int_arg("limit")?,
                    Some(&json!("id")),
                )?;
                Ok(Some(json!(ids.len())))
            }
            "read" => {
                let fields = self.str_list_arg("fields")?;
                check_access(m, env, Op::Read)?;
                let existing: Vec<i64> = self
                    .ids
                    .iter()
                    .copied()
                    .filter(|id| row(db, m, *id).is_some())
                    .collect();
                check_rules(db, m, env, &existing, Op::Read)?;
                Ok(Some(Value::Array(read(
                    db,
                    m,
                    env,
                    &existing,
                    fields.as_deref(),
                )?)))
            }
            "fields_get" => {
                let all = self.str_list_arg("allfields")?;
                let attrs = self.str_list_arg("attributes")?;
                Ok(Some(fields_get(m, env, all.as_deref(), attrs.as_deref())))
            }
            "create" => create(db, m, env, self.arg("vals_list")).map(Some),
            "write" => {
                let vals = match self.arg("vals") {
                    Some(Value::Object(v)) => v.clone(),
                    other => {
                        return Err(OdooError::type_error(format!(
                            "write() argument vals must be a dict, not {}",
                            other.map(py_repr).unwrap_or_else(|| "None".into())
                        )));
                    }
                };
                write(db, m, env, &self.ids, &vals)?;
                Ok(Some(Value::Bool(true)))
            }
            "unlink" => {
                unlink(db, m, env, &self.ids)?;
                Ok(Some(Value::Bool(true)))
            }
            "exists" => Ok(Some(json!(
                self.ids
                    .iter()
                    .filter(|id| row(db, m, **id).is_some())
                    .collect::<Vec<_>>()
            ))),
            "name_search" => name_search(db, m, env, self).map(Some),
            "read_group" => read_group(db, m, env, self).map(Some),
            "default_get" => {
                let wanted = self.str_list_arg("fields_list")?.unwrap_or_default();
                let mut out = Map::new();
                for name in wanted {
                    if let Some(v) = default_value(db, m, env, &name) {
                        out.insert(name, v);
                    }
                }
                Ok(Some(Value::Object(out)))
            }
            "check_access_rights" => {
                let op = match self.arg("operation").and_then(Value::as_str) {
                    Some("read") => Op::Read,
                    Some("write") => Op::Write,
                    Some("create") => Op::Create,
                    Some("unlink") => Op::Unlink,
                    _ => return Err(OdooError::value("Invalid access mode")),
                };
                // Odoo 18: check_access(operation) (None) when raising, else has_access().
                let raise = self.arg("raise_exception").is_none_or(|v| !is_empty(v));
                match check_access(m, env, op) {
                    Ok(()) if raise => Ok(None),
                    Ok(()) => Ok(Some(Value::Bool(true))),
                    Err(e) if raise => Err(e),
                    Err(_) => Ok(Some(Value::Bool(false))),
                }
            }
            "get_available_models" => Ok(Some(available_models(env, None))),
            "display_name_for" => {
                let wanted = self.str_list_arg("models")?.unwrap_or_default();
                Ok(Some(available_models(env, Some(&wanted))))
            }
            "action_archive" | "action_unarchive" => {
                let active = method == "action_unarchive";
                let vals: Map<String, Value> = [("active".to_owned(), Value::Bool(active))]
                    .into_iter()
                    .collect();
                write(db, m, env, &self.ids, &vals)?;
                Ok(None)
            }
            "action_confirm" | "action_cancel" | "action_draft" => {
                sale_action(db, m, env, &self.ids, method)?;
                Ok(Some(Value::Bool(true)))
            }
            _ => Err(OdooError::new(
                Kind::AttributeError,
                format!(
                    "The method '{method}' does not exist on the model '{}'",
                    m.name
                ),
            )),
        }
    }

    /// `hr.employee` read by a user without an HR group, as Odoo 18 serves it from
    /// `hr.employee.public`: public fields only; no fields (or an image) gives nothing.
    fn run_public_employee(
        &self,
        db: &mut Db,
        public: &'static Model,
        method: &str,
    ) -> Result<Option<Value>, OdooError> {
        let m = self.model;
        let env = &self.env;
        let fields = if matches!(method, "search_read" | "read") {
            let fields = self.str_list_arg("fields")?.unwrap_or_default();
            for name in &fields {
                if m.field(name).is_none() {
                    return Err(invalid_field(name, m));
                }
            }
            let names: Vec<&str> = fields.iter().map(String::as_str).collect();
            check_fields(m, env, &names, Op::Read)?;
            Some(fields)
        } else {
            None
        };
        let nothing = fields.as_ref().is_some_and(|f| {
            f.is_empty()
                || f.iter()
                    .any(|n| n.starts_with("image_") || n.starts_with("avatar_"))
        });
        match method {
            "search_count" => {
                let ids = search(
                    db,
                    public,
                    env,
                    self.arg("domain"),
                    None,
                    self.int_arg("limit")?,
                    Some(&json!("id")),
                )
                .map_err(|e| {
                    if e.kind == Kind::ValueError {
                        OdooError::access("You do not have access to this document.")
                    } else {
                        e
                    }
                })?;
                Ok(Some(json!(ids.len())))
            }
            "search" => Ok(Some(json!(self.search_args(db, public)?))),
            "name_search" => name_search(db, public, env, self).map(Some),
            "search_read" => {
                let ids = self.search_args(db, public)?;
                if nothing {
                    return Ok(Some(json!([])));
                }
                Ok(Some(Value::Array(read(
                    db,
                    public,
                    env,
                    &ids,
                    fields.as_deref(),
                )?)))
            }
            _ => {
                if nothing {
                    return Ok(Some(json!([])));
                }
                let existing: Vec<i64> = self
                    .ids
                    .iter()
                    .copied()
                    .filter(|id| row(db, public, *id).is_some())
                    .collect();
                Ok(Some(Value::Array(read(
                    db,
                    public,
                    env,
                    &existing,
                    fields.as_deref(),
                )?)))
            }
        }
    }
}

fn invalid_field(name: &str, m: &Model) -> OdooError {
    OdooError::value(format!(
        "Invalid field {} on model {}",
        py_repr(&json!(name)),
        py_repr(&json!(m.name))
    ))
}

/// `ir.model.get_available_models()` (all models the user may read) or
/// `display_name_for(models)` (the readable ones named, then the others as they were given).
fn available_models(env: &Env, wanted: Option<&[String]>) -> Value {
    let valid = |m: &Model| env.su || m.allowed(&env.groups, Op::Read);
    let mut readable: Vec<&'static Model> = model::models()
        .iter()
        .filter(|m| valid(m))
        .filter(|m| wanted.is_none_or(|w| w.iter().any(|n| n == m.name)))
        .collect();
    readable.sort_by(|a, b| a.description.cmp(b.description));
    let mut out: Vec<Value> = readable
        .iter()
        .map(|m| json!({"display_name": m.description, "model": m.name}))
        .collect();
    if let Some(wanted) = wanted {
        for name in wanted {
            if !model::model(name).is_some_and(valid) {
                out.push(json!({"display_name": name, "model": name}));
            }
        }
    }
    Value::Array(out)
}

/// Model access rights.
pub(crate) fn check_access(m: &Model, env: &Env, op: Op) -> Result<(), OdooError> {
    if env.su || m.allowed(&env.groups, op) {
        return Ok(());
    }
    let verb = match op {
        Op::Read => "access",
        Op::Write => "modify",
        Op::Create => "create",
        Op::Unlink => "delete",
    };
    let mut groups: Vec<String> = m
        .acls
        .iter()
        .filter(|a| match op {
            Op::Read => a.read,
            Op::Write => a.write,
            Op::Create => a.create,
            Op::Unlink => a.unlink,
        })
        .map(|a| group_full_name(a.group))
        .collect();
    groups.sort();
    groups.dedup();
    let mut msg = format!(
        "You are not allowed to {verb} '{}' ({}) records.",
        m.description, m.name
    );
    if groups.is_empty() {
        msg.push_str("\n\nNo group currently allows this operation.");
    } else {
        msg.push_str("\n\nThis operation is allowed for the following groups:\n");
        for g in &groups {
            msg.push_str(&format!("\t- {g}\n"));
        }
    }
    msg.push_str("\nContact your administrator to request access if necessary.");
    Err(OdooError::access(msg))
}

/// The record rule domain of `m` for `env`, if any applies ("Sales / User: Own Documents
/// Only" on orders, order lines and leads).
pub(crate) fn rule_domain(m: &Model, env: &Env) -> Option<Value> {
    let own_only = env.has(G_SALESMAN) && !env.has(G_SALESMAN_ALL) && !env.has(G_SALE_MANAGER);
    if env.su || !own_only {
        return None;
    }
    match m.name {
        "sale.order" | "crm.lead" => Some(json!([
            "|",
            ["user_id", "=", env.uid],
            ["user_id", "=", false]
        ])),
        "sale.order.line" => Some(json!([
            "|",
            ["salesman_id", "=", env.uid],
            ["salesman_id", "=", false]
        ])),
        _ => None,
    }
}

/// Record rules on existing records. Odoo reports a refused write as a refused read.
fn check_rules(
    db: &Db,
    m: &'static Model,
    env: &Env,
    ids: &[i64],
    op: Op,
) -> Result<(), OdooError> {
    if ids.is_empty() {
        return Ok(());
    }
    let Some(rule) = rule_domain(m, env) else {
        return Ok(());
    };
    let node = domain::parse(m, &rule)?;
    let mut everything = env.sudo();
    everything.active_test = false;
    let allowed: BTreeSet<i64> = search_node(db, m, &everything, &node)?
        .into_iter()
        .collect();
    if ids.iter().all(|id| allowed.contains(id)) {
        return Ok(());
    }
    let user = db
        .row("res.users", env.uid)
        .map(|r| {
            raw(
                db,
                model::model("res.users").unwrap_or(m),
                env.uid,
                r,
                "name",
                env,
            )
            .as_str()
            .unwrap_or("")
            .to_owned()
        })
        .unwrap_or_default();
    let shown = match op {
        Op::Read | Op::Write => "read",
        Op::Create => "create",
        Op::Unlink => "unlink",
    };
    Err(OdooError::access(format!(
        "Uh-oh! Looks like you have stumbled upon some top-secret records.\n\nSorry, {user} (id={}) doesn't have '{shown}' access to:\n- {} ({})\n\nIf you really, really need access, perhaps you can win over your friendly administrator with a batch of freshly baked cookies.",
        env.uid, m.description, m.name
    )))
}

/// Field-level access (fields restricted to groups).
pub(crate) fn check_fields(m: &Model, env: &Env, names: &[&str], op: Op) -> Result<(), OdooError> {
    if env.su {
        return Ok(());
    }
    let denied: Vec<&crate::model::Field> = names
        .iter()
        .filter_map(|n| m.field(n))
        .filter(|f| f.groups.is_some_and(|g| !env.has(g)))
        .collect();
    if denied.is_empty() {
        return Ok(());
    }
    let list: Vec<&str> = denied.iter().map(|f| f.name).collect();
    let mut msg = format!(
        "You do not have enough rights to access the fields \"{}\" on {} ({}). Please contact your system administrator.\n\nOperation: {}\nUser: {}\nFields:",
        list.join(","),
        m.description,
        m.name,
        op.name(),
        env.uid
    );
    for f in denied {
        let group = f.groups.map(group_spaced_name).unwrap_or_default();
        msg.push_str(&format!("\n- {} (allowed for groups '{group}')", f.name));
    }
    Err(OdooError::access(msg))
}

/// Field groups of the fields a domain names (its first path element).
pub(crate) fn check_domain_fields(m: &Model, env: &Env, node: &Node) -> Result<(), OdooError> {
    match node {
        Node::Leaf(l) => check_fields(m, env, &[l.path[0].as_str()], Op::Read),
        Node::And(a, b) | Node::Or(a, b) => {
            check_domain_fields(m, env, a)?;
            check_domain_fields(m, env, b)
        }
        Node::Not(a) => check_domain_fields(m, env, a),
        _ => Ok(()),
    }
}

fn readable(m: &Model, env: &Env, name: &str) -> bool {
    m.field(name)
        .is_some_and(|f| env.su || f.groups.is_none_or(|g| env.has(g)))
}

/// A field value as `read` returns it.
fn output(
    db: &Db,
    m: &'static Model,
    id: i64,
    row: &Row,
    field: &crate::model::Field,
    env: &Env,
) -> Value {
    let v = raw(db, m, id, row, field.name, env);
    match field.ty {
        Ty::M2o(comodel) => match (v.as_i64(), model::model(comodel)) {
            (Some(rid), Some(cm)) if self::row(db, cm, rid).is_some() => {
                json!([rid, display_name(db, cm, rid, env)])
            }
            _ => Value::Bool(false),
        },
        Ty::O2m(..) | Ty::M2m(_) => {
            if v.is_array() {
                v
            } else {
                json!([])
            }
        }
        Ty::Int => {
            if v.is_number() {
                v
            } else {
                json!(0)
            }
        }
        Ty::Float | Ty::Monetary => json!(v.as_f64().unwrap_or(0.0)),
        Ty::Bool => Value::Bool(matches!(v, Value::Bool(true))),
        _ => {
            if v.is_null() {
                Value::Bool(false)
            } else {
                v
            }
        }
    }
}

/// `read`: records as dicts, `id` first then the asked fields in order.
fn read(
    db: &Db,
    m: &'static Model,
    env: &Env,
    ids: &[i64],
    fields: Option<&[String]>,
) -> Result<Vec<Value>, OdooError> {
    check_access(m, env, Op::Read)?;
    let names: Vec<&str> = match fields {
        Some(list) if !list.is_empty() => {
            for name in list {
                if m.field(name).is_none() {
                    return Err(invalid_field(name, m));
                }
            }
            let names: Vec<&str> = list.iter().map(String::as_str).collect();
            check_fields(m, env, &names, Op::Read)?;
            names
        }
        _ => m
            .fields
            .iter()
            .filter(|f| readable(m, env, f.name))
            .map(|f| f.name)
            .collect(),
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(row) = row(db, m, *id) else {
            continue;
        };
        let mut rec = Map::new();
        rec.insert("id".into(), json!(id));
        for name in &names {
            if *name == "id" {
                continue;
            }
            if let Some(f) = m.field(name) {
                rec.insert((*name).to_owned(), output(db, m, *id, row, f, env));
            }
        }
        out.push(Value::Object(rec));
    }
    Ok(out)
}

/// `fields_get` with Odoo's metadata shape.
fn fields_get(
    m: &Model,
    env: &Env,
    allfields: Option<&[String]>,
    attributes: Option<&[String]>,
) -> Value {
    let mut out = Map::new();
    for f in &m.fields {
        if allfields.is_some_and(|all| !all.is_empty() && !all.iter().any(|a| a == f.name)) {
            continue;
        }
        if !readable(m, env, f.name) {
            continue;
        }
        let mut d: BTreeMap<&str, Value> = BTreeMap::new();
        d.insert("change_default", json!(false));
        d.insert("company_dependent", json!(false));
        d.insert("default_export_compatible", json!(false));
        d.insert("depends", json!(f.depends));
        d.insert("exportable", json!(true));
        d.insert("groupable", json!(f.groupable()));
        d.insert("manual", json!(false));
        d.insert("name", json!(f.name));
        d.insert("readonly", json!(f.readonly));
        d.insert("required", json!(f.required));
        d.insert("searchable", json!(f.searchable));
        d.insert("sortable", json!(f.sortable()));
        d.insert("store", json!(f.stored));
        d.insert("string", json!(f.string));
        d.insert("type", json!(f.ty.name()));
        if f.ty.is_text() {
            d.insert("translate", json!(f.translate));
        }
        if f.ty == Ty::Char {
            d.insert("trim", json!(true));
        }
        if let Some(h) = f.help {
            d.insert("help", json!(h));
        }
        if let Some(path) = f.related_path() {
            d.insert("related", json!(path));
        }
        if let Some(group) = f.groups {
            d.insert("groups", json!(group));
        }
        if f.ty == Ty::Image {
            d.insert("attachment", json!(f.stored));
        }
        if f.ty == Ty::Html {
            for (key, value) in [
                ("sanitize", true),
                ("sanitize_attributes", true),
                ("sanitize_style", false),
                ("sanitize_tags", true),
                ("strip_classes", false),
                ("strip_style", false),
            ] {
                d.insert(key, json!(value));
            }
        }
        for (key, value) in f.extra {
            d.insert(
                key,
                match value {
                    Attr::Bool(b) => json!(b),
                    Attr::Str(s) => json!(s),
                    Attr::Int(i) => json!(i),
                    Attr::Digits(p, q) => json!([p, q]),
                },
            );
        }
        if let Some(rel) = f.ty.relation() {
            d.insert("relation", json!(rel));
            d.insert("context", json!({}));
            d.insert("domain", json!([]));
        }
        if let Ty::O2m(_, inverse) = f.ty {
            d.insert("relation_field", json!(inverse));
        }
        if let Ty::Sel(options) = f.ty {
            d.insert(
                "selection",
                json!(
                    options
                        .iter()
                        .map(|(k, v)| json!([k, v]))
                        .collect::<Vec<_>>()
                ),
            );
        }
        let desc: Map<String, Value> = d
            .into_iter()
            .filter(|(k, _)| attributes.is_none_or(|a| a.is_empty() || a.iter().any(|x| x == k)))
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        out.insert(f.name.to_owned(), Value::Object(desc));
    }
    Value::Object(out)
}

fn default_value(db: &mut Db, m: &Model, env: &Env, name: &str) -> Option<Value> {
    Some(match (m.name, name) {
        (_, "active") if m.has_active() => json!(true),
        ("res.partner", "type") => json!("contact"),
        ("sale.order", "state") => json!("draft"),
        ("sale.order", "date_order") => json!(db.now()),
        ("sale.order" | "crm.lead", "user_id") => json!(env.uid),
        ("sale.order.line", "sequence") => json!(10),
        ("crm.lead", "type") => json!("opportunity"),
        (_, "company_id") if m.field("company_id").is_some() && m.name != "res.partner" => json!(1),
        ("sale.order", "currency_id") => json!(1),
        _ => return None,
    })
}

/// Many2one fields whose missing target Odoo reports as a missing record (a compute reads it
/// before the database refuses the foreign key).
const READ_ON_WRITE: &[(&str, &str)] = &[
    ("sale.order.line", "product_id"),
    ("sale.order", "partner_id"),
    ("crm.lead", "partner_id"),
];

/// Convert one incoming value to its stored form.
fn convert(
    db: &Db,
    m: &Model,
    f: &crate::model::Field,
    v: &Value,
    env: &Env,
) -> Result<Value, OdooError> {
    let wrong = || {
        OdooError::value(format!(
            "Wrong value for {}.{}: {}",
            m.name,
            f.name,
            py_repr(v)
        ))
    };
    Ok(match f.ty {
        _ if is_empty(v) && f.ty != Ty::Bool => Value::Null,
        Ty::Bool => Value::Bool(!is_empty(v) && v != &json!(0)),
        // A float given for an integer field is truncated, as Odoo's int() does.
        #[allow(clippy::cast_possible_truncation)]
        Ty::Int => json!(
            v.as_i64()
                .or_else(|| v.as_f64().map(|x| x as i64))
                .ok_or_else(wrong)?
        ),
        Ty::Float | Ty::Monetary => json!(v.as_f64().ok_or_else(wrong)?),
        Ty::Char | Ty::Text | Ty::Html | Ty::Date | Ty::Datetime => match v {
            Value::String(_) => v.clone(),
            Value::Number(n) => json!(n.to_string()),
            _ => return Err(wrong()),
        },
        Ty::Sel(options) => match v.as_str() {
            Some(s) if options.iter().any(|o| o.0 == s) => v.clone(),
            _ => return Err(wrong()),
        },
        Ty::M2o(comodel) => {
            let id = match v {
                Value::Number(n) => n.as_i64(),
                Value::Array(a) => a.first().and_then(Value::as_i64),
                _ => None,
            }
            .ok_or_else(wrong)?;
            let target = model::model(comodel);
            if target.is_none_or(|cm| row(db, cm, id).is_none()) {
                if READ_ON_WRITE.contains(&(m.name, f.name)) {
                    return Err(missing_named(comodel, id, env));
                }
                return Err(foreign_key(m, f.name));
            }
            json!(id)
        }
        Ty::Image | Ty::M2m(_) | Ty::O2m(..) => return Err(wrong()),
    })
}

fn foreign_key(m: &Model, field: &str) -> OdooError {
    OdooError::validation(format!(
        "The operation cannot be completed: another model requires the record being deleted. If possible, archive it instead.\n\nModel: {} ({})\nConstraint: {}_{field}_fkey\n",
        m.description,
        m.name,
        m.table.replace('.', "_"),
    ))
}

fn m2m_foreign_key(m: &Model, comodel: &str) -> OdooError {
    let (a, b) = (m.table.replace('.', "_"), comodel.replace('.', "_"));
    let column = comodel.rsplit('.').next().unwrap_or(comodel);
    OdooError::validation(format!(
        "The operation cannot be completed: another model requires the record being deleted. If possible, archive it instead.\n\nModel: Unknown (unknown)\nConstraint: {a}_{b}_rel_{column}_id_fkey\n"
    ))
}

/// Odoo's MissingError: it names the first missing record only.
fn missing_named(model: &str, id: i64, env: &Env) -> OdooError {
    OdooError::new(
        Kind::MissingError,
        format!(
            "Record does not exist or has been deleted.\n(Record: {model}({id},), User: {})",
            env.uid
        ),
    )
}

fn check_exist(db: &Db, m: &Model, ids: &[i64], env: &Env) -> Result<(), OdooError> {
    match ids.iter().find(|id| row(db, m, **id).is_none()) {
        Some(id) => Err(missing_named(m.name, *id, env)),
        None => Ok(()),
    }
}

fn command_error(m: &Model, f: &crate::model::Field, v: &Value) -> OdooError {
    OdooError::value(format!(
        "Wrong value for {}.{}: {}",
        m.name,
        f.name,
        py_repr(v)
    ))
}

/// The ids currently linked through an x2many field.
fn linked(db: &Db, m: &'static Model, id: i64, f: &crate::model::Field, env: &Env) -> Vec<i64> {
    let mut all = env.clone();
    all.active_test = false;
    row(db, m, id)
        .map(|r| raw(db, m, id, r, f.name, &all))
        .and_then(|v| {
            v.as_array()
                .map(|a| a.iter().filter_map(Value::as_i64).collect())
        })
        .unwrap_or_default()
}

/// Apply x2many commands of field `f` on record `id`, with the access rights and record rules
/// of the comodel records they touch.
#[allow(clippy::too_many_lines)]
fn apply_x2many(
    db: &mut Db,
    m: &'static Model,
    env: &Env,
    id: i64,
    f: &crate::model::Field,
    v: &Value,
) -> Result<(), OdooError> {
    let Value::Array(cmds) = v else {
        return if is_empty(v) {
            Ok(())
        } else {
            Err(command_error(m, f, v))
        };
    };
    let Some(cm) = f.ty.relation().and_then(model::model) else {
        return Err(command_error(m, f, v));
    };
    // A list of ids is a (6, 0, ids) command.
    let cmds: Vec<Value> = if !cmds.is_empty() && cmds.iter().all(Value::is_i64) {
        vec![json!([6, 0, cmds])]
    } else {
        cmds.clone()
    };
    let vals_of = |c: &[Value]| -> Map<String, Value> {
        c.get(2)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    match f.ty {
        Ty::O2m(_, inverse) => {
            // Unlinking a line whose inverse is required (ondelete cascade) deletes it.
            let cascade = cm.field(inverse).is_some_and(|i| i.required);
            let detach = |db: &mut Db, child: i64| -> Result<(), OdooError> {
                if cascade {
                    unlink(db, cm, env, &[child])
                } else {
                    let vals: Map<String, Value> = [(inverse.to_owned(), Value::Bool(false))]
                        .into_iter()
                        .collect();
                    write(db, cm, env, &[child], &vals)
                }
            };
            let attach = |db: &mut Db, child: i64| -> Result<(), OdooError> {
                let vals: Map<String, Value> =
                    [(inverse.to_owned(), json!(id))].into_iter().collect();
                write(db, cm, env, &[child], &vals)
            };
            for cmd in &cmds {
                let Value::Array(c) = cmd else {
                    return Err(command_error(m, f, v));
                };
                let code = c
                    .first()
                    .and_then(Value::as_i64)
                    .ok_or_else(|| command_error(m, f, v))?;
                let arg = c.get(1).and_then(Value::as_i64);
                let target = || arg.ok_or_else(|| command_error(m, f, v));
                match code {
                    0 => {
                        let mut vals = vals_of(c);
                        vals.insert(inverse.to_owned(), json!(id));
                        create_one(db, cm, env, &vals)?;
                    }
                    1 => write(db, cm, env, &[target()?], &vals_of(c))?,
                    2 => unlink(db, cm, env, &[target()?])?,
                    3 => {
                        let child = target()?;
                        check_exist(db, cm, &[child], env)?;
                        if linked(db, m, id, f, env).contains(&child) {
                            detach(db, child)?;
                        }
                    }
                    4 => {
                        let child = target()?;
                        check_exist(db, cm, &[child], env)?;
                        attach(db, child)?;
                    }
                    5 => {
                        for child in linked(db, m, id, f, env) {
                            detach(db, child)?;
                        }
                    }
                    6 => {
                        let keep = c.get(2).map(ids_of).transpose()?.unwrap_or_default();
                        check_exist(db, cm, &keep, env)?;
                        let current = linked(db, m, id, f, env);
                        for child in current.iter().filter(|c| !keep.contains(c)) {
                            detach(db, *child)?;
                        }
                        for child in keep.iter().filter(|k| !current.contains(k)) {
                            attach(db, *child)?;
                        }
                    }
                    _ => return Err(command_error(m, f, v)),
                }
            }
        }
        Ty::M2m(_) => {
            let mut current: Vec<i64> = row(db, m, id)
                .and_then(|r| r.get(f.name))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_i64).collect())
                .unwrap_or_default();
            for cmd in &cmds {
                let Value::Array(c) = cmd else {
                    return Err(command_error(m, f, v));
                };
                let code = c
                    .first()
                    .and_then(Value::as_i64)
                    .ok_or_else(|| command_error(m, f, v))?;
                let arg = c.get(1).and_then(Value::as_i64);
                let target = || arg.ok_or_else(|| command_error(m, f, v));
                match code {
                    0 => {
                        let new = create_one(db, cm, env, &vals_of(c))?;
                        current.push(new);
                    }
                    1 => write(db, cm, env, &[target()?], &vals_of(c))?,
                    2 => {
                        let other = target()?;
                        unlink(db, cm, env, &[other])?;
                        current.retain(|x| *x != other);
                    }
                    3 => {
                        let other = target()?;
                        current.retain(|x| *x != other);
                    }
                    4 => {
                        let other = target()?;
                        if row(db, cm, other).is_none() {
                            return Err(m2m_foreign_key(m, cm.name));
                        }
                        if !current.contains(&other) {
                            current.push(other);
                        }
                    }
                    5 => current.clear(),
                    6 => {
                        let ids = c.get(2).map(ids_of).transpose()?.unwrap_or_default();
                        if ids.iter().any(|i| row(db, cm, *i).is_none()) {
                            return Err(m2m_foreign_key(m, cm.name));
                        }
                        current = ids;
                    }
                    _ => return Err(command_error(m, f, v)),
                }
            }
            current.dedup();
            if let Some(r) = db.table_mut(m.table).rows.get_mut(&id) {
                r.insert(f.name, json!(current));
            }
        }
        _ => return Err(command_error(m, f, v)),
    }
    Ok(())
}

fn required_error(m: &Model, f: &crate::model::Field) -> OdooError {
    OdooError::validation(format!(
        "The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n- Delete: another model requires the record being deleted. If possible, archive it instead.\n\nModel: {} ({})\nField: {} ({})\n",
        m.description, m.name, f.string, f.name
    ))
}

/// `create` with a dict (returns an id) or a list of dicts (returns a list of ids).
fn create(
    db: &mut Db,
    m: &'static Model,
    env: &Env,
    vals_list: Option<&Value>,
) -> Result<Value, OdooError> {
    check_access(m, env, Op::Create)?;
    match vals_list {
        Some(Value::Object(vals)) => Ok(json!(create_one(db, m, env, vals)?)),
        Some(Value::Array(list)) => {
            let mut ids = Vec::new();
            for vals in list {
                let Value::Object(vals) = vals else {
                    return Err(OdooError::value(format!(
                        "Invalid values for create: {}",
                        py_repr(vals)
                    )));
                };
                ids.push(create_one(db, m, env, vals)?);
            }
            Ok(json!(ids))
        }
        other => Err(OdooError::type_error(format!(
            "create() argument vals_list must be a dict or a list of dicts, not {}",
            other.map(py_repr).unwrap_or_else(|| "None".into())
        ))),
    }
}

fn next_id(db: &mut Db, table: &'static str) -> i64 {
    let table = db.table_mut(table);
    let mut id = table.next_id.max(1);
    while table.rows.contains_key(&id) {
        id += 1;
    }
    table.next_id = id + 1;
    id
}

#[allow(clippy::too_many_lines)]
fn create_one(
    db: &mut Db,
    m: &'static Model,
    env: &Env,
    vals: &Map<String, Value>,
) -> Result<i64, OdooError> {
    check_access(m, env, Op::Create)?;
    let names: Vec<&str> = vals.keys().map(String::as_str).collect();
    check_fields(m, env, &names, Op::Write)?;
    let id = next_id(db, m.table);
    let now = db.now();
    let mut new_row = Row::new();
    for f in &m.fields {
        if let Some(v) = default_value(db, m, env, f.name) {
            new_row.insert(f.name, v);
        }
    }
    new_row.insert("create_date", json!(now));
    new_row.insert("write_date", json!(now));
    new_row.insert("create_uid", json!(env.uid));
    new_row.insert("write_uid", json!(env.uid));
    let mut x2many = Vec::new();
    let mut related = Map::new();
    for (key, v) in vals {
        let Some(f) = m.field(key) else {
            tracing::debug!(model = m.name, field = %key, "create ignores an unknown field");
            continue;
        };
        if f.related.is_some() {
            related.insert(key.clone(), v.clone());
            continue;
        }
        if f.name == "company_type" {
            new_row.insert("is_company", json!(v.as_str() == Some("company")));
            continue;
        }
        if f.computed {
            continue;
        }
        if f.ty.is_x2many() {
            x2many.push((f, v.clone()));
            continue;
        }
        new_row.insert(f.name, convert(db, m, f, v, env)?);
    }
    match m.name {
        "sale.order" if new_row.get("name").is_none_or(is_empty) => {
            new_row.insert("name", json!(format!("S{id:05}")));
        }
        "sale.order.line" => fill_order_line(db, &mut new_row, env),
        "product.product" if new_row.get("product_tmpl_id").is_none_or(is_empty) => {
            // Creating a variant without a template creates the template (`_inherits`).
            let template = next_id(db, "product.template");
            let mut t = Row::new();
            for key in ["name", "list_price"] {
                if let Some(v) = related.remove(key) {
                    t.insert(key, v);
                }
            }
            t.insert("active", json!(true));
            t.insert("create_date", json!(now));
            t.insert("write_date", json!(now));
            t.insert("create_uid", json!(env.uid));
            t.insert("write_uid", json!(env.uid));
            if t.get("name").is_none_or(is_empty) {
                return Err(model::model("product.product")
                    .and_then(|p| p.field("name"))
                    .map_or_else(|| OdooError::validation("name"), |f| required_error(m, f)));
            }
            db.table_mut("product.template").rows.insert(template, t);
            new_row.insert("product_tmpl_id", json!(template));
        }
        _ => {}
    }
    for f in &m.fields {
        if f.required
            && f.related.is_none()
            && new_row.get(f.name).is_none_or(is_empty)
            && !(m.name == "sale.order.line" && f.name == "name")
        {
            return Err(required_error(m, f));
        }
    }
    db.table_mut(m.table).rows.insert(id, new_row);
    if m.name == "product.template" {
        // A template has one variant.
        let variant = next_id(db, "product.product");
        let mut p = Row::new();
        p.insert("product_tmpl_id", json!(id));
        p.insert("active", json!(true));
        p.insert("create_date", json!(now));
        p.insert("write_date", json!(now));
        p.insert("create_uid", json!(env.uid));
        p.insert("write_uid", json!(env.uid));
        if let Some(code) = vals.get("default_code").filter(|c| !is_empty(c)) {
            p.insert("default_code", code.clone());
        }
        db.table_mut("product.product").rows.insert(variant, p);
    }
    if !related.is_empty() {
        write_related(db, m, env, &[id], &related)?;
    }
    for (f, v) in x2many {
        apply_x2many(db, m, env, id, f, &v)?;
    }
    check_recursion(db, m, &[id])?;
    after_change(db, m, &[id]);
    check_rules(db, m, env, &[id], Op::Create)?;
    Ok(id)
}

fn fill_order_line(db: &Db, line: &mut Row, env: &Env) {
    let product = line.get("product_id").and_then(Value::as_i64);
    let pm = model::model("product.product");
    if line.get("price_unit").is_none_or(Value::is_null) {
        let price = match (product, pm) {
            (Some(p), Some(pm)) => row(db, pm, p)
                .map(|r| raw(db, pm, p, r, "list_price", env))
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0),
            _ => 0.0,
        };
        line.insert("price_unit", json!(price));
    }
    if line.get("name").is_none_or(is_empty) {
        // The product's display name, then its sales description on a line of its own.
        let name = match (product, pm) {
            (Some(p), Some(pm)) => {
                let mut name = display_name(db, pm, p, env);
                if let Some(description) = row(db, pm, p)
                    .and_then(|r| r.get("product_tmpl_id"))
                    .and_then(Value::as_i64)
                    .and_then(|t| db.row("product.template", t))
                    .and_then(|t| t.get("description_sale"))
                    .and_then(Value::as_str)
                    .filter(|d| !d.is_empty())
                {
                    name.push('\n');
                    name.push_str(description);
                }
                name
            }
            _ => "/".to_owned(),
        };
        line.insert("name", json!(name));
    }
    if line.get("product_uom_qty").is_none_or(Value::is_null) {
        line.insert("product_uom_qty", json!(1.0));
    }
}

/// Recompute stored dependent values after a change (order amounts, line subtotals).
fn after_change(db: &mut Db, m: &Model, ids: &[i64]) {
    let mut orders: BTreeSet<i64> = BTreeSet::new();
    match m.name {
        "sale.order.line" => {
            for id in ids {
                if let Some(line) = db.table_mut("sale.order.line").rows.get_mut(id) {
                    let qty = line
                        .get("product_uom_qty")
                        .and_then(Value::as_f64)
                        .unwrap_or(0.0);
                    let price = line
                        .get("price_unit")
                        .and_then(Value::as_f64)
                        .unwrap_or(0.0);
                    line.insert("price_subtotal", json!(qty * price));
                    line.insert("price_total", json!(qty * price));
                    if let Some(o) = line.get("order_id").and_then(Value::as_i64) {
                        orders.insert(o);
                    }
                }
            }
        }
        "sale.order" => orders.extend(ids.iter().copied()),
        _ => return,
    }
    recompute_orders(db, &orders);
}

fn recompute_orders(db: &mut Db, orders: &BTreeSet<i64>) {
    for order in orders {
        let total: f64 = db
            .table("sale.order.line")
            .map(|t| {
                t.rows
                    .values()
                    .filter(|r| r.get("order_id").and_then(Value::as_i64) == Some(*order))
                    .filter_map(|r| r.get("price_subtotal").and_then(Value::as_f64))
                    .sum()
            })
            .unwrap_or(0.0);
        if let Some(o) = db.table_mut("sale.order").rows.get_mut(order) {
            o.insert("amount_untaxed", json!(total));
            o.insert("amount_tax", json!(0.0));
            o.insert("amount_total", json!(total));
        }
    }
}

fn check_recursion(db: &Db, m: &Model, ids: &[i64]) -> Result<(), OdooError> {
    let Some((field, message)) = m.parent else {
        return Ok(());
    };
    for id in ids {
        let mut seen = vec![*id];
        let mut cur = *id;
        for _ in 0..1000 {
            match row(db, m, cur)
                .and_then(|r| r.get(field))
                .and_then(Value::as_i64)
            {
                Some(p) if seen.contains(&p) => return Err(OdooError::validation(message)),
                Some(p) => {
                    seen.push(p);
                    cur = p;
                }
                None => break,
            }
        }
    }
    Ok(())
}

/// Write related fields through their path (`res.users.email` writes the partner's email).
fn write_related(
    db: &mut Db,
    m: &'static Model,
    env: &Env,
    ids: &[i64],
    vals: &Map<String, Value>,
) -> Result<(), OdooError> {
    for (key, value) in vals {
        let Some(path) = m.field(key).and_then(|f| f.related) else {
            continue;
        };
        let Some((first, rest)) = path.split_once('.') else {
            continue;
        };
        let Some(cm) = m
            .field(first)
            .and_then(|f| f.ty.relation())
            .and_then(model::model)
        else {
            continue;
        };
        let targets: Vec<i64> = ids
            .iter()
            .filter_map(|id| {
                row(db, m, *id)
                    .and_then(|r| r.get(first))
                    .and_then(Value::as_i64)
            })
            .collect();
        if targets.is_empty() {
            continue;
        }
        let inner: Map<String, Value> = [(rest.to_owned(), value.clone())].into_iter().collect();
        write(db, cm, &env.sudo(), &targets, &inner)?;
    }
    Ok(())
}

/// `write` the same values on every record.
fn write(
    db: &mut Db,
    m: &'static Model,
    env: &Env,
    ids: &[i64],
    vals: &Map<String, Value>,
) -> Result<(), OdooError> {
    check_access(m, env, Op::Write)?;
    check_exist(db, m, ids, env)?;
    check_rules(db, m, env, ids, Op::Write)?;
    let names: Vec<&str> = vals.keys().map(String::as_str).collect();
    check_fields(m, env, &names, Op::Write)?;
    let mut converted = Vec::new();
    let mut x2many = Vec::new();
    let mut related = Map::new();
    for (key, v) in vals {
        let Some(f) = m.field(key) else {
            return Err(invalid_field(key, m));
        };
        if f.related.is_some() {
            related.insert(key.clone(), v.clone());
            continue;
        }
        if f.name == "company_type" {
            converted.push(("is_company", json!(v.as_str() == Some("company"))));
            continue;
        }
        if f.computed || f.name == "create_date" || f.name == "create_uid" {
            continue;
        }
        if f.ty.is_x2many() {
            x2many.push((f, v.clone()));
        } else {
            let value = convert(db, m, f, v, env)?;
            if f.required && is_empty(&value) {
                return Err(required_error(m, f));
            }
            converted.push((f.name, value));
        }
    }
    let now = db.now();
    // Moving lines to another order changes the totals of the order they leave.
    let mut orders: BTreeSet<i64> = BTreeSet::new();
    if m.name == "sale.order.line" {
        orders.extend(ids.iter().filter_map(|id| {
            row(db, m, *id)
                .and_then(|r| r.get("order_id"))
                .and_then(Value::as_i64)
        }));
    }
    for id in ids {
        if let Some(r) = db.table_mut(m.table).rows.get_mut(id) {
            for (name, value) in &converted {
                r.insert(name, value.clone());
            }
            r.insert("write_date", json!(now));
            r.insert("write_uid", json!(env.uid));
        }
        for (f, v) in &x2many {
            apply_x2many(db, m, env, *id, f, v)?;
        }
    }
    if !related.is_empty() {
        write_related(db, m, env, ids, &related)?;
    }
    check_recursion(db, m, ids)?;
    after_change(db, m, ids);
    recompute_orders(db, &orders);
    Ok(())
}

fn unlink(db: &mut Db, m: &'static Model, env: &Env, ids: &[i64]) -> Result<(), OdooError> {
    check_access(m, env, Op::Unlink)?;
    check_exist(db, m, ids, env)?;
    check_rules(db, m, env, ids, Op::Unlink)?;
    if m.name == "sale.order"
        && ids.iter().any(|id| {
            matches!(
                row(db, m, *id)
                    .and_then(|r| r.get("state"))
                    .and_then(Value::as_str),
                Some("sale" | "sent")
            )
        })
    {
        return Err(OdooError::user(
            "You can not delete a sent quotation or a confirmed sales order. You must first cancel it.",
        ));
    }
    let mut orders: BTreeSet<i64> = BTreeSet::new();
    if m.name == "sale.order.line" {
        orders.extend(ids.iter().filter_map(|id| {
            row(db, m, *id)
                .and_then(|r| r.get("order_id"))
                .and_then(Value::as_i64)
        }));
    }
    for id in ids {
        db.table_mut(m.table).rows.remove(id);
    }
    // Referential integrity: cascade order lines, refuse required references, clear the others.
    for other in model::models() {
        if other.table != other.name {
            continue;
        }
        for f in &other.fields {
            let (Ty::M2o(target) | Ty::M2m(target)) = f.ty else {
                continue;
            };
            if target != m.name || f.computed || f.related.is_some() {
                continue;
            }
            let cascade = (other.name, f.name) == ("sale.order.line", "order_id")
                || (other.name, f.name) == ("product.product", "product_tmpl_id");
            let mut to_delete = Vec::new();
            let mut blocked = false;
            for (rid, r) in &mut db.table_mut(other.table).rows {
                match r.get(f.name) {
                    Some(Value::Number(n)) if n.as_i64().is_some_and(|i| ids.contains(&i)) => {
                        if cascade {
                            to_delete.push(*rid);
                        } else if f.required {
                            blocked = true;
                        } else {
                            r.insert(f.name, Value::Null);
                        }
                    }
                    Some(Value::Array(list)) => {
                        let kept: Vec<Value> = list
                            .iter()
                            .filter(|v| v.as_i64().is_none_or(|i| !ids.contains(&i)))
                            .cloned()
                            .collect();
                        r.insert(f.name, Value::Array(kept));
                    }
                    _ => {}
                }
            }
            if blocked {
                return Err(foreign_key(other, f.name));
            }
            for rid in to_delete {
                db.table_mut(other.table).rows.remove(&rid);
            }
        }
    }
    recompute_orders(db, &orders);
    Ok(())
}

fn sale_action(
    db: &mut Db,
    m: &'static Model,
    env: &Env,
    ids: &[i64],
    method: &str,
) -> Result<(), OdooError> {
    check_access(m, env, Op::Write)?;
    check_exist(db, m, ids, env)?;
    check_rules(db, m, env, ids, Op::Write)?;
    let (from, to): (&[&str], &str) = match method {
        "action_confirm" => (&["draft", "sent"], "sale"),
        "action_cancel" => (&["draft", "sent", "sale"], "cancel"),
        _ => (&["cancel", "sent"], "draft"),
    };
    let wrong: Vec<String> = ids
        .iter()
        .filter_map(|id| row(db, m, *id))
        .filter(|r| {
            !r.get("state")
                .and_then(Value::as_str)
                .is_some_and(|s| from.contains(&s))
        })
        .map(|r| {
            r.get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    if !wrong.is_empty() {
        return Err(OdooError::user(format!(
            "The following orders are not in a state requiring confirmation: {}",
            wrong.join(", ")
        )));
    }
    let now = db.now();
    for id in ids {
        if let Some(r) = db.table_mut(m.table).rows.get_mut(id) {
            r.insert("state", json!(to));
            r.insert("write_date", json!(now));
            if to == "sale" {
                r.insert("date_order", json!(now));
            }
        }
    }
    after_change(db, m, ids);
    Ok(())
}

fn pairs(db: &Db, m: &'static Model, env: &Env, ids: &[i64]) -> Vec<Value> {
    ids.iter()
        .map(|id| json!([id, display_name(db, m, *id, env)]))
        .collect()
}

/// `name_search(name, args (domain on Odoo 19), operator, limit)`, with the overrides of
/// `res.users` (login first, the caller first), `product.product` (reference, then barcode,
/// then name) and `res.country` (code first).
fn name_search(db: &Db, m: &'static Model, env: &Env, call: &Call) -> Result<Value, OdooError> {
    let name = call
        .arg("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let operator = call
        .arg("operator")
        .and_then(Value::as_str)
        .unwrap_or("ilike")
        .to_owned();
    let limit = match call.arg("limit") {
        None => Some(100),
        Some(Value::Bool(false)) => None,
        Some(_) => call.int_arg("limit")?,
    };
    let domain_key = match call.version {
        OdooVersion::V18 => "args",
        OdooVersion::V19 => "domain",
    };
    let domain: Vec<Value> = match call.arg(domain_key) {
        Some(Value::Array(d)) => d.clone(),
        _ => Vec::new(),
    };
    let negative = operator.starts_with("not") || operator == "!=";
    let find = |extra: Value, limit: Option<usize>| -> Result<Vec<i64>, OdooError> {
        let extra = match extra {
            Value::Array(items) => items,
            _ => Vec::new(),
        };
        let d = and_domains(vec![extra, domain.clone()]);
        search(db, m, env, Some(&Value::Array(d)), None, limit, None)
    };
    match m.name {
        "product.product" if !name.is_empty() => {
            let positive = ["=", "ilike", "=ilike", "like", "=like"].contains(&operator.as_str());
            let mut ids = Vec::new();
            if positive {
                ids = find(json!([["default_code", "=", name]]), limit)?;
                if ids.is_empty() {
                    ids = find(json!([["barcode", "=", name]]), limit)?;
                }
            }
            if ids.is_empty() {
                if negative {
                    ids = find(
                        json!([
                            ["name", operator, name],
                            "|",
                            ["default_code", operator, name],
                            ["default_code", "=", false]
                        ]),
                        limit,
                    )?;
                } else {
                    ids = find(json!([["default_code", operator, name]]), limit)?;
                    let rest = limit.map(|l| l.saturating_sub(ids.len()));
                    if rest.is_none_or(|r| r > 0) {
                        let more = find(
                            json!([["id", "not in", ids], ["name", operator, name]]),
                            rest,
                        )?;
                        ids.extend(more);
                    }
                }
            }
            if ids.is_empty()
                && positive
                && let Some(code) = name
                    .split_once('[')
                    .and_then(|(_, rest)| rest.split_once(']'))
                    .map(|(code, _)| code.to_owned())
            {
                ids = find(json!([["default_code", "=", code]]), limit)?;
            }
            Ok(Value::Array(pairs(db, m, env, &ids)))
        }
        "res.users" => {
            if !name.is_empty() && !negative {
                let ids = find(json!([["login", "=", name]]), None)?;
                if let Some(first) = ids.first() {
                    return Ok(json!([[first, display_name(db, m, *first, env)]]));
                }
            }
            // The web module puts the caller first, even when the limit left it out.
            let mut ids = find(json!([["display_name", operator, name]]), limit)?;
            if let Some(pos) = ids.iter().position(|i| *i == env.uid) {
                let me = ids.remove(pos);
                ids.insert(0, me);
            } else if limit.is_some_and(|l| ids.len() == l) {
                let me = find(
                    json!([["display_name", operator, name], ["id", "=", env.uid]]),
                    Some(1),
                )?;
                if let Some(me) = me.first() {
                    ids.pop();
                    ids.insert(0, *me);
                }
            }
            Ok(Value::Array(pairs(db, m, env, &ids)))
        }
        "res.country" if !negative && name.chars().count() == 2 => {
            let mut ids = find(json!([["code", operator, name]]), limit)?;
            let rest = limit.map(|l| l.saturating_sub(ids.len()));
            if rest.is_none_or(|r| r > 0) {
                let more = find(
                    json!([["id", "not in", ids], ["display_name", operator, name]]),
                    rest,
                )?;
                ids.extend(more);
            }
            Ok(Value::Array(pairs(db, m, env, &ids)))
        }
        _ => {
            let ids = find(json!([["display_name", operator, name]]), limit)?;
            Ok(Value::Array(pairs(db, m, env, &ids)))
        }
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A `groupby` spec: field name and date interval.
struct GroupSpec {
    key: String,
    field: &'static crate::model::Field,
    interval: Option<String>,
}

fn date_bucket(value: &str, interval: &str, is_datetime: bool) -> Option<(String, String, String)> {
    let y: i64 = value.get(0..4)?.parse().ok()?;
    let mo: u32 = value.get(5..7)?.parse().ok()?;
    let d: u32 = value.get(8..10)?.parse().ok()?;
    let fmt = |y: i64, m: u32, d: u32| {
        if is_datetime {
            format!("{y:04}-{m:02}-{d:02} 00:00:00")
        } else {
            format!("{y:04}-{m:02}-{d:02}")
        }
    };
    let month_name = |m: u32| {
        MONTHS
            .get((m as usize).saturating_sub(1))
            .copied()
            .unwrap_or("")
    };
    Some(match interval {
        "day" => {
            let (ny, nm, nd) = crate::db::civil_from_days(crate::db::days_from_civil(y, mo, d) + 1);
            (
                format!("{d:02} {} {y}", &month_name(mo)[..3]),
                fmt(y, mo, d),
                fmt(ny, nm, nd),
            )
        }
        "year" => (format!("{y}"), fmt(y, 1, 1), fmt(y + 1, 1, 1)),
        "quarter" => {
            let q = (mo - 1) / 3;
            let start = q * 3 + 1;
            let (ey, em) = if q == 3 { (y + 1, 1) } else { (y, start + 3) };
            (format!("Q{} {y}", q + 1), fmt(y, start, 1), fmt(ey, em, 1))
        }
        "week" => {
            let days = crate::db::days_from_civil(y, mo, d);
            // 1970-01-01 was a Thursday; ISO weeks start on Monday.
            let monday = days - (days + 3).rem_euclid(7);
            let (sy, sm, sd) = crate::db::civil_from_days(monday);
            let (ey, em, ed) = crate::db::civil_from_days(monday + 7);
            let week = (monday - crate::db::days_from_civil(sy, 1, 1)) / 7 + 1;
            (format!("W{week} {sy}"), fmt(sy, sm, sd), fmt(ey, em, ed))
        }
        _ => {
            let (ny, nm) = if mo == 12 { (y + 1, 1) } else { (y, mo + 1) };
            (
                format!("{} {y}", month_name(mo)),
                fmt(y, mo, 1),
                fmt(ny, nm, 1),
            )
        }
    })
}

fn and_domains(parts: Vec<Vec<Value>>) -> Vec<Value> {
    let parts: Vec<Vec<Value>> = parts.into_iter().filter(|p| !p.is_empty()).collect();
    let mut out = Vec::new();
    for _ in 1..parts.len() {
        out.push(json!("&"));
    }
    for p in parts {
        // An implicit-AND list of n terms needs n-1 '&' to be one operand.
        let terms = count_terms(&p);
        for _ in 1..terms {
            out.push(json!("&"));
        }
        out.extend(p);
    }
    out
}

fn count_terms(domain: &[Value]) -> usize {
    let mut needed: i64 = 0;
    let mut terms = 0;
    for item in domain {
        if needed == 0 {
            terms += 1;
            needed = 1;
        }
        match item.as_str() {
            Some("&" | "|") => needed += 1,
            Some("!") => {}
            _ => needed -= 1,
        }
    }
    terms
}

fn read_group(db: &Db, m: &'static Model, env: &Env, call: &Call) -> Result<Value, OdooError> {
    let groupby = call.str_list_arg("groupby")?.unwrap_or_default();
    let lazy = call.arg("lazy").is_none_or(|v| !is_empty(v));
    let field_specs = call.str_list_arg("fields")?.unwrap_or_default();
    let mut specs = Vec::new();
    for g in groupby.iter().take(if lazy { 1 } else { usize::MAX }) {
        let (name, interval) = match g.split_once(':') {
            Some((n, i)) => (n, Some(i.to_owned())),
            None => (g.as_str(), None),
        };
        let Some(field) = m.field(name) else {
            return Err(OdooError::value(format!(
                "Invalid field {} on model {}",
                py_repr(&json!(name)),
                py_repr(&json!(m.name))
            )));
        };
        let interval = match field.ty {
            Ty::Date | Ty::Datetime => Some(interval.unwrap_or_else(|| "month".to_owned())),
            _ => None,
        };
        specs.push(GroupSpec {
            key: g.clone(),
            field,
            interval,
        });
    }
    check_fields(
        m,
        env,
        &specs.iter().map(|s| s.field.name).collect::<Vec<_>>(),
        Op::Read,
    )?;
    // Aggregates: (output name, field, function)
    let mut aggs: Vec<(String, &'static crate::model::Field, String)> = Vec::new();
    for spec in &field_specs {
        let (alias, rest) = match spec.split_once(':') {
            Some((a, r)) => (a.to_owned(), Some(r.to_owned())),
            None => (spec.clone(), None),
        };
        if alias == "__count" {
            continue;
        }
        let (fname, func) = match rest {
            Some(r) => match r.split_once('(') {
                Some((func, f)) => (f.trim_end_matches(')').to_owned(), func.to_owned()),
                None => (alias.clone(), r),
            },
            None => (alias.clone(), String::new()),
        };
        let Some(field) = m.field(&fname) else {
            return Err(OdooError::value(format!(
                "Invalid field {} on model {}",
                py_repr(&json!(fname)),
                py_repr(&json!(m.name))
            )));
        };
        if specs.iter().any(|s| s.field.name == field.name) {
            continue;
        }
        let func = if func.is_empty() {
            if field.ty.is_numeric() && field.name != "id" {
                "sum".to_owned()
            } else {
                continue;
            }
        } else {
            func
        };
        if !matches!(
            func.as_str(),
            "sum" | "avg" | "min" | "max" | "count" | "count_distinct" | "bool_and" | "bool_or"
        ) {
            return Err(OdooError::value(format!(
                "Invalid aggregation function {}.",
                py_repr(&json!(func))
            )));
        }
        aggs.push((alias, field, func));
    }
    check_fields(
        m,
        env,
        &aggs.iter().map(|a| a.1.name).collect::<Vec<_>>(),
        Op::Read,
    )?;
    let ids = search(
        db,
        m,
        env,
        call.arg("domain"),
        None,
        None,
        Some(&json!("id")),
    )?;
    // Group the records.
    let mut groups: Vec<(Vec<Value>, Vec<i64>)> = Vec::new();
    for id in &ids {
        let Some(r) = row(db, m, *id) else {
            continue;
        };
        let key: Vec<Value> = specs
            .iter()
            .map(|s| {
                let v = raw(db, m, *id, r, s.field.name, env);
                match (&s.interval, v.as_str()) {
                    (Some(interval), Some(text)) => {
                        date_bucket(text, interval, s.field.ty == Ty::Datetime)
                            .map(|b| json!([b.0, b.1, b.2]))
                            .unwrap_or(Value::Null)
                    }
                    _ => v,
                }
            })
            .collect();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(*id),
            None => groups.push((key, vec![*id])),
        }
    }
    let base_domain: Vec<Value> = call
        .arg("domain")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut results: Vec<(Vec<SortKey>, Map<String, Value>)> = Vec::new();
    for (key, members) in groups {
        let mut out = Map::new();
        let mut group_domain = Vec::new();
        let mut range = Map::new();
        let mut sort = Vec::new();
        for (spec, value) in specs.iter().zip(&key) {
            match (&spec.interval, value) {
                (Some(_), Value::Array(b)) => {
                    out.insert(spec.key.clone(), b[0].clone());
                    group_domain.push(json!("&"));
                    group_domain.push(json!([spec.field.name, ">=", b[1]]));
                    group_domain.push(json!([spec.field.name, "<", b[2]]));
                    range.insert(spec.key.clone(), json!({"from": b[1], "to": b[2]}));
                    sort.push(SortKey::Text(b[1].as_str().unwrap_or("").to_owned()));
                }
                _ => {
                    let shown = match (spec.field.ty, value) {
                        (Ty::M2o(comodel), Value::Number(n)) => {
                            let cm = model::model(comodel);
                            let name = cm
                                .map(|cm| display_name(db, cm, n.as_i64().unwrap_or(0), env))
                                .unwrap_or_default();
                            sort.push(SortKey::Text(name.to_lowercase()));
                            json!([n, name])
                        }
                        (_, Value::Null) => {
                            sort.push(SortKey::Null);
                            Value::Bool(false)
                        }
                        (_, Value::Number(n)) => {
                            sort.push(SortKey::Num(n.as_f64().unwrap_or(0.0)));
                            value.clone()
                        }
                        (_, Value::String(s)) => {
                            sort.push(SortKey::Text(s.to_lowercase()));
                            value.clone()
                        }
                        _ => {
                            sort.push(SortKey::Null);
                            value.clone()
                        }
                    };
                    out.insert(spec.key.clone(), shown);
                    group_domain.push(json!([
                        spec.field.name,
                        "=",
                        if value.is_null() {
                            Value::Bool(false)
                        } else {
                            value.clone()
                        }
                    ]));
                }
            }
        }
        if lazy {
            let name = groupby
                .first()
                .map(|g| g.split(':').next().unwrap_or(g).to_owned())
                .unwrap_or_default();
            out.insert(format!("{name}_count"), json!(members.len()));
        } else {
            out.insert("__count".into(), json!(members.len()));
        }
        for (alias, field, func) in &aggs {
            let values: Vec<Value> = members
                .iter()
                .filter_map(|id| row(db, m, *id).map(|r| raw(db, m, *id, r, field.name, env)))
                .collect();
            let nums: Vec<f64> = values.iter().filter_map(Value::as_f64).collect();
            let agg = match func.as_str() {
                "sum" => num_json(field.ty, nums.iter().sum()),
                "avg" => {
                    if nums.is_empty() {
                        Value::Bool(false)
                    } else {
                        json!(nums.iter().sum::<f64>() / nums.len() as f64)
                    }
                }
                "min" => nums
                    .iter()
                    .copied()
                    .reduce(f64::min)
                    .map(|x| num_json(field.ty, x))
                    .unwrap_or(Value::Bool(false)),
                "max" => nums
                    .iter()
                    .copied()
                    .reduce(f64::max)
                    .map(|x| num_json(field.ty, x))
                    .unwrap_or(Value::Bool(false)),
                "count" => json!(values.iter().filter(|v| !is_empty(v)).count()),
                "count_distinct" => {
                    let distinct: BTreeSet<String> = values
                        .iter()
                        .filter(|v| !is_empty(v))
                        .map(Value::to_string)
                        .collect();
                    json!(distinct.len())
                }
                "bool_and" => json!(values.iter().all(|v| matches!(v, Value::Bool(true)))),
                _ => json!(values.iter().any(|v| matches!(v, Value::Bool(true)))),
            };
            out.insert(alias.clone(), agg);
        }
        if !range.is_empty() {
            out.insert("__range".into(), Value::Object(range));
        }
        out.insert(
            "__domain".into(),
            Value::Array(and_domains(vec![base_domain.clone(), group_domain])),
        );
        if lazy && groupby.len() > 1 {
            out.insert(
                "__context".into(),
                json!({"group_by": groupby[1..].to_vec()}),
            );
        }
        results.push((sort, out));
    }
    // Order the groups.
    let orderby: Vec<(String, bool)> = match call.arg("orderby").and_then(Value::as_str) {
        Some(spec) if !spec.trim().is_empty() => spec
            .split(',')
            .filter_map(|p| {
                let mut w = p.split_whitespace();
                let name = w.next()?.to_owned();
                Some((
                    name,
                    w.next().is_some_and(|d| d.eq_ignore_ascii_case("desc")),
                ))
            })
            .collect(),
        _ => specs.iter().map(|s| (s.key.clone(), false)).collect(),
    };
    results.sort_by(|(ka, a), (kb, b)| {
        for (name, desc) in &orderby {
            let o = if let Some(i) = specs
                .iter()
                .position(|s| s.key == *name || s.field.name == name)
            {
                cmp_keys(&ka[i], &kb[i], *desc)
            } else {
                let va = a
                    .get(name)
                    .and_then(Value::as_f64)
                    .map(SortKey::Num)
                    .unwrap_or(SortKey::Null);
                let vb = b
                    .get(name)
                    .and_then(Value::as_f64)
                    .map(SortKey::Num)
                    .unwrap_or(SortKey::Null);
                cmp_keys(&va, &vb, *desc)
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    let offset = call.int_arg("offset")?.unwrap_or(0);
    let limit = call.int_arg("limit")?.unwrap_or(usize::MAX);
    Ok(Value::Array(
        results
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|(_, g)| Value::Object(g))
            .collect(),
    ))
}

// An integer field's aggregate is an integer, as Odoo truncates it.
#[allow(clippy::cast_possible_truncation)]
fn num_json(ty: Ty, x: f64) -> Value {
    if ty == Ty::Int {
        json!(x as i64)
    } else {
        json!(x)
    }
}
