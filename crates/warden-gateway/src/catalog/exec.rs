//! Executing a parsed call: one Odoo round trip for the data, results bounded in rows and bytes,
//! Odoo errors turned into clear tool errors with a hint.

use serde_json::{Map, Value, json};
use warden_odoo::{OdooError, ReadGroup, SearchRead};

use std::collections::BTreeMap;

use super::domain::restrict;
use super::metadata::ModelView;
use super::names;
use super::outcome::{error_outcome, odoo_error_outcome, success};
use super::parsed::{Action, ParsedCall};
use super::{Catalog, Inner, ToolOutcome};

/// Bytes kept for the result's envelope (model, counts, notes) when rows are measured.
const ENVELOPE_BYTES: usize = 2048;

/// Records named by id that are outside what the caller may reach: one message for records
/// that do not exist and records outside the key's records domain, so neither is revealed.
fn out_of_scope(model: &str, ids: &[i64]) -> ToolOutcome {
    let shown: Vec<String> = ids.iter().take(20).map(i64::to_string).collect();
    error_outcome(
        "missing_record",
        &format!(
            "{} of the {model} records named do not exist or are not accessible with this key: {}",
            ids.len(),
            shown.join(", ")
        ),
        Some("search for the records first (search_records or find_by_name)"),
    )
}

/// The ids among `ids` that match `records` (the access's records domain): one search.
async fn ids_in_scope(
    inner: &Inner,
    model: &str,
    ids: &[i64],
    records: &Value,
) -> Result<Vec<i64>, OdooError> {
    let domain = restrict(records.clone(), json!([["id", "in", ids]]));
    let query = SearchRead {
        domain,
        fields: vec!["id".to_owned()],
        offset: 0,
        limit: Some(ids.len() as u64),
        order: None,
    };
    let rows = inner.odoo.search_read(model, &query).await?;
    Ok(rows
        .iter()
        .filter_map(|row| row.get("id").and_then(Value::as_i64))
        .collect())
}

/// Drop from `value` (a record, a list of records, or anything a method returned) every object
/// key that names a field of the model the caller may not read: a last line of defence behind
/// the checks made before the call.
pub(crate) fn strip_hidden(value: &mut Value, view: &ModelView) {
    match value {
        Value::Object(map) => {
            map.retain(|key, _| !view.is_hidden(key));
            for item in map.values_mut() {
                strip_hidden(item, view);
            }
        }
        Value::Array(items) => {
            for item in items {
                strip_hidden(item, view);
            }
        }
        _ => {}
    }
}

/// Rows kept within `budget` bytes of JSON: `(kept rows, whether rows were cut)`.
fn cap_rows(rows: Vec<Value>, budget: usize) -> (Vec<Value>, bool) {
    let mut used = 0usize;
    let total = rows.len();
    let mut kept = Vec::with_capacity(total);
    for row in rows {
        let size = serde_json::to_string(&row).map_or(usize::MAX, |s| s.len() + 1);
        if used.saturating_add(size) > budget {
            break;
        }
        used += size;
        kept.push(row);
    }
    let cut = kept.len() < total;
    (kept, cut)
}

fn budget(inner: &Inner) -> usize {
    inner
        .settings
        .max_result_bytes
        .saturating_sub(ENVELOPE_BYTES)
        .max(1)
}

fn too_large_single(what: &str) -> ToolOutcome {
    error_outcome(
        "result_too_large",
        &format!("a single {what} is larger than the result size limit"),
        Some("ask for fewer fields (the \"fields\" argument), leaving out long text fields"),
    )
}

