# fails: type check
"""A firewall rule naming a zone by string instead of the Zone itself."""

from harmony.domain.capabilities.firewall import LOCAL, Rule

ssh = Rule(action="allow", source="lan", destination=LOCAL)  # expect-error
