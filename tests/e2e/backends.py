"""The Odoo servers the live suites run against: the simulator (always) and a real Odoo when the
`ODOO_LIVE_*` variables describe one (`../shared/odoo/up STATE_DIR` writes them; any Odoo 18 or
19 with the same three users works, e.g. a staging copy: see docs/testing.md for what the suites
write there). Without them the live cases are skipped, and the run says so loudly.

A backend knows its three users (admin, sales, readonly) with their API keys and, for a real
Odoo, passwords, and the protocols to try: every one the client speaks to Odoo 18 (web
session, JSON-RPC, XML-RPC) on a real Odoo; the simulator's automatic choice otherwise.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from conftest import Deployment, binary, start_sim, write_deployment

LIVE = bool(os.environ.get("ODOO_LIVE_URL"))
SKIP_REASON = (
    "LIVE SUITE SKIPPED: ODOO_LIVE_URL is not set (bring a real Odoo up with "
    "../shared/odoo/up STATE_DIR and load STATE_DIR/odoo.env)"
)

# The environment variable holding each identity's secret, in the configurations written here.
SECRET_ENV = {"admin": "ODOO_ADMIN_SECRET", "sales": "ODOO_SALES_SECRET", "readonly": "ODOO_READONLY_SECRET"}


@dataclass
class User:
    login: str
    api_key: str
    password: str | None = None


@dataclass
class Backend:
    name: str
    url: str
    database: str
    users: dict[str, User]
    protocols: list[str]
    stop: object = field(default=None, repr=False)

    def identities(self, protocol: str) -> tuple[str, dict[str, str]]:
        """The `[odoo]` section and identities for `protocol`, and the environment holding their
        secrets (passwords for the web session, API keys otherwise)."""
        session = protocol == "session"
        text = f"""
[odoo]
url = "{self.url}"
database = "{self.database}"
protocol = "{protocol}"
timeout_ms = 30000
"""
        env = {}
        for name, user in self.users.items():
            kind = "password_env" if session else "api_key_env"
            text += f"""
[odoo.identities.{name}]
login = "{user.login}"
{kind} = "{SECRET_ENV[name]}"
"""
            env[SECRET_ENV[name]] = user.password if session else user.api_key
        return text, env


def sim_backend() -> Backend:
    sim = start_sim()
    users = {
        "admin": User("admin", sim.api_keys["admin"]),
        "sales": User("sales_agent", sim.api_keys["sales_agent"]),
        "readonly": User("readonly_bot", sim.api_keys["readonly_bot"]),
    }
    return Backend("simulator", sim.url, sim.database, users, ["auto"], stop=sim.stop)


def live_backend() -> Backend:
    env = os.environ
    users = {
        name: User(env[f"ODOO_LIVE_{who}_LOGIN"], env[f"ODOO_LIVE_{who}_API_KEY"], env.get(f"ODOO_LIVE_{who}_PASSWORD"))
        for name, who in [("admin", "ADMIN"), ("sales", "SALES"), ("readonly", "READONLY")]
    }
    protocols = ["jsonrpc", "xmlrpc"]
    if all(u.password for u in users.values()):
        protocols.insert(0, "session")
    return Backend("live", env["ODOO_LIVE_URL"], env.get("ODOO_LIVE_DB", "odoo"), users, protocols, stop=lambda: None)


class Gateway:
    """`odoo-warden-http` on a configuration, until stopped."""

    def __init__(self, config: Path, env: dict[str, str]):
        self.process = subprocess.Popen(
            [binary("odoo-warden-http"), "--config", str(config)],
            env={"PATH": "/usr/bin:/bin", "RUST_LOG": "warn", **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            if m := re.search(r"listening on (http://127\.0\.0\.1:\d+/mcp)", line):
                self.url = m.group(1)
                break
        if self.url is None:
            self.stop()
            raise RuntimeError("odoo-warden-http did not start: " + (self.process.stderr.read() if self.process.stderr else ""))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def deploy(backend: Backend, protocol: str, directory: Path, profiles: str, keys: list[str], extra: str = "") -> tuple[Deployment, dict[str, str]]:
    """A configuration over `backend` with `protocol`, the given profiles and one key per
    profile (named as the profile), HTTP on a free loopback port, write tools on, the audit
    log in `directory/audit`. Returns the deployment and the environment of its secrets."""
    odoo, env = backend.identities(protocol)
    config = f"""{odoo}
[keys]
file = "keys.toml"

[tools]
write = true

[http]
bind = "127.0.0.1:0"

{extra}
{profiles}
"""
    return write_deployment(directory, config, [(k, k, {}) for k in keys]), env
