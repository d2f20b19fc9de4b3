# fails: load
"""after= naming a Score that comes later in the list."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef
from harmony.domain.names import ResourceName
from harmony.domain.values import Hostname, Port
from harmony.modules.application import Application, Container, Exposure, HttpCheck
from harmony.topology.container_host import ContainerHost

site = ContainerHost.isolated(Path("/srv/site"), dns_port=5353)
cache = Container(spec=ContainerSpec(name=ContainerName("cache"), image=ImageRef("localhost/redis:7")))
shop = Application(  # expect-load-error: must come earlier
    app=ResourceName("shop"),
    image=ImageRef("localhost/shop:3"),
    port=Port(8080),
    expose=Exposure(hostname=Hostname("shop.apps.lan"), zone=Hostname("apps.lan"), port=Port(80)),
    smoke=HttpCheck(path="/"),
    after=(cache.name,),
)
deployment: Deployment[ContainerHost] = Deployment(topology=site, scores=[shop, cache])
