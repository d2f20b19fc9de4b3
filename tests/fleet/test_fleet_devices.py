"""Device agents on real podman (one isolated store each) against a real nats-server with per-device users.

One scenario, in the order an operator lives it: register three devices, roll out a web app in stages,
upgrade it, see a bad version halted at the canary, run commands, then the faults: a container removed by
hand, an agent killed and restarted, NATS restarted, a malformed desired-state entry, an offline device.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path, PurePosixPath

import pytest

from harmony.domain.capabilities.containers import (
    ContainerHealthCheck,
    ContainerName,
    ContainerSpec,
    ImageRef,
    PortMapping,
)
from harmony.domain.errors import KeyValueError
from harmony.domain.values import Port
from harmony.fleet.control import DeviceOffline, FleetControl
from harmony.fleet.credentials import FleetHome
from harmony.fleet.device_agent import AgentSettings, DeviceAgent
from harmony.fleet.records import DESIRED, STATE, DeploymentState
from harmony.fleet.rollout import Strategy
from harmony.fleet.status import DeploymentStatus
from harmony.infra.nats import FleetNatsServer
from harmony.infra.podman import Podman
from harmony.modules.application.container import Container
from harmony.modules.application.rootfs import busybox_rootfs_tar
from tests.fixtures.nats_fleet import bus_options
from tests.fixtures.podman import busybox_binary, podman_in, wipe
from tests.fixtures.ports import free_port

DEVICES = ("dev-a", "dev-b", "dev-c")
IMAGE = ImageRef("localhost/fleetweb:1")
SETTINGS = AgentSettings(heartbeat_interval=0.5, ground_truth_interval=1.0, resync_jitter=0.5, health_timeout=8.0)


def web(version: str, port: int | None, *, broken: bool = False) -> Container:
    """busybox httpd serving ``version``; a broken version exits at once, so it never gets healthy."""
    script = "exit 3" if broken else f"echo {version} > /tmp/index.html && exec httpd -f -p 8080 -h /tmp"
    return Container(
        spec=ContainerSpec(
            name=ContainerName("web"), image=IMAGE, command=("sh", "-c", script),
            ports=() if port is None else (PortMapping(container=Port(8080), host=Port(port)),),
            health=ContainerHealthCheck(
                command=("wget", "-q", "-O-", "http://127.0.0.1:8080/index.html"), interval=timedelta(milliseconds=300)
            ),
            restart="no",
        ),
        stop_grace=timedelta(seconds=1),
    )  # fmt: skip


def fetch(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=3) as r:
        return r.read().decode().strip()


async def until[T](probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], *, timeout: float = 40) -> T:
    """Poll ``probe`` until ``ok`` (readiness with a deadline; the caller asserts on the last value)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if ok(value) or loop.time() > deadline:
            return value
        await asyncio.sleep(0.2)


class Devices:
    def __init__(self, tmp: Path, home: FleetHome, server: FleetNatsServer) -> None:
        self.tmp, self.home, self.server = tmp, home, server
        self.runtimes: dict[str, Podman] = {}
        self.agents: dict[str, DeviceAgent] = {}

    async def provision(self, device: str) -> None:
        runtime = podman_in(self.tmp / f"podman-{device}")
        archive = self.tmp / "fleetweb.tar"
        if not archive.exists():
            archive.write_bytes(busybox_rootfs_tar(busybox_binary(), {}))
        await runtime.import_image(PurePosixPath(archive), IMAGE)
        self.runtimes[device] = runtime

    async def start(self, device: str) -> DeviceAgent:
        agent = DeviceAgent(
            device=device, options=bus_options(self.home.add_device(device), [self.server.url]),
            runtime=self.runtimes[device], settings=SETTINGS,
        )  # fmt: skip
        await agent.start()
        self.agents[device] = agent
        return agent

    async def kill(self, device: str) -> None:
        await self.agents.pop(device).stop()


@pytest.fixture
async def devices(tmp_path: Path, fleet_home: FleetHome, fleet_server: FleetNatsServer) -> AsyncIterator[Devices]:
    fleet = Devices(tmp_path, fleet_home, fleet_server)
    try:
        yield fleet
    finally:
        for agent in list(fleet.agents.values()):
            await agent.stop()
        for runtime in fleet.runtimes.values():
            wipe(runtime)