pub(crate) async fn execute(catalog: &Catalog, call: ParsedCall) -> ToolOutcome {
    let inner = &catalog.inner;
    let model = call.model().unwrap_or("").to_owned();
    // Records named by id must be within the access's records domain.
    let mut in_scope: Option<Vec<i64>> = None;
    if let (Some(records), false) = (call.records_domain(), call.ids().is_empty()) {
        match ids_in_scope(inner, &model, call.ids(), records).await {
            Ok(found) => {
                let outside: Vec<i64> = call
                    .ids()
                    .iter()
                    .copied()
                    .filter(|id| !found.contains(id))
                    .collect();
                if !outside.is_empty() && !matches!(call.action, Action::Read) {
                    return out_of_scope(&model, &outside);
                }
                in_scope = Some(found);
            }
            Err(e) => return odoo_error_outcome(&e, inner),
        }
    }
    // Records the relational values name on other models must be within the key's records
    // domain there too (one search per such model).
    let mut named: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for change in call.nested_changes() {
        named
            .entry(change.model.as_str())
            .or_default()
            .extend(&change.ids);
    }
    for (other, mut ids) in named {
        let Some(records) = catalog.access.records_domain(other) else {
            continue;
        };
        ids.sort_unstable();
        ids.dedup();
        match ids_in_scope(inner, other, &ids, &records).await {
            Ok(found) => {
                let outside: Vec<i64> = ids.into_iter().filter(|id| !found.contains(id)).collect();
                if !outside.is_empty() {
                    return out_of_scope(other, &outside);
                }
            }
            Err(e) => return odoo_error_outcome(&e, inner),
        }
    }
    // A one2many command names only records of the records written.
    for change in call.nested_changes() {
        let Some((inverse, owners)) = &change.member_of else {
            continue;
        };
        let query = SearchRead {
            domain: json!([[inverse, "in", owners], ["id", "in", change.ids]]),
            fields: vec!["id".to_owned()],
            offset: 0,
            limit: Some(change.ids.len() as u64),
            order: None,
        };
        match inner.odoo.search_read(&change.model, &query).await {
            Ok(rows) => {
                let found: Vec<i64> = rows
                    .iter()
                    .filter_map(|row| row.get("id").and_then(Value::as_i64))
                    .collect();
                let foreign: Vec<i64> = change
                    .ids
                    .iter()
                    .copied()
                    .filter(|id| !found.contains(id))
                    .collect();
                if !foreign.is_empty() {
                    return out_of_scope(&change.model, &foreign);
                }
            }
            Err(e) => return odoo_error_outcome(&e, inner),
        }
    }
    match &call.action {
        Action::Search {
            domain,
            order,
            limit,
            offset,
        } => {
            let query = SearchRead {
                domain: domain.clone(),
                fields: call.fields_read().to_vec(),
                offset: *offset,
                limit: Some(u64::from(*limit)),
                order: order.clone(),
            };
            match inner.odoo.search_read(&model, &query).await {
                Ok(rows) => match masked(catalog, &model, only_fields(rows, &call)).await {
                    Ok(rows) => search_result(inner, &call, rows, *limit, *offset),
                    Err(e) => odoo_error_outcome(&e, inner),
                },
                Err(e) => odoo_error_outcome(&e, inner),
            }
        }
        Action::Read => {
            let ids = in_scope.as_deref().unwrap_or(call.ids());
            if ids.is_empty() {
                return read_result(inner, &call, Vec::new());
            }
            match inner.odoo.read(&model, ids, call.fields_read()).await {
                Ok(rows) => match masked(catalog, &model, only_fields(rows, &call)).await {
                    Ok(rows) => read_result(inner, &call, rows),
                    Err(e) => odoo_error_outcome(&e, inner),
                },
                Err(e) => odoo_error_outcome(&e, inner),
            }
        }
        Action::Count { domain } => match inner.odoo.search_count(&model, domain).await {
            Ok(count) => success(
                format!("{count} {model} records match."),
                json!({"model": model, "count": count}),
            ),
            Err(e) => odoo_error_outcome(&e, inner),
        },
        Action::Aggregate {
            domain,
            aggregates,
            group_by,
            order,
            limit,
        } => {
            let query = ReadGroup {
                domain: domain.clone(),
                fields: aggregates.clone(),
                groupby: group_by.clone(),
                offset: 0,
                limit: Some(u64::from(*limit)),
                orderby: order.clone(),
                lazy: false,
            };
            match inner.odoo.read_group(&model, &query).await {
                Ok(groups) => match masked(catalog, &model, groups).await {
                    Ok(groups) => aggregate_result(inner, &call, groups),
                    Err(e) => odoo_error_outcome(&e, inner),
                },
                Err(e) => odoo_error_outcome(&e, inner),
            }
        }
        Action::FindByName {
            name,
            limit,
            search: None,
            ..
        } => {
            let domain = call.records_domain().cloned().unwrap_or_else(|| json!([]));
            match inner
                .odoo
                .name_search(&model, name, &domain, u64::from(*limit))
                .await
            {
                Ok(pairs) => {
                    let matches: Vec<Value> = pairs
                        .into_iter()
                        .map(|(id, name)| json!({"id": id, "name": name}))
                        .collect();
                    let count = matches.len();
                    let mut out = json!({"model": model, "matches": matches, "count": count});
                    add_notes(&mut out, call.notes.clone());
                    success(format!("{count} {model} records match {name:?}."), out)
                }
                Err(e) => odoo_error_outcome(&e, inner),
            }
        }
        Action::FindByName {
            name,
            limit,
            search: Some(search),
            label,
        } => {
            let filter = if name.is_empty() {
                json!([])
            } else {
                json!([[search, "ilike", name]])
            };
            let query = SearchRead {
                domain: match call.records_domain() {
                    Some(records) => restrict(records.clone(), filter),
                    None => filter,
                },
                fields: vec![label.clone()],
                offset: 0,
                limit: Some(u64::from(*limit)),
                order: None,
            };
            match inner.odoo.search_read(&model, &query).await {
                Ok(rows) => {
                    let matches: Vec<Value> = rows
                        .iter()
                        .filter_map(|row| {
                            let id = row.get("id").and_then(Value::as_i64)?;
                            let name = row.get(label).and_then(Value::as_str).unwrap_or("");
                            Some(json!({"id": id, "name": name}))
                        })
                        .collect();
                    let count = matches.len();
                    let mut out = json!({"model": model, "matches": matches, "count": count});
                    add_notes(&mut out, call.notes.clone());
                    success(format!("{count} {model} records match {name:?}."), out)
                }
                Err(e) => odoo_error_outcome(&e, inner),
            }
        }
        Action::ListModels { filter } => list_models(catalog, filter.as_deref()).await,
        Action::Describe => match catalog.model_fields(&model).await {
            Ok(fields) => {
                let description = match catalog.visible_models().await {
                    Ok(models) => models
                        .iter()
                        .find(|m| m.model == model)
                        .map(|m| m.name.clone()),
                    Err(_) => None,
                };
                let out = describe(&model, description.as_deref(), &fields);
                let count = fields.len();
                success(format!("{model} has {count} fields."), out)
            }
            Err(e) => odoo_error_outcome(&e, inner),
        },
        Action::Create { values } => match inner.odoo.create(&model, values.clone()).await {
            Ok(ids) => {
                let count = ids.len();
                success(
                    format!("Created {count} {model} records."),
                    json!({"model": model, "ids": ids, "count": count}),
                )
            }
            Err(e) => odoo_error_outcome(&e, inner),
        },
        Action::Update { values } => {
            match inner.odoo.write(&model, call.ids(), values.clone()).await {
                Ok(_) => success(
                    format!("Updated {} {model} records.", call.ids().len()),
                    json!({"model": model, "ids": call.ids(), "updated": true}),
                ),
                Err(e) => odoo_error_outcome(&e, inner),
            }
        }
        Action::Delete => match inner.odoo.unlink(&model, call.ids()).await {
            Ok(_) => success(
                format!("Deleted {} {model} records.", call.ids().len()),
                json!({"model": model, "ids": call.ids(), "deleted": true}),
            ),
            Err(e) => odoo_error_outcome(&e, inner),
        },
        Action::Call { args, kwargs } => {
            let method = call.method().unwrap_or("");
            match inner
                .odoo
                .call_method(&model, method, call.ids(), args.clone(), kwargs.clone())
                .await
            {
                Ok(mut result) => {
                    match catalog.model_fields(&model).await {
                        Ok(view) => strip_hidden(&mut result, &view),
                        Err(e) => return odoo_error_outcome(&e, inner),
                    }
                    let out = json!({"model": model, "method": method, "ids": call.ids(), "result": result});
                    let size = serde_json::to_string(&out).map_or(usize::MAX, |s| s.len());
                    if size > inner.settings.max_result_bytes {
                        return error_outcome(
                            "result_too_large",
                            &format!(
                                "{model}.{method} ran, but its result ({size} bytes) is larger than the result size limit"
                            ),
                            Some(
                                "the call was made; do not repeat it, read the changed records with read_records instead",
                            ),
                        );
                    }
                    success(format!("Called {model}.{method}."), out)
                }
                Err(e) => odoo_error_outcome(&e, inner),
            }
        }
    }
}

