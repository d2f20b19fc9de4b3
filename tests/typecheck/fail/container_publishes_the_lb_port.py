# fails: load
"""A container publishing the host port a load-balancer frontend binds."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef, PortMapping
from harmony.domain.capabilities.load_balancer import Backend, Frontend
from harmony.domain.names import ResourceName, non_empty
from harmony.domain.values import IPv4Address, Port
from harmony.modules.application import Container
from harmony.modules.load_balancer import LoadBalancing
from harmony.topology.container_host import ContainerHost

site = ContainerHost.isolated(Path("/srv/site"), dns_port=5353)


def frontend(name: str, port: int, *backends: str) -> Frontend:
    return Frontend(
        name=ResourceName(name),
        port=Port(port),
        backends=non_empty(
            (
                Backend(name=ResourceName(f"{name}{i}"), address=IPv4Address(a), port=Port(8080))
                for i, a in enumerate(backends or ("10.0.0.11",), 1)
            ),
            "backends",
        ),
    )


metrics = Container(  # expect-load-error: port_clash
    spec=ContainerSpec(
        name=ContainerName("metrics"),
        image=ImageRef("localhost/prometheus:2"),
        ports=(PortMapping(container=Port(9090), host=Port(80), host_ip=IPv4Address("0.0.0.0")),),
    )
)
deployment: Deployment[ContainerHost] = Deployment(
    topology=site, scores=[LoadBalancing(frontends=(frontend("web", 80),)), metrics]
)
