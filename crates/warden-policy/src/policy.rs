//! The compiled policy: profiles, keys, IP rules; authentication and the IP checks;
//! `explain` and `warnings`.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::config::{
    FieldRules, GlobLists, IpRulesConfig, KeyRateLimitConfig, KeyStoreFile, OperationName,
    PolicyConfig, ProfileConfig, RateLimitConfig,
};
use crate::ip::{IpRules, IpVerdict};
use crate::keys::{self, Digest};
use crate::profile::{FieldLists, ModelRule, OpLists, OwnRules, PatternSet, Profile, Request};
use crate::{AuthError, Denial, DenialKind, PolicyError};

/// How close an expiry must be to be warned about.
const EXPIRY_WARNING: Duration = Duration::from_secs(7 * 24 * 3600);

/// The caller behind an authenticated key, as of the policy that authenticated it.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The key's id.
    pub key_id: String,
    /// The key's name.
    pub key_name: String,
    /// The key's profile.
    pub profile: Arc<Profile>,
    /// The key's own rate limits (overriding the per-key defaults).
    pub rate_limit: KeyRateLimitConfig,
    /// When the key expires.
    pub expires: Option<SystemTime>,
}

/// The prefix of the principal ids of OAuth identities (`oauth:<profile>:<subject>`).
pub const OAUTH_PREFIX: &str = "oauth:";

/// A key as `keys list` shows it (no hashes).
#[derive(Debug, Clone)]
pub struct KeyInfo {
    /// The key's id.
    pub id: String,
    /// The key's name.
    pub name: String,
    /// The key's profile.
    pub profile: String,
    /// When the key was created.
    pub created: SystemTime,
    /// Not valid before.
    pub not_before: Option<SystemTime>,
    /// Not valid from.
    pub expires: Option<SystemTime>,
    /// Revoked at.
    pub revoked: Option<SystemTime>,
    /// When each rotated-out secret stops working.
    pub previous_until: Vec<SystemTime>,
    /// The key's own IP rules.
    pub network: IpRulesConfig,
    /// The key's own rate limits.
    pub rate_limit: KeyRateLimitConfig,
}

/// The decision for one request, step by step, in words a reviewer understands.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// Whether every step allows the request.
    pub allowed: bool,
    /// One line per step, each naming the rule behind it.
    pub lines: Vec<String>,
}

#[derive(Debug)]
struct KeyEntry {
    info: KeyInfo,
    hash: Digest,
    previous: Vec<(Digest, SystemTime)>,
    network: IpRules,
    profile: Arc<Profile>,
}

/// The compiled policy. Cheap to share (`Arc<Policy>`) and immutable: a reload compiles a new
/// one. Its `Debug` prints no hash.
#[derive(Debug)]
pub struct Policy {
    network: IpRules,
    rate_limits: RateLimitConfig,
    profiles: BTreeMap<String, Arc<Profile>>,
    keys: BTreeMap<String, KeyEntry>,
    /// Compared against when the key id is unknown, so that both paths hash and compare.
    decoy: Digest,
}

fn pattern_set(
    lists: &[String],
    at: &str,
    origin: &Arc<str>,
    scope: Option<&Arc<str>>,
) -> Result<PatternSet, PolicyError> {
    PatternSet::compile(lists, origin, scope).map_err(|(i, reason)| PolicyError::Pattern {
        at: at.to_owned(),
        pattern: lists[i].clone(),
        reason: reason.to_owned(),
    })
}

fn glob_lists(
    lists: &GlobLists,
    at: &str,
    origin: &Arc<str>,
    scope: Option<&Arc<str>>,
) -> Result<(PatternSet, PatternSet), PolicyError> {
    Ok((
        pattern_set(&lists.allow, &format!("{at}.allow"), origin, scope)?,
        pattern_set(&lists.deny, &format!("{at}.deny"), origin, scope)?,
    ))
}

fn field_lists(
    rules: &FieldRules,
    at: &str,
    origin: &Arc<str>,
    scope: Option<&Arc<str>>,
) -> Result<FieldLists, PolicyError> {
    let read = |list: &[String], name: &str| {
        pattern_set(list, &format!("{at}.read.{name}"), origin, scope)
    };
    let (write_allow, write_deny) =
        glob_lists(&rules.write, &format!("{at}.write"), origin, scope)?;
    Ok(FieldLists {
        read_allow: read(&rules.read.allow, "allow")?,
        read_deny: read(&rules.read.deny, "deny")?,
        read_allow_derived: read(&rules.read.allow_derived, "allow_derived")?,
        write_allow,
        write_deny,
    })
}

