"""Fixed: three replicas with half a CPU each on a two-CPU host."""

from harmony import Deployment
from harmony.domain.capabilities.containers import ImageRef, ResourceLimits
from harmony.domain.inventory import Host
from harmony.domain.names import ResourceName
from harmony.domain.values import Hostname, Port, ip_address
from harmony.modules.application import Application, Exposure, HttpCheck
from harmony.topology.container_host import ContainerHost
from harmony.topology.linux_host import LinuxHost

box = Host(name=Hostname("apps2"), address=ip_address("10.0.0.12"), cpus=2)
site = ContainerHost.on(LinuxHost.from_inventory(box))
api = Application(
    app=ResourceName("api"),
    image=ImageRef("localhost/api:5"),
    port=Port(8080),
    replicas=3,
    expose=Exposure(hostname=Hostname("api.apps.lan"), zone=Hostname("apps.lan"), port=Port(80)),
    smoke=HttpCheck(path="/health"),
    limits=ResourceLimits(cpus=0.5),
)
deployment = Deployment(topology=site, scores=[api])
