"""The network edge on a router reached over SSH (an SSH lab host), for real: the same contracts as the local
router — DHCP with reservations and PXE options to a client on the router's LAN, DNS, load balancing with a
drain under load and 0 failed requests — plus what only a remote box has: the firewall never locks Harmony
out of it, prerequisites are packages on the box, sudo can be refused, and a daemon that fails to start on
the box reports its last log lines."""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from ipaddress import IPv4Interface
from pathlib import Path, PurePosixPath

import pytest

from harmony.domain.capabilities.firewall import LOCAL, Endpoint, FirewallPolicy, Rule, Zone
from harmony.domain.capabilities.load_balancer import Backend, Frontend, HealthCheck
from harmony.domain.names import ResourceName
from harmony.domain.outcome import Status
from harmony.domain.values import IPv4Address, Port, ip_address
from harmony.maestro import Maestro
from harmony.modules.firewall import FirewallRules
from harmony.modules.load_balancer import LoadBalancing
from harmony.testing.ssh_lab import PLAIN_USER, SshLab
from harmony.topology.edge_router import EdgeRouter
from harmony.topology.linux_host import LinuxHost
from tests.fixtures.edge import Load, get
from tests.fixtures.netns import Lan, sh
from tests.fixtures.ports import free_port
from tests.integration.test_edge_address_services import check_dhcp_dns_and_boot, dns_zone

N = ResourceName
ROUTER_HOST = 2  # the lab host that plays the office router in this file
WEB_HOST = 0  # the lab host whose web servers are the router's load-balancing backends


@dataclass
class RemoteSite:
    lab: SshLab
    host: LinuxHost
    address: str
    netns: str
    state_dir: PurePosixPath

    def router(self, *, rollback_after: float = 60.0, dns_port: int = 53) -> EdgeRouter:
        return EdgeRouter.on(
            self.host, state_dir=self.state_dir, firewall_rollback_after=rollback_after, dns_port=dns_port
        )

    def fresh_host(self, user: str = "root") -> LinuxHost:
        inv = self.lab.inventory(user=user).hosts[ROUTER_HOST]
        return LinuxHost.from_inventory(inv, known_hosts=self.lab.known_hosts)


@pytest.fixture
async def remote(ssh_lab: SshLab) -> AsyncIterator[RemoteSite]:
    lab_host = ssh_lab.hosts[ROUTER_HOST]
    inv = ssh_lab.inventory().hosts[ROUTER_HOST]
    site = RemoteSite(
        lab=ssh_lab,
        host=LinuxHost.from_inventory(inv, known_hosts=ssh_lab.known_hosts),
        address=lab_host.address,
        netns=lab_host.netns,
        state_dir=PurePosixPath(f"/var/lib/harmony/edge-{secrets.token_hex(3)}"),
    )
    try:
        yield site
    finally:
        router = site.router()
        await router.host.ensure_ready()
        await router.stop()
        await router.host.run_command(["nft", "delete", "table", "inet", "harmony"])
        await router.host.run_command(["rm", "-rf", "--", str(site.state_dir)])
        await router.close()


@pytest.fixture
def remote_lan(remote: RemoteSite) -> Iterator[Lan]:
    """The office LAN on the remote router: ``br0`` (10.77.0.1/24) inside the lab host, clients beside it."""
    lan = Lan(prefix="hm" + secrets.token_hex(3), router=remote.netns)
    lan.add_bridge("br0", IPv4Interface("10.77.0.1/24"))
    try:
        yield lan
    finally:
        for client in lan.clients:
            sh(["ip", "netns", "delete", client.netns], check=False)
        lan.run_router(["ip", "link", "delete", "br0"], check=False)


async def test_remote_router_serves_dhcp_reservations_pxe_and_dns(
    remote: RemoteSite, remote_lan: Lan, tmp_path: Path
) -> None:
    await check_dhcp_dns_and_boot(remote_lan, remote.router(), tmp_path)


async def _serve_http(host: LinuxHost, name: str, address: str, port: int) -> str:
    """A busybox httpd on the lab host answering ``name`` at ``address:port``; returns its pid."""
    root = f"/srv/hm-{name}-{secrets.token_hex(2)}"
    script = (
        f"mkdir -p {root} && printf {name} > {root}/index.html && "
        f"busybox httpd -f -p {address}:{port} -h {root} </dev/null >/dev/null 2>&1 & echo $!"
    )
    started = await host.run_command(["sh", "-c", script])
    assert started.ok, started.stderr
    return started.stdout.strip()


