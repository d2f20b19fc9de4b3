"""Fixed: the cache sized so that both containers fit in the host's 4 GiB."""

from harmony import Deployment
from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef, ResourceLimits
from harmony.domain.inventory import Host
from harmony.domain.units import GiB, MiB
from harmony.domain.values import Hostname, ip_address
from harmony.modules.application import Container
from harmony.topology.container_host import ContainerHost
from harmony.topology.linux_host import LinuxHost

box = Host(name=Hostname("apps1"), address=ip_address("10.0.0.11"), cpus=4, memory=GiB(4))
site = ContainerHost.on(LinuxHost.from_inventory(box))
search = Container(
    spec=ContainerSpec(
        name=ContainerName("search"), image=ImageRef("localhost/search:8"), limits=ResourceLimits(memory=GiB(3))
    )
)
cache = Container(
    spec=ContainerSpec(
        name=ContainerName("cache"), image=ImageRef("localhost/redis:7"), limits=ResourceLimits(memory=MiB(768))
    )
)
deployment = Deployment(topology=site, scores=[search, cache])
