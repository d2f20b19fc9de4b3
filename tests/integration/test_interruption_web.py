"""Interrupt a real blue-green deploy of the web example (``examples/web_deploy``: an image Score, then an
``Application`` behind HAProxy with a DNS name) with SIGINT, SIGTERM and SIGKILL, at every step boundary the
deploy passes and inside the application's own step (once the new version's container runs, before its smoke check:
the run signals itself there, since the step is now too quick for a signal from outside to land in it reliably).

After each: the journal records the run ``interrupted`` (``abandoned`` once a later run finds a killed one),
never success or noop; no harmony process is left; the site keeps answering through the load balancer with a
whole page of the old or the new version; the next apply converges to SUCCESS serving the new version, and
the one after is NOOP. One deployment is shared by every case (each one deploys the next version), so that the
suite pays for one first deploy only.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harmony.maestro.journal import Journal, RunRecord, RunStatus
from harmony.topology.container_host import ContainerHost
from tests.fixtures.podman import wipe
from tests.fixtures.ports import free_port

HARMONY = str(Path(sys.executable).parent / "harmony")
REPO = Path(__file__).resolve().parents[2]

DEPLOY = """
import asyncio
import json
import os
import signal
from pathlib import Path
from examples.web_deploy import build
from harmony.modules.application.application import ON_SERVING

work = Path({work!r})
site = json.loads((work / "site.json").read_text())
deployment = build(
    state=work / "state", port=site["port"], dns_port=site["dns_port"], pages={{"index.html": site["body"]}}
)


async def serving(message: str) -> None:  # the new version serves; stopping the old one comes next
    Path(os.environ["SERVING_FILE"]).write_text(message)
    if sig := os.environ.get("SIGNAL_DURING_CLEANUP"):  # once the old version's `podman rm` runs
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.Signals(int(sig)))
    else:
        await asyncio.sleep(3600)  # held until the test signals


if "SERVING_FILE" in os.environ:
    ON_SERVING.set(serving)

if sig := os.environ.get("SIGNAL_AFTER_START"):  # once the new version's container runs, before its smoke check
    podman = deployment.topology.podman
    start = podman.run_container

    async def start_then_signal(spec, *, settle=True):
        info = await start(spec, settle=settle)
        os.kill(os.getpid(), signal.Signals(int(sig)))
        await asyncio.sleep(3600)  # the signal ends the run here
        return info

    podman.run_container = start_then_signal
"""
SCORES = ("image:localhost/web-site:live", "app:web")
BOUNDARIES = ("locked", "planned", *(f"{when}:{s}" for s in SCORES for when in ("apply", "applied")))
INSIDE = "inside-app-step"  # the new version's container runs; its smoke check and the switch are still to come
AFTER_SWITCH = "after-switch"  # the load balancer sends traffic to the new version; the old one still runs
IN_CLEANUP = "in-old-version-cleanup"  # the signal lands while the old version is being stopped and removed
EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -signal.SIGKILL}


def page(version: int) -> str:
    return f"<h1>Harmony web, version {version}</h1>\n"


@dataclass
class Site:
    work: Path
    port: int
    dns_port: int
    version: int = 0
    host: ContainerHost = field(init=False)

    def __post_init__(self) -> None:
        self.host = ContainerHost.isolated(self.work / "state", dns_port=self.dns_port)

    @property
    def deploy(self) -> Path:
        return self.work / "interrupted_web_deploy.py"

    @property
    def journal(self) -> Path:
        return self.work / "journal" / "journal.sqlite3"

    def next_version(self) -> int:
        self.version += 1
        (self.work / "site.json").write_text(
            json.dumps({"port": self.port, "dns_port": self.dns_port, "body": page(self.version)})
        )
        return self.version

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "HARMONY_JOURNAL": str(self.journal),
            "COLUMNS": "200",
            **extra,
        }

    def start(self, **extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [HARMONY, "apply", str(self.deploy), "--yes", "--json"],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(**extra),
        )

    def apply(self) -> tuple[int, str, str]:
        proc = self.start()
        out, err = proc.communicate(timeout=300)
        finished = [json.loads(line) for line in out.splitlines() if '"run_finished"' in line]
        return proc.returncode, finished[-1]["status"] if finished else "", err

    def get(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/index.html", timeout=10) as r:
            return r.read().decode()

    def runs(self) -> list[RunRecord]:
        journal = Journal(self.journal)
        try:
            return journal.runs(100)
        finally:
            journal.close()

    def running_versions(self) -> set[str]:
        return self._containers()

    def containers(self) -> set[str]:
        """The application's containers in any state (stopped, being removed)."""
        return self._containers("--all")

    def _containers(self, *options: str) -> set[str]:
        listed = subprocess.run(
            self.host.podman.argv("ps", *options, "--filter", "label=io.harmony.app=web", "--format", "{{.Names}}"),
            capture_output=True,
            text=True,
            check=False,
        )
        return set(listed.stdout.split())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("web-interrupted")
    site = Site(work=work, port=free_port(), dns_port=free_port())
    site.deploy.write_text(DEPLOY.format(work=str(work)))
    site.next_version()
    try:
        status, finished, err = site.apply()
        assert (status, finished) == (0, "success"), err
        yield site
    finally:
        asyncio.run(site.host.stop_services())
        wipe(site.host.podman)
        for pid in harmony_processes(site):  # only when a case failed: leave nothing behind
            os.kill(pid, signal.SIGKILL)


