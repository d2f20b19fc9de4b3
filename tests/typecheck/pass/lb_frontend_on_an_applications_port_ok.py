"""Fixed: a LoadBalancing frontend on the port an application is exposed on."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.containers import ImageRef
from harmony.domain.capabilities.load_balancer import Backend, Frontend
from harmony.domain.names import ResourceName, non_empty
from harmony.domain.values import Hostname, IPv4Address, Port
from harmony.modules.application import Application, Exposure, HttpCheck
from harmony.modules.load_balancer import LoadBalancing
from harmony.topology.container_host import ContainerHost

site = ContainerHost.isolated(Path("/srv/site"), dns_port=5353)


def web_app(name: str, hostname: str, port: int) -> Application:
    return Application(
        app=ResourceName(name),
        image=ImageRef(f"localhost/{name}:1"),
        port=Port(8080),
        expose=Exposure(hostname=Hostname(hostname), zone=Hostname("apps.lan"), port=Port(port)),
        smoke=HttpCheck(path="/health"),
    )


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


deployment: Deployment[ContainerHost] = Deployment(
    topology=site,
    scores=[web_app("shop", "shop.apps.lan", 80), LoadBalancing(frontends=(frontend("legacy", 8081, "10.0.0.50"),))],
)
