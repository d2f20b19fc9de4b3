"""Two subnets on one router, each with its own pool and router."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.dhcp import DhcpPool, DhcpSubnet
from harmony.domain.values import IPv4Address, IPv4Network
from harmony.modules.dhcp import DhcpScope
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")


def subnet(n: int) -> DhcpScope:
    return DhcpScope(
        subnet=DhcpSubnet(
            network=IPv4Network(f"10.{n}.0.0/24"),
            router=IPv4Address(f"10.{n}.0.1"),
            pools=(DhcpPool(start=IPv4Address(f"10.{n}.0.50"), end=IPv4Address(f"10.{n}.0.200")),),
        )
    )


deployment = Deployment(topology=router, scores=[subnet(30), subnet(31)])
