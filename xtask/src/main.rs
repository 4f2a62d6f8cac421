//! Project automation, run as `cargo xtask <command>`.
//!
//! - `ci`: everything CI runs, in order: formatting, clippy (warnings are errors), the whole test
//!   suite, the crate-graph rules of `docs/ARCHITECTURE.md`, and `cargo deny` (licenses, bans,
//!   sources; advisories when the advisory database can be reached).
//!   Then the end-to-end tests (`tests/e2e`): the official MCP Python SDK client and mcp-fuzzer,
//!   installed at pinned versions into `.venv`, against the built binaries and the simulator;
//!   `tests/e2e-node`: the official TypeScript SDK clients v1 and v2 (pinned by its
//!   package-lock.json, `npm ci`) against `odoo-warden-http`, `odoo-warden demo` and
//!   `odoo-warden-stdio`; `tests/e2e-inspector`: the MCP Inspector CLI (on Node 22 from the npm
//!   registry) against the demo and `odoo-warden-stdio`; and `tests/conformance`: the official MCP conformance
//!   suite (0.1.16 for the legacy era, 0.2.0-alpha.12 with `--requirements 2026-07-28`, on Node
//!   22 from the npm registry) against `examples/conformance-server`.
//! - `bench`: the benchmarks (not part of CI: numbers need a quiet machine).
//! - `fuzz [SECONDS]`: the MCP decoder under cargo-fuzz (default 600 s; not part of CI).
//! - `fuzz [SECONDS]`: the `decode` target of `fuzz/` for SECONDS (default 600), installing
//!   cargo-fuzz if needed; libFuzzer needs nightly features, enabled on the stable toolchain with
//!   `RUSTC_BOOTSTRAP=1`.
//!
//! xtask keeps its own dependencies to `anyhow`: it shells out to cargo.

use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, Result, bail};

mod graph;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("bench") => bench(&args[1..]),
        Some("graph") => graph::check(),
        Some("fuzz") => fuzz(&args[1..]),
        _ => {
            usage();
            return ExitCode::from(64);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            report(&format!("xtask: {err:#}"));
            ExitCode::FAILURE
        }
    }
}

fn usage() {
    report(
        "usage: cargo xtask <command>\n\n\
         commands:\n  \
           ci      fmt --check, clippy -D warnings, tests, crate graph, cargo deny\n  \
           graph   only the crate-graph rules\n  \
           bench   criterion benchmarks (extra arguments go to cargo bench)\n  \
           fuzz    [SECONDS] fuzz warden_mcp::decode (default 600 s; installs cargo-fuzz)",
    );
}

/// xtask talks to the person running it on stderr; stdout stays for the tools it runs.
#[allow(clippy::print_stderr)]
fn report(line: &str) {
    eprintln!("{line}");
}

fn ci() -> Result<()> {
    let started = Instant::now();
    live_banner();
    step("cargo fmt", &["fmt", "--all", "--", "--check"])?;
    step(
        "cargo clippy",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    step(
        "cargo test",
        &["test", "--workspace", "--all-targets", "--locked"],
    )?;
    // Doc tests are not part of --all-targets.
    step(
        "cargo test --doc",
        &["test", "--workspace", "--doc", "--locked"],
    )?;
    report("== crate graph");
    graph::check()?;
    deny()?;
    e2e()?;
    live_banner();
    report(&format!("== ci passed in {:.0?}", started.elapsed()));
    Ok(())
}

fn bench(extra: &[String]) -> Result<()> {
    let mut args = vec!["bench", "--workspace"];
    args.extend(extra.iter().map(String::as_str));
    step("cargo bench", &args)
}

/// Fuzzes `warden_mcp::decode` (the `decode` target of `fuzz/`) for `args[0]` seconds.
fn fuzz(args: &[String]) -> Result<()> {
    let seconds: u64 = match args.first() {
        Some(s) => s
            .parse()
            .with_context(|| format!("not a number of seconds: {s}"))?,
        None => 600,
    };
    let installed = cargo()
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        step("install cargo-fuzz", &["install", "--locked", "cargo-fuzz"])?;
    }
    report(&format!("== cargo fuzz run decode ({seconds} s)"));
    let max_time = format!("-max_total_time={seconds}");
    run(
        cargo()
            .current_dir(workspace_root())
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", "decode", "--", &max_time]),
        "cargo fuzz run decode",
    )
}

