# pyright: reportUnknownMemberType=false
# (nats-py declares `**options` without types; every call here passes typed values)
"""`SitesTopology.reconfigure`, live: a device added after the servers started can connect; one already
connected keeps its connection and keeps working (the reload is a SIGHUP, not a restart).

Real servers: the hub of three and the site "north", tenant ``acme`` as an account with NKey users. Devices are
bare nats-py connections with the fleet's per-device permissions (what the device agent uses), each writing its
heartbeat at the site; the tenant's operator sees both at the hub through the site's view.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import nats
import nats.errors
import pytest
from nats.aio.client import Client

from harmony.domain.values import Port
from harmony.fleet.tenants import TenantsHome
from harmony.infra.nats.sites import view_stream, view_subject
from harmony.topology.sites import SiteSpec, SitesTopology, sites_spec
from tests.fixtures.ports import free_port
from tests.fixtures.sites import until

pytestmark = pytest.mark.slow

TENANT = "acme"


@pytest.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[tuple[SitesTopology, TenantsHome]]:
    home = TenantsHome(tmp_path / "tenants")
    home.add_tenant(TENANT)
    home.add_device(TENANT, "dev-a")
    spec = sites_spec(
        [(free_port(), free_port(), free_port()) for _ in range(3)], [SiteSpec(name="north", port=Port(free_port()))]
    )
    topology = SitesTopology(spec, tmp_path / "sites", accounts=home.plan())
    try:
        await topology.ensure_ready()
        yield topology, home
    finally:
        await topology.close()


async def device(topology: SitesTopology, home: TenantsHome, name: str) -> Client:
    return await nats.connect(
        topology.spec.site_url("north"), name=name, nkeys_seed=str(home.device_seed(TENANT, name)),
        inbox_prefix=f"_INBOX_{name}", connect_timeout=2, max_reconnect_attempts=0, allow_reconnect=False,
    )  # fmt: skip


async def beat(nc: Client, name: str, value: bytes) -> int:
    """The device's heartbeat written at its site: the stream's acknowledgement (its sequence)."""
    js = nc.jetstream(timeout=5)
    return (await js.publish(f"$KV.fleet_heartbeat.{name}", value)).seq


async def test_a_device_added_after_start_connects_and_the_connected_one_keeps_working(
    fleet: tuple[SitesTopology, TenantsHome],
) -> None:
    topology, home = fleet
    dev_a = await device(topology, home, "dev-a")
    try:
        assert await beat(dev_a, "dev-a", b"a1") > 0
        home.add_device(TENANT, "dev-b")  # its seed exists, the servers do not know it yet
        with pytest.raises((nats.errors.Error, OSError, TimeoutError)):
            await device(topology, home, "dev-b")

        await topology.reconfigure(home.plan())

        dev_b = await device(topology, home, "dev-b")
        try:
            assert await beat(dev_b, "dev-b", b"b1") > 0
            assert await beat(dev_a, "dev-a", b"a2") > 0  # the same connection: never dropped, never redone
            assert dev_a.is_connected and dev_a.stats["reconnects"] == 0
            with pytest.raises((nats.errors.Error, TimeoutError)):  # still confined to its own keys
                await beat(dev_b, "dev-a", b"forged")
        finally:
            await dev_b.close()
    finally:
        await dev_a.close()

    operator = await topology.connect_hub(nkey_seed=home.operator_seed(TENANT))
    try:
        subjects = view_subject("north", "fleet_heartbeat")
        seen = await until(
            lambda: operator.last_values(view_stream("north"), subjects), lambda v: len(v) == 2, timeout=60
        )
    finally:
        await operator.close()
    assert {k: v.value for k, v in seen.items()} == {
        view_subject("north", "fleet_heartbeat", "dev-a"): b"a2",
        view_subject("north", "fleet_heartbeat", "dev-b"): b"b1",
    }
