# fails: type check
"""A load-balanced frontend without any backend."""

from harmony.domain.capabilities.load_balancer import Frontend
from harmony.domain.names import ResourceName
from harmony.domain.values import Port

web = Frontend(name=ResourceName("web"), port=Port(80), backends=())  # expect-error
