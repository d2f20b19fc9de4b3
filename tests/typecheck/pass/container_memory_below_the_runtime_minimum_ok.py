"""Fixed: the worker's 512 MiB written as MiB."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef, ResourceLimits
from harmony.domain.units import MiB
from harmony.modules.application import Container
from harmony.topology.container_host import ContainerHost

site = ContainerHost.isolated(Path("/srv/site"), dns_port=5353)
worker = Container(
    spec=ContainerSpec(
        name=ContainerName("worker"), image=ImageRef("localhost/worker:1"), limits=ResourceLimits(memory=MiB(512))
    )
)
deployment = Deployment(topology=site, scores=[worker])
