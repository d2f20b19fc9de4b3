"""A command running on an SSH host dies with the run that started it: cancelled, timed out, or harmony signalled.

The lab hosts share this machine's process table and ``/tmp``, so the remote program's pid file and its side
effect are read here, and "nothing is left" is a scan of ``/proc``. The program sleeps far longer than any
test: if its side effect ever appeared, or a process of it were still there once harmony is gone, it went on.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from harmony.domain.errors import CommandError
from harmony.infra.connector import Connector
from harmony.maestro.journal import Journal, RunStatus
from harmony.testing.ssh_lab import SshLab
from tests.fixtures.ssh_hosts import lab_hosts

HARMONY = str(Path(sys.executable).parent / "harmony")

DEPLOY = """
from pathlib import Path, PurePosixPath
from harmony import Deployment
from harmony.modules.commands import Command, sh
from harmony.testing.ssh_lab import load_inventory
from harmony.topology.linux_host import LinuxHost

lab = Path({lab!r})
work = {work!r}
host = LinuxHost.from_inventory(load_inventory(lab).hosts[0], known_hosts=lab / "known_hosts")
deployment = Deployment(
    topology=host,
    scores=[
        Command(
            argv=sh(f"echo $$ > {{work}}/remote.pid; sleep 600; touch {{work}}/remote.done"),
            creates=PurePosixPath(f"{{work}}/remote.done"),
            label="remote-long-step",
        )
    ],
)
"""
EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -signal.SIGKILL}


def long_step(work: Path) -> list[str]:
    return ["sh", "-c", f"echo $$ > {work}/remote.pid; sleep 600; touch {work}/remote.done"]


def processes_mentioning(text: str) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def alive(pid: int) -> bool:
    """A process that can still run (a zombie, dead but not reaped yet by its new parent, cannot)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def gone(work: Path) -> list[int]:
    """The processes still mentioning ``work`` once they had time to die (readiness, not timing)."""
    end = time.monotonic() + 30
    while (left := processes_mentioning(str(work))) and time.monotonic() < end:
        time.sleep(0.05)
    return left


def wait_for_pid(work: Path, proc: subprocess.Popen[str] | None = None) -> None:
    end = time.monotonic() + 120
    pid = work / "remote.pid"
    while not (pid.exists() and pid.read_text().strip()):
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"harmony ended (status {proc.returncode}) before the step started: {err}{out}")
        assert time.monotonic() < end, "the remote step never started"
        time.sleep(0.05)


@pytest.fixture
async def connector(ssh_lab: SshLab) -> AsyncIterator[Connector]:
    host = lab_hosts(ssh_lab)[0]
    await host.ensure_ready()
    try:
        yield host.connector
    finally:
        await host.close()


async def test_a_cancelled_remote_command_is_killed_with_its_children(connector: Connector, tmp_path: Path) -> None:
    task = asyncio.create_task(connector.run_command(long_step(tmp_path), timeout=None))
    await asyncio.to_thread(wait_for_pid, tmp_path)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(gone, tmp_path) == [], "the remote shell or its sleep is still running"
    assert not (tmp_path / "remote.done").exists()
    still = await connector.run_command(["echo", "ok"], timeout=30)
    assert still.stdout == "ok\n", "the connection is still usable after the cancel"


async def test_a_timed_out_remote_command_is_killed(connector: Connector, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"timed out after 1\.0s"):
        await connector.run_command(long_step(tmp_path), timeout=1.0)
    assert await asyncio.to_thread(gone, tmp_path) == []
    assert not (tmp_path / "remote.done").exists()


async def test_a_remote_command_keeps_its_stdin_and_exit_status(connector: Connector) -> None:
    result = await connector.run_command(["sh", "-c", "cat; exit 7"], stdin=b"through the guard\n", timeout=30)
    assert (result.exit_status, result.stdout) == (7, "through the guard\n")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["SIGINT", "SIGTERM", "SIGKILL"])
def test_signalling_harmony_kills_the_remote_command(ssh_lab: SshLab, tmp_path: Path, sig: signal.Signals) -> None:
    deploy = tmp_path / "remote_step_deploy.py"
    deploy.write_text(DEPLOY.format(lab=str(ssh_lab.workdir), work=str(tmp_path)))
    journal = tmp_path / "journal" / "journal.sqlite3"
    proc = subprocess.Popen(
        [HARMONY, "apply", str(deploy), "--yes"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HARMONY_JOURNAL": str(journal), "COLUMNS": "200"},
    )
    try:
        wait_for_pid(tmp_path, proc)
        remote_shell = int((tmp_path / "remote.pid").read_text())
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == EXIT[sig], err
    assert "Traceback" not in err, err
    # SIGKILL: nothing in harmony runs; the connection drops, sshd's session ends, the kernel signals the guard
    assert gone(tmp_path) == [], "a process of the remote step outlived harmony"
    assert not alive(remote_shell)
    assert not (tmp_path / "remote.done").exists(), "the remote step's side effect never happens"
    (run,) = Journal(journal).runs()
    assert run.status is (None if sig is signal.SIGKILL else RunStatus.INTERRUPTED), run
