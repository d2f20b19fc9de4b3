"""Fixed: a TCP check every two seconds, taken out after five failures."""

from datetime import timedelta
from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.load_balancer import Backend, Frontend, HealthCheck
from harmony.domain.names import ResourceName
from harmony.domain.values import IPv4Address, Port
from harmony.modules.load_balancer import LoadBalancing
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
imap = Frontend(
    name=ResourceName("imap"),
    port=Port(993),
    mode="tcp",
    backends=(Backend(name=ResourceName("mail1"), address=IPv4Address("10.0.0.21"), port=Port(993)),),
    health_check=HealthCheck(protocol="tcp", interval=timedelta(seconds=2), fall=5),
)
deployment = Deployment(topology=router, scores=[LoadBalancing(frontends=(imap,))])
