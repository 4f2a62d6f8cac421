//! A domain checked against the model's metadata and rewritten before it reaches Odoo: every
//! condition's path resolved segment by segment (each use recorded for the policy), name searches
//! turned into conditions on readable name fields (`names`), relations scoped to the key's
//! records domains (`scope`), fields whose search is opaque code refused where fields are hidden.

use serde_json::Value;

use super::args::Args;
use super::domain::{self, CheckedDomain, restrict};
use super::metadata::{FieldInfo, ModelView};
use super::parsed::{FieldUse, Usage};
use super::parser::{CallParser, Refusal, refuse, unknown};
use super::{names, scope};

/// One segment of a field path, on the model that has it.
pub(crate) struct Step {
    model: String,
    field: String,
    info: FieldInfo,
    /// Whether the caller's profile hides fields of `model`.
    restricted: bool,
}

impl CallParser<'_> {
    /// Follow a dotted path through relational fields: each segment with the model that has it
    /// and its metadata, as the caller sees them.
    pub(crate) async fn steps(&self, model: &str, path: &str) -> Result<Vec<Step>, Refusal> {
        domain::check_path_syntax(path).map_err(refuse)?;
        let segments: Vec<&str> = path.split('.').collect();
        let mut current = model.to_owned();
        let mut out: Vec<Step> = Vec::with_capacity(segments.len());
        for (index, segment) in segments.iter().enumerate() {
            let fields = self.fields(&current).await?;
            let Some(field) = fields.get(segment) else {
                return Err(unknown(&fields, &current, segment, path));
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
    pub(crate) async fn domain(
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
}