def harmony_processes(site: Site) -> list[int]:
    """Processes of a harmony run of this deploy file (the site's daemons and containers may stay)."""
    found: list[int] = []
    needle = str(site.deploy).encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if needle in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def wait_until(ready: object, proc: subprocess.Popen[str], what: str) -> None:
    """Readiness, not timing: the deadline only stops a broken run from hanging the suite."""
    assert callable(ready)
    end = time.monotonic() + 180
    while not ready():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the run ended (status {proc.returncode}) before {what}: {err}{out[-2000:]}")
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def interrupt(site: Site, sig: signal.Signals, at: str) -> tuple[int, str]:
    paused = site.work / "paused"
    paused.unlink(missing_ok=True)
    # At these two the run signals itself: an outside signal could not be timed into the few milliseconds between
    # the new version's start and its smoke check, or into podman's clean-up of the old one.
    if at == INSIDE:
        return finished(site.start(SIGNAL_AFTER_START=str(int(sig))))
    if at == IN_CLEANUP:
        return finished(site.start(SERVING_FILE=str(paused), SIGNAL_DURING_CLEANUP=str(int(sig))))
    if at == AFTER_SWITCH:
        proc = site.start(SERVING_FILE=str(paused))
    else:
        proc = site.start(HARMONY_PAUSE_AT=at, HARMONY_PAUSE_FILE=str(paused))
    wait_until(lambda: paused.exists() and paused.read_text().strip(), proc, at)
    proc.send_signal(sig)
    return finished(proc)


def finished(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """The run's exit status and what it wrote to stderr, once it has ended."""
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def wait_gone(site: Site) -> list[int]:
    end = time.monotonic() + 30
    while (left := harmony_processes(site)) and time.monotonic() < end:
        time.sleep(0.05)
    return left


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["SIGINT", "SIGTERM", "SIGKILL"])
@pytest.mark.parametrize("at", [*BOUNDARIES, INSIDE])
def test_an_interrupted_web_deploy_keeps_the_site_whole_and_converges_next(
    site: Site, sig: signal.Signals, at: str
) -> None:
    old, new = page(site.version), page(site.next_version())
    known = {r.id for r in site.runs()}
    status, err = interrupt(site, sig, at)
    assert status == EXIT[sig], err
    assert "Traceback" not in err, err
    assert wait_gone(site) == [], "a process of the interrupted run is still there"
    assert site.get() in (old, new), "the site answers a whole page of the old or the new version"
    if at == INSIDE:
        assert site.get() == old and len(site.running_versions()) == 2, "stopped between the new start and the switch"

    (run,) = [r for r in site.runs() if r.id not in known]
    if sig is signal.SIGKILL:
        assert run.status is None, "nothing could record the end of a SIGKILLed run"
    else:
        assert run.status is RunStatus.INTERRUPTED, run
        assert f"interrupted by {sig.name}" in err

    status, finished, err = site.apply()
    everything_was_applied = at == f"applied:{SCORES[-1]}"
    assert (status, finished) == (0, "noop" if everything_was_applied else "success"), err
    assert site.get() == new
    status, finished, err = site.apply()
    assert (status, finished) == (0, "noop"), err
    statuses = {r.id: r.status for r in site.runs()}
    assert statuses[run.id] is (RunStatus.ABANDONED if sig is signal.SIGKILL else RunStatus.INTERRUPTED)
    assert len(site.running_versions()) == 1, "only the new version runs"


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["SIGINT", "SIGTERM", "SIGKILL"])
@pytest.mark.parametrize("at", [AFTER_SWITCH, IN_CLEANUP])
def test_a_deploy_interrupted_while_the_old_version_stops_keeps_the_new_one_serving_and_finishes_next(
    site: Site, sig: signal.Signals, at: str
) -> None:
    new = page(site.next_version())
    (old_container,) = site.containers()
    known = {r.id for r in site.runs()}
    status, err = interrupt(site, sig, at)
    assert status == EXIT[sig], err
    assert "Traceback" not in err, err
    assert wait_gone(site) == [], "a process of the interrupted run is still there"
    assert site.get() == new, "traffic was switched before the interruption: the new version serves"
    (run,) = [r for r in site.runs() if r.id not in known]
    assert run.status is (None if sig is signal.SIGKILL else RunStatus.INTERRUPTED), run

    # SIGINT and SIGTERM stop the run's `podman rm` with it; after a SIGKILL it may still be at work, and the
    # next run starts at once, as an operator's would.
    left = old_container in site.containers()
    if at == AFTER_SWITCH:
        assert left, "held before the old version was touched"
    status, finished, err = site.apply()
    if sig is signal.SIGKILL and at == IN_CLEANUP:
        assert (status, finished) in ((0, "success"), (0, "noop")), err
    else:
        assert (status, finished) == (0, "success" if left else "noop"), err
    assert site.get() == new
    status, finished, err = site.apply()
    assert (status, finished) == (0, "noop"), err
    assert site.containers() == site.running_versions() and len(site.containers()) == 1, site.containers()
    assert old_container not in site.containers()
