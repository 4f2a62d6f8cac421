"""End to end over HTTP: the official MCP Python SDK's Streamable HTTP client drives
`odoo-warden-http` against the simulator in both protocol eras, with two keys of different
profiles; a wrong key is refused; the calls and a denial are in the audit log; SIGTERM stops the
server cleanly."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time

import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from conftest import Deployment, binary, write_deployment
from test_policy_e2e import DECO_EMAIL, MODES, POLICY, structured, text_of

HTTP = """
[http]
bind = "127.0.0.1:0"
"""


class Gateway:
    def __init__(self, process: subprocess.Popen, url: str):
        self.process = process
        self.url = url

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
                return -9
        return self.process.returncode


@pytest.fixture
def deployment(sim, tmp_path) -> Deployment:
    return write_deployment(
        tmp_path / "http",
        POLICY.format(url=sim.url) + HTTP,
        [("sales-agent", "sales", {}), ("support-bot", "support", {})],
    )


@pytest.fixture
def gateway(sim, deployment):
    process = subprocess.Popen(
        [binary("odoo-warden-http"), "--config", str(deployment.path)],
        env={
            "ODOO_SALES_KEY": sim.api_keys["sales_agent"],
            "ODOO_SUPPORT_KEY": sim.api_keys["readonly_bot"],
            "RUST_LOG": "warn",
            "PATH": "/usr/bin:/bin",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    url = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if m := re.search(r"listening on (http://127\.0\.0\.1:\d+/mcp)", line):
            url = m.group(1)
            break
    if url is None:
        process.kill()
        raise RuntimeError("odoo-warden-http did not announce its address: " + (process.stderr.read() if process.stderr else ""))
    served = Gateway(process, url)
    yield served
    served.stop()


def client(gateway: Gateway, secret: str, mode: str) -> Client:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {secret}"})
    return Client(streamable_http_client(gateway.url, http_client=http), mode=mode, read_timeout_seconds=30)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_two_keys_over_http_see_different_worlds(gateway, deployment, mode):
    async with client(gateway, deployment.keys["sales-agent"], mode) as sales, client(
        gateway, deployment.keys["support-bot"], mode
    ) as support:
        assert "update_records" in {t.name for t in (await sales.list_tools()).tools}
        assert "update_records" not in {t.name for t in (await support.list_tools()).tools}
        query = {"model": "res.partner", "domain": "[('id', '=', 10)]"}
        (sales_row,) = structured(await sales.call_tool("search_records", query))["records"]
        (support_row,) = structured(await support.call_tool("search_records", query))["records"]
        assert sales_row["name"] == support_row["name"] == "Deco Addict"
        assert "email" not in sales_row
        assert support_row["email"] == DECO_EMAIL
        refused = await sales.call_tool("search_records", {**query, "fields": ["email"]})
        assert refused.is_error is True
        assert DECO_EMAIL not in text_of(refused)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_a_wrong_key_is_refused_over_http(gateway, mode):
    with pytest.raises(BaseException) as refused:
        async with client(gateway, "owk_000000000000_" + "0" * 40, mode) as bad:
            await bad.list_tools()
    assert "MCPError" in repr(refused.value), repr(refused.value)
    # What the SDK saw: 401 with a Bearer challenge, and no data.
    async with create_mcp_http_client(headers={"Authorization": "Bearer owk_000000000000_" + "0" * 40}) as http:
        response = await http.post(
            gateway.url,
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Accept": "application/json, text/event-stream"},
        )
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer"), response.headers


@pytest.mark.anyio
async def test_http_calls_are_audited_and_sigterm_stops_cleanly(gateway, deployment):
    async with client(gateway, deployment.keys["sales-agent"], "2026-07-28") as sales:
        ok = await sales.call_tool("count_records", {"model": "res.partner", "domain": "[]"})
        assert ok.is_error is not True, text_of(ok)
        denied = await sales.call_tool("update_records", {"model": "res.partner", "ids": [10], "values": '{"name": "X"}'})
        assert denied.is_error is True
    assert gateway.stop() == 0
    audit = deployment.path.parent / "audit"
    events = []
    for path in sorted(audit.glob("*.jsonl")):
        events += [json.loads(line) for line in path.read_text().splitlines()]
    calls = [e for e in events if e.get("tool")]
    assert [e["tool"] for e in calls[-2:]] == ["count_records", "update_records"], calls
    for event in calls[-2:]:
        assert event["transport"] == "http" and event["client_ip"] == "127.0.0.1", event
        assert event["key_name"] == "sales-agent", event
    assert calls[-1]["decision"]["verdict"] == "deny", calls[-1]
    # The files were closed at shutdown and the chain verifies.
    assert events[-1]["kind"] == "chain" and events[-1]["chain"]["op"] == "close", events[-1]
    verify = subprocess.run([binary("odoo-warden"), "audit", "verify", str(audit)], capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr
