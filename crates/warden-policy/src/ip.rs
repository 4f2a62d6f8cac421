//! Compiled IP rules: allow and deny lists of networks, plus the `stdio` word for calls that
//! carry no address.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::PolicyError;
use crate::config::IpRulesConfig;

/// One entry of an allow or deny list, with where it was written.
#[derive(Debug, Clone)]
pub(crate) struct IpEntry {
    /// `None`: the word `stdio`.
    net: Option<IpNet>,
    /// As written.
    pub(crate) text: Box<str>,
    /// Where it was written, e.g. `network`, `profile "hr" (from "base"): network`.
    pub(crate) origin: Arc<str>,
}

impl IpEntry {
    fn matches(&self, ip: Option<IpAddr>) -> bool {
        match (self.net, ip) {
            (None, None) => true,
            (Some(net), Some(ip)) => net.contains(&ip),
            _ => false,
        }
    }
}

/// Allow and deny lists (possibly gathered from several levels of inheritance).
#[derive(Debug, Clone, Default)]
pub(crate) struct IpRules {
    allow: Vec<IpEntry>,
    deny: Vec<IpEntry>,
}

/// What a rule set says about one address.
#[derive(Debug, Clone, Copy)]
pub(crate) enum IpVerdict<'a> {
    /// Allowed by this entry.
    AllowedBy(&'a IpEntry),
    /// Allowed because the allow list is empty.
    AnyAllowed,
    /// Refused by this deny entry.
    DeniedBy(&'a IpEntry),
    /// Refused because no allow entry matches.
    NotAllowed,
}

#[cfg(test)]
impl IpVerdict<'_> {
    pub(crate) fn allowed(&self) -> bool {
        matches!(self, IpVerdict::AllowedBy(_) | IpVerdict::AnyAllowed)
    }
}

/// IPv4-mapped IPv6 addresses become IPv4.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

fn parse_entry(text: &str) -> Option<Option<IpNet>> {
    if text == "stdio" {
        return Some(None);
    }
    let net = if text.contains('/') {
        let net: IpNet = text.parse().ok()?;
        match net {
            IpNet::V6(v6) => {
                // ::ffff:a.b.c.d/n with n >= 96 is the IPv4 block a.b.c.d/(n - 96).
                match v6.addr().to_ipv4_mapped() {
                    Some(v4) if v6.prefix_len() >= 96 => {
                        IpNet::V4(Ipv4Net::new(v4, v6.prefix_len() - 96).ok()?)
                    }
                    _ => net,
                }
            }
            IpNet::V4(_) => net,
        }
    } else {
        match canonical(text.parse::<IpAddr>().ok()?) {
            IpAddr::V4(v4) => IpNet::V4(Ipv4Net::new(v4, 32).ok()?),
            IpAddr::V6(v6) => IpNet::V6(Ipv6Net::new(v6, 128).ok()?),
        }
    };
    Some(Some(net.trunc()))
}

impl IpRules {
    /// Compiles one `network` section; `at` names it in errors (`network`, `profiles.x.network`,
    /// `key.k_….network`), `origin` in rule descriptions.
    pub(crate) fn compile(
        config: &IpRulesConfig,
        at: &str,
        origin: &Arc<str>,
    ) -> Result<IpRules, PolicyError> {
        let list = |entries: &[String], name: &str| -> Result<Vec<IpEntry>, PolicyError> {
            entries
                .iter()
                .map(|text| {
                    let net = parse_entry(text.trim()).ok_or_else(|| PolicyError::Address {
                        at: format!("{at}.{name}"),
                        value: text.clone(),
                    })?;
                    Ok(IpEntry {
                        net,
                        text: text.as_str().into(),
                        origin: origin.clone(),
                    })
                })
                .collect()
        };
        Ok(IpRules {
            allow: list(&config.allow, "allow")?,
            deny: list(&config.deny, "deny")?,
        })
    }

    /// Adds another level's entries (allow lists add up, deny lists add up).
    pub(crate) fn extend(&mut self, other: &IpRules) {
        self.allow.extend(other.allow.iter().cloned());
        self.deny.extend(other.deny.iter().cloned());
    }

    /// The same rules, described as written at `origin`.
    pub(crate) fn relabel(&self, origin: &Arc<str>) -> IpRules {
        let relabel = |entries: &[IpEntry]| {
            entries
                .iter()
                .map(|e| IpEntry {
                    origin: origin.clone(),
                    ..e.clone()
                })
                .collect()
        };
        IpRules {
            allow: relabel(&self.allow),
            deny: relabel(&self.deny),
        }
    }

    /// Whether the allow list restricts anything.
    pub(crate) fn restricts(&self) -> bool {
        !self.allow.is_empty()
    }

    /// Deny wins; an empty allow list allows any address and stdio.
    pub(crate) fn decide(&self, ip: Option<IpAddr>) -> IpVerdict<'_> {
        let ip = ip.map(canonical);
        if let Some(entry) = self.deny.iter().find(|e| e.matches(ip)) {
            return IpVerdict::DeniedBy(entry);
        }
        if self.allow.is_empty() {
            return IpVerdict::AnyAllowed;
        }
        match self.allow.iter().find(|e| e.matches(ip)) {
            Some(entry) => IpVerdict::AllowedBy(entry),
            None => IpVerdict::NotAllowed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(allow: &[&str], deny: &[&str]) -> IpRules {
        let config = IpRulesConfig {
            allow: allow.iter().map(std::string::ToString::to_string).collect(),
            deny: deny.iter().map(std::string::ToString::to_string).collect(),
        };
        IpRules::compile(&config, "network", &Arc::from("network")).unwrap()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn mapped_cidr_is_ipv4() {
        let r = rules(&["::ffff:10.0.0.0/104"], &[]);
        assert!(r.decide(ip("10.1.2.3")).allowed());
        assert!(r.decide(ip("::ffff:10.1.2.3")).allowed());
        assert!(!r.decide(ip("11.0.0.1")).allowed());
    }

    #[test]
    fn host_bits_are_ignored() {
        let r = rules(&["10.1.2.3/8"], &[]);
        assert!(r.decide(ip("10.200.0.1")).allowed());
    }

    #[test]
    fn bad_entries() {
        for bad in ["10.0.0.300", "10.0.0.0/33", "STDIO", "any", "", "10.0.0.0/"] {
            let config = IpRulesConfig {
                allow: vec![bad.to_string()],
                deny: vec![],
            };
            let err = IpRules::compile(&config, "network", &Arc::from("network")).unwrap_err();
            assert!(err.to_string().starts_with("network.allow: "), "{err}");
        }
    }
}
