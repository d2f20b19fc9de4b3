# mistake: each of four workers limited to 1.5 CPUs on a 4-CPU box
# reports: the report renderers, four workers on the batch box from the inventory.
from harmony import Deployment
from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef, ResourceLimits
from harmony.domain.inventory import Host, Inventory
from harmony.domain.units import MiB
from harmony.domain.values import Hostname, ip_address
from harmony.modules.application import Container
from harmony.topology.container_host import ContainerHost
from harmony.topology.linux_host import LinuxHost

inventory = Inventory(
    hosts=(Host(name=Hostname("batch1"), address=ip_address("10.20.0.31"), cpus=4, memory=MiB(16384)),),
)
site = ContainerHost.on(LinuxHost.from_inventory(inventory.hosts[0]))


def worker(n: int) -> Container:
    return Container(
        spec=ContainerSpec(
            name=ContainerName(f"render-{n}"),
            image=ImageRef("localhost/render:4"),
            limits=ResourceLimits(memory=MiB(1024), cpus=1.5),
        )
    )


deployment: Deployment[ContainerHost] = Deployment(topology=site, scores=[worker(n) for n in range(1, 5)])
