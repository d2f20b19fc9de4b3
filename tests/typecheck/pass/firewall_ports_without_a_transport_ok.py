"""Fixed: ports on a rule whose protocol is 'any'."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.firewall import LOCAL, FirewallPolicy, Rule, Zone
from harmony.domain.names import ResourceName
from harmony.domain.values import IPv4Network, Port
from harmony.modules.firewall import FirewallRules
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
wan = Zone(name=ResourceName("wan"), interfaces=("eth0",))
lan = Zone(name=ResourceName("lan"), interfaces=("eth1",), networks=(IPv4Network("10.0.0.0/24"),))
ssh = Rule(action="allow", source=lan, destination=LOCAL, protocol="tcp", ports=(Port(22),))
deployment = Deployment(topology=router, scores=[FirewallRules(policy=FirewallPolicy(zones=(wan, lan), rules=(ssh,)))])
