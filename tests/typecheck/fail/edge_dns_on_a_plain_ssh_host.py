# fails: type check
"""A DNS zone on a plain Linux host reached over SSH: reaching a box does not make it a router."""

from harmony import Deployment
from harmony.domain.values import Hostname, IPv4Address
from harmony.modules.dns import DnsZone
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.ssh(IPv4Address("10.0.0.1"))
deployment = Deployment(topology=host, scores=[DnsZone(zone=Hostname("office.lan"))])  # expect-error
