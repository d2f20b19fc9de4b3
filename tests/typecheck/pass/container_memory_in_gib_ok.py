"""Sizes in the unit they are thought in: GiB for a database cache, MiB for a worker."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef, ResourceLimits
from harmony.domain.units import GiB, MiB
from harmony.modules.application import Container
from harmony.topology.container_host import ContainerHost

site = ContainerHost.isolated(Path("/srv/site"), dns_port=5353)
cache = Container(
    spec=ContainerSpec(
        name=ContainerName("cache"), image=ImageRef("localhost/redis:7"), limits=ResourceLimits(memory=GiB(1.5))
    )
)
worker = Container(
    spec=ContainerSpec(
        name=ContainerName("worker"), image=ImageRef("localhost/worker:1"), limits=ResourceLimits(memory=MiB(6))
    )
)
deployment = Deployment(topology=site, scores=[cache, worker])
