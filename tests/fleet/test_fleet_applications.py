"""An ``Application`` Score rolled out through FleetControl to a real device agent whose topology is a
per-device ``ContainerHost`` (its own podman store, HAProxy and dnsmasq on loopback); a device with a bare
container runtime rejects it with a clear error in its state.
"""

from __future__ import annotations

import asyncio
import dataclasses
import urllib.request
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path, PurePosixPath

import dns.resolver
import pytest

from harmony.domain.capabilities.containers import ImageRef
from harmony.domain.names import ResourceName
from harmony.domain.values import Hostname, Port
from harmony.fleet.control import FleetControl
from harmony.fleet.credentials import FleetHome
from harmony.fleet.device_agent import AgentSettings, DeviceAgent
from harmony.fleet.records import STATE, DeploymentState
from harmony.fleet.rollout import Strategy
from harmony.infra.nats import FleetNatsServer
from harmony.infra.podman import Podman
from harmony.modules.application import Application, HttpCheck
from harmony.modules.application.application import APP_LABEL
from harmony.modules.application.exposure import Exposure
from harmony.modules.application.rootfs import busybox_rootfs_tar
from harmony.topology.container_host import ContainerHost
from tests.fixtures.nats_fleet import bus_options
from tests.fixtures.podman import busybox_binary, debug_container, podman_in, wipe
from tests.fixtures.ports import free_port
from tests.fleet.test_fleet_devices import until

IMAGE = ImageRef("localhost/fleetsite:1")
IMAGE_2 = ImageRef("localhost/fleetsite:2")
# The old version is stopped at once (the tests below check when); the scale-down delay has its own test.
SETTINGS = AgentSettings(
    heartbeat_interval=0.5, ground_truth_interval=1.0, resync_jitter=0.5, health_timeout=8.0, scale_down_delay=0.0
)
ALL_AT_ONCE = Strategy(wave_timeout=60)


def site(lb_port: int) -> Application:
    return Application(
        app=ResourceName("site"),
        image=IMAGE,
        port=Port(8080),
        command=("httpd", "-f", "-p", "8080", "-h", "/www"),
        expose=Exposure(hostname=Hostname("site.fleet.test"), zone=Hostname("fleet.test"), port=Port(lb_port)),
        smoke=HttpCheck(path="/index.html", expect_body="fleet site", timeout=timedelta(seconds=10)),
        stop_grace=timedelta(seconds=1),
    )


def get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5) as r:
        return r.read().decode()


async def _serving(port: int) -> str:
    try:
        return await asyncio.to_thread(get, port)
    except OSError:
        return ""


def early(state: DeploymentState) -> bool:
    """A device's report of a new version serving, made before the old version is stopped."""
    return state.message.endswith("; stopping the previous version")


async def state_of(control: FleetControl, device: str, deployment: str) -> DeploymentState | None:
    found = await control.bus.bucket(STATE).get(f"{device}.{deployment}")
    return None if found is None or found.value is None else DeploymentState.from_bytes(found.value)


def resolve(host: ContainerHost, name: str) -> list[str]:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = host.dnsmasq.port
    return [r.to_text() for r in resolver.resolve(name, "A")]


