//! Cached model metadata: the list of models (`ir.model`) and each model's fields
//! (`fields_get`). Entries live for the configured TTL and are fetched once even when many calls
//! miss at the same time (single flight: one `OnceCell` per key, shared by the waiters).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tokio::sync::OnceCell;
use warden_odoo::{OdooClient, OdooError, SearchRead};

use super::taint::HiddenFields;

/// Most models read from `ir.model`.
const MAX_MODELS: u64 = 5000;
/// Most cache entries kept; beyond, empty and expired entries are dropped.
const MAX_ENTRIES: usize = 2000;
/// The `fields_get` attributes the catalog uses.
const FIELD_ATTRIBUTES: &[&str] = &[
    "type",
    "string",
    "relation",
    "required",
    "readonly",
    "store",
    "selection",
    "help",
    "sortable",
    "groupable",
    "searchable",
    "depends",
    "related",
    "relation_field",
];

/// One field of a model, from `fields_get`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldInfo {
    /// Field type (`char`, `many2one`, ...).
    pub(crate) ty: String,
    /// Label.
    pub(crate) label: String,
    /// Comodel of a relational field.
    pub(crate) relation: Option<String>,
    pub(crate) required: bool,
    pub(crate) readonly: bool,
    pub(crate) store: bool,
    pub(crate) sortable: bool,
    pub(crate) groupable: bool,
    pub(crate) searchable: bool,
    /// `(value, label)` pairs of a selection field.
    pub(crate) selection: Option<Vec<(Value, String)>>,
    pub(crate) help: Option<String>,
    /// The field paths its value is computed from (`depends`), e.g. `parent_id.name`.
    pub(crate) depends: Vec<String>,
    /// The field path a related field copies (`related`), e.g. `partner_id.email`.
    pub(crate) related: Option<String>,
    /// The comodel's many2one a one2many is the inverse of (`relation_field`), e.g. `order_id`.
    pub(crate) inverse: Option<String>,
}

impl FieldInfo {
    pub(crate) fn from_value(value: &Value) -> Self {
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        let flag =
            |key: &str, default: bool| value.get(key).and_then(Value::as_bool).unwrap_or(default);
        let selection = value
            .get("selection")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|pair| match pair.as_array().map(Vec::as_slice) {
                        Some([key, label]) => {
                            Some((key.clone(), label.as_str().unwrap_or("").to_owned()))
                        }
                        _ => None,
                    })
                    .collect()
            });
        let store = flag("store", true);
        let depends = value
            .get("depends")
            .and_then(Value::as_array)
            .map(|paths| {
                paths
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        // Odoo sends `related` as a dotted string; older servers as a list of names.
        let related = match value.get("related") {
            Some(Value::String(path)) if !path.is_empty() => Some(path.clone()),
            Some(Value::Array(names)) if !names.is_empty() => Some(
                names
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("."),
            ),
            _ => None,
        };
        Self {
            ty: text("type").unwrap_or_default(),
            label: text("string").unwrap_or_default(),
            relation: text("relation").filter(|r| !r.is_empty()),
            required: flag("required", false),
            readonly: flag("readonly", false),
            store,
            sortable: flag("sortable", store),
            groupable: flag("groupable", store),
            searchable: flag("searchable", true),
            selection,
            help: text("help").filter(|h| !h.is_empty()),
            depends,
            related,
            inverse: text("relation_field").filter(|f| !f.is_empty()),
        }
    }

    /// Every field path the value derives from: its `depends` and its `related` path.
    pub(crate) fn sources(&self) -> impl Iterator<Item = &str> {
        self.depends
            .iter()
            .map(String::as_str)
            .chain(self.related.as_deref())
    }

    /// Whether the field points to records of another model.
    pub(crate) fn is_relational(&self) -> bool {
        matches!(self.ty.as_str(), "many2one" | "one2many" | "many2many")
    }

    /// Whether Odoo computes the field with code that declares nothing it depends on (not
    /// stored, not related, no `depends`): its value and its search are opaque to the gateway.
    pub(crate) fn is_opaque(&self) -> bool {
        !self.store && self.related.is_none() && self.depends.is_empty()
    }

    /// Whether the field is returned when a search names no fields: stored and not binary.
    pub(crate) fn is_default(&self) -> bool {
        self.store && self.ty != "binary"
    }
}

