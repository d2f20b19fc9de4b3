# fails: type check
"""A firewall policy on a plain Linux host over SSH, instead of on ``EdgeRouter.on(host)``."""

from harmony import Deployment
from harmony.domain.capabilities.firewall import FirewallPolicy, Zone
from harmony.domain.names import ResourceName
from harmony.domain.values import IPv4Address
from harmony.modules.firewall import FirewallRules
from harmony.topology.linux_host import LinuxHost

LAN_ONLY = FirewallPolicy(zones=(Zone(name=ResourceName("lan"), interfaces=("br0",)),))
host = LinuxHost.ssh(IPv4Address("10.0.0.1"))
deployment = Deployment(topology=host, scores=[FirewallRules(policy=LAN_ONLY)])  # expect-error
