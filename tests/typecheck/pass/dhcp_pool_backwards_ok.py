"""Fixed: a pool whose end comes before its start."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.dhcp import DhcpPool, DhcpSubnet
from harmony.domain.values import IPv4Address, IPv4Network
from harmony.modules.dhcp import DhcpScope
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
pool = DhcpPool(start=IPv4Address("10.0.0.100"), end=IPv4Address("10.0.0.200"))
deployment = Deployment(
    topology=router,
    scores=[DhcpScope(subnet=DhcpSubnet(network=IPv4Network("10.0.0.0/24"), pools=(pool,)))],
)
