# fails: load
"""A default-deny firewall with no rule letting clients reach a frontend on this host."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.firewall import LOCAL, FirewallPolicy, Rule, Zone
from harmony.domain.capabilities.load_balancer import Backend, Frontend
from harmony.domain.names import ResourceName, non_empty
from harmony.domain.values import IPv4Address, IPv4Network, Port
from harmony.modules.firewall import FirewallRules
from harmony.modules.load_balancer import LoadBalancing
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")


def frontend(name: str, port: int, *backends: str) -> Frontend:
    return Frontend(
        name=ResourceName(name),
        port=Port(port),
        backends=non_empty(
            (
                Backend(name=ResourceName(f"{name}{i}"), address=IPv4Address(a), port=Port(8080))
                for i, a in enumerate(backends or ("10.0.0.11",), 1)
            ),
            "backends",
        ),
    )


wan = Zone(name=ResourceName("wan"), interfaces=("eth0",))
lan = Zone(name=ResourceName("lan"), interfaces=("eth1",), networks=(IPv4Network("10.0.0.0/24"),))
policy = FirewallPolicy(
    zones=(wan, lan),
    rules=(Rule(action="allow", source=lan, destination=LOCAL, protocol="tcp", ports=(Port(22),)),),
)
deployment = Deployment(
    topology=router,
    scores=[
        LoadBalancing(frontends=(frontend("web", 443),)),
        FirewallRules(policy=policy),  # expect-load-error: firewall_blocks_listener
    ],
)
