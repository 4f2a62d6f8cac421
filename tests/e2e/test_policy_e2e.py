"""End to end, the policy: two keys of different profiles, each bound to its own Odoo user,
drive `odoo-warden-stdio` with the official MCP Python SDK against the simulator and see
different worlds; hidden fields and models are refused wherever they are named; a key's own
rate limit answers RATE_LIMITED. Both protocol eras."""

from __future__ import annotations

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError

from conftest import Deployment, binary, write_deployment

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
RATE_LIMITED = -32029
# Deco Addict (res.partner 10): its email and phone, which the sales profile may not see.
DECO_EMAIL = "info@agrolait.com"
DECO_PHONE = "(603)-996-3829"

POLICY = """
[odoo]
url = "{url}"
database = "odoo"
timeout_ms = 10000

# Each profile runs as its own Odoo user: Odoo's rights for that user still apply.
[odoo.identities.sales]
login = "sales_agent"
api_key_env = "ODOO_SALES_KEY"

[odoo.identities.support]
login = "readonly_bot"
api_key_env = "ODOO_SUPPORT_KEY"

[keys]
file = "keys.toml"

[tools]
write = true

[rate_limits]
burst = 3

# Sales: customers without their contact details, and sales orders (whose notes it may edit).
[profiles.sales]
identity = "sales"
models = {{ allow = ["res.partner", "sale.*"] }}
operations = {{ allow = ["read"] }}

[profiles.sales.model."res.partner"]
fields = {{ read = {{ deny = ["email", "phone"] }} }}

[profiles.sales.model."sale.order"]
operations = {{ allow = ["write"] }}
fields = {{ write = {{ allow = ["note"] }} }}

# Support: customers with their email, nothing of sales.
[profiles.support]
identity = "support"
models = {{ allow = ["res.partner"], deny = ["sale.*"] }}
operations = {{ allow = ["read"] }}
"""


@pytest.fixture
def deployment(sim, tmp_path) -> Deployment:
    return write_deployment(
        tmp_path / "policy",
        POLICY.format(url=sim.url),
        [
            ("sales-agent", "sales", {}),
            ("support-bot", "support", {}),
            ("limited-bot", "support", {"per_minute": 3}),
        ],
    )


def client(sim, deployment: Deployment, key: str, mode: str) -> Client:
    params = StdioServerParameters(
        command=binary("odoo-warden-stdio"),
        args=["--config", str(deployment.path)],
        env={
            "ODOO_SALES_KEY": sim.api_keys["sales_agent"],
            "ODOO_SUPPORT_KEY": sim.api_keys["readonly_bot"],
            "WARDEN_KEY": deployment.keys[key],
            "RUST_LOG": "warn",
            "PATH": "/usr/bin:/bin",
        },
    )
    return Client(params, mode=mode, read_timeout_seconds=30)


def structured(result) -> dict:
    assert result.structured_content is not None, result
    return result.structured_content


# Where a failed tool call carries its machine-readable error (kind, message, hint).
ERROR_META = "io.github.odoo-warden/error"


def error_of(result) -> dict:
    """The error of a failed tool call: flagged, readable, without structured content (which
    clients validate against the tool's output schema), its kind in `_meta`."""
    assert result.is_error is True, result
    assert result.structured_content is None, result
    assert text_of(result).startswith("error ("), text_of(result)
    return (result.meta or {})[ERROR_META]


def text_of(result) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


