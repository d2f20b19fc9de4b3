"""A hub of three nats-servers and three sites, each a leaf node with its own JetStream domain.

Devices run the real device agent on real podman, each connected to its site's leaf node only. The hub rolls
out by site (canary site first). One site is cut off from the hub with nftables inside its namespace: its
device keeps reconciling from the site's bucket, the hub shows the site unreachable since a time, the rollout
finishes the other sites and waits; when the link returns the site receives the new version once, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef
from harmony.domain.score import score_adapter
from harmony.fleet.device_agent import AgentSettings
from harmony.fleet.records import version_of
from harmony.fleet.sites import HubFleet, SiteStrategy
from harmony.infra.nats.sites import outbox_stream
from harmony.modules.application.container import Container
from harmony.topology.sites import SitesTopology
from tests.fixtures.failover_netns import Netns
from tests.fixtures.sites import Devices, cut_site, harmony_json, start_sites, until, until_online

pytestmark = pytest.mark.slow

SITES = ["north", "south", "remote"]  # "remote" runs in a namespace and gets cut off
IMAGE = ImageRef("localhost/sitework:1")
SETTINGS = AgentSettings(heartbeat_interval=0.5, ground_truth_interval=1.0, resync_jitter=0.3, health_timeout=8.0)
OFFLINE_AFTER = 3.0


def work(version: str) -> Container:
    return Container(
        spec=ContainerSpec(
            name=ContainerName("work"), image=IMAGE, command=("sh", "-c", f"echo {version} > /v; exec sleep 3600"),
        )
    )  # fmt: skip


@pytest.fixture
async def remote_ns(failover_netns: Netns) -> Netns:
    return failover_netns


@pytest.fixture
async def topology(tmp_path: Path, remote_ns: Netns) -> AsyncIterator[SitesTopology]:
    topo = await start_sites(tmp_path, SITES, netns={"remote": remote_ns})
    try:
        yield topo
    finally:
        await topo.close()


@pytest.fixture
async def devices(tmp_path: Path, topology: SitesTopology) -> AsyncIterator[Devices]:
    fleet = Devices(tmp_path, topology, IMAGE, SETTINGS)
    try:
        yield fleet
    finally:
        await fleet.close()


@pytest.fixture
async def hub(topology: SitesTopology) -> AsyncIterator[HubFleet]:
    link = await topology.connect_hub()
    try:
        yield await HubFleet.open(link, SITES, offline_after=OFFLINE_AFTER)
    finally:
        await link.close()


async def test_a_cut_off_site_keeps_running_and_catches_up_once_in_order(
    topology: SitesTopology, devices: Devices, hub: HubFleet, remote_ns: Netns
) -> None:
    for site in SITES:
        await devices.start(f"dev-{site}", site)
        await hub.register(f"dev-{site}", site, {"role": "worker"})
    await until_online(hub, [f"dev-{site}" for site in SITES])
    strategy = SiteStrategy(canary="north", sites_per_wave=1)

    # v1 everywhere, the canary site first
    v1 = await hub.deploy("work", work("v1"), selector={"role": "worker"}, strategy=strategy)
    assert v1.site_waves == (("north",), ("south",), ("remote",))
    done = await asyncio.wait_for(hub.drive("work"), 90)
    assert done.phase == "done", done.reason
    view = await hub.view()
    assert {d: s.version for d, s in view.states["work"].items()} == {f"dev-{s}": v1.version for s in SITES}
    assert all(s.phase == "running" for s in view.states["work"].values())
    for site in SITES:  # each site's buckets hold its own devices only: no write crosses to another site
        link = await topology.connect_site(site)
        try:
            keys = set(await link.last_values("KV_fleet_state", "$KV.fleet_state.>"))
            keys |= set(await link.last_values("KV_fleet_heartbeat", "$KV.fleet_heartbeat.>"))
        finally:
            await link.close()
        assert keys == {f"$KV.fleet_state.dev-{site}.work", f"$KV.fleet_heartbeat.dev-{site}"}
    statuses = {s.site: s for s in await hub.site_status()}
    assert all(s.reachable and s.online == 1 for s in statuses.values()), statuses

    # cut the remote site off: the hub shows it unreachable since the last time it heard from it
    heard_before = statuses["remote"].last_heard
    assert heard_before is not None
    cut_site(topology, remote_ns)
    statuses_list = await until(
        hub.site_status, lambda ss: any(s.site == "remote" and not s.reachable and s.online == 0 for s in ss)
    )
    remote = {s.site: s for s in statuses_list}["remote"]
    assert not remote.reachable and remote.unreachable_since is not None
    assert remote.unreachable_since <= datetime.now(UTC)
    assert remote.unreachable_since >= heard_before  # it was heard up to the cut, not since
    assert {s.site for s in statuses_list if s.reachable} == {"north", "south"}
    shown = await harmony_json("fleet", "sites", *(a for u in topology.spec.hub_urls for a in ("--hub", u)))
    by_site = {row["site"]: row for row in shown}
    assert by_site["remote"]["reachable"] is False and by_site["remote"]["unreachable_since"] is not None
    assert by_site["north"]["reachable"] is True and by_site["north"]["unreachable_since"] is None

    # the site runs on its own: a container removed by hand comes back from the site's bucket
    runtime = devices.runtimes["dev-remote"]
    await runtime.remove_container("work", grace=0)
    back = await until(lambda: runtime.inspect_container("work"), lambda c: c is not None and c.state == "running")
    assert back is not None and back.state == "running"

    # v2 from the hub: the reachable sites finish, the rollout waits for the cut-off one
    v2 = await hub.deploy("work", work("v2"), selector={"role": "worker"}, strategy=strategy)
    reasons: list[str] = []
    driving = asyncio.create_task(hub.drive("work", on_progress=lambda _s, why: reasons.append(why)))
    try:
        await until(
            lambda: asyncio.sleep(0, reasons), lambda r: any("waiting for site(s) remote" in x for x in r), timeout=120
        )
        assert any("unreachable since" in x for x in reasons), reasons[-3:]
        view = await hub.view()
        assert view.states["work"]["dev-north"].version == v2.version
        assert view.states["work"]["dev-south"].version == v2.version
        assert not driving.done()
        remote_state = await until(
            lambda: asyncio.sleep(0, devices.state("dev-remote", "work")),
            lambda s: s is not None and s.phase == "running",
        )
        assert remote_state is not None and remote_state.version == v1.version and remote_state.phase == "running"

        # the link returns: the site gets v2 and the rollout is done
        remote_ns.heal()
        final = await asyncio.wait_for(driving, 90)
    finally:
        if not driving.done():
            driving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await driving
    assert final.phase == "done", final.reason
    remote_state = await until(
        lambda: asyncio.sleep(0, devices.state("dev-remote", "work")), lambda s: s is not None and s.phase == "running"
    )
    assert remote_state is not None and remote_state.version == v2.version and remote_state.phase == "running"

    # never twice, in order: the site's bucket received v1 then v2 for this key, nothing else
    link = await topology.connect_site("remote")
    try:
        history = await link.stream_messages("KV_fleet_desired", "$KV.fleet_desired.dev-remote.work")
        outbox = await hub.hub.stream_messages(outbox_stream("remote"), "hub.out.remote.>")
    finally:
        await link.close()
    assert [version_of(m.value or b"") for m in history] == [v1.version, v2.version]
    assert len(outbox) == 2
    payload = score_adapter().dump_json(work("v2"))
    assert history[-1].value == payload
