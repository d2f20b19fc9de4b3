"""Fixed: the rule opens the port the router's SSH daemon (and Harmony) use."""

from harmony import Deployment
from harmony.domain.capabilities.firewall import LOCAL, FirewallPolicy, Rule, Zone
from harmony.domain.inventory import Host
from harmony.domain.names import ResourceName
from harmony.domain.values import Hostname, Port, ip_address
from harmony.modules.firewall import FirewallRules
from harmony.topology.edge_router import EdgeRouter
from harmony.topology.linux_host import LinuxHost

box = Host(name=Hostname("edge1"), address=ip_address("192.0.2.10"), ssh_port=Port(2222))
router = EdgeRouter.on(LinuxHost.from_inventory(box))
wan = Zone(name=ResourceName("wan"), interfaces=("eth0",))
firewall = FirewallRules(
    policy=FirewallPolicy(
        zones=(wan,),
        rules=(Rule(action="allow", source=wan, destination=LOCAL, protocol="tcp", ports=(Port(2222),)),),
    )
)
deployment = Deployment(topology=router, scores=[firewall])