def assert_refused(result, *hidden: str, naming: str | None = None) -> None:
    """A refusal: a tool error of kind invalid_arguments or forbidden, naming `naming` (what was
    refused) and leaking none of `hidden`."""
    kind = error_of(result)["kind"]
    assert kind in ("invalid_arguments", "forbidden"), result
    if naming is not None:
        assert naming in text_of(result), text_of(result)
    for value in hidden:
        assert value not in text_of(result), text_of(result)
        assert value not in str(result.structured_content)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_two_keys_see_different_worlds(sim, deployment, mode):
    async with client(sim, deployment, "sales-agent", mode) as sales, client(
        sim, deployment, "support-bot", mode
    ) as support:
        # Tools: only sales may change anything (sale.order notes), and only by update.
        sales_tools = {t.name for t in (await sales.list_tools()).tools}
        support_tools = {t.name for t in (await support.list_tools()).tools}
        assert sales_tools == READ_TOOLS | {"update_records"}
        assert support_tools == READ_TOOLS

        # Models: what each profile allows, nothing else.
        sales_models = {m["model"] for m in structured(await sales.call_tool("list_models", {}))["models"]}
        support_models = {m["model"] for m in structured(await support.call_tool("list_models", {}))["models"]}
        assert {"res.partner", "sale.order"} <= sales_models
        assert "res.partner" in support_models and "sale.order" not in support_models
        assert not {"hr.employee", "res.users", "ir.config_parameter"} & (sales_models | support_models)

        # Fields: sales does not see email and phone, support does.
        sales_fields = {f["name"] for f in structured(await sales.call_tool("describe_model", {"model": "res.partner"}))["fields"]}
        support_fields = {f["name"] for f in structured(await support.call_tool("describe_model", {"model": "res.partner"}))["fields"]}
        assert "name" in sales_fields and not {"email", "phone"} & sales_fields
        assert {"name", "email", "phone"} <= support_fields
        hidden_model = await support.call_tool("describe_model", {"model": "sale.order"})
        assert hidden_model.is_error is True

        # Records: a search that names no fields gets the readable ones.
        query = {"model": "res.partner", "domain": "[('id', '=', 10)]"}
        (sales_row,) = structured(await sales.call_tool("search_records", query))["records"]
        (support_row,) = structured(await support.call_tool("search_records", query))["records"]
        assert sales_row["name"] == support_row["name"] == "Deco Addict"
        assert "email" not in sales_row and "phone" not in sales_row
        assert support_row["email"] == DECO_EMAIL
        read = await sales.call_tool("read_records", {"model": "res.partner", "ids": [10]})
        assert read.is_error is not True, text_of(read)
        assert DECO_EMAIL not in str(read.structured_content) and DECO_PHONE not in str(read.structured_content)

        # Asking for a hidden field by name is refused, not silently emptied.
        assert_refused(
            await sales.call_tool("search_records", {**query, "fields": ["name", "email"]}), DECO_EMAIL
        )

        # Sales orders are visible to sales, as the Odoo user sales_agent: Odoo's own record rule
        # (a salesman sees his own orders) still applies behind the policy, so the search finds
        # the agent's three quotations (S00021-S00023), not the 23 orders of the database.
        orders = await sales.call_tool("count_records", {"model": "sale.order", "domain": "[]"})
        assert orders.is_error is not True, text_of(orders)
        assert structured(orders)["count"] == 3
        assert (await support.call_tool("search_records", {"model": "sale.order", "domain": "[]"})).is_error is True


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_hidden_fields_and_models_are_refused_wherever_named(sim, deployment, mode):
    async with client(sim, deployment, "sales-agent", mode) as sales, client(
        sim, deployment, "support-bot", mode
    ) as support:
        # A filter on a hidden field would leak it bit by bit.
        assert_refused(
            await sales.call_tool("search_records", {"model": "res.partner", "domain": "[('email', 'ilike', 'agrolait')]"}),
            DECO_EMAIL,
            naming="email",
        )
        assert_refused(
            await sales.call_tool("count_records", {"model": "res.partner", "domain": "[('phone', '!=', False)]"}),
            naming="phone",
        )
        # A dotted path from a visible model to a hidden field is checked on the far model.
        assert_refused(
            await sales.call_tool(
                "search_records",
                {"model": "sale.order", "domain": "[('partner_id.email', '=', 'info@agrolait.com')]", "fields": ["name"]},
            ),
            naming="email",
        )
        # Sorting and grouping by a hidden field.
        assert_refused(
            await sales.call_tool("search_records", {"model": "res.partner", "domain": "[]", "fields": ["name"], "order": "email asc"}),
            naming="email",
        )
        assert_refused(
            await sales.call_tool("aggregate_records", {"model": "res.partner", "domain": "[]", "group_by": ["phone"]}),
            naming="phone",
        )
        # The same filter is fine for a profile that may read the field.
        allowed = await support.call_tool("count_records", {"model": "res.partner", "domain": "[('email', 'ilike', 'agrolait')]"})
        assert allowed.is_error is not True, text_of(allowed)
        assert structured(allowed)["count"] >= 1

        # Resources: a record of a visible model carries no hidden field; a hidden model is absent.
        record = await sales.read_resource("odoo://res.partner/10")
        assert "Deco Addict" in record.contents[0].text
        assert DECO_EMAIL not in record.contents[0].text and DECO_PHONE not in record.contents[0].text
        with pytest.raises(MCPError):
            await support.read_resource("odoo://sale.order/1")
        with pytest.raises(MCPError):
            await support.read_resource("odoo://sale.order")

        # Writes: only the fields the profile may write.
        assert_refused(
            await sales.call_tool("update_records", {"model": "sale.order", "ids": [1], "values": '{"client_order_ref": "X"}'}),
            naming="client_order_ref",
        )
        assert_refused(
            await sales.call_tool("update_records", {"model": "res.partner", "ids": [10], "values": '{"name": "X"}'})
        )


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_a_key_over_its_rate_limit_gets_rate_limited(sim, deployment, mode):
    outcomes: list[int | None] = []
    retry_after: list[int] = []
    async with client(sim, deployment, "limited-bot", mode) as limited:
        for _ in range(8):
            try:
                result = await limited.call_tool("count_records", {"model": "res.partner", "domain": "[]"})
                assert result.is_error is not True, text_of(result)
                outcomes.append(None)
            except MCPError as error:
                outcomes.append(error.code)
                retry_after.append((error.data or {}).get("retryAfterMs", 0))
    # Three requests per minute, three at once: the handshake (legacy) and the first calls use
    # them up; every call after that is refused and says when to retry.
    assert outcomes.count(None) <= 3, outcomes
    first = outcomes.index(RATE_LIMITED)
    assert all(code is None for code in outcomes[:first]), outcomes
    assert all(code == RATE_LIMITED for code in outcomes[first:]), outcomes
    assert len(outcomes) - first >= 5, outcomes
    assert all(ms > 0 for ms in retry_after), retry_after

    # Another key of the same profile has its own budget.
    async with client(sim, deployment, "support-bot", mode) as other:
        result = await other.call_tool("count_records", {"model": "res.partner", "domain": "[]"})
        assert result.is_error is not True, text_of(result)


