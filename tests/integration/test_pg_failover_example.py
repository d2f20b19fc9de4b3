"""The example deploy package end to end: a PostgreSQL pair with two agents on an embedded NATS survives
``kill -9`` of the primary with zero lost acknowledged writes; the CLI shows status and failover history."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest

from harmony.agent.journal import read_status
from tests.fixtures.failover import WriteChecker, postgres_base, remove_base, rows, wait_for
from tests.fixtures.ports import free_port

pytestmark = pytest.mark.slow
HARMONY = Path(sys.executable).parent / "harmony"


@pytest.fixture
async def example(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ModuleType]:
    base = postgres_base()
    monkeypatch.setenv("HARMONY_PG_ROOT", str(base))
    monkeypatch.setenv("HARMONY_PG_PORTS", f"{free_port()},{free_port()}")
    package = importlib.reload(importlib.import_module("examples.pg_failover_deploy"))
    cluster = importlib.reload(importlib.import_module("examples.pg_failover_deploy.cluster"))
    try:
        yield cluster
    finally:
        await cluster.down()
        for side in (package.pair.primary, package.pair.replica):
            await side.instance.stop(mode="immediate")
        for name in ("a", "b"):
            log = base / f"agent-{name}.log"
            if log.exists():
                print(f"--- agent {name}\n{log.read_text()[-3000:]}")
        remove_base(base)


def serving(root: Path, node: str, standby: str) -> bool:
    s = read_status(root / node / "state")
    return s is not None and s.status == "serving" and s.primary == node and s.sync_standby == standby


async def test_example_pair_survives_kill_9_of_the_primary_with_no_lost_write(example: ModuleType) -> None:
    pkg = importlib.import_module("examples.pg_failover_deploy")
    root: Path = pkg.root
    await example.up()
    await wait_for(lambda: _async(serving(root, "a", "b")), 60, "a serving with b as synchronous standby")
    endpoints = {"a": pkg.pair.primary.endpoint, "b": pkg.pair.replica.endpoint}
    await rows(endpoints["a"], "CREATE TABLE checker (v bigint PRIMARY KEY, node text NOT NULL)")
    checker = WriteChecker(endpoints)
    checker.start()
    await wait_for(lambda: _async(bool(checker.acked_on("a"))), 10, "writes on a")
    pid = int((root / "a" / "data" / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    await wait_for(lambda: _async(bool(checker.acked_on("b"))), 30, "writes on b after the failover")
    await asyncio.sleep(0.5)
    await checker.stop()
    present = {int(str(r[0])) for r in await rows(endpoints["b"], "SELECT v FROM checker")}
    assert {a.value for a in checker.acks} <= present, "acknowledged writes were lost"
    assert max(a.at for a in checker.acked_on("a")) < min(a.at for a in checker.acked_on("b"))
    await wait_for(lambda: _async(serving(root, "b", "a")), 60, "a back as b's synchronous standby")

    status = subprocess.run(
        [str(HARMONY), "agent", "status", "--config", str(root / "agent-b.toml"), "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(status.stdout)["status"]["primary"] == "b"
    history = subprocess.run(
        [str(HARMONY), "failover", "history", "--config", str(root / "agent-b.toml"), "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    entries = json.loads(history.stdout)
    states = [e for e in entries if e["kind"] == "state"]
    assert states[0]["node"] == "a"
    assert states[-1]["node"] == "b"
    assert any(e["kind"] == "event" and e["summary"].startswith("promote") for e in entries)
    table = subprocess.run(
        [str(HARMONY), "failover", "history", "--config", str(root / "agent-a.toml")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "promote" in table.stdout


async def _async[T](value: T) -> T:
    return value
