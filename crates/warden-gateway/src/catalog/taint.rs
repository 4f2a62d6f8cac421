//! What a key cannot read on one model: the fields its profile denies, and every field whose
//! value Odoo derives from one of those — through `depends` and `related`, transitively, across
//! dotted paths into other models — unless the profile keeps that field explicitly
//! (`fields.read.allow_derived`). With `email` denied on res.partner, `email_normalized`,
//! `email_formatted` and `display_name` (which Odoo computes from `email`) are hidden too.
//!
//! **Invariant:** a field is visible only if no chain of Odoo's own dependencies leads from it to
//! a field the profile denies on a model the key may see; a chain that cannot be followed to its
//! end (metadata beyond the bounds below) hides the field rather than trusting it.
//!
//! Field rules of models the key cannot see at all do not taint: such a model's records appear
//! only as bare ids, and `config check --online` lists the fields derived from it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use super::Access;
use super::metadata::{MetadataCache, ModelFields};

/// Most models whose metadata one computation loads.
const MAX_MODELS: usize = 40;
/// Most rounds of loading the models a computation asked for (each round loads every model the
/// previous walk needed, so this bounds the depth of cross-model chains).
const MAX_ROUNDS: usize = 8;

/// Why a field is hidden.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Hidden {
    /// The profile's field rules deny it.
    Denied,
    /// Odoo derives it from a denied field: `from` names that field (`res.partner.email`).
    Derived {
        /// The denied field, as `model.field`.
        from: String,
    },
}

/// The hidden fields of one model for one access.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HiddenFields {
    fields: BTreeMap<String, Hidden>,
}

impl HiddenFields {
    /// Why `field` is hidden, if it is.
    pub(crate) fn why(&self, field: &str) -> Option<&Hidden> {
        self.fields.get(field)
    }

    /// Whether no field is hidden.
    pub(crate) fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Whether `field` is hidden.
    pub(crate) fn contains(&self, field: &str) -> bool {
        self.fields.contains_key(field)
    }

    /// The hidden fields and why, by name.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &Hidden)> {
        self.fields.iter()
    }
}

/// One model's hidden fields, with the metadata they were computed from.
type Entry = (Arc<ModelFields>, Arc<HiddenFields>);

/// Taint results per model, for one access; recomputed when the model's metadata changes.
#[derive(Default)]
pub(crate) struct TaintCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl TaintCache {
    /// The hidden fields of `model`, whose metadata is `fields`.
    pub(crate) async fn hidden(
        &self,
        metadata: &MetadataCache,
        odoo: &warden_odoo::OdooClient,
        access: &dyn Access,
        model: &str,
        fields: &Arc<ModelFields>,
    ) -> Arc<HiddenFields> {
        // Rules that hide no field hide nothing derived either: no walk, no extra metadata.
        if !access.hides_fields() {
            return Arc::default();
        }
        if let Some((seen, hidden)) = self
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(model)
            && Arc::ptr_eq(seen, fields)
        {
            return Arc::clone(hidden);
        }
        let hidden = Arc::new(compute(metadata, odoo, access, model, fields).await);
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= 2000 {
            entries.clear();
        }
        entries.insert(model.to_owned(), (Arc::clone(fields), Arc::clone(&hidden)));
        hidden
    }
}

/// The hidden fields of `model`: loads the metadata of the models the dependency chains go
/// through (cached), as they are needed.
async fn compute(
    metadata: &MetadataCache,
    odoo: &warden_odoo::OdooClient,
    access: &dyn Access,
    model: &str,
    fields: &Arc<ModelFields>,
) -> HiddenFields {
    let mut loaded: HashMap<String, Arc<ModelFields>> = HashMap::new();
    loaded.insert(model.to_owned(), Arc::clone(fields));
    let mut rounds = 0;
    loop {
        let mut walk = Walk {
            access,
            loaded: &loaded,
            memo: HashMap::new(),
            stack: HashSet::new(),
            missing: HashSet::new(),
        };
        let result = walk.model(model);
        let bounded = rounds >= MAX_ROUNDS || loaded.len() >= MAX_MODELS;
        if walk.missing.is_empty() || bounded {
            if !walk.missing.is_empty() {
                tracing::warn!(
                    model,
                    "field dependencies reach beyond the bounds; the fields they reach are hidden"
                );
            }
            return result;
        }
        rounds += 1;
        for name in std::mem::take(&mut walk.missing) {
            if loaded.len() >= MAX_MODELS {
                break;
            }
            // A model the Odoo user may not describe has no metadata for us: its chains stop at
            // the explicit rules of its fields.
            let fields = metadata
                .fields(odoo, &name)
                .await
                .unwrap_or_else(|_| Arc::new(ModelFields::new()));
            loaded.insert(name, fields);
        }
    }
}