/// Many2one values in `rows` of `model` (records, or groups of `read_group`) as the caller may
/// see them. Odoo sends `[id, display_name]`; the name is kept only when the caller may see the
/// related model, that record (the key's records domain there) and its display name (not
/// derived from a hidden field). Otherwise the record's readable name field is shown instead
/// (see [`names::label`]), or only the id. At most one search per related model and answer.
pub(crate) async fn masked(
    catalog: &Catalog,
    model: &str,
    mut rows: Vec<Map<String, Value>>,
) -> Result<Vec<Map<String, Value>>, OdooError> {
    let view = catalog.model_fields(model).await?;
    // The named ids of each related model.
    let mut named: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for row in &rows {
        for (key, value) in row {
            if let (Some(relation), Some(id)) = (
                view.get(key).and_then(|f| f.relation.as_deref()),
                named_id(value),
            ) {
                named.entry(relation.to_owned()).or_default().push(id);
            }
        }
    }
    for (relation, mut ids) in named {
        ids.sort_unstable();
        ids.dedup();
        let shown = shown_names(catalog, &relation, &ids).await?;
        for row in &mut rows {
            for (key, value) in row.iter_mut() {
                let related = view.get(key).and_then(|f| f.relation.as_deref());
                if related != Some(relation.as_str()) {
                    continue;
                }
                let Some(id) = named_id(value) else { continue };
                *value = match &shown {
                    Shown::Odoo => continue,
                    Shown::Odoos(kept) if kept.contains(&id) => continue,
                    Shown::Labels(labels) => match labels.get(&id) {
                        Some(label) => json!([id, label]),
                        None => Value::from(id),
                    },
                    Shown::Odoos(_) | Shown::Ids => Value::from(id),
                };
            }
        }
    }
    Ok(rows)
}

