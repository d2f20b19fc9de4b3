"""A no-op over SSH costs one round trip of reads per host and run — counted by the real connector on lab hosts.

Two lab boxes: the office router (``EdgeRouter.on``: DNS, boot scripts, a load balancer, a firewall) and a
box with two roles (``ContainerHost.on`` with a web app, and a router role of its own with DNS). The
router's HAProxy fronts the app on the other box: requests from this machine go through it. After the
first apply, every no-op run sends its box exactly two commands — the run lock's holder and one batched read
(packages, state directories, podman, nftables and the daemons' files all in it) — on one channel: the
holder answers the batch. A new read done in a row with the others, or a command not folded into the batch,
fails this test by name; a batch on a channel of its own fails it too.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePosixPath

import pytest

from harmony.domain.capabilities.boot import BootScript
from harmony.domain.capabilities.containers import ImageRef
from harmony.domain.capabilities.dns import ARecord
from harmony.domain.capabilities.firewall import LOCAL, Endpoint, FirewallPolicy, Rule, Zone
from harmony.domain.capabilities.load_balancer import Backend, Frontend, HealthCheck
from harmony.domain.names import ResourceName
from harmony.domain.outcome import Status
from harmony.domain.score import Score
from harmony.domain.topology import Topology
from harmony.domain.values import Hostname, IPv4Address, Port
from harmony.infra.ssh import SshConnector
from harmony.maestro import Maestro
from harmony.modules.application import Application, BusyboxImage, Exposure, HttpCheck
from harmony.modules.boot import BootScripts
from harmony.modules.dns import DnsZone
from harmony.modules.firewall import FirewallRules
from harmony.modules.load_balancer import LoadBalancing
from harmony.testing.ssh_lab import SshLab
from harmony.topology.container_host import ContainerHost
from harmony.topology.edge_router import EdgeRouter
from harmony.topology.linux_host import LinuxHost
from tests.fixtures.edge import get
from tests.fixtures.podman import wipe_store
from tests.fixtures.ports import free_port

EDGE_BOX, APP_BOX = 2, 1
NOOP_EXECS = {"run-lock": 1, "read": 1}
"""A no-op run's commands on its box: the run lock's holder, and one batch of every read (answered by the holder)."""
NOOP_CHANNELS = 1
"""A no-op run's channels on its box: the run lock's holder's only."""


@dataclass
class Site:
    edge: EdgeRouter
    apps: ContainerHost
    apps_router: EdgeRouter
    app_address: IPv4Address
    edge_address: IPv4Address
    app_port: int
    edge_port: int
    table: str


def _address(lab: SshLab, box: int) -> IPv4Address:
    return IPv4Address(lab.hosts[box].address)


@pytest.fixture
async def site(ssh_lab: SshLab) -> AsyncIterator[Site]:
    token = secrets.token_hex(3)
    inventory = ssh_lab.inventory().hosts
    edge_box = LinuxHost.from_inventory(inventory[EDGE_BOX], known_hosts=ssh_lab.known_hosts)
    app_box = LinuxHost.from_inventory(inventory[APP_BOX], known_hosts=ssh_lab.known_hosts)
    table = f"hm{token}"
    found = Site(
        edge=EdgeRouter.on(
            edge_box, state_dir=PurePosixPath(f"/var/lib/harmony/rt-edge-{token}"), dns_port=free_port(),
            firewall_table=table,
        ),
        apps=ContainerHost.on(
            app_box, state_dir=PurePosixPath(f"/var/lib/harmony/rt-apps-{token}"), dns_port=free_port()
        ),
        # the same LinuxHost (one connector) as the container host: a second role on that box
        apps_router=EdgeRouter.on(
            app_box, state_dir=PurePosixPath(f"/var/lib/harmony/rt-edge-{token}"), dns_port=free_port()
        ),
        app_address=_address(ssh_lab, APP_BOX),
        edge_address=_address(ssh_lab, EDGE_BOX),
        app_port=free_port(),
        edge_port=free_port(),
        table=table,
    )  # fmt: skip
    try:
        yield found
    finally:
        await found.apps.ensure_ready()
        await found.apps.stop_services()
        await wipe_store(found.apps.podman)
        await found.apps_router.stop()
        await app_box.run_command(["rm", "-rf", "--", str(found.apps.haproxy.state_dir.parent)])
        await app_box.run_command(["rm", "-rf", "--", str(found.apps_router.state_dir)])
        await found.apps.close()
        await found.edge.ensure_ready()
        await found.edge.stop()
        await edge_box.run_command(["nft", "delete", "table", "inet", table])
        await edge_box.run_command(["rm", "-rf", "--", str(found.edge.state_dir)])
        await found.edge.close()


