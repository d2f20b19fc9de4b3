# fails: type check
"""The container supervisor handed something that is not a container runtime."""

from __future__ import annotations

from harmony.agent.container_supervisor import ContainerSupervisor
from harmony.infra.net_probe import NetProbe

supervisor = ContainerSupervisor(NetProbe())  # expect-error
