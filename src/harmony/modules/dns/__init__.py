"""Scores for DNS."""

from harmony.modules.dns.zone import DnsZone

__all__ = ["DnsZone"]
