"""The site registry on a lab host: its daemons in a network namespace, reached over a veth link.

The namespace ``hm<random>rg`` holds the registry at ``10.<a>.<b>.2`` (random, so parallel sessions do not
collide); this machine is ``10.<a>.<b>.1`` on the other end of the link. A build host pushes to it, a device
pulls by digest over TLS; with the lab host firewalled off the pull fails as unreachable and the device's
store is unchanged.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path, PurePosixPath

import pytest

from harmony.domain.capabilities.registry import RegistryLogin, RegistrySettings
from harmony.domain.errors import RegistryUnreachableError
from harmony.domain.values import Port
from harmony.modules.application import BusyboxImage
from harmony.modules.registry import SiteRegistry
from harmony.topology.container_host import ContainerHost
from harmony.topology.registry_host import RegistryHost
from tests.fixtures.netns import sh
from tests.fixtures.podman import wipe
from tests.fixtures.ports import free_port
from tests.fixtures.registry import BASE, PULLERS, PUSHER, Site, publish, site_image

CUT = "table inet hmcut { chain input { type filter hook input priority 0; reject with icmp type host-unreachable; }; }"


@dataclass
class Link:
    netns: str
    root_side: str
    inside: IPv4Address
    outside: IPv4Address


@pytest.fixture
def lab_link() -> Iterator[Link]:
    token = secrets.token_hex(3)
    a, b = 200 + secrets.randbelow(50), secrets.randbelow(250)
    link = Link(
        netns=f"hm{token}rg", root_side=f"hm{token}r0", inside=IPv4Address(f"10.{a}.{b}.2"),
        outside=IPv4Address(f"10.{a}.{b}.1"),
    )  # fmt: skip
    sh(["ip", "netns", "add", link.netns])
    try:
        sh(["ip", "link", "add", link.root_side, "type", "veth", "peer", "name", "eth0", "netns", link.netns])
        sh(["ip", "addr", "add", f"{link.outside}/30", "dev", link.root_side])
        sh(["ip", "link", "set", link.root_side, "up"])
        sh(["ip", "addr", "add", f"{link.inside}/30", "dev", "eth0"], netns=link.netns)
        sh(["ip", "link", "set", "eth0", "up"], netns=link.netns)
        sh(["ip", "link", "set", "lo", "up"], netns=link.netns)
        yield link
    finally:
        sh(["ip", "link", "del", link.root_side], check=False)
        for pid in sh(["ip", "netns", "pids", link.netns], check=False).split():
            sh(["kill", "-9", pid], check=False)
        sh(["ip", "netns", "del", link.netns], check=False)


async def test_a_registry_on_a_lab_host_serves_pushes_and_pulls_over_its_link(lab_link: Link, tmp_path: Path) -> None:
    registry = RegistryHost.local(tmp_path / "lab-registry", name="lab-registry", netns=lab_link.netns)
    await registry.ensure_ready()
    settings = RegistrySettings(
        address=lab_link.inside, pull_port=Port(5000), push_port=Port(5001),
        storage=PurePosixPath(tmp_path / "lab-storage"), pusher=PUSHER, pullers=PULLERS,
    )  # fmt: skip
    score = SiteRegistry(settings=settings)
    build: ContainerHost | None = None
    device: ContainerHost | None = None
    try:
        assert (await score.interpret().apply(registry, await score.interpret().plan(registry))).ok
        assert await score.interpret().plan(registry) == []
        listening = sh(["ss", "-Hltn"], netns=lab_link.netns)
        assert f"{lab_link.inside}:5000" in listening and f"{lab_link.inside}:5001" in listening
        site = Site(registry, settings)

        build = ContainerHost.isolated(
            tmp_path / "build", dns_port=free_port(), name="build", registry_logins=[site.push_login()]
        )
        await build.ensure_ready()
        base = BusyboxImage(ref=BASE, staging_dir=PurePosixPath(tmp_path / "staging"))
        assert (await base.interpret().apply(build, await base.interpret().plan(build))).ok
        pinned = await publish(site, build, site_image(site, tmp_path, body="from the lab host\n"))
        assert pinned.registry == f"{lab_link.inside}:5000"

        login: RegistryLogin = site.pull_login()
        device = ContainerHost.isolated(
            tmp_path / "device", dns_port=free_port(), name="device", registry_logins=[login]
        )
        await device.ensure_ready()
        # The lab host's firewall answers every packet with "host unreachable" (never a down link: the
        # route would then fall back to this machine's default gateway).
        sh(["nft", CUT], netns=lab_link.netns)
        with pytest.raises(RegistryUnreachableError, match="is unreachable"):
            await device.pull_image(pinned)
        assert await device.list_images() == []
        sh(["nft", "delete table inet hmcut"], netns=lab_link.netns)
        assert await device.pull_image(pinned)
    finally:
        await registry.stop_registry()
        for host in (build, device):
            if host is not None:
                wipe(host.podman)
