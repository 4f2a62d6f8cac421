//! Cached model metadata: the list of models (`ir.model`) and each model's fields
//! (`fields_get`). Entries live for the configured TTL and are fetched once even when many calls
//! miss at the same time (single flight: one `OnceCell` per key, shared by the waiters).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tokio::sync::OnceCell;
use warden_odoo::{OdooClient, OdooError, SearchRead};

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
}

impl FieldInfo {
    fn from_value(value: &Value) -> Self {
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
        }
    }

    /// Whether the field points to records of another model.
    pub(crate) fn is_relational(&self) -> bool {
        matches!(self.ty.as_str(), "many2one" | "one2many" | "many2many")
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

type Slot<T> = Arc<OnceCell<(Instant, Arc<T>)>>;

/// The metadata cache.
pub(crate) struct MetadataCache {
    ttl: Duration,
    models: Mutex<Slot<Vec<ModelInfo>>>,
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
    pub(crate) async fn models(&self, odoo: &OdooClient) -> Result<Arc<Vec<ModelInfo>>, OdooError> {
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

async fn fetch_models(odoo: &OdooClient) -> Result<Vec<ModelInfo>, OdooError> {
    let query = SearchRead {
        domain: json!([]),
        fields: vec!["model".to_owned(), "name".to_owned()],
        offset: 0,
        limit: Some(MAX_MODELS),
        order: Some("model asc".to_owned()),
    };
    let rows = odoo.search_read("ir.model", &query).await?;
    let mut models: Vec<ModelInfo> = rows
        .iter()
        .filter_map(|row| {
            let model = row.get("model")?.as_str()?.to_owned();
            let name = row
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            Some(ModelInfo { model, name })
        })
        .collect();
    models.sort_by(|a, b| a.model.cmp(&b.model));
    models.dedup_by(|a, b| a.model == b.model);
    tracing::debug!(count = models.len(), "model list fetched");
    Ok(models)
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

/// A model's fields as one caller may see them: fields it may not read are absent, as if the
/// model did not have them. Shares the cached map; filters on access.
#[derive(Clone)]
pub(crate) struct ModelView {
    model: String,
    all: Arc<ModelFields>,
    access: Arc<dyn super::Access>,
}

impl ModelView {
    pub(crate) fn new(model: &str, all: Arc<ModelFields>, access: Arc<dyn super::Access>) -> Self {
        Self {
            model: model.to_owned(),
            all,
            access,
        }
    }

    /// The field, if it exists and may be read.
    pub(crate) fn get(&self, name: &str) -> Option<&FieldInfo> {
        self.all
            .get(name)
            .filter(|_| self.access.field_readable(&self.model, name))
    }

    pub(crate) fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The readable fields, by name.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &FieldInfo)> {
        self.all
            .iter()
            .filter(|(name, _)| self.access.field_readable(&self.model, name))
    }

    pub(crate) fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether the caller may see `model` (the comodel of a relation).
    pub(crate) fn model_visible(&self, model: &str) -> bool {
        self.access.model_visible(model)
    }

    /// Whether `name` is a field of the model that the caller may not read.
    pub(crate) fn is_hidden(&self, name: &str) -> bool {
        self.all.contains_key(name) && !self.access.field_readable(&self.model, name)
    }
}
