"""Fixed: a slow-starting application given a minute to pass its smoke check."""

from datetime import timedelta
from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.containers import ImageRef
from harmony.domain.names import ResourceName
from harmony.domain.values import Hostname, Port
from harmony.modules.application import Application, Exposure, TcpCheck
from harmony.topology.container_host import ContainerHost

site = ContainerHost.isolated(Path("/srv/site"), dns_port=5353)
wiki = Application(
    app=ResourceName("wiki"),
    image=ImageRef("localhost/wiki:2"),
    port=Port(3000),
    expose=Exposure(hostname=Hostname("wiki.apps.lan"), zone=Hostname("apps.lan"), port=Port(80)),
    smoke=TcpCheck(timeout=timedelta(minutes=1)),
)
deployment = Deployment(topology=site, scores=[wiki])
