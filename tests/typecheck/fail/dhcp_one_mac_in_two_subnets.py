# fails: load
"""One MAC reserved in two subnets."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.dhcp import DhcpReservation, DhcpSubnet
from harmony.domain.values import IPv4Address, IPv4Network, MacAddress
from harmony.modules.dhcp import DhcpScope
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
pc = MacAddress("52:54:00:aa:00:07")
deployment = Deployment(
    topology=router,
    scores=[
        DhcpScope(
            subnet=DhcpSubnet(
                network=IPv4Network("10.0.0.0/24"),
                reservations=(DhcpReservation(mac=pc, address=IPv4Address("10.0.0.7")),),
            )
        ),
        DhcpScope(  # expect-load-error: duplicate_mac_address
            subnet=DhcpSubnet(
                network=IPv4Network("10.0.1.0/24"),
                reservations=(DhcpReservation(mac=pc, address=IPv4Address("10.0.1.7")),),
            )
        ),
    ],
)
