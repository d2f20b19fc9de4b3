"""A Linux host over SSH declared a router: ``EdgeRouter.on(host)`` provides every network-edge capability."""

from harmony import Deployment
from harmony.domain.capabilities.edge import NetworkEdge
from harmony.domain.capabilities.firewall import LOCAL, FirewallPolicy, Rule, Zone
from harmony.domain.names import ResourceName
from harmony.domain.values import Hostname, IPv4Address, Port
from harmony.modules.dns import DnsZone
from harmony.modules.firewall import FirewallRules
from harmony.topology.edge_router import EdgeRouter
from harmony.topology.linux_host import LinuxHost

LAN = Zone(name=ResourceName("lan"), interfaces=("br0",))
# default deny: the rule that keeps Harmony's own SSH open is required (check refuses a policy that cuts it)
LAN_ONLY = FirewallPolicy(
    zones=(LAN,), rules=(Rule(action="allow", source=LAN, destination=LOCAL, protocol="tcp", ports=(Port(22),)),)
)
router = EdgeRouter.on(LinuxHost.ssh(IPv4Address("10.0.0.1"), name="office-router"))
edge: NetworkEdge = router

deployment = Deployment(
    topology=router,
    scores=[DnsZone(zone=Hostname("office.lan")), FirewallRules(policy=LAN_ONLY)],
)
