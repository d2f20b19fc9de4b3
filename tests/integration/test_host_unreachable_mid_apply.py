"""A host that drops off the network in the middle of a real ``harmony apply`` to two SSH hosts.

The run is stopped deterministically just before lab1's second file (the Maestro's pause hook), lab1's link
is taken down (its veth on this machine: the host vanishes, nothing is sent back), and the run goes on. The
apply ends in FAILURE naming lab1 and what to do; the journal has lab1's run as failed with the same cause;
lab0 applied everything; lab1 kept what was applied before the cut and nothing half-written. Once the link is
back, a re-run converges (SUCCESS) and the one after is NOOP.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest

from harmony.domain.outcome import Status
from harmony.maestro.journal import Journal, RunStatus
from harmony.testing.ssh_lab import SshLab
from harmony.topology.linux_host import LinuxHost

HARMONY = str(Path(sys.executable).parent / "harmony")

DEPLOY = """
from pathlib import Path, PurePosixPath
from harmony.domain.host_group import HostGroup
from harmony.domain.score import Score
from harmony.modules.files import ManagedDirectory, ManagedFile
from harmony.testing.ssh_lab import load_inventory
from harmony.topology.linux_host import LinuxHost

lab = Path({lab!r})
base = PurePosixPath({base!r})
hosts = [
    LinuxHost.from_inventory(h, known_hosts=lab / "known_hosts", keepalive=1.0) for h in load_inventory(lab).hosts
]


def files(host: LinuxHost) -> list[Score[LinuxHost]]:
    return [
        ManagedDirectory(path=base),
        *(ManagedFile(path=base / f"{{step}}-{{host.name}}.conf", content=f"{{step}}\\n") for step in {steps!r}),
    ]


deployment = HostGroup(hosts=hosts).deploy(files)
"""
STEPS = ("first", "second", "third")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshLab]:
    """Two hosts of its own: this file cuts one off the network."""
    with SshLab(tmp_path_factory.mktemp("lab-cut"), 2) as lab:
        yield lab


def harmony(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [HARMONY, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def link(lab: SshLab, index: int, state: str) -> None:
    subprocess.run(["ip", "link", "set", lab.hosts[index].veth, state], check=True)


def wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    """Readiness, not timing: the deadline only stops a broken run from hanging the suite."""
    end = time.monotonic() + 120
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the run ended (status {proc.returncode}) before pausing: {err}{out}")
        assert time.monotonic() < end, f"gave up waiting for {path}"
        time.sleep(0.05)


async def listing(lab: SshLab, index: int, base: PurePosixPath) -> list[str]:
    host = LinuxHost.from_inventory(lab.inventory().hosts[index], known_hosts=lab.known_hosts)
    await host.ensure_ready()
    try:
        found = await host.run_command(["ls", "-A", str(base)])
    finally:
        await host.close()
    return sorted(found.stdout.split())


async def test_a_host_cut_off_mid_apply_fails_alone_clearly_and_converges_once_back(
    lab: SshLab, tmp_path: Path
) -> None:
    base = PurePosixPath(f"/srv/hm-cut-{secrets.token_hex(3)}")
    deploy = tmp_path / "cut_deploy.py"
    deploy.write_text(DEPLOY.format(lab=str(lab.workdir), base=str(base), steps=STEPS))
    journal = tmp_path / "journal.sqlite3"
    env = {**os.environ, "HARMONY_JOURNAL": str(journal), "COLUMNS": "200"}
    flag = tmp_path / "paused"
    paused = {**env, "HARMONY_PAUSE_AT": f"apply:file:{base}/second-lab1.conf", "HARMONY_PAUSE_FILE": str(flag)}

    run = harmony("apply", str(deploy), "--yes", env=paused)
    try:
        wait_for(flag, run)
        link(lab, 1, "down")
        flag.unlink()
        out, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
        link(lab, 1, "up")

    assert run.returncode == 1, out + err
    text = out + err
    assert "lab1" in text and "lost the connection to lab1" in text, text
    assert "once lab1 is reachable again, run again" in text, text
    records = Journal(journal)
    try:
        by_topology = {r.topology: r for r in records.runs(10)}
        assert by_topology["lab0"].status is RunStatus.SUCCESS, by_topology
        cut = records.run(by_topology["lab1"].id)
    finally:
        records.close()
    assert cut is not None and cut.status is RunStatus.FAILURE, cut
    recorded = [(r.score, r.outcome.status if r.outcome else None) for r in cut.results]
    assert recorded == [
        (f"directory:{base}", Status.SUCCESS),
        (f"file:{base}/first-lab1.conf", Status.SUCCESS),
        (f"file:{base}/second-lab1.conf", Status.FAILURE),
        (f"file:{base}/third-lab1.conf", None),
    ], recorded
    failed = cut.results[2].outcome
    assert failed is not None and "lost the connection to lab1" in failed.message, failed

    assert await listing(lab, 0, base) == [f"{step}-lab0.conf" for step in STEPS], "lab0 applied everything"
    assert await listing(lab, 1, base) == ["first-lab1.conf"], "lab1: what ran before the cut, nothing half-written"

    again = subprocess.run(
        [HARMONY, "apply", str(deploy), "--yes", "--json"], capture_output=True, text=True, env=env, timeout=300
    )
    assert again.returncode == 0, again.stdout + again.stderr
    last = json.loads(again.stdout.splitlines()[-1])
    assert last["status"] == "success", last
    assert await listing(lab, 1, base) == [f"{step}-lab1.conf" for step in STEPS]
    noop = subprocess.run(
        [HARMONY, "apply", str(deploy), "--yes", "--json"], capture_output=True, text=True, env=env, timeout=300
    )
    assert noop.returncode == 0, noop.stdout + noop.stderr
    assert json.loads(noop.stdout.splitlines()[-1])["status"] == "noop", noop.stdout
