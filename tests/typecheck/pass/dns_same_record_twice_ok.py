"""Fixed: the same record listed twice in one zone."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.dns import ARecord
from harmony.domain.values import DnsName, IPv4Address
from harmony.modules.dns import DnsZone
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
printer = ARecord(name=DnsName("printer.office.lan"), address=IPv4Address("10.0.0.30"))
scanner = ARecord(name=DnsName("scanner.office.lan"), address=IPv4Address("10.0.0.31"))
deployment = Deployment(topology=router, scores=[DnsZone(zone=DnsName("office.lan"), records=(printer, scanner))])