async def test_fleet_rollout_upgrade_halt_commands_and_faults(
    devices: Devices, fleet_home: FleetHome, fleet_server: FleetNatsServer, fleet_control: FleetControl
) -> None:
    control = fleet_control
    ports = {d: free_port() for d in DEVICES}
    for i, device in enumerate(DEVICES):
        await control.register(device, {"site": "lab", "ring": "canary" if i == 0 else "main"})
        fleet_home.add_device(device)
    await fleet_server.reload()
    for device in DEVICES:
        await devices.provision(device)
        await devices.start(device)

    # Each device has its own port in this test, so the Score differs per device: deploy per device group.
    # (On real devices the same Score goes to all; here three devices share one loopback.)
    progress: list[DeploymentStatus] = []
    staged = Strategy(canary=0.3, waves=2, failure_threshold=0.0, wave_timeout=60)
    for device in DEVICES:
        await control.register(device, {"site": "lab", "name": device})
    for device in DEVICES:
        await control.deploy(f"web-{device}", web("v1", ports[device]), selector={"name": device}, strategy=staged)
    done = await asyncio.gather(*(control.drive(f"web-{d}", on_progress=progress.append) for d in DEVICES))
    assert [r.phase for r in done] == ["done"] * 3, [r.reason for r in done]
    assert {fetch(ports[d]) for d in DEVICES} == {"v1"}
    status = await control.status("web-dev-a")
    assert (status.targeted, status.updated, status.healthy, status.failed, status.offline) == (1, 1, 1, 0, 0)

    # A second deploy of the same Score is a NOOP on the device: the container is not replaced.
    before = await devices.runtimes["dev-a"].inspect_container("web")
    assert before is not None
    await control.deploy("web-dev-a", web("v1", ports["dev-a"]), selector={"name": "dev-a"}, strategy=staged)
    assert (await control.drive("web-dev-a")).phase == "done"
    after = await devices.runtimes["dev-a"].inspect_container("web")
    assert after is not None and after.id == before.id

    # Upgrade: graceful replace, the new version serves.
    await control.deploy("web-dev-b", web("v2", ports["dev-b"]), selector={"name": "dev-b"}, strategy=staged)
    assert (await control.drive("web-dev-b")).phase == "done"
    assert fetch(ports["dev-b"]) == "v2"

    # Commands: ping, bounded logs, restart; an offline device is reported as offline.
    pong = await control.ping("dev-a")
    assert pong["device"] == "dev-a"
    assert isinstance(await control.logs("dev-a", "web-dev-a", lines=5), list)
    restarted = await control.restart("dev-a", "web-dev-a")
    assert restarted["state"] == "running"
    assert await until(lambda: _serving(ports["dev-a"]), lambda v: v == "v1", timeout=15) == "v1"
    await devices.kill("dev-c")

    async def ping_answer() -> str:
        # The server notices the closed connection asynchronously; until then a request may still be
        # routed to the dead subscription and time out. Once it has, the answer is "offline", at once.
        try:
            await control.ping("dev-c")
        except DeviceOffline:
            return "offline"
        except KeyValueError as e:
            return f"not yet: {e}"
        return "answered"

    assert await until(ping_answer, lambda v: v == "offline", timeout=20) == "offline"
    c_status = await until(lambda: control.status("web-dev-c"), lambda s: s.offline == 1, timeout=10)
    assert c_status.offline == 1
    assert fetch(ports["dev-c"]) == "v1"  # the workload keeps running without its agent

    # The agent comes back: history replayed, the running container adopted (NOOP), reported healthy again.
    c_before = await devices.runtimes["dev-c"].inspect_container("web")
    await devices.start("dev-c")
    c_status = await until(lambda: control.status("web-dev-c"), lambda s: s.healthy == 1 and s.offline == 0)
    assert c_status.healthy == 1
    c_after = await devices.runtimes["dev-c"].inspect_container("web")
    assert c_before is not None and c_after is not None and c_after.id == c_before.id

    # A container removed by hand comes back at the next ground-truth check.
    await devices.runtimes["dev-b"].remove_container("web", grace=0)
    assert await until(lambda: _serving(ports["dev-b"]), lambda v: v == "v2", timeout=20) == "v2"

    # NATS restarted: workloads keep serving meanwhile; agents reconnect and report again.
    await fleet_server.stop()
    assert fetch(ports["dev-a"]) == "v1"
    await fleet_server.start()
    await control.register("dev-a", {"site": "lab", "name": "dev-a"})  # control reconnected too
    for name in (f"web-{d}" for d in DEVICES):
        back = await until(lambda n=name: control.status(n), lambda s: s.healthy == 1 and s.offline == 0)
        assert back.healthy == 1, back
    pongs = await until(lambda: _pings(control), lambda p: p == list(DEVICES), timeout=15)
    assert pongs == list(DEVICES)

    # A malformed entry is rejected with a clear error in the device's state; the other workload runs on.
    await control.bus.bucket(DESIRED).publish("dev-a.junk", b'{"kind": "no-such-kind", "x": 1}')
    junk = await until(lambda: _state(control, "dev-a", "junk"), lambda s: s is not None and s.phase == "rejected")
    assert junk is not None and junk.phase == "rejected" and "no-such-kind" in junk.message
    assert fetch(ports["dev-a"]) == "v1"

    # A bad version, staged across the three devices: the canary fails and the rollout halts there.
    for device in DEVICES:
        await control.register(device, {"site": "lab", "ring": "canary" if device == "dev-a" else "main"})
    bad = web("v3", ports["dev-a"], broken=True)
    rollout = await control.deploy("web-dev-a", bad, selector={"site": "lab"}, strategy=staged)
    assert rollout.waves[0] == ("dev-a",)
    halted = await control.drive("web-dev-a")
    assert halted.phase == "halted", halted.reason
    assert "dev-a" in halted.reason
    status = await control.status("web-dev-a")
    assert (status.failed, status.healthy) == (1, 0)
    assert [d.verdict for d in status.devices if d.device != "dev-a"] == ["pending", "pending"]
    assert fetch(ports["dev-b"]) == "v2" and fetch(ports["dev-c"]) == "v1"  # never released to them


async def _serving(port: int) -> str:
    try:
        return await asyncio.to_thread(fetch, port)
    except OSError:
        return ""


async def _state(control: FleetControl, device: str, deployment: str) -> DeploymentState | None:
    found = await control.bus.bucket(STATE).get(f"{device}.{deployment}")
    return None if found is None or found.value is None else DeploymentState.from_bytes(found.value)


async def _pings(control: FleetControl) -> list[str]:
    answered: list[str] = []
    for device in DEVICES:
        with contextlib.suppress(KeyValueError):  # offline, or not answering yet while it reconnects
            answered.append(str((await control.ping(device))["device"]))
    return answered
