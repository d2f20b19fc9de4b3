"""``harmony fleet register`` returns once the fleet's server lets the new device in (real nats-server).

The server rereads its authorization after a change (``harmony fleet server`` checks once a second); an agent
that connects before that is refused and stops. So ``register`` waits for the server to take the device's
credentials, and says so when it never does (no ``harmony fleet server`` on that home).
"""

from __future__ import annotations

from harmony.cli.fleet import _taken  # pyright: ignore[reportPrivateUsage]  # the wait itself, without its 10 s
from harmony.fleet.credentials import FleetHome
from harmony.infra.nats import FleetNatsServer


async def test_a_new_device_is_taken_only_once_the_server_has_reread_its_authorization(
    fleet_home: FleetHome, fleet_server: FleetNatsServer
) -> None:
    identity = fleet_home.add_device("late-pi").model_copy(update={"servers": (fleet_server.url,)})
    assert not await _taken(identity, within=0.5), "not reloaded yet: the server refuses the device"
    await fleet_server.reload()
    assert await _taken(identity, within=5.0)
