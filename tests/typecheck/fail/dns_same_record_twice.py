# fails: load
"""The same record listed twice in one zone."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.dns import ARecord
from harmony.domain.values import DnsName, IPv4Address
from harmony.modules.dns import DnsZone
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
printer = ARecord(name=DnsName("printer.office.lan"), address=IPv4Address("10.0.0.30"))
deployment = Deployment(
    topology=router,
    scores=[DnsZone(zone=DnsName("office.lan"), records=(printer, printer))],  # expect-load-error: once
)
