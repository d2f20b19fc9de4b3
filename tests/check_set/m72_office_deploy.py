# mistake: the new default-deny policy opens SSH on 22, but the box (and Harmony) use 2222: locked out
# Office paris: the edge box, managed over SSH, hands out addresses, answers for paris.lan, publishes the intranet.
from datetime import timedelta

from harmony import Deployment
from harmony.domain.capabilities.dhcp import DhcpPool, DhcpReservation, DhcpSubnet
from harmony.domain.capabilities.dns import ARecord, CnameRecord
from harmony.domain.capabilities.firewall import LOCAL, FirewallPolicy, Rule, Zone
from harmony.domain.capabilities.load_balancer import Backend, Frontend, HealthCheck
from harmony.domain.inventory import Host, Inventory
from harmony.domain.names import ResourceName
from harmony.domain.values import DnsName, Hostname, IPv4Address, IPv4Network, MacAddress, Port
from harmony.modules.dhcp import DhcpScope
from harmony.modules.dns import DnsZone
from harmony.modules.firewall import FirewallRules
from harmony.modules.load_balancer import LoadBalancing
from harmony.topology.edge_router import EdgeRouter
from harmony.topology.linux_host import LinuxHost

NET = "10.10.0"  # first three octets
DOMAIN = "paris.lan"

inventory = Inventory(
    hosts=(Host(name=Hostname("paris-edge"), address=IPv4Address("192.0.2.10"), ssh_port=Port(2222)),),
)
router = EdgeRouter.on(LinuxHost.from_inventory(inventory.hosts[0]))

printers = {
    "printer": ("52:54:00:10:00:10", f"{NET}.10"),
    "nas": ("52:54:00:10:00:11", f"{NET}.11"),
}

lan_subnet = DhcpSubnet(
    network=IPv4Network(f"{NET}.0/24"),
    router=IPv4Address(f"{NET}.1"),
    dns_servers=(IPv4Address(f"{NET}.1"),),
    domain=Hostname(DOMAIN),
    pools=(DhcpPool(start=IPv4Address(f"{NET}.100"), end=IPv4Address(f"{NET}.199")),),
    reservations=tuple(
        DhcpReservation(mac=MacAddress(mac), address=IPv4Address(ip), hostname=Hostname(name))
        for name, (mac, ip) in printers.items()
    ),
    lease_time=3600,
)

zone = DnsZone(
    zone=DnsName(DOMAIN),
    records=(
        ARecord(name=DnsName(f"intranet.{DOMAIN}"), address=IPv4Address(f"{NET}.1")),
        ARecord(name=DnsName(f"wiki-1.{DOMAIN}"), address=IPv4Address(f"{NET}.21")),
        CnameRecord(name=DnsName(f"wiki.{DOMAIN}"), target=DnsName(f"intranet.{DOMAIN}")),
    ),
)

intranet = Frontend(
    name=ResourceName("intranet"),
    port=Port(443),
    mode="tcp",
    backends=(
        Backend(name=ResourceName("wiki1"), address=IPv4Address(f"{NET}.21"), port=Port(8443)),
        Backend(name=ResourceName("wiki2"), address=IPv4Address(f"{NET}.22"), port=Port(8443)),
    ),
    health_check=HealthCheck(protocol="tcp", interval=timedelta(seconds=2)),
)

wan = Zone(name=ResourceName("wan"), interfaces=("eth0",))
lan = Zone(name=ResourceName("lan"), interfaces=("eth1",), networks=(IPv4Network(f"{NET}.0/24"),))
firewall = FirewallRules(
    policy=FirewallPolicy(
        zones=(wan, lan),
        rules=(
            Rule(action="allow", source=lan, destination=LOCAL, protocol="udp", ports=(Port(53), Port(67))),
            Rule(action="allow", source=lan, destination=LOCAL, protocol="tcp", ports=(Port(22), Port(443))),
            Rule(action="allow", source=lan, destination=wan),
        ),
    )
)

deployment = Deployment(
    topology=router,
    scores=[DhcpScope(subnet=lan_subnet), zone, LoadBalancing(frontends=(intranet,)), firewall],
)
