# fails: load
"""A CNAME to a name in a zone served here that no Score gives a record."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.dns import ARecord, CnameRecord
from harmony.domain.values import DnsName, IPv4Address
from harmony.modules.dns import DnsZone
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
deployment = Deployment(
    topology=router,
    scores=[
        DnsZone(  # expect-load-error: dangling_dns_target
            zone=DnsName("office.lan"),
            records=(
                ARecord(name=DnsName("nas.office.lan"), address=IPv4Address("10.0.0.40")),
                CnameRecord(name=DnsName("files.office.lan"), target=DnsName("nas1.office.lan")),
            ),
        ),
    ],
)
