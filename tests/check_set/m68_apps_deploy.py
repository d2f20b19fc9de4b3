# mistake: three replicas of 2 GiB each and a 1 GiB cache on a box the inventory says has 4 GiB
# shop: the web shop on the apps box from the inventory, three replicas behind the load balancer.
from harmony import Deployment
from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef, ResourceLimits
from harmony.domain.inventory import Host, Inventory
from harmony.domain.names import ResourceName
from harmony.domain.units import GiB
from harmony.domain.values import Hostname, Port, ip_address
from harmony.modules.application import Application, Container, Exposure, HttpCheck
from harmony.topology.container_host import ContainerHost
from harmony.topology.linux_host import LinuxHost

inventory = Inventory(
    hosts=(Host(name=Hostname("apps1"), address=ip_address("10.20.0.11"), cpus=4, memory=GiB(4)),),
)
site = ContainerHost.on(LinuxHost.from_inventory(inventory.hosts[0]))

cache = Container(
    spec=ContainerSpec(
        name=ContainerName("cache"), image=ImageRef("localhost/redis:7"), limits=ResourceLimits(memory=GiB(1))
    )
)
shop = Application(
    app=ResourceName("shop"),
    image=ImageRef("localhost/shop:12"),
    port=Port(8080),
    replicas=3,
    expose=Exposure(hostname=Hostname("shop.apps.lan"), zone=Hostname("apps.lan"), port=Port(80)),
    smoke=HttpCheck(path="/health"),
    limits=ResourceLimits(memory=GiB(2), cpus=1),
    after=(cache.name,),
)

deployment: Deployment[ContainerHost] = Deployment(topology=site, scores=[cache, shop])
