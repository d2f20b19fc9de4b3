"""Fixed: two LoadBalancing Scores with frontends on the same port."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.load_balancer import Backend, Frontend
from harmony.domain.names import ResourceName, non_empty
from harmony.domain.values import IPv4Address, Port
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


deployment = Deployment(
    topology=router,
    scores=[LoadBalancing(frontends=(frontend("web", 80),)), LoadBalancing(frontends=(frontend("api", 8443),))],
)
