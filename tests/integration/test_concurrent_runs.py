"""Several ``harmony apply`` processes on one target at once take turns: they wait, never fail each other.

The first run is held at a step boundary by the pause hook (``harmony.maestro.pause``) until every other run
has said whom it waits for, so the waiting is certain, not a matter of timing.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from harmony.maestro.journal import Journal, RunStatus
from harmony.topology.container_host import ContainerHost
from tests.fixtures.podman import wipe
from tests.fixtures.ports import free_port
from tests.integration.test_interruption import DEPLOY, processes_mentioning

REPO = Path(__file__).resolve().parents[2]
HARMONY = str(Path(sys.executable).parent / "harmony")

WEB_DEPLOY = """
import os
from pathlib import Path
from examples import web_deploy

deployment = web_deploy.build(
    state=Path({state!r}),
    port={port},
    dns_port={dns_port},
    pages={{"index.html": "<h1>Harmony " + os.environ.get("SITE_EDITION", "1") + "</h1>\\n"}},
)
"""


def start(deploy: Path, journal: Path, *extra: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [HARMONY, "apply", str(deploy), "--yes", "--json", *extra],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HARMONY_JOURNAL": str(journal), "COLUMNS": "200", "PYTHONPATH": str(REPO), **env},
    )


def first_event(proc: subprocess.Popen[str], kind: str) -> dict[str, object]:
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line)
        if event["event"] == kind:
            return event
    raise AssertionError(f"no {kind} event; stderr: {proc.stderr.read() if proc.stderr else ''}")


def wait_for(path: Path) -> None:
    end = time.monotonic() + 120  # readiness deadline, not a timing assertion
    while not path.exists():
        assert time.monotonic() < end, f"gave up waiting for {path}"
        time.sleep(0.05)


def take_turns(deploy: Path, journal: Path, work: Path, *, others: int, **env: str) -> list[str]:
    """Hold one apply after its plan, start ``others`` more, check they wait for it; returns every run's status."""
    paused = work / "paused"
    paused.unlink(missing_ok=True)
    holder = start(deploy, journal, HARMONY_PAUSE_AT="planned", HARMONY_PAUSE_FILE=str(paused), **env)
    holder_run = first_event(holder, "run_started")["run_id"]
    wait_for(paused)

    refused = subprocess.run(
        [HARMONY, "apply", str(deploy), "--yes", "--no-wait"],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env={**os.environ, "HARMONY_JOURNAL": str(journal), "COLUMNS": "300", "PYTHONPATH": str(REPO), **env},
        check=False,
        timeout=300,
    )
    assert refused.returncode == 1
    said = " ".join((refused.stdout + refused.stderr).split())
    assert f"locked by run {holder_run} (pid {holder.pid}" in said
    assert "Traceback" not in said

    waiting = [start(deploy, journal, **env) for _ in range(others)]
    for proc in waiting:
        event = first_event(proc, "waiting_for_lock")
        assert f"run {holder_run} (pid {holder.pid}" in str(event["holder"])
    paused.unlink()
    statuses: list[str] = []
    for proc in [holder, *waiting]:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
        statuses.append(json.loads(out.splitlines()[-1])["status"])
    return statuses


@pytest.mark.slow
@pytest.mark.parametrize("at_once", [2, 5])
def test_concurrent_applies_of_files_and_commands_take_turns(tmp_path: Path, at_once: int) -> None:
    deploy = tmp_path / "site_deploy.py"
    deploy.write_text(DEPLOY.format(work=str(tmp_path)))
    journal = tmp_path / "journal.sqlite3"
    statuses = take_turns(deploy, journal, tmp_path, others=at_once - 1)
    assert statuses == ["success"] + ["noop"] * (at_once - 1), "the first applies, the others find nothing to do"
    assert processes_mentioning(str(tmp_path)) == []
    j = Journal(journal)
    try:
        runs = j.runs(100)
    finally:
        j.close()
    assert {r.status for r in runs} <= {RunStatus.SUCCESS, RunStatus.NOOP, RunStatus.FAILURE}
    assert [r.status for r in runs].count(RunStatus.FAILURE) == 1, "only the --no-wait run failed"


@pytest.fixture
def web_state(tmp_path: Path) -> Iterator[Path]:
    state = tmp_path / "web"
    yield state
    host = ContainerHost.isolated(state, dns_port=free_port())
    asyncio.run(host.stop_services())
    wipe(host.podman)


@pytest.mark.slow
def test_concurrent_applies_of_the_web_app_after_site_edits_take_turns(tmp_path: Path, web_state: Path) -> None:
    port, dns_port = free_port(), free_port()
    deploy = tmp_path / "concurrent_web_deploy.py"
    deploy.write_text(WEB_DEPLOY.format(state=str(web_state), port=port, dns_port=dns_port))
    journal = tmp_path / "journal.sqlite3"
    for edition, at_once in (("2", 2), ("3", 5)):
        statuses = take_turns(deploy, journal, tmp_path, others=at_once - 1, SITE_EDITION=edition)
        assert statuses[0] == "success" and set(statuses[1:]) == {"noop"}, statuses
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=10) as r:
            assert f"Harmony {edition}" in r.read().decode()
