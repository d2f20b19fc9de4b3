"""Pause, resume and abort on the rollout record, with real podman device agents and a real nats-server."""

from __future__ import annotations

import pytest

from harmony.domain.capabilities.containers import EnvName
from harmony.domain.errors import InvalidValueError
from harmony.domain.secret import Secret
from harmony.fleet.control import FleetControl
from harmony.fleet.credentials import FleetHome
from harmony.fleet.records import DESIRED, ROLLOUTS
from harmony.fleet.rollout import Strategy
from harmony.infra.nats import FleetNatsServer
from tests.fleet.test_fleet_devices import (  # noqa: F401 - the fixture is used by name
    Devices,
    devices,  # pyright: ignore[reportUnusedImport]  # a pytest fixture, used by name
    until,
    web,
)

STAGED = Strategy(canary=0.5, waves=1, wave_timeout=60)


async def test_pause_resume_abort(
    devices: Devices,  # noqa: F811 - the fixture
    fleet_home: FleetHome,
    fleet_server: FleetNatsServer,
    fleet_control: FleetControl,
) -> None:
    control = fleet_control
    for device in ("dev-a", "dev-b"):
        await control.register(device, {"site": "lab"})
        fleet_home.add_device(device)
    await fleet_server.reload()
    for device in ("dev-a", "dev-b"):
        await devices.provision(device)
        await devices.start(device)

    rollout = await control.deploy("web", web("v1", None), selector={"site": "lab"}, strategy=STAGED)
    assert rollout.waves == (("dev-a",), ("dev-b",))
    paused = await control.pause("web")
    assert paused.phase == "paused"
    assert (await control.drive("web")).phase == "paused"  # a paused rollout releases nothing
    assert await control.bus.bucket(DESIRED).snapshot() == {}

    assert (await control.resume("web")).phase == "running"
    done = await control.drive("web")
    assert done.phase == "done", done.reason
    status = await control.status("web")
    assert (status.healthy, status.failed) == (2, 0)

    await control.deploy("web", web("v2", None), selector={"site": "lab"}, strategy=STAGED)
    aborted = await control.abort("web")
    assert aborted.phase == "aborted"
    assert (await control.drive("web")).phase == "aborted"
    desired = await control.bus.bucket(DESIRED).snapshot()
    assert {k: v.value for k, v in desired.items()} == {
        "dev-a.web": done.desired.encode(),
        "dev-b.web": done.desired.encode(),
    }  # roll forward only: nothing of v2 went out, nothing was rolled back
    with pytest.raises(InvalidValueError, match="aborted"):
        await control.resume("web")

    await control.undeploy("web")
    for device in ("dev-a", "dev-b"):
        gone = await until(lambda d=device: devices.runtimes[d].inspect_container("web"), lambda c: c is None)
        assert gone is None
    assert await control.bus.bucket(DESIRED).snapshot() == {}


async def test_a_score_holding_a_secret_is_refused_before_anything_is_stored(fleet_control: FleetControl) -> None:
    with_secret = web("v1", None)
    spec = with_secret.spec.model_copy(update={"env": {EnvName("TOKEN"): Secret("t0ken")}})
    with pytest.raises(InvalidValueError, match="cannot carry secrets"):
        await fleet_control.deploy(
            "web", with_secret.model_copy(update={"spec": spec}), selector={"site": "lab"}, strategy=STAGED
        )
    assert await fleet_control.bus.bucket(ROLLOUTS).snapshot() == {}