/// A model's fields, by name.
pub(crate) type ModelFields = BTreeMap<String, FieldInfo>;

/// One model of `ir.model`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ModelInfo {
    /// Technical name, e.g. `res.partner`.
    pub(crate) model: String,
    /// Description, e.g. `Contact`.
    pub(crate) name: String,
}

/// The models of the Odoo database, as far as the Odoo user can list them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ModelList {
    /// Sorted by technical name.
    pub(crate) models: Vec<ModelInfo>,
    /// Whether the list is every model (`ir.model`, readable by administrators) or only the
    /// ones the user may read (`ir.model.get_available_models`, for everyone else): a model
    /// missing from an incomplete list may still exist (e.g. `hr.employee`, which users without
    /// an HR group search through `hr.employee.public`).
    pub(crate) complete: bool,
}

impl ModelList {
    /// Whether `model` is listed.
    pub(crate) fn contains(&self, model: &str) -> bool {
        self.models
            .binary_search_by(|m| m.model.as_str().cmp(model))
            .is_ok()
    }
}

type Slot<T> = Arc<OnceCell<(Instant, Arc<T>)>>;

/// The metadata cache.
pub(crate) struct MetadataCache {
    ttl: Duration,
    models: Mutex<Slot<ModelList>>,
    fields: Mutex<HashMap<String, Slot<ModelFields>>>,
}

impl MetadataCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            models: Mutex::new(Arc::new(OnceCell::new())),
            fields: Mutex::new(HashMap::new()),
        }
    }

    fn fresh(&self, at: Instant) -> bool {
        at.elapsed() < self.ttl
    }

    /// The models, sorted by technical name.
    pub(crate) async fn models(&self, odoo: &OdooClient) -> Result<Arc<ModelList>, OdooError> {
        let cell = {
            let mut slot = self.models.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.get().is_some_and(|(at, _)| !self.fresh(*at)) {
                *slot = Arc::new(OnceCell::new());
            }
            Arc::clone(&slot)
        };
        let (_, models) = cell
            .get_or_try_init(|| async {
                let models = fetch_models(odoo).await?;
                Ok::<_, OdooError>((Instant::now(), Arc::new(models)))
            })
            .await?;
        Ok(Arc::clone(models))
    }

    /// The fields of `model`.
    pub(crate) async fn fields(
        &self,
        odoo: &OdooClient,
        model: &str,
    ) -> Result<Arc<ModelFields>, OdooError> {
        let cell = {
            let mut map = self.fields.lock().unwrap_or_else(PoisonError::into_inner);
            if map.len() >= MAX_ENTRIES && !map.contains_key(model) {
                map.retain(|_, slot| slot.get().is_some_and(|(at, _)| self.fresh(*at)));
            }
            let slot = map
                .entry(model.to_owned())
                .or_insert_with(|| Arc::new(OnceCell::new()));
            if slot.get().is_some_and(|(at, _)| !self.fresh(*at)) {
                *slot = Arc::new(OnceCell::new());
            }
            Arc::clone(slot)
        };
        let (_, fields) = cell
            .get_or_try_init(|| async {
                let fields = fetch_fields(odoo, model).await?;
                Ok::<_, OdooError>((Instant::now(), Arc::new(fields)))
            })
            .await?;
        Ok(Arc::clone(fields))
    }
}

