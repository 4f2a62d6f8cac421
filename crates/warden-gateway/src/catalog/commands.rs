//! Relational values are operations on other models. In Odoo's create and write, a many2one takes
//! a record of another model, and a one2many or many2many takes commands — `[0, 0, vals]`
//! create, `[1, id, vals]` update, `[2, id]` delete, `[3, id]` unlink, `[4, id]` link, `[5]`
//! clear, `[6, 0, ids]` replace (a plain list of ids is a replace too) — that create, change,
//! delete, move or drop records of the comodel. Each is checked as the operation it is on that
//! model: the model must be visible, the operation allowed there, the values written allowed
//! there (recursively), and every record it names within the key's records domain there.
//!
//! **Invariant:** a create or update changes records of another model only as the key could
//! change them with that model's own tools; records it cannot name (`[5]`, `[6, 0, ids]`, which
//! drop every other linked record) are changed only where the key sees every record.

use serde_json::{Map, Value};

use super::Operation;
use super::domain;
use super::metadata::ModelView;
use super::parsed::{FieldUse, Usage};
use super::parser::{CallParser, Refusal, refuse};

/// Most nesting of values inside commands inside values.
pub(crate) const MAX_DEPTH: usize = 4;

/// One x2many command.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Command {
    Create(Map<String, Value>),
    Update(i64, Map<String, Value>),
    Delete(i64),
    Unlink(i64),
    Link(i64),
    Clear,
    Set(Vec<i64>),
}

/// A change a create or update makes on records of another model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NestedChange {
    /// The field of the values that makes it, as a path from the call's model
    /// (`child_ids`, `order_line.tax_id`).
    pub via: String,
    /// The model changed.
    pub model: String,
    /// What is done to it: create, write, unlink, or a link to existing records.
    pub operation: Operation,
    /// The records it names (each must be within the key's records domain of `model`).
    pub ids: Vec<i64>,
    /// For a one2many command that names records: the inverse many2one and the records being
    /// written; the named records must already belong to those (a command never reaches, or
    /// moves, another record's lines).
    pub member_of: Option<(String, Vec<i64>)>,
}

fn id(value: &Value, what: &str) -> Result<i64, String> {
    value
        .as_i64()
        .filter(|id| *id > 0)
        .ok_or_else(|| format!("{what}: the record id must be a positive integer"))
}

fn values(value: Option<&Value>, what: &str) -> Result<Map<String, Value>, String> {
    match value {
        Some(Value::Object(map)) => Ok(map.clone()),
        _ => Err(format!(
            "{what}: the values must be an object of field values"
        )),
    }
}

/// The commands of a one2many or many2many value.
pub(crate) fn parse(field: &str, value: &Value) -> Result<Vec<Command>, String> {
    match value {
        Value::Null | Value::Bool(false) => return Ok(vec![Command::Clear]),
        Value::Array(items) if items.iter().all(Value::is_i64) => {
            let ids = items
                .iter()
                .map(|v| id(v, field))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(vec![Command::Set(ids)]);
        }
        Value::Array(_) => {}
        _ => {
            return Err(format!(
                "{field:?} takes a list of commands, e.g. [[4, 12]] to link record 12 or [[0, 0, {{\"name\": \"x\"}}]] to create one"
            ));
        }
    }
    let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let what = format!("command {} of {field:?}", index + 1);
            let Value::Array(parts) = item else {
                return Err(format!(
                    "{what} must be a list such as [4, 12]; mix no ids with commands"
                ));
            };
            let code = parts.first().and_then(Value::as_i64);
            Ok(match (code, parts.len()) {
                (Some(0), 3) => Command::Create(values(parts.get(2), &what)?),
                (Some(1), 3) => Command::Update(id(&parts[1], &what)?, values(parts.get(2), &what)?),
                (Some(2), 2 | 3) => Command::Delete(id(&parts[1], &what)?),
                (Some(3), 2 | 3) => Command::Unlink(id(&parts[1], &what)?),
                (Some(4), 2 | 3) => Command::Link(id(&parts[1], &what)?),
                (Some(5), 1..=3) => Command::Clear,
                (Some(6), 3) => match &parts[2] {
                    Value::Array(ids) => Command::Set(
                        ids.iter()
                            .map(|v| id(v, &what))
                            .collect::<Result<Vec<_>, _>>()?,
                    ),
                    _ => return Err(format!("{what}: [6, 0, ids] takes a list of ids")),
                },
                _ => {
                    return Err(format!(
                        "{what} is not an Odoo command: use [0, 0, values], [1, id, values], [2, id], [3, id], [4, id], [5] or [6, 0, ids]"
                    ));
                }
            })
        })
        .collect()
}

