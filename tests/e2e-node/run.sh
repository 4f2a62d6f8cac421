#!/usr/bin/env bash
# The Node end-to-end tests: the official MCP TypeScript SDK v2 client (pinned in package.json and
# package-lock.json) against odoo-warden-http and the simulator. Binaries come from
# WARDEN_BIN_DIR (default <repo>/target/debug): build them first (cargo build --workspace --bins).
# `cargo xtask ci` runs this after the Python end-to-end tests. Exits non-zero on any failure;
# the TAP output ends with the runner's summary (# tests, # pass, # fail).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
node="${NODE:-node}"
echo "== node $("$node" --version), npm $(npm --version)"
npm ci --no-audit --no-fund
# Each *.test.mjs file runs in its own process with its own simulator and gateway.
"$node" --test --test-reporter=tap --test-timeout=120000
