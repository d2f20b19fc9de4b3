"""Fixed: a firewall rule naming a zone by string instead of the Zone itself."""

from harmony.domain.capabilities.firewall import LOCAL, Rule, Zone
from harmony.domain.names import ResourceName

ssh = Rule(action="allow", source=Zone(name=ResourceName("lan"), interfaces=("eth1",)), destination=LOCAL)
