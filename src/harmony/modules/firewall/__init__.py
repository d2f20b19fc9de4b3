"""Scores for the firewall."""

from harmony.modules.firewall.rules import FirewallRules

__all__ = ["FirewallRules"]
