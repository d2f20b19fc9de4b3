"""Fleet rollouts of images from the site registry: real nats-server, docker-registry over TLS, podman.

Three devices, each a ``ContainerHost`` with its own podman store and its own read-only registry account.
A new image version (a new digest) rolls out to all three and each pulls it by digest; with the registry
down, the next rollout's canary reports "image pull failed", the rollout halts by its failure threshold, and
every device keeps serving the version it had. Garbage collection then keeps every digest still desired.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.request
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from harmony.domain.capabilities.containers import ContainerName, ContainerSpec
from harmony.domain.image_refs import PinnedImage
from harmony.domain.names import ResourceName
from harmony.domain.values import Hostname, Port
from harmony.fleet.control import FleetControl
from harmony.fleet.credentials import FleetHome
from harmony.fleet.device_agent import AgentSettings, DeviceAgent
from harmony.fleet.records import DeploymentState
from harmony.fleet.rollout import Strategy
from harmony.infra.nats import FleetNatsServer
from harmony.modules.application import Application, Container, HttpCheck
from harmony.modules.application.application import APP_LABEL
from harmony.modules.application.exposure import Exposure
from harmony.modules.registry import RegistryGarbageCollection, SiteRegistry
from harmony.topology.container_host import ContainerHost
from tests.fixtures.nats_fleet import bus_options
from tests.fixtures.podman import wipe
from tests.fixtures.ports import free_port
from tests.fixtures.registry import PULLERS, Site, publish, site_image
from tests.fleet.test_fleet_applications import state_of
from tests.fleet.test_fleet_devices import until

DEVICES = ("dev-a", "dev-b", "dev-c")
SETTINGS = AgentSettings(
    heartbeat_interval=0.5, ground_truth_interval=2.0, resync_jitter=0.5, health_timeout=8.0, scale_down_delay=2.0
)
ALL_AT_ONCE = Strategy(wave_timeout=120)
CANARY_FIRST = Strategy(canary=0.3, waves=1, failure_threshold=0.0, wave_timeout=120)


def site_app(image: PinnedImage, lb_port: int) -> Application:
    return Application(
        app=ResourceName("site"),
        image=image,
        port=Port(8080),
        command=("httpd", "-f", "-p", "8080", "-h", "/www"),
        expose=Exposure(hostname=Hostname("site.fleet.test"), zone=Hostname("fleet.test"), port=Port(lb_port)),
        smoke=HttpCheck(path="/index.html", expect_body="fleet", timeout=timedelta(seconds=10)),
        stop_grace=timedelta(milliseconds=500),
    )


def _get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5) as r:
        return r.read().decode()


async def serving(host: ContainerHost) -> list[str]:
    """What each of the device's running application containers answers, on its own published port."""
    bodies: list[str] = []
    for c in await host.list_containers({APP_LABEL: "site"}):
        port = c.host_port(8080)
        if c.running and port is not None:
            bodies.append(await asyncio.to_thread(_get, port))
    return bodies


class RegistryDevices:
    def __init__(self, tmp: Path, site: Site) -> None:
        # Each device logs in with its own pull account; the three HAProxy instances share the frontend port
        # (SO_REUSEPORT), so the tests read each device's containers directly.
        self.hosts = {
            device: ContainerHost.isolated(
                tmp / device, dns_port=free_port(), name=device, registry_logins=[site.pull_login(account)]
            )
            for device, account in zip(DEVICES, PULLERS, strict=True)
        }
        self.agents: list[DeviceAgent] = []

    async def start(self, home: FleetHome, server: FleetNatsServer) -> None:
        for device, host in self.hosts.items():
            await host.ensure_ready()
            agent = DeviceAgent(
                device=device, options=bus_options(home.add_device(device), [server.url]), runtime=host,
                applications=host, settings=SETTINGS,
            )  # fmt: skip
            self.agents.append(agent)
        await server.reload()
        for agent in self.agents:
            await agent.start()


@pytest.fixture
async def registry_devices(tmp_path: Path, site_registry: Site) -> AsyncIterator[RegistryDevices]:
    devices = RegistryDevices(tmp_path, site_registry)
    try:
        yield devices
    finally:
        for agent in devices.agents:
            await agent.stop()
        for host in devices.hosts.values():
            await host.stop_services()
            wipe(host.podman)


def kept_running(state: DeploymentState) -> bool:
    """A device's report of a new version serving, with the old one still running (the scale-down delay)."""
    return "; the previous version keeps running" in state.message