/// Checks that a `records` value is a well-formed Odoo domain (so that concatenating it with
/// another is an AND) and returns its terms.
fn domain_terms(value: &Value, at: &str) -> Result<Vec<Value>, PolicyError> {
    let bad = |reason: String| PolicyError::Records {
        at: at.to_owned(),
        reason,
    };
    let Value::Array(terms) = value else {
        return Err(bad(
            "must be a JSON array of domain terms, e.g. [[\"company_id\", \"=\", 1]]".into(),
        ));
    };
    // Read right to left, counting complete sub-domains: a leaf makes one, `!` keeps one,
    // `&` and `|` join two into one.
    let mut complete = 0usize;
    for (i, term) in terms.iter().enumerate().rev() {
        match term {
            Value::Array(leaf) if leaf.len() == 3 => complete += 1,
            Value::String(op) if op == "!" => {
                if complete == 0 {
                    return Err(bad(format!("term {i}: \"!\" has no operand")));
                }
            }
            Value::String(op) if op == "&" || op == "|" => {
                if complete < 2 {
                    return Err(bad(format!("term {i}: \"{op}\" needs two operands")));
                }
                complete -= 1;
            }
            _ => {
                return Err(bad(format!(
                    "term {i}: expected [field, operator, value], \"&\", \"|\" or \"!\""
                )));
            }
        }
    }
    Ok(terms.clone())
}

fn nonzero(value: Option<u32>, at: &str, bound: bool) -> Result<Option<u32>, PolicyError> {
    match value {
        Some(0) if bound => Err(PolicyError::ZeroBound { at: at.to_owned() }),
        Some(0) => Err(PolicyError::ZeroRate { at: at.to_owned() }),
        other => Ok(other),
    }
}

fn own_rules(name: &Arc<str>, config: &ProfileConfig) -> Result<OwnRules, PolicyError> {
    let at = format!("profiles.{name}");
    let (models_allow, models_deny) =
        glob_lists(&config.models, &format!("{at}.models"), name, None)?;
    let (methods_allow, methods_deny) =
        glob_lists(&config.methods, &format!("{at}.methods"), name, None)?;
    let fields = field_lists(&config.fields, &format!("{at}.fields"), name, None)?;
    let mut rules = Vec::with_capacity(config.model.len());
    for (pattern, rule) in &config.model {
        let rule_at = format!("{at}.model.\"{pattern}\"");
        let glob = crate::glob::Glob::new(pattern).map_err(|reason| PolicyError::Pattern {
            at: format!("{at}.model"),
            pattern: pattern.clone(),
            reason: reason.to_owned(),
        })?;
        let scope: Arc<str> = pattern.as_str().into();
        let (methods_allow, methods_deny) = glob_lists(
            &rule.methods,
            &format!("{rule_at}.methods"),
            name,
            Some(&scope),
        )?;
        let fields = field_lists(
            &rule.fields,
            &format!("{rule_at}.fields"),
            name,
            Some(&scope),
        )?;
        let records = match &rule.records {
            Some(value) => domain_terms(value, &format!("{rule_at}.records"))?,
            None => Vec::new(),
        };
        rules.push(ModelRule {
            glob,
            scope,
            origin: name.clone(),
            ops: OpLists::compile(&rule.operations.allow, &rule.operations.deny, name),
            methods_allow,
            methods_deny,
            fields,
            records,
        });
    }
    Ok(OwnRules {
        models_allow,
        models_deny,
        ops: OpLists::compile(&config.operations.allow, &config.operations.deny, name),
        methods_allow,
        methods_deny,
        fields,
        rules,
        max_records: nonzero(config.max_records, &format!("{at}.max_records"), true)?,
        max_write_ids: nonzero(config.max_write_ids, &format!("{at}.max_write_ids"), true)?,
        confirm_writes: config.confirm_writes.unwrap_or(false),
        audit_values: config.audit_values.unwrap_or(false),
        network: IpRules::compile(
            &config.network,
            &format!("{at}.network"),
            &Arc::from(format!("profile \"{name}\": network")),
        )?,
    })
}

