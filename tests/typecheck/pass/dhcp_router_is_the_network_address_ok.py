"""Fixed: a router given as the network's own address."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.dhcp import DhcpSubnet
from harmony.domain.values import IPv4Address, IPv4Network
from harmony.modules.dhcp import DhcpScope
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
deployment = Deployment(
    topology=router,
    scores=[DhcpScope(subnet=DhcpSubnet(network=IPv4Network("10.0.0.0/24"), router=IPv4Address("10.0.0.254")))],
)
