# fails: type check
"""A firewall rule referring to a zone that was never declared (a misspelt zone variable)."""

from harmony.domain.capabilities.firewall import LOCAL, FirewallPolicy, Rule, Zone
from harmony.domain.names import ResourceName

lan = Zone(name=ResourceName("lan"), interfaces=("eth1",))
policy = FirewallPolicy(
    zones=(lan,),
    rules=(Rule(action="allow", source=lna, destination=LOCAL),),  # expect-error
)
