# fails: type check
"""A container health-check interval as a bare 5."""

from harmony.domain.capabilities.containers import ContainerHealthCheck

health = ContainerHealthCheck(command=("pg_isready",), interval=5)  # expect-error
