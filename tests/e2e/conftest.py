"""Shared fixtures: the built binaries, a simulator on a free loopback port, and configuration
files with their key stores (the agent's key goes to `odoo-warden-stdio` in WARDEN_KEY).

`cargo xtask ci` builds the binaries and points WARDEN_BIN_DIR at them; every fixture cleans up
its processes, and every wait is bounded.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import string
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

# Absolute: some tests run the binaries from another working directory.
BIN_DIR = Path(os.environ.get("WARDEN_BIN_DIR", Path(__file__).resolve().parents[2] / "target" / "debug")).resolve()


def binary(name: str) -> str:
    path = BIN_DIR / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing: build the workspace first (cargo build --workspace)")
    return str(path)


@dataclass
class Sim:
    url: str
    database: str
    api_keys: dict[str, str]
    process: subprocess.Popen

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_sim(*extra: str) -> Sim:
    process = subprocess.Popen(
        [binary("warden-odoo-sim"), "--listen", "127.0.0.1:0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    url = database = None
    keys: dict[str, str] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(keys) < 3:
        line = process.stdout.readline()
        if not line:
            break
        if m := re.search(r"at (http://127\.0\.0\.1:\d+)", line):
            url = m.group(1)
        elif m := re.match(r"database: (\S+)", line):
            database = m.group(1)
        elif m := re.match(r"user (\S+)\s+password \S+\s+uid \d+\s+api key ([0-9a-f]{40})", line):
            keys[m.group(1)] = m.group(2)
    if not (url and database and len(keys) == 3):
        process.kill()
        raise RuntimeError("the simulator did not print its startup block")
    return Sim(url=url, database=database, api_keys=keys, process=process)


@pytest.fixture(scope="session")
def sim():
    s = start_sim()
    yield s
    s.stop()


def new_key(name: str, profile: str, *, per_minute: int | None = None, revoked: bool = False) -> tuple[str, str]:
    """A key store record (TOML) and its secret, shaped as `odoo-warden keys create` makes them:
    the secret is `owk_<12 hex>_<40 base62>`, the store keeps only its SHA-256."""
    hex_id = secrets.token_hex(6)
    alphabet = string.ascii_letters + string.digits
    secret = f"owk_{hex_id}_" + "".join(secrets.choice(alphabet) for _ in range(40))
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    record = (
        f'[[key]]\nid = "k_{hex_id}"\nname = "{name}"\nprofile = "{profile}"\n'
        f'hash = "sha256:{hashlib.sha256(secret.encode()).hexdigest()}"\ncreated = "{now}"\n'
    )
    if revoked:
        record += f'revoked = "{now}"\n'
    if per_minute is not None:
        record += f"\n[key.rate_limit]\nper_minute = {per_minute}\n"
    return record, secret


@dataclass
class Deployment:
    """A configuration file, its key store, and the secrets of the keys in it by key name."""

    path: Path
    keys: dict[str, str]

    @property
    def key(self) -> str:
        """The secret of the first key."""
        return next(iter(self.keys.values()))


def write_deployment(directory: Path, config: str, keys: list[tuple[str, str, dict]]) -> Deployment:
    """Writes `config` (whose `[keys] file` must be "keys.toml") and a key store with one key per
    (name, profile, options) in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    records, secrets_by_name = [], {}
    for name, profile, options in keys:
        record, secret = new_key(name, profile, **options)
        records.append(record)
        secrets_by_name[name] = secret
    (directory / "keys.toml").write_text("\n".join(records))
    path = directory / "warden.toml"
    path.write_text(config)
    return Deployment(path=path, keys=secrets_by_name)


# The profile of the single-user configurations: every model and operation; Odoo's own access
# rights are the only limit.
OPEN_PROFILE = """
[profiles.agent]
identity = "main"
models = { allow = ["*"] }
operations = { allow = ["read", "create", "write", "delete", "call"] }
methods = { allow = ["*"] }
fields = { write = { allow = ["*"] } }
"""


def write_config(tmp_path: Path, url: str, login: str, *, timeout_ms: int = 10000, extra: str = "") -> Deployment:
    """A configuration acting as the Odoo user `login` (its key in ODOO_API_KEY), with one key of
    an open profile, then `extra`."""
    config = f"""
[odoo]
url = "{url}"
database = "odoo"
protocol = "auto"
timeout_ms = {timeout_ms}

[odoo.identities.main]
login = "{login}"
api_key_env = "ODOO_API_KEY"

[keys]
file = "keys.toml"
{OPEN_PROFILE}
{extra}
"""
    return write_deployment(tmp_path / f"warden-{login}", config, [("agent", "agent", {})])


@pytest.fixture
def anyio_backend():
    return "asyncio"
