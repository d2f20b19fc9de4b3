"""A Linux host over SSH declared a router: ``EdgeRouter.on(host)`` provides every network-edge capability."""

from harmony import Deployment
from harmony.domain.capabilities.edge import NetworkEdge
from harmony.domain.capabilities.firewall import FirewallPolicy, Zone
from harmony.domain.names import ResourceName
from harmony.domain.values import Hostname, IPv4Address
from harmony.modules.dns import DnsZone
from harmony.modules.firewall import FirewallRules
from harmony.topology.edge_router import EdgeRouter
from harmony.topology.linux_host import LinuxHost

LAN_ONLY = FirewallPolicy(zones=(Zone(name=ResourceName("lan"), interfaces=("br0",)),))
router = EdgeRouter.on(LinuxHost.ssh(IPv4Address("10.0.0.1"), name="office-router"))
edge: NetworkEdge = router

deployment = Deployment(
    topology=router,
    scores=[DnsZone(zone=Hostname("office.lan")), FirewallRules(policy=LAN_ONLY)],
)
