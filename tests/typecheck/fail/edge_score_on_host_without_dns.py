# fails: type check
"""A DNS Score deployed on a plain Linux host, which provides no DnsServer."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.values import Hostname
from harmony.modules.dns import DnsZone
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local(root=Path("/tmp/x"))
deployment = Deployment(topology=host, scores=[DnsZone(zone=Hostname("office.lan"))])  # expect-error
