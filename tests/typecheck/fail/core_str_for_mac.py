# fails: type check
"""A MAC address given as a bare string inside the inventory."""

from ipaddress import IPv4Address

from harmony import Host, Hostname
from harmony.domain.inventory import Nic

pxe = Host(
    name=Hostname("node-1"),
    address=IPv4Address("10.0.0.7"),
    nics=(Nic(name="eth0", mac="52:54:00:12:34:56"),),  # expect-error
)
