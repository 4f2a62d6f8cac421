//! Tidy checks: the workspace's own conventions, as ordinary tests so `cargo test` enforces them.

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// Every `.rs` file of ours, skipping build output and fuzz artefacts.
fn rust_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for top in ["crates", "bins", "xtask", "examples", "fuzz"] {
        walk(&root().join(top), &mut out);
    }
    assert!(out.len() > 5, "the tidy walk found too few files: {out:?}");
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if !matches!(
                name.to_str(),
                Some("target" | "corpus" | "artifacts" | "node_modules")
            ) {
                walk(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Cargo manifests of every package in the workspace.
fn manifests() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for top in ["crates", "bins", "examples"] {
        if let Ok(entries) = fs::read_dir(root().join(top)) {
            for entry in entries.flatten() {
                let manifest = entry.path().join("Cargo.toml");
                if manifest.exists() {
                    out.push(manifest);
                }
            }
        }
    }
    out.push(root().join("xtask/Cargo.toml"));
    out
}

#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let missing: Vec<_> = rust_files()
        .into_iter()
        .filter(|path| {
            let text = fs::read_to_string(path).unwrap();
            !text.trim_start().starts_with("//!")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading //! doc: {missing:#?}"
    );
}

#[test]
fn every_package_uses_the_workspace_lints() {
    let missing: Vec<_> = manifests()
        .into_iter()
        .filter(|path| {
            let text = fs::read_to_string(path).unwrap();
            !text.contains("[lints]\nworkspace = true")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "packages without `[lints] workspace = true`: {missing:#?}"
    );
}

#[test]
fn no_test_is_ignored_without_a_reason() {
    let offenders: Vec<_> = rust_files()
        .into_iter()
        .filter(|path| {
            fs::read_to_string(path)
                .unwrap()
                .lines()
                .any(|l| l.trim() == "#[ignore]")
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "#[ignore] without a reason in: {offenders:#?}"
    );
}

#[test]
fn ci_runs_the_readme_test_command() {
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    let ci = fs::read_to_string(root().join(".ci/run")).unwrap();
    let command = "cargo xtask ci";
    assert!(
        readme.contains(command),
        "README.md must give `{command}` as the test command"
    );
    assert!(
        ci.lines()
            .any(|l| l.trim() == command || l.trim().starts_with("exec cargo xtask ci")),
        ".ci/run must run `{command}`"
    );
}

#[test]
fn the_toolchain_is_the_installed_one() {
    let toolchain = fs::read_to_string(root().join("rust-toolchain.toml")).unwrap();
    assert!(
        toolchain.contains("channel = \"1.95.0\""),
        "pin the one installed toolchain"
    );
}

#[test]
fn unsafe_code_is_forbidden_workspace_wide() {
    let manifest = fs::read_to_string(root().join("Cargo.toml")).unwrap();
    assert!(manifest.contains("unsafe_code = \"forbid\""));
}
