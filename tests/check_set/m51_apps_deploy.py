# mistake: a memory limit in bytes
# studio: the team's services as containers behind the load balancer, published in apps.lan.
from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef, PortMapping, ResourceLimits
from harmony.domain.capabilities.dns import CnameRecord
from harmony.domain.names import ResourceName
from harmony.domain.units import MiB
from harmony.domain.values import DnsName, Hostname, Port
from harmony.modules.application import Application, Container, Exposure, HttpCheck
from harmony.modules.dns import DnsZone
from harmony.topology.container_host import ContainerHost

site = ContainerHost.isolated(Path("/srv/studio"), dns_port=5353)
ZONE = "apps.lan"

cache = Container(
    spec=ContainerSpec(
        name=ContainerName("cache"),
        image=ImageRef("localhost/redis:7"),
        ports=(PortMapping(container=Port(6379), host=Port(6379)),),
        limits=ResourceLimits(memory=268435456),
    )
)


def service(name: str, public_port: int, *, host: str | None = None) -> Application:
    return Application(
        app=ResourceName(name),
        image=ImageRef(f"localhost/{name}:1"),
        port=Port(8080),
        expose=Exposure(hostname=Hostname(f"{host or name}.{ZONE}"), zone=Hostname(ZONE), port=Port(public_port)),
        smoke=HttpCheck(path="/health"),
        limits=ResourceLimits(memory=MiB(512)),
        after=(cache.name,),
    )


aliases = DnsZone(
    zone=DnsName(ZONE),
    owner=ResourceName("aliases"),
    records=(CnameRecord(name=DnsName(f"www.{ZONE}"), target=DnsName(f"shop.{ZONE}")),),
)

deployment: Deployment[ContainerHost] = Deployment(
    topology=site,
    scores=[cache, service("shop", 80), service("blog", 81), aliases],
)