/// Follows `extends` from every profile; a profile met again on the current path is a cycle.
fn find_cycle(profiles: &BTreeMap<String, ProfileConfig>) -> Result<(), PolicyError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Unseen,
        OnPath,
        Done,
    }
    let mut marks: BTreeMap<&str, Mark> = profiles
        .keys()
        .map(|k| (k.as_str(), Mark::Unseen))
        .collect();
    for start in profiles.keys() {
        if marks.get(start.as_str()) != Some(&Mark::Unseen) {
            continue;
        }
        // (profile, index of the next parent to visit)
        let mut path: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
        marks.insert(start.as_str(), Mark::OnPath);
        while let Some(&mut (name, ref mut next)) = path.last_mut() {
            let parents = profiles
                .get(name)
                .map(|p| p.extends.as_slice())
                .unwrap_or_default();
            let Some(parent) = parents.get(*next) else {
                marks.insert(name, Mark::Done);
                path.pop();
                continue;
            };
            *next += 1;
            match marks.get(parent.as_str()) {
                Some(Mark::OnPath) => {
                    let from = path.iter().position(|(n, _)| *n == parent).unwrap_or(0);
                    let mut chain: Vec<&str> = path[from..].iter().map(|(n, _)| *n).collect();
                    chain.push(parent);
                    return Err(PolicyError::Cycle {
                        at: format!("profiles.{}.extends", chain[0]),
                        chain: chain.join(" -> "),
                    });
                }
                Some(Mark::Unseen) => {
                    marks.insert(parent.as_str(), Mark::OnPath);
                    path.push((parent.as_str(), 0));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Every profile `name` extends, nearest first (breadth first), each once.
fn ancestors<'a>(name: &'a str, profiles: &'a BTreeMap<String, ProfileConfig>) -> Vec<&'a str> {
    let mut seen: HashSet<&str> = HashSet::from([name]);
    let mut out = Vec::new();
    let mut queue: VecDeque<&str> = VecDeque::from([name]);
    while let Some(current) = queue.pop_front() {
        for parent in profiles
            .get(current)
            .map(|p| p.extends.as_slice())
            .unwrap_or_default()
        {
            if seen.insert(parent.as_str()) {
                out.push(parent.as_str());
                queue.push_back(parent.as_str());
            }
        }
    }
    out
}

/// The identity of `name`: its own, else the first found depth first in `extends` order.
fn resolve_identity<'a>(
    name: &'a str,
    profiles: &'a BTreeMap<String, ProfileConfig>,
) -> Option<&'a str> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut stack: Vec<&str> = vec![name];
    while let Some(current) = stack.pop() {
        if !seen.insert(current) {
            continue;
        }
        let Some(profile) = profiles.get(current) else {
            continue;
        };
        if let Some(identity) = &profile.identity {
            return Some(identity);
        }
        stack.extend(profile.extends.iter().rev().map(String::as_str));
    }
    None
}

fn parse_time_at(text: &str, at: String) -> Result<SystemTime, PolicyError> {
    keys::parse_time(text).map_err(|_| PolicyError::Time {
        at,
        value: text.to_owned(),
    })
}

fn ip_text(ip: Option<IpAddr>) -> String {
    match ip {
        Some(ip) => crate::ip::canonical(ip).to_string(),
        None => "stdio".to_owned(),
    }
}

/// One level of IP rules as a step: Ok(rule) or Err(rule).
fn ip_step(rules: &IpRules, level: &str, ip: Option<IpAddr>) -> Result<String, String> {
    match rules.decide(ip) {
        IpVerdict::AllowedBy(e) => Ok(format!("{}.allow \"{}\"", e.origin, e.text)),
        IpVerdict::AnyAllowed => Ok(format!("{level}.allow (empty: any address)")),
        IpVerdict::DeniedBy(e) => Err(format!("{}.deny \"{}\"", e.origin, e.text)),
        IpVerdict::NotAllowed => Err(format!("{level}.allow (no entry matches {})", ip_text(ip))),
    }
}

fn network_denial(rule: String, ip: Option<IpAddr>) -> Denial {
    let message = match ip {
        Some(_) => format!(
            "requests from {} are not allowed with this key",
            ip_text(ip)
        ),
        None => "requests over stdio are not allowed with this key".to_owned(),
    };
    Denial {
        kind: DenialKind::Network,
        message,
        rule,
    }
}

impl Policy {
    /// Validates and compiles a policy and a key store. `identities`: the names of the
    /// configured Odoo identities. The error names the offending profile, key or setting.
    pub fn compile(
        config: &PolicyConfig,
        keys: &KeyStoreFile,
        identities: &[&str],
    ) -> Result<Policy, PolicyError> {
        let limits = &config.rate_limits;
        for (value, name) in [
            (limits.global_per_minute, "global_per_minute"),
            (limits.per_key_per_minute, "per_key_per_minute"),
            (limits.per_ip_per_minute, "per_ip_per_minute"),
            (
                limits.writes_per_key_per_minute,
                "writes_per_key_per_minute",
            ),
            (
                limits.failed_auth_per_ip_per_minute,
                "failed_auth_per_ip_per_minute",
            ),
            (limits.burst, "burst"),
        ] {
            nonzero(value, &format!("rate_limits.{name}"), false)?;
        }
        let network = IpRules::compile(&config.network, "network", &Arc::from("network"))?;

        // Every profile's own rules, validated, and its references.
        let mut own: BTreeMap<&str, (Arc<str>, OwnRules)> = BTreeMap::new();
        for (name, profile) in &config.profiles {
            let arc: Arc<str> = name.as_str().into();
            for parent in &profile.extends {
                if !config.profiles.contains_key(parent) {
                    return Err(PolicyError::UnknownProfile {
                        at: format!("profiles.{name}.extends"),
                        name: parent.clone(),
                    });
                }
            }
            if let Some(identity) = &profile.identity
                && !identities.contains(&identity.as_str())
            {
                return Err(PolicyError::UnknownIdentity {
                    at: format!("profiles.{name}.identity"),
                    name: identity.clone(),
                });
            }
            let rules = own_rules(&arc, profile)?;
            own.insert(name.as_str(), (arc, rules));
        }
        find_cycle(&config.profiles)?;

        let mut profiles = BTreeMap::new();
        for (name, profile) in &config.profiles {
            let identity = resolve_identity(name, &config.profiles).ok_or_else(|| {
                PolicyError::NoIdentity {
                    profile: name.clone(),
                }
            })?;
            let chain: Vec<&str> = std::iter::once(name.as_str())
                .chain(ancestors(name, &config.profiles))
                .collect();
            // Each level's IP rules are labelled as seen from this profile.
            let relabelled: Vec<(Arc<str>, OwnRules)> = chain
                .iter()
                .filter_map(|level| own.get(level))
                .map(|(level, rules)| {
                    let mut rules = rules.clone();
                    let origin = if **level == **name {
                        format!("profile \"{name}\": network")
                    } else {
                        format!("profile \"{name}\" (from \"{level}\"): network")
                    };
                    rules.network = rules.network.relabel(&Arc::from(origin));
                    (level.clone(), rules)
                })
                .collect();
            let levels: Vec<(&Arc<str>, &OwnRules)> =
                relabelled.iter().map(|(n, r)| (n, r)).collect();
            let compiled = Profile::flatten(
                &own[name.as_str()].0,
                identity.to_owned(),
                profile.description.clone(),
                &levels,
            );
            profiles.insert(name.clone(), Arc::new(compiled));
        }

        let mut compiled_keys = BTreeMap::new();
        for (i, key) in keys.keys.iter().enumerate() {
            if !keys::is_key_id(&key.id) {
                return Err(PolicyError::KeyId {
                    at: format!("key[{i}].id"),
                    value: key.id.clone(),
                });
            }
            let at = format!("key.{}", key.id);
            if compiled_keys.contains_key(&key.id) {
                return Err(PolicyError::DuplicateKey { id: key.id.clone() });
            }
            let profile =
                profiles
                    .get(&key.profile)
                    .cloned()
                    .ok_or_else(|| PolicyError::UnknownProfile {
                        at: format!("{at}.profile"),
                        name: key.profile.clone(),
                    })?;
            let hash = keys::parse_hash(&key.hash).ok_or_else(|| PolicyError::Hash {
                at: format!("{at}.hash"),
            })?;
            let optional = |value: &Option<String>, name: &str| {
                value
                    .as_deref()
                    .map(|text| parse_time_at(text, format!("{at}.{name}")))
                    .transpose()
            };
            let mut previous = Vec::with_capacity(key.previous.len());
            for (j, old) in key.previous.iter().enumerate() {
                let digest = keys::parse_hash(&old.hash).ok_or_else(|| PolicyError::Hash {
                    at: format!("{at}.previous[{j}].hash"),
                })?;
                let until = parse_time_at(&old.until, format!("{at}.previous[{j}].until"))?;
                previous.push((digest, until));
            }
            nonzero(
                key.rate_limit.per_minute,
                &format!("{at}.rate_limit.per_minute"),
                false,
            )?;
            nonzero(
                key.rate_limit.writes_per_minute,
                &format!("{at}.rate_limit.writes_per_minute"),
                false,
            )?;
            let info = KeyInfo {
                id: key.id.clone(),
                name: key.name.clone(),
                profile: key.profile.clone(),
                created: parse_time_at(&key.created, format!("{at}.created"))?,
                not_before: optional(&key.not_before, "not_before")?,
                expires: optional(&key.expires, "expires")?,
                revoked: optional(&key.revoked, "revoked")?,
                previous_until: previous.iter().map(|(_, until)| *until).collect(),
                network: key.network.clone(),
                rate_limit: key.rate_limit.clone(),
            };
            let network = IpRules::compile(
                &key.network,
                &format!("{at}.network"),
                &Arc::from(format!("key {}: network", key.id)),
            )?;
            compiled_keys.insert(
                key.id.clone(),
                KeyEntry {
                    info,
                    hash,
                    previous,
                    network,
                    profile,
                },
            );
        }

        Ok(Policy {
            network,
            rate_limits: config.rate_limits.clone(),
            profiles,
            keys: compiled_keys,
            decoy: Digest::of("owk_000000000000_decoy"),
        })
    }

    /// Authenticates a presented secret: its hash is compared in constant time with the key's
    /// current hash and every previous hash still in its grace period; then the key must be
    /// neither revoked, nor not yet valid, nor expired. A secret that matches nothing is
    /// [`AuthError::Unknown`], whether or not its key id exists.
    pub fn authenticate(&self, secret: &str, now: SystemTime) -> Result<Principal, AuthError> {
        let id = keys::key_id_of(secret).ok_or(AuthError::Malformed)?;
        let presented = Digest::of(secret);
        let Some(entry) = self.keys.get(&id) else {
            // Same work as a known id.
            let _ = bool::from(presented.ct_eq(&self.decoy));
            return Err(AuthError::Unknown);
        };
        let mut matched = presented.ct_eq(&entry.hash);
        for (old, until) in &entry.previous {
            if now < *until {
                matched |= presented.ct_eq(old);
            }
        }
        if !bool::from(matched) {
            return Err(AuthError::Unknown);
        }
        self.principal(&id, now)
    }

    /// Re-validates a key authenticated earlier (on every request: a reload may have revoked or
    /// removed it, or it may have expired since).
    pub fn principal(&self, key_id: &str, now: SystemTime) -> Result<Principal, AuthError> {
        if let Some(rest) = key_id.strip_prefix(OAUTH_PREFIX) {
            let (profile, subject) = rest.split_once(':').ok_or(AuthError::Unknown)?;
            return self
                .oauth_principal(subject, profile)
                .ok_or(AuthError::Unknown);
        }
        let entry = self.keys.get(key_id).ok_or(AuthError::Unknown)?;
        let info = &entry.info;
        if info.revoked.is_some() {
            return Err(AuthError::Revoked);
        }
        if info.not_before.is_some_and(|t| now < t) {
            return Err(AuthError::NotYetValid);
        }
        if info.expires.is_some_and(|t| now >= t) {
            return Err(AuthError::Expired);
        }
        Ok(Principal {
            key_id: info.id.clone(),
            key_name: info.name.clone(),
            profile: entry.profile.clone(),
            rate_limit: info.rate_limit.clone(),
            expires: info.expires,
        })
    }

    /// The principal of an OAuth access token, already validated by the caller (issuer, audience,
    /// validity, signature), whose claims map to `profile`: its id is `oauth:<profile>:<subject>`
    /// (no key of the store can have that form), its name the subject. `None` when the profile
    /// does not exist. Such a principal has no key-level rules: its IP rules are the global and
    /// profile ones, its rate limits the per-key defaults.
    pub fn oauth_principal(&self, subject: &str, profile: &str) -> Option<Principal> {
        if profile.contains(':') {
            return None;
        }
        let profile = self.profiles.get(profile)?;
        Some(Principal {
            key_id: format!("{OAUTH_PREFIX}{}:{subject}", profile.name()),
            key_name: subject.to_owned(),
            profile: Arc::clone(profile),
            rate_limit: KeyRateLimitConfig::default(),
            expires: None,
        })
    }

    /// The global IP rules alone (checked before authentication). `None`: stdio.
    pub fn check_ip_global(&self, ip: Option<IpAddr>) -> Result<(), Denial> {
        ip_step(&self.network, "network", ip)
            .map(drop)
            .map_err(|rule| network_denial(rule, ip))
    }

    /// The global IP rules, then the principal's profile's, then its key's own. `None`: stdio.
    pub fn check_ip(&self, principal: &Principal, ip: Option<IpAddr>) -> Result<(), Denial> {
        self.check_ip_global(ip)?;
        let profile_level = format!("profile \"{}\": network", principal.profile.name());
        ip_step(principal.profile.network(), &profile_level, ip)
            .map_err(|rule| network_denial(rule, ip))?;
        if principal.key_id.starts_with(OAUTH_PREFIX) {
            return Ok(());
        }
        let Some(entry) = self.keys.get(&principal.key_id) else {
            return Err(network_denial(
                format!("key {} is no longer configured", principal.key_id),
                ip,
            ));
        };
        let key_level = format!("key {}: network", principal.key_id);
        ip_step(&entry.network, &key_level, ip)
            .map(drop)
            .map_err(|rule| network_denial(rule, ip))
    }

    /// A profile by name.
    pub fn profile(&self, name: &str) -> Option<&Arc<Profile>> {
        self.profiles.get(name)
    }

    /// Every compiled profile, by name.
    pub fn profiles(&self) -> impl Iterator<Item = &Arc<Profile>> {
        self.profiles.values()
    }

    /// Every key, sorted by id.
    pub fn keys(&self) -> impl Iterator<Item = &KeyInfo> {
        self.keys.values().map(|entry| &entry.info)
    }

    /// The key whose id is `id`, whatever its state (revoked and expired keys included).
    pub fn key(&self, id: &str) -> Option<&KeyInfo> {
        self.keys.get(id).map(|entry| &entry.info)
    }

    /// The name and profile of the key or OAuth identity `id`, whatever its state: how the
    /// audit log names a request refused before (or because) its principal was resolved.
    pub fn key_label(&self, id: &str) -> Option<(String, String)> {
        if let Some(info) = self.key(id) {
            return Some((info.name.clone(), info.profile.clone()));
        }
        let principal = self.principal(id, SystemTime::now()).ok()?;
        Some((principal.key_name, principal.profile.name().to_owned()))
    }

    /// The rate limits, for [`crate::RateLimiter::new`].
    pub fn rate_limits(&self) -> &RateLimitConfig {
        &self.rate_limits
    }

    /// Everything the checks would decide for this key, request and address, with the rule
    /// behind each step. Lists every step, also after a denial.
    pub fn explain(
        &self,
        key_id: &str,
        request: &Request<'_>,
        ip: Option<IpAddr>,
        now: SystemTime,
    ) -> Explanation {
        let mut lines = Vec::new();
        let mut allowed = true;
        let entry = self.keys.get(key_id);
        match (entry, self.principal(key_id, now)) {
            (Some(entry), Ok(_)) => lines.push(format!(
                "key {key_id} (\"{}\"): valid, {}; profile \"{}\"",
                entry.info.name,
                entry.info.expires.map_or_else(
                    || "no expiry".to_owned(),
                    |t| format!("expires {}", keys::format_time(t))
                ),
                entry.info.profile
            )),
            (_, Err(error)) => {
                allowed = false;
                lines.push(format!("key {key_id}: denied ({error})"));
            }
            (None, Ok(_)) => {}
        }
        let mut ip_line = |level: &str, step: Result<String, String>| {
            let (word, rule) = match step {
                Ok(rule) => ("allowed", rule),
                Err(rule) => {
                    allowed = false;
                    ("denied", rule)
                }
            };
            lines.push(format!(
                "address {} ({level}): {word} by {rule}",
                ip_text(ip)
            ));
        };
        ip_line("global", ip_step(&self.network, "network", ip));
        let Some(entry) = entry else {
            lines.push("profile: none (unknown key), so every other step is denied".to_owned());
            lines.push("decision: denied".to_owned());
            return Explanation {
                allowed: false,
                lines,
            };
        };
        let profile = &entry.profile;
        ip_line(
            "profile",
            ip_step(
                profile.network(),
                &format!("profile \"{}\": network", profile.name()),
                ip,
            ),
        );
        ip_line(
            "key",
            ip_step(&entry.network, &format!("key {key_id}: network"), ip),
        );
        if !request.tool.is_empty() {
            lines.push(format!("tool \"{}\"", request.tool));
        }
        allowed &= profile.explain_steps(request, &mut lines);
        let limits = &self.rate_limits;
        let per_key = entry
            .info
            .rate_limit
            .per_minute
            .or(limits.per_key_per_minute);
        lines.push(format!(
            "rate limits (counted per request, not part of this decision): per key {}, global {}, per address {}",
            per_minute(per_key),
            per_minute(limits.global_per_minute),
            per_minute(limits.per_ip_per_minute)
        ));
        lines.push(format!(
            "decision: {}",
            if allowed { "allowed" } else { "denied" }
        ));
        Explanation { allowed, lines }
    }

    /// Risky settings, one sentence each, in a stable order.
    pub fn warnings(&self, now: SystemTime) -> Vec<String> {
        self.warnings_reaching(now, &[])
    }

    /// [`Policy::warnings`] where the profiles `reached` (and those they extend) are used by
    /// something other than a key, e.g. OAuth claim mappings: they are not "used by no key".
    pub fn warnings_reaching(&self, now: SystemTime, reached: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        let global_restricts = self.network.restricts();
        let mut used: BTreeSet<&str> = BTreeSet::new();
        for name in reached {
            if let Some(profile) = self.profiles.get(*name) {
                used.insert(profile.name());
                used.extend(profile.ancestors().iter().map(String::as_str));
            }
        }
        for entry in self.keys.values() {
            let info = &entry.info;
            if info.revoked.is_some() {
                continue;
            }
            used.insert(entry.profile.name());
            used.extend(entry.profile.ancestors().iter().map(String::as_str));
            match info.expires {
                None => out.push(format!("key {} (\"{}\") never expires", info.id, info.name)),
                Some(t) if t <= now => out.push(format!(
                    "key {} (\"{}\") expired on {}",
                    info.id,
                    info.name,
                    keys::format_time(t)
                )),
                Some(t) if t.duration_since(now).unwrap_or_default() <= EXPIRY_WARNING => {
                    out.push(format!(
                        "key {} (\"{}\") expires within 7 days, on {}",
                        info.id,
                        info.name,
                        keys::format_time(t)
                    ));
                }
                Some(_) => {}
            }
            let writes = [
                OperationName::Create,
                OperationName::Write,
                OperationName::Delete,
                OperationName::Call,
            ]
            .into_iter()
            .any(|op| entry.profile.any_model_allows(op));
            if writes
                && !global_restricts
                && !entry.profile.network().restricts()
                && !entry.network.restricts()
            {
                out.push(format!(
                    "key {} (\"{}\") may change data (profile \"{}\") from any address: no IP allow rule restricts it",
                    info.id,
                    info.name,
                    entry.profile.name()
                ));
            }
        }
        for (name, profile) in &self.profiles {
            if !used.contains(name.as_str()) {
                out.push(format!("profile \"{name}\" is used by no key"));
            }
            if profile.sees_no_model() {
                out.push(format!(
                    "profile \"{name}\" sees no model: its models.allow is empty, also after inheritance"
                ));
            }
            if profile
                .allow_every_model()
                .any(|origin| origin == name.as_str())
            {
                out.push(format!(
                    "profile \"{name}\" allows every model (models.allow \"*\")"
                ));
            }
        }
        out
    }
}

fn per_minute(value: Option<u32>) -> String {
    value.map_or_else(|| "unlimited".to_owned(), |n| format!("{n}/min"))
}
