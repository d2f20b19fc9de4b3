"""Fixed: a load-balanced frontend without any backend."""

from harmony.domain.capabilities.load_balancer import Backend, Frontend
from harmony.domain.names import ResourceName
from harmony.domain.values import IPv4Address, Port

web = Frontend(
    name=ResourceName("web"),
    port=Port(80),
    backends=(Backend(name=ResourceName("a"), address=IPv4Address("10.0.0.5"), port=Port(8080)),),
)
