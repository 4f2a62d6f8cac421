"""A fleet as an agent meets it: the official MCP Python SDK's Streamable HTTP client talks to
three `odoo-warden-http` replicas behind HAProxy (round robin, nothing sticky) that share their
state on a real `redis-server`, in both protocol eras. A legacy session continues whichever
replica each request reaches, and a key's budget holds for the fleet. The positive control: the
same fleet without `[cluster]` breaks the legacy session on its second replica.

Needs Debian's `redis-server` and `haproxy` (`.ci/run` installs them): without them the tests are
skipped, except under CI=true, where they fail. Every wait is bounded."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from conftest import Deployment, binary, write_deployment
from test_policy_e2e import MODES, POLICY, text_of

CONFIRMATION_KEY = "3f9a0c6e1b7d4f2a8c5e0b9d6a3f1c7e4b8d2a6f0c3e9b5d1a7f4c2e8b0d6a39"


def tool(name: str, fallback: str) -> str:
    path = shutil.which(name) or fallback
    if not Path(path).is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is missing and CI=true: install it")
        pytest.skip(f"{name} is not installed")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class Fleet:
    def __init__(self, sim, tmp_path: Path, *, cluster: bool):
        redis_server = tool("redis-server", "/usr/bin/redis-server")
        haproxy = tool("haproxy", "/usr/sbin/haproxy")
        self.processes: list[subprocess.Popen] = []
        self.folder = tempfile.TemporaryDirectory()
        redis_port = free_port()
        self.processes.append(
            subprocess.Popen(
                [redis_server, "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "", "--appendonly", "no",
                 "--dir", self.folder.name],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        )
        wait_port(redis_port)
        shared = (
            f'\n[cluster]\nredis_url = "redis://127.0.0.1:{redis_port}"\n'
            'confirmation_key_env = "WARDEN_CONFIRMATION_KEY"\n'
            # A loaded 2-core test machine: a slow answer is not an outage.
            "timeout_ms = 2000\n"
            if cluster
            else ""
        )
        config = POLICY.format(url=sim.url) + shared + (
            '\n[http]\nbind = "127.0.0.1:0"\ntrusted_proxies = ["127.0.0.1"]\n'
        )
        self.deployment: Deployment = write_deployment(
            tmp_path / "fleet", config, [("sales-agent", "sales", {}), ("limited-bot", "support", {"per_minute": 3})]
        )
        backends = []
        for _ in range(3):
            process = subprocess.Popen(
                [binary("odoo-warden-http"), "--config", str(self.deployment.path)],
                env={
                    "ODOO_SALES_KEY": sim.api_keys["sales_agent"],
                    "ODOO_SUPPORT_KEY": sim.api_keys["readonly_bot"],
                    "WARDEN_CONFIRMATION_KEY": CONFIRMATION_KEY,
                    "RUST_LOG": "error",
                    "PATH": "/usr/bin:/bin",
                },
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            )
            self.processes.append(process)
            assert process.stdout is not None
            line = process.stdout.readline()
            m = re.search(r"listening on http://(127\.0\.0\.1:\d+)/mcp", line)
            assert m, line
            backends.append(m.group(1))
        port = free_port()
        servers = "".join(f"  server replica{n} {addr}\n" for n, addr in enumerate(backends))
        cfg = Path(self.folder.name) / "haproxy.cfg"
        cfg.write_text(
            "defaults\n  mode http\n  timeout connect 2s\n  timeout client 60s\n  timeout server 60s\n"
            f"frontend mcp\n  bind 127.0.0.1:{port}\n  http-request set-header X-Forwarded-For %[src]\n"
            "  default_backend replicas\n"
            f"backend replicas\n  balance roundrobin\n{servers}"
        )
        self.processes.append(
            subprocess.Popen([haproxy, "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
        wait_port(port)
        self.url = f"http://127.0.0.1:{port}/mcp"

    def client(self, key: str, mode: str) -> Client:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {self.deployment.keys[key]}"})
        return Client(streamable_http_client(self.url, http_client=http), mode=mode, read_timeout_seconds=30)

    def close(self) -> None:
        for process in reversed(self.processes):
            stop(process)
        self.folder.cleanup()


@pytest.fixture
def fleet(sim, tmp_path):
    f = Fleet(sim, tmp_path, cluster=True)
    yield f
    f.close()


SEARCH = {"model": "res.partner", "domain": [["is_company", "=", True]], "fields": ["name"], "limit": 3}


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_a_session_goes_on_whichever_replica_each_request_reaches(fleet, mode):
    async with fleet.client("sales-agent", mode) as sales:
        tools = {t.name for t in (await sales.list_tools()).tools}
        assert "search_records" in tools
        # Round robin over three replicas: six calls reach each twice.
        for n in range(6):
            result = await sales.call_tool("search_records", SEARCH)
            assert result.is_error is not True, f"call {n}: {text_of(result)}"
            assert "Deco Addict" in text_of(result) or "Azure" in text_of(result), text_of(result)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_a_key_budget_holds_for_the_fleet(fleet, mode):
    served = refused = 0
    async with fleet.client("limited-bot", mode) as bot:
        for _ in range(9):
            try:
                result = await bot.call_tool("search_records", SEARCH)
            except Exception as error:  # the SDK raises the JSON-RPC error of a rate limit
                assert "rate limit" in str(error), error
                refused += 1
                continue
            if result.is_error:
                assert "rate limit" in text_of(result), text_of(result)
                refused += 1
            else:
                served += 1
    # 3 a minute for the fleet (burst 3), not 3 per replica (up to 9): the client's own requests
    # before its calls (initialize, or the 2026-07-28 discovery) take from the same budget.
    assert 1 <= served <= 3 and refused == 9 - served, (served, refused)


@pytest.mark.anyio
async def test_without_cluster_a_legacy_session_breaks_on_another_replica(sim, tmp_path):
    fleet = Fleet(sim, tmp_path, cluster=False)
    try:
        failed = False
        try:
            async with fleet.client("sales-agent", "legacy") as sales:
                for _ in range(6):
                    result = await sales.call_tool("search_records", SEARCH)
                    if result.is_error:
                        failed = True
                        break
        except Exception:
            failed = True
        assert failed, "without [cluster] a replica cannot know another's session"
    finally:
        fleet.close()
