"""The leak suite (testdata/leaks/probes.json, profiles in testdata/leaks/policy.toml) through the
official Python SDK, over HTTP (`odoo-warden-http`) and stdio (`odoo-warden-stdio`), in both
protocol eras, against the simulator and — when `ODOO_LIVE_*` describe one — a real Odoo over
every protocol the client speaks to it (web session, JSON-RPC, XML-RPC).

Every probe runs through the positive control (which must show the secret: the probe would see a
leak) and through the profile under attack (which must not). A call refused before Odoo is made
a second time, and its audit event must say it made no Odoo round trip. The figures (probes per
class, leaks) are printed at the end of each run."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import defaultdict
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from backends import LIVE, SKIP_REASON, Gateway, deploy, live_backend, sim_backend
from conftest import binary

ROOT = Path(__file__).resolve().parents[2]
POLICY = (ROOT / "testdata" / "leaks" / "policy.toml").read_text()
SUITE = json.loads((ROOT / "testdata" / "leaks" / "probes.json").read_text())
ERROR_META = "io.github.odoo-warden/error"
KEYS = ["control", "restricted", "creator"]
BEFORE_ODOO = {"invalid_arguments", "forbidden", "protocol"}


@pytest.fixture(scope="module", params=["simulator", "live"])
def backend(request):
    if request.param == "live" and not LIVE:
        print(f"\n*** {SKIP_REASON} ***")
        pytest.skip(SKIP_REASON)
    made = sim_backend() if request.param == "simulator" else live_backend()
    yield made
    made.stop()


def cases():
    for protocol in ["auto", "session", "jsonrpc", "xmlrpc"]:
        for transport in ["http", "stdio"]:
            for mode in ["legacy", "2026-07-28"]:
                yield protocol, transport, mode


def fill(value, token: str, saved: dict):
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in saved:
            return saved[value[1:-1]]
        out = value.replace("{token}", token)
        for name, found in saved.items():
            out = out.replace("{" + name + "}", json.dumps(found))
        return out
    if isinstance(value, list):
        return [fill(v, token, saved) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, token, saved) for k, v in value.items()}
    return value


def compact(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Answer:
    def __init__(self, response: dict):
        self.text = compact(response).lower()
        self.refused = None
        if "error" in response:
            self.refused = "protocol"
            self.signature = {"error": "protocol"}
            return
        result = response["result"]
        if result.get("isError") is True:
            self.refused = ((result.get("_meta") or {}).get(ERROR_META) or {}).get("kind", "?")
            self.signature = {"error": self.refused}
            return
        structured = result.get("structuredContent") or {}

        def ids(key):
            rows = structured.get(key)
            return None if rows is None else [r.get("id", r) if isinstance(r, dict) else r for r in rows]

        self.signature = {"count": structured.get("count"), "records": ids("records"), "groups": ids("groups"), "matches": ids("matches")}


async def ask(client: Client, probe: dict, call) -> Answer:
    try:
        if call is None:
            result = await client.read_resource(probe["resource"])
        else:
            result = await client.call_tool(call[0], call[1])
        return Answer({"result": result.model_dump(by_alias=True, exclude_none=True, mode="json")})
    except Exception as error:  # a JSON-RPC error: the SDK raises it
        return Answer({"error": repr(error)})


class Audit:
    """The gateway's audit events (JSONL files), read as they are written."""

    def __init__(self, folder: Path):
        self.folder = folder

    def events(self, key: str) -> list[dict]:
        out = []
        for path in sorted(self.folder.glob("*.jsonl")):
            for line in path.read_text().splitlines():
                event = json.loads(line)
                if event.get("key_name") == key and event.get("kind") == "request" and event.get("method") in ("tools/call", "resources/read"):
                    out.append(event)
        return out

    def next_event(self, key: str, seen: int) -> dict | None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            events = self.events(key)
            if len(events) > seen:
                return events[-1]
            time.sleep(0.05)
        return None


