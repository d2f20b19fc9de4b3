"""`harmony fleet deploy --hub` and `harmony fleet status --hub` against a real hub of three nats-servers and
three sites (a leaf node each), with a real device agent on real podman at every site.

Waves are whole sites, the canary site first. A version whose health check fails at the canary site halts the
rollout there: the other sites' outboxes never receive it and their devices keep the previous version.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from harmony.domain.capabilities.containers import ContainerHealthCheck, ContainerName, ContainerSpec, ImageRef
from harmony.domain.score import score_adapter
from harmony.fleet.device_agent import AgentSettings
from harmony.fleet.records import version_of
from harmony.fleet.sites import HubFleet, SiteStrategy
from harmony.infra.nats.sites import outbox_stream
from harmony.modules.application.container import Container
from harmony.topology.sites import SitesTopology
from tests.fixtures.sites import Devices, harmony, harmony_json, start_sites, until_online

pytestmark = pytest.mark.slow

SITES = ["east", "north", "south"]  # the hub lists its sites in name order
IMAGE = ImageRef("localhost/sitecli:1")
SETTINGS = AgentSettings(heartbeat_interval=0.5, ground_truth_interval=1.0, resync_jitter=0.3, health_timeout=4.0)


def work(version: str, *, healthy: bool = True) -> Container:
    check = ContainerHealthCheck(command=("true",) if healthy else ("false",), interval=timedelta(seconds=1))
    return Container(
        spec=ContainerSpec(
            name=ContainerName("work"), image=IMAGE, command=("sh", "-c", f"echo {version} > /v; exec sleep 3600"),
            health=check,
        )
    )  # fmt: skip


def score_file(tmp: Path, version: str, *, healthy: bool = True) -> Path:
    path = tmp / f"work-{version}.json"
    path.write_bytes(score_adapter().dump_json(work(version, healthy=healthy)))
    return path


@pytest.fixture
async def topology(tmp_path: Path) -> AsyncIterator[SitesTopology]:
    topo = await start_sites(tmp_path, SITES)
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
        yield await HubFleet.open(link, SITES, offline_after=15.0)
    finally:
        await link.close()


async def test_rollouts_by_site_from_the_cli_halt_at_a_failing_canary_site(
    tmp_path: Path, topology: SitesTopology, devices: Devices, hub: HubFleet
) -> None:
    hubs = [a for u in topology.spec.hub_urls for a in ("--hub", u)]
    for site in SITES:
        await devices.start(f"dev-{site}", site)
        await hub.register(f"dev-{site}", site, {"role": "worker"})
    await until_online(hub, [f"dev-{site}" for site in SITES])

    # v1: the canary site south alone, then two sites per wave; every device healthy
    shown: dict[str, Any] = await harmony_json(
        "fleet", "deploy", "work", str(score_file(tmp_path, "v1")), "--selector", "role=worker", *hubs,
        "--canary-site", "south", "--sites-per-wave", "2",
    )  # fmt: skip
    v1 = version_of(score_adapter().dump_json(work("v1")))
    [deployed] = shown["deployments"]
    assert deployed["phase"] == "done", deployed["reason"]
    assert deployed["site_waves"] == [["south"], ["east", "north"]]
    assert deployed["healthy"] == 3
    assert {s: c["healthy"] for s, c in deployed["sites"].items()} == {"south": 1, "east": 1, "north": 1}

    # `fleet status --hub`: every site's link and the rollout per site
    status: dict[str, Any] = await harmony_json("fleet", "status", *hubs)
    assert [(s["site"], s["reachable"], s["unreachable_since"], s["online"]) for s in status["sites"]] == [
        (site, True, None, 1) for site in SITES
    ]
    [work_status] = status["deployments"]
    assert (work_status["deployment"], work_status["version"], work_status["phase"]) == ("work", v1, "done")
    code, table, err = await harmony("fleet", "status", *hubs)
    assert code == 0, err
    assert "reachable" in table and "UNREACHABLE" not in table and "work" in table

    # v2 fails its health check: the canary site north reports it failed, the rollout halts, exit status 1
    code, out, err = await harmony(
        "fleet", "deploy", "work", str(score_file(tmp_path, "v2", healthy=False)), "--selector", "role=worker",
        *hubs, "--canary-site", "north",
    )  # fmt: skip
    assert code == 1, out + err
    assert "rollout halted" in out
    status = await harmony_json("fleet", "status", "work", *hubs)
    [halted] = status["deployments"]
    v2 = version_of(score_adapter().dump_json(work("v2", healthy=False)))
    assert (halted["version"], halted["phase"], halted["wave"]) == (v2, "halted", 1)
    assert halted["site_waves"][0] == ["north"]
    assert halted["sites"]["north"]["failed"] == 1
    assert halted["sites"]["east"]["updated"] == halted["sites"]["south"]["updated"] == 0
    north = devices.state("dev-north", "work")
    assert north is not None and north.version == v2 and north.phase == "failed"
    for site in ("east", "south"):  # never released there: their outboxes hold v1 only, their devices run v1
        outbox = await hub.hub.stream_messages(outbox_stream(site), f"hub.out.{site}.>")
        assert [version_of(m.value or b"") for m in outbox] == [v1]
        state = devices.state(f"dev-{site}", "work")
        assert state is not None and state.version == v1 and state.phase == "running"


async def test_deploy_refuses_share_waves_at_a_hub_and_site_waves_without_one(tmp_path: Path) -> None:
    score = str(score_file(tmp_path, "v1"))
    code, out, err = await harmony("fleet", "deploy", "work", score, "--hub", "nats://127.0.0.1:1", "--canary", "0.5")
    assert code == 1 and "--canary-site" in out + err
    code, out, err = await harmony("fleet", "deploy", "work", score, "--canary-site", "north")
    said = " ".join((out + err).split())  # the message is wrapped at the terminal's width
    assert code == 1 and "expected --hub as well" in said


async def test_pause_resume_and_abort_a_rollout_by_site_from_the_cli(
    tmp_path: Path, topology: SitesTopology, devices: Devices, hub: HubFleet
) -> None:
    hubs = [a for u in topology.spec.hub_urls for a in ("--hub", u)]
    for site in SITES:
        await devices.start(f"dev-{site}", site)
        await hub.register(f"dev-{site}", site, {"role": "worker"})
    await until_online(hub, [f"dev-{site}" for site in SITES])

    # recorded at the hub, not yet driven; paused from the CLI, a driver releases nothing
    recorded = await hub.deploy("work", work("v1"), selector={"role": "worker"}, strategy=SiteStrategy(canary="east"))
    code, out, err = await harmony("fleet", "pause", "work", *hubs)
    assert code == 0 and "work: paused" in out, out + err
    stopped = await hub.drive("work")
    assert (stopped.phase, stopped.next_wave) == ("paused", 0)
    for site in SITES:
        assert await hub.hub.stream_messages(outbox_stream(site), f"hub.out.{site}.>") == []
    code, out, err = await harmony("fleet", "pause", "work", *hubs)
    assert code == 1 and "a rollout that is running" in " ".join((out + err).split()), out + err

    # resumed from the CLI: driven to the end, every site's device on v1
    code, out, err = await harmony("fleet", "resume", "work", *hubs)
    assert code == 0 and "work: running" in out and "rollout done" in out, out + err
    status = await harmony_json("fleet", "status", "work", *hubs)
    [done] = status["deployments"]
    assert (done["version"], done["phase"], done["healthy"]) == (recorded.version, "done", 3)

    # v2 recorded, aborted from the CLI before any wave: nothing released, resume refused
    v2 = await hub.deploy("work", work("v2"), selector={"role": "worker"}, strategy=SiteStrategy(canary="east"))
    code, out, err = await harmony("fleet", "abort", "work", *hubs)
    assert code == 0 and "work: aborted" in out, out + err
    assert (await hub.drive("work")).phase == "aborted"
    code, out, err = await harmony("fleet", "resume", "work", *hubs)
    assert code == 1 and "a rollout that is paused or halted" in " ".join((out + err).split()), out + err
    for site in SITES:
        outbox = await hub.hub.stream_messages(outbox_stream(site), f"hub.out.{site}.>")
        assert [version_of(m.value or b"") for m in outbox] == [recorded.version]
        state = devices.state(f"dev-{site}", "work")
        assert state is not None and state.version == recorded.version and v2.version != recorded.version
