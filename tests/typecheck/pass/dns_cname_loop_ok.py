"""Fixed: two CNAME records that point at each other (in two record sets)."""

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
            records=(CnameRecord(name=DnsName("www.office.lan"), target=DnsName("web.office.lan")),),
        ),
        DnsZone(
            zone=DnsName("office.lan"),
            owner=ResourceName("web"),
            records=(ARecord(name=DnsName("web.office.lan"), address=IPv4Address("10.0.0.20")),),
        ),
    ],
)
