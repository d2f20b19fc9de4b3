"""Fixed: the management port the apply probes is opened from the LAN."""

from ipaddress import IPv4Address
from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.firewall import LOCAL, Endpoint, FirewallPolicy, Rule, Zone
from harmony.domain.names import ResourceName
from harmony.domain.values import Port
from harmony.modules.firewall import FirewallRules
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
lan = Zone(name=ResourceName("lan"), interfaces=("eth1",))
firewall = FirewallRules(
    policy=FirewallPolicy(
        zones=(lan,),
        rules=(Rule(action="allow", source=lan, destination=LOCAL, protocol="tcp", ports=(Port(8443),)),),
    ),
    must_reach=(Endpoint(address=IPv4Address("10.0.0.1"), port=Port(8443)),),
)
deployment = Deployment(topology=router, scores=[firewall])
