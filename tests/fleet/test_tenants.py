"""Tenants as NATS accounts on a real hub cluster and site: NKey devices, a control account, no crossing.

Two tenants share the hub and the site "north". Each has a device (the real agent on podman, an NKey user
with the fleet's per-device permissions) and an operator. The control side is a user of the CONTROL account
and rolls out to both tenants through its imports only. Then each tenant's operator and device try every
subject and bucket the other tenant uses, while the other tenant works: nothing of it can be seen, read or
written.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath

import nats
import nats.errors
import nats.js.errors
import pytest
from nats.aio.msg import Msg

from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef
from harmony.domain.errors import KeyValueUnavailable
from harmony.domain.values import Port
from harmony.fleet.device_agent import AgentSettings, DeviceAgent
from harmony.fleet.sites import HubFleet, SiteStrategy
from harmony.fleet.tenants import TenantsHome
from harmony.infra.nats import NatsOptions
from harmony.infra.nats.sites import JetStreamLink
from harmony.infra.podman import Podman
from harmony.modules.application.container import Container
from harmony.modules.application.rootfs import busybox_rootfs_tar
from harmony.topology.sites import SiteSpec, SitesTopology, sites_spec
from tests.fixtures.podman import busybox_binary, podman_in, wipe
from tests.fixtures.ports import free_port
from tests.fixtures.sites import until_online

pytestmark = pytest.mark.slow

TENANTS = {"acme": "dev-acme", "bolt": "dev-bolt"}
IMAGE = ImageRef("localhost/tenantwork:1")
SETTINGS = AgentSettings(heartbeat_interval=0.5, ground_truth_interval=1.0, resync_jitter=0.3, health_timeout=8.0)
BUCKETS = ("fleet_desired", "fleet_state", "fleet_info", "fleet_heartbeat", "sites_devices", "sites_rollouts")
STREAMS = (*(f"KV_{b}" for b in BUCKETS), "OUT_north", "VIEW_north")
# every subject a tenant could try to reach another tenant's traffic through: wildcards, JetStream APIs of
# every domain, KV, the outbox and view subjects, device inboxes and commands, the control account's import
# names (prefixed by tenant) and deliveries, and the system account's subjects
PATTERNS = (
    ">", "$KV.>", "$JS.>", "$JS.API.>", "$JS.hub.API.>", "$JS.north.API.>", "$JS.ACK.>", "_INBOX.>",
    "_INBOX_dev-acme.>", "_INBOX_dev-bolt.>", "hub.out.>", "view.>", "fleet.>", "fleet.cmd.>", "deliver.>",
    "acme.>", "bolt.>", "CONTROL.>", "$SYS.>",
)  # fmt: skip


def work(tenant: str) -> Container:
    return Container(
        spec=ContainerSpec(
            name=ContainerName("work"), image=IMAGE, command=("sh", "-c", f"echo {tenant}; exec sleep 3600")
        )
    )


@pytest.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[tuple[SitesTopology, TenantsHome]]:
    home = TenantsHome(tmp_path / "tenants")
    for tenant, device in TENANTS.items():
        home.add_tenant(tenant)
        home.add_device(tenant, device)
    spec = sites_spec(
        [(free_port(), free_port(), free_port()) for _ in range(3)], [SiteSpec(name="north", port=Port(free_port()))]
    )
    topology = SitesTopology(spec, tmp_path / "sites", accounts=home.plan())
    try:
        await topology.ensure_ready()
        yield topology, home
    finally:
        await topology.close()


@pytest.fixture
async def agents(tmp_path: Path, fleet: tuple[SitesTopology, TenantsHome]) -> AsyncIterator[dict[str, DeviceAgent]]:
    topology, home = fleet
    started: dict[str, DeviceAgent] = {}
    runtimes: list[Podman] = []
    archive = tmp_path / "work.tar"
    archive.write_bytes(busybox_rootfs_tar(busybox_binary(), {}))
    try:
        for tenant, device in TENANTS.items():
            runtime = podman_in(tmp_path / f"podman-{device}")
            runtimes.append(runtime)
            await runtime.import_image(PurePosixPath(archive), IMAGE)
            options = NatsOptions(
                servers=[topology.spec.site_url("north")], name=device, inbox_prefix=f"_INBOX_{device}",
                nkey_seed=home.device_seed(tenant, device), reconnect_base=0.05, reconnect_cap=0.5,
            )  # fmt: skip
            agent = DeviceAgent(device=device, options=options, runtime=runtime, settings=SETTINGS)
            await agent.start()
            started[tenant] = agent
        yield started
    finally:
        for agent in started.values():
            await agent.stop()
        for runtime in runtimes:
            wipe(runtime)


async def test_the_control_account_rolls_out_to_each_tenant_through_its_imports_only(
    fleet: tuple[SitesTopology, TenantsHome], agents: dict[str, DeviceAgent]
) -> None:
    topology, home = fleet
    control = await JetStreamLink.connect(topology.spec.hub_urls, name="control", nkey_seed=home.control_seed)
    try:
        for tenant, device in TENANTS.items():
            hub = await HubFleet.open(control.scoped(tenant), ["north"], offline_after=15.0)
            await hub.register(device, "north", {"tenant": tenant})
            await until_online(hub, [device])
            rollout = await hub.deploy("work", work(tenant), selector={}, strategy=SiteStrategy())
            assert rollout.targets == (device,)  # the other tenant's device is not even visible
            done = await asyncio.wait_for(hub.drive("work"), 90)
            assert done.phase == "done", done.reason
            state = agents[tenant].deployments["work"].state
            assert state.phase == "running" and state.version == rollout.version
        # outside its imports the control account reaches nothing of a tenant
        with pytest.raises(KeyValueUnavailable):
            await control.publish("acme.$KV.fleet_state.dev-acme.work", b"forged")  # not imported
        assert not await control.domain_answers("north")  # a site's JetStream only under a tenant's prefix
        with pytest.raises(nats.js.errors.APIError, match="not enabled"):
            await control.js.account_info()  # its own account has no JetStream to keep anything in
    finally:
        await control.close()


async def eavesdrop(url: str, seed: Path, victim: str, victim_seed: Path, *, at_site: bool) -> list[str]:
    """Subscribe to every pattern as one tenant while the victim tenant writes; subjects of the victim's seen."""
    device = TENANTS[victim]
    seen: list[str] = []

    async def note(msg: Msg) -> None:
        if victim in msg.subject or device in msg.subject or victim.encode() in msg.data:
            seen.append(msg.subject)

    nc = await nats.connect(url, nkeys_seed=str(seed), name="attacker")
    try:
        for pattern in PATTERNS:
            await nc.subscribe(pattern, cb=note)
        await nc.flush()
        # the victim works meanwhile: its device beats every 0.5 s, its operator writes a key
        victim_nc = await nats.connect(url, nkeys_seed=str(victim_seed), name="victim")
        subject = f"$KV.fleet_state.{device}.probe" if at_site else f"hub.out.north.probe-{victim}.x"
        await victim_nc.jetstream().publish(subject, victim.encode())
        if at_site:  # and asks its device for a ping (request/reply through the device's command subject)
            await victim_nc.request(f"fleet.cmd.{device}.ping", b"{}", timeout=2)
        await asyncio.sleep(1.5)
        await victim_nc.close()
    finally:
        await nc.close()
    return seen


