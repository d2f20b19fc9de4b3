"""Fixed: an SRV record whose target has no record in the zone served here."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.dns import ARecord, SrvRecord
from harmony.domain.values import DnsName, IPv4Address, Port
from harmony.modules.dns import DnsZone
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
deployment = Deployment(
    topology=router,
    scores=[
        DnsZone(
            zone=DnsName("office.lan"),
            records=(
                ARecord(name=DnsName("dc1.office.lan"), address=IPv4Address("10.0.0.2")),
                SrvRecord(
                    name=DnsName("office.lan"), service="_ldap", target=DnsName("dc1.office.lan"), port=Port(389)
                ),
            ),
        ),
    ],
)
