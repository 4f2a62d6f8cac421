//! The ORM of the simulated database: access rights, record rules, field groups, and the public
//! model methods (`search_read`, `read`, `create`, `write`, `unlink`, `read_group`, ...).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::db::{Db, Row};
use crate::domain::{self, Node, compare, is_empty, like, loose_eq, substring_pattern};
use crate::error::{Kind, OdooError, py_repr};
use crate::model::{
    self, G_SALE_MANAGER, G_SALESMAN, G_SALESMAN_ALL, GROUPS, GroupId, Model, Op, Ty,
    group_full_name, group_spaced_name,
};

/// Who calls, with which context.
#[derive(Clone, Debug)]
pub(crate) struct Env {
    pub(crate) uid: i64,
    pub(crate) groups: Vec<GroupId>,
    pub(crate) lang: Option<String>,
    pub(crate) active_test: bool,
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
        }
    }

    fn has(&self, group: GroupId) -> bool {
        self.groups.contains(&group)
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

/// Whether the method name is one of the ORM's read-only methods (no transaction snapshot needed).
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
    )
}

/// Parameter names of each public method (after `ids` for record methods).
fn params_of(model: &Model, method: &str) -> Option<(bool, &'static [&'static str])> {
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
        "name_search" => (false, &["name", "domain", "operator", "limit"]),
        "read_group" => (
            false,
            &[
                "domain", "fields", "groupby", "offset", "limit", "orderby", "lazy",
            ],
        ),
        "default_get" => (false, &["fields_list"]),
        "check_access_rights" => (false, &["operation", "raise_exception"]),
        other if model.actions.contains(&other) => (true, &[]),
        _ => return None,
    })
}

/// Whether `method` exists on `model` (public or not).
pub(crate) fn method_exists(model: &Model, method: &str) -> bool {
    params_of(model, method).is_some()
}

/// Whether `method` operates on records (takes `ids` first).
pub(crate) fn is_record_method(model: &Model, method: &str) -> bool {
    params_of(model, method).is_some_and(|p| p.0)
}

/// The parameter names of `method` (for JSON-2 named parameters).
pub(crate) fn param_names(model: &Model, method: &str) -> &'static [&'static str] {
    params_of(model, method).map(|p| p.1).unwrap_or(&[])
}