/// What the caller may see of the names of some records of one model.
enum Shown {
    /// Odoo's names, all of them.
    Odoo,
    /// Odoo's names of these records (those within the records domain); ids for the others.
    Odoos(Vec<i64>),
    /// These labels (a readable name field), for the records within the records domain.
    Labels(BTreeMap<i64, String>),
    /// Ids only.
    Ids,
}

async fn shown_names(catalog: &Catalog, model: &str, ids: &[i64]) -> Result<Shown, OdooError> {
    if !catalog.access.model_visible(model) {
        return Ok(Shown::Ids);
    }
    let view = catalog.model_fields(model).await?;
    let records = catalog.access.records_domain(model);
    match (names::label(&view), records) {
        (names::Label::None, _) => Ok(Shown::Ids),
        (names::Label::Native, None) => Ok(Shown::Odoo),
        (names::Label::Native, Some(records)) => Ok(Shown::Odoos(
            ids_in_scope(&catalog.inner, model, ids, &records).await?,
        )),
        (names::Label::Field(field), records) => {
            let domain = json!([["id", "in", ids]]);
            let query = SearchRead {
                domain: match records {
                    Some(records) => restrict(records, domain),
                    None => domain,
                },
                fields: vec![field.clone()],
                offset: 0,
                limit: Some(ids.len() as u64),
                order: None,
            };
            match catalog.inner.odoo.search_read(model, &query).await {
                Ok(rows) => Ok(Shown::Labels(
                    rows.iter()
                        .filter_map(|row| {
                            let id = row.get("id").and_then(Value::as_i64)?;
                            let label = row.get(&field).and_then(Value::as_str)?;
                            Some((id, label.to_owned()))
                        })
                        .collect(),
                )),
                // Records the Odoo user may not read (Odoo names them anyway): ids only.
                Err(e) if e.kind() == warden_odoo::ErrorKind::AccessError => Ok(Shown::Ids),
                Err(e) => Err(e),
            }
        }
    }
}

