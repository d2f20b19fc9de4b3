"""A blue-green switch written as data: the new backend active, the old one draining."""

from datetime import timedelta
from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.load_balancer import Backend, Frontend, HealthCheck
from harmony.domain.names import ResourceName
from harmony.domain.values import IPv4Address, Port
from harmony.modules.load_balancer import LoadBalancing
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
api = Frontend(
    name=ResourceName("api"),
    port=Port(8443),
    mode="tcp",
    balance="leastconn",
    backends=(
        Backend(name=ResourceName("blue"), address=IPv4Address("10.0.0.31"), port=Port(9000), state="draining"),
        Backend(name=ResourceName("green"), address=IPv4Address("10.0.0.32"), port=Port(9000)),
    ),
    health_check=HealthCheck(protocol="tcp", interval=timedelta(milliseconds=1500), rise=2, fall=3),
)
deployment = Deployment(topology=router, scores=[LoadBalancing(frontends=(api,))])