async def stored(url: str, seed: Path) -> dict[str, list[tuple[str, bytes]]]:
    """Every message of every stream named in STREAMS that this user's account holds (subject, data)."""
    found: dict[str, list[tuple[str, bytes]]] = {}
    nc = await nats.connect(url, nkeys_seed=str(seed))
    js = nc.jetstream()
    try:
        for stream in STREAMS:
            try:
                info = await js.stream_info(stream)
            except nats.js.errors.NotFoundError:
                continue
            found[stream] = []
            if not info.state.messages:
                continue
            sub = await js.subscribe(">", stream=stream, ordered_consumer=True)
            for _ in range(info.state.messages):
                msg = await sub.next_msg(timeout=5)
                found[stream].append((msg.subject, msg.data))
            await sub.unsubscribe()
    finally:
        await nc.close()
    return found


async def test_a_tenant_cannot_see_read_or_write_another_tenants_subjects_or_buckets(
    fleet: tuple[SitesTopology, TenantsHome], agents: dict[str, DeviceAgent]
) -> None:
    topology, home = fleet
    urls = {"hub": topology.spec.hub_urls[0], "north": topology.spec.site_url("north")}
    for attacker, victim in (("acme", "bolt"), ("bolt", "acme")):
        victim_device = TENANTS[victim]
        for where, url in urls.items():
            seed = home.operator_seed(attacker)
            seen = await eavesdrop(url, seed, victim, home.operator_seed(victim), at_site=where == "north")
            assert seen == [], f"{attacker} saw {victim}'s traffic at {where}: {seen[:5]}"

            # every bucket and stream name the victim uses holds, for the attacker, only the attacker's own
            streams = await stored(url, seed)
            # the same names exist in the attacker's own account
            assert ("KV_fleet_state" if where == "north" else "VIEW_north") in streams
            for stream, messages in streams.items():
                for subject, data in messages:
                    assert victim_device not in subject and victim.encode() not in data, (
                        f"{attacker} read {victim}'s {stream} at {where}: {subject}"
                    )

            nc = await nats.connect(url, nkeys_seed=str(seed))
            try:
                # the victim's JetStream is not reachable under any prefix or domain
                for prefix in (
                    f"{victim}.$JS.API",
                    f"$JS.{victim}.API",
                    f"{victim}.$JS.hub.API",
                    f"{victim}.$JS.north.API",
                ):
                    with pytest.raises(nats.errors.NoRespondersError):
                        await nc.request(f"{prefix}.STREAM.NAMES", b"", timeout=1)
                # a write aimed at the victim's keys and commands lands, if anywhere, in the attacker's account
                with contextlib.suppress(nats.errors.Error):
                    await nc.jetstream().publish(f"$KV.fleet_desired.{victim_device}.work", b"forged", timeout=1)
                with pytest.raises(nats.errors.NoRespondersError):
                    await nc.request(f"fleet.cmd.{victim_device}.restart", b"{}", timeout=1)
            finally:
                await nc.close()

    # the victims' own buckets never received the forged entries
    for tenant, device in TENANTS.items():
        for url in urls.values():
            for stream, messages in (await stored(url, home.operator_seed(tenant))).items():
                forged = [subject for subject, data in messages if data == b"forged" and device in subject]
                assert forged == [], f"a forged write reached {tenant}'s {stream}: {forged}"
        assert agents[tenant].deployments == {}  # nothing was deployed to it in this test, forged or not

    # devices: confined to their own keys even inside their account, and blind to the other account
    for tenant, device in TENANTS.items():
        other = TENANTS["bolt" if tenant == "acme" else "acme"]
        errors: list[str] = []

        async def on_error(e: Exception) -> None:
            errors.append(str(e))  # noqa: B023 - used before the next iteration rebinds it

        nc = await nats.connect(
            urls["north"], nkeys_seed=str(home.device_seed(tenant, device)), inbox_prefix=f"_INBOX_{device}",
            error_cb=on_error,
        )  # fmt: skip
        for pattern in (">", f"_INBOX_{other}.>", f"fleet.cmd.{other}.*", "$KV.>"):
            await nc.subscribe(pattern)
        await nc.publish(f"$KV.fleet_desired.{other}.work", b"forged")
        await nc.flush()
        await asyncio.sleep(0.3)
        await nc.close()
        assert sum("permissions violation" in e.lower() for e in errors) >= 5, errors
