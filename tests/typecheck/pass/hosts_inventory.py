"""Hosts from a typed inventory, selected by group, become a HostGroup."""

from pathlib import PurePosixPath

from harmony.domain.host_group import HostGroup
from harmony.domain.inventory import Host, Inventory
from harmony.domain.values import Hostname, Port, ip_address
from harmony.modules.files import ManagedDirectory
from harmony.topology.linux_host import LinuxHost

inventory = Inventory(
    hosts=(
        Host(name=Hostname("web-1"), address=ip_address("10.0.0.11"), groups=frozenset({"web"})),
        Host(name=Hostname("web-2"), address=ip_address("10.0.0.12"), ssh_port=Port(2222), groups=frozenset({"web"})),
    )
)
web = HostGroup(hosts=[LinuxHost.from_inventory(h) for h in inventory.select(group="web")])
deployment = web.deploy([ManagedDirectory(path=PurePosixPath("/srv/www"))])
