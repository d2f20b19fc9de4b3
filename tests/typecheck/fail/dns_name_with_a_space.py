# fails: load
"""A DNS name with a space in it."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.dns import ARecord
from harmony.domain.values import DnsName, IPv4Address
from harmony.modules.dns import DnsZone
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
name = DnsName("file server.office.lan")  # expect-load-error: file server.office.lan
deployment = Deployment(
    topology=router,
    scores=[DnsZone(zone=DnsName("office.lan"), records=(ARecord(name=name, address=IPv4Address("10.0.0.5")),))],
)
