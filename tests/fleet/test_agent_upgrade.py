"""Agent upgrades through the fleet, with real processes: supervised agents (``harmony agent supervise``) on this
machine, a real nats-server with per-device authorization, releases in its JetStream object store.

- A good release: every device runs it (the supervisor kept it once it heartbeated), the rollout is done.
- Broken releases — one that exits at once, one that hangs without heartbeats — are rolled back by each
  device's supervisor by itself; the rollout halts after the canary wave with the device and the reason; the
  devices of the next wave are never given it; every device still heartbeats afterwards.
- A release with a bad signature, and one whose bytes do not match its sha256, are refused before they are
  ever executed: each would create a marker file if it ran, and the marker never appears.

The agent files here are small shell scripts that exec this checkout's ``harmony`` (see
``tests/fixtures/supervised_agent.py``): a good release is such a script with other bytes, published under a
new version; the broken ones are genuinely different files (``exit 1``; ``sleep``), signed with the fleet key.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harmony.fleet.agent_release import (
    AGENT_DEPLOYMENT,
    PUBLIC_KEY_FILE,
    RELEASES,
    public_key_text,
    sign_release,
    signing_key,
)
from harmony.fleet.agent_rollout import publish_release, roll_out_release
from harmony.fleet.control import FleetControl
from harmony.fleet.credentials import FleetHome
from harmony.fleet.records import HEARTBEAT, INFO, STATE, DeploymentState, DeviceInfo
from harmony.fleet.rollout import Strategy
from harmony.infra.nats import FleetNatsServer, NatsObjectStore
from harmony.topology.agent_host import StoreHeartbeats
from tests.fixtures.supervised_agent import HARMONY, SupervisedAgent, harmony_script, script, start_supervised

CANARY = Strategy(canary=0.5, waves=1, wave_timeout=120.0)


@pytest.fixture
async def agents(
    tmp_path: Path, fleet_home: FleetHome, fleet_server: FleetNatsServer, fleet_control: FleetControl
) -> AsyncIterator[list[SupervisedAgent]]:
    names = [f"up{i}-{os.getpid()}" for i in range(2)]
    started = [start_supervised(tmp_path, fleet_home, fleet_server, n, trial_deadline=8.0) for n in names]
    key = public_key_text(signing_key(fleet_home.path))
    for agent in started:
        (agent.dir / PUBLIC_KEY_FILE).write_text(key)  # what enrollment installs beside the agent
    await fleet_server.reload()
    for n in names:
        await fleet_control.register(n, {"site": "lab"})
    beats = StoreHeartbeats(fleet_control.bus.bucket(HEARTBEAT))
    try:
        for agent in started:
            assert await beats.wait_heartbeat(agent.device, after=0, timeout=120), agent.log_text()
        yield started
    finally:
        for agent in started:
            agent.stop()


async def agent_state(control: FleetControl, device: str) -> DeploymentState | None:
    found = await control.bus.bucket(STATE).get(f"{device}.{AGENT_DEPLOYMENT}")
    return None if found is None else DeploymentState.from_bytes(found.value)


async def released_info(control: FleetControl, device: str, release: str) -> DeviceInfo | None:
    for _ in range(600):
        found = await control.bus.bucket(INFO).get(device)
        info = None if found is None else DeviceInfo.from_bytes(found.value)
        if info is not None and info.release == release:
            return info
        await asyncio.sleep(0.1)
    return None


def harmony_cli(home: FleetHome, server: FleetNatsServer, *args: str) -> subprocess.CompletedProcess[str]:
    """``harmony ARGS --home HOME`` as an operator runs it, the home's control identity pointed at ``server``."""
    control = home.control().model_copy(update={"servers": (server.url,)})
    home.control_file.write_text(control.file_json())
    argv = [str(HARMONY), *args, "--home", str(home.path)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)


async def test_good_release_runs_on_every_device(
    tmp_path: Path,
    agents: list[SupervisedAgent],
    fleet_home: FleetHome,
    fleet_server: FleetNatsServer,
    fleet_control: FleetControl,
) -> None:
    good = harmony_script(tmp_path / "good", note="release 2")

    released = harmony_cli(
        fleet_home, fleet_server, "fleet", "agent-release", str(good), "--version", "2.0.0", "--selector",
        "site=lab", "--canary", "0.5", "--wave-timeout", "120", "--json",
    )  # fmt: skip

    logs = "\n".join(a.log_text() for a in agents)
    assert released.returncode == 0, (released.stdout, released.stderr, logs)
    final, _ = await fleet_control.rollout(AGENT_DEPLOYMENT)
    assert (final.phase, final.next_wave) == ("done", 2), (final.reason, logs)
    for agent in agents:
        state = await agent_state(fleet_control, agent.device)
        assert state is not None and (state.version, state.phase) == ("2.0.0", "running"), (state, logs)
        assert (agent.dir / "harmony-agent").read_bytes() == good.read_bytes()
        assert "upgrade to 2.0.0: the new agent heartbeats; kept" in agent.log_text()
        assert await released_info(fleet_control, agent.device, "2.0.0") is not None
    shown = harmony_cli(fleet_home, fleet_server, "fleet", "status", AGENT_DEPLOYMENT, "--json")
    assert shown.returncode == 0, shown.stderr
    (status,) = json.loads(shown.stdout)
    assert (status["healthy"], status["failed"]) == (2, 0)
    rows = {d["device"]: (d["agent"], d["phase"]) for d in status["devices"]}
    assert rows == {a.device: ("2.0.0", "running") for a in agents}
    listed = harmony_cli(fleet_home, fleet_server, "fleet", "devices", "--json")
    assert listed.returncode == 0, listed.stderr
    overview = {d["device"]: (d["agent"], d["upgrade"]) for d in json.loads(listed.stdout)}
    assert overview == {a.device: ("2.0.0", "2.0.0 running: agent 2.0.0 runs") for a in agents}


