# fails: load
"""A client reserved the router's address."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.dhcp import DhcpReservation, DhcpSubnet
from harmony.domain.values import IPv4Address, IPv4Network, MacAddress
from harmony.modules.dhcp import DhcpScope
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
deployment = Deployment(
    topology=router,
    scores=[
        DhcpScope(
            subnet=DhcpSubnet(  # expect-load-error: not the router of 10.0.0.0/24
                network=IPv4Network("10.0.0.0/24"),
                router=IPv4Address("10.0.0.1"),
                reservations=(DhcpReservation(mac=MacAddress("52:54:00:aa:00:01"), address=IPv4Address("10.0.0.1")),),
            )
        ),
    ],
)
