# fails: type check
"""Registry garbage collection applied to a host that runs containers but is no registry."""

from __future__ import annotations

from pathlib import Path

from harmony.maestro import Maestro
from harmony.modules.registry import RegistryGarbageCollection
from harmony.topology.container_host import ContainerHost


async def collect() -> None:
    host = ContainerHost.isolated(Path("/tmp/site"), dns_port=5353)
    await Maestro(host).apply([RegistryGarbageCollection()])  # expect-error