class AppDevices:
    """``dev-app`` runs on a ContainerHost (applications allowed); ``dev-plain`` on bare podman (containers only)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.host = ContainerHost.isolated(tmp / "dev-app", dns_port=free_port(), name="dev-app")
        self.plain: Podman = podman_in(tmp / "podman-plain")
        self.agents: list[DeviceAgent] = []
        self.settings = SETTINGS

    async def enroll_and_start(self, control: FleetControl, home: FleetHome, server: FleetNatsServer) -> None:
        """Both devices registered and let in, ``IMAGE`` (serving "fleet site v1") in their stores, agents up."""
        for device in ("dev-app", "dev-plain"):
            await control.register(device, {"site": "lab", "name": device})
            home.add_device(device)
        await server.reload()
        archive = self.tmp / "fleetsite.tar"
        archive.write_bytes(busybox_rootfs_tar(busybox_binary(), {"www/index.html": "fleet site v1\n"}))
        await self.start(home, server, archive)

    async def start(self, home: FleetHome, server: FleetNatsServer, archive: Path) -> None:
        await self.host.ensure_ready()
        for runtime in (self.host, self.plain):  # the image reaches devices offline, as an imported archive
            await runtime.import_image(PurePosixPath(archive), IMAGE)
        self.agents = [
            DeviceAgent(
                device="dev-app", options=bus_options(home.add_device("dev-app"), [server.url]),
                runtime=self.host, applications=self.host, settings=self.settings,
            ),
            DeviceAgent(
                device="dev-plain", options=bus_options(home.add_device("dev-plain"), [server.url]),
                runtime=self.plain, settings=self.settings,
            ),
        ]  # fmt: skip
        for agent in self.agents:
            await agent.start()


@pytest.fixture
async def app_devices(tmp_path: Path) -> AsyncIterator[AppDevices]:
    devices = AppDevices(tmp_path)
    try:
        yield devices
    finally:
        for agent in devices.agents:
            await agent.stop()
        await devices.host.stop_services()
        wipe(devices.host.podman)
        wipe(devices.plain)


async def test_an_application_rolls_out_to_a_device_serves_through_its_load_balancer_and_redeploys_as_noop(
    app_devices: AppDevices,
    fleet_home: FleetHome,
    fleet_server: FleetNatsServer,
    fleet_control: FleetControl,
) -> None:
    control = fleet_control
    await app_devices.enroll_and_start(control, fleet_home, fleet_server)
    host = app_devices.host
    lb_port = free_port()

    rollout = await control.deploy("site", site(lb_port), selector={"name": "dev-app"}, strategy=ALL_AT_ONCE)
    done = await control.drive("site")
    assert done.phase == "done", done.reason
    status = await control.status("site")
    assert (status.targeted, status.updated, status.healthy, status.failed) == (1, 1, 1, 0)
    state = await state_of(control, "dev-app", "site")
    assert state is not None and state.version == rollout.version and state.phase == "running"
    assert "serving at http://site.fleet.test" in state.message  # the apply passed its smoke check
    assert get(lb_port) == "fleet site v1\n"  # through the device's HAProxy
    assert resolve(host, "site.fleet.test") == ["127.0.0.1"]  # and the device's dnsmasq
    before = sorted(c.id for c in await host.list_containers({APP_LABEL: "site"}))
    assert len(before) == 1

    # The same version deployed again is a NOOP on the device: nothing replaced, still serving.
    await control.deploy("site", site(lb_port), selector={"name": "dev-app"}, strategy=ALL_AT_ONCE)
    again = await control.drive("site")
    assert again.phase == "done", again.reason
    agent = app_devices.agents[0]

    async def on_device() -> str:  # the device's own last reconcile (a running state is reported once)
        return agent.deployments["site"].state.message

    assert await until(on_device, lambda m: m == "already serving", timeout=10) == "already serving"
    assert (await control.status("site")).healthy == 1
    assert sorted(c.id for c in await host.list_containers({APP_LABEL: "site"})) == before
    assert get(lb_port) == "fleet site v1\n"

    # A container removed by hand: the next ground-truth check redeploys it, smoke-gated, behind the load balancer.
    await host.remove_container((await host.list_containers({APP_LABEL: "site"}))[0].name, grace=0)
    back = await until(lambda: _serving(lb_port), lambda body: body == "fleet site v1\n", timeout=30)
    assert back == "fleet site v1\n"

    # Commands reach the application's container; undeploy removes its containers, frontend and DNS name.
    assert isinstance(await control.logs("dev-app", "site", lines=5), list)
    await control.undeploy("site")
    gone = await until(lambda: state_of(control, "dev-app", "site"), lambda s: s is not None and s.phase == "removed")
    assert gone is not None and gone.phase == "removed"
    assert await host.list_containers({APP_LABEL: "site"}) == [] and await host.list_pods() == []
    assert [f.name for f in await host.frontends()] == [] and await host.dns_record_sets() == []

    # A device whose topology has no load balancer or DNS rejects the application, saying why.
    await control.deploy("site-plain", site(free_port()), selector={"name": "dev-plain"}, strategy=ALL_AT_ONCE)
    refused = await control.drive("site-plain")
    assert refused.phase == "halted", refused.reason
    rejected = await state_of(control, "dev-plain", "site-plain")
    assert rejected is not None and rejected.phase == "rejected"
    assert "needs a load balancer and DNS" in rejected.message and "runs: container" in rejected.message
    assert await app_devices.plain.list_containers({APP_LABEL: "site"}) == []


async def test_a_replaced_version_keeps_running_for_the_scale_down_delay_and_a_rollback_within_it_starts_nothing(
    app_devices: AppDevices,
    tmp_path: Path,
    fleet_home: FleetHome,
    fleet_server: FleetNatsServer,
    fleet_control: FleetControl,
) -> None:
    app_devices.settings = dataclasses.replace(SETTINGS, scale_down_delay=15.0)
    control = fleet_control
    await app_devices.enroll_and_start(control, fleet_home, fleet_server)
    host = app_devices.host
    lb_port = free_port()
    first = await control.deploy("site", site(lb_port), selector={"name": "dev-app"}, strategy=ALL_AT_ONCE)
    assert (await control.drive("site")).phase == "done"
    (v1,) = await host.list_containers({APP_LABEL: "site"})
    second = tmp_path / "fleetsite-2.tar"
    second.write_bytes(busybox_rootfs_tar(busybox_binary(), {"www/index.html": "fleet site v2\n"}))
    await host.import_image(PurePosixPath(second), IMAGE_2)

    rollout = await control.deploy(
        "site", site(lb_port).model_copy(update={"image": IMAGE_2}), selector={"name": "dev-app"}, strategy=ALL_AT_ONCE
    )
    assert (await control.drive("site")).phase == "done"
    state = await state_of(control, "dev-app", "site")
    assert state is not None and state.version == rollout.version and state.phase == "running"
    assert "; the previous version keeps running 15s" in state.message, state
    assert get(lb_port) == "fleet site v2\n"
    await asyncio.sleep(1.5)  # a drift check (every second here) within the delay leaves the old version alone
    running = {c.name: c for c in await host.list_containers({APP_LABEL: "site"}) if c.running}
    assert v1.name in running and len(running) == 2, running
    (v2,) = [c for c in running.values() if c.name != v1.name]

    # Back to the first version within the delay: its container, still running, takes the traffic back.
    await control.deploy("site", site(lb_port), selector={"name": "dev-app"}, strategy=ALL_AT_ONCE)
    assert (await control.drive("site")).phase == "done"
    assert get(lb_port) == "fleet site v1\n"
    now = {c.name: c.id for c in await host.list_containers({APP_LABEL: "site"})}
    assert now == {v1.name: v1.id, v2.name: v2.id}, now  # nothing started, nothing stopped yet

    # When the delay is over, the version replaced last stops, and the device says so.
    told = await until(
        lambda: state_of(control, "dev-app", "site"),
        lambda s: s is not None and s.version == first.version and "keeps running" not in s.message,
        timeout=40,
    )
    assert told is not None and told.phase == "running" and "serving at http://site.fleet.test" in told.message, told
    assert [c.id for c in await host.list_containers({APP_LABEL: "site"})] == [v1.id]
    assert get(lb_port) == "fleet site v1\n"


async def test_a_device_that_cannot_stop_the_old_version_reports_the_new_one_serving_then_the_failure_then_recovers(
    app_devices: AppDevices,
    tmp_path: Path,
    fleet_home: FleetHome,
    fleet_server: FleetNatsServer,
    fleet_control: FleetControl,
) -> None:
    control = fleet_control
    await app_devices.enroll_and_start(control, fleet_home, fleet_server)
    host = app_devices.host
    lb_port = free_port()
    await control.deploy("site", site(lb_port), selector={"name": "dev-app"}, strategy=ALL_AT_ONCE)
    assert (await control.drive("site")).phase == "done"
    (old,) = await host.list_containers({APP_LABEL: "site"})

    second = tmp_path / "fleetsite-2.tar"
    second.write_bytes(busybox_rootfs_tar(busybox_binary(), {"www/index.html": "fleet site v2\n"}))
    await host.import_image(PurePosixPath(second), IMAGE_2)
    heard: list[tuple[str, str]] = []

    async def reported() -> DeploymentState | None:
        state = await state_of(control, "dev-app", "site")
        if state is not None and state.version == rollout.version and (state.phase, state.message) not in heard:
            heard.append((state.phase, state.message))
        return state

    rollout = await control.deploy(
        "site", site(lb_port).model_copy(update={"image": IMAGE_2}), selector={"name": "dev-app"}, strategy=ALL_AT_ONCE
    )
    driving = asyncio.ensure_future(control.drive("site"))
    with debug_container(host.podman, old, IMAGE.qualified):
        stuck = await until(reported, lambda s: s is not None and s.version == rollout.version and s.phase == "failed")
        assert stuck is not None and stuck.phase == "failed", heard
        assert "serving at http://site.fleet.test" in stuck.message, stuck
        assert "but the previous version could not be stopped" in stuck.message, stuck
        assert any(d.startswith(f"{old.name}: ") and "dependent containers" in d for d in stuck.details), stuck
        assert get(lb_port) == "fleet site v2\n"
    # The next ground-truth pass stops the old version, and the device says it is running again (its report made
    # before it stops the old version comes first: the one after it is awaited).
    fixed = await until(
        reported, lambda s: s is not None and s.version == rollout.version and s.phase == "running" and not early(s)
    )
    assert fixed is not None and fixed.phase == "running", heard
    assert old.name not in {c.name for c in await host.list_containers({APP_LABEL: "site"})}
    assert get(lb_port) == "fleet site v2\n"
    # The rollout went on: the device served the new version (its first report), whatever its clean-up did.
    assert (await driving).phase == "done"
