"""``RuntimeHost``: a bare container runtime as a topology, so the Maestro can run ``Container`` Scores on it.

What a fleet device without a load balancer or DNS is: podman and nothing else. Getting ready checks that the
runtime answers (``list_containers``); there is nothing to release. No run lock: the device agent already
runs one reconcile at a time.
"""

from __future__ import annotations

from harmony.domain.capabilities.containers import ContainerRuntime
from harmony.domain.errors import ContainerError, TopologyError
from harmony.topology.forwarding import ForwardsContainerRuntime


class RuntimeHost(ForwardsContainerRuntime):
    def __init__(self, runtime: ContainerRuntime, *, name: str) -> None:
        self._runtime = runtime
        self._name = name

    @property
    def container_runtime(self) -> ContainerRuntime:
        return self._runtime

    @property
    def name(self) -> str:
        return self._name

    async def ensure_ready(self) -> None:
        try:
            await self._runtime.list_container_summaries()
        except ContainerError as e:
            raise TopologyError(self._name, f"the container runtime is not usable: {e}") from e

    async def close(self) -> None:
        return None
