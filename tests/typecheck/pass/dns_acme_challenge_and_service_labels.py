"""ACME DNS-01 delegation and service labels: names with underscore labels."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.dns import ARecord, CnameRecord, SrvRecord
from harmony.domain.values import DnsName, IPv4Address, Port
from harmony.modules.dns import DnsZone
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path("/var/lib/harmony/edge"), netns="router")
deployment = Deployment(
    topology=router,
    scores=[
        DnsZone(
            zone=DnsName("example.lan"),
            records=(
                ARecord(name=DnsName("www.example.lan"), address=IPv4Address("10.1.0.10")),
                CnameRecord(name=DnsName("_acme-challenge.www.example.lan"), target=DnsName("www.acme.example.org")),
                SrvRecord(
                    name=DnsName("example.lan"), service="_http", target=DnsName("www.example.lan"), port=Port(80)
                ),
                ARecord(name=DnsName("_dmarc-probe.example.lan"), address=IPv4Address("10.1.0.11")),
            ),
        )
    ],
)
