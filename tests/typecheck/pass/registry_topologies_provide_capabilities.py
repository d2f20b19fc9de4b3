"""The registry host is an ImageRegistry; a container host publishes images and pulls pinned ones."""

from __future__ import annotations

from pathlib import Path

from harmony.domain.capabilities import ImageRegistry, RegistryClient
from harmony.maestro import Maestro
from harmony.modules.registry import ImagePublisher, RegistryGarbageCollection, SiteRegistry
from harmony.topology.container_host import ContainerHost
from harmony.topology.registry_host import RegistryHost

registry: ImageRegistry = RegistryHost.local(Path("/tmp/site"))
client: RegistryClient = ContainerHost.isolated(Path("/tmp/site"), dns_port=5353)
publisher: ImagePublisher = ContainerHost.isolated(Path("/tmp/site"), dns_port=5353)


async def collect(site: SiteRegistry) -> None:
    await Maestro(RegistryHost.local(Path("/tmp/site"))).apply([site, RegistryGarbageCollection()])
