"""``harmony fleet enroll`` over SSH on three lab hosts, and ``revoke`` refused by a real nats-server.

The fleet's NATS listens on this machine's side of the lab links; a small task rereads its authorization
when the fleet home changes it, as ``harmony fleet server`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from datetime import timedelta
from pathlib import Path, PurePosixPath

import pytest

from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef
from harmony.domain.capabilities.services import ServiceSpec
from harmony.domain.errors import KeyValueAuthError
from harmony.fleet.control import FleetControl
from harmony.fleet.credentials import FleetHome
from harmony.fleet.enroll import device_options, enroll, revoke
from harmony.fleet.enrollments import HostAccess
from harmony.fleet.install import SERVICE, AgentLayout
from harmony.fleet.rollout import Strategy
from harmony.infra.daemon import ConnectorServices
from harmony.infra.nats import FleetNatsServer, NatsConnection
from harmony.infra.podman import Podman
from harmony.infra.pyinstaller import AgentBinary
from harmony.modules.agent.binary import AgentBinary as AgentBinaryScore
from harmony.modules.application.container import Container
from harmony.modules.application.rootfs import busybox_rootfs_tar
from harmony.testing.ssh_lab import SshLab
from tests.fixtures.podman import busybox_binary, wipe_store
from tests.fixtures.ssh_hosts import lab_hosts

pytestmark = pytest.mark.slow


@contextlib.asynccontextmanager
async def reloading(server: FleetNatsServer, home: FleetHome) -> AsyncGenerator[None]:
    """Reread the authorization whenever the fleet home rewrites it (what ``fleet server`` does)."""

    async def watch() -> None:
        seen = home.auth_file.stat().st_mtime_ns
        while True:
            await asyncio.sleep(0.2)
            now = home.auth_file.stat().st_mtime_ns
            if now != seen:
                seen = now
                await server.reload()

    task = asyncio.create_task(watch())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


IMAGE = ImageRef("localhost/enroll-sleeper:1")


def sleeper() -> Container:
    spec = ContainerSpec(
        name=ContainerName("sleeper"), image=IMAGE, command=("sh", "-c", "sleep 3600"), network="none", restart="no"
    )
    return Container(spec=spec, stop_grace=timedelta(seconds=1))


async def beats_of(control: FleetControl, device: str) -> int:
    view = await control.live_view()
    return view.beats[device][0].seq if device in view.beats else 0


async def test_enroll_three_hosts_enroll_again_noop_then_revoke_one(
    agent_binary: AgentBinary,
    ssh_lab: SshLab,
    fleet_home: FleetHome,
    lab_nats: FleetNatsServer,
    lab_control: FleetControl,
    tmp_path: Path,
) -> None:
    binary = AgentBinaryScore.of(agent_binary.path)
    layout = AgentLayout(heartbeat_interval=0.5)
    devices = [f"enr-{i}-{ssh_lab.token}" for i in range(len(ssh_lab.hosts))]
    accesses = [HostAccess(address=h.address, key=ssh_lab.key, known_hosts=ssh_lab.known_hosts) for h in ssh_lab.hosts]
    async with reloading(lab_nats, fleet_home):
        try:
            first = await asyncio.gather(
                *(
                    enroll(
                        fleet_home,
                        lab_control,
                        access,
                        device=d,
                        binary=binary,
                        labels={"site": "lab"},
                        servers=[lab_nats.url],
                        layout=layout,
                    )
                    for access, d in zip(accesses, devices, strict=True)
                )
            )
            assert all(e.changed for e in first)
            view = await lab_control.live_view()
            assert set(devices) <= set(view.beats)
            assert {r.device for r in await lab_control.devices()} >= set(devices)

            again = await asyncio.gather(
                *(
                    enroll(
                        fleet_home,
                        lab_control,
                        access,
                        device=d,
                        binary=binary,
                        labels={"site": "lab"},
                        servers=[lab_nats.url],
                        layout=layout,
                    )
                    for access, d in zip(accesses, devices, strict=True)
                )
            )
            assert not any(e.changed for e in again), [e.report.results for e in again]

            # a Container Score rolls out to the three through their binary agents, in staged waves
            tar = tmp_path / "busybox.tar"
            tar.write_bytes(busybox_rootfs_tar(busybox_binary(), {}))
            for host in lab_hosts(ssh_lab):
                await host.ensure_ready()
                store = Podman.isolated(layout.store, connector=host.connector)
                await store.import_image(PurePosixPath(tar), IMAGE)
                await host.close()
            staged = Strategy(canary=0.3, waves=2, wave_timeout=120)
            await lab_control.deploy("sleeper", sleeper(), selector={"site": "lab"}, strategy=staged)
            done = await lab_control.drive("sleeper")
            assert done.phase == "done", done
            status = await lab_control.status("sleeper", fresh=True)
            assert {d.device for d in status.devices if d.phase == "running"} == set(devices), status

            revoked, kept = devices[2], devices[:2]
            identity = fleet_home.add_device(revoked, rewrite_auth=False).model_copy(
                update={"servers": (lab_nats.url,)}
            )
            done = await revoke(fleet_home, lab_control, revoked)
            assert done.cleaned, done.sentence()  # its agent is stopped and removed from its host
            refused = False
            for _ in range(100):  # until the server has reread its authorization
                try:
                    bus = await NatsConnection.connect(device_options(identity))
                except KeyValueAuthError:
                    refused = True
                    break
                await bus.close()
                await asyncio.sleep(0.2)
            assert refused
            assert revoked not in {r.device for r in await lab_control.devices()}
            marks = {d: await beats_of(lab_control, d) for d in kept}
            for _ in range(200):
                if all([await beats_of(lab_control, d) > marks[d] for d in kept]):
                    break
                await asyncio.sleep(0.1)
            assert all([await beats_of(lab_control, d) > marks[d] for d in kept])  # the others keep working
        finally:
            for host in lab_hosts(ssh_lab):
                await host.ensure_ready()
                with contextlib.suppress(Exception):  # teardown: remove what the rollout started
                    await wipe_store(Podman.isolated(layout.store, connector=host.connector))
                services = ConnectorServices(host.connector)
                spec = ServiceSpec(name=SERVICE, argv=(str(layout.binary),))  # the pid file depends on the name only
                await (await services.daemons()).stop(services.daemon(spec))
                await host.close()
