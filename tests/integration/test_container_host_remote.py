"""The web app on a container host reached over SSH (an SSH lab host), for real: the image is built and
imported there, podman, HAProxy and dnsmasq run there, the smoke check runs from there; a client on this
machine sends requests through the load balancer on the lab host's address during a whole version change
and none fails; the next apply is a NOOP."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePosixPath

import pytest

from harmony.domain.capabilities.containers import ImageRef
from harmony.domain.names import ResourceName
from harmony.domain.outcome import Status
from harmony.domain.values import Hostname, IPv4Address, Port
from harmony.maestro import Maestro
from harmony.modules.application import Application, BusyboxImage, HttpCheck
from harmony.modules.application.application import APP_LABEL
from harmony.modules.application.exposure import Exposure
from harmony.testing.ssh_lab import SshLab
from harmony.topology.container_host import ContainerHost
from harmony.topology.linux_host import LinuxHost
from tests.fixtures.podman import wipe_store
from tests.fixtures.ports import free_port
from tests.integration.client_loop import ClientLoop

APP_HOST = 0  # the lab host that runs the application in this file


@dataclass
class RemoteApps:
    lab: SshLab
    address: IPv4Address
    state_dir: PurePosixPath
    dns_port: int

    def host(self) -> ContainerHost:
        linux = LinuxHost.from_inventory(self.lab.inventory().hosts[APP_HOST], known_hosts=self.lab.known_hosts)
        return ContainerHost.on(linux, state_dir=self.state_dir, dns_port=self.dns_port)


async def on_box(host: ContainerHost, *argv: str) -> str:
    """Run ``argv`` on the container host's box (a connected ``ContainerHost.on``); its stdout."""
    assert host.host is not None
    result = await host.host.run_command(argv, timeout=60)
    assert result.ok, result.stderr
    return result.stdout


@pytest.fixture
async def remote_apps(ssh_lab: SshLab) -> AsyncIterator[RemoteApps]:
    site = RemoteApps(
        lab=ssh_lab,
        address=IPv4Address(ssh_lab.hosts[APP_HOST].address),
        state_dir=PurePosixPath(f"/var/lib/harmony/apps-{secrets.token_hex(3)}"),
        dns_port=free_port(),
    )
    try:
        yield site
    finally:
        host = site.host()
        await host.ensure_ready()
        await host.stop_services()
        await wipe_store(host.podman)
        await on_box(host, "rm", "-rf", "--", str(site.state_dir))
        await host.close()


def web_app(site: RemoteApps, lb_port: int, version: str) -> list[BusyboxImage | Application]:
    image = BusyboxImage(
        ref=ImageRef("localhost/site:live"),
        files={"www/index.html": f"site version {version}\n"},
        staging_dir=site.state_dir / "staging",
    )
    app = Application(
        app=ResourceName("site"),
        image=image,
        port=Port(8080),
        command=("httpd", "-f", "-p", "8080", "-h", "/www"),
        expose=Exposure(
            hostname=Hostname("site.apps.test"), zone=Hostname("apps.test"), port=Port(lb_port), address=site.address
        ),
        smoke=HttpCheck(path="/index.html", expect_body="site version", timeout=timedelta(seconds=20)),
        stop_grace=timedelta(seconds=1),
    )
    return [image, app]


async def test_web_app_on_a_remote_host_upgrades_under_load_with_no_failed_request_then_noop(
    remote_apps: RemoteApps,
) -> None:
    site = remote_apps
    lb = free_port()
    url = f"http://{site.address}:{lb}/index.html"

    first = await Maestro(site.host()).apply(web_app(site, lb, "1"))
    assert first.status is Status.SUCCESS, [r.outcome for r in first.results]
    assert (await Maestro(site.host()).apply(web_app(site, lb, "1"))).status is Status.NOOP

    with ClientLoop(url) as load:
        await asyncio.sleep(0.5)
        upgrade = await Maestro(site.host()).apply(web_app(site, lb, "2"))
        await asyncio.sleep(0.5)
    assert upgrade.status is Status.SUCCESS, [r.outcome for r in upgrade.results]
    assert load.failures == [], load.failures[:5]
    assert load.requests >= 10, "the client sent requests during the whole upgrade"
    assert set(load.bodies) == {"site version 1\n", "site version 2\n"}, load.bodies

    again = await Maestro(site.host()).apply(web_app(site, lb, "2"))
    assert again.status is Status.NOOP, [r.outcome for r in again.results]

    host = site.host()
    await host.ensure_ready()
    try:
        (running,) = await host.list_containers({APP_LABEL: "site"})
        assert running.running
        served = await host.http_get(site.address, Port(lb), "/index.html", host="site.apps.test", timeout=5)
        answer = await on_box(host, "dig", "+short", "-p", str(site.dns_port), "@127.0.0.1", "site.apps.test", "A")
    finally:
        await host.close()
    assert served.body == "site version 2\n"
    assert answer.split() == [str(site.address)], "the app's name resolves on the host's DNS"
