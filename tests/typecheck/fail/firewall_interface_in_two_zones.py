# fails: load
"""One interface put in two zones."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.firewall import FirewallPolicy, Zone
from harmony.domain.names import ResourceName
from harmony.modules.firewall import FirewallRules
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
policy = FirewallPolicy(  # expect-load-error: each interface in one zone
    zones=(Zone(name=ResourceName("wan"), interfaces=("eth0",)), Zone(name=ResourceName("lan"), interfaces=("eth0",))),
)
deployment = Deployment(topology=router, scores=[FirewallRules(policy=policy)])
