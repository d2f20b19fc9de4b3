"""A router firewall: SSH from the LAN, HTTPS from outside to a frontend, a forward and NAT."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.firewall import LOCAL, FirewallPolicy, PortForward, Rule, Zone
from harmony.domain.capabilities.load_balancer import Backend, Frontend
from harmony.domain.names import ResourceName
from harmony.domain.values import IPv4Address, IPv4Network, Port
from harmony.modules.firewall import FirewallRules
from harmony.modules.load_balancer import LoadBalancing
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
wan = Zone(name=ResourceName("wan"), interfaces=("eth0",))
lan = Zone(name=ResourceName("lan"), interfaces=("eth1",), networks=(IPv4Network("10.0.0.0/24"),))
web = Frontend(
    name=ResourceName("web"),
    port=Port(443),
    mode="tcp",
    backends=(Backend(name=ResourceName("web1"), address=IPv4Address("10.0.0.21"), port=Port(443)),),
)
policy = FirewallPolicy(
    zones=(wan, lan),
    rules=(
        Rule(action="allow", source=lan, destination=LOCAL, protocol="tcp", ports=(Port(22),)),
        Rule(action="allow", source=wan, destination=LOCAL, protocol="tcp", ports=(Port(443),)),
        Rule(action="allow", source=lan, destination=wan),
    ),
    port_forwards=(PortForward(source=wan, port=Port(2222), to_address=IPv4Address("10.0.0.30"), to_port=Port(22)),),
)
deployment = Deployment(topology=router, scores=[LoadBalancing(frontends=(web,)), FirewallRules(policy=policy)])
