"""Fixed: a memory limit in bytes where MiB are meant."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef, ResourceLimits
from harmony.domain.units import MiB
from harmony.modules.application import Container
from harmony.topology.container_host import ContainerHost

site = ContainerHost.isolated(Path("/srv/site"), dns_port=5353)
limits = ResourceLimits(memory=MiB(512), cpus=0.5)
worker = Container(
    spec=ContainerSpec(name=ContainerName("worker"), image=ImageRef("localhost/worker:1"), limits=limits)
)
deployment = Deployment(topology=site, scores=[worker])
