# fails: load
"""Two CNAME records that point at each other (in two record sets)."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.dns import CnameRecord
from harmony.domain.names import ResourceName
from harmony.domain.values import DnsName
from harmony.modules.dns import DnsZone
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
deployment = Deployment(
    topology=router,
    scores=[
        DnsZone(  # expect-load-error: cname_loop
            zone=DnsName("office.lan"),
            records=(CnameRecord(name=DnsName("www.office.lan"), target=DnsName("web.office.lan")),),
        ),
        DnsZone(
            zone=DnsName("office.lan"),
            owner=ResourceName("web"),
            records=(CnameRecord(name=DnsName("web.office.lan"), target=DnsName("www.office.lan")),),
        ),
    ],
)
