"""Fixed: a backend admin state that does not exist."""

from harmony.domain.capabilities.load_balancer import Backend
from harmony.domain.names import ResourceName
from harmony.domain.values import IPv4Address, Port

blue = Backend(
    name=ResourceName("blue"),
    address=IPv4Address("10.0.0.5"),
    port=Port(8080),
    state="draining",
)