/// The model list: `ir.model` when the Odoo user may read it (administrators), else the models
/// the user may read, from `ir.model.get_available_models` (Odoo's web client asks the same;
/// any internal user may call it).
async fn fetch_models(odoo: &OdooClient) -> Result<ModelList, OdooError> {
    let query = SearchRead {
        domain: json!([]),
        fields: vec!["model".to_owned(), "name".to_owned()],
        offset: 0,
        limit: Some(MAX_MODELS),
        order: Some("model asc".to_owned()),
    };
    let (rows, complete, name_key) = match odoo.search_read("ir.model", &query).await {
        Ok(rows) => (rows, true, "name"),
        Err(e) if e.kind() == warden_odoo::ErrorKind::AccessError => {
            let listed = odoo
                .call_method(
                    "ir.model",
                    "get_available_models",
                    &[],
                    Vec::new(),
                    Map::new(),
                )
                .await?;
            let rows = listed
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|item| item.as_object().cloned())
                        .collect()
                })
                .unwrap_or_default();
            (rows, false, "display_name")
        }
        Err(e) => return Err(e),
    };
    let mut models: Vec<ModelInfo> = rows
        .iter()
        .filter_map(|row| {
            let model = row.get("model")?.as_str()?.to_owned();
            let name = row
                .get(name_key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            Some(ModelInfo { model, name })
        })
        .take(usize::try_from(MAX_MODELS).unwrap_or(usize::MAX))
        .collect();
    models.sort_by(|a, b| a.model.cmp(&b.model));
    models.dedup_by(|a, b| a.model == b.model);
    tracing::debug!(count = models.len(), complete, "model list fetched");
    Ok(ModelList { models, complete })
}

async fn fetch_fields(odoo: &OdooClient, model: &str) -> Result<ModelFields, OdooError> {
    let attributes: Vec<String> = FIELD_ATTRIBUTES.iter().map(|a| (*a).to_owned()).collect();
    let raw: Map<String, Value> = odoo.fields_get(model, &attributes).await?;
    let fields: ModelFields = raw
        .iter()
        .map(|(name, value)| {
            let mut info = FieldInfo::from_value(value);
            if name == "id" {
                // The primary key is always stored, sortable and groupable.
                info.store = true;
                info.sortable = true;
                info.groupable = true;
                info.searchable = true;
            }
            (name.clone(), info)
        })
        .collect();
    tracing::debug!(model, count = fields.len(), "fields fetched");
    Ok(fields)
}

/// A model's fields as one caller may see them: the fields it may not read — denied by its
/// profile, or derived from a denied field (see [`super::taint`]) — are absent, as if the model
/// did not have them. Shares the cached map.
#[derive(Clone)]
pub(crate) struct ModelView {
    all: Arc<ModelFields>,
    hidden: Arc<HiddenFields>,
    access: Arc<dyn super::Access>,
}

impl ModelView {
    pub(crate) fn new(
        all: Arc<ModelFields>,
        hidden: Arc<HiddenFields>,
        access: Arc<dyn super::Access>,
    ) -> Self {
        Self {
            all,
            hidden,
            access,
        }
    }

    /// The field, if it exists and may be read.
    pub(crate) fn get(&self, name: &str) -> Option<&FieldInfo> {
        self.all.get(name).filter(|_| !self.hidden.contains(name))
    }

    pub(crate) fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The readable fields, by name.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &FieldInfo)> {
        self.all
            .iter()
            .filter(|(name, _)| !self.hidden.contains(name))
    }

    pub(crate) fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether the caller may see `model` (the comodel of a relation).
    pub(crate) fn model_visible(&self, model: &str) -> bool {
        self.access.model_visible(model)
    }

    /// Whether the caller may not read some field of the model.
    pub(crate) fn hides_any(&self) -> bool {
        !self.hidden.is_empty()
    }

    /// Whether `name` is a field of the model that the caller may not read.
    pub(crate) fn is_hidden(&self, name: &str) -> bool {
        self.all.contains_key(name) && self.hidden.contains(name)
    }

    /// The rule that hides `name` from the caller (for the audit log, never for the caller):
    /// the rule that hides the model itself, the field rule that denies the field, or — for a
    /// field derived from a hidden one — that one's rule and the derivation. `None` when `name`
    /// is visible or is no field of `model` at all.
    pub(crate) fn denial(&self, model: &str, name: &str) -> Option<String> {
        if !self.access.model_visible(model) {
            return self.access.model_rule(model);
        }
        match self.hidden.why(name)? {
            super::taint::Hidden::Denied => self.access.field_rule(model, name),
            super::taint::Hidden::Derived { from } => {
                let rule = from
                    .rsplit_once('.')
                    .and_then(|(m, f)| self.access.field_rule(m, f))
                    .unwrap_or_else(|| "a field this key may not read".to_owned());
                Some(format!("{rule} ({model}.{name} derives from {from})"))
            }
        }
    }

    /// The hidden fields of the model, and why.
    pub(crate) fn hidden(&self) -> &HiddenFields {
        &self.hidden
    }
}
