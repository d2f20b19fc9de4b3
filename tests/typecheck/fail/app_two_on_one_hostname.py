# fails: load
"""Two applications exposed under one hostname."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.containers import ImageRef
from harmony.domain.names import ResourceName
from harmony.domain.values import Hostname, Port
from harmony.modules.application import Application, Exposure, HttpCheck
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


deployment = Deployment(
    topology=site,
    scores=[
        web_app("shop", "shop.apps.lan", 80),
        web_app("shop-v2", "shop.apps.lan", 8080),  # expect-load-error: duplicate_exposed_hostname
    ],
)
