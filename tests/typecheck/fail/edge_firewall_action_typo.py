# fails: type check
"""A firewall rule with an action that is not allow or deny."""

from harmony.domain.capabilities.firewall import LOCAL, Rule, Zone
from harmony.domain.names import ResourceName

lan = Zone(name=ResourceName("lan"), interfaces=("eth1",))
ssh = Rule(action="accept", source=lan, destination=LOCAL)  # expect-error