async def run_suite(clients: dict[str, Client], audit: Audit, token: str) -> tuple[dict, list[str]]:
    control = clients["control"]
    saved: dict = {}
    for step in SUITE["setup"]:
        tool, arguments = fill(step["call"], token, saved)
        result = await control.call_tool(tool, arguments)
        assert result.is_error is not True, result
        for name, pointer in step["save"].items():
            value = result.structured_content
            for part in pointer.strip("/").split("/"):
                value = value[int(part)] if isinstance(value, list) else value[part]
            saved[name] = value
    per_class: dict = defaultdict(lambda: [0, 0])
    failures: list[str] = []
    for raw in SUITE["probes"]:
        probe = fill(raw, token, saved)
        key = probe.get("key", "restricted")
        attacker = clients[key]
        secret = probe.get("secret", "").lower()
        problems: list[str] = []
        refused_calls = []
        kind = probe["kind"]
        if kind == "reveal":
            call = probe.get("call")
            seen = await ask(control, probe, call)
            if secret not in seen.text:
                problems.append(f"the control does not show {secret!r}: the probe cannot see a leak ({seen.text[:300]})")
            got = await ask(attacker, probe, call)
            if secret in got.text:
                problems.append(f"LEAK: {secret!r} in {got.text[:400]}")
            if got.refused in BEFORE_ODOO:
                refused_calls.append(call)
        elif kind == "oracle":
            right, wrong = probe["right"], probe["wrong"]
            if (await ask(control, probe, right)).signature == (await ask(control, probe, wrong)).signature:
                problems.append("the control answers right and wrong alike: the probe cannot see a leak")
            got_right, got_wrong = await ask(attacker, probe, right), await ask(attacker, probe, wrong)
            if got_right.signature != got_wrong.signature:
                problems.append(f"LEAK: right {got_right.signature} vs wrong {got_wrong.signature}")
            refused_calls += [c for a, c in [(got_right, right), (got_wrong, wrong)] if a.refused in BEFORE_ODOO]
        elif kind == "write":
            call, check = probe["call"], probe["check"]
            got = await ask(attacker, probe, call)
            if got.refused is None:
                problems.append(f"LEAK: the write was served: {got.text[:300]}")
            if secret in (await ask(control, probe, check)).text:
                problems.append("LEAK: the refused write changed data")
            done = await ask(control, probe, call)
            after = await ask(control, probe, check)
            if done.refused is not None or secret not in after.text:
                problems.append(f"the control's write does not show {secret!r}: the probe cannot see a leak ({done.text[:200]} / {after.text[:200]})")
            if got.refused in BEFORE_ODOO:
                refused_calls.append(call)
        elif kind == "refused":
            call = probe["call"]
            if (await ask(control, probe, call)).refused is not None:
                problems.append("the control is refused too")
            got = await ask(attacker, probe, call)
            if got.refused is None:
                problems.append(f"LEAK: served: {got.text[:300]}")
            if got.refused in BEFORE_ODOO:
                refused_calls.append(call)
        # Refused before Odoo: the same call again (metadata cached) makes no Odoo round trip.
        for call in refused_calls:
            seen = len(audit.events(key))
            await ask(attacker, probe, call)
            event = audit.next_event(key, seen)
            calls = (event or {}).get("latency", {}).get("odoo_calls")
            if calls != 0:
                problems.append(f"a call refused before Odoo reached it: odoo_calls {calls}")
        per_class[probe["class"]][0] += 1
        if problems:
            per_class[probe["class"]][1] += 1
            failures += [f"[{probe['class']}] {probe['name']}: {p}" for p in problems]
    return per_class, failures


@pytest.mark.anyio
@pytest.mark.parametrize("protocol,transport,mode", list(cases()))
async def test_no_probe_leaks(backend, protocol, transport, mode, tmp_path):
    if protocol not in backend.protocols:
        pytest.skip(f"{backend.name} is tested over {', '.join(backend.protocols)}")
    deployment, env = deploy(backend, protocol, tmp_path / "leaks", POLICY, KEYS)
    audit = Audit(deployment.path.parent / "audit")
    token = f"{backend.name[:3]}{protocol[:2]}{transport[:2]}{mode[:2]}{os.getpid()}{int(time.time()) % 100000}"
    gateway = None
    try:
        if transport == "http":
            gateway = Gateway(deployment.path, env)

            def client(key):
                http = create_mcp_http_client(headers={"Authorization": f"Bearer {deployment.keys[key]}"})
                return Client(streamable_http_client(gateway.url, http_client=http), mode=mode, read_timeout_seconds=60)
        else:

            def client(key):
                params = StdioServerParameters(
                    command=binary("odoo-warden-stdio"),
                    args=["--config", str(deployment.path)],
                    env={"WARDEN_KEY": deployment.keys[key], "RUST_LOG": "warn", "PATH": "/usr/bin:/bin", **env},
                )
                return Client(params, mode=mode, read_timeout_seconds=60)

        async with client("control") as control, client("restricted") as restricted, client("creator") as creator:
            per_class, failures = await asyncio.wait_for(
                run_suite({"control": control, "restricted": restricted, "creator": creator}, audit, token), timeout=900
            )
    finally:
        if gateway:
            gateway.stop()
    tried = sum(n for n, _ in per_class.values())
    leaked = sum(f for _, f in per_class.values())
    print(f"\nleak suite: {backend.name} {protocol} {transport} {mode}: {tried} probes, {leaked} failed")
    for name, (n, f) in sorted(per_class.items()):
        print(f"  {name}: {n} probes, {f} failed")
    assert failures == [], "\n".join(failures)