/// How a relational field relates the records being written to the comodel's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Relation<'a> {
    /// The field, as a path from the call's model.
    pub(crate) via: &'a str,
    pub(crate) comodel: &'a str,
    /// For a one2many: the comodel's inverse many2one.
    pub(crate) inverse: Option<&'a str>,
    /// Whether the key has a records domain on the comodel.
    pub(crate) restricted: bool,
    /// Whether the key has a records domain on the model written: then a one2many command may
    /// name only records that already belong to the records written (an in-scope order's
    /// lines, never another order's).
    pub(crate) scoped: bool,
    /// The records whose values these are (`None` while they are being created).
    pub(crate) owners: Option<&'a [i64]>,
}

/// The changes one command makes on the comodel through `relation`. The values of create and
/// update commands are checked by the caller.
pub(crate) fn changes(
    relation: Relation<'_>,
    command: &Command,
) -> Result<Vec<NestedChange>, String> {
    let Relation {
        via,
        comodel,
        inverse,
        restricted,
        scoped,
        owners,
    } = relation;
    let one2many = inverse.is_some();
    // Where the written model has a records domain, a one2many command that names records may
    // only name records of the records written.
    let member_of = |ids: &[i64]| -> Result<Option<(String, Vec<i64>)>, String> {
        match (inverse, owners) {
            (Some(_), _) if ids.is_empty() || !scoped => Ok(None),
            (Some(inverse), Some(owners)) => Ok(Some((inverse.to_owned(), owners.to_vec()))),
            (Some(_), None) => Err(format!(
                "{via:?}: a record being created has no {comodel} records yet; create them with [0, 0, values]"
            )),
            (None, _) => Ok(None),
        }
    };
    let change = |operation, ids: Vec<i64>| -> Result<NestedChange, String> {
        Ok(NestedChange {
            via: via.to_owned(),
            model: comodel.to_owned(),
            operation,
            member_of: member_of(&ids)?,
            ids,
        })
    };
    // Without its records named, a command changes every linked record: only where the key
    // sees them all.
    let unnamed = |what: &str| {
        if restricted {
            Err(format!(
                "{what} on {via:?} would change {comodel} records this key may not see; name them with [3, id] and [4, id] instead"
            ))
        } else {
            Ok(())
        }
    };
    Ok(match command {
        Command::Create(_) => vec![change(Operation::Create, Vec::new())?],
        Command::Update(id, _) => vec![change(Operation::Write, vec![*id])?],
        Command::Delete(id) => vec![change(Operation::Unlink, vec![*id])?],
        // On a one2many, unlinking deletes the record when it cannot exist alone, and else
        // empties its link: both operations on the comodel.
        Command::Unlink(id) if one2many => vec![
            change(Operation::Unlink, vec![*id])?,
            change(Operation::Write, vec![*id])?,
        ],
        Command::Unlink(id) => vec![change(Operation::Link, vec![*id])?],
        // On a one2many, linking sets the record's inverse field: only a record already there.
        Command::Link(id) if one2many => vec![change(Operation::Write, vec![*id])?],
        Command::Link(id) => vec![change(Operation::Link, vec![*id])?],
        Command::Clear => {
            unnamed("[5] (clear)")?;
            if one2many {
                vec![
                    change(Operation::Unlink, Vec::new())?,
                    change(Operation::Write, Vec::new())?,
                ]
            } else {
                Vec::new()
            }
        }
        Command::Set(ids) => {
            unnamed("[6, 0, ids] (replace)")?;
            if one2many {
                vec![
                    change(Operation::Unlink, Vec::new())?,
                    change(Operation::Write, ids.clone())?,
                ]
            } else {
                vec![change(Operation::Link, ids.clone())?]
            }
        }
    })
}

