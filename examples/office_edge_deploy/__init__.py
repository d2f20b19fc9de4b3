"""An office's network edge on one Linux box: DNS, DHCP with PXE boot, load balancing and a firewall.

The router is the network namespace ``router`` (``$HARMONY_EDGE_NETNS``) with the office LAN on its
bridge ``br0`` (10.77.0.1/24). Create it once (as root), with two intranet apps on the router's loopback:

    ip netns add router && ip -n router link set lo up
    ip -n router link add br0 type bridge && ip -n router addr add 10.77.0.1/24 dev br0
    ip -n router link set br0 up
    ip netns exec router busybox httpd -p 127.0.0.1:8081 -h /srv/app-a     # any two web servers
    ip netns exec router busybox httpd -p 127.0.0.1:8082 -h /srv/app-b

Then, as usual:

    harmony check examples/office_edge_deploy
    harmony plan  examples/office_edge_deploy
    harmony apply examples/office_edge_deploy --yes      # again: every Score is NOOP

The firewall only stays up if the intranet (10.77.0.1:80) is still reachable afterwards, probed from
``$HARMONY_EDGE_MANAGEMENT_NETNS`` (a namespace on the office LAN; default: where Harmony runs) — otherwise
the previous ruleset comes back. Daemon state lives in ``$HARMONY_EDGE_STATE`` (default
``.harmony/office-edge``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from harmony import Deployment, Host, Inventory
from harmony.domain.capabilities.boot import BootScript
from harmony.domain.capabilities.dhcp import DhcpPool, DhcpReservation, DhcpSubnet, NetworkBoot
from harmony.domain.capabilities.dns import ARecord, CnameRecord, SrvRecord, address_record
from harmony.domain.capabilities.firewall import LOCAL, Endpoint, FirewallPolicy, Rule, Zone
from harmony.domain.capabilities.load_balancer import Backend, Frontend, HealthCheck
from harmony.domain.inventory import Nic
from harmony.domain.names import ResourceName
from harmony.domain.values import Hostname, IPv4Address, IPv4Network, MacAddress, Port
from harmony.modules.boot import BootScripts
from harmony.modules.dhcp import DhcpScope
from harmony.modules.dns import DnsZone
from harmony.modules.firewall import FirewallRules
from harmony.modules.load_balancer import LoadBalancing
from harmony.topology.edge_router import EdgeRouter

ZONE = Hostname("office.lan")
NETWORK = IPv4Network("10.77.0.0/24")
ROUTER = IPv4Address("10.77.0.1")

inventory = Inventory(
    hosts=(
        Host(
            name=Hostname("node1"),
            address=IPv4Address("10.77.0.11"),
            nics=(Nic(name="eth0", mac=MacAddress("52:54:00:0e:00:11")),),
            roles=frozenset({"worker"}),
        ),
        Host(
            name=Hostname("node2"),
            address=IPv4Address("10.77.0.12"),
            nics=(Nic(name="eth0", mac=MacAddress("52:54:00:0e:00:12")),),
            roles=frozenset({"worker"}),
        ),
    )
)

router = EdgeRouter(
    name="office-router",
    netns=os.environ.get("HARMONY_EDGE_NETNS", "router"),
    state_dir=Path(os.environ.get("HARMONY_EDGE_STATE", ".harmony/office-edge")).absolute(),
    management_netns=os.environ.get("HARMONY_EDGE_MANAGEMENT_NETNS"),
)

dns = DnsZone(
    zone=ZONE,
    records=(
        ARecord(name=Hostname("router.office.lan"), address=ROUTER),
        CnameRecord(name=Hostname("intranet.office.lan"), target=Hostname("router.office.lan")),
        SrvRecord(name=ZONE, service="_http", target=Hostname("intranet.office.lan"), port=Port(80)),
        *(address_record(Hostname(f"{h.name}.{ZONE}"), h.address) for h in inventory.hosts),
    ),
)

dhcp = DhcpScope(
    subnet=DhcpSubnet(
        network=NETWORK,
        pools=(DhcpPool(start=IPv4Address("10.77.0.100"), end=IPv4Address("10.77.0.199")),),
        reservations=tuple(DhcpReservation.for_host(h) for h in inventory.hosts),
        router=ROUTER,
        dns_servers=(ROUTER,),
        domain=ZONE,
        boot=NetworkBoot(next_server=ROUTER),
    )
)

boot = BootScripts(
    scripts=(
        BootScript(content="#!ipxe\necho Unknown machine: booting discovery\nshell\n"),
        *(
            BootScript(mac=h.nics[0].mac, content=f"#!ipxe\necho Installing {h.name}\nexit\n")
            for h in inventory.select(role="worker")
        ),
    )
)

intranet = LoadBalancing(
    frontends=(
        Frontend(
            name=ResourceName("intranet"),
            address=ROUTER,
            port=Port(80),
            backends=(
                Backend(name=ResourceName("app_a"), address=IPv4Address("127.0.0.1"), port=Port(8081)),
                Backend(name=ResourceName("app_b"), address=IPv4Address("127.0.0.1"), port=Port(8082)),
            ),
            health_check=HealthCheck(protocol="http", path="/", interval=timedelta(seconds=1)),
        ),
    )
)

lan = Zone(name=ResourceName("lan"), interfaces=("br0",))
firewall = FirewallRules(
    policy=FirewallPolicy(
        zones=(lan,),
        rules=(
            Rule(action="allow", source=lan, destination=LOCAL, protocol="udp", ports=(Port(53), Port(67), Port(69))),
            Rule(action="allow", source=lan, destination=LOCAL, protocol="tcp", ports=(Port(53), Port(80))),
            Rule(action="allow", source=lan, destination=LOCAL, protocol="icmp"),
        ),
    ),
    must_reach=(Endpoint(address=ROUTER, port=Port(80)),),
)

deployment = Deployment(topology=router, scores=[dns, dhcp, boot, intranet, firewall])