async def test_remote_load_balancer_serves_and_drains_with_no_failed_request(remote: RemoteSite) -> None:
    """The router's HAProxy in front of web servers on another lab box (its backends are across the network)."""
    router = remote.router()
    await router.ensure_ready()
    web_box = LinuxHost.from_inventory(remote.lab.inventory().hosts[WEB_HOST], known_hosts=remote.lab.known_hosts)
    web_address = remote.lab.hosts[WEB_HOST].address
    ports = {"blue": free_port(), "green": free_port()}
    await web_box.ensure_ready()
    pids = [await _serve_http(web_box, name, web_address, port) for name, port in ports.items()]
    try:

        def lb(draining: str | None = None) -> LoadBalancing:
            backends = tuple(
                Backend(
                    name=N(name),
                    address=IPv4Address(web_address),
                    port=Port(port),
                    state="draining" if name == draining else "active",
                )
                for name, port in ports.items()
            )
            front = Frontend(
                name=N("intranet"),
                address=ip_address(remote.address),
                port=Port(8080),
                backends=backends,  # type: ignore[arg-type]  # a non-empty tuple, checked by pydantic
                health_check=HealthCheck(protocol="http", path="/", interval=timedelta(seconds=1)),
            )
            return LoadBalancing(frontends=(front,))

        maestro = Maestro(router)
        first = await maestro.apply([lb()])
        assert first.status is Status.SUCCESS, first.results[0].outcome
        assert (await maestro.apply([lb()])).status is Status.NOOP
        url = f"http://{remote.address}:8080/"
        assert {get(url) for _ in range(20)} == {"blue", "green"}

        load = Load(url).start()
        try:
            await asyncio.sleep(1)
            drained = await maestro.apply([lb(draining="blue")])
            assert drained.status is Status.SUCCESS, drained.results[0].outcome
            await asyncio.sleep(1)
            seen = load.snapshot()
            await asyncio.sleep(1.5)
            after = load.snapshot()
        finally:
            load.stop()
        assert load.failures == [], load.failures[:5]
        assert after["blue"] == seen["blue"], "a drained backend gets no new request"
        assert after["green"] > seen["green"]
        assert (await maestro.apply([lb(draining="blue")])).status is Status.NOOP
    finally:
        await web_box.run_command(["kill", *pids])
        await web_box.close()
        await router.close()


WAN = Zone(name=N("wan"), interfaces=("eth0",))
SSH_ALLOWED = FirewallPolicy(
    zones=(WAN,), rules=(Rule(action="allow", source=WAN, destination=LOCAL, protocol="tcp", ports=(Port(22),)),)
)
MGMT = Zone(name=N("mgmt"), interfaces=("mgmt0",))
# SSH opened only from a management interface the lab's SSH does not arrive on: `check` cannot know that (it
# refuses a policy that opens the port from nowhere), the probe after the switch does
SSH_BLOCKED = FirewallPolicy(
    zones=(WAN, MGMT),
    rules=(
        Rule(action="allow", source=WAN, destination=LOCAL, protocol="tcp", ports=(Port(80),)),
        Rule(action="allow", source=MGMT, destination=LOCAL, protocol="tcp", ports=(Port(22),)),
    ),
)


def _ssh_port(remote: RemoteSite) -> Endpoint:
    return Endpoint(address=ip_address(remote.address), port=Port(22))


async def _ssh_works(remote: RemoteSite) -> bool:
    host = remote.fresh_host()
    try:
        await asyncio.wait_for(host.ensure_ready(), 5)
        return (await host.run_command(["true"])).ok
    except Exception:  # any failure to log in counts as locked out
        return False
    finally:
        await host.close()


async def test_a_policy_blocking_ssh_fails_clearly_and_the_router_stays_reachable(remote: RemoteSite) -> None:
    router = remote.router(rollback_after=8)
    maestro = Maestro(router)
    assert (await maestro.apply([FirewallRules(policy=SSH_ALLOWED, must_reach=(_ssh_port(remote),))])).status is (
        Status.SUCCESS
    )

    report = await maestro.apply([FirewallRules(policy=SSH_BLOCKED, must_reach=(_ssh_port(remote),))])
    assert report.status is Status.FAILURE
    outcome = report.results[0].outcome
    assert outcome is not None
    assert f"{remote.address}:22 was unreachable after the change" in outcome.message
    assert "rolled back" in outcome.message
    assert await _ssh_works(remote), "a new SSH session gets in again"
    await router.ensure_ready()
    state = await router.firewall_state()
    assert state.policy == SSH_ALLOWED and state.in_sync
    await router.close()


