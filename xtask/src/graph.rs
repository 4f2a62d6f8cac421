//! The crate-graph rules of `docs/ARCHITECTURE.md`, checked with `cargo tree`.
//!
//! Each rule names a package and the packages it must never depend on (normal and build
//! dependencies; dev-dependencies may reach further, e.g. a client's tests use the simulator).
//! The rules are data so that adding a crate means adding a line here and in ARCHITECTURE.md.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};

use crate::{cargo, report};

/// Packages that only binaries (and xtask, examples, tests) may depend on.
const BIN_ONLY: &[&str] = &["clap", "anyhow", "tracing-subscriber"];

/// `(package, packages it must not depend on)`.
const RULES: &[(&str, &[&str])] = &[
    // The simulator depends on nothing of ours: it stands in for Odoo, not for our code.
    (
        "warden-odoo-sim",
        &[
            "warden-odoo",
            "warden-mcp",
            "warden-policy",
            "warden-audit",
            "warden-gateway",
        ],
    ),
    // The Odoo client knows nothing about MCP, policy, audit or the gateway.
    (
        "warden-odoo",
        &[
            "warden-mcp",
            "warden-policy",
            "warden-audit",
            "warden-gateway",
            "warden-odoo-sim",
        ],
    ),
    // The protocol crate does no I/O and knows nothing of Odoo.
    (
        "warden-mcp",
        &[
            "tokio",
            "hyper",
            "reqwest",
            "warden-odoo",
            "warden-gateway",
            "warden-config",
        ],
    ),
    // The engine knows no transport and no configuration file format.
    (
        "warden-gateway",
        &[
            "warden-transport",
            "warden-config",
            "config",
            "warden-odoo-sim",
            // A fleet's store is injected (warden-cluster), never linked in.
            "redis",
            "warden-cluster",
        ],
    ),
    // The policy is data and pure decisions: no runtime, no sockets, no other crate of ours.
    (
        "warden-policy",
        &[
            "tokio",
            "hyper",
            "reqwest",
            "warden-odoo",
            "warden-mcp",
            "warden-gateway",
            "warden-config",
            "warden-transport",
            "redis",
            "warden-cluster",
        ],
    ),
    // The audit log knows nothing of MCP, Odoo, the policy or the gateway: events are plain data.
    (
        "warden-audit",
        &[
            "warden-odoo",
            "warden-mcp",
            "warden-policy",
            "warden-gateway",
            "warden-config",
            "warden-transport",
            "warden-odoo-sim",
        ],
    ),
    // The PostgreSQL audit sink is the audit log's, and knows no more than it does.
    (
        "warden-audit-pg",
        &[
            "warden-odoo",
            "warden-mcp",
            "warden-policy",
            "warden-gateway",
            "warden-config",
            "warden-transport",
            "warden-odoo-sim",
        ],
    ),
    // The configuration feeds the crates' settings; it runs nothing.
    ("warden-config", &["warden-transport"]),
    // The shared store implements the gateway's seam; it knows no transport or file format.
    (
        "warden-cluster",
        &["warden-transport", "warden-config", "warden-odoo-sim"],
    ),
];

pub(crate) fn check() -> Result<()> {
    let members = workspace_libraries()?;
    let mut failures = Vec::new();
    for (package, forbidden) in RULES {
        if !members.contains(*package) {
            failures.push(format!(
                "rule names {package}, which is not a workspace member"
            ));
            continue;
        }
        let deps = dependencies(package)?;
        for bad in forbidden.iter().copied().chain(BIN_ONLY.iter().copied()) {
            if deps.contains(bad) {
                failures.push(format!("{package} must not depend on {bad}"));
            }
        }
    }
    // Every library crate under crates/ stays free of the binary-only packages, named or not.
    for package in &members {
        if RULES.iter().any(|(p, _)| p == package) {
            continue;
        }
        let deps = dependencies(package)?;
        for bad in BIN_ONLY {
            if deps.contains(*bad) {
                failures.push(format!(
                    "{package} must not depend on {bad} (binaries only)"
                ));
            }
        }
    }
    if failures.is_empty() {
        report(&format!(
            "crate graph: {} library crates follow the rules",
            members.len()
        ));
        Ok(())
    } else {
        bail!("crate graph rules broken:\n  {}", failures.join("\n  "))
    }
}

/// Names of the library packages under `crates/`.
fn workspace_libraries() -> Result<BTreeSet<String>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates");
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(&root).with_context(|| format!("reading {}", root.display()))? {
        let path = entry?.path().join("Cargo.toml");
        let manifest = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let name = manifest
            .lines()
            .find_map(|l| l.trim().strip_prefix("name = \""))
            .and_then(|rest| rest.strip_suffix('"'))
            .with_context(|| format!("no package name in {}", path.display()))?;
        names.insert(name.to_owned());
    }
    Ok(names)
}

/// Every package `package` depends on through normal and build dependencies.
fn dependencies(package: &str) -> Result<BTreeSet<String>> {
    let output = cargo()
        .args([
            "tree",
            "--locked",
            "-p",
            package,
            "-e",
            "normal,build",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p}"])
        .output()
        .context("could not run cargo tree")?;
    if !output.status.success() {
        bail!(
            "cargo tree -p {package} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .skip(1) // the package itself
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect())
}
