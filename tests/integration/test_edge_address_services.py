"""dnsmasq behind DnsServer, DhcpServer and BootServer, for real, in network namespaces.

The router namespace runs dnsmasq; clients on its bridge ask for a lease (busybox udhcpc), resolve names
(dnspython, run inside the client namespace) and fetch their iPXE script over TFTP (busybox tftp).
"""

from __future__ import annotations

import json
import sys
from ipaddress import IPv4Interface
from pathlib import Path

from harmony.domain.capabilities.boot import BootScript
from harmony.domain.capabilities.dhcp import DhcpPool, DhcpReservation, DhcpSubnet, NetworkBoot
from harmony.domain.capabilities.dns import AaaaRecord, ARecord, CnameRecord, PtrRecord, SrvRecord
from harmony.domain.outcome import Status
from harmony.domain.values import Hostname, IPv4Address, IPv6Address, MacAddress, Port
from harmony.maestro import Maestro
from harmony.modules.boot import BootScripts
from harmony.modules.dhcp import DhcpScope
from harmony.modules.dns import DnsZone
from harmony.testing import describe_failure
from harmony.topology.edge_router import EdgeRouter
from tests.fixtures.netns import NETWORK, ROUTER, Client, Lan

RESERVED = "52:54:00:aa:00:07"
OTHER = "52:54:00:aa:00:08"
ZONE = Hostname("office.lan")


def dns_zone(*extra: ARecord) -> DnsZone:
    return DnsZone(
        zone=ZONE,
        records=(
            ARecord(name=Hostname("web.office.lan"), address=IPv4Address("10.77.0.5")),
            ARecord(name=Hostname("node7.office.lan"), address=IPv4Address("10.77.0.7")),
            CnameRecord(name=Hostname("www.office.lan"), target=Hostname("web.office.lan")),
            SrvRecord(name=ZONE, service="_http", target=Hostname("web.office.lan"), port=Port(80)),
            PtrRecord(address=IPv4Address("10.77.0.9"), target=Hostname("printer.office.lan")),
            AaaaRecord(name=Hostname("web.office.lan"), address=IPv6Address("fd00::5")),
            *extra,
        ),
    )


def dhcp_scope(*reservations: DhcpReservation) -> DhcpScope:
    return DhcpScope(
        subnet=DhcpSubnet(
            network=NETWORK,
            pools=(DhcpPool(start=IPv4Address("10.77.0.100"), end=IPv4Address("10.77.0.149")),),
            reservations=reservations,
            router=ROUTER,
            dns_servers=(ROUTER,),
            domain=ZONE,
            lease_time=600,
            boot=NetworkBoot(next_server=ROUTER),
        )
    )


NODE7 = DhcpReservation(mac=MacAddress(RESERVED), address=IPv4Address("10.77.0.7"), hostname=Hostname("node7"))
BOOT = BootScripts(
    scripts=(
        BootScript(content="#!ipxe\necho discovery\n"),
        BootScript(mac=MacAddress(RESERVED), content="#!ipxe\necho install node7\n"),
    )
)


