"""Agent upgrades on three SSH lab hosts enrolled with the one-file binary, against a real nats-server.

- Upgrade to a good release: every device runs it, and the workload is untouched (the container's id and
  start time are the same before and after). The good release is the same binary re-signed under a new
  version (the version is carried by the release record): a second PyInstaller build costs minutes.
- Upgrade to a broken release — a file that exits at once, then one that hangs without heartbeats (genuinely
  different files, signed with the fleet key): the canary device rolls back by itself, the rollout halts with
  the device and the reason, the other devices never get it, and every device still has a running agent that
  heartbeats, on the good release, with its container untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path, PurePosixPath

import pytest

from harmony.domain.capabilities.services import ServiceSpec
from harmony.fleet.agent_release import AGENT_DEPLOYMENT
from harmony.fleet.agent_rollout import publish_release, roll_out_release
from harmony.fleet.control import FleetControl
from harmony.fleet.credentials import FleetHome
from harmony.fleet.enroll import enroll
from harmony.fleet.enrollments import HostAccess
from harmony.fleet.install import SERVICE, AgentLayout
from harmony.fleet.records import HEARTBEAT, STATE, DeploymentState
from harmony.fleet.rollout import Strategy
from harmony.infra.daemon import ConnectorServices
from harmony.infra.nats import FleetNatsServer
from harmony.infra.podman import Podman
from harmony.infra.pyinstaller import AgentBinary
from harmony.modules.agent.binary import AgentBinary as AgentBinaryScore
from harmony.modules.agent.binary import remote_sha256
from harmony.modules.application.rootfs import busybox_rootfs_tar
from harmony.testing.ssh_lab import SshLab
from harmony.topology.agent_host import StoreHeartbeats
from harmony.topology.linux_host import LinuxHost
from tests.fixtures.podman import busybox_binary, wipe_store
from tests.fixtures.ssh_hosts import lab_hosts
from tests.fleet.test_agent_enroll import IMAGE, reloading, sleeper

pytestmark = pytest.mark.slow

CANARY = Strategy(canary=0.3, waves=2, wave_timeout=180)


async def container_stamp(host: LinuxHost, layout: AgentLayout) -> str:
    """The sleeper container's id and start time on ``host``."""
    await host.ensure_ready()
    store = Podman.isolated(layout.store, connector=host.connector)
    found = await host.connector.run_command(
        store.argv("inspect", "--format", "{{.Id}} {{.State.StartedAt}}", "sleeper"), timeout=60
    )
    assert found.ok, found.stderr
    return found.stdout.strip()


async def agent_state(control: FleetControl, device: str) -> DeploymentState | None:
    found = await control.bus.bucket(STATE).get(f"{device}.{AGENT_DEPLOYMENT}")
    return None if found is None else DeploymentState.from_bytes(found.value)


async def test_upgrade_good_then_broken_releases_on_lab_hosts(
    agent_binary: AgentBinary,
    ssh_lab: SshLab,
    fleet_home: FleetHome,
    lab_nats: FleetNatsServer,
    lab_control: FleetControl,
    tmp_path: Path,
) -> None:
    layout = AgentLayout(heartbeat_interval=0.5, trial_deadline=30.0)
    devices = [f"upg-{i}-{ssh_lab.token}" for i in range(len(ssh_lab.hosts))]
    hosts = lab_hosts(ssh_lab)
    accesses = [HostAccess(address=h.address, key=ssh_lab.key, known_hosts=ssh_lab.known_hosts) for h in ssh_lab.hosts]
    binary = AgentBinaryScore.of(agent_binary.path)
    beats = StoreHeartbeats(lab_control.bus.bucket(HEARTBEAT))
    async with reloading(lab_nats, fleet_home):
        try:
            await asyncio.gather(
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
            tar = tmp_path / "busybox.tar"
            tar.write_bytes(busybox_rootfs_tar(busybox_binary(), {}))
            for host in hosts:
                await host.ensure_ready()
                await Podman.isolated(layout.store, connector=host.connector).import_image(PurePosixPath(tar), IMAGE)
            await lab_control.deploy("sleeper", sleeper(), selector={"site": "lab"}, strategy=Strategy())
            assert (await lab_control.drive("sleeper")).phase == "done"
            stamps = [await container_stamp(h, layout) for h in hosts]

            # a good release: the same build, re-signed as 2.0.0
            good = await publish_release(lab_control, fleet_home.path, version="2.0.0", binary=agent_binary.path)
            await roll_out_release(lab_control, good, selector={"site": "lab"}, strategy=CANARY)
            final = await lab_control.drive(AGENT_DEPLOYMENT)
            assert final.phase == "done", final
            status = await lab_control.status(AGENT_DEPLOYMENT)
            assert {(d.device, d.phase, d.agent) for d in status.devices} == {
                (d, "running", "2.0.0") for d in devices
            }, status
            assert [await container_stamp(h, layout) for h in hosts] == stamps  # workloads untouched

            # broken releases: each rolls back on the canary by itself and halts the rollout
            for version, body, why in (
                ("3.0.0-exits", "exit 1", "exited with status 1"),
                ("3.0.1-hangs", "exec sleep 3600", "sent no heartbeat within 30s"),
            ):
                broken = tmp_path / version
                broken.write_text(f"#!/bin/sh\n{body}\n")
                broken.chmod(0o755)
                release = await publish_release(lab_control, fleet_home.path, version=version, binary=broken)
                rollout = await roll_out_release(lab_control, release, selector={"site": "lab"}, strategy=CANARY)
                (canary,), *later = rollout.waves
                final = await lab_control.drive(AGENT_DEPLOYMENT)
                assert final.phase == "halted" and canary in final.reason, final
                state = await agent_state(lab_control, canary)
                assert state is not None and (state.version, state.phase) == (version, "failed"), state
                assert state.message.startswith("rolled-back:") and why in state.message, state.message
                for device in (d for wave in later for d in wave):
                    found = await agent_state(lab_control, device)
                    assert found is not None and found.version == "2.0.0", found  # never given the broken one
                for host, device in zip(hosts, devices, strict=True):  # everyone runs an agent, the good one
                    mark = await beats.heartbeat_mark(device)
                    assert await beats.wait_heartbeat(device, after=mark, timeout=60), device
                    await host.ensure_ready()
                    assert await remote_sha256(host, layout.binary) == agent_binary.sha256
            status = await lab_control.status(AGENT_DEPLOYMENT)
            assert {d.agent for d in status.devices} == {"2.0.0"}, status
            assert [await container_stamp(h, layout) for h in hosts] == stamps
        finally:
            for host in lab_hosts(ssh_lab):
                await host.ensure_ready()
                with contextlib.suppress(Exception):  # teardown: remove what the rollout started
                    await wipe_store(Podman.isolated(layout.store, connector=host.connector))
                services = ConnectorServices(host.connector)
                spec = ServiceSpec(name=SERVICE, argv=(str(layout.binary),))  # the pid file depends on the name only
                await (await services.daemons()).stop(services.daemon(spec))
                await host.close()