def audit_events(directory) -> list[dict]:
    """The events of an audit folder (the chain's own records left out)."""
    import json

    events = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            event = json.loads(line)
            if event["kind"] != "chain":
                events.append(event)
    return events


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_calls_and_denials_are_in_the_audit_log_and_it_verifies(sim, deployment, mode):
    import subprocess

    async with client(sim, deployment, "sales-agent", mode) as sales:
        ok = await sales.call_tool("search_records", {"model": "res.partner", "domain": "[('id', '=', 10)]", "fields": ["name"]})
        assert ok.is_error is not True, text_of(ok)
        refused = await sales.call_tool("search_records", {"model": "res.partner", "fields": ["email"]})
        assert refused.is_error is True
        denied = await sales.call_tool("update_records", {"model": "res.partner", "ids": [10], "values": '{"name": "X"}'})
        assert denied.is_error is True
    audit = deployment.path.parent / "audit"
    events = [e for e in audit_events(audit) if e.get("tool")]
    protocol = "2026-07-28" if mode == "2026-07-28" else None
    found, hidden, forbidden = events[-3:]
    for event in (found, hidden, forbidden):
        assert event["key_name"] == "sales-agent" and event["profile"] == "sales", event
        assert event["odoo_user"] == "sales_agent" and event["transport"] == "stdio", event
        if protocol:
            assert event["protocol"] == protocol, event
    assert found["tool"] == "search_records" and found["outcome"]["status"] == "ok", found
    assert found["record_ids"] == [10] and found["fields_requested"] == ["name"], found
    assert found["latency"]["odoo_ms"] > 0, found
    # A field the profile hides is a denial with the rule that hides it, not malformed input.
    assert hidden["decision"]["verdict"] == "deny", hidden
    assert hidden["decision"]["rule"] == 'profile "sales": model."res.partner".fields.read.deny "email"', hidden
    assert forbidden["decision"]["verdict"] == "deny", forbidden
    assert "sales" in forbidden["decision"]["rule"], forbidden
    assert all("Deco Addict" not in str(e) and DECO_EMAIL not in str(e) for e in events)
    # The chain of the folder verifies with the admin tool.
    verify = subprocess.run(
        [binary("odoo-warden"), "audit", "verify", str(audit)], capture_output=True, text=True, timeout=60
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
