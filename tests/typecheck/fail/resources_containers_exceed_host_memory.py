# fails: load
"""Containers whose memory limits add up to more than the inventory says the host has."""

from harmony import Deployment
from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef, ResourceLimits
from harmony.domain.inventory import Host
from harmony.domain.units import GiB
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
cache = Container(  # expect-load-error: host apps1 ask for 5 GiB of memory
    spec=ContainerSpec(
        name=ContainerName("cache"), image=ImageRef("localhost/redis:7"), limits=ResourceLimits(memory=GiB(2))
    )
)
deployment = Deployment(topology=site, scores=[search, cache])