/// Says loudly whether the live suites run (against the Odoo `ODOO_LIVE_*` describe) or are
/// skipped: the simulator alone is never the whole proof.
fn live_banner() {
    match std::env::var("ODOO_LIVE_URL") {
        Ok(url) if !url.is_empty() => report(&format!(
            "== live suites ON: the fidelity check, the leak suite and the agent session also run against the Odoo at {url} (database {})",
            std::env::var("ODOO_LIVE_DB").unwrap_or_else(|_| "odoo".to_owned())
        )),
        _ => report(
            "==\n== LIVE SUITES SKIPPED: ODOO_LIVE_URL is not set. Only the simulator is tested.\n== Bring a real Odoo up with ../shared/odoo/up STATE_DIR and load STATE_DIR/odoo.env\n== (.ci/run does both; see docs/testing.md).\n==",
        ),
    }
}

/// End-to-end tests with the official MCP clients, against the built binaries and the simulator.
fn e2e() -> Result<()> {
    step(
        "cargo build (binaries)",
        &["build", "--workspace", "--bins", "--locked"],
    )?;
    let root = workspace_root();
    let venv = root.join(".venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        report("== creating .venv for the end-to-end tests");
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv",
        )?;
    }
    report("== installing the pinned MCP clients (tests/e2e/requirements.txt)");
    run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(root.join("tests/e2e/requirements.txt")),
        "pip install",
    )?;
    report("== end-to-end tests (pytest)");
    run(
        Command::new(&python)
            .args(["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"])
            .arg(root.join("tests/e2e"))
            .env("WARDEN_BIN_DIR", target_dir(&root).join("debug")),
        "pytest tests/e2e",
    )?;
    report("== end-to-end tests (node: the TypeScript SDK v1 and v2 clients over HTTP and stdio)");
    run(
        Command::new("bash")
            .arg(root.join("tests/e2e-node/run.sh"))
            .env("WARDEN_BIN_DIR", target_dir(&root).join("debug")),
        "tests/e2e-node/run.sh",
    )?;
    report("== end-to-end tests (the MCP Inspector CLI over HTTP and stdio)");
    run(
        Command::new("bash")
            .arg(root.join("tests/e2e-inspector/run.sh"))
            .env("WARDEN_BIN_DIR", target_dir(&root).join("debug")),
        "tests/e2e-inspector/run.sh",
    )?;
    report("== the official MCP conformance suite (tests/conformance)");
    run(
        Command::new("bash")
            .arg(root.join("tests/conformance/run.sh"))
            .env("WARDEN_BIN_DIR", target_dir(&root).join("debug")),
        "tests/conformance/run.sh",
    )
}

/// Where cargo puts its builds: `CARGO_TARGET_DIR` when set (relative to the workspace), else
/// `target/` in the workspace.
fn target_dir(root: &std::path::Path) -> std::path::PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(command: &mut Command, title: &str) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("could not run {title}"))?;
    if !status.success() {
        bail!("{title} failed ({status})");
    }
    Ok(())
}

/// Runs `cargo <args>` and fails if it does.
fn step(title: &str, args: &[&str]) -> Result<()> {
    report(&format!("== {title}"));
    let status = cargo()
        .args(args)
        .status()
        .with_context(|| format!("could not run {title}"))?;
    if !status.success() {
        bail!("{title} failed ({status})");
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// `cargo deny check` for licenses, bans and sources; advisories only when the advisory database
/// can be fetched (these machines reach package registries only), with a printed note otherwise.
fn deny() -> Result<()> {
    let installed = cargo()
        .args(["deny", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        step("install cargo-deny", &["install", "--locked", "cargo-deny"])?;
    }
    step(
        "cargo deny (licenses, bans, sources)",
        &["deny", "check", "licenses", "bans", "sources"],
    )?;
    report("== cargo deny (advisories)");
    let fetched = cargo()
        .args(["deny", "fetch", "db"])
        .output()
        .context("could not run cargo deny fetch")?;
    if fetched.status.success() {
        step(
            "cargo deny advisories",
            &["deny", "check", "--disable-fetch", "advisories"],
        )
    } else {
        report(
            "note: advisories NOT checked: the advisory database could not be fetched \
             (no network to it from this machine); licenses, bans and sources were checked",
        );
        Ok(())
    }
}