/// Call a public method the way `execute_kw` does: check the name, bind the arguments, run the
/// method in a transaction. `Ok(None)` is Python's `None`. The second value tells whether the
/// database was changed (and committed).
pub(crate) fn execute(
    db: &mut Db,
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
    let Some((is_record, names)) = params_of(model, method) else {
        return Err(OdooError::new(
            Kind::AttributeError,
            format!("The method '{method}' does not exist on the model '{model_name}'"),
        ));
    };
    let context = kwargs.remove("context");
    let env = Env::for_user(db, uid).with_context(context.as_ref());
    let mut args = args.into_iter();
    let ids = if is_record {
        match args.next() {
            Some(v) => ids_of(&v)?,
            None => {
                return Err(OdooError::type_error(format!(
                    "{}.{method}() missing 1 required positional argument: 'self'",
                    model.name
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
                "{method}() takes {} positional arguments but {} were given",
                names.len() + 1,
                i + 2
            )));
        };
        bound.insert(name, value);
    }
    for (key, value) in kwargs {
        let Some(name) = names.iter().find(|n| **n == key) else {
            return Err(OdooError::type_error(format!(
                "{method}() got an unexpected keyword argument '{key}'"
            )));
        };
        if bound.insert(name, value).is_some() {
            return Err(OdooError::type_error(format!(
                "{method}() got multiple values for argument '{key}'"
            )));
        }
    }
    let call = Call {
        model,
        env,
        ids,
        args: bound,
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

    fn run(&self, db: &mut Db, method: &str) -> Result<Option<Value>, OdooError> {
        let m = self.model;
        let env = &self.env;
        match method {
            "search_read" => {
                let fields = self.str_list_arg("fields")?;
                let ids = search(
                    db,
                    m,
                    env,
                    self.arg("domain"),
                    self.int_arg("offset")?,
                    self.int_arg("limit")?,
                    self.arg("order"),
                )?;
                Ok(Some(Value::Array(read(
                    db,
                    m,
                    env,
                    &ids,
                    fields.as_deref(),
                )?)))
            }
            "search" => {
                let ids = search(
                    db,
                    m,
                    env,
                    self.arg("domain"),
                    self.int_arg("offset")?,
                    self.int_arg("limit")?,
                    self.arg("order"),
                )?;
                Ok(Some(json!(ids)))
            }
            "search_count" => {
                let ids = search(
                    db,
                    m,
                    env,
                    self.arg("domain"),
                    None,
                    self.int_arg("limit")?,
                    None,
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
                    .filter(|id| db.row(m.name, *id).is_some())
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
                    .filter(|id| db.row(m.name, **id).is_some())
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
                let raise = self.arg("raise_exception").is_none_or(|v| !is_empty(v));
                match check_access(m, env, op) {
                    Ok(()) => Ok(Some(Value::Bool(true))),
                    Err(e) if raise => Err(e),
                    Err(_) => Ok(Some(Value::Bool(false))),
                }
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
}

/// Model access rights.
pub(crate) fn check_access(m: &Model, env: &Env, op: Op) -> Result<(), OdooError> {
    if m.allowed(&env.groups, op) {
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

/// The record rule domain of `m` for `env`, if any applies.
fn rule_domain(m: &Model, env: &Env) -> Option<Value> {
    let own_only = env.has(G_SALESMAN) && !env.has(G_SALESMAN_ALL) && !env.has(G_SALE_MANAGER);
    if !own_only {
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
            ["order_id.user_id", "=", env.uid],
            ["order_id.user_id", "=", false]
        ])),
        _ => None,
    }
}

fn check_rules(
    db: &Db,
    m: &'static Model,
    env: &Env,
    ids: &[i64],
    op: Op,
) -> Result<(), OdooError> {
    let Some(rule) = rule_domain(m, env) else {
        return Ok(());
    };
    let node = domain::parse(m, &rule)?;
    let denied: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| {
            db.row(m.name, *id)
                .is_some_and(|row| !eval(db, m, env, *id, row, &node))
        })
        .collect();
    if denied.is_empty() {
        return Ok(());
    }
    let user = db
        .row("res.users", env.uid)
        .and_then(|r| r.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let mut msg = format!(
        "Uh-oh! Looks like you have stumbled upon some top-secret records.\n\nSorry, {user} (id={}) doesn't have '{}' access to:",
        env.uid,
        op.name()
    );
    for id in &denied {
        msg.push_str(&format!(
            "\n- {}, {} ({}: {id})",
            m.description,
            display_name(db, m, *id, env),
            m.name
        ));
    }
    msg.push_str("\n\nIf you really, really need access, perhaps you can win over your friendly administrator with a batch of freshly baked cookies.");
    Err(OdooError::access(msg))
}

/// Field-level access (fields restricted to groups).
fn check_fields(m: &Model, env: &Env, names: &[&str], op: Op) -> Result<(), OdooError> {
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

fn readable(m: &Model, env: &Env, name: &str) -> bool {
    m.field(name)
        .is_some_and(|f| f.groups.is_none_or(|g| env.has(g)))
}

/// Display name of a record.
pub(crate) fn display_name(db: &Db, m: &Model, id: i64, env: &Env) -> String {
    let Some(row) = db.row(m.name, id) else {
        return String::new();
    };
    let text = |row: &Row, key: &str| -> String {
        row.get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    match m.name {
        "res.partner" => {
            let name = text(row, "name");
            if matches!(row.get("is_company"), Some(Value::Bool(true))) {
                return name;
            }
            let mut parent = row.get("parent_id").and_then(Value::as_i64);
            let mut company = text(row, "company_name");
            let mut guard = 0;
            while let Some(pid) = parent {
                guard += 1;
                let Some(prow) = db.row("res.partner", pid) else {
                    break;
                };
                company = text(prow, "name");
                parent = prow.get("parent_id").and_then(Value::as_i64);
                if guard > 32 {
                    break;
                }
            }
            if company.is_empty() {
                name
            } else {
                format!("{company}, {name}")
            }
        }
        "hr.department" => {
            let mut parts = vec![text(row, "name")];
            let mut parent = row.get("parent_id").and_then(Value::as_i64);
            let mut guard = 0;
            while let Some(pid) = parent {
                guard += 1;
                let Some(prow) = db.row("hr.department", pid) else {
                    break;
                };
                parts.push(text(prow, "name"));
                parent = prow.get("parent_id").and_then(Value::as_i64);
                if guard > 32 {
                    break;
                }
            }
            parts.reverse();
            parts.join(" / ")
        }
        "ir.config_parameter" => text(row, "key"),
        "product.product" => match row.get("default_code").and_then(Value::as_str) {
            Some(code) if !code.is_empty() => format!("[{code}] {}", text(row, "name")),
            _ => text(row, "name"),
        },
        _ => translated(db, m, id, row, "name", env)
            .as_str()
            .unwrap_or("")
            .to_owned(),
    }
}

fn translated(db: &Db, m: &Model, id: i64, row: &Row, field: &str, env: &Env) -> Value {
    if let (Some(lang), Some(f)) = (&env.lang, m.field(field))
        && f.translate
        && let Some(t) = db
            .translations
            .iter()
            .find(|((mm, ff, ii, ll), _)| {
                *mm == m.name && *ff == f.name && *ii == id && *ll == lang.as_str()
            })
            .map(|(_, t)| t)
    {
        return Value::String(t.clone());
    }
    row.get(field).cloned().unwrap_or(Value::Null)
}

/// The raw value of a field (stored or computed): many2one as id, x2many as id list.
fn raw(db: &Db, m: &'static Model, id: i64, row: &Row, field: &str, env: &Env) -> Value {
    match field {
        "id" => return json!(id),
        "display_name" | "complete_name" => return json!(display_name(db, m, id, env)),
        _ => {}
    }
    let Some(f) = m.field(field) else {
        return Value::Null;
    };
    match f.ty {
        Ty::O2m(comodel, inverse) => {
            let Some(cm) = model::model(comodel) else {
                return json!([]);
            };
            let Some(table) = db.table(comodel) else {
                return json!([]);
            };
            let mut ids: Vec<i64> = table
                .rows
                .iter()
                .filter(|(_, r)| r.get(inverse).and_then(Value::as_i64) == Some(id))
                .filter(|(_, r)| {
                    !cm.has_active() || !matches!(r.get("active"), Some(Value::Bool(false)))
                })
                .map(|(i, _)| *i)
                .collect();
            sort_ids(
                db,
                cm,
                env,
                &mut ids,
                &parse_order(cm, None).unwrap_or_default(),
            );
            json!(ids)
        }
        _ => match (m.name, field) {
            ("res.partner", "company_type") => {
                json!(
                    if matches!(row.get("is_company"), Some(Value::Bool(true))) {
                        "company"
                    } else {
                        "person"
                    }
                )
            }
            ("res.users", "share") => Value::Bool(false),
            ("res.groups", "full_name") => json!(
                GROUPS
                    .iter()
                    .find(|g| g.1 == id)
                    .map(|g| format!("{} / {}", g.2, g.3))
                    .unwrap_or_default()
            ),
            _ if f.translate => translated(db, m, id, row, field, env),
            _ => row.get(field).cloned().unwrap_or(Value::Null),
        },
    }
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
        Ty::M2o(comodel) => match v.as_i64() {
            Some(rid) if db.row(comodel, rid).is_some() => {
                let cm = model::model(comodel);
                json!([
                    rid,
                    cm.map(|cm| display_name(db, cm, rid, env))
                        .unwrap_or_default()
                ])
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
                    return Err(OdooError::value(format!(
                        "Invalid field {} on model {}",
                        py_repr(&json!(name)),
                        py_repr(&json!(m.name))
                    )));
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
        let Some(row) = db.row(m.name, *id) else {
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

/// Evaluate a parsed domain on one record.
fn eval(db: &Db, m: &'static Model, env: &Env, id: i64, row: &Row, node: &Node) -> bool {
    match node {
        Node::True => true,
        Node::False => false,
        Node::And(a, b) => eval(db, m, env, id, row, a) && eval(db, m, env, id, row, b),
        Node::Or(a, b) => eval(db, m, env, id, row, a) || eval(db, m, env, id, row, b),
        Node::Not(a) => !eval(db, m, env, id, row, a),
        Node::Leaf(leaf) => eval_leaf(db, m, env, id, row, leaf),
    }
}

fn negative(op: &str) -> Option<&'static str> {
    Some(match op {
        "!=" => "=",
        "not in" => "in",
        "not like" => "like",
        "not ilike" => "ilike",
        "not any" => "any",
        _ => return None,
    })
}

fn eval_leaf(
    db: &Db,
    m: &'static Model,
    env: &Env,
    id: i64,
    row: &Row,
    leaf: &domain::Leaf,
) -> bool {
    if let Some(pos) = negative(&leaf.op) {
        let positive = domain::Leaf {
            path: leaf.path.clone(),
            op: pos.to_owned(),
            value: leaf.value.clone(),
            sub: leaf.sub.clone(),
        };
        return !eval_leaf(db, m, env, id, row, &positive);
    }
    // Walk the path to the records holding the last field.
    let mut holders: Vec<(&'static Model, i64)> = vec![(m, id)];
    for part in &leaf.path[..leaf.path.len() - 1] {
        let mut next = Vec::new();
        for (hm, hid) in &holders {
            let Some(hrow) = db.row(hm.name, *hid) else {
                continue;
            };
            let Some(f) = hm.field(part) else { continue };
            let Some(cm) = f.ty.relation().and_then(model::model) else {
                continue;
            };
            match raw(db, hm, *hid, hrow, part, env) {
                Value::Number(n) => next.extend(n.as_i64().map(|i| (cm, i))),
                Value::Array(ids) => {
                    next.extend(ids.iter().filter_map(Value::as_i64).map(|i| (cm, i)));
                }
                _ => {}
            }
        }
        holders = next;
    }
    let last = &leaf.path[leaf.path.len() - 1];
    if holders.is_empty() {
        // A missing intermediate record behaves like an empty value.
        return leaf.op == "=" && is_empty(&leaf.value)
            || leaf.op == "in"
                && leaf
                    .value
                    .as_array()
                    .is_some_and(|l| l.iter().any(is_empty));
    }
    holders.iter().any(|(hm, hid)| {
        let Some(hrow) = (if *hid == id && std::ptr::eq(*hm, m) {
            Some(row)
        } else {
            db.row(hm.name, *hid)
        }) else {
            return false;
        };
        let Some(f) = hm.field(last) else {
            return false;
        };
        let value = raw(db, hm, *hid, hrow, last, env);
        match_value(db, hm, env, *hid, f, &value, leaf)
    })
}

fn match_value(
    db: &Db,
    hm: &'static Model,
    env: &Env,
    hid: i64,
    f: &crate::model::Field,
    value: &Value,
    leaf: &domain::Leaf,
) -> bool {
    let op = leaf.op.as_str();
    let arg = &leaf.value;
    if f.name == "id" && (op == "child_of" || op == "parent_of") {
        return hierarchy_match(db, hm, hid, arg, op);
    }
    match f.ty {
        Ty::M2o(comodel) | Ty::O2m(comodel, _) | Ty::M2m(comodel) => {
            let cm = model::model(comodel);
            let ids: Vec<i64> = match value {
                Value::Number(n) => n.as_i64().into_iter().collect(),
                Value::Array(a) => a.iter().filter_map(Value::as_i64).collect(),
                _ => Vec::new(),
            };
            let name_of = |i: i64| {
                cm.map(|cm| display_name(db, cm, i, env))
                    .unwrap_or_default()
            };
            match op {
                "=" => match arg {
                    Value::Bool(false) | Value::Null => ids.is_empty(),
                    Value::Number(n) => n.as_i64().is_some_and(|a| ids.contains(&a)),
                    Value::String(s) => ids.iter().any(|i| name_of(*i) == *s),
                    _ => false,
                },
                "in" => match arg {
                    Value::Array(list) => {
                        (ids.is_empty() && list.iter().any(is_empty))
                            || list.iter().any(|a| match a {
                                Value::Number(n) => n.as_i64().is_some_and(|a| ids.contains(&a)),
                                Value::String(s) => ids.iter().any(|i| name_of(*i) == *s),
                                _ => false,
                            })
                    }
                    other => ids.iter().any(|i| other.as_i64() == Some(*i)),
                },
                "like" | "ilike" | "=like" | "=ilike" => {
                    let Some(pattern) = arg.as_str() else {
                        return ids.is_empty();
                    };
                    let pat = if op.starts_with('=') {
                        pattern.to_owned()
                    } else {
                        substring_pattern(pattern)
                    };
                    ids.iter()
                        .any(|i| like(&pat, &name_of(*i), op.ends_with("ilike")))
                }
                "child_of" | "parent_of" => match cm {
                    Some(cm) => ids.iter().any(|i| hierarchy_match(db, cm, *i, arg, op)),
                    None => false,
                },
                "any" => match (&leaf.sub, cm) {
                    (Some(sub), Some(cm)) => ids.iter().any(|i| {
                        db.row(cm.name, *i)
                            .is_some_and(|r| eval(db, cm, env, *i, r, sub))
                    }),
                    _ => false,
                },
                "<" | ">" | "<=" | ">=" => ids.iter().any(|i| ordered(op, compare(&json!(i), arg))),
                _ => false,
            }
        }
        ty => match op {
            "=" => loose_eq(ty, value, arg),
            "in" => match arg {
                Value::Array(list) => list.iter().any(|a| loose_eq(ty, value, a)),
                other => loose_eq(ty, value, other),
            },
            "like" | "ilike" | "=like" | "=ilike" => {
                let text = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return false,
                };
                let Some(pattern) = arg.as_str() else {
                    return false;
                };
                let pat = if op.starts_with('=') {
                    pattern.to_owned()
                } else {
                    substring_pattern(pattern)
                };
                like(&pat, &text, op.ends_with("ilike"))
            }
            "<" | ">" | "<=" | ">=" => !is_empty(value) && ordered(op, compare(value, arg)),
            _ => false,
        },
    }
}

fn ordered(op: &str, ord: Option<Ordering>) -> bool {
    match (op, ord) {
        ("<", Some(Ordering::Less)) | (">", Some(Ordering::Greater)) => true,
        ("<=", Some(o)) => o != Ordering::Greater,
        (">=", Some(o)) => o != Ordering::Less,
        _ => false,
    }
}

/// `child_of` / `parent_of` through the model's parent field.
fn hierarchy_match(db: &Db, m: &Model, id: i64, arg: &Value, op: &str) -> bool {
    let Some((parent_field, _)) = m.parent else {
        return ids_of(arg).is_ok_and(|ids| ids.contains(&id));
    };
    let Ok(targets) = ids_of(arg) else {
        return false;
    };
    let ancestors_of = |start: i64| -> Vec<i64> {
        let mut chain = vec![start];
        let mut cur = start;
        for _ in 0..64 {
            match db
                .row(m.name, cur)
                .and_then(|r| r.get(parent_field))
                .and_then(Value::as_i64)
            {
                Some(p) if !chain.contains(&p) => {
                    chain.push(p);
                    cur = p;
                }
                _ => break,
            }
        }
        chain
    };
    if op == "child_of" {
        ancestors_of(id).iter().any(|a| targets.contains(a))
    } else {
        targets.iter().any(|t| ancestors_of(*t).contains(&id))
    }
}

/// Parse an `order` spec; `None` gives the model's default order.
fn parse_order(m: &Model, order: Option<&Value>) -> Result<Vec<(String, bool)>, OdooError> {
    let spec = match order {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        None | Some(Value::Null | Value::Bool(false) | Value::String(_)) => m.order.to_owned(),
        Some(other) => {
            return Err(OdooError::value(format!(
                "Invalid \"order\" specified ({})",
                py_repr(other)
            )));
        }
    };
    let mut out = Vec::new();
    for part in spec.split(',') {
        let mut words = part.split_whitespace();
        let Some(name) = words.next() else { continue };
        let desc = match words.next().map(str::to_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => {
                return Err(OdooError::value(format!(
                    "Invalid \"order\" specified ({spec}). A valid \"order\" specification is a comma-separated list of valid field names (optionally followed by asc/desc for the direction)"
                )));
            }
        };
        let name = name.split(':').next().unwrap_or(name);
        if name == "sequence" && m.field("sequence").is_none() {
            continue;
        }
        if m.field(name).is_none() {
            return Err(OdooError::value(format!(
                "Invalid field {} on model {}",
                py_repr(&json!(name)),
                py_repr(&json!(m.name))
            )));
        }
        out.push((name.to_owned(), desc));
    }
    Ok(out)
}

#[derive(PartialEq, PartialOrd)]
enum SortKey {
    Num(f64),
    Text(String),
    Null,
}

fn sort_key(db: &Db, m: &'static Model, env: &Env, id: i64, row: &Row, field: &str) -> SortKey {
    let v = raw(db, m, id, row, field, env);
    let f = m.field(field);
    match (f.map(|f| f.ty), &v) {
        (_, Value::Null) => SortKey::Null,
        (Some(Ty::M2o(comodel)), Value::Number(n)) => {
            let cm = model::model(comodel);
            SortKey::Text(
                cm.map(|cm| display_name(db, cm, n.as_i64().unwrap_or(0), env))
                    .unwrap_or_default()
                    .to_lowercase(),
            )
        }
        (Some(Ty::Sel(options)), Value::String(s)) => {
            SortKey::Num(options.iter().position(|o| o.0 == s).unwrap_or(usize::MAX) as f64)
        }
        (_, Value::Number(n)) => SortKey::Num(n.as_f64().unwrap_or(0.0)),
        (_, Value::Bool(b)) => SortKey::Num(if *b { 1.0 } else { 0.0 }),
        (_, Value::String(s)) => SortKey::Text(s.to_lowercase()),
        _ => SortKey::Null,
    }
}

fn cmp_keys(a: &SortKey, b: &SortKey, desc: bool) -> Ordering {
    // PostgreSQL: NULLS LAST for ASC, NULLS FIRST for DESC.
    let ord = match (a, b) {
        (SortKey::Null, SortKey::Null) => Ordering::Equal,
        (SortKey::Null, _) => Ordering::Greater,
        (_, SortKey::Null) => Ordering::Less,
        _ => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    };
    if desc { ord.reverse() } else { ord }
}

fn sort_ids(db: &Db, m: &'static Model, env: &Env, ids: &mut Vec<i64>, order: &[(String, bool)]) {
    let mut keyed: Vec<(i64, Vec<SortKey>)> = ids
        .iter()
        .filter_map(|id| {
            db.row(m.name, *id).map(|row| {
                (
                    *id,
                    order
                        .iter()
                        .map(|(f, _)| sort_key(db, m, env, *id, row, f))
                        .collect(),
                )
            })
        })
        .collect();
    keyed.sort_by(|(ia, ka), (ib, kb)| {
        for (i, (_, desc)) in order.iter().enumerate() {
            let o = cmp_keys(&ka[i], &kb[i], *desc);
            if o != Ordering::Equal {
                return o;
            }
        }
        ia.cmp(ib)
    });
    *ids = keyed.into_iter().map(|(id, _)| id).collect();
}

/// `search`: ids matching the domain, record rules and `active`, ordered and sliced.
pub(crate) fn search(
    db: &Db,
    m: &'static Model,
    env: &Env,
    domain: Option<&Value>,
    offset: Option<usize>,
    limit: Option<usize>,
    order: Option<&Value>,
) -> Result<Vec<i64>, OdooError> {
    check_access(m, env, Op::Read)?;
    let node = domain::parse(m, domain.unwrap_or(&Value::Null))?;
    check_domain_fields(m, env, &node)?;
    let order = parse_order(m, order)?;
    let active_filter = env.active_test && m.has_active() && !domain::mentions_active(&node);
    let rule = match rule_domain(m, env) {
        Some(r) => Some(domain::parse(m, &r)?),
        None => None,
    };
    let Some(table) = db.table(m.name) else {
        return Ok(Vec::new());
    };
    let mut ids: Vec<i64> = table
        .rows
        .iter()
        .filter(|(_, row)| !active_filter || !matches!(row.get("active"), Some(Value::Bool(false))))
        .filter(|(id, row)| rule.as_ref().is_none_or(|r| eval(db, m, env, **id, row, r)))
        .filter(|(id, row)| eval(db, m, env, **id, row, &node))
        .map(|(id, _)| *id)
        .collect();
    sort_ids(db, m, env, &mut ids, &order);
    let offset = offset.unwrap_or(0);
    let ids: Vec<i64> = ids
        .into_iter()
        .skip(offset)
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    Ok(ids)
}

fn check_domain_fields(m: &Model, env: &Env, node: &Node) -> Result<(), OdooError> {
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
        d.insert("depends", json!([]));
        d.insert("exportable", json!(true));
        d.insert("groupable", json!(!f.computed && !f.ty.is_x2many()));
        d.insert("manual", json!(false));
        d.insert("name", json!(f.name));
        d.insert("readonly", json!(f.readonly));
        d.insert("required", json!(f.required));
        d.insert("searchable", json!(true));
        d.insert("sortable", json!(!f.computed && !f.ty.is_x2many()));
        d.insert("store", json!(!f.computed && !matches!(f.ty, Ty::O2m(..))));
        d.insert("string", json!(f.string));
        d.insert("type", json!(f.ty.name()));
        d.insert("translate", json!(f.translate));
        if let Some(h) = f.help {
            d.insert("help", json!(h));
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
        ("crm.lead", "type") => json!("opportunity"),
        (_, "company_id") if m.field("company_id").is_some() && m.name != "res.partner" => json!(1),
        ("sale.order", "currency_id") => json!(1),
        _ => return None,
    })
}

/// Convert one incoming value to its stored form.
fn convert(db: &Db, m: &Model, f: &crate::model::Field, v: &Value) -> Result<Value, OdooError> {
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
            if db.row(comodel, id).is_none() {
                return Err(OdooError::validation(format!(
                    "The operation cannot be completed: another model requires the record being deleted. If possible, archive it instead.\n\nModel: {} ({})\nField: {} ({})\n",
                    m.description, m.name, f.string, f.name
                )));
            }
            json!(id)
        }
        Ty::M2m(_) | Ty::O2m(..) => return Err(wrong()),
    })
}

/// Apply x2many commands of field `f` on record `id`.
fn apply_x2many(
    db: &mut Db,
    m: &'static Model,
    env: &Env,
    id: i64,
    f: &crate::model::Field,
    v: &Value,
) -> Result<(), OdooError> {
    let wrong = || {
        OdooError::value(format!(
            "Wrong value for {}.{}: {}",
            m.name,
            f.name,
            py_repr(v)
        ))
    };
    let Value::Array(cmds) = v else {
        return if is_empty(v) { Ok(()) } else { Err(wrong()) };
    };
    match f.ty {
        Ty::M2m(comodel) => {
            let mut current: Vec<i64> = db
                .row(m.name, id)
                .and_then(|r| r.get(f.name))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_i64).collect())
                .unwrap_or_default();
            for cmd in cmds {
                match cmd {
                    Value::Number(n) => {
                        let i = n.as_i64().ok_or_else(wrong)?;
                        if !current.contains(&i) {
                            current.push(i);
                        }
                    }
                    Value::Array(c) => {
                        let code = c.first().and_then(Value::as_i64).ok_or_else(wrong)?;
                        let arg = c.get(1).and_then(Value::as_i64);
                        match code {
                            3 | 2 => current.retain(|x| Some(*x) != arg),
                            4 => {
                                let i = arg.ok_or_else(wrong)?;
                                if !current.contains(&i) {
                                    current.push(i);
                                }
                            }
                            5 => current.clear(),
                            6 => current = c.get(2).map(ids_of).transpose()?.unwrap_or_default(),
                            _ => return Err(wrong()),
                        }
                    }
                    _ => return Err(wrong()),
                }
            }
            for i in &current {
                if db.row(comodel, *i).is_none() {
                    return Err(wrong());
                }
            }
            if let Some(row) = db.table_mut(m.name).rows.get_mut(&id) {
                row.insert(f.name, json!(current));
            }
        }
        Ty::O2m(comodel, inverse) => {
            let Some(cm) = model::model(comodel) else {
                return Err(wrong());
            };
            for cmd in cmds {
                let Value::Array(c) = cmd else {
                    return Err(wrong());
                };
                let code = c.first().and_then(Value::as_i64).ok_or_else(wrong)?;
                let arg = c.get(1).and_then(Value::as_i64);
                match code {
                    0 => {
                        let mut vals = c
                            .get(2)
                            .and_then(Value::as_object)
                            .cloned()
                            .unwrap_or_default();
                        vals.insert(inverse.to_owned(), json!(id));
                        create_one(db, cm, env, &vals)?;
                    }
                    1 => {
                        let vals = c
                            .get(2)
                            .and_then(Value::as_object)
                            .cloned()
                            .unwrap_or_default();
                        write(db, cm, env, &[arg.ok_or_else(wrong)?], &vals)?;
                    }
                    2 => unlink(db, cm, env, &[arg.ok_or_else(wrong)?])?,
                    3 | 4 => {
                        let target = arg.ok_or_else(wrong)?;
                        let val = if code == 4 { json!(id) } else { Value::Null };
                        match db.table_mut(comodel).rows.get_mut(&target) {
                            Some(row) => {
                                row.insert(inverse, val);
                            }
                            None => return Err(missing(cm, &[target], env)),
                        }
                    }
                    5 | 6 => {
                        let keep: Vec<i64> = if code == 6 {
                            c.get(2).map(ids_of).transpose()?.unwrap_or_default()
                        } else {
                            Vec::new()
                        };
                        for (cid, row) in &mut db.table_mut(comodel).rows {
                            let linked = row.get(inverse).and_then(Value::as_i64) == Some(id);
                            if keep.contains(cid) {
                                row.insert(inverse, json!(id));
                            } else if linked {
                                row.insert(inverse, Value::Null);
                            }
                        }
                    }
                    _ => return Err(wrong()),
                }
            }
        }
        _ => return Err(wrong()),
    }
    Ok(())
}

fn missing(m: &Model, ids: &[i64], env: &Env) -> OdooError {
    let tuple = if ids.len() == 1 {
        format!("({},)", ids[0])
    } else {
        format!(
            "({})",
            ids.iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    OdooError::new(
        Kind::MissingError,
        format!(
            "Record does not exist or has been deleted.\n(Record: {}{tuple}, User: {})",
            m.name, env.uid
        ),
    )
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

fn create_one(
    db: &mut Db,
    m: &'static Model,
    env: &Env,
    vals: &Map<String, Value>,
) -> Result<i64, OdooError> {
    check_access(m, env, Op::Create)?;
    let names: Vec<&str> = vals.keys().map(String::as_str).collect();
    check_fields(m, env, &names, Op::Write)?;
    let id = {
        let table = db.table_mut(m.name);
        let mut id = table.next_id.max(1);
        while table.rows.contains_key(&id) {
            id += 1;
        }
        table.next_id = id + 1;
        id
    };
    let now = db.now();
    let mut row = Row::new();
    for f in &m.fields {
        if let Some(v) = default_value(db, m, env, f.name) {
            row.insert(f.name, v);
        }
    }
    row.insert("create_date", json!(now));
    row.insert("write_date", json!(now));
    row.insert("create_uid", json!(env.uid));
    row.insert("write_uid", json!(env.uid));
    let mut x2many = Vec::new();
    for (key, v) in vals {
        let Some(f) = m.field(key) else {
            tracing::debug!(model = m.name, field = %key, "create ignores an unknown field");
            continue;
        };
        if f.computed {
            continue;
        }
        if f.ty.is_x2many() {
            x2many.push((f, v.clone()));
            continue;
        }
        row.insert(f.name, convert(db, m, f, v)?);
    }
    if m.name == "sale.order" && row.get("name").is_none_or(is_empty) {
        row.insert("name", json!(format!("S{id:05}")));
    }
    if m.name == "sale.order.line" {
        fill_order_line(db, &mut row);
    }
    for f in &m.fields {
        if f.required
            && row.get(f.name).is_none_or(is_empty)
            && !(m.name == "sale.order.line" && f.name == "name")
        {
            return Err(required_error(m, f));
        }
    }
    db.table_mut(m.name).rows.insert(id, row);
    for (f, v) in x2many {
        apply_x2many(db, m, env, id, f, &v)?;
    }
    check_recursion(db, m, &[id])?;
    after_change(db, m, &[id]);
    Ok(id)
}

fn fill_order_line(db: &Db, row: &mut Row) {
    let product = row
        .get("product_id")
        .and_then(Value::as_i64)
        .and_then(|p| db.row("product.product", p));
    if row.get("price_unit").is_none_or(Value::is_null) {
        let price = product
            .and_then(|p| p.get("list_price"))
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        row.insert("price_unit", json!(price));
    }
    if row.get("name").is_none_or(is_empty) {
        let name = product
            .and_then(|p| p.get("name"))
            .cloned()
            .unwrap_or(json!("/"));
        row.insert("name", name);
    }
    if row.get("product_uom_qty").is_none_or(Value::is_null) {
        row.insert("product_uom_qty", json!(1.0));
    }
}

/// Recompute stored dependent values after a change (order amounts, line subtotals).
fn after_change(db: &mut Db, m: &Model, ids: &[i64]) {
    let mut orders: BTreeSet<i64> = BTreeSet::new();
    match m.name {
        "sale.order.line" => {
            for id in ids {
                if let Some(row) = db.table_mut("sale.order.line").rows.get_mut(id) {
                    let qty = row
                        .get("product_uom_qty")
                        .and_then(Value::as_f64)
                        .unwrap_or(0.0);
                    let price = row.get("price_unit").and_then(Value::as_f64).unwrap_or(0.0);
                    row.insert("price_subtotal", json!(qty * price));
                    row.insert("price_total", json!(qty * price));
                    if let Some(o) = row.get("order_id").and_then(Value::as_i64) {
                        orders.insert(o);
                    }
                }
            }
        }
        "sale.order" => orders.extend(ids.iter().copied()),
        _ => return,
    }
    for order in orders {
        let (total, state, user) = {
            let total: f64 = db
                .table("sale.order.line")
                .map(|t| {
                    t.rows
                        .values()
                        .filter(|r| r.get("order_id").and_then(Value::as_i64) == Some(order))
                        .filter_map(|r| r.get("price_subtotal").and_then(Value::as_f64))
                        .sum()
                })
                .unwrap_or(0.0);
            let row = db.row("sale.order", order);
            (
                total,
                row.and_then(|r| r.get("state")).cloned(),
                row.and_then(|r| r.get("user_id")).cloned(),
            )
        };
        if let Some(row) = db.table_mut("sale.order").rows.get_mut(&order) {
            row.insert("amount_untaxed", json!(total));
            row.insert("amount_tax", json!(0.0));
            row.insert("amount_total", json!(total));
        }
        for row in db.table_mut("sale.order.line").rows.values_mut() {
            if row.get("order_id").and_then(Value::as_i64) == Some(order) {
                row.insert("state", state.clone().unwrap_or(Value::Null));
                row.insert("salesman_id", user.clone().unwrap_or(Value::Null));
            }
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
            match db
                .row(m.name, cur)
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

/// `write` the same values on every record.
fn write(
    db: &mut Db,
    m: &'static Model,
    env: &Env,
    ids: &[i64],
    vals: &Map<String, Value>,
) -> Result<(), OdooError> {
    check_access(m, env, Op::Write)?;
    let absent: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| db.row(m.name, *id).is_none())
        .collect();
    if !absent.is_empty() {
        return Err(missing(m, &absent, env));
    }
    check_rules(db, m, env, ids, Op::Write)?;
    let names: Vec<&str> = vals.keys().map(String::as_str).collect();
    check_fields(m, env, &names, Op::Write)?;
    let mut converted = Vec::new();
    let mut x2many = Vec::new();
    for (key, v) in vals {
        let Some(f) = m.field(key) else {
            return Err(OdooError::value(format!(
                "Invalid field {} on model {}",
                py_repr(&json!(key)),
                py_repr(&json!(m.name))
            )));
        };
        if f.computed || f.name == "create_date" || f.name == "create_uid" {
            continue;
        }
        if f.ty.is_x2many() {
            x2many.push((f, v.clone()));
        } else {
            let value = convert(db, m, f, v)?;
            if f.required && is_empty(&value) {
                return Err(required_error(m, f));
            }
            converted.push((f.name, value));
        }
    }
    let now = db.now();
    for id in ids {
        if let Some(row) = db.table_mut(m.name).rows.get_mut(id) {
            for (name, value) in &converted {
                row.insert(name, value.clone());
            }
            row.insert("write_date", json!(now));
            row.insert("write_uid", json!(env.uid));
        }
        for (f, v) in &x2many {
            apply_x2many(db, m, env, *id, f, v)?;
        }
    }
    check_recursion(db, m, ids)?;
    after_change(db, m, ids);
    Ok(())
}

fn unlink(db: &mut Db, m: &'static Model, env: &Env, ids: &[i64]) -> Result<(), OdooError> {
    check_access(m, env, Op::Unlink)?;
    let ids: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| db.row(m.name, *id).is_some())
        .collect();
    check_rules(db, m, env, &ids, Op::Unlink)?;
    if m.name == "sale.order"
        && ids.iter().any(|id| {
            matches!(
                db.row(m.name, *id)
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
    for id in &ids {
        db.table_mut(m.name).rows.remove(id);
    }
    // Referential integrity: cascade order lines, refuse required references, clear the others.
    for other in model::models() {
        for f in &other.fields {
            let (Ty::M2o(target) | Ty::M2m(target)) = f.ty else {
                continue;
            };
            if target != m.name || f.computed {
                continue;
            }
            let cascade = other.name == "sale.order.line" && f.name == "order_id";
            let mut to_delete = Vec::new();
            let mut blocked = false;
            for (rid, row) in &mut db.table_mut(other.name).rows {
                match row.get(f.name) {
                    Some(Value::Number(n)) if n.as_i64().is_some_and(|i| ids.contains(&i)) => {
                        if cascade {
                            to_delete.push(*rid);
                        } else if f.required {
                            blocked = true;
                        } else {
                            row.insert(f.name, Value::Null);
                        }
                    }
                    Some(Value::Array(list)) => {
                        let kept: Vec<Value> = list
                            .iter()
                            .filter(|v| v.as_i64().is_none_or(|i| !ids.contains(&i)))
                            .cloned()
                            .collect();
                        row.insert(f.name, Value::Array(kept));
                    }
                    _ => {}
                }
            }
            if blocked {
                return Err(OdooError::validation(format!(
                    "The operation cannot be completed: another model requires the record being deleted. If possible, archive it instead.\n\nModel: {} ({})\nConstraint: {}_{}_fkey\n",
                    other.description,
                    other.name,
                    other.name.replace('.', "_"),
                    f.name
                )));
            }
            for rid in to_delete {
                db.table_mut(other.name).rows.remove(&rid);
            }
        }
    }
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
    let absent: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| db.row(m.name, *id).is_none())
        .collect();
    if !absent.is_empty() {
        return Err(missing(m, &absent, env));
    }
    check_rules(db, m, env, ids, Op::Write)?;
    let (from, to): (&[&str], &str) = match method {
        "action_confirm" => (&["draft", "sent"], "sale"),
        "action_cancel" => (&["draft", "sent", "sale"], "cancel"),
        _ => (&["cancel", "sent"], "draft"),
    };
    let wrong: Vec<String> = ids
        .iter()
        .filter_map(|id| db.row(m.name, *id))
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
        if let Some(row) = db.table_mut(m.name).rows.get_mut(id) {
            row.insert("state", json!(to));
            row.insert("write_date", json!(now));
            if to == "sale" {
                row.insert("date_order", json!(now));
            }
        }
    }
    after_change(db, m, ids);
    Ok(())
}

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
    let limit = call.int_arg("limit")?.unwrap_or(100);
    let mut domain: Vec<Value> = match call.arg("domain") {
        Some(Value::Array(d)) => d.clone(),
        _ => Vec::new(),
    };
    if !name.is_empty() || operator != "ilike" {
        let leaf_fields: &[&str] = if m.name == "res.partner" {
            &["display_name", "email", "ref", "vat"]
        } else {
            &["display_name"]
        };
        let mut names = Vec::new();
        for _ in 1..leaf_fields.len() {
            names.push(json!("|"));
        }
        for f in leaf_fields {
            names.push(json!([f, operator, name]));
        }
        domain = and_domains(vec![names, domain]);
    }
    let ids = search(
        db,
        m,
        env,
        Some(&Value::Array(domain)),
        None,
        Some(limit),
        None,
    )?;
    Ok(Value::Array(
        ids.into_iter()
            .map(|id| json!([id, display_name(db, m, id, env)]))
            .collect(),
    ))
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
        let Some(row) = db.row(m.name, *id) else {
            continue;
        };
        let key: Vec<Value> = specs
            .iter()
            .map(|s| {
                let v = raw(db, m, *id, row, s.field.name, env);
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
                        (Ty::Sel(options), Value::String(s)) => {
                            sort.push(SortKey::Num(
                                options.iter().position(|o| o.0 == s).unwrap_or(0) as f64,
                            ));
                            value.clone()
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
                .filter_map(|id| {
                    db.row(m.name, *id)
                        .map(|row| raw(db, m, *id, row, field.name, env))
                })
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
            Value::Array(and_domains(vec![group_domain, base_domain.clone()])),
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
