# fails: type check
"""A size where a duration belongs."""

from harmony.domain.capabilities.load_balancer import HealthCheck
from harmony.domain.units import KiB

check = HealthCheck(protocol="tcp", interval=KiB(2))  # expect-error
