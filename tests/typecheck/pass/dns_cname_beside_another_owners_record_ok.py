"""Fixed: a CNAME on a name another record set gives an A record."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.dns import ARecord, CnameRecord
from harmony.domain.names import ResourceName
from harmony.domain.values import DnsName, IPv4Address
from harmony.modules.dns import DnsZone
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
deployment = Deployment(
    topology=router,
    scores=[
        DnsZone(
            zone=DnsName("office.lan"),
            records=(
                ARecord(name=DnsName("intranet.office.lan"), address=IPv4Address("10.0.0.21")),
                CnameRecord(name=DnsName("wiki.office.lan"), target=DnsName("intranet.office.lan")),
            ),
        ),
        DnsZone(
            zone=DnsName("office.lan"),
            owner=ResourceName("legacy"),
            records=(ARecord(name=DnsName("old-wiki.office.lan"), address=IPv4Address("10.0.0.99")),),
        ),
    ],
)