def _web_app(site: Site) -> list[Score[ContainerHost]]:
    image = BusyboxImage(
        ref=ImageRef("localhost/rt-site:live"),
        files={"www/index.html": "served from the app box\n"},
        staging_dir=site.apps.haproxy.state_dir.parent / "images",
    )
    app = Application(
        app=ResourceName("site"),
        image=image,
        port=Port(8080),
        command=("httpd", "-f", "-p", "8080", "-h", "/www"),
        expose=Exposure(
            hostname=Hostname("site.apps.lan"),
            zone=Hostname("apps.lan"),
            address=site.app_address,
            port=Port(site.app_port),
        ),
        smoke=HttpCheck(path="/index.html", expect_body="served from the app box", timeout=timedelta(seconds=60)),
        stop_grace=timedelta(seconds=1),
    )
    return [image, app]


def _edge_scores(site: Site) -> list[Score[EdgeRouter]]:
    wan = Zone(name=ResourceName("wan"), interfaces=("eth0",))
    front = Frontend(
        name=ResourceName("intranet"),
        address=site.edge_address,
        port=Port(site.edge_port),
        backends=(Backend(name=ResourceName("app_box"), address=site.app_address, port=Port(site.app_port)),),
        health_check=HealthCheck(protocol="http", path="/index.html", interval=timedelta(seconds=1)),
    )
    return [
        DnsZone(
            zone=Hostname("office.lan"),
            records=(
                ARecord(name=Hostname("router.office.lan"), address=site.edge_address),
                ARecord(name=Hostname("apps.office.lan"), address=site.app_address),
            ),
        ),
        BootScripts(scripts=(BootScript(content="#!ipxe\necho discovery\nshell\n"),)),
        LoadBalancing(frontends=(front,)),
        FirewallRules(
            policy=FirewallPolicy(
                zones=(wan,),
                rules=(
                    Rule(
                        action="allow", source=wan, destination=LOCAL, protocol="tcp",
                        ports=(Port(22), Port(site.edge_port)),
                    ),
                ),
            ),
            must_reach=(Endpoint(address=site.edge_address, port=Port(22)),),
        ),
    ]  # fmt: skip


def _apps_router_scores(site: Site) -> list[Score[EdgeRouter]]:
    return [
        DnsZone(
            zone=Hostname("apps.office.lan"),
            records=(ARecord(name=Hostname("site.apps.office.lan"), address=site.app_address),),
        )
    ]


def _execs(connector: object) -> Mapping[str, int]:
    assert isinstance(connector, SshConnector), "the lab boxes are reached over SSH"
    return connector.execs


async def _noop_execs[T: Topology](topology: T, connector: object, scores: list[Score[T]]) -> dict[str, int]:
    """The commands a no-op run of ``scores`` sent to the box, per program; it opened one channel for them."""
    before = dict(_execs(connector))
    assert isinstance(connector, SshConnector)
    channels = connector.channels
    report = await Maestro(topology).apply(scores)
    assert report.status is Status.NOOP, (report.error, [(r.score, r.outcome) for r in report.results])
    assert connector.channels - channels == NOOP_CHANNELS, "the batch of reads went on a channel of its own"
    return {k: n - before.get(k, 0) for k, n in _execs(connector).items() if n != before.get(k, 0)}


async def test_a_noop_is_one_round_trip_of_reads_per_box_and_run_and_the_router_balances_to_another_box(
    site: Site,
) -> None:
    apps, edge, apps_router = _web_app(site), _edge_scores(site), _apps_router_scores(site)
    for first in (
        await Maestro(site.apps).apply(apps),
        await Maestro(site.apps_router).apply(apps_router),
        await Maestro(site.edge).apply(edge),
    ):
        assert first.status is Status.SUCCESS, (first.error, [(r.score, r.outcome) for r in first.results])

    body = get(f"http://{site.edge_address}:{site.edge_port}/index.html", timeout=10)
    assert body == "served from the app box\n", "through the router's HAProxy to the app on the other box"

    app_connector = site.apps.podman.connector
    assert await _noop_execs(site.apps, app_connector, apps) == NOOP_EXECS
    assert await _noop_execs(site.apps_router, app_connector, apps_router) == NOOP_EXECS, "the box's second role"
    assert await _noop_execs(site.edge, site.edge.host.connector, edge) == NOOP_EXECS
    assert get(f"http://{site.edge_address}:{site.edge_port}/index.html", timeout=10) == body
