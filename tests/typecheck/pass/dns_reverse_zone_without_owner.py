"""A reverse zone with PTR records and no explicit owner (its default owner is valid)."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.dns import ARecord, PtrRecord
from harmony.domain.values import DnsName, IPv4Address
from harmony.modules.dns import DnsZone
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
deployment = Deployment(
    topology=router,
    scores=[
        DnsZone(
            zone=DnsName("1.168.192.in-addr.arpa"),
            records=(
                PtrRecord(address=IPv4Address("192.168.1.10"), target=DnsName("nas.home.lan")),
                PtrRecord(address=IPv4Address("192.168.1.11"), target=DnsName("printer.home.lan")),
            ),
        ),
        DnsZone(
            zone=DnsName("home.lan"),
            records=(
                ARecord(name=DnsName("nas.home.lan"), address=IPv4Address("192.168.1.10")),
                ARecord(name=DnsName("printer.home.lan"), address=IPv4Address("192.168.1.11")),
            ),
        ),
    ],
)
