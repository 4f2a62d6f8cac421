"""The realistic agent session of tests/agent-session/session.json, run by the official MCP Python
SDK client against `odoo-warden demo` over Streamable HTTP and against `odoo-warden-stdio` on the
demo's configuration, in both protocol eras. The same steps and checks as the Node clients'
(tests/agent-session/session.mjs): every error reaches the agent as a tool result it can read
(no structured content, its kind in `_meta`), and nothing hidden leaks."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from mcp import Client, types
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from conftest import binary

SESSION = json.loads((Path(__file__).parent.parent / "agent-session" / "session.json").read_text())
ERROR_META = "io.github.odoo-warden/error"
MODES = ["legacy", "2026-07-28"]


class Demo:
    """`odoo-warden demo --profile PROFILE` on a free loopback port, in a folder of its own."""

    def __init__(self, profile: str):
        self.dir = Path(tempfile.mkdtemp(prefix=f"warden-demo-{profile}-"))
        self.process = subprocess.Popen(
            [binary("odoo-warden"), "demo", "--listen", "127.0.0.1:0", "--dir", str(self.dir), "--profile", profile],
            env={"PATH": "/usr/bin:/bin", "RUST_LOG": "warn"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.key = self.config = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (self.url and self.key and self.config):
            line = self.process.stdout.readline()
            if not line:
                break
            if m := re.match(r"Configuration written to (\S+)", line):
                self.config = self.config or m.group(1)
            if m := re.search(r"The gateway listens at (http://127\.0\.0\.1:\d+/mcp)", line):
                self.url = self.url or m.group(1)
            if m := re.search(r"Authorization: Bearer (owk_[A-Za-z0-9_]+)", line):
                self.key = self.key or m.group(1)
        if not (self.url and self.key and self.config):
            self.close()
            raise RuntimeError("the demo did not start")
        # Nothing more is read from its stdout: the banner is small and fits the pipe.

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def demos():
    started = {}
    try:
        for profile in SESSION["profiles"]:
            started[profile] = Demo(profile)
        yield started
    finally:
        for demo in started.values():
            demo.close()


async def accept(context, params) -> types.ElicitResult:
    """The person using the agent confirms every change the gateway asks about."""
    return types.ElicitResult(action="accept", content={})


def client(demo: Demo, transport: str, mode: str) -> Client:
    if transport == "http":
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {demo.key}"})
        server = streamable_http_client(demo.url, http_client=http)
    else:
        server = StdioServerParameters(
            command=binary("odoo-warden-stdio"),
            args=["--config", demo.config],
            env={"WARDEN_KEY": demo.key, "RUST_LOG": "warn", "PATH": "/usr/bin:/bin"},
        )
    return Client(server, mode=mode, read_timeout_seconds=30, elicitation_callback=accept)


def wire(result) -> dict:
    """A result as the wire carried it (camelCase, `_meta`)."""
    return result.model_dump(by_alias=True, exclude_none=True, mode="json")


def text_of(answer: dict) -> str:
    return "\n".join(c.get("text", "") for c in answer.get("content", []) if c.get("type") == "text")


def problems(step: dict, answer: dict, can_confirm: bool) -> list[str]:
    """What is wrong with `answer` for `step` (the same rules as session.mjs's `problems`)."""
    out: list[str] = []
    expect = step["expect"]
    if step.get("confirm") and not can_confirm:
        expect = {"error": ["confirmation_unavailable"], "text": ["confirm"]}
    if "protocolError" in answer:
        return [f"a protocol error instead of an answer: {answer['protocolError']}"]
    text = json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
    for value in SESSION["hidden"]:
        if value.lower() in text.lower():
            out.append(f"a hidden value leaks: {value}")

    def has(part: str) -> bool:
        return part in text or json.dumps(part, ensure_ascii=False)[1:-1] in text

    out += [f"does not contain {w}" for w in expect.get("contains", []) if not has(w)]
    out += [f"contains {w}" for w in expect.get("lacks", []) if has(w)]
    if "tools" in expect:
        names = sorted(t["name"] for t in answer.get("tools", []))
        if names != expect["tools"]:
            out.append(f"tools {names} instead of {expect['tools']}")
    if expect.get("ok"):
        if answer.get("isError") is True:
            out.append(f"failed: {text_of(answer)}")
        structured = answer.get("structuredContent")
        if not isinstance(structured, dict):
            out.append("no structured content")
            structured = {}
        count = structured.get("count")
        if "count" in expect and count != expect["count"]:
            out.append(f"count {count} instead of {expect['count']}")
        if "count_min" in expect and not (isinstance(count, int) and count >= expect["count_min"]):
            out.append(f"count {count} below {expect['count_min']}")
    if "error" in expect:
        if answer.get("isError") is not True:
            out.append(f"succeeded instead of failing: {text_of(answer)[:300]}")
        if "structuredContent" in answer:
            out.append("an error with structured content")
        kind = (answer.get("_meta") or {}).get(ERROR_META, {}).get("kind")
        if kind not in expect["error"]:
            out.append(f"error kind {kind} instead of {expect['error']}")
        said = text_of(answer)
        if not said.startswith(f"error ({kind}): "):
            out.append(f"the text does not say what went wrong: {said[:200]}")
        out += [f"the text does not mention {p}" for p in expect.get("text", []) if p.lower() not in said.lower()]
    return out


async def run_session(c: Client, profile: str, can_confirm: bool) -> tuple[int, int, list[str]]:
    passed, skipped, failures = 0, 0, []
    for step in SESSION["profiles"][profile]:
        if step.get("if_confirmed") and not can_confirm:
            skipped += 1
            continue
        op = step["op"]
        try:
            if op == "list_tools":
                answer = wire(await c.list_tools())
            elif op == "list_prompts":
                answer = wire(await c.list_prompts())
            elif op == "list_resource_templates":
                answer = wire(await c.list_resource_templates())
            elif op == "get_prompt":
                answer = wire(await c.get_prompt(step["prompt"], step["arguments"]))
            elif op == "read_resource":
                answer = wire(await c.read_resource(step["uri"]))
            elif op == "call":
                answer = wire(await c.call_tool(step["tool"], step["arguments"]))
            else:
                raise AssertionError(f"unknown op {op}")
        except Exception as error:  # a protocol error is a failure of the step, reported below
            answer = {"protocolError": repr(error)}
        found = problems(step, answer, can_confirm)
        if found:
            failures += [f"{step['name']}: {p}" for p in found]
        else:
            passed += 1
    return passed, skipped, failures


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("transport", ["http", "stdio"])
@pytest.mark.parametrize("profile", list(SESSION["profiles"]))
async def test_the_agent_session(demos, profile, transport, mode):
    async with client(demos[profile], transport, mode) as c:
        passed, skipped, failures = await run_session(c, profile, can_confirm=True)
    print(f"agent session: Python SDK | {transport} | {mode} | {profile} | {passed} passed, {skipped} skipped, {len(failures)} failed")
    assert failures == []
    assert passed == len(SESSION["profiles"][profile])
