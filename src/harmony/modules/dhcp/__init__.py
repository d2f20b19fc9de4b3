"""Scores for DHCP."""

from harmony.modules.dhcp.scope import DhcpScope

__all__ = ["DhcpScope"]
