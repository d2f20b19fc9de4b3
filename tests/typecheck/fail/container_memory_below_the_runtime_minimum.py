# fails: load
"""A memory limit of 512 KiB (meant 512 MiB): below the 6 MiB podman needs to start a container."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef, ResourceLimits
from harmony.domain.units import KiB
from harmony.modules.application import Container
from harmony.topology.container_host import ContainerHost

site = ContainerHost.isolated(Path("/srv/site"), dns_port=5353)
limits = ResourceLimits(memory=KiB(512))  # expect-load-error: memory
worker = Container(
    spec=ContainerSpec(name=ContainerName("worker"), image=ImageRef("localhost/worker:1"), limits=limits)
)
deployment = Deployment(topology=site, scores=[worker])