/// The values of records being written, as the walk of their relational values sees them.
pub(crate) struct Written<'a> {
    /// The model written, and how the caller sees it.
    pub(crate) model: &'a str,
    pub(crate) view: &'a ModelView,
    pub(crate) values: &'a Map<String, Value>,
    /// The path from the call's model to these values (`""` at the top).
    pub(crate) prefix: &'a str,
    /// The records written (`None` while they are created).
    pub(crate) owners: Option<&'a [i64]>,
    /// How deep in nested commands these values are.
    pub(crate) depth: usize,
}

/// What the relational values of a create or update do to other models.
#[derive(Default)]
pub(crate) struct Nested {
    pub(crate) changes: Vec<NestedChange>,
    pub(crate) uses: Vec<FieldUse>,
}

impl CallParser<'_> {
    /// The relational values among `values` (of `model`, seen as `view`) as the changes they
    /// make on other models ([`commands`]), recursively through the values of create and update
    /// commands; the fields those set are recorded as writes on their own models.
    pub(crate) fn relations<'a>(
        &'a self,
        written: Written<'a>,
        nested: &'a mut Nested,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Refusal>> + Send + 'a>> {
        let Written {
            model,
            view,
            values,
            prefix,
            owners,
            depth,
        } = written;
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
                let list = parse(&via, value).map_err(refuse)?;
                let inverse = field.inverse.as_deref().filter(|_| field.ty == "one2many");
                if field.ty == "one2many" && inverse.is_none() {
                    return Err(refuse(format!(
                        "{via:?} cannot be written with this key (Odoo does not say which records it holds)"
                    )));
                }
                let relation = Relation {
                    via: &via,
                    comodel: &comodel,
                    inverse,
                    restricted: self.catalog.access.records_domain(&comodel).is_some(),
                    scoped: self.catalog.access.records_domain(model).is_some(),
                    owners,
                };
                for command in &list {
                    let changes = changes(relation, command).map_err(refuse)?;
                    nested.changes.extend(changes);
                    let (vals, record) = match command {
                        Command::Create(vals) => (vals, None),
                        Command::Update(id, vals) => (vals, Some(*id)),
                        _ => continue,
                    };
                    if depth + 1 >= MAX_DEPTH {
                        return Err(refuse(format!(
                            "{via:?}: commands nest more than {} levels deep",
                            MAX_DEPTH
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
                    let inner = Written {
                        model: &comodel,
                        view: &comodel_view,
                        values: vals,
                        prefix: &via,
                        owners: record.as_deref(),
                        depth: depth + 1,
                    };
                    self.relations(inner, nested).await?;
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_command_form_parses() {
        let got = parse(
            "child_ids",
            &json!([[0, 0, {"name": "a"}], [1, 11, {"city": "b"}], [2, 12], [3, 13], [4, 14], [5], [5, 0, 0], [6, 0, [15, 16]]]),
        )
        .expect("commands");
        assert_eq!(
            got,
            vec![
                Command::Create(json!({"name": "a"}).as_object().cloned().unwrap()),
                Command::Update(11, json!({"city": "b"}).as_object().cloned().unwrap()),
                Command::Delete(12),
                Command::Unlink(13),
                Command::Link(14),
                Command::Clear,
                Command::Clear,
                Command::Set(vec![15, 16]),
            ]
        );
        assert_eq!(
            parse("tag_ids", &json!([1, 2])).unwrap(),
            vec![Command::Set(vec![1, 2])]
        );
        assert_eq!(
            parse("tag_ids", &json!([])).unwrap(),
            vec![Command::Set(vec![])]
        );
        assert_eq!(
            parse("tag_ids", &json!(false)).unwrap(),
            vec![Command::Clear]
        );
        for bad in [
            json!("x"),
            json!([[7, 1]]),
            json!([[1, 0, {}]]),
            json!([[0, 0, 5]]),
            json!([[4, 1], 2]),
            json!([[6, 0, 3]]),
        ] {
            assert!(parse("f", &bad).is_err(), "{bad}");
        }
    }

    fn relation(one2many: bool, restricted: bool, owners: Option<&[i64]>) -> Relation<'_> {
        Relation {
            via: "f",
            comodel: "m",
            inverse: one2many.then_some("parent_id"),
            restricted,
            scoped: true,
            owners,
        }
    }

    #[test]
    fn each_command_is_the_operation_it_is_on_the_comodel() {
        let owners: &[i64] = &[9];
        let ops = |one2many, command| {
            changes(relation(one2many, false, Some(owners)), &command)
                .unwrap()
                .into_iter()
                .map(|c| (c.operation, c.ids))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ops(true, Command::Create(Map::new())),
            vec![(Operation::Create, vec![])]
        );
        assert_eq!(
            ops(true, Command::Update(3, Map::new())),
            vec![(Operation::Write, vec![3])]
        );
        assert_eq!(
            ops(false, Command::Delete(3)),
            vec![(Operation::Unlink, vec![3])]
        );
        assert_eq!(
            ops(true, Command::Unlink(3)),
            vec![(Operation::Unlink, vec![3]), (Operation::Write, vec![3])]
        );
        assert_eq!(
            ops(false, Command::Unlink(3)),
            vec![(Operation::Link, vec![3])]
        );
        assert_eq!(
            ops(true, Command::Link(3)),
            vec![(Operation::Write, vec![3])]
        );
        assert_eq!(
            ops(false, Command::Link(3)),
            vec![(Operation::Link, vec![3])]
        );
        assert_eq!(
            ops(false, Command::Set(vec![1, 2])),
            vec![(Operation::Link, vec![1, 2])]
        );
    }

    #[test]
    fn one2many_commands_name_only_records_of_the_records_written() {
        let owners: &[i64] = &[9, 10];
        let got = changes(
            relation(true, false, Some(owners)),
            &Command::Update(3, Map::new()),
        )
        .unwrap();
        assert_eq!(
            got[0].member_of,
            Some(("parent_id".to_owned(), vec![9, 10]))
        );
        let got = changes(relation(false, false, Some(owners)), &Command::Link(3)).unwrap();
        assert_eq!(got[0].member_of, None, "a many2many link moves nothing");
        // While the record is created, it has no lines to name.
        for command in [
            Command::Update(3, Map::new()),
            Command::Delete(3),
            Command::Unlink(3),
            Command::Link(3),
        ] {
            assert!(
                changes(relation(true, false, None), &command).is_err(),
                "{command:?}"
            );
        }
        assert!(changes(relation(true, false, None), &Command::Create(Map::new())).is_ok());
        // Where the written model has no records domain, Odoo's own semantics stand.
        let free = Relation {
            scoped: false,
            ..relation(true, false, None)
        };
        let got = changes(free, &Command::Update(3, Map::new())).unwrap();
        assert_eq!(got[0].member_of, None);
    }

    #[test]
    fn commands_that_name_no_records_are_refused_where_the_key_sees_only_some() {
        let owners: &[i64] = &[9];
        for command in [Command::Clear, Command::Set(vec![1])] {
            assert!(changes(relation(false, true, Some(owners)), &command).is_err());
            assert!(changes(relation(true, true, Some(owners)), &command).is_err());
            assert!(changes(relation(false, false, Some(owners)), &command).is_ok());
        }
        assert!(changes(relation(true, true, Some(owners)), &Command::Link(1)).is_ok());
    }
}