def udhcpc(client: Client, tmp: Path, *options: str) -> dict[str, str]:
    """Ask for a lease once; return the variables udhcpc hands its script (ip, router, dns, boot_file…)."""
    out = tmp / f"lease-{client.netns}.json"
    script = tmp / "udhcpc.sh"
    script.write_text(
        "#!/bin/sh\n"
        f'[ "$1" = bound ] && {sys.executable} -c "import json,os; print(json.dumps(dict(os.environ)))" > {out}\n'
        "exit 0\n"
    )
    script.chmod(0o755)
    extra = [arg for opt in options for arg in ("-x", opt)]
    client.run(["busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "5", "-T", "1", "-s", str(script), *extra])
    env: dict[str, str] = json.loads(out.read_text())
    return env


def resolve(client: Client, name: str, rdtype: str) -> list[str]:
    """Answers from the router's DNS, asked from inside the client namespace with dnspython."""
    code = (
        "import dns.resolver, sys\n"
        "r = dns.resolver.Resolver(configure=False); r.nameservers = [sys.argv[1]]\n"
        "try:\n"
        "    print('\\n'.join(sorted(a.to_text() for a in r.resolve(sys.argv[2], sys.argv[3]))))\n"
        "except dns.resolver.NXDOMAIN:\n"
        "    print('NXDOMAIN')\n"
    )
    return client.run([sys.executable, "-c", code, str(ROUTER), name, rdtype]).split()


def tftp_get(client: Client, tmp: Path, name: str) -> str:
    local = tmp / f"tftp-{client.netns}-{name.replace('/', '_')}"
    client.run(["busybox", "tftp", "-g", "-r", name, "-l", str(local), str(ROUTER)])
    return local.read_text()


async def test_router_serves_dhcp_dns_and_boot_scripts(lan: Lan, edge_router: EdgeRouter, tmp_path: Path) -> None:
    await check_dhcp_dns_and_boot(lan, edge_router, tmp_path)


async def check_dhcp_dns_and_boot(lan: Lan, edge_router: EdgeRouter, tmp_path: Path) -> None:
    """The address-services contract, for a router wherever it runs (this file: a namespace; also SSH)."""
    scores = [dns_zone(), dhcp_scope(NODE7), BOOT]
    maestro = Maestro(edge_router)
    first = await maestro.apply(scores)
    assert first.status is Status.SUCCESS, first.error
    assert [r.outcome.status for r in first.results if r.outcome] == [Status.SUCCESS] * 3
    second = await maestro.apply(scores)
    assert second.status is Status.NOOP, [r.changes for r in second.results]

    node7 = lan.add_client(RESERVED)
    lease = udhcpc(node7, tmp_path, "0x5d:0007")  # announces UEFI x64 firmware (option 93)
    assert {k: lease.get(k) for k in ("ip", "router", "dns", "domain", "siaddr", "boot_file", "hostname")} == {
        "ip": "10.77.0.7",
        "router": "10.77.0.1",
        "dns": "10.77.0.1",
        "domain": "office.lan",
        "siaddr": "10.77.0.1",
        "boot_file": "ipxe.efi",
        "hostname": "node7",
    }
    assert lease["lease"] == "600"

    stranger = lan.add_client(OTHER)
    lease = udhcpc(stranger, tmp_path, "0xaf:01")  # an iPXE client (option 175) gets the entry script
    assert IPv4Address("10.77.0.100") <= IPv4Address(lease["ip"]) <= IPv4Address("10.77.0.149")
    assert lease["boot_file"] == "boot.ipxe"
    await edge_router.ensure_ready()  # the Maestro closed its connection to the router (SSH) at the end of the run
    leases = {str(x.mac): str(x.address) for x in await edge_router.dhcp_leases()}
    assert leases[RESERVED] == "10.77.0.7"
    assert leases[OTHER] == lease["ip"]

    node7.set_address(IPv4Interface("10.77.0.7/24"))
    assert resolve(node7, "web.office.lan", "A") == ["10.77.0.5"]
    assert resolve(node7, "www.office.lan", "CNAME") == ["web.office.lan."]
    assert resolve(node7, "_http._tcp.office.lan", "SRV") == ["0", "0", "80", "web.office.lan."]
    assert resolve(node7, "web.office.lan", "AAAA") == ["fd00::5"]
    assert resolve(node7, "9.0.77.10.in-addr.arpa", "PTR") == ["printer.office.lan."]
    assert resolve(node7, "nothing.office.lan", "A") == ["NXDOMAIN"]

    assert tftp_get(node7, tmp_path, "ipxe/52-54-00-aa-00-07.ipxe") == "#!ipxe\necho install node7\n"
    assert tftp_get(node7, tmp_path, "ipxe/default.ipxe") == "#!ipxe\necho discovery\n"
    assert "ipxe/${mac:hexhyp}.ipxe" in tftp_get(node7, tmp_path, "boot.ipxe")


async def test_plan_shows_records_and_reservations_added_and_removed(lan: Lan, edge_router: EdgeRouter) -> None:
    maestro = Maestro(edge_router)
    assert (await maestro.apply([dns_zone(), dhcp_scope(NODE7), BOOT])).status is Status.SUCCESS

    db = ARecord(name=Hostname("db.office.lan"), address=IPv4Address("10.77.0.6"))
    other = DhcpReservation(mac=MacAddress(OTHER), address=IPv4Address("10.77.0.8"))
    fewer_scripts = BootScripts(scripts=BOOT.scripts[:1])
    changed = [dns_zone(db), dhcp_scope(other), fewer_scripts]
    plan = await maestro.plan(changed)
    assert [[(c.action.value, c.target) for c in r.changes] for r in plan.results] == [
        [("create", "dns record A db.office.lan 10.77.0.6")],
        [("delete", f"dhcp reservation {RESERVED}"), ("create", f"dhcp reservation {OTHER}")],
        [("delete", "boot script ipxe/52-54-00-aa-00-07.ipxe")],
    ]
    report = await maestro.apply(changed)
    assert report.status is Status.SUCCESS, describe_failure(report)
    assert (await maestro.apply(changed)).status is Status.NOOP

    client = lan.add_client(OTHER)
    client.set_address(IPv4Interface("10.77.0.8/24"))
    assert resolve(client, "db.office.lan", "A") == ["10.77.0.6"]
    assert [s.mac for s in await edge_router.boot_scripts()] == [None]


async def test_a_stopped_daemon_is_planned_as_nothing_served_and_restarted(edge_router: EdgeRouter) -> None:
    maestro = Maestro(edge_router)
    scores = [dns_zone(), dhcp_scope(NODE7)]
    assert (await maestro.apply(scores)).status is Status.SUCCESS
    await edge_router.dnsmasq.stop()
    plan = await maestro.plan(scores)
    assert plan.status is Status.SUCCESS  # changes pending: nothing is served while the daemon is down
    assert (await maestro.apply(scores)).status is Status.SUCCESS
    assert (await maestro.apply(scores)).status is Status.NOOP
