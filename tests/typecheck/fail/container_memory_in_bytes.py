# fails: type check
"""A memory limit as a bare number of bytes; a size says its unit: MiB(512)."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef, ResourceLimits
from harmony.modules.application import Container
from harmony.topology.container_host import ContainerHost

site = ContainerHost.isolated(Path("/srv/site"), dns_port=5353)
limits = ResourceLimits(memory=536870912)  # expect-error
worker = Container(
    spec=ContainerSpec(name=ContainerName("worker"), image=ImageRef("localhost/worker:1"), limits=limits)
)
deployment = Deployment(topology=site, scores=[worker])
