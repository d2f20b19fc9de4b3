# fails: load
"""A DnsZone whose owner is an application's record set: each apply undoes the other."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.containers import ImageRef
from harmony.domain.names import ResourceName
from harmony.domain.values import DnsName, Hostname, Port
from harmony.modules.application import Application, Exposure, HttpCheck
from harmony.modules.dns import DnsZone
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


deployment: Deployment[ContainerHost] = Deployment(
    topology=site,
    scores=[
        web_app("blog", "blog.apps.lan", 80),
        DnsZone(  # expect-load-error: duplicate_dns_owner
            zone=DnsName("apps.lan"), owner=ResourceName("blog"), records=()
        ),
    ],
)
