//! One generation of the gateway's configuration: the compiled policy and, for every profile,
//! the tool catalog over that profile's own Odoo identity seen through the profile's rules.
//!
//! A [`Runtime`] is immutable. A reload builds a new one and swaps it in; a request holds the
//! runtime it started with until it ends, so in-flight requests finish under their policy.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;
use warden_policy::{FieldRef, FieldUse as PolicyUse, Operation as PolicyOp, Policy, Profile};

use crate::catalog::{Access, Catalog, Denied, Operation, ParsedCall, Usage};

/// A runtime that cannot be built: a profile names an identity without a catalog.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// A profile's Odoo identity has no catalog.
    #[error("profile {profile:?} runs as the Odoo identity {identity:?}, which is not configured")]
    MissingIdentity {
        /// The profile.
        profile: String,
        /// The identity it names.
        identity: String,
    },
}

/// The compiled policy and one catalog per profile. Cheap to share (`Arc` it).
pub struct Runtime {
    policy: Policy,
    scoped: HashMap<String, Catalog>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("policy", &self.policy)
            .field("profiles", &self.scoped.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Runtime {
    /// A runtime over `policy`, with `catalogs` by Odoo identity name: every profile of the
    /// policy (whether keys or OAuth identities use it) gets its identity's catalog seen through
    /// the profile's rules.
    pub fn new(policy: Policy, catalogs: &BTreeMap<String, Catalog>) -> Result<Self, RuntimeError> {
        let mut scoped = HashMap::new();
        for profile in policy.profiles() {
            let catalog =
                catalogs
                    .get(profile.identity())
                    .ok_or_else(|| RuntimeError::MissingIdentity {
                        profile: profile.name().to_owned(),
                        identity: profile.identity().to_owned(),
                    })?;
            scoped.insert(
                profile.name().to_owned(),
                profile_catalog(catalog, Arc::clone(profile)),
            );
        }
        Ok(Self { policy, scoped })
    }

    /// The compiled policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The catalog a profile's calls go through: its identity's Odoo connection seen through
    /// its rules (`parse_call` + `check` show what the gateway would decide on a call).
    pub fn catalog(&self, profile: &str) -> Option<&Catalog> {
        self.scoped.get(profile)
    }

    /// Every profile's catalog (readiness checks reach Odoo through them).
    pub fn catalogs(&self) -> impl Iterator<Item = &Catalog> {
        self.scoped.values()
    }
}

/// A profile's rules as the catalog asks them.
pub(crate) struct ProfileAccess {
    profile: Arc<Profile>,
}

/// `catalog` (the profile's identity's) as the profile sees it: the catalog every request of a
/// key of this profile is served by.
pub fn profile_catalog(catalog: &Catalog, profile: Arc<Profile>) -> Catalog {
    catalog.with_access(Arc::new(ProfileAccess { profile }))
}

/// The policy's name of a catalog operation (`None`: metadata only).
pub(crate) fn policy_operation(operation: Operation) -> Option<PolicyOp> {
    match operation {
        Operation::Read => Some(PolicyOp::Read),
        Operation::Create => Some(PolicyOp::Create),
        Operation::Write => Some(PolicyOp::Write),
        Operation::Unlink => Some(PolicyOp::Delete),
        Operation::Call => Some(PolicyOp::Call),
        _ => None,
    }
}

fn policy_use(usage: Usage) -> PolicyUse {
    match usage {
        Usage::Write => PolicyUse::Write,
        Usage::Filter => PolicyUse::Filter,
        Usage::Order => PolicyUse::Order,
        Usage::GroupBy => PolicyUse::GroupBy,
        Usage::Aggregate => PolicyUse::Aggregate,
        _ => PolicyUse::Read,
    }
}

impl Access for ProfileAccess {
    fn model_visible(&self, model: &str) -> bool {
        self.profile.model_visible(model)
    }

    fn field_readable(&self, model: &str, field: &str) -> bool {
        self.profile.field_readable(model, field)
    }

    fn derived_allowed(&self, model: &str, field: &str) -> bool {
        self.profile.derived_allowed(model, field).is_some()
    }

    fn hides_fields(&self) -> bool {
        self.profile.hides_fields()
    }

    fn model_rule(&self, model: &str) -> Option<String> {
        self.profile.model_denial(model)
    }

    fn field_rule(&self, model: &str, field: &str) -> Option<String> {
        self.profile.field_denial(model, field)
    }

    fn operation_possible(&self, operation: Operation) -> bool {
        match policy_operation(operation) {
            Some(op) => self.profile.any_model_allows(op),
            None => true,
        }
    }

    fn records_domain(&self, model: &str) -> Option<Value> {
        self.profile.records_domain(model)
    }

    fn max_records(&self) -> Option<u32> {
        self.profile.max_records()
    }

    fn check(&self, call: &ParsedCall) -> Result<(), Denied> {
        let fields: Vec<FieldRef<'_>> = call
            .field_uses()
            .iter()
            .map(|u| FieldRef {
                model: &u.model,
                field: &u.field,
                usage: policy_use(u.usage),
            })
            .collect();
        let nested_ids: usize = call.nested_changes().iter().map(|c| c.ids.len()).sum();
        let request = warden_policy::Request {
            tool: call.tool(),
            model: call.model(),
            operation: policy_operation(call.operation()),
            fields: &fields,
            method: call.method(),
            ids: (call.ids().len() + nested_ids).max(call.records_created()),
        };
        let denied = |denial: warden_policy::Denial| Denied {
            kind: "forbidden",
            message: denial.message,
            rule: denial.rule,
        };
        self.profile.check(&request).map_err(denied)?;
        // What the relational values do on other models: each as that operation there.
        for change in call.nested_changes() {
            let Some(operation) = policy_operation(change.operation) else {
                continue;
            };
            let request = warden_policy::Request {
                tool: call.tool(),
                model: Some(&change.model),
                operation: Some(operation),
                fields: &[],
                method: None,
                ids: change.ids.len(),
            };
            self.profile.check(&request).map_err(|denial| {
                let mut denied = denied(denial);
                denied.message = format!("through {:?}: {}", change.via, denied.message);
                denied
            })?;
        }
        Ok(())
    }
}
