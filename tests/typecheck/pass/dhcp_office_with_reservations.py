"""An office subnet: a pool, reservations outside it, DNS names for them."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.dhcp import DhcpPool, DhcpReservation, DhcpSubnet
from harmony.domain.capabilities.dns import CnameRecord
from harmony.domain.names import ResourceName
from harmony.domain.values import DnsName, Hostname, IPv4Address, IPv4Network, MacAddress
from harmony.modules.dhcp import DhcpScope
from harmony.modules.dns import DnsZone
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
deployment = Deployment(
    topology=router,
    scores=[
        DhcpScope(
            subnet=DhcpSubnet(
                network=IPv4Network("10.20.0.0/24"),
                router=IPv4Address("10.20.0.1"),
                dns_servers=(IPv4Address("10.20.0.1"),),
                domain=Hostname("office.lan"),
                pools=(DhcpPool(start=IPv4Address("10.20.0.100"), end=IPv4Address("10.20.0.250")),),
                reservations=(
                    DhcpReservation(
                        mac=MacAddress("52:54:00:00:20:10"), address=IPv4Address("10.20.0.10"), hostname=Hostname("nas")
                    ),
                    DhcpReservation(
                        mac=MacAddress("52:54:00:00:20:11"),
                        address=IPv4Address("10.20.0.11"),
                        hostname=Hostname("printer"),
                    ),
                ),
                lease_time=86400,
            )
        ),
        DnsZone(
            zone=DnsName("office.lan"),
            owner=ResourceName("aliases"),
            records=(CnameRecord(name=DnsName("files.office.lan"), target=DnsName("nas.office.lan")),),
        ),
    ],
)
