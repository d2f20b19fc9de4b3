# fails: load
"""Two backends of one frontend with the same name."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.load_balancer import Backend, Frontend
from harmony.domain.names import ResourceName
from harmony.domain.values import IPv4Address, Port
from harmony.modules.load_balancer import LoadBalancing
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
web = Frontend(  # expect-load-error: unique backend names
    name=ResourceName("web"),
    port=Port(80),
    backends=(
        Backend(name=ResourceName("app"), address=IPv4Address("10.0.0.11"), port=Port(8080)),
        Backend(name=ResourceName("app"), address=IPv4Address("10.0.0.12"), port=Port(8080)),
    ),
)
deployment = Deployment(topology=router, scores=[LoadBalancing(frontends=(web,))])
