"""Fixed: a DNS name with a space in it."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.dns import ARecord, CnameRecord, PtrRecord
from harmony.domain.values import DnsName, IPv4Address
from harmony.modules.dns import DnsZone
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
acme = DnsName("_acme-challenge.office.lan")
deployment = Deployment(
    topology=router,
    scores=[
        DnsZone(
            zone=DnsName("office.lan"),
            records=(
                ARecord(name=DnsName("fileserver.office.lan"), address=IPv4Address("10.0.0.5")),
                CnameRecord(name=acme, target=DnsName("office.acme-dns.example.org")),
            ),
        ),
        DnsZone(
            zone=DnsName("0.0.10.in-addr.arpa"),
            records=(PtrRecord(address=IPv4Address("10.0.0.5"), target=DnsName("fileserver.office.lan")),),
        ),
    ],
)
