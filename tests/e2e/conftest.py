"""Shared fixtures: the built binaries, a simulator on a free loopback port, and config files.

`cargo xtask ci` builds the binaries and points WARDEN_BIN_DIR at them; every fixture cleans up
its processes, and every wait is bounded.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

BIN_DIR = Path(os.environ.get("WARDEN_BIN_DIR", Path(__file__).resolve().parents[2] / "target" / "debug"))


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


def write_config(tmp_path: Path, url: str, login: str, *, timeout_ms: int = 10000, extra: str = "") -> Path:
    path = tmp_path / f"warden-{login}.toml"
    path.write_text(
        f"""
[odoo]
url = "{url}"
database = "odoo"
login = "{login}"
protocol = "auto"
api_key_env = "ODOO_API_KEY"
timeout_ms = {timeout_ms}
{extra}
"""
    )
    return path


@pytest.fixture
def anyio_backend():
    return "asyncio"