fn named_id(value: &Value) -> Option<i64> {
    match value {
        Value::Array(pair) if pair.len() == 2 => pair[0].as_i64(),
        _ => None,
    }
}

/// Rows with only `id` and the fields the call asked for (and the checks allowed).
fn only_fields(rows: Vec<Map<String, Value>>, call: &ParsedCall) -> Vec<Map<String, Value>> {
    rows.into_iter()
        .map(|mut row| {
            row.retain(|key, _| key == "id" || call.fields_read().iter().any(|f| f == key));
            row
        })
        .collect()
}

fn add_notes(out: &mut Value, notes: Vec<String>) {
    if let (false, Some(map)) = (notes.is_empty(), out.as_object_mut()) {
        map.insert("notes".into(), json!(notes));
    }
}

fn search_result(
    inner: &Inner,
    call: &ParsedCall,
    rows: Vec<Map<String, Value>>,
    limit: u32,
    offset: u64,
) -> ToolOutcome {
    let model = call.model().unwrap_or("");
    let fetched = rows.len();
    let rows: Vec<Value> = rows.into_iter().map(Value::Object).collect();
    let (kept, cut) = cap_rows(rows, budget(inner));
    if cut && kept.is_empty() {
        return too_large_single("record");
    }
    let count = kept.len();
    let mut notes = call.notes.clone();
    let next_offset = if cut {
        let next = offset + count as u64;
        notes.push(format!(
            "the result was cut at {count} of {fetched} records to stay under {} bytes; call again with offset {next} for the next page",
            inner.settings.max_result_bytes
        ));
        Some(next)
    } else if fetched >= limit as usize {
        let next = offset + count as u64;
        notes.push(format!(
            "the page is full; more records may exist: call again with offset {next}"
        ));
        Some(next)
    } else {
        None
    };
    let mut out = json!({
        "model": model,
        "records": kept,
        "count": count,
        "limit": limit,
        "offset": offset,
        "truncated": cut,
    });
    if let (Some(next), Some(map)) = (next_offset, out.as_object_mut()) {
        map.insert("next_offset".into(), json!(next));
    }
    let mut summary = format!("Found {count} {model} records (offset {offset}, limit {limit}).");
    if let Some(next) = next_offset {
        summary.push_str(&format!(" More with offset {next}."));
    }
    add_notes(&mut out, notes);
    success(summary, out)
}

fn read_result(inner: &Inner, call: &ParsedCall, rows: Vec<Map<String, Value>>) -> ToolOutcome {
    let model = call.model().unwrap_or("");
    let rows: Vec<Value> = rows.into_iter().map(Value::Object).collect();
    let (kept, cut) = cap_rows(rows, budget(inner));
    if cut && kept.is_empty() {
        return too_large_single("record");
    }
    let returned: Vec<i64> = kept
        .iter()
        .filter_map(|r| r.get("id").and_then(Value::as_i64))
        .collect();
    let count = kept.len();
    let mut out = json!({"model": model, "records": kept, "count": count, "truncated": cut});
    let mut notes = call.notes.clone();
    if cut {
        let remaining: Vec<i64> = call
            .ids()
            .iter()
            .copied()
            .filter(|id| !returned.contains(id))
            .collect();
        notes.push(format!(
            "the result was cut at {count} records to stay under {} bytes; read the ids in remaining_ids in another call",
            inner.settings.max_result_bytes
        ));
        if let Some(map) = out.as_object_mut() {
            map.insert("remaining_ids".into(), json!(remaining));
        }
    }
    if !cut {
        let missing: Vec<i64> = call
            .ids()
            .iter()
            .copied()
            .filter(|id| !returned.contains(id))
            .collect();
        if !missing.is_empty() {
            notes.push(format!(
                "{} of the requested records do not exist or are not visible to the Odoo user behind this key: see missing_ids",
                missing.len()
            ));
            if let Some(map) = out.as_object_mut() {
                map.insert("missing_ids".into(), json!(missing));
            }
        }
    }
    add_notes(&mut out, notes);
    success(format!("Read {count} {model} records."), out)
}

