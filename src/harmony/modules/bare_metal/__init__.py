"""Scores for bare-metal machines: network discovery (and, built on it, roles and installation)."""

from harmony.modules.bare_metal.discovery import NetworkDiscovery

__all__ = ["NetworkDiscovery"]
