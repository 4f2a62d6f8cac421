"""End to end: the official MCP Python SDK client drives `odoo-warden-stdio` against the
simulator, in both protocol eras (`legacy` initialize handshake and stateless 2026-07-28)."""

from __future__ import annotations

import json
import time

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp_types import PromptReference, ResourceTemplateReference

from conftest import Deployment, binary, start_sim, write_config

MODES = ["legacy", "2026-07-28"]

READ_TOOLS = {
    "search_records",
    "read_records",
    "count_records",
    "aggregate_records",
    "find_by_name",
    "list_models",
    "describe_model",
}
WRITE_TOOLS = {"create_records", "update_records", "delete_records", "call_method"}


def params(config: Deployment, api_key: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=binary("odoo-warden-stdio"),
        args=["--config", str(config.path)],
        env={"ODOO_API_KEY": api_key, "WARDEN_KEY": config.key, "RUST_LOG": "warn", "PATH": "/usr/bin:/bin"},
    )


def client(config: Deployment, api_key: str, mode: str) -> Client:
    return Client(params(config, api_key), mode=mode, read_timeout_seconds=30)


def structured(result) -> dict:
    assert result.structured_content is not None, result
    return result.structured_content


def text_of(result) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_read_tools_resources_prompts(sim, tmp_path, mode):
    config = write_config(tmp_path, sim.url, "admin")
    async with client(config, sim.api_keys["admin"], mode) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
        # Write tools are off unless the configuration turns them on.
        assert set(tools) == READ_TOOLS
        for tool in tools.values():
            assert tool.input_schema["type"] == "object"
            assert tool.input_schema.get("additionalProperties") is False
            assert tool.annotations.read_only_hint is True
            assert tool.annotations.open_world_hint is False
            assert tool.output_schema is not None

        found = await c.call_tool(
            "search_records",
            {"model": "res.partner", "domain": "[('is_company', '=', True)]", "fields": ["name"], "limit": 50},
        )
        assert found.is_error is not True, text_of(found)
        names = {r["name"] for r in structured(found)["records"]}
        assert "Deco Addict" in names

        read = await c.call_tool("read_records", {"model": "res.partner", "ids": [10], "fields": ["name", "email"]})
        assert structured(read)["records"][0]["name"] == "Deco Addict"

        count = await c.call_tool("count_records", {"model": "res.partner", "domain": '[["is_company", "=", true]]'})
        assert structured(count)["count"] >= 5

        groups = await c.call_tool(
            "aggregate_records",
            {"model": "sale.order", "domain": "[]", "group_by": ["partner_id"], "aggregates": ["amount_total:sum"]},
        )
        assert groups.is_error is not True, text_of(groups)
        assert structured(groups)["groups"], structured(groups)

        named = await c.call_tool("find_by_name", {"model": "res.partner", "name": "Deco", "limit": 5})
        assert any(m["id"] == 10 for m in structured(named)["matches"])

        models = await c.call_tool("list_models", {"filter": "sale"})
        assert any(m["model"] == "sale.order" for m in structured(models)["models"])

        described = await c.call_tool("describe_model", {"model": "res.partner"})
        assert "email" in {f["name"] for f in structured(described)["fields"]}

        templates = (await c.list_resource_templates()).resource_templates
        assert {t.uri_template for t in templates} >= {"odoo://{model}/{id}", "odoo://{model}"}
        record = await c.read_resource("odoo://res.partner/10")
        assert "Deco Addict" in record.contents[0].text

        completion = await c.complete(ResourceTemplateReference(type="ref/resource", uri="odoo://{model}"), {"name": "model", "value": "sale"})
        assert "sale.order" in completion.completion.values

        prompts = (await c.list_prompts()).prompts
        assert prompts
        prompt = await c.get_prompt(prompts[0].name, {a.name: "Deco Addict" if a.name != "model" else "res.partner" for a in prompts[0].arguments or []})
        assert prompt.messages


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_errors_are_tool_errors_with_clean_messages(sim, tmp_path, mode):
    config = write_config(tmp_path, sim.url, "sales_agent")
    async with client(config, sim.api_keys["sales_agent"], mode) as c:
        # Odoo's access error (HR-only field) comes back as a tool error with Odoo's clean message.
        denied = await c.call_tool("search_records", {"model": "hr.employee", "domain": "[]", "fields": ["private_email"]})
        assert denied.is_error is True
        assert "private_email" in text_of(denied)
        for leak in ("Traceback", "/opt/odoo", '.py"', "5432"):
            assert leak not in text_of(denied)

        unknown = await c.call_tool("search_records", {"model": "x.no.such.model", "domain": "[]"})
        assert unknown.is_error is True

        malformed = await c.call_tool("search_records", {"model": "res.partner", "domain": "[('name', '=='"})
        assert malformed.is_error is True
        assert "domain" in text_of(malformed).lower()

        bad_field = await c.call_tool("count_records", {"model": "res.partner", "domain": "[('no_such_field', '=', 1)]"})
        assert bad_field.is_error is True
        assert "no_such_field" in text_of(bad_field)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_odoo_down_is_a_clear_tool_error_within_the_timeout(tmp_path, mode):
    down = start_sim()
    key = down.api_keys["admin"]
    url = down.url
    down.stop()
    config = write_config(tmp_path, url, "admin", timeout_ms=2000)
    async with client(config, key, mode) as c:
        started = time.monotonic()
        result = await c.call_tool("count_records", {"model": "res.partner", "domain": "[]"})
        assert result.is_error is True
        assert "unreachable" in text_of(result).lower() or "connect" in text_of(result).lower()
        assert time.monotonic() - started < 10


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_write_tools_when_enabled(sim, tmp_path, mode):
    config = write_config(tmp_path, sim.url, "admin", extra="[tools]\nwrite = true\n")
    async with client(config, sim.api_keys["admin"], mode) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
        assert set(tools) == READ_TOOLS | WRITE_TOOLS
        assert tools["delete_records"].annotations.destructive_hint is True
        created = await c.call_tool("create_records", {"model": "res.partner", "values": json.dumps([{"name": f"E2E {mode}"}])})
        assert created.is_error is not True, text_of(created)
        (new_id,) = structured(created)["ids"]
        updated = await c.call_tool("update_records", {"model": "res.partner", "ids": [new_id], "values": json.dumps({"city": "Liège"})})
        assert updated.is_error is not True, text_of(updated)
        reread = await c.call_tool("read_records", {"model": "res.partner", "ids": [new_id], "fields": ["city"]})
        assert structured(reread)["records"][0]["city"] == "Liège"
        archived = await c.call_tool("call_method", {"model": "res.partner", "method": "action_archive", "ids": [new_id], "args": "[]", "kwargs": "{}"})
        # Odoo returns None for action_archive: that is a success, not a failure.
        assert archived.is_error is not True, text_of(archived)
        private = await c.call_tool("call_method", {"model": "res.partner", "method": "_read_group", "ids": [], "args": "[]", "kwargs": "{}"})
        assert private.is_error is True
        deleted = await c.call_tool("delete_records", {"model": "res.partner", "ids": [new_id]})
        assert deleted.is_error is not True, text_of(deleted)