/// A field's state while the walk decides.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Clear,
    Hidden(Hidden),
    /// A chain goes through a model whose metadata is not loaded.
    Unknown,
}

/// One computation over the loaded metadata.
struct Walk<'a> {
    access: &'a dyn Access,
    loaded: &'a HashMap<String, Arc<ModelFields>>,
    memo: HashMap<(String, String), Verdict>,
    /// The fields being decided (a dependency cycle is not a taint).
    stack: HashSet<(String, String)>,
    /// Models whose metadata a chain needs and that are not loaded yet.
    missing: HashSet<String>,
}

impl Walk<'_> {
    /// Every hidden field of `model`; a field whose chains could not all be followed is hidden.
    fn model(&mut self, model: &str) -> HiddenFields {
        let Some(fields) = self.loaded.get(model).cloned() else {
            return HiddenFields::default();
        };
        let mut out = BTreeMap::new();
        for name in fields.keys() {
            match self.field(model, name) {
                Verdict::Clear => {}
                Verdict::Hidden(hidden) => {
                    out.insert(name.clone(), hidden);
                }
                Verdict::Unknown => {
                    out.insert(
                        name.clone(),
                        Hidden::Derived {
                            from: "fields whose dependencies could not be followed".to_owned(),
                        },
                    );
                }
            }
        }
        HiddenFields { fields: out }
    }

    /// Whether the profile's rules deny the field (on a model the key may see).
    fn denied(&self, model: &str, field: &str) -> bool {
        self.access.model_visible(model) && !self.access.field_readable(model, field)
    }

    fn field(&mut self, model: &str, field: &str) -> Verdict {
        if self.denied(model, field) {
            return Verdict::Hidden(Hidden::Denied);
        }
        if self.access.derived_allowed(model, field) {
            return Verdict::Clear;
        }
        let key = (model.to_owned(), field.to_owned());
        if let Some(known) = self.memo.get(&key) {
            return known.clone();
        }
        if !self.stack.insert(key.clone()) {
            return Verdict::Clear;
        }
        let info = self.loaded.get(model).and_then(|f| f.get(field)).cloned();
        let mut verdict = Verdict::Clear;
        if let Some(info) = info {
            // Texts that name things (char, text): Odoo copies a related record's name into
            // such fields (a line's description); rich documents (html: notes, terms) are built
            // from templates, not names.
            let textual = matches!(info.ty.as_str(), "char" | "text");
            for path in info.sources() {
                match self.path(model, path, textual) {
                    Verdict::Clear => {}
                    Verdict::Unknown => verdict = Verdict::Unknown,
                    hidden @ Verdict::Hidden(_) => {
                        verdict = hidden;
                        break;
                    }
                }
            }
        }
        self.stack.remove(&key);
        // An unknown answer may change once the missing models are loaded: not remembered.
        if verdict != Verdict::Unknown {
            self.memo.insert(key, verdict.clone());
        }
        verdict
    }

    /// Whether a dependency path of a field of `model` reaches a denied field (named, as
    /// `model.field`, in the derived reason). A path that ends on a relation (`product_id`)
    /// says the value derives from the related record as a whole: for a char or text field
    /// (`textual`) — which may embed that record's name, as an order line's description embeds
    /// its product's `[code] name` — the related record's `display_name` counts too.
    fn path(&mut self, model: &str, path: &str, textual: bool) -> Verdict {
        let segments: Vec<&str> = path.split('.').collect();
        let mut current = model.to_owned();
        for (index, segment) in segments.iter().enumerate() {
            match self.field(&current, segment) {
                Verdict::Clear => {}
                Verdict::Unknown => return Verdict::Unknown,
                Verdict::Hidden(Hidden::Denied) => {
                    return Verdict::Hidden(Hidden::Derived {
                        from: format!("{current}.{segment}"),
                    });
                }
                derived @ Verdict::Hidden(Hidden::Derived { .. }) => return derived,
            }
            let last = index + 1 == segments.len();
            if last && !textual {
                break;
            }
            let Some(relation) = self
                .loaded
                .get(&current)
                .and_then(|f| f.get(*segment))
                .and_then(|f| f.relation.clone())
            else {
                return Verdict::Clear;
            };
            if !self.loaded.contains_key(&relation) {
                self.missing.insert(relation);
                return Verdict::Unknown;
            }
            if last {
                // The related record's name, as the text may carry it.
                return match self.field(&relation, "display_name") {
                    Verdict::Hidden(Hidden::Denied) => Verdict::Hidden(Hidden::Derived {
                        from: format!("{relation}.display_name"),
                    }),
                    other => other,
                };
            }
            current = relation;
        }
        Verdict::Clear
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::metadata::FieldInfo;
    use crate::catalog::{Denied, ParsedCall};
    use serde_json::{Value, json};

    /// Denies the listed `model.field`s; keeps the listed derived ones.
    struct Rules {
        denied: Vec<&'static str>,
        kept: Vec<&'static str>,
        invisible: Vec<&'static str>,
    }

    impl Access for Rules {
        fn model_visible(&self, model: &str) -> bool {
            !self.invisible.contains(&model)
        }
        fn field_readable(&self, model: &str, field: &str) -> bool {
            self.model_visible(model) && !self.denied.contains(&format!("{model}.{field}").as_str())
        }
        fn derived_allowed(&self, model: &str, field: &str) -> bool {
            self.kept.contains(&format!("{model}.{field}").as_str())
        }
        fn operation_possible(&self, _: crate::catalog::Operation) -> bool {
            true
        }
        fn records_domain(&self, _: &str) -> Option<Value> {
            None
        }
        fn max_records(&self) -> Option<u32> {
            None
        }
        fn check(&self, _: &ParsedCall) -> Result<(), Denied> {
            Ok(())
        }
    }

    fn field(
        ty: &str,
        relation: Option<&str>,
        depends: &[&str],
        related: Option<&str>,
    ) -> FieldInfo {
        let mut value = json!({"type": ty, "depends": depends});
        if let Some(r) = relation {
            value["relation"] = json!(r);
        }
        if let Some(r) = related {
            value["related"] = json!(r);
        }
        FieldInfo::from_value(&value)
    }

    fn world() -> HashMap<String, Arc<ModelFields>> {
        let partner: ModelFields = [
            ("name", field("char", None, &[], None)),
            ("email", field("char", None, &[], None)),
            ("email_normalized", field("char", None, &["email"], None)),
            (
                "email_formatted",
                field("char", None, &["name", "email_normalized"], None),
            ),
            (
                "parent_id",
                field("many2one", Some("res.partner"), &[], None),
            ),
            (
                "complete_name",
                field("char", None, &["name", "parent_id.name"], None),
            ),
            (
                "display_name",
                field("char", None, &["complete_name", "email"], None),
            ),
            (
                "parent_email",
                field("char", None, &[], Some("parent_id.email")),
            ),
            ("user_id", field("many2one", Some("res.users"), &[], None)),
            ("user_login", field("char", None, &["user_id.login"], None)),
            ("loop_a", field("char", None, &["loop_b"], None)),
            ("loop_b", field("char", None, &["loop_a"], None)),
        ]
        .into_iter()
        .map(|(n, f)| (n.to_owned(), f))
        .collect();
        let users: ModelFields = [
            ("login", field("char", None, &[], None)),
            (
                "partner_id",
                field("many2one", Some("res.partner"), &[], None),
            ),
            ("mail", field("char", None, &[], Some("partner_id.email"))),
        ]
        .into_iter()
        .map(|(n, f)| (n.to_owned(), f))
        .collect();
        HashMap::from([
            ("res.partner".to_owned(), Arc::new(partner)),
            ("res.users".to_owned(), Arc::new(users)),
        ])
    }

    fn hidden(
        rules: &Rules,
        loaded: &HashMap<String, Arc<ModelFields>>,
        model: &str,
    ) -> BTreeMap<String, Hidden> {
        let mut walk = Walk {
            access: rules,
            loaded,
            memo: HashMap::new(),
            stack: HashSet::new(),
            missing: HashSet::new(),
        };
        walk.model(model).fields
    }

    #[test]
    fn a_denied_field_hides_what_derives_from_it_transitively_and_across_models() {
        let rules = Rules {
            denied: vec!["res.partner.email"],
            kept: vec![],
            invisible: vec![],
        };
        let loaded = world();
        let got = hidden(&rules, &loaded, "res.partner");
        let from = |f: &str| Hidden::Derived { from: f.to_owned() };
        assert_eq!(got.get("email"), Some(&Hidden::Denied));
        assert_eq!(
            got.get("email_normalized"),
            Some(&from("res.partner.email"))
        );
        assert_eq!(
            got.get("email_formatted"),
            Some(&from("res.partner.email")),
            "through email_normalized"
        );
        assert_eq!(got.get("display_name"), Some(&from("res.partner.email")));
        assert_eq!(
            got.get("parent_email"),
            Some(&from("res.partner.email")),
            "a related path"
        );
        for clear in [
            "name",
            "complete_name",
            "parent_id",
            "user_login",
            "loop_a",
            "loop_b",
        ] {
            assert!(
                !got.contains_key(clear),
                "{clear} is not derived from email"
            );
        }
        let users = hidden(&rules, &loaded, "res.users");
        assert_eq!(
            users.get("mail"),
            Some(&from("res.partner.email")),
            "across models"
        );
        assert!(!users.contains_key("login"));
    }

    #[test]
    fn a_text_computed_from_a_related_record_follows_that_record_s_name() {
        let product: ModelFields = [
            ("name", field("char", None, &[], None)),
            ("default_code", field("char", None, &[], None)),
            (
                "display_name",
                field("char", None, &["name", "default_code"], None),
            ),
        ]
        .into_iter()
        .map(|(n, f)| (n.to_owned(), f))
        .collect();
        let line: ModelFields = [
            (
                "product_id",
                field("many2one", Some("product.product"), &[], None),
            ),
            ("name", field("text", None, &["product_id"], None)),
            ("price_unit", field("float", None, &["product_id"], None)),
        ]
        .into_iter()
        .map(|(n, f)| (n.to_owned(), f))
        .collect();
        let loaded = HashMap::from([
            ("product.product".to_owned(), Arc::new(product)),
            ("sale.order.line".to_owned(), Arc::new(line)),
        ]);
        let rules = Rules {
            denied: vec!["product.product.default_code"],
            kept: vec![],
            invisible: vec![],
        };
        let got = hidden(&rules, &loaded, "sale.order.line");
        assert_eq!(
            got.get("name"),
            Some(&Hidden::Derived {
                from: "product.product.default_code".to_owned()
            }),
            "the description embeds the product's [code] name"
        );
        assert!(
            !got.contains_key("price_unit"),
            "a number does not carry the name"
        );
        assert!(!got.contains_key("product_id"));
        let open = Rules {
            denied: vec![],
            kept: vec![],
            invisible: vec![],
        };
        assert!(hidden(&open, &loaded, "sale.order.line").is_empty());
    }

    #[test]
    fn allow_derived_keeps_a_field_but_never_a_denied_one() {
        let rules = Rules {
            denied: vec!["res.partner.email"],
            kept: vec!["res.partner.display_name", "res.partner.email"],
            invisible: vec![],
        };
        let got = hidden(&rules, &world(), "res.partner");
        assert!(!got.contains_key("display_name"));
        assert_eq!(got.get("email"), Some(&Hidden::Denied));
        assert!(got.contains_key("email_formatted"));
    }

    #[test]
    fn a_chain_into_a_model_not_loaded_is_unknown_and_hidden_at_the_bounds() {
        let rules = Rules {
            denied: vec!["res.users.login"],
            kept: vec![],
            invisible: vec![],
        };
        let mut loaded = world();
        loaded.remove("res.users");
        let mut walk = Walk {
            access: &rules,
            loaded: &loaded,
            memo: HashMap::new(),
            stack: HashSet::new(),
            missing: HashSet::new(),
        };
        let got = walk.model("res.partner").fields;
        assert!(walk.missing.contains("res.users"), "asks for the model");
        assert!(
            got.contains_key("user_login"),
            "hidden while it cannot be followed"
        );
        // Loaded, the chain is decided.
        let got = hidden(&rules, &world(), "res.partner");
        assert_eq!(
            got.get("user_login"),
            Some(&Hidden::Derived {
                from: "res.users.login".to_owned()
            })
        );
    }

    #[test]
    fn rules_of_a_model_the_key_cannot_see_do_not_taint() {
        let rules = Rules {
            denied: vec!["res.users.login"],
            kept: vec![],
            invisible: vec!["res.users"],
        };
        let got = hidden(&rules, &world(), "res.partner");
        assert!(!got.contains_key("user_login"));
    }
}