@pytest.mark.parametrize(
    ("body", "why"),
    [
        pytest.param("exit 1", "exited with status 1", id="exits-at-once"),
        pytest.param("exec sleep 600", "sent no heartbeat within 8s", id="hangs"),
    ],
)
async def test_broken_release_rolls_back_by_itself_and_halts_the_rollout(
    tmp_path: Path,
    agents: list[SupervisedAgent],
    fleet_home: FleetHome,
    fleet_control: FleetControl,
    body: str,
    why: str,
) -> None:
    installed = {a.device: (a.dir / "harmony-agent").read_bytes() for a in agents}
    broken = script(tmp_path / "broken", body)
    release = await publish_release(fleet_control, fleet_home.path, version="3.0.0-broken", binary=broken)
    rollout = await roll_out_release(fleet_control, release, selector={"site": "lab"}, strategy=CANARY)
    (canary,), (second,) = rollout.waves
    beats = StoreHeartbeats(fleet_control.bus.bucket(HEARTBEAT))

    final = await fleet_control.drive(AGENT_DEPLOYMENT)

    by_name = {a.device: a for a in agents}
    logs = by_name[canary].log_text()
    assert final.phase == "halted", (final, logs)
    assert final.next_wave == 1 and canary in final.reason, final.reason
    state = await agent_state(fleet_control, canary)
    assert state is not None and (state.version, state.phase) == ("3.0.0-broken", "failed"), (state, logs)
    assert state.message.startswith("rolled-back:") and why in state.message, state.message
    assert f"upgrade to 3.0.0-broken rolled back to the installed build: the new agent 3.0.0-broken {why}" in logs
    assert await agent_state(fleet_control, second) is None  # the next wave never got it
    for agent in agents:  # nobody is left without a running agent, on the build it had
        assert (agent.dir / "harmony-agent").read_bytes() == installed[agent.device]
        mark = await beats.heartbeat_mark(agent.device)
        assert await beats.wait_heartbeat(agent.device, after=mark, timeout=60), agent.log_text()
    status = await fleet_control.status(AGENT_DEPLOYMENT)
    (failed,) = [d for d in status.devices if d.verdict == "failed"]
    assert failed.device == canary and why in failed.message


async def test_bad_signature_or_checksum_is_refused_before_it_runs(
    tmp_path: Path, agents: list[SupervisedAgent], fleet_home: FleetHome, fleet_control: FleetControl
) -> None:
    marker = tmp_path / "executed"
    bad = harmony_script(tmp_path / "bad", note=f"touch {marker}")
    bad.write_text(bad.read_text().replace("exec ", f"touch {marker}\nexec ", 1))
    store = NatsObjectStore(fleet_control.bus, RELEASES)
    everyone = Strategy(wave_timeout=120.0)

    # signed with a key that is not the fleet's
    forged = sign_release(Ed25519PrivateKey.generate(), "4.0.0", bad)
    await store.ensure()
    await store.put_file(forged.version, bad)
    await roll_out_release(fleet_control, forged, selector={"site": "lab"}, strategy=everyone)
    assert (await fleet_control.drive(AGENT_DEPLOYMENT)).phase == "halted"
    for agent in agents:
        state = await agent_state(fleet_control, agent.device)
        assert state is not None and state.phase == "failed" and "signature does not verify" in state.message, state

    # signed by the fleet, but the stored bytes are not the signed ones (same size, one byte changed)
    signed = sign_release(signing_key(fleet_home.path), "5.0.0", bad)
    tampered = tmp_path / "tampered"
    tampered.write_bytes(bad.read_bytes().replace(b"# touch", b"# TOUCH", 1))
    assert tampered.read_bytes() != bad.read_bytes()
    await store.put_file(signed.version, tampered)
    await roll_out_release(fleet_control, signed, selector={"site": "lab"}, strategy=everyone)
    assert (await fleet_control.drive(AGENT_DEPLOYMENT)).phase == "halted"
    for agent in agents:
        state = await agent_state(fleet_control, agent.device)
        assert state is not None and state.phase == "failed" and "does not match" in state.message, state
        assert not (agent.dir / "harmony-agent.next").exists()
        assert not (agent.dir / ".harmony-agent.download").exists()
        assert "upgrade to" not in agent.log_text()  # the supervisor was never asked to run anything
    assert not marker.exists(), "a refused release was executed"
