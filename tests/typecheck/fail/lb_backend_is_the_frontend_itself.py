# fails: load
"""A backend on the frontend's own port on this host: a proxy loop."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.load_balancer import Backend, Frontend
from harmony.domain.names import ResourceName
from harmony.domain.values import IPv4Address, Port
from harmony.modules.load_balancer import LoadBalancing
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
web = Frontend(  # expect-load-error: own 0.0.0.0:8080
    name=ResourceName("web"),
    port=Port(8080),
    backends=(Backend(name=ResourceName("local"), address=IPv4Address("127.0.0.1"), port=Port(8080)),),
)
deployment = Deployment(topology=router, scores=[LoadBalancing(frontends=(web,))])