fn aggregate_result(
    inner: &Inner,
    call: &ParsedCall,
    groups: Vec<Map<String, Value>>,
) -> ToolOutcome {
    let model = call.model().unwrap_or("");
    let rows: Vec<Value> = groups
        .into_iter()
        .map(|group| {
            let count = group
                .get("__count")
                .cloned()
                .or_else(|| {
                    group
                        .iter()
                        .find(|(k, _)| k.ends_with("_count"))
                        .map(|(_, v)| v.clone())
                })
                .unwrap_or(json!(0));
            let mut out: Map<String, Value> = group
                .into_iter()
                .filter(|(k, _)| !k.starts_with("__"))
                .collect();
            out.insert("__count".into(), count);
            Value::Object(out)
        })
        .collect();
    let (kept, cut) = cap_rows(rows, budget(inner));
    let count = kept.len();
    let mut notes = call.notes.clone();
    if cut {
        notes.push(format!(
            "the result was cut at {count} groups to stay under {} bytes; narrow the domain or group by fewer fields",
            inner.settings.max_result_bytes
        ));
    }
    let mut out = json!({"model": model, "groups": kept, "count": count, "truncated": cut});
    add_notes(&mut out, notes);
    success(format!("{count} groups of {model} records."), out)
}

async fn list_models(catalog: &Catalog, filter: Option<&str>) -> ToolOutcome {
    let inner = &catalog.inner;
    let models = match catalog.visible_models().await {
        Ok(models) => models,
        Err(e) => return odoo_error_outcome(&e, inner),
    };
    let needle = filter.map(|f| f.trim().to_lowercase()).unwrap_or_default();
    let matching: Vec<Value> = models
        .iter()
        .filter(|m| {
            needle.is_empty()
                || m.model.to_lowercase().contains(&needle)
                || m.name.to_lowercase().contains(&needle)
        })
        .map(|m| json!({"model": m.model, "name": m.name}))
        .collect();
    let total = matching.len();
    let max = inner.settings.max_limit as usize;
    let mut notes = Vec::new();
    let mut rows = matching;
    if rows.len() > max {
        rows.truncate(max);
    }
    let (kept, cut_bytes) = cap_rows(rows, budget(inner));
    let count = kept.len();
    let truncated = count < total || cut_bytes;
    if truncated {
        notes.push(format!(
            "{count} of {total} models shown; give a narrower filter"
        ));
    }
    let mut out = json!({"models": kept, "count": count, "truncated": truncated});
    add_notes(&mut out, notes);
    success(format!("{count} models."), out)
}

/// The `describe_model` result (also the contents of the `odoo://{model}` resource).
pub(crate) fn describe(model: &str, description: Option<&str>, fields: &ModelView) -> Value {
    let list: Vec<Value> = fields
        .iter()
        .map(|(name, f)| {
            let mut d = Map::new();
            d.insert("name".into(), json!(name));
            d.insert("type".into(), json!(f.ty));
            d.insert("label".into(), json!(f.label));
            // The comodel is named only when the caller may see it.
            if let Some(relation) = f.relation.as_ref().filter(|r| fields.model_visible(r)) {
                d.insert("relation".into(), json!(relation));
            }
            d.insert("required".into(), json!(f.required));
            d.insert("readonly".into(), json!(f.readonly));
            d.insert("stored".into(), json!(f.store));
            if let Some(selection) = &f.selection {
                let items: Vec<Value> = selection
                    .iter()
                    .map(|(value, label)| {
                        let value = match value {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        json!({"value": value, "label": label})
                    })
                    .collect();
                d.insert("selection".into(), json!(items));
            }
            if let Some(help) = &f.help {
                d.insert("help".into(), json!(help));
            }
            Value::Object(d)
        })
        .collect();
    let count = list.len();
    let mut out = json!({"model": model, "fields": list, "count": count});
    if let (Some(name), Some(map)) = (description, out.as_object_mut()) {
        map.insert("name".into(), json!(name));
    }
    out
}