async def test_new_image_versions_roll_out_through_the_registry_and_a_registry_outage_halts_the_rollout(
    site_registry: Site,
    build_host: ContainerHost,
    registry_devices: RegistryDevices,
    tmp_path: Path,
    fleet_home: FleetHome,
    fleet_server: FleetNatsServer,
    fleet_control: FleetControl,
) -> None:
    site, control = site_registry, fleet_control
    v1, v2, v3 = [
        await publish(site, build_host, site_image(site, tmp_path, body=f"fleet v{n}\n", tag="live")) for n in (1, 2, 3)
    ]
    for device in DEVICES:
        await control.register(device, {"site": "lab"})
    await registry_devices.start(fleet_home, fleet_server)
    lb = free_port()

    first = await control.deploy("site", site_app(v1, lb), selector={"site": "lab"}, strategy=ALL_AT_ONCE)
    assert v1 in first.desired  # the desired state carries the digest
    done = await control.drive("site")
    assert done.phase == "done", done.reason
    for host in registry_devices.hosts.values():
        assert await serving(host) == ["fleet v1\n"]

    # A new version is a new digest: a canary, then the rest; each device pulls with its own account. A device
    # reports the new version once it serves it (the rollout goes on then, the old one still running for the
    # scale-down delay), and again once the old one is stopped.
    seen: dict[str, list[DeploymentState]] = {device: [] for device in DEVICES}

    async def listen() -> None:  # every report each device makes, as the rollout goes
        while True:
            for device in DEVICES:
                state = await state_of(control, device, "site")
                if state is not None and (not seen[device] or seen[device][-1] != state):
                    seen[device].append(state)
            await asyncio.sleep(0.01)

    listener = asyncio.ensure_future(listen())
    second = await control.deploy("site", site_app(v2, lb), selector={"site": "lab"}, strategy=CANARY_FIRST)
    done = await control.drive("site")
    assert done.phase == "done", done.reason
    status = await control.status("site")
    assert (status.targeted, status.healthy, status.failed) == (3, 3, 0)

    def stopped_old(reports: list[DeploymentState]) -> bool:
        return bool(reports) and reports[-1].version == second.version and not kept_running(reports[-1])

    for device in DEVICES:
        await until(lambda d=device: asyncio.sleep(0, seen[d]), stopped_old, timeout=30)
    listener.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await listener
    for device, host in registry_devices.hosts.items():
        told = [(r.phase, kept_running(r)) for r in seen[device] if r.version == second.version]
        assert told == [("running", True), ("running", False)], seen[device]
        assert await serving(host) == ["fleet v2\n"]
        kept = {d for d, _ in await host.local_image_digests(v1.repository)}
        assert kept == {v1.digest, v2.digest}  # the previous version's image stays for a quick way back

    # The registry goes down: the canary cannot pull v3, reports why, and the rollout halts there.
    await site.host.stop_registry()
    rollout = await control.deploy("site", site_app(v3, lb), selector={"site": "lab"}, strategy=CANARY_FIRST)
    halted = await control.drive("site")
    assert halted.phase == "halted", halted.reason
    assert "1 of 1 updated device(s) failed" in halted.reason
    (canary,) = rollout.waves[0]
    state = await state_of(control, canary, "site")
    assert state is not None and state.version == rollout.version and state.phase == "failed"
    assert "image pull failed" in state.message and "is unreachable" in state.message
    status = await control.status("site")
    assert (status.failed, status.healthy) == (1, 0)
    assert sorted(d.verdict for d in status.devices) == ["failed", "pending", "pending"]
    for host in registry_devices.hosts.values():
        assert await serving(host) == ["fleet v2\n"]  # every device still serves the old version

    # Collection keeps every digest still desired (v2 on two devices, v3 on the canary) and frees v1.
    desired = await control.desired_images()
    assert desired == {v2, v3}
    gc = RegistryGarbageCollection(keep=tuple(sorted(desired)))
    outcome = await gc.interpret().apply(site.host, await gc.interpret().plan(site.host))
    assert outcome.ok, outcome
    assert {m.digest for m in await site.host.stored_manifests()} == {v2.digest, v3.digest}

    # The registry back: the canary's next ground-truth pass pulls v3, serves it, and reports that it recovered.
    restart = SiteRegistry(settings=site.settings)
    assert (await restart.interpret().apply(site.host, await restart.interpret().plan(site.host))).ok
    recovered = await until(
        lambda: state_of(control, canary, "site"), lambda s: s is not None and s.phase == "running", timeout=60
    )
    assert recovered is not None and recovered.phase == "running" and recovered.version == rollout.version
    # v2 runs on for the scale-down delay, then only v3 does.
    only = await until(lambda: serving(registry_devices.hosts[canary]), lambda bodies: len(bodies) == 1, timeout=30)
    assert only == ["fleet v3\n"]


def worker(image: PinnedImage) -> Container:
    spec = ContainerSpec(
        name=ContainerName("reg-worker"), image=image, command=("httpd", "-f", "-p", "8080", "-h", "/www")
    )
    return Container(spec=spec, stop_grace=timedelta(milliseconds=500))


async def test_a_container_pinned_to_a_registry_image_is_pulled_and_kept_running_when_the_registry_is_down(
    site_registry: Site,
    build_host: ContainerHost,
    registry_devices: RegistryDevices,
    tmp_path: Path,
    fleet_home: FleetHome,
    fleet_server: FleetNatsServer,
    fleet_control: FleetControl,
) -> None:
    site, control = site_registry, fleet_control
    v1, v2 = [await publish(site, build_host, site_image(site, tmp_path, body=f"worker v{n}\n")) for n in (1, 2)]
    for device in DEVICES:
        await control.register(device, {"name": device})
    await registry_devices.start(fleet_home, fleet_server)
    host = registry_devices.hosts["dev-b"]

    await control.deploy("worker", worker(v1), selector={"name": "dev-b"}, strategy=ALL_AT_ONCE)
    done = await control.drive("worker")
    assert done.phase == "done", done.reason
    running = await host.inspect_container("reg-worker")
    assert running is not None and running.running and running.image == v1

    await site.host.stop_registry()
    rollout = await control.deploy("worker", worker(v2), selector={"name": "dev-b"}, strategy=ALL_AT_ONCE)
    halted = await control.drive("worker")
    assert halted.phase == "halted", halted.reason
    state = await state_of(control, "dev-b", "worker")
    assert state is not None and state.version == rollout.version and state.phase == "failed"
    assert "image pull failed" in state.message and "the current container keeps running" in state.message
    still = await host.inspect_container("reg-worker")
    assert still is not None and still.running and still.id == running.id
