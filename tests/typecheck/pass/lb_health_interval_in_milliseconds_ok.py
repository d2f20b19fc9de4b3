"""Fixed: a health-check interval in milliseconds where seconds are meant."""

from datetime import timedelta
from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.load_balancer import Backend, Frontend, HealthCheck
from harmony.domain.names import ResourceName
from harmony.domain.values import IPv4Address, Port
from harmony.modules.load_balancer import LoadBalancing
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
check = HealthCheck(protocol="http", path="/health", interval=timedelta(seconds=2))
web = Frontend(
    name=ResourceName("web"),
    port=Port(80),
    backends=(Backend(name=ResourceName("a"), address=IPv4Address("10.0.0.11"), port=Port(8080)),),
    health_check=check,
)
deployment = Deployment(topology=router, scores=[LoadBalancing(frontends=(web,))])
