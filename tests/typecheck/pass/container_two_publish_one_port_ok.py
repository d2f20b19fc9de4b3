"""Fixed: two containers publishing the same host port."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef, PortMapping
from harmony.domain.values import Port
from harmony.modules.application import Container
from harmony.topology.container_host import ContainerHost

site = ContainerHost.isolated(Path("/srv/site"), dns_port=5353)


def redis(name: str, port: int) -> Container:
    return Container(
        spec=ContainerSpec(
            name=ContainerName(name),
            image=ImageRef("localhost/redis:7"),
            ports=(PortMapping(container=Port(6379), host=Port(port)),),
        )
    )


deployment = Deployment(topology=site, scores=[redis("sessions", 6379), redis("cache", 6380)])
