"""The agent session of tests/agent-session (what every client runs against `odoo-warden demo`),
run with the demo's own profiles against a real Odoo — the one `ODOO_LIVE_*` describe — as the
demo's Odoo user (sales_agent), by the official Python SDK over HTTP (`odoo-warden-http`) and
stdio (`odoo-warden-stdio`), in both eras, over every protocol the client speaks to Odoo 18 (web
session, JSON-RPC, XML-RPC). Skipped, loudly, without a live Odoo."""

from __future__ import annotations

import re

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from backends import LIVE, SKIP_REASON, Gateway, deploy, live_backend
from conftest import binary
from test_agent_session import SESSION, Demo, accept, run_session


@pytest.fixture(scope="module")
def demo_profiles():
    """The `[profiles.*]` sections `odoo-warden demo` writes, with its identity renamed to the
    live suite's `sales` (the same Odoo user, sales_agent)."""
    demo = Demo("demo-reader")
    try:
        text = open(demo.config).read()
    finally:
        demo.close()
    profiles = text[text.index("[profiles.") :]
    return re.sub(r'identity = "demo"', 'identity = "sales"', profiles)


@pytest.fixture(scope="module")
def live():
    if not LIVE:
        print(f"\n*** {SKIP_REASON} ***")
        pytest.skip(SKIP_REASON)
    return live_backend()


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
@pytest.mark.parametrize("transport", ["http", "stdio"])
@pytest.mark.parametrize("protocol", ["session", "jsonrpc", "xmlrpc"])
async def test_the_agent_session_against_a_real_odoo(live, demo_profiles, protocol, transport, mode, tmp_path):
    if protocol not in live.protocols:
        pytest.skip(f"no passwords in ODOO_LIVE_*: {protocol} is not tried")
    profiles = list(SESSION["profiles"])
    deployment, env = deploy(live, protocol, tmp_path / "live", demo_profiles, profiles)
    gateway = Gateway(deployment.path, env) if transport == "http" else None
    report = []
    try:
        for profile in profiles:
            key = deployment.keys[profile]
            if gateway:
                http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
                server = streamable_http_client(gateway.url, http_client=http)
            else:
                server = StdioServerParameters(
                    command=binary("odoo-warden-stdio"),
                    args=["--config", str(deployment.path)],
                    env={"WARDEN_KEY": key, "RUST_LOG": "warn", "PATH": "/usr/bin:/bin", **env},
                )
            async with Client(server, mode=mode, read_timeout_seconds=60, elicitation_callback=accept) as c:
                passed, skipped, failures = await run_session(c, profile, can_confirm=True)
            print(f"agent session: Python SDK | live Odoo over {protocol} | {transport} | {mode} | {profile} | {passed} passed, {skipped} skipped, {len(failures)} failed")
            report += failures
    finally:
        if gateway:
            gateway.stop()
    assert report == []