_KILLED_OVER_SSH = """
import asyncio, sys
from harmony.domain.capabilities.firewall import Endpoint, FirewallPolicy
from harmony.testing.ssh_lab import load_inventory
from harmony.topology.edge_router import EdgeRouter
from harmony.topology.linux_host import LinuxHost
from pathlib import Path, PurePosixPath

workdir, index, state, policy, endpoint = sys.argv[1:6]
inv = load_inventory(Path(workdir)).hosts[int(index)]
host = LinuxHost.from_inventory(inv, known_hosts=Path(workdir) / "known_hosts")
router = EdgeRouter.on(host, state_dir=PurePosixPath(state), firewall_rollback_after=6)
async def hang(endpoint):  # FAKE (named): Harmony stalls in its probe and is then killed
    print("probing", flush=True)
    await asyncio.sleep(3600)
router.nftables._probe = hang
async def main():
    await router.ensure_ready()
    await router.apply_firewall_policy(
        FirewallPolicy.model_validate_json(policy), must_reach=[Endpoint.model_validate_json(endpoint)])
asyncio.run(main())
"""


async def test_the_router_rolls_back_by_itself_when_harmony_dies_over_ssh(remote: RemoteSite) -> None:
    router = remote.router()
    maestro = Maestro(router)
    allowed = FirewallRules(policy=SSH_ALLOWED, must_reach=(_ssh_port(remote),))
    assert (await maestro.apply([allowed])).status is Status.SUCCESS
    await router.close()

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _KILLED_OVER_SSH,
        str(remote.lab.workdir),
        str(ROUTER_HOST),
        str(remote.state_dir),
        SSH_BLOCKED.model_dump_json(),
        _ssh_port(remote).model_dump_json(),
        cwd=Path(__file__).resolve().parents[2],
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert await proc.stdout.readline() == b"probing\n"
        assert not await _ssh_works(remote), "the new ruleset shuts SSH out"
    finally:
        proc.kill()
        await proc.wait()

    deadline = asyncio.get_running_loop().time() + 30
    while not await _ssh_works(remote):
        assert asyncio.get_running_loop().time() < deadline, "the router did not restore its previous ruleset"
        await asyncio.sleep(0.5)
    router = remote.router()
    state = await router.firewall_state() if await _ready(router) else None
    assert state is not None and state.policy == SSH_ALLOWED and state.in_sync
    await router.close()


async def _ready(router: EdgeRouter) -> bool:
    await router.ensure_ready()
    return True


async def test_a_missing_package_that_cannot_be_installed_fails_before_any_configuration(
    remote: RemoteSite,
) -> None:
    host = remote.host
    await host.ensure_ready()
    # The lab host's own dpkg database (a private overlay) forgets socat; its apt has no source for it.
    forget = "/^Package: socat$/,/^$/ s/^Status: install ok installed$/Status: deinstall ok config-files/"
    assert (await host.run_command(["sed", "-i", forget, "/var/lib/dpkg/status"])).ok
    try:
        router = remote.router()
        report = await Maestro(router).apply([dns_zone()])
        assert report.status is Status.FAILURE
        text = str(report.error)
        assert "needs the Debian package(s) socat, which are not installed, and installing them failed" in text, text
        await host.ensure_ready()
        gone = await host.run_command(["test", "-e", str(remote.state_dir)])
        assert gone.exit_status == 1, "nothing was configured on the box"
    finally:
        restore = "/^Package: socat$/,/^$/ s/^Status: deinstall ok config-files$/Status: install ok installed/"
        await host.ensure_ready()
        await host.run_command(["sed", "-i", restore, "/var/lib/dpkg/status"])
        await host.close()


async def test_sudo_refused_on_the_router_is_a_clear_error(remote: RemoteSite) -> None:
    router = EdgeRouter.on(remote.fresh_host(user=PLAIN_USER), state_dir=remote.state_dir)
    report = await Maestro(router).apply([dns_zone()])
    assert report.status is Status.FAILURE
    assert "sudo refused for user hmplain" in str(report.error)


async def test_a_daemon_that_fails_to_start_on_the_router_reports_its_own_error(remote: RemoteSite) -> None:
    port = 5300 + secrets.randbelow(600)
    busy = (
        f"{sys.executable} -c 'import socket,time; s=socket.socket(); "
        f's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", {port})); '
        "s.listen(); time.sleep(120)' </dev/null >/dev/null 2>&1 & echo $!"
    )
    await remote.host.ensure_ready()
    squatter = await remote.host.run_command(["sh", "-c", busy])
    assert squatter.ok
    await asyncio.sleep(0.5)
    try:
        router = remote.router(dns_port=port)
        report = await Maestro(router).apply([dns_zone()])
        assert report.status is Status.FAILURE
        outcome = report.results[0].outcome
        assert outcome is not None
        assert "dnsmasq did not start" in outcome.message, outcome.message
        assert f"failed to create listening socket for port {port}: Address already in use" in outcome.message
    finally:
        await remote.host.ensure_ready()
        await remote.host.run_command(["kill", squatter.stdout.strip()])
        await remote.host.close()
