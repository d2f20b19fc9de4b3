"""Fixed: a firewall rule with an action that is not allow or deny."""

from harmony.domain.capabilities.firewall import LOCAL, Rule, Zone
from harmony.domain.names import ResourceName

lan = Zone(name=ResourceName("lan"), interfaces=("eth1",))
ssh = Rule(action="allow", source=lan, destination=LOCAL)
