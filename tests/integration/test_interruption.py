"""Interrupt real ``harmony apply`` processes with real signals at every step boundary and inside a long step.

Each case stops the run deterministically with the Maestro's pause hook (``HARMONY_PAUSE_AT``, see
``harmony.maestro.pause``), or, inside the long step, once the step's own process has written its pid. Then
it sends SIGINT, SIGTERM or SIGKILL and checks: the exit status, the journal's record of the run
(``interrupted`` with what was applied; ``abandoned`` once a later run finds a killed one), that no process
of the run is left, and that the next apply converges and the one after is NOOP.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harmony.maestro.journal import Journal, RunRecord, RunStatus

HARMONY = str(Path(sys.executable).parent / "harmony")

DEPLOY = """
from pathlib import Path, PurePosixPath
from harmony import Deployment
from harmony.modules.commands import Command, sh
from harmony.modules.files import ManagedDirectory, ManagedFile
from harmony.topology.linux_host import LinuxHost

work = Path({work!r})
deployment = Deployment(
    topology=LinuxHost.local(root=work / "root", create_root=True),
    scores=[
        ManagedDirectory(path=PurePosixPath("/etc")),
        ManagedFile(path=PurePosixPath("/etc/first.conf"), content="first\\n", mode=0o600),
        Command(
            argv=sh(
                f"echo $$ > {{work}}/step.pid; if [ -e {{work}}/slow ]; then sleep 300; fi; "
                f"touch {{work}}/root/etc/step.done"
            ),
            creates=PurePosixPath("/etc/step.done"),
            label="long-step",
        ),
        ManagedFile(path=PurePosixPath("/etc/last.conf"), content="last\\n"),
    ],
)
"""
SCORES = ("directory:/etc", "file:/etc/first.conf", "command:long-step", "file:/etc/last.conf")
BOUNDARIES = ("locked", "planned", *(f"{when}:{s}" for s in SCORES for when in ("apply", "applied")))
EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -signal.SIGKILL}


@dataclass
class Site:
    work: Path
    deploy: Path
    journal: Path

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "HARMONY_JOURNAL": str(self.journal), "COLUMNS": "200", **extra}

    def start(self, **extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [HARMONY, "apply", str(self.deploy), "--yes", "--json"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(**extra),
        )

    def apply(self) -> tuple[int, list[dict[str, object]], str]:
        proc = subprocess.run(
            [HARMONY, "apply", str(self.deploy), "--yes", "--json"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=300,
            check=False,
        )
        return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()], proc.stderr

    def runs(self) -> list[RunRecord]:
        journal = Journal(self.journal)
        try:
            return journal.runs(100)
        finally:
            journal.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    deploy = tmp_path / "interrupted_deploy.py"
    deploy.write_text(DEPLOY.format(work=str(tmp_path)))
    yield Site(work=tmp_path, deploy=deploy, journal=tmp_path / "journal" / "journal.sqlite3")
    for pid in processes_mentioning(str(tmp_path)):  # only reached when a test failed: leave nothing behind
        os.kill(pid, signal.SIGKILL)


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                found.append(int(entry.name))
    return found


def wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    """Readiness, not timing: the deadline only stops a broken run from hanging the suite."""
    end = time.monotonic() + 120
    while not (path.exists() and path.read_text().strip()):
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the run ended (status {proc.returncode}) before {path.name}: {err}{out}")
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {path}")
        time.sleep(0.05)


def interrupt(site: Site, sig: signal.Signals, *, at: str | None) -> tuple[int, str]:
    """Run an apply, stop it at ``at`` (a pause point) or inside the long step, then send ``sig``."""
    paused = site.work / "paused"
    if at is None:
        (site.work / "slow").touch()
        proc = site.start()
        wait_for(site.work / "step.pid", proc)
    else:
        proc = site.start(HARMONY_PAUSE_AT=at, HARMONY_PAUSE_FILE=str(paused))
        wait_for(paused, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    (site.work / "slow").unlink(missing_ok=True)
    return proc.returncode, err


def assert_nothing_left(site: Site) -> None:
    left = processes_mentioning(str(site.work))
    assert left == [], f"processes of the interrupted run are still there: {left}"


def assert_converges(site: Site) -> None:
    status, events, err = site.apply()
    assert status == 0, err
    assert "Traceback" not in err
    status, events, err = site.apply()
    assert status == 0, err
    finished = events[-1]
    assert finished["event"] == "run_finished" and finished["status"] == "noop", events
    root = site.work / "root" / "etc"
    assert (root / "first.conf").read_text() == "first\n"
    assert (root / "last.conf").read_text() == "last\n"
    assert (root / "step.done").exists()


def applied_before(at: str | None) -> list[str]:
    """The Scores a run stopped at ``at`` has applied (``None``: inside the long step)."""
    if at is None:
        return list(SCORES[:2])
    if at in ("locked", "planned"):
        return []
    when, score = at.split(":", 1)
    index = SCORES.index(score)
    return list(SCORES[: index + 1 if when == "applied" else index])


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("at", [*BOUNDARIES, None], ids=[*BOUNDARIES, "inside-long-step"])
def test_a_signalled_apply_records_what_it_applied_kills_its_commands_and_converges_next(
    site: Site, sig: signal.Signals, at: str | None
) -> None:
    status, err = interrupt(site, sig, at=at)
    assert status == EXIT[sig], err
    assert "Traceback" not in err and "Event loop is closed" not in err, err
    assert f"interrupted by {sig.name}" in err
    assert_nothing_left(site)
    (run,) = site.runs()
    assert run.status is RunStatus.INTERRUPTED
    assert run.error is not None and run.error.startswith("interrupted")
    for score in applied_before(at):
        assert score in run.error, f"the journal names {score} as applied: {run.error}"
    if at is None:
        assert not (site.work / "root" / "etc" / "step.done").exists(), "the long step's side effect never happens"
    assert_converges(site)


@pytest.mark.slow
@pytest.mark.parametrize("at", [*BOUNDARIES, None], ids=[*BOUNDARIES, "inside-long-step"])
def test_a_killed_apply_leaves_no_process_is_marked_abandoned_and_converges_next(site: Site, at: str | None) -> None:
    status, _ = interrupt(site, signal.SIGKILL, at=at)
    assert status == EXIT[signal.SIGKILL]
    # the long step's guard is signalled by the kernel when harmony dies, and kills the step's group
    end = time.monotonic() + 30
    while processes_mentioning(str(site.work)) and time.monotonic() < end:
        time.sleep(0.05)
    assert_nothing_left(site)
    (killed,) = site.runs()
    assert killed.status is None, "nothing could record the end of a SIGKILLed run"
    assert_converges(site)
    record = {r.id: r for r in site.runs()}[killed.id]
    assert record.status is RunStatus.ABANDONED, "the next run marks the dead run abandoned"
