"""Fixed: the narrow deny first, then the broad allow."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.firewall import LOCAL, FirewallPolicy, Rule, Zone
from harmony.domain.names import ResourceName
from harmony.domain.values import Port
from harmony.modules.firewall import FirewallRules
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
lan = Zone(name=ResourceName("lan"), interfaces=("eth1",))
wan = Zone(name=ResourceName("wan"), interfaces=("eth0",))
firewall = FirewallRules(
    policy=FirewallPolicy(
        zones=(lan, wan),
        rules=(
            Rule(action="allow", source=lan, destination=LOCAL, protocol="udp", ports=(Port(53),)),
            Rule(action="deny", source=lan, destination=wan, protocol="tcp", ports=(Port(25),)),
            Rule(action="allow", source=lan, destination=wan),
        ),
    )
)
deployment = Deployment(topology=router, scores=[firewall])
