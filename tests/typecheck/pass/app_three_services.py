"""Three applications on one host, each on its own name and port, with a shared cache."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef, PortMapping, ResourceLimits
from harmony.domain.names import ResourceName
from harmony.domain.units import MiB
from harmony.domain.values import Hostname, Port
from harmony.modules.application import Application, Container, Exposure, HttpCheck
from harmony.topology.container_host import ContainerHost

site = ContainerHost.isolated(Path("/srv/site"), dns_port=5353)
cache = Container(
    spec=ContainerSpec(
        name=ContainerName("cache"),
        image=ImageRef("localhost/redis:7"),
        ports=(PortMapping(container=Port(6379), host=Port(6379)),),
        limits=ResourceLimits(memory=MiB(256)),
    )
)


def service(name: str, port: int) -> Application:
    return Application(
        app=ResourceName(name),
        image=ImageRef(f"localhost/{name}:1"),
        port=Port(8080),
        expose=Exposure(hostname=Hostname(f"{name}.apps.lan"), zone=Hostname("apps.lan"), port=Port(port)),
        smoke=HttpCheck(path="/health"),
        limits=ResourceLimits(memory=MiB(512), cpus=1.0),
        after=(cache.name,),
    )


deployment: Deployment[ContainerHost] = Deployment(
    topology=site, scores=[cache, service("shop", 80), service("blog", 81), service("api", 82)]
)
