"""The agent as one executable: built once per session, it heartbeats on a real nats-server with no Python.

The device role is the one exercised end to end here (``harmony-agent fleet agent``): it connects with its
own NATS user, prepares its podman store and heartbeats. The other roles ship in the same file; the test
checks their commands answer from inside the bundle too.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from harmony.fleet.control import FleetControl
from harmony.fleet.credentials import FleetHome
from harmony.infra.nats import FleetNatsServer
from harmony.infra.pyinstaller import AgentBinary, build_agent, source_digest
from harmony.infra.state_files import write_atomic
from harmony.modules.agent.binary import sha256_of
from tests.fixtures.agent_binary import python_locations, without_python

pytestmark = pytest.mark.slow


def test_no_python_runs_inside_the_wrapper(tmp_path: Path) -> None:
    """The control for the test below: inside the wrapper, no interpreter of this machine starts."""
    dirs, _ = python_locations()
    assert any(Path(sys.base_prefix).is_relative_to(d) for d in dirs)
    candidates = ["python3", "python", sys.executable, str(Path(sys.base_prefix) / "bin" / "python3")]
    script = 'for p in "$@"; do "$p" -c pass 2>/dev/null && { echo "$p runs"; exit 1; }; done; echo none'
    done = subprocess.run(
        without_python(["/bin/sh", "-c", script, "sh", *candidates], empty_dir=tmp_path / "empty"),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stdout.strip()) == (0, "none"), done.stderr
    outside = subprocess.run([sys.executable, "-c", "pass"], check=False)
    assert outside.returncode == 0  # the same interpreter runs outside: the wrapper is what hides it


def test_the_build_is_cached_by_source_hash(agent_binary: AgentBinary) -> None:
    assert agent_binary.source_digest == source_digest()
    assert agent_binary.sha256 == sha256_of(agent_binary.path)
    again = build_agent()
    assert (again.cached, again.path, again.sha256) == (True, agent_binary.path, agent_binary.sha256)


def test_every_role_is_in_the_one_file(agent_binary: AgentBinary, tmp_path: Path) -> None:
    for role in (["agent", "run"], ["fleet", "agent"], ["containers", "supervise"]):
        done = subprocess.run(
            without_python([str(agent_binary.path), *role, "--help"], empty_dir=tmp_path / "empty"),
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, (role, done.stderr[-2000:])
        assert "Usage: harmony-agent" in done.stdout


async def test_the_binary_heartbeats_with_no_python_on_the_machine(
    agent_binary: AgentBinary,
    fleet_home: FleetHome,
    fleet_server: FleetNatsServer,
    fleet_control: FleetControl,
    tmp_path: Path,
) -> None:
    device = "bin-a"
    identity = fleet_home.add_device(device)
    await fleet_server.reload()
    await fleet_control.register(device, {"kind": "binary"})
    credentials = tmp_path / "device" / "credentials.json"
    on_device = identity.model_copy(update={"servers": (fleet_server.url,)})
    write_atomic(credentials, on_device.file_json(), mode=0o600, directory_mode=0o700)
    argv = [str(agent_binary.path), "fleet", "agent", "--credentials", str(credentials),
            "--store", str(tmp_path / "device" / "store"), "--heartbeat", "0.5"]  # fmt: skip
    log = (tmp_path / "agent.log").open("wb")
    wrapped = without_python(argv, empty_dir=tmp_path / "empty")
    proc = subprocess.Popen(wrapped, stdout=log, stderr=subprocess.STDOUT)  # noqa: ASYNC220 - starting is instant
    try:
        view = await fleet_control.live_view()
        for _ in range(1200):  # a cold start unpacks ~47 MB; on a loaded machine that can take a while
            if device in view.beats or proc.poll() is not None:
                break
            await asyncio.sleep(0.1)
        assert proc.poll() is None, (tmp_path / "agent.log").read_text()[-3000:]
        assert device in view.beats, (tmp_path / "agent.log").read_text()[-3000:]
        first = view.beats[device][0].seq
        for _ in range(100):
            if view.beats[device][0].seq > first:
                break
            await asyncio.sleep(0.1)
        assert view.beats[device][0].seq > first  # it keeps beating, not a single message on the way out
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
