"""EdgeRouter provides every network-edge capability, so every edge Score runs on it."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.edge import NetworkEdge, WebEdge
from harmony.domain.capabilities.load_balancer import Backend, Frontend
from harmony.domain.names import ResourceName
from harmony.domain.values import Hostname, IPv4Address, Port
from harmony.modules.dns import DnsZone
from harmony.modules.load_balancer import LoadBalancing
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/tmp/edge"), netns="router")
edge: NetworkEdge = router
web: WebEdge = router

deployment = Deployment(
    topology=router,
    scores=[
        DnsZone(zone=Hostname("office.lan")),
        LoadBalancing(
            frontends=(
                Frontend(
                    name=ResourceName("web"),
                    port=Port(80),
                    backends=(Backend(name=ResourceName("a"), address=IPv4Address("10.0.0.5"), port=Port(8080)),),
                ),
            )
        ),
    ],
)
