"""Per-device credentials on a real nats-server: a device reads only its own desired state and writes only its
own state and heartbeats; the control side reads and writes everything."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from nats.aio.msg import Msg

from harmony.domain.capabilities.key_value import KeyChange
from harmony.domain.errors import KeyValueAuthError, KeyValueError
from harmony.fleet.control import FleetControl
from harmony.fleet.credentials import FleetHome, auth_config, device_identity, device_permissions, release_reads
from harmony.fleet.records import DESIRED, DESIRED_LIVE, HEARTBEAT, STATE
from harmony.infra.nats import FleetNatsServer, NatsConnection
from tests.fixtures.nats_fleet import bus_options


async def collect_raw(msg: Msg) -> None:
    raise AssertionError(f"a device received another device's desired state: {msg.subject}")


async def device_bus(home: FleetHome, server: FleetNatsServer, device: str) -> NatsConnection:
    # a short timeout: a denied request is never answered, so each denial costs one timeout
    options = dataclasses.replace(bus_options(home.add_device(device), [server.url]), timeout=1.0)
    return await NatsConnection.connect(options)


async def test_device_reads_only_its_own_desired_state_and_writes_only_its_own_state(
    fleet_home: FleetHome, fleet_server: FleetNatsServer, fleet_control: FleetControl
) -> None:
    fleet_home.add_device("dev-a")
    fleet_home.add_device("dev-b")
    await fleet_server.reload()
    await fleet_control.bus.bucket(DESIRED).publish("dev-a.web", b'{"for": "a"}')
    await fleet_control.bus.bucket(DESIRED).publish("dev-b.web", b'{"for": "b"}')
    a = await device_bus(fleet_home, fleet_server, "dev-a")
    try:
        seen: list[KeyChange] = []

        async def collect(u: KeyChange) -> None:
            seen.append(u)

        own = await a.bucket(DESIRED).watch("dev-a.>", collect, live=DESIRED_LIVE)  # as the agent watches
        await asyncio.wait_for(own.replayed.wait(), 5)
        assert [(u.key, u.value) for u in seen] == [("dev-a.web", b'{"for": "a"}')]
        # later changes come republished: its own, never another device's
        await fleet_control.bus.bucket(DESIRED).publish("dev-b.web", b'{"for": "b", "v": 2}')
        await fleet_control.bus.bucket(DESIRED).publish("dev-a.web", b'{"for": "a", "v": 2}')
        for _ in range(50):
            if len(seen) == 2:
                break
            await asyncio.sleep(0.1)
        assert [(u.key, u.value) for u in seen] == [
            ("dev-a.web", b'{"for": "a"}'),
            ("dev-a.web", b'{"for": "a", "v": 2}'),
        ]
        await a.subscribe(f"{DESIRED_LIVE}.dev-b.>", collect_raw)
        await a.flush()
        for _ in range(50):
            if any(f"{DESIRED_LIVE}.dev-b" in e for e in a.server_errors):
                break
            await asyncio.sleep(0.1)
        assert "permissions violation" in a.server_errors[-1].lower() and "dev-b" in a.server_errors[-1]

        with pytest.raises(KeyValueError):
            await a.bucket(DESIRED).watch("dev-b.>", collect)
        assert "permissions violation" in a.server_errors[-1].lower()  # refused by the server, not just slow
        assert "dev-b" in a.server_errors[-1]
        with pytest.raises(KeyValueError):
            await a.bucket(DESIRED).watch(">", collect)
        with pytest.raises(KeyValueError):
            await a.bucket(DESIRED).get("dev-b.web")

        await a.bucket(STATE).publish("dev-a.web", b"{}")
        with pytest.raises(KeyValueError):
            await a.bucket(STATE).publish("dev-b.web", b'{"forged": true}')
        assert "permissions violation" in a.server_errors[-1].lower() and "fleet_state.dev-b" in a.server_errors[-1]
        with pytest.raises(KeyValueError):
            await a.bucket(DESIRED).publish("dev-a.web", b'{"self": "promoted"}')
        await a.bucket(HEARTBEAT).put_nowait("dev-b", b'{"forged": true}')  # fire-and-forget: the server drops it
        await a.flush()
    finally:
        await a.close()
    states = await fleet_control.bus.bucket(STATE).snapshot()
    assert set(states) == {"dev-a.web"}
    assert "dev-b" not in await fleet_control.bus.bucket(HEARTBEAT).snapshot()
    desired = await fleet_control.bus.bucket(DESIRED).get("dev-a.web")
    assert desired is not None and desired.value == b'{"for": "a", "v": 2}'  # the device's publish was refused


async def test_an_unknown_user_cannot_connect(fleet_home: FleetHome, fleet_server: FleetNatsServer) -> None:
    stranger = device_identity("dev-x", [fleet_server.url])  # never registered: not in the server's users
    options = dataclasses.replace(bus_options(stranger, [fleet_server.url]), timeout=1.0)
    for wait_for_server in (False, True):  # a device agent waits for its server, but not for a refusal
        with pytest.raises(KeyValueAuthError) as caught:
            await NatsConnection.connect(options, wait_for_server=wait_for_server)
        assert f"NATS at {fleet_server.url} refused user 'device-dev-x': authorization violation" in str(caught.value)
        assert stranger.password.reveal() not in str(caught.value)


def test_generated_authorization_confines_each_device_to_its_own_subjects() -> None:
    perms = device_permissions("dev-a")
    text = auth_config(device_identity("dev-a", ["nats://h:1"]).model_copy(update={"device": None}), [])
    assert '"jetstream": "enabled"' in text
    publish = perms["publish"]
    assert isinstance(publish, dict)
    own = [s for s in publish["allow"] if s not in release_reads()]  # pyright: ignore[reportUnknownVariableType]
    assert own and all(".dev-a" in subject for subject in own)  # pyright: ignore[reportUnknownVariableType]
    # the agent releases' store: read only (stream info, gets, a consumer), never a publish into it
    assert not [s for s in release_reads() if s.startswith("$O.")]


def test_passwords_are_secrets_in_memory_and_clear_only_in_the_0600_files(fleet_home: FleetHome) -> None:
    identity = fleet_home.add_device("dev-m")
    clear = identity.password.reveal()
    assert len(clear) >= 24
    for text in (repr(identity), str(identity), identity.model_dump_json(), str(identity.model_dump())):
        assert clear not in text
    path = fleet_home.device_file("dev-m")
    assert path.stat().st_mode & 0o777 == 0o600
    assert FleetHome(fleet_home.path).add_device("dev-m").password == identity.password  # read back, not renewed
    assert clear in fleet_home.auth_file.read_text()
    assert fleet_home.auth_file.stat().st_mode & 0o777 == 0o600
    options = bus_options(identity, ["nats://127.0.0.1:4222"])
    assert clear not in repr(options)


async def test_reload_returns_once_the_new_users_are_in_and_a_broken_file_is_refused_loudly(
    fleet_home: FleetHome, fleet_server: FleetNatsServer
) -> None:
    # enough users that rereading them takes longer than the fixed pause reload used to make
    devices = [fleet_home.add_device(f"dev-{i:04d}", rewrite_auth=False) for i in range(2000)]
    fleet_home.write_auth()
    await fleet_server.reload()
    last = await NatsConnection.connect(bus_options(devices[-1], [fleet_server.url]))
    await last.close()

    fleet_home.auth_file.write_text(fleet_home.auth_file.read_text()[:-20])  # cut off: not a configuration
    with pytest.raises(KeyValueError, match="nats-server kept its old configuration: Failed to reload"):
        await fleet_server.reload()
    first = await NatsConnection.connect(bus_options(devices[0], [fleet_server.url]))
    await first.close()
