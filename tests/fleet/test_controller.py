"""``harmony fleet serve``: two real controller processes, real podman device agents, a real nats-server.

The active controller is killed with SIGKILL in the middle of a staged rollout; the other takes the lease
over and finishes it. Every wave is released exactly once (one entry per wave in the record, one write per
device's desired key), and the CLI, seeing a live controller, records a rollout and follows it instead of
driving it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from harmony.domain.capabilities.containers import ContainerHealthCheck, ContainerName, ContainerSpec
from harmony.domain.capabilities.key_value import KeyChange
from harmony.domain.score import score_adapter
from harmony.fleet.control import FleetControl
from harmony.fleet.credentials import FleetHome
from harmony.fleet.lease import LEASE_KEY, Lease
from harmony.fleet.records import CONTROLLER, DESIRED, ROLLOUTS
from harmony.fleet.rollout import Rollout, Strategy
from harmony.infra.nats import FleetNatsServer
from harmony.modules.application.container import Container
from tests.fixtures.fleet_controller import HARMONY, ROOT, Controllers
from tests.fleet.test_fleet_devices import (  # noqa: F401 - the fixture is used by name
    IMAGE,
    Devices,
    devices,  # pyright: ignore[reportUnusedImport]  # a pytest fixture, used by name
    until,
)

DEVICES = ("ctl-a", "ctl-b", "ctl-c", "ctl-d")
FOUR_WAVES = Strategy(canary=0.25, waves=3, wave_timeout=120)


def slow_web(version: str) -> Container:
    """busybox httpd that takes two seconds to come up, so each wave lasts a while."""
    script = f"sleep 2; echo {version} > /tmp/index.html && exec httpd -f -p 8080 -h /tmp"
    return Container(
        spec=ContainerSpec(
            name=ContainerName("slowweb"), image=IMAGE, command=("sh", "-c", script),
            health=ContainerHealthCheck(
                command=("wget", "-q", "-O-", "http://127.0.0.1:8080/"), interval=timedelta(milliseconds=300)
            ),
            restart="no",
        ),
        stop_grace=timedelta(seconds=1),
    )  # fmt: skip


async def lease_of(control: FleetControl) -> Lease | None:
    found = await control.bus.bucket(CONTROLLER).get(LEASE_KEY)
    return Lease.from_bytes(found.value) if found is not None and found.value else None


async def holder(control: FleetControl) -> str:
    lease = await lease_of(control)
    return lease.holder if lease is not None else ""


async def record(control: FleetControl, deployment: str) -> Rollout:
    return (await control.rollout(deployment))[0]


async def wait_for[T](probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], what: str, timeout: float = 60) -> T:
    value = await until(probe, ok, timeout=timeout)
    assert ok(value), f"{what}: last seen {value!r}"
    return value


async def test_controller_failover_mid_rollout_releases_each_wave_once(
    devices: Devices,  # noqa: F811 - the fixture
    controllers: Controllers,
    fleet_home: FleetHome,
    fleet_server: FleetNatsServer,
    fleet_control: FleetControl,
    tmp_path: Path,
) -> None:
    control = fleet_control
    for device in DEVICES:
        await control.register(device, {"site": "lab"})
        fleet_home.add_device(device)
    await fleet_server.reload()
    for device in DEVICES:
        await devices.provision(device)
        await devices.start(device)

    controllers.start("c1")
    await wait_for(lambda: holder(control), lambda h: h == "c1", "c1 takes the lease")
    controllers.start("c2")
    assert await wait_for(control.active_controller, lambda a: a is not None, "c1 answers") == {
        "controller": "c1", "active": True, "term": 1, "dashboard": "",
    }  # fmt: skip

    writes: list[KeyChange] = []  # every write of a desired-state key, in order

    async def on_desired(update: KeyChange) -> None:
        writes.append(update)

    leases: list[KeyChange] = []  # every revision of the lease, with the store's stamp

    async def on_lease(update: KeyChange) -> None:
        leases.append(update)

    watch = await control.bus.bucket(DESIRED).watch(">", on_desired)
    lease_watch = await control.bus.bucket(CONTROLLER).watch(LEASE_KEY, on_lease)
    try:
        rollout = await control.deploy("slow", slow_web("v1"), selector={"site": "lab"}, strategy=FOUR_WAVES)
        assert len(rollout.waves) == 4
        mid = await wait_for(lambda: record(control, "slow"), lambda r: r.next_wave >= 2, "wave 2 released by c1")
        assert mid.phase == "running" and mid.next_wave < 4, f"the rollout went too fast to fail over: {mid}"
        controllers.kill9("c1")

        await wait_for(lambda: holder(control), lambda h: h == "c2", "c2 takes the lease over")
        lease = await lease_of(control)
        assert lease == Lease(holder="c2", term=2)
        last_c1 = max(u.stored_at for u in leases if u.value and Lease.from_bytes(u.value).holder == "c1")
        first_c2 = min(u.stored_at for u in leases if u.value and Lease.from_bytes(u.value).holder == "c2")
        print(f"takeover: {(first_c2 - last_c1).total_seconds():.2f} s after c1's last renewal (store time; lease 2 s)")
        done = await wait_for(lambda: record(control, "slow"), lambda r: r.phase != "running", "rollout finishes", 120)
        assert done.phase == "done", done.reason
    finally:
        for w in (watch, lease_watch):
            await w.stop()
            await w.delete_consumer()

    assert [s.wave for s in done.starts] == [1, 2, 3, 4]  # each wave released once, in order
    by = [s.by for s in done.starts]
    assert by[0] == "c1" and by[-1] == "c2" and set(by) == {"c1", "c2"}, by
    per_key: dict[str, int] = {}
    for update in writes:
        per_key[update.key] = per_key.get(update.key, 0) + 1
    assert per_key == {f"{d}.slow": 1 for d in DEVICES}  # nobody wrote a device's desired state twice
    status = await wait_for(lambda: control.status("slow"), lambda s: s.healthy == 4, "every device healthy")
    assert (status.healthy, status.failed) == (4, 0)
    assert "active:" in controllers.log("c2") and "take" not in controllers.log("c1").lower()

    # The CLI against a served fleet records the rollout and follows it; the controller releases every wave.
    score_file = tmp_path / "v2.json"
    score_file.write_bytes(score_adapter().dump_json(slow_web("v2")))
    deployed = await asyncio.to_thread(
        subprocess.run,
        [HARMONY, "fleet", "deploy", "slow", str(score_file), "-s", "site=lab", "--canary", "0.5", "--json"],
        env=controllers.env, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert json.loads(deployed.stdout)["healthy"] == 4
    v2 = await record(control, "slow")
    assert v2.phase == "done" and [s.by for s in v2.starts] == ["c2", "c2"]

    assert controllers.stop("c2") == 0  # SIGTERM: a clean stop


async def test_a_taken_over_release_is_completed_once(fleet_control: FleetControl) -> None:
    """A driver that died after storing a wave's release but before writing its desired state: the next one
    writes what is missing, and only that."""
    control = fleet_control
    for device in ("x-1", "x-2", "x-3"):
        await control.register(device, {"site": "x"})
    rollout = await control.deploy("half", slow_web("v1"), selector={"site": "x"}, strategy=Strategy(waves=1))
    _, revision = await control.rollout("half")
    released = rollout.model_copy(update={"next_wave": 1})
    await control.bus.bucket(ROLLOUTS).publish("half", released.to_bytes(), expected_revision=revision)
    await control.bus.bucket(DESIRED).publish("x-1.half", rollout.desired.encode())  # the one write it made

    assert await control.ensure_released("half") == 2
    assert await control.ensure_released("half") == 0
    found = await control.bus.bucket(DESIRED).snapshot()
    assert {k: v.value for k, v in found.items()} == {f"x-{i}.half": rollout.desired.encode() for i in (1, 2, 3)}
