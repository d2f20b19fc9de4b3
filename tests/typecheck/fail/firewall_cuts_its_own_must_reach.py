# fails: load
"""A default-deny policy that lets nobody reach the endpoint it lists in must_reach: the apply would roll back."""

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
firewall = FirewallRules(  # expect-load-error: tcp/8443 on this host, which must_reach lists
    policy=FirewallPolicy(
        zones=(lan,),
        rules=(Rule(action="allow", source=lan, destination=LOCAL, protocol="tcp", ports=(Port(443),)),),
    ),
    must_reach=(Endpoint(address=IPv4Address("10.0.0.1"), port=Port(8443)),),
)
deployment = Deployment(topology=router, scores=[firewall])
